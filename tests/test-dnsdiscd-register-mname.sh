#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-dnsdiscd-register-mname.sh: [register] without server: UPDATEs reach the zone's primary (SOA MNAME) on port 53, in a network namespace of the test's own.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$top_srcdir/tests/named-lib.sh"
. "$top_srcdir/tests/dd-lib.sh"

# Port 53 of the host belongs to the host (a resolver may hold it): BIND takes it in a namespace
# with only a loopback interface, which nothing outside can reach or see.
if [ -z "${DD_NETNS:-}" ]; then
        if ! [ -x "$NAMED" ] || ! command -v dig >/dev/null || ! command -v nsupdate >/dev/null; then
                skip_all "BIND 9 (named, dig, nsupdate) not installed"
        fi
        need_built "$DNSDISCD" "$DNSDISCCTL"
        [ "$(id -u)" = 0 ] || skip_all "creating a network namespace needs root (this runs as uid $(id -u))"
        if ! err=$(unshare -n true 2>&1); then
                skip_all "this machine cannot create a network namespace (unshare -n: $err)"
        fi
        DD_NETNS=1 unshare -n bash "$0" "$@"
        exit $?
fi

ip link set lo up || { echo "Bail out! cannot bring up lo in the new namespace"; exit 1; }
O=example.com
SRV=_http._tcp.api.$O
SECRET=$(head -c 32 /dev/urandom | base64)
zone_header "$O" >"$TESTDIR/zone"
NAMED_ALLOW_UPDATE="key reg;"
NAMED_CONF_EXTRA="key \"reg\" { algorithm hmac-sha256; secret \"$SECRET\"; };"
start_named "$O" "$TESTDIR/zone" 53 || { echo "Bail out! named did not start on 127.0.0.1:53"; exit 1; }
unset NAMED_ALLOW_UPDATE NAMED_CONF_EXTRA
ok 0 "named serves $O on 127.0.0.1:53 in the test's network namespace"

umask 077
printf 'key "reg" {\n\talgorithm hmac-sha256;\n\tsecret "%s";\n};\n' "$SECRET" >"$TESTDIR/reg.key"
{
        dd_conf_header 53 cache="$TESTDIR/cache"
        cat <<EOF
[register api]
srv = $SRV
target = host1.$O
address = 127.0.3.1
port = 8080
ttl = 2s
key-file = $TESTDIR/reg.key
EOF
} >"$TESTDIR/agent.conf"
grep -q '^server *=' "$TESTDIR/agent.conf"
ok $((!$?)) "the [register] section names no server"

"$DNSDISCD" -c "$TESTDIR/agent.conf" </dev/null >"$TESTDIR/agent.log" 2>&1 &
AGENT=$!
at_exit "kill -KILL $AGENT 2>/dev/null"
srvs() { dig @127.0.0.1 -p 53 +short +norec SRV "$SRV"; }
registered() { srvs | grep -q " 8080 host1.$O.\$"; }
wait_until 10 registered
ok $? "the UPDATE reached ns.$O (SOA MNAME, 127.0.0.1) on port 53: the SRV record is in the zone (dig)"
is "$(dig @127.0.0.1 -p 53 +short +norec A "host1.$O")" 127.0.3.1 "... and the target's address record"
server=$("$DNSDISCCTL" -c "$TESTDIR/cache" registrations --json 2>/dev/null |
        python3 -c 'import json,sys; r=json.load(sys.stdin)["registrations"][0]; print(r["server"], r["server_port"], r["state"])')
is "$server" "127.0.0.1 53 registered" "dnsdiscctl registrations: server 127.0.0.1, port 53, registered"

kill -TERM "$AGENT"
for ((i = 0; i < 100; i++)); do kill -0 "$AGENT" 2>/dev/null || break; sleep 0.05; done
wait "$AGENT"
is "$?" 0 "dnsdiscd exits 0 on SIGTERM"
registered
ok $((!$?)) "deregistered on stop through the same primary: the SRV record is gone"
grep -q "$SECRET" "$TESTDIR/agent.log"
ok $((!$?)) "the secret is not in the log"
done_testing
