//! Requests arriving on HTTP/2 streams: each head becomes the
//! version-independent [`Request`] and goes to the service, which answers
//! at once or says how it reads the body (whole into a budgeted buffer,
//! or piece by piece into a sink); DATA frames are fed on until the body
//! ends, is refused (413, 503) or the sink answers early.

use super::{Exchange, Stage};
use crate::connection::buffer::Buffer;
use crate::connection::{service_for, Connection, State};
use crate::context::Context;
use crate::handlers::BodySink;
use crate::http::request::{Request, Version};
use crate::http::response::Response;
use crate::http2::head::RequestHead;
use crate::http2::hpack::Fields;
use crate::service::{self, Begun, Intake};

impl Connection {
    pub(super) fn on_request(
        &mut self,
        stream: u32,
        fields: Fields,
        head: RequestHead,
        end_stream: bool,
        cx: &mut Context,
    ) {
        let mut exchange = self.take_exchange(stream);
        let facts = self.service_facts(cx);
        let head_only = head.method == http::Method::HEAD;
        /// What the service said.
        enum Act {
            Answer(Response),
            Whole,
            Sink(Box<dyn BodySink>),
        }
        let expects_continue;
        let act = {
            let mut slots = Vec::new();
            let request = build_request(&fields, &head, &mut slots);
            expects_continue = request.header("expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue"));
            let mut service = service_for(&mut exchange.entry, &mut exchange.tally, cx);
            let intake = if end_stream { Intake::Ignore } else { service.intake(&request) };
            let max_body = service.config.max_body_bytes;
            match intake {
                Intake::Ignore => Act::Answer(service.respond(&request, &facts)),
                Intake::Whole if head.content_length.is_some_and(|n| n > max_body) => {
                    log::info!("{}: request body larger than allowed", self.peer);
                    service.record_refusal(Some(&request), 413, &facts);
                    Act::Answer(Response::error(413))
                }
                Intake::Whole => Act::Whole,
                Intake::Stream => match service.begin(&request, &facts) {
                    Begun::Read(sink) => Act::Sink(sink),
                    Begun::Answer(response) => Act::Answer(response),
                },
            }
        };
        if expects_continue && !matches!(act, Act::Answer(_)) {
            // The client waits for a word before it sends the body (RFC 9110 §10.1.1).
            if let State::Http2(h2) = &mut self.state {
                let mut block = Vec::with_capacity(8);
                crate::http2::hpack::encode_status(&mut block, 100);
                h2.session.send_head(stream, &block, false);
            }
        }
        match act {
            Act::Answer(response) => {
                self.recycle(fields);
                self.answer(stream, exchange, response, head_only, cx)
            }
            Act::Whole => {
                exchange.stage = Stage::Whole { fields, head, body: Buffer::default() };
                self.put_exchange(stream, exchange);
            }
            Act::Sink(sink) => {
                self.recycle(fields);
                exchange.stage = Stage::Sink(sink);
                self.put_exchange(stream, exchange);
            }
        }
    }

    /// Gives a request's decoded list back to the session, for the next.
    fn recycle(&mut self, fields: Fields) {
        if let State::Http2(h2) = &mut self.state {
            h2.session.recycle(fields);
        }
    }

    pub(super) fn on_data(&mut self, stream: u32, data: &[u8], end_stream: bool, cx: &mut Context) {
        let mut exchange = self.take_exchange(stream);
        let facts = self.service_facts(cx);
        match &mut exchange.stage {
            Stage::Whole { body, .. } => {
                if body.len() as u64 + data.len() as u64 > cx.shared.config.max_body_bytes {
                    log::info!("{}: request body larger than allowed", self.peer);
                    return self.refuse_whole(stream, exchange, 413, cx);
                }
                if !body.append(data, &cx.shared.budget, self.peer) {
                    log::info!("{}: no room in the input memory budget; answering 503", self.peer);
                    return self.refuse_whole(stream, exchange, 503, cx);
                }
                if !end_stream {
                    return self.put_exchange(stream, exchange);
                }
                let Stage::Whole { fields, head, mut body } = std::mem::take(&mut exchange.stage) else { return };
                let head_only = head.method == http::Method::HEAD;
                let mut slots = Vec::new();
                let mut request = build_request(&fields, &head, &mut slots);
                request.attach_body(body.as_slice());
                let response = service_for(&mut exchange.entry, &mut exchange.tally, cx).respond(&request, &facts);
                body.release(&cx.shared.budget);
                self.answer(stream, exchange, response, head_only, cx);
            }
            Stage::Sink(sink) => {
                if !data.is_empty() {
                    if let Err(response) = service::write_body(sink.as_mut(), data, &facts) {
                        // The sink is dropped before the answer goes out: it cleans up.
                        exchange.stage = Stage::Answered;
                        return self.answer_sink(stream, exchange, response, cx);
                    }
                }
                if !end_stream {
                    return self.put_exchange(stream, exchange);
                }
                let Stage::Sink(sink) = std::mem::take(&mut exchange.stage) else { return };
                let response = service::finish_body(sink, &facts);
                self.answer_sink(stream, exchange, response, cx);
            }
            // A body nobody reads: dropped (its window is given back all the same).
            _ => self.put_exchange(stream, exchange),
        }
    }

    /// A streamed body's answer: its status on the entry it began.
    fn answer_sink(&mut self, stream: u32, mut exchange: Exchange, response: Response, cx: &mut Context) {
        exchange.entry.set_status(response.status);
        exchange.tally.set_status(response.status);
        self.answer(stream, exchange, response, false, cx);
    }

    /// A body refused on its way in: `status`, logged with its request.
    fn refuse_whole(&mut self, stream: u32, mut exchange: Exchange, status: u16, cx: &mut Context) {
        let facts = self.service_facts(cx);
        if let Stage::Whole { fields, head, mut body } = std::mem::take(&mut exchange.stage) {
            body.release(&cx.shared.budget);
            let mut slots = Vec::new();
            let request = build_request(&fields, &head, &mut slots);
            service_for(&mut exchange.entry, &mut exchange.tally, cx).record_refusal(Some(&request), status, &facts);
        }
        self.answer(stream, exchange, Response::error(status), false, cx);
    }
}

/// The version-independent request of a stream: `slots` receives its
/// fields (the regular ones, and `host` from `:authority` when absent).
fn build_request<'b>(fields: &'b Fields, head: &RequestHead, slots: &'b mut Vec<httparse::Header<'b>>) -> Request<'b> {
    slots.reserve(head.regular.len() + 1);
    for i in head.regular.clone() {
        // OK: names were checked to be lowercase tokens, so ASCII.
        let name = std::str::from_utf8(fields.name(i)).unwrap_or("");
        slots.push(httparse::Header { name, value: fields.value(i) });
    }
    if let (Some(authority), false) = (&head.authority, head.has_host) {
        slots.push(httparse::Header { name: "host", value: &fields.bytes[authority.clone()] });
    }
    // OK: the path was checked to be visible ASCII.
    let target = std::str::from_utf8(&fields.bytes[head.path.clone()]).unwrap_or("/");
    Request::new(head.method.clone(), target, Version::HTTP_2, slots)
}
