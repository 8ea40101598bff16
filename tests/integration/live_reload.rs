//! Live reload over real sockets (issue 25): what HTML answers carry with
//! `FileOptions::live_reload`, and what the event stream says when files
//! change under the root. The browser's side is in `live_browser`.

use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::*;

/// A server with live reload over the fixture site.
fn live() -> TestServer {
    TestServer::start_files(|files| files.live_reload = true)
}

/// An open event stream: its socket, and what it has received.
pub struct Stream {
    socket: TcpStream,
    pub received: String,
}

impl Stream {
    /// Opens `/.rawserve/live` on `addr` (with `Last-Event-ID` when
    /// given) and reads its head and opening.
    pub fn open(addr: std::net::SocketAddr, last_event_id: Option<&str>) -> Stream {
        let last = last_event_id.map(|id| format!("Last-Event-ID: {id}\r\n")).unwrap_or_default();
        Stream::open_target(addr, "/.rawserve/live", &last)
    }

    /// A stream opened with `target` and the extra header lines `extra`.
    pub fn open_target(addr: std::net::SocketAddr, target: &str, extra: &str) -> Stream {
        let mut socket = connect(addr);
        send(&mut socket, &format!("GET {target} HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n{extra}\r\n"));
        let mut stream = Stream { socket, received: String::new() };
        stream.wait_for("retry: 1000\n", IO_TIMEOUT);
        stream
    }

    /// Reads until what was received contains `needle`, or `limit` passes
    /// (then panics); returns everything received so far.
    pub fn wait_for(&mut self, needle: &str, limit: Duration) -> String {
        assert!(self.try_wait_for(needle, limit), "{needle:?} not received within {limit:?}; got:\n{}", self.received);
        self.received.clone()
    }

    /// Whether `needle` arrives within `limit`.
    pub fn try_wait_for(&mut self, needle: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut buffer = [0u8; 4096];
        while !self.received.contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            self.socket.set_read_timeout(Some(left.max(Duration::from_millis(1)))).expect("timeout");
            match self.socket.read(&mut buffer) {
                Ok(0) => return self.received.contains(needle),
                Ok(n) => self.received.push_str(&String::from_utf8_lossy(&buffer[..n])),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    return false
                }
                Err(e) => panic!("reading the event stream: {e}"),
            }
        }
        true
    }

    /// Whether the server has closed the stream within `limit`.
    pub fn closed_within(&mut self, limit: Duration) -> bool {
        self.socket.set_read_timeout(Some(limit)).expect("timeout");
        let mut buffer = [0u8; 4096];
        loop {
            match self.socket.read(&mut buffer) {
                Ok(0) => return true,
                Ok(n) => self.received.push_str(&String::from_utf8_lossy(&buffer[..n])),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }

    /// How many events of `kind` were received.
    pub fn count(&self, kind: &str) -> usize {
        self.received.matches(&format!("event: {kind}\n")).count()
    }
}

/// Saves `contents` to `root/name` as editors do: a temporary beside it,
/// renamed over it.
pub fn save(root: &std::path::Path, name: &str, contents: &[u8]) {
    let path = root.join(name);
    let temporary = path.with_file_name(format!(".{}.tmp", path.file_name().unwrap().to_string_lossy()));
    std::fs::write(&temporary, contents).expect("write the temporary");
    std::fs::rename(&temporary, &path).expect("rename over the file");
}

/// Plenty for a change to reach a page on a busy machine; the debounce
/// is 30 ms.
const HEARD: Duration = Duration::from_secs(5);
/// How long a test waits to be sure that nothing comes.
const SILENCE: Duration = Duration::from_millis(600);

#[test]
fn html_answers_carry_the_script_and_their_own_validators() {
    let plain = TestServer::start();
    let live = live();
    for server in [&plain, &live] {
        write(&server.root(), "page.html", b"<html><body><p>page</p></body></html>");
    }
    let before = get(&plain, "/page.html", &[]);
    let after = get(&live, "/page.html", &[]);
    assert_eq!(before.text(), "<html><body><p>page</p></body></html>");
    let text = after.text();
    assert!(text.starts_with("<html><body><p>page</p><script>"), "{text}");
    assert!(text.ends_with("</script>\n</body></html>"), "{text}");
    assert!(text.contains("new EventSource('/.rawserve/live'"));
    assert_eq!(after.header("content-length"), Some(after.body.len().to_string().as_str()));
    assert_ne!(after.header("etag"), before.header("etag"), "the injected page is another representation");
    // Its tag validates it, and ranges are cut from the injected bytes.
    let etag = after.header("etag").expect("an ETag").to_string();
    assert_eq!(get(&live, "/page.html", &[("If-None-Match", &etag)]).status, 304);
    let tail = get(&live, "/page.html", &[("Range", "bytes=-14"), ("If-Range", &etag)]);
    assert_eq!((tail.status, tail.text().as_str()), (206, "</body></html>"));
    // Cached now: the same bytes again.
    assert_eq!(get(&live, "/page.html", &[]).body, after.body);
    // Compressed answers are compressed from the injected page.
    let gzipped = get(&live, "/page.html", &[("Accept-Encoding", "gzip")]);
    if gzipped.header("content-encoding") == Some("gzip") {
        let mut inflated = Vec::new();
        gunzip(&gzipped.body, &mut inflated);
        assert_eq!(inflated, after.body);
    }
    // Not HTML: untouched.
    assert_eq!(get(&live, "/style.css", &[]).text(), "body{}");
    assert_eq!(get(&live, "/hello.txt", &[]).text(), "hello file\n");
}

/// Decompresses gzip with Python's zlib (an independent implementation).
fn gunzip(data: &[u8], out: &mut Vec<u8>) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("python3")
        .args(["-c", "import sys,gzip; sys.stdout.buffer.write(gzip.decompress(sys.stdin.buffer.read()))"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    child.stdin.take().expect("stdin").write_all(data).expect("write");
    let output = child.wait_with_output().expect("python3 output");
    assert!(output.status.success(), "gunzip failed");
    out.extend_from_slice(&output.stdout);
}

#[test]
fn spa_fallbacks_404_pages_and_listings_carry_it_too() {
    let server = TestServer::start_files(|files| {
        files.live_reload = true;
        files.spa = true;
    });
    write(&server.root(), "404.html", b"<html><body>missing</body></html>");
    let spa = get(&server, "/deep/link", &[("Accept", "text/html")]);
    assert_eq!(spa.status, 200);
    assert!(spa.text().contains("<title>home</title><script>"), "{}", spa.text());
    let missing = get(&server, "/missing.js", &[]);
    assert_eq!(missing.status, 404);
    assert!(missing.text().starts_with("<html><body>missing<script>"), "{}", missing.text());
    let listing = get(&server, "/nested/", &[]);
    assert_eq!(listing.status, 200);
    assert!(listing.text().contains("new EventSource('/.rawserve/live'"), "{}", listing.text());
    let policy = listing.header("content-security-policy").expect("the listing's policy");
    assert!(policy.contains("connect-src 'self'"), "{policy}");
    let plain = TestServer::start();
    let plain_listing = get(&plain, "/nested/", &[]);
    assert_ne!(plain_listing.header("etag"), listing.header("etag"));
}

#[test]
fn a_policy_from_header_allows_the_script() {
    let server = TestServer::start_files(|files| {
        files.live_reload = true;
        files.headers.push("Content-Security-Policy: default-src 'self'; script-src 'self'".parse().unwrap());
    });
    write(
        &server.root(),
        "meta.html",
        b"<meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'none'\"><body></body>",
    );
    let page = get(&server, "/", &[]);
    let policy = page.header("content-security-policy").expect("the policy");
    assert!(policy.starts_with("default-src 'self'; script-src 'self' 'sha256-"), "{policy}");
    // Not a page: the policy as given.
    let css = get(&server, "/style.css", &[]);
    assert_eq!(css.header("content-security-policy"), Some("default-src 'self'; script-src 'self'"));
    // A policy in the page itself is amended where it is.
    let meta = get(&server, "/meta.html", &[]).text();
    assert!(meta.starts_with("<meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'sha256-"), "{meta}");
}

#[test]
fn the_stream_says_css_for_stylesheets_and_reload_for_the_rest() {
    let server = live();
    let root = server.root();
    let mut stream = Stream::open(server.addr(), None);
    let head = stream.received.clone();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("Content-Type: text/event-stream\r\n") && head.contains("Cache-Control: no-store\r\n"));
    save(&root, "style.css", b"body{color:red}");
    stream.wait_for("event: css\ndata: /style.css\n\n", HEARD);
    save(&root, "app.js", b"export const x = 1;");
    stream.wait_for("event: reload\ndata: /app.js\n\n", HEARD);
    // A folder made after the start is watched too, once it is seen.
    std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
    stream.wait_for("data: /sub", HEARD);
    save(&root, "sub/deeper/page.html", b"<p>new</p>");
    stream.wait_for("data: /sub/deeper/page.html\n", HEARD);
}

#[test]
fn hidden_folders_never_trigger_and_a_burst_is_one_event() {
    let server = live();
    let root = server.root();
    std::fs::create_dir_all(root.join(".git/objects")).unwrap();
    let mut stream = Stream::open(server.addr(), None);
    for i in 0..20 {
        std::fs::write(root.join(format!(".git/objects/{i}")), b"x").unwrap();
    }
    std::fs::write(root.join(".git/HEAD"), b"ref").unwrap();
    std::fs::write(root.join(".index.html.swp"), b"swap").unwrap();
    assert!(!stream.try_wait_for("event:", SILENCE), "hidden names triggered: {}", stream.received);
    let mut saved = Vec::with_capacity(50);
    for i in 0..50 {
        saved.push(Instant::now());
        save(&root, "index.html", format!("<p>save {i}</p>").as_bytes());
    }
    stream.wait_for("event: reload", HEARD);
    // Anything more would come within the silence.
    stream.try_wait_for("nothing of the sort", SILENCE);
    // A burst is saves closer together than the debounce's 30 ms: on a
    // loaded machine this loop may be descheduled for longer, and a pause
    // that long rightly ends a burst (a long burst waits longer, so only
    // the first pauses can): those are counted, and only they excuse a
    // second event.
    let pauses = saved.windows(2).filter(|w| w[1] - w[0] >= Duration::from_millis(30)).count();
    let events = stream.count("reload");
    assert!(events >= 1 && events <= 1 + pauses, "50 saves, {pauses} pauses: {events} events: {}", stream.received);
}

#[test]
fn a_reconnecting_page_reloads_when_the_server_restarted() {
    let server = live();
    let mut stream = Stream::open(server.addr(), Some("1234-5"));
    stream.wait_for("event: reload\ndata: restarted\n", HEARD);
    // The id it gave is current: reconnecting with it brings nothing.
    let opened = Stream::open(server.addr(), None).received;
    let id = opened.split("id: ").nth(1).and_then(|rest| rest.split('\n').next()).expect("an id").to_string();
    let mut again = Stream::open(server.addr(), Some(&id));
    assert!(!again.try_wait_for("event:", SILENCE), "{}", again.received);
}

/// A page reloaded for a change says that change's id in `?last=` (the
/// script keeps it across the reload): a change made while it was loading,
/// before its stream opened, reloads it at once; none, and it stays.
#[test]
fn a_page_reloaded_for_a_change_hears_one_made_while_it_loaded() {
    let server = live();
    let root = server.root();
    let mut first = Stream::open(server.addr(), None);
    save(&root, "index.html", b"<p>one</p>");
    first.wait_for("event: reload", HEARD);
    let id = first.received.rsplit("id: ").next().and_then(|rest| rest.split('\n').next()).expect("an id").to_string();
    // Nothing changed since: the reloaded page is up to date.
    let mut current = Stream::open_target(server.addr(), &format!("/.rawserve/live?last={id}"), "");
    assert!(!current.try_wait_for("event:", SILENCE), "{}", current.received);
    // A change while the page was loading (no stream open for it).
    drop(current);
    let mut other = Stream::open(server.addr(), None);
    save(&root, "app.js", b"export const y = 2;");
    other.wait_for("event: reload", HEARD);
    let mut late = Stream::open_target(server.addr(), &format!("/.rawserve/live?last={id}"), "");
    late.wait_for("event: reload\ndata: missed\n", HEARD);
}

#[test]
fn a_shutdown_ends_streams_at_once() {
    let server = live();
    let mut streams: Vec<Stream> = (0..4).map(|_| Stream::open(server.addr(), None)).collect();
    let handle = server.server.shutdown_handle();
    let started = Instant::now();
    handle.shutdown();
    for stream in &mut streams {
        assert!(stream.closed_within(Duration::from_secs(3)), "a stream stayed open");
        assert!(stream.received.ends_with("0\r\n\r\n"), "the stream ended cleanly: {:?}", stream.received);
    }
    assert!(started.elapsed() < Duration::from_secs(3), "streams held the grace period");
}

#[test]
fn streams_leave_other_requests_alone_and_answer_plain_http_10() {
    let server = live();
    let _streams: Vec<Stream> = (0..50).map(|_| Stream::open(server.addr(), None)).collect();
    assert_hello(server.addr());
    assert_eq!(get(&server, "/hello.txt", &[]).text(), "hello file\n");
    // HTTP/1.0: no chunks, the body runs to the close.
    let mut socket = server.connect();
    send(&mut socket, "GET /.rawserve/live HTTP/1.0\r\n\r\n");
    let mut head = [0u8; 512];
    let n = socket.read(&mut head).unwrap();
    let text = String::from_utf8_lossy(&head[..n]);
    assert!(!text.contains("Transfer-Encoding"), "{text}");
    // Off: the path is a hidden name like any other.
    assert_eq!(TestServer::start().get("/.rawserve/live").status, 404);
}
