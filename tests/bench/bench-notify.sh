#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench-notify.sh: time from a DNS change's return (nsupdate, knotc) to a client blocked in dnsdisc_wait() seeing it, with NOTIFY and without (not run by make check).
#
# Usage: bash tests/bench/bench-notify.sh [BUILDDIR]   (default: ./build, after `make check` built the helpers)
# Needs BIND 9 (named, nsupdate), Knot (knotd, knotc, kdig) and python3. For each server, CHANGES
# changes (a backend added, then removed, alternately) to a service whose records have a TTL of an
# hour: NOTIFY is the only way they can arrive. Prints per server the median and maximum delay from
# the change command's return to the new generation, and the DNS queries dnsdiscd sent per change.
# Then the same with NOTIFY off and a TTL of TTL_S seconds, for the TTL-driven figure beside it.
set -u
srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
top_builddir=$(cd "${1:-$srcdir/build}" && pwd)
top_srcdir=$srcdir
export top_builddir top_srcdir
. "$srcdir/tests/lib.sh"
. "$srcdir/tests/named-lib.sh"
. "$srcdir/tests/dd-lib.sh"

: "${CHANGES:=20}"
: "${TTL_S:=5}"
GEN_WAIT="$top_builddir/tests/gen-wait"
die() { echo "bench-notify: $*" >&2; exit 1; }
for t in "$NAMED" nsupdate "$KNOTD" "$KNOTC" kdig python3 "$GEN_WAIT" "$DNSDISCD" "$DNSDISCCTL"; do
        command -v "$t" >/dev/null || die "$t not found (Debian: bind9 bind9-utils knot knot-dnsutils; make check builds the helpers)"
done

NP=$(free_port) || die "no free port"
SECRET=$(head -c 32 /dev/urandom | base64)
O=bench.example

# Each run: µs from the command's return, and from its start, to the new generation: a line in $1.
# measure OUT SERVICE COMMAND...
measure() {
        local out=$1 svc=$2 t t_start gw woke
        shift 2
        rm -f "$TESTDIR/ready"
        "$GEN_WAIT" "$DD_CACHE" "$svc" 30000 "$TESTDIR/ready" >"$TESTDIR/woke" &
        gw=$!
        wait_until 5 test -s "$TESTDIR/ready" || die "gen-wait did not start"
        t_start=$(now_ns)
        "$@" || die "the change failed: $*"
        t=$(now_ns)
        wait "$gw" || die "no new generation within 30 s"
        woke=$(cut -d' ' -f1 "$TESTDIR/woke")
        echo "$(((woke - t) / 1000)) $(((woke - t_start) / 1000))" >>"$out"
}
# summary NAME FILE QUERIES: median and max of FILE (µs), and queries per change.
summary() {
        python3 - "$1" "$2" "$3" <<'EOF'
import statistics, sys
name, path, queries = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = [line.split() for line in open(path)]
v = [int(r[0]) / 1000 for r in rows]
w = [int(r[1]) / 1000 for r in rows]
print(f"{name}: {len(v)} changes; from the command's return: median {statistics.median(v):.1f} ms, "
      f"max {max(v):.1f} ms, min {min(v):.1f} ms (negative: in the cache before it returned); "
      f"from its start: median {statistics.median(w):.1f} ms, max {max(w):.1f} ms; "
      f"{queries / len(v):.1f} DNS queries per change")
EOF
}
queries() { $DNSDISCCTL --cache "$DD_CACHE" stats --prometheus | awk '$1 == "dnsdisc_daemon_queries_total" { print $2 }'; }

# ---------------------------------------------------------------- BIND
zone() { # zone TTL
        zone_header "$O"
        echo "_http._tcp.api.$O. $1 IN SRV 10 50 9001 b1.$O."
        for i in 1 2; do echo "b$i.$O. $1 IN A 127.0.4.$i"; done
}
zone 3600 >"$TESTDIR/bind.zone"
NAMED_ZONE_EXTRA="        notify explicit; notify-delay 0; also-notify { 127.0.0.1 port $NP; };"
start_named "$O" "$TESTDIR/bind.zone" || die "named did not start"
unset NAMED_ZONE_EXTRA
conf() { # conf DNS_PORT [notify]
        dd_conf_header "$1" log-level=info
        [ "${2:-}" = notify ] && echo "notify-listen = 127.0.0.1:$NP"
        printf '[service api]\nsrv = _http._tcp.api.%s\n' "$O"
}
conf "$NAMED_PORT" notify >"$TESTDIR/dd.conf"
dd_start "$TESTDIR/dd.conf" && dd_wait_ready 10 || die "dnsdiscd did not start"
# toggle TTL: add b2 on even changes, remove it on odd ones.
n_change=0
bind_toggle() {
        local op=add
        [ $((n_change % 2)) = 1 ] && op=delete
        n_change=$((n_change + 1))
        nsupdate_do "update $op _http._tcp.api.$O. $1 IN SRV 10 50 9002 b2.$O."
}
q0=$(queries)
for ((i = 0; i < CHANGES; i++)); do
        measure "$TESTDIR/bind.ms" api bind_toggle 3600
        sleep 0.2 # past notify-min-interval: each change is a round of its own
done
summary "BIND 9 (UDP NOTIFY, notify-delay 0)" "$TESTDIR/bind.ms" $(($(queries) - q0))
dd_stop

# ---------------------------------------------------------------- Knot
K=knot.example
mkdir -p "$TESTDIR/knot"
{
        zone_header "$K"
        echo "_http._tcp.api.$K. 3600 IN SRV 10 50 9001 b1.$K."
        for i in 1 2; do echo "b$i.$K. 3600 IN A 127.0.5.$i"; done
} >"$TESTDIR/knot/knot.zone"
KNOT_MAX_LIFETIME=900 KNOT_LOG_LEVEL=notice KNOT_CONF_EXTRA="remote:
  - id: dnsdiscd
    address: 127.0.0.1@$NP" KNOT_ZONE_EXTRA="    notify: dnsdiscd" start_knot "$K" "$TESTDIR/knot/knot.zone" ||
        die "knotd did not serve $K"
{
        dd_conf_header "$KNOT_PORT" log-level=info
        echo "notify-listen = 127.0.0.1:$NP"
        printf '[service kapi]\nsrv = _http._tcp.api.%s\n' "$K"
} >"$TESTDIR/dd.conf"
dd_start "$TESTDIR/dd.conf" && dd_wait_ready 10 || die "dnsdiscd did not start"
knot_toggle() {
        local op=zone-set
        [ $((n_change % 2)) = 1 ] && op=zone-unset
        n_change=$((n_change + 1))
        knotc_do zone-begin "$K" || return 1
        if [ "$op" = zone-set ]; then
                knotc_do zone-set "$K" "_http._tcp.api.$K." 3600 SRV "10 50 9002 b2.$K."
        else
                knotc_do zone-unset "$K" "_http._tcp.api.$K." SRV "10 50 9002 b2.$K."
        fi && knotc_do zone-commit "$K"
}
n_change=0
q0=$(queries)
for ((i = 0; i < CHANGES; i++)); do
        measure "$TESTDIR/knot.ms" kapi knot_toggle
        sleep 0.2
done
summary "Knot $("$KNOTD" --version | awk '{ print $NF }') (TCP NOTIFY)" "$TESTDIR/knot.ms" $(($(queries) - q0))
dd_stop

# ---------------------------------------------------------------- TTL-driven, for comparison
zone "$TTL_S" >"$TESTDIR/ttl.zone"
start_named "$O" "$TESTDIR/ttl.zone" || die "named did not start"
conf "$NAMED_PORT" >"$TESTDIR/dd.conf"
dd_start "$TESTDIR/dd.conf" && dd_wait_ready 10 || die "dnsdiscd did not start"
n_change=0
TTL_CHANGES=$((CHANGES / 4 > 3 ? CHANGES / 4 : 3))
q0=$(queries)
for ((i = 0; i < TTL_CHANGES; i++)); do
        measure "$TESTDIR/ttl.ms" api bind_toggle "$TTL_S"
done
summary "BIND 9 without NOTIFY (TTL $TTL_S s)" "$TESTDIR/ttl.ms" $(($(queries) - q0))
dd_stop
