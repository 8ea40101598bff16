//! Why a write was refused, and how that is answered: the status, and a
//! sentence a person can act on (the listing page shows it as it is), in
//! a plain-text body. Each constructor is one kind of reason; system
//! errors are mapped to a status in one place ([`Refusal::io`]): a full
//! disk or quota is 507, a symlink on the way or a permission 403, a
//! missing folder 404, a file where a folder should be 409, anything
//! else 500 (logged, since the client is told little).

use std::ffi::OsStr;
use std::io;

use crate::http::response::Response;
use crate::sys::fs;

/// `Content-Type` of a refusal's sentence.
const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// A write that did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    status: u16,
    why: String,
}

impl Refusal {
    pub fn new(status: u16, why: impl Into<String>) -> Refusal {
        Refusal { status, why: why.into() }
    }

    /// More bytes than `--max-upload-bytes`.
    pub fn too_large(limit: u64) -> Refusal {
        Refusal::new(413, format!("the file is larger than this server takes ({limit} bytes, --max-upload-bytes)"))
    }

    /// The target exists and may not be replaced.
    pub fn exists(name: &OsStr) -> Refusal {
        Refusal::new(409, format!("{} exists already", name.to_string_lossy()))
    }

    /// The target is something a write may not replace.
    pub fn conflict(name: &OsStr, what: &str) -> Refusal {
        Refusal::new(409, format!("{} {what}", name.to_string_lossy()))
    }

    /// A name (or path) no write may create.
    pub fn bad_name(name: &str) -> Refusal {
        Refusal::new(
            400,
            format!(
                "{name:?} is not a name this server creates: names are UTF-8, at most 255 bytes, \
                 without a leading dot, /, \\ or control characters"
            ),
        )
    }

    /// A bug: what should not happen did.
    pub fn internal(what: &str) -> Refusal {
        Refusal::new(500, format!("internal error: {what}"))
    }

    /// A system error while `doing` something, by its errno.
    pub fn io(error: io::Error, doing: &str) -> Refusal {
        if fs::is_full(&error) {
            return Refusal::new(507, format!("{doing}: no space left on the server's disk (or quota)"));
        }
        if fs::is_link_refusal(&error) {
            return Refusal::new(403, format!("{doing}: a symlink is on the way, and writes never follow one"));
        }
        let status = match error.kind() {
            io::ErrorKind::NotFound => 404,
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => 403,
            io::ErrorKind::NotADirectory | io::ErrorKind::IsADirectory | io::ErrorKind::DirectoryNotEmpty => 409,
            io::ErrorKind::AlreadyExists => 409,
            io::ErrorKind::InvalidFilename => 400,
            io::ErrorKind::CrossesDevices => 409,
            _ => 500,
        };
        Refusal::new(status, format!("{doing}: {error}"))
    }

    #[cfg(test)]
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The answer: the status and the sentence, logged (a failure of the
    /// server's own as a warning).
    pub fn response(&self) -> Response {
        if self.status >= 500 && self.status != 507 {
            log::warn!("write failed: {}", self.why);
        } else {
            log::info!("write refused ({}): {}", self.status, self.why);
        }
        let text = format!("{} {}: {}\n", self.status, crate::http::response::reason(self.status), self.why);
        Response::page(self.status, TEXT_PLAIN, text.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped(errno: i32, status: u16) {
        let refusal = Refusal::io(io::Error::from_raw_os_error(errno), "writing");
        assert_eq!(refusal.status(), status, "errno {errno}: {refusal:?}");
    }

    #[test]
    fn system_errors_map_to_statuses() {
        mapped(libc::ENOSPC, 507);
        mapped(libc::EDQUOT, 507);
        mapped(libc::ELOOP, 403);
        mapped(libc::EXDEV, 403);
        mapped(libc::EACCES, 403);
        mapped(libc::EROFS, 403);
        mapped(libc::ENOENT, 404);
        mapped(libc::ENOTDIR, 409);
        mapped(libc::EISDIR, 409);
        mapped(libc::ENOTEMPTY, 409);
        mapped(libc::EEXIST, 409);
        mapped(libc::ENAMETOOLONG, 400);
        mapped(libc::EIO, 500);
    }

    #[test]
    fn the_answer_says_why() {
        let response = Refusal::too_large(10).response();
        assert_eq!(response.status, 413);
        let crate::http::response::Body::Bytes(body) = &response.body else { panic!("a page") };
        let text = String::from_utf8_lossy(body);
        assert!(text.starts_with("413 Content Too Large: the file is larger"), "{text}");
        assert!(text.contains("--max-upload-bytes"), "{text}");
    }
}
