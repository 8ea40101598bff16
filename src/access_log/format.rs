//! How an access line is written: the formats (`common`, `combined`,
//! `json`), the start of a line (client and time) kept while consecutive
//! lines share it, and addresses and numbers written without `fmt`.

use std::io::Write;
use std::net::IpAddr;
use std::str::FromStr;

use super::entry::Entry;
use super::escape::{escape_clf, json_string};
use crate::clock::Clock;

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

/// The start of a line, everything before the request (client and time),
/// as made for the last line, and what it was made from. Consecutive
/// lines nearly always share it: keep-alive connections, a browser's
/// parallel ones, a load test's, all within one second.
#[derive(Debug, Default)]
pub(super) struct LineHead {
    made_from: Option<(IpAddr, u64, LogFormat)>,
    /// The user it was made for (empty: none), as a browser's requests
    /// share one too.
    user: Vec<u8>,
    bytes: Vec<u8>,
}

impl LineHead {
    /// The start of a `format` line for `client` at `clock`'s second, from
    /// `user` (an account's name) when it has one.
    pub(super) fn get(&mut self, format: LogFormat, client: IpAddr, user: Option<&[u8]>, clock: &Clock) -> &[u8] {
        // JSON writes the user at the end of the line, not here.
        let user = if format == LogFormat::Json { &[][..] } else { user.unwrap_or_default() };
        let key = (client, clock.second(), format);
        if self.made_from != Some(key) || self.user != user {
            let out = &mut self.bytes;
            out.clear();
            match format {
                LogFormat::Common | LogFormat::Combined => {
                    write_ip(out, client);
                    if user.is_empty() {
                        out.extend_from_slice(b" - - [");
                    } else {
                        out.extend_from_slice(b" - ");
                        // Escaped like a quoted field, so a name can neither
                        // split the line nor pass for another field.
                        escape_user(out, user);
                        out.extend_from_slice(b" [");
                    }
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
            self.user.clear();
            self.user.extend_from_slice(user);
        }
        &self.bytes
    }
}

/// Appends one line (with its newline) for `entry` in `format`, after
/// `head` (what [`LineHead::get`] made for its client and time).
pub(super) fn format_line(
    out: &mut Vec<u8>,
    head: &[u8],
    format: LogFormat,
    entry: &Entry,
    body_sent: u64,
    micros: u128,
) {
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
            out.extend_from_slice(b",\"user\":");
            json_string(out, entry.user());
            out.push(b'}');
        }
    }
    out.push(b'\n');
}

/// A user name in a common line's `%u`: escaped as a quoted field is,
/// with a space written `\x20` so the field stays one word.
fn escape_user(out: &mut Vec<u8>, user: &[u8]) {
    let start = out.len();
    escape_clf(out, user);
    if out[start..].contains(&b' ') {
        let escaped: Vec<u8> =
            out[start..].iter().flat_map(|&b| if b == b' ' { b"\\x20".to_vec() } else { vec![b] }).collect();
        out.truncate(start);
        out.extend_from_slice(&escaped);
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;
    use std::time::{Duration, Instant};

    fn entry(raw: &str, client: IpAddr, status: u16) -> Entry {
        Entry::parsed(raw, client, status)
    }

    fn clock_at(unix_seconds: u64) -> Clock {
        let mut clock = Clock::new();
        clock.update(std::time::UNIX_EPOCH + Duration::from_secs(unix_seconds));
        clock
    }

    fn line_with(head: &mut LineHead, clock: &Clock, format: LogFormat, entry: &Entry, sent: u64) -> String {
        let mut out = Vec::new();
        let head = head.get(format, entry.client.expect("pending"), entry.user(), clock);
        format_line(&mut out, head, format, entry, sent, 42);
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
             \"user_agent\":\"curl/8 \\\"x\\\"\",\"user\":null}\n"
        );
        // Absent referer and user agent.
        let bare = entry("GET / HTTP/1.0\r\n\r\n", LOCAL, 404);
        assert!(line(LogFormat::Combined, &bare, 9).ends_with("\"GET / HTTP/1.0\" 404 9 \"-\" \"-\"\n"));
        assert!(line(LogFormat::Json, &bare, 9).contains("\"referer\":null,\"user_agent\":null,\"user\":null}"));
        // A refused head has no request line.
        let mut refused = Entry::default();
        refused.record(LOCAL, None, 400, Instant::now());
        assert!(line(LogFormat::Combined, &refused, 0).ends_with("] \"-\" 400 0 \"-\" \"-\"\n"));
        assert!(line(LogFormat::Json, &refused, 0).contains("\"method\":null,\"path\":null,\"version\":null"));
    }

    #[test]
    fn the_user_is_in_its_field() {
        let with_user = |user: &str| {
            let request = crate::http1::parse::parse_leaking(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 32)
                .expect("valid")
                .expect("complete")
                .request;
            let request = request.with_user(Some(user));
            let mut entry = Entry::default();
            entry.record(LOCAL, Some(&request), 200, Instant::now());
            entry
        };
        let when = "21/Nov/2026:23:30:10 +0000";
        assert_eq!(
            line(LogFormat::Common, &with_user("alice"), 5),
            format!("127.0.0.1 - alice [{when}] \"GET / HTTP/1.1\" 200 5\n")
        );
        assert!(line(LogFormat::Combined, &with_user("al ice\"x"), 0).starts_with("127.0.0.1 - al\\x20ice\\\"x ["));
        assert!(line(LogFormat::Json, &with_user("alice"), 0).ends_with(",\"user\":\"alice\"}\n"));
        // The next line without a user starts afresh.
        let mut head = LineHead::default();
        let clock = clock_at(1_795_303_810);
        let _ = line_with(&mut head, &clock, LogFormat::Common, &with_user("alice"), 0);
        let anonymous = entry("GET / HTTP/1.1\r\nHost: x\r\n\r\n", LOCAL, 200);
        assert!(line_with(&mut head, &clock, LogFormat::Common, &anonymous, 0).starts_with("127.0.0.1 - - ["));
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
}
