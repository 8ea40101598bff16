//! What answers a request: the [`Handler`] traits, the [`Router`] that picks
//! one, and the built-in [`StaticFiles`] handler.
//!
//! Handlers take a parsed [`Request`] and return a [`Response`] value; they
//! may do file system work (stat, open) but never socket I/O, which is the
//! connection's. The router is built once and shared; each worker makes its
//! own [`LocalRouter`] from it, so a handler with per-worker state is called
//! through `&mut` without locks.

mod archive;
pub mod cache;
mod compress;
mod content_type;
mod cors;
pub(crate) mod dav;
mod described;
mod directory;
mod files;
mod headers;
pub(crate) mod hidden;
mod listable;
mod listing;
mod live;
mod pattern;
pub(crate) mod router;
mod static_files;
pub(crate) mod upload;
mod validators;
mod watches;

use crate::config::FileOptions;
use crate::http::request::Request;
use crate::http::response::Response;
use crate::sys::fs::Root;
use http::StatusCode;

pub use live::EVENTS_PATH as LIVE_RELOAD_PATH;
pub(crate) use router::LocalRouter;
pub use router::{Endpoint, Router};
pub use static_files::{FolderError, StaticFiles};

/// What a handler may return: a [`Response`], a [`StatusCode`] (its
/// built-in page), or a `Result` of two such types, so a handler can use
/// `?` on errors it maps to a response.
///
/// ```
/// use rawserve::{Request, Response, Router, StatusCode};
///
/// fn item(request: &Request) -> Result<Response, StatusCode> {
///     let id: u32 = request.param("id").and_then(|id| id.parse().ok()).ok_or(StatusCode::BAD_REQUEST)?;
///     Ok(Response::json(format!("{{\"id\":{id}}}")))
/// }
/// let router = Router::new().get("/api/items/{id}", item);
/// # drop(router);
/// ```
pub trait IntoResponse {
    /// The response this value stands for.
    fn into_response(self) -> Response;
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

impl IntoResponse for StatusCode {
    fn into_response(self) -> Response {
        Response::status(self)
    }
}

impl<T: IntoResponse, E: IntoResponse> IntoResponse for Result<T, E> {
    fn into_response(self) -> Response {
        match self {
            Ok(answer) => answer.into_response(),
            Err(error) => error.into_response(),
        }
    }
}

/// An I/O error from a handler's own file work: 404 for a missing file,
/// 403 for a refused one, else 500 (logged, since the client is told
/// nothing of it).
impl IntoResponse for std::io::Error {
    fn into_response(self) -> Response {
        match self.kind() {
            std::io::ErrorKind::NotFound => Response::status(StatusCode::NOT_FOUND),
            std::io::ErrorKind::PermissionDenied => Response::status(StatusCode::FORBIDDEN),
            _ => {
                log::warn!("a handler failed: {self}");
                Response::status(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }
}

/// Answers requests; one value shared by every worker thread.
///
/// Implemented for every `Fn(&Request) -> R + Send + Sync` where `R` is
/// an [`IntoResponse`] (a [`Response`], or a `Result` of responses), so a
/// closure (capturing shared state such as an `Arc<AtomicU64>`) is a
/// handler. For state that each worker keeps to itself, without atomics or
/// locks, see [`WorkerHandler`] and [`Endpoint::per_worker`]. A handler
/// reads the request body whole ([`Request::body`], up to
/// `Config::max_body_bytes`); for larger bodies see [`StreamingHandler`].
pub trait Handler: Send + Sync + 'static {
    /// The response to `request`. A panic answers 500 and closes that
    /// connection; other connections are not affected.
    fn handle(&self, request: &Request<'_>) -> Response;
}

impl<F, R> Handler for F
where
    F: Fn(&Request<'_>) -> R + Send + Sync + 'static,
    R: IntoResponse,
{
    fn handle(&self, request: &Request<'_>) -> Response {
        self(request).into_response()
    }
}

/// Answers requests on one worker thread; each worker has its own value,
/// made on that worker's thread by the factory given to
/// [`Endpoint::per_worker`].
///
/// Called through `&mut self`, so it may keep mutable state without
/// synchronisation; it need be neither `Sync` nor `Send`: it is made on
/// its worker's thread and stays there. Implemented for every
/// `FnMut(&Request) -> R` where `R` is an [`IntoResponse`].
pub trait WorkerHandler: 'static {
    /// The response to `request`; as [`Handler::handle`].
    fn handle(&mut self, request: &Request<'_>) -> Response;
}

impl<F, R> WorkerHandler for F
where
    F: FnMut(&Request<'_>) -> R + 'static,
    R: IntoResponse,
{
    fn handle(&mut self, request: &Request<'_>) -> Response {
        self(request).into_response()
    }
}

/// Reads one request's body in pieces as they arrive, for a
/// [`StreamingHandler`]: an upload of any size passes through in bounded
/// memory. The connection reads the next piece from the client only
/// after `write` returns, so a sink that takes its time slows the client
/// down (TCP's flow control) rather than piling bytes up in memory.
///
/// If the body never completes (the client goes away, is too slow, or
/// sends a malformed or oversized body) the sink is dropped without
/// `finish`: clean up in `Drop` (a temporary file removed, say).
pub trait BodySink {
    /// Takes the next piece of the body (never empty). An `Err` is the
    /// answer: nothing more of the body is read and the connection closes
    /// after the response.
    fn write(&mut self, piece: &[u8]) -> Result<(), Response>;

    /// The whole body has arrived: the response.
    fn finish(self: Box<Self>) -> Response;
}

/// What a [`StreamingHandler`] does with a request, decided from its head.
pub enum Started {
    /// Read the body into this sink (with `100 Continue` first, when the
    /// client waits for it).
    Read(Box<dyn BodySink>),
    /// Answer now without reading the body (a refusal: 401, 413, 507...).
    /// The connection then closes, since the body's bytes were not read.
    Answer(Response),
}

impl<T: IntoResponse> From<T> for Started {
    fn from(answer: T) -> Started {
        Started::Answer(answer.into_response())
    }
}

/// Answers requests whose body it reads in pieces (uploads), one value
/// per worker as for [`WorkerHandler`]; see [`Endpoint::streaming`].
/// Implemented for every `FnMut(&Request) -> Started`.
pub trait StreamingHandler: 'static {
    /// Looks at the head and either asks for the body or answers at once.
    fn start(&mut self, request: &Request<'_>) -> Started;
}

impl<F> StreamingHandler for F
where
    F: FnMut(&Request<'_>) -> Started + 'static,
{
    fn start(&mut self, request: &Request<'_>) -> Started {
        self(request)
    }
}

/// What the file handlers need to know about a served folder, prepared
/// once when a [`StaticFiles`] is made. Plain data, shared by its workers.
#[derive(Debug)]
pub struct Site {
    /// The root directory, held open: every file served is opened
    /// relative to it, confined beneath it unless symlinks may lead anywhere.
    pub root: Root,
    /// The settings as given (`options.root` is the root as given, for messages).
    pub options: FileOptions,
    /// `options`' added header fields, checked and compiled.
    pub headers: headers::FolderHeaders,
    /// `options.mime` over the built-in type table.
    pub types: content_type::ContentTypes,
    /// Large files being compressed while sent, by all workers.
    pub streams: compress::Streams,
    /// `options.live_reload`: the watching thread and its pages' feed.
    pub live: Option<live::LiveReload>,
    /// `options.hidden`, compiled.
    pub hidden: hidden::HiddenNames,
    /// WebDAV's locks (`options.webdav`), shared by the workers.
    pub locks: dav::Locks,
}

impl Site {
    /// Whether `path` (below the root, as `safe_path::resolve` makes it)
    /// is hidden by `--hidden`, itself or by a folder on its way: such a
    /// path is answered 404, listed nowhere, archived never, and an upload
    /// must refuse to create it (as if it were a dot name).
    pub fn is_hidden(&self, path: &std::path::Path) -> bool {
        self.hidden.hides(path)
    }

    /// Whether `request` may change the folder's files (upload, create,
    /// delete, move): `Ok` when the server has no accounts, or the request
    /// came with an account's credentials; else the 401 (with the
    /// challenge) to answer. Reading never needs this: the service has
    /// already refused whom the accounts refuse.
    pub fn may_write(&self, request: &Request) -> Result<(), Response> {
        crate::auth::may_write(request)
    }
}
