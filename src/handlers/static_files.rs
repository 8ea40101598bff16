//! [`StaticFiles`]: a folder served as a handler, as the fallback or under
//! a prefix route.
//!
//! This module checks the folder once, up front, and gives each worker its
//! own instance holding that worker's small-file cache, so a cache hit
//! takes no lock. What a request for a file means (conditions, ranges,
//! encodings, listings) is `files`' business; this only adapts it to the
//! router: the method check and the prefix to strip.

use std::path::PathBuf;
use std::sync::Arc;

use super::cache::FileCache;
use super::compress::CompressedCache;
use super::content_type::ContentTypes;
use super::cors;
use super::directory::KeptListings;
use super::headers::FolderHeaders;
use super::{files, Site, WorkerHandler};
use crate::config::FileOptions;
use crate::http::request::{Method, Request};
use crate::http::response::Response;
use crate::server::StartError;
use crate::sys::fs::Root;

/// Serves the files of a folder: `GET` and `HEAD` with ETag and
/// Last-Modified validation, byte ranges, on-the-fly compression (zstd,
/// brotli, gzip) of text-like files, precompressed `.br`/`.zst`/`.gz`
/// siblings, index pages, optional listings and `404.html`, confined to
/// the folder (no `..`, no symlink escapes unless allowed, no dotfiles
/// unless allowed, `/.well-known/` excepted); `OPTIONS` and CORS
/// preflights answered with 204, and whatever [`FileOptions`] adds
/// (single-page-app fallback, clean URLs, header fields, CORS, types).
///
/// ```
/// use rawserve::{Cors, FileOptions, StaticFiles};
///
/// let mut options = FileOptions::new(".");
/// options.spa = true; // deep links get ./index.html, status 200
/// options.cors = Some(Cors::AnyOrigin);
/// options.headers.push(("X-Frame-Options".into(), "DENY".into()));
/// options.cache_control_for.push(("assets/**".into(), "max-age=31536000, immutable".into()));
/// options.mime.push(("md".into(), "text/markdown".into()));
/// assert!(StaticFiles::with_options(options.clone()).is_ok());
///
/// options.headers.push(("X-Bad".into(), "a\r\nSet-Cookie: x".into()));
/// assert!(StaticFiles::with_options(options).is_err(), "checked before serving anything");
/// ```
///
/// Use it as a router's fallback (the request path is looked up in the
/// folder) or on a prefix route, where the prefix is removed first:
///
/// ```no_run
/// use rawserve::{FileOptions, Router, StaticFiles};
///
/// # fn main() -> Result<(), rawserve::StartError> {
/// let mut options = FileOptions::new("public");
/// options.listing = false;
/// let router = Router::new()
///     .get("/assets/*", StaticFiles::new("build/assets")?) // /assets/app.js → build/assets/app.js
///     .fallback(StaticFiles::with_options(options)?);
/// # drop(router);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct StaticFiles {
    site: Arc<Site>,
}

impl StaticFiles {
    /// Serves `root` with the default [`FileOptions`].
    pub fn new(root: impl Into<PathBuf>) -> Result<StaticFiles, StartError> {
        StaticFiles::with_options(FileOptions::new(root))
    }

    /// Serves `options.root` as `options` say. Fails when the root does
    /// not exist, cannot be read or searched by this process, or is not a
    /// directory, and when a header field, glob, type or index name in
    /// `options` is invalid ([`StartError::Setting`]).
    pub fn with_options(options: FileOptions) -> Result<StaticFiles, StartError> {
        let root = options.root.canonicalize().map_err(|e| StartError::Root(options.root.clone(), e))?;
        if !root.is_dir() {
            return Err(StartError::RootNotDirectory(options.root.clone()));
        }
        let headers = FolderHeaders::new(&options).map_err(StartError::Setting)?;
        let types = ContentTypes::new(&options.mime).map_err(StartError::Setting)?;
        if options.index.iter().any(|name| name.is_empty() || name.contains('/') || name.starts_with('.')) {
            return Err(StartError::Setting("an index name is a file name such as `index.html`".into()));
        }
        let root = Root::open(&root, options.follow_symlinks).map_err(|e| StartError::Root(options.root.clone(), e))?;
        // A root the server cannot list or search answers every request
        // with 403: refuse it now, with the reason, instead.
        // Listing it needs read permission, and `root/.` resolves only with
        // search (execute) permission, which every file below needs too.
        if let Err(e) = std::fs::read_dir(&options.root).and_then(|_| std::fs::metadata(options.root.join("."))) {
            return Err(StartError::Root(options.root.clone(), e));
        }
        Ok(StaticFiles { site: Arc::new(Site { root, options, headers, types, streams: Default::default() }) })
    }

    /// One worker's instance, with its own cache; `strip` bytes of the
    /// request path (a route's prefix) are not part of the file's path.
    pub(crate) fn for_worker(&self, strip: usize) -> FolderHandler {
        let options = &self.site.options;
        FolderHandler {
            site: Arc::clone(&self.site),
            cache: FileCache::new(options.cache_bytes, options.cache_max_file)
                .with_compressed(CompressedCache::new(options.compress_cache_bytes))
                .with_watches(options.cache_watches, options.cache_recheck),
            listings: KeptListings::new(options.cache_watches, options.cache_recheck),
            strip,
        }
    }
}

/// A [`StaticFiles`] as one worker holds it.
pub(crate) struct FolderHandler {
    site: Arc<Site>,
    cache: FileCache,
    listings: KeptListings,
    strip: usize,
}

impl WorkerHandler for FolderHandler {
    fn handle(&mut self, request: &Request<'_>) -> Response {
        let response = self.answer(request);
        self.site.headers.decorate(request, response)
    }
}

impl FolderHandler {
    fn answer(&mut self, request: &Request<'_>) -> Response {
        if request.method == Method::Other {
            if request.method() == "OPTIONS" {
                return cors::options(self.site.headers.cors(), request);
            }
            return Response::error(405).header("Allow", cors::ALLOWED_METHODS);
        }
        let path = request.path();
        if self.strip == 0 {
            // The fallback: the path as sent, malformed or not, for
            // `safe_path` to judge (a target without `/` is a 400 there).
            return files::serve(request, path, &self.site, &mut self.cache, &self.listings);
        }
        // The router matched the prefix, so `strip` is within the path and
        // on a character boundary; `get` keeps that an answer, not a panic.
        let target = match path.get(self.strip..) {
            // `/static` under `/static*`: the folder itself (files.rs
            // redirects to `/static/` because the request path lacks the slash).
            Some("") => "/",
            Some(rest) if rest.starts_with('/') => rest,
            // `/staticfoo` under `/static*`: not below the folder.
            _ => return Response::error(404),
        };
        files::serve(request, target, &self.site, &mut self.cache, &self.listings)
    }
}
