//! One client connection: a state machine over a non-blocking socket.
//!
//! ```text
//!  Reading ──complete head──▶ Writing ──sent, keep-alive──▶ Reading
//!     │ bad head / timeout        │ sent, close
//!     └──────▶ Writing ───────────┴──────▶ Lingering ──EOF / timeout──▶ Closed
//! ```
//!
//! The worker calls [`Connection::drive`] when the socket is ready; it does
//! as much reading, answering and writing as the socket allows, then returns
//! without ever blocking. Routing is left to `handlers`, serialisation to
//! `http::response`; this module owns only the socket, the buffers, the
//! framing of one request after another, timeouts and the access log.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::mem::MaybeUninit;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsRawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use mio::net::TcpStream;

use crate::clock::Clock;
use crate::config::Config;
use crate::handlers::LocalRouter;
use crate::http::request::{self, BodyLength, Method, Request, RequestError, Version};
use crate::http::response::{Body, Chunk, Response};

/// Bytes asked of the socket per read. Requests are rarely larger, and the
/// buffer grows (up to `Config::max_head_bytes`) when one is.
const READ_CHUNK: usize = 4096;
/// Output buffers larger than this are freed instead of going back to the
/// pool. It fits a head plus the largest cached file (64 KiB by default),
/// so serving cached files allocates nothing.
const KEEP_OUT_CAPACITY: usize = 80 * 1024;
/// Spare output buffers a worker keeps: enough for the connections that
/// write at the same moment; more would only be idle memory.
const POOLED_BUFFERS: usize = 32;
/// Most bytes handed to one `sendfile` call.
const MAX_SENDFILE: usize = 1 << 20;
/// Bytes or requests one connection may process per turn before yielding to
/// the others in its worker, so a fast client cannot starve them.
const TURN_BYTES: u64 = 4 << 20;
const TURN_REQUESTS: u32 = 64;
/// Bytes read and thrown away while lingering, at most.
const MAX_LINGER_BYTES: usize = 256 * 1024;

/// Output buffers lent to connections while they write a response, so an
/// idle connection holds none and the hot path allocates none.
#[derive(Debug, Default)]
pub struct BufferPool {
    free: Vec<Vec<u8>>,
}

impl BufferPool {
    fn take(&mut self) -> Vec<u8> {
        self.free.pop().unwrap_or_default()
    }

    fn give(&mut self, mut buffer: Vec<u8>) {
        if buffer.capacity() > 0 && buffer.capacity() <= KEEP_OUT_CAPACITY && self.free.len() < POOLED_BUFFERS {
            buffer.clear();
            self.free.push(buffer);
        }
    }
}

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for (the rest of) a request head, or for a request body to
    /// be skipped. Bytes received so far are in `input`.
    Reading,
    /// Sending a response: `out[out_pos..]`, then `chunks` from `file`.
    Writing,
    /// The last response said `Connection: close` and our side is shut:
    /// read and discard until the client closes, so it is not sent a reset
    /// before it has read the answer.
    Lingering,
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

/// What the worker shares with its connections while driving them.
pub struct Context<'a> {
    pub config: &'a Config,
    pub clock: &'a Clock,
    /// This worker's router, with its own handler instances.
    pub router: &'a RefCell<LocalRouter>,
    /// This worker's spare output buffers.
    pub buffers: &'a RefCell<BufferPool>,
    pub now: Instant,
    /// The server is shutting down: finish the current response, take no more.
    pub draining: bool,
}

pub struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    state: State,
    /// Received bytes not yet consumed (a partial head, pipelined requests).
    input: Vec<u8>,
    /// Request body bytes still to skip before the next request starts.
    discard: u64,
    /// The socket may have more to read (edge-triggered: set by a readable
    /// event, cleared by a short read or `WouldBlock`).
    readable: bool,
    /// Part of a request head has arrived (the head timer is running).
    head_started: bool,
    /// The client has shut its sending side (a read returned 0).
    peer_eof: bool,
    /// A readiness event reported the client's FIN; a read will return 0
    /// once the data before it is consumed.
    read_closed: bool,
    /// Response head (and small body) to send, from `out_pos`.
    out: Vec<u8>,
    out_pos: usize,
    /// File body being sent, and the pieces of it still to go.
    file: Option<File>,
    chunks: VecDeque<Chunk>,
    /// Whether to read another request after the current response.
    keep_alive: bool,
    /// When the current wait (head, idle, send progress, linger) expires.
    deadline: Instant,
    lingered: usize,
    /// The client sent, or may still send, data that was not read (a
    /// refused head, an unread body): close with a linger.
    unread: bool,
}

impl Connection {
    pub fn new(stream: TcpStream, peer: SocketAddr, config: &Config, now: Instant) -> Connection {
        Connection {
            stream,
            peer,
            state: State::Reading,
            input: Vec::new(),
            discard: 0,
            readable: false,
            head_started: false,
            peer_eof: false,
            read_closed: false,
            out: Vec::new(),
            out_pos: 0,
            file: None,
            chunks: VecDeque::new(),
            keep_alive: true,
            deadline: now + config.idle_timeout,
            lingered: 0,
            unread: false,
        }
    }

    /// Joins `registry`'s poll set (edge-triggered). Readiness that is
    /// already there when it joins is reported, so nothing is missed.
    pub fn register(&mut self, registry: &mio::Registry, token: mio::Token, interest: mio::Interest) -> io::Result<()> {
        registry.register(&mut self.stream, token, interest)
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Records a readiness event; call `drive` afterwards.
    /// `read_closed`: the event also said the client has shut its side,
    /// so the socket must be read until it reports the end, even after a
    /// short read (a FIN that came with the data brings no further event).
    pub fn mark_readable(&mut self, read_closed: bool) {
        self.readable = true;
        self.read_closed |= read_closed;
    }

    /// Does all the work the socket allows right now.
    pub fn drive(&mut self, cx: &Context) -> Turn {
        let mut budget_bytes = TURN_BYTES;
        let mut budget_requests = TURN_REQUESTS;
        loop {
            match self.state {
                State::Reading => {
                    if cx.draining && self.discard == 0 && !self.has_complete_head(cx) {
                        self.state = State::Closed;
                        continue;
                    }
                    if budget_requests == 0 {
                        return Turn::Yield;
                    }
                    if self.answer_buffered(cx) {
                        budget_requests -= 1;
                        continue;
                    }
                    if self.peer_eof {
                        self.state = State::Closed;
                        continue;
                    }
                    if !self.readable {
                        return Turn::Wait;
                    }
                    match self.read_and_answer(cx) {
                        Ok(true) => budget_requests -= 1,
                        Ok(false) => {}
                        Err(e) => {
                            log::debug!("{}: read failed: {e}", self.peer);
                            self.state = State::Closed;
                        }
                    }
                }
                State::Writing => match self.flush(cx, &mut budget_bytes) {
                    Ok(true) => self.finish_response(cx),
                    Ok(false) if budget_bytes == 0 => return Turn::Yield,
                    Ok(false) => return Turn::Wait,
                    Err(e) => {
                        log::debug!("{}: write failed: {e}", self.peer);
                        self.state = State::Closed;
                    }
                },
                State::Lingering => return self.linger(),
                State::Closed => return Turn::Closed,
            }
        }
    }

    /// Acts on an expired deadline (408, or a quiet close).
    pub fn expire(&mut self, cx: &Context) -> Turn {
        if cx.now < self.deadline {
            return Turn::Wait;
        }
        match self.state {
            State::Reading if !self.input.is_empty() || self.discard > 0 => {
                log::info!("{}: request head not received in time", self.peer);
                self.queue_error(408, cx);
                self.drive(cx)
            }
            // Idle keep-alive, a silent new connection, a stalled reader, or
            // a client that will not close: drop without a word.
            _ => {
                if self.state == State::Writing {
                    log::info!("{}: client stopped reading; dropping response", self.peer);
                }
                self.state = State::Closed;
                Turn::Closed
            }
        }
    }

    /// Called once when the server starts draining.
    pub fn begin_shutdown(&mut self, cx: &Context) -> Turn {
        self.keep_alive = false;
        self.drive(cx)
    }

    fn has_complete_head(&self, cx: &Context) -> bool {
        !self.input.is_empty() && matches!(request::parse(&self.input, cx.config.max_headers), Ok(Some(_)))
    }

    /// Reads what the socket has into a stack buffer. In the common case
    /// (nothing buffered, a whole request in one read) the request is
    /// answered straight from there, so a connection owns heap memory only
    /// for a partial head or pipelined leftovers. Returns whether a
    /// response was queued.
    fn read_and_answer(&mut self, cx: &Context) -> io::Result<bool> {
        // Not zeroed: `recv` writes what it returns, and only that is read.
        let mut chunk = MaybeUninit::<[u8; READ_CHUNK]>::uninit();
        let limit = cx.config.max_head_bytes + READ_CHUNK;
        let want = READ_CHUNK.min(limit.saturating_sub(self.input.len()));
        if want == 0 {
            return Ok(false); // answer_buffered reports the oversized head
        }
        let n = match recv(self.stream.as_raw_fd(), &mut chunk, want) {
            Ok(0) => {
                self.peer_eof = true;
                return Ok(false);
            }
            Ok(n) => {
                // A short read means the socket is drained (epoll(7)),
                // unless a FIN is waiting behind the data.
                self.readable = n == want || self.read_closed;
                n
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.readable = false;
                return Ok(false);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(false),
            Err(e) => return Err(e),
        };
        // SAFETY: recv initialised the first `n` bytes (n <= want <= READ_CHUNK).
        let bytes = unsafe { std::slice::from_raw_parts(chunk.as_ptr().cast::<u8>(), n) };
        if !self.input.is_empty() || self.discard > 0 {
            self.input.extend_from_slice(bytes);
            return Ok(false); // answer_buffered takes it from here
        }
        match self.answer_from(bytes, cx) {
            Some(consumed) => {
                self.input.extend_from_slice(&bytes[consumed..]);
                Ok(true)
            }
            None => {
                self.input.extend_from_slice(bytes);
                Ok(false)
            }
        }
    }

    /// Skips body bytes, then answers one buffered request if its head is
    /// complete. Returns whether a response was queued.
    fn answer_buffered(&mut self, cx: &Context) -> bool {
        if self.discard > 0 {
            let n = self.discard.min(self.input.len() as u64) as usize;
            self.input.drain(..n);
            self.discard -= n as u64;
        }
        if self.input.is_empty() {
            // Release the buffer of a head that arrived in pieces: an idle
            // connection should hold no memory of its own.
            self.input = Vec::new();
            return false;
        }
        if self.discard > 0 {
            return false;
        }
        let mut input = std::mem::take(&mut self.input);
        let answered = self.answer_from(&input, cx);
        if let Some(consumed) = answered {
            input.drain(..consumed);
        }
        self.input = input;
        answered.is_some()
    }

    /// Parses a request head at the start of `bytes` and queues the answer.
    /// Returns how many bytes it consumed, or `None` when the head is
    /// incomplete.
    fn answer_from(&mut self, bytes: &[u8], cx: &Context) -> Option<usize> {
        let max_head = cx.config.max_head_bytes;
        // A later HTTP/1.x is parsed again from a copy that says 1.1.
        let rewritten;
        let parsed = match request::parse(bytes, cx.config.max_headers) {
            Err(RequestError::MinorVersion) => match request::as_http11(bytes) {
                Some(copy) => {
                    rewritten = copy;
                    request::parse(&rewritten, cx.config.max_headers)
                }
                None => Err(RequestError::MinorVersion),
            },
            parsed => parsed,
        };
        let answer = match parsed {
            Ok(Some(request)) if request.head_len > max_head => {
                Answer::refuse(RequestError::HeadTooLarge, self.peer, cx)
            }
            Ok(Some(request)) => answer(&request, self.peer, cx),
            Ok(None) if bytes.len() >= max_head => {
                let error =
                    if bytes.contains(&b'\n') { RequestError::HeadTooLarge } else { RequestError::TargetTooLong };
                Answer::refuse(error, self.peer, cx)
            }
            Ok(None) => {
                if !self.head_started {
                    // The head has begun: it now has head_timeout to finish.
                    self.head_started = true;
                    self.deadline = cx.now + cx.config.head_timeout;
                }
                return None;
            }
            Err(error) => Answer::refuse(error, self.peer, cx),
        };
        self.unread = answer.unread;
        self.head_started = false;
        self.discard = answer.discard;
        self.queue(answer.response, answer.head_only, answer.keep_alive, answer.http10, cx);
        Some(answer.consumed.min(bytes.len()))
    }

    fn queue_error(&mut self, status: u16, cx: &Context) {
        log_access(self.peer, None, status, 0, cx);
        self.unread = true;
        self.input.clear();
        self.discard = 0;
        self.queue(Response::error(status), false, false, false, cx);
    }

    /// Serialises `response` into the output buffer and switches to Writing.
    fn queue(&mut self, response: Response, head_only: bool, keep_alive: bool, http10: bool, cx: &Context) {
        self.keep_alive = keep_alive && !cx.draining;
        if self.out.capacity() == 0 {
            self.out = cx.buffers.borrow_mut().take();
        }
        self.out.clear();
        self.out_pos = 0;
        response.write_head(&mut self.out, cx.clock.date(), self.keep_alive, http10);
        if !head_only {
            match response.body {
                Body::Empty => {}
                Body::Bytes(bytes) => self.out.extend_from_slice(&bytes),
                Body::Shared(bytes) => self.out.extend_from_slice(&bytes),
                Body::File { file, chunks } => {
                    self.file = Some(file);
                    self.chunks = chunks.into();
                }
            }
        }
        self.deadline = cx.now + cx.config.send_timeout;
        self.state = State::Writing;
    }

    /// Sends pending output. `Ok(true)` when the response is fully sent.
    fn flush(&mut self, cx: &Context, budget: &mut u64) -> io::Result<bool> {
        let fd = self.stream.as_raw_fd();
        loop {
            if *budget == 0 {
                return Ok(false);
            }
            if self.out_pos < self.out.len() {
                // Hold the bytes back (MSG_MORE) when a file body follows, so
                // head and body share segments; and when the connection ends
                // after this response, so the FIN that close or shutdown
                // sends rides on the last data segment, as with nginx's
                // TCP_CORK (one segment fewer per connection).
                let more = !self.chunks.is_empty() || !self.keep_alive;
                match send(fd, &self.out[self.out_pos..], more) {
                    Ok(n) => {
                        self.out_pos += n;
                        *budget = budget.saturating_sub(n as u64);
                        self.deadline = cx.now + cx.config.send_timeout;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
                continue;
            }
            match self.chunks.front_mut() {
                None => return Ok(true),
                Some(Chunk::Bytes(bytes)) => {
                    self.out.clear();
                    self.out.append(bytes);
                    self.out_pos = 0;
                    self.chunks.pop_front();
                }
                Some(Chunk::Range { len: 0, .. }) => {
                    self.chunks.pop_front();
                }
                Some(Chunk::Range { offset, len }) => {
                    // OK because a Range chunk only comes with Body::File.
                    let file = self.file.as_ref().expect("file body has a file");
                    let count = (*len).min(MAX_SENDFILE as u64) as usize;
                    match sendfile(fd, file.as_raw_fd(), offset, count) {
                        Ok(0) => {
                            // The file shrank under us: the promised length
                            // cannot be kept, so the connection must end.
                            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file truncated while sending"));
                        }
                        Ok(n) => {
                            *len -= n as u64;
                            *budget = budget.saturating_sub(n as u64);
                            self.deadline = cx.now + cx.config.send_timeout;
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
    fn finish_response(&mut self, cx: &Context) {
        self.file = None;
        self.chunks.clear();
        cx.buffers.borrow_mut().give(std::mem::take(&mut self.out));
        self.out_pos = 0;
        if self.keep_alive && !cx.draining {
            self.state = State::Reading;
            // A body still to skip is part of the request: it gets the head
            // timeout, not the idle one, and is not extended by trickling.
            let wait = if self.discard > 0 { cx.config.head_timeout } else { cx.config.idle_timeout };
            self.deadline = cx.now + wait;
        } else if self.peer_eof || !(self.unread || self.readable || !self.input.is_empty()) {
            // Nothing more is coming from the client: a plain close sends FIN.
            self.state = State::Closed;
        } else {
            // The client may still be sending (a refused head, a body we did
            // not read): closing now would answer its data with a reset that
            // can destroy our response in flight. Shut our side so it sees the
            // end, then read and discard until it closes too.
            let _ = self.stream.shutdown(Shutdown::Write);
            self.input = Vec::new();
            self.state = State::Lingering;
            self.deadline = cx.now + cx.config.linger_timeout;
        }
    }

    fn linger(&mut self) -> Turn {
        let mut scratch = [0u8; 4096];
        loop {
            match self.stream.read(&mut scratch) {
                Ok(0) => break,
                Ok(n) => {
                    self.lingered += n;
                    if self.lingered > MAX_LINGER_BYTES {
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

/// A response decided for one request, with how to frame what follows.
struct Answer {
    response: Response,
    head_only: bool,
    keep_alive: bool,
    http10: bool,
    /// Head bytes to drop from the input.
    consumed: usize,
    /// Body bytes to skip after the head.
    discard: u64,
    /// The request left data unread (see `Connection::unread`).
    unread: bool,
}

impl Answer {
    /// The answer to a head that could not be accepted: an error and close.
    fn refuse(error: RequestError, peer: SocketAddr, cx: &Context) -> Answer {
        log::info!("{peer}: {error}");
        log_access(peer, None, error.status(), 0, cx);
        Answer {
            response: Response::error(error.status()),
            head_only: false,
            keep_alive: false,
            http10: false,
            consumed: usize::MAX,
            discard: 0,
            unread: true,
        }
    }
}

/// Routes a parsed request and decides how the connection continues.
fn answer(request: &Request, peer: SocketAddr, cx: &Context) -> Answer {
    let mut keep_alive = request.keep_alive;
    let mut discard = 0;
    let mut unread = false;
    match request.body {
        BodyLength::None => {}
        BodyLength::Length(n) if n > cx.config.max_body_bytes => {
            return Answer::refuse(RequestError::BodyTooLarge, peer, cx);
        }
        // A client waiting for "100 Continue" may never send the body, so
        // its length cannot be trusted to find the next request: close.
        BodyLength::Length(_) if request.header("expect").is_some() => (keep_alive, unread) = (false, true),
        BodyLength::Length(n) => discard = n,
        BodyLength::Chunked => (keep_alive, unread) = (false, true),
    }
    let response = match catch_unwind(AssertUnwindSafe(|| cx.router.borrow_mut().route(request))) {
        Ok(response) => response,
        Err(_) => {
            log::warn!("{peer}: handler panicked on {} {}", request.method_str, request.target);
            keep_alive = false;
            Response::error(500)
        }
    };
    keep_alive &= !response.close;
    let head_only = request.method == Method::Head;
    let sent = if head_only { 0 } else { response.body.len() };
    log_access(peer, Some(request), response.status, sent, cx);
    Answer {
        response,
        head_only,
        keep_alive,
        http10: request.version == Version::Http10,
        consumed: request.head_len,
        discard,
        unread,
    }
}

/// One Common Log Format line on target `access`.
fn log_access(peer: SocketAddr, request: Option<&Request>, status: u16, bytes: u64, cx: &Context) {
    if !log::log_enabled!(target: "access", log::Level::Info) {
        return;
    }
    let bytes = if bytes == 0 { "-".to_string() } else { bytes.to_string() };
    match request {
        Some(r) => log::info!(
            target: "access",
            "{} - - [{}] \"{} {} {}\" {status} {bytes}",
            peer.ip(),
            cx.clock.clf(),
            r.method_str,
            r.target,
            r.version.as_str()
        ),
        None => log::info!(target: "access", "{} - - [{}] \"-\" {status} {bytes}", peer.ip(), cx.clock.clf()),
    }
}

/// `recv(2)` of at most `len` bytes into `buffer`, which need not be
/// initialised; returns how many bytes it wrote.
fn recv(fd: i32, buffer: &mut MaybeUninit<[u8; READ_CHUNK]>, len: usize) -> io::Result<usize> {
    let len = len.min(READ_CHUNK);
    // SAFETY: the kernel writes at most `len` bytes into the buffer, which
    // has room for READ_CHUNK.
    let n = unsafe { libc::recv(fd, buffer.as_mut_ptr().cast(), len, 0) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// `send(2)`, with `MSG_MORE` when more is about to follow (a file body,
/// or the FIN), despite `TCP_NODELAY`.
fn send(fd: i32, bytes: &[u8], more: bool) -> io::Result<usize> {
    let flags = libc::MSG_NOSIGNAL | if more { libc::MSG_MORE } else { 0 };
    // SAFETY: `bytes` is a valid slice for the duration of the call.
    let n = unsafe { libc::send(fd, bytes.as_ptr().cast(), bytes.len(), flags) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// `sendfile(2)` from `file_fd` at `*offset`, advancing it.
fn sendfile(socket_fd: i32, file_fd: i32, offset: &mut u64, count: usize) -> io::Result<usize> {
    let mut off = *offset as libc::off_t;
    // SAFETY: both descriptors are open for the call; `off` is a valid pointer.
    let n = unsafe { libc::sendfile(socket_fd, file_fd, &mut off, count) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    *offset = off as u64;
    Ok(n as usize)
}
