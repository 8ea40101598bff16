//! What the fuzz targets in `fuzz/` reach, compiled only under
//! `cfg(fuzzing)` (which cargo-fuzz sets): the request parser and body
//! decoder, the uploads' multipart parser, WebDAV's XML and `If` field,
//! path resolution, the confined opening of files, a real connection over
//! an in-memory client, and the HTTP/2 session and HPACK decoder. Nothing here is part of the
//! library's API.

pub use crate::config::MAX_HEADERS;
pub use crate::connection::harness::{Client, Harness, Step};
pub use crate::handlers::dav::condition::{If, State as IfState};
pub use crate::handlers::dav::xml::{parse as parse_xml, Element as XmlElement};
pub use crate::handlers::upload::multipart::{Event as MultipartEvent, MultipartError, Parser as MultipartParser};
pub use crate::http1::body::{BodyDecoder, BodyError, Limits, Piece};
pub use crate::http1::parse::{as_http11, parse, BodyLength, Expectation, FieldSlots, Head, RequestError};
pub use crate::http2::{hpack, Event as Http2Event, Session as Http2Session, PREFACE as HTTP2_PREFACE};
pub use crate::proxy::{forwarded_client, parse_header as parse_proxy_header, Cidr, ProxyHeader};
pub use crate::safe_path::{resolve, PathError};
pub use crate::sys::fs::{Confinement, Node, Root};
