//! The `If` field (RFC 4918 §10.4), read and judged without I/O: lists of
//! conditions (a lock token, or an entity tag in brackets, each maybe
//! with `Not`), on the request's resource or on the resource a `<URI>`
//! tag names. The field holds when any one list holds; a list holds when
//! all its conditions do. What a resource's current tag and locks are is
//! asked of the caller ([`State`]), so the rules are table-tested here.
//!
//! Every lock token that appears anywhere in the field counts as
//! submitted (§10.4.1 reads so, and clients put the tokens they hold in
//! lists they expect to be false, `(Not <DAV:no-lock>)`).

/// One condition of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub not: bool,
    pub test: Test,
}

/// What a condition compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    /// A state token (`<opaquelocktoken:…>`, `<DAV:no-lock>`), without its brackets.
    Token(String),
    /// An entity tag, quoted as sent (`"abc"`, `W/"abc"`).
    Etag(String),
}

/// A list of conditions, and the resource it is about (`None`: the
/// request's own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List {
    pub resource: Option<String>,
    pub conditions: Vec<Condition>,
}

/// A parsed `If` field.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct If {
    pub lists: Vec<List>,
}

/// Most lists and conditions read from one field: real clients send one
/// or two; the limit keeps a hostile field's judging cheap.
pub const MAX_CONDITIONS: usize = 64;

/// What a resource is now, for judging conditions on it.
pub trait State {
    /// Its current entity tag, if it has one.
    fn etag(&mut self, resource: Option<&str>) -> Option<String>;
    /// Whether `token` is a current lock on it.
    fn locked_by(&mut self, resource: Option<&str>, token: &str) -> bool;
}

impl If {
    /// Reads an `If` field; `None` when it is malformed (answered 400).
    pub fn parse(text: &str) -> Option<If> {
        let mut lists = Vec::new();
        let mut rest = text.trim();
        let mut resource: Option<String> = None;
        let mut tagged = None;
        let mut count = 0;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('<') {
                // A resource tag; either every list is tagged or none.
                if tagged == Some(false) {
                    return None;
                }
                tagged = Some(true);
                let end = after.find('>')?;
                resource = Some(after[..end].to_string());
                rest = after[end + 1..].trim_start();
                if !rest.starts_with('(') {
                    return None;
                }
                continue;
            }
            let after = rest.strip_prefix('(')?;
            if tagged.is_none() {
                tagged = Some(false);
            }
            let end = after.find(')')?;
            let conditions = conditions(&after[..end])?;
            count += conditions.len() + 1;
            if count > MAX_CONDITIONS {
                return None;
            }
            lists.push(List { resource: resource.clone(), conditions });
            rest = after[end + 1..].trim_start();
        }
        if lists.is_empty() {
            return None;
        }
        Some(If { lists })
    }

    /// Whether the field holds for resources in `state`.
    pub fn holds(&self, state: &mut dyn State) -> bool {
        self.lists.iter().any(|list| {
            list.conditions.iter().all(|condition| {
                let resource = list.resource.as_deref();
                let true_now = match &condition.test {
                    Test::Token(token) => state.locked_by(resource, token),
                    Test::Etag(tag) => state.etag(resource).is_some_and(|current| same_etag(&current, tag)),
                };
                true_now != condition.not
            })
        })
    }

    /// Every lock token in the field (`DAV:no-lock` and such are no tokens).
    pub fn tokens(&self) -> impl Iterator<Item = &str> {
        self.lists.iter().flat_map(|list| &list.conditions).filter_map(|condition| match &condition.test {
            Test::Token(token) if !token.starts_with("DAV:") => Some(token.as_str()),
            _ => None,
        })
    }
}

/// The conditions between a list's parentheses.
fn conditions(mut text: &str) -> Option<Vec<Condition>> {
    let mut conditions = Vec::new();
    loop {
        text = text.trim_start();
        if text.is_empty() {
            break;
        }
        let mut not = false;
        // `get`: the field is the client's, and its third byte may be
        // inside a character.
        if text.get(..3).is_some_and(|head| head.eq_ignore_ascii_case("not")) {
            not = true;
            text = text[3..].trim_start();
        }
        let (test, rest) = if let Some(after) = text.strip_prefix('<') {
            let end = after.find('>')?;
            (Test::Token(after[..end].trim().to_string()), &after[end + 1..])
        } else if let Some(after) = text.strip_prefix('[') {
            let end = after.find(']')?;
            (Test::Etag(after[..end].trim().to_string()), &after[end + 1..])
        } else {
            return None;
        };
        conditions.push(Condition { not, test });
        text = rest;
    }
    (!conditions.is_empty()).then_some(conditions)
}

/// Entity tags compared strongly, except that a weak one matches its strong
/// twin (`If` compares for state, not for byte ranges).
fn same_etag(current: &str, sent: &str) -> bool {
    current.trim_start_matches("W/") == sent.trim_start_matches("W/")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One resource with tag `"e1"` locked by `t1`; another, `/other`, with
    /// tag `"e2"` and no lock.
    struct Fixed;

    impl State for Fixed {
        fn etag(&mut self, resource: Option<&str>) -> Option<String> {
            Some(if resource.is_some_and(|r| r.ends_with("/other")) { "\"e2\"" } else { "\"e1\"" }.to_string())
        }
        fn locked_by(&mut self, resource: Option<&str>, token: &str) -> bool {
            !resource.is_some_and(|r| r.ends_with("/other")) && token == "opaquelocktoken:t1"
        }
    }

    fn judged(field: &str) -> Option<bool> {
        If::parse(field).map(|parsed| parsed.holds(&mut Fixed))
    }

    #[test]
    fn fields_judged() {
        let cases: &[(&str, Option<bool>)] = &[
            ("(<opaquelocktoken:t1>)", Some(true)),
            ("(<opaquelocktoken:t2>)", Some(false)),
            ("(<DAV:no-lock>)", Some(false)),
            ("(Not <DAV:no-lock>)", Some(true)),
            ("(not <DAV:no-lock>)", Some(true)),
            ("(<opaquelocktoken:t2>) (Not <DAV:no-lock>)", Some(true)),
            ("([\"e1\"])", Some(true)),
            ("([\"e2\"])", Some(false)),
            ("(<opaquelocktoken:t1> [\"e1\"])", Some(true)),
            ("(<opaquelocktoken:t1> [\"e2\"])", Some(false)),
            ("(<DAV:no-lock> [\"e1\"])", Some(false)),
            ("(<opaquelocktoken:t1> [W/\"e1\"])", Some(true)),
            ("<http://h/other> ([\"e2\"])", Some(true)),
            ("<http://h/other> (<opaquelocktoken:t1>)", Some(false)),
            ("</x> (<opaquelocktoken:t1>) </other> ([\"e1\"])", Some(true)),
            ("", None),
            ("()", None),
            ("(<unclosed)", None),
            ("(<a>", None),
            ("(x)", None),
            ("<http://h/a>", None),
            ("(<a>) <http://h/b> (<c>)", None),
            ("junk", None),
            ("([\"\u{feff}lock>)", None),
            ("(é<a>)", None),
        ];
        for (field, expected) in cases {
            assert_eq!(judged(field), *expected, "{field:?}");
        }
        let many = "(<a>)".repeat(MAX_CONDITIONS);
        assert_eq!(judged(&many), None);
    }

    #[test]
    fn tokens_submitted() {
        let parsed = If::parse("</a> (<opaquelocktoken:x> [\"e\"]) (Not <DAV:no-lock>) </b> (<urn:uuid:y>)").unwrap();
        assert_eq!(parsed.tokens().collect::<Vec<_>>(), ["opaquelocktoken:x", "urn:uuid:y"]);
    }
}
