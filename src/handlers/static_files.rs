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
use super::{files, Site, WorkerHandler};
use crate::config::FileOptions;
use crate::http::request::{Method, Request};
use crate::http::response::Response;
use crate::server::StartError;
use crate::sys::fs::Root;

/// The methods a folder answers, for `Allow`.
const ALLOWED_METHODS: &str = "GET, HEAD";

/// Serves the files of a folder: `GET` and `HEAD` with ETag and
/// Last-Modified validation, byte ranges, on-the-fly compression (zstd,
/// brotli, gzip) of text-like files, precompressed `.br`/`.zst`/`.gz`
/// siblings, `index.html`, optional listings and `404.html`, confined to
/// the folder (no `..`, no symlink escapes unless allowed, no dotfiles
/// unless allowed).
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
    /// not exist, cannot be read or is not a directory.
    pub fn with_options(options: FileOptions) -> Result<StaticFiles, StartError> {
        let root = options.root.canonicalize().map_err(|e| StartError::Root(options.root.clone(), e))?;
        if !root.is_dir() {
            return Err(StartError::RootNotDirectory(options.root.clone()));
        }
        let root = Root::open(&root, options.follow_symlinks).map_err(|e| StartError::Root(options.root.clone(), e))?;
        Ok(StaticFiles { site: Arc::new(Site { root, options, streams: Default::default() }) })
    }

    /// One worker's instance, with its own cache; `strip` bytes of the
    /// request path (a route's prefix) are not part of the file's path.
    pub(crate) fn for_worker(&self, strip: usize) -> FolderHandler {
        let options = &self.site.options;
        FolderHandler {
            site: Arc::clone(&self.site),
            cache: FileCache::new(options.cache_bytes, options.cache_max_file)
                .with_compressed(CompressedCache::new(options.compress_cache_bytes)),
            strip,
        }
    }
}

/// A [`StaticFiles`] as one worker holds it.
pub(crate) struct FolderHandler {
    site: Arc<Site>,
    cache: FileCache,
    strip: usize,
}

impl WorkerHandler for FolderHandler {
    fn handle(&mut self, request: &Request<'_>) -> Response {
        if request.method == Method::Other {
            return Response::error(405).header("Allow", ALLOWED_METHODS);
        }
        let path = request.path();
        if self.strip == 0 {
            // The fallback: the path as sent, malformed or not, for
            // `safe_path` to judge (a target without `/` is a 400 there).
            return files::serve(request, path, &self.site, &mut self.cache);
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
        files::serve(request, target, &self.site, &mut self.cache)
    }
}
