#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-dnsdiscd-dns.sh: dnsdiscd against a real BIND 9 whose records change during the test (nsupdate).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$top_srcdir/tests/named-lib.sh"
. "$top_srcdir/tests/dd-lib.sh"

need_named
dd_need

O=example.com
CHG_TTL=3       # TTL of the records changed during the test
NX_MIN_TTL=3    # nx's min-ttl: keeps its confirmation query 2.4-2.7 s after the first NXDOMAIN
CN_TTL=2        # the CNAME in front of alias's SRV set, whose records have TTL 300 s

# The example zone, plus names whose records change during the test and a
# set too big for one UDP answer.
ZONE=$TESTDIR/test.zone
{
        cat "$top_srcdir/docs/examples/example.zone"
        cat <<EOF
_http._tcp.chg.$O. $CHG_TTL IN SRV 10 50 9001 chg-1.$O.
_http._tcp.chg.$O. $CHG_TTL IN SRV 10 50 9002 chg-2.$O.
chg-1.$O. $CHG_TTL IN A 127.0.1.1
chg-2.$O. $CHG_TTL IN A 127.0.1.2
_http._tcp.nx.$O. 2 IN SRV 10 10 9100 chg-1.$O.
_http._tcp.alias.$O. $CN_TTL IN CNAME _http._tcp.cn1.$O.
_http._tcp.cn1.$O. 300 IN SRV 10 10 9201 cn-1.$O.
cn-1.$O. 300 IN A 127.0.2.1
_http._tcp.cn2.$O. 300 IN SRV 10 10 9202 cn-2.$O.
cn-2.$O. 300 IN A 127.0.2.2
EOF
        zone_srv_records "_http._tcp.big.$O" 45 ttl=60
} >"$ZONE"

start_named "$O" "$ZONE" || { echo "Bail out! named did not start"; exit 1; }

# axfr: the zone as the server holds it now, the reference the sets are computed from.
AXFR=$TESTDIR/axfr
axfr() { ndig +tcp +noall +answer AXFR "$O" >"$AXFR" && [ -s "$AXFR" ]; }
# expect NAME ARGS...: the set DNS defines for a service, into $TESTDIR/NAME.expected
expect() {
        local name=$1; shift
        dd_expect "$AXFR" "$@" >"$TESTDIR/$name.expected"
}
# same_set SERVICE FILE: the published set is the one in FILE (diagnostics otherwise).
same_set() {
        local got
        got=$(dd_set "$1")
        [ "$got" = "$(cat "$2")" ] && return 0
        diag "$1 published:" "$got" "expected:" "$(cat "$2")"
        return 1
}

CONF=$TESTDIR/dnsdisc.conf
services() { # the [service] sections; "gone" unless told otherwise
        cat <<EOF
[service api]
srv = _http._tcp.api.$O
[service web]
srv = _http._tcp.web.$O
[service legacy]
host = legacy.$O
port = 8080
[service down]
srv = _http._tcp.down.$O
[service api4]
srv = _http._tcp.api.$O
family = ipv4
[service api6]
srv = _http._tcp.api.$O
family = ipv6
[service legacy6]
host = legacy.$O
port = 8080
family = ipv6
[service chg]
srv = _http._tcp.chg.$O
[service nx]
srv = _http._tcp.nx.$O
min-ttl = ${NX_MIN_TTL}s
[service big]
srv = _http._tcp.big.$O
[service alias]
srv = _http._tcp.alias.$O
min-ttl = 1s
EOF
        [ "${1:-}" = without-gone ] && return 0
        printf '[service gone]\nhost = legacy.%s\nport = 9999\n' "$O"
}
{ dd_conf_header "$NAMED_PORT"; services; } >"$CONF"

t_start=$(now_ns)
dd_start "$CONF" && dd_wait_ready 10
ok $? "dnsdiscd starts and finishes its first round of every service"
diag "first round of 12 services done in $(ms_since "$t_start") ms"

# ---------------------------------------------------------------- initial publish
axfr || diag "AXFR from named failed"
expect api srv "_http._tcp.api.$O" any
grep -q ' ::1 ' "$TESTDIR/api.expected" && grep -q ' 127\.' "$TESTDIR/api.expected"
ok $? "api: the zone defines IPv4 and IPv6 backends for api (test premise)"
same_set api "$TESTDIR/api.expected" && [ "$(dd_get api 'state(d)')" = ok ]
ok $? "api: the SRV set with the zone's priorities, weights, ports, targets and A+AAAA addresses, state ok"
expect legacy host "legacy.$O" 8080 any
[ "$(wc -l <"$TESTDIR/legacy.expected")" -eq 2 ] && same_set legacy "$TESTDIR/legacy.expected" &&
        [ "$(dd_get legacy 'state(d)')" = ok ]
ok $? "legacy: host A and AAAA with the configured port 8080, state ok"
expect web srv "_http._tcp.web.$O" any
cmp -s "$TESTDIR/web.expected" "$TESTDIR/api.expected" && same_set web "$TESTDIR/web.expected" &&
        [ "$(dd_get web 'state(d)')" = ok ]
ok $? "web: the CNAME to api's SRV name resolves to api's set, state ok"
is "$(dd_get down '[state(d), total(d), err(d)]')" '["negative", 0, "unavailable"]' \
        "down: SRV target '.' is negative with no backend (last error unavailable)"

# ---------------------------------------------------------------- SRV weights by record
# api's priority-10 records weigh 60/30/10; api-1 and api-2 have an A and an AAAA record, api-3
# an A only. Each record's weight is split over its addresses: 100 picks (5 cycles of the
# schedule) give the targets (told by their ports) exactly 60/30/10, not 63/32/5.
run_pick() { "$DNSDISCCTL" --cache "$DD_CACHE" pick api -n 100 | sed 's/.*://' | sort | uniq -c | awk '{ printf "%s=%s ", $2, $1 }'; }
is "$(run_pick)" "8081=60 8082=30 8083=10 " "api: 100 picks give the SRV records 60/30/10, dual-stack targets included"

# ---------------------------------------------------------------- family
expect api4 srv "_http._tcp.api.$O" ipv4
expect api6 srv "_http._tcp.api.$O" ipv6
expect legacy6 host "legacy.$O" 8080 ipv6
! grep -q ':' "$TESTDIR/api4.expected" && same_set api4 "$TESTDIR/api4.expected"
ok $? "family = ipv4: api4 has only the IPv4 backends of api"
! grep -q ' 127\.' "$TESTDIR/api6.expected" && same_set api6 "$TESTDIR/api6.expected"
ok $? "family = ipv6: api6 has only the IPv6 backends of api (api-backup included, api-3 left out)"
same_set legacy6 "$TESTDIR/legacy6.expected"
ok $? "family = ipv6 on a host: legacy6 has only ::1"

# ---------------------------------------------------------------- 45 SRV records
expect big srv "_http._tcp.big.$O" any
[ "$(wc -l <"$TESTDIR/big.expected")" -eq 45 ] && same_set big "$TESTDIR/big.expected"
ok $? "big: all 45 SRV records arrive, each with its A record"
grep -q "query: _http._tcp.big.$O IN SRV [^ ]*T" "$NAMED_DIR/named.log"
ok $? "big: the SRV answer was fetched again over TCP after truncation"
diag "big: A queries for the 45 targets (no glue over TCP): $(grep -c "query: b[0-9]*\.big\.$O IN A " "$NAMED_DIR/named.log")"

# SRV queries for NAME from the daemon (recursion desired, unlike the test's own digs).
daemon_srv_queries() { grep -c "query: ${1//./\\.} IN SRV +" "$NAMED_DIR/named.log"; }

# ---------------------------------------------------------------- changes within TTL + 1 s
limit_ms=$(((CHG_TTL + 1) * 1000))
# change DESCRIPTION NSUPDATE-LINE...: apply, then wait for the cache to show what DNS says.
# The cache is traced from before the update (whole snapshots, each with its time), so that
# the AXFR and Python's start, which a loaded machine stretches to seconds, do not count: the
# change was visible by the end of the first snapshot that shows it.
n_change=0
change() {
        local what=$1 t_tr t0 ms tracer want
        shift
        n_change=$((n_change + 1))
        : >"$TESTDIR/chg.want.$n_change" # no set yet: the tracer matches nothing until it is written
        t_tr=$(now_ns)
        dd_trace $((CHG_TTL + 20)) "$t_tr" chg "cset(d) == lines('$TESTDIR/chg.want.$n_change')" >"$TESTDIR/chg.trace" &
        tracer=$!
        wait_until 30 test -s "$TESTDIR/chg.trace"
        t0=$(now_ns)
        nsupdate_do "$@" || { ok 1 "chg: $what (nsupdate failed)"; kill "$tracer"; wait "$tracer"; return; }
        axfr
        expect chg srv "_http._tcp.chg.$O" any
        cp "$TESTDIR/chg.expected" "$TESTDIR/chg.want.$n_change.new" && mv "$TESTDIR/chg.want.$n_change.new" "$TESTDIR/chg.want.$n_change"
        wait "$tracer"
        want=$(dd_digest "$TESTDIR/chg.expected")
        # END of the first snapshot showing the new set, counted from the update (the tracer's
        # times count from its own start, a moment earlier).
        ms=$(awk -v w="$want" -v off=$(((t0 - t_tr) / 1000000)) '$6 == w { print $2 - off; exit }' "$TESTDIR/chg.trace")
        if [ -z "$ms" ]; then
                ok 1 "chg: $what: not visible within $((CHG_TTL + 20)) s of tracing"
                return
        fi
        diag "chg: $what visible after $ms ms (TTL $CHG_TTL s)"
        [ "$ms" -le "$limit_ms" ]
        ok $? "chg: $what: visible within TTL + 1 s ($ms ms <= $limit_ms ms)"
}
expect chg srv "_http._tcp.chg.$O" any
same_set chg "$TESTDIR/chg.expected"
ok $? "chg: the initial two backends are published"
change "backend added" "update add chg-3.$O $CHG_TTL IN A 127.0.1.3" \
        "update add _http._tcp.chg.$O $CHG_TTL IN SRV 10 50 9003 chg-3.$O."
change "backend removed" "update delete _http._tcp.chg.$O SRV 10 50 9001 chg-1.$O."
change "backend reweighted" "update delete _http._tcp.chg.$O SRV 10 50 9002 chg-2.$O." \
        "update add _http._tcp.chg.$O $CHG_TTL IN SRV 10 80 9002 chg-2.$O."

# ---------------------------------------------------------------- a CNAME shorter than the SRV set it leads to
# alias is a CNAME (TTL 2 s) to an SRV set of TTL 300 s: the chain's TTL bounds the set's, so it is
# refreshed every 1.6-1.8 s, and a repointed CNAME is followed within its TTL.
expect alias srv "_http._tcp.alias.$O" any
grep -q ' 127\.0\.2\.1 ' "$TESTDIR/alias.expected" && same_set alias "$TESTDIR/alias.expected"
ok $? "alias: the CNAME's SRV set is published"
ttl=$(dd_get alias "max(b['ttl'] for b in d['backends'])")
[ "${ttl:-99}" -le "$CN_TTL" ]
ok $? "alias: its backends expire with the CNAME ($ttl s left, CNAME TTL $CN_TTL s, SRV and A 300 s)"
q0=$(daemon_srv_queries "_http._tcp.alias.$O")
t0=$(now_ns)
two_alias_refreshes() { [ $(($(daemon_srv_queries "_http._tcp.alias.$O") - q0)) -ge 2 ]; }
wait_until $((CN_TTL * 4)) two_alias_refreshes
ok $? "alias: refreshed at the CNAME's TTL: two more queries in $(ms_since "$t0") ms (the SRV TTL would give one in 240 s)"
nsupdate_do "update delete _http._tcp.alias.$O CNAME" \
        "update add _http._tcp.alias.$O $CN_TTL IN CNAME _http._tcp.cn2.$O." || diag "alias: nsupdate failed"
t0=$(now_ns)
axfr
expect alias srv "_http._tcp.alias.$O" any
grep -q ' 127\.0\.2\.2 ' "$TESTDIR/alias.expected"
ok $? "alias: after the update the CNAME leads to cn2's set (test premise)"
ms=$(dd_wait $((CN_TTL + 3)) "$t0" alias "cset(d) == lines('$TESTDIR/alias.expected')")
diag "alias: the repointed CNAME followed after ${ms:-never} ms (CNAME TTL $CN_TTL s)"
[ -n "$ms" ] && [ "$ms" -le $(((CN_TTL + 1) * 1000)) ]
ok $? "alias: a repointed CNAME is followed within its TTL + 1 s (${ms:-never} ms)"

# ---------------------------------------------------------------- generation stable across refreshes
# BIND shuffles the records of an answer: a refresh that finds the same set must not look like a change.
# Two refreshes come within 2 x 0.9 x TTL (5.4 s) plus two rounds; a fixed sleep of 2 x TTL left
# 0.6 s for those and for named's log on a loaded machine, so wait for them (up to 4 x TTL), then
# 0.5 s for the second round's answer to be published.
g0=$(dd_get chg 'gen(d)') q0=$(daemon_srv_queries "_http._tcp.chg.$O")
t0=$(now_ns)
two_refreshes() { [ $(($(daemon_srv_queries "_http._tcp.chg.$O") - q0)) -ge 2 ]; }
wait_until $((CHG_TTL * 4)) two_refreshes && sleep 0.5
g1=$(dd_get chg 'gen(d)') q1=$(daemon_srv_queries "_http._tcp.chg.$O")
diag "chg: $((q1 - q0)) refreshes in $(ms_since "$t0") ms, generation $g0 -> $g1"
[ $((q1 - q0)) -ge 2 ] && [ "$g0" = "$g1" ]
ok $? "chg: refreshes that find the same records in another order keep the generation"

# ---------------------------------------------------------------- NXDOMAIN confirmation
expect nx srv "_http._tcp.nx.$O" any
same_set nx "$TESTDIR/nx.expected"
ok $? "nx: published before its records are deleted"
n_before=$(dd_get nx 'total(d)')
# NXDOMAIN answers nx got, from the daemon's own counter (published with the state they
# set). Counting named's queries from after the update raced with a query named answered,
# already NXDOMAIN, between committing the update and nsupdate returning: counted as
# before the delete, it made the first NXDOMAIN look like none.
nxdomains() {
        "$DNSDISCCTL" --cache "$DD_CACHE" stats --prometheus |
                awk '/^dnsdisc_resolution_errors_total\{service="nx",kind="nxdomain"\}/ { n += $2 } END { print n + 0 }'
}
n0=$(nxdomains)
q0=$(daemon_srv_queries "_http._tcp.nx.$O")
nsupdate_do "update delete _http._tcp.nx.$O SRV"
t0=$(now_ns)
ndig SRV "_http._tcp.nx.$O" | grep -q 'status: NXDOMAIN'
ok $? "nx: after the delete, the name is NXDOMAIN (test premise)"
# The confirmation query comes 2.4-2.7 s (80-90% of min-ttl 3 s) after the first NXDOMAIN.
# State, backends and the NXDOMAIN count from one read of the cache (stats), polled with
# dnsdiscctl alone: read in separate calls through Python, a loaded machine read the state
# before the second NXDOMAIN and the count after it.
nx_snap() { # "STATE BACKENDS NXDOMAINS-SINCE-n0"
        "$DNSDISCCTL" --cache "$DD_CACHE" stats --prometheus | awk -v n0="$n0" '
                /^dnsdisc_service_state\{service="nx",/ && $2 == 1 { match($0, /state="[a-z]*"/); st = substr($0, RSTART + 7, RLENGTH - 8) }
                /^dnsdisc_service_backends\{service="nx",/ { b += $2 }
                /^dnsdisc_resolution_errors_total\{service="nx",kind="nxdomain"\}/ { n += $2 }
                END { print st, b + 0, n - n0 }'
}
first_nx() { snap=$(nx_snap); [ "${snap##* }" -ge 1 ]; }
wait_until $((NX_MIN_TTL + 2)) first_nx
diag "nx: first NXDOMAIN seen after $(ms_since "$t0") ms"
is "$snap" "ok $n_before 1" "nx: after the first NXDOMAIN the set is kept (state ok, all $n_before backends; one NXDOMAIN counted)"
is "$(dd_get nx 'err(d)')" nxdomain "nx: its last error is nxdomain"
ms=$(dd_wait $((NX_MIN_TTL + 2)) "$t0" nx 'state(d) == "negative"')
is "$(nx_snap) $(dd_get nx 'err(d)')" "negative 0 2 nxdomain" \
        "nx: the second NXDOMAIN in a row empties the set, state negative"
diag "nx: negative after ${ms:-?} ms, $(($(daemon_srv_queries "_http._tcp.nx.$O") - q0)) SRV queries since just before the delete"

# ---------------------------------------------------------------- outage
before=$(dd_set chg)
# Failed resolution rounds of chg, from the daemon's own counter (the log suppresses repeats).
errs() {
        "$DNSDISCCTL" --cache "$DD_CACHE" stats --prometheus |
                awk '/^dnsdisc_resolution_errors_total\{service="chg",/ { n += $2 } END { print n + 0 }'
}
e0=$(errs)
# The outage counts from before the stop: named may refuse or drop queries while it shuts down.
t_stop=$(now_ns)
stop_named
t0=$(now_ns)
ms=$(dd_wait $((CHG_TTL + 3)) "$t0" chg 'state(d) == "stale"')
ok $? "outage: chg becomes stale at its next refresh (${ms:-never} ms after named stopped)"
is "$(dd_set chg)" "$before" "outage: chg keeps its whole set while DNS is down"
diag "outage: chg's last error: $(dd_get chg 'err(d)')"
sleep 4
outage_ms=$(ms_since "$t_stop")
still=$(dd_get chg '[state(d), total(d)]')
k=$(($(errs) - e0))
# Back-off from 1 s doubling, +-20%: the k-th failure comes >= 0.8 * (2^(k-1) - 1) s after the first.
kmax=$(python3 -c "import math; print(1 + math.floor(math.log2(($outage_ms / 1000 + 0.5) / 0.8 + 1)))")
diag "outage: $k failed rounds for chg in $outage_ms ms (back-off allows at most $kmax)"
[ "$still" = "[\"stale\", $(wc -l <<<"$before")]" ] && [ "$k" -ge 1 ] && [ "$k" -le "$kmax" ]
ok $? "outage: after $outage_ms ms chg is still stale with its set, failed rounds backed off ($k <= $kmax)"

restart_named || echo "Bail out! named did not restart"
t0=$(now_ns)
ms=$(dd_wait 40 "$t0" chg 'state(d) == "ok"')
# k failed rounds in all, the last one ended at most one query's tries (500 ms, then
# 1,000 ms: c-ares doubles the timeout on its second try; 2 s allowed) after named came
# back; the next try followed within 1.2 * 2^(k-1) s of it, and 1 s more for that round
# and the polling. Counted after the fact, as a round in flight while named restarted
# may still have failed.
k=$(($(errs) - e0))
[ "$k" -ge 1 ] || k=1
bound_ms=$((12 * (1 << (k - 1)) * 100 + 2000 + 1000))
diag "recovery: chg ok ${ms:-never} ms after named came back ($k failed rounds, bound $bound_ms ms)"
[ -n "$ms" ] && [ "$ms" -le "$bound_ms" ] && [ "$(dd_set chg)" = "$before" ]
ok $? "recovery: chg returns to ok with the same set within the back-off bound"

# ---------------------------------------------------------------- daemon restart (SIGTERM)
# settle: every service back to what DNS says (the outage left some stale, or with another last error).
settle() {
        local s t0
        t0=$(now_ns)
        for s in api web legacy api4 api6 legacy6 chg big; do
                dd_wait 15 "$t0" $s 'state(d) == "ok"' >/dev/null || return 1
        done
        dd_wait 15 "$t0" down 'err(d) == "unavailable"' >/dev/null &&
                dd_wait 15 "$t0" nx 'state(d) == "negative" and err(d) == "nxdomain"' >/dev/null
}
settle
ok $? "after the outage every service is back to ok (or negative) with its last error"
# A snapshot of every service: generation, state and a digest of its set.
snapshot() { $DD_CHECK snap api web legacy down api4 api6 legacy6 chg nx big; }
snap=$(snapshot)
dd_stop TERM
is "$DD_RC" 0 "restart: dnsdiscd exits 0 on SIGTERM"
dd_start "$CONF" && dd_wait_ready 10
ok $? "restart: dnsdiscd starts again on the same cache file"
now=$(snapshot)
[ "$now" = "$snap" ]
ok $? "restart: after the first round, DNS unchanged, no generation changed"
[ "$now" = "$snap" ] || diag "before:" "$snap" "after the first round:" "$now"

# ---------------------------------------------------------------- SIGHUP without a service
[ "$(dd_get gone 'total(d)')" = 2 ]
ok $? "reload: gone is published before the reload (2 backends)"
snap=$(snapshot)
{ dd_conf_header "$NAMED_PORT"; services without-gone; } >"$CONF.new" && mv "$CONF.new" "$CONF"
kill -HUP "$DD_PID"
t0=$(now_ns)
ms=$(dd_wait 5 "$t0" gone 'd is None')
ok $? "reload: gone disappears from the cache after SIGHUP (${ms:-never} ms)"
$DNSDISCCTL --cache "$DD_CACHE" list | awk 'NR > 1 { print $1 }' | grep -qx gone
is "$?" 1 "reload: dnsdiscctl list no longer shows gone"
now=$(snapshot)
[ "$now" = "$snap" ]
ok $? "reload: the unchanged services keep their sets and generations"
[ "$now" = "$snap" ] || diag "before:" "$snap" "after:" "$now"

# ---------------------------------------------------------------- daemon killed, restarted during an outage
snap=$(dd_set api)
dd_stop KILL
stop_named
dd_start "$CONF"
is "$(dd_set api)" "$snap" "SIGKILL: after a crash the restarted daemon publishes api's set at once (named down)"
dd_wait_ready 10
is "$(dd_get api 'state(d)') $(dd_set api | md5sum)" "stale $(md5sum <<<"$snap")" \
        "SIGKILL: with DNS down the adopted set stays, state stale"

dd_stop TERM
is "$DD_RC" 0 "dnsdiscd exits 0 at the end"
dd_sanitizer_clean
ok $? "no sanitizer report in dnsdiscd's log"
diag "total run time $(ms_since "$t_start") ms"
done_testing
