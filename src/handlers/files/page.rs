//! HTML files served with live reload on (`FileOptions::live_reload`):
//! read whole, the script put in (`live::page::inject`), and from there
//! answered as any file read whole. The injected bytes are the
//! representation: its content `ETag` is their digest (so it differs from
//! the plain file's), `Content-Length` their length, ranges are cut from
//! them (an `If-Range` with that tag then matches exactly these bytes),
//! and they are what the caches keep, compressed or not. The flag is fixed
//! for the folder's life, so a cache never holds plain and injected bytes
//! of one file. Precompressed siblings (`page.html.br`) are not used for
//! HTML while it is on (`Offer::of`): their bytes have no script; the
//! page is compressed here instead.

use std::borrow::Cow;
use std::fs::{File, Metadata};
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use super::answer::{answer, describe, Source};
use super::choice::{Choice, Offer};
use crate::handlers::cache::FileCache;
use crate::handlers::compress::{self, Levels};
use crate::handlers::live::{self, MAX_PAGE_BYTES};
use crate::handlers::validators::Validity;
use crate::handlers::{content_type, Site};
use crate::http::encoding::Coding;
use crate::http::request::Request;
use crate::http::response::{Body, Response};
use crate::sys::fs::read_len;

/// Whether the file of type `mime` is a page that gets the script.
pub fn injects(mime: &str, site: &Site) -> bool {
    site.live.is_some() && live::is_html(mime)
}

/// Answers the HTML file at `path` (open as `file`, `meta`) with the
/// script put in, as `offer` allows; `None` when it is too large or cannot
/// be read whole, and is sent as it is.
pub fn serve(
    request: &Request,
    path: &Path,
    (file, meta): (&File, &Metadata),
    read_at: SystemTime,
    offer: &Offer,
    site: &Site,
    cache: &mut FileCache,
) -> Option<Response> {
    if meta.len() > MAX_PAGE_BYTES {
        return None;
    }
    let page = live::page::inject(&read_len(file, meta.len() as usize).ok()?);
    let options = &site.options;
    // Picked for the injected size; a page too large to compress whole and
    // keep goes uncompressed (the stream compresses files, not bytes).
    let Some(mut choice) = offer.pick(path, Some(page.len() as u64), options) else {
        return Some(Response::error(406).header("Vary", "Accept-Encoding"));
    };
    if choice.on_the_fly() && page.len() as u64 > options.compress_max_file {
        choice = Choice { original: path, coding: Coding::Identity, sibling: None, varies: choice.varies };
    }
    let utf8 = content_type::needs_utf8_check(offer.mime) && content_type::is_utf8(&page, false);
    let validity = Validity::of(meta, Some(&page), read_at, options.racy_window);
    let described = describe(meta, &validity, (path, offer.mime), &choice, true, utf8, site);
    if choice.coding == Coding::Identity {
        let body: Arc<[u8]> = page.into();
        if validity.dated && cache.worth_caching(path, body.len() as u64) {
            cache.insert(path.to_path_buf(), meta, Arc::clone(&body), described.clone());
        }
        return Some(answer(request, &described, Source::Kept(body), site));
    }
    let levels = Levels::of(options.compress.unwrap_or(compress::DEFAULT_LEVEL));
    let body: Arc<[u8]> = match compress::compress(&page, choice.coding, levels) {
        Ok(packed) => packed.into(),
        Err(e) => {
            log::warn!("cannot compress {}: {e}", path.display());
            return Some(Response::error(500));
        }
    };
    if validity.dated {
        cache.keep_compressed(&site.root, path, meta, choice.coding, Arc::clone(&body), described.clone());
    }
    Some(answer(request, &described, Source::Kept(body), site))
}

/// The folder's `404.html` (of type `mime`, open as `file`) with the
/// script put in; `None` when it does not get one.
pub fn not_found(file: &File, meta: &Metadata, mime: &str, site: &Site) -> Option<Response> {
    if !injects(mime, site) || meta.len() > MAX_PAGE_BYTES {
        return None;
    }
    let page = live::page::inject(&read_len(file, meta.len() as usize).ok()?);
    let content_type = content_type::content_type(mime, content_type::is_utf8(&page, false)).into_owned();
    Some(Response::new(404).header("Content-Type", content_type).body(Body::Bytes(Cow::Owned(page))))
}
