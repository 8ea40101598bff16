//! The Listening state: a response whose body is pushed while the
//! connection stays open ([`Events`]: live reload's server-sent events).
//!
//! Once its head is out, the connection waits in the worker's poll set
//! like an idle keep-alive connection, costing no CPU: it is driven again
//! when its events source wakes the worker (`Events::listen`, the worker's
//! waker; see `Worker::wake_listeners`), when the client sends something
//! or goes away (read and thrown away, so a closed tab frees its slot at
//! once), or when its deadline passes: every [`KEEP_ALIVE`] it sends a
//! piece that says nothing, so proxies that drop quiet connections keep
//! it. A client that stops reading is dropped after `send_timeout`, as a
//! stalled download is. A shutdown ends it at once, with the last chunk:
//! it is not a response in flight that deserves the grace period, and the
//! page's `EventSource` reconnects by itself.
//!
//! Only this file knows the state's data; `mod.rs` routes to it from
//! `queue` (a response with an events body), `drive_with`, `expire` and
//! `begin_shutdown`.

use std::io;
use std::mem::MaybeUninit;
use std::time::Duration;

use super::{Connection, State, READ_CHUNK};
use crate::context::Context;
use crate::http::response::{Body, Events, Response};
use crate::http1::encode::{self, LAST_CHUNK};

/// How often a quiet stream sends a comment. The SSE specification
/// suggests about every 15 seconds; proxies commonly drop connections
/// quiet for 60 s (nginx's `proxy_read_timeout`, most load balancers), so
/// 20 s keeps well inside that while costing 1,000 idle streams 50 small
/// writes a second.
pub(super) const KEEP_ALIVE: Duration = Duration::from_secs(20);
/// Bytes a listening client may send (it has nothing to say) before it is
/// dropped: a browser sends none, so this only bounds a misbehaving one.
const MAX_IGNORED_BYTES: usize = 64 * 1024;
/// Unsent bytes a listening connection may hold: events are small and
/// rare, so this much waiting means the client has stopped reading.
const MAX_UNSENT_BYTES: usize = 64 * 1024;

/// What the Listening state holds.
pub(super) struct Listening {
    events: Box<dyn Events>,
    /// Encoded bytes not yet written: `out[pos..]`.
    out: Vec<u8>,
    pos: usize,
    /// Pieces are framed as HTTP/1.1 chunks (else the body ends at the close).
    chunked: bool,
    /// Bytes the client sent, thrown away.
    ignored: usize,
}

/// Replaces the (sent) bytes of `listening` with what its source has
/// now, framed; whether there is any.
fn next_piece(listening: &mut Listening) -> bool {
    listening.out.clear();
    listening.pos = 0;
    let more = listening.events.next(&mut listening.out);
    if more && listening.chunked {
        encode::frame_chunk(&mut listening.out, 0);
    }
    more
}

impl Connection {
    /// Sends the head of `response`, whose body is an [`Events`] source,
    /// and starts listening (not for a HEAD: that is encoded as any other
    /// response, with no body). `http10`: the client speaks HTTP/1.0.
    pub(super) fn start_listening(&mut self, response: Response, http10: bool, cx: &mut Context) {
        let mut out = cx.local.buffers.take();
        let chunked = !http10;
        encode::write_head(&response, &mut out, cx.local.clock.date(), false, http10);
        self.head_len = out.len() as u64;
        self.sent = 0;
        let Body::Events(mut events) = response.body else {
            // OK: `queue` sends only an events body here.
            self.state = State::Closed;
            return;
        };
        events.listen(&cx.local.waker);
        self.skip = None;
        self.deadline = cx.now + cx.shared.config.send_timeout;
        self.state = State::Listening(Box::new(Listening { events, out, pos: 0, chunked, ignored: 0 }));
    }

    /// Whether this connection is listening for pushed events (the worker
    /// drives those when woken).
    pub fn is_listening(&self) -> bool {
        match &self.state {
            State::Listening(_) => true,
            State::Http2(h2) => h2.is_listening(),
            _ => false,
        }
    }

    /// One step of the Listening state: `Ok(true)` after progress, or a
    /// new state; `Ok(false)` to wait.
    pub(super) fn listen(&mut self, cx: &mut Context) -> io::Result<bool> {
        let State::Listening(listening) = &mut self.state else { return Ok(true) };
        if self.readiness.readable {
            let mut scratch = [const { MaybeUninit::<u8>::uninit() }; READ_CHUNK];
            match self.transport.read(&mut scratch) {
                Ok([]) => {
                    log::debug!("{}: the event stream's client went away", self.peer);
                    self.state = State::Closed;
                    return Ok(true);
                }
                Ok(bytes) => {
                    listening.ignored += bytes.len();
                    if listening.ignored > MAX_IGNORED_BYTES {
                        log::info!("{}: an event stream's client keeps sending; closing", self.peer);
                        self.state = State::Closed;
                    }
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readiness.readable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(true),
                Err(e) => return Err(e),
            }
        }
        if listening.pos == listening.out.len() {
            next_piece(listening);
        }
        while listening.pos < listening.out.len() {
            match self.transport.write(&listening.out[listening.pos..], false) {
                Ok(n) => {
                    listening.pos += n;
                    self.sent += n as u64;
                    self.deadline = cx.now + cx.shared.config.send_timeout;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        match self.transport.flush() {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(true),
            Err(e) => return Err(e),
        }
        // All sent: quiet until the next event, or the keep-alive.
        self.deadline = cx.now + KEEP_ALIVE;
        Ok(next_piece(listening))
    }

    /// The Listening state's deadline has passed: a keep-alive comment, or
    /// (bytes still unsent since `send_timeout`) a close.
    pub(super) fn expire_listening(&mut self, cx: &mut Context) -> super::Turn {
        let State::Listening(listening) = &mut self.state else { return super::Turn::Wait };
        if listening.pos < listening.out.len() || listening.out.len() > MAX_UNSENT_BYTES {
            log::info!("{}: the event stream's client stopped reading; closing", self.peer);
            self.state = State::Closed;
            return super::Turn::Closed;
        }
        listening.out.clear();
        listening.pos = 0;
        listening.events.keep_alive(&mut listening.out);
        if listening.chunked {
            encode::frame_chunk(&mut listening.out, 0);
        }
        self.drive(cx)
    }

    /// Ends a listening connection for a shutdown: the last chunk if the
    /// socket takes it now (so the client sees a clean end), then closed.
    pub(super) fn end_listening(&mut self, cx: &mut Context) -> super::Turn {
        if let State::Listening(listening) = std::mem::replace(&mut self.state, State::Closed) {
            let Listening { out, pos, chunked, .. } = *listening;
            if chunked && pos == out.len() {
                let _ = self.transport.write(LAST_CHUNK, false);
                let _ = self.transport.flush();
            }
            cx.local.buffers.give(out);
        }
        super::Turn::Closed
    }
}
