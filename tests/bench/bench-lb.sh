#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench-lb.sh: cost of consistent-hash and least-request picks (time, instructions), of Maglev tables, and of tables in the cache.
#
# Usage: tests/bench/bench-lb.sh [BUILDDIR]
#   BUILDDIR: an optimised build without sanitizers (default: build/, as tools/setup.sh makes it).
# Prints a table; docs/performance.md ("Load-balancing policies") records and explains the figures.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
builddir=$(cd "${1:-$top/build}" && pwd)
bench=$builddir/tests/bench/bench-lb
picks=2000000

[ -x "$bench" ] || make -C "$builddir" tests/bench/bench-lb >/dev/null
if grep -q '^SANITIZER_CFLAGS = -f' "$builddir/Makefile" 2>/dev/null; then
        echo "bench-lb.sh: $builddir is a sanitizer build; use an optimised one" >&2
        exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-lb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
value() { awk -v k="$1" '$1 == k { print $2 }' "$tmp/timing"; }

echo "timing picks, table builds, publishes, cold starts..." >&2
"$bench" >"$tmp/timing" 2>"$tmp/timing.err"

# Instructions per pick: callgrind over N picks minus the same run with 0, and dnsdisc_pick_*'s own inclusive cost.
declare -A per_call inside
for what in hash least; do
        per_call[$what]=n/a inside[$what]=n/a
        command -v valgrind >/dev/null || continue
        for n in "$picks" 0; do
                valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$what.$n" "$bench" --callgrind "$what" "$n" \
                        >/dev/null 2>"$tmp/cg.$what.$n.log"
        done
        per_call[$what]=$(awk -v n="$picks" 'FNR == 1 { f++ } /^summary:/ { t[f] = $2 } END { printf "%.1f", (t[1] - t[2]) / n }' \
                "$tmp/cg.$what.$picks" "$tmp/cg.$what.0")
        inside[$what]=$(callgrind_annotate --inclusive=yes "$tmp/cg.$what.$picks" 2>/dev/null |
                awk -v n="$picks" -v f="dnsdisc_pick_$what" '!/=>/ && index($0, ":" f) { gsub(",", "", $1); if ($1 + 0 > max) max = $1 + 0 }
                        END { if (max) printf "%.1f", max / (n + 1) }')
done

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo
echo "load-balancing policies, $cpu, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "picks: a service of 10 equal backends with a 65537-entry table"
row() { printf '%-62s %12s %10s\n' "$@"; }
row "measure" "value" "target"
row "dnsdisc_pick_hash, 1 thread, median" "$(value pick_hash_1thread_median_ns) ns" "<= 10 ns"
row "instructions in dnsdisc_pick_hash (callgrind, inclusive)" "${inside[hash]}" "<= 50"
row "instructions per pick_hash with the caller's loop and call" "${per_call[hash]}"
row "dnsdisc_hash of 8 bytes, median" "$(value hash_8bytes_median_ns) ns"
row "dnsdisc_pick_least, 1 thread, median" "$(value pick_least_1thread_median_ns) ns" "<= 25 ns"
row "dnsdisc_pick_least + dnsdisc_release, 1 thread, median" "$(value pick_least_release_1thread_median_ns) ns"
row "instructions in dnsdisc_pick_least (callgrind, inclusive)" "${inside[least]}"
for c in 4_backends_65537 100_backends_65537 1000_backends_65537 4_backends_4093; do
        row "maglev_build, ${c//_/ } entries, median" "$(value "maglev_build_${c}_median_ms") ms"
done
row "publish 100 backends, M 65537, set changed (table rebuilt)" "$(value publish_100_backends_65537_set_change_median_ms) ms" "<= 5 ms"
row "publish 100 backends, M 65537, TTLs only (table copied)" "$(value publish_100_backends_65537_ttl_only_median_ms) ms"
for c in 10000_services_no_table 1000_services_no_table 1000_services_maglev_4093 1000_services_maglev_65537; do
        row "cold publish, ${c//_/ } (4 backends each): time" "$(value "cold_${c}_ms") ms"
        row "  file size / RSS of the writer" "$(value "cold_${c}_file_mib") / $(value "cold_${c}_rss_mib") MiB"
done
