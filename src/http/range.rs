//! Byte ranges (RFC 9110 §14): parsing a `Range` header against a known
//! representation length, and framing a `multipart/byteranges` body.
//!
//! [`parse`] decides between a full response, one range, several ranges or
//! 416, and defends against amplification (too many specs, overlapping or
//! tiny-gap ranges). [`multipart`] computes the exact bytes that surround each
//! file slice and the total `Content-Length`, so the caller can stream the
//! file without buffering. Everything here is pure: evaluating `If-Range`
//! (see `precondition`), choosing the boundary, reading the file and writing
//! the status line are left to the caller.

/// Ranges separated by fewer bytes than this are merged into one part.
///
/// RFC 9110 §14.2 lets a server coalesce ranges "separated by a gap that is
/// smaller than the overhead of sending multiple parts". A part head
/// (boundary line, `Content-Type`, `Content-Range`, blank lines) costs roughly
/// 80 bytes, so sending the gap is never more expensive than a new part. This
/// is a deliberate choice: Apache coalesces, nginx does not. Coalescing also
/// bounds the response: parts never overlap, so a body can never exceed the
/// file length plus per-part overhead, however the ranges were written
/// (no separate "sum of ranges > 2 × length" check is needed).
pub const COALESCE_GAP: u64 = 80;

/// The only range unit this server understands (matched case-insensitively).
const BYTES_UNIT: &str = "bytes";

/// A satisfiable byte range, inclusive start, exclusive end (end > start, end <= len).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

impl ByteRange {
    /// Number of bytes in the range.
    pub fn len(&self) -> u64 {
        // Saturating so a hand-built, inverted range cannot panic; parse()
        // never produces one.
        self.end.saturating_sub(self.start)
    }

    /// True only for a malformed, hand-built range; parse() never returns one.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// The `Content-Range` value for this range, e.g. `bytes 0-9/100`
    /// (the header's last-pos is inclusive, ours is exclusive).
    pub fn content_range(&self, total: u64) -> String {
        format!("bytes {}-{}/{}", self.start, self.end.saturating_sub(1), total)
    }
}

/// What to send in answer to a `Range` header.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeOutcome {
    /// No usable Range header (absent, not "bytes=", syntactically invalid): serve the whole representation with 200. RFC says an invalid Range is ignored.
    Full,
    /// One range after coalescing: 206 with Content-Range.
    Single(ByteRange),
    /// Several disjoint ranges, sorted ascending, coalesced: 206 multipart/byteranges.
    Multiple(Vec<ByteRange>),
    /// Syntactically valid but none satisfiable: 416 with "Content-Range: bytes */len".
    Unsatisfiable,
}

/// One range-spec before it is resolved against the length.
enum Spec {
    /// `a-b` (`last` is `None` for `a-`).
    FromTo { first: u64, last: Option<u64> },
    /// `-n`: the last n bytes.
    Suffix(u64),
}

/// Parses `header` (the `Range` field value) for a representation of `len`
/// bytes. More than `max_ranges` range-specs make the whole header ignored
/// (`Full`), so a client can never make us send more parts than that.
pub fn parse(header: &str, len: u64, max_ranges: usize) -> RangeOutcome {
    let Some((unit, set)) = trim_ows(header).split_once('=') else {
        return RangeOutcome::Full;
    };
    if !unit.eq_ignore_ascii_case(BYTES_UNIT) {
        return RangeOutcome::Full;
    }

    let mut ranges = Vec::new();
    let mut specs = 0usize;
    // RFC 9110 §5.6.1.2: empty list elements ("a,,b") are skipped, but at
    // least one real spec is required.
    for element in set.split(',').map(trim_ows).filter(|e| !e.is_empty()) {
        specs += 1;
        if specs > max_ranges {
            return RangeOutcome::Full;
        }
        let Some(spec) = parse_spec(element) else {
            return RangeOutcome::Full;
        };
        if let Some(range) = resolve(spec, len) {
            ranges.push(range);
        }
    }
    if specs == 0 {
        return RangeOutcome::Full;
    }

    let mut merged = coalesce(ranges);
    match merged.len() {
        0 => RangeOutcome::Unsatisfiable,
        1 => RangeOutcome::Single(merged.remove(0)),
        _ => RangeOutcome::Multiple(merged),
    }
}

/// The `Content-Range` value that accompanies a 416, e.g. `bytes */100`.
pub fn unsatisfied_content_range(total: u64) -> String {
    format!("bytes */{total}")
}

/// Strips optional whitespace (SP / HTAB only, RFC 9110 §5.6.3).
use super::syntax::trim_ows;

/// Parses one range-spec; `None` means the whole header is invalid.
fn parse_spec(spec: &str) -> Option<Spec> {
    let (first, last) = spec.split_once('-')?;
    if first.is_empty() {
        return Some(Spec::Suffix(parse_digits(last)?));
    }
    let first = parse_digits(first)?;
    if last.is_empty() {
        return Some(Spec::FromTo { first, last: None });
    }
    let last = parse_digits(last)?;
    // RFC 9110 §14.1.1: last-pos < first-pos makes the range-spec invalid,
    // and an invalid Range is ignored as a whole.
    if last < first {
        return None;
    }
    Some(Spec::FromTo { first, last: Some(last) })
}

/// 1*DIGIT as a u64. Rejects signs, spaces and overflow, which
/// `u64::from_str` would partly accept (it takes a leading `+`).
fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.bytes().try_fold(0u64, |acc, b| {
        if !b.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// Turns a spec into a satisfiable range, or `None` if it is unsatisfiable.
fn resolve(spec: Spec, len: u64) -> Option<ByteRange> {
    let range = match spec {
        Spec::FromTo { first, last } => {
            if first >= len {
                return None;
            }
            // last-pos past the end is clamped (RFC 9110 §14.1.2).
            let end = last.map_or(len, |last| last.saturating_add(1).min(len));
            ByteRange { start: first, end }
        }
        // `-0` asks for nothing and an empty file has no last bytes: both
        // are unsatisfiable rather than invalid.
        Spec::Suffix(0) => return None,
        Spec::Suffix(n) => ByteRange { start: len.saturating_sub(n), end: len },
    };
    (!range.is_empty()).then_some(range)
}

/// Sorts ranges and merges those that overlap, touch or are separated by
/// less than [`COALESCE_GAP`] bytes.
fn coalesce(mut ranges: Vec<ByteRange>) -> Vec<ByteRange> {
    ranges.sort_unstable_by_key(|r| (r.start, r.end));
    let mut merged: Vec<ByteRange> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start.saturating_sub(last.end) < COALESCE_GAP => {
                last.end = last.end.max(range.end);
            }
            _ => merged.push(range),
        }
    }
    merged
}

/// Builds the framing for a multipart/byteranges body: for each range, the part head bytes that precede that file slice, and the closing delimiter; plus the exact total length.
///
/// The body is `head[0] slice[0] head[1] slice[1] ... trailer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multipart {
    pub boundary: String,
    pub part_heads: Vec<Vec<u8>>,
    pub trailer: Vec<u8>,
    pub content_length: u64,
}

impl Multipart {
    /// The response's `Content-Type` value for this body.
    pub fn content_type(&self) -> String {
        format!("multipart/byteranges; boundary={}", self.boundary)
    }
}

/// Frames `ranges` (as returned in [`RangeOutcome::Multiple`]) of a
/// `total`-byte representation of type `content_type`.
///
/// The first part starts directly with `--BOUNDARY`, as in the RFC 9110 §14.6
/// example; every later part's head starts with the CRLF that ends the
/// previous slice. The caller must pick a boundary that cannot occur in the
/// file (e.g. random, up to 70 characters, RFC 2046 §5.1.1) and a
/// `content_type` without CR or LF; both are trusted here.
pub fn multipart(ranges: &[ByteRange], total: u64, content_type: &str, boundary: &str) -> Multipart {
    let part_heads: Vec<Vec<u8>> = ranges
        .iter()
        .enumerate()
        .map(|(i, range)| {
            let lead = if i == 0 { "" } else { "\r\n" };
            format!(
                "{lead}--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: {}\r\n\r\n",
                range.content_range(total)
            )
            .into_bytes()
        })
        .collect();
    let trailer = format!("\r\n--{boundary}--\r\n").into_bytes();

    let framing = part_heads.iter().map(Vec::len).sum::<usize>() + trailer.len();
    let content_length = ranges.iter().fold(framing as u64, |acc, range| acc.saturating_add(range.len()));
    Multipart { boundary: boundary.to_owned(), part_heads, trailer, content_length }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEN: u64 = 10_000;
    const MAX: usize = 8;

    fn r(start: u64, end: u64) -> ByteRange {
        ByteRange { start, end }
    }
    fn full(h: &str) {
        assert_eq!(parse(h, LEN, MAX), RangeOutcome::Full, "{h:?}");
    }
    fn single(h: &str, start: u64, end: u64) {
        assert_eq!(parse(h, LEN, MAX), RangeOutcome::Single(r(start, end)), "{h:?}");
    }
    fn multiple(h: &str, expected: &[(u64, u64)]) {
        let expected = expected.iter().map(|&(s, e)| r(s, e)).collect();
        assert_eq!(parse(h, LEN, MAX), RangeOutcome::Multiple(expected), "{h:?}");
    }
    fn unsatisfiable(h: &str) {
        assert_eq!(parse(h, LEN, MAX), RangeOutcome::Unsatisfiable, "{h:?}");
    }
    fn with_len(h: &str, len: u64, expected: RangeOutcome) {
        assert_eq!(parse(h, len, MAX), expected, "{h:?} len {len}");
    }

    #[test]
    fn single_ranges() {
        single("bytes=0-0", 0, 1);
        single("bytes=0-9", 0, 10);
        single("bytes=100-", 100, LEN);
        single("bytes=0-", 0, LEN);
        single("bytes=9999-", 9999, LEN);
        single("bytes=-1", 9999, LEN);
        single("bytes=-500", 9500, LEN);
        single("bytes=5-5", 5, 6);
    }

    #[test]
    fn clamping() {
        single("bytes=9990-20000", 9990, LEN);
        single("bytes=0-18446744073709551615", 0, LEN);
        single("bytes=-20000", 0, LEN);
        single("bytes=-18446744073709551615", 0, LEN);
    }

    #[test]
    fn unit_and_whitespace() {
        single("BYTES=0-9", 0, 10);
        single("Bytes=0-9", 0, 10);
        single("  bytes=0-9  ", 0, 10);
        single("bytes= 0-9 ", 0, 10);
        single("bytes=\t0-9\t", 0, 10);
        multiple("bytes=0-9 , 500-599", &[(0, 10), (500, 600)]);
        multiple("bytes=0-9,\t500-599", &[(0, 10), (500, 600)]);
        single("bytes=,0-9,", 0, 10);
        single("bytes=0-9,,,", 0, 10);
    }

    #[test]
    fn invalid_headers_are_ignored() {
        full("");
        full("bytes");
        full("bytes=");
        full("bytes=,");
        full("bytes= , ");
        full("items=0-9");
        full("bytes =0-9");
        full("byte=0-9");
        full("bytes=0");
        full("bytes=-");
        full("bytes=a-b");
        full("bytes=0-9x");
        full("bytes=+1-9");
        full("bytes=0-+9");
        full("bytes=-+5");
        full("bytes=0 - 9");
        full("bytes=0--9");
        full("bytes=1-2-3");
        full("bytes=0x10-0x20");
        full("bytes=\u{661}-9");
        full("bytes=0-9;q=1");
    }

    #[test]
    fn inverted_range_invalidates_whole_header() {
        full("bytes=9-0");
        full("bytes=0-9, 20-10");
        full("bytes=20000-10");
    }

    #[test]
    fn overflow_is_invalid() {
        full("bytes=18446744073709551616-");
        full("bytes=0-18446744073709551616");
        full("bytes=-18446744073709551616");
        full("bytes=99999999999999999999999999999999-");
    }

    #[test]
    fn unsatisfiable_ranges() {
        unsatisfiable("bytes=10000-");
        unsatisfiable("bytes=10000-10001");
        unsatisfiable("bytes=18446744073709551615-");
        unsatisfiable("bytes=-0");
        unsatisfiable("bytes=-0, 20000-");
        single("bytes=20000-, 0-9", 0, 10);
        single("bytes=-0, -10", 9990, LEN);
    }

    #[test]
    fn empty_representation() {
        with_len("bytes=0-", 0, RangeOutcome::Unsatisfiable);
        with_len("bytes=0-0", 0, RangeOutcome::Unsatisfiable);
        with_len("bytes=-5", 0, RangeOutcome::Unsatisfiable);
        with_len("bytes=-0", 0, RangeOutcome::Unsatisfiable);
        with_len("bytes=x", 0, RangeOutcome::Full);
        with_len("bytes=-5", 1, RangeOutcome::Single(r(0, 1)));
    }

    #[test]
    fn several_ranges_sorted_and_disjoint() {
        multiple("bytes=0-9,500-599", &[(0, 10), (500, 600)]);
        multiple("bytes=500-599,0-9", &[(0, 10), (500, 600)]);
        multiple("bytes=-100,0-9", &[(0, 10), (9900, LEN)]);
        multiple("bytes=0-0,1000-1000,2000-2000", &[(0, 1), (1000, 1001), (2000, 2001)]);
    }

    #[test]
    fn coalescing() {
        // Overlapping, adjacent, duplicated, contained.
        single("bytes=0-99,50-149", 0, 150);
        single("bytes=0-99,100-199", 0, 200);
        single("bytes=0-99,0-99,0-99", 0, 100);
        single("bytes=0-999,10-20", 0, 1000);
        single("bytes=0-,0-,0-", 0, LEN);
        single("bytes=-100,9000-", 9000, LEN);
        // Gaps just under and at the threshold.
        single("bytes=0-9,89-99", 0, 100);
        multiple("bytes=0-9,90-99", &[(0, 10), (90, 100)]);
        multiple("bytes=0-9,50-59,200-209", &[(0, 60), (200, 210)]);
    }

    #[test]
    fn too_many_ranges_serve_the_whole_file() {
        multiple(
            "bytes=0-0,100-100,200-200,300-300,400-400,500-500,600-600,700-700",
            &[(0, 1), (100, 101), (200, 201), (300, 301), (400, 401), (500, 501), (600, 601), (700, 701)],
        );
        full("bytes=0-0,100-100,200-200,300-300,400-400,500-500,600-600,700-700,800-800");
        // Counted before coalescing: nine identical specs are still too many.
        full(&format!("bytes={}", ["0-"; 9].join(",")));
        // Amplification attempt: thousands of overlapping full ranges.
        full(&format!("bytes={}", "0-,".repeat(5000)));
        assert_eq!(parse("bytes=0-1", LEN, 0), RangeOutcome::Full);
        // Empty elements are not specs, so they do not count.
        assert_eq!(parse("bytes=,,,,0-1,,,,", LEN, 1), RangeOutcome::Single(r(0, 2)));
    }

    #[test]
    fn byte_range_helpers() {
        assert_eq!(r(0, 10).len(), 10);
        assert!(!r(0, 10).is_empty());
        assert!(r(5, 5).is_empty());
        assert_eq!(r(0, 10).content_range(100), "bytes 0-9/100");
        assert_eq!(r(99, 100).content_range(100), "bytes 99-99/100");
        assert_eq!(unsatisfied_content_range(100), "bytes */100");
        assert_eq!(unsatisfied_content_range(0), "bytes */0");
    }

    fn assemble(m: &Multipart, ranges: &[ByteRange], file: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        for (head, range) in m.part_heads.iter().zip(ranges) {
            body.extend_from_slice(head);
            body.extend_from_slice(&file[range.start as usize..range.end as usize]);
        }
        body.extend_from_slice(&m.trailer);
        body
    }

    #[test]
    fn multipart_two_ranges_byte_exact() {
        let file = b"0123456789abcdefghij";
        let ranges = [r(0, 3), r(15, 20)];
        let m = multipart(&ranges, 20, "text/plain", "SEP");
        let expected = concat!(
            "--SEP\r\n",
            "Content-Type: text/plain\r\n",
            "Content-Range: bytes 0-2/20\r\n",
            "\r\n",
            "012",
            "\r\n--SEP\r\n",
            "Content-Type: text/plain\r\n",
            "Content-Range: bytes 15-19/20\r\n",
            "\r\n",
            "fghij",
            "\r\n--SEP--\r\n",
        );
        let body = assemble(&m, &ranges, file);
        assert_eq!(String::from_utf8_lossy(&body), expected);
        assert_eq!(m.content_length, expected.len() as u64);
        assert_eq!(m.boundary, "SEP");
        assert_eq!(m.content_type(), "multipart/byteranges; boundary=SEP");
    }

    #[test]
    fn multipart_length_matches_parts() {
        let ranges = [r(0, 1), r(100, 200), r(9000, 10_000)];
        let m = multipart(&ranges, LEN, "application/octet-stream", "0123456789abcdef");
        let heads: u64 = m.part_heads.iter().map(|h| h.len() as u64).sum();
        let slices: u64 = ranges.iter().map(ByteRange::len).sum();
        assert_eq!(m.content_length, heads + slices + m.trailer.len() as u64);
        assert_eq!(m.part_heads.len(), 3);
        assert!(m.part_heads[0].starts_with(b"--0123456789abcdef\r\n"));
        assert!(m.part_heads[1].starts_with(b"\r\n--0123456789abcdef\r\n"));
        assert_eq!(m.trailer, b"\r\n--0123456789abcdef--\r\n");
    }

    #[test]
    fn multipart_from_parse() {
        let file: Vec<u8> = (0..=255u8).cycle().take(300).collect();
        let RangeOutcome::Multiple(ranges) = parse("bytes=-5,0-2", 300, MAX) else {
            panic!("expected several ranges");
        };
        assert_eq!(ranges, [r(0, 3), r(295, 300)]);
        let m = multipart(&ranges, 300, "text/plain", "B");
        assert_eq!(assemble(&m, &ranges, &file).len() as u64, m.content_length);
    }
}
