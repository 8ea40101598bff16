//! Where a write lands, from the request alone (pure, table-tested): the
//! folder below the root and the name in it, for the request path, a
//! file name in a form (a folder upload's relative path) and a `MOVE`'s
//! `Destination`. Paths are read by `safe_path::resolve`'s rules (no
//! `..`, encoded or not, no NUL or backslash, no dot names); a name that
//! will be *created* must also pass `safe_path::can_create`. Opening
//! anything is `sys::fs`'s, beneath the root and through no symlink.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use super::refusal::Refusal;
use crate::safe_path::{self, PathError};

/// Most path segments below the root a write may reach, or make in one
/// go: a browser's folder upload keeps the tree, and no real tree is this
/// deep, while each folder made costs a `mkdir`, an `fsync` and a handle
/// held until its file lands.
pub const MAX_DEPTH: usize = 64;

/// A place below the root: a folder and a name in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The folder, relative to the root (empty for the root itself).
    pub folder: PathBuf,
    pub name: OsString,
}

impl Place {
    /// The whole path below the root.
    pub fn path(&self) -> PathBuf {
        self.folder.join(&self.name)
    }
}

/// Whether a place's name (and folders) will be made, or must exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Made by this write: every segment must be creatable.
    New,
    /// Named only (removed, moved away): any name a request can name.
    Existing,
}

/// The folder below the root that `target` (a request path, below the
/// route's prefix) names: the root for `/`.
pub fn folder(target: &str, role: Role) -> Result<PathBuf, Refusal> {
    let path = resolve(target)?;
    check(&path, role, target)?;
    Ok(path)
}

/// The place `target` names; the root itself is none (409: it cannot be
/// written, removed or moved).
pub fn place(target: &str, role: Role) -> Result<Place, Refusal> {
    let path = folder(target, role)?;
    split(path).ok_or_else(|| Refusal::new(409, "the root folder itself cannot be written, removed or moved"))
}

/// The place of a file named `relative` (a form's file name: `a.txt`, or
/// `dir/sub/a.txt` from a folder upload) in the folder `base`. Every
/// segment is created if missing, so every one must be creatable; `..`,
/// `.`, an empty segment or a leading `/` is refused, never resolved.
pub fn place_in(base: &Path, relative: &str) -> Result<Place, Refusal> {
    let mut path = base.to_path_buf();
    for segment in relative.split('/') {
        if !safe_path::can_create(segment.as_bytes()) {
            return Err(Refusal::bad_name(relative));
        }
        path.push(segment);
    }
    if path.components().count() > MAX_DEPTH {
        return Err(Refusal::new(400, format!("{relative:?} is deeper than {MAX_DEPTH} folders")));
    }
    split(path).ok_or_else(|| Refusal::bad_name(relative))
}

/// The request path a `Destination` field names (RFC 4918 §10.3: an
/// absolute URI, which must name this server, or an absolute path), its
/// query refused. `host` is the request's own `Host`.
pub fn destination<'d>(value: &'d str, host: Option<&str>) -> Result<&'d str, Refusal> {
    let value = value.trim();
    let path = if value.starts_with('/') {
        value
    } else {
        let rest = strip_scheme(value).ok_or_else(|| Refusal::new(400, "Destination is not a URI"))?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if !host.is_some_and(|host| authority.eq_ignore_ascii_case(host)) {
            return Err(Refusal::new(502, "Destination names another server"));
        }
        if path.is_empty() {
            "/"
        } else {
            path
        }
    };
    if path.contains(['?', '#']) {
        return Err(Refusal::new(400, "Destination has a query or fragment"));
    }
    Ok(path)
}

/// `value` without `http://` or `https://` (any case).
fn strip_scheme(value: &str) -> Option<&str> {
    ["http://", "https://"].iter().find_map(|scheme| {
        let head = value.get(..scheme.len())?;
        head.eq_ignore_ascii_case(scheme).then(|| &value[scheme.len()..])
    })
}

/// `safe_path::resolve` without dot names, its refusals as answers.
fn resolve(target: &str) -> Result<PathBuf, Refusal> {
    safe_path::resolve(target, false).map_err(|e| match e {
        PathError::Invalid => Refusal::new(400, format!("{target:?} is not a path this server writes")),
        // As for reads: nothing said about what is there.
        PathError::Hidden => Refusal::new(404, format!("{target:?} is hidden")),
    })
}

/// Checks the depth, and for a new place each segment's name.
fn check(path: &Path, role: Role, target: &str) -> Result<(), Refusal> {
    if path.components().count() > MAX_DEPTH {
        return Err(Refusal::new(400, format!("{target:?} is deeper than {MAX_DEPTH} folders")));
    }
    if role == Role::New {
        for component in path.components() {
            if let Component::Normal(name) = component {
                if !safe_path::can_create(name.as_bytes()) {
                    return Err(Refusal::bad_name(&name.to_string_lossy()));
                }
            }
        }
    }
    Ok(())
}

/// The folder and last name of a path below the root; `None` for the root.
fn split(path: PathBuf) -> Option<Place> {
    let name = path.file_name()?.to_owned();
    let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Some(Place { folder, name })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    fn at(folder: &str, name: &str) -> Result<Place, u16> {
        Ok(Place { folder: PathBuf::from(folder), name: OsString::from(name) })
    }

    fn placed(target: &str, role: Role, expected: Result<Place, u16>) {
        assert_eq!(place(target, role).map_err(|r| r.status()), expected, "{target:?} {role:?}");
    }

    #[test]
    fn request_paths() {
        use Role::{Existing, New};
        placed("/a.txt", New, at("", "a.txt"));
        placed("/docs/sub/a%20b.txt", New, at("docs/sub", "a b.txt"));
        placed("/docs/new/", New, at("docs", "new"));
        placed("/", New, Err(409));
        placed("/../etc/passwd", New, Err(400));
        placed("/%2e%2e/etc/passwd", New, Err(400));
        placed("/a/%2E%2E/%2E%2E/x", New, Err(400));
        placed("/a%2f..%2fb", New, Err(400));
        placed("/a\\b", New, Err(400));
        placed("/x%00y", New, Err(400));
        placed("/.htaccess", New, Err(404));
        placed("/.git/hooks/pre-commit", New, Err(404));
        placed("/sub/.ssh/authorized_keys", New, Err(404));
        placed("/.rawserve-upload-0123", Existing, Err(404));
        placed("relative", New, Err(400));
        placed("/caf%E9", New, Err(400));
        let latin1 = Place { folder: PathBuf::new(), name: OsStr::from_bytes(b"caf\xe9").to_owned() };
        placed("/caf%E9", Existing, Ok(latin1));
        placed("/line%0Abreak", New, Err(400));
        placed("/line%0Abreak", Existing, at("", "line\nbreak"));
        let deep = "/d".repeat(MAX_DEPTH + 1);
        placed(&deep, New, Err(400));
        placed(
            &"/d".repeat(MAX_DEPTH),
            New,
            Ok(Place { folder: PathBuf::from("d/".repeat(MAX_DEPTH - 1)), name: "d".into() }),
        );
        assert_eq!(folder("/", Role::New).map_err(|r| r.status()), Ok(PathBuf::new()));
        assert_eq!(folder("/up/..", Role::New).map_err(|r| r.status()), Err(400));
    }

    fn form_name(base: &str, relative: &str, expected: Result<Place, u16>) {
        assert_eq!(place_in(Path::new(base), relative).map_err(|r| r.status()), expected, "{base:?} {relative:?}");
    }

    #[test]
    fn form_file_names() {
        form_name("", "a.txt", at("", "a.txt"));
        form_name("docs", "photos/2024/a.jpg", at("docs/photos/2024", "a.jpg"));
        form_name("", "../a.txt", Err(400));
        form_name("", "a/../../b", Err(400));
        form_name("", "/etc/passwd", Err(400));
        form_name("", "a//b", Err(400));
        form_name("", "./a", Err(400));
        form_name("", ".env", Err(400));
        form_name("", "dir/.git/config", Err(400));
        form_name("", "a\\b", Err(400));
        form_name("", "", Err(400));
        let deepest = vec!["x"; MAX_DEPTH].join("/");
        let folder = PathBuf::from(vec!["x"; MAX_DEPTH - 1].join("/"));
        form_name("", &deepest, Ok(Place { folder, name: "x".into() }));
        form_name("", &format!("{deepest}/x"), Err(400));
    }

    #[test]
    fn destinations() {
        let host = Some("example.test:8080");
        let cases: &[(&str, Result<&str, u16>)] = &[
            ("/new/name.txt", Ok("/new/name.txt")),
            ("http://example.test:8080/new%20name", Ok("/new%20name")),
            ("HTTPS://Example.Test:8080/a", Ok("/a")),
            ("http://example.test:8080", Ok("/")),
            ("http://elsewhere.test/a", Err(502)),
            ("http://example.test:8081/a", Err(502)),
            ("ftp://example.test:8080/a", Err(400)),
            ("name.txt", Err(400)),
            ("/a?b=c", Err(400)),
            ("/a#frag", Err(400)),
        ];
        for (value, expected) in cases {
            assert_eq!(destination(value, host).map_err(|r| r.status()), *expected, "{value}");
        }
        assert_eq!(destination("http://example.test/a", None).map_err(|r| r.status()), Err(502));
    }
}
