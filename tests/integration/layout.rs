//! The source tree's shape, as the architecture issue asked for it: no
//! two modules that use each other (directly or around a loop) and no
//! source file of 700 lines or more. Not behaviour over a socket, but a
//! rule a change can break without any other test noticing. Its first run
//! found a loop of four, `auth → config → http1 → service → auth`: the
//! settings re-exported the HTTP/1 parser's field limit (now defined in
//! `config`, which depends on no protocol module).
//!
//! Dependencies are read from the text: every `crate::`, `super::` and
//! `self::` path outside comments, string literals and `#[cfg(test)]`
//! items, `use` trees expanded. An edge from module `a::b::c` to
//! `a::d::e` is an edge between the siblings `a::b` and `a::d`; the check
//! is that every set of siblings is free of cycles.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The most lines a source file may have (the issue: "under 700").
const MAX_LINES: usize = 700;

#[test]
fn no_module_cycle_and_no_source_file_of_700_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 50, "found only {} files under {}", files.len(), src.display());

    let too_long: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let lines = std::fs::read_to_string(file).expect("source").lines().count();
            (lines >= MAX_LINES).then(|| format!("{} ({lines} lines)", file.display()))
        })
        .collect();
    assert!(too_long.is_empty(), "source files of {MAX_LINES} lines or more: {too_long:?}");

    // Modules in files of their own that only tests compile
    // (`#[cfg(test)] mod tests;`).
    let code: Vec<(Vec<String>, String)> = files
        .iter()
        .map(|file| {
            (module_of(&src, file), strip_comments_and_strings(&std::fs::read_to_string(file).expect("source")))
        })
        .collect();
    let test_only: Vec<Vec<String>> = code
        .iter()
        .flat_map(|(module, text)| {
            test_module_names(text).into_iter().map(move |name| [module.clone(), vec![name]].concat())
        })
        .collect();

    // Siblings (by their parent) and the edges between them.
    let mut graphs: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (from, text) in &code {
        if test_only.iter().any(|test| from.starts_with(test)) {
            continue;
        }
        let text = without_test_items(text);
        for path in referenced_paths(&text) {
            let Some(to) = resolve(from, &path) else { continue };
            let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
            if common < from.len() && common < to.len() {
                graphs
                    .entry(from[..common].to_vec())
                    .or_default()
                    .entry(from[common].clone())
                    .or_default()
                    .insert(to[common].clone());
            }
        }
    }
    assert!(graphs.contains_key(&Vec::new()), "no dependency between top-level modules was found");
    let cycles: Vec<String> = graphs
        .iter()
        .filter_map(|(parent, graph)| {
            find_cycle(graph).map(|cycle| {
                let prefix = if parent.is_empty() { String::new() } else { parent.join("::") + "::" };
                cycle.iter().map(|m| format!("{prefix}{m}")).collect::<Vec<_>>().join(" → ")
            })
        })
        .collect();
    assert!(cycles.is_empty(), "modules that depend on each other: {cycles:#?}");
}

#[test]
fn the_reader_sees_paths_and_cycles() {
    // The checker's parts, on inputs with a known answer.
    let text = strip_comments_and_strings(
        "use super::{body::Decoder, parse::{self, Head}};\n// crate::not::this\nlet s = \"crate::nor::this\";\n\
         #[cfg(test)]\nmod tests { use crate::tests_only::X; }\nfn f() { crate::config::Config::new(); }\n\
         type B = Box<dyn crate::handlers::Sink>;\n",
    );
    let paths = referenced_paths(&without_test_items(&text));
    let expect: BTreeSet<Vec<String>> = [
        vec!["super", "body", "Decoder"],
        vec!["super", "parse"],
        vec!["super", "parse", "Head"],
        vec!["crate", "config", "Config", "new"],
        vec!["crate", "handlers", "Sink"],
    ]
    .iter()
    .map(|p| p.iter().map(|s| s.to_string()).collect())
    .collect();
    assert_eq!(paths, expect);
    let owned = |m: &[&str]| m.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        resolve(&owned(&["http1", "exchange"]), &owned(&["super", "parse", "Head"])),
        Some(owned(&["http1", "parse", "Head"]))
    );

    let graph = |edges: &[(&str, &str)]| {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in edges {
            g.entry(a.to_string()).or_default().insert(b.to_string());
        }
        g
    };
    assert_eq!(find_cycle(&graph(&[("a", "b"), ("b", "c"), ("a", "c")])), None);
    assert_eq!(find_cycle(&graph(&[("a", "b"), ("b", "c"), ("c", "a")])).map(|c| c.len()), Some(4));
    assert_eq!(find_cycle(&graph(&[("config", "http1"), ("http1", "config")])).map(|c| c.len()), Some(3));
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("source folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The modules declared `#[cfg(test)] mod name;` (in a file of their own).
fn test_module_names(text: &str) -> Vec<String> {
    text.match_indices("#[cfg(test)]")
        .filter_map(|(at, marker)| {
            let item = text[at + marker.len()..].trim_start();
            let item =
                item.strip_prefix("pub(crate)").or_else(|| item.strip_prefix("pub")).unwrap_or(item).trim_start();
            let name = item.strip_prefix("mod")?.trim_start();
            let end = name.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
            name[end..].trim_start().starts_with(';').then(|| name[..end].to_string())
        })
        .collect()
}

/// `src/handlers/cache/mod.rs` → `handlers::cache`; `lib.rs`, `main.rs` → the root.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let mut parts: Vec<String> = file
        .strip_prefix(src)
        .expect("under src")
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// The text with comments removed and string and character literals
/// emptied (their braces and paths are not code).
fn strip_comments_and_strings(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |end| end + 2);
        } else if let Some(hashes) = raw_string_start(rest) {
            let close = format!("\"{}", "#".repeat(hashes));
            let body = 2 + hashes + usize::from(rest.starts_with("br"));
            i += body + rest[body..].find(&close).map_or(rest.len() - body, |end| end + close.len());
            out.push_str("\"\"");
        } else if rest.starts_with('"') {
            let mut j = 1;
            while j < rest.len() && rest.as_bytes()[j] != b'"' {
                j += if rest.as_bytes()[j] == b'\\' { 2 } else { 1 };
            }
            i += j + 1;
            out.push_str("\"\"");
        } else if let Some(len) = char_literal_len(rest) {
            i += len;
            out.push_str("' '");
        } else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// `r"`, `r#"`, `br##"` …: the number of `#`.
fn raw_string_start(rest: &str) -> Option<usize> {
    let after = rest.strip_prefix("br").or_else(|| rest.strip_prefix('r'))?;
    let hashes = after.bytes().take_while(|&b| b == b'#').count();
    after[hashes..].starts_with('"').then_some(hashes)
}

/// The length of a character literal at the start (`'{'`, `'\n'`,
/// `'\u{7f}'`), or `None` for a lifetime or label.
fn char_literal_len(rest: &str) -> Option<usize> {
    let after = rest.strip_prefix('\'')?;
    if let Some(escaped) = after.strip_prefix('\\') {
        return escaped.find('\'').map(|end| end + 3);
    }
    let c = after.chars().next()?;
    after[c.len_utf8()..].starts_with('\'').then(|| 2 + c.len_utf8())
}

/// The text without the items marked `#[cfg(test)]` (to the end of the
/// next `{ … }` block, or the next `;` when it comes first).
fn without_test_items(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let item = &rest[at..];
        let (brace, semicolon) = (item.find('{'), item.find(';'));
        let end = match (brace, semicolon) {
            (Some(b), Some(s)) if s < b => s + 1,
            (Some(b), _) => {
                let mut depth = 0usize;
                let mut end = item.len();
                for (i, c) in item[b..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = b + i + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            }
            (None, Some(s)) => s + 1,
            (None, None) => item.len(),
        };
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// Every path that starts with `crate`, `super` or `self`, `use` trees
/// expanded (`use a::{b, c::{d}}` gives `a::b` and `a::c::d`).
fn referenced_paths(text: &str) -> BTreeSet<Vec<String>> {
    let mut paths = BTreeSet::new();
    // Spaces around `::` dropped (`crate ::\n    a`), others kept: `dyn
    // crate::X` must not become an identifier `dyncrate`.
    let compact = text.split("::").map(str::trim).collect::<Vec<_>>().join("::");
    // `use` trees: from `use` to `;`.
    let mut rest = text;
    while let Some(at) = find_word(rest, "use") {
        let tree = &rest[at + 3..];
        let end = tree.find(';').unwrap_or(tree.len());
        // `a as b` kept apart as `a@b`, then every space dropped.
        let tree = tree[..end].split_whitespace().collect::<Vec<_>>().join(" ").replace(" as ", "@").replace(' ', "");
        expand(&tree, &mut Vec::new(), &mut paths);
        rest = &rest[at + 3 + end..];
    }
    // Paths in code: `crate::a::b`, `super::super::c`.
    let bytes = compact.as_bytes();
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(at) = compact[from..].find(start) {
            let at = from + at;
            from = at + start.len();
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_' || bytes[at - 1] == b':') {
                continue;
            }
            let mut path = Vec::new();
            for segment in compact[at..].split("::") {
                let name: String = segment.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if name.is_empty() {
                    break;
                }
                let whole = name.len() == segment.len();
                path.push(name);
                if !whole {
                    break;
                }
            }
            if path.len() > 1 {
                paths.insert(path);
            }
        }
    }
    paths.retain(|p| matches!(p[0].as_str(), "crate" | "super" | "self"));
    paths
}

/// The position of `word` standing alone (not inside an identifier).
fn find_word(text: &str, word: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(at) = text[from..].find(word) {
        let at = from + at;
        let before = at.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(at + word.len()).copied();
        let is_ident = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !is_ident(before) && !is_ident(after) {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}

/// Expands one `use` tree (whitespace removed) under `prefix`.
fn expand(tree: &str, prefix: &mut Vec<String>, out: &mut BTreeSet<Vec<String>>) {
    let (head, group) = match tree.find('{') {
        Some(open) if tree.ends_with('}') => (&tree[..open], Some(&tree[open + 1..tree.len() - 1])),
        _ => (tree, None),
    };
    let depth = prefix.len();
    for segment in head.split("::").filter(|s| !s.is_empty()) {
        let name = segment.split('@').next().unwrap_or(segment);
        if name == "*" || name.is_empty() {
            continue;
        }
        prefix.push(name.to_string());
    }
    match group {
        Some(group) => {
            for item in split_top_level(group) {
                if item == "self" {
                    out.insert(prefix.clone());
                } else if !item.is_empty() {
                    expand(item, prefix, out);
                }
            }
        }
        None if !prefix.is_empty() => {
            out.insert(prefix.clone());
        }
        None => {}
    }
    prefix.truncate(depth);
}

/// `a, b::{c, d}, e` → `a`, `b::{c, d}`, `e`.
fn split_top_level(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    items
}

/// The module path `path` names, seen from module `from`; `None` for
/// what is not this crate's.
fn resolve(from: &[String], path: &[String]) -> Option<Vec<String>> {
    let mut base = from.to_vec();
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some("self") => rest = &rest[1..],
        Some("super") => {
            while rest.first().map(String::as_str) == Some("super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// A cycle in `graph` (its modules in order, the first again at the end).
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    // Depth-first, with the path so far: an edge back into it closes a cycle.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}
