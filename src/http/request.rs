//! [`Request`]: a request as the service and its handlers see it, whatever
//! protocol carried it — method, target, version, header fields, and the
//! body when the route reads it whole.
//!
//! It borrows everything from the protocol layer that parsed it (HTTP/1's
//! read buffer today), so looking at a request copies nothing. How the
//! bytes were framed (head length, body framing, persistence, `Expect`) is
//! not here: that is `http1`'s, and differs per protocol.

use std::borrow::Cow;

pub use http::{Method, Version};

use super::syntax::{find_ascii, trim_ows};

/// A request as handlers see it: method, target, header fields, body.
///
/// It borrows from the connection's read buffer (`'b`), so reading it
/// costs no copies; copy out what must outlive the call.
#[derive(Debug)]
pub struct Request<'b> {
    method: Method,
    /// The request target as sent (origin-form after stripping any
    /// absolute-form scheme and authority, without a `#fragment`).
    target: &'b str,
    /// Bytes of `target` before its query string (`?`), i.e. the path.
    path_len: usize,
    version: Version,
    /// Header fields in the order received, where the parser put them
    /// (in caller-provided slots: parsing allocates and copies nothing).
    fields: &'b [httparse::Header<'b>],
    /// The body, when the route reads it whole.
    content: &'b [u8],
    /// The pattern of the route answering, when it has parameters
    /// (`{id}`): they are found in the path when asked for, so a request
    /// owns nothing to drop.
    params: Option<&'b (dyn PathParams + 'b)>,
    /// The account the request's credentials are, when it has them.
    user: Option<&'b str>,
    /// The server has accounts: the service checked who this request is.
    guarded: bool,
}

/// Finds the values of a route's path parameters in a path; the router's
/// patterns implement it.
pub(crate) trait PathParams: std::fmt::Debug {
    /// The segment of `path` that parameter `name` stands for.
    fn find<'p>(&self, path: &'p str, name: &str) -> Option<&'p str>;
}

impl<'b> Request<'b> {
    /// A request with no body and no parameters yet. `target` must be in
    /// origin form (`/path?query`, or `*`), without a fragment.
    pub(crate) fn new(method: Method, target: &'b str, version: Version, fields: &'b [httparse::Header<'b>]) -> Self {
        let path_len = find_ascii(target, b'?').unwrap_or(target.len());
        Request { method, target, path_len, version, fields, content: &[], params: None, user: None, guarded: false }
    }

    /// The method (`Method::GET`, `Method::POST`, ...; methods are case-sensitive).
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request target as sent, path and query (an absolute-form target
    /// is reduced to them, a `#fragment` removed).
    pub fn target(&self) -> &'b str {
        self.target
    }

    /// The protocol version (`Version::HTTP_11`, `Version::HTTP_10`; HTTP/1.x
    /// for x ≥ 2 is served as 1.1).
    pub fn version(&self) -> Version {
        self.version
    }

    /// The request body, read whole (up to `Config::max_body_bytes`) for
    /// routes that read it, whatever its framing (`Content-Length` or
    /// chunked, after `100 Continue` when the client asked for one).
    /// Empty when the request has none; routes that do not read bodies
    /// (static files) never see one.
    pub fn body(&self) -> &'b [u8] {
        self.content
    }

    /// Gives the request its body (the protocol layer does this).
    pub(crate) fn attach_body(&mut self, body: &'b [u8]) {
        self.content = body;
    }

    /// The first value of header `name` (case-insensitive) as text; `None`
    /// when absent or not visible ASCII.
    pub fn header(&self, name: &str) -> Option<&'b str> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
            .map(trim_ows)
    }

    /// All header fields, in the order received.
    pub fn headers(&self) -> impl Iterator<Item = (&'b str, &'b [u8])> + '_ {
        self.fields.iter().map(|h| (h.name, h.value))
    }

    /// The target's path, without query string, as sent (not
    /// percent-decoded); see [`decoded_path`](Self::decoded_path).
    pub fn path(&self) -> &'b str {
        &self.target[..self.path_len]
    }

    /// The path percent-decoded (`/a%20b` → `/a b`), `None` when the bytes
    /// it decodes to are not UTF-8. Decoded once, here: a `%2F` becomes a
    /// `/`, so do not split the result to find path segments (routes match
    /// the path as sent; see [`param`](Self::param)).
    pub fn decoded_path(&self) -> Option<Cow<'b, str>> {
        percent_encoding::percent_decode_str(self.path()).decode_utf8().ok()
    }

    /// The query string without its `?`, as sent; "" when there is none.
    pub fn query(&self) -> &'b str {
        self.target.get(self.path_len + 1..).unwrap_or("")
    }

    /// The query's `name=value` pairs, decoded as an HTML form sends them
    /// (`+` is a space, percent-escapes decoded, invalid UTF-8 replaced),
    /// in order, repeats kept.
    ///
    /// ```
    /// # use rawserve::Request;
    /// fn search(request: &Request) -> String {
    ///     let q = request.query_pairs().find(|(name, _)| name == "q").map(|(_, value)| value);
    ///     q.unwrap_or_default().into_owned()
    /// }
    /// ```
    pub fn query_pairs(&self) -> impl Iterator<Item = (Cow<'b, str>, Cow<'b, str>)> {
        form_urlencoded::parse(self.query().as_bytes())
    }

    /// The value the route's pattern captured for `{name}`, percent-decoded
    /// (`/api/items/{id}` answering `/api/items/a%20b` gives `a b`); `None`
    /// when the pattern has no such name or the value is not UTF-8.
    pub fn param(&self, name: &str) -> Option<Cow<'b, str>> {
        let raw = self.params?.find(self.path(), name)?;
        percent_encoding::percent_decode_str(raw).decode_utf8().ok()
    }

    /// This request as the route with parameters `params` sees it (the
    /// router calls such a route with it).
    pub(crate) fn with_params<'r>(&'r self, params: &'r (dyn PathParams + 'r)) -> Request<'r> {
        self.derived(Some(params), self.user, self.guarded)
    }

    /// The user whose credentials came with the request (HTTP Basic,
    /// checked against the server's accounts, `Config::auth`); `None` when
    /// the server has no accounts, or lets anonymous users read
    /// (`Config::public_read`) and none were sent.
    pub fn user(&self) -> Option<&'b str> {
        self.user
    }

    /// Whether the server has accounts, so that who the request comes from
    /// was checked (and [`user`](Self::user) says who, if anyone).
    pub(crate) fn is_guarded(&self) -> bool {
        self.guarded
    }

    /// This request as checked by the server's accounts: from `user`, or
    /// anonymous (the service does this before routing).
    pub(crate) fn with_user<'r>(&'r self, user: Option<&'r str>) -> Request<'r> {
        self.derived(self.params, user, true)
    }

    /// This request with other parameters and user (the rest borrowed).
    fn derived<'r>(
        &'r self,
        params: Option<&'r (dyn PathParams + 'r)>,
        user: Option<&'r str>,
        guarded: bool,
    ) -> Request<'r> {
        Request {
            method: self.method.clone(),
            target: self.target,
            path_len: self.path_len,
            version: self.version,
            fields: self.fields,
            content: self.content,
            params,
            user,
            guarded,
        }
    }
}

/// `"HTTP/1.0"`, `"HTTP/1.1"`, `"HTTP/2.0"`: a version as the access log
/// and the status line write it.
pub fn version_str(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(target: &str) -> Request<'_> {
        Request::new(Method::GET, target, Version::HTTP_11, &[])
    }

    #[test]
    fn path_and_query() {
        let cases =
            [("/a?b=c", "/a", "b=c"), ("/a", "/a", ""), ("/a?", "/a", ""), ("/?x?y", "/", "x?y"), ("*", "*", "")];
        for (target, path, query) in cases {
            let r = request(target);
            assert_eq!((r.path(), r.query()), (path, query), "for {target}");
        }
    }

    #[test]
    fn query_pairs_are_decoded_as_forms_send_them() {
        let r = request("/s?q=a+b%21&empty=&flag&q=%E2%9C%93&bad=%FF");
        let pairs: Vec<(String, String)> = r.query_pairs().map(|(n, v)| (n.into_owned(), v.into_owned())).collect();
        let want = [("q", "a b!"), ("empty", ""), ("flag", ""), ("q", "\u{2713}"), ("bad", "\u{fffd}")];
        assert_eq!(pairs, want.map(|(n, v)| (n.to_string(), v.to_string())));
        assert_eq!(request("/s").query_pairs().count(), 0);
    }

    /// `/items/{id}/{bad}`, as a router's pattern would find them.
    #[derive(Debug)]
    struct Items;

    impl PathParams for Items {
        fn find<'p>(&self, path: &'p str, name: &str) -> Option<&'p str> {
            let mut parts = path.split('/').skip(2);
            match name {
                "id" => parts.next(),
                "bad" => parts.nth(1),
                _ => None,
            }
        }
    }

    #[test]
    fn decoded_paths_and_params() {
        assert_eq!(request("/a%20b/%E2%9C%93?x").decoded_path().as_deref(), Some("/a b/\u{2713}"));
        assert_eq!(request("/%FF").decoded_path(), None);
        let plain = request("/items/a%2Fb/x%FF");
        assert_eq!(plain.param("id"), None, "no pattern, no parameters");
        let r = plain.with_params(&Items);
        assert_eq!(r.param("id").as_deref(), Some("a/b"));
        assert_eq!(r.param("bad"), None, "not UTF-8");
        assert_eq!(r.param("other"), None);
    }

    #[test]
    fn versions_as_written() {
        assert_eq!(version_str(Version::HTTP_10), "HTTP/1.0");
        assert_eq!(version_str(Version::HTTP_11), "HTTP/1.1");
        assert_eq!(version_str(Version::HTTP_2), "HTTP/2.0");
    }
}
