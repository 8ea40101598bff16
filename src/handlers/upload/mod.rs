//! Writing into a served folder: uploads (`--upload`: `PUT`, `POST`
//! multipart, `MKCOL`) and changes (`--delete`: `DELETE`, `MOVE`).
//!
//! A `StaticFiles` handler hands a write here ([`start`] for the methods
//! with a body, which stream it through a `BodySink` as it arrives, in
//! bounded memory, read from the socket only as fast as it is written;
//! [`answer`] for the others and for an empty body). Each write is
//! checked in the same order: the method is enabled (else 405 with
//! `Allow`), the browser is not on another site ([`csrf`]), the request
//! may write (`Site::may_write`, accounts), the path is acceptable
//! ([`target`]: beneath the root, no `..`, no dot names, names checked)
//! and not hidden (`Site::is_hidden`). Then: `put` and `form` land files
//! through [`incoming`] (temporary file, `fsync`, rename, `fsync` of the
//! folder; removed if anything fails), `manage` makes, removes and moves.
//! The system calls are `sys::fs::write`'s (beneath the root, through no
//! symlink); what an answer says is [`refusal`]'s.
//!
//! The caches need nothing from here: the small-file cache, the
//! compressed cache and kept listings watch the folders with inotify,
//! and the kernel queues a rename's or removal's event inside the system
//! call, before this request is answered; so the next request, on any
//! worker, sees the change.

mod csrf;
mod form;
pub(crate) mod incoming;
mod manage;
pub(crate) mod multipart;
mod put;
mod refusal;
pub(crate) mod target;

use std::ffi::OsString;
use std::io;
use std::sync::Arc;

use super::{Site, Started};
use crate::config::FileOptions;
use crate::http::request::{Method, Request};
use crate::http::response::Response;
use crate::sys::fs::Folder;
pub(crate) use refusal::Refusal;

/// `Allow` of a folder, by what it accepts.
const READ_ONLY: &str = "GET, HEAD, OPTIONS";
const UPLOADS: &str = "GET, HEAD, OPTIONS, PUT, POST, MKCOL";
const CHANGES: &str = "GET, HEAD, OPTIONS, DELETE, MOVE";
const UPLOADS_AND_CHANGES: &str = "GET, HEAD, OPTIONS, PUT, POST, MKCOL, DELETE, MOVE";

/// What a write method asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    Put,
    Post,
    Mkcol,
    Delete,
    Move,
}

impl Write {
    fn of(method: &Method) -> Option<Write> {
        Some(match method.as_str() {
            "PUT" => Write::Put,
            "POST" => Write::Post,
            "MKCOL" => Write::Mkcol,
            "DELETE" => Write::Delete,
            "MOVE" => Write::Move,
            _ => return None,
        })
    }

    fn enabled(self, options: &FileOptions) -> bool {
        match self {
            Write::Put | Write::Post | Write::Mkcol => options.upload,
            Write::Delete | Write::Move => options.delete,
        }
    }
}

/// The `Allow` value of a folder served with `options`.
pub fn allowed(options: &FileOptions) -> &'static str {
    match (options.upload, options.delete) {
        (false, false) => READ_ONLY,
        (true, false) => UPLOADS,
        (false, true) => CHANGES,
        (true, true) => UPLOADS_AND_CHANGES,
    }
}

/// Whether `method` is a write this folder accepts.
pub fn accepts(method: &Method, options: &FileOptions) -> bool {
    Write::of(method).is_some_and(|write| write.enabled(options))
}

/// Whether a request with `method` has its body read here (in pieces).
pub fn reads_body(method: &Method, options: &FileOptions) -> bool {
    matches!(Write::of(method), Some(Write::Put | Write::Post)) && options.upload
}

/// Starts the write `request` asks for (an accepted method) on `target`,
/// the request path below the route's prefix (`strip` bytes of it):
/// a sink for its body, or the answer.
pub fn start(request: &Request, target: &str, strip: usize, site: &Arc<Site>) -> Started {
    let Some(write) = Write::of(request.method()).filter(|w| w.enabled(&site.options)) else {
        return Started::Answer(not_allowed(&site.options));
    };
    if let Err(answer) = admit(request, site) {
        return Started::Answer(answer);
    }
    let started = match write {
        Write::Put => put::start(request, target, site),
        Write::Post => form::start(request, target, site),
        Write::Mkcol => manage::make_folder(request, target, site).map(Started::Answer),
        Write::Delete => manage::delete(request, target, site).map(Started::Answer),
        Write::Move => manage::move_to(request, target, strip, site).map(Started::Answer),
    };
    started.unwrap_or_else(|refusal| Started::Answer(refusal.response()))
}

/// The answer to a write whose body is empty (or that has none).
pub fn answer(request: &Request, target: &str, strip: usize, site: &Arc<Site>) -> Response {
    match start(request, target, strip, site) {
        Started::Answer(response) => response,
        Started::Read(sink) => sink.finish(),
    }
}

/// 405 with the methods this folder does accept.
pub fn not_allowed(options: &FileOptions) -> Response {
    Response::error(405).header("Allow", allowed(options))
}

/// The checks every write passes before its path is looked at: not a
/// browser on another site, and allowed to write.
pub(crate) fn admit(request: &Request, site: &Site) -> Result<(), Response> {
    csrf::check(request.header("sec-fetch-site"), request.header("origin"), request.header("host"))
        .map_err(|refusal| refusal.response())?;
    site.may_write(request)
}

/// The body's length when the client announced it.
fn content_length(request: &Request) -> Option<u64> {
    request.header("content-length").and_then(|n| n.trim().parse().ok())
}

/// 507 before the body when it cannot fit in what the folder's file
/// system has free (an announced length; a chunked body finds out as it
/// writes).
fn check_room(folder: &Folder, expected: Option<u64>) -> Result<(), Refusal> {
    let Some(expected) = expected else { return Ok(()) };
    match folder.available_bytes() {
        Ok(free) if free < expected => {
            Err(Refusal::new(507, format!("the body is {expected} bytes and the server's disk has {free} free")))
        }
        _ => Ok(()),
    }
}

/// `prefix` and 32 random hexadecimal digits (128 bits, as a UUID's): a
/// name nobody can guess, for the server's own hidden entries.
pub(crate) fn random_name(prefix: &str) -> io::Result<OsString> {
    use ring::rand::SecureRandom;
    let mut random = [0u8; 16];
    ring::rand::SystemRandom::new().fill(&mut random).map_err(|_| io::Error::other("no random source"))?;
    let mut name = String::with_capacity(prefix.len() + 2 * random.len());
    name.push_str(prefix);
    for byte in random {
        name.push_str(&format!("{byte:02x}"));
    }
    Ok(name.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_by_setting() {
        let mut options = FileOptions::new("unused");
        let method = |name: &str| Method::from_bytes(name.as_bytes()).unwrap();
        assert_eq!(allowed(&options), "GET, HEAD, OPTIONS");
        assert!(!accepts(&method("PUT"), &options));
        options.upload = true;
        assert!(accepts(&method("PUT"), &options) && accepts(&method("MKCOL"), &options));
        assert!(!accepts(&method("DELETE"), &options) && !accepts(&method("GET"), &options));
        assert!(reads_body(&method("POST"), &options) && !reads_body(&method("MKCOL"), &options));
        options.delete = true;
        assert_eq!(allowed(&options), UPLOADS_AND_CHANGES);
        assert!(accepts(&method("MOVE"), &options));
        assert!(!accepts(&method("put"), &options), "methods are case-sensitive");
        options.upload = false;
        assert_eq!(allowed(&options), CHANGES);
        assert!(!reads_body(&method("PUT"), &options));
    }

    #[test]
    fn random_names_are_hidden_and_unguessable() {
        let (a, b) = (random_name(".rawserve-upload-").unwrap(), random_name(".rawserve-upload-").unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), ".rawserve-upload-".len() + 32);
        for dotfiles in [false, true] {
            assert!(crate::safe_path::is_hidden(a.as_encoded_bytes(), dotfiles, true));
        }
    }
}
