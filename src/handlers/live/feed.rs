//! Where changes meet the pages that listen: the [`Feed`] numbers each
//! change the watcher publishes and wakes every worker that has a
//! listening connection; each connection's [`Subscription`] (its events
//! body, `http::response::Events`) sends what it has not sent yet, as
//! server-sent events.
//!
//! Every event carries an `id` (`<instance>-<number>`), which a browser's
//! `EventSource` sends back as `Last-Event-ID` when it reconnects. A
//! subscription made with one learns what the page missed: if the id is
//! from another instance the server was restarted (files may have changed
//! meanwhile), and if it is older than the last change the page missed
//! changes while it was away; either way the page reloads at once.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use super::changes::Change;
use crate::http::response::{Events, Wake};

/// Changes a feed remembers, for subscriptions that fell behind (a
/// worker woken late, a browser reconnecting): more missed than this and
/// the page just reloads.
const REMEMBERED: usize = 16;
/// What a browser waits before it reconnects (the `retry` field): short,
/// so a restarted server's pages reload within about a second.
const RETRY_MS: u32 = 1000;

/// Changes published to every listening page of one folder.
#[derive(Debug)]
pub struct Feed {
    /// This server's run, so a reconnecting page can tell a restart.
    instance: u64,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The number of the last change published (0: none yet).
    last: u64,
    /// The latest changes, oldest first, with their numbers.
    recent: VecDeque<(u64, Change)>,
    /// The wakers of the workers that have listening connections.
    wakers: Vec<Wake>,
}

impl Feed {
    pub fn new() -> Feed {
        // Distinct per run: nanoseconds of the start, and the process.
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let instance = nanos ^ (u64::from(std::process::id()) << 40);
        Feed { instance, state: Mutex::new(State::default()) }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding it left plain data behind: still usable.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Publishes `change` and wakes every worker with a listener.
    pub fn publish(&self, change: Change) {
        let wakers = {
            let mut state = self.state();
            state.last += 1;
            let number = state.last;
            state.recent.push_back((number, change));
            if state.recent.len() > REMEMBERED {
                state.recent.pop_front();
            }
            state.wakers.clone()
        };
        for waker in wakers {
            if let Err(e) = waker.wake() {
                log::warn!("live reload: cannot wake a worker: {e}");
            }
        }
    }

    /// A subscription for a page that sent `last_event_id` (when it
    /// reconnects), starting after the latest change.
    pub fn subscribe(self: &Arc<Feed>, last_event_id: Option<&str>) -> Subscription {
        let last = self.state().last;
        let missed = match last_event_id.and_then(parse_id) {
            Some((instance, _)) if instance != self.instance => Some("restarted"),
            Some((_, seen)) if seen < last => Some("missed"),
            _ => None,
        };
        Subscription { feed: Arc::clone(self), seen: last, opened: false, missed }
    }

    fn id(&self, number: u64) -> String {
        format!("{:x}-{number}", self.instance)
    }
}

/// `<instance hex>-<number>` as [`Feed::id`] writes it.
fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (instance, number) = id.trim().split_once('-')?;
    Some((u64::from_str_radix(instance, 16).ok()?, number.parse().ok()?))
}

/// One page's events: an events body (`Body::Events`).
#[derive(Debug)]
pub struct Subscription {
    feed: Arc<Feed>,
    /// The number of the last change this page was sent (or knew of).
    seen: u64,
    /// The stream's opening (`retry`, the current id) is sent.
    opened: bool,
    /// The page missed changes before it connected (see the module
    /// comment): it reloads first thing.
    missed: Option<&'static str>,
}

impl Events for Subscription {
    fn listen(&mut self, wake: &Wake) {
        let mut state = self.feed.state();
        if !state.wakers.iter().any(|w| Arc::ptr_eq(w, wake)) {
            state.wakers.push(Arc::clone(wake));
        }
    }

    fn next(&mut self, out: &mut Vec<u8>) -> bool {
        let start = out.len();
        if !self.opened {
            self.opened = true;
            let _ = write!(Text(out), "retry: {RETRY_MS}\nid: {}\n\n", self.feed.id(self.seen));
            if let Some(why) = self.missed.take() {
                event(out, &self.feed.id(self.seen), "reload", why);
            }
        }
        let state = self.feed.state();
        if state.last > self.seen {
            let missed: Vec<&Change> =
                state.recent.iter().filter(|(number, _)| *number > self.seen).map(|(_, c)| c).collect();
            let id = self.feed.id(state.last);
            let complete = state.last - self.seen == missed.len() as u64;
            let styles: Option<Vec<&str>> = missed
                .iter()
                .map(|c| match c {
                    Change::Styles(paths) => Some(paths.iter().map(String::as_str)),
                    Change::Reload(_) => None,
                })
                .collect::<Option<Vec<_>>>()
                .map(|lists| lists.into_iter().flatten().collect());
            match (complete, styles) {
                (true, Some(paths)) => event(out, &id, "css", &paths.join("\n")),
                _ => {
                    let why = missed.iter().rev().find_map(|c| match c {
                        Change::Reload(path) => Some(path.as_str()),
                        Change::Styles(_) => None,
                    });
                    event(out, &id, "reload", why.unwrap_or("missed"));
                }
            }
            self.seen = state.last;
        }
        out.len() > start
    }

    fn keep_alive(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b": keep-alive\n\n");
    }
}

/// Appends one event: its id, type and data (one `data:` line per line).
fn event(out: &mut Vec<u8>, id: &str, kind: &str, data: &str) {
    let _ = write!(Text(out), "id: {id}\nevent: {kind}\n");
    for line in data.split('\n') {
        let _ = writeln!(Text(out), "data: {line}");
    }
    out.push(b'\n');
}

/// `fmt::Write` onto bytes.
struct Text<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Text<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn next(subscription: &mut Subscription) -> String {
        let mut out = Vec::new();
        subscription.next(&mut out);
        String::from_utf8(out).unwrap()
    }

    fn styles(paths: &[&str]) -> Change {
        Change::Styles(paths.iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn a_page_hears_each_change_once() {
        let feed = Arc::new(Feed::new());
        let id = |n| feed.id(n);
        let mut page = feed.subscribe(None);
        assert_eq!(next(&mut page), format!("retry: 1000\nid: {}\n\n", id(0)));
        assert_eq!(next(&mut page), "", "nothing new");
        feed.publish(styles(&["/a.css"]));
        assert_eq!(next(&mut page), format!("id: {}\nevent: css\ndata: /a.css\n\n", id(1)));
        assert_eq!(next(&mut page), "");
        feed.publish(Change::Reload("/index.html".into()));
        assert_eq!(next(&mut page), format!("id: {}\nevent: reload\ndata: /index.html\n\n", id(2)));
        // Several at once: stylesheets merge; anything else reloads.
        feed.publish(styles(&["/a.css"]));
        feed.publish(styles(&["/b.css", "/c.css"]));
        assert_eq!(next(&mut page), format!("id: {}\nevent: css\ndata: /a.css\ndata: /b.css\ndata: /c.css\n\n", id(4)));
        feed.publish(Change::Reload("/x.js".into()));
        feed.publish(styles(&["/a.css"]));
        assert_eq!(next(&mut page), format!("id: {}\nevent: reload\ndata: /x.js\n\n", id(6)));
        // Further behind than remembered: a reload.
        for _ in 0..REMEMBERED + 1 {
            feed.publish(styles(&["/a.css"]));
        }
        assert!(next(&mut page).contains("event: reload\ndata: missed\n"));
    }

    #[test]
    fn a_reconnecting_page_learns_what_it_missed() {
        let feed = Arc::new(Feed::new());
        feed.publish(styles(&["/a.css"]));
        let current = feed.id(1);
        let opened = |page: &mut Subscription| next(page);
        // Up to date: just the opening.
        let mut page = feed.subscribe(Some(&current));
        assert_eq!(opened(&mut page), format!("retry: 1000\nid: {current}\n\n"));
        // Behind, or from another run of the server: reload at once.
        let mut behind = feed.subscribe(Some(&feed.id(0)));
        assert!(opened(&mut behind).ends_with("event: reload\ndata: missed\n\n"));
        let other = Feed::new();
        let mut restarted = feed.subscribe(Some(&other.id(7)));
        assert!(opened(&mut restarted).ends_with("event: reload\ndata: restarted\n\n"));
        // An id that is not ours is ignored.
        let mut odd = feed.subscribe(Some("nonsense"));
        assert_eq!(opened(&mut odd), format!("retry: 1000\nid: {current}\n\n"));
    }

    #[test]
    fn ids_read_back() {
        assert_eq!(parse_id("ff-12"), Some((255, 12)));
        assert_eq!(parse_id(" 0-0 "), Some((0, 0)));
        for bad in ["", "-", "x-1", "1-x", "1", "1-2-3"] {
            assert_eq!(parse_id(bad), None, "{bad:?}");
        }
    }
}
