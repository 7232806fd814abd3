/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cache-writer-extent.c: a service's extent (backends, schedule, eligible list, target names) built off the file. */
#include <netinet/in.h>

#include "cache-writer-internal.h"

int pub_validate(const PubService *svc) {
        size_t l;

        if (!svc || !svc->name || svc->n_backends > DD_BACKENDS_MAX || (svc->n_backends > 0 && !svc->backends) ||
            svc->state >= _DD_STATE_MAX ||
            (svc->hash_table_size != 0 &&
             (svc->hash_table_size < DD_HASH_TABLE_MIN || svc->hash_table_size > DD_HASH_TABLE_MAX)))
                return -EINVAL;
        l = strlen(svc->name);
        if (l == 0)
                return -EINVAL;
        if (l >= DD_NAME_MAX || (svc->query && strlen(svc->query) >= DD_QUERY_MAX))
                return -ENAMETOOLONG;
        for (size_t i = 0; i < svc->n_backends; i++) {
                const PubBackend *b = &svc->backends[i];
                if ((b->family != 4 && b->family != 6) || b->health >= _DD_HEALTH_MAX || b->source >= _DD_SOURCE_MAX)
                        return -EINVAL;
                if (b->target && strlen(b->target) >= DD_TARGET_MAX)
                        return -ENAMETOOLONG;
        }
        return 0;
}

/* Whether backends a and b (adjacent) are addresses of one SRV record: same target, port,
 * priority and weight. The daemon publishes a record's addresses next to each other. */
static bool pub_same_srv_record(const PubBackend *a, const PubBackend *b) {
        return a->source == DD_SOURCE_SRV && b->source == DD_SOURCE_SRV && a->port == b->port &&
               a->priority == b->priority && a->weight == b->weight && streq(a->target ?: "", b->target ?: "");
}

/* Build svc's extent in w->buf and its schedule in w->sched. Returns the extent size. */
int extent_build(CacheWriter *w, const PubService *svc, uint16_t *ret_n_healthy) {
        SchedInput in[DD_BACKENDS_MAX];
        bool scheduled[DD_BACKENDS_MAX] = {};
        size_t n = svc->n_backends, off_sched, off_elig, off_str, cur;
        uint16_t n_healthy = 0;
        int r;

        for (size_t i = 0; i < n; i++) {
                const PubBackend *b = &svc->backends[i];
                in[i] = (SchedInput) { .priority = b->priority, .weight = b->weight,
                                       .healthy = b->health == DD_HEALTH_UP };
                /* A record's weight is split over its addresses (schedule.h): numbered by its first + 1. */
                if (b->source == DD_SOURCE_SRV)
                        in[i].record = i > 0 && pub_same_srv_record(b - 1, b) ? in[i - 1].record : (uint32_t) i + 1;
                n_healthy += in[i].healthy;
        }
        r = schedule_build(in, n, svc->panic, &w->sched);
        if (r < 0)
                return r;
        for (size_t i = 0; i < w->sched.n_eligible; i++)
                scheduled[w->sched.eligible[i]] = true;

        off_sched = n * sizeof(dd_backend);
        off_elig = off_sched + w->sched.len * sizeof(uint16_t);
        off_str = off_elig + w->sched.n_eligible * sizeof(uint16_t);
        memset(w->buf, 0, off_str);
        memcpy(w->buf + off_sched, w->sched.slots, w->sched.len * sizeof(uint16_t));
        memcpy(w->buf + off_elig, w->sched.eligible, w->sched.n_eligible * sizeof(uint16_t));

        cur = off_str;
        for (size_t i = 0; i < n; i++) {
                const PubBackend *p = &svc->backends[i];
                dd_backend *b = (dd_backend *) (w->buf + i * sizeof(dd_backend));
                const char *target = p->target ?: "";
                size_t tl = strlen(target);

                if (p->family == 4) {
                        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(p->port) };
                        memcpy(&sin.sin_addr, p->addr, 4);
                        memcpy(b->sockaddr, &sin, sizeof sin);
                        b->addrlen = sizeof sin;
                } else {
                        struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(p->port) };
                        memcpy(&sin6.sin6_addr, p->addr, 16);
                        memcpy(b->sockaddr, &sin6, sizeof sin6);
                        b->addrlen = sizeof sin6;
                }
                b->family = p->family;
                b->health = p->health;
                b->source = p->source;
                b->port = p->port;
                b->priority = p->priority;
                b->weight = p->weight;
                b->flags = (scheduled[i] ? DD_BACKEND_SCHEDULED : 0) | (p->unchecked ? DD_BACKEND_UNCHECKED : 0);
                b->ttl_expiry_usec = p->ttl_expiry_usec;
                b->key = dd_endpoint_key(p->family, p->addr, p->port);
                b->checks = p->checks;
                b->check_failures = p->check_failures;
                b->last_latency_usec = p->last_latency_usec;
                b->consecutive_ok = p->consecutive_ok;
                b->consecutive_fail = p->consecutive_fail;
                b->last_check_usec = p->last_check_usec;
                b->check_error = p->check_error;

                /* Addresses of one SRV target are usually adjacent: share its name. */
                b->target_len = (uint16_t) tl;
                if (i > 0 && b[-1].target_len == tl && memcmp(w->buf + b[-1].target_off, target, tl) == 0) {
                        b->target_off = b[-1].target_off;
                        continue;
                }
                b->target_off = (uint32_t) cur;
                memcpy(w->buf + cur, target, tl + 1);
                cur += tl + 1;
        }

        *ret_n_healthy = n_healthy;
        return extent_add_hash_table(w, svc, cur);
}

/* Whether two backends differ in what readers act on, as opposed to TTLs and check statistics. */
bool backend_same_significant(const dd_backend *a, const dd_backend *b) {
        return memcmp(a, b, offsetof(dd_backend, ttl_expiry_usec)) == 0 && a->key == b->key &&
               memcmp(a->reserved, b->reserved, sizeof a->reserved) == 0;
}
