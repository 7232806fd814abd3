#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-lb.sh: load-balancing policies end to end (dnsdiscd, BIND, real listeners): shared Maglev tables, least-request against a slow backend.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$top_srcdir/tests/named-lib.sh"
. "$top_srcdir/tests/dd-lib.sh"

LB_LOAD=$top_builddir/tests/lb-load
CHECKSERVER=$top_builddir/tests/checkserver
need_built "$DNSDISCCTL" "$DNSDISCD" "$LB_LOAD" "$CHECKSERVER"
command -v "$NAMED" >/dev/null || skip_all "BIND 9 (named) not installed"

# Three listeners of lb-load on 127.0.0.1, one SRV record each, equal weights.
ports=()
for i in 1 2 3; do
        p=$(free_port) || { ok 1 "a free port"; done_testing; exit 1; }
        while [[ " ${ports[*]} " == *" $p "* ]]; do p=$(free_port); done
        ports+=("$p")
done
# Ten health-checked backends for hashing, 127.42.0.1..10 on one port, served by one checkserver.
CPORT=$(free_port) || { ok 1 "a free port"; done_testing; exit 1; }
zone=$TESTDIR/zone
{
        zone_header lb.test
        for i in $(seq 1 10); do
                echo "_cache._tcp.lb.test. 30 IN SRV 10 10 $CPORT c$i.lb.test."
                echo "c$i.lb.test. 30 IN A 127.42.0.$i"
        done
        zone_srv_records _http._tcp.web.lb.test 10
        for i in 1 2 3; do
                echo "_app._tcp.lb.test. 30 IN SRV 10 10 ${ports[$((i - 1))]} app$i.lb.test."
                echo "app$i.lb.test. 30 IN A 127.0.0.1"
        done
} >"$zone"
at_exit dd_stop KILL
at_exit stop_named
if ! start_named lb.test "$zone"; then ok 1 "named started"; done_testing; exit 1; fi

conf=$TESTDIR/dnsdisc.conf
{
        dd_conf_header "$NAMED_PORT"
        printf '[service web]\nsrv = _http._tcp.web.lb.test\nhash = maglev\nhash-table-size = 4093\n'
        printf '[service plain]\nsrv = _http._tcp.web.lb.test\n'
        printf '[service app]\nsrv = _app._tcp.lb.test\n'
        printf '[service cache]\nsrv = _cache._tcp.lb.test\nhash = maglev\ncheck = tcp\n'
        printf 'check-interval = 200ms\ncheck-timeout = 100ms\nrise = 1\nfall = 1\n'
} >"$conf"

CTL=$TESTDIR/checkserver.ctl
CS_OUT=$TESTDIR/checkserver.out
: >"$CTL"
listen=()
for i in $(seq 1 10); do listen+=("127.42.0.$i:$CPORT"); done
"$CHECKSERVER" -c "$CTL" "${listen[@]}" </dev/null >"$CS_OUT" 2>"$TESTDIR/checkserver.log" &
CS_PID=$!
at_exit "kill $CS_PID 2>/dev/null; wait $CS_PID 2>/dev/null"
wait_until 5 grep -qx ready "$CS_OUT"
ok $? "checkserver listens on 10 loopback addresses"
# cs_set LINE: the control file says LINE (or nothing), and checkserver has loaded it.
cs_set() {
        local n
        n=$(grep -c '^reloaded' "$CS_OUT")
        echo "$1" >"$CTL.new" && mv "$CTL.new" "$CTL"
        wait_until 5 grep -q "^reloaded $((n + 1))\$" "$CS_OUT"
}
dd_start "$conf"
ok $? "dnsdiscd started"
dd_wait_ready 10
ok $? "dnsdiscd resolved its services"

"$DNSDISCCTL" --cache "$DD_CACHE" pick web --hash user -n 2000 >"$TESTDIR/a" 2>&1
ok $? "pick --hash -n 2000"
"$DNSDISCCTL" --cache "$DD_CACHE" pick web --hash user -n 2000 >"$TESTDIR/b" 2>&1
cmp -s "$TESTDIR/a" "$TESTDIR/b"
ok $? "a second process maps 2000 keys alike"
is "$(sort -u "$TESTDIR/a" | wc -l)" 10 "the keys reach all 10 backends"
is "$(head -n 1 "$TESTDIR/a")" "$("$DNSDISCCTL" --cache "$DD_CACHE" pick web --hash user)" "-n 1 is the first key"

"$DNSDISCCTL" --cache "$DD_CACHE" pick plain --hash user >"$TESTDIR/c.out" 2>"$TESTDIR/c.err"
is "$?:$(cat "$TESTDIR/c.err")" "1:dnsdiscctl: pick plain --hash: service has no hash table (hash = off)" \
        "a service without a table says so"

is "$("$DNSDISCCTL" --cache "$DD_CACHE" show web | grep 'Hash:')" "       Hash: maglev, 4093 entries" "show says the service has a table, and its size"
is "$("$DNSDISCCTL" --cache "$DD_CACHE" show plain | grep 'Hash:')" "       Hash: off" "show says a service has none"
is "$("$DNSDISCCTL" --cache "$DD_CACHE" --json show web | python3 -c 'import json,sys; print(json.load(sys.stdin)["hash_table_size"])')" 4093 \
        "show --json: hash_table_size"

# ---------------------------------------------------------------- a failed health check
# 10 equal backends, M = 65537: the failed backend's keys move, Maglev moves about 0.25 % of the
# others' with them (at most 1 %), and when it is back every key is where it was.
t0=$(now_ns)
dd_wait 10 "$t0" cache "d is not None and len(d['backends']) == 10 and all(b['health'] == 'up' for b in d['backends'])" \
        >/dev/null
ok $? "the 10 hashed backends are up"
# stable_picks EXPR FILE: the keys' backends while EXPR held before and after the picks (a loaded
# machine can fail another backend's check in between: such a read is taken again).
stable_picks() {
        local i
        for i in 1 2 3 4 5; do
                dd_wait 10 "$(now_ns)" cache "$1" >/dev/null || continue
                "$DNSDISCCTL" --cache "$DD_CACHE" pick cache --hash k -n 2000 >"$2"
                [ "$(dd_get cache "$1")" = true ] && return 0
        done
        return 1
}
ALL_UP="d is not None and len(d['backends']) == 10 and all(b['scheduled'] for b in d['backends'])"
ONE_OUT="d is not None and len(d['backends']) == 10 and all(b['scheduled'] == (b['address'] != '127.42.0.4') for b in d['backends'])"
stable_picks "$ALL_UP" "$TESTDIR/h.before"
cs_set "127.42.0.4:$CPORT down"
t0=$(now_ns)
dd_wait 10 "$t0" cache "any(b['address'] == '127.42.0.4' and not b['scheduled'] for b in d['backends'])" >/dev/null
ok $? "a failed health check takes 127.42.0.4 out"
stable_picks "$ONE_OUT" "$TESTDIR/h.down"
read -r own stayed others < <(paste "$TESTDIR/h.before" "$TESTDIR/h.down" | awk -v dead="127.42.0.4:$CPORT" '
        $1 == dead { own++; if ($2 != dead) moved++ } $1 != dead && $1 != $2 { others++ }
        END { print own + 0, own - moved, others + 0 }')
diag "keys of 127.42.0.4: $own, still there: $stayed; keys of the others moved: $others of $((2000 - own))"
[ "$own" -gt 100 ] && [ "$stayed" -eq 0 ]
ok $? "every key of the failed backend moved ($own)"
[ $((others * 100)) -le $((2000 - own)) ]
ok $? "at most 1 % of the other keys moved ($others)"
cs_set ""
t0=$(now_ns)
dd_wait 10 "$t0" cache "all(b['scheduled'] for b in d['backends'])" >/dev/null
stable_picks "$ALL_UP" "$TESTDIR/h.back"
cmp -s "$TESTDIR/h.before" "$TESTDIR/h.back"
ok $? "when it is back, every key is where it was"

# ---------------------------------------------------------------- least-request
# The third backend answers in 400 ms, the others in 5 ms; 16 clients keep requests in flight.
# A loaded machine stretches the fast requests (thread start, scheduling) more than the slow one,
# so what the test relies on is the ratio the clients measured: at least 20.
# load POLICY: "FAST1 FAST2 SLOW RATIO" (request counts of 900, slow/fast mean request time).
load() {
        "$LB_LOAD" "$DD_CACHE" app "$1" 900 16 "${ports[0]}:5" "${ports[1]}:5" "${ports[2]}:400" >"$TESTDIR/load.$1" \
                2>"$TESTDIR/load.$1.err" || { diag "$(cat "$TESTDIR/load.$1.err")"; return 1; }
        awk '{ n[NR] = $2; t[NR] = $3 } END { printf "%d %d %d %d", n[1], n[2], n[3], t[3] / ((t[1] + t[2]) / 2 + 1) }' \
                "$TESTDIR/load.$1"
}
read -r f1 f2 slow ratio <<<"$(load rr)"
diag "round robin: $f1 $f2 $slow, slow/fast time $ratio"
[ -n "$slow" ] && [ "$slow" -ge 225 ]
ok $? "round robin gives the slow backend about a third ($slow of 900)"
read -r f1 f2 slow ratio <<<"$(load least)"
diag "least-request: $f1 $f2 $slow, slow/fast time $ratio"
[ -n "$ratio" ] && [ "$ratio" -ge 20 ]
ok $? "the slow backend answered at least 20 times slower ($ratio)"
[ -n "$slow" ] && [ $((slow * 10)) -lt "$f1" ] && [ $((slow * 10)) -lt "$f2" ]
ok $? "least-request gives the slow backend under a tenth of each fast one's ($slow vs $f1, $f2)"

dd_stop
dd_start "$conf"
ok $? "dnsdiscd restarted"
dd_wait_ready 10
"$DNSDISCCTL" --cache "$DD_CACHE" pick web --hash user -n 2000 >"$TESTDIR/d" 2>&1
cmp -s "$TESTDIR/a" "$TESTDIR/d"
ok $? "after a daemon restart, a new process maps the keys alike"

done_testing
