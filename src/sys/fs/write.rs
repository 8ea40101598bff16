//! Changing what is beneath the served root: folders opened for writing,
//! files created under a temporary name and renamed into place, folders
//! made, entries removed and moved. Reading is `fs`'s; what to write, and
//! whether a name is acceptable, is the caller's (`handlers::upload`).
//!
//! Every path is resolved beneath the root handle and **never through a
//! symlink** (`openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, or,
//! without `openat2`, a walk that opens each folder with `O_NOFOLLOW |
//! O_DIRECTORY`), even when reads may follow links out of the root: a
//! link is somebody's way to somewhere else, and a write must not land
//! there. The last name is always looked up relative to its folder's
//! handle with `*at` calls that do not follow it either (`O_NOFOLLOW |
//! O_EXCL` on create, `renameat` and `unlinkat`, which act on a link
//! itself), so no check-then-use race can send a write elsewhere.
//!
//! Durability follows the usual recipe (what `rename`-based editors and
//! databases do): write a temporary file in the target folder, `fsync` it,
//! rename it over the target, `fsync` the folder so the rename itself
//! survives a crash. This module uses rustix's safe API only.

use std::ffi::{CStr, CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

#[cfg(target_os = "linux")]
use rustix::fs::ResolveFlags;
use rustix::fs::{AtFlags, FallocateFlags, FileType, Mode, OFlags, RenameFlags};

use super::{Confinement, Root};

/// Mode of a created file before the umask, as `open(2)` callers pass it
/// (the umask, usually 022, then gives 0644).
const FILE_MODE: u32 = 0o666;
/// Mode of a created folder before the umask (usually 0755 after it).
const FOLDER_MODE: u32 = 0o777;

/// Flags of a folder opened to write into: a real descriptor (not
/// `O_PATH`), because the folder is `fsync`ed after a rename in it.
fn folder_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

/// A folder beneath the root, open for creating, renaming and removing
/// its entries.
#[derive(Debug)]
pub struct Folder {
    fd: OwnedFd,
}

impl AsFd for Folder {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// What a name in a folder is now, not following a symlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    Nothing,
    File,
    Folder,
    /// A symlink, FIFO, socket or device: never written through or over.
    Other,
}

impl Root {
    /// Opens the folder `relative` (`safe_path`'s components; empty for
    /// the root) for writing, beneath the root and through no symlink.
    /// A missing folder is `NotFound`; a symlink on the way is refused
    /// (`ELOOP`, or `EXDEV` for a way out).
    pub fn open_folder(&self, relative: &Path) -> io::Result<Folder> {
        if relative.as_os_str().is_empty() {
            return Ok(Folder { fd: rustix::fs::openat(&self.dir, c".", folder_flags(), Mode::empty())? });
        }
        if self.confinement == Confinement::Beneath {
            match open_folder_kernel(self.dir.as_fd(), relative) {
                // ENOTDIR: a file, or a symlink, on the way; the walk
                // tells which.
                Some(Err(e)) if e.raw_os_error() == Some(libc::ENOTDIR) => {}
                Some(opened) => return opened.map(|fd| Folder { fd }),
                None => {}
            }
        }
        let mut folder = Folder { fd: rustix::fs::openat(&self.dir, c".", folder_flags(), Mode::empty())? };
        for component in relative.components() {
            let Component::Normal(name) = component else { return Err(rustix::io::Errno::INVAL.into()) };
            folder = folder.open_child(name)?;
        }
        Ok(folder)
    }

    /// Opens the folder `relative` as [`Root::open_folder`] does, making
    /// each missing folder on the way (each made folder's parent is
    /// `fsync`ed, so the tree survives a crash). Returns the folder and
    /// the folders made, outermost first, for the caller to remove should
    /// what it makes them for fail.
    pub fn make_folders(&self, relative: &Path) -> io::Result<(Folder, Vec<Made>)> {
        match self.open_folder(relative) {
            Ok(folder) => return Ok((folder, Vec::new())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut folder = self.open_folder(Path::new(""))?;
        let mut made = Vec::new();
        for component in relative.components() {
            let Component::Normal(name) = component else { return Err(rustix::io::Errno::INVAL.into()) };
            let child = match folder.open_child(name) {
                Ok(child) => child,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    let mine = match folder.make_folder(name) {
                        Ok(()) => true,
                        // Made meanwhile by another request: use it (if it
                        // is a symlink, the open below refuses it).
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
                        Err(e) => return Err(e),
                    };
                    let child = folder.open_child(name)?;
                    if mine {
                        made.push(Made { parent: folder, name: name.to_owned() });
                    }
                    child
                }
                Err(e) => return Err(e),
            };
            folder = child;
        }
        Ok((folder, made))
    }
}

/// A folder made by [`Root::make_folders`]: its parent and its name.
#[derive(Debug)]
pub struct Made {
    pub parent: Folder,
    pub name: OsString,
}

/// `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`; `None` when the
/// kernel cannot say (it raced a rename, `EAGAIN`): the walk decides.
#[cfg(target_os = "linux")]
fn open_folder_kernel(root: rustix::fd::BorrowedFd, relative: &Path) -> Option<io::Result<OwnedFd>> {
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    match rustix::fs::openat2(root, relative, folder_flags(), Mode::empty(), resolve) {
        Err(rustix::io::Errno::AGAIN) => None,
        other => Some(other.map_err(io::Error::from)),
    }
}

#[cfg(not(target_os = "linux"))]
fn open_folder_kernel(_: rustix::fd::BorrowedFd, _: &Path) -> Option<io::Result<OwnedFd>> {
    None
}

impl Folder {
    /// The folder `name` in this one, not through a symlink.
    fn open_child(&self, name: &OsStr) -> io::Result<Folder> {
        match rustix::fs::openat(&self.fd, name, folder_flags(), Mode::empty()) {
            Ok(fd) => Ok(Folder { fd }),
            // `O_DIRECTORY | O_NOFOLLOW` on a symlink says ENOTDIR: say
            // what it is, a link where none may be.
            Err(rustix::io::Errno::NOTDIR) if self.existing(name)? == Existing::Other => {
                Err(rustix::io::Errno::LOOP.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// This folder again, as a handle of its own.
    pub fn duplicate(&self) -> io::Result<Folder> {
        Ok(Folder { fd: rustix::fs::openat(&self.fd, c".", folder_flags(), Mode::empty())? })
    }

    /// The folder `name` in this one, for moving or removing its entries.
    pub fn child(&self, name: &OsStr) -> io::Result<Folder> {
        self.open_child(name)
    }

    /// Opens the entry `name` (a file or a folder, never through a
    /// symlink) to read or change its extended attributes.
    pub fn open_entry(&self, name: &OsStr) -> io::Result<OwnedFd> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
        Ok(rustix::fs::openat(&self.fd, name, flags, Mode::empty())?)
    }

    /// What `name` is now, without following a symlink.
    pub fn existing(&self, name: &OsStr) -> io::Result<Existing> {
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => Ok(match FileType::from_raw_mode(stat.st_mode) {
                FileType::RegularFile => Existing::File,
                FileType::Directory => Existing::Folder,
                _ => Existing::Other,
            }),
            Err(rustix::io::Errno::NOENT) => Ok(Existing::Nothing),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates the new, empty file `name` (which must not exist: `O_EXCL`,
    /// so neither an existing file nor a planted symlink is opened) for
    /// writing.
    pub fn create_new(&self, name: &CStr) -> io::Result<File> {
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        Ok(File::from(rustix::fs::openat(&self.fd, name, flags, Mode::from_raw_mode(FILE_MODE))?))
    }

    /// Renames `from` to `to` in this folder, replacing what `to` names
    /// unless `replace` is false (then `EEXIST` if it exists), and makes
    /// the rename durable (`fsync` of the folder).
    pub fn commit(&self, from: &CStr, to: &OsStr, replace: bool) -> io::Result<()> {
        self.move_to(OsStr::from_bytes(from.to_bytes()), self, to, replace)
    }

    /// Moves `from` in this folder to `to` in `target` (the same folder,
    /// or another on the same file system), replacing what `to` names
    /// unless `replace` is false (then `EEXIST`), and makes it durable
    /// (`fsync` of both folders). A symlink is moved as itself.
    pub fn move_to(&self, from: &OsStr, target: &Folder, to: &OsStr, replace: bool) -> io::Result<()> {
        let flags = if replace { RenameFlags::empty() } else { RenameFlags::NOREPLACE };
        rustix::fs::renameat_with(&self.fd, from, &target.fd, to, flags)?;
        target.sync()?;
        if !self.same_as(target) {
            self.sync()?;
        }
        Ok(())
    }

    /// Makes the folder `name`, durably.
    pub fn make_folder(&self, name: &OsStr) -> io::Result<()> {
        rustix::fs::mkdirat(&self.fd, name, Mode::from_raw_mode(FOLDER_MODE))?;
        self.sync()
    }

    /// Removes the entry `name`: a file or a symlink (the link itself),
    /// or a folder with everything in it. Not durable by itself: call
    /// [`Folder::sync`] after.
    pub fn remove(&self, name: &OsStr) -> io::Result<()> {
        match self.existing(name)? {
            Existing::Nothing => Err(io::ErrorKind::NotFound.into()),
            Existing::Folder => {
                self.child(name)?.empty()?;
                Ok(rustix::fs::unlinkat(&self.fd, name, AtFlags::REMOVEDIR)?)
            }
            Existing::File | Existing::Other => Ok(rustix::fs::unlinkat(&self.fd, name, AtFlags::empty())?),
        }
    }

    /// Removes everything in this folder, depth first, through no symlink
    /// (a link inside is removed as itself, never followed).
    fn empty(&self) -> io::Result<()> {
        let dup = rustix::fs::openat(&self.fd, c".", folder_flags(), Mode::empty())?;
        let mut dir = rustix::fs::Dir::new(dup)?;
        let mut names: Vec<CString> = Vec::new();
        while let Some(entry) = dir.read() {
            let entry = entry?;
            let name = entry.file_name();
            if name != c"." && name != c".." {
                names.push(name.to_owned());
            }
        }
        for name in names {
            match self.remove(OsStr::from_bytes(name.to_bytes())) {
                // Removed meanwhile by someone else: gone is what we want.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                other => other?,
            }
        }
        Ok(())
    }

    /// Removes the folder `name` if it is empty (`ENOTEMPTY` otherwise).
    pub fn remove_empty(&self, name: &OsStr) -> io::Result<()> {
        Ok(rustix::fs::unlinkat(&self.fd, name, AtFlags::REMOVEDIR)?)
    }

    /// Removes `name` if it is there (a temporary file given up); errors
    /// are the caller's to log.
    pub fn discard(&self, name: &CStr) -> io::Result<()> {
        match rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()) {
            Err(rustix::io::Errno::NOENT) => Ok(()),
            other => Ok(other?),
        }
    }

    /// Makes the folder's entries durable (`fsync`).
    pub fn sync(&self) -> io::Result<()> {
        Ok(rustix::fs::fsync(&self.fd)?)
    }

    /// Bytes free for an unprivileged writer on this folder's file system.
    pub fn available_bytes(&self) -> io::Result<u64> {
        let stat = rustix::fs::fstatvfs(&self.fd)?;
        Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
    }

    /// Whether `other` is this very folder (same device and inode).
    pub fn same_as(&self, other: &Folder) -> bool {
        match (rustix::fs::fstat(&self.fd), rustix::fs::fstat(&other.fd)) {
            (Ok(a), Ok(b)) => (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino),
            _ => false,
        }
    }
}

/// Reserves `len` bytes for `file` without changing its size, so a body
/// that cannot fit is refused before it is read (`ENOSPC`, `EDQUOT`) and
/// the file is laid out in one piece. File systems without the call say
/// `EOPNOTSUPP`: then nothing is reserved, which is fine.
pub fn reserve(file: &File, len: u64) -> io::Result<()> {
    match rustix::fs::fallocate(file, FallocateFlags::KEEP_SIZE, 0, len) {
        Err(rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::NOSYS | rustix::io::Errno::INVAL) => Ok(()),
        other => Ok(other?),
    }
}

/// Starts writing `len` bytes of `file` from `offset` to the disk and
/// returns without waiting (`sync_file_range(SYNC_FILE_RANGE_WRITE)`), so
/// that an upload's final `fsync` has little left to wait for: the
/// worker's other connections wait through that `fsync`. Where the call
/// does not exist this does nothing; errors are `fsync`'s to report.
pub fn start_writeback(file: &File, offset: u64, len: u64) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else { return };
        // SAFETY: the descriptor is borrowed from `file`, open for the whole
        // call; the call reads no memory of ours, only these integers.
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, offset, len);
}

/// Whether an error means the file system (or the user's quota) is full.
pub fn is_full(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}

/// Whether an error means a symlink was met where none may be, or a way
/// out of the root.
pub fn is_link_refusal(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::ELOOP | libc::EXDEV))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::symlink;
    use std::path::PathBuf;

    /// A root with `dir/`, a link to it, a link out of the root, and a file.
    fn tree() -> (tempfile::TempDir, tempfile::TempDir, PathBuf) {
        let top = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let root = top.path().join("root");
        std::fs::create_dir_all(root.join("dir")).unwrap();
        std::fs::write(root.join("file"), b"x").unwrap();
        symlink("dir", root.join("link-in")).unwrap();
        symlink(outside.path(), root.join("link-out")).unwrap();
        (top, outside, root)
    }

    fn each_confinement(check: impl Fn(&Root, &Path, &Path)) {
        for confinement in [Confinement::Beneath, Confinement::Walk, Confinement::Anywhere] {
            let (_top, outside, root_path) = tree();
            let root = Root::open_with(&root_path, confinement).unwrap();
            check(&root, &root_path, outside.path());
        }
    }

    #[test]
    fn folders_open_beneath_the_root_through_no_symlink() {
        each_confinement(|root, _, outside| {
            assert!(root.open_folder(Path::new("")).is_ok());
            assert!(root.open_folder(Path::new("dir")).is_ok());
            for linked in ["link-in", "link-out", "link-out/x", "link-in/x"] {
                let error = root.open_folder(Path::new(linked)).unwrap_err();
                assert!(is_link_refusal(&error), "{linked}: {error}");
            }
            assert_eq!(root.open_folder(Path::new("missing")).unwrap_err().kind(), io::ErrorKind::NotFound);
            assert_eq!(root.open_folder(Path::new("file/x")).unwrap_err().kind(), io::ErrorKind::NotADirectory);
            assert!(is_link_refusal(&root.make_folders(Path::new("link-out/new")).unwrap_err()));
            assert_eq!(std::fs::read_dir(outside).unwrap().count(), 0, "nothing made outside");
        });
    }

    #[test]
    fn folders_made_are_reported_and_files_land_by_rename() {
        each_confinement(|root, path, _| {
            let (folder, made) = root.make_folders(Path::new("dir/a/b")).unwrap();
            let names: Vec<_> = made.iter().map(|m| m.name.to_string_lossy().into_owned()).collect();
            assert_eq!(names, ["a", "b"]);
            let (_, again) = root.make_folders(Path::new("dir/a/b")).unwrap();
            assert!(again.is_empty());
            let mut file = folder.create_new(c".tmp-1").unwrap();
            file.write_all(b"one").unwrap();
            assert!(folder.create_new(c".tmp-1").is_err(), "O_EXCL");
            folder.commit(c".tmp-1", OsStr::new("f"), false).unwrap();
            assert_eq!(std::fs::read(path.join("dir/a/b/f")).unwrap(), b"one");
            folder.create_new(c".tmp-2").unwrap().write_all(b"two").unwrap();
            let refused = folder.commit(c".tmp-2", OsStr::new("f"), false).unwrap_err();
            assert_eq!(refused.kind(), io::ErrorKind::AlreadyExists);
            folder.commit(c".tmp-2", OsStr::new("f"), true).unwrap();
            assert_eq!(std::fs::read(path.join("dir/a/b/f")).unwrap(), b"two");
            assert_eq!(folder.existing(OsStr::new("f")).unwrap(), Existing::File);
            assert_eq!(folder.existing(OsStr::new(".tmp-2")).unwrap(), Existing::Nothing);
            // Made folders go again only while empty.
            for Made { parent, name } in made.into_iter().rev() {
                assert!(parent.remove_empty(&name).is_err(), "{name:?} holds f");
            }
        });
    }

    #[test]
    fn removing_a_tree_never_follows_a_link_out() {
        each_confinement(|root, path, outside| {
            std::fs::write(outside.join("precious"), b"keep").unwrap();
            std::fs::create_dir_all(path.join("dir/sub")).unwrap();
            std::fs::write(path.join("dir/sub/f"), b"x").unwrap();
            symlink(outside, path.join("dir/sub/out")).unwrap();
            let top = root.open_folder(Path::new("")).unwrap();
            assert_eq!(top.existing(OsStr::new("link-out")).unwrap(), Existing::Other);
            top.remove(OsStr::new("dir")).unwrap();
            assert!(!path.join("dir").exists());
            assert_eq!(std::fs::read(outside.join("precious")).unwrap(), b"keep");
            top.remove(OsStr::new("link-out")).unwrap();
            assert!(outside.exists(), "a link is removed as itself");
            assert_eq!(top.remove(OsStr::new("missing")).unwrap_err().kind(), io::ErrorKind::NotFound);
        });
    }
}
