//! rawserve: a small, fast, correct HTTP/1.1 and HTTP/2 static file server on raw TCP,
//! and a library for serving a folder plus a few endpoints from your own
//! program.
//!
//! The `rawserve` command serves a directory and a hello-world page
//! (`GET /hello`) to browsers, `curl` and any HTTP/1.x or HTTP/2 client
//! (HTTP/2 by ALPN over TLS, or with prior knowledge in cleartext; off
//! with [`Config::http1_only`]). It is built
//! with exactly the API described here.
//!
//! # Quick start
//!
//! A [`Router`] says who answers what; [`Server::bind`] listens and starts
//! the workers; dropping the [`Server`] (or [`ShutdownHandle::shutdown`])
//! stops them.
//!
//! ```
//! use std::io::{Read, Write};
//! use rawserve::{Config, Request, Response, Router, Server, StaticFiles};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let router = Router::new()
//!     .get("/hello", |_: &Request| Response::text("Hello, world!"))
//!     .fallback(StaticFiles::new("public")?);
//! let mut config = Config::new();
//! config.addr = "127.0.0.1:0".parse()?; // port 0: any free port
//! let server = Server::bind(config, router)?;
//!
//! let mut client = std::net::TcpStream::connect(server.local_addr())?;
//! client.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
//! let mut answer = String::new();
//! client.read_to_string(&mut answer)?;
//! assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"));
//! assert!(answer.ends_with("\r\n\r\nHello, world!"));
//!
//! server.shutdown_handle().shutdown(); // graceful: finish in-flight responses
//! server.wait();
//! # Ok(())
//! # }
//! ```
//!
//! # Handlers
//!
//! A [`Handler`] turns a [`Request`] into a [`Response`]. Any
//! `Fn(&Request) -> Response + Send + Sync + 'static` closure is one, so
//! state shared by all workers is whatever the closure captures (an
//! `Arc<AtomicU64>`, an `Arc<Mutex<…>>`). Handlers run on the worker
//! threads and must not block for long: a worker serves many connections.
//! A handler that panics answers `500` on that connection only.
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::sync::Arc;
//! use rawserve::{Request, Response, Router};
//!
//! let visits = Arc::new(AtomicU64::new(0));
//! let router = Router::new().get("/visits", move |_: &Request| {
//!     let n = visits.fetch_add(1, Ordering::Relaxed) + 1;
//!     Response::text(n.to_string())
//! });
//! # drop(router);
//! ```
//!
//! # Per-worker state
//!
//! For state each worker keeps to itself, without atomics or locks, give a
//! factory: it runs once per worker, on that worker's thread, as the
//! server starts (told the worker's index), and the handler it makes (a
//! [`WorkerHandler`]: `FnMut`, neither `Send` nor `Sync` needed) is then
//! called only by that worker, through `&mut`. See [`Router::per_worker`]
//! and [`Endpoint::per_worker`]. The built-in [`StaticFiles`] works this
//! way: each worker has its own small-file cache. [`Server::bind`] returns
//! once every worker's factories have run.
//!
//! ```
//! use rawserve::{Method, Request, Response, Router};
//!
//! let router = Router::new().per_worker(Method::GET, "/count", |worker| {
//!     let mut n = 0u64;
//!     move |_: &Request| {
//!         n += 1;
//!         Response::text(format!("worker {worker}: {n}"))
//!     }
//! });
//! # drop(router);
//! ```
//!
//! # Routing
//!
//! [`Router`] matches the path (as sent, without the query) exactly, with
//! parameters (`"/api/items/{id}"`, read with [`Request::param`]) or by
//! prefix (`"/api/*"`), and the method ([`Method`], the `http` crate's
//! type that hyper, axum and reqwest use): [`Router::get`] (which also
//! answers `HEAD`), [`Router::post`], [`Router::route`] for any other
//! method, [`Router::any`]. The most specific path wins; if its routes do
//! not accept the method the answer is `405` with `Allow` (`204` with
//! `Allow` to an `OPTIONS` request). Everything else goes to the
//! [`Router::fallback`], typically the site's folder.
//!
//! A handler may return a [`Response`], a [`StatusCode`], or a `Result` of
//! them ([`IntoResponse`]), so `?` turns an error into its answer:
//!
//! ```
//! use rawserve::{Request, Response, Router, StatusCode};
//!
//! fn item(request: &Request) -> Result<Response, StatusCode> {
//!     let id: u64 = request.param("id").and_then(|id| id.parse().ok()).ok_or(StatusCode::BAD_REQUEST)?;
//!     let verbose = request.query_pairs().any(|(name, value)| name == "verbose" && value == "1");
//!     Ok(Response::json(format!("{{\"id\":{id},\"verbose\":{verbose}}}")))
//! }
//! let router = Router::new().get("/api/items/{id}", item);
//! # drop(router);
//! ```
//!
//! # Static files
//!
//! [`StaticFiles`] serves a folder with validators (ETag, Last-Modified,
//! `304`), ranges, on-the-fly compression (brotli, zstd, gzip; compressed
//! once per file version), precompressed siblings, index pages and listings,
//! confined to the folder. As the fallback it serves the whole path space;
//! on a prefix route (`.get("/static/*", StaticFiles::new("assets")?)`) the
//! prefix is removed before the file is looked up. [`FileOptions`] holds
//! its settings, among them the index names, single-page-app fallback
//! (`spa`), clean URLs, added header fields and `Cache-Control` by glob,
//! [`Cors`], type overrides and live reload ([`FileOptions::live_reload`]:
//! pages reload when a file changes, listening on [`LIVE_RELOAD_PATH`]).
//! Those values are typed
//! ([`config::HeaderField`], [`config::CacheRule`], [`config::MimeOverride`])
//! and checked where they are made or parsed, with a [`config::SettingError`]
//! that names the flag and variable; a folder that cannot be served makes
//! [`StaticFiles::with_options`] fail with a [`FolderError`]. A
//! folder answers `OPTIONS` with `204` and `Allow` (and CORS preflights
//! when [`FileOptions::cors`] is set); `/.well-known/` is served even
//! while other dot names are hidden. [`FileOptions::hidden`] hides more
//! names and paths by glob ([`config::HiddenGlob`]). A listing offers
//! the folder as a zip or a tar (`?download=zip`, `?download=tar`),
//! streamed as it is made.
//!
//! With [`FileOptions::upload`] a folder also takes files: `PUT`, `POST`
//! of a multipart form (its listing page gets the forms) and `MKCOL`;
//! with [`FileOptions::delete`], `DELETE` and `MOVE`. Bodies stream to
//! disk in bounded memory; each file lands whole or not at all (a hidden
//! temporary file, `fsync`, rename), beneath the root and through no
//! symlink, at most [`FileOptions::max_upload_bytes`] (413); a full disk
//! is 507; browsers on other sites are refused. Without them every write
//! is 405 with `Allow`.
//!
//! With [`FileOptions::webdav`] the folder speaks WebDAV (RFC 4918,
//! classes 1 and 2), so desktops and rclone can mount it: `PROPFIND`
//! (depth 0 and 1, a folder's answer streamed), and, with `upload`,
//! `PROPPATCH` (dead properties in extended attributes), `COPY`, `LOCK`
//! and `UNLOCK`; `MOVE` and `DELETE` still need `delete`, and every write
//! honours locks and the `If` field.
//!
//! # Requests and responses
//!
//! A [`Request`] gives the method, path (as sent, or decoded), query (as
//! sent, or decoded pairs), path parameters, header fields, version and
//! the body (up to [`Config::max_body_bytes`], whether sent with
//! `Content-Length` or chunked, and after `100 Continue` when the client
//! waits for one); it borrows from the connection's buffer. A route whose
//! bodies may be larger (uploads) reads them in pieces instead, as they
//! arrive: see [`Endpoint::streaming`] and [`BodySink`]. A [`Response`] is built with [`Response::text`],
//! [`Response::html`], [`Response::json`], [`Response::bytes`],
//! [`Response::file`], [`Response::redirect`] or [`Response::status`], then
//! [`Response::with_status`] and [`Response::with_header`]. Header fields
//! from your code are validated: a name must be a token and a value must
//! not contain CR, LF or NUL, so request data copied into a header can
//! never add header lines of its own; a refused field is a
//! [`HeaderError`], never bytes on the wire.
//!
//! ```
//! use rawserve::{Request, Response, Router};
//!
//! let router = Router::new().post("/api/echo", |request: &Request| {
//!     let reply = Response::json(request.body());
//!     // A header value taken from the request is checked, not trusted.
//!     let id = request.header("x-request-id").unwrap_or("-");
//!     match reply.with_header("X-Request-Id", id) {
//!         Ok(reply) => reply,
//!         Err(_) => Response::status(rawserve::StatusCode::BAD_REQUEST),
//!     }
//! });
//! # drop(router);
//! ```
//!
//! # Settings
//!
//! [`Config`] is plain data: address, threads, every limit (head size,
//! header count, body size, connections, timeouts) with the reason for its
//! default, and the [`FileOptions`] the `rawserve` command builds its
//! [`StaticFiles`] from. [`raise_fd_limit`] lifts the open-file limit to
//! what the system allows, as servers should.
//!
//! For production, [`Config`] also says where the access log goes
//! ([`LogDestination`], standard output by default) and in which
//! [`LogFormat`], which proxies to believe ([`Cidr`]), whether connections
//! start with a PROXY protocol header, which path answers health checks,
//! and which answers Prometheus metrics ([`Config::metrics_path`], for
//! loopback clients unless [`Config::metrics_public`]). [`inherited_listeners`] and [`Server::with_listeners`] serve on
//! sockets passed by systemd; [`notify_service_manager`] tells it
//! `READY=1` and `STOPPING=1`; [`ShutdownHandle::reopen_access_log`] is
//! what SIGHUP does in the `rawserve` command.
//! # Accounts
//!
//! [`Config::auth`] lists accounts ([`config::Account`]: a user and a
//! password, or an argon2id or bcrypt hash of one; [`hash_password`] makes
//! the argon2id kind). With any, every request but the health path needs
//! one's credentials (HTTP Basic: `401` with `WWW-Authenticate: Basic
//! realm="rawserve", charset="UTF-8"` without them), unless
//! [`Config::public_read`] lets anonymous users read (`GET`, `HEAD`,
//! `OPTIONS`, `PROPFIND`). A handler learns who asks from
//! [`Request::user`]; the access log writes it in its user field, and no
//! password or hash is ever logged. Each worker checks a credential once
//! and then knows it (argon2 costs tens of milliseconds by design);
//! wrong passwords are slowed per client address (`429` with
//! `Retry-After`, doubling), never for the user elsewhere.
//!
//! ```
//! use std::io::{Read, Write};
//! use rawserve::{Config, Request, Response, Router, Server};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = Config::new();
//! config.addr = "127.0.0.1:0".parse()?;
//! config.auth.push(format!("alice:{}", rawserve::hash_password("wonderland")?).parse()?);
//! let router = Router::new().get("/me", |r: &Request| Response::text(r.user().unwrap_or("-").to_string()));
//! let server = Server::bind(config, router)?;
//!
//! let ask = |authorization: &str| -> std::io::Result<String> {
//!     let mut client = std::net::TcpStream::connect(server.local_addr())?;
//!     write!(client, "GET /me HTTP/1.1\r\nHost: x\r\n{authorization}Connection: close\r\n\r\n")?;
//!     let mut answer = String::new();
//!     client.read_to_string(&mut answer)?;
//!     Ok(answer)
//! };
//! assert!(ask("")?.starts_with("HTTP/1.1 401 Unauthorized\r\n"));
//! // "alice:wonderland" in base64, as curl -u sends it.
//! assert!(ask("Authorization: Basic YWxpY2U6d29uZGVybGFuZA==\r\n")?.ends_with("\r\n\r\nalice"));
//! # Ok(())
//! # }
//! ```
//!
//! # HTTPS
//!
//! Set [`Config::tls`] to a [`Tls`] and the server speaks HTTPS on the
//! same workers and event loops (rustls, driven without threads or an async
//! runtime): [`Tls::from_pem_files`] loads a certificate chain and its key,
//! [`Tls::self_signed`] makes one for `localhost`, the loopback addresses
//! and those given (see [`lan_addresses`]). Plain HTTP sent to the port is
//! redirected to `https://`.
//!
//! ```
//! use rawserve::{Config, Router, Server, Tls};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let tls = Tls::self_signed(&[])?;
//! println!("SHA-256 fingerprint {}", tls.fingerprint().unwrap_or_default());
//! let mut config = Config::new();
//! config.addr = "127.0.0.1:0".parse()?;
//! config.tls = Some(tls);
//! let server = Server::bind(config, Router::new())?;
//! # drop(server);
//! # Ok(())
//! # }
//! ```
//!
//! # What is public
//!
//! Only the items re-exported here and [`config`] (settings, their typed
//! values and errors, and [`config::MAX_HEADERS`]). With the default `cli`
//! feature, [`Config`] and [`FileOptions`] also implement `clap::Args`, which
//! is how the `rawserve` command derives its options; built with
//! `default-features = false`, the crate has no command-line dependency.
//! Everything else is the server's own:
//!
//! - `server`: bind, start workers, shut down. `worker`: one event loop,
//!   accepting and timers, owning its [`Router`] copy (made on its thread).
//!   `context`: what a connection is lent while it is driven.
//! - `connection`: the connection's state machine (reading heads,
//!   receiving bodies, sending responses), performing what `http1` decides,
//!   or, for a connection that speaks HTTP/2, driving an `http2` session.
//! - `http1`: HTTP/1.x framing without I/O — heads, the request body
//!   decoder, each exchange and its persistence, the one encode path.
//! - `http2`: HTTP/2 without I/O — frames, HPACK, request heads, RFC 9218
//!   priorities, the session (streams, flow control, scheduling, the
//!   counters that answer floods), and its limits in one file.
//! - `service`: the version-independent service (health, metrics, routing,
//!   panics, the access-log record) that a protocol layer calls per request.
//! - `metrics`: each worker's counters (written by it alone), and the
//!   Prometheus text a scrape sums them into.
//! - `http`: version-independent semantics — [`Request`], [`Response`],
//!   header fields, preconditions, ranges, content codings, dates.
//! - `handlers`: the router, [`StaticFiles`], listings, folder archives (tar,
//!   zip), the file cache, uploads and the other writes.
//! - `budget`: the one memory budget for what connections hold.
//! - `safe_path`: request path → file path, never outside the root.
//! - `clock`: the cached `Date` and log timestamps.
//! - `access_log`: the access log's formats, per-worker buffers and sink.
//! - `proxy`: PROXY protocol headers, `Forwarded` / `X-Forwarded-For`
//!   from trusted proxies ([`Cidr`]).
//! - `transport`, `tls`: how bytes move (plain TCP or a rustls session),
//!   and the HTTPS settings ([`Tls`]).
//!
//! # Shape
//!
//! A fixed pool of worker threads ([`Config::threads`]) each runs its own
//! event loop (epoll through `mio`) over non-blocking sockets, accepting
//! from one shared listener. A connection is a state machine (read a head,
//! answer, write, repeat or close), so an idle, slow or hostile client only
//! occupies a slot in a poll set, never a thread. Bytes flow one way:
//! bytes in → [`Request`] → the worker's router → [`Response`] → bytes
//! out, with file bodies sent by `sendfile`.

#![cfg_attr(not(fuzzing), deny(missing_docs))]

mod access_log;
mod auth;
mod budget;
mod clock;
pub mod config;
pub(crate) mod connection;
mod context;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
mod handlers;
mod http;
mod http1;
mod http2;
mod metrics;
mod proxy;
mod safe_path;
mod server;
mod service;
mod sys;
mod tls;
mod transport;
mod worker;

pub use access_log::{LogDestination, LogFormat};
pub use config::{Config, Cors, FileOptions};
pub use handlers::{
    BodySink, Endpoint, FolderError, Handler, IntoResponse, Router, Started, StaticFiles, StreamingHandler,
    WorkerHandler, LIVE_RELOAD_PATH,
};
pub use http::request::Request;
pub use http::response::{HeaderError, Response, StaticField};
pub use http::{Method, StatusCode, Version};
pub use proxy::Cidr;
pub use server::{Server, ShutdownHandle, StartError};
pub use tls::{lan_addresses, Tls, TlsError};

/// An argon2id hash of `password` (PHC string format, argon2's default
/// cost, a random salt), for an account's secret
/// ([`config::Account`], `--auth USER:HASH`); what `rawserve
/// --hash-password` prints. The error says why the system could not make
/// one (no random numbers).
pub fn hash_password(password: &str) -> Result<String, String> {
    auth::hash_password(password)
}

/// Raises this process's soft limit on open files to its hard limit, as
/// nginx's `worker_rlimit_nofile` and Go's runtime do: the default soft
/// limit (often 1024) is far below the connections a server should hold.
/// Returns the new soft limit.
pub fn raise_fd_limit() -> std::io::Result<u64> {
    sys::net::raise_fd_limit()
}

/// The listening sockets passed by systemd socket activation (`LISTEN_FDS`
/// with `LISTEN_PID` naming this process), for [`Server::with_listeners`];
/// empty when the process was not socket-activated. Call it before
/// starting threads: it removes those variables from the environment.
pub fn inherited_listeners() -> std::io::Result<Vec<std::net::TcpListener>> {
    sys::activation::inherited_listeners()
}

/// Sends `state` (`READY=1`, `STOPPING=1`) to the service manager named by
/// `NOTIFY_SOCKET`; does nothing when it is not set.
pub fn notify_service_manager(state: &str) -> std::io::Result<()> {
    sys::activation::notify(state)
}
