#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-lb.sh: consistent hashing end to end: dnsdiscd builds a Maglev table from BIND's SRV records; processes, and a process after a daemon restart, map keys alike.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$top_srcdir/tests/named-lib.sh"
. "$top_srcdir/tests/dd-lib.sh"

for p in "$DNSDISCCTL" "$DNSDISCD"; do
        [ -x "$p" ] || skip_all "$p not built"
done
command -v "$NAMED" >/dev/null || skip_all "BIND 9 (named) not installed"

zone=$TESTDIR/zone
{ zone_header lb.test; zone_srv_records _http._tcp.web.lb.test 10; } >"$zone"
at_exit dd_stop KILL
at_exit stop_named
if ! start_named lb.test "$zone"; then ok 1 "named started"; done_testing; exit 1; fi

conf=$TESTDIR/dnsdisc.conf
{
        dd_conf_header "$NAMED_PORT"
        printf '[service web]\nsrv = _http._tcp.web.lb.test\nhash = maglev\nhash-table-size = 4093\n'
        printf '[service plain]\nsrv = _http._tcp.web.lb.test\n'
} >"$conf"
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
is "$?:$(cat "$TESTDIR/c.err")" "1:dnsdiscctl: pick plain --hash: the service has no hash table (hash = maglev in its configuration): service has no hash table (hash = off)" \
        "a service without a table says so"

is "$("$DNSDISCCTL" --cache "$DD_CACHE" show web | grep 'Hash:')" "       Hash: maglev, 4093 entries" "show says the service has a table, and its size"
is "$("$DNSDISCCTL" --cache "$DD_CACHE" show plain | grep 'Hash:')" "       Hash: off" "show says a service has none"
is "$("$DNSDISCCTL" --cache "$DD_CACHE" --json show web | python3 -c 'import json,sys; print(json.load(sys.stdin)["hash_table_size"])')" 4093 \
        "show --json: hash_table_size"

dd_stop
dd_start "$conf"
ok $? "dnsdiscd restarted"
dd_wait_ready 10
"$DNSDISCCTL" --cache "$DD_CACHE" pick web --hash user -n 2000 >"$TESTDIR/d" 2>&1
cmp -s "$TESTDIR/a" "$TESTDIR/d"
ok $? "after a daemon restart, a new process maps the keys alike"

done_testing
