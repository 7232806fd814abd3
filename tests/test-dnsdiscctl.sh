#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-dnsdiscctl.sh: dnsdiscctl's commands, formats and exit codes, and docs/examples/pick-connect, on caches from mkcache.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PICK_CONNECT="$top_builddir/docs/examples/pick-connect"
need_built "$DNSDISCCTL" "$MKCACHE" "$PICK_CONNECT"
command -v python3 >/dev/null || skip_all "python3 not installed"

# jget NAME EXPR: the Python expression over the JSON document d in NAME.out, printed as JSON.
jget() {
        python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(json.dumps(eval(sys.argv[2])))' \
                "$TESTDIR/$1.out" "$2" 2>&1
}
# row NAME FIRST-FIELD: the text table row that starts with FIRST-FIELD, blanks squeezed.
row() { awk -v k="$2" '$1 == k { $1 = $1; print }' "$TESTDIR/$1.out"; }
# between VALUE LO HI: 0 if LO <= VALUE <= HI (integers)
between() { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }
# secs DURATION: dnsdiscctl's "1h6min", "2min5s" or "3s" in seconds; empty if it is none of those.
secs() {
        [[ $1 =~ ^(([0-9]+)h)?(([0-9]+)min)?(([0-9]+)s)?$ && -n $1 ]] || return 0
        echo $(( ${BASH_REMATCH[2]:-0} * 3600 + ${BASH_REMATCH[4]:-0} * 60 + ${BASH_REMATCH[6]:-0} ))
}
# since MARK: whole seconds since the epoch second MARK, plus one for the
# fractions on both ends. Ages and TTLs are checked against this instead of a
# fixed slack, so that a loaded machine (CI runs tests two at a time) can't
# fail them: an age written as A seconds ago reads between A and A + since.
since() { echo $(( $(date +%s) - $1 + 1 )); }
# usage_fails NAME ARGS...: exit status 2 with a usage hint on stderr and nothing on stdout.
usage_fails() {
        local name=$1; shift
        capture "$name" "$DNSDISCCTL" --cache "$cache" "$@"
        [ "$rc" -eq 2 ] && grep -q "^dnsdiscctl: " "$TESTDIR/$name.err" &&
                grep -q -- "--help" "$TESTDIR/$name.err" && [ ! -s "$TESTDIR/$name.out" ]
        ok $? "usage error exits 2 with a hint: dnsdiscctl $*"
}
# runtime_fails NAME WHAT ARGS...: exit status 1 and exactly one stderr line "dnsdiscctl: WHAT: TEXT".
runtime_fails() {
        local name=$1 what=$2; shift 2
        capture "$name" "$DNSDISCCTL" "$@"
        is "$rc $(wc -l <"$TESTDIR/$name.err")" "1 1" "dnsdiscctl $* exits 1 with one line on stderr"
        grep -qE "^dnsdiscctl: $what: .+" "$TESTDIR/$name.err"
        ok $? "dnsdiscctl $* says 'dnsdiscctl: $what: <reason>' (got: $(err "$name"))"
}

cache=$TESTDIR/cache
made=$(date +%s)
"$MKCACHE" "$cache" <<EOF
service web query=_http._tcp.web.example state=ok srv last-good-ago=3
backend 192.0.2.10 8080 priority=10 weight=1 health=up target=a.web.example ttl=300 source=srv checks=12 failures=1 latency-us=850 ok=11 fail=0
backend 2001:db8::1 8081 priority=10 weight=3 health=down target=b.web.example ttl=100 source=srv checks=7 failures=4 latency-us=2500 ok=0 fail=3
service api query=api.example state=stale error=timeout last-good-ago=125 panic=off
backend 198.51.100.7 443 health=unknown source=a ttl=0
service empty query=empty.example state=negative error=nxdomain panic=off
service panicky query=panicky.example state=ok panic=on last-good-ago=4000
backend 127.0.0.1 9 health=down source=a ttl=60
service weighted query=weighted.example state=ok srv last-good-ago=1
backend 127.0.0.2 80 priority=1 weight=1 health=up target=one.example ttl=60 source=srv
backend ::1 81 priority=1 weight=3 health=up target=three.example ttl=60 source=srv
EOF
ok $? "mkcache writes the test cache"

# ---------------------------------------------------------------- list, text
capture list "$DNSDISCCTL" --cache "$cache" list
is "$rc" 0 "list exits 0"
is "$(out list | head -n1 | tr -s ' ')" "SERVICE STATE BACKENDS GEN AGE FLAGS" "list starts with a header row"
is "$(out list | tail -n +2 | awk '{ print $1 }' | tr '\n' ' ')" "api empty panicky web weighted " "list has one row per service, sorted by name"
is "$(row list web | cut -d' ' -f2,3,6)" "ok 1/2 srv" "list: web is ok, 1 of 2 healthy, srv"
between "$(secs "$(row list web | cut -d' ' -f5)")" 3 $((3 + $(since "$made")))
ok $? "list: web's last good resolution was 3s ago (got $(row list web | cut -d' ' -f5))"
is "$(row list api | cut -d' ' -f2,3,6)" "stale 0/1 -" "list: api is stale, 0 of 1 healthy, no flags"
between "$(secs "$(row list api | cut -d' ' -f5)")" 125 $((125 + $(since "$made")))
ok $? "list: api's age 125 s reads 2min5s (got $(row list api | cut -d' ' -f5))"
is "$(row list empty | cut -d' ' -f2,3,5)" "negative 0/0 never" "list: empty is negative with no backend, never resolved"
is "$(row list panicky | cut -d' ' -f2,3,6)" "ok 0/1 panic" "list: the panic flag is shown, and no backend counts as healthy"
[[ $(row list panicky | cut -d' ' -f5) =~ ^1h6min$ ]]
ok $? "list: 4000 s reads 1h6min (got $(row list panicky | cut -d' ' -f5))"

# ---------------------------------------------------------------- stale warning
# mkcache exits as a stopped daemon does: data is shown, with a warning on stderr.
stopped_warning="dnsdiscctl: warning: dnsdiscd has stopped, data is no longer refreshed"
is "$(err list)" "$stopped_warning" "list warns on stderr that dnsdiscd stopped"
"$MKCACHE" --hold "$TESTDIR/live.cache" >"$TESTDIR/hold.out" <<EOF &
service live
backend 127.0.0.1 1
EOF
holder=$!
at_exit "kill $holder 2>/dev/null"
wait_until 5 grep -q ready "$TESTDIR/hold.out"
ok $? "mkcache --hold publishes and heartbeats"
capture live "$DNSDISCCTL" --cache "$TESTDIR/live.cache" list
is "$rc:$(err live)" "0:" "list prints no warning while the writer heartbeats"
capture lives "$DNSDISCCTL" --cache "$TESTDIR/live.cache" show live
is "$rc:$(err lives)" "0:" "show prints no warning while the writer heartbeats"
# Liveness goes by the boot clock (format 1.2): the holder stopped, its heartbeats set by hand.
kill -STOP "$holder"
stamp_heartbeat "$TESTDIR/live.cache" -18000 0
capture stepped "$DNSDISCCTL" --cache "$TESTDIR/live.cache" list
is "$rc:$(err stepped)" "0:" "list prints no warning when only the wall clock moved on by 5 h since the heartbeat"
stamped=$(date +%s)
stamp_heartbeat "$TESTDIR/live.cache" 0 -10
capture hung "$DNSDISCCTL" --cache "$TESTDIR/live.cache" list
[[ $rc == 0 && $(err hung) =~ ^"dnsdiscctl: warning: dnsdiscd stopped refreshing the cache, last heartbeat "([0-9]+)s" ago"$ ]] &&
        between "${BASH_REMATCH[1]}" 10 $((10 + $(since "$stamped")))
ok $? "list warns of a heartbeat 10 s old by the boot clock though the wall clock's is fresh (got: $(err hung))"
kill -CONT "$holder"
kill "$holder"
wait "$holder"
capture live "$DNSDISCCTL" --cache "$TESTDIR/live.cache" list
is "$rc:$(err live)" "0:$stopped_warning" "list warns once the writer stopped"
capture lives "$DNSDISCCTL" --cache "$TESTDIR/live.cache" show live
is "$rc:$(err lives)" "0:$stopped_warning" "show warns once the writer stopped"

# ---------------------------------------------------------------- list, JSON
capture listj "$DNSDISCCTL" --cache "$cache" list --json
is "$rc" 0 "list --json exits 0"
is "$(jget listj '[s["name"] for s in d]')" '["api", "empty", "panicky", "web", "weighted"]' "list --json: an array of services by name"
is "$(jget listj '[[s["state"], s["healthy"], s["total"]] for s in d]')" \
        '[["stale", 0, 1], ["negative", 0, 0], ["ok", 0, 1], ["ok", 1, 2], ["ok", 2, 2]]' \
        "list --json: state, healthy and total of each service"
is "$(jget listj '[s["age"] for s in d if s["name"] == "empty"]')" '[null]' "list --json: age is null when never resolved"
between "$(jget listj '[s["age"] for s in d if s["name"] == "web"][0]')" 3 $((3 + $(since "$made")))
ok $? "list --json: web's age is 3 s"
is "$(jget listj '[[s["panic"], s["srv"], s["last_error"]] for s in d]')" \
        '[[false, false, "timeout"], [false, false, "nxdomain"], [true, false, null], [false, true, null], [false, true, null]]' \
        "list --json: panic, srv and last_error of each service"
is "$(jget listj 'sorted(set(type(s["generation"]).__name__ for s in d))')" '["int"]' "list --json: generations are numbers"
is "$(jget listj '[str(s["generation"]) for s in d]')" \
        "$(out list | tail -n +2 | awk '{ printf "%s\"%s\"", (NR > 1 ? ", " : "["), $4 } END { print "]" }')" \
        "list --json: generations match the text output"

# ---------------------------------------------------------------- show, text
capture show "$DNSDISCCTL" --cache "$cache" show web
is "$rc" 0 "show web exits 0"
is "$(out show | awk -F': ' '$1 ~ /^ *(Service|Query|State|Flags|Last error)$/ { gsub(/^ +/, "", $1); printf "%s=%s;", $1, $2 }')" \
        "Service=web;Query=_http._tcp.web.example;State=ok;Flags=srv;Last error=-;" \
        "show: the service's name, query, state, flags and last error"
between "$(secs "$(sed -n 's/^ *Last good: \(.*\) ago$/\1/p' "$TESTDIR/show.out")")" 3 $((3 + $(since "$made")))
ok $? "show: time since the last good resolution"
grep -qE '^ *Backends: 1 healthy, 2 total' "$TESTDIR/show.out"
ok $? "show: backend counts"
is "$(out show | grep -E '^ADDRESS' | tr -s ' ')" \
        "ADDRESS PORT TARGET PRIO WEIGHT SOURCE TTL PICK HEALTH STREAK CHECKS FAILED LATENCY ERROR" "show: backend table header"
is "$(row show 192.0.2.10 | cut -d' ' -f2-6,9-13)" "8080 a.web.example 10 1 srv up ok:11 12 1 850us" "show: an IPv4 backend's row"
is "$(row show 2001:db8::1 | cut -d' ' -f2-6,9-13)" "8081 b.web.example 10 3 srv down fail:3 7 4 2.5ms" "show: an IPv6 backend's row, address without brackets"
between "$(secs "$(row show 2001:db8::1 | cut -d' ' -f7)")" $((100 - $(since "$made"))) 100
ok $? "show: TTL remaining (got $(row show 2001:db8::1 | cut -d' ' -f7))"

capture showa "$DNSDISCCTL" --cache "$cache" show api
is "$(row showa 198.51.100.7 | cut -d' ' -f3,6,7,8,9,10)" "api.example a expired no unknown -" \
        "show: expired TTL, not picked, unknown health, no probe yet"
grep -qE '^ *Last error: timeout$' "$TESTDIR/showa.out"
ok $? "show: the last resolution error"
capture showp "$DNSDISCCTL" --cache "$cache" show panicky
grep -qE '^ *Flags: panic ' "$TESTDIR/showp.out"
ok $? "show: the panic flag"
capture showe "$DNSDISCCTL" --cache "$cache" show empty
is "$rc" 0 "show of a service without backends exits 0"
grep -q '^ADDRESS' "$TESTDIR/showe.out"
ok $((!$?)) "show of a service without backends prints no table"

# ---------------------------------------------------------------- show, JSON
capture showj "$DNSDISCCTL" --cache "$cache" show web --json
is "$rc" 0 "show --json exits 0"
is "$(jget showj '[d[k] for k in ("name", "query", "state", "panic", "srv", "last_error", "healthy", "total")]')" \
        '["web", "_http._tcp.web.example", "ok", false, true, null, 1, 2]' "show --json: the service's keys"
is "$(jget showj 'type(d["generation"]).__name__')" '"int"' "show --json: generation is a number"
is "$(jget showj '[[b[k] for k in ("address", "port", "target", "priority", "weight", "health", "source")] for b in d["backends"]]')" \
        '[["192.0.2.10", 8080, "a.web.example", 10, 1, "up", "srv"], ["2001:db8::1", 8081, "b.web.example", 10, 3, "down", "srv"]]' \
        "show --json: address (IPv6 without brackets), port, target, priority, weight, health, source"
is "$(jget showj '[[b[k] for k in ("checks", "failures", "consecutive_ok", "consecutive_fail", "latency_us")] for b in d["backends"]]')" \
        '[[12, 1, 11, 0, 850], [7, 4, 0, 3, 2500]]' "show --json: health-check counters"
# A cache of its own, so that the first reading is close to the writing.
made_ttl=$(date +%s)
"$MKCACHE" "$TESTDIR/ttl.cache" <<EOF
service ttl
backend 127.0.0.1 80 ttl=100
EOF
capture ttl1 "$DNSDISCCTL" --cache "$TESTDIR/ttl.cache" show ttl --json
ttl1=$(jget ttl1 'd["backends"][0]["ttl"]')
between "$ttl1" $((100 - $(since "$made_ttl"))) 100
ok $? "show --json: ttl is the seconds remaining ($ttl1 of 100)"
sleep 1.2
capture ttl2 "$DNSDISCCTL" --cache "$TESTDIR/ttl.cache" show ttl --json
ttl2=$(jget ttl2 'd["backends"][0]["ttl"]')
between "$ttl2" $((100 - $(since "$made_ttl"))) $((ttl1 - 1))
ok $? "show --json: ttl counts down ($ttl1, then $ttl2 after 1.2 s)"
capture showaj "$DNSDISCCTL" --cache "$cache" show api --json
is "$(jget showaj '[d["state"], d["last_error"], [[b["ttl"], b["health"], b["source"]] for b in d["backends"]]]')" \
        '["stale", "timeout", [[0, "unknown", "a"]]]' "show --json: expired ttl is 0, health unknown, source a"
capture showpj "$DNSDISCCTL" --cache "$cache" show panicky --json
is "$(jget showpj 'd["panic"]')" true "show --json: panic is true for a service in panic"
capture showej "$DNSDISCCTL" --cache "$cache" show empty --json
is "$(jget showej '[d["backends"], d["age"], d["last_error"]]')" '[[], null, "nxdomain"]' "show --json: no backends, never resolved"

# ---------------------------------------------------------------- an SRV record's weight split over its addresses
# 60/30/10 with an A and an AAAA record for the first target (the README's example zone).
"$MKCACHE" "$TESTDIR/dual.cache" <<EOF
service dual query=_http._tcp.dual.example state=ok srv last-good-ago=1
backend 192.0.2.1 80 priority=1 weight=60 health=up target=a.dual.example ttl=60 source=srv
backend 2001:db8::a 80 priority=1 weight=60 health=up target=a.dual.example ttl=60 source=srv
backend 192.0.2.2 80 priority=1 weight=30 health=up target=b.dual.example ttl=60 source=srv
backend 192.0.2.3 80 priority=1 weight=10 health=up target=c.dual.example ttl=60 source=srv
EOF
ok $? "mkcache writes a dual-stack cache"
capture showd "$DNSDISCCTL" --cache "$TESTDIR/dual.cache" show dual
is "$(for a in 192.0.2.1 2001:db8::a 192.0.2.2 192.0.2.3; do row showd "$a" | cut -d' ' -f5; done | tr '\n' ' ')" "60/2 60/2 30 10 " \
        "show: WEIGHT is the record's, /2 for the dual-stack target's two addresses"
grep -q "^WEIGHT W/N: the SRV record's weight W, split evenly over its N picked addresses.$" "$TESTDIR/showd.out"
ok $? "show: a line says how a split weight reads"
capture showdj "$DNSDISCCTL" --cache "$TESTDIR/dual.cache" show dual --json
is "$(jget showdj '[[b["weight"], b["weight_split"]] for b in d["backends"]]')" '[[60, 2], [60, 2], [30, 1], [10, 1]]' \
        "show --json: weight is the record's, weight_split the addresses sharing it"
capture pickd "$DNSDISCCTL" --cache "$TESTDIR/dual.cache" pick dual -n 100
is "$(out pickd | sed 's/:80$//' | sort | uniq -c | awk '{ print $2 "=" $1 }' | tr '\n' ' ')" \
        "192.0.2.1=30 192.0.2.2=30 192.0.2.3=10 [2001:db8::a]=30 " \
        "pick -n 100: the targets get 60/30/10, the dual-stack one's share halved between its addresses"

# ---------------------------------------------------------------- pick
capture pick "$DNSDISCCTL" --cache "$cache" pick weighted -n 4
is "$rc" 0 "pick -n 4 exits 0"
is "$(out pick | sort | uniq -c | awk '{ print $1, $2 }' | tr '\n' ' ')" "1 127.0.0.2:80 3 [::1]:81 " \
        "pick -n 4 on weights 1:3 returns each in proportion, IPv6 bracketed"
capture pick8 "$DNSDISCCTL" --cache "$cache" pick -n 8 weighted
is "$(out pick8 | sort | uniq -c | awk '{ print $1 }' | tr '\n' ' ')" "2 6 " "pick -n 8 (before the service name) covers two cycles"
capture pick1 "$DNSDISCCTL" --cache "$cache" pick web
is "$(out pick1 | wc -l)" 1 "pick prints one endpoint by default"
capture pickp "$DNSDISCCTL" --cache "$cache" pick panicky
is "$(out pickp)" "127.0.0.1:9" "pick returns a down backend of a service in panic"

# ---------------------------------------------------------------- cache path
capture env1 env DNSDISC_CACHE="$cache" "$DNSDISCCTL" pick web
is "$rc $(out env1 | wc -l)" "0 1" "\$DNSDISC_CACHE is honoured"
capture env2 env DNSDISC_CACHE="$TESTDIR/missing" "$DNSDISCCTL" --cache "$cache" list
is "$rc" 0 "--cache overrides \$DNSDISC_CACHE"
capture after env DNSDISC_CACHE="$TESTDIR/missing" "$DNSDISCCTL" list --cache "$cache"
is "$rc $(out after | tail -n +2 | wc -l)" "0 5" "--cache is accepted after the command"
capture after2 "$DNSDISCCTL" show --cache="$cache" web
is "$rc" 0 "--cache=PATH is accepted between the command and its argument"
capture default "$DNSDISCCTL" --cache "$cache"
is "$rc $(out default | head -n1 | tr -s ' ')" "0 SERVICE STATE BACKENDS GEN AGE FLAGS" "without a command, dnsdiscctl lists"

# ---------------------------------------------------------------- exit codes
runtime_fails nocache "cache $TESTDIR/missing" --cache "$TESTDIR/missing" list
runtime_fails nocache2 "cache $TESTDIR/missing" --cache "$TESTDIR/missing" pick web
runtime_fails unknown "service nosuch" --cache "$cache" show nosuch
runtime_fails unknown2 "service nosuch" --cache "$cache" pick nosuch
runtime_fails nobackend "pick empty" --cache "$cache" pick empty
capture envmiss env DNSDISC_CACHE="$TESTDIR/missing" "$DNSDISCCTL" list
grep -q "^dnsdiscctl: cache $TESTDIR/missing: " "$TESTDIR/envmiss.err"
is "$rc $?" "1 0" "a missing \$DNSDISC_CACHE file is named in the message"

usage_fails verb frobnicate
usage_fails noarg show
usage_fails noarg2 pick
usage_fails extra show web api
usage_fails extra2 list web
usage_fails opt list --frobnicate
usage_fails n0 pick web -n 0
usage_fails nneg pick web -n -1
usage_fails nalpha pick web -n abc
usage_fails njunk pick web -n 3x
usage_fails nhuge pick web -n 99999999999999999999
usage_fails nmissing pick web -n
usage_fails cachemissing list --cache
usage_fails jsonpick pick web --json
usage_fails nlist list -n 2

# ---------------------------------------------------------------- help and version
for v in "" list show pick; do
        # shellcheck disable=SC2086
        capture help "$DNSDISCCTL" $v --help
        [ "$rc" -eq 0 ] && grep -q "^Usage: dnsdiscctl .*${v}" "$TESTDIR/help.out" && [ ! -s "$TESTDIR/help.err" ]
        ok $? "dnsdiscctl ${v:+$v }--help exits 0 with a usage line"
done
capture helpshow "$DNSDISCCTL" show --help
grep -q -- "--json" "$TESTDIR/helpshow.out" && ! grep -q -- "--count" "$TESTDIR/helpshow.out"
ok $? "show --help describes show's options only"
capture help-h "$DNSDISCCTL" pick -h
grep -q -- "--count" "$TESTDIR/help-h.out"
is "$rc $?" "0 0" "pick -h describes pick"
capture version "$DNSDISCCTL" --version
[ "$rc" -eq 0 ] && grep -qE '^dnsdiscctl \(dnsdisc\) [0-9]+\.[0-9]+' "$TESTDIR/version.out"
ok $? "--version exits 0 and prints the version"

# ---------------------------------------------------------------- docs/examples/pick-connect
# Two listening sockets and one bound but not listening (connections to it
# are refused), all on 127.0.0.1 with ports chosen by the kernel.
cat >"$TESTDIR/listen.py" <<'EOF'
import os, select, socket, sys, time
live = []
for _ in range(2):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    live.append(s)
dead = socket.socket()
dead.bind(("127.0.0.1", 0))
ports = [s.getsockname()[1] for s in live + [dead]]
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(" ".join(map(str, ports)) + "\n")
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
accepted = {p: 0 for p in ports[:2]}
end = time.monotonic() + 30
while time.monotonic() < end and not os.path.exists(sys.argv[1] + ".stop"):
    for s in select.select(live, [], [], 0.1)[0]:
        c, _ = s.accept()
        accepted[s.getsockname()[1]] += 1
        c.close()
# Connections made before the stop file but not yet accepted still count.
for s in live:
    s.setblocking(False)
    while True:
        try:
            c, _ = s.accept()
        except BlockingIOError:
            break
        accepted[s.getsockname()[1]] += 1
        c.close()
with open(sys.argv[1] + ".accepted", "w") as f:
    f.write(" ".join(str(accepted[p]) for p in ports[:2]) + "\n")
EOF
python3 "$TESTDIR/listen.py" "$TESTDIR/ports" &
listener=$!
at_exit "kill $listener 2>/dev/null"
wait_until 5 test -s "$TESTDIR/ports"
ok $? "listeners started"
read -r live1 live2 dead <"$TESTDIR/ports"

"$MKCACHE" "$TESTDIR/app.cache" <<EOF
service app query=app.example state=ok last-good-ago=1
backend 127.0.0.1 $live1 health=up source=a ttl=60
backend 127.0.0.1 $dead health=up source=a ttl=60
backend 127.0.0.1 $live2 health=up source=a ttl=60
EOF
ok $? "mkcache publishes two live backends and a dead one"

capture app "$PICK_CONNECT" -c "$TESTDIR/app.cache" -n 6 app
is "$rc" 0 "pick-connect makes its 6 connections"
diag "$(out app)"
is "$(out app | grep -c '^connected ')" 6 "pick-connect prints one 'connected' line per connection"
is "$(out app | grep -c "^failed 127.0.0.1:$dead: Connection refused$")" 1 \
        "the dead backend is tried once, refused, and reported: quarantine keeps the next picks off it"
out app | awk -v d="127.0.0.1:$dead" '{ cur = ($2 == d || $2 == d ":") } cur && prev { bad = 1 } { prev = cur } END { exit bad }'
ok $? "the dead backend is never picked twice in a row"
is "$(out app | awk '$1 == "connected" { print $2 }' | sort -u | tr '\n' ' ')" \
        "$(printf '127.0.0.1:%s\n' "$live1" "$live2" | sort | tr '\n' ' ')" "both live backends get connections"
touch "$TESTDIR/ports.stop"
wait "$listener"
is "$(awk '{ print $1 + $2 }' "$TESTDIR/ports.accepted")" 6 "the listeners accepted the 6 connections"

capture appmiss "$PICK_CONNECT" -c "$TESTDIR/app.cache" nosuch
is "$rc" 1 "pick-connect fails on an unknown service"

done_testing
