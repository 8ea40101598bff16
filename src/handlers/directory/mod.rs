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
//! What is listed is `listable`'s rule (what a request for the entry
//! would meet), applied as the entries are read ([`Listing::read_slice`]);
//! how it looks is `listing`'s; a folder's archive (`?download=tar`,
//! `?download=zip`) is `archive`'s; the store of kept pages is [`kept`]'s. The ETag is exact: a hash
//! of every listed entry's name, kind, size and modification time (taken as
//! the entries are read, independent of their order), of the view and of
//! the options that change what is listed; so a revalidation gets 304
//! exactly when the page would be the same. There is no `Last-Modified`,
//! as nginx's autoindex sends none: no single time dates the page (the
//! folder's time does not move when a listed file changes size or date),
//! and `wget --mirror`, given one, revalidates the top listing by date,
//! gets 304 and never walks down to a file changed below it.
//!
//! **Kept listings.** Each worker keeps the pages it rendered
//! ([`KeptListings`], at most [`kept::KEPT_LISTING_BYTES`] per folder) and
//! answers a repeat request for one from memory while an inotify watch
//! says nothing it shows can have changed: the file cache's mechanism
//! (`watches`, whose module comment tells why a hit is exactly as fresh as
//! a new read), with a watch on the listed directory and each directory on
//! its way from the root, placed before the entries are read. The
//! directory's watch reports every entry created, removed, renamed,
//! written or given new attributes (size, times, permissions); what it
//! cannot report is handled so: a listed subdirectory's own size and time
//! change with *its* entries, so each gets a watch too (at most
//! [`KEPT_SUBDIRECTORIES`]); a symlink's target and a file with other
//! names (hard links, changed through another directory) are not watched
//! at all, so a listing with either is never kept. With no watch to be
//! had (none left, `cache_watches` 0, a symlink on the way) every request
//! reads the directory anew, as before. What no watch reports (a mount
//! over the folder or a subfolder, an overlay's layer written directly) is
//! bounded by `FileOptions::cache_recheck`: a page kept longer than that is
//! read again at its next request, and if the tag of what is read equals
//! the page's, the page is answered and kept as it was, without sorting or
//! rendering (reading is ~11 M of the 61 M instructions below). A page is kept per directory and
//! view (sort, order, format) rather than one sorted list rendered per
//! view: sorting and writing rows are most of a fresh listing's user time
//! (callgrind, 10,000 entries: 61 M instructions, ~11 M of them reading,
//! ~15 M sorting, the rest rows and tag), a kept page costs a hit an `Arc`.

use std::collections::hash_map::DefaultHasher;
use std::ffi::{CStr, OsStr};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

mod kept;

use super::listable::{examine, Dependence};
use super::listing::{self, Format, Page, Sorted, View};
use super::{archive, live, Site};
use crate::http::precondition::{self, Conditions, Precondition, Validators};
use crate::http::request::{Request, Version};
use crate::http::response::{Body, Preparation, Response};
use crate::sys::fs::{Entries, Stamp};
use kept::{Found, KeptPage, PageKey};

pub use kept::KeptListings;

/// Directory entries read (and stat'ed) in one step: about 1 ms of work
/// (measured ~0.8 µs for the `fstatat`, ~0.2 µs for `getdents`, per entry).
pub const ENTRIES_PER_SLICE: usize = 1_000;
/// Rows of HTML rendered in one step: also about a millisecond.
pub const ROWS_PER_SLICE: usize = 2_000;

/// Listed subdirectories a kept page may depend on: each costs a watch
/// and a trace from the root (~3 system calls) when the page is kept, all
/// in one step, so this bounds that step to about a millisecond. A
/// listing with more is read anew for each request.
pub const KEPT_SUBDIRECTORIES: usize = 100;

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
    stage: Stage,
    /// Where the page goes when done, if it may be kept.
    keeping: Option<Keeping>,
    /// The tag and body of the page kept for this request, read again
    /// because its interval ran out: answered as it is if nothing changed.
    due: Option<(String, Arc<[u8]>)>,
}

/// Unless its page was kept, the directory's watch goes back.
impl Drop for Keeping {
    fn drop(&mut self) {
        self.listings.lock().forget_unused(std::slice::from_ref(&self.path));
    }
}

/// What keeping a listing being read takes (see the module comment).
#[derive(Debug)]
struct Keeping {
    listings: KeptListings,
    /// The directory below the root.
    path: PathBuf,
    /// The watching of the directory, placed before its entries were read.
    watched: u64,
    /// When it was verified so (`Watches::now`): the page's trust counts
    /// from here.
    began: Instant,
    /// Listed subdirectories (below the root) as they were read; each is
    /// watched before the page is kept.
    subdirectories: Vec<(PathBuf, Stamp)>,
}

/// What the entries read so far say about the listing's validator.
#[derive(Debug, Default)]
struct Digest {
    /// Sum of each listed entry's hash: order-independent, so the
    /// directory's order on disk does not matter.
    sum: u64,
}

impl Digest {
    fn add(&mut self, entry: &listing::Entry) {
        let mut hasher = DefaultHasher::new();
        entry.name.hash(&mut hasher);
        (entry.is_dir, entry.size, entry.modified).hash(&mut hasher);
        self.sum = self.sum.wrapping_add(hasher.finish());
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

/// A listing's validator, rendered.
#[derive(Debug)]
struct Validated {
    etag: String,
}

impl Listing {
    /// Answers `request` for the open directory `entries` (at `path` below
    /// the root): its archive when `?download=tar` or `zip` asks for it, else its
    /// listing, at once when one step is enough, else as a response that
    /// is still [`Preparation`].
    pub fn start(
        request: &Request,
        entries: Entries,
        path: PathBuf,
        site: &Arc<Site>,
        listings: &KeptListings,
    ) -> Response {
        if let Some(kind) = listing::param(request.query(), "download").and_then(archive::Kind::named) {
            let name = archive_name(&path, site);
            // An HTTP/1.0 client reads the archive to the close.
            let close = request.version() == Version::HTTP_10;
            return archive::response(entries, path, &name, site, close, kind);
        }
        let owned = |name| request.header(name).map(str::to_owned);
        let view = View::of(request.query(), request.header("accept"));
        let mut listing = Listing {
            site: Arc::clone(site),
            path,
            request_path: request.path().to_owned(),
            view,
            conditions: OwnedConditions { if_match: owned("if-match"), if_none_match: owned("if-none-match") },
            stage: Stage::Done,
            keeping: None,
            due: None,
        };
        let key = listing.key();
        let (watched, began) = {
            let mut kept = listings.lock();
            match kept.get(&key) {
                Found::Current(page) => return listing.answer_kept(page),
                Found::Due(page) => listing.due = Some((page.etag, page.body)),
                Found::Missing => {}
            }
            // Placed before any entry is read, so every later change is reported.
            let watched = entries.stamp().ok().and_then(|stamp| kept.watches.watch(&site.root, &listing.path, stamp));
            (watched, kept.watches.now())
        };
        listing.keeping = watched.map(|watched| Keeping {
            listings: listings.clone(),
            path: listing.path.clone(),
            watched,
            began,
            subdirectories: Vec::new(),
        });
        let digest = Digest::default();
        listing.stage = Stage::Reading { entries, listed: Sorted::new(view), read: 0, digest };
        match listing.advance() {
            Some(response) => response,
            None => Response::later(Box::new(listing)),
        }
    }

    /// Reads up to [`ENTRIES_PER_SLICE`] entries; the entries and cap once
    /// the directory (or the cap) is reached. Only what the server would
    /// serve is listed (`listable`).
    fn read_slice(&mut self, stage: &mut Stage) -> Option<Option<usize>> {
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
            let (entry, dependence) = examine(&self.site, entries, &self.path, &name);
            match dependence {
                Dependence::Seen => {}
                Dependence::Subdirectory(stamp) => {
                    if let Some(keeping) = &mut self.keeping {
                        let subdirectory = self.path.join(OsStr::from_bytes(name.to_bytes()));
                        keeping.subdirectories.push((subdirectory, stamp));
                        if keeping.subdirectories.len() > KEPT_SUBDIRECTORIES {
                            self.keeping = None;
                        }
                    }
                }
                Dependence::Unseen => self.keeping = None,
            }
            if let Some(entry) = entry {
                digest.add(&entry);
                listed.push(entry);
            }
        }
        // Sorted a slice at a time (see `Sorted`).
        listed.end_run();
        end
    }

    /// The validator of the listing read: see the module comment.
    fn validators(&self, digest: &Digest, listed: usize, more: Option<usize>) -> Validated {
        let mut hasher = DefaultHasher::new();
        (digest.sum, listed, more, self.view, &self.request_path).hash(&mut hasher);
        let options = &self.site.options;
        // Live reload's script and the write controls are part of the page.
        (options.dotfiles, options.follow_symlinks, self.site.live.is_some(), self.writes()).hash(&mut hasher);
        Validated { etag: format!("\"listing-{:016x}\"", hasher.finish()) }
    }

    /// The controls the page carries, by the folder's settings.
    fn writes(&self) -> listing::Writes {
        listing::Writes { upload: self.site.options.upload, changes: self.site.options.delete }
    }

    fn key(&self) -> PageKey {
        PageKey { path: self.path.clone(), request_path: self.request_path.clone(), view: self.view }
    }

    /// The answer from a kept page: 304/412 or the page.
    fn answer_kept(&self, page: &KeptPage) -> Response {
        let validated = Validated { etag: page.etag.clone() };
        if let Some(response) = self.precondition(&validated) {
            return response;
        }
        self.page_response(Body::Shared(Arc::clone(&page.body)), &validated)
    }

    /// The 200 response with the listing `body`.
    fn page_response(&self, body: Body, validated: &Validated) -> Response {
        let response = match self.view.format {
            Format::Html if self.site.live.is_some() => Response::new(200)
                .header("Content-Type", listing::HTML_TYPE)
                .header("Content-Security-Policy", live_policy(self.writes())),
            Format::Html => Response::new(200)
                .header("Content-Type", listing::HTML_TYPE)
                .header("Content-Security-Policy", self.writes().policy()),
            Format::Json => Response::new(200).header("Content-Type", listing::JSON_TYPE),
        };
        with_validators(response.body(body), validated)
    }

    /// Keeps the finished page, if every change to what it shows is
    /// watched (see the module comment).
    fn keep(&mut self, body: &Arc<[u8]>, validated: &Validated) {
        let Some(mut keeping) = self.keeping.take() else { return };
        let mut kept = keeping.listings.lock();
        let until = kept.watches.trusted_from(keeping.began);
        let page = KeptPage::new(Arc::clone(body), validated.etag.clone(), until);
        let subdirectories = std::mem::take(&mut keeping.subdirectories);
        kept.keep(&self.site.root, self.key(), page, keeping.watched, subdirectories);
    }

    /// 304 or 412 when the request's conditions say so. Without a
    /// `Last-Modified`, date conditions do not apply (RFC 9110 §13.1.3,
    /// §13.1.4), so `If-Modified-Since` alone always gets the page.
    fn precondition(&self, validated: &Validated) -> Option<Response> {
        let c = &self.conditions;
        let conditions = Conditions {
            if_match: c.if_match.as_deref(),
            if_none_match: c.if_none_match.as_deref(),
            if_modified_since: None,
            if_unmodified_since: None,
            if_range: None,
        };
        let validators = Validators { etag: Some(&validated.etag), last_modified: None };
        match precondition::evaluate(&conditions, &validators, true) {
            Precondition::Proceed => None,
            Precondition::NotModified => Some(with_validators(Response::new(304), validated)),
            Precondition::Failed => Some(Response::error(412)),
        }
    }
}

/// The archive's name: the folder's own name (`path` below the root; a
/// file name never holds a `/`), or the root folder's name for the root.
fn archive_name(path: &Path, site: &Site) -> Vec<u8> {
    let root = || site.options.root.canonicalize().ok();
    let name = match path.file_name() {
        Some(name) => Some(name.as_bytes().to_vec()),
        None => root().and_then(|r| r.file_name().map(|n| n.as_bytes().to_vec())),
    };
    name.unwrap_or_else(|| b"files".to_vec())
}

/// The listing's policy with live reload's script allowed, made once.
/// The listing's policy (read-only or with the write controls) amended
/// for live reload's script.
fn live_policy(writes: listing::Writes) -> &'static str {
    use std::sync::LazyLock;
    static READ_ONLY: LazyLock<String> =
        LazyLock::new(|| live::page::amend_policy(listing::Writes::default().policy()));
    static WRITABLE: LazyLock<String> =
        LazyLock::new(|| live::page::amend_policy(listing::Writes { upload: true, changes: true }.policy()));
    match writes == listing::Writes::default() {
        true => &READ_ONLY,
        false => &WRITABLE,
    }
}

fn with_validators(response: Response, validated: &Validated) -> Response {
    response
        .header("ETag", validated.etag.clone())
        .header("Cache-Control", LISTING_CACHE_CONTROL)
        .header("Vary", LISTING_VARY)
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
                // Read again past its interval and unchanged: the kept page,
                // kept anew (a 304 too), without sorting or rendering.
                let unchanged = self.due.take().filter(|(etag, _)| *etag == validated.etag);
                if let Some((_, body)) = &unchanged {
                    self.keep(body, &validated);
                }
                if let Some(response) = self.precondition(&validated) {
                    return Some(response);
                }
                if let Some((_, body)) = unchanged {
                    return Some(self.page_response(Body::Shared(body), &validated));
                }
                self.stage = Stage::Rendering(Page::sorted(&self.request_path, listed, more, self.writes()), validated);
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
                let mut body = page.finish().into_bytes();
                if self.site.live.is_some() && self.view.format == Format::Html {
                    body = live::page::inject(&body);
                }
                let body: Arc<[u8]> = Arc::from(body);
                self.keep(&body, &validated);
                Some(self.page_response(Body::Shared(body), &validated))
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
