//! Floods (issue 20): clients that make the server hold memory for them
//! (TLS records sent by halves, compressed responses nobody reads) are
//! held to the one memory budget, and the memory comes back when they go.
//! Each test runs the `rawserve` binary and reads its RSS from
//! `/proc/PID/status` before, during and after the flood.
//!
//! What the assertions allow, and why:
//! - During: RSS at most the budget's share above its level before, plus
//!   a margin per connection for what is not charged (the connection's own
//!   state, a slot in the worker's table, the allocator's bookkeeping:
//!   under 1 KiB measured; 2 KiB allowed) and `SLACK` for the allocator's
//!   rounding and the code pages the flood touches for the first time.
//! - After: within 20 % of the level before plus `KEPT`, what the server
//!   may keep by design: its pool of output buffers (32 per worker; after
//!   the compression flood heaptrack finds them grown to ~42 KiB by stream
//!   pieces, 1.35 MiB in all), its connection tables' kept slots (0.2 MiB
//!   here), and glibc's per-thread caches.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

use crate::support::*;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
/// Allocator rounding and first-touched code pages (see the module doc).
const SLACK: u64 = 4 * MIB;
/// What the server may keep after a flood (see the module doc).
const KEPT: u64 = 2 * MIB;
/// Uncharged memory per connection held during a flood (see the module doc).
const PER_CONNECTION: u64 = 2 * KIB;

/// Waits (bounded) until the server's RSS is at most `bound` KiB; the last
/// figure read.
fn rss_falls_to(server: &Binary, bound: u64) -> u64 {
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        let rss = server.status_kib("VmRSS:");
        if rss <= bound || Instant::now() > deadline {
            return rss;
        }
        // /proc has no way to wait for a change: poll it.
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---- TLS records sent by halves ---------------------------------------------

/// The budget of the TLS flood, and what each stalled connection is
/// charged at least: half a 16 KiB record and the session it keeps alive.
const TLS_BUDGET: u64 = 4 * MIB;
const TLS_CHARGE: u64 = 16 * KIB;
const TLS_CLIENTS: usize = 600;

fn tls_client_config(pem: &[u8]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(pem).expect("PEM")).expect("a root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// A TLS connection that finished its handshake and sent the first half of
/// one full (16 KiB) record, as the attacker of issue 20 does.
fn stalled_in_mid_record(addr: SocketAddr, config: &Arc<ClientConfig>) -> (ClientConnection, TcpStream) {
    let mut socket = connect(addr);
    let name = ServerName::IpAddress(addr.ip().into());
    let mut tls = ClientConnection::new(Arc::clone(config), name).expect("client");
    while tls.is_handshaking() {
        tls.complete_io(&mut socket).expect("handshake");
    }
    tls.writer().write_all(&[b'x'; 16384]).expect("plaintext");
    let mut record = Vec::new();
    while tls.wants_write() {
        tls.write_tls(&mut record).expect("to memory");
    }
    socket.write_all(&record[..record.len() / 2]).expect("half a record");
    socket.set_nonblocking(true).expect("nonblocking");
    (tls, socket)
}

/// What became of a stalled connection so far.
#[derive(Debug, PartialEq)]
enum Fate {
    /// Still open, nothing but session tickets received.
    Held,
    /// Closed by the server, after answering `HTTP/1.1 503` or not.
    Refused { answered_503: bool },
}

/// Reads what the server sent on a stalled connection, without blocking.
fn fate(tls: &mut ClientConnection, socket: &mut TcpStream, answered_503: &mut bool) -> Fate {
    loop {
        match tls.read_tls(socket) {
            Ok(0) => return Fate::Refused { answered_503: *answered_503 },
            Ok(_) => {
                if tls.process_new_packets().is_err() {
                    return Fate::Refused { answered_503: *answered_503 };
                }
                let mut plain = Vec::new();
                let _ = tls.reader().read_to_end(&mut plain);
                *answered_503 |= plain.starts_with(b"HTTP/1.1 503");
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Fate::Held,
            Err(_) => return Fate::Refused { answered_503: *answered_503 },
        }
    }
}

#[test]
fn tls_clients_stalled_in_mid_record_are_held_to_the_budget_and_their_memory_returns() {
    rawserve::raise_fd_limit().expect("raise fd limit");
    let dir = tempfile::tempdir().expect("temp dir");
    let cert = dir.path().join("cert.pem");
    let public = env!("CARGO_MANIFEST_DIR").to_string() + "/public";
    let budget = TLS_BUDGET.to_string();
    let server = Binary::start(
        &[
            &public,
            "--threads",
            "2",
            "--tls-self-signed",
            "--tls-write-cert",
            cert.to_str().expect("UTF-8"),
            "--max-pending-head-bytes",
            &budget,
            "--head-timeout",
            "120",
        ],
        "warn",
    );
    let config = tls_client_config(&std::fs::read(&cert).expect("the certificate was written"));
    // Warm up: the first handshakes, a request, a stalled client come and gone.
    let (tls, socket) = stalled_in_mid_record(server.addr, &config);
    drop((tls, socket));
    let hello = |server: &Binary| {
        let name = ServerName::IpAddress(server.addr.ip().into());
        let tls = ClientConnection::new(Arc::clone(&config), name).expect("client");
        let mut client = rustls::StreamOwned::new(tls, connect(server.addr));
        client.write_all(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n").expect("send");
        assert_eq!(read_response(&mut client, false).expect("a response").body, b"Hello, world!");
    };
    hello(&server);
    let before = server.status_kib("VmRSS:");

    let mut clients: Vec<_> = (0..TLS_CLIENTS).map(|_| (stalled_in_mid_record(server.addr, &config), false)).collect();
    // The server reads each half record as it comes; wait until what it
    // holds fits the budget (each charged at least TLS_CHARGE).
    let deadline = Instant::now() + IO_TIMEOUT;
    let (held, answered) = loop {
        let mut held = 0u64;
        let mut answered = 0;
        for ((tls, socket), answered_503) in &mut clients {
            match fate(tls, socket, answered_503) {
                Fate::Held => held += 1,
                Fate::Refused { answered_503: true } => answered += 1,
                Fate::Refused { answered_503: false } => {}
            }
        }
        if held * TLS_CHARGE <= TLS_BUDGET || Instant::now() > deadline {
            break (held, answered);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let during = server.status_kib("VmRSS:");
    eprintln!(
        "{TLS_CLIENTS} TLS clients stalled in mid-record, {TLS_BUDGET}-byte budget: {held} held, {answered} \
         answered 503; RSS {before} KiB before, {during} KiB during"
    );
    assert!(held * TLS_CHARGE <= TLS_BUDGET, "{held} stalled connections held: more than the budget");
    assert!(held * TLS_CHARGE * 2 >= TLS_BUDGET, "only {held} held: the budget refuses too early");
    assert!(answered > 0, "no connection past the budget was answered 503");
    let bound = before + (TLS_BUDGET + SLACK + PER_CONNECTION * TLS_CLIENTS as u64) / KIB;
    assert!(during <= bound, "RSS {during} KiB during the flood, over {bound} KiB");
    // A client that sends whole records needs nothing from the budget.
    hello(&server);

    drop(clients);
    let bound = before + before / 5 + KEPT / KIB;
    let after = rss_falls_to(&server, bound);
    eprintln!("RSS after the flood: {after} KiB (at most {bound})");
    assert!(after <= bound, "RSS {after} KiB once the flood is over: over {bound} KiB ({before} before)");
}

// ---- TLS downloads nobody reads -----------------------------------------------

/// The budget of the unread-downloads flood: about 16 of the 64 KiB chunks
/// of ciphertext a stalled TLS download holds.
const UNREAD_BUDGET: u64 = MIB;
const UNREAD_CLIENTS: usize = 200;
/// What a stalled TLS download past the budget holds uncharged: one
/// record of ciphertext (the server's `FRUGAL_CHUNK` and its overhead).
const UNCHARGED_RECORD: u64 = 17 * KIB;

#[test]
fn tls_downloads_nobody_reads_are_held_to_the_budget_and_their_memory_returns() {
    rawserve::raise_fd_limit().expect("raise fd limit");
    let site = tempfile::tempdir().expect("temp dir");
    write(site.path(), "big.bin", &big_contents());
    let cert = site.path().join("cert.pem");
    let budget = UNREAD_BUDGET.to_string();
    let root = site.path().to_str().expect("UTF-8");
    let args = [root, "--threads", "2", "--tls-self-signed", "--tls-write-cert", cert.to_str().expect("UTF-8")];
    let server =
        Binary::start(&[&args[..], &["--max-pending-head-bytes", &budget, "--send-timeout", "120"]].concat(), "warn");
    let config = tls_client_config(&std::fs::read(&cert).expect("the certificate was written"));
    let download = |read: bool| {
        let name = ServerName::IpAddress(server.addr.ip().into());
        let tls = ClientConnection::new(Arc::clone(&config), name).expect("client");
        let mut client = rustls::StreamOwned::new(tls, small_window(server.addr));
        client.write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n").expect("send");
        if read {
            let r = read_response(&mut client, false).expect("a response");
            assert!(r.body == big_contents(), "the whole file");
        }
        client
    };
    drop(download(true));
    let before = server.status_kib("VmRSS:");

    let unread: Vec<_> = (0..UNREAD_CLIENTS).map(|_| download(false)).collect();
    server.wait_for_log("TLS responses go out a record at a time");
    let during = server.status_kib("VmRSS:");
    eprintln!("{UNREAD_CLIENTS} unread TLS downloads, {UNREAD_BUDGET}-byte budget: RSS {before} KiB before, {during} KiB during");
    // Past the budget, each holds at most one record, uncharged.
    let per_connection = PER_CONNECTION + UNCHARGED_RECORD;
    let bound = before + (UNREAD_BUDGET + SLACK + per_connection * UNREAD_CLIENTS as u64) / KIB;
    assert!(during <= bound, "RSS {during} KiB during the flood, over {bound} KiB");
    // A client that reads is still served, whole, the budget spent or not:
    // its response goes out a record at a time instead of being cut.
    drop(download(true));

    drop(unread);
    let bound = before + before / 5 + KEPT / KIB;
    let after = rss_falls_to(&server, bound);
    eprintln!("RSS after the flood: {after} KiB (at most {bound})");
    assert!(after <= bound, "RSS {after} KiB once the flood is over: over {bound} KiB ({before} before)");
}

// ---- compressed responses nobody reads ---------------------------------------

/// The compression flood's budget: its spare half (8 MiB) holds about 12
/// brotli streams at the streamed level (0.66 MiB each).
const BR_BUDGET: u64 = 16 * MIB;
/// A brotli stream's charge at the default streamed level, at least.
const BR_STREAM: u64 = 640 * KIB;
const BR_CLIENTS: usize = 40;
const BIG_TEXT: usize = 6 << 20;

/// `len` bytes of text that compresses about as well as prose: words of a
/// 2,000-word vocabulary, the common ones far more often.
fn words(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let vocabulary: Vec<Vec<u8>> = (0..2000)
        .map(|_| {
            let r = next();
            (0..2 + r % 8).map(|i| b"etaoinshrdlucmfwyp"[((r >> (8 + 4 * i)) % 18) as usize]).collect()
        })
        .collect();
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        let r = next();
        // The product of two uniform picks: low indexes are the common words.
        let word = &vocabulary[((r % 2000) * ((r >> 16) % 2000) / 2000) as usize];
        out.extend_from_slice(word);
        out.push(if r >> 40 & 15 == 0 { b'\n' } else { b' ' });
    }
    out.truncate(len);
    out
}

/// A connection to `addr` with a 4 KiB receive buffer, set before
/// connecting so the window it advertises stays small: what the server
/// sends and it does not read stalls in the server, not in the kernel.
fn small_window(addr: SocketAddr) -> TcpStream {
    use std::os::fd::{AsRawFd, FromRawFd};
    // SAFETY: a new socket, owned by the TcpStream made from it at once;
    // the option value is a live c_int of the size passed.
    let socket = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let socket = TcpStream::from_raw_fd(fd);
        let size: libc::c_int = 4096;
        let set = libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        assert_eq!(set, 0, "SO_RCVBUF: {}", std::io::Error::last_os_error());
        socket
    };
    let SocketAddr::V4(v4) = addr else { panic!("an IPv4 test server") };
    let sockaddr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: v4.port().to_be(),
        sin_addr: libc::in_addr { s_addr: u32::from(*v4.ip()).to_be() },
        sin_zero: [0; 8],
    };
    // SAFETY: connect(2) on the socket made above, with a sockaddr_in of the size passed.
    let connected = unsafe {
        libc::connect(
            socket.as_raw_fd(),
            (&sockaddr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    assert_eq!(connected, 0, "connect: {}", std::io::Error::last_os_error());
    socket.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    socket.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
    socket
}

/// A connection with a small window ([`small_window`]) that asks for
/// `path` in brotli and reads only the response's head: the server's
/// sends stall behind it.
fn unread_br_response(addr: SocketAddr, path: &str) -> (TcpStream, String) {
    let mut stream = small_window(addr);
    send(&mut stream, &format!("GET {path} HTTP/1.1\r\nHost: t\r\nAccept-Encoding: br\r\n\r\n"));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).expect("the head arrives"), 1, "closed before the head ended");
        head.push(byte[0]);
    }
    (stream, String::from_utf8(head).expect("an ASCII head").to_ascii_lowercase())
}

/// A whole response with `Accept-Encoding: br`, unchunked (the head, the
/// body's bytes).
fn br_response(addr: SocketAddr, path: &str) -> (String, Vec<u8>) {
    let mut stream = connect(addr);
    send(&mut stream, &format!("GET {path} HTTP/1.1\r\nHost: t\r\nAccept-Encoding: br\r\nConnection: close\r\n\r\n"));
    let mut wire = Vec::new();
    stream.read_to_end(&mut wire).expect("the whole response");
    let split = wire.windows(4).position(|w| w == b"\r\n\r\n").expect("a head") + 4;
    let head = String::from_utf8_lossy(&wire[..split]).to_ascii_lowercase();
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    let (mut body, mut rest) = (Vec::new(), &wire[split..]);
    loop {
        let line = rest.windows(2).position(|w| w == b"\r\n").expect("a chunk-size line");
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..line]).expect("hex"), 16).expect("hex");
        rest = &rest[line + 2..];
        if size == 0 {
            break;
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
    (head, body)
}

#[test]
fn unread_compressed_responses_are_held_to_the_budget_and_their_memory_returns() {
    let site = tempfile::tempdir().expect("temp dir");
    let text = words(BIG_TEXT);
    write(site.path(), "big.txt", &text);
    let budget = BR_BUDGET.to_string();
    let root = site.path().to_str().expect("UTF-8");
    let server =
        Binary::start(&[root, "--threads", "2", "--max-pending-head-bytes", &budget, "--send-timeout", "120"], "warn");
    let check_whole = |server: &Binary| {
        let (head, body) = br_response(server.addr, "/big.txt");
        assert!(head.contains("content-encoding: br"), "{head}");
        let mut decoded = Vec::new();
        brotli::Decompressor::new(&body[..], 4096).read_to_end(&mut decoded).expect("valid brotli");
        assert!(decoded == text, "the stream decodes to the file");
        assert!(body.len() < text.len() / 2, "{} bytes of brotli for {}", body.len(), text.len());
    };
    check_whole(&server);
    assert_hello(server.addr);
    let before = server.status_kib("VmRSS:");

    let unread: Vec<_> = (0..BR_CLIENTS).map(|_| unread_br_response(server.addr, "/big.txt")).collect();
    let compressed = unread.iter().filter(|(_, head)| head.contains("content-encoding: br")).count() as u64;
    let identity = unread.iter().filter(|(_, head)| head.contains(&format!("content-length: {BIG_TEXT}"))).count();
    // A fresh request is answered meanwhile.
    assert_hello(server.addr);
    let during = server.status_kib("VmRSS:");
    eprintln!(
        "{BR_CLIENTS} unread br responses, {BR_BUDGET}-byte budget: {compressed} compressed, {identity} \
         uncompressed; RSS {before} KiB before, {during} KiB during"
    );
    assert!(compressed * BR_STREAM <= BR_BUDGET / 2, "{compressed} streams: more than the budget's spare half");
    assert!(compressed * BR_STREAM * 2 >= BR_BUDGET / 2, "only {compressed} compressed: refused too early");
    assert_eq!(compressed as usize + identity, BR_CLIENTS, "the others are sent uncompressed, whole");
    let bound = before + (BR_BUDGET / 2 + SLACK + PER_CONNECTION * BR_CLIENTS as u64) / KIB;
    assert!(during <= bound, "RSS {during} KiB during the flood, over {bound} KiB");

    drop(unread);
    let bound = before + before / 5 + KEPT / KIB;
    let after = rss_falls_to(&server, bound);
    eprintln!("RSS after the flood: {after} KiB (at most {bound})");
    assert!(after <= bound, "RSS {after} KiB once the flood is over: over {bound} KiB ({before} before)");
    // The budget has its room back: the file is compressed again.
    check_whole(&server);
}
