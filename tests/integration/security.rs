//! Issue #13, the file-system half: an attacker who can write part of the
//! served tree must not make the server read outside it, block a worker,
//! serve stale bytes, redirect off-site, panic on odd dates or spend
//! unbounded time and memory on a listing. Each test attacks a real server
//! over real sockets; outside files carry a unique marker that must never
//! appear in any response.

use std::fs;
use std::net::TcpStream;
use std::os::unix::fs::symlink;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use crate::support::{connect, read_response, send, write, Mount, Response, TestServer};

/// Bytes that only outside files contain.
const MARKER: &[u8] = b"OUTSIDE-MARKER-7f3c9a";

/// How long the symlink-flipping race runs.
const RACE_TIME: Duration = Duration::from_secs(10);

/// How long a request for a special file may take: "at once", with margin
/// for a loaded CI machine; a blocked worker would never answer.
const PROMPT: Duration = Duration::from_secs(2);

fn has_marker(response: &Response) -> bool {
    response.body.windows(MARKER.len()).any(|w| w == MARKER)
}

/// A directory beside the root holding marked files: `secret` (small),
/// `big` (larger than the cache's largest file) and `dir/f.txt`.
fn outside_tree() -> tempfile::TempDir {
    let outside = tempfile::tempdir().expect("temp dir");
    write(outside.path(), "secret", MARKER);
    write(outside.path(), "big", &MARKER.repeat(20_000));
    write(outside.path(), "dir/f.txt", MARKER);
    outside
}

/// One GET on a keep-alive connection, reconnecting when the server closed it.
fn get_on(stream: &mut Option<TcpStream>, server: &TestServer, target: &str) -> Response {
    for _ in 0..2 {
        let conn = stream.get_or_insert_with(|| server.connect());
        send(conn, &format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n"));
        if let Some(response) = read_response(conn, false) {
            if response.header("connection").is_some_and(|c| c.eq_ignore_ascii_case("close")) {
                *stream = None;
            }
            return response;
        }
        *stream = None;
    }
    panic!("no response to {target}");
}

#[test]
fn a_symlinked_index_or_404_page_leaks_nothing() {
    let outside = outside_tree();
    let server = TestServer::start();
    let root = server.root();
    fs::create_dir(root.join("d")).expect("mkdir");
    symlink(outside.path().join("secret"), root.join("d/index.html")).expect("symlink");
    for target in ["/d/", "/d/", "/d/index.html", "/d/index.html", "/d/"] {
        let r = server.get(target);
        assert_eq!(r.status, 404, "{target}");
        assert!(!has_marker(&r), "{target} leaked the outside file");
    }
    symlink(outside.path().join("secret"), root.join("404.html")).expect("symlink");
    for target in ["/missing", "/missing", "/404.html", "/nested/nothing"] {
        let r = server.get(target);
        assert_eq!(r.status, 404, "{target}");
        assert!(!has_marker(&r), "{target} leaked the outside 404 page");
    }
    // A 404.html inside the root is still used.
    fs::remove_file(root.join("404.html")).expect("rm");
    write(&root, "404.html", b"custom not found");
    assert_eq!(server.get("/missing").text(), "custom not found");
}

#[test]
fn symlinks_flipped_in_and_out_never_leak() {
    let outside = outside_tree();
    let server = TestServer::start();
    let root = server.root();
    write(&root, "in/small", b"inside small");
    write(&root, "in/big", &vec![b'i'; 200_000]);
    write(&root, "in/dir/f.txt", b"inside dir");
    // (link name, inside target, outside target). One inside target is
    // absolute: the kernel refuses those, so they take the O_NOFOLLOW walk,
    // which must be as race-free.
    let links: [(&str, std::path::PathBuf, std::path::PathBuf); 3] = [
        ("small", "in/small".into(), outside.path().join("secret")),
        ("big", root.canonicalize().expect("canonical root").join("in/big"), outside.path().join("big")),
        ("flipdir", "in/dir".into(), outside.path().join("dir")),
    ];
    for (name, inside, _) in &links {
        symlink(inside, root.join(name)).expect("symlink");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let stop = Arc::clone(&stop);
        let root = root.clone();
        let links = links.clone();
        std::thread::spawn(move || {
            let mut flips = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for (name, inside, out) in &links {
                    let target = if flips.is_multiple_of(2) { out } else { inside };
                    let temporary = root.join(format!(".flip-{name}"));
                    let _ = fs::remove_file(&temporary);
                    symlink(target, &temporary).expect("symlink");
                    // rename(2) over the link: the name always exists and
                    // always points at exactly one of the two.
                    fs::rename(&temporary, root.join(name)).expect("rename");
                }
                flips += 1;
            }
            flips
        })
    };
    let deadline = Instant::now() + RACE_TIME;
    let requesters: Vec<_> = ["/small", "/big", "/flipdir/f.txt"]
        .into_iter()
        .map(|target| {
            let server_addr = server.addr();
            std::thread::spawn(move || {
                let (mut served, mut refused) = (0u64, 0u64);
                let mut stream: Option<TcpStream> = None;
                while Instant::now() < deadline {
                    let conn = stream.get_or_insert_with(|| connect(server_addr));
                    send(conn, &format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n"));
                    let Some(r) = read_response(conn, false) else {
                        stream = None;
                        continue;
                    };
                    assert!(!has_marker(&r), "{target} leaked outside bytes");
                    match r.status {
                        200 => served += 1,
                        404 => refused += 1,
                        other => panic!("{target}: unexpected {other}"),
                    }
                }
                (target, served, refused)
            })
        })
        .collect();
    for requester in requesters {
        let (target, served, refused) = requester.join().expect("requester");
        eprintln!("{target}: {served} served from inside, {refused} refused");
        assert!(served > 0 && refused > 0, "{target}: the race was not exercised ({served}/{refused})");
    }
    stop.store(true, Ordering::Relaxed);
    let flips = flipper.join().expect("flipper");
    eprintln!("{flips} flips");
}

#[test]
fn absolute_symlinks_are_served_only_while_they_point_inside() {
    let outside = outside_tree();
    let server = TestServer::start();
    let root = server.root();
    write(&root, "assets/logo.txt", b"inside logo");
    // The root's real path, as a user would write it in a link.
    let real = root.canonicalize().expect("canonical root");
    symlink(real.join("assets/logo.txt"), root.join("logo.txt")).expect("symlink");
    symlink(real.join("assets"), root.join("media")).expect("symlink");
    symlink(outside.path().join("secret"), root.join("leak.txt")).expect("symlink");
    for _ in 0..2 {
        // Twice: the second answer may come from the cache.
        assert_eq!(server.get("/logo.txt").text(), "inside logo");
        assert_eq!(server.get("/media/logo.txt").text(), "inside logo");
        let refused = server.get("/leak.txt");
        assert_eq!(refused.status, 404);
        assert!(!has_marker(&refused));
    }
}

#[test]
fn a_cached_file_whose_directory_moved_out_is_not_served() {
    let outside = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start();
    let root = server.root();
    write(&root, "m/f.txt", MARKER);
    let mut stream = None;
    // Served (and cached) while it is inside.
    assert_eq!(get_on(&mut stream, &server, "/m/f.txt").status, 200);
    assert_eq!(get_on(&mut stream, &server, "/m/f.txt").status, 200);
    // Same inode, now outside, reached through a link in its old place.
    fs::rename(root.join("m"), outside.path().join("m")).expect("move out");
    symlink(outside.path().join("m"), root.join("m")).expect("symlink");
    for _ in 0..3 {
        let r = get_on(&mut stream, &server, "/m/f.txt");
        assert_eq!(r.status, 404);
        assert!(!has_marker(&r));
    }
    assert_eq!(server.get("/m/f.txt").status, 404, "on a fresh connection too");
}

/// Requests `target` and checks it is 404 and prompt.
fn prompt_404(server: &TestServer, target: &str) {
    let start = Instant::now();
    let r = server.get(target);
    assert_eq!(r.status, 404, "{target}");
    assert!(start.elapsed() < PROMPT, "{target} took {:?}", start.elapsed());
}

#[test]
fn fifos_sockets_and_devices_answer_404_at_once() {
    for follow_symlinks in [false, true] {
        let server = TestServer::start_setup(
            |setup| {
                // One worker: a blocked open would stall every later request.
                setup.config.threads = 1;
                setup.files.follow_symlinks = follow_symlinks;
            },
            |router| router,
        );
        let root = server.root();
        rustix::fs::mkfifoat(rustix::fs::CWD, root.join("fifo").as_path(), rustix::fs::Mode::from_raw_mode(0o644))
            .expect("mkfifo");
        let _socket = std::os::unix::net::UnixListener::bind(root.join("sock")).expect("unix socket");
        // Outside the root (404 by confinement), or followed to a device
        // with --follow-symlinks (404 because it is no regular file).
        symlink("/dev/zero", root.join("zero")).expect("symlink");
        fs::create_dir(root.join("fifodir")).expect("mkdir");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            root.join("fifodir/index.html").as_path(),
            rustix::fs::Mode::from_raw_mode(0o644),
        )
        .expect("mkfifo");
        for target in ["/fifo", "/sock", "/zero", "/fifodir/", "/fifo", "/zero"] {
            prompt_404(&server, target);
            crate::support::assert_hello(server.addr());
        }
    }
}

/// Mounts a ramfs (whose timestamps advance once per clock tick, so a
/// same-size rewrite usually leaves the metadata unchanged), unmounted on
/// drop. `None` (with a printed reason) when not running as root.
struct Ramfs {
    // Unmounted before the folder goes: fields drop in this order.
    _mount: Mount,
    dir: tempfile::TempDir,
}

impl Ramfs {
    fn mount() -> Option<Ramfs> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mount = Mount::new(&["-t", "ramfs", "ramfs"], dir.path())?;
        Some(Ramfs { _mount: mount, dir })
    }
}

/// A conditional GET with the validators of an earlier response.
fn conditional_get(server: &TestServer, earlier: &Response) -> Response {
    let mut stream = server.connect();
    let mut head = String::from("GET /f.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n");
    if let Some(etag) = earlier.header("etag") {
        head.push_str(&format!("If-None-Match: {etag}\r\n"));
    }
    if let Some(date) = earlier.header("last-modified") {
        head.push_str(&format!("If-Modified-Since: {date}\r\n"));
    }
    head.push_str("\r\n");
    send(&mut stream, &head);
    read_response(&mut stream, false).expect("a response")
}

#[test]
fn same_size_rewrites_with_coarse_timestamps_are_never_stale() {
    let Some(ramfs) = Ramfs::mount() else { return };
    let dir = ramfs.dir.path().to_path_buf();
    let server = TestServer::start_files(|files| {
        files.root = dir.clone();
        files.racy_window = rawserve::FileOptions::new(".").racy_window;
    });
    let file = dir.join("f.txt");
    let version = |i: usize| format!("version {i:06}");
    fs::write(&file, version(0)).expect("write");
    let mut previous: Option<Response> = None;
    let mut confirmed_checks = 0;
    for i in 0..300 {
        if i % 60 == 0 {
            // Let the file age past the racy window, so that it has
            // validators (and is cached) right before the next rewrite:
            // the case the metadata alone cannot tell apart.
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let r = server.get("/f.txt");
                if r.header("etag").is_some() || Instant::now() > deadline {
                    assert!(r.header("etag").is_some(), "an aged file gets an ETag");
                    previous = Some(r);
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            confirmed_checks += 1;
        }
        fs::write(&file, version(i)).expect("rewrite");
        let r = server.get("/f.txt");
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), version(i), "rewrite {i}: stale body");
        if let Some(earlier) = &previous {
            let c = conditional_get(&server, earlier);
            if c.status == 304 {
                // Only bytes equal to the copy held may be confirmed (a
                // content ETag confirms a rewrite with the same bytes).
                assert_eq!(earlier.text(), version(i), "rewrite {i}: stale 304 for {:?}", earlier.header("etag"));
            } else {
                assert_eq!(c.text(), version(i), "rewrite {i}: stale conditional body");
            }
        }
        previous = Some(r);
    }
    assert!(confirmed_checks >= 5);
    drop(server);
}

#[test]
fn a_doubled_slash_never_redirects_off_site() {
    let server = TestServer::start();
    for (target, expected) in [("//sub", "/sub/"), ("///sub", "/sub/"), ("//sub?x=1", "/sub/?x=1"), ("/sub", "/sub/")] {
        let r = server.get(target);
        assert_eq!(r.status, 301, "{target}");
        let location = r.header("location").expect("Location");
        assert!(!location.starts_with("//"), "{target} -> {location}");
        assert_eq!(location, expected, "{target}");
    }
}

#[test]
fn a_file_from_before_1970_is_served_without_last_modified() {
    let server = TestServer::start();
    let path = server.root().join("ancient.txt");
    fs::write(&path, b"old").expect("write");
    let ancient = UNIX_EPOCH - Duration::from_secs(86_400 * 365);
    fs::File::options().write(true).open(&path).expect("open").set_modified(ancient).expect("set mtime");
    for _ in 0..2 {
        let r = server.get("/ancient.txt");
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), "old");
        assert_eq!(r.header("last-modified"), None);
    }
    // And the listing shows no date for it rather than failing.
    fs::rename(&path, server.root().join("nested/ancient.txt")).expect("move");
    let listing = server.get("/nested/");
    assert_eq!(listing.status, 200);
    assert!(listing.text().contains(">ancient.txt</a><td>3 B<td>-\n"), "{}", listing.text());
}

#[test]
fn a_large_listing_does_not_hold_up_other_clients() {
    // One worker, so a listing built in one go would stall everything.
    let server = TestServer::start_setup(
        |setup| {
            setup.config.threads = 1;
            setup.files.max_listing_entries = 20_000;
        },
        |router| router,
    );
    let big = server.root().join("large");
    fs::create_dir(&big).expect("mkdir");
    for i in 0..20_000 {
        fs::File::create(big.join(format!("entry-{i:05}"))).expect("create");
    }
    let mut listing = server.connect();
    let mut hello = server.connect();
    send(&mut listing, "GET /large/ HTTP/1.1\r\nHost: t\r\n\r\n");
    send(&mut hello, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    // Wait for both at once and note which comes first: the listing's first
    // byte, or /hello's whole answer. The listing takes tens of milliseconds
    // of work, /hello microseconds, so /hello must not wait for it (built in
    // one go, the listing's head went out before /hello was even read).
    let (done, finished) = std::sync::mpsc::channel();
    let listed = {
        let done = done.clone();
        std::thread::spawn(move || {
            listing.peek(&mut [0u8; 1]).expect("the listing starts");
            done.send("listing").expect("report");
            read_response(&mut listing, false).expect("the listing")
        })
    };
    let greeted = std::thread::spawn(move || {
        let r = read_response(&mut hello, false).expect("hello");
        done.send("hello").expect("report");
        r
    });
    let order: Vec<&str> = finished.iter().take(2).collect();
    let (listed, greeted) = (listed.join().expect("listing thread"), greeted.join().expect("hello thread"));
    assert_eq!(greeted.body, b"Hello, world!");
    assert_eq!(listed.status, 200);
    assert_eq!(listed.text().matches("<td><a href=\"entry-").count(), 20_000, "every entry, in slices");
    assert!(listed.text().contains(">entry-00000<") && listed.text().contains(">entry-19999<"));
    assert_eq!(order, ["hello", "listing"], "a fresh request waited for a large listing");
}

#[test]
fn a_huge_directory_is_listed_up_to_the_cap() {
    let server = TestServer::start();
    let big = server.root().join("huge");
    fs::create_dir(&big).expect("mkdir");
    for i in 0..20_000 {
        fs::File::create(big.join(format!("f{i:05}"))).expect("create");
    }
    let cap = rawserve::FileOptions::new(".").max_listing_entries;
    let r = server.get("/huge/");
    assert_eq!(r.status, 200);
    let page = r.text();
    let rows = page.matches("<td><a href=\"f").count();
    assert!(rows > 0 && rows <= cap, "{rows} rows for a cap of {cap}");
    assert!(page.contains(&format!("Showing the first {cap} entries")), "no cap note");
    // A small directory has no note.
    assert!(!server.get("/nested/").text().contains("Showing the first"));
}

#[test]
fn a_listing_shows_only_what_would_be_served() {
    let outside = outside_tree();
    let server = TestServer::start();
    let root = server.root();
    let dir = root.join("mixed");
    write(&root, "mixed/plain.txt", b"plain");
    symlink(outside.path().join("secret"), dir.join("out-link")).expect("symlink");
    symlink("../hello.txt", dir.join("in-link")).expect("symlink");
    symlink("nowhere", dir.join("dangling")).expect("symlink");
    rustix::fs::mkfifoat(rustix::fs::CWD, dir.join("pipe").as_path(), rustix::fs::Mode::from_raw_mode(0o644))
        .expect("mkfifo");
    let page = server.get("/mixed/").text();
    assert!(page.contains(">plain.txt</a>"), "{page}");
    assert!(page.contains(">in-link</a><td>11 B<td>"), "an inside link is shown as its target: {page}");
    for hidden in ["out-link", "dangling", "pipe"] {
        assert!(!page.contains(hidden), "{hidden} is listed: {page}");
    }
}
