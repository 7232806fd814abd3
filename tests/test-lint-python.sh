#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-lint-python.sh: flake8, with the top .flake8, finds nothing in any Python file of the sources.
source "${top_srcdir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}/tests/lib.sh"

cd "$top_srcdir" || exit 1

# The tracked files in a git checkout; in a tarball (make distcheck), every *.py
# outside build trees (any directory holding a config.status) and caches.
if [ -e .git ] && git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        files=$(git ls-files '*.py')
else
        files=$(find . \( -name .git -o -name __pycache__ -o -exec test -e {}/config.status \; \) -prune \
                -o -type f -name '*.py' -print | sed 's|^\./||' | sort)
fi
[ -n "$files" ]
ok $? "the sources hold Python files ($(grep -c . <<<"$files"))"

command -v flake8 >/dev/null
ok $? "flake8 is installed (tools/setup.sh --tests installs it)"

# One run over all of them; then each file's findings, so a failure names its file.
# shellcheck disable=SC2086
out=$(flake8 --config .flake8 $files 2>&1)
rc=$?
[ "$rc" -le 1 ]
ok $? "flake8 ran (exit $rc)"
[ "$rc" -gt 1 ] && diag "$out"
for f in $files; do
        found=$(awk -v f="$f:" 'index($0, f) == 1' <<<"$out")
        [ -n "$found" ] && diag "$found"
        [ -z "$found" ]
        ok $? "flake8 finds nothing in $f"
done
[ "$rc" -eq 0 ]
ok $? "flake8 exits 0 over all of them"

done_testing
