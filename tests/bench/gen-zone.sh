# SPDX-License-Identifier: LGPL-2.1-or-later
# gen-zone.sh: writes the DNS benchmark's zone (bench.example.) to stdout (bash).
#
#   bash gen-zone.sh [SERVICES [TTL]]      defaults: 10000 services, TTL 30
#
# _svcN._tcp.bench.example. has 4 SRV records (priority 10, weight 10..40,
# port 8000 + k) to tN-k.bench.example., each with one A record. Target
# addresses are all distinct and all in 127.0.0.0/8, from 127.1.0.0 up (away
# from 127.0.0.1, where the server listens), so nothing derived from this
# zone can leave the host.
# The targets live in the zone itself, so the server sends their A records
# as additional-section glue and the daemon needs one query per service.
set -eu
n=${1:-10000}
ttl=${2:-30}
# 127.1.0.0 up to 127.255.255.254: 4 addresses per service.
if [ "$n" -lt 1 ] || [ "$n" -gt 4000000 ]; then
        echo "gen-zone.sh: SERVICES must be 1..4000000" >&2
        exit 1
fi
awk -v n="$n" -v ttl="$ttl" 'BEGIN {
        print "$ORIGIN bench.example."
        print "$TTL " ttl
        # SOA MINIMUM 30: negative answers would be cached for 30 s as well.
        print "@ IN SOA ns.bench.example. hostmaster.bench.example. 1 3600 600 86400 30"
        print "@ IN NS ns"
        print "ns IN A 127.0.0.1"
        for (i = 0; i < n; i++) {
                for (k = 0; k < 4; k++)
                        printf "_svc%d._tcp IN SRV 10 %d %d t%d-%d\n", i, 10 * (k + 1), 8000 + k, i, k
                for (k = 0; k < 4; k++) {
                        a = 65536 + i * 4 + k
                        printf "t%d-%d IN A 127.%d.%d.%d\n", i, k, int(a / 65536), int(a / 256) % 256, a % 256
                }
        }
}'
