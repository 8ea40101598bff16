//! One client connection speaking HTTP/1.x: a state machine over a
//! non-blocking transport.
//!
//! ```text
//!  AwaitingProxyHeader ──header──▶ Reading   (with Config::proxy_protocol; else closed)
//!  Reading ──answer──▶ Writing ──sent, Next::Read──▶ Reading (a skipped body first)
//!     │  ├─answer later─▶ Preparing ──a slice per turn, then──▶ Writing
//!     │  ├─route reads the body─▶ Receiving ──body done or refused──▶ Writing
//!     │  └─an events body─▶ Listening ──client gone, stalled, shutdown──▶ Closed
//!     │                   ├──── sent, Next::Linger ──▶ Lingering ──EOF / timeout──▶ Closed
//!     │                   └──── sent, Next::Close, or a write error ─────────────▶ Closed
//!     └── draining with nothing complete, EOF, a read error, an idle timeout ────▶ Closed
//! ```
//!
//! The worker calls [`Connection::drive`] when the socket is ready (or
//! [`Connection::read_ahead`] first and then [`Connection::drive_with`]
//! the bytes it read); it does as much reading, answering and writing as
//! the socket allows, then returns without ever blocking. What to answer,
//! and how the connection continues, is decided by `http1::exchange`
//! without I/O, with the version-independent `service` answering each
//! request; this module performs it: it owns the transport, the input
//! buffer (`buffer`, charged to the server's memory budget), timeouts and
//! the turn budget. Receiving a body a route reads is `receive`; sending a
//! response is `send`; the PROXY header that may open a connection is
//! `proxy_header`; holding a response open for pushed events (live
//! reload) is `listen`. It counts the bytes a response actually sent and hands
//! its access-log entry to the worker's log buffer, and its metrics tally
//! to the worker's counters, when the response ends (sent, or cut off),
//! see [`Connection::finish_entry`]; it tells the worker which state it is
//! in for the connections gauge ([`Connection::metrics_state`]). Over TLS the same
//! states apply: the handshake happens inside the transport's reads
//! (starting the head timer), and a response is sent only once the
//! transport holds no ciphertext back.

mod buffer;
#[cfg(any(test, fuzzing))]
pub mod harness;
mod http2;
mod listen;
mod outgoing;
mod proxy_header;
mod read;
mod receive;
mod report;
mod send;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::ops::Range;
use std::time::Instant;

use self::buffer::Buffer;
use self::listen::Listening;
use self::receive::Receiving;
use crate::access_log::{Entry, Recorder};
use crate::context::{Context, Phase, Shared};
use crate::http::response::{Body, Chunk, Preparation};
use crate::http1::body::BodyDecoder;
use crate::http1::encode;
use crate::http1::exchange::{self, Answer, Framing, Next, Persistence};
use crate::metrics::{Limit, Tally};
use crate::service::{self, Service};
use crate::transport::Transport;

/// Bytes asked of the socket per read. Requests are rarely larger, and the
/// buffer grows (up to `Config::max_head_bytes`) when one is.
const READ_CHUNK: usize = 4096;
/// Least room left in the worker's batch buffer for a read ahead of a
/// turn (`Connection::read_ahead`); with less, the turn reads for itself.
const MIN_READ_AHEAD: usize = 1024;
/// Bytes or requests one connection may process per turn before yielding to
/// the others in its worker, so a fast client cannot starve them.
const TURN_BYTES: u64 = 4 << 20;
const TURN_REQUESTS: u32 = 64;
/// Bytes read and thrown away while lingering, at most.
const MAX_LINGER_BYTES: usize = 256 * 1024;
/// Status for a request that would take the server past its input memory budget.
const OVER_BUDGET_STATUS: u16 = 503;

/// Where a connection is in its life; each state holds the data that only
/// it needs.
enum State {
    /// `Config::proxy_protocol`: the connection must open with a PROXY
    /// header (v1 or v2) naming the client; bytes so far are in `input`.
    AwaitingProxyHeader,
    /// Waiting for (the rest of) a request head, or for a skipped body to
    /// pass. Bytes received so far are in `input`.
    Reading {
        /// Part of a request has arrived, so the head timer (not the idle
        /// timer) is running.
        head_started: bool,
    },
    /// Receiving the body of a request whose route reads it (buffered
    /// whole for a handler, or fed to a streaming handler's sink); bytes
    /// received and not yet decoded are in `input`.
    Receiving(Box<Receiving>),
    /// A handler's response is still being prepared (a large listing): one
    /// slice of the work per turn, yielding to the worker's other
    /// connections in between; then Writing.
    Preparing {
        work: Box<dyn Preparation>,
        /// The answer's framing and persistence, kept for the response
        /// once it is ready.
        framing: Framing,
        persistence: Persistence,
    },
    /// Sending a response: `out[pos..]`, then `chunks` of `file`.
    Writing {
        out: Vec<u8>,
        pos: usize,
        file: Option<File>,
        chunks: VecDeque<Chunk>,
        /// How the connection continues once this response is sent.
        persistence: Persistence,
    },
    /// A response whose body is pushed as things happen (server-sent
    /// events): its head is sent; it waits for its source's wake-ups, the
    /// keep-alive deadline or the client's close (see `listen`).
    Listening(Box<Listening>),
    /// The last response closed the connection while the client may still be
    /// sending; our side is shut: read and discard until the client closes,
    /// so it is not sent a reset before it has read the answer.
    Lingering {
        /// Bytes thrown away so far (at most `MAX_LINGER_BYTES`).
        discarded: usize,
    },
    /// Speaking HTTP/2: the connection began with its preface (or chose
    /// it by ALPN); see `http2`.
    Http2(Box<self::http2::Http2>),
    /// Finished; the worker drops it, which closes the socket.
    Closed,
}

/// Why [`Connection::drive`] returned.
#[derive(Debug, PartialEq, Eq)]
pub enum Turn {
    /// The socket would block; wait for its next readiness event.
    Wait,
    /// Used up its turn with work left; drive again soon.
    Yield,
    /// Closed; drop it.
    Closed,
}

/// What the socket has told us, valid in every state.
#[derive(Debug, Default)]
struct Readiness {
    /// The socket may have more to read (edge-triggered: set by a readable
    /// event, cleared by `WouldBlock`, or by a short read where that means
    /// drained).
    readable: bool,
    /// A readiness event reported the client's FIN; a read will return 0
    /// once the data before it is consumed.
    read_closed: bool,
    /// The client has shut its sending side (a read returned 0).
    peer_eof: bool,
}

pub struct Connection {
    transport: Transport,
    peer: SocketAddr,
    /// The client: `peer`, or the source a PROXY header named.
    client: SocketAddr,
    state: State,
    /// Received bytes not yet consumed (a partial head, body bytes not yet
    /// decoded, pipelined requests), charged to the server's memory budget.
    input: Buffer,
    /// A body nobody reads, still to pass before the next request starts.
    skip: Option<Box<BodyDecoder>>,
    readiness: Readiness,
    /// When the current wait (head, idle, body, send progress, linger) expires.
    deadline: Instant,
    /// The answered request's access-log fields, until its response ends.
    entry: Entry,
    /// The same request's facts for metrics (with `Config::metrics_path`).
    tally: Tally,
    /// Bytes of the current response written so far (head and body).
    sent: u64,
    /// Bytes of its head, so `sent` minus this is the body sent.
    head_len: u64,
    /// Some bytes have come from the client (a shutdown waits for the
    /// first request of a connection that has sent none yet).
    received_any: bool,
    /// An HTTP/1 request was taken up: the connection cannot turn HTTP/2.
    spoke_http1: bool,
}

impl Connection {
    pub fn new(transport: Transport, peer: SocketAddr, shared: &Shared, now: Instant) -> Connection {
        let state = if shared.config.proxy_protocol {
            State::AwaitingProxyHeader
        } else {
            State::Reading { head_started: false }
        };
        Connection {
            transport,
            peer,
            client: peer,
            state,
            input: Buffer::default(),
            skip: None,
            readiness: Readiness::default(),
            deadline: now + shared.config.idle_timeout,
            entry: Entry::default(),
            tally: Tally::default(),
            sent: 0,
            head_len: 0,
            received_any: false,
            spoke_http1: false,
        }
    }

    /// Joins `registry`'s poll set (edge-triggered). Readiness that is
    /// already there when it joins is reported, so nothing is missed.
    pub fn register(&mut self, registry: &mio::Registry, token: mio::Token, interest: mio::Interest) -> io::Result<()> {
        self.transport.register(registry, token, interest)
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Records a readiness event; call `drive` afterwards.
    /// `read_closed`: the event also said the client has shut its side,
    /// so the socket must be read until it reports the end, even after a
    /// short read (a FIN that came with the data brings no further event).
    pub fn mark_readable(&mut self, read_closed: bool) {
        self.readiness.readable = true;
        self.readiness.read_closed |= read_closed;
    }

    /// Gives back this connection's share of the memory budget (the
    /// worker calls it before dropping the connection).
    pub fn release_input(&mut self, shared: &Shared) {
        self.input.release(&shared.budget);
        match &mut self.state {
            State::Receiving(receiving) => receiving.release(&shared.budget),
            State::Http2(h2) => h2.release(&shared.budget),
            _ => {}
        }
    }

    /// Does all the work the socket allows right now.
    pub fn drive(&mut self, cx: &mut Context) -> Turn {
        self.drive_with(cx, None)
    }

    /// Reads the socket ahead of this connection's turn, onto the end of
    /// the worker's `batch` buffer, when the turn would begin with a read
    /// (Reading, nothing buffered, plain TCP, readable); returns where the
    /// bytes are in `batch`, for [`Connection::drive_with`]. An end of
    /// stream or `WouldBlock` is only noted; any other error is left for
    /// the turn's own read to meet.
    ///
    /// Why: the worker reads every ready connection of a poll batch first,
    /// so the caches' check for change events (one `read` of the inotify
    /// descriptor whenever request bytes were read since the last one,
    /// `handlers::watches`) runs once per batch instead of once per request,
    /// and still after every byte it answers has arrived.
    pub fn read_ahead(&mut self, batch: &mut Vec<u8>) -> Option<Range<usize>> {
        let fresh_read = matches!(self.state, State::Reading { .. })
            && self.input.is_empty()
            && self.skip.is_none()
            && self.readiness.readable
            && !self.readiness.peer_eof;
        let room = READ_CHUNK.min(batch.capacity() - batch.len());
        if !fresh_read || room < MIN_READ_AHEAD {
            return None;
        }
        let start = batch.len();
        match self.transport.read_ahead(batch, room)? {
            Ok(0) => {
                self.readiness.peer_eof = true;
                None
            }
            Ok(received) => {
                self.note_read(received, room);
                Some(start..start + received)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.readiness.readable = false;
                None
            }
            Err(_) => None,
        }
    }

    /// Updates readiness after a read that returned `received` of the
    /// `asked` bytes, and counts it for the caches.
    fn note_read(&mut self, received: usize, asked: usize) {
        self.received_any = true;
        // A short read means the socket is drained where the OS says so,
        // unless a FIN is waiting behind the data.
        let drained = self.transport.short_read_means_drained() && received < asked;
        self.readiness.readable = !drained || self.readiness.read_closed;
        // Caches read the change events queued before these bytes came.
        crate::sys::notify::note_request_read();
    }

    /// [`Connection::drive`], its first read already done: `ahead` holds
    /// the bytes [`Connection::read_ahead`] returned.
    pub fn drive_with(&mut self, cx: &mut Context, mut ahead: Option<&[u8]>) -> Turn {
        let mut budget_bytes = TURN_BYTES;
        let mut budget_requests = TURN_REQUESTS;
        loop {
            let step = match self.state {
                State::AwaitingProxyHeader => self.read_proxy_header(cx),
                State::Reading { .. } => {
                    if budget_requests == 0 {
                        return Turn::Yield;
                    }
                    match self.read_turn(cx, &mut ahead) {
                        Ok(Some(true)) => {
                            budget_requests -= 1;
                            Ok(true)
                        }
                        Ok(Some(false)) => Ok(true),
                        // Nothing complete to answer, and the server is going.
                        Ok(None) if cx.draining => return self.end_for_shutdown(cx),
                        Ok(None) => Ok(false),
                        Err(e) => Err(e),
                    }
                }
                State::Receiving(_) => self.receive(cx, &mut budget_bytes),
                State::Preparing { .. } => {
                    if !self.prepare(cx) {
                        return Turn::Yield;
                    }
                    Ok(true)
                }
                State::Writing { .. } => match self.flush(cx, &mut budget_bytes) {
                    Ok(true) => {
                        self.finish_response(cx);
                        Ok(true)
                    }
                    Ok(false) => Ok(false),
                    Err(e) => Err(e),
                },
                State::Listening(_) => self.listen(cx),
                State::Http2(_) => return self.drive_http2(cx),
                State::Lingering { .. } => return self.linger(),
                State::Closed => return Turn::Closed,
            };
            match step {
                Ok(true) => {}
                Ok(false) if budget_bytes == 0 => return Turn::Yield,
                Ok(false) => return Turn::Wait,
                Err(e) => {
                    let what = if matches!(self.state, State::Writing { .. }) { "write" } else { "read" };
                    log::debug!("{}: {what} failed: {e}", self.peer);
                    self.state = State::Closed;
                }
            }
        }
    }

    /// Acts on an expired deadline (408, or a quiet close).
    pub fn expire(&mut self, cx: &mut Context) -> Turn {
        if cx.now < self.deadline {
            return Turn::Wait;
        }
        match self.state {
            State::Reading { .. } if !self.input.is_empty() || self.skip.is_some() => {
                log::info!("{}: request head not received in time", self.peer);
                self.refuse(408, cx);
                self.drive(cx)
            }
            State::Receiving(_) => {
                log::info!("{}: request body not received in time", self.peer);
                self.refuse(408, cx);
                self.drive(cx)
            }
            State::Listening(_) => self.expire_listening(cx),
            State::Http2(_) => self.expire_http2(cx),
            // Idle keep-alive, a silent new connection, a stalled reader, or
            // a client that will not close: drop without a word.
            _ => {
                if matches!(self.state, State::Writing { .. }) {
                    log::info!("{}: client stopped reading; dropping response", self.peer);
                    if let Some(metrics) = &cx.local.metrics {
                        metrics.count_limit(Limit::SendTimeout);
                    }
                } else if self.transport.is_handshaking() {
                    log::debug!("{}: TLS handshake not finished in time; closing", self.peer);
                }
                self.state = State::Closed;
                Turn::Closed
            }
        }
    }

    /// Called once when the server starts draining (`cx.draining` is set):
    /// a connection with nothing in flight ends now, a response in flight
    /// goes on (within `Config::shutdown_grace`).
    ///
    /// This is nginx's graceful stop (`ngx_close_idle_connections`, and
    /// `ngx_http_finalize_connection` keeping no connection alive once
    /// exiting), with one difference: requests that have already arrived
    /// whole are answered (with `Connection: close`) instead of dropped.
    /// An idle keep-alive connection, or one whose request head is not
    /// complete, is closed at once (see [`Connection::end_for_shutdown`]),
    /// so neither can hold the process for the grace period. A response in
    /// flight is finished; one still being prepared, whose head is not
    /// encoded yet, says `Connection: close`. Once a response ends, the
    /// connection answers what has already arrived whole and then ends the
    /// same way (the drive loop calls `end_for_shutdown` whenever Reading
    /// finds nothing complete while draining).
    ///
    /// The race this leaves is the one every server has: a client's next
    /// request already on its way when the close goes out meets the FIN (or
    /// a reset). No response byte of it was sent, so clients retry it on a
    /// new connection (RFC 9112 §9.3.1), as they do when any server closes
    /// an idle connection; waiting out the idle timeout instead would only
    /// move the same race to the end of the timeout. A connection that has
    /// not sent its first byte is another matter: see `end_for_shutdown`.
    pub fn begin_shutdown(&mut self, cx: &mut Context) -> Turn {
        match &mut self.state {
            // Part of a PROXY header: a head not received whole.
            State::AwaitingProxyHeader if !self.input.is_empty() => {
                self.state = State::Closed;
                return Turn::Closed;
            }
            State::Preparing { persistence: persistence @ Persistence::KeepAlive, .. } => {
                *persistence = Persistence::Close
            }
            // Pushed events never finish: not a response in flight.
            State::Listening(_) => return self.end_listening(cx),
            State::Http2(_) => return self.shut_down_http2(cx),
            _ => {}
        }
        self.drive(cx)
    }

    /// What a Reading connection with nothing complete to answer does while
    /// the server drains.
    ///
    /// - Nothing received since it was accepted: it waits for its first
    ///   request (answered with `Connection: close`) until its own timeout,
    ///   as nginx waits for it. A client opens a connection to send a
    ///   request at once, so that request is almost surely on its way, and
    ///   a request that fails on a fresh connection is not retried by
    ///   clients as one on a reused connection is; with a listening socket
    ///   handed over (systemd), the connection was accepted just before the
    ///   signal while the next process takes the ones after it.
    /// - Body bytes of a request already answered still to skip: the client
    ///   is still sending, and its response may still be on its way. A plain
    ///   close would make the kernel answer its next bytes with a reset,
    ///   which can destroy the response's unsent tail, so it closes
    ///   lingering (FIN now, discard what comes for up to
    ///   `Config::linger_timeout`), as nginx does while a body is unread.
    /// - Otherwise (idle after a response, or a head not received whole)
    ///   closed at once: there is no response to protect, and a pipelined
    ///   request normally arrives whole behind its predecessor and has been
    ///   answered.
    fn end_for_shutdown(&mut self, cx: &mut Context) -> Turn {
        if !self.received_any {
            Turn::Wait
        } else if self.skip.is_some() {
            log::debug!("{}: shutting down; closing after the rest of the request body", self.peer);
            let _ = self.transport.shutdown_write();
            self.release_input(cx.shared);
            self.skip = None;
            self.state = State::Lingering { discarded: 0 };
            self.deadline = cx.now + cx.shared.config.linger_timeout;
            self.linger()
        } else {
            if !self.input.is_empty() {
                log::info!("{}: shutting down; closing a request not received whole", self.peer);
            }
            self.state = State::Closed;
            Turn::Closed
        }
    }

    /// What the exchange needs to know of this connection now.
    fn facts(&self, cx: &Context) -> exchange::Facts {
        // The phase itself, not just the worker's view of it: health turns
        // 503 from the signal on, even before this worker has woken to it.
        let draining = cx.draining || cx.shared.phase() != Phase::Running;
        exchange::Facts {
            service: service::Facts { peer: self.client, now: cx.now, draining },
            plain_on_tls_port: self.transport.is_plain_on_tls_port(),
        }
    }

    /// A TLS handshake has begun: it and the request head that follows
    /// share the head timeout, so a client that never finishes one is
    /// closed as a slow head would be.
    fn start_handshake_timer(&mut self, cx: &Context) {
        if let State::Reading { head_started: started @ false } = &mut self.state {
            if self.transport.is_handshaking() {
                *started = true;
                self.deadline = cx.now + cx.shared.config.head_timeout;
            }
        }
    }

    /// Sends what the transport holds back while the connection reads (a
    /// TLS handshake's answer); the socket being full is not an error.
    fn flush_handshake(&mut self) -> io::Result<()> {
        match self.transport.flush() {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock && e.kind() != io::ErrorKind::Interrupted => Err(e),
            _ => Ok(()),
        }
    }

    /// The server's input memory is spent: 503 and close, so one flood of
    /// unfinished requests cannot exhaust memory.
    fn over_budget(&mut self, cx: &mut Context) {
        log::info!("{}: no room in the input memory budget; answering {OVER_BUDGET_STATUS}", self.peer);
        self.refuse(OVER_BUDGET_STATUS, cx);
    }

    /// Answers `status` and closes (lingering), dropping all input and any
    /// body being received.
    fn refuse(&mut self, status: u16, cx: &mut Context) {
        self.release_input(cx.shared);
        self.skip = None;
        if cx.shared.access_log.enabled() {
            if self.entry.is_pending() {
                // A streamed body's request, recorded when it began.
                self.entry.set_status(status);
            } else {
                Recorder { entry: &mut self.entry, spares: &mut cx.local.log }.record(
                    self.client.ip(),
                    None,
                    status,
                    cx.now,
                );
            }
        }
        if cx.local.metrics.is_some() {
            self.tally.refuse(None, status, cx.now);
        }
        self.queue(Answer::error(status, 0), cx);
    }

    /// Drops the connection at once (nothing more can be said on it).
    fn close_now(&mut self, cx: &mut Context) {
        self.release_input(cx.shared);
        self.skip = None;
        self.state = State::Closed;
    }

    /// Advances the response in preparation by one slice; true once it is
    /// ready and queued (the connection is then Writing).
    fn prepare(&mut self, cx: &mut Context) -> bool {
        let State::Preparing { work, .. } = &mut self.state else { return true };
        let Some(response) = work.advance() else { return false };
        let State::Preparing { framing, persistence, .. } = std::mem::replace(&mut self.state, State::Closed) else {
            return true; // OK: matched just above
        };
        self.entry.set_status(response.status);
        self.tally.set_status(response.status);
        let skip = self.skip.take();
        self.queue(Answer { response, framing, persistence, consumed: 0, skip }, cx);
        true
    }

    /// Encodes an answer into a pooled output buffer and switches to
    /// Writing, or to Preparing when the response is not ready yet.
    fn queue(&mut self, answer: Answer, cx: &mut Context) {
        self.skip = answer.skip;
        self.deadline = cx.now + cx.shared.config.send_timeout;
        if let Body::Later(work) = answer.response.body {
            self.state = State::Preparing { work, framing: answer.framing, persistence: answer.persistence };
            return;
        }
        if matches!(answer.response.body, Body::Events(_)) && !answer.framing.head_only {
            return self.start_listening(answer.response, answer.framing.http10, cx);
        }
        #[cfg(any(test, fuzzing))]
        self.transport.trace(crate::transport::fake::Event::Answer {
            status: answer.response.status,
            persistence: answer.persistence,
        });
        let mut out = cx.local.buffers.take();
        // Bytes of the body that go out of `out` behind the head.
        let in_memory_body = match &answer.response.body {
            Body::Bytes(_) | Body::Shared(_) if !answer.framing.head_only => answer.response.body.len(),
            _ => 0,
        };
        let body = encode::encode(
            answer.response,
            answer.framing.head_only,
            answer.persistence == Persistence::KeepAlive,
            answer.framing.http10,
            cx.local.clock.date(),
            &mut out,
        );
        let (file, chunks) = match body {
            Some(body) => (body.file, body.chunks.into()),
            None => (None, VecDeque::new()),
        };
        self.head_len = (out.len() as u64).saturating_sub(in_memory_body);
        self.sent = 0;
        self.state = State::Writing { out, pos: 0, file, chunks, persistence: answer.persistence };
    }

    /// After a response is fully sent: next request, or close.
    fn finish_response(&mut self, cx: &mut Context) {
        let State::Writing { out, persistence, .. } = std::mem::replace(&mut self.state, State::Closed) else {
            return;
        };
        cx.local.buffers.give(out);
        // Timed on the turn's clock (see `Tally::finish`).
        self.finish_tally(cx.local, cx.now);
        self.finish_entry(cx.local, cx.shared);
        // A body still to skip is still coming: closing before it arrives
        // would make the kernel answer it with a reset, which can destroy
        // the response in the client's buffer.
        let more_may_come = self.readiness.readable || !self.input.is_empty() || self.skip.is_some();
        match exchange::after_response(persistence, self.readiness.peer_eof, more_may_come) {
            Next::Read => {
                self.state = State::Reading { head_started: false };
                // A body still to skip is part of the request: it gets the head
                // timeout, not the idle one, and is not extended by trickling.
                let wait =
                    if self.skip.is_some() { cx.shared.config.head_timeout } else { cx.shared.config.idle_timeout };
                self.deadline = cx.now + wait;
            }
            Next::Close => self.state = State::Closed,
            Next::Linger => {
                // Shut our side so the client sees the end, then read and
                // discard until it closes too.
                let _ = self.transport.shutdown_write();
                self.release_input(cx.shared);
                self.skip = None;
                self.state = State::Lingering { discarded: 0 };
                self.deadline = cx.now + cx.shared.config.linger_timeout;
            }
        }
    }

    fn linger(&mut self) -> Turn {
        let State::Lingering { discarded } = &mut self.state else { return Turn::Closed };
        let mut scratch = [const { MaybeUninit::<u8>::uninit() }; READ_CHUNK];
        loop {
            match self.transport.read(&mut scratch) {
                Ok([]) => break,
                Ok(bytes) => {
                    *discarded += bytes.len();
                    if *discarded > MAX_LINGER_BYTES {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Turn::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        self.state = State::Closed;
        Turn::Closed
    }
}

/// The worker's service for one request, its access-log fields going to
/// `entry` when the log is on, its facts for metrics to `tally` when
/// metrics are.
fn service_for<'a>(entry: &'a mut Entry, tally: &'a mut Tally, cx: &'a mut Context<'_>) -> Service<'a> {
    let log = cx.shared.access_log.enabled().then_some(Recorder { entry, spares: &mut cx.local.log });
    let metrics = cx.shared.metrics.as_ref();
    let tally = metrics.is_some().then_some(tally);
    Service {
        config: &cx.shared.config,
        router: &mut cx.local.router,
        log,
        metrics,
        tally,
        accounts: cx.shared.accounts.as_ref(),
        verified: &mut cx.local.verified,
    }
}
