//! Sharing a folder (issue 22): `--hidden` over real sockets (404 on
//! GET, never a redirect or an index page that tells, left out of
//! listings, tars and zips), and the streamed zip checked by Info-ZIP's
//! `unzip -t` and Python's `zipfile`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::listing::tree;
use crate::support::*;

/// Bounds one run of curl, unzip or python.
const TOOL_LIMIT: Duration = Duration::from_secs(60);

/// A site with names to hide in several places.
fn hidden_site(server: &TestServer) {
    let root = server.root();
    for (name, body) in [
        ("shared/a.txt", "a"),
        ("shared/a.bak", "old a"),
        ("shared/private/x.txt", "x"),
        ("shared/docs/private/y.txt", "y"),
        ("shared/drafts/n.md", "draft"),
        ("shared/drafts/n.txt", "note"),
        ("shared/site/index.html", "secret index"),
        ("shared/site/page.txt", "page"),
    ] {
        write(&root, name, body.as_bytes());
    }
}

/// Body of `target` as curl sees it (chunked framing undone).
fn curl_body(server: &TestServer, target: &str) -> Vec<u8> {
    let output = run_ok(Command::new("curl").args(["-sS", "--fail", &url(server, target)]), TOOL_LIMIT);
    output.stdout
}

#[test]
fn hidden_names_are_not_found_listed_or_archived() {
    let server = TestServer::start_files(|files| {
        files.hidden = ["*.bak", "private", "/shared/drafts/*.md", "shared/site/index.html"]
            .iter()
            .map(|glob| glob.parse().expect("a glob"))
            .collect();
    });
    hidden_site(&server);
    for target in [
        "/shared/a.bak",
        "/shared/private",
        "/shared/private/",
        "/shared/private/x.txt",
        "/shared/docs/private/y.txt",
        "/shared/docs/priv%61te/y.txt",
        "/shared/drafts/n.md",
        "/shared/site/index.html",
        "/shared/private/?download=tar",
        "/shared/private/?download=zip",
    ] {
        let r = server.get(target);
        assert_eq!(r.status, 404, "{target}");
        assert_eq!(r.header("location"), None, "{target}: no redirect tells it exists");
    }
    for (target, body) in [("/shared/a.txt", "a"), ("/shared/drafts/n.txt", "note"), ("/shared/site/page.txt", "page")]
    {
        let r = server.get(target);
        assert_eq!((r.status, r.text()), (200, body.to_string()), "{target}");
    }
    // A hidden index is no index: the folder is listed instead, without it.
    let site = server.get("/shared/site/");
    assert_eq!(site.status, 200);
    assert!(site.text().contains("page.txt") && !site.text().contains("index.html"), "{}", site.text());
    assert!(!site.text().contains("secret index"));
    let listing = server.get("/shared/").text();
    assert!(listing.contains("a.txt") && listing.contains("drafts/") && listing.contains("docs/"), "{listing}");
    assert!(!listing.contains("a.bak") && !listing.contains("private"), "{listing}");
    let drafts = server.get("/shared/drafts/").text();
    assert!(drafts.contains("n.txt") && !drafts.contains("n.md"), "{drafts}");
    let json = server.get("/shared/docs/?format=json").text();
    assert!(!json.contains("private"), "{json}");

    if !have_tool("curl") {
        return;
    }
    let tar = curl_body(&server, "/shared/?download=tar");
    let mut names: Vec<String> = tar::Archive::new(&tar[..])
        .entries()
        .expect("a tar")
        .map(|entry| String::from_utf8_lossy(&entry.expect("an entry").path_bytes()).into_owned())
        .collect();
    names.sort();
    let expected = [
        "shared/",
        "shared/a.txt",
        "shared/docs/",
        "shared/drafts/",
        "shared/drafts/n.txt",
        "shared/site/",
        "shared/site/page.txt",
    ];
    assert_eq!(names, expected);
}

/// `rawserve --hidden` from the command line and from its variable.
#[test]
fn the_command_hides_what_hidden_names() {
    let site = tempfile::tempdir().expect("temp dir");
    write(site.path(), "keep.txt", b"keep");
    write(site.path(), "old.bak", b"old");
    write(site.path(), "notes/secret.txt", b"secret");
    let root = site.path().to_str().expect("UTF-8 path");
    let by_flags = Binary::start(&[root, "--hidden", "*.bak", "--hidden", "notes", "-q"], "warn");
    let by_variable = Binary::start_with_env(&[root, "-q"], "warn", &[("RAWSERVE_HIDDEN", "*.bak,notes")]);
    for server in [&by_flags, &by_variable] {
        for (target, status) in [("/keep.txt", 200), ("/old.bak", 404), ("/notes/secret.txt", 404), ("/notes", 404)] {
            let mut stream = connect(server.addr);
            send(&mut stream, &format!("GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
            assert_eq!(read_response(&mut stream, false).expect("a response").status, status, "{target}");
        }
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_rawserve")).args([root, "--hidden", "a/["]).output().expect("runs");
    assert_eq!(bad.status.code(), Some(1));
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(said.contains("--hidden `a/[` is not a glob"), "{said}");
}

/// Downloads the zip at `target` with curl into `archive`, and has
/// `unzip -t` check every entry's CRC.
fn download_and_test_zip(server: &TestServer, target: &str, archive: &Path) {
    run_ok(Command::new("curl").args(["-sS", "--fail", "-o"]).arg(archive).arg(url(server, target)), TOOL_LIMIT);
    let tested = run_ok(Command::new("unzip").arg("-tq").arg(archive), TOOL_LIMIT);
    let said = String::from_utf8_lossy(&tested.stdout);
    assert!(said.contains("No errors detected"), "{said}");
}

/// Python's `zipfile` reads `archive`: checks every CRC (`testzip`), then
/// extracts it into `into`.
const PYTHON_UNZIP: &str = "import sys, zipfile\n\
    with zipfile.ZipFile(sys.argv[1]) as z:\n    \
        bad = z.testzip()\n    \
        assert bad is None, bad\n    \
        z.extractall(sys.argv[2])\n";

#[test]
fn the_zip_of_a_folder_opens_identical_with_unzip_and_python() {
    if !have_tool("curl") || !have_tool("unzip") || !have_tool("python3") {
        return;
    }
    let server = TestServer::start();
    let root = server.root();
    let folder = root.join("share");
    write(&folder, "plain.txt", b"plain");
    write(&folder, "caf\u{e9} \u{2713} space.txt", "accented and a check mark".as_bytes());
    write(&folder, "\u{65e5}\u{672c}/\u{6587}\u{66f8}.md", b"# CJK names");
    write(&folder, "empty.txt", b"");
    write(&folder, "big.bin", &big_contents());
    write(&folder, &format!("{}/deep.txt", ["level"; 12].join("/")), b"deep");
    write(&folder, ".hidden", b"never archived");
    fs::create_dir_all(folder.join("empty folder")).expect("mkdir");
    let mut original = tree(&folder);
    original.retain(|(path, _)| path != Path::new(".hidden"));

    let r = get(&server, "/share/?download=zip", &[("Connection", "close")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/zip"));
    assert!(r.header("content-disposition").is_some_and(|d| d.starts_with("attachment; filename=\"share.zip\"")));
    let work = tempfile::tempdir().expect("temp dir");
    let archive = work.path().join("share.zip");
    download_and_test_zip(&server, "/share/?download=zip", &archive);
    let by_unzip = work.path().join("unzip");
    run_ok(Command::new("unzip").arg("-q").arg(&archive).arg("-d").arg(&by_unzip), TOOL_LIMIT);
    let by_python = work.path().join("python");
    run_ok(Command::new("python3").arg("-c").arg(PYTHON_UNZIP).arg(&archive).arg(&by_python), TOOL_LIMIT);
    for (tool, into) in [("unzip", by_unzip), ("Python zipfile", by_python)] {
        let unpacked = tree(&into.join("share"));
        let names = |t: &[(PathBuf, Option<Vec<u8>>)]| t.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
        assert_eq!(names(&unpacked), names(&original), "{tool}: the same entries");
        assert!(unpacked == original, "{tool}: the same contents");
    }
    // unzip restores the modification time (the extended timestamp) and
    // the permissions (the Unix attributes).
    use std::os::unix::fs::PermissionsExt;
    let time = |path: &Path| fs::metadata(path).and_then(|m| m.modified()).expect("mtime");
    let extracted = work.path().join("unzip/share/plain.txt");
    let drift = time(&folder.join("plain.txt")).duration_since(time(&extracted)).unwrap_or_default();
    assert!(drift < Duration::from_secs(1), "{drift:?}");
    let mode = |path: &Path| fs::metadata(path).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode(&extracted), mode(&folder.join("plain.txt")));
}

/// 65,536 files and their folders (ZIP64 end records: more than 65,535
/// entries) streamed through the server in one pass: unzip and Python
/// read every entry and check every CRC. (ZIP64 sizes and offsets, past
/// 4 GiB, are unit-tested in `archive::zip` against the same readers:
/// streaming 4 GiB through a debug build takes minutes.)
#[test]
fn a_zip_of_65536_files_is_read_by_unzip_and_python() {
    if !have_tool("unzip") || !have_tool("python3") || !have_tool("curl") {
        return;
    }
    let server = TestServer::start();
    let folder = server.root().join("many");
    for i in 0..256 {
        fs::create_dir_all(folder.join(format!("{i}"))).expect("mkdir");
        for j in 0..256 {
            fs::write(folder.join(format!("{i}/{j}")), format!("{i}.{j}")).expect("write");
        }
    }
    let work = tempfile::tempdir().expect("temp dir");
    let archive = work.path().join("many.zip");
    download_and_test_zip(&server, "/many/?download=zip", &archive);
    let script = "import sys, zipfile\n\
        with zipfile.ZipFile(sys.argv[1]) as z:\n    \
            assert z.testzip() is None\n    \
            print(len(z.infolist()), z.read('many/255/255').decode())\n";
    let output = run_ok(Command::new("python3").arg("-c").arg(script).arg(&archive), TOOL_LIMIT);
    // The top folder, 256 folders, 65,536 files.
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "65793 255.255");
}

/// Chromium shows a listing's dates in the viewer's time zone (here
/// India's, UTC+05:30, by `TZ`), with UTC on hover, its icons and
/// breadcrumbs under the page's Content-Security-Policy (a blocked script
/// would leave the UTC text as it is); a screenshot is kept in
/// target/screenshots/listing-local-time.png.
#[test]
fn chromium_shows_listing_dates_in_local_time() {
    use crate::browser::{CHROMIUM, FLAGS};
    if !have_tool(CHROMIUM) {
        return;
    }
    let server = TestServer::start();
    write(&server.root(), "dated/readme.txt", b"dated");
    let file = fs::File::options().write(true).open(server.root().join("dated/readme.txt")).expect("open");
    // 2026-01-02 03:04:05 UTC.
    file.set_modified(std::time::UNIX_EPOCH + Duration::from_secs(1_767_323_045)).expect("set mtime");
    fs::create_dir(server.root().join("dated/folder")).expect("mkdir");
    let profile = tempfile::tempdir().expect("profile dir");
    let run = |extra: &str| {
        let mut command = Command::new(CHROMIUM);
        command
            .env("TZ", "Asia/Kolkata")
            .args(FLAGS)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(["--virtual-time-budget=3000", "--window-size=900,420", extra])
            .arg(url(&server, "/dated/"));
        run_ok(&mut command, Duration::from_secs(90))
    };
    let dom = String::from_utf8(run("--dump-dom").stdout).expect("UTF-8 DOM");
    let row = dom.lines().flat_map(|l| l.split("<tr")).find(|row| row.contains("readme.txt")).expect("the file's row");
    assert!(row.contains("<td title=\"2026-01-02 03:04:05 UTC\">2026-01-02 08:34<i>:05</i>"), "{row}");
    assert!(dom.contains(">Modified</button>"), "the column no longer says UTC");
    assert!(dom.contains("aria-current=\"page\">dated</a>"), "{dom}");
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    fs::create_dir_all(&shots).expect("screenshot dir");
    let png = shots.join("listing-local-time.png");
    run(&format!("--screenshot={}", png.display()));
    assert!(fs::read(&png).is_ok_and(|bytes| bytes.starts_with(b"\x89PNG")), "a screenshot");
}
