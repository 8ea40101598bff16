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
