//! Fuzzes the uploads' streaming `multipart/form-data` parser on its own,
//! fed in arbitrary pieces.
//!
//! Input layout: byte 0 is the piece size (plus 1); the rest is a body
//! whose boundary is `b`.
//!
//! Properties asserted (a failure panics, which libFuzzer reports as a crash):
//! - parsing never panics;
//! - the events (part heads, the data of each part, part ends) and the
//!   outcome are the same fed in pieces as fed whole;
//! - no data event is empty.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rawserve::fuzzing::{MultipartError, MultipartEvent, MultipartParser};

/// What parsing `body` in pieces of `step` gives: events with data merged
/// per part, and the outcome.
fn parse(body: &[u8], step: usize) -> (Vec<String>, Vec<Vec<u8>>, Result<(), MultipartError>) {
    let mut parser = MultipartParser::new("b");
    let (mut heads, mut data): (Vec<String>, Vec<Vec<u8>>) = (Vec::new(), Vec::new());
    for piece in body.chunks(step) {
        let fed = parser.feed(piece, |event| {
            match event {
                MultipartEvent::Part(head) => {
                    heads.push(format!("{:?}", head));
                    data.push(Vec::new());
                }
                MultipartEvent::Data(bytes) => {
                    assert!(!bytes.is_empty(), "an empty data event");
                    data.last_mut().expect("data inside a part").extend_from_slice(bytes);
                }
                MultipartEvent::PartEnd => heads.push("end".into()),
            }
            Ok::<(), MultipartError>(())
        });
        if let Err(e) = fed {
            return (heads, data, Err(e));
        }
    }
    let outcome = parser.finish();
    (heads, data, outcome)
}

fuzz_target!(|input: &[u8]| {
    let Some((&control, body)) = input.split_first() else { return };
    let whole = parse(body, body.len().max(1));
    let split = parse(body, usize::from(control) + 1);
    assert_eq!(split, whole, "the answer depends on how the bytes were split");
});
