//! What a connection reports about its exchanges: the access-log line of
//! each response, and its count and state for metrics. The facts come from
//! the `service` (the entry and the tally it fills in) and the states of
//! `mod.rs`; this only hands them on when a response ends.

use std::time::Instant;

use super::{Connection, State};
use crate::context::{Local, Shared};
use crate::metrics::ConnectionState;

impl Connection {
    /// Writes the access-log line of a response that has ended, fully sent
    /// or not (the worker calls this before dropping a connection), with
    /// the body bytes actually sent, and counts it for metrics if it was
    /// not yet (a response cut off: timed at this moment).
    pub fn finish_entry(&mut self, local: &mut Local, shared: &Shared) {
        if self.entry.is_pending() {
            let body_sent = self.sent.saturating_sub(self.head_len);
            local.log.finish(&mut self.entry, body_sent, &local.clock, &shared.access_log);
        }
        if self.tally.is_open() {
            self.finish_tally(local, Instant::now());
        }
    }

    /// Counts the exchange for metrics, as ended at `now`.
    #[inline(always)]
    pub(super) fn finish_tally(&mut self, local: &Local, now: Instant) {
        if let Some(metrics) = &local.metrics {
            self.tally.finish(metrics, self.sent, now);
        }
    }

    /// Where this connection is, for the connections gauge.
    pub fn metrics_state(&self) -> ConnectionState {
        match &self.state {
            _ if self.transport.is_handshaking() => ConnectionState::Handshake,
            State::AwaitingProxyHeader => ConnectionState::ProxyHeader,
            State::Reading { head_started: false } if self.input.is_empty() && self.skip.is_none() => {
                ConnectionState::Idle
            }
            State::Reading { .. } => ConnectionState::Reading,
            State::Receiving(_) => ConnectionState::Receiving,
            State::Preparing { .. } => ConnectionState::Preparing,
            State::Writing { .. } => ConnectionState::Writing,
            State::Listening(_) => ConnectionState::Listening,
            State::Http2(h2) if h2.is_listening() => ConnectionState::Listening,
            State::Http2(h2) if h2.open_streams() == 0 => ConnectionState::Idle,
            State::Http2(_) => ConnectionState::Writing,
            State::Lingering { .. } | State::Closed => ConnectionState::Lingering,
        }
    }

    /// Gives this connection's entry buffer back to the worker's spares.
    pub fn release_entry(&mut self, local: &mut Local) {
        local.log.give_spare(self.entry.take_buffer());
    }
}
