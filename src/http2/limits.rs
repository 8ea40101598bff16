//! Every limit of the HTTP/2 layer, in one place, each with its reason.
//!
//! Limits that a user may want to change live in `Config` (the header list
//! size is `Config::max_head_bytes`, body sizes `Config::max_body_bytes`,
//! timeouts the connection's); these are the protocol's own: what we
//! advertise in SETTINGS, and the counters that answer the known attacks
//! on HTTP/2 servers with `GOAWAY ENHANCE_YOUR_CALM`.

use std::time::Duration;

/// `SETTINGS_MAX_CONCURRENT_STREAMS`: streams a client may have open at
/// once. 100 is what nginx, h2o and Caddy advertise and what browsers and
/// h2load (`-m 100`) expect; a stream past it is refused (`REFUSED_STREAM`).
pub const MAX_CONCURRENT_STREAMS: u32 = 100;

/// `SETTINGS_INITIAL_WINDOW_SIZE` we advertise: how much request body a
/// client may send on one stream before we say we took it. Bodies are
/// handed on as they arrive (a sink, or the budgeted buffer of a route that
/// reads whole), so a large window costs no memory of ours and lets an
/// upload run at the link's speed.
pub const STREAM_WINDOW: u32 = 1 << 20;

/// The connection's receive window (raised from the protocol's 65,535 by a
/// WINDOW_UPDATE right after our SETTINGS): several uploads at once.
pub const CONNECTION_WINDOW: u32 = 16 << 20;

/// The largest frame payload we accept: the protocol's default (we do not
/// raise `SETTINGS_MAX_FRAME_SIZE`), so a partial frame holds at most this
/// much input.
pub const MAX_FRAME_SIZE: u32 = 16_384;

/// `SETTINGS_HEADER_TABLE_SIZE`: the HPACK dynamic table a client may fill
/// in our decoder (the protocol's default). A size update above it is a
/// `COMPRESSION_ERROR`: the table is the memory an HPACK bomb aims at.
pub const HEADER_TABLE_SIZE: usize = 4096;

/// What one field costs in a header list besides its name and value
/// (RFC 9113 §6.5.2): a flood of empty fields is bounded too.
pub const FIELD_OVERHEAD: usize = 32;

/// Rapid reset (CVE-2023-44487): streams a client may cancel (RST_STREAM
/// before its response ended), or open past the concurrency limit, per
/// [`ABUSE_WINDOW`]. A browser cancels a few when a page is left; thousands
/// are the attack, which makes a server start work it never sends.
pub const MAX_RESETS: u32 = 500;

/// Frames that carry no request and no data — SETTINGS, PING, PRIORITY,
/// PRIORITY_UPDATE, unknown types, and empty DATA, HEADERS or CONTINUATION
/// frames — a client may send per [`ABUSE_WINDOW`]. Each costs us a frame's
/// work (and SETTINGS and PING an answer); a flood of them is the
/// "ping flood", "settings flood" and "empty frames" family
/// (CVE-2019-9512, -9515, -9518). Browsers send a handful a connection.
pub const MAX_IDLE_FRAMES: u32 = 2_000;

/// The span the two counters above are kept over: after it they start
/// again from zero, so a long, busy, well-behaved connection never meets
/// them.
pub const ABUSE_WINDOW: Duration = Duration::from_secs(10);

/// Frames a header block may span (HEADERS and its CONTINUATIONs). The
/// block's bytes are bounded by `Config::max_head_bytes`; this bounds the
/// count too, so a flood of tiny CONTINUATION frames (CVE-2024-27316's
/// family) is cut off early.
pub const MAX_CONTINUATIONS: u32 = 64;

/// Output bytes waiting for the socket past which no more DATA is made:
/// one write's worth, so a client that stops reading holds at most this
/// much of our memory (the rest of a file stays in the file).
pub const OUTPUT_HIGH_WATER: usize = 64 * 1024;

/// Output bytes waiting for the socket past which the connection is
/// closed: only control frames (PING and SETTINGS answers, resets) can
/// pile up past [`OUTPUT_HIGH_WATER`], and only if the client sends them
/// faster than it reads our answers.
pub const MAX_UNSENT_OUTPUT: usize = 1 << 20;

/// Bytes of a streamed body (a tar, a compressed file) made at a time:
/// [`crate::http::response::STREAM_PIECE`] is about one piece.
pub const DATA_CHUNK: usize = 16_384;

/// Streams remembered as ended by us while their client was still
/// sending, whose late frames are dropped quietly: a client stops within a
/// round trip, in which it opens at most `MAX_CONCURRENT_STREAMS` more.
pub const REMEMBERED_CUT_SHORT: usize = 2 * MAX_CONCURRENT_STREAMS as usize;

/// Streams' room an idle connection keeps in its tables: a burst of 100
/// streams is given back once it is over, one request at a time keeps
/// its room (freeing it would cost an allocation a request).
pub const KEPT_STREAM_ROOM: usize = 4;

/// The largest decoded header list (bytes) kept to decode the next one
/// into: a browser's requests fit; a rare large one is freed.
pub const RECYCLED_LIST_ROOM: usize = 4096;

/// How long a connection stays without a stream before its tables give
/// back a burst's room: requests that come in waves (a page's assets, as
/// it parses them; `h2load -m 10`, whose waves regrew the table every 10
/// requests at 430 instructions a request) find the room still there.
pub const SHRINK_AFTER: Duration = Duration::from_secs(1);
