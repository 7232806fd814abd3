#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# pick_connect.py: a Python client of dnsdisc: connect to a service, send a line, and an HTTP call through requests.
"""Usage: pick_connect.py SERVICE [HTTP_SERVICE]

Connects to a backend of SERVICE (the next one if a connection fails),
prints where it went, and with HTTP_SERVICE also GETs / from one of its
backends through the requests adapter. The cache is $DNSDISC_CACHE, else
/run/dnsdisc/cache; libdnsdisc.so.0 must be installed (or $DNSDISC_LIBRARY
set to it)."""
import sys

import dnsdisc


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        with dnsdisc.open() as cache:
            service = cache.service(sys.argv[1])
            with service.connect(timeout=1.0) as sock:
                print("connected to %s:%d" % sock.getpeername()[:2])
            if len(sys.argv) == 3:
                from dnsdisc.requests_adapter import session
                with session(cache) as http:
                    r = http.get(f"http://dnsdisc.{sys.argv[2]}/", timeout=2.0)
                    print(f"GET / from {r.dnsdisc_endpoint}: {r.status_code}")
    except dnsdisc.Error as e:  # NoCache, NoService, NoBackend, ConnectFailed...
        print(f"pick_connect: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
