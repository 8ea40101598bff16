//! The file cache's admission filter: which paths missed lately, so that
//! once the cache is full only a file asked for twice within a recent
//! window is cached (see the cache's module comment). Knows nothing of
//! files: it remembers hashes of path bytes.

use std::hash::BuildHasher;

/// Bits in a [`Doorkeeper`]: 8 KiB per worker and folder.
const DOORKEEPER_BITS: usize = 1 << 16;

/// Misses a [`Doorkeeper`] remembers before it starts afresh: the window
/// within which a second miss admits a file. A sixteenth of its bits, so
/// that a first miss passes for a second one (two paths on one bit) at
/// most one time in sixteen; and a few thousand misses, about as many
/// small files as the default 8 MiB cache holds, so a file asked for again
/// before a cache of that size could have evicted it gets in.
const DOORKEEPER_WINDOW: usize = DOORKEEPER_BITS / 16;

/// Which paths missed recently, one bit per path hash (a Bloom filter of
/// one hash function): TinyLFU's doorkeeper, which keeps files asked for
/// once out of the cache. Cleared every [`DOORKEEPER_WINDOW`] misses, so
/// it remembers only the recent ones. A false "seen" admits a file early,
/// which is all it can do wrong.
#[derive(Debug)]
pub struct Doorkeeper {
    bits: Vec<u64>,
    marked: usize,
    /// Hashes the paths: foldhash, seeded at random per process (as the
    /// cache's maps), so no client can aim two paths at one bit.
    hasher: foldhash::fast::RandomState,
}

impl Doorkeeper {
    pub fn new() -> Doorkeeper {
        Doorkeeper { bits: vec![0; DOORKEEPER_BITS / 64], marked: 0, hasher: Default::default() }
    }

    /// Whether the path whose bytes are `key` was marked in the current
    /// window; marks it if not.
    pub fn saw(&mut self, key: &[u8]) -> bool {
        self.seen_before(self.hasher.hash_one(key))
    }

    /// Whether `hash` was marked in the current window; marks it if not.
    fn seen_before(&mut self, hash: u64) -> bool {
        let bit = hash as usize % DOORKEEPER_BITS;
        let (word, mask) = (bit / 64, 1u64 << (bit % 64));
        if self.bits[word] & mask != 0 {
            return true;
        }
        if self.marked >= DOORKEEPER_WINDOW {
            self.bits.fill(0);
            self.marked = 0;
        }
        self.bits[word] |= mask;
        self.marked += 1;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_doorkeeper_forgets_after_its_window() {
        let mut door = Doorkeeper::new();
        assert!(!door.seen_before(7));
        assert!(door.seen_before(7));
        assert!(door.seen_before(7 + DOORKEEPER_BITS as u64), "one bit per hash modulo its size");
        // Fill the window with other marks: the next new mark starts afresh.
        let mut hash = 8;
        while door.marked < DOORKEEPER_WINDOW {
            door.seen_before(hash);
            hash += 1;
        }
        assert!(!door.seen_before(hash), "marked in a fresh window");
        assert!(!door.seen_before(7), "forgotten with the old window");
    }
}
