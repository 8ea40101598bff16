//! Fuzzes the server's own request handling the way a client meets it: a
//! real `Connection` (HTTP/1 framing, the body decoder, the service, the
//! router and static files) over an in-memory client, whose bytes arrive
//! in arbitrary chunks, each followed by as much work as the connection can
//! do. There is no parsing logic here: the connection's harness plays it.
//!
//! Input layout (see fuzz/README.md):
//! - byte 0, the control byte:
//!   - bits 0..=2: `k`, how many chunk-size bytes follow (0..=7);
//!   - bit 3: when set, `max_headers` is bits 4..=7 (0..=15), else
//!     `MAX_HEADERS` (the server's default);
//! - the next `k` bytes: chunk sizes, each `byte + 1` (1..=256), used in
//!   turn and cycled; with `k == 0` every chunk is one byte;
//! - the rest: the bytes a client sends on one connection.
//!
//! Properties asserted (a failure panics, which libFuzzer reports as a crash):
//! - serving never panics (a handler panic is the service's 500, not a crash);
//! - the answers (status, persistence, bytes after each head) for the
//!   chunked input are exactly those for the whole input received at once
//!   (a `100 Continue` is left out: whether one is owed depends on whether
//!   body bytes came with the head).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rawserve::fuzzing::{Harness, Step, MAX_HEADERS};
use rawserve::{Request, Response, Router};

/// A route that reads its body, so body buffering is exercised.
fn echo(request: &Request) -> Response {
    Response::bytes("application/octet-stream", request.body().to_vec()).expect("a valid content type")
}

/// A small site made once per process: a page, a file, a folder.
fn root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("rawserve-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(root.join("sub")).expect("fuzz root");
        std::fs::write(root.join("index.html"), "<title>home</title>").expect("fuzz root");
        std::fs::write(root.join("a.txt"), "aaa").expect("fuzz root");
        std::fs::write(root.join("sub/b.txt"), "bbb").expect("fuzz root");
        root
    })
}

fn harness(max_headers: usize) -> Harness {
    Harness::new(root(), Router::new().any("/echo", echo), |c| {
        c.max_headers = max_headers;
        c.max_head_bytes = 2048;
        c.max_body_bytes = 512;
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else { return };
    let k = usize::from(control & 0b111).min(rest.len());
    let max_headers = if control & 0b1000 != 0 { usize::from(control >> 4) } else { MAX_HEADERS };
    let (sizes, stream) = rest.split_at(k);

    let mut chunks: Vec<&[u8]> = Vec::new();
    let mut at = 0;
    let mut next = 0;
    while at < stream.len() {
        let size = sizes.get(next % sizes.len().max(1)).map_or(1, |&b| usize::from(b) + 1);
        next += 1;
        let end = (at + size).min(stream.len());
        chunks.push(&stream[at..end]);
        at = end;
    }

    let answers = |steps: Vec<Step>| steps.into_iter().filter(|s| *s != Step::Continue).collect::<Vec<_>>();
    let whole = answers(harness(max_headers).converse(&[stream], false));
    let split = answers(harness(max_headers).converse(&chunks, false));
    assert_eq!(split, whole, "answers depend on how the bytes were split");
});
