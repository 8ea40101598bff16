//! WebDAV (RFC 4918, classes 1 and 2) on a served folder, with
//! `FileOptions::webdav`: what `upload` leaves to it. `GET`, `HEAD`,
//! `PUT`, `MKCOL`, `DELETE` and `MOVE` stay `upload`'s and `files`' (this
//! module adds the lock checks and RFC 4918's rules to them through
//! [`check_write`]); here are `PROPFIND` ([`propfind`]), `PROPPATCH`
//! ([`proppatch`]), `COPY` ([`copy`]), `LOCK` and `UNLOCK` ([`locks`]),
//! and the `If` field ([`condition`]).
//!
//! Permissions, as dufs has them: `PROPFIND` reads (anyone who may read;
//! `--public-read` lets it through anonymously), everything else writes
//! and passes upload's checks (not a browser on another site, an account
//! when there are accounts) and needs `--upload`; `DELETE` and `MOVE`
//! need `--delete` as before. A method the folder does not take is 405
//! with `Allow`. Request bodies (XML) are read whole up to
//! [`MAX_XML_BYTES`] (413 beyond), through a `BodySink`, so a large one
//! is refused while it arrives rather than held.

pub(crate) mod condition;
mod copy;
mod etag;
mod locks;
mod propfind;
mod proppatch;
mod props;
pub(crate) mod xml;

use std::path::PathBuf;
use std::sync::Arc;

use super::upload::{self, target, Refusal};
use super::{BodySink, Site, Started};
use crate::config::FileOptions;
use crate::http::request::{Method, Request};
use crate::http::response::Response;
use crate::safe_path;

pub use locks::Locks;

/// Largest XML body read (`PROPFIND`, `PROPPATCH`, `LOCK`): Windows asks
/// with about 1 KiB, a `PROPPATCH` of a few properties is a few KiB; a
/// larger one is 413 while it arrives, so memory stays bounded.
pub const MAX_XML_BYTES: usize = 256 * 1024;

/// `Content-Type` of every multistatus and lock answer.
pub const XML_TYPE: &str = "application/xml; charset=utf-8";

/// A WebDAV method this module answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dav {
    Propfind,
    Proppatch,
    Copy,
    Lock,
    Unlock,
}

impl Dav {
    fn of(method: &Method) -> Option<Dav> {
        Some(match method.as_str() {
            "PROPFIND" => Dav::Propfind,
            "PROPPATCH" => Dav::Proppatch,
            "COPY" => Dav::Copy,
            "LOCK" => Dav::Lock,
            "UNLOCK" => Dav::Unlock,
            _ => return None,
        })
    }

    fn enabled(self, options: &FileOptions) -> bool {
        options.webdav && (self == Dav::Propfind || options.upload)
    }

    /// Whether it has an XML body to read.
    fn has_body(self) -> bool {
        matches!(self, Dav::Propfind | Dav::Proppatch | Dav::Lock)
    }
}

/// Whether `method` is a WebDAV method this folder takes.
pub fn accepts(method: &Method, options: &FileOptions) -> bool {
    Dav::of(method).is_some_and(|dav| dav.enabled(options))
}

/// Whether a request with `method` has its body read here.
pub fn reads_body(method: &Method, options: &FileOptions) -> bool {
    Dav::of(method).is_some_and(|dav| dav.has_body() && dav.enabled(options))
}

/// Whether `method` is one of WebDAV's (enabled or not): a folder without
/// `--webdav` answers them 405 like any other method it does not take.
pub fn is_dav_method(method: &Method) -> bool {
    Dav::of(method).is_some()
}

/// The `Allow` value of a folder served with `options` and `--webdav`.
pub fn allowed(options: &FileOptions) -> String {
    let mut allow = String::from(upload::allowed(options));
    allow.push_str(", PROPFIND");
    if options.upload {
        allow.push_str(", PROPPATCH, COPY, LOCK, UNLOCK");
    }
    allow
}

/// 405 with the methods this folder does take.
pub fn not_allowed(options: &FileOptions) -> Response {
    match options.webdav {
        true => Response::error(405).header("Allow", allowed(options)),
        false => upload::not_allowed(options),
    }
}

/// Adds what an `OPTIONS` answer says about WebDAV: the classes (`DAV:
/// 1, 2`; class 2 is locking, which needs `upload`: a read-only folder
/// says `DAV: 1`, and Finder then mounts it read-only rather than fail
/// at the first write), `MS-Author-Via: DAV` (Office and Windows look for
/// it before they write) and the methods.
pub fn options(response: Response, options: &FileOptions) -> Response {
    let classes = if options.upload { "1, 2" } else { "1" };
    let mut response = response.header("DAV", classes).header("MS-Author-Via", "DAV");
    let allow = allowed(options);
    match response.headers.iter_mut().find(|(name, _)| name == "Allow") {
        Some((_, value)) => *value = allow.into(),
        None => response = response.header("Allow", allow),
    }
    response
}

/// What a WebDAV request asked, owned, for answering after its body.
#[derive(Debug, Clone)]
pub struct Asked {
    pub method: Dav,
    /// The request path as sent, route prefix included: hrefs start from it.
    pub path: String,
    /// The path below the route's prefix.
    pub target: String,
    /// Bytes of `path` that are the route's prefix.
    pub strip: usize,
    pub depth: Option<String>,
    pub condition: Option<String>,
    pub timeout: Option<String>,
    pub lock_token: Option<String>,
    pub destination: Option<String>,
    pub overwrite: Option<String>,
    pub host: Option<String>,
    pub user: Option<String>,
    /// An HTTP/1.0 client: a streamed answer ends with the connection.
    pub close: bool,
}

impl Asked {
    fn of(method: Dav, request: &Request, target: &str, strip: usize) -> Asked {
        let field = |name: &str| request.header(name).map(str::to_string);
        Asked {
            method,
            path: request.path().to_string(),
            target: target.to_string(),
            strip,
            depth: field("depth"),
            condition: field("if"),
            timeout: field("timeout"),
            lock_token: field("lock-token"),
            destination: field("destination"),
            overwrite: field("overwrite"),
            host: field("host"),
            user: request.user().map(str::to_string),
            close: request.version() == http::Version::HTTP_10,
        }
    }

    /// `Overwrite: F` was not sent (RFC 4918 §10.6: T is the default).
    pub fn may_overwrite(&self) -> bool {
        !self.overwrite.as_deref().is_some_and(|v| v.trim().eq_ignore_ascii_case("F"))
    }

    /// The path below the root that the request names (`safe_path`'s
    /// rules; hidden names and `--hidden` paths are 404).
    pub fn resolved(&self, site: &Site) -> Result<PathBuf, Response> {
        resolve(&self.target, site)
    }

    /// The `Destination` as a path below the route's prefix, checked as
    /// `MOVE`'s is: this server (else 502), this folder (else 409).
    pub fn destination(&self) -> Result<String, Refusal> {
        let value = self.destination.as_deref().ok_or_else(|| Refusal::new(400, "a Destination field is needed"))?;
        self.below(value)
    }

    /// The path below the route's prefix that `uri` (an absolute URI of
    /// this server, or an absolute path) names.
    pub fn below(&self, uri: &str) -> Result<String, Refusal> {
        let destination = target::destination(uri, self.host.as_deref())?;
        let prefix = &self.path[..self.strip];
        let below = destination
            .strip_prefix(prefix)
            .filter(|rest| self.strip == 0 || rest.is_empty() || rest.starts_with('/'))
            .ok_or_else(|| Refusal::new(409, "Destination is outside this folder"))?;
        Ok(if below.is_empty() { "/".to_string() } else { below.to_string() })
    }
}

/// The path below the root for `target`, or the answer refusing it.
pub fn resolve(target: &str, site: &Site) -> Result<PathBuf, Response> {
    let path = safe_path::resolve(target, site.options.dotfiles).map_err(|e| Response::error(e.status()))?;
    if site.is_hidden(&path) {
        return Err(Response::error(404));
    }
    Ok(path)
}

/// Starts the WebDAV request `request` (a method [`accepts`] takes) on
/// `target`: a sink for its XML body, or the answer.
pub fn start(request: &Request, target: &str, strip: usize, site: &Arc<Site>) -> Started {
    let Some(method) = Dav::of(request.method()).filter(|dav| dav.enabled(&site.options)) else {
        return Started::Answer(not_allowed(&site.options));
    };
    if method != Dav::Propfind {
        if let Err(refused) = upload::admit(request, site) {
            return Started::Answer(refused);
        }
    }
    let asked = Asked::of(method, request, target, strip);
    if let Some(length) = request.header("content-length").and_then(|n| n.trim().parse::<u64>().ok()) {
        if length > MAX_XML_BYTES as u64 {
            return Started::Answer(too_large());
        }
    }
    Started::Read(Box::new(XmlBody { asked, body: Vec::new(), site: Arc::clone(site) }))
}

/// The answer to a WebDAV request whose body is empty (or that has none).
pub fn answer(request: &Request, target: &str, strip: usize, site: &Arc<Site>) -> Response {
    match start(request, target, strip, site) {
        Started::Answer(response) => response,
        Started::Read(sink) => sink.finish(),
    }
}

/// `status` with a WebDAV precondition or postcondition element
/// (`DAV:propfind-finite-depth`, `DAV:cannot-modify-protected-property`).
pub fn error(status: u16, condition: &str) -> Response {
    let body =
        format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:error xmlns:D=\"DAV:\"><D:{condition}/></D:error>\n");
    Response::new(status)
        .header("Content-Type", XML_TYPE)
        .body(crate::http::response::Body::Bytes(body.into_bytes().into()))
}

/// 413 for an XML body past [`MAX_XML_BYTES`].
fn too_large() -> Response {
    Refusal::new(413, format!("a WebDAV request body may have at most {MAX_XML_BYTES} bytes")).response()
}

/// A WebDAV request's XML body, read whole (it is small) before it is answered.
struct XmlBody {
    asked: Asked,
    body: Vec<u8>,
    site: Arc<Site>,
}

impl BodySink for XmlBody {
    fn write(&mut self, piece: &[u8]) -> Result<(), Response> {
        if self.body.len() + piece.len() > MAX_XML_BYTES {
            return Err(too_large());
        }
        self.body.extend_from_slice(piece);
        Ok(())
    }

    fn finish(self: Box<Self>) -> Response {
        let XmlBody { asked, body, site } = *self;
        let answer = match asked.method {
            Dav::Propfind => propfind::answer(&asked, &body, &site),
            Dav::Proppatch => proppatch::answer(&asked, &body, &site),
            Dav::Copy => copy::answer(&asked, &site),
            Dav::Lock => locks::lock(&asked, &body, &site),
            Dav::Unlock => locks::unlock(&asked, &site),
        };
        answer.unwrap_or_else(|refused| refused)
    }
}

/// The checks WebDAV adds to the writes `upload` makes (`PUT`, `MKCOL`,
/// `DELETE`, `MOVE`): the `If` field holds (else 412), and every lock on
/// what the write changes has its token in it (else 423).
pub fn check_write(request: &Request, target: &str, strip: usize, site: &Site) -> Result<(), Response> {
    let Some(write) = locks::Change::of(request.method()) else { return Ok(()) };
    // Who may write is asked first, so nothing about locks leaks to
    // whoever may not.
    upload::admit(request, site)?;
    let asked = Asked::of(Dav::Copy, request, target, strip);
    let source = asked.resolved(site)?;
    match write {
        // RFC 4918 §9.3: MKCOL with a body this server does not read.
        locks::Change::Mkcol if has_body(request) => return Err(Response::error(415)),
        // RFC 4918 §9.7.1: no folders made on the way, 409.
        locks::Change::Put => {
            let parent = source.parent().unwrap_or(std::path::Path::new(""));
            if let Err(e) = site.root.open_folder(parent) {
                return Err(match e.kind() {
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory => {
                        Refusal::new(409, "the folder to put it in does not exist").response()
                    }
                    _ => Refusal::io(e, "cannot open the folder").response(),
                });
            }
        }
        _ => {}
    }
    let destination = match write {
        locks::Change::Move => {
            let below = asked.destination().map_err(|refused| refused.response())?;
            Some(resolve(&below, site)?)
        }
        _ => None,
    };
    locks::check(&asked, site, &source, write.depth())?;
    if let Some(destination) = destination {
        locks::check(&asked, site, &destination, locks::Reach::Tree)?;
    }
    Ok(())
}

/// Whether `target` names one of the files Finder writes beside others
/// (`._name`, AppleDouble: resource forks and extended attributes;
/// `.DS_Store`: window settings). They are dot names, which no write may
/// create; a `PUT` of one is taken and thrown away ([`Discarded`]) so
/// that a copy from a Mac does not fail on them (sabre/dav and Synology
/// make the same choice); the Mac metadata is then not kept.
pub fn is_finder_metadata(target: &str) -> bool {
    let name = percent_encoding::percent_decode_str(target.rsplit('/').next().unwrap_or("")).collect::<Vec<u8>>();
    name.starts_with(b"._") || name == b".DS_Store"
}

/// A `PUT` body of Finder's metadata, read and not kept (see
/// [`is_finder_metadata`]): 201, as if stored.
pub struct Discarded;

impl BodySink for Discarded {
    fn write(&mut self, _piece: &[u8]) -> Result<(), Response> {
        Ok(())
    }

    fn finish(self: Box<Self>) -> Response {
        log::debug!("webdav: a Finder metadata file was not kept");
        Response::new(201)
    }
}

/// Whether `request` is a `PUT` of Finder's metadata on a folder that
/// takes WebDAV writes.
pub fn discards(request: &Request, target: &str, options: &FileOptions) -> bool {
    options.webdav && options.upload && request.method() == Method::PUT && is_finder_metadata(target)
}

/// Whether the request has a body (announced, or chunked).
fn has_body(request: &Request) -> bool {
    request.header("transfer-encoding").is_some()
        || request.header("content-length").is_some_and(|n| n.trim().parse::<u64>().map_or(true, |n| n > 0))
}

/// `MOVE` with `--webdav` (RFC 4918's rules: `Overwrite: T` replaces a
/// folder too), after [`check_write`].
pub fn move_to(request: &Request, target: &str, strip: usize, site: &Site) -> Response {
    let asked = Asked::of(Dav::Copy, request, target, strip);
    copy::move_to(&asked, site).unwrap_or_else(|refused| refused)
}

/// After a write `upload` made: locks on what `DELETE` removed or `MOVE`
/// took away go with it.
pub fn after_write(request: &Request, target: &str, site: &Site, status: u16) {
    if !(200..300).contains(&status) || !matches!(request.method().as_str(), "DELETE" | "MOVE") {
        return;
    }
    if let Ok(path) = resolve(target, site) {
        site.locks.forget_tree(&path);
    }
}
