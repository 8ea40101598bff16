//! WebDAV over raw sockets (issue 23): off by default (405, no `DAV`);
//! `OPTIONS` says `DAV: 1, 2` (`1` when read-only); `PROPFIND` describes
//! files with the very validators `GET` sends, streams a folder of 10,000
//! entries, leaves dot
//! names and `--hidden` paths out and refuses depth infinity with its
//! precondition; `PROPPATCH` values come back; `COPY` of a tree is whole
//! and leaves nothing behind when refused; a lock keeps other writers out
//! until its token is sent or it is released; accounts gate what writes.

use std::io::Write;

use base64::Engine as _;

use crate::support::*;
use crate::upload::{upload_server, Settings};

/// A WebDAV server that takes writes, adjusted by `adjust`.
fn dav_server(adjust: impl FnOnce(&mut Settings)) -> TestServer {
    upload_server(|settings| {
        settings.files.webdav = true;
        adjust(settings);
    })
}

/// `method target` with `headers` and an XML `body`, on a connection of its own.
fn dav(server: &TestServer, method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Response {
    let mut stream = server.connect();
    let extra: String = headers.iter().map(|(n, v)| format!("{n}: {v}\r\n")).collect();
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: t\r\n{extra}Content-Type: application/xml\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("send");
    stream.write_all(body.as_bytes()).expect("send");
    read_response(&mut stream, false).expect("a response")
}

/// How many `<D:response>` elements a multistatus has.
fn responses(response: &Response) -> usize {
    response.text().matches("<D:response>").count()
}

/// The text of the first `<D:local>` element in `xml`.
fn element(xml: &str, local: &str) -> Option<String> {
    let open = format!("<D:{local}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</D:{local}>"))? + start;
    Some(xml[start..end].replace("&quot;", "\""))
}

#[test]
fn off_by_default_and_options_say_dav_when_on() {
    let plain = upload_server(|_| {});
    let options = request(&plain, "OPTIONS", "/", &[]);
    assert_eq!(options.header("DAV"), None);
    assert_eq!(dav(&plain, "PROPFIND", "/", &[("Depth", "0")], "").status, 405);
    assert_eq!(dav(&plain, "LOCK", "/x", &[], "").status, 405);

    let read_only = TestServer::start_files(|files| files.webdav = true);
    let options = request(&read_only, "OPTIONS", "/", &[]);
    assert_eq!(options.header("DAV"), Some("1"), "no locks where nothing may be written");
    assert_eq!(options.header("MS-Author-Via"), Some("DAV"));
    assert_eq!(options.header("Allow"), Some("GET, HEAD, OPTIONS, PROPFIND"));
    let mut stream = read_only.connect();
    send(&mut stream, "PROPFIND / HTTP/1.1\r\nHost: t\r\nDepth: 0\r\nConnection: close\r\n\r\n");
    let mut raw = String::new();
    std::io::Read::read_to_string(&mut stream, &mut raw).expect("the answer");
    assert!(raw.starts_with("HTTP/1.1 207 Multi-Status\r\n"), "{raw}");
    let refused = dav(&read_only, "PROPPATCH", "/", &[], "<a/>");
    assert_eq!(refused.status, 405);
    assert_eq!(refused.header("Allow"), Some("GET, HEAD, OPTIONS, PROPFIND"));

    let server = dav_server(|_| {});
    assert_eq!(request(&server, "OPTIONS", "/", &[]).header("DAV"), Some("1, 2"));
    let allow = request(&server, "OPTIONS", "/", &[]).header("Allow").unwrap_or_default().to_string();
    for method in ["PUT", "MKCOL", "DELETE", "MOVE", "PROPFIND", "PROPPATCH", "COPY", "LOCK", "UNLOCK"] {
        assert!(allow.contains(method), "{method} in {allow}");
    }
}

#[test]
fn propfind_describes_files_as_get_does_and_hides_what_listings_hide() {
    let server = dav_server(|settings| {
        settings.files.racy_window = std::time::Duration::ZERO;
        settings.files.hidden = vec!["*.bak".parse().expect("a glob")];
    });
    let root = server.root();
    std::fs::create_dir_all(root.join("docs/sub")).unwrap();
    std::fs::write(root.join("docs/small.txt"), b"hello").unwrap();
    std::fs::write(root.join("docs/large.bin"), vec![7u8; 200_000]).unwrap();
    std::fs::write(root.join("docs/a b#c%d.txt"), b"odd").unwrap();
    std::fs::write(root.join("docs/.secret"), b"dot").unwrap();
    std::fs::write(root.join("docs/old.bak"), b"hidden").unwrap();

    for name in ["small.txt", "large.bin"] {
        let target = format!("/docs/{name}");
        let found = dav(&server, "PROPFIND", &target, &[("Depth", "0")], "");
        assert_eq!(found.status, 207, "{}", found.text());
        assert_eq!(found.header("Content-Type"), Some("application/xml; charset=utf-8"));
        let etag = element(&found.text(), "getetag").expect("a getetag");
        assert_eq!(Some(etag.as_str()), get(&server, &target, &[]).header("ETag"), "{name}: as GET sends it");
        let length = element(&found.text(), "getcontentlength").expect("a length");
        assert_eq!(length, std::fs::metadata(root.join("docs").join(name)).unwrap().len().to_string());
        assert!(found.text().contains("<D:getlastmodified>"), "{}", found.text());
    }

    let listing = dav(&server, "PROPFIND", "/docs", &[("Depth", "1")], "");
    assert_eq!(listing.status, 207);
    let text = listing.text();
    assert_eq!(responses(&listing), 5, "the folder, sub, small, large and the odd name: {text}");
    assert!(text.contains("<D:href>/docs/</D:href>"), "{text}");
    assert!(text.contains("<D:href>/docs/sub/</D:href>"), "{text}");
    assert!(text.contains("<D:href>/docs/a%20b%23c%25d.txt</D:href>"), "{text}");
    assert!(text.contains("<D:collection/>"), "{text}");
    assert!(!text.contains("secret") && !text.contains(".bak"), "{text}");
    // The odd name's href leads back to it.
    assert_eq!(get(&server, "/docs/a%20b%23c%25d.txt", &[]).body, b"odd");
    assert_eq!(dav(&server, "PROPFIND", "/docs/old.bak", &[("Depth", "0")], "").status, 404);
    assert_eq!(dav(&server, "PROPFIND", "/docs/.secret", &[("Depth", "0")], "").status, 404);
    assert_eq!(dav(&server, "PROPFIND", "/docs/missing", &[("Depth", "0")], "").status, 404);
    assert_eq!(dav(&server, "PROPFIND", "/docs/%2e%2e/%2e%2e/etc", &[("Depth", "0")], "").status, 400);

    let named = dav(
        &server,
        "PROPFIND",
        "/docs/small.txt",
        &[("Depth", "0")],
        r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getcontentlength/><x:nothing xmlns:x="urn:x"/></D:prop></D:propfind>"#,
    );
    let text = named.text();
    assert!(text.contains("<D:getcontentlength>5</D:getcontentlength>"), "{text}");
    assert!(text.contains("<P:nothing xmlns:P=\"urn:x\"/>") && text.contains("404 Not Found"), "{text}");
}

#[test]
fn propfind_refuses_infinity_and_bad_bodies() {
    let server = dav_server(|_| {});
    let infinity = dav(&server, "PROPFIND", "/", &[("Depth", "infinity")], "");
    assert_eq!(infinity.status, 403);
    assert!(infinity.text().contains("<D:propfind-finite-depth/>"), "{}", infinity.text());
    assert_eq!(dav(&server, "PROPFIND", "/", &[("Depth", "0")], "<propfind").status, 400);
    assert_eq!(dav(&server, "PROPFIND", "/", &[("Depth", "0")], "<x:propfind/>").status, 400);
    let large = format!("<propfind xmlns=\"DAV:\"><prop>{}</prop></propfind>", "<a/>".repeat(70_000));
    assert_eq!(dav(&server, "PROPFIND", "/", &[("Depth", "0")], &large).status, 413);
    let deep = "<a>".repeat(100) + &"</a>".repeat(100);
    assert_eq!(dav(&server, "PROPPATCH", "/", &[], &deep).status, 400);
}

#[test]
fn a_folder_of_ten_thousand_entries_is_streamed() {
    let server = dav_server(|_| {});
    let folder = server.root().join("many");
    std::fs::create_dir(&folder).unwrap();
    for i in 0..10_000 {
        std::fs::write(folder.join(format!("file-{i:05}.txt")), b"x").unwrap();
    }
    let listing = dav(&server, "PROPFIND", "/many/", &[("Depth", "1")], "");
    assert_eq!(listing.status, 207);
    // Made while it is sent: no length known up front.
    assert_eq!(listing.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(listing.header("Content-Length"), None);
    let chunks = dechunk(&listing.body);
    let whole: Vec<u8> = chunks.concat();
    let text = String::from_utf8_lossy(&whole);
    assert_eq!(text.matches("<D:response>").count(), 10_001);
    assert!(text.trim_end().ends_with("</D:multistatus>"), "{}", &text[text.len() - 200..]);
    // In pieces of about 64 KiB (one response may pass it), never whole.
    let largest = chunks.iter().map(Vec::len).max().unwrap_or(0);
    assert!(chunks.len() > 10 && largest < 80 * 1024, "{} chunks, the largest {largest} bytes", chunks.len());
}

/// The chunks of a chunked body, in order.
fn dechunk(mut body: &[u8]) -> Vec<Vec<u8>> {
    let mut chunks = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").expect("a chunk size line");
        let size_text = String::from_utf8_lossy(&body[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16).expect("a chunk size");
        body = &body[line_end + 2..];
        if size == 0 {
            return chunks;
        }
        chunks.push(body[..size].to_vec());
        body = &body[size + 2..];
    }
}

#[test]
fn proppatch_values_come_back_and_live_properties_are_protected() {
    let server = dav_server(|_| {});
    std::fs::write(server.root().join("f.txt"), b"f").unwrap();
    let set = r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z">
        <D:set><D:prop><Z:color>blue &amp; <Z:b>bold</Z:b></Z:color></D:prop></D:set></D:propertyupdate>"#;
    let patched = dav(&server, "PROPPATCH", "/f.txt", &[], set);
    assert_eq!(patched.status, 207, "{}", patched.text());
    if patched.text().contains("403 Forbidden") {
        eprintln!("skipped: this file system keeps no user extended attributes");
        return;
    }
    assert!(patched.text().contains("200 OK"), "{}", patched.text());
    let found = dav(
        &server,
        "PROPFIND",
        "/f.txt",
        &[("Depth", "0")],
        r#"<propfind xmlns="DAV:"><prop><color xmlns="urn:z"/></prop></propfind>"#,
    );
    assert!(
        found.text().contains(r#"<P:color xmlns:P="urn:z">blue &amp; <b xmlns="urn:z">bold</b></P:color>"#),
        "{}",
        found.text()
    );
    let protected = r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:getetag>x</D:getetag></D:prop></D:set></D:propertyupdate>"#;
    let refused = dav(&server, "PROPPATCH", "/f.txt", &[], protected);
    assert!(refused.text().contains("cannot-modify-protected-property"), "{}", refused.text());
    // A copy takes its properties along.
    assert_eq!(dav(&server, "COPY", "/f.txt", &[("Destination", "/g.txt")], "").status, 201);
    let copied = dav(&server, "PROPFIND", "/g.txt", &[("Depth", "0")], "");
    assert!(copied.text().contains("blue &amp;"), "{}", copied.text());
}

#[test]
fn copy_and_move_follow_rfc_4918_and_leave_nothing_half_done() {
    let server = dav_server(|_| {});
    let root = server.root();
    std::fs::create_dir_all(root.join("tree/inner")).unwrap();
    std::fs::write(root.join("tree/a.txt"), b"a").unwrap();
    std::fs::write(root.join("tree/inner/b.txt"), b"b").unwrap();
    std::fs::write(root.join("tree/.dot"), b"dot").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", root.join("tree/link")).unwrap();

    let copy = |from: &str, headers: &[(&str, &str)]| dav(&server, "COPY", from, headers, "").status;
    assert_eq!(copy("/tree/", &[("Destination", "/copy/")]), 201);
    assert_eq!(std::fs::read(root.join("copy/inner/b.txt")).unwrap(), b"b");
    assert!(!root.join("copy/.dot").exists() && !root.join("copy/link").exists(), "no dot names, no links");
    assert_eq!(copy("/tree/", &[("Destination", "/copy/"), ("Overwrite", "F")]), 412);
    std::fs::write(root.join("copy/extra.txt"), b"gone after overwrite").unwrap();
    assert_eq!(copy("/tree/", &[("Destination", "/copy/")]), 204);
    assert!(!root.join("copy/extra.txt").exists(), "the destination was replaced whole");
    assert_eq!(copy("/tree/", &[("Destination", "/copy/"), ("Depth", "0")]), 204);
    assert!(root.join("copy").is_dir() && !root.join("copy/a.txt").exists(), "depth 0: the folder alone");
    assert_eq!(copy("/tree/", &[("Destination", "/tree/inner/tree")]), 409, "into itself");
    assert_eq!(copy("/tree/a.txt", &[("Destination", "/tree/a.txt")]), 403, "onto itself");
    assert_eq!(copy("/tree/a.txt", &[("Destination", "/nowhere/a.txt")]), 409, "no such folder");
    assert_eq!(copy("/tree/a.txt", &[("Destination", "http://elsewhere.test/a.txt")]), 502);
    assert_eq!(copy("/tree/a.txt", &[("Destination", "/%2e%2e/a.txt")]), 400);
    assert_eq!(copy("/tree/a.txt", &[("Destination", "/.hidden")]), 404);
    assert_eq!(copy("/missing", &[("Destination", "/x")]), 404);

    // MOVE onto a folder replaces it (Overwrite: T), or is refused (F).
    std::fs::create_dir(root.join("target")).unwrap();
    std::fs::write(root.join("target/old.txt"), b"old").unwrap();
    assert_eq!(dav(&server, "MOVE", "/copy/", &[("Destination", "/target/"), ("Overwrite", "F")], "").status, 412);
    assert_eq!(dav(&server, "MOVE", "/copy/", &[("Destination", "/target/")], "").status, 204);
    assert!(!root.join("copy").exists() && !root.join("target/old.txt").exists());
    let leftovers: Vec<_> = walk(root.as_path()).into_iter().filter(|p| p.contains(".rawserve-")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Every path below `dir`.
fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        found.push(entry.path().to_string_lossy().into_owned());
        if entry.file_type().unwrap().is_dir() {
            found.extend(walk(&entry.path()));
        }
    }
    found
}

#[test]
fn a_lock_keeps_other_writers_out_until_released() {
    let server = dav_server(|_| {});
    let info = r#"<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>
        <D:locktype><D:write/></D:locktype><D:owner><D:href>me</D:href></D:owner></D:lockinfo>"#;
    // A lock on an unmapped name makes an empty file.
    let locked = dav(&server, "LOCK", "/doc.txt", &[("Timeout", "Second-600")], info);
    assert_eq!(locked.status, 201, "{}", locked.text());
    assert_eq!(std::fs::read(server.root().join("doc.txt")).unwrap(), b"");
    let token = locked.header("Lock-Token").expect("a token").to_string();
    assert!(token.starts_with("<opaquelocktoken:"), "{token}");
    assert!(locked.text().contains("<D:timeout>Second-"), "{}", locked.text());
    assert_eq!(dav(&server, "LOCK", "/doc.txt", &[], info).status, 423, "exclusive");

    let mut stream = server.connect();
    send(&mut stream, "DELETE /doc.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let mut raw = String::new();
    std::io::Read::read_to_string(&mut stream, &mut raw).expect("the answer");
    assert!(raw.starts_with("HTTP/1.1 423 Locked\r\n"), "{raw}");
    let put = |headers: &[(&str, &str)]| dav(&server, "PUT", "/doc.txt", headers, "new").status;
    assert_eq!(put(&[]), 423);
    assert_eq!(dav(&server, "DELETE", "/doc.txt", &[], "").status, 423);
    assert_eq!(dav(&server, "MOVE", "/doc.txt", &[("Destination", "/moved.txt")], "").status, 423);
    assert_eq!(put(&[("If", "(<opaquelocktoken:wrong>)")]), 412);
    let with_token = format!("({token})");
    assert_eq!(put(&[("If", &with_token)]), 204);
    let listed = dav(&server, "PROPFIND", "/doc.txt", &[("Depth", "0")], "");
    assert!(listed.text().contains("<D:lockdiscovery><D:activelock>"), "{}", listed.text());
    assert_eq!(dav(&server, "UNLOCK", "/doc.txt", &[("Lock-Token", "<opaquelocktoken:nope>")], "").status, 409);
    assert_eq!(dav(&server, "UNLOCK", "/doc.txt", &[("Lock-Token", &token)], "").status, 204);
    assert_eq!(put(&[]), 204);
    assert_eq!(dav(&server, "LOCK", "/no/such/folder/x", &[], info).status, 409);
}

#[test]
fn accounts_gate_dav_writes_and_public_read_lets_propfind_through() {
    let server = dav_server(|settings| {
        settings.server.auth = vec!["alice:pw-3k9".parse().expect("an account")];
        settings.server.public_read = true;
    });
    assert_eq!(dav(&server, "PROPFIND", "/", &[("Depth", "1")], "").status, 207);
    let anonymous = dav(&server, "PROPPATCH", "/", &[], "<a/>");
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.header("WWW-Authenticate").is_some());
    assert_eq!(dav(&server, "LOCK", "/x", &[], "").status, 401);
    assert_eq!(dav(&server, "COPY", "/x", &[("Destination", "/y")], "").status, 401);
    let alice = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("alice:pw-3k9"));
    std::fs::write(server.root().join("x"), b"x").unwrap();
    assert_eq!(dav(&server, "COPY", "/x", &[("Destination", "/y"), ("Authorization", &alice)], "").status, 201);
}

#[test]
fn windows_and_finder_probes_are_answered() {
    let server = dav_server(|_| {});
    // Windows' mini-redirector: OPTIONS, then PROPFIND / with its own body.
    assert_eq!(request(&server, "OPTIONS", "/", &[]).status, 204);
    let windows = r#"<?xml version="1.0" encoding="utf-8" ?><D:propfind xmlns:D="DAV:"><D:prop>
        <D:creationdate/><D:displayname/><D:getcontentlength/><D:getcontenttype/><D:getetag/>
        <D:getlastmodified/><D:resourcetype/><D:Win32FileAttributes xmlns:D="urn:schemas-microsoft-com:"/>
        </D:prop></D:propfind>"#;
    for depth in ["0", "1"] {
        let answer = dav(&server, "PROPFIND", "/", &[("Depth", depth), ("translate", "f")], windows);
        assert_eq!(answer.status, 207, "{}", answer.text());
    }
    // Finder's probes of names that are not there.
    for probe in ["/._.", "/.DS_Store", "/desktop.ini", "/._photo.jpg", "/.metadata_never_index"] {
        assert_eq!(dav(&server, "PROPFIND", probe, &[("Depth", "0")], "").status, 404, "{probe}");
    }
    // Finder's metadata beside a copied file: taken, not kept.
    assert_eq!(dav(&server, "PUT", "/._photo.jpg", &[], "\0\u{5}\u{16}\0").status, 201);
    assert_eq!(dav(&server, "PUT", "/sub/.DS_Store", &[], "").status, 201);
    assert!(!server.root().join("._photo.jpg").exists());
    assert_eq!(get(&server, "/._photo.jpg", &[]).status, 404);
    assert_eq!(dav(&server, "PUT", "/.htaccess", &[], "deny").status, 404, "other dot names stay refused");
}
