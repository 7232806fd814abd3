#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench-hostile.sh: what hostile DNS answers cost dnsdiscd (issue 21 §6; not run by make check).
#
#   bash tests/bench/bench-hostile.sh [BUILDDIR]       (default: build/ in the source tree)
#
# BUILDDIR must be an -O2 build without sanitizers, with daemon/dnsdiscd, tools/dnsdiscctl and
# tests/fakedns built (make daemon/dnsdiscd tools/dnsdiscctl tests/fakedns). Needs cc, python3.
#
# Each case is one dnsdiscd run against tests/fakedns (127.0.0.1) with two services: the case's
# hostile service, re-resolved every second (min-ttl = max-ttl = 1 s), and a neighbour whose
# records have a TTL of 1 s. Over BENCH_SECONDS it measures:
#   peak RSS      VmHWM at the end, and above the idle case's (the neighbour alone);
#   CPU/round     (utime + stime) / rounds of the hostile service;
#   queries/round queries fakedns logged for the hostile service's names / its rounds;
#   neighbour     the longest gap between two of the neighbour's queries (1 s TTL: ~0.8-0.9 s);
#   stall         the longest time the event loop spent between two epoll waits, in thread CPU
#                 time and in wall time (tests/bench/stall-probe.c, preloaded), and how many
#                 iterations took over 1 ms and 5 ms of CPU.
# BENCH_CASES picks cases (idle first; srv2700x4000, as big as one 64 KiB SRV answer and one 64 KiB
# A answer get with a one-label target, costs 2.4 GB on a tree that builds the cross product).
# BENCH_KEEP=DIR keeps the logs and the query log there.
# Prints a Markdown table (docs/reliability.md) on stdout, progress on stderr; exits 1 if
# 1,000 x 1,000 misses 10 MB above idle or 50 ms of CPU per round, if the neighbour missed a
# refresh (a gap over 1.5 s), or if 2,500 targets cost more than max-backends target queries.
set -u

srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
builddir=${1:-$srcdir/build}
: "${BENCH_SECONDS:=15}"
MAX_BACKENDS=64

die() { echo "bench-hostile: $*" >&2; exit 1; }
say() { echo "bench-hostile: $*" >&2; }

[ -d "$builddir" ] || die "no build directory $builddir (give BUILDDIR)"
builddir=$(cd "$builddir" && pwd)
DNSDISCD=$builddir/daemon/dnsdiscd
FAKEDNS=$builddir/tests/fakedns
for p in "$DNSDISCD" "$FAKEDNS"; do [ -x "$p" ] || die "build $p first"; done
for t in cc python3; do command -v "$t" >/dev/null || die "$t not found (Debian: apt-get install gcc python3)"; done
grep -q '^SANITIZER_CFLAGS = *$' "$builddir/Makefile" ||
        die "$builddir is built with sanitizers: use a build configured without --enable-sanitizers"

export top_builddir=$builddir
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$srcdir/tests/lib.sh"
W=$TESTDIR
ZONE=$W/zone CONTROL=$W/control QLOG=$W/queries.log

{
        echo "h.test. 300 IN SOA ns.h.test. host.h.test. 1 3600 600 86400 30"
        echo "_n._tcp.nb.h.test. 1 IN SRV 0 1 80 a.nb.h.test."
        echo "a.nb.h.test. 1 IN A 127.0.70.1"
} >"$ZONE"
# case name -> fakedns srv-gen arguments (NSRV NTARGETS NADDR NGLUE) and dnsdiscd settings
declare -A GEN=(
        [idle]=""
        [srv1000x1000-glue]="1000 1 1000 1000"
        [srv1000x1000]="1000 1 1000 0"
        [srv2700x4000]="2700 1 4000 0"
        [targets2500]="2500 2500 1 0"
)
: "${BENCH_CASES:=idle srv1000x1000-glue srv1000x1000 srv2700x4000 targets2500}"
CASES=$BENCH_CASES
{
        for c in $CASES; do
                [ -n "${GEN[$c]}" ] && echo "mode srv-gen ${GEN[$c]} _x._tcp.$c.h.test"
        done
} >"$CONTROL"
start_fakedns || die "fakedns did not start"
cc -shared -fPIC -O2 -Wall -o "$W/stall-probe.so" "$srcdir/tests/bench/stall-probe.c" -ldl || die "cannot build the stall probe"

conf() { # CASE
        cat <<EOF
[daemon]
cache = $W/cache-$1
servers = 127.0.0.1:$PORT
query-timeout = 1s
query-tries = 2
min-ttl = 1s
max-ttl = 1h
log-level = info
[service neighbour]
srv = _n._tcp.nb.h.test
EOF
        [ "$1" = idle ] && return
        printf '[service hostile]\nsrv = _x._tcp.%s.h.test\nmax-ttl = 1s\nmax-backends = %s\n' "$1" "$MAX_BACKENDS"
        # One query per target (the generated AAAA answers are empty anyway).
        [ "$1" = targets2500 ] && echo "family = ipv4"
}

DPID=
stop_daemon() {
        [ -n "$DPID" ] || return 0
        kill "$DPID" 2>/dev/null
        wait "$DPID" 2>/dev/null
        DPID=
}
at_exit stop_daemon
ready() { grep -q 'Ready: ' "$W/log"; }
# cpu_ns PID: CPU time used so far, in ns (schedstat's run time: clock ticks are 10 ms, a round is ~1).
cpu_ns() { awk '{ print $1 }' "/proc/$1/schedstat"; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
qlines() { wc -l <"$QLOG"; }

# run CASE: prints "hwm_kB rss_kB cpu_ms ms rounds queries neighbour_max_gap_ms neighbour_queries"
# and the stall probe's line
run() {
        local c=$1 mark t0 c0 c1 secs
        conf "$c" >"$W/conf"
        : >"$W/log"
        rm -f "$W/stall-$c"
        # The first second (configuration, cache file, the first round's start) is start-up.
        LD_PRELOAD=$W/stall-probe.so STALL_PROBE_OUT=$W/stall-$c STALL_PROBE_SKIP_MS=1000 \
                "$DNSDISCD" -c "$W/conf" </dev/null >>"$W/log" 2>&1 &
        DPID=$!
        wait_until 30 ready || die "$c: dnsdiscd not ready: $(tail -n 5 "$W/log")"
        sleep 1
        mark=$(qlines)
        c0=$(cpu_ns "$DPID")
        t0=$(date +%s%N)
        sleep "$BENCH_SECONDS"
        c1=$(cpu_ns "$DPID")
        secs=$((($(date +%s%N) - t0) / 1000000))
        hwm=$(status_kb "$DPID" VmHWM)
        rss=$(status_kb "$DPID" VmRSS)
        stop_daemon
        cp "$W/log" "$W/log-$c"
        [ -s "$W/stall-$c" ] || die "$c: the stall probe wrote nothing (did dnsdiscd exit cleanly?)"
        tail -n +"$((mark + 1))" "$QLOG" | python3 -c '
import sys
case, secs, hwm, rss, cpu_ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]) / 1e6
name = "_x._tcp.%s.h.test" % case
rounds = queries = 0
nb = []
for line in sys.stdin:
        ms, proto, q, t = line.split()
        if q == "_n._tcp.nb.h.test" and t == "SRV" and proto == "udp":
                nb.append(int(ms))
        if q == name and t == "SRV" and proto == "udp":
                rounds += 1
        if q == name or q.endswith("." + name):
                queries += 1
gap = max(b - a for a, b in zip(nb, nb[1:])) if len(nb) > 1 else -1
print(hwm, rss, "%.1f" % cpu_ms, secs, rounds, queries, gap, len(nb))
' "$c" "$secs" "$hwm" "$rss" "$((c1 - c0))" | tr '\n' ' '
        cat "$W/stall-$c"
}

say "cases: $CASES; $BENCH_SECONDS s each"
declare -A R
for c in $CASES; do
        R[$c]=$(run "$c")
        say "$c: ${R[$c]}"
done

fail=0
read -r idle_hwm idle_rss _ <<<"${R[idle]}"
echo "| case | peak RSS (VmHWM) | above idle | CPU per round | queries per round | neighbour (TTL 1 s): longest gap between refreshes | longest event-loop iteration |"
echo "|---|---|---|---|---|---|---|"
for c in $CASES; do
        read -r hwm rss cpu_ms secs rounds queries gap nbq iters st_cpu st_wall over1 over5 <<<"${R[$c]}"
        above=$((hwm - idle_hwm))
        if [ "$rounds" -gt 0 ]; then
                cpr=$(awk -v c="$cpu_ms" -v r="$rounds" 'BEGIN { printf "%.1f ms (%d rounds in %.0f s)", c / r, r, '"$secs"' / 1000 }')
                qpr=$(awk -v q="$queries" -v r="$rounds" 'BEGIN { printf "%.1f", q / r }')
        else
                cpr=$(awk -v c="$cpu_ms" 'BEGIN { printf "%.0f ms in all (no hostile service)", c }')
                qpr=-
        fi
        echo "| $c | $hwm kB | $([ "$c" = idle ] && echo - || echo "$above kB") | $cpr | $qpr | $gap ms ($nbq refreshes) | $(awk -v c="$st_cpu" -v w="$st_wall" 'BEGIN { printf "%.1f ms CPU (%.1f ms wall)", c / 1000, w / 1000 }'); $over1 of $iters over 1 ms, $over5 over 5 ms |"
        case $c in
        srv1000x1000*)
                [ "$above" -le 10240 ] || { say "FAIL $c: $above kB above idle (target 10 MB)"; fail=1; }
                awk -v c="$cpu_ms" -v r="$rounds" 'BEGIN { exit !(r > 0 && c / r <= 50) }' ||
                        { say "FAIL $c: over 50 ms of CPU per round"; fail=1; } ;;
        targets2500)
                # queries per round: the SRV query (twice: UDP, then TCP) plus the targets'
                awk -v q="$queries" -v r="$rounds" -v m="$MAX_BACKENDS" 'BEGIN { exit !(r > 0 && q / r <= m + 2) }' ||
                        { say "FAIL $c: more than max-backends ($MAX_BACKENDS) target queries per round"; fail=1; } ;;
        esac
        [ "$gap" -ge 0 ] && [ "$gap" -le 1500 ] || { say "FAIL $c: the neighbour went $gap ms without a refresh"; fail=1; }
done
echo
[ -n "${BENCH_KEEP:-}" ] && rm -rf "$BENCH_KEEP" && cp -a "$W" "$BENCH_KEEP"
echo "dnsdiscd $(git -C "$srcdir" describe --always --dirty 2>/dev/null), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)"
exit "$fail"
