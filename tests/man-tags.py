#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# man-tags.py: the words a man page documents as .TP tags in one section, for test-man-keys.sh.
"""Usage: man-tags.py PAGE SECTION [FROM TO]

Prints, sorted and one a line, the identifiers in the tag lines (the line
after .TP) of the .SH SECTION of PAGE, between the first line matching the
regular expression FROM and the next matching TO when given. Font escapes
are dropped, and so are {label} lists (metric labels)."""
import re
import sys

MACROS = {"B", "BR", "RB", "BI", "IB", "I", "IR", "RI"}


def tags(page, section, start=None, stop=None):
    inside, on, tp, words = False, start is None, False, set()
    with open(page, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith(".SH"):
                inside = line[3:].strip().strip('"') == section
                tp = False
                continue
            if not inside:
                continue
            if start and not on and re.search(start, line):
                on = True
            elif stop and on and re.search(stop, line):
                on = False
            if on and tp:
                text = re.sub(r"\\f[BIRP]", " ", line).replace("\\-", "-")
                text = re.sub(r"\{[^}]*\}", " ", text)
                words.update(w for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text) if w not in MACROS)
            tp = line.startswith(".TP")
    return sorted(words)


if __name__ == "__main__":
    if len(sys.argv) not in (3, 5):
        sys.exit(__doc__)
    print("\n".join(tags(*sys.argv[1:])))
