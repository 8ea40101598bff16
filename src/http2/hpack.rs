//! HPACK (RFC 7541) for the session: header blocks decoded into one flat
//! list whose size is bounded while it is decoded (an HPACK bomb — a small
//! block that names one large table entry thousands of times — stops
//! costing memory at the bound), and response heads encoded by
//! [`encode_field`] without the dynamic table.
//!
//! Decoding is ours, written to the RFC and its Appendix C examples, with
//! the Huffman code in `huffman`. The maintained crate for it
//! (`loona-hpack`, the `hpack` crate's fork) builds two hash maps of the
//! whole Huffman code for every string it decodes: callgrind counted 93%
//! of an HTTP/2 request's instructions there (242,000 a request against
//! HTTP/1.1's 5,300), and it holds no bound on a decoded list. Encoding
//! without indexing keeps the encoder stateless, so the peer's
//! `SETTINGS_HEADER_TABLE_SIZE` (even 0) needs nothing from us but a size
//! update, a response can be encoded before it is known which of several
//! goes out first, and the bytes cost no more CPU than HTTP/1's head;
//! names are in the static table, values are short. h2o and nginx index a
//! few fields to save bytes; with responses of a few hundred bytes that is
//! noise.

use std::collections::VecDeque;
use std::ops::Range;

use super::huffman;
use super::limits::{FIELD_OVERHEAD, HEADER_TABLE_SIZE};

/// A decoded header list: names and values side by side in one buffer.
#[derive(Debug, Default)]
pub struct Fields {
    pub bytes: Vec<u8>,
    /// (name, value) ranges in `bytes`, in the order received.
    pub list: Vec<(Range<usize>, Range<usize>)>,
    /// The list was longer than allowed: fields past the bound were dropped.
    pub over: bool,
}

impl Fields {
    pub fn name(&self, i: usize) -> &[u8] {
        &self.bytes[self.list[i].0.clone()]
    }

    pub fn value(&self, i: usize) -> &[u8] {
        &self.bytes[self.list[i].1.clone()]
    }
}

/// The static table (RFC 7541 Appendix A): index 1 is the first entry.
const STATIC_TABLE: [(&[u8], &[u8]); 61] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// Index values past this are refused: no table is that long, and the
/// integer decoder must not overflow on hostile input.
const MAX_INTEGER: u64 = 1 << 32;
/// Continuation bytes an integer may have: five carry 35 bits, past
/// `MAX_INTEGER`. More (zero-valued `0x80` bytes keep the value small)
/// would shift past 64 bits: found by fuzzing.
const MAX_CONTINUATION_BYTES: u32 = 5;

/// Bytes a decoded list has room for at first: a browser's request (its
/// user-agent, accept and client hints) fits, so it is not grown twice.
const MIN_LIST_ROOM: usize = 512;

/// A connection's decoding state: the dynamic table the client fills.
pub struct Decoder {
    /// Entries, newest first: name and value in one allocation.
    entries: VecDeque<(Box<[u8]>, usize)>,
    /// RFC 7541 §4.1 size of the entries.
    size: usize,
    /// The size the client chose (at most [`HEADER_TABLE_SIZE`]).
    max: usize,
}

/// The session's decoder: the dynamic table our SETTINGS allow.
pub fn decoder() -> Decoder {
    Decoder { entries: VecDeque::new(), size: 0, max: HEADER_TABLE_SIZE }
}

impl Decoder {
    /// The entry at `index` (1-based, static then dynamic).
    fn entry(&self, index: usize) -> Option<(&[u8], &[u8])> {
        match index {
            0 => None,
            1..=61 => Some(STATIC_TABLE[index - 1]),
            _ => self.entries.get(index - 62).map(|(bytes, name_len)| bytes.split_at(*name_len)),
        }
    }

    /// Evicts the oldest entries until the table is at most `room` bytes.
    fn evict_to(&mut self, room: usize) {
        while self.size > room {
            let Some((bytes, _)) = self.entries.pop_back() else { break };
            self.size -= bytes.len() + FIELD_OVERHEAD;
        }
    }

    /// Adds an entry (§4.4): one larger than the table empties it.
    fn insert(&mut self, name: &[u8], value: &[u8]) {
        let cost = name.len() + value.len() + FIELD_OVERHEAD;
        if cost > self.max {
            self.evict_to(0);
            return;
        }
        self.evict_to(self.max - cost);
        let mut bytes = Vec::with_capacity(name.len() + value.len());
        bytes.extend_from_slice(name);
        bytes.extend_from_slice(value);
        self.entries.push_front((bytes.into_boxed_slice(), name.len()));
        self.size += cost;
    }
}

/// Reads an integer with an `n`-bit prefix at `*at` (§5.1).
fn read_integer(block: &[u8], at: &mut usize, n: u32) -> Result<usize, ()> {
    let max = (1u64 << n) - 1;
    let mut value = u64::from(*block.get(*at).ok_or(())?) & max;
    *at += 1;
    if value < max {
        return Ok(value as usize);
    }
    let mut shift = 0;
    loop {
        if shift >= 7 * MAX_CONTINUATION_BYTES {
            return Err(());
        }
        let byte = *block.get(*at).ok_or(())?;
        *at += 1;
        value += u64::from(byte & 0x7f) << shift;
        if value > MAX_INTEGER {
            return Err(());
        }
        if byte & 0x80 == 0 {
            return Ok(value as usize);
        }
        shift += 7;
    }
}

/// Reads a string literal at `*at` (§5.2), appending it to `out`.
fn read_string(block: &[u8], at: &mut usize, out: &mut Vec<u8>) -> Result<(), ()> {
    let huffman = block.get(*at).ok_or(())? & 0x80 != 0;
    let len = read_integer(block, at, 7)?;
    let raw = block.get(*at..*at + len).ok_or(())?;
    *at += len;
    if huffman {
        huffman::decode(raw, out)
    } else {
        out.extend_from_slice(raw);
        Ok(())
    }
}

/// Decodes `block` into a list, keeping at most `max_list` bytes of it
/// (names, values and [`FIELD_OVERHEAD`] each). The whole block is always
/// decoded, since the dynamic table must follow the client's; `Err` is a
/// block that cannot be decoded (a connection's `COMPRESSION_ERROR`).
/// (The session decodes [`decode_into`] a recycled list; tests and the
/// fuzz target into a new one.)
#[cfg(any(test, fuzzing))]
pub fn decode(decoder: &mut Decoder, block: &[u8], max_list: usize) -> Result<Fields, ()> {
    let mut fields = Fields::default();
    decode_into(decoder, block, max_list, &mut fields)?;
    Ok(fields)
}

/// [`decode`] into `fields`, emptied first: a list given back after its
/// request lends its room to the next.
pub fn decode_into(decoder: &mut Decoder, block: &[u8], max_list: usize, fields: &mut Fields) -> Result<(), ()> {
    fields.bytes.clear();
    fields.list.clear();
    fields.over = false;
    // Room for a typical list at once: names from the tables and Huffman
    // strings decode to about twice the block, and a block of indexed
    // fields (a client's later requests) to many times it.
    fields.bytes.reserve((2 * block.len()).max(MIN_LIST_ROOM).min(max_list));
    fields.list.reserve(16);
    let mut size = 0usize;
    let mut at = 0;
    while at < block.len() {
        let first = block[at];
        let start = fields.bytes.len();
        let (name, value, index) = if first & 0x80 != 0 {
            // Indexed field (§6.1).
            let index = read_integer(block, &mut at, 7)?;
            let (name, value) = decoder.entry(index).ok_or(())?;
            fields.bytes.extend_from_slice(name);
            let middle = fields.bytes.len();
            fields.bytes.extend_from_slice(value);
            (start..middle, middle..fields.bytes.len(), false)
        } else if first & 0x20 != 0 && first & 0x40 == 0 {
            // A table size update (§6.3), only before the first field.
            if !fields.list.is_empty() || fields.over {
                return Err(());
            }
            let max = read_integer(block, &mut at, 5)?;
            if max > HEADER_TABLE_SIZE {
                return Err(());
            }
            decoder.max = max;
            decoder.evict_to(max);
            continue;
        } else {
            // A literal (§6.2): with indexing (01), without (0000), never (0001).
            let indexing = first & 0x40 != 0;
            let index = read_integer(block, &mut at, if indexing { 6 } else { 4 })?;
            if index == 0 {
                read_string(block, &mut at, &mut fields.bytes)?;
            } else {
                fields.bytes.extend_from_slice(decoder.entry(index).ok_or(())?.0);
            }
            let middle = fields.bytes.len();
            read_string(block, &mut at, &mut fields.bytes)?;
            (start..middle, middle..fields.bytes.len(), indexing)
        };
        if index {
            decoder.insert(&fields.bytes[name.clone()], &fields.bytes[value.clone()]);
        }
        size = size.saturating_add(fields.bytes.len() - start + FIELD_OVERHEAD);
        if size > max_list {
            fields.over = true;
            fields.bytes.truncate(start);
        } else if !fields.over {
            fields.list.push((name, value));
        }
    }
    Ok(())
}

/// The static table's index of `name` (lowercase), for names a response
/// carries (RFC 7541 Appendix A).
fn static_index(name: &[u8]) -> Option<u8> {
    Some(match name {
        b":status" => 8,
        b"accept-ranges" => 18,
        b"access-control-allow-origin" => 20,
        b"age" => 21,
        b"allow" => 22,
        b"cache-control" => 24,
        b"content-disposition" => 25,
        b"content-encoding" => 26,
        b"content-language" => 27,
        b"content-length" => 28,
        b"content-location" => 29,
        b"content-range" => 30,
        b"content-type" => 31,
        b"date" => 33,
        b"etag" => 34,
        b"expires" => 36,
        b"last-modified" => 44,
        b"link" => 45,
        b"location" => 46,
        b"refresh" => 52,
        b"retry-after" => 53,
        b"server" => 54,
        b"set-cookie" => 55,
        b"strict-transport-security" => 56,
        b"vary" => 59,
        b"via" => 60,
        b"www-authenticate" => 61,
        _ => return None,
    })
}

/// Appends an HPACK integer with an `n`-bit prefix whose other bits are `high`.
fn write_integer(out: &mut Vec<u8>, high: u8, n: u32, mut value: usize) {
    let max = (1usize << n) - 1;
    if value < max {
        out.push(high | value as u8);
        return;
    }
    out.push(high | max as u8);
    value -= max;
    while value >= 128 {
        out.push((value % 128) as u8 | 0x80);
        value /= 128;
    }
    out.push(value as u8);
}

/// Appends a string literal, not Huffman-coded.
fn write_string(out: &mut Vec<u8>, bytes: &[u8]) {
    write_integer(out, 0, 7, bytes.len());
    out.extend_from_slice(bytes);
}

/// Appends a dynamic table size update (§6.3) to `size`.
pub fn write_table_size(out: &mut Vec<u8>, size: usize) {
    write_integer(out, 0x20, 5, size);
}

/// Appends `:status`: one byte for the statuses the static table has.
pub fn encode_status(out: &mut Vec<u8>, status: u16) {
    let indexed = match status {
        200 => 8,
        204 => 9,
        206 => 10,
        304 => 11,
        400 => 12,
        404 => 13,
        500 => 14,
        _ => 0,
    };
    if indexed != 0 {
        out.push(0x80 | indexed);
    } else {
        encode_field(out, b":status", itoa::Buffer::new().format(status).as_bytes());
    }
}

/// Appends one field as a literal without indexing (§6.2.2); `name` must
/// be lowercase already.
pub fn encode_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    match static_index(name) {
        Some(index) => write_integer(out, 0, 4, usize::from(index)),
        None => {
            out.push(0);
            write_string(out, name);
        }
    }
    write_string(out, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits.chunks(2).map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap()).collect()
    }

    fn listed(fields: &Fields) -> Vec<(String, String)> {
        (0..fields.list.len())
            .map(|i| (String::from_utf8_lossy(fields.name(i)).into(), String::from_utf8_lossy(fields.value(i)).into()))
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    /// RFC 7541 C.4: three requests with Huffman coding, one decoder.
    #[test]
    fn decodes_the_rfc_request_examples() {
        let mut decoder = decoder();
        let first = decode(&mut decoder, &hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"), 4096).unwrap();
        assert_eq!(
            listed(&first),
            pairs(&[(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")])
        );
        let second = decode(&mut decoder, &hex("8286 84be 5886 a8eb 1064 9cbf"), 4096).unwrap();
        assert_eq!(
            listed(&second),
            pairs(&[
                (":method", "GET"),
                (":scheme", "http"),
                (":path", "/"),
                (":authority", "www.example.com"),
                ("cache-control", "no-cache")
            ])
        );
        let third =
            decode(&mut decoder, &hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"), 4096).unwrap();
        assert_eq!(
            listed(&third),
            pairs(&[
                (":method", "GET"),
                (":scheme", "https"),
                (":path", "/index.html"),
                (":authority", "www.example.com"),
                ("custom-key", "custom-value")
            ])
        );
    }

    #[test]
    fn a_bomb_is_cut_at_the_list_bound() {
        let mut decoder = decoder();
        // One 4,000-byte entry added to the table, then named 1,000 times
        // by one byte each (index 62).
        let mut block = vec![0x40];
        write_string(&mut block, b"x-bomb");
        write_string(&mut block, &[b'a'; 4000]);
        block.extend(std::iter::repeat_n(0xbe, 1000));
        let fields = decode(&mut decoder, &block, 16 * 1024).unwrap();
        assert!(fields.over);
        assert!(fields.bytes.len() <= 16 * 1024, "{}", fields.bytes.len());
    }

    /// RFC 7541 C.3: the same requests without Huffman coding.
    #[test]
    fn decodes_the_rfc_plain_examples_and_evicts() {
        let mut decoder = decoder();
        decode(&mut decoder, &hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"), 4096).unwrap();
        assert_eq!(decoder.size, 57);
        decode(&mut decoder, &hex("8286 84be 5808 6e6f 2d63 6163 6865"), 4096).unwrap();
        assert_eq!(decoder.size, 110);
        let third = decode(
            &mut decoder,
            &hex("8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65"),
            4096,
        )
        .unwrap();
        assert_eq!(listed(&third)[4], ("custom-key".to_string(), "custom-value".to_string()));
        assert_eq!(decoder.size, 164);
        // A table of 80 bytes keeps only the newest entry (49 and 50 bytes).
        let mut small = super::decoder();
        let mut block = Vec::new();
        write_table_size(&mut block, 80);
        decode(&mut small, &block, 4096).unwrap();
        for value in ["first-value", "second-value"] {
            let mut block = vec![0x40];
            write_string(&mut block, b"x-name");
            write_string(&mut block, value.as_bytes());
            decode(&mut small, &block, 4096).unwrap();
        }
        assert_eq!(small.entries.len(), 1);
        let named = decode(&mut small, &[0xbe], 4096).unwrap();
        assert_eq!(listed(&named), pairs(&[("x-name", "second-value")]));
        assert!(decode(&mut small, &[0xbf], 4096).is_err(), "the evicted entry");
    }

    #[test]
    fn integers_with_endless_continuation_bytes_are_errors() {
        // A literal's length: the 7-bit prefix full, then continuation
        // bytes carrying zeros (the value stays small, the shift grows).
        let mut block = vec![0x7f];
        block.extend(std::iter::repeat_n(0x80, 12));
        block.push(0x01);
        let mut at = 0;
        assert_eq!(read_integer(&block, &mut at, 7), Err(()));
        // Within the bound: 127 + 1 * 2^28.
        let mut at = 0;
        assert_eq!(read_integer(&[0x7f, 0x80, 0x80, 0x80, 0x80, 0x01], &mut at, 7), Ok(127 + (1 << 28)));
        assert_eq!(at, 6);
    }

    #[test]
    fn a_table_larger_than_allowed_is_an_error() {
        let mut decoder = decoder();
        let mut block = Vec::new();
        write_integer(&mut block, 0x20, 5, HEADER_TABLE_SIZE + 1);
        block.push(0x82);
        assert!(decode(&mut decoder, &block, 4096).is_err());
        assert!(decode(&mut super::decoder(), &hex("ff"), 4096).is_err(), "an index past the tables");
        assert!(decode(&mut super::decoder(), &hex("80"), 4096).is_err(), "index 0");
        assert!(decode(&mut super::decoder(), &hex("82 20"), 4096).is_err(), "a size update after a field");
        assert!(decode(&mut super::decoder(), &hex("ff ff ff ff ff ff ff"), 4096).is_err(), "an endless integer");
        assert!(decode(&mut super::decoder(), &hex("04 05 61"), 4096).is_err(), "a string past the block");
    }

    #[test]
    fn encoded_responses_decode() {
        for status in [200, 206, 304, 404, 418, 503] {
            let mut out = Vec::new();
            encode_status(&mut out, status);
            encode_field(&mut out, b"content-type", b"text/html");
            encode_field(&mut out, b"x-long", &[b'v'; 300]);
            let fields = decode(&mut decoder(), &out, 4096).unwrap();
            let want =
                pairs(&[(":status", &status.to_string()), ("content-type", "text/html"), ("x-long", &"v".repeat(300))]);
            assert_eq!(listed(&fields), want);
        }
        let mut out = Vec::new();
        encode_status(&mut out, 200);
        assert_eq!(out, [0x88]);
        // A size update first (to 0, as a client that wants no table asks).
        let mut out = Vec::new();
        write_table_size(&mut out, 0);
        encode_status(&mut out, 404);
        assert_eq!(out, [0x20, 0x8d]);
        assert_eq!(listed(&decode(&mut decoder(), &out, 4096).unwrap()), pairs(&[(":status", "404")]));
    }
}
