//! Small things a new user hit (issue 20, item 8), each over a real
//! socket: a redirect's page that named another status, access lines late
//! on an idle server, what REDbot warned about (redirects and `/hello`
//! without `Cache-Control`, a 206 for a range covering a whole tiny file),
//! and CORS fields sent to origins that are not allowed.

use crate::support::*;

#[test]
fn plain_http_on_the_https_port_gets_a_307_page_that_says_307() {
    let tls = rawserve::Tls::self_signed(&[]).expect("a certificate");
    let server = TestServer::start_with(move |config| config.tls = Some(tls));
    let mut stream = server.connect();
    send(&mut stream, "GET /hello HTTP/1.1\r\nHost: h\r\n\r\n");
    let r = read_response(&mut stream, false).expect("a plain answer");
    assert_eq!((r.status, r.header("location")), (307, Some("https://h/hello")));
    assert_eq!(r.text(), "307 Temporary Redirect\n", "the page names the status sent");
}

/// How soon after its response an access line must be in the file on an
/// idle server: `FLUSH_WHEN_IDLE` (100 ms) plus room for a busy machine,
/// and well below the 1 s a busy worker may hold lines, so a line written
/// only by that age limit fails.
const LINE_PROMPT: std::time::Duration = std::time::Duration::from_millis(500);

#[test]
fn an_idle_server_writes_each_access_line_at_once() {
    use std::time::Instant;
    let site = Site::new();
    let log = site.root().join("access.log");
    let server = Binary::start(&[site.root().to_str().unwrap(), "--access-log", log.to_str().unwrap()], "warn");
    // A browser tab: one kept-alive connection, a request now and then.
    let mut stream = connect(server.addr);
    for (i, path) in ["/hello.txt", "/style.css"].into_iter().enumerate() {
        send(&mut stream, &format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n"));
        assert_eq!(read_response(&mut stream, false).expect("a response").status, 200);
        let answered = Instant::now();
        let needle = format!("\"GET {path} HTTP/1.1\" 200");
        loop {
            let lines = std::fs::read_to_string(&log).unwrap_or_default();
            if lines.contains(&needle) {
                assert_eq!(lines.lines().count(), i + 1, "one line per request: {lines}");
                break;
            }
            let waited = answered.elapsed();
            assert!(waited < LINE_PROMPT, "no line for {path} {waited:?} after its response: {lines:?}");
            // A file has no change event to wait on here: poll it.
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

/// A response's `Access-Control-Allow-Origin` and `-Expose-Headers`.
fn fields(r: &Response) -> (Option<&str>, Option<&str>) {
    (r.header("access-control-allow-origin"), r.header("access-control-expose-headers"))
}

/// One request with extra header lines (each ending in CRLF), on a
/// connection of its own; the response.
fn ask(addr: std::net::SocketAddr, target: &str, extra: &str) -> Response {
    let mut stream = connect(addr);
    send(&mut stream, &format!("GET {target} HTTP/1.1\r\nHost: t\r\n{extra}Connection: close\r\n\r\n"));
    read_response(&mut stream, false).expect("a response")
}

#[test]
fn cors_exposes_headers_only_to_an_origin_it_allows() {
    use rawserve::config::Cors;
    use rawserve::{Router, Server, StaticFiles};
    let site = Site::new();
    let serve = |cors: Cors| {
        let mut files = test_files(site.root());
        files.cors = Some(cors);
        let router = Router::new().fallback(StaticFiles::with_options(files).expect("valid options"));
        Server::bind(test_config(), router).expect("server starts")
    };
    let list = serve(Cors::Origins(vec!["http://app.test".into()]));
    let any = serve(Cors::AnyOrigin);
    // A file (twice: a miss, then a cache hit with its rendered lines), a
    // 404, a listing, the /dir -> /dir/ redirect.
    for target in ["/hello.txt", "/hello.txt", "/missing", "/nested/", "/sub"] {
        for stranger in ["", "Origin: http://evil.test\r\n"] {
            let r = ask(list.local_addr(), target, stranger);
            assert_eq!(fields(&r), (None, None), "{target} {stranger:?}: {} {:?}", r.status, r.headers);
        }
        let r = ask(list.local_addr(), target, "Origin: http://app.test\r\n");
        let (origin, exposed) = fields(&r);
        assert_eq!(origin, Some("http://app.test"), "{target}");
        assert!(exposed.is_some_and(|e| e.contains("ETag")), "{target}: {:?}", r.headers);
        // `*` is an allowed origin for every request, so both always go.
        let r = ask(any.local_addr(), target, "");
        let (origin, exposed) = fields(&r);
        assert_eq!(origin, Some("*"), "{target}");
        assert!(exposed.is_some_and(|e| e.contains("ETag")), "{target}: {:?}", r.headers);
    }
    let etag = ask(list.local_addr(), "/hello.txt", "").header("etag").expect("an ETag").to_string();
    let not_modified = ask(list.local_addr(), "/hello.txt", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!((not_modified.status, fields(&not_modified)), (304, (None, None)));
}

#[test]
fn hello_and_the_folder_redirect_say_they_are_not_to_be_stored() {
    let site = Site::new();
    let server = Binary::start(&[site.root().to_str().unwrap()], "warn");
    // Without Cache-Control, caches pick their own lifetime (browsers keep
    // a 301 for good); neither has a validator, so `no-store`, not `no-cache`.
    let hello = request(server.addr, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!((hello.status, hello.header("cache-control")), (200, Some("no-store")));
    let redirect = request(server.addr, "GET /sub?x=1 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        (redirect.status, redirect.header("location"), redirect.header("cache-control")),
        (301, Some("/sub/?x=1"), Some("no-store"))
    );
    assert_eq!(redirect.text(), "301 Moved Permanently\n");
}

/// One request on a connection of its own; the response.
fn request(addr: std::net::SocketAddr, raw: &str) -> Response {
    let mut stream = connect(addr);
    send(&mut stream, raw);
    read_response(&mut stream, raw.starts_with("HEAD")).expect("a response")
}

#[test]
fn a_range_covering_the_whole_file_is_still_a_206() {
    // As nginx and Caddy (Go's ServeContent) answer: the client asked for
    // a range and gets one, with its Content-Range; media players open a
    // video with `bytes=0-` and seek only after a 206.
    let site = Site::new();
    write(site.root(), "tiny.txt", b"hi\n");
    let server = Binary::start(&[site.root().to_str().unwrap()], "warn");
    let cases = [
        // REDbot's probe on a 3-byte file: bytes 0 to 3.
        ("/tiny.txt", "bytes=0-3", "bytes 0-2/3", &b"hi\n"[..]),
        ("/tiny.txt", "bytes=0-", "bytes 0-2/3", &b"hi\n"[..]),
        ("/tiny.txt", "bytes=-9", "bytes 0-2/3", &b"hi\n"[..]),
        ("/tiny.txt", "bytes=1-1", "bytes 1-1/3", &b"i"[..]),
    ];
    for (path, range, content_range, body) in cases {
        let r = request(server.addr, &format!("GET {path} HTTP/1.1\r\nHost: t\r\nRange: {range}\r\n\r\n"));
        assert_eq!((r.status, r.header("content-range")), (206, Some(content_range)), "{range}");
        assert_eq!(r.body, body, "{range}");
    }
    let r = request(server.addr, "GET /kib.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=0-\r\n\r\n");
    assert_eq!((r.status, r.header("content-range")), (206, Some("bytes 0-1023/1024")));
    assert_eq!(r.body, kib_contents());
}

/// Sets the modification time of every file below `dir` an hour back.
fn age_files(dir: &std::path::Path) {
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() && !path.is_symlink() {
            age_files(&path);
        } else if path.is_file() && !path.is_symlink() {
            std::fs::File::open(&path).and_then(|f| f.set_modified(hour_ago)).expect("set mtime");
        }
    }
}

/// REDbot's notes on `url` at level WARN or BAD, by id (from its HAR output).
fn redbot_complaints(url: &str) -> Vec<String> {
    let out = run_ok(std::process::Command::new("redbot").args(["-o", "har", url]), IO_TIMEOUT * 3);
    let har = String::from_utf8(out.stdout).expect("UTF-8 HAR");
    assert!(har.contains("\"note_id\""), "no notes for {url}: {har}");
    // Each note is an object with "note_id" first and "level" after it.
    har.split("\"note_id\": \"")
        .skip(1)
        .filter_map(|note| {
            let id = note.split('"').next()?;
            let level = note.split("\"level\": \"").nth(1)?.split('"').next()?;
            matches!(level, "WARN" | "BAD").then(|| format!("{level} {id}"))
        })
        .collect()
}

#[test]
fn redbot_has_nothing_to_warn_about() {
    if !have_tool("redbot") {
        return;
    }
    let site = Site::new();
    write(site.root(), "tiny.txt", b"hi\n");
    // Files changed within the last second get no validators (README), and
    // REDbot would rightly say so: these were written an hour ago.
    age_files(site.root());
    let server = Binary::start(&[site.root().to_str().unwrap(), "--quiet"], "warn");
    let base = format!("http://{}", server.addr);
    // A file (its range probe asks for 97 of 1,024 bytes), `/hello`, the
    // folder redirect, a listing, a 404.
    let clean = ["/kib.bin", "/hello", "/sub", "/nested/", "/missing"];
    // Its range probe on a file of 97 bytes or less (the fixture's index
    // pages too) asks for all of it; the 206 that nginx and Caddy send too
    // (see above) is its only note.
    let tiny = ["/tiny.txt", "/", "/sub/"];
    // One REDbot per URL at once: each spends a second or two starting.
    let results: Vec<(&str, Vec<String>)> = std::thread::scope(|scope| {
        let runs: Vec<_> = clean
            .iter()
            .chain(&tiny)
            .map(|&path| {
                let url = format!("{base}{path}");
                scope.spawn(move || (path, redbot_complaints(&url)))
            })
            .collect();
        runs.into_iter().map(|run| run.join().expect("a REDbot run")).collect()
    });
    for (path, complaints) in results {
        if tiny.contains(&path) {
            assert!(complaints.iter().all(|c| c == "WARN RANGE_CL_FULL"), "REDbot on {path}: {complaints:?}");
        } else {
            assert!(complaints.is_empty(), "REDbot on {path}: {complaints:?}");
        }
    }
}
