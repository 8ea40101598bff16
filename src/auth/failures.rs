//! Failed logins slowed per client address ([`Failures`]), without ever
//! holding a worker: past [`FREE_FAILURES`] wrong passwords an address is
//! refused for a while (`429 Too Many Requests` with `Retry-After`, and no
//! password checked meanwhile), each further failure doubling the while up
//! to [`LONGEST_BLOCK`]. Only that address (an IPv6 client's /64, which one
//! machine commonly holds whole) is slowed: the real user, elsewhere, is
//! never locked out by someone guessing their password.
//!
//! Why a refusal rather than a delayed answer: a held answer keeps a
//! connection, its memory and a timer per guess, where a refusal costs
//! nothing and tells an honest client exactly when to come back; and
//! since no password is checked while an address is refused, guessing
//! costs the server no hashing either. The table is pure (times are
//! given), bounded ([`TRACKED_ADDRESSES`]) and forgets an address
//! [`FORGET_AFTER`] after its last failure or the end of its refusal.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Wrong passwords an address may send before it is slowed: typos and a
/// password manager's stale entry fit, a guessing script does not.
pub const FREE_FAILURES: u32 = 5;
/// How long an address is refused after its first failure past the free
/// ones; doubled at each further failure.
pub const FIRST_BLOCK: Duration = Duration::from_secs(1);
/// The longest refusal: 10 minutes (fail2ban's default ban), so a script
/// gets about 6 guesses an hour, and a person who mistyped too often waits
/// at most that.
pub const LONGEST_BLOCK: Duration = Duration::from_secs(600);
/// A quiet address is forgotten this long after its last failure (or the
/// end of its refusal): its next failures are free again.
pub const FORGET_AFTER: Duration = Duration::from_secs(900);
/// Addresses tracked at most (about 50 bytes each, so under 1 MiB). When
/// full, the one forgotten soonest makes room.
pub const TRACKED_ADDRESSES: usize = 10_000;

/// One address's record.
#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    /// Refused until then.
    blocked_until: Option<Instant>,
    /// Forgotten from then on.
    forget_at: Instant,
}

/// Failed logins per client address.
#[derive(Debug, Default)]
pub struct Failures {
    by_client: HashMap<u128, Record>,
}

impl Failures {
    /// How long `client` is still refused at `now`, if it is.
    pub fn refused(&mut self, client: IpAddr, now: Instant) -> Option<Duration> {
        let key = key(client);
        let record = self.by_client.get(&key)?;
        if now >= record.forget_at {
            self.by_client.remove(&key);
            return None;
        }
        record.blocked_until.and_then(|until| until.checked_duration_since(now)).filter(|left| !left.is_zero())
    }

    /// Records a wrong password from `client` at `now`; the refusal that
    /// follows, if this failure starts one.
    pub fn fail(&mut self, client: IpAddr, now: Instant) -> Option<Duration> {
        let key = key(client);
        if !self.by_client.contains_key(&key) && self.by_client.len() >= TRACKED_ADDRESSES {
            self.make_room(now);
        }
        let record = self.by_client.entry(key).or_insert(Record { failures: 0, blocked_until: None, forget_at: now });
        if now >= record.forget_at {
            record.failures = 0;
        }
        record.failures = record.failures.saturating_add(1);
        let block = block_after(record.failures);
        record.blocked_until = block.map(|block| now + block);
        record.forget_at = now + block.unwrap_or_default() + FORGET_AFTER;
        block
    }

    /// Drops the forgotten records, or the one to be forgotten soonest.
    fn make_room(&mut self, now: Instant) {
        self.by_client.retain(|_, record| record.forget_at > now);
        if self.by_client.len() >= TRACKED_ADDRESSES {
            let soonest = self.by_client.iter().min_by_key(|(_, record)| record.forget_at).map(|(key, _)| *key);
            if let Some(key) = soonest {
                self.by_client.remove(&key);
            }
        }
    }
}

/// The refusal after `failures` wrong passwords in a row.
fn block_after(failures: u32) -> Option<Duration> {
    let past = failures.checked_sub(FREE_FAILURES + 1)?;
    // 2^past seconds, capped (the shift is capped first, so it cannot overflow).
    let seconds = FIRST_BLOCK.as_secs() << past.min(31);
    Some(Duration::from_secs(seconds).min(LONGEST_BLOCK))
}

/// The key of a client: an IPv4 address (or one mapped into IPv6) whole,
/// an IPv6 address by its /64, which a single host usually has to itself.
fn key(client: IpAddr) -> u128 {
    match client {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().to_bits(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_ipv6_mapped().to_bits(),
            None => v6.to_bits() & !u128::from(u64::MAX),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn refusals_double_past_the_free_failures_up_to_the_longest() {
        let cases: &[(u32, Option<u64>)] = &[
            (1, None),
            (5, None),
            (6, Some(1)),
            (7, Some(2)),
            (8, Some(4)),
            (15, Some(512)),
            (16, Some(600)),
            (u32::MAX, Some(600)),
        ];
        for &(failures, seconds) in cases {
            assert_eq!(block_after(failures), seconds.map(Duration::from_secs), "{failures}");
        }
    }

    #[test]
    fn one_address_is_slowed_and_another_is_not() {
        let mut table = Failures::default();
        let start = Instant::now();
        for _ in 0..FREE_FAILURES - 1 {
            assert_eq!(table.fail(ONE, start), None);
        }
        assert_eq!(table.refused(ONE, start), None, "typos are free");
        assert_eq!(table.fail(ONE, start), None, "the last free one");
        assert_eq!(table.fail(ONE, start), Some(Duration::from_secs(1)));
        assert_eq!(table.refused(ONE, start), Some(Duration::from_secs(1)));
        assert_eq!(table.refused(OTHER, start), None, "the real user elsewhere is not refused");
        let later = start + Duration::from_millis(1500);
        assert_eq!(table.refused(ONE, later), None, "the refusal ends");
        assert_eq!(table.fail(ONE, later), Some(Duration::from_secs(2)), "and the next failure doubles it");
        // Quiet long enough, the address starts afresh.
        let quiet = later + Duration::from_secs(2) + FORGET_AFTER;
        assert_eq!(table.refused(ONE, quiet), None);
        assert_eq!(table.fail(ONE, quiet), None);
    }

    #[test]
    fn addresses_are_keyed_as_hosts_hold_them() {
        let v6 = |text: &str| key(text.parse().unwrap());
        assert_eq!(v6("2001:db8::1"), v6("2001:db8::ffff:1:2"), "one /64");
        assert_ne!(v6("2001:db8::1"), v6("2001:db8:0:1::1"));
        assert_eq!(v6("::ffff:192.0.2.1"), key(ONE), "a mapped IPv4 address is that address");
        assert_ne!(key(ONE), key(OTHER));
    }

    #[test]
    fn the_table_is_bounded() {
        let mut table = Failures::default();
        let now = Instant::now();
        for i in 0..TRACKED_ADDRESSES as u32 + 10 {
            table.fail(IpAddr::V4(i.into()), now + Duration::from_millis(u64::from(i)));
        }
        assert_eq!(table.by_client.len(), TRACKED_ADDRESSES);
        // The oldest made room for the newest.
        assert!(!table.by_client.contains_key(&key(IpAddr::V4(0.into()))));
        assert!(table.by_client.contains_key(&key(IpAddr::V4((TRACKED_ADDRESSES as u32 + 9).into()))));
    }
}
