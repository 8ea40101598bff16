//! One request/response exchange, decided without I/O: from the bytes a
//! connection has buffered and a few facts about it, to what should happen
//! next (the response, how the connection continues, how many bytes were
//! used, how many body bytes to throw away).
//!
//! [`decide`] parses with `http::request`, applies the framing rules (body
//! skipping, bodies buffered for routes that want them, the head and body
//! limits, HTTP version handling), answers the health path before routing,
//! routes with the worker's router, and records the request's access-log
//! entry (written by the connection when the response ends, see
//! `access_log`). [`persistence`] is the one place that decides
//! keep-alive, and [`after_response`] what follows a sent response;
//! [`encode`] is the one path that turns any response into bytes. Sockets,
//! buffers and timers are left to `connection`, which performs decisions.

use std::fs::File;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use crate::access_log::Recorder;
use crate::config::Config;
use crate::handlers::LocalRouter;
use crate::http::request::{self, BodyLength, FieldSlots, Method, Request, RequestError, Version};
use crate::http::response::{Body, Chunk, Response};
use crate::proxy;

/// What the exchange needs from its surroundings: settings, and the
/// worker's router (with its handlers' state).
pub struct Surroundings<'a> {
    pub config: &'a Config,
    pub router: &'a mut LocalRouter,
    /// Where the answered request's access-log fields go; `None` when the
    /// access log is off.
    pub entry: Option<Recorder<'a>>,
}

/// What the connection knows that the bytes do not say.
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    /// The client: the socket's peer, or the address a PROXY header gave.
    pub peer: SocketAddr,
    /// When the request's bytes were taken up, for the time it took.
    pub now: Instant,
    /// The server is shutting down: answer what is complete, wait for nothing.
    pub draining: bool,
    /// Body bytes of an earlier request still to skip at the start of the input.
    pub discard: u64,
    /// Plain HTTP arrived on an HTTPS port: every request is redirected.
    pub plain_on_tls_port: bool,
}

/// How the connection continues after a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// Read the next request.
    KeepAlive,
    /// Close once the response is sent.
    Close,
    /// Close, but the client may still be sending data we did not read (a
    /// refused head, an unread body): shut our side and read until it
    /// closes, so its data does not turn our close into a reset that
    /// destroys the response in flight.
    Linger,
}

/// What [`decide`] says to do with the buffered input.
#[derive(Debug)]
pub enum Decision {
    /// Drop this many bytes of a body being skipped, then decide again.
    Discard(usize),
    /// Nothing can be answered yet: read more, while the input holds fewer
    /// than `limit` bytes (a longer input is answered, with an error if need be).
    Wait { limit: usize, head_started: bool },
    /// Send this answer.
    Answer(Answer),
}

/// A response decided for one request, with how to frame what follows.
#[derive(Debug)]
pub struct Answer {
    pub response: Response,
    /// Send the head only (HEAD).
    pub head_only: bool,
    /// The client speaks HTTP/1.0 (the head says keep-alive explicitly).
    pub http10: bool,
    pub persistence: Persistence,
    /// Input bytes used (head, and a buffered body); never more than the input.
    pub consumed: usize,
    /// Body bytes to skip after those.
    pub discard: u64,
}

impl Answer {
    /// The answer to a head that could not be accepted: an error, and a
    /// lingering close because the client may be mid-send.
    fn refuse(error: RequestError, consumed: usize, facts: &Facts, around: &mut Surroundings<'_>) -> Answer {
        log::info!("{}: {error}", facts.peer);
        if let Some(entry) = &mut around.entry {
            entry.record(facts.peer.ip(), None, error.status(), facts.now);
        }
        Answer::error(error.status(), consumed)
    }

    /// An error answer and a lingering close; for refusals here and for
    /// the connection's own (timeouts, memory), which record their entry.
    pub fn error(status: u16, consumed: usize) -> Answer {
        Answer {
            response: Response::error(status),
            head_only: false,
            http10: false,
            persistence: Persistence::Linger,
            consumed,
            discard: 0,
        }
    }
}

/// How a request's body is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyUse {
    /// No body, or one the request carries (buffered for its handler).
    Used,
    /// Skipped after the answer; the next request follows it.
    Skipped,
    /// Its end cannot be trusted or found (Expect, chunked): answer and close.
    Unread,
}

/// Decides what to do with `input`, the bytes buffered on a connection.
pub fn decide(input: &[u8], facts: &Facts, around: &mut Surroundings<'_>) -> Decision {
    if facts.discard > 0 {
        if input.is_empty() {
            return Decision::Wait { limit: usize::MAX, head_started: false };
        }
        return Decision::Discard(facts.discard.min(input.len() as u64) as usize);
    }
    let max_head = around.config.max_head_bytes;
    if input.is_empty() {
        // What parsing nothing would decide, without the parse: a connection
        // asks this before each read, twice per request.
        return Decision::Wait { limit: max_head, head_started: false };
    }
    let max_headers = around.config.max_headers;
    // Only the first `max_head` bytes are parsed, so an oversized head gets
    // the same answer however its bytes were split (found by fuzzing: a
    // malformed byte past the limit gave 400 read whole, 431 read in pieces).
    let window = input.len().min(max_head);
    // A later HTTP/1.x is parsed again from a copy that says 1.1 (RFC 9110 §6.2).
    let rewritten;
    let mut slots = FieldSlots::new();
    let mut slots_again = FieldSlots::new();
    let (source, parsed) = match request::parse(&input[..window], &mut slots, max_headers) {
        Err(RequestError::MinorVersion) => match request::as_http11(input) {
            Some(copy) => {
                rewritten = copy;
                (&rewritten[..], request::parse(&rewritten[..window], &mut slots_again, max_headers))
            }
            None => (input, Err(RequestError::MinorVersion)),
        },
        parsed => (input, parsed),
    };
    match parsed {
        Ok(Some(mut request)) => answer(&mut request, source, facts, around),
        Ok(None) if input.len() >= max_head => {
            let error = if input.contains(&b'\n') { RequestError::HeadTooLarge } else { RequestError::TargetTooLong };
            Decision::Answer(Answer::refuse(error, input.len(), facts, around))
        }
        // Also while draining; the connection then closes rather than wait
        // (see `Connection::begin_shutdown`).
        Ok(None) => Decision::Wait { limit: max_head, head_started: !input.is_empty() },
        Err(error) => Decision::Answer(Answer::refuse(error, input.len(), facts, around)),
    }
}

/// Frames, routes and logs a parsed request.
fn answer<'b>(request: &mut Request<'b>, source: &'b [u8], facts: &Facts, around: &mut Surroundings<'_>) -> Decision {
    let available = source.len();
    if facts.plain_on_tls_port {
        return Decision::Answer(redirect_to_https(request, available, facts, around));
    }
    let mut consumed = request.head_len;
    let mut discard = 0;
    let body_use = match request.body {
        BodyLength::None => BodyUse::Used,
        BodyLength::Length(n) if n > around.config.max_body_bytes => {
            return Decision::Answer(Answer::refuse(RequestError::BodyTooLarge, available, facts, around));
        }
        // A client waiting for "100 Continue" may never send the body, so
        // its length cannot be trusted to find the next request: close.
        // (Sending 100 Continue for routes that want the body is future work.)
        BodyLength::Length(_) if request.header("expect").is_some() => BodyUse::Unread,
        // Only a handler the router would call reads bodies; static files
        // never do, so their requests are answered at once and any body
        // skipped (a slow body cannot hold them up).
        BodyLength::Length(n) if around.router.wants_body(request) => {
            // OK to convert: n <= max_body_bytes, which a buffer can hold.
            let end = request.head_len.saturating_add(usize::try_from(n).unwrap_or(usize::MAX));
            if available < end {
                // The wait counts against the head timeout: the head timer keeps running.
                return Decision::Wait { limit: end, head_started: true };
            }
            request.attach_body(&source[request.head_len..end]);
            consumed = end;
            BodyUse::Used
        }
        BodyLength::Length(n) => {
            discard = n;
            BodyUse::Skipped
        }
        // The end of a chunked body cannot be found without decoding it;
        // decoding (or 411 Length Required) is future work: answer and close.
        BodyLength::Chunked => BodyUse::Unread,
    };
    let health = around.config.health_path.as_deref().is_some_and(|path| path == request.path());
    let router = &mut *around.router;
    let (response, panicked) = if health {
        (health_response(facts.draining), false)
    } else {
        match catch_unwind(AssertUnwindSafe(|| router.route(request))) {
            Ok(response) => (response, false),
            Err(_) => {
                log::warn!("{}: handler panicked on {} {}", facts.peer, request.method_str, request.target);
                (Response::error(500), true)
            }
        }
    };
    let persistence = persistence(request.keep_alive, body_use, response.close || panicked, facts.draining);
    let head_only = request.method == Method::Head;
    // Health checks come every few seconds from every balancer: not logged.
    if let (Some(entry), false) = (&mut around.entry, health) {
        let client = match around.config.trusted_proxies.as_slice() {
            [] => facts.peer.ip(),
            trusted => proxy::forwarded_client(facts.peer.ip(), trusted, || request.headers()),
        };
        entry.record(client, Some(request), response.status, facts.now);
    }
    Decision::Answer(Answer {
        response,
        head_only,
        http10: request.version == Version::Http10,
        persistence,
        consumed: consumed.min(available),
        discard,
    })
}

/// The answer to plain HTTP on an HTTPS port: `307` to the same URL on
/// `https://` (the Host as sent), then close. 307 rather than 301: a port
/// that is HTTPS today may be plain tomorrow (a development server), and
/// browsers keep a 301 for good; 307 also keeps the method and body. A
/// request without a Host (HTTP/1.0) names no URL to send it to: 400.
fn redirect_to_https(request: &Request, available: usize, facts: &Facts, around: &mut Surroundings<'_>) -> Answer {
    let location = request.header("host").map(|host| match request.target.strip_prefix("http://") {
        // An absolute-form target already names the host.
        Some(rest) => format!("https://{rest}"),
        None if request.target.starts_with('/') => format!("https://{host}{}", request.target),
        None => format!("https://{host}/"),
    });
    let response = location
        .and_then(|location| Response::redirect(&location).ok())
        .map_or_else(|| Response::error(400), |response| response.with_status(307));
    if let Some(entry) = &mut around.entry {
        entry.record(facts.peer.ip(), Some(request), response.status, facts.now);
    }
    let persistence = if request.body == BodyLength::None { Persistence::Close } else { Persistence::Linger };
    Answer {
        head_only: request.method == Method::Head,
        http10: request.version == Version::Http10,
        response,
        persistence,
        consumed: available,
        discard: 0,
    }
}

/// The health path's answer: `ok` while serving, 503 from the first
/// shutdown signal so a load balancer sends no new work. Never cached.
fn health_response(draining: bool) -> Response {
    let response = if draining { Response::error(503) } else { Response::text("ok\n") };
    response.header("Cache-Control", "no-store")
}

/// The one keep-alive decision: the client must allow it (version default
/// and `Connection`), the body's end must be known, the handler must not
/// ask to close (nor have panicked), and the server must not be draining.
fn persistence(client_allows: bool, body: BodyUse, handler_closes: bool, draining: bool) -> Persistence {
    if body == BodyUse::Unread {
        Persistence::Linger
    } else if client_allows && !handler_closes && !draining {
        Persistence::KeepAlive
    } else {
        Persistence::Close
    }
}

/// What follows a fully sent response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Read the next request.
    Read,
    /// Close now: nothing more is coming from the client.
    Close,
    /// Shut our side, read and discard until the client closes.
    Linger,
}

/// Applies `persistence` once the response is out. A response that said
/// keep-alive keeps the connection even if the server started draining
/// meanwhile, but only for requests that have already arrived whole: they
/// are answered (with `Connection: close`) rather than lost, and with
/// nothing complete the connection closes at once (nginx's graceful stop;
/// the reasoning is at `Connection::begin_shutdown`). A close must linger
/// when the client may still be sending (`more_may_come`: unread bytes are
/// buffered or the socket is readable) unless it has already finished
/// (`peer_done`).
pub fn after_response(persistence: Persistence, peer_done: bool, more_may_come: bool) -> Next {
    match persistence {
        Persistence::KeepAlive => Next::Read,
        _ if peer_done => Next::Close,
        Persistence::Linger => Next::Linger,
        _ if more_may_come => Next::Linger,
        _ => Next::Close,
    }
}

/// A file (or streamed) body still to send after the encoded bytes.
pub struct FileBody {
    /// `None` for a streamed body.
    pub file: Option<File>,
    pub chunks: Vec<Chunk>,
}

/// Encodes `response` into `out` (the head through `Response::write_head`,
/// then an in-memory body); a file body is returned for the caller to send.
/// Every response rawserve sends goes through here.
pub fn encode(
    response: Response,
    head_only: bool,
    persistence: Persistence,
    http10: bool,
    date: &str,
    out: &mut Vec<u8>,
) -> Option<FileBody> {
    response.write_head(out, date, persistence == Persistence::KeepAlive, http10);
    if head_only {
        return None;
    }
    match response.body {
        // The connection prepares such a response before it encodes it.
        Body::Empty | Body::Later(_) => None,
        Body::Bytes(bytes) => {
            out.extend_from_slice(&bytes);
            None
        }
        Body::Shared(bytes) => {
            out.extend_from_slice(&bytes);
            None
        }
        Body::File { file, chunks } => Some(FileBody { file: Some(file), chunks }),
        Body::Stream(source) => Some(FileBody { file: None, chunks: vec![Chunk::Stream { source, chunked: !http10 }] }),
    }
}

/// A whole server's surroundings without a server, for the unit tests and
/// the fuzz target: a site over a directory and a conversation simulator.
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub mod harness {
    use super::*;
    use crate::handlers::{Router, StaticFiles};

    /// Owns what [`Surroundings`] borrows.
    pub struct Harness {
        config: Config,
        router: LocalRouter,
    }

    /// One decision, summarised so sequences can be compared.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Step {
        /// Answered with this status and persistence; the body bytes as encoded.
        Answered { status: u16, persistence: Persistence, body: Vec<u8> },
    }

    impl Harness {
        /// Serves `routes`, then the files of `root` (which must exist), with
        /// `adjust`ed defaults.
        pub fn new(root: &std::path::Path, routes: Router, adjust: impl FnOnce(&mut Config)) -> Harness {
            let mut config = Config::new();
            adjust(&mut config);
            // OK to expect: a harness is only made over a directory the caller made.
            let files = StaticFiles::new(root).expect("the harness root is a directory");
            let router = routes.fallback(files).for_worker();
            Harness { config, router }
        }

        pub fn decide(&mut self, input: &[u8], facts: &Facts) -> Decision {
            let mut around = Surroundings { config: &self.config, router: &mut self.router, entry: None };
            decide(input, facts, &mut around)
        }

        /// Plays a connection that receives `chunks` one after another and
        /// performs every decision (as `connection` does), returning the
        /// steps. Stops at the first answer that does not keep the
        /// connection. Also checks what holds for every decision.
        pub fn converse(&mut self, chunks: &[&[u8]], draining: bool) -> Vec<Step> {
            let peer = SocketAddr::from(([127, 0, 0, 1], 9));
            let mut input: Vec<u8> = Vec::new();
            let mut discard = 0u64;
            let mut steps = Vec::new();
            for chunk in chunks {
                input.extend_from_slice(chunk);
                loop {
                    let facts =
                        Facts { peer, now: std::time::Instant::now(), draining, discard, plain_on_tls_port: false };
                    match self.decide(&input, &facts) {
                        Decision::Discard(n) => {
                            assert!(n > 0 && n <= input.len() && n as u64 <= discard, "discard {n}");
                            input.drain(..n);
                            discard -= n as u64;
                        }
                        Decision::Wait { limit, .. } => {
                            assert!(input.len() < limit, "waiting with {} of {limit} bytes", input.len());
                            break;
                        }
                        Decision::Answer(mut answer) => {
                            // Prepared to the end at once: a conversation has no other turns.
                            if let Body::Later(work) = &mut answer.response.body {
                                answer.response = loop {
                                    if let Some(response) = work.advance() {
                                        break response;
                                    }
                                };
                            }
                            assert!(answer.consumed <= input.len(), "consumed past the input");
                            assert!(answer.consumed > 0, "answered nothing");
                            let status = answer.response.status;
                            let mut out = Vec::new();
                            let file = encode(
                                answer.response,
                                answer.head_only,
                                answer.persistence,
                                answer.http10,
                                "-",
                                &mut out,
                            );
                            assert!(file.is_none() || !answer.head_only);
                            let body_at = out.windows(4).position(|w| w == b"\r\n\r\n").map_or(0, |i| i + 4);
                            let body = out[body_at..].to_vec();
                            steps.push(Step::Answered { status, persistence: answer.persistence, body });
                            input.drain(..answer.consumed);
                            discard = answer.discard;
                            if answer.persistence != Persistence::KeepAlive {
                                return steps;
                            }
                        }
                    }
                }
            }
            steps
        }
    }
}

#[cfg(test)]
mod tests {
    use super::harness::{Harness, Step};
    use super::*;
    use crate::handlers::Router;
    use crate::http::request::Request;

    use Persistence::{Close, KeepAlive, Linger};

    fn echo(request: &Request) -> Response {
        Response::bytes("application/octet-stream", request.body().to_vec()).expect("a valid content type")
    }

    /// A fresh site (index.html, a.txt, and a `/echo` route that returns
    /// its body) for each conversation, so the file cache never differs.
    fn harness() -> (tempfile::TempDir, Harness) {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("index.html"), "home").expect("fixture");
        std::fs::write(dir.path().join("a.txt"), "aaa").expect("fixture");
        let harness = Harness::new(dir.path(), Router::new().any("/echo", echo), |c| {
            c.max_head_bytes = 1024;
            c.max_body_bytes = 100;
        });
        (dir, harness)
    }

    /// The steps of one conversation receiving `chunks`.
    fn converse(chunks: &[&[u8]]) -> Vec<Step> {
        harness().1.converse(chunks, false)
    }

    /// Statuses and persistence of `raw` received in one piece.
    fn run(raw: &str) -> Vec<(u16, Persistence)> {
        summary(&converse(&[raw.as_bytes()]))
    }

    fn summary(steps: &[Step]) -> Vec<(u16, Persistence)> {
        steps
            .iter()
            .map(|s| match s {
                Step::Answered { status, persistence, .. } => (*status, *persistence),
            })
            .collect()
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
            // Bodies whose end is not trusted or not known: answer and close.
            ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", &[(200, Linger)]),
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
    fn routes_that_want_it_get_the_body() {
        let steps = converse(&[b"GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhel", b"lo"]);
        assert_eq!(steps, [Step::Answered { status: 200, persistence: KeepAlive, body: b"hello".to_vec() }]);
        let steps = converse(&[b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"]);
        assert_eq!(steps, [Step::Answered { status: 200, persistence: KeepAlive, body: Vec::new() }]);
    }

    #[test]
    fn every_split_point_gives_the_same_decisions() {
        let requests = [
            GET.repeat(2),
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nHost: x\r\n\r\n".into(),
            "GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbodyGET /a.txt HTTP/1.0\r\n\r\n".into(),
            "\r\nGET /a.txt HTTP/1.2\r\nHost: x\r\n\r\nGET / HTTP/2.0\r\n\r\n".into(),
            "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".into(),
            format!("GET / HTTP/1.1\r\nHost: x\r\nX: {}\x01\r\n\r\n", "y".repeat(1100)),
        ];
        for raw in &requests {
            let raw = raw.as_bytes();
            let whole = converse(&[raw]);
            assert!(!whole.is_empty());
            for at in 0..=raw.len() {
                let (a, b) = raw.split_at(at);
                assert_eq!(converse(&[a, b]), whole, "split at {at} of {:?}", String::from_utf8_lossy(raw));
            }
            let bytes: Vec<&[u8]> = raw.chunks(1).collect();
            assert_eq!(converse(&bytes), whole, "byte by byte");
        }
    }

    #[test]
    fn draining_answers_every_request_with_close() {
        let (_dir, mut h) = harness();
        assert_eq!(summary(&h.converse(&[GET.as_bytes()], true)), [(200, Close)]);
        // The exchange waits for the rest of a request, and answers it with
        // close; a draining connection does not wait (`Connection::begin_shutdown`).
        let (_dir, mut h) = harness();
        assert_eq!(summary(&h.converse(&[b"GET /a.txt HT", b"TP/1.1\r\nHost: x\r\n\r\n"], true)), [(200, Close)]);
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

    fn run_on(h: &mut Harness, raw: &str) -> Vec<(u16, Persistence)> {
        summary(&h.converse(&[raw.as_bytes()], false))
    }

    #[test]
    fn after_a_response() {
        let cases = [
            // (persistence, peer_done, more_may_come) -> next
            ((KeepAlive, false, false), Next::Read),
            ((Close, false, false), Next::Close),
            ((Close, false, true), Next::Linger),
            ((Linger, false, false), Next::Linger),
            ((Linger, true, true), Next::Close),
        ];
        for ((p, done, more), want) in cases {
            assert_eq!(after_response(p, done, more), want, "{p:?} {done} {more}");
        }
    }

    #[test]
    fn one_encoding_for_every_response() {
        let mut out = Vec::new();
        let body = encode(Response::error(503), false, Close, false, "D", &mut out);
        assert!(body.is_none());
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 503 Service Unavailable\r\nDate: D\r\n"), "{text}");
        assert!(text.ends_with("Connection: close\r\n\r\n503 Service Unavailable\n"), "{text}");
        let mut out = Vec::new();
        encode(Response::error(404), true, KeepAlive, true, "D", &mut out);
        assert!(String::from_utf8(out).unwrap().ends_with("Connection: keep-alive\r\n\r\n"));
    }

    #[test]
    fn plain_http_on_an_https_port_is_redirected_to_the_same_url() {
        let (_dir, mut harness) = harness();
        let peer = SocketAddr::from(([127, 0, 0, 1], 9));
        let facts =
            Facts { peer, now: std::time::Instant::now(), draining: false, discard: 0, plain_on_tls_port: true };
        let cases: &[(&str, u16, Option<&str>, Persistence)] = &[
            ("GET /a.txt?x=1 HTTP/1.1\r\nHost: h:8443\r\n\r\n", 307, Some("https://h:8443/a.txt?x=1"), Close),
            ("GET http://h:1/p HTTP/1.1\r\nHost: h:1\r\n\r\n", 307, Some("https://h:1/p"), Close),
            ("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", 307, Some("https://h/"), Close),
            // Not routed: the route that would read the body is not called.
            ("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi", 307, Some("https://h/echo"), Linger),
            ("GET / HTTP/1.0\r\n\r\n", 400, None, Close),
        ];
        for &(raw, status, location, persistence) in cases {
            let Decision::Answer(answer) = harness.decide(raw.as_bytes(), &facts) else {
                panic!("no answer to {raw:?}")
            };
            assert_eq!((answer.response.status, answer.persistence, answer.consumed), (status, persistence, raw.len()));
            let mut out = Vec::new();
            encode(answer.response, false, answer.persistence, false, "-", &mut out);
            let head = String::from_utf8(out).expect("ASCII head");
            match location {
                Some(location) => assert!(head.contains(&format!("\r\nLocation: {location}\r\n")), "{raw:?}: {head}"),
                None => assert!(!head.contains("Location"), "{raw:?}: {head}"),
            }
        }
    }
}
