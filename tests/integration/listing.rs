//! Directory listings and folder archives over real sockets: sorting and
//! natural order, JSON, revalidation, what is (not) listed, non-UTF-8
//! names, the streamed tar (unpacked by GNU tar and Python's tarfile), the
//! server's memory while it streams a GiB, and Chromium: dark and light
//! mode, the filter box under the page's Content-Security-Policy, and a
//! non-UTF-8 link that downloads. Kept listings: every kind of change to
//! a listed directory, followed at once by a request on the same
//! connection, shows in its answer, with watches and without.

use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use crate::browser::{chromium, CHROMIUM};
use crate::support::*;

/// Bounds one run of tar, python or curl.
const TOOL_LIMIT: Duration = Duration::from_secs(60);

/// The entries' links in page order (the parent link left out).
fn rows(html: &str) -> Vec<String> {
    html.split("<td><a href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .filter(|href| *href != "../")
        .map(str::to_owned)
        .collect()
}

fn set_mtime(path: &Path, secs_ago: u64) {
    let t = SystemTime::now() - Duration::from_secs(secs_ago);
    fs::File::open(path).expect("open").set_modified(t).expect("set mtime");
}

/// The body of a chunked response, read to the close.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n").expect("a chunk-size line");
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..line_end]).expect("hex"), 16).expect("size");
        raw = &raw[line_end + 2..];
        if size == 0 {
            assert_eq!(raw, b"\r\n", "the body ends after the last chunk");
            return body;
        }
        body.extend_from_slice(&raw[..size]);
        assert_eq!(&raw[size..size + 2], b"\r\n", "a chunk ends with CRLF");
        raw = &raw[size + 2..];
    }
}

#[test]
fn sorting_natural_order_and_folders_first() {
    let server = TestServer::start();
    let root = server.root();
    for (name, size, age) in [("file10.txt", 10, 300), ("file2.txt", 2000, 100), ("File1.txt", 500, 200)] {
        write(&root, &format!("s/{name}"), &vec![b'x'; size]);
        set_mtime(&root.join("s").join(name), age);
    }
    write(&root, "s/dir10/x", b"x");
    write(&root, "s/dir9/x", b"x");
    // Folders sort by date among themselves too (set after their files,
    // which move a folder's time).
    set_mtime(&root.join("s/dir10"), 400);
    set_mtime(&root.join("s/dir9"), 50);
    let order = |query: &str| rows(&get(&server, &format!("/s/{query}"), &[]).text()).join(" ");
    assert_eq!(order(""), "dir9/ dir10/ File1.txt file2.txt file10.txt");
    assert_eq!(order("?sort=name&order=desc"), "dir10/ dir9/ file10.txt file2.txt File1.txt");
    assert_eq!(order("?sort=size"), "dir9/ dir10/ file10.txt File1.txt file2.txt");
    assert_eq!(order("?sort=size&order=desc"), "dir10/ dir9/ file2.txt File1.txt file10.txt");
    assert_eq!(order("?sort=date"), "dir10/ dir9/ file10.txt File1.txt file2.txt");
    assert_eq!(order("?sort=date&order=desc"), "dir9/ dir10/ file2.txt File1.txt file10.txt");
    // Nonsense falls back to the default, as Caddy does.
    assert_eq!(order("?sort=%00&order=up"), order(""));
    // The page offers the other orders as buttons of GET forms.
    let html = get(&server, "/s/?sort=size", &[]).text();
    assert!(html.contains("name=\"sort\" value=\"size\"><button name=\"order\" value=\"desc\">Size"), "{html}");
}

#[test]
fn json_by_query_or_accept_with_vary() {
    let server = TestServer::start();
    let root = server.root();
    write(&root, "j/b.txt", b"12345");
    write(&root, "j/sub/x", b"x");
    for (target, accept) in [("/j/?format=json", "text/html"), ("/j/", "application/json")] {
        let r = get(&server, target, &[("Accept", accept)]);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/json"), "{target} {accept}");
        assert_eq!(r.header("vary"), Some("Accept"));
        let json = r.text();
        assert!(json.starts_with("[\n{\"name\":\"sub\",\"url\":\"sub/\",\"is_dir\":true,"), "{json}");
        assert!(json.contains("{\"name\":\"b.txt\",\"url\":\"b.txt\",\"is_dir\":false,\"size\":5,\"mod_time\":\"20"));
        if have_tool("python3") {
            let mut python = Command::new("python3");
            python.args(["-c", "import json,sys; print(len(json.loads(sys.argv[1])))", &json]);
            assert_eq!(String::from_utf8_lossy(&run_ok(&mut python, TOOL_LIMIT).stdout).trim(), "2");
        }
    }
    // A browser's Accept gets the page.
    let page = get(&server, "/j/", &[("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")]);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(page.header("vary"), Some("Accept"));
    assert!(page.header("content-security-policy").is_some_and(|csp| csp.starts_with("default-src 'none'")));
}

#[test]
fn a_listing_revalidates_until_an_entry_changes() {
    let server = TestServer::start();
    let root = server.root();
    write(&root, "r/a.txt", b"aaa");
    write(&root, "r/b.txt", b"bbb");
    set_mtime(&root.join("r/a.txt"), 100);
    set_mtime(&root.join("r/b.txt"), 100);
    set_mtime(&root.join("r"), 100);
    let first = get(&server, "/r/", &[]);
    let etag = first.header("etag").expect("an ETag").to_owned();
    // No date: nothing dates the page as a whole (as nginx's autoindex).
    assert_eq!(first.header("last-modified"), None);
    let date = "Sun, 06 Nov 1994 08:49:37 GMT";
    assert_eq!(first.header("cache-control"), Some("no-cache"));
    let revalidated = get(&server, "/r/", &[("If-None-Match", &etag)]);
    assert_eq!((revalidated.status, revalidated.body.len()), (304, 0));
    assert_eq!(revalidated.header("etag"), Some(etag.as_str()));
    assert_eq!(request(&server, "HEAD", "/r/", &[("If-None-Match", &etag)]).status, 304);
    // A date condition has no date to compare with: the page, every time
    // (what makes `wget --mirror` walk down the tree again).
    assert_eq!(get(&server, "/r/", &[("If-Modified-Since", date)]).status, 200);
    assert_eq!(get(&server, "/r/", &[("If-Unmodified-Since", date)]).status, 200);
    assert_eq!(get(&server, "/r/", &[("If-Match", "\"other\"")]).status, 412);
    // Each view and format is its own representation.
    let etag_of = |target: &str| get(&server, target, &[]).header("etag").expect("an ETag").to_owned();
    assert_ne!(etag_of("/r/?sort=size"), etag);
    assert_ne!(etag_of("/r/?format=json"), etag);
    assert_eq!(etag_of("/r/"), etag, "the same listing, the same tag");

    // A file grows inside: the directory's own time does not change, the
    // listing's tag does.
    fs::write(root.join("r/a.txt"), b"aaaa").expect("rewrite");
    set_mtime(&root.join("r/a.txt"), 100);
    let changed = get(&server, "/r/", &[("If-None-Match", &etag)]);
    assert_eq!(changed.status, 200, "a size change inside is seen");
    let etag2 = changed.header("etag").expect("an ETag").to_owned();
    assert_ne!(etag2, etag);
    // Same size, another time.
    set_mtime(&root.join("r/a.txt"), 50);
    assert_eq!(get(&server, "/r/", &[("If-None-Match", &etag2)]).status, 200, "a time change inside is seen");
    // Removed: the directory's time moves on, and the tag changes.
    let etag3 = etag_of("/r/");
    fs::remove_file(root.join("r/b.txt")).expect("remove");
    let removed = get(&server, "/r/", &[("If-None-Match", &etag3), ("If-Modified-Since", date)]);
    assert_eq!(removed.status, 200);
    assert_eq!(rows(&removed.text()), ["a.txt"]);
}

#[test]
fn only_what_would_be_served_is_listed_and_archived() {
    let outside = tempfile::tempdir().expect("temp dir");
    write(outside.path(), "secret.txt", b"outside");
    for follow in [false, true] {
        let server = TestServer::start_files(|files| files.follow_symlinks = follow);
        let root = server.root();
        write(&root, "h/visible.txt", b"v");
        write(&root, "h/.env", b"secret");
        write(&root, "h/.git/config", b"secret");
        // A request cannot name it (a backslash is refused), so no link.
        write(&root, "h/back\\slash.txt", b"unreachable");
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), root.join("h/out-link")).expect("symlink");
        std::os::unix::fs::symlink("visible.txt", root.join("h/in-link")).expect("symlink");
        std::os::unix::fs::symlink("nowhere", root.join("h/dangling")).expect("symlink");
        let listed = rows(&get(&server, "/h/", &[]).text());
        let json = get(&server, "/h/?format=json", &[]).text();
        let tar = dechunk(&get(&server, "/h/?download=tar", &[]).body);
        let archived = tar_names(&tar);
        let mut expected = vec!["in-link", "visible.txt"];
        if follow {
            expected.insert(1, "out-link");
        }
        assert_eq!(listed, expected, "follow_symlinks {follow}");
        let mut in_tar: Vec<String> = expected.iter().map(|n| format!("h/{n}")).collect();
        in_tar.insert(0, "h/".to_owned());
        assert_eq!(archived, in_tar, "follow_symlinks {follow}");
        assert_eq!(get(&server, "/h/back%5Cslash.txt", &[]).status, 400);
        for hidden in [".env", ".git", "dangling", "slash"] {
            assert!(!json.contains(hidden), "{hidden} in {json}");
        }
        // And each listed name is served.
        for name in expected {
            assert_eq!(get(&server, &format!("/h/{name}"), &[]).status, 200, "{name}");
        }
    }
    // Unreadable entries are left out too, but root reads everything.
    if rustix::process::geteuid().is_root() {
        eprintln!("skipped the unreadable-file case: running as root, which may read any file");
        return;
    }
    let server = TestServer::start();
    let root = server.root();
    write(&root, "u/locked.txt", b"no");
    write(&root, "u/open.txt", b"yes");
    fs::set_permissions(root.join("u/locked.txt"), std::os::unix::fs::PermissionsExt::from_mode(0o000)).expect("chmod");
    assert_eq!(get(&server, "/u/locked.txt", &[]).status, 403);
    assert_eq!(rows(&get(&server, "/u/", &[]).text()), ["open.txt"]);
}

/// Entry paths of a tar, in order (the tar crate reads it).
fn tar_names(bytes: &[u8]) -> Vec<String> {
    let mut archive = tar::Archive::new(bytes);
    let mut names: Vec<String> = archive
        .entries()
        .expect("a tar")
        .map(|e| String::from_utf8_lossy(&e.expect("an entry").path_bytes()).into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_non_utf8_name_is_linked_by_its_bytes_and_downloads() {
    let server = TestServer::start();
    let root = server.root();
    fs::create_dir(root.join("n")).expect("mkdir");
    fs::write(root.join("n").join(OsStr::from_bytes(b"caf\xe9.txt")), b"latin-1 name").expect("write");
    let html = get(&server, "/n/", &[]).text();
    assert!(html.contains("<a href=\"caf%E9.txt\">caf\u{fffd}.txt</a>"), "{html}");
    assert_eq!(get(&server, "/n/caf%E9.txt", &[]).body, b"latin-1 name");
    // The lossy name is not a name the file has.
    assert_eq!(get(&server, "/n/caf%EF%BF%BD.txt", &[]).status, 404);
    if have_tool("curl") {
        let out = tempfile::tempdir().expect("temp dir");
        let mut curl = Command::new("curl");
        curl.args(["-sS", "-f", "-O"]).arg(url(&server, "/n/caf%E9.txt")).current_dir(out.path());
        run_ok(&mut curl, TOOL_LIMIT);
        let saved = fs::read_dir(out.path()).expect("out").map(|e| e.expect("entry").path()).collect::<Vec<_>>();
        assert_eq!(saved.len(), 1);
        assert_eq!(fs::read(&saved[0]).expect("saved"), b"latin-1 name");
    }
}

/// Writes the 1,000-file tree the archive tests use below `dir`: sizes
/// from 0 to a few blocks (and across block boundaries), nested folders,
/// paths over 100 bytes, a non-UTF-8 name and an empty folder.
fn thousand_files(dir: &Path) {
    let long = "long-folder-name-".repeat(5);
    for i in 0..1000usize {
        let folder = match i % 4 {
            0 => String::new(),
            1 => "a/".to_owned(),
            2 => "a/b/c/".to_owned(),
            _ => format!("{long}/"),
        };
        let size = (i * 37) % 3000 + if i % 10 == 0 { 512 - (i * 37) % 3000 % 512 } else { 0 };
        let contents: Vec<u8> = (0..size).map(|k| (k * 7 + i) as u8).collect();
        write(dir, &format!("{folder}file-{i:04}.bin"), &contents);
    }
    fs::write(dir.join(OsStr::from_bytes(b"caf\xe9.txt")), b"latin").expect("non-UTF-8 name");
    fs::create_dir(dir.join("empty")).expect("empty folder");
}

/// Every file below `dir` with its bytes, and every folder, relative paths.
pub fn tree(dir: &Path) -> Vec<(PathBuf, Option<Vec<u8>>)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in fs::read_dir(&current).expect("read_dir") {
            let path = entry.expect("entry").path();
            let relative = path.strip_prefix(dir).expect("below").to_path_buf();
            if path.is_dir() {
                found.push((relative, None));
                pending.push(path);
            } else {
                found.push((relative, Some(fs::read(&path).expect("read"))));
            }
        }
    }
    found.sort();
    found
}

#[test]
fn the_tar_of_a_thousand_files_unpacks_identical_with_tar_and_python() {
    let server = TestServer::start();
    let root = server.root();
    let folder = root.join("pack");
    thousand_files(&folder);
    let original = tree(&folder);
    assert_eq!(original.iter().filter(|(_, body)| body.is_some()).count(), 1001);

    let r = get(&server, "/pack/?download=tar", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/x-tar"));
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.header("content-length"), None);
    assert!(r.header("content-disposition").is_some_and(|d| d.starts_with("attachment; filename=\"pack.tar\"")));
    let tar = dechunk(&r.body);
    assert_eq!(tar.len() % 512, 0);
    let work = tempfile::tempdir().expect("temp dir");
    let archive = work.path().join("pack.tar");
    fs::write(&archive, &tar).expect("save");

    let mut unpacked_by = Vec::new();
    if have_tool("tar") {
        let into = work.path().join("gnu");
        fs::create_dir(&into).expect("mkdir");
        run_ok(Command::new("tar").arg("-xf").arg(&archive).arg("-C").arg(&into), TOOL_LIMIT);
        unpacked_by.push(("GNU tar", into));
    }
    if have_tool("python3") {
        let into = work.path().join("python");
        // The safe extraction filter where this Python has it (3.12, and
        // backported to 3.8.17+).
        let script = "import sys, tarfile\nwith tarfile.open(sys.argv[1]) as t:\n    \
                      t.extractall(sys.argv[2], **({'filter': 'tar'} if hasattr(tarfile, 'tar_filter') else {}))";
        run_ok(Command::new("python3").arg("-c").arg(script).arg(&archive).arg(&into), TOOL_LIMIT);
        unpacked_by.push(("Python tarfile", into));
    }
    for (tool, into) in unpacked_by {
        let unpacked = tree(&into.join("pack"));
        assert_eq!(unpacked.len(), original.len(), "{tool}: entry count");
        for (a, b) in unpacked.iter().zip(&original) {
            assert!(a == b, "{tool}: {:?} differs from {:?}", a.0, b.0);
        }
    }
    // A nested folder is named by its own name, however the path was spelt.
    let nested = get(&server, "/pack/a%2Fb/?download=tar", &[]);
    assert!(nested.header("content-disposition").is_some_and(|d| d.starts_with("attachment; filename=\"b.tar\"")));
    assert!(tar_names(&dechunk(&nested.body)).iter().all(|n| n.starts_with("b/")));
    // HEAD: the head alone.
    let head = request(&server, "HEAD", "/pack/?download=tar", &[]);
    assert_eq!((head.status, head.body.len()), (200, 0));
}

#[test]
fn an_http10_client_gets_the_tar_to_the_close() {
    let server = TestServer::start();
    write(&server.root(), "t/a.txt", b"alpha");
    let mut stream = server.connect();
    send(&mut stream, "GET /t/?download=tar HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let r = read_response(&mut stream, false).expect("a response");
    assert_eq!(r.status, 200);
    assert_eq!((r.header("transfer-encoding"), r.header("content-length")), (None, None));
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(tar_names(&r.body), ["t/", "t/a.txt"]);
}

/// A line of /proc/PID/status in KiB, e.g. `VmHWM`.
fn status_kib(pid: i32, field: &str) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("no {field}"));
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("a number")
}

#[test]
fn streaming_a_gib_folder_does_not_grow_the_servers_memory() {
    // 16 sparse files of 64 MiB: a GiB to send, nothing on disk.
    let site = tempfile::tempdir().expect("temp dir");
    let big = site.path().join("big");
    fs::create_dir(&big).expect("mkdir");
    for i in 0..16 {
        fs::File::create(big.join(format!("part-{i:02}.bin"))).expect("create").set_len(64 << 20).expect("size");
    }
    write(site.path(), "small/a.txt", b"warm-up");
    let binary = Binary::start(&[site.path().to_str().expect("UTF-8 path")], "info");
    let pid = binary.pid();
    let fetch = |path: &str, mut each: Box<dyn FnMut(u64)>| -> u64 {
        let mut stream = connect(binary.addr);
        send(&mut stream, &format!("GET {path}?download=tar HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        let mut tail = Vec::new();
        loop {
            let n = stream.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            total += n as u64;
            tail = buf[..n].to_vec();
            each(total);
        }
        assert!(tail.ends_with(b"0\r\n\r\n"), "the body ends with the last chunk");
        total
    };
    // Everything a streamed tar allocates once (buffers, a piece) is there.
    fetch("/small/", Box::new(|_| {}));
    let before_rss = status_kib(pid, "VmRSS");
    let before_peak = status_kib(pid, "VmHWM");
    let mut highest = before_rss;
    let mut next_sample = 0u64;
    let total = fetch(
        "/big/",
        Box::new(move |total| {
            if total >= next_sample {
                highest = highest.max(status_kib(pid, "VmRSS"));
                next_sample = total + (32 << 20);
            }
        }),
    );
    assert!(total > 1 << 30, "a GiB of archive, got {total} bytes");
    let after_peak = status_kib(pid, "VmHWM");
    let after_rss = status_kib(pid, "VmRSS");
    eprintln!(
        "server VmRSS {before_rss} KiB before, {after_rss} KiB after; peak (VmHWM) {before_peak} -> {after_peak} KiB"
    );
    assert!(
        after_peak <= before_peak + 1024 && after_rss <= before_rss + 1024,
        "memory grew while streaming: VmHWM {before_peak} -> {after_peak} KiB, VmRSS {before_rss} -> {after_rss} KiB"
    );
}

/// A page on the same origin that loads the listing in a frame, reads its
/// computed colours, types into its filter box and fetches its non-UTF-8
/// link, then writes what it saw into `#out`.
const PROBE_PAGE: &str = r#"<!doctype html>
<meta charset="utf-8"><title>probe</title>
<p id="out">pending</p>
<iframe id="frame" src="/list/"></iframe>
<script>
const frame = document.getElementById("frame");
frame.addEventListener("load", async () => {
  const doc = frame.contentDocument, out = [];
  out.push("bg=" + frame.contentWindow.getComputedStyle(doc.body).backgroundColor);
  const box = doc.getElementById("filter");
  out.push("filter-shown=" + !box.hidden);
  box.value = "FILE1";
  box.dispatchEvent(new Event("input"));
  const shown = [...doc.querySelectorAll("tbody tr")].filter(r => !r.hidden).map(r => r.cells[0].textContent);
  out.push("shown=" + shown.join("|"));
  const link = [...doc.querySelectorAll("td a")].find(a => a.textContent.startsWith("caf"));
  const r = await fetch(link.href);
  out.push("link=" + link.getAttribute("href") + " " + r.status + " " + await r.text());
  document.getElementById("out").textContent = out.join(";");
});
</script>
"#;

/// Screenshots `url` in the colour scheme (Blink's preferredColorScheme:
/// 0 dark, 1 light) into target/screenshots/`name`.
fn screenshot(url: &str, scheme: u8, size: &str, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("screenshots");
    fs::create_dir_all(&dir).expect("screenshot dir");
    let path = dir.join(name);
    let _ = fs::remove_file(&path);
    let flags = [
        format!("--blink-settings=preferredColorScheme={scheme}"),
        format!("--window-size={size}"),
        format!("--screenshot={}", path.display()),
    ];
    chromium(&flags.iter().map(String::as_str).collect::<Vec<_>>(), url);
    let png = fs::read(&path).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", path.display()));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{} is not a PNG", path.display());
    path
}

#[test]
fn chromium_dark_and_light_filter_and_a_non_utf8_link() {
    if !have_tool(CHROMIUM) {
        return;
    }
    let site = tempfile::tempdir().expect("temp dir");
    write(site.path(), "probe.html", PROBE_PAGE.as_bytes());
    for name in ["file1.txt", "file2.txt", "file10.txt", "notes.md"] {
        write(site.path(), &format!("list/{name}"), name.as_bytes());
    }
    write(site.path(), "list/folder/x", b"x");
    fs::write(site.path().join(OsStr::from_bytes(b"list/caf\xe9.txt")), b"latin-1 bytes").expect("write");
    let server = serve_dir(site.path());
    let probe = format!("http://{}/probe.html", server.local_addr());
    for (scheme, background) in [(0, "rgb(13, 17, 23)"), (1, "rgb(255, 255, 255)")] {
        let flag = format!("--blink-settings=preferredColorScheme={scheme}");
        let dom = String::from_utf8(chromium(&["--dump-dom", &flag], &probe).stdout).expect("UTF-8 DOM");
        let out = dom.split("<p id=\"out\">").nth(1).and_then(|s| s.split("</p>").next()).unwrap_or("");
        assert!(out.contains(&format!("bg={background}")), "scheme {scheme}: {out}\n{dom}");
        // The script ran (its hash is in the policy) and filters by name.
        assert!(out.contains("filter-shown=true"), "{out}");
        assert!(out.contains("shown=../|file1.txt|file10.txt;"), "{out}");
        assert!(out.contains("link=caf%E9.txt 200 latin-1 bytes"), "{out}");
    }
    let listing = format!("http://{}/list/", server.local_addr());
    for (scheme, name) in [(0, "listing-dark.png"), (1, "listing-light.png")] {
        eprintln!("screenshot: {}", screenshot(&listing, scheme, "1200,700", name).display());
    }
    eprintln!("screenshot: {}", screenshot(&listing, 0, "390,800", "listing-mobile-dark.png").display());
}

#[test]
fn a_large_tar_does_not_hold_up_other_clients() {
    // One worker, so a tar made in one go would stall everything.
    let server = TestServer::start_with(|config| config.threads = 1);
    let many = server.root().join("many");
    fs::create_dir(&many).expect("mkdir");
    // Entries that cost work (a stat and a resolution each) but add nothing
    // to the archive, so the socket never makes the server wait: only the
    // archive's own bound on work per turn lets /hello in.
    // Enough of them (about 20 turns) that /hello, sent just after the tar
    // request, arrives while the tar is still being made even on a busy
    // machine.
    for i in 0..20_000 {
        std::os::unix::fs::symlink(format!("nowhere-{i}"), many.join(format!("dangling-{i:05}"))).expect("symlink");
    }
    write(&many, "real.txt", b"real");
    let mut tar = server.connect();
    let mut hello = server.connect();
    send(&mut tar, "GET /many/?download=tar HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    send(&mut hello, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    // Which ends first: the tar (thousands of entries, about a thousand
    // per turn) or /hello (microseconds)?
    let (done, finished) = std::sync::mpsc::channel();
    let archived = {
        let done = done.clone();
        std::thread::spawn(move || {
            let r = read_response(&mut tar, false).expect("the tar");
            done.send("tar").expect("report");
            r
        })
    };
    let greeted = std::thread::spawn(move || {
        let r = read_response(&mut hello, false).expect("hello");
        done.send("hello").expect("report");
        r
    });
    let order: Vec<&str> = finished.iter().take(2).collect();
    let (archived, greeted) = (archived.join().expect("tar thread"), greeted.join().expect("hello thread"));
    assert_eq!(greeted.body, b"Hello, world!");
    assert_eq!(tar_names(&dechunk(&archived.body)), ["many/", "many/real.txt"]);
    assert_eq!(order, ["hello", "tar"], "a fresh request waited for a large tar");
}

#[test]
fn no_tar_without_listings() {
    let server = TestServer::start_files(|files| files.listing = false);
    assert_eq!(get(&server, "/nested/?download=tar", &[]).status, 404);
    // A folder with an index is its index, whatever the query says.
    let server = TestServer::start();
    assert_eq!(get(&server, "/sub/?download=tar", &[]).text(), "sub index");
}

#[test]
fn a_listing_changed_within_the_racy_window_has_its_exact_tag() {
    let server = TestServer::start_files(|files| files.racy_window = Duration::from_secs(3600));
    write(&server.root(), "fresh/new.txt", b"just written");
    let r = get(&server, "/fresh/", &[]);
    // The tag, from the entries themselves, tells this listing from one
    // changed in the same second.
    assert_eq!(r.header("last-modified"), None);
    let etag = r.header("etag").expect("an ETag").to_owned();
    assert_eq!(get(&server, "/fresh/", &[("If-None-Match", &etag)]).status, 304);
}

/// Watches per worker the kept-listing cases run with: the default, enough
/// for a directory below the root but not for its subdirectory too (the
/// page is then never kept), none.
const LISTING_WATCHES: [usize; 3] = [4096, 2, 0];

/// A change made to the files, in a table of cases.
type Change<'a> = Box<dyn Fn() + 'a>;

fn get_on(stream: &mut std::net::TcpStream, target: &str, headers: &[(&str, &str)]) -> Response {
    let fields: String = headers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
    send(stream, &format!("GET {target} HTTP/1.1\r\nHost: t\r\n{fields}\r\n"));
    read_response(stream, false).expect("a response")
}

/// Lists `target` twice on `stream` (the second may be a kept page),
/// checks both answers are the same, and returns the page and its tag.
fn listed_twice(stream: &mut std::net::TcpStream, target: &str) -> (String, String) {
    let first = get_on(stream, target, &[]);
    let second = get_on(stream, target, &[]);
    assert_eq!((first.status, second.status), (200, 200), "{target}");
    assert_eq!(first.text(), second.text(), "a kept page differs from the page");
    let etag = first.header("etag").expect("an ETag").to_owned();
    assert_eq!(second.header("etag"), Some(etag.as_str()));
    (first.text(), etag)
}

#[test]
fn every_change_to_a_listed_directory_shows_in_the_next_response() {
    for watches in LISTING_WATCHES {
        let server = TestServer::start_one_worker(watches);
        let root = server.root();
        write(&root, "w/a.txt", b"aaa");
        write(&root, "w/b.txt", b"bbb");
        write(&root, "w/sub/inner.txt", b"inner");
        set_mtime(&root.join("w/sub"), 100);
        let mut stream = server.connect();
        let list = |stream: &mut std::net::TcpStream| listed_twice(stream, "/w/");
        let (page, mut etag) = list(&mut stream);
        assert_eq!(rows(&page), ["sub/", "a.txt", "b.txt"], "{watches} watches");
        // Each change, then at once the next request: (what, the change, the rows after it).
        let changes: Vec<(&str, Change, &[&str])> = vec![
            ("created", Box::new(|| write(&root, "w/c.txt", b"c")), &["sub/", "a.txt", "b.txt", "c.txt"]),
            ("removed", Box::new(|| fs::remove_file(root.join("w/b.txt")).expect("rm")), &["sub/", "a.txt", "c.txt"]),
            (
                "renamed",
                Box::new(|| fs::rename(root.join("w/a.txt"), root.join("w/z.txt")).expect("mv")),
                &["sub/", "c.txt", "z.txt"],
            ),
            (
                "moved in",
                Box::new(|| fs::rename(root.join("w/sub/inner.txt"), root.join("w/in.txt")).expect("mv")),
                &["sub/", "c.txt", "in.txt", "z.txt"],
            ),
            (
                "a folder made",
                Box::new(|| fs::create_dir(root.join("w/new")).expect("mkdir")),
                &["new/", "sub/", "c.txt", "in.txt", "z.txt"],
            ),
            (
                "a folder renamed",
                Box::new(|| fs::rename(root.join("w/new"), root.join("w/old")).expect("mv")),
                &["old/", "sub/", "c.txt", "in.txt", "z.txt"],
            ),
        ];
        for (what, change, expected) in &changes {
            change();
            let (page, now) = list(&mut stream);
            assert_eq!(rows(&page), *expected, "{what}, {watches} watches");
            assert_ne!(now, etag, "{what}, {watches} watches");
            etag = now;
        }
        // What is shown of an entry: its size (grown, in place), its time,
        // and a subdirectory's time, which changes with its own entries.
        let shown: Vec<(&str, Change, &str)> = vec![
            (
                "grown",
                Box::new(|| fs::write(root.join("w/z.txt"), b"zzzzzzzzzz").expect("write")),
                ">z.txt</a><td>10 B",
            ),
            (
                "written in place",
                Box::new(|| {
                    use std::os::unix::fs::FileExt;
                    let file = fs::OpenOptions::new().write(true).open(root.join("w/c.txt")).expect("open");
                    file.write_at(b"C", 0).expect("write");
                    file.set_modified(SystemTime::now() - Duration::from_secs(3600)).expect("set mtime");
                }),
                ">c.txt</a><td>1 B",
            ),
            ("touched", Box::new(|| set_mtime(&root.join("w/in.txt"), 7200)), ">in.txt</a><td>5 B"),
            ("a file made in a subfolder", Box::new(|| write(&root, "w/sub/deeper.txt", b"d")), ">sub/</a>"),
            ("a subfolder's time", Box::new(|| set_mtime(&root.join("w/sub"), 300)), ">sub/</a>"),
        ];
        for (what, change, needle) in &shown {
            let revalidated = get_on(&mut stream, "/w/", &[("If-None-Match", &etag)]);
            assert_eq!(revalidated.status, 304, "before {what}, {watches} watches");
            change();
            let changed = get_on(&mut stream, "/w/", &[("If-None-Match", &etag)]);
            assert_eq!(changed.status, 200, "{what} is seen, {watches} watches");
            assert!(changed.text().contains(needle), "{what}: {needle:?} in {}", changed.text());
            let (_, now) = list(&mut stream);
            assert_ne!(now, etag, "{what}, {watches} watches");
            etag = now;
        }
        // The listed folder itself replaced by another.
        fs::rename(root.join("w"), root.join("w-gone")).expect("mv");
        write(&root, "w/only.txt", b"only");
        assert_eq!(rows(&list(&mut stream).0), ["only.txt"], "replaced, {watches} watches");
        // And removed.
        fs::remove_dir_all(root.join("w")).expect("rm -r");
        assert_eq!(get_on(&mut stream, "/w/", &[]).status, 404, "removed, {watches} watches");
    }
}

#[test]
fn entries_that_change_elsewhere_are_never_answered_from_memory() {
    for watches in LISTING_WATCHES {
        let server = TestServer::start_one_worker(watches);
        let root = server.root();
        write(&root, "elsewhere/target.txt", b"t");
        write(&root, "elsewhere/origin.txt", b"o");
        write(&root, "x/plain.txt", b"p");
        symlink("../elsewhere/target.txt", root.join("x/link")).expect("symlink");
        fs::hard_link(root.join("elsewhere/origin.txt"), root.join("x/hard.txt")).expect("link");
        symlink("../elsewhere/later.txt", root.join("x/later")).expect("symlink");
        let mut stream = server.connect();
        let (page, _) = listed_twice(&mut stream, "/x/");
        assert_eq!(rows(&page), ["hard.txt", "link", "plain.txt"], "{watches} watches");
        // A symlink's target grows; a hard link's other name is written;
        // a dangling symlink's target appears: none in this directory.
        fs::write(root.join("elsewhere/target.txt"), b"ttt").expect("write");
        assert!(listed_twice(&mut stream, "/x/").0.contains(">link</a><td>3 B"), "{watches} watches");
        fs::write(root.join("elsewhere/origin.txt"), b"oooo").expect("write");
        assert!(listed_twice(&mut stream, "/x/").0.contains(">hard.txt</a><td>4 B"), "{watches} watches");
        write(&root, "elsewhere/later.txt", b"l");
        assert_eq!(rows(&listed_twice(&mut stream, "/x/").0), ["hard.txt", "later", "link", "plain.txt"]);
    }
}

#[test]
fn kept_views_and_the_root_each_follow_changes() {
    let server = TestServer::start_one_worker(4096);
    let root = server.root();
    let mut stream = server.connect();
    write(&root, "v/a.txt", b"aaaa");
    write(&root, "v/b.txt", b"b");
    for target in ["/v/?sort=size", "/v/?format=json", "/v/"] {
        listed_twice(&mut stream, target);
    }
    write(&root, "v/b.txt", b"bbbbbbbb");
    let (by_size, _) = listed_twice(&mut stream, "/v/?sort=size");
    assert_eq!(rows(&by_size), ["a.txt", "b.txt"]);
    let (json, _) = listed_twice(&mut stream, "/v/?format=json");
    assert!(json.contains("\"name\":\"b.txt\",\"url\":\"b.txt\",\"is_dir\":false,\"size\":8"), "{json}");
    assert!(listed_twice(&mut stream, "/v/").0.contains(">b.txt</a><td>8 B"));
    // The root's own listing (no index in it).
    let _ = fs::remove_file(root.join("index.html"));
    let (before, _) = listed_twice(&mut stream, "/");
    assert!(!before.contains(">fresh.txt<"));
    write(&root, "fresh.txt", b"f");
    assert!(listed_twice(&mut stream, "/").0.contains(">fresh.txt</a>"));
}
