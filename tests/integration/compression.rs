//! On-the-fly compression over real sockets, checked by independent
//! decoders (Python's zlib, brotli and zstandard modules; curl) and by
//! Chromium: every coding round-trips byte for byte, negotiation follows
//! q-values and `identity;q=0`, each coding has its own ETag and 304,
//! ranges never mix codings, edits are recompressed, large files are
//! streamed in bounded memory, siblings (`.zst` and wasm too) win.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::*;

const PYTHON_LIMIT: Duration = Duration::from_secs(60);

/// Decodes `coding` read from the file argv[2] with Python's own
/// decoders, writing the result to stdout.
const PY_DECODE: &str = r#"
import sys, zlib
coding, path = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
if coding == "gzip":
    out = zlib.decompress(data, 16 + zlib.MAX_WBITS)
elif coding == "br":
    import brotli
    out = brotli.decompress(data)
elif coding == "zstd":
    import zstandard
    out = zstandard.ZstdDecompressor().stream_reader(data).read()
else:
    sys.exit("unknown coding " + coding)
sys.stdout.buffer.write(out)
"#;

/// Whether python3 with the brotli and zstandard modules is here; as
/// `have_tool`, a skip with the reason, or a failure under CI.
fn have_python_decoders() -> bool {
    if !have_tool("python3") {
        return false;
    }
    let ok =
        Command::new("python3").args(["-c", "import brotli, zstandard"]).output().is_ok_and(|out| out.status.success());
    if !ok {
        skipping("python3 lacks brotli or zstandard", "pip install brotli zstandard");
    }
    ok
}

/// `data` decoded by Python.
fn py_decode(coding: &str, data: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("body");
    fs::write(&path, data).expect("write body");
    run_ok(Command::new("python3").args(["-c", PY_DECODE, coding]).arg(&path), PYTHON_LIMIT).stdout
}

/// Text that compresses like real CSS/JS (repeated words in a varying
/// order), `len` bytes.
fn text(len: usize, seed: u32) -> Vec<u8> {
    let words = [
        "body", "{", "}", "color:", "#336;", "margin:", "0", "auto;", ".nav", "a:hover", "function", "return", "const",
        "=>", "display:", "flex;", "padding:", "1rem;", "\n", "export", "import", "from", "let", "var",
    ];
    let mut out = Vec::with_capacity(len + 16);
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.extend_from_slice(words[(x % words.len() as u32) as usize].as_bytes());
        out.push(if x.is_multiple_of(7) { b'\n' } else { b' ' });
    }
    out.truncate(len);
    out
}

/// One GET (or HEAD) with extra header lines, on a fresh connection.
fn request(addr: std::net::SocketAddr, method: &str, target: &str, headers: &[(&str, &str)]) -> Response {
    let mut stream = connect(addr);
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    send(&mut stream, &head);
    let mut response = read_response(&mut stream, method == "HEAD").expect("a response");
    if response.header("transfer-encoding") == Some("chunked") && method != "HEAD" {
        response.body = dechunk(&response.body);
    }
    response
}

fn get(server: &TestServer, target: &str, headers: &[(&str, &str)]) -> Response {
    request(server.addr(), "GET", target, headers)
}

fn accept(coding: &str) -> [(&'static str, &str); 1] {
    [("Accept-Encoding", coding)]
}

/// The data of a chunked body, checking its framing on the way.
fn dechunk(wire: &[u8]) -> Vec<u8> {
    let (data, rest) = dechunk_prefix(wire);
    assert_eq!(rest, b"", "no trailer, nothing after the last chunk");
    data
}

/// The data of the chunked body at the start of `wire`, and what follows it.
fn dechunk_prefix(mut wire: &[u8]) -> (Vec<u8>, &[u8]) {
    let mut data = Vec::new();
    loop {
        let line_end = wire.windows(2).position(|w| w == b"\r\n").expect("a chunk-size line");
        let size_text = std::str::from_utf8(&wire[..line_end]).expect("ASCII chunk size");
        let size = usize::from_str_radix(size_text, 16).expect("hex chunk size");
        wire = &wire[line_end + 2..];
        if size == 0 {
            assert!(wire.starts_with(b"\r\n"), "no trailer after the last chunk");
            return (data, &wire[2..]);
        }
        data.extend_from_slice(&wire[..size]);
        assert_eq!(&wire[size..size + 2], b"\r\n", "a chunk ends with CRLF");
        wire = &wire[size + 2..];
    }
}

/// A site with a 32 KiB stylesheet, a small script, a tiny file and an image.
fn server() -> (TestServer, Vec<u8>) {
    let server = TestServer::start();
    let css = text(32 * 1024, 1);
    write(&server.root(), "site.css", &css);
    write(&server.root(), "tiny.js", b"export const x = 1;\n");
    (server, css)
}

#[test]
fn every_coding_round_trips_through_python() {
    if !have_python_decoders() {
        return;
    }
    let (server, css) = server();
    for coding in ["gzip", "br", "zstd"] {
        // Twice: compressed and kept, then from the kept bytes.
        for round in ["first", "kept"] {
            let r = get(&server, "/site.css", &accept(coding));
            assert_eq!(r.status, 200);
            assert_eq!(r.header("content-encoding"), Some(coding), "{round}");
            assert_eq!(r.header("vary"), Some("Accept-Encoding"));
            assert_eq!(r.header("content-type"), Some("text/css; charset=utf-8"));
            assert_eq!(r.header("content-length"), Some(r.body.len().to_string().as_str()));
            assert!(r.body.len() < css.len() / 3, "{coding}: {} bytes of {}", r.body.len(), css.len());
            assert!(py_decode(coding, &r.body) == css, "{coding} ({round}) decodes to the file");
        }
    }
    let plain = get(&server, "/site.css", &[]);
    assert_eq!((plain.header("content-encoding"), plain.body == css), (None, true));
    assert_eq!(plain.header("vary"), Some("Accept-Encoding"), "identity varies too");
}

#[test]
fn curl_compressed_decodes_every_coding() {
    if !have_tool("curl") {
        return;
    }
    let (server, css) = server();
    let dir = tempfile::tempdir().expect("temp dir");
    for (coding, expected) in [("gzip", "gzip"), ("br", "br"), ("zstd", "zstd"), ("gzip, deflate, br, zstd", "br")] {
        let out = dir.path().join("out");
        let headers = dir.path().join("headers");
        let args = ["-s", "--compressed", "-H", &format!("Accept-Encoding: {coding}"), "-o"];
        run_ok(
            Command::new("curl").args(args).arg(&out).arg("-D").arg(&headers).arg(url(&server, "/site.css")),
            Duration::from_secs(30),
        );
        let head = fs::read_to_string(&headers).expect("headers").to_ascii_lowercase();
        assert!(head.contains(&format!("content-encoding: {expected}\r\n")), "{coding}:\n{head}");
        assert!(fs::read(&out).expect("body") == css, "curl decodes {coding} to the file");
    }
}

#[test]
fn negotiation_follows_q_values_and_identity_refusals() {
    let (server, _) = server();
    let cases: &[(Option<&str>, &str, u16, Option<&str>)] = &[
        (None, "/site.css", 200, None),
        (Some("gzip, deflate, br, zstd"), "/site.css", 200, Some("br")),
        (Some("gzip, deflate"), "/site.css", 200, Some("gzip")),
        (Some("zstd;q=1, br;q=0.9, gzip;q=0.8"), "/site.css", 200, Some("zstd")),
        (Some("br;q=0.1, gzip;q=0.5"), "/site.css", 200, Some("gzip")),
        (Some("br;q=0, zstd;q=0, gzip;q=0"), "/site.css", 200, None),
        (Some("identity"), "/site.css", 200, None),
        (Some("deflate"), "/site.css", 200, None),
        (Some("*"), "/site.css", 200, Some("br")),
        (Some("x-gzip"), "/site.css", 200, Some("gzip")),
        (Some("identity;q=1, gzip;q=0.5"), "/site.css", 200, None),
        (Some("GZIP;Q=0.5, ZSTD;Q=0.6"), "/site.css", 200, Some("zstd")),
        // Identity refused: a coding it accepts, or 406 (RFC 9110 §12.5.3).
        (Some("gzip, identity;q=0"), "/site.css", 200, Some("gzip")),
        (Some("identity;q=0"), "/site.css", 406, None),
        (Some("*;q=0"), "/site.css", 406, None),
        (Some("br;q=0, *;q=0"), "/site.css", 406, None),
        // A tiny file is not worth compressing, unless identity is refused.
        (Some("gzip, br"), "/tiny.js", 200, None),
        (Some("gzip, identity;q=0"), "/tiny.js", 200, Some("gzip")),
        // An image is never compressed, nor negotiated.
        (Some("gzip, br"), "/img.png", 200, None),
        (Some("identity;q=0"), "/img.png", 200, None),
        // Malformed weights are ignored, never a 400.
        (Some("br;q=2, gzip;q=zero, zstd;q=0.5"), "/site.css", 200, Some("zstd")),
    ];
    for &(header, target, status, coding) in cases {
        let headers: Vec<(&str, &str)> = header.map(|h| ("Accept-Encoding", h)).into_iter().collect();
        let r = get(&server, target, &headers);
        assert_eq!((r.status, r.header("content-encoding")), (status, coding), "{header:?} for {target}");
        let varies = target != "/img.png";
        assert_eq!(r.header("vary").is_some(), varies, "{header:?} for {target}: Vary {:?}", r.header("vary"));
    }
}

#[test]
fn each_coding_has_its_own_etag_and_304() {
    let (server, _) = server();
    let codings = ["identity", "gzip", "br", "zstd"];
    let etags: Vec<String> = codings
        .iter()
        .map(|c| get(&server, "/site.css", &accept(c)).header("etag").expect("an ETag").to_string())
        .collect();
    let base = etags[0].trim_end_matches('"');
    for (coding, etag) in codings.iter().zip(&etags).skip(1) {
        assert_eq!(etag, &format!("{base}-{coding}\""), "the base ETag plus the coding");
    }
    for (i, coding) in codings.iter().enumerate() {
        let r = get(&server, "/site.css", &[("Accept-Encoding", coding), ("If-None-Match", &etags[i])]);
        assert_eq!((r.status, r.body.len()), (304, 0), "{coding}");
        assert_eq!(r.header("etag"), Some(etags[i].as_str()));
        assert_eq!(r.header("vary"), Some("Accept-Encoding"), "a 304 says what a 200 would");
        // Another coding's ETag confirms nothing.
        let other = &etags[(i + 1) % etags.len()];
        let r = get(&server, "/site.css", &[("Accept-Encoding", coding), ("If-None-Match", other)]);
        assert_eq!(r.status, 200, "{coding} with {other}");
        assert_eq!(r.header("etag"), Some(etags[i].as_str()));
    }
    // A list with the right one among others, and If-Match.
    let list = format!("{}, {}", etags[1], etags[2]);
    assert_eq!(get(&server, "/site.css", &[("Accept-Encoding", "br"), ("If-None-Match", &list)]).status, 304);
    assert_eq!(get(&server, "/site.css", &[("Accept-Encoding", "br"), ("If-Match", &etags[1])]).status, 412);
    assert_eq!(get(&server, "/site.css", &[("Accept-Encoding", "br"), ("If-Match", &etags[2])]).status, 200);
}

#[test]
fn ranges_never_mix_codings() {
    if !have_python_decoders() {
        return;
    }
    let (server, css) = server();
    let full = get(&server, "/site.css", &accept("br"));
    assert_eq!(full.header("content-encoding"), Some("br"));
    // A range of the brotli representation: its bytes, its ETag, its length.
    let r = get(&server, "/site.css", &[("Accept-Encoding", "br"), ("Range", "bytes=10-99")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-encoding"), Some("br"));
    assert_eq!(r.header("etag"), full.header("etag"));
    assert_eq!(r.header("content-range"), Some(format!("bytes 10-99/{}", full.body.len()).as_str()));
    assert_eq!(r.body, full.body[10..100]);
    // Pieces of it put together decode to the file.
    let first = get(&server, "/site.css", &[("Accept-Encoding", "br"), ("Range", "bytes=0-999")]);
    let rest = get(&server, "/site.css", &[("Accept-Encoding", "br"), ("Range", "bytes=1000-")]);
    let joined = [first.body, rest.body].concat();
    assert!(py_decode("br", &joined) == css, "two ranges of the br bytes decode to the file");
    // Without Accept-Encoding: identity bytes, no Content-Encoding.
    let r = get(&server, "/site.css", &[("Range", "bytes=10-99")]);
    assert_eq!((r.status, r.header("content-encoding")), (206, None));
    assert_eq!(r.body, css[10..100]);
    assert_eq!(r.header("content-range"), Some(format!("bytes 10-99/{}", css.len()).as_str()));
    // If-Range with the identity ETag while asking for br: br bytes, whole.
    let identity_etag = get(&server, "/site.css", &[]).header("etag").unwrap().to_string();
    let r =
        get(&server, "/site.css", &[("Accept-Encoding", "br"), ("Range", "bytes=0-9"), ("If-Range", &identity_etag)]);
    assert_eq!((r.status, r.header("content-encoding"), r.body.len()), (200, Some("br"), full.body.len()));
    // Several ranges of the br bytes: multipart, each part the br bytes.
    let r = get(&server, "/site.css", &[("Accept-Encoding", "br"), ("Range", "bytes=0-4,-5")]);
    assert_eq!(r.status, 206);
    assert!(r.header("content-type").unwrap().starts_with("multipart/byteranges; boundary="));
    let body = r.body.clone();
    let needle = |slice: &[u8]| body.windows(slice.len()).any(|w| w == slice);
    assert!(needle(&full.body[0..5]) && needle(&full.body[full.body.len() - 5..]));
    assert!(r.text().contains(&format!("Content-Range: bytes 0-4/{}", full.body.len())));
    // Unsatisfiable against the br length.
    let past = format!("bytes={}-", full.body.len());
    let r = get(&server, "/site.css", &[("Accept-Encoding", "br"), ("Range", &past)]);
    assert_eq!(r.status, 416);
}

#[test]
fn an_edited_file_is_recompressed() {
    if !have_python_decoders() {
        return;
    }
    let (server, css) = server();
    let before = get(&server, "/site.css", &accept("zstd"));
    assert!(py_decode("zstd", &before.body) == css);
    let edited = text(20 * 1024, 2);
    write(&server.root(), "site.css", &edited);
    let after = get(&server, "/site.css", &accept("zstd"));
    assert_eq!(after.header("content-encoding"), Some("zstd"));
    assert!(py_decode("zstd", &after.body) == edited, "the new version, compressed anew");
    assert_ne!(before.header("etag"), after.header("etag"));
    let r =
        get(&server, "/site.css", &[("Accept-Encoding", "zstd"), ("If-None-Match", before.header("etag").unwrap())]);
    assert_eq!(r.status, 200, "the old version's ETag no longer matches");
    // Same size, new contents: the change time still tells.
    let same_size = text(20 * 1024, 3);
    write(&server.root(), "site.css", &same_size);
    let again = get(&server, "/site.css", &accept("zstd"));
    assert!(py_decode("zstd", &again.body) == same_size);
}

#[test]
fn head_says_what_get_says() {
    let (server, _) = server();
    let big = text(600 * 1024, 4);
    write(&server.root(), "big.js", &big);
    for (target, coding) in
        [("/site.css", "br"), ("/site.css", "identity"), ("/big.js", "zstd"), ("/big.js", "identity")]
    {
        let head = request(server.addr(), "HEAD", target, &accept(coding));
        let get = request(server.addr(), "GET", target, &accept(coding));
        let fields = |r: &Response| -> Vec<(String, String)> {
            r.headers.iter().filter(|(n, _)| !n.eq_ignore_ascii_case("date")).cloned().collect()
        };
        assert_eq!(fields(&head), fields(&get), "{target} {coding}");
        assert!(head.body.is_empty());
    }
}

/// Peak resident memory of a process, in KiB.
fn peak_rss_kib(pid: i32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("a number")
}

#[test]
fn a_large_file_is_streamed_compressed_in_bounded_memory() {
    if !have_python_decoders() {
        return;
    }
    let site = tempfile::tempdir().expect("temp dir");
    let len = 16 << 20;
    let big = text(len, 5);
    write(site.path(), "bundle.js", &big);
    let root = site.path().to_str().expect("UTF-8 path");
    // Far past the largest file kept compressed (64 KiB here).
    let binary = Binary::start(&[root, "--compress-max-file", "65536", "--threads", "1"], "info,access=warn");
    let before = peak_rss_kib(binary.pid());
    for coding in ["zstd", "br", "gzip"] {
        let r = request(binary.addr, "GET", "/bundle.js", &accept(coding));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-encoding"), Some(coding));
        assert_eq!(r.header("transfer-encoding"), Some("chunked"), "no length known before compressing");
        assert_eq!(r.header("content-length"), None);
        assert_eq!(r.header("accept-ranges"), None, "no ranges of a stream");
        assert!(r.body.len() < len / 2, "{coding}: {} of {len}", r.body.len());
        assert!(py_decode(coding, &r.body) == big, "{coding} stream decodes to the file");
    }
    let grown_kib = peak_rss_kib(binary.pid()).saturating_sub(before);
    eprintln!("peak memory grew by {grown_kib} KiB while streaming a {} KiB file three times", len >> 10);
    assert!(grown_kib < 10 * 1024, "peak memory grew by {grown_kib} KiB: the file was held whole");

    // A range of a streamed coding is not served: the whole stream.
    let r = request(binary.addr, "GET", "/bundle.js", &[("Accept-Encoding", "zstd"), ("Range", "bytes=0-9")]);
    assert_eq!((r.status, r.header("content-encoding")), (200, Some("zstd")));
    // An HTTP/1.0 client cannot take chunks: identity, with a length.
    let mut stream = connect(binary.addr);
    send(&mut stream, "GET /bundle.js HTTP/1.0\r\nAccept-Encoding: zstd\r\n\r\n");
    let r = read_response(&mut stream, false).expect("a response");
    assert_eq!((r.header("content-encoding"), r.body.len()), (None, len));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
}

#[test]
fn siblings_win_and_include_zst_and_wasm() {
    let (server, css) = server();
    let root = server.root();
    write(&root, "site.css.zst", b"ZSTD-SIBLING");
    let wasm = [b"\0asm\x01\0\0\0".as_slice(), &[7u8; 4000]].concat();
    write(&root, "app.wasm", &wasm);
    write(&root, "app.wasm.gz", b"GZIP-WASM");
    let r = get(&server, "/site.css", &accept("zstd, gzip"));
    assert_eq!((r.body.as_slice(), r.header("content-encoding")), (b"ZSTD-SIBLING".as_slice(), Some("zstd")));
    // At equal weight the sibling beats a coding made here.
    let r = get(&server, "/site.css", &accept("gzip, br, zstd"));
    assert_eq!((r.body.as_slice(), r.header("content-encoding")), (b"ZSTD-SIBLING".as_slice(), Some("zstd")));
    // A coding the client prefers is made on the fly.
    let r = get(&server, "/site.css", &accept("br, zstd;q=0.5"));
    assert_eq!(r.header("content-encoding"), Some("br"));
    let r = get(&server, "/app.wasm", &accept("gzip, br"));
    assert_eq!((r.body.as_slice(), r.header("content-encoding")), (b"GZIP-WASM".as_slice(), Some("gzip")));
    assert_eq!(r.header("content-type"), Some("application/wasm"), "no charset on wasm");
    let r = get(&server, "/app.wasm", &accept("br"));
    assert_eq!(r.header("content-encoding"), Some("br"), "wasm is compressed on the fly too");
    assert!(r.body.len() < wasm.len() / 4);
    let r = get(&server, "/app.wasm", &[]);
    assert_eq!((r.body == wasm, r.header("vary")), (true, Some("Accept-Encoding")));
    // With compression off, siblings still go out; nothing is made.
    let off = TestServer::start_files(|f| f.compress = None);
    write(&off.root(), "site.css", &css);
    write(&off.root(), "site.css.zst", b"ZSTD-SIBLING");
    write(&off.root(), "other.css", &css);
    assert_eq!(get(&off, "/site.css", &accept("br, zstd")).header("content-encoding"), Some("zstd"));
    let r = get(&off, "/other.css", &accept("br, zstd"));
    assert_eq!((r.header("content-encoding"), r.body == css), (None, true));
}

#[test]
fn kept_bytes_stay_within_the_cache_bound() {
    // A cache too small for any entry: each answer is compressed anew and
    // still right.
    if !have_python_decoders() {
        return;
    }
    let server = TestServer::start_files(|f| f.compress_cache_bytes = 16);
    let css = text(32 * 1024, 6);
    write(&server.root(), "site.css", &css);
    for _ in 0..2 {
        let r = get(&server, "/site.css", &accept("gzip"));
        assert!(py_decode("gzip", &r.body) == css);
    }
}

/// The response headers Chromium received, per URL, from its NetLog.
const PY_NETLOG: &str = r#"
import json, sys
log = json.load(open(sys.argv[1]))
names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
urls = {}
for event in log["events"]:
    kind = names.get(event["type"])
    params = event.get("params", {})
    source = event["source"]["id"]
    if kind == "URL_REQUEST_START_JOB":
        urls[source] = params.get("url")
    elif kind == "HTTP_TRANSACTION_READ_RESPONSE_HEADERS":
        lines = params.get("headers", [])
        coding = [l.split(":", 1)[1].strip() for l in lines if l.lower().startswith("content-encoding:")]
        print(urls.get(source), lines[0] if lines else "-", coding[0] if coding else "identity")
"#;

#[test]
fn chromium_gets_every_text_asset_of_the_demo_site_compressed() {
    if !have_tool("chromium") || !have_tool("python3") {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("public");
    let server = serve_dir(&root);
    let base = format!("http://{}", server.local_addr());
    let logs = tempfile::tempdir().expect("netlog dir");
    let netlog = logs.path().join("netlog.json");
    let log_flag = format!("--log-net-log={}", netlog.display());
    let out = crate::browser::chromium(&[&log_flag, "--dump-dom"], &format!("{base}/"));
    // The page's own live checks, all green with compressed assets.
    crate::browser::assert_live_checks(&String::from_utf8_lossy(&out.stdout));
    let seen =
        String::from_utf8(run_ok(Command::new("python3").args(["-c", PY_NETLOG]).arg(&netlog), PYTHON_LIMIT).stdout)
            .expect("UTF-8");
    eprintln!("Chromium received:\n{seen}");
    let coding_of = |path: &str| {
        let line = seen.lines().find(|l| l.starts_with(&format!("{base}{path} ")))?;
        line.rsplit(' ').next().map(str::to_string)
    };
    // Every text asset (all above the size threshold) compressed with a
    // coding Chromium asked for; the PNG as it is. The favicon (an SVG) is
    // fetched only when a headless run gets round to it.
    for path in ["/", "/style.css", "/app.js", "/images/logo.svg"] {
        let Some(coding) = coding_of(path) else {
            assert_eq!(path, "/images/logo.svg", "Chromium never fetched {path}:\n{seen}");
            continue;
        };
        assert!(["br", "zstd", "gzip"].contains(&coding.as_str()), "{path} arrived as {coding}:\n{seen}");
    }
    assert_eq!(coding_of("/images/logo.png").as_deref(), Some("identity"));
}

#[test]
fn streams_past_the_cap_go_uncompressed_until_one_ends() {
    let server = TestServer::start_files(|f| f.compress_streams = 1);
    // Hex digits: half the size compressed, so the stream (16 MiB on the
    // wire) stays in flight while its client reads nothing.
    let mut x = 0x2545_f491_u32;
    let big: Vec<u8> = (0..32 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            b"0123456789abcdef"[(x & 15) as usize]
        })
        .collect();
    write(&server.root(), "dump.txt", &big);
    let mut stalled = server.connect();
    send(&mut stalled, "GET /dump.txt HTTP/1.1\r\nHost: t\r\nAccept-Encoding: zstd\r\n\r\n");
    let mut head = [0u8; 64];
    std::io::Read::read_exact(&mut stalled, &mut head).expect("the stream starts");
    assert!(head.starts_with(b"HTTP/1.1 200 OK\r\n"));
    // The one stream is taken: the file goes as it is, with its length.
    let mut second = server.connect();
    send(&mut second, "HEAD /dump.txt HTTP/1.1\r\nHost: t\r\nAccept-Encoding: zstd\r\n\r\n");
    let r = read_response(&mut second, true).expect("a response");
    assert_eq!((r.header("content-encoding"), r.header("content-length")), (None, Some("33554432")));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    // Once the stalled client goes, its place is free again.
    drop(stalled);
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    loop {
        let r = request(server.addr(), "HEAD", "/dump.txt", &accept("zstd"));
        if r.header("content-encoding") == Some("zstd") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the stream's place was never freed");
        // The server frees it when it sees the close; nothing to block on here.
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_compress_flag_sets_the_level_or_turns_it_off() {
    let site = tempfile::tempdir().expect("temp dir");
    let css = text(32 * 1024, 7);
    write(site.path(), "site.css", &css);
    let root = site.path().to_str().expect("UTF-8 path");
    let mut sizes = Vec::new();
    for level in ["1", "9"] {
        let binary = Binary::start(&[root, "--compress", level], "info,access=warn");
        let r = request(binary.addr, "GET", "/site.css", &accept("gzip"));
        assert_eq!(r.header("content-encoding"), Some("gzip"), "--compress {level}");
        sizes.push(r.body.len());
    }
    assert!(sizes[1] < sizes[0], "level 9 is smaller than level 1: {sizes:?}");
    let binary = Binary::start(&[root, "--compress", "off"], "info,access=warn");
    let r = request(binary.addr, "GET", "/site.css", &accept("gzip, br, zstd"));
    assert_eq!((r.header("content-encoding"), r.body == css), (None, true));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    let out = Command::new(env!("CARGO_BIN_EXE_rawserve")).args([root, "--compress", "10"]).output().expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a level from 1 to 9, or off"), "{stderr}");
}

#[test]
fn the_connection_goes_on_after_a_streamed_body() {
    if !have_python_decoders() {
        return;
    }
    let (server, css) = server();
    let big = text(600 * 1024, 8);
    write(&server.root(), "big.js", &big);
    let mut stream = server.connect();
    send(
        &mut stream,
        "GET /big.js HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n\
         GET /site.css HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    let mut wire = Vec::new();
    std::io::Read::read_to_end(&mut stream, &mut wire).expect("both responses");
    let head_end = wire.windows(4).position(|w| w == b"\r\n\r\n").expect("a head") + 4;
    let head = String::from_utf8_lossy(&wire[..head_end]);
    assert!(head.contains("Transfer-Encoding: chunked\r\n") && head.contains("Content-Encoding: gzip\r\n"), "{head}");
    let (packed, rest) = dechunk_prefix(&wire[head_end..]);
    assert!(py_decode("gzip", &packed) == big, "the streamed body");
    let second_end = rest.windows(4).position(|w| w == b"\r\n\r\n").expect("a second head") + 4;
    assert!(rest.starts_with(b"HTTP/1.1 200 OK\r\n"), "{}", String::from_utf8_lossy(&rest[..second_end]));
    assert!(rest[second_end..] == css[..], "the next response follows the last chunk");
}
