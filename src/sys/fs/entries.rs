//! Reading a directory from an open handle (`getdents`), and looking at
//! its entries relative to that handle (`fstatat`, `faccessat`), so no
//! entry's path is ever resolved from the root again. The handle comes
//! from [`Root::open_node`](super::Root::open_node), confined like every
//! other open.

use std::ffi::CStr;
use std::io;
use std::os::fd::OwnedFd;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::fs::{AtFlags, Dir};

use super::{kind_of, EntryKind, Stamp};

/// One directory entry's facts, as `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`
/// gives them.
#[derive(Debug, Clone, Copy)]
pub struct EntryStat {
    pub kind: EntryKind,
    pub size: u64,
    pub modified: Option<SystemTime>,
    /// Names the inode has (a file changed through another is not seen by
    /// a watch on this directory).
    pub links: u64,
    pub stamp: Stamp,
}

/// The entries of an open directory, read with `getdents` from the handle.
pub struct Entries {
    dir: Dir,
}

impl Entries {
    /// Reads the directory `dir` (from [`Root::open_node`](super::Root::open_node)).
    pub fn new(dir: OwnedFd) -> io::Result<Entries> {
        Ok(Entries { dir: Dir::new(dir)? })
    }

    /// Calls `each` with the next entry's name (never `.` or `..`); `None`
    /// at the end. A read error ends the listing as if it were the end.
    pub fn next_name<T>(&mut self, each: impl FnOnce(&CStr) -> T) -> Option<T> {
        loop {
            let entry = self.dir.read()?.ok()?;
            let name = entry.file_name();
            if name == c"." || name == c".." {
                continue;
            }
            return Some(each(name));
        }
    }

    /// The entry `name`'s facts, relative to the directory handle, without
    /// following a symlink.
    pub fn stat(&self, name: &CStr) -> io::Result<EntryStat> {
        let dir = self.dir.fd()?;
        let stat = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
        let kind = kind_of(&stat);
        let modified = u64::try_from(stat.st_mtime)
            .ok()
            .and_then(|secs| UNIX_EPOCH.checked_add(Duration::new(secs, stat.st_mtime_nsec as u32)));
        Ok(EntryStat {
            kind,
            size: u64::try_from(stat.st_size).unwrap_or(0),
            modified,
            // A u32 on some architectures.
            #[allow(clippy::useless_conversion)]
            links: u64::from(stat.st_nlink),
            stamp: Stamp::of_stat(&stat),
        })
    }

    /// The stamp of the directory itself, as open.
    pub fn stamp(&self) -> io::Result<Stamp> {
        Ok(Stamp::of_stat(&rustix::fs::fstat(self.dir.fd()?)?))
    }

    /// Whether the server may use the entry `name` (following a symlink):
    /// read a file, or search a directory. Checked with the effective IDs
    /// (`faccessat(AT_EACCESS)`), as opening it would be; a listing leaves
    /// out what a request for it would answer 403.
    pub fn usable(&self, name: &CStr, is_dir: bool) -> bool {
        let Ok(dir) = self.dir.fd() else { return false };
        let access = if is_dir { rustix::fs::Access::EXEC_OK } else { rustix::fs::Access::READ_OK };
        rustix::fs::accessat(dir, name, access, AtFlags::EACCESS).is_ok()
    }
}
