"""Raw HTTP/2 frames against rawserve, for tests/integration/http2.rs.

Each case opens a connection on 127.0.0.1:PORT, sends frames built by hand
(header blocks by the `hpack` package that Python's `h2` library uses), and
prints one line: the case's name, a tab, what the server did:
  goaway CODE     a GOAWAY with that error code (then the close)
  rst ID CODE     a RST_STREAM on stream ID with that code
  status ID N     a response head with status N on stream ID
  closed          the connection closed without a GOAWAY
  timeout         nothing decisive within the time limit
Usage: frames.py PORT [CASE...]
"""
import socket, struct, sys, time

import hpack

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
WAIT = 10.0


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def settings(*pairs):
    return frame(SETTINGS, 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def block(path="/hello.txt", method="GET", extra=()):
    fields = [(":method", method), (":scheme", "http"), (":path", path), (":authority", "t")] + list(extra)
    return hpack.Encoder().encode(fields)


def headers(stream, end_stream=True, **kw):
    return frame(HEADERS, END_HEADERS | (END_STREAM if end_stream else 0), stream, block(**kw))


class Conn:
    def __init__(self, port, preface=True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.buf = b""
        self.decoder = hpack.Decoder()
        if preface:
            self.send(PREFACE + settings())

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError:
            pass

    def frames(self, deadline):
        """Frames as they come: (kind, flags, stream, payload); None at EOF."""
        while True:
            while len(self.buf) >= 9:
                length = int.from_bytes(self.buf[:3], "big")
                if len(self.buf) < 9 + length:
                    break
                kind, flags = self.buf[3], self.buf[4]
                stream = int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
                payload = self.buf[9 : 9 + length]
                self.buf = self.buf[9 + length :]
                yield kind, flags, stream, payload
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return
            except OSError:
                chunk = b""
            if not chunk:
                yield None
                return
            self.buf += chunk

    def outcome(self, wait=WAIT, want_status=True):
        """The first decisive thing the server does."""
        deadline = time.monotonic() + wait
        for f in self.frames(deadline):
            if f is None:
                return "closed"
            kind, flags, stream, payload = f
            if kind == GOAWAY:
                return "goaway %d" % struct.unpack(">I", payload[4:8])[0]
            if kind == RST_STREAM:
                return "rst %d %d" % (stream, struct.unpack(">I", payload)[0])
            if kind == HEADERS and want_status:
                fields = dict(self.decoder.decode(payload))
                return "status %d %s" % (stream, fields.get(":status"))
            if kind == SETTINGS and not flags & ACK:
                self.send(frame(SETTINGS, ACK, 0))
        return "timeout"


def until_goaway(c):
    """What ends the connection, past any answers before it."""
    deadline = time.monotonic() + WAIT
    for f in c.frames(deadline):
        if f is None:
            return "closed"
        if f[0] == GOAWAY:
            return "goaway %d" % struct.unpack(">I", f[3][4:8])[0]
    return "timeout"


def case_bad_preface(port):
    c = Conn(port, preface=False)
    c.send(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + settings())
    return c.outcome()


def case_settings_not_first(port):
    c = Conn(port, preface=False)
    c.send(PREFACE + headers(1))
    return c.outcome()


def case_frame_too_large(port):
    c = Conn(port)
    c.send(headers(1, end_stream=False, method="POST", path="/echo"))
    c.send(frame(DATA, 0, 1, b"x" * 16385))
    return c.outcome(want_status=False)


def case_data_on_idle_stream(port):
    c = Conn(port)
    c.send(frame(DATA, END_STREAM, 7, b"x"))
    return c.outcome()


def case_even_stream(port):
    c = Conn(port)
    c.send(headers(2))
    return c.outcome()


def case_headers_on_closed_stream(port):
    c = Conn(port)
    c.send(headers(1))
    first = c.outcome()
    # Stream 1 is closed once answered: HEADERS on it again.
    c.send(headers(1))
    return first + "; " + c.outcome(want_status=False)


def case_data_after_end_stream(port):
    c = Conn(port)
    c.send(headers(1, end_stream=False, method="POST", path="/echo"))
    c.send(frame(DATA, END_STREAM, 1, b"hi"))
    first = c.outcome()
    c.send(frame(DATA, 0, 1, b"more"))
    return first + "; " + c.outcome(want_status=False)


def case_window_overflow(port):
    c = Conn(port)
    c.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7FFFFFFF)))
    return c.outcome()


def case_stream_window_overflow(port):
    # A stream's window past 2^31-1 (its request waits for a body).
    c = Conn(port)
    c.send(headers(1, end_stream=False, method="POST", path="/echo"))
    c.send(frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 0x7FFFFFFF)))
    return c.outcome(want_status=False)


def case_late_data_after_a_refusal(port):
    # A body past max_body_bytes is refused (413) before it has all come;
    # what was already on its way is dropped, and the connection serves on.
    c = Conn(port)
    c.send(headers(1, end_stream=False, method="POST", path="/echo", extra=[("content-length", "100000")]))
    first = c.outcome()
    c.send(frame(DATA, 0, 1, b"x" * 1000) + headers(3))
    second = c.outcome()
    while second == "rst 1 0":
        # The refusal's own reset: the response is complete without the body.
        second = c.outcome()
    return first + "; " + second


def case_zero_window_update(port):
    c = Conn(port)
    c.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0)))
    return c.outcome()


def case_rapid_reset(port):
    c = Conn(port)
    out = b""
    for i in range(1000):
        stream = 2 * i + 1
        out += headers(stream) + frame(RST_STREAM, 0, stream, struct.pack(">I", 8))
    c.send(out)
    # Answers to streams not yet reset may come first: wait for the GOAWAY.
    return until_goaway(c)


def case_continuation_flood(port):
    c = Conn(port)
    c.send(frame(HEADERS, 0, 1, block()))
    out = b"".join(frame(CONTINUATION, 0, 1, hpack.Encoder().encode([("x-a", "b" * 100)])) for _ in range(500))
    c.send(out)
    return c.outcome()


def case_hpack_bomb(port):
    c = Conn(port)
    # One 4,000-byte field into the table, then named by its index 500 times.
    encoder = hpack.Encoder()
    first = encoder.encode([(":method", "GET"), (":scheme", "http"), (":path", "/hello.txt"), (":authority", "t")])
    value = b"a" * 4000
    # Literal with incremental indexing, new name, value of 4000 bytes (7-bit prefix integer).
    length = 4000 - 127
    literal = b"\x40\x06x-bomb\x7f" + bytes([0x80 | (length & 0x7F), length >> 7]) + value
    bomb = first + literal + b"\xbe" * 500
    c.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, bomb))
    return c.outcome()


def case_too_many_streams(port):
    c = Conn(port)
    # Requests whose bodies never come keep their streams open.
    c.send(b"".join(headers(2 * i + 1, end_stream=False, method="POST", path="/echo") for i in range(101)))
    return c.outcome()


def case_settings_flood(port):
    c = Conn(port)
    c.send(settings((4, 65535)) * 5000)
    return until_goaway(c)


def case_ping_flood(port):
    c = Conn(port)
    c.send(frame(PING, 0, 0, b"12345678") * 5000)
    return until_goaway(c)


def case_empty_frames(port):
    c = Conn(port)
    c.send(headers(1, end_stream=False, method="PUT", path="/keep"))
    c.send(frame(DATA, 0, 1) * 5000)
    return until_goaway(c)


def case_zero_window_stall(port):
    # A client that shuts its window and never opens it: dropped after
    # the server's send timeout (the test server's is 1 s).
    c = Conn(port, preface=False)
    c.send(PREFACE + settings((4, 0)) + headers(1, path="/big.bin"))
    started = time.monotonic()
    deadline = started + WAIT
    for f in c.frames(deadline):
        if f is None or f[0] == GOAWAY:
            return "dropped after %ds" % round(time.monotonic() - started)
    return "timeout"


def case_one_stalled_stream(port):
    # The connection's window is open and other requests go on, but one
    # stream's window stays shut: that stream alone is reset (CANCEL)
    # after the send timeout.
    c = Conn(port)
    c.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1 << 30)) + headers(1, path="/big.bin"))
    deadline = time.monotonic() + WAIT
    next_id, next_at, answered = 3, time.monotonic(), 0
    while time.monotonic() < deadline:
        if time.monotonic() >= next_at:
            c.send(headers(next_id))
            next_id, next_at = next_id + 2, next_at + 0.2
        for f in c.frames(min(next_at, deadline)):
            if f is None:
                return "closed"
            kind, flags, stream, payload = f
            if kind == RST_STREAM and stream == 1:
                return "rst 1 %d, others answered: %s" % (struct.unpack(">I", payload)[0], answered > 0)
            if kind == HEADERS and stream > 1:
                answered += 1
            if kind == GOAWAY:
                return "goaway %d" % struct.unpack(">I", payload[4:8])[0]
    return "timeout"


def case_malformed_head(port):
    c = Conn(port)
    c.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, hpack.Encoder().encode([(":method", "GET"), (":path", "/")])))
    return c.outcome()


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}

if __name__ == "__main__":
    port = int(sys.argv[1])
    for name in sys.argv[2:] or CASES:
        print(name, CASES[name](port), sep="\t", flush=True)
