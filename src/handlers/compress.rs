//! On-the-fly compression of text-like files: which types qualify, the
//! coders (gzip, brotli, zstd through kept crates), the worker-local cache
//! of compressed bytes, and the streaming body for files too large to keep.
//!
//! A file small enough ([`FileOptions::compress_max_file`]) is compressed
//! whole, once per version and coding, and kept with its rendered headers
//! in [`CompressedCache`], so a hot stylesheet costs a copy of its
//! compressed bytes (and a `stat` only where `watches` cannot vouch for the
//! file), like an uncompressed cache hit. A larger file
//! is compressed as it is sent: [`Streamed`] reads a slice, compresses it
//! and frames the output as an HTTP/1.1 chunk, only when the connection has
//! room for more, so memory per response is one slice plus the coder's
//! state, whatever the file's size. Which representation to send is decided
//! in `http::encoding` and `files`; the headers are rendered by `files`.
//!
//! How streams are held down (a cheaper level, a charge on the memory
//! budget, a time slice per turn) is [`stream`]'s.
//!
//! [`FileOptions::compress_max_file`]: crate::config::FileOptions::compress_max_file

use std::collections::HashMap;
use std::fs::Metadata;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::described::Described;
use super::watches::Watches;
use crate::http::encoding::Coding;
use crate::metrics::{Compression, WorkerMetrics};
use crate::sys::fs::{Root, Stamp};

mod stream;
pub use stream::{stream_levels, stream_memory, Streamed, Streams};

/// The default of `--compress`, defined with the setting (its reason is there).
pub use crate::config::DEFAULT_COMPRESS_LEVEL as DEFAULT_LEVEL;

/// Brotli's window for streamed bodies (1 MiB): its state, allocated per
/// response, grows with the window; 22 (the default) gains under 1 % on
/// text for four times the memory.
const STREAM_BROTLI_WINDOW: u32 = 20;
/// Smallest brotli window for streamed bodies: below 2^18, qualities 5 to 9
/// switch to a hasher of 33 MiB (measured), whatever the file's size.
const STREAM_BROTLI_MIN_WINDOW: u32 = 18;
/// Zstd's window for streamed bodies (256 KiB). Measured on a 6 MiB text
/// at level 1: 1.15 MiB of state and a ratio of 6.05, against 1.9 MiB and
/// 6.30 with 2^20; the smaller state lets more streams into the budget.
const STREAM_ZSTD_WINDOW: u32 = 18;
/// Whether a type is worth compressing: text, scripts, styles, data and
/// markup, wasm and uncompressed fonts (as nginx's `gzip_types`, Caddy's and
/// static-web-server's defaults); not images, audio, video or archives,
/// which are compressed already.
pub fn worth_compressing(mime: &str) -> bool {
    mime.starts_with("text/")
        || mime.ends_with("+xml")
        || mime.ends_with("+json")
        || matches!(
            mime,
            "application/javascript"
                | "application/x-javascript"
                | "application/ecmascript"
                | "application/json"
                | "application/xml"
                | "application/wasm"
                | "application/x-sh"
                | "application/vnd.ms-fontobject"
                | "application/font-sfnt"
                | "font/ttf"
                | "font/otf"
        )
}

/// The ETag of a coded representation: the file's ETag with `-<coding>`
/// before the closing quote (`"1a2b-17f3c-br"`), so a 304 for one coding
/// never confirms another. Identity keeps the base.
pub fn coded_etag(base: String, coding: Coding) -> String {
    if coding == Coding::Identity || !base.ends_with('"') {
        return base;
    }
    let mut etag = base;
    etag.pop();
    etag.push('-');
    etag.push_str(coding.token());
    etag.push('"');
    etag
}

/// The level of each coder for one `--compress` level (1 to 9, gzip's
/// scale, which users know): brotli and zstd are matched to gzip's CPU
/// cost at that level, roughly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Levels {
    gzip: u32,
    brotli: u32,
    zstd: i32,
}

impl Levels {
    /// The coders' levels for `level` (clamped to 1..=9).
    pub fn of(level: u8) -> Levels {
        //            1  2  3  4  5  6  7  8   9
        const BROTLI: [u32; 9] = [1, 2, 3, 4, 4, 5, 6, 8, 11];
        const ZSTD: [i32; 9] = [1, 1, 2, 3, 3, 3, 6, 12, 19];
        let i = usize::from(level.clamp(1, 9)) - 1;
        Levels { gzip: u32::from(level.clamp(1, 9)), brotli: BROTLI[i], zstd: ZSTD[i] }
    }
}

/// One coder writing into a buffer that the caller drains.
enum Encoder {
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
}

impl Encoder {
    /// A coder for `coding` (not identity) at `levels`, for `size` bytes of
    /// input; `streamed` caps the windows (see [`STREAM_BROTLI_WINDOW`]).
    fn new(coding: Coding, levels: Levels, size: u64, streamed: bool) -> io::Result<Encoder> {
        // No window larger than the input: smaller state for small files.
        let fit = (64 - size.max(1).leading_zeros()).clamp(10, 22);
        Ok(match coding {
            Coding::Gzip => {
                Encoder::Gzip(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(levels.gzip)))
            }
            Coding::Brotli => {
                let window = if streamed { fit.clamp(STREAM_BROTLI_MIN_WINDOW, STREAM_BROTLI_WINDOW) } else { fit };
                Encoder::Brotli(Box::new(brotli::CompressorWriter::new(Vec::new(), 16 * 1024, levels.brotli, window)))
            }
            Coding::Zstd => {
                let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), levels.zstd)?;
                encoder.set_pledged_src_size(Some(size))?;
                if streamed {
                    encoder.window_log(fit.min(STREAM_ZSTD_WINDOW))?;
                }
                Encoder::Zstd(encoder)
            }
            Coding::Identity => return Err(io::Error::new(io::ErrorKind::InvalidInput, "identity is not a coder")),
        })
    }

    fn write(&mut self, input: &[u8]) -> io::Result<()> {
        match self {
            Encoder::Gzip(e) => e.write_all(input),
            Encoder::Brotli(e) => e.write_all(input),
            Encoder::Zstd(e) => e.write_all(input),
        }
    }

    /// After a streamed slice: brotli's coder holds all its input until a
    /// flush (measured: 20 MiB of state for a 24 MiB file at level 5), so
    /// it is flushed per slice, which bounds it to about 4 MiB and costs
    /// under 1 % in size; gzip and zstd emit blocks as they go.
    fn end_slice(&mut self) -> io::Result<()> {
        match self {
            Encoder::Brotli(e) => e.flush(),
            Encoder::Gzip(_) | Encoder::Zstd(_) => Ok(()),
        }
    }

    /// Compressed bytes produced so far and not yet taken.
    fn output(&mut self) -> &mut Vec<u8> {
        match self {
            Encoder::Gzip(e) => e.get_mut(),
            Encoder::Brotli(e) => e.get_mut(),
            Encoder::Zstd(e) => e.get_mut(),
        }
    }

    /// Ends the stream; the remaining compressed bytes.
    fn finish(self) -> io::Result<Vec<u8>> {
        match self {
            Encoder::Gzip(e) => e.finish(),
            Encoder::Brotli(e) => Ok(e.into_inner()),
            Encoder::Zstd(e) => e.finish(),
        }
    }
}

/// `data` compressed whole with `coding` at `levels`.
pub fn compress(data: &[u8], coding: Coding, levels: Levels) -> io::Result<Vec<u8>> {
    let mut encoder = Encoder::new(coding, levels, data.len() as u64, false)?;
    encoder.write(data)?;
    let output = encoder.finish()?;
    crate::metrics::count(|metrics| {
        metrics.count_compression(coding, Compression::Whole, true, data.len() as u64, output.len() as u64)
    });
    Ok(output)
}

/// A compressed representation kept for one version of a file.
#[derive(Debug)]
pub struct Kept {
    /// The original file's stamp: any change to it makes this stale.
    stamp: Stamp,
    /// The watching (`watches::Watches`) under which the stamp was current,
    /// and until when that watch alone vouches for it (`cache_recheck`).
    watched: Option<(u64, Instant)>,
    pub body: Arc<[u8]>,
    pub described: Described,
}

/// A worker's compressed bytes, one slot per coding for each file, valid
/// while the original file's watch has seen no change (checked by stamp
/// again once per `cache_recheck`), or else while its
/// stamp (device, inode, size, modification and change times) is what it
/// was. Bounded in bytes (`compress_cache_bytes`)
/// like `FileCache`, owned by one worker, so a hit takes no lock.
#[derive(Debug)]
pub struct CompressedCache {
    entries: HashMap<PathBuf, [Option<Kept>; 3]>,
    bytes: usize,
    limit_bytes: usize,
    /// The worker's counters, taken from the worker's thread when the
    /// cache is made (told the bytes kept after each change, and holding
    /// the file cache's counts too); `None` with metrics off.
    metrics: Option<Arc<WorkerMetrics>>,
}

impl CompressedCache {
    /// A cache of at most `limit_bytes` compressed bytes; 0 keeps nothing
    /// (every response is compressed anew).
    pub fn new(limit_bytes: usize) -> CompressedCache {
        CompressedCache { entries: HashMap::new(), bytes: 0, limit_bytes, metrics: crate::metrics::current() }
    }

    /// The worker's counters; `None` with metrics off (or outside a worker).
    #[inline(always)]
    pub fn metrics(&self) -> Option<&WorkerMetrics> {
        self.metrics.as_deref()
    }

    /// Publishes the bytes kept, after they changed.
    fn publish_bytes(&self) {
        if let Some(metrics) = &self.metrics {
            metrics.set_compressed_cache_bytes(self.bytes);
        }
    }

    /// The bytes kept for `path` in `coding`, if the file is unchanged.
    /// No system call unless something is kept for the path and its
    /// watch (if any) cannot confirm it, or was trusted for its interval
    /// (`cache_recheck`) already.
    pub fn get(&mut self, root: &Root, path: &Path, coding: Coding, watches: &Watches) -> Option<&Kept> {
        let slots = self.entries.get(path)?;
        let kept = slots[slot(coding)?].as_ref()?;
        if let Some((serial, until)) = kept.watched {
            if watches.confirms(path, Some(serial)) && watches.now() < until {
                return self.entries.get(path)?[slot(coding)?].as_ref();
            }
        }
        let stamp = kept.stamp;
        if root.stamp(path).ok() != Some(stamp) {
            // Every coding of the old version is stale at once.
            self.remove(path);
            return None;
        }
        // Verified: each coding's watch vouches again for an interval.
        let until = watches.trusted_until();
        for kept in self.entries.get_mut(path)?.iter_mut().flatten() {
            if let Some((_, old)) = &mut kept.watched {
                *old = until;
            }
        }
        self.entries.get(path)?[slot(coding)?].as_ref()
    }

    /// Keeps `body`, `coding` of the file whose metadata is `meta` (not
    /// racy, see `validators::is_racy`). Entries of another version of the file
    /// are dropped; others are evicted (in no particular order) to make room.
    pub fn insert(
        &mut self,
        path: &Path,
        meta: &Metadata,
        coding: Coding,
        body: Arc<[u8]>,
        described: Described,
        watched: Option<(u64, Instant)>,
    ) {
        let Some(index) = slot(coding) else { return };
        if body.len() > self.limit_bytes {
            return;
        }
        let stamp = Stamp::of(meta);
        let same_version = self.entries.get(path).is_some_and(|slots| slots.iter().flatten().all(|k| k.stamp == stamp));
        if !same_version {
            self.remove(path);
        }
        if let Some(old) = self.entries.get_mut(path).and_then(|slots| slots[index].take()) {
            self.bytes -= old.body.len();
        }
        while self.bytes + body.len() > self.limit_bytes {
            let Some(victim) = self.entries.keys().find(|k| k.as_path() != path).cloned() else { break };
            self.remove(&victim);
        }
        self.bytes += body.len();
        self.publish_bytes();
        let slots = self.entries.entry(path.to_path_buf()).or_default();
        slots[index] = Some(Kept { stamp, watched, body, described });
    }

    pub(super) fn remove(&mut self, path: &Path) {
        if let Some(slots) = self.entries.remove(path) {
            self.bytes -= slots.iter().flatten().map(|k| k.body.len()).sum::<usize>();
            self.publish_bytes();
        }
    }
}

/// The slot of a content coding in an entry; identity is never kept here.
fn slot(coding: Coding) -> Option<usize> {
    match coding {
        Coding::Identity => None,
        other => Some(other.index()),
    }
}

/// Decodes a whole body, for the tests (the integration tests decode
/// with independent implementations: curl, Python's zlib, brotli and
/// zstandard).
#[cfg(test)]
fn decode(data: &[u8], coding: Coding) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    match coding {
        Coding::Gzip => flate2::read::GzDecoder::new(data).read_to_end(&mut out).unwrap(),
        Coding::Brotli => brotli::Decompressor::new(data, 4096).read_to_end(&mut out).unwrap(),
        Coding::Zstd => zstd::stream::read::Decoder::new(data).unwrap().read_to_end(&mut out).unwrap(),
        Coding::Identity => return data.to_vec(),
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::encoding::COMPRESSED;
    use std::fs;
    use std::time::SystemTime;

    pub(super) fn text(len: usize) -> Vec<u8> {
        let words = ["body", "{", "color:", "red;", "}", "\n", "margin:", "0", "auto;", ".nav", "a:hover"];
        let mut out = Vec::with_capacity(len + 16);
        let mut i = 0usize;
        while out.len() < len {
            out.extend_from_slice(words[(i * 7 + i / 3) % words.len()].as_bytes());
            out.push(b' ');
            i += 1;
        }
        out.truncate(len);
        out
    }

    fn described(etag: &str) -> Described {
        Described {
            etag: Some(etag.into()),
            last_modified: Some(SystemTime::UNIX_EPOCH),
            content_type: "text/css".into(),
            headers: Arc::new(crate::http::rendered::RenderedFields::new(Vec::new(), 0)),
        }
    }

    #[test]
    fn types_worth_compressing() {
        for mime in [
            "text/html",
            "text/css",
            "text/javascript",
            "application/javascript",
            "application/json",
            "application/ld+json",
            "application/manifest+json",
            "image/svg+xml",
            "application/xhtml+xml",
            "application/wasm",
            "font/ttf",
        ] {
            assert!(worth_compressing(mime), "{mime}");
        }
        for mime in
            ["image/png", "image/jpeg", "video/mp4", "audio/wav", "application/gzip", "application/zip", "font/woff2"]
        {
            assert!(!worth_compressing(mime), "{mime}");
        }
    }

    #[test]
    fn etags_per_coding() {
        assert_eq!(coded_etag("\"1a-2b\"".into(), Coding::Brotli), "\"1a-2b-br\"");
        assert_eq!(coded_etag("\"1a-2b\"".into(), Coding::Zstd), "\"1a-2b-zstd\"");
        assert_eq!(coded_etag("\"1a-2b\"".into(), Coding::Gzip), "\"1a-2b-gzip\"");
        assert_eq!(coded_etag("\"1a-2b\"".into(), Coding::Identity), "\"1a-2b\"");
    }

    #[test]
    fn levels() {
        assert_eq!(Levels::of(DEFAULT_LEVEL), Levels { gzip: 6, brotli: 5, zstd: 3 });
        assert_eq!(Levels::of(1), Levels { gzip: 1, brotli: 1, zstd: 1 });
        assert_eq!(Levels::of(9), Levels { gzip: 9, brotli: 11, zstd: 19 });
        assert_eq!(Levels::of(0), Levels::of(1));
        assert_eq!(Levels::of(200), Levels::of(9));
    }

    #[test]
    fn every_coding_round_trips() {
        for len in [0, 1, 600, 32 * 1024, 300 * 1024] {
            let data = text(len);
            for coding in COMPRESSED {
                for level in [1, DEFAULT_LEVEL, 9] {
                    let packed = compress(&data, coding, Levels::of(level)).unwrap();
                    assert_eq!(decode(&packed, coding), data, "{coding:?} level {level}, {len} bytes");
                    if len >= 32 * 1024 {
                        assert!(packed.len() < len / 3, "{coding:?} level {level}: {} of {len}", packed.len());
                    }
                }
            }
        }
    }

    #[test]
    fn kept_bytes_follow_the_file_version() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path(), false).unwrap();
        let rel = Path::new("a.css");
        fs::write(dir.path().join(rel), b"one").unwrap();
        let meta = fs::metadata(dir.path().join(rel)).unwrap();
        let mut cache = CompressedCache::new(1000);
        cache.insert(rel, &meta, Coding::Brotli, Arc::from(&b"BR"[..]), described("\"a-br\""), None);
        cache.insert(rel, &meta, Coding::Gzip, Arc::from(&b"GZ"[..]), described("\"a-gzip\""), None);
        assert_eq!(&*cache.get(&root, rel, Coding::Brotli, &Watches::new(0)).unwrap().body, b"BR");
        assert_eq!(&*cache.get(&root, rel, Coding::Gzip, &Watches::new(0)).unwrap().body, b"GZ");
        assert!(cache.get(&root, rel, Coding::Zstd, &Watches::new(0)).is_none());
        assert!(cache.get(&root, rel, Coding::Identity, &Watches::new(0)).is_none());
        assert_eq!(cache.bytes, 4);

        fs::write(dir.path().join(rel), b"two!").unwrap();
        assert!(cache.get(&root, rel, Coding::Gzip, &Watches::new(0)).is_none(), "an edited file is a miss");
        assert_eq!(cache.bytes, 0, "every coding of the old version goes");
    }

    #[test]
    fn stays_within_its_byte_limit() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = CompressedCache::new(100);
        for i in 0..20 {
            let name = format!("{i}.css");
            fs::write(dir.path().join(&name), b"x").unwrap();
            let meta = fs::metadata(dir.path().join(&name)).unwrap();
            for coding in COMPRESSED {
                cache.insert(Path::new(&name), &meta, coding, Arc::from(&[0u8; 15][..]), described("\"x\""), None);
                assert!(cache.bytes <= 100, "{} bytes", cache.bytes);
            }
        }
        let meta = fs::metadata(dir.path().join("0.css")).unwrap();
        cache.insert(Path::new("0.css"), &meta, Coding::Gzip, Arc::from(&[0u8; 101][..]), described("\"x\""), None);
        assert!(cache.bytes <= 100);
        let mut off = CompressedCache::new(0);
        off.insert(Path::new("0.css"), &meta, Coding::Gzip, Arc::from(&[0u8; 1][..]), described("\"x\""), None);
        assert_eq!(off.bytes, 0);
    }
}
