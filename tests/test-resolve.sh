#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-resolve.sh: daemon/resolve.c, resolve-retry.c and resolve-edns.c end to end against tests/fakedns: TCP
# connections that break, queries sent again after another query broke theirs, EDNS restored, and
# each failure reported as what it is (timeout, connection refused, SERVFAIL, REFUSED).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$top_srcdir/tests/dd-lib.sh"

dd_need "$FAKEDNS"
env --default-signal=PIPE true 2>/dev/null || skip_all "env has no --default-signal (coreutils < 8.31)"

ZONE=$TESTDIR/zone
CONTROL=$TESTDIR/control
QLOG=$TESTDIR/queries.log
RESETS=8                # services whose TCP answers are cut by a reset
VICTIMS=10              # services on the same server whose answers take 300 ms: often in flight

srv() { # srv NAME TTL NET: one SRV record of _http._tcp.NAME.r.test with its A target 127.NET.0.1
        echo "_http._tcp.$1.r.test. $2 IN SRV 10 10 8080 t.$1.r.test."
        echo "t.$1.r.test. $2 IN A 127.$3.0.1"
}
{
        echo "r.test. 300 IN SOA ns.r.test. host.r.test. 1 3600 600 86400 5"
        for ((i = 1; i <= RESETS; i++)); do srv "rst$i" 1 $((10 + i)); done
        srv plain 1 30
        for ((i = 1; i <= VICTIMS; i++)); do srv "v$i" 1 $((40 + i)); done
        # big: 12 records, about 1000 bytes: one UDP datagram with EDNS, TC and TCP without.
        for ((i = 1; i <= 12; i++)); do
                echo "_http._tcp.big.r.test. 1 IN SRV 10 10 8080 target-number-$i.big.r.test."
                echo "target-number-$i.big.r.test. 1 IN A 127.60.0.$i"
        done
        srv noedns 3600 61
        for m in servfail refused; do srv "rc-$m" 1 31; done
} >"$ZONE"
{
        for ((i = 1; i <= RESETS; i++)); do
                echo "mode tc-always _http._tcp.rst$i.r.test"
                echo "mode tcp-reset _http._tcp.rst$i.r.test"
        done
        for ((i = 1; i <= VICTIMS; i++)); do echo "mode slow 300 _http._tcp.v$i.r.test"; done
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
        dd_conf_header "$PORT" query-timeout=1s query-tries=1 min-ttl=1s
        for ((i = 1; i <= RESETS; i++)); do printf '[service rst%d]\nsrv = _http._tcp.rst%d.r.test\n' "$i" "$i"; done
        printf '[service plain]\nsrv = _http._tcp.plain.r.test\n'
        for ((i = 1; i <= VICTIMS; i++)); do printf '[service v%d]\nsrv = _http._tcp.v%d.r.test\n' "$i" "$i"; done
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
# c-ares 1.18 fails every query pending to a server when one TCP connection to it breaks: the
# victims, whose queries are in flight most of the time, went pending -> error and ok -> stale.
victim_errors() {
        "$DNSDISCCTL" -c "$DD_CACHE" stats --prometheus |
                awk '$1 ~ /^dnsdisc_resolution_errors_total[{]/ && $1 ~ /service="v[0-9]+"/ { n += $2 } END { print n + 0 }'
}
victim_states() { for ((i = 1; i <= VICTIMS; i++)); do dd_get "v$i" 'state(d)'; done | sort | uniq -c | awk '{ printf "%s%s %s", sep, $1, $2; sep = ", " }'; }
is "$(victim_errors) $(victim_states)" "0 $VICTIMS ok" \
        "another service's broken TCP connection fails none of the $VICTIMS services with queries in flight"
is "$(dd_get rst1 'err(d)')" network "the service whose TCP answer was cut fails on its own, as network"

# ---------------------------------------------------------------- a forged ICMP port unreachable
# c-ares fails every query pending to a server on an error of its UDP socket, and anyone on the
# host can forge the ICMP message that causes one. The victims' queries are sent again instead.
udp_port() { # the daemon's UDP socket connected to fakedns: its local port
        ss -Hunap "dst 127.0.0.1:$PORT" 2>/dev/null | awk -v pid="pid=$DD_PID," 'index($0, pid) { n = split($4, a, ":"); print a[n]; exit }'
}
forge_icmp() { # forge_icmp LOCAL_PORT: ICMP port unreachable for a datagram LOCAL_PORT -> fakedns
        python3 - "$1" "$PORT" <<'PYEOF'
import socket, struct, sys
lport, dport = int(sys.argv[1]), int(sys.argv[2])
def csum(b):
    b += b'\0' * (len(b) % 2)
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    return ~(s + (s >> 16)) & 0xffff
lo = socket.inet_aton('127.0.0.1')
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 58, 0, 0, 64, 17, 0, lo, lo)
ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
inner = ip + struct.pack('!HHHH', lport, dport, 38, 0)
icmp = struct.pack('!BBHI', 3, 3, csum(struct.pack('!BBHI', 3, 3, 0, 0) + inner), 0) + inner
socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).sendto(icmp, ('127.0.0.1', 0))
PYEOF
}
{
        for ((i = 1; i <= VICTIMS; i++)); do echo "mode slow 300 _http._tcp.v$i.r.test"; done
        echo "mode servfail _http._tcp.rc-servfail.r.test"
        echo "mode refused _http._tcp.rc-refused.r.test"
} >"$CONTROL.new" && mv "$CONTROL.new" "$CONTROL"
if python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)' 2>/dev/null; then
        sleep 1.5       # the rst services back to plain UDP answers: c-ares keeps its UDP socket
        e0=$(victim_errors)
        ports=
        # Until a forged message took queries down (counted in the log), 50 at most.
        for ((k = 0; k < 50; k++)); do
                lport=$(udp_port)
                [ -n "$lport" ] && forge_icmp "$lport"
                ports="$ports ${lport:--}"
                # Apart by more than a victim's answer takes (300 ms), so that no query meets more
                # forged errors than the resends allowed after a UDP error (4), even on a loaded machine.
                sleep 0.7
                dd_log | grep -q "another query's connection (Connection refused)" && [ "$k" -ge 9 ] && break
        done
        hits=$(dd_log | grep -c "another query's connection (Connection refused)")
        [ "$hits" -ge 1 ] && [ "$(victim_errors)" = "$e0" ]
        ok $? "forged ICMP port unreachables fail no service ($hits queries sent again, errors $e0 -> $(victim_errors))" ||
                diag "forged for local ports:$ports"
else
        _tap_n=$((_tap_n + 1))
        echo "ok $_tap_n # SKIP forging ICMP needs a raw socket (CAP_NET_RAW)"
fi
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

# ---------------------------------------------------------------- one FORMERR without OPT
# c-ares 1.18 turns EDNS off for the whole channel after one FORMERR without OPT: from then on
# every refresh of big went UDP, TC, TCP. A new channel with EDNS takes over within a second.
echo "mode formerr-noopt _http._tcp.noedns.r.test" >"$CONTROL.new" && mv "$CONTROL.new" "$CONTROL"
{
        dd_conf_header "$PORT" query-timeout=1s query-tries=2 min-ttl=1s
        printf '[service big]\nsrv = _http._tcp.big.r.test\n[service noedns]\nsrv = _http._tcp.noedns.r.test\n'
} >"$CONF"
rm -f "$DD_CACHE"
q0=$(wc -l <"$QLOG")
dd_start "$CONF" && dd_wait_ready 10
ok $? "dnsdiscd starts with a service whose server answers EDNS with FORMERR"
big_queries() { # big_queries PROTO AFTER_MS: queries for big over PROTO logged after AFTER_MS
        tail -n +"$((q0 + 1))" "$QLOG" | awk -v p="$1" -v t="$2" '$2 == p && $3 == "_http._tcp.big.r.test" && $1 > t' | wc -l
}
t_formerr=$(tail -n +"$((q0 + 1))" "$QLOG" | awk '$3 == "_http._tcp.noedns.r.test" { print $1; exit }')
[ -n "$t_formerr" ] && [ "$(dd_get noedns 'state(d)')" = ok ]
ok $? "the service on the EDNS-less server resolves (c-ares retried it without EDNS)"
settled=$((t_formerr + 2000))
refreshes_after() { [ "$(big_queries udp "$settled")" -ge 4 ]; }
wait_until 15 refreshes_after
ok $? "big refreshed 4 times more than 2 s after the FORMERR"
is "$(big_queries tcp "$settled")" 0 "by then big's answers come in one UDP datagram again: EDNS restored (TCP before: $(big_queries tcp 0))"
dd_log | grep -q 'EDNS restored on a new DNS channel (1 time)'
ok $? "the log says EDNS was restored"
dd_stop

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
