//! Small pieces of HTTP's ABNF shared by the parsers (RFC 9110 §5.6): optional
//! whitespace, and finding an ASCII byte in text. Pure functions; each parser keeps its own grammar.

/// A `[bool; 256]` of the bytes for which `|b| predicate` holds, built at
/// compile time: checking a byte is then one load, where searching a list
/// of punctuation for it cost about 10 instructions a byte.
macro_rules! byte_table {
    (|$b:ident| $predicate:expr) => {{
        let mut table = [false; 256];
        let mut byte = 0;
        while byte < 256 {
            let $b = byte as u8;
            table[byte] = $predicate;
            byte += 1;
        }
        table
    }};
}
pub(crate) use byte_table;

/// `OWS = *( SP / HTAB )` trimmed from both ends. Not `str::trim`, which also
/// strips Unicode and other ASCII whitespace (a form feed, a vertical tab,
/// U+00A0) that HTTP does not treat as whitespace.
pub fn trim_ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// [`trim_ows`] for bytes.
pub fn trim_ows_bytes(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| b != b' ' && b != b'\t').unwrap_or(s.len());
    let end = s.iter().rposition(|&b| b != b' ' && b != b'\t').map_or(start, |i| i + 1);
    &s[start..end]
}

/// Where the first `byte` (ASCII, so never inside a character) is in `s`.
/// A plain byte loop: `str::find(char)` costs several times as much on a
/// request target of a few dozen bytes (callgrind), and the path and query
/// are asked for several times per request.
pub fn find_ascii(s: &str, byte: u8) -> Option<usize> {
    debug_assert!(byte.is_ascii());
    s.bytes().position(|b| b == byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_only_spaces_and_tabs() {
        let cases = [
            ("", ""),
            ("a", "a"),
            (" \t a b \t ", "a b"),
            ("   ", ""),
            ("\x0ba\x0c", "\x0ba\x0c"),
            ("\r\na\n", "\r\na\n"),
            ("\u{a0}x\u{3000}", "\u{a0}x\u{3000}"),
        ];
        for (raw, want) in cases {
            assert_eq!(trim_ows(raw), want, "for {raw:?}");
            assert_eq!(trim_ows_bytes(raw.as_bytes()), want.as_bytes(), "bytes {raw:?}");
        }
    }
}
