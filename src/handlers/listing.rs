//! Directory listings: turning a directory's entries into a small HTML5 page.
//!
//! This module owns the page: filtering dotfiles, ordering, link encoding,
//! HTML escaping and the size and date columns. Reading the directory,
//! converting file names to `String` (non-UTF-8 names are the caller's
//! concern), redirecting `/dir` to `/dir/` and deciding whether listings are
//! enabled at all are left to the caller.

use std::time::SystemTime;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::http::date;

/// Everything but RFC 3986 unreserved characters is percent-encoded in
/// links, so a name can never be read as a scheme (`a:b`), a query (`?`), a
/// fragment (`#`), a path separator or break out of the attribute.
const LINK_ENCODE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Binary size units; a u64 never exceeds 16 EiB.
const SIZE_UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/// Step between size units.
const SIZE_STEP: u64 = 1024;

/// What the size and date columns show when there is nothing to show.
const NO_VALUE: &str = "-";

/// Kept small and inline so a listing is one self-contained response.
const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
h1{font-size:1.3em;word-break:break-all}\
table{border-collapse:collapse;width:100%}\
th,td{padding:.3em .8em;text-align:left;border-bottom:1px solid #ddd}\
th{background:#f4f4f4}\
td:nth-child(2),th:nth-child(2){text-align:right;white-space:nowrap}\
td:nth-child(3){white-space:nowrap}\
a{text-decoration:none}\
a:hover{text-decoration:underline}";

/// One directory entry.
#[derive(Debug)]
pub struct Entry {
    /// The file name; may contain any Unicode, spaces, `<>&"'`.
    pub name: String,
    pub is_dir: bool,
    pub size: u64,
    pub modified: Option<SystemTime>,
}

/// Renders the listing of the directory at `url_path` (decoded, ending in
/// `/`, shown HTML-escaped as the title). Dotfiles are dropped; folders come
/// first, then names case-insensitively; links are the percent-encoded name
/// (all but unreserved characters) with `/` for folders; link text is the
/// escaped name; a `../` link unless at `/`; sizes human-readable, dates
/// IMF-fixdate.
///
/// Entries with an empty name are dropped too: their link would point at the
/// directory itself. `more` is the cap when the directory had more entries
/// than were read: the page then says that only the first ones are shown.
///
/// The whole page at once; the server renders it in slices with [`Page`],
/// and the tests hold the slices to this.
#[cfg(test)]
pub fn render(url_path: &str, entries: Vec<Entry>, more: Option<usize>) -> String {
    let mut page = Page::new(url_path, entries, more);
    while !page.render_rows(usize::MAX) {}
    page.finish()
}

/// A listing page rendered in steps, so that a large directory's rows can
/// be written a slice at a time between other connections' turns; the
/// result is exactly [`render`]'s.
#[derive(Debug)]
pub struct Page {
    html: String,
    /// Filtered and sorted.
    entries: Vec<Entry>,
    /// The first entry not yet rendered.
    next: usize,
    more: Option<usize>,
}

impl Page {
    /// Filters and sorts `entries` and writes the head of the page.
    pub fn new(url_path: &str, mut entries: Vec<Entry>, more: Option<usize>) -> Page {
        entries.retain(|e| !e.name.is_empty() && !e.name.starts_with('.'));
        // Each entry's lowercased name is computed once, not at every one of
        // the n log n comparisons (which took half of a 10,000-entry listing).
        // Comparing the collected strings orders them as comparing the char
        // sequences would: UTF-8 byte order is code point order.
        entries.sort_by_cached_key(|e| {
            (!e.is_dir, e.name.chars().flat_map(char::to_lowercase).collect::<String>(), e.name.clone())
        });
        let title = escape_html(url_path);
        let mut html = format!(
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>Index of {title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
             <h1>Index of {title}</h1>\n<table>\n\
             <thead><tr><th>Name</th><th>Size</th><th>Last modified</th></tr></thead>\n<tbody>\n"
        );
        if url_path != "/" {
            html.push_str(&row("../", "../", NO_VALUE, NO_VALUE));
        }
        Page { html, entries, next: 0, more }
    }

    /// Renders up to `max` more rows; true once every row is rendered.
    pub fn render_rows(&mut self, max: usize) -> bool {
        let end = self.entries.len().min(self.next.saturating_add(max));
        for entry in &self.entries[self.next..end] {
            let slash = if entry.is_dir { "/" } else { "" };
            // The encoded link holds only unreserved characters and '%', so it
            // needs no HTML escaping inside the attribute.
            let href = format!("{}{slash}", utf8_percent_encode(&entry.name, LINK_ENCODE));
            let text = format!("{}{slash}", escape_html(&entry.name));
            let size = if entry.is_dir { NO_VALUE.to_owned() } else { human_size(entry.size) };
            let modified = entry.modified.and_then(date::format).unwrap_or_else(|| NO_VALUE.to_owned());
            self.html.push_str(&row(&href, &text, &size, &modified));
        }
        self.next = end;
        self.next == self.entries.len()
    }

    /// The whole page; rows not yet rendered are left out.
    pub fn finish(mut self) -> String {
        self.html.push_str("</tbody>\n</table>\n");
        if let Some(cap) = self.more {
            self.html.push_str(&format!(
                "<p>Showing the first {cap} entries of this directory only; it has more than the server lists.</p>\n"
            ));
        }
        self.html.push_str("</body>\n</html>\n");
        self.html
    }
}

/// Escapes the five characters that matter in HTML text and attributes.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A size for people: bytes below 1 KiB, else one decimal in the largest
/// binary unit that keeps the number under 1024 after rounding.
pub fn human_size(bytes: u64) -> String {
    if bytes < SIZE_STEP {
        return format!("{bytes} {}", SIZE_UNITS[0]);
    }
    // Integer tenths, rounded half up, so nothing depends on float
    // formatting; u128 because bytes * 10 can overflow u64.
    let mut unit = 1;
    let mut divisor = u128::from(SIZE_STEP);
    loop {
        let tenths = (u128::from(bytes) * 10 + divisor / 2) / divisor;
        // 1023.96 KiB would print as "1024.0 KiB": move up a unit instead.
        if tenths < u128::from(SIZE_STEP) * 10 || unit == SIZE_UNITS.len() - 1 {
            return format!("{}.{} {}", tenths / 10, tenths % 10, SIZE_UNITS[unit]);
        }
        unit += 1;
        divisor *= u128::from(SIZE_STEP);
    }
}

fn row(href: &str, text: &str, size: &str, modified: &str) -> String {
    format!("<tr><td><a href=\"{href}\">{text}</a></td><td>{size}</td><td>{modified}</td></tr>\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::date::LIMIT_SECS as HTTP_DATE_LIMIT_SECS;
    use std::time::{Duration, UNIX_EPOCH};

    /// A listing of a directory read to its end.
    fn render(url_path: &str, entries: Vec<Entry>) -> String {
        super::render(url_path, entries, None)
    }

    #[test]
    fn a_page_rendered_in_slices_is_the_page_rendered_at_once() {
        let entries = || (0..25).map(|i| if i % 3 == 0 { dir(&format!("d{i}")) } else { file(&format!("f{i}")) });
        let whole = super::render("/big/", entries().collect(), Some(25));
        for slice in [1, 2, 7, 24, 25, 100] {
            let mut page = Page::new("/big/", entries().collect(), Some(25));
            let mut steps = 1;
            while !page.render_rows(slice) {
                steps += 1;
            }
            assert_eq!(steps, 25_usize.div_ceil(slice), "slice {slice}");
            assert_eq!(page.finish(), whole, "slice {slice}");
        }
    }
    fn file(name: &str) -> Entry {
        Entry { name: name.to_owned(), is_dir: false, size: 340, modified: None }
    }
    fn dir(name: &str) -> Entry {
        Entry { name: name.to_owned(), is_dir: true, size: 4096, modified: None }
    }
    fn size(bytes: u64, expected: &str) {
        assert_eq!(human_size(bytes), expected, "{bytes}");
    }
    fn escaped(s: &str, expected: &str) {
        assert_eq!(escape_html(s), expected, "{s:?}");
    }
    fn contains(html: &str, needle: &str) {
        assert!(html.contains(needle), "missing {needle:?} in:\n{html}");
    }
    fn lacks(html: &str, needle: &str) {
        assert!(!html.contains(needle), "unexpected {needle:?} in:\n{html}");
    }
    /// The link targets in page order.
    fn hrefs(html: &str) -> Vec<&str> {
        html.split("<a href=\"").skip(1).filter_map(|s| s.split('"').next()).collect()
    }

    #[test]
    fn a_capped_listing_says_so() {
        let html = super::render("/", vec![file("a")], Some(10_000));
        contains(&html, "<p>Showing the first 10000 entries of this directory only");
        lacks(&render("/", vec![file("a")]), "Showing the first");
    }

    #[test]
    fn human_sizes() {
        size(0, "0 B");
        size(1, "1 B");
        size(340, "340 B");
        size(1023, "1023 B");
        size(1024, "1.0 KiB");
        size(1229, "1.2 KiB");
        size(1536, "1.5 KiB");
        size(10 * 1024 - 1, "10.0 KiB");
        size(1024 * 1024 - 1, "1.0 MiB");
        size(1024 * 1024 - 52, "1023.9 KiB");
        size(5 * 1024 * 1024, "5.0 MiB");
        size(3 * 1024 * 1024 * 1024 / 2, "1.5 GiB");
        size(1 << 40, "1.0 TiB");
        size(1 << 50, "1.0 PiB");
        size(1 << 60, "1.0 EiB");
        size(u64::MAX, "16.0 EiB");
    }

    #[test]
    fn html_escaping() {
        escaped("plain", "plain");
        escaped("<b>&x.txt", "&lt;b&gt;&amp;x.txt");
        escaped("\"'", "&quot;&#39;");
        escaped("&amp;", "&amp;amp;");
        escaped("\u{2713} caf\u{e9}", "\u{2713} caf\u{e9}");
        escaped("", "");
    }

    #[test]
    fn hostile_names_are_escaped_and_encoded() {
        let html = render("/x/", vec![file("<b>&x.txt"), file("space name.txt"), file("\"q\"'s"), file("a:b?c#d")]);
        contains(&html, "<a href=\"%3Cb%3E%26x.txt\">&lt;b&gt;&amp;x.txt</a>");
        contains(&html, "<a href=\"space%20name.txt\">space name.txt</a>");
        contains(&html, "<a href=\"%22q%22%27s\">&quot;q&quot;&#39;s</a>");
        contains(&html, "<a href=\"a%3Ab%3Fc%23d\">");
        lacks(&html, "<b>");
    }

    #[test]
    fn unicode_names_and_unreserved_characters() {
        let html = render("/", vec![file("caf\u{e9}.txt"), file("A-z_0.9~")]);
        contains(&html, "<a href=\"caf%C3%A9.txt\">caf\u{e9}.txt</a>");
        contains(&html, "<a href=\"A-z_0.9~\">A-z_0.9~</a>");
    }

    #[test]
    fn folders_first_then_names() {
        let html = render("/", vec![file("b.txt"), dir("zeta"), file("A.txt"), dir("Alpha"), file("a.txt"), file("B")]);
        assert_eq!(hrefs(&html), ["Alpha/", "zeta/", "A.txt", "a.txt", "B", "b.txt"]);
        contains(&html, "<a href=\"zeta/\">zeta/</a></td><td>-</td><td>-</td>");
    }

    #[test]
    fn hidden_and_empty_names_are_dropped() {
        let html = render("/", vec![file(".env"), dir(".git"), file(""), file("visible"), file("..")]);
        assert_eq!(hrefs(&html), ["visible"]);
        lacks(&html, "env");
    }

    #[test]
    fn parent_link() {
        assert_eq!(hrefs(&render("/", vec![file("a")])), ["a"]);
        assert_eq!(hrefs(&render("/files/nested/", vec![file("a")])), ["../", "a"]);
        assert_eq!(hrefs(&render("/files/", Vec::new())), ["../"]);
        assert!(hrefs(&render("/", Vec::new())).is_empty());
    }

    #[test]
    fn title_and_structure() {
        let html = render("/<script>/", vec![file("a")]);
        assert!(html.starts_with("<!doctype html>\n"));
        contains(&html, "<meta charset=\"utf-8\">");
        contains(&html, "<title>Index of /&lt;script&gt;/</title>");
        contains(&html, "<h1>Index of /&lt;script&gt;/</h1>");
        contains(&html, "<style>");
        contains(&html, "<thead><tr><th>Name</th><th>Size</th><th>Last modified</th></tr></thead>");
        contains(&html, "<tbody>");
        lacks(&html, "<script>");
        assert!(html.ends_with("</tbody>\n</table>\n</body>\n</html>\n"));
        assert_eq!(render("/", Vec::new()).matches("<tr>").count(), 1);
    }

    #[test]
    fn size_and_date_columns() {
        let epoch_plus = |secs| Some(UNIX_EPOCH + Duration::from_secs(secs));
        let entries = vec![
            Entry { name: "dated".into(), is_dir: false, size: 1229, modified: epoch_plus(784_111_777) },
            Entry {
                name: "old".into(),
                is_dir: false,
                size: 0,
                modified: UNIX_EPOCH.checked_sub(Duration::from_secs(1)),
            },
            Entry { name: "far".into(), is_dir: false, size: 5 << 20, modified: epoch_plus(HTTP_DATE_LIMIT_SECS) },
            Entry { name: "last".into(), is_dir: false, size: 1, modified: epoch_plus(HTTP_DATE_LIMIT_SECS - 1) },
        ];
        let html = render("/", entries);
        contains(&html, ">dated</a></td><td>1.2 KiB</td><td>Sun, 06 Nov 1994 08:49:37 GMT</td>");
        contains(&html, ">old</a></td><td>0 B</td><td>-</td>");
        contains(&html, ">far</a></td><td>5.0 MiB</td><td>-</td>");
        contains(&html, ">last</a></td><td>1 B</td><td>Fri, 31 Dec 9999 23:59:59 GMT</td>");
    }
}
