//! Reading a directory for its listing, a bounded slice at a time.
//!
//! A listing costs about 3 µs per entry (a `getdents` share, an `fstatat`,
//! sorting, a row of HTML), so a large directory read in one go would hold
//! up every other connection of its worker for tens of milliseconds. Here
//! at most [`ENTRIES_PER_SLICE`] entries are read, or [`ROWS_PER_SLICE`]
//! rows rendered, per step: a directory that fits one step is answered at
//! once; a larger one becomes a [`Preparation`] that the connection advances
//! once per turn, between other connections' turns (as lighttpd's
//! `mod_dirlisting` reads large directories in batches). What is listed,
//! and how the page looks, is decided here and in `listing`; the turn
//! scheduling is the connection's.

use std::ffi::{CStr, OsStr};
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;

use super::listing::{self, Page};
use super::Site;
use crate::http::response::{Preparation, Response};
use crate::sys::fs::{Entries, EntryKind};

/// Directory entries read (and stat'ed) in one step: about 1 ms of work
/// (measured ~0.8 µs for the `fstatat`, ~0.2 µs for `getdents`, per entry).
pub const ENTRIES_PER_SLICE: usize = 1_000;
/// Rows of HTML rendered in one step: also about a millisecond.
pub const ROWS_PER_SLICE: usize = 2_000;

/// Listings are produced per request and carry no validators, so caches
/// are told to always ask.
const LISTING_CACHE_CONTROL: &str = "no-cache";
const LISTING_CONTENT_TYPE: &str = "text/html; charset=utf-8";

/// A listing in progress.
pub struct Listing {
    site: Arc<Site>,
    /// The directory, relative to the root (links are resolved from there).
    path: PathBuf,
    /// The decoded request path, the page's title.
    title: String,
    stage: Stage,
}

enum Stage {
    /// Reading entries; `read` counts every name seen (hidden ones too),
    /// against `max_listing_entries`.
    Reading { entries: Entries, listed: Vec<listing::Entry>, read: usize },
    /// Every entry is read; writing rows.
    Rendering(Page),
    /// Done (the response has been handed out).
    Done,
}

impl Listing {
    /// Lists the open directory `entries` (at `path` below the root, shown
    /// as `title`): the response itself when one step is enough, else a
    /// response that is still [`Preparation`].
    pub fn start(entries: Entries, path: PathBuf, title: String, site: &Arc<Site>) -> Response {
        let mut listing = Listing {
            site: Arc::clone(site),
            path,
            title,
            stage: Stage::Reading { entries, listed: Vec::new(), read: 0 },
        };
        match listing.advance() {
            Some(response) => response,
            None => Response::later(Box::new(listing)),
        }
    }

    /// Reads up to [`ENTRIES_PER_SLICE`] entries; the page to render once the
    /// directory (or the cap) is reached. Only what the server would serve
    /// is listed: regular files, directories, and symlinks that resolve to
    /// one of those by the root's rules (so never out of it, unless
    /// symlinks may lead anywhere); FIFOs, sockets, devices, dangling links
    /// and hidden names are left out.
    fn read_slice(&self, entries: &mut Entries, listed: &mut Vec<listing::Entry>, read: &mut usize) -> Option<Page> {
        let cap = self.site.options.max_listing_entries;
        for _ in 0..ENTRIES_PER_SLICE {
            let Some(name) = entries.next_name(CStr::to_owned) else {
                return Some(Page::new(&self.title, std::mem::take(listed), None));
            };
            if *read == cap {
                return Some(Page::new(&self.title, std::mem::take(listed), Some(cap)));
            }
            *read += 1;
            let bytes = name.to_bytes();
            if bytes.starts_with(b".") {
                continue;
            }
            let Ok(stat) = entries.stat(&name) else { continue };
            let (is_dir, size, modified) = match stat.kind {
                EntryKind::File => (false, stat.size, stat.modified),
                EntryKind::Directory => (true, stat.size, stat.modified),
                EntryKind::Symlink => {
                    // Resolved as a request for it would be; the only
                    // entries that cost a path.
                    match self.site.root.metadata(&self.path.join(OsStr::from_bytes(bytes))) {
                        Ok(meta) if meta.is_file() || meta.is_dir() => {
                            (meta.is_dir(), meta.len(), meta.modified().ok())
                        }
                        _ => continue,
                    }
                }
                EntryKind::Other => continue,
            };
            listed.push(listing::Entry { name: String::from_utf8_lossy(bytes).into_owned(), is_dir, size, modified });
        }
        None
    }
}

impl Preparation for Listing {
    fn advance(&mut self) -> Option<Response> {
        match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::Reading { mut entries, mut listed, mut read } => {
                self.stage = match self.read_slice(&mut entries, &mut listed, &mut read) {
                    Some(page) => Stage::Rendering(page),
                    None => Stage::Reading { entries, listed, read },
                };
                // A small directory is answered in the same step.
                match &self.stage {
                    Stage::Rendering(_) if read < ENTRIES_PER_SLICE => self.advance(),
                    _ => None,
                }
            }
            Stage::Rendering(mut page) => {
                if !page.render_rows(ROWS_PER_SLICE) {
                    self.stage = Stage::Rendering(page);
                    return None;
                }
                let html = page.finish().into_bytes();
                Some(Response::page(200, LISTING_CONTENT_TYPE, html).header("Cache-Control", LISTING_CACHE_CONTROL))
            }
            // Not called again once done; an empty answer if it were.
            Stage::Done => Some(Response::error(500)),
        }
    }
}

impl fmt::Debug for Listing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stage = match &self.stage {
            Stage::Reading { read, .. } => format!("reading ({read} entries so far)"),
            Stage::Rendering(_) => "rendering".to_string(),
            Stage::Done => "done".to_string(),
        };
        f.debug_struct("Listing").field("path", &self.path).field("stage", &stage).finish()
    }
}
