//! The fields of one request kept until its response ends, when its
//! access line is written: method, target, version, referer, user agent
//! and the user (an account's name, never a password) copied into one
//! reusable buffer, status, client and start time.

use std::net::IpAddr;
use std::time::Instant;

use crate::http::request::{version_str, Request};
use crate::proxy::canonical;

/// The fields of one request kept until its response ends (when the line
/// is written). Its buffer is reused for the next request.
#[derive(Debug, Default)]
pub struct Entry {
    /// The request line as logged (`METHOD TARGET VERSION`, so a common
    /// line escapes it in one go), then referer and user agent, raw as
    /// received, then the user, one after another.
    pub(super) fields: Vec<u8>,
    /// Where each of method, target, request line, referer and user agent
    /// ends in `fields`.
    ends: [usize; 5],
    /// Which of referer, user agent and user were present.
    has_referer: bool,
    has_agent: bool,
    has_user: bool,
    /// No request line could be parsed (a refused head): logged as `"-"`.
    pub(super) no_request: bool,
    pub(super) version: &'static str,
    pub(super) status: u16,
    pub(super) client: Option<IpAddr>,
    pub(super) started: Option<Instant>,
}

impl Entry {
    /// Whether a line is due when the current response ends.
    pub fn is_pending(&self) -> bool {
        self.client.is_some()
    }

    /// Records a request (or, with `None`, a head that could not be
    /// parsed) answered with `status` for `client`.
    pub fn record(&mut self, client: IpAddr, request: Option<&Request>, status: u16, started: Instant) {
        self.fields.clear();
        self.no_request = request.is_none();
        self.has_referer = false;
        self.has_agent = false;
        self.has_user = false;
        self.version = "";
        if let Some(request) = request {
            self.version = version_str(request.version());
            self.fields.extend_from_slice(request.method().as_str().as_bytes());
            self.ends[0] = self.fields.len();
            self.fields.push(b' ');
            self.fields.extend_from_slice(request.target().as_bytes());
            self.ends[1] = self.fields.len();
            self.fields.push(b' ');
            self.fields.extend_from_slice(self.version.as_bytes());
            self.ends[2] = self.fields.len();
            let mut referer: Option<&[u8]> = None;
            let mut agent: Option<&[u8]> = None;
            for (name, value) in request.headers() {
                if referer.is_none() && is_field_name(name, b"referer") {
                    referer = Some(value);
                } else if agent.is_none() && is_field_name(name, b"user-agent") {
                    agent = Some(value);
                }
            }
            self.has_referer = referer.is_some();
            if let Some(referer) = referer {
                self.fields.extend_from_slice(referer);
            }
            self.ends[3] = self.fields.len();
            self.has_agent = agent.is_some();
            if let Some(agent) = agent {
                self.fields.extend_from_slice(agent);
            }
            self.ends[4] = self.fields.len();
            if let Some(user) = request.user() {
                self.has_user = true;
                self.fields.extend_from_slice(user.as_bytes());
            }
        } else {
            self.ends = [0; 5];
        }
        self.status = status;
        self.client = Some(canonical(client));
        self.started = Some(started);
    }

    /// Changes the status (a response prepared later may differ).
    pub fn set_status(&mut self, status: u16) {
        self.status = status;
    }

    /// Gives up the buffer (for the worker's spares).
    pub fn take_buffer(&mut self) -> Vec<u8> {
        self.client = None;
        std::mem::take(&mut self.fields)
    }

    pub(super) fn method(&self) -> &[u8] {
        &self.fields[..self.ends[0]]
    }

    pub(super) fn target(&self) -> &[u8] {
        &self.fields[self.ends[0] + 1..self.ends[1]]
    }

    /// Method, target and version, with a space between each.
    pub(super) fn request_line(&self) -> &[u8] {
        &self.fields[..self.ends[2]]
    }

    pub(super) fn referer(&self) -> Option<&[u8]> {
        self.has_referer.then(|| &self.fields[self.ends[2]..self.ends[3]])
    }

    pub(super) fn agent(&self) -> Option<&[u8]> {
        self.has_agent.then(|| &self.fields[self.ends[3]..self.ends[4]])
    }

    /// The account the request came from (`%u`), when it had one.
    pub(super) fn user(&self) -> Option<&[u8]> {
        self.has_user.then(|| &self.fields[self.ends[4]..])
    }
}

/// Whether field `name` is `lowercase` (letters and `-`) in any case.
/// Setting bit 5 of a byte turns `A`-`Z` into `a`-`z` and keeps `-`; of
/// the bytes a field name can hold (httparse admits only tokens) no other
/// becomes a letter or `-`. Comparing every byte, without stopping at the
/// first difference, lets the compiler do it in a few word operations
/// (`eq_ignore_ascii_case` costs ~7 instructions a byte).
fn is_field_name<const N: usize>(name: &str, lowercase: &[u8; N]) -> bool {
    let Ok(name) = <&[u8; N]>::try_from(name.as_bytes()) else { return false };
    name.iter().zip(lowercase).fold(0, |differ, (&byte, &want)| differ | ((byte | 0x20) ^ want)) == 0
}

#[cfg(test)]
impl Entry {
    /// The entry of the request `raw` (a whole head), answered with
    /// `status` for `client`, for the tests.
    pub(super) fn parsed(raw: &str, client: IpAddr, status: u16) -> Entry {
        let request = crate::http1::parse::parse_leaking(raw.as_bytes(), 32).expect("valid").expect("complete").request;
        let mut entry = Entry::default();
        entry.record(client, Some(&request), status, Instant::now());
        entry
    }
}
