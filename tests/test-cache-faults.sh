#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-cache-faults.sh: a full or read-only cache directory; the cache file deleted, replaced, symlinked; unreadable files for clients.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$top_srcdir/tests/dd-lib.sh"

CLIENT="$top_builddir/tests/chaos-client"
need_built "$DNSDISCD" "$DNSDISCCTL" "$FAKEDNS" "$CLIENT" "$MKCACHE"
[ "$(id -u)" -eq 0 ] || skip_all "needs root: mounts a tmpfs and runs dnsdiscd as nobody"
command -v setpriv >/dev/null || skip_all "setpriv not installed"
id nobody >/dev/null 2>&1 && getent group nogroup >/dev/null || skip_all "no user nobody or group nogroup"

N_FIRST=40              # services configured at first: they fit the new file's 64 slots
N_ALL=100               # after the reload: 36 of them need a bigger file
PORT_BASE=20000
ZONE=$TESTDIR/zone
QLOG=$TESTDIR/queries.log
t_start=$(now_ns)

# The universe of tests/chaos-client.c, at one version for every service (TTL 0: refreshed every min-ttl).
zone_at() { # zone_at VERSION
        awk -v v="$1" -v n="$N_ALL" -v base="$PORT_BASE" 'BEGIN {
                print "c.test. 300 IN SOA ns.c.test. h.c.test. 1 3600 600 86400 5"
                for (i = 0; i < n; i++) {
                        for (b = 1; b <= 1 + (i + v) % 4; b++)
                                printf "_c._tcp.s%d.c.test. 0 IN SRV 1 %d %d b%d.s%d.c.test.\n", i, b, base + v, b, i
                        for (b = 1; b <= 4; b++)
                                printf "b%d.s%d.c.test. 0 IN A 127.1.%d.%d\n", b, i, i, b
                }
        }' >"$ZONE.new" && mv "$ZONE.new" "$ZONE"
        VERSION=$1
}
zone_at 0

start_fakedns || { echo "Bail out! fakedns did not start"; exit 1; }

# dnsdiscd as nobody reads its configuration from here.
chmod 0711 "$TESTDIR"
CONF=$TESTDIR/dnsdisc.conf
write_conf() { # write_conf N_SERVICES
        {
                dd_conf_header "$PORT" cache="$DD_CACHE" min-ttl=500ms log-level=info
                for ((i = 0; i < $1; i++)); do
                        printf '[service s%d]\nsrv = _c._tcp.s%d.c.test\n' "$i" "$i"
                done
        } >"$CONF.new" && chmod 0644 "$CONF.new" && mv "$CONF.new" "$CONF"
}
use_dir() { # use_dir DIR: the cache file is DIR/cache from now on
        CACHE_DIR=$1
        DD_CACHE=$1/cache
        export DD_CACHE
}

# dump N: "sI VERSION STATE NEXT_MS" per service s0 .. s(N-1) as a client reads them.
dump() { "$CLIENT" --dump "$DD_CACHE" "$1" "$PORT_BASE"; }
# published N [VERSION]: services s0 .. s(N-1) publish VERSION (default: the zone's), and no other is there.
published() {
        [ "$("$DNSDISCCTL" --cache "$DD_CACHE" --json list 2>/dev/null | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')" = "$1" ] &&
                [ "$(dump "$1" | awk -v v="${2:-$VERSION}" '/^s/ && $2 == v' | wc -l)" = "$1" ]
}
# n_current N: how many of s0 .. s(N-1) publish the zone's version (0 if any set read is not one version's).
n_current() { dump "$1" | awk -v v="$VERSION" '/^s/ && $2 == v { n++ } END { print n + 0 }'; }
n_published() { "$DNSDISCCTL" --cache "$DD_CACHE" --json list 2>/dev/null | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'; }
# others_in_dir: entries of the cache directory besides the cache file and the test's filler.
others_in_dir() { find "$CACHE_DIR" -mindepth 1 ! -name cache ! -name filler -printf '%f\n'; }
# leftover_files: those of them in two listings 0.5 s apart. While the disk is full or read-only,
# each refresh retries the grow, which holds a temporary file for a few milliseconds under a new
# random name: one listing can catch it at work (CI's did once, under ASan); a leaked file stays.
leftover_files() {
        local first
        first=$(others_in_dir | LC_ALL=C sort)
        sleep 0.5
        LC_ALL=C comm -12 <(echo "$first") <(others_in_dir | LC_ALL=C sort) | grep .
}
# start_client N: a checking client of s0 .. s(N-1) in the background (CLIENT_PID, output in client.out),
# reading until client_result ends it (a fixed duration would have to guess how slow the steps are).
start_client() {
        rm -f "$TESTDIR/client.stop"
        timeout 120 "$CLIENT" "$DD_CACHE" 100 "$1" "$PORT_BASE" "$TESTDIR/client.stop" \
                >"$TESTDIR/client.out" 2>"$TESTDIR/client.err" &
        CLIENT_PID=$!
}
# client_result NAME VERSION: the client exited 0 and last saw VERSION of every service.
client_result() {
        local rc
        touch "$TESTDIR/client.stop"
        wait "$CLIENT_PID"
        rc=$?
        diag "$1 client: $(head -n 1 "$TESTDIR/client.out")"
        [ -s "$TESTDIR/client.err" ] && diag "$(head -n 5 "$TESTDIR/client.err")"
        [ "$rc" -eq 0 ] && sed -n 2p "$TESTDIR/client.out" | awk -v v="$2" '{ for (i = 2; i <= NF; i++) if ($i != v) exit 1 }'
}
# failure_lines ERE: lines of this run's log matching ERE.
failure_lines() { dd_log | grep -Ec -- "$1"; }
# lines_at_least N ERE: polled by wait_until, so it must count afresh each call.
lines_at_least() { [ "$(failure_lines "$2")" -ge "$1" ]; }

# ---------------------------------------------------------------- a full file system
# Growth needs a second, bigger file next to the published one: on a full tmpfs it cannot be made.
FULL=$TESTDIR/full
mkdir "$FULL"
if mount -t tmpfs -o size=1m,mode=0755 tmpfs "$FULL"; then
        at_exit 'dd_stop; umount -l "$FULL" 2>/dev/null'
        use_dir "$FULL"
        write_conf "$N_FIRST"
        dd_start "$CONF" && dd_wait_ready 10 && wait_until 5 published "$N_FIRST"
        ok $? "full: dnsdiscd publishes $N_FIRST services into a 1 MiB tmpfs"
        start_client "$N_FIRST"
        dd if=/dev/zero of="$FULL/filler" bs=4k 2>/dev/null
        inode=$(stat -c %i "$DD_CACHE")
        diag "full: $(df -k --output=avail "$FULL" | tail -n 1 | tr -d ' ') KiB left; the cache file is $(stat -c %s "$DD_CACHE") bytes"
        write_conf "$N_ALL"
        mark=$(wc -l <"$QLOG")
        kill -HUP "$DD_PID"
        # The writer's line and one per waiting service come with their first round after the
        # reload: waited for (a fixed 1.5 s assumed that round over by then), then 3 s of retries.
        wait_until 10 lines_at_least 37 'No space left|Cannot grow|Failed to publish'
        lines1=$(failure_lines 'No space left|Cannot grow|Failed to publish')
        sleep 3
        lines2=$(failure_lines 'No space left|Cannot grow|Failed to publish')
        # Services beyond the first file's 64 slots kept being resolved, so publishing was retried.
        retries=$(tail -n +"$((mark + 1))" "$QLOG" | awk '$3 ~ /^_c\._tcp\.s(6[4-9]|[7-9][0-9])\./' | wc -l)
        dd_running && [ "$(n_published)" -eq 64 ] && [ "$(stat -c %i "$DD_CACHE")" = "$inode" ] && [ "$(n_current "$N_ALL")" -eq 64 ]
        ok $? "full: the published file stays: same file, the 64 services that fit published and readable"
        is "$(leftover_files | tr '\n' ' ')" "" "full: no temporary file is left behind"
        is "$(failure_lines '^dnsdiscd: Cannot grow .*: No space left on device$') $lines1" "1 37" \
                "full: the failure is logged once by the writer, once for each of the 36 services waiting"
        diag "$(dd_log | grep -E 'No space left' | head -n 2)"
        is "$lines2" "$lines1" "full: and not again for each retry ($retries queries for the 36 waiting services in 3 s, $lines2 lines)"
        rm -f "$FULL/filler"
        t0=$(now_ns)
        wait_until 10 published "$N_ALL"
        ok $? "full: space freed: the next publish grows the file and all $N_ALL services are there in $(ms_since "$t0") ms"
        [ "$(stat -c %i "$DD_CACHE")" != "$inode" ] && dd_log | grep -q '^dnsdiscd: Grew '
        ok $? "full: through a new, bigger file ($(stat -c %s "$DD_CACHE") bytes)"
        zone_at 1
        wait_until 5 published "$N_ALL" 1
        client_result full 1
        ok $? "full: a client reading throughout saw only published sets and followed the new file (newest version 1)"
        dd_stop
        umount "$FULL" 2>/dev/null
else
        for i in 1 2 3 4 5 6 7 8; do ok 0 "# SKIP cannot mount a tmpfs"; done
fi

# ---------------------------------------------------------------- a directory dnsdiscd cannot write
# As root dnsdiscd could write anywhere: here it runs as nobody, as the systemd unit runs it as its own user.
RO=$TESTDIR/ro
mkdir "$RO"
chown nobody:nogroup "$RO"
use_dir "$RO"
reachable_copy dd_any "$DNSDISCD" || { echo "Bail out! cannot copy dnsdiscd for nobody"; exit 1; }
cat >"$TESTDIR/as-nobody" <<EOF
#!/bin/sh
exec setpriv --reuid=nobody --regid=nogroup --clear-groups "$dd_any" "\$@"
EOF
chmod 0755 "$TESTDIR/as-nobody"
ROOT_DNSDISCD=$DNSDISCD
DNSDISCD=$TESTDIR/as-nobody
write_conf "$N_FIRST"

chmod 0555 "$RO"
out=$(timeout 10 "$DNSDISCD" -c "$CONF" 2>&1)
rc=$?
[ "$rc" = 1 ] && grep -q "Failed to open the cache file $DD_CACHE: Permission denied" <<<"$out"
ok $? "read-only directory at start: dnsdiscd exits 1 saying why ($(tail -n 1 <<<"$out"))"

chmod 0755 "$RO"
dd_start "$CONF" && dd_wait_ready 10 && wait_until 5 published "$N_FIRST"
ok $? "read-only: dnsdiscd as nobody publishes $N_FIRST services"
is "$(stat -c '%U %a' "$DD_CACHE")" "nobody 644" "the file belongs to the daemon's user, mode 0644"
start_client "$N_FIRST"
inode=$(stat -c %i "$DD_CACHE")
chmod 0555 "$RO"
write_conf "$N_ALL"
kill -HUP "$DD_PID"
# As above: the first round's lines waited for, then 3 s of retries.
wait_until 10 lines_at_least 37 'Permission denied|Cannot grow|Failed to publish'
lines1=$(failure_lines 'Permission denied|Cannot grow|Failed to publish')
sleep 3
lines2=$(failure_lines 'Permission denied|Cannot grow|Failed to publish')
dd_running && [ "$(n_published)" -eq 64 ] && [ "$(stat -c %i "$DD_CACHE")" = "$inode" ] && [ "$(n_current "$N_ALL")" -eq 64 ]
ok $? "read-only: the published file stays: same file, the 64 services that fit published and readable"
is "$(leftover_files | tr '\n' ' ')" "" "read-only: no temporary file is left behind"
is "$(failure_lines '^dnsdiscd: Cannot grow .*: Permission denied$') $lines1" "1 37" \
        "read-only: the failure is logged once by the writer, once for each of the 36 services waiting"
is "$lines2" "$lines1" "read-only: and not again for each retry ($lines2 lines after 3 more seconds)"
chmod 0755 "$RO"
t0=$(now_ns)
wait_until 10 published "$N_ALL"
ok $? "read-only: writable again: all $N_ALL services published in $(ms_since "$t0") ms, through a new file"
client_result read-only 1
ok $? "read-only: a client reading throughout saw only published sets and followed the new file"
dd_stop
DNSDISCD=$ROOT_DNSDISCD

# ---------------------------------------------------------------- the file deleted, replaced, symlinked under a running daemon
DEL=$TESTDIR/del
mkdir "$DEL"
use_dir "$DEL"
write_conf "$N_FIRST"
zone_at 2
dd_start "$CONF" && dd_wait_ready 10 && wait_until 5 published "$N_FIRST"
ok $? "running: dnsdiscd publishes $N_FIRST services"

# gone_back_within SECONDS: a regular file of ours is at the path again, not the one before.
recreated() { [ -f "$DD_CACHE" ] && [ ! -L "$DD_CACHE" ] && [ "$(stat -c '%i %U' "$DD_CACHE")" != "$1 root" ] && [ "$(stat -c %U "$DD_CACHE")" = root ]; }

start_client "$N_FIRST"
sleep 0.5
inode=$(stat -c %i "$DD_CACHE")
rm "$DD_CACHE"
t0=$(now_ns)
wait_until 5 recreated "$inode"
ok $? "deleted: the daemon notices and publishes a new file at the path ($(ms_since "$t0") ms)"
# The daemon keeps writing the file it has, deleted or not: its readers lose nothing.
zone_at 3
sleep 2
client_result deleted 3
ok $? "deleted: a client mapping the deleted file keeps getting updates from the daemon (sees version 3)"

# Another user's file put in its place: a valid cache pointing elsewhere (127.66.6.6).
printf 'service s0 query=_c._tcp.s0.c.test srv\nbackend 127.66.6.6 6666\n' | "$MKCACHE" "$TESTDIR/foreign" >/dev/null
chown nobody:nogroup "$TESTDIR/foreign"
ln "$TESTDIR/foreign" "$TESTDIR/foreign.keep"
foreign_sum=$(md5sum <"$TESTDIR/foreign.keep")
inode=$(stat -c %i "$DD_CACHE" 2>/dev/null)
mv "$TESTDIR/foreign" "$DD_CACHE"
t0=$(now_ns)
wait_until 5 recreated "$inode"
ok $? "foreign file: the daemon puts its own file back ($(ms_since "$t0") ms)"

# A symlink to a file that must stay untouched.
printf 'precious\n' >"$TESTDIR/victim"
victim_sum=$(md5sum <"$TESTDIR/victim")
inode=$(stat -c %i "$DD_CACHE")
ln -s "$TESTDIR/victim" "$DD_CACHE.link" && mv -T "$DD_CACHE.link" "$DD_CACHE"
t0=$(now_ns)
wait_until 5 recreated "$inode"
ok $? "symlink: the daemon replaces the symlink by its own file ($(ms_since "$t0") ms)"
# Growing the file renames a new one over the path: the symlink itself is replaced, never followed.
write_conf "$N_ALL"
kill -HUP "$DD_PID"
wait_until 5 sh -c "[ -f '$DD_CACHE' ] && [ ! -L '$DD_CACHE' ]" && wait_until 5 published "$N_ALL"
ok $? "symlink: a growth of the file replaces the symlink at the path by a regular file"
is "$(md5sum <"$TESTDIR/victim") $(md5sum <"$TESTDIR/foreign.keep")" "$victim_sum $foreign_sum" \
        "the symlink's target and the other user's file are untouched"
dd_stop

# ---------------------------------------------------------------- the same, found at start
# restart_with WHAT: plant WHAT at the path (foreign, symlink, dangling, fifo), start dnsdiscd.
restart_with() {
        rm -f "$DD_CACHE"
        case $1 in
        foreign) ln "$TESTDIR/foreign.keep" "$DD_CACHE" ;;
        symlink) ln -s "$TESTDIR/victim" "$DD_CACHE" ;;
        dangling) ln -s "$TESTDIR/nowhere" "$DD_CACHE" ;;
        fifo) mkfifo "$DD_CACHE" ;;
        esac
        dd_start "$CONF" && dd_wait_ready 10 && wait_until 5 published "$N_ALL" && [ -f "$DD_CACHE" ] && [ ! -L "$DD_CACHE" ] &&
                [ "$(stat -c '%U %a' "$DD_CACHE")" = "root 644" ]
}
for what in foreign symlink dangling fifo; do
        restart_with "$what"
        ok $? "at start, $what at the path: replaced by the daemon's own file ($(dd_log | grep -m 1 '^dnsdiscd: Replacing' || echo 'no notice'))"
        dd_stop
done
is "$(md5sum <"$TESTDIR/victim") $(md5sum <"$TESTDIR/foreign.keep") $([ -e "$TESTDIR/nowhere" ] && echo created)" \
        "$victim_sum $foreign_sum " "the symlinks' targets and the other user's file are untouched, no dangling target created"

# A client left on a file deleted while no daemon ran: the new daemon cannot reach it.
dd_start "$CONF" && dd_wait_ready 10
start_client "$N_FIRST"
sleep 1
dd_stop
rm "$DD_CACHE"
zone_at 4
dd_start "$CONF" && dd_wait_ready 10 && wait_until 5 published "$N_FIRST" 4
client_result restarted 4
ok $? "deleted between two daemons: a client of the old file follows the new one (sees version 4)"
dd_stop

# ---------------------------------------------------------------- files a client cannot use
# bad_file NAME EXPECTED_TEXT: dnsdiscctl list on $TESTDIR/bad/NAME exits 1 (in 5 s) saying EXPECTED_TEXT.
mkdir "$TESTDIR/bad"
bad_file() {
        local out rc
        out=$(timeout 5 "$DNSDISCCTL" --cache "$TESTDIR/bad/$1" list 2>&1)
        rc=$?
        [ "$rc" -eq 1 ] && grep -q -- "$2" <<<"$out" && return 0
        diag "$1: exit $rc: $out"
        return 1
}
printf 'service a\nbackend 127.0.0.1 80\n' | "$MKCACHE" "$TESTDIR/bad/good" >/dev/null
"$DNSDISCCTL" --cache "$TESTDIR/bad/good" list >/dev/null 2>&1
ok $? "a valid file made by mkcache is listed (the files below are broken copies of it)"
cp "$TESTDIR/bad/good" "$TESTDIR/bad/major2"
printf '\002\000' | dd of="$TESTDIR/bad/major2" bs=1 seek=8 conv=notrunc 2>/dev/null
bad_file major2 "incompatible cache file version"
ok $? "version_major 2: exit 1, 'incompatible cache file version'"
head -c 100000 "$TESTDIR/bad/good" >"$TESTDIR/bad/truncated"
bad_file truncated "corrupt cache file"
ok $? "a file shorter than its header says: exit 1, 'corrupt cache file'"
for size in 0 1 511 512 4096 65536 1048576; do
        head -c "$size" /dev/urandom >"$TESTDIR/bad/random$size"
done
all=0
for size in 0 1 511 512 4096 65536 1048576; do bad_file "random$size" "corrupt cache file" || all=1; done
ok $all "random bytes (0 B to 1 MiB, 7 files): exit 1, 'corrupt cache file', no crash"
# Random bytes behind a valid header: every offset and count is checked before use.
for k in 1 2 3 4 5 6 7 8; do
        cp "$TESTDIR/bad/good" "$TESTDIR/bad/scrambled$k"
        size=$(stat -c %s "$TESTDIR/bad/good")
        head -c $((size - 512)) /dev/urandom | dd of="$TESTDIR/bad/scrambled$k" bs=512 seek=1 conv=notrunc 2>/dev/null
done
all=0
for k in 1 2 3 4 5 6 7 8; do
        timeout 5 "$DNSDISCCTL" --cache "$TESTDIR/bad/scrambled$k" list >/dev/null 2>&1
        rc=$?
        [ "$rc" -le 1 ] || { all=1; diag "scrambled$k: exit $rc"; }
done
ok $all "a valid header over random slots and heap (8 files): dnsdiscctl exits 0 or 1, never crashes"
mkdir "$TESTDIR/bad/dir"
bad_file dir "corrupt cache file"
ok $? "a directory: exit 1, 'corrupt cache file'"
mkfifo "$TESTDIR/bad/fifo"
bad_file fifo "corrupt cache file"
ok $? "a FIFO: exit 1, 'corrupt cache file', without blocking"
! grep -qE 'AddressSanitizer|runtime error:' "$TESTDIR"/client.err 2>/dev/null && dd_sanitizer_clean
ok $? "no sanitizer report from dnsdiscd or the clients"
diag "total run time $(ms_since "$t_start") ms"
done_testing
