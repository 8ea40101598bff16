//! Accounts (`--auth`, `--public-read`): who a request comes from, by HTTP
//! Basic credentials, and whether it may go on. Version-independent: the
//! service asks before routing (after the health path, which load
//! balancers probe without credentials), whatever protocol carried the
//! request.
//!
//! [`Accounts::check`] decides without blocking the worker on anything
//! but the one password check a new credential needs:
//!
//! - no `Authorization`: anonymous, which `--public-read` lets read (`GET`,
//!   `HEAD`, `OPTIONS`, `PROPFIND`) and anything else answers `401` with
//!   the challenge (`WWW-Authenticate: Basic realm="rawserve",
//!   charset="UTF-8"`), so a browser asks for a user and password;
//! - credentials this worker has seen succeed: the account, at once
//!   ([`Verified`]: a keyed digest of the header's value, never the value,
//!   per worker, bounded), so a browser that sends them with every request
//!   costs a digest (about 200 instructions), not an argon2 check (tens of
//!   milliseconds). The digest is SipHash-1-3 under a random 128-bit key
//!   (std's `RandomState`): 64 bits, which a guess cannot aim at without
//!   the key, and every guess that misses is checked and counted as a
//!   failure, so slowed like any other (a keyed BLAKE3 cost 630
//!   instructions a request, 10 % of a cached file's);
//! - an address refused for failing too often (`failures`): `429` with
//!   `Retry-After`, no password checked;
//! - otherwise the password is checked (constant-time, `verify`): the
//!   account, or `401` and a failure recorded for the address. An unknown
//!   user costs the same check as a known one, so timing tells no names.
//!
//! Neither the header nor the password is ever logged; the user name goes
//! in the access log's user field. A write handler (uploads) asks
//! [`may_write`] whether the request came with an account.

mod failures;
mod verify;

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use base64::Engine;

use crate::config::{Account, Config};
use crate::http::request::Request;
use crate::http::response::Response;
use failures::Failures;
pub use verify::hash_password;

/// The challenge of a 401: the realm browsers show, and that credentials
/// are UTF-8 (RFC 7617 §2.1).
pub const CHALLENGE: &str = "Basic realm=\"rawserve\", charset=\"UTF-8\"";

/// Credentials a worker keeps as verified: a browser sends the same ones
/// with every request, and a few users share a worker. Past it the worker
/// starts over (each credential then costs one more check).
pub const VERIFIED_PER_WORKER: usize = 64;

/// Methods `--public-read` lets anonymous users use: those that read.
const READ_METHODS: [&str; 4] = ["GET", "HEAD", "OPTIONS", "PROPFIND"];

/// The server's accounts: shared by every worker.
pub struct Accounts {
    accounts: Vec<Account>,
    public_read: bool,
    /// The keyed hash of the digests [`Verified`] keeps: random per
    /// process, so a digest says nothing of the credentials without it.
    key: std::hash::RandomState,
    /// Failed logins per address; locked only when a password is checked.
    failures: Mutex<Failures>,
}

/// One worker's verified credentials: digest → the index of the account.
/// The digests are keyed hashes already, so the table hashes them with
/// foldhash's cheap fixed one.
#[derive(Debug, Default)]
pub struct Verified {
    by_digest: HashMap<u64, usize, foldhash::fast::FixedState>,
}

/// What [`Accounts::check`] decided.
#[derive(Debug)]
pub enum Outcome<'a> {
    /// Credentials of this user.
    User(&'a str),
    /// No credentials, and the request may go on without (`--public-read`).
    Anonymous,
    /// The answer instead: 401 with the challenge, or 429.
    Refused(Response),
}

impl Accounts {
    /// The accounts of `config`; `None` when it has none (then nothing is
    /// checked at all).
    pub fn of(config: &Config) -> Option<Accounts> {
        if config.auth.is_empty() {
            return None;
        }
        Some(Accounts {
            accounts: config.auth.clone(),
            public_read: config.public_read,
            key: std::hash::RandomState::new(),
            failures: Mutex::new(Failures::default()),
        })
    }

    /// Who `request` comes from (`client`, as the access log names it),
    /// and whether it may go on; `verified` is the worker's.
    pub fn check(&self, request: &Request, client: IpAddr, now: Instant, verified: &mut Verified) -> Outcome<'_> {
        let Some(value) = request.header("authorization") else {
            let reads = READ_METHODS.contains(&request.method().as_str());
            return if self.public_read && reads { Outcome::Anonymous } else { Outcome::Refused(challenge()) };
        };
        let digest = self.key.hash_one(value.as_bytes());
        if let Some(&index) = verified.by_digest.get(&digest) {
            return Outcome::User(self.accounts[index].user());
        }
        // Locked only on this path: a new credential, at most a few per
        // user and worker, and each guess.
        let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(left) = failures.refused(client, now) {
            return Outcome::Refused(too_many(left));
        }
        drop(failures);
        match self.verify(value) {
            Some(index) => {
                if verified.by_digest.len() >= VERIFIED_PER_WORKER {
                    verified.by_digest.clear();
                }
                verified.by_digest.insert(digest, index);
                Outcome::User(self.accounts[index].user())
            }
            None => {
                let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let refused = failures.fail(client, now);
                drop(failures);
                log::info!(
                    "{client}: wrong credentials for {}{}",
                    request.target(),
                    match refused {
                        Some(left) => format!("; refused for {} s", left.as_secs()),
                        None => String::new(),
                    }
                );
                Outcome::Refused(challenge())
            }
        }
    }

    /// The account whose credentials `value` (an `Authorization` field) are.
    fn verify(&self, value: &str) -> Option<usize> {
        let (user, password) = credentials(value)?;
        let found = self.accounts.iter().position(|account| account.user().as_bytes() == user);
        // An unknown user is checked against the first account, and fails:
        // the same cost, so no answer is faster for names that do not exist.
        let account = &self.accounts[found.unwrap_or(0)];
        let right = verify::verify(account.secret(), &password);
        found.filter(|_| right)
    }
}

/// The user and password of a `Basic` `Authorization` value (the scheme
/// in any case, RFC 9110 §11.1); `None` for another scheme or a malformed
/// value.
fn credentials(value: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let mut user = base64::engine::general_purpose::STANDARD.decode(token.trim()).ok()?;
    let colon = user.iter().position(|&b| b == b':')?;
    let password = user.split_off(colon + 1);
    user.truncate(colon);
    Some((user, password))
}

/// 401 with the challenge: credentials are missing or wrong.
pub fn challenge() -> Response {
    Response::error(401).header("WWW-Authenticate", CHALLENGE).header("Cache-Control", "no-store")
}

/// 429: this address failed too often; try again in `left`.
fn too_many(left: std::time::Duration) -> Response {
    // Whole seconds, rounded up, so a client that waits that long is let in.
    let seconds = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    Response::error(429).header("Retry-After", seconds.to_string()).header("Cache-Control", "no-store")
}

/// Whether `request` may change files (an upload, a delete): `Ok` when the
/// server has no accounts or the request came with one's credentials, else
/// the 401 to answer (with `--public-read`, anonymous requests that read
/// get this far; writing still needs an account).
pub fn may_write(request: &Request) -> Result<(), Response> {
    match request.is_guarded() && request.user().is_none() {
        true => Err(challenge()),
        false => Ok(()),
    }
}

#[cfg(test)]
mod tests;
