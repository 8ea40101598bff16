//! HTTPS: real TLS clients (curl, Python's ssl, openssl s_client, headless
//! Chromium, rustls) against a server with a self-signed certificate; the
//! redirect for plain HTTP on the same port; every HTTP feature through TLS;
//! hostile handshakes; memory during a large download; start-up errors.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use rawserve::Tls;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use crate::support::*;

/// A TLS connection from the tests' own client.
type TlsClient = StreamOwned<ClientConnection, TcpStream>;

/// An in-process HTTPS server over the fixture site, and its certificate
/// written to a PEM file for clients.
struct Https {
    server: TestServer,
    tls: Tls,
    cert: tempfile::NamedTempFile,
}

impl Https {
    fn start() -> Https {
        Https::start_with(|_| {})
    }

    fn start_with(adjust: impl FnOnce(&mut rawserve::Config)) -> Https {
        let tls = Tls::self_signed(&[]).expect("a certificate");
        let cert = write_cert(&tls);
        let config_tls = tls.clone();
        let server = TestServer::start_with(move |config| {
            config.tls = Some(config_tls);
            adjust(config);
        });
        Https { server, tls, cert }
    }

    fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr())
    }

    fn cert_path(&self) -> &Path {
        self.cert.path()
    }

    fn connect(&self) -> TlsClient {
        tls_connect(self.addr(), client_config(&self.tls))
    }
}

fn write_cert(tls: &Tls) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(tls.self_signed_pem().expect("generated").as_bytes()).expect("write cert");
    file
}

/// A rustls client that trusts exactly `tls`'s certificate.
fn client_config(tls: &Tls) -> Arc<ClientConfig> {
    let pem = tls.self_signed_pem().expect("generated");
    client_config_for(pem.as_bytes())
}

fn client_config_for(pem: &[u8]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(pem).expect("PEM")).expect("a root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

fn tls_connect(addr: SocketAddr, config: Arc<ClientConfig>) -> TlsClient {
    let name = ServerName::IpAddress(addr.ip().into());
    let session = ClientConnection::new(config, name).expect("client session");
    StreamOwned::new(session, connect(addr))
}

/// One request over `client`; the response.
fn exchange(client: &mut TlsClient, request: &str, head_only: bool) -> Response {
    client.write_all(request.as_bytes()).expect("send over TLS");
    read_response(client, head_only).expect("a response over TLS")
}

fn get(target: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n")
}

/// Reads a `TlsClient` to its end: `Ok` on EOF (with or without
/// close_notify) or a reset, `Err` with what came instead.
fn tls_closed(client: &mut TlsClient) -> Result<(), String> {
    let mut buf = [0u8; 256];
    match client.read(&mut buf) {
        Ok(0) => Ok(()),
        Ok(n) => Err(format!("more data: {:?}", String::from_utf8_lossy(&buf[..n]))),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
            Err("the connection stayed open".to_string())
        }
        Err(_) => Ok(()), // reset, alert, unexpected EOF: closed all the same
    }
}

// ---- curl ------------------------------------------------------------------

fn curl(https: &Https, args: &[&str]) -> std::process::Output {
    let mut command = Command::new("curl");
    // HTTP/1.1 over TLS: these tests read its heads (`http2` tests HTTP/2).
    command.args(["--http1.1", "--silent", "--show-error", "--cacert"]).arg(https.cert_path()).args(args);
    run_ok(&mut command, IO_TIMEOUT * 3)
}

#[test]
fn curl_gets_ranges_heads_and_reuses_the_connection() {
    if !have_tool("curl") {
        return;
    }
    let https = Https::start();
    let body = curl(&https, &[&https.url("/hello")]).stdout;
    assert_eq!(body, b"Hello, world!");

    let range = curl(&https, &["--include", "--range", "10-19", &https.url("/kib.bin")]).stdout;
    let text = String::from_utf8_lossy(&range);
    assert!(text.starts_with("HTTP/1.1 206 Partial Content\r\n"), "{text}");
    assert!(text.contains("Content-Range: bytes 10-19/1024\r\n"), "{text}");
    assert!(range.ends_with(&kib_contents()[10..20]), "{text}");

    let head = curl(&https, &["--head", &https.url("/kib.bin")]).stdout;
    let text = String::from_utf8_lossy(&head);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n") && text.contains("Content-Length: 1024\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\n"), "a HEAD answer has no body: {text}");

    // Two URLs in one curl run share one TLS connection.
    let both = curl(&https, &["--verbose", &https.url("/hello"), &https.url("/hello.txt")]);
    let log = String::from_utf8_lossy(&both.stderr);
    assert!(log.contains("Re-using existing connection"), "no reuse:\n{log}");
    assert!(log.contains("ALPN: server accepted http/1.1"), "no ALPN:\n{log}");
    assert_eq!(both.stdout, b"Hello, world!hello file\n");
}

#[test]
fn curl_downloads_a_large_file_byte_for_byte_and_multipart_ranges() {
    if !have_tool("curl") {
        return;
    }
    let https = Https::start();
    let out = tempfile::tempdir().expect("temp dir");
    let path = out.path().join("big.bin");
    curl(&https, &["--output", path.to_str().expect("UTF-8"), &https.url("/big.bin")]);
    assert!(std::fs::read(&path).expect("downloaded") == big_contents(), "the download differs from the file");

    let multi = curl(&https, &["--include", "--range", "0-1,1000-1001", &https.url("/kib.bin")]).stdout;
    let text = String::from_utf8_lossy(&multi);
    assert!(text.starts_with("HTTP/1.1 206 Partial Content\r\n"), "{text}");
    assert!(text.contains("Content-Type: multipart/byteranges; boundary="), "{text}");
    assert!(text.contains("Content-Range: bytes 1000-1001/1024"), "{text}");
}

// ---- Python ----------------------------------------------------------------

const PYTHON_CLIENT: &str = r#"
import http.client, ssl, sys
port, cafile = int(sys.argv[1]), sys.argv[2]
for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
    context = ssl.create_default_context(cafile=cafile)
    context.minimum_version = context.maximum_version = version
    context.set_alpn_protocols(["http/1.1"])
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    for path in ("/hello", "/hello.txt"):
        connection.request("GET", path)
        response = connection.getresponse()
        print(version.name, path, response.status, response.read().decode().strip(), connection.sock.version(), connection.sock.selected_alpn_protocol())
    session = connection.sock.session
    connection.close()
    # A new connection with the ticket the server sent resumes the session.
    raw = context.wrap_socket(__import__("socket").create_connection(("127.0.0.1", port), timeout=10), server_hostname="127.0.0.1", session=session)
    raw.sendall(b"GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    answer = b""
    while chunk := raw.recv(4096):
        answer += chunk
    print(version.name, "resumed", raw.session_reused, answer.split(b"\r\n")[0].decode())
    raw.close()
"#;

#[test]
fn python_ssl_and_http_client_keep_alive_both_versions_and_resume() {
    if !have_tool("python3") {
        return;
    }
    let https = Https::start();
    let mut command = Command::new("python3");
    command.arg("-c").arg(PYTHON_CLIENT).arg(https.addr().port().to_string()).arg(https.cert_path());
    let output = run_ok(&mut command, IO_TIMEOUT * 3);
    let text = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "TLSv1_2 /hello 200 Hello, world! TLSv1.2 http/1.1",
        "TLSv1_2 /hello.txt 200 hello file TLSv1.2 http/1.1",
        "TLSv1_3 /hello 200 Hello, world! TLSv1.3 http/1.1",
        "TLSv1_3 /hello.txt 200 hello file TLSv1.3 http/1.1",
        "TLSv1_2 resumed True HTTP/1.1 200 OK",
        "TLSv1_3 resumed True HTTP/1.1 200 OK",
    ] {
        assert!(text.contains(expected), "{expected:?} missing:\n{text}");
    }
}

// ---- openssl s_client --------------------------------------------------------

/// Runs `openssl s_client` with `args`, sending `GET /hello` and closing.
fn s_client(https: &Https, args: &[&str]) -> String {
    use std::process::Stdio;
    let mut child = Command::new("openssl")
        .args(["s_client", "-connect", &https.addr().to_string(), "-CAfile"])
        .arg(https.cert_path())
        .args(["-alpn", "http/1.1", "-ign_eof"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn openssl");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").expect("write");
    drop(stdin);
    // The server closes after the answer (Connection: close), which ends s_client.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = rx.recv_timeout(IO_TIMEOUT * 2).expect("openssl s_client finished").expect("output");
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn openssl_s_client_speaks_tls_1_2_and_1_3_with_alpn_and_resumes_1_2() {
    if !have_tool("openssl") {
        return;
    }
    let https = Https::start();
    for (flag, protocol) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
        let text = s_client(&https, &[flag]);
        assert!(
            text.contains(&format!("Protocol  : {protocol}")) || text.contains(&format!("New, {protocol}")),
            "{text}"
        );
        assert!(text.contains("ALPN protocol: http/1.1"), "{flag}: {text}");
        assert!(text.contains("Verify return code: 0 (ok)"), "{flag}: {text}");
        assert!(text.contains("Hello, world!"), "{flag}: {text}");
    }
    // TLS 1.2 resumption: the second connection reuses the saved session.
    let dir = tempfile::tempdir().expect("temp dir");
    let session = dir.path().join("session.pem");
    let session = session.to_str().expect("UTF-8");
    let first = s_client(&https, &["-tls1_2", "-sess_out", session]);
    assert!(first.contains("New, TLSv1.2"), "{first}");
    let second = s_client(&https, &["-tls1_2", "-sess_in", session]);
    assert!(second.contains("Reused, TLSv1.2"), "not resumed:\n{second}");
}

// ---- the redirect ------------------------------------------------------------

#[test]
fn plain_http_on_the_https_port_is_redirected_to_the_same_url() {
    let https = Https::start();
    let mut stream = connect(https.addr());
    send(&mut stream, "GET /sub/page?q=1 HTTP/1.1\r\nHost: example.test:8443\r\n\r\n");
    let response = read_response(&mut stream, false).expect("a plain answer");
    assert_eq!(response.status, 307);
    assert_eq!(response.header("location"), Some("https://example.test:8443/sub/page?q=1"));
    assert_closed(&mut stream);

    // Split in pieces, HEAD, and without a Host.
    let mut stream = connect(https.addr());
    send(&mut stream, "HE");
    send(&mut stream, "AD / HTTP/1.1\r\nHost: h\r\n\r\n");
    let response = read_response(&mut stream, true).expect("a plain answer");
    assert_eq!((response.status, response.header("location")), (307, Some("https://h/")));
    let mut stream = connect(https.addr());
    send(&mut stream, "GET / HTTP/1.0\r\n\r\n");
    assert_eq!(read_response(&mut stream, false).expect("a plain answer").status, 400);

    if have_tool("curl") {
        let followed = curl(&https, &["--location", &format!("http://{}/hello", https.addr())]).stdout;
        assert_eq!(followed, b"Hello, world!", "curl follows the redirect to HTTPS");
    }
}

// ---- HTTP features through TLS -------------------------------------------------

#[test]
fn keep_alive_pipelining_conditionals_listings_and_limits_work_over_tls() {
    let https = Https::start();
    let mut client = https.connect();
    // Pipelined: three requests in one write, three answers in order.
    client.write_all(format!("{}{}{}", get("/hello"), get("/hello.txt"), get("/kib.bin")).as_bytes()).expect("send");
    assert_eq!(read_response(&mut client, false).expect("1").body, b"Hello, world!");
    assert_eq!(read_response(&mut client, false).expect("2").body, b"hello file\n");
    assert_eq!(read_response(&mut client, false).expect("3").body, kib_contents());
    assert_eq!(client.conn.alpn_protocol(), Some(&b"http/1.1"[..]));

    // Conditionals on the same connection.
    let first = exchange(&mut client, &get("/style.css"), false);
    let etag = first.header("etag").expect("an ETag").to_string();
    let again =
        exchange(&mut client, &format!("GET /style.css HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\n\r\n"), false);
    assert_eq!(again.status, 304);

    // A listing, a big file, and a head past the limit (431, then close).
    let listing = exchange(&mut client, &get("/nested/"), false);
    assert!(listing.text().contains("file.txt"), "{}", listing.text());
    let big = exchange(&mut client, &get("/big.bin"), false);
    assert!(big.body == big_contents(), "the 3 MiB body differs");
    let long = format!("GET / HTTP/1.1\r\nHost: t\r\nX: {}\r\n\r\n", "a".repeat(20_000));
    assert_eq!(exchange(&mut client, &long, false).status, 431);
    assert_eq!(tls_closed(&mut client), Ok(()));
}

#[test]
fn records_that_share_a_segment_and_heads_that_span_records_are_all_read() {
    let https = Https::start();
    let mut client = https.connect();
    client.write_all(get("/hello").as_bytes()).expect("handshake and a first request");
    assert_eq!(read_response(&mut client, false).expect("first").status, 200);
    // Two requests, each its own record, in one TCP write: the second must
    // not wait in the session for a readiness event that never comes.
    client.conn.writer().write_all(get("/hello.txt").as_bytes()).expect("plaintext");
    client.conn.writer().write_all(get("/kib.bin").as_bytes()).expect("plaintext");
    let mut records = Vec::new();
    while client.conn.wants_write() {
        client.conn.write_tls(&mut records).expect("to memory");
    }
    client.sock.write_all(&records).expect("one write");
    assert_eq!(read_response(&mut client, false).expect("second").body, b"hello file\n");
    assert_eq!(read_response(&mut client, false).expect("third").body, kib_contents());
    // A 12 KiB head in one record, read in several pieces.
    let big_head = format!("GET /hello HTTP/1.1\r\nHost: t\r\nX-Pad: {}\r\n\r\n", "p".repeat(12 * 1024));
    assert_eq!(exchange(&mut client, &big_head, false).body, b"Hello, world!");
}

#[test]
fn precompressed_siblings_are_served_over_tls() {
    let https = Https::start();
    write(&https.server.root(), "app.js.gz", b"\x1f\x8b pretend gzip");
    let mut client = https.connect();
    let response = exchange(&mut client, "GET /app.js HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n", false);
    assert_eq!(response.header("content-encoding"), Some("gzip"));
    assert_eq!(response.body, b"\x1f\x8b pretend gzip");
}

#[test]
fn graceful_shutdown_finishes_an_https_download_in_flight() {
    let https = Https::start_with(|config| config.shutdown_grace = Duration::from_secs(10));
    let mut client = https.connect();
    client.write_all(get("/big.bin").as_bytes()).expect("send");
    let mut head = [0u8; 16];
    client.read_exact(&mut head).expect("the response has begun");
    https.server.server.shutdown_handle().shutdown();
    let mut rest = Vec::new();
    let _ = client.read_to_end(&mut rest);
    let whole = [&head[..], &rest].concat();
    assert!(whole.ends_with(&big_contents()), "the download was cut short ({} bytes)", whole.len());
}

// ---- hostile input ----------------------------------------------------------

/// The first flight of a real ClientHello for `addr`.
fn client_hello(https_tls: &Tls, addr: SocketAddr) -> Vec<u8> {
    let name = ServerName::IpAddress(addr.ip().into());
    let mut session = ClientConnection::new(client_config(https_tls), name).expect("client");
    let mut hello = Vec::new();
    while session.wants_write() {
        session.write_tls(&mut hello).expect("to memory");
    }
    hello
}

/// A socket that writes at most one byte per call, so every byte of the
/// handshake is its own TCP segment (TCP_NODELAY).
struct OneByteWrites(TcpStream);

impl Read for OneByteWrites {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for OneByteWrites {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match buf.first() {
            None => Ok(0),
            Some(&byte) => self.0.write(&[byte]),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// A rawserve binary serving HTTPS (self-signed) with debug logging and
/// a short head timeout; with the certificate's PEM.
fn https_binary(dir: &Path, extra: &[&str]) -> (Binary, Vec<u8>) {
    let cert = dir.join("cert.pem");
    let mut args = vec![
        env!("CARGO_MANIFEST_DIR").to_string() + "/public",
        "--tls-self-signed".to_string(),
        "--tls-write-cert".to_string(),
        cert.to_str().expect("UTF-8").to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let binary = Binary::start(&args, "debug");
    let pem = std::fs::read(&cert).expect("the certificate was written");
    (binary, pem)
}

fn assert_fresh_tls_client_served(addr: SocketAddr, pem: &[u8]) {
    let mut client = tls_connect(addr, client_config_for(pem));
    assert_eq!(exchange(&mut client, &get("/hello"), false).body, b"Hello, world!");
}

#[test]
fn hostile_handshakes_are_closed_with_a_debug_line_and_others_still_served() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The idle timeout is far longer than the test waits, so only the head
    // timer, which the handshake starts, can close the stalled client.
    let (binary, pem) = https_binary(dir.path(), &["--head-timeout", "1", "--idle-timeout", "60"]);
    let addr = binary.addr;
    let mut log = Log { binary: &binary, seen: Vec::new() };
    let config = client_config_for(&pem);
    let name = ServerName::IpAddress(addr.ip().into());
    let hello = {
        let mut session = ClientConnection::new(Arc::clone(&config), name.clone()).expect("client");
        let mut bytes = Vec::new();
        session.write_tls(&mut bytes).expect("to memory");
        bytes
    };

    // Garbage after a first byte that promises a handshake record.
    let mut stream = connect(addr);
    stream.write_all(b"\x16\x03\x01\x00\x05garbage, not a ClientHello at all").expect("send");
    assert_eq!(try_closed_raw(&mut stream), Ok(()));
    log.wait_for("read failed: TLS:");
    assert_fresh_tls_client_served(addr, &pem);

    // An oversized ClientHello: a handshake message claiming 16 MiB.
    let mut stream = connect(addr);
    let mut huge = b"\x16\x03\x01\x40\x00\x01\xff\xff\xff".to_vec();
    huge.resize(5 + 0x4000, 0x41);
    let _ = stream.write_all(&huge);
    let _ = stream.write_all(&huge[5..]);
    assert_eq!(try_closed_raw(&mut stream), Ok(()));
    log.wait_for("read failed: TLS:");
    assert_fresh_tls_client_served(addr, &pem);

    // A close in the middle of a record (half a ClientHello, then FIN).
    let mut stream = connect(addr);
    stream.write_all(&hello[..hello.len() / 2]).expect("send");
    stream.shutdown(Shutdown::Write).expect("shutdown");
    assert_eq!(try_closed_raw(&mut stream), Ok(()));
    log.wait_for("closed during the TLS handshake");
    assert_fresh_tls_client_served(addr, &pem);

    // A close in the middle of an application-data record, after a handshake.
    let mut client = tls_connect(addr, Arc::clone(&config));
    assert_eq!(exchange(&mut client, &get("/hello"), false).status, 200);
    client.conn.writer().write_all(get("/hello").as_bytes()).expect("plaintext");
    let mut record = Vec::new();
    client.conn.write_tls(&mut record).expect("to memory");
    client.sock.write_all(&record[..record.len() / 2]).expect("half a record");
    client.sock.shutdown(Shutdown::Write).expect("shutdown");
    log.wait_for("close_notify");
    assert_fresh_tls_client_served(addr, &pem);

    // A client that never finishes its handshake: closed after the head timeout.
    let mut stalled = connect(addr);
    stalled.write_all(&hello[..10]).expect("send");
    assert_eq!(try_closed_raw(&mut stalled), Ok(()));
    log.wait_for("TLS handshake not finished in time");
    assert_fresh_tls_client_served(addr, &pem);

    // The whole handshake in one-byte writes still works.
    let slow = TcpStream::connect(addr).expect("connect");
    slow.set_nodelay(true).expect("nodelay");
    slow.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    let mut client = StreamOwned::new(ClientConnection::new(config, name).expect("client"), OneByteWrites(slow));
    client.write_all(get("/hello").as_bytes()).expect("send");
    assert_eq!(read_response(&mut client, false).expect("a response").body, b"Hello, world!");
    // Every case was a clean close: nothing panicked along the way.
    assert_fresh_tls_client_served(addr, &pem);
    log.wait_for("GET /hello");
    assert!(!log.seen.iter().any(|line| line.contains("panic")), "{}", log.seen.join("\n"));
}

/// A binary's log lines, kept as they are read, so a test can look back
/// over everything it skipped on the way to the line it waited for.
struct Log<'a> {
    binary: &'a Binary,
    seen: Vec<String>,
}

impl Log<'_> {
    /// Waits (bounded) for a line containing `needle`.
    fn wait_for(&mut self, needle: &str) {
        let deadline = std::time::Instant::now() + IO_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.binary.log.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(needle);
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(_) => panic!("no log line containing {needle:?} within {IO_TIMEOUT:?}:\n{}", self.seen.join("\n")),
            }
        }
    }
}

/// `try_closed` for a raw socket that may first receive a TLS alert.
fn try_closed_raw(stream: &mut TcpStream) -> Result<(), String> {
    let mut buf = [0u8; 512];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(()),
            // An alert record (content type 21) before the close is expected.
            Ok(_) if buf[0] == 21 => continue,
            Ok(n) => return Err(format!("unexpected bytes: {:?}", &buf[..n.min(32)])),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(()),
            Err(e) => return Err(format!("still open: {e}")),
        }
    }
}

#[test]
fn a_thousand_unfinished_handshakes_do_not_delay_a_fresh_client() {
    let https = Https::start_with(|config| config.head_timeout = Duration::from_secs(30));
    let hello = client_hello(&https.tls, https.addr());
    let mut stalled: Vec<TcpStream> = (0..1000)
        .map(|_| {
            let mut stream = connect(https.addr());
            stream.write_all(&hello[..hello.len() / 2]).expect("half a ClientHello");
            stream
        })
        .collect();
    // All of them are being held (none closed), and a new client is served now.
    let mut client = https.connect();
    assert_eq!(exchange(&mut client, &get("/hello"), false).body, b"Hello, world!");
    assert_hello_plain_redirect(https.addr());
    let first = stalled.first_mut().expect("one");
    first.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
    let mut byte = [0u8; 1];
    let still_open = matches!(first.read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
    assert!(still_open, "a stalled handshake was closed before its head timeout");
}

fn assert_hello_plain_redirect(addr: SocketAddr) {
    let mut stream = connect(addr);
    send(&mut stream, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(read_response(&mut stream, false).expect("a redirect").status, 307);
}

// ---- memory ----------------------------------------------------------------

fn status_kib(pid: i32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("no {field}"));
    line.split_whitespace().nth(1).and_then(|kib| kib.parse().ok()).expect("a number of KiB")
}

#[test]
fn a_256_mib_download_over_tls_grows_the_servers_memory_by_under_1_mib() {
    if !have_tool("curl") {
        return;
    }
    let site = tempfile::tempdir().expect("temp dir");
    // Sparse: 256 MiB of zeros that take no disk.
    let big = std::fs::File::create(site.path().join("256m.bin")).expect("create");
    big.set_len(256 << 20).expect("set_len");
    let cert = site.path().join("cert.pem");
    let root = site.path().to_str().expect("UTF-8");
    let binary = Binary::start(
        &[root, "--threads", "1", "--tls-self-signed", "--tls-write-cert", cert.to_str().expect("UTF-8")],
        "info",
    );
    let url = format!("https://{}/", binary.addr);
    let fetch = |path: &str| {
        let mut command = Command::new("curl");
        command.args(["--silent", "--show-error", "--output", "/dev/null", "--write-out", "%{size_download}"]);
        command.arg("--cacert").arg(&cert).arg(format!("{url}{path}"));
        String::from_utf8(run_ok(&mut command, IO_TIMEOUT * 6).stdout).expect("UTF-8")
    };
    // Warm up: the worker's first handshake and buffers are not the download's.
    fetch("256m.bin");
    let before = status_kib(binary.pid(), "VmRSS:");
    // Reset the peak so VmHWM is the peak during the next download.
    std::fs::write(format!("/proc/{}/clear_refs", binary.pid()), "5").expect("clear_refs");
    assert_eq!(fetch("256m.bin"), (256u64 << 20).to_string());
    let peak = status_kib(binary.pid(), "VmHWM:");
    eprintln!("RSS before {before} KiB, peak during a 256 MiB TLS download {peak} KiB");
    assert!(peak < before + 1024, "RSS grew from {before} KiB to {peak} KiB during the download");
}

// ---- browser -------------------------------------------------------------------

#[test]
fn chromium_loads_the_demo_page_over_https_trusting_the_certificate_by_spki() {
    if !have_tool("chromium") || !have_tool("openssl") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (binary, _) = https_binary(dir.path(), &[]);
    let spki = spki_hash(&dir.path().join("cert.pem"));
    let trust = format!("--ignore-certificate-errors-spki-list={spki}");
    let out = crate::browser::chromium(&[&trust, "--dump-dom"], &format!("https://{}/", binary.addr));
    crate::browser::assert_live_checks(&String::from_utf8(out.stdout).expect("UTF-8 DOM"));
}

/// base64(SHA-256(SubjectPublicKeyInfo)), the form Chromium's
/// `--ignore-certificate-errors-spki-list` takes, by the openssl recipe.
fn spki_hash(cert: &Path) -> String {
    let script = format!(
        "openssl x509 -in '{}' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | openssl base64",
        cert.display()
    );
    let output = run_ok(Command::new("sh").arg("-c").arg(script), IO_TIMEOUT);
    String::from_utf8(output.stdout).expect("base64").trim().to_string()
}

// ---- start-up ----------------------------------------------------------------

/// Runs the binary with `args` (to fail at start-up); its stderr.
fn start_failure(args: &[&std::ffi::OsStr]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rawserve"));
    command.args(args).args(["--port", "0"]);
    let output = run_with_timeout(&mut command, IO_TIMEOUT);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    stderr
}

#[test]
fn bad_certificate_files_are_one_sentence_start_up_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let write_file = |name: &str, text: &str| -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    };
    let one = Tls::self_signed(&[]).expect("cert");
    let other_key = rcgen::KeyPair::generate().expect("key").serialize_pem();
    let cert = write_file("cert.pem", one.self_signed_pem().expect("pem"));
    let wrong_key = write_file("wrong.key", &other_key);
    let not_pem = write_file("junk.pem", "hello");
    let missing = dir.path().join("missing.pem");
    let public = Path::new(env!("CARGO_MANIFEST_DIR")).join("public");
    let run = |cert: &Path, key: &Path| {
        start_failure(&[
            public.as_os_str(),
            "--tls-cert".as_ref(),
            cert.as_os_str(),
            "--tls-key".as_ref(),
            key.as_os_str(),
        ])
    };
    let text = run(&missing, &wrong_key);
    assert!(text.starts_with("rawserve: error: cannot read ") && text.contains("missing.pem"), "{text}");
    let text = run(&not_pem, &wrong_key);
    assert!(text.contains("junk.pem holds no certificate"), "{text}");
    let text = run(&cert, &not_pem);
    assert!(text.contains("junk.pem holds no private key"), "{text}");
    let text = run(&cert, &wrong_key);
    assert!(text.contains("cannot be used with the certificate"), "{text}");
}

#[test]
fn the_start_up_lines_give_the_fingerprint_openssl_computes() {
    if !have_tool("openssl") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (binary, _) = https_binary(dir.path(), &[]);
    let line = binary.wait_for_log("SHA-256 fingerprint");
    let mut command = Command::new("openssl");
    command.args(["x509", "-noout", "-fingerprint", "-sha256", "-in"]).arg(dir.path().join("cert.pem"));
    let openssl = String::from_utf8(run_ok(&mut command, IO_TIMEOUT).stdout).expect("UTF-8");
    let theirs = openssl.trim().rsplit('=').next().expect("a fingerprint");
    assert!(line.ends_with(theirs), "{line} vs {openssl}");
    let names = binary.wait_for_log("self-signed for");
    assert!(names.contains("localhost, 127.0.0.1, ::1"), "{names}");
}

#[test]
fn a_certificate_and_key_from_files_serve_https() {
    if !have_tool("curl") {
        return;
    }
    // An RSA-less, PKCS#8 EC key and its certificate written by rcgen, as a user's files would be.
    let dir = tempfile::tempdir().expect("temp dir");
    let key = rcgen::KeyPair::generate().expect("key");
    let cert =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("params").self_signed(&key).expect("cert");
    std::fs::write(dir.path().join("c.pem"), cert.pem()).expect("write");
    std::fs::write(dir.path().join("k.pem"), key.serialize_pem()).expect("write");
    let tls = Tls::from_pem_files(dir.path().join("c.pem"), dir.path().join("k.pem")).expect("loads");
    assert_eq!(tls.self_signed_pem(), None);
    let server = TestServer::start_with(|config| config.tls = Some(tls));
    let mut command = Command::new("curl");
    command.args(["--silent", "--show-error", "--cacert"]).arg(dir.path().join("c.pem"));
    command.arg(format!("https://{}/hello", server.addr()));
    assert_eq!(run_ok(&mut command, IO_TIMEOUT).stdout, b"Hello, world!");
}

// ---- behind a load balancer ------------------------------------------------------

#[test]
fn a_proxy_protocol_header_may_precede_the_handshake_in_the_same_segment() {
    let https = Https::start_with(|config| config.proxy_protocol = true);
    let name = ServerName::IpAddress(https.addr().ip().into());
    let mut session = ClientConnection::new(client_config(&https.tls), name).expect("client");
    let mut first = b"PROXY TCP4 192.0.2.10 127.0.0.1 5000 443\r\n".to_vec();
    session.write_tls(&mut first).expect("a ClientHello, to memory");
    let mut stream = connect(https.addr());
    // The header and the ClientHello arrive together: the server must hand
    // the bytes after the header to TLS.
    stream.write_all(&first).expect("send");
    let mut client = StreamOwned::new(session, stream);
    assert_eq!(exchange(&mut client, &get("/hello"), false).body, b"Hello, world!");

    // And plain HTTP behind the header still gets the redirect.
    let mut stream = connect(https.addr());
    send(&mut stream, "PROXY TCP4 192.0.2.10 127.0.0.1 5000 443\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n");
    let response = read_response(&mut stream, false).expect("a plain answer");
    assert_eq!((response.status, response.header("location")), (307, Some("https://h/x")));
}

#[test]
fn streamed_bodies_compressed_text_and_folder_tars_work_over_tls() {
    if !have_tool("curl") || !have_tool("tar") {
        return;
    }
    let https = Https::start();
    // Large enough to be compressed as it is sent (chunked), not cached.
    let text: Vec<u8> = (0..400_000u32).map(|i| b"abcdefgh\n"[(i % 9) as usize]).collect();
    write(&https.server.root(), "big.txt", &text);
    let compressed = curl(&https, &["--compressed", "--include", &https.url("/big.txt")]).stdout;
    let split = compressed.windows(4).position(|w| w == b"\r\n\r\n").expect("a head") + 4;
    let head = String::from_utf8_lossy(&compressed[..split]);
    assert!(head.to_ascii_lowercase().contains("content-encoding:"), "not compressed: {head}");
    assert!(compressed[split..] == text[..], "the decoded body differs ({} bytes)", compressed.len() - split);

    let dir = tempfile::tempdir().expect("temp dir");
    let tar_path = dir.path().join("nested.tar");
    curl(&https, &["--output", tar_path.to_str().expect("UTF-8"), &https.url("/nested/?download=tar")]);
    let mut command = Command::new("tar");
    command.arg("-tf").arg(&tar_path);
    let names = String::from_utf8(run_ok(&mut command, IO_TIMEOUT).stdout).expect("UTF-8");
    assert!(names.contains("nested/file.txt"), "{names}");
}

/// An embedder's own rustls settings (here: a certificate chosen per SNI
/// name by a resolver, offering h2 as well): served as given, but with the
/// ALPN list rawserve speaks, so a client that would pick h3 gets HTTP/1.1.
#[test]
fn a_server_config_made_by_the_embedder_is_served_with_its_certificates() {
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["app.example".to_string()])
        .expect("params")
        .self_signed(&key)
        .expect("certificate");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let signing = provider.key_provider.load_private_key(key.serialize_der().try_into().expect("PKCS#8")).expect("key");
    let certified = rustls::sign::CertifiedKey::new(vec![cert.der().clone()], signing);
    let mut resolver = rustls::server::ResolvesServerCertUsingSni::new();
    resolver.add("app.example", certified).expect("the name is the certificate's");
    let mut settings = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    settings.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let tls = Tls::from_server_config(Arc::new(settings));
    assert_eq!(tls.fingerprint(), None);
    let server = TestServer::start_with(move |config| config.tls = Some(tls));

    let mut client_config = Arc::unwrap_or_clone(client_config_for(cert.pem().as_bytes()));
    client_config.alpn_protocols = vec![b"h3".to_vec(), b"http/1.1".to_vec()];
    let name = ServerName::try_from("app.example").expect("a DNS name");
    let session = ClientConnection::new(Arc::new(client_config), name).expect("client session");
    let mut client = StreamOwned::new(session, connect(server.addr()));
    let r = exchange(&mut client, "GET /hello.txt HTTP/1.1\r\nHost: app.example\r\n\r\n", false);
    assert_eq!((r.status, r.text().as_str()), (200, "hello file\n"));
    assert_eq!(client.conn.alpn_protocol(), Some(&b"http/1.1"[..]), "never h3, which it does not speak");
}

/// A socket that notes the length of every TLS record the server sends
/// (all of TLS 1.3's after the ServerHello carry type 23 on the wire).
struct RecordLengths {
    stream: TcpStream,
    header: Vec<u8>,
    left: usize,
    lengths: Vec<usize>,
}

impl Read for RecordLengths {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.stream.read(buf)?;
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            if self.left > 0 {
                let skipped = self.left.min(rest.len());
                self.left -= skipped;
                rest = &rest[skipped..];
                continue;
            }
            let take = (5 - self.header.len()).min(rest.len());
            self.header.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.header.len() == 5 {
                self.left = usize::from(u16::from_be_bytes([self.header[3], self.header[4]]));
                if self.header[0] == 23 {
                    self.lengths.push(self.left);
                }
                self.header.clear();
            }
        }
        Ok(n)
    }
}

impl Write for RecordLengths {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.stream.flush()
    }
}

#[test]
fn a_young_or_idle_connection_sends_small_records_then_full_ones() {
    let https = Https::start();
    let name = ServerName::IpAddress(https.addr().ip().into());
    let session = ClientConnection::new(client_config(&https.tls), name).expect("client session");
    let socket = RecordLengths { stream: connect(https.addr()), header: Vec::new(), left: 0, lengths: Vec::new() };
    let mut client = StreamOwned::new(session, socket);
    let big = {
        client.write_all(get("/big.bin").as_bytes()).expect("send over TLS");
        read_response(&mut client, false).expect("a response over TLS")
    };
    assert!(big.body == big_contents(), "the 3 MiB body differs");
    // A record's plaintext, its content type and the AEAD tag (TLS 1.3).
    let small = 4096 + 1 + 16;
    let lengths = &client.sock.lengths;
    let first_full = lengths.iter().position(|&len| len > small).expect("full records once the connection is warm");
    let before: usize = lengths[..first_full].iter().sum();
    assert!(
        (1 << 20..(1 << 20) + 64 * 1024).contains(&before),
        "{before} bytes in records of at most 4 KiB before the first larger one"
    );
    assert!(lengths.iter().all(|&len| len <= 16 * 1024 + 1 + 16), "no record past 16 KiB");
    assert!(lengths[first_full..].iter().filter(|&&len| len > small).count() > 60, "the rest mostly in full records");

    // Warm: the next response goes in full records at once (its head
    // aside, a record of its own).
    let small_bytes_of_next_response = |client: &mut StreamOwned<ClientConnection, RecordLengths>| {
        let mark = client.sock.lengths.len();
        client.write_all(get("/big.bin").as_bytes()).expect("send over TLS");
        let big = read_response(client, false).expect("a response over TLS");
        assert!(big.body == big_contents(), "the 3 MiB body differs");
        let lengths = &client.sock.lengths[mark..];
        let first_full = lengths.iter().position(|&len| len > small).expect("full records");
        lengths[..first_full].iter().sum::<usize>()
    };
    let warm = small_bytes_of_next_response(&mut client);
    assert!(warm < 64 * 1024, "{warm} bytes in small records on a warm connection");
    // After a second and a bit without a write (the server's threshold; the
    // kernel shrinks an idle connection's window too): small records again.
    std::thread::sleep(Duration::from_millis(1_200));
    let woken = small_bytes_of_next_response(&mut client);
    assert!((1 << 20..(1 << 20) + 64 * 1024).contains(&woken), "{woken} bytes in small records after idling");
}
