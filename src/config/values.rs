//! The values of the folder's settings that have a syntax of their own — a
//! header field, a `Cache-Control` rule by glob, a type for an extension,
//! the CORS origins, an index name — parsed and checked once, where the
//! setting is read (the command line, the environment, or a library user's
//! `parse`/`new`), into typed values the handlers use as they are. A value
//! that cannot be used is a [`SettingError`] naming the flag and variable.
//!
//! What the values mean on the wire (which fields go on which answers, how
//! an origin is echoed) is the handlers' business (`handlers::headers`,
//! `handlers::cors`); this module owns only what is a valid value.

use std::fmt;
use std::str::FromStr;

use globset::{Glob, GlobBuilder};

use super::error::{Setting, SettingError};
use super::{Cors, LogDestination};
use crate::http::response::{check_name, check_value, HeaderError};

/// Fields the file handler writes itself, from the file and the request: a
/// second copy from `--header` would contradict it. Each has its own setting.
const SET_BY_FILES: [(&str, &str); 7] = [
    ("cache-control", "use --cache-control or --cache-control-for"),
    ("content-type", "use --mime"),
    ("content-encoding", "it follows the file that is sent"),
    ("content-range", "it follows the Range asked for"),
    ("etag", "it follows the file"),
    ("last-modified", "it follows the file"),
    ("accept-ranges", "it follows the file"),
];

/// Words that turn an on/off option on, as for every boolean option's
/// environment variable (`RAWSERVE_SPA=1`); for `--cors` they mean any origin.
const ON_WORDS: [&str; 6] = ["y", "yes", "t", "true", "on", "1"];

/// A header field added to every response of a folder (`--header`,
/// [`FileOptions::headers`](super::FileOptions::headers)): a valid name and
/// value, and not one of the fields the file server writes itself.
///
/// ```
/// use rawserve::config::HeaderField;
///
/// let field: HeaderField = "X-Frame-Options: DENY".parse().unwrap();
/// assert_eq!((field.name(), field.value()), ("X-Frame-Options", "DENY"));
/// let refused = "X-A: a\r\nSet-Cookie: x".parse::<HeaderField>().unwrap_err();
/// assert!(refused.to_string().starts_with("--header `X-A` has a control character"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderField {
    name: String,
    value: String,
}

impl HeaderField {
    /// The field `name: value` (both trimmed), checked.
    pub fn new(name: &str, value: &str) -> Result<HeaderField, SettingError> {
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() {
            return Err(SettingError::new(Setting::Header, &format!(": {value}"), "has no field name"));
        }
        let refuse = |reason: &str| SettingError::new(Setting::Header, name, reason);
        check_name(name).map_err(|e| match e {
            HeaderError::Reserved(_) => refuse("is written by the server itself on every response"),
            _ => refuse("is not a token: a field name is letters, digits and !#$%&'*+-.^_`|~"),
        })?;
        check_value(value).map_err(|_| refuse("has a control character in its value"))?;
        if let Some((_, hint)) = SET_BY_FILES.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            return Err(refuse(&format!("is written by the file server: {hint}")));
        }
        Ok(HeaderField { name: name.to_string(), value: value.to_string() })
    }

    /// The field's name, as given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The field's value.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl FromStr for HeaderField {
    type Err = SettingError;

    /// `Name: value`, as curl's `-H` takes it.
    fn from_str(text: &str) -> Result<HeaderField, SettingError> {
        let (name, value) =
            text.split_once(':').ok_or_else(|| SettingError::new(Setting::Header, text, "is not `Name: value`"))?;
        HeaderField::new(name, value)
    }
}

impl fmt::Display for HeaderField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.value)
    }
}

/// `Cache-Control` for the files whose path (relative to the root) matches
/// a glob (`--cache-control-for`,
/// [`FileOptions::cache_control_for`](super::FileOptions::cache_control_for)).
/// Globs are globset's: `*` stays within one path segment, `**` crosses
/// them (`assets/**`); a leading `/` is dropped.
///
/// ```
/// use rawserve::config::CacheRule;
///
/// let rule: CacheRule = "assets/**=max-age=31536000, immutable".parse().unwrap();
/// assert_eq!((rule.glob(), rule.value()), ("assets/**", "max-age=31536000, immutable"));
/// assert!("a/[=no-store".parse::<CacheRule>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheRule {
    glob: Glob,
    value: String,
}

impl CacheRule {
    /// `Cache-Control: value` for paths matching `glob`, checked.
    pub fn new(glob: &str, value: &str) -> Result<CacheRule, SettingError> {
        let glob = glob.trim().trim_start_matches('/');
        let refuse = |reason: String| SettingError::new(Setting::CacheControlFor, glob, reason);
        let compiled = GlobBuilder::new(glob)
            .literal_separator(true)
            .build()
            .map_err(|e| refuse(format!("is not a glob: {e}")))?;
        let value = value.trim();
        check_value(value).map_err(|_| refuse("has a control character in its value".into()))?;
        Ok(CacheRule { glob: compiled, value: value.to_string() })
    }

    /// The glob, as given (without a leading `/`).
    pub fn glob(&self) -> &str {
        self.glob.glob()
    }

    /// The `Cache-Control` value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The compiled glob, for a folder's set of them.
    pub(crate) fn compiled(&self) -> &Glob {
        &self.glob
    }
}

impl FromStr for CacheRule {
    type Err = SettingError;

    /// `GLOB=VALUE`, split at the first `=` (a value may hold more).
    fn from_str(text: &str) -> Result<CacheRule, SettingError> {
        let (glob, value) = text
            .split_once('=')
            .ok_or_else(|| SettingError::new(Setting::CacheControlFor, text, "is not `GLOB=VALUE`"))?;
        CacheRule::new(glob, value)
    }
}

/// A media type for a file extension, over the built-in table (`--mime`,
/// [`FileOptions::mime`](super::FileOptions::mime)).
///
/// ```
/// use rawserve::config::MimeOverride;
///
/// let md: MimeOverride = ".MD=text/markdown".parse().unwrap();
/// assert_eq!((md.extension(), md.media_type()), ("md", "text/markdown"));
/// assert!("md=markdown".parse::<MimeOverride>().is_err(), "a type has a `/`");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MimeOverride {
    /// Lower case, without the dot.
    extension: String,
    media_type: String,
}

impl MimeOverride {
    /// `media_type` for files ending in `.extension` (a leading dot is
    /// dropped, case does not matter), checked: an extension is a name
    /// without dots or slashes, a type has a `/` and no control character.
    pub fn new(extension: &str, media_type: &str) -> Result<MimeOverride, SettingError> {
        let extension = extension.trim();
        let extension = extension.strip_prefix('.').unwrap_or(extension);
        if extension.is_empty() || extension.contains(['.', '/', '\\']) {
            let reason = "is not a file extension: write `--mime txt=text/plain`";
            let shown = if extension.is_empty() { format!("={media_type}") } else { extension.to_string() };
            return Err(SettingError::new(Setting::Mime, &shown, reason));
        }
        let media_type = media_type.trim();
        if !media_type.contains('/') || check_value(media_type).is_err() {
            return Err(SettingError::new(Setting::Mime, media_type, "is not a media type such as `text/plain`"));
        }
        Ok(MimeOverride { extension: extension.to_ascii_lowercase(), media_type: media_type.to_string() })
    }

    /// The extension, in lower case, without the dot.
    pub fn extension(&self) -> &str {
        &self.extension
    }

    /// The media type.
    pub fn media_type(&self) -> &str {
        &self.media_type
    }
}

impl FromStr for MimeOverride {
    type Err = SettingError;

    /// `EXT=TYPE`.
    fn from_str(text: &str) -> Result<MimeOverride, SettingError> {
        let (extension, media_type) =
            text.split_once('=').ok_or_else(|| SettingError::new(Setting::Mime, text, "is not `EXT=TYPE`"))?;
        MimeOverride::new(extension, media_type)
    }
}

impl FromStr for Cors {
    type Err = SettingError;

    /// `*` (or an "on" word such as `1` or `true`, as a boolean
    /// variable says it) for any origin; else a comma-separated list of
    /// origins, each `scheme://host[:port]` (a trailing `/` is dropped, so
    /// is a default port, as browsers send neither).
    ///
    /// ```
    /// use rawserve::Cors;
    ///
    /// assert_eq!("*".parse::<Cors>().unwrap(), Cors::AnyOrigin);
    /// assert_eq!("true".parse::<Cors>().unwrap(), Cors::AnyOrigin);
    /// let list: Cors = "https://a.example/, http://b.example:8080".parse().unwrap();
    /// assert_eq!(list, Cors::Origins(vec!["https://a.example".into(), "http://b.example:8080".into()]));
    /// assert!("notanorigin".parse::<Cors>().is_err());
    /// ```
    fn from_str(text: &str) -> Result<Cors, SettingError> {
        let text = text.trim();
        if ON_WORDS.iter().any(|word| word.eq_ignore_ascii_case(text)) {
            return Ok(Cors::AnyOrigin);
        }
        let mut origins = Vec::new();
        for origin in text.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            if origin == "*" {
                return Ok(Cors::AnyOrigin);
            }
            origins.push(origin_of(origin)?);
        }
        if origins.is_empty() {
            let reason = "needs an origin such as `https://app.example`, or `--cors` alone for any origin";
            return Err(SettingError::new(Setting::Cors, "", reason));
        }
        Ok(Cors::Origins(origins))
    }
}

impl fmt::Display for Cors {
    /// As `--cors` takes it: `*`, or the origins separated by commas.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cors::AnyOrigin => f.write_str("*"),
            Cors::Origins(list) => f.write_str(&list.join(",")),
        }
    }
}

/// `text` as a serialized origin (`scheme://host[:port]`, RFC 6454 §6.2),
/// the form browsers send in `Origin`: without a path (a trailing `/` is
/// dropped) and without the scheme's default port.
pub(crate) fn origin_of(text: &str) -> Result<String, SettingError> {
    let text = text.trim();
    let origin = text.strip_suffix('/').unwrap_or(text);
    let refuse = |why: &str| {
        SettingError::new(Setting::Cors, text, format!("is not an origin such as `https://app.example`: {why}"))
    };
    if origin.eq_ignore_ascii_case("null") {
        // Sandboxed frames and file: pages send `null`: any site can.
        return Err(refuse("`null` is what every sandboxed page sends, so any site could claim it"));
    }
    let (scheme, authority) = origin.split_once("://").ok_or_else(|| refuse("it has no `scheme://`"))?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_ok {
        return Err(refuse("the scheme is not a name like `https`"));
    }
    let (host, port) = match authority.rsplit_once(':') {
        // `[::1]` alone: the colon is the address's, not a port's.
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (authority, None),
    };
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => !v6.is_empty() && v6.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.'),
        None => !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'),
    };
    if !host_ok {
        return Err(refuse("an origin is a scheme and a host name, with no path, user or query"));
    }
    match port {
        None => Ok(origin.to_string()),
        Some(port) => match port.parse::<u16>() {
            Ok(number) if port.len() <= 5 => {
                let default = matches!((scheme.to_ascii_lowercase().as_str(), number), ("http", 80) | ("https", 443));
                Ok(if default { format!("{scheme}://{host}") } else { origin.to_string() })
            }
            _ => Err(refuse("the port is not a number up to 65535")),
        },
    }
}

/// A name a folder may be answered with (`--index`): a file name, not a
/// path, and not a dot name (which would never be served).
pub(crate) fn check_index(name: &str) -> Result<(), SettingError> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') || check_value(name).is_err() {
        return Err(SettingError::new(Setting::Index, name, "is not an index name: a file name such as `index.html`"));
    }
    Ok(())
}

/// A `Cache-Control` value (`--cache-control`): anything a field value may
/// hold.
pub(crate) fn check_cache_control(value: &str) -> Result<(), SettingError> {
    check_value(value).map_err(|_| SettingError::new(Setting::CacheControl, value, "has a control character"))
}

impl fmt::Display for LogDestination {
    /// As `--access-log` takes it: a path, `-` or `off`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogDestination::Off => f.write_str("off"),
            LogDestination::Stdout => f.write_str("-"),
            LogDestination::File(path) => write!(f, "{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sentence a bad value gets.
    fn refusal<T: FromStr<Err = SettingError> + fmt::Debug>(text: &str) -> String {
        text.parse::<T>().expect_err(text).to_string()
    }

    #[test]
    fn header_fields() {
        let field: HeaderField = " X-Frame-Options :  DENY ".parse().unwrap();
        assert_eq!(field.to_string(), "X-Frame-Options: DENY");
        assert_eq!("X-Empty:".parse::<HeaderField>().unwrap().value(), "");
        let cases = [
            ("no colon", "--header `no colon` is not `Name: value`"),
            ("Bad Name: v", "--header `Bad Name` is not a token"),
            (": v", "--header `: v` has no field name"),
            ("X-A: a\r\nSet-Cookie: x", "--header `X-A` has a control character in its value"),
            ("X-A: a\0b", "--header `X-A` has a control character"),
            ("Content-Length: 1", "--header `Content-Length` is written by the server itself"),
            ("connection: close", "--header `connection` is written by the server itself"),
            ("Content-Type: text/plain", "--header `Content-Type` is written by the file server: use --mime"),
            ("cache-control: no-store", "the file server: use --cache-control or --cache-control-for"),
            ("ETag: \"x\"", "--header `ETag` is written by the file server"),
        ];
        for (text, sentence) in cases {
            let said = refusal::<HeaderField>(text);
            assert!(said.contains(sentence), "{text:?}: {said}");
            assert!(said.ends_with("(from --header or RAWSERVE_HEADER)"), "{said}");
        }
    }

    #[test]
    fn cache_rules() {
        let rule: CacheRule = "/assets/**= max-age=60, immutable".parse().unwrap();
        assert_eq!((rule.glob(), rule.value()), ("assets/**", "max-age=60, immutable"));
        let cases = [
            ("assets/**", "--cache-control-for `assets/**` is not `GLOB=VALUE`"),
            ("a/[=no-store", "--cache-control-for `a/[` is not a glob"),
            ("a/{b=no-store", "--cache-control-for `a/{b` is not a glob"),
            ("a/**=x\ny", "--cache-control-for `a/**` has a control character"),
        ];
        for (text, sentence) in cases {
            let said = refusal::<CacheRule>(text);
            assert!(said.starts_with(sentence), "{text:?}: {said}");
            assert!(said.ends_with("(from --cache-control-for or RAWSERVE_CACHE_CONTROL_FOR)"), "{said}");
        }
    }

    #[test]
    fn mime_overrides() {
        let log: MimeOverride = ".LOG = text/plain".parse().unwrap();
        assert_eq!((log.extension(), log.media_type()), ("log", "text/plain"));
        let cases = [
            ("md", "--mime `md` is not `EXT=TYPE`"),
            ("=text/plain", "--mime `=text/plain` is not a file extension"),
            ("a.b=text/plain", "--mime `a.b` is not a file extension"),
            ("x=plain", "--mime `plain` is not a media type"),
            ("x=text/a\r\nb: c", r"--mime `text/a\r\nb: c` is not a media type"),
        ];
        for (text, sentence) in cases {
            let said = refusal::<MimeOverride>(text);
            assert!(said.starts_with(sentence), "{text:?}: {said}");
            assert!(said.ends_with("(from --mime or RAWSERVE_MIME)"), "{said}");
        }
    }

    #[test]
    fn cors_origins() {
        let origins = |text: &str| match text.parse::<Cors>() {
            Ok(Cors::Origins(list)) => list,
            other => panic!("{text}: {other:?}"),
        };
        for any in ["*", "1", "true", "TRUE", "yes", "on", "https://a.example,*"] {
            assert_eq!(any.parse::<Cors>(), Ok(Cors::AnyOrigin), "{any}");
        }
        assert_eq!(origins("https://a.example/"), ["https://a.example"]);
        assert_eq!(origins("https://a.example:443,http://b.example:80"), ["https://a.example", "http://b.example"]);
        assert_eq!(origins("http://localhost:3000"), ["http://localhost:3000"]);
        assert_eq!(origins("http://[::1]:8080, http://[::1]"), ["http://[::1]:8080", "http://[::1]"]);
        assert_eq!(origins("app://x-y.example"), ["app://x-y.example"]);
        let cases = [
            (
                "notanorigin",
                "--cors `notanorigin` is not an origin such as `https://app.example`: it has no `scheme://`",
            ),
            ("null", "--cors `null` is not an origin"),
            ("http://a b", "--cors `http://a b` is not an origin"),
            ("https://a.example/path", "--cors `https://a.example/path` is not an origin"),
            ("https://user@a.example", "is not an origin"),
            ("https://a.example?x", "is not an origin"),
            ("https://", "is not an origin"),
            ("https://a.example:99999", "the port is not a number"),
            ("https://a.example:", "the port is not a number"),
            ("1http://a.example", "the scheme is not a name"),
            ("https://a.example\r\nX: y", "is not an origin"),
            ("", "--cors= needs an origin"),
            (" , ", "--cors= needs an origin"),
            ("0", "--cors `0` is not an origin"),
        ];
        for (text, sentence) in cases {
            let said = refusal::<Cors>(text);
            assert!(said.contains(sentence), "{text:?}: {said}");
            assert!(said.ends_with("(from --cors or RAWSERVE_CORS)"), "{said}");
        }
        let list = Cors::Origins(vec!["https://a.example".into(), "http://b.example".into()]);
        assert_eq!(list.to_string().parse::<Cors>(), Ok(list), "Display is what FromStr reads");
        assert_eq!(Cors::AnyOrigin.to_string().parse::<Cors>(), Ok(Cors::AnyOrigin));
    }

    #[test]
    fn index_names_and_cache_control() {
        assert!(check_index("index.html").is_ok() && check_index("default.htm").is_ok());
        for bad in ["", "../x.html", "a/b", ".index.html", "x\ny"] {
            let said = check_index(bad).expect_err(bad).to_string();
            assert!(said.contains("is not an index name") && said.ends_with("(from --index or RAWSERVE_INDEX)"));
        }
        assert!(check_cache_control("max-age=60, must-revalidate").is_ok());
        let said = check_cache_control("a\r\nb").unwrap_err().to_string();
        assert!(said.starts_with(r"--cache-control `a\r\nb` has a control character"), "{said}");
        assert_eq!(said.lines().count(), 1, "one line: {said}");
    }
}
