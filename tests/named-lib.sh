# SPDX-License-Identifier: LGPL-2.1-or-later
# named-lib.sh: real DNS servers (BIND 9 named; Knot: start_knot) on 127.0.0.1 for integration tests (sourced after lib.sh; bash).
#
#   start_named example.com "$top_srcdir/docs/examples/example.zone"   # sets NAMED_PORT NAMED_PID NAMED_DIR
#   nsupdate_do "update add x.example.com 30 IN A 127.0.0.5"          # or: lines on stdin
#   stop_named; restart_named                                          # outages; zone and journal survive
#
# Each start_named gets its own directory under $TESTDIR (named, named-2, ...)
# and becomes the current instance; the other functions take that directory as
# an optional last argument to address an older one. Nothing here prints TAP:
# failures go to stderr and return non-zero, so the demo script can use it too.
# The zone is dynamic (allow-update from 127.0.0.1), named keeps a journal in
# the instance directory, and querylog is on so tests can count queries.
# Set before start_named, for one instance: NAMED_ALLOW_UPDATE (the allow-update
# list, e.g. "key k;"), NAMED_ZONE_EXTRA (statements added to the zone, e.g.
# also-notify) and NAMED_CONF_EXTRA (top-level statements: keys, more zones).
# shellcheck shell=bash

# /usr/sbin is not in every user's PATH.
: "${NAMED:=$(command -v named || echo /usr/sbin/named)}"
# Upper bound on a named's life, so a test killed with SIGKILL leaves no server behind (0: none).
: "${NAMED_MAX_LIFETIME:=600}"
: "${NAMED_START_TIMEOUT:=10}"
_named_n=0

# need_named: skip the whole script unless BIND 9 (named, nsupdate, dig) is installed.
need_named() {
        [ -x "$NAMED" ] && command -v nsupdate >/dev/null && command -v dig >/dev/null ||
                skip_all "BIND 9 (named, nsupdate, dig) not installed"
}

_named_dir() { echo "${1:-${NAMED_DIR:?no named started}}"; }

# _named_conf DIR PORT ORIGIN: named.conf for one authoritative, updatable zone.
_named_conf() {
        local d=$1 port=$2 origin=$3
        cat <<EOF
options {
        directory "$d";
        listen-on port $port { 127.0.0.1; };
        listen-on-v6 { none; };
        // no SO_REUSEPORT: a port another server holds must fail here, not be silently shared
        reuseport no;
        pid-file "$d/named.pid";
        lock-file "$d/named.lock";
        session-keyfile "$d/session.key";
        managed-keys-directory "$d";
        dump-file "$d/named_dump.db";
        statistics-file "$d/named.stats";
        recursion no;
        dnssec-validation no;
        notify no;
        // glue (SRV target addresses) in the additional section, as the daemon expects to find it
        minimal-responses no;
        querylog yes;
};
// no rndc: a control channel would need a port and a key, and two instances would collide on 953
controls { };
zone "$origin" {
        type primary;
        file "$d/zone.db";
        journal "$d/zone.db.jnl";
        allow-update { ${NAMED_ALLOW_UPDATE:-127.0.0.1;} };
        allow-transfer { 127.0.0.1; };
${NAMED_ZONE_EXTRA:-}
};
${NAMED_CONF_EXTRA:-}
EOF
}

# _named_spawn DIR: start named for the configuration in DIR; sets NAMED_PID.
_named_spawn() {
        local d=$1
        # restart_named appends to the log: readiness looks only at this run's lines.
        wc -l <"$d/named.log" >"$d/log-start" 2>/dev/null || echo 0 >"$d/log-start"
        # stdout/stderr to the log, never to the TAP stream: an orphan must not hold the test's pipe open.
        timeout -s TERM "$NAMED_MAX_LIFETIME" "$NAMED" -g -n 1 -c "$d/named.conf" \
                </dev/null >>"$d/named.log" 2>&1 &
        NAMED_PID=$!
        echo "$NAMED_PID" >"$d/pid"
        export NAMED_PID
}

# _named_wait_ready DIR: 0 once named has loaded its zone and serves the SOA;
# 2 if it could not bind its port (worth retrying on another); 1 otherwise.
_named_wait_ready() {
        local d=$1 pid port origin end log
        pid=$(cat "$d/pid") port=$(cat "$d/port") origin=$(cat "$d/origin")
        end=$(($(date +%s%N) + NAMED_START_TIMEOUT * 1000000000))
        while [ "$(date +%s%N)" -lt "$end" ]; do
                log=$(tail -n +"$(($(cat "$d/log-start") + 1))" "$d/named.log")
                if ! kill -0 "$pid" 2>/dev/null; then
                        wait "$pid" 2>/dev/null
                        grep -q 'unable to listen on any configured interfaces' <<<"$log" && return 2
                        return 1
                fi
                grep -q 'loading from master file .* failed' <<<"$log" && return 1
                # UDP binds succeed on a shared port (SO_REUSEADDR), TCP listens do not.
                grep -q 'address in use' <<<"$log" && return 2
                # "running" comes after every zone is loaded; only then is the answer ours.
                if grep -Eq '^[^ ]+ [^ ]+ running$' <<<"$log" &&
                   [ -n "$(dig @127.0.0.1 -p "$port" +time=1 +tries=1 +norec +short SOA "$origin" 2>/dev/null)" ]; then
                        return 0
                fi
                sleep 0.1
        done
        return 1
}

_named_fail() { # _named_fail DIR MESSAGE: report with the log's tail on stderr
        echo "named-lib: $2 (log: $1/named.log)" >&2
        tail -n 15 "$1/named.log" 2>/dev/null | sed 's/^/named-lib:   /' >&2
}

# start_named ORIGIN ZONEFILE [PORT]: serve ZONEFILE (copied) as ORIGIN on 127.0.0.1:PORT
# (a free high port when not given). Exports NAMED_PORT, NAMED_PID, NAMED_DIR, NAMED_ORIGIN.
start_named() {
        local origin=${1%.} zonefile=$2 port=${3:-} d tries rc
        [ -r "$zonefile" ] || { echo "named-lib: cannot read zone file $zonefile" >&2; return 1; }
        _named_n=$((_named_n + 1))
        d=$TESTDIR/named
        [ "$_named_n" -gt 1 ] && d=$TESTDIR/named-$_named_n
        mkdir -p "$d" || return 1
        cp "$zonefile" "$d/zone.db" || return 1
        if ! named-checkzone -q "$origin" "$d/zone.db"; then
                echo "named-lib: $zonefile is not a valid zone for $origin:" >&2
                named-checkzone "$origin" "$d/zone.db" 2>&1 | sed 's/^/named-lib:   /' >&2
                return 1
        fi
        echo "$origin" >"$d/origin"
        at_exit "stop_named $(printf %q "$d")"

        # Another engineer's test may take a port between free_port and bind: retry with a new one.
        tries=3
        [ -n "$port" ] && tries=1
        while [ "$tries" -gt 0 ]; do
                tries=$((tries - 1))
                [ -n "${3:-}" ] || port=$(free_port) || { echo "named-lib: no free port" >&2; return 1; }
                echo "$port" >"$d/port"
                _named_conf "$d" "$port" "$origin" >"$d/named.conf"
                : >"$d/named.log"
                _named_spawn "$d"
                _named_wait_ready "$d"
                rc=$?
                [ "$rc" -eq 0 ] && break
                stop_named "$d" 2>/dev/null
                if [ "$rc" -ne 2 ] || [ "$tries" -eq 0 ]; then
                        _named_fail "$d" "named did not serve $origin on 127.0.0.1:$port"
                        return 1
                fi
        done
        NAMED_DIR=$d NAMED_PORT=$port NAMED_ORIGIN=$origin
        export NAMED_DIR NAMED_PORT NAMED_ORIGIN NAMED_PID
}

# stop_named [DIR]: SIGTERM, wait up to 5 s, then SIGKILL. A no-op when not running.
stop_named() {
        local d pid i
        d=$(_named_dir "${1:-}") || return 1
        [ -s "$d/pid" ] || return 0
        pid=$(cat "$d/pid")
        rm -f "$d/pid"
        kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
        for ((i = 0; i < 50; i++)); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
                echo "named-lib: named ($pid) ignored SIGTERM for 5 s, killing it" >&2
                kill -KILL "$pid" 2>/dev/null
        fi
        wait "$pid" 2>/dev/null
        return 0
}

# restart_named [DIR]: stop, then start again on the same port with the zone as
# it stands (file plus journal, so nsupdate changes survive).
restart_named() {
        local d port
        d=$(_named_dir "${1:-}") || return 1
        stop_named "$d"
        port=$(cat "$d/port")
        _named_spawn "$d"
        if ! _named_wait_ready "$d"; then
                _named_fail "$d" "named did not come back on 127.0.0.1:$port"
                return 1
        fi
        [ "$d" = "${NAMED_DIR:-}" ] || NAMED_PID=$(cat "$NAMED_DIR/pid" 2>/dev/null)
        return 0
}

# named_running [DIR]: 0 while the instance's named process is alive.
named_running() {
        local d
        d=$(_named_dir "${1:-}") || return 1
        [ -s "$d/pid" ] && kill -0 "$(cat "$d/pid")" 2>/dev/null
}

# nsupdate_do [-d DIR] [LINE...]: send one dynamic update (the LINEs, or stdin)
# to the instance's zone. Non-zero, with nsupdate's output on stderr, unless the
# server accepted it. Zone-file lines from zone_srv_records become updates with
#   zone_srv_records ... | sed 's/^/update add /' | nsupdate_do
nsupdate_do() {
        local d="" in out
        if [ "${1:-}" = "-d" ]; then d=$2; shift 2; fi
        d=$(_named_dir "$d") || return 1
        in=$d/nsupdate.in out=$d/nsupdate.out
        {
                echo "server 127.0.0.1 $(cat "$d/port")"
                echo "zone $(cat "$d/origin")"
                if [ $# -gt 0 ]; then printf '%s\n' "$@"; else cat; fi
                echo "send"
        } >"$in"
        # -t: total time for the update; timeout(1) bounds nsupdate even if it hangs elsewhere.
        if ! timeout 15 nsupdate -t 5 "$in" >"$out" 2>&1; then
                echo "named-lib: nsupdate failed:" >&2
                sed 's/^/named-lib:   > /' "$in" >&2
                sed 's/^/named-lib:   /' "$out" >&2
                return 1
        fi
        return 0
}

# ndig [dig args...]: dig against the current instance, short timeouts, no recursion.
ndig() {
        dig @127.0.0.1 -p "${NAMED_PORT:?no named started}" +time=1 +tries=1 +norec "$@"
}

# named_query_count NAME [TYPE] [DIR]: queries the server has logged for NAME
# (and TYPE), case-insensitively, since it was first started.
named_query_count() {
        local name=${1%.} type=${2:-[A-Z0-9]*} d
        d=$(_named_dir "${3:-}") || return 1
        grep -ic -- "query: ${name//./\\.} IN $type " "$d/named.log"
}

# zone_header ORIGIN [NEGATIVE_TTL]: SOA, NS and the name server's A record, to
# start a zone file. NEGATIVE_TTL (default 10) is the SOA minimum, which RFC 2308
# makes the TTL of NXDOMAIN/NODATA answers (with the SOA's own TTL, 60).
zone_header() {
        local origin=${1%.} neg=${2:-10}
        cat <<EOF
\$ORIGIN $origin.
\$TTL 60
@       IN SOA  ns.$origin. hostmaster.$origin. ( 1 3600 600 86400 $neg )
        IN NS   ns.$origin.
ns      IN A    127.0.0.1
EOF
}

# zone_srv_records NAME COUNT [key=value...]: zone-file lines (absolute names)
# for COUNT SRV records of NAME whose targets bN.BASE (BASE: NAME without its
# leading _labels) each have one A record 127.NET.x.y. Keys: port=8080 ttl=30
# prio=10 weight=10 net=100 (second octet; use different nets for different
# sets), aaaa=0 (1: also an AAAA ::1 per target, made distinct by port+N).
zone_srv_records() {
        local name=${1%.} count=$2 kv port=8080 ttl=30 prio=10 weight=10 net=100 aaaa=0 base n p
        shift 2
        for kv in "$@"; do
                case $kv in
                port=* | ttl=* | prio=* | weight=* | net=* | aaaa=*) local "$kv" ;;
                *) echo "named-lib: zone_srv_records: unknown key $kv" >&2; return 1 ;;
                esac
        done
        base=$name
        while [ "${base#_}" != "$base" ]; do base=${base#*.}; done
        for ((n = 1; n <= count; n++)); do
                p=$port
                [ "$aaaa" = 1 ] && p=$((port + n))
                echo "$name. $ttl IN SRV $prio $weight $p b$n.$base."
                echo "b$n.$base. $ttl IN A 127.$net.$((n / 200)).$((n % 200 + 1))"
                [ "$aaaa" = 1 ] && echo "b$n.$base. $ttl IN AAAA ::1"
        done
        return 0
}

# ---------------------------------------------------------------- Knot DNS, the second real server

: "${KNOTD:=$(command -v knotd || echo /usr/sbin/knotd)}"
: "${KNOTC:=$(command -v knotc || echo /usr/sbin/knotc)}"
: "${KNOT_MAX_LIFETIME:=600}"

# knot_installed: 0 when knotd, knotc and kdig are all there.
knot_installed() { [ -x "$KNOTD" ] && [ -x "$KNOTC" ] && command -v kdig >/dev/null; }

# knot_ready: 0 once the started knotd answers the SOA of its zone.
knot_ready() {
        kdig @127.0.0.1 -p "$KNOT_PORT" +norec +retry=0 +timeout=1 SOA "$KNOT_ZONE." 2>/dev/null | grep -q 'status: NOERROR'
}

# start_knot ZONE ZONEFILE: knotd serving ZONE from ZONEFILE (not written back) on 127.0.0.1 at a
# free port, three ports tried, in $TESTDIR/knot (knot.log, knot.sock). Set before it:
# KNOT_CONF_EXTRA (top-level sections: key:, acl:, remote:), KNOT_ZONE_EXTRA (lines of the zone's
# entry, indented by 4: notify:, acl:) and KNOT_LOG_LEVEL (info). Sets KNOT_PORT, KNOT_PID (stopped
# at exit), KNOT_DIR and KNOT_ZONE; 1 with the log's tail on stderr when it never served.
start_knot() {
        local zone=${1%.} zonefile=$2 attempt
        KNOT_DIR=$TESTDIR/knot KNOT_ZONE=$zone KNOT_PID=
        mkdir -p "$KNOT_DIR/db" || return 1
        for attempt in 1 2 3; do
                KNOT_PORT=$(free_port) || { echo "named-lib: no free port" >&2; return 1; }
                cat >"$KNOT_DIR/knot.conf" <<EOF
server:
    rundir: "$KNOT_DIR"
    listen: 127.0.0.1@$KNOT_PORT
database:
    storage: "$KNOT_DIR/db"
control:
    listen: "$KNOT_DIR/knot.sock"
log:
  - target: stderr
    any: ${KNOT_LOG_LEVEL:-info}
${KNOT_CONF_EXTRA:-}
zone:
  - domain: $zone.
    file: "$zonefile"
    zonefile-sync: -1
${KNOT_ZONE_EXTRA:-}
EOF
                timeout -s TERM "$KNOT_MAX_LIFETIME" "$KNOTD" -c "$KNOT_DIR/knot.conf" </dev/null \
                        >"$KNOT_DIR/knot.log" 2>&1 &
                KNOT_PID=$!
                at_exit "kill $KNOT_PID 2>/dev/null; wait $KNOT_PID 2>/dev/null"
                wait_until 10 knot_ready && return 0
                kill "$KNOT_PID" 2>/dev/null
                wait "$KNOT_PID" 2>/dev/null
                KNOT_PID=
        done
        echo "named-lib: knotd did not serve $zone (log: $KNOT_DIR/knot.log)" >&2
        tail -n 10 "$KNOT_DIR/knot.log" 2>/dev/null | sed 's/^/named-lib:   /' >&2
        return 1
}

# knotc_do ARGS...: knotc on the started knotd's control socket, output dropped.
knotc_do() { timeout 15 "$KNOTC" -s "$KNOT_DIR/knot.sock" "$@" >/dev/null; }
