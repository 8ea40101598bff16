//! Malformed and hostile requests, one table row each: every row states the
//! exact answer (or a silent close) that RFC 9112 / RFC 9110 call for, and
//! after every row the server must still answer `GET /hello` on a fresh
//! connection. Nothing the server sends may contain the `escape` symlink's
//! target ("root:x") or the dotfile ("top secret").
//!
//! Where rawserve is lenient in a way the RFCs allow (bare LF, raw UTF-8 in
//! the target, `%zz` taken literally), the row says so.

use std::io::Write;
use std::net::Shutdown;
use std::time::Duration;

use crate::support::*;

/// How long a row waits for an answer or a close: everything here is
/// answered at once, so this only bounds a failure.
const WAIT: Duration = Duration::from_secs(5);

/// What the server must do with one raw request on a fresh connection.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Answer with this status and keep the connection: a `GET /hello`
    /// sent next on the same connection is answered 200, so the request was
    /// framed exactly (no body byte read as a request, nothing smuggled).
    Keep(u16),
    /// Answer with this status and `Connection: close`, then close without
    /// sending anything more.
    Close(u16),
    /// Answer with this status, then close (the client half-closed first, so
    /// no `Connection: close` is needed).
    ThenEof(u16),
    /// Close without a response.
    Silent,
}
use Expect::*;

/// One table: a server, and the rows that did not get their answer.
struct Table {
    server: TestServer,
    rows: usize,
    failures: Vec<String>,
}

impl Table {
    fn new() -> Table {
        Table { server: TestServer::start(), rows: 0, failures: Vec::new() }
    }

    fn with_config(adjust: impl FnOnce(&mut rawserve::Config)) -> Table {
        Table { server: TestServer::start_with(adjust), rows: 0, failures: Vec::new() }
    }

    /// Sends `raw` on a fresh connection and checks the answer.
    fn row(&mut self, raw: impl AsRef<[u8]>, expect: Expect) {
        self.exchange(raw.as_ref(), expect, false);
    }

    /// As `row`, on a connection that has already been answered once (so the
    /// server waits for it in its poll set), with `raw` and the client's FIN
    /// corked into one TCP segment: the server gets both in one readiness
    /// event, and must still notice the end of the stream.
    fn row_eof(&mut self, raw: impl AsRef<[u8]>, expect: Expect) {
        self.exchange(raw.as_ref(), expect, true);
    }

    fn exchange(&mut self, raw: &[u8], expect: Expect, half_close: bool) {
        self.rows += 1;
        let outcome = self.check(raw, expect, half_close).and_then(|()| self.hello_on_fresh_connection());
        if let Err(why) = outcome {
            let shown: String = String::from_utf8_lossy(raw).chars().take(160).collect();
            self.failures.push(format!("{shown:?}\n    expected {expect:?}: {why}"));
        }
    }

    fn check(&self, raw: &[u8], expect: Expect, half_close: bool) -> Result<(), String> {
        let mut stream = self.server.connect();
        stream.set_read_timeout(Some(WAIT)).map_err(|e| e.to_string())?;
        if half_close {
            send(&mut stream, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
            match try_read_response(&mut stream, false)? {
                Some(r) if r.status == 200 => {}
                other => return Err(format!("the first request on the connection got {other:?}")),
            }
            cork(&stream);
        }
        // The server may answer and close before a large request is all
        // sent; what it answered is what matters, so write errors are not.
        let _ = stream.write_all(raw);
        if half_close {
            let _ = stream.shutdown(Shutdown::Write);
        }
        let response = match (try_read_response(&mut stream, false)?, expect) {
            (None, Silent) => return Ok(()),
            (None, _) => return Err("closed without a response".to_string()),
            (Some(r), Silent) => return Err(format!("answered {} (expected a silent close)", r.status)),
            (Some(r), _) => r,
        };
        if contains(&response.body, b"root:x") || contains(&response.body, b"top secret") {
            return Err(format!("LEAK: {} with {:?}", response.status, response.text()));
        }
        let close = response.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let (Keep(status) | Close(status) | ThenEof(status)) = expect else { unreachable!() };
        if response.status != status {
            return Err(format!("answered {} {:?}", response.status, response.text()));
        }
        match expect {
            Keep(_) if close => Err("answered with Connection: close".to_string()),
            Keep(_) => {
                send(&mut stream, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
                match try_read_response(&mut stream, false) {
                    Ok(Some(next)) if next.status == 200 && next.body == b"Hello, world!" => Ok(()),
                    Ok(Some(next)) => {
                        Err(format!("next request on the same connection: {} {:?}", next.status, next.text()))
                    }
                    Ok(None) => Err("closed before the next request on the connection".to_string()),
                    Err(e) => Err(format!("next request on the connection: {e}")),
                }
            }
            Close(_) if !close => Err("no Connection: close".to_string()),
            _ => try_closed(&mut stream),
        }
    }

    fn hello_on_fresh_connection(&self) -> Result<(), String> {
        let mut stream = self.server.connect();
        stream.set_read_timeout(Some(WAIT)).map_err(|e| e.to_string())?;
        send(&mut stream, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
        match try_read_response(&mut stream, false) {
            Ok(Some(r)) if r.status == 200 && r.body == b"Hello, world!" => Ok(()),
            other => Err(format!("afterwards, GET /hello on a fresh connection got {other:?}")),
        }
    }

    /// Fails with every row that went wrong, not just the first.
    fn finish(self, at_least: usize) {
        assert!(self.rows >= at_least, "only {} rows", self.rows);
        assert!(
            self.failures.is_empty(),
            "{} of {} rows failed:\n{}",
            self.failures.len(),
            self.rows,
            self.failures.join("\n")
        );
    }
}

/// Holds back partial segments (TCP_CORK) so that what is written next and
/// the FIN of a `shutdown` leave together.
fn cork(stream: &std::net::TcpStream) {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: setsockopt on an open socket with a valid int option value.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_CORK,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "TCP_CORK: {}", std::io::Error::last_os_error());
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `GET target` with a Host.
fn get(target: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n")
}

/// `GET /hello` with a Host and these extra field lines (each ending in CRLF).
fn with(fields: &str) -> String {
    format!("GET /hello HTTP/1.1\r\nHost: t\r\n{fields}\r\n")
}

/// `GET /hello` with these field lines, then `body`.
fn with_body(fields: &str, body: &str) -> String {
    format!("GET /hello HTTP/1.1\r\nHost: t\r\n{fields}\r\n{body}")
}

/// A request line as given, then a Host.
fn line(request_line: &str) -> String {
    format!("{request_line}\r\nHost: t\r\n\r\n")
}

/// `GET /hello.txt` (11 bytes) with this `Range` value.
fn range(value: &str) -> String {
    format!("GET /hello.txt HTTP/1.1\r\nHost: t\r\nRange: {value}\r\n\r\n")
}

/// A request inside another one's body: must never be answered.
const SMUGGLED: &str = "GET /.secret HTTP/1.1\r\nHost: t\r\n\r\n";

#[test]
fn hostile_traversal_and_dotfiles() {
    let mut t = Table::new();
    // `..` in every spelling: refused outright (400), never resolved.
    t.row(get("/../escape"), Keep(400));
    t.row(get("/../../../../../../etc/passwd"), Keep(400));
    t.row(get("/%2e%2e/escape"), Keep(400));
    t.row(get("/%2E%2e/escape"), Keep(400));
    t.row(get("/%2e%2E/escape"), Keep(400));
    t.row(get("/.%2e/escape"), Keep(400));
    t.row(get("/%2e./escape"), Keep(400));
    t.row(get("/..%2fescape"), Keep(400));
    t.row(get("/sub/..%2f..%2fescape"), Keep(400));
    t.row(get("/..%5cescape"), Keep(400));
    t.row(get("/%5c..%5cescape"), Keep(400));
    t.row(get("/sub%5c..%5chello.txt"), Keep(400));
    t.row(get("/sub\\..\\hello.txt"), Keep(400)); // raw backslashes
    t.row(get("/./../escape"), Keep(400));
    t.row(get("//..//escape"), Keep(400));
    t.row(get("/sub/./../../escape"), Keep(400));
    t.row(get("/.."), Keep(400));
    t.row(get("/%2e%2e"), Keep(400));
    t.row(get("/sub/.."), Keep(400));
    t.row(get("/sub/../hello.txt"), Keep(400)); // stays inside, but clients never send `..`
    t.row(get("http://x/../escape"), Keep(400));
    t.row(get("http://x/%2e%2e/escape"), Keep(400));
    // NUL, raw or encoded, is never part of a file name.
    t.row(get("/hello.txt%00"), Keep(400));
    t.row(get("/hello.txt%00.html"), Keep(400));
    t.row(get("/.%00./escape"), Keep(400));
    // Decoded once only: `%252e%252e` is the literal name `%2e%2e`, which
    // does not exist. Overlong UTF-8 (`%c0%ae`), full-width dots and IIS's
    // `%u002e` are bytes of a name, not dots. Tomcat's `..;` is a name too.
    t.row(get("/%252e%252e/escape"), Keep(404));
    t.row(get("/%252e%252e%252fhello.txt"), Keep(404));
    t.row(get("/%c0%ae%c0%ae/escape"), Keep(404));
    t.row(get("/%c0%ae%c0%ae%c0%afhello.txt"), Keep(404));
    t.row(get("/..%c0%afescape"), Keep(404));
    t.row(get("/%ef%bc%8e%ef%bc%8e/escape"), Keep(404));
    t.row(get("/%u002e%u002e/escape"), Keep(404));
    t.row(get("/..;/escape"), Keep(404));
    // The symlink leading outside the root, and dotfiles: 404, as if absent.
    t.row(get("/escape"), Keep(404));
    t.row(get("/.secret"), Keep(404));
    t.row(get("/%2esecret"), Keep(404));
    t.row(get("/%2Esecret"), Keep(404));
    t.row(get("/./.secret"), Keep(404));
    t.row(get("//.secret"), Keep(404));
    t.row(get("/.secret/"), Keep(404));
    t.row(get("http://x/.secret"), Keep(404));
    t.row(get("/sub/../.secret"), Keep(400));
    t.row(get("/sub/%2e%2e/.secret"), Keep(400));
    // Targets that are not an absolute path.
    t.row(get("*"), Keep(400)); // asterisk-form is for OPTIONS only
    t.row(get("hello.txt"), Keep(400));
    t.row(get("../hello.txt"), Keep(400));
    t.row(get("ftp://x/hello.txt"), Keep(400));
    // The query is not part of the path.
    t.row(get("/hello.txt?../../escape"), Keep(200));
    // Malformed percent-encoding is taken literally (nginx answers 400);
    // nothing is decoded, so it is just a name that does not exist.
    t.row(get("/%zz"), Keep(404));
    // A segment longer than NAME_MAX (255) names nothing that can exist:
    // 404 as nginx answers, not a 500 from ENAMETOOLONG.
    t.row(get(&format!("/{}", "a".repeat(300))), Keep(404));
    t.finish(50);
}

#[test]
fn hostile_framing() {
    let mut t = Table::new();
    // Content-Length and Transfer-Encoding together, either order: refused
    // and closed (RFC 9112 §6.3 ¶3, §6.1: the connection MUST be closed).
    t.row(with_body("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"), Close(400));
    t.row(with_body("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "0\r\n\r\n"), Close(400));
    t.row(with_body("Transfer-Encoding: chunked\r\nContent-Length: 0\r\n", "0\r\n\r\n"), Close(400));
    // Differing lengths, or lengths that are not 1*DIGIT (RFC 9110 §8.6).
    t.row(with_body("Content-Length: 5\r\nContent-Length: 6\r\n", "hello!"), Close(400));
    t.row(with_body("Content-Length: 5, 5\r\n", "hello"), Close(400)); // MAY be rejected
    t.row(with_body("Content-Length: +5\r\n", "hello"), Close(400));
    t.row(with_body("Content-Length: -1\r\n", ""), Close(400));
    t.row(with_body("Content-Length: 0x5\r\n", "hello"), Close(400));
    t.row(with_body("Content-Length: 1 2\r\n", "hello"), Close(400));
    t.row(with_body("Content-Length: 5e0\r\n", "hello"), Close(400));
    t.row(with_body("Content-Length: 18446744073709551616\r\n", ""), Close(400)); // u64 overflow
    t.row(with_body("Content-Length:\r\n", ""), Close(400));
    // A space before the colon MUST get 400 (RFC 9112 §5.1).
    t.row(with_body("Content-Length : 5\r\n", "hello"), Close(400));
    // Valid lengths: the body is skipped exactly, a request inside it is not
    // answered, and the connection goes on.
    t.row(with_body("Content-Length: 5\r\nContent-Length: 5\r\n", "hello"), Keep(200));
    t.row(with_body("Content-Length:  5 \r\n", "hello"), Keep(200));
    t.row(with_body("Content-Length: 005\r\n", "hello"), Keep(200));
    t.row(with_body(&format!("Content-Length: {}\r\n", SMUGGLED.len()), SMUGGLED), Keep(200));
    // Transfer codings: `chunked` must be last (RFC 9112 §6.3 ¶4: else 400
    // and close).
    t.row(with_body("Transfer-Encoding: chunked, identity\r\n", "0\r\n\r\n"), Close(400));
    t.row(with_body("Transfer-Encoding: xchunked\r\n", "0\r\n\r\n"), Close(400));
    t.row(with_body("Transfer-Encoding: identity\r\n", ""), Close(400));
    t.row(with_body("Transfer-Encoding: chunked,\r\n", "0\r\n\r\n"), Close(400));
    t.row(with_body("Transfer-Encoding:\r\n", ""), Close(400));
    t.row(with_body("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"), Close(400));
    t.row(with_body("Transfer-Encoding : chunked\r\n", "0\r\n\r\n"), Close(400));
    // `/hello` is a handler route, which reads bodies (issue 21: it was
    // answered with an empty body and closed): a chunked body is decoded
    // exactly, a request inside a chunk is not answered, and the
    // connection goes on to the next request.
    t.row(
        with_body("Transfer-Encoding: chunked\r\n", &format!("{:x}\r\n{SMUGGLED}\r\n0\r\n\r\n", SMUGGLED.len())),
        Keep(200),
    );
    t.row(with_body("Transfer-Encoding: Chunked\r\n", "0\r\n\r\n"), Keep(200));
    t.row(with_body("Transfer-Encoding: chunked\r\n", "5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n"), Keep(200));
    // Chunked framing that is not CRLF-exact: refused, never guessed at.
    t.row(with_body("Transfer-Encoding: chunked\r\n", "5\nhello\r\n0\r\n\r\n"), Close(400));
    t.row(with_body("Transfer-Encoding: chunked\r\n", "5\r\nhelloX\r\n0\r\n\r\n"), Close(400));
    t.row(with_body("Transfer-Encoding: chunked\r\n", "ffffffffffffffffff\r\n"), Close(400));
    // HTTP/1.0 with Transfer-Encoding: faulty framing (RFC 9112 §6.1).
    t.row("GET /hello HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", Close(400));
    // Bodies past the limit: 413, then close without reading them.
    t.row(with("Content-Length: 65537\r\n"), Close(413));
    t.row(with("Content-Length: 18446744073709551615\r\n"), Close(413));
    // Expect: 100-continue with the body already sent to a route that reads
    // it: the body is read (no 100 needed) and the connection goes on. To
    // a route that reads no body (a file), answered at once (RFC 9110
    // §10.1.1 lets the final status replace 100) and closed, since a
    // client waiting for 100 might never send the body it announced.
    t.row(with_body("Expect: 100-continue\r\nContent-Length: 5\r\n", "hello"), Keep(200));
    t.row("GET /hello.txt HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello", Close(200));
    t.row(with("Expect: 100-continue\r\n"), Keep(200));
    // Other expectations: 417 (RFC 9110 §10.1.1).
    t.row(with_body("Expect: something-else\r\nContent-Length: 5\r\n", "hello"), Close(417));
    t.finish(30);
}

#[test]
fn hostile_header_syntax() {
    let mut t = Table::new();
    // obs-fold: rejected with 400 (RFC 9112 §5.2 allows that or unfolding).
    t.row(with("X-A: y\r\n z\r\n"), Close(400));
    t.row(with("X-A: y\r\n\tz\r\n"), Close(400));
    t.row("GET /hello HTTP/1.1\r\n Host: t\r\n\r\n", Close(400));
    // Whitespace between name and colon MUST get 400 (RFC 9112 §5.1).
    t.row("GET /hello HTTP/1.1\r\nHost : t\r\n\r\n", Close(400));
    t.row("GET /hello HTTP/1.1\r\nHost\t: t\r\n\r\n", Close(400));
    // Names that are not tokens, lines without a colon.
    t.row(with("Foo\r\n"), Close(400));
    t.row(with(": x\r\n"), Close(400));
    t.row(with("X(y): z\r\n"), Close(400));
    t.row(with("X-\u{e9}: z\r\n"), Close(400));
    t.row(with("\0\r\n"), Close(400));
    // NUL, CR and other controls in a value are rejected (RFC 9110 §5.5);
    // HTAB is allowed, and so is obs-text (Latin-1 bytes).
    t.row(with("X-A: a\0b\r\n"), Close(400));
    t.row(with("X-A: a\rb\r\n"), Close(400));
    t.row(with("X-A: a\x01b\r\n"), Close(400));
    t.row(with("X-A: a\x7fb\r\n"), Close(400));
    t.row(with("X-A: a\tb\r\n"), Keep(200));
    t.row(b"GET /hello HTTP/1.1\r\nHost: t\r\nX-A: caf\xe9\r\n\r\n", Keep(200));
    t.row(b"GET /hello HTTP/1.1\r\nHost: t\r\nX-A: \xff\xfe\r\n\r\n", Keep(200));
    // Line endings: a bare LF MAY be accepted as one (RFC 9112 §2.2), a bare
    // CR may not; empty lines before the request line SHOULD be ignored.
    t.row("GET /hello HTTP/1.1\nHost: t\n\n", Keep(200));
    t.row("GET /hello HTTP/1.1\r\nHost: t\n\r\n", Keep(200));
    t.row("GET /hello HTTP/1.1\r\r\nHost: t\r\n\r\n", Close(400));
    t.row("\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n", Keep(200));
    // Host: required once in HTTP/1.1, at most once in any version
    // (RFC 9112 §3.2).
    t.row("GET /hello HTTP/1.1\r\n\r\n", Close(400));
    t.row(with("Host: t\r\n"), Close(400));
    t.row("GET /hello HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", Close(400));
    t.row("GET /hello HTTP/1.0\r\n\r\n", Close(200));
    // An empty Host is 400 (RFC 9112 §3.2; issue #15 superseded the row that kept it).
    t.row("GET /hello HTTP/1.1\r\nHost:\r\n\r\n", Close(400));
    // An absolute-form target's authority wins over Host (RFC 9112 §3.2.2).
    t.row("GET http://elsewhere/hello HTTP/1.1\r\nHost: t\r\n\r\n", Keep(200));
    // A Host value that is not `uri-host [":" port]` MUST get 400 (RFC 9112
    // §3.2; nginx refuses "a/b" too).
    t.row("GET /hello HTTP/1.1\r\nHost: a b\r\n\r\n", Close(400));
    t.row("GET /hello HTTP/1.1\r\nHost: a/b\r\n\r\n", Close(400));
    t.finish(25);
}

#[test]
fn hostile_request_lines_and_versions() {
    let mut t = Table::new();
    // Not exactly one SP between the three parts: 400 (RFC 9112 §3).
    t.row(line("GET  /hello HTTP/1.1"), Close(400));
    t.row(line("GET /hello HTTP/1.1 "), Close(400));
    t.row(line(" GET /hello HTTP/1.1"), Close(400));
    t.row(line("GET\t/hello\tHTTP/1.1"), Close(400));
    // An extra space before the version: a malformed request line (400),
    // not an unsupported version (505).
    t.row(line("GET /hello  HTTP/1.1"), Close(400));
    // Methods are case-sensitive tokens: `get` is an unknown method, like
    // FOO. 405 with Allow is nginx's answer (RFC 9110 §9.1 suggests 501).
    t.row(line("get /hello HTTP/1.1"), Keep(405));
    t.row(line("FOO /hello HTTP/1.1"), Keep(405));
    t.row(line("G(T /hello HTTP/1.1"), Close(400));
    t.row(line("\0GET /hello HTTP/1.1"), Close(400));
    t.row(line("GET /hello\0 HTTP/1.1"), Close(400));
    t.row(line("GET /hel\x01lo HTTP/1.1"), Close(400));
    // HTTP/0.9 (no version) is not served.
    t.row("GET /\r\n", Close(400));
    t.row("GET /\r\n\r\n", Close(400));
    // Other major versions: 505. TLS: not HTTP/1. (The HTTP/2 preface
    // opens HTTP/2: `http2::the_preface_is_http2_unless_http1_only`.)
    t.row(line("GET /hello HTTP/2.0"), Close(505));
    t.row(line("GET /hello HTTP/3.0"), Close(505));
    t.row(line("GET /hello HTTP/0.9"), Close(505));
    t.row(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x9a\x1c\x00\x00\x02\x13\x01\x01\x00\x01\xd1", Close(400));
    // HTTP-version is one digit "." one digit (RFC 9112 §2.3).
    t.row(line("GET /hello HTTP/1.10"), Close(400));
    t.row(line("GET /hello HTTP/1.1x"), Close(400));
    // A higher minor version of HTTP/1 SHOULD be processed as HTTP/1.1
    // (RFC 9110 §2.5); 505 is for an unsupported *major* version (§15.6.6).
    // nginx answers 200.
    t.row(line("GET /hello HTTP/1.2"), Keep(200));
    // Malformed versions are malformed request lines: 400, not 505
    // (HTTP-name is case-sensitive "HTTP"; the version needs a minor digit).
    t.row(line("GET /hello http/1.1"), Close(400));
    t.row(line("GET /hello HTTP/1"), Close(400));
    t.row(line("GET /hello FOO/1.1"), Close(400));
    t.finish(20);
}

#[test]
fn hostile_sizes() {
    let mut t = Table::new();
    let many = |n: usize| -> String { (0..n).map(|i| format!("X-{i}: y\r\n")).collect() };
    t.row(get(&format!("/{}", "a".repeat(17 * 1024))), Close(414));
    t.row(get(&format!("/hello?{}", "q".repeat(17 * 1024))), Close(414));
    t.row(with(&format!("X-Big: {}\r\n", "b".repeat(17 * 1024))), Close(431));
    t.row(with(&format!("{}: y\r\n", "X".repeat(17 * 1024))), Close(431));
    t.row(with(&(0..50).map(|i| format!("X-{i}: {}\r\n", "v".repeat(400))).collect::<String>()), Close(431));
    t.row(with(&many(100)), Close(431)); // 101 fields with Host: one too many
    t.row(with(&many(99)), Keep(200)); // exactly 100 fields
    t.row(with(&format!("X-Big: {}\r\n", "b".repeat(15 * 1024))), Keep(200)); // just under 16 KiB
    t.row(format!("{}GET /hello HTTP/1.1\r\nHost: t\r\n\r\n", "\r\n".repeat(9000)), Close(431));
    t.row(with(&format!("Accept-Encoding: {}\r\n", "gzip;q=0.5, ".repeat(1000))), Keep(200));
    t.finish(10);
}

#[test]
fn hostile_non_ascii() {
    let mut t = Table::new();
    write(&t.server.root(), "caf\u{e9}.txt", b"utf-8 name");
    // Raw UTF-8 in the target is not a valid URI, but clients send it and
    // nginx serves it: it is the file's name.
    t.row(b"GET /caf\xc3\xa9.txt HTTP/1.1\r\nHost: t\r\n\r\n", Keep(200));
    t.row(get("/caf%C3%A9.txt"), Keep(200));
    t.row(b"GET /caf\xc3\xa9-missing HTTP/1.1\r\nHost: t\r\n\r\n", Keep(404));
    // Invalid UTF-8, raw: not a request-target at all. Percent-encoded:
    // bytes of a name (Unix names are bytes), which does not exist.
    t.row(b"GET /\xff\xfe HTTP/1.1\r\nHost: t\r\n\r\n", Close(400));
    t.row(b"GET /caf\xe9.txt HTTP/1.1\r\nHost: t\r\n\r\n", Close(400));
    t.row(get("/%ff%fe"), Keep(404));
    t.row(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-0\xe9\r\n\r\n", Keep(200));
    // A character across byte 7 or 8 of the target, where the scheme of an
    // absolute-form target would end: once a panic (found by fuzzing).
    t.row(b"GET /abcde\xc3\xa9 HTTP/1.1\r\nHost: t\r\n\r\n", Keep(404));
    t.row(b"GET /\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9 HTTP/1.1\r\nHost: t\r\n\r\n", Keep(404));
    t.finish(9);
}

#[test]
fn hostile_connection_handling() {
    // Long timeouts, so that a connection closed by a timer can never pass
    // for one closed because the client's EOF was noticed.
    let mut t = Table::with_config(|c| {
        c.head_timeout = Duration::from_secs(60);
        c.idle_timeout = Duration::from_secs(60);
    });
    t.row(with("Connection: close\r\n"), Close(200));
    t.row(with("Connection: CLOSE\r\n"), Close(200));
    t.row(with("Connection:close\r\n"), Close(200));
    t.row(with("Connection: keep-alive, close\r\n"), Close(200));
    t.row(with("Connection: keep-alive\r\nConnection: close\r\n"), Close(200));
    t.row(with("Connection: closed\r\n"), Keep(200)); // not the `close` token
    t.row("GET /hello HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", Close(200));
    // A request pipelined after `close` is never answered.
    t.row(format!("{}{SMUGGLED}", with("Connection: close\r\n")), Close(200));
    // Nothing, only empty lines, or part of a head, then EOF: there is no
    // request to answer, so the connection just closes (nginx: "client
    // prematurely closed connection").
    t.row_eof("", Silent);
    // Bytes and the FIN in one readiness event: the EOF behind a short read
    // must still be seen (it once was not: the connection waited for the
    // head timeout and then sent 408 to a client that had gone).
    t.row_eof("\r\n\r\n", Silent);
    t.row_eof("GET /hello HTT", Silent);
    t.row_eof("GET /hello HTTP/1.1\r\nHost: t\r\n", Silent);
    // After a complete request: answered, then closed at once, not after
    // the idle timeout.
    t.row_eof(get("/hello"), ThenEof(200));
    t.finish(13);
}

#[test]
fn hostile_ranges() {
    let mut t = Table::new();
    let repeat = |spec: &str, n: usize| vec![spec; n].join(",");
    // More specs than max_ranges (16): the whole file, never 1000 parts.
    t.row(range(&format!("bytes={}", repeat("0-0", 1000))), Keep(200));
    t.row(range(&format!("bytes={}", repeat("0-", 17))), Keep(200));
    // Within the limit, overlapping specs coalesce into one part.
    t.row(range(&format!("bytes={}", repeat("0-", 16))), Keep(206));
    // `-0` is valid but unsatisfiable; so is a start past the end.
    t.row(range("bytes=-0"), Keep(416));
    t.row(range("bytes=100-"), Keep(416));
    // Invalid ranges are ignored (RFC 9110 §14.2): 200 and the whole file.
    t.row(range("bytes=99999999999999999999-"), Keep(200));
    t.row(range("bytes=-18446744073709551616"), Keep(200));
    t.row(range("bytes=5-1"), Keep(200));
    t.row(range("bytes=,,,,"), Keep(200));
    t.row(range("bytes=0--1"), Keep(200));
    t.row(range("bytes = 0-1"), Keep(200));
    t.row(range("items=0-0"), Keep(200));
    t.row(range("bytes=0-18446744073709551615"), Keep(206)); // clamped to the end
    t.finish(13);
}
