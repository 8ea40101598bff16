//! The curl command-line client end to end: HEAD, ranges, If-Modified-Since
//! from a local file, precompressed gzip, HTTP/1.0, connection reuse and
//! path traversal attempts.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use crate::support::*;

/// curl's own `--max-time` is 10 s; this only catches a curl that hangs
/// anyway.
const CURL_LIMIT: Duration = Duration::from_secs(30);

/// Runs `curl --max-time 10 -sS ARGS`; curl must exit 0.
fn curl(args: &[&str]) -> Output {
    let mut command = Command::new("curl");
    command.args(["--max-time", "10", "-sS"]).args(args);
    run_ok(&mut command, CURL_LIMIT)
}

/// A response as curl printed it with `-D -` (or `-I`): status, headers,
/// then the body bytes.
struct Printed {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Printed {
    fn parse(stdout: &[u8]) -> Printed {
        let end = stdout.windows(4).position(|w| w == b"\r\n\r\n").expect("a header block in curl's output");
        let head = std::str::from_utf8(&stdout[..end]).expect("ASCII head");
        let mut lines = head.split("\r\n");
        let status_line = lines.next().expect("status line");
        let status = status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status code");
        let headers = lines
            .map(|l| {
                let (name, value) = l.split_once(':').expect("name: value");
                (name.trim().to_string(), value.trim().to_string())
            })
            .collect();
        Printed { status, headers, body: stdout[end + 4..].to_vec() }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[test]
fn curl_head_gets_status_and_length_but_no_body() {
    if !have_tool("curl") {
        return;
    }
    let server = TestServer::start();
    let out = curl(&["-I", &url(&server, "/kib.bin")]);
    let printed = Printed::parse(&out.stdout);
    assert_eq!(printed.status, 200);
    assert_eq!(printed.header("content-length"), Some("1024"));
    assert!(printed.body.is_empty(), "HEAD printed a body: {:?}", String::from_utf8_lossy(&printed.body));
}

#[test]
fn curl_range_gets_exactly_those_bytes() {
    if !have_tool("curl") {
        return;
    }
    let server = TestServer::start();
    let out = curl(&["-r", "10-19", "-D", "-", &url(&server, "/kib.bin")]);
    let printed = Printed::parse(&out.stdout);
    assert_eq!(printed.status, 206);
    assert_eq!(printed.header("content-range"), Some("bytes 10-19/1024"));
    assert_eq!(printed.header("content-length"), Some("10"));
    assert_eq!(printed.body, kib_contents()[10..20]);
}

/// A local file with the given modification time.
fn local_file(dir: &Path, name: &str, modified: SystemTime) -> String {
    let path = dir.join(name);
    let file = std::fs::File::create(&path).expect("local file");
    file.set_modified(modified).expect("set mtime");
    path.to_str().expect("UTF-8 path").to_string()
}

#[test]
fn curl_time_condition_from_a_local_file() {
    if !have_tool("curl") {
        return;
    }
    let server = TestServer::start();
    let local = tempfile::tempdir().expect("temp dir");
    let hour = Duration::from_secs(3600);

    // The local copy is newer than the served file: 304, nothing printed.
    let newer = local_file(local.path(), "newer", SystemTime::now() + hour);
    let out = curl(&["-z", &newer, "-w", "%{http_code}", &url(&server, "/hello.txt")]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "304");

    // Older: the file comes.
    let older = local_file(local.path(), "older", SystemTime::now() - 24 * hour);
    let out = curl(&["-z", &older, "-w", "%{http_code}", &url(&server, "/hello.txt")]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello file\n200");
}

#[test]
fn curl_compressed_decodes_a_precompressed_gzip_sibling() {
    if !have_tool("curl") || !have_tool("gzip") {
        return;
    }
    let site = tempfile::tempdir().expect("temp dir");
    let text: String = (0..2000).map(|i| format!("line {i}: the quick brown fox jumps over the lazy dog\n")).collect();
    write(site.path(), "x.txt", text.as_bytes());
    run_ok(Command::new("gzip").arg("-k").arg(site.path().join("x.txt")), CURL_LIMIT);
    let gz_len = std::fs::metadata(site.path().join("x.txt.gz")).expect("x.txt.gz").len();
    assert!(gz_len < text.len() as u64 / 4);
    let server = serve_dir(site.path());
    let target = format!("http://{}/x.txt", server.local_addr());

    let out = curl(&["--compressed", "-D", "-", &target]);
    let printed = Printed::parse(&out.stdout);
    assert_eq!(printed.status, 200);
    assert_eq!(printed.header("content-encoding"), Some("gzip"));
    assert!(printed.header("vary").is_some_and(|v| v.to_ascii_lowercase().contains("accept-encoding")));
    // The sibling's bytes went over the wire; curl decoded them.
    assert_eq!(printed.header("content-length"), Some(gz_len.to_string().as_str()));
    assert!(printed.body == text.as_bytes(), "curl did not decode to the original text");

    // Without --compressed curl asks for nothing: the plain file.
    let out = curl(&["-D", "-", &target]);
    let printed = Printed::parse(&out.stdout);
    assert_eq!(printed.header("content-encoding"), None);
    assert!(printed.header("vary").is_some_and(|v| v.to_ascii_lowercase().contains("accept-encoding")));
    assert!(printed.body == text.as_bytes());
}

#[test]
fn curl_http10_gets_the_body_and_a_close() {
    if !have_tool("curl") {
        return;
    }
    let server = TestServer::start();
    let out = curl(&["--http1.0", "-D", "-", &url(&server, "/kib.bin")]);
    let printed = Printed::parse(&out.stdout);
    assert_eq!(printed.status, 200);
    assert_eq!(printed.header("connection").map(str::to_ascii_lowercase).as_deref(), Some("close"));
    assert_eq!(printed.body, kib_contents());
}

#[test]
fn curl_reuses_one_connection_for_several_urls() {
    if !have_tool("curl") {
        return;
    }
    let server = TestServer::start();
    let urls = [url(&server, "/hello"), url(&server, "/kib.bin"), url(&server, "/hello.txt")];
    let mut args = vec!["-v"];
    args.extend(urls.iter().map(String::as_str));
    let out = curl(&args);
    // All three bodies, in order, on stdout.
    let mut expected = b"Hello, world!".to_vec();
    expected.extend_from_slice(&kib_contents());
    expected.extend_from_slice(b"hello file\n");
    assert!(out.stdout == expected, "bodies: {:?}", String::from_utf8_lossy(&out.stdout));
    // curl 7.x says "Re-using existing connection", 8.x "Reusing existing
    // connection"; either way once per URL after the first, and one connect.
    let log = String::from_utf8_lossy(&out.stderr);
    let reused =
        log.matches("Re-using existing connection").count() + log.matches("Reusing existing connection").count();
    assert_eq!(reused, 2, "curl did not reuse its connection:\n{log}");
    assert_eq!(log.matches("Connected to").count(), 1, "curl connected more than once:\n{log}");
}

#[test]
fn curl_path_as_is_traversal_never_leaves_the_root() {
    if !have_tool("curl") {
        return;
    }
    // base/root is served; base/secret.txt sits right beside it.
    let base = tempfile::tempdir().expect("temp dir");
    let secret = "s3cret-outside-the-root";
    write(base.path(), "secret.txt", secret.as_bytes());
    write(base.path(), "root/x.txt", b"inside");
    write(base.path(), "root/sub/y.txt", b"inside too");
    let server = serve_dir(&base.path().join("root"));
    let addr = server.local_addr();

    let inside = curl(&["-D", "-", &format!("http://{addr}/x.txt")]);
    assert_eq!(Printed::parse(&inside.stdout).body, b"inside");

    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "/.%2e/secret.txt",
        "/sub/../../secret.txt",
        "/sub/..%2f..%2fsecret.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt",
        "/..%5csecret.txt",
        "/../root/../secret.txt",
    ] {
        let out = curl(&["--path-as-is", "-D", "-", &format!("http://{addr}{path}")]);
        let printed = Printed::parse(&out.stdout);
        let everything = String::from_utf8_lossy(&out.stdout);
        assert!(!everything.contains(secret), "{path} leaked the file outside the root:\n{everything}");
        assert!(matches!(printed.status, 400 | 404), "{path}: status {}", printed.status);
    }
}
