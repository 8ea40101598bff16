//! How a connection's bytes move: one small interface (read into a buffer,
//! write bytes with a "more follows" hint, send a file range, shut the
//! writing side) over the kinds of stream rawserve speaks. Today that is
//! plain TCP, through [`crate::sys::net`]; the connection state machine
//! never names a socket call itself.
//!
//! # TLS
//!
//! TLS is the second variant, not a fork of the state machine: a
//! [`TlsStream`] drives a rustls session through its sans-I/O calls, so
//! `read` hands back plaintext (`WouldBlock` while a handshake or record is
//! incomplete), `write` and `send_file` take plaintext and send ciphertext
//! (a file in bounded `pread` chunks: `sendfile` cannot encrypt), and
//! [`Transport::flush`] reports ciphertext the socket has not taken yet as
//! not sent. A TLS port also recognises plain HTTP by its first byte
//! ([`Transport::is_plain_on_tls_port`]), for the exchange's redirect.
//! This module leaves framing, persistence and timing to `connection`.

use std::fs::File;
use std::io;
use std::mem::MaybeUninit;
use std::net::Shutdown;
use std::sync::Arc;

use mio::net::TcpStream;

use crate::budget::MemoryBudget;
use crate::sys::net;
use crate::tls::stream::TlsStream;
use crate::tls::Tls;

/// A connection's byte stream.
pub enum Transport {
    /// Plain TCP.
    Plain(TcpStream),
    /// A connection to an HTTPS port (boxed: a session is large, and
    /// plain connections should not pay for its size).
    Tls(Box<TlsStream>),
    /// A client played by a test or the fuzzer: bytes in, bytes out,
    /// in memory.
    #[cfg(any(test, fuzzing))]
    Fake(Box<fake::FakeStream>),
}

impl Transport {
    /// Wraps an accepted socket, doing its per-socket set-up; over TLS
    /// when the server has `tls` settings, its records in progress charged
    /// to `budget` (plain TCP holds nothing of its own).
    pub fn accepted(
        stream: TcpStream,
        tls: Option<&Tls>,
        http1_only: bool,
        budget: &Arc<MemoryBudget>,
    ) -> io::Result<Transport> {
        net::prepare_accepted(&stream)?;
        Ok(match tls {
            None => Transport::Plain(stream),
            Some(tls) => Transport::Tls(Box::new(TlsStream::new(
                stream,
                tls.server_config(http1_only).clone(),
                Arc::clone(budget),
            ))),
        })
    }

    /// Whether a [`Transport::read_raw`] that filled less than asked for
    /// means nothing more is waiting in the socket.
    pub const SHORT_READ_MEANS_DRAINED: bool = net::SHORT_READ_MEANS_DRAINED;

    /// Whether a read that filled less than asked for means nothing more is
    /// waiting (so an edge-triggered reader may stop without a `WouldBlock`).
    pub fn short_read_means_drained(&self) -> bool {
        match self {
            Transport::Plain(_) => net::SHORT_READ_MEANS_DRAINED,
            Transport::Tls(tls) => tls.short_read_means_drained(),
            #[cfg(any(test, fuzzing))]
            Transport::Fake(_) => true,
        }
    }

    /// The TLS handshake chose HTTP/2 by ALPN.
    pub fn chose_h2(&self) -> bool {
        match self {
            Transport::Tls(tls) => tls.chose_h2(),
            _ => false,
        }
    }

    /// Plain HTTP arrived on an HTTPS port: answer with a redirect.
    pub fn is_plain_on_tls_port(&self) -> bool {
        match self {
            Transport::Tls(tls) => tls.is_plain(),
            #[cfg(any(test, fuzzing))]
            Transport::Fake(fake) => fake.plain_on_tls_port,
            Transport::Plain(_) => false,
        }
    }

    /// A TLS handshake has begun and not finished (it runs on the head timer).
    pub fn is_handshaking(&self) -> bool {
        matches!(self, Transport::Tls(tls) if tls.is_handshaking())
    }

    /// Sends output the transport still holds (TLS records the socket did
    /// not take); `WouldBlock` until it has all gone. Plain TCP holds none.
    pub fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(_) => Ok(()),
            Transport::Tls(tls) => tls.flush(),
            #[cfg(any(test, fuzzing))]
            Transport::Fake(_) => Ok(()),
        }
    }

    /// Reads what is available into `buffer`; empty at end of stream.
    pub fn read<'a>(&mut self, buffer: &'a mut [MaybeUninit<u8>]) -> io::Result<&'a [u8]> {
        match self {
            Transport::Plain(stream) => net::recv(&*stream, buffer),
            Transport::Tls(tls) => tls.read(buffer),
            #[cfg(any(test, fuzzing))]
            Transport::Fake(fake) => fake.read(buffer),
        }
    }

    /// Reads what is available, at most `max` bytes, onto the end of `out`
    /// (within its capacity); `None` over TLS, whose reads may have to
    /// answer a handshake and so belong to the connection's own turn.
    pub fn read_ahead(&mut self, out: &mut Vec<u8>, max: usize) -> Option<io::Result<usize>> {
        match self {
            Transport::Plain(stream) => Some(net::recv_append(&*stream, out, max)),
            Transport::Tls(_) => None,
            #[cfg(any(test, fuzzing))]
            Transport::Fake(_) => None,
        }
    }

    /// Reads from the socket itself, under any TLS (a PROXY protocol header
    /// comes before the client's handshake).
    pub fn read_raw<'a>(&mut self, buffer: &'a mut [MaybeUninit<u8>]) -> io::Result<&'a [u8]> {
        match self {
            Transport::Plain(stream) => net::recv(&*stream, buffer),
            Transport::Tls(tls) => tls.read_raw(buffer),
            #[cfg(any(test, fuzzing))]
            Transport::Fake(fake) => fake.read(buffer),
        }
    }

    /// Takes back bytes a raw read took that belong to the stream (over TLS,
    /// the start of the handshake); false for plain TCP, where they are
    /// simply the request and stay with the caller.
    pub fn give_back(&mut self, bytes: &[u8]) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls(tls) => {
                tls.give_back(bytes);
                true
            }
            #[cfg(any(test, fuzzing))]
            Transport::Fake(_) => false,
        }
    }

    /// Writes a prefix of `bytes`; `more`: more bytes follow soon (a body,
    /// or the end of the connection), so a partial segment may wait for them.
    #[inline]
    pub fn write(&mut self, bytes: &[u8], more: bool) -> io::Result<usize> {
        match self {
            Transport::Plain(stream) => net::send(&*stream, bytes, more),
            Transport::Tls(tls) => tls.write(bytes, more),
            #[cfg(any(test, fuzzing))]
            Transport::Fake(fake) => fake.write(bytes),
        }
    }

    /// Sends up to `count` bytes of `file` from `*offset`, advancing it;
    /// returns the bytes sent, 0 when the file ended early.
    pub fn send_file(&mut self, file: &File, offset: &mut u64, count: usize) -> io::Result<usize> {
        match self {
            Transport::Plain(stream) => net::send_file(&*stream, file, offset, count),
            Transport::Tls(tls) => tls.send_file(file, offset, count),
            #[cfg(any(test, fuzzing))]
            Transport::Fake(fake) => fake.send_file(file, offset, count),
        }
    }

    /// Ends our sending side (FIN), keeping the reading side open.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(stream) => stream.shutdown(Shutdown::Write),
            Transport::Tls(tls) => tls.shutdown_write(),
            #[cfg(any(test, fuzzing))]
            Transport::Fake(fake) => {
                fake.shut = true;
                Ok(())
            }
        }
    }

    /// Joins `registry`'s poll set (edge-triggered).
    pub fn register(&mut self, registry: &mio::Registry, token: mio::Token, interest: mio::Interest) -> io::Result<()> {
        match self {
            Transport::Plain(stream) => registry.register(stream, token, interest),
            Transport::Tls(tls) => tls.register(registry, token, interest),
            #[cfg(any(test, fuzzing))]
            Transport::Fake(_) => Ok(()),
        }
    }

    /// Notes, for a fake client, that an answer is queued (tests read the
    /// conversation back from these marks).
    #[cfg(any(test, fuzzing))]
    pub fn trace(&mut self, event: fake::Event) {
        if let Transport::Fake(fake) = self {
            fake.events.push((fake.written.len(), event));
        }
    }
}

/// An in-memory client for the connection's tests and the fuzzer.
#[cfg(any(test, fuzzing))]
pub mod fake {
    use std::collections::VecDeque;
    use std::fs::File;
    use std::io;
    use std::mem::MaybeUninit;
    use std::os::unix::fs::FileExt;

    use crate::http1::exchange::Persistence;

    /// Something the connection did, noted where it happened in the output.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Event {
        /// A response with this status is queued; it continues so.
        Answer { status: u16, persistence: Persistence },
        /// `100 Continue` is written.
        Continue,
    }

    /// Bytes a test sends, and everything the connection wrote.
    #[derive(Debug, Default)]
    pub struct FakeStream {
        /// What the client sent and the connection has not read yet, in
        /// the pieces it was sent in (a read takes at most one).
        pub pending: VecDeque<Vec<u8>>,
        /// The client has shut its side once `pending` is read.
        pub eof: bool,
        /// Plain HTTP on an HTTPS port.
        pub plain_on_tls_port: bool,
        /// Everything written.
        pub written: Vec<u8>,
        /// Our side has been shut (a lingering close).
        pub shut: bool,
        /// What happened, at which offset of `written`.
        pub events: Vec<(usize, Event)>,
    }

    impl FakeStream {
        pub fn read<'a>(&mut self, buffer: &'a mut [MaybeUninit<u8>]) -> io::Result<&'a [u8]> {
            let Some(mut piece) = self.pending.pop_front() else {
                return if self.eof { Ok(&[]) } else { Err(io::ErrorKind::WouldBlock.into()) };
            };
            if piece.len() > buffer.len() {
                self.pending.push_front(piece.split_off(buffer.len()));
            }
            Ok(buffer[..piece.len()].write_copy_of_slice(&piece))
        }

        pub fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            if self.shut {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            self.written.extend_from_slice(bytes);
            Ok(bytes.len())
        }

        pub fn send_file(&mut self, file: &File, offset: &mut u64, count: usize) -> io::Result<usize> {
            let mut bytes = vec![0; count];
            let n = file.read_at(&mut bytes, *offset)?;
            self.written.extend_from_slice(&bytes[..n]);
            *offset += n as u64;
            Ok(n)
        }
    }
}
