//! Opening files beneath the served root, race-free; reading directories
//! relative to an open handle is [`entries`]'s, changing what is beneath
//! the root (uploads, new folders, removal, moves) is [`write`]'s.
//!
//! The root is opened once ([`Root::open`]) and every later open is relative
//! to that descriptor, so no path is ever resolved twice (the check-then-open
//! race of `canonicalize` followed by `open`). Confinement is done by the
//! kernel with `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)` where it
//! exists; elsewhere (older kernels, seccomp filters that answer EPERM,
//! other systems) by [`Confinement::Walk`], a component-by-component
//! `openat(O_NOFOLLOW)` walk that follows symlinks itself and never climbs
//! above the root. Symlinks that stay inside keep working either way,
//! absolute ones included: the kernel refuses those (EXDEV), so such a path
//! is walked again, and the walk follows an absolute target that lies below
//! the root's own path from the root handle, never from `/`.
//!
//! Everything that is not a regular file or a directory (FIFO, socket,
//! device) is refused right after the open, from `fstat` of the descriptor:
//! the open itself never blocks (`O_NONBLOCK`, so a FIFO without a writer
//! does not wait) and never acquires a terminal (`O_NOCTTY`). What to do
//! with a refusal is the caller's business. This module uses rustix's safe
//! API only: the one `unsafe` call of `fs` is `write`'s `sync_file_range`.

use std::fs::{File, Metadata};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[cfg(target_os = "linux")]
use rustix::fs::ResolveFlags;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};

mod entries;
mod write;
pub mod xattr;

pub use entries::Entries;
pub use write::{is_full, is_link_refusal, reserve, start_writeback, Existing, Folder, Made};

/// Most symlinks followed while resolving one path, as the kernel's
/// `MAXSYMLINKS` (40): more is a loop, or an attack on the walk's time.
pub const MAX_SYMLINK_HOPS: usize = 40;

/// How often an `openat2` that the kernel refused with EAGAIN (a rename
/// raced with its `..` handling) is retried before the walk takes over for
/// that one path.
const MAX_BENEATH_RETRIES: usize = 4;

/// How the root confines the paths opened beneath it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confinement {
    /// `openat2` with `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`: the kernel
    /// refuses any resolution that leaves the root (EXDEV).
    Beneath,
    /// The portable fallback: each component opened with `O_NOFOLLOW`,
    /// symlinks read and followed here, at most [`MAX_SYMLINK_HOPS`] of them,
    /// `..` above the root and absolute targets outside the root's path
    /// refused (EXDEV, as the kernel).
    Walk,
    /// `--follow-symlinks`: plain `openat` from the root; symlinks may lead
    /// anywhere (`..` in the request is still refused by `safe_path`).
    Anywhere,
}

/// The served directory, held open for the life of the server.
#[derive(Debug)]
pub struct Root {
    dir: OwnedFd,
    confinement: Confinement,
    /// The root's canonical path when it was opened, so that an absolute
    /// symlink pointing below it can be followed from `dir`. Only compared
    /// with link targets, never opened: if the root moves later, such a
    /// link is still resolved beneath `dir`, so it cannot lead outside.
    path: PathBuf,
}

/// What a path beneath the root named when it was opened.
#[derive(Debug)]
pub enum Node {
    /// A regular file open for reading, and its metadata from the descriptor.
    File(File, Metadata),
    /// A directory open for reading its entries.
    Directory(OwnedFd),
}

/// The kind of a directory entry, from `fstatat` without following symlinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Directory,
    Symlink,
    /// FIFO, socket or device: never served, so never listed.
    Other,
}

/// What identifies a file's current contents without reading them: the
/// cache compares it at every hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    /// A symlink's own stamp never equals a file's.
    kind: EntryKind,
}

impl Stamp {
    /// The stamp in std's metadata of an open file.
    pub fn of(meta: &Metadata) -> Stamp {
        let kind = if meta.is_file() {
            EntryKind::File
        } else if meta.is_dir() {
            EntryKind::Directory
        } else {
            EntryKind::Other
        };
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
            kind,
        }
    }

    // The field types of `struct stat` differ per architecture, hence the
    // widening casts.
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    pub(super) fn of_stat(stat: &rustix::fs::Stat) -> Stamp {
        Stamp {
            dev: stat.st_dev as u64,
            ino: stat.st_ino as u64,
            size: stat.st_size as u64,
            mtime: (stat.st_mtime as i64, stat.st_mtime_nsec as i64),
            ctime: (stat.st_ctime as i64, stat.st_ctime_nsec as i64),
            kind: kind_of(stat),
        }
    }
}

/// The kind of file a `stat` describes.
pub(super) fn kind_of(stat: &rustix::fs::Stat) -> EntryKind {
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => EntryKind::File,
        FileType::Directory => EntryKind::Directory,
        FileType::Symlink => EntryKind::Symlink,
        _ => EntryKind::Other,
    }
}

/// Flags of every open for reading: never block (FIFOs), never become the
/// controlling terminal (devices), never leak into a child.
fn read_flags() -> OFlags {
    OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC
}

/// Flags of a handle that only names a file (no read access is checked, no
/// open side effect): the cheapest way to learn what a path names now.
fn path_flags() -> OFlags {
    OFlags::PATH | OFlags::CLOEXEC
}

/// The error for a file the server never opens for reading (FIFO, socket,
/// device): answered as not found, like anything else it will not serve.
fn not_served() -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, "not a regular file or directory")
}

impl Root {
    /// Opens `path` as the root: with [`Confinement::Beneath`] where the
    /// kernel supports `openat2`, else [`Confinement::Walk`]; with
    /// [`Confinement::Anywhere`] when symlinks may lead anywhere.
    pub fn open(path: &Path, follow_symlinks: bool) -> io::Result<Root> {
        let mut root = Root::open_with(path, Confinement::Walk)?;
        root.confinement = if follow_symlinks {
            Confinement::Anywhere
        } else if beneath_supported(root.dir.as_fd()) {
            Confinement::Beneath
        } else {
            Confinement::Walk
        };
        Ok(root)
    }

    /// Opens `path` as the root with the given confinement (tests use it to
    /// run the walk on kernels that have `openat2`).
    pub fn open_with(path: &Path, confinement: Confinement) -> io::Result<Root> {
        let dir = rustix::fs::open(path, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
        Ok(Root { dir, confinement, path: path.canonicalize()? })
    }

    /// How this root confines what it opens (for tests and the fuzz target).
    #[cfg(any(test, fuzzing))]
    pub fn confinement(&self) -> Confinement {
        self.confinement
    }

    /// Opens what `relative` (a path from `safe_path::resolve`; empty for
    /// the root itself) names, if it is a regular file or a directory.
    pub fn open_node(&self, relative: &Path) -> io::Result<Node> {
        let fd = match self.open_beneath(relative, read_flags()) {
            // A Unix socket cannot be opened at all (ENXIO), nor a device
            // without a driver (ENXIO, ENODEV).
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENXIO | libc::ENODEV)) => return Err(not_served()),
            other => other?,
        };
        let file = File::from(fd);
        let meta = file.metadata()?;
        if meta.is_file() {
            Ok(Node::File(file, meta))
        } else if meta.is_dir() {
            Ok(Node::Directory(file.into()))
        } else {
            Err(not_served())
        }
    }

    /// Opens the regular file `relative` names; anything else is refused.
    pub fn open_file(&self, relative: &Path) -> io::Result<(File, Metadata)> {
        match self.open_node(relative)? {
            Node::File(file, meta) => Ok((file, meta)),
            Node::Directory(_) => Err(io::Error::from(io::ErrorKind::IsADirectory)),
        }
    }

    /// The metadata of what `relative` names now, resolved by the same rules
    /// as [`Root::open_node`], without opening it for reading (`O_PATH`):
    /// how a cache entry learns it is still the file the path names.
    pub fn metadata(&self, relative: &Path) -> io::Result<Metadata> {
        File::from(self.open_beneath(relative, path_flags())?).metadata()
    }

    /// The stamp of what `relative` names now, by the same rules as
    /// [`Root::metadata`]; the cache's check at every hit, so made cheap
    /// where that is exact. A name directly in the root that is not a
    /// symlink is, by itself, what the path names beneath the root: one
    /// `fstatat(root, name, AT_SYMLINK_NOFOLLOW)` says so (the system call
    /// the uncached check-by-path cost before). Deeper paths, and links,
    /// are resolved beneath the root (`openat2(O_PATH)` + `fstat` + close),
    /// since any directory on the way may have been swapped for a link.
    pub fn stamp(&self, relative: &Path) -> io::Result<Stamp> {
        let root = self.dir.as_fd();
        let name = relative.as_os_str().as_bytes();
        if name.is_empty() {
            return Ok(Stamp::of_stat(&rustix::fs::fstat(root)?));
        }
        if self.confinement != Confinement::Anywhere && !name.contains(&b'/') {
            let stat = rustix::fs::statat(root, relative, AtFlags::SYMLINK_NOFOLLOW)?;
            if kind_of(&stat) != EntryKind::Symlink {
                return Ok(Stamp::of_stat(&stat));
            }
        }
        let fd = self.open_beneath(relative, path_flags())?;
        Ok(Stamp::of_stat(&rustix::fs::fstat(&fd)?))
    }

    /// Walks `relative` from the root one real directory at a time, calling
    /// `each` with the root, every directory on the way (`true`) and then
    /// the file (`false`; `true` for a directory, as a listing traces),
    /// each open as `O_PATH`, *before* the next name is
    /// looked up in it; returns the file's stamp, taken after `each` saw it.
    /// Any symlink on the way, or a final entry that is neither a regular
    /// file nor a directory,
    /// is refused (ELOOP / ENOTDIR / EINVAL): a path is watched only where
    /// what it names depends on nothing but the entries of these
    /// directories, so that a watch on each of them sees every change to
    /// what it names (`handlers::watches`). Names are `safe_path`'s:
    /// no `.`, `..` or empty component.
    pub fn trace(
        &self,
        relative: &Path,
        mut each: impl FnMut(BorrowedFd<'_>, bool) -> io::Result<()>,
    ) -> io::Result<Stamp> {
        each(self.dir.as_fd(), true)?;
        let mut components = relative.components().peekable();
        let mut dir: Option<OwnedFd> = None;
        while let Some(component) = components.next() {
            let std::path::Component::Normal(name) = component else { return Err(not_served()) };
            let at = dir.as_ref().map_or(self.dir.as_fd(), |d| d.as_fd());
            let fd = rustix::fs::openat(at, name, OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())?;
            let kind = kind_of(&rustix::fs::fstat(&fd)?);
            if components.peek().is_some() {
                if kind != EntryKind::Directory {
                    return Err(rustix::io::Errno::NOTDIR.into());
                }
                each(fd.as_fd(), true)?;
                dir = Some(fd);
                continue;
            }
            if kind != EntryKind::File && kind != EntryKind::Directory {
                return Err(rustix::io::Errno::INVAL.into());
            }
            each(fd.as_fd(), kind == EntryKind::Directory)?;
            return Ok(Stamp::of_stat(&rustix::fs::fstat(&fd)?));
        }
        // The root itself (a listing of it).
        Ok(Stamp::of_stat(&rustix::fs::fstat(&self.dir)?))
    }

    /// Opens `relative` with `flags` by this root's confinement.
    fn open_beneath(&self, relative: &Path, flags: OFlags) -> io::Result<OwnedFd> {
        let root = self.dir.as_fd();
        match self.confinement {
            Confinement::Beneath => {
                for _ in 0..MAX_BENEATH_RETRIES {
                    match open_beneath_kernel(root, relative, flags) {
                        Err(rustix::io::Errno::AGAIN) => continue,
                        // An escape, or an absolute link that may point
                        // inside: the walk tells them apart (refusals only
                        // pay for it).
                        Err(rustix::io::Errno::XDEV) => break,
                        other => return other.map_err(io::Error::from),
                    }
                }
                walk(root, &self.path, relative, flags)
            }
            Confinement::Walk => walk(root, &self.path, relative, flags),
            Confinement::Anywhere => Ok(rustix::fs::openat(root, non_empty(relative), flags, Mode::empty())?),
        }
    }
}

/// The first `len` bytes of `file` from its offset, as measured by its
/// `fstat`: read straight into an unfilled buffer, so a small local file
/// costs one `read` (std's `read_to_end` adds a `statx`, an `lseek`, a
/// read to see the end and, with a zeroed buffer, a pass over it). Bytes
/// beyond `len` (the file grew) are not read; fewer (it shrank) is
/// `UnexpectedEof`.
pub fn read_len(file: &File, len: usize) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(len);
    while bytes.len() < len {
        // rustix sets the length to what the kernel wrote: no `unsafe`.
        match rustix::io::read(file, rustix::buffer::spare_capacity(&mut bytes)) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    // The capacity may exceed `len`, and the file may have grown into it.
    bytes.truncate(len);
    Ok(bytes)
}

/// `.` for the root itself: the open calls take no empty path.
fn non_empty(relative: &Path) -> &Path {
    if relative.as_os_str().is_empty() {
        Path::new(".")
    } else {
        relative
    }
}

#[cfg(target_os = "linux")]
fn open_beneath_kernel(root: BorrowedFd, relative: &Path, flags: OFlags) -> rustix::io::Result<OwnedFd> {
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    rustix::fs::openat2(root, non_empty(relative), flags, Mode::empty(), resolve)
}

#[cfg(not(target_os = "linux"))]
fn open_beneath_kernel(_: BorrowedFd, _: &Path, _: OFlags) -> rustix::io::Result<OwnedFd> {
    Err(rustix::io::Errno::NOSYS)
}

/// Whether `openat2` works here: ENOSYS before Linux 5.6, EPERM (or ENOSYS)
/// under seccomp filters that do not know it.
fn beneath_supported(root: BorrowedFd) -> bool {
    open_beneath_kernel(root, Path::new("."), path_flags()).is_ok()
}

/// Resolves `relative` beneath `root` one component at a time, each opened
/// with `O_NOFOLLOW` relative to the directory before it, and opens the
/// last with `flags`. A symlink is read (`readlinkat`) and its target's
/// components take its place; `..` pops back to the previous directory and
/// is refused at the root (EXDEV, like `RESOLVE_BENEATH`). An absolute
/// target below `root_path` (the root's canonical path) restarts from the
/// root handle with the rest of it; any other absolute target is refused.
/// More than [`MAX_SYMLINK_HOPS`] links is ELOOP.
fn walk(root: BorrowedFd, root_path: &Path, relative: &Path, flags: OFlags) -> io::Result<OwnedFd> {
    // Components still to resolve, last first (a stack, so a link's target
    // is pushed in front of what followed the link).
    let mut pending: Vec<Vec<u8>> = Vec::new();
    push_components(&mut pending, relative.as_os_str().as_bytes());
    // The directories walked through; the root is below the first.
    let mut dirs: Vec<OwnedFd> = Vec::new();
    let mut hops = 0;
    while let Some(name) = pending.pop() {
        let current = dirs.last().map_or(root, |dir| dir.as_fd());
        match name.as_slice() {
            b"." => continue,
            b".." => {
                if dirs.pop().is_none() {
                    return Err(io::Error::from(rustix::io::Errno::XDEV));
                }
                continue;
            }
            _ => {}
        }
        let last = pending.is_empty();
        let fd = rustix::fs::openat(current, name.as_slice(), path_flags() | OFlags::NOFOLLOW, Mode::empty())?;
        let stat = rustix::fs::fstat(&fd)?;
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::Symlink => {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(io::Error::from(rustix::io::Errno::LOOP));
                }
                let target = rustix::fs::readlinkat(&fd, c"", Vec::new())?;
                let target = Path::new(std::ffi::OsStr::from_bytes(target.as_bytes()));
                if target.is_absolute() {
                    // Component-wise, so `/srv/www2` is not below `/srv/www`.
                    let Ok(below_root) = target.strip_prefix(root_path) else {
                        return Err(io::Error::from(rustix::io::Errno::XDEV));
                    };
                    dirs.clear();
                    push_components(&mut pending, below_root.as_os_str().as_bytes());
                } else {
                    push_components(&mut pending, target.as_os_str().as_bytes());
                }
            }
            FileType::Directory if !last => dirs.push(fd),
            _ if last => {
                if flags.contains(OFlags::PATH) {
                    return Ok(fd);
                }
                // Reopen for reading; if the name was swapped meanwhile,
                // O_NOFOLLOW refuses a symlink and the inode check anything else.
                let reopened = rustix::fs::openat(current, name.as_slice(), flags | OFlags::NOFOLLOW, Mode::empty())?;
                let again = rustix::fs::fstat(&reopened)?;
                if (again.st_dev, again.st_ino) != (stat.st_dev, stat.st_ino) {
                    return Err(io::Error::from(io::ErrorKind::NotFound));
                }
                return Ok(reopened);
            }
            _ => return Err(io::Error::from(rustix::io::Errno::NOTDIR)),
        }
    }
    // The path ended in `.`, `..` or a link to one: open that directory.
    let current = dirs.last().map_or(root, |dir| dir.as_fd());
    Ok(rustix::fs::openat(current, c".", flags, Mode::empty())?)
}

/// Pushes the non-empty `/`-separated components of `path` onto `pending`
/// so that the first is popped first.
fn push_components(pending: &mut Vec<Vec<u8>>, path: &[u8]) {
    let start = pending.len();
    pending.extend(path.split(|&b| b == b'/').filter(|c| !c.is_empty()).map(<[u8]>::to_vec));
    pending[start..].reverse();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::symlink;

    /// A root with `inside.txt`, a `sub/` directory, an `outside` file next
    /// to (not in) the root and links of every kind.
    fn tree() -> (tempfile::TempDir, std::path::PathBuf) {
        let top = tempfile::tempdir().unwrap();
        let root = top.path().join("root");
        std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
        std::fs::write(root.join("inside.txt"), b"inside").unwrap();
        std::fs::write(root.join("sub/deeper/f.txt"), b"deep").unwrap();
        std::fs::write(top.path().join("outside"), b"outside").unwrap();
        symlink("inside.txt", root.join("rel-in")).unwrap();
        symlink("../inside.txt", root.join("sub/up-in")).unwrap();
        symlink("deeper", root.join("sub/dir-link")).unwrap();
        symlink("../outside", root.join("rel-out")).unwrap();
        symlink(top.path().join("outside"), root.join("abs-out")).unwrap();
        symlink(root.join("inside.txt"), root.join("abs-in")).unwrap();
        // A sibling whose name extends the root's: not below it.
        std::fs::create_dir_all(top.path().join("root2")).unwrap();
        std::fs::write(top.path().join("root2/x"), b"sibling").unwrap();
        symlink(top.path().join("root2/x"), root.join("abs-sibling")).unwrap();
        symlink("loop-b", root.join("loop-a")).unwrap();
        symlink("loop-a", root.join("loop-b")).unwrap();
        symlink("missing", root.join("dangling")).unwrap();
        symlink("/proc/self/root/etc/passwd", root.join("magic")).unwrap();
        symlink("..", root.join("sub/parent")).unwrap();
        rustix::fs::mkfifoat(rustix::fs::CWD, root.join("fifo").as_path(), Mode::from_raw_mode(0o600)).unwrap();
        (top, root)
    }

    fn read(root: &Root, rel: &str) -> Result<String, io::ErrorKind> {
        let (mut file, _) = root.open_file(Path::new(rel)).map_err(|e| e.kind())?;
        let mut s = String::new();
        file.read_to_string(&mut s).unwrap();
        Ok(s)
    }

    fn check_confined(confinement: Confinement) {
        let (_top, path) = tree();
        let root = Root::open_with(&path, confinement).unwrap();
        let ok = |rel: &str, expected: &str| assert_eq!(read(&root, rel).as_deref(), Ok(expected), "{rel}");
        let refused = |rel: &str| assert!(read(&root, rel).is_err(), "{rel} must be refused");
        ok("inside.txt", "inside");
        ok("rel-in", "inside");
        ok("sub/up-in", "inside");
        ok("sub/dir-link/f.txt", "deep");
        ok("sub/parent/inside.txt", "inside");
        refused("rel-out");
        refused("abs-out");
        // An absolute link is followed when it points below the root.
        ok("abs-in", "inside");
        refused("abs-sibling");
        refused("loop-a");
        refused("dangling");
        refused("magic");
        refused("fifo");
        refused("sub");
        assert!(matches!(root.open_node(Path::new("")), Ok(Node::Directory(_))));
        assert!(matches!(root.open_node(Path::new("sub/dir-link")), Ok(Node::Directory(_))));
        assert!(root.metadata(Path::new("rel-out")).is_err());
        assert!(root.metadata(Path::new("rel-in")).unwrap().is_file());
        // The cache's stamp names the same file as an open, or nothing.
        let (_, meta) = root.open_file(Path::new("inside.txt")).unwrap();
        for same in ["inside.txt", "rel-in", "abs-in", "sub/up-in", "sub/parent/inside.txt"] {
            assert_eq!(root.stamp(Path::new(same)).unwrap(), Stamp::of(&meta), "{same}");
        }
        for refused in ["rel-out", "abs-out", "abs-sibling", "loop-a", "dangling", "magic", "missing"] {
            assert!(root.stamp(Path::new(refused)).is_err(), "{refused}");
        }
        assert_eq!(root.stamp(Path::new("fifo")).unwrap().kind, EntryKind::Other);
    }

    #[test]
    fn beneath_confines() {
        let (_top, path) = tree();
        assert_eq!(Root::open(&path, false).unwrap().confinement(), Confinement::Beneath, "this kernel has openat2");
        check_confined(Confinement::Beneath);
    }

    #[test]
    fn walk_confines() {
        check_confined(Confinement::Walk);
    }

    #[test]
    fn anywhere_follows_out_of_root_links() {
        let (_top, path) = tree();
        let root = Root::open(&path, true).unwrap();
        assert_eq!(read(&root, "rel-out").as_deref(), Ok("outside"));
        assert_eq!(read(&root, "abs-out").as_deref(), Ok("outside"));
        assert!(read(&root, "fifo").is_err());
    }

    #[test]
    fn entries_are_read_from_the_handle() {
        let (_top, path) = tree();
        let root = Root::open(&path, false).unwrap();
        let Ok(Node::Directory(dir)) = root.open_node(Path::new("")) else { panic!("root is a directory") };
        let mut entries = Entries::new(dir).unwrap();
        let mut seen = Vec::new();
        while let Some((name, stat)) = entries.next_name(|name| (name.to_owned(), ())) {
            seen.push((name.to_string_lossy().into_owned(), entries.stat(&name).unwrap().kind, stat));
        }
        let kind_of = |n: &str| seen.iter().find(|(name, ..)| name == n).map(|(_, kind, _)| *kind);
        assert_eq!(kind_of("inside.txt"), Some(EntryKind::File));
        assert_eq!(kind_of("sub"), Some(EntryKind::Directory));
        assert_eq!(kind_of("rel-out"), Some(EntryKind::Symlink));
        assert_eq!(kind_of("fifo"), Some(EntryKind::Other));
        assert_eq!(kind_of("."), None);
    }
}
