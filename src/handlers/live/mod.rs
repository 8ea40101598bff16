//! Live reload (`FileOptions::live_reload`, `--live-reload`): an HTML page
//! the folder serves reloads itself when a file under the root changes,
//! and swaps a changed stylesheet in place, keeping the page's state.
//!
//! - [`page`]: the script put into every HTML answer of the folder (files,
//!   the single-page app's index, `404.html`, listings; compressed or not),
//!   and the page's Content-Security-Policy amended to allow it.
//! - [`watcher`]: one thread watching the folder (inotify, every folder
//!   below the root but hidden ones), gathering an editor's burst of
//!   events into one change ([`changes`]: temporaries, hidden names and
//!   backups mean nothing; only stylesheets: swap; else: reload).
//! - [`feed`]: numbers the changes and wakes the workers; each page's
//!   event stream ([`EVENTS_PATH`], server-sent events) is a subscription,
//!   held open by its connection (`connection::listen`).
//!
//! Server-sent events rather than a WebSocket: the page only listens, an
//! `EventSource` reconnects by itself (and says what it saw last, so a
//! page learns of a restart), and the stream is plain HTTP through the
//! same connection code, TLS included. Its one drawback, browsers' six
//! connections per host over HTTP/1.1 (a seventh tab's requests would
//! wait), is met in the script: one tab per origin holds the stream and
//! tells the others (Web Locks and a `BroadcastChannel`).
//!
//! What this leaves alone: which file answers a request and how (`files`),
//! how the stream is written (`connection`), and when the server stops.

mod changes;
mod feed;
pub mod page;
mod watcher;

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

use self::feed::Feed;
use self::watcher::Watcher;
use crate::http::request::Request;
use crate::http::response::{Body, Response};

/// Where a page served with [`FileOptions::live_reload`] listens for
/// changes (server-sent events), from the server's root: a hidden name,
/// so no file of the site is shadowed unless dotfiles are served. A
/// [`StaticFiles`] answers it when a request for it reaches it: as the
/// router's fallback it always does; mounted under a prefix, route this
/// path to it too (`.get(LIVE_RELOAD_PATH, files.clone())`).
///
/// [`FileOptions::live_reload`]: crate::FileOptions::live_reload
/// [`StaticFiles`]: crate::StaticFiles
pub const EVENTS_PATH: &str = "/.rawserve/live";

/// Largest page read whole to put the script in; a larger one is sent as
/// it is. Pages are far smaller; this bounds the memory one request of a
/// huge `.html` file (a generated report) takes.
pub const MAX_PAGE_BYTES: u64 = 8 << 20;

/// A folder's live reload: its watching thread and the feed its pages
/// listen to. Dropping it stops the thread.
pub struct LiveReload {
    feed: Arc<Feed>,
    _watcher: Watcher,
}

impl fmt::Debug for LiveReload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LiveReload")
    }
}

impl LiveReload {
    /// Starts watching `root` (every folder below it is watched before
    /// this returns).
    pub fn start(root: &Path) -> io::Result<LiveReload> {
        let feed = Arc::new(Feed::new());
        let watcher = Watcher::start(root, Arc::clone(&feed))?;
        Ok(LiveReload { feed, _watcher: watcher })
    }

    /// The answer to a request for [`EVENTS_PATH`]: the event stream, held
    /// open. Never stored, and not buffered by a proxy (nginx reads
    /// `X-Accel-Buffering`).
    pub fn events(&self, request: &Request) -> Response {
        // A reconnecting `EventSource` says what it saw last in
        // `Last-Event-ID`; a page reloaded for a change says it in `?last=`
        // (the script keeps it across the reload): either way a change it
        // missed meanwhile reloads it at once.
        let last = match request.header("last-event-id") {
            Some(id) => Some(std::borrow::Cow::Borrowed(id)),
            None => request.query_pairs().find(|(name, _)| name == "last").map(|(_, id)| id),
        };
        let subscription = self.feed.subscribe(last.as_deref());
        Response::new(200)
            .header("Content-Type", "text/event-stream")
            .header("Cache-Control", "no-store")
            .header("X-Accel-Buffering", "no")
            .body(Body::Events(Box::new(subscription)))
            .closing()
    }
}

/// Whether a `Content-Type` (or a type) is HTML, the only kind of answer
/// that gets the script.
pub fn is_html(content_type: &str) -> bool {
    let mime = content_type.split(';').next().unwrap_or_default().trim();
    mime.eq_ignore_ascii_case("text/html")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_types() {
        for (value, want) in [
            ("text/html", true),
            ("text/html; charset=utf-8", true),
            ("TEXT/HTML;charset=iso-8859-1", true),
            ("application/xhtml+xml", false),
            ("text/plain", false),
            ("text/htmlx", false),
            ("", false),
        ] {
            assert_eq!(is_html(value), want, "{value:?}");
        }
    }
}
