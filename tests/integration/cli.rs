//! The `rawserve` command as a user meets it: start-up errors, help,
//! IPv6, and graceful exit on SIGTERM.

use std::io::Write;
use std::net::TcpListener;
use std::process::Command;

use crate::support::*;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rawserve")).args(args).output().expect("run rawserve")
}

/// Exit code 1 and one line on stderr naming the problem, no backtrace.
fn fails_with(args: &[&str], message: &str) {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.contains(message), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn start_up_mistakes_get_one_clear_line() {
    let site = Site::new();
    let root = site.root().to_str().unwrap();
    fails_with(&["/no/such/dir"], "cannot serve /no/such/dir");
    let file = format!("{root}/hello.txt");
    fails_with(&[&file], "not a directory");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    fails_with(&[root, "--port", &port], "already in use");
    fails_with(&[root, "--bind", "192.0.2.1"], "cannot listen on 192.0.2.1");

    let out = run(&[root, "--bind", "not-an-address"]);
    assert_eq!(out.status.code(), Some(2)); // clap's usage error
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value"));
}

#[test]
fn help_and_version() {
    let help = run(&["--help"]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in ["--port", "--bind", "--threads", "--follow-symlinks", "[ROOT]"] {
        assert!(text.contains(flag), "--help lacks {flag}");
    }
    let version = run(&["--version"]);
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), format!("rawserve {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn serves_over_ipv6_loopback() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: this machine has no IPv6 loopback");
        return;
    }
    let site = Site::new();
    let server = Binary::start(&[site.root().to_str().unwrap(), "--bind", "::1"], "warn,rawserve=info");
    assert!(server.addr.is_ipv6());
    let mut stream = connect(server.addr);
    send(&mut stream, "GET /hello HTTP/1.1\r\nHost: [::1]\r\n\r\n");
    assert_eq!(read_response(&mut stream, false).unwrap().body, b"Hello, world!");
}

#[test]
fn sigterm_finishes_the_response_in_flight_and_exits_zero() {
    let site = Site::new();
    let mut server = Binary::start(&[site.root().to_str().unwrap()], "info");
    // A keep-alive connection whose response is still being received.
    let mut busy = connect(server.addr);
    send(&mut busy, "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut idle = connect(server.addr);
    send(&mut idle, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(read_response(&mut idle, false).unwrap().status, 200);
    // Wait until the big response has started (its first byte is here).
    assert_eq!(busy.peek(&mut [0u8; 1]).expect("the response starts"), 1);

    server.signal(libc::SIGTERM);
    let r = read_response(&mut busy, false).expect("in-flight response completes");
    assert!(r.body == big_contents());
    assert_closed(&mut busy);
    assert_closed(&mut idle);
    assert!(server.wait_exit().success());
    assert!(std::net::TcpStream::connect(server.addr).is_err(), "new connections are refused");
}

#[test]
fn the_access_log_escapes_what_the_request_sent() {
    let site = Site::new();
    let server = Binary::start(&[site.root().to_str().unwrap()], "info");
    let mut stream = connect(server.addr);
    // A quote and a backslash would let a target end the field and forge
    // the status; non-ASCII bytes are written as \xHH, as nginx does.
    stream.write_all("GET /x\"\\\u{e9}\" 200 1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".as_bytes()).unwrap();
    let response = read_response(&mut stream, false).expect("a response");
    assert_eq!(response.status, 400, "spaces in the target make it malformed");
    let mut stream = connect(server.addr);
    stream.write_all("GET /x\"\\\u{e9} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".as_bytes()).unwrap();
    // safe_path refuses the backslash (400); what matters is the log line.
    let status = read_response(&mut stream, false).expect("a response").status;
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    let line = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match server.log.recv_timeout(left) {
            Ok(line) if line.contains("GET /x") => break line,
            Ok(_) => {}
            Err(_) => panic!("no access line for GET /x"),
        }
    };
    assert!(line.contains(&format!(r#""GET /x\"\\\xC3\xA9 HTTP/1.1" {status} "#)), "{line}");
}
