//! Ciphertext on its way out: the records a rustls session has queued,
//! written to the socket in one `sendmsg` each time (with the connection's
//! "more follows" hint), until none is left or the socket is full. Used by
//! `stream` (responses, handshakes) and `incoming` (a handshake answered
//! while records arrive); what to write is theirs.

use std::io::{self, IoSlice, Write};

use mio::net::TcpStream;
use rustls::ServerConnection;

use crate::sys::net;

/// Writes the session's pending ciphertext until none is left (`Ok`) or
/// the socket would block (`WouldBlock`).
pub(super) fn flush_session(session: &mut ServerConnection, stream: &TcpStream, more: bool) -> io::Result<()> {
    while session.wants_write() {
        if session.write_tls(&mut SocketWriter { stream, more })? == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
    }
    Ok(())
}

/// The socket as rustls's `write_tls` sink: the records it has queued go
/// out in one `sendmsg`, with the connection's "more follows" hint.
struct SocketWriter<'a> {
    stream: &'a TcpStream,
    more: bool,
}

impl Write for SocketWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        net::send(self.stream, bytes, self.more)
    }

    fn write_vectored(&mut self, slices: &[IoSlice<'_>]) -> io::Result<usize> {
        net::send_vectored(self.stream, slices, self.more)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
