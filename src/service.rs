//! The version-independent service: a [`Request`] in, a [`Response`] out,
//! whatever protocol carried it.
//!
//! It holds what a request means to rawserve — the health path, routing
//! to the worker's handlers (files, listings, archives, API routes),
//! panics turned into 500s, and the access-log record — and nothing of
//! how bytes are framed: no heads, no `Content-Length`, no keep-alive, no
//! sockets. The HTTP/1 layer (`http1`) calls it for each request it
//! parses; an HTTP/2 stream calls the same functions and gets the same
//! response. Bodies come in one of the three ways the route asks for
//! ([`Intake`]): not at all, whole (attached to the request), or in
//! pieces through a [`BodySink`], fed with [`write_body`] and ended with
//! [`finish_body`].

use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use crate::access_log::Recorder;
use crate::config::Config;
pub(crate) use crate::handlers::router::Intake;
use crate::handlers::{BodySink, LocalRouter, Started};
use crate::http::request::Request;
use crate::http::response::Response;
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
}

/// A response, and whether the connection must not be reused after it
/// (a handler panicked, or asked for it).
pub struct Answered {
    pub response: Response,
    pub close: bool,
}

/// What the service does with a request whose route streams its body.
pub enum Begun {
    /// Feed the body to this sink ([`write_body`], then [`finish_body`]).
    Read(Box<dyn BodySink>),
    /// Answer at once; the body is not read.
    Answer(Answered),
}

impl Service<'_> {
    /// How the route for `request` takes its body. The health path never
    /// reads one.
    pub fn intake(&self, request: &Request) -> Intake {
        if self.is_health(request) {
            return Intake::Ignore;
        }
        self.router.intake(request)
    }

    /// The response to `request`, whose body (if its route reads it whole)
    /// is attached; recorded for the access log.
    pub fn respond(&mut self, request: &mut Request, facts: &Facts) -> Answered {
        if self.is_health(request) {
            // Health checks come every few seconds from every balancer: not logged.
            return Answered { response: health_response(facts.draining), close: false };
        }
        let answered = match self.call(request, facts) {
            Ok(Started::Answer(response)) => Answered { close: response.close, response },
            // A streaming route asked here has no body coming (the
            // protocol layer streams every body it has).
            Ok(Started::Read(sink)) => finish_body(sink, facts),
            Err(panicked) => panicked,
        };
        self.record(request, answered.response.status, facts);
        answered
    }

    /// Starts a request whose route streams its body: a sink to feed, or
    /// an answer now; recorded for the access log either way (a sink's
    /// final status is set on the entry once it answers).
    pub fn begin(&mut self, request: &mut Request, facts: &Facts) -> Begun {
        let begun = match self.call(request, facts) {
            Ok(Started::Read(sink)) => Begun::Read(sink),
            Ok(Started::Answer(response)) => Begun::Answer(Answered { close: response.close, response }),
            Err(panicked) => Begun::Answer(panicked),
        };
        let status = match &begun {
            Begun::Read(_) => UNFINISHED_BODY_STATUS,
            Begun::Answer(answered) => answered.response.status,
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
    }

    /// Calls the router, a panic turned into 500 and a close.
    fn call(&mut self, request: &mut Request, facts: &Facts) -> Result<Started, Answered> {
        let router = &mut *self.router;
        catch_unwind(AssertUnwindSafe(|| router.start(request))).map_err(|_| {
            log::warn!("{}: handler panicked on {} {}", facts.peer, request.method(), request.target());
            Answered { response: Response::error(500), close: true }
        })
    }

    fn is_health(&self, request: &Request) -> bool {
        self.config.health_path.as_deref().is_some_and(|path| path == request.path())
    }

    fn record(&mut self, request: &Request, status: u16, facts: &Facts) {
        if let Some(log) = &mut self.log {
            let client = match self.config.trusted_proxies.as_slice() {
                [] => facts.peer.ip(),
                trusted => proxy::forwarded_client(facts.peer.ip(), trusted, || request.headers()),
            };
            log.record(client, Some(request), status, facts.now);
        }
    }
}

/// Gives `piece` of a streamed body to `sink`; `Err` is the response that
/// ends the exchange (the sink refused the body, or panicked: 500 and a close).
pub fn write_body(sink: &mut dyn BodySink, piece: &[u8], facts: &Facts) -> Result<(), Answered> {
    match catch_unwind(AssertUnwindSafe(|| sink.write(piece))) {
        Ok(Ok(())) => Ok(()),
        // The rest of the body is not read, so the connection cannot go on.
        Ok(Err(response)) => Err(Answered { response, close: true }),
        Err(_) => {
            log::warn!("{}: a body sink panicked", facts.peer);
            Err(Answered { response: Response::error(500), close: true })
        }
    }
}

/// Ends a streamed body: the sink's response (500 and a close if it panicked).
pub fn finish_body(sink: Box<dyn BodySink>, facts: &Facts) -> Answered {
    match catch_unwind(AssertUnwindSafe(|| sink.finish())) {
        Ok(response) => Answered { close: response.close, response },
        Err(_) => {
            log::warn!("{}: a body sink panicked", facts.peer);
            Answered { response: Response::error(500), close: true }
        }
    }
}

/// The health path's answer: `ok` while serving, 503 from the first
/// shutdown signal so a load balancer sends no new work. Never cached.
fn health_response(draining: bool) -> Response {
    let response = if draining { Response::error(503) } else { Response::text("ok\n") };
    response.header("Cache-Control", "no-store")
}
