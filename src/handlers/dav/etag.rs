//! The `ETag` a `GET` of a file sends, made again for WebDAV (`getetag`,
//! and entity tags in the `If` field): `validators::Validity` over the
//! bytes of a file small enough for `GET` to read whole (the small-file
//! cache's own test), over its metadata otherwise, so both always agree.

use std::fs::{File, Metadata};
use std::path::Path;
use std::time::SystemTime;

use crate::handlers::validators::{content_etag, Validity};
use crate::handlers::Site;
use crate::sys::fs::{read_len, Node};

/// Whether GET would read a file of `len` bytes whole (and tag it by its
/// bytes): the small-file cache's own test (`FileCache::admits`).
fn read_whole(site: &Site, len: u64) -> bool {
    len <= site.options.cache_max_file && site.options.cache_bytes > 0
}

/// The `ETag` a `GET` of the file `path` sends now; `None` for a folder,
/// or a file that has none.
pub fn etag_of(site: &Site, path: &Path) -> Option<String> {
    match site.root.open_node(path).ok()? {
        Node::File(file, meta) => etag_of_file(site, &file, &meta),
        Node::Directory(_) => None,
    }
}

/// The `ETag` of the open file `file` (whose metadata is `meta`), as
/// `GET` sends it now.
pub fn etag_of_file(site: &Site, file: &File, meta: &Metadata) -> Option<String> {
    if read_whole(site, meta.len()) {
        return read_len(file, meta.len() as usize).ok().map(|bytes| content_etag(&bytes));
    }
    Validity::of(meta, None, SystemTime::now(), site.options.racy_window).etag
}
