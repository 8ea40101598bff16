//! The `rawserve` command: parse the command line, start the server, stop
//! it on SIGINT/SIGTERM, and turn start-up failures into one line and exit
//! code 1.
//!
//! The server is built through the library's public API (a `Router` with
//! `/hello` and a `StaticFiles` fallback), exactly as an embedder would.
//! Start-up lines (the URLs) go straight to standard error, never through
//! `log`, so `RUST_LOG` cannot hide them; `startup` finds the root, the
//! addresses and the hints.

mod startup;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use rawserve::config::Cors;
use rawserve::{
    Cidr, Config, FileOptions, LogDestination, LogFormat, Request, Response, Router, Server, StaticFiles, Tls,
};

/// A small, fast, correct HTTP/1.1 static file server.
///
/// Serves ROOT (and a hello-world page at /hello, unless ROOT has a `hello`
/// of its own) until SIGINT or SIGTERM; the access log goes to standard
/// output, diagnostics to standard error (RUST_LOG=warn quiets them; the
/// start-up lines with the URLs are always printed). SIGHUP reopens the
/// access log file. Every option can also be set by an environment variable,
/// RAWSERVE_ and its name in capitals (RAWSERVE_PORT=9000).
#[derive(Parser, Debug)]
#[command(version, about, after_help = EXAMPLES)]
struct Args {
    /// Folder to serve, or a single file [default: ./public if it exists, else .]
    #[arg(env = "RAWSERVE_ROOT")]
    root: Option<PathBuf>,
    /// Port to listen on (0 picks a free one)
    #[arg(short, long, env = "RAWSERVE_PORT", default_value_t = 8080)]
    port: u16,
    /// Address or host name to listen on; repeat for more (-b 127.0.0.1 -b ::1).
    /// 0.0.0.0 or :: listens on every interface and prints each address
    #[arg(short, long, env = "RAWSERVE_BIND", value_name = "HOST", default_value = "127.0.0.1", value_delimiter = ',')]
    bind: Vec<String>,
    /// Worker threads [default: number of cores]
    #[arg(env = "RAWSERVE_THREADS", short, long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: Option<u16>,
    /// Serve files whose symlinks lead outside ROOT
    #[arg(env = "RAWSERVE_FOLLOW_SYMLINKS", long, value_parser = boolish())]
    follow_symlinks: bool,
    /// Serve files and folders whose names start with a dot
    #[arg(env = "RAWSERVE_DOTFILES", long, value_parser = boolish())]
    dotfiles: bool,
    /// Answer folders without index.html with 404 instead of a listing
    #[arg(env = "RAWSERVE_NO_LISTING", long, value_parser = boolish())]
    no_listing: bool,
    /// Cache-Control value for files
    #[arg(env = "RAWSERVE_CACHE_CONTROL", long, value_name = "VALUE", default_value = "no-cache")]
    cache_control: String,
    /// Seconds in-flight responses may take to finish after SIGINT/SIGTERM
    #[arg(env = "RAWSERVE_SHUTDOWN_GRACE", long, value_name = "SECS", default_value_t = 10.0, value_parser = seconds)]
    shutdown_grace: f64,
    /// Seconds allowed to receive a request head (then 408)
    #[arg(env = "RAWSERVE_HEAD_TIMEOUT", long, value_name = "SECS", default_value_t = 10.0, value_parser = seconds)]
    head_timeout: f64,
    /// Seconds an idle keep-alive connection is kept
    #[arg(env = "RAWSERVE_IDLE_TIMEOUT", long, value_name = "SECS", default_value_t = 5.0, value_parser = seconds)]
    idle_timeout: f64,
    /// Seconds a response may make no progress before the client is dropped
    #[arg(env = "RAWSERVE_SEND_TIMEOUT", long, value_name = "SECS", default_value_t = 30.0, value_parser = seconds)]
    send_timeout: f64,
    /// Largest request head in bytes (past it: 431, or 414 for the request line)
    #[arg(env = "RAWSERVE_MAX_HEAD_BYTES", long, value_name = "BYTES", default_value_t = 16 * 1024)]
    max_head_bytes: usize,
    /// Most header fields in one request (at most 100)
    #[arg(env = "RAWSERVE_MAX_HEADERS", long, value_name = "N", default_value_t = rawserve::config::MAX_HEADERS as u64,
          value_parser = clap::value_parser!(u64).range(1..=rawserve::config::MAX_HEADERS as u64))]
    max_headers: u64,
    /// Largest request body read or skipped to keep the connection (past it: 413)
    #[arg(env = "RAWSERVE_MAX_BODY_BYTES", long, value_name = "BYTES", default_value_t = 64 * 1024)]
    max_body_bytes: u64,
    /// Memory connections may hold before they are answered or while they stall: unfinished
    /// heads, TLS records in progress, compression state (past it: 503 and close, or uncompressed)
    #[arg(env = "RAWSERVE_MAX_PENDING_HEAD_BYTES", long, value_name = "BYTES", default_value_t = 64 << 20)]
    max_pending_head_bytes: usize,
    /// Most entries shown in a directory listing (past it: a note in the page)
    #[arg(env = "RAWSERVE_MAX_LISTING_ENTRIES", long, value_name = "N", default_value_t = 10_000)]
    max_listing_entries: usize,
    /// Most connections open at once (past it: 503 and close)
    /// [default: 20000, or less when the open-file limit is lower]
    #[arg(env = "RAWSERVE_MAX_CONNECTIONS", long, value_name = "N")]
    max_connections: Option<usize>,
    /// Most ranges honoured in one Range header (past it: the whole file)
    #[arg(env = "RAWSERVE_MAX_RANGES", long, value_name = "N", default_value_t = 16)]
    max_ranges: usize,

    // HTTPS (rustls). Plain HTTP sent to the port is redirected to https://.
    /// Serve HTTPS with this certificate chain (PEM, leaf first; needs --tls-key)
    #[arg(
        long,
        env = "RAWSERVE_TLS_CERT",
        value_name = "PEM",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, RSA or EC)
    #[arg(long, env = "RAWSERVE_TLS_KEY", value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve HTTPS with a certificate made at start for localhost, 127.0.0.1, ::1 and this machine's addresses
    #[arg(long, env = "RAWSERVE_TLS_SELF_SIGNED", value_parser = boolish())]
    tls_self_signed: bool,
    /// Write the generated certificate (PEM) to PATH, e.g. for curl --cacert PATH
    #[arg(long, env = "RAWSERVE_TLS_WRITE_CERT", value_name = "PATH", requires = "tls_self_signed")]
    tls_write_cert: Option<PathBuf>,

    // Operations: access log, proxies, health (issue 11).
    /// Access log destination: a file (appended to; SIGHUP reopens it), - for standard output, or off
    #[arg(long, env = "RAWSERVE_ACCESS_LOG", value_name = "PATH|-|off", default_value = "-")]
    access_log: LogDestination,
    /// Access log format: common, combined or json
    #[arg(long, env = "RAWSERVE_LOG_FORMAT", value_name = "FORMAT", default_value = "combined")]
    log_format: LogFormat,
    /// No access log (same as --access-log off); the start-up line stays
    #[arg(short, long, env = "RAWSERVE_QUIET", value_parser = boolish())]
    quiet: bool,
    /// A proxy (address or CIDR block) whose Forwarded / X-Forwarded-For names the client in the log; repeatable
    #[arg(long, env = "RAWSERVE_TRUSTED_PROXY", value_name = "CIDR", value_delimiter = ',')]
    trusted_proxy: Vec<Cidr>,
    /// Require a PROXY protocol (v1 or v2) header on every connection, as sent by haproxy's send-proxy
    #[arg(long, env = "RAWSERVE_PROXY_PROTOCOL", value_parser = boolish())]
    proxy_protocol: bool,
    /// Answer this path with 200 ok (503 once shutting down), before routing and unlogged
    #[arg(long, env = "RAWSERVE_HEALTH", value_name = "PATH", value_parser = health_path)]
    health: Option<String>,

    // Compression (issue 12).
    /// On-the-fly compression of text-like files: a level from 1 (fastest)
    /// to 9 (smallest), or off (precompressed .br/.zst/.gz siblings are still sent)
    #[arg(long, env = "RAWSERVE_COMPRESS", value_name = "LEVEL|off", default_value = "6", value_parser = compress_level)]
    compress: Compress,
    /// Compressed bytes each worker keeps, so a file is compressed once per version
    #[arg(long, env = "RAWSERVE_COMPRESS_CACHE_BYTES", value_name = "BYTES", default_value_t = 8 << 20)]
    compress_cache_bytes: usize,
    /// Largest file compressed whole and kept; larger ones are compressed while sent
    #[arg(long, env = "RAWSERVE_COMPRESS_MAX_FILE", value_name = "BYTES", default_value_t = 256 << 10)]
    compress_max_file: u64,
    /// Level (1-9) of files compressed while sent, anew per request: those over --compress-max-file
    #[arg(long, env = "RAWSERVE_COMPRESS_STREAM_LEVEL", value_name = "LEVEL", default_value_t = 1,
          value_parser = clap::value_parser!(u8).range(1..=9))]
    compress_stream_level: u8,

    // Cache freshness (issue 14).
    /// inotify watches each worker places so cache hits need no stat; past them, or with 0
    /// (for network file systems, whose remote changes inotify misses), each hit stats its file
    #[arg(long, env = "RAWSERVE_CACHE_WATCHES", value_name = "N", default_value_t = 4096)]
    cache_watches: usize,

    // Everyday use (issue 9): browser, CORS, headers, apps, types, packaging.
    /// Open the first URL in the default browser ($BROWSER, else xdg-open)
    #[arg(long, env = "RAWSERVE_OPEN", value_parser = boolish())]
    open: bool,
    /// Print a QR code of the first LAN URL (or the first URL) for phones
    #[arg(long, env = "RAWSERVE_QR", value_parser = boolish())]
    qr: bool,
    /// Let scripts on other origins read responses: `--cors` for any origin,
    /// `--cors=https://a.example,https://b.example` for those only
    #[arg(long, env = "RAWSERVE_CORS", value_name = "ORIGIN", num_args = 0..=1, require_equals = true,
          default_missing_value = "*", value_delimiter = ',')]
    cors: Option<Vec<String>>,
    /// Add a header field to every response of the folder; repeatable
    /// (--header 'X-Frame-Options: DENY')
    #[arg(long = "header", short = 'H', env = "RAWSERVE_HEADER", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// Cache-Control for files whose path matches GLOB, first match wins;
    /// repeatable (--cache-control-for 'assets/**=max-age=31536000, immutable')
    #[arg(long, env = "RAWSERVE_CACHE_CONTROL_FOR", value_name = "GLOB=VALUE")]
    cache_control_for: Vec<String>,
    /// Single-page app: a page request for a missing path without an
    /// extension gets ROOT's index.html with status 200
    #[arg(long, env = "RAWSERVE_SPA", value_parser = boolish())]
    spa: bool,
    /// Serve about.html for /about when /about does not exist
    #[arg(long, env = "RAWSERVE_CLEAN_URLS", value_parser = boolish())]
    clean_urls: bool,
    /// File a folder is answered with, first found wins; repeatable
    /// [default: index.html, then index.htm]
    #[arg(long, env = "RAWSERVE_INDEX", value_name = "NAME", value_delimiter = ',')]
    index: Vec<String>,
    /// Content-Type for an extension, over the built-in table; repeatable
    /// (--mime md=text/markdown)
    #[arg(long, env = "RAWSERVE_MIME", value_name = "EXT=TYPE", value_delimiter = ',')]
    mime: Vec<String>,
    /// Print a completion script for SHELL (bash, zsh, fish, elvish, powershell) and exit
    #[arg(long, value_name = "SHELL")]
    print_completions: Option<clap_complete::Shell>,
    /// Print the manual page (roff) and exit
    #[arg(long)]
    print_manpage: bool,
}

/// A health path: absolute, as requests name it.
fn health_path(text: &str) -> Result<String, String> {
    match text.starts_with('/') && !text.contains('?') {
        true => Ok(text.to_string()),
        false => Err(format!("`{text}` is not an absolute path like /healthz")),
    }
}

/// `--compress`: a level, or off.
#[derive(Debug, Clone, Copy)]
struct Compress(Option<u8>);

fn compress_level(text: &str) -> Result<Compress, String> {
    match text {
        "off" | "no" | "0" => Ok(Compress(None)),
        _ => match text.parse::<u8>() {
            Ok(level @ 1..=9) => Ok(Compress(Some(level))),
            _ => Err(format!("`{text}` is not a level from 1 to 9, or off")),
        },
    }
}

/// Shown at the end of `--help`.
const EXAMPLES: &str = "\
Examples:
  rawserve                          serve ./public (or . when there is none) on 127.0.0.1:8080
  rawserve ~/site -p 9000 --open    serve ~/site on port 9000 and open the browser
  rawserve notes.pdf                serve one file
  rawserve -b 0.0.0.0 --qr          serve the LAN; print every address and a QR code
  rawserve dist --spa --cors        a single-page app whose files other origins may fetch
  rawserve -H 'X-Frame-Options: DENY' --cache-control-for 'assets/**=max-age=31536000, immutable'
  rawserve --print-completions bash > /etc/bash_completion.d/rawserve";

/// On/off flags also take `1`/`0`, `yes`/`no`, `on`/`off` from their
/// environment variable (`RAWSERVE_SPA=1`).
fn boolish() -> clap::builder::BoolishValueParser {
    clap::builder::BoolishValueParser::new()
}

/// A non-negative, finite number of seconds.
fn seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => Ok(secs),
        _ => Err(format!("`{text}` is not a number of seconds")),
    }
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).format_target(true).init();
    let args = Args::parse();
    if let Some(shell) = args.print_completions {
        clap_complete::generate(shell, &mut Args::command(), "rawserve", &mut std::io::stdout());
        return ExitCode::SUCCESS;
    }
    if args.print_manpage {
        return match clap_mangen::Man::new(Args::command()).render(&mut std::io::stdout()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&format!("cannot write the manual page: {e}")),
        };
    }

    let (root, why) = match &args.root {
        Some(root) => (root.clone(), None),
        None => {
            let (root, why) = startup::default_root();
            (root, Some(why))
        }
    };
    // `rawserve FILE`: the file's folder, answering only for that file.
    let single = if root.is_file() { root.file_name().map(|name| name.to_os_string()) } else { None };
    let folder = match &single {
        Some(_) => root.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf(),
        None => root.clone(),
    };

    let mut config = Config::new();
    let mut files = FileOptions::new(&folder);
    let addrs = match startup::resolve_binds(&args.bind, args.port) {
        Ok(addrs) => addrs,
        Err(e) => return fail(&e),
    };
    config.addr = addrs[0];
    config.also_listen = addrs[1..].to_vec();
    if let Some(threads) = args.threads {
        config.threads = threads.into();
    }
    files.follow_symlinks = args.follow_symlinks;
    files.dotfiles = args.dotfiles;
    files.listing = !args.no_listing;
    files.cache_control = args.cache_control.clone();
    config.shutdown_grace = Duration::from_secs_f64(args.shutdown_grace);
    config.head_timeout = Duration::from_secs_f64(args.head_timeout);
    config.idle_timeout = Duration::from_secs_f64(args.idle_timeout);
    config.send_timeout = Duration::from_secs_f64(args.send_timeout);
    config.max_head_bytes = args.max_head_bytes;
    config.max_headers = args.max_headers as usize;
    config.max_body_bytes = args.max_body_bytes;
    config.max_pending_head_bytes = args.max_pending_head_bytes;
    files.max_listing_entries = args.max_listing_entries;
    files.max_ranges = args.max_ranges;
    files.compress = args.compress.0;
    files.compress_cache_bytes = args.compress_cache_bytes;
    files.compress_max_file = args.compress_max_file;
    files.compress_stream_level = args.compress_stream_level;
    files.cache_watches = args.cache_watches;
    match rawserve::raise_fd_limit() {
        // Leave room for files being sent and the server's own descriptors.
        Ok(limit) => config.max_connections = config.max_connections.min((limit / 2).max(16) as usize),
        Err(e) => log::warn!("cannot raise the open-file limit: {e}"),
    }
    if let Some(max) = args.max_connections {
        config.max_connections = max;
    }
    config.access_log = if args.quiet { LogDestination::Off } else { args.access_log.clone() };
    config.log_format = args.log_format;
    config.trusted_proxies = args.trusted_proxy.clone();
    config.proxy_protocol = args.proxy_protocol;
    config.health_path = args.health.clone();
    match tls_settings(&args) {
        Ok(tls) => config.tls = tls,
        Err(message) => return fail(&message),
    }
    // Before any thread starts: this reads and clears LISTEN_FDS/LISTEN_PID.
    let inherited = match rawserve::inherited_listeners() {
        Ok(listeners) => listeners,
        Err(e) => return fail(&format!("cannot use the sockets passed by the service manager: {e}")),
    };
    if let Err(e) = everyday_options(&args, &mut files) {
        return fail(&e);
    }
    if let Some(name) = &single {
        files.index = vec![name.to_string_lossy().into_owned()];
        files.listing = false;
        files.spa = false;
    }

    let signals = match Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        Ok(signals) => signals,
        Err(e) => return fail(&format!("cannot install signal handlers: {e}")),
    };
    // A `hello` of the site's own wins over the built-in page; decided
    // here, so that `/hello` itself never costs a lookup.
    let own_hello = std::fs::symlink_metadata(folder.join("hello")).is_ok();
    let cors = files.cors.clone();
    let static_files = match StaticFiles::with_options(files.clone()) {
        Ok(files) => files,
        Err(e) => return fail(&startup::explain(&e)),
    };
    let mut router = Router::new();
    if !own_hello && single.is_none() {
        if let Some(cors) = cors.clone() {
            router = router.route("OPTIONS", "/hello", move |request: &Request| cors.options(request));
        }
        router = router.get("/hello", hello_page(cors, &files.headers));
    }
    router = match &single {
        // Only `/` and `/NAME` answer; everything else is a 404.
        Some(name) => {
            let encoded = percent_encoding::utf8_percent_encode(&name.to_string_lossy(), PATH_SEGMENT).to_string();
            router.get("/", static_files.clone()).get(&format!("/{encoded}"), static_files)
        }
        None => router.fallback(static_files),
    };
    let threads = config.threads;
    let tls = config.tls.clone();
    let started = match inherited.is_empty() {
        true => Server::bind(config, router),
        false => Server::with_listeners(config, router, inherited),
    };
    let server = match started {
        Ok(server) => server,
        Err(e) => return fail(&startup::explain(&e)),
    };
    let handle = server.shutdown_handle();
    std::thread::spawn(move || {
        let mut signals = signals;
        let mut received = 0;
        for signal in signals.forever() {
            if signal == SIGHUP {
                if let Err(e) = handle.reopen_access_log() {
                    log::warn!("SIGHUP: cannot reopen the access log ({e}); writing to the old file");
                }
                continue;
            }
            received += 1;
            if received == 1 {
                // Draining first (health answers 503 from here on), then say so.
                handle.shutdown();
                notify("STOPPING=1");
                log::info!("signal {signal}: finishing in-flight responses (again to stop at once)");
            } else {
                log::warn!("second signal: stopping now");
                std::process::exit(1);
            }
        }
    });
    // Printed last, so that a process that has printed its URL is fully up.
    let scheme = if tls.is_some() { "https" } else { "http" };
    let urls = startup::urls(server.local_addrs(), scheme);
    announce(&root, why, single.is_some(), &urls, threads);
    if let Some(tls) = &tls {
        describe_tls(tls, args.tls_write_cert.as_deref());
    }
    let lan = urls.iter().find(|u| !u.contains("://127.") && !u.contains("://[::1]"));
    if args.qr {
        if let Some(code) = lan.or(urls.first()).and_then(|url| startup::qr_code(url)) {
            eprint!("{code}");
        }
    }
    if args.open {
        if let Some(url) = urls.first() {
            if let Err(e) = startup::open_browser(url) {
                eprintln!("rawserve: cannot open a browser: {e}");
            }
        }
    }
    notify("READY=1");
    server.wait();
    log::info!("stopped");
    ExitCode::SUCCESS
}

/// The HTTPS settings the flags ask for: `None` for plain HTTP, or a
/// one-sentence reason they cannot be had.
fn tls_settings(args: &Args) -> Result<Option<Tls>, String> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Tls::from_pem_files(cert, key).map_err(|e| e.to_string())?,
        _ if args.tls_self_signed => Tls::self_signed(&rawserve::lan_addresses()).map_err(|e| e.to_string())?,
        _ => return Ok(None),
    };
    if let (Some(path), Some(pem)) = (&args.tls_write_cert, tls.self_signed_pem()) {
        std::fs::write(path, pem).map_err(|e| format!("cannot write the certificate to {}: {e}", path.display()))?;
    }
    Ok(Some(tls))
}

/// The start-up lines about the certificate, straight to standard error
/// (not the log, which RUST_LOG may silence).
fn describe_tls(tls: &Tls, written_to: Option<&std::path::Path>) {
    eprintln!("rawserve: TLS certificate SHA-256 fingerprint {}", tls.fingerprint());
    if tls.self_signed_pem().is_some() {
        eprintln!(
            "rawserve: the certificate is self-signed for {} (browsers warn until you trust it)",
            tls.names().join(", ")
        );
    }
    if let Some(path) = written_to {
        eprintln!("rawserve: certificate written to {} (e.g. curl --cacert {0})", path.display());
    }
}

/// Characters escaped in a file name used as a URL path segment.
const PATH_SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::CONTROLS.add(b' ').add(b'"').add(b'#').add(b'%').add(b'/').add(b'<').add(b'>').add(b'?');

/// The start-up lines, straight to stderr: what is served, why that
/// folder, and every URL it can be reached at.
fn announce(root: &Path, why: Option<&str>, single: bool, urls: &[String], threads: usize) {
    let what = if single { "the file " } else { "" };
    let why = why.map(|why| format!(" ({why})")).unwrap_or_default();
    let threads = format!("{threads} worker thread{}", if threads == 1 { "" } else { "s" });
    let text = match urls {
        [url] => format!("rawserve: serving {what}{}{why} on {url} with {threads} (Ctrl-C to stop)\n", root.display()),
        _ => {
            let list: String = urls.iter().map(|url| format!("  {url}\n")).collect();
            format!("rawserve: serving {what}{}{why} with {threads} (Ctrl-C to stop) on:\n{list}", root.display())
        }
    };
    // One write, so the lines arrive together.
    eprint!("{text}");
}

/// `--cors`, `--header`, `--cache-control-for`, `--spa`, `--clean-urls`,
/// `--index` and `--mime` into `files`; a malformed pair is an error
/// sentence (the values themselves are checked by `StaticFiles`).
fn everyday_options(args: &Args, files: &mut FileOptions) -> Result<(), String> {
    if let Some(origins) = &args.cors {
        // An origin has no path, so `https://a.example/` means `https://a.example`.
        let origins: Vec<String> =
            origins.iter().map(|o| o.trim().trim_end_matches('/').to_string()).filter(|o| !o.is_empty()).collect();
        files.cors = Some(if origins.iter().any(|o| o == "*") {
            Cors::AnyOrigin
        } else if origins.is_empty() {
            return Err("--cors= needs an origin such as `https://app.example` (or `--cors` alone for any)".into());
        } else {
            Cors::Origins(origins)
        });
    }
    for header in &args.headers {
        let (name, value) =
            header.split_once(':').ok_or_else(|| format!("--header `{header}` is not `Name: value`"))?;
        files.headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    for rule in &args.cache_control_for {
        let (glob, value) =
            rule.split_once('=').ok_or_else(|| format!("--cache-control-for `{rule}` is not `GLOB=VALUE`"))?;
        files.cache_control_for.push((glob.to_string(), value.trim().to_string()));
    }
    for rule in &args.mime {
        let (ext, mime) = rule.split_once('=').ok_or_else(|| format!("--mime `{rule}` is not `EXT=TYPE`"))?;
        files.mime.push((ext.trim().to_string(), mime.trim().to_string()));
    }
    files.spa = args.spa;
    files.clean_urls = args.clean_urls;
    if !args.index.is_empty() {
        files.index = args.index.clone();
    }
    Ok(())
}

/// The tutorial's "a browser talks to a socket" page, with the folder's
/// CORS and `--header` fields so that the whole site answers alike.
fn hello_page(cors: Option<Cors>, headers: &[(String, String)]) -> impl Fn(&Request) -> Response + Send + Sync {
    let headers = headers.to_vec();
    move |request: &Request| {
        let mut response = Response::text("Hello, world!");
        if cors.is_none() && headers.is_empty() {
            return response;
        }
        for (name, value) in &headers {
            // Checked at start by `StaticFiles::with_options`.
            response = response.with_header(name, value).unwrap_or_else(|_| Response::status(500));
        }
        let origin = match &cors {
            Some(Cors::AnyOrigin) => Some("*"),
            Some(Cors::Origins(list)) => {
                request.header("origin").filter(|o| list.iter().any(|allowed| allowed.eq_ignore_ascii_case(o)))
            }
            None => None,
        };
        if let Some(origin) = origin {
            response =
                response.with_header("Access-Control-Allow-Origin", origin).unwrap_or_else(|_| Response::status(500));
        }
        if matches!(cors, Some(Cors::Origins(_))) {
            response = response.with_header("Vary", "Origin").unwrap_or_else(|_| Response::status(500));
        }
        response
    }
}

/// Tells systemd (when it started us with `NOTIFY_SOCKET`) how we are.
fn notify(state: &str) {
    if let Err(e) = rawserve::notify_service_manager(state) {
        log::warn!("cannot notify the service manager ({state}): {e}");
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("rawserve: error: {message}");
    ExitCode::FAILURE
}
