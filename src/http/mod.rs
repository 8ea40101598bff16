//! The HTTP/1.1 message layer: requests in, responses out. No sockets, no files.

pub mod date;
pub mod encoding;
pub mod field;
pub mod precondition;
pub mod range;
pub mod request;
pub mod response;
pub mod syntax;
