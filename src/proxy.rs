//! Who the client really is when rawserve sits behind a proxy or load
//! balancer: the HAProxy PROXY protocol header (v1 text, v2 binary) at the
//! start of a connection, and the `Forwarded` / `X-Forwarded-For` headers
//! of requests from trusted proxies.
//!
//! Everything here is pure (bytes and addresses in, an address out) and
//! table-tested below. The connection decides when a PROXY header is
//! expected (`Config::proxy_protocol`) and the exchange when forwarding
//! headers are believed (`Config::trusted_proxies`); the address found is
//! used for the access log only, never for access decisions. [`canonical`]
//! (IPv4-mapped addresses as IPv4) is shared with the access log.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

/// IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`, what a `::` socket
/// reports for IPv4 clients) as the IPv4 addresses they are. Here because
/// which address a client has is this module's question; the access log
/// logs addresses so too.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// A block of addresses, `10.0.0.0/8` or `2001:db8::/32`; a bare address
/// is a block of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` is in the block (IPv4-mapped IPv6 counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Cidr, String> {
        let wrong = || format!("`{text}` is not an address or a CIDR block (like 10.0.0.0/8 or ::1)");
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network = address.parse::<IpAddr>().map_err(|_| wrong())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|&p| p <= max).ok_or_else(wrong)?
            }
            Some(_) => return Err(wrong()),
        };
        // A block of IPv4-mapped addresses is that IPv4 block.
        match network {
            IpAddr::V6(v6) if prefix >= 96 && v6.to_ipv4_mapped().is_some() => {
                Ok(Cidr { network: canonical(network), prefix: prefix - 96 })
            }
            _ => Ok(Cidr { network, prefix }),
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// Whether any block of `trusted` contains `ip`.
pub fn is_trusted(trusted: &[Cidr], ip: IpAddr) -> bool {
    trusted.iter().any(|block| block.contains(ip))
}

/// The client behind a trusted `peer`: walking the forwarding chain from
/// its right end (the hop nearest to us), the first address that is not
/// itself trusted. `Forwarded` (RFC 7239) is used when present, else
/// `X-Forwarded-For`. A hop that is not an address (`unknown`, an
/// obfuscated name) ends the walk at the trusted hop after it; a chain of
/// trusted hops only gives its left-most. From an untrusted peer nothing
/// is believed: the peer is the client.
pub fn forwarded_client<'h, I>(peer: IpAddr, trusted: &[Cidr], headers: impl Fn() -> I) -> IpAddr
where
    I: Iterator<Item = (&'h str, &'h [u8])>,
{
    let peer = canonical(peer);
    if !is_trusted(trusted, peer) {
        return peer;
    }
    let has = |name: &str| headers().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let hops: Vec<Option<IpAddr>> = if has("forwarded") {
        headers()
            .filter(|(n, _)| n.eq_ignore_ascii_case("forwarded"))
            .flat_map(|(_, value)| split_outside_quotes(value, b','))
            .map(forwarded_for)
            .collect()
    } else {
        headers()
            .filter(|(n, _)| n.eq_ignore_ascii_case("x-forwarded-for"))
            .flat_map(|(_, value)| value.split(|&b| b == b','))
            .map(|hop| std::str::from_utf8(hop).ok().and_then(|text| node_address(text.trim())))
            .collect()
    };
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        if !is_trusted(trusted, client) {
            break;
        }
        match hop {
            Some(ip) => client = canonical(ip),
            None => break,
        }
    }
    client
}

/// The `for=` address of one `Forwarded` element (`for=1.2.3.4;proto=https`).
fn forwarded_for(element: &[u8]) -> Option<IpAddr> {
    split_outside_quotes(element, b';').find_map(|pair| {
        let text = std::str::from_utf8(pair).ok()?.trim();
        let (name, value) = text.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("for") {
            return None;
        }
        let value = value.trim();
        let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
        node_address(value)
    })
}

/// A node's address: `1.2.3.4`, `1.2.3.4:80`, `::1`, `[::1]`, `[::1]:80`.
fn node_address(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse::<Ipv6Addr>().ok()).map(IpAddr::V6);
    }
    node.parse::<SocketAddr>().ok().map(|a| a.ip())
}

/// Splits `bytes` at `separator` where it is not inside a quoted string.
fn split_outside_quotes(bytes: &[u8], separator: u8) -> impl Iterator<Item = &[u8]> {
    let mut quoted = false;
    let mut escaped = false;
    bytes.split(move |&b| {
        if escaped {
            escaped = false;
            return false;
        }
        match b {
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            _ => {}
        }
        b == separator && !quoted
    })
}

/// The v2 signature: it cannot start any HTTP request.
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// The longest v1 header, by the protocol's own definition.
const V1_MAX: usize = 107;
/// The longest v2 header accepted: addresses plus the TLVs haproxy sends
/// (unique id, TLS facts) are a few hundred bytes; the field allows 64 KiB,
/// which no one needs and a client should not make us buffer.
pub const V2_MAX: usize = 16 + 2048;

/// What the start of a connection holds.
#[derive(Debug, PartialEq, Eq)]
pub enum ProxyHeader {
    /// Not enough bytes yet to tell.
    Incomplete,
    /// Not a PROXY header, or a malformed one: close the connection.
    Invalid(&'static str),
    /// A header of `len` bytes; `source` is the client, `None` when the
    /// proxy speaks for itself (v2 `LOCAL`, its health checks; v1 `UNKNOWN`).
    Complete { len: usize, source: Option<SocketAddr> },
}

/// Parses a PROXY protocol header (v1 or v2) at the start of `input`.
pub fn parse_header(input: &[u8]) -> ProxyHeader {
    if input.len() < V2_SIGNATURE.len() && V2_SIGNATURE.starts_with(input) {
        return ProxyHeader::Incomplete;
    }
    if input.starts_with(V2_SIGNATURE) {
        return parse_v2(input);
    }
    let prefix = b"PROXY ";
    if input.len() < prefix.len() {
        return if prefix.starts_with(input) {
            ProxyHeader::Incomplete
        } else {
            ProxyHeader::Invalid("no PROXY header")
        };
    }
    if !input.starts_with(prefix) {
        return ProxyHeader::Invalid("no PROXY header");
    }
    parse_v1(input)
}

fn parse_v1(input: &[u8]) -> ProxyHeader {
    let Some(end) = input.iter().take(V1_MAX).position(|&b| b == b'\n') else {
        return if input.len() >= V1_MAX {
            ProxyHeader::Invalid("PROXY v1 line too long")
        } else {
            ProxyHeader::Incomplete
        };
    };
    let len = end + 1;
    let Some(line) = input[..end].strip_suffix(b"\r").and_then(|l| std::str::from_utf8(l).ok()) else {
        return ProxyHeader::Invalid("PROXY v1 line not ended by CRLF");
    };
    let fields: Vec<&str> = line.split(' ').collect();
    match fields.as_slice() {
        ["PROXY", "UNKNOWN", ..] => ProxyHeader::Complete { len, source: None },
        ["PROXY", family @ ("TCP4" | "TCP6"), source, destination, port, destination_port] => {
            let (ip, other) = match *family {
                "TCP4" => (
                    source.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
                    destination.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
                ),
                _ => (
                    source.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
                    destination.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
                ),
            };
            match (ip, other, strict_port(port), strict_port(destination_port)) {
                (Some(ip), Some(_), Some(port), Some(_)) => {
                    ProxyHeader::Complete { len, source: Some(SocketAddr::new(ip, port)) }
                }
                _ => ProxyHeader::Invalid("PROXY v1 addresses malformed"),
            }
        }
        _ => ProxyHeader::Invalid("PROXY v1 line malformed"),
    }
}

/// A v1 port: decimal digits without sign or leading zero, at most 65535.
fn strict_port(text: &str) -> Option<u16> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let leading_zero = text.len() > 1 && text.starts_with('0');
    if digits && !leading_zero {
        text.parse().ok()
    } else {
        None
    }
}

fn parse_v2(input: &[u8]) -> ProxyHeader {
    if input.len() < 16 {
        return ProxyHeader::Incomplete;
    }
    let version_command = input[12];
    let family = input[13];
    let length = usize::from(u16::from_be_bytes([input[14], input[15]]));
    if version_command >> 4 != 2 {
        return ProxyHeader::Invalid("PROXY v2 with an unknown version");
    }
    let len = 16 + length;
    if len > V2_MAX {
        return ProxyHeader::Invalid("PROXY v2 header too long");
    }
    if input.len() < len {
        return ProxyHeader::Incomplete;
    }
    let body = &input[16..len];
    match version_command & 0x0f {
        // LOCAL: the proxy's own connection (health checks); addresses ignored.
        0 => ProxyHeader::Complete { len, source: None },
        1 => match family >> 4 {
            // AF_UNSPEC: no address to tell.
            0 => ProxyHeader::Complete { len, source: None },
            1 if body.len() >= 12 => {
                let ip = Ipv4Addr::new(body[0], body[1], body[2], body[3]);
                let port = u16::from_be_bytes([body[8], body[9]]);
                ProxyHeader::Complete { len, source: Some(SocketAddr::new(IpAddr::V4(ip), port)) }
            }
            2 if body.len() >= 36 => {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&body[..16]);
                let port = u16::from_be_bytes([body[32], body[33]]);
                ProxyHeader::Complete { len, source: Some(SocketAddr::new(IpAddr::V6(octets.into()), port)) }
            }
            // AF_UNIX, or addresses shorter than their family needs.
            3 => ProxyHeader::Complete { len, source: None },
            _ => ProxyHeader::Invalid("PROXY v2 addresses malformed"),
        },
        _ => ProxyHeader::Invalid("PROXY v2 with an unknown command"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Cidr {
        text.parse().expect("valid CIDR")
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("valid address")
    }

    #[test]
    fn blocks() {
        let cases = [
            ("10.0.0.0/8", "10.1.2.3", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("127.0.0.1", "127.0.0.1", true),
            ("127.0.0.1", "127.0.0.2", false),
            ("0.0.0.0/0", "8.8.8.8", true),
            ("0.0.0.0/0", "::1", false),
            ("::1", "::1", true),
            ("2001:db8::/32", "2001:db8:ff::1", true),
            ("2001:db8::/32", "2001:db9::1", false),
            ("::/0", "2001:db8::1", true),
            // A mapped address is the IPv4 address it maps.
            ("127.0.0.0/8", "::ffff:127.0.0.1", true),
            ("::ffff:10.0.0.0/104", "10.9.9.9", true),
        ];
        for (block, address, want) in cases {
            assert_eq!(cidr(block).contains(ip(address)), want, "{block} ∋ {address}");
        }
        for bad in ["", "10.0.0.0/33", "::/129", "10.0.0/8", "x", "10.0.0.0/", "10.0.0.0/-1", "1.2.3.4/8/8"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad:?}");
        }
    }

    /// The client for a request from `peer` with `headers`, trusting 10/8 and ::1.
    fn client(peer: &str, headers: &[(&str, &str)]) -> String {
        let trusted = [cidr("10.0.0.0/8"), cidr("::1")];
        let headers: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
        forwarded_client(ip(peer), &trusted, || headers.iter().copied()).to_string()
    }

    #[test]
    fn forwarding_chains() {
        let xff = "X-Forwarded-For";
        // (peer, header fields, the client logged)
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case] = &[
            // An untrusted peer's headers are ignored.
            ("8.8.8.8", &[(xff, "1.1.1.1")], "8.8.8.8"),
            ("8.8.8.8", &[("Forwarded", "for=1.1.1.1")], "8.8.8.8"),
            // A trusted peer without headers is the client.
            ("10.0.0.1", &[], "10.0.0.1"),
            ("10.0.0.1", &[(xff, "1.1.1.1")], "1.1.1.1"),
            // The right-most untrusted hop, not what the client claimed first.
            ("10.0.0.1", &[(xff, "6.6.6.6, 1.1.1.1, 10.0.0.2")], "1.1.1.1"),
            ("10.0.0.1", &[(xff, "6.6.6.6"), (xff, "1.1.1.1")], "1.1.1.1"),
            // All trusted: the left-most.
            ("10.0.0.1", &[(xff, "10.0.0.3,10.0.0.2")], "10.0.0.3"),
            // A hop that is not an address stops the walk.
            ("10.0.0.1", &[(xff, "1.1.1.1, unknown")], "10.0.0.1"),
            ("10.0.0.1", &[(xff, "")], "10.0.0.1"),
            ("10.0.0.1", &[(xff, "1.1.1.1:443, [2001:db8::1]:80")], "2001:db8::1"),
            ("10.0.0.1", &[(xff, "::ffff:1.2.3.4")], "1.2.3.4"),
            // Forwarded wins over X-Forwarded-For, with quotes, ports and IPv6.
            ("10.0.0.1", &[(xff, "6.6.6.6"), ("Forwarded", "for=1.1.1.1;proto=https")], "1.1.1.1"),
            ("::1", &[("Forwarded", "for=6.6.6.6, for=\"[2001:db8:cafe::17]:4711\"")], "2001:db8:cafe::17"),
            ("10.0.0.1", &[("Forwarded", "by=10.0.0.1;for=\"1.1.1.1:80\"")], "1.1.1.1"),
            ("10.0.0.1", &[("Forwarded", "for=_hidden, for=10.0.0.9")], "10.0.0.9"),
            ("10.0.0.1", &[("Forwarded", "proto=http;host=\"a,b\"")], "10.0.0.1"),
            ("::ffff:10.0.0.1", &[(xff, "1.1.1.1")], "1.1.1.1"),
        ];
        for (peer, headers, want) in cases {
            assert_eq!(client(peer, headers), *want, "{peer} {headers:?}");
        }
    }

    fn v2(command: u8, family: u8, body: &[u8]) -> Vec<u8> {
        let mut header = V2_SIGNATURE.to_vec();
        header.push(0x20 | command);
        header.push(family);
        header.extend_from_slice(&(body.len() as u16).to_be_bytes());
        header.extend_from_slice(body);
        header
    }

    fn complete(len: usize, source: &str) -> ProxyHeader {
        ProxyHeader::Complete { len, source: Some(source.parse().expect("socket address")) }
    }

    #[test]
    fn proxy_headers() {
        let v1 = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET /";
        assert_eq!(parse_header(v1), complete(45, "192.0.2.1:56324"));
        assert_eq!(parse_header(b"PROXY TCP6 2001:db8::1 ::1 1 2\r\n"), complete(32, "[2001:db8::1]:1"));
        assert_eq!(parse_header(b"PROXY UNKNOWN\r\n"), ProxyHeader::Complete { len: 15, source: None });
        assert_eq!(parse_header(b"PROXY UNKNOWN 1 2 3 4\r\n"), ProxyHeader::Complete { len: 23, source: None });
        for partial in [&b""[..], b"P", b"PROX", b"PROXY ", b"PROXY TCP4 1.2.3.4", b"\r\n\r\n\0", b"\r\n"] {
            assert_eq!(parse_header(partial), ProxyHeader::Incomplete, "{partial:?}");
        }
        let invalid: &[&[u8]] = &[
            b"GET / HTTP/1.1\r\n",
            b"proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n",
            b"PROXY TCP4 ::1 1.2.3.4 1 2\r\n",
            b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n",
            b"PROXY TCP4 1.2.3.4 1.2.3.4 +1 2\r\n",
            b"PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n",
            b"PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n",
            b"PROXY TCP4  1.2.3.4 1.2.3.4 1 2\r\n",
            b"PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n",
            b"\r\n\r\n\0\r\nQUIX\n",
        ];
        for bad in invalid {
            assert!(matches!(parse_header(bad), ProxyHeader::Invalid(_)), "{:?}", String::from_utf8_lossy(bad));
        }
        let long = [b"PROXY TCP4 ".as_slice(), &[b'1'; 120]].concat();
        assert!(matches!(parse_header(&long), ProxyHeader::Invalid(_)));

        let v4 = [192, 0, 2, 1, 198, 51, 100, 2, 0xdc, 0x04, 0x01, 0xbb];
        assert_eq!(parse_header(&v2(1, 0x11, &v4)), complete(28, "192.0.2.1:56324"));
        let mut with_tlv = v4.to_vec();
        with_tlv.extend_from_slice(&[0x05, 0x00, 0x02, b'i', b'd']);
        let mut input = v2(1, 0x11, &with_tlv);
        input.extend_from_slice(b"GET / HTTP/1.1\r\n");
        assert_eq!(parse_header(&input), complete(33, "192.0.2.1:56324"));
        let mut v6 = [0u8; 36];
        v6[15] = 1;
        v6[32..34].copy_from_slice(&80u16.to_be_bytes());
        assert_eq!(parse_header(&v2(1, 0x21, &v6)), complete(52, "[::1]:80"));
        assert_eq!(parse_header(&v2(0, 0x00, &[])), ProxyHeader::Complete { len: 16, source: None });
        assert_eq!(parse_header(&v2(0, 0x11, &v4)), ProxyHeader::Complete { len: 28, source: None });
        // Every prefix of a valid header is incomplete, never invalid.
        let whole = v2(1, 0x11, &v4);
        for end in 0..whole.len() {
            assert_eq!(parse_header(&whole[..end]), ProxyHeader::Incomplete, "prefix of {end}");
        }
        let whole = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n";
        for end in 0..whole.len() {
            assert_eq!(parse_header(&whole[..end]), ProxyHeader::Incomplete, "v1 prefix of {end}");
        }
        assert!(matches!(parse_header(&v2(1, 0x11, &v4[..8])), ProxyHeader::Invalid(_)));
        assert!(matches!(parse_header(&v2(2, 0x11, &v4)), ProxyHeader::Invalid(_)));
        let mut wrong_version = v2(1, 0x11, &v4);
        wrong_version[12] = 0x11;
        assert!(matches!(parse_header(&wrong_version), ProxyHeader::Invalid(_)));
        let mut huge = V2_SIGNATURE.to_vec();
        huge.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
        assert!(matches!(parse_header(&huge), ProxyHeader::Invalid(_)));
    }
}
