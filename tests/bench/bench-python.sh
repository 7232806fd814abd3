#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench-python.sh: microseconds per pick() of the Python binding, next to socket.getaddrinfo() on a local unbound.
#
# Usage: tests/bench/bench-python.sh [BUILDDIR]   (an optimised build, default build/)
# Prints a table; docs/performance.md ("Python picks") records the figures.
# getaddrinfo() is timed as bench-pick.sh times glibc's: unbound on 127.0.0.1:53
# inside a private network and mount namespace (unshare, root) whose
# /etc/resolv.conf points at it; without unshare it is not measured.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
builddir=$(cd "${1:-$top/build}" && pwd)
# shellcheck source=unbound-lib.sh
. "$top/tests/bench/unbound-lib.sh"
python=${PYTHON:-/usr/bin/python3}
export DNSDISC_LIBRARY=$builddir/libclient/.libs/libdnsdisc.so.0 PYTHONPATH=$top/bindings/python PYTHONDONTWRITEBYTECODE=1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-python.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The service of bench-pick: 8 backends, weights 5:3:2:1:1:2:3:5, IPv4 and IPv6.
{
        echo "service web query=_http._tcp.web.example srv"
        w=(5 3 2 1 1 2 3 5)
        for i in 0 1 2 3; do echo "backend 127.0.0.$((i + 1)) 8080 weight=${w[$i]}"; done
        for i in 4 5 6 7; do echo "backend fd00::$((i + 1)) 8080 weight=${w[$i]}"; done
} | "$builddir/tests/mkcache" "$tmp/cache" >/dev/null

bench=$top/bindings/python/bench/bench_pick.py
resolver="not measured (no unshare or no unbound)"
if command -v unbound >/dev/null && can_unshare; then
        unbound_in_ns "$tmp" "$(printf %q "$python") -c 'import socket; socket.getaddrinfo(\"bench.example\", 80)'" \
                "$python" "$bench" "$tmp/cache" web bench.example >"$tmp/out"
        resolver="unbound on 127.0.0.1:53 in a private namespace"
else
        "$python" "$bench" "$tmp/cache" web >"$tmp/out"
fi
value() { awk -v k="$1" '$1 == k { print $2 }' "$tmp/out"; }

echo "Python $("$python" -c 'import platform; print(platform.python_version())') picks, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) cores"
printf '%-58s %10s\n' "measure (median of batches)" "us/call"
printf '%-58s %10s\n' "lib.dnsdisc_pick(handle, byref(endpoint)): the ctypes call" "$(value ctypes_call_us)"
printf '%-58s %10s\n' "Service.pick()" "$(value pick_us)"
printf '%-58s %10s\n' "Service.pick().sockaddr (what connect() needs)" "$(value pick_sockaddr_us)"
printf '%-58s %10s\n' "Service.pick_random()" "$(value pick_random_us)"
printf '%-58s %10s\n' "socket.getaddrinfo(\"bench.example\", 80)" "$(value getaddrinfo_us || true)"
echo "resolver: $resolver"
