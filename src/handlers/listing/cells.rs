//! What a listing's cells are written with, in HTML and JSON alike: links
//! percent-encoded from a name's raw bytes, numbers without the formatting
//! machinery (a listing writes tens of thousands), and dates split into
//! their calendar fields (by the `time` crate).

use std::time::{SystemTime, UNIX_EPOCH};

use percent_encoding::{percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::http::date;

/// Everything but RFC 3986 unreserved characters is percent-encoded in
/// links, so a name can never be read as a scheme (`a:b`), a query (`?`), a
/// fragment (`#`), a path separator or break out of the attribute.
pub const LINK_ENCODE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Appends `name` percent-encoded for a link (see [`LINK_ENCODE`]).
pub fn push_link(out: &mut String, name: &[u8]) {
    percent_encode(name, LINK_ENCODE).for_each(|chunk| out.push_str(chunk));
}

/// Appends `n` in decimal, without the formatting machinery (a listing
/// writes tens of thousands of numbers).
pub fn push_decimal(out: &mut String, mut n: u64) {
    // u64::MAX has 20 digits.
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    push_ascii(out, &digits[at..]);
}

/// Writes `n` (below 10,000) zero-padded into all of `digits`.
fn put_padded(digits: &mut [u8], n: u64) {
    let mut rest = n;
    for slot in digits.iter_mut().rev() {
        *slot = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
}

/// A UTC time split into its calendar fields (by the `time` crate), for
/// the date column and JSON's `mod_time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    year: u64,
    month: u64,
    day: u64,
    hour: u64,
    minute: u64,
    second: u64,
}

impl Utc {
    /// Times before 1970 or after 9999 (which no HTTP date can express
    /// either) have no date shown.
    pub fn of(t: SystemTime) -> Option<Utc> {
        let secs = t.duration_since(UNIX_EPOCH).ok()?.as_secs();
        if secs >= date::LIMIT_SECS {
            return None;
        }
        let t = time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).ok()?).ok()?;
        Some(Utc {
            // 1970 to 9999, by the checks above.
            year: u64::try_from(t.year()).ok()?,
            month: u64::from(u8::from(t.month())),
            day: u64::from(t.day()),
            hour: u64::from(t.hour()),
            minute: u64::from(t.minute()),
            second: u64::from(t.second()),
        })
    }

    /// `2026-12-01T21:54:08Z`, for JSON.
    pub fn push_rfc3339(&self, out: &mut String) {
        let mut text = *b"0000-00-00T00:00:00Z";
        self.put(&mut text);
        push_ascii(out, &text);
    }

    /// `2026-12-01 21:54<i>:08</i>`, the column's text: the seconds, in
    /// `<i>`, are shown on hover by the style.
    pub fn push_shown(&self, out: &mut String) {
        let mut text = *b"0000-00-00 00:00<i>:00</i>";
        self.put(&mut text);
        push_ascii(out, &text);
    }

    /// Fills in the fields of a `YYYY-MM-DD?hh:mm` pattern, and `ss` at
    /// its first `:00` after the minutes.
    fn put(&self, text: &mut [u8]) {
        put_padded(&mut text[0..4], self.year);
        put_padded(&mut text[5..7], self.month);
        put_padded(&mut text[8..10], self.day);
        put_padded(&mut text[11..13], self.hour);
        put_padded(&mut text[14..16], self.minute);
        if let Some(at) = text[16..].windows(3).position(|w| w == b":00") {
            put_padded(&mut text[16 + at + 1..16 + at + 3], self.second);
        }
    }
}

/// Appends bytes known to be ASCII (digits and the patterns' punctuation).
pub fn push_ascii(out: &mut String, text: &[u8]) {
    out.push_str(std::str::from_utf8(text).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::date::LIMIT_SECS as HTTP_DATE_LIMIT_SECS;
    use std::time::Duration;

    #[test]
    fn calendar_fields() {
        let at = |secs: u64| {
            Utc::of(UNIX_EPOCH + Duration::from_secs(secs)).map(|t| {
                let mut out = String::new();
                t.push_rfc3339(&mut out);
                out
            })
        };
        assert_eq!(at(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(at(59).as_deref(), Some("1970-01-01T00:00:59Z"));
        assert_eq!(at(86_399).as_deref(), Some("1970-01-01T23:59:59Z"));
        assert_eq!(at(68_169_600).as_deref(), Some("1972-02-29T00:00:00Z"));
        assert_eq!(at(94_694_399).as_deref(), Some("1972-12-31T23:59:59Z"));
        assert_eq!(at(784_111_777).as_deref(), Some("1994-11-06T08:49:37Z"));
        assert_eq!(at(946_684_799).as_deref(), Some("1999-12-31T23:59:59Z"));
        assert_eq!(at(951_782_400).as_deref(), Some("2000-02-29T00:00:00Z"));
        assert_eq!(at(1_709_164_799).as_deref(), Some("2024-02-28T23:59:59Z"));
        assert_eq!(at(1_709_251_199).as_deref(), Some("2024-02-29T23:59:59Z"));
        assert_eq!(at(2_147_483_648).as_deref(), Some("2038-01-19T03:14:08Z"));
        // 2100 is no leap year.
        assert_eq!(at(4_107_542_399).as_deref(), Some("2100-02-28T23:59:59Z"));
        assert_eq!(at(4_107_542_400).as_deref(), Some("2100-03-01T00:00:00Z"));
        assert_eq!(at(HTTP_DATE_LIMIT_SECS - 1).as_deref(), Some("9999-12-31T23:59:59Z"));
        assert_eq!(at(HTTP_DATE_LIMIT_SECS), None);
        assert_eq!(at(u64::MAX / 2), None);
    }
}
