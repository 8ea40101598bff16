//! Embedding rawserve: a folder of static files plus a small JSON API, in
//! one process, on rawserve's worker pool.
//!
//! `cargo run --example embed -- 8000 [FOLDER]` serves FOLDER (default
//! `public`) and
//!
//! - `POST /api/echo`: answers the JSON body it was sent (`415` unless the
//!   request says `Content-Type: application/json`);
//! - `GET /api/count`: how many times it was called, across all workers
//!   (state shared through an atomic);
//! - `GET /api/count/worker`: the same, counted by each worker on its own
//!   (state per worker: no atomic, no lock), with the worker's index;
//! - `GET /api/items/{id}`: a path parameter and the query's pairs
//!   (`?fields=a,b`), `400` for an id that is not a number (a handler
//!   returning `Result`);
//! - `PUT /api/size`: reads a body of any size in pieces, as it arrives,
//!   and answers how many bytes and lines it had (a streaming handler).
//!
//! Bodies may come with `Content-Length` or chunked, and after `100
//! Continue` when the client waits for it (curl does for large bodies):
//! `curl -H 'Content-Type: application/json' -H 'Expect: 100-continue'
//! --data-binary @data.json http://127.0.0.1:8000/api/echo`.
//!
//! It prints its URL once listening and runs until stopped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rawserve::{BodySink, Config, Endpoint, Request, Response, Router, Server, Started, StaticFiles, StatusCode};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().as_deref().unwrap_or("8000").parse()?;
    let folder = args.next().unwrap_or_else(|| "public".to_string());

    let calls = Arc::new(AtomicU64::new(0));
    let router = Router::new()
        .post("/api/echo", echo)
        .get("/api/count", move |_: &Request| {
            let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
            Response::json(format!("{{\"count\":{n}}}"))
        })
        .get(
            "/api/count/worker",
            Endpoint::per_worker(|worker| {
                let mut n = 0u64;
                move |_: &Request| {
                    n += 1;
                    Response::json(format!("{{\"worker\":{worker},\"count\":{n}}}"))
                }
            }),
        )
        .get("/api/items/{id}", item)
        .route("PUT", "/api/size", Endpoint::streaming(|_worker| |_: &Request| Started::Read(Box::<Size>::default())))
        .fallback(StaticFiles::new(&folder)?);

    let mut config = Config::new();
    config.addr.set_port(port);
    let server = Server::bind(config, router)?;
    println!("http://{}/", server.local_addr());
    server.wait();
    Ok(())
}

/// Sends the body back as it came; it is not parsed, only its declared
/// type is checked.
fn echo(request: &Request) -> Response {
    let media_type = request.header("content-type").and_then(|t| t.split(';').next()).map(str::trim);
    if !media_type.is_some_and(|t| t.eq_ignore_ascii_case("application/json")) {
        return Response::status(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
    Response::json(request.body())
}

/// One item: its id from the path, the fields asked for in the query.
fn item(request: &Request) -> Result<Response, StatusCode> {
    let id: u64 = request.param("id").and_then(|id| id.parse().ok()).ok_or(StatusCode::BAD_REQUEST)?;
    let fields = request.query_pairs().find(|(name, _)| name == "fields").map(|(_, value)| value.into_owned());
    let fields = fields.unwrap_or_else(|| "all".to_string());
    Ok(Response::json(format!("{{\"id\":{id},\"fields\":{fields:?}}}")))
}

/// Counts the bytes and lines of a body as it streams past: memory stays
/// the same whatever its size.
#[derive(Default)]
struct Size {
    bytes: u64,
    lines: u64,
}

impl BodySink for Size {
    fn write(&mut self, piece: &[u8]) -> Result<(), Response> {
        self.bytes += piece.len() as u64;
        self.lines += piece.iter().filter(|&&b| b == b'\n').count() as u64;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Response {
        Response::json(format!("{{\"bytes\":{},\"lines\":{}}}", self.bytes, self.lines))
    }
}
