//! Graceful shutdown of the real binary (SIGTERM): what has nothing in
//! flight (an idle keep-alive connection, an unfinished request head) is
//! closed at once, so it cannot hold the process for `--shutdown-grace`;
//! only responses in flight get the grace, and they arrive whole.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::support::*;

/// What "at once" allows between the signal and the process's exit: the
/// signal thread, a waker, one loop turn and the joins take milliseconds;
/// the rest is room for a machine busy with other work (1 s was seen
/// exceeded with a load average of 8 on 2 cores). The grace period in
/// these tests is 30 s, so waiting for it cannot pass.
const PROMPT_EXIT: Duration = Duration::from_secs(5);

/// `--shutdown-grace` in these tests: far longer than any of them may take.
const GRACE: &str = "30";

/// The server's socket of the connection `client` (to `server`) as
/// /proc/net/tcp shows it: `Some(true)` once everything the client sent
/// has been read by the server (its receive queue is empty).
fn server_read_all(server: SocketAddr, client: &TcpStream) -> Option<bool> {
    let hex = |addr: SocketAddr| match addr {
        SocketAddr::V4(v4) => format!("{:08X}:{:04X}", u32::from_ne_bytes(v4.ip().octets()), v4.port()),
        SocketAddr::V6(_) => unreachable!("the test binds 127.0.0.1"),
    };
    let (local, remote) = (hex(server), hex(client.local_addr().expect("local address")));
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // sl, local_address, rem_address, st, tx_queue:rx_queue, ...
        (fields.get(1) == Some(&local.as_str()) && fields.get(2) == Some(&remote.as_str()))
            .then(|| fields[4].split(':').nth(1).is_some_and(|rx| rx.chars().all(|c| c == '0')))
    })
}

/// Waits (bounded) until the server has read every byte `client` sent, so
/// a test acts on what the server holds, not on what is still in a queue.
fn wait_until_read(server: SocketAddr, client: &TcpStream) {
    let deadline = Instant::now() + IO_TIMEOUT;
    while server_read_all(server, client) != Some(true) {
        assert!(Instant::now() < deadline, "the server did not read the bytes within {IO_TIMEOUT:?}");
        // No event to wait on from here: poll the kernel's table.
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Sends SIGTERM and returns the exit status and how long the exit took.
fn terminate(server: &mut Binary) -> (std::process::ExitStatus, Duration) {
    let signalled = Instant::now();
    server.signal(libc::SIGTERM);
    let status = server.wait_exit();
    (status, signalled.elapsed())
}

#[test]
fn an_unfinished_request_head_does_not_hold_sigterm() {
    let site = Site::new();
    let mut server = Binary::start(&[site.root().to_str().unwrap(), "--shutdown-grace", GRACE], "info");
    let mut half = connect(server.addr);
    send(&mut half, "GET /hello HTTP/1.1\r\nHost: t\r\nUser-Ag");
    wait_until_read(server.addr, &half);

    let (status, took) = terminate(&mut server);
    assert!(status.success(), "exit status {status}");
    assert!(took < PROMPT_EXIT, "exit took {took:?} with one unfinished head (grace {GRACE} s)");
    server.wait_for_log("closing a request not received whole");
    // Closed without an answer: no response to it was ever begun.
    assert!(read_response(&mut half, false).is_none(), "an unfinished head gets no answer, just the close");
}

#[test]
fn fifty_idle_keep_alive_connections_do_not_hold_sigterm() {
    const IDLE: usize = 50;
    let site = Site::new();
    let args = [site.root().to_str().unwrap(), "--shutdown-grace", GRACE, "--idle-timeout", "60"];
    let mut server = Binary::start(&args, "warn");
    let mut idle: Vec<TcpStream> = (0..IDLE)
        .map(|_| {
            let mut stream = connect(server.addr);
            send(&mut stream, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
            let r = read_response(&mut stream, false).expect("hello");
            assert_eq!((r.status, r.header("connection")), (200, None), "kept alive");
            stream
        })
        .collect();

    let (status, took) = terminate(&mut server);
    assert!(status.success(), "exit status {status}");
    assert!(took < PROMPT_EXIT, "exit took {took:?} with {IDLE} idle connections (idle timeout 60 s)");
    for stream in &mut idle {
        assert_closed(stream);
    }
}

#[test]
fn only_the_download_in_flight_gets_the_grace_and_it_arrives_whole() {
    const SIZE: usize = 32 << 20;
    let site = Site::new();
    // Bytes that depend on their offset, so a lost or repeated piece shows.
    let contents: Vec<u8> = (0..SIZE as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    write(site.root(), "large.bin", &contents);
    let mut server = Binary::start(&[site.root().to_str().unwrap(), "--shutdown-grace", GRACE], "info");

    // A download in flight: its head has arrived, and it is not read on
    // until the others are checked, so it is still in flight then.
    let mut download = connect(server.addr);
    send(&mut download, "GET /large.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(download.peek(&mut [0u8; 1]).expect("the response starts"), 1);
    // An idle keep-alive connection and an unfinished head beside it.
    let mut idle = connect(server.addr);
    send(&mut idle, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(read_response(&mut idle, false).expect("hello").status, 200);
    let mut half = connect(server.addr);
    send(&mut half, "GET /hello HTTP/1.1\r\nHo");
    wait_until_read(server.addr, &half);

    server.signal(libc::SIGTERM);
    server.wait_for_log("finishing in-flight responses");
    // Closed at once, while the download still waits for its reader.
    assert_closed(&mut idle);
    assert_closed(&mut half);
    assert!(server.child.try_wait().expect("try_wait").is_none(), "the download in flight keeps the server up");

    let r = read_response(&mut download, false).expect("the download completes");
    assert_eq!(r.status, 200);
    assert!(r.body == contents, "every byte, in order ({} of {SIZE} received)", r.body.len());
    // Its head said keep-alive before the signal; with nothing else sent,
    // the connection ends once the response is out.
    assert_closed(&mut download);
    assert!(server.wait_exit().success(), "exit status 0");
}

#[test]
fn a_request_already_sent_behind_a_response_in_flight_is_answered_with_close() {
    let site = Site::new();
    write(site.root(), "large.bin", &vec![7u8; 16 << 20]);
    let args = [site.root().to_str().unwrap(), "--shutdown-grace", GRACE, "--health", "/healthz"];
    let mut server = Binary::start(&args, "info");
    let mut stream = connect(server.addr);
    // Pipelined: the second request is in the server's hands before the
    // signal, behind a response that cannot finish until it is read.
    send(&mut stream, "GET /large.bin HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(stream.peek(&mut [0u8; 1]).expect("the response starts"), 1);
    wait_until_read(server.addr, &stream);

    server.signal(libc::SIGTERM);
    server.wait_for_log("finishing in-flight responses");
    let first = read_response(&mut stream, false).expect("the response in flight");
    assert_eq!((first.status, first.body.len()), (200, 16 << 20));
    // Answered rather than lost, told the connection ends, and (from the
    // signal on) 503 from the health path, so a balancer sends no more.
    let second = read_response(&mut stream, false).expect("the request already sent");
    assert_eq!((second.status, second.header("connection")), (503, Some("close")));
    assert_closed(&mut stream);
    assert!(server.wait_exit().success(), "exit status 0");
}

#[test]
fn a_connection_accepted_before_the_signal_gets_its_first_request_answered() {
    let site = Site::new();
    let args = [site.root().to_str().unwrap(), "--shutdown-grace", GRACE];
    let mut server = Binary::start(&args, "info,rawserve::worker=debug");
    // Accepted, and its request not sent yet: a client that has just
    // connected (or, with a socket handed over by systemd, one accepted by
    // the old process just before the restart).
    let mut fresh = connect(server.addr);
    server.wait_for_log(&format!("{}: connected", fresh.local_addr().expect("local address")));

    server.signal(libc::SIGTERM);
    server.wait_for_log("finishing in-flight responses");
    send(&mut fresh, "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = read_response(&mut fresh, false).expect("answered, not dropped");
    assert_eq!((r.status, r.text().as_str(), r.header("connection")), (200, "hello file\n", Some("close")));
    assert_closed(&mut fresh);
    assert!(server.wait_exit().success(), "exit status 0");
}
