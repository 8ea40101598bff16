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
//! [`FLUSH_BYTES`] or its oldest line is [`FLUSH_AFTER`] old (nginx's
//! `access_log ... buffer=64k flush=1s`, for a busy worker), as soon as the
//! worker has had nothing to do for [`FLUSH_WHEN_IDLE`] (so `tail -f` on a
//! quiet server shows a line right after its request), and when the
//! worker stops. The
//! sink's lock is taken once per flush, so lines of different workers
//! never interleave. A failing sink (a full disk, a closed pipe) drops
//! lines and says so once on standard error; serving goes on. [`AccessLog::reopen`] (SIGHUP) starts a new file after
//! logrotate has moved the old one. Where the client address comes from
//! (the peer, a PROXY header, a trusted proxy's `Forwarded`) is `proxy`'s.
//!
//! A line costs a few hundred instructions (issue 14): its start (client
//! and time) is kept from the previous line while neither changes, fields
//! that need no escaping (nearly all) are recognised sixteen or eight
//! bytes at a time and copied whole, and numbers and addresses are written
//! without `fmt`.

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
use crate::http::request::{version_str, Request};

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
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
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
    /// The request line as logged (`METHOD TARGET VERSION`, so a common
    /// line escapes it in one go), then referer and user agent, raw as
    /// received, one after another.
    fields: Vec<u8>,
    /// Where each of method, target, request line and referer ends in `fields`.
    ends: [usize; 4],
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
            self.version = version_str(request.version());
            self.fields.extend_from_slice(request.method().as_str().as_bytes());
            self.ends[0] = self.fields.len();
            self.fields.push(b' ');
            self.fields.extend_from_slice(request.target().as_bytes());
            self.ends[1] = self.fields.len();
            self.fields.push(b' ');
            self.fields.extend_from_slice(self.version.as_bytes());
            self.ends[2] = self.fields.len();
            let mut referer: Option<&[u8]> = None;
            let mut agent: Option<&[u8]> = None;
            for (name, value) in request.headers() {
                if referer.is_none() && is_field_name(name, b"referer") {
                    referer = Some(value);
                } else if agent.is_none() && is_field_name(name, b"user-agent") {
                    agent = Some(value);
                }
            }
            self.has_referer = referer.is_some();
            if let Some(referer) = referer {
                self.fields.extend_from_slice(referer);
            }
            self.ends[3] = self.fields.len();
            self.has_agent = agent.is_some();
            if let Some(agent) = agent {
                self.fields.extend_from_slice(agent);
            }
        } else {
            self.ends = [0; 4];
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
        &self.fields[self.ends[0] + 1..self.ends[1]]
    }

    /// Method, target and version, with a space between each.
    fn request_line(&self) -> &[u8] {
        &self.fields[..self.ends[2]]
    }

    fn referer(&self) -> Option<&[u8]> {
        self.has_referer.then(|| &self.fields[self.ends[2]..self.ends[3]])
    }

    fn agent(&self) -> Option<&[u8]> {
        self.has_agent.then(|| &self.fields[self.ends[3]..])
    }
}

/// Whether field `name` is `lowercase` (letters and `-`) in any case.
/// Setting bit 5 of a byte turns `A`-`Z` into `a`-`z` and keeps `-`; of
/// the bytes a field name can hold (httparse admits only tokens) no other
/// becomes a letter or `-`. Comparing every byte, without stopping at the
/// first difference, lets the compiler do it in a few word operations
/// (`eq_ignore_ascii_case` costs ~7 instructions a byte).
fn is_field_name<const N: usize>(name: &str, lowercase: &[u8; N]) -> bool {
    let Ok(name) = <&[u8; N]>::try_from(name.as_bytes()) else { return false };
    name.iter().zip(lowercase).fold(0, |differ, (&byte, &want)| differ | ((byte | 0x20) ^ want)) == 0
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
    /// When the buffered lines must be written out by: [`FLUSH_AFTER`]
    /// after the oldest one's request (a deadline, so the check each
    /// event-loop turn is one comparison).
    due: Option<Instant>,
    spare: Vec<Vec<u8>>,
    /// The start of the last line, for the next one from the same client
    /// within the same second.
    head: LineHead,
}

/// The start of a line, everything before the request (client and time),
/// as made for the last line, and what it was made from. Consecutive
/// lines nearly always share it: keep-alive connections, a browser's
/// parallel ones, a load test's, all within one second.
#[derive(Debug, Default)]
struct LineHead {
    made_from: Option<(IpAddr, u64, LogFormat)>,
    bytes: Vec<u8>,
}

impl LineHead {
    /// The start of a `format` line for `client` at `clock`'s second.
    fn get(&mut self, format: LogFormat, client: IpAddr, clock: &Clock) -> &[u8] {
        let key = (client, clock.second(), format);
        if self.made_from != Some(key) {
            let out = &mut self.bytes;
            out.clear();
            match format {
                LogFormat::Common | LogFormat::Combined => {
                    write_ip(out, client);
                    out.extend_from_slice(b" - - [");
                    out.extend_from_slice(clock.clf().as_bytes());
                    out.extend_from_slice(b"] \"");
                }
                LogFormat::Json => {
                    out.extend_from_slice(b"{\"time\":\"");
                    out.extend_from_slice(clock.iso().as_bytes());
                    out.extend_from_slice(b"\",\"client\":\"");
                    write_ip(out, client);
                    out.extend_from_slice(b"\",\"method\":");
                }
            }
            self.made_from = Some(key);
        }
        &self.bytes
    }
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
        let head = self.head.get(log.format, client, clock);
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

/// Appends one line (with its newline) for `entry` in `format`, after
/// `head` (what [`LineHead::get`] made for its client and time).
fn format_line(out: &mut Vec<u8>, head: &[u8], format: LogFormat, entry: &Entry, body_sent: u64, micros: u128) {
    let mut number = itoa::Buffer::new();
    out.extend_from_slice(head);
    match format {
        LogFormat::Common | LogFormat::Combined => {
            if entry.no_request {
                out.push(b'-');
            } else {
                // Spaces and versions need no escaping: the same as the
                // method, target and version each escaped.
                escape_clf(out, entry.request_line());
            }
            match entry.status {
                // Every status rawserve sends: `" NNN ` in one go.
                status @ 100..=999 => out.extend_from_slice(&[
                    b'"',
                    b' ',
                    b'0' + (status / 100) as u8,
                    b'0' + (status / 10 % 10) as u8,
                    b'0' + (status % 10) as u8,
                    b' ',
                ]),
                status => {
                    out.extend_from_slice(b"\" ");
                    out.extend_from_slice(number.format(status).as_bytes());
                    out.push(b' ');
                }
            }
            out.extend_from_slice(number.format(body_sent).as_bytes());
            if format == LogFormat::Combined {
                for field in [entry.referer(), entry.agent()] {
                    match field {
                        Some(value) => {
                            out.extend_from_slice(b" \"");
                            escape_clf(out, value);
                            out.push(b'"');
                        }
                        None => out.extend_from_slice(b" \"-\""),
                    }
                }
            }
        }
        LogFormat::Json => {
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
        }
    }
    out.push(b'\n');
}

/// Bytes written into a log field the way nginx escapes them: `"` and `\`
/// get a backslash, control bytes, DEL and non-ASCII bytes become `\xHH`,
/// so the field cannot end early or start a new line.
#[inline]
pub fn escape_clf(out: &mut Vec<u8>, bytes: &[u8]) {
    if is_plain(bytes) {
        out.extend_from_slice(bytes);
    } else {
        escape_clf_bytes(out, bytes);
    }
}

/// [`escape_clf`] of a field with bytes to escape: runs of plain bytes
/// between them are still copied whole.
#[cold]
fn escape_clf_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut rest = bytes;
    loop {
        let run = plain_run(rest);
        out.extend_from_slice(&rest[..run]);
        let Some(&byte) = rest.get(run) else { break };
        match byte {
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', byte]),
            _ => out.extend_from_slice(&[b'\\', b'x', HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 15)]]),
        }
        rest = &rest[run + 1..];
    }
}

/// Bytes every log format copies as they are: printable ASCII but `"`
/// and `\`.
const PLAIN: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0x20;
    while byte < 0x7f {
        table[byte] = byte != b'"' as usize && byte != b'\\' as usize;
        byte += 1;
    }
    table
};

/// Whether every byte is [`PLAIN`] (true of nearly every field): sixteen
/// at a time in vector registers, or eight in a word, the last block
/// overlapping the one before when the length is not a multiple.
#[inline]
fn is_plain(bytes: &[u8]) -> bool {
    if let Some(last) = bytes.last_chunk::<16>() {
        bytes.as_chunks::<16>().0.iter().all(|block| !block_needs_escape(block)) && !block_needs_escape(last)
    } else if let (Some(first), Some(last)) = (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) {
        !word_needs_escape(u64::from_le_bytes(*first)) && !word_needs_escape(u64::from_le_bytes(*last))
    } else {
        bytes.iter().all(|&b| PLAIN[usize::from(b)])
    }
}

/// Whether any of sixteen bytes is not [`PLAIN`]. No early exit: the
/// compiler makes the fold over a fixed-size block a few vector
/// instructions (SSE2, which every x86-64 has).
#[inline]
fn block_needs_escape(block: &[u8; 16]) -> bool {
    block.iter().fold(false, |escape, &b| escape | (b.wrapping_sub(0x20) >= 0x5f) | (b == b'"') | (b == b'\\'))
}

/// How many of the first bytes are [`PLAIN`]: eight at a time while a
/// word holds none to escape, then byte by byte.
fn plain_run(bytes: &[u8]) -> usize {
    let mut run = 0;
    for word in bytes.as_chunks::<8>().0 {
        if word_needs_escape(u64::from_le_bytes(*word)) {
            break;
        }
        run += 8;
    }
    run + bytes[run..].iter().position(|&b| !PLAIN[usize::from(b)]).unwrap_or(bytes.len() - run)
}

/// Whether any of the eight bytes in `word` is not [`PLAIN`], without a
/// branch per byte (the bit tricks of "Bit Twiddling Hacks": a borrow or
/// carry can only spill out of a byte that is itself a match, so "any" is
/// exact even where "which" would not be).
fn word_needs_escape(word: u64) -> bool {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = ONES * 0x80;
    let has_zero = |w: u64| w.wrapping_sub(ONES) & !w;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word;
    // A byte of 0x7f or more has its high bit set, or gets it from + 1.
    let del_or_above = word | word.wrapping_add(ONES);
    let quote = has_zero(word ^ (ONES * u64::from(b'"')));
    let backslash = has_zero(word ^ (ONES * u64::from(b'\\')));
    (below_space | del_or_above | quote | backslash) & HIGH != 0
}

/// An address as text; IPv4 (nearly every line) without the formatting
/// machinery.
fn write_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                if octet >= 100 {
                    out.push(b'0' + octet / 100);
                }
                if octet >= 10 {
                    out.push(b'0' + octet / 10 % 10);
                }
                out.push(b'0' + octet % 10);
            }
        }
        IpAddr::V6(v6) => {
            // Writing into a Vec cannot fail.
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
    out.push(b'"');
    if is_plain(rest) {
        out.extend_from_slice(rest);
        out.push(b'"');
        return;
    }
    loop {
        // Runs of plain ASCII between the rest are copied whole.
        let run = plain_run(rest);
        out.extend_from_slice(&rest[..run]);
        rest = &rest[run..];
        let Some(&byte) = rest.first() else { break };
        // A character of 2 to 4 bytes passes through if it is valid UTF-8.
        let width = match byte {
            0xc2..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf4 => 4,
            _ => 1,
        };
        match rest.get(..width).filter(|char| width > 1 && std::str::from_utf8(char).is_ok()) {
            Some(char) => {
                out.extend_from_slice(char);
                rest = &rest[width..];
            }
            None => {
                match byte {
                    b'"' | b'\\' => out.extend_from_slice(&[b'\\', byte]),
                    _ => out.extend_from_slice(&[
                        b'\\',
                        b'u',
                        b'0',
                        b'0',
                        HEX[usize::from(byte >> 4)],
                        HEX[usize::from(byte & 15)],
                    ]),
                }
                rest = &rest[1..];
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    fn entry(raw: &str, client: IpAddr, status: u16) -> Entry {
        let request = crate::http1::parse::parse_leaking(raw.as_bytes(), 32).expect("valid").expect("complete").request;
        let mut entry = Entry::default();
        entry.record(client, Some(&request), status, Instant::now());
        entry
    }

    fn clock_at(unix_seconds: u64) -> Clock {
        let mut clock = Clock::new();
        clock.update(std::time::UNIX_EPOCH + Duration::from_secs(unix_seconds));
        clock
    }

    fn line_with(head: &mut LineHead, clock: &Clock, format: LogFormat, entry: &Entry, sent: u64) -> String {
        let mut out = Vec::new();
        format_line(&mut out, head.get(format, entry.client.expect("pending"), clock), format, entry, sent, 42);
        String::from_utf8(out).expect("log lines are ASCII or UTF-8")
    }

    fn line(format: LogFormat, entry: &Entry, sent: u64) -> String {
        line_with(&mut LineHead::default(), &clock_at(1_795_303_810), format, entry, sent)
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
    fn a_line_head_is_reused_only_for_the_same_client_second_and_format() {
        let mut head = LineHead::default();
        let at = |second| clock_at(1_795_303_810 + second);
        let from = |ip: [u8; 4]| entry("GET / HTTP/1.1\r\nHost: x\r\n\r\n", IpAddr::from(ip), 200);
        use LogFormat::{Common, Json};
        // Each line after the first repeats or changes one of the three.
        let cases: &[(u64, [u8; 4], LogFormat, &str)] = &[
            (0, [127, 0, 0, 1], Common, "127.0.0.1 - - [21/Nov/2026:23:30:10 +0000] \"GET / "),
            (0, [127, 0, 0, 1], Common, "127.0.0.1 - - [21/Nov/2026:23:30:10 +0000] \"GET / "),
            (1, [127, 0, 0, 1], Common, "127.0.0.1 - - [21/Nov/2026:23:30:11 +0000] \"GET / "),
            (1, [10, 0, 0, 7], Common, "10.0.0.7 - - [21/Nov/2026:23:30:11 +0000] \"GET / "),
            (1, [192, 168, 100, 255], Common, "192.168.100.255 - - [21/Nov/2026:23:30:11 +0000] \"GET / "),
            (1, [192, 168, 100, 255], Json, r#"{"time":"2026-11-21T23:30:11Z","client":"192.168.100.255","#),
            (1, [192, 168, 100, 255], Common, "192.168.100.255 - - [21/Nov/2026:23:30:11 +0000] \"GET / "),
        ];
        for &(second, ip, format, want) in cases {
            let got = line_with(&mut head, &at(second), format, &from(ip), 0);
            assert!(got.starts_with(want), "at +{second}s from {ip:?} in {format:?}: {got}");
        }
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

    /// The escapes as first written, a byte at a time, for comparison.
    fn escape_clf_bytewise(raw: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for &b in raw {
            match b {
                b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
                0x20..=0x7e => out.push(b),
                _ => out.extend_from_slice(format!("\\x{b:02X}").as_bytes()),
            }
        }
        out
    }

    fn json_string_by_from_utf8(raw: &[u8]) -> Vec<u8> {
        let mut out = vec![b'"'];
        for chunk in raw.utf8_chunks() {
            for c in chunk.valid().chars() {
                match c {
                    '"' | '\\' => out.extend_from_slice(&[b'\\', c as u8]),
                    '\0'..='\u{1f}' | '\u{7f}' => out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes()),
                    _ => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
                }
            }
            for &b in chunk.invalid() {
                out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
            }
        }
        out.push(b'"');
        out
    }

    #[test]
    fn a_word_needs_escaping_exactly_when_one_of_its_bytes_does() {
        for byte in 0..=255u8 {
            for at in 0..8 {
                let mut word = *b"plain/ok";
                word[at] = byte;
                let want = !PLAIN[usize::from(byte)];
                assert_eq!(word_needs_escape(u64::from_le_bytes(word)), want, "{byte:#04x} at {at}");
                // Next to a byte that borrows or carries.
                word[(at + 1) % 8] = 0xff;
                assert!(word_needs_escape(u64::from_le_bytes(word)));
            }
        }
        assert_eq!(PLAIN.iter().filter(|&&p| p).count(), 95 - 2, "printable ASCII but \" and \\");
    }

    #[test]
    fn fast_escapes_match_the_bytewise_ones() {
        // Every byte, at every offset of fields longer and shorter than a word.
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for byte in 0..=255u8 {
            for len in [1, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 46] {
                for at in [0, len / 2, len - 1] {
                    let mut field = b"Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101"[..len].to_vec();
                    field[at] = byte;
                    cases.push(field);
                }
            }
        }
        for text in ["", "caf\u{e9} \u{20ac}uro \u{1f600}!", "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}"] {
            cases.push(text.as_bytes().to_vec());
        }
        cases.extend([
            b"\xe2\x82".to_vec(),
            b"a\xe2\x82b".to_vec(),
            b"\xed\xa0\x80".to_vec(),
            b"\xf4\x90\x80\x80".to_vec(),
        ]);
        cases.extend([b"\xc0\xaf".to_vec(), b"\xf0\x9f\x98".to_vec(), b"/x\"\\\x7f\x80\xff\n".to_vec()]);
        for raw in &cases {
            let mut clf = Vec::new();
            escape_clf(&mut clf, raw);
            assert_eq!(clf, escape_clf_bytewise(raw), "clf of {raw:?}");
            let mut json = Vec::new();
            json_string(&mut json, Some(raw));
            assert_eq!(json, json_string_by_from_utf8(raw), "json of {raw:?}");
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
