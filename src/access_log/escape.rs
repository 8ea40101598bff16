//! Escaping of log fields, so a field can neither end early nor start a
//! new line: nginx's `\xHH` for the common formats, `\u00HH` for JSON.
//! Nearly every field needs none, which is recognised sixteen or eight
//! bytes at a time (SWAR) and copied whole.

use crate::http::syntax::byte_table;

/// Bytes written into a log field the way nginx escapes them: `"` and `\`
/// get a backslash, control bytes, DEL and non-ASCII bytes become `\xHH`,
/// so the field cannot end early or start a new line.
#[inline]
pub(super) fn escape_clf(out: &mut Vec<u8>, bytes: &[u8]) {
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
const PLAIN: [bool; 256] = byte_table!(|b| b >= 0x20 && b < 0x7f && b != b'"' && b != b'\\');

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

/// A JSON string (or `null`): UTF-8 passes through; quotes, backslashes,
/// control bytes and bytes that are not UTF-8 are escaped as `\u00HH`, so
/// every line parses.
pub(super) fn json_string(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
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
}
