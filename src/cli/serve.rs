//! Serving as the command does, once the options are read: the root (a
//! folder, or one file), the addresses, the open-file limit, HTTPS, the
//! router (`/hello` beside the folder), SIGINT/SIGTERM/SIGHUP, and the
//! start-up lines (the URLs, the certificate, a QR code, the browser).
//!
//! The server is built through the library's public API (a `Router` with
//! `/hello` and a `StaticFiles` fallback), exactly as an embedder would.
//! Start-up lines go straight to standard error, never through `log`, so
//! `RUST_LOG` cannot hide them; `startup` finds the root, the addresses and
//! the hints.

use std::path::Path;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use rawserve::config::HeaderField;
use rawserve::{Cors, LogDestination, Request, Response, Router, Server, StartError, StaticFiles, Tls};

use super::{startup, Cli};

/// Serves as `cli` says until a signal stops the server; the error is the
/// sentence to print when it cannot start.
pub fn serve(cli: Cli) -> Result<(), String> {
    let tls = tls_settings(&cli)?;
    let Cli { mut config, mut files, .. } = cli;
    let (root, why) = match &cli.root {
        Some(root) => (root.clone(), None),
        None => {
            let (root, why) = startup::default_root();
            (root, Some(why))
        }
    };
    // `rawserve FILE`: the file's folder, answering only for that file.
    let single = if root.is_file() { root.file_name().map(|name| name.to_os_string()) } else { None };
    files.root = match &single {
        Some(_) => root.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf(),
        None => root.clone(),
    };
    if let Some(name) = &single {
        files.index = vec![name.to_string_lossy().into_owned()];
        files.listing = false;
        files.spa = false;
    }

    let addrs = startup::resolve_binds(&cli.bind, cli.port)?;
    config.addr = addrs[0];
    config.also_listen = addrs[1..].to_vec();
    match rawserve::raise_fd_limit() {
        // Leave room for files being sent and the server's own descriptors.
        Ok(limit) if !cli.max_connections_given => {
            config.max_connections = config.max_connections.min((limit / 2).max(16) as usize)
        }
        Ok(_) => {}
        Err(e) => log::warn!("cannot raise the open-file limit: {e}"),
    }
    if cli.quiet {
        config.access_log = LogDestination::Off;
    }
    config.tls = tls;
    // Before any thread starts: this reads and clears LISTEN_FDS/LISTEN_PID.
    let inherited = rawserve::inherited_listeners()
        .map_err(|e| format!("cannot use the sockets passed by the service manager: {e}"))?;
    let signals =
        Signals::new([SIGINT, SIGTERM, SIGHUP]).map_err(|e| format!("cannot install signal handlers: {e}"))?;

    // A `hello` of the site's own wins over the built-in page; decided
    // here, so that `/hello` itself never costs a lookup.
    let own_hello = std::fs::symlink_metadata(files.root.join("hello")).is_ok();
    let (cors, headers, live) = (files.cors.clone(), files.headers.clone(), files.live_reload);
    let static_files = StaticFiles::with_options(files).map_err(|e| startup::explain(&StartError::from(e)))?;
    let mut router = Router::new();
    if !own_hello && single.is_none() {
        if let Some(cors) = cors.clone() {
            router = router.route("OPTIONS", "/hello", move |request: &Request| cors.options(request));
        }
        router = router.get("/hello", hello_page(cors, headers));
    }
    router = match &single {
        // Only `/` and `/NAME` answer; everything else is a 404.
        Some(name) => {
            let encoded = percent_encoding::utf8_percent_encode(&name.to_string_lossy(), PATH_SEGMENT).to_string();
            let router = router.get("/", static_files.clone());
            // The page's event stream, answered by the same folder.
            let router = if live { router.get(rawserve::LIVE_RELOAD_PATH, static_files.clone()) } else { router };
            router.get(&format!("/{encoded}"), static_files)
        }
        None => router.fallback(static_files),
    };

    let threads = config.threads;
    let tls = config.tls.clone();
    let protocols = startup::protocols(tls.is_some(), config.http1_only);
    let accounts = (config.auth.len(), config.public_read);
    let started = match inherited.is_empty() {
        true => Server::bind(config, router),
        false => Server::with_listeners(config, router, inherited),
    };
    let server = started.map_err(|e| startup::explain(&e))?;
    let handle = server.shutdown_handle();
    // The signal thread says when its line about the stop is written: with
    // nothing in flight the workers end at once, and `main` must not end
    // the process before that line is out.
    let (announced, was_announced) = std::sync::mpsc::channel::<()>();
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
                // Draining first (health answers 503, new answers close
                // their connection), then said: a client that reads this
                // line is answered as a draining server answers.
                handle.shutdown();
                notify("STOPPING=1");
                log::info!("signal {signal}: finishing in-flight responses (again to stop at once)");
                let _ = announced.send(());
            } else {
                log::warn!("second signal: stopping now");
                std::process::exit(1);
            }
        }
    });
    // Printed last, so that a process that has printed its URL is fully up.
    let scheme = if tls.is_some() { "https" } else { "http" };
    let urls = startup::urls(server.local_addrs(), scheme);
    announce(
        &root,
        why,
        single.is_some(),
        &urls,
        &format!("{threads} worker thread{}, {protocols}", if threads == 1 { "" } else { "s" }),
    );
    if live {
        eprintln!("rawserve: live reload is on: open pages reload when a file under {} changes", root.display());
    }
    if let Some(line) = startup::accounts_line(accounts, server.local_addrs(), tls.is_some()) {
        eprint!("{line}");
    }
    if let Some(tls) = &tls {
        describe_tls(tls, cli.tls_write_cert.as_deref());
    }
    if cli.qr {
        let lan = urls.iter().find(|u| !u.contains("://127.") && !u.contains("://[::1]"));
        if let Some(url) = lan.or(urls.first()) {
            // One write, so the code and its note arrive together.
            let code = startup::qr_code(url).unwrap_or_default();
            let hint = startup::qr_hint(url).map(|hint| hint + "\n").unwrap_or_default();
            eprint!("{code}{hint}");
        }
    }
    if cli.open {
        if let Some(url) = urls.first() {
            if let Err(e) = startup::open_browser(url) {
                eprintln!("rawserve: cannot open a browser: {e}");
            }
        }
    }
    notify("READY=1");
    server.wait();
    // Bounded: the stop came from the signal thread, which is about to say so.
    let _ = was_announced.recv_timeout(std::time::Duration::from_secs(1));
    log::info!("stopped");
    Ok(())
}

/// The HTTPS settings the flags ask for: `None` for plain HTTP, or a
/// one-sentence reason they cannot be had.
fn tls_settings(cli: &Cli) -> Result<Option<Tls>, String> {
    let tls = match (&cli.tls_cert, &cli.tls_key) {
        (Some(cert), Some(key)) => Tls::from_pem_files(cert, key).map_err(|e| e.to_string())?,
        _ if cli.tls_self_signed => Tls::self_signed(&rawserve::lan_addresses()).map_err(|e| e.to_string())?,
        _ => return Ok(None),
    };
    if let (Some(path), Some(pem)) = (&cli.tls_write_cert, tls.self_signed_pem()) {
        std::fs::write(path, pem).map_err(|e| format!("cannot write the certificate to {}: {e}", path.display()))?;
    }
    Ok(Some(tls))
}

/// The start-up lines about the certificate, straight to standard error
/// (not the log, which RUST_LOG may silence).
fn describe_tls(tls: &Tls, written_to: Option<&Path>) {
    if let Some(fingerprint) = tls.fingerprint() {
        eprintln!("rawserve: TLS certificate SHA-256 fingerprint {fingerprint}");
    }
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
/// `threads`: the worker threads and the protocols, as said.
fn announce(root: &Path, why: Option<&str>, single: bool, urls: &[String], threads: &str) {
    let what = if single { "the file " } else { "" };
    let why = why.map(|why| format!(" ({why})")).unwrap_or_default();
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

/// The tutorial's "a browser talks to a socket" page, with the folder's
/// CORS and `--header` fields so that the whole site answers alike.
fn hello_page(cors: Option<Cors>, headers: Vec<HeaderField>) -> impl Fn(&Request) -> Response + Send + Sync {
    move |request: &Request| {
        // No validator, so a cache should not keep it (REDbot's
        // FRESHNESS_HEURISTIC): `no-store`, a constant field (no allocation).
        let mut response = Response::text("Hello, world!")
            .with_field(const { rawserve::StaticField::new("Cache-Control", "no-store") });
        if cors.is_none() && headers.is_empty() {
            return response;
        }
        for field in &headers {
            // Checked when it was read (`HeaderField`).
            response = response
                .with_header(field.name(), field.value())
                .unwrap_or_else(|_| Response::status(rawserve::StatusCode::INTERNAL_SERVER_ERROR));
        }
        let origin = match &cors {
            Some(Cors::AnyOrigin) => Some("*"),
            Some(Cors::Origins(list)) => {
                request.header("origin").filter(|o| list.iter().any(|allowed| allowed.eq_ignore_ascii_case(o)))
            }
            None => None,
        };
        if let Some(origin) = origin {
            response = response
                .with_header("Access-Control-Allow-Origin", origin)
                .unwrap_or_else(|_| Response::status(rawserve::StatusCode::INTERNAL_SERVER_ERROR));
        }
        if matches!(cors, Some(Cors::Origins(_))) {
            response = response
                .with_header("Vary", "Origin")
                .unwrap_or_else(|_| Response::status(rawserve::StatusCode::INTERNAL_SERVER_ERROR));
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
