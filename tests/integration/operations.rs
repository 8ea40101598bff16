//! Running in production (issue 11): the access log read by real log
//! tools, validators replicas agree on, the health path, draining, trusted
//! proxies and the PROXY protocol (raw and behind a real haproxy), and
//! systemd socket activation (a real `systemd-socket-activate`, and a
//! holder that restarts rawserve under load on the same socket).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::*;

/// Waits (bounded) until `path` holds a line for which `wanted` is true;
/// returns the whole file.
fn wait_for_file_line(path: &Path, wanted: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.lines().any(&wanted) {
            return text;
        }
        assert!(Instant::now() < deadline, "no such line in {} within {IO_TIMEOUT:?}:\n{text}", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits (bounded) for a line from the binary's stdout/stderr for which
/// `wanted` is true.
fn wait_for_line(binary: &Binary, wanted: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match binary.log.recv_timeout(left) {
            Ok(line) if wanted(&line) => return line,
            Ok(_) => {}
            Err(_) => panic!("no such log line within {IO_TIMEOUT:?}"),
        }
    }
}

fn request(addr: SocketAddr, raw: &str) -> Response {
    let mut stream = connect(addr);
    send(&mut stream, raw);
    read_response(&mut stream, raw.starts_with("HEAD")).expect("a response")
}

/// The byte count of a common/combined line (the field after the status).
fn logged_bytes(line: &str) -> u64 {
    let after = &line[line.find("\" ").expect("request field") + 2..];
    after.split_whitespace().nth(1).expect("bytes field").parse().expect("a number")
}

#[test]
fn goaccess_parses_every_line_of_a_combined_log() {
    if !have_tool("goaccess") || !have_tool("curl") {
        return;
    }
    let site = Site::new();
    let logs = tempfile::tempdir().expect("temp dir");
    let log = logs.path().join("access.log");
    let mut server =
        Binary::start(&[site.root().to_str().unwrap(), "--access-log", log.to_str().unwrap()], "warn,rawserve=info");
    let addr = server.addr;
    let requests = [
        "GET / HTTP/1.1\r\nHost: t\r\nUser-Agent: Mozilla/5.0 (X11) \"quoted\"\r\nReferer: http://example.com/a?b=c\r\n\r\n",
        "GET /hello.txt?x=%20y HTTP/1.1\r\nHost: t\r\n\r\n",
        "HEAD /kib.bin HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /missing\u{e9} HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /kib.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=0-9\r\n\r\n",
        "GET /sub HTTP/1.0\r\n\r\n",
        "GET /nested/ HTTP/1.1\r\nHost: t\r\n\r\n",
        "POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc",
        "GET /hello HTTP/1.1\r\nHost: t\r\nUser-Agent: back\\slash\r\n\r\n",
        // A head that cannot be parsed is logged as "-".
        "GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n",
    ];
    for raw in requests {
        request(addr, raw);
    }
    let out = run_ok(
        Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-A", "curl test", "-e", "http://r/"])
            .arg(format!("http://{addr}/")),
        IO_TIMEOUT,
    );
    assert!(out.status.success());
    // SIGTERM flushes the workers' buffers.
    server.signal(libc::SIGTERM);
    assert!(server.wait_exit().success());
    let text = std::fs::read_to_string(&log).expect("the access log");
    let lines = text.lines().count();
    assert_eq!(lines, requests.len() + 1, "one line per response:\n{text}");
    let report = logs.path().join("report.json");
    run_ok(
        Command::new("goaccess").arg(&log).args(["--log-format=COMBINED", "--no-global-config", "-o"]).arg(&report),
        IO_TIMEOUT,
    );
    let json = std::fs::read_to_string(&report).expect("goaccess report");
    let general = &json[json.find("\"general\"").expect("general section")..];
    let number = |key: &str| -> u64 {
        let at = general.find(&format!("\"{key}\"")).expect(key) + key.len() + 3;
        general[at..].trim_start().split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().expect(key)
    };
    assert_eq!(number("failed_requests"), 0, "goaccess failed lines of:\n{text}");
    assert_eq!(number("valid_requests"), lines as u64, "goaccess counted:\n{text}");
    assert!(text.contains("\"GET / HTTP/1.1\" 200 "), "{text}");
    assert!(text.contains("\"http://example.com/a?b=c\" \"Mozilla/5.0 (X11) \\\"quoted\\\"\""), "{text}");
    assert!(text.contains("\"HEAD /kib.bin HTTP/1.1\" 200 0 "), "HEAD sends no body:\n{text}");
    assert!(text.contains("\"GET /kib.bin HTTP/1.1\" 206 10 "), "a range logs its bytes:\n{text}");
    assert!(text.contains("\"GET /missing\\xC3\\xA9 HTTP/1.1\" 404 "), "{text}");
    assert!(text.contains("\"-\" 400 "), "{text}");
    assert!(text.contains("\"http://r/\" \"curl test\""), "{text}");
    assert!(text.lines().all(|l| l.starts_with("127.0.0.1 - - [")), "{text}");
}

#[test]
fn a_burst_many_buffers_long_is_logged_line_for_line() {
    // Pipelined keep-alive requests on two workers, several times the
    // per-worker buffer of lines (FLUSH_BYTES): every one is logged once,
    // whole, and lines never run into each other. User agents that need
    // escaping and ones that do not alternate.
    const CONNECTIONS: usize = 4;
    const REQUESTS: usize = 500;
    const PIPELINED: usize = 50;
    let site = Site::new();
    let logs = tempfile::tempdir().expect("temp dir");
    let log = logs.path().join("access.log");
    let mut server = Binary::start(
        &[site.root().to_str().unwrap(), "--threads", "2", "--access-log", log.to_str().unwrap()],
        "warn,rawserve=info",
    );
    let agent = |c: usize, r: usize| match r % 3 {
        0 => format!("burst/{c}.{r} (a long, plain agent string, as browsers send: Mozilla/5.0 (X11; Linux))"),
        1 => format!("burst/{c}.{r} \"quoted\" back\\slash"),
        _ => format!("burst/{c}.{r}"),
    };
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|c| {
            let addr = server.addr;
            std::thread::spawn(move || {
                let mut stream = connect(addr);
                // In batches, so neither side's socket buffers fill up.
                for batch in (0..REQUESTS).collect::<Vec<_>>().chunks(PIPELINED) {
                    let heads: String = batch
                        .iter()
                        .map(|r| {
                            format!(
                                "GET /hello.txt?c={c}&r={r} HTTP/1.1\r\nHost: t\r\nUser-Agent: {}\r\n\r\n",
                                agent(c, *r)
                            )
                        })
                        .collect();
                    send(&mut stream, &heads);
                    for r in batch {
                        let response = read_response(&mut stream, false).unwrap_or_else(|| panic!("response {c}.{r}"));
                        assert_eq!(response.status, 200);
                    }
                }
            })
        })
        .collect();
    for client in clients {
        client.join().expect("client");
    }
    server.signal(libc::SIGTERM);
    assert!(server.wait_exit().success());
    let text = std::fs::read_to_string(&log).expect("the access log");
    assert!(text.len() > 3 * 64 * 1024, "the burst should fill the buffers several times: {} bytes", text.len());
    assert!(text.ends_with('\n'));
    let mut seen = std::collections::HashSet::new();
    for line in text.lines() {
        assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
        let target = &line[line.find("\"GET /hello.txt?").expect(line) + 5..];
        let target = &target[..target.find(' ').expect(line)];
        let (c, r) = target["/hello.txt?c=".len()..].split_once("&r=").expect(line);
        let (c, r): (usize, usize) = (c.parse().expect(line), r.parse().expect(line));
        let escaped = agent(c, r).replace('\\', "\\\\").replace('"', "\\\"");
        assert!(line.ends_with(&format!(" 200 11 \"-\" \"{escaped}\"")), "{line}");
        assert!(seen.insert((c, r)), "logged twice: {line}");
    }
    assert_eq!(seen.len(), CONNECTIONS * REQUESTS, "one line per response");
}

#[test]
fn json_lines_parse_with_python() {
    if !have_tool("python3") {
        return;
    }
    let site = Site::new();
    let logs = tempfile::tempdir().expect("temp dir");
    let log = logs.path().join("access.json");
    let mut server = Binary::start(
        &[site.root().to_str().unwrap(), "--access-log", log.to_str().unwrap(), "--log-format", "json"],
        "warn,rawserve=info",
    );
    request(server.addr, "GET /hello.txt HTTP/1.1\r\nHost: t\r\nUser-Agent: a\"b\\c\r\nReferer: http://r/\r\n\r\n");
    request(server.addr, "GET /x\u{e9}\u{1} HTTP/1.1\r\nHost: t\r\n\r\n");
    request(server.addr, "GET /caf%C3%A9 HTTP/1.1\r\nHost: t\r\nUser-Agent: \u{e9}t\u{e9}\r\n\r\n");
    server.signal(libc::SIGTERM);
    assert!(server.wait_exit().success());
    let script = r#"
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
assert len(rows) == 3, rows
# Workers flush their own buffers, so lines are not in request order.
first = next(r for r in rows if r["path"] == "/hello.txt")
assert first["method"] == "GET" and first["status"] == 200 and first["version"] == "HTTP/1.1", first
assert first["bytes"] == 11 and first["referer"] == "http://r/" and first["user_agent"] == 'a"b\\c', first
assert first["client"] == "127.0.0.1" and isinstance(first["duration_us"], int), first
assert first["time"].endswith("Z"), first
# A control byte in the target: refused, logged without a request line.
assert any(r["status"] == 400 and r["path"] is None for r in rows), rows
# UTF-8 stays UTF-8.
assert any(r["user_agent"] == "\u00e9t\u00e9" for r in rows), rows
print("ok")
"#;
    let out = run_ok(Command::new("python3").arg("-c").arg(script).arg(&log), IO_TIMEOUT);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}

#[test]
fn a_download_cut_off_by_the_client_is_logged_with_the_bytes_sent() {
    let site = Site::new();
    let size: u64 = 200 << 20;
    let file = std::fs::File::create(site.root().join("huge.bin")).expect("create");
    file.set_len(size).expect("sparse file");
    drop(file);
    let server = Binary::start(&[site.root().to_str().unwrap()], "warn,rawserve=info");
    let mut stream = connect(server.addr);
    send(&mut stream, "GET /huge.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut received = 0u64;
    let mut buffer = vec![0u8; 64 * 1024];
    while received < (4 << 20) {
        let n = stream.read(&mut buffer).expect("read");
        assert!(n > 0, "the response ended early");
        received += n as u64;
    }
    drop(stream);
    let line = wait_for_line(&server, |l| l.contains("\"GET /huge.bin HTTP/1.1\" 200 "));
    let logged = logged_bytes(&line);
    // What the client read (minus the head), at most what the kernel's
    // buffers held besides; never the planned 200 MB.
    assert!(logged + 1024 >= received && logged < size / 4, "logged {logged} of {size}, client read {received}");
}

#[test]
fn ipv4_clients_of_a_dual_stack_socket_are_logged_as_ipv4() {
    let site = Site::new();
    let server = Binary::start(&[site.root().to_str().unwrap(), "--bind", "::"], "warn,rawserve=info");
    let v4 = SocketAddr::from(([127, 0, 0, 1], server.addr.port()));
    request(v4, "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    let line = wait_for_line(&server, |l| l.contains("GET /hello.txt"));
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
}

#[test]
fn quiet_turns_the_access_log_off_but_keeps_the_url_line() {
    let site = Site::new();
    // Binary::start has already seen the URL line.
    let mut server = Binary::start(&[site.root().to_str().unwrap(), "--quiet"], "warn,rawserve=info");
    assert_eq!(request(server.addr, "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n").status, 200);
    // Exiting flushes every buffer: whatever was to be written has been.
    server.signal(libc::SIGTERM);
    assert!(server.wait_exit().success());
    let lines: Vec<String> = server.log.try_iter().collect();
    assert!(lines.iter().all(|l| !l.contains("GET /")), "quiet wrote an access line: {lines:?}");
}

#[test]
fn sighup_reopens_the_access_log_after_rotation() {
    let site = Site::new();
    let logs = tempfile::tempdir().expect("temp dir");
    let log = logs.path().join("access.log");
    let server =
        Binary::start(&[site.root().to_str().unwrap(), "--access-log", log.to_str().unwrap()], "warn,rawserve=info");
    request(server.addr, "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    wait_for_file_line(&log, |l| l.contains("GET /hello.txt"));
    let rotated = logs.path().join("access.log.1");
    std::fs::rename(&log, &rotated).expect("rotate");
    server.signal(libc::SIGHUP);
    // Until the reopen happens, lines still go to the rotated file.
    let deadline = Instant::now() + IO_TIMEOUT;
    while !log.exists() {
        assert!(Instant::now() < deadline, "SIGHUP did not create a new log file");
        std::thread::sleep(Duration::from_millis(20));
    }
    request(server.addr, "GET /style.css HTTP/1.1\r\nHost: t\r\n\r\n");
    wait_for_file_line(&log, |l| l.contains("GET /style.css"));
    assert!(!std::fs::read_to_string(&rotated).unwrap().contains("style.css"));
}

#[test]
fn an_unwritable_log_never_stops_serving() {
    // /dev/full: every write fails with ENOSPC, like a full disk.
    if !Path::new("/dev/full").exists() {
        eprintln!("skipped: no /dev/full");
        return;
    }
    let site = Site::new();
    let mut server = Binary::start(&[site.root().to_str().unwrap(), "--access-log", "/dev/full"], "warn,rawserve=info");
    for _ in 0..3 {
        assert_eq!(request(server.addr, "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n").status, 200);
    }
    let warning = wait_for_line(&server, |l| l.contains("access log"));
    assert!(warning.contains("cannot write"), "{warning}");
    for _ in 0..50 {
        assert_eq!(request(server.addr, "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n").status, 200);
    }
    // Exiting flushes (and fails) again: still no second report.
    server.signal(libc::SIGTERM);
    assert!(server.wait_exit().success());
    let again: Vec<String> = server.log.try_iter().filter(|l| l.contains("access log")).collect();
    assert!(again.is_empty(), "the failure was reported more than once: {again:?}");
}

/// Issue 20, item 5: small files are tagged by their bytes, so replicas
/// agree even on copies that did not keep the times (a plain `cp -r`, a
/// build that writes every file anew); larger files keep the metadata tag,
/// which then differs (a revalidation there costs a transfer, never a
/// wrong 304).
#[test]
fn replicas_agree_on_small_files_whatever_the_copies_times() {
    let a = Site::new();
    let copy = tempfile::tempdir().expect("temp dir");
    let out = run_ok(
        Command::new("cp")
            .arg("-r")
            .arg("--no-preserve=timestamps")
            .arg(format!("{}/.", a.root().display()))
            .arg(copy.path()),
        IO_TIMEOUT,
    );
    assert!(out.status.success());
    let replica_a = TestServer::start_files(|f| f.root = a.root().to_path_buf());
    let replica_b = TestServer::start_files(|f| f.root = copy.path().to_path_buf());
    for name in ["/hello.txt", "/kib.bin", "/index.html"] {
        let etag = replica_a.get(name).header("etag").expect("an ETag").to_string();
        let from_b = replica_b.get(name);
        assert_ne!(from_b.header("last-modified"), replica_a.get(name).header("last-modified"), "{name}: new times");
        assert_eq!(from_b.header("etag"), Some(etag.as_str()), "{name}: replicas disagree");
        let mut stream = replica_b.connect();
        send(&mut stream, &format!("GET {name} HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\n\r\n"));
        assert_eq!(read_response(&mut stream, false).unwrap().status, 304, "{name}: B refused A's ETag");
    }
    assert_ne!(replica_a.get("/big.bin").header("etag"), replica_b.get("/big.bin").header("etag"));
}

#[test]
fn replicas_on_copies_of_a_tree_agree_on_validators() {
    let a = Site::new();
    let copy = tempfile::tempdir().expect("temp dir");
    // cp -a keeps the times (as rsync -a or a container image does), not the inodes.
    let out =
        run_ok(Command::new("cp").arg("-a").arg(format!("{}/.", a.root().display())).arg(copy.path()), IO_TIMEOUT);
    assert!(out.status.success());
    let replica_a = TestServer::start_files(|f| f.root = a.root().to_path_buf());
    let replica_b = TestServer::start_files(|f| f.root = copy.path().to_path_buf());
    for name in ["/hello.txt", "/big.bin", "/index.html"] {
        let from_a = replica_a.get(name);
        let from_b = replica_b.get(name);
        let etag = from_a.header("etag").expect("an ETag").to_string();
        assert_eq!(from_b.header("etag"), Some(etag.as_str()), "{name}: replicas disagree");
        let modified = from_a.header("last-modified").expect("Last-Modified").to_string();
        assert_eq!(from_b.header("last-modified"), Some(modified.as_str()));
        let mut stream = replica_b.connect();
        send(&mut stream, &format!("GET {name} HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\n\r\n"));
        assert_eq!(read_response(&mut stream, false).unwrap().status, 304, "{name}: B refused A's ETag");
        send(&mut stream, &format!("GET {name} HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: {modified}\r\n\r\n"));
        assert_eq!(read_response(&mut stream, false).unwrap().status, 304, "{name}: B refused A's date");
    }
    use std::os::unix::fs::MetadataExt;
    let inode = |root: &Path| std::fs::metadata(root.join("hello.txt")).unwrap().ino();
    assert_ne!(inode(a.root()), inode(copy.path()), "the copies are different files");
}

#[test]
fn a_same_second_rewrite_never_gets_a_stale_304_for_if_modified_since() {
    let server = TestServer::start();
    let path = server.root().join("fresh.txt");
    let mut checked = 0;
    for attempt in 0..20 {
        let version = |i: u32| format!("version {attempt:02}-{i}");
        std::fs::write(&path, version(0)).expect("write");
        let first = server.get("/fresh.txt");
        // The file was modified in the response's second: no date to rely on.
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        let date = httpdate::parse_http_date(first.header("date").expect("Date")).expect("a date");
        if mtime.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
            != date.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
        {
            continue; // crossed a second boundary; try again
        }
        assert!(first.header("last-modified").is_none(), "a file modified this second has a Last-Modified");
        assert!(first.header("etag").is_some(), "its ETag still validates");
        // A date-only client (apt, wget -N) asks with the only date it has.
        let since = first.header("date").unwrap().to_string();
        std::fs::write(&path, version(1)).expect("rewrite, same size");
        let mut stream = server.connect();
        send(&mut stream, &format!("GET /fresh.txt HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: {since}\r\n\r\n"));
        let second = read_response(&mut stream, false).unwrap();
        assert_eq!(second.status, 200, "stale 304 after a same-second rewrite");
        assert_eq!(second.text(), version(1));
        checked += 1;
        if checked == 3 {
            return;
        }
    }
    panic!("could not write and fetch within one second ({checked} of 3 checks)");
}

#[test]
fn health_is_unlogged_and_turns_503_from_the_first_signal() {
    let root = tempfile::tempdir().expect("temp dir");
    write(root.path(), "page.txt", b"page");
    let mut server =
        Binary::start(&[root.path().to_str().unwrap(), "--health", "/healthz", "--shutdown-grace", "5"], "info");
    let r = request(server.addr, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!((r.status, r.text().as_str()), (200, "ok\n"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    // Not a file: the root has none of that name, and removing the root's
    // permissions would not change the answer either.
    assert_eq!(request(server.addr, "GET /healthz/x HTTP/1.1\r\nHost: t\r\n\r\n").status, 404);
    request(server.addr, "GET /page.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut seen = Vec::new();
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        let line = server.log.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("page.txt line");
        if line.contains("GET /page.txt") {
            break;
        }
        seen.push(line);
    }
    assert!(seen.iter().all(|l| !l.contains("\"GET /healthz HTTP")), "health was logged: {seen:?}");

    // Idle keep-alive connections, open when the signal comes.
    let mut idle = connect(server.addr);
    send(&mut idle, "GET /page.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(read_response(&mut idle, false).unwrap().header("connection"), None);
    let mut checker = connect(server.addr);
    send(&mut checker, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(read_response(&mut checker, false).unwrap().status, 200);

    server.signal(libc::SIGTERM);
    wait_for_line(&server, |l| l.contains("finishing in-flight responses"));
    // With nothing in flight they are closed at once (a request already
    // sent behind a response in flight is answered, with 503 from the
    // health path: `shutdown::a_request_already_sent_behind_a_response_in_flight_is_answered_with_close`).
    assert_closed(&mut checker);
    assert_closed(&mut idle);
    assert!(server.wait_exit().success());
}

#[test]
fn forwarding_headers_count_only_from_trusted_proxies() {
    let site = Site::new();
    let trusting =
        Binary::start(&[site.root().to_str().unwrap(), "--trusted-proxy", "127.0.0.0/8"], "warn,rawserve=info");
    let xff = "GET /hello.txt HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 198.51.100.9, 203.0.113.7\r\n\r\n";
    request(trusting.addr, xff);
    let line = wait_for_line(&trusting, |l| l.contains("GET /hello.txt"));
    assert!(line.starts_with("203.0.113.7 - - "), "{line}");
    request(trusting.addr, "GET /style.css HTTP/1.1\r\nHost: t\r\nForwarded: for=\"[2001:db8::7]:99\"\r\n\r\n");
    let line = wait_for_line(&trusting, |l| l.contains("GET /style.css"));
    assert!(line.starts_with("2001:db8::7 - - "), "{line}");

    let other = Binary::start(&[site.root().to_str().unwrap(), "--trusted-proxy", "10.0.0.0/8"], "warn,rawserve=info");
    request(other.addr, xff);
    let line = wait_for_line(&other, |l| l.contains("GET /hello.txt"));
    assert!(line.starts_with("127.0.0.1 - - "), "an untrusted peer's header was believed: {line}");
}

fn proxy_v2(source: [u8; 4], port: u16) -> Vec<u8> {
    let mut header = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c".to_vec();
    header.extend_from_slice(&source);
    header.extend_from_slice(&[127, 0, 0, 1]);
    header.extend_from_slice(&port.to_be_bytes());
    header.extend_from_slice(&80u16.to_be_bytes());
    header
}

#[test]
fn the_proxy_protocol_names_the_client_and_is_required_when_enabled() {
    let site = Site::new();
    let server = Binary::start(&[site.root().to_str().unwrap(), "--proxy-protocol"], "info");
    let mut stream = connect(server.addr);
    send(&mut stream, "PROXY TCP4 192.0.2.10 127.0.0.1 5000 80\r\nGET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(read_response(&mut stream, false).unwrap().status, 200);
    // The next request on the connection needs no header of its own.
    send(&mut stream, "GET /style.css HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(read_response(&mut stream, false).unwrap().status, 200);
    let line = wait_for_line(&server, |l| l.contains("GET /hello.txt"));
    assert!(line.starts_with("192.0.2.10 - - "), "{line}");
    let line = wait_for_line(&server, |l| l.contains("GET /style.css"));
    assert!(line.starts_with("192.0.2.10 - - "), "{line}");

    // v2, sent in pieces.
    let mut stream = connect(server.addr);
    let header = proxy_v2([198, 51, 100, 20], 6000);
    stream.write_all(&header[..7]).unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(50)); // let the first piece arrive alone
    stream.write_all(&header[7..]).unwrap();
    send(&mut stream, "GET /data.json HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(read_response(&mut stream, false).unwrap().status, 200);
    let line = wait_for_line(&server, |l| l.contains("GET /data.json"));
    assert!(line.starts_with("198.51.100.20 - - "), "{line}");

    // Without a header: closed without an answer.
    let mut stream = connect(server.addr);
    send(&mut stream, "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    assert!(rest.is_empty(), "answered without a PROXY header: {:?}", String::from_utf8_lossy(&rest));

    // Without the flag, a PROXY header is a malformed request.
    let plain = Binary::start(&[site.root().to_str().unwrap()], "warn,rawserve=info");
    for header in [b"PROXY TCP4 192.0.2.10 127.0.0.1 5000 80\r\n".to_vec(), proxy_v2([1, 2, 3, 4], 1)] {
        let mut stream = connect(plain.addr);
        stream.write_all(&header).unwrap();
        send(&mut stream, "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(read_response(&mut stream, false).expect("an answer").status, 400);
    }
}

/// A free loopback port, for programs that need a fixed one (haproxy,
/// systemd-socket-activate). Another process could take it before they
/// bind; on a test machine that is rare enough.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().unwrap().port()
}

/// A child process killed (with everything it started) on drop.
struct Spawned(Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// GETs `url` with curl from `source` until it answers 200 (bounded).
fn curl_until_ok(url: &str, source: &str) {
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2", "--interface", source, url])
            .output()
            .expect("curl runs");
        if String::from_utf8_lossy(&out.stdout) == "200" {
            return;
        }
        assert!(Instant::now() < deadline, "{url} did not answer 200 within {IO_TIMEOUT:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn behind_haproxy_with_proxy_protocol_v2_the_real_client_is_logged() {
    if !have_tool("haproxy") || !have_tool("curl") {
        return;
    }
    let site = Site::new();
    let logs = tempfile::tempdir().expect("temp dir");
    let log = logs.path().join("access.log");
    let server = Binary::start(
        &[
            site.root().to_str().unwrap(),
            "--proxy-protocol",
            "--health",
            "/healthz",
            "--access-log",
            log.to_str().unwrap(),
        ],
        "warn,rawserve=info",
    );
    let front = free_port();
    // haproxy connects from 127.0.0.3, the client from 127.0.0.2: the log
    // must name the client's address, which only the PROXY header carries.
    let config = format!(
        "global\n  maxconn 100\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n\
         frontend web\n  bind 127.0.0.1:{front}\n  default_backend replicas\n\
         backend replicas\n  option httpchk GET /healthz\n  http-check expect status 200\n\
         \x20 server a {} send-proxy-v2 check check-send-proxy inter 200ms source 127.0.0.3\n",
        server.addr
    );
    let config_path = logs.path().join("haproxy.cfg");
    std::fs::write(&config_path, config).unwrap();
    let _haproxy = Spawned(
        Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("haproxy starts"),
    );
    let url = format!("http://127.0.0.1:{front}/hello.txt");
    curl_until_ok(&url, "127.0.0.2");
    let text = wait_for_file_line(&log, |l| l.contains("GET /hello.txt"));
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("GET /hello.txt")).collect();
    assert!(lines.iter().all(|l| l.starts_with("127.0.0.2 - - ")), "{text}");
    assert!(!text.contains("healthz"), "health checks were logged:\n{text}");
}

/// Spawns rawserve on the socket `listener` as systemd would: as fd 3,
/// with LISTEN_FDS=1 and LISTEN_PID set to the new process's own pid (by
/// the shell that then execs rawserve in its place).
fn spawn_activated(listener: &TcpListener, args: &[&str]) -> Spawned {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let fd = listener.as_raw_fd();
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("LISTEN_PID=$$ exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_rawserve"))
        .args(args)
        .env("LISTEN_FDS", "1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: dup2 and fcntl are async-signal-safe; they give the child the
    // listening socket as fd 3 without close-on-exec, touching no parent
    // state. (dup2 onto itself would keep the flag, hence the fcntl.)
    unsafe {
        command.pre_exec(move || {
            let ok = if fd == 3 { libc::fcntl(3, libc::F_SETFD, 0) } else { libc::dup2(fd, 3) };
            if ok < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Spawned(command.spawn().expect("spawn rawserve"))
}

#[test]
fn a_held_socket_lets_rawserve_restart_under_load_without_a_failed_connection() {
    let site = Site::new();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().unwrap();
    let root = site.root().to_str().unwrap().to_string();
    let args = [root.as_str(), "--quiet"];
    let mut current = spawn_activated(&listener, &args);
    assert_hello(addr);

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (stop, done) = (Arc::clone(&stop), Arc::clone(&done));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    // A new connection each time: every one must be accepted and answered.
                    let mut stream = TcpStream::connect(addr).expect("connection refused during a restart");
                    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                    send(&mut stream, "GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
                    let r = read_response(&mut stream, false).expect("a connection failed during a restart");
                    assert_eq!(r.status, 200);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for _ in 0..3 {
        let before = done.load(Ordering::Relaxed);
        let deadline = Instant::now() + IO_TIMEOUT;
        while done.load(Ordering::Relaxed) < before + 50 {
            assert!(Instant::now() < deadline, "no progress under load");
            std::thread::sleep(Duration::from_millis(10));
        }
        // As systemd restarts a service: stop the old process, start a new one.
        // SAFETY: plain kill(2) on our own child.
        assert_eq!(unsafe { libc::kill(current.0.id() as i32, libc::SIGTERM) }, 0);
        let status = current.0.wait().expect("wait");
        assert!(status.success(), "{status}");
        current = spawn_activated(&listener, &args);
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().expect("a client saw a refused or failed connection");
    }
    assert!(done.load(Ordering::Relaxed) >= 150);
}

#[test]
fn systemd_socket_activate_starts_rawserve_on_its_sockets() {
    if !have_tool("systemd-socket-activate") {
        return;
    }
    let site = Site::new();
    let port = free_port();
    let second = free_port();
    let _activator = Spawned(
        Command::new("systemd-socket-activate")
            .args(["-l", &format!("127.0.0.1:{port}"), "-l", &format!("127.0.0.1:{second}")])
            .arg(env!("CARGO_BIN_EXE_rawserve"))
            .args([site.root().to_str().unwrap(), "--quiet"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("systemd-socket-activate starts"),
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + IO_TIMEOUT;
    // The activator listens first; until then the port refuses.
    let mut stream = loop {
        match TcpStream::connect(addr) {
            Ok(stream) => break stream,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("systemd-socket-activate did not listen: {e}"),
        }
    };
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    send(&mut stream, "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = read_response(&mut stream, false).expect("rawserve answers on the inherited socket");
    assert_eq!(r.body, b"hello file\n");
    // rawserve itself serves it, not a copy of the socket bound elsewhere.
    assert_hello(addr);
    // Every socket handed over is served (a unit may list several).
    assert_hello(SocketAddr::from(([127, 0, 0, 1], second)));
}

/// A notification socket as systemd's: rawserve says READY=1 once serving
/// and STOPPING=1 on the signal.
#[test]
fn sd_notify_says_ready_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    let dir = tempfile::tempdir().expect("temp dir");
    let socket_path: PathBuf = dir.path().join("notify");
    let socket = UnixDatagram::bind(&socket_path).expect("bind");
    socket.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let site = Site::new();
    let mut child = Spawned(
        Command::new(env!("CARGO_BIN_EXE_rawserve"))
            .args([site.root().to_str().unwrap(), "--port", "0", "--quiet"])
            .env("NOTIFY_SOCKET", &socket_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn"),
    );
    let mut buffer = [0u8; 64];
    let n = socket.recv(&mut buffer).expect("READY=1 within the timeout");
    assert_eq!(&buffer[..n], b"READY=1");
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(child.0.id() as i32, libc::SIGTERM) }, 0);
    let n = socket.recv(&mut buffer).expect("STOPPING=1 within the timeout");
    assert_eq!(&buffer[..n], b"STOPPING=1");
    assert!(child.0.wait().unwrap().success());
}

#[test]
fn operations_flags_refuse_mistakes_in_one_line() {
    let site = Site::new();
    let root = site.root().to_str().unwrap();
    let run = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_rawserve")).args(args).output().expect("run rawserve");
    let out = run(&[root, "--port", "0", "--access-log", "/no/such/dir/access.log"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cannot open the access log /no/such/dir/access.log"), "{stderr}");
    for (flag, value) in [
        ("--trusted-proxy", "10.0.0.0/33"),
        ("--trusted-proxy", "example.com"),
        ("--log-format", "xml"),
        ("--health", "healthz"),
        ("--access-log", ""),
    ] {
        let out = run(&[root, flag, value]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: clap's usage error");
        assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value"), "{flag} {value}");
    }
    // LISTEN_PID naming another process: the variables are not for us, so
    // rawserve binds as usual (and serves).
    let server = Command::new(env!("CARGO_BIN_EXE_rawserve"))
        .args([root, "--port", "0", "--quiet"])
        .env("LISTEN_PID", "1")
        .env("LISTEN_FDS", "1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut server = Spawned(server);
    let mut first = String::new();
    let stderr = server.0.stderr.take().unwrap();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stderr), &mut first).expect("start-up line");
    let addr: SocketAddr =
        first.split("http://").nth(1).and_then(|u| u.split_whitespace().next()?.parse().ok()).expect(&first);
    assert_hello(addr);
}

#[test]
fn health_needs_no_file_system() {
    let root = tempfile::tempdir().expect("temp dir");
    write(root.path(), "page.txt", b"page");
    let server = Binary::start(&[root.path().to_str().unwrap(), "--health", "/healthz"], "warn,rawserve=info");
    assert_eq!(request(server.addr, "GET /page.txt HTTP/1.1\r\nHost: t\r\n\r\n").status, 200);
    // The served folder is gone: files are not found, health is still fine.
    std::fs::remove_dir_all(root.path()).expect("remove the root");
    assert_eq!(request(server.addr, "GET /page.txt HTTP/1.1\r\nHost: t\r\n\r\n").status, 404);
    let r = request(server.addr, "HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!((r.status, r.body.len()), (200, 0));
    assert_eq!(request(server.addr, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n").text(), "ok\n");
}

#[test]
fn a_closed_stdout_never_stops_serving() {
    use std::io::BufRead;
    let site = Site::new();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rawserve"))
        .args([site.root().to_str().unwrap(), "--port", "0"])
        .env("RUST_LOG", "warn,rawserve=info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Whoever read the access log has gone: writes fail with EPIPE.
    drop(child.stdout.take());
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let child = Spawned(child);
    let mut line = String::new();
    stderr.read_line(&mut line).expect("start-up line");
    let addr: SocketAddr =
        line.split("http://").nth(1).and_then(|u| u.split_whitespace().next()?.parse().ok()).expect(&line);
    for _ in 0..3 {
        assert_eq!(request(addr, "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n").status, 200);
    }
    line.clear();
    stderr.read_line(&mut line).expect("a warning");
    assert!(line.contains("access log: cannot write to standard output"), "{line}");
    for _ in 0..20 {
        assert_eq!(request(addr, "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n").status, 200);
    }
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(child.0.id() as i32, libc::SIGTERM) }, 0);
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).expect("the rest of stderr");
    assert!(!rest.contains("access log"), "reported more than once:\n{rest}");
}

#[test]
fn unfinished_or_hostile_proxy_headers_stall_no_one() {
    let site = Site::new();
    let server = Binary::start(&[site.root().to_str().unwrap(), "--proxy-protocol"], "warn,rawserve=info");
    // Half-sent headers, a v2 header claiming 64 KiB, and an endless v1 line.
    let mut held = Vec::new();
    for i in 0..200 {
        let mut stream = connect(server.addr);
        let bytes: Vec<u8> = match i % 3 {
            0 => b"PROXY TCP4 192.0.2.1".to_vec(),
            1 => b"\r\n\r\n\0\r\nQUIT\n\x21\x11\xff\xff".to_vec(),
            _ => [b"PROXY ".as_slice(), &[b'9'; 200]].concat(),
        };
        stream.write_all(&bytes).unwrap();
        held.push((i % 3, stream));
    }
    // A fresh client is served meanwhile (within the read timeout).
    let mut stream = connect(server.addr);
    send(&mut stream, "PROXY TCP4 192.0.2.2 127.0.0.1 1 80\r\nGET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(read_response(&mut stream, false).expect("answered").status, 200);
    // The malformed ones are closed without an answer; the unfinished wait.
    for (kind, stream) in held.iter_mut().filter(|(kind, _)| *kind != 0) {
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
        assert!(rest.is_empty(), "kind {kind} was answered: {:?}", String::from_utf8_lossy(&rest));
    }
}
