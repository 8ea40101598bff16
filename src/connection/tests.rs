//! The connection's conversations, played over an in-memory client
//! (`harness`): framing and persistence, bodies read whole or streamed,
//! `100 Continue`, refusals, draining, health, and plain HTTP on an HTTPS
//! port — each the same however the client's bytes are split.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use super::harness::{Client, Harness, Step};
use crate::handlers::{BodySink, Endpoint, Router, Started};
use crate::http::request::Request;
use crate::http::response::Response;
use crate::http1::exchange::Persistence::{self, Close, KeepAlive, Linger};

fn echo(request: &Request) -> Response {
    Response::bytes("application/octet-stream", request.body().to_vec()).expect("a valid content type")
}

/// What a streaming route's sinks did, across a conversation.
#[derive(Default)]
struct Seen {
    /// Sinks dropped without `finish` (bodies that never completed).
    abandoned: AtomicUsize,
    finished: AtomicBool,
}

/// A streaming sink that counts what it is given, refusing more than 20
/// bytes with 507 (a full disk, say).
struct Counting {
    bytes: Vec<u8>,
    seen: Arc<Seen>,
    done: bool,
}

impl BodySink for Counting {
    fn write(&mut self, piece: &[u8]) -> Result<(), Response> {
        self.bytes.extend_from_slice(piece);
        if self.bytes.len() > 20 {
            return Err(Response::status(http::StatusCode::INSUFFICIENT_STORAGE));
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Response {
        self.done = true;
        self.seen.finished.store(true, Ordering::Relaxed);
        let body = std::mem::take(&mut self.bytes);
        Response::bytes("application/octet-stream", body).expect("a valid content type")
    }
}

impl Drop for Counting {
    fn drop(&mut self) {
        if !self.done {
            self.seen.abandoned.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A fresh site (index.html, a.txt, a `/echo` route that returns its body,
/// and a streaming `/upload`) for each conversation, so the file cache
/// never differs.
fn harness_seeing(seen: &Arc<Seen>) -> (tempfile::TempDir, Harness) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("index.html"), "home").expect("fixture");
    std::fs::write(dir.path().join("a.txt"), "aaa").expect("fixture");
    let seen = Arc::clone(seen);
    let routes = Router::new().any("/echo", echo).route(
        "PUT",
        "/upload",
        Endpoint::streaming(move |_| {
            let seen = Arc::clone(&seen);
            move |request: &Request| {
                if request.header("x-refuse").is_some() {
                    return Started::from(http::StatusCode::FORBIDDEN);
                }
                Started::Read(Box::new(Counting { bytes: Vec::new(), seen: Arc::clone(&seen), done: false }))
            }
        }),
    );
    let harness = Harness::new(dir.path(), routes, |c| {
        c.max_head_bytes = 1024;
        c.max_body_bytes = 100;
    });
    (dir, harness)
}

fn harness() -> (tempfile::TempDir, Harness) {
    harness_seeing(&Arc::default())
}

/// The steps of one conversation receiving `chunks`.
fn converse(chunks: &[&[u8]]) -> Vec<Step> {
    harness().1.converse(chunks, false)
}

/// Statuses and persistence of `raw` received in one piece (`100
/// Continue` as 100).
fn run(raw: &str) -> Vec<(u16, Persistence)> {
    summary(&converse(&[raw.as_bytes()]))
}

fn summary(steps: &[Step]) -> Vec<(u16, Persistence)> {
    steps
        .iter()
        .map(|s| match s {
            Step::Continue => (100, KeepAlive),
            Step::Answered { status, persistence, .. } => (*status, *persistence),
        })
        .collect()
}

/// The answers alone (whether `100 Continue` comes depends on whether
/// body bytes came with the head).
fn answers(steps: Vec<Step>) -> Vec<Step> {
    steps.into_iter().filter(|s| *s != Step::Continue).collect()
}

const GET: &str = "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";

#[test]
fn framing_and_persistence() {
    let long_field = format!("GET / HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n", "y".repeat(2000));
    let long_line = format!("GET /{} HTTP/1.1", "y".repeat(2000));
    // Malformed, but only past the head limit: too large, however it is split.
    let late_error = format!("GET / HTTP/1.1\r\nHost: x\r\nX: {}\x01\r\n\r\n", "y".repeat(1100));
    let cases: &[(&str, &[(u16, Persistence)])] = &[
        (GET, &[(200, KeepAlive)]),
        // Pipelining: each request answered in turn.
        (&GET.repeat(3), &[(200, KeepAlive), (200, KeepAlive), (200, KeepAlive)]),
        // A body on a static file is skipped, and the next request follows it.
        (
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: x\r\n\r\n",
            &[(200, KeepAlive), (200, KeepAlive)],
        ),
        ("POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi", &[(405, KeepAlive)]),
        // Versions: 1.0 closes unless asked, 1.2 is read as 1.1, 2.0 is refused.
        ("GET /a.txt HTTP/1.0\r\n\r\n", &[(200, Close)]),
        ("GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &[(200, KeepAlive)]),
        ("GET /a.txt HTTP/1.2\r\nHost: x\r\n\r\n", &[(200, KeepAlive)]),
        ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", &[(505, Linger)]),
        ("GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &[(200, Close)]),
        // Oversized heads: 431, or 414 for the request line alone.
        (&long_field, &[(431, Linger)]),
        (&long_line, &[(414, Linger)]),
        (&late_error, &[(431, Linger)]),
        // A client waiting for 100 Continue on a route that reads no body
        // may never send it, so its end is not trusted: answer and close.
        ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", &[(200, Linger)]),
        // A chunked body nobody reads (a file's) is not decoded: answer and close.
        ("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", &[(200, Linger)]),
        ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n", &[(413, Linger)]),
        ("GET / HTTP/1.1\r\n\r\n", &[(400, Linger)]),
        // A route that wants the body gets it, then the next request,
        // whatever the method.
        (
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhiGET / HTTP/1.1\r\nHost: x\r\n\r\n",
            &[(200, KeepAlive), (200, KeepAlive)],
        ),
        (
            "GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhiGET / HTTP/1.1\r\nHost: x\r\n\r\n",
            &[(200, KeepAlive), (200, KeepAlive)],
        ),
        // Incomplete: nothing yet.
        ("GET / HTTP/1.1\r\nHost: x\r\n", &[]),
        ("GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhi", &[]),
    ];
    for (raw, want) in cases {
        assert_eq!(run(raw), *want, "for {:?}", &raw[..raw.len().min(80)]);
    }
}

#[test]
fn bodies_are_refused_with_the_status_that_says_why() {
    let cases: &[(&str, &[(u16, Persistence)])] = &[
        // Too large for a route that reads it whole: by its length, or as it arrives.
        ("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n", &[(413, Linger)]),
        (
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n\r\n",
            &[(413, Linger)],
        ),
        // Malformed chunked framing: 400.
        ("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", &[(400, Linger)]),
        ("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc", &[(400, Linger)]),
        // Trailers past the head limits: 431.
        (
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: \
             yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\
             yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\
             yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\
             yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\
             yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\
             yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\
             yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\
             yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\
             yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\
             yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\r\n\r\n",
            &[(431, Linger)],
        ),
        // Expectations other than 100-continue: 417, before any routing.
        ("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\nhi", &[(417, Linger)]),
        // HTTP/1.0 to a route that reads bodies, without a length: 411.
        ("POST /echo HTTP/1.0\r\n\r\n", &[(411, Linger)]),
        ("PUT /upload HTTP/1.0\r\n\r\n", &[(411, Linger)]),
        // ... but a body-less method, or a length, is fine.
        ("GET /echo HTTP/1.0\r\n\r\n", &[(200, Close)]),
        ("POST /echo HTTP/1.0\r\nContent-Length: 0\r\n\r\n", &[(200, Close)]),
        ("POST /echo HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi", &[(200, Close)]),
        // HTTP/1.1 without a length has no body.
        ("POST /echo HTTP/1.1\r\nHost: x\r\n\r\n", &[(200, KeepAlive)]),
    ];
    for (raw, want) in cases {
        assert_eq!(run(raw), *want, "for {:?}", &raw[..raw.len().min(90)]);
    }
}

#[test]
fn routes_that_want_it_get_the_body() {
    let steps = converse(&[b"GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhel", b"lo"]);
    assert_eq!(steps, [Step::Answered { status: 200, persistence: KeepAlive, body: b"hello".to_vec() }]);
    let steps = converse(&[b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"]);
    assert_eq!(steps, [Step::Answered { status: 200, persistence: KeepAlive, body: Vec::new() }]);
}

#[test]
fn a_chunked_body_with_trailers_reaches_the_handler_whole() {
    let raw = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
               5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nDigest: x\r\nX-More: y\r\n\r\n\
               GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    let steps = converse(&[raw.as_bytes()]);
    assert_eq!(
        steps,
        [
            Step::Answered { status: 200, persistence: KeepAlive, body: b"hello world".to_vec() },
            Step::Answered { status: 200, persistence: KeepAlive, body: b"aaa".to_vec() },
        ]
    );
}

#[test]
fn expect_100_continue_is_answered_only_for_routes_that_read_the_body() {
    let head = b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";
    // The client waits: 100 Continue, then the body, then the answer.
    let steps = converse(&[head, b"hello"]);
    assert_eq!(
        steps,
        [Step::Continue, Step::Answered { status: 200, persistence: KeepAlive, body: b"hello".to_vec() }]
    );
    // The same over chunked framing, and for a streaming route.
    let chunked = b"PUT /upload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n";
    let steps = converse(&[chunked, b"3\r\nabc\r\n0\r\n\r\n"]);
    assert_eq!(steps, [Step::Continue, Step::Answered { status: 200, persistence: KeepAlive, body: b"abc".to_vec() }]);
    // It did not wait: no 100.
    let steps =
        converse(&[b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"]);
    assert_eq!(steps, [Step::Answered { status: 200, persistence: KeepAlive, body: b"hello".to_vec() }]);
    // Too large: refused before the body is sent, no 100.
    let steps = converse(&[b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 500\r\n\r\n"]);
    assert_eq!(summary(&steps), [(413, Linger)]);
    // A route that reads no body: its answer at once, no 100, and a close.
    let steps = converse(&[b"POST /a.txt HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"]);
    assert_eq!(summary(&steps), [(405, Linger)]);
}

#[test]
fn a_streaming_route_reads_its_body_in_pieces() {
    let seen = Arc::new(Seen::default());
    let (_dir, mut h) = harness_seeing(&seen);
    let steps = h.converse(
        &[
            b"PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234",
            b"56789GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
        ],
        false,
    );
    assert_eq!(
        steps,
        [
            Step::Answered { status: 200, persistence: KeepAlive, body: b"0123456789".to_vec() },
            Step::Answered { status: 200, persistence: KeepAlive, body: b"aaa".to_vec() },
        ]
    );
    assert!(seen.finished.load(Ordering::Relaxed));
    // Larger than the whole-body limit: streaming routes have their own.
    let (_dir, mut h) = harness_seeing(&seen);
    let body = "x".repeat(20);
    let raw = format!("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n{body}");
    assert_eq!(summary(&h.converse(&[raw.as_bytes()], false)), [(200, KeepAlive)]);
}

#[test]
fn a_streaming_route_may_refuse_before_or_during_the_body() {
    let seen = Arc::new(Seen::default());
    let (_dir, mut h) = harness_seeing(&seen);
    // At the head: its answer, and a close (the body was not read).
    let raw = "PUT /upload HTTP/1.1\r\nHost: x\r\nX-Refuse: 1\r\nContent-Length: 5\r\n\r\nhello";
    assert_eq!(summary(&h.converse(&[raw.as_bytes()], false)), [(403, Linger)]);
    // Mid-way (the sink is full): its answer, and the sink is dropped.
    let raw = format!("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 30\r\n\r\n{}", "x".repeat(30));
    assert_eq!(summary(&h.converse(&[raw.as_bytes()], false)), [(507, Linger)]);
    assert_eq!(seen.abandoned.load(Ordering::Relaxed), 1);
}

#[test]
fn a_body_cut_short_leaves_no_finished_sink() {
    let seen = Arc::new(Seen::default());
    let (_dir, mut h) = harness_seeing(&seen);
    let client = Client { closes: true, ..Client::default() };
    let steps = h.converse_as(&[b"PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n012"], client);
    assert_eq!(steps, []);
    assert!(!seen.finished.load(Ordering::Relaxed));
    assert_eq!(seen.abandoned.load(Ordering::Relaxed), 1, "the sink is dropped: it cleans up");
}

#[test]
fn every_split_point_gives_the_same_answers() {
    let requests = [
        GET.repeat(2),
        "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nHost: x\r\n\r\n".into(),
        "GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbodyGET /a.txt HTTP/1.0\r\n\r\n".into(),
        "\r\nGET /a.txt HTTP/1.2\r\nHost: x\r\n\r\nGET / HTTP/2.0\r\n\r\n".into(),
        "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".into(),
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\nT: 1\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n".into(),
        "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhiGET / HTTP/1.1\r\nHost: x\r\n\r\n".into(),
        "PUT /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n".into(),
        format!("GET / HTTP/1.1\r\nHost: x\r\nX: {}\x01\r\n\r\n", "y".repeat(1100)),
    ];
    for raw in &requests {
        let raw = raw.as_bytes();
        let whole = answers(converse(&[raw]));
        assert!(!whole.is_empty());
        for at in 0..=raw.len() {
            let (a, b) = raw.split_at(at);
            assert_eq!(answers(converse(&[a, b])), whole, "split at {at} of {:?}", String::from_utf8_lossy(raw));
        }
        let bytes: Vec<&[u8]> = raw.chunks(1).collect();
        assert_eq!(answers(converse(&bytes)), whole, "byte by byte");
    }
}

#[test]
fn draining_answers_every_request_with_close() {
    let (_dir, mut h) = harness();
    assert_eq!(summary(&h.converse(&[GET.as_bytes()], true)), [(200, Close)]);
    // A head not received whole is not waited for (issue 20: one such
    // connection held SIGTERM for the whole grace period): closed at once.
    let (_dir, mut h) = harness();
    assert_eq!(summary(&h.converse(&[b"GET /a.txt HT", b"TP/1.1\r\nHost: x\r\n\r\n"], true)), []);
    // A body still arriving for a route that reads it is a request in
    // flight: it gets the grace, and its answer closes.
    let (_dir, mut h) = harness();
    let head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab";
    assert_eq!(summary(&h.converse(&[head, b"cd"], true)), [(200, Close)]);
    let (_dir, mut h) = harness();
    assert_eq!(h.converse(&[b""], true), []);
}

#[test]
fn health_is_answered_before_routing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut h = Harness::new(dir.path(), Router::new(), |c| c.health_path = Some("/healthz".into()));
    let steps = h.converse(&[b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"], false);
    assert_eq!(steps, [Step::Answered { status: 200, persistence: KeepAlive, body: b"ok\n".to_vec() }]);
    // Any method (haproxy checks with OPTIONS), a query, HEAD without body.
    assert_eq!(run_on(&mut h, "OPTIONS /healthz?x HTTP/1.1\r\nHost: x\r\n\r\n"), [(200, KeepAlive)]);
    // The root holds no such file: only the health answer could say 200.
    assert_eq!(run_on(&mut h, "GET /healthz/ HTTP/1.1\r\nHost: x\r\n\r\n"), [(404, KeepAlive)]);
    let draining = h.converse(&[b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"], true);
    assert!(matches!(draining.as_slice(), [Step::Answered { status: 503, persistence: Close, .. }]));
}

#[test]
fn metrics_count_each_exchange_once_with_its_final_status() {
    use crate::metrics::{Limit, MethodClass, Protocol};

    let (dir, _) = harness();
    let mut h = Harness::new(dir.path(), Router::new(), |c| {
        c.metrics_path = Some("/metrics".into());
        c.max_head_bytes = 1024;
        c.max_body_bytes = 100;
    });
    assert_eq!(run_on(&mut h, GET), [(200, KeepAlive)]);
    assert_eq!(run_on(&mut h, "HEAD /a.txt HTTP/1.0\r\n\r\n"), [(200, Close)]);
    assert_eq!(run_on(&mut h, "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n"), [(404, KeepAlive)]);
    assert_eq!(run_on(&mut h, "DELETE /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"), [(405, KeepAlive)]);
    let too_long = format!("GET / HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n", "y".repeat(2000));
    assert_eq!(run_on(&mut h, &too_long), [(431, Linger)]);
    assert_eq!(run_on(&mut h, "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n"), [(413, Linger)]);
    // A forwarded request on loopback came from elsewhere through a proxy.
    let forwarded = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n";
    assert_eq!(run_on(&mut h, forwarded), [(403, KeepAlive)]);

    let sum = h.metrics().expect("metrics are on");
    assert_eq!(sum.requests(MethodClass::Get, 1, Protocol::Http11), 1);
    assert_eq!(sum.requests(MethodClass::Head, 1, Protocol::Http10), 1);
    assert_eq!(sum.requests(MethodClass::Get, 3, Protocol::Http11), 3, "404, 413 and the 403");
    assert_eq!(sum.requests(MethodClass::Delete, 3, Protocol::Http11), 1);
    assert_eq!(sum.requests(MethodClass::Other, 3, Protocol::Unknown), 1, "the 431, its head never parsed");
    let limits = |limit: Limit| sum.get(crate::metrics::cells::LIMITS + limit as usize);
    assert_eq!((limits(Limit::HeadSize), limits(Limit::BodySize), limits(Limit::Timeout)), (1, 1, 0));

    // The scrape itself: loopback, answered before routing, not counted.
    let steps = h.converse(&[b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"], false);
    let [Step::Answered { status: 200, body, .. }] = steps.as_slice() else { panic!("{steps:?}") };
    let text = String::from_utf8_lossy(body);
    assert!(
        text.contains("rawserve_http_requests_total{method=\"GET\",status=\"2xx\",protocol=\"HTTP/1.1\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("rawserve_http_request_duration_seconds_count 7\n"), "{text}");
    assert_eq!(h.metrics().unwrap().requests(MethodClass::Get, 1, Protocol::Http11), 1, "scrapes are not counted");

    // Off: the path is an ordinary one, and nothing is counted.
    let mut off = Harness::new(dir.path(), Router::new(), |_| {});
    assert_eq!(run_on(&mut off, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), [(404, KeepAlive)]);
    assert!(off.metrics().is_none());
}

fn run_on(h: &mut Harness, raw: &str) -> Vec<(u16, Persistence)> {
    summary(&h.converse(&[raw.as_bytes()], false))
}

#[test]
fn plain_http_on_an_https_port_is_redirected_to_the_same_url() {
    let cases: &[(&str, u16, Option<&str>, Persistence)] = &[
        ("GET /a.txt?x=1 HTTP/1.1\r\nHost: h:8443\r\n\r\n", 307, Some("https://h:8443/a.txt?x=1"), Close),
        ("GET http://h:1/p HTTP/1.1\r\nHost: h:1\r\n\r\n", 307, Some("https://h:1/p"), Close),
        ("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", 307, Some("https://h/"), Close),
        // Not routed: the route that would read the body is not called.
        ("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi", 307, Some("https://h/echo"), Linger),
        ("GET / HTTP/1.0\r\n\r\n", 400, None, Close),
    ];
    let client = Client { plain_on_tls_port: true, ..Client::default() };
    for &(raw, status, location, persistence) in cases {
        let (_dir, mut harness) = harness();
        let (steps, written) = harness.converse_written(&[raw.as_bytes()], client);
        assert_eq!(summary(&steps), [(status, persistence)], "{raw:?}");
        let head = String::from_utf8_lossy(&written);
        match location {
            Some(location) => assert!(head.contains(&format!("\r\nLocation: {location}\r\n")), "{raw:?}: {head}"),
            None => assert!(!head.contains("Location"), "{raw:?}: {head}"),
        }
    }
}
