#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-security.sh: what clients and other users can do to the cache, how dnsdiscd creates it, poisoned and oversized answers, bad names.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$top_srcdir/tests/dd-lib.sh"

CLIENT="$top_builddir/tests/chaos-client"
dd_need "$FAKEDNS" "$CLIENT"
[ "$(id -u)" -eq 0 ] || skip_all "needs root: checks what the user nobody can do"
command -v setpriv >/dev/null || skip_all "setpriv not installed"
id nobody >/dev/null 2>&1 && getent group nogroup >/dev/null || skip_all "no user nobody or group nogroup"

N=70                    # services of the universe of tests/chaos-client.c: more than a new file's 64 slots
PORT_BASE=20000
BIG=3100                # SRV records in one answer: as many as fit 64 KiB (21 octets each, target "t.")
MAX_BACKENDS=100
ZONE=$TESTDIR/zone
CONTROL=$TESTDIR/control
QLOG=$TESTDIR/queries.log
t_start=$(now_ns)
chmod 0711 "$TESTDIR"   # nobody may reach the cache directory, as it reaches /run/dnsdisc
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
saved_umask=$(umask)

# ---------------------------------------------------------------- the zone
# s0 .. s(N-1): the universe of tests/chaos-client.c at version 0. big: BIG SRV records to one target.
# p-srv, p-noglue, p-host: small sets that fakedns's "extra" mode pads with poison.
{
        echo "c.test. 300 IN SOA ns.c.test. h.c.test. 1 3600 600 86400 5"
        awk -v n="$N" -v base="$PORT_BASE" 'BEGIN {
                for (i = 0; i < n; i++) {
                        for (b = 1; b <= 1 + i % 4; b++)
                                printf "_c._tcp.s%d.c.test. 1 IN SRV 1 %d %d b%d.s%d.c.test.\n", i, b, base, b, i
                        for (b = 1; b <= 4; b++)
                                printf "b%d.s%d.c.test. 1 IN A 127.1.%d.%d\n", b, i, i, b
                }
        }'
        echo "t. 1 IN A 127.2.0.1"
        # priorities 1..50 scattered over the answer
        awk -v n="$BIG" 'BEGIN { for (i = 1; i <= n; i++) printf "_b._tcp.big.c.test. 1 IN SRV %d 1 %d t.\n", (i * 37) % 50 + 1, 10000 + i }'
        for p in srv noglue; do
                echo "_http._tcp.p-$p.c.test. 1 IN SRV 10 50 8080 a.p-$p.c.test."
                echo "_http._tcp.p-$p.c.test. 1 IN SRV 20 50 8081 b.p-$p.c.test."
                echo "a.p-$p.c.test. 1 IN A 127.3.0.1"
                echo "b.p-$p.c.test. 1 IN A 127.3.0.2"
        done
        echo "p-host.c.test. 1 IN A 127.3.1.1"
} >"$ZONE"
: >"$CONTROL"
control() { printf '%s\n' "$@" >"$CONTROL.new" && mv "$CONTROL.new" "$CONTROL"; }

start_fakedns || { echo "Bail out! fakedns did not start"; exit 1; }

mkdir -m 0755 "$TESTDIR/run"
DD_CACHE=$TESTDIR/run/cache
CONF=$TESTDIR/dnsdisc.conf
{
        dd_conf_header "$PORT" cache="$DD_CACHE" log-level=info
        for ((i = 0; i < N; i++)); do
                printf '[service s%d]\nsrv = _c._tcp.s%d.c.test\n' "$i" "$i"
        done
} >"$CONF"
published() { [ "$("$CLIENT" --dump "$DD_CACHE" "$N" "$PORT_BASE" | awk '/^s/ && $2 == 0' | wc -l)" -eq "$N" ]; }

# ---------------------------------------------------------------- creation, seen by strace
# The cache is made as a temporary file (O_CREAT|O_EXCL|O_NOFOLLOW, then fchmod 0644), linked
# into place, then grown through a second one renamed over it (N > 64 slots). No truncation, ever.
# Under strace the sanitizer's leak check cannot attach: it is off for this run.
if command -v strace >/dev/null; then
        cat >"$TESTDIR/traced" <<EOF
#!/bin/sh
ASAN_OPTIONS=detect_leaks=0\${ASAN_OPTIONS:+:\$ASAN_OPTIONS} exec strace -f -qq -o "$TESTDIR/strace.out" \
        -e trace=open,openat,creat,fchmod,chmod,fchmodat,rename,renameat,renameat2,link,linkat,truncate,ftruncate \
        "$DNSDISCD" "\$@"
EOF
        chmod 0755 "$TESTDIR/traced"
        REAL_DNSDISCD=$DNSDISCD
        DNSDISCD=$TESTDIR/traced
        umask 077
        dd_start "$CONF" && dd_wait_ready 15 && wait_until 5 published
        ok $? "dnsdiscd (under strace, umask 077) publishes $N services"
        umask "$saved_umask"
        strace_pid=$DD_PID
        DD_PID=$(pgrep -P "$strace_pid") # the daemon itself, strace's child
        dd_stop
        wait "$strace_pid" 2>/dev/null
        DNSDISCD=$REAL_DNSDISCD
        trace=$(grep -F "$DD_CACHE" "$TESTDIR/strace.out")
        diag "$(grep -E 'creat|O_CREAT|fchmod|rename|link' <<<"$trace" | sed 's/^[0-9]* *//' | head -n 8)"
        creates=$(grep -E 'open(at)?\(.*O_CREAT' <<<"$trace")
        [ "$(wc -l <<<"$creates")" -ge 2 ] &&
                ! grep -vE 'O_CREAT.*O_EXCL|O_EXCL.*O_CREAT' <<<"$creates" | grep -q . &&
                ! grep -v 'O_NOFOLLOW' <<<"$creates" | grep -q . &&
                ! grep -v "\"$DD_CACHE\.[A-Za-z0-9]\{6\}\"" <<<"$creates" | grep -q .
        ok $? "every file is created as a temporary name with O_CREAT|O_EXCL|O_NOFOLLOW ($(wc -l <<<"$creates") creations)"
        opens=$(grep -E "open(at)?\(.*\"$DD_CACHE\"" <<<"$trace")
        ! grep -v 'O_NOFOLLOW' <<<"$opens" | grep -q .
        ok $? "opening the path itself always uses O_NOFOLLOW ($(wc -l <<<"$opens") opens)"
        [ "$(grep -Ec 'fchmod\([0-9]+, 0644\) += 0' "$TESTDIR/strace.out")" -eq "$(wc -l <<<"$creates")" ]
        ok $? "each new file gets fchmod 0644, whatever the umask"
        grep -Eq "^[0-9]+ +link(at)?\(.*\"$DD_CACHE\.[A-Za-z0-9]{6}\", .*\"$DD_CACHE\"\) = 0" "$TESTDIR/strace.out" &&
                grep -Eq "^[0-9]+ +rename(at2?)?\(.*\"$DD_CACHE\.[A-Za-z0-9]{6}\", .*\"$DD_CACHE\"(, 0)?\) = 0" "$TESTDIR/strace.out"
        ok $? "the first file is linked into place, the grown one renamed over it"
        ! grep -Eq '(f?truncate)\(' "$TESTDIR/strace.out"
        ok $? "no truncate or ftruncate: the writer never shrinks a file readers map"
else
        for i in 1 2 3 4 5 6; do ok 0 "# SKIP strace not installed"; done
fi

# ---------------------------------------------------------------- what clients and other users can do
umask 077
dd_start "$CONF" && dd_wait_ready 10 && wait_until 5 published
ok $? "dnsdiscd publishes $N services"
umask "$saved_umask"
is "$(stat -c '%U %a %F' "$DD_CACHE") $(stat -c '%U %a' "$TESTDIR/run")" "root 644 regular file root 755" \
        "the cache file is the daemon user's, mode 0644 (umask 077), in a directory only it can write"

# A client picking: its mapping of the cache is read-only and shared, and it keeps no descriptor.
"$CLIENT" "$DD_CACHE" 3 "$N" "$PORT_BASE" >"$TESTDIR/client.out" 2>&1 &
client=$!
# Until it has mapped the file (a fixed second was not always enough under ASan), then a moment
# for dnsdisc_open() to close its descriptor.
client_mapped() { grep -qF "$DD_CACHE" "/proc/$client/maps"; }
wait_until 10 client_mapped
sleep 0.2
maps=$(grep -F "$DD_CACHE" "/proc/$client/maps")
fds=$(find "/proc/$client/fd" -lname "$DD_CACHE*" 2>/dev/null | wc -l)
wait "$client"
client_rc=$?
diag "client: $(head -n 1 "$TESTDIR/client.out")"
diag "its mappings of the cache: $(awk '{ print $2, $6 }' <<<"$maps" | tr '\n' ';')"
[ -n "$maps" ] && ! awk '{ print $2 }' <<<"$maps" | grep -qv '^r--s$'
ok $? "a picking client maps the cache r--s: read-only, shared"
is "$fds $client_rc" "0 0" "it holds no descriptor of the file, and its picks were all valid"

# Another user: can read, cannot write, cannot replace.
err=$(as_nobody sh -c 'exec 3>>"$1"' sh "$DD_CACHE" 2>&1)
[ $? -ne 0 ] && grep -q 'Permission denied' <<<"$err"
ok $? "nobody cannot open the cache for writing: EACCES"
# The system's python: nobody may not reach a per-user installation.
as_nobody /usr/bin/python3 - "$DD_CACHE" <<'EOF'
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
try:
        mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        sys.exit(1)
except PermissionError:
        pass
# A private copy can be scribbled over: only this process sees it.
m = mmap.mmap(fd, 0, access=mmap.ACCESS_COPY)
m[0:4096] = b'\xff' * 4096
sys.exit(0)
EOF
ok $? "nobody cannot map it shared and writable (EACCES); a private copy it scribbles over is its own"
reachable_copy ctl_any "$DNSDISCCTL" || { echo "Bail out! cannot copy dnsdiscctl for nobody"; exit 1; }
as_nobody "$ctl_any" --cache "$DD_CACHE" list >/dev/null && published
ok $? "nobody can read it, and what other clients read is unchanged"
printf 'x\n' >"$TESTDIR/evil" && chmod 0644 "$TESTDIR/evil"
err=$(as_nobody sh -c 'cp "$1" "$2.new" || ln -sf "$1" "$2"' sh "$TESTDIR/evil" "$DD_CACHE" 2>&1)
[ $? -ne 0 ] && [ "$(stat -c %U "$DD_CACHE")" = root ] && [ ! -L "$DD_CACHE" ]
ok $? "nobody cannot put a file or a symlink at the path ($(tail -n 1 <<<"$err"))"
dd_stop

# ---------------------------------------------------------------- poisoned answers
# "extra": each answer also carries records for another name (an SRV record of _poison._tcp,
# addresses of poison.invalid) and, in the additional section, an address for a name that is
# no SRV target. None may become a backend.
cat >>"$CONF" <<EOF
[service p-srv]
srv = _http._tcp.p-srv.c.test
[service p-noglue]
srv = _http._tcp.p-noglue.c.test
[service p-host]
host = p-host.c.test
port = 8443
EOF
control "mode extra" "mode noglue _http._tcp.p-noglue.c.test"
dig_has_poison() { dig @127.0.0.1 -p "$PORT" +norec +time=2 +tries=1 "$@" | grep -q 'poison\.invalid'; }
dig_has_poison SRV _http._tcp.p-srv.c.test && dig_has_poison A a.p-noglue.c.test && dig_has_poison A p-host.c.test
ok $? "fakedns's answers carry the poison (checked with dig)"
dd_start "$CONF" && dd_wait_ready 10
sleep 2 # two refreshes (TTL 1 s), to give any poison time to show
for p in srv noglue; do
        dd_expect "$ZONE" srv "_http._tcp.p-$p.c.test" >"$TESTDIR/p-$p.expected"
        is "$(dd_set "p-$p")" "$(cat "$TESTDIR/p-$p.expected")" "p-$p: exactly the zone's set, nothing from the poison"
done
dd_expect "$ZONE" host p-host.c.test 8443 >"$TESTDIR/p-host.expected"
is "$(dd_set p-host)" "$(cat "$TESTDIR/p-host.expected")" "p-host: exactly the zone's addresses, nothing from the poison"
for p in p-srv p-noglue p-host; do "$DNSDISCCTL" --cache "$DD_CACHE" --json show "$p"; done | grep -qE '127\.66\.6\.6|6666|poison'
[ $? -ne 0 ] && [ "$(grep -c 'p-noglue.c.test A' "$QLOG")" -ge 1 ]
ok $? "no backend anywhere has the poison's address, port or name (and p-noglue's targets were asked for)"
dd_stop
control ""

# ---------------------------------------------------------------- an oversized answer
# BIG SRV records in one answer (64 KiB over TCP: 10,000 do not fit one DNS message), capped at
# max-backends: the lowest priorities kept, one warning, memory bounded.
{
        dd_conf_header "$PORT" cache="$DD_CACHE" log-level=info query-timeout=2s
        printf '[service big]\nsrv = _b._tcp.big.c.test\nmax-backends = %d\n' "$MAX_BACKENDS"
} >"$CONF"
vmhwm() { awk '/^VmHWM/ { print $2 }' "/proc/$DD_PID/status"; }
mark=$(wc -l <"$QLOG")
# AddressSanitizer holds freed memory back (256 MiB by default): here memory is to be reused.
saved_asan=${ASAN_OPTIONS-}
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1
dd_start "$CONF" && dd_wait_ready 15
ASAN_OPTIONS=$saved_asan
ok $? "dnsdiscd resolves a service of $BIG SRV records"
rounds() { tail -n +"$((mark + 1))" "$QLOG" | awk '$2 == "tcp" && $3 == "_b._tcp.big.c.test"' | wc -l; }
four_rounds() { [ "$(rounds)" -ge 4 ]; }
wait_until 10 four_rounds
hwm=$(vmhwm)
got=$(dd_set big)
lowest=$(dd_expect "$ZONE" srv _b._tcp.big.c.test | sort -n | head -n "$MAX_BACKENDS" | awk '{ print $1 }' | sort -n | uniq -c | tr -s ' ')
is "$(wc -l <<<"$got") $(awk '{ print $1 }' <<<"$got" | sort -n | uniq -c | tr -s ' ' | tr '\n' ' ')" \
        "$MAX_BACKENDS $(tr '\n' ' ' <<<"$lowest")" "big: capped at max-backends = $MAX_BACKENDS, those of the lowest priorities"
[ -z "$(LC_ALL=C comm -23 <(echo "$got") <(dd_expect "$ZONE" srv _b._tcp.big.c.test))" ]
ok $? "big: every published backend is one of the answer's records"
ten_rounds() { [ "$(rounds)" -ge 10 ]; }
wait_until 15 ten_rounds
hwm2=$(vmhwm)
diag "big: VmHWM ${hwm} kB after 4 answers, ${hwm2} kB after $(rounds)${DD_SANITIZERS:+ (sanitizer build: shadow memory and quarantine included)}"
[ "$hwm2" -le $((hwm + 8192)) ] && [ "$hwm2" -le $((${DD_SANITIZERS:+4 *} 65536)) ]
ok $? "big: memory is bounded: the peak RSS does not grow with more answers (${hwm} -> ${hwm2} kB)"
warnings=$(dd_log | grep -c "service big: $BIG SRV records in DNS give more backends than max-backends, keeping the $MAX_BACKENDS of lowest priority")
is "$warnings" 1 "big: the cap is logged once over $(rounds) answers over TCP"
dd_stop

# ---------------------------------------------------------------- names too long for DNS
# check_name KEY VALUE: dnsdiscd --check-config on a service with KEY = VALUE (line 4 of the file).
check_name() {
        printf '[daemon]\ncache = %s\n[service n]\n%s = %s\n' "$DD_CACHE" "$1" "$2" >"$TESTDIR/names.conf"
        [ "$1" = host ] && echo "port = 80" >>"$TESTDIR/names.conf"
        "$DNSDISCD" --check-config -c "$TESTDIR/names.conf" 2>&1
}
l() { printf "%${1}s" | tr ' ' "$2"; }
for key in srv host; do
        out=$(check_name "$key" "_x._tcp.$(l 64 a).test")
        rc=$?
        [ "$rc" -eq 1 ] && grep -q "names.conf:4: .* is not a valid DNS name for '$key' (labels of 1 to 63 octets, 255 octets in all)" <<<"$out"
        ok $? "$key with a label of 64 octets: --check-config exits 1 with file:line ($(cut -c1-60 <<<"$out")...)"
        out=$(check_name "$key" "$(l 63 a).$(l 63 b).$(l 63 c).$(l 62 d)")
        rc=$?
        [ "$rc" -eq 1 ] && grep -q "names.conf:4: .* is not a valid DNS name for '$key'" <<<"$out"
        ok $? "$key of 254 characters (256 octets on the wire): exits 1 with file:line"
        check_name "$key" "$(l 63 a).$(l 63 b).$(l 63 c).$(l 61 d)" >/dev/null && check_name "$key" "$(l 63 a).test" >/dev/null
        ok $? "$key of 253 characters, or with a label of 63 octets: accepted"
done

dd_sanitizer_clean
ok $? "no sanitizer report in dnsdiscd's log"
diag "total run time $(ms_since "$t_start") ms"
done_testing
