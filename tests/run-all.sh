#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# run-all.sh: the README test command: install, build, run every test of dnsdisc, print "N passed, N failed".
#
# Stages: make check (-Werror build), make distcheck, make check again under
# ASan+UBSan, the client stress test under TSan, and the fuzz targets for a
# bounded time. Each TAP result of a make check counts once; distcheck, the
# TSan run and each fuzz target count as one result each.
# The Python binding's pytest run (bindings/python, against the plain build)
# counts each of its tests; pytest failing without a failed test (exit 5: no
# test collected) counts as one failure. The Go bindings (tests/test-go.sh,
# against the plain build) count each of their TAP results.
# Last, a check that no test skipped for a package tools/setup.sh installs.
# On 2 cores: about 35 minutes, plus the packages on a fresh machine (README.md).
# Environment: FUZZ_SECONDS (default 60; 0 skips fuzzing), GO_FUZZ_SECONDS (default 30), SKIP_DISTCHECK=1.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
t0=$(date +%s)
passed=0
failed=0
failed_names=()

# Adds the TAP results of one automake test run (its .trs files) to the totals.
count_trs() {
        local dir=$1 p f log
        p=$(find "$dir" -name '*.trs' -exec grep -h '^:test-result: \(PASS\|XFAIL\|SKIP\)' {} + 2>/dev/null | wc -l)
        f=$(find "$dir" -name '*.trs' -exec grep -h '^:test-result: \(FAIL\|XPASS\|ERROR\)' {} + 2>/dev/null | wc -l)
        passed=$((passed + p))
        failed=$((failed + f))
        echo "$dir: $p passed, $f failed"
        for log in $(grep -l '^:test-result: \(FAIL\|XPASS\|ERROR\)' $(find "$dir" -name '*.trs') 2>/dev/null); do
                echo "--- ${log%.trs}.log (last lines)"
                tail -n 40 "${log%.trs}.log"
        done
}

# elapsed: minutes and seconds since the start, for the progress lines.
elapsed() { local s=$(($(date +%s) - t0)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

# step NAME CMD...: a whole command counted as one result.
step() {
        echo "=== $1 (at $(elapsed))"
        if "${@:2}"; then
                passed=$((passed + 1))
        else
                failed=$((failed + 1))
                failed_names+=("$1")
        fi
}

# check_build NAME BUILDDIR CONFIGURE-ARGS...: build and run make check in its own tree.
check_build() {
        local name=$1 dir=$2
        shift 2
        echo "=== $name: build (at $(elapsed))"
        if ! BUILDDIR="$dir" bash "$top/tools/setup.sh" "$@"; then
                failed=$((failed + 1))
                failed_names+=("$name build")
                return
        fi
        echo "=== $name: make check (at $(elapsed); 5-10 minutes on 2 cores)"
        find "$dir" -name '*.trs' -delete 2>/dev/null
        make -C "$dir" -j2 check >"$dir/check.out" 2>&1 || failed_names+=("$name make check")
        grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP):' "$dir/check.out" | grep -v '^PASS' || true
        count_trs "$dir"
}

# On failure, shows which tests failed and their logs: distcheck keeps its
# tree when it fails, so the .trs files are still there to read.
distcheck() {
        local log
        make -C "$top/build" distcheck >"$top/build/distcheck.log" 2>&1 && return 0
        grep -E '^(FAIL|ERROR|XPASS):' "$top/build/distcheck.log"
        for log in $(grep -l '^:test-result: \(FAIL\|XPASS\|ERROR\)' $(find "$top/build" -path '*/_build/*' -name '*.trs') 2>/dev/null); do
                echo "--- ${log%.trs}.log (last lines)"
                tail -n 60 "${log%.trs}.log"
        done
        tail -n 30 "$top/build/distcheck.log"
        return 1
}

tsan_stress() {
        local dir="$top/build-tsan"
        BUILDDIR="$dir" bash "$top/tools/setup.sh" --enable-sanitizers=thread >"$dir.log" 2>&1 || { tail -n 30 "$dir.log"; return 1; }
        make -C "$dir" tests/test-stress tests/test-pick tests/test-pick-least >>"$dir.log" 2>&1 || { tail -n 30 "$dir.log"; return 1; }
        (cd "$dir" && export TSAN_OPTIONS="halt_on_error=1" && ./tests/test-stress && ./tests/test-pick && ./tests/test-pick-least)
}

# python_binding: pytest over bindings/python (its lint tests run flake8 and mypy), Debian's python3.
python_binding() {
        local out rc n k p=0 f=0
        echo "=== python binding: pytest"
        out=$(cd "$top/bindings/python" && PYTHONDONTWRITEBYTECODE=1 top_srcdir="$top" top_builddir="$top/build" \
                /usr/bin/python3 -m pytest -q -rfEs -p no:cacheprovider tests 2>&1)
        rc=$?
        printf '%s\n' "$out" >"$top/build/python-binding.out" # read by tests/check-skips.sh
        tail -n 60 <<<"$out"
        # The summary line: "N passed, N failed, N skipped, N error(s) in S".
        for k in passed skipped failed error errors; do
                n=$(tail -n 1 <<<"$out" | grep -oE "[0-9]+ $k\b" | grep -oE '^[0-9]+')
                case $k in passed | skipped) p=$((p + ${n:-0})) ;; *) f=$((f + ${n:-0})) ;; esac
        done
        [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1 && failed_names+=("python binding: pytest exit $rc")
        echo "bindings/python: $p passed, $f failed"
        passed=$((passed + p))
        failed=$((failed + f))
}

# The test-only tools (other DNS servers, valgrind, strace, clang...) on top of what the demo needs.
echo "=== packages (at $(elapsed))"
bash "$top/tools/setup.sh" --tests --no-build || { echo "tools/setup.sh --tests failed"; echo "0 passed, 1 failed"; exit 1; }

# go_stage: tests/test-go.sh over the plain build (bindings/go: gofmt, go vet, go test
# against the C reader, GO_FUZZ_SECONDS of fuzzing (default 30), gRPC end to end).
# Each of its TAP results counts once; a bail-out counts as one failure.
go_stage() {
        local log=$top/build/test-go.log rc p f
        echo "=== go: bindings/go"
        top_builddir=$top/build GO_FUZZ_SECONDS=${GO_FUZZ_SECONDS:-30} bash "$top/tests/test-go.sh" >"$log" 2>&1
        rc=$?
        p=$(grep -c '^ok ' "$log") f=$(grep -c '^not ok ' "$log")
        [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
        passed=$((passed + p)) failed=$((failed + f))
        echo "bindings/go: $p passed, $f failed"
        grep -E '^(not ok|Bail out)|FIGURE' "$log"
        [ "$f" -eq 0 ] || { failed_names+=("go"); tail -n 40 "$log"; }
}

check_build "plain" "$top/build"
python_binding
[ "${SKIP_DISTCHECK:-0}" = 1 ] || step "make distcheck" distcheck
check_build "asan+ubsan" "$top/build-asan" --enable-sanitizers=address,undefined
step "tsan: client stress and pick tests" tsan_stress
go_stage
if [ "${FUZZ_SECONDS:-60}" != 0 ] && [ -f "$top/tests/fuzz/run.sh" ]; then
        for target in records cache config; do
                step "fuzz-$target ${FUZZ_SECONDS:-60}s" env FUZZ_TARGETS="$target" bash "$top/tests/fuzz/run.sh" "${FUZZ_SECONDS:-60}"
        done
fi

step "no test skipped for a package tools/setup.sh installs" bash "$top/tests/check-skips.sh" "$top/build" "$top/build-asan" "$top/build/python-binding.out"

echo "=== done in $(elapsed)"
[ ${#failed_names[@]} -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#failed_names[@]} -eq 0 ]
