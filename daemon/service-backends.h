/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* service-backends.h: a service's backend set: built from a round's answers (dedup, order, cap),
 * health carried over. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "health.h"
#include "records.h"
#include "service-ttl.h"

/* A backend as discovered; health fields are maintained by health.c. */
typedef struct Backend {
        uint8_t family;                       /* 4 or 6 */
        uint8_t addr[16];
        uint16_t port;
        uint16_t priority, weight;
        uint8_t source;                       /* DD_SOURCE_* */
        char *target;                         /* owned by the set holding the backend */
        int64_t expiry_usec;                  /* CLOCK_BOOTTIME: when its DNS data expires */
        int64_t ttl_expiry_usec;              /* the same on CLOCK_REALTIME, published */
        uint8_t health;                       /* DD_HEALTH_* */
        uint32_t checks, check_failures, last_latency_usec;
        uint16_t consecutive_ok, consecutive_fail;
        int64_t last_check_usec;
        uint16_t check_error;
} Backend;

/* Backends, each owning its target name, and their health monitors. */
typedef struct BackendSet {
        Backend *b;
        HealthMonitor **monitors;             /* parallel to b, entries NULL when unchecked; NULL: none */
        size_t n;
} BackendSet;

/* What a round found for one SRV record, or for the host of an address service. */
typedef struct SetEntry {
        const char *target;                   /* the SRV target or the host; borrowed */
        bool srv;                             /* an SRV record: its backends are matched by port too */
        uint16_t port, priority, weight;
        uint32_t ttl;                         /* min over the SRV record and the CNAMEs on the way
                                               * (seconds); UINT32_MAX: no bound */
        const RecAddr *addrs;                 /* borrowed; their TTLs include their own CNAMEs; in
                                               * (family, address) order, so the cap keeps the same ones */
        size_t n_addrs;
        bool keep_previous;                   /* the target's address queries failed transiently
                                               * and found nothing: keep what the previous set had */
} SetEntry;

/* Free the backends, their names and monitors (stopping the checks); *set is then empty. */
void backend_set_clear(BackendSet *set);

/*
 * Build a set from a round's entries: one backend per address of each
 * entry, the previous set's backends for entries to keep, one backend per
 * endpoint. Entries fill the set in the order the schedule uses backends:
 * lowest priority, then highest weight (then target and port), and filling
 * stops at st->max_backends: memory is max-backends backends, and work at
 * most one lookup per address offered, whatever the entries multiply to.
 * The set is then in a canonical order (priority, target, port, address).
 * Expiry times are now + the clamped TTL, on both clocks. *ret_min_ttl_usec:
 * the TTL to refresh at (UINT64_MAX for an empty set); *ret_capped: backends
 * were left out for max-backends. Returns 0 (*ret has no monitors) or
 * -ENOMEM (outputs untouched).
 */
int backend_set_build(const SetEntry *entries, size_t n_entries, const BackendSet *previous,
                      const ServiceSettings *st, Instant now, BackendSet *ret, uint64_t *ret_min_ttl_usec,
                      bool *ret_capped);

/* A deep copy of n backends (an adopted set), without monitors. 0 or -ENOMEM. */
int backend_set_copy(const Backend *b, size_t n, BackendSet *ret);

/*
 * Make *next the current set *cur, taking it over (*next is left empty):
 * a backend at the same endpoint with the same target keeps its monitor
 * and status; the others get a new monitor from checker (none when the
 * service is unchecked or checker is NULL: then backends are up as DNS
 * publishes them). Monitors of backends that are gone are stopped.
 */
void backend_set_replace(BackendSet *cur, BackendSet *next, HealthChecker *checker, const ServiceConfig *cfg,
                         health_changed_cb cb, void *userdata);

/* The index of the backend m checks, or -1. */
ssize_t backend_set_find_monitor(const BackendSet *set, const HealthMonitor *m);
/* Copy a monitor's status into the backend it checks. */
void backend_take_status(Backend *b, const HealthStatus *st);
