//! Fuzzes the request body decoder (`Content-Length` and chunked framing,
//! extensions, trailers, limits) on its own, fed in arbitrary pieces.
//!
//! Input layout: byte 0 picks the framing (bit 0: chunked, else a length
//! from byte 1) and the piece size (bits 1..=7, plus 1); the rest is what
//! follows a request head.
//!
//! Properties asserted (a failure panics, which libFuzzer reports as a crash):
//! - decoding never panics, and never uses more bytes than it is given;
//! - the body, whether it ended, the bytes used and any error are the same
//!   fed in pieces as fed whole;
//! - a body never exceeds the limit, and a length body is exactly its length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rawserve::fuzzing::{BodyDecoder, BodyError, Limits};

const LIMITS: Limits = Limits { body_bytes: 4096, extension_bytes: 64, trailer_bytes: 256, trailer_fields: 8 };

/// Decodes `input` in pieces of `step`: (body, done, used) or the error.
fn decode(mut decoder: BodyDecoder, input: &[u8], step: usize) -> Result<(Vec<u8>, bool, usize), BodyError> {
    let (mut body, mut buffered, mut used) = (Vec::new(), Vec::new(), 0);
    for piece in input.chunks(step) {
        buffered.extend_from_slice(piece);
        while !decoder.is_done() {
            let got = decoder.next(&buffered)?;
            assert!(got.used <= buffered.len(), "used more than given");
            body.extend_from_slice(got.data);
            let n = got.used;
            buffered.drain(..n);
            used += n;
            if n == 0 {
                break;
            }
        }
        if decoder.is_done() {
            break;
        }
    }
    Ok((body, decoder.is_done(), used))
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else { return };
    let step = usize::from(control >> 1) + 1;
    let make = |rest: &[u8]| -> (BodyDecoder, Option<u64>) {
        if control & 1 == 1 {
            (BodyDecoder::chunked(LIMITS), None)
        } else {
            let length = u64::from(rest.first().copied().unwrap_or(0)) * 17;
            (BodyDecoder::length(length, LIMITS), Some(length))
        }
    };
    let (whole_decoder, length) = make(rest);
    let whole = decode(whole_decoder, rest, rest.len().max(1));
    let split = decode(make(rest).0, rest, step);
    assert_eq!(split, whole, "the answer depends on how the bytes were split");
    if let Ok((body, done, _)) = &whole {
        assert!(body.len() as u64 <= LIMITS.body_bytes);
        if let (Some(length), true) = (length, *done) {
            assert_eq!(body.len() as u64, length);
        }
    }
});
