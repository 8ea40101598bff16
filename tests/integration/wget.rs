//! GNU wget end to end: a recursive download that can only find the files
//! by following rawserve's generated directory listings.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::*;

/// wget's own `--timeout=10 --tries=1` bounds each request; this bounds the
/// whole run.
const WGET_LIMIT: Duration = Duration::from_secs(60);

/// Files (relative to the directory) below `dir`, recursively.
fn files_below(dir: &Path) -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).expect("read_dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.insert(path.strip_prefix(dir).expect("below dir").to_path_buf());
            }
        }
    }
    found
}

#[test]
fn wget_mirrors_a_tree_through_directory_listings() {
    if !have_tool("wget") {
        return;
    }
    // No index.html anywhere: every folder is answered with a listing.
    let root = tempfile::tempdir().expect("temp dir");
    let site = root.path().join("site");
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    let fixture: Vec<(&str, Vec<u8>)> = vec![
        ("top.txt", b"top level\n".to_vec()),
        ("kib.bin", kib_contents()),
        ("all bytes.bin", all_bytes),
        ("space name.txt", b"a name with a space\n".to_vec()),
        ("100% & more #1;x=y?.txt", b"reserved characters\n".to_vec()),
        ("a+b=c's [x].txt", b"more punctuation\n".to_vec()),
        ("a dir/b.txt", b"in a folder with a space\n".to_vec()),
        ("a dir/deeper/日本語 ファイル.txt", "unicode: 日本語\n".as_bytes().to_vec()),
        ("a dir/deeper/deepest/café.bin", vec![0, 1, 2, 3, 0xff]),
        ("ünïcödé/naïve.md", "# naïve\n".as_bytes().to_vec()),
        ("empty dir sibling/empty.txt", Vec::new()),
    ];
    for (name, contents) in &fixture {
        write(&site, name, contents);
    }
    std::fs::create_dir(site.join("empty dir")).expect("empty dir");
    // Beside the mirrored folder: reachable only through a "../" link,
    // which -np (no parent) must not follow.
    write(root.path(), "outside.txt", b"not part of the mirror");
    let server = serve_dir(root.path());

    let out_dir = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new("wget");
    command
        .args(["--no-config", "-r", "-np", "-nH", "--timeout=10", "--tries=1", "-P"])
        .arg(out_dir.path())
        .arg(format!("http://{}/site/", server.local_addr()))
        .current_dir(out_dir.path());
    let output = run_ok(&mut command, WGET_LIMIT);
    let log = String::from_utf8_lossy(&output.stderr);

    // Everything wget saved is under site/ (nothing from the parent).
    let top: Vec<_> = std::fs::read_dir(out_dir.path()).expect("out dir").map(|e| e.unwrap().file_name()).collect();
    assert_eq!(top, ["site"], "wget saved more than the folder:\n{log}");
    let mirror = out_dir.path().join("site");

    // Every fixture file, byte for byte, under the same (decoded) name.
    for (name, contents) in &fixture {
        let saved = std::fs::read(mirror.join(name))
            .unwrap_or_else(|e| panic!("{name:?} missing from the mirror ({e}); wget said:\n{log}"));
        assert!(saved == *contents, "{name:?} differs in the mirror");
    }

    // Nothing else, apart from the listing pages wget saves as index.html
    // (one per folder it walked, including the empty one).
    let expected: BTreeSet<PathBuf> = fixture.iter().map(|(name, _)| PathBuf::from(name)).collect();
    let mut listings = 0;
    for path in files_below(&mirror) {
        if expected.contains(&path) {
            continue;
        }
        assert_eq!(path.file_name().and_then(|n| n.to_str()), Some("index.html"), "unexpected file {path:?}");
        let page = std::fs::read_to_string(mirror.join(&path)).expect("listing page");
        assert!(page.contains("Index of /site/"), "{path:?} is not a listing:\n{page}");
        listings += 1;
    }
    // site/, a dir/, deeper/, deepest/, ünïcödé/, empty dir sibling/, empty dir/
    assert_eq!(listings, 7, "listings saved: {listings}\n{log}");
}

/// Sets `path`'s modification time to `secs_ago` seconds before now.
fn age(path: &Path, secs_ago: u64) {
    let when = std::time::SystemTime::now() - Duration::from_secs(secs_ago);
    std::fs::File::open(path).and_then(|f| f.set_modified(when)).expect("set mtime");
}

/// `wget --mirror` once, then again after a file two folders down changed
/// (same size, a later time): the second run must fetch it. Listings carry
/// no `Last-Modified`, so wget cannot get a 304 for the top listing and stop
/// there; it reads each listing again and revalidates each file by date.
#[test]
fn wget_mirror_again_fetches_a_file_changed_two_folders_down() {
    if !have_tool("wget") {
        return;
    }
    let root = tempfile::tempdir().expect("temp dir");
    let site = root.path().join("site");
    let deep = site.join("a/b/f.txt");
    for (name, contents) in
        [("top.txt", &b"top level\n"[..]), ("a/mid.txt", b"middle\n"), ("a/b/f.txt", b"version one\n")]
    {
        write(&site, name, contents);
        age(&site.join(name), 100);
    }
    for dir in ["a/b", "a", ""] {
        age(&site.join(dir), 100);
    }
    let server = serve_dir(root.path());
    let out_dir = tempfile::tempdir().expect("temp dir");
    let mirror = || {
        let mut command = Command::new("wget");
        command
            .args(["--no-config", "--mirror", "-np", "-nH", "--timeout=10", "--tries=1", "-P"])
            .arg(out_dir.path())
            .arg(format!("http://{}/site/", server.local_addr()))
            .current_dir(out_dir.path());
        String::from_utf8_lossy(&run_ok(&mut command, WGET_LIMIT).stderr).into_owned()
    };
    let log = mirror();
    let saved = out_dir.path().join("site/a/b/f.txt");
    assert_eq!(std::fs::read(&saved).unwrap_or_default(), b"version one\n", "first mirror:\n{log}");

    // Same size, in place, later than the copy wget dated by Last-Modified;
    // the folders' own times do not move (an in-place write leaves them).
    std::fs::write(&deep, b"version two\n").expect("rewrite");
    age(&deep, 10);
    let log = mirror();
    assert_eq!(std::fs::read(&saved).expect("still mirrored"), b"version two\n", "second mirror:\n{log}");
    assert_eq!(std::fs::read(out_dir.path().join("site/top.txt")).expect("top"), b"top level\n");
}
