#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-fakedns.sh: self-test of the fault-injecting DNS server, checked with dig.

. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

need_built "$FAKEDNS"
command -v dig >/dev/null || skip_all "dig not installed (bind9-dnsutils)"

ZONE="$TESTDIR/zone"
CONTROL="$TESTDIR/control"
QLOG="$TESTDIR/queries.log"

cat >"$ZONE" <<'EOF'
svc.example. 300 IN SOA ns.svc.example. host.svc.example. 1 3600 600 86400 60
_http._tcp.svc.example. 30 IN SRV 10 50 8080 a.svc.example.
_http._tcp.svc.example. 30 IN SRV 20 50 8081 b.svc.example.
a.svc.example. 40 IN A 127.0.0.11
b.svc.example. 40 IN A 127.0.0.12
b.svc.example. 40 IN AAAA ::1
EOF
: >"$CONTROL"

# Replace the control file in one step: fakedns notices the new inode at once.
set_mode() {
        printf '%s\n' "$@" >"$CONTROL.new" && mv "$CONTROL.new" "$CONTROL"
}


start_fakedns
ok $? "fakedns starts and says ready"

DIG=(dig -r @127.0.0.1 -p "$PORT" +time=2 +tries=1 +norecurse)

out=$("${DIG[@]}" +noall +answer +additional _http._tcp.svc.example SRV)
is "$(grep -c 'IN[[:space:]]*SRV' <<<"$out")" 2 "SRV answer has both records"
is "$(grep -cE 'IN[[:space:]]*(A|AAAA)[[:space:]]' <<<"$out")" 3 "SRV answer carries A/AAAA glue for both targets"
grep -qE '^b\.svc\.example\.[[:space:]]+40[[:space:]]+IN[[:space:]]+AAAA[[:space:]]+::1$' <<<"$out"
ok $? "glue keeps the zone's TTL and address"

out=$("${DIG[@]}" nothere.svc.example SRV)
grep -q 'status: NXDOMAIN' <<<"$out"
ok $? "unknown name is NXDOMAIN"
grep -A1 'AUTHORITY SECTION' <<<"$out" | grep -q 'IN[[:space:]]*SOA'
ok $? "NXDOMAIN carries the zone SOA in authority"

out=$("${DIG[@]}" a.svc.example SRV)
grep -q 'status: NOERROR' <<<"$out" && grep -q 'ANSWER: 0' <<<"$out"
ok $? "existing name without the type is NODATA"

set_mode "mode servfail"
out=$("${DIG[@]}" _http._tcp.svc.example SRV)
grep -q 'status: SERVFAIL' <<<"$out"
ok $? "servfail mode answers SERVFAIL"

set_mode "mode servfail" "mode normal _http._tcp.svc.example"
out=$("${DIG[@]}" _http._tcp.svc.example SRV)
grep -q 'status: NOERROR' <<<"$out"
ok $? "a rule for one name overrides the global rule"

set_mode "mode silent"
start=$(date +%s%N)
"${DIG[@]}" +time=1 _http._tcp.svc.example SRV >"$TESTDIR/silent.out" 2>&1
rc=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
is "$rc" 9 "silent mode: dig gets no reply (exit 9)"
grep -q 'timed out' "$TESTDIR/silent.out"
ok $? "silent mode: dig reports a timeout"
[ "$elapsed_ms" -ge 900 ]
ok $? "silent mode: dig waited its full timeout (${elapsed_ms} ms)"

set_mode "mode tc-always"
out=$("${DIG[@]}" +ignore _http._tcp.svc.example SRV)
grep -qE 'flags: qr aa tc' <<<"$out" && grep -q 'ANSWER: 0' <<<"$out"
ok $? "tc-always: the UDP answer is empty with TC set"
out=$("${DIG[@]}" _http._tcp.svc.example SRV)
grep -q 'ANSWER: 2' <<<"$out" && grep -q '(TCP)' <<<"$out"
ok $? "tc-always: dig retries over TCP and gets the full answer"

set_mode
# One line per query: 3 normal, 1 servfail, 1 override, 1 silent, 1 tc over
# UDP, then 1 UDP and 1 TCP for the retried one.
is "$(wc -l <"$QLOG")" 9 "query log has one line per query"
is "$(grep -c ' tcp _http._tcp.svc.example SRV$' "$QLOG")" 1 "query log tells TCP queries apart"
awk 'NF != 4 || $1 !~ /^[0-9]+$/ || ($2 != "udp" && $2 != "tcp") { bad = 1 } END { exit bad }' "$QLOG"
ok $? "query log lines are '<ms> <udp|tcp> <qname> <qtype>'"

# ---------------------------------------------------------------- hostile answers (issue 21)
set_mode "mode srv-gen 2500 2500 3 0 _big._tcp.svc.example" "mode glue-addr 127.66.6.6 _http._tcp.svc.example"
out=$("${DIG[@]}" +tcp _big._tcp.svc.example SRV)
grep -q 'ANSWER: 2500,' <<<"$out" && ! grep -q 'flags: qr aa tc' <<<"$out"
ok $? "srv-gen: 2,500 SRV records with distinct targets fit one TCP answer"
is "$("${DIG[@]}" +short t2499._big._tcp.svc.example A | sort -V | tr '\n' ' ')" "127.156.48.0 127.156.48.1 127.156.48.2 " \
        "srv-gen: a target's A records are made up from its number"
grep -q 'status: NXDOMAIN' <<<"$("${DIG[@]}" t2500._big._tcp.svc.example A)"
ok $? "srv-gen: a target past NTARGETS is NXDOMAIN"
out=$("${DIG[@]}" +noall +additional _http._tcp.svc.example SRV)
is "$(awk '{ print $1, $4, $5 }' <<<"$out" | sort | tr '\n' ' ')" \
        "a.svc.example. A 127.66.6.6 b.svc.example. A 127.66.6.6 " "glue-addr: one record of the address per target, no other glue"
set_mode "mode tc-tcp _http._tcp.svc.example"
out=$("${DIG[@]}" _http._tcp.svc.example SRV)
grep -q ';; Truncated' <<<"$out" && grep -q '(TCP)' <<<"$out" && grep -q 'flags: qr aa tc; QUERY: 1, ANSWER: 1,' <<<"$out"
ok $? "tc-tcp: TC over UDP; over TCP half the answer, TC set again"
set_mode

kill -TERM "$FAKEDNS_PID"
wait "$FAKEDNS_PID"
is "$?" 0 "fakedns exits cleanly on SIGTERM"
grep -qE 'AddressSanitizer|LeakSanitizer|runtime error' "$TESTDIR/fakedns.err"
is "$?" 1 "fakedns reported no sanitizer errors"

done_testing
