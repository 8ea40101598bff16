//! Fuzzes `safe_path::resolve`, which maps a request path onto the served
//! directory, with arbitrary targets.
//!
//! Input layout (see fuzz/README.md):
//! - byte 0: bit 0 = `dotfiles` (the other bits are unused: `resolve`
//!   returns a root-relative path, so there is no root to choose);
//! - the rest: the path, as UTF-8 (invalid sequences become U+FFFD, since
//!   the server only ever passes a `&str`).
//!
//! Properties asserted, for `Ok(p)`:
//! - `p` is relative and every component is `Component::Normal` (so no
//!   `..`, no `.`, no root);
//! - no component starts with '.' unless `dotfiles`;
//! - no NUL or backslash byte anywhere in `p`.
//!
//! And in every case: `resolve` never panics; a path that resolves (or is
//! `Invalid`) without dotfiles gives the same with them; `Hidden` is only
//! ever returned without dotfiles.
#![no_main]

use std::os::unix::ffi::OsStrExt;
use std::path::Component;

use libfuzzer_sys::fuzz_target;
use rawserve::fuzzing::{resolve, PathError};

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else { return };
    let dotfiles = control & 1 != 0;
    let path = String::from_utf8_lossy(rest);

    let result = resolve(&path, dotfiles);
    match &result {
        Ok(p) => {
            assert!(p.is_relative(), "{path:?} -> {p:?} is not relative");
            let bytes = p.as_os_str().as_bytes();
            assert!(!bytes.contains(&0), "{path:?} -> {p:?} contains NUL");
            assert!(!bytes.contains(&b'\\'), "{path:?} -> {p:?} contains a backslash");
            for c in p.components() {
                match c {
                    Component::Normal(name) => assert!(
                        dotfiles || !name.as_bytes().starts_with(b"."),
                        "{path:?} -> {p:?}: hidden component {name:?} without dotfiles"
                    ),
                    other => panic!("{path:?} -> {p:?}: component {other:?} is not a plain name"),
                }
            }
            assert!(!p.components().any(|c| c == Component::ParentDir), "{path:?} -> {p:?} has '..'");
        }
        Err(PathError::Hidden) => assert!(!dotfiles, "resolve({path:?}) Hidden with dotfiles on"),
        Err(PathError::Invalid) => {}
    }

    // Allowing dotfiles only ever lets more through, and changes nothing else.
    if !dotfiles {
        let with = resolve(&path, true);
        match &result {
            Ok(_) | Err(PathError::Invalid) => assert_eq!(with, result, "{path:?}: dotfiles changed the answer"),
            Err(_) => assert_ne!(with, Err(PathError::Hidden), "{path:?}: Hidden with dotfiles on"),
        }
    }
});
