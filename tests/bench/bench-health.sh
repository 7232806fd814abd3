#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench-health.sh: dnsdiscd's CPU and memory while it health-checks 1,000 backends (tcp, every second) for a minute.
#
#   mkdir /tmp/b && cd /tmp/b && /path/to/configure CFLAGS='-O2 -g'    # no sanitizers
#   make daemon/dnsdiscd tools/dnsdiscctl tests/checkserver
#   top_builddir=$PWD bash /path/to/tests/bench/bench-health.sh [SECONDS]
#
# 1,000 listeners on 127.0.N.1-100 (N = 1..10), all in one tests/checkserver,
# published by BIND as 10 SRV services of 100 backends each (_bench._tcp.sN,
# targets hN-K with one A record): BIND 9.18 refuses more than 100 records
# in one RRset (max-records-per-type). TTLs are 1 h, so no DNS refresh falls in
# the measured window: what is measured is the checking. Once every backend
# is up, dnsdiscd's utime+stime (/proc/PID/stat) is read over SECONDS
# (default 60) and shown as % of one core, with VmRSS and VmHWM and the
# probes run. PERF=1 also records a perf profile of the window.
# Not part of make check: it needs a minute and a quiet machine.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
. "$top_srcdir/tests/named-lib.sh"

SECONDS_MEASURED=${1:-60}
SERVICES=10 PER_SERVICE=100
TARGET_CPU_PCT=10
CHECKSERVER="$top_builddir/tests/checkserver"

die() { echo "bench-health: $*" >&2; exit 1; }
for p in "$DNSDISCD" "$DNSDISCCTL" "$CHECKSERVER"; do
        [ -x "$p" ] || die "$p not built (see the head of this script)"
done
[ -x "$NAMED" ] || die "BIND 9 (named) is not installed"
command -v jq >/dev/null || die "jq is not installed"
bin="$top_builddir/daemon/.libs/dnsdiscd"
[ -x "$bin" ] || bin="$DNSDISCD"
if readelf -d "$bin" 2>/dev/null | grep -q libasan; then
        [ -n "${BENCH_ANY_BUILD:-}" ] || die "$bin is built with ASan: use an -O2 build without sanitizers (BENCH_ANY_BUILD=1 to go on)"
fi

PORT=$(free_port) || die "no free port"
addr() { echo "127.0.$1.$2"; } # service N, backend K

# ---------------------------------------------------------------- DNS
ZONE=$TESTDIR/zone.db
{
        zone_header example.com
        for ((n = 1; n <= SERVICES; n++)); do
                for ((k = 1; k <= PER_SERVICE; k++)); do
                        echo "_bench._tcp.s$n 3600 IN SRV 10 10 $PORT h$n-$k"
                        echo "h$n-$k 3600 IN A $(addr "$n" "$k")"
                done
        done
} >"$ZONE"
start_named example.com "$ZONE" || die "named did not start"

# ---------------------------------------------------------------- listeners
listen=()
for ((n = 1; n <= SERVICES; n++)); do
        for ((k = 1; k <= PER_SERVICE; k++)); do listen+=("$(addr "$n" "$k"):$PORT"); done
done
"$CHECKSERVER" "${listen[@]}" </dev/null >"$TESTDIR/checkserver.out" 2>"$TESTDIR/checkserver.log" &
cs_pid=$!
at_exit "kill $cs_pid 2>/dev/null; wait $cs_pid 2>/dev/null"
wait_until 10 grep -qx ready "$TESTDIR/checkserver.out" || die "checkserver did not start: $(cat "$TESTDIR/checkserver.log")"

# ---------------------------------------------------------------- daemon
CACHE=$TESTDIR/cache
CONF=$TESTDIR/dnsdisc.conf
{
        printf '[daemon]\ncache = %s\nservers = 127.0.0.1:%s\n' "$CACHE" "$NAMED_PORT"
        printf 'max-ttl = 1h\ncheck = tcp\ncheck-interval = 1s\ncheck-timeout = 500ms\nlog-level = notice\n'
        for ((n = 1; n <= SERVICES; n++)); do
                printf '\n[service s%d]\nsrv = _bench._tcp.s%d.example.com\nmax-backends = %d\n' "$n" "$n" "$PER_SERVICE"
        done
} >"$CONF"
"$bin" -c "$CONF" </dev/null 2>"$TESTDIR/dnsdiscd.log" &
dd_pid=$!
at_exit "kill $dd_pid 2>/dev/null; wait $dd_pid 2>/dev/null"

healthy() { "$DNSDISCCTL" --cache "$CACHE" list --json 2>/dev/null | jq '[.[].healthy] | add // 0'; }
checks() { # probes run so far, summed over every backend
        local n sum=0 c
        for ((n = 1; n <= SERVICES; n++)); do
                c=$("$DNSDISCCTL" --cache "$CACHE" show "s$n" --json | jq '[.backends[].checks] | add // 0')
                sum=$((sum + c))
        done
        echo "$sum"
}
all_up() { [ "$(healthy)" = $((SERVICES * PER_SERVICE)) ]; }
t0=$(date +%s%N)
wait_until 60 all_up || die "only $(healthy) of $((SERVICES * PER_SERVICE)) backends up after 60 s; log: $(tail -5 "$TESTDIR/dnsdiscd.log")"
up_ms=$((($(date +%s%N) - t0) / 1000000))
sleep 2 # let the first-round phases settle into the steady rhythm

cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; } # utime + stime
sys_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $13 }'; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)

# The probe count comes from the cache (a second's lag at most) with its own timestamps.
p0=$(checks) pw0=$(date +%s%N)
w0=$(date +%s%N) c0=$(cpu_ticks "$dd_pid") k0=$(sys_ticks "$dd_pid") s0=$(cpu_ticks "$cs_pid")
load0=$(cut -d' ' -f1-3 /proc/loadavg)
if [ -n "${PERF:-}" ]; then
        perf record -g -p "$dd_pid" -o "$TESTDIR/perf.data" -- sleep "$SECONDS_MEASURED" >/dev/null 2>&1
else
        sleep "$SECONDS_MEASURED"
fi
c1=$(cpu_ticks "$dd_pid") k1=$(sys_ticks "$dd_pid") s1=$(cpu_ticks "$cs_pid") w1=$(date +%s%N)
p1=$(checks) pw1=$(date +%s%N)
load1=$(cut -d' ' -f1-3 /proc/loadavg)
rss=$(status_kb "$dd_pid" VmRSS) hwm=$(status_kb "$dd_pid" VmHWM)
healthy_end=$(healthy)
kill -0 "$dd_pid" 2>/dev/null || die "dnsdiscd died during the measurement"

wall_ms=$(((w1 - w0) / 1000000))
pct() { awk -v t="$1" -v hz="$hz" -v ms="$wall_ms" 'BEGIN { printf "%.2f", t / hz / (ms / 1000) * 100 }'; }
cpu=$(pct $((c1 - c0)))
probes_s=$(awk -v p=$((p1 - p0)) -v ns=$((pw1 - pw0)) 'BEGIN { printf "%.0f", p / (ns / 1e9) }')
us_per_probe=$(awk -v t=$((c1 - c0)) -v hz="$hz" -v ms="$wall_ms" -v r="$probes_s" \
        'BEGIN { printf "%.1f", r ? t / hz * 1e6 / (r * ms / 1000) : 0 }')

echo "dnsdiscd health checks: $((SERVICES * PER_SERVICE)) backends ($SERVICES services x $PER_SERVICE), tcp, check-interval 1s"
echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')), load average $load0 -> $load1"
printf '%-34s %s\n' \
        "all backends up after start" "$up_ms ms" \
        "measured window" "$wall_ms ms" \
        "probes per second" "$probes_s" \
        "backends up at the end" "$healthy_end" \
        "dnsdiscd CPU (utime+stime)" "$cpu % of one core (target <= $TARGET_CPU_PCT %)" \
        "  of which in the kernel (stime)" "$(pct $((k1 - k0))) %" \
        "dnsdiscd CPU per probe" "$us_per_probe us" \
        "dnsdiscd VmRSS / VmHWM" "$rss kB / $hwm kB" \
        "checkserver CPU (for reference)" "$(pct $((s1 - s0))) % of one core"
if [ -n "${PERF:-}" ]; then
        echo "perf profile, by object:"
        perf report -i "$TESTDIR/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null |
                grep -E '^ +[0-9]' | head -8
        echo "perf profile, top symbols:"
        perf report -i "$TESTDIR/perf.data" --no-children --sort dso,sym --stdio --percent-limit 1.5 -g none \
                2>/dev/null | grep -E '^ +[0-9]' | head -25
fi
awk -v c="$cpu" -v t="$TARGET_CPU_PCT" 'BEGIN { exit !(c <= t) }' && echo "target met" || { echo "target MISSED"; exit 1; }
