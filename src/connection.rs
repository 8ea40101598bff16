//! One client connection: a state machine over a non-blocking transport.
//!
//! ```text
//!  AwaitingProxyHeader ──header──▶ Reading   (with Config::proxy_protocol; else closed)
//!  Reading ──answer──▶ Writing ──sent, Next::Read──▶ Reading
//!     │  └─answer later─▶ Preparing ──a slice per turn, then──▶ Writing
//!     │                   ├──── sent, Next::Linger ──▶ Lingering ──EOF / timeout──▶ Closed
//!     │                   └──── sent, Next::Close, or a write error ─────────────▶ Closed
//!     └── draining with nothing complete, EOF, a read error, an idle timeout ────▶ Closed
//! ```
//!
//! The worker calls [`Connection::drive`] when the socket is ready (or
//! [`Connection::read_ahead`] first and then [`Connection::drive_with`]
//! the bytes it read); it does as much reading, answering and writing as
//! the socket allows, then returns without ever blocking. What to answer, and how the connection continues,
//! is decided by `exchange` without I/O; this module performs it: it owns
//! the transport, the input buffer (and its share of the server's head
//! memory budget), the output buffer, timeouts, and the turn budget. It
//! counts the bytes a response actually sent and hands its access-log
//! entry to the worker's log buffer when the response ends (sent, or cut
//! off), see [`Connection::finish_entry`]. Over TLS the same states
//! apply: the handshake happens inside the transport's reads (starting the
//! head timer), and a response is sent only once the transport holds no
//! ciphertext back.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::ops::Range;
use std::time::{Duration, Instant};

use crate::access_log::{Entry, Recorder};
use crate::budget::{self, Taken};
use crate::exchange::{self, Answer, Decision, Facts, Next, Persistence, Surroundings};
use crate::http::response::{self, Body, Chunk, Preparation};
use crate::proxy::{self, ProxyHeader};
use crate::transport::Transport;
use crate::worker::{Local, Phase, Shared};

/// Bytes asked of the socket per read. Requests are rarely larger, and the
/// buffer grows (up to `Config::max_head_bytes`) when one is.
const READ_CHUNK: usize = 4096;
/// Least room left in the worker's batch buffer for a read ahead of a
/// turn (`Connection::read_ahead`); with less, the turn reads for itself.
const MIN_READ_AHEAD: usize = 1024;
/// Most bytes handed to one `send_file` call, and a connection makes one
/// such call per loop turn while more of the range remains (lighttpd's
/// pacing: it sends 256 KiB, then waits in epoll). Measured (issue 14: a
/// 256 MiB download over loopback, server on core 0, curl on core 1,
/// alternated with lighttpd 1.4.69, medians of 5): 1 MiB per call until
/// `EAGAIN` 2,033 MiB/s, 256 KiB until `EAGAIN` 2,051, one call per turn
/// of 128 KiB 2,490, 256 KiB 2,572–2,628, 512 KiB 2,542, 1 MiB 2,310;
/// lighttpd 2,567–2,809 in the same rounds. (An earlier day's machine
/// showed no difference: 1 MiB until `EAGAIN` 3,380 against lighttpd's
/// 3,140.) A 1 MiB call took 350 µs against 48 µs for 256 KiB (strace):
/// smaller calls, with the loop turn between them, let the reader drain.
const MAX_SENDFILE: usize = 256 << 10;
/// Bytes or requests one connection may process per turn before yielding to
/// the others in its worker, so a fast client cannot starve them.
const TURN_BYTES: u64 = 4 << 20;
const TURN_REQUESTS: u32 = 64;
/// Longest a turn makes pieces of a streamed body (compressing a large
/// file, reading a folder for a tar) before yielding. Bytes alone do not
/// bound it: a piece of brotli costs ten times what one of gzip 1 does
/// (0.3-2 ms per 64 KiB, measured). 1 ms is one to three pieces at the
/// streamed levels, and with the worker's `READY_SLICE` keeps a request
/// to a worker busy compressing for 16 clients within a few milliseconds.
const STREAM_TURN_TIME: Duration = Duration::from_millis(1);
/// Bytes read and thrown away while lingering, at most.
const MAX_LINGER_BYTES: usize = 256 * 1024;
/// Status for a head that would take the server past its head memory budget.
const OVER_BUDGET_STATUS: u16 = 503;

/// Where a connection is in its life; each state holds the data that only
/// it needs.
enum State {
    /// `Config::proxy_protocol`: the connection must open with a PROXY
    /// header (v1 or v2) naming the client; bytes so far are in `input`.
    AwaitingProxyHeader,
    /// Waiting for (the rest of) a request head, for a body a handler wants,
    /// or for a body to be skipped. Bytes received so far are in `input`.
    Reading {
        /// Part of a request has arrived, so the head timer (not the idle
        /// timer) is running.
        head_started: bool,
    },
    /// A handler's response is still being prepared (a large listing): one
    /// slice of the work per turn, yielding to the worker's other
    /// connections in between; then Writing.
    Preparing {
        work: Box<dyn Preparation>,
        /// The answer's framing, kept for the response once it is ready.
        head_only: bool,
        http10: bool,
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
    /// The last response closed the connection while the client may still be
    /// sending; our side is shut: read and discard until the client closes,
    /// so it is not sent a reset before it has read the answer.
    Lingering {
        /// Bytes thrown away so far (at most `MAX_LINGER_BYTES`).
        discarded: usize,
    },
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

/// What the worker lends its connections while driving them.
pub struct Context<'a> {
    pub shared: &'a Shared,
    /// This worker's router (and so its file caches), buffers and clock.
    pub local: &'a mut Local,
    pub now: Instant,
    /// The server is shutting down: finish the current response, take no more.
    pub draining: bool,
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
    /// Received bytes not yet consumed (a partial head, a body being
    /// buffered, pipelined requests).
    input: Vec<u8>,
    /// Bytes of the server's head memory budget `input` holds.
    budgeted: usize,
    /// Request body bytes still to skip before the next request starts.
    discard: u64,
    readiness: Readiness,
    /// When the current wait (head, idle, send progress, linger) expires.
    deadline: Instant,
    /// The answered request's access-log fields, until its response ends.
    entry: Entry,
    /// Bytes of the current response written so far (head and body).
    sent: u64,
    /// Bytes of its head, so `sent` minus this is the body sent.
    head_len: u64,
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
            input: Vec::new(),
            budgeted: 0,
            discard: 0,
            readiness: Readiness::default(),
            deadline: now + shared.config.idle_timeout,
            entry: Entry::default(),
            sent: 0,
            head_len: 0,
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

    /// Gives back this connection's share of the head memory budget (the
    /// worker calls it before dropping the connection); returns the bytes.
    pub fn release_input(&mut self, shared: &Shared) -> usize {
        self.input = Vec::new();
        let released = std::mem::take(&mut self.budgeted);
        shared.budget.release(released);
        released
    }

    /// Writes the access-log line of a response that has ended, fully sent
    /// or not (the worker calls this before dropping a connection), with
    /// the body bytes actually sent.
    pub fn finish_entry(&mut self, local: &mut Local, shared: &Shared) {
        if self.entry.is_pending() {
            let body_sent = self.sent.saturating_sub(self.head_len);
            local.log.finish(&mut self.entry, body_sent, &local.clock, &shared.access_log);
        }
    }

    /// Gives this connection's entry buffer back to the worker's spares.
    pub fn release_entry(&mut self, local: &mut Local) {
        local.log.give_spare(self.entry.take_buffer());
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
            && self.discard == 0
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
            match self.state {
                State::AwaitingProxyHeader => match self.read_proxy_header(cx) {
                    Ok(true) => {}
                    Ok(false) => return Turn::Wait,
                    Err(e) => {
                        log::debug!("{}: read failed: {e}", self.peer);
                        self.state = State::Closed;
                    }
                },
                State::Reading { .. } => {
                    if budget_requests == 0 {
                        return Turn::Yield;
                    }
                    match self.read_turn(cx, &mut ahead) {
                        Ok(Some(true)) => budget_requests -= 1,
                        Ok(Some(false)) => {}
                        Ok(None) => return Turn::Wait,
                        Err(e) => {
                            log::debug!("{}: read failed: {e}", self.peer);
                            self.state = State::Closed;
                        }
                    }
                }
                State::Preparing { .. } => {
                    if !self.prepare(cx) {
                        return Turn::Yield;
                    }
                }
                State::Writing { .. } => match self.flush(cx, &mut budget_bytes) {
                    Ok(true) => self.finish_response(cx),
                    Ok(false) if budget_bytes == 0 => return Turn::Yield,
                    Ok(false) => return Turn::Wait,
                    Err(e) => {
                        log::debug!("{}: write failed: {e}", self.peer);
                        self.state = State::Closed;
                    }
                },
                State::Lingering { .. } => return self.linger(),
                State::Closed => return Turn::Closed,
            }
        }
    }

    /// Acts on an expired deadline (408, or a quiet close).
    pub fn expire(&mut self, cx: &mut Context) -> Turn {
        if cx.now < self.deadline {
            return Turn::Wait;
        }
        match self.state {
            State::Reading { .. } if !self.input.is_empty() || self.discard > 0 => {
                log::info!("{}: request head not received in time", self.peer);
                self.refuse(408, cx);
                self.drive(cx)
            }
            // Idle keep-alive, a silent new connection, a stalled reader, or
            // a client that will not close: drop without a word.
            _ => {
                if matches!(self.state, State::Writing { .. }) {
                    log::info!("{}: client stopped reading; dropping response", self.peer);
                } else if self.transport.is_handshaking() {
                    log::debug!("{}: TLS handshake not finished in time; closing", self.peer);
                }
                self.state = State::Closed;
                Turn::Closed
            }
        }
    }

    /// Called once when the server starts draining (`cx.draining` is set).
    pub fn begin_shutdown(&mut self, cx: &mut Context) -> Turn {
        self.drive(cx)
    }

    /// The AwaitingProxyHeader state: read until the header is complete,
    /// then take the client's address from it and go on Reading; close
    /// the connection if it does not start with one. `Ok(true)` to go on,
    /// `Ok(false)` to wait for readiness.
    fn read_proxy_header(&mut self, cx: &mut Context) -> io::Result<bool> {
        loop {
            match proxy::parse_header(&self.input) {
                ProxyHeader::Complete { len, source } => {
                    if let Some(source) = source {
                        self.client = source;
                    }
                    self.input.drain(..len);
                    // Over TLS what follows the header is the handshake: the transport's.
                    if self.transport.give_back(&self.input) {
                        self.release_input(cx.shared);
                        // They wait in the transport, not the socket: read them next.
                        self.readiness.readable = true;
                    }
                    self.state = State::Reading { head_started: false };
                    return Ok(true);
                }
                ProxyHeader::Invalid(why) => {
                    log::info!("{}: {why} (a PROXY header is required); closing", self.peer);
                    self.state = State::Closed;
                    return Ok(true);
                }
                ProxyHeader::Incomplete => {}
            }
            if self.readiness.peer_eof {
                self.state = State::Closed;
                return Ok(true);
            }
            if !self.readiness.readable {
                return Ok(false);
            }
            // Read no further than the longest header: what follows is the
            // request, read by the Reading state.
            let mut chunk = [const { MaybeUninit::<u8>::uninit() }; proxy::V2_MAX];
            let room = proxy::V2_MAX.saturating_sub(self.input.len()).max(1);
            match self.transport.read_raw(&mut chunk[..room]) {
                Ok([]) => self.readiness.peer_eof = true,
                Ok(bytes) => {
                    let drained = Transport::SHORT_READ_MEANS_DRAINED && bytes.len() < room;
                    self.readiness.readable = !drained || self.readiness.read_closed;
                    if !self.buffer_input(bytes, cx) {
                        self.state = State::Closed;
                        return Ok(true);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readiness.readable = false;
                    return Ok(false);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// One step of the Reading state: answer what is buffered, or read.
    /// `Ok(Some(answered))` to go on, `Ok(None)` to wait for readiness.
    /// `ahead`: bytes read ahead of the turn, taken instead of a read.
    fn read_turn(&mut self, cx: &mut Context, ahead: &mut Option<&[u8]>) -> io::Result<Option<bool>> {
        let limit = match self.step(cx, None) {
            Step::Wait { limit } => limit,
            Step::Went { answered, .. } => return Ok(Some(answered)),
        };
        if let Some(bytes) = ahead.take() {
            return Ok(Some(self.take_input(bytes, cx)));
        }
        if self.readiness.peer_eof {
            self.state = State::Closed;
            return Ok(Some(false));
        }
        if !self.readiness.readable || self.input.len() >= limit {
            // A TLS handshake answer the socket could not take goes out on
            // writability, which brings no readable event.
            return self.flush_handshake().map(|()| None);
        }
        // Not zeroed: `read` returns only what the transport wrote.
        let mut chunk = [const { MaybeUninit::<u8>::uninit() }; READ_CHUNK];
        let bytes = match self.transport.read(&mut chunk) {
            Ok([]) => {
                self.readiness.peer_eof = true;
                return Ok(Some(false));
            }
            Ok(bytes) => {
                self.note_read(bytes.len(), READ_CHUNK);
                bytes
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.readiness.readable = false;
                self.start_handshake_timer(cx);
                return Ok(None);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(Some(false)),
            Err(e) if budget::is_refusal(&e) => {
                // A TLS record in progress found no room: an HTTP answer
                // once the handshake allows one, else a close.
                if self.transport.is_handshaking() {
                    log::info!("{}: {e}; closing", self.peer);
                    self.state = State::Closed;
                } else {
                    self.over_budget(cx);
                }
                return Ok(Some(false));
            }
            Err(e) => return Err(e),
        };
        Ok(Some(self.take_input(bytes, cx)))
    }

    /// Answers what `bytes` (just read) complete, buffering the rest;
    /// whether a request was answered.
    fn take_input(&mut self, bytes: &[u8], cx: &mut Context) -> bool {
        let mut rest = bytes;
        let mut answered = false;
        if self.input.is_empty() && self.discard == 0 {
            // The common case: a whole request in one read, answered straight
            // from the stack, so a connection owns heap memory only for a
            // partial head, a body being buffered, or pipelined leftovers.
            match self.step(cx, Some(bytes)) {
                Step::Went { answered: true, consumed } => {
                    rest = &bytes[consumed..];
                    answered = true;
                }
                Step::Went { answered: false, .. } => return false, // stopped
                Step::Wait { .. } => {}
            }
        }
        if !rest.is_empty() && !self.buffer_input(rest, cx) {
            match &mut self.state {
                // A response is already queued: it goes out, then the
                // connection closes; the pipelined bytes are dropped.
                State::Writing { persistence, .. } | State::Preparing { persistence, .. } => {
                    *persistence = Persistence::Linger
                }
                _ => self.over_budget(cx),
            }
            return true;
        }
        answered
    }

    /// Runs the exchange over `stack` (a fresh read while nothing is
    /// buffered) or the buffered input, and performs its decision.
    fn step(&mut self, cx: &mut Context, stack: Option<&[u8]>) -> Step {
        // The phase itself, not just the worker's view of it: health turns
        // 503 from the signal on, even before this worker has woken to it.
        let draining = cx.draining || cx.shared.phase() != Phase::Running;
        let facts = Facts {
            peer: self.client,
            now: cx.now,
            draining,
            discard: self.discard,
            plain_on_tls_port: self.transport.is_plain_on_tls_port(),
        };
        let entry = if cx.shared.access_log.enabled() {
            Some(Recorder { entry: &mut self.entry, spares: &mut cx.local.log })
        } else {
            None
        };
        let mut around = Surroundings { config: &cx.shared.config, router: &mut cx.local.router, entry };
        let input = stack.unwrap_or(&self.input);
        let nothing_buffered = input.is_empty();
        match exchange::decide(input, &facts, &mut around) {
            Decision::Discard(n) => {
                self.input.drain(..n);
                self.discard -= n as u64;
                Step::Went { answered: false, consumed: n }
            }
            Decision::Wait { limit, head_started } => {
                if nothing_buffered && self.budgeted > 0 {
                    // Release the buffer of a head that arrived in pieces: an
                    // idle connection should hold no memory of its own.
                    self.release_input(cx.shared);
                }
                if let State::Reading { head_started: started } = &mut self.state {
                    if head_started && !*started {
                        // The head has begun: it now has head_timeout to finish.
                        *started = true;
                        self.deadline = cx.now + cx.shared.config.head_timeout;
                    }
                }
                Step::Wait { limit }
            }
            Decision::Answer(answer) => {
                let consumed = answer.consumed;
                if stack.is_none() {
                    self.input.drain(..consumed);
                }
                self.queue(answer, cx);
                Step::Went { answered: true, consumed }
            }
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

    /// Appends `bytes` to the input, growing it within the server's head
    /// memory budget; false (nothing appended) when the budget is spent.
    fn buffer_input(&mut self, bytes: &[u8], cx: &mut Context) -> bool {
        let needed = self.input.len() + bytes.len();
        if needed > self.budgeted {
            let capacity = needed.max(self.budgeted * 2).max(READ_CHUNK);
            match cx.shared.budget.try_take(capacity - self.budgeted) {
                Taken::Yes => {}
                Taken::NoFirst => {
                    log::warn!(
                        "{}: connections hold the whole memory budget ({} bytes, \
                         Config::max_pending_head_bytes); answering {OVER_BUDGET_STATUS} until there is room",
                        self.peer,
                        cx.shared.config.max_pending_head_bytes
                    );
                    return false;
                }
                Taken::No => return false,
            }
            self.input.reserve_exact(capacity - self.input.len());
            self.budgeted = capacity;
        }
        self.input.extend_from_slice(bytes);
        true
    }

    /// The server's partial-head memory is spent: 503 and close, so one
    /// flood of unfinished heads cannot exhaust memory.
    fn over_budget(&mut self, cx: &mut Context) {
        log::info!("{}: no room in the memory budget; answering {OVER_BUDGET_STATUS}", self.peer);
        self.refuse(OVER_BUDGET_STATUS, cx);
    }

    /// Answers `status` and closes (lingering), dropping all input.
    fn refuse(&mut self, status: u16, cx: &mut Context) {
        self.release_input(cx.shared);
        self.discard = 0;
        if cx.shared.access_log.enabled() {
            Recorder { entry: &mut self.entry, spares: &mut cx.local.log }.record(
                self.client.ip(),
                None,
                status,
                cx.now,
            );
        }
        self.queue(Answer::error(status, 0), cx);
    }

    /// Advances the response in preparation by one slice; true once it is
    /// ready and queued (the connection is then Writing).
    fn prepare(&mut self, cx: &mut Context) -> bool {
        let State::Preparing { work, .. } = &mut self.state else { return true };
        let Some(response) = work.advance() else { return false };
        let State::Preparing { head_only, http10, persistence, .. } = std::mem::replace(&mut self.state, State::Closed)
        else {
            return true; // OK: matched just above
        };
        self.entry.set_status(response.status);
        let discard = self.discard;
        self.queue(Answer { response, head_only, http10, persistence, consumed: 0, discard }, cx);
        true
    }

    /// Encodes an answer into a pooled output buffer and switches to
    /// Writing, or to Preparing when the response is not ready yet.
    fn queue(&mut self, answer: Answer, cx: &mut Context) {
        if let Body::Later(work) = answer.response.body {
            self.discard = answer.discard;
            self.deadline = cx.now + cx.shared.config.send_timeout;
            self.state = State::Preparing {
                work,
                head_only: answer.head_only,
                http10: answer.http10,
                persistence: answer.persistence,
            };
            return;
        }
        let mut out = cx.local.buffers.take();
        // Bytes of the body that go out of `out` behind the head.
        let in_memory_body = match &answer.response.body {
            Body::Bytes(_) | Body::Shared(_) if !answer.head_only => answer.response.body.len(),
            _ => 0,
        };
        let body = exchange::encode(
            answer.response,
            answer.head_only,
            answer.persistence,
            answer.http10,
            cx.local.clock.date(),
            &mut out,
        );
        let (file, chunks) = match body {
            Some(body) => (body.file, body.chunks.into()),
            None => (None, VecDeque::new()),
        };
        self.head_len = (out.len() as u64).saturating_sub(in_memory_body);
        self.sent = 0;
        self.discard = answer.discard;
        self.deadline = cx.now + cx.shared.config.send_timeout;
        self.state = State::Writing { out, pos: 0, file, chunks, persistence: answer.persistence };
    }

    /// Sends pending output. `Ok(true)` when the response is fully sent.
    fn flush(&mut self, cx: &Context, budget: &mut u64) -> io::Result<bool> {
        let State::Writing { out, pos, file, chunks, persistence } = &mut self.state else { return Ok(true) };
        // When this call made its first streamed piece (see STREAM_TURN_TIME).
        let mut streaming_since: Option<Instant> = None;
        loop {
            if *budget == 0 {
                return Ok(false);
            }
            if *pos < out.len() {
                // Hold the bytes back when a file body follows, so head and
                // body share segments; and when the connection ends after
                // this response, so the FIN that close or shutdown sends
                // rides on the last data segment, as with nginx's TCP_CORK
                // (one segment fewer per connection).
                let more = !chunks.is_empty() || *persistence != Persistence::KeepAlive || cx.draining;
                match self.transport.write(&out[*pos..], more) {
                    Ok(n) => {
                        *pos += n;
                        self.sent += n as u64;
                        *budget = budget.saturating_sub(n as u64);
                        self.deadline = cx.now + cx.shared.config.send_timeout;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
                continue;
            }
            match chunks.front_mut() {
                // Sent once the transport holds nothing back (TLS records).
                None => match self.transport.flush() {
                    Ok(()) => return Ok(true),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                },
                Some(Chunk::Bytes(bytes)) => {
                    out.clear();
                    out.append(bytes);
                    *pos = 0;
                    chunks.pop_front();
                }
                Some(Chunk::Range { len: 0, .. }) => {
                    chunks.pop_front();
                }
                Some(Chunk::Stream { source, chunked }) => {
                    // The next piece goes through `out`, whose bytes are all
                    // sent. Each piece is charged a whole piece against the
                    // turn, so pieces that are mostly work (a folder of
                    // empty files) cannot keep the turn going either; and
                    // the turn ends once its pieces took STREAM_TURN_TIME.
                    let since = *streaming_since.get_or_insert_with(Instant::now);
                    let cost = source.turn_cost();
                    if !response::next_piece(source.as_mut(), *chunked, out)? {
                        chunks.pop_front();
                    }
                    *pos = 0;
                    *budget = budget.saturating_sub(cost);
                    if since.elapsed() >= STREAM_TURN_TIME {
                        *budget = 0;
                    }
                    // Asked for only once the last piece is sent: progress,
                    // even when a piece is empty (entries left out).
                    self.deadline = cx.now + cx.shared.config.send_timeout;
                }
                Some(Chunk::Range { offset, len }) => {
                    // OK because a Range chunk only comes with Body::File.
                    let file = file.as_ref().expect("file body has a file");
                    let count = (*len).min(MAX_SENDFILE as u64) as usize;
                    match self.transport.send_file(file, offset, count) {
                        Ok(0) => {
                            // The file shrank under us: the promised length
                            // cannot be kept, so the connection must end.
                            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file truncated while sending"));
                        }
                        Ok(n) => {
                            *len -= n as u64;
                            self.sent += n as u64;
                            *budget = budget.saturating_sub(n as u64);
                            self.deadline = cx.now + cx.shared.config.send_timeout;
                            if *len > 0 {
                                *budget = 0; // the pacing of MAX_SENDFILE: the next call next turn
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }

    /// After a response is fully sent: next request, or close.
    fn finish_response(&mut self, cx: &mut Context) {
        let State::Writing { out, persistence, .. } = std::mem::replace(&mut self.state, State::Closed) else {
            return;
        };
        cx.local.buffers.give(out);
        self.finish_entry(cx.local, cx.shared);
        let more_may_come = self.readiness.readable || !self.input.is_empty();
        match exchange::after_response(persistence, self.readiness.peer_eof, more_may_come) {
            Next::Read => {
                self.state = State::Reading { head_started: false };
                // A body still to skip is part of the request: it gets the head
                // timeout, not the idle one, and is not extended by trickling.
                let wait = if self.discard > 0 { cx.shared.config.head_timeout } else { cx.shared.config.idle_timeout };
                self.deadline = cx.now + wait;
            }
            Next::Close => self.state = State::Closed,
            Next::Linger => {
                // Shut our side so the client sees the end, then read and
                // discard until it closes too.
                let _ = self.transport.shutdown_write();
                self.release_input(cx.shared);
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

/// What one exchange step did.
enum Step {
    /// Nothing to answer: read more while the input is shorter than `limit`.
    Wait { limit: usize },
    /// Performed a decision (`answered`: queued a response), using `consumed` bytes.
    Went { answered: bool, consumed: usize },
}
