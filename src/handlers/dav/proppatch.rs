//! `PROPPATCH` (RFC 4918 §9.2): sets and removes dead properties, in the
//! order the body gives, all or none. Each is an extended attribute of
//! the file or folder (`props`' naming), reached through no symlink.
//! Live properties are protected (403 with
//! `DAV:cannot-modify-protected-property`); a value the file system will
//! not store is 507 (too large: attributes live in a block or so), and a
//! file system without user attributes is 403, each said for its own
//! property in the multistatus; when one fails, those already changed
//! are put back and the rest are 424 Failed Dependency.

use std::ffi::CString;
use std::fmt::Write as _;
use std::os::fd::{AsFd, OwnedFd};

use super::locks::{self, Reach};
use super::props::{self, LIVE};
use super::xml::{self, escape, Name, DAV};
use super::{Asked, Site, XML_TYPE};
use crate::handlers::upload::target::{self, Role};
use crate::handlers::upload::Refusal;
use crate::http::response::{Body, Response};
use crate::sys::fs::xattr;

/// One change a `PROPPATCH` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Change {
    Set(Name, String),
    Remove(Name),
}

impl Change {
    fn name(&self) -> &Name {
        match self {
            Change::Set(name, _) | Change::Remove(name) => name,
        }
    }
}

/// The changes of a `propertyupdate` body, in order.
fn changes(body: &[u8]) -> Result<Vec<Change>, Response> {
    let root = xml::parse(body).map_err(|_| Response::error(400))?;
    if !root.name.is_dav("propertyupdate") {
        return Err(Response::error(400));
    }
    let mut changes = Vec::new();
    for instruction in root.elements() {
        let set = match () {
            _ if instruction.name.is_dav("set") => true,
            _ if instruction.name.is_dav("remove") => false,
            _ => continue,
        };
        for prop in instruction.elements().filter(|e| e.name.is_dav("prop")) {
            for property in prop.elements() {
                changes.push(match set {
                    true => Change::Set(property.name.clone(), property.inner_xml()),
                    false => Change::Remove(property.name.clone()),
                });
            }
        }
    }
    if changes.is_empty() {
        return Err(Response::error(400));
    }
    Ok(changes)
}

/// What became of one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Done,
    Protected,
    Unsupported,
    TooLarge,
    Failed,
    Dependency,
}

impl Outcome {
    fn status(self) -> &'static str {
        match self {
            Outcome::Done => "HTTP/1.1 200 OK",
            Outcome::Protected | Outcome::Unsupported => "HTTP/1.1 403 Forbidden",
            Outcome::TooLarge => "HTTP/1.1 507 Insufficient Storage",
            Outcome::Failed => "HTTP/1.1 500 Internal Server Error",
            Outcome::Dependency => "HTTP/1.1 424 Failed Dependency",
        }
    }
}

/// The 207 answer to a `PROPPATCH`.
pub fn answer(asked: &Asked, body: &[u8], site: &Site) -> Result<Response, Response> {
    let path = asked.resolved(site)?;
    let changes = changes(body)?;
    locks::check(asked, site, &path, Reach::One)?;
    let fd = open(asked, site)?;
    let protected = |name: &Name| name.ns == DAV && LIVE.contains(&name.local.as_str());
    let mut outcomes = vec![Outcome::Dependency; changes.len()];
    if changes.iter().any(|c| protected(c.name())) {
        for (change, outcome) in changes.iter().zip(&mut outcomes) {
            if protected(change.name()) {
                *outcome = Outcome::Protected;
            }
        }
    } else {
        // Applied in order; what was there before is kept to put back.
        let mut before: Vec<(CString, Option<Vec<u8>>)> = Vec::new();
        for (i, change) in changes.iter().enumerate() {
            match apply(&fd, change, &mut before) {
                Ok(()) => outcomes[i] = Outcome::Done,
                Err(outcome) => {
                    undo(&fd, before);
                    outcomes.iter_mut().for_each(|o| *o = Outcome::Dependency);
                    outcomes[i] = outcome;
                    break;
                }
            }
        }
    }
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus xmlns:D=\"DAV:\">");
    let _ = write!(out, "<D:response><D:href>{}</D:href>", escape(&asked.path));
    for (change, outcome) in changes.iter().zip(&outcomes) {
        out.push_str("<D:propstat><D:prop>");
        xml::write_property(&mut out, change.name(), None);
        let _ = write!(out, "</D:prop><D:status>{}</D:status>", outcome.status());
        if *outcome == Outcome::Protected {
            out.push_str("<D:error><D:cannot-modify-protected-property/></D:error>");
        }
        if *outcome == Outcome::Unsupported {
            out.push_str(
                "<D:responsedescription>this file system keeps no extended attributes</D:responsedescription>",
            );
        }
        out.push_str("</D:propstat>");
    }
    out.push_str("</D:response></D:multistatus>\n");
    if outcomes.iter().all(|o| *o == Outcome::Done) {
        log::info!("webdav: {} properties changed", asked.path);
    }
    Ok(Response::new(207).header("Content-Type", XML_TYPE).body(Body::Bytes(out.into_bytes().into())))
}

/// The request's file or folder, open to change its attributes, reached
/// through no symlink.
fn open(asked: &Asked, site: &Site) -> Result<OwnedFd, Response> {
    let refused = |refusal: Refusal| refusal.response();
    let folder = target::folder(&asked.target, Role::Existing).map_err(refused)?;
    let Some(name) = folder.file_name() else {
        let root = site.root.open_folder(&folder).map_err(|e| Refusal::io(e, "cannot open the root").response())?;
        return root.as_fd().try_clone_to_owned().map_err(|_| Response::error(500));
    };
    let parent = site
        .root
        .open_folder(folder.parent().unwrap_or(std::path::Path::new("")))
        .map_err(|e| Refusal::io(e, "cannot open the folder").response())?;
    parent.open_entry(name).map_err(|e| Refusal::io(e, "cannot open it").response())
}

/// Makes one change, noting what it replaced in `before`.
fn apply(fd: &OwnedFd, change: &Change, before: &mut Vec<(CString, Option<Vec<u8>>)>) -> Result<(), Outcome> {
    let attribute = props::dead_name(change.name()).ok_or(Outcome::TooLarge)?;
    let old = xattr::get(fd, &attribute).map_err(|_| Outcome::Failed)?;
    let done = match change {
        Change::Set(_, value) if value.len() > xattr::MAX_VALUE_BYTES => return Err(Outcome::TooLarge),
        Change::Set(_, value) => xattr::set(fd, &attribute, value.as_bytes()),
        Change::Remove(_) => xattr::remove(fd, &attribute),
    };
    match done {
        Ok(()) => {
            before.push((attribute, old));
            Ok(())
        }
        Err(e) if xattr::is_unsupported(&e) => Err(Outcome::Unsupported),
        Err(e) if xattr::is_too_large(&e) => Err(Outcome::TooLarge),
        Err(e) => {
            log::warn!("webdav: cannot store a property: {e}");
            Err(Outcome::Failed)
        }
    }
}

/// Puts back what the changes in `before` replaced, last first.
fn undo(fd: &OwnedFd, before: Vec<(CString, Option<Vec<u8>>)>) {
    for (attribute, old) in before.into_iter().rev() {
        let restored = match old {
            Some(value) => xattr::set(fd, &attribute, &value),
            None => xattr::remove(fd, &attribute),
        };
        if let Err(e) = restored {
            log::warn!("webdav: cannot put a property back after a failed PROPPATCH: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies() {
        let body = br#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z">
            <D:set><D:prop><Z:a>one <Z:b/></Z:a></D:prop></D:set>
            <D:remove><D:prop><Z:c/></D:prop></D:remove></D:propertyupdate>"#;
        assert_eq!(
            changes(body).ok(),
            Some(vec![
                Change::Set(Name::new("urn:z", "a"), "one <b xmlns=\"urn:z\"/>".into()),
                Change::Remove(Name::new("urn:z", "c")),
            ])
        );
        for bad in [&b"<propertyupdate xmlns='DAV:'/>"[..], b"<set xmlns='DAV:'/>", b"junk"] {
            assert_eq!(changes(bad).err().map(|r| r.status), Some(400));
        }
    }
}
