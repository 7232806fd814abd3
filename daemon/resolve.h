/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* resolve.h: DNS transport on sd-event (the only c-ares user; no c-ares type leaks out). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

typedef struct Resolver Resolver;

typedef struct ResolverServer {
        int family;            /* AF_INET or AF_INET6 */
        uint8_t addr[16];
        uint16_t port;         /* host order; 53 when unset */
} ResolverServer;

typedef struct ResolverConfig {
        const ResolverServer *servers; /* NULL/0: follow /etc/resolv.conf (or resolv_conf) */
        size_t n_servers;
        const char *resolv_conf;       /* path to follow when servers are unset; NULL: /etc/resolv.conf */
        uint64_t timeout_usec;         /* per try */
        unsigned tries;
        unsigned max_inflight;         /* queries beyond this wait in a FIFO */
        /* Hand every answer to resolver_send()'s callback with its RCODE as is (REFUSED,
         * NOTAUTH, ...) instead of trying the next server: for DNS UPDATE, whose answer is the
         * result. */
        bool raw_answers;
} ResolverConfig;

/*
 * Called once per query, from the event loop (never from inside
 * resolver_query()). error is 0 when a packet arrived (NOERROR, NXDOMAIN or
 * NODATA: the packet says which), or a negative errno:
 *   -ETIMEDOUT     no answer in time
 *   -EREMOTEIO, -EACCES, -EOPNOTSUPP, -EPROTO
 *                  SERVFAIL, REFUSED, NOTIMP, another error RCODE (records_rcode_errno())
 *   -ECONNREFUSED  the server's port is closed (ICMP port unreachable, or TCP refused)
 *   -EHOSTUNREACH, -ENETUNREACH, -ECONNRESET
 *                  the server cannot be reached, or reset or closed a TCP connection
 *   -EBADMSG       malformed answer
 *   -ECANCELED     resolver_free() with the query pending
 *   -ENXIO, -ENODATA  NXDOMAIN/NODATA reported without a packet
 *   -ENOMEM, -EIO  other failures
 * pkt is valid only during the call.
 */
typedef void (*resolver_cb)(int error, const uint8_t *pkt, size_t len, void *userdata);

int resolver_new(sd_event *e, const ResolverConfig *cfg, Resolver **ret);
/* Pending queries are called back with -ECANCELED from inside this call;
 * those callbacks must not query again. Accepts NULL. Never call it from
 * inside a resolver_cb. */
Resolver *resolver_free(Resolver *r);
/* Queue a query of class IN for name (presentation form: a "\\DDD" escape is sent as the octet it
 * stands for); returns 0 or a negative errno (then cb never runs). */
int resolver_query(Resolver *r, const char *name, uint16_t type, resolver_cb cb, void *userdata);
/* The same for a query that finishes work already begun (a round's target addresses, a CNAME
 * followed): it is sent before every waiting resolver_query() and resolver_send(). */
int resolver_query_followup(Resolver *r, const char *name, uint16_t type, resolver_cb cb, void *userdata);
/*
 * Send msg, a whole DNS message (an UPDATE), as c-ares sends queries: UDP,
 * TCP when the answer is truncated, the timeout and tries of the resolver.
 * c-ares gives it a fresh random ID, which is why a TSIG signature carries its
 * original ID. The callback gets the answer packet with error 0 whatever its
 * RCODE when the resolver has raw_answers. msg is copied.
 */
int resolver_send(Resolver *r, const uint8_t *msg, size_t len, resolver_cb cb, void *userdata);
/* Queries sent, in flight, waiting. */
uint64_t resolver_queries_sent(Resolver *r);
/* Queries sent again at once because another query's broken connection failed them too. */
uint64_t resolver_collateral_retries(Resolver *r);
unsigned resolver_inflight(Resolver *r);
