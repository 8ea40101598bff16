//! "Download this folder": a directory tree as a tar or a zip archive,
//! made while it is sent (`?download=tar` or `?download=zip` on a listing,
//! as miniserve and dufs offer).
//!
//! The archive is a [`Stream`] body: each [`Stream::fill`] walks a bounded
//! number of entries and copies at most about [`STREAM_PIECE`] bytes of
//! file contents, so neither memory nor any one turn grows with the
//! folder: the whole archive is never in memory or on disk. This module
//! walks the tree and copies the bodies; how entries are written is the
//! format's ([`tarball`]: GNU headers; [`zip`]: stored entries with data
//! descriptors, ZIP64 where needed, UTF-8 names), through [`Format`].
//!
//! The archive holds what the listings show, by the same rule
//! ([`listable`]): no hidden names (dot names and `--hidden` ones), no
//! entry a request would be refused, files opened beneath the root
//! (`sys::fs::Root`) like any request. Directories reached through a
//! symlink are left out (a link to `..` would otherwise repeat the tree
//! forever), as are directories deeper than [`MAX_DEPTH`] (each level
//! holds an open directory). A file that changes size while it is copied
//! cannot change its header, which is already sent: it is cut or padded
//! with zeros to the size in the header, and the change is logged, so the
//! archive stays well-formed (a zip's checksum is of the bytes sent). A tar
//! has no cap on entries (`max_listing_entries` bounds a page held in
//! memory; a tar holds nothing); a zip keeps its central directory until
//! the end, bounded by [`zip::MAX_CENTRAL_DIRECTORY_BYTES`].

mod tarball;
mod zip;

use std::ffi::{CStr, OsStr};
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use percent_encoding::{percent_encode, NON_ALPHANUMERIC};

use super::listable::listable;
use super::Site;
use crate::http::response::{Body, Response, Stream, STREAM_PIECE};
use crate::sys::fs::{Entries, EntryKind, Node};

/// Entries looked at per piece: each may cost a stat, an access check, an
/// open, a read and a close (a few µs), and the connection lets a turn
/// take at most 64 pieces (`TURN_BYTES` / `STREAM_PIECE`), so a folder of
/// many small files is archived about 1,000 entries per turn, as listings
/// read 1,000 per slice.
const ENTRIES_PER_FILL: usize = 16;
/// Nested directories archived at most: each level keeps its directory
/// open while its subfolders are walked. Deeper ones are left out (logged).
pub const MAX_DEPTH: usize = 32;
/// Modes in the archive: the files' own permission bits; folders are
/// always enterable.
const DIRECTORY_MODE: u32 = 0o755;
const PERMISSION_BITS: u32 = 0o777;

/// The archive formats a folder is offered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A GNU tar: what Unix tools and Python read, permissions kept.
    Tar,
    /// A zip of stored entries: what a double-click opens on Windows and macOS.
    Zip,
}

impl Kind {
    /// The kind `?download=` names (`tar`, `zip`).
    pub fn named(word: &str) -> Option<Kind> {
        match word {
            "tar" => Some(Kind::Tar),
            "zip" => Some(Kind::Zip),
            _ => None,
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Kind::Tar => "tar",
            Kind::Zip => "zip",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Kind::Tar => "application/x-tar",
            Kind::Zip => "application/zip",
        }
    }
}

/// How an archive format writes what the walk finds. Bodies are copied
/// by the walk (exactly the size given to [`Format::file`]), and shown to
/// the format as they go ([`Format::body`]).
trait Format: Send {
    /// Appends a folder's entry (`path` ends in `/`); false when the
    /// archive cannot take another entry (then nothing is written).
    fn directory(&mut self, out: &mut Vec<u8>, path: &[u8], modified: Option<SystemTime>) -> bool;
    /// Appends a file's header, whose body of `size` bytes follows; false
    /// as for `directory`.
    fn file(&mut self, out: &mut Vec<u8>, path: &[u8], size: u64, mode: u32, modified: Option<SystemTime>) -> bool;
    /// These bytes of the current file's body were just appended.
    fn body(&mut self, bytes: &[u8]);
    /// The current file's body is complete: what follows it.
    fn file_end(&mut self, out: &mut Vec<u8>);
    /// Appends the end of the archive until `out` reaches `target`; true
    /// once it is all written.
    fn end(&mut self, out: &mut Vec<u8>, target: usize) -> bool;
}

/// Characters kept as they are in the plain `filename` of
/// `Content-Disposition`; others become `_` there (the exact name is in
/// `filename*`, RFC 6266).
fn plain_filename_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b' ')
}

/// The `kind` archive of the open directory `entries` (at `path` below the
/// root), with every path inside it starting with `name/`. `close`: end the
/// body by closing the connection (an HTTP/1.0 client), not with chunked
/// framing.
pub fn response(entries: Entries, path: PathBuf, name: &[u8], site: &Arc<Site>, close: bool, kind: Kind) -> Response {
    let modified = entries.stat(c".").ok().and_then(|s| s.modified);
    let mut top = name.to_vec();
    top.push(b'/');
    let format: Box<dyn Format> = match kind {
        Kind::Tar => Box::new(tarball::Tar::default()),
        Kind::Zip => Box::new(zip::Zip::default()),
    };
    let archive = Archive {
        site: Arc::clone(site),
        format,
        stack: vec![Level { entries, path, inside: top.clone() }],
        pending_top: Some((top, modified)),
        current: None,
        finished: false,
    };
    let mut response = Response::new(200)
        .header("Content-Type", kind.content_type())
        .header("Content-Disposition", disposition(name, kind))
        .header("Cache-Control", "no-cache")
        .body(Body::Stream(Box::new(archive)));
    response.close = close;
    response
}

/// `attachment; filename="name.tar"; filename*=UTF-8''name.tar`.
fn disposition(name: &[u8], kind: Kind) -> String {
    let plain: String = name.iter().map(|&b| if plain_filename_byte(b) { b as char } else { '_' }).collect();
    let utf8 = String::from_utf8_lossy(name);
    let exact = percent_encode(utf8.as_bytes(), NON_ALPHANUMERIC);
    let extension = kind.extension();
    format!("attachment; filename=\"{plain}.{extension}\"; filename*=UTF-8''{exact}.{extension}")
}

/// A folder being archived.
struct Archive {
    site: Arc<Site>,
    format: Box<dyn Format>,
    /// The directories being walked, innermost last.
    stack: Vec<Level>,
    /// The top folder's own entry, written first.
    pending_top: Option<(Vec<u8>, Option<SystemTime>)>,
    /// The file whose body is being copied.
    current: Option<Copy>,
    /// The end of the archive is written.
    finished: bool,
}

/// One directory of the walk.
struct Level {
    entries: Entries,
    /// Below the root, for opening its entries.
    path: PathBuf,
    /// Its path in the archive, ending in `/`.
    inside: Vec<u8>,
}

/// A file body in progress.
struct Copy {
    file: File,
    /// Its path in the archive, for log lines.
    name: Vec<u8>,
    /// The size in its header: exactly this many bytes are written.
    size: u64,
    remaining: u64,
    /// The file ended early (or failed): the rest is zeros.
    padding: bool,
}

impl Stream for Archive {
    fn fill(&mut self, out: &mut Vec<u8>) -> io::Result<bool> {
        let target = out.len() + STREAM_PIECE;
        if let Some((top, modified)) = self.pending_top.take() {
            self.format.directory(out, &top, modified);
        }
        let mut looked_at = 0;
        while out.len() < target && looked_at < ENTRIES_PER_FILL {
            if let Some(copy) = &mut self.current {
                if copy.copy(out, target, &mut *self.format) {
                    self.format.file_end(out);
                    self.current = None;
                }
                continue;
            }
            let Some(level) = self.stack.last_mut() else {
                if !self.finished {
                    self.finished = self.format.end(out, target);
                }
                return Ok(!self.finished);
            };
            looked_at += 1;
            match level.entries.next_name(CStr::to_owned) {
                Some(name) => self.add(&name, out),
                None => {
                    self.stack.pop();
                }
            }
        }
        Ok(true)
    }
}

impl Archive {
    /// Adds the entry `name` of the innermost directory: its header, and
    /// then its body (a file) or its entries (a folder) in later steps.
    fn add(&mut self, name: &CStr, out: &mut Vec<u8>) {
        let depth = self.stack.len();
        let Some(level) = self.stack.last() else { return };
        let Some(entry) = listable(&self.site, &level.entries, &level.path, name) else { return };
        let path = level.path.join(OsStr::from_bytes(name.to_bytes()));
        let mut inside = level.inside.clone();
        inside.extend_from_slice(name.to_bytes());
        if entry.is_dir {
            if level.entries.stat(name).is_ok_and(|s| s.kind == EntryKind::Symlink) {
                log::debug!("archive: leaving out {:?}, a link to a folder", OsStr::from_bytes(&inside));
                return;
            }
            if depth >= MAX_DEPTH {
                log::warn!("archive: leaving out {:?}, deeper than {MAX_DEPTH} folders", OsStr::from_bytes(&inside));
                return;
            }
            let entries = match self.site.root.open_node(&path) {
                Ok(Node::Directory(dir)) => Entries::new(dir),
                Ok(Node::File(..)) => return, // replaced meanwhile
                Err(e) => Err(e),
            };
            let entries = match entries {
                Ok(entries) => entries,
                Err(e) => return left_out(&inside, &e),
            };
            inside.push(b'/');
            if !self.format.directory(out, &inside, entry.modified) {
                return full(&inside);
            }
            self.stack.push(Level { entries, path, inside });
        } else {
            // The header comes from the open file, so it states the size of
            // what is read.
            let (file, meta) = match self.site.root.open_file(&path) {
                Ok(opened) => opened,
                Err(e) => return left_out(&inside, &e),
            };
            let size = meta.len();
            let mode = meta.mode() & PERMISSION_BITS;
            if !self.format.file(out, &inside, size, mode, meta.modified().ok()) {
                return full(&inside);
            }
            self.current = Some(Copy { file, name: inside, size, remaining: size, padding: false });
        }
    }
}

impl Copy {
    /// Appends body bytes until `out` reaches `target` or the body ends,
    /// showing each to `format`; true once the body is written.
    fn copy(&mut self, out: &mut Vec<u8>, target: usize, format: &mut dyn Format) -> bool {
        while self.remaining > 0 && out.len() < target {
            let want = self.remaining.min((target - out.len()) as u64) as usize;
            let start = out.len();
            out.resize(start + want, 0);
            if self.padding {
                self.remaining -= want as u64;
                format.body(&out[start..]);
                continue;
            }
            match self.file.read(&mut out[start..]) {
                Ok(0) => {
                    out.truncate(start);
                    log::warn!(
                        "archive: {:?} shrank while being sent; padded with zeros to its size when it was opened, {} bytes",
                        OsStr::from_bytes(&self.name),
                        self.size
                    );
                    self.padding = true;
                }
                Ok(n) => {
                    out.truncate(start + n);
                    self.remaining -= n as u64;
                    format.body(&out[start..]);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => out.truncate(start),
                Err(e) => {
                    out.truncate(start);
                    log::warn!("archive: reading {:?} failed ({e}); padded with zeros", OsStr::from_bytes(&self.name));
                    self.padding = true;
                }
            }
        }
        if self.remaining > 0 {
            return false;
        }
        if !self.padding && self.file.metadata().is_ok_and(|meta| meta.len() > self.size) {
            log::warn!(
                "archive: {:?} grew while being sent; cut to its size when it was opened, {} bytes",
                OsStr::from_bytes(&self.name),
                self.size
            );
        }
        true
    }
}

/// Logs an entry that was listable but could not be opened: gone or
/// refused meanwhile is a race worth only a debug line; anything else (out
/// of file descriptors, an I/O error) makes the archive incomplete.
fn left_out(inside: &[u8], error: &io::Error) {
    let name = OsStr::from_bytes(inside);
    match error.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied => {
            log::debug!("archive: leaving out {name:?}: {error}")
        }
        _ => log::warn!("archive: leaving out {name:?}, which could not be opened: {error}"),
    }
}

/// Logs an entry the archive had no room left to record (a zip's central
/// directory at its bound).
fn full(inside: &[u8]) {
    log::warn!("archive: leaving out {:?}: the archive holds as many entries as it may", OsStr::from_bytes(inside));
}

impl fmt::Debug for Archive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.stack.last().map(|level| String::from_utf8_lossy(&level.inside).into_owned());
        f.debug_struct("Archive").field("depth", &self.stack.len()).field("at", &at).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FileOptions;
    use crate::sys::fs::Root;
    use ::tar::EntryType;
    use std::path::Path;
    use tarball::BLOCK;

    /// A site over `root` with default options.
    fn site_at(root: &Path) -> Arc<Site> {
        Arc::new(Site {
            root: Root::open(root, false).unwrap(),
            options: FileOptions::new(root),
            headers: crate::handlers::headers::FolderHeaders::new(&FileOptions::new(root)).unwrap(),
            types: Default::default(),
            streams: Default::default(),
            live: None,
            hidden: Default::default(),
            locks: Default::default(),
        })
    }

    /// The whole archive of `root/dir` as the connection would collect it,
    /// and the largest piece.
    fn archive_of(root: &Path, dir: &str, name: &[u8], kind: Kind) -> (Vec<u8>, usize) {
        let site = site_at(root);
        let Node::Directory(fd) = site.root.open_node(Path::new(dir)).unwrap() else { panic!("not a dir") };
        let response = response(Entries::new(fd).unwrap(), PathBuf::from(dir), name, &site, false, kind);
        let Body::Stream(mut stream) = response.body else { panic!("not a stream") };
        let (mut all, mut piece, mut largest) = (Vec::new(), Vec::new(), 0);
        loop {
            piece.clear();
            let more = stream.fill(&mut piece).unwrap();
            largest = largest.max(piece.len());
            all.extend_from_slice(&piece);
            if !more {
                return (all, largest);
            }
        }
    }

    /// (path, contents or None for a folder) of every entry, in order.
    fn entries(tar_bytes: &[u8]) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        let mut archive = ::tar::Archive::new(tar_bytes);
        let mut found = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path_bytes().into_owned();
            let body = match entry.header().entry_type() {
                EntryType::Directory => None,
                _ => {
                    let mut body = Vec::new();
                    entry.read_to_end(&mut body).unwrap();
                    Some(body)
                }
            };
            found.push((path, body));
        }
        found.sort();
        found
    }

    #[test]
    fn a_tree_with_long_odd_and_hidden_names() {
        let top = tempfile::tempdir().unwrap();
        let root = top.path();
        let long = "n".repeat(150);
        std::fs::create_dir_all(root.join("docs/sub").join(&long)).unwrap();
        std::fs::create_dir_all(root.join("docs/.git")).unwrap();
        std::fs::write(root.join("docs/.git/config"), b"secret").unwrap();
        std::fs::write(root.join("docs/.env"), b"secret").unwrap();
        std::fs::write(root.join("docs/a.txt"), b"alpha").unwrap();
        std::fs::write(root.join("docs/empty"), b"").unwrap();
        std::fs::write(root.join("docs/block"), vec![7u8; 512]).unwrap();
        std::fs::write(root.join(format!("docs/sub/{long}/deep.bin")), vec![1u8; 200_000]).unwrap();
        std::fs::write(root.join(OsStr::from_bytes(b"docs/caf\xe9.txt")), b"latin").unwrap();
        std::os::unix::fs::symlink("../outside", root.join("docs/out")).unwrap();
        std::os::unix::fs::symlink("sub", root.join("docs/loop")).unwrap();
        std::os::unix::fs::symlink("a.txt", root.join("docs/alias")).unwrap();
        let (bytes, largest) = archive_of(root, "docs", b"docs", Kind::Tar);
        assert_eq!(bytes.len() % BLOCK, 0);
        assert!(bytes.ends_with(&[0; 2 * BLOCK]));
        assert!(largest <= STREAM_PIECE + 4 * BLOCK, "a piece of {largest} bytes");
        let dir = |p: &str| (p.as_bytes().to_vec(), None);
        let file = |p: &[u8], body: &[u8]| (p.to_vec(), Some(body.to_vec()));
        let deep = format!("docs/sub/{long}/deep.bin");
        let mut expected = vec![
            dir("docs/"),
            file(b"docs/a.txt", b"alpha"),
            file(b"docs/alias", b"alpha"),
            file(b"docs/block", &[7; 512]),
            file(b"docs/caf\xe9.txt", b"latin"),
            file(b"docs/empty", b""),
            dir("docs/sub/"),
            dir(&format!("docs/sub/{long}/")),
            file(deep.as_bytes(), &[1; 200_000]),
        ];
        expected.sort();
        assert_eq!(entries(&bytes), expected);
    }

    #[test]
    fn a_file_that_shrinks_or_grows_keeps_its_header_size() {
        let top = tempfile::tempdir().unwrap();
        let root = top.path();
        std::fs::create_dir(root.join("d")).unwrap();
        let big = root.join("d/big");
        std::fs::write(&big, vec![5u8; 3 * STREAM_PIECE]).unwrap();
        let site = site_at(root);
        for change in [STREAM_PIECE as u64 / 2, 5 * STREAM_PIECE as u64] {
            std::fs::write(&big, vec![5u8; 3 * STREAM_PIECE]).unwrap();
            let Node::Directory(fd) = site.root.open_node(Path::new("d")).unwrap() else { panic!() };
            let Body::Stream(mut stream) =
                response(Entries::new(fd).unwrap(), PathBuf::from("d"), b"d", &site, false, Kind::Tar).body
            else {
                panic!()
            };
            let mut all = Vec::new();
            assert!(stream.fill(&mut all).unwrap(), "the first piece is not the last");
            // Changed after its header and first bytes went out.
            std::fs::OpenOptions::new().write(true).open(&big).unwrap().set_len(change).unwrap();
            while stream.fill(&mut all).unwrap() {}
            let found = entries(&all);
            let body = found[1].1.as_ref().unwrap();
            assert_eq!(body.len(), 3 * STREAM_PIECE, "resized to {change}");
            // The first piece held the two headers and the first bytes.
            let sent_before = STREAM_PIECE - 2 * BLOCK;
            let kept = if change < sent_before as u64 { sent_before } else { 3 * STREAM_PIECE };
            assert!(body[..kept].iter().all(|&b| b == 5), "resized to {change}");
            assert!(body[kept..].iter().all(|&b| b == 0), "padded with zeros");
        }
    }

    #[test]
    fn content_disposition() {
        assert_eq!(disposition(b"docs", Kind::Tar), "attachment; filename=\"docs.tar\"; filename*=UTF-8''docs.tar");
        assert_eq!(disposition(b"docs", Kind::Zip), "attachment; filename=\"docs.zip\"; filename*=UTF-8''docs.zip");
        assert_eq!(
            disposition(b"caf\xc3\xa9 \"x\"", Kind::Tar),
            "attachment; filename=\"caf__ _x_.tar\"; filename*=UTF-8''caf%C3%A9%20%22x%22.tar"
        );
        assert_eq!(disposition(b"\xe9", Kind::Tar), "attachment; filename=\"_.tar\"; filename*=UTF-8''%EF%BF%BD.tar");
    }
}
