//! What a listing or a folder's tar may show of a directory: an entry is
//! listed by the rules a request for it would meet, so neither ever shows
//! what the server would refuse to serve. Also how a change to a listed
//! entry can be seen, for the kept listings. Below both `directory` and
//! `archive`, which each use it and not each other for it.

use std::ffi::{CStr, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::listing;
use super::Site;
use crate::safe_path;
use crate::sys::fs::{Entries, EntryKind, Stamp};

/// The listing entry for `name` in the directory `entries` (at `dir`
/// below the root), or `None` when a request for it would be refused: a
/// name no request can name (`safe_path::can_name`: hidden by its one
/// rule, or with a backslash), a name `--hidden` hides, anything but a regular file,
/// a directory or a symlink that resolves to one of those by the root's
/// rules (so never out of the root unless symlinks may lead anywhere), and
/// what the server may not read (a file) or enter (a directory).
pub fn listable(site: &Site, entries: &Entries, dir: &Path, name: &CStr) -> Option<listing::Entry> {
    examine(site, entries, dir, name).0
}

/// Whether the watch on a listed directory reports every change to what
/// the listing shows of one of its entries.
#[derive(Debug)]
pub enum Dependence {
    /// Yes: the entry is in the directory and only there (or not shown).
    Seen,
    /// A listed subdirectory, as it was read: its size and time change
    /// with its own entries, which only a watch on it reports.
    Subdirectory(Stamp),
    /// No: a symlink (its target is elsewhere, and may appear later), a
    /// file with other names, or an entry that could not be looked at.
    Unseen,
}

/// [`listable`], and how changes to the entry can be seen.
pub fn examine(site: &Site, entries: &Entries, dir: &Path, name: &CStr) -> (Option<listing::Entry>, Dependence) {
    let bytes = name.to_bytes();
    if !safe_path::can_name(bytes, site.options.dotfiles, dir.as_os_str().is_empty())
        || site.hidden.hides_entry(dir, bytes)
    {
        return (None, Dependence::Seen);
    }
    let Ok(stat) = entries.stat(name) else { return (None, Dependence::Unseen) };
    let (is_dir, size, modified, dependence) = match stat.kind {
        EntryKind::File if stat.links > 1 => (false, stat.size, stat.modified, Dependence::Unseen),
        EntryKind::File => (false, stat.size, stat.modified, Dependence::Seen),
        EntryKind::Directory => (true, stat.size, stat.modified, Dependence::Subdirectory(stat.stamp)),
        EntryKind::Symlink => {
            // Resolved as a request for it would be; the only entries that
            // cost a path.
            match site.root.metadata(&dir.join(OsStr::from_bytes(bytes))) {
                Ok(meta) if meta.is_file() || meta.is_dir() => {
                    (meta.is_dir(), meta.len(), meta.modified().ok(), Dependence::Unseen)
                }
                _ => return (None, Dependence::Unseen),
            }
        }
        // Never listed, whatever becomes of it but its name.
        EntryKind::Other => return (None, Dependence::Seen),
    };
    if !entries.usable(name, is_dir) {
        // A permission change is an attribute event on the directory.
        let dependence = if matches!(dependence, Dependence::Unseen) { dependence } else { Dependence::Seen };
        return (None, dependence);
    }
    (Some(listing::Entry { name: bytes.to_vec(), is_dir, size, modified }), dependence)
}
