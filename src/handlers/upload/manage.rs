//! The writes without a body: `MKCOL` (a new folder, RFC 4918 §9.3),
//! `DELETE` (a file, or a folder with all it holds) and `MOVE` (rename or
//! move, RFC 4918 §9.9, with `Destination` and `Overwrite`). Each acts on
//! names relative to folder handles opened beneath the root through no
//! symlink, and makes its change durable (`fsync` of the folders).
//!
//! Choices where the RFC leaves room or a user would expect otherwise:
//! `MKCOL` needs the parent to exist (409, as RFC 4918 says; the upload
//! form makes whole paths); a folder is removed by first renaming it to a
//! hidden temporary name, so it vanishes from listings at once and a
//! crash midway leaves only a hidden leftover; a `MOVE` never replaces a
//! folder (409), only a file, so no tree is lost by a slip of the name.

use std::sync::Arc;

use super::refusal::Refusal;
use super::target::{self, Role};
use crate::handlers::Site;
use crate::http::request::Request;
use crate::http::response::Response;
use crate::sys::fs::{Existing, Folder};

/// How a folder being removed is renamed first (within `safe_path::TEMPORARY_PREFIX`).
const REMOVING_NAME: &str = ".rawserve-removing-";

/// `MKCOL`: a new folder; 201, or 405 when the name exists.
pub fn make_folder(request: &Request, target: &str, site: &Arc<Site>) -> Result<Response, Refusal> {
    let place = target::place(target, Role::New)?;
    if site.is_hidden(&place.path()) {
        return Err(Refusal::new(404, format!("{target:?} is hidden")));
    }
    let parent = parent_folder(site, &place.folder, "the folder to make it in")?;
    match parent.make_folder(&place.name) {
        Ok(()) => {
            log::info!("upload: {} created (folder)", request.path());
            let mut location = request.path().to_string();
            if !location.ends_with('/') {
                location.push('/');
            }
            Ok(Response::new(201).header("Location", location))
        }
        // RFC 4918 §9.3.1: MKCOL on an existing resource.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(Refusal::new(405, format!("{} exists already", place.name.to_string_lossy())))
        }
        Err(e) => Err(Refusal::io(e, "cannot make the folder")),
    }
}

/// `DELETE`: a file or link (the link itself), or a folder with all it
/// holds; 204.
pub fn delete(request: &Request, target: &str, site: &Arc<Site>) -> Result<Response, Refusal> {
    let place = target::place(target, Role::Existing)?;
    if site.is_hidden(&place.path()) {
        return Err(Refusal::new(404, format!("{target:?} is hidden")));
    }
    let parent = site.root.open_folder(&place.folder).map_err(|e| Refusal::io(e, "cannot open the folder"))?;
    match parent.existing(&place.name).map_err(|e| Refusal::io(e, "cannot look at it"))? {
        Existing::Nothing => return Err(Refusal::new(404, format!("{target:?} does not exist"))),
        Existing::Folder => {
            // Out of sight first, in one atomic step; then emptied.
            let hidden = super::random_name(REMOVING_NAME).map_err(|e| Refusal::io(e, "cannot name it"))?;
            parent.move_to(&place.name, &parent, &hidden, false).map_err(|e| Refusal::io(e, "cannot remove it"))?;
            parent.remove(&hidden).map_err(|e| Refusal::io(e, "removed from sight, but not emptied"))?;
        }
        Existing::File | Existing::Other => {
            parent.remove(&place.name).map_err(|e| Refusal::io(e, "cannot remove it"))?;
        }
    }
    parent.sync().map_err(|e| Refusal::io(e, "cannot make the removal durable"))?;
    log::info!("upload: {} deleted", request.path());
    Ok(Response::new(204))
}

/// `MOVE`: to `Destination` (a path or URI of this server), replacing a
/// file there unless `Overwrite: F`; 201 (new name) or 204 (replaced).
/// `strip` is the route's prefix, which the destination must have too.
pub fn move_to(request: &Request, target: &str, strip: usize, site: &Arc<Site>) -> Result<Response, Refusal> {
    let source = target::place(target, Role::Existing)?;
    let value = request.header("destination").ok_or_else(|| Refusal::new(400, "MOVE needs a Destination field"))?;
    let destination = target::destination(value, request.header("host"))?;
    let prefix = &request.path()[..strip];
    let Some(below) = destination.strip_prefix(prefix).filter(|rest| strip == 0 || rest.starts_with('/')) else {
        return Err(Refusal::new(409, "Destination is outside this folder"));
    };
    let below = if below.is_empty() { "/" } else { below };
    let destination_place = target::place(below.trim_end_matches('/'), Role::New)?;
    if site.is_hidden(&source.path()) || site.is_hidden(&destination_place.path()) {
        return Err(Refusal::new(404, format!("{target:?} is hidden")));
    }
    let replace = !request.header("overwrite").is_some_and(|v| v.trim().eq_ignore_ascii_case("F"));
    let from = site.root.open_folder(&source.folder).map_err(|e| Refusal::io(e, "cannot open the folder"))?;
    let what = from.existing(&source.name).map_err(|e| Refusal::io(e, "cannot look at it"))?;
    if what == Existing::Nothing {
        return Err(Refusal::new(404, format!("{target:?} does not exist")));
    }
    let to = parent_folder(site, &destination_place.folder, "the destination's folder")?;
    if from.same_as(&to) && source.name == destination_place.name {
        return Err(Refusal::new(403, "the source and the destination are the same"));
    }
    let replaced = match to.existing(&destination_place.name).map_err(|e| Refusal::io(e, "cannot look there"))? {
        Existing::Nothing => false,
        Existing::File if what == Existing::Folder => {
            return Err(Refusal::conflict(&destination_place.name, "is a file, and a folder cannot replace it"))
        }
        Existing::File if replace => true,
        Existing::File => return Err(Refusal::new(412, "the destination exists (Overwrite: F)")),
        Existing::Folder => {
            return Err(Refusal::conflict(&destination_place.name, "is a folder, which a move never replaces"))
        }
        Existing::Other => return Err(Refusal::conflict(&destination_place.name, "is a link or a special file")),
    };
    match from.move_to(&source.name, &to, &destination_place.name, replace) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Refusal::new(412, "the destination exists (Overwrite: F)"))
        }
        // EXDEV from a rename: another file system mounted below the root.
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            return Err(Refusal::new(409, "the destination is on another file system"))
        }
        // EINVAL: a folder into itself.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            return Err(Refusal::new(409, "a folder cannot move into itself"))
        }
        Err(e) => return Err(Refusal::io(e, "cannot move it")),
    }
    log::info!("upload: {} moved to {destination}", request.path());
    Ok(if replaced { Response::new(204) } else { Response::new(201).header("Location", destination.to_string()) })
}

/// The folder `path` (below the root), which must exist: RFC 4918 answers
/// a missing one with 409 (`what` names it in the sentence).
fn parent_folder(site: &Site, path: &std::path::Path, what: &str) -> Result<Folder, Refusal> {
    match site.root.open_folder(path) {
        Ok(folder) => Ok(folder),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Refusal::new(409, format!("{what} does not exist"))),
        Err(e) => Err(Refusal::io(e, &format!("cannot open {what}"))),
    }
}
