; SPDX-License-Identifier: LGPL-2.1-or-later
; db.services.example.com: a BIND 9 zone for service discovery, changed at run time with nsupdate (instance.sh).
;
; Dynamic zone: named rewrites this file from its journal, so keep it where
; named may write (Debian: /var/lib/bind/), and edit it by hand only after
; "rndc freeze services.example.com" (then "rndc thaw").
$ORIGIN services.example.com.
; Short TTLs: a new or removed instance reaches applications within about 30 s.
$TTL 30
; SOA minimum 10: resolvers (and dnsdiscd) keep a "no such name" for 10 s only.
@               IN SOA  ns1 hostmaster ( 1 3600 600 86400 10 )
                IN NS   ns1
ns1      3600   IN A    10.0.0.53

; api: two instances sharing load 2:1, and a standby used only when neither is left.
_http._tcp.api  IN SRV  10 20 8080 api-1
_http._tcp.api  IN SRV  10 10 8080 api-2
_http._tcp.api  IN SRV  20 0  8080 api-standby
api-1           IN A    10.0.1.11
api-2           IN A    10.0.1.12
api-standby     IN A    10.0.2.11

; search: registered and deregistered by its instances themselves (see
; instance.sh); starts with one.
_http._tcp.search IN SRV 10 10 9200 search-1
search-1        IN A    10.0.3.11
