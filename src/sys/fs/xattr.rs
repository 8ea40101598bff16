//! Extended attributes of a file or folder, by its open descriptor: where
//! WebDAV keeps dead properties (`PROPPATCH`), with the file, so they
//! move with it and go when it goes. What is stored, and under which
//! names, is `handlers::dav`'s; this module only reads, writes and lists
//! names, through rustix's safe API, and never resolves a path.

use std::ffi::CStr;
use std::io;
use std::os::fd::AsFd;

use rustix::fs::XattrFlags;

/// Largest value Linux stores in one attribute (`XATTR_SIZE_MAX`); most
/// file systems store far less (ext4: what fits in one block, with the
/// other attributes), and say so with `ENOSPC` or `E2BIG`.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// Largest list of names read (`XATTR_LIST_MAX`).
const MAX_LIST_BYTES: usize = 64 * 1024;

/// The names of `fd`'s attributes that start with `prefix`.
pub fn names(fd: impl AsFd, prefix: &[u8]) -> io::Result<Vec<Vec<u8>>> {
    let mut list = Vec::with_capacity(1024);
    loop {
        match rustix::fs::flistxattr(fd.as_fd(), rustix::buffer::spare_capacity(&mut list)) {
            Ok(_) => break,
            Err(rustix::io::Errno::RANGE) if list.capacity() < MAX_LIST_BYTES => {
                list.reserve(MAX_LIST_BYTES);
            }
            // No attributes on this file system: none to list.
            Err(rustix::io::Errno::OPNOTSUPP) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(list.split(|&b| b == 0).filter(|name| name.starts_with(prefix)).map(<[u8]>::to_vec).collect())
}

/// The value of `fd`'s attribute `name`; `None` when it has none.
pub fn get(fd: impl AsFd, name: &CStr) -> io::Result<Option<Vec<u8>>> {
    let mut value = Vec::with_capacity(256);
    loop {
        match rustix::fs::fgetxattr(fd.as_fd(), name, rustix::buffer::spare_capacity(&mut value)) {
            Ok(_) => return Ok(Some(value)),
            Err(rustix::io::Errno::RANGE) if value.capacity() < MAX_VALUE_BYTES => value.reserve(MAX_VALUE_BYTES),
            Err(rustix::io::Errno::NODATA | rustix::io::Errno::OPNOTSUPP) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Sets `fd`'s attribute `name` to `value`.
pub fn set(fd: impl AsFd, name: &CStr, value: &[u8]) -> io::Result<()> {
    Ok(rustix::fs::fsetxattr(fd.as_fd(), name, value, XattrFlags::empty())?)
}

/// Removes `fd`'s attribute `name`; one it does not have is fine.
pub fn remove(fd: impl AsFd, name: &CStr) -> io::Result<()> {
    match rustix::fs::fremovexattr(fd.as_fd(), name) {
        Err(rustix::io::Errno::NODATA) => Ok(()),
        other => Ok(other?),
    }
}

/// Whether `error` says the file system keeps no such attributes.
pub fn is_unsupported(error: &io::Error) -> bool {
    error.raw_os_error() == Some(libc::EOPNOTSUPP)
}

/// Whether `error` says the value does not fit (too large, or no room
/// left for attributes on this file).
pub fn is_too_large(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::E2BIG | libc::ENOSPC | libc::ERANGE | libc::EDQUOT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_list_remove() {
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::File::create(dir.path().join("f")).unwrap();
        match set(&file, c"user.dav.test", b"value") {
            Err(e) if is_unsupported(&e) => {
                eprintln!("skipped: this file system keeps no user attributes");
                return;
            }
            other => other.unwrap(),
        }
        set(&file, c"user.other", b"x").unwrap();
        assert_eq!(get(&file, c"user.dav.test").unwrap().as_deref(), Some(&b"value"[..]));
        assert_eq!(get(&file, c"user.dav.none").unwrap(), None);
        assert_eq!(names(&file, b"user.dav.").unwrap(), vec![b"user.dav.test".to_vec()]);
        let large = vec![b'x'; 8000];
        set(&file, c"user.dav.large", &large).unwrap_or_else(|e| assert!(is_too_large(&e), "{e}"));
        remove(&file, c"user.dav.test").unwrap();
        remove(&file, c"user.dav.test").unwrap();
        assert_eq!(get(&file, c"user.dav.test").unwrap(), None);
    }
}
