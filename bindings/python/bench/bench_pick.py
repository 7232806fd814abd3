#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench_pick.py: microseconds per dnsdisc pick() from Python, next to the bare ctypes call and socket.getaddrinfo().
"""Usage: bench_pick.py CACHE SERVICE [GETADDRINFO_NAME]

Prints "key value" lines: medians over batches, in microseconds per call.
tests/bench/bench-python.sh runs it against a mkcache file and, for
getaddrinfo(), a local unbound (docs/performance.md, "Python picks")."""
import ctypes
import socket
import statistics
import sys
import time

import dnsdisc
from dnsdisc import _lib

BATCH, BATCHES = 20000, 15
LOOKUPS = 2000


def per_call_us(fn, n=BATCH, batches=BATCHES):
    """Median over batches of the time per call, in microseconds."""
    times = []
    for _ in range(batches):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            fn()
        times.append((time.perf_counter_ns() - t0) / n / 1000)
    return statistics.median(times)


def main():
    cache_path, service = sys.argv[1], sys.argv[2]
    with dnsdisc.open(cache_path) as cache:
        svc = cache.service(service)
        lib = _lib.load()
        c = _lib.Endpoint()
        handle, ref = svc._h, ctypes.byref(c)
        print(f"ctypes_call_us {per_call_us(lambda: lib.dnsdisc_pick(handle, ref)):.3f}")
        print(f"pick_us {per_call_us(svc.pick):.3f}")
        print(f"pick_sockaddr_us {per_call_us(lambda: svc.pick().sockaddr):.3f}")
        print(f"pick_random_us {per_call_us(svc.pick_random):.3f}")
    if len(sys.argv) > 3:
        name = sys.argv[3]
        socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)  # fails here, not in the timing, if unresolvable
        us = per_call_us(lambda: socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM), LOOKUPS, 5)
        print(f"getaddrinfo_us {us:.1f}")


if __name__ == "__main__":
    main()
