//! One worker thread: an event loop (`mio::Poll`, i.e. epoll) that accepts
//! connections and drives every connection it owns, plus their timers.
//!
//! All workers accept from the same listening socket: a worker that is free
//! takes the next connection, a busy one finds nothing left, so the load
//! balances without an acceptor thread or a hand-off. A worker never blocks
//! on a client: it waits only in `poll`. What a connection does is up to
//! `connection`; this module owns the loop, accepting, timers and shutdown.
//! Each poll batch is served in two passes (`Worker::drive_batch`): every
//! ready connection's socket is read first, then each answers what it read,
//! so the file caches check for change events once per batch.

use std::io::{self, Write};
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use crate::access_log::FLUSH_WHEN_IDLE;
use crate::budget;
use crate::connection::{Connection, Turn};
use crate::context::{Context, Local, Phase, Shared};
use crate::http::response::{Response, Wake};
use crate::http1::encode;
use crate::metrics::{ConnectionState, Limit};
use crate::sys;
use crate::transport::Transport;

pub const LISTENER: Token = Token(usize::MAX - 1);
pub const WAKER: Token = Token(usize::MAX);

/// Readiness events taken per `poll` call.
const EVENTS_CAPACITY: usize = 1024;
/// Bytes of one poll batch's reads ahead of the connections' turns
/// (`Worker::drive_batch`): hundreds of ordinary request heads. When it is
/// full, the batch's remaining connections read in their own turns.
const BATCH_INPUT_BYTES: usize = 64 * 1024;
/// How often deadlines are checked. Timeouts are seconds long, so a sweep
/// of all connections ten times a second is both cheap and precise enough;
/// short test timeouts are still met within this.
const TIMER_TICK: Duration = Duration::from_millis(100);
/// Pause before accepting again after running out of file descriptors, so
/// the loop does not spin on EMFILE while the pending connection waits.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Longest a worker gives turns to connections that yielded before it
/// polls again (`Worker::drive_ready`). A turn of a compressed stream is
/// itself bounded (`connection`'s `STREAM_TURN_TIME`), so with 2 ms a
/// request to a worker busy with 16 such streams waits a few milliseconds,
/// not 16 turns (issue 20: `/hello` p99 ≤ 50 ms with 32 brotli clients
/// looping on a 6 MiB file). A poll with nothing new costs about a
/// microsecond, so the slice costs the streams nothing measurable.
const READY_SLICE: Duration = Duration::from_millis(2);

/// `Retry-After` (seconds) in the 503 for connections past the cap.
const RETRY_AFTER: &str = "1";
/// Budgeted memory freed (by any worker: input buffers, TLS records,
/// coder states) after which freed heap is handed back to the OS (glibc
/// keeps it otherwise, in every worker's arena): large enough that
/// ordinary traffic never pays for a trim, small enough that a flood of
/// partial heads, TLS records or compressed streams does not stay resident.
const TRIM_AFTER_FREED_BYTES: usize = 8 << 20;
/// Budgeted memory freed after which the freed heap is handed back anyway
/// once a timer tick passes with nothing more freed (a flood has ended):
/// what was freed since the last trim would otherwise stay resident until
/// another `TRIM_AFTER_FREED_BYTES` are freed, possibly never. Ordinary
/// traffic frees far less between quiet ticks than a flood's tail.
const TRIM_QUIET_BYTES: usize = 256 << 10;
/// Connection-table slots a worker keeps however few connections it has;
/// past it, a table four times larger than its connections is shrunk as
/// far as its last connection allows (5,000 connections leave 1.4 MiB).
const KEPT_SLOTS: usize = 1024;

pub struct Worker {
    id: usize,
    poll: Poll,
    /// Every listening socket (one per address), all under the token
    /// `LISTENER`: an event on it accepts from each until it would block.
    listeners: Vec<TcpListener>,
    connections: Slab<Connection>,
    /// Connections that yielded with work left.
    ready: Vec<usize>,
    /// The connections with an event in the current poll batch, in order.
    batch: Vec<usize>,
    /// What each of them read ahead of its turn, as ranges of `batch_input`.
    batch_ahead: Vec<Option<Range<usize>>>,
    batch_input: Vec<u8>,
    shared: Arc<Shared>,
    local: Local,
    /// Accepting is paused (out of descriptors) until then.
    accept_paused_until: Option<Instant>,
    /// Accepting has failed for lack of resources and has not succeeded
    /// since: the failure is logged once per episode, not per retry.
    accept_starved: bool,
    /// The server is draining; the worker exits at this instant at the latest.
    grace_deadline: Option<Instant>,
    next_sweep: Instant,
    /// The budget's count of bytes released since the last trim, as this
    /// worker saw it at its last sweep (`Worker::release_memory`).
    released_seen: usize,
}

/// Registers every one of `listeners` with `poll` (under `LISTENER`), for
/// the worker that will own them; done before its thread starts, so a
/// failure stops the server from starting.
pub fn register_listeners(poll: &Poll, listeners: &mut [TcpListener]) -> io::Result<()> {
    for listener in listeners {
        poll.registry().register(listener, LISTENER, Interest::READABLE)?;
    }
    Ok(())
}

impl Worker {
    /// Worker `id`, on its own thread: its handlers are made here, by
    /// their factories, and never leave it (so they need not be `Send`).
    /// `listeners` are registered with `poll` already; `waker` wakes
    /// `poll` (under `WAKER`).
    pub fn new(id: usize, poll: Poll, listeners: Vec<TcpListener>, shared: Arc<Shared>, waker: Wake) -> Worker {
        // Handlers on this thread (compressed streams) charge this server's
        // budget; set before they are made, so a factory may see it too.
        budget::enter(Arc::clone(&shared.budget));
        // Likewise this worker's counters, which its handlers keep (caches)
        // or count on through the thread (handshakes, compression).
        let metrics = shared.metrics.as_ref().and_then(|metrics| metrics.worker(id));
        crate::metrics::enter(metrics.clone());
        let router = shared.router.for_worker(id);
        Worker {
            id,
            poll,
            listeners,
            connections: Slab::new(),
            ready: Vec::new(),
            batch: Vec::new(),
            batch_ahead: Vec::new(),
            batch_input: Vec::with_capacity(BATCH_INPUT_BYTES),
            shared,
            local: Local::new(router, waker, metrics),
            accept_paused_until: None,
            accept_starved: false,
            grace_deadline: None,
            next_sweep: Instant::now() + TIMER_TICK,
            released_seen: 0,
        }
    }

    /// Runs until the server stops, or drains and every connection is done.
    pub fn run(mut self) {
        let mut events = Events::with_capacity(EVENTS_CAPACITY);
        loop {
            let timeout = self.poll_timeout();
            let waited = timeout.is_none_or(|t| !t.is_zero());
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                log::error!("worker {}: poll failed, stopping: {e}", self.id);
                return;
            }
            let now = Instant::now();
            self.local.clock.update(SystemTime::now());
            for event in events.iter() {
                match event.token() {
                    LISTENER => {
                        if self.accept_paused_until.is_none() {
                            self.accept(now);
                        }
                    }
                    // A shutdown (the phase, below), or events for the
                    // connections that listen for them.
                    WAKER => self.wake_listeners(now),
                    Token(key) => {
                        if let Some(connection) = self.connections.get_mut(key) {
                            if event.is_readable() || event.is_read_closed() || event.is_error() {
                                connection.mark_readable(event.is_read_closed());
                            }
                            self.batch.push(key);
                        }
                    }
                }
            }
            self.drive_batch(now);
            self.drive_ready(now);
            if self.accept_paused_until.is_some_and(|t| now >= t) {
                self.accept_paused_until = None;
                self.accept(now);
            }
            if now >= self.next_sweep {
                self.sweep(now);
                self.next_sweep = now + TIMER_TICK;
            }
            if waited && events.is_empty() {
                // A whole wait without an event: the worker is idle, so
                // its lines go out now (`access_log::FLUSH_WHEN_IDLE`).
                self.local.log.flush(&self.shared.access_log);
            } else {
                self.local.log.flush_if_due(now, &self.shared.access_log);
            }
            match self.shared.phase() {
                Phase::Running => {}
                Phase::Draining => {
                    if self.grace_deadline.is_none() {
                        self.begin_drain(now);
                    }
                    if self.connections.is_empty() || self.grace_deadline.is_some_and(|t| now >= t) {
                        break;
                    }
                }
                Phase::Stopping => break,
            }
        }
        let open = self.connections.len();
        for (_, connection) in self.connections.iter_mut() {
            // Responses cut off by the stop are logged with what they sent.
            connection.finish_entry(&mut self.local, &self.shared);
            connection.release_input(&self.shared);
        }
        self.local.log.flush(&self.shared.access_log);
        self.shared.connections.fetch_sub(open, Ordering::Relaxed);
        log::debug!("worker {} stopped ({open} connections dropped)", self.id);
    }

    fn poll_timeout(&self) -> Option<Duration> {
        if !self.ready.is_empty() {
            return Some(Duration::ZERO);
        }
        let idle = self.connections.is_empty() && self.accept_paused_until.is_none() && self.grace_deadline.is_none();
        match (idle, self.local.log.is_empty()) {
            (true, true) => None, // nothing can expire; wait for a connection or the waker
            // Lines wait: a wait this long without an event writes them.
            (_, false) => Some(TIMER_TICK.min(FLUSH_WHEN_IDLE)),
            (false, true) => Some(TIMER_TICK),
        }
    }

    fn drive(&mut self, key: usize, now: Instant) {
        let turn = self.drive_once(key, now, None);
        self.settle(key, turn);
    }

    /// Gives the connections that yielded with work left (compressed
    /// streams, downloads, listings in slices) another turn each, in order,
    /// until `READY_SLICE` has passed; those left over go first after the
    /// next poll. So however many such connections a worker has, a new
    /// connection or a ready socket waits at most about `READY_SLICE` and
    /// one turn before it is served, not one turn of each of them.
    fn drive_ready(&mut self, now: Instant) {
        if self.ready.is_empty() {
            return; // the usual case: no clock read
        }
        let mut ready = std::mem::take(&mut self.ready);
        let started = Instant::now();
        let mut served = 0;
        for &key in &ready {
            if served > 0 && started.elapsed() >= READY_SLICE {
                break;
            }
            self.drive(key, now);
            served += 1;
        }
        ready.drain(..served);
        // Then those that yielded again just now.
        ready.append(&mut self.ready);
        self.ready = ready;
    }

    /// Drives the connections of one poll batch (`self.batch`): first each
    /// one's socket is read (`Connection::read_ahead`), then each answers
    /// what it read. So every request byte a batch answers has been read
    /// before the first answer, and the caches' check for change events
    /// (whenever request bytes were read since the last one) costs one
    /// `read` per batch, not one per request.
    fn drive_batch(&mut self, now: Instant) {
        if self.batch.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.batch);
        let mut input = std::mem::take(&mut self.batch_input);
        let mut ahead = std::mem::take(&mut self.batch_ahead);
        ahead.extend(
            batch
                .iter()
                .map(|&key| self.connections.get_mut(key).and_then(|connection| connection.read_ahead(&mut input))),
        );
        for (&key, range) in batch.iter().zip(ahead.drain(..)) {
            let turn = self.drive_once(key, now, range.map(|range| &input[range]));
            self.settle(key, turn);
        }
        self.batch = batch;
        self.batch.clear();
        input.clear();
        self.batch_input = input;
        self.batch_ahead = ahead;
    }

    /// Lets connection `key` do what its socket allows; `ahead`: what was
    /// read for it ahead of the turn.
    fn drive_once(&mut self, key: usize, now: Instant, ahead: Option<&[u8]>) -> Turn {
        let mut cx =
            Context { shared: &self.shared, local: &mut self.local, now, draining: self.grace_deadline.is_some() };
        let Some(connection) = self.connections.get_mut(key) else { return Turn::Wait };
        // Handlers already answer 500 on a panic; this catches anything else
        // (a bug in the connection code) so one client cannot stop a worker.
        match catch_unwind(AssertUnwindSafe(|| connection.drive_with(&mut cx, ahead))) {
            Ok(turn) => turn,
            Err(_) => {
                log::warn!("worker {}: panic while driving a connection; closing it", self.id);
                Turn::Closed
            }
        }
    }

    /// Drives every connection that listens for pushed events (live
    /// reload), so those with something new send it. A wake-up is rare (a
    /// saved file, a shutdown), and a pass over the table touches no
    /// socket of a connection that does not listen.
    fn wake_listeners(&mut self, now: Instant) {
        let keys: Vec<usize> =
            self.connections.iter().filter(|(_, connection)| connection.is_listening()).map(|(key, _)| key).collect();
        for key in keys {
            self.drive(key, now);
        }
    }

    /// Acts on how a connection's turn ended.
    fn settle(&mut self, key: usize, turn: Turn) {
        match turn {
            Turn::Wait => {}
            Turn::Yield => self.ready.push(key),
            Turn::Closed => self.close(key),
        }
    }

    /// Drops a connection. Closing its socket also removes it from the
    /// poll set (it is never duplicated), so no deregister call is needed.
    fn close(&mut self, key: usize) {
        let mut connection = self.connections.remove(key);
        // A response cut off (client gone, timeout) is logged with what it sent.
        connection.finish_entry(&mut self.local, &self.shared);
        connection.release_entry(&mut self.local);
        connection.release_input(&self.shared);
        drop(connection);
        self.shared.connections.fetch_sub(1, Ordering::Relaxed);
        if self.connections.is_empty() {
            // The last one: no sweep will come until the next connection.
            self.release_memory(true);
            if let Some(metrics) = &self.local.metrics {
                metrics.set_connections(&[0; ConnectionState::ALL.len()]);
            }
        }
    }

    /// Accepts every pending connection (edge-triggered: until WouldBlock).
    fn accept(&mut self, now: Instant) {
        // Taken out for the loop so connections can be driven meanwhile.
        let listeners = std::mem::take(&mut self.listeners);
        for listener in &listeners {
            self.accept_from(listener, now);
        }
        self.listeners = listeners;
    }

    fn accept_from(&mut self, listener: &TcpListener, now: Instant) {
        loop {
            let (mut stream, peer) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if sys::net::is_resource_exhaustion(&e) => {
                    // Out of descriptors or memory: the connection stays in
                    // the backlog until something is freed.
                    if !self.accept_starved {
                        log::warn!("worker {}: cannot accept: {e}; retrying every {ACCEPT_BACKOFF:?}", self.id);
                        self.accept_starved = true;
                    }
                    self.accept_paused_until = Some(now + ACCEPT_BACKOFF);
                    return;
                }
                Err(e) => {
                    // ECONNABORTED and the like concern one connection only.
                    log::debug!("worker {}: accept failed: {e}", self.id);
                    continue;
                }
            };
            if self.accept_starved {
                self.accept_starved = false;
                log::warn!("worker {}: accepting again", self.id);
            }
            if let Some(metrics) = &self.local.metrics {
                metrics.count_accepted();
            }
            let count = self.shared.connections.fetch_add(1, Ordering::Relaxed);
            if count >= self.shared.config.max_connections {
                self.shared.connections.fetch_sub(1, Ordering::Relaxed);
                if let Some(metrics) = &self.local.metrics {
                    metrics.count_limit(Limit::Connections);
                }
                log::warn!("{peer}: connection limit ({}) reached; answering 503", self.shared.config.max_connections);
                // The send buffer of a new socket is empty, so this one
                // non-blocking write goes out whole; then the drop closes it.
                // A TLS client could not read a plain answer: it is just closed.
                if self.shared.config.tls.is_none() {
                    let _ = stream.write(&self.over_capacity());
                }
                continue;
            }
            let transport = match Transport::accepted(
                stream,
                self.shared.config.tls.as_ref(),
                self.shared.config.http1_only,
                &self.shared.budget,
            ) {
                Ok(transport) => transport,
                Err(e) => {
                    self.shared.connections.fetch_sub(1, Ordering::Relaxed);
                    log::warn!("{peer}: cannot set up the connection: {e}");
                    continue;
                }
            };
            log::debug!("{peer}: connected (worker {})", self.id);
            let key = self.connections.insert(Connection::new(transport, peer, &self.shared, now));
            // The request usually arrives right behind the handshake: serve
            // it now, and join the poll set only if the connection must
            // wait, so a one-request connection costs no epoll_ctl at all.
            // (Not batched with the others: reading all of a burst of
            // accepts first finds most requests not yet there, measured: 82%
            // of reads `EAGAIN` with `Connection: close`, against 15% when
            // each is served before the next accept, which gives the next
            // client's request time to arrive.)
            self.connections[key].mark_readable(false);
            let turn = self.drive_once(key, now, None);
            if turn != Turn::Closed && !self.join_poll_set(key) {
                continue;
            }
            self.settle(key, turn);
        }
    }

    /// Registers connection `key` (just accepted and served once) for
    /// readiness events; false when it cannot be and was closed.
    fn join_poll_set(&mut self, key: usize) -> bool {
        let registered =
            self.connections[key].register(self.poll.registry(), Token(key), Interest::READABLE | Interest::WRITABLE);
        if let Err(e) = registered {
            log::warn!("worker {}: cannot register a connection: {e}", self.id);
            self.close(key);
            return false;
        }
        true
    }

    /// The whole answer to a connection past `Config::max_connections`.
    fn over_capacity(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        let response = Response::error(503).header("Retry-After", RETRY_AFTER);
        // An error page is in memory, so there is never a file body left over.
        let _ = encode::encode(response, false, false, false, self.local.clock.date(), &mut bytes);
        bytes
    }

    /// Closes or times out connections whose deadline has passed, and
    /// publishes how many connections are in each state (with metrics on:
    /// counted in the same pass, so the gauge costs no walk of its own).
    fn sweep(&mut self, now: Instant) {
        let mut states = [0u64; ConnectionState::ALL.len()];
        let counting = self.local.metrics.is_some();
        let expired: Vec<usize> = self
            .connections
            .iter()
            .inspect(|(_, connection)| {
                if counting {
                    states[connection.metrics_state() as usize] += 1;
                }
            })
            .filter(|(_, connection)| connection.deadline() <= now)
            .map(|(key, _)| key)
            .collect();
        if let Some(metrics) = &self.local.metrics {
            metrics.set_connections(&states);
        }
        for key in expired {
            let draining = self.grace_deadline.is_some();
            let mut cx = Context { shared: &self.shared, local: &mut self.local, now, draining };
            let Some(connection) = self.connections.get_mut(key) else { continue };
            let turn = connection.expire(&mut cx);
            self.settle(key, turn);
        }
        self.release_memory(false);
    }

    /// Hands memory freed by connections back to the OS (glibc keeps freed
    /// heap otherwise): once `TRIM_AFTER_FREED_BYTES` of budgeted memory
    /// were freed, or `TRIM_QUIET_BYTES` and then a tick with nothing more
    /// (or this worker is `idle`: it has no connection left, and will not
    /// tick again until it has one). So RSS returns near its resting level
    /// after a flood of half-sent heads, stalled TLS records or compressed
    /// streams (issue 20).
    fn release_memory(&mut self, idle: bool) {
        let connections = &mut self.connections;
        if connections.capacity() > KEPT_SLOTS && connections.len() < connections.capacity() / 4 {
            connections.shrink_to_fit();
        }
        let budget = &self.shared.budget;
        let released = budget.released();
        let quiet = idle || released == self.released_seen;
        let due = if quiet { TRIM_QUIET_BYTES } else { TRIM_AFTER_FREED_BYTES };
        if budget.released_at_least(due) {
            log::debug!("worker {}: handing freed heap back ({} bytes still budgeted)", self.id, budget.used());
            sys::net::release_freed_memory();
            self.released_seen = 0;
        } else {
            self.released_seen = released;
        }
    }

    /// Stops accepting, closes the connections with nothing in flight (idle,
    /// or an unfinished head) and lets the others finish their current
    /// response (`Connection::begin_shutdown`); the loop then ends when the
    /// last one closes, or at the grace deadline.
    fn begin_drain(&mut self, now: Instant) {
        for mut listener in std::mem::take(&mut self.listeners) {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        self.grace_deadline = Some(now + self.shared.config.shutdown_grace);
        let keys: Vec<usize> = self.connections.iter().map(|(key, _)| key).collect();
        for key in keys {
            let mut cx = Context { shared: &self.shared, local: &mut self.local, now, draining: true };
            let Some(connection) = self.connections.get_mut(key) else { continue };
            let turn = connection.begin_shutdown(&mut cx);
            self.settle(key, turn);
        }
        log::debug!("worker {}: draining; {} connections still busy", self.id, self.connections.len());
    }
}
