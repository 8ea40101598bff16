//! Header fields rendered once and sent with many responses: a file's
//! validators and metadata, which the caches keep beside its bytes.
//!
//! The HTTP/1 lines are written when the representation is described; the
//! HTTP/2 block (the same fields HPACK-encoded) the first time an HTTP/2
//! response carries them, by the encoder the connection passes in, and
//! then kept: re-encoding a cached file's lines for every HTTP/2 request
//! (splitting, lowercasing, looking names up) cost about 1,700 of its
//! 14,300 instructions. The first part of each, up to the validators'
//! end, is what a 304 sends.

use std::sync::OnceLock;

/// Header fields in both encodings.
#[derive(Debug)]
pub struct RenderedFields {
    /// `Name: value\r\n` lines.
    lines: Box<[u8]>,
    /// Where the lines a 304 also sends end.
    validators_end: usize,
    /// The HPACK block of the same fields and where its validators end.
    hpack: OnceLock<(Box<[u8]>, usize)>,
}

/// Which of the fields a response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Every field (a 200 or 206).
    All,
    /// The validators and the fields a 304 repeats.
    Validators,
}

impl RenderedFields {
    /// Fields from HTTP/1 `lines`, the first `validators_end` bytes of
    /// which a 304 sends.
    pub fn new(lines: Vec<u8>, validators_end: usize) -> RenderedFields {
        debug_assert!(validators_end <= lines.len());
        RenderedFields { lines: lines.into_boxed_slice(), validators_end, hpack: OnceLock::new() }
    }

    /// The HTTP/1 lines of `part`.
    pub fn lines(&self, part: Part) -> &[u8] {
        match part {
            Part::All => &self.lines,
            Part::Validators => &self.lines[..self.validators_end],
        }
    }

    /// The HTTP/2 block of `part`, made by `encode` (HTTP/1 lines in,
    /// HPACK appended to the buffer) the first time it is asked for.
    pub fn hpack(&self, part: Part, encode: impl Fn(&[u8], &mut Vec<u8>)) -> &[u8] {
        let (block, validators_end) = self.hpack.get_or_init(|| {
            let mut block = Vec::with_capacity(self.lines.len());
            encode(&self.lines[..self.validators_end], &mut block);
            let validators_end = block.len();
            encode(&self.lines[self.validators_end..], &mut block);
            (block.into_boxed_slice(), validators_end)
        });
        match part {
            Part::All => block,
            Part::Validators => &block[..*validators_end],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in encoder: each line's name, uppercased, then `;`.
    fn names(lines: &[u8], out: &mut Vec<u8>) {
        for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let name = line.split(|&b| b == b':').next().unwrap_or_default();
            out.extend(name.iter().map(u8::to_ascii_uppercase));
            out.push(b';');
        }
    }

    #[test]
    fn each_encoding_splits_where_the_validators_end() {
        let validators = b"ETag: \"x\"\r\nCache-Control: no-cache\r\n";
        let lines = [&validators[..], b"Content-Type: text/plain\r\n"].concat();
        let rendered = RenderedFields::new(lines.clone(), validators.len());
        assert_eq!(rendered.lines(Part::Validators), validators);
        assert_eq!(rendered.lines(Part::All), lines);
        assert_eq!(rendered.hpack(Part::Validators, names), b"ETAG;CACHE-CONTROL;");
        assert_eq!(rendered.hpack(Part::All, names), b"ETAG;CACHE-CONTROL;CONTENT-TYPE;");
    }

    #[test]
    fn the_block_is_encoded_once() {
        let rendered = RenderedFields::new(b"A: 1\r\n".to_vec(), 0);
        let calls = std::cell::Cell::new(0);
        let counting = |lines: &[u8], out: &mut Vec<u8>| {
            calls.set(calls.get() + 1);
            names(lines, out);
        };
        assert_eq!(rendered.hpack(Part::All, counting), b"A;");
        assert_eq!(rendered.hpack(Part::Validators, counting), b"");
        assert_eq!(calls.get(), 2, "two parts encoded by the first call, none by the second");
    }
}
