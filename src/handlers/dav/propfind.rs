//! `PROPFIND` (RFC 4918 §9.1): the properties of a file or folder (depth
//! 0), or of a folder and each entry in it (depth 1). Depth infinity is
//! refused with 403 and `DAV:propfind-finite-depth`, as the RFC allows:
//! it walks a whole tree in one request. A missing `Depth` is read as 1,
//! as dufs and most clients expect (the RFC says infinity, which would
//! only be refused).
//!
//! A folder's answer is streamed ([`Listing`], a `Stream` body, chunked):
//! entries are read with `getdents` and described a piece at a time as
//! the socket takes them, so a folder of 10,000 entries costs one piece
//! of memory, never its whole answer. Entries are those a listing shows:
//! no dot names (unless `--dotfiles`), nothing `--hidden`, no symlink
//! leading out of the root, nothing but files and folders.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use percent_encoding::{AsciiSet, CONTROLS};

use super::locks::Lock;
use super::props::{self, Facts, Resource, Wanted};
use super::xml::{self, Name};
use super::{Asked, Site, XML_TYPE};
use crate::http::response::{Body, Response, Stream, STREAM_PIECE};
use crate::safe_path;
use crate::sys::fs::{Entries, EntryKind, Node};

/// Bytes of a name kept as they are in an `href`: unreserved characters
/// and the sub-delimiters a path segment may hold; everything else
/// (space, `%`, `#`, `?`, quotes, non-ASCII) is percent-encoded.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}')
    .add(b'/')
    .add(b'\'');

/// The start of every multistatus answer.
const OPENING: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus xmlns:D=\"DAV:\">";
const CLOSING: &str = "</D:multistatus>\n";

/// How deep a `PROPFIND` looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Depth {
    Zero,
    One,
}

/// The `Depth` of a `PROPFIND`: 403 for infinity, 400 for nonsense.
fn depth(field: Option<&str>) -> Result<Depth, Response> {
    match field.map(str::trim) {
        None | Some("1") => Ok(Depth::One),
        Some("0") => Ok(Depth::Zero),
        Some(d) if d.eq_ignore_ascii_case("infinity") => Err(super::error(403, "propfind-finite-depth")),
        Some(_) => Err(Response::error(400)),
    }
}

/// What the body asks for: nothing is every property.
pub fn wanted(body: &[u8]) -> Result<Wanted, Response> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Wanted::All(Vec::new()));
    }
    let root = xml::parse(body).map_err(|_| Response::error(400))?;
    if !root.name.is_dav("propfind") {
        return Err(Response::error(400));
    }
    let names = |element: Option<&xml::Element>| -> Vec<Name> {
        element.map(|e| e.elements().map(|p| p.name.clone()).collect()).unwrap_or_default()
    };
    if root.child("allprop").is_some() {
        return Ok(Wanted::All(names(root.child("include"))));
    }
    if root.child("propname").is_some() {
        return Ok(Wanted::Names);
    }
    match root.child("prop") {
        Some(prop) => Ok(Wanted::Some(names(Some(prop)))),
        None => Err(Response::error(400)),
    }
}

/// The 207 answer to a `PROPFIND`.
pub fn answer(asked: &Asked, body: &[u8], site: &Arc<Site>) -> Result<Response, Response> {
    let wanted = wanted(body)?;
    let depth = depth(asked.depth.as_deref())?;
    let path = asked.resolved(site)?;
    let node = site.root.open_node(&path).map_err(|e| match e.kind() {
        io::ErrorKind::PermissionDenied => Response::error(403),
        _ => Response::error(404),
    })?;
    let (facts, entries) = match &node {
        Node::File(_, meta) if asked.target.ends_with('/') => {
            let _ = meta;
            return Err(Response::error(404));
        }
        Node::File(_, meta) => (Facts::of(meta), None),
        Node::Directory(fd) => {
            let meta = std::fs::File::from(fd.try_clone().map_err(|_| Response::error(500))?).metadata();
            let facts = meta.map(|m| Facts::of(&m)).map_err(|_| Response::error(500))?;
            let entries = match depth {
                Depth::One => Some(fd.try_clone().and_then(Entries::new).map_err(|_| Response::error(500))?),
                Depth::Zero => None,
            };
            (facts, entries)
        }
    };
    let mut href = asked.path.clone();
    if facts.folder && !href.ends_with('/') {
        href.push('/');
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let locks = site.locks.snapshot();
    let mut out = String::with_capacity(4096);
    out.push_str(OPENING);
    let mut resource = Resource { path: &path, href: &href, name: &name, facts, node: Some(node) };
    props::write_response(&mut out, &mut resource, &wanted, site, &locks);
    let response = Response::new(207).header("Content-Type", XML_TYPE);
    let Some(entries) = entries else {
        out.push_str(CLOSING);
        return Ok(response.body(Body::Bytes(out.into_bytes().into())));
    };
    let listing = Listing {
        pending: out.into_bytes(),
        entries,
        site: Arc::clone(site),
        wanted,
        href,
        dir: path,
        locks,
        done: false,
    };
    let mut response = response.body(Body::Stream(Box::new(listing)));
    response.close = asked.close;
    Ok(response)
}

/// A folder's multistatus, written while it is sent.
struct Listing {
    /// What is written and not yet handed over (the folder's own response).
    pending: Vec<u8>,
    entries: Entries,
    site: Arc<Site>,
    wanted: Wanted,
    /// The folder's `href`, ending in `/`.
    href: String,
    /// The folder, below the root.
    dir: PathBuf,
    locks: Vec<Lock>,
    done: bool,
}

impl fmt::Debug for Listing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listing").field("dir", &self.dir).field("done", &self.done).finish()
    }
}

impl Stream for Listing {
    fn fill(&mut self, out: &mut Vec<u8>) -> io::Result<bool> {
        out.append(&mut self.pending);
        if self.done {
            return Ok(false);
        }
        let mut text = String::new();
        while out.len() + text.len() < STREAM_PIECE {
            let Some(name) = self.entries.next_name(|name| name.to_owned()) else {
                text.push_str(CLOSING);
                self.done = true;
                break;
            };
            self.describe(&name, &mut text);
        }
        out.extend_from_slice(text.as_bytes());
        Ok(!self.done)
    }
}

impl Listing {
    /// Appends the entry `name`'s response, unless it is not shown.
    fn describe(&self, name: &std::ffi::CStr, out: &mut String) {
        let bytes = name.to_bytes();
        let options = &self.site.options;
        if !safe_path::can_name(bytes, options.dotfiles, self.dir.as_os_str().is_empty())
            || self.site.hidden.hides_entry(&self.dir, bytes)
        {
            return;
        }
        let path = self.dir.join(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(bytes));
        let Some(facts) = self.facts(name, &path) else { return };
        let display = String::from_utf8_lossy(bytes);
        let mut href = self.href.clone();
        href.extend(percent_encoding::percent_encode(bytes, SEGMENT));
        if facts.folder {
            href.push('/');
        }
        let mut resource = Resource { path: &path, href: &href, name: &display, facts, node: None };
        props::write_response(out, &mut resource, &self.wanted, &self.site, &self.locks);
    }

    /// The entry's facts: its own for a file or folder, its target's for
    /// a symlink that stays inside the root; `None` for anything else.
    fn facts(&self, name: &std::ffi::CStr, path: &Path) -> Option<Facts> {
        let stat = self.entries.stat(name).ok()?;
        match stat.kind {
            EntryKind::File | EntryKind::Directory => {
                Some(Facts { folder: stat.kind == EntryKind::Directory, size: stat.size, modified: stat.modified })
            }
            EntryKind::Symlink => {
                let meta = self.site.root.metadata(path).ok()?;
                (meta.is_file() || meta.is_dir()).then(|| Facts::of(&meta))
            }
            EntryKind::Other => None,
        }
    }
}

/// `text` percent-encoded as one path segment (tests, and `href`s made from UTF-8).
#[cfg(test)]
fn encode_segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depths() {
        assert_eq!(depth(None).ok(), Some(Depth::One));
        assert_eq!(depth(Some("0")).ok(), Some(Depth::Zero));
        assert_eq!(depth(Some(" 1 ")).ok(), Some(Depth::One));
        assert_eq!(depth(Some("infinity")).err().map(|r| r.status), Some(403));
        assert_eq!(depth(Some("Infinity")).err().map(|r| r.status), Some(403));
        assert_eq!(depth(Some("2")).err().map(|r| r.status), Some(400));
    }

    #[test]
    fn bodies() {
        let all = Wanted::All(Vec::new());
        assert_eq!(wanted(b"").ok(), Some(all.clone()));
        assert_eq!(wanted(b"<propfind xmlns='DAV:'><allprop/></propfind>").ok(), Some(all));
        assert_eq!(wanted(b"<D:propfind xmlns:D='DAV:'><D:propname/></D:propfind>").ok(), Some(Wanted::Names));
        let some = wanted(b"<propfind xmlns='DAV:'><prop><getetag/><x:c xmlns:x='urn:x'/></prop></propfind>");
        assert_eq!(some.ok(), Some(Wanted::Some(vec![Name::new("DAV:", "getetag"), Name::new("urn:x", "c")])));
        for bad in [&b"<propfind/>"[..], b"<propfind xmlns='DAV:'/>", b"<x xmlns='DAV:'><prop/></x>", b"<a"] {
            assert_eq!(wanted(bad).err().map(|r| r.status), Some(400), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn segments() {
        assert_eq!(encode_segment("a b#c%d?e\"f'g"), "a%20b%23c%25d%3Fe%22f%27g");
        assert_eq!(encode_segment("café/x"), "caf%C3%A9%2Fx");
        assert_eq!(encode_segment("a-b_c.d~e+f&g=h"), "a-b_c.d~e+f&g=h");
    }
}
