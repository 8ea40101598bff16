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

use rawserve::{Endpoint, Request, Response as Reply, Router, Server, StaticFiles};

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
    let site = Site::new();
    let root = site.root().to_str().expect("utf-8 temp path").to_string();
    let embed = Example::start("embed", &[&root]);
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
    let site = Site::new();
    let root = site.root().to_str().expect("utf-8 temp path").to_string();
    let embed = Example::start("embed", &[&root]);
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
        Router::new().per_worker("/count", move || {
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
            Endpoint::per_worker(|| {
                let mut seen = Vec::new(); // a plain Vec: no lock, no atomic
                move |request: &Request| {
                    seen.push(request.query().to_string());
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
                Err(e) => Reply::text(e.to_string()).with_status(400),
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
