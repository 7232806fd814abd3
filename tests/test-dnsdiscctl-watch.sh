#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-dnsdiscctl-watch.sh: dnsdiscctl watch on a terminal (driven in tmux) and in a pipe, on caches from mkcache.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_built "$DNSDISCCTL" "$MKCACHE"
command -v tmux >/dev/null || skip_all "tmux not installed"

cache=$TESTDIR/cache
publish() { "$MKCACHE" "$cache"; } # spec on stdin; adopts the file, so services not named stay

publish <<EOF
service api query=_http._tcp.api.example state=ok srv last-good-ago=2
backend 127.0.0.11 8081 priority=10 weight=2 health=up target=api-1.example ttl=300
backend 127.0.0.12 8082 priority=10 weight=1 health=down target=api-2.example ttl=300 checks=9 failures=5 fail=3 check-error=connrefused
service legacy query=legacy.example state=stale error=timeout last-good-ago=90
backend 127.0.0.21 8080 health=unknown ttl=0
service gone query=gone.example state=negative error=nxdomain panic=off
EOF
ok $? "mkcache writes the first cache"

# ---------------------------------------------------------------- tmux
# A private server (its own socket), a 120x40 pane running a plain bash with a known prompt.
sock=$TESTDIR/tmux.sock
tm() { tmux -S "$sock" "$@"; }
tm -f /dev/null new-session -d -s t -x 120 -y 40 \
        "env -u NO_COLOR TERM=xterm-256color PS1='PROMPT\$ ' HISTFILE=/dev/null bash --norc --noprofile"
ok $? "tmux starts a 120x40 session"
at_exit "tmux -S '$sock' kill-server 2>/dev/null"

pane() { tm capture-pane -p -t t; }
pane_escapes() { tm capture-pane -p -e -t t; }
pane_has() { pane | grep -qE -- "$1"; }
# The pane with wrapped lines joined: a long command line (distcheck's build paths) spans rows.
pane_joined() { tm capture-pane -p -J -t t | sed 's/ *$//'; }
# wait_pane ERE [SECONDS]: until the pane shows a line matching ERE.
wait_pane() { wait_until "${2:-5}" pane_has "$1"; }
alternate() { tm display-message -p -t t '#{alternate_on}'; }
type_line() { tm send-keys -t t "$1" Enter; }
prompt_back() { [ "$(pane | grep -v '^$' | tail -n 1)" = 'PROMPT$' ]; }
# The shell's terminal modes, as stty prints them: "icanon echo" when restored.
stty_modes() {
        tm send-keys -t t clear Enter
        wait_until 5 prompt_back
        type_line "stty -a | tr ' ' '\\n' | grep -xE -- '-?(icanon|echo)' | tr '\\n' ' '; echo END"
        wait_pane '^(-?icanon|-?echo) .*END$' || return 1
        pane | grep -E 'END$' | grep -v stty | sed 's/ *END$//'
}
# The generation shown for a service in the services view.
gen_of() { pane | awk -v s="$1" '$1 == s { print $5 }'; }

wait_until 5 prompt_back
ok $? "the pane shows the prompt"

type_line "'$DNSDISCCTL' --cache '$cache' watch"
wait_pane '^dnsdiscctl watch: 3 services, cache '
ok $? "watch draws its title: 3 services and the cache"
is "$(alternate)" 1 "watch runs on the alternate screen"
is "$(pane | grep -E '^SERVICE' | tr -s ' ')" "SERVICE STATE HEALTHY PICKED GEN LAST GOOD REFRESH ERROR FLAGS" "watch: header row"
is "$(pane | awk '$1 == "api" { print $2, $3, $4 }')" "ok 1/2 1" "watch: api is ok, 1 of 2 healthy, 1 picked"
is "$(pane | awk '$1 == "legacy" { print $2, $3, $(NF-1) }')" "stale 0/1 timeout" "watch: legacy is stale after a timeout"
is "$(pane | awk '$1 == "gone" { print $2, $3, $(NF-1) }')" "negative 0/0 nxdomain" "watch: gone is negative"
pane_has '^dnsdiscd: STOPPED \(pid [0-9]+\)'
ok $? "watch says dnsdiscd stopped (mkcache exited)"
pane_has '^q: quit'
ok $? "watch shows its keys"
pane_escapes | grep -qF $'\e[32mok'
ok $? "state ok is green on a terminal"
pane_escapes | grep -qF $'\e[35mnegative'
ok $? "state negative is magenta"

gen_before=$(gen_of api)
publish <<EOF
service api query=_http._tcp.api.example state=stale error=servfail srv last-good-ago=5 panic=on
backend 127.0.0.11 8081 priority=10 weight=2 health=down target=api-1.example ttl=300
backend 127.0.0.12 8082 priority=10 weight=1 health=down target=api-2.example ttl=300
EOF
wait_pane '^api +stale +0/2 '
ok $? "a republished service appears without a key press"
pane_has '^api .* servfail +srv,PANIC$'
ok $? "the panic marker and the new error are shown"
[ "$(gen_of api)" -gt "$gen_before" ]
ok $? "api's generation moved on ($gen_before -> $(gen_of api))"
pane_escapes | grep -qE $'\e\\[1m(\e\\[31m)?PANIC|\e\\[1;31mPANIC'
ok $? "PANIC is bold red"

publish <<<"service newcomer query=newcomer.example state=pending"
wait_pane '^dnsdiscctl watch: 4 services'
ok $? "a new service shows up"
pane_has '^newcomer +pending +0/0'
ok $? "the new service is pending"

# A live writer: running, then stopped when it exits.
"$MKCACHE" --hold "$cache" >"$TESTDIR/hold.out" <<<"service api query=_http._tcp.api.example state=ok srv" &
holder=$!
at_exit "kill $holder 2>/dev/null"
wait_pane "^dnsdiscd: running, pid $holder, up [0-9]+s, heartbeat [0-9]+s ago"
ok $? "watch says dnsdiscd is running while the writer heartbeats"
kill "$holder"
wait "$holder"
wait_pane "^dnsdiscd: STOPPED \\(pid $holder\\)"
ok $? "watch sees the writer stop"

tm send-keys -t t q
wait_until 5 prompt_back
ok $? "q quits to the shell prompt"
is "$(alternate)" 0 "the main screen is back"
type_line 'echo "status=$?"'
wait_pane '^status=0$'
ok $? "after q the exit status is 0 (and the sanitizers found nothing)"
pane_joined | grep -qE "^PROMPT\\\$ .*dnsdiscctl' --cache '.*' watch$"
ok $? "the main screen still shows the command line"
is "$(stty_modes)" "icanon echo" "the terminal is in canonical mode with echo again"

# ---------------------------------------------------------------- one service, TTL countdown
publish <<EOF
service api query=_http._tcp.api.example state=ok srv last-good-ago=1
backend 127.0.0.11 8081 priority=10 weight=2 health=up target=api-1.example ttl=50
backend 127.0.0.12 8082 priority=20 weight=1 health=up target=api-2.example ttl=50
backend 127.0.0.13 8083 priority=30 weight=1 health=unchecked target=api-3.example ttl=50
EOF
tm send-keys -t t clear Enter
type_line "'$DNSDISCCTL' --cache '$cache' watch api"
wait_pane '^ADDRESS +PORT +TARGET +PRIO +WEIGHT +TTL +PICK +HEALTH'
ok $? "watch SERVICE shows the backend table"
pane_has '^dnsdiscctl watch: service api, cache '
ok $? "watch SERVICE names the service in its title"
pane_has '^Query: _http._tcp.api.example \(SRV\)$'
ok $? "watch SERVICE shows the query"
is "$(pane | awk '$1 == "127.0.0.11" { print $2, $3, $4, $5, $7, $8 }')" "8081 api-1.example 10 2 yes up" "watch SERVICE: a backend's row"
is "$(pane | awk '$1 == "127.0.0.12" { print $4, $7 }')" "20 no" "watch SERVICE: the priority-20 backend is not picked"
is "$(pane | awk '$1 == "127.0.0.13" { print $8 }')" "unchecked" "watch SERVICE: a backend without health checks is 'unchecked', not 'up'"
ttl() { pane | awk '$1 == "127.0.0.11" { sub(/s$/, "", $6); print $6 }'; }
# The screen is redrawn every second, showing the TTL rounded up. 2.5 s between
# the captures span at least one redraw however late each comes, and the TTL can
# drop by no more than the time that really passed plus one for each rounding:
# bounds from the measured time, not fixed ones, as a loaded machine stretches it.
ttl1=$(ttl)
t1=$(date +%s%N)
sleep 2.5
ttl2=$(ttl)
passed=$(( ($(date +%s%N) - t1 + 999999999) / 1000000000 ))
[[ $ttl1 =~ ^[0-9]+$ && $ttl2 =~ ^[0-9]+$ ]] && [ "$ttl2" -le $((ttl1 - 1)) ] && [ "$ttl2" -ge $((ttl1 - passed - 2)) ]
ok $? "the TTL counts down on screen with no change in the cache ($ttl1 s, then $ttl2 s, $passed s later)"

# Ctrl-Z gives the terminal back while stopped; fg takes it again.
tm send-keys -t t C-z
wait_pane '^\[1\]\+ +Stopped'
ok $? "Ctrl-Z suspends watch"
is "$(alternate)" 0 "a suspended watch leaves the alternate screen"
is "$(stty_modes)" "icanon echo" "a suspended watch restores the terminal modes"
tm send-keys -t t clear Enter
type_line fg
wait_pane '^ADDRESS +PORT'
ok $? "fg draws the view again"
is "$(alternate)" 1 "fg returns to the alternate screen"

# Ctrl-C: the terminal is restored, and the shell sees death by SIGINT.
tm send-keys -t t C-c
wait_until 5 prompt_back
ok $? "Ctrl-C quits to the prompt"
type_line 'echo "status=$?"'
wait_pane '^status=130$'
ok $? "after Ctrl-C the exit status is 130 (SIGINT re-raised)"
is "$(alternate):$(stty_modes)" "0:icanon echo" "after Ctrl-C the terminal is restored"

# SIGTERM from elsewhere.
tm send-keys -t t clear Enter
type_line "'$DNSDISCCTL' --cache '$cache' watch"
wait_pane '^dnsdiscctl watch: '
shell=$(tm display-message -p -t t '#{pane_pid}')
watcher=$(pgrep -P "$shell" | head -n 1)
[ -n "$watcher" ] && kill -TERM "$watcher"
wait_until 5 prompt_back
ok $? "SIGTERM ends watch"
type_line 'echo "status=$?"'
wait_pane '^status=143$'
ok $? "after SIGTERM the exit status is 143"
is "$(alternate):$(stty_modes)" "0:icanon echo" "after SIGTERM the terminal is restored"

# NO_COLOR: the same screen, without any SGR sequence.
tm send-keys -t t clear Enter
type_line "NO_COLOR=1 '$DNSDISCCTL' --cache '$cache' watch"
wait_pane '^api +ok '
ok $? "watch runs with NO_COLOR"
pane_escapes | grep -q $'\e\\['
ok $((!$?)) "NO_COLOR: no escape sequence on screen"
tm send-keys -t t q
wait_until 5 prompt_back
ok $? "q quits the NO_COLOR watch"

# ---------------------------------------------------------------- not a terminal
"$DNSDISCCTL" --cache "$cache" watch --iterations 2 >"$TESTDIR/plain.out" 2>"$TESTDIR/plain.err" &
plain=$!
wait_until 5 grep -q '^api ' "$TESTDIR/plain.out"
ok $? "watch in a pipe prints the first block at once (flushed)"
publish <<<"service legacy query=legacy.example state=ok last-good-ago=0"
wait_until 5 test "$(grep -c '^=== ' "$TESTDIR/plain.out")" -ge 2
timeout 5 tail --pid="$plain" -f /dev/null
wait "$plain"
is "$?:$(cat "$TESTDIR/plain.err")" 0: "watch --iterations 2 exits 0 after the second block, nothing on stderr"
is "$(grep -c '^=== [0-9]{4}-[0-9]{2}-[0-9]{2}T' -E "$TESTDIR/plain.out")" 2 "two blocks, each starting with a timestamp"
is "$(grep -c $'\e' "$TESTDIR/plain.out")" 0 "no escape sequences in a pipe"
is "$(awk '/^=== / { n++ } n == 1 && $1 == "legacy" { print $2 }' "$TESTDIR/plain.out")" stale "block 1: legacy stale"
is "$(awk '/^=== / { n++ } n == 2 && $1 == "legacy" { print $2 }' "$TESTDIR/plain.out")" ok "block 2: legacy ok after the change"
grep -q '^SERVICE +STATE +BACKENDS +GEN +AGE +FLAGS$' -E "$TESTDIR/plain.out"
ok $? "blocks are list's text"
grep -q '^dnsdiscd has stopped, data is no longer refreshed$' "$TESTDIR/plain.out"
ok $? "blocks say that dnsdiscd stopped"

# `watch | head -1`: the reader leaves after one line and the cache never changes again; watch must
# notice on its next tick (POLLERR on stdout), not at the next change (never, here).
mkfifo "$TESTDIR/head.fifo"
head -n 1 <"$TESTDIR/head.fifo" >"$TESTDIR/head.out" &
head_pid=$!
"$DNSDISCCTL" --cache "$cache" watch >"$TESTDIR/head.fifo" 2>"$TESTDIR/head.err" &
watch_pid=$!
at_exit "kill $watch_pid 2>/dev/null"
wait "$head_pid"
watch_gone() { ! kill -0 "$watch_pid" 2>/dev/null; }
wait_until 10 watch_gone
ok $? "watch | head -1: watch ends by itself once head has left, the cache unchanged"
watch_gone || kill "$watch_pid"
wait "$watch_pid" 2>/dev/null
is "$?:$(cat "$TESTDIR/head.err"):$(cut -c1-4 "$TESTDIR/head.out")" "141::=== " \
        "watch | head -1: watch dies of SIGPIPE, as a pipeline's writer does, silently, after one line"

run_plain() { "$DNSDISCCTL" --cache "$cache" "$@" >"$TESTDIR/p.out" 2>"$TESTDIR/p.err"; }
run_plain watch api --iterations 1
is "$?" 0 "watch SERVICE --iterations 1 exits 0"
grep -qE '^ *Service: api$' "$TESTDIR/p.out" && grep -qE '^ADDRESS +PORT' "$TESTDIR/p.out"
ok $? "watch SERVICE in a pipe prints show's text"
TERM=dumb script -qec "'$DNSDISCCTL' --cache '$cache' watch --iterations 1" /dev/null >"$TESTDIR/dumb.out" 2>&1
grep -q '^=== ' "$TESTDIR/dumb.out" && ! grep -q $'\e\\[' "$TESTDIR/dumb.out"
ok $? "TERM=dumb on a terminal prints blocks, without escape sequences"

# No polling: a watch with nothing changing stays asleep.
"$DNSDISCCTL" --cache "$cache" watch >"$TESTDIR/idle.out" 2>&1 &
idle=$!
at_exit "kill $idle 2>/dev/null"
# From its first block on: start-up (a sanitizer runtime's above all) is not idling.
wait_until 10 test -s "$TESTDIR/idle.out"
sleep 0.5
cpu() { awk '{ print $14 + $15 }' "/proc/$idle/stat"; }
c1=$(cpu)
sleep 3
c2=$(cpu)
kill "$idle"
wait "$idle" 2>/dev/null
diag "idle watch used $((c2 - c1)) clock ticks in 3 s"
[ $((c2 - c1)) -le 10 ]
ok $? "an idle watch uses at most 0.1 s of CPU in 3 s (got $((c2 - c1)) ticks)"

# ---------------------------------------------------------------- errors
run_plain watch nosuch
is "$?:$(cat "$TESTDIR/p.err")" "1:dnsdiscctl: service nosuch: unknown service" "watch of an unknown service exits 1"
run_plain --cache "$TESTDIR/missing" watch
is "$?" 1 "watch without a cache exits 1"
for args in "watch --iterations 0" "watch --iterations x" "watch a b" "watch --json" "list --iterations 2"; do
        # shellcheck disable=SC2086
        run_plain $args
        is "$?" 2 "usage error: dnsdiscctl $args"
done

done_testing
