# SPDX-License-Identifier: LGPL-2.1-or-later
# unbound-lib.sh: the resolver the benchmarks time getaddrinfo()/res_query() against (sourced; bash):
# unbound answering bench.example (A, AAAA, SRV _http._tcp) from local data.
#
#   unbound_conf DIR PORT >conf        # its configuration, files in DIR, on 127.0.0.1:PORT
#   can_unshare && unbound_in_ns DIR PROBE COMMAND...   # COMMAND against it on 127.0.0.1:53, inside namespaces
#
# glibc's resolver has no port option: unbound_in_ns runs unbound on port 53 of a private network
# and mount namespace (unshare, needs root) whose /etc/resolv.conf is bind-mounted to point at it,
# so the host's port 53 and resolv.conf stay untouched.

unbound_conf() {
        cat <<EOF
server:
        interface: 127.0.0.1
        port: $2
        do-ip6: no
        do-daemonize: no
        use-syslog: no
        logfile: ""
        verbosity: 0
        chroot: ""
        username: ""
        directory: "$1"
        pidfile: "$1/unbound.pid"
        num-threads: 1
        module-config: "iterator"
        access-control: 127.0.0.0/8 allow
        local-zone: "bench.example." static
        local-data: "bench.example. 300 IN A 127.0.0.10"
        local-data: "bench.example. 300 IN AAAA fd00::10"
        local-data: "_http._tcp.bench.example. 300 IN SRV 0 1 80 bench.example."
remote-control:
        control-enable: no
EOF
}

# can_unshare: 0 when this process may make network and mount namespaces.
can_unshare() { unshare --mount --net -- true 2>/dev/null; }

# unbound_in_ns DIR PROBE COMMAND...: in new network and mount namespaces, unbound (files in DIR)
# on 127.0.0.1:53 and /etc/resolv.conf naming it; COMMAND runs, its output and status the
# function's, once PROBE (a shell command line) succeeds or 5 s have passed.
unbound_in_ns() {
        local dir=$1 probe=$2
        shift 2
        unbound_conf "$dir" 53 >"$dir/unbound-53.conf"
        printf 'nameserver 127.0.0.1\noptions attempts:1 timeout:1\n' >"$dir/resolv.conf"
        # shellcheck disable=SC2016 # expanded by the inner shell
        unshare --mount --net -- bash -c '
                set -euo pipefail
                dir=$1 probe=$2
                shift 2
                ip link set lo up
                mount --bind "$dir/resolv.conf" /etc/resolv.conf
                unbound -c "$dir/unbound-53.conf" >"$dir/unbound.log" 2>&1 &
                pid=$!
                trap "kill $pid 2>/dev/null; wait $pid 2>/dev/null || true" EXIT
                for _ in $(seq 1 100); do
                        bash -c "$probe" >/dev/null 2>&1 && break
                        sleep 0.05
                done
                "$@"' unbound-ns "$dir" "$probe" "$@"
}
