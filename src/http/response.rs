//! [`Response`]: what a handler answers, and the one place where a response
//! head is turned into bytes.
//!
//! Handlers build a `Response` value (status, header fields, a [`Body`]
//! description); they never touch the socket. The connection calls
//! [`Response::write_head`] and then sends the body pieces itself, so file
//! bodies go out with `sendfile` instead of being read into memory.
//!
//! Two ways to build one. Library users get the public constructors
//! ([`Response::text`], [`Response::bytes`], ...) and [`Response::with_header`],
//! which validates what it is given (by `field`'s rules, which
//! [`StaticField`] applies at compile time), because a CR or LF in a value
//! would let user data write its own header lines (response splitting). The crate's own
//! handlers use the `pub(crate)` constructors and [`Response::header`] with
//! `&'static str` names they wrote themselves: nothing to check, nothing to
//! allocate, on the hot path of every file response.

use std::borrow::Cow;
use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;

use http::StatusCode;

use super::rendered::{Part, RenderedFields};
// Re-exported where they were before the split, so users of this module
// need no other import.
pub(crate) use super::field::{check_name, check_value};
pub use super::field::{write_field, HeaderError, StaticField};

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
    /// The pieces of a [`Stream`] body, asked for one at a time as the
    /// socket takes them; framed as HTTP/1.1 chunks when `chunked`, else
    /// ended by closing the connection (HTTP/1.0).
    Stream { source: Box<dyn Stream>, chunked: bool },
}

/// A body of unknown length made piece by piece while it is sent (a
/// folder's tar, a large file compressed on the fly): the connection asks
/// for the next piece only once the previous one is on its way, so memory
/// stays at one piece whatever the body's size. Crate-internal, like
/// [`Preparation`].
pub(crate) trait Stream: Send + std::fmt::Debug {
    /// Appends the next piece (about [`STREAM_PIECE`] bytes, and a bounded
    /// amount of work) to `out`; false once the body is complete (`out` may
    /// still have received its last bytes). An error ends the connection:
    /// the body cannot be completed as framed (a file cut short).
    fn fill(&mut self, out: &mut Vec<u8>) -> io::Result<bool>;

    /// What one piece costs against a connection's turn, in bytes sent:
    /// a piece that is mostly work (compressing) costs more than its size,
    /// so a turn of such pieces ends as soon as a turn of plain bytes would.
    fn turn_cost(&self) -> u64 {
        STREAM_PIECE as u64
    }
}

/// About how many bytes a [`Stream`] adds per [`Stream::fill`]: large
/// enough that framing and calls cost nothing, small enough that the
/// output buffer still goes back to the worker's pool.
pub(crate) const STREAM_PIECE: usize = 64 * 1024;

/// Work a handler cannot finish in one go without holding up every other
/// connection of its worker (a listing of a large directory). The
/// connection calls [`advance`](Preparation::advance) once per turn,
/// between other connections' turns, until it yields the response; the
/// worker's loop never waits on it. Crate-internal: user handlers answer
/// at once.
pub(crate) trait Preparation: Send + std::fmt::Debug {
    /// Does one bounded slice of the work; the response once it is done.
    fn advance(&mut self) -> Option<Response>;
}

/// How a source of [`Events`] asks to be heard: the worker's waker, which
/// makes its event loop drive the connections that listen.
pub(crate) type Wake = Arc<mio::Waker>;

/// A body that never ends by itself: pieces the server pushes whenever
/// something happens (server-sent events), on a connection held open
/// until the client goes or the server stops. Crate-internal, like
/// [`Stream`]; live reload's subscriptions are the one kind.
pub(crate) trait Events: Send + std::fmt::Debug {
    /// Asks for `wake` to be woken whenever there may be something new
    /// (called when the connection starts listening, before the first
    /// [`next`](Events::next)).
    fn listen(&mut self, wake: &Wake);

    /// Appends what happened since the last call (the first call: the
    /// stream's opening); false when there is nothing.
    fn next(&mut self, out: &mut Vec<u8>) -> bool;

    /// Appends a piece that says nothing, so that proxies and clients that
    /// close quiet connections keep this one.
    fn keep_alive(&self, out: &mut Vec<u8>);
}

/// What follows the head.
#[derive(Debug)]
pub enum Body {
    Empty,
    /// Not a body yet: the whole response is still being prepared (see
    /// [`Preparation`]); the connection replaces it before anything is sent.
    Later(Box<dyn Preparation>),
    Bytes(Cow<'static, [u8]>),
    /// Bytes shared with a cache.
    Shared(Arc<[u8]>),
    /// An open file and the pieces of it (with any framing) to send.
    File {
        file: File,
        chunks: Vec<Chunk>,
    },
    /// Made while it is sent (see [`Stream`]): no `Content-Length`, but
    /// `Transfer-Encoding: chunked`, or a close for an HTTP/1.0 client
    /// (the handler must set `close` for those).
    Stream(Box<dyn Stream>),
    /// Pushed while the connection stays open (see [`Events`]): chunked,
    /// or to the close for an HTTP/1.0 client; the response sets `close`.
    Events(Box<dyn Events>),
}

impl Body {
    /// A whole file of `len` bytes.
    pub fn file(file: File, len: u64) -> Body {
        Body::File { file, chunks: vec![Chunk::Range { offset: 0, len }] }
    }

    /// Number of body bytes, for `Content-Length`.
    pub fn len(&self) -> u64 {
        match self {
            Body::Empty | Body::Later(_) | Body::Stream(_) | Body::Events(_) => 0,
            Body::Bytes(b) => b.len() as u64,
            Body::Shared(b) => b.len() as u64,
            Body::File { chunks, .. } => chunks
                .iter()
                .map(|c| match c {
                    Chunk::Bytes(b) => b.len() as u64,
                    Chunk::Range { len, .. } => *len,
                    // Not known before it is sent.
                    Chunk::Stream { .. } => 0,
                })
                .sum(),
        }
    }
}

/// What a handler answers: a status, header fields and a body.
///
/// Build one with a constructor ([`text`](Response::text),
/// [`html`](Response::html), [`json`](Response::json),
/// [`bytes`](Response::bytes), [`file`](Response::file),
/// [`redirect`](Response::redirect), [`status`](Response::status)), then
/// adjust it with [`with_status`](Response::with_status),
/// [`with_header`](Response::with_header) and, for constant fields,
/// [`with_field`](Response::with_field). The server adds `Date`,
/// `Server`, `Content-Length`, `Connection` and `X-Content-Type-Options`
/// itself, and sends no body in answer to `HEAD`.
///
/// ```
/// use rawserve::{Response, StatusCode};
///
/// let created = Response::json(r#"{"id":7}"#)
///     .with_status(StatusCode::CREATED)
///     .with_header("Location", "/items/7")
///     .expect("a valid header field");
/// assert_eq!(created.status_code(), 201);
///
/// // A value with a line break is refused, never written to the wire.
/// assert!(Response::text("hi").with_header("X-Note", "a\r\nSet-Cookie: x").is_err());
/// ```
#[derive(Debug)]
pub struct Response {
    pub(crate) status: u16,
    /// Header fields besides the ones every response gets (`Date`,
    /// `Server`, `Content-Length`, `Connection`, `X-Content-Type-Options`).
    /// Names are borrowed constants for the crate's own handlers, owned
    /// strings only when a library user adds a field.
    pub(crate) headers: Vec<(Cow<'static, str>, Value)>,
    /// Fields rendered once (by a cache), sent after `headers`.
    pub(crate) raw_headers: Option<(Arc<RenderedFields>, Part)>,
    pub(crate) body: Body,
    /// The handler wants the connection closed after this response.
    pub(crate) close: bool,
}

/// The bytes of a text body, borrowed or owned as the text was.
fn utf8_bytes(text: Cow<'static, str>) -> Cow<'static, [u8]> {
    match text {
        Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
        Cow::Owned(text) => Cow::Owned(text.into_bytes()),
    }
}

/// `Content-Type` of [`Response::text`].
const TEXT_PLAIN: &str = "text/plain; charset=utf-8";
/// `Content-Type` of [`Response::html`].
const TEXT_HTML: &str = "text/html; charset=utf-8";
/// `Content-Type` of [`Response::json`] (JSON is UTF-8 by definition, RFC 8259).
const APPLICATION_JSON: &str = "application/json";

/// The public constructors: what library users build responses with.
impl Response {
    /// `200 OK` with a `text/plain; charset=utf-8` body: a `&'static str`
    /// is sent without being copied, a `String` (from `format!`) is moved in.
    pub fn text(body: impl Into<Cow<'static, str>>) -> Response {
        Response::page(200, TEXT_PLAIN, utf8_bytes(body.into()))
    }

    /// `200 OK` with a `text/html; charset=utf-8` body, taken as by
    /// [`Response::text`].
    pub fn html(body: impl Into<Cow<'static, str>>) -> Response {
        Response::page(200, TEXT_HTML, utf8_bytes(body.into()))
    }

    /// `200 OK` with an `application/json` body, sent as given (it is not
    /// parsed or checked).
    pub fn json(body: impl Into<Vec<u8>>) -> Response {
        Response::page(200, APPLICATION_JSON, body.into())
    }

    /// `200 OK` with `body` and the given `Content-Type`, which is
    /// validated like any header value (see [`with_header`](Response::with_header)).
    pub fn bytes(content_type: &str, body: impl Into<Vec<u8>>) -> Result<Response, HeaderError> {
        check_value(content_type)?;
        Ok(Response::new(200)
            .header("Content-Type", content_type.to_string())
            .body(Body::Bytes(Cow::Owned(body.into()))))
    }

    /// `200 OK` with the contents of the regular file at `path`, its
    /// `Content-Type` guessed from the extension. The file is opened now and
    /// sent with `sendfile` later, never read into memory. No range or
    /// conditional requests are handled here; use [`StaticFiles`](crate::StaticFiles)
    /// for that.
    pub fn file(path: impl AsRef<Path>) -> io::Result<Response> {
        let path = path.as_ref();
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
        }
        let mime = mime_guess::from_path(path).first_raw().unwrap_or("application/octet-stream");
        let content_type =
            if mime.starts_with("text/") { Cow::Owned(format!("{mime}; charset=utf-8")) } else { Cow::Borrowed(mime) };
        Ok(Response::new(200).header("Content-Type", content_type).body(Body::file(file, meta.len())))
    }

    /// `302 Found` to `location` (change the status with
    /// [`with_status`](Response::with_status): 301, 303, 307, 308). The
    /// location is validated like any header value.
    pub fn redirect(location: &str) -> Result<Response, HeaderError> {
        Response::status(StatusCode::FOUND).with_header("Location", location)
    }

    /// The built-in page for `code`, e.g. `404 Not Found` as plain text
    /// (no body for 204 and 304, which cannot have one).
    ///
    /// # Panics
    ///
    /// If `code` is not a final status (200 to 599): informational answers
    /// are the server's business, and anything else is not HTTP.
    pub fn status(code: StatusCode) -> Response {
        let code = code.as_u16();
        assert_final(code);
        if has_length(code) {
            Response::error(code)
        } else {
            Response::new(code)
        }
    }

    /// The same response with status `code`. For 204 and 304 the body is
    /// dropped, because those statuses cannot carry one. A body that is the
    /// built-in page of the status being replaced (from [`Response::status`]
    /// or [`Response::redirect`]) becomes `code`'s page, so a 307 made from
    /// a redirect does not say "302 Found".
    ///
    /// # Panics
    ///
    /// As [`Response::status`].
    pub fn with_status(mut self, code: StatusCode) -> Response {
        let code = code.as_u16();
        assert_final(code);
        let old = std::mem::replace(&mut self.status, code);
        if !has_length(code) {
            self.body = Body::Empty;
        } else if code != old && matches!(&self.body, Body::Bytes(bytes) if **bytes == *page_text(old).as_bytes()) {
            self.body = Body::Bytes(Cow::Owned(page_text(code).into_bytes()));
        }
        self
    }

    /// Adds the header field `name: value`, or says why it cannot be sent:
    /// `name` must be an HTTP token, `value` must not contain control
    /// characters (CR, LF and NUL above all, which would end the line and
    /// let the value write header fields of its own), and fields the
    /// server writes itself (`Content-Length`, `Transfer-Encoding`,
    /// `Connection`, `Date`, `Server`, `X-Content-Type-Options`) cannot be
    /// set. A `Content-Type` replaces the constructor's; other names may
    /// repeat (`Set-Cookie`).
    pub fn with_header(mut self, name: &str, value: &str) -> Result<Response, HeaderError> {
        check_name(name)?;
        check_value(value)?;
        if name.eq_ignore_ascii_case("content-type") {
            self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
        }
        self.headers.push((Cow::Owned(name.to_string()), Cow::Owned(value.to_string())));
        Ok(self)
    }

    /// Adds a field of two constants, checked once when the
    /// [`StaticField`] was made (at compile time in a `const`): nothing is
    /// checked or copied here, so a field every response of a route carries
    /// costs nothing per request. A `Content-Type` replaces the
    /// constructor's, as with [`with_header`](Response::with_header).
    ///
    /// ```
    /// use rawserve::{Response, StaticField};
    ///
    /// const NO_CACHE: StaticField = StaticField::new("Cache-Control", "no-cache");
    /// let response = Response::text("Hello").with_field(NO_CACHE);
    /// # drop(response);
    /// ```
    #[inline] // moving the whole response in and out measured 58 instructions on /hello
    pub fn with_field(mut self, field: StaticField) -> Response {
        if field.is_content_type() {
            self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
        }
        self.headers.push((Cow::Borrowed(field.name()), Cow::Borrowed(field.value())));
        self
    }

    /// The status code.
    pub fn status_code(&self) -> StatusCode {
        // OK: every status a response holds is a final one (200-599).
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// The crate's own constructors: no validation, no allocation for names.
impl Response {
    pub(crate) fn new(status: u16) -> Response {
        Response { status, headers: Vec::new(), raw_headers: None, body: Body::Empty, close: false }
    }

    /// A small page made by the server (plain text, a listing).
    /// A response still being prepared: the connection advances `work`
    /// between other connections' turns until it yields the real one.
    pub(crate) fn later(work: Box<dyn Preparation>) -> Response {
        Response::new(200).body(Body::Later(work))
    }

    pub(crate) fn page(status: u16, content_type: &'static str, body: impl Into<Cow<'static, [u8]>>) -> Response {
        Response::new(status).header("Content-Type", content_type).body(Body::Bytes(body.into()))
    }

    /// The built-in page for an error status, e.g. "404 Not Found".
    pub(crate) fn error(status: u16) -> Response {
        Response::page(status, TEXT_PLAIN, page_text(status).into_bytes())
    }

    /// Adds a field whose name is a constant of this crate. Not validated:
    /// every caller passes a literal name and a value it built itself.
    pub(crate) fn header(mut self, name: &'static str, value: impl Into<Value>) -> Response {
        self.headers.push((Cow::Borrowed(name), value.into()));
        self
    }

    /// The same response, asking for the connection to be closed after it.
    pub(crate) fn closing(mut self) -> Response {
        self.close = true;
        self
    }

    pub(crate) fn body(mut self, body: Body) -> Response {
        self.body = body;
        self
    }
}

/// The text of the built-in page for `status`, e.g. "404 Not Found\n".
fn page_text(status: u16) -> String {
    format!("{status} {}\n", reason(status))
}

/// Statuses a handler may answer with: final ones, three digits.
fn assert_final(code: u16) {
    assert!((200..=599).contains(&code), "{code} is not a final HTTP status (200-599)");
}

/// 1xx, 204 and 304 never carry a body, so no `Content-Length` either.
pub(crate) fn has_length(status: u16) -> bool {
    !(status < 200 || status == 204 || status == 304)
}

/// The reason phrase for every status rawserve sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        // WebDAV's (RFC 4918).
        207 => "Multi-Status",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        422 => "Unprocessable Content",
        423 => "Locked",
        424 => "Failed Dependency",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        507 => "Insufficient Storage",
        // Request bodies' refusals (issue 21's decoder sends both).
        411 => "Length Required",
        417 => "Expectation Failed",
        // Any other a handler may return (`Response::status`): the `http`
        // crate's name for it, if it has one.
        _ => http::StatusCode::from_u16(status).ok().and_then(|code| code.canonical_reason()).unwrap_or(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_a_reason_phrase() {
        for (status, phrase) in [
            (200, "OK"),
            (411, "Length Required"),
            (413, "Content Too Large"),
            (417, "Expectation Failed"),
            (422, "Unprocessable Content"),
            (418, "I'm a teapot"),
            (451, "Unavailable For Legal Reasons"),
            (504, "Gateway Timeout"),
        ] {
            assert_eq!(reason(status), phrase, "{status}");
        }
        for status in 100..=599 {
            let named = http::StatusCode::from_u16(status).ok().and_then(|code| code.canonical_reason());
            assert_eq!(reason(status).is_empty(), named.is_none(), "{status}");
        }
    }

    fn head(response: &Response, keep_alive: bool, http10: bool) -> String {
        let mut out = Vec::new();
        crate::http1::encode::write_head(response, &mut out, "Sat, 21 Nov 2026 23:30:10 GMT", keep_alive, http10);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn body_lengths() {
        assert_eq!(Body::Empty.len(), 0);
        assert_eq!(Body::Bytes(Cow::Borrowed(b"abc")).len(), 3);
    }

    /// Whether `with_header(name, value)` accepts the field.
    fn accepts(name: &str, value: &str) -> Result<(), HeaderError> {
        Response::text("").with_header(name, value).map(|_| ())
    }

    #[test]
    fn header_fields_from_users_are_validated() {
        let name = |n: &str| Err(HeaderError::Name(n.to_string()));
        let value = |v: &str| Err(HeaderError::Value(v.to_string()));
        let reserved = |n: &str| Err(HeaderError::Reserved(n.to_string()));
        let cases: &[(&str, &str, Result<(), HeaderError>)] = &[
            ("X-Id", "42", Ok(())),
            ("x-odd!#$%&'*+-.^_`|~9", "v", Ok(())),
            ("Set-Cookie", "a=b; Path=/; HttpOnly", Ok(())),
            ("X-Tab", "a\tb", Ok(())),
            ("X-Empty", "", Ok(())),
            ("X-Unicode", "caf\u{e9}", Ok(())),
            ("", "v", name("")),
            ("X Id", "v", name("X Id")),
            ("X-Id:", "v", name("X-Id:")),
            ("X-Id\r\nInjected", "v", name("X-Id\r\nInjected")),
            ("X-\u{e9}", "v", name("X-\u{e9}")),
            ("(comment)", "v", name("(comment)")),
            ("X-Note", "a\r\nSet-Cookie: stolen", value("a\r\nSet-Cookie: stolen")),
            ("X-Note", "a\rb", value("a\rb")),
            ("X-Note", "a\nb", value("a\nb")),
            ("X-Note", "a\0b", value("a\0b")),
            ("X-Note", "bell\x07", value("bell\x07")),
            ("X-Note", "del\x7f", value("del\x7f")),
            ("Content-Length", "0", reserved("Content-Length")),
            ("transfer-encoding", "chunked", reserved("transfer-encoding")),
            ("CONNECTION", "close", reserved("CONNECTION")),
            ("Date", "now", reserved("Date")),
            ("Server", "other", reserved("Server")),
        ];
        for (n, v, expected) in cases {
            assert_eq!(&accepts(n, v), expected, "{n:?}: {v:?}");
        }
    }

    #[test]
    fn static_fields_are_added_as_given() {
        const NO_CACHE: StaticField = StaticField::new("Cache-Control", "no-cache");
        const JSON: StaticField = StaticField::new("content-type", "application/problem+json");
        let text = head(&Response::text("x").with_field(NO_CACHE).with_field(JSON), true, false);
        assert!(text.contains("\r\nCache-Control: no-cache\r\n"), "{text}");
        assert_eq!(text.to_ascii_lowercase().matches("\r\ncontent-type:").count(), 1, "replaced: {text}");
        assert!(text.contains("\r\ncontent-type: application/problem+json\r\n"), "{text}");
    }

    #[test]
    fn a_refused_field_never_reaches_the_wire() {
        assert!(Response::bytes("text/plain\r\nX-Evil: 1", "x").is_err());
        assert!(Response::redirect("/next\r\nSet-Cookie: a=b").is_err());
        let ok = Response::redirect("/next").unwrap();
        assert!(head(&ok, true, false).starts_with("HTTP/1.1 302 Found\r\n"));
        assert!(head(&ok, true, false).contains("\r\nLocation: /next\r\n"));
    }

    #[test]
    fn public_constructors() {
        let json = Response::json("{}").with_header("Content-Type", "application/problem+json").unwrap();
        let text = head(&json, true, false);
        assert!(text.contains("Content-Type: application/problem+json\r\n"), "{text}");
        assert_eq!(text.matches("\r\nContent-Type:").count(), 1, "the constructor's Content-Type is replaced");
        let none = Response::text("dropped").with_status(StatusCode::NO_CONTENT);
        assert_eq!(none.body.len(), 0);
        assert_eq!(Response::status(StatusCode::NOT_FOUND).status_code(), 404);
        assert_eq!(Response::status(StatusCode::NOT_MODIFIED).body.len(), 0);
    }

    #[test]
    fn a_new_status_replaces_the_old_status_page_and_nothing_else() {
        let body = |r: Response| match r.body {
            Body::Bytes(bytes) => String::from_utf8(bytes.into_owned()).expect("text"),
            Body::Empty => String::new(),
            other => panic!("unexpected body {other:?}"),
        };
        let redirect = || Response::redirect("/x").expect("a valid location");
        let code = |n| StatusCode::from_u16(n).expect("a status");
        let cases: [(Response, u16, &str); 8] = [
            (redirect().with_status(code(307)), 307, "307 Temporary Redirect\n"),
            (redirect().with_status(code(301)), 301, "301 Moved Permanently\n"),
            (redirect().with_status(code(302)), 302, "302 Found\n"),
            (Response::status(code(404)).with_status(code(410)), 410, "410 Gone\n"),
            (Response::status(code(404)).with_status(code(410)).with_status(code(404)), 404, "404 Not Found\n"),
            (Response::status(code(302)).with_status(code(204)), 204, ""),
            // A body of the handler's own stays.
            (Response::text("moved: see /x").with_status(code(307)), 307, "moved: see /x"),
            (Response::json("{}").with_status(code(404)), 404, "{}"),
        ];
        for (response, status, want) in cases {
            assert_eq!(response.status, status);
            let length = response.body.len();
            assert_eq!(body(response), want, "status {status}");
            assert_eq!(length as usize, want.len(), "Content-Length follows the page");
        }
    }

    #[test]
    fn a_file_response_is_an_open_file_with_its_type() {
        let dir = std::env::temp_dir().join(format!("rawserve-response-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("page.html");
        std::fs::write(&path, b"<p>hi</p>").unwrap();
        let r = Response::file(&path).unwrap();
        assert!(matches!(r.body, Body::File { .. }));
        assert_eq!(r.body.len(), 9);
        assert!(head(&r, true, false).contains("Content-Type: text/html; charset=utf-8\r\n"));
        assert_eq!(Response::file(&dir).unwrap_err().kind(), io::ErrorKind::InvalidInput, "a directory");
        assert_eq!(Response::file(dir.join("missing")).unwrap_err().kind(), io::ErrorKind::NotFound);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    #[should_panic(expected = "not a final HTTP status")]
    fn informational_statuses_are_refused() {
        let _ = Response::status(StatusCode::SWITCHING_PROTOCOLS);
    }
}
