//! Prometheus metrics (`Config::metrics_path`): what each worker counts,
//! and the scrape that sums the workers' counts into the text format.
//!
//! Each worker owns one [`WorkerMetrics`]: a flat array of counters (see
//! `cells`) that only that worker's thread ever writes, with a plain load
//! and store (`Relaxed`; no locked read-modify-write, so a count costs
//! what adding to a `u64` in memory costs), and that a scrape, on any
//! worker, only reads. Each worker's array is aligned to its own cache
//! lines, so no two workers ever write the same line, and a scrape reads
//! each line once. Nothing is shared or locked on the hot path; the sums
//! exist only while a scrape renders them ([`Metrics::render`]).
//!
//! The facts are counted where they are known: a request's method,
//! protocol and status by `service` (into the connection's [`Tally`]),
//! its bytes and duration when its response ends (`connection`, through
//! [`Tally::finish`]), connection states by the worker's timer sweep
//! (gauges, at most one sweep, 100 ms, old), refused limits where they
//! are refused, TLS handshakes by `tls`, cache hits and compression by the
//! file handlers. Handlers and TLS reach their worker's counters through
//! a thread-local set as the worker starts ([`enter`], as `budget` does),
//! since they are made before the server that runs them. This module only
//! counts and renders: who may scrape is `service`'s business.

pub(crate) mod cells;
mod tally;
mod text;

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use crate::budget::MemoryBudget;
use crate::http::encoding::Coding;
use crate::http::{Method, Version};
pub use cells::Snapshot;
use cells::CELLS;
pub use tally::Tally;

/// The media type of the text format (version 0.0.4), which every
/// Prometheus since 2.0 and every agent that reads its format accepts.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds (inclusive, in microseconds) of the request duration
/// histogram's buckets. From 100 µs, since a cached file is answered in
/// tens of microseconds and a slow disk or a large listing shows in the
/// next few, to 60 s, since a download to a slow client is one request;
/// the usual web buckets (5 ms to 10 s) alone would put every cached hit
/// and every large download in one bucket each.
pub const DURATION_BUCKETS_MICROS: [u64; 18] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000, 10_000_000, 30_000_000, 60_000_000,
];

/// The bucket of a duration of `micros` (the last one, `+Inf`, past every bound).
#[inline]
pub fn duration_bucket(micros: u64) -> usize {
    // Linear from the smallest: most requests stop at the first bound or two.
    DURATION_BUCKETS_MICROS.iter().position(|&bound| micros <= bound).unwrap_or(DURATION_BUCKETS_MICROS.len())
}

/// One number a single thread writes and any thread may read.
#[derive(Debug)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`. Only the owning worker calls this, so the load and the
    /// store cannot interleave with another write, and no lock prefix is
    /// needed (readers see the old or the new value, never a torn one).
    #[inline(always)]
    pub fn add(&self, n: u64) {
        self.0.store(self.0.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }

    /// Sets a gauge (only the owning worker calls this).
    #[inline(always)]
    pub fn set(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A request's method, as counted: a fixed set, so a client cannot make
/// the series grow by inventing methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MethodClass {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    /// Any other method, and a request whose line could not be parsed.
    #[default]
    Other,
}

impl MethodClass {
    pub const ALL: [MethodClass; 7] = [
        MethodClass::Get,
        MethodClass::Head,
        MethodClass::Post,
        MethodClass::Put,
        MethodClass::Delete,
        MethodClass::Options,
        MethodClass::Other,
    ];

    pub fn of(method: &Method) -> MethodClass {
        match *method {
            Method::GET => MethodClass::Get,
            Method::HEAD => MethodClass::Head,
            Method::POST => MethodClass::Post,
            Method::PUT => MethodClass::Put,
            Method::DELETE => MethodClass::Delete,
            Method::OPTIONS => MethodClass::Options,
            _ => MethodClass::Other,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            MethodClass::Get => "GET",
            MethodClass::Head => "HEAD",
            MethodClass::Post => "POST",
            MethodClass::Put => "PUT",
            MethodClass::Delete => "DELETE",
            MethodClass::Options => "OPTIONS",
            MethodClass::Other => "other",
        }
    }
}

/// The protocol a request came in (HTTP/2 takes a variant of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    Http10,
    Http11,
    Http2,
    /// No request line could be parsed (a refused head).
    #[default]
    Unknown,
}

impl Protocol {
    pub const ALL: [Protocol; 4] = [Protocol::Http10, Protocol::Http11, Protocol::Http2, Protocol::Unknown];

    pub fn of(version: Version) -> Protocol {
        match version {
            Version::HTTP_10 | Version::HTTP_09 => Protocol::Http10,
            Version::HTTP_11 => Protocol::Http11,
            Version::HTTP_2 => Protocol::Http2,
            _ => Protocol::Unknown,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Protocol::Http10 => "HTTP/1.0",
            Protocol::Http11 => "HTTP/1.1",
            Protocol::Http2 => "HTTP/2",
            Protocol::Unknown => "unknown",
        }
    }
}

/// Status classes counted: 1xx to 5xx.
pub const STATUS_CLASSES: usize = 5;

/// The class of `status` (0 for 1xx … 4 for 5xx; anything else as 5xx).
#[inline]
pub fn status_class(status: u16) -> usize {
    (status / 100).clamp(1, STATUS_CLASSES as u16) as usize - 1
}

/// Where an open connection is, for the connections gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// A TLS handshake has begun and not finished.
    Handshake,
    /// Waiting for the PROXY protocol header.
    ProxyHeader,
    /// Between requests (keep-alive), or not a byte received yet.
    Idle,
    /// A request head has begun to arrive.
    Reading,
    /// A request body is being received for a route that reads it.
    Receiving,
    /// A response is being prepared (a large listing, in slices).
    Preparing,
    /// A response is being sent.
    Writing,
    /// An event stream held open for pushed events (live reload).
    Listening,
    /// Closing: our side is shut, the client's last bytes are read away.
    Lingering,
}

impl ConnectionState {
    pub const ALL: [ConnectionState; 9] = [
        ConnectionState::Handshake,
        ConnectionState::ProxyHeader,
        ConnectionState::Idle,
        ConnectionState::Reading,
        ConnectionState::Receiving,
        ConnectionState::Preparing,
        ConnectionState::Writing,
        ConnectionState::Listening,
        ConnectionState::Lingering,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ConnectionState::Handshake => "handshake",
            ConnectionState::ProxyHeader => "proxy_header",
            ConnectionState::Idle => "idle",
            ConnectionState::Reading => "reading",
            ConnectionState::Receiving => "receiving",
            ConnectionState::Preparing => "preparing",
            ConnectionState::Writing => "writing",
            ConnectionState::Listening => "listening",
            ConnectionState::Lingering => "lingering",
        }
    }
}

/// A limit that refused a client (each a `Config` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// `max_connections`: a new connection answered 503 and closed.
    Connections,
    /// `max_pending_head_bytes`: no room in the memory budget (503, or a
    /// close during a TLS handshake).
    Memory,
    /// `head_timeout` (or a body too slow): 408.
    Timeout,
    /// `send_timeout`: a client that stopped reading its response, dropped.
    SendTimeout,
    /// `max_head_bytes` / `max_headers` (431, and 414 for a request line).
    HeadSize,
    /// `max_body_bytes`: 413.
    BodySize,
}

impl Limit {
    pub const ALL: [Limit; 6] =
        [Limit::Connections, Limit::Memory, Limit::Timeout, Limit::SendTimeout, Limit::HeadSize, Limit::BodySize];

    /// The limit a refusal with `status` (before or while a request is
    /// read) means; `None` for refusals of malformed requests.
    pub fn of_refusal(status: u16) -> Option<Limit> {
        match status {
            408 => Some(Limit::Timeout),
            413 => Some(Limit::BodySize),
            414 | 431 => Some(Limit::HeadSize),
            503 => Some(Limit::Memory),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Limit::Connections => "connections",
            Limit::Memory => "memory",
            Limit::Timeout => "timeout",
            Limit::SendTimeout => "send_timeout",
            Limit::HeadSize => "head_size",
            Limit::BodySize => "body_size",
        }
    }
}

/// How a compressed body was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A file compressed whole, once per version, and kept.
    Whole,
    /// A larger file compressed while it is sent, per request.
    Stream,
}

/// The codings compressed on the fly, in cell order.
pub const CODINGS: [Coding; 3] = [Coding::Brotli, Coding::Zstd, Coding::Gzip];

/// One worker's counters, written only by that worker's thread. Aligned
/// to two cache lines (the unit adjacent-line prefetchers fetch), so no
/// other worker's counters share a line with these.
#[repr(align(128))]
#[derive(Debug)]
pub struct WorkerMetrics {
    cells: [Counter; CELLS],
}

impl WorkerMetrics {
    pub fn new() -> WorkerMetrics {
        WorkerMetrics { cells: [const { Counter(AtomicU64::new(0)) }; CELLS] }
    }

    #[inline(always)]
    fn cell(&self, index: usize) -> &Counter {
        &self.cells[index]
    }

    /// A request answered (or cut off) with `status`, having sent `bytes`
    /// in `micros`.
    #[inline]
    pub fn count_exchange(
        &self,
        method: MethodClass,
        status: u16,
        protocol: Protocol,
        bytes: u64,
        micros: u64,
        limit: Option<Limit>,
    ) {
        self.cell(cells::request(method, status_class(status), protocol)).add(1);
        self.cell(cells::RESPONSE_BYTES).add(bytes);
        if micros == 0 {
            // Most responses: sent in the turn their request came in.
            self.cell(cells::DURATION_BUCKETS).add(1);
        } else {
            self.cell(cells::DURATION_BUCKETS + duration_bucket(micros)).add(1);
            self.cell(cells::DURATION_MICROS).add(micros);
        }
        if let Some(limit) = limit {
            self.count_limit(limit);
        }
    }

    pub fn count_limit(&self, limit: Limit) {
        self.cell(cells::LIMITS + limit as usize).add(1);
    }

    pub fn count_accepted(&self) {
        self.cell(cells::ACCEPTED).add(1);
    }

    /// Publishes how many of this worker's connections are in each state.
    pub fn set_connections(&self, counts: &[u64; ConnectionState::ALL.len()]) {
        for (state, &count) in counts.iter().enumerate() {
            self.cell(cells::CONNECTIONS + state).set(count);
        }
    }

    /// A TLS handshake that finished (`ok`) or was abandoned or refused.
    pub fn count_handshake(&self, ok: bool) {
        self.cell(if ok { cells::TLS_HANDSHAKES } else { cells::TLS_FAILURES }).add(1);
    }

    /// A request for a file answered from the worker's cache, or not.
    #[inline(always)]
    pub fn count_cache(&self, hit: bool) {
        self.cell(if hit { cells::CACHE_HITS } else { cells::CACHE_MISSES }).add(1);
    }

    /// Publishes the bytes the worker's file cache keeps.
    pub fn set_file_cache_bytes(&self, bytes: usize) {
        self.cell(cells::CACHE_FILE_BYTES).set(bytes as u64);
    }

    /// Publishes the compressed bytes the worker keeps.
    pub fn set_compressed_cache_bytes(&self, bytes: usize) {
        self.cell(cells::CACHE_COMPRESSED_BYTES).set(bytes as u64);
    }

    /// A compressed body begun (`started`), and bytes through a coder.
    pub fn count_compression(&self, coding: Coding, how: Compression, started: bool, input: u64, output: u64) {
        if started {
            if let Some(slot) = CODINGS.iter().position(|&c| c == coding) {
                self.cell(cells::COMPRESSIONS + slot * 2 + how as usize).add(1);
            }
        }
        self.cell(cells::COMPRESS_IN).add(input);
        self.cell(cells::COMPRESS_OUT).add(output);
    }

    /// An uploaded file: `landed` with its `bytes`, or discarded.
    pub fn count_upload(&self, landed: bool, bytes: u64) {
        match landed {
            true => {
                self.cell(cells::UPLOADS).add(1);
                self.cell(cells::UPLOAD_BYTES).add(bytes);
            }
            false => self.cell(cells::UPLOADS + 1).add(1),
        }
    }

    /// Adds this worker's numbers to `sum`.
    fn add_to(&self, sum: &mut Snapshot) {
        for (total, counter) in sum.cells.iter_mut().zip(&self.cells) {
            *total = total.wrapping_add(counter.get());
        }
    }
}

impl Default for WorkerMetrics {
    fn default() -> WorkerMetrics {
        WorkerMetrics::new()
    }
}

/// Every worker's counters, and what a scrape reports besides them.
#[derive(Debug)]
pub struct Metrics {
    workers: Vec<Arc<WorkerMetrics>>,
    budget: Arc<MemoryBudget>,
    /// When the server started, for `process_start_time_seconds`-like use.
    started: SystemTime,
}

impl Metrics {
    /// Counters for `workers` workers; `budget` is reported as it is.
    pub fn new(workers: usize, budget: Arc<MemoryBudget>) -> Metrics {
        Metrics {
            workers: (0..workers).map(|_| Arc::new(WorkerMetrics::new())).collect(),
            budget,
            started: SystemTime::now(),
        }
    }

    /// Worker `id`'s counters, for that worker alone to write.
    pub fn worker(&self, id: usize) -> Option<Arc<WorkerMetrics>> {
        self.workers.get(id).cloned()
    }

    /// Every worker's numbers, summed.
    pub fn snapshot(&self) -> Snapshot {
        let mut sum = Snapshot::zero();
        for worker in &self.workers {
            worker.add_to(&mut sum);
        }
        sum
    }

    /// The whole scrape, in the text format.
    pub fn render(&self) -> String {
        let process = text::Process {
            workers: self.workers.len(),
            budget_used: self.budget.used() as u64,
            budget_limit: self.budget.limit() as u64,
            started: self.started,
        };
        text::render(&self.snapshot(), &process)
    }
}

thread_local! {
    /// The counters of the worker that runs on this thread.
    static CURRENT: RefCell<Option<Arc<WorkerMetrics>>> = const { RefCell::new(None) };
}

/// Makes `worker` the counters [`current`] and [`count`] use on this
/// thread (each worker calls it as it starts, before its handlers are
/// made); `None` when metrics are off.
pub fn enter(worker: Option<Arc<WorkerMetrics>>) {
    CURRENT.with(|current| *current.borrow_mut() = worker);
}

/// This thread's worker's counters, for a handler to keep; `None` outside
/// a worker or with metrics off.
pub fn current() -> Option<Arc<WorkerMetrics>> {
    CURRENT.with(|current| current.borrow().clone())
}

/// Counts on this thread's worker's counters, if there are any: for
/// events rare enough that a thread-local lookup does not matter
/// (handshakes, compressions).
pub fn count(f: impl FnOnce(&WorkerMetrics)) {
    CURRENT.with(|current| {
        if let Some(worker) = &*current.borrow() {
            f(worker)
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_fall_in_the_first_bucket_that_holds_them() {
        let cases = [
            (0, 0),
            (100, 0),
            (101, 1),
            (999, 3),
            (1_000, 3),
            (59_999_999, 17),
            (60_000_000, 17),
            (60_000_001, 18),
            (u64::MAX, 18),
        ];
        for (micros, bucket) in cases {
            assert_eq!(duration_bucket(micros), bucket, "{micros} µs");
        }
    }

    #[test]
    fn status_classes() {
        for (status, class) in [(100, 0), (200, 1), (204, 1), (304, 2), (404, 3), (503, 4), (599, 4), (0, 0), (999, 4)]
        {
            assert_eq!(status_class(status), class, "{status}");
        }
    }

    #[test]
    fn methods_are_a_fixed_set() {
        let cases = [
            ("GET", "GET"),
            ("HEAD", "HEAD"),
            ("POST", "POST"),
            ("PUT", "PUT"),
            ("DELETE", "DELETE"),
            ("OPTIONS", "OPTIONS"),
            ("PATCH", "other"),
            ("BREW", "other"),
            ("get", "other"),
        ];
        for (method, label) in cases {
            let method = Method::from_bytes(method.as_bytes()).expect("a token");
            assert_eq!(MethodClass::of(&method).label(), label, "{method}");
        }
    }

    #[test]
    fn limits_of_refusals() {
        let cases = [
            (408, Some(Limit::Timeout)),
            (413, Some(Limit::BodySize)),
            (414, Some(Limit::HeadSize)),
            (431, Some(Limit::HeadSize)),
            (503, Some(Limit::Memory)),
            (400, None),
            (411, None),
        ];
        for (status, limit) in cases {
            assert_eq!(Limit::of_refusal(status), limit, "{status}");
        }
    }

    #[test]
    fn a_scrape_sums_every_workers_counts() {
        let metrics = Metrics::new(2, Arc::new(MemoryBudget::new(1000)));
        let (a, b) = (metrics.worker(0).unwrap(), metrics.worker(1).unwrap());
        a.count_exchange(MethodClass::Get, 200, Protocol::Http11, 100, 50, None);
        b.count_exchange(MethodClass::Get, 204, Protocol::Http11, 10, 300, None);
        b.count_exchange(MethodClass::Other, 431, Protocol::Unknown, 5, 20, Some(Limit::HeadSize));
        a.count_cache(true);
        b.count_cache(false);
        let sum = metrics.snapshot();
        assert_eq!(sum.requests(MethodClass::Get, 1, Protocol::Http11), 2);
        assert_eq!(sum.requests(MethodClass::Other, 3, Protocol::Unknown), 1);
        assert_eq!(sum.get(cells::RESPONSE_BYTES), 115);
        assert_eq!(sum.get(cells::DURATION_MICROS), 370);
        assert_eq!(sum.get(cells::DURATION_BUCKETS), 2, "50 and 20 µs");
        assert_eq!(sum.get(cells::DURATION_BUCKETS + 2), 1, "300 µs");
        assert_eq!(sum.get(cells::LIMITS + Limit::HeadSize as usize), 1);
        assert_eq!((sum.get(cells::CACHE_HITS), sum.get(cells::CACHE_MISSES)), (1, 1));
        assert!(metrics.worker(2).is_none());
    }

    #[test]
    fn each_workers_counters_have_cache_lines_of_their_own() {
        assert_eq!(std::mem::align_of::<WorkerMetrics>(), 128);
        assert_eq!(std::mem::size_of::<WorkerMetrics>() % 128, 0);
    }
}
