//! What a burst of file-system events means to the pages that are open:
//! nothing, new stylesheets, or a reload. Pure: the watcher feeds it the
//! events of one burst (`Burst::note`), and asks at the end of the burst
//! (`Burst::finish`).
//!
//! An editor's save is several events: vim renames the file to `file~`,
//! writes a new `file`, removes `file~` (and probes with `4913` first);
//! `sed -i`, Sublime and many tools write `.file.tmpXXXX` or `sedXXXXXX`
//! and rename it over the file. So a name that appeared and vanished
//! within the burst was a temporary and means nothing; hidden names
//! (`.git/`, `.file.swp`) and backups (`file~`) never mean anything. What
//! is left is what changed: if every such name is a stylesheet the pages
//! swap those in place, else they reload.

use std::collections::HashMap;

use percent_encoding::{percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::sys::notify::What;

/// Bytes escaped in a path sent to the pages: everything but what stays
/// as it is in a URL path, so a name with a line break or a `%` cannot
/// break the event's framing, and the page compares decoded paths.
const PATH_ENCODE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'/').remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The extension of the files swapped in place instead of reloading.
const STYLESHEET: &str = ".css";

/// What the open pages should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Replace the stylesheets at these URL paths (`/css/site.css`).
    Styles(Vec<String>),
    /// Reload: the first changed URL path, for the page's log.
    Reload(String),
}

/// The events of one burst, by path below the root.
#[derive(Debug, Default)]
pub struct Burst {
    /// For each path (relative to the root, as raw bytes): what happened
    /// to it first and last in this burst.
    seen: HashMap<Vec<u8>, (What, What)>,
    /// First-seen order, so the outcome does not depend on hashing.
    order: Vec<Vec<u8>>,
}

impl Burst {
    /// Nothing noted since the last `finish`.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Notes that `what` happened to `path` (relative to the root). Hidden
    /// names and editors' backups are left out here.
    pub fn note(&mut self, path: &[u8], what: What) {
        if ignored(path) {
            return;
        }
        match self.seen.get_mut(path) {
            Some((_, last)) => *last = what,
            None => {
                self.seen.insert(path.to_vec(), (what, what));
                self.order.push(path.to_vec());
            }
        }
    }

    /// What the burst means, and a fresh start for the next one.
    pub fn finish(&mut self) -> Option<Change> {
        let seen = std::mem::take(&mut self.seen);
        let order = std::mem::take(&mut self.order);
        let changed: Vec<String> = order
            .into_iter()
            .filter(|path| match seen.get(path) {
                // A temporary: made and gone within the burst.
                Some((What::Appeared, What::Vanished)) => false,
                Some(_) => true,
                None => false,
            })
            .map(|path| url_path(&path))
            .collect();
        let first = changed.first()?.clone();
        if changed.iter().all(|path| path.ends_with(STYLESHEET)) {
            Some(Change::Styles(changed))
        } else {
            Some(Change::Reload(first))
        }
    }
}

/// Whether a change to `path` (relative to the root) can concern no page:
/// a hidden name anywhere on it (never served, and where `.git/` and
/// editors' swap files live), or an editor's backup or probe (`file~`,
/// vim's `4913`, JetBrains' `file___jb_tmp___`).
pub fn ignored(path: &[u8]) -> bool {
    let hidden = path.split(|&b| b == b'/').any(|component| component.starts_with(b"."));
    let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    hidden
        || name.ends_with(b"~")
        || name == b"4913"
        || name.ends_with(b"___jb_tmp___")
        || name.ends_with(b"___jb_old___")
}

/// `path` (relative to the root) as the URL path a page asks for it by.
fn url_path(path: &[u8]) -> String {
    format!("/{}", percent_encode(path, PATH_ENCODE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use What::{Appeared, Vanished, Written};

    /// What the events `(path, what)`, in order, mean.
    fn burst(events: &[(&str, What)], want: Option<Change>) {
        let mut burst = Burst::default();
        for (path, what) in events {
            burst.note(path.as_bytes(), *what);
        }
        assert_eq!(burst.finish(), want, "{events:?}");
        assert!(burst.is_empty(), "a fresh start");
    }

    fn styles(paths: &[&str]) -> Option<Change> {
        Some(Change::Styles(paths.iter().map(|p| p.to_string()).collect()))
    }

    fn reload(path: &str) -> Option<Change> {
        Some(Change::Reload(path.to_string()))
    }

    #[test]
    fn what_a_burst_means() {
        // A plain save.
        burst(&[("index.html", Written)], reload("/index.html"));
        burst(&[("css/site.css", Written)], styles(&["/css/site.css"]));
        // Written anew: created, then written.
        burst(&[("a.js", Appeared), ("a.js", Written)], reload("/a.js"));
        // `sed -i`: a temporary written and renamed over the file.
        burst(
            &[("sedAbC123", Appeared), ("sedAbC123", Written), ("sedAbC123", Vanished), ("site.css", Appeared)],
            styles(&["/site.css"]),
        );
        // vim: probe, backup by rename, new file, backup removed.
        burst(
            &[
                ("4913", Appeared),
                ("4913", Vanished),
                ("page.html", Vanished),
                ("page.html~", Appeared),
                ("page.html", Appeared),
                ("page.html", Written),
                ("page.html~", Vanished),
            ],
            reload("/page.html"),
        );
        // Hidden names and their folders never count.
        burst(&[(".git/index", Written), (".git/objects/ab/cd", Appeared)], None);
        burst(&[(".site.css.swp", Written), ("sub/.hidden/x.html", Written)], None);
        // A temporary alone: nothing.
        burst(&[("tmp123", Appeared), ("tmp123", Vanished)], None);
        // A removed file counts (a page may show it), and a stylesheet
        // beside anything else reloads.
        burst(&[("gone.png", Vanished)], reload("/gone.png"));
        burst(&[("a.css", Written), ("b.css", Written), ("c.js", Written)], reload("/a.css"));
        burst(&[("a.css", Written), ("b.css", Written), ("a.css", Written)], styles(&["/a.css", "/b.css"]));
        // Names that could break an event's line are escaped.
        burst(&[("we ird\n%.css", Written)], styles(&["/we%20ird%0A%25.css"]));
        burst(&[("caf\u{e9}.html", Written)], reload("/caf%C3%A9.html"));
    }

    #[test]
    fn ignored_names() {
        for (path, want) in [
            ("index.html", false),
            ("a/b/c.css", false),
            (".git/HEAD", true),
            ("a/.b/c", true),
            (".env", true),
            ("a/file~", true),
            ("a/4913", true),
            ("a/14913", false),
            ("x.css___jb_tmp___", true),
            ("x.css___jb_old___", true),
        ] {
            assert_eq!(ignored(path.as_bytes()), want, "{path}");
        }
    }
}
