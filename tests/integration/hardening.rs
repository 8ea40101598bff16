//! Limits, timeouts, faults and shutdown: the server keeps serving
//! everyone else, loses no response it has started, and says why it
//! refused what it refused.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use rawserve::{Request, Response};

use crate::support::*;

/// Reads whatever arrives until EOF or reset; returns the byte count.
fn drain(stream: &mut TcpStream) -> usize {
    let mut total = 0;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return total,
            Ok(n) => total += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return total,
            Err(e) => panic!("reading: {e}"),
        }
    }
}

/// A sparse file of `len` bytes in the site (sendfile reads zeros).
fn sparse(server_root: &std::path::Path, name: &str, len: u64) {
    File::create(server_root.join(name)).unwrap().set_len(len).unwrap();
}

#[test]
fn connections_past_the_cap_get_503_and_a_close() {
    let server = TestServer::start_with(|c| c.max_connections = 4);
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut stream = server.connect();
        send(&mut stream, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(read_response(&mut stream, false).unwrap().status, 200);
        held.push(stream);
    }
    let mut over = server.connect();
    let r = read_response(&mut over, false).expect("a 503, not silence");
    assert_eq!((r.status, r.header("retry-after")), (503, Some("1")));
    assert!(r.header("date").is_some());
    assert_closed(&mut over);

    // Once one leaves, a newcomer is served (the server notices the close
    // asynchronously, so allow a bounded number of tries).
    drop(held.pop());
    let served = (0..200).any(|_| {
        let r = server.get("/hello");
        if r.status == 503 {
            std::thread::sleep(Duration::from_millis(20));
        }
        r.status == 200
    });
    assert!(served, "a freed slot is reused");
}

#[test]
fn a_slow_head_gets_408_then_close() {
    let server = TestServer::start_with(|c| c.head_timeout = Duration::from_millis(300));
    let mut stream = server.connect();
    send(&mut stream, "GET /hello HTTP/1.1\r\nHost:");
    let r = read_response(&mut stream, false).expect("408");
    assert_eq!((r.status, r.header("connection")), (408, Some("close")));
    assert_closed(&mut stream);
    // Trickling bytes does not extend the head timeout.
    let mut stream = server.connect();
    send(&mut stream, "GET /hello HTTP/1.1\r\n");
    for _ in 0..100 {
        if stream.write_all(b"X-A: b\r\n").is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(read_response(&mut stream, false).map(|r| r.status), Some(408));
    assert_hello(server.addr());
}

#[test]
fn an_idle_connection_is_closed_quietly() {
    let server = TestServer::start_with(|c| c.idle_timeout = Duration::from_millis(300));
    let mut stream = server.connect();
    send(&mut stream, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(read_response(&mut stream, false).unwrap().status, 200);
    // No 408 for a connection between requests: just the close.
    assert_closed(&mut stream);
    let mut silent = server.connect();
    assert_closed(&mut silent);
}

#[test]
fn a_client_that_stops_reading_is_dropped() {
    let site = Site::new();
    sparse(site.root(), "huge.bin", 256 << 20);
    let root = site.root().to_str().unwrap().to_string();
    let server = Binary::start(&[&root, "--send-timeout", "0.3"], "info");
    let mut stream = connect(server.addr);
    send(&mut stream, "GET /huge.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    server.wait_for_log("client stopped reading");
    let received = drain(&mut stream);
    assert!(received < 256 << 20, "the response was cut short ({received} bytes)");
    assert_hello(server.addr);
}

fn panics(_: &Request) -> Response {
    panic!("handler bug (deliberate, for the test)")
}

#[test]
fn a_panicking_handler_answers_500_and_harms_no_one_else() {
    let server = TestServer::start_routed(|_| {}, |router| router.get("/panic", panics));
    let mut bystander = server.connect();
    send(&mut bystander, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(read_response(&mut bystander, false).unwrap().status, 200);
    for _ in 0..4 {
        let mut stream = server.connect();
        send(&mut stream, "GET /panic HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
        let r = read_response(&mut stream, false).expect("500");
        assert_eq!((r.status, r.header("connection")), (500, Some("close")));
        assert_closed(&mut stream); // the connection that hit the panic is closed
    }
    // Both workers still serve, and the bystander's connection is intact.
    for _ in 0..8 {
        assert_hello(server.addr());
    }
    send(&mut bystander, "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(read_response(&mut bystander, false).unwrap().text(), "hello file\n");
}

#[test]
fn running_out_of_descriptors_pauses_accepts_and_recovers() {
    let site = Site::new();
    let root = site.root().to_str().unwrap().to_string();
    let server =
        Binary::start_limited(&[&root, "--threads", "1", "--max-connections", "1000"], "warn,rawserve=info", Some(32));
    let mut held = Vec::new();
    for _ in 0..60 {
        held.push(connect(server.addr)); // the kernel queues what the server cannot accept
    }
    server.wait_for_log("cannot accept");
    // While starved the worker must not spin on accept.
    let before = server.cpu_ticks();
    std::thread::sleep(Duration::from_secs(1));
    let used = server.cpu_ticks() - before;
    assert!(used < 30, "{used} ticks of CPU in 1 s while out of descriptors: spinning");
    drop(held);
    // Logged once for the episode, not once per retry (about ten retries
    // happened during the second above).
    let mut repeats = 0;
    loop {
        let line = server.log.recv_timeout(IO_TIMEOUT).expect("the server recovers");
        if line.contains("accepting again") {
            break;
        }
        repeats += usize::from(line.contains("cannot accept"));
    }
    assert_eq!(repeats, 0, "the failure is logged once per episode");
    assert_hello(server.addr);
}

#[test]
fn a_file_truncated_mid_send_ends_that_response_only() {
    let server = TestServer::start();
    let path = server.root().join("shrinking.bin");
    sparse(&server.root(), "shrinking.bin", 64 << 20);
    let mut stream = server.connect();
    send(&mut stream, "GET /shrinking.bin HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut first = vec![0u8; 1 << 20];
    stream.read_exact(&mut first).unwrap();
    assert!(first.starts_with(b"HTTP/1.1 200 OK\r\n"));
    OpenOptions::new().write(true).open(&path).unwrap().set_len(1 << 20).unwrap();
    let rest = drain(&mut stream);
    assert!(first.len() + rest < 64 << 20, "the connection ended early instead of sending stale length");
    assert_hello(server.addr());
}

#[test]
fn sigterm_lets_fifty_downloads_finish_and_refuses_newcomers() {
    const DOWNLOADS: usize = 50;
    const SIZE: u64 = 16 << 20;
    let site = Site::new();
    sparse(site.root(), "large.bin", SIZE);
    let root = site.root().to_str().unwrap().to_string();
    let mut server = Binary::start(&[&root, "--threads", "2"], "warn,rawserve=info");
    let mut streams = Vec::new();
    for _ in 0..DOWNLOADS {
        let mut stream = connect(server.addr);
        send(&mut stream, "GET /large.bin HTTP/1.1\r\nHost: t\r\n\r\n");
        let mut head = [0u8; 17];
        stream.read_exact(&mut head).unwrap(); // the response has started
        streams.push(stream);
    }
    server.signal(libc::SIGTERM);
    server.wait_for_log("finishing in-flight responses");
    let readers: Vec<_> = streams.into_iter().map(|mut s| std::thread::spawn(move || drain(&mut s))).collect();
    let mut sizes: Vec<usize> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    sizes.dedup();
    assert_eq!(sizes.len(), 1, "every download got the same length");
    assert!(sizes[0] as u64 > SIZE, "every download completed: {} of {SIZE}+head bytes", sizes[0]);
    assert!(server.wait_exit().success(), "exit status 0");
    assert!(TcpStream::connect(server.addr).is_err(), "new connections are refused");
}

#[test]
fn a_second_signal_stops_at_once() {
    let site = Site::new();
    sparse(site.root(), "large.bin", 256 << 20);
    let root = site.root().to_str().unwrap().to_string();
    let mut server = Binary::start(&[&root, "--shutdown-grace", "600"], "warn,rawserve=info");
    let mut stalled = connect(server.addr);
    send(&mut stalled, "GET /large.bin HTTP/1.1\r\nHost: t\r\n\r\n"); // and never read
    let mut head = [0u8; 17];
    stalled.read_exact(&mut head).unwrap();
    server.signal(libc::SIGTERM);
    server.wait_for_log("finishing in-flight responses");
    server.signal(libc::SIGTERM);
    let status = server.wait_exit();
    assert!(!status.success(), "the second signal ends the process without waiting for the grace period");
}

fn echo(request: &Request) -> Response {
    Response::bytes("application/octet-stream", request.body().to_vec()).expect("a valid content type")
}

#[test]
fn a_route_reads_its_body_and_static_files_skip_theirs() {
    let server = TestServer::start_routed(|_| {}, |router| router.any("/echo", echo));
    let mut stream = server.connect();
    // Each send its own segment. The body arrives in pieces; the route sees
    // all of it, and the pipelined request after it is answered on the same
    // connection.
    stream.set_nodelay(true).expect("nodelay");
    send(&mut stream, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello");
    send(&mut stream, " world");
    send(&mut stream, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
    let first = read_response(&mut stream, false).expect("echo");
    assert_eq!((first.status, first.text().as_str()), (200, "hello world"));
    let second = read_response(&mut stream, false).expect("echo without a body");
    assert_eq!((second.status, second.body.len()), (200, 0));
    // A static file is answered before its (slow) body has arrived.
    send(&mut stream, "GET /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nab");
    assert_eq!(read_response(&mut stream, false).expect("file").text(), "hello file\n");
    send(&mut stream, "cde");
    send(&mut stream, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(read_response(&mut stream, false).expect("hello").body, b"Hello, world!");
}

#[test]
fn unfinished_heads_share_one_memory_budget() {
    // Room for about four 6 KB heads in progress (each buffer grows to 8 KiB).
    let server = TestServer::start_with(|c| c.max_pending_head_bytes = 32 * 1024);
    let partial = format!("GET /hello HTTP/1.1\r\nHost: t\r\nX-Pad: {}", "a".repeat(6000));
    let mut streams: Vec<TcpStream> = (0..8).map(|_| server.connect()).collect();
    for stream in &mut streams {
        send(stream, &partial);
    }
    // Those past the budget are answered 503 at once; the others wait for the rest of their head.
    let mut refused = 0;
    for stream in &mut streams {
        stream.set_read_timeout(Some(Duration::from_millis(300))).expect("timeout");
        let mut byte = [0u8; 12];
        if let Ok(12) = stream.read(&mut byte) {
            assert_eq!(&byte, b"HTTP/1.1 503");
            refused += 1;
        }
    }
    assert!((1..=5).contains(&refused), "{refused} of 8 refused");
    // Memory goes back when they go: a new head of the same size fits again
    // (once the server has seen the closes, so retried within IO_TIMEOUT).
    drop(streams);
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    loop {
        let mut stream = server.connect();
        send(&mut stream, &partial);
        send(&mut stream, "\r\n\r\n");
        let status = read_response(&mut stream, false).expect("a response").status;
        if status == 200 {
            break;
        }
        assert!(status == 503 && std::time::Instant::now() < deadline, "answered {status}");
    }
}
