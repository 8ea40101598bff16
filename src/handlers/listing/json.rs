//! A listing as JSON, for programs: an array of Caddy's browse items.

use super::cells::{push_decimal, push_link, Utc};
use super::Entry;

/// `Content-Type` of the JSON listing.
pub const JSON_TYPE: &str = "application/json";

/// What comes before the first item.
pub const HEAD: &str = "[";

/// Ends the array after the last item.
pub fn finish(json: &mut String) {
    json.push_str("]\n");
}

/// One item as Caddy's browse JSON has it: `name` (lossy for a non-UTF-8
/// name), `url` (the exact, encoded link), `is_dir`, `size`, `mod_time`.
pub fn item(json: &mut String, entry: &Entry, first: bool) {
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

#[cfg(test)]
mod tests {
    use crate::handlers::listing::fixtures::{dir, sized};
    use crate::handlers::listing::page::render;
    use crate::handlers::listing::view::{Format, View};

    #[test]
    fn json_items() {
        let entries = vec![dir("d\"ir"), sized("a\\b\n<", 7, 784_111_777)];
        let json = render("/", entries, View { format: Format::Json, ..View::default() }, None);
        assert_eq!(
            json,
            "[\n{\"name\":\"d\\\"ir\",\"url\":\"d%22ir/\",\"is_dir\":true,\"size\":4096,\"mod_time\":null},\
             \n{\"name\":\"a\\\\b\\u000a\\u003c\",\"url\":\"a%5Cb%0A%3C\",\"is_dir\":false,\"size\":7,\
             \"mod_time\":\"1994-11-06T08:49:37Z\"}]\n"
        );
        assert_eq!(render("/", vec![], View { format: Format::Json, ..View::default() }, None), "[]\n");
    }
}
