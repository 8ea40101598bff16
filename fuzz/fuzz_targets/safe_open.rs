//! Fuzzes opening request paths beneath a real root: `safe_path::resolve`
//! then `sys::fs::Root::open_node` / `Root::metadata`, against a temporary
//! tree full of symlinks (inside, outside, absolute, `..`, loops, dangling,
//! magic `/proc` links), a FIFO and a device, with both confinements.
//!
//! Input layout (see fuzz/README.md):
//! - byte 0: bit 0 = `dotfiles`;
//! - the rest: the request path, as UTF-8 (invalid sequences become U+FFFD).
//!
//! Properties asserted:
//! - nothing outside the root is ever opened: the (dev, ino) of every
//!   descriptor opened, by `openat2` (`Confinement::Beneath`) or by the
//!   `O_NOFOLLOW` walk (`Confinement::Walk`), is never one of the outside
//!   files' or directories' (the outside directory, its files, `/etc`,
//!   `/etc/passwd`, `/dev/zero`, `/`);
//! - what is opened for reading is a regular file or a directory, never
//!   the FIFO or a device (and the open returns: a blocking open would hang
//!   the run and libFuzzer's `-timeout` reports it);
//! - both confinements agree: the same inode, or both refuse.
#![no_main]

use std::collections::HashSet;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rawserve::fuzzing::{resolve, Confinement, Node, Root};

struct Tree {
    /// Kept so the tree lives as long as the process.
    _top: tempfile::TempDir,
    beneath: Root,
    walk: Root,
    outside: HashSet<(u64, u64)>,
}

/// Builds the tree once: `top/root` is served, `top/outside` is not.
fn tree() -> &'static Tree {
    static TREE: OnceLock<Tree> = OnceLock::new();
    TREE.get_or_init(|| {
        let top = tempfile::tempdir().expect("temp dir");
        let root = top.path().join("root");
        let outside = top.path().join("outside");
        for dir in ["a/b/c", "d", ".hidden"] {
            std::fs::create_dir_all(root.join(dir)).expect("mkdir");
        }
        std::fs::create_dir_all(outside.join("sub")).expect("mkdir");
        for (file, bytes) in [("index.html", "in"), ("a/x.txt", "ax"), ("a/b/c/y.txt", "y"), (".hidden/z", "z")] {
            std::fs::write(root.join(file), bytes).expect("write");
        }
        std::fs::write(outside.join("secret"), "outside").expect("write");
        std::fs::write(outside.join("sub/s"), "outside").expect("write");
        let links: &[(&str, PathBuf)] = &[
            ("in", "index.html".into()),
            ("a/up", "../index.html".into()),
            ("a/b/upup", "../../a/x.txt".into()),
            ("a/b/c/self", ".".into()),
            ("a/b/c/top", "../../..".into()),
            ("a/b/out", "../../../outside/secret".into()),
            ("a/b/c/outdir", "../../../../outside".into()),
            ("d/abs-out", outside.join("secret")),
            ("d/abs-dir", outside.clone()),
            ("d/abs-in", root.join("index.html")),
            ("d/etc", "/etc".into()),
            ("d/passwd", "/etc/passwd".into()),
            ("d/zero", "/dev/zero".into()),
            ("d/magic", "/proc/self/root/etc/passwd".into()),
            ("d/fd", "/proc/self/cwd".into()),
            ("loop1", "loop2".into()),
            ("loop2", "loop1".into()),
            ("selfloop", "selfloop".into()),
            ("dangling", "nowhere".into()),
            ("d/fifo-link", "../fifo".into()),
            ("d/via-top", "../a/b/c/top/a/b/c/top/index.html".into()),
            ("d/deep-out", "../a/b/c/top/../outside/secret".into()),
        ];
        for (name, target) in links {
            symlink(target, root.join(name)).expect("symlink");
        }
        rustix::fs::mkfifoat(rustix::fs::CWD, root.join("fifo").as_path(), rustix::fs::Mode::from_raw_mode(0o600))
            .expect("mkfifo");
        let mut outside_inodes = HashSet::new();
        let mut add = |path: &Path| {
            if let Ok(meta) = std::fs::metadata(path) {
                outside_inodes.insert((meta.dev(), meta.ino()));
            }
        };
        for path in [top.path(), &outside, &outside.join("secret"), &outside.join("sub"), &outside.join("sub/s")] {
            add(path);
        }
        for path in ["/", "/etc", "/etc/passwd", "/dev/zero", "/proc/self/root"] {
            add(Path::new(path));
        }
        let beneath = Root::open_with(&root, Confinement::Beneath).expect("root");
        let walk = Root::open_with(&root, Confinement::Walk).expect("root");
        Tree { _top: top, beneath, walk, outside: outside_inodes }
    })
}

/// What opening `rel` gave: the inode, or a refusal.
fn open(tree: &Tree, root: &Root, rel: &Path) -> Option<(u64, u64)> {
    let (dev, ino) = match root.open_node(rel).ok()? {
        Node::File(_, meta) => {
            assert!(meta.is_file());
            (meta.dev(), meta.ino())
        }
        Node::Directory(fd) => {
            let meta = std::fs::File::from(fd).metadata().expect("fstat");
            assert!(meta.is_dir());
            (meta.dev(), meta.ino())
        }
    };
    assert!(!tree.outside.contains(&(dev, ino)), "{rel:?} opened an outside inode with {:?}", root.confinement());
    Some((dev, ino))
}

/// What `Root::metadata` (the cache's check) names for `rel`.
fn name(tree: &Tree, root: &Root, rel: &Path) -> Option<(u64, u64)> {
    let meta = root.metadata(rel).ok()?;
    let id = (meta.dev(), meta.ino());
    assert!(!tree.outside.contains(&id), "{rel:?} named an outside inode with {:?}", root.confinement());
    Some(id)
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else { return };
    let dotfiles = control & 1 != 0;
    let path = String::from_utf8_lossy(rest);
    let Ok(rel) = resolve(&path, dotfiles) else { return };
    let tree = tree();
    let beneath = open(tree, &tree.beneath, &rel);
    let walked = open(tree, &tree.walk, &rel);
    assert_eq!(beneath, walked, "{rel:?}: openat2 and the walk disagree");
    let named = name(tree, &tree.beneath, &rel);
    let named_walk = name(tree, &tree.walk, &rel);
    assert_eq!(named, named_walk, "{rel:?}: O_PATH lookups disagree");
    // What can be opened can be named, as the same file (the FIFO can be
    // named but not opened).
    if beneath.is_some() {
        assert_eq!(beneath, named, "{rel:?}: opened and named differ");
    }
});
