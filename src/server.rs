//! Starting and stopping a server: bind the socket, check the root, start
//! the fixed pool of workers, and shut them down.
//!
//! Cleanup follows ownership: dropping a [`Server`] stops its workers and
//! joins them. What happens on a connection is `worker` and `connection`'s.

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use mio::{Poll, Waker};

use crate::access_log::{AccessLog, LogDestination};
use crate::config::Config;
use crate::context::{Phase, Shared};
use crate::handlers::{FolderError, Router};
use crate::sys::net;
use crate::worker::{self, Worker, WAKER};

/// Why a server could not start. Each says what the user should fix.
#[derive(Debug)]
pub enum StartError {
    /// A folder cannot be served: `StaticFiles`' own error, which `?`
    /// converts into this one.
    Folder(FolderError),
    /// The address could not be bound (in use, not local, no permission).
    Bind(SocketAddr, io::Error),
    /// The operating system refused a poll instance or a thread.
    Setup(io::Error),
    /// The access log file could not be opened for appending.
    AccessLog(PathBuf, io::Error),
    /// A per-worker handler factory panicked while a worker started.
    Handler,
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Folder(e) => e.fmt(f),
            StartError::Bind(addr, e) if e.kind() == io::ErrorKind::AddrInUse => {
                write!(f, "cannot listen on {addr}: the port is already in use")
            }
            StartError::Bind(addr, e) => write!(f, "cannot listen on {addr}: {e}"),
            StartError::Setup(e) => write!(f, "cannot start workers: {e}"),
            StartError::AccessLog(path, e) => write!(f, "cannot open the access log {}: {e}", path.display()),
            StartError::Handler => f.write_str("a per-worker handler factory panicked while a worker started"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Folder(e) => Some(e),
            StartError::Bind(_, e) | StartError::Setup(e) | StartError::AccessLog(_, e) => Some(e),
            StartError::Handler => None,
        }
    }
}

impl From<FolderError> for StartError {
    fn from(error: FolderError) -> StartError {
        StartError::Folder(error)
    }
}

/// A running server. Dropping it stops it (without grace) and joins its threads.
pub struct Server {
    /// `config.addr`'s bound address first, then `config.also_listen`'s.
    local_addrs: Vec<SocketAddr>,
    handle: ShutdownHandle,
    workers: Vec<JoinHandle<()>>,
}

/// Asks a server to stop, from any thread (a signal handler's thread, a test).
#[derive(Clone)]
pub struct ShutdownHandle {
    shared: Arc<Shared>,
    wakers: Arc<Vec<Arc<Waker>>>,
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

    /// Opens the access log file again by its name (SIGHUP, after
    /// logrotate moved it); a failure keeps the old file.
    pub fn reopen_access_log(&self) -> io::Result<()> {
        self.shared.access_log.reopen()
    }

    fn advance(&self, to: Phase) {
        self.shared.advance(to);
        for waker in self.wakers.iter() {
            let _ = waker.wake();
        }
    }
}

impl Server {
    /// Binds `config.addr` (and `config.also_listen`) and starts
    /// `config.threads` workers, each accepting on every address and
    /// answering with its own copy of `router`.
    pub fn bind(config: Config, router: Router) -> Result<Server, StartError> {
        let first = TcpListener::bind(config.addr).map_err(|e| StartError::Bind(config.addr, e))?;
        let first_port = first.local_addr().map_err(StartError::Setup)?.port();
        let mut listeners = vec![first];
        for &addr in &config.also_listen {
            // Port 0 on the other addresses means "the same port as the
            // first", so that one server has one port.
            let addr = if addr.port() == 0 { SocketAddr::new(addr.ip(), first_port) } else { addr };
            listeners.push(TcpListener::bind(addr).map_err(|e| StartError::Bind(addr, e))?);
        }
        Server::start(config, router, listeners)
    }

    /// As [`bind`](Server::bind), on sockets already listening (those
    /// inherited by systemd socket activation, see
    /// [`inherited_listeners`](crate::inherited_listeners)), every worker
    /// accepting on each; `config.addr` and `config.also_listen` are ignored.
    pub fn with_listeners(config: Config, router: Router, listeners: Vec<TcpListener>) -> Result<Server, StartError> {
        if listeners.is_empty() {
            let none = std::io::Error::new(std::io::ErrorKind::InvalidInput, "no listening socket to serve on");
            return Err(StartError::Setup(none));
        }
        Server::start(config, router, listeners)
    }

    /// Starts the workers, each accepting on every one of `listeners`.
    fn start(config: Config, router: Router, listeners: Vec<TcpListener>) -> Result<Server, StartError> {
        for listener in &listeners {
            listener.set_nonblocking(true).map_err(StartError::Setup)?;
            net::set_listen_backlog(listener, config.listen_backlog).map_err(StartError::Setup)?;
            // Where the OS lets accepted sockets inherit TCP_NODELAY, it is set
            // once here; elsewhere per socket as connections are accepted.
            net::set_nodelay_for_accepted(listener).map_err(StartError::Setup)?;
        }
        let local_addrs = listeners.iter().map(TcpListener::local_addr).collect::<Result<_, _>>();
        let local_addrs = local_addrs.map_err(StartError::Setup)?;

        let threads = config.threads.max(1);
        let mut polls = Vec::with_capacity(threads);
        let mut wakers = Vec::with_capacity(threads);
        for _ in 0..threads {
            let poll = Poll::new().map_err(StartError::Setup)?;
            wakers.push(Arc::new(Waker::new(poll.registry(), WAKER).map_err(StartError::Setup)?));
            polls.push(poll);
        }
        let access_log =
            AccessLog::open(&config.access_log, config.log_format).map_err(|e| match &config.access_log {
                LogDestination::File(path) => StartError::AccessLog(path.clone(), e),
                _ => StartError::Setup(e),
            })?;
        let shared = Arc::new(Shared::new(config, router, access_log));
        let handle = ShutdownHandle { shared: Arc::clone(&shared), wakers: Arc::new(wakers.clone()) };

        let mut server = Server { local_addrs, handle, workers: Vec::with_capacity(threads) };
        // Each worker makes its handlers on its own thread (factories run
        // there) and says when it is ready; `start` returns once all are,
        // so a factory's work is done before the first request.
        let (ready, started) = std::sync::mpsc::channel::<bool>();
        for (id, (poll, waker)) in polls.into_iter().zip(wakers).enumerate() {
            let own = listeners.iter().map(|l| l.try_clone().map(mio::net::TcpListener::from_std));
            let mut own: Vec<_> = own.collect::<Result<_, _>>().map_err(StartError::Setup)?;
            worker::register_listeners(&poll, &mut own).map_err(StartError::Setup)?;
            let shared = Arc::clone(&shared);
            let ready = ready.clone();
            let thread = std::thread::Builder::new()
                .name(format!("rawserve-worker-{id}"))
                .spawn(move || {
                    let made = catch_unwind(AssertUnwindSafe(|| Worker::new(id, poll, own, shared, waker)));
                    let _ = ready.send(made.is_ok());
                    if let Ok(worker) = made {
                        worker.run();
                    }
                })
                .map_err(StartError::Setup)?;
            server.workers.push(thread);
        }
        drop(ready);
        // A worker whose handler factory panicked sends false (or nothing,
        // if its thread died): the server does not start half-made.
        if started.iter().take(threads).filter(|&ok| ok).count() < threads {
            return Err(StartError::Handler);
        }
        // `listeners` are dropped here: the workers' clones keep the sockets
        // open until each stops accepting, after which new connections are refused.
        Ok(server)
    }

    /// The bound address (useful with port 0): `Config::addr`'s.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addrs[0]
    }

    /// Every bound address: `Config::addr`'s, then `Config::also_listen`'s.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// A handle that stops this server from another thread.
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
