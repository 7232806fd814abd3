# SPDX-License-Identifier: LGPL-2.1-or-later
# lib.sh: TAP helpers for the shell integration tests (sourced; bash).
# Every script: source lib.sh, call tests, end with done_testing.

set -u
: "${top_builddir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
DNSDISCCTL="$top_builddir/tools/dnsdiscctl"
DNSDISCD="$top_builddir/daemon/dnsdiscd"
MKCACHE="$top_builddir/tests/mkcache"
FAKEDNS="$top_builddir/tests/fakedns"

_tap_n=0
_tap_failed=0
_cleanup_cmds=()

# A private temporary directory, removed on exit along with registered cleanups.
TESTDIR=$(mktemp -d "${TMPDIR:-/tmp}/dnsdisc-test.XXXXXX")
at_exit() { _cleanup_cmds+=("$*"); }
_run_cleanups() {
        local i
        for ((i = ${#_cleanup_cmds[@]} - 1; i >= 0; i--)); do eval "${_cleanup_cmds[$i]}" || true; done
        rm -rf "$TESTDIR"
}
trap _run_cleanups EXIT
trap 'exit 130' INT TERM

ok() { # ok CONDITION-EXIT-STATUS DESCRIPTION  (use: cmd; ok $? "desc")
        _tap_n=$((_tap_n + 1))
        if [ "$1" -eq 0 ]; then echo "ok $_tap_n - $2"; else echo "not ok $_tap_n - $2"; _tap_failed=$((_tap_failed + 1)); fi
}
is() { # is GOT EXPECTED DESCRIPTION
        _tap_n=$((_tap_n + 1))
        if [ "$1" = "$2" ]; then echo "ok $_tap_n - $3"
        else
                echo "not ok $_tap_n - $3"
                printf '#   got:      %s\n#   expected: %s\n' "$1" "$2" | sed 's/^/# /'
                _tap_failed=$((_tap_failed + 1))
        fi
}
diag() { printf '%s\n' "$*" | sed 's/^/# /'; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
# need_built PROGRAM...: skip the whole script unless every PROGRAM (a path in the build tree) is there.
need_built() {
        local p
        for p in "$@"; do [ -x "$p" ] || skip_all "$p not built"; done
}
done_testing() { echo "1..$_tap_n"; [ "$_tap_failed" -eq 0 ]; }

# capture NAME CMD...: stdout in $TESTDIR/NAME.out, stderr in NAME.err, exit status in $rc;
# out NAME and err NAME print them.
capture() {
        local name=$1; shift
        "$@" >"$TESTDIR/$name.out" 2>"$TESTDIR/$name.err"
        rc=$?
}
out() { cat "$TESTDIR/$1.out"; }
err() { cat "$TESTDIR/$1.err"; }

# wait_until TIMEOUT_SECONDS CMD...: poll CMD every 0.1 s until it succeeds; 1 on timeout.
wait_until() {
        local limit=$1; shift
        local end=$(($(date +%s%N) + limit * 1000000000))
        while [ "$(date +%s%N)" -lt "$end" ]; do
                "$@" >/dev/null 2>&1 && return 0
                sleep 0.1
        done
        return 1
}

# wait_progress STALL_S CAP_S CMD...: poll CMD (it prints a count of what is left to do) every
# 0.1 s until it prints 0. A bound from measured progress: fails only when the count has not
# gone down for STALL_S seconds, or after CAP_S in all; a slow machine that keeps progressing
# is waited for. Prints the last count.
wait_progress() {
        local stall=$1 cap=$2 n best now end_all end_stall
        shift 2
        now=$(date +%s%N)
        end_all=$((now + cap * 1000000000)) end_stall=$((now + stall * 1000000000))
        best=
        while :; do
                n=$("$@" 2>/dev/null)
                [ "$n" = 0 ] && { echo 0; return 0; }
                now=$(date +%s%N)
                if [ -n "$n" ] && { [ -z "$best" ] || [ "$n" -lt "$best" ]; }; then
                        best=$n end_stall=$((now + stall * 1000000000))
                fi
                [ "$now" -lt "$end_stall" ] && [ "$now" -lt "$end_all" ] || { echo "${n:-?}"; return 1; }
                sleep 0.1
        done
}

# free_port: a TCP/UDP port on 127.0.0.1 nobody listens on now: 20000-31999, below the kernel's
# ephemeral range (32768 up), so no outgoing connection or query takes it before the test binds it.
free_port() {
        local p
        for _ in $(seq 1 200); do
                p=$((20000 + RANDOM % 12000))
                if ! (ss -Hltun 2>/dev/null | awk '{print $5}' | grep -q ":$p\$"); then echo "$p"; return 0; fi
        done
        return 1
}

# reachable_copy VAR PROGRAM: sets VAR to the path of a copy of the built PROGRAM that any user can run, for
# tests that act as another user (setpriv --reuid=nobody). The build tree may sit where that user
# cannot reach it (a checkout in a 0700 home directory is the common case), so the real binary
# (behind libtool's wrapper script) and the build's libdnsdisc are copied to a directory of /tmp
# (not $TMPDIR, which may be private too) that any user can read, removed at exit. Not in $(...):
# its subshell would lose the cleanup.
_reach_dir=
reachable_copy() {
        local var=$1 prog=$2 name=${2##*/} real=$2 lib
        if [ -z "$_reach_dir" ]; then
                _reach_dir=$(mktemp -d /tmp/dnsdisc-reach.XXXXXX) || return 1
                at_exit 'rm -rf "$_reach_dir"'
                mkdir "$_reach_dir/bin" "$_reach_dir/lib" "$_reach_dir/libexec" || return 1
                chmod 0755 "$_reach_dir" "$_reach_dir/bin" "$_reach_dir/lib" "$_reach_dir/libexec" || return 1
                for lib in "$top_builddir"/libclient/.libs/libdnsdisc.so*; do
                        [ -e "$lib" ] && { cp -P "$lib" "$_reach_dir/lib/" || return 1; }
                done
        fi
        if [ "$(head -c 2 "$prog")" = '#!' ]; then # libtool's wrapper: the program is in .libs
                real=${prog%/*}/.libs/$name
                [ -x "$real" ] || real=${prog%/*}/.libs/lt-$name
        fi
        [ -x "$real" ] || { echo "reachable_copy: no binary for $prog" >&2; return 1; }
        # Under its own name, which it may print or look for in /proc.
        cp "$real" "$_reach_dir/libexec/$name" && chmod 0755 "$_reach_dir/libexec/$name" || return 1
        printf '#!/bin/sh\nLD_LIBRARY_PATH=%s/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} exec %s/libexec/%s "$@"\n' \
                "$_reach_dir" "$_reach_dir" "$name" >"$_reach_dir/bin/$name" && chmod 0755 "$_reach_dir/bin/$name" || return 1
        printf -v "$var" %s "$_reach_dir/bin/$name"
}

# start_fakedns [OPTION...]: tests/fakedns on a free port of 127.0.0.1 serving $ZONE, steered by
# $CONTROL (when set), logging queries to $QLOG, with the options given (-k KEY); sets PORT and
# FAKEDNS_PID and stops it at exit.
start_fakedns() {
        local try
        for try in 1 2 3 4 5; do
                PORT=$(free_port) || return 1
                "$FAKEDNS" -a 127.0.0.1 -p "$PORT" -z "$ZONE" ${CONTROL:+-c "$CONTROL"} -l "$QLOG" "$@" \
                        >"$TESTDIR/fakedns.out" 2>"$TESTDIR/fakedns.err" &
                FAKEDNS_PID=$!
                wait_until 5 grep -qx ready "$TESTDIR/fakedns.out" && break
                # Lost a race for the port: try another.
                kill "$FAKEDNS_PID" 2>/dev/null
                wait "$FAKEDNS_PID" 2>/dev/null
                FAKEDNS_PID=
        done
        [ -n "$FAKEDNS_PID" ] || return 1
        at_exit 'kill "$FAKEDNS_PID" 2>/dev/null; wait "$FAKEDNS_PID" 2>/dev/null'
}

# stamp_heartbeat PATH REAL BOOT: write a cache file's heartbeats as a writer would have,
# at now + REAL seconds of the wall clock (heartbeat_usec) and now + BOOT seconds of the boot
# clock (heartbeat_boot_usec, format 1.2): a stepped wall clock, or a hung writer, on demand.
stamp_heartbeat() {
        python3 - "$@" <<'PY'
import struct, sys, time
path, real, boot = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
with open(path, "r+b") as f:
    f.seek(104)
    f.write(struct.pack("<q", int((time.clock_gettime(time.CLOCK_BOOTTIME) + boot) * 1e6)))
    f.seek(80)
    f.write(struct.pack("<q", int((time.time() + real) * 1e6)))
PY
}
