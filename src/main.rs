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
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use rawserve::{Config, FileOptions, Request, Response, Router, Server, StaticFiles, Tls};

/// A small, fast, correct HTTP/1.1 static file server.
///
/// Serves ROOT (and a hello-world page at /hello) until SIGINT or SIGTERM;
/// the access log goes to stderr (RUST_LOG=warn silences it).
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

    let signals = match Signals::new([SIGINT, SIGTERM]) {
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
    let server = match Server::bind(config, router) {
        Ok(server) => server,
        Err(e) => return fail(&e.to_string()),
    };
    let handle = server.shutdown_handle();
    std::thread::spawn(move || {
        let mut signals = signals;
        let mut received = 0;
        for signal in signals.forever() {
            received += 1;
            if received == 1 {
                log::info!("signal {signal}: finishing in-flight responses (again to stop at once)");
                handle.shutdown();
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

fn fail(message: &str) -> ExitCode {
    eprintln!("rawserve: error: {message}");
    ExitCode::FAILURE
}
