//! The server's one memory budget: every byte a connection holds before it
//! is answered or while it stalls is charged here, so that no flood of
//! half-sent input or unread output can grow the process without bound
//! (`Config::max_pending_head_bytes`, issue 20).
//!
//! What is charged, and by whom: a connection's input buffer (an
//! unfinished request head, a body being buffered, pipelined leftovers:
//! `connection`); what a TLS connection holds for a record still
//! arriving, which rustls is only given once whole, or for a response its
//! client does not read (`tls::stream`); and the coder state of a file
//! compressed while it is sent (`handlers::compress`). The first two are
//! needed to answer at all: past the limit the connection gets a 503 (or
//! is closed where no HTTP answer can be sent), and the first refusal of an
//! episode is logged. Compression is only an optimisation: it takes from
//! the budget only while everything held stays within a share of it
//! ([`SPARE_SHARE`]), and past that the file goes uncompressed, so slow
//! readers of compressed bodies can never crowd out request heads.
//!
//! Bytes released are counted, so the worker hands freed heap back to the
//! OS (`sys::net::release_freed_memory`) once enough has been freed,
//! whichever kind of holder freed it. This module owns the accounting
//! only; what to do when a charge is refused is the holder's business.

use std::cell::RefCell;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// The share of the budget that optional memory (compression state) may
/// bring the total to, as a fraction `1 / SPARE_SHARE`: half, so that
/// however many compressed responses stall, half of the budget is left
/// for what every request needs (its head, its TLS records).
pub const SPARE_SHARE: usize = 2;

/// A byte budget shared by all workers of a server.
#[derive(Debug)]
pub struct MemoryBudget {
    used: AtomicUsize,
    limit: usize,
    /// A request was refused since the last one that fitted, so a flood
    /// is logged once per episode rather than once per connection.
    exhausted: AtomicBool,
    /// Bytes given back since the freed heap was last handed to the OS.
    released: AtomicUsize,
}

/// Whether [`MemoryBudget::try_take`] found room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    Yes,
    /// No room, and this is the first refusal since the budget last had room.
    NoFirst,
    No,
}

impl MemoryBudget {
    pub fn new(limit: usize) -> MemoryBudget {
        MemoryBudget {
            used: AtomicUsize::new(0),
            limit,
            exhausted: AtomicBool::new(false),
            released: AtomicUsize::new(0),
        }
    }

    /// The whole budget, in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes taken and not yet released.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Takes `bytes` from the budget if they fit.
    pub fn try_take(&self, bytes: usize) -> Taken {
        match self.take_within(bytes, self.limit) {
            true if self.exhausted.load(Ordering::Relaxed) => {
                self.exhausted.store(false, Ordering::Relaxed);
                Taken::Yes
            }
            true => Taken::Yes,
            false if self.exhausted.swap(true, Ordering::Relaxed) => Taken::No,
            false => Taken::NoFirst,
        }
    }

    /// Takes `bytes` of optional memory (what only saves bytes on the
    /// wire, such as a coder's state) if everything held then stays within
    /// `1 / SPARE_SHARE` of the budget. A refusal is not an episode: the
    /// caller does without.
    pub fn try_take_spare(&self, bytes: usize) -> bool {
        self.take_within(bytes, self.limit / SPARE_SHARE)
    }

    fn take_within(&self, bytes: usize, ceiling: usize) -> bool {
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(bytes).filter(|&total| total <= ceiling)
            })
            .is_ok()
    }

    /// Returns `bytes` taken earlier.
    pub fn release(&self, bytes: usize) {
        if bytes > 0 {
            self.used.fetch_sub(bytes, Ordering::Relaxed);
            self.released.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    /// Bytes released since [`MemoryBudget::released_at_least`] last
    /// returned true.
    pub fn released(&self) -> usize {
        self.released.load(Ordering::Relaxed)
    }

    /// True when at least `bytes` have been released since the last time
    /// this returned true (the count then starts again): the moment to hand
    /// freed heap back to the OS. One caller wins each time.
    pub fn released_at_least(&self, bytes: usize) -> bool {
        self.released
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |released| (released >= bytes).then_some(0))
            .is_ok()
    }
}

/// One holder's share of a budget (a TLS record in progress, a coder's
/// state), given back when it is dropped, so no path can forget it.
#[derive(Debug)]
pub struct Charge {
    budget: Arc<MemoryBudget>,
    bytes: usize,
}

impl Charge {
    /// Nothing held yet.
    pub fn new(budget: Arc<MemoryBudget>) -> Charge {
        Charge { budget, bytes: 0 }
    }

    /// A charge of `bytes` of optional memory (see
    /// [`MemoryBudget::try_take_spare`]), or `None` when there is no room.
    pub fn spare(budget: Arc<MemoryBudget>, bytes: usize) -> Option<Charge> {
        if !budget.try_take_spare(bytes) {
            return None;
        }
        Some(Charge { budget, bytes })
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The budget charged.
    pub fn budget(&self) -> &MemoryBudget {
        &self.budget
    }

    /// Makes the charge `bytes` in all: a decrease always succeeds, an
    /// increase only if the budget has room (else the charge is unchanged).
    pub fn resize(&mut self, bytes: usize) -> Taken {
        if bytes <= self.bytes {
            self.budget.release(self.bytes - bytes);
            self.bytes = bytes;
            return Taken::Yes;
        }
        let taken = self.budget.try_take(bytes - self.bytes);
        if taken == Taken::Yes {
            self.bytes = bytes;
        }
        taken
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.budget.release(self.bytes);
    }
}

thread_local! {
    /// The budget of the server whose worker runs on this thread.
    static CURRENT: RefCell<Option<Arc<MemoryBudget>>> = const { RefCell::new(None) };
}

/// Makes `budget` the one [`current`] returns on this thread: each worker
/// calls it as it starts. Why a thread-local: handlers are built before
/// the server (and could serve two), so they cannot be handed its budget
/// when made; but they always run on one of its workers.
pub fn enter(budget: Arc<MemoryBudget>) {
    CURRENT.with(|current| *current.borrow_mut() = Some(budget));
}

/// The budget of the server this thread works for; `None` outside a
/// worker (a handler called directly, in a unit test).
pub fn current() -> Option<Arc<MemoryBudget>> {
    CURRENT.with(|current| current.borrow().clone())
}

/// The error a holder returns through an `io` path when the budget
/// refused it, recognised by [`is_refusal`].
pub fn refusal(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::OutOfMemory, Refused(what))
}

/// Whether `error` is a [`refusal`].
pub fn is_refusal(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::OutOfMemory && error.get_ref().is_some_and(|inner| inner.is::<Refused>())
}

/// The budget had no room for `.0`.
#[derive(Debug)]
struct Refused(&'static str);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no room in the memory budget for {}", self.0)
    }
}

impl std::error::Error for Refused {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_refuses_past_its_limit_and_logs_once_per_episode() {
        let budget = MemoryBudget::new(10);
        assert_eq!(budget.try_take(6), Taken::Yes);
        assert_eq!(budget.try_take(5), Taken::NoFirst);
        assert_eq!(budget.try_take(5), Taken::No);
        assert_eq!(budget.try_take(4), Taken::Yes);
        assert_eq!(budget.try_take(1), Taken::NoFirst);
        budget.release(10);
        assert_eq!(budget.try_take(10), Taken::Yes);
        assert_eq!(budget.try_take(usize::MAX), Taken::NoFirst);
        assert_eq!(budget.used(), 10);
    }

    #[test]
    fn spare_memory_stops_at_its_share_and_leaves_the_rest_to_requests() {
        // (held before, asked, granted)
        let cases = [(0, 50, true), (0, 51, false), (40, 10, true), (40, 11, false), (60, 1, false), (0, 0, true)];
        for (held, asked, granted) in cases {
            let budget = MemoryBudget::new(100);
            assert_eq!(budget.try_take(held), Taken::Yes);
            assert_eq!(budget.try_take_spare(asked), granted, "{held} held, {asked} asked");
            assert_eq!(budget.used(), held + if granted { asked } else { 0 });
        }
        // Spare memory never starts an episode: the next refusal of a
        // request is still the first.
        let budget = MemoryBudget::new(100);
        assert!(!budget.try_take_spare(80));
        assert_eq!(budget.try_take(101), Taken::NoFirst);
    }

    #[test]
    fn charges_grow_within_the_budget_shrink_freely_and_are_given_back_on_drop() {
        let budget = Arc::new(MemoryBudget::new(100));
        let mut a = Charge::new(Arc::clone(&budget));
        assert_eq!(a.resize(60), Taken::Yes);
        let mut b = Charge::new(Arc::clone(&budget));
        assert_eq!(b.resize(50), Taken::NoFirst);
        assert_eq!(b.bytes(), 0, "a refused charge is unchanged");
        assert_eq!(a.resize(20), Taken::Yes);
        assert_eq!(b.resize(50), Taken::Yes);
        assert_eq!(budget.used(), 70);
        let spare = Charge::spare(Arc::clone(&budget), 10);
        assert!(spare.is_none(), "70 held: no spare memory past 50");
        drop(a);
        let spare = Charge::spare(Arc::clone(&budget), 0).expect("50 held: nothing more is fine");
        drop((b, spare));
        assert_eq!(budget.used(), 0);
        let spare = Charge::spare(Arc::clone(&budget), 50).expect("room");
        assert_eq!(budget.used(), 50);
        drop(spare);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn releases_are_counted_until_there_are_enough_to_trim() {
        let budget = MemoryBudget::new(100);
        assert!(!budget.released_at_least(1));
        assert_eq!(budget.try_take(30), Taken::Yes);
        budget.release(20);
        assert!(!budget.released_at_least(25));
        assert_eq!(budget.released(), 20);
        budget.release(10);
        assert!(budget.released_at_least(25));
        assert!(!budget.released_at_least(25), "the count starts again");
        assert_eq!(budget.released(), 0);
        assert!(budget.released_at_least(0));
    }

    #[test]
    fn refusals_survive_the_io_path_and_nothing_else_passes_for_one() {
        let refused = refusal("a TLS record");
        assert!(is_refusal(&refused));
        assert!(refused.to_string().contains("a TLS record"));
        assert!(!is_refusal(&io::Error::from(io::ErrorKind::OutOfMemory)));
        assert!(!is_refusal(&io::Error::other("no room in the memory budget")));
    }

    #[test]
    fn each_thread_sees_the_budget_it_entered() {
        assert!(current().is_none());
        let budget = Arc::new(MemoryBudget::new(7));
        enter(Arc::clone(&budget));
        assert_eq!(current().map(|b| b.limit()), Some(7));
        std::thread::spawn(|| assert!(current().is_none())).join().expect("thread");
    }
}
