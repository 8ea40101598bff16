//! Entries and page probes shared by the listing's unit tests.

use std::time::{Duration, UNIX_EPOCH};

use super::page;
use super::view::{Format, Order, SortBy, View};
use super::Entry;

/// A listing of a directory read to its end, in the default view.
pub fn default_page(request_path: &str, entries: Vec<Entry>) -> String {
    page::render(request_path, entries, View::default(), None)
}

pub fn file(name: &str) -> Entry {
    Entry { name: name.as_bytes().to_vec(), is_dir: false, size: 340, modified: None }
}

pub fn dir(name: &str) -> Entry {
    Entry { name: name.as_bytes().to_vec(), is_dir: true, size: 4096, modified: None }
}

pub fn sized(name: &str, size: u64, secs: u64) -> Entry {
    Entry {
        name: name.as_bytes().to_vec(),
        is_dir: false,
        size,
        modified: Some(UNIX_EPOCH + Duration::from_secs(secs)),
    }
}

pub fn contains(html: &str, needle: &str) {
    assert!(html.contains(needle), "missing {needle:?} in:\n{html}");
}

pub fn lacks(html: &str, needle: &str) {
    assert!(!html.contains(needle), "unexpected {needle:?} in:\n{html}");
}

/// The link targets of the rows, in page order.
pub fn hrefs(html: &str) -> Vec<&str> {
    let body = html.split("<tbody>").nth(1).unwrap_or("");
    body.split("<a href=\"").skip(1).filter_map(|s| s.split('"').next()).collect()
}

pub fn view(sort: SortBy, order: Order) -> View {
    View { sort, order, format: Format::Html }
}
