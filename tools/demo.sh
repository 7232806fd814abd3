#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# demo.sh: the README "run" command: build, serve the example zone with BIND 9, run dnsdiscd on it, show the cache.
#
# Usage: bash tools/demo.sh [--wait] [--no-setup]
#   As root on Debian 12 (tools/setup.sh installs the packages). Everything
#   runs on 127.0.0.1 with a free high port and a temporary directory; every
#   process the script starts is stopped when it ends or is interrupted.
#   --wait: keep named and dnsdiscd running at the end until Ctrl-C.
#   --no-setup: skip tools/setup.sh and use the existing build (BUILDDIR or build/).
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
builddir=${BUILDDIR:-$top/build}
keep=0 setup=1
for arg in "$@"; do
        case $arg in
        --wait) keep=1 ;;
        --no-setup) setup=0 ;;
        -h | --help) sed -n '3,10s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "demo.sh: unknown argument $arg (try --help)" >&2; exit 2 ;;
        esac
done

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'demo.sh: FAILED: %s\n' "$*" >&2; exit 1; }
run() { printf '$ %s\n' "$*"; "$@"; }

if [ "$setup" -eq 1 ]; then
        step "Installing dependencies and building into ${builddir#"$top"/} (tools/setup.sh)"
        BUILDDIR=$builddir bash "$top/tools/setup.sh" || die "tools/setup.sh failed (see above)"
fi

# lib.sh gives TESTDIR (removed at exit), free_port, wait_until and at_exit,
# whose EXIT/INT/TERM traps stop what we start; we print no TAP.
top_srcdir=$top top_builddir=$builddir
. "$top/tests/lib.sh"
. "$top/tests/named-lib.sh"
for f in "$DNSDISCD" "$DNSDISCCTL"; do
        [ -x "$f" ] || die "$f was not built"
done
[ "$keep" -eq 1 ] && NAMED_MAX_LIFETIME=0
ctl() { "$DNSDISCCTL" --cache "$cache" "$@"; }

# stop_pid PID NAME: SIGTERM, up to 5 s, then SIGKILL.
stop_pid() {
        local i
        kill -TERM "$1" 2>/dev/null || return 0
        for ((i = 0; i < 50; i++)); do
                kill -0 "$1" 2>/dev/null || break
                sleep 0.1
        done
        kill -0 "$1" 2>/dev/null && { echo "demo.sh: $2 ignored SIGTERM, killing it" >&2; kill -KILL "$1"; }
        wait "$1" 2>/dev/null
        echo "demo.sh: stopped $2"
}

step "Starting BIND 9 on 127.0.0.1 with docs/examples/example.zone"
# named sends dnsdiscd a DNS NOTIFY the moment the zone changes (notify-listen below).
notify_port=$(free_port) || die "no free port"
NAMED_ZONE_EXTRA="        notify explicit; notify-delay 0; also-notify { 127.0.0.1 port $notify_port; };"
start_named example.com "$top/docs/examples/example.zone" || die "could not start named"
unset NAMED_ZONE_EXTRA
echo "named (pid $NAMED_PID) serves example.com on 127.0.0.1:$NAMED_PORT; its SRV set for the api service:"
run dig @127.0.0.1 -p "$NAMED_PORT" +noall +answer SRV _http._tcp.api.example.com || die "dig failed"

step "Writing the configuration from docs/examples/dnsdisc.conf"
cache=$TESTDIR/cache
conf=$TESTDIR/dnsdisc.conf
sed -e "s|@PORT@|$NAMED_PORT|g" -e "s|@CACHE@|$cache|g" -e "/^\[daemon\]/a notify-listen = 127.0.0.1:$notify_port" \
        "$top/docs/examples/dnsdisc.conf" >"$conf" || die "cannot write $conf"
grep -v -e '^#' -e '^$' "$conf"
run "$DNSDISCD" --check-config -c "$conf" || die "dnsdiscd rejects $conf"

step "Starting dnsdiscd"
# Its own log, not the terminal: the demo prints it only if something goes wrong.
"$DNSDISCD" -c "$conf" </dev/null >"$TESTDIR/dnsdiscd.log" 2>&1 &
dpid=$!
at_exit "stop_pid $dpid dnsdiscd"
echo "dnsdiscd (pid $dpid) writes $cache"

show_log() {
        echo "demo.sh: dnsdiscd's log:" >&2
        tail -n 20 "$TESTDIR/dnsdiscd.log" | sed 's/^/  /' >&2
}
state() { ctl list 2>/dev/null | awk -v s="$1" '$1 == s { print $2 }'; }
all_resolved() {
        kill -0 "$dpid" 2>/dev/null || return 2
        [ "$(state api)" = ok ] && [ "$(state web)" = ok ] && [ "$(state legacy)" = ok ] &&
                [ "$(state down)" = negative ]
}
start=$(date +%s%N)
if ! wait_until 10 all_resolved; then
        kill -0 "$dpid" 2>/dev/null || { show_log; die "dnsdiscd exited"; }
        ctl list >&2
        show_log
        die "dnsdiscd did not publish api, web and legacy (ok) and down (negative) within 10 s"
fi
echo "all services published after $((($(date +%s%N) - start) / 1000000)) ms"

step "What applications see"
run "$DNSDISCCTL" --cache "$cache" list || die "dnsdiscctl list failed"
echo
run "$DNSDISCCTL" --cache "$cache" show api || die "dnsdiscctl show failed"
echo
echo "Picks are weighted by SRV weight among the priority-10 backends; the priority-20 backup is not picked while they are up:"
run "$DNSDISCCTL" --cache "$cache" pick api -n 6 || die "dnsdiscctl pick failed"

step "A change in DNS: removing api-3 (127.0.0.13) from the SRV set"
nsupdate_do "update delete _http._tcp.api.example.com SRV 10 10 8083 api-3.example.com." ||
        die "nsupdate failed"
echo "The SRV TTL is 30 s, but named sends dnsdiscd a DNS NOTIFY with the update: the change arrives at once."
api3_gone() {
        local out
        out=$(ctl show api) || return 1
        ! grep -q '127\.0\.0\.13' <<<"$out"
}
start=$(date +%s%N)
# The TTL still bounds it if the NOTIFY were lost: wait that long before calling it a failure.
if ! wait_until 35 api3_gone; then
        show_log
        die "api-3 is still published 35 s after its removal"
fi
echo "api-3 gone from the cache after $((($(date +%s%N) - start) / 1000000)) ms:"
run "$DNSDISCCTL" --cache "$cache" show api || die "dnsdiscctl show failed"

if [ "$keep" -eq 1 ]; then
        step "Running; try: $DNSDISCCTL --cache $cache list   (Ctrl-C stops everything)"
        wait "$dpid"
        show_log
        die "dnsdiscd exited"
fi
step "Done; stopping dnsdiscd and named"
exit 0
