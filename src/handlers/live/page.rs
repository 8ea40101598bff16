//! Putting live reload's script into a page, and letting the page's own
//! Content-Security-Policy allow it. Pure functions over bytes and
//! strings, table-tested.
//!
//! The script (`live.js`) is inline, one constant, so an injected page is
//! the same bytes at every request: the caches keep it, and its content
//! `ETag` (a digest of the bytes sent) stays valid. A policy allows it by
//! its SHA-256 (`'sha256-…'`, computed when the crate is compiled), not
//! by a nonce: a nonce must change per response, which would make every
//! injected page uncacheable and its tag change at each request. The
//! script also needs `connect-src` to reach the event stream (`'self'`).
//! Both the header policies (`--header`, the listing's own) and a page's
//! `<meta http-equiv="Content-Security-Policy">` are amended, each by
//! [`amend_policy`], which only ever adds what the script needs: it never
//! loosens anything else (a source list with `'unsafe-inline'` already
//! allows the script, and adding a hash to it would disable that keyword
//! for the page's own scripts, so it is left as it is).

use crate::handlers::listing::policy::{as_str, concat, sha256_base64, total_len, BASE64_DIGEST};

/// The script, as the page carries it (between `<script>` and `</script>`).
pub const SCRIPT: &str = include_str!("live.js");

/// The CSP source that allows [`SCRIPT`]: `'sha256-<base64>'`.
pub const SCRIPT_HASH: &str = {
    const DIGEST: [u8; BASE64_DIGEST] = sha256_base64(SCRIPT.as_bytes());
    const PARTS: [&[u8]; 3] = [b"'sha256-", &DIGEST, b"'"];
    const BYTES: [u8; total_len(&PARTS)] = concat(&PARTS);
    as_str(&BYTES)
};

const OPEN: &[u8] = b"<script>";
const CLOSE: &[u8] = b"</script>\n";

/// `page` with the script before its last `</body>` (at the end when it
/// has none), and every `<meta http-equiv="Content-Security-Policy">`
/// amended to allow it.
pub fn inject(page: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(page.len() + OPEN.len() + SCRIPT.len() + CLOSE.len() + 128);
    let at = rfind_ignoring_case(page, b"</body").unwrap_or(page.len());
    amend_meta_policies(&page[..at], &mut out);
    out.extend_from_slice(OPEN);
    out.extend_from_slice(SCRIPT.as_bytes());
    out.extend_from_slice(CLOSE);
    out.extend_from_slice(&page[at..]);
    out
}

/// Copies `html` to `out`, the `content` of each CSP `<meta>` amended.
fn amend_meta_policies(html: &[u8], out: &mut Vec<u8>) {
    let mut copied = 0;
    let mut from = 0;
    while let Some(found) = find_ignoring_case(&html[from..], b"<meta") {
        let start = from + found;
        let Some(tag) = meta_tag(&html[start..]) else { break };
        from = start + tag.len;
        let is_policy = tag.http_equiv.is_some_and(|(s, e)| {
            decode(&html[start + s..start + e]).trim().eq_ignore_ascii_case("content-security-policy")
        });
        let Some((value_start, value_end, quoted)) = tag.content.filter(|_| is_policy) else { continue };
        let (value_start, value_end) = (start + value_start, start + value_end);
        let policy = decode(&html[value_start..value_end]);
        // The value with its quotes, rewritten in double quotes.
        let (span_start, span_end) = if quoted { (value_start - 1, value_end + 1) } else { (value_start, value_end) };
        out.extend_from_slice(&html[copied..span_start]);
        out.push(b'"');
        out.extend_from_slice(escape(&amend_policy(&policy)).as_bytes());
        out.push(b'"');
        copied = span_end;
    }
    out.extend_from_slice(&html[copied..]);
}

/// A `<meta …>` tag's length and where its attributes' values are
/// (offsets from the `<`): `http-equiv`'s, and `content`'s with whether it
/// was quoted.
struct MetaTag {
    len: usize,
    http_equiv: Option<(usize, usize)>,
    content: Option<(usize, usize, bool)>,
}

/// Reads the attributes of the tag at the start of `tag` (`<meta…`), as
/// HTML's tokenizer does: names up to `=`, values quoted with `"` or `'`
/// or unquoted up to a space or `>`. `None` when it does not end.
fn meta_tag(tag: &[u8]) -> Option<MetaTag> {
    let mut at = b"<meta".len();
    let mut found = MetaTag { len: 0, http_equiv: None, content: None };
    loop {
        while at < tag.len() && (tag[at].is_ascii_whitespace() || tag[at] == b'/') {
            at += 1;
        }
        if *tag.get(at)? == b'>' {
            found.len = at + 1;
            return Some(found);
        }
        let name_start = at;
        while at < tag.len() && !tag[at].is_ascii_whitespace() && !matches!(tag[at], b'=' | b'>' | b'/') {
            at += 1;
        }
        let name = &tag[name_start..at];
        while at < tag.len() && tag[at].is_ascii_whitespace() {
            at += 1;
        }
        if tag.get(at) != Some(&b'=') {
            continue;
        }
        at += 1;
        while at < tag.len() && tag[at].is_ascii_whitespace() {
            at += 1;
        }
        let (start, end, quoted) = match *tag.get(at)? {
            quote @ (b'"' | b'\'') => {
                let end = at + 1 + tag[at + 1..].iter().position(|&b| b == quote)?;
                let value = (at + 1, end, true);
                at = end + 1;
                value
            }
            _ => {
                let start = at;
                while at < tag.len() && !tag[at].is_ascii_whitespace() && tag[at] != b'>' {
                    at += 1;
                }
                (start, at, false)
            }
        };
        if name.eq_ignore_ascii_case(b"http-equiv") {
            found.http_equiv = Some((start, end));
        } else if name.eq_ignore_ascii_case(b"content") {
            found.content = Some((start, end, quoted));
        }
    }
}

/// An attribute value's text, with the character references a policy may
/// hold (`&#39;`, `&quot;`, `&amp;`…) decoded.
fn decode(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    if !text.contains('&') {
        return text.into_owned();
    }
    text.replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&apos;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&amp;", "&")
}

/// `value` ready to sit in double quotes.
fn escape(value: &str) -> String {
    value.replace('&', "&amp;").replace('"', "&quot;")
}

/// `policy` (one Content-Security-Policy) amended to let the script run
/// and reach the event stream, and nothing else:
///
/// - the directive that governs inline scripts (`script-src-elem`,
///   `script-src`, else `default-src`, copied into a new `script-src`)
///   gets the script's hash, unless `'unsafe-inline'` already allows it
///   (and no hash or nonce disables that); `'none'` becomes the hash;
/// - the one that governs `EventSource` (`connect-src`, else
///   `default-src`, copied) gets `'self'` unless it has it or `*`;
///   `'none'` becomes `'self'`.
///
/// A policy that restricts neither (no such directives) is unchanged.
pub fn amend_policy(policy: &str) -> String {
    let mut directives: Vec<(String, Vec<String>)> = policy
        .split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            let mut words = d.split_ascii_whitespace();
            let name = words.next().unwrap_or_default().to_ascii_lowercase();
            (name, words.map(str::to_string).collect())
        })
        .collect();
    let position = |directives: &[(String, Vec<String>)], name: &str| directives.iter().position(|(n, _)| n == name);
    let default = position(&directives, "default-src").map(|i| directives[i].1.clone());
    let scripts: Vec<usize> =
        ["script-src-elem", "script-src"].iter().filter_map(|n| position(&directives, n)).collect();
    // A missing directive falls back to default-src: copied, when that
    // does not allow the script already, so that nothing else changes.
    if scripts.is_empty() {
        if let Some(sources) = default.clone().map(allow_script).filter(|s| Some(s) != default.as_ref()) {
            directives.push(("script-src".to_string(), sources));
        }
    }
    for i in scripts {
        directives[i].1 = allow_script(std::mem::take(&mut directives[i].1));
    }
    match position(&directives, "connect-src") {
        Some(i) => directives[i].1 = allow_self(std::mem::take(&mut directives[i].1)),
        None => {
            if let Some(sources) = default.clone().map(allow_self).filter(|s| Some(s) != default.as_ref()) {
                directives.push(("connect-src".to_string(), sources));
            }
        }
    }
    let written: Vec<String> = directives
        .into_iter()
        .map(|(name, sources)| if sources.is_empty() { name } else { format!("{name} {}", sources.join(" ")) })
        .collect();
    written.join("; ")
}

/// A script source list that also allows the script.
fn allow_script(mut sources: Vec<String>) -> Vec<String> {
    let has = |word: &str| sources.iter().any(|s| s.eq_ignore_ascii_case(word));
    let keyed = sources.iter().any(|s| {
        let s = s.to_ascii_lowercase();
        s.starts_with("'nonce-") || s.starts_with("'sha") || s == "'strict-dynamic'"
    });
    if has("'unsafe-inline'") && !keyed {
        return sources;
    }
    if has(SCRIPT_HASH) {
        return sources;
    }
    sources.retain(|s| !s.eq_ignore_ascii_case("'none'"));
    sources.push(SCRIPT_HASH.to_string());
    sources
}

/// A connect source list that also allows the page's own origin.
fn allow_self(mut sources: Vec<String>) -> Vec<String> {
    if sources.iter().any(|s| s.eq_ignore_ascii_case("'self'") || s == "*") {
        return sources;
    }
    sources.retain(|s| !s.eq_ignore_ascii_case("'none'"));
    sources.push("'self'".to_string());
    sources
}

fn find_ignoring_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle))
}

fn rfind_ignoring_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use sha2::Digest;

    const TAG: &str = concat!("<script>", include_str!("live.js"), "</script>\n");

    fn page(before: &str, want: &str) {
        let got = String::from_utf8(inject(before.as_bytes())).unwrap();
        assert_eq!(got, want.replace("TAG", TAG), "{before:?}");
    }

    #[test]
    fn the_script_goes_before_the_last_body_end() {
        page("<p>hi</p></body></html>", "<p>hi</p>TAG</body></html>");
        page("<p>hi</p></BODY >\n", "<p>hi</p>TAG</BODY >\n");
        page("<script>'</body>'</script><p>x</p></body>", "<script>'</body>'</script><p>x</p>TAG</body>");
        page("<p>no body end", "<p>no body endTAG");
        page("", "TAG");
    }

    #[test]
    fn meta_policies_are_amended() {
        let hash = SCRIPT_HASH;
        let cases: &[(&str, String)] = &[
            (
                r#"<meta http-equiv="Content-Security-Policy" content="script-src 'self'">"#,
                format!(r#"<meta http-equiv="Content-Security-Policy" content="script-src 'self' {hash}">"#),
            ),
            // Single quotes, entities, other case, unquoted names, self-closing.
            (
                r#"<META HTTP-EQUIV=content-security-policy CONTENT='default-src &#39;none&#39;' />"#,
                format!(
                    r#"<META HTTP-EQUIV=content-security-policy CONTENT="default-src 'none'; script-src {hash}; connect-src 'self'" />"#
                ),
            ),
            // Other metas stay as they are.
            (
                r#"<meta charset="utf-8"><meta name="x" content="script-src">"#,
                r#"<meta charset="utf-8"><meta name="x" content="script-src">"#.to_string(),
            ),
            (r#"<meta http-equiv="refresh" content="5">"#, r#"<meta http-equiv="refresh" content="5">"#.to_string()),
            // A tag that never ends is left alone.
            (
                r#"<meta http-equiv="Content-Security-Policy" content="x"#,
                r#"<meta http-equiv="Content-Security-Policy" content="x"#.to_string(),
            ),
        ];
        for (before, after) in cases {
            let got = String::from_utf8(inject(before.as_bytes())).unwrap();
            assert_eq!(got, format!("{after}{TAG}"), "{before}");
        }
    }

    fn policy(before: &str, after: &str) {
        assert_eq!(amend_policy(before), after.replace("HASH", SCRIPT_HASH), "{before:?}");
    }

    #[test]
    fn policies_gain_the_script_and_nothing_else() {
        policy("script-src 'self'", "script-src 'self' HASH");
        policy("script-src 'none'", "script-src HASH");
        policy(
            "script-src 'self' 'nonce-abc'; connect-src https://api.example",
            "script-src 'self' 'nonce-abc' HASH; connect-src https://api.example 'self'",
        );
        // 'unsafe-inline' already allows it; a hash would switch it off.
        policy("script-src 'unsafe-inline'", "script-src 'unsafe-inline'");
        policy("script-src 'unsafe-inline' 'sha256-x'", "script-src 'unsafe-inline' 'sha256-x' HASH");
        // default-src is copied, so nothing else loosens or tightens.
        policy(
            "default-src 'self' https://cdn.example",
            "default-src 'self' https://cdn.example; script-src 'self' https://cdn.example HASH",
        );
        policy(
            "default-src 'none'; img-src 'self'",
            "default-src 'none'; img-src 'self'; script-src HASH; connect-src 'self'",
        );
        policy("default-src *", "default-src *; script-src * HASH");
        policy("default-src 'self' 'unsafe-inline'", "default-src 'self' 'unsafe-inline'");
        policy("connect-src 'none'", "connect-src 'self'");
        policy("connect-src *", "connect-src *");
        // script-src-elem governs script elements; both are amended.
        policy("script-src-elem 'self'; script-src 'self'", "script-src-elem 'self' HASH; script-src 'self' HASH");
        // Nothing restricted: nothing to do; odd spacing is tidied.
        policy("img-src 'self'", "img-src 'self'");
        policy(
            "  frame-ancestors 'none' ;; upgrade-insecure-requests ",
            "frame-ancestors 'none'; upgrade-insecure-requests",
        );
        policy("", "");
        // Twice is once.
        assert_eq!(amend_policy(&amend_policy("script-src 'self'")), amend_policy("script-src 'self'"));
    }

    #[test]
    fn the_hash_is_the_scripts() {
        let digest = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(SCRIPT.as_bytes()));
        assert_eq!(SCRIPT_HASH, format!("'sha256-{digest}'"));
        assert!(!SCRIPT.to_ascii_lowercase().contains("</script"), "the script cannot end its own element");
    }
}
