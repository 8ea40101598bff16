//! systemd's side of starting and stopping: listening sockets handed over
//! by socket activation (`LISTEN_FDS`, `LISTEN_PID`, descriptors from 3 on,
//! as `sd_listen_fds(3)` describes), and state notifications to the
//! service manager (`NOTIFY_SOCKET`, `sd_notify(3)`). Both protocols are
//! small and stable, so they are written out here rather than linking
//! libsystemd. Which socket to serve and when to notify is the caller's.

use std::io;
use std::net::TcpListener;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixDatagram;

/// The first descriptor passed by socket activation.
const LISTEN_FDS_START: RawFd = 3;
/// More inherited descriptors than this is a misconfiguration, not a unit.
const MAX_LISTEN_FDS: usize = 64;

/// The listening TCP sockets this process inherited by socket activation,
/// in the order passed; empty when it was not socket-activated (no
/// `LISTEN_FDS`, or `LISTEN_PID` names another process, as when a
/// variable leaked to a child). The variables are removed so children do
/// not believe them, and the descriptors made close-on-exec. Call it
/// before starting threads (it changes the environment).
pub fn inherited_listeners() -> io::Result<Vec<TcpListener>> {
    let (Some(pid), Some(count)) = (std::env::var_os("LISTEN_PID"), std::env::var_os("LISTEN_FDS")) else {
        return Ok(Vec::new());
    };
    let for_us = pid.to_str().and_then(|p| p.parse::<u32>().ok()) == Some(std::process::id());
    for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(name);
    }
    if !for_us {
        return Ok(Vec::new());
    }
    let count = count
        .to_str()
        .and_then(|c| c.parse::<usize>().ok())
        .filter(|&c| c <= MAX_LISTEN_FDS)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "LISTEN_FDS is not a small number"))?;
    let mut listeners = Vec::with_capacity(count);
    for fd in (LISTEN_FDS_START..).take(count) {
        let stat = rustix::fs::fstat(
            // SAFETY: only borrowed for fstat; an fd that is not open
            // makes fstat fail with EBADF, which is reported.
            unsafe { rustix::fd::BorrowedFd::borrow_raw(fd) },
        )?;
        if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::Socket {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("inherited descriptor {fd} is not a socket"),
            ));
        }
        // SAFETY: LISTEN_PID names this process, so the manager passed fd
        // to it alone and nothing else in the process owns it; it is open
        // (fstat succeeded). Ownership moves into the listener.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        let stream = rustix::net::sockopt::socket_type(&owned)? == rustix::net::SocketType::STREAM;
        let listening = rustix::net::sockopt::socket_acceptconn(&owned)?;
        if !stream || !listening {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("inherited descriptor {fd} is not a listening stream socket"),
            ));
        }
        rustix::io::fcntl_setfd(&owned, rustix::io::FdFlags::CLOEXEC)?;
        listeners.push(TcpListener::from(owned));
    }
    Ok(listeners)
}

/// Tells the service manager `state` (`READY=1`, `STOPPING=1`) when
/// `NOTIFY_SOCKET` names one; otherwise does nothing. A path starting with
/// `@` is in the abstract namespace.
pub fn notify(state: &str) -> io::Result<()> {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else { return Ok(()) };
    let socket = UnixDatagram::unbound()?;
    let path = std::os::unix::ffi::OsStringExt::into_vec(path);
    if let Some(name) = path.strip_prefix(b"@") {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            use std::os::linux::net::SocketAddrExt;
            let address = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            socket.send_to_addr(state.as_bytes(), &address)?;
            return Ok(());
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let _ = name;
            return Err(io::Error::new(io::ErrorKind::Unsupported, "abstract NOTIFY_SOCKET outside Linux"));
        }
    }
    let path: std::ffi::OsString = std::os::unix::ffi::OsStringExt::from_vec(path);
    socket.send_to(state.as_bytes(), path)?;
    Ok(())
}
