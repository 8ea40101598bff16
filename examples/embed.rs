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
//!   (state per worker: no atomic, no lock).
//!
//! It prints its URL once listening and runs until stopped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rawserve::{Config, Endpoint, Request, Response, Router, Server, StaticFiles};

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
            Endpoint::per_worker(|| {
                let mut n = 0u64;
                move |_: &Request| {
                    n += 1;
                    Response::json(format!("{{\"count\":{n}}}"))
                }
            }),
        )
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
        return Response::status(415);
    }
    Response::json(request.body())
}
