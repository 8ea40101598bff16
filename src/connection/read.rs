//! The Reading state: a request head arriving (or a skipped body passing
//! before the next one). Bytes are answered straight from the read when a
//! whole request came in one (the common case: nothing is buffered), else
//! kept in the connection's budgeted input until `http1::exchange` can
//! decide; what it decides is performed here (answer, or start receiving
//! a body), timers included.

use std::io;
use std::mem::MaybeUninit;

use super::{service_for, Connection, State, READ_CHUNK};
use crate::budget;
use crate::context::Context;
use crate::http1::exchange::{self, Decision, Persistence};
use crate::metrics::Limit;

impl Connection {
    /// One step of the Reading state: answer what is buffered, or read.
    /// `Ok(Some(answered))` to go on, `Ok(None)` to wait for readiness.
    /// `ahead`: bytes read ahead of the turn, taken instead of a read.
    pub(super) fn read_turn(&mut self, cx: &mut Context, ahead: &mut Option<&[u8]>) -> io::Result<Option<bool>> {
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
                    if let Some(metrics) = &cx.local.metrics {
                        metrics.count_limit(Limit::Memory);
                    }
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
        if self.input.is_empty() && self.skip.is_none() {
            // The common case: a whole request in one read, answered straight
            // from the stack, so a connection owns heap memory only for a
            // partial head, a body being received, or pipelined leftovers.
            match self.step(cx, Some(bytes)) {
                Step::Went { answered: went, consumed } => {
                    rest = &bytes[consumed..];
                    answered = went;
                }
                Step::Wait { .. } => {}
            }
        }
        if !rest.is_empty() && !self.input.append(rest, &cx.shared.budget, self.peer) {
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

    /// Passes the bytes of a skipped body at the start of the input;
    /// whether any were used.
    fn skip_body(&mut self, cx: &mut Context) -> Step {
        let Some(decoder) = &mut self.skip else { return Step::Wait { limit: usize::MAX } };
        let mut used = 0;
        let done = loop {
            match decoder.next(&self.input.as_slice()[used..]) {
                Ok(piece) if piece.used == 0 => break decoder.is_done(),
                Ok(piece) => used += piece.used,
                Err(e) => {
                    // The answer has gone out; the next request cannot be found.
                    log::info!("{}: skipped body: {e}; closing", self.peer);
                    self.close_now(cx);
                    return Step::Went { answered: false, consumed: 0 };
                }
            }
            if decoder.is_done() {
                break true;
            }
        };
        self.input.consume(used);
        if done {
            self.skip = None;
        }
        if used == 0 && !done {
            return Step::Wait { limit: usize::MAX };
        }
        Step::Went { answered: false, consumed: used }
    }

    /// Runs the exchange over `stack` (a fresh read while nothing is
    /// buffered) or the buffered input, and performs its decision.
    fn step(&mut self, cx: &mut Context, stack: Option<&[u8]>) -> Step {
        if self.skip.is_some() {
            return self.skip_body(cx);
        }
        let input = stack.unwrap_or(self.input.as_slice());
        if !input.is_empty() && !self.spoke_http1 && !cx.shared.config.http1_only {
            match crate::http2::preface(input) {
                _ if self.transport.is_plain_on_tls_port() => {}
                Some(true) => return self.switch_to_http2(stack, cx),
                Some(false) => return Step::Wait { limit: usize::MAX },
                None if self.transport.chose_h2() => return self.switch_to_http2(stack, cx),
                None => {}
            }
        }
        let nothing_buffered = input.is_empty();
        let decision = if nothing_buffered {
            exchange::awaiting_head(cx.shared.config.max_head_bytes)
        } else {
            let facts = self.facts(cx);
            let mut service = service_for(&mut self.entry, &mut self.tally, cx);
            exchange::decide(input, &facts, &mut service)
        };
        match decision {
            Decision::Wait { limit, head_started } => {
                if nothing_buffered && self.input.is_charged() {
                    // Release the buffer of a head that arrived in pieces: an
                    // idle connection should hold no memory of its own.
                    self.input.release(&cx.shared.budget);
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
                self.spoke_http1 = true;
                let consumed = answer.consumed;
                if stack.is_none() {
                    self.input.consume(consumed);
                }
                self.queue(answer, cx);
                Step::Went { answered: true, consumed }
            }
            Decision::Receive(receive) => {
                self.spoke_http1 = true;
                let consumed = receive.consumed;
                if stack.is_none() {
                    self.input.consume(consumed);
                }
                self.start_receiving(*receive, cx);
                Step::Went { answered: true, consumed }
            }
        }
    }
}

impl Connection {
    /// The connection speaks HTTP/2 from here on, its input so far
    /// (`stack`, or what is buffered) the start of it.
    fn switch_to_http2(&mut self, stack: Option<&[u8]>, cx: &mut Context) -> Step {
        let consumed = match stack {
            Some(bytes) => {
                self.start_http2(bytes, cx);
                bytes.len()
            }
            None => {
                let input = std::mem::take(&mut self.input);
                self.start_http2(input.as_slice(), cx);
                let mut input = input;
                input.release(&cx.shared.budget);
                0
            }
        };
        Step::Went { answered: false, consumed }
    }
}

/// What one exchange step did.
enum Step {
    /// Nothing to answer: read more while the input is shorter than `limit`.
    Wait { limit: usize },
    /// Performed a decision (`answered`: a request was taken up), using
    /// `consumed` bytes.
    Went { answered: bool, consumed: usize },
}
