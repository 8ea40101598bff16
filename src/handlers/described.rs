//! A file representation as the file handlers answer it, rendered once:
//! its validators and header lines. `files` makes one per representation
//! it reads; the file cache and the compressed cache keep it beside the
//! bytes, so a hit renders nothing. Below all three, so that neither cache
//! imports the other for it.

use std::sync::Arc;
use std::time::SystemTime;

use crate::http::rendered::{Part, RenderedFields};

/// A representation's validators and header lines, rendered once by
/// `files` and kept with the bytes, so a hit renders nothing.
#[derive(Debug, Clone)]
pub struct Described {
    /// `None` for a racy file: no validator, nothing to confirm later.
    pub etag: Option<Arc<str>>,
    /// `None` for a racy file, or a time no HTTP date can express.
    pub last_modified: Option<SystemTime>,
    /// The representation's `Content-Type` (multipart parts repeat it).
    pub content_type: Arc<str>,
    /// Header fields, validators first (`ETag`, `Last-Modified`,
    /// `Cache-Control`, `Vary`, then `--header` and CORS fields), then
    /// content metadata (`Content-Type`, `Content-Encoding`,
    /// `Accept-Ranges`). A 304 sends only the first part.
    pub headers: Arc<RenderedFields>,
}

impl Described {
    pub fn all_headers(&self) -> Option<(Arc<RenderedFields>, Part)> {
        Some((Arc::clone(&self.headers), Part::All))
    }

    pub fn validator_headers(&self) -> Option<(Arc<RenderedFields>, Part)> {
        Some((Arc::clone(&self.headers), Part::Validators))
    }
}
