//! Answering a chosen representation: its validators and header lines
//! rendered once ([`describe`], kept by the caches with the bytes), then
//! the request's preconditions and ranges applied in RFC 9110's order
//! ([`answer`]) to make the response, whose body is bytes in memory, an
//! open file for `sendfile`, or a compressing stream. Which representation
//! it is was decided by `choice`.

use std::borrow::Cow;
use std::fs::{File, Metadata};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use super::choice::Choice;
use crate::handlers::compress::{self, Streamed};
use crate::handlers::content_type;
use crate::handlers::described::Described;
use crate::handlers::validators::Validity;
use crate::handlers::Site;
use crate::http::date;
use crate::http::encoding::Coding;
use crate::http::precondition::{self, Conditions, Precondition, Validators};
use crate::http::range::{self, RangeOutcome};
use crate::http::rendered::RenderedFields;
use crate::http::request::Request;
use crate::http::response::{write_field, Body, Chunk, Response};

/// Renders a representation's validators (as `validity` allows, see
/// `validators`) and header lines. `ranges`: the representation answers
/// `Range` (not a stream); `utf8`: the original's bytes are UTF-8, so a
/// text type states that charset.
pub fn describe(
    meta: &Metadata,
    validity: &Validity,
    (original, mime): (&Path, &str),
    choice: &Choice,
    ranges: bool,
    utf8: bool,
    site: &Site,
) -> Described {
    let etag = validity.etag.clone().map(|base| compress::coded_etag(base, choice.coding));
    let modified = if validity.dated { meta.modified().ok() } else { None };
    let http_date = modified.and_then(date::format);
    // A time no HTTP date can express is no validator either.
    let last_modified = modified.filter(|_| http_date.is_some());
    let content_type = content_type::content_type(mime, utf8).into_owned();
    let mut headers = Vec::with_capacity(256);
    if let Some(etag) = &etag {
        write_field(&mut headers, "ETag", etag);
    }
    if let Some(http_date) = &http_date {
        write_field(&mut headers, "Last-Modified", http_date);
    }
    write_field(&mut headers, "Cache-Control", site.headers.cache_control(original));
    if choice.varies {
        write_field(&mut headers, "Vary", "Accept-Encoding");
    }
    // `--header` and CORS fields, before `content_at` so a 304 has them too.
    site.headers.write_fields(&mut headers, site.live.is_some() && crate::handlers::live::is_html(mime));
    let content_at = headers.len();
    write_field(&mut headers, "Content-Type", &content_type);
    if choice.coding != Coding::Identity {
        write_field(&mut headers, "Content-Encoding", choice.coding.token());
    }
    if ranges {
        write_field(&mut headers, "Accept-Ranges", "bytes");
    }
    Described {
        etag: etag.map(Into::into),
        last_modified,
        content_type: content_type.into(),
        headers: Arc::new(RenderedFields::new(headers, content_at)),
    }
}

/// Where the body comes from.
pub enum Source {
    /// Bytes already in memory; only used when there is no `Range`.
    Whole(Body),
    /// Bytes in memory (cached, read whole, or compressed and kept);
    /// ranges apply to them.
    Kept(Arc<[u8]>),
    /// An open file of the given length.
    File(File, u64),
    /// An open file compressed as it is sent; a `Range` is ignored.
    Stream(Box<Streamed>),
}

/// Applies the request's preconditions and ranges (RFC 9110 §13.2.2, §14)
/// to a described representation.
pub fn answer(request: &Request, described: &Described, source: Source, site: &Site) -> Response {
    let validators = Validators { etag: described.etag.as_deref(), last_modified: described.last_modified };
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
            let mut response = Response::new(304);
            response.raw_headers = described.validator_headers();
            return response;
        }
        Precondition::Failed => return Response::error(412),
    }
    let mut response = Response::new(200);
    response.raw_headers = described.all_headers();
    let (pieces, len) = match source {
        Source::Whole(body) => return response.body(body),
        Source::Stream(body) => return response.body(Body::Stream(body)),
        Source::Kept(bytes) if request.header("range").is_none() => return response.body(Body::Shared(bytes)),
        Source::Kept(bytes) => {
            let len = bytes.len() as u64;
            (Pieces::Kept(bytes), len)
        }
        Source::File(file, len) => (Pieces::File(file), len),
    };
    let ranges = match request.header("range") {
        Some(header) if precondition::if_range_allows(conditions.if_range, &validators) => {
            range::parse(header, len, site.options.max_ranges)
        }
        _ => RangeOutcome::Full,
    };
    match ranges {
        RangeOutcome::Full => response.body(pieces.body(vec![Chunk::Range { offset: 0, len }])),
        RangeOutcome::Single(r) => {
            response.status = 206;
            response
                .header("Content-Range", r.content_range(len))
                .body(pieces.body(vec![Chunk::Range { offset: r.start, len: r.len() }]))
        }
        RangeOutcome::Multiple(ranges) => {
            // The parts carry the representation's type; the response's is
            // multipart, so only the validator lines are kept.
            response.raw_headers = described.validator_headers();
            let parts = range::multipart(&ranges, len, &described.content_type, &boundary());
            let mut chunks = Vec::with_capacity(ranges.len() * 2 + 1);
            for (head, r) in parts.part_heads.iter().zip(&ranges) {
                chunks.push(Chunk::Bytes(head.clone()));
                chunks.push(Chunk::Range { offset: r.start, len: r.len() });
            }
            chunks.push(Chunk::Bytes(parts.trailer.clone()));
            response.status = 206;
            response
                .header("Content-Type", parts.content_type())
                .header("Accept-Ranges", "bytes")
                .body(pieces.body(chunks))
        }
        RangeOutcome::Unsatisfiable => Response::error(416)
            .header("Content-Range", range::unsatisfied_content_range(len))
            .header("Accept-Ranges", "bytes"),
    }
}

/// What the ranges of a body are cut from.
enum Pieces {
    /// An open file: the pieces are sent with `sendfile`.
    File(File),
    /// Kept compressed bytes: the pieces are copied out.
    Kept(Arc<[u8]>),
}

impl Pieces {
    fn body(self, chunks: Vec<Chunk>) -> Body {
        match self {
            Pieces::File(file) => Body::File { file, chunks },
            Pieces::Kept(bytes) => {
                let mut out = Vec::new();
                for chunk in chunks {
                    match chunk {
                        Chunk::Bytes(head) => out.extend_from_slice(&head),
                        // OK: the ranges were parsed against `bytes.len()`.
                        Chunk::Range { offset, len } => {
                            out.extend_from_slice(&bytes[offset as usize..][..len as usize])
                        }
                        Chunk::Stream { .. } => {}
                    }
                }
                Body::Bytes(Cow::Owned(out))
            }
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
