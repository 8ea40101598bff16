//! RFC 9218 priorities: the `priority` request field and the
//! PRIORITY_UPDATE frame carry `u=N` (urgency 0–7, 3 by default; lower is
//! sooner) and `i` (incremental: the response is useful in pieces, so it
//! may share the connection with others of its urgency). The session
//! schedules by them; this file only reads them.

/// How a response is scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Priority {
    /// 0 (most urgent) to 7.
    pub urgency: u8,
    pub incremental: bool,
}

/// Urgency levels there are (RFC 9218 §4.1).
pub const LEVELS: usize = 8;

impl Default for Priority {
    /// RFC 9218 §4: `u=3`, not incremental.
    fn default() -> Priority {
        Priority { urgency: 3, incremental: false }
    }
}

impl Priority {
    /// Reads a priority field value (a Structured Fields dictionary, of
    /// which only `u` and `i` mean anything). Members that do not parse are
    /// ignored, as §4 asks, keeping their defaults.
    pub fn parse(value: &[u8]) -> Priority {
        let mut priority = Priority::default();
        let Ok(text) = std::str::from_utf8(value) else { return priority };
        for member in text.split(',') {
            let member = member.trim_matches([' ', '\t']);
            // Parameters (";...") mean nothing to either key.
            let member = member.split(';').next().unwrap_or("");
            let (key, value) = member.split_once('=').unwrap_or((member, "?1"));
            match (key, value) {
                ("u", digits) => {
                    if let Ok(urgency @ 0..=7) = digits.parse::<u8>() {
                        priority.urgency = urgency;
                    }
                }
                ("i", "?1") => priority.incremental = true,
                ("i", "?0") => priority.incremental = false,
                _ => {}
            }
        }
        priority
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(urgency: u8, incremental: bool) -> Priority {
        Priority { urgency, incremental }
    }

    #[test]
    fn fields_as_browsers_send_them() {
        let cases = [
            ("", p(3, false)),
            ("u=0", p(0, false)),
            ("u=1, i", p(1, true)),
            ("i, u=5", p(5, true)),
            ("u=7,i=?0", p(7, false)),
            ("i=?1", p(3, true)),
            // Out of range, not a number, unknown keys: ignored.
            ("u=8", p(3, false)),
            ("u=-1, i", p(3, true)),
            ("u=x", p(3, false)),
            ("foo=1, u=2", p(2, false)),
            ("u=2;x=1", p(2, false)),
            ("\u{ff}", p(3, false)),
        ];
        for (value, want) in cases {
            assert_eq!(Priority::parse(value.as_bytes()), want, "{value:?}");
        }
    }
}
