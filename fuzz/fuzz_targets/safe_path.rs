//! Fuzzes `safe_path::resolve`, which maps a request path onto the served
//! directory, with arbitrary targets.
//!
//! Input layout (see fuzz/README.md):
//! - byte 0: bit 0 = `dotfiles`; bit 1 picks the root: "/srv/www" when
//!   clear, the relative "public" (as `Config::new("public")` has) when set;
//! - the rest: the path, as UTF-8 (invalid sequences become U+FFFD, since
//!   the server only ever passes a `&str`).
//!
//! Properties asserted, for `Ok(p)`:
//! - `p.starts_with(root)` (component-wise), and every component after the
//!   root is `Component::Normal` (so no `..`, no `.`, no second root);
//! - no component after the root starts with '.' unless `dotfiles`;
//! - no NUL or backslash byte anywhere in `p`.
//!
//! And in every case: `resolve` never panics and never returns
//! `PathError::Outside` (that is `confine`'s answer); a path that resolves
//! (or is `Invalid`) without dotfiles gives the same with them; `Hidden` is
//! only ever returned without dotfiles.
#![no_main]

use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

use libfuzzer_sys::fuzz_target;
use rawserve::fuzzing::{resolve, PathError};

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else { return };
    let dotfiles = control & 1 != 0;
    let root = Path::new(if control & 2 != 0 { "public" } else { "/srv/www" });
    let path = String::from_utf8_lossy(rest);

    let result = resolve(root, &path, dotfiles);
    match &result {
        Ok(p) => {
            assert!(p.starts_with(root), "{path:?} -> {p:?} is not under {root:?}");
            let bytes = p.as_os_str().as_bytes();
            assert!(!bytes.contains(&0), "{path:?} -> {p:?} contains NUL");
            assert!(!bytes.contains(&b'\\'), "{path:?} -> {p:?} contains a backslash");
            let rel = p.strip_prefix(root).expect("starts with the root");
            for c in rel.components() {
                match c {
                    Component::Normal(name) => assert!(
                        dotfiles || !name.as_bytes().starts_with(b"."),
                        "{path:?} -> {p:?}: hidden component {name:?} without dotfiles"
                    ),
                    other => panic!("{path:?} -> {p:?}: component {other:?} after the root"),
                }
            }
            assert!(!p.components().any(|c| c == Component::ParentDir), "{path:?} -> {p:?} has '..'");
        }
        Err(PathError::Outside) => panic!("resolve({path:?}) returned Outside, which only confine may"),
        Err(PathError::Hidden) => assert!(!dotfiles, "resolve({path:?}) Hidden with dotfiles on"),
        Err(PathError::Invalid) => {}
    }

    // Allowing dotfiles only ever lets more through, and changes nothing else.
    if !dotfiles {
        let with = resolve(root, &path, true);
        match &result {
            Ok(_) | Err(PathError::Invalid) => assert_eq!(with, result, "{path:?}: dotfiles changed the answer"),
            Err(_) => assert_ne!(with, Err(PathError::Hidden), "{path:?}: Hidden with dotfiles on"),
        }
    }
});
