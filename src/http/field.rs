//! Header fields: the rules a field from outside the crate must follow
//! (a name is a token and not one the server sets itself, a value holds no
//! control character, RFC 9110 §5), the error that says which one was
//! broken, [`StaticField`] for constants checked once at compile time, and
//! the one function that writes a `Name: value` line. Building responses
//! with these is `response`'s business.

use std::fmt;

/// Why [`Response::with_header`] (or a constructor taking a header value)
/// refused a field. Nothing of a refused field reaches the wire.
///
/// [`Response::with_header`]: super::response::Response::with_header
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// The name is empty or has a character outside the token set
    /// (letters, digits and ``!#$%&'*+-.^_`|~``), e.g. a space or a colon.
    Name(String),
    /// The value contains a control character: CR, LF, NUL or another
    /// below 0x20 except tab, or DEL.
    Value(String),
    /// The server writes this field itself (framing, persistence, `Date`).
    Reserved(String),
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::Name(name) => write!(f, "invalid header name {name:?}: not a token"),
            HeaderError::Value(value) => write!(f, "invalid header value {value:?}: contains a control character"),
            HeaderError::Reserved(name) => write!(f, "header {name:?} is set by the server"),
        }
    }
}

impl std::error::Error for HeaderError {}

/// Fields whose value the server decides; a second copy from a handler
/// would contradict the framing (`Content-Length` vs. the real body is a
/// response-smuggling vector) or the connection's persistence decision.
const RESERVED: [&str; 6] =
    ["content-length", "transfer-encoding", "connection", "date", "server", "x-content-type-options"];

/// A field name must be a token (RFC 9110 §5.1, §5.6.2) and not reserved.
pub(crate) fn check_name(name: &str) -> Result<(), HeaderError> {
    if !is_token(name.as_bytes()) {
        return Err(HeaderError::Name(name.to_string()));
    }
    if is_reserved(name.as_bytes()) {
        return Err(HeaderError::Reserved(name.to_string()));
    }
    Ok(())
}

/// A field value may hold visible characters, spaces, tabs and non-ASCII
/// text (RFC 9110 §5.5), never a control character: CR and LF would end the
/// line, NUL is refused by many recipients.
pub(crate) fn check_value(value: &str) -> Result<(), HeaderError> {
    if !is_field_value(value.as_bytes()) {
        return Err(HeaderError::Value(value.to_string()));
    }
    Ok(())
}

// The rules themselves, as `const fn`s so that `StaticField::new` applies
// the very same ones at compile time (hence loops, not iterators).

/// Non-empty, and every byte a tchar: letters, digits, ``!#$%&'*+-.^_`|~``.
const fn is_token(name: &[u8]) -> bool {
    let mut i = 0;
    while i < name.len() {
        let b = name[i];
        let tchar = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
            );
        if !tchar {
            return false;
        }
        i += 1;
    }
    !name.is_empty()
}

/// One of [`RESERVED`], in any case.
const fn is_reserved(name: &[u8]) -> bool {
    let mut i = 0;
    while i < RESERVED.len() {
        if eq_ignore_case(name, RESERVED[i].as_bytes()) {
            return true;
        }
        i += 1;
    }
    false
}

/// No control character but tab: nothing below 0x20, no DEL.
const fn is_field_value(value: &[u8]) -> bool {
    let mut i = 0;
    while i < value.len() {
        let b = value[i];
        if (b < 0x20 && b != b'\t') || b == 0x7f {
            return false;
        }
        i += 1;
    }
    true
}

/// ASCII case-insensitive equality (`eq_ignore_ascii_case` is not const).
const fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if !a[i].eq_ignore_ascii_case(&b[i]) {
            return false;
        }
        i += 1;
    }
    true
}

/// A header field whose name and value are constants, for
/// [`Response::with_field`]. [`StaticField::new`] checks it as
/// [`Response::with_header`] checks its arguments, and is a `const fn`: in
/// a `const` an invalid field is a compile error, and a response adds it
/// without checking or copying anything (per request, `with_header` costs
/// a check of every byte and two allocations: ~870 instructions measured
/// on `/hello`, a fifth of the whole request).
///
/// [`Response::with_field`]: super::response::Response::with_field
/// [`Response::with_header`]: super::response::Response::with_header
#[derive(Debug, Clone, Copy)]
pub struct StaticField {
    name: &'static str,
    value: &'static str,
    /// Replaces the constructor's `Content-Type` (decided here, once).
    is_content_type: bool,
}

impl StaticField {
    /// The field `name: value`.
    ///
    /// # Panics
    ///
    /// Where [`Response::with_header`] would refuse the field (at compile
    /// time when called in a `const`):
    ///
    /// ```compile_fail
    /// const BAD: rawserve::StaticField = rawserve::StaticField::new("X-Note", "a\r\nSet-Cookie: x");
    /// let response = rawserve::Response::text("x").with_field(BAD);
    /// ```
    ///
    /// [`Response::with_header`]: super::response::Response::with_header
    pub const fn new(name: &'static str, value: &'static str) -> StaticField {
        assert!(is_token(name.as_bytes()), "a header field name must be a token");
        assert!(!is_reserved(name.as_bytes()), "this header field is set by the server");
        assert!(is_field_value(value.as_bytes()), "a header field value must not contain control characters");
        StaticField { name, value, is_content_type: eq_ignore_case(name.as_bytes(), b"content-type") }
    }

    /// For `Response::with_field`.
    pub(crate) fn name(&self) -> &'static str {
        self.name
    }

    pub(crate) fn value(&self) -> &'static str {
        self.value
    }

    pub(crate) fn is_content_type(&self) -> bool {
        self.is_content_type
    }
}

/// One `Name: value` line.
pub fn write_field(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_fields_follow_the_same_rules_as_run_time_fields() {
        // The cases of `response`'s table for `with_header`, by both paths.
        let cases: &[(&'static str, &'static str, bool)] = &[
            ("X-Id", "42", true),
            ("x-odd!#$%&'*+-.^_`|~9", "v", true),
            ("X-Tab", "a\tb", true),
            ("X-Unicode", "caf\u{e9}", true),
            ("", "v", false),
            ("X Id", "v", false),
            ("X-Id:", "v", false),
            ("X-\u{e9}", "v", false),
            ("X-Note", "a\r\nSet-Cookie: stolen", false),
            ("X-Note", "a\0b", false),
            ("X-Note", "del\x7f", false),
            ("content-LENGTH", "0", false),
            ("Connection", "close", false),
        ];
        for &(name, value, valid) in cases {
            // What `StaticField::new` asserts.
            let rules = is_token(name.as_bytes()) && !is_reserved(name.as_bytes()) && is_field_value(value.as_bytes());
            assert_eq!(rules, valid, "{name:?}: {value:?}");
            let checked = check_name(name).and_then(|()| check_value(value));
            assert_eq!(checked.is_ok(), valid, "the run-time checks agree on {name:?}: {value:?}");
        }
    }

    #[test]
    #[should_panic(expected = "control characters")]
    fn a_static_field_that_would_split_the_head_is_refused() {
        let _ = StaticField::new("X-Note", "a\r\nSet-Cookie: x");
    }
}
