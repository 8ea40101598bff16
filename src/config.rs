//! Every setting and every limit of a server, in one place, each default
//! written once.
//!
//! `Config` is plain data: tests and embedders build it with
//! [`Config::new`] and change fields, the rest of the crate only reads it.
//! Each limit says why it has the value it has. [`FileOptions`] is the part
//! about serving a folder, held by each `StaticFiles` handler. The values
//! with a syntax of their own (header fields, `Cache-Control` globs, types,
//! CORS origins) are typed and checked when they are read ([`HeaderField`],
//! [`CacheRule`], [`MimeOverride`], [`Cors`]'s `FromStr`); a bad one is a
//! [`SettingError`] naming the flag and the variable.
//!
//! With the `cli` feature these same structs are the `rawserve` command's
//! options: clap derives each flag, its `RAWSERVE_*` variable and its help
//! from the field's attribute, and shows as `[default: …]` the value
//! [`Config::new`] and [`FileOptions::new`] give, so a default is never
//! written twice. A new field takes such an attribute too, or
//! `arg(skip = …)` when it is no option (a unit test says which is missing).
//! Checking the root directory happens in
//! `StaticFiles::with_options`, binding the socket in `Server::bind`, not here.

mod account;
#[cfg(feature = "cli")]
mod command_line;
mod error;
mod hidden;
mod values;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

pub use crate::access_log::{LogDestination, LogFormat};
pub use crate::proxy::Cidr;
use crate::tls::Tls;
pub use account::Account;
pub(crate) use account::Secret;
#[cfg(feature = "cli")]
use command_line::{
    boolish, byte_count_or_off, compress_level, cors_setting, count_within, defaults, file_defaults, health_path,
    index_name, metrics_path, no_to_false, off_or, seconds, seconds_text, valid_cache_control, THREADS,
};
pub use error::{Setting, SettingError};
pub use hidden::HiddenGlob;
pub(crate) use values::{check_cache_control, check_index, origin_of};
pub use values::{CacheRule, HeaderField, MimeOverride};

/// Upper bound on request header fields, fixed at compile time because the
/// HTTP/1 parser's field array lives on the stack. `Config::max_headers`
/// may lower it. Defined here, not beside the parser, so that settings
/// depend on no protocol module.
pub const MAX_HEADERS: usize = 100;

/// The on-the-fly compression level when none is asked for: gzip 6 (zlib's
/// own default), brotli 5, zstd 3. Measured on a 32 KiB stylesheet, brotli 5
/// costs about 1 ms once and is 4 % smaller than gzip 6; brotli 11 is 7 %
/// smaller still but costs 60 ms, too long for a worker to stall even once.
pub const DEFAULT_COMPRESS_LEVEL: u8 = 6;

/// How a folder is served by a `StaticFiles` handler.
///
/// With the `cli` feature it is also the folder's half of the command
/// line (`#[command(flatten)]`); `root` is not a flag, set it.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct FileOptions {
    /// Directory whose files are served.
    #[cfg_attr(feature = "cli", arg(skip = file_defaults().root.clone()))]
    pub root: PathBuf,
    /// Serve files reached through symlinks that lead outside `root`.
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_FOLLOW_SYMLINKS", value_parser = boolish(),
        help = "Serve files whose symlinks lead outside ROOT"))]
    pub follow_symlinks: bool,
    /// Serve names that start with a dot (`.git`, `.env`). Off by default
    /// because such files are usually private by accident, not by design.
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_DOTFILES", value_parser = boolish(),
        help = "Serve files and folders whose names start with a dot"))]
    pub dotfiles: bool,
    /// `Cache-Control` sent with file responses. `no-cache` lets browsers
    /// keep a copy but revalidate it (cheap with ETag / Last-Modified).
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_CACHE_CONTROL", value_name = "VALUE",
        value_parser = valid_cache_control, default_value_t = file_defaults().cache_control.clone(),
        help = "Cache-Control value for files"))]
    pub cache_control: String,
    /// Answer a directory without `index.html` with a listing (else 404).
    // The flag says "no": set, it turns the field off.
    #[cfg_attr(feature = "cli", arg(long = "no-listing", env = "RAWSERVE_NO_LISTING",
        action = clap::ArgAction::SetTrue, value_parser = no_to_false(),
        help = "Answer folders without index.html with 404 instead of a listing"))]
    pub listing: bool,
    /// Most directory entries read for one listing; past it the page says
    /// that only the first ones are shown. It bounds memory and work per
    /// request: 10,000 entries cost about 30 ms of a worker's time (mostly
    /// one `fstatat` each, done in slices between other connections' turns)
    /// and a 1.1 MB page; an unbounded directory of 100,000 took over a
    /// second and, with 16 concurrent requests, ~400 MB.
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_MAX_LISTING_ENTRIES", value_name = "N",
        default_value_t = file_defaults().max_listing_entries,
        help = "Most entries shown in a directory listing (past it: a note in the page)"))]
    pub max_listing_entries: usize,
    /// Most ranges honoured in one `Range` header; more and the whole file
    /// is sent instead, so a request can never amplify the response (a
    /// classic denial-of-service vector, CVE-2011-3192).
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_MAX_RANGES", value_name = "N",
        default_value_t = file_defaults().max_ranges,
        help = "Most ranges honoured in one Range header (past it: the whole file)"))]
    pub max_ranges: usize,
    /// Bytes of small files each worker keeps in memory (0 turns the cache
    /// off). Every hit is revalidated against the file's metadata, or known
    /// current by an inotify watch (re-verified every `cache_recheck`), so
    /// the cache only saves work, it never serves an old version.
    #[cfg_attr(feature = "cli", arg(skip = file_defaults().cache_bytes))]
    pub cache_bytes: usize,
    /// Largest file kept in that cache. Larger files go out with sendfile,
    /// which wins once the file outweighs the per-call setup.
    #[cfg_attr(feature = "cli", arg(skip = file_defaults().cache_max_file))]
    pub cache_max_file: u64,
    /// Most inotify watches each worker places per folder so that cache hits
    /// need no `stat` (one per cached file and per directory on the way to
    /// one). Past it, and past the kernel's per-user `max_user_watches`,
    /// entries are checked by `stat` at each hit, as with 0 (which also
    /// suits network file systems, whose remote changes inotify never
    /// sees). Each watch costs the kernel about 1 KiB.
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_CACHE_WATCHES", value_name = "N",
        default_value_t = file_defaults().cache_watches,
        help = "inotify watches each worker places so cache hits need no stat; past them, or with 0 \
                (for network file systems, whose remote changes inotify misses), each hit stats its file"))]
    pub cache_watches: usize,
    /// Longest a cache entry, kept compressed bytes or a kept listing that
    /// an inotify watch vouches for is served without looking at the file
    /// system: the first hit after it checks the path's metadata once (one
    /// `fstatat`, or `openat2` + `fstat` + `close` below the top folder; a
    /// listing is read again, and kept as it was if its tag is unchanged),
    /// then trusts the watch for as long again. It bounds what inotify never
    /// reports: writes through a shared `mmap`, a file system mounted over a
    /// served folder or file, an overlay's layer written directly; each is
    /// served fresh within this time. 1 s, like the racy window: a check
    /// costs 1.2 µs of CPU in the top folder, 3 µs below it (measured), so
    /// once a second per hot file is nothing, and even 4,096 watched files
    /// each hit just past their interval cost a worker about 1 % of a core
    /// (10 % at 100 ms); nginx's `open_file_cache_valid` is 60 s.
    #[cfg_attr(feature = "cli", arg(skip = file_defaults().cache_recheck))]
    pub cache_recheck: Duration,
    /// A file changed less than this long before it is read is "racy": not
    /// cached and sent without ETag or Last-Modified, because a same-size
    /// rewrite within one timestamp tick would leave its metadata, and so
    /// those validators, unchanged. 1 s covers the per-tick timestamps of
    /// kernels before 6.13, ramfs and NFS (git's "racy git" rule). The
    /// integration tests set zero: their fixtures are written just before
    /// the server starts and nothing rewrites them within a tick.
    #[cfg_attr(feature = "cli", arg(skip = file_defaults().racy_window))]
    pub racy_window: Duration,
    /// On-the-fly compression level, 1 (fastest) to 9 (smallest) on gzip's
    /// scale (brotli and zstd get levels of similar cost); `None` turns it
    /// off, leaving precompressed siblings. The default is
    /// [`DEFAULT_COMPRESS_LEVEL`].
    // `std::option::Option` spelled out: clap then takes the parser's
    // `Option` as the value (`off` is `None`) instead of "flag absent".
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_COMPRESS", value_name = "LEVEL|off",
        value_parser = compress_level(), default_value = off_or(&file_defaults().compress),
        help = "On-the-fly compression of text-like files: a level from 1 (fastest) to 9 (smallest), \
                or off (precompressed .br/.zst/.gz siblings are still sent)"))]
    pub compress: std::option::Option<u8>,
    /// Files smaller than this are sent uncompressed (unless the client
    /// refuses identity): below about a packet compression saves no round
    /// trip. 512 bytes, as Caddy (nginx's `gzip_min_length` is 20).
    #[cfg_attr(feature = "cli", arg(skip = file_defaults().compress_min_bytes))]
    pub compress_min_bytes: u64,
    /// Largest file compressed whole and kept, per coding, in the worker's
    /// cache of compressed bytes. Larger files are compressed as they are
    /// sent, for each request, in bounded memory. 256 KiB takes brotli 5
    /// about 20 ms, the longest a worker stalls, once per file version.
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_COMPRESS_MAX_FILE", value_name = "BYTES",
        default_value_t = file_defaults().compress_max_file,
        help = "Largest file compressed whole and kept; larger ones are compressed while sent"))]
    pub compress_max_file: u64,
    /// Compressed bytes each worker keeps (0 keeps none: every response is
    /// compressed anew). 8 MiB holds a site's text several times over.
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_COMPRESS_CACHE_BYTES", value_name = "BYTES",
        default_value_t = file_defaults().compress_cache_bytes,
        help = "Compressed bytes each worker keeps, so a file is compressed once per version"))]
    pub compress_cache_bytes: usize,
    /// Most large files being compressed while sent at once, server-wide;
    /// past it they go out uncompressed. Each also charges its coder's
    /// state and buffers (0.6 to 1.4 MiB at the default stream level) to the
    /// server's memory budget (`Config::max_pending_head_bytes`), taking at
    /// most half of it; without room there, too, the file goes uncompressed.
    #[cfg_attr(feature = "cli", arg(skip = file_defaults().compress_streams))]
    pub compress_streams: usize,
    /// Level (1 to 9, `compress`'s scale) of files compressed while sent,
    /// for every request: those larger than `compress_max_file`. Capped by
    /// `compress`. 1 (gzip 1, brotli 1, zstd 1) by default: these bytes are
    /// made anew per request, so their CPU is what a client can multiply;
    /// measured on a 6 MiB text, brotli 1 compresses 214 MB/s to a ratio of
    /// 3.9 where brotli 5 manages 59 MB/s, and zstd 1 523 MB/s at 6.1. nginx
    /// and Caddy compress on the fly at gzip 1 to 5.
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_COMPRESS_STREAM_LEVEL", value_name = "LEVEL",
        default_value_t = file_defaults().compress_stream_level, value_parser = clap::value_parser!(u8).range(1..=9),
        help = "Level (1-9) of files compressed while sent, anew per request: those over --compress-max-file"))]
    pub compress_stream_level: u8,

    // Everyday-use settings (issue 9): what a directory answers with,
    // single-page apps, extra header fields, CORS and types.
    /// Files a directory is answered with, the first that exists winning
    /// (nginx's `index`). Default `index.html`, then `index.htm`; each is
    /// a file name, checked by `StaticFiles::with_options`.
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_INDEX", value_name = "NAME", value_delimiter = ',',
        value_parser = index_name, default_values_t = file_defaults().index.clone(),
        help = "File a folder is answered with, first found wins; repeatable"))]
    pub index: Vec<String>,
    /// A `GET` for a missing path without a file extension, from a client
    /// that accepts `text/html`, is answered with the root's index page and
    /// status 200, so a single-page app's deep links boot the app. Missing
    /// assets (`/app.js`) stay 404.
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_SPA", value_parser = boolish(),
        help = "Single-page app: a page request for a missing path without an extension gets \
                ROOT's index.html with status 200"))]
    pub spa: bool,
    /// `/about` is answered with `about.html` when `about` does not exist
    /// (Caddy's `try_files {path}.html`, serve's `cleanUrls`).
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_CLEAN_URLS", value_parser = boolish(),
        help = "Serve about.html for /about when /about does not exist"))]
    pub clean_urls: bool,
    /// Header fields added to every response of the folder.
    #[cfg_attr(
        feature = "cli",
        arg(
            long = "header",
            short = 'H',
            env = "RAWSERVE_HEADER",
            value_name = "NAME: VALUE",
            help = "Add a header field to every response of the folder; repeatable (--header 'X-Frame-Options: DENY')"
        )
    )]
    pub headers: Vec<HeaderField>,
    /// `Cache-Control` by path: the first rule whose glob matches the
    /// file's path relative to the root wins over `cache_control`.
    #[cfg_attr(
        feature = "cli",
        arg(
            long,
            env = "RAWSERVE_CACHE_CONTROL_FOR",
            value_name = "GLOB=VALUE",
            help = "Cache-Control for files whose path matches GLOB, first match wins; repeatable \
                (--cache-control-for 'assets/**=max-age=31536000, immutable')"
        )
    )]
    pub cache_control_for: Vec<CacheRule>,
    /// Cross-origin reads (CORS), off when `None`.
    // `std::option::Option` spelled out, as for `compress`: `--cors=off`
    // (or `RAWSERVE_CORS=0`) is `None`, `--cors` alone any origin. It may be
    // repeated: the command adds the lists up.
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_CORS", value_name = "ORIGIN", num_args = 0..=1,
        action = clap::ArgAction::Append, require_equals = true, default_missing_value = "*", value_parser = cors_setting,
        default_value = off_or(&file_defaults().cors),
        help = "Let scripts on other origins read responses: `--cors` (or RAWSERVE_CORS=1) for any origin, \
                `--cors=https://a.example,https://b.example` for those only"))]
    pub cors: std::option::Option<Cors>,
    /// Live reload, for building a site: every HTML page the folder serves
    /// carries a small script that listens on `/.rawserve/live` (server-
    /// sent events) and reloads the page when a file under the root
    /// changes, or swaps a changed stylesheet in place. One thread watches
    /// the folder (inotify, hidden folders left out). Off by default: a
    /// published site has no use for it.
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_LIVE_RELOAD", value_parser = boolish(),
        help = "Reload open pages when a file under ROOT changes (stylesheets are swapped in place)"))]
    pub live_reload: bool,
    /// `Content-Type` by file extension, over the built-in table.
    #[cfg_attr(
        feature = "cli",
        arg(
            long,
            env = "RAWSERVE_MIME",
            value_name = "EXT=TYPE",
            value_delimiter = ',',
            help = "Content-Type for an extension, over the built-in table; repeatable (--mime md=text/markdown)"
        )
    )]
    pub mime: Vec<MimeOverride>,
    /// Names and paths kept out of sight (`*.bak`, `private`, `drafts/*.md`):
    /// a request for one, or for anything inside one, is answered 404 as
    /// if it did not exist, and listings, archives and uploads leave them
    /// out, as they do dot names. See [`HiddenGlob`].
    #[cfg_attr(
        feature = "cli",
        arg(
            long,
            env = "RAWSERVE_HIDDEN",
            value_name = "GLOB",
            value_delimiter = ',',
            help = "Hide files and folders whose name (a GLOB without /) or path from the root (with /) matches: \
                404, and left out of listings and archives; repeatable (--hidden '*.bak' --hidden /drafts)"
        )
    )]
    pub hidden: Vec<HiddenGlob>,

    // Writing (issue 22): uploads, new folders, removal and moves.
    /// Accept files into the folder: `PUT` (`curl -T`; replaces an
    /// existing file), `POST` multipart (the listing page's upload form,
    /// `curl -F`; folders in a file's name are made) and `MKCOL` (a new
    /// folder). Off by default: whoever can reach the server could then
    /// fill its disk. Every write lands whole or not at all (a temporary
    /// file, `fsync`, rename), beneath the root, through no symlink, never
    /// as a dot name; browsers on other sites are refused (CSRF).
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_UPLOAD", value_parser = boolish(),
        help = "Accept uploads: PUT (curl -T), POST multipart (the listing page, curl -F) and new folders (MKCOL)"))]
    pub upload: bool,
    /// Also accept `DELETE` (a file, or a folder with all it holds) and
    /// `MOVE` (rename or move, with a `Destination` field), and show both
    /// on the listing page. Off by default, and apart from `upload`: a
    /// drop box that takes files need not let anyone remove them.
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_DELETE", value_parser = boolish(),
        help = "Accept DELETE (files, and folders with their contents) and MOVE (rename or move)"))]
    pub delete: bool,
    /// Largest file one upload may write (a `PUT` body, or one part of a
    /// `POST`): larger is refused with 413, before the body when its
    /// length is announced, else as soon as it passes the limit (chunked
    /// or multipart), and nothing is kept. `None`, the default, leaves
    /// only the disk's own limit (a full disk or quota is 507, and also
    /// leaves nothing behind).
    // `std::option::Option` spelled out, as for `compress`.
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_MAX_UPLOAD_BYTES", value_name = "BYTES|off",
        value_parser = byte_count_or_off, default_value = off_or(&file_defaults().max_upload_bytes),
        help = "Largest file one upload may write, in bytes (or with K, M, G, T: KiB to TiB); larger gets 413"))]
    pub max_upload_bytes: std::option::Option<u64>,
    // WebDAV (issue 23).
    /// Speak WebDAV (RFC 4918, classes 1 and 2) on the folder, so desktops
    /// (Windows Explorer, macOS Finder, GNOME Files), davfs2, rclone and
    /// cadaver can mount it: `OPTIONS` says `DAV: 1, 2`, `PROPFIND`
    /// (depth 0 and 1) lists it. Off by default. It adds no permission:
    /// as with dufs, `PROPFIND` reads, while `PROPPATCH`, `COPY`, `LOCK`
    /// and `UNLOCK` write and need [`upload`](Self::upload), and `DELETE`
    /// and `MOVE` still need [`delete`](Self::delete); a read-only mount
    /// is `--webdav` alone, a read-write one `--webdav --upload --delete`.
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_WEBDAV", value_parser = boolish(),
        help = "Speak WebDAV (mount the folder from Windows, macOS, GNOME, davfs2, rclone); writes still need --upload, --delete"))]
    pub webdav: bool,
}

/// Which origins may read the folder's responses from a script (CORS).
/// [`parse`](str::parse) reads it as `--cors` does and checks each origin;
/// a list built by hand is checked by `StaticFiles::with_options`.
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
            cache_recheck: Duration::from_secs(1),
            racy_window: Duration::from_secs(1),
            index: vec!["index.html".to_string(), "index.htm".to_string()],
            spa: false,
            clean_urls: false,
            headers: Vec::new(),
            cache_control_for: Vec::new(),
            cors: None,
            live_reload: false,
            mime: Vec::new(),
            hidden: Vec::new(),
            compress: Some(DEFAULT_COMPRESS_LEVEL),
            compress_min_bytes: 512,
            compress_max_file: 256 << 10,
            compress_cache_bytes: 8 << 20,
            compress_streams: 32,
            compress_stream_level: 1,
            upload: false,
            delete: false,
            max_upload_bytes: None,
            webdav: false,
        }
    }
}

/// How a server behaves and what it will put up with.
///
/// With the `cli` feature it is also the server's half of the command line
/// (`#[command(flatten)]`); the addresses are not flags (the command's
/// `--bind` and `--port` make them).
#[derive(Debug, Clone)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct Config {
    /// Address and port to listen on; port 0 picks a free port (tests use it).
    #[cfg_attr(feature = "cli", arg(skip = defaults().addr))]
    pub addr: SocketAddr,
    /// More addresses to listen on, served by the same workers
    /// (`-b 127.0.0.1 -b ::1`, or the addresses of a host name); port 0
    /// here means the port `addr` was given.
    #[cfg_attr(feature = "cli", arg(skip))]
    pub also_listen: Vec<SocketAddr>,
    /// Number of worker threads, each with its own event loop. Fixed for the
    /// life of the server: no thread is ever started per connection.
    #[cfg_attr(feature = "cli", arg(short, long, env = "RAWSERVE_THREADS", default_value_t = defaults().threads,
        value_parser = count_within(1..=THREADS),
        help = "Worker threads (the default is one per core)"))]
    pub threads: usize,

    /// Largest request head (request line + header fields) accepted. Past it
    /// the answer is 431 (or 414 when the request line alone is too long).
    /// 16 KiB is above what browsers send with large cookies; nginx allows 8 KiB
    /// per line by default.
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_MAX_HEAD_BYTES", value_name = "BYTES",
        default_value_t = defaults().max_head_bytes,
        help = "Largest request head in bytes (past it: 431, or 414 for the request line)"))]
    pub max_head_bytes: usize,
    /// Most header fields in one request (at most [`MAX_HEADERS`]).
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_MAX_HEADERS", value_name = "N",
        default_value_t = defaults().max_headers,
        value_parser = count_within(1..=MAX_HEADERS as u64),
        help = "Most header fields in one request"))]
    pub max_headers: usize,
    /// Largest request body accepted: buffered whole for a route that reads
    /// it (a small POST endpoint), or read and thrown away so the connection
    /// can be kept; larger bodies get 413 and a close. It covers small form
    /// posts and stray bodies, not uploads.
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_MAX_BODY_BYTES", value_name = "BYTES",
        default_value_t = defaults().max_body_bytes,
        help = "Largest request body read or skipped to keep the connection (past it: 413)"))]
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
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_MAX_PENDING_HEAD_BYTES", value_name = "BYTES",
        default_value_t = defaults().max_pending_head_bytes,
        help = "Memory connections may hold before they are answered or while they stall: unfinished \
                heads, TLS records in progress, compression state (past it: 503 and close, or uncompressed)"))]
    pub max_pending_head_bytes: usize,
    /// Most connections open at once across all workers. Past it new
    /// connections are closed at once instead of queueing without bound.
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_MAX_CONNECTIONS", value_name = "N",
        default_value_t = defaults().max_connections,
        help = "Most connections open at once (past it: 503 and close); unless set, \
                at most half the open-file limit"))]
    pub max_connections: usize,

    /// Connections the kernel queues before they are accepted. std's
    /// default of 128 overflows when a thousand clients connect at once,
    /// and overflowing connects wait a second for a SYN retransmit; nginx
    /// uses 511, lighttpd 1024, Go servers (Caddy) the kernel's limit. 4096
    /// is that limit's default since Linux 5.4 (`net.core.somaxconn`, which
    /// caps it): with 1024, 10,000 clients connecting at once saw seconds
    /// of SYN retransmits (bench/run's 10,000-connection row).
    #[cfg_attr(feature = "cli", arg(skip = defaults().listen_backlog))]
    pub listen_backlog: i32,

    /// Time allowed to receive a whole request head once it has started
    /// (slowloris defence). Expiry answers 408 and closes. Over TLS the
    /// handshake starts it too, so handshake and first head share it (an
    /// unfinished handshake is closed without a word).
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_HEAD_TIMEOUT", value_name = "SECS",
        value_parser = seconds, default_value = seconds_text(defaults().head_timeout),
        help = "Seconds allowed to receive a request head (then 408)"))]
    pub head_timeout: Duration,
    /// Time a connection may sit between requests (keep-alive), or before its
    /// first byte. Expiry closes quietly, as browsers expect.
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_IDLE_TIMEOUT", value_name = "SECS",
        value_parser = seconds, default_value = seconds_text(defaults().idle_timeout),
        help = "Seconds an idle keep-alive connection is kept"))]
    pub idle_timeout: Duration,
    /// Time a response may make no progress because the client does not read.
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_SEND_TIMEOUT", value_name = "SECS",
        value_parser = seconds, default_value = seconds_text(defaults().send_timeout),
        help = "Seconds a response may make no progress before the client is dropped"))]
    pub send_timeout: Duration,
    /// How long in-flight responses may keep running after a shutdown signal.
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_SHUTDOWN_GRACE", value_name = "SECS",
        value_parser = seconds, default_value = seconds_text(defaults().shutdown_grace),
        help = "Seconds in-flight responses may take to finish after SIGINT/SIGTERM"))]
    pub shutdown_grace: Duration,
    /// After answering with "close" while the client may still be sending,
    /// how long to read and discard its data so the answer is not lost to a
    /// TCP reset (the "lingering close" of nginx and Apache).
    #[cfg_attr(feature = "cli", arg(skip = defaults().linger_timeout))]
    pub linger_timeout: Duration,

    /// Serve HTTPS with this certificate instead of plain HTTP (plain HTTP
    /// requests to the port are redirected to `https://`). `None`: plain.
    #[cfg_attr(feature = "cli", arg(skip))]
    pub tls: Option<Tls>,
    /// Where the access log goes: standard output by default, so
    /// diagnostics (standard error) and access lines never mix.
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_ACCESS_LOG", value_name = "PATH|-|off",
        value_hint = clap::ValueHint::FilePath, default_value_t = defaults().access_log.clone(),
        help = "Access log destination: a file (appended to; SIGHUP reopens it), - for standard output, or off"))]
    pub access_log: LogDestination,
    /// How access lines are written; `combined` is what log tools
    /// (goaccess, AWStats) and nginx/Apache default to.
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_LOG_FORMAT", value_name = "FORMAT", value_enum,
        default_value_t = defaults().log_format, help = "Access log format"))]
    pub log_format: LogFormat,
    /// Peers whose `Forwarded` / `X-Forwarded-For` headers name the client
    /// for the access log. Empty: such headers are ignored, since anyone
    /// can send them.
    #[cfg_attr(
        feature = "cli",
        arg(
            long = "trusted-proxy",
            env = "RAWSERVE_TRUSTED_PROXY",
            value_name = "CIDR",
            value_delimiter = ',',
            help = "A proxy (address or CIDR block) whose Forwarded / X-Forwarded-For names the client in the log; \
                repeatable"
        )
    )]
    pub trusted_proxies: Vec<Cidr>,
    /// Every connection starts with a PROXY protocol header (v1 or v2) from
    /// a load balancer; one without it is closed. Off: such a header is a
    /// malformed request (400).
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_PROXY_PROTOCOL", value_parser = boolish(),
        help = "Require a PROXY protocol (v1 or v2) header on every connection, as sent by haproxy's send-proxy"))]
    pub proxy_protocol: bool,
    /// Speak HTTP/1.1 only: no HTTP/2, neither chosen by ALPN over TLS nor
    /// with prior knowledge on a plain port (a client's preface is then a
    /// malformed request). Off: HTTP/2 is served as `http2` describes.
    #[cfg_attr(feature = "cli", arg(long = "http1-only", env = "RAWSERVE_HTTP1_ONLY", value_parser = boolish(),
        help = "Serve HTTP/1.1 only: no HTTP/2 (neither by TLS ALPN nor with prior knowledge)"))]
    pub http1_only: bool,
    /// A path answered `200 ok` (`503` once shutting down) before routing,
    /// without touching the file system, and not logged: for load
    /// balancers' health checks.
    #[cfg_attr(feature = "cli", arg(long = "health", env = "RAWSERVE_HEALTH", value_name = "PATH",
        value_parser = health_path,
        help = "Answer this path with 200 ok (503 once shutting down), before routing and unlogged"))]
    pub health_path: Option<String>,
    /// A path answered with Prometheus metrics (the text format) before
    /// routing, unlogged and uncounted, like `health_path`; `None` (the
    /// default) also spares the workers their counting. Only clients on
    /// loopback may read it (see `metrics_public`), since request counts,
    /// limits hit and cache sizes tell an attacker how the server is doing.
    #[cfg_attr(feature = "cli", arg(long = "metrics", env = "RAWSERVE_METRICS", value_name = "PATH",
        value_parser = metrics_path,
        help = "Answer this path with Prometheus metrics, before routing and unlogged; loopback clients only \
                unless --metrics-public"))]
    pub metrics_path: Option<String>,
    /// Anyone who can reach the server may read `metrics_path`, not only
    /// clients on loopback (a Prometheus on another machine, behind a
    /// firewall that keeps everyone else out).
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_METRICS_PUBLIC", value_parser = boolish(),
        help = "Let any client read --metrics, not only loopback ones"))]
    pub metrics_public: bool,

    /// Accounts (`USER:SECRET`, the secret a password or an argon2 or
    /// bcrypt hash: [`Account`]). With any, every request but the health
    /// path needs one's credentials (HTTP Basic), unless `public_read`
    /// lets anonymous users read. Empty: no accounts, anyone may read.
    /// Prefer hashes (`rawserve --hash-password`): a password given here
    /// is visible to other users of the machine in the process's arguments
    /// (`RAWSERVE_AUTH` is not).
    #[cfg_attr(
        feature = "cli",
        arg(
            long,
            env = "RAWSERVE_AUTH",
            value_name = "USER:SECRET",
            hide_env_values = true,
            help = "An account: USER:PASSWORD, or USER:HASH (argon2id from --hash-password, or bcrypt); repeatable. \
                Every request then needs one (HTTP Basic), but the --health path"
        )
    )]
    pub auth: Vec<Account>,
    /// With `auth`: anonymous users may read (`GET`, `HEAD`, `OPTIONS`,
    /// `PROPFIND`); any other method still needs an account.
    #[cfg_attr(feature = "cli", arg(long, env = "RAWSERVE_PUBLIC_READ", value_parser = boolish(),
        help = "With --auth: anyone may read; writing (uploads, deletes) still needs an account"))]
    pub public_read: bool,
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
            http1_only: false,
            health_path: None,
            metrics_path: None,
            metrics_public: false,
            auth: Vec::new(),
            public_read: false,
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
