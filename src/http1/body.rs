//! The request body decoder: from the bytes that follow a request head to
//! the body's own bytes, for both HTTP/1.1 framings — a `Content-Length`,
//! or `Transfer-Encoding: chunked` with its chunk-size lines, extensions
//! and trailer section (RFC 9112 §6.3, §7.1).
//!
//! A [`BodyDecoder`] is a state machine fed whatever bytes have arrived,
//! in pieces of any size; it never reads a socket and never buffers body
//! bytes itself. [`BodyDecoder::next`] skips framing and hands back the
//! next run of body bytes as a slice of its input, so a caller that
//! buffers (`Request::body`), streams (a handler's `BodySink`) or throws
//! the body away (a static file's request) copies only what it keeps. A
//! body that has not fully arrived is a state to wait in, never an empty
//! body handed on (hyper's `proto/h1/decode.rs` is the model).
//!
//! Chunked framing is read strictly (CRLF line ends, hexadecimal sizes
//! that fit in 64 bits, no white space but the `BWS` the grammar allows
//! before an extension): a lenient reader that disagrees with a proxy in
//! front of it about where a body ends is how request smuggling works.
//! Every part a client controls is bounded ([`Limits`]): body bytes,
//! extension bytes, trailer bytes and fields.

use std::fmt;

/// How much of a body the decoder accepts before it refuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Decoded body bytes, past which the body is refused ([`BodyError::TooLarge`]).
    pub body_bytes: u64,
    /// Bytes of chunk extensions in one body (nobody sends them in
    /// practice; a flood of them is work without a byte of body: hyper
    /// bounds them the same way since CVE-2024-32650's family).
    pub extension_bytes: usize,
    /// Bytes of the trailer section, its final blank line included.
    pub trailer_bytes: usize,
    /// Trailer fields.
    pub trailer_fields: usize,
}

/// Why a body could not be decoded. Each variant is raised at one place
/// and maps to one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// A chunk-size line that is not `HEXDIG+ [BWS ; ext] CRLF`, or a size
    /// past 64 bits.
    ChunkSize,
    /// A chunk's data not followed by CRLF.
    ChunkEnd,
    /// More chunk-extension bytes than [`Limits::extension_bytes`].
    Extensions,
    /// A trailer section that is not field lines ending in a blank line.
    Trailers,
    /// More trailer bytes or fields than the limits allow.
    TrailersTooLarge,
    /// More body bytes than [`Limits::body_bytes`].
    TooLarge,
}

impl BodyError {
    /// The status that answers a body refused for this reason.
    pub fn status(self) -> u16 {
        match self {
            BodyError::ChunkSize | BodyError::ChunkEnd | BodyError::Extensions | BodyError::Trailers => 400,
            BodyError::TrailersTooLarge => 431,
            BodyError::TooLarge => 413,
        }
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BodyError::ChunkSize => "malformed chunk-size line in a chunked body",
            BodyError::ChunkEnd => "chunk data not followed by CRLF",
            BodyError::Extensions => "chunk extensions too long",
            BodyError::Trailers => "malformed trailer section",
            BodyError::TrailersTooLarge => "trailer section too large",
            BodyError::TooLarge => "request body too large",
        })
    }
}

/// Where the decoder is in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// `Content-Length` framing: this many bytes still to come.
    Length { remaining: u64 },
    /// In a chunk-size line's hexadecimal digits (`digits` read so far).
    Size { size: u64, digits: u8 },
    /// After the size: white space, then `;` and an extension, or CR.
    AfterSize { size: u64 },
    /// In a chunk extension, up to the CR that ends the line.
    Extension { size: u64 },
    /// The size line's CR has been read: its LF must follow.
    SizeLf { size: u64 },
    /// In a chunk's data: this many bytes of it still to come.
    Data { remaining: u64 },
    /// A chunk's data has ended: CR must follow.
    DataCr,
    /// ... and then LF.
    DataLf,
    /// After the last chunk: the trailer section, collected (bounded) so
    /// that its field lines can be checked once it ends.
    Trailers,
    /// The whole body has been read.
    Done,
}

/// Decodes one request body; see the module documentation.
#[derive(Debug, Clone)]
pub struct BodyDecoder {
    state: State,
    limits: Limits,
    /// Body bytes handed out so far.
    decoded: u64,
    /// Extension bytes seen so far (this body).
    extension_bytes: usize,
    /// The trailer section so far (only in `State::Trailers`).
    trailers: Vec<u8>,
}

/// What one call of [`BodyDecoder::next`] did.
#[derive(Debug, PartialEq, Eq)]
pub struct Piece<'a> {
    /// Input bytes used (framing and `data`); the caller drops them.
    pub used: usize,
    /// Body bytes, a slice of the input (empty when the input held only
    /// framing, or nothing more of the body).
    pub data: &'a [u8],
}

/// Most hexadecimal digits of a chunk size: 16 fill a `u64` (leading
/// zeros would pass this too, but nobody sends more than a few).
const MAX_SIZE_DIGITS: u8 = 16;

impl BodyDecoder {
    /// A body of exactly `length` bytes.
    pub fn length(length: u64, limits: Limits) -> BodyDecoder {
        let state = if length == 0 { State::Done } else { State::Length { remaining: length } };
        BodyDecoder { state, limits, decoded: 0, extension_bytes: 0, trailers: Vec::new() }
    }

    /// A chunked body.
    pub fn chunked(limits: Limits) -> BodyDecoder {
        BodyDecoder {
            state: State::Size { size: 0, digits: 0 },
            limits,
            decoded: 0,
            extension_bytes: 0,
            trailers: Vec::new(),
        }
    }

    /// Whether the whole body has been read (then [`next`](Self::next)
    /// uses nothing more: what follows is the next request).
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Reads framing from the start of `input` up to the next run of body
    /// bytes, and returns that run (as much of it as `input` holds). Call
    /// again with the rest of the input until it uses nothing (wait for
    /// more bytes) or [`is_done`](Self::is_done).
    pub fn next<'a>(&mut self, input: &'a [u8]) -> Result<Piece<'a>, BodyError> {
        let mut at = 0;
        while at < input.len() {
            match self.state {
                State::Done => break,
                State::Length { remaining } | State::Data { remaining } => {
                    let take = remaining.min((input.len() - at) as u64);
                    self.decoded += take;
                    if self.decoded > self.limits.body_bytes {
                        return Err(BodyError::TooLarge);
                    }
                    let left = remaining - take;
                    self.state = match self.state {
                        State::Length { .. } if left == 0 => State::Done,
                        State::Length { .. } => State::Length { remaining: left },
                        _ if left == 0 => State::DataCr,
                        _ => State::Data { remaining: left },
                    };
                    // OK to convert: take <= input.len() - at.
                    let end = at + take as usize;
                    return Ok(Piece { used: end, data: &input[at..end] });
                }
                State::Trailers => {
                    at += self.take_trailers(&input[at..])?;
                }
                _ => {
                    self.state = self.framing_byte(input[at])?;
                    at += 1;
                }
            }
        }
        Ok(Piece { used: at, data: &[] })
    }

    /// The state after one byte of chunked framing (size lines and the
    /// CRLF after data).
    fn framing_byte(&mut self, byte: u8) -> Result<State, BodyError> {
        Ok(match (self.state, byte) {
            (State::Size { size, digits }, _) if byte.is_ascii_hexdigit() => {
                if digits == MAX_SIZE_DIGITS || size > u64::MAX >> 4 {
                    return Err(BodyError::ChunkSize);
                }
                // OK: an ASCII hex digit.
                let digit = u64::from((byte as char).to_digit(16).unwrap_or(0));
                State::Size { size: size << 4 | digit, digits: digits + 1 }
            }
            (State::Size { digits: 0, .. }, _) => return Err(BodyError::ChunkSize),
            (State::Size { size, .. } | State::AfterSize { size }, b' ' | b'\t') => State::AfterSize { size },
            (State::Size { size, .. } | State::AfterSize { size }, b';') => {
                self.count_extension()?;
                State::Extension { size }
            }
            (State::Size { size, .. } | State::AfterSize { size } | State::Extension { size }, b'\r') => {
                State::SizeLf { size }
            }
            (State::Extension { size }, _) if byte != b'\n' && byte != 0 => {
                // The extension's grammar is not checked, only its length:
                // it is never used, and a bare LF or NUL still ends in 400.
                self.count_extension()?;
                State::Extension { size }
            }
            (State::SizeLf { size: 0 }, b'\n') => State::Trailers,
            // Refused at its size line, before any of its bytes are handed
            // out: a consumer never stores part of a body that is refused.
            (State::SizeLf { size }, b'\n') if size > self.limits.body_bytes - self.decoded => {
                return Err(BodyError::TooLarge)
            }
            (State::SizeLf { size }, b'\n') => State::Data { remaining: size },
            (State::DataCr, b'\r') => State::DataLf,
            (State::DataLf, b'\n') => State::Size { size: 0, digits: 0 },
            (State::DataCr | State::DataLf, _) => return Err(BodyError::ChunkEnd),
            _ => return Err(BodyError::ChunkSize),
        })
    }

    fn count_extension(&mut self) -> Result<(), BodyError> {
        self.extension_bytes += 1;
        if self.extension_bytes > self.limits.extension_bytes {
            return Err(BodyError::Extensions);
        }
        Ok(())
    }

    /// Collects trailer-section bytes from `input` until the blank line
    /// that ends it, then checks the field lines; the bytes used.
    fn take_trailers(&mut self, input: &[u8]) -> Result<usize, BodyError> {
        let before = self.trailers.len();
        // Look for the end across the boundary of what came before.
        let room = self.limits.trailer_bytes.saturating_sub(before);
        let take = input.len().min(room.max(1));
        self.trailers.extend_from_slice(&input[..take]);
        let end = section_end(&self.trailers, before);
        let Some(end) = end else {
            if self.trailers.len() >= self.limits.trailer_bytes {
                return Err(BodyError::TrailersTooLarge);
            }
            return Ok(take);
        };
        if end > self.limits.trailer_bytes {
            return Err(BodyError::TrailersTooLarge);
        }
        self.trailers.truncate(end);
        if end > 2 {
            let mut fields = vec![httparse::EMPTY_HEADER; self.limits.trailer_fields];
            match httparse::parse_headers(&self.trailers, &mut fields) {
                Ok(httparse::Status::Complete((used, _))) if used == end => {}
                Err(httparse::Error::TooManyHeaders) => return Err(BodyError::TrailersTooLarge),
                _ => return Err(BodyError::Trailers),
            }
        }
        self.trailers = Vec::new();
        self.state = State::Done;
        Ok(end - before)
    }
}

/// Where a trailer section (`*( field-line CRLF ) CRLF`) held in `bytes`
/// ends (just past its blank line), looking from `from` on; `None` until
/// it does.
fn section_end(bytes: &[u8], from: usize) -> Option<usize> {
    if bytes.starts_with(b"\r\n") {
        return Some(2);
    }
    let start = from.saturating_sub(3);
    bytes[start..].windows(4).position(|w| w == b"\r\n\r\n").map(|i| start + i + 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body, whether it ended, and the input bytes used; or the error.
    type Outcome = Result<(Vec<u8>, bool, usize), BodyError>;

    const LIMITS: Limits = Limits { body_bytes: 100, extension_bytes: 20, trailer_bytes: 64, trailer_fields: 4 };

    /// Decodes `input` fed in pieces of `step` bytes (leftovers carried
    /// over, as a connection's buffer does): the body, whether it ended,
    /// and how many input bytes it used.
    fn decode(mut decoder: BodyDecoder, input: &[u8], step: usize) -> Outcome {
        let mut body = Vec::new();
        let mut buffered: Vec<u8> = Vec::new();
        let mut used = 0;
        for piece in input.chunks(step.max(1)) {
            buffered.extend_from_slice(piece);
            loop {
                let got = decoder.next(&buffered)?;
                body.extend_from_slice(got.data);
                let got_used = got.used;
                buffered.drain(..got_used);
                used += got_used;
                if got_used == 0 || decoder.is_done() {
                    break;
                }
            }
            if decoder.is_done() {
                break;
            }
        }
        Ok((body, decoder.is_done(), used))
    }

    fn chunked(input: &str) -> Outcome {
        let whole = decode(BodyDecoder::chunked(LIMITS), input.as_bytes(), input.len());
        // Every split gives the same answer (framing split mid-line, mid-CRLF).
        for step in 1..=4 {
            assert_eq!(decode(BodyDecoder::chunked(LIMITS), input.as_bytes(), step), whole, "step {step}: {input:?}");
        }
        whole
    }

    fn done(body: &str, used: usize) -> Outcome {
        Ok((body.as_bytes().to_vec(), true, used))
    }

    #[test]
    fn chunked_bodies() {
        let cases: &[(&str, Outcome)] = &[
            ("0\r\n\r\n", done("", 5)),
            ("5\r\nhello\r\n0\r\n\r\n", done("hello", 15)),
            ("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", done("hello world", 26)),
            // Upper- and lower-case hex, leading zeros.
            ("A\r\n0123456789\r\n0\r\n\r\n", done("0123456789", 20)),
            ("000a\r\n0123456789\r\n0000\r\n\r\n", done("0123456789", 26)),
            // Extensions and BWS before them are skipped.
            ("5;name=value\r\nhello\r\n0 ; last\r\n\r\n", done("hello", 33)),
            // Trailers are read and checked, and end the body.
            ("5\r\nhello\r\n0\r\nChecksum: abc\r\nX-More: 1\r\n\r\n", done("hello", 41)),
            // What follows the body is not taken (the next request).
            ("1\r\nx\r\n0\r\n\r\nGET / HTTP/1.1\r\n", done("x", 11)),
            // Not there yet: wait, with what arrived handed out.
            ("5\r\nhel", Ok((b"hel".to_vec(), false, 6))),
            ("5\r\nhello\r\n0\r\nX: 1\r\n", Ok((b"hello".to_vec(), false, 19))),
            // Malformed size lines.
            ("\r\n", Err(BodyError::ChunkSize)),
            ("x\r\n", Err(BodyError::ChunkSize)),
            ("-1\r\n", Err(BodyError::ChunkSize)),
            ("5 x\r\nhello\r\n", Err(BodyError::ChunkSize)),
            ("5\nhello\r\n", Err(BodyError::ChunkSize)),
            ("0x5\r\nhello\r\n", Err(BodyError::ChunkSize)),
            ("10000000000000000\r\n", Err(BodyError::ChunkSize)),
            ("5;a\nb\r\nhello\r\n", Err(BodyError::ChunkSize)),
            // Data not followed by CRLF.
            ("5\r\nhelloX\r\n", Err(BodyError::ChunkEnd)),
            ("5\r\nhello\rX", Err(BodyError::ChunkEnd)),
            // Limits: body, extensions, trailers.
            ("65\r\n", Err(BodyError::TooLarge)),
            ("5;aaaaaaaaaaaaaaaaaaaaa\r\nhello\r\n", Err(BodyError::Extensions)),
            (
                "0\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n",
                Err(BodyError::TrailersTooLarge),
            ),
            ("0\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\n\r\n", Err(BodyError::TrailersTooLarge)),
            ("0\r\nnot a field\r\n\r\n", Err(BodyError::Trailers)),
        ];
        for (input, want) in cases {
            assert_eq!(&chunked(input), want, "for {input:?}");
        }
        let big = format!("65\r\n{}\r\n0\r\n\r\n", "x".repeat(101));
        assert_eq!(chunked(&big), Err(BodyError::TooLarge));
        let fits = format!("64\r\n{}\r\n0\r\n\r\n", "x".repeat(100));
        assert_eq!(chunked(&fits).map(|(b, d, _)| (b.len(), d)), Ok((100, true)));
    }

    #[test]
    fn length_bodies() {
        let cases: &[(u64, &str, Outcome)] = &[
            (0, "GET", done("", 0)),
            (5, "hello", done("hello", 5)),
            (5, "helloGET /", done("hello", 5)),
            (5, "hel", Ok((b"hel".to_vec(), false, 3))),
            (101, "x", Ok((b"x".to_vec(), false, 1))),
        ];
        for &(length, input, ref want) in cases {
            for step in 1..=3 {
                let got = decode(BodyDecoder::length(length, LIMITS), input.as_bytes(), step);
                assert_eq!(&got, want, "{length} {input:?} step {step}");
            }
        }
        let mut over = BodyDecoder::length(101, LIMITS);
        assert_eq!(over.next(&[b'x'; 101]), Err(BodyError::TooLarge));
    }

    #[test]
    fn statuses() {
        assert_eq!(BodyError::TooLarge.status(), 413);
        assert_eq!(BodyError::TrailersTooLarge.status(), 431);
        assert_eq!(BodyError::ChunkSize.status(), 400);
    }
}
