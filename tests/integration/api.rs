//! The embedding API seen from outside: the two examples run as child
//! processes against real sockets, and routers built here, served in
//! process, checked for what routing promises (exact vs prefix, 405 with
//! `Allow`, shared and per-worker state, files under a prefix, header
//! injection refused).

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};

use rawserve::{Endpoint, Method, Request, Response as Reply, Router, Server, StaticFiles, StatusCode};

use crate::support::*;

/// One request on a new connection; `extra` is more head lines (each ending
/// in CRLF) and `body` goes after the head.
fn exchange(addr: SocketAddr, method: &str, target: &str, extra: &str, body: &str) -> Response {
    let mut stream = connect(addr);
    let length = if body.is_empty() { String::new() } else { format!("Content-Length: {}\r\n", body.len()) };
    send(
        &mut stream,
        &format!("{method} {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{extra}{length}\r\n{body}"),
    );
    read_response(&mut stream, method == "HEAD").expect("a response")
}

fn get(addr: SocketAddr, target: &str) -> Response {
    exchange(addr, "GET", target, "", "")
}

// ---- the examples, as child processes ----

/// An example's binary, built first: `cargo test` builds examples, but a
/// targeted `cargo test --test integration` does not, and a stale binary
/// would test old code.
fn example(name: &str) -> PathBuf {
    static BUILD: Once = Once::new();
    // The test binary is target/<profile>/deps/integration-<hash>.
    let deps = std::env::current_exe().expect("test binary path");
    let profile = deps.parent().and_then(|d| d.parent()).expect("target/<profile>").to_path_buf();
    BUILD.call_once(|| {
        let mut cargo = Command::new(env!("CARGO"));
        cargo.args(["build", "--quiet", "--examples"]).current_dir(env!("CARGO_MANIFEST_DIR"));
        if profile.ends_with("release") {
            cargo.arg("--release");
        }
        assert!(cargo.status().expect("run cargo build --examples").success(), "cargo build --examples failed");
    });
    profile.join("examples").join(name)
}

/// An example running on a free port; killed on drop.
struct Example {
    child: Child,
    addr: SocketAddr,
}

impl Example {
    /// Starts `name 0 ARGS` and reads the URL it prints once listening.
    fn start(name: &str, args: &[&str]) -> Example {
        let mut child = Command::new(example(name))
            .arg("0")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the example");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let addr = rx.recv_timeout(IO_TIMEOUT).ok().and_then(|line| {
            let rest = line.trim().strip_prefix("http://")?;
            rest.trim_end_matches('/').parse().ok()
        });
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("example {name} did not print its URL within {IO_TIMEOUT:?}");
        };
        Example { child, addr }
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The embed example serving the fixture site (kept alive alongside).
fn embed_example() -> (Site, Example) {
    let site = Site::new();
    let root = site.root().to_str().expect("utf-8 temp path").to_string();
    let embed = Example::start("embed", &[&root]);
    (site, embed)
}

#[test]
fn the_hello_example_answers_a_browser() {
    let hello = Example::start("hello", &[]);
    let r = get(hello.addr, "/");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(r.text(), "<h1>Hello, World!</h1>\n");
    assert_eq!(get(hello.addr, "/elsewhere").status, 404);
}

#[test]
fn the_embed_example_serves_files_and_counts() {
    let (_site, embed) = embed_example();
    assert_eq!(get(embed.addr, "/hello.txt").text(), "hello file\n");
    for n in 1..=3 {
        let r = get(embed.addr, "/api/count");
        assert_eq!((r.status, r.header("content-type")), (200, Some("application/json")));
        assert_eq!(r.text(), format!("{{\"count\":{n}}}"));
    }
    assert_eq!(get(embed.addr, "/api/count/worker").status, 200);
    let r = exchange(embed.addr, "POST", "/api/echo", "Content-Type: text/plain\r\n", "hi");
    assert_eq!(r.status, 415, "a body that does not say it is JSON");
    let r = get(embed.addr, "/api/echo");
    assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
}

#[test]
fn the_embed_example_echoes_json() {
    let (_site, embed) = embed_example();
    let json = r#"{"greeting":"hello","n":[1,2,3]}"#;
    let r = exchange(embed.addr, "POST", "/api/echo", "Content-Type: application/json\r\n", json);
    assert_eq!((r.status, r.header("content-type")), (200, Some("application/json")));
    assert_eq!(r.text(), json);
}

// ---- routers served in process ----

/// A server on 127.0.0.1:0 answering with `router`, over the fixture site.
struct Routed {
    server: Server,
    /// Keeps the fixture's directory alive while the server runs.
    _site: Site,
}

impl Routed {
    fn start(router: impl FnOnce(&Site) -> Router) -> Routed {
        let site = Site::new();
        let router = router(&site);
        let server = Server::bind(test_config(), router).expect("server starts");
        Routed { server, _site: site }
    }

    fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }
}

fn says(text: &'static str) -> impl Fn(&Request) -> Reply + Send + Sync + 'static {
    move |_: &Request| Reply::text(text)
}

#[test]
fn exact_paths_beat_prefixes_and_longer_prefixes_beat_shorter() {
    let s = Routed::start(|_| {
        Router::new()
            .get("/api/*", says("api prefix"))
            .get("/api/users/*", says("users prefix"))
            .get("/api/users", says("users exact"))
            .fallback(says("fallback"))
    });
    let cases = [
        ("/api/users", "users exact"),
        ("/api/users/7", "users prefix"),
        ("/api/users/", "users prefix"),
        ("/api/other", "api prefix"),
        ("/api/", "api prefix"),
        ("/api", "fallback"),
        ("/api/users?x=1", "users exact"),
        ("/", "fallback"),
    ];
    for (target, expected) in cases {
        assert_eq!(get(s.addr(), target).text(), expected, "{target}");
    }
}

#[test]
fn a_path_routed_for_other_methods_answers_405_with_allow() {
    let s = Routed::start(|site| {
        Router::new()
            .get("/item", says("read"))
            .route("DELETE", "/item", says("deleted"))
            .post("/submit", says("posted"))
            .fallback(StaticFiles::new(site.root()).expect("fixture root"))
    });
    assert_eq!(exchange(s.addr(), "DELETE", "/item", "", "").text(), "deleted");
    let head = exchange(s.addr(), "HEAD", "/item", "", "");
    assert_eq!((head.status, head.header("content-length")), (200, Some("4")), "GET routes answer HEAD too");
    let r = exchange(s.addr(), "PUT", "/item", "", "x");
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD, DELETE")));
    let r = get(s.addr(), "/submit");
    assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
    // Routes come before the files' own 405: POST is routed here...
    assert_eq!(exchange(s.addr(), "POST", "/submit", "", "x").text(), "posted");
    // ...while an unrouted path keeps the files' answer.
    let r = exchange(s.addr(), "POST", "/hello.txt", "", "x");
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD, OPTIONS")));
    assert_eq!(get(s.addr(), "/hello.txt").text(), "hello file\n");
}

#[test]
fn a_router_without_a_fallback_answers_404() {
    let s = Routed::start(|_| Router::new().get("/only", says("only")));
    assert_eq!(get(s.addr(), "/only").status, 200);
    assert_eq!(get(s.addr(), "/hello.txt").status, 404);
}

#[test]
fn a_closure_keeps_state_shared_by_all_workers() {
    let s = Routed::start(|_| {
        let calls = Arc::new(AtomicU64::new(0));
        Router::new().get("/next", move |_: &Request| Reply::text(calls.fetch_add(1, Ordering::Relaxed).to_string()))
    });
    // New connections land on either of the two workers; one counter.
    let seen: Vec<String> = (0..10).map(|_| get(s.addr(), "/next").text()).collect();
    let expected: Vec<String> = (0..10).map(|n| n.to_string()).collect();
    assert_eq!(seen, expected);
}

#[test]
fn a_per_worker_handler_counts_on_its_own_worker() {
    let made = Arc::new(AtomicU64::new(0));
    let factory_runs = Arc::clone(&made);
    let s = Routed::start(move |_| {
        Router::new().per_worker(Method::GET, "/count", move |_worker| {
            factory_runs.fetch_add(1, Ordering::Relaxed);
            let instance = format!("{:p}", Box::new(0u8)); // tells instances apart
            let mut n = 0u64;
            move |_: &Request| {
                n += 1;
                Reply::text(format!("{instance} {n}"))
            }
        })
    });
    assert_eq!(made.load(Ordering::Relaxed), 2, "the factory runs once per worker (the tests use two)");
    // On one keep-alive connection every request goes to the same worker,
    // so its counter goes up by one each time.
    let mut stream = connect(s.addr());
    let mut instance = None;
    for n in 1..=5u64 {
        send(&mut stream, "GET /count HTTP/1.1\r\nHost: t\r\n\r\n");
        let text = read_response(&mut stream, false).expect("a response").text();
        let (id, count) = text.split_once(' ').expect("instance and count");
        assert_eq!(count, n.to_string());
        assert_eq!(*instance.get_or_insert_with(|| id.to_string()), id, "the same worker's instance");
    }
    // Across many connections at most the two instances answer.
    let ids: HashSet<String> =
        (0..20).map(|_| get(s.addr(), "/count").text().split(' ').next().unwrap_or_default().to_string()).collect();
    assert!(!ids.is_empty() && ids.len() <= 2, "instances seen: {ids:?}");
}

#[test]
fn a_per_worker_endpoint_can_be_limited_to_a_method() {
    let s = Routed::start(|_| {
        Router::new().get(
            "/mine",
            Endpoint::per_worker(|_worker| {
                let mut seen = Vec::new(); // a plain Vec: no lock, no atomic
                move |request: &Request| {
                    seen.push(format!("?{}", request.query()));
                    Reply::text(seen.join(","))
                }
            }),
        )
    });
    let mut stream = connect(s.addr());
    for (target, expected) in [("/mine?a", "?a"), ("/mine?b", "?a,?b")] {
        send(&mut stream, &format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n"));
        assert_eq!(read_response(&mut stream, false).expect("a response").text(), expected);
    }
    let r = exchange(s.addr(), "POST", "/mine", "", "x");
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD")));
}

#[test]
fn static_files_under_a_prefix_have_the_prefix_stripped() {
    let s = Routed::start(|site| {
        Router::new().get("/static/*", StaticFiles::new(site.root()).expect("fixture root")).fallback(says("app"))
    });
    assert_eq!(get(s.addr(), "/static/hello.txt").text(), "hello file\n");
    assert_eq!(get(s.addr(), "/static/nested/file.txt").text(), "nested");
    assert_eq!(get(s.addr(), "/static/sub/").text(), "sub index");
    let r = get(s.addr(), "/static/sub");
    assert_eq!((r.status, r.header("location")), (301, Some("/static/sub/")), "redirects keep the prefix");
    assert_eq!(get(s.addr(), "/static/").text(), "<!doctype html><title>home</title>");
    assert!(get(s.addr(), "/static/nested/").text().contains("file.txt"), "a listing");
    // Confinement holds under a prefix too (`..` is a 400, as at the root).
    assert_eq!(get(s.addr(), "/static/../hello.txt").status, 400);
    assert_eq!(get(s.addr(), "/static/%2e%2e/hello.txt").status, 400);
    assert_eq!(get(s.addr(), "/static/.secret").status, 404);
    assert_eq!(get(s.addr(), "/static/escape").status, 404);
    // Outside the prefix the fallback answers, not the folder.
    assert_eq!(get(s.addr(), "/hello.txt").text(), "app");
    assert_eq!(get(s.addr(), "/static").text(), "app");
    let r = exchange(s.addr(), "POST", "/static/hello.txt", "", "x");
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD")));
}

#[test]
fn a_header_value_with_cr_lf_is_refused_not_sent() {
    let s = Routed::start(|_| {
        Router::new().get("/greet", |request: &Request| {
            // Request data copied into a response header: the classic
            // response-splitting mistake. The API refuses the field.
            let name = request.query().trim_start_matches('?');
            let decoded = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
            match Reply::text("hi").with_header("X-Greeting", &decoded) {
                Ok(reply) => reply,
                Err(e) => Reply::text(e.to_string()).with_status(StatusCode::BAD_REQUEST),
            }
        })
    });
    let ok = get(s.addr(), "/greet?ann");
    assert_eq!((ok.status, ok.header("x-greeting")), (200, Some("ann")));
    let r = get(s.addr(), "/greet?ann%0d%0aSet-Cookie:%20session=stolen");
    assert_eq!(r.status, 400);
    assert_eq!(r.header("set-cookie"), None, "no injected field on the wire");
    assert_eq!(r.header("x-greeting"), None);
    assert!(r.text().contains("control character"), "the handler saw the error: {}", r.text());
}

// ---- request bodies: 100 Continue, chunked, streamed (issue 21) ----

/// Runs curl with `args`; its stdout, and whether its verbose trace shows a
/// `100 Continue` from the server.
fn curl_body(args: &[&str]) -> (String, bool) {
    let out = Command::new("curl").args(["-sS", "-v", "--max-time", "20"]).args(args).output().expect("run curl");
    assert!(out.status.success(), "curl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let trace = String::from_utf8_lossy(&out.stderr);
    (String::from_utf8_lossy(&out.stdout).into_owned(), trace.contains("< HTTP/1.1 100 Continue"))
}

#[test]
fn the_embed_example_echoes_bodies_sent_after_100_continue_and_chunked() {
    if !have_tool("curl") {
        return;
    }
    let (_site, embed) = embed_example();
    let dir = tempfile::tempdir().expect("temp dir");
    let json: String = format!("{{\"items\":[{}]}}", (0..300).map(|i| format!("{i}")).collect::<Vec<_>>().join(","));
    assert!(json.len() > 1000);
    let file = dir.path().join("2k.json");
    std::fs::write(&file, &json).expect("write the body");
    let data = format!("@{}", file.display());
    let url = format!("http://{}/api/echo", embed.addr);
    let json_type = "Content-Type: application/json";
    // curl waits for 100 Continue before it sends the body; the handler
    // gets all of it (it was answered with an empty body before).
    let (echoed, continued) = curl_body(&["-H", json_type, "-H", "Expect: 100-continue", "--data-binary", &data, &url]);
    assert!(continued, "the server sent 100 Continue");
    assert_eq!(echoed, json);
    // Chunked: decoded before the handler sees it.
    let (echoed, _) = curl_body(&["-H", json_type, "-H", "Transfer-Encoding: chunked", "--data-binary", &data, &url]);
    assert_eq!(echoed, json);
    // Both on one connection, then a GET: the framing left nothing behind.
    let (both, _) = curl_body(&[
        "-H",
        json_type,
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        &data,
        &url,
        "--next",
        "-H",
        json_type,
        "-H",
        "Expect: 100-continue",
        "--data-binary",
        &data,
        &url,
        "--next",
        &format!("http://{}/hello.txt", embed.addr),
    ]);
    assert_eq!(both, format!("{json}{json}hello file\n"));
}

#[test]
fn a_streaming_route_takes_a_large_upload_in_pieces() {
    if !have_tool("curl") {
        return;
    }
    let (_site, embed) = embed_example();
    let dir = tempfile::tempdir().expect("temp dir");
    // 24 MiB with a known number of lines: far past Config::max_body_bytes.
    let line = "x".repeat(1023) + "\n";
    let lines = 24 * 1024;
    let file = dir.path().join("big.txt");
    std::fs::write(&file, line.repeat(lines)).expect("write the upload");
    let url = format!("http://{}/api/size", embed.addr);
    let want = format!("{{\"bytes\":{},\"lines\":{lines}}}", lines * 1024);
    // curl -T: PUT, with Expect: 100-continue for a body this large.
    let (answer, continued) = curl_body(&["-T", &file.display().to_string(), &url]);
    assert!(continued, "curl -T waits for 100 Continue on a large upload");
    assert_eq!(answer, want);
    let (answer, _) = curl_body(&["-T", &file.display().to_string(), "-H", "Transfer-Encoding: chunked", &url]);
    assert_eq!(answer, want);
}

/// What a streaming route in these tests saw.
#[derive(Default)]
struct Uploads {
    finished: AtomicU64,
    /// Sinks dropped before their body ended (client gone, refused, too slow).
    abandoned: AtomicU64,
}

/// Keeps a body's bytes, refusing more than 1,000 with 507.
struct Keep {
    bytes: Vec<u8>,
    uploads: Arc<Uploads>,
    done: bool,
}

impl rawserve::BodySink for Keep {
    fn write(&mut self, piece: &[u8]) -> Result<(), Reply> {
        self.bytes.extend_from_slice(piece);
        if self.bytes.len() > 1000 {
            return Err(Reply::status(StatusCode::INSUFFICIENT_STORAGE));
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Reply {
        self.done = true;
        self.uploads.finished.fetch_add(1, Ordering::Relaxed);
        Reply::text(String::from_utf8_lossy(&self.bytes).into_owned())
    }
}

impl Drop for Keep {
    fn drop(&mut self) {
        if !self.done {
            self.uploads.abandoned.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// `/echo` (a handler reading the body whole) and `PUT /keep` (streaming),
/// then the fixture's files.
fn body_routes(uploads: &Arc<Uploads>) -> Routed {
    let uploads = Arc::clone(uploads);
    Routed::start(move |site| {
        Router::new()
            .post("/echo", |request: &Request| Reply::text(String::from_utf8_lossy(request.body()).into_owned()))
            .route(
                "PUT",
                "/keep",
                Endpoint::streaming(move |_| {
                    let uploads = Arc::clone(&uploads);
                    move |_: &Request| {
                        rawserve::Started::Read(Box::new(Keep {
                            bytes: Vec::new(),
                            uploads: Arc::clone(&uploads),
                            done: false,
                        }))
                    }
                }),
            )
            .fallback(StaticFiles::new(site.root()).expect("fixture root"))
    })
}

#[test]
fn chunked_bodies_with_trailers_and_the_next_request_on_one_connection() {
    let s = body_routes(&Arc::default());
    let mut stream = connect(s.addr());
    send(
        &mut stream,
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTrailer: Digest\r\n\r\n\
         6\r\nhello \r\n5;note=x\r\nworld\r\n0\r\nDigest: sha-256=abc\r\n\r\n",
    );
    let r = read_response(&mut stream, false).expect("a response");
    assert_eq!((r.status, r.text().as_str(), r.header("connection")), (200, "hello world", None));
    // The trailers were read to their end: the next request is whole.
    send(
        &mut stream,
        "PUT /keep HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX: 1\r\n\r\n",
    );
    assert_eq!(read_response(&mut stream, false).expect("a response").text(), "abc");
    send(&mut stream, "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(read_response(&mut stream, false).expect("a response").text(), "hello file\n");
}

#[test]
fn bodies_are_refused_with_411_413_and_417() {
    let uploads = Arc::new(Uploads::default());
    let s = body_routes(&uploads);
    let cases: &[(&str, u16)] = &[
        // HTTP/1.0 cannot send chunked: without a length a body has no end.
        ("POST /echo HTTP/1.0\r\n\r\n", 411),
        // Past Config::max_body_bytes for a handler reading it whole: by
        // its length, before it is sent, or as it arrives in chunks.
        ("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 65537\r\n\r\n", 413),
        ("POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 9999999\r\n\r\n", 413),
        ("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n10001\r\n", 413),
        // A streaming sink's own limit: its answer (507 here).
        ("PUT /keep HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3e9\r\n", 0),
        // An expectation the server cannot meet.
        ("POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\nhi", 417),
        // Malformed chunked framing.
        ("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2x\r\nhi\r\n0\r\n\r\n", 400),
    ];
    for &(raw, status) in cases {
        let mut stream = connect(s.addr());
        send(&mut stream, raw);
        if status == 0 {
            // 1,001 bytes, more than the sink keeps.
            send(&mut stream, &"y".repeat(1001));
        }
        let r = read_response(&mut stream, false).expect("a response");
        let want = if status == 0 { 507 } else { status };
        assert_eq!((r.status, r.header("connection")), (want, Some("close")), "{raw:?}");
        if status != 0 {
            // The page names the refusal ("411 Length Required").
            let phrase = match status {
                400 => "Bad Request",
                411 => "Length Required",
                413 => "Content Too Large",
                _ => "Expectation Failed",
            };
            assert_eq!(r.text(), format!("{status} {phrase}\n"), "{raw:?}");
        }
        assert_closed(&mut stream);
    }
    assert_eq!(uploads.abandoned.load(Ordering::Relaxed), 1, "the refusing sink was dropped");
    assert_eq!(uploads.finished.load(Ordering::Relaxed), 0);
}

#[test]
fn an_upload_cut_short_is_dropped_not_finished() {
    let uploads = Arc::new(Uploads::default());
    let s = body_routes(&uploads);
    let mut stream = connect(s.addr());
    send(&mut stream, "PUT /keep HTTP/1.1\r\nHost: t\r\nContent-Length: 500\r\n\r\nonly part of it");
    drop(stream);
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    while uploads.abandoned.load(Ordering::Relaxed) == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(uploads.abandoned.load(Ordering::Relaxed), 1, "the sink was dropped when the client went away");
    assert_eq!(uploads.finished.load(Ordering::Relaxed), 0, "and never finished with part of a body");
    // The server goes on.
    assert_eq!(get(s.addr(), "/hello.txt").text(), "hello file\n");
}
