//! A worker-local cache of small files: their bytes and their pre-rendered
//! header lines, so a hot small file costs no file-system system call
//! instead of open + fstat + sendfile + close.
//!
//! A watched entry (see `watches`: inotify on the file and every directory
//! on its way) is current as long as no event has dropped its path, which
//! a hit learns without asking the file system, for at most
//! `FileOptions::cache_recheck` after it was last verified: past that, the
//! hit checks the stamp once more (what inotify cannot see, such as writes
//! through a shared mapping or a mount over the path, is seen so within
//! that bound) and trusts the watch for as long again. Every other hit
//! revalidates against what the path names *now*: `Root::stamp`
//! resolves it again beneath the root handle by the same rules as a fresh
//! open (one `fstatat` for a name directly in the root, else
//! `openat2(O_PATH, RESOLVE_BENEATH)` + `fstat`), and its device, inode,
//! size, modification and change times must equal what was cached. So an
//! edited, replaced or removed file misses, and so does a path that a
//! swapped symlink or a moved directory now leads out of the root. Files
//! changed too recently for their timestamps to prove anything are never
//! cached: `files` checks `validators::is_racy` before inserting. Which files
//! qualify, and what the headers say, is decided by `files`; each worker
//! owns one cache, so there is no locking. Keys are paths relative to the
//! root.
//!
//! **Admission.** A working set far larger than the cache (100,000 files
//! against room for a few thousand) would otherwise insert, evict and
//! watch on nearly every request and hit almost never. So while the cache
//! has room a file is cached at its first miss, but once caching it would
//! evict another, only at its second miss within a recent window
//! ([`doorkeeper`], the doorkeeper of TinyLFU): a file asked for once
//! costs no cache bookkeeping and evicts nothing. And an entry is watched
//! only at its first hit, so one evicted unhit never cost a watch: that
//! hit checks the stamp as an unwatched hit always does, then places the
//! watches; only later hits are free.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::Metadata;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod doorkeeper;

use super::compress::{CompressedCache, Kept};
use super::described::Described;
use super::watches::Watches;
use crate::http::encoding::{Coding, CodingSet, COMPRESSED};
use crate::sys::fs::{Root, Stamp};
use doorkeeper::Doorkeeper;

/// How a hit learns that an entry is still what its path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proof {
    /// Not hit since it was cached: the first hit checks the stamp, then
    /// tries to watch the path (so an entry evicted unhit never cost a watch).
    Unhit,
    /// Watched (`Watches::watch`) under `serial`: current while it is in
    /// the cache (an event takes it out) until `until`, when a hit checks
    /// the stamp and renews it (`FileOptions::cache_recheck`).
    Watched { serial: u64, until: Instant },
    /// Not watchable (a symlink on the way, out of watches): every hit
    /// checks the stamp.
    Stamp,
}

/// A cached file: its bytes and how they are described.
#[derive(Debug)]
pub struct Entry {
    stamp: Stamp,
    proof: Proof,
    pub body: Arc<[u8]>,
    pub described: Described,
}

/// The hasher of the path-keyed maps: foldhash, seeded at random per
/// process. A hit looks its path up twice; with std's SipHash that cost
/// ~190 instructions a lookup for a short path (callgrind), several times
/// foldhash's. The keys of `entries` are files that exist beneath the root,
/// so a client cannot fill the map with colliding paths.
type PathHasher = foldhash::fast::RandomState;

/// Which of `file.br` / `file.zst` / `file.gz` exist, as of the directory's stamp.
#[derive(Debug, Clone, Copy)]
struct Siblings {
    dir: Stamp,
    /// The watching of the file's path under which `present` was looked up.
    watched: Option<u64>,
    /// When the watch alone stops vouching for `present` (see `Proof::Watched`).
    until: Instant,
    present: CodingSet,
}

#[derive(Debug)]
pub struct FileCache {
    /// Keyed by the path's bytes: `safe_path` gives normalised paths, so
    /// equal bytes are equal paths, and hashing bytes costs a fifth of
    /// hashing a `Path` (which parses its components).
    entries: HashMap<Box<[u8]>, Entry, PathHasher>,
    siblings: HashMap<PathBuf, Siblings, PathHasher>,
    bytes: usize,
    limit_bytes: usize,
    max_file: u64,
    /// This worker's compressed bytes (`handlers::compress`).
    compressed: CompressedCache,
    /// What saves the hits above their stamp check; boxed, as it is
    /// large and a worker's router holds its handlers by value.
    watches: Box<Watches>,
    /// Paths that missed lately: once full, only a second miss is cached.
    /// Boxed, like `watches`.
    doorkeeper: Box<Doorkeeper>,
}

/// A path's key in `FileCache::entries`.
fn key(path: &Path) -> &[u8] {
    path.as_os_str().as_bytes()
}

/// Most sibling lookups remembered; they are tiny, this only bounds a scan
/// of many distinct paths.
const MAX_SIBLING_ENTRIES: usize = 4096;

impl FileCache {
    /// A cache holding at most `limit_bytes` of file data, of files of at
    /// most `max_file` bytes each. A zero limit disables it.
    pub fn new(limit_bytes: usize, max_file: u64) -> FileCache {
        FileCache {
            entries: HashMap::default(),
            siblings: HashMap::default(),
            bytes: 0,
            limit_bytes,
            max_file: max_file.min(limit_bytes as u64),
            compressed: CompressedCache::new(0),
            watches: Box::new(Watches::new(0)),
            doorkeeper: Box::new(Doorkeeper::new()),
        }
    }

    /// Counts a request for a file as answered from this cache (`hit`) or
    /// not, on the worker's counters (which the compressed cache holds for
    /// both: one handle fewer in every worker's router).
    #[inline(always)]
    pub fn count(&self, hit: bool) {
        if let Some(metrics) = self.compressed.metrics() {
            metrics.count_cache(hit);
        }
    }

    /// Publishes the bytes kept, after they changed.
    fn publish_bytes(&self) {
        if let Some(metrics) = self.compressed.metrics() {
            metrics.set_file_cache_bytes(self.bytes);
        }
    }

    /// The same cache, keeping compressed bytes in `compressed`.
    pub fn with_compressed(mut self, compressed: CompressedCache) -> FileCache {
        self.compressed = compressed;
        self
    }

    /// The same cache, watching up to `limit` inodes to spare its hits the
    /// stamp check (`FileOptions::cache_watches`; 0 watches nothing), each
    /// trusted for `recheck` (`FileOptions::cache_recheck`) between checks.
    pub fn with_watches(mut self, limit: usize, recheck: Duration) -> FileCache {
        self.watches = Box::new(Watches::new(limit).with_recheck(recheck));
        self
    }

    /// Drops what the file system's change events say is stale; no system
    /// call unless request bytes were read since the last time. Whether it
    /// dropped a file entry.
    #[inline]
    fn catch_up(&mut self) -> bool {
        let FileCache { entries, siblings, bytes, compressed, watches, .. } = self;
        let mut dropped = false;
        watches.catch_up(|path| {
            if let Some(old) = entries.remove(key(path)) {
                *bytes -= old.body.len();
                dropped = true;
            }
            siblings.remove(path);
            compressed.remove(path);
        });
        if dropped {
            self.publish_bytes();
        }
        dropped
    }

    /// Whether a file of `len` bytes may be cached.
    pub fn admits(&self, len: u64) -> bool {
        len <= self.max_file && self.limit_bytes > 0
    }

    /// The entry for `path` (relative to `root`) if it is still exactly the
    /// file the path names beneath the root.
    pub fn get(&mut self, root: &Root, path: &Path) -> Option<&Entry> {
        // A path not cached needs no events read (a miss trusts nothing),
        // so misses cost no system call here.
        let mut entry = self.entries.get(key(path))?;
        let (mut proof, mut cached) = (entry.proof, entry.stamp);
        if self.catch_up() {
            entry = self.entries.get(key(path))?;
            (proof, cached) = (entry.proof, entry.stamp);
        }
        // A watched entry leaves `entries` with its watch (an event,
        // `remove`), so being here is confirmation: no lookup of the watch;
        // only the bound on what no event reports.
        if let Proof::Watched { serial, until } = proof {
            debug_assert!(self.watches.confirms(path, Some(serial)));
            if self.watches.now() < until {
                return self.entries.get(key(path));
            }
        }
        if root.stamp(path).ok() != Some(cached) {
            self.remove(path);
            return None;
        }
        let proof = match proof {
            // Verified again: trusted on its watch for another interval.
            Proof::Watched { serial, .. } => Proof::Watched { serial, until: self.watches.trusted_until() },
            // Hit once, so likely again: watch it to spare later hits the
            // stamp check. Events were read just above, as `watch` needs.
            Proof::Unhit => match self.watches.watch(root, path, cached) {
                Some(serial) => Proof::Watched { serial, until: self.watches.trusted_until() },
                None => Proof::Stamp,
            },
            Proof::Stamp => return self.entries.get(key(path)),
        };
        let entry = self.entries.get_mut(key(path))?;
        entry.proof = proof;
        Some(entry)
    }

    /// Whether the file at `path`, of `len` bytes, is worth caching now
    /// (the admission rule, see the module's doc): while it fits beside
    /// the others, yes; once it would evict one, only if it missed before,
    /// lately (this marks that it did).
    pub fn worth_caching(&mut self, path: &Path, len: u64) -> bool {
        if self.bytes as u64 + len <= self.limit_bytes as u64 {
            return true;
        }
        self.doorkeeper.saw(key(path))
    }

    /// Caches `body`, read from the file whose metadata is `meta` (which
    /// the caller has found not racy, see `validators::is_racy`).
    pub fn insert(&mut self, path: PathBuf, meta: &Metadata, body: Arc<[u8]>, described: Described) -> Option<&Entry> {
        let entry = Entry { stamp: Stamp::of(meta), proof: Proof::Unhit, body, described };
        if !self.admits(entry.body.len() as u64) {
            return None;
        }
        self.remove(&path);
        // Evict arbitrary entries (HashMap order) until the new one fits:
        // simple, and a working set larger than the cache degrades only to
        // the uncached path.
        while self.bytes + entry.body.len() > self.limit_bytes {
            let Some(victim) = self.entries.keys().next().cloned() else { break };
            self.remove(Path::new(OsStr::from_bytes(&victim)));
        }
        self.bytes += entry.body.len();
        self.publish_bytes();
        let path: Box<[u8]> = path.into_os_string().into_vec().into();
        self.entries.insert(path.clone(), entry);
        self.entries.get(&path)
    }

    fn remove(&mut self, path: &Path) {
        if let Some(old) = self.entries.remove(key(path)) {
            self.bytes -= old.body.len();
            self.publish_bytes();
            // Its watches go back; other caches of the path check stamps.
            if let Proof::Watched { .. } = old.proof {
                self.watches.forget(path);
            }
        }
    }

    /// The compressed bytes kept for `path` in `coding`, if the file is
    /// unchanged (`CompressedCache::get`).
    pub fn compressed(&mut self, root: &Root, path: &Path, coding: Coding) -> Option<&Kept> {
        self.catch_up();
        self.compressed.get(root, path, coding, &self.watches)
    }

    /// Keeps compressed bytes of the file whose metadata is `meta`
    /// (`CompressedCache::insert`), watched if the path is.
    pub fn keep_compressed(
        &mut self,
        root: &Root,
        path: &Path,
        meta: &Metadata,
        coding: Coding,
        body: Arc<[u8]>,
        described: Described,
    ) {
        self.catch_up();
        let watched =
            self.watches.watch(root, path, Stamp::of(meta)).map(|serial| (serial, self.watches.trusted_until()));
        self.compressed.insert(path, meta, coding, body, described, watched);
    }

    /// Which of `path.br`, `path.zst` and `path.gz` exist; remembered per
    /// directory stamp (adding, removing or renaming a file changes the
    /// directory's times), so this costs one confined stat of the directory
    /// (resolved beneath `root` like every other lookup) when warm.
    /// `exists` answers for one coding when the directory has changed.
    pub fn siblings(&mut self, root: &Root, path: &Path, exists: impl Fn(Coding) -> bool) -> CodingSet {
        self.catch_up();
        if let Some(known) = self.siblings.get(path) {
            // The parent directory's watch reports any sibling's coming and
            // going, within the bound on what it cannot see.
            if self.watches.confirms(path, known.watched) && self.watches.now() < known.until {
                return known.present;
            }
        }
        let until = self.watches.trusted_until();
        let dir = path.parent().and_then(|dir| root.stamp(dir).ok());
        if let (Some(dir), Some(known)) = (dir, self.siblings.get_mut(path)) {
            if known.dir == dir {
                known.until = until;
                return known.present;
            }
        }
        // Taken before the lookups below, so they are no older than it.
        let watched = self.watches.current(path);
        let present = COMPRESSED.into_iter().filter(|c| exists(*c)).fold(CodingSet::NONE, CodingSet::with);
        if let Some(dir) = dir {
            if self.siblings.len() >= MAX_SIBLING_ENTRIES {
                self.siblings.clear();
            }
            self.siblings.insert(path.to_path_buf(), Siblings { dir, watched, until, present });
        }
        present
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::io::Write;
    use std::os::unix::fs::symlink;
    use std::time::SystemTime;

    /// Longer than any test takes: watches alone vouch for entries.
    const RECHECK: Duration = Duration::from_secs(3600);

    fn described() -> Described {
        Described {
            etag: Some("\"x\"".into()),
            last_modified: Some(SystemTime::UNIX_EPOCH),
            content_type: "text/plain".into(),
            headers: Arc::new(crate::http::rendered::RenderedFields::new(Vec::new(), 0)),
        }
    }

    fn admit(cache: &mut FileCache, rel: &str, meta: &Metadata, body: &[u8]) -> bool {
        cache.insert(rel.into(), meta, Arc::from(body), described()).is_some()
    }

    fn proof(cache: &FileCache, rel: &str) -> Option<Proof> {
        cache.entries.get(key(Path::new(rel))).map(|e| e.proof)
    }

    #[test]
    fn once_full_only_a_second_miss_is_worth_caching() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a"), [0u8; 60]).unwrap();
        let meta = fs::metadata(dir.path().join("a")).unwrap();
        let mut cache = FileCache::new(100, 100);
        assert!(cache.worth_caching(Path::new("a"), 60), "room for it");
        assert!(admit(&mut cache, "a", &meta, &[0u8; 60]));
        assert!(cache.worth_caching(Path::new("b"), 40), "still room");
        assert!(!cache.worth_caching(Path::new("d/f"), 41), "first miss, and it would evict");
        assert!(!cache.worth_caching(Path::new("d/g"), 41));
        assert!(cache.worth_caching(Path::new("d/f"), 41), "second miss");
        assert!(cache.worth_caching(Path::new("d/f"), 41));
    }

    #[test]
    fn hits_only_while_the_file_is_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path(), false).unwrap();
        let path = dir.path().join("f.txt");
        let rel = Path::new("f.txt");
        fs::write(&path, b"one").unwrap();
        let mut cache = FileCache::new(1024, 100);
        let meta = fs::metadata(&path).unwrap();
        assert!(admit(&mut cache, "f.txt", &meta, b"one"));
        assert_eq!(&*cache.get(&root, rel).unwrap().body, b"one");

        // Same size, rewritten in place: the change time moves.
        let mut file = fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.write_all(b"two").unwrap();
        drop(file);
        assert!(cache.get(&root, rel).is_none(), "an edited file is a miss");
        assert_eq!(cache.bytes, 0);

        let meta = fs::metadata(&path).unwrap();
        assert!(admit(&mut cache, "f.txt", &meta, b"two"));
        fs::remove_file(&path).unwrap();
        assert!(cache.get(&root, rel).is_none(), "a removed file is a miss");
    }

    #[test]
    fn watched_entries_go_with_the_first_change_event() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path(), false).unwrap();
        fs::create_dir_all(dir.path().join("d")).unwrap();
        fs::write(dir.path().join("d/f"), b"one").unwrap();
        fs::write(dir.path().join("d/g"), b"two").unwrap();
        symlink(dir.path().join("d"), dir.path().join("link")).unwrap();
        let mut cache = FileCache::new(1024, 100).with_watches(16, RECHECK);
        for rel in ["d/f", "d/g", "link/f"] {
            let meta = fs::metadata(dir.path().join(rel)).unwrap();
            assert!(admit(&mut cache, rel, &meta, b"x"));
            assert_eq!(proof(&cache, rel), Some(Proof::Unhit));
        }
        assert_eq!(cache.watches.watch_count(), 0, "nothing is watched before its first hit");
        for rel in ["d/f", "d/g", "link/f"] {
            assert!(cache.get(&root, Path::new(rel)).is_some());
        }
        let watched = |cache: &FileCache, rel: &str| proof(cache, rel).map(|p| matches!(p, Proof::Watched { .. }));
        assert_eq!(watched(&cache, "d/f"), Some(true));
        assert_eq!(watched(&cache, "d/g"), Some(true));
        assert_eq!(proof(&cache, "link/f"), Some(Proof::Stamp), "a path through a symlink keeps the stamp check");
        // Root, d, f and g.
        assert_eq!(cache.watches.watch_count(), 4);

        fs::write(dir.path().join("d/f"), b"new").unwrap();
        // Events are read only once request bytes were read since.
        cache.catch_up();
        assert_eq!(watched(&cache, "d/f"), Some(true));
        crate::sys::notify::note_request_read();
        cache.catch_up();
        assert_eq!(watched(&cache, "d/f"), None, "the edited file is dropped");
        assert_eq!(watched(&cache, "d/g"), Some(true), "its neighbour stays");
        assert_eq!(cache.watches.watch_count(), 3, "f's own watch went with it");

        // A new sibling drops the file it extends.
        fs::write(dir.path().join("d/g.gz"), b"z").unwrap();
        crate::sys::notify::note_request_read();
        cache.catch_up();
        assert_eq!(watched(&cache, "d/g"), None);

        // Out of watches: the entry is still cached, checked by stamp.
        let mut small = FileCache::new(1024, 100).with_watches(2, RECHECK);
        let meta = fs::metadata(dir.path().join("d/g")).unwrap();
        assert!(admit(&mut small, "d/g", &meta, b"x"));
        assert!(small.get(&root, Path::new("d/g")).is_some());
        assert_eq!(proof(&small, "d/g"), Some(Proof::Stamp));
        assert_eq!(small.watches.watch_count(), 0, "a partial watching is given back");
        assert!(small.get(&root, Path::new("d/g")).is_some());
        fs::write(dir.path().join("d/g"), b"changed").unwrap();
        assert!(small.get(&root, Path::new("d/g")).is_none());
    }

    #[test]
    fn a_watched_hit_checks_the_stamp_once_its_interval_is_over() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path(), false).unwrap();
        fs::create_dir_all(dir.path().join("d")).unwrap();
        for name in ["d/f", "d/g"] {
            fs::write(dir.path().join(name), b"one").unwrap();
        }
        let recheck = Duration::from_millis(50);
        let mut cache = FileCache::new(1024, 100).with_watches(16, recheck);
        for rel in ["d/f", "d/g"] {
            let meta = fs::metadata(dir.path().join(rel)).unwrap();
            assert!(admit(&mut cache, rel, &meta, b"one"));
            assert!(cache.get(&root, Path::new(rel)).is_some());
        }
        let Some(Proof::Watched { until, .. }) = proof(&cache, "d/f") else { panic!("d/f is watched") };
        // g's watch was placed after f's, so its interval ends a little later.
        let Some(Proof::Watched { until: g_until, .. }) = proof(&cache, "d/g") else { panic!("d/g is watched") };
        // A change no event reports (a write through a shared mapping, a
        // mount over the path): here, f changes and its events are thrown
        // away unread.
        fs::write(dir.path().join("d/f"), b"two").unwrap();
        cache.watches.discard_events();
        crate::sys::notify::note_request_read();
        if Instant::now() + Duration::from_millis(10) < until {
            assert!(cache.get(&root, Path::new("d/f")).is_some(), "within its interval the watch alone vouches");
        }
        // Past the interval (both files'), the next hit (of bytes read
        // after it) checks.
        let past = until.max(g_until);
        while Instant::now() <= past {
            std::thread::sleep(past - Instant::now());
        }
        crate::sys::notify::note_request_read();
        assert!(cache.get(&root, Path::new("d/f")).is_none(), "checked once its interval ran out");
        // An unchanged file is checked, found current, and trusted again.
        let before = g_until;
        assert!(cache.get(&root, Path::new("d/g")).is_some());
        let Some(Proof::Watched { until: after, .. }) = proof(&cache, "d/g") else { panic!("d/g still watched") };
        assert!(after > before, "its trust was renewed");
    }

    #[test]
    fn an_edit_before_the_first_hit_misses() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path(), false).unwrap();
        fs::create_dir_all(dir.path().join("d")).unwrap();
        fs::write(dir.path().join("d/f"), b"one").unwrap();
        let meta = fs::metadata(dir.path().join("d/f")).unwrap();
        let mut cache = FileCache::new(1024, 100).with_watches(16, RECHECK);
        assert!(admit(&mut cache, "d/f", &meta, b"one"));
        // Changed while cached and not yet watched: the first hit's stamp
        // check sees it, and no watch vouches for the old bytes.
        fs::write(dir.path().join("d/f"), b"two").unwrap();
        crate::sys::notify::note_request_read();
        assert!(cache.get(&root, Path::new("d/f")).is_none());
        assert_eq!(cache.watches.watch_count(), 0);
    }

    #[test]
    fn lost_events_drop_every_watched_entry() {
        let Ok(queued) = fs::read_to_string("/proc/sys/fs/inotify/max_queued_events") else { return };
        let queued: usize = queued.trim().parse().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path(), false).unwrap();
        for name in ["a", "b", "kept"] {
            fs::write(dir.path().join(name), name).unwrap();
        }
        let mut cache = FileCache::new(1024, 100).with_watches(16, RECHECK);
        let meta = fs::metadata(dir.path().join("kept")).unwrap();
        assert!(admit(&mut cache, "kept", &meta, b"kept"));
        assert!(cache.get(&root, Path::new("kept")).is_some());
        assert!(matches!(proof(&cache, "kept"), Some(Proof::Watched { .. })));
        // Alternating names, so the kernel cannot merge the events.
        let (a, b) = (fs::File::open(dir.path().join("a")).unwrap(), fs::File::open(dir.path().join("b")).unwrap());
        let when = SystemTime::now() - Duration::from_secs(5);
        for _ in 0..queued / 2 + 8 {
            a.set_modified(when).unwrap();
            b.set_modified(when).unwrap();
        }
        crate::sys::notify::note_request_read();
        cache.catch_up();
        assert!(proof(&cache, "kept").is_none(), "an overflow trusts nothing");
        // A fresh notifier watches again.
        assert!(admit(&mut cache, "kept", &meta, b"kept"));
        assert!(cache.get(&root, Path::new("kept")).is_some());
        assert!(matches!(proof(&cache, "kept"), Some(Proof::Watched { .. })));
    }

    #[test]
    fn a_path_that_now_leads_outside_misses() {
        let top = tempfile::tempdir().unwrap();
        let root_path = top.path().join("root");
        fs::create_dir_all(root_path.join("d")).unwrap();
        fs::write(root_path.join("d/f"), b"in").unwrap();
        let root = Root::open(&root_path, false).unwrap();
        let meta = fs::metadata(root_path.join("d/f")).unwrap();
        let mut cache = FileCache::new(1024, 100);
        let rel = Path::new("d/f");
        assert!(admit(&mut cache, "d/f", &meta, b"in"));
        // The directory moves out (same inode for the file) and a link
        // takes its place: the stamp would match, the confinement does not.
        fs::rename(root_path.join("d"), top.path().join("d")).unwrap();
        std::os::unix::fs::symlink(top.path().join("d"), root_path.join("d")).unwrap();
        assert!(cache.get(&root, rel).is_none());
    }

    #[test]
    fn stays_within_its_byte_limit() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = FileCache::new(100, 60);
        for i in 0..10 {
            let path = dir.path().join(format!("{i}"));
            fs::write(&path, [0u8; 40]).unwrap();
            let meta = fs::metadata(&path).unwrap();
            assert!(admit(&mut cache, &format!("{i}"), &meta, &[0u8; 40]));
            assert!(cache.bytes <= 100);
        }
        let path = dir.path().join("big");
        fs::write(&path, [0u8; 61]).unwrap();
        let meta = fs::metadata(&path).unwrap();
        assert!(!admit(&mut cache, "big", &meta, &[0u8; 61]));
    }

    #[test]
    fn sibling_lookups_follow_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path(), false).unwrap();
        let path = Path::new("a.css");
        let gz = dir.path().join("a.css.gz");
        let exists = |coding: Coding| dir.path().join(format!("a.css{}", coding.extension())).is_file();
        let mut cache = FileCache::new(0, 0);
        assert_eq!(cache.siblings(&root, path, exists), CodingSet::NONE);
        fs::write(&gz, b"x").unwrap();
        assert_eq!(cache.siblings(&root, path, exists), CodingSet::NONE.with(Coding::Gzip));
        fs::write(dir.path().join("a.css.zst"), b"x").unwrap();
        assert_eq!(cache.siblings(&root, path, exists), CodingSet::NONE.with(Coding::Gzip).with(Coding::Zstd));
        fs::remove_file(&gz).unwrap();
        fs::remove_file(dir.path().join("a.css.zst")).unwrap();
        assert_eq!(cache.siblings(&root, path, exists), CodingSet::NONE);
    }
}
