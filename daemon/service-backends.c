/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* service-backends.c: a service's backend set: built from a round's answers (dedup, order, cap),
 * health carried over. */
#include "cache-def.h"
#include "log.h"
#include "service-backends.h"
#include "service-ttl.h"
#include "util.h"

static void backends_free(Backend *b, size_t n) {
        for (size_t i = 0; i < n && b; i++)
                free(b[i].target);
        free(b);
}

static void monitors_free(HealthMonitor **m, size_t n) {
        for (size_t i = 0; i < n && m; i++)
                health_monitor_free(m[i]);
        free(m);
}

void backend_set_clear(BackendSet *set) {
        /* Monitors first: they must not report on backends already gone. */
        monitors_free(set->monitors, set->n);
        backends_free(set->b, set->n);
        *set = (BackendSet) {};
}

static bool backend_same_endpoint(const Backend *a, const Backend *b) {
        return a->family == b->family && a->port == b->port && memcmp(a->addr, b->addr, a->family == 6 ? 16 : 4) == 0;
}

static int backend_cmp(const void *a, const void *b) {
        const Backend *x = a, *y = b;
        int c;

        /* Lowest priority first, so max-backends drops the last resorts. */
        if (x->priority != y->priority)
                return x->priority < y->priority ? -1 : 1;
        /* Then a total order on the endpoint: servers shuffle their answers,
         * and a reshuffled set must publish (and cap) identically. */
        c = strcmp(x->target, y->target);
        if (c != 0)
                return c;
        if (x->port != y->port)
                return x->port < y->port ? -1 : 1;
        if (x->family != y->family)
                return x->family < y->family ? -1 : 1;
        return memcmp(x->addr, y->addr, x->family == 6 ? 16 : 4);
}

static bool entry_owns(const SetEntry *e, const Backend *b) {
        return streq(b->target, e->target) && (!e->srv || b->port == e->port);
}

/*
 * The order in which entries fill the set, so that max-backends keeps what the
 * schedule would use first: the lowest priority (RFC 2782), then the highest
 * weight (the largest share of the picks), then a total order, so that a
 * reshuffled answer keeps the same backends.
 */
static int entry_fill_cmp(const void *a, const void *b, void *userdata) {
        const SetEntry *e = userdata, *x = &e[*(const uint32_t *) a], *y = &e[*(const uint32_t *) b];
        int c;

        if (x->priority != y->priority)
                return x->priority < y->priority ? -1 : 1;
        if (x->weight != y->weight)
                return x->weight > y->weight ? -1 : 1;
        c = strcmp(x->target, y->target);
        if (c != 0)
                return c;
        if (x->port != y->port)
                return x->port < y->port ? -1 : 1;
        return 0;
}

/* Endpoints already in the set being built: open addressing over indices into it. */
typedef struct EndpointSet {
        uint32_t *slot;                       /* index + 1; 0: empty */
        size_t mask;
} EndpointSet;

static uint64_t endpoint_hash(const Backend *b) {
        /* FNV-1a: cheap, and the set never holds more than max-backends entries. */
        uint64_t h = 0xcbf29ce484222325ULL;
        for (size_t i = 0; i < (b->family == 6 ? 16u : 4u); i++)
                h = (h ^ b->addr[i]) * 0x100000001b3ULL;
        h = (h ^ b->family) * 0x100000001b3ULL;
        h = (h ^ (b->port & 0xff)) * 0x100000001b3ULL;
        return (h ^ (b->port >> 8)) * 0x100000001b3ULL;
}

/* true if set[i]'s endpoint was new (and is now in es); false for a duplicate. */
static bool endpoint_set_add(EndpointSet *es, const Backend *set, uint32_t i) {
        for (size_t k = endpoint_hash(&set[i]) & es->mask;; k = (k + 1) & es->mask) {
                if (es->slot[k] == 0) {
                        es->slot[k] = i + 1;
                        return true;
                }
                if (backend_same_endpoint(&set[es->slot[k] - 1], &set[i]))
                        return false;
        }
}

int backend_set_build(const SetEntry *entries, size_t n_entries, const BackendSet *previous,
                      const ServiceSettings *st, Instant now, BackendSet *ret, uint64_t *ret_min_ttl_usec,
                      bool *ret_capped) {
        size_t max = st->max_backends, n = 0, slots = 4;
        uint64_t min_ttl = UINT64_MAX;
        bool capped = false;

        while (slots < 2 * max)
                slots *= 2;
        /* Memory for max-backends, never for what the answers hold: 1,000 SRV records to a target
         * with 1,000 addresses are a million candidates, of which max-backends are kept. */
        _cleanup_(backend_set_clear) BackendSet bs = { .b = calloc(MAX(max, 1u), sizeof *bs.b) };
        _cleanup_free_ uint32_t *order = reallocarray(NULL, MAX(n_entries, 1u), sizeof *order);
        _cleanup_free_ uint32_t *slot = calloc(slots, sizeof *slot);
        EndpointSet es = { .slot = slot, .mask = slots - 1 };
        Backend *set = bs.b;
        if (!set || !order || !slot)
                return -ENOMEM;

        for (size_t i = 0; i < n_entries; i++)
                order[i] = (uint32_t) i;
        sort_r(order, n_entries, sizeof *order, entry_fill_cmp, (void *) entries);

        /* Each candidate costs one lookup and is kept or dropped at once: the work is at most the
         * entries' addresses up to the set's filling, and a target's addresses are at most
         * max-backends (service-round.c), so O(records x max-backends) at worst. */
        for (size_t o = 0; o < n_entries && !capped; o++) {
                const SetEntry *e = &entries[order[o]];

                if (e->keep_previous) {
                        /* Keep what we had for this target rather than lose it to a glitch. */
                        for (size_t k = 0; k < previous->n; k++) {
                                const Backend *old = &previous->b[k];
                                if (!entry_owns(e, old))
                                        continue;
                                if (n == max) {
                                        capped = true;
                                        break;
                                }
                                set[n] = *old;
                                set[n].target = NULL;
                                if (!endpoint_set_add(&es, set, (uint32_t) n))
                                        continue;
                                set[n].target = strdup(old->target);
                                if (!set[n].target)
                                        return -ENOMEM;
                                bs.n = ++n;
                                uint64_t left = ttl_window_left(old->expiry_usec, 0, now.boot); /* until expiry */
                                min_ttl = MIN(min_ttl, CLAMP(left, st->min_ttl_usec, st->max_ttl_usec));
                        }
                        continue;
                }

                for (size_t a = 0; a < e->n_addrs; a++) {
                        Backend *b = &set[n];
                        uint64_t ttl_usec;

                        if (n == max) {
                                capped = true;
                                break;
                        }
                        ttl_usec = ttl_clamp(MIN(e->addrs[a].ttl, e->ttl), st->min_ttl_usec, st->max_ttl_usec);
                        *b = (Backend) {
                                .family = e->addrs[a].family,
                                .port = e->port,
                                .priority = e->priority,
                                .weight = e->weight,
                                .source = e->srv ? DD_SOURCE_SRV
                                                 : e->addrs[a].family == 6 ? DD_SOURCE_AAAA : DD_SOURCE_A,
                                .expiry_usec = now.boot + (int64_t) ttl_usec,
                                .ttl_expiry_usec = now.wall + (int64_t) ttl_usec,
                        };
                        memcpy(b->addr, e->addrs[a].addr, 16);
                        /* One backend per endpoint (two SRV targets may share an address): the
                         * first one filled, of the lowest priority, stays. */
                        if (!endpoint_set_add(&es, set, (uint32_t) n))
                                continue;
                        b->target = strdup(e->target);
                        if (!b->target)
                                return -ENOMEM;
                        min_ttl = MIN(min_ttl, ttl_usec);
                        bs.n = ++n;
                }
        }

        /* Canonical order, whatever the order of the answer (a total order,
         * so whether the sort is stable does not matter). */
        sort(set, n, sizeof *set, backend_cmp);

        /* Sized for max-backends while it was built; the published set keeps only what it holds
         * (10,000 services of 4 backends held 5.6 KiB each for 64 slots: 110 MiB of the daemon's RSS).
         * A copy, not realloc(): shrinking in place would leave a hole behind each set that the next
         * build's max-backends array does not fit in, as resident as the slots were. */
        if (n < MAX(max, 1u)) {
                Backend *fit = reallocarray(NULL, MAX(n, 1u), sizeof *bs.b);
                if (fit) {
                        memcpy(fit, bs.b, n * sizeof *bs.b);
                        free(bs.b);
                        bs.b = fit;
                }
        }
        *ret = (BackendSet) { .b = TAKE_PTR(bs.b), .n = n };
        bs.n = 0;
        *ret_min_ttl_usec = min_ttl;
        *ret_capped = capped;
        return 0;
}

int backend_set_copy(const Backend *b, size_t n, BackendSet *ret) {
        _cleanup_(backend_set_clear) BackendSet copy = {};
        if (n > 0) {
                copy.b = calloc(n, sizeof *copy.b);
                if (!copy.b)
                        return -ENOMEM;
                for (; copy.n < n; copy.n++) {
                        copy.b[copy.n] = b[copy.n];
                        copy.b[copy.n].target = strdup(b[copy.n].target ? b[copy.n].target : "");
                        if (!copy.b[copy.n].target)
                                return -ENOMEM;
                }
        }
        *ret = copy;
        copy = (BackendSet) {};
        return 0;
}

void backend_take_status(Backend *b, const HealthStatus *st) {
        b->health = st->health;
        b->checks = st->checks;
        b->check_failures = st->failures;
        b->last_latency_usec = st->last_latency_usec;
        b->consecutive_ok = st->consecutive_ok;
        b->consecutive_fail = st->consecutive_fail;
        b->last_check_usec = st->last_check_usec;
        b->check_error = st->last_error;
}

ssize_t backend_set_find_monitor(const BackendSet *set, const HealthMonitor *m) {
        for (size_t i = 0; set->monitors && i < set->n; i++)
                if (set->monitors[i] == m)
                        return (ssize_t) i;
        return -1;
}

/* A new monitor for b, starting from the status b carries (adopted from the cache) if any. */
static HealthMonitor *backend_monitor_new(const Backend *b, HealthChecker *checker, const ServiceConfig *cfg,
                                          health_changed_cb cb, void *userdata) {
        HealthMonitor *m = NULL;
        HealthTarget t = {
                .family = b->family,
                .port = b->port,
                .host = b->target,
                .service = cfg->name,
        };
        memcpy(t.addr, b->addr, 16);
        HealthStatus initial = {
                .health = b->health,
                .checks = b->checks,
                .failures = b->check_failures,
                .last_latency_usec = b->last_latency_usec,
                .consecutive_ok = b->consecutive_ok,
                .consecutive_fail = b->consecutive_fail,
                .last_check_usec = b->last_check_usec,
                .last_error = b->check_error,
        };
        int r = health_monitor_new(checker, &t, &cfg->s, b->health != DD_HEALTH_UNKNOWN ? &initial : NULL, cb,
                                   userdata, &m);
        if (r < 0)
                log_error_errno(r, "backend %s of %s: cannot health-check it: %s", b->target, cfg->name,
                                strerror(-r));
        return m;
}

void backend_set_replace(BackendSet *cur, BackendSet *next, HealthChecker *checker, const ServiceConfig *cfg,
                         health_changed_cb cb, void *userdata) {
        HealthMonitor **monitors = NULL;
        Backend *set = next->b;
        size_t n = next->n;

        if (cfg->s.check != CHECK_NONE && n > 0 && checker) {
                monitors = calloc(n, sizeof *monitors);
                if (!monitors)
                        log_error("Out of memory: backends of %s are not health-checked", cfg->name);
        }
        for (size_t i = 0; monitors && i < n; i++) {
                Backend *b = &set[i];
                for (size_t k = 0; k < cur->n && cur->monitors; k++)
                        if (cur->monitors[k] && backend_same_endpoint(b, &cur->b[k]) &&
                            streq(b->target, cur->b[k].target)) {
                                monitors[i] = TAKE_PTR(cur->monitors[k]);
                                backend_take_status(b, health_monitor_status(monitors[i]));
                                break;
                        }
                if (!monitors[i])
                        monitors[i] = backend_monitor_new(b, checker, cfg, cb, userdata);
        }
        if (cfg->s.check == CHECK_NONE)
                for (size_t i = 0; i < n; i++)
                        set[i].health = DD_HEALTH_UP; /* healthy as DNS publishes it */

        backend_set_clear(cur);
        *cur = (BackendSet) { .b = set, .monitors = monitors, .n = n };
        *next = (BackendSet) {};
}
