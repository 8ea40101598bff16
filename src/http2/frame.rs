//! HTTP/2 frames (RFC 9113 §4 and §6): the 9-byte frame header, the type,
//! flag, setting and error-code numbers, and writers for the frames a
//! server sends. Pure byte work, no state: the session decides which
//! frame to send and what one received means.

/// The client connection preface (RFC 9113 §3.4), before its SETTINGS.
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Bytes of a frame header.
pub const HEADER_LEN: usize = 9;

pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const PRIORITY: u8 = 0x2;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PUSH_PROMISE: u8 = 0x5;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const WINDOW_UPDATE: u8 = 0x8;
pub const CONTINUATION: u8 = 0x9;
/// RFC 9218 §7.1.
pub const PRIORITY_UPDATE: u8 = 0x10;

pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;
pub const PADDED: u8 = 0x8;
pub const PRIORITY_FLAG: u8 = 0x20;

pub const SETTINGS_HEADER_TABLE_SIZE: u16 = 0x1;
pub const SETTINGS_ENABLE_PUSH: u16 = 0x2;
pub const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 0x3;
pub const SETTINGS_INITIAL_WINDOW_SIZE: u16 = 0x4;
pub const SETTINGS_MAX_FRAME_SIZE: u16 = 0x5;
pub const SETTINGS_MAX_HEADER_LIST_SIZE: u16 = 0x6;
/// RFC 9218 §2.1: the server does not use RFC 7540's priority tree.
pub const SETTINGS_NO_RFC7540_PRIORITIES: u16 = 0x9;

/// The largest window (and window increment) there is: 2^31 - 1.
pub const MAX_WINDOW: i64 = (1 << 31) - 1;
/// The window every stream starts with until SETTINGS say otherwise.
pub const DEFAULT_WINDOW: i64 = 65_535;
/// The largest frame the peer takes until its SETTINGS say otherwise.
pub const DEFAULT_MAX_FRAME: usize = 16_384;

/// An error code (RFC 9113 §7), for RST_STREAM and GOAWAY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    NoError = 0x0,
    Protocol = 0x1,
    Internal = 0x2,
    FlowControl = 0x3,
    StreamClosed = 0x5,
    FrameSize = 0x6,
    RefusedStream = 0x7,
    Cancel = 0x8,
    Compression = 0x9,
    EnhanceYourCalm = 0xb,
}

/// A frame header as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub len: usize,
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
}

impl Header {
    /// The header at the start of `bytes`, if all 9 bytes are there (the
    /// stream identifier's reserved bit ignored, as §4.1 says).
    pub fn parse(bytes: &[u8]) -> Option<Header> {
        let b = bytes.get(..HEADER_LEN)?;
        Some(Header {
            len: usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]),
            kind: b[3],
            flags: b[4],
            stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff,
        })
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// Appends a frame header.
pub fn write_header(out: &mut Vec<u8>, len: usize, kind: u8, flags: u8, stream: u32) {
    // OK: payloads are at most the peer's max frame size, under 2^24.
    let len = len as u32;
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
}

/// Appends a SETTINGS frame with `settings`.
pub fn write_settings(out: &mut Vec<u8>, settings: &[(u16, u32)]) {
    write_header(out, settings.len() * 6, SETTINGS, 0, 0);
    for (id, value) in settings {
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&value.to_be_bytes());
    }
}

pub fn write_settings_ack(out: &mut Vec<u8>) {
    write_header(out, 0, SETTINGS, ACK, 0);
}

pub fn write_window_update(out: &mut Vec<u8>, stream: u32, increment: u32) {
    write_header(out, 4, WINDOW_UPDATE, 0, stream);
    out.extend_from_slice(&(increment & 0x7fff_ffff).to_be_bytes());
}

pub fn write_rst_stream(out: &mut Vec<u8>, stream: u32, code: Code) {
    write_header(out, 4, RST_STREAM, 0, stream);
    out.extend_from_slice(&(code as u32).to_be_bytes());
}

pub fn write_goaway(out: &mut Vec<u8>, last_stream: u32, code: Code) {
    write_header(out, 8, GOAWAY, 0, 0);
    out.extend_from_slice(&(last_stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(&(code as u32).to_be_bytes());
}

pub fn write_ping_ack(out: &mut Vec<u8>, data: &[u8]) {
    write_header(out, 8, PING, ACK, 0);
    out.extend_from_slice(data);
}

/// Appends a header block as HEADERS and, past `max_frame` bytes, as
/// CONTINUATION frames.
pub fn write_headers(out: &mut Vec<u8>, stream: u32, block: &[u8], end_stream: bool, max_frame: usize) {
    let mut pieces = block.chunks(max_frame.max(1)).peekable();
    let first = pieces.next().unwrap_or(&[]);
    let mut flags = if end_stream { END_STREAM } else { 0 };
    if pieces.peek().is_none() {
        flags |= END_HEADERS;
    }
    write_header(out, first.len(), HEADERS, flags, stream);
    out.extend_from_slice(first);
    while let Some(piece) = pieces.next() {
        let flags = if pieces.peek().is_none() { END_HEADERS } else { 0 };
        write_header(out, piece.len(), CONTINUATION, flags, stream);
        out.extend_from_slice(piece);
    }
}

/// The payload of a frame without its padding (§6.1): `None` when the pad
/// length is not less than what it pads.
pub fn unpad<'a>(header: &Header, payload: &'a [u8]) -> Option<&'a [u8]> {
    if !header.has(PADDED) {
        return Some(payload);
    }
    let (&pad, rest) = payload.split_first()?;
    rest.len().checked_sub(usize::from(pad)).map(|end| &rest[..end])
}

/// The 31-bit value of a 4-byte payload (a window increment, a stream).
pub fn read_u31(payload: &[u8]) -> u32 {
    let mut four = [0u8; 4];
    four.copy_from_slice(&payload[..4]);
    u32::from_be_bytes(four) & 0x7fff_ffff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip() {
        let cases =
            [(0, DATA, 0, 1), (16_384, HEADERS, END_HEADERS | END_STREAM, 3), (0xff_ffff, 0x42, 0xff, 0x7fff_ffff)];
        for (len, kind, flags, stream) in cases {
            let mut out = Vec::new();
            write_header(&mut out, len, kind, flags, stream);
            assert_eq!(Header::parse(&out), Some(Header { len, kind, flags, stream }));
        }
        assert_eq!(Header::parse(&[0; 8]), None);
        // The reserved bit is ignored.
        let reserved = [0, 0, 0, 0, 0, 0x80, 0, 0, 1];
        assert_eq!(Header::parse(&reserved).map(|h| h.stream), Some(1));
    }

    #[test]
    fn padding() {
        let padded = Header { len: 0, kind: DATA, flags: PADDED, stream: 1 };
        let plain = Header { flags: 0, ..padded };
        type Case<'a> = (&'a Header, &'a [u8], Option<&'a [u8]>);
        let cases: [Case; 6] = [
            (&plain, b"abc", Some(b"abc")),
            (&padded, b"\x02abc\0\0", Some(b"abc")),
            (&padded, b"\x00abc", Some(b"abc")),
            (&padded, b"\x03abc", Some(b"")),
            (&padded, b"\x04abc", None),
            (&padded, b"", None),
        ];
        for (header, payload, want) in cases {
            assert_eq!(unpad(header, payload), want, "{payload:?}");
        }
    }

    #[test]
    fn a_large_block_continues() {
        let block = vec![7u8; 40];
        let mut out = Vec::new();
        write_headers(&mut out, 5, &block, true, 16);
        let first = Header::parse(&out).unwrap();
        assert_eq!((first.len, first.kind, first.flags), (16, HEADERS, END_STREAM));
        let second = Header::parse(&out[25..]).unwrap();
        assert_eq!((second.len, second.kind, second.flags), (16, CONTINUATION, 0));
        let third = Header::parse(&out[50..]).unwrap();
        assert_eq!((third.len, third.kind, third.flags), (8, CONTINUATION, END_HEADERS));
        assert_eq!(out.len(), 3 * HEADER_LEN + 40);
    }
}
