//! `--metrics`: the scrape as Prometheus's own tools read it (`promtool
//! check metrics`, and a real Prometheus scraping the binary every second
//! and answering queries), what is counted (requests by method, status
//! class and protocol, caches, compression, TLS handshakes, connection
//! states), and who may read it (loopback, or `--metrics-public`).

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{connect, have_tool, read_response, run_with_timeout, send, Binary, Site, IO_TIMEOUT};

/// Longest a test waits for Prometheus to start, scrape and answer.
const PROMETHEUS_WAIT: Duration = Duration::from_secs(60);

/// One `GET` on a connection of its own, with extra header lines.
fn get(addr: SocketAddr, target: &str, extra: &str) -> crate::support::Response {
    let mut stream = connect(addr);
    send(&mut stream, &format!("GET {target} HTTP/1.1\r\nHost: t\r\n{extra}Connection: close\r\n\r\n"));
    read_response(&mut stream, false).expect("a response")
}

/// The scrape's value of the series `series` (its whole name and labels), if present.
fn value(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Scrapes until `done` holds for the text (gauges follow a worker's
/// 100 ms tick), or fails after `IO_TIMEOUT` showing the last scrape.
fn scrape_until(addr: SocketAddr, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        let scrape = get(addr, "/metrics", "").text();
        if done(&scrape) {
            return scrape;
        }
        assert!(Instant::now() < deadline, "the scrape never satisfied the test:\n{scrape}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn promtool_accepts_the_scrape_and_the_counts_are_what_was_sent() {
    let site = Site::new();
    // A text file large enough to be compressed (over 512 bytes).
    std::fs::write(site.root().join("page.txt"), "metrics ".repeat(400)).expect("fixture");
    // Files changed within the last second are neither cached nor kept
    // compressed (the racy window, 1 s in the binary): let it pass.
    std::thread::sleep(Duration::from_millis(1100));
    let server = Binary::start(&[site.root().to_str().unwrap(), "--metrics", "/metrics", "--threads", "2"], "warn");
    let addr = server.addr;
    for _ in 0..5 {
        assert_eq!(get(addr, "/hello.txt", "").status, 200);
    }
    assert_eq!(get(addr, "/missing", "").status, 404);
    for _ in 0..3 {
        assert_eq!(get(addr, "/page.txt", "Accept-Encoding: gzip\r\n").status, 200);
    }
    let mut stream = connect(addr);
    send(&mut stream, "HEAD /kib.bin HTTP/1.0\r\n\r\n");
    assert_eq!(read_response(&mut stream, true).expect("a response").status, 200);
    // A head over the limit: refused before it parses.
    let mut stream = connect(addr);
    send(&mut stream, &format!("GET / HTTP/1.1\r\nHost: t\r\nX: {}\r\n\r\n", "y".repeat(20_000)));
    assert_eq!(read_response(&mut stream, false).expect("a response").status, 431);

    // A response is counted once its last byte is handed to the kernel,
    // which the client may see a moment before the worker counts it.
    scrape_until(addr, |scrape| value(scrape, "rawserve_http_request_duration_seconds_count") == Some(11.0));
    let response = get(addr, "/metrics", "");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let scrape = response.text();
    let count = |series: &str| value(&scrape, series).unwrap_or_else(|| panic!("no {series} in:\n{scrape}"));
    assert_eq!(count(r#"rawserve_http_requests_total{method="GET",status="2xx",protocol="HTTP/1.1"}"#), 8.0);
    assert_eq!(count(r#"rawserve_http_requests_total{method="GET",status="4xx",protocol="HTTP/1.1"}"#), 1.0);
    assert_eq!(count(r#"rawserve_http_requests_total{method="HEAD",status="2xx",protocol="HTTP/1.0"}"#), 1.0);
    assert_eq!(count(r#"rawserve_http_requests_total{method="other",status="4xx",protocol="unknown"}"#), 1.0);
    assert_eq!(count("rawserve_http_request_duration_seconds_count"), 11.0, "scrapes are not counted");
    assert_eq!(count(r#"rawserve_limits_hit_total{limit="head_size"}"#), 1.0);
    assert!(count("rawserve_connections_accepted_total") >= 13.0, "eleven requests and the scrapes");
    // Each worker compresses page.txt once and keeps it; the rest are hits.
    let whole = count(r#"rawserve_compressions_total{coding="gzip",mode="whole"}"#);
    assert!((1.0..=2.0).contains(&whole), "{whole} compressions of one file by two workers");
    assert!(count("rawserve_compression_output_bytes_total") < count("rawserve_compression_input_bytes_total"));
    assert!(count("rawserve_file_cache_hits_total") >= 3.0, "5 + 3 requests for two files, two workers");
    assert!(count(r#"rawserve_file_cache_bytes{kind="files"}"#) >= 11.0);
    assert!(count("rawserve_http_response_bytes_total") > 3200.0);

    if !have_tool("promtool") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("scrape.txt");
    std::fs::write(&path, &scrape).expect("write the scrape");
    let stdin = std::fs::File::open(&path).expect("the scrape");
    let output = run_with_timeout(Command::new("promtool").args(["check", "metrics"]).stdin(stdin), IO_TIMEOUT);
    // promtool prints lint problems (and exits 3) for anything it would
    // not accept: names, units, types, HELP text, histogram shape.
    assert!(
        output.status.success() && output.stdout.is_empty() && output.stderr.is_empty(),
        "promtool check metrics: {:?}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn connection_states_are_gauges_a_scrape_sees() {
    let site = Site::new();
    let server = Binary::start(&[site.root().to_str().unwrap(), "--metrics", "/metrics", "--threads", "1"], "warn");
    let idle: Vec<_> = (0..3).map(|_| connect(server.addr)).collect();
    let partial: Vec<_> = (0..2)
        .map(|_| {
            let mut stream = connect(server.addr);
            send(&mut stream, "GET /hello.txt HTTP/1.1\r\nHost:");
            stream
        })
        .collect();
    let states = |scrape: &str, state: &str| value(scrape, &format!("rawserve_connections{{state=\"{state}\"}}"));
    scrape_until(server.addr, |s| states(s, "idle") == Some(3.0) && states(s, "reading") == Some(2.0));
    drop((idle, partial));
    scrape_until(server.addr, |s| states(s, "idle") == Some(0.0) && states(s, "reading") == Some(0.0));
}

#[test]
fn limits_are_counted_where_they_refuse() {
    let site = Site::new();
    let args = [site.root().to_str().unwrap(), "--metrics", "/metrics", "--threads", "1"];
    let server = Binary::start(&[&args[..], &["--max-connections", "2", "--head-timeout", "1"]].concat(), "warn");
    // Past the connection limit: 503, and closed.
    let first = connect(server.addr);
    let mut slow = connect(server.addr);
    send(&mut slow, "GET /hello.txt HTTP/1.1\r\nHost:");
    let mut third = connect(server.addr);
    assert_eq!(read_response(&mut third, false).expect("a 503").status, 503);
    // A head not received within --head-timeout: 408.
    assert_eq!(read_response(&mut slow, false).expect("a 408").status, 408);
    drop((first, slow, third));
    let limit = |scrape: &str, name: &str| value(scrape, &format!("rawserve_limits_hit_total{{limit=\"{name}\"}}"));
    // The scrape itself needs a slot: it gets one once the others are closed.
    let deadline = Instant::now() + IO_TIMEOUT;
    let scrape = loop {
        let mut stream = connect(server.addr);
        send(&mut stream, "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        let response = read_response(&mut stream, false).expect("a response");
        if response.status == 200 {
            break response.text();
        }
        assert!(Instant::now() < deadline, "no slot for the scrape: {}", response.status);
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(limit(&scrape, "connections") >= Some(1.0), "{scrape}");
    assert_eq!(limit(&scrape, "timeout"), Some(1.0), "{scrape}");
    assert_eq!(limit(&scrape, "head_size"), Some(0.0), "{scrape}");
    let refused = r#"rawserve_http_requests_total{method="other",status="4xx",protocol="unknown"}"#;
    assert_eq!(value(&scrape, refused), Some(1.0), "the 408, counted as a request never parsed:\n{scrape}");
}

#[test]
fn only_loopback_clients_may_scrape_unless_metrics_are_public() {
    let site = Site::new();
    let root = site.root().to_str().unwrap();
    // Behind a load balancer (PROXY protocol) the client is the one it names.
    let scrape_as = |server: &Binary, source: &str| {
        let mut stream = connect(server.addr);
        send(
            &mut stream,
            &format!("PROXY TCP4 {source} 127.0.0.1 5000 80\r\nGET /metrics HTTP/1.1\r\nHost: t\r\n\r\n"),
        );
        read_response(&mut stream, false).expect("a response").status
    };
    let private = Binary::start(&[root, "--metrics", "/metrics", "--proxy-protocol"], "info");
    assert_eq!(scrape_as(&private, "127.0.0.1"), 200);
    assert_eq!(scrape_as(&private, "192.0.2.10"), 403);
    private.wait_for_log("metrics refused");
    let public = Binary::start(&[root, "--metrics", "/metrics", "--proxy-protocol", "--metrics-public"], "info");
    assert_eq!(scrape_as(&public, "192.0.2.10"), 200);
    // A proxy on this machine that is not trusted: its forwarding fields
    // say the request came from elsewhere.
    let direct = Binary::start(&[root, "--metrics", "/metrics"], "warn");
    assert_eq!(get(direct.addr, "/metrics", "X-Forwarded-For: 192.0.2.10\r\n").status, 403);
    assert_eq!(get(direct.addr, "/metrics", "Forwarded: for=192.0.2.10\r\n").status, 403);
    // Through a trusted one, the client it names counts.
    let trusting = Binary::start(&[root, "--metrics", "/metrics", "--trusted-proxy", "127.0.0.1"], "warn");
    assert_eq!(get(trusting.addr, "/metrics", "X-Forwarded-For: 127.0.0.1\r\n").status, 200);
    assert_eq!(get(trusting.addr, "/metrics", "X-Forwarded-For: 192.0.2.10\r\n").status, 403);
    // A proxy on this machine that is not the trusted one passes on a
    // client from anywhere.
    let elsewhere = Binary::start(&[root, "--metrics", "/metrics", "--trusted-proxy", "192.0.2.1"], "warn");
    assert_eq!(get(elsewhere.addr, "/metrics", "X-Forwarded-For: 127.0.0.1\r\n").status, 403);
    assert_eq!(get(elsewhere.addr, "/metrics", "").status, 200);
}

#[test]
fn uploads_are_counted_landed_and_discarded() {
    let site = Site::new();
    let root = site.root().to_str().unwrap();
    let server = Binary::start(&[root, "--metrics", "/metrics", "--upload", "--max-upload-bytes", "1000"], "warn");
    let put = |name: &str, body: &str| {
        let mut stream = connect(server.addr);
        send(
            &mut stream,
            &format!(
                "PUT /{name} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
        );
        read_response(&mut stream, false).expect("a response").status
    };
    assert_eq!(put("a.txt", "twelve bytes"), 201);
    assert_eq!(put("b.txt", "seven b"), 201);
    // Chunked, so the limit is found while the file is written: its
    // temporary file is discarded.
    let mut stream = connect(server.addr);
    let chunk = "x".repeat(800);
    send(
        &mut stream,
        &format!(
            "PUT /big.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
             320\r\n{chunk}\r\n320\r\n{chunk}\r\n0\r\n\r\n"
        ),
    );
    assert_eq!(read_response(&mut stream, false).expect("a response").status, 413);
    let scrape =
        scrape_until(server.addr, |scrape| value(scrape, "rawserve_uploads_total{outcome=\"discarded\"}") == Some(1.0));
    assert_eq!(value(&scrape, "rawserve_uploads_total{outcome=\"landed\"}"), Some(2.0), "{scrape}");
    assert_eq!(value(&scrape, "rawserve_upload_bytes_total"), Some(19.0), "{scrape}");
    assert!(!site.root().join("big.txt").exists());
}

#[test]
fn with_accounts_a_scrape_needs_one_and_then_comes_from_anywhere() {
    let site = Site::new();
    let root = site.root().to_str().unwrap();
    let server = Binary::start(&[root, "--metrics", "/metrics", "--auth", "ops:secret", "--proxy-protocol"], "warn");
    // "ops:secret" in base64.
    let credentials = "Authorization: Basic b3BzOnNlY3JldA==\r\n";
    let scrape_as = |source: &str, extra: &str| {
        let mut stream = connect(server.addr);
        send(
            &mut stream,
            &format!("PROXY TCP4 {source} 127.0.0.1 5000 80\r\nGET /metrics HTTP/1.1\r\nHost: t\r\n{extra}\r\n"),
        );
        read_response(&mut stream, false).expect("a response")
    };
    let anonymous = scrape_as("127.0.0.1", "");
    assert_eq!(anonymous.status, 401, "even from loopback, without an account");
    assert!(anonymous.header("www-authenticate").is_some_and(|v| v.starts_with("Basic ")));
    assert_eq!(scrape_as("192.0.2.10", credentials).status, 200, "an account's scrape, from anywhere");
    assert_eq!(scrape_as("192.0.2.10", "Authorization: Basic b3BzOndyb25n\r\n").status, 401, "a wrong password");
}

#[test]
fn tls_handshakes_and_their_failures_are_counted() {
    if !have_tool("curl") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let site = Site::new();
    let cert = dir.path().join("cert.pem");
    let args = [site.root().to_str().unwrap(), "--metrics", "/metrics", "--tls-self-signed", "--tls-write-cert"];
    let server = Binary::start(&[&args[..], &[cert.to_str().unwrap()]].concat(), "warn");
    let curl = |path: &str| {
        let url = format!("https://{}{path}", server.addr);
        let output = run_with_timeout(Command::new("curl").args(["-sS", "--cacert"]).arg(&cert).arg(&url), IO_TIMEOUT);
        assert!(output.status.success(), "curl {url}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert_eq!(curl("/hello.txt"), "hello file\n");
    // A handshake that starts and is abandoned, and one rustls refuses.
    let mut abandoned = connect(server.addr);
    abandoned.write_all(b"\x16\x03\x01\x00\x40\x01").expect("send");
    drop(abandoned);
    let mut garbage = connect(server.addr);
    garbage.write_all(b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00").expect("send");
    let _ = std::io::Read::read_to_end(&mut garbage, &mut Vec::new());
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        let scrape = curl("/metrics");
        let (ok, failed) =
            (value(&scrape, "rawserve_tls_handshakes_total"), value(&scrape, "rawserve_tls_handshake_failures_total"));
        // This scrape's own handshake has finished by the time it is answered.
        if ok == Some(2.0) && failed == Some(2.0) {
            assert_eq!(
                // curl chose HTTP/2 by ALPN.
                value(&scrape, r#"rawserve_http_requests_total{method="GET",status="2xx",protocol="HTTP/2"}"#),
                Some(1.0)
            );
            break;
        }
        assert!(Instant::now() < deadline, "handshakes {ok:?}, failures {failed:?}:\n{scrape}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A Prometheus server run by a test: killed (and its data removed) on drop.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Prometheus on a free loopback port, scraping `target`'s `/metrics`
    /// every second.
    fn start(target: SocketAddr) -> Prometheus {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                 scrape_configs:\n  - job_name: rawserve\n    metrics_path: /metrics\n    \
                 static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .expect("write prometheus.yml");
        // A free port: taken, then released for Prometheus to bind.
        let addr = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn prometheus");
        Prometheus { child, addr, _dir: dir }
    }

    /// The first value of the instant query `query`, once it has one.
    fn query(&self, query: &str) -> Option<f64> {
        let encoded: String = query
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let mut stream = std::net::TcpStream::connect(self.addr).ok()?;
        stream.set_read_timeout(Some(IO_TIMEOUT)).ok()?;
        let request = format!("GET /api/v1/query?query={encoded} HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).ok()?;
        let mut answer = String::new();
        std::io::Read::read_to_string(&mut stream, &mut answer).ok()?;
        // {"status":"success","data":{"resultType":"vector","result":[{"metric":{…},"value":[1700000000.123,"1"]}]}}
        let value = answer.split("\"value\":[").nth(1)?;
        value.split(",\"").nth(1)?.split('"').next()?.parse().ok()
    }

    /// Waits until `query` returns `want`; the last value seen otherwise.
    fn wait_for(&mut self, query: &str, want: f64) -> Result<(), Option<f64>> {
        let deadline = Instant::now() + PROMETHEUS_WAIT;
        loop {
            let seen = self.query(query);
            if seen == Some(want) {
                return Ok(());
            }
            if Instant::now() >= deadline || self.child.try_wait().ok().flatten().is_some() {
                return Err(seen);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_real_prometheus_scrapes_the_requests_sent() {
    if !have_tool("prometheus") {
        return;
    }
    let site = Site::new();
    let server = Binary::start(&[site.root().to_str().unwrap(), "--metrics", "/metrics"], "warn");
    const SENT: usize = 37;
    for _ in 0..SENT {
        assert_eq!(get(server.addr, "/hello.txt", "").status, 200);
    }
    let mut prometheus = Prometheus::start(server.addr);
    let up = prometheus.wait_for(r#"up{job="rawserve"}"#, 1.0);
    assert_eq!(up, Ok(()), "Prometheus never saw rawserve up");
    let query = r#"sum(rawserve_http_requests_total{job="rawserve",method="GET",status="2xx"})"#;
    assert_eq!(prometheus.wait_for(query, SENT as f64), Ok(()), "{query}");
    // Requests after the first scrapes show up at the next ones.
    for _ in 0..3 {
        assert_eq!(get(server.addr, "/hello.txt", "").status, 200);
    }
    assert_eq!(prometheus.wait_for(query, SENT as f64 + 3.0), Ok(()), "{query}");
    let histogram = r#"sum(rawserve_http_request_duration_seconds_count{job="rawserve"})"#;
    assert_eq!(prometheus.wait_for(histogram, SENT as f64 + 3.0), Ok(()), "{histogram}");
}
