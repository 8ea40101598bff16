//! Route patterns: which request paths a route answers — an exact path,
//! a path with `{name}` parameters, or a prefix — how specific each match
//! is, and what the parameters captured. Matched against the path as sent
//! (not percent-decoded), so a `%2F` never splits a segment.

use std::sync::Arc;

use crate::http::request::PathParams;

/// One segment of a pattern with parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Segment {
    /// This text, exactly.
    Literal(String),
    /// Any non-empty segment, captured under this name.
    Param(Arc<str>),
}

/// Which paths a route answers. Matched against the path as sent (not
/// percent-decoded), without the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Pattern {
    /// Exactly this path.
    Exact(String),
    /// Paths of these segments (written `"/api/items/{id}"`): each `{name}`
    /// matches one non-empty segment, captured for [`Request::param`].
    Params(Vec<Segment>),
    /// Every path that starts with this (written `"/static/*"`).
    Prefix(String),
}

/// Rank of a match of a pattern with parameters: below every exact path,
/// above every prefix (no path is this long), more literal bytes first.
pub(super) const PARAMS_RANK: usize = usize::MAX / 2;

impl Pattern {
    /// `"/a/*"` is the prefix `/a/`, `"/a/{id}"` a pattern with a
    /// parameter, anything else an exact path.
    ///
    /// Panics (at router construction, a programming error) on a path that
    /// does not start with `/` (no request path could ever match it), and
    /// on braces that do not make whole `{name}` segments.
    pub(super) fn parse(path: &str) -> Pattern {
        assert!(path.starts_with('/'), "route path {path:?} must start with '/'");
        if let Some(prefix) = path.strip_suffix('*') {
            assert!(!path.contains(['{', '}']), "route path {path:?}: parameters are not allowed in a prefix");
            return Pattern::Prefix(prefix.to_string());
        }
        if !path.contains(['{', '}']) {
            return Pattern::Exact(path.to_string());
        }
        let segments =
            path[1..].split('/').map(|segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) if !name.is_empty() && !name.contains(['{', '}']) => Segment::Param(name.into()),
                _ if segment.contains(['{', '}']) => {
                    panic!("route path {path:?}: a parameter is a whole segment, `{{name}}`")
                }
                _ => Segment::Literal(segment.to_string()),
            });
        Pattern::Params(segments.collect())
    }

    /// How specific a match of `path` is (higher wins), or `None`. An exact
    /// match beats a pattern with parameters, which beats every prefix; a
    /// longer prefix beats a shorter one.
    pub(super) fn rank(&self, path: &str) -> Option<usize> {
        match self {
            Pattern::Exact(p) => (p == path).then_some(usize::MAX),
            Pattern::Params(segments) => {
                let mut parts = path.strip_prefix('/')?.split('/');
                let mut literal = 0;
                for segment in segments {
                    let part = parts.next()?;
                    match segment {
                        Segment::Literal(text) if text == part => literal += text.len(),
                        Segment::Param(_) if !part.is_empty() => {}
                        _ => return None,
                    }
                }
                parts.next().is_none().then_some(PARAMS_RANK + literal)
            }
            Pattern::Prefix(p) => path.starts_with(p.as_str()).then_some(p.len()),
        }
    }

    /// Whether the pattern captures parameters.
    pub(super) fn has_params(&self) -> bool {
        matches!(self, Pattern::Params(_))
    }

    /// Bytes of the path a `StaticFiles` on this route drops: the prefix
    /// without its final `/`, so that what remains still starts with `/`.
    pub(super) fn strip(&self) -> usize {
        match self {
            Pattern::Exact(_) | Pattern::Params(_) => 0,
            Pattern::Prefix(p) => p.strip_suffix('/').unwrap_or(p).len(),
        }
    }
}

impl PathParams for Pattern {
    /// The segment of `path` (which matches) that `{name}` stands for.
    fn find<'p>(&self, path: &'p str, name: &str) -> Option<&'p str> {
        let Pattern::Params(segments) = self else { return None };
        let parts = path.strip_prefix('/').unwrap_or(path).split('/');
        segments.iter().zip(parts).find_map(|(segment, part)| match segment {
            Segment::Param(param) if &**param == name => Some(part),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_rank_exact_over_params_over_longer_prefix_over_shorter() {
        let cases: &[(&str, &str, Option<usize>)] = &[
            ("/a", "/a", Some(usize::MAX)),
            ("/a", "/a/", None),
            ("/a", "/ab", None),
            ("/a/*", "/a/", Some(3)),
            ("/a/*", "/a/b/c", Some(3)),
            ("/a/*", "/a", None),
            ("/a*", "/a", Some(2)),
            ("/a*", "/abc", Some(2)),
            ("/*", "/anything", Some(1)),
            ("/a/b/*", "/a/b/c", Some(5)),
            ("/items/{id}", "/items/7", Some(PARAMS_RANK + 5)),
            ("/items/{id}", "/items/", None),
            ("/items/{id}", "/items", None),
            ("/items/{id}", "/items/7/x", None),
            ("/items/{id}", "/other/7", None),
            ("/{a}/{b}", "/x/y", Some(PARAMS_RANK)),
            ("/{a}/x", "/y/x", Some(PARAMS_RANK + 1)),
            ("/{a}", "//", None),
        ];
        for (pattern, path, rank) in cases {
            assert_eq!(Pattern::parse(pattern).rank(path), *rank, "{pattern} against {path}");
        }
    }

    #[test]
    fn parameters_are_found_by_name() {
        let pattern = Pattern::parse("/users/{user}/files/{name}");
        let path = "/users/ann/files/a%20b";
        let got: Vec<Option<&str>> = ["user", "name", "files", "other"].map(|n| pattern.find(path, n)).into();
        assert_eq!(got, [Some("ann"), Some("a%20b"), None, None]);
        assert_eq!(Pattern::parse("/a/*").find("/a/b", "a"), None);
    }

    #[test]
    #[should_panic(expected = "a parameter is a whole segment")]
    fn a_brace_inside_a_segment_is_a_programming_error() {
        let _ = Pattern::parse("/items/x{id}");
    }

    #[test]
    fn files_strip_the_prefix_but_keep_a_leading_slash() {
        assert_eq!(Pattern::parse("/static/*").strip(), "/static".len());
        assert_eq!(Pattern::parse("/static*").strip(), "/static".len());
        assert_eq!(Pattern::parse("/*").strip(), 0);
        assert_eq!(Pattern::parse("/exact").strip(), 0);
    }
}
