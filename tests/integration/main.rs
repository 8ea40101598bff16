//! Integration tests: a real server on 127.0.0.1:0, spoken to over real
//! sockets. One test binary with modules keeps link time low.

mod accounts;
mod api;
mod browser;
mod cli;
mod client;
mod compression;
mod core_http;
mod curl;
mod everyday;
mod floods;
mod hardening;
mod hostile;
mod http2;
mod idle;
mod listing;
mod live_browser;
mod live_reload;
mod metrics;
mod operations;
mod package;
mod python;
mod rough_edges;
mod security;
mod semantics;
mod sharing;
mod shutdown;
mod support;
mod tls;
mod upload;
mod upload_browser;
mod upload_clients;
mod watched_cache;
mod wget;
