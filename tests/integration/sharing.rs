//! Sharing a folder (issue 22): `--hidden` over real sockets (404 on
//! GET, never a redirect or an index page that tells, left out of
//! listings, tars and zips), and the streamed zip checked by Info-ZIP's
//! `unzip -t` and Python's `zipfile`.

use std::process::Command;
use std::time::Duration;

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
