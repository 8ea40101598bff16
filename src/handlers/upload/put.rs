//! `PUT`: the body is the file (`curl -T file URL`). Missing folders on
//! the way are made (as nginx's `create_full_put_path` and dufs do, so a
//! tree can be uploaded file by file); an existing file is replaced
//! (RFC 9110 §9.3.4), unless the request says `If-None-Match: *`, which
//! then answers 412 (RFC 9110 §13.1.2: create only). The answer is 201
//! for a new file and 204 for a replaced one. Everything that can be
//! refused from the head alone (the name, the size against
//! `--max-upload-bytes` and the free space, a folder in the way) is
//! refused before the body is read, so a client that sent
//! `Expect: 100-continue` never sends it.

use std::ffi::OsString;
use std::sync::Arc;

use super::incoming::{Incoming, Landed, NewFolders};
use super::refusal::Refusal;
use super::target::{self, Role};
use crate::handlers::{BodySink, Site, Started};
use crate::http::request::Request;
use crate::http::response::Response;
use crate::sys::fs::Existing;

/// A `PUT` body on its way to its file.
struct Put {
    incoming: Incoming,
    name: OsString,
    replace: bool,
    location: String,
}

/// Starts a `PUT` of `target` (the request path below the route's prefix).
pub fn start(request: &Request, target: &str, site: &Arc<Site>) -> Result<Started, Refusal> {
    if target.ends_with('/') {
        return Err(Refusal::new(409, "a PUT names a file, not a folder (use MKCOL for a folder)"));
    }
    let place = target::place(target, Role::New)?;
    if site.is_hidden(&place.path()) {
        return Err(Refusal::new(404, format!("{target:?} is hidden")));
    }
    let expected = super::content_length(request);
    if let (Some(expected), Some(limit)) = (expected, site.options.max_upload_bytes) {
        if expected > limit {
            return Err(Refusal::too_large(limit));
        }
    }
    let (folder, made) =
        site.root.make_folders(&place.folder).map_err(|e| Refusal::io(e, "cannot open or make the folder"))?;
    // Removed again if anything below refuses the upload.
    let made = NewFolders::new(made);
    // If-None-Match: * asks to create only (RFC 9110 §13.1.2).
    let replace = request.header("if-none-match").is_none_or(|v| v.trim() != "*");
    match folder.existing(&place.name) {
        Ok(Existing::Nothing) => {}
        Ok(Existing::File) if replace => {}
        Ok(Existing::File) => return Err(Refusal::new(412, "the file exists (If-None-Match: *)")),
        Ok(Existing::Folder) => return Err(Refusal::conflict(&place.name, "is a folder")),
        Ok(Existing::Other) => return Err(Refusal::conflict(&place.name, "is a link or a special file")),
        Err(e) => return Err(Refusal::io(e, "cannot look at the target")),
    }
    super::check_room(&folder, expected)?;
    let incoming = Incoming::create(folder, made, expected, site.options.max_upload_bytes)?;
    let location = request.path().to_string();
    Ok(Started::Read(Box::new(Put { incoming, name: place.name, replace, location })))
}

impl BodySink for Put {
    fn write(&mut self, piece: &[u8]) -> Result<(), Response> {
        self.incoming.write(piece).map_err(|refusal| refusal.response())
    }

    fn finish(self: Box<Self>) -> Response {
        let Put { incoming, name, replace, location } = *self;
        let bytes = incoming.written();
        match incoming.commit(&name, replace) {
            Ok(Landed::Created) => {
                log::info!("upload: {location} created ({bytes} bytes)");
                Response::new(201).header("Location", location)
            }
            Ok(Landed::Replaced) => {
                log::info!("upload: {location} replaced ({bytes} bytes)");
                Response::new(204)
            }
            Err(refusal) => refusal.response(),
        }
    }
}
