//! WebDAV's XML, both ways: request bodies (`propfind`, `propertyupdate`,
//! `lockinfo`) read with quick-xml's namespace-aware reader into a small
//! tree of owned elements, and the few things answers need written
//! (escaped text, a property's name with its namespace, a dead
//! property's value).
//!
//! Bodies are bounded before they get here (`MAX_XML_BYTES`), and the
//! tree's depth by [`MAX_DEPTH`], so a hostile body costs at most its
//! size. Namespaces are resolved as the reader finds them: a prefix that
//! was never declared, a `xmlns:p=""` undeclaration (not allowed by
//! Namespaces in XML 1.0), a DOCTYPE (entities are a way to make a small
//! body large) or a malformed document is a [`Malformed`] error, which
//! the caller answers 400. What the elements mean is the callers'.

use std::fmt::Write as _;

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

/// How deeply elements may nest in a request body: WebDAV's own bodies
/// are four levels deep, a dead property's value a few more; a deeper
/// tree is an attack on the stack of whoever walks it.
pub const MAX_DEPTH: usize = 32;

/// The namespace of WebDAV's own elements and properties.
pub const DAV: &str = "DAV:";

/// The namespaces of `xml:` and `xmlns:`, bound by XML itself.
const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";
const XMLNS_NAMESPACE: &str = "http://www.w3.org/2000/xmlns/";

/// A body that is not well-formed, namespace-valid XML of the expected shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub String);

/// A namespace-qualified name: `ns` is empty for an element in no namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name {
    pub ns: String,
    pub local: String,
}

impl Name {
    pub fn new(ns: &str, local: &str) -> Name {
        Name { ns: ns.to_string(), local: local.to_string() }
    }

    /// Whether this is WebDAV's own `local`.
    pub fn is_dav(&self, local: &str) -> bool {
        self.ns == DAV && self.local == local
    }
}

/// An element of a request body, with what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: Name,
    /// Attributes other than namespace declarations.
    pub attributes: Vec<(Name, String)>,
    pub children: Vec<Node>,
}

/// What an element holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    /// Character data, references resolved.
    Text(String),
}

impl Element {
    /// The child elements.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|node| match node {
            Node::Element(element) => Some(element),
            Node::Text(_) => None,
        })
    }

    /// The first child element that is WebDAV's `local`.
    pub fn child(&self, local: &str) -> Option<&Element> {
        self.elements().find(|e| e.name.is_dav(local))
    }

    /// What it holds as XML that stands alone: each element declares its
    /// own namespace, so the value reads the same wherever it is put back.
    pub fn inner_xml(&self) -> String {
        let mut out = String::new();
        for node in &self.children {
            write_node(&mut out, node);
        }
        out
    }
}

/// Writes `node` with its namespaces declared on each element.
fn write_node(out: &mut String, node: &Node) {
    match node {
        Node::Text(text) => out.push_str(&escape(text)),
        Node::Element(element) => {
            let _ = write!(out, "<{} xmlns=\"{}\"", element.name.local, escape(&element.name.ns));
            for (i, (name, value)) in element.attributes.iter().enumerate() {
                if name.ns.is_empty() {
                    let _ = write!(out, " {}=\"{}\"", name.local, escape_attribute(value));
                } else if name.ns == XML_NAMESPACE {
                    // `xml:` is bound everywhere, and may not be bound again.
                    let _ = write!(out, " xml:{}=\"{}\"", name.local, escape_attribute(value));
                } else {
                    let _ =
                        write!(out, " xmlns:a{i}=\"{}\" a{i}:{}=\"{}\"", escape(&name.ns), name.local, escape(value));
                }
            }
            if element.children.is_empty() {
                out.push_str("/>");
                return;
            }
            out.push('>');
            for child in &element.children {
                write_node(out, child);
            }
            let _ = write!(out, "</{}>", element.name.local);
        }
    }
}

/// The root element of `body`; whitespace, comments, processing
/// instructions and the declaration around it are skipped.
pub fn parse(body: &[u8]) -> Result<Element, Malformed> {
    let text = std::str::from_utf8(body).map_err(|_| Malformed("the body is not UTF-8".into()))?;
    let mut reader = NsReader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let (resolved, event) = reader.read_resolved_event().map_err(|e| Malformed(e.to_string()))?;
        let ns = namespace(resolved)?;
        match event {
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                let _ = start;
                return Err(Malformed("more than one root element".into()));
            }
            Event::Start(ref start) | Event::Empty(ref start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(Malformed(format!("elements nest deeper than {MAX_DEPTH}")));
                }
                let local = start.local_name().as_ref().to_string();
                if !is_name(&local) {
                    return Err(Malformed(format!("{local:?} is not an element name")));
                }
                let mut attributes = Vec::new();
                for attribute in start.attributes() {
                    let attribute = attribute.map_err(|e| Malformed(e.to_string()))?;
                    let key = attribute.key;
                    let key_text: &str = key.as_ref();
                    if key_text == "xmlns" || key_text.starts_with("xmlns:") {
                        if key_text.starts_with("xmlns:") && attribute.value.is_empty() {
                            return Err(Malformed("a namespace prefix is bound to nothing".into()));
                        }
                        continue;
                    }
                    let (resolved, attr_local) = reader.resolver().resolve_attribute(key);
                    let attr_ns = namespace(resolved)?;
                    if !is_name(attr_local.as_ref()) {
                        return Err(Malformed("an attribute name that is not a name".into()));
                    }
                    let value = attribute
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|e| Malformed(e.to_string()))?;
                    attributes.push((Name { ns: attr_ns, local: attr_local.as_ref().to_string() }, value.into_owned()));
                }
                // Reserved for `xml:lang` and such: no element of WebDAV's is
                // in it, and no default namespace may be bound to it.
                if ns == XML_NAMESPACE || ns == XMLNS_NAMESPACE {
                    return Err(Malformed("an element in a reserved namespace".into()));
                }
                let element = Element { name: Name { ns, local }, attributes, children: Vec::new() };
                if matches!(event, Event::Empty(_)) {
                    close(&mut stack, &mut root, element);
                } else {
                    stack.push(element);
                }
            }
            Event::End(_) => {
                // OK: the reader checks end names, so an end has its start.
                let element = stack.pop().ok_or_else(|| Malformed("an end without a start".into()))?;
                close(&mut stack, &mut root, element);
            }
            Event::Text(text) => add_text(&mut stack, &text.xml10_content())?,
            Event::CData(data) => {
                let data = data.into_inner().into_owned();
                add_text(&mut stack, &data)?;
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref().map_err(|e| Malformed(e.to_string()))? {
                    Some(c) => c.to_string(),
                    None => match reference.as_ref() {
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "amp" => "&".into(),
                        "quot" => "\"".into(),
                        "apos" => "'".into(),
                        other => return Err(Malformed(format!("unknown entity &{other};"))),
                    },
                };
                add_text(&mut stack, &resolved)?;
            }
            Event::DocType(_) => return Err(Malformed("a DOCTYPE (entities are not read)".into())),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(Malformed("the document ends inside an element".into()));
    }
    root.ok_or_else(|| Malformed("no root element".into()))
}

/// Whether `local` is a name (XML's NCName, ASCII-strict, any non-ASCII
/// letter allowed): quick-xml reads leniently, and what is stored must
/// read back.
fn is_name(local: &str) -> bool {
    let mut chars = local.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_');
    first_ok && chars.all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '_' | '\u{b7}'))
}

/// The namespace a name resolved to; an undeclared prefix is malformed.
fn namespace(resolved: ResolveResult) -> Result<String, Malformed> {
    match resolved {
        // The declaration's value as written: its references resolved here.
        ResolveResult::Bound(ns) => match quick_xml::escape::unescape(ns.as_ref()) {
            Ok(ns) => Ok(ns.into_owned()),
            Err(e) => Err(Malformed(e.to_string())),
        },
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Unknown(prefix) => Err(Malformed(format!("the prefix {prefix:?} is not declared"))),
    }
}

/// Adds a finished element to its parent, or makes it the root.
fn close(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(Node::Element(element)),
        None => *root = Some(element),
    }
}

/// Adds text to the open element; outside the root only whitespace may be.
fn add_text(stack: &mut [Element], text: &str) -> Result<(), Malformed> {
    match stack.last_mut() {
        Some(parent) => {
            match parent.children.last_mut() {
                Some(Node::Text(previous)) => previous.push_str(text),
                _ => parent.children.push(Node::Text(text.to_string())),
            }
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(Malformed("text outside the root element".into())),
    }
}

/// `text` with `&`, `<`, `>` and `"` escaped, and a carriage return as a
/// reference (a reader turns a bare one into a line feed), for element
/// content and for attribute values that hold no other white space.
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    escape_these(text, &['&', '<', '>', '"', '\r'])
}

/// An attribute value escaped: as [`escape`], and tabs and line feeds as
/// references too, since a reader turns them into spaces in attributes.
fn escape_attribute(text: &str) -> std::borrow::Cow<'_, str> {
    escape_these(text, &['&', '<', '>', '"', '\r', '\n', '\t'])
}

fn escape_these<'t>(text: &'t str, special: &[char]) -> std::borrow::Cow<'t, str> {
    if !text.contains(special) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if special.contains(&c) => {
                let _ = write!(out, "&#{};", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.into()
}

/// Writes `<name/>` (when `value` is `None` or empty) or
/// `<name>value</name>`, the name qualified: `D:` for WebDAV's own, a
/// prefix declared on the spot for another namespace, `xmlns=""` for none.
pub fn write_property(out: &mut String, name: &Name, value: Option<&str>) {
    if name.ns == DAV {
        return write_dav(out, &name.local, value.unwrap_or(""));
    }
    out.push('<');
    if name.ns.is_empty() {
        out.push_str(&name.local);
        out.push_str(" xmlns=\"\"");
    } else {
        out.push_str("P:");
        out.push_str(&name.local);
        out.push_str(" xmlns:P=\"");
        out.push_str(&escape(&name.ns));
        out.push('"');
    }
    match value {
        None | Some("") => out.push_str("/>"),
        Some(value) => {
            out.push('>');
            out.push_str(value);
            out.push_str(if name.ns.is_empty() { "</" } else { "</P:" });
            out.push_str(&name.local);
            out.push('>');
        }
    }
}

/// Writes WebDAV's own `<D:local>value</D:local>` (`<D:local/>` when empty).
pub fn write_dav(out: &mut String, local: &str, value: &str) {
    out.push_str("<D:");
    out.push_str(local);
    if value.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    out.push_str(value);
    out.push_str("</D:");
    out.push_str(local);
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(body: &str) -> Element {
        parse(body.as_bytes()).unwrap_or_else(|e| panic!("{body}: {e:?}"))
    }

    #[test]
    fn names_are_resolved() {
        let e = root(
            r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><x:a xmlns:x="urn:x"/><b xmlns=""/></D:prop></D:propfind>"#,
        );
        assert!(e.name.is_dav("propfind"));
        let prop = e.child("prop").unwrap();
        let names: Vec<&Name> = prop.elements().map(|e| &e.name).collect();
        assert_eq!(names, [&Name::new("urn:x", "a"), &Name::new("", "b")]);
        let e = root(r#"<propfind xmlns="DAV:"><allprop/></propfind>"#);
        assert!(e.child("allprop").is_some());
    }

    #[test]
    fn refused_bodies() {
        for body in [
            "",
            "<a>",
            "<a></b>",
            "<x:a/>",
            r#"<a xmlns:b=""><b:c/></a>"#,
            "<a/><b/>",
            "text",
            "<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>",
            "<a>&nope;</a>",
            "\u{0}",
        ] {
            assert!(parse(body.as_bytes()).is_err(), "{body:?} must be refused");
        }
        assert!(parse(b"\xff<a/>").is_err());
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(parse(deep.as_bytes()).is_err());
        let ok = "<a>".repeat(MAX_DEPTH) + &"</a>".repeat(MAX_DEPTH);
        assert!(parse(ok.as_bytes()).is_ok());
    }

    #[test]
    fn values_stand_alone() {
        let e = root(r#"<v xmlns:z="urn:z">a &amp; &#x10000; <z:b attr="1&lt;">t</z:b><c/><![CDATA[<raw>]]></v>"#);
        assert_eq!(
            e.inner_xml(),
            "a &amp; \u{10000} <b xmlns=\"urn:z\" attr=\"1&lt;\">t</b><c xmlns=\"\"/>&lt;raw&gt;"
        );
        // What was written reads back the same.
        let again = root(&format!("<v>{}</v>", e.inner_xml()));
        assert_eq!(again.inner_xml(), e.inner_xml());
        // White space a reader would change is kept as references.
        let e = root("<v>a&#13;b<c x='&#9;&#10;&#13;'/></v>");
        assert_eq!(e.inner_xml(), "a&#13;b<c xmlns=\"\" x=\"&#9;&#10;&#13;\"/>");
        assert_eq!(root(&format!("<v>{}</v>", e.inner_xml())).inner_xml(), e.inner_xml());
        assert!(parse(b"<a:b:c xmlns:a='x'/>").is_err());
        let e = root("<v><a xml:lang='en'/></v>");
        assert_eq!(e.inner_xml(), "<a xmlns=\"\" xml:lang=\"en\"/>");
        assert_eq!(root(&format!("<v>{}</v>", e.inner_xml())).inner_xml(), e.inner_xml());
        assert!(parse(b"<v><xml:a/></v>").is_err());
        for bad in ["<v><D:! xmlns:D='DAV:'/></v>", "<v><1a/></v>", "<v><a b:!='1' xmlns:b='x'/></v>"] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad}");
        }
        let e = root("<v><a xmlns='u&gt;x'/></v>");
        assert_eq!(e.inner_xml(), "<a xmlns=\"u&gt;x\"/>");
    }

    #[test]
    fn properties_are_written_qualified() {
        let mut out = String::new();
        write_property(&mut out, &Name::new(DAV, "getetag"), Some("\"x\""));
        write_property(&mut out, &Name::new("urn:a&b", "p"), None);
        write_property(&mut out, &Name::new("", "q"), Some("v"));
        assert_eq!(out, "<D:getetag>\"x\"</D:getetag><P:p xmlns:P=\"urn:a&amp;b\"/><q xmlns=\"\">v</q>");
        assert_eq!(escape("a<b>&\"c"), "a&lt;b&gt;&amp;&quot;c");
    }
}
