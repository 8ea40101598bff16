//! HTTP/1.1 on the way out: a [`Response`] turned into a status line,
//! header fields and the start of its body ([`encode`], the one path every
//! response takes), streamed bodies framed as chunks ([`next_piece`]), and
//! the interim `100 Continue` ([`CONTINUE`]).
//!
//! What to send is the service's; when to send it is the connection's.
//! This module only decides how the bytes look on an HTTP/1 wire:
//! `Content-Length` or `Transfer-Encoding: chunked`, and `Connection` when
//! it differs from the version's default.

use std::fs::File;
use std::io;

use crate::http::response::{has_length, reason, write_field, Body, Chunk, Response, Stream, SERVER};

/// The interim response that tells a client waiting on `Expect:
/// 100-continue` to send its body (RFC 9110 §15.2.1).
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Serialises the status line and header fields of `response` into `out`.
///
/// `date` is the cached IMF-fixdate for `Date`. `keep_alive` is the
/// connection's decision; it is stated explicitly only when it differs
/// from the version's default, plus `keep-alive` for HTTP/1.0 clients.
pub fn write_head(response: &Response, out: &mut Vec<u8>, date: &str, keep_alive: bool, http10: bool) {
    let mut number = itoa::Buffer::new();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(number.format(response.status).as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason(response.status).as_bytes());
    out.extend_from_slice(b"\r\nDate: ");
    out.extend_from_slice(date.as_bytes());
    out.extend_from_slice(b"\r\nServer: ");
    out.extend_from_slice(SERVER.as_bytes());
    out.extend_from_slice(b"\r\n");
    if let Body::Stream(_) | Body::Events(_) = response.body {
        // An HTTP/1.0 client reads to the close instead.
        if !http10 {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
        }
    } else if has_length(response.status) {
        write_field(out, "Content-Length", number.format(response.body.len()));
    }
    for (name, value) in &response.headers {
        write_field(out, name, value);
    }
    if let Some((fields, part)) = &response.raw_headers {
        out.extend_from_slice(fields.lines(*part));
    }
    out.extend_from_slice(b"X-Content-Type-Options: nosniff\r\n");
    if !keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if http10 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// A file (or streamed) body still to send after the encoded bytes.
pub struct FileBody {
    /// `None` for a streamed body.
    pub file: Option<File>,
    pub chunks: Vec<Chunk>,
}

/// Encodes `response` into `out` (the head through [`write_head`], then an
/// in-memory body); a file or streamed body is returned for the caller to
/// send. Every response rawserve sends on HTTP/1 goes through here.
pub fn encode(
    response: Response,
    head_only: bool,
    keep_alive: bool,
    http10: bool,
    date: &str,
    out: &mut Vec<u8>,
) -> Option<FileBody> {
    write_head(&response, out, date, keep_alive, http10);
    if head_only {
        return None;
    }
    match response.body {
        // The connection prepares such a response before it encodes it.
        Body::Empty | Body::Later(_) => None,
        Body::Bytes(bytes) => {
            out.extend_from_slice(&bytes);
            None
        }
        Body::Shared(bytes) => {
            out.extend_from_slice(&bytes);
            None
        }
        Body::File { file, chunks } => Some(FileBody { file: Some(file), chunks }),
        Body::Stream(source) => Some(FileBody { file: None, chunks: vec![Chunk::Stream { source, chunked: !http10 }] }),
        // The connection takes such a body before it encodes the response
        // (it listens; see `connection::listen`): nothing to send here.
        Body::Events(_) => None,
    }
}

/// The last chunk of a chunked body.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Frames `out[start..]` (not empty) in place as one HTTP/1.1 chunk.
pub fn frame_chunk(out: &mut Vec<u8>, start: usize) {
    let size = out.len() - start;
    let mut line = [0u8; 2 * std::mem::size_of::<usize>() + 2];
    let mut at = line.len() - 2;
    line[at..].copy_from_slice(b"\r\n");
    let mut rest = size;
    loop {
        at -= 1;
        line[at] = b"0123456789abcdef"[rest & 0xf];
        rest >>= 4;
        if rest == 0 {
            break;
        }
    }
    out.splice(start..start, line[at..].iter().copied());
    out.extend_from_slice(b"\r\n");
}

/// Digits of the chunk-size line a streamed piece is framed with: a piece
/// never exceeds 4 GiB, and leading zeros are allowed (RFC 9112 §7.1).
const CHUNK_SIZE_DIGITS: usize = 8;

/// Replaces `out` with the next piece of `source`, framed as one HTTP/1.1
/// chunk when `chunked` (and followed by the last chunk at the end); false
/// once the body is complete.
pub fn next_piece(source: &mut dyn Stream, chunked: bool, out: &mut Vec<u8>) -> io::Result<bool> {
    out.clear();
    if !chunked {
        return source.fill(out);
    }
    // Room for the size line, written once the piece's size is known.
    out.extend_from_slice(&[b'0'; CHUNK_SIZE_DIGITS]);
    out.extend_from_slice(b"\r\n");
    let start = out.len();
    let more = source.fill(out)?;
    let size = out.len() - start;
    if size == 0 {
        // An empty chunk would end the body: send none.
        out.clear();
    } else {
        let mut digits = [b'0'; CHUNK_SIZE_DIGITS];
        for (i, digit) in digits.iter_mut().rev().enumerate() {
            *digit = b"0123456789abcdef"[(size >> (4 * i)) & 0xf];
        }
        out[..CHUNK_SIZE_DIGITS].copy_from_slice(&digits);
        out.extend_from_slice(b"\r\n");
    }
    if !more {
        out.extend_from_slice(b"0\r\n\r\n");
    }
    Ok(more)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(response: &Response, keep_alive: bool, http10: bool) -> String {
        let mut out = Vec::new();
        write_head(response, &mut out, "Sat, 21 Nov 2026 23:30:10 GMT", keep_alive, http10);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn serialises_head() {
        let r = Response::page(200, "text/plain; charset=utf-8", &b"hi"[..]);
        assert_eq!(
            head(&r, true, false),
            format!(
                "HTTP/1.1 200 OK\r\nDate: Sat, 21 Nov 2026 23:30:10 GMT\r\nServer: {SERVER}\r\n\
                 Content-Length: 2\r\nContent-Type: text/plain; charset=utf-8\r\n\
                 X-Content-Type-Options: nosniff\r\n\r\n"
            )
        );
        assert!(head(&r, false, false).ends_with("Connection: close\r\n\r\n"));
        assert!(head(&r, true, true).ends_with("Connection: keep-alive\r\n\r\n"));
        assert!(!head(&Response::new(304), true, false).contains("Content-Length"));
    }

    #[test]
    fn one_encoding_for_every_response() {
        let mut out = Vec::new();
        let body = encode(Response::error(503), false, false, false, "D", &mut out);
        assert!(body.is_none());
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 503 Service Unavailable\r\nDate: D\r\n"), "{text}");
        assert!(text.ends_with("Connection: close\r\n\r\n503 Service Unavailable\n"), "{text}");
        let mut out = Vec::new();
        encode(Response::error(404), true, true, true, "D", &mut out);
        assert!(String::from_utf8(out).unwrap().ends_with("Connection: keep-alive\r\n\r\n"));
    }

    /// A stream of the given pieces.
    #[derive(Debug)]
    struct Pieces(Vec<&'static [u8]>);

    impl Stream for Pieces {
        fn fill(&mut self, out: &mut Vec<u8>) -> io::Result<bool> {
            if !self.0.is_empty() {
                out.extend_from_slice(self.0.remove(0));
            }
            Ok(!self.0.is_empty())
        }
    }

    #[test]
    fn pushed_pieces_are_framed_in_place() {
        for (piece, want) in [
            ("a", "1\r\na\r\n"),
            ("data: x\n\n", "9\r\ndata: x\n\n\r\n"),
            (&"y".repeat(0x1f0), &format!("1f0\r\n{}\r\n", "y".repeat(0x1f0))),
        ] {
            let mut out = b"kept".to_vec();
            out.extend_from_slice(piece.as_bytes());
            frame_chunk(&mut out, 4);
            assert_eq!(String::from_utf8(out).unwrap(), format!("kept{want}"));
        }
    }

    #[test]
    fn streamed_pieces_are_framed_as_chunks() {
        let mut source = Pieces(vec![b"hello", b"", &[b'x'; 0x1a2]]);
        let mut wire = Vec::new();
        let mut out = Vec::new();
        while next_piece(&mut source, true, &mut out).unwrap() {
            wire.extend_from_slice(&out);
        }
        wire.extend_from_slice(&out);
        let want = format!("00000005\r\nhello\r\n000001a2\r\n{}\r\n0\r\n\r\n", "x".repeat(0x1a2));
        assert_eq!(String::from_utf8(wire).unwrap(), want);
        let mut plain = Pieces(vec![b"ab"]);
        assert!(!next_piece(&mut plain, false, &mut out).unwrap());
        assert_eq!(out, b"ab");
    }
}
