//! What an HTTP/2 stream sends: a [`Response`]'s head as an HPACK block
//! ([`encode_head`]: the fields HTTP/1's `encode` writes, lowercase, less
//! the connection-specific ones), and its body as pieces of at most what
//! flow control allows ([`Outgoing::fill`]). A file's bytes are read only
//! as the windows open, into the output the frames go out of: HTTP/2's
//! frames leave no place for `sendfile` (and TLS none at all), so a
//! cleartext h2 download costs a copy that HTTP/1 does not.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::mem::MaybeUninit;
use std::sync::{Arc, OnceLock};

use crate::http::response::{has_length, Body, Chunk, Response, SERVER};
use crate::http2::hpack;
use crate::http2::limits::DATA_CHUNK;
use crate::sys::net;

/// Fields that mean something only on an HTTP/1 connection: a handler's
/// are dropped, as RFC 9113 §8.2.2 forbids them.
const HOP_BY_HOP: [&str; 5] = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"];

/// Encodes the head of `response` into `out`: `:status`, `date`,
/// `server`, `content-length` when the body's length is known, the
/// handler's fields, `x-content-type-options`. Fields a cache rendered are
/// encoded once and kept with them.
pub fn encode_head(response: &Response, date: &str, out: &mut Vec<u8>) {
    /// The two fields every response carries unchanged, encoded once.
    static SERVER_FIELD: OnceLock<Box<[u8]>> = OnceLock::new();
    static NOSNIFF_FIELD: OnceLock<Box<[u8]>> = OnceLock::new();
    let encoded = |name: &[u8], value: &[u8]| {
        let mut field = Vec::new();
        hpack::encode_field(&mut field, name, value);
        field.into_boxed_slice()
    };
    hpack::encode_status(out, response.status);
    hpack::encode_field(out, b"date", date.as_bytes());
    out.extend_from_slice(SERVER_FIELD.get_or_init(|| encoded(b"server", SERVER.as_bytes())));
    if has_length(response.status) && known_length(&response.body) {
        hpack::encode_field(out, b"content-length", itoa::Buffer::new().format(response.body.len()).as_bytes());
    }
    let mut lower = Vec::new();
    for (name, value) in &response.headers {
        encode_handler_field(out, &mut lower, name.as_bytes(), value.as_bytes());
    }
    if let Some((fields, part)) = &response.raw_headers {
        out.extend_from_slice(fields.hpack(*part, encode_lines));
    }
    out.extend_from_slice(NOSNIFF_FIELD.get_or_init(|| encoded(b"x-content-type-options", b"nosniff")));
}

/// Encodes HTTP/1 lines (`Name: value\r\n`, as a cache rendered them).
fn encode_lines(lines: &[u8], out: &mut Vec<u8>) {
    let mut lower = Vec::new();
    for line in lines.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        encode_handler_field(out, &mut lower, &line[..colon], line[colon + 1..].trim_ascii());
    }
}

/// Encodes a field a handler set: its name lowercased (in `lower`), none
/// that only HTTP/1 has.
fn encode_handler_field(out: &mut Vec<u8>, lower: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    if HOP_BY_HOP.iter().any(|h| name.eq_ignore_ascii_case(h.as_bytes())) {
        return;
    }
    lower.clear();
    lower.extend(name.iter().map(u8::to_ascii_lowercase));
    hpack::encode_field(out, lower, value);
}

/// Whether `body`'s length is known before it is sent.
fn known_length(body: &Body) -> bool {
    match body {
        Body::Bytes(_) | Body::Shared(_) | Body::Empty => true,
        Body::File { chunks, .. } => !chunks.iter().any(|c| matches!(c, Chunk::Stream { .. })),
        Body::Stream(_) | Body::Events(_) | Body::Later(_) => false,
    }
}

/// A response body being sent.
#[derive(Debug)]
pub enum Outgoing {
    /// Bytes in memory, from `pos`.
    Memory { bytes: Memory, pos: usize },
    /// A file's pieces (or a stream's, without a file), in order; `piece`
    /// holds made bytes not yet sent, from `at`.
    Pieces { file: Option<File>, chunks: VecDeque<Chunk>, piece: Vec<u8>, at: usize },
}

/// Bytes a response holds.
#[derive(Debug)]
pub enum Memory {
    Owned(Cow<'static, [u8]>),
    Shared(Arc<[u8]>),
}

impl Memory {
    fn as_slice(&self) -> &[u8] {
        match self {
            Memory::Owned(bytes) => bytes,
            Memory::Shared(bytes) => bytes,
        }
    }
}

impl Outgoing {
    /// The body of `body` to send; `None` when there is none (or it is
    /// not sent this way: events, a response still being prepared).
    pub fn of(body: Body) -> Option<Outgoing> {
        match body {
            Body::Bytes(bytes) if !bytes.is_empty() => Some(Outgoing::Memory { bytes: Memory::Owned(bytes), pos: 0 }),
            Body::Shared(bytes) if !bytes.is_empty() => Some(Outgoing::Memory { bytes: Memory::Shared(bytes), pos: 0 }),
            Body::File { file, chunks } => {
                Some(Outgoing::Pieces { file: Some(file), chunks: chunks.into(), piece: Vec::new(), at: 0 })
            }
            Body::Stream(source) => Some(Outgoing::Pieces {
                file: None,
                chunks: VecDeque::from([Chunk::Stream { source, chunked: false }]),
                piece: Vec::new(),
                at: 0,
            }),
            _ => None,
        }
    }

    /// Appends at most `max` bytes of the body to `out`; `Ok(true)` once
    /// the body has ended (what was appended is its last). An error is a
    /// body that cannot be completed (a file cut short).
    pub fn fill(&mut self, max: usize, out: &mut Vec<u8>) -> io::Result<bool> {
        match self {
            Outgoing::Memory { bytes, pos } => {
                let bytes = bytes.as_slice();
                let end = bytes.len().min(*pos + max);
                out.extend_from_slice(&bytes[*pos..end]);
                *pos = end;
                Ok(end == bytes.len())
            }
            Outgoing::Pieces { file, chunks, piece, at } => {
                let mut written = 0;
                loop {
                    if *at < piece.len() {
                        let take = (piece.len() - *at).min(max - written);
                        out.extend_from_slice(&piece[*at..*at + take]);
                        *at += take;
                        written += take;
                    }
                    if written == max {
                        return Ok(*at == piece.len() && chunks.is_empty());
                    }
                    // The piece is sent: the next one.
                    piece.clear();
                    *at = 0;
                    let Some(chunk) = chunks.front_mut() else { return Ok(true) };
                    match chunk {
                        Chunk::Bytes(bytes) => {
                            *piece = std::mem::take(bytes);
                            chunks.pop_front();
                        }
                        Chunk::Range { offset, len } => {
                            let Some(file) = file.as_ref() else { return Err(io::ErrorKind::InvalidData.into()) };
                            let mut buffer = [const { MaybeUninit::<u8>::uninit() }; DATA_CHUNK];
                            let want = (*len).min((max - written) as u64).min(DATA_CHUNK as u64) as usize;
                            let read = net::read_file_at(file, &mut buffer[..want], *offset)?;
                            if read.is_empty() {
                                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the file was cut short"));
                            }
                            out.extend_from_slice(read);
                            written += read.len();
                            *offset += read.len() as u64;
                            *len -= read.len() as u64;
                            if *len == 0 {
                                chunks.pop_front();
                            }
                        }
                        Chunk::Stream { source, .. } => {
                            if !source.fill(piece)? {
                                chunks.pop_front();
                            }
                        }
                    }
                    if written == max {
                        return Ok(piece.is_empty() && chunks.is_empty());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http2::hpack::{decode, decoder};

    fn head(response: &Response) -> Vec<(String, String)> {
        let mut out = Vec::new();
        encode_head(response, "D", &mut out);
        let fields = decode(&mut decoder(), &out, 1 << 16).unwrap();
        (0..fields.list.len())
            .map(|i| (String::from_utf8_lossy(fields.name(i)).into(), String::from_utf8_lossy(fields.value(i)).into()))
            .collect()
    }

    #[test]
    fn a_head_as_http2_writes_it() {
        let response =
            Response::page(200, "text/plain", &b"hi"[..]).header("Connection", "close").header("ETag", "\"x\"");
        let fields = head(&response);
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [":status", "date", "server", "content-length", "content-type", "etag", "x-content-type-options"]
        );
        assert_eq!(fields[3].1, "2");
        assert!(!head(&Response::new(304)).iter().any(|(n, _)| n == "content-length"));
    }

    #[test]
    fn rendered_fields_go_lowercase_and_a_304_sends_its_part() {
        use crate::http::rendered::{Part, RenderedFields};
        let validators = b"ETag: \"x\"\r\nCache-Control: no-cache\r\nConnection: keep-alive\r\n";
        let lines = [&validators[..], b"Content-Type: text/plain\r\nAccept-Ranges: bytes\r\n"].concat();
        let rendered = Arc::new(RenderedFields::new(lines, validators.len()));
        let with = |status, part| {
            let mut response = Response::new(status);
            response.raw_headers = Some((Arc::clone(&rendered), part));
            head(&response).into_iter().skip(3).map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>()
        };
        let all = ["etag=\"x\"", "cache-control=no-cache", "content-type=text/plain", "accept-ranges=bytes"];
        // Twice each: the second use is the kept block.
        for _ in 0..2 {
            assert_eq!(with(200, Part::All)[1..5], all);
            assert_eq!(with(304, Part::Validators)[..2], all[..2]);
            assert_eq!(with(304, Part::Validators).len(), 3, "and x-content-type-options");
        }
    }

    #[test]
    fn bodies_go_in_pieces() {
        let mut body = Outgoing::of(Body::Bytes(Cow::Borrowed(b"abcdefg"))).unwrap();
        let mut out = Vec::new();
        assert!(!body.fill(3, &mut out).unwrap());
        assert!(!body.fill(3, &mut out).unwrap());
        assert!(body.fill(3, &mut out).unwrap());
        assert_eq!(out, b"abcdefg");
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, b"0123456789").unwrap();
        let chunks = vec![Chunk::Bytes(b"<".to_vec()), Chunk::Range { offset: 2, len: 5 }, Chunk::Bytes(b">".to_vec())];
        let mut body = Outgoing::of(Body::File { file, chunks }).unwrap();
        let mut out = Vec::new();
        let mut calls = 0;
        while !body.fill(2, &mut out).unwrap() {
            calls += 1;
        }
        assert_eq!(out, b"<23456>");
        assert_eq!(calls, 3);
    }
}
