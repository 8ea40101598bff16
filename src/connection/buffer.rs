//! A byte buffer charged to the server's memory budget: a connection's
//! input (a partial head, a body being received whole, pipelined
//! leftovers). It grows only while the budget has room, and gives its
//! share back when emptied for good, so a flood of unfinished requests
//! is refused (503) instead of exhausting memory.

use std::net::SocketAddr;

use crate::budget::{MemoryBudget, Taken};

/// Least a buffer takes from the budget at once: the size of one read.
const MIN_CHARGE: usize = 4096;

/// Bytes held for a connection, within its share of a [`MemoryBudget`].
#[derive(Debug, Default)]
pub struct Buffer {
    bytes: Vec<u8>,
    /// Bytes of the budget this buffer holds (its capacity, or more).
    charged: usize,
}

impl Buffer {
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Drops the first `n` bytes (used up).
    pub fn consume(&mut self, n: usize) {
        self.bytes.drain(..n);
    }

    /// Appends `bytes`, growing within `budget`; false (nothing appended)
    /// when the budget has no room. A refusal is logged once per episode
    /// of a full budget, naming the setting (`peer`, `limit_setting`).
    pub fn append(&mut self, bytes: &[u8], budget: &MemoryBudget, peer: SocketAddr) -> bool {
        let needed = self.bytes.len() + bytes.len();
        if needed > self.charged {
            let capacity = needed.max(self.charged * 2).max(MIN_CHARGE);
            match budget.try_take(capacity - self.charged) {
                Taken::Yes => {}
                Taken::NoFirst => {
                    log::warn!(
                        "{peer}: connections hold the whole memory budget ({} bytes, \
                         Config::max_pending_head_bytes); answering 503 until there is room",
                        budget.limit()
                    );
                    return false;
                }
                Taken::No => return false,
            }
            self.bytes.reserve_exact(capacity - self.bytes.len());
            self.charged = capacity;
        }
        self.bytes.extend_from_slice(bytes);
        true
    }

    /// Frees the bytes and gives their share back to `budget` (which
    /// counts what is freed, for the workers to hand it back to the OS).
    pub fn release(&mut self, budget: &MemoryBudget) {
        self.bytes = Vec::new();
        budget.release(std::mem::take(&mut self.charged));
    }

    /// Whether the buffer holds a share of the budget.
    pub fn is_charged(&self) -> bool {
        self.charged > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_within_the_budget_and_gives_it_back() {
        let budget = MemoryBudget::new(10_000);
        let peer = SocketAddr::from(([127, 0, 0, 1], 1));
        let mut a = Buffer::default();
        assert!(a.append(b"hello", &budget, peer));
        assert_eq!((a.as_slice(), a.charged), (&b"hello"[..], MIN_CHARGE));
        assert!(a.append(&[0; 5000], &budget, peer), "doubles past the first charge");
        let mut b = Buffer::default();
        assert!(!b.append(&[0; 2000], &budget, peer), "no room left");
        assert!(b.is_empty());
        a.consume(5);
        assert_eq!(a.len(), 5000);
        a.release(&budget);
        assert_eq!(budget.used(), 0);
        assert!(b.append(&[0; 2000], &budget, peer), "room again");
    }
}
