//! Static files: map the path to a file, a directory's index or its
//! listing, open and read it, and hand the representation to be answered.
//!
//! The work is split as lighttpd splits `mod_staticfile` from
//! `http_response_send_file`: [`choice`] decides which representation
//! answers (the file, a precompressed sibling or the file compressed here)
//! and is table-tested; [`answer`] renders its validators and headers and
//! applies the request's conditions and ranges, in RFC 9110's order; this
//! module opens and reads what was chosen, keeps what the caches may keep,
//! and handles what is missing (`clean_urls`, `spa`, the custom 404 page).
//! With live reload, an HTML file is read whole and given its script
//! (`page`) before it is described, so everything after sees those bytes.
//! Path safety is `safe_path`'s; precondition, range and content-coding
//! rules are in `http::precondition`, `http::range` and `http::encoding`
//! (one home each); the listing page is `listing`'s. The body stays an
//! open file for the connection to `sendfile`.

use std::borrow::Cow;
use std::fs::{File, Metadata};
use std::io::{ErrorKind, Seek, SeekFrom};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

mod answer;
mod choice;
mod page;

use super::cache::FileCache;
use super::compress::{self, Levels, Streamed};
use super::content_type;
use super::directory::{KeptListings, Listing};
use super::validators::Validity;
use super::Site;
use crate::http::encoding::Coding;
use crate::http::request::Request;
use crate::http::response::{Body, Response};
use crate::safe_path;
use crate::sys::fs::{read_len, Entries, Node};
use answer::{answer, describe, Source};
use choice::{Choice, Offer};

/// The custom not-found page, looked up in the root.
const NOT_FOUND_PAGE: &str = "404.html";

/// Answers `request` from the folder; `target` is the request path below
/// the route's prefix (the whole path for a fallback), while redirects and
/// listings keep using the full `request.path()` the client sees.
pub fn serve(
    request: &Request,
    target: &str,
    site: &Arc<Site>,
    cache: &mut FileCache,
    listings: &KeptListings,
) -> Response {
    let path = match safe_path::resolve(target, site.options.dotfiles) {
        Ok(path) => path,
        Err(e) => return status_page(e.status(), site),
    };
    // Hidden as a dot name is: not found, before anything is opened (so
    // no redirect or listing tells that it exists).
    if site.is_hidden(&path) {
        return not_found(site);
    }
    let slashed = request.path().ends_with('/');
    // Fast path: a small file (or a directory's index) already checked
    // and cached by this worker, and still what the path names beneath the
    // root. Only regular files are ever cached, so a path that has become a
    // directory, or lost its index, misses. Ranges are cut from the cached
    // bytes, so a range carries the same content ETag as the whole.
    {
        // Only the first index name is tried here: a later one is served
        // only while the earlier ones are missing, which a hit cannot tell.
        let first_index = site.options.index.first().map_or("index.html", String::as_str);
        let file = if slashed { Cow::Owned(path.join(first_index)) } else { Cow::Borrowed(&*path) };
        // No Accept-Encoding is answered with the file itself
        // (`Preferences::choose`), so the type (a MIME table search, 4% of
        // a hit's user time in the profile) need not be looked up.
        let offer = if request.header("accept-encoding").is_none() {
            if let Some(entry) = cache.get(&site.root, &file) {
                let response = answer(request, &entry.described, Source::Kept(Arc::clone(&entry.body)), site);
                cache.count(true);
                return response;
            }
            // The file itself was the only answer, and it is not cached.
            None
        } else {
            Some(Offer::of(request, &file, site, cache))
        };
        match offer.as_ref().and_then(|offer| offer.pick(&file, None, &site.options).map(|choice| (offer, choice))) {
            Some((offer, choice)) if choice.on_the_fly() => {
                if let Some(kept) = cache.compressed(&site.root, &file, choice.coding) {
                    let response = answer(request, &kept.described, Source::Kept(Arc::clone(&kept.body)), site);
                    cache.count(true);
                    return response;
                }
                // Nothing kept: perhaps the file is too small to compress,
                // which its uncompressed entry shows.
                if let Some(entry) = cache.get(&site.root, &file) {
                    let small = offer.pick(&file, Some(entry.body.len() as u64), &site.options);
                    if small.is_some_and(|choice| choice.coding == Coding::Identity) {
                        let response = answer(request, &entry.described, Source::Kept(Arc::clone(&entry.body)), site);
                        cache.count(true);
                        return response;
                    }
                }
            }
            Some((_, choice)) => {
                if let Some(entry) = cache.get(&site.root, choice.path()) {
                    let response = answer(request, &entry.described, Source::Kept(Arc::clone(&entry.body)), site);
                    cache.count(true);
                    return response;
                }
            }
            // Not acceptable, or not found: the full path decides.
            None => {}
        }
    }
    cache.count(false);
    // Taken before the open, so that it is no later than the moment the
    // metadata is read (see `validators::is_racy`).
    let read_at = SystemTime::now();
    let node = match site.root.open_node(&path) {
        Ok(node) => node,
        Err(e) => return missing(request, &path, slashed, kind_of(&e), read_at, site, cache),
    };
    let dir = match node {
        // `file.txt/` names a directory that does not exist (ENOTDIR), and
        // relative links on such a page would resolve wrongly.
        Node::File(..) if slashed => return not_found(site),
        Node::File(file, meta) => return serve_file(request, &path, (file, meta), read_at, site, cache),
        Node::Directory(dir) => dir,
    };
    if !slashed {
        // Relative links inside the page only work below a slashed URL.
        return Response::error(301)
            .header("Location", directory_location(request.path(), &request.target()[request.path().len()..]))
            .header("Cache-Control", REDIRECT_CACHE_CONTROL);
    }
    for name in &site.options.index {
        let index = path.join(name);
        if site.is_hidden(&index) {
            continue;
        }
        match site.root.open_file(&index) {
            Ok(opened) => return serve_file(request, &index, opened, read_at, site, cache),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            // Only missing indexes mean "list the directory": one that
            // exists but is refused (a link out of the root, a FIFO, a
            // directory) is not found, so a listing never stands in for a
            // refusal.
            Err(_) => return not_found(site),
        }
    }
    if site.options.listing {
        list_directory(request, &path, dir, site, listings)
    } else {
        not_found(site)
    }
}

/// The answer for a path that could not be opened: with `clean_urls`,
/// `/about` is `about.html`; with `spa`, a page navigation to a missing
/// path is the root's index (status 200, so the app boots and routes on
/// the client); else the error's status.
fn missing(
    request: &Request,
    path: &Path,
    slashed: bool,
    kind: ErrorKind,
    read_at: SystemTime,
    site: &Site,
    cache: &mut FileCache,
) -> Response {
    // An extension means an asset or a document, never an app route:
    // a missing `/app.js` must stay 404, not become HTML.
    let extensionless = path.extension().is_none() && !path.as_os_str().is_empty();
    if kind != ErrorKind::NotFound || !extensionless {
        return io_error(kind, site);
    }
    if site.options.clean_urls && !slashed {
        let mut name = path.as_os_str().to_owned();
        name.push(".html");
        let page = PathBuf::from(name);
        if site.is_hidden(&page) {
            return io_error(kind, site);
        }
        if let Ok(opened) = site.root.open_file(&page) {
            return serve_file(request, &page, opened, read_at, site, cache);
        }
    }
    let navigates = request.header("accept").is_some_and(|accept| accept.contains("text/html"));
    if site.options.spa {
        // The answer depends on Accept (the app for a navigation, 404 for a
        // fetch), so a cache must key on it.
        if navigates {
            for name in site.options.index.iter().filter(|name| !site.is_hidden(Path::new(name))) {
                if let Ok(opened) = site.root.open_file(Path::new(name)) {
                    return serve_file(request, Path::new(name), opened, read_at, site, cache).header("Vary", "Accept");
                }
            }
        }
        return io_error(kind, site).header("Vary", "Accept");
    }
    io_error(kind, site)
}

/// `Cache-Control` of the `/dir` → `/dir/` redirect. Without one, browsers
/// keep a 301 for good (heuristic freshness), though the folder may become
/// a file tomorrow; and a redirect has no validator, so `no-cache` (the
/// files' default) would mean the same as this while saying it oddly
/// (REDbot warns). Never stored: a redirect costs one round trip, and is
/// never stale.
const REDIRECT_CACHE_CONTROL: &str = "no-store";

/// Where `/dir` is redirected: `/dir/` with the query kept. Leading slashes
/// are collapsed to one, since `//host/` in a Location is another site (an
/// open redirect).
fn directory_location(path: &str, query: &str) -> String {
    let mut location = String::with_capacity(path.len() + query.len() + 2);
    location.push('/');
    location.push_str(path.trim_start_matches('/'));
    if !location.ends_with('/') {
        location.push('/');
    }
    location.push_str(query);
    location
}

/// The page for a refused path's status (see `PathError::status`).
fn status_page(status: u16, site: &Site) -> Response {
    if status == 404 {
        not_found(site)
    } else {
        Response::error(status)
    }
}

/// Serves the regular file at `path`, already open as `original`, its
/// precompressed sibling, or the file compressed here.
fn serve_file(
    request: &Request,
    path: &Path,
    original: (File, Metadata),
    read_at: SystemTime,
    site: &Site,
    cache: &mut FileCache,
) -> Response {
    let offer = Offer::of(request, path, site, cache);
    let Some(mut choice) = offer.pick(path, Some(original.1.len()), &site.options) else {
        // RFC 9110 §12.5.3: identity refused and no coding acceptable.
        return Response::error(406).header("Vary", "Accept-Encoding");
    };
    if page::injects(offer.mime, site) {
        // Live reload: the page with its script (`page`), unless too large.
        if let Some(response) = page::serve(request, path, (&original.0, &original.1), read_at, &offer, site, cache) {
            return response;
        }
    }
    if choice.on_the_fly() {
        return serve_compressed(request, path, original, read_at, &choice, site, cache);
    }
    let mime = offer.mime;
    let check_utf8 = content_type::needs_utf8_check(mime);
    // Whether the original's bytes are UTF-8, when a compressed sibling is
    // what will be read.
    let mut original_utf8 = None;
    let (mut file, meta) = match &choice.sibling {
        Some(sibling) => match site.root.open_file(sibling) {
            Ok(opened) => {
                original_utf8 = Some(check_utf8 && prefix_is_utf8(&original.0, original.1.len()));
                opened
            }
            Err(_) => {
                // The sibling vanished or is not allowed: the original it is.
                choice.coding = Coding::Identity;
                choice.sibling = None;
                original
            }
        },
        None => original,
    };
    let window = site.options.racy_window;
    // Every file the cache could hold is read whole, ranged requests too, so
    // that each answer for it carries the same content ETag.
    if cache.admits(meta.len()) {
        // Exactly the length `fstat` gave (`read_len`: one `read`). A file
        // that grows meanwhile is sent as it was when measured, as
        // `sendfile` would; the stamp it is cached with then no longer
        // matches, so its first hit misses.
        if let Ok(bytes) = read_len(&file, meta.len() as usize) {
            // Checked once per file version: the answer is kept in the
            // cached header lines.
            let utf8 = original_utf8.unwrap_or_else(|| check_utf8 && content_type::is_utf8(&bytes, false));
            let validity = Validity::of(&meta, Some(&bytes), read_at, window);
            let described = describe(&meta, &validity, (path, mime), &choice, true, utf8, site);
            let ranged = request.header("range").is_some();
            // Undated (racy, or changed in this second), its metadata could
            // not tell it from its next version, nor would it ever get a
            // date in the cache. Nor is it worth caching at every miss
            // (`worth_caching`).
            if validity.dated && cache.worth_caching(choice.path(), meta.len()) {
                let body: Arc<[u8]> = bytes.into();
                cache.insert(choice.path().to_path_buf(), &meta, Arc::clone(&body), described.clone());
                return answer(request, &described, Source::Kept(body), site);
            }
            if ranged {
                return answer(request, &described, Source::Kept(bytes.into()), site);
            }
            // Not cached: sent from the bytes as read, without a copy into an `Arc`.
            return answer(request, &described, Source::Whole(Body::Bytes(Cow::Owned(bytes))), site);
        }
        // Could not read it whole: fall back to sending the file.
        if file.seek(SeekFrom::Start(0)).is_err() {
            return Response::error(500);
        }
    }
    let utf8 = original_utf8.unwrap_or_else(|| check_utf8 && prefix_is_utf8(&file, meta.len()));
    let validity = Validity::of(&meta, None, read_at, window);
    let described = describe(&meta, &validity, (path, mime), &choice, true, utf8, site);
    answer(request, &described, Source::File(file, meta.len()), site)
}

/// Serves `path` compressed on the fly with `choice.coding`: from the
/// worker's kept bytes, compressed whole and kept (a file of at most
/// `compress_max_file` bytes), or streamed through the coder.
fn serve_compressed(
    request: &Request,
    path: &Path,
    (file, meta): (File, Metadata),
    read_at: SystemTime,
    choice: &Choice,
    site: &Site,
    cache: &mut FileCache,
) -> Response {
    if let Some(kept) = cache.compressed(&site.root, path, choice.coding) {
        return answer(request, &kept.described, Source::Kept(Arc::clone(&kept.body)), site);
    }
    let options = &site.options;
    let levels = Levels::of(options.compress.unwrap_or(compress::DEFAULT_LEVEL));
    let mime = site.types.mime_of(path);
    let check_utf8 = content_type::needs_utf8_check(mime);
    if meta.len() > options.compress_max_file {
        // Too large to keep: a prefix decides, read with pread before the
        // stream takes the file.
        let utf8 = check_utf8 && prefix_is_utf8(&file, meta.len());
        let levels = compress::stream_levels(options);
        let Some(permit) = site.streams.start(options.compress_streams, compress::stream_memory(choice.coding, levels))
        else {
            // Busy compressing other large files (too many, or no spare
            // memory in the budget): this one goes as it is.
            let identity = Choice { original: path, coding: Coding::Identity, sibling: None, varies: choice.varies };
            let validity = Validity::of(&meta, None, read_at, options.racy_window);
            let described = describe(&meta, &validity, (path, mime), &identity, true, utf8, site);
            return answer(request, &described, Source::File(file, meta.len()), site);
        };
        // Ranges are not served from a stream: no Accept-Ranges.
        let validity = Validity::of(&meta, None, read_at, options.racy_window);
        let described = describe(&meta, &validity, (path, mime), choice, false, utf8, site);
        let body = Streamed::new(file, choice.coding, levels, meta.len(), permit);
        return answer(request, &described, Source::Stream(Box::new(body)), site);
    }
    let Ok(bytes) = read_len(&file, meta.len() as usize) else {
        return Response::error(500);
    };
    let utf8 = check_utf8 && content_type::is_utf8(&bytes, false);
    let body: Arc<[u8]> = match compress::compress(&bytes, choice.coding, levels) {
        Ok(packed) => packed.into(),
        Err(e) => {
            log::warn!("cannot compress {}: {e}", path.display());
            return Response::error(500);
        }
    };
    // Tagged by the original's bytes, read whole here: the coding's suffix
    // keeps it apart from the identity representation's tag.
    let validity = Validity::of(&meta, Some(&bytes), read_at, options.racy_window);
    let described = describe(&meta, &validity, (path, mime), choice, true, utf8, site);
    // Undated, it would stay undated in the cache after its second passed.
    if validity.dated {
        cache.keep_compressed(&site.root, path, &meta, choice.coding, Arc::clone(&body), described.clone());
    }
    answer(request, &described, Source::Kept(body), site)
}

/// Whether the first `content_type::UTF8_PREFIX` bytes of `file` (of
/// `len` bytes) are UTF-8, for a file too large to be read whole. Read
/// with `pread`, so the file's offset stays where `sendfile` expects it.
fn prefix_is_utf8(file: &File, len: u64) -> bool {
    use std::os::unix::fs::FileExt;
    let mut buffer = [0u8; content_type::UTF8_PREFIX];
    let want = buffer.len().min(usize::try_from(len).unwrap_or(usize::MAX));
    let mut got = 0;
    while got < want {
        match file.read_at(&mut buffer[got..want], got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
    content_type::is_utf8(&buffer[..got], (got as u64) < len)
}

/// Lists the directory `dir` (open, at `path` relative to the root), in
/// slices when it is large, or sends its tar (see `directory`).
fn list_directory(request: &Request, path: &Path, dir: OwnedFd, site: &Arc<Site>, listings: &KeptListings) -> Response {
    let entries = match Entries::new(dir) {
        Ok(entries) => entries,
        Err(e) => return io_error(kind_of(&e), site),
    };
    Listing::start(request, entries, path.to_path_buf(), site, listings)
}

/// The kind of an I/O error, with a symlink loop (ELOOP, whose kind is not
/// yet nameable in stable Rust) and a path that leads out of the root
/// (EXDEV, from `RESOLVE_BENEATH` or the walk) counted as not found.
fn kind_of(error: &std::io::Error) -> ErrorKind {
    if matches!(error.raw_os_error(), Some(libc::ELOOP | libc::EXDEV)) {
        ErrorKind::NotFound
    } else {
        error.kind()
    }
}

fn io_error(kind: ErrorKind, site: &Site) -> Response {
    match kind {
        // A name too long for the file system names nothing that could
        // be served: not found, not a server error.
        ErrorKind::NotFound | ErrorKind::NotADirectory | ErrorKind::InvalidFilename => not_found(site),
        ErrorKind::PermissionDenied => Response::error(403),
        _ => Response::error(500),
    }
}

/// `ROOT/404.html` when there is one (a regular file beneath the root,
/// like any other), else the built-in page.
fn not_found(site: &Site) -> Response {
    let path = Path::new(NOT_FOUND_PAGE);
    if site.is_hidden(path) {
        return Response::error(404);
    }
    match site.root.open_file(path) {
        Ok((file, meta)) => {
            let mime = site.types.mime_of(path);
            if let Some(page) = page::not_found(&file, &meta, mime, site) {
                return page;
            }
            let utf8 = prefix_is_utf8(&file, meta.len());
            let content_type = content_type::content_type(mime, utf8).into_owned();
            Response::new(404).header("Content-Type", content_type).body(Body::file(file, meta.len()))
        }
        Err(_) => Response::error(404),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(path: &str, query: &str, expected: &str) {
        assert_eq!(directory_location(path, query), expected, "{path:?} {query:?}");
    }

    #[test]
    fn directory_locations_never_leave_the_site() {
        location("/docs", "", "/docs/");
        location("/docs", "?a=b", "/docs/?a=b");
        location("/a/b", "", "/a/b/");
        location("//docs", "", "/docs/");
        location("///evil.example/x", "", "/evil.example/x/");
        location("//", "?q", "/?q");
        location("/", "", "/");
        location("/a//b", "", "/a//b/");
    }
}
