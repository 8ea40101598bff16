//! WebDAV locks (RFC 4918 §6–7): `LOCK` (new, on a file, a folder or a
//! name not yet mapped, which then becomes an empty file; or a refresh),
//! `UNLOCK`, and the check every write makes ([`check`]): the `If` field
//! holds (412 otherwise) and each lock on what the write changes has its
//! token in the field (423 otherwise).
//!
//! Write locks only, exclusive or shared, depth 0 or infinity, each with a
//! timeout. They live in memory, in one table behind one mutex shared by
//! all workers ([`Locks`]): a server restart drops them, as nginx's and
//! dufs' do, and clients that hold one then find it gone at the next
//! refresh and take another. Expired locks are dropped whenever the table
//! is looked at. The table holds at most [`MAX_LOCKS`].

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::condition::{If, State};
use super::xml::{self, escape};
use super::{etag, Asked, Site, XML_TYPE};
use crate::http::request::Method;
use crate::http::response::{Body, Response};
use crate::sys::fs::Existing;

/// Most locks held at once, by everyone: each is a few hundred bytes; a
/// client that takes more (a bug, or an attack) gets 503 until some
/// expire or are released.
pub const MAX_LOCKS: usize = 10_000;

/// A lock's timeout when the client names none (Windows and Finder ask
/// for an hour, or infinity, and refresh before it ends).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);

/// The longest timeout given, whatever is asked (`Infinite` included): a
/// client that went away frees what it held within a day.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// One lock.
#[derive(Debug, Clone)]
pub struct Lock {
    /// `opaquelocktoken:` and a random UUID.
    pub token: String,
    /// What it locks, below the root.
    pub path: PathBuf,
    /// The request path it was taken on (its `lockroot`).
    pub href: String,
    /// Depth infinity: everything below `path` too.
    pub deep: bool,
    pub shared: bool,
    /// The `owner` element's content as sent, returned as it came.
    pub owner: Option<String>,
    pub timeout: Duration,
    expires: Instant,
    /// The account that took it, when there are accounts: only it may use
    /// the token.
    pub user: Option<String>,
}

impl Lock {
    /// Whether it covers `path`.
    pub fn covers(&self, path: &Path) -> bool {
        self.path == path || (self.deep && path.starts_with(&self.path))
    }

    /// Its `activelock` element.
    pub fn write_active(&self, out: &mut String) {
        let scope = if self.shared { "shared" } else { "exclusive" };
        let depth = if self.deep { "infinity" } else { "0" };
        out.push_str("<D:activelock><D:locktype><D:write/></D:locktype>");
        out.push_str(&format!("<D:lockscope><D:{scope}/></D:lockscope><D:depth>{depth}</D:depth>"));
        if let Some(owner) = &self.owner {
            out.push_str(&format!("<D:owner>{owner}</D:owner>"));
        }
        let left = self.expires.saturating_duration_since(Instant::now()).as_secs();
        out.push_str(&format!("<D:timeout>Second-{left}</D:timeout>"));
        out.push_str(&format!("<D:locktoken><D:href>{}</D:href></D:locktoken>", escape(&self.token)));
        out.push_str(&format!("<D:lockroot><D:href>{}</D:href></D:lockroot></D:activelock>", escape(&self.href)));
    }
}

/// Every lock held, shared by all workers.
#[derive(Debug, Default)]
pub struct Locks {
    table: Mutex<Vec<Lock>>,
}

impl Locks {
    /// The table, expired locks dropped. A poisoned lock (a panic while
    /// held) is taken over: the table is a plain list, always whole.
    fn live(&self) -> MutexGuard<'_, Vec<Lock>> {
        let mut table = self.table.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        table.retain(|lock| lock.expires > now);
        table
    }

    /// The locks that cover `path`.
    pub fn covering(&self, path: &Path) -> Vec<Lock> {
        self.live().iter().filter(|lock| lock.covers(path)).cloned().collect()
    }

    /// Every lock now (a listing looks for each entry's in it).
    pub fn snapshot(&self) -> Vec<Lock> {
        self.live().clone()
    }

    /// Drops the locks on `path` and below it (it was removed or moved away).
    pub fn forget_tree(&self, path: &Path) {
        self.live().retain(|lock| !lock.path.starts_with(path));
    }

    /// The locks a change of `path` must hold the tokens of.
    fn needed(&self, path: &Path, reach: Reach) -> Vec<Lock> {
        let parent = path.parent();
        self.live()
            .iter()
            .filter(|lock| {
                lock.covers(path)
                    || (reach == Reach::Tree && lock.path.starts_with(path))
                    // A new or removed member changes its folder.
                    || (reach == Reach::Tree && !lock.deep && Some(lock.path.as_path()) == parent)
            })
            .cloned()
            .collect()
    }
}

/// What a write changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The resource's contents or properties.
    One,
    /// The resource, all below it, and its folder's members.
    Tree,
}

/// A write `upload` makes, as far as locks go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Put,
    Mkcol,
    Delete,
    Move,
}

impl Change {
    pub fn of(method: &Method) -> Option<Change> {
        Some(match method.as_str() {
            "PUT" => Change::Put,
            "MKCOL" => Change::Mkcol,
            "DELETE" => Change::Delete,
            "MOVE" => Change::Move,
            _ => return None,
        })
    }

    pub fn depth(self) -> Reach {
        match self {
            Change::Put => Reach::One,
            _ => Reach::Tree,
        }
    }
}

/// The request's resources as the `If` field sees them.
struct Current<'a> {
    asked: &'a Asked,
    site: &'a Site,
}

impl Current<'_> {
    fn path(&self, resource: Option<&str>) -> Option<PathBuf> {
        let target = match resource {
            None => self.asked.target.clone(),
            Some(uri) => self.asked.below(uri).ok()?,
        };
        super::resolve(&target, self.site).ok()
    }
}

impl State for Current<'_> {
    fn etag(&mut self, resource: Option<&str>) -> Option<String> {
        etag::etag_of(self.site, &self.path(resource)?)
    }

    fn locked_by(&mut self, resource: Option<&str>, token: &str) -> bool {
        let Some(path) = self.path(resource) else { return false };
        self.site.locks.covering(&path).iter().any(|lock| lock.token == token)
    }
}

/// The `If` field, read; 400 when malformed.
fn condition(asked: &Asked) -> Result<Option<If>, Response> {
    match asked.condition.as_deref() {
        None => Ok(None),
        Some(text) => If::parse(text).map(Some).ok_or_else(|| Response::error(400)),
    }
}

/// Whether `lock`'s token is among those `condition` submits, by its owner.
fn submitted(lock: &Lock, condition: Option<&If>, asked: &Asked) -> bool {
    condition.is_some_and(|c| c.tokens().any(|t| t == lock.token)) && lock.user == asked.user
}

/// The checks of a write to `path` reaching `reach`: the `If` field holds
/// (412), and every lock it would change is submitted (423).
pub fn check(asked: &Asked, site: &Site, path: &Path, reach: Reach) -> Result<(), Response> {
    let condition = condition(asked)?;
    if let Some(condition) = &condition {
        if !condition.holds(&mut Current { asked, site }) {
            return Err(Response::error(412));
        }
    }
    if let Some(lock) = site.locks.needed(path, reach).iter().find(|l| !submitted(l, condition.as_ref(), asked)) {
        return Err(locked(&lock.href));
    }
    Ok(())
}

/// 423 with the lock whose token was not submitted.
fn locked(root: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:error xmlns:D=\"DAV:\"><D:lock-token-submitted>\
         <D:href>{}</D:href></D:lock-token-submitted></D:error>",
        escape(root)
    );
    Response::new(423).header("Content-Type", XML_TYPE).body(Body::Bytes(body.into_bytes().into()))
}

/// The timeout a `Timeout` field asks for (RFC 4918 §10.7: the first of a
/// list this server can give), within [`MAX_TIMEOUT`].
pub fn timeout(field: Option<&str>) -> Duration {
    let Some(field) = field else { return DEFAULT_TIMEOUT };
    for choice in field.split(',').map(str::trim) {
        if choice.eq_ignore_ascii_case("infinite") {
            return MAX_TIMEOUT;
        }
        if let Some(seconds) = choice.strip_prefix("Second-").and_then(|s| s.parse::<u64>().ok()) {
            return Duration::from_secs(seconds).min(MAX_TIMEOUT);
        }
    }
    DEFAULT_TIMEOUT
}

/// A new random lock token.
fn new_token() -> Result<String, Response> {
    use ring::rand::SecureRandom;
    let mut random = [0u8; 16];
    ring::rand::SystemRandom::new().fill(&mut random).map_err(|_| Response::error(500))?;
    // A version 4 UUID, as RFC 4918 §20.1 suggests.
    random[6] = (random[6] & 0x0f) | 0x40;
    random[8] = (random[8] & 0x3f) | 0x80;
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("opaquelocktoken:{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]))
}

/// `LOCK`: a new lock (a `lockinfo` body) or a refresh (no body, the
/// token in `If`).
pub fn lock(asked: &Asked, body: &[u8], site: &Site) -> Result<Response, Response> {
    let path = asked.resolved(site)?;
    let condition = condition(asked)?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return refresh(asked, site, &path, condition.as_ref());
    }
    let info = xml::parse(body).map_err(|_| Response::error(400))?;
    if !info.name.is_dav("lockinfo") {
        return Err(Response::error(400));
    }
    let shared = match info.child("lockscope").and_then(|scope| scope.elements().next()) {
        Some(scope) if scope.name.is_dav("shared") => true,
        Some(scope) if scope.name.is_dav("exclusive") => false,
        _ => return Err(Response::error(400)),
    };
    if !info.child("locktype").and_then(|t| t.elements().next()).is_some_and(|t| t.name.is_dav("write")) {
        return Err(Response::error(400));
    }
    let owner = info.child("owner").map(|owner| owner.inner_xml());
    let deep = match asked.depth.as_deref().map(str::trim) {
        None => true,
        Some(d) if d.eq_ignore_ascii_case("infinity") => true,
        Some("0") => false,
        Some(_) => return Err(Response::error(400)),
    };
    if let Some(condition) = &condition {
        if !condition.holds(&mut Current { asked, site }) {
            return Err(Response::error(412));
        }
    }
    let created = map(asked, site, &path)?;
    let token = new_token()?;
    let timeout = timeout(asked.timeout.as_deref());
    let lock = Lock {
        token: token.clone(),
        path: path.clone(),
        href: asked.path.clone(),
        deep,
        shared,
        owner,
        timeout,
        expires: Instant::now() + timeout,
        user: asked.user.clone(),
    };
    {
        let mut table = site.locks.live();
        let conflict = table.iter().any(|held| {
            let overlaps = held.covers(&path) || (deep && held.path.starts_with(&path));
            overlaps && !(held.shared && shared)
        });
        if conflict {
            drop(table);
            if let Some(created) = created {
                created.undo();
            }
            return Err(locked(&asked.path));
        }
        if table.len() >= MAX_LOCKS {
            return Err(Response::error(503));
        }
        table.push(lock.clone());
    }
    log::info!("webdav: {} locked ({})", asked.path, if shared { "shared" } else { "exclusive" });
    let status = if created.is_some() { 201 } else { 200 };
    Ok(discovery(status, &lock).header("Lock-Token", format!("<{token}>")))
}

/// A `LOCK` without a body: the locks on `path` whose tokens `If` holds
/// get a new timeout.
fn refresh(asked: &Asked, site: &Site, path: &Path, condition: Option<&If>) -> Result<Response, Response> {
    let Some(condition) = condition else { return Err(Response::error(400)) };
    if !condition.holds(&mut Current { asked, site }) {
        return Err(Response::error(412));
    }
    let timeout = timeout(asked.timeout.as_deref());
    let mut table = site.locks.live();
    let mut refreshed = None;
    for lock in table.iter_mut() {
        if lock.covers(path) && submitted(lock, Some(condition), asked) {
            lock.timeout = timeout;
            lock.expires = Instant::now() + timeout;
            refreshed = Some(lock.clone());
        }
    }
    drop(table);
    match refreshed {
        Some(lock) => Ok(discovery(200, &lock)),
        None => Err(Response::error(412)),
    }
}

/// The empty file a lock on an unmapped name makes (RFC 4918 §7.3).
struct Created {
    folder: crate::sys::fs::Folder,
    name: std::ffi::CString,
}

impl Created {
    /// Removes it again (the lock was refused).
    fn undo(self) {
        if let Err(e) = self.folder.discard(&self.name) {
            log::warn!("cannot remove an empty file made for a refused lock: {e}");
        }
    }
}

/// Makes `path` an empty file when nothing is there; `Some` if made.
fn map(asked: &Asked, site: &Site, path: &Path) -> Result<Option<Created>, Response> {
    let Some(name) = path.file_name() else { return Ok(None) };
    if !crate::safe_path::can_create(name.as_encoded_bytes()) {
        // An existing name a write could not create (a dot name with
        // `--dotfiles`): lockable only if it exists.
        return match site.root.metadata(path) {
            Ok(_) => Ok(None),
            Err(_) => Err(Response::error(409)),
        };
    }
    let folder = site.root.open_folder(path.parent().unwrap_or(Path::new(""))).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory => Response::error(409),
        _ => super::upload::Refusal::io(e, "cannot open the folder").response(),
    })?;
    match folder.existing(name) {
        Ok(Existing::Nothing) => {}
        Ok(_) => return Ok(None),
        Err(e) => return Err(super::upload::Refusal::io(e, "cannot look at it").response()),
    }
    if asked.target.ends_with('/') {
        return Err(Response::error(409));
    }
    let c_name = std::ffi::CString::new(name.as_encoded_bytes()).map_err(|_| Response::error(400))?;
    match folder.create_new(&c_name) {
        Ok(file) => {
            drop(file);
            folder.sync().map_err(|e| super::upload::Refusal::io(e, "cannot make it durable").response())?;
            Ok(Some(Created { folder, name: c_name }))
        }
        Err(e) => Err(super::upload::Refusal::io(e, "cannot make the locked file").response()),
    }
}

/// `status` with the `lockdiscovery` of `lock`.
fn discovery(status: u16, lock: &Lock) -> Response {
    let mut body =
        String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:prop xmlns:D=\"DAV:\"><D:lockdiscovery>");
    lock.write_active(&mut body);
    body.push_str("</D:lockdiscovery></D:prop>");
    Response::new(status).header("Content-Type", XML_TYPE).body(Body::Bytes(body.into_bytes().into()))
}

/// `UNLOCK`: the lock whose token `Lock-Token` names, if it covers the
/// request's resource (409 otherwise, RFC 4918 §9.11.1) and its owner asks.
pub fn unlock(asked: &Asked, site: &Site) -> Result<Response, Response> {
    let path = asked.resolved(site)?;
    let token = asked.lock_token.as_deref().map(str::trim).ok_or_else(|| Response::error(400))?;
    let token = token.strip_prefix('<').and_then(|t| t.strip_suffix('>')).ok_or_else(|| Response::error(400))?;
    let mut table = site.locks.live();
    let Some(found) = table.iter().position(|lock| lock.token == token && lock.covers(&path)) else {
        return Err(Response::error(409));
    };
    if table[found].user != asked.user {
        return Err(Response::error(403));
    }
    table.remove(found);
    log::info!("webdav: {} unlocked", asked.path);
    Ok(Response::new(204))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts() {
        assert_eq!(timeout(None), DEFAULT_TIMEOUT);
        assert_eq!(timeout(Some("Second-60")), Duration::from_secs(60));
        assert_eq!(timeout(Some("Infinite, Second-4100000000")), MAX_TIMEOUT);
        assert_eq!(timeout(Some("Second-99999999999")), MAX_TIMEOUT);
        assert_eq!(timeout(Some("Extend-1, Second-5")), Duration::from_secs(5));
        assert_eq!(timeout(Some("junk")), DEFAULT_TIMEOUT);
    }

    fn lock(path: &str, deep: bool) -> Lock {
        Lock {
            token: "t".into(),
            path: path.into(),
            href: format!("/{path}"),
            deep,
            shared: false,
            owner: None,
            timeout: DEFAULT_TIMEOUT,
            expires: Instant::now() + DEFAULT_TIMEOUT,
            user: None,
        }
    }

    #[test]
    fn coverage() {
        assert!(lock("a", false).covers(Path::new("a")));
        assert!(!lock("a", false).covers(Path::new("a/b")));
        assert!(lock("a", true).covers(Path::new("a/b/c")));
        assert!(!lock("a", true).covers(Path::new("ab")));
        assert!(lock("", true).covers(Path::new("x")));
        let locks = Locks::default();
        locks.table.lock().unwrap().extend([lock("a", false), lock("a/b/c", false), lock("x", false)]);
        assert_eq!(locks.needed(Path::new("a/b"), Reach::Tree).len(), 2, "c below, and a, whose member it is");
        assert_eq!(locks.needed(Path::new("a/n"), Reach::Tree).len(), 1, "a's member");
        assert_eq!(locks.needed(Path::new("a/n"), Reach::One).len(), 0);
        locks.forget_tree(Path::new("a"));
        assert_eq!(locks.covering(Path::new("x")).len(), 1);
        assert!(locks.covering(Path::new("a")).is_empty());
    }

    #[test]
    fn tokens_are_uuids() {
        let token = new_token().unwrap();
        assert_eq!(token.len(), "opaquelocktoken:".len() + 36);
        assert_ne!(token, new_token().unwrap());
        assert_eq!(&token[16 + 14..16 + 15], "4");
    }
}
