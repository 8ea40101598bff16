//! The listing page's inline style and script, and the
//! Content-Security-Policy that allows exactly them, computed when the
//! crate is compiled.
//!
//! The style and script are real files beside this one (`listing.css`,
//! `listing.js`), included with `include_str!` and sent inline, so a
//! listing stays one self-contained response. A browser applies an inline
//! style or runs an inline script only if the page's policy names its
//! SHA-256, so the policy is made here from the very bytes the page
//! carries, and an edit to either file changes its hash with it. SHA-256
//! and base64 are written out as `const fn`s because the policy is a
//! constant (`&'static str`, no start-up work, no lock); the tests hold
//! them to the `sha2` and `base64` crates.
//!
//! The files' lines are joined as Rust joins the lines of a string literal
//! that end in `\`: each line break and the indentation after it are
//! dropped, so the files are laid out for reading while the page carries
//! the same compact bytes it always did. A line break is therefore never
//! a space: break lines only where nothing needs to separate the two
//! sides (after `;`, `{` or `}`, between rules), never inside a token.

/// A file beside this one, its lines joined (see the module comment), as
/// a `&'static str` made at compile time.
macro_rules! joined {
    ($file:literal) => {{
        const TEXT: &[u8] = include_str!($file).as_bytes();
        const BYTES: [u8; join_lines::<0>(TEXT).1] = join_lines(TEXT).0;
        as_str(&BYTES)
    }};
}

/// The style as the page carries it: `listing.css`, its lines joined.
/// Kept small and inline; colours are variables so that
/// `prefers-color-scheme: dark` swaps them all; below 40em the date column
/// gives its room to the names.
pub const STYLE: &str = joined!("listing.css");

/// The script as the page carries it: `listing.js`, its lines joined.
/// The filter box, shown only when script runs, hides the rows whose name
/// does not contain what is typed (`/` focuses it; the parent row is
/// never hidden); the dates, written in UTC (which the page says without
/// script), are shown in the viewer's local time, UTC on hover.
pub const SCRIPT: &str = joined!("listing.js");

/// The page's policy: nothing but its own style and script (by their
/// SHA-256), so a hostile file name that slipped past escaping still could
/// not run anything; images from the site, and `data:` ones, which is how
/// the style carries its folder and file icons (inline SVG, no request). A stricter policy an operator adds (another
/// `Content-Security-Policy` applies as well) only keeps the filter box
/// hidden.
pub const CONTENT_SECURITY_POLICY: &str = {
    const STYLE_HASH: [u8; BASE64_DIGEST] = base64_digest(&sha256(STYLE.as_bytes()));
    const SCRIPT_HASH: [u8; BASE64_DIGEST] = base64_digest(&sha256(SCRIPT.as_bytes()));
    const PARTS: [&[u8]; 5] = [
        b"default-src 'none'; style-src 'sha256-",
        &STYLE_HASH,
        b"'; script-src 'sha256-",
        &SCRIPT_HASH,
        b"'; img-src 'self' data:; base-uri 'none'; form-action 'self'",
    ];
    const BYTES: [u8; total_len(&PARTS)] = concat(&PARTS);
    as_str(&BYTES)
};

/// The upload controls' style as a writable folder's page carries it
/// (`upload.css`, lines joined; see `upload`).
pub const UPLOAD_STYLE: &str = joined!("upload.css");

/// The upload controls' script as a writable folder's page carries it
/// (`upload.js`, lines joined): uploads with progress, cancel and errors
/// shown, drag and drop of files and folders, new folders, and (with
/// `--delete`) rename and delete buttons on the rows.
pub const UPLOAD_SCRIPT: &str = joined!("upload.js");

/// The policy of a page with the upload controls: [`CONTENT_SECURITY_POLICY`]
/// with their style and script too, and `connect-src 'self'` for the
/// requests the script makes (uploads, `MKCOL`, `DELETE`, `MOVE`) to this
/// server only.
pub const WRITABLE_POLICY: &str = {
    const STYLE_HASH: [u8; BASE64_DIGEST] = base64_digest(&sha256(STYLE.as_bytes()));
    const SCRIPT_HASH: [u8; BASE64_DIGEST] = base64_digest(&sha256(SCRIPT.as_bytes()));
    const UPLOAD_STYLE_HASH: [u8; BASE64_DIGEST] = base64_digest(&sha256(UPLOAD_STYLE.as_bytes()));
    const UPLOAD_SCRIPT_HASH: [u8; BASE64_DIGEST] = base64_digest(&sha256(UPLOAD_SCRIPT.as_bytes()));
    const PARTS: [&[u8]; 9] = [
        b"default-src 'none'; style-src 'sha256-",
        &STYLE_HASH,
        b"' 'sha256-",
        &UPLOAD_STYLE_HASH,
        b"'; script-src 'sha256-",
        &SCRIPT_HASH,
        b"' 'sha256-",
        &UPLOAD_SCRIPT_HASH,
        b"'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'",
    ];
    const BYTES: [u8; total_len(&PARTS)] = concat(&PARTS);
    as_str(&BYTES)
};

/// Length of a SHA-256 digest in base64: 32 bytes, 43 digits and one `=`.
pub(crate) const BASE64_DIGEST: usize = 44;

/// `text`'s lines joined, dropping each line break and the spaces and
/// tabs that follow it: the first `N` bytes, and the joined length (so
/// `join_lines::<0>` sizes the array that `join_lines` fills).
const fn join_lines<const N: usize>(text: &[u8]) -> ([u8; N], usize) {
    let mut out = [0; N];
    let mut len = 0;
    let mut after_break = false;
    let mut i = 0;
    while i < text.len() {
        let byte = text[i];
        if byte == b'\n' {
            after_break = true;
        } else if !(after_break && (byte == b' ' || byte == b'\t')) {
            after_break = false;
            if len < N {
                out[len] = byte;
            }
            len += 1;
        }
        i += 1;
    }
    (out, len)
}

/// UTF-8 bytes as a string; fails the build if they are not UTF-8 (they
/// are UTF-8 files with ASCII bytes dropped, or ASCII).
pub(crate) const fn as_str(bytes: &'static [u8]) -> &'static str {
    match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(_) => panic!("the listing's style, script and policy are UTF-8"),
    }
}

/// Total length of `parts`.
pub(crate) const fn total_len(parts: &[&[u8]]) -> usize {
    let (mut len, mut i) = (0, 0);
    while i < parts.len() {
        len += parts[i].len();
        i += 1;
    }
    len
}

/// `parts` one after another; `N` is their [`total_len`].
pub(crate) const fn concat<const N: usize>(parts: &[&[u8]]) -> [u8; N] {
    let mut out = [0; N];
    let (mut at, mut i) = (0, 0);
    while i < parts.len() {
        let mut j = 0;
        while j < parts[i].len() {
            out[at] = parts[i][j];
            at += 1;
            j += 1;
        }
        i += 1;
    }
    out
}

/// The SHA-256 of `data` in base64, as a CSP hash source carries it
/// (live reload's script is allowed by one too).
pub(crate) const fn sha256_base64(data: &[u8]) -> [u8; BASE64_DIGEST] {
    base64_digest(&sha256(data))
}

/// A 32-byte digest in standard base64 with its padding, as CSP hash
/// sources are written.
const fn base64_digest(digest: &[u8; 32]) -> [u8; BASE64_DIGEST] {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = [b'='; BASE64_DIGEST];
    let (mut i, mut o) = (0, 0);
    // Three bytes make four digits; the last group has two bytes, three digits.
    while i < digest.len() {
        let b0 = digest[i];
        let b1 = if i + 1 < digest.len() { digest[i + 1] } else { 0 };
        let b2 = if i + 2 < digest.len() { digest[i + 2] } else { 0 };
        out[o] = ALPHABET[(b0 >> 2) as usize];
        out[o + 1] = ALPHABET[(((b0 & 0x03) << 4) | (b1 >> 4)) as usize];
        if i + 1 < digest.len() {
            out[o + 2] = ALPHABET[(((b1 & 0x0f) << 2) | (b2 >> 6)) as usize];
        }
        if i + 2 < digest.len() {
            out[o + 3] = ALPHABET[(b2 & 0x3f) as usize];
        }
        i += 3;
        o += 4;
    }
    out
}

/// SHA-256's round constants (FIPS 180-4 §4.2.2).
const ROUND: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
    0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
    0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
    0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
];

/// SHA-256's initial hash value (FIPS 180-4 §5.3.3).
const INITIAL: [u32; 8] =
    [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/// The SHA-256 digest of `data` (FIPS 180-4), for constants: plain and
/// slow, which costs nothing at compile time.
const fn sha256(data: &[u8]) -> [u8; 32] {
    // The message, a 0x80 byte and the 64-bit length fill whole blocks.
    let blocks = (data.len() + 1 + 8).div_ceil(64);
    let mut hash = INITIAL;
    let mut block = 0;
    while block < blocks {
        let mut schedule = [0u32; 64];
        let mut t = 0;
        while t < 16 {
            let at = block * 64 + t * 4;
            schedule[t] = u32::from_be_bytes([
                padded(data, at, blocks),
                padded(data, at + 1, blocks),
                padded(data, at + 2, blocks),
                padded(data, at + 3, blocks),
            ]);
            t += 1;
        }
        while t < 64 {
            let (w15, w2) = (schedule[t - 15], schedule[t - 2]);
            let s0 = w15.rotate_right(7) ^ w15.rotate_right(18) ^ (w15 >> 3);
            let s1 = w2.rotate_right(17) ^ w2.rotate_right(19) ^ (w2 >> 10);
            schedule[t] = schedule[t - 16].wrapping_add(s0).wrapping_add(schedule[t - 7]).wrapping_add(s1);
            t += 1;
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = hash;
        t = 0;
        while t < 64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let choice = (e & f) ^ (!e & g);
            let t1 = h.wrapping_add(s1).wrapping_add(choice).wrapping_add(ROUND[t]).wrapping_add(schedule[t]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let majority = (a & b) ^ (a & c) ^ (b & c);
            (h, g, f, e, d, c, b) = (g, f, e, d.wrapping_add(t1), c, b, a);
            a = t1.wrapping_add(s0.wrapping_add(majority));
            t += 1;
        }
        let add = [a, b, c, d, e, f, g, h];
        let mut i = 0;
        while i < 8 {
            hash[i] = hash[i].wrapping_add(add[i]);
            i += 1;
        }
        block += 1;
    }
    let mut digest = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        digest[i] = hash[i / 4].to_be_bytes()[i % 4];
        i += 1;
    }
    digest
}

/// Byte `at` of `data` padded to `blocks` 64-byte blocks as SHA-256 pads
/// it: the data, `0x80`, zeros, then its length in bits (big end first)
/// in the last eight bytes.
const fn padded(data: &[u8], at: usize, blocks: usize) -> u8 {
    let end = blocks * 64;
    if at < data.len() {
        data[at]
    } else if at == data.len() {
        0x80
    } else if at >= end - 8 {
        ((data.len() as u64 * 8) >> (8 * (end - 1 - at))) as u8
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use sha2::Digest;

    fn joins(text: &str, expected: &str) {
        let (bytes, len) = join_lines::<64>(text.as_bytes());
        assert_eq!(std::str::from_utf8(&bytes[..len]), Ok(expected), "{text:?}");
        assert_eq!(join_lines::<0>(text.as_bytes()).1, len, "the length alone, for {text:?}");
    }

    #[test]
    fn lines_join_as_rust_string_continuations_do() {
        joins("", "");
        joins("a{b}", "a{b}");
        joins("a{b}\n", "a{b}");
        joins("a;\nb;\n", "a;b;");
        joins("a{\n  b;\n\tc}\n", "a{b;c}");
        joins("a \nb", "a b");
        joins("a\n\n  \nb", "ab");
        joins("caf\u{e9}\n \u{e9}", "caf\u{e9}\u{e9}");
    }

    #[test]
    fn sha256_is_the_standard_one_at_every_padding_boundary() {
        // Lengths around each place the padding spills into another block.
        let data: Vec<u8> = (0..300u32).map(|i| (i.wrapping_mul(151) >> 3) as u8).collect();
        for len in (0..=200).chain([255, 256, 300]) {
            let want: [u8; 32] = sha2::Sha256::digest(&data[..len]).into();
            assert_eq!(sha256(&data[..len]), want, "{len} bytes");
        }
        assert_eq!(
            base64_digest(&sha256(b"")),
            *b"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            "the empty string's, as CSP validators show it"
        );
    }

    #[test]
    fn base64_is_the_standard_one() {
        for seed in 0..=255u8 {
            let digest: [u8; 32] =
                std::array::from_fn(|i| seed.wrapping_mul(31).wrapping_add((i as u8).wrapping_mul(97)));
            let want = base64::engine::general_purpose::STANDARD.encode(digest);
            assert_eq!(std::str::from_utf8(&base64_digest(&digest)), Ok(want.as_str()));
        }
    }

    #[test]
    fn the_files_are_included_joined() {
        let css = include_str!("listing.css");
        assert!(css.lines().count() > 1, "laid out for reading");
        assert_eq!(STYLE, css.lines().map(str::trim_start).collect::<String>());
        assert_eq!(SCRIPT, include_str!("listing.js").lines().map(str::trim_start).collect::<String>());
        assert_eq!(UPLOAD_STYLE, include_str!("upload.css").lines().map(str::trim_start).collect::<String>());
        assert_eq!(UPLOAD_SCRIPT, include_str!("upload.js").lines().map(str::trim_start).collect::<String>());
        assert!(!STYLE.contains('\n') && !SCRIPT.contains('\n'));
    }
}
