//! A worker-local cache of small files: their bytes and their pre-rendered
//! header lines, so a hot small file costs one `stat` instead of
//! open + fstat + sendfile + close.
//!
//! Every hit revalidates: the path is stat'ed again and its device, inode,
//! size, modification and change times must equal what was cached, so an
//! edited, replaced or removed file is never served stale. Entries are only
//! ever inserted after the uncached path has checked the file (confinement
//! to the root included); a later swap of any path component for a symlink
//! leads the stat to a different inode and so misses. Which files qualify,
//! and what the headers say, is decided by `files`; each worker owns one
//! cache, so there is no locking.

use std::collections::HashMap;
use std::fs::{self, Metadata};
use std::ops::Range;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crate::http::encoding::Coding;

/// What identifies a file's current contents without reading them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    pub fn of(meta: &Metadata) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// The stamp of whatever `path` names now (following symlinks).
    fn current(path: &Path) -> Option<Stamp> {
        fs::metadata(path).ok().map(|meta| Stamp::of(&meta))
    }
}

/// A representation's validators and header lines, rendered once by
/// `files` and kept here with the bytes, so a hit renders nothing.
#[derive(Debug, Clone)]
pub struct Described {
    pub etag: Arc<str>,
    pub last_modified: SystemTime,
    /// The representation's `Content-Type` (multipart parts repeat it).
    pub content_type: Arc<str>,
    /// Header lines, validators first (`ETag`, `Last-Modified`,
    /// `Cache-Control`, `Vary`), then content metadata from `content_at`
    /// on (`Content-Type`, `Content-Encoding`, `Accept-Ranges`). A 304 sends
    /// only the first part.
    pub headers: Arc<[u8]>,
    pub content_at: usize,
}

impl Described {
    pub fn all_headers(&self) -> Option<(Arc<[u8]>, Range<usize>)> {
        Some((Arc::clone(&self.headers), 0..self.headers.len()))
    }

    pub fn validator_headers(&self) -> Option<(Arc<[u8]>, Range<usize>)> {
        Some((Arc::clone(&self.headers), 0..self.content_at))
    }
}

/// A cached file: its bytes and how they are described.
#[derive(Debug)]
pub struct Entry {
    stamp: Stamp,
    pub body: Arc<[u8]>,
    pub described: Described,
}

/// Whether `file.br` / `file.gz` exist, as of the directory's stamp.
#[derive(Debug, Clone, Copy)]
struct Siblings {
    dir: Stamp,
    br: bool,
    gz: bool,
}

#[derive(Debug)]
pub struct FileCache {
    entries: HashMap<PathBuf, Entry>,
    siblings: HashMap<PathBuf, Siblings>,
    bytes: usize,
    limit_bytes: usize,
    max_file: u64,
}

/// Most sibling lookups remembered; they are tiny, this only bounds a scan
/// of many distinct paths.
const MAX_SIBLING_ENTRIES: usize = 4096;

impl FileCache {
    /// A cache holding at most `limit_bytes` of file data, of files of at
    /// most `max_file` bytes each. A zero limit disables it.
    pub fn new(limit_bytes: usize, max_file: u64) -> FileCache {
        FileCache {
            entries: HashMap::new(),
            siblings: HashMap::new(),
            bytes: 0,
            limit_bytes,
            max_file: max_file.min(limit_bytes as u64),
        }
    }

    /// Whether a file of `len` bytes may be cached.
    pub fn admits(&self, len: u64) -> bool {
        len <= self.max_file && self.limit_bytes > 0
    }

    /// The entry for `path` if it is still exactly the file on disk.
    pub fn get(&mut self, path: &Path) -> Option<&Entry> {
        let cached = self.entries.get(path)?.stamp;
        if Stamp::current(path) == Some(cached) {
            return self.entries.get(path);
        }
        self.remove(path);
        None
    }

    /// Caches `body`, read from the file whose metadata is `meta`.
    pub fn insert(&mut self, path: PathBuf, meta: &Metadata, body: Arc<[u8]>, described: Described) -> Option<&Entry> {
        let entry = Entry { stamp: Stamp::of(meta), body, described };
        if !self.admits(entry.body.len() as u64) {
            return None;
        }
        self.remove(&path);
        // Evict arbitrary entries (HashMap order) until the new one fits:
        // simple, and a working set larger than the cache degrades only to
        // the uncached path.
        while self.bytes + entry.body.len() > self.limit_bytes {
            let Some(victim) = self.entries.keys().next().cloned() else { break };
            self.remove(&victim);
        }
        self.bytes += entry.body.len();
        self.entries.insert(path.clone(), entry);
        self.entries.get(&path)
    }

    fn remove(&mut self, path: &Path) {
        if let Some(old) = self.entries.remove(path) {
            self.bytes -= old.body.len();
        }
    }

    /// Whether `path.br` and `path.gz` exist; remembered per directory
    /// stamp (adding, removing or renaming a file changes the directory's
    /// times), so this costs one stat of the directory when warm.
    /// `exists` answers for one coding when the directory has changed.
    pub fn siblings(&mut self, path: &Path, exists: impl Fn(Coding) -> bool) -> (bool, bool) {
        let dir = path.parent().and_then(Stamp::current);
        if let (Some(dir), Some(known)) = (dir, self.siblings.get(path)) {
            if known.dir == dir {
                return (known.br, known.gz);
            }
        }
        let (br, gz) = (exists(Coding::Brotli), exists(Coding::Gzip));
        if let Some(dir) = dir {
            if self.siblings.len() >= MAX_SIBLING_ENTRIES {
                self.siblings.clear();
            }
            self.siblings.insert(path.to_path_buf(), Siblings { dir, br, gz });
        }
        (br, gz)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn described() -> Described {
        Described {
            etag: "\"x\"".into(),
            last_modified: SystemTime::UNIX_EPOCH,
            content_type: "text/plain".into(),
            headers: Arc::from(&b""[..]),
            content_at: 0,
        }
    }

    #[test]
    fn hits_only_while_the_file_is_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.txt");
        fs::write(&path, b"one").unwrap();
        let mut cache = FileCache::new(1024, 100);
        let meta = fs::metadata(&path).unwrap();
        assert!(cache.insert(path.clone(), &meta, Arc::from(&b"one"[..]), described()).is_some());
        assert_eq!(&*cache.get(&path).unwrap().body, b"one");

        // Same size, rewritten in place: the change time moves.
        let mut file = fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.write_all(b"two").unwrap();
        drop(file);
        assert!(cache.get(&path).is_none(), "an edited file is a miss");
        assert_eq!(cache.bytes, 0);

        let meta = fs::metadata(&path).unwrap();
        cache.insert(path.clone(), &meta, Arc::from(&b"two"[..]), described());
        fs::remove_file(&path).unwrap();
        assert!(cache.get(&path).is_none(), "a removed file is a miss");
    }

    #[test]
    fn stays_within_its_byte_limit() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = FileCache::new(100, 60);
        for i in 0..10 {
            let path = dir.path().join(format!("{i}"));
            fs::write(&path, [0u8; 40]).unwrap();
            let meta = fs::metadata(&path).unwrap();
            cache.insert(path, &meta, Arc::from(&[0u8; 40][..]), described());
            assert!(cache.bytes <= 100);
        }
        let path = dir.path().join("big");
        fs::write(&path, [0u8; 61]).unwrap();
        assert!(cache
            .insert(path.clone(), &fs::metadata(&path).unwrap(), Arc::from(&[0u8; 61][..]), described())
            .is_none());
    }

    #[test]
    fn sibling_lookups_follow_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.css");
        let gz = dir.path().join("a.css.gz");
        let exists = |coding: Coding| dir.path().join(format!("a.css{}", coding.extension())).is_file();
        let mut cache = FileCache::new(0, 0);
        assert_eq!(cache.siblings(&path, exists), (false, false));
        fs::write(&gz, b"x").unwrap();
        assert_eq!(cache.siblings(&path, exists), (false, true));
        fs::remove_file(&gz).unwrap();
        assert_eq!(cache.siblings(&path, exists), (false, false));
    }
}
