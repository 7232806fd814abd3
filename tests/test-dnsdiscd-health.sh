#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-dnsdiscd-health.sh: dnsdiscd's health checks against BIND and tests/checkserver: isolation and return times, failure reasons, failover, weight 0, panic, removal mid-probe.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$top_srcdir/tests/named-lib.sh"
. "$top_srcdir/tests/dd-lib.sh"

CHECKSERVER="$top_builddir/tests/checkserver"
need_built "$DNSDISCD" "$DNSDISCCTL" "$CHECKSERVER"
[ -x "$NAMED" ] || skip_all "BIND 9 (named) is not installed"
command -v python3 >/dev/null || skip_all "python3 not installed"

# The checks' settings ([daemon] defaults), and the bounds of issue 4 that follow from them:
# probes start every interval x [0.95, 1.05) (health.c), so the first probe to see a change
# starts up to 1.05 intervals after it and the FALL-th (RISE-th) one (FALL - 1) (RISE - 1)
# intervals later; a failing probe may take the timeout. 600 ms on top for the probe's round
# trip, the publish and dd-check's polling (every 50 ms, each poll a dnsdiscctl) on a loaded
# machine: the former 500 ms did not count the jitter, which left 400 ms at worst. A sanitizer
# build gets 1 s more: there each poll costs a few hundred ms while another test runs beside.
INTERVAL_MS=1000 TIMEOUT_MS=500 RISE=2 FALL=2
SLACK_MS=600
[ -n "${DD_SANITIZERS:-}" ] && SLACK_MS=1600
DOWN_BOUND_MS=$((FALL * INTERVAL_MS * 105 / 100 + TIMEOUT_MS + SLACK_MS))
UP_BOUND_MS=$((RISE * INTERVAL_MS * 105 / 100 + SLACK_MS))
# The removal test's own daemon: one long probe, abandoned when DNS drops its backend.
# The probe must still hang when DNS drops g1 (nsupdate, then a refresh within 1.8 s), under valgrind too.
GONE_INTERVAL=15s GONE_TIMEOUT_MS=9000

PORT=$(free_port) || { echo "Bail out! no free port"; exit 1; }

# ---------------------------------------------------------------- zone
# Every backend listens on PORT at its own 127.41.x.y, all in one checkserver.
#   web:   w1 w2 (priority 10, weight 10), w0 (priority 10, weight 0), wb (priority 20): check = http
#   tcp:   t1 t2: check = tcp, panic = off
#   modes: m1..m5: one failure mode each on m1..m4, m5 stays good
#   gone:  g1 (hangs from the start) and g2, TTL 2 s: g1 is removed from DNS mid-probe
declare -A ADDR=(
        [w1]=127.41.0.1 [w2]=127.41.0.2 [w0]=127.41.0.3 [wb]=127.41.0.4
        [t1]=127.41.1.1 [t2]=127.41.1.2
        [m1]=127.41.2.1 [m2]=127.41.2.2 [m3]=127.41.2.3 [m4]=127.41.2.4 [m5]=127.41.2.5
        [g1]=127.41.3.1 [g2]=127.41.3.2
)
ZONE=$TESTDIR/zone.db
{
        zone_header example.com
        echo "_http._tcp.web 30 IN SRV 10 10 $PORT w1"
        echo "_http._tcp.web 30 IN SRV 10 10 $PORT w2"
        echo "_http._tcp.web 30 IN SRV 10 0 $PORT w0"
        echo "_http._tcp.web 30 IN SRV 20 10 $PORT wb"
        echo "_db._tcp.tcp 30 IN SRV 10 10 $PORT t1"
        echo "_db._tcp.tcp 30 IN SRV 10 10 $PORT t2"
        for m in m1 m2 m3 m4 m5; do echo "_http._tcp.modes 30 IN SRV 10 10 $PORT $m"; done
        echo "_http._tcp.gone 2 IN SRV 10 10 $PORT g1"
        echo "_http._tcp.gone 2 IN SRV 10 10 $PORT g2"
        for b in "${!ADDR[@]}"; do
                ttl=30
                [ "${b#g}" != "$b" ] && ttl=2
                echo "$b $ttl IN A ${ADDR[$b]}"
        done
} >"$ZONE"
start_named example.com "$ZONE" || { echo "Bail out! named did not start"; exit 1; }

# ---------------------------------------------------------------- checkserver
CTL=$TESTDIR/checkserver.ctl
CS_OUT=$TESTDIR/checkserver.out
CS_LOG=$TESTDIR/checkserver.log
declare -A MODE=([g1]=hang)
cs_write() { # the MODE table as the control file, replaced atomically
        local b
        for b in "${!MODE[@]}"; do echo "${ADDR[$b]}:$PORT ${MODE[$b]}"; done >"$CTL.new"
        mv "$CTL.new" "$CTL"
}
# cs_mode MODE BACKEND...: switch the backends and wait until checkserver has the change in force.
cs_mode() {
        local mode=$1 b n
        shift
        for b in "$@"; do MODE[$b]=$mode; done
        n=$(grep -c '^reloaded' "$CS_OUT")
        cs_write
        wait_until 5 grep -q "^reloaded $((n + 1))\$" "$CS_OUT" || diag "checkserver did not reload $CTL"
}
cs_write
listen=()
for b in "${!ADDR[@]}"; do listen+=("${ADDR[$b]}:$PORT"); done
"$CHECKSERVER" -v -c "$CTL" "${listen[@]}" </dev/null >"$CS_OUT" 2>"$CS_LOG" &
CS_PID=$!
at_exit "kill $CS_PID 2>/dev/null; wait $CS_PID 2>/dev/null"
wait_until 5 grep -qx ready "$CS_OUT"
ok $? "checkserver listens on ${#listen[@]} loopback addresses, port $PORT"

# ---------------------------------------------------------------- helpers
# Python expressions over d, the service's JSON (see tests/dd-check.py).
_be() { echo "next((b for b in (d or {}).get('backends', []) if b['address'] == $1), {})"; }
be() { _be "'${ADDR[$1]}'"; }
sched_set() { echo "sorted(b['address'] for b in (d or {}).get('backends', []) if b['scheduled'])"; }
addrs() { local b out=(); for b in "$@"; do out+=("'${ADDR[$b]}'"); done; echo "sorted([$(IFS=,; echo "${out[*]}")])"; }
all_up() { echo "d is not None and len(d['backends']) == $2 and all(b['health'] == 'up' for b in d['backends'])"; }
# picked SERVICE N: the distinct addresses of N picks, sorted, space-separated.
picked() { "$DNSDISCCTL" --cache "$DD_CACHE" pick "$1" -n "$2" | sed 's/:[0-9]*$//' | sort -u | tr '\n' ' ' | sed 's/ $//'; }
names() { local b out=(); for b in "$@"; do out+=("${ADDR[$b]}"); done; printf '%s\n' "${out[@]}" | sort | tr '\n' ' ' | sed 's/ $//'; }
log_mark() { wc -l <"$DD_LOG"; }
log_since() { tail -n +"$(($1 + 1))" "$DD_LOG"; }
# transitions MARK BACKEND SERVICE FROM TO: lines "backend ADDR:PORT of SERVICE: FROM -> TO" since MARK.
transitions() { log_since "$1" | grep -F "backend ${ADDR[$2]}:$PORT of $3: $4 -> $5" ; }

# ---------------------------------------------------------------- daemon
CONF=$TESTDIR/dnsdisc.conf
{
        dd_conf_header "$NAMED_PORT" log-level=info
        echo "check-interval = ${INTERVAL_MS}ms"
        echo "check-timeout = ${TIMEOUT_MS}ms"
        echo "rise = $RISE"
        echo "fall = $FALL"
        printf '\n[service web]\nsrv = _http._tcp.web.example.com\ncheck = http /healthz\npanic = on\n'
        printf '\n[service tcp]\nsrv = _db._tcp.tcp.example.com\ncheck = tcp\npanic = off\n'
        printf '\n[service modes]\nsrv = _http._tcp.modes.example.com\ncheck = http /healthz\n'
        printf '\n[service plain]\nsrv = _http._tcp.web.example.com\n' # check = none, the default
} >"$CONF"
"$DNSDISCD" --check-config -c "$CONF" >/dev/null
ok $? "the configuration is valid"

t0=$(now_ns)
dd_start "$CONF"
ok $? "dnsdiscd starts"
ms=$(dd_wait 10 "$t0" web "$(all_up web 4)") &&
        ms2=$(dd_wait 5 "$t0" tcp "$(all_up tcp 2)") && ms3=$(dd_wait 5 "$t0" modes "$(all_up modes 5)")
ok $? "cold start: every backend of web, tcp and modes up (${ms:-?}, ${ms2:-?}, ${ms3:-?} ms after start)"

is "$(dd_get web "$(sched_set)")" "$(dd_get web "$(addrs w1 w2)")" \
        "web schedules its positive-weight priority-10 backends only"
is "$(picked web 40)" "$(names w1 w2)" "web: picks go to w1 and w2"
is "$(dd_get web "[$(be w1)['health'], $(be w0)['health'], $(be wb)['health']]")" '["up", "up", "up"]' \
        "web: the weight-0 and priority-20 backends are checked (and up) too"

# check = none: published as DNS gives them, and said to be unchecked, not "up" (which reads as a passed check).
dd_wait 5 "$t0" plain "d is not None and len(d['backends']) == 4" >/dev/null
is "$(dd_get plain "sorted(set(b['health'] for b in d['backends']))")" '["unchecked"]' \
        "check = none: every backend's health is 'unchecked'"
is "$(dd_get plain "$(sched_set)")" "$(dd_get web "$(addrs w1 w2)")" "check = none: the backends are picked as DNS publishes them"
is "$("$DNSDISCCTL" --cache "$DD_CACHE" show plain | awk -v a="${ADDR[w1]}" '$1 == a { print $8, $9 }')" "yes unchecked" \
        "check = none: dnsdiscctl show says 'unchecked' in the HEALTH column"
# The probe asked for the configured path with the SRV target as Host.
grep -qF "${ADDR[w1]}:$PORT: mode ok, request \"GET /healthz HTTP/1.1\", host w1.example.com:$PORT, answer 200" "$CS_LOG"
ok $? "http check: GET /healthz with Host w1.example.com:$PORT"

# ---------------------------------------------------------------- isolation and return times
mark=$(log_mark)
t0=$(now_ns)
cs_mode down t1
ms=$(dd_wait 6 "$t0" tcp "$(be t1).get('scheduled') is False")
ok $? "tcp: t1's listener down -> t1 out of the schedule"
diag "t1 out of the schedule ${ms:-?} ms after its listener closed (bound ${DOWN_BOUND_MS} ms)"
[ "${ms:-99999}" -le "$DOWN_BOUND_MS" ]
ok $? "isolated within fall x 1.05 interval + timeout + $SLACK_MS ms ($DOWN_BOUND_MS ms)"
is "$(dd_get tcp "[$(be t1)['health'], $(be t1)['check_error'], $(be t1)['consecutive_fail'] >= $FALL]")" \
        '["down", "connrefused", true]' "t1: down, connrefused, $FALL consecutive failures"
is "$(picked tcp 20)" "$(names t2)" "tcp: picks go to t2 only"
t0=$(now_ns)
cs_mode ok t1
ms=$(dd_wait 6 "$t0" tcp "$(be t1).get('scheduled') is True")
ok $? "tcp: t1's listener back -> t1 back in the schedule"
diag "t1 back in the schedule ${ms:-?} ms after its listener returned (bound ${UP_BOUND_MS} ms)"
[ "${ms:-99999}" -le "$UP_BOUND_MS" ]
ok $? "returned within rise x 1.05 interval + $SLACK_MS ms ($UP_BOUND_MS ms)"
is "$(dd_get tcp "[$(be t1)['health'], $(be t1)['consecutive_ok'] >= $RISE]")" '["up", true]' \
        "t1: up after $RISE consecutive successes"
is "$(transitions "$mark" t1 tcp up down)" \
        "dnsdiscd: backend ${ADDR[t1]}:$PORT of tcp: up -> down ($FALL failures: connection refused)" \
        "one log line for t1 going down, with the count and reason"
is "$(transitions "$mark" t1 tcp down up | wc -l)" 1 "one log line for t1 coming back"

# ---------------------------------------------------------------- failure modes
declare -A WANT_ERR=([m1]=http-status [m2]=check-timeout [m3]=protocol [m4]=protocol)
declare -A WANT_WHY=(
        [m1]='HTTP 500'
        [m2]="timeout after ${TIMEOUT_MS}ms waiting for status"
        [m3]='connection (closed|reset) before the status line'
        [m4]='status line longer than 1024 bytes'
)
mark=$(log_mark)
t0=$(now_ns)
MODE[m1]=500 MODE[m2]=hang MODE[m3]=close
cs_mode hugeheader m4
# One wait for all four: the last of them bounds every one.
ms=$(dd_wait 6 "$t0" modes "all($(_be a).get('scheduled') is False for a in $(addrs m1 m2 m3 m4))")
ok $? "modes: 500, hang, close and hugeheader each take their backend out of the schedule"
diag "the last of m1..m4 out of the schedule ${ms:-?} ms after the faults began (bound ${DOWN_BOUND_MS} ms)"
[ "${ms:-99999}" -le "$DOWN_BOUND_MS" ]
ok $? "modes: all four isolated within fall x 1.05 interval + timeout + $SLACK_MS ms ($DOWN_BOUND_MS ms)"
for m in m1 m2 m3 m4; do
        is "$(dd_get modes "[$(be $m)['health'], $(be $m)['check_error']]")" "[\"down\", \"${WANT_ERR[$m]}\"]" \
                "modes: $m (${MODE[$m]}) is down with check_error ${WANT_ERR[$m]}"
        line=$(transitions "$mark" "$m" modes up down)
        [ "$(wc -l <<<"$line")" -eq 1 ] &&
                grep -Eq "^dnsdiscd: backend ${ADDR[$m]//./\\.}:$PORT of modes: up -> down \\($FALL failures: ${WANT_WHY[$m]}\\)\$" <<<"$line"
        ok $? "modes: one transition line for $m: ${line#dnsdiscd: }"
done
# The daemon's own measure (its event loop's clock, no polling in it): at least the timeout,
# and nearer the timeout than the interval, so a probe ended by the next interval (or any
# deadline other than check-timeout) fails: timeout + 600 ms let through 1,001 ms.
us=$(dd_get modes "$(be m2)['latency_us']")
LATENCY_MAX_US=$(((TIMEOUT_MS + INTERVAL_MS) / 2 * 1000))
[ "${us:-0}" -ge $((TIMEOUT_MS * 1000)) ] && [ "${us:-0}" -lt "$LATENCY_MAX_US" ]
ok $? "modes: the hanging backend's last probe took the timeout (${us:-?} us: >= ${TIMEOUT_MS} ms, < $((LATENCY_MAX_US / 1000)) ms, the interval being ${INTERVAL_MS} ms)"
is "$(dd_get modes "$(sched_set)")" "$(dd_get modes "$(addrs m5)")" "modes: only m5 is scheduled"
is "$(dd_get modes "d['panic']")" false "modes: no panic while m5 is healthy"
mark=$(log_mark)
t0=$(now_ns)
cs_mode ok m1 m2 m3 m4
ms=$(dd_wait 6 "$t0" modes "$(all_up modes 5) and len($(sched_set)) == 5")
ok $? "modes: all five back in the schedule after ${ms:-?} ms"
n=0
for m in m1 m2 m3 m4; do n=$((n + $(transitions "$mark" "$m" modes down up | wc -l))); done
is "$n" 4 "modes: one 'down -> up' line per recovered backend"

# ---------------------------------------------------------------- priority failover, weight 0, panic on
t0=$(now_ns)
cs_mode down w1 w2
dd_wait 6 "$t0" web "$(sched_set) == $(addrs w0)" >/dev/null
ok $? "web: w1 and w2 down -> the weight-0 w0 is scheduled, as the last resort of priority 10"
is "$(picked web 20)" "$(names w0)" "web: picks go to w0, not to the priority-20 backup"
t0=$(now_ns)
cs_mode down w0
ms=$(dd_wait 6 "$t0" web "$(sched_set) == $(addrs wb)")
ok $? "web: all of priority 10 down -> priority 20 takes over (${ms:-?} ms)"
is "$(picked web 20)" "$(names wb)" "web: picks go to wb"
is "$(dd_get web "d['panic']")" false "web: failover is not panic"
t0=$(now_ns)
cs_mode down wb
ms=$(dd_wait 6 "$t0" web "d is not None and d['panic'] is True")
ok $? "web: every backend down -> panic (${ms:-?} ms)"
is "$(dd_get web "[b['health'] for b in d['backends']]")" '["down", "down", "down", "down"]' "web: all four down"
# schedule.h: in panic every backend of every priority, weight 0 counted as 1 (cycle 10+10+10+1).
is "$(picked web 62)" "$(names w0 w1 w2 wb)" "web: panic picks every backend of every priority, weight 0 included"
t0=$(now_ns)
cs_mode ok w1 w2 w0 wb
ms=$(dd_wait 6 "$t0" web "d is not None and d['panic'] is False and $(sched_set) == $(addrs w1 w2)")
ok $? "web: recovery -> traffic back on priority 10, panic over (${ms:-?} ms)"
is "$(picked web 40)" "$(names w1 w2)" "web: picks go to w1 and w2 again"

# ---------------------------------------------------------------- panic off
t0=$(now_ns)
cs_mode down t1 t2
dd_wait 6 "$t0" tcp "d is not None and d['healthy'] == 0 and d['scheduled'] == 0" >/dev/null
ok $? "tcp: both backends down, nothing scheduled"
is "$(dd_get tcp "[d['panic'], d['total']]")" '[false, 2]' "tcp: panic off, both backends still listed"
endpoints=$("$DNSDISCCTL" --cache "$DD_CACHE" pick tcp 2>"$TESTDIR/pick.err")
is "$?" 1 "tcp: dnsdiscctl pick exits 1 ($(cat "$TESTDIR/pick.err"))"
is "$endpoints" "" "tcp: and prints no endpoint"
cs_mode ok t1 t2
dd_wait 6 "$(now_ns)" tcp "$(all_up tcp 2)" >/dev/null
ok $? "tcp: both backends up again"

# ---------------------------------------------------------------- probes skipped: out of descriptors
# dnsdiscd out of file descriptors (its soft limit lowered to 0: descriptors it holds stay valid,
# none can be opened): probes get no socket and are skipped, the backends keep their health, and
# the skips are published per service. Not its lowest free descriptor: a probe's socket open while
# /proc was read made that one too high, and the next probe got a socket (an ASan run: 1 skip, 2 episodes).
skipped() { # SERVICE: its dnsdisc_health_checks_skipped_total
        "$DNSDISCCTL" --cache "$DD_CACHE" stats --prometheus 2>/dev/null |
                awk -v k="dnsdisc_health_checks_skipped_total{service=\"$1\"}" '$1 == k { print $2 + 0 }'
}
skipped_at_least() { [ "$(skipped "$1")" -ge "$2" ]; } # SERVICE N
checks_at_least() { [ "$(dd_get "$1" "sum(b['checks'] for b in d['backends'])")" -ge "$2" ]; } # SERVICE N
ran_again() { log_since "$mark" | grep -q 'Health checks run again'; }
is "$(skipped tcp)" 0 "tcp: no probe skipped while descriptors are plenty"
hard=$(prlimit -p "$DD_PID" --nofile --output HARD --noheadings | tr -d ' ')
soft=$(prlimit -p "$DD_PID" --nofile --output SOFT --noheadings | tr -d ' ')
mark=$(log_mark)
prlimit -p "$DD_PID" --nofile="0:$hard"
ok $? "dnsdiscd's open-file limit lowered to 0 (was $soft)"
# Each backend is probed once an interval: 4 skips of tcp's 2 take about 2 intervals.
wait_until 10 skipped_at_least tcp 4
ok $? "tcp: skipped probes are published (dnsdisc_health_checks_skipped_total $(skipped tcp))"
is "$(dd_get tcp "[b['health'] for b in d['backends']]")" '["up", "up"]' "tcp: the backends keep their health"
n=$("$DNSDISCCTL" --cache "$DD_CACHE" stats | awk '$1 == "tcp" { print $18 }')
[ "${n:-0}" -ge 4 ]
ok $? "dnsdiscctl stats shows tcp's skipped probes in its SKIPPED column (${n:-none})"
is "$(log_since "$mark" | grep -c 'Health checks skipped, backends keep their health')" 1 \
        "one log line for the episode, not one per probe"
prlimit -p "$DD_PID" --nofile="$soft:$hard"
ok $? "dnsdiscd's open-file limit restored to $soft"
wait_until 10 ran_again
ok $? "probes run again once descriptors are back"
# Statistics are published at most once a second: the count is read once a publish has
# carried probes that ran after the restore, and again two probes later.
checks=$(dd_get tcp "sum(b['checks'] for b in d['backends'])")
wait_until 10 checks_at_least tcp $((checks + 2))
n=$(skipped tcp)
checks=$(dd_get tcp "sum(b['checks'] for b in d['backends'])")
wait_until 10 checks_at_least tcp $((checks + 2))
is "$(skipped tcp)" "$n" "tcp: no probe skipped once descriptors are back, over two more probes"

dd_running
ok $? "dnsdiscd still running"
dd_stop
is "$DD_RC" 0 "dnsdiscd exits 0 on SIGTERM"
dd_sanitizer_clean
ok $? "no sanitizer report in dnsdiscd's log"

# ---------------------------------------------------------------- removal from DNS mid-probe
# A daemon of its own, under valgrind unless the build has ASan (whose
# report and exit status then tell the same).
GCONF=$TESTDIR/gone.conf
GCACHE=$TESTDIR/gone.cache
GLOG=$TESTDIR/gone.log
{
        dd_conf_header "$NAMED_PORT" cache="$GCACHE" log-level=info
        printf '\n[service gone]\nsrv = _http._tcp.gone.example.com\ncheck = http /healthz\n'
        printf 'check-interval = %s\ncheck-timeout = %sms\n' "$GONE_INTERVAL" "$GONE_TIMEOUT_MS"
} >"$GCONF"
bin="$top_builddir/daemon/.libs/dnsdiscd"
[ -x "$bin" ] || bin="$DNSDISCD"
vg=()
if [[ "${DD_SANITIZERS:-}" == *address* ]] || readelf -d "$bin" 2>/dev/null | grep -q libasan; then
        diag "removal mid-probe: ASan build, no valgrind"
elif command -v valgrind >/dev/null; then
        vg=(valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect
            --errors-for-leak-kinds=definite,indirect --log-file="$TESTDIR/valgrind.log")
        diag "removal mid-probe: under valgrind"
else
        diag "removal mid-probe: neither ASan nor valgrind, crash checks only"
fi
t0=$(now_ns)
"${vg[@]}" "$bin" -c "$GCONF" </dev/null 2>"$GLOG" &
GPID=$!
at_exit "kill $GPID 2>/dev/null; wait $GPID 2>/dev/null"
DD_CACHE=$GCACHE dd_wait 30 "$t0" gone "$(be g2).get('health') == 'up'" >/dev/null
ok $? "gone: g2 up"
t_probe=$(now_ns)
is "$(DD_CACHE=$GCACHE dd_get gone "[$(be g1)['health'], $(be g1)['checks']]")" '["unknown", 0]' \
        "gone: g1's first probe is still running (it hangs for up to ${GONE_TIMEOUT_MS} ms)"
ss -Htn state established "( dst ${ADDR[g1]}:$PORT )" 2>/dev/null | grep -q .
ok $? "gone: the probe's connection to g1 is open"
nsupdate_do "update delete _http._tcp.gone.example.com. SRV 10 10 $PORT g1.example.com."
ok $? "gone: g1's SRV record deleted from the zone"
ms=$(DD_CACHE=$GCACHE dd_wait 10 "$t0" gone "d is not None and $(be g1) == {} and len(d['backends']) == 1")
ok $? "gone: g1 left the cache (${ms:-?} ms after start, its TTL is 2 s)"
wait_until 2 grep -qF "${ADDR[g1]}:$PORT: mode hang, request \"GET /healthz HTTP/1.1\"" "$CS_LOG"
ok $? "gone: the abandoned probe's connection was closed"
# Past the abandoned probe's deadline: a timer left behind would fire now.
sleep_until "$t_probe" $((GONE_TIMEOUT_MS + 700))
kill -0 "$GPID" 2>/dev/null
ok $? "gone: the daemon is still running past the abandoned probe's deadline"
! grep -qF "backend ${ADDR[g1]}:$PORT of gone:" "$GLOG"
ok $? "gone: no result was delivered for the abandoned probe"
is "$(DD_CACHE=$GCACHE dd_get gone "[len(d['backends']), $(be g2)['health']]")" '[1, "up"]' "gone: g2 still listed and up"
kill -TERM "$GPID"
wait "$GPID"
rc=$?
[ -s "$TESTDIR/valgrind.log" ] && diag "$(grep -E 'ERROR SUMMARY|definitely lost|indirectly lost' "$TESTDIR/valgrind.log")"
is "$rc" 0 "gone: the daemon exits 0 (valgrind: no error, no leak; ASan: no report)"
! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$GLOG"
ok $? "gone: no sanitizer report"

done_testing
