//! The AwaitingProxyHeader state: with `Config::proxy_protocol`, a
//! connection must open with a PROXY protocol header (v1 or v2, from a
//! load balancer) naming the client. Read no further than the header;
//! what follows is the request (or, over TLS, the handshake, given back
//! to the transport). Parsing the header is `proxy`'s.

use std::io;
use std::mem::MaybeUninit;

use super::{Connection, State};
use crate::context::Context;
use crate::proxy::{self, ProxyHeader};
use crate::transport::Transport;

impl Connection {
    /// The AwaitingProxyHeader state: read until the header is complete,
    /// then take the client's address from it and go on Reading; close
    /// the connection if it does not start with one. `Ok(true)` to go on,
    /// `Ok(false)` to wait for readiness.
    pub(super) fn read_proxy_header(&mut self, cx: &mut Context) -> io::Result<bool> {
        loop {
            match proxy::parse_header(self.input.as_slice()) {
                ProxyHeader::Complete { len, source } => {
                    if let Some(source) = source {
                        self.client = source;
                    }
                    self.input.consume(len);
                    // Over TLS what follows the header is the handshake: the transport's.
                    if self.transport.give_back(self.input.as_slice()) {
                        self.release_input(cx.shared);
                        // They wait in the transport, not the socket: read them next.
                        self.readiness.readable = true;
                    }
                    self.state = State::Reading { head_started: false };
                    return Ok(true);
                }
                ProxyHeader::Invalid(why) => {
                    log::info!("{}: {why} (a PROXY header is required); closing", self.peer);
                    self.state = State::Closed;
                    return Ok(true);
                }
                ProxyHeader::Incomplete => {}
            }
            if self.readiness.peer_eof {
                self.state = State::Closed;
                return Ok(true);
            }
            if !self.readiness.readable {
                return Ok(false);
            }
            // Read no further than the longest header: what follows is the
            // request, read by the Reading state.
            let mut chunk = [const { MaybeUninit::<u8>::uninit() }; proxy::V2_MAX];
            let room = proxy::V2_MAX.saturating_sub(self.input.len()).max(1);
            match self.transport.read_raw(&mut chunk[..room]) {
                Ok([]) => self.readiness.peer_eof = true,
                Ok(bytes) => {
                    let drained = Transport::SHORT_READ_MEANS_DRAINED && bytes.len() < room;
                    self.readiness.readable = !drained || self.readiness.read_closed;
                    if !self.input.append(bytes, &cx.shared.budget, self.peer) {
                        self.state = State::Closed;
                        return Ok(true);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readiness.readable = false;
                    return Ok(false);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}
