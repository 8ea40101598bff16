//! The Writing state: a queued response on its way out — the encoded head
//! and in-memory body, then file ranges (`sendfile`, or encrypted reads
//! over TLS) and streamed pieces framed as chunks — within the turn's
//! byte budget and with the FIN held back to ride on the last segment.

use std::io;
use std::time::{Duration, Instant};

use super::{Connection, State};
use crate::context::Context;
use crate::http::response::Chunk;
use crate::http1::encode;
use crate::http1::exchange::Persistence;

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
/// Longest a turn makes pieces of a streamed body (compressing a large
/// file, reading a folder for a tar) before yielding. Bytes alone do not
/// bound it: a piece of brotli costs ten times what one of gzip 1 does
/// (0.3-2 ms per 64 KiB, measured). 1 ms is one to three pieces at the
/// streamed levels, and with the worker's `READY_SLICE` keeps a request
/// to a worker busy compressing for 16 clients within a few milliseconds.
const STREAM_TURN_TIME: Duration = Duration::from_millis(1);

impl Connection {
    /// Sends pending output. `Ok(true)` when the response is fully sent.
    pub(super) fn flush(&mut self, cx: &Context, budget: &mut u64) -> io::Result<bool> {
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
                    if !encode::next_piece(source.as_mut(), *chunked, out)? {
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
}
