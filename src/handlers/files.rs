//! Static files: map the path, pick the representation, apply the
//! request's conditions and ranges, describe the answer as a `Response`.
//!
//! Path safety is `safe_path`'s; precondition, range and content-coding
//! rules are in `http::precondition`, `http::range` and `http::encoding`
//! (one home each); the listing page is `listing`'s. This module only
//! strings them together in RFC 9110's order. The body stays an open file
//! for the connection to `sendfile`.

use std::fs::{self, File, Metadata};
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use super::{listing, Site};
use crate::http::encoding::{self, Coding};
use crate::http::precondition::{self, Conditions, Precondition, Validators};
use crate::http::range::{self, RangeOutcome};
use crate::http::request::Request;
use crate::http::response::{Body, Chunk, Response};
use crate::safe_path::{self, PathError};

/// The file a directory is answered with.
const INDEX: &str = "index.html";
/// The custom not-found page, looked up in the root.
const NOT_FOUND_PAGE: &str = "404.html";
/// Directory listings are produced per request; they are not cached by
/// validators, so tell caches to always ask.
const LISTING_CACHE_CONTROL: &str = "no-cache";

pub fn serve(request: &Request, site: &Site) -> Response {
    let path = match safe_path::resolve(&site.root, request.path(), site.dotfiles) {
        Ok(path) => path,
        Err(PathError::Invalid) => return Response::error(400),
        Err(_) => return not_found(site),
    };
    if !site.follow_symlinks {
        match safe_path::confine(&site.root, &path) {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return not_found(site),
            Err(e) => return io_error(e.kind(), site),
        }
    }
    let meta = match fs::metadata(&path) {
        Ok(meta) => meta,
        Err(e) => return io_error(e.kind(), site),
    };
    if !meta.is_dir() {
        return serve_file(request, &path, site);
    }
    if !request.path().ends_with('/') {
        // Relative links inside the page only work below a slashed URL.
        let location = format!("{}/{}", request.path(), request.query());
        return Response::error(301).header("Location", location);
    }
    let index = path.join(INDEX);
    if index.is_file() {
        return serve_file(request, &index, site);
    }
    if site.listing {
        return list_directory(request, &path, site);
    }
    not_found(site)
}

/// A file's representation: which file on disk is sent, and how it is coded.
struct Representation {
    file: File,
    meta: Metadata,
    coding: Coding,
    /// A precompressed sibling exists, so the answer depends on Accept-Encoding.
    varies: bool,
}

/// Chooses between `path` and its `.br` / `.gz` siblings, and opens it.
fn select(request: &Request, path: &Path) -> Result<Representation, ErrorKind> {
    let sibling = |coding: Coding| -> PathBuf {
        let mut name = path.as_os_str().to_owned();
        name.push(coding.extension());
        PathBuf::from(name)
    };
    let have_br = sibling(Coding::Brotli).is_file();
    let have_gz = sibling(Coding::Gzip).is_file();
    let coding = encoding::negotiate(request.header("accept-encoding"), have_br, have_gz);
    let (file, meta) = match coding {
        Coding::Identity => open_file(path)?,
        coded => open_file(&sibling(coded)).or_else(|_| open_file(path))?,
    };
    Ok(Representation { file, meta, coding, varies: have_br || have_gz })
}

fn serve_file(request: &Request, path: &Path, site: &Site) -> Response {
    let representation = match select(request, path) {
        Ok(representation) => representation,
        Err(kind) => return io_error(kind, site),
    };
    let Representation { file, meta, coding, varies } = representation;
    let etag = etag(&meta);
    let last_modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    let validators = Validators { etag: &etag, last_modified };

    // Headers every answer about this representation carries, 304 included.
    let mut response = Response::new(200)
        .header("ETag", etag.clone())
        .header("Last-Modified", httpdate::fmt_http_date(last_modified))
        .header("Cache-Control", site.cache_control.clone());
    if varies {
        response = response.header("Vary", "Accept-Encoding");
    }

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
            response.status = 304;
            return response;
        }
        Precondition::Failed => return Response::error(412),
    }

    let content_type = content_type(path);
    response = response.header("Content-Type", content_type.clone()).header("Accept-Ranges", "bytes");
    if coding != Coding::Identity {
        response = response.header("Content-Encoding", coding.token());
    }
    let len = meta.len();
    let ranges = match request.header("range") {
        Some(header) if precondition::if_range_allows(conditions.if_range, &validators) => {
            range::parse(header, len, site.max_ranges)
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
            let parts = range::multipart(&ranges, len, &content_type, &boundary());
            let mut chunks = Vec::with_capacity(ranges.len() * 2 + 1);
            for (head, r) in parts.part_heads.iter().zip(&ranges) {
                chunks.push(Chunk::Bytes(head.clone()));
                chunks.push(Chunk::Range { offset: r.start, len: r.len() });
            }
            chunks.push(Chunk::Bytes(parts.trailer.clone()));
            response.status = 206;
            // The whole-representation type gives way to the multipart one.
            response.headers.retain(|(name, _)| *name != "Content-Type");
            response.header("Content-Type", parts.content_type()).body(Body::File { file, chunks })
        }
        RangeOutcome::Unsatisfiable => {
            let mut refusal = Response::error(416).header("Content-Range", range::unsatisfied_content_range(len));
            refusal.headers.push(("Accept-Ranges", "bytes".into()));
            refusal
        }
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
    let file = File::open(path).map_err(|e| e.kind())?;
    let meta = file.metadata().map_err(|e| e.kind())?;
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

/// `Content-Type` from the extension; text gets an explicit charset so
/// browsers do not guess.
fn content_type(path: &Path) -> String {
    let mime = mime_guess::from_path(path).first_raw().unwrap_or("application/octet-stream");
    let textual = mime.starts_with("text/")
        || matches!(mime, "application/javascript" | "application/json" | "application/xml" | "image/svg+xml");
    if textual {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    }
}

fn list_directory(request: &Request, dir: &Path, site: &Site) -> Response {
    let reader = match fs::read_dir(dir) {
        Ok(reader) => reader,
        Err(e) => return io_error(e.kind(), site),
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
    Response::text(200, "text/html; charset=utf-8", page.into_bytes()).header("Cache-Control", LISTING_CACHE_CONTROL)
}

fn io_error(kind: ErrorKind, site: &Site) -> Response {
    match kind {
        ErrorKind::NotFound | ErrorKind::NotADirectory => not_found(site),
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
