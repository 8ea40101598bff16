//! The Http2 state: a connection that began with the HTTP/2 preface (or
//! chose `h2` by ALPN) drives an [`http2::Session`] over its transport.
//!
//! Each stream's exchange ([`Exchange`]) lives in the session beside its
//! protocol state: the request's body on its way to the route (buffered
//! whole, charged to the memory budget, or fed to a sink), a response
//! being prepared, sent ([`Outgoing`]) or pushed (events). The same
//! `service` as HTTP/1 answers every request; each stream has its own
//! access-log entry and metrics tally, written when the stream ends. One
//! turn writes what the session has queued, reads and handles frames,
//! advances responses in preparation, and fills DATA frames in the
//! session's order while the output stays under its high-water mark.
//! Taking requests and their bodies up is `request`.
//!
//! Timers: a connection with no stream waits `idle_timeout`, streams
//! waiting on request bodies `head_timeout`, output that does not move
//! (a client that stopped reading, or shut its windows) `send_timeout`;
//! then it ends with GOAWAY. A shutdown sends GOAWAY and lets the streams
//! already begun finish (within the grace period, as HTTP/1's responses).

use std::io;
use std::mem::MaybeUninit;
use std::time::Instant;

mod request;

use super::buffer::Buffer;
use super::outgoing::{encode_head, Outgoing};
use super::{service_for, Connection, State, Turn};
use crate::access_log::Entry;
use crate::context::{Context, Phase};
use crate::handlers::BodySink;
use crate::http::response::{Body, Events, Preparation, Response};
use crate::http2::frame::Code;
use crate::http2::head::RequestHead;
use crate::http2::hpack::Fields;
use crate::http2::limits::{DATA_CHUNK, MAX_UNSENT_OUTPUT, SHRINK_AFTER};
use crate::http2::{Event, Session};
use crate::metrics::{Limit, Tally};
use crate::service;

/// Bytes asked of the transport per read: a frame's worth and more.
const READ_CHUNK: usize = 32 * 1024;
/// Bytes one connection reads, or writes, per turn before yielding.
const TURN_BYTES: usize = 1 << 20;

/// The Http2 state's data.
pub(super) struct Http2 {
    /// Exchanges boxed: the session's tables then hold pointers, so the
    /// room an idle connection keeps in them is small.
    session: Session<Box<Exchange>>,
    /// Received bytes not yet a whole frame.
    input: Vec<u8>,
    /// Bytes of the session's output already written.
    written: usize,
    /// When output last moved (or a response began): the send timer.
    progress: Instant,
    /// When the client last sent something: the idle and body timers.
    heard: Instant,
    /// Streams pushing events (live reload), for the worker's wake-ups.
    listening: usize,
}

/// One stream's exchange.
#[derive(Default)]
pub(super) struct Exchange {
    stage: Stage,
    entry: Entry,
    tally: Tally,
    /// Body bytes sent, for the log.
    sent: u64,
}

/// Where a stream's exchange is.
#[derive(Default)]
enum Stage {
    /// Not yet taken up (a stream just opened).
    #[default]
    New,
    /// The route reads the body whole: it arrives into `body`.
    Whole { fields: Fields, head: RequestHead, body: Buffer },
    /// The route streams the body into a sink.
    Sink(Box<dyn BodySink>),
    /// The response is being prepared, a slice a turn.
    Preparing { work: Box<dyn Preparation>, head_only: bool },
    /// The response body is being sent.
    Sending(Outgoing),
    /// Events are pushed as they happen.
    Listening(Box<dyn Events>),
    /// Answered: whatever else comes on the stream is dropped.
    Answered,
}

impl Http2 {
    pub(super) fn new(input: &[u8], cx: &Context) -> Http2 {
        Http2 {
            session: Session::new(cx.shared.config.max_head_bytes, cx.now),
            input: input.to_vec(),
            written: 0,
            progress: cx.now,
            heard: cx.now,
            listening: 0,
        }
    }

    /// The streams pushing events.
    fn listening_streams(&mut self) -> Vec<u32> {
        let streams = self.session.streams_mut();
        streams.filter(|(_, e)| matches!(e.stage, Stage::Listening(_))).map(|(id, _)| id).collect()
    }

    pub(super) fn is_listening(&self) -> bool {
        self.listening > 0
    }

    pub(super) fn open_streams(&self) -> usize {
        self.session.open_streams()
    }

    /// Gives back the budget of bodies being received whole.
    pub(super) fn release(&mut self, cx_budget: &crate::budget::MemoryBudget) {
        for (_, exchange) in self.session.streams_mut() {
            if let Stage::Whole { body, .. } = &mut exchange.stage {
                body.release(cx_budget);
            }
        }
    }
}

impl Connection {
    /// Starts speaking HTTP/2 with `input`, the bytes so far (the preface).
    pub(super) fn start_http2(&mut self, input: &[u8], cx: &mut Context) {
        log::debug!("{}: HTTP/2", self.peer);
        self.state = State::Http2(Box::new(Http2::new(input, cx)));
        self.deadline = cx.now + cx.shared.config.head_timeout;
    }

    /// One turn of the Http2 state.
    pub(super) fn drive_http2(&mut self, cx: &mut Context) -> Turn {
        let mut budget = TURN_BYTES;
        if let State::Http2(h2) = &mut self.state {
            if h2.session.lacks_output() {
                h2.session.set_output(cx.local.buffers.take());
            }
            if h2.input.capacity() == 0 {
                h2.input = cx.local.buffers.take();
            }
        }
        loop {
            let mut moved = false;
            match self.write_http2(cx, &mut budget) {
                Ok(progress) => moved |= progress,
                Err(e) => {
                    log::debug!("{}: write failed: {e}", self.peer);
                    return self.close_http2(cx);
                }
            }
            let State::Http2(h2) = &mut self.state else { return Turn::Closed };
            if h2.session.is_finished() && h2.written == h2.session.output().len() {
                return self.linger_http2(cx);
            }
            if h2.session.output().len() - h2.written > MAX_UNSENT_OUTPUT {
                log::info!("{}: HTTP/2 client sends faster than it reads our answers; closing", self.peer);
                return self.close_http2(cx);
            }
            match self.read_http2(cx, &mut budget) {
                Ok(progress) => moved |= progress,
                Err(e) => {
                    log::debug!("{}: read failed: {e}", self.peer);
                    return self.close_http2(cx);
                }
            }
            moved |= self.advance_http2(cx);
            moved |= self.fill_http2(cx);
            self.end_streams(cx);
            if !moved {
                if let State::Http2(h2) = &mut self.state {
                    // Idle: the buffers go back to the worker's pool.
                    if let Some(out) = h2.session.take_output() {
                        cx.local.buffers.give(out);
                        if h2.input.is_empty() {
                            cx.local.buffers.give(std::mem::take(&mut h2.input));
                        }
                    }
                }
                self.set_http2_deadline(cx);
                return Turn::Wait;
            }
            if budget == 0 {
                self.set_http2_deadline(cx);
                return Turn::Yield;
            }
        }
    }

    /// Writes the session's output; whether any bytes went.
    fn write_http2(&mut self, cx: &mut Context, budget: &mut usize) -> io::Result<bool> {
        let State::Http2(h2) = &mut self.state else { return Ok(false) };
        let mut moved = false;
        loop {
            let out = h2.session.output();
            if h2.written == out.len() {
                h2.session.output_mut().clear();
                h2.written = 0;
                break;
            }
            match self.transport.write(&out[h2.written..], false) {
                Ok(n) => {
                    h2.written += n;
                    *budget = budget.saturating_sub(n);
                    h2.progress = cx.now;
                    moved = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(moved),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        match self.transport.flush() {
            Ok(()) => Ok(moved),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => Ok(moved),
            Err(e) => Err(e),
        }
    }

    /// Reads what the socket has and handles the frames it completes.
    fn read_http2(&mut self, cx: &mut Context, budget: &mut usize) -> io::Result<bool> {
        let State::Http2(h2) = &self.state else { return Ok(false) };
        let mut moved = false;
        if !h2.input.is_empty() && h2.session.output().len() < crate::http2::limits::OUTPUT_HIGH_WATER {
            // Frames left from an earlier turn.
            moved |= self.handle_frames(cx);
        }
        if self.readiness.peer_eof || !self.readiness.readable || *budget == 0 {
            return Ok(moved);
        }
        let mut chunk = [const { MaybeUninit::<u8>::uninit() }; READ_CHUNK];
        let bytes = match self.transport.read(&mut chunk) {
            Ok([]) => {
                self.readiness.peer_eof = true;
                if let State::Http2(h2) = &mut self.state {
                    // Nothing more can arrive: the streams cannot finish.
                    h2.session.fail(Code::NoError, "the client closed");
                }
                return Ok(true);
            }
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.readiness.readable = false;
                return Ok(moved);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(true),
            Err(e) => return Err(e),
        };
        let received = bytes.len();
        *budget = budget.saturating_sub(received);
        if let State::Http2(h2) = &mut self.state {
            h2.input.extend_from_slice(bytes);
            h2.heard = cx.now;
        }
        self.note_read(received, READ_CHUNK);
        self.handle_frames(cx);
        Ok(true)
    }

    /// Hands every whole frame of the input to the session, and acts on
    /// what it says.
    fn handle_frames(&mut self, cx: &mut Context) -> bool {
        let State::Http2(h2) = &mut self.state else { return false };
        let input = std::mem::take(&mut h2.input);
        let mut used = 0;
        let mut handled = false;
        while let State::Http2(h2) = &mut self.state {
            if h2.session.output().len() >= MAX_UNSENT_OUTPUT {
                break;
            }
            match h2.session.next_frame(&input[used..], cx.now) {
                Ok(Some((n, event))) => {
                    used += n;
                    handled = true;
                    self.on_event(event, cx);
                }
                Ok(None) => break,
                Err(fatal) => {
                    log::info!("{}: HTTP/2 connection error {:?}: {}", self.peer, fatal.code, fatal.why);
                    if fatal.code == Code::EnhanceYourCalm {
                        if let Some(metrics) = &cx.local.metrics {
                            metrics.count_limit(Limit::HeadSize);
                        }
                    }
                    used = input.len();
                    handled = true;
                    break;
                }
            }
        }
        if let State::Http2(h2) = &mut self.state {
            let mut input = input;
            input.drain(..used);
            h2.input = input;
        }
        handled
    }

    fn on_event(&mut self, event: Event<'_>, cx: &mut Context) {
        match event {
            Event::Quiet => {}
            Event::Reset { stream } => log::debug!("{}: stream {stream} reset", self.peer),
            Event::Refuse { stream, status } => {
                let mut exchange = self.take_exchange(stream);
                let facts = self.service_facts(cx);
                service_for(&mut exchange.entry, &mut exchange.tally, cx).record_refusal(None, status, &facts);
                self.answer(stream, exchange, Response::error(status), false, cx);
            }
            Event::Request { stream, fields, head, end_stream } => {
                self.on_request(stream, fields, head, end_stream, cx)
            }
            Event::Data { stream, data, end_stream } => self.on_data(stream, data, end_stream, cx),
        }
    }

    fn service_facts(&self, cx: &Context) -> service::Facts {
        let draining = cx.draining || cx.shared.phase() != Phase::Running;
        service::Facts { peer: self.client, now: cx.now, draining }
    }

    /// Takes a stream's exchange out of the session (put back by `answer`
    /// or `put_exchange`); a default one if the stream is gone.
    fn take_exchange(&mut self, stream: u32) -> Exchange {
        let State::Http2(h2) = &mut self.state else { return Exchange::default() };
        h2.session.stream_mut(stream).map(|slot| std::mem::take(&mut **slot)).unwrap_or_default()
    }

    fn put_exchange(&mut self, stream: u32, exchange: Exchange) {
        if let State::Http2(h2) = &mut self.state {
            if let Some(slot) = h2.session.stream_mut(stream) {
                **slot = exchange;
            }
        }
    }

    /// Sends `response` on `stream`: its head now, its body as the
    /// session's scheduler and flow control allow.
    fn answer(&mut self, stream: u32, mut exchange: Exchange, response: Response, head_only: bool, cx: &mut Context) {
        let State::Http2(h2) = &mut self.state else { return };
        h2.progress = cx.now;
        if let Body::Later(_) = response.body {
            let Body::Later(work) = response.body else { return };
            exchange.stage = Stage::Preparing { work, head_only };
            return self.put_exchange(stream, exchange);
        }
        let mut block = cx.local.buffers.take();
        encode_head(&response, cx.local.clock.date(), &mut block);
        let body = if head_only { None } else { Some(response.body) };
        match body {
            Some(Body::Events(mut events)) => {
                events.listen(&cx.local.waker);
                exchange.stage = Stage::Listening(events);
                h2.listening += 1;
                h2.session.send_head(stream, &block, false);
                if let Some(slot) = h2.session.stream_mut(stream) {
                    **slot = exchange;
                }
                h2.session.queue(stream);
            }
            Some(body) => match Outgoing::of(body) {
                Some(outgoing) => {
                    exchange.stage = Stage::Sending(outgoing);
                    h2.session.send_head(stream, &block, false);
                    if let Some(slot) = h2.session.stream_mut(stream) {
                        **slot = exchange;
                    }
                    h2.session.queue(stream);
                }
                None => {
                    exchange.stage = Stage::Answered;
                    self.put_exchange(stream, exchange);
                    if let State::Http2(h2) = &mut self.state {
                        h2.session.send_head(stream, &block, true);
                    }
                }
            },
            None => {
                exchange.stage = Stage::Answered;
                self.put_exchange(stream, exchange);
                if let State::Http2(h2) = &mut self.state {
                    h2.session.send_head(stream, &block, true);
                }
            }
        }
        cx.local.buffers.give(block);
    }

    /// Advances responses in preparation (a slice each) and gathers the
    /// events of listening streams; whether anything happened.
    fn advance_http2(&mut self, cx: &mut Context) -> bool {
        let State::Http2(h2) = &mut self.state else { return false };
        let mut ready = Vec::new();
        for (id, exchange) in h2.session.streams_mut() {
            if let Stage::Preparing { work, head_only } = &mut exchange.stage {
                if let Some(response) = work.advance() {
                    ready.push((id, response, *head_only));
                }
            }
        }
        if h2.listening > 0 {
            let ids = h2.listening_streams();
            for id in ids {
                h2.session.queue(id);
            }
        }
        let moved = !ready.is_empty();
        for (id, response, head_only) in ready {
            let mut exchange = self.take_exchange(id);
            exchange.entry.set_status(response.status);
            exchange.tally.set_status(response.status);
            self.answer(id, exchange, response, head_only, cx);
        }
        moved
    }

    /// Fills DATA frames in the scheduler's order; whether any went out.
    fn fill_http2(&mut self, cx: &mut Context) -> bool {
        let State::Http2(h2) = &mut self.state else { return false };
        let mut moved = false;
        let stall_began = cx.now.checked_sub(cx.shared.config.send_timeout).unwrap_or(cx.now);
        for id in h2.session.stalled_before(stall_began) {
            log::info!("{}: stream {id}: the client opened no window in time; reset", self.peer);
            h2.session.cancel(id, Code::Cancel);
        }
        while let Some((id, allowed)) = h2.session.pick(cx.now) {
            let max = allowed.min(DATA_CHUNK);
            let Some(exchange) = h2.session.stream_mut(id) else { continue };
            let mut data = std::mem::take(&mut exchange.stage);
            let mut piece = cx.local.buffers.take();
            let outcome = match &mut data {
                Stage::Sending(outgoing) => outgoing.fill(max, &mut piece).map(Some),
                Stage::Listening(events) => {
                    // Events are small: one whole piece, if the window takes it.
                    let more = events.next(&mut piece);
                    if piece.len() > max {
                        piece.clear();
                    }
                    let _ = more;
                    Ok(if piece.is_empty() { None } else { Some(false) })
                }
                _ => Ok(None),
            };
            let Some(exchange) = h2.session.stream_mut(id) else { continue };
            exchange.stage = data;
            match outcome {
                Ok(Some(end)) => {
                    exchange.sent += piece.len() as u64;
                    h2.session.send_data(id, &piece, end);
                    moved = true;
                }
                Ok(None) => h2.session.pause(id),
                Err(e) => {
                    log::info!("{}: stream {id}: body failed: {e}", self.peer);
                    h2.session.cancel(id, Code::Internal);
                }
            }
            cx.local.buffers.give(piece);
        }
        moved
    }

    /// Writes the log and metrics of streams that have ended.
    fn end_streams(&mut self, cx: &mut Context) {
        let State::Http2(h2) = &mut self.state else { return };
        let mut listening_ended = 0;
        for (_, mut exchange) in h2.session.take_closed() {
            match &mut exchange.stage {
                Stage::Whole { body, .. } => body.release(&cx.shared.budget),
                Stage::Listening(_) => listening_ended += 1,
                _ => {}
            }
            if exchange.entry.is_pending() {
                cx.local.log.finish(&mut exchange.entry, exchange.sent, &cx.local.clock, &cx.shared.access_log);
            }
            if let Some(metrics) = &cx.local.metrics {
                if exchange.tally.is_open() {
                    exchange.tally.finish(metrics, exchange.sent, cx.now);
                }
            }
            cx.local.log.give_spare(exchange.entry.take_buffer());
        }
        h2.listening -= listening_ended;
    }

    fn set_http2_deadline(&mut self, cx: &Context) {
        let State::Http2(h2) = &self.state else { return };
        let config = &cx.shared.config;
        let sending = h2.written < h2.session.output().len() || h2.session.has_queued();
        self.deadline = if sending {
            h2.progress + config.send_timeout
        } else if h2.listening > 0 {
            cx.now + super::listen::KEEP_ALIVE
        } else if h2.session.open_streams() == 0 {
            let idle = h2.heard + config.idle_timeout;
            // Woken earlier, to give back a burst's room (`expire_http2`).
            if h2.session.holds_spare_room() {
                idle.min(h2.heard + SHRINK_AFTER)
            } else {
                idle
            }
        } else {
            h2.heard + config.head_timeout
        };
    }

    /// The Http2 state's deadline has passed.
    pub(super) fn expire_http2(&mut self, cx: &mut Context) -> Turn {
        let State::Http2(h2) = &mut self.state else { return Turn::Closed };
        if h2.listening > 0 && h2.written == h2.session.output().len() && !h2.session.has_queued() {
            // Quiet event streams: a comment each, so proxies keep them.
            let ids = h2.listening_streams();
            for id in ids {
                let mut piece = Vec::new();
                if let Some(exchange) = h2.session.stream_mut(id) {
                    if let Stage::Listening(events) = &exchange.stage {
                        events.keep_alive(&mut piece);
                    }
                }
                h2.session.send_data(id, &piece, false);
            }
            return self.drive_http2(cx);
        }
        let sending = h2.written < h2.session.output().len() || h2.session.has_queued();
        if !sending && h2.session.holds_spare_room() && cx.now < h2.heard + cx.shared.config.idle_timeout {
            // Idle for SHRINK_AFTER, not yet for the idle timeout.
            h2.session.shrink_tables();
            self.set_http2_deadline(cx);
            return Turn::Wait;
        }
        if sending {
            log::info!("{}: HTTP/2 client stopped reading; closing", self.peer);
            if let Some(metrics) = &cx.local.metrics {
                metrics.count_limit(Limit::SendTimeout);
            }
            return self.close_http2(cx);
        }
        if h2.session.open_streams() > 0 {
            log::info!("{}: HTTP/2 request body not received in time", self.peer);
            if let Some(metrics) = &cx.local.metrics {
                metrics.count_limit(Limit::Timeout);
            }
        }
        h2.session.fail(Code::NoError, "idle");
        let _ = self.write_http2(cx, &mut 0);
        self.close_http2(cx)
    }

    /// The server is shutting down: GOAWAY; the streams already begun go
    /// on (event streams end now: they never finish by themselves).
    pub(super) fn shut_down_http2(&mut self, cx: &mut Context) -> Turn {
        let State::Http2(h2) = &mut self.state else { return Turn::Closed };
        h2.session.go_away();
        let ids = h2.listening_streams();
        for id in ids {
            h2.session.send_data(id, &[], true);
        }
        if !h2.session.has_begun() {
            h2.session.fail(Code::NoError, "shutting down");
        }
        self.drive_http2(cx)
    }

    /// Ends a connection whose last frames (a GOAWAY) are written: our
    /// side is shut and what the client still sends is read away for a
    /// while, as HTTP/1 lingers, so that its unread bytes do not make the
    /// kernel answer with a reset that destroys the GOAWAY in flight.
    fn linger_http2(&mut self, cx: &mut Context) -> Turn {
        if self.transport.flush().is_err() {
            return self.close_http2(cx);
        }
        self.close_http2(cx);
        let _ = self.transport.shutdown_write();
        self.state = State::Lingering { discarded: 0 };
        self.deadline = cx.now + cx.shared.config.linger_timeout;
        self.linger()
    }

    /// Ends the connection: every stream's log written.
    fn close_http2(&mut self, cx: &mut Context) -> Turn {
        if let State::Http2(h2) = &mut self.state {
            let ids: Vec<u32> = h2.session.streams_mut().map(|(id, _)| id).collect();
            for id in ids {
                h2.session.cancel(id, Code::Cancel);
            }
        }
        self.end_streams(cx);
        self.state = State::Closed;
        Turn::Closed
    }
}
