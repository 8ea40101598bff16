//! What the fuzz targets in `fuzz/` reach, compiled only under
//! `cfg(fuzzing)` (which cargo-fuzz sets): the request parser and path
//! resolution, the confined opening of files, and read access to the request facts the public API keeps
//! to the crate. Nothing here is part of the library's API.

pub use crate::config::MAX_HEADERS;
pub use crate::exchange::harness::{Harness, Step};
pub use crate::http::request::{as_http11, parse, BodyLength, Method, Request, RequestError, Version};
pub use crate::proxy::{forwarded_client, parse_header as parse_proxy_header, Cidr, ProxyHeader};
pub use crate::safe_path::{resolve, PathError};
pub use crate::sys::fs::{Confinement, Node, Root};

impl Request<'_> {
    /// The method as the server tells it apart.
    pub fn method_kind(&self) -> Method {
        self.method
    }

    /// Bytes of the head, including the final blank line.
    pub fn head_len(&self) -> usize {
        self.head_len
    }

    /// How the body is framed.
    pub fn framing(&self) -> BodyLength {
        self.body
    }

    /// Whether the client allows the connection to stay open.
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }
}
