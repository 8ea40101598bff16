//! Conditional requests (RFC 9110 §13): evaluating `If-Match`,
//! `If-Unmodified-Since`, `If-None-Match` and `If-Modified-Since` in the
//! order of §13.2.2, and deciding whether `If-Range` lets a `Range` apply.
//!
//! Everything here is pure and works on raw header values. Computing the
//! ETag and Last-Modified of a file, deciding that the resource exists
//! (preconditions are evaluated only when the response would otherwise be
//! 2xx), parsing `Range` (see `range`) and writing 304/412 responses are left
//! to the caller.

use std::time::{SystemTime, UNIX_EPOCH};

/// The literal that matches any current representation.
const ANY: &str = "*";

/// Prefix of a weak entity-tag; case-sensitive (RFC 9110 §8.8.3).
const WEAK_PREFIX: &[u8] = b"W/";

/// What the server knows about the selected representation.
pub struct Validators<'a> {
    /// Strong, quoted, e.g. `"abc"` (with the quotes); `None` when the
    /// representation has none (then only `*` matches it).
    pub etag: Option<&'a str>,
    /// `None` when there is no modification date to compare with: the
    /// date conditions are then ignored (RFC 9110 §13.1.3, §13.1.4).
    pub last_modified: Option<SystemTime>,
}

/// The raw values of the conditional request header fields, if present.
pub struct Conditions<'a> {
    pub if_match: Option<&'a str>,
    pub if_none_match: Option<&'a str>,
    pub if_modified_since: Option<&'a str>,
    pub if_unmodified_since: Option<&'a str>,
    /// Not used by [`evaluate`]; see [`if_range_allows`].
    pub if_range: Option<&'a str>,
}

/// The outcome of evaluating the preconditions.
#[derive(Debug, PartialEq, Eq)]
pub enum Precondition {
    /// proceed normally (200/206)
    Proceed,
    /// 304 Not Modified (GET/HEAD)
    NotModified,
    /// 412 Precondition Failed
    Failed,
}

/// Evaluates the preconditions in the order of RFC 9110 §13.2.2, steps 1–4.
///
/// Deviation kept deliberately simple: RFC 2616's rule that an
/// `If-Modified-Since` later than the server's clock is invalid is not
/// applied (RFC 9110 dropped it, and this function has no clock).
pub fn evaluate(c: &Conditions, v: &Validators, is_get_or_head: bool) -> Precondition {
    // Only a date condition needs it (most requests have none).
    let modified = || v.last_modified.map(unix_seconds);

    // Step 1 and 2: If-Match, or else If-Unmodified-Since.
    if let Some(if_match) = c.if_match {
        if !matches_any(if_match, v.etag, strong_eq) {
            return Precondition::Failed;
        }
    } else if let (Some(date), Some(modified)) = (c.if_unmodified_since.and_then(parse_date), modified()) {
        if modified > date {
            return Precondition::Failed;
        }
    }

    // Step 3 and 4: If-None-Match, or else If-Modified-Since. An
    // If-None-Match that matches nothing skips If-Modified-Since entirely
    // (the entity-tag is the more precise validator).
    let not_modified = if let Some(if_none_match) = c.if_none_match {
        matches_any(if_none_match, v.etag, weak_eq)
    } else if is_get_or_head {
        c.if_modified_since.and_then(parse_date).is_some_and(|date| modified().is_some_and(|m| m <= date))
    } else {
        false
    };

    match (not_modified, is_get_or_head) {
        (false, _) => Precondition::Proceed,
        (true, true) => Precondition::NotModified,
        (true, false) => Precondition::Failed,
    }
}

/// Whether a `Range` header may be honoured given `If-Range` (yes when there
/// is none). An entity-tag must match strongly (weak tags never match); an
/// HTTP-date must equal Last-Modified exactly.
///
/// An unparseable If-Range is treated as not matching: the Range is ignored
/// and the whole representation is sent, which is always correct. Checking
/// that Last-Modified is itself a strong validator (RFC 9110 §8.8.2.2, at
/// least a second older than the response date) is left to the caller.
pub fn if_range_allows(if_range: Option<&str>, v: &Validators) -> bool {
    let Some(value) = if_range.map(trim_ows) else {
        return true;
    };
    if value.starts_with('"') || value.as_bytes().starts_with(WEAK_PREFIX) {
        let ours = v.etag.and_then(|etag| parse_entity_tag(etag.trim().as_bytes()));
        return match (parse_entity_tag(value.as_bytes()), ours) {
            (Some((tag, rest)), Some((ours, _))) => trim_ows_bytes(rest).is_empty() && strong_eq(tag, ours),
            _ => false,
        };
    }
    v.last_modified.is_some_and(|m| parse_date(value) == Some(unix_seconds(m)))
}

/// An entity-tag: whether it is weak, and its opaque-tag without quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EntityTag<'a> {
    weak: bool,
    opaque: &'a [u8],
}

/// Strong comparison (RFC 9110 §8.8.3.2): both strong and identical.
fn strong_eq(a: EntityTag, b: EntityTag) -> bool {
    !a.weak && !b.weak && a.opaque == b.opaque
}

/// Weak comparison: identical opaque-tags, weakness ignored.
fn weak_eq(a: EntityTag, b: EntityTag) -> bool {
    a.opaque == b.opaque
}

/// Whether `field` (`*` or a list of entity-tags) matches `etag` under `eq`.
/// A server ETag that does not parse matches only `*`.
fn matches_any(field: &str, etag: Option<&str>, eq: fn(EntityTag, EntityTag) -> bool) -> bool {
    let field = trim_ows(field);
    if field == ANY {
        // `*` matches any current representation, and the caller only asks
        // when one exists.
        return true;
    }
    let Some((ours, _)) = etag.and_then(|etag| parse_entity_tag(etag.trim().as_bytes())) else {
        return false;
    };
    EntityTags { rest: field.as_bytes() }.any(|tag| eq(tag, ours))
}

/// Parses one entity-tag at the start of `s`; returns it and what follows.
/// etagc is `%x21 / %x23-7E / obs-text`: anything visible but `"`, so commas
/// may appear inside the quotes and a list cannot simply be split on ','.
fn parse_entity_tag(s: &[u8]) -> Option<(EntityTag<'_>, &[u8])> {
    let (weak, s) = match s.strip_prefix(WEAK_PREFIX) {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let body = s.strip_prefix(b"\"")?;
    let close = body.iter().position(|&b| b == b'"')?;
    let opaque = &body[..close];
    if !opaque.iter().all(|&b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80) {
        return None;
    }
    Some((EntityTag { weak, opaque }, &body[close + 1..]))
}

/// Iterates over the well-formed entity-tags of a list, skipping garbage
/// elements (up to the next comma) instead of failing the whole field.
struct EntityTags<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for EntityTags<'a> {
    type Item = EntityTag<'a>;

    fn next(&mut self) -> Option<EntityTag<'a>> {
        loop {
            // Skip separators and empty list elements.
            let start = self.rest.iter().position(|&b| !matches!(b, b' ' | b'\t' | b','))?;
            self.rest = &self.rest[start..];
            if let Some((tag, after)) = parse_entity_tag(self.rest) {
                let after = trim_ows_bytes(after);
                if after.is_empty() || after[0] == b',' {
                    self.rest = after;
                    return Some(tag);
                }
            }
            // Garbage: drop this element and resume after the next comma.
            let comma = self.rest.iter().position(|&b| b == b',').unwrap_or(self.rest.len());
            self.rest = &self.rest[comma..];
        }
    }
}

/// A valid HTTP-date (any of the three formats) as whole Unix seconds.
fn parse_date(s: &str) -> Option<u64> {
    httpdate::parse_http_date(trim_ows(s)).ok().map(unix_seconds)
}

/// Whole seconds since the epoch: HTTP-dates have one-second resolution, so
/// sub-second parts of a file's mtime must not make it look newer. Times
/// before the epoch (which no HTTP-date can express) count as the epoch.
fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

use super::syntax::{trim_ows, trim_ows_bytes};

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const ETAG: &str = "\"abc\"";
    /// Sun, 06 Nov 1994 08:49:37 GMT, plus 0.5 s that HTTP-dates cannot carry.
    const MTIME_SECS: u64 = 784_111_777;
    const AT: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
    const BEFORE: &str = "Sun, 06 Nov 1994 08:49:36 GMT";
    const AFTER: &str = "Sun, 06 Nov 1994 08:49:38 GMT";
    const BAD_DATE: &str = "yesterday";

    fn validators() -> Validators<'static> {
        Validators {
            etag: Some(ETAG),
            last_modified: Some(UNIX_EPOCH + Duration::from_millis(MTIME_SECS * 1000 + 500)),
        }
    }
    fn none() -> Conditions<'static> {
        Conditions {
            if_match: None,
            if_none_match: None,
            if_modified_since: None,
            if_unmodified_since: None,
            if_range: None,
        }
    }
    fn get(c: Conditions, expected: Precondition) {
        assert_eq!(evaluate(&c, &validators(), true), expected);
    }
    fn put(c: Conditions, expected: Precondition) {
        assert_eq!(evaluate(&c, &validators(), false), expected);
    }
    fn im(v: &'static str) -> Conditions<'static> {
        Conditions { if_match: Some(v), ..none() }
    }
    fn inm(v: &'static str) -> Conditions<'static> {
        Conditions { if_none_match: Some(v), ..none() }
    }
    fn ims(v: &'static str) -> Conditions<'static> {
        Conditions { if_modified_since: Some(v), ..none() }
    }
    fn ius(v: &'static str) -> Conditions<'static> {
        Conditions { if_unmodified_since: Some(v), ..none() }
    }
    fn range_ok(if_range: Option<&str>, expected: bool) {
        assert_eq!(if_range_allows(if_range, &validators()), expected, "{if_range:?}");
    }

    #[test]
    fn no_conditions() {
        get(none(), Precondition::Proceed);
        put(none(), Precondition::Proceed);
    }

    #[test]
    fn if_match() {
        get(im("*"), Precondition::Proceed);
        get(im(" * "), Precondition::Proceed);
        get(im("\"abc\""), Precondition::Proceed);
        get(im("\"x\", \"abc\""), Precondition::Proceed);
        get(im("\"x\",\"abc\" , \"y\""), Precondition::Proceed);
        get(im("\"x\""), Precondition::Failed);
        get(im("W/\"abc\""), Precondition::Failed);
        get(im("\"ABC\""), Precondition::Failed);
        get(im("abc"), Precondition::Failed);
        get(im(""), Precondition::Failed);
        get(im("garbage, \"abc\""), Precondition::Proceed);
        get(im("\"abc"), Precondition::Failed);
        get(im("w/\"abc\""), Precondition::Failed);
        put(im("\"abc\""), Precondition::Proceed);
        put(im("\"x\""), Precondition::Failed);
    }

    #[test]
    fn if_unmodified_since() {
        get(ius(AT), Precondition::Proceed);
        get(ius(AFTER), Precondition::Proceed);
        get(ius(BEFORE), Precondition::Failed);
        put(ius(BEFORE), Precondition::Failed);
        get(ius(BAD_DATE), Precondition::Proceed);
        get(ius(""), Precondition::Proceed);
        // Other HTTP-date formats are accepted too.
        get(ius("Sunday, 06-Nov-94 08:49:36 GMT"), Precondition::Failed);
        get(ius("Sun Nov  6 08:49:36 1994"), Precondition::Failed);
    }

    #[test]
    fn if_none_match() {
        get(inm("*"), Precondition::NotModified);
        get(inm("\"abc\""), Precondition::NotModified);
        get(inm("W/\"abc\""), Precondition::NotModified);
        get(inm("\"x\", W/\"abc\""), Precondition::NotModified);
        get(inm("\"x\""), Precondition::Proceed);
        get(inm("\"x\", \"y\""), Precondition::Proceed);
        get(inm(""), Precondition::Proceed);
        get(inm("abc"), Precondition::Proceed);
        put(inm("*"), Precondition::Failed);
        put(inm("\"abc\""), Precondition::Failed);
        put(inm("\"x\""), Precondition::Proceed);
    }

    #[test]
    fn if_modified_since() {
        get(ims(AT), Precondition::NotModified);
        get(ims(AFTER), Precondition::NotModified);
        get(ims(BEFORE), Precondition::Proceed);
        get(ims(BAD_DATE), Precondition::Proceed);
        get(ims(""), Precondition::Proceed);
        get(ims(" Sun, 06 Nov 1994 08:49:37 GMT "), Precondition::NotModified);
        // Wrong weekday: not a valid HTTP-date, ignored.
        get(ims("Mon, 06 Nov 1994 08:49:37 GMT"), Precondition::Proceed);
        // Two dates: not a single HTTP-date, ignored.
        get(ims("Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT"), Precondition::Proceed);
        // Only for GET and HEAD.
        put(ims(AT), Precondition::Proceed);
    }

    #[test]
    fn precedence() {
        // If-Match failure beats everything.
        get(Conditions { if_match: Some("\"x\""), if_none_match: Some("\"x\""), ..none() }, Precondition::Failed);
        get(Conditions { if_match: Some("\"x\""), if_modified_since: Some(AT), ..none() }, Precondition::Failed);
        // If-Match passing makes If-Unmodified-Since irrelevant.
        get(
            Conditions { if_match: Some("\"abc\""), if_unmodified_since: Some(BEFORE), ..none() },
            Precondition::Proceed,
        );
        // If-Unmodified-Since failure beats If-None-Match.
        get(
            Conditions { if_unmodified_since: Some(BEFORE), if_none_match: Some("\"abc\""), ..none() },
            Precondition::Failed,
        );
        // Invalid If-Unmodified-Since is ignored; evaluation goes on.
        get(
            Conditions { if_unmodified_since: Some(BAD_DATE), if_none_match: Some("\"abc\""), ..none() },
            Precondition::NotModified,
        );
        // If-None-Match beats If-Modified-Since, both ways.
        get(Conditions { if_none_match: Some("\"x\""), if_modified_since: Some(AT), ..none() }, Precondition::Proceed);
        get(
            Conditions { if_none_match: Some("\"abc\""), if_modified_since: Some(BEFORE), ..none() },
            Precondition::NotModified,
        );
        // If-Match passes, then If-None-Match decides.
        get(Conditions { if_match: Some("*"), if_none_match: Some("*"), ..none() }, Precondition::NotModified);
        // If-Range plays no part here.
        get(Conditions { if_range: Some("\"x\""), ..none() }, Precondition::Proceed);
    }

    #[test]
    fn entity_tag_lists() {
        let tags = |s: &'static str| EntityTags { rest: s.as_bytes() }.collect::<Vec<_>>();
        let strong = |o: &'static str| EntityTag { weak: false, opaque: o.as_bytes() };
        let weak = |o: &'static str| EntityTag { weak: true, opaque: o.as_bytes() };
        assert_eq!(tags("\"a\", W/\"b\" ,\"c\""), [strong("a"), weak("b"), strong("c")]);
        assert_eq!(tags("\"a,b\", \"c\""), [strong("a,b"), strong("c")]);
        assert_eq!(tags("\"\""), [strong("")]);
        assert_eq!(tags(",,, \"a\" ,,,"), [strong("a")]);
        assert_eq!(tags("junk, \"a\"x, \"b\", W/, W/\"c"), [strong("b")]);
        assert_eq!(tags("\"a b\", \"c\""), [strong("c")]);
        assert_eq!(tags("\"\u{e9}\""), [strong("\u{e9}")]);
        assert!(tags("").is_empty());
        assert!(tags("\"").is_empty());
        assert!(tags("W/").is_empty());
        assert!(tags(",,,,").is_empty());
    }

    #[test]
    fn server_etag_that_does_not_parse_matches_only_star() {
        let v = Validators { etag: Some("abc"), last_modified: Some(UNIX_EPOCH) };
        assert_eq!(evaluate(&im("\"abc\""), &v, true), Precondition::Failed);
        assert_eq!(evaluate(&im("*"), &v, true), Precondition::Proceed);
        assert_eq!(evaluate(&inm("abc"), &v, true), Precondition::Proceed);
    }

    #[test]
    fn without_validators_nothing_is_confirmed() {
        let v = Validators { etag: None, last_modified: None };
        assert_eq!(evaluate(&inm(ETAG), &v, true), Precondition::Proceed);
        assert_eq!(evaluate(&inm("*"), &v, true), Precondition::NotModified);
        assert_eq!(evaluate(&ims(AT), &v, true), Precondition::Proceed);
        assert_eq!(evaluate(&im(ETAG), &v, true), Precondition::Failed);
        assert_eq!(evaluate(&im("*"), &v, true), Precondition::Proceed);
        assert!(!if_range_allows(Some(ETAG), &v));
        assert!(!if_range_allows(Some(AT), &v));
    }

    #[test]
    fn pre_epoch_mtime_does_not_panic() {
        let v = Validators { etag: Some(ETAG), last_modified: Some(UNIX_EPOCH - Duration::from_secs(86_400)) };
        assert_eq!(evaluate(&ims("Thu, 01 Jan 1970 00:00:00 GMT"), &v, true), Precondition::NotModified);
    }

    #[test]
    fn if_range() {
        range_ok(None, true);
        range_ok(Some("\"abc\""), true);
        range_ok(Some(" \"abc\" "), true);
        range_ok(Some("\"x\""), false);
        range_ok(Some("W/\"abc\""), false);
        range_ok(Some("\"abc\", \"x\""), false);
        range_ok(Some("\"abc"), false);
        range_ok(Some(AT), true);
        range_ok(Some(BEFORE), false);
        range_ok(Some(AFTER), false);
        range_ok(Some(BAD_DATE), false);
        range_ok(Some(""), false);
        range_ok(Some("*"), false);
    }
}
