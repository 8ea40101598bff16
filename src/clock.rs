//! The current time as HTTP and access-log strings, formatted once a second.
//!
//! Each worker owns a `Clock` and refreshes it once per event-loop turn, so
//! a request costs no date formatting. The formatting itself is httpdate's.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub struct Clock {
    second: u64,
    /// The times that fall in `second`, `[start, end)`: a time inside
    /// needs nothing (two comparisons, where finding its second divides).
    start: SystemTime,
    end: SystemTime,
    /// IMF-fixdate, e.g. `Sat, 21 Nov 2026 23:30:10 GMT`.
    date: String,
    /// Common Log Format time, e.g. `21/Nov/2026:23:30:10 +0000`.
    clf: String,
    /// RFC 3339 time for JSON access lines, e.g. `2026-11-21T23:30:10Z`.
    iso: String,
}

impl Clock {
    pub fn new() -> Clock {
        let mut clock = Clock {
            second: u64::MAX,
            start: UNIX_EPOCH,
            end: UNIX_EPOCH,
            date: String::new(),
            clf: String::new(),
            iso: String::new(),
        };
        clock.update(SystemTime::now());
        clock
    }

    pub fn update(&mut self, now: SystemTime) {
        if self.start <= now && now < self.end {
            return;
        }
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        self.start = UNIX_EPOCH + Duration::from_secs(second);
        self.end = self.start + Duration::from_secs(1);
        if second == self.second {
            return;
        }
        self.second = second;
        self.date = httpdate::fmt_http_date(now);
        self.clf = clf_from_imf(&self.date);
        self.iso = iso_from_imf(&self.date);
    }

    /// The second the strings show (Unix time): what a cache of text made
    /// from them is keyed on.
    pub fn second(&self) -> u64 {
        self.second
    }

    pub fn date(&self) -> &str {
        &self.date
    }

    pub fn clf(&self) -> &str {
        &self.clf
    }

    pub fn iso(&self) -> &str {
        &self.iso
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::new()
    }
}

/// Rearranges httpdate's fixed-width `Www, DD Mon YYYY HH:MM:SS GMT` into
/// `DD/Mon/YYYY:HH:MM:SS +0000`, so no calendar arithmetic is written here.
fn clf_from_imf(imf: &str) -> String {
    match (imf.get(5..7), imf.get(8..11), imf.get(12..16), imf.get(17..25)) {
        (Some(day), Some(month), Some(year), Some(time)) => format!("{day}/{month}/{year}:{time} +0000"),
        _ => "-".to_string(),
    }
}

/// Rearranges the same fields into `YYYY-MM-DDTHH:MM:SSZ`.
fn iso_from_imf(imf: &str) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = imf.get(8..11).and_then(|name| MONTHS.iter().position(|m| *m == name));
    match (imf.get(5..7), month, imf.get(12..16), imf.get(17..25)) {
        (Some(day), Some(month), Some(year), Some(time)) => format!("{year}-{:02}-{day}T{time}Z", month + 1),
        _ => "-".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_both_styles() {
        let mut clock = Clock::new();
        clock.update(UNIX_EPOCH + Duration::from_secs(1_795_303_810));
        assert_eq!(clock.date(), "Sat, 21 Nov 2026 23:30:10 GMT");
        assert_eq!(clock.clf(), "21/Nov/2026:23:30:10 +0000");
        assert_eq!(clock.iso(), "2026-11-21T23:30:10Z");
        clock.update(UNIX_EPOCH + Duration::from_secs(0));
        assert_eq!(clock.clf(), "01/Jan/1970:00:00:00 +0000");
        assert_eq!(clock.iso(), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn the_strings_change_at_each_second_and_when_the_clock_steps_back() {
        let at = |secs: u64, millis: u64| {
            UNIX_EPOCH + Duration::from_secs(1_795_303_810 + secs) + Duration::from_millis(millis)
        };
        let mut clock = Clock::new();
        for (now, shows) in [
            (at(0, 0), "23:30:10"),
            (at(0, 999), "23:30:10"),
            (at(1, 0), "23:30:11"),
            (at(1, 500), "23:30:11"),
            // Stepped back (NTP, an operator): the earlier second again.
            (at(0, 999), "23:30:10"),
            (at(0, 0), "23:30:10"),
            (at(3, 1), "23:30:13"),
        ] {
            clock.update(now);
            assert!(clock.date().contains(shows), "{now:?}: {}", clock.date());
            assert_eq!(clock.second(), now.duration_since(UNIX_EPOCH).unwrap().as_secs());
        }
    }
}
