//! Mapping a request path onto the file system without ever leaving the root.
//!
//! [`resolve`] is pure (no file system access): it percent-decodes the path,
//! refuses anything that could climb out of the root or hide a trick (`..`,
//! encoded or not, backslashes, NUL), and joins the rest onto the root.
//! [`confine`] is the second line of defence, for symlinks: it asks the file
//! system where a path really leads. Deciding what to do with the file is
//! left to the handlers.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use percent_encoding::percent_decode_str;

/// Why a path is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// Not an absolute path, or decodes to something no file name can hold
    /// (NUL, backslash) or to a `..` segment.
    Invalid,
    /// A segment starts with a dot and dotfiles are not served.
    Hidden,
    /// It resolves (through a symlink) to somewhere outside the root.
    Outside,
}

impl PathError {
    /// Hidden and outside paths answer 404, not 403, so nothing is revealed
    /// about what exists (as darkhttpd does).
    // Unused inside the crate (files.rs maps the variants itself); it was
    // reachable while this module was public. Use it or drop it on merge.
    #[allow(dead_code)]
    pub fn status(self) -> u16 {
        match self {
            PathError::Invalid => 400,
            PathError::Hidden | PathError::Outside => 404,
        }
    }
}

/// Joins the percent-decoded `path` (the request target without its query)
/// onto `root`.
pub fn resolve(root: &Path, path: &str, dotfiles: bool) -> Result<PathBuf, PathError> {
    if !path.starts_with('/') {
        return Err(PathError::Invalid);
    }
    // Borrows `path` when it has nothing to decode.
    let decoded: Cow<[u8]> = percent_decode_str(path).into();
    if decoded.iter().any(|&b| b == 0 || b == b'\\') {
        return Err(PathError::Invalid);
    }
    let mut resolved = PathBuf::with_capacity(root.as_os_str().len() + decoded.len() + 1);
    resolved.push(root);
    for segment in decoded.split(|&b| b == b'/') {
        match segment {
            b"" | b"." => continue,
            b".." => return Err(PathError::Invalid),
            s if s[0] == b'.' && !dotfiles => return Err(PathError::Hidden),
            s => resolved.push(OsStr::from_bytes(s)),
        }
    }
    Ok(resolved)
}

/// Checks that `path`, with every symlink followed, is still inside
/// `canonical_root` (which must itself be canonical). Returns the real path.
pub fn confine(canonical_root: &Path, path: &Path) -> std::io::Result<Result<PathBuf, PathError>> {
    let real = path.canonicalize()?;
    if real.starts_with(canonical_root) {
        Ok(Ok(real))
    } else {
        Ok(Err(PathError::Outside))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "/srv/www";

    fn ok(path: &str, expected: &str) {
        assert_eq!(resolve(Path::new(ROOT), path, false), Ok(PathBuf::from(expected)), "{path}");
    }
    fn refused(path: &str, why: PathError) {
        assert_eq!(resolve(Path::new(ROOT), path, false), Err(why), "{path}");
    }

    #[test]
    fn plain_paths() {
        ok("/", "/srv/www");
        ok("/index.html", "/srv/www/index.html");
        ok("/a/b/", "/srv/www/a/b");
        ok("//a//b", "/srv/www/a/b");
        ok("/./a/./b", "/srv/www/a/b");
        ok("/space%20name.txt", "/srv/www/space name.txt");
        ok("/%E2%9C%93.txt", "/srv/www/\u{2713}.txt");
        ok("/a..b", "/srv/www/a..b");
        refused("/...", PathError::Hidden);
        refused("/...", PathError::Hidden);
        ok("/a%2fb", "/srv/www/a/b");
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
    fn dotfiles() {
        refused("/.git/config", PathError::Hidden);
        refused("/a/.env", PathError::Hidden);
        refused("/%2egit", PathError::Hidden);
        assert_eq!(resolve(Path::new(ROOT), "/.well-known/x", true), Ok(PathBuf::from("/srv/www/.well-known/x")));
    }
}
