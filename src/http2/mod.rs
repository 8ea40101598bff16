//! HTTP/2 (RFC 9113) without I/O: frames (`frame`), header compression
//! (`hpack`, with the Huffman code in `huffman`), request heads
//! (`head`), RFC 9218 priorities (`priority`), the connection and its
//! streams with flow control and the scheduler (`session`), and every
//! limit in one file (`limits`).
//!
//! The connection state machine (`connection::http2`) drives a
//! [`Session`] over the same `Transport` as HTTP/1 and asks the same
//! version-independent `service` for each stream's response; nothing here
//! reads a socket, opens a file or knows what a request means.

pub mod frame;
pub mod head;
pub mod hpack;
mod huffman;
pub mod limits;
pub mod priority;
pub mod session;

pub use frame::PREFACE;
pub use session::{Event, Session};

/// The preface's first line, which no HTTP/1 request has: once it is
/// here the connection is HTTP/2, and a preface wrong after it is the
/// session's `PROTOCOL_ERROR` (not HTTP/1's 505).
const PREFACE_LINE: usize = 16;

/// Whether `input`, the first bytes of a connection, opens HTTP/2:
/// `Some(true)` its first line is the preface's, `Some(false)` it may be
/// (not all here yet), `None` not HTTP/2.
pub fn preface(input: &[u8]) -> Option<bool> {
    let n = input.len().min(PREFACE_LINE);
    (input[..n] == PREFACE[..n]).then_some(n == PREFACE_LINE)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_preface_is_told_from_http1() {
        let cases: [(&[u8], Option<bool>); 6] = [
            (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Some(true)),
            (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04", Some(true)),
            (b"PRI * HT", Some(false)),
            (b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", Some(true)),
            (b"GET / HTTP/1.1\r\n", None),
            (b"PRI * HTTP/1.1\r\n", None),
        ];
        for (input, want) in cases {
            assert_eq!(super::preface(input), want, "{input:?}");
        }
    }
}
