//! The design's central promise: idle, half-sent and trickling connections
//! occupy no worker, so a fresh request is still answered and the thread
//! count stays fixed.

use std::io::Write;
use std::net::TcpStream;
use std::time::Instant;

use crate::support::*;

const IDLE_CONNECTIONS: usize = 2_000;

#[test]
fn two_thousand_idle_connections_do_not_block_a_fresh_request() {
    rawserve::raise_fd_limit().expect("raise fd limit");
    let site = Site::new();
    let root = site.root().to_str().expect("utf-8 temp path").to_string();
    let server = Binary::start(&[&root, "--threads", "2"], "warn,rawserve=info");
    let threads_at_start = server.threads();

    let mut held: Vec<TcpStream> = Vec::with_capacity(IDLE_CONNECTIONS);
    for i in 0..IDLE_CONNECTIONS {
        let mut stream = connect(server.addr);
        match i % 4 {
            0 => {}                                                       // silent
            1 => stream.write_all(b"GET /hello HTTP/1.1\r\nHo").unwrap(), // half-sent head
            2 => stream.write_all(b"G").unwrap(),                         // first byte only
            _ => {
                // One full request, then idle on a kept-alive connection.
                stream.write_all(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
                assert_eq!(read_response(&mut stream, false).expect("answered").status, 200);
            }
        }
        held.push(stream);
    }
    // Trickle one more byte into the half-sent ones.
    for stream in held.iter_mut().skip(2).step_by(4) {
        stream.write_all(b"E").unwrap();
    }

    let started = Instant::now();
    let mut fresh = connect(server.addr);
    fresh.write_all(b"GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").unwrap();
    let r = read_response(&mut fresh, false).expect("a fresh request is answered");
    eprintln!("fresh request with {IDLE_CONNECTIONS} idle connections open: {:?}", started.elapsed());
    assert_eq!(r.body, b"Hello, world!");
    assert_eq!(server.threads(), threads_at_start, "thread count must not grow with connections");
    drop(held);
}
