#!/usr/bin/env python3
"""A wire with delay between two network namespaces, for bench/h2-page.

    h2wire.py NS_A DEV_A NS_B DEV_B DELAY_MS [--seconds 1800]

Attaches to the persistent TUN device DEV_A in namespace NS_A and DEV_B in
NS_B (`ip tuntap add ... mode tun`, made by the caller) and copies every
IP packet from one to the other DELAY_MS / 2 later, in order: a round trip
across the wire takes DELAY_MS more than the hosts themselves take.

Why not `tc qdisc ... netem delay`: this machine's kernel is built without
sch_netem (and without fq for timestamp-paced BPF), and has no modules to
load. A TUN pair carries real TCP, so handshakes, slow start and six
HTTP/1.1 connections against one HTTP/2 connection behave as they would
over a slow link; only the copying is done in user space (one packet costs
it some microseconds, against 25 ms of delay).

Prints "ready" once both devices are attached; exits on SIGTERM or after
--seconds. Standard library only (setns through ctypes:
Python 3.11 has no os.setns).
"""

import argparse
import ctypes
import fcntl
import heapq
import os
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
CLONE_NEWNET = 0x40000000
MAX_PACKET = 65536


def attach(namespace, device):
    """A file descriptor on `device` of `namespace` (a name under /run/netns)."""
    libc = ctypes.CDLL(None, use_errno=True)
    ns = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
    try:
        if libc.setns(ns, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns {namespace}: {os.strerror(errno)}")
    finally:
        os.close(ns)
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", device.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("ns_a")
    parser.add_argument("dev_a")
    parser.add_argument("ns_b")
    parser.add_argument("dev_b")
    parser.add_argument("delay_ms", type=float, help="added round-trip time")
    parser.add_argument("--seconds", type=float, default=1800.0, help="exit after this long")
    args = parser.parse_args()

    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    a = attach(args.ns_a, args.dev_a)
    b = attach(args.ns_b, args.dev_b)
    ctypes.CDLL(None).setns(home, CLONE_NEWNET)
    other = {a: b, b: a}
    one_way = args.delay_ms / 2000.0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("ready", flush=True)

    end = time.monotonic() + args.seconds
    queue = []  # (due, sequence, fd, packet): the sequence keeps order among equal dues
    sequence = 0
    while time.monotonic() < end:
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, fd, packet = heapq.heappop(queue)
            try:
                os.write(fd, packet)
            except BlockingIOError:
                pass  # the device's queue is full: dropped, as a link would
        timeout = max(0.0, queue[0][0] - now) if queue else 1.0
        readable, _, _ = select.select([a, b], [], [], timeout)
        now = time.monotonic()
        for fd in (a, b):
            if fd not in readable:
                continue
            while True:
                try:
                    packet = os.read(fd, MAX_PACKET)
                except BlockingIOError:
                    break
                heapq.heappush(queue, (now + one_way, sequence, other[fd], packet))
                sequence += 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
