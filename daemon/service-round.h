/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* service-round.h: one resolution round of a service: the SRV or address queries, CNAME chains, glue, answers. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "name-set.h"
#include "resolve.h"
#include "service-backends.h"
#include "service-nodata.h"

typedef struct Round Round;

typedef enum RoundOutcome {
        ROUND_ANSWER,                 /* records: entries, one per SRV record (or the host) */
        ROUND_NEGATIVE,               /* NXDOMAIN, NODATA, or only SRV "." records */
        ROUND_FAILED,                 /* transient: timeout, SERVFAIL, network, malformed, no memory */
} RoundOutcome;

typedef struct RoundResult {
        RoundOutcome outcome;
        const SetEntry *entries;      /* ROUND_ANSWER; valid during the callback */
        size_t n_entries;
        unsigned negative_error;      /* ROUND_NEGATIVE: DD_ERR_NXDOMAIN, DD_ERR_NODATA or DD_ERR_UNAVAILABLE */
        uint32_t negative_ttl;        /* ROUND_NEGATIVE: seconds, from the answer's SOA; 0 without */
        int error;                    /* ROUND_FAILED: negative errno as resolver_cb's */
        /* ROUND_ANSWER: what the round left out, for the service to say once per transition. */
        size_t n_records;             /* SRV records with a target (1 for a host) */
        size_t n_port0;               /* SRV records with port 0, left out */
        size_t n_targets;             /* distinct SRV targets */
        size_t n_targets_skipped;     /* of those, not looked up: more than max-backends */
        uint32_t empty_ttl;           /* ROUND_ANSWER: seconds until asking again if no backend comes
                                       * of it: the least of the SRV records' TTLs and the targets'
                                       * negative TTLs (SOA minimum); UINT32_MAX: no bound */
        const NameSet *names;         /* every name queried and CNAME followed (DNS NOTIFY matching) */
} RoundResult;

typedef struct RoundHandler {
        void (*queried)(void *userdata);                         /* each query sent */
        void (*done)(const RoundResult *res, void *userdata);    /* once, from the event loop */
} RoundHandler;

/*
 * Start a round for cfg's SRV name (then the targets' addresses where the
 * answer carries no glue) or host, asking for the addresses cfg's family
 * wants and following CNAMEs. Of an SRV set's targets, at most
 * max-backends take part, taken in the order of their best SRV record
 * (lowest priority, then highest weight, then name): each target gives at
 * least one backend if it has an address, so the others could not be kept.
 * Glue (records.h says which) stands for a lookup of its family only; with
 * family = any the other family is still asked for, unless nodata says it
 * has none (then the round carries that over), and a NODATA or NXDOMAIN
 * for it is remembered in nodata for its negative TTL (clamped) once the
 * round completes; nodata is borrowed like cfg. A truncated answer
 * (TC set, which reaches us only over TCP) fails its query. cfg, h and userdata are borrowed until done
 * has been called or round_cancel(). After done returns, the round is no
 * longer the caller's: it frees itself once its last query is back.
 * Returns 0 and *ret, or a negative errno: then done is never called.
 */
int round_start(Resolver *resolver, const ServiceConfig *cfg, NodataSet *nodata, const RoundHandler *h, void *userdata,
                Round **ret);
/* Never call back again; answers still in flight are dropped as they come. Accepts NULL, returns NULL. */
Round *round_cancel(Round *r);
