//! Directory listings: turning a directory's entries into a page people
//! would choose (as miniserve's and Caddy's browse pages), or into JSON.
//!
//! This module owns what a listing shows and how: the view a request asks
//! for (`?sort=name|size|date&order=asc|desc`, `?format=json` or `Accept:
//! application/json`), natural ordering with folders first, links built
//! from the raw name bytes (so a non-UTF-8 name is reachable) and names
//! shown lossily but escaped, breadcrumbs, the filter box (a tiny inline
//! script allowed by its hash in the page's own Content-Security-Policy;
//! the page works without it), dark mode by `prefers-color-scheme`, sizes
//! in KiB/MiB and dates with the exact time on hover. The sort and
//! download controls are GET forms rather than links, so crawlers that
//! follow every link (`wget -r`) fetch neither a page per order nor a tar
//! per folder. A stricter policy an operator adds (another
//! `Content-Security-Policy` applies as well) only keeps the filter box
//! hidden. Reading the directory, deciding what is listed at all,
//! validators and slicing the work are `directory`'s.

use std::cmp::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use percent_encoding::{percent_decode_str, percent_encode, AsciiSet, NON_ALPHANUMERIC};

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

/// About what a row adds to twice its name's length (HTML: ~70 with a
/// date; JSON: ~90), to reserve the page's room up front.
const ROW_BYTES_BESIDES_NAME: usize = 90;

/// `Content-Type` of the page and of the JSON listing.
pub const HTML_TYPE: &str = "text/html; charset=utf-8";
pub const JSON_TYPE: &str = "application/json";

/// Kept small and inline so a listing is one self-contained response.
/// Colours are variables so that `prefers-color-scheme: dark` swaps them
/// all; below 40em the date column gives its room to the names.
const STYLE: &str = ":root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--muted:#656d76;--line:#d8dee4;\
--head:#f6f8fa;--hover:#f0f4f9;--link:#0969da}\
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#8d96a0;--line:#30363d;\
--head:#161b22;--hover:#1c2330;--link:#4493f8}}\
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;padding:1.2em;max-width:72em;background:var(--bg);color:var(--fg)}\
h1{font-size:1.25em;font-weight:600;margin:0 0 .7em;word-break:break-all}\
h1 a{color:inherit}\
.tools{display:flex;flex-wrap:wrap;gap:.6em 1.2em;align-items:center;margin:0 0 .8em}\
#filter{flex:1;min-width:10em;max-width:26em;padding:.35em .6em;font:inherit;color:inherit;background:var(--bg);\
border:1px solid var(--line);border-radius:6px}\
table{border-collapse:collapse;width:100%}\
th,td{padding:.4em .7em;text-align:left;border-bottom:1px solid var(--line)}\
th{background:var(--head);font-weight:600;white-space:nowrap}\
form{display:inline;margin:0}\
button{font:inherit;color:var(--link);background:none;border:0;padding:0;cursor:pointer}\
button:hover{text-decoration:underline}\
th button{color:inherit;font-weight:600}\
tbody tr:hover{background:var(--hover)}\
td:first-child{word-break:break-all}\
td+td{white-space:nowrap;font-variant-numeric:tabular-nums;color:var(--muted)}\
th.size,td:nth-child(2){text-align:right}\
td i{font-style:normal;visibility:hidden}\
tr:hover i{visibility:visible}\
tr.d a{font-weight:600}\
a{color:var(--link);text-decoration:none}\
a:hover{text-decoration:underline}\
footer{color:var(--muted);margin-top:.8em;font-size:.9em}\
@media (max-width:40em){body{padding:.6em}th.date,td+td+td{display:none}}";

/// The filter box: shown only when script runs, it hides the rows whose
/// name does not contain what is typed (`/` focuses it). The parent row is
/// never hidden.
const SCRIPT: &str = "const f=document.getElementById('filter');f.hidden=false;\
f.addEventListener('input',()=>{const q=f.value.toLowerCase();\
for(const r of document.querySelectorAll('tbody tr:not(.p)'))\
r.hidden=q!==''&&!r.cells[0].textContent.toLowerCase().includes(q)});\
addEventListener('keydown',e=>{if(e.key==='/'&&document.activeElement!==f){e.preventDefault();f.focus()}});";

/// "Download this folder": a form, not a link, like the sort buttons, so
/// that crawlers (`wget -r`) that follow every link do not fetch a tar of
/// each folder and a copy of each page per order; browsers submit it as
/// `?download=tar`, without script.
const DOWNLOAD_FORM: &str = "<form><button name=\"download\" value=\"tar\">Download folder (.tar)</button></form>";

/// The page's policy: nothing but its own style and script (by their
/// SHA-256, checked by a test), so a hostile file name that slipped past
/// escaping still could not run anything.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; \
style-src 'sha256-nBr+lNHpVrOIuvtL+7I3Ap9QiHjnqi+yBn8u1gvu1Js='; \
script-src 'sha256-uKxYriGkQnmHIF70SS6ySiEEZeMaJ96ERNsfzLmpG9U='; \
img-src 'self'; base-uri 'none'; form-action 'self'";

/// One directory entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The file name's raw bytes; may be any bytes but `/` and NUL.
    pub name: Vec<u8>,
    pub is_dir: bool,
    pub size: u64,
    pub modified: Option<SystemTime>,
}

/// The column a listing is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SortBy {
    #[default]
    Name,
    Size,
    Date,
}

impl SortBy {
    fn token(self) -> &'static str {
        match self {
            SortBy::Name => "name",
            SortBy::Size => "size",
            SortBy::Date => "date",
        }
    }
}

/// Ascending or descending; folders stay first either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Order {
    #[default]
    Asc,
    Desc,
}

/// HTML for people, JSON for programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    #[default]
    Html,
    Json,
}

/// What a request asks of a listing. Unknown values fall back to the
/// default, as Caddy's browse does, rather than failing the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct View {
    pub sort: SortBy,
    pub order: Order,
    pub format: Format,
}

impl View {
    /// The view from the query (`?sort=…&order=…&format=json`, with its
    /// `?`) and the `Accept` field: JSON when the query says so, or when
    /// `application/json` is acceptable and the query does not say `html`.
    pub fn of(query: &str, accept: Option<&str>) -> View {
        let sort = match param(query, "sort") {
            Some("size") => SortBy::Size,
            Some("date") => SortBy::Date,
            _ => SortBy::Name,
        };
        let order = match param(query, "order") {
            Some("desc") => Order::Desc,
            _ => Order::Asc,
        };
        let format = match param(query, "format") {
            Some("json") => Format::Json,
            Some("html") => Format::Html,
            _ if accept.is_some_and(accepts_json) => Format::Json,
            _ => Format::Html,
        };
        View { sort, order, format }
    }
}

/// The value of the first `name=value` pair of a query string (with or
/// without its `?`); values are compared as sent, none of ours needs decoding.
pub fn param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query.trim_start_matches('?').split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then_some(value)
    })
}

/// Whether an `Accept` field lists `application/json` with a non-zero
/// quality (a browser's `*/*` does not count: it gets the page).
fn accepts_json(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let kind = parts.next().unwrap_or("");
        let zero = parts.any(|p| {
            p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")).is_some_and(|q| q.trim_end_matches('0') == "0.")
                || p == "q=0"
        });
        kind.eq_ignore_ascii_case("application/json") && !zero
    })
}

/// Entries sorted for a view as they are read, so that no single step
/// sorts a whole large directory (10,000 names took ~11 ms in one go):
/// each entry's key (its lowercased name above all) is computed when it is
/// added, each run (a slice of the directory) is sorted when it ends, and
/// [`Sorted::into_entries`] merges the runs, which the standard library's
/// stable sort does in O(n log runs) because it finds them. The order:
/// folders first, then by the view's column, names in natural order
/// (`file2` before `file10`, case-insensitive) as the tie-break, then the
/// raw bytes; `desc` reverses folders and files each.
#[derive(Debug)]
pub struct Sorted {
    view: View,
    /// Each entry's key and its place in `entries`: sorting these moves
    /// 48 bytes an item rather than key and entry (~110); for 10,000 names
    /// the sort took 14.6 M instructions instead of 17.5 M.
    keys: Vec<(Key, usize)>,
    entries: Vec<Entry>,
    /// Where the run not yet sorted starts.
    run_start: usize,
}

/// Files after folders and the column's value in one number (the top bit
/// set for a file), then the natural key of the name.
type Key = (u128, Vec<u8>);

/// The top bit of a key's number: the entry is a file.
const FILE_BIT: u128 = 1 << 127;

impl Sorted {
    pub fn new(view: View) -> Sorted {
        Sorted { view, keys: Vec::new(), entries: Vec::new(), run_start: 0 }
    }

    /// Adds an entry; an empty name, `.` and `..` are dropped (their
    /// links would point at this directory or its parent).
    pub fn push(&mut self, entry: Entry) {
        if entry.name.is_empty() || entry.name == b"." || entry.name == b".." {
            return;
        }
        let column = match self.view.sort {
            SortBy::Name => 0,
            SortBy::Size if entry.is_dir => 0,
            SortBy::Size => u128::from(entry.size),
            SortBy::Date => entry.modified.and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos()),
        };
        // Nanoseconds since 1970 stay far below the top bit.
        let kind = if entry.is_dir { 0 } else { FILE_BIT };
        self.keys.push(((kind | column.min(FILE_BIT - 1), natural_key(&entry.name)), self.entries.len()));
        self.entries.push(entry);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Sorts the entries added since the last run ended.
    pub fn end_run(&mut self) {
        let entries = &self.entries;
        self.keys[self.run_start..].sort_by(|a, b| by_key(entries, a, b));
        self.run_start = self.keys.len();
    }

    /// The entries in order.
    pub fn into_entries(mut self) -> Vec<Entry> {
        self.end_run();
        let entries = &self.entries;
        self.keys.sort_by(|a, b| by_key(entries, a, b));
        let mut slots: Vec<Option<Entry>> = self.entries.into_iter().map(Some).collect();
        let mut entries: Vec<Entry> = self.keys.iter().filter_map(|&(_, at)| slots[at].take()).collect();
        if self.view.order == Order::Desc {
            let folders = entries.iter().take_while(|e| e.is_dir).count();
            let (dirs, files) = entries.split_at_mut(folders);
            dirs.reverse();
            files.reverse();
        }
        entries
    }
}

/// The order of two keyed entries: by key, then by the names' raw bytes.
fn by_key(entries: &[Entry], a: &(Key, usize), b: &(Key, usize)) -> Ordering {
    a.0.cmp(&b.0).then_with(|| entries[a.1].name.cmp(&entries[b.1].name))
}

/// The digit run of `s` starting at `k`: where it ends, and its digits
/// without leading zeros.
fn digit_run(s: &[u8], mut k: usize) -> (usize, &[u8]) {
    let start = k;
    while k < s.len() && s[k].is_ascii_digit() {
        k += 1;
    }
    let digits = &s[start..k];
    let first = digits.iter().position(|&d| d != b'0').unwrap_or(digits.len());
    (k, &digits[first..])
}

/// A name's natural sort key: bytes that compare (as plain bytes, a
/// `memcmp`) in natural order, case-insensitively. Each run of ASCII
/// digits becomes `0`, its length without leading zeros (two bytes, big
/// end first) and those digits, so runs compare by value (any length,
/// `file2` before `file10`, `010` = `10`); other bytes stay, which for
/// UTF-8 is code point order. The marker `0` compares with any other byte
/// as every digit does, and two keys equal up to a marker are at a digit
/// run in both, so lengths meet lengths and digits meet digits.
fn natural_key(name: &[u8]) -> Vec<u8> {
    // An ASCII name is lowered byte by byte below, without a copy first.
    let lowered;
    let lower: &[u8] = if name.is_ascii() {
        name
    } else {
        lowered = String::from_utf8_lossy(name).chars().flat_map(char::to_lowercase).collect::<String>();
        lowered.as_bytes()
    };
    let mut key = Vec::with_capacity(lower.len() + 4);
    let mut i = 0;
    while i < lower.len() {
        if lower[i].is_ascii_digit() {
            let (next, digits) = digit_run(lower, i);
            key.push(b'0');
            // A file name is at most 255 bytes; a u16 holds any run.
            key.extend_from_slice(&u16::try_from(digits.len()).unwrap_or(u16::MAX).to_be_bytes());
            key.extend_from_slice(digits);
            i = next;
        } else {
            key.push(lower[i].to_ascii_lowercase());
            i += 1;
        }
    }
    key
}

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
        Page::sorted(request_path, sorted, more)
    }

    /// As [`Page::new`], from entries sorted as they were read.
    pub fn sorted(request_path: &str, sorted: Sorted, more: Option<usize>) -> Page {
        let view = sorted.view;
        let entries = sorted.into_entries();
        let mut out = match view.format {
            Format::Json => String::from("["),
            Format::Html => html_head(request_path, &entries, &view),
        };
        // One allocation for the rows instead of a doubling per ~2x.
        out.reserve(entries.iter().map(|e| 2 * e.name.len() + ROW_BYTES_BESIDES_NAME).sum());
        Page { out, entries, next: 0, more, format: view.format }
    }

    /// Renders up to `max` more rows; true once every row is rendered.
    pub fn render_rows(&mut self, max: usize) -> bool {
        let end = self.entries.len().min(self.next.saturating_add(max));
        for (i, entry) in self.entries[self.next..end].iter().enumerate() {
            match self.format {
                Format::Html => html_row(&mut self.out, entry),
                Format::Json => json_item(&mut self.out, entry, self.next + i == 0),
            }
        }
        self.next = end;
        self.next == self.entries.len()
    }

    /// The whole page; rows not yet rendered are left out.
    pub fn finish(mut self) -> String {
        if self.format == Format::Json {
            self.out.push_str("]\n");
            return self.out;
        }
        self.out.push_str("</tbody>\n</table>\n<footer>");
        let folders = self.entries.iter().filter(|e| e.is_dir).count();
        let files = self.entries.len() - folders;
        let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        self.out.push_str(&format!("{}, {}", plural(folders, "folder", "folders"), plural(files, "file", "files")));
        if let Some(cap) = self.more {
            self.out.push_str(&format!(
                ". Showing the first {cap} entries of this directory only; it has more than the server lists"
            ));
        }
        self.out.push_str(".</footer>\n<script>");
        self.out.push_str(SCRIPT);
        self.out.push_str("</script>\n</body>\n</html>\n");
        self.out
    }
}

/// Everything before the first row: head, breadcrumbs, tools, the table's
/// header with sort links, and the parent row.
fn html_head(request_path: &str, entries: &[Entry], view: &View) -> String {
    let title = escape_html(&percent_decode_str(request_path).decode_utf8_lossy());
    let mut html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n\
         <title>Index of {title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>Index of "
    );
    breadcrumbs(&mut html, request_path);
    html.push_str("</h1>\n<div class=\"tools\"><input type=\"search\" id=\"filter\" placeholder=\"Filter\" ");
    html.push_str("aria-label=\"Filter by name\" hidden>");
    if !entries.is_empty() {
        html.push_str(DOWNLOAD_FORM);
    }
    html.push_str("</div>\n<table>\n<thead><tr>");
    for (column, label, class) in
        [(SortBy::Name, "Name", "name"), (SortBy::Size, "Size", "size"), (SortBy::Date, "Modified (UTC)", "date")]
    {
        // The current column's link flips its order; another's starts ascending.
        let current = view.sort == column;
        let (next, mark) = match (current, view.order) {
            (true, Order::Asc) => ("desc", " \u{25b2}"),
            (true, Order::Desc) => ("asc", " \u{25bc}"),
            (false, _) => ("asc", ""),
        };
        let sorted = match (current, view.order) {
            (true, Order::Asc) => " aria-sort=\"ascending\"",
            (true, Order::Desc) => " aria-sort=\"descending\"",
            _ => "",
        };
        html.push_str(&format!(
            "<th class=\"{class}\"{sorted}><form><input type=\"hidden\" name=\"sort\" value=\"{}\">\
             <button name=\"order\" value=\"{next}\">{label}{mark}</button></form></th>",
            column.token()
        ));
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    if request_path != "/" {
        html.push_str("<tr class=p><td><a href=\"../\">../</a><td>-<td>-\n");
    }
    html
}

/// `/`, then each segment of `request_path` linking to its folder; the
/// links are re-encoded from the decoded bytes, the text escaped.
fn breadcrumbs(html: &mut String, request_path: &str) {
    html.push_str("<a href=\"/\">/</a>");
    let mut href = String::from("/");
    for segment in request_path.split('/').filter(|s| !s.is_empty()) {
        let bytes: Vec<u8> = percent_decode_str(segment).collect();
        href.extend(percent_encode(&bytes, LINK_ENCODE));
        href.push('/');
        let text = escape_html(&String::from_utf8_lossy(&bytes));
        html.push_str(&format!("<a href=\"{href}\">{text}</a>/"));
    }
}

/// One row: `<tr><td><a href="…">name</a><td>size<td>date`, the end tags
/// left out (HTML lets a cell end at the next cell or row) and the columns
/// styled by position, not by a class per cell, so a plain entry costs
/// about 60 bytes of markup besides its name (it was ~200). A size that
/// is rounded keeps its byte count in a `title`; the date's seconds are
/// in the cell, shown on hover by the style alone (no script needed).
fn html_row(html: &mut String, entry: &Entry) {
    html.push_str(if entry.is_dir { "<tr class=d><td><a href=\"" } else { "<tr><td><a href=\"" });
    // The encoded link holds only unreserved characters and '%', so it
    // needs no HTML escaping inside the attribute.
    push_link(html, &entry.name);
    let slash = if entry.is_dir { "/" } else { "" };
    html.push_str(slash);
    html.push_str("\">");
    push_escaped(html, &String::from_utf8_lossy(&entry.name));
    html.push_str(slash);
    html.push_str("</a><td");
    if entry.is_dir {
        html.push('>');
        html.push_str(NO_VALUE);
    } else if entry.size < SIZE_STEP {
        html.push('>');
        push_human_size(html, entry.size);
    } else {
        html.push_str(" title=\"");
        push_decimal(html, entry.size);
        html.push_str(" bytes\">");
        push_human_size(html, entry.size);
    }
    html.push_str("<td>");
    match entry.modified.and_then(Utc::of) {
        Some(t) => t.push_shown(html),
        None => html.push_str(NO_VALUE),
    }
    html.push('\n');
}

/// One item as Caddy's browse JSON has it: `name` (lossy for a non-UTF-8
/// name), `url` (the exact, encoded link), `is_dir`, `size`, `mod_time`.
fn json_item(json: &mut String, entry: &Entry, first: bool) {
    if !first {
        json.push(',');
    }
    let slash = if entry.is_dir { "/" } else { "" };
    json.push_str("\n{\"name\":");
    json_string(json, &String::from_utf8_lossy(&entry.name));
    json.push_str(",\"url\":\"");
    push_link(json, &entry.name);
    json.push_str(slash);
    json.push_str(if entry.is_dir { "\",\"is_dir\":true,\"size\":" } else { "\",\"is_dir\":false,\"size\":" });
    push_decimal(json, entry.size);
    match entry.modified.and_then(Utc::of) {
        Some(t) => {
            json.push_str(",\"mod_time\":\"");
            t.push_rfc3339(json);
            json.push_str("\"}");
        }
        None => json.push_str(",\"mod_time\":null}"),
    }
}

/// Appends `name` percent-encoded for a link (see [`LINK_ENCODE`]).
fn push_link(out: &mut String, name: &[u8]) {
    percent_encode(name, LINK_ENCODE).for_each(|chunk| out.push_str(chunk));
}

/// Appends `n` in decimal, without the formatting machinery (a listing
/// writes tens of thousands of numbers).
fn push_decimal(out: &mut String, mut n: u64) {
    // u64::MAX has 20 digits.
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    push_ascii(out, &digits[at..]);
}

/// Writes `n` (below 10,000) zero-padded into all of `digits`.
fn put_padded(digits: &mut [u8], n: u64) {
    let mut rest = n;
    for slot in digits.iter_mut().rev() {
        *slot = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
}

/// A JSON string literal (RFC 8259 §7): quotes, backslashes and control
/// characters escaped.
fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c < ' ' || c == '\u{7f}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            // Never `</script>`-breaking in any context it might be pasted into.
            '<' => out.push_str("\\u003c"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A UTC time split into its calendar fields (by the `time` crate), for
/// the date column and JSON's `mod_time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Utc {
    year: u64,
    month: u64,
    day: u64,
    hour: u64,
    minute: u64,
    second: u64,
}

impl Utc {
    /// Times before 1970 or after 9999 (which no HTTP date can express
    /// either) have no date shown.
    fn of(t: SystemTime) -> Option<Utc> {
        let secs = t.duration_since(UNIX_EPOCH).ok()?.as_secs();
        if secs >= date::LIMIT_SECS {
            return None;
        }
        let t = time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).ok()?).ok()?;
        Some(Utc {
            // 1970 to 9999, by the checks above.
            year: u64::try_from(t.year()).ok()?,
            month: u64::from(u8::from(t.month())),
            day: u64::from(t.day()),
            hour: u64::from(t.hour()),
            minute: u64::from(t.minute()),
            second: u64::from(t.second()),
        })
    }

    /// `2026-12-01T21:54:08Z`, for JSON.
    fn push_rfc3339(&self, out: &mut String) {
        let mut text = *b"0000-00-00T00:00:00Z";
        self.put(&mut text);
        push_ascii(out, &text);
    }

    /// `2026-12-01 21:54<i>:08</i>`, the column's text: the seconds, in
    /// `<i>`, are shown on hover by the style.
    fn push_shown(&self, out: &mut String) {
        let mut text = *b"0000-00-00 00:00<i>:00</i>";
        self.put(&mut text);
        push_ascii(out, &text);
    }

    /// Fills in the fields of a `YYYY-MM-DD?hh:mm` pattern, and `ss` at
    /// its first `:00` after the minutes.
    fn put(&self, text: &mut [u8]) {
        put_padded(&mut text[0..4], self.year);
        put_padded(&mut text[5..7], self.month);
        put_padded(&mut text[8..10], self.day);
        put_padded(&mut text[11..13], self.hour);
        put_padded(&mut text[14..16], self.minute);
        if let Some(at) = text[16..].windows(3).position(|w| w == b":00") {
            put_padded(&mut text[16 + at + 1..16 + at + 3], self.second);
        }
    }
}

/// Appends bytes known to be ASCII (digits and the patterns' punctuation).
fn push_ascii(out: &mut String, text: &[u8]) {
    out.push_str(std::str::from_utf8(text).unwrap_or_default());
}

/// Escapes the five characters that matter in HTML text and attributes.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_escaped(&mut out, s);
    out
}

/// Appends `s` escaped as [`escape_html`] does, copying the runs between
/// the characters it replaces whole.
fn push_escaped(out: &mut String, s: &str) {
    let mut start = 0;
    for (i, byte) in s.bytes().enumerate() {
        let replacement = match byte {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        // ASCII bytes are character boundaries.
        out.push_str(&s[start..i]);
        out.push_str(replacement);
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

/// A size for people: bytes below 1 KiB, else one decimal in the largest
/// binary unit that keeps the number under 1024 after rounding.
#[cfg(test)]
fn human_size(bytes: u64) -> String {
    let mut out = String::new();
    push_human_size(&mut out, bytes);
    out
}

fn push_human_size(out: &mut String, bytes: u64) {
    if bytes < SIZE_STEP {
        push_decimal(out, bytes);
        out.push(' ');
        out.push_str(SIZE_UNITS[0]);
        return;
    }
    // Integer tenths, rounded half up, so nothing depends on float
    // formatting; u128 because bytes * 10 can overflow u64.
    let mut unit = 1;
    let mut divisor = u128::from(SIZE_STEP);
    loop {
        let tenths = (u128::from(bytes) * 10 + divisor / 2) / divisor;
        // 1023.96 KiB would print as "1024.0 KiB": move up a unit instead.
        if tenths < u128::from(SIZE_STEP) * 10 || unit == SIZE_UNITS.len() - 1 {
            // Below 10,240 (or 16.0 EiB at most): fits a u64.
            let tenths = u64::try_from(tenths).unwrap_or(u64::MAX);
            push_decimal(out, tenths / 10);
            out.push('.');
            push_decimal(out, tenths % 10);
            out.push(' ');
            out.push_str(SIZE_UNITS[unit]);
            return;
        }
        unit += 1;
        divisor *= u128::from(SIZE_STEP);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::date::LIMIT_SECS as HTTP_DATE_LIMIT_SECS;
    use std::time::Duration;

    /// A listing of a directory read to its end, in the default view.
    fn render(request_path: &str, entries: Vec<Entry>) -> String {
        super::render(request_path, entries, View::default(), None)
    }

    fn file(name: &str) -> Entry {
        Entry { name: name.as_bytes().to_vec(), is_dir: false, size: 340, modified: None }
    }
    fn dir(name: &str) -> Entry {
        Entry { name: name.as_bytes().to_vec(), is_dir: true, size: 4096, modified: None }
    }
    fn sized(name: &str, size: u64, secs: u64) -> Entry {
        Entry {
            name: name.as_bytes().to_vec(),
            is_dir: false,
            size,
            modified: Some(UNIX_EPOCH + Duration::from_secs(secs)),
        }
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
    /// The link targets of the rows, in page order.
    fn hrefs(html: &str) -> Vec<&str> {
        let body = html.split("<tbody>").nth(1).unwrap_or("");
        body.split("<a href=\"").skip(1).filter_map(|s| s.split('"').next()).collect()
    }
    fn view(sort: SortBy, order: Order) -> View {
        View { sort, order, format: Format::Html }
    }

    #[test]
    fn a_page_rendered_in_slices_is_the_page_rendered_at_once() {
        let entries = || (0..25).map(|i| if i % 3 == 0 { dir(&format!("d{i}")) } else { file(&format!("f{i}")) });
        for format in [Format::Html, Format::Json] {
            let view = View { format, ..View::default() };
            let whole = super::render("/big/", entries().collect(), view, Some(25));
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
        let html = super::render("/", vec![file("a")], View::default(), Some(10_000));
        contains(&html, "Showing the first 10000 entries of this directory only");
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
    fn non_utf8_names_link_their_raw_bytes_and_show_lossily() {
        let latin1 = Entry { name: b"caf\xe9.txt".to_vec(), is_dir: false, size: 3, modified: None };
        let html = render("/", vec![latin1.clone()]);
        contains(&html, "<a href=\"caf%E9.txt\">caf\u{fffd}.txt</a>");
        let json = super::render("/", vec![latin1], View { format: Format::Json, ..View::default() }, None);
        contains(&json, "\"name\":\"caf\u{fffd}.txt\",\"url\":\"caf%E9.txt\"");
    }

    #[test]
    fn folders_first_then_names_in_natural_order() {
        let html = render("/", vec![file("b.txt"), dir("zeta"), file("A.txt"), dir("Alpha"), file("a.txt"), file("B")]);
        assert_eq!(hrefs(&html), ["Alpha/", "zeta/", "A.txt", "a.txt", "B", "b.txt"]);
        let html =
            render("/", vec![file("file10"), file("file2"), file("file1"), dir("v10"), dir("v9"), file("file02b")]);
        assert_eq!(hrefs(&html), ["v9/", "v10/", "file1", "file2", "file02b", "file10"]);
        contains(&html, "<tr class=d><td><a href=\"v10/\">v10/</a><td>-<td>-\n");
        contains(&html, "<tr><td><a href=\"file1\">file1</a><td>340 B<td>-\n");
    }

    #[test]
    fn sorting_in_runs_is_sorting_at_once() {
        let names: Vec<Entry> = (0..500u64)
            .map(|i| {
                let n = i.wrapping_mul(2_654_435_761) % 997;
                let name = format!("{}{n}", ["file", "File", "dir", "a", "\u{e9}t\u{e9}"][(n % 5) as usize]);
                Entry {
                    is_dir: n % 7 == 0,
                    size: n % 13,
                    modified: Some(UNIX_EPOCH + Duration::from_secs(n % 11)),
                    ..file(&name)
                }
            })
            .collect();
        for sort in [SortBy::Name, SortBy::Size, SortBy::Date] {
            for order in [Order::Asc, Order::Desc] {
                let mut at_once = Sorted::new(view(sort, order));
                names.iter().cloned().for_each(|e| at_once.push(e));
                let mut in_runs = Sorted::new(view(sort, order));
                for (i, e) in names.iter().cloned().enumerate() {
                    in_runs.push(e);
                    if i % 37 == 0 {
                        in_runs.end_run();
                    }
                }
                let order_of = |s: Sorted| s.into_entries().into_iter().map(|e| e.name).collect::<Vec<_>>();
                assert_eq!(order_of(in_runs), order_of(at_once), "{sort:?} {order:?}");
            }
        }
    }

    #[test]
    fn natural_comparison() {
        let cases: &[(&str, &str, Ordering)] = &[
            ("file2", "file10", Ordering::Less),
            ("file10", "file10", Ordering::Equal),
            ("file010", "file10", Ordering::Equal),
            ("a", "a1", Ordering::Less),
            ("1", "a", Ordering::Less),
            ("x99999999999999999999999", "x100000000000000000000000", Ordering::Less),
            ("v1.10", "v1.9", Ordering::Greater),
            ("", "", Ordering::Equal),
            ("\u{e9}", "z", Ordering::Greater),
            ("File2", "file10", Ordering::Less),
            ("\u{c9}t\u{e9}", "\u{e9}t\u{e9}", Ordering::Equal),
            ("a0", "a", Ordering::Greater),
            ("a00", "a0", Ordering::Equal),
            ("a-1", "a1", Ordering::Less),
            ("a 1", "a1", Ordering::Less),
            ("a:1", "a1", Ordering::Greater),
            ("file1b", "file1a", Ordering::Greater),
            ("file1", "file1.txt", Ordering::Less),
        ];
        for (a, b, expected) in cases {
            assert_eq!(natural_key(a.as_bytes()).cmp(&natural_key(b.as_bytes())), *expected, "{a:?} {b:?}");
        }
    }

    /// Natural order as a direct comparison, the model the keys follow.
    fn natural_cmp(a: &[u8], b: &[u8]) -> Ordering {
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
                let (next_i, x) = digit_run(a, i);
                let (next_j, y) = digit_run(b, j);
                let by_value = x.len().cmp(&y.len()).then_with(|| x.cmp(y));
                if by_value != Ordering::Equal {
                    return by_value;
                }
                (i, j) = (next_i, next_j);
            } else {
                if a[i] != b[j] {
                    return a[i].cmp(&b[j]);
                }
                i += 1;
                j += 1;
            }
        }
        (a.len() - i).cmp(&(b.len() - j))
    }

    #[test]
    fn natural_keys_compare_as_the_model_does() {
        let parts = ["", "a", "-", " ", "0", "00", "1", "01", "10", "099", "\u{e9}"];
        let mut names = Vec::new();
        for x in parts {
            for y in parts {
                for z in parts {
                    names.push(format!("{x}{y}{z}"));
                }
            }
        }
        let keys: Vec<Vec<u8>> = names.iter().map(|n| natural_key(n.as_bytes())).collect();
        for (a, key_a) in names.iter().zip(&keys) {
            for (b, key_b) in names.iter().zip(&keys) {
                assert_eq!(key_a.cmp(key_b), natural_cmp(a.as_bytes(), b.as_bytes()), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn sorting_by_size_and_date_both_ways() {
        let entries =
            || vec![sized("big", 900, 10), dir("d2"), sized("small", 5, 30), dir("d10"), sized("mid", 50, 20)];
        let order = |sort, order| hrefs(&super::render("/", entries(), view(sort, order), None)).join(" ");
        assert_eq!(order(SortBy::Size, Order::Asc), "d2/ d10/ small mid big");
        assert_eq!(order(SortBy::Size, Order::Desc), "d10/ d2/ big mid small");
        assert_eq!(order(SortBy::Date, Order::Asc), "d2/ d10/ big mid small");
        assert_eq!(order(SortBy::Date, Order::Desc), "d10/ d2/ small mid big");
        assert_eq!(order(SortBy::Name, Order::Desc), "d10/ d2/ small mid big");
    }

    #[test]
    fn sort_buttons_flip_the_current_column() {
        let html = super::render("/", vec![file("a")], view(SortBy::Size, Order::Asc), None);
        let button = |sort: &str, order: &str, label: &str| {
            format!(
                "<form><input type=\"hidden\" name=\"sort\" value=\"{sort}\"><button name=\"order\" \
                 value=\"{order}\">{label}</button></form>"
            )
        };
        contains(&html, &format!("<th class=\"name\">{}</th>", button("name", "asc", "Name")));
        contains(&html, &format!("aria-sort=\"ascending\">{}", button("size", "desc", "Size \u{25b2}")));
        let html = super::render("/", vec![file("a")], view(SortBy::Date, Order::Desc), None);
        contains(&html, &button("date", "asc", "Modified (UTC) \u{25bc}"));
    }

    #[test]
    fn views_from_query_and_accept() {
        let json = |sort, order| View { sort, order, format: Format::Json };
        let cases: &[(&str, Option<&str>, View)] = &[
            ("", None, View::default()),
            ("?sort=size", None, view(SortBy::Size, Order::Asc)),
            ("?sort=date&order=desc", None, view(SortBy::Date, Order::Desc)),
            ("?order=desc&sort=name", None, view(SortBy::Name, Order::Desc)),
            ("?sort=bogus&order=sideways", None, View::default()),
            ("?format=json", None, json(SortBy::Name, Order::Asc)),
            ("?format=json&sort=size", Some("text/html"), json(SortBy::Size, Order::Asc)),
            ("", Some("application/json"), json(SortBy::Name, Order::Asc)),
            ("", Some("text/html, application/json;q=0.5"), json(SortBy::Name, Order::Asc)),
            ("", Some("Application/JSON"), json(SortBy::Name, Order::Asc)),
            ("", Some("application/json;q=0"), View::default()),
            ("", Some("application/json; q=0.00"), View::default()),
            ("", Some("text/html,*/*;q=0.8"), View::default()),
            ("?format=html", Some("application/json"), View::default()),
        ];
        for (query, accept, expected) in cases {
            assert_eq!(View::of(query, *accept), *expected, "{query:?} {accept:?}");
        }
        assert_eq!(param("?a=1&download=tar", "download"), Some("tar"));
        assert_eq!(param("?download", "download"), Some(""));
        assert_eq!(param("?xdownload=tar", "download"), None);
    }

    #[test]
    fn hidden_and_empty_names_are_dropped_here_too() {
        let html = render("/", vec![file(""), file("visible"), file(".."), file(".")]);
        assert_eq!(hrefs(&html), ["visible"]);
    }

    #[test]
    fn parent_link() {
        assert_eq!(hrefs(&render("/", vec![file("a")])), ["a"]);
        assert_eq!(hrefs(&render("/files/nested/", vec![file("a")])), ["../", "a"]);
        assert_eq!(hrefs(&render("/files/", Vec::new())), ["../"]);
        assert!(hrefs(&render("/", Vec::new())).is_empty());
    }

    #[test]
    fn breadcrumbs_link_every_ancestor() {
        let html = render("/a%20b/caf%E9/%3Cx%3E/", vec![file("f")]);
        contains(
            &html,
            "<h1>Index of <a href=\"/\">/</a><a href=\"/a%20b/\">a b</a>/<a href=\"/a%20b/caf%E9/\">caf\u{fffd}</a>/\
             <a href=\"/a%20b/caf%E9/%3Cx%3E/\">&lt;x&gt;</a>/</h1>",
        );
        contains(&render("/", vec![]), "<h1>Index of <a href=\"/\">/</a></h1>");
    }

    #[test]
    fn title_and_structure() {
        let html = render("/%3Cscript%3E/", vec![file("a")]);
        assert!(html.starts_with("<!doctype html>\n"));
        contains(&html, "<meta charset=\"utf-8\">");
        contains(&html, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
        contains(&html, "<title>Index of /&lt;script&gt;/</title>");
        contains(&html, "@media (prefers-color-scheme:dark)");
        contains(&html, "<input type=\"search\" id=\"filter\"");
        contains(&html, DOWNLOAD_FORM);
        contains(&html, "<tbody>");
        assert_eq!(html.matches("<script>").count(), 1, "only the filter script");
        assert!(html.ends_with("</script>\n</body>\n</html>\n"));
        lacks(&render("/", Vec::new()), "<tr class=");
        lacks(&render("/", Vec::new()), "\"download\"");
        contains(&render("/", vec![dir("d"), file("a"), file("b")]), "<footer>1 folder, 2 files.</footer>");
    }

    #[test]
    fn the_policy_allows_exactly_the_inline_style_and_script() {
        use base64::Engine;
        use sha2::Digest;
        let hash = |s: &str| base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(s.as_bytes()));
        let sources = format!("style-src 'sha256-{}'; script-src 'sha256-{}';", hash(STYLE), hash(SCRIPT));
        contains(CONTENT_SECURITY_POLICY, &sources);
        let html = render("/", vec![file("a")]);
        contains(&html, &format!("<style>{STYLE}</style>"));
        contains(&html, &format!("<script>{SCRIPT}</script>"));
        lacks(&html, " style=");
    }

    #[test]
    fn size_and_date_columns() {
        let epoch_plus = |secs| Some(UNIX_EPOCH + Duration::from_secs(secs));
        let entry = |name: &str, size, modified| Entry { name: name.into(), is_dir: false, size, modified };
        let entries = vec![
            entry("dated", 1229, epoch_plus(784_111_777)),
            entry("old", 0, UNIX_EPOCH.checked_sub(Duration::from_secs(1))),
            entry("far", 5 << 20, epoch_plus(HTTP_DATE_LIMIT_SECS)),
            entry("last", 1, epoch_plus(HTTP_DATE_LIMIT_SECS - 1)),
        ];
        let html = render("/", entries);
        // A rounded size keeps its byte count on hover; an exact one needs none.
        contains(&html, ">dated</a><td title=\"1229 bytes\">1.2 KiB<td>1994-11-06 08:49<i>:37</i>\n");
        contains(&html, ">old</a><td>0 B<td>-\n");
        contains(&html, ">far</a><td title=\"5242880 bytes\">5.0 MiB<td>-\n");
        contains(&html, ">last</a><td>1 B<td>9999-12-31 23:59<i>:59</i>\n");
    }

    #[test]
    fn calendar_fields() {
        let at = |secs: u64| {
            Utc::of(UNIX_EPOCH + Duration::from_secs(secs)).map(|t| {
                let mut out = String::new();
                t.push_rfc3339(&mut out);
                out
            })
        };
        assert_eq!(at(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(at(59).as_deref(), Some("1970-01-01T00:00:59Z"));
        assert_eq!(at(86_399).as_deref(), Some("1970-01-01T23:59:59Z"));
        assert_eq!(at(68_169_600).as_deref(), Some("1972-02-29T00:00:00Z"));
        assert_eq!(at(94_694_399).as_deref(), Some("1972-12-31T23:59:59Z"));
        assert_eq!(at(784_111_777).as_deref(), Some("1994-11-06T08:49:37Z"));
        assert_eq!(at(946_684_799).as_deref(), Some("1999-12-31T23:59:59Z"));
        assert_eq!(at(951_782_400).as_deref(), Some("2000-02-29T00:00:00Z"));
        assert_eq!(at(1_709_164_799).as_deref(), Some("2024-02-28T23:59:59Z"));
        assert_eq!(at(1_709_251_199).as_deref(), Some("2024-02-29T23:59:59Z"));
        assert_eq!(at(2_147_483_648).as_deref(), Some("2038-01-19T03:14:08Z"));
        // 2100 is no leap year.
        assert_eq!(at(4_107_542_399).as_deref(), Some("2100-02-28T23:59:59Z"));
        assert_eq!(at(4_107_542_400).as_deref(), Some("2100-03-01T00:00:00Z"));
        assert_eq!(at(HTTP_DATE_LIMIT_SECS - 1).as_deref(), Some("9999-12-31T23:59:59Z"));
        assert_eq!(at(HTTP_DATE_LIMIT_SECS), None);
        assert_eq!(at(u64::MAX / 2), None);
    }

    #[test]
    fn json_items() {
        let entries = vec![dir("d\"ir"), sized("a\\b\n<", 7, 784_111_777)];
        let json = super::render("/", entries, View { format: Format::Json, ..View::default() }, None);
        assert_eq!(
            json,
            "[\n{\"name\":\"d\\\"ir\",\"url\":\"d%22ir/\",\"is_dir\":true,\"size\":4096,\"mod_time\":null},\
             \n{\"name\":\"a\\\\b\\u000a\\u003c\",\"url\":\"a%5Cb%0A%3C\",\"is_dir\":false,\"size\":7,\
             \"mod_time\":\"1994-11-06T08:49:37Z\"}]\n"
        );
        assert_eq!(super::render("/", vec![], View { format: Format::Json, ..View::default() }, None), "[]\n");
    }
}
