//! A listing as a page people would choose: breadcrumbs that look like
//! links (the current folder as text), folder and file icons (inline SVG
//! in the style), the filter box and dates in the viewer's local time (the
//! inline script of `policy`; the page works without it, in UTC), sort and
//! download controls that are GET forms rather than links (so crawlers that
//! follow every link, `wget -r`, fetch neither a page per order nor a tar
//! per folder), dark mode by `prefers-color-scheme`, sizes in KiB/MiB and
//! dates with the exact time on hover. Names are shown lossily but
//! escaped; links are built from their raw bytes (`cells`).

use percent_encoding::{percent_decode_str, percent_encode};

use super::cells::{push_decimal, push_link, Utc, LINK_ENCODE};
use super::policy::{SCRIPT, STYLE};
use super::view::{Order, SortBy, View};
use super::{upload, Entry, Writes};

/// Binary size units; a u64 never exceeds 16 EiB.
const SIZE_UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/// Step between size units.
const SIZE_STEP: u64 = 1024;

/// What the size and date columns show when there is nothing to show.
const NO_VALUE: &str = "-";

/// `Content-Type` of the page.
pub const HTML_TYPE: &str = "text/html; charset=utf-8";

/// "Download this folder": a form, not links, like the sort buttons, so
/// that crawlers (`wget -r`) that follow every link do not fetch an
/// archive of each folder and a copy of each page per order; browsers
/// submit it as `?download=zip` (what a double-click opens on Windows and
/// macOS) or `?download=tar` (permissions kept), without script.
const DOWNLOAD_FORM: &str =
    "<form class=\"download\">Download folder: <button name=\"download\" value=\"zip\">.zip</button> \
                             <button name=\"download\" value=\"tar\">.tar</button></form>";

/// Everything before the first row: head, breadcrumbs, tools, the table's
/// header with sort links, and the parent row.
pub fn head(request_path: &str, entries: &[Entry], view: &View, writes: Writes) -> String {
    let title = escape_html(&percent_decode_str(request_path).decode_utf8_lossy());
    let mut html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n\
         <title>Index of {title}</title>\n<style>{STYLE}</style>\n"
    );
    upload::push_style(&mut html, writes);
    html.push_str("</head>\n<body>\n<h1>Index of ");
    breadcrumbs(&mut html, request_path);
    html.push_str("</h1>\n<div class=\"tools\"><input type=\"search\" id=\"filter\" placeholder=\"Filter\" ");
    html.push_str("aria-label=\"Filter by name\" hidden>");
    if !entries.is_empty() {
        html.push_str(DOWNLOAD_FORM);
    }
    html.push_str("</div>\n");
    upload::push_section(&mut html, writes);
    html.push_str("<table>\n<thead><tr>");
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

/// Everything after the last row: the table's end, the footer (what is
/// listed, and whether the directory had more than `more` allows), the
/// filter script.
pub fn finish(html: &mut String, entries: &[Entry], more: Option<usize>, writes: Writes) {
    html.push_str("</tbody>\n</table>\n<footer>");
    let folders = entries.iter().filter(|e| e.is_dir).count();
    let files = entries.len() - folders;
    let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    html.push_str(&format!("{}, {}", plural(folders, "folder", "folders"), plural(files, "file", "files")));
    if let Some(cap) = more {
        html.push_str(&format!(
            ". Showing the first {cap} entries of this directory only; it has more than the server lists"
        ));
    }
    html.push_str(".</footer>\n<script>");
    html.push_str(SCRIPT);
    html.push_str("</script>\n");
    upload::push_script(html, writes);
    html.push_str("</body>\n</html>\n");
}

/// `/`, then each segment of `request_path` linking to its folder; the
/// links are re-encoded from the decoded bytes, the text escaped.
fn breadcrumbs(html: &mut String, request_path: &str) {
    let segments: Vec<&str> = request_path.split('/').filter(|s| !s.is_empty()).collect();
    // The folder shown is marked as the current page (styled as text, not
    // as a link to itself).
    let current = |last: bool| if last { " aria-current=\"page\"" } else { "" };
    html.push_str(&format!("<a href=\"/\"{}>/</a>", current(segments.is_empty())));
    let mut href = String::from("/");
    for (i, segment) in segments.iter().enumerate() {
        let bytes: Vec<u8> = percent_decode_str(segment).collect();
        href.extend(percent_encode(&bytes, LINK_ENCODE));
        href.push('/');
        let text = escape_html(&String::from_utf8_lossy(&bytes));
        html.push_str(&format!("<a href=\"{href}\"{}>{text}</a>/", current(i + 1 == segments.len())));
    }
}

/// One row: `<tr><td><a href="…">name</a><td>size<td>date`, the end tags
/// left out (HTML lets a cell end at the next cell or row) and the columns
/// styled by position, not by a class per cell, so a plain entry costs
/// about 60 bytes of markup besides its name (it was ~200). A size that
/// is rounded keeps its byte count in a `title`; the date's seconds are
/// in the cell, shown on hover by the style alone (no script needed).
pub fn row(html: &mut String, entry: &Entry) {
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
    use crate::handlers::listing::fixtures::{contains, default_page, dir, file, lacks, view};
    use crate::handlers::listing::page::render;
    use crate::http::date::LIMIT_SECS as HTTP_DATE_LIMIT_SECS;
    use std::time::{Duration, UNIX_EPOCH};

    fn size(bytes: u64, expected: &str) {
        assert_eq!(human_size(bytes), expected, "{bytes}");
    }

    fn escaped(s: &str, expected: &str) {
        assert_eq!(escape_html(s), expected, "{s:?}");
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
        let html =
            default_page("/x/", vec![file("<b>&x.txt"), file("space name.txt"), file("\"q\"'s"), file("a:b?c#d")]);
        contains(&html, "<a href=\"%3Cb%3E%26x.txt\">&lt;b&gt;&amp;x.txt</a>");
        contains(&html, "<a href=\"space%20name.txt\">space name.txt</a>");
        contains(&html, "<a href=\"%22q%22%27s\">&quot;q&quot;&#39;s</a>");
        contains(&html, "<a href=\"a%3Ab%3Fc%23d\">");
        lacks(&html, "<b>");
    }

    #[test]
    fn unicode_names_and_unreserved_characters() {
        let html = default_page("/", vec![file("caf\u{e9}.txt"), file("A-z_0.9~")]);
        contains(&html, "<a href=\"caf%C3%A9.txt\">caf\u{e9}.txt</a>");
        contains(&html, "<a href=\"A-z_0.9~\">A-z_0.9~</a>");
    }

    #[test]
    fn sort_buttons_flip_the_current_column() {
        let html = render("/", vec![file("a")], view(SortBy::Size, Order::Asc), None);
        let button = |sort: &str, order: &str, label: &str| {
            format!(
                "<form><input type=\"hidden\" name=\"sort\" value=\"{sort}\"><button name=\"order\" \
                 value=\"{order}\">{label}</button></form>"
            )
        };
        contains(&html, &format!("<th class=\"name\">{}</th>", button("name", "asc", "Name")));
        contains(&html, &format!("aria-sort=\"ascending\">{}", button("size", "desc", "Size \u{25b2}")));
        let html = render("/", vec![file("a")], view(SortBy::Date, Order::Desc), None);
        contains(&html, &button("date", "asc", "Modified (UTC) \u{25bc}"));
    }

    #[test]
    fn breadcrumbs_link_every_ancestor() {
        let html = default_page("/a%20b/caf%E9/%3Cx%3E/", vec![file("f")]);
        contains(
            &html,
            "<h1>Index of <a href=\"/\">/</a><a href=\"/a%20b/\">a b</a>/<a href=\"/a%20b/caf%E9/\">caf\u{fffd}</a>/\
             <a href=\"/a%20b/caf%E9/%3Cx%3E/\" aria-current=\"page\">&lt;x&gt;</a>/</h1>",
        );
        contains(&default_page("/", vec![]), "<h1>Index of <a href=\"/\" aria-current=\"page\">/</a></h1>");
    }

    #[test]
    fn title_and_structure() {
        let html = default_page("/%3Cscript%3E/", vec![file("a")]);
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
        lacks(&default_page("/", Vec::new()), "<tr class=");
        lacks(&default_page("/", Vec::new()), "\"download\"");
        contains(&default_page("/", vec![dir("d"), file("a"), file("b")]), "<footer>1 folder, 2 files.</footer>");
    }

    /// The text between the first `open` and the `close` after it.
    fn between<'h>(html: &'h str, open: &str, close: &str) -> &'h str {
        let start = html.find(open).map(|at| at + open.len()).expect("opened");
        html[start..].split(close).next().expect("closed")
    }

    #[test]
    fn the_policy_allows_exactly_the_inline_style_and_script() {
        use base64::Engine;
        use sha2::Digest;
        let hash = |s: &str| base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(s.as_bytes()));
        // What a browser hashes: the page's own inline style and script.
        let html = default_page("/", vec![file("a")]);
        let (style, script) = (between(&html, "<style>", "</style>"), between(&html, "<script>", "</script>"));
        let policy = crate::handlers::listing::CONTENT_SECURITY_POLICY;
        let sources = format!("style-src 'sha256-{}'; script-src 'sha256-{}';", hash(style), hash(script));
        contains(policy, &sources);
        assert_eq!(html.matches("<style>").count(), 1, "only the one style");
        lacks(&html, " style=");
        assert!(policy.starts_with("default-src 'none'; ") && !policy.contains("unsafe-inline"), "{policy}");
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
        let html = default_page("/", entries);
        // A rounded size keeps its byte count on hover; an exact one needs none.
        contains(&html, ">dated</a><td title=\"1229 bytes\">1.2 KiB<td>1994-11-06 08:49<i>:37</i>\n");
        contains(&html, ">old</a><td>0 B<td>-\n");
        contains(&html, ">far</a><td title=\"5242880 bytes\">5.0 MiB<td>-\n");
        contains(&html, ">last</a><td>1 B<td>9999-12-31 23:59<i>:59</i>\n");
    }
}
