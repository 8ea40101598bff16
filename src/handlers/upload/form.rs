//! `POST` of a `multipart/form-data` body to a folder: the listing page's
//! upload form (with or without its script), `curl -F`, Python's
//! requests. Each part with a file name is a file, written as it arrives
//! (`incoming`) and landed when its part ends, so the files of a form
//! land one by one, each whole; a file name may hold `/` (a folder
//! upload's relative path, as the page sends `webkitRelativePath`): the
//! folders are made. A `mkdir` field makes a folder (the page's "new
//! folder" form without its script). Other fields are ignored.
//!
//! An existing file is replaced only when the query says `overwrite=1`
//! (the page asks the user first); otherwise it is 409, so a form never
//! overwrites by surprise. A browser's own form submission (a navigation)
//! is answered with 303 to the folder, so the user sees the new listing;
//! other clients get 201 and one line per file or folder made.

use std::path::PathBuf;
use std::sync::Arc;

use super::incoming::{Incoming, Landed, NewFolders};
use super::multipart::{self, Event, MultipartError, Parser};
use super::refusal::Refusal;
use super::target::{self, Role};
use crate::handlers::{BodySink, Site, Started};
use crate::http::request::Request;
use crate::http::response::Response;

/// Longest `mkdir` field value: a path of new folders.
const MAX_FIELD_BYTES: usize = 4096;

/// The name of the field that asks for a new folder.
const MKDIR_FIELD: &str = "mkdir";

/// A form being received.
struct Form {
    site: Arc<Site>,
    parser: Parser,
    /// The folder posted to, below the root.
    base: PathBuf,
    replace: bool,
    part: Part,
    /// What was made, one line each, for the answer.
    saved: Vec<String>,
    /// The folder's URL, where a browser is sent back to.
    location: String,
    navigates: bool,
}

/// The part being read.
enum Part {
    /// Between parts, or in one that is ignored.
    Ignored,
    /// A file on its way.
    File { incoming: Incoming, place: target::Place, shown: String },
    /// The `mkdir` field's value so far.
    Mkdir(Vec<u8>),
}

impl From<MultipartError> for Refusal {
    fn from(error: MultipartError) -> Refusal {
        Refusal::new(400, error.to_string())
    }
}

/// Starts a `POST` to the folder `target`.
pub fn start(request: &Request, target: &str, site: &Arc<Site>) -> Result<Started, Refusal> {
    let content_type = request.header("content-type").unwrap_or("");
    let boundary = match multipart::boundary_of(content_type) {
        Some(Ok(boundary)) => boundary,
        Some(Err(e)) => return Err(e.into()),
        None => return Err(Refusal::new(415, "a POST to a folder takes multipart/form-data (a form with files)")),
    };
    let base = target::folder(target, Role::New)?;
    if site.is_hidden(&base) {
        return Err(Refusal::new(404, format!("{target:?} is hidden")));
    }
    // The folder must exist: a form is posted from its listing.
    let folder = site.root.open_folder(&base).map_err(|e| Refusal::io(e, "cannot open the folder"))?;
    super::check_room(&folder, super::content_length(request))?;
    let replace = crate::handlers::listing::param(request.query(), "overwrite") == Some("1");
    Ok(Started::Read(Box::new(Form {
        site: Arc::clone(site),
        parser: Parser::new(boundary),
        base,
        replace,
        part: Part::Ignored,
        saved: Vec::new(),
        location: request.path().to_string(),
        navigates: request.header("sec-fetch-mode").is_some_and(|mode| mode.eq_ignore_ascii_case("navigate")),
    })))
}

impl BodySink for Form {
    fn write(&mut self, piece: &[u8]) -> Result<(), Response> {
        let Form { parser, part, site, base, replace, saved, .. } = self;
        parser
            .feed(piece, |event| match event {
                Event::Part(head) => {
                    *part = begin(head, site, base)?;
                    Ok(())
                }
                Event::Data(data) => match part {
                    Part::File { incoming, .. } => incoming.write(data),
                    Part::Mkdir(value) if value.len() + data.len() <= MAX_FIELD_BYTES => {
                        value.extend_from_slice(data);
                        Ok(())
                    }
                    Part::Mkdir(_) => Err(Refusal::new(400, "the mkdir field is too long")),
                    Part::Ignored => Ok(()),
                },
                Event::PartEnd => {
                    if let Some(line) = end(std::mem::replace(part, Part::Ignored), site, base, *replace)? {
                        saved.push(line);
                    }
                    Ok(())
                }
            })
            .map_err(|refusal: Refusal| refusal.response())
    }

    fn finish(self: Box<Self>) -> Response {
        if let Err(e) = self.parser.finish() {
            return Refusal::from(e).response();
        }
        if self.saved.is_empty() {
            return Refusal::new(400, "the form holds no file and no folder to make").response();
        }
        for line in &self.saved {
            log::info!("upload: {}{line}", self.location);
        }
        if self.navigates {
            // The browser's own form: back to the listing, which shows them.
            return Response::new(303).header("Location", self.location);
        }
        let mut text = self.saved.join("\n");
        text.push('\n');
        Response::page(201, "text/plain; charset=utf-8", text.into_bytes())
    }
}

/// What to do with a part, from its head.
fn begin(head: multipart::PartHead, site: &Site, base: &std::path::Path) -> Result<Part, Refusal> {
    match head.filename {
        // A file input left empty sends a part with an empty name.
        Some(name) if name.is_empty() => Ok(Part::Ignored),
        Some(name) => {
            let place = target::place_in(base, &name)?;
            if site.is_hidden(&place.path()) {
                return Err(Refusal::new(404, format!("{name:?} is hidden")));
            }
            let (folder, made) =
                site.root.make_folders(&place.folder).map_err(|e| Refusal::io(e, "cannot open or make the folder"))?;
            let incoming = Incoming::create(folder, NewFolders::new(made), None, site.options.max_upload_bytes)?;
            Ok(Part::File { incoming, place, shown: name })
        }
        None if head.name == MKDIR_FIELD => Ok(Part::Mkdir(Vec::new())),
        None => Ok(Part::Ignored),
    }
}

/// Lands what a part carried; the line that says so.
fn end(part: Part, site: &Site, base: &std::path::Path, replace: bool) -> Result<Option<String>, Refusal> {
    match part {
        Part::Ignored => Ok(None),
        Part::File { incoming, place, shown } => {
            let bytes = incoming.written();
            let verb = match incoming.commit(&place.name, replace)? {
                Landed::Created => "created",
                Landed::Replaced => "replaced",
            };
            Ok(Some(format!("{shown}: {verb}, {bytes} bytes")))
        }
        Part::Mkdir(value) => {
            let value = String::from_utf8(value).map_err(|_| Refusal::bad_name("(not UTF-8)"))?;
            let name = value.trim().trim_end_matches('/');
            if name.is_empty() {
                return Ok(None);
            }
            let place = target::place_in(base, name)?;
            if site.is_hidden(&place.path()) {
                return Err(Refusal::new(404, format!("{name:?} is hidden")));
            }
            let (_, made) =
                site.root.make_folders(&place.path()).map_err(|e| Refusal::io(e, "cannot make the folder"))?;
            // Made on purpose: kept.
            let verb = if made.is_empty() { "exists" } else { "created" };
            Ok(Some(format!("{name}/: {verb}")))
        }
    }
}
