#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-resolve.sh: daemon/resolve.c end to end against tests/fakedns: TCP connections that break, and
# each failure reported as what it is (timeout, connection refused, SERVFAIL, REFUSED).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$top_srcdir/tests/dd-lib.sh"

FAKEDNS="$top_builddir/tests/fakedns"
for p in "$DNSDISCD" "$DNSDISCCTL" "$FAKEDNS"; do
        [ -x "$p" ] || skip_all "$p not built"
done
command -v python3 >/dev/null || skip_all "python3 not installed"
env --default-signal=PIPE true 2>/dev/null || skip_all "env has no --default-signal (coreutils < 8.31)"

ZONE=$TESTDIR/zone
CONTROL=$TESTDIR/control
QLOG=$TESTDIR/queries.log
RESETS=8                # services whose TCP answers are cut by a reset

srv() { # srv NAME TTL NET: one SRV record of _http._tcp.NAME.r.test with its A target 127.NET.0.1
        echo "_http._tcp.$1.r.test. $2 IN SRV 10 10 8080 t.$1.r.test."
        echo "t.$1.r.test. $2 IN A 127.$3.0.1"
}
{
        echo "r.test. 300 IN SOA ns.r.test. host.r.test. 1 3600 600 86400 5"
        for ((i = 1; i <= RESETS; i++)); do srv "rst$i" 1 $((10 + i)); done
        srv plain 1 30
        for m in servfail refused; do srv "rc-$m" 1 31; done
} >"$ZONE"
{
        for ((i = 1; i <= RESETS; i++)); do
                echo "mode tc-always _http._tcp.rst$i.r.test"
                echo "mode tcp-reset _http._tcp.rst$i.r.test"
        done
        echo "mode servfail _http._tcp.rc-servfail.r.test"
        echo "mode refused _http._tcp.rc-refused.r.test"
} >"$CONTROL"
start_fakedns || { echo "Bail out! fakedns did not start"; exit 1; }

# dnsdiscd with SIGPIPE at its default action, as outside systemd (which sets IgnoreSIGPIPE=yes).
REAL_DNSDISCD=$DNSDISCD
DNSDISCD=$TESTDIR/dnsdiscd-sigpipe
printf '#!/bin/sh\nexec env --default-signal=PIPE "%s" "$@"\n' "$REAL_DNSDISCD" >"$DNSDISCD"
chmod +x "$DNSDISCD"

CONF=$TESTDIR/dnsdisc.conf
{
        dd_conf_header "$PORT" query-timeout=300ms query-tries=1 min-ttl=1s
        for ((i = 1; i <= RESETS; i++)); do printf '[service rst%d]\nsrv = _http._tcp.rst%d.r.test\n' "$i" "$i"; done
        printf '[service plain]\nsrv = _http._tcp.plain.r.test\n'
        for m in servfail refused; do printf '[service rc-%s]\nsrv = _http._tcp.rc-%s.r.test\n' "$m" "$m"; done
} >"$CONF"

dd_start "$CONF" && dd_wait_ready 10
ok $? "dnsdiscd starts against fakedns and finishes its first round"

# ---------------------------------------------------------------- TCP answers cut by a reset
# Every refresh of the rst services goes UDP (TC) -> TCP -> half an answer -> RST; c-ares writes
# the next queries on the connection as the reset arrives. Without MSG_NOSIGNAL a write after the
# reset raised SIGPIPE, which kills a process that does not ignore it.
tcp_queries() { awk '$2 == "tcp"' "$QLOG" | wc -l; }
enough_resets() { [ "$(tcp_queries)" -ge $((RESETS * 2)) ]; }
wait_until 30 enough_resets
ok $? "the daemon queried over TCP again and again ($(tcp_queries) TCP queries, each answer cut by a reset)"
dd_running
ok $? "dnsdiscd survived every reset with SIGPIPE at its default action"
! dd_log | grep -q 'SIGPIPE\|Broken pipe'
ok $? "no SIGPIPE or broken pipe in the log"
is "$(dd_get plain 'state(d)')" ok "a service on the same server is not disturbed"

# ---------------------------------------------------------------- each failure named as it is
# c-ares 1.18 ends queries answered SERVFAIL or REFUSED, and those whose server refused the
# connection, all with one status; the error name and counter come from the answer's RCODE.
counter() { # counter SERVICE KIND: dnsdisc_resolution_errors_total of that kind
        "$DNSDISCCTL" -c "$DD_CACHE" stats --prometheus |
                awk -v s="service=\"$1\"" -v k="kind=\"$2\"" \
                        '$1 ~ /^dnsdisc_resolution_errors_total[{]/ && index($1, s) && index($1, k) { print $2 }'
}
t0=$(now_ns)
dd_wait 10 "$t0" rc-servfail 'err(d) is not None' >/dev/null
is "$(dd_get rc-servfail '[state(d), err(d)]')" '["error", "servfail"]' "SERVFAIL is reported as servfail"
dd_wait 10 "$t0" rc-refused 'err(d) is not None' >/dev/null
is "$(dd_get rc-refused '[state(d), err(d)]')" '["error", "refused"]' "REFUSED is reported as refused"
r=$(counter rc-refused refused) s=$(counter rc-refused servfail)
[ "${r:-0}" -ge 1 ] && [ "${s:-0}" -eq 0 ]
ok $? "REFUSED moves the refused counter, not servfail (refused ${r:-none}, servfail ${s:-none})"
r=$(counter rc-servfail refused) s=$(counter rc-servfail servfail)
[ "${s:-0}" -ge 1 ] && [ "${r:-0}" -eq 0 ]
ok $? "SERVFAIL moves the servfail counter, not refused (servfail ${s:-none}, refused ${r:-none})"

dd_stop
is "$DD_RC" 0 "dnsdiscd exits cleanly on SIGTERM"

# ---------------------------------------------------------------- stderr into a pipe whose reader left
# `dnsdiscd ... 2>&1 | head -1`: once head exits, the next log line is a write to a pipe without
# a reader. The daemon ignores SIGPIPE, so that write fails and the daemon goes on.
mkfifo "$TESTDIR/stderr.fifo"
head -n 1 <"$TESTDIR/stderr.fifo" >"$TESTDIR/first-line" &
HEAD_PID=$!
"$DNSDISCD" -c "$CONF" </dev/null >/dev/null 2>"$TESTDIR/stderr.fifo" &
PIPE_PID=$!
at_exit 'kill "$PIPE_PID" 2>/dev/null; wait "$PIPE_PID" 2>/dev/null'
wait "$HEAD_PID"
reloads() { "$DNSDISCCTL" -c "$DD_CACHE" stats --prometheus 2>/dev/null | awk '$1 == "dnsdisc_daemon_reloads_total" { print $2 }'; }
# Each reload logs a line after counting itself: once the count is 2, the first reload's line was
# written to the pipe without a reader.
reloads_reached() { kill -0 "$PIPE_PID" 2>/dev/null && [ "$(reloads)" -ge "$1" ] 2>/dev/null; }
wait_until 10 "$DNSDISCCTL" -c "$DD_CACHE" list
for n in 1 2; do
        kill -HUP "$PIPE_PID" 2>/dev/null
        wait_until 10 reloads_reached "$n"
done
kill -0 "$PIPE_PID" 2>/dev/null
ok $? "with stderr a pipe whose reader exited, dnsdiscd logs on (reloads counted: $(reloads), first line: $(cat "$TESTDIR/first-line"))"
kill -TERM "$PIPE_PID" 2>/dev/null
wait "$PIPE_PID"
rc=$?
is "$rc" 0 "and exits cleanly on SIGTERM (not killed by SIGPIPE: status 141)"

# ---------------------------------------------------------------- a closed port, a silent server
# Nobody listens on the first server's port: ICMP port unreachable, "connrefused". The second
# server says nothing: "timeout".
closed=$(free_port)
for case in "connrefused 127.0.0.1:$closed" "timeout 127.0.0.1:$PORT"; do
        set -- $case
        echo "mode silent _http._tcp.plain.r.test" >"$CONTROL.new" && mv "$CONTROL.new" "$CONTROL"
        {
                dd_conf_header "$PORT" servers="$2" query-timeout=300ms query-tries=1
                printf '[service plain]\nsrv = _http._tcp.plain.r.test\n'
        } >"$CONF"
        rm -f "$DD_CACHE"
        t0=$(now_ns)
        dd_start "$CONF" && dd_wait 10 "$t0" plain 'err(d) is not None' >/dev/null
        is "$(dd_get plain 'err(d)')" "$1" "a server at $2 that $([ "$1" = timeout ] && echo "never answers" || echo "has its port closed") is reported as $1"
        dd_stop
done
dd_sanitizer_clean
ok $? "no sanitizer report in the daemon's log"
done_testing
