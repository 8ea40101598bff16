//! [`Response`]: what a handler answers, and the one place where a response
//! head is turned into bytes.
//!
//! Handlers build a `Response` value (status, header fields, a [`Body`]
//! description); they never touch the socket. The connection calls
//! [`Response::write_head`] and then sends the body pieces itself, so file
//! bodies go out with `sendfile` instead of being read into memory.

use std::borrow::Cow;
use std::fs::File;
use std::ops::Range;
use std::sync::Arc;

/// The `Server` header value.
pub const SERVER: &str = concat!("rawserve/", env!("CARGO_PKG_VERSION"));

/// A header field value: usually a constant, sometimes built per response.
pub type Value = Cow<'static, str>;

/// One piece of a file-backed body, sent in order.
#[derive(Debug)]
pub enum Chunk {
    /// Bytes made by the server (multipart boundaries).
    Bytes(Vec<u8>),
    /// `len` bytes of the file starting at `offset`, sent with `sendfile`.
    Range { offset: u64, len: u64 },
}

/// What follows the head.
#[derive(Debug)]
pub enum Body {
    Empty,
    Bytes(Cow<'static, [u8]>),
    /// Bytes shared with a cache.
    Shared(Arc<[u8]>),
    /// An open file and the pieces of it (with any framing) to send.
    File {
        file: File,
        chunks: Vec<Chunk>,
    },
}

impl Body {
    /// A whole file of `len` bytes.
    pub fn file(file: File, len: u64) -> Body {
        Body::File { file, chunks: vec![Chunk::Range { offset: 0, len }] }
    }

    /// Number of body bytes, for `Content-Length`.
    pub fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Bytes(b) => b.len() as u64,
            Body::Shared(b) => b.len() as u64,
            Body::File { chunks, .. } => chunks
                .iter()
                .map(|c| match c {
                    Chunk::Bytes(b) => b.len() as u64,
                    Chunk::Range { len, .. } => *len,
                })
                .sum(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A response as handlers describe it.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Header fields besides the ones every response gets (`Date`,
    /// `Server`, `Content-Length`, `Connection`, `X-Content-Type-Options`).
    pub headers: Vec<(&'static str, Value)>,
    /// Header lines already serialised (by a cache), written after `headers`.
    pub raw_headers: Option<(Arc<[u8]>, Range<usize>)>,
    pub body: Body,
    /// The handler wants the connection closed after this response.
    pub close: bool,
}

impl Response {
    pub fn new(status: u16) -> Response {
        Response { status, headers: Vec::new(), raw_headers: None, body: Body::Empty, close: false }
    }

    /// A small `text/plain` or `text/html` page.
    pub fn text(status: u16, content_type: &'static str, body: impl Into<Cow<'static, [u8]>>) -> Response {
        Response::new(status).header("Content-Type", content_type).body(Body::Bytes(body.into()))
    }

    /// The built-in page for an error status, e.g. "404 Not Found".
    pub fn error(status: u16) -> Response {
        let text = format!("{status} {}\n", reason(status));
        Response::text(status, "text/plain; charset=utf-8", text.into_bytes())
    }

    pub fn header(mut self, name: &'static str, value: impl Into<Value>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    pub fn body(mut self, body: Body) -> Response {
        self.body = body;
        self
    }

    /// Serialises the status line and header fields into `out`.
    ///
    /// `date` is the cached IMF-fixdate for `Date`. `keep_alive` is the
    /// connection's decision; it is stated explicitly only when it differs
    /// from the version's default, plus `keep-alive` for HTTP/1.0 clients.
    pub fn write_head(&self, out: &mut Vec<u8>, date: &str, keep_alive: bool, http10: bool) {
        let mut number = itoa::Buffer::new();
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(number.format(self.status).as_bytes());
        out.push(b' ');
        out.extend_from_slice(reason(self.status).as_bytes());
        out.extend_from_slice(b"\r\nDate: ");
        out.extend_from_slice(date.as_bytes());
        out.extend_from_slice(b"\r\nServer: ");
        out.extend_from_slice(SERVER.as_bytes());
        out.extend_from_slice(b"\r\n");
        if has_length(self.status) {
            write_field(out, "Content-Length", number.format(self.body.len()));
        }
        for (name, value) in &self.headers {
            write_field(out, name, value);
        }
        if let Some((block, range)) = &self.raw_headers {
            out.extend_from_slice(&block[range.clone()]);
        }
        out.extend_from_slice(b"X-Content-Type-Options: nosniff\r\n");
        if !keep_alive {
            out.extend_from_slice(b"Connection: close\r\n");
        } else if http10 {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// One `Name: value` line.
pub fn write_field(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// 1xx, 204 and 304 never carry a body, so no `Content-Length` either.
fn has_length(status: u16) -> bool {
    !(status < 200 || status == 204 || status == 304)
}

/// The reason phrase for every status rawserve sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        416 => "Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(response: &Response, keep_alive: bool, http10: bool) -> String {
        let mut out = Vec::new();
        response.write_head(&mut out, "Sat, 21 Nov 2026 23:30:10 GMT", keep_alive, http10);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn serialises_head() {
        let r = Response::text(200, "text/plain; charset=utf-8", &b"hi"[..]);
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
    fn body_lengths() {
        assert_eq!(Body::Empty.len(), 0);
        assert_eq!(Body::Bytes(Cow::Borrowed(b"abc")).len(), 3);
    }
}
