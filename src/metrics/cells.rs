//! Where each number is in a worker's flat array of counters, and the
//! [`Snapshot`] of the same shape that a scrape sums them into. One flat
//! array, rather than a struct of fields, so summing the workers and
//! rendering are loops, and a new number is one more offset here.

use super::{ConnectionState, Limit, MethodClass, Protocol, CODINGS, DURATION_BUCKETS_MICROS, STATUS_CLASSES};

const METHODS: usize = MethodClass::ALL.len();
const PROTOCOLS: usize = Protocol::ALL.len();

/// Requests by method, status class and protocol.
pub const REQUESTS: usize = 0;
/// Bytes written for responses (heads and bodies).
pub const RESPONSE_BYTES: usize = REQUESTS + METHODS * STATUS_CLASSES * PROTOCOLS;
/// Requests per duration bucket (not cumulative; the last is `+Inf`).
pub const DURATION_BUCKETS: usize = RESPONSE_BYTES + 1;
/// The durations' sum, in microseconds.
pub const DURATION_MICROS: usize = DURATION_BUCKETS + DURATION_BUCKETS_MICROS.len() + 1;
/// Connections accepted.
pub const ACCEPTED: usize = DURATION_MICROS + 1;
/// Open connections per state (gauges).
pub const CONNECTIONS: usize = ACCEPTED + 1;
/// Refusals per limit.
pub const LIMITS: usize = CONNECTIONS + ConnectionState::ALL.len();
pub const TLS_HANDSHAKES: usize = LIMITS + Limit::ALL.len();
pub const TLS_FAILURES: usize = TLS_HANDSHAKES + 1;
pub const CACHE_HITS: usize = TLS_FAILURES + 1;
pub const CACHE_MISSES: usize = CACHE_HITS + 1;
/// Bytes the file cache keeps (a gauge).
pub const CACHE_FILE_BYTES: usize = CACHE_MISSES + 1;
/// Bytes the cache of compressed bytes keeps (a gauge).
pub const CACHE_COMPRESSED_BYTES: usize = CACHE_FILE_BYTES + 1;
/// Compressed bodies begun, per coding (`CODINGS`) and then per
/// `Compression` (whole, stream).
pub const COMPRESSIONS: usize = CACHE_COMPRESSED_BYTES + 1;
/// Bytes into and out of the coders.
pub const COMPRESS_IN: usize = COMPRESSIONS + CODINGS.len() * 2;
pub const COMPRESS_OUT: usize = COMPRESS_IN + 1;
/// Uploaded files, landed (renamed into place) and then discarded (their
/// temporary file removed: interrupted, too large, a full disk, refused).
pub const UPLOADS: usize = COMPRESS_OUT + 1;
/// Bytes of the uploaded files that landed.
pub const UPLOAD_BYTES: usize = UPLOADS + 2;
/// How many numbers a worker keeps.
pub const CELLS: usize = UPLOAD_BYTES + 1;

/// The cell counting requests of `method`, status class `class` (0 for
/// 1xx) and `protocol`.
#[inline(always)]
pub fn request(method: MethodClass, class: usize, protocol: Protocol) -> usize {
    REQUESTS + (method as usize * STATUS_CLASSES + class) * PROTOCOLS + protocol as usize
}

/// Every worker's numbers, summed at one scrape.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub(super) cells: [u64; CELLS],
}

impl Snapshot {
    pub fn zero() -> Snapshot {
        Snapshot { cells: [0; CELLS] }
    }

    pub fn get(&self, cell: usize) -> u64 {
        self.cells[cell]
    }

    pub fn requests(&self, method: MethodClass, class: usize, protocol: Protocol) -> u64 {
        self.cells[request(method, class, protocol)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_cells_are_distinct_and_within_their_range() {
        let mut seen = std::collections::HashSet::new();
        for method in MethodClass::ALL {
            for class in 0..STATUS_CLASSES {
                for protocol in Protocol::ALL {
                    let cell = request(method, class, protocol);
                    assert!(cell < RESPONSE_BYTES);
                    assert!(seen.insert(cell), "{method:?} {class} {protocol:?}");
                }
            }
        }
        assert_eq!(seen.len(), RESPONSE_BYTES);
    }
}
