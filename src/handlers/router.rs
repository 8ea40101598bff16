//! [`Router`]: which handler answers a request, by path and method.
//!
//! A `Router` is built once, by the embedder, and holds [`Endpoint`]s: a
//! handler shared by all workers, a factory that makes one handler per
//! worker, or a [`StaticFiles`]. When the server starts, each worker makes
//! its [`LocalRouter`] from it (shared handlers are `Arc` clones, the
//! others are made by their factory) and calls it through `&mut self`, so
//! no handler call takes a lock. Routing decides only *who* answers; what
//! files mean is `files`', how bytes move is the connection's.

use std::sync::Arc;

use super::static_files::{FolderHandler, StaticFiles};
use super::{Handler, WorkerHandler};
use crate::http::request::Request;
use crate::http::response::Response;

/// What answers requests on a route or as the fallback.
///
/// Every [`Handler`] (so every `Fn(&Request) -> Response + Send + Sync`
/// closure) and every [`StaticFiles`] converts into one, which is why the
/// [`Router`] methods take `impl Into<Endpoint>`;
/// [`Endpoint::per_worker`] makes the third kind.
pub struct Endpoint(Kind);

enum Kind {
    /// One handler for all workers.
    Shared(Arc<dyn Handler>),
    /// Makes each worker's own handler.
    PerWorker(Arc<dyn Fn() -> Box<dyn WorkerHandler> + Send + Sync>),
    /// A folder; per worker too (each has its own small-file cache), and on
    /// a prefix route the prefix is stripped before the path is looked up.
    Files(StaticFiles),
}

impl Endpoint {
    /// One handler value per worker thread, made by `factory` once for each
    /// worker as the server starts. Each worker calls its own value through
    /// `&mut`, so it may count, cache or buffer without atomics or locks;
    /// the values are never merged or shared.
    ///
    /// ```
    /// use rawserve::{Endpoint, Request, Response, Router};
    ///
    /// let router = Router::new().get(
    ///     "/served-here",
    ///     Endpoint::per_worker(|| {
    ///         let mut served = 0u64;
    ///         move |_: &Request| {
    ///             served += 1;
    ///             Response::text(format!("this worker has answered {served} times"))
    ///         }
    ///     }),
    /// );
    /// # drop(router);
    /// ```
    pub fn per_worker<F, H>(factory: F) -> Endpoint
    where
        F: Fn() -> H + Send + Sync + 'static,
        H: WorkerHandler,
    {
        Endpoint(Kind::PerWorker(Arc::new(move || Box::new(factory()) as Box<dyn WorkerHandler>)))
    }

    /// This worker's instance; `strip` is the length of the route's prefix
    /// that a `StaticFiles` removes from the path.
    fn for_worker(&self, strip: usize) -> Local {
        match &self.0 {
            Kind::Shared(handler) => Local::Shared(Arc::clone(handler)),
            Kind::PerWorker(factory) => Local::Own(factory()),
            Kind::Files(files) => Local::Files(files.for_worker(strip)),
        }
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            Kind::Shared(_) => "Endpoint::Shared",
            Kind::PerWorker(_) => "Endpoint::PerWorker",
            Kind::Files(_) => "Endpoint::Files",
        })
    }
}

impl<H: Handler> From<H> for Endpoint {
    fn from(handler: H) -> Endpoint {
        Endpoint(Kind::Shared(Arc::new(handler)))
    }
}

impl From<StaticFiles> for Endpoint {
    fn from(files: StaticFiles) -> Endpoint {
        Endpoint(Kind::Files(files))
    }
}

/// Which paths a route answers. Matched against the path as sent (not
/// percent-decoded), without the query.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// Exactly this path.
    Exact(String),
    /// Every path that starts with this (written `"/static/*"`).
    Prefix(String),
}

impl Pattern {
    /// `"/a/*"` is the prefix `/a/`, anything else an exact path.
    ///
    /// Panics (at router construction, a programming error) on a path that
    /// does not start with `/`: no request path could ever match it.
    fn parse(path: &str) -> Pattern {
        assert!(path.starts_with('/'), "route path {path:?} must start with '/'");
        match path.strip_suffix('*') {
            Some(prefix) => Pattern::Prefix(prefix.to_string()),
            None => Pattern::Exact(path.to_string()),
        }
    }

    /// How specific a match of `path` is (higher wins), or `None`. An exact
    /// match beats every prefix, a longer prefix a shorter one.
    fn rank(&self, path: &str) -> Option<usize> {
        match self {
            Pattern::Exact(p) => (p == path).then_some(usize::MAX),
            Pattern::Prefix(p) => path.starts_with(p.as_str()).then_some(p.len()),
        }
    }

    /// Bytes of the path a `StaticFiles` on this route drops: the prefix
    /// without its final `/`, so that what remains still starts with `/`.
    fn strip(&self) -> usize {
        match self {
            Pattern::Exact(_) => 0,
            Pattern::Prefix(p) => p.strip_suffix('/').unwrap_or(p).len(),
        }
    }
}

/// Which methods a route answers.
#[derive(Debug, Clone)]
enum Methods {
    Any,
    /// These, case-sensitively; `GET` also answers `HEAD` (the server then
    /// sends the head alone), as RFC 9110 §9.3.2 expects.
    Only(Vec<String>),
}

impl Methods {
    fn allow(&self, method: &str) -> bool {
        match self {
            Methods::Any => true,
            Methods::Only(list) => list.iter().any(|m| m == method || (method == "HEAD" && m == "GET")),
        }
    }
}

#[derive(Debug)]
struct Route {
    pattern: Pattern,
    methods: Methods,
    endpoint: Endpoint,
}

/// Maps requests to handlers: exact and prefix paths, any method or given
/// ones, and a fallback for everything else.
///
/// For a request, the most specific path pattern decides: an exact path
/// beats a prefix, a longer prefix a shorter one. Among the routes with
/// that pattern, the first whose method matches answers; when none does,
/// the answer is `405 Method Not Allowed` with an `Allow` field listing the
/// methods that would (or, to `OPTIONS`, `204 No Content` with that `Allow`). A request no pattern matches goes to the fallback,
/// or gets `404 Not Found` when there is none.
///
/// A path ending in `*` is a prefix route (`"/api/*"` answers `/api/` and
/// everything below it); a [`StaticFiles`] on a prefix route serves the
/// rest of the path from its folder (`/static/app.css` → `assets/app.css`).
///
/// Closures passed to these methods need their argument type written out,
/// `|request: &Request| ...`, because `impl Into<Endpoint>` does not tell
/// the compiler what they take.
///
/// ```no_run
/// use rawserve::{Config, Request, Response, Router, Server, StaticFiles};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let router = Router::new()
///     .get("/hello", |_: &Request| Response::text("Hello, world!"))
///     .post("/api/echo", |request: &Request| Response::json(request.body()))
///     .get("/static/*", StaticFiles::new("assets")?)
///     .fallback(StaticFiles::new("public")?);
/// let server = Server::bind(Config::new(), router)?;
/// server.wait();
/// # Ok(())
/// # }
/// ```
///
/// # Panics
///
/// The route methods panic on a path that does not start with `/` and on a
/// method that is not an HTTP token: both are mistakes in the program that
/// no request could work around.
#[derive(Debug, Default)]
pub struct Router {
    routes: Vec<Route>,
    fallback: Option<Endpoint>,
}

impl Router {
    /// A router with no routes and no fallback (every request is a 404).
    pub fn new() -> Router {
        Router::default()
    }

    /// Answers `GET` (and so `HEAD`) requests for `path`.
    pub fn get(self, path: &str, endpoint: impl Into<Endpoint>) -> Router {
        self.route("GET", path, endpoint)
    }

    /// Answers `POST` requests for `path`.
    pub fn post(self, path: &str, endpoint: impl Into<Endpoint>) -> Router {
        self.route("POST", path, endpoint)
    }

    /// Answers `method` requests for `path`; routing the same path again
    /// with another method adds to it.
    pub fn route(self, method: &str, path: &str, endpoint: impl Into<Endpoint>) -> Router {
        assert!(is_token(method), "{method:?} is not an HTTP method");
        self.push(Pattern::parse(path), Methods::Only(vec![method.to_string()]), endpoint.into())
    }

    /// Answers requests for `path` whatever their method.
    pub fn any(self, path: &str, endpoint: impl Into<Endpoint>) -> Router {
        self.push(Pattern::parse(path), Methods::Any, endpoint.into())
    }

    /// Answers requests for `path`, whatever their method, with one handler
    /// per worker made by `factory`: shorthand for
    /// `any(path, Endpoint::per_worker(factory))`.
    ///
    /// ```
    /// use rawserve::{Request, Response, Router};
    ///
    /// let router = Router::new().per_worker("/count", || {
    ///     let mut n = 0u64;
    ///     move |_: &Request| {
    ///         n += 1;
    ///         Response::text(n.to_string())
    ///     }
    /// });
    /// # drop(router);
    /// ```
    pub fn per_worker<F, H>(self, path: &str, factory: F) -> Router
    where
        F: Fn() -> H + Send + Sync + 'static,
        H: WorkerHandler,
    {
        self.any(path, Endpoint::per_worker(factory))
    }

    /// Answers every request that no route's path matches (typically a
    /// [`StaticFiles`], which itself answers only `GET` and `HEAD`).
    pub fn fallback(mut self, endpoint: impl Into<Endpoint>) -> Router {
        self.fallback = Some(endpoint.into());
        self
    }

    fn push(mut self, pattern: Pattern, methods: Methods, endpoint: Endpoint) -> Router {
        self.routes.push(Route { pattern, methods, endpoint });
        self
    }

    /// One worker's router: its own instances of the per-worker handlers.
    pub(crate) fn for_worker(&self) -> LocalRouter {
        LocalRouter {
            routes: self
                .routes
                .iter()
                .map(|r| (r.pattern.clone(), r.methods.clone(), r.endpoint.for_worker(r.pattern.strip())))
                .collect(),
            fallback: self.fallback.as_ref().map(|f| f.for_worker(0)),
        }
    }
}

/// A handler as one worker holds it.
enum Local {
    Shared(Arc<dyn Handler>),
    Own(Box<dyn WorkerHandler>),
    /// Kept apart from `Own` because files never read a request body.
    Files(FolderHandler),
}

impl Local {
    fn handle(&mut self, request: &Request) -> Response {
        match self {
            Local::Shared(handler) => handler.handle(request),
            Local::Own(handler) => handler.handle(request),
            Local::Files(files) => files.handle(request),
        }
    }

    /// Whether this handler reads request bodies: user handlers may, so
    /// their bodies are buffered for them; files never do.
    fn reads_body(&self) -> bool {
        !matches!(self, Local::Files(_))
    }
}

/// Which handler routing picks for a request.
enum Pick {
    /// The route at this index.
    Route(usize),
    /// Routes match the path (the first at this index), none the method.
    WrongMethod(usize),
    /// No route matches the path.
    Fallback,
}

/// One worker's copy of the [`Router`]: same routes, its own handler
/// instances. Owned by the worker and called through `&mut`.
pub(crate) struct LocalRouter {
    routes: Vec<(Pattern, Methods, Local)>,
    fallback: Option<Local>,
}

impl LocalRouter {
    /// The response to `request` from the handler that routing picks.
    pub(crate) fn route(&mut self, request: &Request) -> Response {
        match self.pick(request) {
            Pick::Route(i) => self.routes[i].2.handle(request),
            // RFC 9110 §9.3.7: OPTIONS asks what a path allows; answered
            // here unless a route takes OPTIONS itself.
            Pick::WrongMethod(first) if request.method() == "OPTIONS" => {
                Response::new(204).header("Allow", self.allowed(&self.routes[first].0) + ", OPTIONS")
            }
            Pick::WrongMethod(first) => Response::error(405).header("Allow", self.allowed(&self.routes[first].0)),
            Pick::Fallback => match &mut self.fallback {
                Some(fallback) => fallback.handle(request),
                None => Response::error(404),
            },
        }
    }

    /// Whether the handler that `route` would call reads the request body,
    /// so the exchange must buffer it first (up to `max_body_bytes`).
    pub(crate) fn wants_body(&self, request: &Request) -> bool {
        match self.pick(request) {
            Pick::Route(i) => self.routes[i].2.reads_body(),
            Pick::WrongMethod(_) => false,
            Pick::Fallback => self.fallback.as_ref().is_some_and(Local::reads_body),
        }
    }

    fn pick(&self, request: &Request) -> Pick {
        let path = request.path();
        // Routes of equal rank have equal patterns (two different prefixes
        // of one length cannot both start the same path), so the maximum
        // names the pattern, whichever of its routes it lands on.
        let best = self.routes.iter().enumerate().filter_map(|(i, (p, _, _))| Some((p.rank(path)?, i))).max();
        let Some((_, first)) = best else { return Pick::Fallback };
        let pattern = &self.routes[first].0;
        let method = request.method();
        match self.routes.iter().position(|(p, m, _)| p == pattern && m.allow(method)) {
            Some(i) => Pick::Route(i),
            None => Pick::WrongMethod(first),
        }
    }

    /// The `Allow` value for a path: every method its routes answer.
    fn allowed(&self, pattern: &Pattern) -> String {
        let mut methods: Vec<&str> = Vec::new();
        for (_, m, _) in self.routes.iter().filter(|(p, _, _)| p == pattern) {
            if let Methods::Only(list) = m {
                for name in list {
                    let implied = if name == "GET" { Some("HEAD") } else { None };
                    for name in std::iter::once(name.as_str()).chain(implied) {
                        if !methods.contains(&name) {
                            methods.push(name);
                        }
                    }
                }
            }
        }
        methods.join(", ")
    }
}

/// An HTTP method is a token (RFC 9110 §9.1).
fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_rank_exact_over_longer_prefix_over_shorter() {
        let cases: &[(&str, &str, Option<usize>)] = &[
            ("/a", "/a", Some(usize::MAX)),
            ("/a", "/a/", None),
            ("/a", "/ab", None),
            ("/a/*", "/a/", Some(3)),
            ("/a/*", "/a/b/c", Some(3)),
            ("/a/*", "/a", None),
            ("/a*", "/a", Some(2)),
            ("/a*", "/abc", Some(2)),
            ("/*", "/anything", Some(1)),
            ("/a/b/*", "/a/b/c", Some(5)),
        ];
        for (pattern, path, rank) in cases {
            assert_eq!(Pattern::parse(pattern).rank(path), *rank, "{pattern} against {path}");
        }
    }

    #[test]
    fn files_strip_the_prefix_but_keep_a_leading_slash() {
        assert_eq!(Pattern::parse("/static/*").strip(), "/static".len());
        assert_eq!(Pattern::parse("/static*").strip(), "/static".len());
        assert_eq!(Pattern::parse("/*").strip(), 0);
        assert_eq!(Pattern::parse("/exact").strip(), 0);
    }

    #[test]
    fn get_also_answers_head() {
        let get = Methods::Only(vec!["GET".into()]);
        assert!(get.allow("GET") && get.allow("HEAD") && !get.allow("POST") && !get.allow("get"));
        let post = Methods::Only(vec!["POST".into()]);
        assert!(post.allow("POST") && !post.allow("HEAD"));
        assert!(Methods::Any.allow("DELETE"));
    }

    /// What `router` answers to `METHOD target`: status, `Allow`, body.
    fn answer(router: &mut LocalRouter, method: &str, target: &str) -> (u16, Option<String>, String) {
        let raw = format!("{method} {target} HTTP/1.1\r\nHost: t\r\n\r\n");
        let request = crate::http::request::parse_leaking(raw.as_bytes(), 16).unwrap().unwrap();
        let response = router.route(&request);
        let allow = response.headers.iter().find(|(n, _)| n == "Allow").map(|(_, v)| v.to_string());
        let body = match &response.body {
            crate::http::response::Body::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        };
        (response.status, allow, body)
    }

    fn says(text: &'static str) -> impl Handler {
        move |_: &Request| Response::text(text)
    }

    #[test]
    fn routing_table() {
        let mut router = Router::new()
            .get("/a", says("get a"))
            .post("/a", says("post a"))
            .route("DELETE", "/a", says("delete a"))
            .any("/any", says("any"))
            .get("/p/*", says("p prefix"))
            .get("/p/q/*", says("q prefix"))
            .post("/p/q/exact", says("q exact"))
            .fallback(says("fallback"))
            .for_worker();
        const NOT_ALLOWED: &str = "405 Method Not Allowed\n";
        const ALLOW_A: Option<&str> = Some("GET, HEAD, POST, DELETE");
        let cases = [
            ("GET", "/a", 200, None, "get a"),
            ("HEAD", "/a", 200, None, "get a"),
            ("POST", "/a", 200, None, "post a"),
            ("DELETE", "/a", 200, None, "delete a"),
            ("PUT", "/a", 405, ALLOW_A, NOT_ALLOWED),
            ("get", "/a", 405, ALLOW_A, NOT_ALLOWED),
            ("GET", "/a?x=1", 200, None, "get a"),
            ("GET", "/a/", 200, None, "fallback"),
            ("PATCH", "/any", 200, None, "any"),
            ("GET", "/p/", 200, None, "p prefix"),
            ("GET", "/p/x/y", 200, None, "p prefix"),
            ("GET", "/p/q/z", 200, None, "q prefix"),
            // The exact pattern decides, even though a prefix would take GET.
            ("GET", "/p/q/exact", 405, Some("POST"), NOT_ALLOWED),
            ("POST", "/p/q/exact", 200, None, "q exact"),
            ("POST", "/p/x", 405, Some("GET, HEAD"), NOT_ALLOWED),
            ("GET", "/p", 200, None, "fallback"),
            ("OPTIONS", "/elsewhere", 200, None, "fallback"),
            ("OPTIONS", "/a", 204, Some("GET, HEAD, POST, DELETE, OPTIONS"), ""),
        ];
        for (method, target, status, allow, body) in cases {
            let expected = (status, allow.map(str::to_string), body.to_string());
            assert_eq!(answer(&mut router, method, target), expected, "{method} {target}");
        }
        let mut bare = Router::new().get("/only", says("only")).for_worker();
        assert_eq!(answer(&mut bare, "GET", "/other").0, 404, "no fallback");
    }

    #[test]
    fn each_worker_gets_its_own_instance_and_shared_handlers_are_shared() {
        let shared = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = Arc::clone(&shared);
        let router = Router::new()
            .per_worker("/mine", || {
                let mut n = 0;
                move |_: &Request| {
                    n += 1;
                    Response::text(format!("{n}"))
                }
            })
            .get("/ours", move |_: &Request| {
                Response::text(format!("{}", counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1))
            });
        let (mut one, mut two) = (router.for_worker(), router.for_worker());
        assert_eq!(answer(&mut one, "GET", "/mine").2, "1");
        assert_eq!(answer(&mut one, "GET", "/mine").2, "2");
        assert_eq!(answer(&mut two, "GET", "/mine").2, "1", "a second worker starts from its own state");
        assert_eq!(answer(&mut one, "GET", "/ours").2, "1");
        assert_eq!(answer(&mut two, "GET", "/ours").2, "2", "a shared handler is one value");
    }

    #[test]
    #[should_panic(expected = "must start with '/'")]
    fn a_relative_route_path_is_a_programming_error() {
        let _ = Router::new().get("hello", |_: &Request| Response::text("x"));
    }

    #[test]
    #[should_panic(expected = "is not an HTTP method")]
    fn a_method_must_be_a_token() {
        let _ = Router::new().route("GE T", "/", |_: &Request| Response::text("x"));
    }
}
