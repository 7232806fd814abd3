#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# systemd-boot.sh: the installed unit under a real systemd: boots a Debian 12 container with systemd-nspawn and checks the service's promises.
#
# Usage: bash tests/systemd-boot.sh [--keep] [--hold]
#   As root, on a machine that allows systemd-nspawn --boot. Not part of the test
#   command (it needs the Debian mirror and a few minutes); docs/systemd-boot.md
#   records its last result. Steps:
#   1. a minimal Debian 12 root (tests/fresh-root.sh --base-only) plus systemd,
#      dbus, BIND 9 and the runtime libraries, prepared once in WORKDIR/prep;
#   2. this tree built as a distribution would (--prefix=/usr --sysconfdir=/etc
#      --localstatedir=/var) and installed into a copy of it with make install;
#   3. booted with systemd-nspawn --boot --private-network (its own network
#      namespace: nothing leaves it), entered with nsenter;
#   4. systemd-sysusers and systemd-tmpfiles, then the unit: start (READY=1),
#      the cache's owner and mode, an unprivileged reader, reload with a file
#      that must grow, health checks, an answer that needs TCP, the watchdog,
#      a client picking across restart and kill -9, and a journal free of
#      denials from the hardening (seccomp, address families, ProtectProc).
#   Prints TAP lines and "N passed, N failed"; logs and the boot console stay in
#   WORKDIR (default /var/tmp/dnsdisc-systemd-boot). --keep keeps the root;
#   --hold keeps the container running at the end until WORKDIR/release exists
#   (enter it with nsenter -t PID -m -u -i -n -p -C, PID as printed).
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
workdir=${WORKDIR:-/var/tmp/dnsdisc-systemd-boot}
keep=0 hold=0
for arg in "$@"; do
        case $arg in
        --keep) keep=1 ;;
        --hold) hold=1 ;;
        -h | --help) sed -n '3,22s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "systemd-boot.sh: unknown argument $arg (try --help)" >&2; exit 2 ;;
        esac
done
say() { printf '[systemd-boot %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }
n_pass=0 n_fail=0 n=0
ok() { # ok STATUS DESCRIPTION
        n=$((n + 1))
        if [ "$1" -eq 0 ]; then echo "ok $n - $2"; n_pass=$((n_pass + 1)); else echo "not ok $n - $2"; n_fail=$((n_fail + 1)); fi
}
diag() { printf '%s\n' "$*" | sed 's/^/# /'; }

[ "$(id -u)" -eq 0 ] || die "needs root"
command -v systemd-nspawn >/dev/null || die "systemd-nspawn is not installed (apt-get install systemd-container)"
command -v nsenter >/dev/null || die "nsenter (util-linux) is not installed"
mkdir -p "$workdir"

# ---------------------------------------------------------------- 1. the root
prep=$workdir/prep
if [ ! -f "$prep/.complete" ]; then
        base=$(bash "$top/tests/fresh-root.sh" --base-only) || die "no Debian 12 base root"
        say "preparing $prep: systemd, dbus, BIND 9 and the runtime libraries (a few minutes; log: $workdir/prep.log)"
        rm -rf "$prep"
        cp -a "$base" "$prep" || die "cannot copy $base"
        rm -f "$prep/.complete"
        cp /etc/resolv.conf "$prep/etc/resolv.conf" 2>/dev/null
        printf '#!/bin/sh\nexit 101\n' >"$prep/usr/sbin/policy-rc.d" && chmod 755 "$prep/usr/sbin/policy-rc.d"
        mount -t proc proc "$prep/proc" || die "cannot mount proc in $prep"
        chroot "$prep" env DEBIAN_FRONTEND=noninteractive PATH=/usr/sbin:/usr/bin:/sbin:/bin bash -c \
                'apt-get update -qq && apt-get install -y -qq --no-install-recommends systemd systemd-sysv dbus \
                        libc-ares2 libldns3 libinih1 libjson-c5 libsystemd0 bind9 bind9-utils bind9-dnsutils \
                        procps iproute2 util-linux' >"$workdir/prep.log" 2>&1
        rc=$?
        umount "$prep/proc"
        [ "$rc" -eq 0 ] || { tail -n 20 "$workdir/prep.log" >&2; die "apt-get in $prep failed"; }
        rm -f "$prep/usr/sbin/policy-rc.d"
        # Debian's named would take port 53 at boot: the test starts its own.
        chroot "$prep" systemctl mask named.service >/dev/null 2>&1
        touch "$prep/.complete"
fi

# ---------------------------------------------------------------- 2. build and install
build=$workdir/build
say "building with --prefix=/usr --sysconfdir=/etc --localstatedir=/var (log: $workdir/build.log)"
(cd "$top" && { [ -x configure ] || autoreconf -fi; }) >"$workdir/build.log" 2>&1 || die "autoreconf failed"
mkdir -p "$build"
(cd "$build" && "$top/configure" -q --enable-werror --prefix=/usr --sysconfdir=/etc --localstatedir=/var &&
        make -s -j"$(nproc)" && make -s -j"$(nproc)" tests/picker) >>"$workdir/build.log" 2>&1 ||
        { tail -n 30 "$workdir/build.log" >&2; die "the build failed"; }

root=$workdir/root
nspawn_pid=
cleanup() {
        if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
                kill -TERM "$nspawn_pid" 2>/dev/null # nspawn asks the container's systemd to power off
                for _ in $(seq 1 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.2; done
                kill -KILL "$nspawn_pid" 2>/dev/null
        fi
        [ "$keep" -eq 1 ] || rm -rf --one-file-system "$root"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
rm -rf --one-file-system "$root"
cp -a "$prep" "$root" || die "cannot copy $prep"
make -s -C "$build" install DESTDIR="$root" >>"$workdir/build.log" 2>&1 || die "make install failed"
mkdir -p "$root/usr/local/libexec/dnsdisc-test"
cp "$build/tests/.libs/picker" "$root/usr/local/libexec/dnsdisc-test/picker" 2>/dev/null ||
        cp "$build/tests/picker" "$root/usr/local/libexec/dnsdisc-test/picker" || die "no picker"
chroot "$root" ldconfig
installed_conf=$(ls "$root/etc/dnsdisc/dnsdisc.conf" 2>/dev/null)

# The test's DNS: BIND 9 on 127.0.0.1:5300 inside the container, the example zone plus
# names for health checks, a set of 90 SRV records (about 2 KB: an answer only TCP carries
# past EDNS's 1232 octets; BIND 9.18 allows 100 records of a type at a name) and the pick
# set of the client.
t=$root/srv/dnsdisc-test
mkdir -p "$t"
{
        cat "$top/docs/examples/example.zone"
        echo 'hc 60 IN A 127.0.0.1'
        for i in $(seq 1 90); do echo "_b._tcp.big 60 IN SRV 1 1 $((10000 + i)) t"; done
        echo 't 60 IN A 127.0.0.9'
        echo '_p._tcp.pk 5 IN SRV 1 1 9001 p1'
        echo '_p._tcp.pk 5 IN SRV 1 1 9002 p2'
        echo 'p1 5 IN A 127.0.0.31'
        echo 'p2 5 IN A 127.0.0.32'
} >"$t/zone.db"
cat >"$t/named.conf" <<'EOF'
options {
        directory "/srv/dnsdisc-test";
        listen-on port 5300 { 127.0.0.1; };
        listen-on-v6 { none; };
        pid-file none;
        recursion no;
        allow-query { 127.0.0.1; };
};
zone "example.com" { type primary; file "/srv/dnsdisc-test/zone.db"; };
EOF
cat >"$root/etc/systemd/system/dnsdisc-test-named.service" <<'EOF'
[Unit]
Description=BIND 9 for the dnsdisc boot test (127.0.0.1:5300)
[Service]
ExecStart=/usr/sbin/named -g -c /srv/dnsdisc-test/named.conf
EOF
# The configuration the distribution build reads (/etc/dnsdisc), replacing the sample.
cat >"$t/dnsdisc.conf" <<'EOF'
[daemon]
servers = 127.0.0.1:5300
min-ttl = 1s
log-level = info

[service api]
srv = _http._tcp.api.example.com
[service web]
srv = _http._tcp.web.example.com
[service pk]
srv = _p._tcp.pk.example.com
# A backend that answers TCP (named's own port) and one where nothing listens.
[service hc]
host = hc.example.com
port = 5300
check = tcp
check-interval = 500ms
check-timeout = 200ms
[service hcdown]
host = hc.example.com
port = 5399
check = tcp
check-interval = 500ms
check-timeout = 200ms
panic = off
# 90 SRV records: the answer is truncated over UDP and taken over TCP.
[service big]
srv = _b._tcp.big.example.com
max-backends = 1024
EOF

# ---------------------------------------------------------------- 3. boot
machine=dnsdisc-boot-$$
say "booting $root with systemd-nspawn --boot --private-network (console: $workdir/boot.log)"
# No machined on a host without systemd: --register=no --keep-unit need no bus.
systemd-nspawn --boot --private-network --register=no --keep-unit --machine="$machine" -D "$root" \
        --console=read-only </dev/null >"$workdir/boot.log" 2>&1 &
nspawn_pid=$!
leader=
for _ in $(seq 1 300); do
        leader=$(pgrep -P "$nspawn_pid" | head -n 1)
        [ -n "$leader" ] && [ "$(cat "/proc/$leader/comm" 2>/dev/null)" = systemd ] && break
        kill -0 "$nspawn_pid" 2>/dev/null || break
        leader=
        sleep 0.2
done
if [ -z "$leader" ]; then
        tail -n 20 "$workdir/boot.log" >&2
        die "systemd-nspawn --boot did not start systemd (console above, in $workdir/boot.log)"
fi
inside() { nsenter -t "$leader" -m -u -i -n -p -C env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
booted() { local s; s=$(inside systemctl is-system-running 2>/dev/null); [ "$s" = running ] || [ "$s" = degraded ]; }
wait_for() { # wait_for SECONDS CMD...
        local end=$(($(date +%s) + $1)); shift
        until "$@" >/dev/null 2>&1; do [ "$(date +%s)" -lt "$end" ] || return 1; sleep 0.2; done
}
wait_for 120 booted
ok $? "the container booted with systemd as PID 1 ($(inside systemctl is-system-running 2>&1), systemd $(inside systemctl --version | sed -n '1s/systemd \([0-9]*\).*/\1/p'))"

# ---------------------------------------------------------------- 4. the service
inside systemd-sysusers && inside systemd-tmpfiles --create && inside getent passwd dnsdisc >/dev/null &&
        [ "$(inside stat -c '%U %a' /etc/dnsdisc/conf.d)" = "root 755" ]
ok $? "systemd-sysusers makes the user dnsdisc, systemd-tmpfiles /etc/dnsdisc/conf.d"
[ -n "$installed_conf" ] && inside dnsdiscctl check-config >/dev/null
ok $? "make install put a sample /etc/dnsdisc/dnsdisc.conf that check-config accepts"
cp "$t/dnsdisc.conf" "$root/etc/dnsdisc/dnsdisc.conf"
inside systemctl start dnsdisc-test-named
zone_served() { inside dig @127.0.0.1 -p 5300 +tcp SOA example.com | grep -q 'status: NOERROR'; }
wait_for 30 zone_served
ok $? "BIND 9 serves the test zone on 127.0.0.1:5300 in the container"

inside systemctl start dnsdiscd
rc=$?
show() { inside systemctl show dnsdiscd -p "$1" --value; }
[ "$rc" -eq 0 ] && [ "$(show Type)" = notify ] && [ "$(show ActiveState)/$(show SubState)" = active/running ]
ok $? "systemctl start dnsdiscd: active (running), Type=notify: systemd got READY=1 (rc $rc, $(show ActiveState)/$(show SubState), status: $(show StatusText))"
ctl() { inside dnsdiscctl "$@"; }
state() { ctl list 2>/dev/null | awk -v s="$1" '$1 == s { print $2 }'; }
resolved() { [ "$(state api)" = ok ] && [ "$(state pk)" = ok ] && [ "$(state big)" = ok ] && [ "$(state hc)" = ok ]; }
wait_for 30 resolved
ok $? "dnsdiscd publishes api, pk, big and hc (ok) in /run/dnsdisc/cache"
diag "$(ctl list 2>&1)"
is_mode=$(inside stat -c '%U %G %a' /run/dnsdisc/cache)
[ "$is_mode" = "dnsdisc dnsdisc 644" ]
ok $? "/run/dnsdisc/cache is the dnsdisc user's, mode 0644 (got: $is_mode)"
inside setpriv --reuid=nobody --regid=nogroup --clear-groups dnsdiscctl list >"$workdir/nobody.out" 2>&1 &&
        grep -q '^api ' "$workdir/nobody.out"
ok $? "an unprivileged user (nobody) reads it with dnsdiscctl list"

# The watchdog: armed by the unit, pinged by the daemon.
wd=$(show WatchdogUSec)
ts1=$(show WatchdogTimestampMonotonic)
sleep 6
ts2=$(show WatchdogTimestampMonotonic)
[ "$wd" = 10s ] && [ "${ts1:-0}" -gt 0 ] && [ "${ts2:-0}" -gt "${ts1:-0}" ]
ok $? "the watchdog is armed ($wd) and pinged (last ping moved from $ts1 to $ts2 us)"

# Paths the hardening could break: UDP through sendmmsg/recvmmsg (every query), TCP after a
# truncated answer, health checks (TCP connect), reload, a cache file that must grow.
inside dig @127.0.0.1 -p 5300 +ignore +bufsize=1232 SRV _b._tcp.big.example.com | grep -q 'flags:.* tc[ ;]'
ok $? "premise: over UDP with EDNS 1232, big's answer comes truncated (TC)"
n_big=$(ctl show big 2>/dev/null | grep -c '127\.0\.0\.9 ')
[ "$n_big" -eq 90 ]
ok $? "big: all 90 SRV records, an answer that only TCP carries ($n_big backends)"
health() { # the HEALTH column of the service's first backend row
        ctl show "$1" 2>/dev/null | awk '$1 == "ADDRESS" { for (i = 1; i <= NF; i++) if ($i == "HEALTH") h = i; next }
                h && $1 == "127.0.0.1" { print $h; exit }'
}
wait_for 15 eval '[ "$(health hc)" = up ] && [ "$(health hcdown)" = down ]'
ok $? "health checks: hc's backend up, hcdown's down (got: $(health hc), $(health hcdown))"
size1=$(inside stat -c %s /run/dnsdisc/cache)
{
        for i in $(seq 1 80); do printf '[service more%d]\nsrv = _http._tcp.api.example.com\n' "$i"; done
} >"$root/etc/dnsdisc/conf.d/50-more.conf"
inside systemctl reload dnsdiscd
rc=$?
all_more() { [ "$(ctl list 2>/dev/null | awk '$1 ~ /^more/ && $2 == "ok"' | wc -l)" -eq 80 ]; }
wait_for 30 all_more
ok $? "systemctl reload (rc $rc) takes in a drop-in of 80 more services: all published"
size2=$(inside stat -c %s /run/dnsdisc/cache)
[ "$size2" -gt "$size1" ] && [ "$(show ActiveState)" = active ]
ok $? "the cache file grew ($size1 to $size2 bytes) and the service stays active"

# A client picking across a restart and a kill -9 (Restart=on-failure).
inside setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/local/libexec/dnsdisc-test/picker /run/dnsdisc/cache pk 40 \
        127.0.0.31:9001 127.0.0.32:9002 >"$workdir/picker.out" 2>&1 &
picker=$!
sleep 2
pid1=$(show MainPID)
inside systemctl restart dnsdiscd
rc=$?
pid2=$(show MainPID)
[ "$rc" -eq 0 ] && [ "$pid2" != "$pid1" ] && [ "$(show ActiveState)" = active ]
ok $? "systemctl restart: active again with a new process ($pid1 to $pid2)"
restarts=$(show NRestarts)
inside kill -KILL "$pid2"
restarted() { [ "$(show NRestarts)" -gt "$restarts" ] && [ "$(show ActiveState)" = active ] && [ "$(show MainPID)" != "$pid2" ]; }
wait_for 30 restarted
ok $? "after kill -9, systemd restarts it (Restart=on-failure; NRestarts $restarts to $(show NRestarts), pid $(show MainPID))"
wait "$picker"
prc=$?
diag "picker: $(tr '\n' ' ' <"$workdir/picker.out")"
[ "$prc" -eq 0 ] && grep -q 'errors=0 invalid=0' "$workdir/picker.out"
ok $? "a client (as nobody) picked across both with 0 errors ($(tail -n 1 "$workdir/picker.out"))"

inside journalctl -b -u dnsdiscd --no-pager -o cat >"$workdir/journal.txt" 2>&1
denials=$(grep -Ei 'operation not permitted|permission denied|bad system call|SIGSYS|seccomp|address family not supported' "$workdir/journal.txt")
[ -z "$denials" ] && [ "$(show Result)" = success ]
ok $? "no denial from the hardening in the journal (seccomp, address families, ProtectProc): ${denials:-none}"
inside systemctl stop dnsdiscd
[ "$(show ActiveState)" = inactive ] && [ "$(show Result)" = success ]
ok $? "systemctl stop: inactive, result success"

if [ "$hold" -eq 1 ]; then
        rm -f "$workdir/release"
        say "holding the container (systemd is pid $leader); touch $workdir/release to end"
        until [ -e "$workdir/release" ]; do sleep 1; done
fi
echo "1..$n"
echo "$n_pass passed, $n_fail failed"
[ "$n_fail" -eq 0 ]
