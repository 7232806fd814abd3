#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# check-skips.sh: fails if a test skipped for want of a program or package that tools/setup.sh installs.
#
# Usage: tests/check-skips.sh DIR|FILE...   (build trees whose make check ran, whose tests' .log files
#   are read; or files of pytest -rs output, whose "SKIPPED [N] file:line: reason" lines are read)
# A test may skip only for a real limit of the machine. A skip line naming a package of
# setup.sh's lists, or a command one of them provides, as missing ("not installed", "not
# found", "missing", "no such") is the setup's fault: it is listed and the script exits 1.
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Names setup.sh can bring: its packages and the commands they install (where installed,
# dpkg knows the commands; where not, the package name alone still matches).
names=$(bash "$top/tools/setup.sh" --tests --list) || { echo "check-skips: setup.sh --list failed" >&2; exit 2; }
cmds=$(for p in $names; do dpkg -L "$p" 2>/dev/null; done | grep -E '/s?bin/[^/]+$' | sed 's|.*/||')
words=$(printf '%s\n' $names $cmds | sort -u | sed 's/[.+]/\\&/g' | paste -sd'|')

dirs=() files=() a=
for a in "$@"; do
        if [ -d "$a" ]; then dirs+=("$a"); elif [ -f "$a" ]; then files+=("$a"); fi
done
skips=$({
        [ ${#dirs[@]} -gt 0 ] && find "${dirs[@]}" -name '*.log' -path '*tests/*' -exec grep -H -E '# SKIP' {} + 2>/dev/null |
                grep -E '^[^:]+:(ok [0-9]+|1\.\.0)'
        [ ${#files[@]} -gt 0 ] && grep -H -E '^SKIPPED \[' "${files[@]}"
} | sort -u)
n=$(grep -c . <<<"$skips")
bad=$(grep -iE "(not installed|not found|missing|no such|unavailable)" <<<"$skips" |
        grep -E "(^|[^A-Za-z0-9_.+-])($words)([^A-Za-z0-9_+-]|$)" || true)
echo "check-skips: $n skipped test lines read in $*"
if [ -n "$bad" ]; then
        echo "check-skips: skipped for what tools/setup.sh installs (add it to the setup, or fix the test's probe):"
        sed 's/^/  /' <<<"$bad"
        exit 1
fi
# Show the others, so that a reader sees what the machine could not do.
[ -n "$skips" ] && sed 's/^/  skipped (machine limit): /' <<<"$skips"
exit 0
