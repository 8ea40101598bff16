//! rawserve: a small, fast, correct HTTP/1.1 static file server on raw TCP.
//!
//! It serves a directory and a hello-world handler (`GET /hello`) to
//! browsers, `curl` and any HTTP/1.x client.
//!
//! # Shape
//!
//! A fixed pool of worker threads ([`Config::threads`]) each runs its own
//! event loop (epoll through `mio`) over non-blocking sockets, accepting
//! from one shared listener. A connection is a state machine (read a head,
//! answer, write, repeat or close), so an idle, slow or hostile client only
//! occupies a slot in a poll set, never a thread. Bytes flow one way:
//! bytes in → [`http::request::Request`] → `exchange::decide` (framing,
//! `handlers::route`, persistence) → [`http::response::Response`] → bytes
//! out, with file bodies sent by `sendfile` on Linux.
//!
//! # Use
//!
//! ```no_run
//! let mut config = rawserve::Config::new("public");
//! config.addr = "127.0.0.1:0".parse().unwrap();
//! let server = rawserve::Server::bind(config).expect("server starts");
//! println!("serving on http://{}", server.local_addr());
//! server.shutdown_handle().shutdown(); // graceful: finish in-flight responses
//! server.wait();
//! ```
//!
//! # Modules
//!
//! - [`config`]: every setting and limit.
//! - `server`: bind, start workers, shut down. `worker`: one event loop,
//!   its worker-local state, and what workers share (`Phase`, `Shared`).
//! - `connection`: the per-connection state machine, performing decisions.
//! - `exchange`: each request decided without I/O (unit-tested, fuzzed).
//! - `transport`: how bytes move (plain TCP; TLS would be a second variant).
//! - `sys`: every system call and `unsafe` block, per OS (feature
//!   `portable-io` selects the portable path on Linux too).
//! - [`http`]: request parsing and response serialisation.
//! - `handlers`: routing, hello, static files.
//! - [`safe_path`]: request path → file path, never outside the root.

mod clock;
pub mod config;
mod connection;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod exchange;
#[cfg(not(fuzzing))]
mod exchange;
mod handlers;
pub mod http;
pub mod safe_path;
mod server;
mod sys;
mod transport;
mod worker;

pub use config::Config;
pub use server::{Server, ShutdownHandle, StartError};

/// Raises this process's soft limit on open files to its hard limit, as
/// nginx's `worker_rlimit_nofile` and Go's runtime do: the default soft
/// limit (often 1024) is far below the connections a server should hold.
/// Returns the new soft limit.
pub fn raise_fd_limit() -> std::io::Result<u64> {
    sys::net::raise_fd_limit()
}
