//! RFC 9110 semantics for files: validators, conditional requests, ranges,
//! directories and listings, precompressed siblings, caching headers.

use std::fs;
use std::io::Write;
use std::time::{Duration, SystemTime};

use crate::support::*;

/// The file's validators as served.
fn validators(server: &TestServer, target: &str) -> (String, String) {
    let r = get(server, target, &[]);
    (r.header("etag").unwrap().to_string(), r.header("last-modified").unwrap().to_string())
}

fn date(offset_secs: i64) -> String {
    let now = SystemTime::now();
    let t = if offset_secs >= 0 {
        now + Duration::from_secs(offset_secs as u64)
    } else {
        now - Duration::from_secs((-offset_secs) as u64)
    };
    httpdate::fmt_http_date(t)
}

#[test]
fn not_modified_carries_validators_and_no_body() {
    let server = TestServer::start();
    let (etag, last_modified) = validators(&server, "/hello.txt");
    let mut stream = server.connect();
    send(&mut stream, &format!("GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\n\r\n"));
    let r = read_response(&mut stream, false).unwrap();
    assert_eq!(r.status, 304);
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert_eq!(r.header("last-modified"), Some(last_modified.as_str()));
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    assert!(r.header("date").is_some());
    assert!(r.header("content-length").is_none());
    // No body: the next response on the connection follows at once.
    send(&mut stream, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(read_response(&mut stream, false).unwrap().body, b"Hello, world!");
}

#[test]
fn conditional_requests_follow_rfc9110_order() {
    let server = TestServer::start();
    let (etag, last_modified) = validators(&server, "/hello.txt");
    let weak = format!("W/{etag}");
    let list = format!("\"other\", {etag}");
    let (past, future) = (date(-86_400 * 365), date(86_400));
    let cases: Vec<(Vec<(&str, &str)>, u16)> = vec![
        (vec![("If-None-Match", &etag)], 304),
        (vec![("If-None-Match", &weak)], 304), // weak comparison
        (vec![("If-None-Match", &list)], 304),
        (vec![("If-None-Match", "*")], 304),
        (vec![("If-None-Match", "\"other\"")], 200),
        (vec![("If-Modified-Since", &last_modified)], 304),
        (vec![("If-Modified-Since", &future)], 304),
        (vec![("If-Modified-Since", &past)], 200),
        (vec![("If-Modified-Since", "not a date")], 200), // unparsable: ignored
        // If-None-Match beats If-Modified-Since, both ways.
        (vec![("If-None-Match", "\"other\""), ("If-Modified-Since", &future)], 200),
        (vec![("If-None-Match", &etag), ("If-Modified-Since", &past)], 304),
        (vec![("If-Match", &etag)], 200),
        (vec![("If-Match", "*")], 200),
        (vec![("If-Match", "\"other\"")], 412),
        (vec![("If-Match", &weak)], 412), // strong comparison
        // If-Match failure beats everything.
        (vec![("If-Match", "\"other\""), ("If-None-Match", &etag), ("If-Modified-Since", &future)], 412),
        (vec![("If-Unmodified-Since", &past)], 412),
        (vec![("If-Unmodified-Since", &future)], 200),
        (vec![("If-Unmodified-Since", "garbage")], 200),
        // If-Match passing skips If-Unmodified-Since.
        (vec![("If-Match", &etag), ("If-Unmodified-Since", &past)], 200),
        (vec![("If-Unmodified-Since", &future), ("If-None-Match", &etag)], 304),
    ];
    for (headers, status) in cases {
        assert_eq!(get(&server, "/hello.txt", &headers).status, status, "{headers:?}");
    }
}

/// The fixture file /kib.bin: bytes `a..z` repeating, 1024 long.
fn kib(range: std::ops::Range<usize>) -> Vec<u8> {
    kib_contents()[range].to_vec()
}

#[test]
fn single_ranges() {
    let server = TestServer::start();
    for (spec, start, end) in [("10-19", 10, 20), ("1000-", 1000, 1024), ("-24", 1000, 1024), ("1000-5000", 1000, 1024)]
    {
        let r = get(&server, "/kib.bin", &[("Range", &format!("bytes={spec}"))]);
        assert_eq!(r.status, 206, "{spec}");
        assert_eq!(r.header("content-range"), Some(format!("bytes {start}-{}/1024", end - 1).as_str()));
        assert_eq!(r.body, kib(start..end), "{spec}");
    }
    assert_eq!(get(&server, "/kib.bin", &[]).header("accept-ranges"), Some("bytes"));
    // An invalid Range is ignored: the whole file.
    let r = get(&server, "/kib.bin", &[("Range", "bytes=20-10")]);
    assert_eq!((r.status, r.body.len()), (200, 1024));
    let r = get(&server, "/kib.bin", &[("Range", "lines=1-2")]);
    assert_eq!(r.status, 200);
}

#[test]
fn unsatisfiable_ranges_get_416() {
    let server = TestServer::start();
    for spec in ["bytes=1024-", "bytes=5000-6000", "bytes=-0"] {
        let r = get(&server, "/kib.bin", &[("Range", spec)]);
        assert_eq!((r.status, r.header("content-range")), (416, Some("bytes */1024")), "{spec}");
    }
}

#[test]
fn multiple_ranges_are_multipart_and_byte_exact() {
    let server = TestServer::start();
    let r = get(&server, "/kib.bin", &[("Range", "bytes=0-9, 500-509,-4")]);
    assert_eq!(r.status, 206);
    let content_type = r.header("content-type").unwrap();
    let boundary = content_type.strip_prefix("multipart/byteranges; boundary=").expect(content_type);
    let part = |start: usize, end: usize| {
        let mut bytes = format!(
            "--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes {start}-{}/1024\r\n\r\n",
            end - 1
        )
        .into_bytes();
        bytes.extend(kib(start..end));
        bytes
    };
    let mut expected = part(0, 10);
    expected.extend(b"\r\n");
    expected.extend(part(500, 510));
    expected.extend(b"\r\n");
    expected.extend(part(1020, 1024));
    expected.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    assert_eq!(String::from_utf8_lossy(&r.body), String::from_utf8_lossy(&expected));
    assert_eq!(r.header("content-length"), Some(expected.len().to_string().as_str()));
}

#[test]
fn ranges_are_never_amplified() {
    let server = TestServer::start();
    // Overlapping and adjacent ranges coalesce into one.
    let r = get(&server, "/kib.bin", &[("Range", "bytes=0-99,50-149,150-199")]);
    assert_eq!((r.status, r.header("content-range")), (206, Some("bytes 0-199/1024")));
    assert_eq!(r.body, kib(0..200));
    // Many overlapping copies of the whole file: never more than the file.
    let many = ["0-"; 10].join(",");
    let r = get(&server, "/kib.bin", &[("Range", &format!("bytes={many}"))]);
    assert!(r.body.len() <= 1024, "{} bytes", r.body.len());
    // More ranges than the limit: the whole file, once.
    let too_many: Vec<String> = (0..40).map(|i| format!("{}-{}", i * 25, i * 25)).collect();
    let r = get(&server, "/kib.bin", &[("Range", &format!("bytes={}", too_many.join(",")))]);
    assert_eq!((r.status, r.body.len()), (200, 1024));
}

#[test]
fn if_range_with_etag_or_date() {
    let server = TestServer::start();
    let (etag, last_modified) = validators(&server, "/kib.bin");
    let ranged = |if_range: &str| get(&server, "/kib.bin", &[("Range", "bytes=0-9"), ("If-Range", if_range)]).status;
    assert_eq!(ranged(&etag), 206);
    assert_eq!(ranged(&last_modified), 206);
    assert_eq!(ranged("\"stale\""), 200);
    assert_eq!(ranged(&format!("W/{etag}")), 200);
    assert_eq!(ranged(&date(-86_400)), 200);
}

#[test]
fn head_of_a_range() {
    let server = TestServer::start();
    let r = request(&server, "HEAD", "/kib.bin", &[("Range", "bytes=10-19")]);
    assert_eq!((r.status, r.header("content-length")), (206, Some("10")));
    assert_eq!(r.header("content-range"), Some("bytes 10-19/1024"));
}

#[test]
fn directory_listing_is_sorted_escaped_and_encoded() {
    let server = TestServer::start();
    let root = server.root();
    write(&root, "list/<b>&x.txt", b"x");
    write(&root, "list/space name.txt", b"hello");
    write(&root, "list/Zeta.txt", &[0u8; 3000]);
    write(&root, "list/alpha.txt", b"a");
    write(&root, "list/zdir/f", b"f");
    write(&root, "list/Adir/f", b"f");
    write(&root, "list/.hidden", b"h");

    let r = get(&server, "/list/", &[]);
    assert_eq!((r.status, r.header("content-type")), (200, Some("text/html; charset=utf-8")));
    let html = r.text();
    assert!(html.contains("href=\"%3Cb%3E%26x.txt\""), "{html}");
    assert!(html.contains("&lt;b&gt;&amp;x.txt"), "{html}");
    assert!(!html.contains("<b>&x"), "unescaped name in {html}");
    assert!(html.contains("href=\"space%20name.txt\""), "{html}");
    assert!(html.contains("href=\"../\""), "parent link");
    assert!(html.contains("2.9 KiB"), "human-readable size: {html}");
    assert!(!html.contains("href=\".hidden"), "dotfile listed");
    let order: Vec<usize> = ["Adir/", "zdir/", "&lt;b&gt;", "alpha.txt", "space name", "Zeta.txt"]
        .iter()
        .map(|name| html.find(name).unwrap_or_else(|| panic!("{name} missing")))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "folders first, then by name: {order:?}");
    // The links work.
    assert_eq!(get(&server, "/list/%3Cb%3E%26x.txt", &[]).text(), "x");
    assert_eq!(get(&server, "/list/space%20name.txt", &[]).text(), "hello");
}

#[test]
fn listing_can_be_turned_off() {
    let server = TestServer::start_files(|f| f.listing = false);
    assert_eq!(get(&server, "/nested/", &[]).status, 404);
    assert_eq!(get(&server, "/nested/file.txt", &[]).status, 200);
}

#[test]
fn root_listing_has_no_parent_link() {
    let server = TestServer::start();
    fs::remove_file(server.root().join("index.html")).unwrap();
    let html = get(&server, "/", &[]).text();
    assert!(html.contains("hello.txt") && !html.contains("href=\"../\""), "{html}");
}

/// Writes `name` plus `.gz` / `.br` siblings with distinct contents.
fn precompressed(server: &TestServer, br: bool) {
    let root = server.root();
    write(&root, "app.css", b"body { color: red }");
    write(&root, "app.css.gz", b"GZIP-BYTES");
    if br {
        write(&root, "app.css.br", b"BROTLI-BYTES");
    }
}

#[test]
fn precompressed_siblings_follow_accept_encoding() {
    let server = TestServer::start();
    precompressed(&server, true);
    let cases = [
        (None, "body { color: red }", None),
        (Some("gzip"), "GZIP-BYTES", Some("gzip")),
        (Some("gzip, deflate, br"), "BROTLI-BYTES", Some("br")),
        (Some("br;q=0.5, gzip;q=0.9"), "GZIP-BYTES", Some("gzip")),
        (Some("br;q=0, gzip;q=0"), "body { color: red }", None),
        (Some("identity"), "body { color: red }", None),
        (Some("*"), "BROTLI-BYTES", Some("br")),
        (Some("x-gzip"), "GZIP-BYTES", Some("gzip")),
    ];
    for (accept, body, coding) in cases {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept-Encoding", a)).into_iter().collect();
        let r = get(&server, "/app.css", &headers);
        assert_eq!((r.status, r.text().as_str(), r.header("content-encoding")), (200, body, coding), "{accept:?}");
        assert_eq!(r.header("content-type"), Some("text/css; charset=utf-8"), "{accept:?}");
        assert_eq!(r.header("vary"), Some("Accept-Encoding"), "{accept:?}");
    }
    // A negotiable type says Vary with or without siblings (it may be
    // compressed on the fly); other types never vary.
    assert_eq!(get(&server, "/style.css", &[("Accept-Encoding", "gzip")]).header("vary"), Some("Accept-Encoding"));
    assert_eq!(get(&server, "/img.png", &[("Accept-Encoding", "gzip")]).header("vary"), None);
}

#[test]
fn validators_and_ranges_apply_to_the_representation_sent() {
    let server = TestServer::start();
    precompressed(&server, false);
    let plain = get(&server, "/app.css", &[]);
    let gz = get(&server, "/app.css", &[("Accept-Encoding", "gzip")]);
    assert_ne!(plain.header("etag"), gz.header("etag"));
    let r = get(&server, "/app.css", &[("Accept-Encoding", "gzip"), ("Range", "bytes=0-3")]);
    assert_eq!((r.status, r.text().as_str()), (206, "GZIP"));
    assert_eq!(r.header("content-range"), Some("bytes 0-3/10"));
    let etag = gz.header("etag").unwrap();
    let r = get(&server, "/app.css", &[("Accept-Encoding", "gzip"), ("If-None-Match", etag)]);
    assert_eq!((r.status, r.header("vary")), (304, Some("Accept-Encoding")));
    let r = get(&server, "/app.css", &[("If-None-Match", etag)]);
    assert_eq!(r.status, 200, "the gzip ETag does not validate the identity representation");
}

#[test]
fn cache_control_default_and_override() {
    let server = TestServer::start();
    assert_eq!(get(&server, "/hello.txt", &[]).header("cache-control"), Some("no-cache"));
    let server = TestServer::start_files(|f| f.cache_control = "public, max-age=60".into());
    assert_eq!(get(&server, "/hello.txt", &[]).header("cache-control"), Some("public, max-age=60"));
}

#[test]
fn nosniff_on_every_response() {
    let server = TestServer::start();
    for target in ["/hello", "/hello.txt", "/missing", "/sub", "/nested/", "/../x"] {
        assert_eq!(get(&server, target, &[]).header("x-content-type-options"), Some("nosniff"), "{target}");
    }
    let mut stream = server.connect();
    stream.write_all(b"BAD\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut stream, false).unwrap().header("x-content-type-options"), Some("nosniff"));
}
