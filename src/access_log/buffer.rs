//! One worker's access lines on their way out: the [`LogBuffer`] that
//! gathers formatted lines and writes them to the sink in one go (by size,
//! by age, when the worker idles or stops), and the spare entry buffers
//! it lends to connections through a [`Recorder`].

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::entry::Entry;
use super::format::{format_line, LineHead, LogFormat};
use super::sink::AccessLog;
use crate::clock::Clock;
use crate::http::request::Request;

/// A worker writes its buffer out once it holds this much: about 750
/// combined lines of a benchmark's 85 bytes (~300 of a browser's), so a
/// busy worker makes one `write` per several hundred requests (nginx's
/// `buffer=64k`).
pub const FLUSH_BYTES: usize = 64 * 1024;
/// ... or once its oldest line has waited this long (nginx's `flush=1s`),
/// so log shippers see a line a second after its request at most even on
/// a worker that never goes idle (it looks every `TIMER_TICK` while lines
/// wait).
pub const FLUSH_AFTER: Duration = Duration::from_secs(1);
/// ... or once the worker has waited this long for its next event with
/// lines buffered: a worker with nothing to do writes them out, so on a
/// quiet server a line appears about this long after its response, which
/// reads as "at once" to someone watching `tail -f`. It costs nothing under
/// load, where events come sooner and lines wait for the size or age above.
pub const FLUSH_WHEN_IDLE: Duration = Duration::from_millis(100);
/// Spare entry buffers a worker keeps: one per response in progress at
/// once on that worker, which rarely exceeds this.
const SPARE_ENTRIES: usize = 256;
/// Entry buffers larger than this (a request with a huge User-Agent) are
/// freed rather than reused.
const KEEP_ENTRY_CAPACITY: usize = 4096;

/// Where an exchange records the request it answers: the connection's
/// entry, and the worker's spare buffers to fill it with.
pub struct Recorder<'a> {
    pub entry: &'a mut Entry,
    pub spares: &'a mut LogBuffer,
}

impl Recorder<'_> {
    /// [`Entry::record`], in a spare buffer when the entry has none.
    pub fn record(&mut self, client: IpAddr, request: Option<&Request>, status: u16, started: Instant) {
        if self.entry.fields.capacity() == 0 {
            if let Some(buffer) = self.spares.spare.pop() {
                self.entry.fields = buffer;
            }
        }
        self.entry.record(client, request, status, started);
    }
}

/// One worker's lines not yet written, and spare entry buffers.
#[derive(Debug, Default)]
pub struct LogBuffer {
    lines: Vec<u8>,
    /// When the buffered lines must be written out by: [`FLUSH_AFTER`]
    /// after the oldest one's request (a deadline, so the check each
    /// event-loop turn is one comparison).
    due: Option<Instant>,
    spare: Vec<Vec<u8>>,
    /// The start of the last line, for the next one from the same client
    /// within the same second.
    head: LineHead,
}

impl LogBuffer {
    /// Formats the line for `entry`, whose response ended after `body_sent`
    /// body bytes, and clears the entry. Writes the buffer out when full.
    pub fn finish(&mut self, entry: &mut Entry, body_sent: u64, clock: &Clock, log: &AccessLog) {
        let Some(client) = entry.client.take() else { return };
        if !log.enabled() {
            return;
        }
        // Lent back whatever happens below: the connection may now go idle.
        if self.lines.capacity() == 0 {
            self.lines.reserve(FLUSH_BYTES + 4096);
        }
        // Only JSON lines carry the time taken; the others need no clock read.
        let micros = match (log.format, entry.started) {
            (LogFormat::Json, Some(started)) => Instant::now().saturating_duration_since(started).as_micros(),
            _ => 0,
        };
        let head = self.head.get(log.format, client, entry.user(), clock);
        format_line(&mut self.lines, head, log.format, entry, body_sent, micros);
        self.give_spare(std::mem::take(&mut entry.fields));
        if self.due.is_none() {
            self.due = Some(entry.started.unwrap_or_else(Instant::now) + FLUSH_AFTER);
        }
        if self.lines.len() >= FLUSH_BYTES {
            self.flush(log);
        }
    }

    /// Whether lines are waiting (the worker must wake up to flush them).
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Writes the buffer out if its oldest line has waited [`FLUSH_AFTER`].
    pub fn flush_if_due(&mut self, now: Instant, log: &AccessLog) {
        if self.due.is_some_and(|due| now >= due) {
            self.flush(log);
        }
    }

    /// Writes every buffered line out.
    pub fn flush(&mut self, log: &AccessLog) {
        if !self.lines.is_empty() {
            log.write(&self.lines);
            self.lines.clear();
        }
        self.due = None;
    }

    /// Keeps a connection's entry buffer for a later connection.
    pub fn give_spare(&mut self, mut buffer: Vec<u8>) {
        if buffer.capacity() > 0 && buffer.capacity() <= KEEP_ENTRY_CAPACITY && self.spare.len() < SPARE_ENTRIES {
            buffer.clear();
            self.spare.push(buffer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access_log::sink::LogDestination;

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn entry(raw: &str, client: IpAddr, status: u16) -> Entry {
        Entry::parsed(raw, client, status)
    }

    #[test]
    fn an_idle_connection_holds_no_entry_buffer() {
        let log_on = AccessLog::open(&LogDestination::Stdout, LogFormat::Combined).expect("standard output");
        let mut spares = LogBuffer::default();
        let mut e = entry("GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: u\r\n\r\n", LOCAL, 200);
        let capacity = e.fields.capacity();
        assert!(capacity > 0);
        spares.finish(&mut e, 0, &Clock::new(), &log_on);
        spares.lines.clear(); // not written to the test's stdout
        assert_eq!(e.fields.capacity(), 0, "the buffer went back to the worker");
        // The next request, on any connection, reuses it.
        let request =
            crate::http1::parse::parse_leaking(b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n", 32).unwrap().unwrap().request;
        let mut next = Entry::default();
        Recorder { entry: &mut next, spares: &mut spares }.record(LOCAL, Some(&request), 200, Instant::now());
        assert_eq!(next.fields.capacity(), capacity);
        assert!(spares.spare.is_empty());
    }

    #[test]
    fn lines_are_buffered_then_written_whole_and_the_file_reopened() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("access.log");
        let log = AccessLog::open(&LogDestination::File(path.clone()), LogFormat::Common).expect("opens");
        let mut buffer = LogBuffer::default();
        let mut e = entry("GET / HTTP/1.1\r\nHost: x\r\n\r\n", LOCAL, 200);
        buffer.finish(&mut e, 3, &Clock::new(), &log);
        assert!(!e.is_pending());
        assert_eq!(std::fs::read(&path).expect("log file").len(), 0, "buffered, not written per line");
        buffer.flush_if_due(Instant::now() + FLUSH_AFTER, &log);
        assert!(buffer.is_empty());
        let written = std::fs::read_to_string(&path).expect("log file");
        assert!(written.ends_with("\"GET / HTTP/1.1\" 200 3\n"), "{written}");
        // logrotate moves the file away; SIGHUP reopens by name.
        std::fs::rename(&path, dir.path().join("access.log.1")).expect("rotate");
        log.reopen().expect("reopens");
        let mut e = entry("GET /b HTTP/1.1\r\nHost: x\r\n\r\n", LOCAL, 404);
        buffer.finish(&mut e, 0, &Clock::new(), &log);
        buffer.flush(&log);
        assert!(std::fs::read_to_string(&path).expect("new file").contains("\"GET /b HTTP/1.1\" 404 0\n"));
    }
}
