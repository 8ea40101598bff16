//! A request's header list checked against RFC 9113 §8.3 and §8.2: the
//! pseudo-fields (`:method`, `:scheme`, `:path`, `:authority`) once each,
//! first; lowercase names; no connection-specific fields; values without
//! CR, LF or NUL; a `content-length` that parses. A list that fails is
//! malformed (a stream error, `PROTOCOL_ERROR`). Pure: the session calls
//! it, the connection builds the version-independent request from it.

use std::ops::Range;

use http::Method;

use super::hpack::Fields;
use super::priority::Priority;
use crate::http::syntax::byte_table;

/// A request head that passed the checks: ranges into [`Fields::bytes`].
#[derive(Debug, Clone)]
pub struct RequestHead {
    pub method: Method,
    /// `:path` (origin form, or `*` for OPTIONS).
    pub path: Range<usize>,
    /// `:authority`, which stands for `host` when that is absent.
    pub authority: Option<Range<usize>>,
    /// Indexes in [`Fields::list`] of the regular fields: every field
    /// after the pseudo-fields, which come first.
    pub regular: Range<usize>,
    pub content_length: Option<u64>,
    pub priority: Priority,
    pub has_host: bool,
}

/// Why a head is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// Against §8.3 or §8.2: reset with `PROTOCOL_ERROR`.
    Protocol(&'static str),
    /// A CONNECT request: a method this server does not proxy (501).
    Connect,
}

/// Fields that mean something only on an HTTP/1 connection (§8.2.2).
const CONNECTION_SPECIFIC: [&[u8]; 5] =
    [b"connection", b"proxy-connection", b"keep-alive", b"transfer-encoding", b"upgrade"];

/// Checks `fields` as a request head.
pub fn check(fields: &Fields) -> Result<RequestHead, Malformed> {
    let mut method = None;
    let mut scheme = false;
    let mut path = None;
    let mut authority = None;
    let mut first_regular = None;
    let mut content_length = None;
    let mut priority = Priority::default();
    let mut has_host = false;
    for i in 0..fields.list.len() {
        let (name, value) = (fields.name(i), fields.value(i));
        if !value_is_valid(value) {
            return Err(Malformed::Protocol("a field value with CR, LF, NUL or edge whitespace"));
        }
        if let Some(pseudo) = name.strip_prefix(b":") {
            if first_regular.is_some() {
                return Err(Malformed::Protocol("a pseudo-field after a regular one"));
            }
            let slot = match pseudo {
                b"method" => method.is_some(),
                b"scheme" => std::mem::replace(&mut scheme, true),
                b"path" => path.is_some(),
                b"authority" => authority.is_some(),
                _ => return Err(Malformed::Protocol("an unknown or response pseudo-field")),
            };
            if slot {
                return Err(Malformed::Protocol("a pseudo-field twice"));
            }
            let range = fields.list[i].1.clone();
            match pseudo {
                b"method" => {
                    method = Some(Method::from_bytes(value).map_err(|_| Malformed::Protocol("a bad :method"))?)
                }
                b"path" => path = Some(range),
                b"authority" => authority = Some(range),
                _ => {}
            }
            continue;
        }
        if !name_is_valid(name) {
            return Err(Malformed::Protocol("a field name that is not a lowercase token"));
        }
        if CONNECTION_SPECIFIC.contains(&name) {
            return Err(Malformed::Protocol("a connection-specific field"));
        }
        match name {
            b"te" if value != b"trailers" => return Err(Malformed::Protocol("te other than trailers")),
            b"content-length" => {
                let parsed = std::str::from_utf8(value).ok().and_then(|text| text.parse::<u64>().ok());
                match (parsed, content_length) {
                    (None, _) => return Err(Malformed::Protocol("a bad content-length")),
                    (Some(n), Some(before)) if n != before => return Err(Malformed::Protocol("two content-lengths")),
                    (n, _) => content_length = n,
                }
            }
            b"priority" => priority = Priority::parse(value),
            b"host" => has_host = true,
            _ => {}
        }
        first_regular.get_or_insert(i);
    }
    let regular = first_regular.unwrap_or(fields.list.len())..fields.list.len();
    let method = method.ok_or(Malformed::Protocol("no :method"))?;
    if method == Method::CONNECT {
        return Err(Malformed::Connect);
    }
    let path = path.ok_or(Malformed::Protocol("no :path"))?;
    if !scheme {
        return Err(Malformed::Protocol("no :scheme"));
    }
    let target = &fields.bytes[path.clone()];
    let origin = target.first() == Some(&b'/');
    let asterisk = target == b"*" && method == Method::OPTIONS;
    if !(origin || asterisk) || !target.iter().all(|b| (0x21..0x7f).contains(b)) {
        return Err(Malformed::Protocol("a :path that is not an origin-form target"));
    }
    Ok(RequestHead { method, path, authority, regular, content_length, priority, has_host })
}

/// The bytes of a lowercase token (RFC 9110 §5.6.2's tchar less the
/// capitals), by value: one lookup a byte for every name of every request.
const NAME_BYTES: [bool; 256] = byte_table!(|b| b.is_ascii_lowercase()
    || b.is_ascii_digit()
    || matches!(
        b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
    ));

/// A lowercase token (RFC 9110 §5.1, §8.2.1 of RFC 9113).
fn name_is_valid(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| NAME_BYTES[usize::from(b)])
}

/// No NUL, CR or LF, and no whitespace at either end (§8.2.1). (A plain
/// loop: memchr3's set-up cost more than it saved on values this short.)
fn value_is_valid(value: &[u8]) -> bool {
    let edge = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t'));
    !value.iter().any(|&b| matches!(b, 0 | b'\r' | b'\n')) && !edge(value.first()) && !edge(value.last())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(list: &[(&str, &str)]) -> Fields {
        let mut fields = Fields::default();
        for (name, value) in list {
            let start = fields.bytes.len();
            fields.bytes.extend_from_slice(name.as_bytes());
            let middle = fields.bytes.len();
            fields.bytes.extend_from_slice(value.as_bytes());
            fields.list.push((start..middle, middle..fields.bytes.len()));
        }
        fields
    }

    const GET: [(&str, &str); 3] = [(":method", "GET"), (":scheme", "https"), (":path", "/a?b")];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        GET.iter().chain(extra).copied().collect()
    }

    fn refused(list: &[(&str, &str)]) -> bool {
        check(&fields(list)).is_err()
    }

    #[test]
    fn a_good_head() {
        let f = fields(
            &with(&[(":authority", "x")])
                .into_iter()
                .chain([("accept", "*/*"), ("content-length", "5"), ("priority", "u=1, i")])
                .collect::<Vec<_>>(),
        );
        let head = check(&f).unwrap();
        assert_eq!(head.method, Method::GET);
        assert_eq!(&f.bytes[head.path.clone()], b"/a?b");
        assert_eq!(head.authority.map(|r| f.bytes[r].to_vec()), Some(b"x".to_vec()));
        assert_eq!(head.regular.len(), 3);
        assert_eq!(head.content_length, Some(5));
        assert_eq!(head.priority, Priority { urgency: 1, incremental: true });
        assert!(check(&fields(&[(":method", "OPTIONS"), (":scheme", "http"), (":path", "*")])).is_ok());
        assert!(check(&fields(&with(&[("te", "trailers")]))).is_ok());
    }

    #[test]
    fn malformed_heads() {
        let cases: [&[(&str, &str)]; 17] = [
            &[(":method", "GET"), (":scheme", "https")],
            &[(":method", "GET"), (":path", "/")],
            &[(":scheme", "https"), (":path", "/")],
            &with(&[(":method", "GET")]),
            &with(&[(":status", "200")]),
            &with(&[(":foo", "x")]),
            &[(":method", "GET"), ("accept", "x"), (":scheme", "https"), (":path", "/")],
            &with(&[("Accept", "x")]),
            &with(&[("connection", "close")]),
            &with(&[("transfer-encoding", "chunked")]),
            &with(&[("te", "gzip")]),
            &with(&[("x", "a\r\nb")]),
            &with(&[("x", " a")]),
            &with(&[("content-length", "x")]),
            &with(&[("content-length", "1"), ("content-length", "2")]),
            &[(":method", "GET"), (":scheme", "https"), (":path", "a")],
            &[(":method", "GET"), (":scheme", "https"), (":path", "*")],
        ];
        for case in cases {
            assert!(refused(case), "{case:?}");
        }
        assert!(refused(&[(":method", "GE T"), (":scheme", "https"), (":path", "/")]));
        assert!(refused(&[(":method", "GET"), (":scheme", "https"), (":path", "/a b")]));
        assert_eq!(check(&fields(&[(":method", "CONNECT"), (":authority", "x:443")])).unwrap_err(), Malformed::Connect);
    }

    #[test]
    fn names_and_values_byte_by_byte() {
        for b in 0..=255u8 {
            let token = b"!#$%&'*+-.^_`|~".contains(&b) || b.is_ascii_digit() || b.is_ascii_lowercase();
            assert_eq!(name_is_valid(&[b'x', b]), token, "name byte {b:#04x}");
            let forbidden = matches!(b, 0 | b'\r' | b'\n');
            assert_eq!(value_is_valid(&[b'a', b, b'z']), !forbidden, "value byte {b:#04x}");
        }
        assert!(!name_is_valid(b""));
        assert!(value_is_valid(b""));
        for edge in [&b" a"[..], b"a ", b"\ta", b"a\t"] {
            assert!(!value_is_valid(edge), "{edge:?}");
        }
        assert!(!value_is_valid(&[b'v'; 100].iter().copied().chain([b'\n']).collect::<Vec<u8>>()));
    }
}
