//! Starting and stopping a server: bind the socket, check the root, start
//! the fixed pool of workers, and shut them down.
//!
//! Cleanup follows ownership: dropping a [`Server`] stops its workers and
//! joins them. What happens on a connection is `worker` and `connection`'s.

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use mio::{Poll, Waker};

use crate::config::Config;
use crate::handlers::Site;
use crate::worker::{Worker, WAKER};

/// Why a server could not start. Each says what the user should fix.
#[derive(Debug)]
pub enum StartError {
    /// The root directory does not exist or cannot be read.
    Root(PathBuf, io::Error),
    /// The root exists but is not a directory.
    RootNotDirectory(PathBuf),
    /// The address could not be bound (in use, not local, no permission).
    Bind(SocketAddr, io::Error),
    /// The operating system refused a poll instance or a thread.
    Setup(io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Root(path, e) => write!(f, "cannot serve {}: {e}", path.display()),
            StartError::RootNotDirectory(path) => write!(f, "cannot serve {}: not a directory", path.display()),
            StartError::Bind(addr, e) if e.kind() == io::ErrorKind::AddrInUse => {
                write!(f, "cannot listen on {addr}: the port is already in use")
            }
            StartError::Bind(addr, e) => write!(f, "cannot listen on {addr}: {e}"),
            StartError::Setup(e) => write!(f, "cannot start workers: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// Server-wide life cycle, read by every worker after each wake-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Accepting and serving.
    Running,
    /// Not accepting; finishing in-flight responses until the grace period ends.
    Draining,
    /// Stop now, dropping whatever is open.
    Stopping,
}

/// What the workers share (read-only, apart from the counters).
pub struct Shared {
    pub config: Config,
    pub site: Site,
    phase: AtomicU8,
    /// Open connections across all workers, for `Config::max_connections`.
    pub connections: AtomicUsize,
}

impl Shared {
    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            0 => Phase::Running,
            1 => Phase::Draining,
            _ => Phase::Stopping,
        }
    }
}

/// A running server. Dropping it stops it (without grace) and joins its threads.
pub struct Server {
    local_addr: SocketAddr,
    handle: ShutdownHandle,
    workers: Vec<JoinHandle<()>>,
}

/// Asks a server to stop, from any thread (a signal handler's thread, a test).
#[derive(Clone)]
pub struct ShutdownHandle {
    shared: Arc<Shared>,
    wakers: Arc<Vec<Waker>>,
}

impl ShutdownHandle {
    /// Graceful: stop accepting, finish in-flight responses within
    /// `Config::shutdown_grace`, close idle connections.
    pub fn shutdown(&self) {
        self.advance(Phase::Draining);
    }

    /// Immediate: drop every connection.
    pub fn stop(&self) {
        self.advance(Phase::Stopping);
    }

    fn advance(&self, to: Phase) {
        self.shared.phase.fetch_max(to as u8, Ordering::AcqRel);
        for waker in self.wakers.iter() {
            let _ = waker.wake();
        }
    }
}

impl Server {
    /// Checks the root, binds `config.addr` and starts `config.threads` workers.
    pub fn bind(config: Config) -> Result<Server, StartError> {
        let root = config.root.canonicalize().map_err(|e| StartError::Root(config.root.clone(), e))?;
        if !root.is_dir() {
            return Err(StartError::RootNotDirectory(config.root.clone()));
        }
        let listener = TcpListener::bind(config.addr).map_err(|e| StartError::Bind(config.addr, e))?;
        listener.set_nonblocking(true).map_err(StartError::Setup)?;
        // Listening again on a listening socket only changes its backlog.
        // SAFETY: plain listen(2) on a socket this function owns.
        if unsafe { libc::listen(listener.as_raw_fd(), config.listen_backlog) } != 0 {
            return Err(StartError::Setup(io::Error::last_os_error()));
        }
        // Accepted sockets inherit TCP_NODELAY from the listener on Linux, so
        // it is set once here rather than once per connection. Responses
        // leave in one write (or MSG_MORE, then sendfile), so Nagle's delay
        // would only hold back pipelined answers.
        let on: libc::c_int = 1;
        // SAFETY: setsockopt(2) with a valid pointer to an int of the size given.
        let set = unsafe {
            libc::setsockopt(
                listener.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if set != 0 {
            return Err(StartError::Setup(io::Error::last_os_error()));
        }
        let local_addr = listener.local_addr().map_err(StartError::Setup)?;

        let threads = config.threads.max(1);
        let mut polls = Vec::with_capacity(threads);
        let mut wakers = Vec::with_capacity(threads);
        for _ in 0..threads {
            let poll = Poll::new().map_err(StartError::Setup)?;
            wakers.push(Waker::new(poll.registry(), WAKER).map_err(StartError::Setup)?);
            polls.push(poll);
        }
        let site = Site::new(&root, &config).map_err(|e| StartError::Root(config.root.clone(), e))?;
        let shared = Arc::new(Shared { config, site, phase: AtomicU8::new(0), connections: AtomicUsize::new(0) });
        let handle = ShutdownHandle { shared: Arc::clone(&shared), wakers: Arc::new(wakers) };

        let mut server = Server { local_addr, handle, workers: Vec::with_capacity(threads) };
        for (id, poll) in polls.into_iter().enumerate() {
            let own = listener.try_clone().map_err(StartError::Setup)?;
            let worker = Worker::new(id, poll, mio::net::TcpListener::from_std(own), Arc::clone(&shared))
                .map_err(StartError::Setup)?;
            let thread = std::thread::Builder::new()
                .name(format!("rawserve-worker-{id}"))
                .spawn(move || worker.run())
                .map_err(StartError::Setup)?;
            server.workers.push(thread);
        }
        // `listener` is dropped here: the workers' clones keep the socket
        // open until each stops accepting, after which new connections are refused.
        Ok(server)
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.handle.clone()
    }

    /// Blocks until every worker has stopped (after a shutdown request).
    pub fn wait(mut self) {
        self.join();
    }

    fn join(&mut self) {
        for worker in self.workers.drain(..) {
            if worker.join().is_err() {
                log::warn!("a worker thread panicked");
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !self.workers.is_empty() {
            self.handle.stop();
            self.join();
        }
    }
}
