//! HTTP/2 end to end: curl (`--http2` over TLS, chosen by ALPN, and
//! `--http2-prior-knowledge` in cleartext), nghttp and h2load as real
//! clients; raw frames from Python (`tests/http2/frames.py`, header blocks
//! by the `hpack` package of Python's `h2` library) for the protocol's
//! error cases and the known attacks, each answered by its limit.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rawserve::{Endpoint, Request, Response as Reply, Router, StatusCode, Tls};

use crate::support::*;

/// `POST /echo` (a body read whole) and `PUT /keep` (a body streamed into
/// a sink that counts it), in front of the fixture site; `send_timeout` 1 s.
fn server(tls: Option<&Tls>) -> TestServer {
    let tls = tls.cloned();
    TestServer::start_routed(
        move |config| {
            config.tls = tls;
            config.send_timeout = Duration::from_secs(1);
        },
        |router: Router| {
            router
                .post("/echo", |request: &Request| Reply::text(String::from_utf8_lossy(request.body()).into_owned()))
                .route(
                    "PUT",
                    "/keep",
                    Endpoint::streaming(|_| |_: &Request| rawserve::Started::Read(Box::new(Count(0)))),
                )
        },
    )
}

/// Counts a streamed body's bytes, refusing more than 64 MiB.
struct Count(u64);

impl rawserve::BodySink for Count {
    fn write(&mut self, piece: &[u8]) -> Result<(), Reply> {
        self.0 += piece.len() as u64;
        if self.0 > 64 << 20 {
            return Err(Reply::status(StatusCode::PAYLOAD_TOO_LARGE));
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Reply {
        Reply::text(format!("{} bytes", self.0))
    }
}

/// curl with `args`; its standard output (`-w` output included).
fn curl(args: &[&str]) -> String {
    let mut command = Command::new("curl");
    command.args(["--silent", "--show-error"]).args(args);
    String::from_utf8_lossy(&run_ok(&mut command, IO_TIMEOUT * 3).stdout).into_owned()
}

/// The two ways a client starts HTTP/2: curl's arguments and the base URL.
fn modes(tls_server: &TestServer, cert: &Path, plain_server: &TestServer) -> Vec<(Vec<String>, String)> {
    vec![
        (
            vec!["--http2".into(), "--cacert".into(), cert.display().to_string()],
            format!("https://localhost:{}", tls_server.addr().port()),
        ),
        (vec!["--http2-prior-knowledge".into()], format!("http://{}", plain_server.addr())),
    ]
}

#[test]
fn curl_gets_heads_ranges_304_compressed_and_posts_over_http2() {
    if !have_tool("curl") {
        return;
    }
    let tls = Tls::self_signed(&[]).expect("a certificate");
    let dir = tempfile::tempdir().expect("temp dir");
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, tls.self_signed_pem().expect("generated")).expect("write");
    let (secure, plain) = (server(Some(&tls)), server(None));
    write(&secure.root(), "page.html", "<p>compress me</p>\n".repeat(200).as_bytes());
    write(&plain.root(), "page.html", "<p>compress me</p>\n".repeat(200).as_bytes());
    let upload = dir.path().join("upload.bin");
    std::fs::write(&upload, vec![7u8; 5 << 20]).expect("write");
    for (flags, base) in modes(&secure, &cert, &plain) {
        let run = |args: &[&str]| {
            let all: Vec<&str> = flags.iter().map(String::as_str).chain(args.iter().copied()).collect();
            curl(&all)
        };
        let url = |path: &str| format!("{base}{path}");
        // GET: the version curl spoke, and the body.
        assert_eq!(run(&["-w", " %{http_version}", &url("/hello.txt")]), "hello file\n 2", "{base}");
        // HEAD: the length, no body.
        let head = run(&["--head", &url("/kib.bin")]);
        assert!(head.starts_with("HTTP/2 200"), "{head}");
        assert!(head.contains("content-length: 1024\r\n"), "{head}");
        // A range.
        let range = run(&["-i", "-r", "10-19", &url("/kib.bin")]);
        assert!(range.starts_with("HTTP/2 206"), "{range}");
        assert!(range.contains("content-range: bytes 10-19/1024"), "{range}");
        // 304 for a validator that matches.
        let etag = head.lines().find_map(|l| l.strip_prefix("etag: ")).expect("an ETag").trim().to_string();
        let revalidated =
            run(&["-o", "/dev/null", "-w", "%{http_code}", "-H", &format!("If-None-Match: {etag}"), &url("/kib.bin")]);
        assert_eq!(revalidated, "304");
        // Compressed, and the same bytes once decoded.
        let compressed = run(&["--compressed", "-D", "-", &url("/page.html")]);
        assert!(compressed.contains("content-encoding: "), "{compressed}");
        assert!(compressed.ends_with(&"<p>compress me</p>\n".repeat(200)), "decoded body");
        // A large download, byte for byte, as flow control lets it through.
        let out = dir.path().join("big.out");
        run(&["-o", out.to_str().expect("UTF-8"), &url("/big.bin")]);
        assert!(std::fs::read(&out).expect("downloaded") == big_contents(), "{base}: big.bin differs");
        // Bodies: read whole by the handler, and streamed into a sink.
        assert_eq!(run(&["-d", "hello there", &url("/echo")]), "hello there");
        assert_eq!(run(&["-T", upload.to_str().expect("UTF-8"), &url("/keep")]), format!("{} bytes", 5 << 20));
        // Errors: a missing file, a body past max_body_bytes.
        assert_eq!(run(&["-o", "/dev/null", "-w", "%{http_code}", &url("/missing")]), "404");
        let large = "x".repeat(100_000);
        assert_eq!(run(&["-o", "/dev/null", "-w", "%{http_code}", "-d", &large, &url("/echo")]), "413");
        // A listing.
        assert!(run(&[&url("/nested/")]).contains("file.txt"), "{base}: the listing");
    }
}

#[test]
fn nghttp_fetches_many_streams_at_once_with_priorities() {
    if !have_tool("nghttp") {
        return;
    }
    let server = server(None);
    let base = format!("http://{}", server.addr());
    let urls: Vec<String> = ["/hello.txt", "/kib.bin", "/big.bin", "/style.css", "/app.js", "/data.json"]
        .iter()
        .map(|path| format!("{base}{path}"))
        .collect();
    // -n: discard bodies; -s: a line of statistics per stream.
    let mut command = Command::new("nghttp");
    command.args(["-n", "-s", "-H", "priority: u=1, i"]).args(&urls);
    let output = run_ok(&mut command, IO_TIMEOUT * 3);
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(text.matches(" 200 ").count(), urls.len(), "{text}");
    assert!(text.contains("/big.bin"), "{text}");
    // A client that wants no HPACK table: told so in our next head (RFC
    // 7541 §4.2), which nghttp2 insists on.
    let mut command = Command::new("nghttp");
    command.args(["-n", "-s", "--header-table-size=0"]).args(&urls[..2]);
    let output = run_ok(&mut command, IO_TIMEOUT * 3);
    assert_eq!(String::from_utf8_lossy(&output.stdout).matches(" 200 ").count(), 2);
}

#[test]
fn h2load_runs_100000_requests_on_100_streams_without_a_failure() {
    if !have_tool("h2load") {
        return;
    }
    let server = server(None);
    let url = format!("http://{}/kib.bin", server.addr());
    let mut command = Command::new("h2load");
    command.args(["-n", "100000", "-c", "4", "-m", "100", &url]);
    let output = run_ok(&mut command, Duration::from_secs(120));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("100000 total, 100000 started, 100000 done, 100000 succeeded, 0 failed, 0 errored, 0 timeout"),
        "{text}"
    );
    assert!(text.contains("status codes: 100000 2xx"), "{text}");
}

/// Whether Python has the `h2` library's `hpack` (skips, or fails under
/// `RAWSERVE_REQUIRE_TOOLS`, when not).
fn have_python_h2() -> bool {
    if !have_tool("python3") {
        return false;
    }
    let ok = Command::new("python3").args(["-c", "import h2, hpack"]).status().is_ok_and(|s| s.success());
    if !ok {
        skipping("Python's h2 library is not installed", "pip install h2");
    }
    ok
}

/// Runs `frames.py` against `server`: each case's outcome by name.
fn frames(server: &TestServer, cases: &[&str]) -> Vec<(String, String)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/http2/frames.py");
    let mut command = Command::new("python3");
    command.arg(script).arg(server.addr().port().to_string()).args(cases);
    let output = run_ok(&mut command, Duration::from_secs(120));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .map(|(name, outcome)| (name.to_string(), outcome.to_string()))
        .collect()
}

/// Runs the cases `want` names and compares what the server did; then
/// the server still answers everyone else.
fn assert_outcomes(server: &TestServer, want: &[(&str, String)]) {
    let cases: Vec<&str> = want.iter().map(|(name, _)| *name).collect();
    let want: Vec<(String, String)> = want.iter().map(|(n, o)| (n.to_string(), o.clone())).collect();
    assert_eq!(frames(server, &cases), want);
    assert_hello(server.addr());
}

/// RFC 9113's error codes the cases expect.
const PROTOCOL_ERROR: u32 = 0x1;
const FLOW_CONTROL_ERROR: u32 = 0x3;
const STREAM_CLOSED: u32 = 0x5;
const FRAME_SIZE_ERROR: u32 = 0x6;
const REFUSED_STREAM: u32 = 0x7;
const ENHANCE_YOUR_CALM: u32 = 0xb;

#[test]
fn protocol_errors_get_the_rfcs_answers() {
    if !have_python_h2() {
        return;
    }
    let server = server(None);
    let want = [
        ("bad_preface", format!("goaway {PROTOCOL_ERROR}")),
        ("settings_not_first", format!("goaway {PROTOCOL_ERROR}")),
        ("frame_too_large", format!("goaway {FRAME_SIZE_ERROR}")),
        ("data_on_idle_stream", format!("goaway {PROTOCOL_ERROR}")),
        ("even_stream", format!("goaway {PROTOCOL_ERROR}")),
        ("headers_on_closed_stream", format!("status 1 200; goaway {STREAM_CLOSED}")),
        ("data_after_end_stream", format!("status 1 200; rst 1 {STREAM_CLOSED}")),
        ("window_overflow", format!("goaway {FLOW_CONTROL_ERROR}")),
        ("zero_window_update", format!("goaway {PROTOCOL_ERROR}")),
        ("stream_window_overflow", format!("rst 1 {FLOW_CONTROL_ERROR}")),
        ("late_data_after_a_refusal", "status 1 413; status 3 200".to_string()),
        ("malformed_head", format!("rst 1 {PROTOCOL_ERROR}")),
        ("too_many_streams", format!("rst 201 {REFUSED_STREAM}")),
    ];
    assert_outcomes(&server, &want);
}

#[test]
fn each_known_attack_meets_its_limit() {
    if !have_python_h2() {
        return;
    }
    let server = server(None);
    let want = [
        // CVE-2023-44487: streams opened and reset at once.
        ("rapid_reset", format!("goaway {ENHANCE_YOUR_CALM}")),
        // CVE-2024-27316's family: a header block that never ends.
        ("continuation_flood", format!("goaway {ENHANCE_YOUR_CALM}")),
        // A small block that decodes to megabytes: 431, the connection kept.
        ("hpack_bomb", "status 1 431".to_string()),
        // CVE-2019-9515, -9512, -9518.
        ("settings_flood", format!("goaway {ENHANCE_YOUR_CALM}")),
        ("ping_flood", format!("goaway {ENHANCE_YOUR_CALM}")),
        ("empty_frames", format!("goaway {ENHANCE_YOUR_CALM}")),
        // A window shut for good: dropped after send_timeout (1 s here).
        ("zero_window_stall", "dropped after 1s".to_string()),
        // One stream's window shut while others go on: that stream reset.
        ("one_stalled_stream", "rst 1 8, others answered: True".to_string()),
    ];
    assert_outcomes(&server, &want);
}

#[test]
fn the_preface_is_http2_unless_http1_only() {
    let http2 = TestServer::start();
    let http1 = TestServer::start_with(|config| config.http1_only = true);
    for (server, want_settings) in [(&http2, true), (&http1, false)] {
        let mut stream = server.connect();
        send(&mut stream, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0");
        let mut head = [0u8; 12];
        std::io::Read::read_exact(&mut stream, &mut head).expect("an answer");
        // Our SETTINGS frame (type 4 on stream 0), or HTTP/1's 505.
        if want_settings {
            assert_eq!((head[3], &head[5..9]), (4, &[0u8; 4][..]), "{head:?}");
        } else {
            assert_eq!(&head, b"HTTP/1.1 505", "{head:?}");
        }
    }
}

/// Appends one HTTP/2 frame.
fn frame(out: &mut Vec<u8>, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
}

/// The header block of `GET path`, every field a literal without indexing.
fn get_block(path: &str) -> Vec<u8> {
    let mut block = Vec::new();
    for (name, value) in [(":method", "GET"), (":scheme", "http"), (":path", path), (":authority", "t")] {
        block.push(0);
        block.push(name.len() as u8);
        block.extend_from_slice(name.as_bytes());
        block.push(value.len() as u8);
        block.extend_from_slice(value.as_bytes());
    }
    block
}

/// Reads the next frame: (type, flags, stream, payload); `None` at EOF.
fn read_frame(stream: &mut std::net::TcpStream) -> Option<(u8, u8, u32, Vec<u8>)> {
    use std::io::Read;
    let mut head = [0u8; 9];
    stream.read_exact(&mut head).ok()?;
    let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
    let mut payload = vec![0; len];
    stream.read_exact(&mut payload).ok()?;
    Some((head[3], head[4], u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff, payload))
}

#[test]
fn a_shutdown_sends_goaway_and_finishes_the_streams_begun() {
    use std::io::Write;
    let site = Site::new();
    let mut binary = Binary::start(&[site.root().to_str().expect("UTF-8")], "warn");
    let mut stream = connect(binary.addr);
    // A client whose windows are shut: the download waits in the server.
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    frame(&mut out, 0x4, 0, 0, &[0, 4, 0, 0, 0, 0]);
    frame(&mut out, 0x1, 0x5, 1, &get_block("/big.bin"));
    stream.write_all(&out).expect("send");
    // Its head comes (HEADERS on stream 1); then the shutdown.
    while let Some((kind, _, id, _)) = read_frame(&mut stream) {
        if kind == 0x1 && id == 1 {
            break;
        }
    }
    binary.signal(libc::SIGTERM);
    let goaway = loop {
        match read_frame(&mut stream) {
            Some((0x7, _, _, payload)) => break payload,
            Some(_) => {}
            None => panic!("closed without GOAWAY"),
        }
    };
    // The last stream it will answer is 1; no error.
    assert_eq!(&goaway[..8], &[0, 0, 0, 1, 0, 0, 0, 0]);
    // Open the windows: the download in flight finishes whole, then the close.
    let mut more = Vec::new();
    frame(&mut more, 0x8, 0, 0, &0x7fff_0000u32.to_be_bytes());
    frame(&mut more, 0x8, 0, 1, &0x7fff_0000u32.to_be_bytes());
    stream.write_all(&more).expect("send");
    let mut body = 0;
    loop {
        match read_frame(&mut stream) {
            Some((0x0, flags, 1, payload)) => {
                body += payload.len();
                if flags & 0x1 != 0 {
                    break;
                }
            }
            Some(_) => {}
            None => panic!("closed after {body} bytes"),
        }
    }
    assert_eq!(body, big_contents().len());
    assert!(read_frame(&mut stream).is_none(), "closed once the stream ended");
    assert!(binary.wait_exit().success());
}

#[test]
fn http2_follows_a_proxy_protocol_header() {
    use std::io::Write;
    let server = TestServer::start_with(|config| config.proxy_protocol = true);
    let mut stream = server.connect();
    let mut out = b"PROXY TCP4 192.0.2.7 192.0.2.1 40000 80\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    frame(&mut out, 0x4, 0, 0, &[]);
    frame(&mut out, 0x1, 0x5, 1, &get_block("/hello.txt"));
    stream.write_all(&out).expect("send");
    let body = loop {
        match read_frame(&mut stream) {
            Some((0x0, _, 1, payload)) => break payload,
            Some(_) => {}
            None => panic!("closed before the answer"),
        }
    };
    assert_eq!(body, b"hello file\n");
}
