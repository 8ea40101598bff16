//! `COPY` and, with `--webdav`, `MOVE` (RFC 4918 §9.8, §9.9): a file or a
//! folder to the `Destination`, which must be on this server (502), in
//! this folder (409), not the source itself (403) nor inside it (409),
//! in a folder that exists (409), and free unless `Overwrite` is T (412);
//! 201 for a new name, 204 for a replaced one.
//!
//! Nothing is ever half there. A copied file is written under a
//! temporary name and renamed into place (`upload`'s `Incoming`); a
//! copied folder is built whole under a hidden name beside its
//! destination and renamed into place at the end, so a failure (a full
//! disk: 507) removes the partial tree and leaves the destination as it
//! was. What `Overwrite: T` replaces is first renamed out of sight, then
//! removed once the new one is in place; if that rename fails it is put
//! back. A copy takes the dead properties along; symlinks, dot names and
//! `--hidden` paths inside a copied folder are left out, as a listing
//! leaves them out. A `MOVE` is a `rename`, which keeps everything.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::{props, Asked, Site};
use crate::handlers::upload::incoming::{Incoming, NewFolders};
use crate::handlers::upload::target::{self, Place, Role, MAX_DEPTH};
use crate::handlers::upload::{random_name, Refusal};
use crate::http::response::Response;
use crate::safe_path;
use crate::sys::fs::{xattr, Entries, EntryKind, Existing, Folder, Node};

/// How a folder being copied is named until it is complete (within
/// `safe_path::TEMPORARY_PREFIX`, so hidden and never served).
const COPYING_NAME: &str = ".rawserve-copy-";
/// How what `Overwrite: T` replaces is named until it is removed.
const REPLACED_NAME: &str = ".rawserve-removing-";

/// Bytes read from the source per write to the copy.
const COPY_PIECE: usize = 256 * 1024;

/// Where a `COPY` or `MOVE` goes, checked.
struct Destination {
    /// Its path below the root.
    path: PathBuf,
    place: Place,
    folder: Folder,
    /// What is there now.
    existing: Existing,
    href: String,
}

/// Checks `Destination` against `source` (below the root), as the module
/// comment says.
fn destination(asked: &Asked, site: &Site, source: &Path) -> Result<Destination, Refusal> {
    let below = asked.destination()?;
    let place = target::place(below.trim_end_matches('/'), Role::New)?;
    let path = place.path();
    if site.is_hidden(&path) {
        return Err(Refusal::new(404, "the destination is hidden"));
    }
    if path == source {
        return Err(Refusal::new(403, "the source and the destination are the same"));
    }
    if path.starts_with(source) {
        return Err(Refusal::new(409, "a folder cannot go inside itself"));
    }
    let folder = match site.root.open_folder(&place.folder) {
        Ok(folder) => folder,
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => {
            return Err(Refusal::new(409, "the destination's folder does not exist"))
        }
        Err(e) => return Err(Refusal::io(e, "cannot open the destination's folder")),
    };
    let existing = folder.existing(&place.name).map_err(|e| Refusal::io(e, "cannot look there"))?;
    if existing == Existing::Other {
        return Err(Refusal::conflict(&place.name, "is a link or a special file"));
    }
    if existing != Existing::Nothing && !asked.may_overwrite() {
        return Err(Refusal::new(412, "the destination exists (Overwrite: F)"));
    }
    let href = asked.destination.clone().unwrap_or_default();
    Ok(Destination { path, place, folder, existing, href })
}

impl Destination {
    /// Moves what is there out of sight (before the new one goes in);
    /// the hidden name to remove afterwards.
    fn set_aside(&self) -> Result<Option<OsString>, Refusal> {
        if self.existing == Existing::Nothing {
            return Ok(None);
        }
        let aside = random_name(REPLACED_NAME).map_err(|e| Refusal::io(e, "cannot name it"))?;
        self.folder
            .move_to(&self.place.name, &self.folder, &aside, false)
            .map_err(|e| Refusal::io(e, "cannot set the destination aside"))?;
        Ok(Some(aside))
    }

    /// After the new one is in place (`done`): removes what was set
    /// aside, or, if it failed, puts it back.
    fn settle(&self, aside: Option<OsString>, done: bool) {
        let Some(aside) = aside else { return };
        let result = match done {
            true => self.folder.remove(&aside).and_then(|()| self.folder.sync()),
            false => self.folder.move_to(&aside, &self.folder, &self.place.name, false),
        };
        if let Err(e) = result {
            log::warn!("webdav: cannot clear up a replaced entry: {e}");
        }
    }

    /// 201 (new) or 204 (replaced).
    fn answer(&self) -> Response {
        match self.existing {
            Existing::Nothing => Response::new(201).header("Location", self.href.clone()),
            _ => Response::new(204),
        }
    }
}

/// `COPY`.
pub fn answer(asked: &Asked, site: &Site) -> Result<Response, Response> {
    let source = asked.resolved(site)?;
    let deep = match asked.depth.as_deref().map(str::trim) {
        None => true,
        Some(d) if d.eq_ignore_ascii_case("infinity") => true,
        Some("0") => false,
        Some(_) => return Err(Response::error(400)),
    };
    let node = site.root.open_node(&source).map_err(|e| Refusal::io(e, "cannot open the source").response())?;
    let to = destination(asked, site, &source).map_err(|r| r.response())?;
    super::locks::check(asked, site, &to.path, super::locks::Reach::Tree)?;
    let copied = match node {
        Node::File(file, meta) => copy_file(site, file, meta.len(), &to),
        Node::Directory(dir) => copy_folder(site, dir, &source, deep, &to),
    };
    copied.map_err(|r| r.response())?;
    log::info!("webdav: {} copied to {}", asked.path, to.href);
    Ok(to.answer())
}

/// Copies an open file to `to`.
fn copy_file(site: &Site, file: std::fs::File, len: u64, to: &Destination) -> Result<(), Refusal> {
    let copy = write_copy(site, &file, len, to.folder.duplicate().map_err(|e| Refusal::io(e, "cannot open"))?)?;
    let aside = to.set_aside()?;
    let landed = copy.commit(&to.place.name, false);
    to.settle(aside, landed.is_ok());
    landed?;
    if let Ok(copied) = to.folder.open_entry(&to.place.name) {
        copy_properties(&file, &copied);
    }
    Ok(())
}

/// The bytes of `file` in a temporary file of `folder`, ready to commit.
fn write_copy(site: &Site, mut file: &std::fs::File, len: u64, folder: Folder) -> Result<Incoming, Refusal> {
    let limit = site.options.max_upload_bytes;
    let mut copy = Incoming::create(folder, NewFolders::default(), Some(len), limit)?;
    let mut piece = vec![0; COPY_PIECE.min(len as usize).max(1)];
    loop {
        let n = file.read(&mut piece).map_err(|e| Refusal::io(e, "cannot read the source"))?;
        if n == 0 {
            return Ok(copy);
        }
        copy.write(&piece[..n])?;
    }
}

/// Copies the open folder `dir` (at `source`) to `to`: built under a
/// hidden name, then renamed into place.
fn copy_folder(
    site: &Site,
    dir: std::os::fd::OwnedFd,
    source: &Path,
    deep: bool,
    to: &Destination,
) -> Result<(), Refusal> {
    let building = random_name(COPYING_NAME).map_err(|e| Refusal::io(e, "cannot name the copy"))?;
    to.folder.make_folder(&building).map_err(|e| Refusal::io(e, "cannot make the folder"))?;
    let built = to.folder.child(&building).map_err(|e| Refusal::io(e, "cannot open the new folder"));
    let filled = built.and_then(|copy| {
        copy_properties(&dir, &copy);
        match deep {
            true => fill(site, dir, source, &copy, 1),
            false => Ok(()),
        }
    });
    let placed = filled.and_then(|()| {
        let aside = to.set_aside()?;
        let moved = to.folder.move_to(&building, &to.folder, &to.place.name, false);
        to.settle(aside, moved.is_ok());
        moved.map_err(|e| Refusal::io(e, "cannot put the copy in place"))
    });
    if placed.is_err() {
        if let Err(e) = to.folder.remove(&building) {
            log::warn!("webdav: cannot remove an unfinished copy: {e}");
        }
    }
    placed
}

/// Copies what the folder `dir` (at `source`) holds into `copy`.
fn fill(site: &Site, dir: std::os::fd::OwnedFd, source: &Path, copy: &Folder, depth: usize) -> Result<(), Refusal> {
    if depth + source.components().count() > MAX_DEPTH {
        return Err(Refusal::new(507, format!("the folder is deeper than {MAX_DEPTH} levels")));
    }
    let mut entries = Entries::new(dir).map_err(|e| Refusal::io(e, "cannot read the folder"))?;
    while let Some(name) = entries.next_name(|name| name.to_owned()) {
        let bytes = name.to_bytes();
        let path = source.join(OsStr::from_bytes(bytes));
        if !safe_path::can_name(bytes, site.options.dotfiles, false)
            || !safe_path::can_create(bytes)
            || site.is_hidden(&path)
        {
            continue;
        }
        let Ok(stat) = entries.stat(&name) else { continue };
        let name = OsStr::from_bytes(bytes);
        match stat.kind {
            EntryKind::File => {
                let (file, meta) = site.root.open_file(&path).map_err(|e| Refusal::io(e, "cannot open a file"))?;
                let folder = copy.duplicate().map_err(|e| Refusal::io(e, "cannot open the copy"))?;
                write_copy(site, &file, meta.len(), folder)?.commit(name, false)?;
                if let Ok(copied) = copy.open_entry(name) {
                    copy_properties(&file, &copied);
                }
            }
            EntryKind::Directory => {
                copy.make_folder(name).map_err(|e| Refusal::io(e, "cannot make a folder"))?;
                let inner = copy.child(name).map_err(|e| Refusal::io(e, "cannot open a new folder"))?;
                let Ok(Node::Directory(dir)) = site.root.open_node(&path) else { continue };
                copy_properties(&dir, &inner);
                fill(site, dir, &path, &inner, depth + 1)?;
            }
            // A link is somebody's way to somewhere else: not copied.
            EntryKind::Symlink | EntryKind::Other => {}
        }
    }
    copy.sync().map_err(|e| Refusal::io(e, "cannot make the copy durable"))
}

/// Copies the dead properties of `from` to `to`; a file system that keeps
/// none loses nothing it had.
fn copy_properties(from: &impl AsFd, to: &impl AsFd) {
    for (name, value) in props::dead_properties(from.as_fd()) {
        let Some(attribute) = props::dead_name(&name) else { continue };
        if let Err(e) = xattr::set(to.as_fd(), &attribute, value.as_bytes()) {
            log::info!("webdav: a property was not copied: {e}");
        }
    }
}

/// `MOVE` with `--webdav`: as `upload`'s, but RFC 4918's `Overwrite: T`
/// replaces a folder too.
pub fn move_to(asked: &Asked, site: &Site) -> Result<Response, Response> {
    let refused = |r: Refusal| r.response();
    let source = target::place(&asked.target, Role::Existing).map_err(refused)?;
    let source_path = asked.resolved(site)?;
    let from =
        site.root.open_folder(&source.folder).map_err(|e| Refusal::io(e, "cannot open the folder").response())?;
    if from.existing(&source.name).map_err(|e| Refusal::io(e, "cannot look at it").response())? == Existing::Nothing {
        return Err(Response::error(404));
    }
    let to = destination(asked, site, &source_path).map_err(refused)?;
    let aside = to.set_aside().map_err(refused)?;
    let moved = from.move_to(&source.name, &to.folder, &to.place.name, false);
    to.settle(aside, moved.is_ok());
    match moved {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            return Err(Refusal::new(409, "the destination is on another file system").response())
        }
        Err(e) => return Err(Refusal::io(e, "cannot move it").response()),
    }
    log::info!("webdav: {} moved to {}", asked.path, to.href);
    Ok(to.answer())
}
