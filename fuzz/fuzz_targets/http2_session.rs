//! Fuzzes the HTTP/2 session (`http2::Session`) and HPACK decoding with
//! whatever a client could send after the preface.
//!
//! Input: the bytes that follow the connection preface and an empty
//! SETTINGS frame; the same bytes are also decoded as one header block.
//!
//! Properties asserted (a failure panics, which libFuzzer reports as a crash):
//! - reading frames never panics, never claims more bytes than it was
//!   given, and stops at a connection error;
//! - answering every request (a head, then DATA as the scheduler allows)
//!   never panics and never sends more DATA than the windows allowed;
//! - a decoded header list never holds more than its bound.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use rawserve::fuzzing::{hpack, Http2Event, Http2Session, HTTP2_PREFACE};

/// The bound on a decoded list (the server's default head limit).
const MAX_LIST: usize = 16 * 1024;

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();
    let mut session: Http2Session<()> = Http2Session::new(MAX_LIST, now);
    let mut input = HTTP2_PREFACE.to_vec();
    input.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    input.extend_from_slice(data);
    let mut at = 0;
    let mut requests = Vec::new();
    loop {
        match session.next_frame(&input[at..], now) {
            Ok(Some((used, event))) => {
                assert!(used > 0 && at + used <= input.len(), "used {used} at {at} of {}", input.len());
                at += used;
                if let Http2Event::Request { stream, fields, .. } = event {
                    assert!(fields.bytes.len() <= MAX_LIST);
                    requests.push(stream);
                }
            }
            Ok(None) => break,
            Err(_) => break,
        }
    }
    for stream in requests {
        session.send_head(stream, &[0x88], false);
        session.queue(stream);
    }
    let body = [7u8; 20_000];
    let mut rounds = 0;
    while let Some((stream, allowed)) = session.pick(now) {
        assert!(allowed <= 16_777_215);
        let take = allowed.min(body.len());
        session.send_data(stream, &body[..take], rounds % 3 == 2);
        session.output_mut().clear();
        rounds += 1;
        if rounds > 1000 {
            break;
        }
    }

    let mut decoder = hpack::decoder();
    if let Ok(fields) = hpack::decode(&mut decoder, data, MAX_LIST) {
        let listed: usize = fields.list.iter().map(|(n, v)| n.len() + v.len() + 32).sum();
        assert!(listed <= MAX_LIST, "{listed}");
    }
});
