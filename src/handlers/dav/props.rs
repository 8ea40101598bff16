//! One resource's properties, written as a multistatus `response`: the
//! live ones from its metadata (and, for `getetag`, the very validator
//! `GET` sends: [`etag`](super::etag)'s), and the dead
//! ones `PROPPATCH` stored in its extended attributes.
//!
//! A dead property `{ns}local` is the attribute `user.dav.local ns` (a
//! local name has no space; the namespace, possibly empty, follows the
//! first one), and its value is the property's content as XML that
//! stands alone (`xml::Element::inner_xml`). Nothing here writes.

use std::ffi::CString;
use std::fs::Metadata;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::time::SystemTime;

use super::etag::etag_of_file;
use super::locks::Lock;
use super::xml::{self, escape, Name, DAV};
use crate::handlers::Site;
use crate::sys::fs::{xattr, Node};

/// How every dead property's attribute name begins.
pub const DEAD_PREFIX: &[u8] = b"user.dav.";

/// The live properties, in the order `allprop` lists them.
pub const LIVE: [&str; 9] = [
    "resourcetype",
    "getlastmodified",
    "getcontentlength",
    "getcontenttype",
    "getetag",
    "creationdate",
    "displayname",
    "supportedlock",
    "lockdiscovery",
];

/// What a `PROPFIND` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// Every property (dead ones too); the names are `include`d besides.
    All(Vec<Name>),
    /// Every property's name, no values.
    Names,
    /// These properties.
    Some(Vec<Name>),
}

/// A resource as `stat` saw it.
#[derive(Debug, Clone)]
pub struct Facts {
    pub folder: bool,
    pub size: u64,
    pub modified: Option<SystemTime>,
}

impl Facts {
    pub fn of(meta: &Metadata) -> Facts {
        Facts { folder: meta.is_dir(), size: meta.len(), modified: meta.modified().ok() }
    }
}

/// The attribute name of the dead property `name`; `None` for a name
/// no attribute can have (NUL, or too long: the caller says 403).
pub fn dead_name(name: &Name) -> Option<CString> {
    let mut bytes = DEAD_PREFIX.to_vec();
    bytes.extend_from_slice(name.local.as_bytes());
    bytes.push(b' ');
    bytes.extend_from_slice(name.ns.as_bytes());
    // Linux's XATTR_NAME_MAX.
    if bytes.len() > 255 {
        return None;
    }
    CString::new(bytes).ok()
}

/// The dead property an attribute name stands for.
fn property_of(attribute: &[u8]) -> Option<Name> {
    let rest = std::str::from_utf8(attribute.strip_prefix(DEAD_PREFIX)?).ok()?;
    let (local, ns) = rest.split_once(' ')?;
    Some(Name::new(ns, local))
}

/// Every dead property of the open resource `fd`, with its value.
pub fn dead_properties(fd: BorrowedFd<'_>) -> Vec<(Name, String)> {
    let Ok(names) = xattr::names(fd, DEAD_PREFIX) else { return Vec::new() };
    let mut found = Vec::new();
    for attribute in names {
        let (Some(name), Ok(c_name)) = (property_of(&attribute), CString::new(attribute)) else { continue };
        if let Ok(Some(value)) = xattr::get(fd, &c_name) {
            found.push((name, String::from_utf8_lossy(&value).into_owned()));
        }
    }
    found
}

/// The value of the dead property `name` of `fd`, if it has it.
pub fn dead_property(fd: BorrowedFd<'_>, name: &Name) -> Option<String> {
    let attribute = dead_name(name)?;
    let value = xattr::get(fd, &attribute).ok()??;
    Some(String::from_utf8_lossy(&value).into_owned())
}

/// `time` as RFC 3339 (`creationdate`), in UTC.
fn rfc3339(time: SystemTime) -> String {
    let seconds = time.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    match time::OffsetDateTime::from_unix_timestamp(seconds) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => "1970-01-01T00:00:00Z".to_string(),
    }
}

/// `supportedlock`'s value: exclusive and shared write locks.
const SUPPORTED_LOCK: &str =
    "<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>\
<D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>";

/// One resource being described.
pub struct Resource<'a> {
    /// Its path below the root.
    pub path: &'a Path,
    /// Its `href`, percent-encoded and ending in `/` for a folder.
    pub href: &'a str,
    /// Its name (`displayname`).
    pub name: &'a str,
    pub facts: Facts,
    /// It, open, when the caller has it (else opened here if needed).
    pub node: Option<Node>,
}

/// Appends the live property `local` of `resource` (`<D:local>value</D:local>`);
/// false, with nothing appended, when it has none (a folder's length).
/// Written in place, without a `String` per value: a listing writes
/// thousands.
fn write_live(out: &mut String, local: &str, resource: &mut Resource, site: &Site, locks: &[Lock]) -> bool {
    let facts = resource.facts.clone();
    let value: std::borrow::Cow<str> = match local {
        "resourcetype" if facts.folder => "<D:collection/>".into(),
        "resourcetype" => "".into(),
        "getlastmodified" => match facts.modified {
            Some(modified) => httpdate::fmt_http_date(modified).into(),
            None => return false,
        },
        "getcontentlength" if !facts.folder => itoa::Buffer::new().format(facts.size).to_string().into(),
        "getcontenttype" if !facts.folder => escape(site.types.mime_of(resource.path)),
        "getetag" if !facts.folder => {
            let Some(Node::File(file, meta)) = open(resource, site) else { return false };
            match etag_of_file(site, file, meta) {
                Some(etag) => escape(&etag).into_owned().into(),
                None => return false,
            }
        }
        "creationdate" => match facts.modified {
            Some(modified) => rfc3339(modified).into(),
            None => return false,
        },
        "displayname" => escape(resource.name),
        "supportedlock" => SUPPORTED_LOCK.into(),
        "lockdiscovery" => {
            let mut active = String::new();
            for lock in locks.iter().filter(|lock| lock.covers(resource.path)) {
                lock.write_active(&mut active);
            }
            active.into()
        }
        _ => return false,
    };
    xml::write_dav(out, local, &value);
    true
}

/// `resource` opened (once), or `None` if it cannot be.
fn open<'r>(resource: &'r mut Resource, site: &Site) -> Option<&'r Node> {
    if resource.node.is_none() {
        resource.node = site.root.open_node(resource.path).ok();
    }
    resource.node.as_ref()
}

fn fd_of(node: &Node) -> BorrowedFd<'_> {
    match node {
        Node::File(file, _) => file.as_fd(),
        Node::Directory(dir) => dir.as_fd(),
    }
}

/// Appends `resource`'s `response` element for `wanted`; `locks` are the
/// locks that may cover it.
pub fn write_response(out: &mut String, resource: &mut Resource, wanted: &Wanted, site: &Site, locks: &[Lock]) {
    out.push_str("<D:response><D:href>");
    out.push_str(&escape(resource.href));
    out.push_str("</D:href>");
    let dead = match wanted {
        Wanted::All(_) | Wanted::Names => open(resource, site).map(|node| dead_properties(fd_of(node))),
        Wanted::Some(_) => None,
    };
    let dead = dead.unwrap_or_default();
    // The found properties' propstat, taken back if none is found.
    let start = out.len();
    out.push_str("<D:propstat><D:prop>");
    let opened = out.len();
    let mut missing: Vec<&Name> = Vec::new();
    match wanted {
        Wanted::Names => {
            for local in LIVE {
                if live_applies(local, &resource.facts) {
                    xml::write_dav(out, local, "");
                }
            }
            for (name, _) in &dead {
                xml::write_property(out, name, None);
            }
        }
        Wanted::All(_) => {
            for local in LIVE {
                write_live(out, local, resource, site, locks);
            }
            for (name, value) in &dead {
                xml::write_property(out, name, Some(value));
            }
        }
        Wanted::Some(names) => {
            for name in names {
                let found = if name.ns == DAV && LIVE.contains(&name.local.as_str()) {
                    write_live(out, &name.local, resource, site, locks)
                } else {
                    match open(resource, site).and_then(|node| dead_property(fd_of(node), name)) {
                        Some(value) => {
                            xml::write_property(out, name, Some(&value));
                            true
                        }
                        None => false,
                    }
                };
                if !found {
                    missing.push(name);
                }
            }
        }
    }
    if out.len() == opened && !missing.is_empty() {
        out.truncate(start);
    } else {
        out.push_str("</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>");
    }
    if !missing.is_empty() {
        out.push_str("<D:propstat><D:prop>");
        for name in missing {
            xml::write_property(out, name, None);
        }
        out.push_str("</D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>");
    }
    out.push_str("</D:response>");
}

/// Whether a resource with `facts` has the live property `local`.
fn live_applies(local: &str, facts: &Facts) -> bool {
    let file_only = matches!(local, "getcontentlength" | "getcontenttype" | "getetag");
    let dated = matches!(local, "getlastmodified" | "creationdate");
    !(facts.folder && file_only || facts.modified.is_none() && dated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_names_round_trip() {
        for name in [Name::new("http://example.com/ns", "color"), Name::new("", "plain"), Name::new("DAV:", "x")] {
            let attribute = dead_name(&name).unwrap();
            assert!(attribute.to_bytes().starts_with(DEAD_PREFIX));
            assert_eq!(property_of(attribute.to_bytes()), Some(name));
        }
        assert_eq!(dead_name(&Name::new(&"n".repeat(300), "x")), None);
        assert_eq!(dead_name(&Name::new("a\0b", "x")), None);
        assert_eq!(property_of(b"user.other a"), None);
    }

    #[test]
    fn dates() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }
}
