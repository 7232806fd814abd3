#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# run.sh [SECONDS]: builds the libFuzzer targets with clang and fuzzes each for SECONDS (default 60), one at a time.
#
# Each target starts from a copy of its committed corpus (tests/fuzz/corpus-NAME:
# seeds from mkseeds.py, and fuzz-* inputs kept from earlier runs) plus its
# crash reproducers (regressions-NAME, read only). Prints per target the
# executions, exec/s, coverage (edges), features, corpus size and crashes.
# Exits 1 if any target crashed: the input is kept under the work directory
# (printed, and base64 in the log for CI); once fixed, commit it to
# regressions-NAME/ so that make check (test-fuzz-regressions.sh) replays it.
#
# Environment: CLANG (default clang), FUZZ_WORKDIR (default: a new temporary
# directory, removed unless a target crashed), FUZZ_TARGETS (default "records
# cache config notify").
set -u

seconds=${1:-60}
# 0 would mean no limit to libFuzzer.
case $seconds in
''|*[!0-9]*|0) echo "usage: $0 [SECONDS]   (SECONDS >= 1)" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
clang=${CLANG:-clang}
targets=${FUZZ_TARGETS:-records cache config notify}

command -v "$clang" >/dev/null || { echo "$0: $clang not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }
command -v pkg-config >/dev/null || { echo "$0: pkg-config not found" >&2; exit 2; }

if [ -n "${FUZZ_WORKDIR:-}" ]; then
        work=$FUZZ_WORKDIR
        mkdir -p "$work"
        keep=1
else
        work=$(mktemp -d "${TMPDIR:-/tmp}/dnsdisc-fuzz.XXXXXX")
        keep=0
fi
cleanup() { [ "$keep" -eq 1 ] || rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# -fno-sanitize-recover: a UBSan finding must stop the run like an ASan one.
# shellcheck disable=SC2054 # the commas are clang's
cflags=(-g -O1 -std=gnu11 -D_GNU_SOURCE -DFUZZING -DPACKAGE_VERSION='"fuzz"' -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
        -fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
        -I"$top/cachefile" -I"$top/libclient" -I"$top/daemon" -I"$here")
# shellcheck disable=SC2207
ldns=($(pkg-config --cflags --libs ldns)) inih=($(pkg-config --cflags --libs inih))
# shellcheck disable=SC2207
systemd=($(pkg-config --cflags --libs libsystemd))

build() { # build NAME CLANG-ARGS...: fuzz-NAME in the work directory
        local name=$1; shift
        echo "building fuzz-$name"
        "$clang" "${cflags[@]}" -o "$work/fuzz-$name" "$@" 2>"$work/build-$name.log" ||
                { cat "$work/build-$name.log" >&2; echo "$0: building fuzz-$name failed" >&2; keep=1; exit 2; }
}

for t in $targets; do
        case $t in
        records) build records "$here/fuzz-records.c" "$top/daemon/records.c" "$top/daemon/update-wire.c" \
                "$top/daemon/tsig.c" "${ldns[@]}" ;;
        cache) build cache -Dmmap=fuzz_mmap -Dmunmap=fuzz_munmap "$here/fuzz-cache.c" "$top"/libclient/*.c \
                "$top/cachefile/cache-file.c" -lpthread ;;
        config) build config "$here/fuzz-config.c" "$top"/daemon/config*.c "$top/daemon/maglev.c" "$top/daemon/log.c" \
                "$top/daemon/records.c" "$top/daemon/notify.c" "$top/daemon/notify-wire.c" "$top/daemon/tsig.c" "${inih[@]}" \
                "${ldns[@]}" "${systemd[@]}" ;;
        notify) build notify "$here/fuzz-notify.c" "$top/daemon/notify-wire.c" "$top/daemon/records.c" "$top/daemon/tsig.c" \
                "${ldns[@]}" ;;
        *) echo "$0: unknown target '$t'" >&2; exit 2 ;;
        esac
done

crashed=0
printf '\n%-8s %12s %8s %8s %8s %10s %8s\n' target execs exec/s cov ft corpus crashes
summary=()
for t in $targets; do
        corpus=$work/corpus-$t
        artifacts=$work/crashes-$t
        rm -rf "$corpus" "$artifacts" && mkdir -p "$corpus" "$artifacts"
        cp "$here/corpus-$t"/* "$corpus"/ 2>/dev/null
        extra=()
        [ -d "$here/regressions-$t" ] && extra+=("$here/regressions-$t")

        "$work/fuzz-$t" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
                -artifact_prefix="$artifacts/" "$corpus" "${extra[@]}" >"$work/fuzz-$t.log" 2>&1
        rc=$?

        log=$work/fuzz-$t.log
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
        # The last status line ("#N  DONE  cov: C ft: F corp: U/S ...") carries coverage and corpus size.
        status=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
        cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$status")
        ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status")
        corp=$(sed -n 's/.* corp: \([^ ]*\).*/\1/p' <<<"$status")
        n_crash=$(find "$artifacts" -type f | wc -l)
        if [ "$rc" -ne 0 ] && [ "$n_crash" -eq 0 ]; then
                n_crash=1 # died without an artifact (e.g. out of memory in the fuzzer itself)
        fi
        printf '%-8s %12s %8s %8s %8s %10s %8s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" \
                "${corp:-?}" "$n_crash"
        if [ "$n_crash" -gt 0 ]; then
                crashed=1
                keep=1
                summary+=("fuzz-$t: exit status $rc, log $log")
                for f in "$artifacts"/*; do
                        [ -f "$f" ] || continue
                        summary+=("  input $f ($(stat -c %s "$f") bytes), base64:" "$(base64 -w 76 "$f" | head -c 65536)")
                done
                summary+=("$(grep -A 30 -m 1 -E '^==[0-9]+==ERROR|runtime error|assertion failed|deadly signal' "$log")")
        fi
done

if [ "$crashed" -ne 0 ]; then
        echo
        printf '%s\n' "${summary[@]}"
        echo "$0: crash found; work directory kept: $work" >&2
        exit 1
fi
exit 0
