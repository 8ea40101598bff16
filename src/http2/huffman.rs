//! HPACK's Huffman code (RFC 7541 §5.2, Appendix B), decoded.
//!
//! The code is canonical: codes of one length are consecutive and in
//! symbol order, so the table is only each symbol's code length
//! ([`LENGTHS`]), from which the decoder derives, once, how many codes
//! each length has and the symbols in code order. A symbol is then found
//! by reading its code's bits as a number and asking, from the shortest
//! length up, whether it falls in that length's range (zlib's `puff`
//! decodes the same way): a few steps a byte, no allocation, no tree.
//! Codes of up to 8 bits (every letter, digit and URL punctuation) are
//! first looked up by the next 8 bits in one table ([`Tables::short`]),
//! which took the `:path` of a request from 490 instructions to about 150.

use std::sync::OnceLock;

/// The code length of each symbol: bytes 0–255, then EOS (256).
const LENGTHS: [u8; 257] = [
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28,
    28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12,
    10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6,
    5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22,
    22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22, 21, 20,
    22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28,
    27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28,
    27, 27, 27, 27, 27, 26, 30,
];

/// The longest code.
const MAX_LENGTH: usize = 30;
/// The shortest code.
const MIN_LENGTH: usize = 5;
const EOS: u16 = 256;

/// What the decoder derives from [`LENGTHS`].
struct Tables {
    /// Codes of each length.
    count: [u32; MAX_LENGTH + 1],
    /// The first (smallest) code of each length.
    first: [u32; MAX_LENGTH + 1],
    /// Where each length's symbols start in `symbols`.
    offset: [u32; MAX_LENGTH + 1],
    /// The symbols in code order.
    symbols: [u16; 257],
    /// By the next 8 bits: the symbol whose code they begin with and its
    /// length, or length 0 for a code longer than 8 bits.
    short: [(u8, u8); 256],
}

/// Bits [`Tables::short`] is indexed by.
const SHORT_BITS: usize = 8;

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut t = Tables {
            count: [0; MAX_LENGTH + 1],
            first: [0; MAX_LENGTH + 1],
            offset: [0; MAX_LENGTH + 1],
            symbols: [0; 257],
            short: [(0, 0); 256],
        };
        for &len in &LENGTHS {
            t.count[usize::from(len)] += 1;
        }
        let (mut code, mut at) = (0u32, 0u32);
        for len in 1..=MAX_LENGTH {
            t.first[len] = code;
            t.offset[len] = at;
            code = (code + t.count[len]) << 1;
            at += t.count[len];
        }
        let mut next = t.offset;
        for (symbol, &len) in LENGTHS.iter().enumerate() {
            let len = usize::from(len);
            t.symbols[next[len] as usize] = symbol as u16;
            next[len] += 1;
        }
        // Every 8-bit string that begins with a short code maps to it.
        for len in MIN_LENGTH..=SHORT_BITS {
            for i in 0..t.count[len] {
                let symbol = t.symbols[(t.offset[len] + i) as usize] as u8;
                let prefix = ((t.first[len] + i) as usize) << (SHORT_BITS - len);
                for entry in &mut t.short[prefix..prefix + (1 << (SHORT_BITS - len))] {
                    *entry = (symbol, len as u8);
                }
            }
        }
        t
    })
}

/// Appends the decoding of `input` to `out`. `Err` for what RFC 7541
/// §5.2 calls a decoding error: EOS in the string, or padding longer
/// than 7 bits or not all ones.
pub fn decode(input: &[u8], out: &mut Vec<u8>) -> Result<(), ()> {
    let t = tables();
    // Bits not yet used, at the top of `bits` (`have` of them).
    let mut bits: u64 = 0;
    let mut have: usize = 0;
    let mut rest = input;
    loop {
        while have <= 56 {
            let Some((&byte, tail)) = rest.split_first() else { break };
            bits |= u64::from(byte) << (56 - have);
            have += 8;
            rest = tail;
        }
        if have == 0 {
            return Ok(());
        }
        let mut len = MIN_LENGTH;
        if have >= SHORT_BITS {
            let (symbol, short) = t.short[(bits >> (64 - SHORT_BITS)) as usize];
            if short != 0 {
                out.push(symbol);
                bits <<= short;
                have -= usize::from(short);
                continue;
            }
            // Longer than the table's codes.
            len = SHORT_BITS + 1;
        }
        let symbol = loop {
            if len > have {
                // The end: what is left must be padding, the start of EOS.
                let ones = (1u64 << have) - 1;
                return if rest.is_empty() && have < 8 && bits >> (64 - have) == ones { Ok(()) } else { Err(()) };
            }
            let code = (bits >> (64 - len)) as u32;
            if code.wrapping_sub(t.first[len]) < t.count[len] {
                break t.symbols[(t.offset[len] + code - t.first[len]) as usize];
            }
            len += 1;
            if len > MAX_LENGTH {
                return Err(());
            }
        };
        if symbol == EOS {
            return Err(());
        }
        out.push(symbol as u8);
        bits <<= len;
        have -= len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The canonical code of each symbol, for encoding in tests.
    fn encode(text: &[u8]) -> Vec<u8> {
        let t = tables();
        let mut codes = [0u32; 257];
        for len in 1..=MAX_LENGTH {
            for i in 0..t.count[len] {
                codes[t.symbols[(t.offset[len] + i) as usize] as usize] = t.first[len] + i;
            }
        }
        let (mut out, mut acc, mut n) = (Vec::new(), 0u64, 0u32);
        for &b in text {
            let len = u32::from(LENGTHS[usize::from(b)]);
            acc = (acc << len) | u64::from(codes[usize::from(b)]);
            n += len;
            while n >= 8 {
                out.push((acc >> (n - 8)) as u8);
                n -= 8;
            }
        }
        if n > 0 {
            out.push(((acc << (8 - n)) | ((1 << (8 - n)) - 1)) as u8);
        }
        out
    }

    fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits.chunks(2).map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap()).collect()
    }

    fn decoded(input: &[u8]) -> Result<Vec<u8>, ()> {
        let mut out = Vec::new();
        decode(input, &mut out).map(|()| out)
    }

    #[test]
    fn the_rfc_examples() {
        let cases = [
            ("f1e3 c2e5 f23a 6ba0 ab90 f4ff", "www.example.com"),
            ("a8eb 1064 9cbf", "no-cache"),
            ("25a8 49e9 5ba9 7d7f", "custom-key"),
            ("25a8 49e9 5bb8 e8b4 bf", "custom-value"),
            ("6402", "302"),
            ("aec3 771a 4b", "private"),
            ("d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3", "https://www.example.com"),
        ];
        for (input, want) in cases {
            assert_eq!(decoded(&hex(input)), Ok(want.as_bytes().to_vec()), "{want}");
        }
    }

    #[test]
    fn every_byte_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(decoded(&encode(&all)), Ok(all.clone()));
        for b in 0..=255u8 {
            assert_eq!(decoded(&encode(&[b, b'a', b])), Ok(vec![b, b'a', b]));
        }
        assert_eq!(decoded(&[]), Ok(vec![]));
    }

    #[test]
    fn bad_padding_and_eos_are_errors() {
        // 'a' (00011) then three padding bits that are not all ones.
        assert_eq!(decoded(&[0b0001_1000]), Err(()));
        // 'a' then 3 ones: fine.
        assert_eq!(decoded(&[0b0001_1111]), Ok(b"a".to_vec()));
        // A whole byte of ones is padding longer than 7 bits.
        assert_eq!(decoded(&[0b0001_1111, 0xff]), Err(()));
        // EOS itself (30 ones), padded.
        assert_eq!(decoded(&[0xff, 0xff, 0xff, 0xff]), Err(()));
    }
}
