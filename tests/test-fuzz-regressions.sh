#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-fuzz-regressions.sh: replays the fuzz seed corpora and crash reproducers (tests/fuzz/) through the fuzz targets.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

fuzz=$top_srcdir/tests/fuzz

for t in records cache config notify; do
        prog=$top_builddir/tests/fuzz/fuzz-$t
        if [ ! -x "$prog" ]; then
                ok 1 "fuzz-$t is built"
                continue
        fi
        for dir in "$fuzz/corpus-$t" "$fuzz/regressions-$t"; do
                # Reproducers exist only for targets that crashed once; a corpus must exist.
                if [ ! -d "$dir" ] && [[ $dir == */regressions-* ]]; then
                        continue
                fi
                want=$(find "$dir" -maxdepth 1 -type f ! -name '.*' 2>/dev/null | wc -l)
                out=$("$prog" "$dir" 2>"$TESTDIR/fuzz-$t.err")
                rc=$?
                [ "$rc" -eq 0 ] && [ "$out" = "replayed $want inputs" ] && [ "$want" -gt 0 ]
                ok $? "fuzz-$t replays ${dir##*/} ($want inputs) without a crash"
                if [ "$rc" -ne 0 ]; then
                        diag "exit status $rc; stdout: $out"
                        head -n 40 "$TESTDIR/fuzz-$t.err" | while IFS= read -r l; do diag "$l"; done
                fi
        done
done

done_testing
