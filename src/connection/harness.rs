//! A real [`Connection`] over an in-memory client, for the unit tests and
//! the fuzz target: a site over a directory, a router, and a conversation
//! played through the same code that serves sockets — nothing of the
//! connection's handling is re-implemented here. What comes back is read
//! from the output and the marks the connection leaves on its transport
//! (each answer queued, each `100 Continue`).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;

use super::{Connection, Turn};
use crate::access_log::{AccessLog, LogDestination, LogFormat};
use crate::config::Config;
use crate::context::Context;
use crate::context::{Local, Shared};
use crate::handlers::{Router, StaticFiles};
use crate::http1::exchange::Persistence;
use crate::transport::fake::{Event, FakeStream};
use crate::transport::Transport;

/// One thing the client saw, summarised so conversations can be compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `100 Continue`.
    Continue,
    /// An answer with this status and persistence; the bytes after its
    /// head, up to the next thing seen.
    Answered { status: u16, persistence: Persistence, body: Vec<u8> },
}

/// How a conversation's client behaves.
#[derive(Debug, Clone, Copy, Default)]
pub struct Client {
    /// The server is draining while it talks.
    pub draining: bool,
    /// It speaks plain HTTP to an HTTPS port.
    pub plain_on_tls_port: bool,
    /// It closes its side after the last piece.
    pub closes: bool,
}

/// A worker's surroundings without a server: settings, the shared state
/// and one worker's own, for conversations one at a time.
pub struct Harness {
    shared: Shared,
    local: Local,
    /// What the worker's waker wakes (nothing waits on it here).
    _poll: mio::Poll,
}

impl Harness {
    /// Serves `routes`, then the files of `root` (which must exist), with
    /// `adjust`ed defaults.
    pub fn new(root: &Path, routes: Router, adjust: impl FnOnce(&mut Config)) -> Harness {
        let mut config = Config::new();
        adjust(&mut config);
        // OK to expect: a harness is only made over a directory the caller made.
        let files = StaticFiles::new(root).expect("the harness root is a directory");
        let router = routes.fallback(files);
        // OK to expect: a poll instance and its waker are two descriptors.
        let poll = mio::Poll::new().expect("a poll instance");
        let waker = std::sync::Arc::new(mio::Waker::new(poll.registry(), mio::Token(0)).expect("a waker"));
        // OK to expect: an access log that goes nowhere cannot fail to open.
        let log = AccessLog::open(&LogDestination::Off, LogFormat::Combined).expect("no access log");
        let shared = Shared::new(config, router, log);
        let metrics = shared.metrics.as_ref().and_then(|metrics| metrics.worker(0));
        crate::metrics::enter(metrics.clone());
        let local = Local::new(shared.router.for_worker(0), waker, metrics);
        Harness { shared, local, _poll: poll }
    }

    /// The metrics a scrape would show now (`None` without `Config::metrics_path`).
    #[cfg(test)]
    pub fn metrics(&self) -> Option<crate::metrics::Snapshot> {
        self.shared.metrics.as_ref().map(|metrics| metrics.snapshot())
    }

    /// Plays a client that sends `chunks` one after another (each read in
    /// one go), each followed by as much work as the connection can do;
    /// returns what it saw.
    pub fn converse(&mut self, chunks: &[&[u8]], draining: bool) -> Vec<Step> {
        self.converse_as(chunks, Client { draining, ..Client::default() })
    }

    /// [`converse`](Self::converse) with a client described by `client`.
    pub fn converse_as(&mut self, chunks: &[&[u8]], client: Client) -> Vec<Step> {
        self.converse_written(chunks, client).0
    }

    /// [`converse_as`](Self::converse_as), and every byte the client received.
    pub fn converse_written(&mut self, chunks: &[&[u8]], client: Client) -> (Vec<Step>, Vec<u8>) {
        let peer = SocketAddr::from(([127, 0, 0, 1], 9));
        let fake = FakeStream { plain_on_tls_port: client.plain_on_tls_port, ..FakeStream::default() };
        let mut connection = Connection::new(Transport::Fake(Box::new(fake)), peer, &self.shared, Instant::now());
        let last = chunks.len().saturating_sub(1);
        for (i, chunk) in chunks.iter().enumerate() {
            let fake = fake_of(&mut connection);
            if !chunk.is_empty() {
                fake.pending.push_back(chunk.to_vec());
            }
            fake.eof = client.closes && i == last;
            if chunk.is_empty() && !fake.eof {
                continue;
            }
            connection.mark_readable(false);
            if !self.run(&mut connection, client.draining) {
                break;
            }
        }
        connection.release_input(&self.shared);
        let fake = fake_of(&mut connection);
        (steps(fake), std::mem::take(&mut fake.written))
    }

    /// Drives `connection` until it waits or closes; false once closed.
    fn run(&mut self, connection: &mut Connection, draining: bool) -> bool {
        loop {
            let mut cx = Context { shared: &self.shared, local: &mut self.local, now: Instant::now(), draining };
            match connection.drive(&mut cx) {
                Turn::Yield => {}
                Turn::Wait => return true,
                Turn::Closed => return false,
            }
        }
    }
}

/// The in-memory client under `connection`.
fn fake_of(connection: &mut Connection) -> &mut FakeStream {
    match &mut connection.transport {
        Transport::Fake(fake) => fake,
        // OK: a harness makes only connections over a fake.
        _ => unreachable!("a harness connection is over a fake transport"),
    }
}

/// What the client saw, from the output and the connection's marks.
fn steps(fake: &FakeStream) -> Vec<Step> {
    let ends = fake.events.iter().skip(1).map(|(at, _)| *at).chain([fake.written.len()]);
    fake.events
        .iter()
        .zip(ends)
        .map(|(&(start, event), end)| match event {
            Event::Continue => Step::Continue,
            Event::Answer { status, persistence } => {
                let bytes = &fake.written[start..end];
                let body_at = bytes.windows(4).position(|w| w == b"\r\n\r\n").map_or(bytes.len(), |i| i + 4);
                Step::Answered { status, persistence, body: bytes[body_at..].to_vec() }
            }
        })
        .collect()
}
