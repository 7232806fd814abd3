#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-dnsdiscctl-stats.sh: dnsdiscctl stats, text and Prometheus, parsed back and checked against counters mkcache wrote.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_built "$DNSDISCCTL" "$MKCACHE"
command -v python3 >/dev/null || skip_all "python3 not installed"

# A strict reader of the text exposition format (0.0.4): HELP then TYPE once
# per family, before its samples, samples grouped under their family, label
# values unescaped, no series twice. Prints the samples as JSON
# {"name{l1=v1,l2=v2}": value, ...} (labels sorted, values unescaped), or
# "ERROR: line N: why" and exits 1.
cat >"$TESTDIR/prom.py" <<'EOF'
import json, math, re, sys

NAME = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')
TYPES = {"counter", "gauge", "untyped", "summary", "histogram"}

def fail(n, why):
    print(f"ERROR: line {n}: {why}")
    sys.exit(1)

def unescape(v):
    return re.sub(r'\\(.)', lambda m: {"n": "\n", "\\": "\\", '"': '"'}[m.group(1)], v)

text = open(sys.argv[1]).read()
if not text.endswith("\n"):
    fail(0, "no final newline")
families, samples, series = {}, {}, set()
current = None
for n, line in enumerate(text[:-1].split("\n"), 1):
    if line.startswith("# HELP "):
        name, _, help_ = line[7:].partition(" ")
        if not NAME.match(name) or name in families:
            fail(n, f"bad or repeated HELP for {name}")
        if not help_:
            fail(n, f"empty HELP for {name}")
        families[name] = {"help": help_, "type": None, "samples": 0}
        current = name
    elif line.startswith("# TYPE "):
        parts = line[7:].split(" ")
        if len(parts) != 2 or parts[0] != current or parts[1] not in TYPES:
            fail(n, f"TYPE does not follow its HELP: {line}")
        if families[current]["type"] or families[current]["samples"]:
            fail(n, f"TYPE of {current} twice or after samples")
        families[current]["type"] = parts[1]
    elif line.startswith("#") or line == "":
        fail(n, "comment or blank line: not expected from dnsdiscctl")
    else:
        m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        if not m:
            fail(n, f"not a sample: {line!r}")
        name, labels_text, value = m.groups()
        if name != current or not families[name]["type"]:
            fail(n, f"sample {name} outside its family ({current})")
        labels = {}
        rest = labels_text or ""
        while rest:
            lm = LABEL.match(rest)
            if not lm:
                fail(n, f"bad labels: {labels_text!r}")
            if lm.group(1) in labels:
                fail(n, f"label {lm.group(1)} twice")
            labels[lm.group(1)] = unescape(lm.group(2))
            rest = rest[lm.end():]
        try:
            v = float(value)  # accepts +Inf, -Inf, NaN
        except ValueError:
            fail(n, f"bad value {value!r}")
        key = name + "{" + ",".join(f"{k}={labels[k]}" for k in sorted(labels)) + "}"
        if key in series:
            fail(n, f"series {key} twice")
        series.add(key)
        families[name]["samples"] += 1
        samples[key] = "+Inf" if v == math.inf else v
for name, f in families.items():
    if f["type"] is None:
        fail(0, f"{name} has no TYPE")
print(json.dumps({"families": {k: v["type"] for k, v in families.items()}, "samples": samples}))
EOF

# prom NAME: parse NAME.out into NAME.json; m NAME 'key': the sample's value, as Python prints it.
prom() { python3 "$TESTDIR/prom.py" "$TESTDIR/$1.out" >"$TESTDIR/$1.json"; }
m() {
        python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d["samples"].get(sys.argv[2], "MISSING"))' \
                "$TESTDIR/$1.json" "$2"
}
# q NAME EXPR: a Python expression over f (families: name -> type) and s (samples).
q() {
        python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); f, s = d["families"], d["samples"]; print(eval(sys.argv[2]))' \
                "$TESTDIR/$1.json" "$2"
}
num_between() { python3 -c 'import sys; v = float(sys.argv[1]); sys.exit(not (float(sys.argv[2]) <= v <= float(sys.argv[3])))' "$@" 2>/dev/null; }

cache=$TESTDIR/cache
# Ages are checked against the time since mkcache ran, not a fixed slack, so
# that a loaded machine can't fail them.
made=$(date +%s)
"$MKCACHE" "$cache" <<'EOF'
daemon counter-reloads=3 counter-file-replacements=2 counter-publishes=10 counter-checks=600 counter-check-failures=30 counter-checks-skipped=8
service web query=_http._tcp.web.example srv state=ok last-good-ago=30 counter-queries=120 counter-resolutions=100 counter-timeout=7 counter-servfail=5 counter-refused=4 counter-nxdomain=3 counter-nodata=2 counter-other=1 counter-checks=500 counter-check-failures=25 counter-checks-skipped=6
backend 127.0.0.1 80 priority=10 health=up
backend 127.0.0.2 80 priority=10 health=up
backend 127.0.0.3 80 priority=10 health=down
backend 127.0.0.4 80 priority=10 health=unknown
service never query=never.example state=pending
service panicky query=panicky.example state=stale error=servfail panic=on last-good-ago=700 counter-queries=9 counter-servfail=9
backend 127.0.0.5 81 health=down
backend 127.0.0.6 82 health=down
service a"b\c query=odd.example state=ok counter-queries=1
backend 127.0.0.7 83 health=unchecked
EOF
ok $? "mkcache writes counters for 4 services and the daemon"

# ---------------------------------------------------------------- Prometheus
capture p "$DNSDISCCTL" --cache "$cache" stats --prometheus
read_at=$(date +%s)
is "$rc:$(cat "$TESTDIR/p.err")" "0:" "stats --prometheus exits 0 and prints no warning (metrics say it)"
prom p
is "$?:$(head -c 200 "$TESTDIR/p.json" | grep -o '^ERROR.*')" "0:" "the output parses as the text exposition format"

is "$(q p 'sorted(n for n in f if not n.startswith("dnsdisc_"))')" "[]" "every metric is prefixed dnsdisc_"
is "$(q p 'sorted(n for n, t in f.items() if (t == "counter") != n.endswith("_total"))')" "[]" \
        "counters, and only counters, end in _total"
is "$(q p 'sorted(set(f) - {k.split("{")[0] for k in s})')" "[]" "every family has samples"

is "$(m p 'dnsdisc_queries_total{service=web}')" 120.0 "queries of web"
is "$(m p 'dnsdisc_resolutions_total{service=web}')" 100.0 "resolutions of web"
is "$(q p '[s["dnsdisc_resolution_errors_total{kind=%s,service=web}" % k] for k in ("timeout", "servfail", "refused", "nxdomain", "nodata", "other")]')" \
        "[7.0, 5.0, 4.0, 3.0, 2.0, 1.0]" "resolution errors of web by kind"
is "$(q p 'sorted(k.split("kind=")[1].split(",")[0] for k in s if k.startswith("dnsdisc_resolution_errors_total{") and "service=web}" in k)')" \
        "['nodata', 'nxdomain', 'other', 'refused', 'servfail', 'timeout']" "exactly the six error kinds"
is "$(m p 'dnsdisc_health_checks_total{service=web}'):$(m p 'dnsdisc_health_check_failures_total{service=web}')" \
        "500.0:25.0" "health probes and failures of web"
is "$(m p 'dnsdisc_health_checks_skipped_total{service=web}'):$(m p 'dnsdisc_health_checks_skipped_total{service=never}')" \
        "6.0:0.0" "health probes of web skipped for want of local resources; none of a service without"
is "$(m p 'dnsdisc_daemon_probes_total{}'):$(m p 'dnsdisc_daemon_probe_failures_total{}'):$(m p 'dnsdisc_daemon_probes_skipped_total{}')" \
        "600.0:30.0:8.0" "the daemon's probes: run, failed, skipped"
is "$(q p '[s["dnsdisc_service_backends{health=%s,service=web}" % h] for h in ("up", "down", "unknown")]')" \
        "[2.0, 1.0, 1.0]" "web's backends by health: 2 up, 1 down, 1 unknown"
is "$(q p 'sorted(v for k, v in s.items() if k.startswith("dnsdisc_service_backends{health=unchecked,"))')" "[0.0, 0.0, 0.0, 1.0]" \
        "one backend of the 4 services, without health checks, is counted as unchecked, not up"
is "$(m p 'dnsdisc_service_backends_picked{service=web}')" 2.0 "web: the 2 healthy backends are picked"
is "$(m p 'dnsdisc_service_panic{service=web}'):$(m p 'dnsdisc_service_panic{service=panicky}')" "0.0:1.0" "panic flag"
is "$(m p 'dnsdisc_service_backends_picked{service=panicky}')" 2.0 "in panic every backend is picked"
is "$(q p '{n: [k.split("state=")[1].rstrip("}") for k, v in s.items() if k.startswith("dnsdisc_service_state{") and "service=%s," % n in k and v == 1] for n in ("web", "never", "panicky")}')" \
        "{'web': ['ok'], 'never': ['pending'], 'panicky': ['stale']}" "one state per service is 1"
is "$(q p 'sum(1 for k in s if k.startswith("dnsdisc_service_state{") and "service=web," in k)')" 5 "all five states are exposed"
is "$(m p 'dnsdisc_service_info{query=_http._tcp.web.example,service=web,type=srv}'):$(m p 'dnsdisc_service_info{query=never.example,service=never,type=host}')" \
        "1.0:1.0" "info: query and type"
is "$(m p 'dnsdisc_queries_total{service=never}')" 0.0 "a service without counters reads 0"

slack=$((read_at - made + 1))
age=$(m p 'dnsdisc_service_last_good_resolution_age_seconds{service=web}')
num_between "$age" 29 $((30 + slack))
ok $? "web's last good resolution was 30 s ago (got $age, $slack s after mkcache)"
stamp=$(m p 'dnsdisc_service_last_good_resolution_timestamp_seconds{service=web}')
num_between "$stamp" $((made - 31)) $((read_at - 29))
ok $? "its timestamp is mkcache's time - 30 (got $stamp, mkcache ran at $made)"
is "$(m p 'dnsdisc_service_last_good_resolution_age_seconds{service=never}'):$(m p 'dnsdisc_service_last_good_resolution_timestamp_seconds{service=never}')" \
        "+Inf:0.0" "never resolved: age +Inf, timestamp 0"
num_between "$(m p 'dnsdisc_service_last_good_resolution_age_seconds{service=panicky}')" 699 $((700 + slack))
ok $? "panicky's last good resolution was 700 s ago"

# A hostile file: a last good resolution at INT64_MIN µs. now - then overflowed int64 (UBSan) and read 0.
"$MKCACHE" "$TESTDIR/hostile-cache" <<'EOF'
service old query=old.example state=stale last-good-usec=-9223372036854775808
EOF
capture hostile "$DNSDISCCTL" --cache "$TESTDIR/hostile-cache" stats --prometheus
grep -F 'dnsdisc_service_last_good_resolution_age_seconds{service="old"}' "$TESTDIR/hostile.out" >"$TESTDIR/hostile.age"
is "$rc:$(cat "$TESTDIR/hostile.age")" \
        '0:dnsdisc_service_last_good_resolution_age_seconds{service="old"} 9223372036854.775807' \
        "a last good resolution at INT64_MIN µs reads as the largest age, not 0 (no overflow)"

is "$(m p 'dnsdisc_queries_total{service=a"b\c}')" 1.0 'a service name with " and \ is escaped, and reads back unchanged'
grep -qF 'service="a\"b\\c"' "$TESTDIR/p.out"
ok $? 'the label is written as "a\"b\\c"'

is "$(m p 'dnsdisc_daemon_reloads_total{}'):$(m p 'dnsdisc_daemon_cache_file_replacements_total{}')" "3.0:2.0" \
        "daemon counters: reloads and file replacements"
is "$(m p 'dnsdisc_daemon_publishes_total{}')" 14.0 "publishes: 10 given plus one per service published"
is "$(m p 'dnsdisc_daemon_services{}')" 4.0 "services in the cache"
is "$(m p 'dnsdisc_daemon_up{}')" 0.0 "the writer exited: dnsdisc_daemon_up is 0"
num_between "$(m p 'dnsdisc_daemon_heartbeat_age_seconds{}')" 0 $((1 + slack))
ok $? "heartbeat age is a few seconds"
num_between "$(m p 'dnsdisc_daemon_start_time_seconds{}')" $((made - 1)) $((read_at + 1))
ok $? "start time is the writer's"

if command -v promtool >/dev/null; then
        promtool check metrics <"$TESTDIR/p.out" >"$TESTDIR/promtool.out" 2>&1
        is "$?:$(cat "$TESTDIR/promtool.out")" "0:" "promtool check metrics accepts it, lint included"
else
        diag "promtool not installed: format checked by the parser above only"
fi

# A live writer: up.
"$MKCACHE" --hold "$TESTDIR/live" >"$TESTDIR/hold.out" <<<"service live query=live.example" &
holder=$!
at_exit "kill $holder 2>/dev/null"
wait_until 5 grep -q ready "$TESTDIR/hold.out"
capture live "$DNSDISCCTL" --cache "$TESTDIR/live" stats --prometheus
prom live
is "$rc:$(m live 'dnsdisc_daemon_up{}')" "0:1.0" "dnsdisc_daemon_up is 1 while the writer heartbeats"
# Ages by the boot clock (format 1.2): the holder stopped, its heartbeats set by hand.
kill -STOP "$holder"
stamped=$(date +%s)
stamp_heartbeat "$TESTDIR/live" -18000 0
capture stepped "$DNSDISCCTL" --cache "$TESTDIR/live" stats --prometheus
prom stepped
is "$rc:$(m stepped 'dnsdisc_daemon_up{}')" "0:1.0" "dnsdisc_daemon_up stays 1 when only the wall clock moved on by 5 h"
num_between "$(m stepped 'dnsdisc_daemon_heartbeat_age_seconds{}')" 0 $(($(date +%s) - stamped + 1))
ok $? "heartbeat age is by the boot clock: not 5 h (got $(m stepped 'dnsdisc_daemon_heartbeat_age_seconds{}'))"
stamped=$(date +%s)
stamp_heartbeat "$TESTDIR/live" 0 -10
capture hung "$DNSDISCCTL" --cache "$TESTDIR/live" stats --prometheus
prom hung
is "$rc:$(m hung 'dnsdisc_daemon_up{}')" "0:0.0" "dnsdisc_daemon_up is 0 when the boot clock's heartbeat is 10 s old"
num_between "$(m hung 'dnsdisc_daemon_heartbeat_age_seconds{}')" 10 $((10 + $(date +%s) - stamped + 1))
ok $? "heartbeat age is 10 s by the boot clock (got $(m hung 'dnsdisc_daemon_heartbeat_age_seconds{}'))"
kill -CONT "$holder"
kill "$holder"
wait "$holder"

# An empty cache still exposes every family, for absent() and dashboards.
"$MKCACHE" "$TESTDIR/empty" </dev/null
capture e "$DNSDISCCTL" --cache "$TESTDIR/empty" stats --prometheus
prom e
is "$rc:$(q e 'len(f)'):$(q e 'len(f) == len(json.load(open(sys.argv[1].replace("e.json", "p.json")))["families"])')" "0:$(q p 'len(f)'):True" \
        "an empty cache exposes the same families"
is "$(m e 'dnsdisc_daemon_services{}')" 0.0 "an empty cache has 0 services"
if command -v promtool >/dev/null; then
        promtool check metrics <"$TESTDIR/e.out" >/dev/null 2>&1
        ok $? "promtool accepts the empty cache's metrics"
fi

# ---------------------------------------------------------------- text
capture t "$DNSDISCCTL" --cache "$cache" stats
is "$rc" 0 "stats exits 0"
is "$(cat "$TESTDIR/t.err")" "dnsdiscctl: warning: dnsdiscd has stopped, data is no longer refreshed" "stats warns that the data is not refreshed"
is "$(head -n 1 "$TESTDIR/t.out" | tr -s ' ')" \
        "SERVICE STATE UP DOWN UNKNOWN UNCHECKED PICKED QUERIES RESOLVED TIMEOUT SERVFAIL REFUSED NXDOMAIN NODATA OTHER CHECKS FAILED SKIPPED AGE" "stats: header row"
row() { awk -v k="$1" '$1 == k { $1 = $1; print }' "$TESTDIR/t.out"; }
is "$(row web | cut -d' ' -f2-18)" "ok 2 1 1 0 2 120 100 7 5 4 3 2 1 500 25 6" "stats: web's row"
# web's last good answer was 30 s before mkcache ran; a loaded machine takes its time to get
# here, so the bound is the time measured since then, not a fixed window.
age_s() { # "1min19s", "45s", "2h3min" -> seconds
        awk '{ n = 0; s = $0; while (match(s, /^[0-9]+(h|min|s)/)) { v = substr(s, 1, RLENGTH); u = v; sub(/^[0-9]+/, "", u); v += 0
                n += u == "h" ? v * 3600 : u == "min" ? v * 60 : v; s = substr(s, RLENGTH + 1) } print (s == "" ? n : -1) }' <<<"$1"
}
web_age=$(row web | cut -d' ' -f19)
num_between "$(age_s "$web_age")" 29 $((30 + $(date +%s) - made + 1))
ok $? "stats: web's age (got $web_age, $(($(date +%s) - made)) s after mkcache)"
is "$(row never | cut -d' ' -f2,8,18,19)" "pending 0 0 never" "stats: a service never resolved"
is "$(row panicky | cut -d' ' -f2,4,8,11)" "stale 2 9 9" "stats: panicky's row"
is "$(row 'a"b\c' | cut -d' ' -f3-7)" "0 0 0 1 1" "stats: a backend without health checks is unchecked, and picked"
is "$(awk -F': ' '$1 ~ /^ *(Services|Publishes|File replacements|Reloads)$/ { gsub(/^ +/, "", $1); printf "%s=%s;", $1, $2 }' "$TESTDIR/t.out")" \
        "Services=4;Publishes=14;File replacements=2;Reloads=3;" "stats: the daemon's counters"
grep -qxE ' +Probes: 600 \(30 failed, 8 skipped\)' "$TESTDIR/t.out"
ok $? "stats: the daemon's probes, failed and skipped"
grep -qE '^ +Daemon: stopped \(pid [0-9]+ exited; the cache is no longer refreshed\)$' "$TESTDIR/t.out"
ok $? "stats: the daemon stopped"

# ---------------------------------------------------------------- errors
capture nocache "$DNSDISCCTL" --cache "$TESTDIR/missing" stats --prometheus
is "$rc:$(cat "$TESTDIR/nocache.err")" "1:dnsdiscctl: cache $TESTDIR/missing: no cache file: dnsdiscd is not running" \
        "stats without a cache exits 1"
is "$(wc -c <"$TESTDIR/nocache.out")" 0 "and prints no half metrics"
for args in "list --prometheus" "stats --json" "stats extra" "show web --prometheus"; do
        # shellcheck disable=SC2086
        capture usage "$DNSDISCCTL" --cache "$cache" $args
        is "$rc" 2 "usage error: dnsdiscctl $args"
done
capture help "$DNSDISCCTL" stats --help
[ "$rc" -eq 0 ] && grep -q '^Usage: dnsdiscctl \[OPTIONS\] stats \[--prometheus\]' "$TESTDIR/help.out" && grep -q -- '--prometheus' "$TESTDIR/help.out"
ok $? "stats --help"

done_testing
