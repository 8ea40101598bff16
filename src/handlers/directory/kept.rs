//! The listings a worker keeps: rendered pages per folder and view,
//! answered from memory while inotify watches on the folder, its way from
//! the root and its listed subfolders say nothing shown can have changed,
//! and for at most `cache_recheck` (see `directory`'s module comment for
//! why a kept page is as fresh as a new read). Bounded in bytes per
//! folder ([`KEPT_LISTING_BYTES`]); reading and rendering are `directory`'s.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::handlers::listing::View;
use crate::handlers::watches::Watches;
use crate::sys::fs::{Root, Stamp};

/// Rendered pages one worker keeps per folder: a few views of a
/// 10,000-entry directory (~0.9 MiB of HTML each), or many small ones.
pub const KEPT_LISTING_BYTES: usize = 4 << 20;

/// A kept listing's key: the directory, the request path it was listed
/// under (breadcrumbs and tag differ by it) and the view.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct PageKey {
    pub(super) path: PathBuf,
    pub(super) request_path: String,
    pub(super) view: View,
}

/// A rendered listing and its validators, kept while nothing it shows
/// can have changed.
#[derive(Debug)]
pub(super) struct KeptPage {
    pub(super) body: Arc<[u8]>,
    pub(super) etag: String,
    /// When its watches alone stop vouching for it (`cache_recheck`).
    until: Instant,
    /// The watched paths (below the root) whose change drops the page: the
    /// directory and its listed subdirectories.
    depends: Vec<PathBuf>,
}

impl KeptPage {
    /// A page to keep, trusted on its watches until `until`; what it
    /// depends on is added when it is kept.
    pub(super) fn new(body: Arc<[u8]>, etag: String, until: Instant) -> KeptPage {
        KeptPage { body, etag, until, depends: Vec::new() }
    }
}

/// One worker's kept listings for one folder. Shared with the worker's
/// listings in progress (which keep their page when done), never between
/// workers, so the lock is never contended; a lock rather than a `RefCell`
/// because a connection's work must be `Send`.
#[derive(Debug, Clone)]
pub struct KeptListings(Arc<Mutex<Kept>>);

/// What [`KeptListings`] holds.
#[derive(Debug)]
pub(super) struct Kept {
    pages: HashMap<PageKey, KeptPage>,
    /// Bytes of the kept bodies, at most [`KEPT_LISTING_BYTES`].
    bytes: usize,
    pub(super) watches: Watches,
}

/// What a request finds kept for its page.
pub(super) enum Found<'k> {
    /// A page its watches vouch for.
    Current(&'k KeptPage),
    /// A page kept past its interval, taken out to be checked by a new read.
    Due(KeptPage),
    Missing,
}

impl KeptListings {
    /// Kept listings watched by up to `watches` inotify watches
    /// (`FileOptions::cache_watches`; 0 keeps none), each page trusted on
    /// its watches for `recheck` (`FileOptions::cache_recheck`).
    pub fn new(watches: usize, recheck: Duration) -> KeptListings {
        let watches = Watches::new(watches).with_recheck(recheck);
        let kept = Kept { pages: HashMap::new(), bytes: 0, watches };
        KeptListings(Arc::new(Mutex::new(kept)))
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        // A panic while holding it leaves nothing half-done that a hit
        // could read: every change below completes before the next line.
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Pages kept now (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().pages.len()
    }
}

impl Kept {
    /// Drops the pages change events say are stale: no system call
    /// unless request bytes were read since the last time.
    fn catch_up(&mut self) {
        let Kept { pages, bytes, watches } = self;
        let mut dropped = Vec::new();
        watches.catch_up(|path| {
            pages.retain(|_, page| {
                let stale = page.depends.iter().any(|d| d == path);
                if stale {
                    *bytes -= page.body.len();
                    dropped.push(std::mem::take(&mut page.depends));
                }
                !stale
            });
        });
        for depends in dropped {
            self.forget_unused(&depends);
        }
    }

    pub(super) fn get(&mut self, key: &PageKey) -> Found<'_> {
        self.catch_up();
        let now = self.watches.now();
        match self.pages.get(key) {
            None => Found::Missing,
            Some(page) if now >= page.until => {
                let Some(page) = self.pages.remove(key) else { return Found::Missing };
                self.bytes -= page.body.len();
                self.forget_unused(&page.depends);
                Found::Due(page)
            }
            // Looked up again: the borrow checker cannot yet return the
            // first lookup's reference from one arm only.
            Some(_) => self.pages.get(key).map_or(Found::Missing, Found::Current),
        }
    }

    /// Keeps `page` if its directory is still watched under `watched` and
    /// each of `subdirectories` can be watched as it was read.
    pub(super) fn keep(
        &mut self,
        root: &Root,
        key: PageKey,
        mut page: KeptPage,
        watched: u64,
        subdirectories: Vec<(PathBuf, Stamp)>,
    ) {
        self.catch_up();
        if page.body.len() > KEPT_LISTING_BYTES || !self.watches.confirms(&key.path, Some(watched)) {
            return;
        }
        page.depends.push(key.path.clone());
        for (path, stamp) in subdirectories {
            let placed = self.watches.watch(root, &path, stamp).is_some();
            page.depends.push(path);
            if !placed {
                // Changed since it was read, or out of watches.
                self.forget_unused(&page.depends);
                return;
            }
        }
        if let Some(old) = self.pages.remove(&key) {
            self.bytes -= old.body.len();
            self.forget_unused(&old.depends);
        }
        // Evict arbitrary pages (HashMap order) until the new one fits, as
        // the file cache does.
        while self.bytes + page.body.len() > KEPT_LISTING_BYTES {
            let Some(victim) = self.pages.keys().next().cloned() else { break };
            if let Some(old) = self.pages.remove(&victim) {
                self.bytes -= old.body.len();
                self.forget_unused(&old.depends);
            }
        }
        self.bytes += page.body.len();
        self.pages.insert(key, page);
    }

    /// Gives back the watches of `paths` that no kept page depends on.
    pub(super) fn forget_unused(&mut self, paths: &[PathBuf]) {
        for path in paths {
            if !self.pages.values().any(|page| page.depends.contains(path)) {
                self.watches.forget(path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::notify;
    use std::fs;
    use std::path::Path;

    /// Longer than any test takes: watches alone vouch for pages.
    const RECHECK: Duration = Duration::from_secs(3600);

    fn key(path: &str) -> PageKey {
        PageKey { path: PathBuf::from(path), request_path: format!("/{path}/"), view: View::default() }
    }

    fn page(body: &[u8]) -> KeptPage {
        KeptPage { body: Arc::from(body), etag: "\"t\"".into(), until: far(), depends: Vec::new() }
    }

    fn far() -> Instant {
        Instant::now() + RECHECK
    }

    /// Keeps a page for `dir` (and its `subdirectories`) as a listing would:
    /// the directory watched first.
    fn kept(kept: &mut Kept, root: &Root, dir: &str, subdirectories: &[&str], body: &[u8]) {
        let stamp = root.stamp(Path::new(dir)).expect("stamp");
        let watched = kept.watches.watch(root, Path::new(dir), stamp).expect("watched");
        let subdirectories =
            subdirectories.iter().map(|s| (PathBuf::from(s), root.stamp(Path::new(s)).expect("stamp"))).collect();
        kept.keep(root, key(dir), page(body), watched, subdirectories);
    }

    #[test]
    fn a_kept_page_goes_with_the_first_change_to_its_folder_or_subfolders() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("d/sub")).unwrap();
        let root = Root::open(dir.path(), false).unwrap();
        let listings = KeptListings::new(16, RECHECK);
        let mut kept_listings = listings.lock();
        let kept_now = |k: &mut Kept| matches!(k.get(&key("d")), Found::Current(_));
        kept(&mut kept_listings, &root, "d", &["d/sub"], b"page");
        assert!(kept_now(&mut kept_listings));
        // A change in the folder, seen once request bytes were read.
        fs::write(dir.path().join("d/new"), b"x").unwrap();
        notify::note_request_read();
        assert!(!kept_now(&mut kept_listings));
        assert_eq!(kept_listings.watches.watch_count(), 0, "its watches went back");
        // A change in a subfolder.
        kept(&mut kept_listings, &root, "d", &["d/sub"], b"page");
        assert!(kept_now(&mut kept_listings));
        fs::write(dir.path().join("d/sub/inner"), b"x").unwrap();
        notify::note_request_read();
        assert!(!kept_now(&mut kept_listings));
        // A subfolder changed between its reading and its watch: not kept.
        let stamp = root.stamp(Path::new("d")).unwrap();
        let watched = kept_listings.watches.watch(&root, Path::new("d"), stamp).unwrap();
        let sub = root.stamp(Path::new("d/sub")).unwrap();
        fs::write(dir.path().join("d/sub/later"), b"x").unwrap();
        let subdirectories = vec![(PathBuf::from("d/sub"), sub)];
        kept_listings.keep(&root, key("d"), page(b"page"), watched, subdirectories);
        assert!(!kept_now(&mut kept_listings));
    }

    #[test]
    fn a_page_past_its_interval_is_taken_out_to_be_read_again() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("d")).unwrap();
        let root = Root::open(dir.path(), false).unwrap();
        let listings = KeptListings::new(16, RECHECK);
        let mut kept_listings = listings.lock();
        kept(&mut kept_listings, &root, "d", &[], b"page");
        assert!(matches!(kept_listings.get(&key("d")), Found::Current(_)));
        // Its interval over (as if kept long ago): handed back once, for
        // the caller to compare with a new read, and no longer kept.
        kept_listings.pages.get_mut(&key("d")).expect("kept").until = kept_listings.watches.now();
        match kept_listings.get(&key("d")) {
            Found::Due(page) => assert_eq!(&*page.body, b"page"),
            _ => panic!("a page past its interval is due"),
        }
        assert!(matches!(kept_listings.get(&key("d")), Found::Missing));
        assert_eq!((kept_listings.bytes, kept_listings.watches.watch_count()), (0, 0), "its bytes and watches went");
    }

    #[test]
    fn kept_pages_stay_within_their_byte_limit_and_need_watches() {
        let dir = tempfile::tempdir().unwrap();
        for d in ["a", "b", "c", "d"] {
            fs::create_dir(dir.path().join(d)).unwrap();
        }
        let root = Root::open(dir.path(), false).unwrap();
        let listings = KeptListings::new(16, RECHECK);
        let third = vec![0u8; KEPT_LISTING_BYTES / 3 + 1];
        for d in ["a", "b", "c"] {
            kept(&mut listings.lock(), &root, d, &[], &third);
        }
        assert_eq!(listings.len(), 2, "two thirds and a bit fit, not three");
        assert!(listings.lock().bytes <= KEPT_LISTING_BYTES);
        kept(&mut listings.lock(), &root, "d", &[], &vec![0u8; KEPT_LISTING_BYTES + 1]);
        assert!(matches!(listings.lock().get(&key("d")), Found::Missing), "larger than the limit");
        // No watches, nothing kept.
        let unwatched = KeptListings::new(0, RECHECK);
        let stamp = root.stamp(Path::new("a")).unwrap();
        assert_eq!(unwatched.lock().watches.watch(&root, Path::new("a"), stamp), None);
    }
}
