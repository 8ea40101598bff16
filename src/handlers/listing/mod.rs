//! Directory listings: turning a directory's entries into a page people
//! would choose (as miniserve's and Caddy's browse pages), or into JSON.
//!
//! This module owns what a listing shows and how, in parts that each do
//! one job: [`view`] reads what a request asks for (`?sort=name|size|date&
//! order=asc|desc`, `?format=json` or `Accept: application/json`); [`sort`]
//! orders the entries as they are read (folders first, names in natural
//! order); [`page`] renders them a slice at a time, as [`html`] (links
//! built from the raw name bytes, so a non-UTF-8 name is reachable, names
//! shown lossily but escaped, breadcrumbs, sort and download forms, sizes
//! in KiB/MiB) or [`json`] (Caddy's browse items), both writing their
//! numbers and dates with [`cells`]; [`policy`] holds the page's inline
//! style and script (`listing.css`, `listing.js`, real files beside this
//! one) and the Content-Security-Policy that allows exactly them, its
//! hashes computed when the crate is compiled; [`upload`] adds the
//! upload, new-folder, rename and delete controls (`upload.css`,
//! `upload.js`) when the folder takes writes. Reading the directory,
//! deciding what is listed at all, validators and slicing the work are
//! `directory`'s.

use std::time::SystemTime;

mod cells;
#[cfg(test)]
mod fixtures;
mod html;
mod json;
mod page;
pub(crate) mod policy;
mod sort;
mod upload;
mod view;

pub use html::HTML_TYPE;
pub use json::JSON_TYPE;
pub use page::Page;
pub use policy::CONTENT_SECURITY_POLICY;
pub use sort::Sorted;
pub use upload::Writes;
pub use view::{param, Format, View};

/// One directory entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The file name's raw bytes; may be any bytes but `/` and NUL.
    pub name: Vec<u8>,
    pub is_dir: bool,
    pub size: u64,
    pub modified: Option<SystemTime>,
}
