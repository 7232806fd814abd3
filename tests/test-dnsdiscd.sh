#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-dnsdiscd.sh: daemon/dnsdiscd.c, what the process sets up before the manager runs: the
# open-file limit, and SIGPIPE ignored (stderr into a pipe whose reader left).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$top_srcdir/tests/dd-lib.sh"

dd_need "$FAKEDNS"
command -v prlimit >/dev/null || skip_all "prlimit (util-linux) not installed"
env --default-signal=PIPE true 2>/dev/null || skip_all "env has no --default-signal (coreutils < 8.31)"
read -r _ _ _ hard_nofile _ < <(grep '^Max open files' /proc/self/limits)
[ "$hard_nofile" = unlimited ] || [ "$hard_nofile" -ge 4096 ] || skip_all "hard open-file limit $hard_nofile is below 4096"

ZONE=$TESTDIR/zone
CONTROL=$TESTDIR/control
QLOG=$TESTDIR/queries.log
{
        echo "d.test. 300 IN SOA ns.d.test. host.d.test. 1 3600 600 86400 5"
        echo "_http._tcp.plain.d.test. 1 IN SRV 10 10 8080 t.plain.d.test."
        echo "t.plain.d.test. 1 IN A 127.30.0.1"
} >"$ZONE"
: >"$CONTROL"
start_fakedns || { echo "Bail out! fakedns did not start"; exit 1; }

CONF=$TESTDIR/dnsdisc.conf
write_conf() { # write_conf [key=value...]: one service, and [daemon] keys
        {
                dd_conf_header "$PORT" "$@"
                printf '[service plain]\nsrv = _http._tcp.plain.d.test\n'
        } >"$CONF"
}

# ---------------------------------------------------------------- the open-file limit
# Each health probe holds a socket: the soft limit (often 1024) is raised to the hard one at start,
# and checks in flight beyond what it allows are cut, said once.
write_conf
sed -i "s/^\[daemon\]$/[daemon]\nmax-checks-inflight = 65536/" "$CONF"
REAL_DNSDISCD=$DNSDISCD
DNSDISCD=$TESTDIR/dnsdiscd-limited
printf '#!/bin/sh\nexec prlimit --nofile=256:4096 "%s" "$@"\n' "$REAL_DNSDISCD" >"$DNSDISCD"
chmod +x "$DNSDISCD"
dd_start "$CONF" && dd_wait_ready 10
ok $? "dnsdiscd starts with an open-file limit of 256 (soft) and 4096 (hard)"
read -r _ _ _ soft hard _ < <(grep '^Max open files' "/proc/$DD_PID/limits")
is "$soft $hard" "4096 4096" "the soft open-file limit was raised to the hard one"
is "$(dd_log | grep -c 'max-checks-inflight = 65536 is more than the open-file limit (4096, 64 kept for the rest) allows: at most 4032')" 1 \
        "max-checks-inflight beyond the limit is cut to it, said once"
dd_stop
is "$DD_RC" 0 "dnsdiscd exits cleanly on SIGTERM"
DNSDISCD=$REAL_DNSDISCD

# dnsdiscd with SIGPIPE at its default action, as outside systemd (which sets IgnoreSIGPIPE=yes).
DNSDISCD=$TESTDIR/dnsdiscd-sigpipe
printf '#!/bin/sh\nexec env --default-signal=PIPE "%s" "$@"\n' "$REAL_DNSDISCD" >"$DNSDISCD"
chmod +x "$DNSDISCD"
write_conf

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

# ---------------------------------------------------------------- the cache file truncated in place
# Root or the daemon's user can truncate the file: its readers die with SIGBUS, and so did the
# daemon at its next store. It survives, writes the file anew and publishes everything again.
DNSDISCD=$REAL_DNSDISCD
write_conf
dd_start "$CONF" && dd_wait_ready 10
ok $? "dnsdiscd starts"
ino=$(stat -c %i "$DD_CACHE")
truncate -s 0 "$DD_CACHE"
t0=$(now_ns)
dd_wait 10 "$t0" plain 'state(d) == "ok" and total(d) == 1' >/dev/null && [ "$(stat -c %i "$DD_CACHE")" != "$ino" ]
ok $? "after the file was truncated in place, a new file holds the service again ($(ms_since "$t0") ms)"
dd_running
ok $? "dnsdiscd survived the truncation"
dd_log | grep -q 'was truncated under us'
ok $? "the log says the file was truncated and written anew"
dd_stop
is "$DD_RC" 0 "dnsdiscd exits cleanly on SIGTERM"

dd_sanitizer_clean
ok $? "no sanitizer report in the daemon's log"
done_testing
