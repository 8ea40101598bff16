//! Issue #14, item 3: cache hits that inotify keeps fresh instead of a
//! `stat` per hit. Every change to a cached file, to its siblings or to a
//! directory on its way is followed at once by a request on the same
//! keep-alive connection, which must see it; with watches (the default),
//! with too few watches for the path (`cache_watches` 2: the fallback to
//! the per-hit stamp check) and with none.

use std::fs;
use std::net::TcpStream;
use std::os::unix::fs::symlink;

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{read_response, send, write, Mount, Response, TestServer};

const MARKER: &[u8] = b"OUTSIDE-MARKER-watched-4d1e";

/// Watches per worker the cases run with: the default, fewer than a
/// two-level path needs (root, directory, file), none.
const LIMITS: [usize; 3] = [4096, 2, 0];

/// One worker, so every request meets the same cache.
fn server(watches: usize) -> TestServer {
    TestServer::start_one_worker(watches)
}

fn get_on(stream: &mut TcpStream, target: &str, accept_encoding: Option<&str>) -> Response {
    match accept_encoding {
        Some(coding) => get_with(stream, target, &[("Accept-Encoding", coding)]),
        None => get_with(stream, target, &[]),
    }
}

/// A GET on a kept connection with extra header fields.
fn get_with(stream: &mut TcpStream, target: &str, headers: &[(&str, &str)]) -> Response {
    let extra: String = headers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
    send(stream, &format!("GET {target} HTTP/1.1\r\nHost: t\r\n{extra}\r\n"));
    read_response(stream, false).expect("a response")
}

/// Requests `target` three times and checks the body: the first caches
/// it, the second (its first hit) checks its stamp and places the
/// watches, the third is a watched hit.
fn cached(stream: &mut TcpStream, target: &str, body: &[u8]) {
    for _ in 0..3 {
        let r = get_on(stream, target, None);
        assert_eq!(r.status, 200, "{target}");
        assert_eq!(r.body, body, "{target}");
    }
}

#[test]
fn edits_rewrites_replacements_and_removals_are_seen_by_the_next_request() {
    for limit in LIMITS {
        let server = server(limit);
        let root = server.root();
        let mut stream = server.connect();
        for target in ["/top.txt", "/d/e/deep.txt"] {
            let name = &target[1..];
            write(&root, name, b"first version");
            cached(&mut stream, target, b"first version");
            // Longer.
            write(&root, name, b"second version, longer");
            cached(&mut stream, target, b"second version, longer");
            // Same size, in place.
            write(&root, name, b"third  version, longer");
            cached(&mut stream, target, b"third  version, longer");
            // Replaced by a rename over it (how deploy tools write).
            write(&root, "staging.tmp", b"fourth: renamed into place");
            fs::rename(root.join("staging.tmp"), root.join(name)).expect("rename");
            cached(&mut stream, target, b"fourth: renamed into place");
            // Removed.
            fs::remove_file(root.join(name)).expect("remove");
            assert_eq!(get_on(&mut stream, target, None).status, 404, "{target} removed, watches {limit}");
            // Back again.
            write(&root, name, b"fifth");
            cached(&mut stream, target, b"fifth");
        }
    }
}

#[test]
fn a_new_precompressed_sibling_is_served_at_once() {
    let css = b"body { color: red; }\n".repeat(40);
    for limit in LIMITS {
        let server = server(limit);
        let root = server.root();
        let mut stream = server.connect();
        write(&root, "s/a.css", &css);
        for _ in 0..2 {
            let r = get_on(&mut stream, "/s/a.css", Some("br"));
            assert_eq!(r.header("content-encoding"), Some("br"), "compressed here");
        }
        // The sibling's bytes are sent as they are, so marked bytes show
        // which one answered.
        write(&root, "s/a.css.br", b"PRECOMPRESSED-BR");
        let r = get_on(&mut stream, "/s/a.css", Some("br"));
        assert_eq!(r.body, b"PRECOMPRESSED-BR", "watches {limit}");
        fs::remove_file(root.join("s/a.css.br")).expect("remove");
        let r = get_on(&mut stream, "/s/a.css", Some("br"));
        assert_ne!(r.body, b"PRECOMPRESSED-BR", "watches {limit}");
        assert_eq!(r.header("content-encoding"), Some("br"));
        // An edit of the original drops its compressed bytes too.
        write(&root, "s/a.css", &b"p { margin: 0; }\n".repeat(40));
        let r = get_on(&mut stream, "/s/a.css", None);
        assert_eq!(r.body, b"p { margin: 0; }\n".repeat(40));
        let r = get_on(&mut stream, "/s/a.css", Some("br"));
        let mut plain = Vec::new();
        brotli::BrotliDecompress(&mut &r.body[..], &mut plain).expect("brotli");
        assert_eq!(plain, b"p { margin: 0; }\n".repeat(40), "watches {limit}");
    }
}

#[test]
fn a_directory_renamed_away_or_swapped_for_a_symlink_stops_serving() {
    for limit in LIMITS {
        let outside = tempfile::tempdir().expect("temp dir");
        write(outside.path(), "d/f.txt", MARKER);
        let server = server(limit);
        let root = server.root();
        let mut stream = server.connect();
        write(&root, "d/f.txt", b"inside");
        cached(&mut stream, "/d/f.txt", b"inside");
        // Renamed away within the root.
        fs::rename(root.join("d"), root.join("gone")).expect("rename");
        assert_eq!(get_on(&mut stream, "/d/f.txt", None).status, 404, "watches {limit}");
        cached(&mut stream, "/gone/f.txt", b"inside");
        // Swapped for a symlink to a directory outside holding a file of
        // the same name: never served.
        fs::rename(root.join("gone"), root.join("d")).expect("rename back");
        cached(&mut stream, "/d/f.txt", b"inside");
        fs::rename(root.join("d"), root.join("moved")).expect("move");
        symlink(outside.path().join("d"), root.join("d")).expect("symlink");
        let r = get_on(&mut stream, "/d/f.txt", None);
        assert_eq!(r.status, 404, "watches {limit}");
        assert!(!r.body.windows(MARKER.len()).any(|w| w == MARKER));
        // The same inode moved out, reached through a link in its old place.
        fs::remove_file(root.join("d")).expect("unlink");
        fs::rename(root.join("moved"), root.join("d")).expect("back");
        cached(&mut stream, "/d/f.txt", b"inside");
        fs::rename(root.join("d"), outside.path().join("in-out")).expect("move out");
        symlink(outside.path().join("in-out"), root.join("d")).expect("symlink");
        assert_eq!(get_on(&mut stream, "/d/f.txt", None).status, 404, "watches {limit}");
        // The root-level name of a file swapped for a symlink out.
        write(&root, "t.txt", b"plain");
        cached(&mut stream, "/t.txt", b"plain");
        fs::remove_file(root.join("t.txt")).expect("unlink");
        symlink(outside.path().join("d/f.txt"), root.join("t.txt")).expect("symlink");
        let r = get_on(&mut stream, "/t.txt", None);
        assert_eq!(r.status, 404, "watches {limit}");
    }
}

#[test]
fn a_change_before_pipelined_requests_is_seen_by_them() {
    for limit in LIMITS {
        let server = server(limit);
        let root = server.root();
        let mut stream = server.connect();
        write(&root, "p.txt", b"old");
        cached(&mut stream, "/p.txt", b"old");
        write(&root, "p.txt", b"new");
        send(&mut stream, &"GET /p.txt HTTP/1.1\r\nHost: t\r\n\r\n".repeat(3));
        for _ in 0..3 {
            assert_eq!(read_response(&mut stream, false).expect("a response").body, b"new", "watches {limit}");
        }
    }
}

/// A cache with room for two of the 40-byte files below and no more.
fn small_server(watches: usize) -> TestServer {
    TestServer::start_setup(
        |setup| {
            setup.config.threads = 1;
            setup.files.cache_watches = watches;
            setup.files.cache_bytes = 100;
        },
        |router| router,
    )
}

fn forty(tag: u8) -> Vec<u8> {
    vec![tag; 40]
}

#[test]
fn a_full_cache_admits_at_the_second_miss_and_stays_fresh() {
    for limit in LIMITS {
        let server = small_server(limit);
        let root = server.root();
        let mut stream = server.connect();
        for name in ["a", "b", "c"] {
            write(&root, name, &forty(name.as_bytes()[0]));
        }
        // a and b fit: cached at their first miss.
        cached(&mut stream, "/a", &forty(b'a'));
        cached(&mut stream, "/b", &forty(b'b'));
        // c would evict one: its first miss is answered from the file and
        // not cached; an edit before its second miss is what that serves.
        let r = get_on(&mut stream, "/c", None);
        assert_eq!((r.status, &r.body), (200, &forty(b'c')), "watches {limit}");
        write(&root, "c", &forty(b'C'));
        // The second miss caches it (evicting a or b), then hits.
        cached(&mut stream, "/c", &forty(b'C'));
        // Same size, in place, while cached and watched.
        write(&root, "c", &forty(b'x'));
        cached(&mut stream, "/c", &forty(b'x'));
        // Whichever of a and b was evicted is read again, and both are right.
        for name in ["a", "b", "a", "b"] {
            let r = get_on(&mut stream, &format!("/{name}"), None);
            assert_eq!(r.body, forty(name.as_bytes()[0]), "/{name}, watches {limit}");
        }
        // A file that needs the doorkeeper to get in, edited before each
        // request: its first miss, the miss that caches it, and the miss
        // after the edit dropped it.
        for (i, tag) in [b'1', b'2', b'3'].into_iter().enumerate() {
            write(&root, "big/rare", &[tag; 60]);
            let r = get_on(&mut stream, "/big/rare", None);
            assert_eq!(r.body, [tag; 60], "request {i}, watches {limit}");
        }
    }
}

#[test]
fn an_edit_after_any_number_of_requests_is_seen_by_the_next() {
    for limit in LIMITS {
        let server = server(limit);
        let root = server.root();
        let mut stream = server.connect();
        // Edited after one request (cached, not hit yet), two (its first
        // hit checked the stamp and placed the watches), three and four
        // (watched hits).
        for requests in 1..=4u8 {
            let before = [b'0' + requests; 8];
            write(&root, "s/t.txt", &before);
            for _ in 0..requests {
                assert_eq!(get_on(&mut stream, "/s/t.txt", None).body, before, "watches {limit}");
            }
            write(&root, "s/t.txt", b"edited!!");
            assert_eq!(get_on(&mut stream, "/s/t.txt", None).body, b"edited!!", "after {requests}, watches {limit}");
        }
    }
}

/// The worker reads every ready connection of a poll batch before it
/// answers any (one check of the change events per batch): an edit made
/// before requests are sent on many kept connections at once is seen by
/// every one of them, round after round.
#[test]
fn an_edit_is_seen_by_every_connection_of_a_batch() {
    const CONNECTIONS: usize = 40;
    for limit in LIMITS {
        let server = server(limit);
        let root = server.root();
        let mut streams: Vec<TcpStream> = (0..CONNECTIONS).map(|_| server.connect()).collect();
        for round in 0..6 {
            let body = format!("round {round} of the batch test").into_bytes();
            write(&root, "batch.txt", &body);
            // Every request is sent before any response is read, so the
            // worker finds many of them ready in one poll.
            for stream in &mut streams {
                send(stream, "GET /batch.txt HTTP/1.1\r\nHost: t\r\n\r\n");
            }
            for (i, stream) in streams.iter_mut().enumerate() {
                let r = read_response(stream, false).expect("a response");
                assert_eq!(r.status, 200, "connection {i}, round {round}, watches {limit}");
                assert_eq!(r.body, body, "connection {i}, round {round}, watches {limit}");
            }
        }
    }
}

/// Rewrites `name` below `root` with `contents` in place and gives it back
/// its modification time, as `touch -r`, `tar x`, `rsync -t` and `cp -p` do
/// (utimensat): size and mtime as before, only the bytes (and the ctime,
/// which no one can set) differ.
fn rewrite_keeping_mtime(root: &std::path::Path, name: &str, contents: &[u8]) {
    let path = root.join(name);
    let mtime = fs::metadata(&path).and_then(|m| m.modified()).expect("mtime");
    assert_eq!(fs::metadata(&path).expect("size").len(), contents.len() as u64, "a same-size rewrite");
    fs::write(&path, contents).expect("rewrite");
    fs::File::open(&path).and_then(|f| f.set_modified(mtime)).expect("restore mtime");
    assert_eq!(fs::metadata(&path).and_then(|m| m.modified()).expect("mtime"), mtime);
}

fn brotli_text(body: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    brotli::BrotliDecompress(&mut &body[..], &mut plain).expect("brotli");
    plain
}

/// Issue 20, item 5: a same-size rewrite whose mtime is restored. The
/// cached bytes go (the ctime moved), and the ETag, a digest of the bytes,
/// is new, so the old `If-None-Match` gets the new bytes (200), the old
/// `If-Range` gets the whole new file, and each coding's tag moves too.
#[test]
fn a_same_size_rewrite_with_its_mtime_restored_gets_new_bytes_and_a_new_etag() {
    let (css_one, css_two) = (b"body { color: red;  }\n".repeat(40), b"body { color: blue; }\n".repeat(40));
    let cases: [(&str, &[u8], &[u8]); 2] =
        [("/m/plain.txt", b"version one", b"version two"), ("/m/site.css", &css_one, &css_two)];
    for limit in LIMITS {
        let server = server(limit);
        let root = server.root();
        let mut stream = server.connect();
        for (target, one, two) in cases {
            write(&root, &target[1..], one);
            cached(&mut stream, target, one);
            let old = get_on(&mut stream, target, None);
            let old_etag = old.header("etag").expect("an ETag").to_owned();
            let old_br = get_on(&mut stream, target, Some("br"));
            let old_br_etag = old_br.header("etag").expect("an ETag").to_owned();
            assert_eq!(get_with(&mut stream, target, &[("If-None-Match", &old_etag)]).status, 304);

            rewrite_keeping_mtime(&root, &target[1..], two);
            let new = get_on(&mut stream, target, None);
            assert_eq!(new.body, two, "{target}, watches {limit}: the new bytes");
            let new_etag = new.header("etag").expect("an ETag").to_owned();
            assert_ne!(new_etag, old_etag, "{target}, watches {limit}: a new ETag");
            let revalidated = get_with(&mut stream, target, &[("If-None-Match", &old_etag)]);
            assert_eq!((revalidated.status, &revalidated.body[..]), (200, two), "{target}, watches {limit}");
            assert_eq!(get_with(&mut stream, target, &[("If-None-Match", &new_etag)]).status, 304);
            // A range resumed under the old tag gets the whole new file; under
            // the new one, the range, with the same tag as the whole.
            let resumed = get_with(&mut stream, target, &[("Range", "bytes=0-3"), ("If-Range", &old_etag)]);
            assert_eq!((resumed.status, &resumed.body[..]), (200, two), "{target}, watches {limit}");
            let ranged = get_with(&mut stream, target, &[("Range", "bytes=0-3"), ("If-Range", &new_etag)]);
            assert_eq!((ranged.status, &ranged.body[..]), (206, &two[..4]), "{target}, watches {limit}");
            assert_eq!(ranged.header("etag"), Some(new_etag.as_str()));
            // The compressed representation (or identity, for a file too
            // small to compress) under its old tag: the new bytes.
            let coded = get_with(&mut stream, target, &[("Accept-Encoding", "br"), ("If-None-Match", &old_br_etag)]);
            assert_eq!(coded.status, 200, "{target}, watches {limit}");
            assert_ne!(coded.header("etag"), Some(old_br_etag.as_str()));
            let plain = match coded.header("content-encoding") {
                Some("br") => brotli_text(&coded.body),
                _ => coded.body.clone(),
            };
            assert_eq!(plain, two, "{target}, watches {limit}: the new bytes, coded");
        }
    }
}

/// How long a watch alone vouches for an entry: the bound the README
/// promises for changes inotify never reports.
fn recheck() -> Duration {
    rawserve::FileOptions::new(".").cache_recheck
}

/// Waits out the bound after a change made at `changed`: any request sent
/// from then on must see it. (The wait is the promise under test, not a
/// guess: nothing else is waited for.)
fn wait_out_the_bound(changed: Instant) {
    let due = changed + recheck();
    while Instant::now() <= due {
        std::thread::sleep(due - Instant::now());
    }
}

/// A file's bytes written through a `MAP_SHARED` mapping, flushed with
/// `msync`, the mapping kept (unmapped on drop). No inotify event comes
/// for such a write; the kernel updates the file's times at the fault.
struct Mapped {
    at: *mut libc::c_void,
    len: usize,
}

impl Mapped {
    fn write(path: &Path, contents: &[u8]) -> Mapped {
        use std::os::fd::AsRawFd;
        let file = fs::OpenOptions::new().read(true).write(true).open(path).expect("open");
        let len = contents.len();
        assert_eq!(file.metadata().expect("size").len(), len as u64, "the mapping covers the file");
        // SAFETY: a fresh shared mapping of `len` bytes of an open file of
        // that size; checked for failure before use.
        let at = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        assert_ne!(at, libc::MAP_FAILED, "mmap: {}", std::io::Error::last_os_error());
        // SAFETY: `at` maps `len` writable bytes (above); `contents` is
        // `len` bytes that do not overlap the mapping.
        unsafe { std::ptr::copy_nonoverlapping(contents.as_ptr(), at.cast::<u8>(), len) };
        // SAFETY: `at`/`len` are the mapping made above.
        let synced = unsafe { libc::msync(at, len, libc::MS_SYNC) };
        assert_eq!(synced, 0, "msync: {}", std::io::Error::last_os_error());
        Mapped { at, len }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `Mapped::write`, unmapped once.
        unsafe { libc::munmap(self.at, self.len) };
    }
}

/// Asserts that `target` answers `body` on the kept connection and on a
/// fresh one, and that the validator of an earlier version (`old_etag`)
/// gets those bytes (200), not a 304.
fn fresh_everywhere(server: &TestServer, stream: &mut TcpStream, target: &str, body: &[u8], old_etag: &str, why: &str) {
    let kept = get_on(stream, target, None);
    assert_eq!((kept.status, &kept.body[..]), (200, body), "{why}: {target} on a kept-alive connection");
    let mut fresh = server.connect();
    let new = get_on(&mut fresh, target, None);
    assert_eq!((new.status, &new.body[..]), (200, body), "{why}: {target} on a fresh connection");
    let revalidated = get_with(stream, target, &[("If-None-Match", old_etag)]);
    assert_eq!((revalidated.status, &revalidated.body[..]), (200, body), "{why}: {target} under the old ETag");
}

/// Issue 20, item 1: bytes written through a shared mapping (msync, the
/// mapping kept) reach kept-alive and fresh connections, identity and br,
/// within the recheck interval, and the old ETag no longer gets 304.
#[test]
fn writes_through_a_shared_mapping_are_served_within_the_recheck_interval() {
    let one = b"mapped: the first version of this stylesheet;\n".repeat(20);
    let two = one.to_ascii_uppercase();
    for limit in [4096, 0] {
        let server = server(limit);
        let root = server.root();
        let mut stream = server.connect();
        for target in ["/top.css", "/m/a/mapped.css"] {
            write(&root, &target[1..], &one);
            cached(&mut stream, target, &one);
            let old_etag = get_on(&mut stream, target, None).header("etag").expect("an ETag").to_owned();
            let old_br = get_on(&mut stream, target, Some("br"));
            assert_eq!(brotli_text(&old_br.body), one);
            let old_br_etag = old_br.header("etag").expect("an ETag").to_owned();

            let mapping = Mapped::write(&root.join(&target[1..]), &two);
            wait_out_the_bound(Instant::now());
            let why = format!("watches {limit}, mapping kept");
            fresh_everywhere(&server, &mut stream, target, &two, &old_etag, &why);
            let coded = get_with(&mut stream, target, &[("Accept-Encoding", "br"), ("If-None-Match", &old_br_etag)]);
            assert_eq!(coded.status, 200, "{why}: br under the old ETag");
            assert_eq!(brotli_text(&coded.body), two, "{why}: br");
            drop(mapping);
        }
    }
}

/// Issue 20, item 1: a tmpfs mounted over a served folder, then taken away:
/// its files, and the folder's listing, within the interval each time.
#[test]
fn a_file_system_mounted_over_a_served_folder_is_served_within_the_interval() {
    let server = server(4096);
    let root = server.root();
    let mut stream = server.connect();
    write(&root, "over/f.txt", b"on the disk below");
    write(&root, "over/only-below.txt", b"x");
    cached(&mut stream, "/over/f.txt", b"on the disk below");
    let old_etag = get_on(&mut stream, "/over/f.txt", None).header("etag").expect("an ETag").to_owned();
    for _ in 0..3 {
        let listing = get_on(&mut stream, "/over/", None);
        assert!(listing.text().contains("only-below.txt"));
    }
    let old_listing_etag = get_on(&mut stream, "/over/", None).header("etag").expect("an ETag").to_owned();

    let Some(mount) = Mount::new(&["-t", "tmpfs", "tmpfs"], &root.join("over")) else { return };
    write(&root, "over/f.txt", b"on the tmpfs above");
    write(&root, "over/only-above.txt", b"y");
    wait_out_the_bound(Instant::now());
    fresh_everywhere(&server, &mut stream, "/over/f.txt", b"on the tmpfs above", &old_etag, "tmpfs mounted");
    let listing = get_with(&mut stream, "/over/", &[("If-None-Match", &old_listing_etag)]);
    assert_eq!(listing.status, 200, "the listing of the mounted folder");
    assert!(listing.text().contains("only-above.txt") && !listing.text().contains("only-below.txt"));
    let above_etag = get_on(&mut stream, "/over/f.txt", None).header("etag").expect("an ETag").to_owned();

    mount.unmount();
    wait_out_the_bound(Instant::now());
    fresh_everywhere(&server, &mut stream, "/over/f.txt", b"on the disk below", &above_etag, "tmpfs unmounted");
    let listing = get_on(&mut stream, "/over/", None);
    assert!(listing.text().contains("only-below.txt") && !listing.text().contains("only-above.txt"));
    // Past the interval with nothing changed: read again, and the same page.
    wait_out_the_bound(Instant::now());
    let again = get_on(&mut stream, "/over/", None);
    assert_eq!((again.status, again.header("etag"), &again.body), (200, listing.header("etag"), &listing.body));
}

/// Issue 20, item 1: a file bind-mounted over a served file, then taken away.
#[test]
fn a_file_bind_mounted_over_a_served_file_is_served_within_the_interval() {
    let server = server(4096);
    let root = server.root();
    let outside = tempfile::tempdir().expect("temp dir");
    write(outside.path(), "other.txt", b"bound over it");
    let mut stream = server.connect();
    write(&root, "b/f.txt", b"the served file");
    cached(&mut stream, "/b/f.txt", b"the served file");
    let old_etag = get_on(&mut stream, "/b/f.txt", None).header("etag").expect("an ETag").to_owned();

    let other = outside.path().join("other.txt");
    let Some(mount) = Mount::new(&["--bind", &other.to_string_lossy()], &root.join("b/f.txt")) else { return };
    wait_out_the_bound(Instant::now());
    fresh_everywhere(&server, &mut stream, "/b/f.txt", b"bound over it", &old_etag, "bind-mounted");
    let bound_etag = get_on(&mut stream, "/b/f.txt", None).header("etag").expect("an ETag").to_owned();

    mount.unmount();
    wait_out_the_bound(Instant::now());
    fresh_everywhere(&server, &mut stream, "/b/f.txt", b"the served file", &bound_etag, "unmounted");
}

/// Issue 20, item 1: an overlay inside the root whose lower layer is
/// written directly (no event reaches a watch on the overlay's inodes).
#[test]
fn an_overlay_layer_written_directly_is_served_within_the_interval() {
    let server = server(4096);
    let root = server.root();
    let layers = tempfile::tempdir().expect("temp dir");
    for dir in ["lower", "upper", "work"] {
        fs::create_dir(layers.path().join(dir)).expect("mkdir");
    }
    write(&layers.path().join("lower"), "f.txt", b"lower, version 1");
    fs::create_dir(root.join("ov")).expect("mkdir");
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        layers.path().join("lower").display(),
        layers.path().join("upper").display(),
        layers.path().join("work").display()
    );
    let Some(_mount) = Mount::new(&["-t", "overlay", "overlay", "-o", &options], &root.join("ov")) else { return };
    let mut stream = server.connect();
    cached(&mut stream, "/ov/f.txt", b"lower, version 1");
    let old_etag = get_on(&mut stream, "/ov/f.txt", None).header("etag").expect("an ETag").to_owned();
    fs::write(layers.path().join("lower/f.txt"), b"lower, version 2").expect("write the layer");
    wait_out_the_bound(Instant::now());
    fresh_everywhere(&server, &mut stream, "/ov/f.txt", b"lower, version 2", &old_etag, "overlay layer written");
}
