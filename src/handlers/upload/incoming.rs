//! One file arriving: written under a temporary name in its folder, then
//! made durable and renamed into place, or removed. This is the one place
//! that decides how an upload lands, for `PUT` and for each file of a
//! `POST` alike.
//!
//! The temporary name is `.rawserve-upload-` and 32 random hexadecimal
//! digits: unguessable (so no one can plant a link there first; it is
//! made with `O_EXCL` besides), and hidden by `safe_path::is_hidden`
//! whatever `--dotfiles` says, so never served, listed or archived. An
//! [`Incoming`] dropped before [`Incoming::commit`] — the client went
//! away, timed out, sent too much or a malformed body, the disk filled —
//! removes its temporary file and the folders it made, so a failed upload
//! leaves nothing behind. Two uploads to one name each write their own
//! temporary file; each rename is atomic, so the last to finish wins and
//! the file is always one of them whole. A crash (of the server or the
//! machine) can leave a temporary file: it is ignored, never served, and
//! goes with its folder when that is deleted; nothing walks the tree at
//! start to find them, which would cost a large folder minutes.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::{self, Write};

use super::refusal::Refusal;
use crate::sys::fs::{self, Folder, Made};

/// How a temporary file's name begins (within `safe_path::TEMPORARY_PREFIX`).
const TEMPORARY_NAME: &str = ".rawserve-upload-";

/// Bytes written between two starts of writeback (`fs::start_writeback`):
/// the disk is kept busy with what arrived, and the final `fsync` (which
/// holds up the worker's other connections) waits for at most about this
/// much. Measured with a 1 GiB upload on this machine's disk: without it
/// the final `fsync` stalled the worker 0.3 s.
const WRITEBACK_BYTES: u64 = 8 << 20;

/// Creations tried before giving up, should a random name exist (it
/// never does, short of a broken random source).
const NAME_TRIES: usize = 4;

/// A file being received; see the module comment.
#[derive(Debug)]
pub struct Incoming {
    folder: Folder,
    temporary: CString,
    /// `None` once committed.
    file: Option<File>,
    written: u64,
    /// Bytes whose writeback has been started.
    flushed: u64,
    /// Most bytes this file may have (`--max-upload-bytes`).
    limit: Option<u64>,
    /// Folders made for it.
    made: NewFolders,
}

/// How a committed file landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Landed {
    /// Its name was new.
    Created,
    /// It replaced a file of that name.
    Replaced,
}

impl Incoming {
    /// Starts a file in `folder` (made, with `made`, on the way to it),
    /// of `expected` bytes when the client said so: more than `limit` is
    /// 413 now, and what the file system cannot hold 507 now (the space
    /// is reserved), before a byte of the body is read.
    pub fn create(
        folder: Folder,
        made: NewFolders,
        expected: Option<u64>,
        limit: Option<u64>,
    ) -> Result<Incoming, Refusal> {
        if let (Some(expected), Some(limit)) = (expected, limit) {
            if expected > limit {
                return Err(Refusal::too_large(limit));
            }
        }
        let (temporary, file) =
            create_temporary(&folder).map_err(|e| Refusal::io(e, "cannot create a temporary file"))?;
        let incoming = Incoming { folder, temporary, file: Some(file), written: 0, flushed: 0, limit, made };
        if let (Some(expected), Some(file)) = (expected.filter(|&n| n > 0), &incoming.file) {
            if let Err(e) = fs::reserve(file, expected) {
                // Dropped: the temporary file and made folders go.
                return Err(Refusal::io(e, "cannot reserve room for the file"));
            }
        }
        Ok(incoming)
    }

    /// Appends `piece`; past the limit it is 413, and a full disk 507.
    pub fn write(&mut self, piece: &[u8]) -> Result<(), Refusal> {
        self.written += piece.len() as u64;
        if let Some(limit) = self.limit.filter(|&limit| self.written > limit) {
            return Err(Refusal::too_large(limit));
        }
        let Some(file) = &mut self.file else { return Err(Refusal::internal("write after commit")) };
        file.write_all(piece).map_err(|e| Refusal::io(e, "cannot write the file"))?;
        if self.written - self.flushed >= WRITEBACK_BYTES {
            fs::start_writeback(file, self.flushed, self.written - self.flushed);
            self.flushed = self.written;
        }
        Ok(())
    }

    /// Makes the file durable and gives it `name` in its folder,
    /// replacing a file of that name when `replace` (else 409 if one
    /// exists); the folder is made durable too.
    pub fn commit(mut self, name: &OsStr, replace: bool) -> Result<Landed, Refusal> {
        let Some(file) = self.file.take() else { return Err(Refusal::internal("committed twice")) };
        file.sync_all().map_err(|e| Refusal::io(e, "cannot write the file to disk"))?;
        drop(file);
        let existed = match self.folder.existing(name) {
            Ok(fs::Existing::Nothing) => false,
            Ok(fs::Existing::File) if replace => true,
            Ok(fs::Existing::File) => return Err(Refusal::exists(name)),
            Ok(fs::Existing::Folder) => return Err(Refusal::conflict(name, "is a folder")),
            Ok(fs::Existing::Other) => return Err(Refusal::conflict(name, "is a link or a special file")),
            Err(e) => return Err(Refusal::io(e, "cannot look at the target")),
        };
        match self.folder.commit(&self.temporary, name, replace) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(Refusal::exists(name)),
            Err(e) => return Err(Refusal::io(e, "cannot rename the file into place")),
        }
        // Renamed: nothing left to remove.
        self.temporary = CString::default();
        self.made.keep();
        crate::metrics::count(|metrics| metrics.count_upload(true, self.written));
        Ok(if existed { Landed::Replaced } else { Landed::Created })
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if self.temporary.is_empty() {
            return;
        }
        drop(self.file.take());
        crate::metrics::count(|metrics| metrics.count_upload(false, 0));
        if let Err(e) = self.folder.discard(&self.temporary) {
            log::warn!("cannot remove an unfinished upload's temporary file: {e}");
        }
    }
}

/// The folders a write made on its way (outermost first): removed again
/// when dropped, innermost first, each only while still empty (`rmdir`
/// refuses otherwise, which is the point: another upload may be using
/// it), unless [`NewFolders::keep`] was called.
#[derive(Debug, Default)]
pub struct NewFolders(Vec<Made>);

impl NewFolders {
    pub fn new(made: Vec<Made>) -> NewFolders {
        NewFolders(made)
    }

    /// The write landed: the folders stay.
    pub fn keep(&mut self) {
        self.0.clear();
    }
}

impl Drop for NewFolders {
    fn drop(&mut self) {
        while let Some(Made { parent, name }) = self.0.pop() {
            if parent.remove_empty(&name).is_err() {
                // In use by another upload: so are those around it.
                break;
            }
        }
    }
}

/// Creates a new temporary file in `folder`, with a random name.
fn create_temporary(folder: &Folder) -> io::Result<(CString, File)> {
    let mut last = io::Error::from(io::ErrorKind::AlreadyExists);
    for _ in 0..NAME_TRIES {
        let name = temporary_name()?;
        match folder.create_new(&name) {
            Ok(file) => return Ok((name, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

/// `.rawserve-upload-` and 32 random hexadecimal digits.
fn temporary_name() -> io::Result<CString> {
    let name = super::random_name(TEMPORARY_NAME)?;
    // OK: hexadecimal digits and the prefix hold no NUL.
    CString::new(name.into_encoded_bytes()).map_err(io::Error::other)
}
