//! The tar format of a folder's archive: 512-byte GNU headers made with
//! the `tar` crate, GNU long-name entries for paths over 100 bytes (what
//! GNU tar writes, and what Python's `tarfile` and every common reader
//! understand), bodies padded to a block, two zero blocks at the end.

use std::time::{SystemTime, UNIX_EPOCH};

use tar::{EntryType, Header};

use super::{Format, DIRECTORY_MODE};

/// Size of a tar block; headers and bodies are padded to it.
pub const BLOCK: usize = 512;
/// The longest path a plain header's name field holds.
const NAME_FIELD: usize = 100;
/// The name GNU tar gives the entry that carries a long path.
const LONG_LINK: &[u8] = b"././@LongLink";

/// A tar being written: the size of the body in progress, for its padding.
#[derive(Debug, Default)]
pub struct Tar {
    size: u64,
}

impl Format for Tar {
    fn directory(&mut self, out: &mut Vec<u8>, path: &[u8], modified: Option<SystemTime>) -> bool {
        write_header(out, path, EntryType::Directory, 0, DIRECTORY_MODE, modified);
        true
    }

    fn file(&mut self, out: &mut Vec<u8>, path: &[u8], size: u64, mode: u32, modified: Option<SystemTime>) -> bool {
        write_header(out, path, EntryType::Regular, size, mode, modified);
        self.size = size;
        true
    }

    fn body(&mut self, _bytes: &[u8]) {}

    fn file_end(&mut self, out: &mut Vec<u8>) {
        pad_block(out, self.size);
    }

    fn end(&mut self, out: &mut Vec<u8>, _target: usize) -> bool {
        // Two zero blocks end the archive.
        out.resize(out.len() + 2 * BLOCK, 0);
        true
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
