//! Change notification for the worker caches: an inotify instance, watches
//! on open descriptors, reading its events without blocking, and the
//! worker's count of socket reads that tells a cache when it must read them.
//!
//! What a change *means* for a cache is `handlers::watches`', and for live
//! reload `handlers::live`'s (which watches whole folders, asking for
//! [`Notifier::watch_folder`] and reading [`Notifier::drain_events`], the
//! same events with what happened); this module only makes the system calls. Other systems than Linux get a notifier
//! that cannot be made, so their caches check each hit's metadata as before.

use std::cell::Cell;
use std::io;

thread_local! {
    /// Socket reads that returned request bytes on this thread (a worker).
    static REQUEST_READS: Cell<u64> = const { Cell::new(0) };
}

/// Counts one socket read that returned request bytes: any change
/// notification queued before those bytes arrived must be read before they
/// are answered from a cache. No system call, allocation or lock.
#[inline]
pub fn note_request_read() {
    REQUEST_READS.with(|reads| reads.set(reads.get().wrapping_add(1)));
}

/// How many socket reads this thread has counted so far.
#[inline]
pub fn request_reads() -> u64 {
    REQUEST_READS.with(Cell::get)
}

/// A watch's number, as the kernel gives it.
pub type WatchId = i32;

/// One change the notifier reports.
#[derive(Debug)]
pub enum Change<'a> {
    /// Something happened to the entry `name` of the watched directory.
    Entry(WatchId, &'a [u8]),
    /// Something happened to the watched file or directory itself (changed,
    /// moved, removed), or its watch is gone.
    Itself(WatchId),
    /// Events were lost: nothing watched can be trusted any more.
    Overflow,
}

/// What happened, for a reader that needs more than "something changed"
/// (live reload, `Notifier::drain_events`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    /// A name came into the watched folder (created, moved in).
    Appeared,
    /// A file opened for writing was closed: a save finished.
    Written,
    /// A name left the watched folder (removed, moved out).
    Vanished,
    /// The watched folder itself went (removed, moved) or its watch ended.
    WatchGone,
    /// Events were lost.
    Overflow,
}

/// One event of [`Notifier::drain_events`].
#[derive(Debug)]
pub struct Event<'a> {
    pub watch: WatchId,
    /// The entry's name within the watched folder; `None` for the folder itself.
    pub name: Option<&'a [u8]>,
    pub what: What,
    /// The entry is a folder.
    pub folder: bool,
}

#[cfg(target_os = "linux")]
mod imp {
    use super::{Change, Event, WatchId, What};
    use std::io;
    use std::mem::MaybeUninit;
    use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

    use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};

    /// Bytes read from the notifier per `read`: 4 KiB holds at least 15
    /// events of the longest names, usually ~100.
    const EVENT_BUFFER: usize = 4096;

    /// An inotify instance, non-blocking and closed on exec.
    #[derive(Debug)]
    pub struct Notifier {
        fd: OwnedFd,
    }

    /// `IN_EXCL_UNLINK`: an open but unlinked file's later events are not
    /// ours; its unlinking already was.
    fn directory_events() -> WatchFlags {
        WatchFlags::MODIFY
            | WatchFlags::ATTRIB
            | WatchFlags::CLOSE_WRITE
            | WatchFlags::CREATE
            | WatchFlags::DELETE
            | WatchFlags::MOVED_FROM
            | WatchFlags::MOVED_TO
            | WatchFlags::DELETE_SELF
            | WatchFlags::MOVE_SELF
            | WatchFlags::ONLYDIR
            | WatchFlags::EXCL_UNLINK
    }

    /// A served folder watched for live reload: a save (a file written and
    /// closed), a name coming or going. Not MODIFY, which a large write
    /// repeats for every block, nor ATTRIB (a `chmod` changes no page).
    fn folder_events() -> WatchFlags {
        WatchFlags::CLOSE_WRITE
            | WatchFlags::CREATE
            | WatchFlags::DELETE
            | WatchFlags::MOVED_FROM
            | WatchFlags::MOVED_TO
            | WatchFlags::DELETE_SELF
            | WatchFlags::MOVE_SELF
            | WatchFlags::ONLYDIR
            | WatchFlags::EXCL_UNLINK
    }

    /// On the file's own inode, so a write through another hard link (in a
    /// directory nobody watches) is seen too; a link count change is ATTRIB.
    fn file_events() -> WatchFlags {
        WatchFlags::MODIFY
            | WatchFlags::ATTRIB
            | WatchFlags::CLOSE_WRITE
            | WatchFlags::DELETE_SELF
            | WatchFlags::MOVE_SELF
    }

    impl Notifier {
        pub fn new() -> io::Result<Notifier> {
            Ok(Notifier { fd: inotify::init(CreateFlags::NONBLOCK | CreateFlags::CLOEXEC)? })
        }

        /// Watches the directory or file open as `fd` (an `O_PATH`
        /// descriptor will do). inotify takes a path, so the descriptor is
        /// named through `/proc/self/fd`, which names exactly that inode:
        /// no second resolution of the served path. ENOSPC when the user's
        /// `max_user_watches` is reached.
        pub fn watch(&self, fd: BorrowedFd<'_>, directory: bool) -> io::Result<WatchId> {
            self.add(fd, if directory { directory_events() } else { file_events() })
        }

        /// Watches the folder open as `fd` for live reload: saves, and
        /// names coming and going (read with [`Notifier::drain_events`]).
        pub fn watch_folder(&self, fd: BorrowedFd<'_>) -> io::Result<WatchId> {
            self.add(fd, folder_events())
        }

        fn add(&self, fd: BorrowedFd<'_>, flags: WatchFlags) -> io::Result<WatchId> {
            let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
            Ok(inotify::add_watch(&self.fd, path, flags)?)
        }

        /// The descriptor, to wait on it in a poll set (readable: events).
        pub fn raw_fd(&self) -> RawFd {
            self.fd.as_raw_fd()
        }

        /// Reads every queued event with what happened, without blocking;
        /// an error other than "nothing queued" is reported as an overflow.
        pub fn drain_events(&self, mut each: impl FnMut(Event<'_>)) {
            let mut buffer = [MaybeUninit::<u8>::uninit(); EVENT_BUFFER];
            let mut reader = inotify::Reader::new(self.fd.as_fd(), &mut buffer);
            loop {
                match reader.next() {
                    Ok(event) => {
                        let flags = event.events();
                        let what = if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
                            What::Overflow
                        } else if flags.intersects(ReadFlags::CREATE | ReadFlags::MOVED_TO) {
                            What::Appeared
                        } else if flags.contains(ReadFlags::CLOSE_WRITE) {
                            What::Written
                        } else if flags.intersects(ReadFlags::DELETE | ReadFlags::MOVED_FROM) {
                            What::Vanished
                        } else {
                            // DELETE_SELF, MOVE_SELF, IGNORED, UNMOUNT; and
                            // a cache watch's MODIFY or ATTRIB.
                            What::WatchGone
                        };
                        let name = event.file_name().map(|name| name.to_bytes());
                        each(Event { watch: event.wd(), name, what, folder: flags.contains(ReadFlags::ISDIR) });
                    }
                    Err(rustix::io::Errno::AGAIN) => return,
                    Err(rustix::io::Errno::INTR) => continue,
                    Err(_) => {
                        return each(Event { watch: -1, name: None, what: What::Overflow, folder: false });
                    }
                }
            }
        }

        /// Reads every queued event, without blocking. An error other than
        /// "nothing queued" is reported as an overflow: the caller then
        /// trusts nothing it watched.
        pub fn drain(&self, mut each: impl FnMut(Change<'_>)) {
            self.drain_events(|event| match (event.what, event.name) {
                (What::Overflow, _) => each(Change::Overflow),
                (_, Some(name)) => each(Change::Entry(event.watch, name)),
                (_, None) => each(Change::Itself(event.watch)),
            });
        }

        /// Stops watching; the kernel's IN_IGNORED for it may still follow.
        pub fn unwatch(&self, id: WatchId) {
            // EINVAL: the kernel removed it already (its inode is gone).
            let _ = inotify::remove_watch(&self.fd, id);
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::{Change, Event, WatchId};
    use std::io;
    use std::os::fd::{BorrowedFd, RawFd};

    /// No notifier here: every cache hit checks the file's metadata.
    #[derive(Debug)]
    pub struct Notifier(());

    impl Notifier {
        pub fn new() -> io::Result<Notifier> {
            Err(io::ErrorKind::Unsupported.into())
        }

        pub fn watch(&self, _: BorrowedFd<'_>, _: bool) -> io::Result<WatchId> {
            Err(io::ErrorKind::Unsupported.into())
        }

        pub fn watch_folder(&self, _: BorrowedFd<'_>) -> io::Result<WatchId> {
            Err(io::ErrorKind::Unsupported.into())
        }

        pub fn raw_fd(&self) -> RawFd {
            -1
        }

        pub fn drain_events(&self, _: impl FnMut(Event<'_>)) {}

        pub fn unwatch(&self, _: WatchId) {}

        pub fn drain(&self, _: impl FnMut(Change<'_>)) {}
    }
}

pub use imp::Notifier;

/// Whether an error of [`Notifier::watch`] means the watches ran out
/// (the user's `max_user_watches`), rather than this one path failing.
pub fn out_of_watches(error: &io::Error) -> bool {
    error.raw_os_error() == Some(libc::ENOSPC)
}
