//! Formatting times as HTTP dates (IMF-fixdate) without ever panicking.
//!
//! httpdate panics for times before 1970 and at or after the year 10000;
//! a file's modification time is whatever its owner set, so every date the
//! server prints from file metadata goes through [`format`], which answers
//! `None` where there is no valid HTTP date. Callers then leave the field
//! (or column) out.

use std::time::{SystemTime, UNIX_EPOCH};

/// The first instant httpdate cannot format: 10000-01-01T00:00:00Z.
pub const LIMIT_SECS: u64 = 253_402_300_800;

/// `t` as IMF-fixdate, or `None` when it is before 1970 or after 9999.
pub fn format(t: SystemTime) -> Option<String> {
    let secs = t.duration_since(UNIX_EPOCH).ok()?.as_secs();
    (secs < LIMIT_SECS).then(|| httpdate::fmt_http_date(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, expected: Option<&str>) {
        assert_eq!(format(UNIX_EPOCH + Duration::from_secs(secs)).as_deref(), expected, "{secs}");
    }

    #[test]
    fn in_and_out_of_range() {
        at(0, Some("Thu, 01 Jan 1970 00:00:00 GMT"));
        at(784_111_777, Some("Sun, 06 Nov 1994 08:49:37 GMT"));
        at(LIMIT_SECS - 1, Some("Fri, 31 Dec 9999 23:59:59 GMT"));
        at(LIMIT_SECS, None);
        at(u64::from(u32::MAX) * 1000, None);
        assert_eq!(format(UNIX_EPOCH - Duration::from_secs(1)), None);
        assert_eq!(format(UNIX_EPOCH - Duration::from_nanos(1)), None);
    }
}
