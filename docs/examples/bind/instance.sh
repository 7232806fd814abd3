#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# instance.sh: register or deregister a service instance in a dynamic BIND 9 zone with nsupdate.
#
# Usage: instance.sh [-n] register|deregister SRVNAME TARGET ADDRESS PORT [PRIORITY [WEIGHT]]
#
#   instance.sh register _http._tcp.search.services.example.com search-2.services.example.com 10.0.3.12 9200
#   instance.sh deregister _http._tcp.search.services.example.com search-2.services.example.com 10.0.3.12 9200
#
# register adds TARGET's A (or AAAA) record and the SRV record SRVNAME ->
# TARGET:PORT (priority 10, weight 10 unless given); deregister deletes both,
# so give each instance a target name of its own. Each is one DNS UPDATE,
# which named applies atomically: clients never see the SRV record without
# its address. -n prints the update instead of sending it.
#
# Environment: NSUPDATE_SERVER (default 127.0.0.1), NSUPDATE_PORT (53),
# NSUPDATE_KEY (a TSIG key file, for nsupdate -k), ZONE (default: TARGET
# without its first label), TTL (30).
#
# To take an instance out without failing requests: deregister it, wait for
# the SRV TTL plus a few seconds (dnsdiscd refreshes before the TTL runs
# out, and "dnsdiscctl refresh" on a host makes it at once), then stop it.
set -euo pipefail

usage() { sed -n '5,6s/^# \{0,1\}//p' "$0" >&2; exit 2; }

dry_run=0
if [ "${1:-}" = "-n" ]; then dry_run=1; shift; fi
[ $# -ge 5 ] && [ $# -le 7 ] || usage
action=$1 srv=${2%.} target=${3%.} address=$4 port=$5 priority=${6:-10} weight=${7:-10}
case $action in register | deregister) ;; *) usage ;; esac
for n in "$port" "$priority" "$weight"; do
        [[ $n =~ ^[0-9]+$ ]] && [ "$n" -le 65535 ] || { echo "instance.sh: '$n' is not a number from 0 to 65535" >&2; exit 2; }
done
type=A
[[ $address == *:* ]] && type=AAAA
zone=${ZONE:-${target#*.}}
ttl=${TTL:-30}

update() {
        echo "server ${NSUPDATE_SERVER:-127.0.0.1} ${NSUPDATE_PORT:-53}"
        echo "zone $zone"
        if [ "$action" = register ]; then
                # The address first: a client that sees the SRV record finds its target.
                echo "update add $target. $ttl IN $type $address"
                echo "update add $srv. $ttl IN SRV $priority $weight $port $target."
        else
                echo "update delete $srv. IN SRV $priority $weight $port $target."
                echo "update delete $target. IN $type $address"
        fi
        echo "send"
}

if [ "$dry_run" -eq 1 ]; then
        update
        exit 0
fi
key=()
[ -n "${NSUPDATE_KEY:-}" ] && key=(-k "$NSUPDATE_KEY")
update | nsupdate "${key[@]}" -t 10
