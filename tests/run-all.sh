#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# run-all.sh: the README test command: install, build, run every test of dnsdisc, print "N passed, N failed".
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
builddir=${BUILDDIR:-$top/build}
passed=0
failed=0
failed_names=()

# Adds the TAP results of one automake test run (its .trs files) to the totals.
count_trs() {
        local dir=$1 p f
        p=$(find "$dir" -name '*.trs' -exec grep -h '^:test-result: \(PASS\|XFAIL\|SKIP\)' {} + 2>/dev/null | wc -l)
        f=$(find "$dir" -name '*.trs' -exec grep -h '^:test-result: \(FAIL\|XPASS\|ERROR\)' {} + 2>/dev/null | wc -l)
        passed=$((passed + p))
        failed=$((failed + f))
}

step() { # step NAME CMD...: a whole step counted as one result
        echo "=== $1"
        if "${@:2}"; then passed=$((passed + 1)); else failed=$((failed + 1)); failed_names+=("$1"); fi
}

if ! bash "$top/tools/setup.sh"; then
        echo "build failed"
        echo "0 passed, 1 failed"
        exit 1
fi

echo "=== make check"
find "$builddir" -name '*.trs' -delete 2>/dev/null
make -C "$builddir" -j2 check || failed_names+=("make check")
count_trs "$builddir"
for log in $(grep -l '^:test-result: \(FAIL\|ERROR\)' $(find "$builddir" -name '*.trs') 2>/dev/null); do
        echo "--- ${log%.trs}.log"
        tail -n 40 "${log%.trs}.log"
done

step "make distcheck" make -C "$builddir" distcheck >"$builddir/distcheck.log" 2>&1 \
        || tail -n 60 "$builddir/distcheck.log"

[ ${#failed_names[@]} -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#failed_names[@]} -eq 0 ]
