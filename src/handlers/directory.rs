//! Reading a directory for its listing, a bounded slice at a time, and
//! giving the listing validators.
//!
//! A listing costs about 3 µs per entry (a `getdents` share, an `fstatat`,
//! sorting, a row of HTML), so a large directory read in one go would hold
//! up every other connection of its worker for tens of milliseconds. Here
//! at most [`ENTRIES_PER_SLICE`] entries are read, or [`ROWS_PER_SLICE`]
//! rows rendered, per step: a directory that fits one step is answered at
//! once; a larger one becomes a [`Preparation`] that the connection advances
//! once per turn, between other connections' turns (as lighttpd's
//! `mod_dirlisting` reads large directories in batches).
//!
//! What is listed is decided here, by the rules a request for the entry
//! would meet (see [`Listing::read_slice`]); how it looks is `listing`'s; a
//! folder's tar (`?download=tar`) is `archive`'s. The ETag is exact: a hash
//! of every listed entry's name, kind, size and modification time (taken as
//! the entries are read, independent of their order), of the view and of
//! the options that change what is listed; so a revalidation gets 304
//! exactly when the page would be the same. `Last-Modified` is the latest
//! of the directory's and its entries' modification times.

use std::collections::hash_map::DefaultHasher;
use std::ffi::{CStr, OsStr};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use super::listing::{self, Format, Page, Sorted, View};
use super::{archive, cache, Site};
use crate::http::date;
use crate::http::precondition::{self, Conditions, Precondition, Validators};
use crate::http::request::{Request, Version};
use crate::http::response::{Preparation, Response};
use crate::safe_path;
use crate::sys::fs::{Entries, EntryKind};

/// Directory entries read (and stat'ed) in one step: about 1 ms of work
/// (measured ~0.8 µs for the `fstatat`, ~0.2 µs for `getdents`, per entry).
pub const ENTRIES_PER_SLICE: usize = 1_000;
/// Rows of HTML rendered in one step: also about a millisecond.
pub const ROWS_PER_SLICE: usize = 2_000;

/// Listings are produced per request; with validators, caches may keep
/// them but must ask each time (as nginx's autoindex pages are revalidated).
const LISTING_CACHE_CONTROL: &str = "no-cache";
/// The page depends on `Accept` (HTML or JSON).
const LISTING_VARY: &str = "Accept";

/// The conditional fields of the request, kept for when the listing has
/// been read (the request's buffer is gone by then).
#[derive(Debug, Default)]
struct OwnedConditions {
    if_match: Option<String>,
    if_none_match: Option<String>,
    if_modified_since: Option<String>,
    if_unmodified_since: Option<String>,
}

/// A listing in progress.
pub struct Listing {
    site: Arc<Site>,
    /// The directory, relative to the root (links are resolved from there).
    path: PathBuf,
    /// The request path as sent (percent-encoded), for breadcrumbs.
    request_path: String,
    view: View,
    conditions: OwnedConditions,
    /// When reading began, for the racy-time rule of `Last-Modified`.
    read_at: SystemTime,
    stage: Stage,
}

/// What the entries read so far say about the listing's validators.
#[derive(Debug, Default)]
struct Digest {
    /// Sum of each listed entry's hash: order-independent, so the
    /// directory's order on disk does not matter.
    sum: u64,
    /// The latest modification time seen (the directory's own included).
    latest: Option<SystemTime>,
}

impl Digest {
    fn add(&mut self, entry: &listing::Entry) {
        let mut hasher = DefaultHasher::new();
        entry.name.hash(&mut hasher);
        (entry.is_dir, entry.size, entry.modified).hash(&mut hasher);
        self.sum = self.sum.wrapping_add(hasher.finish());
        self.saw(entry.modified);
    }

    fn saw(&mut self, modified: Option<SystemTime>) {
        self.latest = self.latest.max(modified);
    }
}

enum Stage {
    /// Reading entries; `read` counts every name seen (hidden ones too),
    /// against `max_listing_entries`.
    Reading { entries: Entries, listed: Sorted, read: usize, digest: Digest },
    /// Every entry is read; writing rows.
    Rendering(Page, Validated),
    /// Done (the response has been handed out).
    Done,
}

/// A listing's validators, rendered.
#[derive(Debug)]
struct Validated {
    etag: String,
    last_modified: Option<String>,
}

impl Listing {
    /// Answers `request` for the open directory `entries` (at `path` below
    /// the root): its tar when `?download=tar` asks for it, else its
    /// listing, at once when one step is enough, else as a response that
    /// is still [`Preparation`].
    pub fn start(request: &Request, entries: Entries, path: PathBuf, site: &Arc<Site>) -> Response {
        if listing::param(request.query(), "download") == Some("tar") {
            let name = archive_name(&path, site);
            // An HTTP/1.0 client reads the tar to the close.
            let close = request.version == Version::Http10;
            return archive::response(entries, path, &name, site, close);
        }
        let owned = |name| request.header(name).map(str::to_owned);
        let view = View::of(request.query(), request.header("accept"));
        let mut listing = Listing {
            site: Arc::clone(site),
            path,
            request_path: request.path().to_owned(),
            view,
            conditions: OwnedConditions {
                if_match: owned("if-match"),
                if_none_match: owned("if-none-match"),
                if_modified_since: owned("if-modified-since"),
                if_unmodified_since: owned("if-unmodified-since"),
            },
            read_at: SystemTime::now(),
            stage: Stage::Reading { entries, listed: Sorted::new(view), read: 0, digest: Digest::default() },
        };
        if let Stage::Reading { entries, digest, .. } = &mut listing.stage {
            // Removing an entry changes only the directory's own time.
            digest.saw(entries.stat(c".").ok().and_then(|s| s.modified));
        }
        match listing.advance() {
            Some(response) => response,
            None => Response::later(Box::new(listing)),
        }
    }

    /// Reads up to [`ENTRIES_PER_SLICE`] entries; the entries and cap once
    /// the directory (or the cap) is reached. Only what the server would
    /// serve is listed (`listable`).
    fn read_slice(&self, stage: &mut Stage) -> Option<Option<usize>> {
        let Stage::Reading { entries, listed, read, digest } = stage else { return Some(None) };
        let cap = self.site.options.max_listing_entries;
        let mut end = None;
        for _ in 0..ENTRIES_PER_SLICE {
            let Some(name) = entries.next_name(CStr::to_owned) else {
                end = Some(None);
                break;
            };
            if *read == cap {
                end = Some(Some(cap));
                break;
            }
            *read += 1;
            if let Some(entry) = listable(&self.site, entries, &self.path, &name) {
                digest.add(&entry);
                listed.push(entry);
            }
        }
        // Sorted a slice at a time (see `Sorted`).
        listed.end_run();
        end
    }

    /// The validators of the listing read: see the module comment. A
    /// `Last-Modified` within the racy window of the read is left out, as
    /// for files: a second-resolution date could not tell this listing
    /// from one changed in the same second.
    fn validators(&self, digest: &Digest, listed: usize, more: Option<usize>) -> Validated {
        let mut hasher = DefaultHasher::new();
        (digest.sum, listed, more, self.view, &self.request_path).hash(&mut hasher);
        let options = &self.site.options;
        (options.dotfiles, options.follow_symlinks).hash(&mut hasher);
        let etag = format!("\"listing-{:016x}\"", hasher.finish());
        let last_modified =
            digest.latest.filter(|&t| !cache::is_racy(t, self.read_at, options.racy_window)).and_then(date::format);
        Validated { etag, last_modified }
    }

    /// 304 or 412 when the request's conditions say so.
    fn precondition(&self, validated: &Validated) -> Option<Response> {
        let c = &self.conditions;
        let conditions = Conditions {
            if_match: c.if_match.as_deref(),
            if_none_match: c.if_none_match.as_deref(),
            if_modified_since: c.if_modified_since.as_deref(),
            if_unmodified_since: c.if_unmodified_since.as_deref(),
            if_range: None,
        };
        let last_modified = validated.last_modified.as_deref().and_then(|d| httpdate::parse_http_date(d).ok());
        let validators = Validators { etag: Some(&validated.etag), last_modified };
        match precondition::evaluate(&conditions, &validators, true) {
            Precondition::Proceed => None,
            Precondition::NotModified => Some(with_validators(Response::new(304), validated)),
            Precondition::Failed => Some(Response::error(412)),
        }
    }
}

/// The listing entry for `name` in the directory `entries` (at `dir`
/// below the root), or `None` when a request for it would be refused: a
/// name no request can name (`safe_path::can_name`: hidden by its one
/// rule, or with a backslash), anything but a regular file,
/// a directory or a symlink that resolves to one of those by the root's
/// rules (so never out of the root unless symlinks may lead anywhere), and
/// what the server may not read (a file) or enter (a directory).
pub fn listable(site: &Site, entries: &Entries, dir: &std::path::Path, name: &CStr) -> Option<listing::Entry> {
    let bytes = name.to_bytes();
    if !safe_path::can_name(bytes, site.options.dotfiles, dir.as_os_str().is_empty()) {
        return None;
    }
    let stat = entries.stat(name).ok()?;
    let (is_dir, size, modified) = match stat.kind {
        EntryKind::File => (false, stat.size, stat.modified),
        EntryKind::Directory => (true, stat.size, stat.modified),
        EntryKind::Symlink => {
            // Resolved as a request for it would be; the only entries that
            // cost a path.
            match site.root.metadata(&dir.join(OsStr::from_bytes(bytes))) {
                Ok(meta) if meta.is_file() || meta.is_dir() => (meta.is_dir(), meta.len(), meta.modified().ok()),
                _ => return None,
            }
        }
        EntryKind::Other => return None,
    };
    if !entries.usable(name, is_dir) {
        return None;
    }
    Some(listing::Entry { name: bytes.to_vec(), is_dir, size, modified })
}

/// The archive's name: the folder's own name (`path` below the root; a
/// file name never holds a `/`), or the root folder's name for the root.
fn archive_name(path: &std::path::Path, site: &Site) -> Vec<u8> {
    let root = || site.options.root.canonicalize().ok();
    let name = match path.file_name() {
        Some(name) => Some(name.as_bytes().to_vec()),
        None => root().and_then(|r| r.file_name().map(|n| n.as_bytes().to_vec())),
    };
    name.unwrap_or_else(|| b"files".to_vec())
}

fn with_validators(mut response: Response, validated: &Validated) -> Response {
    response = response.header("ETag", validated.etag.clone());
    if let Some(date) = &validated.last_modified {
        response = response.header("Last-Modified", date.clone());
    }
    response.header("Cache-Control", LISTING_CACHE_CONTROL).header("Vary", LISTING_VARY)
}

impl Preparation for Listing {
    fn advance(&mut self) -> Option<Response> {
        let mut stage = std::mem::replace(&mut self.stage, Stage::Done);
        match &mut stage {
            Stage::Reading { .. } => {
                let Some(more) = self.read_slice(&mut stage) else {
                    self.stage = stage;
                    return None;
                };
                let Stage::Reading { listed, read, digest, .. } = stage else { return Some(Response::error(500)) };
                let validated = self.validators(&digest, listed.len(), more);
                if let Some(response) = self.precondition(&validated) {
                    return Some(response);
                }
                self.stage = Stage::Rendering(Page::sorted(&self.request_path, listed, more), validated);
                // A small directory is answered in the same step.
                if read < ENTRIES_PER_SLICE {
                    self.advance()
                } else {
                    None
                }
            }
            Stage::Rendering(page, _) => {
                if !page.render_rows(ROWS_PER_SLICE) {
                    self.stage = stage;
                    return None;
                }
                let Stage::Rendering(page, validated) = stage else { return Some(Response::error(500)) };
                let body = page.finish().into_bytes();
                let response = match self.view.format {
                    Format::Html => Response::page(200, listing::HTML_TYPE, body)
                        .header("Content-Security-Policy", listing::CONTENT_SECURITY_POLICY),
                    Format::Json => Response::page(200, listing::JSON_TYPE, body),
                };
                Some(with_validators(response, &validated))
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
            Stage::Rendering(..) => "rendering".to_string(),
            Stage::Done => "done".to_string(),
        };
        f.debug_struct("Listing").field("path", &self.path).field("stage", &stage).finish()
    }
}
