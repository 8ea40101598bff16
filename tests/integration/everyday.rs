//! Everyday use (issue 9), over real sockets and in headless Chromium:
//! CORS, added header fields and Cache-Control by glob, single-page apps,
//! clean URLs and index names, `/.well-known/`, types and charsets, and
//! the command's start-up: default root, single files, `/hello`
//! precedence, every address, `-b` names, `--open`, `--qr`, `RAWSERVE_*`
//! variables, completions and the manual page.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use rawserve::config::Cors;
use rawserve::{FileOptions, Router, Server, StaticFiles};

use crate::support::*;

/// A server over `root` with `adjust`ed file options (no `/hello`).
fn serve(root: &Path, adjust: impl FnOnce(&mut FileOptions)) -> Server {
    let mut files = test_files(root);
    adjust(&mut files);
    let router = Router::new().fallback(StaticFiles::with_options(files).expect("valid options"));
    Server::bind(test_config(), router).expect("server starts")
}

/// One request with extra header lines (each ending in CRLF); the response.
fn ask(addr: SocketAddr, method: &str, target: &str, extra: &str) -> Response {
    let mut stream = connect(addr);
    send(&mut stream, &format!("{method} {target} HTTP/1.1\r\nHost: t\r\n{extra}Connection: close\r\n\r\n"));
    read_response(&mut stream, method == "HEAD").expect("a response")
}

fn all<'a>(response: &'a Response, name: &str) -> Vec<&'a str> {
    response.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
}

#[test]
fn cors_for_any_origin_a_list_or_none() {
    let site = Site::new();
    let any = serve(site.root(), |f| f.cors = Some(Cors::AnyOrigin));
    let list = serve(site.root(), |f| f.cors = Some(Cors::Origins(vec!["http://app.test".into()])));
    let off = serve(site.root(), |_| {});
    let origin = "Origin: http://app.test\r\n";

    for target in ["/hello.txt", "/index.html", "/missing", "/nested/", "/sub"] {
        let r = ask(any.local_addr(), "GET", target, origin);
        assert_eq!(r.header("access-control-allow-origin"), Some("*"), "{target}: {}", r.status);
        let exposed = r.header("access-control-expose-headers").unwrap_or("");
        assert!(exposed.contains("ETag") && exposed.contains("Content-Range"), "{target}: {exposed}");
        assert!(!all(&r, "vary").contains(&"Origin"), "the same answer for every origin");
    }
    // A second request is a cache hit: the fields are in its cached lines.
    let hit = ask(any.local_addr(), "GET", "/hello.txt", "");
    assert_eq!(hit.header("access-control-allow-origin"), Some("*"));
    let etag = hit.header("etag").unwrap().to_string();
    let revalidated = ask(any.local_addr(), "GET", "/hello.txt", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!(revalidated.status, 304);
    assert_eq!(revalidated.header("access-control-allow-origin"), Some("*"), "a 304 keeps it");

    for _ in 0..2 {
        let r = ask(list.local_addr(), "GET", "/hello.txt", origin);
        assert_eq!(r.header("access-control-allow-origin"), Some("http://app.test"));
        assert!(all(&r, "vary").contains(&"Origin"), "{:?}", r.headers);
    }
    let stranger = ask(list.local_addr(), "GET", "/hello.txt", "Origin: http://evil.test\r\n");
    assert_eq!(stranger.header("access-control-allow-origin"), None);
    assert!(all(&stranger, "vary").contains(&"Origin"));
    let stranger_404 = ask(list.local_addr(), "GET", "/nope", "Origin: http://evil.test\r\n");
    assert_eq!((stranger_404.status, stranger_404.header("access-control-allow-origin")), (404, None));

    let preflight = "Origin: http://app.test\r\nAccess-Control-Request-Method: GET\r\n\
                     Access-Control-Request-Headers: x-custom\r\n";
    for server in [&any, &list] {
        let r = ask(server.local_addr(), "OPTIONS", "/hello.txt", preflight);
        assert_eq!(r.status, 204);
        assert!(r.header("access-control-allow-origin").is_some());
        assert_eq!(r.header("access-control-allow-methods"), Some("GET, HEAD, OPTIONS"));
        assert_eq!(r.header("access-control-allow-headers"), Some("x-custom"));
        assert_eq!(r.header("access-control-max-age"), Some("86400"));
        assert!(r.body.is_empty() && r.header("content-length").is_none());
    }
    let refused = ask(list.local_addr(), "OPTIONS", "/hello.txt", &preflight.replace("app.test", "evil.test"));
    assert_eq!((refused.status, refused.header("access-control-allow-origin")), (204, None));

    for server in [&any, &off] {
        let plain = ask(server.local_addr(), "OPTIONS", "/hello.txt", "");
        assert_eq!((plain.status, plain.header("allow")), (204, Some("GET, HEAD, OPTIONS")));
        assert_eq!(plain.header("access-control-allow-methods"), None);
    }
    let r = ask(off.local_addr(), "OPTIONS", "/hello.txt", preflight);
    assert_eq!((r.status, r.header("access-control-allow-origin")), (204, None), "CORS is off by default");
    assert_eq!(ask(off.local_addr(), "GET", "/hello.txt", origin).header("access-control-allow-origin"), None);
    assert_eq!(ask(off.local_addr(), "DELETE", "/hello.txt", "").status, 405);
}

#[test]
fn added_fields_on_every_answer_and_cache_control_by_glob() {
    let site = Site::new();
    write(site.root(), "assets/app.3f2a.js", b"x");
    write(site.root(), "assets/deep/logo.svg", b"<svg/>");
    let server = serve(site.root(), |f| {
        f.headers = vec!["X-Frame-Options: DENY".parse().unwrap(), "X-Robots-Tag: noindex".parse().unwrap()];
        f.cache_control_for =
            vec!["assets/**=max-age=31536000, immutable".parse().unwrap(), "*.html=no-store".parse().unwrap()];
    });
    let addr = server.local_addr();
    for (target, status) in
        [("/hello.txt", 200), ("/hello.txt", 200), ("/missing", 404), ("/nested/", 200), ("/sub", 301)]
    {
        let r = ask(addr, "GET", target, "");
        assert_eq!(r.status, status, "{target}");
        assert_eq!(all(&r, "x-frame-options"), ["DENY"], "{target}: once, on every answer");
        assert_eq!(r.header("x-robots-tag"), Some("noindex"), "{target}");
    }
    // A listing large enough to be prepared in slices gets them too.
    for i in 0..2500 {
        write(site.root(), &format!("many/{i}.txt"), b"");
    }
    let big = ask(addr, "GET", "/many/", "");
    assert_eq!((big.status, big.header("x-frame-options")), (200, Some("DENY")));
    assert!(big.text().contains("2499.txt"));
    let range = ask(addr, "GET", "/kib.bin", "Range: bytes=0-9\r\n");
    assert_eq!((range.status, range.header("x-frame-options")), (206, Some("DENY")));
    let cases = [
        ("/assets/app.3f2a.js", "max-age=31536000, immutable"),
        ("/assets/deep/logo.svg", "max-age=31536000, immutable"),
        ("/index.html", "no-store"),
        ("/", "no-store"),
        ("/sub/index.html", "no-cache"),
        ("/hello.txt", "no-cache"),
    ];
    for _ in 0..2 {
        for (target, cache) in cases {
            assert_eq!(all(&ask(addr, "GET", target, ""), "cache-control"), [cache], "{target}");
        }
    }
}

/// Whether any `Vary` field of `r` names `Accept` (fields may repeat).
fn varies_on_accept(r: &Response) -> bool {
    r.headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("vary"))
        .flat_map(|(_, v)| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("accept"))
}

#[test]
fn single_page_apps_clean_urls_and_index_names() {
    let site = Site::new();
    write(site.root(), "about.html", b"about page");
    write(site.root(), "old/index.htm", b"htm index");
    write(site.root(), "custom/default.html", b"default page");
    let spa = serve(site.root(), |f| f.spa = true);
    let html = "Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\n";
    let home = b"<!doctype html><title>home</title>";
    for target in ["/app/settings", "/app/settings/", "/users/42?tab=a"] {
        let r = ask(spa.local_addr(), "GET", target, html);
        assert_eq!((r.status, &r.body[..]), (200, &home[..]), "{target}");
        assert!(r.header("content-type").unwrap().starts_with("text/html"));
        assert!(varies_on_accept(&r), "{target}: the app page depends on Accept: {:?}", r.headers);
    }
    for (target, accept) in [("/app/missing.js", html), ("/app/settings", "Accept: application/json\r\n")] {
        let r = ask(spa.local_addr(), "GET", target, accept);
        assert_eq!(r.status, 404, "{target} {accept}");
        if target == "/app/settings" {
            assert!(varies_on_accept(&r), "a 404 that a navigation would not get says Vary: Accept");
        }
    }
    assert_eq!(ask(spa.local_addr(), "GET", "/app/settings", "").status, 404, "no Accept: not a page load");
    assert_eq!(ask(spa.local_addr(), "GET", "/about", html).body, home, "no clean URLs unless asked");

    let clean = serve(site.root(), |f| f.clean_urls = true);
    assert_eq!(ask(clean.local_addr(), "GET", "/about", "").body, b"about page");
    assert_eq!(ask(clean.local_addr(), "GET", "/about.html", "").body, b"about page");
    assert_eq!(ask(clean.local_addr(), "GET", "/about/", "").status, 404);
    assert_eq!(ask(clean.local_addr(), "GET", "/nothing", "").status, 404);

    let default = serve(site.root(), |_| {});
    assert_eq!(ask(default.local_addr(), "GET", "/old/", "").body, b"htm index", "index.htm after index.html");
    assert_eq!(ask(default.local_addr(), "GET", "/app/settings", html).status, 404, "no SPA unless asked");
    let custom = serve(site.root(), |f| f.index = vec!["default.html".into()]);
    assert_eq!(ask(custom.local_addr(), "GET", "/custom/", "").body, b"default page");
    let listing = ask(custom.local_addr(), "GET", "/", "");
    assert!(listing.text().contains("hello.txt"), "index.html is no index now: a listing");
}

#[test]
fn well_known_is_served_while_other_dot_names_stay_hidden() {
    let site = Site::new();
    write(site.root(), ".well-known/acme-challenge/tok3n", b"tok3n.key");
    write(site.root(), ".well-known/security.txt", b"Contact: mailto:a@b");
    write(site.root(), ".well-known/.hidden", b"no");
    write(site.root(), ".git/config", b"[core]");
    let server = serve(site.root(), |_| {});
    let addr = server.local_addr();
    assert_eq!(ask(addr, "GET", "/.well-known/acme-challenge/tok3n", "").body, b"tok3n.key");
    assert_eq!(ask(addr, "GET", "/%2Ewell-known/security.txt", "").body, b"Contact: mailto:a@b");
    for target in ["/.git/config", "/.git/", "/.well-known/.hidden", "/.secret", "/.well-known/../.git/config"] {
        let status = ask(addr, "GET", target, "").status;
        assert!(status == 404 || status == 400, "{target}: {status}");
    }
    // Listings follow the same rule: what is served is listed.
    std::fs::remove_file(site.root().join("index.html")).expect("no index, so the root is a listing");
    let root_listing = ask(addr, "GET", "/", "").text();
    assert!(root_listing.contains("href=\".well-known/\""), "the root lists .well-known:\n{root_listing}");
    assert!(!root_listing.contains("href=\".git/\""), "the root lists no other dot name");
    let inside = ask(addr, "GET", "/.well-known/", "").text();
    assert!(inside.contains("href=\"security.txt\"") && !inside.contains("href=\".hidden\""), "{inside}");
}

#[test]
fn charset_only_for_utf8_bytes_and_javascript_is_one_type() {
    let site = Site::new();
    let root = site.root();
    write(root, "latin1.html", b"<meta charset=iso-8859-1><p>caf\xe9</p>");
    write(root, "utf8.html", "<p>café</p>".as_bytes());
    write(root, "module.mjs", b"export const a = 1;");
    write(root, "notes.md", b"# notes");
    // Too large to cache (64 KiB): checked on a 16 KiB prefix, whose end
    // splits a two-byte character in the first file.
    let mut split = vec![b'a'; 16 * 1024 - 1];
    split.extend_from_slice("é".as_bytes());
    split.resize(100 * 1024, b'b');
    write(root, "big-utf8.txt", &split);
    let mut legacy = vec![b'a'; 100 * 1024];
    legacy[100] = 0xe9;
    write(root, "big-latin1.txt", &legacy);
    write(root, "precompressed.html", b"caf\xe9");
    write(root, "precompressed.html.gz", b"\x1f\x8b not really");
    let server = serve(root, |f| f.mime = vec!["md=text/markdown".parse().unwrap()]);
    let addr = server.local_addr();
    let cases = [
        ("/latin1.html", "text/html"),
        ("/utf8.html", "text/html; charset=utf-8"),
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/module.mjs", "text/javascript; charset=utf-8"),
        ("/notes.md", "text/markdown; charset=utf-8"),
        ("/data.json", "application/json"),
        ("/img.png", "image/png"),
        ("/big-utf8.txt", "text/plain; charset=utf-8"),
        ("/big-latin1.txt", "text/plain"),
    ];
    for round in 0..2 {
        for (target, content_type) in cases {
            assert_eq!(ask(addr, "GET", target, "").header("content-type"), Some(content_type), "{target} #{round}");
        }
    }
    let gz = ask(addr, "GET", "/precompressed.html", "Accept-Encoding: gzip\r\n");
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.header("content-type"), Some("text/html"), "judged by the original's bytes");

    // The remembered answer follows the file: a new version is checked again.
    write(root, "utf8.html", b"<p>caf\xe9 au lait</p>");
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    loop {
        let r = ask(addr, "GET", "/utf8.html", "");
        if r.header("content-type") == Some("text/html") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the rewrite was never noticed");
    }
}

/// `rawserve ARGS` in `dir` with `env`, started like `Binary::start`.
fn binary_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Binary {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rawserve"));
    command.current_dir(dir).args(args).env("RUST_LOG", "off").stdout(Stdio::null()).stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("spawn rawserve");
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Binary { child, addr: "0.0.0.0:0".parse().unwrap(), log: rx }
}

/// The start-up lines up to and including the first with a URL (or all of
/// a multi-line announcement), and the first URL's address.
fn start_lines(binary: &mut Binary) -> (Vec<String>, SocketAddr) {
    let mut lines = Vec::new();
    loop {
        let line = binary.log.recv_timeout(IO_TIMEOUT).expect("a start-up line");
        let url = line.split("http://").nth(1).and_then(|u| u.split_whitespace().next()).map(str::to_string);
        lines.push(line);
        if let Some(url) = url {
            let addr: SocketAddr = url.parse().unwrap_or_else(|_| panic!("not an address: {url}"));
            binary.addr = addr;
            // Collect the rest of a multi-line list without waiting long.
            while let Ok(line) = binary.log.recv_timeout(Duration::from_millis(300)) {
                lines.push(line);
            }
            return (lines, addr);
        }
    }
}

#[test]
fn the_root_defaults_to_public_else_the_current_folder_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "here.txt", b"current folder");
    let mut server = binary_in(dir.path(), &["--port", "0"], &[]);
    let (lines, addr) = start_lines(&mut server);
    assert!(lines[0].contains("serving .") && lines[0].contains("no ./public"), "{lines:?}");
    assert_eq!(ask(addr, "GET", "/here.txt", "").body, b"current folder", "RUST_LOG=off hides no URL");
    drop(server);

    write(dir.path(), "public/index.html", b"public index");
    let mut server = binary_in(dir.path(), &["--port", "0"], &[]);
    let (lines, addr) = start_lines(&mut server);
    assert!(lines[0].contains("serving public") && lines[0].contains("./public"), "{lines:?}");
    assert_eq!(ask(addr, "GET", "/", "").body, b"public index");
}

#[test]
fn a_single_file_and_a_hello_of_the_sites_own() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "notes v2.txt", b"just this file");
    write(dir.path(), "other.txt", b"not served");
    let mut server = binary_in(dir.path(), &["notes v2.txt", "--port", "0"], &[]);
    let (lines, addr) = start_lines(&mut server);
    assert!(lines[0].contains("the file notes v2.txt"), "{lines:?}");
    assert_eq!(ask(addr, "GET", "/", "").body, b"just this file");
    assert_eq!(ask(addr, "GET", "/notes%20v2.txt", "").body, b"just this file");
    let range = ask(addr, "GET", "/", "Range: bytes=5-8\r\n");
    assert_eq!((range.status, &range.body[..]), (206, &b"this"[..]));
    for target in ["/other.txt", "/hello", "/..%2fother.txt"] {
        assert!(ask(addr, "GET", target, "").status >= 400, "{target}");
    }
    drop(server);

    let site = Site::new();
    let root = site.root().to_str().unwrap();
    let builtin = Binary::start(&[root], "off");
    assert_eq!(ask(builtin.addr, "GET", "/hello", "").body, b"Hello, world!");
    write(site.root(), "hello", b"my own hello");
    let own = Binary::start(&[root], "off");
    assert_eq!(ask(own.addr, "GET", "/hello", "").body, b"my own hello");
    std::fs::remove_file(site.root().join("hello")).unwrap();
    write(site.root(), "hello/index.html", b"hello folder");
    let folder = Binary::start(&[root], "off");
    assert_eq!(ask(folder.addr, "GET", "/hello", "").status, 301);
    assert_eq!(ask(folder.addr, "GET", "/hello/", "").body, b"hello folder");
}

#[test]
fn every_local_address_host_names_and_repeated_binds() {
    let site = Site::new();
    let root = site.root().to_str().unwrap();
    let mut all = binary_in(site.root(), &[root, "-b", "0.0.0.0", "--port", "0"], &[]);
    let (lines, addr) = start_lines(&mut all);
    assert_eq!(addr.ip().to_string(), "127.0.0.1", "loopback first: {lines:?}");
    assert!(!lines.iter().any(|l| l.contains("0.0.0.0")), "{lines:?}");
    let urls: Vec<&String> = lines.iter().filter(|l| l.trim_start().starts_with("http://")).collect();
    for url in &urls {
        let addr: SocketAddr = url.trim().trim_start_matches("http://").parse().unwrap();
        assert_hello(addr);
    }
    drop(all);

    let mut named = binary_in(site.root(), &[root, "-b", "localhost", "--port", "0"], &[]);
    let (_, addr) = start_lines(&mut named);
    assert!(addr.ip().is_loopback());
    assert_hello(addr);
    drop(named);

    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped the IPv6 half: this machine has no IPv6 loopback");
        return;
    }
    let dual = std::fs::read_to_string("/proc/sys/net/ipv6/bindv6only").is_ok_and(|v| v.trim() == "0");
    let mut any6 = binary_in(site.root(), &[root, "-b", "::", "--port", "0"], &[]);
    let (lines, _) = start_lines(&mut any6);
    assert!(!lines.iter().any(|l| l.contains("http://[::]")), "{lines:?}");
    let v6 = lines.iter().find_map(|l| l.trim().strip_prefix("http://[::1]:")).expect("::1 listed");
    assert_hello(format!("[::1]:{v6}").parse().unwrap());
    if dual {
        let v4 = lines.iter().find_map(|l| l.trim().strip_prefix("http://127.0.0.1:")).expect("IPv4 listed too");
        assert_hello(format!("127.0.0.1:{v4}").parse().unwrap());
    }
    drop(any6);

    let mut both = binary_in(site.root(), &[root, "-b", "127.0.0.1", "-b", "::1", "--port", "0"], &[]);
    let (lines, addr) = start_lines(&mut both);
    assert_hello(addr);
    let v6 = lines.iter().find_map(|l| l.trim().strip_prefix("http://[::1]:")).expect("an IPv6 URL");
    assert_hello(format!("[::1]:{v6}").parse().unwrap());
    assert_eq!(v6, addr.port().to_string(), "one port for both");
}

#[test]
fn open_starts_the_browser_and_qr_prints_a_code() {
    let dir = tempfile::tempdir().unwrap();
    let opened = dir.path().join("opened");
    let browser = dir.path().join("browser.sh");
    std::fs::write(&browser, format!("#!/bin/sh\necho \"$1\" > {}.tmp && mv {0}.tmp {0}\n", opened.display())).unwrap();
    std::fs::set_permissions(&browser, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let site = Site::new();
    let root = site.root().to_str().unwrap();
    let mut server =
        binary_in(dir.path(), &[root, "--port", "0", "--open", "--qr"], &[("BROWSER", browser.to_str().unwrap())]);
    let (lines, addr) = start_lines(&mut server);
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    while !opened.exists() {
        assert!(std::time::Instant::now() < deadline, "the browser was never started");
        std::thread::sleep(Duration::from_millis(20)); // polling a file that a child writes
    }
    assert_eq!(std::fs::read_to_string(&opened).unwrap().trim(), format!("http://{addr}"));
    // The QR code: square rows of block characters under the URL line.
    let code: Vec<&String> = lines.iter().filter(|l| l.contains('█')).collect();
    assert!(code.len() >= 12, "{lines:?}");
    let width = code[0].chars().count();
    assert!(code.iter().all(|l| l.chars().count() == width));
    assert_eq!(code.len(), width.div_ceil(2), "as many module rows as columns");
}

#[test]
fn every_flag_has_an_environment_variable() {
    let site = Site::new();
    let root = site.root().to_str().unwrap();
    let env = [
        ("RAWSERVE_HEADER", "X-From-Env: yes"),
        ("RAWSERVE_CORS", "*"),
        ("RAWSERVE_SPA", "1"),
        ("RAWSERVE_PORT", "0"),
        ("RAWSERVE_ROOT", root),
    ];
    let mut server = binary_in(site.root(), &[], &env);
    let (_, addr) = start_lines(&mut server);
    let r = ask(addr, "GET", "/deep/link", "Accept: text/html\r\n");
    assert_eq!(r.status, 200, "RAWSERVE_SPA");
    assert_eq!(r.header("x-from-env"), Some("yes"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));

    // /hello answers preflights like the folder does.
    let preflight =
        "Origin: http://a.test\r\nAccess-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: x-a\r\n";
    let r = ask(addr, "OPTIONS", "/hello", preflight);
    assert_eq!((r.status, r.header("access-control-allow-origin")), (204, Some("*")));
    assert_eq!(r.header("access-control-allow-headers"), Some("x-a"));
    assert_eq!(ask(addr, "GET", "/hello", "").header("access-control-allow-origin"), Some("*"));

    let help = run_ok(Command::new(env!("CARGO_BIN_EXE_rawserve")).arg("--help"), IO_TIMEOUT);
    let help = String::from_utf8_lossy(&help.stdout);
    // Each option's own line: `  -p, --port <PORT>` or `      --spa`.
    let flags: Vec<&str> = help
        .lines()
        .map(str::trim_start)
        .filter(|line| line.starts_with('-'))
        .filter_map(|line| line.split_whitespace().find(|w| w.starts_with("--")))
        .collect();
    assert!(flags.len() > 30, "{flags:?}");
    for flag in flags.iter().map(|f| f.split(['[', '=']).next().unwrap_or(f)) {
        if ["--help", "--version", "--print-completions", "--print-manpage", "--hash-password"].contains(&flag) {
            continue;
        }
        let var = format!("RAWSERVE_{}", flag.trim_start_matches("--").replace('-', "_").to_uppercase());
        assert!(help.contains(&format!("[env: {var}")), "{flag} has no {var} in --help");
    }
}

#[test]
fn completions_and_the_manual_page() {
    let bash = run_ok(Command::new(env!("CARGO_BIN_EXE_rawserve")).args(["--print-completions", "bash"]), IO_TIMEOUT);
    let script = String::from_utf8(bash.stdout).unwrap();
    assert!(script.contains("complete") && script.contains("--cache-control-for"), "{script}");
    if have_tool("bash") {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &script).unwrap();
        run_ok(Command::new("bash").arg("-n").arg(file.path()), IO_TIMEOUT);
    }
    let man = run_ok(Command::new(env!("CARGO_BIN_EXE_rawserve")).arg("--print-manpage"), IO_TIMEOUT);
    let man = String::from_utf8(man.stdout).unwrap();
    assert!(man.starts_with(".ie") || man.starts_with(".TH"), "{}", &man[..80.min(man.len())]);
    for flag in ["spa", "clean\\-urls", "cache\\-control\\-for", "RAWSERVE_PORT"] {
        assert!(man.contains(flag), "the manual lacks {flag}");
    }
    if have_tool("man") {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &man).unwrap();
        let page = run_ok(Command::new("man").arg("-l").arg(file.path()).env("MANPAGER", "cat"), IO_TIMEOUT);
        assert!(String::from_utf8_lossy(&page.stdout).contains("single"), "man renders it");
    }
}

// Headless Chromium: the user of these two features is a browser.

const CHROMIUM: &str = "chromium";

/// The DOM of `url` after its scripts ran, in a fresh profile.
fn dump_dom(url: &str) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut command = Command::new(CHROMIUM);
    command
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
        .args(["--disable-component-update", "--disable-sync", "--virtual-time-budget=5000", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url);
    String::from_utf8(run_ok(&mut command, Duration::from_secs(90)).stdout).expect("UTF-8 DOM")
}

#[test]
fn chromium_boots_a_single_page_app_from_a_deep_link() {
    if !have_tool(CHROMIUM) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "index.html",
        b"<!doctype html><meta charset=utf-8><title>app</title><p id=out>not booted</p><script src=/app.js></script>",
    );
    write(dir.path(), "app.js", b"document.getElementById('out').textContent = 'booted at ' + location.pathname;");
    let server = serve(dir.path(), |f| f.spa = true);
    let deep = "/settings/profile";
    let navigation = ask(server.local_addr(), "GET", deep, "Accept: text/html,*/*;q=0.8\r\n");
    assert_eq!(navigation.status, 200, "a deep link is a 200, not the 404.html trick");
    let dom = dump_dom(&format!("http://{}{deep}", server.local_addr()));
    assert!(dom.contains("booted at /settings/profile"), "{dom}");
}

const CROSS_ORIGIN_PAGE: &str = r#"<!doctype html><meta charset=utf-8><title>cors</title><p id=out>pending</p>
<script>
const out = document.getElementById("out");
fetch(location.search.slice(1) + "/data.json", { headers: { "X-Custom": "1" } })
  .then(r => r.text().then(t => out.textContent = "allowed " + r.status + " " + r.headers.get("ETag") + " " + t))
  .catch(e => out.textContent = "refused " + e.name);
</script>"#;

#[test]
fn chromium_reads_another_origin_only_with_cors_and_a_preflight() {
    if !have_tool(CHROMIUM) {
        return;
    }
    let pages = tempfile::tempdir().unwrap();
    write(pages.path(), "page.html", CROSS_ORIGIN_PAGE.as_bytes());
    let page = serve(pages.path(), |_| {});
    let data = tempfile::tempdir().unwrap();
    write(data.path(), "data.json", br#"{"ok":1}"#);
    let page_origin = format!("http://{}", page.local_addr());
    let cases: [(Option<Cors>, &str); 4] = [
        (None, "refused TypeError"),
        (Some(Cors::AnyOrigin), "allowed 200 \""),
        (Some(Cors::Origins(vec![page_origin.clone()])), "allowed 200 \""),
        (Some(Cors::Origins(vec!["http://elsewhere.test".into()])), "refused TypeError"),
    ];
    for (cors, expected) in cases {
        let label = format!("{cors:?}");
        let api = serve(data.path(), |f| f.cors = cors);
        let dom = dump_dom(&format!("{page_origin}/page.html?http://{}", api.local_addr()));
        assert!(dom.contains(expected), "{label}: {dom}");
        if expected.starts_with("allowed") {
            assert!(dom.contains(r#"{"ok":1}"#), "{label}: the body and the exposed ETag: {dom}");
        }
    }
}
