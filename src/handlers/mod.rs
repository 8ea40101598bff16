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
mod directory;
mod files;
mod headers;
mod listing;
mod router;
mod static_files;
mod validators;
mod watches;

use crate::config::FileOptions;
use crate::http::request::Request;
use crate::http::response::Response;
use crate::sys::fs::Root;

pub(crate) use router::LocalRouter;
pub use router::{Endpoint, Router};
pub use static_files::StaticFiles;

/// Answers requests; one value shared by every worker thread.
///
/// Implemented for every `Fn(&Request) -> Response + Send + Sync`, so a
/// closure (capturing shared state such as an `Arc<AtomicU64>`) is a
/// handler. For state that each worker keeps to itself, without atomics or
/// locks, see [`WorkerHandler`] and [`Endpoint::per_worker`].
pub trait Handler: Send + Sync + 'static {
    /// The response to `request`. A panic answers 500 and closes that
    /// connection; other connections are not affected.
    fn handle(&self, request: &Request<'_>) -> Response;
}

impl<F> Handler for F
where
    F: Fn(&Request<'_>) -> Response + Send + Sync + 'static,
{
    fn handle(&self, request: &Request<'_>) -> Response {
        self(request)
    }
}

/// Answers requests on one worker thread; each worker has its own value,
/// made by the factory given to [`Endpoint::per_worker`].
///
/// Called through `&mut self`, so it may keep mutable state without
/// synchronisation; it need not be `Sync`. It must be `Send` because it is
/// made as the server starts and then moved to its worker's thread, where
/// it stays. Implemented for every `FnMut(&Request) -> Response + Send`.
pub trait WorkerHandler: Send + 'static {
    /// The response to `request`; as [`Handler::handle`].
    fn handle(&mut self, request: &Request<'_>) -> Response;
}

impl<F> WorkerHandler for F
where
    F: FnMut(&Request<'_>) -> Response + Send + 'static,
{
    fn handle(&mut self, request: &Request<'_>) -> Response {
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
}
