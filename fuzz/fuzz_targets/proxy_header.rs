//! Fuzzes what rawserve believes about a client behind a proxy:
//! `proxy::parse_header` (PROXY protocol v1 and v2) and
//! `proxy::forwarded_client` (`Forwarded` / `X-Forwarded-For`).
//!
//! Input: the bytes a connection starts with; the same bytes, split at
//! newlines, are also used as forwarding header values.
//!
//! Properties asserted (a failure panics, which libFuzzer reports as a crash):
//! - parsing never panics; a complete header never claims more bytes than
//!   the input holds, nor more than the longest header accepted;
//! - the verdict does not depend on trailing bytes: every prefix of a
//!   complete header is incomplete, and the header alone parses the same;
//! - walking the forwarding headers never panics, and an untrusted peer
//!   is always its own client, whatever the headers say.
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use rawserve::fuzzing::{forwarded_client, parse_proxy_header, Cidr, ProxyHeader};

fuzz_target!(|data: &[u8]| {
    if let ProxyHeader::Complete { len, source } = parse_proxy_header(data) {
        assert!(len <= data.len() && len <= 16 + 2048, "claimed {len} of {}", data.len());
        assert_eq!(parse_proxy_header(&data[..len]), ProxyHeader::Complete { len, source });
        for end in 0..len {
            assert_eq!(parse_proxy_header(&data[..end]), ProxyHeader::Incomplete, "prefix {end} of {len}");
        }
    }

    let trusted: [Cidr; 2] = ["127.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()];
    let values: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let names = ["x-forwarded-for", "Forwarded"];
    let headers = || values.iter().enumerate().map(|(i, v)| (names[i % 2], *v));
    let peer: IpAddr = "127.0.0.1".parse().unwrap();
    let _ = forwarded_client(peer, &trusted, headers);
    let stranger: IpAddr = "192.0.2.1".parse().unwrap();
    assert_eq!(forwarded_client(stranger, &trusted, headers), stranger);
});
