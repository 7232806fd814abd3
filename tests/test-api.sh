#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-api.sh: <dnsdisc.h> declares exactly the functions libdnsdisc exports, each under one name and no macro.
source "${top_srcdir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}/tests/lib.sh"

HEADER="$top_srcdir/libclient/dnsdisc.h"
SYM="$top_srcdir/libclient/libdnsdisc.sym"
LIB="$top_builddir/libclient/.libs/libdnsdisc.so"
CC=${CC:-cc}

[ -e "$LIB" ] || skip_all "no shared libdnsdisc in the build (configured with --disable-shared)"

# A function-like macro gives a call two spellings and is invisible to ctypes or cgo.
macros=$(grep -E '^[[:space:]]*#[[:space:]]*define[[:space:]]+[A-Za-z_0-9]+\(' "$HEADER")
is "$macros" "" "the header defines no function-like macro"

# Functions the header declares: "TYPE NAME(" at the start of a line (prototypes are one per line).
declared=$(sed -n -E 's/^[a-z_A-Z0-9 ]+[ *]+(dnsdisc_[a-z_0-9]+)\(.*/\1/p' "$HEADER" | LC_ALL=C sort -u)
[ "$(printf '%s\n' "$declared" | wc -l)" -ge 20 ]
ok $? "the header's prototypes are found ($(printf '%s\n' "$declared" | wc -l))"

exported=$(nm -D --defined-only "$LIB" | awk '$2 == "T" { print $3 }' | sed 's/@.*//' | LC_ALL=C sort -u)
is "$exported" "$declared" "the library exports exactly the declared functions"

listed=$(grep -E '^[[:space:]]+dnsdisc_[a-z_0-9]+;' "$SYM" | tr -d ' \t;' | LC_ALL=C sort -u)
is "$listed" "$declared" "libdnsdisc.sym lists exactly the declared functions"

# Symbols added after the first release carry a newer version node than LIBDNSDISC_0.
ver=$(nm -D --defined-only "$LIB" | awk '$3 ~ /^dnsdisc_version@/ { print $3 }')
is "$ver" "dnsdisc_version@@LIBDNSDISC_1" "dnsdisc_version is in version node LIBDNSDISC_1"

# The type names are free for declarators that a macro of the same name broke.
cat >"$TESTDIR/decl.c" <<'EOF'
#include <dnsdisc.h>
#include <string.h>

int main(void) {
        dnsdisc_service *handles[4] = { 0 };
        dnsdisc_service *(*v)[4] = &handles;
        dnsdisc_service_info info;
        dnsdisc_daemon_info (di);
        int (*get)(dnsdisc *, const char *, dnsdisc_service **) = dnsdisc_service_get;

        memset(&info, 0, sizeof(info));
        memset(&di, 0, sizeof(di));
        return (*v)[0] != NULL || get == NULL || strlen(dnsdisc_version()) == 0;
}
EOF
$CC ${DD_SANITIZERS:-} -Wall -Wextra -Werror -I"$top_srcdir/libclient" -o "$TESTDIR/decl" "$TESTDIR/decl.c" \
        -L"$top_builddir/libclient/.libs" -ldnsdisc 2>"$TESTDIR/cc.err"
ok $? "declarations that use the type names compile$( [ -s "$TESTDIR/cc.err" ] && printf ': %s' "$(head -3 "$TESTDIR/cc.err")")"
LD_LIBRARY_PATH="$top_builddir/libclient/.libs" "$TESTDIR/decl"
ok $? "and run"

# The version the library reports is the one configure was given.
pkgver=$(sed -n -E 's/^#define PACKAGE_VERSION "(.*)"$/\1/p' "$top_builddir/config.h")
# A sanitizer build's runtime must be loaded first: preload it into Python.
preload=$(ldd "$LIB" | awk '$1 ~ /^lib(a|ub|t)san/ { print $3 }' | paste -sd: -)
got=$(LD_PRELOAD="$preload" ASAN_OPTIONS=detect_leaks=0 /usr/bin/python3 -c 'import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
lib.dnsdisc_version.restype = ctypes.c_char_p
print(lib.dnsdisc_version().decode())' "$LIB")
is "$got" "$pkgver" "dnsdisc_version() through ctypes is the package version"

done_testing
