//! Fuzzes the request head parser the way the server drives it: bytes arrive
//! in arbitrary chunks, are appended to a growing buffer, and the buffer is
//! parsed again after every append. Pipelined requests follow one another.
//!
//! Input layout (see fuzz/README.md):
//! - byte 0, the control byte:
//!   - bits 0..=2: `k`, how many chunk-size bytes follow (0..=7);
//!   - bit 3: when set, `max_headers` is bits 4..=7 (0..=15), else
//!     `config::MAX_HEADERS` (the server's default);
//! - the next `k` bytes: chunk sizes, each `byte + 1` (1..=256), used in
//!   turn and cycled; with `k == 0` every chunk is one byte, so every prefix
//!   is parsed;
//! - the rest: the bytes a client sends on one connection.
//!
//! Each buffer is parsed as the connection does: `parse`, and on
//! `Err(MinorVersion)` (`HTTP/1.x`, x >= 2) `parse` again on `as_http11`'s
//! copy when there is one.
//!
//! Properties asserted (a failure panics, which libFuzzer reports as a crash):
//! - `parse` never panics;
//! - once a prefix gives `Ok(Some(req))` or `Err(e)`, every longer buffer gives
//!   the same outcome (a complete head with the same head_len, method, target,
//!   version, framing, persistence and header fields, or the same error),
//!   and that outcome is the one the whole input gives; if the whole input is
//!   `Ok(None)` no prefix is complete or an error;
//! - for `Ok(Some(req))`: `0 < head_len <= buf.len()`, the head ends in a line
//!   feed and parses alone to the same request; `target` is non-empty, is a
//!   substring of the head and points into the buffer (or is the literal "/"
//!   of an absolute-form target without a path); `path()` has no '?' and
//!   `path() + query() == target`; `method` agrees with `method_str`; at most
//!   `max_headers` fields;
//! - framing: `BodyLength::Length(n)` only with a Content-Length field (every
//!   one of them equal to n > 0) and no Transfer-Encoding; `Chunked` only with
//!   exactly one Transfer-Encoding, no Content-Length, on HTTP/1.1; `None`
//!   with no Transfer-Encoding and any Content-Length equal to 0;
//! - HTTP/1.1 has exactly one Host field, HTTP/1.0 at most one;
//! - `keep_alive` is false whenever a Connection field lists `close`;
//! - `parse` never returns the errors that only the connection raises
//!   (HeadTooLarge, TargetTooLong, BodyTooLarge).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rawserve::fuzzing::{as_http11, parse, BodyLength, Method, Request, RequestError, Version, MAX_HEADERS};

/// Most pipelined requests followed in one input.
const MAX_PIPELINED: usize = 16;

/// An owned copy of everything `parse` decided, to compare across prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Incomplete,
    Complete(Head),
    Failed(RequestError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Head {
    head_len: usize,
    method: Method,
    method_str: String,
    target: String,
    version: Version,
    body: BodyLength,
    keep_alive: bool,
    fields: Vec<(String, Vec<u8>)>,
}

impl Head {
    fn of(req: &Request<'_>) -> Head {
        Head {
            head_len: req.head_len(),
            method: req.method_kind(),
            method_str: req.method().to_owned(),
            target: req.target().to_owned(),
            version: req.version(),
            body: req.framing(),
            keep_alive: req.keep_alive(),
            fields: req.headers().map(|(n, v)| (n.to_owned(), v.to_vec())).collect(),
        }
    }
}

/// Chunk sizes taken in turn from the size bytes (cycled), or 1 when none.
struct Chunks<'a> {
    sizes: &'a [u8],
    next: usize,
}

impl Chunks<'_> {
    fn next_size(&mut self) -> usize {
        if self.sizes.is_empty() {
            return 1;
        }
        let size = self.sizes[self.next % self.sizes.len()] as usize + 1;
        self.next += 1;
        size
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// `1*DIGIT` after trimming, as RFC 9110 §8.6 allows; `None` otherwise.
fn content_length(value: &[u8]) -> Option<u64> {
    let digits = value.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Parses `buf` as the connection does (an `HTTP/1.x` head with x >= 2 is
/// parsed again as HTTP/1.1 when its request line is complete), checks the
/// properties of a single result, and returns it owned.
fn outcome(buf: &[u8], max_headers: usize) -> Outcome {
    match parse(buf, max_headers) {
        Err(RequestError::MinorVersion) => match as_http11(buf) {
            Some(copy) => {
                assert_eq!(copy.len(), buf.len(), "as_http11 changed the length");
                checked(parse(&copy, max_headers), &copy, max_headers)
            }
            None => Outcome::Failed(RequestError::MinorVersion),
        },
        parsed => checked(parsed, buf, max_headers),
    }
}

fn checked(parsed: Result<Option<Request<'_>>, RequestError>, buf: &[u8], max_headers: usize) -> Outcome {
    match parsed {
        Ok(None) => Outcome::Incomplete,
        Err(e) => {
            assert!(
                !matches!(e, RequestError::HeadTooLarge | RequestError::TargetTooLong | RequestError::BodyTooLarge),
                "parse returned {e:?}, which only the connection may raise"
            );
            Outcome::Failed(e)
        }
        Ok(Some(req)) => {
            check_complete(&req, buf, max_headers);
            let head = Head::of(&req);
            // The head alone (nothing after its blank line) is the same request.
            match parse(&buf[..req.head_len()], max_headers) {
                Ok(Some(again)) => assert_eq!(Head::of(&again), head, "head alone parses differently"),
                other => panic!("head alone (len {}) gives {other:?}", req.head_len()),
            }
            Outcome::Complete(head)
        }
    }
}

fn check_complete(req: &Request<'_>, buf: &[u8], max_headers: usize) {
    assert!(req.head_len() > 0, "empty head");
    assert!(req.head_len() <= buf.len(), "head_len {} > buffer {}", req.head_len(), buf.len());
    let head = &buf[..req.head_len()];
    assert!(head.ends_with(b"\n"), "head does not end in a line feed");

    // Target: non-empty, taken from the head, query split.
    assert!(!req.target().is_empty(), "empty target");
    assert!(contains(head, req.target().as_bytes()), "target {:?} is not in the head", req.target());
    let inside = buf.as_ptr_range().contains(&req.target().as_ptr());
    assert!(inside || req.target() == "/", "target {:?} does not borrow from the buffer", req.target());
    assert!(!req.path().contains('?'), "path {:?} contains '?'", req.path());
    assert_eq!(format!("{}{}", req.path(), req.query()), req.target(), "path + query != target");

    // Method.
    assert!(contains(head, req.method().as_bytes()), "method not in the head");
    let expected = match req.method() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        _ => Method::Other,
    };
    assert_eq!(req.method_kind(), expected, "method {:?} for {:?}", req.method_kind(), req.method());

    // Fields.
    let fields: Vec<(&str, &[u8])> = req.headers().collect();
    assert!(fields.len() <= max_headers.min(MAX_HEADERS), "{} fields > limit {max_headers}", fields.len());
    let named = |name: &'static str| fields.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|&(_, v)| v);
    let lengths: Vec<&[u8]> = named("content-length").collect();
    let encodings = named("transfer-encoding").count();
    let hosts = named("host").count();

    // Framing (RFC 9112 §6.3).
    match req.framing() {
        BodyLength::Length(n) => {
            assert!(n > 0, "Length(0) instead of None");
            assert!(!lengths.is_empty(), "Length({n}) without a Content-Length field");
            for v in &lengths {
                assert_eq!(content_length(v), Some(n), "Length({n}) but Content-Length {v:?}");
            }
            assert_eq!(encodings, 0, "Length({n}) with Transfer-Encoding");
        }
        BodyLength::Chunked => {
            assert_eq!(encodings, 1, "Chunked with {encodings} Transfer-Encoding fields");
            assert!(lengths.is_empty(), "Chunked with Content-Length (smuggling)");
            assert_eq!(req.version(), Version::Http11, "Chunked on HTTP/1.0");
        }
        BodyLength::None => {
            assert_eq!(encodings, 0, "no body but Transfer-Encoding");
            for v in &lengths {
                assert_eq!(content_length(v), Some(0), "no body but Content-Length {v:?}");
            }
        }
    }

    // Host (RFC 9112 §3.2).
    match req.version() {
        Version::Http11 => assert_eq!(hosts, 1, "HTTP/1.1 with {hosts} Host fields"),
        Version::Http10 => assert!(hosts <= 1, "HTTP/1.0 with {hosts} Host fields"),
    }

    // Persistence.
    let close =
        named("connection").any(|v| v.split(|&b| b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close")));
    assert!(!(close && req.keep_alive()), "keep_alive despite Connection: close");
}

/// Feeds `stream` chunk by chunk into a growing buffer, parsing after every
/// append, and checks that the outcome never changes once settled and agrees
/// with parsing `stream` whole. Returns the bytes the request occupies (head
/// and body) when another request may follow it on the connection.
fn check_request(stream: &[u8], chunks: &mut Chunks<'_>, max_headers: usize) -> Option<usize> {
    let whole = outcome(stream, max_headers);

    let mut buf: Vec<u8> = Vec::new();
    let mut settled: Option<(usize, Outcome)> = None;
    while buf.len() < stream.len() {
        let end = (buf.len() + chunks.next_size()).min(stream.len());
        buf.extend_from_slice(&stream[buf.len()..end]);
        let now = outcome(&buf, max_headers);
        match &settled {
            Some((at, before)) => assert_eq!(
                &now,
                before,
                "outcome changed: prefix of {at} bytes gave {before:?}, prefix of {} bytes gives {now:?}",
                buf.len()
            ),
            None if now != Outcome::Incomplete => settled = Some((buf.len(), now)),
            None => {}
        }
    }

    match (&settled, &whole) {
        (None, Outcome::Incomplete) => None,
        (None, _) => panic!("every prefix incomplete, but the whole {} bytes give {whole:?}", stream.len()),
        (Some((at, before)), Outcome::Incomplete) => {
            panic!("whole input incomplete, but the prefix of {at} bytes gave {before:?}")
        }
        (Some((at, before)), _) => {
            assert_eq!(before, &whole, "prefix of {at} bytes and the whole input disagree");
            match whole {
                Outcome::Complete(Head { head_len, body: BodyLength::None, .. }) => Some(head_len),
                Outcome::Complete(Head { head_len, body: BodyLength::Length(n), .. }) => {
                    usize::try_from(n).ok().and_then(|n| head_len.checked_add(n))
                }
                // A chunked body is not decoded: the server answers and closes.
                _ => None,
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else { return };
    let k = usize::from(control & 0b111).min(rest.len());
    let max_headers = if control & 0b1000 != 0 { usize::from(control >> 4) } else { MAX_HEADERS };
    let (sizes, stream) = rest.split_at(k);
    let mut chunks = Chunks { sizes, next: 0 };

    let mut offset = 0;
    for _ in 0..MAX_PIPELINED {
        match check_request(&stream[offset..], &mut chunks, max_headers) {
            Some(used) if used > 0 && used <= stream.len() - offset => offset += used,
            _ => break,
        }
    }
});
