//! Uploads over raw sockets (issue 22 item 2): `--upload` off answers 405;
//! `PUT`, `POST` multipart, `MKCOL`, `DELETE` and `MOVE` change the folder
//! and the very next `GET` and listing see it, whatever the caches held;
//! every failure path (an interrupted body, 413, a full disk, `..`, a
//! symlink, another site's browser) leaves nothing behind; uploads to one
//! name at once end with one of them whole.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use rawserve::FileOptions;

use crate::support::*;

/// A server that takes uploads and changes, adjusted by `adjust`.
pub fn upload_server(adjust: impl FnOnce(&mut Settings)) -> TestServer {
    TestServer::start_setup(
        |setup| {
            setup.files.upload = true;
            setup.files.delete = true;
            adjust(&mut Settings { server: &mut setup.config, files: &mut setup.files });
        },
        |router| router,
    )
}

/// Both halves of a test server's settings.
pub struct Settings<'a> {
    pub server: &'a mut rawserve::Config,
    pub files: &'a mut FileOptions,
}

/// Sends `head` (request line and fields, without the blank line) with a
/// `Content-Length` body on `stream`; the response.
fn send_body(stream: &mut TcpStream, head: &str, body: &[u8]) -> Response {
    let mut bytes = format!("{head}\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    bytes.extend_from_slice(body);
    stream.write_all(&bytes).expect("send");
    read_response(stream, false).expect("a response")
}

/// `PUT target` with `body` on a connection of its own.
pub fn put(server: &TestServer, target: &str, body: &[u8]) -> Response {
    send_body(&mut server.connect(), &format!("PUT {target} HTTP/1.1\r\nHost: t\r\nConnection: close"), body)
}

/// A multipart body of `parts` (field name, file name, contents).
pub fn multipart(boundary: &str, parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, filename, contents) in parts {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"").as_bytes());
        if let Some(filename) = filename {
            body.extend_from_slice(
                format!("; filename=\"{filename}\"\r\nContent-Type: application/octet-stream").as_bytes(),
            );
        }
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(contents);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

/// `POST target` of a multipart body, with extra header lines.
fn post(server: &TestServer, target: &str, body: &[u8], extra: &str) -> Response {
    let head = format!(
        "POST {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\
         Content-Type: multipart/form-data; boundary=XbOuNdArY{extra}"
    );
    send_body(&mut server.connect(), &head, body)
}

/// The server's temporary files anywhere below `dir`.
pub fn leftovers(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(".rawserve-") {
            found.push(entry.path().display().to_string());
        }
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            found.extend(leftovers(&entry.path()));
        }
    }
    found
}

/// Waits (bounded) until `done` holds; fails with `what` otherwise.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + IO_TIMEOUT;
    while !done() {
        assert!(Instant::now() < deadline, "{what} within {IO_TIMEOUT:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A GET on a kept-alive connection, with extra header lines.
fn get_on(stream: &mut TcpStream, target: &str, extra: &str) -> Response {
    send(stream, &format!("GET {target} HTTP/1.1\r\nHost: t\r\n{extra}\r\n"));
    read_response(stream, false).expect("a response")
}

#[test]
fn without_upload_every_write_is_405_with_allow() {
    let server = TestServer::start();
    for method in ["PUT", "POST", "MKCOL", "DELETE", "MOVE"] {
        let response = request(&server, method, "/new.txt", &[("Content-Length", "0")]);
        assert_eq!(response.status, 405, "{method}");
        assert_eq!(response.header("allow"), Some("GET, HEAD, OPTIONS"), "{method}");
    }
    assert!(!server.root().join("new.txt").exists());
    let uploads_only = TestServer::start_files(|files| files.upload = true);
    let response = request(&uploads_only, "DELETE", "/hello.txt", &[]);
    assert_eq!(response.status, 405);
    assert_eq!(response.header("allow"), Some("GET, HEAD, OPTIONS, PUT, POST, MKCOL"));
    assert!(uploads_only.root().join("hello.txt").exists());
    let options = request(&uploads_only, "OPTIONS", "/", &[]);
    assert_eq!((options.status, options.header("allow")), (204, Some("GET, HEAD, OPTIONS, PUT, POST, MKCOL")));
}

#[test]
fn writes_are_seen_at_once_by_the_file_cache_compressed_cache_and_kept_listings() {
    use std::io::Read as _;
    let page: Vec<u8> = b"<p>first version of a page long enough to be compressed</p>\n".repeat(40);
    let second: Vec<u8> = b"<p>second version, different words, also compressed</p>\n".repeat(40);
    // With watches (inotify tells) and without (each hit checks the file).
    for watches in [4096, 0] {
        let server = upload_server(|c| {
            c.server.threads = 1;
            c.files.cache_watches = watches;
        });
        write(&server.root(), "docs/page.html", &page);
        let mut stream = server.connect();
        let gunzip = |response: &Response| {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&response.body[..]).read_to_end(&mut out).expect("gzip");
            out
        };
        for _ in 0..3 {
            assert_eq!(get_on(&mut stream, "/docs/page.html", "").body, page, "cached ({watches} watches)");
            let gzipped = get_on(&mut stream, "/docs/page.html", "Accept-Encoding: gzip\r\n");
            assert_eq!(gunzip(&gzipped), page);
            assert!(get_on(&mut stream, "/docs/", "").text().contains("page.html"));
        }
        // Replaced: both caches give the new bytes.
        assert_eq!(put(&server, "/docs/page.html", &second).status, 204);
        assert_eq!(get_on(&mut stream, "/docs/page.html", "").body, second, "{watches} watches");
        assert_eq!(gunzip(&get_on(&mut stream, "/docs/page.html", "Accept-Encoding: gzip\r\n")), second);
        // A new file: listed, served.
        assert_eq!(put(&server, "/docs/new.txt", b"new").status, 201);
        let listing = get_on(&mut stream, "/docs/", "").text();
        assert!(listing.contains("new.txt"), "{watches} watches: {listing}");
        assert_eq!(get_on(&mut stream, "/docs/new.txt", "").body, b"new");
        // Moved: gone from its old name and listed under the new.
        let moved = request(&server, "MOVE", "/docs/page.html", &[("Destination", "/docs/renamed.html")]);
        assert_eq!(moved.status, 201);
        assert_eq!(get_on(&mut stream, "/docs/page.html", "").status, 404);
        assert_eq!(get_on(&mut stream, "/docs/renamed.html", "").body, second);
        let listing = get_on(&mut stream, "/docs/", "").text();
        assert!(listing.contains("renamed.html") && !listing.contains("page.html"), "{listing}");
        // Deleted: 404 and unlisted; a folder with its contents too.
        assert_eq!(request(&server, "DELETE", "/docs/renamed.html", &[]).status, 204);
        assert_eq!(get_on(&mut stream, "/docs/renamed.html", "").status, 404);
        assert!(!get_on(&mut stream, "/docs/", "").text().contains("renamed.html"));
        assert_eq!(request(&server, "DELETE", "/docs", &[]).status, 204);
        assert_eq!(get_on(&mut stream, "/docs/new.txt", "").status, 404);
        assert_eq!(get_on(&mut stream, "/docs/", "").status, 404);
        assert!(!server.root().join("docs").exists());
        assert!(leftovers(&server.root()).is_empty());
    }
}

#[test]
fn chunked_bodies_and_expect_continue() {
    let server = upload_server(|_| {});
    // Chunked, in pieces, with a trailer.
    let mut stream = server.connect();
    send(&mut stream, "PUT /chunked.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    send(&mut stream, "7\r\n, world\r\n0\r\nX-Trailer: y\r\n\r\n");
    assert_eq!(read_response(&mut stream, false).expect("a response").status, 201);
    assert_eq!(std::fs::read(server.root().join("chunked.txt")).unwrap(), b"hello, world");
    // Expect: 100-continue: the interim answer, then the body, then 201.
    let mut stream = server.connect();
    send(&mut stream, "PUT /expected.txt HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    let mut interim = [0u8; 25];
    stream.read_exact(&mut interim).expect("100 Continue");
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    send(&mut stream, "body");
    assert_eq!(read_response(&mut stream, false).expect("a response").status, 201);
    assert_eq!(std::fs::read(server.root().join("expected.txt")).unwrap(), b"body");
    // An empty PUT makes an empty file; If-None-Match: * refuses to replace it.
    assert_eq!(put(&server, "/empty", b"").status, 201);
    assert_eq!(std::fs::metadata(server.root().join("empty")).unwrap().len(), 0);
    let again = request(&server, "PUT", "/empty", &[("If-None-Match", "*"), ("Content-Length", "1")]);
    assert_eq!(again.status, 412);
}

#[test]
fn an_interrupted_upload_leaves_nothing() {
    let server = upload_server(|_| {});
    // PUT into folders that do not exist yet, cut off midway.
    let mut stream = server.connect();
    send(&mut stream, "PUT /made/for/it/big.bin HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n");
    stream.write_all(&[7u8; 300_000]).expect("send");
    wait_until("the temporary file appears", || !leftovers(&server.root()).is_empty());
    drop(stream);
    wait_until("the temporary file and the folders go", || {
        leftovers(&server.root()).is_empty() && !server.root().join("made").exists()
    });
    // A multipart body cut off inside its file.
    let mut body = multipart("XbOuNdArY", &[("f", Some("cut.bin"), &[1u8; 200_000])]);
    body.truncate(100_000);
    let mut stream = server.connect();
    let head = "POST / HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary=XbOuNdArY\r\n\
                Content-Length: 200300\r\n\r\n";
    stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&body)).expect("send");
    wait_until("the form's temporary file appears", || !leftovers(&server.root()).is_empty());
    drop(stream);
    wait_until("the form's temporary file goes", || leftovers(&server.root()).is_empty());
    assert!(!server.root().join("cut.bin").exists());
    // A multipart body that ends without its closing boundary: 400, nothing.
    let mut truncated = multipart("XbOuNdArY", &[("f", Some("open.bin"), b"data")]);
    truncated.truncate(truncated.len() - "--XbOuNdArY--\r\n".len());
    assert_eq!(post(&server, "/", &truncated, "").status, 400);
    assert!(!server.root().join("open.bin").exists() && leftovers(&server.root()).is_empty());
}

#[test]
fn too_large_is_413_before_or_during_the_body_and_leaves_nothing() {
    let server = upload_server(|c| c.files.max_upload_bytes = Some(1000));
    // Announced: refused before the body, so no 100 Continue is sent.
    let mut stream = server.connect();
    send(&mut stream, "PUT /big HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 1001\r\n\r\n");
    let response = read_response(&mut stream, false).expect("a response");
    assert_eq!(response.status, 413);
    assert!(response.text().contains("--max-upload-bytes"), "{}", response.text());
    // Chunked: refused as it passes the limit.
    let mut stream = server.connect();
    send(&mut stream, "PUT /big HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    let chunk = format!("258\r\n{}\r\n", "x".repeat(600));
    send(&mut stream, &chunk);
    let _ = stream.write_all(chunk.as_bytes());
    assert_eq!(read_response(&mut stream, false).expect("a response").status, 413);
    // Multipart: the file passes the limit inside its part.
    let body = multipart("XbOuNdArY", &[("f", Some("small.txt"), b"fits"), ("g", Some("huge.bin"), &[0u8; 1001])]);
    assert_eq!(post(&server, "/", &body, "").status, 413);
    assert!(!server.root().join("big").exists());
    assert!(!server.root().join("huge.bin").exists());
    assert_eq!(std::fs::read(server.root().join("small.txt")).unwrap(), b"fits", "the part before it landed");
    wait_until("no temporary file", || leftovers(&server.root()).is_empty());
    assert_eq!(put(&server, "/exactly", &[1u8; 1000]).status, 201);
}

#[test]
fn a_full_disk_is_507_and_leaves_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(_mount) = Mount::new(&["-t", "tmpfs", "-o", "size=1m", "tmpfs"], dir.path()) else { return };
    let mut files = test_files(dir.path());
    files.upload = true;
    let server = rawserve::Server::bind(test_config(), site_router(rawserve::Router::new(), files)).expect("starts");
    let put_to = |target: &str, body: &[u8], chunked: bool| {
        let mut stream = connect(server.local_addr());
        if chunked {
            send(&mut stream, &format!("PUT {target} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"));
            for piece in body.chunks(64 * 1024) {
                let mut chunk = format!("{:x}\r\n", piece.len()).into_bytes();
                chunk.extend_from_slice(piece);
                chunk.extend_from_slice(b"\r\n");
                if stream.write_all(&chunk).is_err() {
                    break; // refused midway: the answer is waiting
                }
            }
            let _ = stream.write_all(b"0\r\n\r\n");
            read_response(&mut stream, false).expect("a response")
        } else {
            send_body(&mut stream, &format!("PUT {target} HTTP/1.1\r\nHost: t"), body)
        }
    };
    // Announced: refused before the body (no 100 Continue for it).
    let mut stream = connect(server.local_addr());
    send(
        &mut stream,
        "PUT /announced.bin HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2097152\r\n\r\n",
    );
    let announced = read_response(&mut stream, false).expect("a response");
    assert_eq!(announced.status, 507, "{}", announced.text());
    // Chunked: refused when the disk fills, midway (a little over 1 MiB,
    // so the rest is what the server reads and discards before closing).
    let chunked = put_to("/chunked.bin", &vec![9u8; (1 << 20) + (100 << 10)], true);
    assert_eq!(chunked.status, 507, "{}", chunked.text());
    wait_until("no temporary file on the full disk", || leftovers(dir.path()).is_empty());
    assert!(!dir.path().join("announced.bin").exists() && !dir.path().join("chunked.bin").exists());
    // The space came back: a file that fits lands.
    assert_eq!(put_to("/fits.bin", &[1u8; 100_000], true).status, 201);
    assert_eq!(std::fs::read(dir.path().join("fits.bin")).unwrap().len(), 100_000);
}

#[test]
fn concurrent_uploads_to_one_name_end_with_one_whole_file() {
    let server = upload_server(|_| {});
    let bodies: Vec<Vec<u8>> = (0..4u8).map(|i| vec![b'a' + i; 3 << 20]).collect();
    std::thread::scope(|scope| {
        for body in &bodies {
            let addr = server.addr();
            scope.spawn(move || {
                let mut stream = connect(addr);
                let head = format!("PUT /same.bin HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n", body.len());
                stream.write_all(head.as_bytes()).expect("send head");
                // In pieces, so that the uploads interleave.
                for piece in body.chunks(256 * 1024) {
                    stream.write_all(piece).expect("send");
                    std::thread::yield_now();
                }
                let status = read_response(&mut stream, false).expect("a response").status;
                assert!(status == 201 || status == 204, "{status}");
            });
        }
    });
    let landed = std::fs::read(server.root().join("same.bin")).expect("the file");
    assert!(bodies.contains(&landed), "one upload whole, not a mix ({} bytes)", landed.len());
    assert!(leftovers(&server.root()).is_empty());
}

#[test]
fn traversal_symlinks_dot_names_and_bad_names_are_refused() {
    let server = upload_server(|_| {});
    let root = server.root();
    let outside = tempfile::tempdir().expect("temp dir");
    std::os::unix::fs::symlink(outside.path(), root.join("out")).expect("symlink");
    std::fs::create_dir(root.join("real")).unwrap();
    std::os::unix::fs::symlink(root.join("real"), root.join("inside-link")).expect("symlink");
    for (target, status) in [
        ("/../x.txt", 400),
        ("/%2e%2e/x.txt", 400),
        ("/a/%2E%2E/%2e%2e/x.txt", 400),
        ("/a%2f..%2f..%2fx.txt", 400),
        ("/out/x.txt", 403),
        ("/out/new/x.txt", 403),
        ("/inside-link/x.txt", 403),
        ("/escape", 409),
        ("/.htaccess", 404),
        ("/sub/.git/config", 404),
        ("/%2Erawserve-upload-00", 404),
        ("/line%0Abreak.txt", 400),
        ("/back%5Cslash", 400),
        ("/nested", 409),
    ] {
        let mut stream = server.connect();
        let response = send_body(&mut stream, &format!("PUT {target} HTTP/1.1\r\nHost: t\r\nConnection: close"), b"x");
        assert_eq!(response.status, status, "PUT {target}: {}", response.text());
    }
    for (name, status) in [("../up.txt", 400), ("a/../../b", 400), ("/abs.txt", 400), (".env", 400), ("out/x", 403)] {
        let body = multipart("XbOuNdArY", &[("f", Some(name), b"x")]);
        assert_eq!(post(&server, "/", &body, "").status, status, "form file {name}");
    }
    assert_eq!(request(&server, "MKCOL", "/out/sub", &[]).status, 403);
    let moved = request(&server, "MOVE", "/hello.txt", &[("Destination", "/out/stolen.txt")]);
    assert_eq!(moved.status, 403);
    let moved = request(&server, "MOVE", "/hello.txt", &[("Destination", "/../stolen.txt")]);
    assert_eq!(moved.status, 400);
    let moved = request(&server, "MOVE", "/hello.txt", &[("Destination", "http://elsewhere.example/x")]);
    assert_eq!(moved.status, 502);
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0, "nothing was written outside the root");
    assert!(std::fs::read_dir(root.join("real")).unwrap().next().is_none(), "nor through a link inside it");
    // DELETE of a link removes the link, never what it points to.
    assert_eq!(request(&server, "DELETE", "/out", &[]).status, 204);
    assert!(outside.path().exists() && !root.join("out").exists());
    assert_eq!(request(&server, "DELETE", "/", &[]).status, 409, "the root stays");
    assert_eq!(request(&server, "DELETE", "/.secret", &[]).status, 404);
    assert!(root.join(".secret").exists());
}

#[test]
fn browsers_on_other_sites_are_refused_and_other_clients_are_not() {
    let server = upload_server(|_| {});
    let body = multipart("XbOuNdArY", &[("f", Some("csrf.txt"), b"x")]);
    for (extra, status) in [
        ("\r\nOrigin: http://evil.example", 403),
        ("\r\nSec-Fetch-Site: cross-site\r\nOrigin: http://evil.example", 403),
        ("\r\nSec-Fetch-Site: same-site\r\nOrigin: http://t:3000", 403),
        ("\r\nOrigin: null", 403),
    ] {
        assert_eq!(post(&server, "/", &body, extra).status, status, "{extra:?}");
        assert!(!server.root().join("csrf.txt").exists(), "{extra:?}");
    }
    let deleted = request(&server, "DELETE", "/hello.txt", &[("Sec-Fetch-Site", "cross-site")]);
    assert_eq!(deleted.status, 403);
    assert!(server.root().join("hello.txt").exists());
    // The page itself (same origin), and clients that send neither field.
    let same =
        post(&server, "/", &body, "\r\nSec-Fetch-Site: same-origin\r\nOrigin: http://t\r\nSec-Fetch-Mode: navigate");
    assert_eq!((same.status, same.header("location")), (303, Some("/")), "a form goes back to the listing");
    assert_eq!(post(&server, "/?overwrite=1", &body, "").status, 201);
    assert_eq!(post(&server, "/", &body, "\r\nOrigin: http://t").status, 409, "exists: no overwrite unasked");
}

#[test]
fn temporary_files_are_never_served_or_listed() {
    let server = TestServer::start_files(|files| files.dotfiles = true);
    write(&server.root(), "nested/.rawserve-upload-0123456789abcdef", b"half an upload");
    write(&server.root(), "nested/.visible-dotfile", b"shown with --dotfiles");
    assert_eq!(server.get("/nested/.rawserve-upload-0123456789abcdef").status, 404);
    let listing = server.get("/nested/").text();
    assert!(listing.contains(".visible-dotfile") && !listing.contains(".rawserve-upload"), "{listing}");
}

#[test]
fn the_access_log_records_writes() {
    let root = tempfile::tempdir().expect("temp dir");
    let binary = Binary::start(&["--upload", "--delete", &root.path().to_string_lossy()], "info");
    let response = send_body(&mut connect(binary.addr), "PUT /logged.txt HTTP/1.1\r\nHost: t", b"12345");
    assert_eq!(response.status, 201);
    let line = binary.wait_for_log("\"PUT /logged.txt HTTP/1.1\" 201");
    assert!(line.contains("127.0.0.1"), "{line}");
    // A refused write closes its connection (its body was not read).
    let response = send_body(&mut connect(binary.addr), "PUT /../x HTTP/1.1\r\nHost: t", b"1");
    assert_eq!(response.status, 400);
    binary.wait_for_log("\"PUT /../x HTTP/1.1\" 400");
    let deleted = send_body(&mut connect(binary.addr), "DELETE /logged.txt HTTP/1.1\r\nHost: t", b"");
    assert_eq!(deleted.status, 204);
    binary.wait_for_log("\"DELETE /logged.txt HTTP/1.1\" 204");
}

#[test]
fn answers_to_writes_carry_the_folders_added_fields() {
    let server = upload_server(|c| {
        c.files.headers.push("X-Frame-Options: DENY".parse().expect("a field"));
        c.files.max_upload_bytes = Some(10);
    });
    let created = put(&server, "/f.txt", b"12345");
    assert_eq!((created.status, created.header("x-frame-options")), (201, Some("DENY")));
    let refused_early = put(&server, "/big.txt", &[0; 11]);
    assert_eq!((refused_early.status, refused_early.header("x-frame-options")), (413, Some("DENY")));
    // Refused midway (chunked, so the size is known only as it comes).
    let mut stream = server.connect();
    send(
        &mut stream,
        "PUT /chunked.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n01234567890\r\n0\r\n\r\n",
    );
    let refused = read_response(&mut stream, false).expect("a response");
    assert_eq!((refused.status, refused.header("x-frame-options")), (413, Some("DENY")));
    let made = request(&server, "MKCOL", "/dir", &[]);
    assert_eq!((made.status, made.header("x-frame-options")), (201, Some("DENY")));
}
