//! Turning the bytes of an HTTP/1.x request head into a [`Head`] (the
//! version-independent [`Request`] and its HTTP/1 framing), or into the
//! [`RequestError`] that says which status to answer with.
//!
//! httparse does the tokenising; this module adds the HTTP/1.1 framing rules
//! it leaves to the caller (RFC 9112 §6.3 message length, `Host`, connection
//! persistence, `Expect`). It never reads from a socket and never looks at files.

use std::mem::MaybeUninit;

use crate::http::request::{Method, Request, Version};
use crate::http::syntax::{byte_table, find_ascii, trim_ows_bytes};

use crate::config::MAX_HEADERS;

/// Why a request head could not be accepted. Each variant is raised at one
/// place in [`parse`] (or by the connection for the size limits) and maps to
/// one status in [`RequestError::status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestError {
    /// Not HTTP/1.x syntax (httparse's reason).
    Malformed(&'static str),
    /// Another major version (`HTTP/2.0`, `HTTP/0.9`): 505.
    Version,
    /// `HTTP/1.x` with x ≥ 2. RFC 9110 §6.2 says to process it as the
    /// highest minor version we implement, so the connection re-parses it
    /// as HTTP/1.1 (see [`as_http11`]); 505 only if that cannot be done.
    MinorVersion,
    /// More header fields than `Config::max_headers`.
    TooManyHeaders,
    /// The head grew past `Config::max_head_bytes` before it ended.
    HeadTooLarge,
    /// The request line alone is longer than `Config::max_head_bytes`.
    TargetTooLong,
    /// HTTP/1.1 without `Host`, several `Host` fields, or one whose value is
    /// not `host[:port]` (RFC 9112 §3.2).
    Host,
    /// A `Content-Length` that is not a number, or several that disagree.
    ContentLength,
    /// `Transfer-Encoding` that is not exactly `chunked`, or sent together
    /// with `Content-Length` (a request smuggling vector, RFC 9112 §6.1).
    TransferEncoding,
    /// A body larger than the route reads (`Config::max_body_bytes` for a
    /// handler that reads it whole), known from its `Content-Length`.
    BodyTooLarge,
    /// An HTTP/1.0 request whose route reads a body, without a
    /// `Content-Length` to say where it ends (chunked is HTTP/1.1 only).
    LengthRequired,
    /// An `Expect` field asking for something other than `100-continue`.
    Expectation,
}

impl RequestError {
    pub fn status(self) -> u16 {
        match self {
            RequestError::Malformed(_)
            | RequestError::Host
            | RequestError::ContentLength
            | RequestError::TransferEncoding => 400,
            RequestError::Version | RequestError::MinorVersion => 505,
            RequestError::TooManyHeaders | RequestError::HeadTooLarge => 431,
            RequestError::TargetTooLong => 414,
            RequestError::BodyTooLarge => 413,
            RequestError::LengthRequired => 411,
            RequestError::Expectation => 417,
        }
    }
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestError::Malformed(why) => write!(f, "malformed request: {why}"),
            RequestError::Version | RequestError::MinorVersion => f.write_str("unsupported HTTP version"),
            RequestError::TooManyHeaders => f.write_str("too many header fields"),
            RequestError::HeadTooLarge => f.write_str("request head too large"),
            RequestError::TargetTooLong => f.write_str("request target too long"),
            RequestError::Host => f.write_str("missing, repeated, empty or invalid Host header"),
            RequestError::ContentLength => f.write_str("invalid Content-Length"),
            RequestError::TransferEncoding => f.write_str("invalid Transfer-Encoding"),
            RequestError::BodyTooLarge => f.write_str("request body too large"),
            RequestError::LengthRequired => f.write_str("an HTTP/1.0 body without Content-Length"),
            RequestError::Expectation => f.write_str("an expectation other than 100-continue"),
        }
    }
}

/// Room for one request's header fields, which [`parse`] fills and the
/// [`Request`] then borrows. Left uninitialised, so making one costs
/// nothing; the request holds a slice of it rather than the array, so it is
/// small to move.
pub struct FieldSlots<'b>([MaybeUninit<httparse::Header<'b>>; MAX_HEADERS]);

impl FieldSlots<'_> {
    /// Room for [`MAX_HEADERS`] fields.
    pub fn new() -> Self {
        FieldSlots([const { MaybeUninit::uninit() }; MAX_HEADERS])
    }
}

impl Default for FieldSlots<'_> {
    fn default() -> Self {
        Self::new()
    }
}

/// [`parse`] with slots of its own, leaked: for tests only, where each
/// parsed request may outlive the call.
#[cfg(test)]
pub fn parse_leaking(buf: &[u8], max_headers: usize) -> Result<Option<Head<'_>>, RequestError> {
    parse(buf, Box::leak(Box::new(FieldSlots::new())), max_headers)
}

/// How the request's body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLength {
    /// No body: the next request starts right after the head.
    None,
    /// `Content-Length: n` (n may be 0: the length is stated).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// What the client's `Expect` field asks for (RFC 9110 §10.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expectation {
    /// No `Expect` field (or an HTTP/1.0 request, which must be served as
    /// if it had none).
    None,
    /// `100-continue`: the client waits for `100 Continue` (or a final
    /// answer) before it sends the body.
    Continue,
    /// Anything else: answered with 417.
    Unknown,
}

/// A parsed request head: the version-independent [`Request`], and how
/// HTTP/1 framed it.
#[derive(Debug)]
pub struct Head<'b> {
    pub request: Request<'b>,
    /// Bytes of the head, including the final blank line.
    pub len: usize,
    pub body: BodyLength,
    /// Whether the client allows the connection to stay open afterwards.
    pub keep_alive: bool,
    pub expect: Expectation,
}

/// Parses a request head from the start of `buf`.
///
/// `Ok(None)` means the head is not complete yet: wait for more bytes.
pub fn parse<'b>(
    buf: &'b [u8],
    slots: &'b mut FieldSlots<'b>,
    max_headers: usize,
) -> Result<Option<Head<'b>>, RequestError> {
    let limit = max_headers.min(MAX_HEADERS);
    let mut parsed = httparse::Request::new(&mut []);
    let head_len = match parsed.parse_with_uninit_headers(buf, &mut slots.0[..limit]) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(RequestError::TooManyHeaders),
        Err(httparse::Error::Version) => {
            // Judged only on a whole request line, so the answer does not
            // depend on how the bytes were split (found by fuzzing).
            return match request_line(buf) {
                Some(line) => Err(classify_version(line)),
                None => Ok(None),
            };
        }
        Err(e) => return Err(RequestError::Malformed(describe(e))),
    };
    // OK because httparse fills all three on Complete.
    let method = parsed.method.expect("complete request has a method");
    let raw_target = parsed.path.expect("complete request has a target");
    let version = match parsed.version.expect("complete request has a version") {
        0 => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    let method = match method {
        // Most requests, without `from_bytes`' general match (~30 instructions).
        "GET" => Method::GET,
        "HEAD" => Method::HEAD,
        // OK: httparse accepts only token characters, which are what a method is.
        other => Method::from_bytes(other.as_bytes()).map_err(|_| RequestError::Malformed("invalid method"))?,
    };

    let mut hosts = 0;
    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let mut connection_close = false;
    let mut connection_keep_alive = false;
    let mut expect = Expectation::None;
    // The filled slots, taken out of httparse's request for as long as `buf`.
    let fields: &'b mut [httparse::Header<'b>] = std::mem::take(&mut parsed.headers);
    let fields: &'b [httparse::Header<'b>] = fields;
    for h in fields {
        let (name, value) = (h.name, h.value);
        // By length first: most fields are none of these, and a length
        // comparison turns them away for less than a case-folded compare.
        match name.len() {
            4 if name.eq_ignore_ascii_case("host") => {
                if !is_valid_host(value) {
                    return Err(RequestError::Host);
                }
                hosts += 1;
            }
            14 if name.eq_ignore_ascii_case("content-length") => {
                let n = parse_content_length(value).ok_or(RequestError::ContentLength)?;
                if content_length.is_some_and(|m| m != n) {
                    return Err(RequestError::ContentLength);
                }
                content_length = Some(n);
            }
            17 if name.eq_ignore_ascii_case("transfer-encoding") => {
                // Only a single, final `chunked` is meaningful to us; anything
                // else (gzip, chains, repeats) is refused rather than guessed at.
                if chunked || !value.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                    return Err(RequestError::TransferEncoding);
                }
                chunked = true;
            }
            10 if name.eq_ignore_ascii_case("connection") => {
                for token in value.split(|&b| b == b',') {
                    let token = token.trim_ascii();
                    connection_close |= token.eq_ignore_ascii_case(b"close");
                    connection_keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            }
            6 if name.eq_ignore_ascii_case("expect") => {
                // A list: every member must be one we meet (RFC 9110 §10.1.1).
                for token in value.split(|&b| b == b',').map(<[u8]>::trim_ascii).filter(|t| !t.is_empty()) {
                    expect = match expect {
                        Expectation::Unknown => Expectation::Unknown,
                        _ if token.eq_ignore_ascii_case(b"100-continue") => Expectation::Continue,
                        _ => Expectation::Unknown,
                    };
                }
            }
            _ => {}
        }
    }
    if hosts > 1 || (hosts == 0 && version == Version::HTTP_11) {
        return Err(RequestError::Host);
    }
    if chunked && content_length.is_some() {
        return Err(RequestError::TransferEncoding);
    }
    if chunked && version == Version::HTTP_10 {
        return Err(RequestError::TransferEncoding);
    }
    let body = match (chunked, content_length) {
        (true, _) => BodyLength::Chunked,
        (false, None) => BodyLength::None,
        (false, Some(n)) => BodyLength::Length(n),
    };
    let keep_alive = match version {
        Version::HTTP_10 => connection_keep_alive && !connection_close,
        _ => !connection_close,
    };
    if version == Version::HTTP_10 {
        // RFC 9110 §10.1.1: an HTTP/1.0 client cannot have meant it.
        expect = Expectation::None;
    }
    let target = without_fragment(origin_form(raw_target));
    Ok(Some(Head { request: Request::new(method, target, version, fields), len: head_len, body, keep_alive, expect }))
}

/// Reduces an absolute-form target (`http://host/path`, which servers must
/// accept, RFC 9112 §3.2.2) to its path and query.
fn origin_form(target: &str) -> &str {
    for scheme in ["http://", "https://"] {
        // Compared as bytes: the target may hold UTF-8, and slicing the str
        // at a byte count could split a character (found by fuzzing).
        let head = target.as_bytes().get(..scheme.len());
        if target.len() > scheme.len() && head.is_some_and(|h| h.eq_ignore_ascii_case(scheme.as_bytes())) {
            // OK to slice: the first `scheme.len()` bytes are ASCII.
            let rest = &target[scheme.len()..];
            return find_ascii(rest, b'/').map_or("/", |i| &rest[i..]);
        }
    }
    target
}

/// Drops a `#fragment`: clients should not send one, but some do, and it
/// names a part of the resource, not another resource (nginx strips it too),
/// so `GET /index.html#top` serves index.html.
fn without_fragment(target: &str) -> &str {
    find_ascii(target, b'#').map_or(target, |i| &target[..i])
}

/// Why httparse refused the version: another major version (505), a later
/// minor version (served as 1.1), or a malformed request line (400) that
/// httparse only noticed where it expected the version.
fn classify_version(line: &[u8]) -> RequestError {
    let token = line.rsplit(|&b| b == b' ').next().unwrap_or(line);
    match token {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor] if minor.is_ascii_digit() && *minor >= b'2' => {
            RequestError::MinorVersion
        }
        // Well-formed but not 1.x (0.9, 2.0, 3.0): a version we do not speak.
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && *major != b'1' && minor.is_ascii_digit() =>
        {
            RequestError::Version
        }
        _ => RequestError::Malformed("invalid request line"),
    }
}

/// The request line without its line ending, once it is complete. Empty
/// lines before it are skipped, as httparse does (RFC 9112 §2.2).
fn request_line(buf: &[u8]) -> Option<&[u8]> {
    let start = buf.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let rest = &buf[start..];
    let end = rest.iter().position(|&b| b == b'\n')?;
    let line = &rest[..end];
    Some(line.strip_suffix(b"\r").unwrap_or(line))
}

/// A copy of `buf` whose request line says `HTTP/1.1` instead of a later
/// `HTTP/1.x`; `None` if the request line does not end in such a version.
pub fn as_http11(buf: &[u8]) -> Option<Vec<u8>> {
    let skipped = buf.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let end = skipped + buf[skipped..].iter().position(|&b| b == b'\n')?;
    let line_end = if end > 0 && buf[end - 1] == b'\r' { end - 1 } else { end };
    let minor_at = line_end.checked_sub(1)?;
    if line_end < 8
        || &buf[line_end - 8..minor_at] != b"HTTP/1."
        || buf[minor_at] < b'2'
        || !buf[minor_at].is_ascii_digit()
    {
        return None;
    }
    let mut copy = buf.to_vec();
    copy[minor_at] = b'1';
    Some(copy)
}

/// The bytes of a reg-name or IPv4 address: unreserved, sub-delims, `%`.
/// A table, so a byte costs one load: a search of the punctuation for each
/// byte (`<[u8]>::contains`) cost ~10 instructions a byte, ~150 a request.
const HOST_BYTE: [bool; 256] = byte_table!(|b| b.is_ascii_alphanumeric()
    || matches!(b, b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',')
    || matches!(b, b';' | b'=' | b'%'));

/// `Host = uri-host [ ":" port ]`: a reg-name or IPv4 address (unreserved,
/// sub-delims, `%`), or an IPv6 literal in brackets, then optional digits.
/// Empty is refused: RFC 9112 §3.2 allows it only for a target without an
/// authority, which an origin server never receives, and nginx answers 400.
fn is_valid_host(value: &[u8]) -> bool {
    let value = trim_ows_bytes(value);
    if value.is_empty() {
        return false;
    }
    let (host, port) = if let Some(rest) = value.strip_prefix(b"[") {
        let Some(close) = rest.iter().position(|&b| b == b']') else { return false };
        let literal = &rest[..close];
        if literal.is_empty() || !literal.iter().all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {
            return false;
        }
        match &rest[close + 1..] {
            [] => return true,
            [b':', port @ ..] => (&b""[..], port),
            _ => return false,
        }
    } else {
        match value.iter().rposition(|&b| b == b':') {
            Some(colon) => (&value[..colon], &value[colon + 1..]),
            None => (value, &b""[..]),
        }
    };
    let host_ok = host.iter().all(|&b| HOST_BYTE[usize::from(b)]);
    host_ok && port.iter().all(u8::is_ascii_digit)
}

fn describe(error: httparse::Error) -> &'static str {
    match error {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status",
        httparse::Error::Token => "invalid token",
        httparse::Error::TooManyHeaders => "too many headers",
        httparse::Error::Version => "invalid version",
    }
}

/// `Content-Length = 1*DIGIT`; no sign, no spaces inside, no overflow.
fn parse_content_length(value: &[u8]) -> Option<u64> {
    let digits = value.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> Head<'_> {
        parse_leaking(raw.as_bytes(), MAX_HEADERS).unwrap().unwrap()
    }
    fn err(raw: &str) -> RequestError {
        parse_leaking(raw.as_bytes(), MAX_HEADERS).unwrap_err()
    }
    fn partial(raw: &str) -> bool {
        matches!(parse_leaking(raw.as_bytes(), MAX_HEADERS), Ok(None))
    }

    #[test]
    fn complete_requests() {
        let h = ok("GET /a?b=c HTTP/1.1\r\nHost: x\r\n\r\n");
        let r = &h.request;
        assert_eq!((r.method(), r.target(), r.path(), r.query()), (&Method::GET, "/a?b=c", "/a", "b=c"));
        assert!(h.keep_alive);
        assert_eq!((h.body, h.expect), (BodyLength::None, Expectation::None));
        assert_eq!(ok("HEAD / HTTP/1.0\r\n\r\n").request.method(), Method::HEAD);
        assert_eq!(ok("DELETE / HTTP/1.1\r\nHost: x\r\n\r\n").request.method(), Method::DELETE);
        assert_eq!(ok("BREW / HTTP/1.1\r\nHost: x\r\n\r\n").request.method().as_str(), "BREW");
        assert_eq!(ok("GET http://example.com/x?y HTTP/1.1\r\nHost: x\r\n\r\n").request.target(), "/x?y");
        assert_eq!(ok("GET http://example.com HTTP/1.1\r\nHost: x\r\n\r\n").request.target(), "/");
    }

    #[test]
    fn fragments_are_dropped() {
        let cases =
            [("/index.html#x", "/index.html"), ("/a?b=c#d", "/a?b=c"), ("/a#b?c", "/a"), ("/#", "/"), ("/a", "/a")];
        for (sent, target) in cases {
            assert_eq!(ok(&format!("GET {sent} HTTP/1.1\r\nHost: x\r\n\r\n")).request.target(), target, "for {sent}");
        }
        assert_eq!(ok("GET http://h/p#f HTTP/1.1\r\nHost: x\r\n\r\n").request.target(), "/p");
    }

    #[test]
    fn header_values_lose_only_ows() {
        let r = ok("GET / HTTP/1.1\r\nHost: x\r\nX-A: \t v w \t\r\nX-B: \u{a0}v\u{a0}\r\n\r\n").request;
        assert_eq!(r.header("x-a"), Some("v w"));
        assert_eq!(r.header("X-B"), Some("\u{a0}v\u{a0}"));
        assert_eq!(r.header("x-c"), None);
    }

    /// Regressions found by `fuzz/`: every prefix of a request either
    /// waits for more or gives the answer the whole request gives.
    #[test]
    fn answers_do_not_depend_on_how_bytes_are_split() {
        for raw in [
            &b"GET / HTTP/2.0\r\n\r\n"[..],
            b"GET / HTTP/1.2\r\nHost: x\r\n\r\n",
            b"GET / HTTP/1.25\r\n\r\n",
            b"\r\nGET / HTTP/2.0\r\n\r\n",
            b"GET / HTTP/0.9\r\n\r\n",
        ] {
            let whole = format!("{:?}", parse_leaking(raw, MAX_HEADERS).map(|r| r.map(|r| r.len)));
            for cut in 1..raw.len() {
                match parse_leaking(&raw[..cut], MAX_HEADERS) {
                    Ok(None) => {}
                    prefix => {
                        assert_eq!(format!("{:?}", prefix.map(|r| r.map(|r| r.len))), whole, "{raw:?} cut at {cut}")
                    }
                }
            }
        }
        assert_eq!(parse_leaking(b"\r\nGET / HTTP/2.0\r\n\r\n", MAX_HEADERS).unwrap_err(), RequestError::Version);
        assert!(as_http11(b"\r\nGET / HTTP/1.2\r\nHost: x\r\n\r\n").is_some());
    }

    #[test]
    fn utf8_targets_near_the_scheme_length_do_not_panic() {
        assert_eq!(ok("GET /abcde\u{e9} HTTP/1.1\r\nHost: x\r\n\r\n").request.target(), "/abcde\u{e9}");
        assert_eq!(ok("GET /\u{e9}\u{e9}\u{e9}\u{e9} HTTP/1.0\r\n\r\n").request.target(), "/\u{e9}\u{e9}\u{e9}\u{e9}");
        assert_eq!(ok("GET /\u{2713}/\u{2713}. HTTP/1.0\r\n\r\n").request.path(), "/\u{2713}/\u{2713}.");
    }

    #[test]
    fn later_minor_versions_read_as_http11() {
        let copy = as_http11(b"GET / HTTP/1.2\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(ok(std::str::from_utf8(&copy).unwrap()).request.version(), Version::HTTP_11);
        assert!(as_http11(b"GET / HTTP/1.1\r\n\r\n").is_none());
        assert!(as_http11(b"GET / HTTP/2.0\r\n\r\n").is_none());
        assert!(as_http11(b"GET / HTTP/1.2").is_none());
        assert!(as_http11(b"1.2\n").is_none());
    }

    #[test]
    fn persistence() {
        assert!(!ok("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").keep_alive);
        assert!(!ok("GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, Close\r\n\r\n").keep_alive);
        assert!(!ok("GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(ok("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive);
    }

    #[test]
    fn partial_heads() {
        assert!(partial(""));
        assert!(partial("G"));
        assert!(partial("GET / HTTP/1.1\r\n"));
        assert!(partial("GET / HTTP/1.1\r\nHost: x\r\n"));
    }

    #[test]
    fn expectations() {
        let cases = [
            ("Expect: 100-continue\r\n", Expectation::Continue),
            ("Expect: 100-Continue\r\n", Expectation::Continue),
            ("Expect: 100-continue, \r\n", Expectation::Continue),
            ("Expect: \r\n", Expectation::None),
            ("Expect: 200-ok\r\n", Expectation::Unknown),
            ("Expect: 100-continue, x\r\n", Expectation::Unknown),
            ("Expect: x\r\nExpect: 100-continue\r\n", Expectation::Unknown),
        ];
        for (field, want) in cases {
            let raw = format!("POST / HTTP/1.1\r\nHost: x\r\n{field}Content-Length: 1\r\n\r\n");
            assert_eq!(ok(&raw).expect, want, "{field:?}");
        }
        // An HTTP/1.0 client's expectation is ignored.
        assert_eq!(ok("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").expect, Expectation::None);
        assert_eq!(ok("POST / HTTP/1.0\r\nExpect: x\r\n\r\n").expect, Expectation::None);
    }

    #[test]
    fn framing() {
        assert_eq!(ok("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n").body, BodyLength::Length(5));
        assert_eq!(
            ok("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n").body,
            BodyLength::Length(5)
        );
        assert_eq!(ok("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n").body, BodyLength::Chunked);
        assert_eq!(
            err("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
            RequestError::ContentLength
        );
        assert_eq!(err("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"), RequestError::ContentLength);
        assert_eq!(err("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1 2\r\n\r\n"), RequestError::ContentLength);
        assert_eq!(
            err("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
            RequestError::ContentLength
        );
        assert_eq!(
            err("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
            RequestError::TransferEncoding
        );
        assert_eq!(
            err("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            RequestError::TransferEncoding
        );
        assert_eq!(
            err("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
            RequestError::TransferEncoding
        );
    }

    #[test]
    fn bad_heads() {
        assert_eq!(err("GET / HTTP/1.1\r\n\r\n"), RequestError::Host);
        assert_eq!(err("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), RequestError::Host);
        assert_eq!(err("GET / HTTP/2.0\r\n\r\n"), RequestError::Version);
        assert_eq!(err("GET / HTTP/1.2\r\nHost: x\r\n\r\n"), RequestError::MinorVersion);
        assert!(matches!(err("GET /  HTTP/1.1\r\nHost: x\r\n\r\n"), RequestError::Malformed(_)));
        assert!(matches!(err("GET / http/1.1\r\nHost: x\r\n\r\n"), RequestError::Malformed(_)));
        assert!(matches!(err("GET / HTTP/1.10\r\nHost: x\r\n\r\n"), RequestError::Malformed(_)));
        // An empty Host is refused (this once listed "" as valid; issue #15 superseded that).
        for host in ["", " ", "a b", "a/b", "a@b", "[::1", "[zz]", "x:8o", "a\"b"] {
            assert_eq!(err(&format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n")), RequestError::Host, "{host}");
        }
        for host in ["example.com", "example.com:8080", "127.0.0.1:80", "[::1]", "[::1]:8080", "xn--bcher-kva.de"] {
            assert!(
                parse_leaking(format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes(), MAX_HEADERS).is_ok(),
                "{host}"
            );
        }
        assert!(matches!(err("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n"), RequestError::Malformed(_)));
        assert!(matches!(err("GET /\0 HTTP/1.1\r\n\r\n"), RequestError::Malformed(_)));
        assert!(matches!(
            parse_leaking(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", MAX_HEADERS),
            Err(RequestError::Malformed(_))
        ));
        let many: String = (0..MAX_HEADERS + 1).map(|i| format!("X-{i}: y\r\n")).collect();
        assert_eq!(err(&format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n")), RequestError::TooManyHeaders);
    }
}
