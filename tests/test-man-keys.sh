#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-man-keys.sh: dnsdisc.conf.5 documents exactly the keys the parser accepts, each in its section.
source "${top_srcdir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}/tests/lib.sh"

KEYS="$top_builddir/tests/config-keys"
MAN="$top_srcdir/daemon/dnsdisc.conf.5"

# "daemon KEY" / "service KEY" from the parser's own tables.
parser=$("$KEYS")
ok $? "config-keys lists the parser's keys"
[ -n "$parser" ]
ok $? "the parser accepts some keys"

# "CLASS KEY" for each entry of the man page: a .TP whose tag is '.B[IR] "KEY = "',
# CLASS from the .SS it is under (daemon, service or shared).
documented=$(awk '
        /^\.SS/ {
                cls = "other"
                if ($0 ~ /\[daemon\]/) cls = "daemon"
                else if ($0 ~ /\[register/) cls = "register"
                else if ($0 ~ /\[service/) cls = "service"
                else if ($0 ~ /Settings for services/) cls = "shared"
        }
        tp && /^\.B[IR]? "/ {
                s = $0
                sub(/^\.B[IR]? "/, "", s)
                if (i = index(s, " = \"")) {
                        key = substr(s, 1, i - 1)
                        gsub(/\\-/, "-", key)
                        print cls, key
                }
        }
        { tp = $0 ~ /^\.TP/ }
' "$MAN")
ok $? "dnsdisc.conf.5 parses"

# A key valid in both sections is a shared setting; otherwise it belongs to its one section.
class_of() {
        local in_daemon=0 in_service=0
        grep -qx "daemon $1" <<<"$parser" && in_daemon=1
        grep -qx "service $1" <<<"$parser" && in_service=1
        if [ $in_daemon = 1 ] && [ $in_service = 1 ]; then echo shared
        elif [ $in_daemon = 1 ]; then echo daemon
        elif [ $in_service = 1 ]; then echo service
        else echo none
        fi
}

for key in $(grep -v '^register ' <<<"$parser" | awk '{ print $2 }' | sort -u); do
        cls=$(class_of "$key")
        grep -qx "$cls $key" <<<"$documented"
        ok $? "'$key' is documented under its $cls section"
done

while read -r cls key; do
        [ -n "$key" ] || continue
        if [ "$cls" = register ]; then
                grep -qx "register $key" <<<"$parser"
                ok $? "documented '$key' is a [register] key of the parser"
                continue
        fi
        is "$(class_of "$key")" "$cls" "documented '$key' is a $cls key of the parser"
done <<<"$documented"

# [register NAME] entries may name several keys in one tag ("priority = n, weight = n").
register_text=$(sed -n '/^\.SS The \[register/,/^\.SS /p' "$MAN" | sed 's/\\-/-/g')
for key in $(sed -n 's/^register //p' <<<"$parser"); do
        grep -Eq "^\.(B|BI|BR|TQ)?.*[\" ]$key = " <<<"$register_text"
        ok $? "'$key' is documented under [register NAME]"
done

if command -v mandoc >/dev/null; then
        out=$(mandoc -Tlint -Wwarning "$MAN" 2>&1)
        ok $? "mandoc -Tlint finds nothing above style level"
        [ -z "$out" ] || diag "$out"
fi

# ---------------------------------------------------------------- dnsdiscctl.1: --json keys and metrics
CTLMAN="$top_srcdir/tools/dnsdiscctl.1"
TAGS="python3 $top_srcdir/tests/man-tags.py $CTLMAN"
for p in "$DNSDISCCTL" "$MKCACHE"; do
        [ -x "$p" ] || { ok 1 "$p is built"; done_testing; exit; }
done
# differ GOT DOC: the words in one list and not the other ("-name" missing from DOC, "+name" only in DOC).
differ() {
        comm -3 <(LC_ALL=C sort -u <<<"$1") <(LC_ALL=C sort -u <<<"$2") | sed 's/^\t\(.*\)/+\1/; s/^\([^+]\)/-\1/' | tr '\n' ' '
}

# A cache with every kind of field: SRV and host services, checked and unchecked backends.
"$MKCACHE" "$TESTDIR/cache" >/dev/null <<'EOF'
service web query=_http._tcp.web.example srv state=stale error=servfail last-good-ago=30
backend 192.0.2.10 8080 priority=10 weight=1 target=a.web.example checks=12 failures=1 latency-us=850 ok=11 last-check-ago=2
backend 2001:db8::1 8081 priority=10 weight=3 target=b.web.example health=down check-error=connrefused
service host query=host.example state=ok
backend 192.0.2.20 80 health=unchecked source=a
EOF
ok $? "mkcache writes a cache with every kind of field"

# json_keys services|backends: the keys dnsdiscctl --json prints for services (list and show) or backends (show).
json_keys() {
        { "$DNSDISCCTL" --cache "$TESTDIR/cache" --json list
          for s in web host; do "$DNSDISCCTL" --cache "$TESTDIR/cache" --json show "$s"; done; } 2>/dev/null |
                python3 -c '
import json, sys
keys = set()
for line in sys.stdin:
    v = json.loads(line)
    for o in (v if isinstance(v, list) else [v]):
        if sys.argv[1] == "services":
            keys.update(k for k in o if k != "backends")
        else:
            for b in o.get("backends", []):
                keys.update(b)
print("\n".join(sorted(keys)))' "$1"
}
got=$(json_keys services)
[ "$(wc -w <<<"$got")" -gt 5 ]
ok $? "dnsdiscctl --json list and show print service keys ($(wc -w <<<"$got"))"
is "$(differ "$got" "$($TAGS "JSON OUTPUT" '^Service keys' '^Backend keys')")" "" \
        "each service key of --json is documented in dnsdiscctl(1) JSON OUTPUT, and no other (-: undocumented, +: not printed)"
got=$(json_keys backends)
[ "$(wc -w <<<"$got")" -gt 5 ]
ok $? "dnsdiscctl --json show prints backend keys ($(wc -w <<<"$got"))"
is "$(differ "$got" "$($TAGS "JSON OUTPUT" '^Backend keys' '^\.SH')")" "" \
        "each backend key of --json is documented in dnsdiscctl(1) JSON OUTPUT, and no other"

got=$("$DNSDISCCTL" --cache "$TESTDIR/cache" stats --prometheus 2>/dev/null | awk '$1 == "#" && $2 == "TYPE" { print $3 }')
[ "$(wc -w <<<"$got")" -gt 10 ]
ok $? "dnsdiscctl stats --prometheus prints metric families ($(wc -w <<<"$got"))"
is "$(differ "$got" "$($TAGS METRICS | grep '^dnsdisc_')")" "" \
        "each Prometheus metric is documented in dnsdiscctl(1) METRICS, and no other"

if command -v mandoc >/dev/null; then
        out=$(mandoc -Tlint -Wwarning "$CTLMAN" 2>&1)
        ok $? "mandoc -Tlint finds nothing above style level in dnsdiscctl.1"
        [ -z "$out" ] || diag "$out"
fi

done_testing
