//! [`StaticFiles`]: a folder served as a handler, as the fallback or under
//! a prefix route.
//!
//! This module checks the folder once, up front ([`FolderError`], the
//! handler's own error: the server's `StartError` wraps it, never the other
//! way round), and gives each worker its own instance holding that worker's
//! small-file cache, so a cache hit takes no lock. What a request for a
//! file means (conditions, ranges, encodings, listings) is `files`'
//! business; this only adapts it to the router: the method check and the
//! prefix to strip.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::cache::FileCache;
use super::compress::CompressedCache;
use super::content_type::ContentTypes;
use super::cors;
use super::directory::KeptListings;
use super::headers::FolderHeaders;
use super::hidden::HiddenNames;
use super::live::{self, LiveReload};
use super::{dav, files, upload, BodySink, Site, Started, WorkerHandler};
use crate::config::{check_index, FileOptions, SettingError};
use crate::http::request::{Method, Request};
use crate::http::response::{Body, Preparation, Response};
use crate::sys::fs::Root;

/// Why a folder cannot be served. Each says what the user should fix.
#[derive(Debug)]
pub enum FolderError {
    /// The root directory does not exist, or cannot be read or searched.
    Root(PathBuf, io::Error),
    /// The root exists but is not a directory.
    NotDirectory(PathBuf),
    /// A setting of [`FileOptions`] that was set by hand cannot be used (an
    /// index name, a CORS origin, the default `Cache-Control`).
    Setting(SettingError),
    /// [`FileOptions::live_reload`] is on, but the folder cannot be
    /// watched (no inotify on this system, or none left to this user).
    LiveReload(PathBuf, io::Error),
}

impl fmt::Display for FolderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FolderError::Root(path, e) => write!(f, "cannot serve {}: {e}", path.display()),
            FolderError::NotDirectory(path) => write!(f, "cannot serve {}: not a directory", path.display()),
            FolderError::Setting(e) => e.fmt(f),
            FolderError::LiveReload(path, e) => {
                write!(f, "cannot watch {} for --live-reload: {e} (it needs Linux's inotify)", path.display())
            }
        }
    }
}

impl std::error::Error for FolderError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FolderError::Root(_, e) => Some(e),
            FolderError::NotDirectory(_) => None,
            FolderError::Setting(e) => Some(e),
            FolderError::LiveReload(_, e) => Some(e),
        }
    }
}

impl From<SettingError> for FolderError {
    fn from(error: SettingError) -> FolderError {
        FolderError::Setting(error)
    }
}

/// Serves the files of a folder: `GET` and `HEAD` with ETag and
/// Last-Modified validation, byte ranges, on-the-fly compression (zstd,
/// brotli, gzip) of text-like files, precompressed `.br`/`.zst`/`.gz`
/// siblings, index pages, optional listings and `404.html`, confined to
/// the folder (no `..`, no symlink escapes unless allowed, no dotfiles
/// unless allowed, `/.well-known/` excepted); `OPTIONS` and CORS
/// preflights answered with 204, and whatever [`FileOptions`] adds
/// (single-page-app fallback, clean URLs, header fields, CORS, types,
/// live reload: pages listen on `/.rawserve/live`, which this handler
/// answers when a request for it reaches it; a folder mounted under a
/// prefix route needs that path routed to it too).
///
/// ```
/// use rawserve::config::{CacheRule, HeaderField, MimeOverride, SettingError};
/// use rawserve::{Cors, FileOptions, StaticFiles};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut options = FileOptions::new(".");
/// options.spa = true; // deep links get ./index.html, status 200
/// options.cors = Some("https://app.example".parse()?);
/// options.headers.push("X-Frame-Options: DENY".parse()?);
/// options.cache_control_for.push(CacheRule::new("assets/**", "max-age=31536000, immutable")?);
/// options.mime.push(MimeOverride::new("md", "text/markdown")?);
/// assert!(StaticFiles::with_options(options.clone()).is_ok());
///
/// // A bad value is refused where it is read, before anything is served.
/// let refused: SettingError = HeaderField::new("X-Bad", "a\r\nSet-Cookie: x").unwrap_err();
/// assert!(refused.to_string().contains("--header `X-Bad` has a control character"));
/// options.cors = Some(Cors::Origins(vec!["notanorigin".into()])); // set by hand: checked here
/// assert!(StaticFiles::with_options(options).is_err());
/// # Ok(())
/// # }
/// ```
///
/// Use it as a router's fallback (the request path is looked up in the
/// folder) or on a prefix route, where the prefix is removed first:
///
/// ```no_run
/// use rawserve::{FileOptions, Router, StaticFiles};
///
/// # fn main() -> Result<(), rawserve::FolderError> {
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
    pub fn new(root: impl Into<PathBuf>) -> Result<StaticFiles, FolderError> {
        StaticFiles::with_options(FileOptions::new(root))
    }

    /// Serves `options.root` as `options` say. Fails when the root does
    /// not exist, cannot be read or searched by this process, or is not a
    /// directory, and when a value set by hand in `options` is invalid (an
    /// index name, a CORS origin, the default `Cache-Control`:
    /// [`FolderError::Setting`]); header fields, globs and types were
    /// checked when they were made.
    pub fn with_options(options: FileOptions) -> Result<StaticFiles, FolderError> {
        let root = options.root.canonicalize().map_err(|e| FolderError::Root(options.root.clone(), e))?;
        let canonical = root.clone();
        if !root.is_dir() {
            return Err(FolderError::NotDirectory(options.root.clone()));
        }
        let headers = FolderHeaders::new(&options)?;
        let types = ContentTypes::new(&options.mime);
        let hidden = HiddenNames::new(&options.hidden)?;
        for name in &options.index {
            check_index(name)?;
        }
        let root =
            Root::open(&root, options.follow_symlinks).map_err(|e| FolderError::Root(options.root.clone(), e))?;
        // A root the server cannot list or search answers every request
        // with 403: refuse it now, with the reason, instead.
        // Listing it needs read permission, and `root/.` resolves only with
        // search (execute) permission, which every file below needs too.
        if let Err(e) = std::fs::read_dir(&options.root).and_then(|_| std::fs::metadata(options.root.join("."))) {
            return Err(FolderError::Root(options.root.clone(), e));
        }
        let live = match options.live_reload {
            true => Some(LiveReload::start(&canonical).map_err(|e| FolderError::LiveReload(options.root.clone(), e))?),
            false => None,
        };
        Ok(StaticFiles {
            site: Arc::new(Site {
                root,
                options,
                headers,
                types,
                streams: Default::default(),
                live,
                hidden,
                locks: Default::default(),
            }),
        })
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
    /// Whether this folder reads `request`'s body (in pieces: an upload);
    /// everything else ignores it.
    pub(crate) fn reads_body(&self, request: &Request<'_>) -> bool {
        upload::reads_body(request.method(), &self.site.options)
            || dav::reads_body(request.method(), &self.site.options)
    }

    /// An upload's sink for its body, or the answer.
    pub(crate) fn start(&mut self, request: &Request<'_>) -> Started {
        if !self.reads_body(request) {
            return Started::Answer(self.handle(request));
        }
        let target = match self.target(request) {
            Ok(target) => target,
            Err(refused) => return Started::Answer(self.site.headers.decorate(request, refused)),
        };
        let started = if dav::is_dav_method(request.method()) {
            dav::start(request, target, self.strip, &self.site)
        } else if dav::discards(request, target, &self.site.options) {
            Started::Read(Box::new(dav::Discarded))
        } else if let Err(refused) = self.check_write(request, target) {
            Started::Answer(refused)
        } else {
            upload::start(request, target, self.strip, &self.site)
        };
        match started {
            Started::Answer(response) => Started::Answer(self.site.headers.decorate(request, response)),
            Started::Read(sink) => {
                // The answer comes once the body is in: the fields added to
                // every answer of the folder (`-H`, CORS) are bound to it now,
                // while the request is here, as for a listing still being made.
                let slot = Arc::new(Mutex::new(None));
                let later = self.site.headers.decorate(request, Response::later(Box::new(Slot(Arc::clone(&slot)))));
                match later.body {
                    Body::Later(decorate) => Started::Read(Box::new(DecoratedSink { sink, decorate, slot })),
                    // OK: `decorate` keeps a later body later; were it not, undecorated.
                    _ => Started::Read(sink),
                }
            }
        }
    }

    fn answer(&mut self, request: &Request<'_>) -> Response {
        if let Some(live) = self.site.live.as_ref().filter(|_| request.path() == live::EVENTS_PATH) {
            // The pages' event stream, wherever the folder is mounted (the
            // script asks for this path from the server's root).
            if request.method() == Method::GET || request.method() == Method::HEAD {
                return live.events(request);
            }
        }
        if request.method() != Method::GET && request.method() != Method::HEAD {
            let options = &self.site.options;
            if request.method() == Method::OPTIONS {
                let mut response = cors::options(self.site.headers.cors(), request);
                if options.upload || options.delete {
                    set_allow(&mut response, upload::allowed(options));
                }
                if options.webdav {
                    return dav::options(response, options);
                }
                return response;
            }
            if options.webdav && dav::accepts(request.method(), options) {
                return match self.target(request) {
                    Ok(target) => dav::answer(request, target, self.strip, &self.site),
                    Err(refused) => refused,
                };
            }
            if !upload::accepts(request.method(), options) {
                return dav::not_allowed(options);
            }
            let target = match self.target(request) {
                Ok(target) => target,
                Err(refused) => return refused,
            };
            if dav::discards(request, target, options) {
                return Box::new(dav::Discarded).finish();
            }
            if let Err(refused) = self.check_write(request, target) {
                return refused;
            }
            let response = match request.method().as_str() {
                "MOVE" if options.webdav => dav::move_to(request, target, self.strip, &self.site),
                _ => upload::answer(request, target, self.strip, &self.site),
            };
            if options.webdav {
                dav::after_write(request, target, &self.site, response.status);
            }
            return response;
        }
        match self.target(request) {
            // The fallback: the path as sent, malformed or not, for
            // `safe_path` to judge (a target without `/` is a 400 there).
            Ok(target) => files::serve(request, target, &self.site, &mut self.cache, &self.listings),
            Err(refused) => refused,
        }
    }

    /// With `--webdav`, what RFC 4918 adds to a write `upload` makes
    /// (locks, `If`); nothing otherwise.
    fn check_write(&self, request: &Request<'_>, target: &str) -> Result<(), Response> {
        match self.site.options.webdav && upload::accepts(request.method(), &self.site.options) {
            true => dav::check_write(request, target, self.strip, &self.site),
            false => Ok(()),
        }
    }

    /// The request path below the route's prefix.
    fn target<'r>(&self, request: &Request<'r>) -> Result<&'r str, Response> {
        let path = request.path();
        if self.strip == 0 {
            return Ok(path);
        }
        // The router matched the prefix, so `strip` is within the path and
        // on a character boundary; `get` keeps that an answer, not a panic.
        match path.get(self.strip..) {
            // `/static` under `/static*`: the folder itself (files.rs
            // redirects to `/static/` because the request path lacks the slash).
            Some("") => Ok("/"),
            Some(rest) if rest.starts_with('/') => Ok(rest),
            // `/staticfoo` under `/static*`: not below the folder.
            _ => Err(Response::error(404)),
        }
    }
}

/// Sets the value of `response`'s `Allow` field.
fn set_allow(response: &mut Response, allow: &'static str) {
    for (name, value) in &mut response.headers {
        if name == "Allow" {
            *value = std::borrow::Cow::Borrowed(allow);
        }
    }
}

/// Where an upload's answer waits to be decorated.
#[derive(Debug)]
struct Slot(Arc<Mutex<Option<Response>>>);

impl Preparation for Slot {
    fn advance(&mut self) -> Option<Response> {
        self.0.lock().ok()?.take()
    }
}

/// An upload's sink whose answers get the folder's added fields.
struct DecoratedSink {
    sink: Box<dyn BodySink>,
    /// The folder's decoration around a [`Slot`].
    decorate: Box<dyn Preparation>,
    slot: Arc<Mutex<Option<Response>>>,
}

impl BodySink for DecoratedSink {
    fn write(&mut self, piece: &[u8]) -> Result<(), Response> {
        let refused = match self.sink.write(piece) {
            Ok(()) => return Ok(()),
            Err(refused) => refused,
        };
        Err(decorated(&self.slot, self.decorate.as_mut(), refused))
    }

    fn finish(self: Box<Self>) -> Response {
        let DecoratedSink { sink, mut decorate, slot } = *self;
        let answer = sink.finish();
        decorated(&slot, decorate.as_mut(), answer)
    }
}

/// `response` with the fields `decorate` adds around `slot`.
fn decorated(slot: &Mutex<Option<Response>>, decorate: &mut dyn Preparation, response: Response) -> Response {
    match slot.lock() {
        Ok(mut slot) => *slot = Some(response),
        Err(_) => return Response::error(500),
    }
    decorate.advance().unwrap_or_else(|| Response::error(500))
}
