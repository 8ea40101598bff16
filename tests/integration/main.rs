//! Integration tests: a real server on 127.0.0.1:0, spoken to over real
//! sockets. One test binary with modules keeps link time low.

mod cli;
mod client;
mod core_http;
mod hardening;
mod idle;
mod semantics;
mod support;
