//! Static files: map the path, open the file, describe it as a response.
//!
//! Path safety lives in `safe_path`; this module decides what a path means
//! (file, directory with index, redirect, not found) and fills in the
//! representation's metadata (type, validators). The body stays an open file
//! for the connection to `sendfile`.

use std::fs::{self, File, Metadata};
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::Site;
use crate::http::request::Request;
use crate::http::response::{Body, Response};
use crate::safe_path::{self, PathError};

/// The file a directory is answered with.
const INDEX: &str = "index.html";
/// The custom not-found page, looked up in the root.
const NOT_FOUND_PAGE: &str = "404.html";

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
    if meta.is_dir() {
        if !request.path().ends_with('/') {
            // Relative links inside the index only work below a slashed URL.
            let location = format!("{}/{}", request.path(), request.query());
            return Response::error(301).header("Location", location);
        }
        return match open_file(&path.join(INDEX)) {
            Ok((file, meta)) => file_response(200, &path.join(INDEX), file, &meta, site),
            Err(kind) => io_error(kind, site),
        };
    }
    match open_file(&path) {
        Ok((file, meta)) => file_response(200, &path, file, &meta, site),
        Err(kind) => io_error(kind, site),
    }
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

fn file_response(status: u16, path: &Path, file: File, meta: &Metadata, site: &Site) -> Response {
    let mut response = Response::new(status)
        .header("Content-Type", content_type(path))
        .header("Cache-Control", site.cache_control.clone());
    if let Ok(modified) = meta.modified() {
        response = response.header("Last-Modified", httpdate::fmt_http_date(modified));
    }
    response.header("ETag", etag(meta)).body(Body::file(file, meta.len()))
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
