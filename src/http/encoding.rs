//! Content-coding negotiation (RFC 9110 §12.5.3) for precompressed
//! siblings: given `Accept-Encoding` and which of `file.br` / `file.gz`
//! exist, choose what to send.
//!
//! Only the choice is made here. Looking for the sibling files, checking they
//! are not older than the original, setting `Content-Encoding` and
//! `Vary: Accept-Encoding`, and compressing anything on the fly (never done)
//! are left to the caller.

/// The largest weight, in thousandths (q=1).
const Q_MAX: u16 = 1000;

/// The weight given to identity when the header neither lists it nor has
/// `*`: acceptable (RFC 9110 §12.5.3), but only as a last resort, so any
/// coding the client did list with a positive weight is preferred.
const Q_IMPLICIT_IDENTITY: u16 = 1;

/// At most this many digits after the point in a qvalue (RFC 9110 §12.4.2).
const Q_MAX_DECIMALS: usize = 3;

/// A representation we can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Brotli,
    Gzip,
    Identity,
}

impl Coding {
    /// The suffix of the precompressed sibling: ".br", ".gz", or "".
    pub fn extension(self) -> &'static str {
        match self {
            Coding::Brotli => ".br",
            Coding::Gzip => ".gz",
            Coding::Identity => "",
        }
    }

    /// The content-coding token: "br", "gzip" or "identity".
    pub fn token(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Gzip => "gzip",
            Coding::Identity => "identity",
        }
    }
}

/// Picks the representation to send, given `Accept-Encoding` and which
/// siblings exist. The highest weight wins; ties prefer br, then gzip, then
/// identity. q=0 excludes; `*` covers codings not listed; `x-gzip` is gzip;
/// tokens are case-insensitive; no header means identity; an entry with a
/// malformed weight is ignored.
///
/// Further choices: when a coding is listed twice, its first entry counts;
/// parameters other than `q` are ignored; an entry whose token is not a valid
/// token is ignored; when every candidate is excluded, Identity is returned
/// anyway (RFC 9110 §12.5.3 lets a server disregard the header rather than
/// answer 406).
pub fn negotiate(accept_encoding: Option<&str>, have_br: bool, have_gz: bool) -> Coding {
    let Some(header) = accept_encoding else {
        return Coding::Identity;
    };
    let weights = Weights::parse(header);

    // Candidates in tie-break order: a later one must be strictly better.
    let candidates = [(Coding::Brotli, have_br), (Coding::Gzip, have_gz), (Coding::Identity, true)];
    let mut best: Option<(Coding, u16)> = None;
    for (coding, available) in candidates {
        if !available {
            continue;
        }
        let q = weights.of(coding);
        if q > 0 && best.is_none_or(|(_, best_q)| q > best_q) {
            best = Some((coding, q));
        }
    }
    best.map_or(Coding::Identity, |(coding, _)| coding)
}

/// The weights stated by one Accept-Encoding header, in thousandths.
#[derive(Debug, Default)]
struct Weights {
    br: Option<u16>,
    gzip: Option<u16>,
    identity: Option<u16>,
    any: Option<u16>,
}

impl Weights {
    fn parse(header: &str) -> Weights {
        let mut w = Weights::default();
        for (token, q) in header.split(',').filter_map(parse_entry) {
            let slot = if token.eq_ignore_ascii_case("br") {
                &mut w.br
            } else if token.eq_ignore_ascii_case("gzip") || token.eq_ignore_ascii_case("x-gzip") {
                &mut w.gzip
            } else if token.eq_ignore_ascii_case("identity") {
                &mut w.identity
            } else if token == "*" {
                &mut w.any
            } else {
                continue;
            };
            slot.get_or_insert(q);
        }
        w
    }

    /// The weight of `coding`: its own entry, else `*`, else (identity only)
    /// the implicit last-resort weight.
    fn of(&self, coding: Coding) -> u16 {
        let listed = match coding {
            Coding::Brotli => self.br,
            Coding::Gzip => self.gzip,
            Coding::Identity => self.identity,
        };
        match (listed.or(self.any), coding) {
            (Some(q), _) => q,
            (None, Coding::Identity) => Q_IMPLICIT_IDENTITY,
            (None, _) => 0,
        }
    }
}

/// One list element: `token *( OWS ";" OWS param )`. Returns the token and
/// its weight, or `None` for an empty or malformed element.
fn parse_entry(entry: &str) -> Option<(&str, u16)> {
    let mut parts = entry.split(';');
    let token = trim_ows(parts.next()?);
    if token.is_empty() || !token.bytes().all(is_tchar) {
        return None;
    }
    let mut q = Q_MAX;
    for param in parts {
        let (name, value) = trim_ows(param).split_once('=')?;
        // No whitespace around '=' in a parameter (RFC 9110 §5.6.6).
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return None;
        }
        if name.eq_ignore_ascii_case("q") {
            q = parse_qvalue(value)?;
        }
    }
    Some((token, q))
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in
/// thousandths. No whitespace, sign or exponent.
fn parse_qvalue(s: &str) -> Option<u16> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > Q_MAX_DECIMALS || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Pad to exactly three digits: "5" is 500 thousandths.
    let thousandths = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(Q_MAX_DECIMALS)
        .fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'));
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(Q_MAX),
        _ => None,
    }
}

/// tchar (RFC 9110 §5.6.2).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

use super::syntax::trim_ows;

#[cfg(test)]
mod tests {
    use super::*;
    use Coding::{Brotli, Gzip, Identity};

    fn both(header: &str, expected: Coding) {
        assert_eq!(negotiate(Some(header), true, true), expected, "{header:?} with br and gz");
    }
    fn gz_only(header: &str, expected: Coding) {
        assert_eq!(negotiate(Some(header), false, true), expected, "{header:?} with gz only");
    }
    fn br_only(header: &str, expected: Coding) {
        assert_eq!(negotiate(Some(header), true, false), expected, "{header:?} with br only");
    }
    fn neither(header: &str, expected: Coding) {
        assert_eq!(negotiate(Some(header), false, false), expected, "{header:?} without siblings");
    }
    fn q(s: &str, expected: Option<u16>) {
        assert_eq!(parse_qvalue(s), expected, "{s:?}");
    }

    #[test]
    fn no_header() {
        assert_eq!(negotiate(None, true, true), Identity);
        assert_eq!(negotiate(None, false, false), Identity);
    }

    #[test]
    fn browsers() {
        both("gzip, deflate, br", Brotli);
        both("gzip, deflate, br, zstd", Brotli);
        gz_only("gzip, deflate, br", Gzip);
        br_only("gzip, deflate, br", Brotli);
        neither("gzip, deflate, br", Identity);
        both("gzip, deflate", Gzip);
        both("deflate", Identity);
        both("", Identity);
    }

    #[test]
    fn weights() {
        both("br;q=0.5, gzip;q=0.8", Gzip);
        both("br;q=0.8, gzip;q=0.5", Brotli);
        both("br;q=0.5, gzip;q=0.5", Brotli);
        both("gzip;q=1.0, br;q=0.999", Gzip);
        both("br;q=0.001, identity;q=0.002", Identity);
        both("br;q=0.1", Brotli);
        both("gzip;q=0.5, identity;q=0.5", Gzip);
        both("identity;q=1, gzip;q=0.9", Identity);
        both("identity, gzip", Gzip);
    }

    #[test]
    fn exclusions() {
        both("br;q=0, gzip", Gzip);
        both("br;q=0, gzip;q=0", Identity);
        both("br;q=0.000, gzip;q=0", Identity);
        gz_only("gzip;q=0", Identity);
        both("identity;q=0", Identity);
        gz_only("identity;q=0, gzip", Gzip);
        // Nothing acceptable: the header is disregarded rather than 406.
        neither("identity;q=0", Identity);
        neither("*;q=0", Identity);
    }

    #[test]
    fn wildcard() {
        both("*", Brotli);
        gz_only("*", Gzip);
        neither("*", Identity);
        both("*;q=0.5, gzip", Gzip);
        both("br, *;q=0", Brotli);
        gz_only("br, *;q=0", Identity);
        gz_only("*;q=0, identity", Identity);
        both("*;q=0.1, identity;q=0.5", Identity);
        both("gzip;q=0.2, *;q=0.3", Brotli);
    }

    #[test]
    fn aliases_and_case() {
        gz_only("x-gzip", Gzip);
        gz_only("X-GZIP;Q=0.5", Gzip);
        both("GZIP, BR", Brotli);
        both("Br;q=0, GZip", Gzip);
        both("IDENTITY;q=0, x-gzip;q=0, BR", Brotli);
        // First entry for a coding wins, aliases included.
        both("gzip;q=0.9, x-gzip;q=0.1, br;q=0.5", Gzip);
        both("br;q=0, br, gzip", Gzip);
    }

    #[test]
    fn whitespace_and_empty_elements() {
        both("  gzip ;  q=0.5 ,\tbr ; q=0.4 ", Gzip);
        both(",,, gzip ,,,", Gzip);
        both(" , ", Identity);
    }

    #[test]
    fn malformed_entries_are_ignored() {
        both("br;q=2, gzip", Gzip);
        both("br;q=1.5, gzip", Gzip);
        both("br;q=-1, gzip", Gzip);
        both("br;q=.5, gzip;q=0.1", Gzip);
        both("br;q=0.5000, gzip;q=0.1", Gzip);
        both("br;q = 0.5, gzip;q=0.1", Gzip);
        both("br;q=, gzip;q=0.1", Gzip);
        both("br;q, gzip;q=0.1", Gzip);
        both("br;q=0x1, gzip;q=0.1", Gzip);
        both("b r, gzip;q=0.1", Gzip);
        both("br\u{0}, gzip;q=0.1", Gzip);
        both("gz\u{e9}ip", Identity);
        both(";q=1", Identity);
        // A malformed exclusion is ignored too, so identity is still fine.
        both("identity;q=zero", Identity);
        // Unknown parameters are ignored.
        both("br;level=5, gzip;q=0.1", Brotli);
    }

    #[test]
    fn qvalues() {
        q("0", Some(0));
        q("0.", Some(0));
        q("0.5", Some(500));
        q("0.05", Some(50));
        q("0.123", Some(123));
        q("1", Some(Q_MAX));
        q("1.", Some(Q_MAX));
        q("1.000", Some(Q_MAX));
        q("1.001", None);
        q("0.1234", None);
        q("2", None);
        q("", None);
        q(".5", None);
        q("00.5", None);
        q("0.5 ", None);
        q("+0.5", None);
        q("1e0", None);
    }

    #[test]
    fn extensions_and_tokens() {
        assert_eq!(Brotli.extension(), ".br");
        assert_eq!(Gzip.extension(), ".gz");
        assert_eq!(Identity.extension(), "");
        assert_eq!(Brotli.token(), "br");
        assert_eq!(Gzip.token(), "gzip");
        assert_eq!(Identity.token(), "identity");
    }
}
