//! Fuzzes WebDAV's request parsing: the XML reader that `PROPFIND`,
//! `PROPPATCH` and `LOCK` bodies go through, and the `If` field.
//!
//! Input layout: byte 0 picks the parser (bit 0: the `If` field, else XML);
//! the rest is the body or the field.
//!
//! Properties asserted (a failure panics, which libFuzzer reports as a crash):
//! - neither parser panics, whatever the bytes;
//! - an element's content written back (`inner_xml`, what `PROPPATCH`
//!   stores) parses again to the very same content, so a stored property
//!   always reads back as it was set;
//! - an `If` field that parses can be judged, and its tokens listed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rawserve::fuzzing::{parse_xml, If, IfState};

/// A state where nothing is locked and every resource has one tag.
struct Nothing;

impl IfState for Nothing {
    fn etag(&mut self, _resource: Option<&str>) -> Option<String> {
        Some("\"t\"".to_string())
    }
    fn locked_by(&mut self, _resource: Option<&str>, _token: &str) -> bool {
        false
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else { return };
    if control & 1 == 1 {
        let Ok(text) = std::str::from_utf8(rest) else { return };
        if let Some(field) = If::parse(text) {
            let _ = field.holds(&mut Nothing);
            let _ = field.tokens().count();
        }
        return;
    }
    let Ok(root) = parse_xml(rest) else { return };
    let inner = root.inner_xml();
    let again = parse_xml(format!("<v>{inner}</v>").as_bytes()).expect("written content parses again");
    assert_eq!(again.inner_xml(), inner, "written content reads back the same");
});
