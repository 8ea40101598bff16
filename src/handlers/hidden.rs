//! What `--hidden` hides ([`HiddenNames`]): the folder's hidden globs
//! compiled into one set, and the one rule every part of the folder asks —
//! a request (404), a listing and an archive (left out), an upload
//! (refused) — so nothing hidden is answered by one and shown by another.
//!
//! A path is hidden when any part of it is: its own name matches a name
//! glob (one without `/`), or its path from the root a path glob, or so
//! do those of a folder on its way. So a
//! hidden folder hides all it holds, however deep, and a hidden name is
//! never reached through a redirect (`/private` → `/private/`), an index
//! page (`/` answered with a hidden `index.html`) or a fallback page.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use globset::{GlobSet, GlobSetBuilder};

use crate::config::{HiddenGlob, Setting, SettingError};

/// A folder's hidden globs, compiled.
#[derive(Debug, Clone, Default)]
pub struct HiddenNames {
    /// `None` when nothing is hidden: every check is then one branch.
    sets: Option<Sets>,
}

/// The globs by what they are matched against.
#[derive(Debug, Clone)]
struct Sets {
    /// Globs without `/`: an entry's name.
    names: GlobSet,
    /// Globs with one: its path from the root.
    paths: GlobSet,
}

impl HiddenNames {
    /// The set of `globs` (each checked when it was parsed; a set that
    /// cannot be built, which globset allows for, names the first glob).
    pub fn new(globs: &[HiddenGlob]) -> Result<HiddenNames, SettingError> {
        if globs.is_empty() {
            return Ok(HiddenNames { sets: None });
        }
        let set = |paths: bool| {
            let mut builder = GlobSetBuilder::new();
            for glob in globs.iter().filter(|glob| glob.is_path() == paths) {
                builder.add(glob.compiled().clone());
            }
            builder.build().map_err(|e| SettingError::new(Setting::Hidden, globs[0].glob(), e.to_string()))
        };
        Ok(HiddenNames { sets: Some(Sets { names: set(false)?, paths: set(true)? }) })
    }

    /// Whether `path` (relative to the root, only `Normal` components, as
    /// `safe_path::resolve` makes it) is hidden, itself or by a folder on
    /// its way.
    #[inline]
    pub fn hides(&self, path: &Path) -> bool {
        let Some(sets) = &self.sets else { return false };
        let mut prefix = PathBuf::new();
        for component in path.components() {
            let Component::Normal(name) = component else { continue };
            prefix.push(name);
            if sets.names.is_match(name) || (!sets.paths.is_empty() && sets.paths.is_match(&prefix)) {
                return true;
            }
        }
        false
    }

    /// Whether the entry `name` of the folder `dir` (relative to the root,
    /// itself not hidden: it is being listed or archived) is hidden.
    #[inline]
    pub fn hides_entry(&self, dir: &Path, name: &[u8]) -> bool {
        let Some(sets) = &self.sets else { return false };
        let name = OsStr::from_bytes(name);
        sets.names.is_match(name) || (!sets.paths.is_empty() && sets.paths.is_match(dir.join(name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(globs: &[&str]) -> HiddenNames {
        let globs: Vec<HiddenGlob> = globs.iter().map(|g| g.parse().unwrap()).collect();
        HiddenNames::new(&globs).unwrap()
    }

    #[test]
    fn a_path_is_hidden_by_its_name_its_path_or_a_folder_on_its_way() {
        let hidden = names(&["*.bak", "private", "drafts/*.md", "/top.txt"]);
        let cases: &[(&str, bool)] = &[
            ("a.txt", false),
            ("a.bak", true),
            ("deep/er/a.bak", true),
            ("a.bak/inside.txt", true),
            ("private", true),
            ("private/x.txt", true),
            ("a/private", true),
            ("a/private/b/c.txt", true),
            ("privately", false),
            ("drafts/x.md", true),
            ("drafts/x.txt", false),
            ("drafts/sub/x.md", false),
            ("a/drafts/x.md", false),
            ("top.txt", true),
            ("sub/top.txt", false),
            ("drafts", false),
            ("", false),
        ];
        for &(path, expected) in cases {
            assert_eq!(hidden.hides(Path::new(path)), expected, "{path}");
        }
        // An entry is judged as its whole path would be, its folder being shown.
        assert!(hidden.hides_entry(Path::new("a"), b"x.bak"));
        assert!(hidden.hides_entry(Path::new("drafts"), b"x.md"));
        assert!(!hidden.hides_entry(Path::new("other"), b"x.md"));
        assert!(hidden.hides_entry(Path::new(""), b"top.txt"));
        assert!(hidden.hides_entry(Path::new(""), b"caf\xe9.bak"), "names need not be UTF-8");
    }

    #[test]
    fn nothing_is_hidden_without_globs() {
        let none = names(&[]);
        assert!(!none.hides(Path::new("a.bak")) && !none.hides_entry(Path::new(""), b"private"));
        let everything = names(&["*"]);
        assert!(everything.hides(Path::new("x")) && !everything.hides(Path::new("")));
    }
}
