//! Socket and process-limit calls: receiving into uninitialised memory,
//! sending with a "more follows" hint, sending a file range, the listen
//! backlog, `TCP_NODELAY`, the open-file limit, and handing freed heap back
//! to the OS.
//!
//! Two implementations with the same names: `fast` (Linux: `sendfile(2)`,
//! `MSG_MORE`, `TCP_NODELAY` set once on the listener and inherited by
//! accepted sockets, a short read means the socket is drained) and `portable`
//! (any Unix, or Linux with the `portable-io` feature: `pread` + `send` from a
//! bounded buffer, no `MSG_MORE`, `TCP_NODELAY` per socket, read until
//! `WouldBlock` as mio documents). Deciding what to send, and when, is the
//! connection's business, not this module's.

use std::fs::File;
use std::io;
use std::mem::MaybeUninit;
use std::net::TcpListener;
use std::os::fd::{AsFd, AsRawFd};

#[cfg(all(target_os = "linux", not(feature = "portable-io")))]
pub use fast::*;
#[cfg(not(all(target_os = "linux", not(feature = "portable-io"))))]
pub use portable::*;

/// `recv(2)` into `buffer`, which need not be initialised; returns the bytes
/// received (empty at end of stream).
pub fn recv(socket: impl AsFd, buffer: &mut [MaybeUninit<u8>]) -> io::Result<&[u8]> {
    let fd = socket.as_fd().as_raw_fd();
    // SAFETY: the kernel writes at most `buffer.len()` bytes into memory we
    // own mutably for the call; nothing reads it before it is written.
    let n = unsafe { libc::recv(fd, buffer.as_mut_ptr().cast(), buffer.len(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // OK: non-negative here, and at most buffer.len().
    let n = n as usize;
    // SAFETY: recv initialised the first `n` bytes (n <= buffer.len()).
    Ok(unsafe { std::slice::from_raw_parts(buffer.as_ptr().cast::<u8>(), n) })
}

/// Replaces the listen backlog of a listening socket (std fixes it at 128).
/// Listening again on a listening socket only changes its backlog.
pub fn set_listen_backlog(listener: &TcpListener, backlog: i32) -> io::Result<()> {
    // SAFETY: plain listen(2) on a socket the caller owns.
    if unsafe { libc::listen(listener.as_raw_fd(), backlog) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether `accept` failed for lack of descriptors or memory (the pending
/// connection stays queued until something is freed), rather than because
/// of the one connection.
pub fn is_resource_exhaustion(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM))
}

/// Raises this process's soft limit on open files to its hard limit; returns
/// the new soft limit.
pub fn raise_fd_limit() -> io::Result<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `limit` is a valid rlimit for the kernel to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: as above; raising the soft limit up to the hard one is allowed.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(limit.rlim_cur)
}

/// Gives heap memory that was freed back to the OS. glibc keeps freed
/// blocks in its arenas (9,000 released 16 KB heads stayed resident as
/// ~70 MB); `malloc_trim(0)` returns them. Elsewhere it does nothing.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own arenas; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn set_nodelay_raw(fd: i32) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt(2) with a valid pointer to an int of the size given.
    let set = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if set != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `send(2)` with the given extra flags, never raising SIGPIPE where the
/// platform has a per-call flag for it.
fn send_with(socket: impl AsFd, bytes: &[u8], flags: libc::c_int) -> io::Result<usize> {
    let fd = socket.as_fd().as_raw_fd();
    // SAFETY: `bytes` is a valid slice for the duration of the call.
    let n = unsafe { libc::send(fd, bytes.as_ptr().cast(), bytes.len(), flags | NO_SIGPIPE) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd"
))]
const NO_SIGPIPE: libc::c_int = libc::MSG_NOSIGNAL;
/// Apple targets have no MSG_NOSIGNAL; `prepare_accepted` sets SO_NOSIGPIPE.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd"
)))]
const NO_SIGPIPE: libc::c_int = 0;

/// Linux: zero-copy and segment-saving calls.
#[cfg(all(target_os = "linux", not(feature = "portable-io")))]
mod fast {
    use super::*;

    /// On Linux, a read that returns less than was asked for means the socket
    /// buffer is drained (epoll(7)), so an edge-triggered reader can stop
    /// without another call that would only say `WouldBlock`.
    pub const SHORT_READ_MEANS_DRAINED: bool = true;

    /// Sets `TCP_NODELAY` on the listener. Accepted sockets inherit it on
    /// Linux, so it costs no call per connection. Responses leave in one
    /// write (or MSG_MORE, then sendfile), so Nagle's delay would only hold
    /// back pipelined answers.
    pub fn set_nodelay_for_accepted(listener: &TcpListener) -> io::Result<()> {
        set_nodelay_raw(listener.as_raw_fd())
    }

    /// Per-socket set-up of an accepted connection: none on Linux (see
    /// [`set_nodelay_for_accepted`]).
    pub fn prepare_accepted(_socket: impl AsFd) -> io::Result<()> {
        Ok(())
    }

    /// `send(2)`; with `more`, `MSG_MORE` holds a partial segment back
    /// because more follows (a file body, or the FIN), despite `TCP_NODELAY`.
    pub fn send(socket: impl AsFd, bytes: &[u8], more: bool) -> io::Result<usize> {
        send_with(socket, bytes, if more { libc::MSG_MORE } else { 0 })
    }

    /// `sendfile(2)` of up to `count` bytes of `file` from `*offset`,
    /// advancing it; 0 means the file ended early.
    pub fn send_file(socket: impl AsFd, file: &File, offset: &mut u64, count: usize) -> io::Result<usize> {
        let Ok(mut off) = libc::off_t::try_from(*offset) else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "file offset out of range"));
        };
        // SAFETY: both descriptors are open for the call; `off` is a valid pointer.
        let n = unsafe { libc::sendfile(socket.as_fd().as_raw_fd(), file.as_raw_fd(), &mut off, count) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        *offset = off as u64; // OK: sendfile only advances a non-negative offset
        Ok(n as usize)
    }
}

/// Any Unix: nothing beyond POSIX.
#[cfg(not(all(target_os = "linux", not(feature = "portable-io"))))]
mod portable {
    use std::os::unix::fs::FileExt;

    use super::*;

    /// Bytes of a file read per `send_file` call. Bounded so a large file
    /// never sits in memory, and small enough for a worker thread's stack.
    const FILE_CHUNK: usize = 16 * 1024;

    /// POSIX promises nothing about short reads, so mio's contract holds:
    /// read until `WouldBlock`.
    pub const SHORT_READ_MEANS_DRAINED: bool = false;

    /// Not every Unix passes `TCP_NODELAY` on to accepted sockets, so it is
    /// set per socket in [`prepare_accepted`] instead.
    pub fn set_nodelay_for_accepted(_listener: &TcpListener) -> io::Result<()> {
        Ok(())
    }

    /// Sets `TCP_NODELAY` (and `SO_NOSIGPIPE` where there is no
    /// `MSG_NOSIGNAL`) on an accepted socket.
    pub fn prepare_accepted(socket: impl AsFd) -> io::Result<()> {
        let fd = socket.as_fd().as_raw_fd();
        #[cfg(any(target_os = "macos", target_os = "ios"))]
        {
            let on: libc::c_int = 1;
            // SAFETY: setsockopt(2) with a valid pointer to an int of the size given.
            let set = unsafe {
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_NOSIGPIPE,
                    (&on as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if set != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        set_nodelay_raw(fd)
    }

    /// `send(2)`; the "more follows" hint has no portable form and is ignored.
    pub fn send(socket: impl AsFd, bytes: &[u8], _more: bool) -> io::Result<usize> {
        send_with(socket, bytes, 0)
    }

    /// Reads up to `count` bytes of `file` at `*offset` (`pread`) into a
    /// bounded buffer and sends what the socket takes, advancing `*offset`
    /// by that; 0 means the file ended early. Bytes read but not taken are
    /// read again next time, which is simpler than keeping them and cheap
    /// next to the copy itself.
    pub fn send_file(socket: impl AsFd, file: &File, offset: &mut u64, count: usize) -> io::Result<usize> {
        let mut chunk = [0u8; FILE_CHUNK];
        let want = count.min(FILE_CHUNK);
        let read = loop {
            match file.read_at(&mut chunk[..want], *offset) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        if read == 0 {
            return Ok(0);
        }
        let sent = send_with(socket, &chunk[..read], 0)?;
        *offset += sent as u64;
        Ok(sent)
    }
}
