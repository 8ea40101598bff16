//! How a connection's bytes move: one small interface (read into a buffer,
//! write bytes with a "more follows" hint, send a file range, shut the
//! writing side) over the kinds of stream rawserve speaks. Today that is
//! plain TCP, through [`crate::sys::net`]; the connection state machine
//! never names a socket call itself.
//!
//! # Adding TLS
//!
//! TLS is a second variant, `Transport::Tls { stream, session:
//! rustls::ServerConnection }`, not a fork of the state machine. rustls is
//! sans-I/O, which fits the non-blocking loop: `read` pulls ciphertext from
//! the socket into the session (`read_tls`, `process_new_packets`) and hands
//! back whatever plaintext it yields (an empty slice with `WouldBlock` while
//! a handshake or record is incomplete); `write` feeds plaintext to the
//! session (`writer().write`) and flushes ciphertext with `write_tls` until
//! the socket would block, reporting only the plaintext it accepted. The
//! "more" hint can still become `MSG_MORE` on the ciphertext. File bodies
//! cannot use `sendfile` (the kernel would send plaintext): `send_file`
//! must `pread` a bounded chunk (like the portable path in `sys::net`),
//! encrypt it through the session and report the plaintext bytes consumed,
//! so the connection's progress and timeouts stay the same. `shutdown_write`
//! sends `close_notify` first. Pending ciphertext must also count as
//! "not yet sent", so a variant keeps its own small out-buffer and `write`
//! returns `WouldBlock` until it drains. This module leaves framing,
//! persistence and timing to `connection`.

use std::fs::File;
use std::io;
use std::mem::MaybeUninit;
use std::net::Shutdown;

use mio::net::TcpStream;

use crate::sys::net;

/// A connection's byte stream.
pub enum Transport {
    /// Plain TCP.
    Plain(TcpStream),
}

impl Transport {
    /// Whether a read that filled less than asked for means nothing more is
    /// waiting (so an edge-triggered reader may stop without a `WouldBlock`).
    pub const SHORT_READ_MEANS_DRAINED: bool = net::SHORT_READ_MEANS_DRAINED;

    /// Wraps an accepted socket, doing its per-socket set-up.
    pub fn plain(stream: TcpStream) -> io::Result<Transport> {
        net::prepare_accepted(&stream)?;
        Ok(Transport::Plain(stream))
    }

    /// Reads what is available into `buffer`; empty at end of stream.
    pub fn read<'a>(&mut self, buffer: &'a mut [MaybeUninit<u8>]) -> io::Result<&'a [u8]> {
        match self {
            Transport::Plain(stream) => net::recv(&*stream, buffer),
        }
    }

    /// Writes a prefix of `bytes`; `more`: more bytes follow soon (a body,
    /// or the end of the connection), so a partial segment may wait for them.
    pub fn write(&mut self, bytes: &[u8], more: bool) -> io::Result<usize> {
        match self {
            Transport::Plain(stream) => net::send(&*stream, bytes, more),
        }
    }

    /// Sends up to `count` bytes of `file` from `*offset`, advancing it;
    /// returns the bytes sent, 0 when the file ended early.
    pub fn send_file(&mut self, file: &File, offset: &mut u64, count: usize) -> io::Result<usize> {
        match self {
            Transport::Plain(stream) => net::send_file(&*stream, file, offset, count),
        }
    }

    /// Ends our sending side (FIN), keeping the reading side open.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(stream) => stream.shutdown(Shutdown::Write),
        }
    }

    /// Joins `registry`'s poll set (edge-triggered).
    pub fn register(&mut self, registry: &mio::Registry, token: mio::Token, interest: mio::Interest) -> io::Result<()> {
        match self {
            Transport::Plain(stream) => registry.register(stream, token, interest),
        }
    }
}
