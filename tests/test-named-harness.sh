#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-named-harness.sh: self-test of named-lib.sh and docs/examples/example.zone against a real BIND 9.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$top_srcdir/tests/named-lib.sh"

need_named

zone=$top_srcdir/docs/examples/example.zone
O=example.com

# srv NAME: "prio weight port target" lines, sorted, as served now
srv() { ndig +short SRV "$1.$O" | grep -E '^[0-9]+ ' | sort -n; }
field() { awk -v f="$1" '{ print $f }' | tr '\n' ' ' | sed 's/ $//'; }

start_named "$O" "$zone"
ok $? "named serves the example zone"
[[ $NAMED_PORT =~ ^[0-9]+$ ]] && [ "$NAMED_PORT" -ge 1024 ] && named_running
ok $? "NAMED_PORT is a high port ($NAMED_PORT) and named is running"

# ---- the example zone as served
is "$(srv _http._tcp.api | field 1)" "10 10 10 20" "api: three priority-10 records and one priority-20 backup"
is "$(srv _http._tcp.api | awk '$1 == 10 { print $2 }' | sort -n | field 1)" "10 30 60" "api: priority-10 weights are 60/30/10"
is "$(srv _http._tcp.api | awk '{ print $3 }' | sort -n | field 1)" "8081 8082 8083 8084" "api: each target has its own port"

additional=$(ndig +noall +additional SRV "_http._tcp.api.$O")
is "$(echo "$additional" | awk '$4 == "A" && $1 ~ /^api/ { print $1, $5 }' | sort | tr '\n' ' ')" \
        "api-1.example.com. 127.0.0.11 api-2.example.com. 127.0.0.12 api-3.example.com. 127.0.0.13 " \
        "api: A glue in the additional section"
is "$(echo "$additional" | awk '$4 == "AAAA" { print $1 }' | sort | tr '\n' ' ')" \
        "api-1.example.com. api-2.example.com. api-backup.example.com. " \
        "api: AAAA glue in the additional section"
is "$(ndig +noall +answer SRV "_http._tcp.api.$O" | awk '{ print $2 }' | sort -u)" "30" "api: SRV TTL is 30"

web=$(ndig +noall +answer SRV "_http._tcp.web.$O")
echo "$web" | grep -q "^_http._tcp.web.$O.[[:space:]].*CNAME[[:space:]]_http._tcp.api.$O.$"
ok $? "web: CNAME to the api SRV name"
is "$(echo "$web" | awk '$4 == "SRV"' | wc -l)" "4" "web: the server follows the CNAME to the four SRV records"
is "$(ndig +short SRV "_http._tcp.down.$O")" "0 0 0 ." "down: lone SRV target ."
is "$(ndig +short A "legacy.$O") $(ndig +short AAAA "legacy.$O")" "127.0.0.21 ::1" "legacy: A and AAAA"

nx=$(ndig SRV "_http._tcp.nothing.$O")
echo "$nx" | grep -q 'status: NXDOMAIN' && echo "$nx" | grep -Eq "^$O\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+SOA.* 10$"
ok $? "unknown name: NXDOMAIN with the SOA (minimum 10) in the authority section"

# ---- dynamic updates
nsupdate_do "update add x.$O 30 IN A 127.0.0.5"
ok $? "nsupdate_do adds an A record"
is "$(ndig +short A "x.$O")" "127.0.0.5" "the added A record is served"
nsupdate_do "update add _http._tcp.api.$O 30 IN SRV 10 5 8085 x.$O."
is "$(srv _http._tcp.api | awk '$1 == 10 { print $2 }' | sort -n | field 1)" "5 10 30 60" "an SRV record added to api is served"
nsupdate_do "update delete _http._tcp.api.$O SRV 10 30 8082 api-2.$O."
is "$(srv _http._tcp.api | awk '{ print $2 }' | sort -n | field 1)" "5 10 60 100" "an SRV record deleted from api is gone"
nsupdate_do "update add x.example.org 30 IN A 127.0.0.6" 2>"$TESTDIR/nsupdate.err"
rc=$?
[ "$rc" -ne 0 ] && grep -q 'nsupdate failed' "$TESTDIR/nsupdate.err"
ok $? "nsupdate_do fails loudly on an update the server refuses"

# 45 SRV records do not fit a 1232-byte EDNS answer: truncated over UDP, whole over TCP.
zone_srv_records "_http._tcp.big.$O" 45 | sed 's/^/update add /' | nsupdate_do
ok $? "45 generated SRV records with A targets added from stdin"
ndig +notcp +ignore SRV "_http._tcp.big.$O" | grep -q 'flags:.* tc[ ;]'
ok $? "big: the UDP answer is truncated"
is "$(ndig +tcp +short SRV "_http._tcp.big.$O" | wc -l)" "45" "big: all 45 SRV records over TCP"
is "$(ndig +short A "b45.big.$O")" "127.100.0.46" "big: generated target b45 has its A record"
zone_srv_records "_http._tcp.six.$O" 2 port=9000 net=101 aaaa=1 >"$TESTDIR/six"
is "$(awk '$4 == "SRV" { print $7 } $4 != "SRV" { print $4, $5 }' "$TESTDIR/six" | tr '\n' ' ')" \
        "9001 A 127.101.0.2 AAAA ::1 9002 A 127.101.0.3 AAAA ::1 " "zone_srv_records honours port, net and aaaa"

before=$(named_query_count "legacy.$O" A)
ndig +short A "legacy.$O" >/dev/null
ndig +short A "LEGACY.$O" >/dev/null
is "$(named_query_count "legacy.$O" A)" "$((before + 2))" "named_query_count counts queries for a name"

# ---- outage and recovery
port=$NAMED_PORT
stop_named
! named_running
ok $? "stop_named stops the server"
ndig +short A "legacy.$O" >/dev/null 2>&1
is "$?" "9" "dig gets no reply while stopped"
restart_named
ok $? "restart_named brings it back"
is "$NAMED_PORT" "$port" "restarted on the same port"
is "$(ndig +short A "x.$O")" "127.0.0.5" "updates survive a restart (journal)"
is "$(ndig +tcp +short SRV "_http._tcp.big.$O" | wc -l)" "45" "generated records survive a restart"

# ---- a second instance in the same script
first_dir=$NAMED_DIR first_port=$NAMED_PORT
{ zone_header other.test 5; echo "www 30 IN A 127.0.0.99"; } >"$TESTDIR/other.zone"
start_named other.test "$TESTDIR/other.zone"
ok $? "a second named starts"
[ "$NAMED_PORT" != "$first_port" ] && [ "$NAMED_DIR" != "$first_dir" ]
ok $? "the second instance has its own port and directory"
is "$(ndig +short A www.other.test)" "127.0.0.99" "the second instance serves its zone"
is "$(dig @127.0.0.1 -p "$first_port" +time=1 +tries=1 +short A "x.$O")" "127.0.0.5" "the first instance still answers"
nsupdate_do -d "$first_dir" "update add y.$O 30 IN A 127.0.0.7"
is "$(dig @127.0.0.1 -p "$first_port" +time=1 +tries=1 +short A "y.$O")" "127.0.0.7" "nsupdate_do -d addresses the first instance"
stop_named
named_running "$first_dir"
ok $? "stopping the second leaves the first running"

done_testing
