//! One HTTP/2 connection without I/O: bytes in ([`Session::next_frame`]),
//! frames out ([`Session::output`]). It owns what RFC 9113 says of a
//! connection — the preface, SETTINGS, the stream states, both directions
//! of flow control, header blocks across CONTINUATION frames, GOAWAY — and
//! the abuse counters of `limits`; it knows nothing of requests' meaning.
//!
//! Each stream carries a `B` of the caller's (the connection keeps its
//! exchange there: a body being received, a response being sent). The
//! caller learns what arrived as [`Event`]s, answers with
//! [`Session::send_head`], and sends bodies by asking [`Session::pick`]
//! which stream may send now and how much (the scheduler: RFC 9218
//! urgency levels, each a queue; a non-incremental response keeps its
//! place at the front until done, incremental ones take turns), then
//! [`Session::send_data`]. Streams that end both ways are handed back
//! through [`Session::take_closed`], so the caller can write their log.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use super::frame::{self, Code, Header};
use super::head::{self, Malformed, RequestHead};
use super::hpack::{self, Fields};
use super::limits::*;
use super::priority::{Priority, LEVELS};

/// A connection error: the GOAWAY with this code is already in the output;
/// send it, then close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fatal {
    pub code: Code,
    pub why: &'static str,
}

/// What one frame meant to the caller.
#[derive(Debug)]
pub enum Event<'a> {
    /// Nothing for the caller (a control frame, a refused stream).
    Quiet,
    /// A new stream's request head.
    Request { stream: u32, fields: Fields, head: RequestHead, end_stream: bool },
    /// A new stream's head that is refused with an HTTP status: 431 (the
    /// list was over `max_list`), 501 (CONNECT).
    Refuse { stream: u32, status: u16 },
    /// Body bytes (empty for trailers, which are dropped, or an empty frame).
    Data { stream: u32, data: &'a [u8], end_stream: bool },
    /// The stream was reset (by the client, or by us for a stream error):
    /// it is in [`Session::take_closed`] now.
    Reset { stream: u32 },
}

/// One stream's protocol state.
pub struct Stream<B> {
    /// The caller's.
    pub body: B,
    /// The client may still send DATA.
    recv_open: bool,
    recv_window: i64,
    recv_unacked: u32,
    received: u64,
    content_length: Option<u64>,
    send_window: i64,
    /// We have not ended our side.
    send_open: bool,
    priority: Priority,
    /// In a ready queue, waiting for its turn.
    queued: bool,
    /// Taken out of its queue with a window of 0 at this time: it waits
    /// for a WINDOW_UPDATE (see [`Session::stalled_before`]).
    stalled: Option<Instant>,
}

/// Where the connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for (the rest of) the client's preface.
    Preface,
    /// The preface came; its first frame must be SETTINGS.
    FirstSettings,
    Open,
    /// We sent GOAWAY: streams after `last_stream` are ignored; the
    /// connection ends once the others have.
    Closing,
    /// A connection error was sent: nothing more is read.
    Failed,
}

/// A header block being received over HEADERS and CONTINUATION frames.
struct Block {
    stream: u32,
    end_stream: bool,
    bytes: Vec<u8>,
    frames: u32,
}

/// Streams by identifier, hashed by foldhash: the client picks the keys,
/// but a connection holds at most `MAX_CONCURRENT_STREAMS` of them, so a
/// fixed seed costs nothing a flood could use; SipHash cost ~1,000
/// instructions a request here.
type Streams<B> = HashMap<u32, Stream<B>, foldhash::fast::FixedState>;

pub struct Session<B> {
    phase: Phase,
    decoder: hpack::Decoder,
    streams: Streams<B>,
    /// The highest stream the client opened.
    last_stream: u32,
    /// `SETTINGS_INITIAL_WINDOW_SIZE` of the client's.
    peer_initial_window: i64,
    peer_max_frame: usize,
    send_window: i64,
    recv_window: i64,
    recv_unacked: u32,
    block: Option<Block>,
    ready: [VecDeque<u32>; LEVELS],
    out: Vec<u8>,
    /// Limits: bytes of a decoded header list, and of a header block.
    max_list: usize,
    resets: u32,
    idle_frames: u32,
    counted_since: Instant,
    peer_gone: bool,
    closed: Vec<(u32, B)>,
    /// Streams we ended while the client was still sending (a reset, or a
    /// response complete before its body): frames already on their way
    /// for them are dropped, not answered (§5.1, "closed").
    cut_short: VecDeque<u32>,
    /// A decoded list given back after its request ([`recycle`](Self::recycle)),
    /// whose room the next block is decoded into; dropped when idle.
    spare_fields: hpack::Fields,
    /// The client lowered `SETTINGS_HEADER_TABLE_SIZE`: the next head we
    /// send starts by saying our table is that small (RFC 7541 §4.2; it is
    /// empty anyway, but decoders such as nghttp2's wait for the update).
    table_update: Option<u32>,
}

impl<B: Default> Session<B> {
    /// A server connection whose header lists may hold `max_list` bytes;
    /// our SETTINGS and the connection window's raise are queued at once.
    pub fn new(max_list: usize, now: Instant) -> Session<B> {
        let mut out = Vec::with_capacity(64);
        let max_list_setting = u32::try_from(max_list).unwrap_or(u32::MAX);
        frame::write_settings(
            &mut out,
            &[
                (frame::SETTINGS_MAX_CONCURRENT_STREAMS, MAX_CONCURRENT_STREAMS),
                (frame::SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW),
                (frame::SETTINGS_MAX_HEADER_LIST_SIZE, max_list_setting),
                (frame::SETTINGS_NO_RFC7540_PRIORITIES, 1),
            ],
        );
        frame::write_window_update(&mut out, 0, CONNECTION_WINDOW - frame::DEFAULT_WINDOW as u32);
        Session {
            phase: Phase::Preface,
            decoder: hpack::decoder(),
            streams: Streams::default(),
            last_stream: 0,
            peer_initial_window: frame::DEFAULT_WINDOW,
            peer_max_frame: frame::DEFAULT_MAX_FRAME,
            send_window: frame::DEFAULT_WINDOW,
            recv_window: i64::from(CONNECTION_WINDOW),
            recv_unacked: 0,
            block: None,
            ready: Default::default(),
            out,
            max_list,
            resets: 0,
            idle_frames: 0,
            counted_since: now,
            peer_gone: false,
            closed: Vec::new(),
            cut_short: VecDeque::new(),
            spare_fields: hpack::Fields::default(),
            table_update: None,
        }
    }

    /// Frames waiting to be sent.
    pub fn output(&self) -> &[u8] {
        &self.out
    }

    /// Mutable access to the waiting output (the caller sends and drains it).
    pub fn output_mut(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    /// Streams that ended both ways (or were reset) since the last call.
    pub fn take_closed(&mut self) -> std::vec::Drain<'_, (u32, B)> {
        self.closed.drain(..)
    }

    pub fn stream_mut(&mut self, id: u32) -> Option<&mut B> {
        self.streams.get_mut(&id).map(|s| &mut s.body)
    }

    pub fn streams_mut(&mut self) -> impl Iterator<Item = (u32, &mut B)> {
        self.streams.iter_mut().map(|(id, s)| (*id, &mut s.body))
    }

    /// Streams open (not yet ended both ways).
    pub fn open_streams(&self) -> usize {
        self.streams.len()
    }

    /// Nothing more will happen: a connection error was sent, or GOAWAY
    /// (ours or the client's) and every stream has ended.
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Failed || ((self.phase == Phase::Closing || self.peer_gone) && self.streams.is_empty())
    }

    /// Gives the output buffer of a connection with nothing to send or
    /// answer to the caller, for its pool, and drops the spare header
    /// list. [`set_output`](Self::set_output) gives a buffer back before
    /// the next frames.
    pub fn take_output(&mut self) -> Option<Vec<u8>> {
        if !self.streams.is_empty() || !self.out.is_empty() {
            return None;
        }
        self.spare_fields = hpack::Fields::default();
        Some(std::mem::take(&mut self.out))
    }

    /// Takes a request's decoded list back once the request is built, so
    /// the next block of this wave is decoded into its room (two
    /// allocations a request fewer); one larger than a browser's few
    /// hundred bytes is let go.
    pub fn recycle(&mut self, fields: hpack::Fields) {
        if fields.bytes.capacity() <= RECYCLED_LIST_ROOM {
            self.spare_fields = fields;
        }
    }

    /// Whether the stream tables of a connection with no stream hold more
    /// room than [`KEPT_STREAM_ROOM`]: a burst grew them. (The table keeps
    /// up to twice what it is asked for, a power of two less its load
    /// factor: 7 for 4. Past that, only a burst has been there.)
    pub fn holds_spare_room(&self) -> bool {
        self.streams.is_empty() && self.streams.capacity() > 2 * KEPT_STREAM_ROOM
    }

    /// Gives back the stream tables' room past [`KEPT_STREAM_ROOM`], so an
    /// idle HTTP/2 connection costs its state, not its busiest moment. The
    /// connection asks once it has been idle for `SHRINK_AFTER`: a client
    /// that sends its requests in waves uses the room again at once.
    pub fn shrink_tables(&mut self) {
        if self.holds_spare_room() {
            self.streams.shrink_to(KEPT_STREAM_ROOM);
            for queue in &mut self.ready {
                queue.shrink_to(KEPT_STREAM_ROOM);
            }
            self.closed.shrink_to(KEPT_STREAM_ROOM);
        }
    }

    /// Gives the session an (empty) output buffer when it has none.
    pub fn set_output(&mut self, buffer: Vec<u8>) {
        if self.out.capacity() == 0 {
            self.out = buffer;
        }
    }

    /// Whether the session has no output buffer (it gave it to `shrink`).
    pub fn lacks_output(&self) -> bool {
        self.out.capacity() == 0
    }

    /// Whether the client's preface has arrived (else nothing was said).
    pub fn has_begun(&self) -> bool {
        self.phase != Phase::Preface
    }

    /// A graceful end (RFC 9113 §6.8): GOAWAY naming the last stream we
    /// will answer; those go on, later ones are ignored.
    pub fn go_away(&mut self) {
        if matches!(self.phase, Phase::Open | Phase::FirstSettings | Phase::Preface) {
            frame::write_goaway(&mut self.out, self.last_stream, Code::NoError);
            self.phase = Phase::Closing;
        }
    }

    /// Ends the connection with `code` (GOAWAY) at once.
    pub fn fail(&mut self, code: Code, why: &'static str) -> Fatal {
        if self.phase != Phase::Failed {
            frame::write_goaway(&mut self.out, self.last_stream, code);
            self.phase = Phase::Failed;
        }
        Fatal { code, why }
    }

    /// Reads one frame (or the preface) at the start of `input`: `None`
    /// while it has not all arrived, else the bytes used and what it meant.
    pub fn next_frame<'a>(&mut self, input: &'a [u8], now: Instant) -> Result<Option<(usize, Event<'a>)>, Fatal> {
        match self.phase {
            Phase::Failed => return Ok(None),
            Phase::Preface => {
                let n = input.len().min(frame::PREFACE.len());
                if input[..n] != frame::PREFACE[..n] {
                    return Err(self.fail(Code::Protocol, "not the HTTP/2 connection preface"));
                }
                if n < frame::PREFACE.len() {
                    return Ok(None);
                }
                self.phase = Phase::FirstSettings;
                return Ok(Some((n, Event::Quiet)));
            }
            _ => {}
        }
        let Some(header) = Header::parse(input) else { return Ok(None) };
        if header.len > MAX_FRAME_SIZE as usize {
            return Err(self.fail(Code::FrameSize, "a frame larger than SETTINGS_MAX_FRAME_SIZE"));
        }
        let total = frame::HEADER_LEN + header.len;
        let Some(payload) = input.get(frame::HEADER_LEN..total) else { return Ok(None) };
        if self.phase == Phase::FirstSettings {
            if header.kind != frame::SETTINGS || header.has(frame::ACK) {
                return Err(self.fail(Code::Protocol, "the preface was not followed by SETTINGS"));
            }
            self.phase = Phase::Open;
        }
        if now.duration_since(self.counted_since) > ABUSE_WINDOW {
            self.counted_since = now;
            self.resets = 0;
            self.idle_frames = 0;
        }
        if let Some(block) = &self.block {
            if header.kind != frame::CONTINUATION || header.stream != block.stream {
                return Err(self.fail(Code::Protocol, "a header block interrupted"));
            }
        }
        let event = match header.kind {
            frame::DATA => self.on_data(&header, payload)?,
            frame::HEADERS => self.on_headers(&header, payload)?,
            frame::CONTINUATION => self.on_continuation(&header, payload)?,
            frame::RST_STREAM => self.on_reset(&header, payload)?,
            frame::SETTINGS => self.on_settings(&header, payload)?,
            frame::PING => self.on_ping(&header, payload)?,
            frame::GOAWAY => {
                if header.stream != 0 || header.len < 8 {
                    return Err(self.fail(Code::Protocol, "a bad GOAWAY"));
                }
                self.peer_gone = true;
                Event::Quiet
            }
            frame::WINDOW_UPDATE => self.on_window_update(&header, payload)?,
            frame::PRIORITY => {
                if header.stream == 0 {
                    return Err(self.fail(Code::Protocol, "PRIORITY on stream 0"));
                }
                if header.len != 5 {
                    return Ok(Some((total, self.reset(header.stream, Code::FrameSize))));
                }
                self.count_idle()?;
                Event::Quiet
            }
            frame::PRIORITY_UPDATE => {
                self.count_idle()?;
                if header.stream != 0 || header.len < 4 {
                    return Err(self.fail(Code::Protocol, "a bad PRIORITY_UPDATE"));
                }
                let id = frame::read_u31(payload);
                if let Some(stream) = self.streams.get_mut(&id) {
                    stream.priority = Priority::parse(&payload[4..]);
                }
                Event::Quiet
            }
            frame::PUSH_PROMISE => return Err(self.fail(Code::Protocol, "PUSH_PROMISE from a client")),
            // Unknown types are ignored (§5.5), but they are frames without work.
            _ => {
                self.count_idle()?;
                Event::Quiet
            }
        };
        Ok(Some((total, event)))
    }

    /// Counts a frame that carries nothing (see [`MAX_IDLE_FRAMES`]).
    fn count_idle(&mut self) -> Result<(), Fatal> {
        self.idle_frames += 1;
        if self.idle_frames > MAX_IDLE_FRAMES {
            return Err(self.fail(Code::EnhanceYourCalm, "too many frames without requests or data"));
        }
        Ok(())
    }

    /// Counts a stream cancelled or refused (see [`MAX_RESETS`]).
    fn count_reset(&mut self) -> Result<(), Fatal> {
        self.resets += 1;
        if self.resets > MAX_RESETS {
            return Err(self.fail(Code::EnhanceYourCalm, "too many streams reset (rapid reset)"));
        }
        Ok(())
    }

    /// A stream error: RST_STREAM with `code`, the stream closed.
    fn reset(&mut self, id: u32, code: Code) -> Event<'static> {
        frame::write_rst_stream(&mut self.out, id, code);
        self.remember_cut_short(id);
        self.remove(id);
        Event::Reset { stream: id }
    }

    fn remove(&mut self, id: u32) {
        if let Some(stream) = self.streams.remove(&id) {
            self.closed.push((id, stream.body));
        }
    }

    /// Puts every stream with a body to send back in its queue.
    fn requeue_all(&mut self) {
        let ids: Vec<u32> = self.streams.iter().filter(|(_, s)| s.send_open && !s.queued).map(|(id, _)| *id).collect();
        for id in ids {
            self.queue(id);
        }
    }

    /// Queues `id` to send its body, at the back of its urgency's queue.
    pub fn queue(&mut self, id: u32) {
        if let Some(stream) = self.streams.get_mut(&id) {
            stream.stalled = None;
            if stream.send_open && !stream.queued {
                stream.queued = true;
                self.ready[usize::from(stream.priority.urgency)].push_back(id);
            }
        }
    }

    /// Sends a response head on `id`; `end_stream` when no body follows.
    pub fn send_head(&mut self, id: u32, block: &[u8], end_stream: bool) {
        if let Some(size) = self.table_update.take() {
            let mut updated = Vec::with_capacity(block.len() + 6);
            hpack::write_table_size(&mut updated, size as usize);
            updated.extend_from_slice(block);
            frame::write_headers(&mut self.out, id, &updated, end_stream, self.peer_max_frame);
        } else {
            frame::write_headers(&mut self.out, id, block, end_stream, self.peer_max_frame);
        }
        if end_stream {
            self.end_sending(id);
        }
    }

    /// Ends our side of `id`. A request body still coming is let finish
    /// (and dropped) while it fits the stream's window, then refused with
    /// `NO_ERROR` (RFC 9113 §8.1: the response is complete without it);
    /// some clients (curl before 8) take an early reset for a failure.
    fn end_sending(&mut self, id: u32) {
        let Some(stream) = self.streams.get_mut(&id) else { return };
        stream.send_open = false;
        if !stream.recv_open {
            self.remove(id);
        }
    }

    /// Resets `id` from our side (its body failed, a handler refused it).
    pub fn cancel(&mut self, id: u32, code: Code) {
        if self.streams.contains_key(&id) {
            frame::write_rst_stream(&mut self.out, id, code);
            self.remember_cut_short(id);
            self.remove(id);
        }
    }

    /// The stream whose turn it is to send, and how many body bytes it may
    /// send now (window and frame size); `None` when none may (the output
    /// is full, the windows are shut, or nobody has anything).
    pub fn pick(&mut self, now: Instant) -> Option<(u32, usize)> {
        if self.out.len() >= OUTPUT_HIGH_WATER || self.send_window <= 0 {
            return None;
        }
        for level in 0..LEVELS {
            while let Some(id) = self.ready[level].pop_front() {
                let Some(stream) = self.streams.get_mut(&id) else { continue };
                stream.queued = false;
                if !stream.send_open {
                    continue;
                }
                if stream.send_window <= 0 {
                    // Queued again by its WINDOW_UPDATE.
                    stream.stalled = stream.stalled.or(Some(now));
                    continue;
                }
                let allowed = stream.send_window.min(self.send_window).min(self.peer_max_frame as i64);
                // The stream goes back to its queue: at the front while it
                // is not incremental (served to its end), else at the back.
                stream.queued = true;
                if stream.priority.incremental {
                    self.ready[level].push_back(id);
                } else {
                    self.ready[level].push_front(id);
                }
                return Some((id, allowed as usize));
            }
        }
        None
    }

    /// Takes `id` out of the ready queues: it has nothing to send now
    /// ([`queue`](Self::queue) puts it back).
    pub fn pause(&mut self, id: u32) {
        if let Some(stream) = self.streams.get_mut(&id) {
            stream.stalled = None;
            if stream.queued {
                stream.queued = false;
                let queue = &mut self.ready[usize::from(stream.priority.urgency)];
                // Where `pick` left it: at the front (served to its end) or
                // at the back (incremental); elsewhere only after a reprioritisation.
                if queue.front() == Some(&id) {
                    queue.pop_front();
                } else if queue.back() == Some(&id) {
                    queue.pop_back();
                } else {
                    queue.retain(|&queued| queued != id);
                }
            }
        }
    }

    /// Sends `data` (at most what [`pick`](Self::pick) allowed) on `id`.
    pub fn send_data(&mut self, id: u32, data: &[u8], end_stream: bool) {
        let Some(stream) = self.streams.get_mut(&id) else { return };
        frame::write_header(&mut self.out, data.len(), frame::DATA, if end_stream { frame::END_STREAM } else { 0 }, id);
        self.out.extend_from_slice(data);
        stream.send_window -= data.len() as i64;
        self.send_window -= data.len() as i64;
        if end_stream {
            self.pause(id);
            self.end_sending(id);
        }
    }

    /// Whether a response has bytes to send: its turn is coming, or it
    /// waits for the client to open a window (a zero-window stall, which
    /// the connection's send timer ends).
    pub fn has_queued(&self) -> bool {
        self.ready.iter().any(|queue| !queue.is_empty()) || self.streams.values().any(|s| s.stalled.is_some())
    }

    /// Streams whose response has waited on a shut window since before
    /// `then`: a client that opens no window for one stream while others
    /// go on would hold its file and its slot for good.
    pub fn stalled_before(&self, then: Instant) -> Vec<u32> {
        self.streams.iter().filter(|(_, s)| s.stalled.is_some_and(|since| since < then)).map(|(id, _)| *id).collect()
    }
}

mod receive;
#[cfg(test)]
mod tests;
