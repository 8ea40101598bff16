//! [`Router`]: which handler answers a request, by path and method.
//!
//! A `Router` is built once, by the embedder, and holds [`Endpoint`]s: a
//! handler shared by all workers, a factory that makes one handler per
//! worker (plain or streaming), or a [`StaticFiles`]. When a worker starts,
//! on its own thread, it makes its [`LocalRouter`] from it (shared
//! handlers are `Arc` clones, the others are made by their factory, told
//! the worker's index) and calls it through `&mut self`, so no handler call
//! takes a lock. Routing decides only *who* answers and how that handler
//! takes a body ([`Intake`]); what files mean is `files`', how bytes move
//! is the protocol layer's.

use std::sync::Arc;

use http::Method;

use super::pattern::Pattern;
use super::static_files::{FolderHandler, StaticFiles};
use super::{Handler, Started, StreamingHandler, WorkerHandler};
use crate::http::request::Request;
use crate::http::response::Response;

/// What answers requests on a route or as the fallback.
///
/// Every [`Handler`] (so every `Fn(&Request) -> Response + Send + Sync`
/// closure) and every [`StaticFiles`] converts into one, which is why the
/// [`Router`] methods take `impl Into<Endpoint>`;
/// [`Endpoint::per_worker`] and [`Endpoint::streaming`] make the others.
pub struct Endpoint(Kind);

/// Makes one worker's handler, told the worker's index.
type Factory<T> = Arc<dyn Fn(usize) -> Box<T> + Send + Sync>;

enum Kind {
    /// One handler for all workers.
    Shared(Arc<dyn Handler>),
    /// Makes each worker's own handler.
    PerWorker(Factory<dyn WorkerHandler>),
    /// Makes each worker's own handler that reads bodies in pieces.
    Streaming(Factory<dyn StreamingHandler>),
    /// A folder; per worker too (each has its own small-file cache), and on
    /// a prefix route the prefix is stripped before the path is looked up.
    Files(StaticFiles),
}

impl Endpoint {
    /// One handler value per worker thread, made by `factory` once for each
    /// worker, on that worker's thread, as the server starts; `factory` is
    /// given the worker's index (0 to `Config::threads` - 1). Each worker
    /// calls its own value through `&mut`, so it may count, cache or buffer
    /// without atomics or locks; the values are never merged or shared.
    ///
    /// ```
    /// use rawserve::{Endpoint, Request, Response, Router};
    ///
    /// let router = Router::new().get(
    ///     "/served-here",
    ///     Endpoint::per_worker(|worker| {
    ///         let mut served = 0u64;
    ///         move |_: &Request| {
    ///             served += 1;
    ///             Response::text(format!("worker {worker} has answered {served} times"))
    ///         }
    ///     }),
    /// );
    /// # drop(router);
    /// ```
    pub fn per_worker<F, H>(factory: F) -> Endpoint
    where
        F: Fn(usize) -> H + Send + Sync + 'static,
        H: WorkerHandler,
    {
        Endpoint(Kind::PerWorker(Arc::new(move |worker| Box::new(factory(worker)) as Box<dyn WorkerHandler>)))
    }

    /// A handler that reads request bodies in pieces as they arrive
    /// (uploads of any size, in bounded memory), one per worker as with
    /// [`per_worker`](Endpoint::per_worker). For each request it sees the
    /// head and answers at once or returns a [`BodySink`](crate::BodySink)
    /// that takes the body; `100 Continue` is sent for it when the client
    /// waits for one.
    ///
    /// ```
    /// use rawserve::{BodySink, Endpoint, Request, Response, Router, Started};
    ///
    /// /// Counts the bytes of a body, however large.
    /// struct Count(u64);
    ///
    /// impl BodySink for Count {
    ///     fn write(&mut self, piece: &[u8]) -> Result<(), Response> {
    ///         self.0 += piece.len() as u64;
    ///         Ok(())
    ///     }
    ///     fn finish(self: Box<Self>) -> Response {
    ///         Response::text(format!("{} bytes\n", self.0))
    ///     }
    /// }
    ///
    /// let router = Router::new().route(
    ///     "PUT",
    ///     "/count",
    ///     Endpoint::streaming(|_worker| |_: &Request| Started::Read(Box::new(Count(0)))),
    /// );
    /// # drop(router);
    /// ```
    pub fn streaming<F, H>(factory: F) -> Endpoint
    where
        F: Fn(usize) -> H + Send + Sync + 'static,
        H: StreamingHandler,
    {
        Endpoint(Kind::Streaming(Arc::new(move |worker| Box::new(factory(worker)) as Box<dyn StreamingHandler>)))
    }

    /// This worker's instance; `strip` is the length of the route's prefix
    /// that a `StaticFiles` removes from the path.
    fn for_worker(&self, worker: usize, strip: usize) -> Local {
        match &self.0 {
            Kind::Shared(handler) => Local::Shared(Arc::clone(handler)),
            Kind::PerWorker(factory) => Local::Own(factory(worker)),
            Kind::Streaming(factory) => Local::Streaming(factory(worker)),
            Kind::Files(files) => Local::Files(files.for_worker(strip)),
        }
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            Kind::Shared(_) => "Endpoint::Shared",
            Kind::PerWorker(_) => "Endpoint::PerWorker",
            Kind::Streaming(_) => "Endpoint::Streaming",
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

/// Which methods a route answers.
#[derive(Debug, Clone)]
enum Methods {
    Any,
    /// These; `GET` also answers `HEAD` (the server then sends the head
    /// alone), as RFC 9110 §9.3.2 expects.
    Only(Vec<Method>),
}

impl Methods {
    fn allow(&self, method: &Method) -> bool {
        match self {
            Methods::Any => true,
            Methods::Only(list) => list.iter().any(|m| m == method || (method == Method::HEAD && m == Method::GET)),
        }
    }
}

#[derive(Debug)]
struct Route {
    pattern: Pattern,
    methods: Methods,
    endpoint: Endpoint,
}

/// Maps requests to handlers: exact paths, paths with parameters
/// (`/api/items/{id}`) and prefixes, any method or given ones, and a
/// fallback for everything else.
///
/// For a request, the most specific path pattern decides: an exact path
/// beats a pattern with parameters (the one with more literal text first,
/// then the one routed first), which beats a prefix, and a longer prefix a
/// shorter one. Among the routes with that pattern, the first whose method
/// matches answers; when none does, the answer is `405 Method Not Allowed`
/// with an `Allow` field listing the methods that would (or, to `OPTIONS`,
/// `204 No Content` with that `Allow`). A request no pattern matches goes
/// to the fallback, or gets `404 Not Found` when there is none.
///
/// A path ending in `*` is a prefix route (`"/api/*"` answers `/api/` and
/// everything below it); a [`StaticFiles`] on a prefix route serves the
/// rest of the path from its folder (`/static/app.css` → `assets/app.css`).
/// A segment written `{name}` matches any one non-empty segment and is
/// given to the handler as [`Request::param`].
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
///     .get("/api/items/{id}", |request: &Request| {
///         Response::text(format!("item {}", request.param("id").unwrap_or_default()))
///     })
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
/// The route methods panic on a path that does not start with `/`, on
/// braces that are not whole `{name}` segments, and on a method that is
/// not an HTTP token: mistakes in the program that no request could work
/// around.
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
        self.route(Method::GET, path, endpoint)
    }

    /// Answers `POST` requests for `path`.
    pub fn post(self, path: &str, endpoint: impl Into<Endpoint>) -> Router {
        self.route(Method::POST, path, endpoint)
    }

    /// Answers `method` requests (a [`Method`], or its name: `"DELETE"`)
    /// for `path`; routing the same path again with another method adds to it.
    pub fn route<M>(self, method: M, path: &str, endpoint: impl Into<Endpoint>) -> Router
    where
        Method: TryFrom<M>,
    {
        let Ok(method) = Method::try_from(method) else { panic!("that is not an HTTP method") };
        self.push(Pattern::parse(path), Methods::Only(vec![method]), endpoint.into())
    }

    /// Answers requests for `path` whatever their method.
    pub fn any(self, path: &str, endpoint: impl Into<Endpoint>) -> Router {
        self.push(Pattern::parse(path), Methods::Any, endpoint.into())
    }

    /// Answers `method` requests for `path` with one handler per worker
    /// made by `factory` (told the worker's index): shorthand for
    /// `route(method, path, Endpoint::per_worker(factory))`.
    ///
    /// ```
    /// use rawserve::{Method, Request, Response, Router};
    ///
    /// let router = Router::new().per_worker(Method::GET, "/count", |_worker| {
    ///     let mut n = 0u64;
    ///     move |_: &Request| {
    ///         n += 1;
    ///         Response::text(n.to_string())
    ///     }
    /// });
    /// # drop(router);
    /// ```
    pub fn per_worker<M, F, H>(self, method: M, path: &str, factory: F) -> Router
    where
        Method: TryFrom<M>,
        F: Fn(usize) -> H + Send + Sync + 'static,
        H: WorkerHandler,
    {
        self.route(method, path, Endpoint::per_worker(factory))
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

    /// Worker `worker`'s router: its own instances of the per-worker
    /// handlers, made now (on the worker's thread).
    pub(crate) fn for_worker(&self, worker: usize) -> LocalRouter {
        LocalRouter {
            routes: self
                .routes
                .iter()
                .map(|r| (r.pattern.clone(), r.methods.clone(), r.endpoint.for_worker(worker, r.pattern.strip())))
                .collect(),
            // OK: `position` finds at least the route itself.
            group: (self.routes.iter())
                .map(|r| self.routes.iter().position(|other| other.pattern == r.pattern).unwrap_or(0))
                .collect(),
            fallback: self.fallback.as_ref().map(|f| f.for_worker(worker, 0)),
        }
    }
}

/// How the handler routing picks takes a request's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Intake {
    /// It does not read bodies (files, a 405): answer at once, and the
    /// protocol layer throws any body away.
    Ignore,
    /// It reads the body whole, as [`Request::body`].
    Whole,
    /// It reads the body in pieces, through a [`BodySink`](super::BodySink).
    Stream,
}

/// A handler as one worker holds it.
enum Local {
    Shared(Arc<dyn Handler>),
    Own(Box<dyn WorkerHandler>),
    Streaming(Box<dyn StreamingHandler>),
    /// Kept apart from `Own` because files read a request body only for
    /// an upload, in pieces.
    Files(FolderHandler),
}

impl Local {
    /// The response; a streaming handler's for an empty body.
    fn handle(&mut self, request: &Request) -> Response {
        match self {
            Local::Shared(handler) => handler.handle(request),
            Local::Own(handler) => handler.handle(request),
            Local::Files(files) => files.handle(request),
            Local::Streaming(handler) => match handler.start(request) {
                Started::Answer(response) => response,
                Started::Read(sink) => sink.finish(),
            },
        }
    }

    /// A response, or a streaming handler's sink for the body (a folder
    /// that takes uploads has one too).
    fn start(&mut self, request: &Request) -> Started {
        match self {
            Local::Streaming(handler) => handler.start(request),
            Local::Files(files) => files.start(request),
            other => Started::Answer(other.handle(request)),
        }
    }

    fn intake(&self, request: &Request) -> Intake {
        match self {
            Local::Shared(_) | Local::Own(_) => Intake::Whole,
            Local::Streaming(_) => Intake::Stream,
            Local::Files(files) if files.reads_body(request) => Intake::Stream,
            Local::Files(_) => Intake::Ignore,
        }
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
    /// For each route, the first route with the same pattern: routes of
    /// one path are found by comparing these, not the patterns' text.
    group: Vec<usize>,
    fallback: Option<Local>,
}

impl LocalRouter {
    /// The response to `request` from the handler routing picks (whose
    /// body, if it reads one whole, is attached; a streaming handler gets
    /// an empty body). A route whose pattern has parameters sees them in
    /// its request.
    pub(crate) fn route(&mut self, request: &Request) -> Response {
        self.dispatch(request, Local::handle, |response| response)
    }

    /// What the handler routing picks does with `request`: a response, or
    /// (a streaming handler) a sink for its body.
    pub(crate) fn start(&mut self, request: &Request) -> Started {
        self.dispatch(request, Local::start, Started::Answer)
    }

    /// Calls `call` on the handler routing picks, or answers (405, 204 to
    /// `OPTIONS`, 404) through `answer` when there is none.
    fn dispatch<T>(
        &mut self,
        request: &Request,
        call: impl FnOnce(&mut Local, &Request) -> T,
        answer: impl FnOnce(Response) -> T,
    ) -> T {
        match self.pick(request) {
            Pick::Route(i) => {
                let (pattern, _, handler) = &mut self.routes[i];
                if pattern.has_params() {
                    return call(handler, &request.with_params(pattern));
                }
                call(handler, request)
            }
            // RFC 9110 §9.3.7: OPTIONS asks what a path allows; answered
            // here unless a route takes OPTIONS itself.
            Pick::WrongMethod(first) if request.method() == Method::OPTIONS => {
                answer(Response::new(204).header("Allow", self.allowed(&self.routes[first].0) + ", OPTIONS"))
            }
            Pick::WrongMethod(first) => {
                answer(Response::error(405).header("Allow", self.allowed(&self.routes[first].0)))
            }
            Pick::Fallback => match &mut self.fallback {
                Some(fallback) => call(fallback, request),
                None => answer(Response::error(404)),
            },
        }
    }

    /// How the handler that [`start`](Self::start) would call takes the
    /// request body.
    pub(crate) fn intake(&self, request: &Request) -> Intake {
        match self.pick(request) {
            Pick::Route(i) => self.routes[i].2.intake(request),
            Pick::WrongMethod(_) => Intake::Ignore,
            Pick::Fallback => self.fallback.as_ref().map_or(Intake::Ignore, |fallback| fallback.intake(request)),
        }
    }

    fn pick(&self, request: &Request) -> Pick {
        let path = request.path();
        // The most specific pattern, the first routed among equals (two
        // patterns of one rank can both match a path only when they have
        // parameters: `/a/{x}` and `/{y}/a` for `/a/a`).
        let mut best: Option<(usize, usize)> = None;
        for (i, (pattern, _, _)) in self.routes.iter().enumerate() {
            if let Some(rank) = pattern.rank(path) {
                if best.is_none_or(|(top, _)| rank > top) {
                    best = Some((rank, i));
                }
            }
        }
        let Some((_, first)) = best else { return Pick::Fallback };
        // The first route of the best rank is the first of its pattern.
        let method = request.method();
        let same = self.group.iter().zip(&self.routes);
        match same.enumerate().position(|(_, (&group, (_, m, _)))| group == first && m.allow(method)) {
            Some(i) => Pick::Route(i),
            None => Pick::WrongMethod(first),
        }
    }

    /// The `Allow` value for a path: every method its routes answer.
    fn allowed(&self, pattern: &Pattern) -> String {
        let mut methods: Vec<&str> = Vec::new();
        for (_, m, _) in self.routes.iter().filter(|(p, _, _)| p == pattern) {
            if let Methods::Only(list) = m {
                for method in list {
                    let implied = (method == Method::GET).then_some("HEAD");
                    for name in std::iter::once(method.as_str()).chain(implied) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http1::parse::parse_leaking;

    #[test]
    fn get_also_answers_head() {
        let get = Methods::Only(vec![Method::GET]);
        assert!(get.allow(&Method::GET) && get.allow(&Method::HEAD) && !get.allow(&Method::POST));
        assert!(!get.allow(&Method::from_bytes(b"get").unwrap()));
        let post = Methods::Only(vec![Method::POST]);
        assert!(post.allow(&Method::POST) && !post.allow(&Method::HEAD));
        assert!(Methods::Any.allow(&Method::DELETE));
    }

    /// What `router` answers to `METHOD target`: status, `Allow`, body.
    fn answer(router: &mut LocalRouter, method: &str, target: &str) -> (u16, Option<String>, String) {
        let raw = format!("{method} {target} HTTP/1.1\r\nHost: t\r\n\r\n");
        let request = parse_leaking(raw.as_bytes(), 16).unwrap().unwrap().request;
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
            .get("/p/q/{id}", |request: &Request| Response::text(format!("q {}", request.param("id").unwrap())))
            .get("/p/{x}/{y}", says("p two params"))
            .fallback(says("fallback"))
            .for_worker(0);
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
            ("GET", "/p/x/y/z", 200, None, "p prefix"),
            ("GET", "/p/q/z/w", 200, None, "q prefix"),
            // A pattern with parameters beats every prefix; more literal text wins.
            ("GET", "/p/q/z", 200, None, "q z"),
            ("GET", "/p/x/y", 200, None, "p two params"),
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
        let mut bare = Router::new().get("/only", says("only")).for_worker(0);
        assert_eq!(answer(&mut bare, "GET", "/other").0, 404, "no fallback");
    }

    #[test]
    fn each_worker_gets_its_own_instance_and_shared_handlers_are_shared() {
        let shared = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = Arc::clone(&shared);
        let router = Router::new()
            .per_worker(Method::GET, "/mine", |worker| {
                let mut n = 0;
                move |_: &Request| {
                    n += 1;
                    Response::text(format!("{worker}:{n}"))
                }
            })
            .get("/ours", move |_: &Request| {
                Response::text(format!("{}", counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1))
            });
        let (mut one, mut two) = (router.for_worker(0), router.for_worker(1));
        assert_eq!(answer(&mut one, "GET", "/mine").2, "0:1");
        assert_eq!(answer(&mut one, "GET", "/mine").2, "0:2");
        assert_eq!(answer(&mut two, "GET", "/mine").2, "1:1", "a second worker starts from its own state");
        assert_eq!(answer(&mut one, "POST", "/mine").0, 405, "per_worker routes one method");
        assert_eq!(answer(&mut one, "GET", "/ours").2, "1");
        assert_eq!(answer(&mut two, "GET", "/ours").2, "2", "a shared handler is one value");
    }

    #[test]
    fn intake_follows_the_handler_routing_picks() {
        let router = Router::new()
            .post("/whole", says("w"))
            .route("PUT", "/stream", Endpoint::streaming(|_| |_: &Request| Started::from(Response::text("s"))))
            .fallback(says("f"))
            .for_worker(0);
        let intake = |method: &str, target: &str| {
            let raw = format!("{method} {target} HTTP/1.1\r\nHost: t\r\n\r\n");
            router.intake(&parse_leaking(raw.as_bytes(), 16).unwrap().unwrap().request)
        };
        assert_eq!(intake("POST", "/whole"), Intake::Whole);
        assert_eq!(intake("PUT", "/stream"), Intake::Stream);
        assert_eq!(intake("GET", "/stream"), Intake::Ignore, "405: nobody reads it");
        assert_eq!(intake("GET", "/x"), Intake::Whole, "a handler fallback reads bodies");
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
