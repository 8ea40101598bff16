//! Files compressed while they are sent, for every request: those too
//! large to compress once and keep (`FileOptions::compress_max_file`).
//! [`Streamed`] reads a slice, compresses it and hands it on as one piece
//! of the body (the connection frames it as an HTTP/1.1 chunk), only when
//! the connection has room for more.
//!
//! Streams are the one place where a client can make the server spend CPU
//! and memory per request without bound, so they are held down three ways
//! (issue 20): a cheaper level than kept bytes get
//! ([`FileOptions::compress_stream_level`], 1 by default: measured below),
//! a charge on the server's memory budget for each coder's state
//! ([`stream_memory`], taken from the budget's spare share; with no room
//! the file goes uncompressed), and a time slice per connection turn (the
//! connection's `STREAM_TURN_TIME`). A coder's state is dropped as soon as
//! its stream ends, and the charge released with it, which lets the worker
//! hand the freed heap back to the OS.
//!
//! [`FileOptions::compress_stream_level`]: crate::config::FileOptions::compress_stream_level

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::{Encoder, Levels, DEFAULT_LEVEL};
use crate::budget::{self, Charge};
use crate::config::FileOptions;
use crate::http::encoding::Coding;
use crate::http::response::{Stream, STREAM_PIECE};
use crate::metrics::Compression;

/// Bytes of the file read and compressed per step of a streamed body: the
/// size of one output chunk before compression, and with the coder's state
/// the memory one streamed response holds.
const STREAM_SLICE: usize = STREAM_PIECE;

/// Buffers a stream holds beside its coder: the slice read from the file,
/// the coder's output, and the piece in the connection's output buffer.
const STREAM_BUFFERS: usize = 3 * STREAM_SLICE;

/// The levels large files are compressed at while sent: the
/// `compress_stream_level` of `options`, or their `compress` level if lower.
///
/// Why 1 by default: these bytes are made anew for every request, so CPU
/// per byte is what a client can multiply. Measured on a 6 MiB text (the
/// Rust book's HTML), 64 KiB slices, one core, MB/s of input and ratio:
/// gzip 1 185, 3.2; gzip 6 40, 4.8; brotli 1 214, 3.9; brotli 4 101, 6.6;
/// brotli 5 (the kept level) 59, 5.5 (flushed per slice it does worse
/// than 4); zstd 1 523, 6.1; zstd 3 307, 7.0. Level 1 makes brotli 3.6
/// times cheaper than before, zstd (what browsers get first) 1.5 times.
/// nginx and Caddy compress on the fly at gzip 1 to 5.
pub fn stream_levels(options: &FileOptions) -> Levels {
    let kept = options.compress.unwrap_or(DEFAULT_LEVEL);
    Levels::of(options.compress_stream_level.min(kept))
}

/// Memory one stream of `coding` at `levels` holds, at most: its coder's
/// state at the streamed windows, and its buffers. Measured (glibc's
/// `mallinfo2`, the largest in use while compressing a 6 MiB text in 64
/// KiB slices) and rounded up by about 5 %; what the budget is charged.
pub fn stream_memory(coding: Coding, levels: Levels) -> usize {
    const KIB: usize = 1024;
    let coder = match coding {
        Coding::Identity => 0,
        // miniz_oxide's deflate state: the same at every level.
        Coding::Gzip => 430 * KIB,
        // At a window of 2^20 (the streamed maximum), by quality 0 to 11.
        Coding::Brotli => {
            const BY_QUALITY: [usize; 12] = [330, 480, 2820, 2820, 3750, 4310, 5390, 11870, 20470, 37880, 12570, 12570];
            BY_QUALITY[(levels.brotli as usize).min(11)] * KIB
        }
        // At a window of 2^18 (`STREAM_ZSTD_WINDOW`).
        Coding::Zstd => {
            let kib = match levels.zstd {
                ..=1 => 1210,
                2 => 1410,
                3 => 1950,
                4 => 3290,
                5..=12 => 3830,
                _ => 6250,
            };
            kib * KIB
        }
    };
    coder + STREAM_BUFFERS
}

/// Streamed compressions in flight across all workers of one folder, so
/// that many slow clients of a large file cannot make the server hold a
/// coder state each without bound: at most `FileOptions::compress_streams`
/// at once, each charged to the server's memory budget.
#[derive(Debug, Default)]
pub struct Streams(Arc<AtomicUsize>);

impl Streams {
    /// A permit for one more stream holding `memory` bytes, or `None` when
    /// `limit` are running or the budget of this worker's server has no
    /// spare room for it (see `budget::MemoryBudget::try_take_spare`).
    pub fn start(&self, limit: usize, memory: usize) -> Option<StreamPermit> {
        let charge = match budget::current() {
            Some(budget) => Some(Charge::spare(budget, memory)?),
            // Outside a server's worker (a handler called directly): no budget.
            None => None,
        };
        let counter = &self.0;
        // (A refusal here drops the charge, giving it back.)
        counter.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < limit).then_some(n + 1)).ok()?;
        Some(StreamPermit { running: Arc::clone(counter), _charge: charge })
    }

    #[cfg(test)]
    fn running(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
}

/// One running stream; dropping it (the response finished or the
/// connection closed) frees its place and its share of the budget.
#[derive(Debug)]
pub struct StreamPermit {
    running: Arc<AtomicUsize>,
    /// Held for the stream's life; given back when the permit drops.
    _charge: Option<Charge>,
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        self.running.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Turn cost of one compressed piece (see [`Stream::turn_cost`]):
/// compressing costs far more CPU per byte than sending, so a turn
/// compresses about 1 MiB, a few milliseconds, before the worker's other
/// connections get theirs.
const PIECE_TURN_COST: u64 = 256 * 1024;

/// A file body compressed as it is sent (framed by the connection as
/// HTTP/1.1 chunks). The coder is made at the first piece, so a `HEAD`
/// costs nothing.
pub struct Streamed {
    file: File,
    coding: Coding,
    levels: Levels,
    encoder: Option<Encoder>,
    /// The file's length when the response was decided: exactly that much
    /// is read, so a file that grows is not sent past the version promised,
    /// and one that shrinks ends the connection without the last chunk.
    len: u64,
    offset: u64,
    input: Vec<u8>,
    _permit: StreamPermit,
}

impl std::fmt::Debug for Streamed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Streamed({}, {}/{})", self.coding.token(), self.offset, self.len)
    }
}

impl Streamed {
    pub fn new(file: File, coding: Coding, levels: Levels, len: u64, permit: StreamPermit) -> Streamed {
        Streamed { file, coding, levels, encoder: None, len, offset: 0, input: Vec::new(), _permit: permit }
    }
}

impl Stream for Streamed {
    fn fill(&mut self, out: &mut Vec<u8>) -> io::Result<bool> {
        let started = self.encoder.is_none();
        if started {
            self.encoder = Some(Encoder::new(self.coding, self.levels, self.len, true)?);
            self.input = vec![0; STREAM_SLICE];
        }
        let Some(encoder) = self.encoder.as_mut() else { return Ok(false) };
        let want = (self.len - self.offset).min(STREAM_SLICE as u64) as usize;
        let mut read = 0;
        if want > 0 {
            read = self.file.read_at(&mut self.input[..want], self.offset)?;
            if read == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file truncated while compressing"));
            }
            self.offset += read as u64;
            encoder.write(&self.input[..read])?;
        }
        let before = out.len();
        let more = self.offset < self.len;
        if more {
            encoder.end_slice()?;
            let output = encoder.output();
            out.extend_from_slice(output);
            output.clear();
        } else if let Some(encoder) = self.encoder.take() {
            out.extend_from_slice(&encoder.finish()?);
            self.input = Vec::new();
        }
        let made = (out.len() - before) as u64;
        crate::metrics::count(|metrics| {
            metrics.count_compression(self.coding, Compression::Stream, started, read as u64, made)
        });
        Ok(more)
    }

    fn turn_cost(&self) -> u64 {
        PIECE_TURN_COST
    }
}

#[cfg(test)]
mod tests {
    use super::super::decode;
    use super::super::tests::text;
    use super::*;
    use crate::http::encoding::COMPRESSED;
    use std::fs;

    /// The chunked body `Streamed` makes for `data` (framed as the
    /// connection frames it), decoded (unchunked).
    fn stream(data: &[u8], coding: Coding) -> (Vec<u8>, usize) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, data).unwrap();
        let file = File::open(&path).unwrap();
        let streams = Streams::default();
        let mut body =
            Streamed::new(file, coding, Levels::of(DEFAULT_LEVEL), data.len() as u64, streams.start(1, 0).unwrap());
        assert!(streams.start(1, 0).is_none(), "one stream at a time");
        let mut wire = Vec::new();
        let mut steps = 0;
        loop {
            let mut out = Vec::new();
            let more = crate::http1::encode::next_piece(&mut body, true, &mut out).unwrap();
            assert!(out.len() <= 2 * STREAM_SLICE, "one step writes about one slice");
            wire.extend_from_slice(&out);
            steps += 1;
            if !more {
                break;
            }
        }
        drop(body);
        assert_eq!(streams.running(), 0, "the permit is returned");
        // Unchunk.
        let mut packed = Vec::new();
        let mut rest = &wire[..];
        loop {
            let line_end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size = usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap(), 16).unwrap();
            rest = &rest[line_end + 2..];
            if size == 0 {
                assert_eq!(rest, b"\r\n", "nothing after the last chunk");
                break;
            }
            packed.extend_from_slice(&rest[..size]);
            assert_eq!(&rest[size..size + 2], b"\r\n");
            rest = &rest[size + 2..];
        }
        (decode(&packed, coding), steps)
    }

    #[test]
    fn streamed_bodies_are_valid_chunks_of_the_coding() {
        let data = text(1024 * 1024 + 17);
        for coding in COMPRESSED {
            let (decoded, steps) = stream(&data, coding);
            assert!(decoded == data, "{coding:?}: the stream decodes to the file");
            assert!(steps >= data.len() / STREAM_SLICE, "{coding:?}: {steps} steps");
        }
        assert_eq!(stream(b"", Coding::Gzip).0, b"");
    }

    #[test]
    fn a_truncated_file_fails_the_stream() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, text(1000)).unwrap();
        let file = File::open(&path).unwrap();
        let streams = Streams::default();
        let mut body = Streamed::new(file, Coding::Zstd, Levels::of(3), 5000, streams.start(1, 0).unwrap());
        let mut out = Vec::new();
        assert!(body.fill(&mut out).unwrap(), "more to come after the first slice");
        assert_eq!(body.fill(&mut out).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn stream_permits_are_bounded() {
        let streams = Streams::default();
        let a = streams.start(2, 0).unwrap();
        let _b = streams.start(2, 0).unwrap();
        assert!(streams.start(2, 0).is_none());
        drop(a);
        assert!(streams.start(2, 0).is_some());
        assert!(streams.start(0, 0).is_none());
    }

    #[test]
    fn stream_permits_take_spare_memory_from_the_workers_budget_and_give_it_back() {
        std::thread::spawn(|| {
            let budget = Arc::new(crate::budget::MemoryBudget::new(1000));
            crate::budget::enter(Arc::clone(&budget));
            let streams = Streams::default();
            let a = streams.start(10, 300).expect("room");
            let b = streams.start(10, 200).expect("room: 500 is half");
            assert_eq!(budget.used(), 500);
            assert!(streams.start(10, 1).is_none(), "past the spare half: uncompressed");
            assert_eq!(streams.running(), 2, "a refused stream takes no place");
            drop(a);
            assert_eq!(budget.used(), 200);
            let c = streams.start(1, 100);
            assert!(c.is_none(), "past the count, the memory taken is given back");
            assert_eq!(budget.used(), 200);
            drop(b);
            assert_eq!((budget.used(), streams.running()), (0, 0));
        })
        .join()
        .expect("the worker thread's checks pass");
    }

    #[test]
    fn streams_are_cheaper_than_kept_bytes_and_charged_what_they_hold() {
        let mut options = FileOptions::new("/");
        assert_eq!(stream_levels(&options), Levels { gzip: 1, brotli: 1, zstd: 1 });
        options.compress = Some(9);
        options.compress_stream_level = 4;
        assert_eq!(stream_levels(&options), Levels::of(4));
        options.compress = Some(2);
        assert_eq!(stream_levels(&options), Levels::of(2), "never above the kept level");
        options.compress = None;
        assert_eq!(stream_levels(&options), Levels::of(4), "(compress off never streams; the default caps)");
        const KIB: usize = 1024;
        // (coding, --compress level, at least, at most): each measured
        // coder state plus three 64 KiB buffers.
        let cases = [
            (Coding::Gzip, 1, 600 * KIB, 650 * KIB),
            (Coding::Gzip, 9, 600 * KIB, 650 * KIB),
            (Coding::Brotli, 1, 640 * KIB, 700 * KIB),
            (Coding::Brotli, 6, 4400 * KIB, 4600 * KIB),
            (Coding::Brotli, 8, 20 << 20, 21 << 20),
            (Coding::Zstd, 1, 1350 * KIB, 1450 * KIB),
            (Coding::Zstd, 6, 2100 * KIB, 2200 * KIB),
            (Coding::Zstd, 9, 6300 * KIB, 6500 * KIB),
            (Coding::Identity, 6, 192 * KIB, 192 * KIB),
        ];
        for (coding, level, least, most) in cases {
            let memory = stream_memory(coding, Levels::of(level));
            assert!((least..=most).contains(&memory), "{coding:?} at {level}: {memory}");
        }
    }
}
