//! Which cached paths are known unchanged without asking the file system:
//! inotify watches on every directory from the root to a cached file and
//! on the file itself, so a hit costs no file-system system call (before,
//! a `stat` of the path each time). lighttpd's stat cache does the same
//! with its `server.stat-cache-engine = "inotify"`.
//!
//! A path is watched only where it names a file through real directories
//! (`Root::trace`: no symlink on the way), with each watch placed before
//! the next name is looked up in it and the file's stamp taken after its
//! own watch: from then on, every change to what the path names (an edit,
//! a same-size rewrite, a chmod, a new link, the file or any directory on
//! the way renamed, removed or replaced, by a symlink too; a new
//! `.br`/`.zst`/`.gz` beside it) queues an event on one of these watches.
//! An event on a name drops every path at or below it and every path it
//! extends (its siblings' presence); an event on a watched inode itself
//! drops every path it stands for; a lost event (queue overflow, a read
//! error) drops everything. Dropped paths fall back to the caches' stamp
//! check at their next hit, or are read anew.
//!
//! **Why this is exactly as fresh as the stamp check.** fsnotify queues an
//! event synchronously inside the writer's system call (`write`,
//! `rename`, `unlink`, `chmod` …), before that call returns. So an edit
//! that completed before a request's bytes arrived is already queued when
//! the worker reads those bytes from the socket. Every socket read that
//! returns request bytes bumps a per-worker counter
//! (`sys::notify::note_request_read`, no system call); a cache that sees the
//! counter moved since it last read its events reads them (one `read` of the
//! inotify descriptor, normally answering EAGAIN) before it answers a hit.
//! Hence a hit never answers bytes that arrived after a change whose event
//! it has not processed. Requests answered from bytes already read (a
//! pipelined batch) cost nothing at all. Registering the descriptor in the
//! worker's epoll and draining it at the start of each batch, as the issue
//! sketched, would not be enough by itself: a socket read during a batch
//! may return bytes that arrived after that batch's `epoll_wait`, and after
//! an edit that the drain at its start could not have seen. Instead the
//! worker reads all the batch's sockets first and answers afterwards
//! (`Worker::drive_batch`), so the one `read` happens after the last byte
//! it must account for: one per poll batch rather than one per request.
//!
//! **What inotify cannot see, and the bound on it.** No event comes for
//! writes through a shared `mmap` (the kernel updates the file's times at
//! the write fault, silently), for a file system mounted over a served
//! folder or a file bind-mounted over a served file (the path now leads to
//! other inodes, the watched ones are untouched), for an overlay's upper or
//! lower layer written directly, or for changes made on another machine to
//! a network file system. So a watch vouches for a path only for
//! `FileOptions::cache_recheck` (1 s) after the path was last verified; the
//! first hit after that checks the stamp through the path once (the same
//! resolution as a fresh open, so a mount over any directory on the way is
//! seen: another device or inode) and renews the trust. The time compared
//! is [`Watches::now`], read when the events are read, after the request's
//! bytes arrived: so a request that arrives more than `cache_recheck` after
//! such a change is answered from a check made after it. What no metadata
//! shows at all (a tmpfs updates a shared mapping's times only at the first
//! write after it was made writable; data a network file system changed
//! behind the client's attribute cache) no stat can see either: serve such
//! a root with `cache_bytes` set to 0.
//!
//! Watches are bounded by `FileOptions::cache_watches` per worker and
//! folder (and by the kernel's per-user `max_user_watches`, ENOSPC): a path
//! that finds none left is simply not watched, and its entries keep the
//! per-hit stamp check. A file entry's eviction gives its watches back.

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::sys::fs::{Root, Stamp};
use crate::sys::notify::{self, Change, Notifier, WatchId};

/// One watched inode and the paths (relative to the root) it stands for:
/// a directory on the way to cached files, or a cached file.
#[derive(Debug)]
struct Watch {
    paths: Vec<PathBuf>,
    /// Watched paths that hold this watch.
    users: usize,
}

/// A path whose file, and every directory on its way, is watched.
#[derive(Debug)]
struct Watched {
    /// Distinguishes this watching from an earlier one of the same path,
    /// so an entry validated under that earlier one is not confirmed.
    serial: u64,
    /// The file as it was when its watch was placed.
    stamp: Stamp,
    watches: Vec<WatchId>,
}

/// One worker's watches for one folder's caches.
#[derive(Debug)]
pub struct Watches {
    /// `None` where inotify is missing or `cache_watches` is 0.
    notifier: Option<Notifier>,
    limit: usize,
    watches: HashMap<WatchId, Watch>,
    paths: HashMap<PathBuf, Watched>,
    next_serial: u64,
    /// `notify::request_reads()` when the events were last read.
    read_at: u64,
    /// The kernel refused a watch (ENOSPC) since one was last given back.
    exhausted: bool,
    /// How long a verified path is trusted on its watch alone
    /// (`FileOptions::cache_recheck`).
    recheck: Duration,
    /// The clock when the events were last read for new request bytes, or
    /// a path was last watched: never earlier than the arrival of the bytes
    /// a hit now answers.
    now: Instant,
}

impl Watches {
    /// Watches for one worker's caches, at most `limit` of them; none at
    /// all if `limit` is 0 or the system has no inotify. A watch alone
    /// vouches for nothing until [`Watches::with_recheck`] says how long.
    pub fn new(limit: usize) -> Watches {
        let notifier = if limit > 0 { Notifier::new().ok() } else { None };
        Watches {
            notifier,
            limit,
            watches: HashMap::new(),
            paths: HashMap::new(),
            next_serial: 1,
            read_at: notify::request_reads(),
            exhausted: false,
            recheck: Duration::ZERO,
            now: Instant::now(),
        }
    }

    /// The same watches, a verified path trusted on its watch alone for
    /// `recheck` (`FileOptions::cache_recheck`; see the module comment).
    pub fn with_recheck(mut self, recheck: Duration) -> Watches {
        self.recheck = recheck;
        self
    }

    /// The time a hit compares with the trust its path was given: when the
    /// events were last read (see [`Watches::catch_up`]).
    #[inline]
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Until when a path verified at `verified` (a [`Watches::now`]) is
    /// trusted on its watch alone.
    pub fn trusted_from(&self, verified: Instant) -> Instant {
        verified.checked_add(self.recheck).unwrap_or(verified)
    }

    /// Until when a path verified now is trusted on its watch alone.
    pub fn trusted_until(&self) -> Instant {
        self.trusted_from(self.now)
    }

    /// Whether `path` is still watched under `serial`, the watching it was
    /// validated under. Call [`Watches::catch_up`] first.
    #[inline]
    pub fn confirms(&self, path: &Path, serial: Option<u64>) -> bool {
        serial.is_some() && self.paths.get(path).map(|w| w.serial) == serial
    }

    /// The serial under which `path` is watched now, if it is.
    pub fn current(&self, path: &Path) -> Option<u64> {
        self.paths.get(path).map(|w| w.serial)
    }

    /// The serial of the watching under which a file of `stamp` at `path`
    /// is known current, starting one if there is none and watches are
    /// left. `None`: not watched; the caller checks stamps at each hit.
    pub fn watch(&mut self, root: &Root, path: &Path, stamp: Stamp) -> Option<u64> {
        let notifier = self.notifier.as_ref()?;
        if let Some(watched) = self.paths.get(path) {
            if watched.stamp == stamp {
                return Some(watched.serial);
            }
            // A version the watch has not reported yet (read it first) or
            // an older one: trust neither.
            return None;
        }
        if self.exhausted || self.watches.len() >= self.limit {
            return None;
        }
        // The stamp below is taken after this: trust counts from here.
        self.now = Instant::now();
        let mut placed = Vec::new();
        let mut prefix = PathBuf::new();
        let mut depth = 0usize;
        let limit = self.limit;
        let watches = &mut self.watches;
        let mut out_of_watches = false;
        let traced = root.trace(path, |fd, directory| {
            if watches.len() >= limit {
                return Err(std::io::ErrorKind::OutOfMemory.into());
            }
            let id = notifier.watch(fd, directory).inspect_err(|e| out_of_watches = notify::out_of_watches(e))?;
            // The path this inode is reached by: the root, each directory, the file.
            if depth > 0 {
                let component = path.components().nth(depth - 1).map_or(Path::new(""), |c| Path::new(c.as_os_str()));
                prefix.push(component);
            }
            depth += 1;
            let watch = watches.entry(id).or_insert_with(|| Watch { paths: Vec::new(), users: 0 });
            if !watch.paths.contains(&prefix) {
                watch.paths.push(prefix.clone());
            }
            watch.users += 1;
            placed.push(id);
            Ok(())
        });
        self.exhausted |= out_of_watches;
        match traced {
            Ok(now) if now == stamp => {
                let serial = self.next_serial;
                self.next_serial += 1;
                self.paths.insert(path.to_path_buf(), Watched { serial, stamp, watches: placed });
                Some(serial)
            }
            // Changed since it was read, not watchable, or out of watches.
            _ => {
                self.release(&placed);
                None
            }
        }
    }

    /// Throws the queued events away unread, as if the changes they report
    /// had made none (for tests of what inotify cannot see).
    #[cfg(test)]
    pub fn discard_events(&self) {
        if let Some(notifier) = &self.notifier {
            notifier.drain(|_| {});
        }
    }

    /// Watches placed now (for tests).
    #[cfg(test)]
    pub fn watch_count(&self) -> usize {
        self.watches.len()
    }

    /// Stops watching `path` (its file entry left the cache).
    pub fn forget(&mut self, path: &Path) {
        if let Some(watched) = self.paths.remove(path) {
            self.release(&watched.watches);
        }
    }

    fn release(&mut self, ids: &[WatchId]) {
        for id in ids {
            let Some(watch) = self.watches.get_mut(id) else { continue };
            watch.users -= 1;
            if watch.users == 0 {
                self.watches.remove(id);
                if let Some(notifier) = &self.notifier {
                    notifier.unwatch(*id);
                }
                self.exhausted = false;
            }
        }
    }

    /// Reads the queued events if request bytes were read since the last
    /// time, and calls `stale` with each watched path they drop (after
    /// dropping it here); the clock too ([`Watches::now`]). Without new
    /// request bytes, or with nothing watched: no system call.
    #[inline]
    pub fn catch_up(&mut self, stale: impl FnMut(&Path)) {
        let reads = notify::request_reads();
        if reads == self.read_at || self.paths.is_empty() {
            self.read_at = reads;
            return;
        }
        self.read_at = reads;
        self.read_events(stale);
    }

    #[cold]
    fn read_events(&mut self, mut stale: impl FnMut(&Path)) {
        let Some(notifier) = &self.notifier else { return };
        // After the socket reads it must account for (a vDSO call, no
        // system call): see the module comment.
        self.now = Instant::now();
        // Changed names, gathered first: the events borrow the notifier.
        let mut changed: Vec<PathBuf> = Vec::new();
        let mut everything = false;
        notifier.drain(|change| match change {
            Change::Overflow => everything = true,
            Change::Entry(id, name) => {
                let name = Path::new(std::ffi::OsStr::from_bytes(name));
                if let Some(watch) = self.watches.get(&id) {
                    changed.extend(watch.paths.iter().map(|p| p.join(name)));
                }
            }
            Change::Itself(id) => {
                if let Some(watch) = self.watches.get(&id) {
                    changed.extend(watch.paths.iter().cloned());
                }
            }
        });
        if everything {
            let all: Vec<PathBuf> = self.paths.keys().cloned().collect();
            // A fresh instance: the old one's queue cannot be trusted, and
            // closing it removes all its watches at once.
            self.notifier = Notifier::new().ok();
            self.watches.clear();
            self.paths.clear();
            self.exhausted = false;
            all.iter().for_each(|path| stale(path));
            return;
        }
        if changed.is_empty() {
            return;
        }
        let dropped: Vec<PathBuf> =
            self.paths.keys().filter(|path| changed.iter().any(|name| affects(name, path))).cloned().collect();
        for path in &dropped {
            self.forget(path);
            stale(path);
        }
    }
}

/// Whether a change to the entry `changed` (relative to the root) may
/// change what `path` names: `changed` is `path` or a directory on its
/// way, or extends its name (`a.css.gz` for `a.css`: a sibling appeared or
/// went). Coarse in the safe direction (`a.cssx` drops `a.css` too).
fn affects(changed: &Path, path: &Path) -> bool {
    path.starts_with(changed) || changed.as_os_str().as_bytes().starts_with(path.as_os_str().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(changed: &str, path: &str, expected: bool) {
        assert_eq!(affects(Path::new(changed), Path::new(path)), expected, "{changed} changes {path}?");
    }

    #[test]
    fn which_changes_affect_a_path() {
        case("a.css", "a.css", true);
        case("a.css.gz", "a.css", true);
        case("a.css.br", "a.css", true);
        case("d", "d/e/f.txt", true);
        case("d/e", "d/e/f.txt", true);
        case("d/e/f.txt.zst", "d/e/f.txt", true);
        // The root itself (its own attributes, or it moved).
        case("", "d/f.txt", true);
        case("b.css", "a.css", false);
        case("d/g", "d/e/f.txt", false);
        case("dd", "d/f.txt", false);
        case("e/f.txt", "d/f.txt", false);
        // Coarse, never wrong: a longer name in the same directory.
        case("a.cssx", "a.css", true);
    }
}
