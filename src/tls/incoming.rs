//! Received TLS ciphertext on its way to rustls, one whole record at a
//! time: the records of a `recv` that arrived whole go to the session
//! straight from the caller's buffer; the start of a record still arriving,
//! and whole records kept back while the session holds plaintext not yet
//! read, wait here, in a buffer charged to the server's memory budget
//! (`budget`) together with the session they keep alive. rustls, given
//! only whole records, holds no record in progress of its own, where the
//! budget could not see it (issue 20: 5,000 clients each sending half of a
//! 16 KiB record held 98 MB). The socket, the sniffing of what a connection
//! speaks and everything sent are `tls::stream`'s.

use std::io;
use std::sync::Arc;

use mio::net::TcpStream;
use rustls::ServerConnection;

use super::outgoing::flush_session;
use crate::budget::{self, Charge, MemoryBudget, Taken};

/// Bytes of a TLS record header: content type, version, length.
const RECORD_HEADER: usize = 5;
/// Largest record payload a peer may send: 2^14 bytes of plaintext plus
/// 2,048 of expansion (RFC 5246 §6.2.3; TLS 1.3 allows less), as rustls
/// enforces. A header claiming more is handed to rustls at once, to refuse.
const MAX_RECORD_PAYLOAD: usize = (1 << 14) + 2048;
/// Ciphertext asked of the socket per `recv` (on the worker's stack): the
/// largest record, so a record that arrives whole is opened without ever
/// being copied to the heap.
pub(super) const RECV_CHUNK: usize = RECORD_HEADER + MAX_RECORD_PAYLOAD;
/// Least capacity of the buffer of a record in progress: a trickling
/// client does not make it grow a few bytes at a time.
const MIN_KEPT: usize = 4096;
/// Most the buffer of records in progress ever needs: what was kept back
/// (less than a record, since the socket is read only once nothing whole
/// is kept) and one `recv` more.
const MAX_KEPT: usize = 2 * RECV_CHUNK;
/// What a TLS connection holds besides its records in progress, charged
/// with them while it has any (a connection stalled in mid-record holds
/// it for as long as it stalls): rustls's session (keys, transcript,
/// queues) and its own record buffer, 4 KiB at rest. Measured: RSS with
/// 5,000 connections each stalled in mid-record, less what their records
/// were charged, divided by 5,000.
const SESSION_BYTES: usize = 8 << 10;
/// Ciphertext received and not yet given to the session: the start of a
/// record still arriving, and whole records kept back while the session
/// holds plaintext not yet read. Its buffer, and the handshake message
/// rustls is still joining from records already given to it, are charged
/// to the server's memory budget.
pub(super) struct Incoming {
    /// The bytes; no allocation while empty.
    kept: Vec<u8>,
    /// Bytes given to the session during the handshake since it last had
    /// something to answer: fragments of a handshake message it keeps
    /// until the message is whole (rustls caps one at 64 KiB).
    joining: usize,
    /// `kept`'s capacity plus `joining`, in the budget.
    charge: Charge,
}

impl Incoming {
    /// Nothing received yet; records in progress charged to `budget`.
    pub(super) fn new(budget: Arc<MemoryBudget>) -> Incoming {
        Incoming { kept: Vec::new(), joining: 0, charge: Charge::new(budget) }
    }

    /// Takes `received` (just read from the socket): whole records go to
    /// `session` (straight from the caller's buffer when nothing is kept),
    /// the rest is kept; [`budget::refusal`] when there is no room for it.
    pub(super) fn take(
        &mut self,
        session: &mut ServerConnection,
        stream: &TcpStream,
        received: &[u8],
    ) -> io::Result<()> {
        if self.kept.is_empty() {
            let opened = self.open(session, stream, received)?;
            return self.keep(&received[opened..]);
        }
        self.keep(received)?;
        self.open_kept(session, stream).map(drop)
    }

    /// Gives the whole records kept to `session`, until one yields
    /// plaintext; whether there was any.
    pub(super) fn open_kept(&mut self, session: &mut ServerConnection, stream: &TcpStream) -> io::Result<bool> {
        if whole_records(&self.kept) == 0 {
            return Ok(false);
        }
        let kept = std::mem::take(&mut self.kept);
        let opened = self.open(session, stream, &kept);
        self.kept = kept;
        let opened = opened?;
        self.kept.drain(..opened);
        if self.kept.is_empty() {
            self.kept = Vec::new();
        }
        self.settle_charge()?;
        Ok(true)
    }

    /// Hands the whole records at the start of `bytes` to `session`, one
    /// at a time, until one yields plaintext (read before the next is
    /// opened, so rustls never holds more than one record's); returns the
    /// bytes handed over.
    fn open(&mut self, session: &mut ServerConnection, stream: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
        let mut opened = 0;
        while let Some(len) = next_record(&bytes[opened..]) {
            let mut record = &bytes[opened..opened + len];
            while !record.is_empty() {
                session.read_tls(&mut record)?;
            }
            opened += len;
            let state = match session.process_new_packets() {
                Ok(state) => state,
                Err(e) => {
                    // Tell the client why (rustls has queued the alert), then give up.
                    let _ = flush_session(session, stream, false);
                    return Err(io::Error::new(io::ErrorKind::InvalidData, format!("TLS: {e}")));
                }
            };
            let answered = state.tls_bytes_to_write() > 0 || !session.is_handshaking();
            self.joining = if answered { 0 } else { self.joining + len };
            if state.plaintext_bytes_to_read() > 0 || state.peer_has_closed() {
                break;
            }
        }
        self.settle_charge()?;
        Ok(opened)
    }

    /// Appends `bytes` (the start of a record, or more) within the budget.
    fn keep(&mut self, bytes: &[u8]) -> io::Result<()> {
        let needed = self.kept.len() + bytes.len();
        if needed > self.kept.capacity() {
            let capacity = kept_capacity(self.kept.capacity(), needed);
            self.charge_for(capacity + self.joining)?;
            self.kept.reserve_exact(capacity - self.kept.len());
        }
        self.kept.extend_from_slice(bytes);
        Ok(())
    }

    /// Makes the charge what is held now (it only shrinks, unless a
    /// handshake message being joined grew).
    fn settle_charge(&mut self) -> io::Result<()> {
        self.charge_for(self.kept.capacity() + self.joining)
    }

    fn charge_for(&mut self, bytes: usize) -> io::Result<()> {
        let bytes = if bytes > 0 { bytes + SESSION_BYTES } else { 0 };
        charge(&mut self.charge, bytes, "a TLS record in progress")
    }

    /// A whole record is kept back, to be opened before the socket is read.
    pub(super) fn holds_a_record(&self) -> bool {
        whole_records(&self.kept) > 0
    }

    /// Drops what is kept (the connection has ended).
    pub(super) fn clear(&mut self) {
        self.kept = Vec::new();
        self.joining = 0;
        self.charge.resize(0);
    }
}

/// Makes `charge` `bytes`; [`budget::refusal`] (for `what`) when the
/// budget has no room, the first refusal of an episode logged.
pub(super) fn charge(charge: &mut Charge, bytes: usize, what: &'static str) -> io::Result<()> {
    match charge.resize(bytes) {
        Taken::Yes => Ok(()),
        Taken::NoFirst => {
            log::warn!(
                "the memory budget is spent ({} bytes, Config::max_pending_head_bytes): no room for {what}; \
                 refusing such connections until there is room",
                charge.budget().limit()
            );
            Err(budget::refusal(what))
        }
        Taken::No => Err(budget::refusal(what)),
    }
}

/// The length of the record at the start of `bytes` if it is all there
/// (header and payload); a header claiming more than a record may hold
/// counts as whole, so rustls refuses it now rather than after 64 KiB.
fn next_record(bytes: &[u8]) -> Option<usize> {
    let header = bytes.get(..RECORD_HEADER)?;
    let payload = usize::from(u16::from_be_bytes([header[3], header[4]]));
    if payload > MAX_RECORD_PAYLOAD {
        return Some(bytes.len());
    }
    (bytes.len() >= RECORD_HEADER + payload).then_some(RECORD_HEADER + payload)
}

/// Bytes of whole records at the start of `bytes`.
fn whole_records(bytes: &[u8]) -> usize {
    let mut whole = 0;
    while let Some(len) = next_record(&bytes[whole..]) {
        whole += len;
    }
    whole
}

/// The capacity for kept ciphertext that must hold `needed` bytes, from
/// `old`: doubling (at least `MIN_KEPT`), so a record trickling in a byte
/// at a time is copied a few times, not once per byte; never past
/// `MAX_KEPT` unless `needed` is.
fn kept_capacity(old: usize, needed: usize) -> usize {
    needed.max(old.saturating_mul(2).clamp(MIN_KEPT, MAX_KEPT))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record header with a payload of `len` bytes, and `have` of them.
    fn record(len: usize, have: usize) -> Vec<u8> {
        let mut bytes = vec![23, 3, 3];
        bytes.extend_from_slice(&(len as u16).to_be_bytes());
        bytes.resize(RECORD_HEADER + have, 0x41);
        bytes
    }

    #[test]
    fn whole_records_are_told_from_records_in_progress() {
        // (bytes, the next record's length if whole, bytes of whole records)
        let two = [record(10, 10), record(3, 3)].concat();
        let one_and_a_half = [record(10, 10), record(16384, 8192)].concat();
        let cases: [(&[u8], Option<usize>, usize); 9] = [
            (&[], None, 0),
            (&[22, 3, 1, 0], None, 0),   // not even a header
            (&record(0, 0), Some(5), 5), // an empty record is whole
            (&record(10, 9), None, 0),   // one byte short
            (&record(10, 10), Some(15), 15),
            (&two, Some(15), 23),
            (&one_and_a_half, Some(15), 15),           // the half record waits
            (&record(MAX_RECORD_PAYLOAD, 1), None, 0), // the largest a peer may send
            (&record(MAX_RECORD_PAYLOAD + 1, 1), Some(RECORD_HEADER + 1), RECORD_HEADER + 1), // refused now
        ];
        for (bytes, next, whole) in cases {
            assert_eq!(next_record(bytes), next, "{:?}", &bytes[..bytes.len().min(8)]);
            assert_eq!(whole_records(bytes), whole, "{:?}", &bytes[..bytes.len().min(8)]);
        }
    }

    #[test]
    fn kept_ciphertext_grows_by_doubling_within_two_records() {
        // (old capacity, bytes needed, new capacity)
        let cases = [
            (0, 1, MIN_KEPT),
            (0, 8197, 8197), // half a 16 KiB record, in one read: exactly
            (MIN_KEPT, MIN_KEPT + 1, 2 * MIN_KEPT),
            (8192, 8193, 16384),
            (32 << 10, (32 << 10) + 1, MAX_KEPT),
            (MAX_KEPT, MAX_KEPT + 1, MAX_KEPT + 1), // never less than needed
        ];
        for (old, needed, new) in cases {
            assert_eq!(kept_capacity(old, needed), new, "{old} holding {needed}");
        }
    }
}
