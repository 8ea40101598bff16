//! Mapping a request path onto the file system without ever leaving the root.
//!
//! [`resolve`] is pure (no file system access): it percent-decodes the path,
//! refuses anything that could climb out of the root or hide a trick (`..`,
//! encoded or not, backslashes, NUL), and returns the rest as a path
//! relative to the root. Symlinks are the second line of defence's
//! business: `sys::fs::Root` opens that relative path beneath the root
//! handle so that no link can lead out (one resolution, no check-then-open
//! race). Deciding what to do with the file is left to the handlers.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use percent_encoding::percent_decode_str;

/// Why a path is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// Not an absolute path, or decodes to something no file name can hold
    /// (NUL, backslash) or to a `..` segment.
    Invalid,
    /// A segment starts with a dot and dotfiles are not served.
    Hidden,
}

impl PathError {
    /// Hidden paths answer 404, not 403, so nothing is revealed about what
    /// exists (as darkhttpd does).
    pub fn status(self) -> u16 {
        match self {
            PathError::Invalid => 400,
            PathError::Hidden => 404,
        }
    }
}

/// The one dot name served while dotfiles are hidden.
const WELL_KNOWN: &[u8] = b".well-known";

/// The percent-decoded `path` (the request target without its query) as a
/// path relative to the root: only `Normal` components, empty for the root
/// itself.
pub fn resolve(path: &str, dotfiles: bool) -> Result<PathBuf, PathError> {
    if !path.starts_with('/') {
        return Err(PathError::Invalid);
    }
    // Borrows `path` when it has nothing to decode.
    let decoded: Cow<[u8]> = percent_decode_str(path).into();
    if decoded.iter().any(|&b| b == 0 || b == b'\\') {
        return Err(PathError::Invalid);
    }
    let mut resolved = PathBuf::with_capacity(decoded.len());
    for segment in decoded.split(|&b| b == b'/') {
        match segment {
            b"" | b"." => continue,
            b".." => return Err(PathError::Invalid),
            s if is_hidden(s, dotfiles, resolved.as_os_str().is_empty()) => return Err(PathError::Hidden),
            s => resolved.push(OsStr::from_bytes(s)),
        }
    }
    Ok(resolved)
}

/// Whether the file name `name` (one path segment, raw bytes) is hidden:
/// the one rule for requests, listings and folder archives, so nothing is
/// listed that a request for it would refuse.
/// `at_root`: the name is directly in the root, where RFC 8615's
/// `.well-known` (ACME challenges, security.txt, assetlinks.json) is public
/// by design; dot names below it stay hidden.
/// An upload's temporary file (`TEMPORARY_PREFIX` and more) is hidden
/// even with `dotfiles`: it is never served, listed or archived.
pub fn is_hidden(name: &[u8], dotfiles: bool, at_root: bool) -> bool {
    name.first() == Some(&b'.')
        && (name.starts_with(TEMPORARY_PREFIX) || !(dotfiles || (at_root && name == WELL_KNOWN)))
}

/// How the names of the server's own temporary files begin (an upload
/// being written, a folder being removed): a dot name, and hidden by
/// [`is_hidden`] whatever `dotfiles` says.
pub const TEMPORARY_PREFIX: &[u8] = b".rawserve-";

/// Longest name a write may create: Linux's `NAME_MAX`, the most nearly
/// every local file system stores.
pub const MAX_NAME_BYTES: usize = 255;

/// Whether a write may create an entry called `name` (one path segment,
/// raw bytes): UTF-8 (so every client can show and send it back), at most
/// [`MAX_NAME_BYTES`], no `/`, backslash or control character (a name
/// with a line break or an escape is a trap for whoever lists the folder
/// in a terminal), not `.` or `..`, and never a dot name, even with
/// `dotfiles`: an upload must not plant `.htaccess`, `.git/hooks` or
/// `.ssh/authorized_keys`, nor pass for the server's own temporary files.
pub fn can_create(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_BYTES
        && name[0] != b'.'
        && std::str::from_utf8(name).is_ok()
        && !name.iter().any(|&b| b == b'/' || b == b'\\' || b < 0x20 || b == 0x7f)
}

/// Whether a request can name the file `name` (one path segment, raw
/// bytes) at all: [`resolve`] refuses hidden names and backslashes (and
/// NUL, which no file name holds), and `.` and `..` are not names. A
/// listing shows only names this allows, so every link it has can work.
pub fn can_name(name: &[u8], dotfiles: bool, at_root: bool) -> bool {
    !name.is_empty() && name != b"." && name != b".." && !is_hidden(name, dotfiles, at_root) && !name.contains(&b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(path: &str, expected: &str) {
        assert_eq!(resolve(path, false), Ok(PathBuf::from(expected)), "{path}");
    }
    fn refused(path: &str, why: PathError) {
        assert_eq!(resolve(path, false), Err(why), "{path}");
    }

    #[test]
    fn plain_paths() {
        ok("/", "");
        ok("/index.html", "index.html");
        ok("/a/b/", "a/b");
        ok("//a//b", "a/b");
        ok("/./a/./b", "a/b");
        ok("/space%20name.txt", "space name.txt");
        ok("/%E2%9C%93.txt", "\u{2713}.txt");
        ok("/a..b", "a..b");
        refused("/...", PathError::Hidden);
        refused("/...", PathError::Hidden);
        ok("/a%2fb", "a/b");
    }

    #[test]
    fn traversal() {
        refused("/..", PathError::Invalid);
        refused("/../etc/passwd", PathError::Invalid);
        refused("/a/../../etc/passwd", PathError::Invalid);
        refused("/%2e%2e/etc/passwd", PathError::Invalid);
        refused("/%2E%2E/etc/passwd", PathError::Invalid);
        refused("/.%2e/etc/passwd", PathError::Invalid);
        refused("/a%2f..%2f..%2fetc", PathError::Invalid);
        refused("/..%5cetc", PathError::Invalid);
        refused("/a\\b", PathError::Invalid);
        refused("/a%00.html", PathError::Invalid);
        refused("etc/passwd", PathError::Invalid);
        refused("", PathError::Invalid);
        refused("*", PathError::Invalid);
    }

    #[test]
    fn nameable_files() {
        let can = |name: &[u8], dotfiles| can_name(name, dotfiles, false);
        assert!(can(b"plain.txt", false));
        assert!(can(b"caf\xe9 & <x>.txt", false));
        assert!(can(b"a..b", false));
        assert!(!can(b".env", false));
        assert!(can(b".env", true));
        assert!(!can(b"back\\slash", true));
        assert!(!can(b"", true));
        assert!(!can(b".", true));
        assert!(!can(b"..", true));
        // .well-known is nameable in the root only, as resolve serves it.
        assert!(can_name(b".well-known", false, true));
        assert!(!can_name(b".well-known", false, false));
        assert!(!can_name(b".git", false, true));
        // What can_name allows, resolve accepts as that one name.
        assert_eq!(resolve("/caf%E9%20%26.txt", false), Ok(PathBuf::from(OsStr::from_bytes(b"caf\xe9 &.txt"))));
    }

    #[test]
    fn dotfiles() {
        refused("/.git/config", PathError::Hidden);
        refused("/a/.env", PathError::Hidden);
        refused("/%2egit", PathError::Hidden);
        assert_eq!(resolve("/.well-known/x", true), Ok(PathBuf::from(".well-known/x")));
        ok("/.well-known/acme-challenge/tok", ".well-known/acme-challenge/tok");
        ok("/%2ewell-known/security.txt", ".well-known/security.txt");
        ok("/.well-known/", ".well-known");
        ok("//./.well-known/x", ".well-known/x");
        refused("/.well-known/.git/config", PathError::Hidden);
        refused("/a/.well-known/x", PathError::Hidden);
        refused("/.well-known/../.git/config", PathError::Invalid);
        refused("/.WELL-KNOWN/x", PathError::Hidden);
        refused("/.git/config", PathError::Hidden);
    }

    #[test]
    fn temporary_files_are_hidden_even_with_dotfiles() {
        for dotfiles in [false, true] {
            assert!(is_hidden(b".rawserve-upload-0123abcd", dotfiles, true), "{dotfiles}");
            assert!(!can_name(b".rawserve-upload-0123abcd", dotfiles, false), "{dotfiles}");
            assert_eq!(resolve("/a/.rawserve-upload-x", dotfiles), Err(PathError::Hidden), "{dotfiles}");
            assert_eq!(resolve("/%2erawserve-gone-x/f", dotfiles), Err(PathError::Hidden), "{dotfiles}");
        }
        assert!(!is_hidden(b"rawserve-upload", false, true));
        assert!(!is_hidden(b".rawserv", true, true));
    }

    fn creatable(name: &[u8], expected: bool) {
        assert_eq!(can_create(name), expected, "{:?}", String::from_utf8_lossy(name));
    }

    #[test]
    fn names_a_write_may_create() {
        creatable(b"report.pdf", true);
        creatable("caf\u{e9} \u{2713} (1).txt".as_bytes(), true);
        creatable(b"a..b", true);
        creatable(&[b'x'; MAX_NAME_BYTES], true);
        creatable(&[b'x'; MAX_NAME_BYTES + 1], false);
        creatable(b"", false);
        creatable(b".", false);
        creatable(b"..", false);
        creatable(b".htaccess", false);
        creatable(b".rawserve-upload-x", false);
        creatable(b"a/b", false);
        creatable(b"a\\b", false);
        creatable(b"nul\0byte", false);
        creatable(b"line\nbreak", false);
        creatable(b"esc\x1b[31m", false);
        creatable(b"del\x7f", false);
        creatable(b"caf\xe9", false);
    }
}
