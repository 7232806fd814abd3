#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-dnsdiscd-faults.sh: dnsdiscd against tests/fakedns: broken answers, silence, back-off, TTL edge cases, big sets.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$top_srcdir/tests/dd-lib.sh"

dd_need "$FAKEDNS"

ZONE=$TESTDIR/zone
CONTROL=$TESTDIR/control
QLOG=$TESTDIR/queries.log
TIMEOUT_MS=500          # query-timeout, with query-tries = 1: one query per round
FAULTS="servfail refused silent malformed truncated-garbage wrongid wrongname"
FAULT_SVCS=()           # one service per fault mode
for m in $FAULTS; do FAULT_SVCS+=("m-$m"); done
MANY=200                # SRV records of "many", published with max-backends = 16
MAX_BACKENDS=16
NEG_TTL=4               # f.test's SOA minimum: the negative TTL of its NXDOMAIN answers
# Slack of the query-time checks, which use fakedns's log: a query logged up to EARLY_MS late makes
# the gap before it long and the one after it short; timers may fire up to LATE_MS late. A sanitizer
# build beside another test (make -j2) is slower at both.
EARLY_MS=50 LATE_MS=300
[ -n "${DD_SANITIZERS:-}" ] && EARLY_MS=150 LATE_MS=800

# ---------------------------------------------------------------- the zone
# The targets' A records live 300 s: the daemon keeps a glued target's own answer for its own TTL,
# and one asked a round earlier would bound the set's expiry by what is left of it; with 300 s the
# SRV TTL alone sets when a set expires, which the stale-ttl checks count from.
srv() { # srv NAME COUNT TTL NET: COUNT SRV records (TTL) of _http._tcp.NAME.f.test with A targets 127.NET.0.N
        local name=$1 count=$2 ttl=$3 net=$4 i
        for ((i = 1; i <= count; i++)); do
                echo "_http._tcp.$name.f.test. $ttl IN SRV 10 $((i * 10)) $((8000 + i)) t$i.$name.f.test."
                echo "t$i.$name.f.test. 300 IN A 127.$net.0.$i"
        done
}
{
        echo "f.test. 300 IN SOA ns.f.test. host.f.test. 1 3600 600 86400 $NEG_TTL"
        # Negative TTL 0 (clamped up to min-ttl) and one day (clamped down to max-ttl).
        echo "lo.test. 300 IN SOA ns.lo.test. host.lo.test. 1 3600 600 86400 0"
        echo "hi.test. 86400 IN SOA ns.hi.test. host.hi.test. 1 3600 600 86400 86400"
        net=10
        for m in $FAULTS; do
                srv "m-$m" 2 1 $((net++))
        done
        srv bo-servfail 1 1 30
        srv bo-silent 1 1 31
        srv stale 2 1 32
        srv stale-long 1 5 37
        srv lone 1 1 38
        srv icmp 2 30 39
        srv ttl0 1 30 33
        srv ttlhuge 1 30 34
        srv tc 5 30 35
        srv notc 30 30 36
        # many: priorities 1..50 scattered over the answer, four records each
        for ((i = 1; i <= MANY; i++)); do
                echo "_http._tcp.many.f.test. 30 IN SRV $(((i * 37) % 50 + 1)) $((i % 7 + 1)) $((10000 + i)) m$i.many.f.test."
                echo "m$i.many.f.test. 30 IN A 127.40.$((i / 200)).$((i % 200 + 1))"
        done
} >"$ZONE"

# ---------------------------------------------------------------- fakedns
# Modes by name (without _http._tcp. and .f.test); written whole, replaced with mv.
declare -A MODE=([ttl0]=ttl0 [ttlhuge]=ttlhuge [tc]=tc-always [notc]=truncate-notc)
write_control() {
        local n
        for n in "${!MODE[@]}"; do
                echo "mode ${MODE[$n]} _http._tcp.$n.f.test"
        done >"$CONTROL.new" && mv "$CONTROL.new" "$CONTROL"
}
write_control

start_fakedns || { echo "Bail out! fakedns did not start"; exit 1; }

# qtimes NAME [FROM_LINE] [PROTO]: monotonic ms of the queries for _http._tcp.NAME.f.test SRV
# logged after line FROM_LINE of the query log (default: all), over PROTO (default udp).
qtimes() {
        tail -n +"$((${2:-0} + 1))" "$QLOG" |
                awk -v q="_http._tcp.$1.f.test" -v p="${3:-udp}" '$2 == p && $3 == q && $4 == "SRV" { print $1 }'
}
qmark() { wc -l <"$QLOG"; }
# fault_after_query NAME MODE: once the daemon has just queried NAME (so its next query
# is >= 0.8 s away), switch NAME to MODE. FAULT_MARK: the query log's line count at the
# switch, after which every query for NAME gets MODE. (Not in a subshell: MODE must stick.)
_has_query_after() { [ -n "$(qtimes "$1" "$2")" ]; }
fault_after_query() {
        local m
        m=$(qmark)
        wait_until 3 _has_query_after "$1" "$m"
        MODE[$1]=$2
        write_control
        FAULT_MARK=$(qmark)
}
# gaps: successive differences of the numbers on stdin, space separated.
gaps() { awk 'NR > 1 { printf "%s%d", sep, $1 - prev; sep = " " } { prev = $1 }'; }

# ---------------------------------------------------------------- dnsdiscd
CONF=$TESTDIR/dnsdisc.conf
{
        dd_conf_header "$PORT" query-timeout=${TIMEOUT_MS}ms query-tries=1
        for n in "${FAULT_SVCS[@]}" bo-servfail bo-silent tc notc; do
                printf '[service %s]\nsrv = _http._tcp.%s.f.test\n' "$n" "$n"
        done
        cat <<EOF
[service stale]
srv = _http._tcp.stale.f.test
stale-ttl = 3s
[service stale-long]
srv = _http._tcp.stale-long.f.test
stale-ttl = 2s
[service ttl0]
srv = _http._tcp.ttl0.f.test
min-ttl = 2s
[service ttlhuge]
srv = _http._tcp.ttlhuge.f.test
min-ttl = 2s
[service many]
srv = _http._tcp.many.f.test
max-backends = $MAX_BACKENDS
[service never]
srv = _http._tcp.never.f.test
[service never-lo]
srv = _http._tcp.never.lo.test
min-ttl = 2s
[service never-hi]
srv = _http._tcp.never.hi.test
max-ttl = 3s
EOF
} >"$CONF"

t_start=$(now_ns)
dd_start "$CONF" && dd_wait_ready 10
ok $? "dnsdiscd starts against fakedns and finishes its first round"
diag "first round done in $(ms_since "$t_start") ms"

# expect NAME: the set the zone defines for _http._tcp.NAME.f.test, into $TESTDIR/NAME.expected
expect() { dd_expect "$ZONE" srv "_http._tcp.$1.f.test" any >"$TESTDIR/$1.expected"; }
# same_set SERVICE: the published set is the one the zone defines (diagnostics otherwise).
same_set() {
        local got
        expect "$1"
        got=$(dd_set "$1")
        [ -s "$TESTDIR/$1.expected" ] && [ "$got" = "$(cat "$TESTDIR/$1.expected")" ] && return 0
        diag "$1 published:" "$got" "expected:" "$(cat "$TESTDIR/$1.expected")"
        return 1
}

# ---------------------------------------------------------------- back-off: starts now, checked at the end
bo_t0=$(now_ns)
fault_after_query bo-servfail servfail
bo_mark_servfail=$FAULT_MARK
fault_after_query bo-silent silent
bo_mark_silent=$FAULT_MARK

# ---------------------------------------------------------------- TCP, truncation, max-backends
same_set tc && [ "$(dd_get tc 'state(d)')" = ok ]
ok $? "tc-always: the full set of 5 arrives (over TCP), state ok"
[ -n "$(qtimes tc 0 tcp)" ]
ok $? "tc-always: the daemon retried the truncated SRV answer over TCP"
expect notc
diag "truncate-notc (records dropped to fit 512 bytes, TC clear; a documented caveat):" \
        "$(dd_get notc 'total(d)') of $(wc -l <"$TESTDIR/notc.expected") backends published, state $(dd_get notc 'state(d)')"

expect many
got=$(dd_set many)
lowest=$(awk '{ print $1 }' "$TESTDIR/many.expected" | sort -n | head -n "$MAX_BACKENDS" | tr '\n' ' ')
is "$(wc -l <<<"$got") $(awk '{ print $1 }' <<<"$got" | sort -n | tr '\n' ' ')" "$MAX_BACKENDS $lowest" \
        "max-backends: $MANY SRV records give $MAX_BACKENDS backends, those of the lowest priorities"
[ -z "$(LC_ALL=C comm -23 <(echo "$got") "$TESTDIR/many.expected")" ]
ok $? "max-backends: every published backend is one of the zone's records (port, weight, address)"
[ -n "$(qtimes many 0 tcp)" ]
ok $? "max-backends: the $MANY-record answer came over TCP"

# ---------------------------------------------------------------- negative TTL from the SOA
is "$(dd_get never '[state(d), total(d), err(d)]')" '["negative", 0, "nxdomain"]' \
        "NXDOMAIN for a service that never had backends: negative at once"
# Refreshed at 80-90% of the negative TTL (clamped), plus the query's round trip.
# neg_interval SERVICE NAME TTL_S: the first interval between its queries is within that window.
neg_interval() {
        local svc=$1 name=$2 ttl=$3 t
        t=$(awk -v q="_http._tcp.$name" '$3 == q { print $1 }' "$QLOG" | head -n 2 | gaps)
        diag "$svc: first re-query after ${t:-?} ms (negative TTL ${ttl}s after clamping)"
        [ -n "$t" ] && [ "$t" -ge $((ttl * 800 - EARLY_MS)) ] && [ "$t" -le $((ttl * 900 + LATE_MS)) ]
}
# two_queries NAME: the query log has two queries for _http._tcp.NAME
two_queries() { [ "$(awk -v q="_http._tcp.$1" '$3 == q' "$QLOG" | wc -l)" -ge 2 ]; }
wait_until 6 two_queries never.f.test && wait_until 6 two_queries never.lo.test && wait_until 6 two_queries never.hi.test
neg_interval never never.f.test "$NEG_TTL"
ok $? "negative TTL: the next query for never comes at 80-90% of the SOA's negative TTL ($NEG_TTL s)"
neg_interval never-lo never.lo.test 2
ok $? "negative TTL 0 is clamped up to min-ttl (2 s)"
neg_interval never-hi never.hi.test 3
ok $? "negative TTL of one day is clamped down to max-ttl (3 s)"

# ---------------------------------------------------------------- fault modes
for m in $FAULTS; do
        same_set "m-$m" || diag "m-$m: not as the zone says before its fault"
        dd_set "m-$m" >"$TESTDIR/m-$m.before"
done
f_mark=$(qmark)
for m in $FAULTS; do MODE[m-$m]=$m; done
write_control
t0=$(now_ns)
dd_waitall 5 "$t0" 'state(d) == "stale"' "${FAULT_SVCS[@]}" >"$TESTDIR/stale.ms"
declare -A ERRS=(
        [servfail]="servfail"
        [refused]="refused"
        [silent]="timeout"
        [malformed]="timeout malformed"   # unparsable question: c-ares drops it and times out
        [truncated-garbage]="malformed timeout"
        [wrongid]="timeout"               # c-ares ignores a reply with another ID
        [wrongname]="timeout malformed"   # c-ares drops another question; records.c checks it too
)
for m in $FAULTS; do
        e=$(dd_get "m-$m" 'err(d)')
        ms=$(awk -v s="m-$m" '$1 == s { print $2 }' "$TESTDIR/stale.ms")
        [[ " ${ERRS[$m]} " == *" $e "* ]] && [ "$(dd_get "m-$m" 'state(d)')" = stale ] &&
                [ "$(dd_set "m-$m")" = "$(cat "$TESTDIR/m-$m.before")" ]
        ok $? "$m: the set is kept, state stale, last error $e (expected one of: ${ERRS[$m]}) after ${ms:-never} ms"
done
dd_running
ok $? "dnsdiscd survived every fault mode"

# Back to normal: each recovers by its next retry: at most 1.2 * 2^(k-1) s after its
# k-th failure (a timeout ends up to $TIMEOUT_MS ms from now), plus the round and
# dd-check's polling of `dnsdiscctl list` (every 50 ms plus the command): 600 ms for
# those on a loaded machine (the former 300 ms left ~100 ms at the top of the jitter
# once the polling was paid). A service
# that missed that retry would come back no earlier than 0.8 * 2^k s after it.
for m in $FAULTS; do unset "MODE[m-$m]"; done
write_control
t0=$(now_ns)
declare -A FAILED BOUND
# The wait lasts as long as the longest bound: the more tries failed while a loaded machine
# ran the checks above, the longer the back-off (counted, not assumed).
max_bound=0
for m in $FAULTS; do
        k=$(qtimes "m-$m" "$f_mark" | wc -l)
        [ "$k" -ge 1 ] || k=1
        FAILED[$m]=$k
        BOUND[$m]=$((TIMEOUT_MS + 12 * (1 << (k - 1)) * 100 + 600))
        [ "${BOUND[$m]}" -gt "$max_bound" ] && max_bound=${BOUND[$m]}
done
dd_waitall $((max_bound / 1000 + 2)) "$t0" 'state(d) == "ok" and err(d) is None' "${FAULT_SVCS[@]}" >"$TESTDIR/ok.ms"
for m in $FAULTS; do
        k=${FAILED[$m]}
        bound=${BOUND[$m]}
        ms=$(awk -v s="m-$m" '$1 == s { print $2 }' "$TESTDIR/ok.ms")
        [ -n "$ms" ] && [ "$ms" -le "$bound" ] && same_set "m-$m"
        ok $? "$m: back to ok, last error cleared, same set ${ms:-never} ms after the mode went normal ($k tries failed, bound $bound ms)"
done

# ---------------------------------------------------------------- stale-ttl expiry
# stale-ttl counts from the set's expiry (RFC 8767), not from the last good answer: stale has
# TTL 1 s and stale-ttl 3 s, stale-long TTL 5 s and stale-ttl 2 s, longer than stale-ttl (its
# first failed refresh, 4-4.5 s after the answer, used to empty it: ok -> error, never stale).
# Both fail from t0; each must go stale with its set, then be emptied TTL + stale-ttl after
# its last good answer.
# Every snapshot from just before the fault until the set is dropped is read whole (state,
# error and set from one read): read apart, a loaded machine read the state while stale and
# the set after stale-ttl had emptied it. The tracers run before the fault begins (on a loaded
# machine Python alone took 2 s to start); the bound is the daemon's drop, not a window.
declare -A STALE_TTL_MS=([stale]=3000 [stale-long]=2000) TTL_MS=([stale]=1000 [stale-long]=5000) tracer=()
for n in stale stale-long; do
        same_set "$n"
        ok $? "$n: published before its fault"
done
t0=$(now_ns)
for n in stale stale-long; do
        dd_trace 30 "$t0" "$n" 'state(d) == "error"' >"$TESTDIR/$n.trace" &
        tracer[$n]=$!
done
for n in stale stale-long; do
        wait_until 30 test -s "$TESTDIR/$n.trace"
        MODE[$n]=servfail
done
write_control
t0_ms=$((t0 / 1000000))
for n in stale stale-long; do
        wait "${tracer[$n]}"
        trace_rc=$?
        # The daemon's own time of the last good answer (CLOCK_REALTIME ms), read once the set
        # is dropped (a refresh in flight at t0 may still have succeeded).
        good_ms=$("$DNSDISCCTL" --cache "$DD_CACHE" stats --prometheus |
                awk -v m="dnsdisc_service_last_good_resolution_timestamp_seconds{service=\"$n\"}" '$1 == m { printf "%.0f\n", $2 * 1000 }')
        want=$(dd_digest "$TESTDIR/$n.expected")
        # While stale, every snapshot holds the whole set, with the error that made it stale.
        awk -v want="$want" '$3 == "stale" { k++; if ($4 != "servfail" || $6 != want) bad++ } END { exit !(k > 0 && bad == 0) }' \
                "$TESTDIR/$n.trace"
        ok $? "$n: SERVFAIL keeps the set, state stale ($(awk '$3 == "stale"' "$TESTDIR/$n.trace" | wc -l) stale snapshots, all the whole set; TTL ${TTL_MS[$n]} ms, stale-ttl ${STALE_TTL_MS[$n]} ms)"
        # The set goes at the wake-up the daemon plans for TTL + stale-ttl after the last good
        # answer. The drop fell between the last stale snapshot's start and the first error
        # snapshot's end: after the deadline (2 ms for rounding), and the set not seen more
        # than 600 ms past it (the SERVFAIL round and timers; the polling's own delay, which a
        # loaded machine stretches, is outside the bound).
        last_stale=$(awk '$3 == "stale" { s = $1 } END { print s }' "$TESTDIR/$n.trace")
        first_error=$(awk '$3 == "error" { print $2; exit }' "$TESTDIR/$n.trace")
        deadline=$((TTL_MS[$n] + STALE_TTL_MS[$n]))
        diag "$n: trace (start end state error total set):" "$(cat "$TESTDIR/$n.trace")"
        diag "$n: last seen stale $((t0_ms + ${last_stale:-0} - ${good_ms:-0})) ms, first seen emptied $((t0_ms + ${first_error:-0} - ${good_ms:-0})) ms after the last good answer (expiry + stale-ttl: $deadline ms)"
        [ "$trace_rc" -eq 0 ] && [ -n "$good_ms" ] && [ -n "$last_stale" ] && [ -n "$first_error" ] &&
                [ $((t0_ms + first_error - good_ms)) -ge $((deadline - 2)) ] &&
                [ $((t0_ms + last_stale - good_ms)) -le $((deadline + 600)) ] &&
                [ "$(dd_get "$n" '[total(d), err(d)]')" = '[0, "servfail"]' ]
        ok $? "$n: stale-ttl after the set expired, the set is emptied and the state is error"
done

# ---------------------------------------------------------------- TTL 0 and TTLs >= 2^31
# intervals SERVICE: the gaps between its queries so far; each 80-90% of min-ttl (2 s) plus the
# round trip: at least 1600 - EARLY_MS, at most 2000 + LATE_MS (a daemon or fakedns held up
# on a loaded machine; ~15 gaps each, one 200 ms stall was enough to fail a bound of 2000). The zone's TTL (30 s) or max-ttl would give 24 s or more;
# and the median stays under 90% + 100 ms, which a refresh at 100% of min-ttl would not.
ttl_intervals_ok() {
        local g
        g=$(qtimes "$1" | gaps)
        diag "$1: intervals between queries: $g ms (zone TTL 30 s, min-ttl 2 s)"
        [ "$(wc -w <<<"$g")" -ge 3 ] || return 1
        # A stall of the machine stretches the odd gap (the next refresh counts from the late
        # answer, so it does not repeat): up to a tenth of the gaps (at least one) may leave the
        # 80-90% band, none by more than the band's width again; a wrong schedule moves them all.
        tr ' ' '\n' <<<"$g" | awk -v lo=$((1600 - EARLY_MS)) -v hi=$((2000 + LATE_MS)) '
                { n++; if ($1 < lo || $1 > hi) out++; if ($1 < 1200 || $1 > 4000) wild++ }
                END { allowed = int(n / 10); if (allowed < 1) allowed = 1; exit !(out <= allowed && !wild) }' || return 1
        [ "$(tr ' ' '\n' <<<"$g" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')" -ge 1600 ] &&
        [ "$(tr ' ' '\n' <<<"$g" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')" -le 1900 ]
}
ttl_intervals_ok ttl0
ok $? "ttl0: TTL 0 is clamped to min-ttl, refreshed at 80-90% of it"
ttl_intervals_ok ttlhuge
ok $? "ttlhuge: a TTL >= 2^31 is read as 0 (min-ttl), not as max-ttl"
[ "$(dd_get ttlhuge 'max(b["ttl"] for b in d["backends"])')" -le 2 ]
ok $? "ttlhuge: the published backend expires within min-ttl"

# ---------------------------------------------------------------- back-off
# Until each back-off service has made 5 tries (4 gaps: ~1, 2, 4, 8 s), at most 24 s after the fault began.
bo_done() { [ "$(qtimes bo-servfail "$bo_mark_servfail" | wc -l)" -ge 5 ] && [ "$(qtimes bo-silent "$bo_mark_silent" | wc -l)" -ge 5 ]; }
left=$((24 - $(ms_since "$bo_t0") / 1000))
[ "$left" -gt 0 ] && wait_until "$left" bo_done
# backoff_ok SERVICE MARK OFFSET_MS: the first 5 gaps after MARK, minus OFFSET (the timeout a
# silent server costs), are the back-off delays: the i-th (from 0) is 2^i s +-20%
# (state_backoff_delay()), up to EARLY_MS short (fakedns logging the earlier query late) and
# up to LATE_MS long (timers on a loaded machine). Checked step by step: ratios of 1.2-3.2
# between steps left only ~130 ms for lateness when two steps of opposite jitter met.
# A fixed delay (second step ~1 s) or slower growth (x1.5: third step <= 2.7 s) still fails.
backoff_ok() {
        local g gs
        g=$(qtimes "$1" "$2" | head -n 6 | gaps)
        diag "$1: gaps between tries: $g ms"
        read -ra gs <<<"$g"
        EARLY_MS=$EARLY_MS LATE_MS=$LATE_MS python3 - "$3" "${gs[@]}" <<'EOF'
import os, sys
early, late = int(os.environ['EARLY_MS']), int(os.environ['LATE_MS'])
off, g = int(sys.argv[1]), [int(x) - int(sys.argv[1]) for x in sys.argv[2:]]
ratios = [b / a for a, b in zip(g, g[1:])]
print('# back-off delays', g, 'ratios', ['%.2f' % r for r in ratios])
sys.exit(0 if len(g) >= 4 and all(800 * 2**i - early <= d <= 1200 * 2**i + late for i, d in enumerate(g)) else 1)
EOF
}
backoff_ok bo-servfail "$bo_mark_servfail" 0
ok $? "back-off: SERVFAIL retries start at ~1 s and roughly double"
backoff_ok bo-silent "$bo_mark_silent" "$TIMEOUT_MS"
ok $? "back-off: timeouts retry at ~1 s, then roughly doubling (after the $TIMEOUT_MS ms timeout)"
is "$(dd_get bo-servfail '[state(d), total(d)]') $(dd_get bo-silent '[state(d), total(d)]')" '["stale", 1] ["stale", 1]' \
        "back-off: both services still publish their set, state stale"

dd_stop TERM
is "$DD_RC" 0 "dnsdiscd exits 0 on SIGTERM"

# ---------------------------------------------------------------- a silent server, nothing else going on
# Above, other services' answers keep the daemon busy; alone, only its timer can end a query.
{
        dd_conf_header "$PORT" query-timeout=${TIMEOUT_MS}ms query-tries=1
        printf '[service lone]\nsrv = _http._tcp.lone.f.test\n'
} >"$CONF"
dd_start "$CONF" && dd_wait_ready 5 && same_set lone
ok $? "lone: a daemon with one service starts and publishes it"
fault_after_query lone silent
l_mark=$FAULT_MARK
t0=$(now_ns)
# next refresh within 0.9 s (TTL 1 s), then the query timeout
bound=$((900 + TIMEOUT_MS + 500))
ms=$(dd_wait 5 "$t0" lone 'state(d) == "stale"')
[ -n "$ms" ] && [ "$ms" -le "$bound" ] && [ "$(dd_get lone 'err(d)')" = timeout ]
ok $? "lone: an unanswered query times out after query-timeout: stale ${ms:-never} ms after the server went silent (bound $bound ms)"
two_tries() { [ "$(qtimes lone "$l_mark" | wc -l)" -ge 2 ]; }
wait_until 4 two_tries
g=$(qtimes lone "$l_mark" | head -n 2 | gaps)
diag "lone: the retry came ${g:-never} ms after the first unanswered query (timeout $TIMEOUT_MS ms + back-off 0.8-1.2 s)"
[ -n "$g" ] && [ "$g" -ge $((TIMEOUT_MS + 800 - EARLY_MS)) ] && [ "$g" -le $((TIMEOUT_MS + 1200 + LATE_MS)) ]
ok $? "lone: retried once the timeout and the first back-off delay passed"
# Between timed-out queries nothing is pending: the loop must sleep, not spin on a timer
# left in the past (it did once: 100 % of a core until the next query).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$DD_PID/stat"; }
c1=$(cpu_ticks)
sleep 2
c2=$(cpu_ticks)
diag "lone: dnsdiscd used $((c2 - c1)) clock ticks in 2 s of back-off"
[ $((c2 - c1)) -le 20 ]
ok $? "lone: while backing off from a silent server dnsdiscd uses at most 10 % of a core ($((c2 - c1)) ticks in 2 s)"
dd_stop TERM
is "$DD_RC" 0 "the one-service dnsdiscd exits 0 on SIGTERM"

# ---------------------------------------------------------------- the first server's port closed
# A datagram to a closed port comes back as ICMP port unreachable: the next read of the
# socket fails with ECONNREFUSED and c-ares moves every query on to the next server at
# once. Queries leave in batches (daemon/udp-batch.c), and the error must still reach
# c-ares: otherwise each query waits out query-timeout (5 s here) before the second server.
closed=$(free_port)
{
        dd_conf_header "$PORT" servers="127.0.0.1:$closed 127.0.0.1:$PORT" query-timeout=5s query-tries=2
        for i in 1 2 3 4 5 6; do printf '[service icmp%d]\nsrv = _http._tcp.icmp.f.test\n' "$i"; done
} >"$CONF"
i_mark=$(qmark)
t0=$(now_ns)
dd_start "$CONF" && dd_wait_ready 4
rc=$?
ms=$(ms_since "$t0")
states=$(for i in 1 2 3 4 5 6; do dd_get "icmp$i" 'state(d)'; done | sort | uniq -c | awk '{ print $1, $2 }')
[ "$rc" -eq 0 ] && [ "$ms" -le 3000 ] && [ "$states" = '6 ok' ]
ok $? "closed port: the 6 services are ok through the second server ${ms} ms after start, within the 5 s query-timeout (states: $states)"
is "$(qtimes icmp "$i_mark" | wc -l)" 6 "closed port: the second server got each service's query once"
dd_stop TERM
is "$DD_RC" 0 "the closed-port dnsdiscd exits 0 on SIGTERM"

# ---------------------------------------------------------------- max-inflight
# 100 services asking a silent server: what reaches it before the first timeout is what
# max-inflight lets out at once; the rest waits in the daemon's queue.
MODE[quiet]=silent
write_control
for mi in 10 256; do
        {
                dd_conf_header "$PORT" query-timeout=3s query-tries=1
                echo "max-inflight = $mi"
                for i in $(seq 1 100); do printf '[service q%d]\nsrv = _http._tcp.quiet.f.test\n' "$i"; done
        } >"$CONF"
        w_mark=$(qmark)
        dd_start "$CONF"
        t0=$(now_ns)
        want=$((mi < 100 ? mi : 100))
        # Until as many as allowed have come (fakedns may log them late on a loaded machine), then
        # 2 s after the start, still before the first timeout: none more.
        quiet_at_least() { [ "$(qtimes quiet "$w_mark" | wc -l)" -ge "$want" ]; }
        wait_until 2 quiet_at_least
        sleep_until "$t0" 2000
        is "$(qtimes quiet "$w_mark" | wc -l)" "$want" \
                "max-inflight $mi: $want of 100 queries reach a silent server in the first 2 s (query-timeout 3 s)"
        dd_stop TERM
        is "$DD_RC" 0 "max-inflight $mi: dnsdiscd with queries pending exits 0 on SIGTERM"
done
dd_sanitizer_clean
ok $? "no sanitizer report in dnsdiscd's log"
diag "total run time $(ms_since "$t_start") ms"
done_testing
