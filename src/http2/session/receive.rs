//! The session's receiving side: what each kind of frame a client sends
//! does to the connection and its streams (RFC 9113 §6), header blocks
//! gathered across CONTINUATION frames and decoded, and which answers
//! are stream errors (RST_STREAM) and which connection errors (GOAWAY).

use super::*;

impl<B: Default> Session<B> {
    pub(super) fn on_data<'a>(&mut self, header: &Header, payload: &'a [u8]) -> Result<Event<'a>, Fatal> {
        let id = header.stream;
        if id == 0 || id > self.last_stream {
            return Err(self.fail(Code::Protocol, "DATA on an idle stream"));
        }
        let len = header.len as i64;
        if len > self.recv_window {
            return Err(self.fail(Code::FlowControl, "DATA past the connection window"));
        }
        self.recv_window -= len;
        // The caller takes every byte now (into a sink or a budgeted
        // buffer), so the window opens again at once.
        self.recv_unacked += header.len as u32;
        if self.recv_unacked >= CONNECTION_WINDOW / 2 {
            frame::write_window_update(&mut self.out, 0, self.recv_unacked);
            self.recv_window += i64::from(self.recv_unacked);
            self.recv_unacked = 0;
        }
        let Some(data) = frame::unpad(header, payload) else {
            return Err(self.fail(Code::Protocol, "padding longer than its frame"));
        };
        let end_stream = header.has(frame::END_STREAM);
        if data.is_empty() && !end_stream {
            self.count_idle()?;
        }
        let Some(stream) = self.streams.get_mut(&id) else {
            return Ok(self.closed_stream_frame(id));
        };
        if !stream.recv_open {
            return Ok(self.reset(id, Code::StreamClosed));
        }
        if len > stream.recv_window {
            return Ok(self.reset(id, Code::FlowControl));
        }
        stream.recv_window -= len;
        stream.received += data.len() as u64;
        if stream.content_length.is_some_and(|n| stream.received > n || (end_stream && stream.received != n)) {
            return Ok(self.reset(id, Code::Protocol));
        }
        if end_stream {
            self.end_receiving(id);
        } else {
            stream.recv_unacked += header.len as u32;
            if stream.recv_unacked >= STREAM_WINDOW / 2 && !stream.send_open {
                // Answered: no more of a body nobody reads.
                frame::write_rst_stream(&mut self.out, id, Code::NoError);
                self.remember_cut_short(id);
                self.remove(id);
                return Ok(Event::Quiet);
            }
            if stream.recv_unacked >= STREAM_WINDOW / 2 {
                frame::write_window_update(&mut self.out, id, stream.recv_unacked);
                stream.recv_window += i64::from(stream.recv_unacked);
                stream.recv_unacked = 0;
            }
        }
        Ok(Event::Data { stream: id, data, end_stream })
    }

    /// A frame for a stream that has closed: STREAM_CLOSED (§5.1), unless
    /// we cut it short and the frame was on its way.
    pub(super) fn closed_stream_frame(&mut self, id: u32) -> Event<'static> {
        if !self.cut_short.contains(&id) {
            frame::write_rst_stream(&mut self.out, id, Code::StreamClosed);
        }
        Event::Quiet
    }

    /// Remembers that `id` was ended while its client may still send.
    pub(super) fn remember_cut_short(&mut self, id: u32) {
        if self.cut_short.len() == REMEMBERED_CUT_SHORT {
            self.cut_short.pop_front();
        }
        self.cut_short.push_back(id);
    }

    /// The client ended its side of `id`.
    pub(super) fn end_receiving(&mut self, id: u32) {
        if let Some(stream) = self.streams.get_mut(&id) {
            stream.recv_open = false;
            if !stream.send_open {
                self.remove(id);
            }
        }
    }

    pub(super) fn on_headers<'a>(&mut self, header: &Header, payload: &'a [u8]) -> Result<Event<'a>, Fatal> {
        let id = header.stream;
        if id == 0 || id.is_multiple_of(2) {
            return Err(self.fail(Code::Protocol, "HEADERS on a stream a client cannot open"));
        }
        let Some(mut fragment) = frame::unpad(header, payload) else {
            return Err(self.fail(Code::Protocol, "padding longer than its frame"));
        };
        if header.has(frame::PRIORITY_FLAG) {
            if fragment.len() < 5 {
                return Err(self.fail(Code::FrameSize, "HEADERS too short for its priority"));
            }
            if frame::read_u31(fragment) == id {
                return Ok(self.reset(id, Code::Protocol));
            }
            fragment = &fragment[5..];
        }
        if fragment.is_empty() && !header.has(frame::END_HEADERS) {
            self.count_idle()?;
        }
        if fragment.len() > self.max_list {
            return Err(self.fail(Code::EnhanceYourCalm, "a header block larger than the head limit"));
        }
        if header.has(frame::END_HEADERS) {
            // The common case, a block in one frame, is decoded where it lies.
            return self.on_block(id, header.has(frame::END_STREAM), fragment);
        }
        self.block =
            Some(Block { stream: id, end_stream: header.has(frame::END_STREAM), bytes: fragment.to_vec(), frames: 1 });
        Ok(Event::Quiet)
    }

    pub(super) fn on_continuation<'a>(&mut self, header: &Header, payload: &'a [u8]) -> Result<Event<'a>, Fatal> {
        let Some(block) = &mut self.block else {
            return Err(self.fail(Code::Protocol, "CONTINUATION without HEADERS"));
        };
        block.frames += 1;
        block.bytes.extend_from_slice(payload);
        let (frames, size) = (block.frames, block.bytes.len());
        if size > self.max_list || frames > MAX_CONTINUATIONS {
            // CVE-2024-27316's family: a block that never ends.
            return Err(self.fail(Code::EnhanceYourCalm, "a header block over its limits (CONTINUATION flood)"));
        }
        if payload.is_empty() && !header.has(frame::END_HEADERS) {
            self.count_idle()?;
        }
        if !header.has(frame::END_HEADERS) {
            return Ok(Event::Quiet);
        }
        let block = self.block.take().expect("OK: matched above");
        self.on_block(block.stream, block.end_stream, &block.bytes)
    }

    /// A whole header block: a new stream's request, or trailers.
    pub(super) fn on_block<'a>(&mut self, id: u32, end_stream: bool, block: &[u8]) -> Result<Event<'a>, Fatal> {
        // Decoded whatever becomes of the stream: the table must follow the client's.
        let mut fields = std::mem::take(&mut self.spare_fields);
        let Ok(()) = hpack::decode_into(&mut self.decoder, block, self.max_list, &mut fields) else {
            return Err(self.fail(Code::Compression, "a header block that does not decode"));
        };
        if let Some(stream) = self.streams.get_mut(&id) {
            if !stream.recv_open {
                return Ok(self.reset(id, Code::StreamClosed));
            }
            if !end_stream {
                return Ok(self.reset(id, Code::Protocol));
            }
            // Trailers: they end the body; rawserve has no use for them.
            self.end_receiving(id);
            return Ok(Event::Data { stream: id, data: &[], end_stream: true });
        }
        if id <= self.last_stream {
            if self.cut_short.contains(&id) {
                return Ok(Event::Quiet);
            }
            return Err(self.fail(Code::StreamClosed, "HEADERS on a closed stream"));
        }
        self.last_stream = id;
        if self.phase == Phase::Closing {
            // After our GOAWAY: not answered (the client retries it elsewhere).
            return Ok(Event::Quiet);
        }
        if self.streams.len() >= MAX_CONCURRENT_STREAMS as usize {
            self.count_reset()?;
            frame::write_rst_stream(&mut self.out, id, Code::RefusedStream);
            self.remember_cut_short(id);
            return Ok(Event::Quiet);
        }
        let head = head::check(&fields);
        let content_length = head.as_ref().ok().and_then(|h| h.content_length);
        let priority = head.as_ref().map(|h| h.priority).unwrap_or_default();
        self.streams.insert(
            id,
            Stream {
                body: B::default(),
                recv_open: !end_stream,
                recv_window: i64::from(STREAM_WINDOW),
                recv_unacked: 0,
                received: 0,
                content_length,
                send_window: self.peer_initial_window,
                send_open: true,
                priority,
                queued: false,
                stalled: None,
            },
        );
        if fields.over {
            return Ok(Event::Refuse { stream: id, status: 431 });
        }
        match head {
            Ok(head) => {
                if end_stream && head.content_length.is_some_and(|n| n != 0) {
                    return Ok(self.reset(id, Code::Protocol));
                }
                Ok(Event::Request { stream: id, fields, head, end_stream })
            }
            Err(Malformed::Connect) => Ok(Event::Refuse { stream: id, status: 501 }),
            Err(Malformed::Protocol(why)) => {
                log::debug!("stream {id}: malformed request: {why}");
                Ok(self.reset(id, Code::Protocol))
            }
        }
    }

    pub(super) fn on_reset<'a>(&mut self, header: &Header, payload: &[u8]) -> Result<Event<'a>, Fatal> {
        if header.stream == 0 {
            return Err(self.fail(Code::Protocol, "RST_STREAM on stream 0"));
        }
        if header.len != 4 {
            return Err(self.fail(Code::FrameSize, "RST_STREAM not 4 bytes"));
        }
        let _ = payload;
        if header.stream > self.last_stream {
            return Err(self.fail(Code::Protocol, "RST_STREAM on an idle stream"));
        }
        if !self.streams.contains_key(&header.stream) {
            self.count_idle()?;
            return Ok(Event::Quiet);
        }
        // A stream cancelled before its response ended: rapid reset counts these.
        self.count_reset()?;
        self.remove(header.stream);
        Ok(Event::Reset { stream: header.stream })
    }

    pub(super) fn on_settings<'a>(&mut self, header: &Header, payload: &[u8]) -> Result<Event<'a>, Fatal> {
        if header.stream != 0 {
            return Err(self.fail(Code::Protocol, "SETTINGS on a stream"));
        }
        self.count_idle()?;
        if header.has(frame::ACK) {
            if header.len != 0 {
                return Err(self.fail(Code::FrameSize, "a SETTINGS acknowledgement with a payload"));
            }
            return Ok(Event::Quiet);
        }
        if !header.len.is_multiple_of(6) {
            return Err(self.fail(Code::FrameSize, "SETTINGS not a multiple of 6 bytes"));
        }
        for setting in payload.chunks_exact(6) {
            let id = u16::from_be_bytes([setting[0], setting[1]]);
            let value = u32::from_be_bytes([setting[2], setting[3], setting[4], setting[5]]);
            match id {
                frame::SETTINGS_ENABLE_PUSH if value > 1 => {
                    return Err(self.fail(Code::Protocol, "SETTINGS_ENABLE_PUSH not 0 or 1"))
                }
                frame::SETTINGS_INITIAL_WINDOW_SIZE => {
                    if i64::from(value) > frame::MAX_WINDOW {
                        return Err(self.fail(Code::FlowControl, "SETTINGS_INITIAL_WINDOW_SIZE too large"));
                    }
                    let delta = i64::from(value) - self.peer_initial_window;
                    self.peer_initial_window = i64::from(value);
                    for stream in self.streams.values_mut() {
                        stream.send_window += delta;
                        if stream.send_window > frame::MAX_WINDOW {
                            return Err(self.fail(Code::FlowControl, "a stream window past 2^31-1"));
                        }
                    }
                    if delta > 0 {
                        self.requeue_all();
                    }
                }
                frame::SETTINGS_MAX_FRAME_SIZE => {
                    if !(16_384..=16_777_215).contains(&value) {
                        return Err(self.fail(Code::Protocol, "SETTINGS_MAX_FRAME_SIZE out of range"));
                    }
                    self.peer_max_frame = value as usize;
                }
                frame::SETTINGS_HEADER_TABLE_SIZE if (value as usize) < HEADER_TABLE_SIZE => {
                    self.table_update = Some(value);
                }
                _ => {}
            }
        }
        frame::write_settings_ack(&mut self.out);
        Ok(Event::Quiet)
    }

    pub(super) fn on_ping<'a>(&mut self, header: &Header, payload: &[u8]) -> Result<Event<'a>, Fatal> {
        if header.stream != 0 {
            return Err(self.fail(Code::Protocol, "PING on a stream"));
        }
        if header.len != 8 {
            return Err(self.fail(Code::FrameSize, "PING not 8 bytes"));
        }
        self.count_idle()?;
        if !header.has(frame::ACK) {
            frame::write_ping_ack(&mut self.out, payload);
        }
        Ok(Event::Quiet)
    }

    pub(super) fn on_window_update<'a>(&mut self, header: &Header, payload: &[u8]) -> Result<Event<'a>, Fatal> {
        if header.len != 4 {
            return Err(self.fail(Code::FrameSize, "WINDOW_UPDATE not 4 bytes"));
        }
        let increment = i64::from(frame::read_u31(payload));
        if header.stream == 0 {
            if increment == 0 {
                return Err(self.fail(Code::Protocol, "a WINDOW_UPDATE of 0"));
            }
            self.send_window += increment;
            if self.send_window > frame::MAX_WINDOW {
                return Err(self.fail(Code::FlowControl, "the connection window past 2^31-1"));
            }
            return Ok(Event::Quiet);
        }
        if header.stream > self.last_stream {
            return Err(self.fail(Code::Protocol, "WINDOW_UPDATE on an idle stream"));
        }
        let Some(stream) = self.streams.get_mut(&header.stream) else { return Ok(Event::Quiet) };
        if increment == 0 {
            return Ok(self.reset(header.stream, Code::Protocol));
        }
        stream.send_window += increment;
        if stream.send_window > frame::MAX_WINDOW {
            return Ok(self.reset(header.stream, Code::FlowControl));
        }
        self.queue(header.stream);
        Ok(Event::Quiet)
    }
}
