#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench-pick.sh: cost of a libdnsdisc pick (time, instructions), next to glibc getaddrinfo()/res_query() on a local unbound.
#
# Usage: tests/bench/bench-pick.sh [BUILDDIR]
#   BUILDDIR: an optimised build without sanitizers (default: build/, as tools/setup.sh makes it).
# Prints a table; docs/performance.md ("Client picks") records and explains the figures.
#
# The resolver comparison runs unbound on 127.0.0.1:53 inside a private network
# and mount namespace (unshare, needs root), where /etc/resolv.conf is bind-mounted
# to point at it: glibc's resolver has no port option, and the namespace keeps
# port 53 and resolv.conf of the host untouched. Without unshare, unbound listens
# on a free high port of the host's 127.0.0.1 and only res_query() is measured,
# with the resolver state pointed at that port.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
builddir=$(cd "${1:-$top/build}" && pwd)
# shellcheck source=unbound-lib.sh
. "$top/tests/bench/unbound-lib.sh"
bench=$builddir/tests/bench/bench-pick
picks=2000000
lookups=20000

[ -x "$bench" ] || make -C "$builddir" tests/bench/bench-pick >/dev/null
if grep -q '^SANITIZER_CFLAGS = -f' "$builddir/Makefile" 2>/dev/null; then
        echo "bench-pick.sh: $builddir is a sanitizer build; use an optimised one" >&2
        exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-pick.XXXXXX")
unbound_pid=
cleanup() {
        if [ -n "$unbound_pid" ]; then
                kill "$unbound_pid" 2>/dev/null || true
                wait "$unbound_pid" 2>/dev/null || true
        fi
        rm -rf "$tmp"
}
trap cleanup EXIT

value() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
usec() { if [ -n "$1" ]; then echo "$1 us"; else echo "n/a"; fi; }

# 1. Time per pick: medians over batches of 100000 picks, one thread, then two at once.
echo "timing picks..." >&2
"$bench" >"$tmp/timing"

# 2. Instructions per pick: callgrind over N picks minus the same run with 0.
per_call=n/a inside=n/a
if command -v valgrind >/dev/null; then
        echo "counting instructions (callgrind)..." >&2
        for n in "$picks" 0; do
                valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$n" "$bench" --callgrind "$n" \
                        >/dev/null 2>"$tmp/cg.$n.log"
        done
        per_call=$(awk -v n="$picks" 'FNR == 1 { f++ } /^summary:/ { t[f] = $2 } END { printf "%.1f", (t[1] - t[2]) / n }' \
                "$tmp/cg.$picks" "$tmp/cg.0")
        # Inclusive cost of dnsdisc_pick itself: one call more than N (the call that fills the cursor).
        # Its entry may be attributed to an inlined header's line: take the largest of its rows.
        inside=$(callgrind_annotate --inclusive=yes "$tmp/cg.$picks" 2>/dev/null |
                awk -v n="$picks" '!/=>/ && $0 ~ /:dnsdisc_pick( \[|$)/ { gsub(",", "", $1); if ($1 + 0 > max) max = $1 + 0 }
                        END { if (max) printf "%.1f", max / (n + 1) }')
fi

# 3. The resolver for comparison: unbound answering from local-data.
resolver=none
if command -v unbound >/dev/null; then
        echo "timing getaddrinfo()/res_query() against unbound..." >&2
        if can_unshare; then
                # shellcheck disable=SC2016 # for the inner shell
                unbound_in_ns "$tmp" "$(printf %q "$bench") --res-query _http._tcp.bench.example 1" \
                        bash -c '"$0" --getaddrinfo bench.example "$1" && "$0" --res-query _http._tcp.bench.example "$1"' \
                        "$bench" "$lookups" >"$tmp/resolver"
                resolver="unbound on 127.0.0.1:53 in a private namespace, /etc/resolv.conf bind-mounted"
        else
                port=$(( 20000 + RANDOM % 30000 ))
                unbound_conf "$tmp" "$port" >"$tmp/unbound-port.conf"
                unbound -c "$tmp/unbound-port.conf" >"$tmp/unbound.log" 2>&1 &
                unbound_pid=$!
                for _ in $(seq 1 100); do
                        "$bench" --res-query _http._tcp.bench.example 1 "$port" >/dev/null 2>&1 && break
                        sleep 0.05
                done
                "$bench" --res-query _http._tcp.bench.example "$lookups" "$port" >"$tmp/resolver"
                resolver="unbound on 127.0.0.1:$port, res_query() pointed at it (no namespace: getaddrinfo() not measured)"
        fi
fi

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
gai=$( [ -f "$tmp/resolver" ] && value getaddrinfo_median_us "$tmp/resolver" || true)
rq=$( [ -f "$tmp/resolver" ] && value res_query_srv_median_us "$tmp/resolver" || true)

echo
echo "libdnsdisc picks, $cpu, $(nproc) cores; service of 8 backends, weights 5:3:2:1:1:2:3:5"
printf '%-52s %14s %10s\n' "measure" "value" "target"
printf '%-52s %11s ns %10s\n' "dnsdisc_pick, 1 thread, median" "$(value pick_1thread_median_ns "$tmp/timing")" "<= 10 ns"
printf '%-52s %11s ns %10s\n' "dnsdisc_pick, 2 threads at once, per pick per thread" \
        "$(value pick_2threads_median_ns_per_thread "$tmp/timing")" "<= 15 ns"
printf '%-52s %11s ns\n' "dnsdisc_pick_random, 1 thread, median" "$(value pick_random_1thread_median_ns "$tmp/timing")"
printf '%-52s %11s ns\n' "dnsdisc_pick while a quarantine is in force, median" \
        "$(value pick_quarantine_1thread_median_ns "$tmp/timing")"
printf '%-52s %14s %10s\n' "instructions in dnsdisc_pick (callgrind, inclusive)" "$inside" "<= 40"
printf '%-52s %14s\n' "instructions per pick with the caller's loop and call" "$per_call"
printf '%-52s %14s\n' "getaddrinfo(\"bench.example\"), A+AAAA, median" "$(usec "$gai")"
printf '%-52s %14s\n' "res_query(\"_http._tcp.bench.example\", SRV), median" "$(usec "$rq")"
echo "resolver: $resolver"
