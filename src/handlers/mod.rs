//! Routing: which handler answers a request.
//!
//! `route` is the only entry point the connection uses. Handlers take a
//! parsed [`Request`] and the [`Site`] and return a [`Response`] value; they
//! do file system work (stat, open) but never socket I/O.

pub mod cache;
mod files;
mod hello;
mod listing;

use std::io;
use std::path::Path;
use std::time::Duration;

use crate::config::{Config, Handler};
use crate::http::request::{Method, Request};
use crate::http::response::Response;
use crate::sys::fs::Root;
use cache::FileCache;

/// What handlers need to know about the served site, prepared once at start.
#[derive(Debug)]
pub struct Site {
    /// The root directory, held open: every file served is opened
    /// relative to it, confined beneath it unless symlinks may lead anywhere.
    pub root: Root,
    pub dotfiles: bool,
    pub cache_control: String,
    pub listing: bool,
    pub max_listing_entries: usize,
    pub racy_window: Duration,
    pub max_ranges: usize,
    pub routes: Vec<(&'static str, Handler)>,
}

impl Site {
    /// Opens `root` (a directory) for the life of the site.
    pub fn new(root: &Path, config: &Config) -> io::Result<Site> {
        Ok(Site {
            root: Root::open(root, config.follow_symlinks)?,
            dotfiles: config.dotfiles,
            cache_control: config.cache_control.clone(),
            listing: config.listing,
            max_listing_entries: config.max_listing_entries,
            racy_window: config.racy_window,
            max_ranges: config.max_ranges,
            routes: config.routes.clone(),
        })
    }
}

/// The methods every resource supports, for `Allow`.
const ALLOWED_METHODS: &str = "GET, HEAD";

/// Chooses the handler for `request`.
pub fn route(request: &Request, site: &Site, cache: &mut FileCache) -> Response {
    if request.method == Method::Other {
        return Response::error(405).header("Allow", ALLOWED_METHODS);
    }
    if let Some((_, handler)) = site.routes.iter().find(|(path, _)| *path == request.path()) {
        return handler(request);
    }
    match request.path() {
        hello::PATH => hello::hello(),
        _ => files::serve(request, site, cache),
    }
}
