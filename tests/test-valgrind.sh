#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-valgrind.sh: dnsdiscd under valgrind memcheck through resolution, health checks, DNS NOTIFY (good and bad), registration by DNS UPDATE (accepted and refused), reload, refresh and stop.
source "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
source "$top_srcdir/tests/named-lib.sh"

command -v valgrind >/dev/null || skip_all "valgrind is not installed"
case "${DD_SANITIZERS:-}" in *-fsanitize*) skip_all "sanitizer build: memcheck cannot run it";; esac

# The example zone with its backends moved to a loopback net of this run's own (127.X.Y.1N for
# 127.0.0.1N): the checked backend's listener must not meet another run's on the same machine.
NET=127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1))
sed "s/127\.0\.0\.\(1[0-9]\|2[0-9]\)\b/$NET.\1/" "$top_srcdir/docs/examples/example.zone" >"$TESTDIR/example.zone"
start_named example.com "$TESTDIR/example.zone" || { diag "named did not start"; done_testing; exit 1; }
cache="$TESTDIR/cache"
conf="$TESTDIR/dnsdisc.conf"
sed -e "s|@PORT@|$NAMED_PORT|" -e "s|@CACHE@|$cache|" "$top_srcdir/docs/examples/dnsdisc.conf" >"$conf"
# A checked service whose probes both succeed and fail, and are abandoned
# in flight when the service goes away on reload.
python3 -c 'import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("'"$NET"'.11", 8081)); s.listen(64)
end=time.time()+60
while time.time() < end:
    s.settimeout(1)
    try: c,_=s.accept(); c.close()
    except OSError: pass' &
at_exit "kill $! 2>/dev/null"
printf '\n[service checked]\nsrv = _http._tcp.api.example.com\ncheck = tcp\ncheck-interval = 1s\ncheck-timeout = 500ms\n' >>"$conf"
# A consistent-hash table built, published and reused (daemon/maglev.c, cache-writer-hash.c).
printf '\n[service hashed]\nsrv = _http._tcp.api.example.com\nhash = maglev\nhash-table-size = 4093\n' >>"$conf"
# The NOTIFY listener, with a TSIG key: signed, unsigned, malformed, TCP and a burst go through it.
NP=$(free_port)
KEY=vg-notify:hmac-sha256:$(head -c 32 /dev/urandom | base64)
sed -i "/^\[daemon\]/a notify-listen = 127.0.0.1:$NP\nnotify-key = $KEY" "$conf"
NOTIFY_SEND="$top_builddir/tests/notify-send"

# Registrations: one the server accepts (named takes updates from 127.0.0.1), one signed with a
# key it does not know (BADKEY, retried), one removed by the reload below with its check running.
cat >>"$conf" <<EOF
[register vg]
srv = _http._tcp.api.example.com
target = vg.example.com
address = $NET.12
port = 8099
server = 127.0.0.1:$NAMED_PORT
ttl = 5s
[register vgbad]
srv = _http._tcp.api.example.com
target = vgbad.example.com
port = 8098
server = 127.0.0.1:$NAMED_PORT
key = nokey:hmac-sha256:$(head -c 32 /dev/urandom | base64)
[register vgchecked]
srv = _http._tcp.api.example.com
target = vgchecked.example.com
address = $NET.11
port = 8081
check = tcp
check-interval = 1s
check-timeout = 500ms
server = 127.0.0.1:$NAMED_PORT
EOF
vg_srv() { dig @127.0.0.1 -p "$NAMED_PORT" +short +norec SRV _http._tcp.api.example.com | grep -q " $1.example.com.\$"; }

# The libtool wrapper script would be what valgrind traces: run the real binary.
bin="$top_builddir/daemon/.libs/dnsdiscd"
[ -x "$bin" ] || bin="$DNSDISCD"
vlog="$TESTDIR/valgrind.log"
valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
        --track-fds=no --log-file="$vlog" "$bin" -c "$conf" 2>"$TESTDIR/dnsdiscd.log" &
daemon=$!
at_exit "kill $daemon 2>/dev/null"

wait_until 30 sh -c "'$DNSDISCCTL' --cache '$cache' show checked --json 2>/dev/null | grep -q '\"health\": *\"up\"'"
ok $? "dnsdiscd under valgrind resolves and health-checks"
if [ -x "$NOTIFY_SEND" ]; then
        ns() { "$NOTIFY_SEND" --wait-ms 5000 "$@" 127.0.0.1 "$NP" example.com; }
        out=$(ns --key "$KEY" --serial 7; ns --serial 8; ns --key "$KEY" --truncate 20; ns --key "$KEY" --opcode 0
              ns --tcp --key "$KEY" --count 3; ns --tcp --key "$KEY" --oversize 60000; ns --key "$KEY" --count 200 --rate 2000
              ns --key "${KEY%:*}:$(head -c 32 /dev/urandom | base64)"; ns --key "vg-other:hmac-sha256:${KEY##*:}")
        [ "$(grep -c '^sent' <<<"$out")" = 9 ] && ! grep -q "answers 0" <<<"$out"
        ok $? "NOTIFYs under valgrind: signed, unsigned, wrong secret or key, malformed, other opcodes, TCP and a burst are answered"
else
        ok 1 "notify-send not built"
fi
wait_until 30 vg_srv vg && wait_until 30 vg_srv vgchecked
ok $? "registrations under valgrind: added by DNS UPDATE"
wait_until 30 grep -q "registration vgbad: add failed: BADKEY" "$TESTDIR/dnsdiscd.log"
ok $? "... and a refused one logged"
sed -i '/^\[register vgchecked\]/,$d' "$conf"
# vgbad gains a check: only its monitor is replaced (its check path changes hands).
sed -i '/^\[register vgbad\]/a check = http /vg\ncheck-interval = 300ms\ncheck-timeout = 200ms' "$conf"
sed -i '/^\[service checked\]/,/^\[register vg\]/{/^\[register vg\]/!d}' "$conf"
kill -HUP "$daemon"
wait_until 15 grep -q 'Reloaded' "$TESTDIR/dnsdiscd.log"
ok $? "reload under valgrind (a checked service removed with probes running)"
grep -q "registration vgbad: checks changed, registration kept" "$TESTDIR/dnsdiscd.log"
ok $? "... a registration whose checks changed kept, its monitor replaced"
kill -USR1 "$daemon"
sleep 2
vg_srv vgchecked
ok $((!$?)) "a registration removed by the reload was withdrawn"
kill -TERM "$daemon"
wait "$daemon"
rc=$?
vg_srv vg
ok $((!$?)) "SIGTERM under valgrind withdrew the registration"
diag "$(grep -E 'ERROR SUMMARY|definitely lost|indirectly lost' "$vlog")"
is "$rc" "0" "valgrind memcheck finds no error and no leak"
done_testing
