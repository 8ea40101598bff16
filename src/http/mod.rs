//! HTTP's version-independent semantics: the request and response types,
//! preconditions, ranges, content codings, dates. No framing (that is
//! `http1`'s), no sockets, no files.

pub mod date;
pub mod encoding;
pub mod field;
pub mod precondition;
pub mod range;
pub mod rendered;
pub mod request;
pub mod response;
pub mod syntax;

pub use ::http::{Method, StatusCode, Version};
