//! "Download this folder": a directory tree as a tar archive, made while
//! it is sent (`?download=tar` on a listing, as miniserve offers).
//!
//! The archive is a [`Stream`] body: each [`Stream::fill`] walks a bounded
//! number of entries and copies at most about [`STREAM_PIECE`] bytes of
//! file contents, so neither memory nor any one turn grows with the
//! folder: the whole archive is never in memory or on disk. Headers are the
//! `tar` crate's 512-byte GNU headers, with GNU long-name entries for paths
//! over 100 bytes (what GNU tar writes, and what Python's `tarfile` and
//! every common reader understand); the bodies are read here.
//!
//! The archive holds what the listings show, by the same rule
//! ([`listable`]): no hidden names, no entry a request would be
//! refused, files opened beneath the root (`sys::fs::Root`) like any
//! request. Directories reached through a symlink are left out (a link to
//! `..` would otherwise repeat the tree forever), as are directories deeper
//! than [`MAX_DEPTH`] (each level holds an open directory). A file that
//! changes size while it is copied cannot change its header, which is
//! already sent: it is cut or padded with zeros to the size in the header,
//! and the change is logged, so the archive stays well-formed. There is no
//! cap on entries (`max_listing_entries` bounds a page held in memory; an
//! archive holds nothing), only the per-piece bound on work.

use std::ffi::{CStr, OsStr};
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use percent_encoding::{percent_encode, NON_ALPHANUMERIC};
use tar::{EntryType, Header};

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
/// Size of a tar block; headers and bodies are padded to it.
const BLOCK: usize = 512;
/// The longest path a plain header's name field holds.
const NAME_FIELD: usize = 100;
/// The name GNU tar gives the entry that carries a long path.
const LONG_LINK: &[u8] = b"././@LongLink";
/// Modes in the archive: the files' own permission bits; folders are
/// always enterable.
const DIRECTORY_MODE: u32 = 0o755;
const PERMISSION_BITS: u32 = 0o777;

/// `Content-Type` of the archive.
const TAR_TYPE: &str = "application/x-tar";
/// Characters kept as they are in the plain `filename` of
/// `Content-Disposition`; others become `_` there (the exact name is in
/// `filename*`, RFC 6266).
fn plain_filename_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b' ')
}

/// The tar of the open directory `entries` (at `path` below the root),
/// with every path inside it starting with `name/`. `close`: end the body
/// by closing the connection (an HTTP/1.0 client), not with chunked framing.
pub fn response(entries: Entries, path: PathBuf, name: &[u8], site: &Arc<Site>, close: bool) -> Response {
    let modified = entries.stat(c".").ok().and_then(|s| s.modified);
    let mut top = name.to_vec();
    top.push(b'/');
    let archive = Archive {
        site: Arc::clone(site),
        stack: vec![Level { entries, path, inside: top.clone() }],
        pending_top: Some((top, modified)),
        current: None,
        finished: false,
    };
    let mut response = Response::new(200)
        .header("Content-Type", TAR_TYPE)
        .header("Content-Disposition", disposition(name))
        .header("Cache-Control", "no-cache")
        .body(Body::Stream(Box::new(archive)));
    response.close = close;
    response
}

/// `attachment; filename="name.tar"; filename*=UTF-8''name.tar`.
fn disposition(name: &[u8]) -> String {
    let plain: String = name.iter().map(|&b| if plain_filename_byte(b) { b as char } else { '_' }).collect();
    let utf8 = String::from_utf8_lossy(name);
    let exact = percent_encode(utf8.as_bytes(), NON_ALPHANUMERIC);
    format!("attachment; filename=\"{plain}.tar\"; filename*=UTF-8''{exact}.tar")
}

/// A folder being archived.
struct Archive {
    site: Arc<Site>,
    /// The directories being walked, innermost last.
    stack: Vec<Level>,
    /// The top folder's own entry, written first.
    pending_top: Option<(Vec<u8>, Option<SystemTime>)>,
    /// The file whose body is being copied.
    current: Option<Copy>,
    /// The end-of-archive blocks are written.
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
            write_header(out, &top, EntryType::Directory, 0, DIRECTORY_MODE, modified);
        }
        let mut looked_at = 0;
        while out.len() < target && looked_at < ENTRIES_PER_FILL {
            if let Some(copy) = &mut self.current {
                if copy.copy(out, target) {
                    self.current = None;
                }
                continue;
            }
            let Some(level) = self.stack.last_mut() else {
                if !self.finished {
                    // Two zero blocks end the archive.
                    out.resize(out.len() + 2 * BLOCK, 0);
                    self.finished = true;
                }
                return Ok(false);
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
            write_header(out, &inside, EntryType::Directory, 0, DIRECTORY_MODE, entry.modified);
            self.stack.push(Level { entries, path, inside });
        } else {
            // The header comes from the open file, so it states the size of
            // what is read.
            let (file, meta) = match self.site.root.open_file(&path) {
                Ok(opened) => opened,
                Err(e) => return left_out(&inside, &e),
            };
            let size = meta.len();
            write_header(out, &inside, EntryType::Regular, size, meta.mode() & PERMISSION_BITS, meta.modified().ok());
            self.current = Some(Copy { file, name: inside, size, remaining: size, padding: false });
        }
    }
}

impl Copy {
    /// Appends body bytes until `out` reaches `target` or the body ends;
    /// true once the body and its padding are written.
    fn copy(&mut self, out: &mut Vec<u8>, target: usize) -> bool {
        while self.remaining > 0 && out.len() < target {
            let want = self.remaining.min((target - out.len()) as u64) as usize;
            let start = out.len();
            out.resize(start + want, 0);
            if self.padding {
                self.remaining -= want as u64;
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
        pad_block(out, self.size);
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

/// Zeros after `len` body bytes up to the next block boundary.
fn pad_block(out: &mut Vec<u8>, len: u64) {
    let rest = (len % BLOCK as u64) as usize;
    if rest != 0 {
        out.resize(out.len() + BLOCK - rest, 0);
    }
}

/// Appends the header block(s) of an entry at `path` (raw bytes, any
/// length): a GNU long-name entry first when the path does not fit the
/// name field.
fn write_header(out: &mut Vec<u8>, path: &[u8], kind: EntryType, size: u64, mode: u32, modified: Option<SystemTime>) {
    if path.len() > NAME_FIELD {
        let mut long = Header::new_gnu();
        long.as_old_mut().name[..LONG_LINK.len()].copy_from_slice(LONG_LINK);
        long.set_entry_type(EntryType::GNULongName);
        // The name and a terminating NUL.
        long.set_size(path.len() as u64 + 1);
        long.set_mode(0o644);
        long.set_mtime(0);
        long.set_cksum();
        out.extend_from_slice(long.as_bytes());
        out.extend_from_slice(path);
        out.push(0);
        pad_block(out, path.len() as u64 + 1);
    }
    let mut header = Header::new_gnu();
    let shown = path.len().min(NAME_FIELD);
    header.as_old_mut().name[..shown].copy_from_slice(&path[..shown]);
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    let mtime = modified.and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs());
    header.set_mtime(mtime);
    header.set_cksum();
    out.extend_from_slice(header.as_bytes());
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
    use std::path::Path;

    /// A site over `root` with default options.
    fn site_at(root: &Path) -> Arc<Site> {
        Arc::new(Site {
            root: Root::open(root, false).unwrap(),
            options: FileOptions::new(root),
            headers: crate::handlers::headers::FolderHeaders::new(&FileOptions::new(root)).unwrap(),
            types: Default::default(),
            streams: Default::default(),
            hidden: Default::default(),
        })
    }

    /// The whole archive of `root/dir` as the connection would collect it,
    /// and the largest piece.
    fn archive_of(root: &Path, dir: &str, name: &[u8]) -> (Vec<u8>, usize) {
        let site = site_at(root);
        let Node::Directory(fd) = site.root.open_node(Path::new(dir)).unwrap() else { panic!("not a dir") };
        let response = response(Entries::new(fd).unwrap(), PathBuf::from(dir), name, &site, false);
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
        let mut archive = tar::Archive::new(tar_bytes);
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
        let (bytes, largest) = archive_of(root, "docs", b"docs");
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
                response(Entries::new(fd).unwrap(), PathBuf::from("d"), b"d", &site, false).body
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
        assert_eq!(disposition(b"docs"), "attachment; filename=\"docs.tar\"; filename*=UTF-8''docs.tar");
        assert_eq!(
            disposition(b"caf\xc3\xa9 \"x\""),
            "attachment; filename=\"caf__ _x_.tar\"; filename*=UTF-8''caf%C3%A9%20%22x%22.tar"
        );
        assert_eq!(disposition(b"\xe9"), "attachment; filename=\"_.tar\"; filename*=UTF-8''%EF%BF%BD.tar");
    }
}
