//! What a connection is lent while a worker drives it: the server-wide
//! [`Shared`] state (settings, the router to copy, the life-cycle
//! [`Phase`], counters, the memory budget, the access log), the worker's
//! own [`Local`] state (its router and caches, buffers, clock, log
//! buffer), and the [`Context`] that bundles them with the time.
//!
//! These types sit below both `worker` (which owns them) and `connection`
//! (which borrows them), so neither imports the other's internals.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::access_log::{AccessLog, LogBuffer};
use crate::auth::{Accounts, Verified};
use crate::budget::MemoryBudget;
use crate::clock::Clock;
use crate::config::Config;
use crate::handlers::{LocalRouter, Router};
use crate::http::response::Wake;
use crate::metrics::{Metrics, WorkerMetrics};

/// Output buffers larger than this are freed instead of going back to the
/// pool. It fits a head plus the largest cached file (64 KiB by default),
/// so serving cached files allocates nothing.
const KEEP_OUT_CAPACITY: usize = 80 * 1024;
/// Spare output buffers a worker keeps: enough for the connections that
/// write at the same moment; more would only be idle memory.
const POOLED_BUFFERS: usize = 32;
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
    /// Each worker makes its own `LocalRouter` from it.
    pub router: Router,
    phase: AtomicU8,
    /// Open connections across all workers, for `Config::max_connections`.
    pub connections: AtomicUsize,
    /// What connections hold before they are answered or while they stall
    /// (input buffers, TLS records in progress, compression state), for
    /// `Config::max_pending_head_bytes`; see `budget`.
    pub budget: Arc<MemoryBudget>,
    /// Where every worker's access lines go.
    pub access_log: AccessLog,
    /// Every worker's counters, with `Config::metrics_path` (else `None`,
    /// and nothing is counted).
    pub metrics: Option<Metrics>,
    /// The accounts requests are checked against; `None` without `--auth`.
    pub accounts: Option<Accounts>,
}

impl Shared {
    pub fn new(config: Config, router: Router, access_log: AccessLog) -> Shared {
        let budget = Arc::new(MemoryBudget::new(config.max_pending_head_bytes));
        let metrics = config.metrics_path.is_some().then(|| Metrics::new(config.threads.max(1), Arc::clone(&budget)));
        let accounts = Accounts::of(&config);
        Shared {
            accounts,
            config,
            router,
            phase: AtomicU8::new(Phase::Running as u8),
            connections: AtomicUsize::new(0),
            budget,
            access_log,
            metrics,
        }
    }

    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            0 => Phase::Running,
            1 => Phase::Draining,
            _ => Phase::Stopping,
        }
    }

    /// Moves the phase forward (never back).
    pub fn advance(&self, to: Phase) {
        self.phase.fetch_max(to as u8, Ordering::AcqRel);
    }
}

/// Output buffers lent to connections while they write a response, so an
/// idle connection holds none and the hot path allocates none.
#[derive(Debug, Default)]
pub struct BufferPool {
    free: Vec<Vec<u8>>,
}

impl BufferPool {
    pub fn take(&mut self) -> Vec<u8> {
        self.free.pop().unwrap_or_default()
    }

    pub fn give(&mut self, mut buffer: Vec<u8>) {
        if buffer.capacity() > 0 && buffer.capacity() <= KEEP_OUT_CAPACITY && self.free.len() < POOLED_BUFFERS {
            buffer.clear();
            self.free.push(buffer);
        }
    }
}

/// What one worker owns and lends to its connections, one at a time.
pub struct Local {
    /// This worker's copy of the router: its own per-worker handlers,
    /// among them each `StaticFiles`' small-file cache.
    pub router: LocalRouter,
    /// Spare output buffers.
    pub buffers: BufferPool,
    /// Date strings, refreshed once per loop turn.
    pub clock: Clock,
    /// Access lines not yet written, and spare entry buffers.
    pub log: LogBuffer,
    /// Wakes this worker's event loop from another thread: a shutdown, or
    /// pushed events for its listening connections (`Events::listen`).
    pub waker: Wake,
    /// This worker's counters (only it writes them); `None` with metrics off.
    pub metrics: Option<Arc<WorkerMetrics>>,
    /// Credentials this worker has verified (with `--auth`).
    pub verified: Verified,
}

impl Local {
    /// What a worker with this router, waker and counters lends its connections.
    pub fn new(router: LocalRouter, waker: Wake, metrics: Option<Arc<WorkerMetrics>>) -> Local {
        Local {
            router,
            buffers: BufferPool::default(),
            clock: Clock::new(),
            log: LogBuffer::default(),
            waker,
            metrics,
            verified: Verified::default(),
        }
    }
}

/// What the worker lends its connections while driving them.
pub struct Context<'a> {
    pub shared: &'a Shared,
    /// This worker's router (and so its file caches), buffers and clock.
    pub local: &'a mut Local,
    pub now: Instant,
    /// The server is shutting down: finish the current response, take no more.
    pub draining: bool,
}
