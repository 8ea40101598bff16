//! Every setting and every limit of a server, in one place.
//!
//! `Config` is plain data: the command line (`main.rs`) fills it in, tests
//! build it by hand, and the rest of the crate only reads it. Each limit says
//! why it has the value it has. [`FileOptions`] is the part about serving a
//! folder, held by each `StaticFiles` handler. Checking the root directory
//! happens in `StaticFiles::with_options`, binding the socket in
//! `Server::bind`, not here.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

pub use crate::access_log::{LogDestination, LogFormat};
pub use crate::http::request::MAX_HEADERS;
pub use crate::proxy::Cidr;
use crate::tls::Tls;

/// How a folder is served by a `StaticFiles` handler.
#[derive(Debug, Clone)]
pub struct FileOptions {
    /// Directory whose files are served.
    pub root: PathBuf,
    /// Serve files reached through symlinks that lead outside `root`.
    pub follow_symlinks: bool,
    /// Serve names that start with a dot (`.git`, `.env`). Off by default
    /// because such files are usually private by accident, not by design.
    pub dotfiles: bool,
    /// `Cache-Control` sent with file responses. `no-cache` lets browsers
    /// keep a copy but revalidate it (cheap with ETag / Last-Modified).
    pub cache_control: String,
    /// Answer a directory without `index.html` with a listing (else 404).
    pub listing: bool,
    /// Most directory entries read for one listing; past it the page says
    /// that only the first ones are shown. It bounds memory and work per
    /// request: 10,000 entries cost about 30 ms of a worker's time (mostly
    /// one `fstatat` each, done in slices between other connections' turns)
    /// and a 1.1 MB page; an unbounded directory of 100,000 took over a
    /// second and, with 16 concurrent requests, ~400 MB.
    pub max_listing_entries: usize,
    /// Most ranges honoured in one `Range` header; more and the whole file
    /// is sent instead, so a request can never amplify the response (a
    /// classic denial-of-service vector, CVE-2011-3192).
    pub max_ranges: usize,
    /// Bytes of small files each worker keeps in memory (0 turns the cache
    /// off). Every hit is revalidated against the file's metadata, so the
    /// cache only saves work, it never serves an old version.
    pub cache_bytes: usize,
    /// Largest file kept in that cache. Larger files go out with sendfile,
    /// which wins once the file outweighs the per-call setup.
    pub cache_max_file: u64,
    /// Most inotify watches each worker places per folder so that cache hits
    /// need no `stat` (one per cached file and per directory on the way to
    /// one). Past it, and past the kernel's per-user `max_user_watches`,
    /// entries are checked by `stat` at each hit, as with 0 (which also
    /// suits network file systems, whose remote changes inotify never
    /// sees). Each watch costs the kernel about 1 KiB.
    pub cache_watches: usize,
    /// A file changed less than this long before it is read is "racy": not
    /// cached and sent without ETag or Last-Modified, because a same-size
    /// rewrite within one timestamp tick would leave its metadata, and so
    /// those validators, unchanged. 1 s covers the per-tick timestamps of
    /// kernels before 6.13, ramfs and NFS (git's "racy git" rule). The
    /// integration tests set zero: their fixtures are written just before
    /// the server starts and nothing rewrites them within a tick.
    pub racy_window: Duration,
    /// On-the-fly compression level, 1 (fastest) to 9 (smallest) on gzip's
    /// scale (brotli and zstd get levels of similar cost); `None` turns it
    /// off, leaving precompressed siblings. The default, 6, is gzip 6,
    /// brotli 5, zstd 3: about 1 ms, once, for a 32 KiB stylesheet.
    pub compress: Option<u8>,
    /// Files smaller than this are sent uncompressed (unless the client
    /// refuses identity): below about a packet compression saves no round
    /// trip. 512 bytes, as Caddy (nginx's `gzip_min_length` is 20).
    pub compress_min_bytes: u64,
    /// Largest file compressed whole and kept, per coding, in the worker's
    /// cache of compressed bytes. Larger files are compressed as they are
    /// sent, for each request, in bounded memory. 256 KiB takes brotli 5
    /// about 20 ms, the longest a worker stalls, once per file version.
    pub compress_max_file: u64,
    /// Compressed bytes each worker keeps (0 keeps none: every response is
    /// compressed anew). 8 MiB holds a site's text several times over.
    pub compress_cache_bytes: usize,
    /// Most large files being compressed while sent at once, server-wide;
    /// past it they go out uncompressed. Each also charges its coder's
    /// state and buffers (0.6 to 1.4 MiB at the default stream level) to the
    /// server's memory budget (`Config::max_pending_head_bytes`), taking at
    /// most half of it; without room there, too, the file goes uncompressed.
    pub compress_streams: usize,
    /// Level (1 to 9, `compress`'s scale) of files compressed while sent,
    /// for every request: those larger than `compress_max_file`. Capped by
    /// `compress`. 1 (gzip 1, brotli 1, zstd 1) by default: these bytes are
    /// made anew per request, so their CPU is what a client can multiply;
    /// measured on a 6 MiB text, brotli 1 compresses 214 MB/s to a ratio of
    /// 3.9 where brotli 5 manages 59 MB/s, and zstd 1 523 MB/s at 6.1. nginx
    /// and Caddy compress on the fly at gzip 1 to 5.
    pub compress_stream_level: u8,

    // Everyday-use settings (issue 9): what a directory answers with,
    // single-page apps, extra header fields, CORS and types.
    /// Files a directory is answered with, the first that exists winning
    /// (nginx's `index`). Default `index.html`, then `index.htm`.
    pub index: Vec<String>,
    /// A `GET` for a missing path without a file extension, from a client
    /// that accepts `text/html`, is answered with the root's index page and
    /// status 200, so a single-page app's deep links boot the app. Missing
    /// assets (`/app.js`) stay 404.
    pub spa: bool,
    /// `/about` is answered with `about.html` when `about` does not exist
    /// (Caddy's `try_files {path}.html`, serve's `cleanUrls`).
    pub clean_urls: bool,
    /// Header fields added to every response of the folder, as
    /// `(name, value)`; checked by `StaticFiles::with_options`.
    pub headers: Vec<(String, String)>,
    /// `Cache-Control` by path: `(glob, value)`, the first glob matching the
    /// file's path relative to the root wins over `cache_control`. Globs
    /// are globset's: `*` stays within one path segment, `**` crosses them
    /// (`assets/**`).
    pub cache_control_for: Vec<(String, String)>,
    /// Cross-origin reads (CORS), off when `None`.
    pub cors: Option<Cors>,
    /// `Content-Type` by file extension (without the dot, case-insensitive),
    /// over the built-in table.
    pub mime: Vec<(String, String)>,
}

/// Which origins may read the folder's responses from a script (CORS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cors {
    /// Every origin: `Access-Control-Allow-Origin: *`, the same answer to
    /// everyone (so no `Vary: Origin`).
    AnyOrigin,
    /// Only these origins (`https://app.example`), each echoed back to
    /// itself; the answer then depends on the request's `Origin`.
    Origins(Vec<String>),
}

impl FileOptions {
    /// Defaults for serving `root`.
    pub fn new(root: impl Into<PathBuf>) -> FileOptions {
        FileOptions {
            root: root.into(),
            follow_symlinks: false,
            dotfiles: false,
            cache_control: "no-cache".to_string(),
            listing: true,
            max_listing_entries: 10_000,
            max_ranges: 16,
            cache_bytes: 8 << 20,
            cache_max_file: 64 << 10,
            cache_watches: 4096,
            racy_window: Duration::from_secs(1),
            index: vec!["index.html".to_string(), "index.htm".to_string()],
            spa: false,
            clean_urls: false,
            headers: Vec::new(),
            cache_control_for: Vec::new(),
            cors: None,
            mime: Vec::new(),
            compress: Some(6),
            compress_min_bytes: 512,
            compress_max_file: 256 << 10,
            compress_cache_bytes: 8 << 20,
            compress_streams: 32,
            compress_stream_level: 1,
        }
    }
}

/// How a server behaves and what it will put up with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address and port to listen on; port 0 picks a free port (tests use it).
    pub addr: SocketAddr,
    /// More addresses to listen on, served by the same workers
    /// (`-b 127.0.0.1 -b ::1`, or the addresses of a host name); port 0
    /// here means the port `addr` was given.
    pub also_listen: Vec<SocketAddr>,
    /// Number of worker threads, each with its own event loop. Fixed for the
    /// life of the server: no thread is ever started per connection.
    pub threads: usize,

    /// Largest request head (request line + header fields) accepted. Past it
    /// the answer is 431 (or 414 when the request line alone is too long).
    /// 16 KiB is above what browsers send with large cookies; nginx allows 8 KiB
    /// per line by default.
    pub max_head_bytes: usize,
    /// Most header fields in one request (at most [`MAX_HEADERS`]).
    pub max_headers: usize,
    /// Largest request body accepted: buffered whole for a route that reads
    /// it (a small POST endpoint), or read and thrown away so the connection
    /// can be kept; larger bodies get 413 and a close. It covers small form
    /// posts and stray bodies, not uploads.
    pub max_body_bytes: u64,
    /// Memory all connections together may hold before they are answered
    /// or while they stall: request heads still arriving (and bodies being
    /// buffered, pipelined leftovers), TLS records still arriving, and the
    /// state of files compressed while sent (which may take half of it; see
    /// `budget`). Without a total, 9,000 unfinished 16 KB heads held ~144
    /// MB, and 5,000 TLS clients stalled in mid-record ~98 MB; past it, a
    /// connection that needs more is answered 503 and closed (a TLS one in
    /// its handshake just closed), and a file is sent uncompressed. 64 MiB
    /// is 4,000 maximal heads, or far more realistic ones.
    pub max_pending_head_bytes: usize,
    /// Most connections open at once across all workers. Past it new
    /// connections are closed at once instead of queueing without bound.
    pub max_connections: usize,

    /// Connections the kernel queues before they are accepted. std's
    /// default of 128 overflows when a thousand clients connect at once,
    /// and overflowing connects wait a second for a SYN retransmit; nginx
    /// uses 511, lighttpd 1024, Go servers (Caddy) the kernel's limit. 4096
    /// is that limit's default since Linux 5.4 (`net.core.somaxconn`, which
    /// caps it): with 1024, 10,000 clients connecting at once saw seconds
    /// of SYN retransmits (bench/run's 10,000-connection row).
    pub listen_backlog: i32,

    /// Time allowed to receive a whole request head once it has started
    /// (slowloris defence). Expiry answers 408 and closes. Over TLS the
    /// handshake starts it too, so handshake and first head share it (an
    /// unfinished handshake is closed without a word).
    pub head_timeout: Duration,
    /// Time a connection may sit between requests (keep-alive), or before its
    /// first byte. Expiry closes quietly, as browsers expect.
    pub idle_timeout: Duration,
    /// Time a response may make no progress because the client does not read.
    pub send_timeout: Duration,
    /// How long in-flight responses may keep running after a shutdown signal.
    pub shutdown_grace: Duration,
    /// After answering with "close" while the client may still be sending,
    /// how long to read and discard its data so the answer is not lost to a
    /// TCP reset (the "lingering close" of nginx and Apache).
    pub linger_timeout: Duration,

    /// Serve HTTPS with this certificate instead of plain HTTP (plain HTTP
    /// requests to the port are redirected to `https://`). `None`: plain.
    pub tls: Option<Tls>,
    /// Where the access log goes: standard output by default, so
    /// diagnostics (standard error) and access lines never mix.
    pub access_log: LogDestination,
    /// How access lines are written; `combined` is what log tools
    /// (goaccess, AWStats) and nginx/Apache default to.
    pub log_format: LogFormat,
    /// Peers whose `Forwarded` / `X-Forwarded-For` headers name the client
    /// for the access log. Empty: such headers are ignored, since anyone
    /// can send them.
    pub trusted_proxies: Vec<Cidr>,
    /// Every connection starts with a PROXY protocol header (v1 or v2) from
    /// a load balancer; one without it is closed. Off: such a header is a
    /// malformed request (400).
    pub proxy_protocol: bool,
    /// A path answered `200 ok` (`503` once shutting down) before routing,
    /// without touching the file system, and not logged: for load
    /// balancers' health checks.
    pub health_path: Option<String>,
}

impl Config {
    /// The defaults: 127.0.0.1:8080, one worker per core, the limits below.
    pub fn new() -> Config {
        Config {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080),
            also_listen: Vec::new(),
            threads: default_threads(),
            max_head_bytes: 16 * 1024,
            max_headers: MAX_HEADERS,
            max_body_bytes: 64 * 1024,
            max_pending_head_bytes: 64 << 20,
            max_connections: 20_000,
            listen_backlog: 4096,
            head_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(5),
            send_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            linger_timeout: Duration::from_secs(2),
            tls: None,
            access_log: LogDestination::Stdout,
            log_format: LogFormat::Combined,
            trusted_proxies: Vec::new(),
            proxy_protocol: false,
            health_path: None,
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config::new()
    }
}

/// One worker per core: a worker never blocks, so more would only contend.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
