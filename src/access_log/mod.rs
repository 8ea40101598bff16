//! The access log: one line per response, in a format log tools read
//! (`common`, `combined`, `json`), written by the server itself rather
//! than through `log`, so diagnostics (standard error, `RUST_LOG`) and
//! access lines (standard output or a file) never mix.
//!
//! The request path stays cheap: when a request is decided, its fields
//! are copied into the connection's [`Entry`] ([`entry`]), in a buffer lent
//! by the worker for the life of the response (so an idle connection holds
//! none, and none is allocated once the worker has spares); when the
//! response ends, sent whole or cut off, the line is formatted ([`format`],
//! with the body bytes actually sent) into the worker's [`LogBuffer`]
//! ([`buffer`]). That buffer goes to the [`AccessLog`] ([`sink`]) in one
//! `write` of whole lines once it holds `FLUSH_BYTES` or its oldest line
//! is `FLUSH_AFTER` old (nginx's `access_log ... buffer=64k flush=1s`,
//! for a busy worker), as soon as the worker has had nothing to do for
//! [`FLUSH_WHEN_IDLE`] (so `tail -f` on a quiet server shows a line right
//! after its request), and when the worker stops. The sink's lock is taken
//! once per flush, so lines of different workers never interleave. A
//! failing sink (a full disk, a closed pipe) drops lines and says so once
//! on standard error; serving goes on. [`AccessLog::reopen`] (SIGHUP)
//! starts a new file after logrotate has moved the old one. Where the
//! client address comes from (the peer, a PROXY header, a trusted proxy's
//! `Forwarded`) is `proxy`'s.
//!
//! A line costs a few hundred instructions (issue 14): its start (client
//! and time) is kept from the previous line while neither changes, fields
//! that need no escaping (nearly all) are recognised sixteen or eight
//! bytes at a time and copied whole ([`escape`]), and numbers and
//! addresses are written without `fmt`.

mod buffer;
mod entry;
mod escape;
mod format;
mod sink;

pub use buffer::{LogBuffer, Recorder, FLUSH_WHEN_IDLE};
pub use entry::Entry;
pub use format::LogFormat;
pub use sink::{AccessLog, LogDestination};
