//! One connection accepted on an HTTPS port: a non-blocking socket and,
//! once the client has shown it speaks TLS, a rustls session driven through
//! its sans-I/O calls (`read_tls`, `process_new_packets`, `reader`,
//! `writer`, `write_tls`) on the worker's thread. No thread, no runtime:
//! every call returns `WouldBlock` where the socket would block, exactly as
//! a plain socket does, so a slow or half-finished handshake costs a slot
//! in the poll set and nothing else.
//!
//! The first bytes decide what the connection is: a TLS record starts with
//! the handshake content type (22); anything else is plain HTTP sent to the
//! HTTPS port, passed through unencrypted so the exchange can answer it with
//! a redirect to `https://`. Ciphertext rustls has made but the socket has
//! not taken yet is kept by the session and counts as not sent
//! ([`TlsStream::flush`]), so a response is finished only when its last
//! record is on the wire. File bodies are read (`pread`) in bounded chunks
//! and encrypted: `sendfile` would send plaintext. What to send and when is
//! `connection`'s business.
//!
//! Received ciphertext goes to rustls one whole record at a time
//! (`tls::incoming`): a record still arriving waits there, in a buffer charged
//! to the server's memory budget (`budget`), not in rustls, where it would
//! be out of the budget's sight. So 5,000 clients that each send half of a
//! 16 KiB record and stall hold at most the budget (issue 20); past it the
//! read fails with `budget::refusal` and the connection answers 503 or
//! closes. A whole record arriving in one `recv` goes from the stack to
//! rustls, as before, and rustls is given no more records while it holds
//! plaintext not yet read, so it never holds more than one record's.

use std::fs::File;
use std::io::{self, BufRead, Read, Write};
use std::mem::MaybeUninit;
use std::net::Shutdown;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use rustls::{ServerConfig, ServerConnection};

use super::incoming::{Incoming, RECV_CHUNK};
use super::outgoing::flush_session;
use crate::budget::{Charge, MemoryBudget, Taken};
use crate::sys::net;

/// The TLS record content type "handshake", the first byte of every
/// ClientHello.
const HANDSHAKE_RECORD: u8 = 22;
/// Bytes read on the first readiness of a connection, to see what it speaks.
const SNIFF_CHUNK: usize = 4096;
/// Plaintext of a file read per `send_file` call: four full TLS records
/// (16 KiB each), sent with one `sendmsg`. It bounds what a download holds
/// in memory (this, on the worker's stack, and as much ciphertext in the
/// session) whatever the file's size.
const FILE_CHUNK: usize = 64 * 1024;
/// Plaintext encrypted at once when the memory budget has no room for the
/// ciphertext of a whole `FILE_CHUNK`: one full TLS record. The ciphertext
/// of a response waits in the session while the socket is full; it is
/// charged to the budget before it is made, and without room a response
/// goes on a record at a time, uncharged, rather than being cut: a client
/// that reads slowly (or a busy machine) is never refused for it, and one
/// that stops reading holds at most this much outside the budget, about
/// what the kernel holds for any TCP connection.
const FRUGAL_CHUNK: usize = 16 * 1024;
/// Ciphertext per plaintext byte, as an upper bound: a record's header,
/// tag and padding (at most 5 + 16 + 256 bytes) per record, which is at
/// most `SMALL_RECORD` long while the connection is young and 16 KiB after.
const RECORD_OVERHEAD: usize = 5 + 16 + 256;
/// The plaintext of a record while a connection is young: a browser can
/// decrypt (and start fetching what a page names) only whole records, and
/// a new connection's congestion window lets about 14 KB through per
/// round trip, so a 16 KiB record spans two round trips. h2o (and
/// Google's servers: "dynamic record sizing") start small the same way.
/// On a 100-asset page over a 50 ms round trip (`bench/h2-page`) 4 KiB
/// records took rawserve's median load from 744 to 698 ms (h2o 691), and
/// its slowest from 904 to 788.
const SMALL_RECORD: usize = 4096;
/// Plaintext a connection sends in `SMALL_RECORD`s before its records
/// grow to 16 KiB, as in Google's scheme: by then the window is open and
/// bulk transfers pay for no more records than before.
const SMALL_RECORDS_FOR: u64 = 1 << 20;
/// A connection that has sent nothing for this long starts again with
/// small records: Linux shrinks an idle connection's congestion window
/// back to its initial size (`tcp_slow_start_after_idle`, on by default,
/// after one retransmission timeout, 200 ms or more), so the next
/// response meets a new connection's window, and a browser's keep-alive
/// connection is often reused for a page after a pause. Google's scheme
/// resets after a second, too.
const SMALL_RECORDS_AFTER_IDLE: Duration = Duration::from_secs(1);

/// How large the next records may be: `SMALL_RECORD` while the
/// connection's window is small (young, or woken from idle).
#[derive(Debug, Default)]
struct RecordSizing {
    /// Plaintext sent since the connection began or last woke from idle,
    /// up to `SMALL_RECORDS_FOR`.
    sent: u64,
    /// When plaintext was last given to the session.
    last_write: Option<Instant>,
}

impl RecordSizing {
    /// Notes a write at `now`: after `SMALL_RECORDS_AFTER_IDLE` of quiet,
    /// records start small again.
    fn write_at(&mut self, now: Instant) {
        if self.last_write.is_some_and(|last| now.saturating_duration_since(last) >= SMALL_RECORDS_AFTER_IDLE) {
            self.sent = 0;
        }
        self.last_write = Some(now);
    }
}

/// What the connection turned out to speak.
enum Mode {
    /// Nothing has arrived yet.
    Sniffing(Arc<ServerConfig>),
    /// TLS: every byte passes through the session.
    Tls(Box<ServerConnection>),
    /// Plain HTTP on the HTTPS port (its first byte was not a TLS record):
    /// bytes pass through untouched, to be answered with a redirect.
    Plain,
}

/// A socket on an HTTPS port and its TLS session.
pub struct TlsStream {
    stream: TcpStream,
    mode: Mode,
    /// The last read left nothing behind: its `recv` was short (the socket
    /// drained, where the OS says so) and the session holds no plaintext
    /// or complete record, so the connection need not read again until
    /// the next readiness event (one `recv` per request, as in plain TCP).
    drained: bool,
    /// Bytes received before the session could take them (what followed a
    /// PROXY protocol header), read before the socket.
    early: Vec<u8>,
    /// The last plain read came from `early`, not from a drained socket.
    read_early: bool,
    /// Ciphertext received and not yet given to the session.
    incoming: Incoming,
    /// Ciphertext the session holds because the socket would not take it
    /// (a client that stops reading mid-response), in the budget: taken
    /// before a chunk is encrypted (`room_for`), shrunk as it drains.
    unsent: Charge,
    /// The budget had no room for the last chunk (see `FRUGAL_CHUNK`):
    /// logged once per such episode.
    frugal: bool,
    /// The TLS handshake has finished (and was counted for metrics); a
    /// stream dropped in `Mode::Tls` without it counts as a failure.
    handshake_done: bool,
    /// Small records until the window has grown (see `SMALL_RECORD`).
    sizing: RecordSizing,
}

impl TlsStream {
    /// `budget`: the server's, charged for records in progress.
    pub fn new(stream: TcpStream, config: Arc<ServerConfig>, budget: Arc<MemoryBudget>) -> TlsStream {
        TlsStream {
            stream,
            mode: Mode::Sniffing(config),
            drained: false,
            early: Vec::new(),
            read_early: false,
            incoming: Incoming::new(Arc::clone(&budget)),
            unsent: Charge::new(budget),
            frugal: false,
            handshake_done: false,
            sizing: RecordSizing::default(),
        }
    }

    /// The client sent plain HTTP to this HTTPS port.
    pub fn is_plain(&self) -> bool {
        matches!(self.mode, Mode::Plain)
    }

    /// The handshake chose HTTP/2 by ALPN.
    pub fn chose_h2(&self) -> bool {
        matches!(&self.mode, Mode::Tls(session) if session.alpn_protocol() == Some(b"h2"))
    }

    /// The client has begun a TLS handshake that has not finished yet.
    pub fn is_handshaking(&self) -> bool {
        matches!(&self.mode, Mode::Tls(session) if session.is_handshaking())
    }

    /// Whether a read shorter than the buffer means the socket is drained.
    /// Through TLS only when the read also left no record in the session
    /// (plaintext comes a record at a time).
    pub fn short_read_means_drained(&self) -> bool {
        match self.mode {
            Mode::Plain => net::SHORT_READ_MEANS_DRAINED && !self.read_early,
            Mode::Tls(_) => self.drained && net::SHORT_READ_MEANS_DRAINED,
            Mode::Sniffing(_) => false,
        }
    }

    /// Reads plaintext into `buffer`: empty at the end of the stream (a
    /// `close_notify`, or a plain client's FIN); `WouldBlock` while a
    /// handshake or a record is incomplete; an error for anything rustls
    /// refuses (after queueing its alert), for a close without
    /// `close_notify`, which may have cut a response short, and
    /// [`budget::refusal`] when a record in progress finds no room.
    pub fn read<'a>(&mut self, buffer: &'a mut [MaybeUninit<u8>]) -> io::Result<&'a [u8]> {
        if let Mode::Sniffing(config) = &self.mode {
            let mut first = [const { MaybeUninit::<u8>::uninit() }; SNIFF_CHUNK];
            let early = std::mem::take(&mut self.early);
            let bytes = match early.is_empty() {
                // No more than the caller can take, in case this is plain HTTP.
                true => net::recv(&self.stream, &mut first[..buffer.len().min(SNIFF_CHUNK)])?,
                false => &early[..],
            };
            match bytes.first() {
                None => return Ok(&[]),
                Some(&HANDSHAKE_RECORD) => {
                    let session = ServerConnection::new(Arc::clone(config)).map_err(io::Error::other)?;
                    // TLS from here on, so that a refusal of these bytes finds
                    // a handshake (and closes) rather than answering in plain text.
                    self.mode = Mode::Tls(Box::new(session));
                    if let Mode::Tls(session) = &mut self.mode {
                        self.incoming.take(session, &self.stream, bytes)?;
                    }
                }
                Some(_) => {
                    self.mode = Mode::Plain;
                    let n = bytes.len().min(buffer.len());
                    self.read_early = !early.is_empty();
                    self.early = bytes[n..].to_vec();
                    return Ok(buffer[..n].write_copy_of_slice(&bytes[..n]));
                }
            }
        }
        let session = match &mut self.mode {
            Mode::Tls(session) => session,
            Mode::Plain | Mode::Sniffing(_) if !self.early.is_empty() => {
                let n = self.early.len().min(buffer.len());
                let copied = buffer[..n].write_copy_of_slice(&self.early[..n]);
                self.early.drain(..n);
                self.read_early = true;
                return Ok(copied);
            }
            Mode::Plain | Mode::Sniffing(_) => {
                self.read_early = false;
                return net::recv(&self.stream, buffer);
            }
        };
        self.drained = false;
        let mut short = false;
        loop {
            // The handshake's answer, tickets, alerts.
            flush_session(session, &self.stream, false).or_else(ignore_would_block)?;
            let handshaking = session.is_handshaking();
            if !handshaking && !self.handshake_done {
                self.handshake_done = true;
                crate::metrics::count(|metrics| metrics.count_handshake(true));
            }
            let mut reader = session.reader();
            match reader.fill_buf() {
                Ok([]) => return Ok(&[]), // close_notify
                Ok(plain) => {
                    let n = plain.len().min(buffer.len());
                    let copied = buffer[..n].write_copy_of_slice(&plain[..n]);
                    reader.consume(n);
                    self.drained = short && !self.incoming.holds_a_record() && holds_nothing(session);
                    return Ok(copied);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && handshaking => {
                    return Err(io::Error::new(e.kind(), "closed during the TLS handshake"));
                }
                Err(e) => return Err(e),
            }
            // No plaintext yet: open a whole record kept back, else receive.
            if self.incoming.open_kept(session, &self.stream)? {
                continue;
            }
            let mut chunk = [const { MaybeUninit::<u8>::uninit() }; RECV_CHUNK];
            let received = match net::recv(&self.stream, &mut chunk) {
                Ok(received) => received,
                Err(e) => {
                    if e.kind() == io::ErrorKind::WouldBlock {
                        shrink_record_buffer(session);
                    }
                    return Err(e);
                }
            };
            if received.is_empty() {
                // The end of the stream: the reader above tells a
                // close_notify from a cut. A record in progress is dropped.
                self.incoming.clear();
                session.read_tls(&mut io::empty())?;
                continue;
            }
            short = received.len() < RECV_CHUNK;
            self.incoming.take(session, &self.stream, received)?;
        }
    }

    /// Reads from the socket itself, before any TLS: for a PROXY protocol
    /// header, which a load balancer sends ahead of the client's handshake.
    pub fn read_raw<'a>(&mut self, buffer: &'a mut [MaybeUninit<u8>]) -> io::Result<&'a [u8]> {
        net::recv(&self.stream, buffer)
    }

    /// Hands back bytes a raw read took past the PROXY header: the start of
    /// the handshake (or of plain HTTP), read before the socket.
    pub fn give_back(&mut self, bytes: &[u8]) {
        self.early.extend_from_slice(bytes);
    }

    /// Encrypts and sends a prefix of `bytes`, returning the plaintext
    /// taken; `WouldBlock` while earlier ciphertext is still waiting.
    pub fn write(&mut self, bytes: &[u8], more: bool) -> io::Result<usize> {
        let session = match &mut self.mode {
            Mode::Tls(session) => session,
            Mode::Plain | Mode::Sniffing(_) => return net::send(&self.stream, bytes, more),
        };
        flush_session(session, &self.stream, more)?;
        let room = room_for(bytes.len().min(FILE_CHUNK), &mut self.unsent, &mut self.frugal);
        let taken = encrypt(session, &bytes[..room], &mut self.sizing)?;
        flush_session(session, &self.stream, more).or_else(ignore_would_block)?;
        shrink_charge(session, &mut self.unsent);
        Ok(taken)
    }

    /// Reads up to `count` bytes of `file` at `*offset` in one bounded
    /// chunk, encrypts and sends them, advancing `*offset` by the plaintext
    /// taken; 0 when the file ended early.
    pub fn send_file(&mut self, file: &File, offset: &mut u64, count: usize) -> io::Result<usize> {
        let session = match &mut self.mode {
            Mode::Tls(session) => session,
            // The redirect for plain HTTP has no file body; this is for completeness.
            Mode::Plain | Mode::Sniffing(_) => return net::send_file(&self.stream, file, offset, count),
        };
        flush_session(session, &self.stream, true)?;
        let mut chunk = [const { MaybeUninit::<u8>::uninit() }; FILE_CHUNK];
        let want = room_for(count.min(FILE_CHUNK), &mut self.unsent, &mut self.frugal);
        let read = net::read_file_at(file, &mut chunk[..want], *offset)?;
        if read.is_empty() {
            return Ok(0);
        }
        // The session takes what fits its buffer limit; bytes it did not
        // take are read again next time (as on the portable path).
        let taken = encrypt(session, read, &mut self.sizing)?;
        *offset += taken as u64;
        // The last piece of the range goes out without "more", so the
        // kernel does not hold its final partial segment back.
        flush_session(session, &self.stream, taken < count).or_else(ignore_would_block)?;
        shrink_charge(session, &mut self.unsent);
        Ok(taken)
    }

    /// Sends ciphertext still waiting in the session; `WouldBlock` until
    /// the socket has taken all of it. Never inlined, so that
    /// `Transport::flush`, called once per response, stays small enough to
    /// inline for plain TCP (measured: 38 instructions per request else).
    #[inline(never)]
    pub fn flush(&mut self) -> io::Result<()> {
        match &mut self.mode {
            Mode::Tls(session) => {
                let flushed = flush_session(session, &self.stream, false);
                shrink_charge(session, &mut self.unsent);
                flushed
            }
            Mode::Plain | Mode::Sniffing(_) => Ok(()),
        }
    }

    /// Sends `close_notify` (as far as the socket takes it), then FIN.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        self.close_notify();
        self.stream.shutdown(Shutdown::Write)
    }

    /// Joins `registry`'s poll set.
    pub fn register(&mut self, registry: &mio::Registry, token: mio::Token, interest: mio::Interest) -> io::Result<()> {
        registry.register(&mut self.stream, token, interest)
    }

    /// Ends the session politely, so the client can tell a complete
    /// response from a cut connection. Best effort: the socket is
    /// non-blocking and the alert is small.
    fn close_notify(&mut self) {
        if let Mode::Tls(session) = &mut self.mode {
            if !session.is_handshaking() {
                session.send_close_notify();
                let _ = flush_session(session, &self.stream, false);
            }
        }
    }
}

impl Drop for TlsStream {
    /// A connection closed by the server (after `Connection: close`, an
    /// idle timeout, a drain) says so before its FIN, as nginx does. A
    /// handshake that began and never finished (refused, abandoned, timed
    /// out, or cut by a shutdown) is counted as a failure.
    fn drop(&mut self) {
        if matches!(self.mode, Mode::Tls(_)) && !self.handshake_done {
            crate::metrics::count(|metrics| metrics.count_handshake(false));
        }
        self.close_notify();
    }
}

/// The session has no plaintext left to read and no complete record left
/// to open. Errors and a close_notify count as something left: the next
/// read reports them.
fn holds_nothing(session: &mut ServerConnection) -> bool {
    let no_plaintext = |session: &mut ServerConnection| matches!(session.reader().fill_buf(), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
    no_plaintext(session)
        && session
            .process_new_packets()
            .is_ok_and(|state| state.plaintext_bytes_to_read() == 0 && !state.peer_has_closed())
        && no_plaintext(session)
}

/// Gives `plain` to the session to encrypt: in records of `SMALL_RECORD`
/// bytes while the connection has sent less than `SMALL_RECORDS_FOR`
/// since it began or woke from idle (the session makes one record per
/// write, or more for a longer one), then as the session cuts them. The
/// plaintext taken: less when the session's buffer limit is reached.
fn encrypt(session: &mut ServerConnection, plain: &[u8], sizing: &mut RecordSizing) -> io::Result<usize> {
    // A clock read per write (~25 ns), against the encryption of up to
    // 64 KiB: not worth a cheaper source of time.
    sizing.write_at(Instant::now());
    let sent = &mut sizing.sent;
    let mut taken = 0;
    while *sent < SMALL_RECORDS_FOR && taken < plain.len() {
        let piece = &plain[taken..plain.len().min(taken + SMALL_RECORD)];
        let n = session.writer().write(piece)?;
        taken += n;
        *sent += n as u64;
        if n < piece.len() {
            return Ok(taken);
        }
    }
    if taken < plain.len() {
        let n = session.writer().write(&plain[taken..])?;
        taken += n;
        *sent = sent.saturating_add(n as u64);
    }
    Ok(taken)
}

/// How much of `want` plaintext bytes to encrypt now: all of it when the
/// budget can hold its ciphertext (charged to `unsent` before it is made),
/// else one record's worth, uncharged (see `FRUGAL_CHUNK`); the first
/// time the budget has no room in an episode, a warning.
fn room_for(want: usize, unsent: &mut Charge, frugal: &mut bool) -> usize {
    if want <= FRUGAL_CHUNK {
        // One record at most: no more than a refusal would allow anyway,
        // and no atomic operations for an ordinary small response.
        return want;
    }
    let ciphertext = want + want.div_ceil(SMALL_RECORD) * RECORD_OVERHEAD;
    match unsent.resize(unsent.bytes().max(ciphertext)) {
        Taken::Yes => {
            *frugal = false;
            want
        }
        refused => {
            if refused == Taken::NoFirst && !*frugal {
                log::warn!(
                    "the memory budget is spent ({} bytes, Config::max_pending_head_bytes): TLS responses \
                     go out a record at a time until there is room",
                    unsent.budget().limit()
                );
            }
            *frugal = true;
            want.min(FRUGAL_CHUNK)
        }
    }
}

/// Gives back the share of `unsent` the socket has taken: what is left is
/// the ciphertext the session still holds (no more than was charged).
fn shrink_charge(session: &mut ServerConnection, unsent: &mut Charge) {
    let pending = match session.wants_write() {
        false => 0,
        // Only on this path: exact, and cheap with nothing received pending.
        true => session.process_new_packets().map_or(unsent.bytes(), |state| state.tls_bytes_to_write()),
    };
    if pending < unsent.bytes() {
        unsent.resize(pending);
    }
}

/// Lets rustls shrink its own record buffer (to 4 KiB) once the socket is
/// drained: it does so when asked to read while holding nothing, and the
/// reader here has nothing to give. A record buffer grown by a large
/// record would otherwise stay with an idle connection.
fn shrink_record_buffer(session: &mut ServerConnection) {
    struct Drained;
    impl Read for Drained {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }
    let _ = session.read_tls(&mut Drained);
}

/// Treats "the socket would block" as done for now: what is left waits in
/// the session for the next writability.
fn ignore_would_block(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::WouldBlock {
        Ok(())
    } else {
        Err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_start_small_again_after_a_second_of_quiet() {
        let start = Instant::now();
        let at = |millis: u64| start + Duration::from_millis(millis);
        let mut sizing = RecordSizing::default();
        // (write at, plaintext the connection had sent before: then what counts)
        for (millis, before, after) in [
            (0, 0, 0),
            (10, 2 << 20, 2 << 20),
            // Writes closer together than the idle time: still warm.
            (1_009, 2 << 20, 2 << 20),
            (2_008, 2 << 20, 2 << 20),
            // A second of quiet: small records again.
            (3_008, 2 << 20, 0),
            (3_100, 4096, 4096),
            (60_000, 4096, 0),
        ] {
            sizing.sent = before;
            sizing.write_at(at(millis));
            assert_eq!(sizing.sent, after, "a write at {millis} ms");
        }
    }
}
