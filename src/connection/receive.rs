//! The Receiving state: a request whose route reads its body, the body
//! arriving. First `100 Continue` when the client waits for it, then the
//! bytes pass through the request's [`BodyDecoder`] into where the route
//! wants them — a buffer charged to the memory budget (a handler reading
//! `Request::body`), or a streaming handler's sink, piece by piece, read
//! from the socket only as fast as the sink takes them. When the body
//! ends, `http1::exchange` makes the answer; a malformed, oversized or
//! refused body is answered with its status and the connection closes.

use std::io;
use std::mem::MaybeUninit;

use super::buffer::Buffer;
use super::{service_for, Connection, State};
use crate::budget::{self, MemoryBudget};
use crate::context::Context;
use crate::handlers::BodySink;
use crate::http::response::Response;
use crate::http1::body::BodyDecoder;
use crate::http1::encode::CONTINUE;
use crate::http1::exchange::{self, Framing, Receive};
use crate::service;

/// Bytes asked of the socket per read while a body arrives: uploads are
/// large, and 64 KiB reads take a tenth of the system calls of 4 KiB ones.
/// Read onto the worker thread's stack, decoded in place, so a streamed
/// body is never copied into a connection's own memory.
const BODY_READ_CHUNK: usize = 64 * 1024;

/// A body being received.
pub struct Receiving {
    decoder: BodyDecoder,
    target: Target,
    /// The framing of the answer that will follow.
    framing: Framing,
    interim: Interim,
}

/// Where the body goes.
enum Target {
    /// A copy of the head (`head_len` bytes), then the body so far.
    Whole { buffer: Buffer, head_len: usize },
    /// A streaming handler's sink (its access-log entry is recorded).
    Stream(Box<dyn BodySink>),
}

/// The `100 Continue` owed to a client that waits for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interim {
    /// None owed, or sent.
    Done,
    /// Not all written yet: the bytes of it written so far.
    Writing(usize),
    /// Written to the transport, which may still hold it (TLS).
    Flushing,
}

impl Receiving {
    /// Gives back the budget share of a body buffered whole.
    pub fn release(&mut self, budget: &MemoryBudget) {
        if let Target::Whole { buffer, .. } = &mut self.target {
            buffer.release(budget);
        }
    }
}

/// What feeding bytes to a body did.
enum Fed {
    /// Used this many bytes; the body goes on.
    More(usize),
    /// Used this many bytes and the body is complete.
    Done(usize),
    /// Over: the answer is queued (a refusal) or the connection closed.
    Ended,
}

impl Connection {
    /// Enters the Receiving state for `receive` (its head already used).
    pub(super) fn start_receiving(&mut self, receive: Receive, cx: &mut Context) {
        let Receive { decoder, send_continue, target, framing, .. } = receive;
        let target = match target {
            exchange::Target::Whole { buffer: head, head_len } => {
                let mut buffer = Buffer::default();
                if !buffer.append(&head, &cx.shared.budget, self.peer) {
                    self.over_budget(cx);
                    return;
                }
                Target::Whole { buffer, head_len }
            }
            exchange::Target::Stream(sink) => Target::Stream(sink),
        };
        let interim = if send_continue { Interim::Writing(0) } else { Interim::Done };
        self.state = State::Receiving(Box::new(Receiving { decoder, target, framing, interim }));
        // The body must make progress: each piece that arrives renews this.
        self.deadline = cx.now + cx.shared.config.head_timeout;
    }

    /// One step of the Receiving state: `Ok(true)` to go on (progress, or
    /// a new state), `Ok(false)` to wait for readiness (or, with `budget`
    /// spent, for the next turn).
    pub(super) fn receive(&mut self, cx: &mut Context, budget: &mut u64) -> io::Result<bool> {
        let State::Receiving(receiving) = &mut self.state else { return Ok(true) };
        match receiving.interim {
            Interim::Done => {}
            Interim::Writing(at) => {
                #[cfg(any(test, fuzzing))]
                if at == 0 {
                    // Marked where it starts (a fake's writes never block).
                    self.transport.trace(crate::transport::fake::Event::Continue);
                }
                return match self.transport.write(&CONTINUE[at..], false) {
                    Ok(n) if at + n == CONTINUE.len() => {
                        receiving.interim = Interim::Flushing;
                        Ok(true)
                    }
                    Ok(n) => {
                        receiving.interim = Interim::Writing(at + n);
                        Ok(true)
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(true),
                    Err(e) => Err(e),
                };
            }
            Interim::Flushing => {
                return match self.transport.flush() {
                    Ok(()) => {
                        receiving.interim = Interim::Done;
                        Ok(true)
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(true),
                    Err(e) => Err(e),
                };
            }
        }
        if !self.input.is_empty() {
            // Bytes that came with the head, or before this state.
            let input = std::mem::take(&mut self.input);
            let fed = self.feed(input.as_slice(), cx);
            let used = match fed {
                Fed::More(used) | Fed::Done(used) => used,
                Fed::Ended => 0,
            };
            self.input = input;
            match fed {
                Fed::Ended => self.input.release(&cx.shared.budget),
                Fed::More(_) => self.input.consume(used),
                Fed::Done(_) => {
                    self.input.consume(used);
                    self.complete(cx);
                }
            }
            return Ok(true);
        }
        if *budget == 0 {
            return Ok(false);
        }
        if self.readiness.peer_eof {
            log::info!("{}: the client closed before its request body ended", self.peer);
            self.close_now(cx);
            return Ok(true);
        }
        if !self.readiness.readable {
            return Ok(false);
        }
        let mut chunk = [const { MaybeUninit::<u8>::uninit() }; BODY_READ_CHUNK];
        let bytes = match self.transport.read(&mut chunk) {
            Ok([]) => {
                self.readiness.peer_eof = true;
                return Ok(true);
            }
            Ok(bytes) => {
                self.note_read(bytes.len(), BODY_READ_CHUNK);
                bytes
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.readiness.readable = false;
                return Ok(false);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(true),
            Err(e) if budget::is_refusal(&e) => {
                // A TLS record of the body found no room in the memory budget.
                self.over_budget(cx);
                return Ok(true);
            }
            Err(e) => return Err(e),
        };
        *budget = budget.saturating_sub(bytes.len() as u64);
        self.deadline = cx.now + cx.shared.config.head_timeout;
        match self.feed(bytes, cx) {
            Fed::More(_) | Fed::Ended => {}
            Fed::Done(used) => {
                // What follows the body is the next request.
                let rest = &bytes[used..];
                if !rest.is_empty() && !self.input.append(rest, &cx.shared.budget, self.peer) {
                    self.over_budget(cx);
                    return Ok(true);
                }
                self.complete(cx);
            }
        }
        Ok(true)
    }

    /// Passes `bytes` through the decoder into the body's target.
    fn feed(&mut self, bytes: &[u8], cx: &mut Context) -> Fed {
        let State::Receiving(receiving) = &mut self.state else { return Fed::Ended };
        let mut used = 0;
        loop {
            let piece = match receiving.decoder.next(&bytes[used..]) {
                Ok(piece) => piece,
                Err(e) => {
                    log::info!("{}: {e}", self.peer);
                    self.refuse_body(e.status(), cx);
                    return Fed::Ended;
                }
            };
            used += piece.used;
            if !piece.data.is_empty() {
                let fits = match &mut receiving.target {
                    Target::Whole { buffer, .. } => {
                        if !buffer.append(piece.data, &cx.shared.budget, self.peer) {
                            self.over_budget(cx);
                            return Fed::Ended;
                        }
                        Ok(())
                    }
                    Target::Stream(sink) => {
                        let facts = service::Facts { peer: self.client, now: cx.now, draining: cx.draining };
                        service::write_body(sink.as_mut(), piece.data, &facts)
                    }
                };
                if let Err(refused) = fits {
                    self.answer_stream(refused, false, cx);
                    return Fed::Ended;
                }
            }
            if receiving.decoder.is_done() {
                return Fed::Done(used);
            }
            if piece.used == 0 || used == bytes.len() {
                return Fed::More(used);
            }
        }
    }

    /// The body has ended: the route's answer.
    fn complete(&mut self, cx: &mut Context) {
        let State::Receiving(receiving) = std::mem::replace(&mut self.state, State::Closed) else { return };
        let Receiving { target, framing, .. } = *receiving;
        match target {
            Target::Whole { mut buffer, head_len } => {
                let facts = self.facts(cx);
                let mut service = service_for(&mut self.entry, &mut self.tally, cx);
                let answer = exchange::complete_whole(buffer.as_slice(), head_len, &facts, &mut service);
                buffer.release(&cx.shared.budget);
                self.queue(answer, cx);
            }
            Target::Stream(sink) => {
                let facts = self.facts(cx);
                let response = service::finish_body(sink, &facts.service);
                self.entry.set_status(response.status);
                self.tally.set_status(response.status);
                self.queue(exchange::complete_stream(response, framing, true, &facts), cx);
            }
        }
    }

    /// A streaming sink answered before its body ended (it refused it):
    /// that answer, and a close.
    fn answer_stream(&mut self, response: Response, body_read: bool, cx: &mut Context) {
        let State::Receiving(receiving) = std::mem::replace(&mut self.state, State::Closed) else { return };
        let framing = receiving.framing;
        // The sink is dropped here, before the answer goes out: it cleans up.
        drop(receiving);
        let facts = self.facts(cx);
        self.entry.set_status(response.status);
        self.tally.set_status(response.status);
        self.input.release(&cx.shared.budget);
        self.queue(exchange::complete_stream(response, framing, body_read, &facts), cx);
    }

    /// A body that could not be decoded (or is too large): its status, a
    /// log entry for the request, and a close.
    fn refuse_body(&mut self, status: u16, cx: &mut Context) {
        let facts = self.facts(cx);
        if let State::Receiving(receiving) = &mut self.state {
            if let Target::Whole { buffer, head_len } = &receiving.target {
                // The entry is recorded with the request it refuses.
                let mut service = service_for(&mut self.entry, &mut self.tally, cx);
                exchange::record_refused_whole(buffer.as_slice(), *head_len, status, &facts, &mut service);
            }
        }
        self.refuse(status, cx);
    }
}
