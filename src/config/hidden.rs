//! `--hidden GLOB` ([`FileOptions::hidden`](super::FileOptions::hidden)):
//! a name pattern the folder keeps out of sight, parsed and checked once
//! where it is read. What hiding means (404 on a request, absent from
//! listings and archives, refused to uploads) is the handlers' business
//! (`handlers::hidden`); this module owns only what is a valid pattern.

use std::fmt;
use std::str::FromStr;

use globset::{Glob, GlobBuilder};

use super::error::{Setting, SettingError};

/// A pattern of names and paths hidden from everyone (`--hidden`): globset's
/// syntax, where `*` stays within one path segment and `**` crosses them.
/// As in `.gitignore`, a pattern without a `/` is a name, hidden wherever
/// it is (`*.bak`, `secret`), and one with a `/` is a path from the root
/// (`drafts/*.md`; `/notes.txt` is that file in the root only). Whatever is
/// hidden hides everything inside it: `--hidden private` hides every
/// folder named `private`, and all it holds.
///
/// ```
/// use rawserve::config::HiddenGlob;
///
/// let glob: HiddenGlob = "/drafts/*.md".parse().unwrap();
/// assert_eq!((glob.glob(), glob.is_path()), ("drafts/*.md", true));
/// assert!(!"*.bak".parse::<HiddenGlob>().unwrap().is_path());
/// assert!("a/[".parse::<HiddenGlob>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HiddenGlob {
    glob: Glob,
    /// Matched against paths from the root, not names: the pattern has a `/`.
    path: bool,
}

impl HiddenGlob {
    /// The pattern `glob`, checked.
    pub fn new(glob: &str) -> Result<HiddenGlob, SettingError> {
        let path = glob.contains('/');
        let glob = glob.trim().trim_start_matches('/');
        let refuse = |reason: String| SettingError::new(Setting::Hidden, glob, reason);
        if glob.is_empty() {
            return Err(refuse("is empty: give a name or a glob such as `*.bak`".into()));
        }
        let compiled = GlobBuilder::new(glob)
            .literal_separator(true)
            .build()
            .map_err(|e| refuse(format!("is not a glob: {e}")))?;
        Ok(HiddenGlob { glob: compiled, path })
    }

    /// The glob, as given (without a leading `/`).
    pub fn glob(&self) -> &str {
        self.glob.glob()
    }

    /// Whether it names paths from the root (it has a `/`) rather than
    /// names found anywhere.
    pub fn is_path(&self) -> bool {
        self.path
    }

    /// The compiled glob, for a folder's set of them.
    pub(crate) fn compiled(&self) -> &Glob {
        &self.glob
    }
}

impl FromStr for HiddenGlob {
    type Err = SettingError;

    fn from_str(text: &str) -> Result<HiddenGlob, SettingError> {
        HiddenGlob::new(text)
    }
}

impl fmt::Display for HiddenGlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // As `new` reads it: a path keeps a `/`.
        if self.path && !self.glob().contains('/') {
            f.write_str("/")?;
        }
        f.write_str(self.glob())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_checked_where_they_are_read() {
        assert_eq!("  /private ".parse::<HiddenGlob>().unwrap().glob(), "private");
        assert_eq!("**/*.bak".parse::<HiddenGlob>().unwrap().to_string(), "**/*.bak");
        for text in ["/top.txt", "a/b", "*.bak", "private"] {
            assert_eq!(text.parse::<HiddenGlob>().unwrap().to_string(), text, "Display is what FromStr reads");
        }
        let cases = [
            ("a/[", "--hidden `a/[` is not a glob"),
            ("{a", "--hidden `{a` is not a glob"),
            ("", "--hidden= is empty"),
            ("/", "--hidden= is empty"),
        ];
        for (text, sentence) in cases {
            let said = text.parse::<HiddenGlob>().expect_err(text).to_string();
            assert!(said.starts_with(sentence), "{text:?}: {said}");
            assert!(said.ends_with("(from --hidden or RAWSERVE_HIDDEN)"), "{said}");
        }
    }
}
