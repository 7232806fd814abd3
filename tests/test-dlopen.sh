#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-dlopen.sh: libdnsdisc loads with dlopen(), from Python's ctypes and after libraries that used up the static TLS surplus.
source "${top_srcdir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}/tests/lib.sh"

LIB="$top_builddir/libclient/.libs/libdnsdisc.so"
CLIENT="$top_builddir/tests/dlopen-client"
CC=${CC:-cc}
for p in "$LIB" "$CLIENT" "$MKCACHE"; do
        [ -e "$p" ] || skip_all "$p not built"
done

# A sanitizer build's runtime must be loaded before anything else.
preload=$(ldd "$LIB" | awk '$1 ~ /^lib(a|ub|t)san/ { print $3 }' | paste -sd: -)
export ASAN_OPTIONS=detect_leaks=0

# Three backends of equal weight: ports 7001..7003.
printf 'service api\nbackend 127.0.0.1 7001\nbackend 127.0.0.1 7002\nbackend 127.0.0.1 7003\n' |
        "$MKCACHE" "$TESTDIR/cache"
ok $? "mkcache wrote a cache"

# Libraries with initial-exec TLS, as some that programs dlopen() have: each takes its
# block from the static TLS surplus that glibc keeps for dlopen(), until none is left.
printf 'static __thread char block[256] __attribute__((tls_model("initial-exec")));\nchar *filler(void) { return block; }\n' \
        >"$TESTDIR/filler.c"
fillers=()
for i in $(seq 1 16); do
        $CC -shared -fPIC -o "$TESTDIR/filler$i.so" "$TESTDIR/filler.c" || break
        fillers+=("$TESTDIR/filler$i.so")
done
is "${#fillers[@]}" 16 "16 libraries with 256 bytes of initial-exec TLS each were built"

# How many of them fit: dlopen() of the next one fails. The surplus must be used up for the test to mean anything.
fit=0
while [ "$fit" -lt "${#fillers[@]}" ] &&
        LD_PRELOAD="$preload" "$CLIENT" "${fillers[$fit]}" - - 0 "${fillers[@]:0:$fit}" >/dev/null 2>&1; do
        fit=$((fit + 1))
done
[ "$fit" -lt "${#fillers[@]}" ]
ok $? "the fillers use up the static TLS surplus ($fit fit, the next one does not load)"

# Both threads' picks and random picks spread over the three backends (600 picks each way per thread).
spread() { awk 'NF == 2 && $2 >= 300 && $2 <= 500 { n++ } END { exit n != 3 }' "$1"; }

LD_PRELOAD="$preload" "$CLIENT" "$LIB" "$TESTDIR/cache" api 300 >"$TESTDIR/alone.out" 2>"$TESTDIR/alone.err"
ok $? "dlopen() alone: loads and picks$([ -s "$TESTDIR/alone.err" ] && printf ': %s' "$(head -n 1 "$TESTDIR/alone.err")")"
spread "$TESTDIR/alone.out"
ok $? "dlopen() alone: two threads' picks spread over the three backends ($(tr '\n' ' ' <"$TESTDIR/alone.out"))"

LD_PRELOAD="$preload" "$CLIENT" "$LIB" "$TESTDIR/cache" api 300 "${fillers[@]:0:$fit}" \
        >"$TESTDIR/full.out" 2>"$TESTDIR/full.err"
ok $? "dlopen() after $fit fillers: loads and picks$([ -s "$TESTDIR/full.err" ] && printf ': %s' "$(head -n 1 "$TESTDIR/full.err")")"
spread "$TESTDIR/full.out"
ok $? "dlopen() after $fit fillers: two threads' picks spread over the three backends ($(tr '\n' ' ' <"$TESTDIR/full.out"))"

# Python's ctypes, the way the Python binding loads it.
cat >"$TESTDIR/load.py" <<'PY'
import ctypes
import sys

lib = ctypes.CDLL(sys.argv[1])
lib.dnsdisc_close.restype = ctypes.c_void_p
d, s = ctypes.c_void_p(), ctypes.c_void_p()
e = ctypes.create_string_buffer(128)
buf = ctypes.create_string_buffer(64)
assert lib.dnsdisc_open(sys.argv[2].encode(), ctypes.byref(d)) == 0
assert lib.dnsdisc_service_get(d, b"api", ctypes.byref(s)) == 0
seen = set()
for _ in range(3):
    assert lib.dnsdisc_pick(s, e) == 0
    assert lib.dnsdisc_endpoint_format(e, buf, 64) == 0
    seen.add(buf.value.decode())
lib.dnsdisc_close(d)
print(" ".join(sorted(seen)))
PY
got=$(LD_PRELOAD="$preload" /usr/bin/python3 "$TESTDIR/load.py" "$LIB" "$TESTDIR/cache" 2>&1)
is "$got" "127.0.0.1:7001 127.0.0.1:7002 127.0.0.1:7003" "Python's ctypes loads it and three picks return the three backends"

done_testing
