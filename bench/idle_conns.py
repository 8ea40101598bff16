#!/usr/bin/env python3
"""Open N connections to HOST:PORT, hold them idle, and report.

Used by bench/run to measure a server's memory and its latency for a fresh
request while many clients sit idle. Standard library only.

    idle_conns.py HOST PORT N [--mix silent|mixed] [--path /1k.bin] [--timeout 60]

With --mix mixed (the default) the connections cycle through four kinds, as
tests/integration/idle.rs does:
  0  silent: connected, nothing sent;
  1  half-sent request head ("GET /1k.bin HTTP/1.1\\r\\nHo");
  2  first byte only ("G");
  3  one complete keep-alive request, its response read, then idle.
With --mix silent every connection is kind 0.

Once all connections are open it prints one line
    ready opened=<n> failed=<n> seconds=<t>
and holds them until its stdin is closed (or reaches EOF) or --timeout
seconds pass. Then it checks each connection without blocking and prints
    done alive=<n> closed=<n> answered=<n>
where "closed" means the server closed it (EOF or reset) and "answered" means
the server sent bytes on a connection that had none pending (for instance
a 408 or 503). It never sends more than one request per connection.
"""

import argparse
import errno
import os
import resource
import select
import socket
import sys
import time


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def recv_until(sock, data, done, deadline):
    """Receives into `data` until `done(data)`; None on EOF or past the deadline."""
    while not done(data):
        if time.monotonic() > deadline:
            return None
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    return data


def read_response(sock, deadline):
    """Reads one response with Content-Length; returns True on success."""
    data = recv_until(sock, b"", lambda d: b"\r\n\r\n" in d, deadline)
    if data is None:
        return False
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return recv_until(sock, body, lambda b: len(b) >= length, deadline) is not None


def open_one(host, port, kind, path, connect_timeout):
    sock = socket.create_connection((host, port), timeout=connect_timeout)
    if kind == 1:
        sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHo")
    elif kind == 2:
        sock.sendall(b"G")
    elif kind == 3:
        sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: bench\r\n\r\n")
        if not read_response(sock, time.monotonic() + connect_timeout):
            sock.close()
            raise OSError("no response to the keep-alive request")
    sock.setblocking(False)
    return sock


def check(sock):
    """'alive', 'closed' or 'answered', without blocking."""
    try:
        data = sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return "alive"
    except OSError:
        return "closed"
    return "answered" if data else "closed"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("count", type=int)
    parser.add_argument("--mix", choices=["silent", "mixed"], default="mixed")
    parser.add_argument("--path", default="/1k.bin")
    parser.add_argument("--timeout", type=float, default=60.0, help="hold at most this long (s)")
    parser.add_argument("--connect-timeout", type=float, default=3.0)
    args = parser.parse_args()

    limit = raise_fd_limit()
    if limit < args.count + 16:
        print(f"idle_conns: open-file limit {limit} is too low for {args.count} connections", file=sys.stderr)
        return 2

    path = args.path.encode()
    socks = []
    failed = 0
    in_a_row = 0
    first_error = None
    started = time.monotonic()
    for i in range(args.count):
        kind = 0 if args.mix == "silent" else i % 4
        try:
            socks.append(open_one(args.host, args.port, kind, path, args.connect_timeout))
            in_a_row = 0
        except OSError as e:
            failed += 1
            in_a_row += 1
            first_error = first_error or e
            # A server that stopped accepting makes every further connect
            # wait for the timeout: give up after a few failures in a row.
            if in_a_row >= 5:
                break
    elapsed = time.monotonic() - started
    if first_error is not None:
        print(f"idle_conns: {failed} connections failed, first: {first_error}", file=sys.stderr)
    print(f"ready opened={len(socks)} failed={failed} seconds={elapsed:.2f}", flush=True)

    # Hold until stdin closes or the timeout passes.
    deadline = time.monotonic() + args.timeout
    stdin = sys.stdin.fileno()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        readable, _, _ = select.select([stdin], [], [], min(remaining, 1.0))
        if readable:
            try:
                if not os.read(stdin, 4096):
                    break
            except OSError as e:
                if e.errno != errno.EINTR:
                    break

    counts = {"alive": 0, "closed": 0, "answered": 0}
    for sock in socks:
        counts[check(sock)] += 1
        sock.close()
    print(f"done alive={counts['alive']} closed={counts['closed']} answered={counts['answered']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
