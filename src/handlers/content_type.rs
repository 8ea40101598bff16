//! `Content-Type` of a served file: the type from its extension (the
//! user's `--mime` table first, then a few corrections, then mime_guess's),
//! and `charset=utf-8` only when the bytes are UTF-8.
//!
//! A charset the server states overrides the page's own `<meta charset>`,
//! so stating UTF-8 for a legacy ISO-8859-1 page turns its accents into
//! mojibake. The charset is therefore added to a text type only when the
//! file's bytes are valid UTF-8: checked once per file version by `files`
//! (on the bytes it caches, or on a bounded prefix of a larger file) and
//! remembered with the cached header lines, so a hit checks nothing.
//! Without a charset, a browser honours the document's own declaration
//! (or its BOM), as with nginx and Caddy, which send none.

use std::borrow::Cow;
use std::path::Path;

use crate::config::MimeOverride;

/// Bytes of a file too large to cache that are checked for UTF-8. A text
/// whose first 16 KiB are UTF-8 is, in practice, UTF-8 throughout (legacy
/// pages show non-ASCII bytes within their first lines); a larger check
/// would cost a read of that size on every uncached request, as such a
/// file is not cached.
pub const UTF8_PREFIX: usize = 16 << 10;

/// Extensions whose mime_guess type is not what browsers expect: `.mjs`
/// and `.cjs` are JavaScript like `.js` (RFC 9239 makes `text/javascript`
/// the one JavaScript type); mime_guess says `application/javascript`.
const CORRECTIONS: [(&str, &str); 2] = [("mjs", "text/javascript"), ("cjs", "text/javascript")];

/// The type table of one folder: the user's overrides before the built-in one.
#[derive(Debug, Clone, Default)]
pub struct ContentTypes {
    /// `(extension in lower case, type)`.
    overrides: Vec<(String, String)>,
}

impl ContentTypes {
    /// The table with `--mime` overrides (checked when they were read).
    pub fn new(mime: &[MimeOverride]) -> ContentTypes {
        let overrides = mime.iter().map(|m| (m.extension().to_string(), m.media_type().to_string())).collect();
        ContentTypes { overrides }
    }

    /// The media type for a file name, from its extension.
    pub fn mime_of<'a>(&'a self, path: &Path) -> &'a str {
        let ext = path.extension().and_then(|e| e.to_str());
        if let Some(ext) = ext {
            let known = self.overrides.iter().map(|(e, t)| (e.as_str(), t.as_str()));
            if let Some((_, mime)) = known.chain(CORRECTIONS).find(|(e, _)| e.eq_ignore_ascii_case(ext)) {
                return mime;
            }
            return RECENT_GUESSES.with(|recent| recent.borrow_mut().guess(ext));
        }
        mime_guess::from_path(path).first_raw().unwrap_or(UNKNOWN_TYPE)
    }
}

/// The type of bytes whose extension says nothing.
const UNKNOWN_TYPE: &str = "application/octet-stream";

/// Longest extension whose guess is remembered (longer ones are rare and
/// asked of mime_guess each time).
const REMEMBERED_EXTENSION_BYTES: usize = 16;

/// Guesses remembered per thread.
const REMEMBERED_GUESSES: usize = 8;

thread_local! {
    /// Each worker's last guesses: mime_guess answers by a binary search of
    /// about 1,500 extensions with case-insensitive comparisons, about
    /// 1,100 instructions, an eighth of a whole cached-file request; a
    /// worker asks about the same few extensions over and over. Per thread,
    /// so no lock; an exact memo of a pure function, so nothing goes stale.
    static RECENT_GUESSES: std::cell::RefCell<RecentGuesses> = const { std::cell::RefCell::new(RecentGuesses::new()) };
}

/// A small round-robin memo of `extension (lower case) → mime_guess's type`.
struct RecentGuesses {
    slots: [([u8; REMEMBERED_EXTENSION_BYTES], u8, &'static str); REMEMBERED_GUESSES],
    used: usize,
    next: usize,
}

impl RecentGuesses {
    const fn new() -> RecentGuesses {
        RecentGuesses {
            slots: [([0; REMEMBERED_EXTENSION_BYTES], 0, UNKNOWN_TYPE); REMEMBERED_GUESSES],
            used: 0,
            next: 0,
        }
    }

    /// mime_guess's type for `ext`, remembered.
    fn guess(&mut self, ext: &str) -> &'static str {
        let fresh = || mime_guess::from_ext(ext).first_raw().unwrap_or(UNKNOWN_TYPE);
        if ext.len() > REMEMBERED_EXTENSION_BYTES {
            return fresh();
        }
        let mut key = [0; REMEMBERED_EXTENSION_BYTES];
        key[..ext.len()].copy_from_slice(ext.as_bytes());
        key.make_ascii_lowercase();
        let len = ext.len() as u8;
        if let Some((_, _, mime)) = self.slots[..self.used].iter().find(|(k, l, _)| *l == len && *k == key) {
            return mime;
        }
        let mime = fresh();
        self.slots[self.next] = (key, len, mime);
        self.next = (self.next + 1) % REMEMBERED_GUESSES;
        self.used = (self.used + 1).min(REMEMBERED_GUESSES);
        mime
    }
}

/// Types whose bytes are text in some charset, so that stating the charset
/// means something. JSON has no charset parameter (RFC 8259 §11: it is
/// UTF-8 by definition), and a type that already names one is left alone.
fn takes_charset(mime: &str) -> bool {
    let essence = mime.split(';').next().unwrap_or(mime).trim();
    !mime.contains("charset=")
        && (essence.starts_with("text/")
            || matches!(essence, "application/javascript" | "application/xml" | "image/svg+xml"))
}

/// The `Content-Type` value: `mime`, with `; charset=utf-8` when it is a
/// text type and the bytes are known to be UTF-8.
pub fn content_type(mime: &str, utf8: bool) -> Cow<'_, str> {
    if utf8 && takes_charset(mime) {
        Cow::Owned(format!("{mime}; charset=utf-8"))
    } else {
        Cow::Borrowed(mime)
    }
}

/// Whether a check of the bytes is worth doing for this type.
pub fn needs_utf8_check(mime: &str) -> bool {
    takes_charset(mime)
}

/// Whether `bytes` are UTF-8. When they are only the first bytes of a
/// longer file (`truncated`), a character cut off at the end of the
/// prefix does not count against them.
pub fn is_utf8(bytes: &[u8], truncated: bool) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(_) => true,
        // `error_len() == None`: the input ended inside a character.
        Err(e) => truncated && e.error_len().is_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_guesses_are_mime_guess_answers() {
        let mut recent = RecentGuesses::new();
        // More extensions than slots, in both cases, asked twice: every
        // answer, remembered or evicted and asked again, is mime_guess's.
        let exts = ["html", "CSS", "js", "png", "bin", "svg", "WOFF2", "json", "txt", "wasm", "Html", "nosuchext"];
        for _ in 0..2 {
            for ext in exts {
                let expected = mime_guess::from_ext(ext).first_raw().unwrap_or(UNKNOWN_TYPE);
                assert_eq!(recent.guess(ext), expected, "{ext}");
            }
        }
        let long = "a".repeat(REMEMBERED_EXTENSION_BYTES + 1);
        assert_eq!(recent.guess(&long), UNKNOWN_TYPE);
        assert_eq!(ContentTypes::default().mime_of(Path::new("a/b.CSS")), "text/css");
    }

    #[test]
    fn types_come_from_overrides_corrections_then_the_table() {
        let types = ContentTypes::new(&["md=text/markdown".parse().unwrap(), ".LOG=text/plain".parse().unwrap()]);
        let cases = [
            ("a.js", "text/javascript"),
            ("a.mjs", "text/javascript"),
            ("a.MJS", "text/javascript"),
            ("a.md", "text/markdown"),
            ("a.log", "text/plain"),
            ("a.png", "image/png"),
            ("no-extension", "application/octet-stream"),
            ("a.unknownext", "application/octet-stream"),
        ];
        for (path, mime) in cases {
            assert_eq!(types.mime_of(Path::new(path)), mime, "{path}");
        }
    }

    #[test]
    fn bad_overrides_are_refused() {
        // Refused when read, so a `ContentTypes` never holds one.
        for (ext, mime) in [("", "text/plain"), ("a.b", "text/plain"), ("x", "plain"), ("x", "text/a\r\nb: c")] {
            assert!(MimeOverride::new(ext, mime).is_err(), "{ext}={mime}");
        }
    }

    #[test]
    fn charset_only_for_utf8_text() {
        assert_eq!(content_type("text/html", true), "text/html; charset=utf-8");
        assert_eq!(content_type("text/html", false), "text/html");
        assert_eq!(content_type("text/javascript", true), "text/javascript; charset=utf-8");
        assert_eq!(content_type("image/svg+xml", true), "image/svg+xml; charset=utf-8");
        assert_eq!(content_type("application/json", true), "application/json");
        assert_eq!(content_type("image/png", true), "image/png");
        assert_eq!(content_type("text/plain; charset=latin1", true), "text/plain; charset=latin1");
    }

    #[test]
    fn utf8_checks_forgive_only_a_character_cut_at_the_prefix_end() {
        let e_acute = "é".as_bytes(); // C3 A9
        assert!(is_utf8(b"plain ascii", false));
        assert!(is_utf8("caf\u{e9}".as_bytes(), false));
        assert!(!is_utf8(b"caf\xe9", false), "ISO-8859-1 é");
        assert!(!is_utf8(b"caf\xe9 au lait", true), "an invalid byte is invalid in a prefix too");
        assert!(is_utf8(b"caf\xe9", true), "a lead byte at the very end may begin a character");
        assert!(!is_utf8(&e_acute[..1], false), "a whole file cannot end inside a character");
        assert!(is_utf8(&e_acute[..1], true), "a prefix may");
        assert!(is_utf8(&"€".as_bytes()[..2], true));
        assert!(!is_utf8(b"\xc3\x28", true), "a bad continuation byte");
        assert!(is_utf8(b"", false));
    }
}
