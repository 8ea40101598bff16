//! HPACK (RFC 7541) for the session: header blocks decoded with the
//! `loona-hpack` crate into one flat list whose size is bounded while it
//! is decoded (an HPACK bomb — a small block that names one large table
//! entry thousands of times — stops costing memory at the bound), and
//! response heads encoded by [`encode_field`] without the dynamic table.
//!
//! Why encode without indexing: the encoder then holds no state, so the
//! peer's `SETTINGS_HEADER_TABLE_SIZE` (even 0) needs nothing from us, a
//! response can be encoded before it is known which of several goes out
//! first, and the bytes cost no more CPU than HTTP/1's head; names are in
//! the static table, values are short. h2o and nginx index a few fields
//! to save bytes; with responses of a few hundred bytes that is noise.

use std::ops::Range;

use loona_hpack::Decoder;

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

/// The session's decoder: the dynamic table our SETTINGS allow.
pub fn decoder() -> Decoder<'static> {
    let mut decoder = Decoder::new();
    decoder.set_max_allowed_table_size(HEADER_TABLE_SIZE);
    decoder
}

/// Decodes `block` into `fields`, keeping at most `max_list` bytes of list
/// (names, values and [`FIELD_OVERHEAD`] each). The whole block is always
/// decoded, since the dynamic table must follow the client's; `Err` is a
/// block that cannot be decoded (a connection's `COMPRESSION_ERROR`).
pub fn decode(decoder: &mut Decoder<'static>, block: &[u8], max_list: usize) -> Result<Fields, ()> {
    let mut fields = Fields::default();
    let mut size = 0usize;
    decoder
        .decode_with_cb(block, |name, value| {
            size = size.saturating_add(name.len() + value.len() + FIELD_OVERHEAD);
            if size > max_list {
                fields.over = true;
                return;
            }
            let start = fields.bytes.len();
            fields.bytes.extend_from_slice(&name);
            let middle = fields.bytes.len();
            fields.bytes.extend_from_slice(&value);
            fields.list.push((start..middle, middle..fields.bytes.len()));
        })
        .map_err(|_| ())?;
    Ok(fields)
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

    #[test]
    fn a_table_larger_than_allowed_is_an_error() {
        let mut decoder = decoder();
        let mut block = Vec::new();
        write_integer(&mut block, 0x20, 5, HEADER_TABLE_SIZE + 1);
        block.push(0x82);
        assert!(decode(&mut decoder, &block, 4096).is_err());
        assert!(decode(&mut super::decoder(), &hex("ff"), 4096).is_err(), "an index past the tables");
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
