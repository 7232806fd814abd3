#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# stack.sh: BIND and dnsdiscd for the Python tests, through the shell tests' own harness (named-lib.sh, dd-lib.sh).
#
#   stack.sh ORIGIN ZONEFILE SERVICES   (SERVICES: the [service ...] sections of dnsdisc.conf)
#
# Prints NAMED_PORT=, NAMED_DIR=, DD_CACHE=, DD_PID=, DD_LOG= lines, then "ready"
# once dnsdiscd's first round is over; everything stops (and the test
# directory goes) when standard input closes. On failure: "failed", the
# reason on stderr, exit 1.
top_srcdir=${top_srcdir:?}
top_builddir=${top_builddir:?}
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/named-lib.sh"
. "$top_srcdir/tests/dd-lib.sh"

[ $# -eq 3 ] || { echo "usage: stack.sh ORIGIN ZONEFILE SERVICES" >&2; exit 2; }
fail() { echo "stack.sh: $*" >&2; [ -f "$DD_LOG" ] && tail -n 20 "$DD_LOG" >&2; echo failed; exit 1; }

start_named "$1" "$2" >&2 || fail "named did not start"
CONF=$TESTDIR/dnsdisc.conf
{ dd_conf_header "$NAMED_PORT" log-level=info; echo; cat "$3"; } >"$CONF"
dd_start "$CONF" >&2 && dd_wait_ready 10 || fail "dnsdiscd did not get ready"
printf '%s\n' "NAMED_PORT=$NAMED_PORT" "NAMED_DIR=$NAMED_DIR" "DD_CACHE=$DD_CACHE" "DD_PID=$DD_PID" "DD_LOG=$DD_LOG" ready
# Until the test closes our standard input; then lib.sh's cleanups stop dnsdiscd and named.
cat >/dev/null
