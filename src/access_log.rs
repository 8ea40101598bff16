//! The access log: one line per response, in a format log tools read
//! (`common`, `combined`, `json`), written by the server itself rather
//! than through `log`, so diagnostics (standard error, `RUST_LOG`) and
//! access lines (standard output or a file) never mix.
//!
//! The request path stays cheap: when a request is decided, its fields
//! are copied into the connection's [`Entry`], in a buffer lent by the
//! worker for the life of the response (so an idle connection holds none,
//! and none is allocated once the worker has spares); when the
//! response ends, sent whole or cut off, the line is formatted with the
//! body bytes actually sent into the worker's [`LogBuffer`]. That buffer
//! goes to the [`AccessLog`] in one `write` of whole lines once it holds
//! [`FLUSH_BYTES`] or its oldest line is [`FLUSH_AFTER`] old, and when the
//! worker stops. The sink's lock is taken once per flush, so lines of
//! different workers never interleave. A failing sink (a full disk, a
//! closed pipe) drops lines and says so once on standard error; serving
//! goes on. [`AccessLog::reopen`] (SIGHUP) starts a new file after
//! logrotate has moved the old one. Where the client address comes from
//! (the peer, a PROXY header, a trusted proxy's `Forwarded`) is `proxy`'s.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::clock::Clock;
use crate::http::request::Request;

/// A worker writes its buffer out once it holds this much: about 150
/// combined lines, so a busy worker makes one `write` per ~150 requests.
pub const FLUSH_BYTES: usize = 32 * 1024;
/// ... or once its oldest line has waited this long, so `tail -f` and log
/// shippers see a line within a fraction of a second of its response.
pub const FLUSH_AFTER: Duration = Duration::from_millis(200);
/// Spare entry buffers a worker keeps: one per response in progress at
/// once on that worker, which rarely exceeds this.
const SPARE_ENTRIES: usize = 256;
/// Entry buffers larger than this (a request with a huge User-Agent) are
/// freed rather than reused.
const KEEP_ENTRY_CAPACITY: usize = 4096;

/// Where access lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogDestination {
    /// Nowhere (`--access-log off`, `--quiet`).
    Off,
    /// Standard output (`-`, the command's default).
    Stdout,
    /// A file, opened for appending (created if missing).
    File(PathBuf),
}

impl FromStr for LogDestination {
    type Err = String;

    fn from_str(text: &str) -> Result<LogDestination, String> {
        match text {
            "" => Err("the access log needs a path, `-` or `off`".into()),
            "-" => Ok(LogDestination::Stdout),
            "off" => Ok(LogDestination::Off),
            path => Ok(LogDestination::File(path.into())),
        }
    }
}

/// How each access line is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// NCSA Common Log Format: `client - - [time] "request" status bytes`.
    Common,
    /// Common plus `"referer" "user agent"` (Apache's and nginx's `combined`).
    Combined,
    /// One JSON object per line, with the time taken in microseconds.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<LogFormat, String> {
        match text {
            "common" => Ok(LogFormat::Common),
            "combined" => Ok(LogFormat::Combined),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("`{text}` is not a log format (common, combined or json)")),
        }
    }
}

/// Where the lines go, shared by all workers.
enum Sink {
    Off,
    Stdout,
    File { path: PathBuf, file: Mutex<File> },
}

/// The server's access log: its sink, its format, and whether writing
/// to it is currently failing.
pub struct AccessLog {
    sink: Sink,
    format: LogFormat,
    /// The last write failed (reported once until one succeeds again).
    failing: AtomicBool,
}

impl AccessLog {
    /// Opens `destination` (a file is created if missing, appended to).
    pub fn open(destination: &LogDestination, format: LogFormat) -> io::Result<AccessLog> {
        let sink = match destination {
            LogDestination::Off => Sink::Off,
            LogDestination::Stdout => Sink::Stdout,
            LogDestination::File(path) => Sink::File { path: path.clone(), file: Mutex::new(open_append(path)?) },
        };
        Ok(AccessLog { sink, format, failing: AtomicBool::new(false) })
    }

    /// Whether lines are written at all.
    pub fn enabled(&self) -> bool {
        !matches!(self.sink, Sink::Off)
    }

    /// Opens the file again by its name (after logrotate moved it away);
    /// lines already buffered go to the new file. Nothing to do for
    /// standard output or when off.
    pub fn reopen(&self) -> io::Result<()> {
        let Sink::File { path, file } = &self.sink else { return Ok(()) };
        let fresh = open_append(path)?;
        // A worker that panicked while holding the lock left a File, which
        // is still fine to replace.
        *file.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh;
        Ok(())
    }

    /// Writes whole lines in one go; a failure is reported once, then
    /// lines are dropped until a write works again.
    fn write(&self, lines: &[u8]) {
        let result = match &self.sink {
            Sink::Off => Ok(()),
            // Holding stdout's lock keeps other writers' bytes out of the middle.
            Sink::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(lines).and_then(|()| out.flush())
            }
            Sink::File { file, .. } => file.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).write_all(lines),
        };
        match result {
            Ok(()) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    log::warn!("access log: writing again");
                }
            }
            Err(e) => {
                if !self.failing.swap(true, Ordering::Relaxed) {
                    log::warn!("access log: cannot write to {}: {e}; dropping lines until it works again", self.name());
                }
            }
        }
    }

    fn name(&self) -> String {
        match &self.sink {
            Sink::Off => "nowhere".into(),
            Sink::Stdout => "standard output".into(),
            Sink::File { path, .. } => path.display().to_string(),
        }
    }
}

impl fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccessLog({}, {:?})", self.name(), self.format)
    }
}

fn open_append(path: &std::path::Path) -> io::Result<File> {
    // O_APPEND: every write lands at the end, even with another writer.
    OpenOptions::new().append(true).create(true).open(path)
}

/// The fields of one request kept until its response ends (when the line
/// is written). Its buffer is reused for the next request.
#[derive(Debug, Default)]
pub struct Entry {
    /// Method, target, referer, user agent, raw as received, one after another.
    fields: Vec<u8>,
    /// Where each of method, target, referer ends in `fields`.
    ends: [usize; 3],
    /// Which of referer and user agent were present.
    has_referer: bool,
    has_agent: bool,
    /// No request line could be parsed (a refused head): logged as `"-"`.
    no_request: bool,
    version: &'static str,
    status: u16,
    client: Option<IpAddr>,
    started: Option<Instant>,
}

impl Entry {
    /// Whether a line is due when the current response ends.
    pub fn is_pending(&self) -> bool {
        self.client.is_some()
    }

    /// Records a request (or, with `None`, a head that could not be
    /// parsed) answered with `status` for `client`.
    pub fn record(&mut self, client: IpAddr, request: Option<&Request>, status: u16, started: Instant) {
        self.fields.clear();
        self.no_request = request.is_none();
        self.has_referer = false;
        self.has_agent = false;
        self.version = "";
        if let Some(request) = request {
            self.fields.extend_from_slice(request.method().as_bytes());
            self.ends[0] = self.fields.len();
            self.fields.extend_from_slice(request.target().as_bytes());
            self.ends[1] = self.fields.len();
            let mut referer: Option<&[u8]> = None;
            let mut agent: Option<&[u8]> = None;
            for (name, value) in request.headers() {
                if referer.is_none() && name.eq_ignore_ascii_case("referer") {
                    referer = Some(value);
                } else if agent.is_none() && name.eq_ignore_ascii_case("user-agent") {
                    agent = Some(value);
                }
            }
            self.has_referer = referer.is_some();
            self.fields.extend_from_slice(referer.unwrap_or_default());
            self.ends[2] = self.fields.len();
            self.has_agent = agent.is_some();
            self.fields.extend_from_slice(agent.unwrap_or_default());
            self.version = request.version().as_str();
        } else {
            self.ends = [0; 3];
        }
        self.status = status;
        self.client = Some(canonical(client));
        self.started = Some(started);
    }

    /// Changes the status (a response prepared later may differ).
    pub fn set_status(&mut self, status: u16) {
        self.status = status;
    }

    /// Gives up the buffer (for the worker's spares).
    pub fn take_buffer(&mut self) -> Vec<u8> {
        self.client = None;
        std::mem::take(&mut self.fields)
    }

    fn method(&self) -> &[u8] {
        &self.fields[..self.ends[0]]
    }

    fn target(&self) -> &[u8] {
        &self.fields[self.ends[0]..self.ends[1]]
    }

    fn referer(&self) -> Option<&[u8]> {
        self.has_referer.then(|| &self.fields[self.ends[1]..self.ends[2]])
    }

    fn agent(&self) -> Option<&[u8]> {
        self.has_agent.then(|| &self.fields[self.ends[2]..])
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`, what a `::` socket
/// reports for IPv4 clients) as the IPv4 addresses they are.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

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
    /// When the oldest buffered line was added.
    oldest: Option<Instant>,
    spare: Vec<Vec<u8>>,
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
        format_line(&mut self.lines, log.format, entry, client, body_sent, micros, clock);
        self.give_spare(std::mem::take(&mut entry.fields));
        if self.oldest.is_none() {
            self.oldest = Some(entry.started.unwrap_or_else(Instant::now));
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
        if self.oldest.is_some_and(|t| now.saturating_duration_since(t) >= FLUSH_AFTER) {
            self.flush(log);
        }
    }

    /// Writes every buffered line out.
    pub fn flush(&mut self, log: &AccessLog) {
        if !self.lines.is_empty() {
            log.write(&self.lines);
            self.lines.clear();
        }
        self.oldest = None;
    }

    /// Keeps a connection's entry buffer for a later connection.
    pub fn give_spare(&mut self, mut buffer: Vec<u8>) {
        if buffer.capacity() > 0 && buffer.capacity() <= KEEP_ENTRY_CAPACITY && self.spare.len() < SPARE_ENTRIES {
            buffer.clear();
            self.spare.push(buffer);
        }
    }
}

/// Appends one line (with its newline) for `entry` in `format`.
fn format_line(
    out: &mut Vec<u8>,
    format: LogFormat,
    entry: &Entry,
    client: IpAddr,
    body_sent: u64,
    micros: u128,
    clock: &Clock,
) {
    let mut number = itoa::Buffer::new();
    // Writing into a Vec cannot fail.
    let _ = match format {
        LogFormat::Common | LogFormat::Combined => {
            write_ip(out, client);
            out.extend_from_slice(b" - - [");
            out.extend_from_slice(clock.clf().as_bytes());
            out.extend_from_slice(b"] \"");
            if entry.no_request {
                out.push(b'-');
            } else {
                escape_clf(out, entry.method());
                out.push(b' ');
                escape_clf(out, entry.target());
                out.push(b' ');
                out.extend_from_slice(entry.version.as_bytes());
            }
            out.extend_from_slice(b"\" ");
            out.extend_from_slice(number.format(entry.status).as_bytes());
            out.push(b' ');
            out.extend_from_slice(number.format(body_sent).as_bytes());
            if format == LogFormat::Combined {
                for field in [entry.referer(), entry.agent()] {
                    out.extend_from_slice(b" \"");
                    match field {
                        Some(value) => escape_clf(out, value),
                        None => out.push(b'-'),
                    }
                    out.push(b'"');
                }
            }
            Ok(())
        }
        LogFormat::Json => {
            out.extend_from_slice(b"{\"time\":\"");
            out.extend_from_slice(clock.iso().as_bytes());
            out.extend_from_slice(b"\",\"client\":\"");
            write_ip(out, client);
            out.extend_from_slice(b"\",\"method\":");
            json_string(out, (!entry.no_request).then(|| entry.method()));
            out.extend_from_slice(b",\"path\":");
            json_string(out, (!entry.no_request).then(|| entry.target()));
            out.extend_from_slice(b",\"version\":");
            json_string(out, (!entry.no_request).then_some(entry.version.as_bytes()));
            out.extend_from_slice(b",\"status\":");
            out.extend_from_slice(number.format(entry.status).as_bytes());
            out.extend_from_slice(b",\"bytes\":");
            out.extend_from_slice(number.format(body_sent).as_bytes());
            out.extend_from_slice(b",\"duration_us\":");
            out.extend_from_slice(number.format(micros).as_bytes());
            out.extend_from_slice(b",\"referer\":");
            json_string(out, entry.referer());
            out.extend_from_slice(b",\"user_agent\":");
            json_string(out, entry.agent());
            out.push(b'}');
            Ok::<(), io::Error>(())
        }
    };
    out.push(b'\n');
}

/// Bytes written into a log field the way nginx escapes them: `"` and `\`
/// get a backslash, control bytes, DEL and non-ASCII bytes become `\xHH`,
/// so the field cannot end early or start a new line.
pub fn escape_clf(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let plain = |b: u8| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\';
    let mut rest = bytes;
    // Runs of plain bytes (nearly every field) are copied whole.
    while !rest.is_empty() {
        let run = rest.iter().position(|&b| !plain(b)).unwrap_or(rest.len());
        out.extend_from_slice(&rest[..run]);
        let Some(&byte) = rest.get(run) else { break };
        match byte {
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', byte]),
            _ => out.extend_from_slice(&[b'\\', b'x', HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 15)]]),
        }
        rest = &rest[run + 1..];
    }
}

/// An address as text; IPv4 (nearly every line) without the formatting
/// machinery.
fn write_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            let mut number = itoa::Buffer::new();
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                out.extend_from_slice(number.format(octet).as_bytes());
            }
        }
        IpAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
}

/// A JSON string (or `null`): UTF-8 passes through; quotes, backslashes,
/// control bytes and bytes that are not UTF-8 are escaped as `\u00HH`, so
/// every line parses.
fn json_string(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let Some(mut rest) = bytes else {
        out.extend_from_slice(b"null");
        return;
    };
    let escape = |out: &mut Vec<u8>, byte: u8| {
        out.extend_from_slice(b"\\u00");
        out.push(HEX[usize::from(byte >> 4)]);
        out.push(HEX[usize::from(byte & 15)]);
    };
    out.push(b'"');
    while !rest.is_empty() {
        let (valid, bad) = match std::str::from_utf8(rest) {
            Ok(all) => (all, None),
            // OK: `valid_up_to` bytes are valid UTF-8 by definition.
            Err(e) => (std::str::from_utf8(&rest[..e.valid_up_to()]).unwrap_or_default(), Some(e.valid_up_to())),
        };
        for &byte in valid.as_bytes() {
            match byte {
                b'"' | b'\\' => out.extend_from_slice(&[b'\\', byte]),
                0..=0x1f | 0x7f => escape(out, byte),
                _ => out.push(byte),
            }
        }
        match bad {
            Some(at) => {
                escape(out, rest[at]);
                rest = &rest[at + 1..];
            }
            None => break,
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request;
    use std::net::Ipv6Addr;

    fn entry(raw: &str, client: IpAddr, status: u16) -> Entry {
        let request = request::parse_leaking(raw.as_bytes(), 32).expect("valid").expect("complete");
        let mut entry = Entry::default();
        entry.record(client, Some(&request), status, Instant::now());
        entry
    }

    fn line(format: LogFormat, entry: &Entry, sent: u64) -> String {
        let mut clock = Clock::new();
        clock.update(std::time::UNIX_EPOCH + Duration::from_secs(1_795_303_810));
        let mut out = Vec::new();
        format_line(&mut out, format, entry, entry.client.expect("pending"), sent, 42, &clock);
        String::from_utf8(out).expect("log lines are ASCII or UTF-8")
    }

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn formats() {
        let e = entry(
            "GET /a?b=1 HTTP/1.1\r\nHost: x\r\nReferer: http://r/\r\nUser-Agent: curl/8 \"x\"\r\n\r\n",
            LOCAL,
            200,
        );
        let when = "21/Nov/2026:23:30:10 +0000";
        assert_eq!(line(LogFormat::Common, &e, 5), format!("127.0.0.1 - - [{when}] \"GET /a?b=1 HTTP/1.1\" 200 5\n"));
        assert_eq!(
            line(LogFormat::Combined, &e, 0),
            format!("127.0.0.1 - - [{when}] \"GET /a?b=1 HTTP/1.1\" 200 0 \"http://r/\" \"curl/8 \\\"x\\\"\"\n")
        );
        let json = line(LogFormat::Json, &e, 7);
        assert_eq!(
            json,
            "{\"time\":\"2026-11-21T23:30:10Z\",\"client\":\"127.0.0.1\",\"method\":\"GET\",\"path\":\"/a?b=1\",\
             \"version\":\"HTTP/1.1\",\"status\":200,\"bytes\":7,\"duration_us\":42,\"referer\":\"http://r/\",\
             \"user_agent\":\"curl/8 \\\"x\\\"\"}\n"
        );
        // Absent referer and user agent.
        let bare = entry("GET / HTTP/1.0\r\n\r\n", LOCAL, 404);
        assert!(line(LogFormat::Combined, &bare, 9).ends_with("\"GET / HTTP/1.0\" 404 9 \"-\" \"-\"\n"));
        assert!(line(LogFormat::Json, &bare, 9).contains("\"referer\":null,\"user_agent\":null}"));
        // A refused head has no request line.
        let mut refused = Entry::default();
        refused.record(LOCAL, None, 400, Instant::now());
        assert!(line(LogFormat::Combined, &refused, 0).ends_with("] \"-\" 400 0 \"-\" \"-\"\n"));
        assert!(line(LogFormat::Json, &refused, 0).contains("\"method\":null,\"path\":null,\"version\":null"));
    }

    #[test]
    fn mapped_addresses_are_logged_as_ipv4() {
        let mapped = IpAddr::V6(Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0x7f00, 1));
        assert!(line(LogFormat::Common, &entry("GET / HTTP/1.1\r\nHost: x\r\n\r\n", mapped, 200), 0)
            .starts_with("127.0.0.1 - - "));
        let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        assert!(
            line(LogFormat::Common, &entry("GET / HTTP/1.1\r\nHost: x\r\n\r\n", v6, 200), 0).starts_with("::1 - - ")
        );
    }

    #[test]
    fn fields_cannot_be_forged() {
        let clf = |raw: &[u8]| {
            let mut out = Vec::new();
            escape_clf(&mut out, raw);
            String::from_utf8(out).expect("ASCII")
        };
        let cases: &[(&[u8], &str)] = &[
            (b"/index.html", "/index.html"),
            (b"", ""),
            (b"/a\"b", "/a\\\"b"),
            (b"/a\\b", "/a\\\\b"),
            (b"/a\nb\r", "/a\\x0Ab\\x0D"),
            (b"\x00\x1f\x7f", "\\x00\\x1F\\x7F"),
            ("/caf\u{e9}".as_bytes(), "/caf\\xC3\\xA9"),
            (b"/x\" 200 1 \"-", "/x\\\" 200 1 \\\"-"),
        ];
        for (raw, want) in cases {
            assert_eq!(clf(raw), *want, "for {raw:?}");
        }
        let json = |raw: &[u8]| {
            let mut out = Vec::new();
            json_string(&mut out, Some(raw));
            String::from_utf8(out).expect("UTF-8")
        };
        let cases: &[(&[u8], &str)] = &[
            (b"plain", "\"plain\""),
            (b"a\"b\\c", "\"a\\\"b\\\\c\""),
            (b"\n\x00\x7f", "\"\\u000a\\u0000\\u007f\""),
            ("caf\u{e9}".as_bytes(), "\"caf\u{e9}\""),
            (b"a\xffb\xc3", "\"a\\u00ffb\\u00c3\""),
        ];
        for (raw, want) in cases {
            assert_eq!(json(raw), *want, "for {raw:?}");
        }
    }

    #[test]
    fn destinations_and_formats_parse() {
        assert_eq!("-".parse(), Ok(LogDestination::Stdout));
        assert_eq!("off".parse(), Ok(LogDestination::Off));
        assert_eq!("/var/log/x".parse(), Ok(LogDestination::File("/var/log/x".into())));
        assert!("".parse::<LogDestination>().is_err());
        assert_eq!("json".parse(), Ok(LogFormat::Json));
        assert!("xml".parse::<LogFormat>().is_err());
    }

    #[test]
    fn an_idle_connection_holds_no_entry_buffer() {
        let log_on = AccessLog { sink: Sink::Stdout, format: LogFormat::Combined, failing: AtomicBool::new(false) };
        let mut spares = LogBuffer::default();
        let mut e = entry("GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: u\r\n\r\n", LOCAL, 200);
        let capacity = e.fields.capacity();
        assert!(capacity > 0);
        spares.finish(&mut e, 0, &Clock::new(), &log_on);
        spares.lines.clear(); // not written to the test's stdout
        assert_eq!(e.fields.capacity(), 0, "the buffer went back to the worker");
        // The next request, on any connection, reuses it.
        let request = request::parse_leaking(b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n", 32).unwrap().unwrap();
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
