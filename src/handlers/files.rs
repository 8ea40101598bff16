//! Static files: map the path, pick the representation, apply the
//! request's conditions and ranges, describe the answer as a `Response`.
//!
//! Path safety is `safe_path`'s; precondition, range and content-coding
//! rules are in `http::precondition`, `http::range` and `http::encoding`
//! (one home each); the listing page is `listing`'s. This module only
//! strings them together in RFC 9110's order. The body stays an open file
//! for the connection to `sendfile`.

use std::borrow::Cow;
use std::fs::{self, File, Metadata};
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use super::cache::{Described, FileCache};
use super::{listing, Site};
use crate::http::encoding::{self, Coding};
use crate::http::precondition::{self, Conditions, Precondition, Validators};
use crate::http::range::{self, RangeOutcome};
use crate::http::request::Request;
use crate::http::response::{write_field, Body, Chunk, Response};
use crate::safe_path::{self, PathError};

/// The file a directory is answered with.
const INDEX: &str = "index.html";
/// The custom not-found page, looked up in the root.
const NOT_FOUND_PAGE: &str = "404.html";
/// Directory listings are produced per request; they are not cached by
/// validators, so tell caches to always ask.
const LISTING_CACHE_CONTROL: &str = "no-cache";

/// Answers `request` from the folder; `target` is the request path below
/// the route's prefix (the whole path for a fallback), while redirects and
/// listings keep using the full `request.path()` the client sees.
pub fn serve(request: &Request, target: &str, site: &Site, cache: &mut FileCache) -> Response {
    let path = match safe_path::resolve(&site.root, target, site.options.dotfiles) {
        Ok(path) => path,
        Err(PathError::Invalid) => return Response::error(400),
        Err(_) => return not_found(site),
    };
    // Fast path: a small file (or a directory's index) already checked
    // and cached by this worker. Only regular files are ever cached, so a
    // path that has become a directory, or lost its index, misses.
    if request.header("range").is_none() {
        let file = if request.path().ends_with('/') { Cow::Owned(path.join(INDEX)) } else { Cow::Borrowed(&*path) };
        let choice = choose(request, &file, cache);
        if let Some(entry) = cache.get(choice.path()) {
            let body = Body::Shared(Arc::clone(&entry.body));
            return answer(request, &entry.described, Source::Whole(body), site);
        }
    }
    if let Err(kind) = confined(site, &path) {
        return io_error(kind, site);
    }
    let meta = match fs::metadata(&path) {
        Ok(meta) => meta,
        Err(e) => return io_error(kind_of(&e), site),
    };
    if !meta.is_dir() {
        // `file.txt/` names a directory that does not exist (ENOTDIR), and
        // relative links on such a page would resolve wrongly.
        if request.path().ends_with('/') {
            return not_found(site);
        }
        return serve_file(request, &path, site, cache);
    }
    if !request.path().ends_with('/') {
        // Relative links inside the page only work below a slashed URL.
        let location = format!("{}/{}", request.path(), request.query());
        return Response::error(301).header("Location", location);
    }
    let index = path.join(INDEX);
    if index.is_file() {
        return serve_file(request, &index, site, cache);
    }
    if site.options.listing {
        return list_directory(request, &path, site);
    }
    not_found(site)
}

/// Which representation of a file to send: the file itself or a
/// precompressed sibling (`file.br`, `file.gz`).
struct Choice<'p> {
    original: &'p Path,
    coding: Coding,
    sibling: Option<PathBuf>,
    /// A sibling exists, so the answer depends on Accept-Encoding.
    varies: bool,
}

impl Choice<'_> {
    fn path(&self) -> &Path {
        self.sibling.as_deref().unwrap_or(self.original)
    }
}

/// Picks the representation. Siblings are looked for only beside types
/// worth compressing (as nginx's `gzip_types`): nobody ships `photo.jpg.gz`,
/// and not looking saves two lookups per image or video request.
fn choose<'p>(request: &Request, path: &'p Path, cache: &mut FileCache) -> Choice<'p> {
    if !compressible(mime_of(path)) {
        return Choice { original: path, coding: Coding::Identity, sibling: None, varies: false };
    }
    let (have_br, have_gz) = cache.siblings(path, |coding| sibling_path(path, coding).is_file());
    let coding = encoding::negotiate(request.header("accept-encoding"), have_br, have_gz);
    let sibling = (coding != Coding::Identity).then(|| sibling_path(path, coding));
    Choice { original: path, coding, sibling, varies: have_br || have_gz }
}

fn sibling_path(path: &Path, coding: Coding) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(coding.extension());
    PathBuf::from(name)
}

fn serve_file(request: &Request, path: &Path, site: &Site, cache: &mut FileCache) -> Response {
    let mut choice = choose(request, path, cache);
    let opened = match &choice.sibling {
        Some(sibling) => match confined(site, sibling).and_then(|_| open_file(sibling)) {
            Ok(opened) => Ok(opened),
            Err(_) => {
                // The sibling vanished or is not allowed: the original it is.
                choice.coding = Coding::Identity;
                choice.sibling = None;
                open_file(path)
            }
        },
        None => open_file(path),
    };
    let (mut file, meta) = match opened {
        Ok(opened) => opened,
        Err(kind) => return io_error(kind, site),
    };
    let described = describe(&meta, path, &choice, site);
    let cacheable = cache.admits(meta.len()) && request.header("range").is_none();
    if cacheable {
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        if file.read_to_end(&mut bytes).is_ok() && bytes.len() as u64 == meta.len() {
            if let Some(entry) = cache.insert(choice.path().to_path_buf(), &meta, bytes.into(), described.clone()) {
                let body = Body::Shared(Arc::clone(&entry.body));
                return answer(request, &described, Source::Whole(body), site);
            }
        }
        // Could not read or cache it: fall back to sending the file.
        if file.seek(SeekFrom::Start(0)).is_err() {
            return Response::error(500);
        }
    }
    answer(request, &described, Source::File(file, meta.len()), site)
}

/// Refuses `path` if it leads outside the root and symlinks are not followed.
fn confined(site: &Site, path: &Path) -> Result<(), ErrorKind> {
    if site.options.follow_symlinks {
        return Ok(());
    }
    match safe_path::confine(&site.root, path) {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(_)) => Err(ErrorKind::NotFound),
        Err(e) => Err(kind_of(&e)),
    }
}

/// Renders a representation's validators and header lines.
fn describe(meta: &Metadata, original: &Path, choice: &Choice, site: &Site) -> Described {
    let etag = etag(meta);
    let last_modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    let content_type = content_type(original);
    let mut headers = Vec::with_capacity(256);
    write_field(&mut headers, "ETag", &etag);
    write_field(&mut headers, "Last-Modified", &httpdate::fmt_http_date(last_modified));
    write_field(&mut headers, "Cache-Control", &site.options.cache_control);
    if choice.varies {
        write_field(&mut headers, "Vary", "Accept-Encoding");
    }
    let content_at = headers.len();
    write_field(&mut headers, "Content-Type", &content_type);
    if choice.coding != Coding::Identity {
        write_field(&mut headers, "Content-Encoding", choice.coding.token());
    }
    write_field(&mut headers, "Accept-Ranges", "bytes");
    Described {
        etag: etag.into(),
        last_modified,
        content_type: content_type.into(),
        headers: headers.into(),
        content_at,
    }
}

/// Where the body comes from.
enum Source {
    /// Bytes already in memory; only used when there is no `Range`.
    Whole(Body),
    /// An open file of the given length.
    File(File, u64),
}

/// Applies the request's preconditions and ranges (RFC 9110 §13.2.2, §14)
/// to a described representation.
fn answer(request: &Request, described: &Described, source: Source, site: &Site) -> Response {
    let validators = Validators { etag: &described.etag, last_modified: described.last_modified };
    let conditions = Conditions {
        if_match: request.header("if-match"),
        if_none_match: request.header("if-none-match"),
        if_modified_since: request.header("if-modified-since"),
        if_unmodified_since: request.header("if-unmodified-since"),
        if_range: request.header("if-range"),
    };
    match precondition::evaluate(&conditions, &validators, true) {
        Precondition::Proceed => {}
        Precondition::NotModified => {
            let mut response = Response::new(304);
            response.raw_headers = described.validator_headers();
            return response;
        }
        Precondition::Failed => return Response::error(412),
    }
    let mut response = Response::new(200);
    response.raw_headers = described.all_headers();
    let (file, len) = match source {
        Source::Whole(body) => return response.body(body),
        Source::File(file, len) => (file, len),
    };
    let ranges = match request.header("range") {
        Some(header) if precondition::if_range_allows(conditions.if_range, &validators) => {
            range::parse(header, len, site.options.max_ranges)
        }
        _ => RangeOutcome::Full,
    };
    match ranges {
        RangeOutcome::Full => response.body(Body::file(file, len)),
        RangeOutcome::Single(r) => {
            response.status = 206;
            response
                .header("Content-Range", r.content_range(len))
                .body(Body::File { file, chunks: vec![Chunk::Range { offset: r.start, len: r.len() }] })
        }
        RangeOutcome::Multiple(ranges) => {
            // The parts carry the representation's type; the response's is
            // multipart, so only the validator lines are kept.
            response.raw_headers = described.validator_headers();
            let parts = range::multipart(&ranges, len, &described.content_type, &boundary());
            let mut chunks = Vec::with_capacity(ranges.len() * 2 + 1);
            for (head, r) in parts.part_heads.iter().zip(&ranges) {
                chunks.push(Chunk::Bytes(head.clone()));
                chunks.push(Chunk::Range { offset: r.start, len: r.len() });
            }
            chunks.push(Chunk::Bytes(parts.trailer.clone()));
            response.status = 206;
            response
                .header("Content-Type", parts.content_type())
                .header("Accept-Ranges", "bytes")
                .body(Body::File { file, chunks })
        }
        RangeOutcome::Unsatisfiable => Response::error(416)
            .header("Content-Range", range::unsatisfied_content_range(len))
            .header("Accept-Ranges", "bytes"),
    }
}

/// A multipart boundary unlikely to occur in any file: process-unique and
/// time-seeded.
fn boundary() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("rawserve-{:08x}{:016x}", nanos, n ^ (u64::from(std::process::id()) << 32))
}

/// Opens a regular file and reads its metadata from the open descriptor, so
/// what is described is what is sent.
fn open_file(path: &Path) -> Result<(File, Metadata), ErrorKind> {
    let file = File::open(path).map_err(|e| kind_of(&e))?;
    let meta = file.metadata().map_err(|e| kind_of(&e))?;
    if !meta.is_file() {
        return Err(ErrorKind::NotFound);
    }
    Ok((file, meta))
}

/// A strong validator from inode, size and modification time: it changes
/// whenever the file is replaced or rewritten, without reading its contents.
fn etag(meta: &Metadata) -> String {
    let mtime_ns = meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128;
    format!("\"{:x}-{:x}-{:x}\"", meta.ino(), meta.len(), mtime_ns)
}

/// The MIME type for a file name, from its extension.
fn mime_of(path: &Path) -> &'static str {
    mime_guess::from_path(path).first_raw().unwrap_or("application/octet-stream")
}

/// Text-like types: they get an explicit charset, and are worth compressing.
fn compressible(mime: &str) -> bool {
    mime.starts_with("text/")
        || matches!(mime, "application/javascript" | "application/json" | "application/xml" | "image/svg+xml")
}

/// `Content-Type` from the extension; text gets an explicit charset so
/// browsers do not guess.
fn content_type(path: &Path) -> String {
    let mime = mime_of(path);
    if compressible(mime) {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    }
}

fn list_directory(request: &Request, dir: &Path, site: &Site) -> Response {
    let reader = match fs::read_dir(dir) {
        Ok(reader) => reader,
        Err(e) => return io_error(kind_of(&e), site),
    };
    let mut entries = Vec::new();
    for entry in reader.flatten() {
        // Follow symlinks for type and size, as a browser user would expect;
        // a dangling link is left out.
        let Ok(meta) = entry.path().metadata() else { continue };
        entries.push(listing::Entry {
            name: entry.file_name().to_string_lossy().into_owned(),
            is_dir: meta.is_dir(),
            size: meta.len(),
            modified: meta.modified().ok(),
        });
    }
    let decoded = percent_encoding::percent_decode_str(request.path()).decode_utf8_lossy();
    let page = listing::render(&decoded, entries);
    Response::page(200, "text/html; charset=utf-8", page.into_bytes()).header("Cache-Control", LISTING_CACHE_CONTROL)
}

/// The kind of an I/O error, with a symlink loop (ELOOP, whose kind is not
/// yet nameable in stable Rust) counted as not found.
fn kind_of(error: &std::io::Error) -> ErrorKind {
    if error.raw_os_error() == Some(libc::ELOOP) {
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

/// `ROOT/404.html` when there is one, else the built-in page.
fn not_found(site: &Site) -> Response {
    let path = site.root.join(NOT_FOUND_PAGE);
    match open_file(&path) {
        Ok((file, meta)) => {
            Response::new(404).header("Content-Type", content_type(&path)).body(Body::file(file, meta.len()))
        }
        Err(_) => Response::error(404),
    }
}
