#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# load.sh: runs a command while busy loops load every core (default: two, as on a 2-core CI machine).
#
# Usage: bash tests/load.sh [-n LOOPS] COMMAND [ARG...]
#   e.g. bash tests/load.sh make -C build check TESTS='tests/test-chaos.sh'
#        bash tests/load.sh bash tests/run-all.sh
#   The loops are plain shell busy loops at normal priority, like a parallel
#   build on the same machine; they are stopped when the command ends or the
#   script is interrupted. Prints the command's wall time and exits with its status.
set -uo pipefail

loops=2
if [ "${1:-}" = -n ]; then
        loops=$2
        shift 2
fi
[ $# -gt 0 ] || { sed -n '3,10s/^# \{0,1\}//p' "$0" >&2; exit 2; }

pids=()
stop() {
        local p
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
        for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
        pids=()
}
trap stop EXIT
trap 'exit 130' INT TERM
for ((i = 0; i < loops; i++)); do
        # A busy loop that also ends by itself should this script be killed with SIGKILL:
        # it checks every million turns that its parent is still there.
        bash -c 'parent=$1; while kill -0 "$parent" 2>/dev/null; do for ((j = 0; j < 1000000; j++)); do :; done; done' \
                load "$$" &
        pids+=("$!")
done
echo "load.sh: $loops busy loops (pids ${pids[*]}) while running: $*" >&2
start=$(date +%s)
"$@"
rc=$?
echo "load.sh: $* exited $rc after $(($(date +%s) - start)) s under $loops busy loops" >&2
exit "$rc"
