//! The `rawserve` command: parse the command line, start the server, stop
//! it on SIGINT/SIGTERM, and turn start-up failures into one line and exit
//! code 1.
//!
//! The server is built through the library's public API (a `Router` with
//! `/hello` and a `StaticFiles` fallback), exactly as an embedder would.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use rawserve::{
    Cidr, Config, FileOptions, LogDestination, LogFormat, Request, Response, Router, Server, StaticFiles, Tls,
};

/// A small, fast, correct HTTP/1.1 static file server.
///
/// Serves ROOT (and a hello-world page at /hello) until SIGINT or SIGTERM;
/// the access log goes to standard output, diagnostics to standard error
/// (RUST_LOG=warn quiets them). SIGHUP reopens the access log file.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Directory to serve
    #[arg(default_value = "public")]
    root: PathBuf,
    /// Port to listen on (0 picks a free one)
    #[arg(short, long, default_value_t = 8080)]
    port: u16,
    /// Address to listen on, IPv4 or IPv6 (0.0.0.0 or :: for all interfaces)
    #[arg(short, long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Worker threads [default: number of cores]
    #[arg(short, long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: Option<u16>,
    /// Serve files whose symlinks lead outside ROOT
    #[arg(long)]
    follow_symlinks: bool,
    /// Serve files and folders whose names start with a dot
    #[arg(long)]
    dotfiles: bool,
    /// Answer folders without index.html with 404 instead of a listing
    #[arg(long)]
    no_listing: bool,
    /// Cache-Control value for files
    #[arg(long, value_name = "VALUE", default_value = "no-cache")]
    cache_control: String,
    /// Seconds in-flight responses may take to finish after SIGINT/SIGTERM
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = seconds)]
    shutdown_grace: f64,
    /// Seconds allowed to receive a request head (then 408)
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = seconds)]
    head_timeout: f64,
    /// Seconds an idle keep-alive connection is kept
    #[arg(long, value_name = "SECS", default_value_t = 5.0, value_parser = seconds)]
    idle_timeout: f64,
    /// Seconds a response may make no progress before the client is dropped
    #[arg(long, value_name = "SECS", default_value_t = 30.0, value_parser = seconds)]
    send_timeout: f64,
    /// Largest request head in bytes (past it: 431, or 414 for the request line)
    #[arg(long, value_name = "BYTES", default_value_t = 16 * 1024)]
    max_head_bytes: usize,
    /// Most header fields in one request (at most 100)
    #[arg(long, value_name = "N", default_value_t = rawserve::config::MAX_HEADERS as u64,
          value_parser = clap::value_parser!(u64).range(1..=rawserve::config::MAX_HEADERS as u64))]
    max_headers: u64,
    /// Largest request body read or skipped to keep the connection (past it: 413)
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024)]
    max_body_bytes: u64,
    /// Memory all unfinished request heads may hold together (past it: 503 and close)
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    max_pending_head_bytes: usize,
    /// Most entries shown in a directory listing (past it: a note in the page)
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    max_listing_entries: usize,
    /// Most connections open at once (past it: 503 and close)
    /// [default: 20000, or less when the open-file limit is lower]
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// Most ranges honoured in one Range header (past it: the whole file)
    #[arg(long, value_name = "N", default_value_t = 16)]
    max_ranges: usize,

    // HTTPS (rustls). Plain HTTP sent to the port is redirected to https://.
    /// Serve HTTPS with this certificate chain (PEM, leaf first; needs --tls-key)
    #[arg(long, value_name = "PEM", requires = "tls_key", conflicts_with = "tls_self_signed")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, RSA or EC)
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve HTTPS with a certificate made at start for localhost, 127.0.0.1, ::1 and this machine's addresses
    #[arg(long)]
    tls_self_signed: bool,
    /// Write the generated certificate (PEM) to PATH, e.g. for curl --cacert PATH
    #[arg(long, value_name = "PATH", requires = "tls_self_signed")]
    tls_write_cert: Option<PathBuf>,
    // Operations: access log, proxies, health (issue 11).
    /// Access log destination: a file (appended to; SIGHUP reopens it), - for standard output, or off
    #[arg(long, value_name = "PATH|-|off", default_value = "-")]
    access_log: LogDestination,
    /// Access log format: common, combined or json
    #[arg(long, value_name = "FORMAT", default_value = "combined")]
    log_format: LogFormat,
    /// No access log (same as --access-log off); the start-up line stays
    #[arg(short, long)]
    quiet: bool,
    /// A proxy (address or CIDR block) whose Forwarded / X-Forwarded-For names the client in the log; repeatable
    #[arg(long, value_name = "CIDR")]
    trusted_proxy: Vec<Cidr>,
    /// Require a PROXY protocol (v1 or v2) header on every connection, as sent by haproxy's send-proxy
    #[arg(long)]
    proxy_protocol: bool,
    /// Answer this path with 200 ok (503 once shutting down), before routing and unlogged
    #[arg(long, value_name = "PATH", value_parser = health_path)]
    health: Option<String>,

    // Compression (issue 12).
    /// On-the-fly compression of text-like files: a level from 1 (fastest)
    /// to 9 (smallest), or off (precompressed .br/.zst/.gz siblings are still sent)
    #[arg(long, value_name = "LEVEL|off", default_value = "6", value_parser = compress_level)]
    compress: Compress,
    /// Compressed bytes each worker keeps, so a file is compressed once per version
    #[arg(long, value_name = "BYTES", default_value_t = 8 << 20)]
    compress_cache_bytes: usize,
    /// Largest file compressed whole and kept; larger ones are compressed while sent
    #[arg(long, value_name = "BYTES", default_value_t = 256 << 10)]
    compress_max_file: u64,
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

    let mut config = Config::new();
    let mut files = FileOptions::new(&args.root);
    config.addr = SocketAddr::new(args.bind, args.port);
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
    match rawserve::raise_fd_limit() {
        // Leave room for files being sent and the server's own descriptors.
        Ok(limit) => config.max_connections = config.max_connections.min((limit / 2).max(16) as usize),
        Err(e) => log::warn!("cannot raise the open-file limit: {e}"),
    }
    if let Some(max) = args.max_connections {
        config.max_connections = max;
    }
    match tls_settings(&args) {
        Ok(tls) => config.tls = tls,
        Err(message) => return fail(&message),
    }
    config.access_log = if args.quiet { LogDestination::Off } else { args.access_log };
    config.log_format = args.log_format;
    config.trusted_proxies = args.trusted_proxy;
    config.proxy_protocol = args.proxy_protocol;
    config.health_path = args.health;
    // Before any thread starts: this reads and clears LISTEN_FDS/LISTEN_PID.
    let inherited = match rawserve::inherited_listeners() {
        Ok(listeners) => listeners,
        Err(e) => return fail(&format!("cannot use the sockets passed by the service manager: {e}")),
    };

    let signals = match Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        Ok(signals) => signals,
        Err(e) => return fail(&format!("cannot install signal handlers: {e}")),
    };
    let files = match StaticFiles::with_options(files.clone()) {
        Ok(files) => files,
        Err(e) => return fail(&e.to_string()),
    };
    let router = Router::new().get("/hello", hello).fallback(files);
    let threads = config.threads;
    let tls = config.tls.clone();
    let mut inherited = inherited.into_iter();
    let started = match inherited.next() {
        Some(listener) => {
            if inherited.len() > 0 {
                log::warn!("serving the first of {} inherited sockets only", inherited.len() + 1);
            }
            Server::with_listener(config, router, listener)
        }
        None => Server::bind(config, router),
    };
    let server = match started {
        Ok(server) => server,
        Err(e) => return fail(&e.to_string()),
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
    // Logged last, so that a process that has printed its URL is fully up.
    log::info!(
        "serving {} on {}://{} with {threads} worker thread{} (Ctrl-C to stop)",
        args.root.display(),
        if tls.is_some() { "https" } else { "http" },
        url_authority(server.local_addr()),
        if threads == 1 { "" } else { "s" }
    );
    if let Some(tls) = &tls {
        describe_tls(tls, args.tls_write_cert.as_deref());
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

/// The tutorial's "a browser talks to a socket" page.
fn hello(_: &Request) -> Response {
    Response::text("Hello, world!")
}

/// `host:port`, with IPv6 addresses in brackets as URLs need.
fn url_authority(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(v4) => v4.to_string(),
        SocketAddr::V6(v6) => format!("[{}]:{}", v6.ip(), v6.port()),
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
