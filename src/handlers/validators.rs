//! What a file representation's validators are made of: which `ETag` and
//! whether a `Last-Modified`, decided from the bytes when they were read
//! whole and from the file's metadata otherwise.
//!
//! **Content ETags.** A representation read whole into memory (a file of at
//! most `FileOptions::cache_max_file`, a sibling as small, the original of a
//! compressed representation kept in memory) is tagged by a digest of its
//! bytes: the first 128 bits of their BLAKE3, in hex (`b3sum` shows the
//! same digits first). The tag then changes exactly when the bytes do,
//! whatever happens to the timestamps (`touch -r`, `tar x`, `rsync -t`,
//! `cp -p` restore them), and every replica serving the same bytes sends
//! the same tag. A cryptographic digest, because a writer who may craft
//! files must not be able to make two contents share a tag (a
//! non-cryptographic hash allows that); 128 bits keep a crafted collision
//! at about 2⁶⁴ digests of work. BLAKE3 rather than `ring`'s SHA-256
//! (already linked), by measurement, paid once per read of a file, never
//! on a cache hit. Wall time on this machine (AMD EPYC, which has SHA
//! extensions): SHA-256 0.66 / 2.4 / 9.1 / 37 µs for 1 / 4 / 16 / 64 KiB,
//! BLAKE3 1.1 / 1.4 / 2.6 / 10 µs, so BLAKE3 wins from about 2 KiB, 3.5×
//! at 64 KiB; without SHA extensions (older Intel servers) SHA-256 runs at
//! 0.3 GB/s (3.4 µs per KiB), BLAKE3's SIMD code at the same speed as here.
//! And callgrind, by which this project counts instructions per request,
//! runs SHA-256 without those extensions: a 4 KiB miss cost 146,000
//! instructions instead of 9,400.
//!
//! Such a tag needs no racy-time rule: it describes the very bytes sent, so
//! it is given even to a file changed a moment ago (only the caches, which
//! compare metadata, must wait such a file out, and `Last-Modified`).
//!
//! **Metadata ETags.** A file sent from disk without being read whole
//! (larger than `cache_max_file`, or a compressed stream) is tagged
//! `"<size hex>-<mtime ns hex>"`: no inode, so replicas that copied the
//! tree with its times agree; but a same-size rewrite whose mtime is
//! restored keeps the tag. A file changed within the racy window gets
//! none, as its metadata may not yet tell it from its next version.
//!
//! **Racy files.** [`is_racy`] says whether a file's metadata can vouch
//! for its bytes yet; `files` asks it before either cache keeps a file,
//! since a cache, like a metadata ETag, trusts the metadata.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Hex digits of the BLAKE3 digest kept in a content ETag: 32, 128 bits,
/// so that crafting two files with one tag takes about 2⁶⁴ digests.
const DIGEST_HEX_DIGITS: usize = 32;

/// The validators a representation may carry, decided before it is
/// described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validity {
    /// The base `ETag` (a coding's suffix is added by `compress::coded_etag`).
    pub etag: Option<String>,
    /// It may carry `Last-Modified`, and may be kept by the caches: it was
    /// not changed within the racy window, nor in the response's second.
    pub dated: bool,
}

impl Validity {
    /// The validators of the file whose metadata is `meta`, read at
    /// `read_at`; `content` is its bytes when they were read whole.
    pub fn of(meta: &Metadata, content: Option<&[u8]>, read_at: SystemTime, racy_window: Duration) -> Validity {
        let racy = is_racy(changed_at(meta), read_at, racy_window);
        let etag = match content {
            Some(bytes) => Some(content_etag(bytes)),
            None if racy => None,
            None => Some(metadata_etag(meta)),
        };
        Validity { etag, dated: !racy && dated_before(meta.mtime(), read_at) }
    }
}

/// Whether a file last changed at `changed` (its later of ctime and mtime)
/// may still change without its metadata showing it, as seen at `read_at`,
/// the moment its bytes or metadata were read: less than `window`
/// (`Config::racy_window`, 1 s) before it, or later (a clock set back, a
/// future timestamp). Kernels before 6.13, ramfs and NFS advance file
/// timestamps once per clock tick (up to 10 ms) or coarser, so a same-size
/// rewrite within one tick leaves (size, mtime, ctime) unchanged; 1 s
/// covers every tick, as git's "racy git" rule does for its index. A racy
/// file is neither cached nor given validators, so nothing can later
/// confirm bytes that differ from what is on disk.
pub fn is_racy(changed: SystemTime, read_at: SystemTime, window: Duration) -> bool {
    match read_at.duration_since(changed) {
        Ok(age) => age < window,
        Err(_) => true,
    }
}

/// The later of a file's change and modification times.
pub fn changed_at(meta: &Metadata) -> SystemTime {
    let ctime = u64::try_from(meta.ctime())
        .ok()
        .and_then(|secs| UNIX_EPOCH.checked_add(Duration::new(secs, meta.ctime_nsec() as u32)))
        .unwrap_or(UNIX_EPOCH);
    meta.modified().map_or(ctime, |mtime| mtime.max(ctime))
}

/// The strong ETag of bytes read whole: the first [`DIGEST_HEX_DIGITS`] hex
/// digits of their BLAKE3, quoted.
pub fn content_etag(bytes: &[u8]) -> String {
    let digest = blake3::hash(bytes);
    let mut etag = String::with_capacity(DIGEST_HEX_DIGITS + 2);
    etag.push('"');
    for byte in &digest.as_bytes()[..DIGEST_HEX_DIGITS / 2] {
        etag.push(hex_digit(byte >> 4));
        etag.push(hex_digit(byte & 0xf));
    }
    etag.push('"');
    etag
}

fn hex_digit(nibble: u8) -> char {
    char::from(b"0123456789abcdef"[usize::from(nibble & 0xf)])
}

/// A strong validator from size and modification time (nanoseconds), for
/// files not read whole: it changes whenever the file is rewritten with a
/// new time, without reading its contents. No inode, so replicas serving
/// copies made with their times (rsync -a, a container image) agree, and a
/// revalidation landing on either gets its 304 (Apache 2.4 dropped the
/// inode from its default ETag for this reason).
pub fn metadata_etag(meta: &Metadata) -> String {
    let mtime_ns = meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128;
    etag_of(meta.len(), mtime_ns)
}

/// `"{size:x}-{mtime_ns:x}"`, written digit by digit: `format!` took a
/// tenth of a miss's user time, most of it in its `i128` formatting.
fn etag_of(len: u64, mtime_ns: i128) -> String {
    let mut etag = String::with_capacity(2 + 16 + 1 + 32);
    etag.push('"');
    push_hex(&mut etag, u128::from(len));
    etag.push('-');
    // `{:x}` of a negative `i128` (a time before 1970) is its two's
    // complement, which is what the cast gives.
    push_hex(&mut etag, mtime_ns as u128);
    etag.push('"');
    etag
}

/// Appends `n` in lower-case hex without leading zeros, as `{:x}` does.
fn push_hex(out: &mut String, n: u128) {
    let digits = (128 - n.leading_zeros()).div_ceil(4).max(1);
    for i in (0..digits).rev() {
        out.push(hex_digit((n >> (i * 4)) as u8));
    }
}

/// Whether a file last modified at `mtime_secs` (Unix time) was modified in
/// an earlier second than `read_at` (the response's): only then may it
/// carry `Last-Modified`. A date has whole seconds, so a file rewritten
/// later in the same second would keep the date a client already holds,
/// and `If-Modified-Since` would confirm its old copy (RFC 9110 §8.8.2.2;
/// apt's "Hash Sum mismatch").
fn dated_before(mtime_secs: i64, read_at: SystemTime) -> bool {
    let now = read_at.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    u64::try_from(mtime_secs).is_ok_and(|modified| modified < now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn racy(changed_ms_before_read: i64, expected: bool) {
        let read_at = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let changed = if changed_ms_before_read >= 0 {
            read_at - Duration::from_millis(changed_ms_before_read as u64)
        } else {
            read_at + Duration::from_millis(changed_ms_before_read.unsigned_abs())
        };
        let window = Duration::from_secs(1);
        assert_eq!(is_racy(changed, read_at, window), expected, "changed {changed_ms_before_read} ms before the read");
    }

    #[test]
    fn racy_files() {
        racy(0, true);
        racy(1, true);
        racy(999, true);
        racy(1000, false);
        racy(1001, false);
        racy(86_400_000, false);
        // In the future: a clock set back, or a timestamp set ahead.
        racy(-1, true);
        racy(-86_400_000, true);
        // A zero window trusts any past change, never a future one.
        let now = SystemTime::now();
        assert!(!is_racy(now, now, Duration::ZERO));
        assert!(is_racy(now + Duration::from_secs(1), now, Duration::ZERO));
    }

    fn content(bytes: &[u8], expected: &str) {
        assert_eq!(content_etag(bytes), expected, "{:?}", String::from_utf8_lossy(bytes));
    }

    #[test]
    fn content_etags_are_the_start_of_b3sum() {
        // `printf '' | b3sum` (BLAKE3's published vector), `printf abc | b3sum`, …
        content(b"", "\"af1349b9f5f9a1a6a0404dea36dcc949\"");
        content(b"abc", "\"6437b3ac38465133ffb63b75273a8db5\"");
        content(b"abd", "\"90bfae301eb52a7298ef6a1408b29b37\"");
        content(&[0u8; 65536], "\"3bdeaf8f8e98780b318106aafdc3ca25\"");
        // Same size, one byte apart: nothing alike.
        assert_ne!(content_etag(b"version 1"), content_etag(b"version 2"));
    }

    fn etag_case(len: u64, mtime_ns: i128) {
        assert_eq!(etag_of(len, mtime_ns), format!("\"{len:x}-{mtime_ns:x}\""), "{len} {mtime_ns}");
    }

    #[test]
    fn metadata_etags_are_what_format_wrote() {
        etag_case(0, 0);
        etag_case(1, 15);
        etag_case(16, 16);
        etag_case(4096, 1_764_633_600_123_456_789);
        etag_case(u64::MAX, i128::MAX);
        // Before 1970, and the extremes.
        etag_case(7, -1);
        etag_case(7, -1_000_000_000);
        etag_case(7, i128::MIN);
    }

    fn dated(mtime_secs: i64, read_at_ms: u64, expected: bool) {
        let read_at = UNIX_EPOCH + Duration::from_millis(read_at_ms);
        assert_eq!(dated_before(mtime_secs, read_at), expected, "mtime {mtime_secs} s, read at {read_at_ms} ms");
    }

    #[test]
    fn last_modified_only_for_an_earlier_second() {
        dated(999, 1_000_000, true);
        dated(1000, 1_000_000, false);
        dated(1000, 1_000_999, false);
        dated(1000, 1_001_000, true);
        dated(2000, 1_000_000, false);
        dated(-1, 1_000_000, false);
    }

    #[test]
    fn racy_files_keep_a_content_tag_and_lose_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        let now = SystemTime::now();
        let window = Duration::from_secs(3600);
        let racy = Validity::of(&meta, Some(b"abc"), now, window);
        assert_eq!(racy, Validity { etag: Some("\"6437b3ac38465133ffb63b75273a8db5\"".into()), dated: false });
        assert_eq!(Validity::of(&meta, None, now, window), Validity { etag: None, dated: false });
        let later = now + Duration::from_secs(7200);
        let settled = Validity::of(&meta, None, later, window);
        assert_eq!(settled, Validity { etag: Some(metadata_etag(&meta)), dated: true });
        assert!(settled.etag.is_some_and(|tag| tag.starts_with("\"3-")));
    }
}
