//! What metrics keep of one exchange between its request and the end of
//! its response, as the access log keeps its `Entry`: the service fills
//! it in (method, protocol, status, when it began), the connection
//! updates the status where a response changes it, and counts it once
//! the response has ended, sent or cut off, with the bytes it sent.

use std::time::Instant;

use super::{Limit, MethodClass, Protocol, WorkerMetrics};
use crate::http::request::Request;

/// One exchange's facts until its response ends.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tally {
    /// Set when the request is recorded; `None` once counted.
    started: Option<Instant>,
    method: MethodClass,
    protocol: Protocol,
    status: u16,
    /// The limit that refused it, if one did.
    limit: Option<Limit>,
}

impl Tally {
    /// Whether an exchange is recorded and not yet counted.
    pub fn is_open(&self) -> bool {
        self.started.is_some()
    }

    /// Records a request (`None`: a head that could not be parsed)
    /// answered with `status`, taken up at `started`.
    #[inline]
    pub fn record(&mut self, request: Option<&Request>, status: u16, started: Instant) {
        *self = Tally {
            started: Some(started),
            method: request.map_or(MethodClass::Other, |request| MethodClass::of(request.method())),
            protocol: request.map_or(Protocol::Unknown, |request| Protocol::of(request.version())),
            status,
            limit: None,
        };
    }

    /// Records a refusal with `status` (before or while the request is
    /// read): the request's status changes if it was recorded already,
    /// and the limit behind the status is noted.
    pub fn refuse(&mut self, request: Option<&Request>, status: u16, started: Instant) {
        if self.is_open() {
            self.status = status;
        } else {
            self.record(request, status, started);
        }
        self.limit = Limit::of_refusal(status);
    }

    /// Changes the status (a response prepared later, a streamed body's answer).
    pub fn set_status(&mut self, status: u16) {
        self.status = status;
    }

    /// Counts the exchange, which sent `bytes` and ended at `now`, on
    /// `worker`, if one is recorded and not counted yet.
    ///
    /// Both ends are read from the worker's clock, which is read once per
    /// event-loop turn (as nginx times `$request_time` on the time it
    /// caches per loop iteration): a response sent in the turn its request
    /// arrived in took 0 s, a longer one is timed to within a turn. Reading
    /// the clock per response cost 1.2 % of a cached 1 KiB request
    /// (callgrind: 63 instructions, `Instant::now` and the subtraction), more
    /// than half the 2 % metrics may cost.
    #[inline(always)]
    pub fn finish(&mut self, worker: &WorkerMetrics, bytes: u64, now: Instant) {
        let Some(started) = self.started.take() else { return };
        let micros = match now == started {
            true => 0, // the common case, without a subtraction
            false => {
                let took = now.saturating_duration_since(started);
                // In 64 bits (`as_micros` is 128): 584,000 years fit.
                took.as_secs().saturating_mul(1_000_000).saturating_add(u64::from(took.subsec_micros()))
            }
        };
        worker.count_exchange(self.method, self.status, self.protocol, bytes, micros, self.limit);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::metrics::{cells, Metrics};

    fn request(raw: &'static str) -> Request<'static> {
        crate::http1::parse::parse_leaking(raw.as_bytes(), 32).expect("valid").expect("complete").request
    }

    #[test]
    fn an_exchange_is_counted_once_with_its_last_status() {
        let metrics = Metrics::new(1, std::sync::Arc::new(crate::budget::MemoryBudget::new(1)));
        let worker = metrics.worker(0).unwrap();
        let started = Instant::now();
        let mut tally = Tally::default();
        tally.finish(&worker, 1, started);
        assert_eq!(metrics.snapshot().get(cells::RESPONSE_BYTES), 0, "nothing recorded, nothing counted");

        tally.record(Some(&request("PUT /up HTTP/1.0\r\n\r\n")), 400, started);
        tally.set_status(201);
        tally.finish(&worker, 10, started + Duration::from_millis(2));
        tally.finish(&worker, 10, started + Duration::from_millis(2));
        let sum = metrics.snapshot();
        assert_eq!(sum.requests(MethodClass::Put, 1, Protocol::Http10), 1);
        assert_eq!(sum.get(cells::RESPONSE_BYTES), 10);
        assert_eq!(sum.get(cells::DURATION_MICROS), 2_000);

        // A streamed body refused for its size after its request was recorded.
        tally.record(Some(&request("POST /up HTTP/1.1\r\nHost: x\r\n\r\n")), 400, started);
        tally.refuse(None, 413, started);
        tally.finish(&worker, 0, started);
        // A head too large to parse.
        tally.refuse(None, 431, started);
        tally.finish(&worker, 0, started);
        let sum = metrics.snapshot();
        assert_eq!(sum.requests(MethodClass::Post, 3, Protocol::Http11), 1);
        assert_eq!(sum.requests(MethodClass::Other, 3, Protocol::Unknown), 1);
        assert_eq!(sum.get(cells::LIMITS + Limit::BodySize as usize), 1);
        assert_eq!(sum.get(cells::LIMITS + Limit::HeadSize as usize), 1);
    }
}
