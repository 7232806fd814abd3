#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-dnsdiscctl-ops.sh: dnsdiscctl check-config (every docs/examples config), refresh and reload against a real dnsdiscd and BIND.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$top_srcdir/tests/named-lib.sh"

need_built "$DNSDISCCTL" "$DNSDISCD" "$MKCACHE"
need_named

EXAMPLES=$top_srcdir/docs/examples
INSTANCE=$EXAMPLES/bind/instance.sh


# ---------------------------------------------------------------- check-config: the examples
# Configurations meant for tools/demo.sh have placeholders; the others are used as they are, but for
# the TSIG key file they name, which a host would have (made here, private as dnsdiscd requires).
tsig_keygen=$(command -v tsig-keygen || echo /usr/sbin/tsig-keygen)
"$tsig_keygen" -a hmac-sha256 dnsdisc-notify >"$TESTDIR/notify.key" 2>/dev/null && chmod 600 "$TESTDIR/notify.key"
# A registering host's key (bind/register.conf), made as named.conf.snippet says.
"$tsig_keygen" -a hmac-sha256 api-1 >"$TESTDIR/api-1.key" 2>/dev/null && chmod 600 "$TESTDIR/api-1.key"
n_examples=0
while IFS= read -r -d '' f; do
        rel=${f#"$top_srcdir"/}
        conf=$TESTDIR/example-$n_examples.conf
        sed -e 's|@PORT@|53|g' -e "s|@CACHE@|$TESTDIR/cache|g" \
                -e "s|^notify-key-file = .*|notify-key-file = $TESTDIR/notify.key|" \
                -e "s|^key-file = .*|key-file = $TESTDIR/api-1.key|" "$f" >"$conf"
        n_examples=$((n_examples + 1))
        capture ex "$DNSDISCCTL" check-config -c "$conf"
        is "$rc:$(err ex)" 0: "check-config accepts $rel"
        capture exd "$DNSDISCD" --check-config -c "$conf"
        count() { sed -n 's/.*configuration OK (\([0-9]*\) service.*/\1/p' "$TESTDIR/$1.out"; }
        is "$rc:$(count ex)" "0:$(count exd)" "dnsdiscd --check-config agrees on $rel ($(count exd) services)"
done < <(find "$EXAMPLES" -name '*.conf' -print0 | sort -z)
[ "$n_examples" -ge 4 ]
ok $? "found the example configurations ($n_examples)"

# ---------------------------------------------------------------- check-config: errors
conf=$TESTDIR/etc/dnsdisc.conf
mkdir -p "$TESTDIR/etc/conf.d"
printf '[daemon]\nmin-ttl = 5s\n\n[service api]\nsrv = _http._tcp.api.example.com\n' >"$conf"
capture good "$DNSDISCCTL" check-config -c "$conf"
is "$rc:$(out good)" "0:$conf: configuration OK (1 service)" "a valid file: exit 0 and a summary"
capture good2 "$DNSDISCCTL" check-config --config "$conf"
is "$rc:$(out good2)" "0:$(out good)" "--config FILE is the same as -c FILE"
capture good3 "$DNSDISCCTL" -c "$conf" check-config
is "$rc" 0 "-c FILE may come before the command"

printf '[daemon]\nmin-ttl = 5s\nbogus = 1\n' >"$TESTDIR/bad.conf"
capture bad "$DNSDISCCTL" check-config -c "$TESTDIR/bad.conf"
is "$rc:$(err bad)" "1:dnsdiscctl: $TESTDIR/bad.conf:3: unknown key 'bogus' in [daemon]" \
        "an unknown key: exit 1 and FILE:LINE: on stderr"
is "$(out bad)" "" "nothing on stdout on error"
capture badd "$DNSDISCD" --check-config -c "$TESTDIR/bad.conf"
is "$(err bad | sed 's/^dnsdiscctl: //')" "$(err badd | sed 's/^dnsdiscd: //')" "the same message as dnsdiscd's: one parser"

printf '[service web]\ncheck-interval = 2s\ncheck-timeout = 2s\nsrv = _http._tcp.web.example.com\n' >"$TESTDIR/etc/conf.d/20-web.conf"
capture dropin "$DNSDISCCTL" check-config -c "$conf"
[ "$rc" -eq 1 ] && grep -qE "^dnsdiscctl: $TESTDIR/etc/conf.d/20-web.conf:[23]: .*check-timeout" "$TESTDIR/dropin.err"
ok $? "an error in a drop-in names the drop-in and its line (got: $(err dropin))"
rm "$TESTDIR/etc/conf.d/20-web.conf"

capture missing "$DNSDISCCTL" check-config -c "$TESTDIR/nosuch.conf"
[ "$rc" -eq 1 ] && grep -q "^dnsdiscctl: $TESTDIR/nosuch.conf" "$TESTDIR/missing.err"
ok $? "a missing file: exit 1, named (got: $(err missing))"

capture cchelp "$DNSDISCCTL" check-config --help
[ "$rc" -eq 0 ] && grep -q '^Usage: dnsdiscctl \[OPTIONS\] check-config \[-c FILE\]' "$TESTDIR/cchelp.out" &&
        grep -q -- '--config=FILE' "$TESTDIR/cchelp.out" && ! grep -q -- '--cache' "$TESTDIR/cchelp.out"
ok $? "check-config --help describes -c as the configuration file"
for args in "check-config extra" "check-config --json" "list --config $conf" "check-config --prometheus"; do
        # shellcheck disable=SC2086
        capture usage "$DNSDISCCTL" $args
        is "$rc" 2 "usage error: dnsdiscctl $args"
done

# ---------------------------------------------------------------- the BIND example
named-checkzone -q services.example.com "$EXAMPLES/bind/db.services.example.com"
ok $? "the BIND example zone loads"
"$tsig_keygen" -a hmac-sha256 dnsdisc-register >"$TESTDIR/register.key" 2>/dev/null &&
        sed -e "s|/etc/bind/dnsdisc-register.key|$TESTDIR/register.key|" \
                -e "s|/etc/bind/dnsdisc-notify.key|$TESTDIR/notify.key|" \
                -e "s|/etc/bind/api-1.key|$TESTDIR/api-1.key|" "$EXAMPLES/bind/named.conf.snippet" >"$TESTDIR/named-snippet.conf" &&
        named-checkconf "$TESTDIR/named-snippet.conf"
ok $? "the BIND example named.conf snippet is valid"
# The Knot example, with keys made as its comment says.
keymgr=$(command -v keymgr || echo /usr/sbin/keymgr) knotc=$(command -v knotc || echo /usr/sbin/knotc)
{ "$keymgr" -t dnsdisc-register hmac-sha256 && "$keymgr" -t dnsdisc-notify hmac-sha256 &&
        "$keymgr" -t api-1 hmac-sha256; } >"$TESTDIR/knot-keys.conf" 2>/dev/null &&
        sed "s|/etc/knot/keys.conf|$TESTDIR/knot-keys.conf|" "$EXAMPLES/knot/knot.conf.snippet" >"$TESTDIR/knot-snippet.conf" &&
        "$knotc" -c "$TESTDIR/knot-snippet.conf" conf-check >/dev/null 2>&1
ok $? "the Knot example knot.conf snippet is valid"
capture dry bash "$INSTANCE" -n register _http._tcp.search.services.example.com search-2.services.example.com 10.0.3.12 9200
is "$rc:$(out dry | tr '\n' ';')" \
        "0:server 127.0.0.1 53;zone services.example.com;update add search-2.services.example.com. 30 IN A 10.0.3.12;update add _http._tcp.search.services.example.com. 30 IN SRV 10 10 9200 search-2.services.example.com.;send;" \
        "instance.sh -n register prints the address, then the SRV record, in one update"
capture dry6 bash "$INSTANCE" -n deregister _x._tcp.s.example.com. h.s.example.com. 2001:db8::1 80 5 0
is "$rc:$(out dry6 | tr '\n' ';')" \
        "0:server 127.0.0.1 53;zone s.example.com;update delete _x._tcp.s.example.com. IN SRV 5 0 80 h.s.example.com.;update delete h.s.example.com. IN AAAA 2001:db8::1;send;" \
        "instance.sh -n deregister deletes the SRV record, then the AAAA record"
capture dryusage bash "$INSTANCE" -n register a b c 99999
is "$rc" 2 "instance.sh rejects a bad invocation"

# ---------------------------------------------------------------- refresh, reload: no daemon
runtime_fail() { # runtime_fail NAME ERE ARGS...: exit 1, one line on stderr matching ERE
        local name=$1 re=$2; shift 2
        capture "$name" "$DNSDISCCTL" "$@"
        [ "$rc" -eq 1 ] && [ "$(wc -l <"$TESTDIR/$name.err")" -eq 1 ] && grep -qE "$re" "$TESTDIR/$name.err"
        ok $? "dnsdiscctl $* fails: $(err "$name")"
}
runtime_fail r1 "^dnsdiscctl: cache $TESTDIR/missing: no cache file: dnsdiscd is not running$" --cache "$TESTDIR/missing" reload
runtime_fail r2 "^dnsdiscctl: cache $TESTDIR/missing: no cache file" --cache "$TESTDIR/missing" refresh

"$MKCACHE" "$TESTDIR/stopped" <<<"service api"
runtime_fail r3 "^dnsdiscctl: reload: dnsdiscd is not running: it exited cleanly" --cache "$TESTDIR/stopped" reload
runtime_fail r4 "^dnsdiscctl: refresh: dnsdiscd is not running: it exited cleanly" --cache "$TESTDIR/stopped" refresh api

# A live writer that is not dnsdiscd: mkcache dies of SIGHUP, so it must not get one.
"$MKCACHE" --hold "$TESTDIR/held" >"$TESTDIR/hold.out" <<<"service api" &
holder=$!
at_exit "kill $holder 2>/dev/null"
wait_until 5 grep -q ready "$TESTDIR/hold.out"
runtime_fail r5 "^dnsdiscctl: reload: dnsdiscd \\(pid $holder\\) is not running: pid $holder is now 'mkcache', not signalling it$" \
        --cache "$TESTDIR/held" reload
kill -0 "$holder"
ok $? "the process that is not dnsdiscd got no signal"
runtime_fail r6 "^dnsdiscctl: service nosuch: unknown service$" --cache "$TESTDIR/held" refresh nosuch
kill -KILL "$holder"
wait "$holder" 2>/dev/null
runtime_fail r7 "^dnsdiscctl: reload: dnsdiscd \\(pid $holder\\) is not running: the process is gone$" --cache "$TESTDIR/held" reload

for v in refresh reload; do
        capture help "$DNSDISCCTL" "$v" --help
        [ "$rc" -eq 0 ] && grep -q "^Usage: dnsdiscctl \\[OPTIONS\\] $v" "$TESTDIR/help.out"
        ok $? "$v --help"
done
for args in "reload extra" "refresh a b" "reload --json" "refresh -n 2"; do
        # shellcheck disable=SC2086
        capture usage "$DNSDISCCTL" --cache "$TESTDIR/held" $args
        is "$rc" 2 "usage error: dnsdiscctl $args"
done

# ---------------------------------------------------------------- a real dnsdiscd
start_named example.com "$EXAMPLES/example.zone" || { diag "named did not start"; done_testing; exit 1; }
cache=$TESTDIR/cache
conf=$TESTDIR/dnsdisc.conf
sed -e "s|@PORT@|$NAMED_PORT|g" -e "s|@CACHE@|$cache|g" "$EXAMPLES/dnsdisc.conf" >"$conf"
dlog=$TESTDIR/dnsdiscd.log
"$DNSDISCD" -c "$conf" </dev/null 2>"$dlog" &
daemon=$!
at_exit "kill -CONT $daemon 2>/dev/null; kill $daemon 2>/dev/null"
ctl() { "$DNSDISCCTL" --cache "$cache" "$@"; }
state() { ctl list 2>/dev/null | awk -v s="$1" '$1 == s { print $2 }'; }
resolved() { [ "$(state api)" = ok ] && [ "$(state legacy)" = ok ]; }
wait_until 10 resolved
ok $? "dnsdiscd resolves the example services"
logged() { grep -c -- "$1" "$dlog"; }
# Polled by wait_until, so they count and read afresh each call: `wait_until 5 test "$(logged X)" ...`
# expanded once, tested the moment the signal was sent, and then waited 5 s on that stale value.
logged_more() { [ "$(logged "$1")" -gt "$2" ]; }
state_is() { [ "$(state "$1")" = "$2" ]; }

capture st ctl stats
is "$rc" 0 "stats on a live cache exits 0, without warning"
q=$(awk '$1 == "api" { print $7 }' "$TESTDIR/st.out")
r=$(awk '$1 == "api" { print $8 }' "$TESTDIR/st.out")
[ "${q:-0}" -ge 1 ] && [ "${r:-0}" -ge 1 ]
ok $? "dnsdiscd fills the per-service counters: api sent $q queries, $r resolutions"
grep -qE "^ +Daemon: running \\(pid $daemon\\)$" "$TESTDIR/st.out"
ok $? "stats says dnsdiscd is running, with its pid"

# A new instance registered with the BIND example's script; SRV TTL 30 s, so
# without a refresh dnsdiscd would see it only in about 25 s.
NSUPDATE_PORT=$NAMED_PORT ZONE=example.com bash "$INSTANCE" register _http._tcp.api.example.com api-4.example.com 127.0.0.14 8085
ok $? "instance.sh registers api-4 in the running BIND"
is "$(ndig +short SRV _http._tcp.api.example.com | grep -c 'api-4.example.com.$')" 1 "BIND serves api-4's SRV record"
srv_queries() { named_query_count _http._tcp.api.example.com SRV; }
before=$(srv_queries)
refreshes=$(logged 'Refreshing every service now')
capture refresh ctl refresh api
is "$rc:$(out refresh)$(err refresh)" 0: "refresh api exits 0, silently"
wait_until 5 logged_more 'Refreshing every service now' "$refreshes"
ok $? "dnsdiscd logs 'Refreshing every service now'"
# At once, well inside the rate limit (5 s) however slow the machine: before waiting for api-4.
ignored=$(logged 'Refresh requested again within')
capture refresh2 ctl refresh
is "$rc" 0 "a second refresh at once is sent too"
wait_until 5 logged_more 'Refresh requested again within' "$ignored"
ok $? "dnsdiscd ignores it (rate limit), as documented"
api4() { ctl show api 2>/dev/null | grep -q '^127\.0\.0\.14 '; }
wait_until 5 api4
ok $? "api-4 is published within 5 s of the refresh"
[ "$(srv_queries)" -gt "$before" ]
ok $? "the refresh queried BIND again ($before, then $(srv_queries) SRV queries)"

refreshes=$(logged 'Refreshing every service now')
runtime_fail r8 "^dnsdiscctl: service nosuch: unknown service$" --cache "$cache" refresh nosuch
sleep 0.3
is "$(logged 'Refreshing every service now')" "$refreshes" "refresh of an unknown service sends nothing"

NSUPDATE_PORT=$NAMED_PORT ZONE=example.com bash "$INSTANCE" deregister _http._tcp.api.example.com api-4.example.com 127.0.0.14 8085
ok $? "instance.sh deregisters api-4"
is "$(ndig +short SRV _http._tcp.api.example.com | grep -c api-4):$(ndig +short A api-4.example.com | wc -l)" 0:0 \
        "BIND no longer serves api-4's SRV or A record"

# reload: a new service, a removed one.
sed -e '/^\[service legacy\]/,/^min-ttl/d' "$conf" >"$conf.new" && printf '\n[service web2]\nsrv = _http._tcp.web.example.com\n' >>"$conf.new"
mv "$conf.new" "$conf"
capture cc ctl check-config -c "$conf"
is "$rc" 0 "check-config accepts the edited configuration"
reloads=$(logged 'Reloaded: ')
capture reload ctl reload
is "$rc:$(out reload)$(err reload)" 0: "reload exits 0, silently"
wait_until 5 logged_more 'Reloaded: ' "$reloads"
ok $? "dnsdiscd logs 'Reloaded:'"
wait_until 5 state_is web2 ok
ok $? "the added service is resolved"
is "$(state legacy)" "" "the removed service is gone"
capture sp ctl stats --prometheus
grep -qx 'dnsdisc_daemon_reloads_total 1' "$TESTDIR/sp.out"
ok $? "stats counts the reload"

# An invalid configuration: check-config says why; a reload keeps the running one.
printf '\n[service broken]\nsrv = _http._tcp.web.example.com\nport = 80\n' >>"$conf"
capture cc2 ctl check-config -c "$conf"
line=$(grep -n '^port = 80$' "$conf" | cut -d: -f1)
[ "$rc" -eq 1 ] && grep -q "^dnsdiscctl: $conf:$line: " "$TESTDIR/cc2.err"
ok $? "check-config points at the bad line ($conf:$line; got: $(err cc2))"
failed=$(logged 'Reload failed')
capture reload2 ctl reload
is "$rc" 0 "reload with a bad configuration still signals"
wait_until 5 logged_more 'Reload failed' "$failed"
ok $? "dnsdiscd logs that the reload failed"
grep 'Reload failed' "$dlog" | tail -n 1 | grep -qF "$(err cc2 | sed 's/^dnsdiscctl: //')"
ok $? "dnsdiscd's reason is check-config's"
kill -0 "$daemon" && [ "$(state web2)" = ok ]
ok $? "dnsdiscd keeps running with the previous configuration"

# Not permitted: an unprivileged user may read the cache, not signal root's daemon.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
        chmod 755 "$TESTDIR"
        reachable_copy ctl_any "$DNSDISCCTL"
        capture eperm setpriv --reuid=65534 --regid=65534 --clear-groups "$ctl_any" --cache "$cache" reload
        chmod 700 "$TESTDIR"
        [ "$rc" -eq 1 ] && grep -qE "^dnsdiscctl: reload: not permitted to signal dnsdiscd \\(pid $daemon\\): run as root" "$TESTDIR/eperm.err"
        ok $? "as nobody, reload fails: not permitted (got: $(err eperm))"
else
        diag "not root: skipping the EPERM check"
fi

# A hung daemon: its heartbeat goes stale (3 s), and it is not signalled.
kill -STOP "$daemon"
stale() { ctl list 2>&1 >/dev/null | grep -q 'stopped refreshing'; }
wait_until 8 stale
runtime_fail r9 "^dnsdiscctl: reload: dnsdiscd \\(pid $daemon\\) is not refreshing cache $cache: last heartbeat [0-9]+s ago$" \
        --cache "$cache" reload
kill -CONT "$daemon"

kill -TERM "$daemon"
wait "$daemon"
is "$?" 0 "dnsdiscd stops cleanly"
runtime_fail r10 "^dnsdiscctl: reload: dnsdiscd is not running: it exited cleanly and no longer refreshes cache $cache$" --cache "$cache" reload

done_testing
