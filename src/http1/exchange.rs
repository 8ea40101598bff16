//! One HTTP/1 request/response exchange, decided without I/O: from the
//! bytes a connection has buffered and a few facts about it, to what should
//! happen next — wait for more, answer (and how the connection continues),
//! or receive a body that the request's route reads.
//!
//! [`decide`] parses a head (`parse`), applies HTTP/1's framing rules —
//! `Expect: 100-continue`, `Content-Length` or chunked bodies, the head and
//! body limits, version handling, plain HTTP on an HTTPS port — and hands
//! the request to the version-independent [`Service`] for its answer. A
//! body the route reads whole and that has fully arrived is answered at
//! once, from the buffer; any other body the route reads becomes a
//! [`Receive`], which the connection feeds through a [`BodyDecoder`] and
//! ends with [`complete_whole`] or the sink's answer; a body nobody reads
//! is thrown away after the answer ([`Answer::skip`]). [`persistence`] is
//! the one place that decides keep-alive, [`after_response`] what follows
//! a sent response. Sockets, buffers and timers are `connection`'s.

use http::Method;

use super::body::{BodyDecoder, Limits};
use super::parse::{self, BodyLength, Expectation, FieldSlots, Head, RequestError};
use crate::http::request::{Request, Version};
use crate::http::response::Response;
use crate::service::{self, Begun, Intake, Service};

/// Most bytes of chunk extensions one body may carry. Nobody uses them;
/// a flood of them is work without a byte of body (hyper allows 16 KiB).
const MAX_EXTENSION_BYTES: usize = 4096;

/// What the connection knows that the bytes do not say.
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    /// The version-independent facts (client, time, draining).
    pub service: service::Facts,
    /// Plain HTTP arrived on an HTTPS port: every request is redirected.
    pub plain_on_tls_port: bool,
}

/// How the connection continues after a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// Read the next request.
    KeepAlive,
    /// Close once the response is sent.
    Close,
    /// Close, but the client may still be sending data we did not read (a
    /// refused head, an unread body): shut our side and read until it
    /// closes, so its data does not turn our close into a reset that
    /// destroys the response in flight.
    Linger,
}

/// What [`decide`] says to do with the buffered input.
pub enum Decision {
    /// Nothing can be answered yet: read more, while the input holds fewer
    /// than `limit` bytes (a longer input is answered, with an error if need be).
    Wait { limit: usize, head_started: bool },
    /// Send this answer.
    Answer(Answer),
    /// The route reads the request's body: receive it (boxed: rare, and
    /// large beside the other two).
    Receive(Box<Receive>),
}

/// How a response goes on the wire, as the request's head decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    /// Send the head only (HEAD).
    pub head_only: bool,
    /// The client speaks HTTP/1.0 (the head says keep-alive explicitly).
    pub http10: bool,
    /// The client allows the connection to stay open afterwards.
    pub keep_alive: bool,
}

impl Framing {
    /// The framing of an answer to a head that could not be parsed.
    const REFUSAL: Framing = Framing { head_only: false, http10: false, keep_alive: false };

    fn of(request: &Request, keep_alive: bool) -> Framing {
        Framing {
            head_only: request.method() == Method::HEAD,
            http10: request.version() == Version::HTTP_10,
            keep_alive,
        }
    }
}

/// A response decided for one request, with how to frame what follows.
pub struct Answer {
    pub response: Response,
    pub framing: Framing,
    pub persistence: Persistence,
    /// Input bytes used (head, and a buffered body); never more than the input.
    pub consumed: usize,
    /// A body nobody reads, to throw away once the answer is queued (the
    /// next request follows it).
    pub skip: Option<Box<BodyDecoder>>,
}

impl Answer {
    /// An error answer and a lingering close: for refusals of heads and
    /// bodies, and for the connection's own (timeouts, memory).
    pub fn error(status: u16, consumed: usize) -> Answer {
        Answer {
            response: Response::error(status),
            framing: Framing::REFUSAL,
            persistence: Persistence::Linger,
            consumed,
            skip: None,
        }
    }
}

/// A request whose route reads its body, which has not (all) arrived.
pub struct Receive {
    /// Bytes of the input used: the head.
    pub consumed: usize,
    /// Finds the body's bytes in what follows.
    pub decoder: BodyDecoder,
    /// The client waits for `100 Continue` before it sends the body.
    pub send_continue: bool,
    /// Where the body goes.
    pub target: Target,
    pub framing: Framing,
}

/// Where a received body goes.
pub enum Target {
    /// Into this buffer, which starts with a copy of the head (`head_len`
    /// bytes): [`complete_whole`] parses it again and gives the handler
    /// the body that follows it.
    Whole { buffer: Vec<u8>, head_len: usize },
    /// Into a streaming handler's sink (its entry is recorded already).
    Stream(Box<dyn crate::handlers::BodySink>),
}

/// How a request's body is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyUse {
    /// No body, or one that was read.
    Used,
    /// Skipped after the answer; the next request follows it.
    Skipped,
    /// Not read, and its end cannot be trusted (the client waits on
    /// `Expect`, or was refused mid-way): answer and close.
    Unread,
}

/// What [`decide`] says of an empty input, which needs neither facts nor a
/// service: wait for a head of at most `max_head` bytes (the setting
/// `max_head_bytes`). A connection asks this before each read,
/// twice per request, so it skips building them (callgrind: ~160
/// instructions a request).
pub fn awaiting_head(max_head: usize) -> Decision {
    Decision::Wait { limit: max_head, head_started: false }
}

/// Decides what to do with `input`, the bytes buffered on a connection.
pub fn decide(input: &[u8], facts: &Facts, service: &mut Service<'_>) -> Decision {
    if input.is_empty() {
        // What parsing nothing would decide, without the parse.
        return awaiting_head(service.config.max_head_bytes);
    }
    // Only the first `max_head` bytes are parsed, so an oversized head gets
    // the same answer however its bytes were split (found by fuzzing: a
    // malformed byte past the limit gave 400 read whole, 431 read in pieces).
    let window = input.len().min(service.config.max_head_bytes);
    let mut slots = FieldSlots::new();
    match parse::parse(&input[..window], &mut slots, service.config.max_headers) {
        Ok(Some(head)) => answer(head, input, facts, service),
        Ok(None) => unparsed(None, input, facts, service),
        Err(RequestError::MinorVersion) => decide_as_http11(input, window, facts, service),
        Err(error) => unparsed(Some(error), input, facts, service),
    }
}

/// [`decide`] for a later HTTP/1.x, parsed again from a copy that says 1.1
/// (RFC 9110 §6.2). Apart, so the usual path moves no copy around.
#[inline(never)]
fn decide_as_http11(input: &[u8], window: usize, facts: &Facts, service: &mut Service<'_>) -> Decision {
    let Some(copy) = parse::as_http11(input) else {
        return unparsed(Some(RequestError::MinorVersion), input, facts, service);
    };
    let mut slots = FieldSlots::new();
    match parse::parse(&copy[..window], &mut slots, service.config.max_headers) {
        Ok(Some(head)) => answer(head, &copy, facts, service),
        Ok(None) => unparsed(None, input, facts, service),
        Err(error) => unparsed(Some(error), input, facts, service),
    }
}

/// What follows a head that is not (yet) whole, `None`, or was refused.
fn unparsed(error: Option<RequestError>, input: &[u8], facts: &Facts, service: &mut Service<'_>) -> Decision {
    let max_head = service.config.max_head_bytes;
    match error {
        None if input.len() >= max_head => {
            let error = if input.contains(&b'\n') { RequestError::HeadTooLarge } else { RequestError::TargetTooLong };
            Decision::Answer(refuse(error, None, input.len(), facts, service))
        }
        // Also while draining: a request that has begun is still answered
        // (with `Connection: close`) if it completes within the grace period.
        None => Decision::Wait { limit: max_head, head_started: true },
        Some(error) => Decision::Answer(refuse(error, None, input.len(), facts, service)),
    }
}

/// The answer to a head that could not be accepted: an error, and a
/// lingering close because the client may be mid-send.
fn refuse(
    error: RequestError,
    request: Option<&Request>,
    consumed: usize,
    facts: &Facts,
    service: &mut Service<'_>,
) -> Answer {
    log::info!("{}: {error}", facts.service.peer);
    service.record_refusal(request, error.status(), &facts.service);
    Answer::error(error.status(), consumed)
}

/// Frames a parsed request, and answers it or receives its body.
fn answer(head: Head<'_>, source: &[u8], facts: &Facts, service: &mut Service<'_>) -> Decision {
    let Head { mut request, len: head_len, body, keep_alive, expect } = head;
    let framing = Framing::of(&request, keep_alive);
    let available = source.len();
    if facts.plain_on_tls_port {
        return Decision::Answer(redirect_to_https(&request, body, framing, available, facts, service));
    }
    if expect == Expectation::Unknown {
        return Decision::Answer(refuse(RequestError::Expectation, Some(&request), available, facts, service));
    }
    let respond = |request: &mut Request, service: &mut Service, consumed, body_use, skip| {
        let response = service.respond(request, &facts.service);
        Decision::Answer(answer_with(response, framing, body_use, consumed, skip, facts))
    };
    let no_body = matches!(body, BodyLength::None | BodyLength::Length(0));
    if no_body && !needs_length(&request) {
        // Most requests: no body, so nothing for the route to read (and no
        // need to ask it how it would). Not through `respond`: its call
        // cost ~35 instructions a request (callgrind).
        let response = service.respond(&request, &facts.service);
        return Decision::Answer(answer_with(response, framing, BodyUse::Used, head_len, None, facts));
    }
    let max_body = service.config.max_body_bytes;
    let intake = service.intake(&request);
    match (body, intake) {
        (BodyLength::None, Intake::Whole | Intake::Stream) if needs_length(&request) => {
            Decision::Answer(refuse(RequestError::LengthRequired, Some(&request), available, facts, service))
        }
        (BodyLength::None | BodyLength::Length(0), _) => respond(&mut request, service, head_len, BodyUse::Used, None),
        (BodyLength::Length(n), Intake::Ignore | Intake::Whole) if n > max_body => {
            Decision::Answer(refuse(RequestError::BodyTooLarge, Some(&request), available, facts, service))
        }
        // Only a route that reads bodies gets one; static files never do, so
        // their requests are answered at once and any body skipped (a slow
        // body cannot hold them up). A client waiting for `100 Continue`
        // may never send it, so then its length cannot be trusted to find
        // the next request: answer and close.
        // A chunked body nobody reads is not decoded either: answered and
        // closed, as before there was a decoder (a static server has no use
        // for it, and `Content-Length` is what clients send to files).
        (BodyLength::Chunked, Intake::Ignore) => respond(&mut request, service, head_len, BodyUse::Unread, None),
        (_, Intake::Ignore) if expect == Expectation::Continue => {
            respond(&mut request, service, head_len, BodyUse::Unread, None)
        }
        (_, Intake::Ignore) => {
            let skip = Box::new(decoder(body, max_body, service));
            respond(&mut request, service, head_len, BodyUse::Skipped, Some(skip))
        }
        (BodyLength::Length(n), Intake::Whole) if (available - head_len) as u64 >= n => {
            // The whole body is here: answered from the buffer, no copy.
            // OK to convert: n <= available - head_len.
            let end = head_len + n as usize;
            request.attach_body(&source[head_len..end]);
            respond(&mut request, service, end, BodyUse::Used, None)
        }
        (_, Intake::Whole) => Decision::Receive(Box::new(Receive {
            consumed: head_len,
            decoder: decoder(body, max_body, service),
            send_continue: expect == Expectation::Continue && available == head_len,
            target: Target::Whole { buffer: source[..head_len].to_vec(), head_len },
            framing,
        })),
        (_, Intake::Stream) => match service.begin(&request, &facts.service) {
            Begun::Read(sink) => Decision::Receive(Box::new(Receive {
                consumed: head_len,
                decoder: decoder(body, u64::MAX, service),
                send_continue: expect == Expectation::Continue && available == head_len,
                target: Target::Stream(sink),
                framing,
            })),
            // Refused before its body: the body is unread.
            Begun::Answer(response) => {
                Decision::Answer(answer_with(response, framing, BodyUse::Unread, head_len, None, facts))
            }
        },
    }
}

/// An HTTP/1.0 request to a route that reads bodies, with a method that
/// carries one, must say how long it is: without `Content-Length` its end
/// is unknown (RFC 1945 §7.2.2; chunked is HTTP/1.1 only).
fn needs_length(request: &Request) -> bool {
    request.version() == Version::HTTP_10
        && [Method::POST, Method::PUT, Method::PATCH].iter().any(|m| request.method() == m)
}

/// A decoder for `body`, at most `max_body` bytes of it.
fn decoder(body: BodyLength, max_body: u64, service: &Service) -> BodyDecoder {
    let limits = Limits {
        body_bytes: max_body,
        extension_bytes: MAX_EXTENSION_BYTES,
        // A trailer section is bounded like a head: it is one.
        trailer_bytes: service.config.max_head_bytes,
        trailer_fields: service.config.max_headers,
    };
    match body {
        BodyLength::Length(n) => BodyDecoder::length(n, limits),
        BodyLength::Chunked => BodyDecoder::chunked(limits),
        BodyLength::None => BodyDecoder::length(0, limits),
    }
}

/// The answer of a service call, framed.
fn answer_with(
    response: Response,
    framing: Framing,
    body_use: BodyUse,
    consumed: usize,
    skip: Option<Box<BodyDecoder>>,
    facts: &Facts,
) -> Answer {
    let persistence = persistence(framing.keep_alive, body_use, response.close, facts.service.draining);
    Answer { response, framing, persistence, consumed, skip }
}

/// Answers a request whose body was received whole into `buffer` (the
/// head's copy, then the body). The head was accepted before, so it parses
/// again; the service sees the same request with its body attached.
pub fn complete_whole(buffer: &[u8], head_len: usize, facts: &Facts, service: &mut Service<'_>) -> Answer {
    let mut slots = FieldSlots::new();
    let head = match parse::parse(&buffer[..head_len], &mut slots, service.config.max_headers) {
        Ok(Some(head)) => head,
        // OK: unreachable, the same bytes parsed before (or were rewritten
        // to say HTTP/1.1, which parses too); answered, never a panic.
        _ => return Answer::error(500, 0),
    };
    let framing = Framing::of(&head.request, head.keep_alive);
    let mut request = head.request;
    request.attach_body(&buffer[head_len..]);
    let response = service.respond(&request, &facts.service);
    answer_with(response, framing, BodyUse::Used, 0, None, facts)
}

/// Records, for the access log, a request whose body (to be received
/// whole into `buffer` after the head's copy) was refused with `status`.
pub fn record_refused_whole(buffer: &[u8], head_len: usize, status: u16, facts: &Facts, service: &mut Service<'_>) {
    let mut slots = FieldSlots::new();
    let head = parse::parse(&buffer[..head_len], &mut slots, service.config.max_headers);
    let request = head.ok().flatten().map(|head| head.request);
    service.record_refusal(request.as_ref(), status, &facts.service);
}

/// The answer a streaming sink gave once its body ended (or refused it).
pub fn complete_stream(response: Response, framing: Framing, body_read: bool, facts: &Facts) -> Answer {
    let body_use = if body_read { BodyUse::Used } else { BodyUse::Unread };
    answer_with(response, framing, body_use, 0, None, facts)
}

/// The answer to plain HTTP on an HTTPS port: `307` to the same URL on
/// `https://` (the Host as sent), then close. 307 rather than 301: a port
/// that is HTTPS today may be plain tomorrow (a development server), and
/// browsers keep a 301 for good; 307 also keeps the method and body. A
/// request without a Host (HTTP/1.0) names no URL to send it to: 400.
fn redirect_to_https(
    request: &Request,
    body: BodyLength,
    framing: Framing,
    available: usize,
    facts: &Facts,
    service: &mut Service<'_>,
) -> Answer {
    let location = request.header("host").map(|host| match request.target().strip_prefix("http://") {
        // An absolute-form target already names the host.
        Some(rest) => format!("https://{rest}"),
        None if request.target().starts_with('/') => format!("https://{host}{}", request.target()),
        None => format!("https://{host}/"),
    });
    let response = location
        .and_then(|location| Response::redirect(&location).ok())
        .map_or_else(|| Response::error(400), |response| response.with_status(http::StatusCode::TEMPORARY_REDIRECT));
    service.record_refusal(Some(request), response.status, &facts.service);
    let persistence =
        if matches!(body, BodyLength::None | BodyLength::Length(0)) { Persistence::Close } else { Persistence::Linger };
    Answer { response, framing, persistence, consumed: available, skip: None }
}

/// The one keep-alive decision: the client must allow it (version default
/// and `Connection`), the body's end must be known, the handler must not
/// ask to close (nor have panicked), and the server must not be draining.
fn persistence(client_allows: bool, body: BodyUse, handler_closes: bool, draining: bool) -> Persistence {
    if body == BodyUse::Unread {
        Persistence::Linger
    } else if client_allows && !handler_closes && !draining {
        Persistence::KeepAlive
    } else {
        Persistence::Close
    }
}

/// What follows a fully sent response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Read the next request.
    Read,
    /// Close now: nothing more is coming from the client.
    Close,
    /// Shut our side, read and discard until the client closes.
    Linger,
}

/// Applies `persistence` once the response is out. A response that said
/// keep-alive keeps the connection even if the server started draining
/// meanwhile: the client may already be sending its next request, which is
/// answered (with `Connection: close`) rather than lost; the connection
/// then ends at its idle timeout or at that answer. A close must linger
/// when the client may still be sending (`more_may_come`: unread bytes are
/// buffered or the socket is readable) unless it has already finished
/// (`peer_done`).
pub fn after_response(persistence: Persistence, peer_done: bool, more_may_come: bool) -> Next {
    match persistence {
        Persistence::KeepAlive => Next::Read,
        _ if peer_done => Next::Close,
        Persistence::Linger => Next::Linger,
        _ if more_may_come => Next::Linger,
        _ => Next::Close,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use Persistence::{Close, KeepAlive, Linger};

    #[test]
    fn after_a_response() {
        let cases = [
            // (persistence, peer_done, more_may_come) -> next
            ((KeepAlive, false, false), Next::Read),
            ((Close, false, false), Next::Close),
            ((Close, false, true), Next::Linger),
            ((Linger, false, false), Next::Linger),
            ((Linger, true, true), Next::Close),
        ];
        for ((p, done, more), want) in cases {
            assert_eq!(after_response(p, done, more), want, "{p:?} {done} {more}");
        }
    }

    #[test]
    fn keep_alive_needs_everyone_to_allow_it() {
        let cases = [
            // (client allows, body, handler closes, draining) -> persistence
            ((true, BodyUse::Used, false, false), KeepAlive),
            ((true, BodyUse::Skipped, false, false), KeepAlive),
            ((false, BodyUse::Used, false, false), Close),
            ((true, BodyUse::Used, true, false), Close),
            ((true, BodyUse::Used, false, true), Close),
            ((true, BodyUse::Unread, false, false), Linger),
            ((false, BodyUse::Unread, true, true), Linger),
        ];
        for ((allows, body, closes, draining), want) in cases {
            assert_eq!(persistence(allows, body, closes, draining), want, "{allows} {body:?} {closes} {draining}");
        }
    }
}
