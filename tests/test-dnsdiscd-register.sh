#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-dnsdiscd-register.sh: [register] against a real BIND 9 accepting TSIG-signed UPDATEs, instances behind tests/checkserver: add, withdraw on failure and on stop, two agents, wrong keys.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$top_srcdir/tests/named-lib.sh"
. "$top_srcdir/tests/dd-lib.sh"

if ! [ -x "$NAMED" ] || ! command -v dig >/dev/null; then
        skip_all "BIND 9 (named, dig) not installed"
fi
CHECKSERVER="$top_builddir/tests/checkserver"
need_built "$DNSDISCD" "$DNSDISCCTL" "$CHECKSERVER"

O=example.com
SRV=_http._tcp.api.$O
SECRET=$(head -c 32 /dev/urandom | base64)
WRONG=$(head -c 32 /dev/urandom | base64)
{
        zone_header "$O"
        # Another host's instance, registered by hand: no agent may ever remove it.
        echo "$SRV. 30 IN SRV 10 100 9999 other.$O."
        echo "other.$O. 30 IN A 127.0.3.99"
} >"$TESTDIR/zone"
# A second zone whose primary (SOA MNAME) has only an IPv6 address.
O6=v6.$O
{
        echo "\$ORIGIN $O6."
        echo "\$TTL 60"
        echo "@ IN SOA ns6.$O6. hostmaster.$O6. ( 1 3600 600 86400 10 )"
        echo "  IN NS ns6.$O6."
        echo "ns6 IN AAAA ::1"
} >"$TESTDIR/zone6"
NAMED_ALLOW_UPDATE="key reg;"
NAMED_CONF_EXTRA="key \"reg\" { algorithm hmac-sha256; secret \"$SECRET\"; };
zone \"$O6\" { type primary; file \"$TESTDIR/zone6\"; };"
start_named "$O" "$TESTDIR/zone" || { echo "Bail out! named did not start"; exit 1; }
unset NAMED_ALLOW_UPDATE NAMED_CONF_EXTRA

# ---------------------------------------------------------------- instances: checkserver
PORT=$(free_port) || { echo "Bail out! no free port"; exit 1; }
CTL=$TESTDIR/checkserver.ctl CS_OUT=$TESTDIR/checkserver.out
echo "* ok" >"$CTL"
"$CHECKSERVER" -c "$CTL" 127.0.3.1:"$PORT" 127.0.3.2:"$PORT" </dev/null >"$CS_OUT" 2>"$TESTDIR/checkserver.log" &
CS_PID=$!
at_exit "kill $CS_PID 2>/dev/null; wait $CS_PID 2>/dev/null"
wait_until 5 grep -qx ready "$CS_OUT"
ok $? "checkserver listens on 127.0.3.1 and 127.0.3.2, port $PORT"
cs_mode() { # cs_mode LINE...: the control file, and wait until checkserver has it in force
        local n
        n=$(grep -c '^reloaded' "$CS_OUT")
        printf '%s\n' "$@" >"$CTL.new" && mv "$CTL.new" "$CTL"
        wait_until 5 grep -q "^reloaded $((n + 1))\$" "$CS_OUT"
}

printf 'key "reg" {\n\talgorithm hmac-sha256;\n\tsecret "%s";\n};\n' "$SECRET" >"$TESTDIR/reg.key"
chmod 600 "$TESTDIR/reg.key"

# agent_conf N ADDRESS [extra lines]: an agent registering instance N at ADDRESS:PORT.
agent_conf() {
        local n=$1 addr=$2
        shift 2
        dd_conf_header "$NAMED_PORT" cache="$TESTDIR/cache-$n"
        cat <<EOF
[register api]
srv = $SRV
target = host$n.$O
address = $addr
port = $PORT
ttl = 2s
refresh = 2s
weight = 100
check = http /healthz
check-interval = 200ms
check-timeout = 100ms
rise = 2
fall = 2
server = 127.0.0.1:$NAMED_PORT
key-file = $TESTDIR/reg.key
EOF
        printf '%s\n' "$@"
}

declare -A APID
agent_start() { # agent_start N CONF
        "$DNSDISCD" -c "$2" </dev/null >>"$TESTDIR/agent-$1.log" 2>&1 &
        APID[$1]=$!
        at_exit "kill -KILL ${APID[$1]} 2>/dev/null"
}
BAD_EXITS=
agent_stop() { # agent_stop N SIGNAL: bounded wait; an agent stopped by TERM must exit 0
        local i rc
        kill -"$2" "${APID[$1]}" 2>/dev/null
        for ((i = 0; i < 100; i++)); do kill -0 "${APID[$1]}" 2>/dev/null || break; sleep 0.05; done
        wait "${APID[$1]}" 2>/dev/null
        rc=$?
        [ "$2" = TERM ] && [ "$rc" -ne 0 ] && BAD_EXITS+=" agent-$1:$rc"
        return 0
}
srvs() { dig @127.0.0.1 -p "$NAMED_PORT" +short +norec SRV "$SRV" | sort; }
has_srv() { srvs | grep -q " $PORT host$1.$O.\$"; }
command -v nsupdate >/dev/null || skip_all "nsupdate not installed"
a_of() { dig @127.0.0.1 -p "$NAMED_PORT" +short +norec A "host$1.$O"; }
state_of() { # state_of N FIELD: a field of registration api in agent N's state, by dnsdiscctl
        "$DNSDISCCTL" -c "$TESTDIR/cache-$1" registrations --json 2>/dev/null |
                python3 -c "import json,sys; print(json.load(sys.stdin)['registrations'][0]['$2'])" 2>/dev/null
}

# ---------------------------------------------------------------- add after rise, and a second daemon discovers it
agent_conf 1 127.0.3.1 >"$TESTDIR/agent-1.conf"
agent_start 1 "$TESTDIR/agent-1.conf"
wait_until 10 has_srv 1
ok $? "a healthy instance is registered: its SRV record is in the zone (dig)"
is "$(a_of 1)" "127.0.3.1" "its target's address record is in the zone"
srvs | grep -q " 9999 other.$O.\$"
ok $? "the other host's instance is untouched"
grep -q "registered $SRV SRV 10 100 $PORT host1.$O" "$TESTDIR/agent-1.log"
ok $? "the agent logs the registration"
is "$(state_of 1 state)" registered "dnsdiscctl registrations shows it registered"
is "$(state_of 1 health)" up "... with its check up"
"$DNSDISCCTL" -c "$TESTDIR/cache-1" registrations --json | grep -q "$SECRET"
ok $((!$?)) "the secret appears nowhere in dnsdiscctl registrations"
grep -q "$SECRET" "$TESTDIR/agent-1.log" "$TESTDIR/cache-1" "$TESTDIR/cache-1.registrations"
ok $((!$?)) "the secret appears nowhere in the log, the cache or the state file"

{
        dd_conf_header "$NAMED_PORT"
        echo "[service api]"
        echo "srv = $SRV"
} >"$TESTDIR/discover.conf"
dd_start "$TESTDIR/discover.conf" && dd_wait_ready
seen() { "$DNSDISCCTL" -c "$DD_CACHE" --json show api 2>/dev/null | grep -q "\"127.0.3.1\""; }
wait_until 10 seen
ok $? "an independent dnsdiscd discovering the service lists the registered instance"
out=$("$DNSDISCCTL" -c "$DD_CACHE" registrations 2>&1)
rc=$?
[ "$rc" -eq 1 ] && grep -q "no registrations" <<<"$out"
ok $? "dnsdiscctl registrations on a daemon without [register]: exit 1, said plainly ($out)"
"$DNSDISCCTL" -c "$TESTDIR/cache-1" registrations | grep -Eq "^api +registered +up +$SRV SRV 10 100 $PORT host1.$O"
ok $? "dnsdiscctl registrations prints a table: name, state, check, record"

# ---------------------------------------------------------------- withdraw after fall, back after rise
cs_mode "* ok" "127.0.3.1:$PORT down"
wait_until 10 bash -c "! dig @127.0.0.1 -p $NAMED_PORT +short +norec SRV $SRV | grep -q ' host1.$O.\$'"
ok $? "its listener stopped: the SRV record is withdrawn after fall checks"
srvs | grep -q " 9999 other.$O.\$"
ok $? "withdrawing deleted only its own record: the other host's instance stays"
is "$(state_of 1 health)" down "dnsdiscctl registrations shows the check down"
wait_until 10 bash -c '! "$0" -c "$1" --json show api 2>/dev/null | grep -q "\"127.0.3.1\""' "$DNSDISCCTL" "$DD_CACHE"
ok $? "... and the discovering dnsdiscd drops it from its cache (TTL 2s)"
cs_mode "* ok"
wait_until 10 has_srv 1
ok $? "its listener back: registered again after rise checks"
wait_until 10 seen
ok $? "... and back in the discovering dnsdiscd's cache"

# ---------------------------------------------------------------- refresh repairs a zone edited by hand
printf 'server 127.0.0.1 %s\nkey hmac-sha256:reg %s\nzone %s\nupdate delete %s. SRV 10 100 %s host1.%s.\nsend\n' \
        "$NAMED_PORT" "$SECRET" "$O" "$SRV" "$PORT" "$O" | nsupdate
has_srv 1
ok $((!$?)) "the record deleted by hand (nsupdate) is gone"
wait_until 10 has_srv 1
ok $? "the agent re-asserts it within refresh (2s)"

# ---------------------------------------------------------------- reload by difference
sed -i "s/^weight = .*/weight = 7/" "$TESTDIR/agent-1.conf"
kill -HUP "${APID[1]}"
wait_until 10 bash -c "dig @127.0.0.1 -p $NAMED_PORT +short +norec SRV $SRV | grep -q '^10 7 $PORT host1.$O.\$'"
ok $? "a reload with a changed weight registers the changed record"
srvs | grep -q "^10 100 $PORT host1.$O.\$"
ok $((!$?)) "... and withdrew the old one"
is "$(state_of 1 weight)" 7 "dnsdiscctl registrations shows the new weight"
# The same records with another check interval: the registration stays (no UPDATE for the
# change) and only its monitor is replaced, carrying the instance's health over.
u=$(state_of 1 updates)
w=$(grep -c "withdrawn from $SRV" "$TESTDIR/agent-1.log")
sed -i "s/^check-interval = .*/check-interval = 250ms/" "$TESTDIR/agent-1.conf"
kill -HUP "${APID[1]}"
wait_until 10 grep -q "Registrations reloaded: 1 kept (1 with new checks), 0 new or changed, 0 withdrawn or changed" \
        "$TESTDIR/agent-1.log"
ok $? "a reload changing only check-interval keeps the registration and replaces its checks"
is "$(state_of 1 health)" up "... its health carries over (up, not waiting for rise again)"
u2=$(state_of 1 updates)
[ -n "$u" ] && [ -n "$u2" ] && [ "$u2" -ge "$u" ]
ok $? "... the same registration: its UPDATE count carries on ($u before, $u2 after)"
is "$(grep -c "withdrawn from $SRV" "$TESTDIR/agent-1.log")" "$w" "... and nothing was withdrawn"
srvs | grep -q "^10 7 $PORT host1.$O.\$"
ok $? "... and the record is in the zone"

# ---------------------------------------------------------------- two agents, one killed
agent_conf 2 127.0.3.2 >"$TESTDIR/agent-2.conf"
agent_start 2 "$TESTDIR/agent-2.conf"
wait_until 10 has_srv 2
ok $? "a second agent registers a second instance of the same service"
has_srv 1
ok $? "... and the first instance stays"
agent_stop 2 KILL
sleep 0.5
has_srv 1
ok $? "the second agent killed with SIGKILL: the first instance stays"
has_srv 2
ok $? "... and the killed agent's record stays (a crash cannot withdraw; consumers' checks cover it)"

# ---------------------------------------------------------------- SIGTERM withdraws
t0=$(date +%s%N)
agent_stop 1 TERM
ms=$((($(date +%s%N) - t0) / 1000000))
has_srv 1
ok $((!$?)) "SIGTERM withdraws the instance before the daemon exits (stopped in ${ms} ms)"
has_srv 2
ok $? "... and leaves the other agent's record"
srvs | grep -q " 9999 other.$O.\$"
ok $? "... and the hand-made one"

# ---------------------------------------------------------------- deregister-on-stop = no
agent_conf 3 127.0.3.1 "deregister-on-stop = no" >"$TESTDIR/agent-3.conf"
agent_start 3 "$TESTDIR/agent-3.conf"
wait_until 10 has_srv 3
ok $? "deregister-on-stop = no: registered"
agent_stop 3 TERM
has_srv 3
ok $? "... and kept after SIGTERM"

# ---------------------------------------------------------------- wrong secret, unknown key, refused
printf 'reg:hmac-sha256:%s\n' "$WRONG" >"$TESTDIR/wrong.key"
chmod 600 "$TESTDIR/wrong.key"
agent_conf 4 127.0.3.1 >"$TESTDIR/agent-4.conf"
sed -i "s|^key-file = .*|key-file = $TESTDIR/wrong.key|" "$TESTDIR/agent-4.conf"
agent_start 4 "$TESTDIR/agent-4.conf"
wait_until 10 grep -q "add failed: BADSIG (zone example.com)" "$TESTDIR/agent-4.log"
ok $? "a wrong secret: BADSIG logged"
wait_until 10 bash -c "[ \$(grep -c 'add failed' '$TESTDIR/agent-4.log') -eq 1 ] && \"$DNSDISCCTL\" -c '$TESTDIR/cache-4' registrations --json | grep -q '\"updates\":[3-9]'"
ok $? "... once, while the agent retries with backoff"
is "$(state_of 4 state)" failing "dnsdiscctl registrations shows it failing"
has_srv 4
ok $((!$?)) "... and nothing is registered"
agent_stop 4 TERM

agent_conf 5 127.0.3.1 "key = nokey:hmac-sha256:$SECRET" >"$TESTDIR/agent-5.conf"
sed -i "/^key-file = /d" "$TESTDIR/agent-5.conf"
agent_start 5 "$TESTDIR/agent-5.conf"
wait_until 10 grep -q "add failed: BADKEY" "$TESTDIR/agent-5.log"
ok $? "a key the server does not know: BADKEY logged"
agent_stop 5 TERM

agent_conf 6 127.0.3.1 >"$TESTDIR/agent-6.conf"
sed -i "/^key-file = /d" "$TESTDIR/agent-6.conf"
agent_start 6 "$TESTDIR/agent-6.conf"
wait_until 10 grep -q "add failed: REFUSED" "$TESTDIR/agent-6.log"
ok $? "an unsigned UPDATE: REFUSED logged"
agent_stop 6 TERM

agent_conf 7 127.0.3.1 >"$TESTDIR/agent-7.conf"
DOWN=$(free_port)
sed -i "s|^server = .*|server = 127.0.0.1:$DOWN|; s|^srv = .*|srv = _http._tcp.api.$O|" "$TESTDIR/agent-7.conf"
agent_start 7 "$TESTDIR/agent-7.conf"
wait_until 10 grep -Eq "add failed: (Connection refused|no answer)" "$TESTDIR/agent-7.log"
ok $? "a server that is down: the failure logged"
dd_running
ok $? "the discovering daemon ran through all of it"
agent_stop 7 TERM

# ---------------------------------------------------------------- a zone the server does not serve
agent_conf 8 127.0.3.1 "zone = example.org" >"$TESTDIR/agent-8.conf"
agent_start 8 "$TESTDIR/agent-8.conf"
wait_until 10 grep -q "add failed: NOTAUTH (zone example.org)" "$TESTDIR/agent-8.log"
ok $? "a zone that is not there: NOTAUTH logged"
agent_stop 8 TERM

# ---------------------------------------------------------------- down from the start: a crashed run's record goes
printf 'server 127.0.0.1 %s\nkey hmac-sha256:reg %s\nzone %s\nupdate add %s. 30 IN SRV 10 100 %s host12.%s.\nsend\n' \
        "$NAMED_PORT" "$SECRET" "$O" "$SRV" "$PORT" "$O" | nsupdate
has_srv 12
ok $? "a record an earlier, crashed run left is in the zone"
# 127.0.3.3: nothing listens there.
agent_conf 12 127.0.3.3 >"$TESTDIR/agent-12.conf"
agent_start 12 "$TESTDIR/agent-12.conf"
wait_until 10 bash -c "! dig @127.0.0.1 -p $NAMED_PORT +short +norec SRV $SRV | grep -q ' host12.$O.\$'"
ok $? "an instance down from the start: its agent deletes that record after fall checks"
is "$(state_of 12 state)" withdrawn "... and shows it withdrawn"
agent_stop 12 TERM

# ---------------------------------------------------------------- a target another host holds
agent_conf 10 127.0.3.1 >"$TESTDIR/agent-10.conf"
sed -i "s|^target = .*|target = other.$O|" "$TESTDIR/agent-10.conf"
agent_start 10 "$TESTDIR/agent-10.conf"
wait_until 10 grep -q "add refused by prerequisite: other.$O holds other addresses (NXRRSET)" "$TESTDIR/agent-10.log"
ok $? "a target whose address records another host holds: the prerequisite refuses the add, logged"
is "$(dig @127.0.0.1 -p "$NAMED_PORT" +short +norec A "other.$O")" 127.0.3.99 "... its addresses are untouched"
srvs | grep -q " $PORT other.$O.\$"
ok $((!$?)) "... and no SRV record points at it"
agent_stop 10 TERM

# ---------------------------------------------------------------- no server: the zone's primary (SOA MNAME)
agent_conf 11 127.0.3.1 "deregister-on-stop = no" >"$TESTDIR/agent-11.conf"
sed -i "/^server = /d" "$TESTDIR/agent-11.conf"
agent_start 11 "$TESTDIR/agent-11.conf"
wait_until 10 bash -c "[ \"\$(\"$DNSDISCCTL\" -c '$TESTDIR/cache-11' registrations --json 2>/dev/null | python3 -c 'import json,sys; r=json.load(sys.stdin)[\"registrations\"][0]; print(r[\"server\"], r[\"server_port\"])')\" = '127.0.0.1 53' ]"
ok $? "without server, UPDATEs go to the zone's primary: ns.$O (SOA MNAME) resolved, port 53"
agent_stop 11 TERM
sed -i "s|^srv = .*|srv = _http._tcp.api.$O6|; s|^target = .*|target = host11.$O6|" "$TESTDIR/agent-11.conf"
agent_start 11 "$TESTDIR/agent-11.conf"
wait_until 10 bash -c "[ \"\$(\"$DNSDISCCTL\" -c '$TESTDIR/cache-11' registrations --json 2>/dev/null | python3 -c 'import json,sys; r=json.load(sys.stdin)[\"registrations\"][0]; print(r[\"server\"], r[\"server_port\"])')\" = '::1 53' ]"
ok $? "a primary with only an AAAA record (ns6.$O6 -> ::1): UPDATEs go to it over IPv6, port 53"
agent_stop 11 TERM

# ---------------------------------------------------------------- a zone nobody answers for: found by SOA, refused
agent_conf 9 127.0.3.1 >"$TESTDIR/agent-9.conf"
sed -i "s|^srv = .*|srv = _http._tcp.api.nowhere.example|" "$TESTDIR/agent-9.conf"
agent_start 9 "$TESTDIR/agent-9.conf"
wait_until 10 grep -q "cannot find the zone (SOA lookup): REFUSED" "$TESTDIR/agent-9.log"
ok $? "a zone the DNS servers refuse: the SOA lookup's REFUSED logged"
agent_stop 9 TERM

# ---------------------------------------------------------------- hostile answers (tests/fakedns)
ZONE=$TESTDIR/fake.zone CONTROL=$TESTDIR/fake.ctl QLOG=$TESTDIR/fake.qlog
zone_header "$O" >"$ZONE"
: >"$CONTROL"
# start_fakedns sets PORT, which stays the listeners' port here: fakedns's is FPORT.
PORT_SAVED=$PORT
fake_ok=0
start_fakedns -k "reg:hmac-sha256:$SECRET" && fake_ok=1
FPORT=$PORT PORT=$PORT_SAVED
ok $((!fake_ok)) "fakedns answers UPDATEs on 127.0.0.1:$FPORT"
# fake_case N MODE ERE DESCRIPTION: agent N against fakedns in MODE logs ERE.
fake_case() {
        local n=$1 mode=$2 re=$3
        echo "mode $mode" >"$CONTROL.new" && mv "$CONTROL.new" "$CONTROL"
        agent_conf "$n" 127.0.3.1 "zone = $O" >"$TESTDIR/agent-$n.conf"
        sed -i "s|^server = .*|server = 127.0.0.1:$FPORT|; s|^check = .*|check = none|" "$TESTDIR/agent-$n.conf"
        agent_start "$n" "$TESTDIR/agent-$n.conf"
        wait_until 10 grep -Eq "$re" "$TESTDIR/agent-$n.log"
        ok $? "$4"
        agent_stop "$n" TERM
}
# Regression: a registration with nothing registered and its zone lookup in flight kept a stopping
# daemon waiting for the lookup, then for the stop timeout.
echo "mode silent" >"$CONTROL.new" && mv "$CONTROL.new" "$CONTROL"
agent_conf 19 127.0.3.1 >"$TESTDIR/agent-19.conf"
sed -i "s|^servers = .*|servers = 127.0.0.1:$FPORT|; s|^query-timeout = .*|query-timeout = 10s|; s|^query-tries = .*|query-tries = 1|;
        s|^check = .*|check = none|" "$TESTDIR/agent-19.conf"
agent_start 19 "$TESTDIR/agent-19.conf"
wait_until 10 grep -q " udp $O SOA$\| udp _http._tcp.api.$O SOA$" "$QLOG"
ok $? "an agent looks up its zone at a server that never answers"
t0=$(date +%s%N)
agent_stop 19 TERM
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 3000 ] && ! grep -q "Stopping without every registration withdrawn" "$TESTDIR/agent-19.log"
ok $? "SIGTERM with nothing registered stops at once (${ms} ms), not after the lookup or the stop timeout"

fake_case 20 normal "registered $SRV SRV" "fakedns: a signed NOERROR answer is accepted"
fake_case 21 unsigned "add: answer rejected: unsigned answer to a signed UPDATE" "an unsigned answer is rejected"
fake_case 22 badsig "add: answer rejected: answer's TSIG does not verify" "an answer signed with another secret is rejected"
fake_case 23 wrongid "add failed: no answer \\(timeout\\)" "an answer with a wrong ID is ignored (timeout)"
fake_case 24 otheraddr "add failed: no answer \\(timeout\\)" "an answer from another address is ignored (timeout)"
fake_case 25 truncated-garbage "add(: answer rejected: malformed answer| failed: no answer)" "a cut answer is rejected"
fake_case 26 servfail "add failed: SERVFAIL \\(zone $O\\)" "SERVFAIL is logged as such"
fake_case 27 tc-always "registered $SRV SRV" "a truncated UDP answer: the UPDATE goes again over TCP and succeeds"
grep -q " tcp $O SOA$" "$QLOG"
ok $? "... fakedns saw it over TCP"
dd_running
ok $? "the discovering daemon ran through the hostile answers"

# ---------------------------------------------------------------- Knot with an ACL for the key
K=knot.example
KSRV=_http._tcp.api.$K
if ! knot_installed; then
        diag "Knot (knotd, knotc, kdig) not installed: its part skipped"
else
        mkdir -p "$TESTDIR/knot"
        zone_header "$K" >"$TESTDIR/knot/knot.zone"
        KNOT_CONF_EXTRA="key:
  - id: reg
    algorithm: hmac-sha256
    secret: $SECRET
acl:
  - id: register
    key: reg
    action: update
    update-type: [SRV, A, AAAA]" KNOT_ZONE_EXTRA="    acl: register" start_knot "$K" "$TESTDIR/knot/knot.zone"
        ok $? "knotd serves $K with an update ACL for the key"
        ksrvs() { kdig @127.0.0.1 -p "$KNOT_PORT" +short +norec SRV "$KSRV" 2>/dev/null | sort; }
        khas() { ksrvs | grep -q " $PORT host$1.$K.\$"; }
        knot_conf() { # knot_conf N ADDRESS [lines]: an agent whose DNS server is Knot (the zone found by SOA)
                local n=$1 addr=$2
                shift 2
                agent_conf "$n" "$addr" "$@" >"$TESTDIR/agent-$n.conf"
                sed -i "s|^servers = .*|servers = 127.0.0.1:$KNOT_PORT|; s|^server = .*|server = 127.0.0.1:$KNOT_PORT|;
                        s|^srv = .*|srv = $KSRV|; s|^target = .*|target = host$n.$K|" "$TESTDIR/agent-$n.conf"
        }
        knot_agent() { knot_conf "$@" && agent_start "$1" "$TESTDIR/agent-$1.conf"; }
        knot_agent 30 127.0.3.1
        knot_agent 31 127.0.3.2
        wait_until 10 khas 30
        ok $? "Knot: the first agent's instance is in the zone (kdig)"
        wait_until 10 khas 31
        ok $? "Knot: the second agent's instance too"
        is "$(kdig @127.0.0.1 -p "$KNOT_PORT" +short +norec A host30.$K)" 127.0.3.1 "Knot: with its address record"
        cs_mode "* ok" "127.0.3.1:$PORT down"
        wait_until 10 bash -c "! kdig @127.0.0.1 -p $KNOT_PORT +short +norec SRV $KSRV | grep -q ' host30.$K.\$'"
        ok $? "Knot: its listener stopped, the first instance is withdrawn"
        khas 31
        ok $? "Knot: ... and the second stays"
        cs_mode "* ok"
        wait_until 10 khas 30
        ok $? "Knot: back after rise"
        agent_stop 31 KILL
        agent_stop 30 TERM
        khas 30
        ok $((!$?)) "Knot: SIGTERM withdrew the first instance"
        khas 31
        ok $? "Knot: the second agent, killed with SIGKILL, left its record"
        knot_conf 32 127.0.3.1 "key = reg:hmac-sha256:$WRONG"
        sed -i "/^key-file = /d" "$TESTDIR/agent-32.conf"
        agent_start 32 "$TESTDIR/agent-32.conf"
        wait_until 10 grep -Eq "add failed: (BADSIG|NOTAUTH)" "$TESTDIR/agent-32.log"
        ok $? "Knot: a wrong secret is logged ($(grep -Eo 'add failed: [A-Z]+' "$TESTDIR/agent-32.log" | head -1))"
        agent_stop 32 TERM
fi

# ---------------------------------------------------------------- the key file and check-config
chmod 644 "$TESTDIR/reg.key"
out=$("$DNSDISCD" -c "$TESTDIR/agent-1.conf" --check-config 2>&1)
rc=$?
ok $((rc == 0 ? 1 : 0)) "check-config refuses a key file other users can read"
grep -q "agent-1.conf:[0-9]*: key-file $TESTDIR/reg.key is readable or writable by other users" <<<"$out"
ok $? "... naming file and line: $out"
chmod 600 "$TESTDIR/reg.key"
out=$("$DNSDISCD" -c "$TESTDIR/agent-1.conf" --check-config 2>&1)
ok $? "check-config accepts it at mode 600"
grep -q "$SECRET" <<<"$out"
ok $((!$?)) "check-config prints no secret"

is "$BAD_EXITS" "" "every agent stopped by SIGTERM exited 0 (no crash)"
dd_stop
done_testing
