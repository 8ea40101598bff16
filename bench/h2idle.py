#!/usr/bin/env python3
"""Hold N idle connections that each made one request, over HTTP/2 or 1.1.

bench/h2 measures a server's memory per idle connection with it: RSS
before, then with the connections held, divided by their number.
Standard library only (HTTP/2 frames and the few HPACK bytes written by
hand, RFC 9113 and RFC 7541's static table).

    h2idle.py HOST PORT N --proto h2|h1 [--tls] [--path /1k.bin] [--timeout 120]

Each connection is opened (over TLS with ALPN h2 or http/1.1 when --tls),
sends one GET for PATH and reads the whole response; for h2 it first
sends the preface and SETTINGS, acknowledges the server's SETTINGS, and
the request is stream 1 with END_STREAM. Then the connection stays
silent. Once all are open it prints

    ready opened=<n> failed=<n> seconds=<t>

and holds them until stdin closes or --timeout passes, then prints

    done alive=<n> closed=<n>

(alive: the server has not closed it; bytes a server sent unasked, such as
a PING, do not count as closed).
"""

import argparse
import resource
import select
import socket
import ssl
import struct
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = 0, 1, 3, 4, 6, 7, 8
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def literal(index, value):
    """HPACK literal without indexing, name from the static table (RFC 7541 6.2.2)."""
    assert index < 15 and len(value) < 127
    return bytes([index, len(value)]) + value


def request_block(authority, path, tls):
    # 0x82 :method GET, 0x87/0x86 :scheme https/http (static table 2, 7, 6).
    return b"\x82" + (b"\x87" if tls else b"\x86") + literal(4, path) + literal(1, authority)


class Reader:
    def __init__(self, sock, deadline):
        self.sock, self.deadline, self.buf = sock, deadline, b""

    def need(self, n):
        while len(self.buf) < n:
            if time.monotonic() > self.deadline:
                raise OSError("timed out")
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError("closed by the server")
            self.buf += chunk
        taken, self.buf = self.buf[:n], self.buf[n:]
        return taken

    def frame(self):
        head = self.need(9)
        length = int.from_bytes(head[:3], "big")
        return head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7FFFFFFF, self.need(length)


def h2_request(sock, authority, path, tls, deadline):
    sock.sendall(PREFACE + frame(SETTINGS, 0, 0) + frame(HEADERS, END_STREAM | END_HEADERS, 1, request_block(authority, path, tls)))
    reader = Reader(sock, deadline)
    status_seen = False
    while True:
        kind, flags, stream, payload = reader.frame()
        if kind == SETTINGS and not flags & ACK:
            sock.sendall(frame(SETTINGS, ACK, 0))
        elif kind == PING and not flags & ACK:
            sock.sendall(frame(PING, ACK, 0, payload))
        elif kind == GOAWAY:
            raise OSError("GOAWAY from the server")
        elif kind == RST_STREAM and stream == 1:
            raise OSError("the request was reset")
        elif kind == HEADERS and stream == 1:
            # 0x88 is :status 200 from the static table; anything else fails.
            block = payload
            if flags & 0x8:  # PADDED: a length byte first, the padding last
                block = block[1 : len(block) - block[0]]
            if flags & 0x20:  # PRIORITY: five bytes before the block
                block = block[5:]
            if not block.startswith(b"\x88"):
                raise OSError(f"not 200: {block[:8].hex()}")
            status_seen = True
            if flags & END_STREAM:
                return
        elif kind == DATA and stream == 1:
            if payload:
                # Give the bytes back, so no window stays consumed.
                increment = struct.pack(">I", len(payload))
                sock.sendall(frame(WINDOW_UPDATE, 0, 0, increment) + frame(WINDOW_UPDATE, 0, 1, increment))
            if flags & END_STREAM:
                if not status_seen:
                    raise OSError("data before headers")
                return


def h1_request(sock, authority, path, deadline):
    sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: " + authority + b"\r\n\r\n")
    reader = Reader(sock, deadline)
    head = b""
    while b"\r\n\r\n" not in head:
        head += reader.need(1)
    if not head.startswith(b"HTTP/1.1 200"):
        raise OSError(f"not 200: {head[:20]!r}")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    reader.need(length)


def open_one(args, context):
    deadline = time.monotonic() + args.connect_timeout
    sock = socket.create_connection((args.host, args.port), timeout=args.connect_timeout)
    try:
        if context is not None:
            sock = context.wrap_socket(sock, server_hostname=args.host)
            chosen = sock.selected_alpn_protocol()
            if chosen != ("h2" if args.proto == "h2" else "http/1.1") and not (args.proto == "h1" and chosen is None):
                raise OSError(f"ALPN chose {chosen!r}")
        authority, path = args.host.encode(), args.path.encode()
        if args.proto == "h2":
            h2_request(sock, authority, path, context is not None, deadline)
        else:
            h1_request(sock, authority, path, deadline)
    except (OSError, ssl.SSLError):
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def still_open(sock):
    try:
        while sock.recv(65536):
            pass  # unasked bytes (a PING, a SETTINGS change): still open
        return False
    except (BlockingIOError, ssl.SSLWantReadError):
        return True
    except OSError:
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("count", type=int)
    parser.add_argument("--proto", choices=["h2", "h1"], required=True)
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--path", default="/1k.bin")
    parser.add_argument("--timeout", type=float, default=120.0, help="hold at most this long (s)")
    parser.add_argument("--connect-timeout", type=float, default=5.0)
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.count + 16:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    context = None
    if args.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the bench's own self-signed certificate
        context.set_alpn_protocols(["h2"] if args.proto == "h2" else ["http/1.1"])

    socks, failed, first_error, started = [], 0, None, time.monotonic()
    for _ in range(args.count):
        try:
            socks.append(open_one(args, context))
        except (OSError, ssl.SSLError) as e:
            failed += 1
            first_error = first_error or e
            if failed >= 5 and not socks:
                break  # the server does not speak this at all
    if first_error is not None:
        print(f"h2idle: {failed} connections failed, first: {first_error}", file=sys.stderr)
    print(f"ready opened={len(socks)} failed={failed} seconds={time.monotonic() - started:.2f}", flush=True)

    # Held until a line (or EOF) on stdin, or the timeout.
    select.select([sys.stdin], [], [], args.timeout)
    alive = sum(still_open(s) for s in socks)
    for s in socks:
        s.close()
    print(f"done alive={alive} closed={len(socks) - alive}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
