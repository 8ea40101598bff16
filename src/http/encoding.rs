//! Content-coding negotiation (RFC 9110 §12.5.3): given `Accept-Encoding`,
//! which precompressed siblings exist (`file.br`, `file.zst`, `file.gz`) and
//! which codings the server may make on the fly, choose what to send, or
//! say that nothing acceptable exists (406).
//!
//! Only the choice is made here. Looking for the sibling files, setting
//! `Content-Encoding` and `Vary: Accept-Encoding`, and compressing are left
//! to the caller (`handlers::files`, `handlers::compress`).

/// The largest weight, in thousandths (q=1).
const Q_MAX: u16 = 1000;

/// The weight given to identity when the header neither lists it nor has
/// `*`: acceptable (RFC 9110 §12.5.3), but only as a last resort, so any
/// coding the client did list with a positive weight is preferred.
const Q_IMPLICIT_IDENTITY: u16 = 1;

/// At most this many digits after the point in a qvalue (RFC 9110 §12.4.2).
const Q_MAX_DECIMALS: usize = 3;

/// A representation we can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    Brotli,
    Zstd,
    Gzip,
    Identity,
}

/// The content codings (everything but identity), in the order ties are
/// broken for bytes that are compressed once and kept: brotli makes the
/// smallest text at a cheap level, zstd is next, gzip is understood by all.
pub const COMPRESSED: [Coding; 3] = [Coding::Brotli, Coding::Zstd, Coding::Gzip];

/// The tie order for bytes compressed anew for every request (files too
/// large to keep): zstd costs a tenth of brotli's CPU for the same size.
pub const STREAMED: [Coding; 3] = [Coding::Zstd, Coding::Brotli, Coding::Gzip];

impl Coding {
    /// The suffix of the precompressed sibling: ".br", ".zst", ".gz", or "".
    pub fn extension(self) -> &'static str {
        match self {
            Coding::Brotli => ".br",
            Coding::Zstd => ".zst",
            Coding::Gzip => ".gz",
            Coding::Identity => "",
        }
    }

    /// The content-coding token: "br", "zstd", "gzip" or "identity".
    pub fn token(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
            Coding::Gzip => "gzip",
            Coding::Identity => "identity",
        }
    }

    /// A small index (0..4), for tables with one slot per coding.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A set of content codings (siblings that exist, codings the server can
/// make), copied by value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CodingSet(u8);

impl CodingSet {
    pub const NONE: CodingSet = CodingSet(0);
    /// Every content coding the server can make on the fly.
    pub const ALL: CodingSet = CodingSet(0b111);

    pub fn with(self, coding: Coding) -> CodingSet {
        CodingSet(self.0 | Self::bit(coding))
    }

    pub fn contains(self, coding: Coding) -> bool {
        self.0 & Self::bit(coding) != 0
    }

    fn bit(coding: Coding) -> u8 {
        match coding {
            Coding::Identity => 0,
            other => 1 << other.index(),
        }
    }
}

/// What one `Accept-Encoding` header asks for, parsed once.
#[derive(Debug)]
pub struct Preferences {
    /// `None`: no header, so any coding is acceptable but identity is what
    /// a client that did not ask gets (RFC 9110 §12.5.3 rule 1; compressing
    /// for a client that never said it can decode would break it).
    weights: Option<Weights>,
}

impl Preferences {
    pub fn parse(accept_encoding: Option<&str>) -> Preferences {
        Preferences { weights: accept_encoding.map(Weights::parse) }
    }

    /// Whether the unencoded representation may be sent.
    pub fn accepts_identity(&self) -> bool {
        self.weights.as_ref().is_none_or(|w| w.of(Coding::Identity) > 0)
    }

    /// Picks the representation: the highest weight wins; at equal weight
    /// a sibling (compressed ahead of time, usually harder) beats one made
    /// on the fly, codings go in `order`, and identity comes last. q=0
    /// excludes; `*` covers codings not listed; `x-gzip` is gzip; tokens are
    /// case-insensitive; no header means identity; an entry with a
    /// malformed weight is ignored. `None`: nothing acceptable exists, not
    /// even identity (`identity;q=0` or `*;q=0`), which is a 406.
    ///
    /// Further choices: when a coding is listed twice, its first entry
    /// counts; parameters other than `q` are ignored; an entry whose token
    /// is not a valid token is ignored.
    pub fn choose(&self, siblings: CodingSet, on_the_fly: CodingSet, order: [Coding; 3]) -> Option<Coding> {
        let Some(weights) = &self.weights else {
            return Some(Coding::Identity);
        };
        // Candidates in tie-break order: a later one must be strictly better.
        let made = order.iter().filter(|c| on_the_fly.contains(**c) && !siblings.contains(**c));
        let candidates = order.iter().filter(|c| siblings.contains(**c)).chain(made).chain([&Coding::Identity]);
        let mut best: Option<(Coding, u16)> = None;
        for &coding in candidates {
            let q = weights.of(coding);
            if q > 0 && best.is_none_or(|(_, best_q)| q > best_q) {
                best = Some((coding, q));
            }
        }
        best.map(|(coding, _)| coding)
    }
}

/// Picks among precompressed siblings alone (nothing made on the fly),
/// disregarding the header when nothing is acceptable; a shorthand for
/// the tests of the weighing rules.
#[cfg(test)]
fn negotiate(accept_encoding: Option<&str>, siblings: CodingSet) -> Coding {
    Preferences::parse(accept_encoding).choose(siblings, CodingSet::NONE, COMPRESSED).unwrap_or(Coding::Identity)
}

/// The weights stated by one Accept-Encoding header, in thousandths.
#[derive(Debug, Default)]
struct Weights {
    br: Option<u16>,
    zstd: Option<u16>,
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
            } else if token.eq_ignore_ascii_case("zstd") {
                &mut w.zstd
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
            Coding::Zstd => self.zstd,
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
    use Coding::{Brotli, Gzip, Identity, Zstd};

    const BR_GZ: CodingSet = CodingSet(0b101);

    fn both(header: &str, expected: Coding) {
        assert_eq!(negotiate(Some(header), BR_GZ), expected, "{header:?} with br and gz");
    }
    fn gz_only(header: &str, expected: Coding) {
        assert_eq!(negotiate(Some(header), CodingSet::NONE.with(Gzip)), expected, "{header:?} with gz only");
    }
    fn br_only(header: &str, expected: Coding) {
        assert_eq!(negotiate(Some(header), CodingSet::NONE.with(Brotli)), expected, "{header:?} with br only");
    }
    fn neither(header: &str, expected: Coding) {
        assert_eq!(negotiate(Some(header), CodingSet::NONE), expected, "{header:?} without siblings");
    }
    fn q(s: &str, expected: Option<u16>) {
        assert_eq!(parse_qvalue(s), expected, "{s:?}");
    }
    /// With siblings `siblings` and every coding available on the fly, in
    /// the kept-bytes order.
    fn made(header: Option<&str>, siblings: CodingSet, expected: Option<Coding>) {
        let chosen = Preferences::parse(header).choose(siblings, CodingSet::ALL, COMPRESSED);
        assert_eq!(chosen, expected, "{header:?} with siblings {siblings:?}");
    }

    #[test]
    fn no_header() {
        assert_eq!(negotiate(None, BR_GZ), Identity);
        assert_eq!(negotiate(None, CodingSet::NONE), Identity);
        made(None, CodingSet::ALL, Some(Identity));
        assert!(Preferences::parse(None).accepts_identity());
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
        // Nothing acceptable: `choose` says so (a 406); `negotiate`, the
        // tests' shorthand, falls back to identity.
        neither("identity;q=0", Identity);
        neither("*;q=0", Identity);
        let none = |header: &str| Preferences::parse(Some(header)).choose(CodingSet::NONE, CodingSet::NONE, COMPRESSED);
        assert_eq!(none("identity;q=0"), None);
        assert_eq!(none("*;q=0"), None);
        assert_eq!(none("gzip, identity;q=0"), None);
        assert_eq!(none("*;q=0, identity"), Some(Identity));
        assert_eq!(none("identity;q=0, *"), None, "* covers codings, identity has its own entry");
    }

    #[test]
    fn identity_refusals() {
        let accepts = |header: &str| Preferences::parse(Some(header)).accepts_identity();
        assert!(accepts("gzip"));
        assert!(accepts(""));
        assert!(accepts("identity;q=0.1"));
        assert!(!accepts("identity;q=0"));
        assert!(!accepts("*;q=0"));
        assert!(!accepts("gzip, *;q=0"));
        assert!(accepts("*;q=0, identity;q=0.5"));
        assert!(accepts("identity;q=zero"), "a malformed refusal is ignored");
    }

    #[test]
    fn zstd() {
        let zst = CodingSet::NONE.with(Zstd);
        assert_eq!(negotiate(Some("zstd"), zst), Zstd);
        assert_eq!(negotiate(Some("ZSTD;q=0.5, gzip"), zst), Zstd);
        assert_eq!(negotiate(Some("zstd;q=0"), zst), Identity);
        assert_eq!(negotiate(Some("gzip, deflate, br, zstd"), zst.with(Gzip)), Zstd, "zstd before gzip at a tie");
        assert_eq!(negotiate(Some("gzip, deflate, br, zstd"), CodingSet::ALL), Brotli);
        assert_eq!(negotiate(Some("*"), zst), Zstd);
    }

    #[test]
    fn made_on_the_fly() {
        let browser = Some("gzip, deflate, br, zstd");
        made(browser, CodingSet::NONE, Some(Brotli));
        made(Some("gzip, deflate"), CodingSet::NONE, Some(Gzip));
        made(Some("zstd, gzip;q=0.5"), CodingSet::NONE, Some(Zstd));
        made(Some("deflate"), CodingSet::NONE, Some(Identity));
        // A sibling beats making a coding at an equal weight, not a
        // coding the client prefers.
        made(browser, CodingSet::NONE.with(Gzip), Some(Gzip));
        made(Some("br, gzip;q=0.5"), CodingSet::NONE.with(Gzip), Some(Brotli));
        // Identity refused: a coding is made.
        made(Some("identity;q=0, gzip"), CodingSet::NONE, Some(Gzip));
        made(Some("identity;q=0"), CodingSet::NONE, None);
        made(Some("*;q=0"), CodingSet::NONE, None);
        made(Some("*"), CodingSet::NONE, Some(Brotli));
        made(Some("identity"), CodingSet::NONE, Some(Identity));
        made(Some("br;q=0, zstd;q=0, gzip;q=0"), CodingSet::NONE, Some(Identity));
        // Streamed bytes break ties toward the cheaper coder.
        let chosen = Preferences::parse(browser).choose(CodingSet::NONE, CodingSet::ALL, STREAMED);
        assert_eq!(chosen, Some(Zstd));
        let chosen = Preferences::parse(Some("br, gzip")).choose(CodingSet::NONE, CodingSet::ALL, STREAMED);
        assert_eq!(chosen, Some(Brotli));
        let chosen = Preferences::parse(browser).choose(CodingSet::NONE, CodingSet::NONE.with(Gzip), COMPRESSED);
        assert_eq!(chosen, Some(Gzip), "only what can be made");
    }

    #[test]
    fn coding_sets() {
        let set = CodingSet::NONE.with(Gzip).with(Identity);
        assert!(set.contains(Gzip) && !set.contains(Brotli) && !set.contains(Zstd) && !set.contains(Identity));
        assert_ne!(CodingSet::NONE, set);
        assert!(COMPRESSED.iter().all(|c| CodingSet::ALL.contains(*c)));
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
        assert_eq!(Zstd.extension(), ".zst");
        assert_eq!(Gzip.extension(), ".gz");
        assert_eq!(Identity.extension(), "");
        assert_eq!(Brotli.token(), "br");
        assert_eq!(Zstd.token(), "zstd");
        assert_eq!(Gzip.token(), "gzip");
        assert_eq!(Identity.token(), "identity");
    }
}
