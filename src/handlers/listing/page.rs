//! A listing rendered a slice of rows at a time, as HTML or JSON: the
//! page's head, then rows in steps that the caller spaces out between
//! other connections' turns, then its end. What the rows look like is
//! `html`'s and `json`'s; the order is `sort`'s.

use super::sort::Sorted;
use super::view::Format;
#[cfg(test)]
use super::view::View;
use super::{html, json, Entry, Writes};

/// About what a row adds to twice its name's length (HTML: ~70 with a
/// date; JSON: ~90), to reserve the page's room up front.
const ROW_BYTES_BESIDES_NAME: usize = 90;

/// Renders the listing at once; the server renders it in slices with
/// [`Page`], and the tests hold the slices to this.
#[cfg(test)]
pub fn render(request_path: &str, entries: Vec<Entry>, view: View, more: Option<usize>) -> String {
    let mut page = Page::new(request_path, entries, view, more);
    while !page.render_rows(usize::MAX) {}
    page.finish()
}

/// A listing rendered in steps, so that a large directory's rows can be
/// written a slice at a time between other connections' turns; the result
/// is exactly [`render`]'s.
#[derive(Debug)]
pub struct Page {
    out: String,
    /// Sorted; listed already (the caller decided what may be shown).
    entries: Vec<Entry>,
    /// The first entry not yet rendered.
    next: usize,
    more: Option<usize>,
    format: Format,
    /// What the page offers besides reading.
    writes: Writes,
}

impl Page {
    /// Sorts `entries` and writes the head of the page for the directory
    /// at `request_path` (as sent: percent-encoded, ending in `/`).
    /// Entries with an empty name are dropped: their link would point at
    /// the directory itself. `more` is the cap when the directory had more
    /// entries than were read: the page then says only the first are shown.
    #[cfg(test)]
    pub fn new(request_path: &str, entries: Vec<Entry>, view: View, more: Option<usize>) -> Page {
        let mut sorted = Sorted::new(view);
        entries.into_iter().for_each(|entry| sorted.push(entry));
        Page::sorted(request_path, sorted, more, Writes::default())
    }

    /// As [`Page::new`], from entries sorted as they were read.
    /// `writes` says which upload and change controls the page carries.
    pub fn sorted(request_path: &str, sorted: Sorted, more: Option<usize>, writes: Writes) -> Page {
        let view = sorted.view();
        let entries = sorted.into_entries();
        let mut out = match view.format {
            Format::Json => String::from(json::HEAD),
            Format::Html => html::head(request_path, &entries, &view, writes),
        };
        // One allocation for the rows instead of a doubling per ~2x.
        out.reserve(entries.iter().map(|e| 2 * e.name.len() + ROW_BYTES_BESIDES_NAME).sum());
        Page { out, entries, next: 0, more, format: view.format, writes }
    }

    /// Renders up to `max` more rows; true once every row is rendered.
    pub fn render_rows(&mut self, max: usize) -> bool {
        let end = self.entries.len().min(self.next.saturating_add(max));
        for (i, entry) in self.entries[self.next..end].iter().enumerate() {
            match self.format {
                Format::Html => html::row(&mut self.out, entry),
                Format::Json => json::item(&mut self.out, entry, self.next + i == 0),
            }
        }
        self.next = end;
        self.next == self.entries.len()
    }

    /// The whole page; rows not yet rendered are left out.
    pub fn finish(mut self) -> String {
        match self.format {
            Format::Json => json::finish(&mut self.out),
            Format::Html => html::finish(&mut self.out, &self.entries, self.more, self.writes),
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::listing::fixtures::{contains, default_page, dir, file, hrefs, lacks, sized, view};
    use crate::handlers::listing::view::{Order, SortBy};

    #[test]
    fn a_page_rendered_in_slices_is_the_page_rendered_at_once() {
        let entries = || (0..25).map(|i| if i % 3 == 0 { dir(&format!("d{i}")) } else { file(&format!("f{i}")) });
        for format in [Format::Html, Format::Json] {
            let view = View { format, ..View::default() };
            let whole = render("/big/", entries().collect(), view, Some(25));
            for slice in [1, 2, 7, 24, 25, 100] {
                let mut page = Page::new("/big/", entries().collect(), view, Some(25));
                let mut steps = 1;
                while !page.render_rows(slice) {
                    steps += 1;
                }
                assert_eq!(steps, 25_usize.div_ceil(slice), "slice {slice}");
                assert_eq!(page.finish(), whole, "slice {slice}");
            }
        }
    }

    #[test]
    fn a_capped_listing_says_so() {
        let html = render("/", vec![file("a")], View::default(), Some(10_000));
        contains(&html, "Showing the first 10000 entries of this directory only");
        lacks(&default_page("/", vec![file("a")]), "Showing the first");
    }

    #[test]
    fn non_utf8_names_link_their_raw_bytes_and_show_lossily() {
        let latin1 = Entry { name: b"caf\xe9.txt".to_vec(), is_dir: false, size: 3, modified: None };
        let html = default_page("/", vec![latin1.clone()]);
        contains(&html, "<a href=\"caf%E9.txt\">caf\u{fffd}.txt</a>");
        let json = render("/", vec![latin1], View { format: Format::Json, ..View::default() }, None);
        contains(&json, "\"name\":\"caf\u{fffd}.txt\",\"url\":\"caf%E9.txt\"");
    }

    #[test]
    fn folders_first_then_names_in_natural_order() {
        let html =
            default_page("/", vec![file("b.txt"), dir("zeta"), file("A.txt"), dir("Alpha"), file("a.txt"), file("B")]);
        assert_eq!(hrefs(&html), ["Alpha/", "zeta/", "A.txt", "a.txt", "B", "b.txt"]);
        let html = default_page(
            "/",
            vec![file("file10"), file("file2"), file("file1"), dir("v10"), dir("v9"), file("file02b")],
        );
        assert_eq!(hrefs(&html), ["v9/", "v10/", "file1", "file2", "file02b", "file10"]);
        contains(&html, "<tr class=d><td><a href=\"v10/\">v10/</a><td>-<td>-\n");
        contains(&html, "<tr><td><a href=\"file1\">file1</a><td>340 B<td>-\n");
    }

    #[test]
    fn sorting_by_size_and_date_both_ways() {
        let entries =
            || vec![sized("big", 900, 10), dir("d2"), sized("small", 5, 30), dir("d10"), sized("mid", 50, 20)];
        let order = |sort, order| hrefs(&render("/", entries(), view(sort, order), None)).join(" ");
        assert_eq!(order(SortBy::Size, Order::Asc), "d2/ d10/ small mid big");
        assert_eq!(order(SortBy::Size, Order::Desc), "d10/ d2/ big mid small");
        assert_eq!(order(SortBy::Date, Order::Asc), "d2/ d10/ big mid small");
        assert_eq!(order(SortBy::Date, Order::Desc), "d10/ d2/ small mid big");
        assert_eq!(order(SortBy::Name, Order::Desc), "d10/ d2/ small mid big");
    }

    #[test]
    fn hidden_and_empty_names_are_dropped_here_too() {
        let html = default_page("/", vec![file(""), file("visible"), file(".."), file(".")]);
        assert_eq!(hrefs(&html), ["visible"]);
    }

    #[test]
    fn parent_link() {
        assert_eq!(hrefs(&default_page("/", vec![file("a")])), ["a"]);
        assert_eq!(hrefs(&default_page("/files/nested/", vec![file("a")])), ["../", "a"]);
        assert_eq!(hrefs(&default_page("/files/", Vec::new())), ["../"]);
        assert!(hrefs(&default_page("/", Vec::new())).is_empty());
    }
}
