//! The thread that watches a served folder for live reload: one inotify
//! instance with a watch on every folder under the root (hidden ones
//! left out, at most [`MAX_FOLDERS`]), its events gathered into bursts
//! (`changes::Burst`) and each burst, once the folder has been quiet for
//! [`QUIET`] (longer for a long burst: [`MAX_QUIET`]), published to the
//! [`Feed`], which wakes the workers.
//!
//! One thread for the whole server rather than an inotify instance per
//! worker: the watches are kernel memory (about 1 KiB each, counted
//! against the user's `max_user_watches`, which the caches' watches share),
//! and a worker would watch the same tree again; the debounce needs a
//! timer of its own (a worker's poll ticks every 100 ms); and a save costs
//! one read of the events, not one per worker. The thread only sleeps in
//! `epoll_wait`, takes the feed's lock for a moment per burst, and ends
//! when the folder's handler is dropped (the server stops).

use std::collections::HashMap;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};

use super::changes::Burst;
use super::feed::Feed;
use crate::sys::notify::{Notifier, WatchId, What};

/// How long the folder must stay quiet before a burst of events is
/// published as one change. An editor's save (write a temporary, rename
/// it over the file; or rename to a backup, write, remove the backup) is
/// a few system calls in a row, well under a millisecond apart, so 30 ms
/// merges it, and a `git checkout` or a build writing files one after
/// another, whatever its length; while a page hears a save about 30 ms
/// after it (bench/live-reload: p50 of rename to event).
pub const QUIET: Duration = Duration::from_millis(30);
/// Longest quiet a burst waits for. A burst that has lasted a while (a
/// script saving fifty times, a slow build, an editor saving many files)
/// waits for as long a quiet as it has lasted, between [`QUIET`] and this,
/// so a pause in it (the saving process descheduled on a busy machine)
/// does not split it into two reloads; a single save keeps its 30 ms.
const MAX_QUIET: Duration = Duration::from_millis(250);
/// Longest a burst is held when the folder never goes quiet (a build
/// writing for seconds): the pages hear about it at least this often.
const MAX_WAIT: Duration = Duration::from_secs(1);
/// Most folders watched under one root. Each watch costs the kernel about
/// 1 KiB and counts against the user's `max_user_watches` (8,192 on older
/// kernels); a site has far fewer folders, and past this the others' changes
/// are not seen (said once in the log).
pub const MAX_FOLDERS: usize = 4096;

const NOTIFIER: Token = Token(0);
const STOP: Token = Token(1);

/// The watching thread of one folder; dropping it stops the thread.
#[derive(Debug)]
pub struct Watcher {
    stop: Arc<Waker>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Watches every folder under `root` (done before this returns, so a
    /// change right after it is seen) and starts the thread that publishes
    /// their changes to `feed`. Fails where there is no inotify, or the
    /// root cannot be watched.
    pub fn start(root: &Path, feed: Arc<Feed>) -> io::Result<Watcher> {
        let mut tree = Tree::new(root.to_path_buf())?;
        tree.add(Path::new(""));
        if tree.folders.is_empty() {
            return Err(io::Error::other("the folder cannot be watched"));
        }
        let poll = Poll::new()?;
        poll.registry().register(&mut SourceFd(&tree.notifier.raw_fd()), NOTIFIER, Interest::READABLE)?;
        let stop = Arc::new(Waker::new(poll.registry(), STOP)?);
        let thread =
            std::thread::Builder::new().name("rawserve-live-reload".into()).spawn(move || run(poll, tree, &feed))?;
        Ok(Watcher { stop, thread: Some(thread) })
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.stop.wake();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                log::warn!("live reload: the watching thread panicked");
            }
        }
    }
}

/// Waits for events, gathers them into bursts, publishes each burst once
/// the folder is quiet; returns when told to stop.
fn run(mut poll: Poll, mut tree: Tree, feed: &Feed) {
    let mut events = Events::with_capacity(8);
    let mut burst = Burst::default();
    // When the current burst began and last grew.
    let mut pending: Option<(Instant, Instant)> = None;
    loop {
        let timeout = pending.map(|(first, last)| due(first, last).saturating_duration_since(Instant::now()));
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            log::error!("live reload: cannot wait for changes, no longer watching: {e}");
            return;
        }
        if events.iter().any(|event| event.token() == STOP) {
            return;
        }
        let now = Instant::now();
        if tree.read(&mut burst, &poll) {
            pending = Some(pending.map_or((now, now), |(first, _)| (first, now)));
        }
        if let Some((first, last)) = pending {
            if now >= due(first, last) {
                pending = None;
                if let Some(change) = burst.finish() {
                    log::debug!("live reload: {change:?}");
                    feed.publish(change);
                }
            }
        }
    }
}

/// When a burst that began at `first` and last grew at `last` is
/// published: after a quiet as long as it has lasted (at least [`QUIET`],
/// at most [`MAX_QUIET`]), and at the latest [`MAX_WAIT`] after it began.
fn due(first: Instant, last: Instant) -> Instant {
    let quiet = last.duration_since(first).clamp(QUIET, MAX_QUIET);
    (last + quiet).min(first + MAX_WAIT)
}

/// The watched folders of one root.
struct Tree {
    root: PathBuf,
    notifier: Notifier,
    /// Each watch's folder, relative to the root.
    folders: HashMap<WatchId, PathBuf>,
    /// `MAX_FOLDERS` was reached (and said).
    full: bool,
}

impl Tree {
    fn new(root: PathBuf) -> io::Result<Tree> {
        Ok(Tree { root, notifier: Notifier::new()?, folders: HashMap::new(), full: false })
    }

    /// Watches `folder` (relative to the root) and every folder below it
    /// that is not hidden and not reached through a symlink.
    fn add(&mut self, folder: &Path) {
        let mut stack = vec![folder.to_path_buf()];
        while let Some(folder) = stack.pop() {
            if self.folders.len() >= MAX_FOLDERS {
                if !self.full {
                    self.full = true;
                    log::warn!(
                        "live reload: {} has more than {MAX_FOLDERS} folders; changes in the others are not seen",
                        self.root.display()
                    );
                }
                return;
            }
            let full = self.root.join(&folder);
            // Opened before it is listed, so nothing created meanwhile is missed.
            let watched = std::fs::File::open(&full).and_then(|dir| self.notifier.watch_folder(dir.as_fd()));
            match watched {
                Ok(id) => {
                    self.folders.insert(id, folder.clone());
                }
                Err(e) => {
                    log::debug!("live reload: cannot watch {}: {e}", full.display());
                    continue;
                }
            }
            let Ok(entries) = std::fs::read_dir(&full) else { continue };
            for entry in entries.flatten() {
                let hidden = entry.file_name().as_bytes().starts_with(b".");
                // `file_type` does not follow symlinks: a link to a folder is not walked.
                if !hidden && entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                    stack.push(folder.join(entry.file_name()));
                }
            }
        }
    }

    /// Reads the queued events into `burst`, watching folders that
    /// appeared; whether anything was noted.
    fn read(&mut self, burst: &mut Burst, poll: &Poll) -> bool {
        let mut noted = false;
        let mut appeared: Vec<PathBuf> = Vec::new();
        let mut gone: Vec<WatchId> = Vec::new();
        let mut overflow = false;
        let folders = &self.folders;
        self.notifier.drain_events(|event| match (event.what, event.name) {
            (What::Overflow, _) => overflow = true,
            (What::WatchGone, _) | (_, None) => gone.push(event.watch),
            (what, Some(name)) => {
                let Some(folder) = folders.get(&event.watch) else { return };
                let path = folder.join(std::ffi::OsStr::from_bytes(name));
                burst.note(path.as_os_str().as_bytes(), what);
                noted = true;
                if event.folder && what == What::Appeared {
                    appeared.push(path);
                }
            }
        });
        if overflow {
            // Events were lost: watch everything anew, and reload the pages.
            log::info!("live reload: change events were lost; watching {} anew", self.root.display());
            let _ = poll.registry().deregister(&mut SourceFd(&self.notifier.raw_fd()));
            match Tree::new(self.root.clone()) {
                Ok(fresh) => *self = fresh,
                Err(e) => log::warn!("live reload: cannot watch anew: {e}"),
            }
            self.add(Path::new(""));
            let _ = poll.registry().register(&mut SourceFd(&self.notifier.raw_fd()), NOTIFIER, Interest::READABLE);
            burst.note(b"", What::Written);
            return true;
        }
        for id in gone {
            if self.folders.remove(&id).is_some() {
                self.notifier.unwatch(id);
                self.full = false;
            }
        }
        for folder in appeared {
            if !super::changes::ignored(folder.as_os_str().as_bytes()) {
                self.add(&folder);
            }
        }
        noted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(lasted_ms: u64, due_after_last_ms: u64) {
        let first = Instant::now();
        let last = first + Duration::from_millis(lasted_ms);
        assert_eq!(due(first, last), last + Duration::from_millis(due_after_last_ms), "a burst of {lasted_ms} ms");
    }

    #[test]
    fn a_burst_waits_for_a_quiet_as_long_as_itself() {
        case(0, 30);
        case(10, 30);
        case(30, 30);
        case(100, 100);
        case(250, 250);
        case(500, 250);
        // Never past a second after it began.
        case(900, 100);
        case(1000, 0);
    }
}
