#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-resolv-conf.sh: without servers=, dnsdiscd follows /etc/resolv.conf when it changes and retires the old channel.
source "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

# /etc/resolv.conf is replaced by a test file only inside a private mount
# namespace of the daemon; the two name servers must listen on port 53.
[ "$(id -u)" = 0 ] || skip_all "needs root for a private mount namespace"
command -v unshare >/dev/null || skip_all "unshare (util-linux) is not installed"
# Making the namespace's mounts private (so that nothing mounted in it shows outside) needs
# CAP_SYS_ADMIN and a root that is a mount point: a plain chroot has neither a mount to change
# nor a way to reach the one it sits in.
if ! err=$(unshare -m --propagation private true 2>&1); then
        mountpoint -q / || skip_all "/ is not a mount point (a plain chroot?): no private mount namespace to replace /etc/resolv.conf in ($err)"
        skip_all "cannot make a private mount namespace to replace /etc/resolv.conf in ($err)"
fi
if ss -Hlun 2>/dev/null | awk '{print $4}' | grep -qE '^(0\.0\.0\.0|\*|127\.0\.0\.[23]):53$'; then
        skip_all "port 53 of 127.0.0.2 or 127.0.0.3 is taken"
fi

# Two servers giving the same name different answers: which one dnsdiscd
# asks shows in the cache.
start_server() { # start_server ADDR ADDRESS-IN-ANSWER
        local dir="$TESTDIR/$1"
        mkdir -p "$dir"
        cat >"$dir/zone" <<EOF
svc.test. 300 IN SOA ns.svc.test. host.svc.test. 1 3600 600 86400 5
_http._tcp.svc.test. 30 IN SRV 0 1 80 a.svc.test.
a.svc.test. 30 IN A $2
EOF
        "$top_builddir/tests/fakedns" -a "$1" -p 53 -z "$dir/zone" -l "$dir/queries" >"$dir/out" 2>"$dir/err" &
        at_exit "kill $! 2>/dev/null"
        wait_until 5 grep -qx ready "$dir/out" && return 0
        # Only 127.0.0.1 may be configured (a network namespace of a container that
        # gives lo the one address, not the whole 127.0.0.0/8 route).
        grep -q 'Cannot assign requested address' "$dir/err" &&
                skip_all "cannot bind $1:53 ($(tail -n 1 "$dir/err")): the loopback range is not local here"
        return 1
}
start_server 127.0.0.2 127.9.0.2
ok $? "a name server on 127.0.0.2:53"
start_server 127.0.0.3 127.9.0.3
ok $? "a name server on 127.0.0.3:53"

cache="$TESTDIR/cache"
conf="$TESTDIR/dnsdisc.conf"
resolv="$TESTDIR/resolv.conf"
printf 'nameserver 127.0.0.2\n' >"$resolv"
cat >"$conf" <<EOF
[daemon]
cache = $cache
query-timeout = 500ms
min-ttl = 1s
max-ttl = 2s

[service svc]
srv = _http._tcp.svc.test
EOF
log="$TESTDIR/dnsdiscd.log"
# A bind mount needs a file to cover. Where /etc/resolv.conf is missing or a symlink to
# nothing (a minimal root or container without DNS settings), /etc itself is covered, in the
# namespace only, by a tmpfs of links to the real entries plus a resolv.conf link to the test
# file (the daemon stats the path, so a rewrite shows through the link).
mkdir "$TESTDIR/etc.real"
unshare -m --propagation private sh -c '
        set -e
        if [ -f /etc/resolv.conf ]; then
                mount --bind "$1" /etc/resolv.conf
        else
                echo "test-resolv-conf: /etc/resolv.conf is no file here: a tmpfs /etc in the namespace" >&2
                mount --bind /etc "$2"
                mount -t tmpfs -o mode=0755 tmpfs /etc
                for e in "$2"/* "$2"/.[!.]*; do
                        [ -e "$e" ] || [ -L "$e" ] || continue
                        ln -s "$e" "/etc/${e##*/}"
                done
                rm -f /etc/resolv.conf
                ln -s "$1" /etc/resolv.conf
        fi
        shift 2
        exec "$@"' sh "$resolv" "$TESTDIR/etc.real" "$DNSDISCD" -c "$conf" --log-level debug 2>"$log" &
daemon=$!
at_exit "kill $daemon 2>/dev/null"

picks() { "$DNSDISCCTL" --cache "$cache" pick svc -n 2 2>/dev/null | sort -u | tr '\n' ' '; }
answers_from() { [ "$(picks)" = "$1 " ]; }

wait_until 10 answers_from 127.9.0.2:80
ok $? "the servers of resolv.conf are used (127.0.0.2 answers)"

# Rewritten in place: the bind mount shows the new content.
printf 'nameserver 127.0.0.3\n' >"$resolv"
wait_until 10 answers_from 127.9.0.3:80
ok $? "after resolv.conf changes, the new server answers (127.0.0.3)"
grep -q 'resolv.conf changed: new DNS servers take over' "$log"
ok $? "the change is logged"
# Counted from the switch (logged), not from the rewrite: until the daemon notices the change,
# its refreshes rightly still go to the old server.
before=$(wc -l <"$TESTDIR/127.0.0.2/queries")
wait_until 5 grep -q 'Destroyed idle retired DNS channel' "$log"
ok $? "the old channel is destroyed once idle"
sleep 3
after=$(wc -l <"$TESTDIR/127.0.0.2/queries")
# A query may have been in flight at the switch; none is sent afterwards.
[ $((after - before)) -le 1 ]
ok $? "the old server gets no further queries ($((after - before)) after the switch)"
kill -TERM "$daemon"
wait "$daemon"
is "$?" "0" "dnsdiscd exits 0"
done_testing
