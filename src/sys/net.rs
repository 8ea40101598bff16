//! Socket and process-limit calls: receiving into uninitialised memory,
//! sending with a "more follows" hint (also several slices in one
//! `sendmsg`, for TLS records), sending a file range or reading one into a
//! bounded buffer (for bodies that must be encrypted), the listen
//! backlog, `TCP_NODELAY`, the open-file limit, and handing freed heap back
//! to the OS.
//!
//! Two implementations with the same names: `fast` (Linux: `sendfile(2)`,
//! `MSG_MORE`, `TCP_NODELAY` set once on the listener and inherited by
//! accepted sockets, a short read means the socket is drained) and `portable`
//! (any Unix, or Linux with the `portable-io` feature: `pread` + `send` from a
//! bounded buffer, no `MSG_MORE`, `TCP_NODELAY` per socket, read until
//! `WouldBlock` as mio documents). The calls go through rustix, whose safe
//! wrappers make the same system calls as libc's (`recvfrom`, `sendto`,
//! `sendfile`; checked with `strace -c`). Two `unsafe` blocks remain:
//! `malloc_trim`, which rustix does not wrap, and the length update of
//! [`recv_append`].
//! Deciding what to send, and when, is the connection's business, not this
//! module's.

use std::fs::File;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::net::TcpListener;
use std::os::fd::AsFd;

use rustix::io::Errno;
use rustix::net::{RecvFlags, SendFlags};
use rustix::process::{Resource, Rlimit};

#[cfg(all(target_os = "linux", not(feature = "portable-io")))]
pub use fast::*;
#[cfg(not(all(target_os = "linux", not(feature = "portable-io"))))]
pub use portable::*;

/// `recv(2)` into `buffer`, which need not be initialised; returns the bytes
/// received (empty at end of stream). rustix returns only the part the
/// kernel wrote, so no `unsafe` is needed here.
pub fn recv(socket: impl AsFd, buffer: &mut [MaybeUninit<u8>]) -> io::Result<&[u8]> {
    let ((received, _), _) = rustix::net::recv(socket, buffer, RecvFlags::empty())?;
    Ok(received)
}

/// `recv(2)` of at most `max` bytes onto the end of `out`, within its
/// spare capacity (never reallocating it); returns the bytes received, 0 at
/// end of stream. The worker reads a batch of connections into one buffer
/// this way (`Worker::drive_batch`).
pub fn recv_append(socket: impl AsFd, out: &mut Vec<u8>, max: usize) -> io::Result<usize> {
    let start = out.len();
    let room = max.min(out.capacity() - start);
    let received = recv(socket, &mut out.spare_capacity_mut()[..room])?.len();
    // SAFETY: `recv` initialised the first `received` bytes of the spare
    // capacity (rustix returns exactly the part the kernel wrote, from its
    // start), and `start + received <= capacity`.
    unsafe { out.set_len(start + received) };
    Ok(received)
}

/// `pread(2)` of up to `buffer.len()` bytes of `file` at `offset` into
/// `buffer`, which need not be initialised; returns the bytes read (empty at
/// the end of the file). For bodies that must pass through user space
/// (encryption), in bounded chunks.
pub fn read_file_at<'a>(file: &File, buffer: &'a mut [MaybeUninit<u8>], offset: u64) -> io::Result<&'a [u8]> {
    // EINTR comes back as `Interrupted`, which the connection retries.
    let (read, _) = rustix::io::pread(file, buffer, offset)?;
    Ok(read)
}

/// Replaces the listen backlog of a listening socket (std fixes it at 128).
/// Listening again on a listening socket only changes its backlog.
pub fn set_listen_backlog(listener: &TcpListener, backlog: i32) -> io::Result<()> {
    Ok(rustix::net::listen(listener, backlog)?)
}

/// Whether `accept` failed for lack of descriptors or memory (the pending
/// connection stays queued until something is freed), rather than because
/// of the one connection.
pub fn is_resource_exhaustion(error: &io::Error) -> bool {
    matches!(Errno::from_io_error(error), Some(Errno::MFILE | Errno::NFILE | Errno::NOBUFS | Errno::NOMEM))
}

/// Raises this process's soft limit on open files to its hard limit; returns
/// the new soft limit.
pub fn raise_fd_limit() -> io::Result<u64> {
    let limit = rustix::process::getrlimit(Resource::Nofile);
    // `None` means unlimited.
    let (current, maximum) = (limit.current.unwrap_or(u64::MAX), limit.maximum.unwrap_or(u64::MAX));
    if current < maximum {
        rustix::process::setrlimit(Resource::Nofile, Rlimit { current: limit.maximum, maximum: limit.maximum })?;
    }
    Ok(current.max(maximum))
}

/// Gives heap memory that was freed back to the OS. glibc keeps freed
/// blocks in its arenas (held partial heads stayed resident after half of
/// them closed); `malloc_trim(0)` returns them. Elsewhere it does nothing.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own arenas; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn set_nodelay(socket: impl AsFd) -> io::Result<()> {
    Ok(rustix::net::sockopt::set_tcp_nodelay(socket, true)?)
}

/// `send(2)` with the given flags, never raising SIGPIPE where the
/// platform has a per-call flag for it.
fn send_with(socket: impl AsFd, bytes: &[u8], flags: SendFlags) -> io::Result<usize> {
    Ok(rustix::net::send(socket, bytes, flags | NO_SIGPIPE)?)
}

/// `sendmsg(2)` of `slices` with the given flags, no ancillary data.
fn send_vectored_with(socket: impl AsFd, slices: &[IoSlice<'_>], flags: SendFlags) -> io::Result<usize> {
    let mut control = rustix::net::SendAncillaryBuffer::default();
    Ok(rustix::net::sendmsg(socket, slices, &mut control, flags | NO_SIGPIPE)?)
}

#[cfg(not(any(target_os = "macos", target_os = "ios")))]
const NO_SIGPIPE: SendFlags = SendFlags::NOSIGNAL;
/// Apple targets have no MSG_NOSIGNAL; `prepare_accepted` sets SO_NOSIGPIPE.
#[cfg(any(target_os = "macos", target_os = "ios"))]
const NO_SIGPIPE: SendFlags = SendFlags::empty();

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
        set_nodelay(listener)
    }

    /// Per-socket set-up of an accepted connection: none on Linux (see
    /// [`set_nodelay_for_accepted`]).
    pub fn prepare_accepted(_socket: impl AsFd) -> io::Result<()> {
        Ok(())
    }

    /// `send(2)`; with `more`, `MSG_MORE` holds a partial segment back
    /// because more follows (a file body, or the FIN), despite `TCP_NODELAY`.
    pub fn send(socket: impl AsFd, bytes: &[u8], more: bool) -> io::Result<usize> {
        send_with(socket, bytes, if more { SendFlags::MORE } else { SendFlags::empty() })
    }

    /// `sendmsg(2)` of `slices` in order (one call for several TLS
    /// records), with `MSG_MORE` as in [`send`].
    pub fn send_vectored(socket: impl AsFd, slices: &[IoSlice<'_>], more: bool) -> io::Result<usize> {
        send_vectored_with(socket, slices, if more { SendFlags::MORE } else { SendFlags::empty() })
    }

    /// `sendfile(2)` of up to `count` bytes of `file` from `*offset`,
    /// advancing it; 0 means the file ended early.
    pub fn send_file(socket: impl AsFd, file: &File, offset: &mut u64, count: usize) -> io::Result<usize> {
        Ok(rustix::fs::sendfile(socket, file, Some(offset), count)?)
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
        #[cfg(any(target_os = "macos", target_os = "ios"))]
        rustix::net::sockopt::set_socket_nosigpipe(&socket, true)?;
        set_nodelay(socket)
    }

    /// `send(2)`; the "more follows" hint has no portable form and is ignored.
    pub fn send(socket: impl AsFd, bytes: &[u8], _more: bool) -> io::Result<usize> {
        send_with(socket, bytes, SendFlags::empty())
    }

    /// `sendmsg(2)` of `slices` in order; the hint is ignored, as in [`send`].
    pub fn send_vectored(socket: impl AsFd, slices: &[IoSlice<'_>], _more: bool) -> io::Result<usize> {
        send_vectored_with(socket, slices, SendFlags::empty())
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
        let sent = send_with(socket, &chunk[..read], SendFlags::empty())?;
        *offset += sent as u64;
        Ok(sent)
    }
}
