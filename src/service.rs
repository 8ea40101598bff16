//! The version-independent service: a [`Request`] in, a [`Response`] out,
//! whatever protocol carried it.
//!
//! It holds what a request means to rawserve — the health and metrics
//! paths, who the request comes from (the accounts of `auth`, checked
//! after the health path and before routing), routing to the worker's
//! handlers (files, listings, archives, API routes), panics turned into
//! 500s, and the access-log and metrics records — and nothing of
//! how bytes are framed: no heads, no `Content-Length`, no keep-alive, no
//! sockets. The HTTP/1 layer (`http1`) calls it for each request it
//! parses; an HTTP/2 stream calls the same functions and gets the same
//! response. Bodies come in one of the three ways the route asks for
//! ([`Intake`]): not at all, whole (attached to the request), or in
//! pieces through a [`BodySink`], fed with [`write_body`] and ended with
//! [`finish_body`].

use std::net::{IpAddr, SocketAddr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use crate::access_log::Recorder;
use crate::auth::{Accounts, Outcome, Verified};
use crate::config::Config;
pub(crate) use crate::handlers::router::Intake;
use crate::handlers::{BodySink, LocalRouter, Started};
use crate::http::request::Request;
use crate::http::response::Response;
use crate::metrics::{Metrics, Tally, CONTENT_TYPE};
use crate::proxy;

/// What the protocol layer knows of an exchange besides the request.
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    /// The client: the socket's peer, or the address a PROXY header gave.
    pub peer: SocketAddr,
    /// When the request's bytes were taken up, for the time it took.
    pub now: Instant,
    /// The server is shutting down (health answers 503).
    pub draining: bool,
}

/// The status an entry holds while a streamed body is still being read:
/// what the log says if the client goes away before the handler answers.
const UNFINISHED_BODY_STATUS: u16 = 400;

/// One worker's service, lent to the protocol layer for one request.
pub struct Service<'a> {
    pub config: &'a Config,
    pub router: &'a mut LocalRouter,
    /// Where the request's access-log fields go; `None` when the log is off.
    pub log: Option<Recorder<'a>>,
    /// Every worker's counters, for a scrape; `None` with metrics off.
    pub metrics: Option<&'a Metrics>,
    /// Where the request's facts for metrics go; `None` with metrics off.
    pub tally: Option<&'a mut Tally>,
    /// The server's accounts; `None` when it has none (nothing is checked).
    pub accounts: Option<&'a Accounts>,
    /// The credentials this worker has verified.
    pub verified: &'a mut Verified,
}

/// What the service does with a request whose route streams its body.
pub enum Begun {
    /// Feed the body to this sink ([`write_body`], then [`finish_body`]).
    Read(Box<dyn BodySink>),
    /// Answer at once; the body is not read.
    Answer(Response),
}

impl Service<'_> {
    /// How the route for `request` takes its body. The health path never
    /// reads one.
    pub fn intake(&self, request: &Request) -> Intake {
        if self.is_health(request) || self.is_metrics(request) {
            return Intake::Ignore;
        }
        self.router.intake(request)
    }

    /// The response to `request`, whose body (if its route reads it whole)
    /// is attached; recorded for the access log and metrics. A panicking
    /// handler's is a 500 that closes the connection (`Response::close`).
    // Inlined: one call per request on the hot path (callgrind: ~150
    // instructions a request in calls and moves when it was not).
    #[inline(always)]
    pub fn respond(&mut self, request: &Request, facts: &Facts) -> Response {
        if self.is_health(request) {
            // Health checks come every few seconds from every balancer: not logged.
            return health_response(facts.draining);
        }
        if self.is_metrics(request) {
            return self.scrape(request, facts);
        }
        if let Some(accounts) = self.accounts {
            return self.respond_guarded(accounts, request, facts);
        }
        let router = &mut *self.router;
        let response =
            catch_unwind(AssertUnwindSafe(|| router.route(request))).unwrap_or_else(|_| panicked(request, facts));
        self.record(request, response.status, facts);
        response
    }

    /// [`respond`](Self::respond) on a server with accounts: the request
    /// goes on as its user (or anonymously) if `accounts` let it.
    #[inline(never)]
    fn respond_guarded(&mut self, accounts: &Accounts, request: &Request, facts: &Facts) -> Response {
        let user = match self.identify(accounts, request, facts) {
            Ok(user) => user,
            Err(refusal) => return refusal,
        };
        let request = request.with_user(user);
        let router = &mut *self.router;
        let response =
            catch_unwind(AssertUnwindSafe(|| router.route(&request))).unwrap_or_else(|_| panicked(&request, facts));
        self.record(&request, response.status, facts);
        response
    }

    /// Who `request` comes from: `Ok(None)` anonymous, or `Err` the refusal
    /// to answer, recorded.
    fn identify<'s>(
        &mut self,
        accounts: &'s Accounts,
        request: &Request,
        facts: &Facts,
    ) -> Result<Option<&'s str>, Response> {
        let client = client(self.config, request, facts);
        match accounts.check(request, client, facts.now, self.verified) {
            Outcome::User(user) => Ok(Some(user)),
            Outcome::Anonymous => Ok(None),
            Outcome::Refused(response) => {
                self.record(request, response.status, facts);
                Err(response)
            }
        }
    }

    /// Starts a request whose route streams its body: a sink to feed, or
    /// an answer now; recorded for the access log either way (a sink's
    /// final status is set on the entry once it answers). With accounts,
    /// a request they refuse is answered before its body is read.
    pub fn begin(&mut self, request: &Request, facts: &Facts) -> Begun {
        let user = match self.accounts {
            Some(accounts) => match self.identify(accounts, request, facts) {
                Ok(user) => Some(user),
                Err(refusal) => return Begun::Answer(refusal),
            },
            None => None,
        };
        let guarded;
        let request = match user {
            Some(user) => {
                guarded = request.with_user(user);
                &guarded
            }
            None => request,
        };
        let router = &mut *self.router;
        let begun = match catch_unwind(AssertUnwindSafe(|| router.start(request))) {
            Ok(Started::Read(sink)) => Begun::Read(sink),
            Ok(Started::Answer(response)) => Begun::Answer(response),
            Err(_) => Begun::Answer(panicked(request, facts)),
        };
        let status = match &begun {
            Begun::Read(_) => UNFINISHED_BODY_STATUS,
            Begun::Answer(response) => response.status,
        };
        self.record(request, status, facts);
        begun
    }

    /// Records a request refused before routing (a bad head or body):
    /// `request` is `None` when no request line could be parsed.
    pub fn record_refusal(&mut self, request: Option<&Request>, status: u16, facts: &Facts) {
        if let Some(log) = &mut self.log {
            log.record(facts.peer.ip(), request, status, facts.now);
        }
        if let Some(tally) = &mut self.tally {
            tally.refuse(request, status, facts.now);
        }
    }

    #[inline(always)]
    fn is_health(&self, request: &Request) -> bool {
        self.config.health_path.as_deref().is_some_and(|path| path == request.path())
    }

    #[inline(always)]
    fn is_metrics(&self, request: &Request) -> bool {
        self.config.metrics_path.as_deref().is_some_and(|path| path == request.path())
    }

    /// The metrics path's answer: every worker's counters, summed, to a
    /// client that may read them; 403 (logged and counted) to others.
    /// Scrapes themselves are neither logged nor counted, like health
    /// checks: they come every few seconds and would only count themselves.
    // Out of line: `respond` is inlined into the hot path, this is not it.
    #[cold]
    #[inline(never)]
    fn scrape(&mut self, request: &Request, facts: &Facts) -> Response {
        // With accounts, a scrape needs one like every other request; an
        // account's credentials let it in from any address.
        let user = match self.accounts {
            Some(accounts) => match self.identify(accounts, request, facts) {
                Ok(user) => user,
                Err(refusal) => return refusal,
            },
            None => None,
        };
        let (Some(metrics), true) = (self.metrics, user.is_some() || self.may_scrape(request, facts)) else {
            log::info!("{}: metrics refused: not a loopback client (see --metrics-public)", facts.peer);
            let response = Response::error(403);
            self.record(request, response.status, facts);
            return response;
        };
        Response::page(200, CONTENT_TYPE, metrics.render().into_bytes()).header("Cache-Control", "no-store")
    }

    /// Whether this client may read the metrics: anyone with
    /// `Config::metrics_public`, else only a client on loopback (a
    /// Prometheus or an agent on this machine). Through a trusted proxy
    /// the client it names counts; a request that carries forwarding
    /// fields from a peer not trusted came through a proxy (perhaps one on
    /// this machine, passing on a client from anywhere), and is refused.
    fn may_scrape(&self, request: &Request, facts: &Facts) -> bool {
        if self.config.metrics_public {
            return true;
        }
        let client = client(self.config, request, facts);
        let forwarded_untrusted = || {
            !proxy::is_trusted(&self.config.trusted_proxies, facts.peer.ip())
                && request.headers().any(|(name, _)| {
                    name.eq_ignore_ascii_case("forwarded") || name.eq_ignore_ascii_case("x-forwarded-for")
                })
        };
        client.is_loopback() && !forwarded_untrusted()
    }

    #[inline(always)]
    fn record(&mut self, request: &Request, status: u16, facts: &Facts) {
        if let Some(log) = &mut self.log {
            log.record(client(self.config, request, facts), Some(request), status, facts.now);
        }
        if let Some(tally) = &mut self.tally {
            tally.record(Some(request), status, facts.now);
        }
    }
}

/// The client, as the access log names it: the peer, or whom a trusted
/// proxy says it forwards for.
#[inline(always)]
fn client(config: &Config, request: &Request, facts: &Facts) -> IpAddr {
    match config.trusted_proxies.as_slice() {
        [] => facts.peer.ip(),
        trusted => proxy::forwarded_client(facts.peer.ip(), trusted, || request.headers()),
    }
}

/// The answer to a request whose handler panicked: 500, and a close.
fn panicked(request: &Request, facts: &Facts) -> Response {
    log::warn!("{}: handler panicked on {} {}", facts.peer, request.method(), request.target());
    Response::error(500).closing()
}

/// Gives `piece` of a streamed body to `sink`; `Err` is the response that
/// ends the exchange (the sink refused the body, or panicked: 500), after
/// which the connection closes, since the rest of the body is not read.
pub fn write_body(sink: &mut dyn BodySink, piece: &[u8], facts: &Facts) -> Result<(), Response> {
    match catch_unwind(AssertUnwindSafe(|| sink.write(piece))) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(response)) => Err(response.closing()),
        Err(_) => {
            log::warn!("{}: a body sink panicked", facts.peer);
            Err(Response::error(500).closing())
        }
    }
}

/// Ends a streamed body: the sink's response (500 and a close if it panicked).
pub fn finish_body(sink: Box<dyn BodySink>, facts: &Facts) -> Response {
    catch_unwind(AssertUnwindSafe(|| sink.finish())).unwrap_or_else(|_| {
        log::warn!("{}: a body sink panicked", facts.peer);
        Response::error(500).closing()
    })
}

/// The health path's answer: `ok` while serving, 503 from the first
/// shutdown signal so a load balancer sends no new work. Never cached.
fn health_response(draining: bool) -> Response {
    let response = if draining { Response::error(503) } else { Response::text("ok\n") };
    response.header("Cache-Control", "no-store")
}
