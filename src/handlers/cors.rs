//! Cross-origin resource sharing (the Fetch standard's CORS protocol) for
//! a read-only folder: which origin may read a response, and the answer to
//! a preflight.
//!
//! With [`Cors::AnyOrigin`] every response says `Access-Control-Allow-Origin: *`,
//! the same to everyone, so it is part of a file's cached header lines.
//! With [`Cors::Origins`] the request's `Origin` is echoed when it is on the
//! list, which is per request (and `Vary: Origin` tells caches so). No
//! credentials are allowed: a static folder has no cookies to protect, and
//! `*` may not be combined with them. Which fields are added where is
//! `headers`' business; this module owns what they say.

use std::borrow::Cow;

use crate::config::Cors;
use crate::http::request::Request;
use crate::http::response::{Response, Value};

/// Methods a folder answers, for `Allow` and `Access-Control-Allow-Methods`.
pub const ALLOWED_METHODS: &str = "GET, HEAD, OPTIONS";

/// Response fields a script may read besides the CORS-safelisted ones:
/// what a client needs for caching and ranged reads.
pub const EXPOSE_HEADERS: &str = "ETag, Content-Range, Content-Length, Accept-Ranges, Last-Modified";

/// How long a browser may reuse a preflight's answer, in seconds. One day
/// is Firefox's cap; Chromium caps it at two hours. Files are read-only,
/// so nothing the preflight allows can change meanwhile.
pub const MAX_AGE: &str = "86400";

/// Longest `Access-Control-Request-Headers` echoed back. Browsers send a
/// short list of names; a longer one is not a browser's, and echoing it
/// would let one request make the answer as large as its own head.
const MAX_REQUEST_HEADERS: usize = 1024;

/// Adds the fields of a response that `origin` may read:
/// `Access-Control-Allow-Origin`, and with it (never without: alone it
/// grants nothing and only tells every client what is exposed)
/// `Access-Control-Expose-Headers`.
pub fn allow(response: Response, origin: Value) -> Response {
    response.header("Access-Control-Allow-Origin", origin).header("Access-Control-Expose-Headers", EXPOSE_HEADERS)
}

/// The `Access-Control-Allow-Origin` value for `request`, if any.
pub fn allow_origin(cors: &Cors, request: &Request) -> Option<Value> {
    match cors {
        Cors::AnyOrigin => Some(Cow::Borrowed("*")),
        Cors::Origins(list) => {
            let origin = request.header("origin")?;
            list.iter().find(|allowed| allowed.eq_ignore_ascii_case(origin)).map(|o| Cow::Owned(o.clone()))
        }
    }
}

impl Cors {
    /// The answer to an `OPTIONS` request under this setting: 204 with
    /// `Allow: GET, HEAD, OPTIONS`, and for a CORS preflight from an
    /// allowed origin the `Access-Control-Allow-*` fields and `-Max-Age`.
    /// A folder answers this way by itself; a route of your own (a read-only
    /// endpoint beside the folder) can use it for its preflights.
    pub fn options(&self, request: &Request) -> Response {
        options(Some(self), request)
    }
}

/// Whether the answer depends on the request's `Origin`.
pub fn varies(cors: &Cors) -> bool {
    matches!(cors, Cors::Origins(_))
}

/// Whether `request` is a CORS preflight: `OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`.
pub fn is_preflight(request: &Request) -> bool {
    request.method() == "OPTIONS"
        && request.header("origin").is_some()
        && request.header("access-control-request-method").is_some()
}

/// The answer to a plain `OPTIONS` or to a preflight: 204 with `Allow`,
/// plus, for a preflight from an allowed origin, what it may do. A
/// preflight from an origin not on the list gets no CORS fields, so the
/// browser refuses the real request.
pub fn options(cors: Option<&Cors>, request: &Request) -> Response {
    let mut response = Response::new(204).header("Allow", ALLOWED_METHODS);
    let Some(cors) = cors.filter(|_| is_preflight(request)) else { return response };
    let Some(origin) = allow_origin(cors, request) else { return response };
    response = response
        .header("Access-Control-Allow-Origin", origin)
        .header("Access-Control-Allow-Methods", ALLOWED_METHODS)
        .header("Access-Control-Max-Age", MAX_AGE);
    if let Some(asked) = request.header("access-control-request-headers").and_then(header_names) {
        // Any request field is fine for a folder that ignores them all.
        response = response.header("Access-Control-Allow-Headers", Cow::Owned(asked.to_string()));
    }
    let vary = if varies(cors) {
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
    } else {
        "Access-Control-Request-Method, Access-Control-Request-Headers"
    };
    response.header("Vary", vary)
}

/// `value` when it is a comma-separated list of field names (tokens), as
/// browsers send in `Access-Control-Request-Headers`; anything else is not
/// echoed.
fn header_names(value: &str) -> Option<&str> {
    let value = value.trim();
    let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    let names_ok = value.split(',').all(|name| {
        let name = name.trim();
        !name.is_empty() && name.bytes().all(is_tchar)
    });
    (names_ok && !value.is_empty() && value.len() <= MAX_REQUEST_HEADERS).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
        response.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| &**v)
    }

    fn ask(cors: Option<&Cors>, head: &str) -> Response {
        let raw = format!("{head}\r\nHost: t\r\n\r\n");
        let request = crate::http1::parse::parse_leaking(raw.as_bytes(), 16).unwrap().unwrap().request;
        options(cors, &request)
    }

    #[test]
    fn preflights() {
        let any = Cors::AnyOrigin;
        let list = Cors::Origins(vec!["http://a.test".into()]);
        let preflight = "OPTIONS /f HTTP/1.1\r\nOrigin: http://a.test\r\nAccess-Control-Request-Method: GET\r\n\
                         Access-Control-Request-Headers: x-custom, content-type";
        let r = ask(Some(&any), preflight);
        assert_eq!(r.status, 204);
        assert_eq!(field(&r, "access-control-allow-origin"), Some("*"));
        assert_eq!(field(&r, "access-control-allow-methods"), Some(ALLOWED_METHODS));
        assert_eq!(field(&r, "access-control-allow-headers"), Some("x-custom, content-type"));
        assert_eq!(field(&r, "access-control-max-age"), Some(MAX_AGE));
        let r = ask(Some(&list), preflight);
        assert_eq!(field(&r, "access-control-allow-origin"), Some("http://a.test"));
        assert!(field(&r, "vary").unwrap().starts_with("Origin"));

        let other = "OPTIONS /f HTTP/1.1\r\nOrigin: http://evil.test\r\nAccess-Control-Request-Method: GET";
        let r = ask(Some(&list), other);
        assert_eq!((r.status, field(&r, "access-control-allow-origin")), (204, None), "not on the list");
        assert_eq!(field(&r, "allow"), Some(ALLOWED_METHODS));

        let plain = ask(Some(&any), "OPTIONS /f HTTP/1.1");
        assert_eq!((plain.status, field(&plain, "allow")), (204, Some(ALLOWED_METHODS)));
        assert_eq!(field(&plain, "access-control-allow-methods"), None, "not a preflight");
        let off = ask(None, preflight);
        assert_eq!((off.status, field(&off, "access-control-allow-origin")), (204, None), "CORS off");
    }

    #[test]
    fn requested_header_lists_are_echoed_only_when_they_are_names() {
        assert_eq!(header_names("x-a, x-b"), Some("x-a, x-b"));
        assert_eq!(header_names(" content-type "), Some("content-type"));
        assert_eq!(header_names(""), None);
        assert_eq!(header_names("x-a,,x-b"), None);
        assert_eq!(header_names("x a"), None);
        assert_eq!(header_names("x-a\u{7f}"), None);
        assert_eq!(header_names(&"a,".repeat(600)), None);
    }
}
