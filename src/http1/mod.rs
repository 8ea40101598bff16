//! HTTP/1.x framing, apart from what requests mean: parsing heads
//! (`parse`), decoding request bodies (`body`), deciding each exchange and
//! the connection's persistence (`exchange`), and encoding responses
//! (`encode`). All of it is I/O-free and unit-tested; `connection`
//! performs what it decides over a transport, and the version-independent
//! `service` answers the requests.
//!
//! Data flows one way: bytes → `parse` → `exchange` → `service` → a
//! `Response` → `encode` → bytes. Nothing here opens a file or touches a
//! socket.

pub mod body;
pub mod encode;
pub mod exchange;
pub mod parse;
