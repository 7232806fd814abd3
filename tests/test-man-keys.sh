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

for key in $(awk '{ print $2 }' <<<"$parser" | sort -u); do
        cls=$(class_of "$key")
        grep -qx "$cls $key" <<<"$documented"
        ok $? "'$key' is documented under its $cls section"
done

while read -r cls key; do
        [ -n "$key" ] || continue
        is "$(class_of "$key")" "$cls" "documented '$key' is a $cls key of the parser"
done <<<"$documented"

if command -v mandoc >/dev/null; then
        out=$(mandoc -Tlint -Wwarning "$MAN" 2>&1)
        ok $? "mandoc -Tlint finds nothing above style level"
        [ -z "$out" ] || diag "$out"
fi

done_testing
