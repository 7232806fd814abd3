/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* state.c: one service's discovery state machine: query rounds, TTLs, stale and negative answers, publishing. */
#include <arpa/inet.h>
#include <math.h>

#include "cache-writer.h"
#include "health.h"
#include "log.h"
#include "name-set.h"
#include "records.h"
#include "resolve.h"
#include "state.h"

#define BACKOFF_BASE_USEC USEC_PER_SEC
#define BACKOFF_CAP_USEC (60 * USEC_PER_SEC)
#define CONFIRM_MIN_USEC USEC_PER_SEC

/* A distinct SRV target (or the host) of a round, with the addresses found. */
typedef struct Target {
        const char *name;                /* in the round's srv_names, or the service's host */
        RecAddr *addrs;
        size_t n_addrs;
        uint32_t chain_ttl;              /* min TTL of CNAMEs followed for it */
        unsigned pending;                /* address queries outstanding */
        bool transient_error;            /* a query for it failed transiently */
} Target;

/* One round: the SRV query (or the host's address queries) and what follows. */
typedef struct Round {
        uint64_t id;
        RecSrv *srv;
        size_t n_srv;
        char *srv_names;                 /* the SRV answer's names: srv[].target point into it */
        uint32_t *srv_target;            /* per SRV record: its target's index in targets */
        uint32_t chain_ttl;              /* min TTL of CNAMEs on the way to the SRV set */
        unsigned cname_depth;
        Target *targets;
        size_t n_targets;
        unsigned pending;                /* queries outstanding in this round */
        bool srv_done;                   /* the SRV set is known (SRV services) */
        int last_error;                  /* of a failed address query */
} Round;

struct Service {
        unsigned n_ref;
        bool dead;                       /* unref'd by the manager: no more queries or publishing */
        StateContext *ctx;
        ServiceConfig cfg;               /* deep copy */

        uint8_t state;                   /* DD_STATE_* */
        uint16_t last_error;             /* DD_ERR_* */
        int64_t last_good_usec;          /* CLOCK_REALTIME of the last positive or negative answer */
        int64_t next_refresh_usec;
        unsigned consecutive_negative;
        unsigned failures;               /* consecutive transient failures */
        bool first_round_done;
        bool capped_warned;
        bool publish_failed;             /* the last publish failed: said once, retried with each refresh */

        Backend *backends;               /* published set */
        HealthMonitor **monitors;        /* parallel to backends; NULL entries without checks */
        size_t n_backends;
        sd_event_source *stats_flush;    /* coalesces publishing of probe statistics */

        Round round;
        bool round_active;
        TimerEntry refresh;              /* in ctx->timers */

        /* DNS NOTIFY: which names the answers depend on, and the pacing of the rounds it triggers. */
        NameSet deps;                    /* of the last round that reached an answer */
        NameSet round_deps;              /* collected by the running round */
        bool notify_pending;             /* a NOTIFY asked for a round not started yet */
        uint64_t notify_due_usec;        /* CLOCK_MONOTONIC: that round's earliest start */
        uint64_t notify_round_usec;      /* CLOCK_MONOTONIC start of the last round a NOTIFY triggered */
        uint64_t counters[_DD_SCTR_MAX];
};

/* A query in flight holds a reference to its service. */
typedef struct QueryCtx {
        Service *service;
        uint64_t round_id;
        ssize_t target;                  /* -1: the SRV query */
        uint16_t type;
        unsigned depth;                  /* CNAMEs followed for this name */
        uint32_t chain_ttl;
        char name[RECORDS_NAME_MAX];     /* asked; the answer's question must match */
} QueryCtx;

static double rand_unit(StateContext *ctx) {
        /* xorshift64*: jitter only, no security role. */
        uint64_t x = ctx->rng ? ctx->rng : 0x9e3779b97f4a7c15ULL;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        ctx->rng = x;
        return (double) ((x * 0x2545f4914f6cdd1dULL) >> 11) / (double) (1ULL << 53);
}

uint64_t state_clamp_ttl(uint32_t ttl_sec, uint64_t min_usec, uint64_t max_usec) {
        /* RFC 2181 §8: a TTL with the top bit set is read as zero. */
        uint64_t ttl = ttl_sec >= (1u << 31) ? 0 : (uint64_t) ttl_sec * USEC_PER_SEC;
        return CLAMP(ttl, min_usec, max_usec);
}

uint64_t state_refresh_delay(uint64_t ttl_usec, double rnd) {
        /* Refresh before expiry so a published set never expires, spread
         * over 80-90% so services sharing a TTL do not refresh in lockstep. */
        return (uint64_t) ((double) ttl_usec * (0.80 + 0.10 * rnd));
}

uint64_t state_backoff_delay(unsigned failures, double rnd) {
        uint64_t d = BACKOFF_BASE_USEC;
        for (unsigned i = 1; i < failures && d < BACKOFF_CAP_USEC; i++)
                d *= 2;
        d = MIN(d, BACKOFF_CAP_USEC);
        return (uint64_t) ((double) d * (0.8 + 0.4 * rnd));
}

unsigned state_error_from_errno(int error) {
        switch (error) {
        case -ETIMEDOUT:
                return DD_ERR_TIMEOUT;
        case -ECONNREFUSED:
                return DD_ERR_SERVFAIL; /* c-ares folds SERVFAIL and REFUSED into one code */
        case -EBADMSG:
        case -ELOOP:
                return DD_ERR_MALFORMED;
        case -ENXIO:
                return DD_ERR_NXDOMAIN;
        case -ENODATA:
                return DD_ERR_NODATA;
        case -ENETUNREACH:
        case -EHOSTUNREACH:
        case -ECONNRESET:
        case -EIO:
                return DD_ERR_NETWORK;
        default:
                return DD_ERR_OTHER;
        }
}

/* Counts for the service and for the daemon as a whole (dnsdiscctl stats). */
static void count(Service *s, unsigned service_counter, unsigned daemon_counter) {
        s->counters[service_counter]++;
        cache_writer_count(s->ctx->writer, daemon_counter, 1);
}

static void error_count(Service *s, unsigned err) {
        static const unsigned map[_DD_ERR_MAX] = {
                [DD_ERR_TIMEOUT] = DD_SCTR_ERR_TIMEOUT,   [DD_ERR_SERVFAIL] = DD_SCTR_ERR_SERVFAIL,
                [DD_ERR_REFUSED] = DD_SCTR_ERR_REFUSED,   [DD_ERR_NXDOMAIN] = DD_SCTR_ERR_NXDOMAIN,
                [DD_ERR_NODATA] = DD_SCTR_ERR_NODATA,
        };
        unsigned c = err < _DD_ERR_MAX && map[err] ? map[err] : DD_SCTR_ERR_OTHER;
        count(s, c, DD_DCTR_RESOLUTION_ERRORS);
}

static void round_clear(Round *r) {
        free(r->srv);
        free(r->srv_names);
        free(r->srv_target);
        for (size_t i = 0; i < r->n_targets; i++)
                free(r->targets[i].addrs);
        free(r->targets);
        uint64_t id = r->id;
        *r = (Round) { .id = id };
}

/* A set of backends and the target names they own. */
static void backends_free(Backend *b, size_t n) {
        for (size_t i = 0; i < n && b; i++)
                free(b[i].target);
        free(b);
}

typedef struct BackendSet {
        Backend *b;
        size_t n;
} BackendSet;

static void backend_set_done(BackendSet *set) {
        backends_free(set->b, set->n);
}

static void service_drop_monitors(Service *s) {
        if (!s->monitors)
                return;
        for (size_t i = 0; i < s->n_backends; i++)
                health_monitor_free(s->monitors[i]);
        free(s->monitors);
        s->monitors = NULL;
}

static void service_free(Service *s) {
        round_clear(&s->round);
        name_set_done(&s->deps);
        name_set_done(&s->round_deps);
        sd_event_source_disable_unref(s->stats_flush);
        service_drop_monitors(s);
        backends_free(s->backends, s->n_backends);
        free(s->cfg.name);
        free(s->cfg.srv);
        free(s->cfg.host);
        free(s->cfg.file);
        free(s->cfg.s.check_path);
        free(s);
}

static Service *service_ref(Service *s) {
        s->n_ref++;
        return s;
}

/* A query's reference: dropped when its answer is in. */
static void service_unref_query(Service *s) {
        if (--s->n_ref == 0)
                service_free(s);
}

Service *service_unref(Service *s) {
        if (!s)
                return NULL;
        s->dead = true;
        timer_queue_disarm(s->ctx->timers, &s->refresh);
        s->stats_flush = sd_event_source_disable_unref(s->stats_flush);
        /* Stop probing now; in-flight DNS queries may keep the object a while. */
        service_drop_monitors(s);
        service_unref_query(s);
        return NULL;
}

static char *strdup_or_null(const char *p, bool *oom) {
        if (!p)
                return NULL;
        char *d = strdup(p);
        if (!d)
                *oom = true;
        return d;
}

int service_new(StateContext *ctx, const ServiceConfig *cfg, Service **ret) {
        Service *s = calloc(1, sizeof *s);
        bool oom = false;

        if (!s)
                return -ENOMEM;
        s->n_ref = 1;
        s->ctx = ctx;
        s->cfg = *cfg;
        s->cfg.name = strdup_or_null(cfg->name, &oom);
        s->cfg.srv = strdup_or_null(cfg->srv, &oom);
        s->cfg.host = strdup_or_null(cfg->host, &oom);
        s->cfg.file = NULL; /* where the section was is the parser's business */
        s->cfg.s.check_path = strdup_or_null(cfg->s.check_path, &oom);
        if (oom) {
                service_free(s);
                return -ENOMEM;
        }
        s->state = DD_STATE_PENDING;
        *ret = s;
        return 0;
}

const char *service_name(const Service *s) {
        return s->cfg.name;
}

const ServiceConfig *service_config(const Service *s) {
        return &s->cfg;
}

uint8_t service_state(const Service *s) {
        return s->state;
}

size_t service_backends(const Service *s, const Backend **ret) {
        *ret = s->backends;
        return s->n_backends;
}

bool service_first_round_done(const Service *s) {
        return s->first_round_done;
}

static int service_publish(Service *s) {
        if (s->dead)
                return 0; /* removed from the configuration: its slot is gone */
        _cleanup_free_ PubBackend *pb = calloc(MAX(s->n_backends, 1u), sizeof *pb);
        if (!pb)
                return log_error_errno(-ENOMEM, "Out of memory publishing %s", s->cfg.name);

        for (size_t i = 0; i < s->n_backends; i++) {
                const Backend *b = &s->backends[i];
                pb[i] = (PubBackend) {
                        .family = b->family,
                        .port = b->port,
                        .priority = b->priority,
                        .weight = b->weight,
                        .source = b->source,
                        .health = b->health,
                        .target = b->target,
                        .ttl_expiry_usec = b->ttl_expiry_usec,
                        .checks = b->checks,
                        .check_failures = b->check_failures,
                        .last_latency_usec = b->last_latency_usec,
                        .consecutive_ok = b->consecutive_ok,
                        .consecutive_fail = b->consecutive_fail,
                        .last_check_usec = b->last_check_usec,
                        .check_error = b->check_error,
                };
                memcpy(pb[i].addr, b->addr, 16);
        }

        PubService ps = {
                .name = s->cfg.name,
                .query = s->cfg.srv ? s->cfg.srv : s->cfg.host,
                .srv = s->cfg.srv != NULL,
                .panic = s->cfg.s.panic,
                .state = s->state,
                .last_error = s->last_error,
                .last_good_usec = s->last_good_usec,
                .next_refresh_usec = s->next_refresh_usec,
                .backends = pb,
                .n_backends = s->n_backends,
                .counters = s->counters,
        };
        int r = cache_writer_publish(s->ctx->writer, &ps);
        if (r < 0) {
                /* A full or read-only cache directory fails every refresh until fixed: one line per
                 * service, not one per retry (the writer logs the cause itself). */
                log_full_errno(s->publish_failed ? LOG_DEBUG : LOG_ERR, r,
                               "Failed to publish service %s: %s; retrying with each refresh", s->cfg.name,
                               strerror(-r));
                s->publish_failed = true;
                return r;
        }
        if (s->publish_failed) {
                log_info("service %s: published again", s->cfg.name);
                s->publish_failed = false;
        }
        if (r > 0 && s->ctx->on_change)
                s->ctx->on_change(s, s->ctx->userdata);
        return 0;
}

static bool backend_same_endpoint(const Backend *a, const Backend *b);

static void service_schedule(Service *s, uint64_t delay_usec) {
        uint64_t now;
        int r;

        if (s->dead)
                return;
        (void) sd_event_now(s->ctx->event, CLOCK_MONOTONIC, &now);
        /* A NOTIFY that came during the round gets its own round: the change may postdate our queries. */
        if (s->notify_pending)
                delay_usec = MIN(delay_usec, s->notify_due_usec > now ? s->notify_due_usec - now : 0);
        s->next_refresh_usec = (int64_t) (now_usec(CLOCK_REALTIME) + delay_usec);
        r = timer_queue_arm(s->ctx->timers, &s->refresh, now + delay_usec);
        if (r < 0)
                log_error_errno(r, "Failed to schedule refresh of %s: %s", s->cfg.name, strerror(-r));
}

static const char *state_word(uint8_t state) {
        return dd_state_name(state);
}

static void service_set_state(Service *s, uint8_t state, const char *why) {
        if (s->state == state)
                return;
        /* One line per state change, never one per query. A first answer is the expected course: at
         * debug, or a start with 10,000 services writes 10,000 lines (the "Ready" line sums them up). */
        int level = state != DD_STATE_OK ? LOG_WARNING : s->state == DD_STATE_PENDING ? LOG_DEBUG : LOG_INFO;
        log_full_errno(level, 0, "service %s: %s -> %s%s%s", s->cfg.name, state_word(s->state), state_word(state),
                       why ? " " : "", why ? why : "");
        s->state = state;
}

static void round_end(Service *s) {
        /* The names of a round that got the SRV set (or a host's) replace the old ones; a round that
         * failed before adds what it saw, so a glitch forgets no zone. */
        if (s->round.srv_done || !s->cfg.srv)
                name_set_swap(&s->deps, &s->round_deps);
        else if (name_set_add_list(&s->deps, s->round_deps.buf, s->round_deps.n) < 0)
                log_debug("service %s: out of memory noting the names it depends on", s->cfg.name);
        name_set_clear(&s->round_deps);
        round_clear(&s->round);
        s->round_active = false;
        if (!s->first_round_done) {
                s->first_round_done = true;
                if (s->ctx->on_first_round)
                        s->ctx->on_first_round(s, s->ctx->userdata);
        }
}

static int stats_flush_fired(sd_event_source *src, uint64_t usec, void *userdata) {
        service_publish(userdata);
        return 0;
}

static void backend_take_status(Backend *b, const HealthStatus *st) {
        b->health = st->health;
        b->checks = st->checks;
        b->check_failures = st->failures;
        b->last_latency_usec = st->last_latency_usec;
        b->consecutive_ok = st->consecutive_ok;
        b->consecutive_fail = st->consecutive_fail;
        b->last_check_usec = st->last_check_usec;
        b->check_error = st->last_error;
}

/* After every probe: a transition is published at once (isolate fast);
 * statistics alone at most once a second, since each publish rebuilds the
 * service's extent. */
static void on_health(HealthMonitor *m, bool transition, void *userdata) {
        Service *s = userdata;
        size_t i;

        for (i = 0; i < s->n_backends && s->monitors[i] != m; i++)
                ;
        if (i == s->n_backends)
                return;
        const HealthStatus *st = health_monitor_status(m);
        backend_take_status(&s->backends[i], st);
        count(s, DD_SCTR_CHECKS, DD_DCTR_CHECKS);
        if (st->consecutive_fail > 0)
                count(s, DD_SCTR_CHECK_FAILURES, DD_DCTR_CHECK_FAILURES);

        if (transition) {
                service_publish(s);
                return;
        }
        if (!s->stats_flush) {
                if (sd_event_add_time_relative(s->ctx->event, &s->stats_flush, CLOCK_MONOTONIC, USEC_PER_SEC,
                                               USEC_PER_MSEC * 100, stats_flush_fired, s) < 0)
                        return;
        } else if (sd_event_source_get_enabled(s->stats_flush, NULL) > 0)
                return;
        else
                (void) sd_event_source_set_time_relative(s->stats_flush, USEC_PER_SEC);
        (void) sd_event_source_set_enabled(s->stats_flush, SD_EVENT_ONESHOT);
}

/* Install a new set (owned), carrying each surviving backend's monitor
 * over; monitors of backends DNS removed are stopped, abandoning their
 * probes. */
static void service_replace_set(Service *s, Backend *set, size_t n) {
        HealthMonitor **monitors = NULL;

        if (s->cfg.s.check != CHECK_NONE && n > 0 && s->ctx->health) {
                monitors = calloc(n, sizeof *monitors);
                if (!monitors)
                        log_error("Out of memory: backends of %s are not health-checked", s->cfg.name);
        }
        for (size_t i = 0; monitors && i < n; i++) {
                Backend *b = &set[i];
                for (size_t k = 0; k < s->n_backends && s->monitors; k++)
                        if (s->monitors[k] && backend_same_endpoint(b, &s->backends[k]) &&
                            streq(b->target, s->backends[k].target)) {
                                monitors[i] = TAKE_PTR(s->monitors[k]);
                                backend_take_status(b, health_monitor_status(monitors[i]));
                                break;
                        }
                if (monitors[i])
                        continue;
                HealthTarget t = {
                        .family = b->family,
                        .port = b->port,
                        .host = b->target,
                        .service = s->cfg.name,
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
                int r = health_monitor_new(s->ctx->health, &t, &s->cfg.s,
                                           b->health != DD_HEALTH_UNKNOWN ? &initial : NULL, on_health, s, &monitors[i]);
                if (r < 0)
                        log_error_errno(r, "backend %s of %s: cannot health-check it: %s", b->target, s->cfg.name,
                                        strerror(-r));
        }
        if (s->cfg.s.check == CHECK_NONE)
                for (size_t i = 0; i < n; i++)
                        set[i].health = DD_HEALTH_UP; /* healthy as DNS publishes it */

        service_drop_monitors(s);
        backends_free(s->backends, s->n_backends);
        s->backends = set;
        s->n_backends = n;
        s->monitors = monitors;
}

/* DNS says the name has nothing (NXDOMAIN, NODATA, SRV ".", or no usable
 * address). A set that had backends is emptied only when confirmed. */
static void round_negative(Service *s, unsigned err, uint32_t negative_ttl) {
        const ServiceSettings *st = &s->cfg.s;
        uint64_t ttl = state_clamp_ttl(negative_ttl, st->min_ttl_usec, st->max_ttl_usec);
        char why[96];

        error_count(s, err);
        s->consecutive_negative++;
        s->failures = 0;
        s->last_error = (uint16_t) err;

        if (s->n_backends > 0 && s->consecutive_negative < st->negative_confirm) {
                uint64_t d = state_clamp_ttl(negative_ttl, CONFIRM_MIN_USEC, st->min_ttl_usec);
                log_notice("service %s: %s answer %u of %u, keeping %zu backends until confirmed", s->cfg.name,
                           dd_error_name(err), s->consecutive_negative, st->negative_confirm, s->n_backends);
                service_publish(s);
                service_schedule(s, state_refresh_delay(d, rand_unit(s->ctx)));
                return;
        }

        service_replace_set(s, NULL, 0);
        s->last_good_usec = (int64_t) now_usec(CLOCK_REALTIME);
        snprintf(why, sizeof why, "(%s, negative TTL %us)", dd_error_name(err), (unsigned) (ttl / USEC_PER_SEC));
        service_set_state(s, DD_STATE_NEGATIVE, why);
        service_schedule(s, state_refresh_delay(ttl, rand_unit(s->ctx)));
        service_publish(s);
}

/* A transient failure (timeout, SERVFAIL, network, garbage): never empties a
 * set before stale-ttl; retries back off exponentially with jitter. */
static void round_fail(Service *s, int error) {
        const ServiceSettings *st = &s->cfg.s;
        unsigned err = state_error_from_errno(error);
        int64_t now = (int64_t) now_usec(CLOCK_REALTIME);
        char why[96];

        error_count(s, err);
        s->failures++;
        bool repeated = s->last_error == err;
        s->last_error = (uint16_t) err;
        snprintf(why, sizeof why, "(%s)", dd_error_name(err));

        bool had_answer = s->state == DD_STATE_OK || s->state == DD_STATE_STALE || s->state == DD_STATE_NEGATIVE;
        bool within = s->last_good_usec > 0 && (uint64_t) (now - s->last_good_usec) < st->stale_ttl_usec;
        if (had_answer && within) {
                if (s->state == DD_STATE_OK)
                        service_set_state(s, DD_STATE_STALE, why);
        } else {
                if (s->n_backends > 0)
                        log_warning("service %s: DNS failing for longer than stale-ttl, dropping %zu backends",
                                    s->cfg.name, s->n_backends);
                service_replace_set(s, NULL, 0);
                service_set_state(s, DD_STATE_ERROR, why);
        }
        if (!repeated)
                log_info("service %s: resolution failed: %s, retrying with back-off", s->cfg.name, strerror(-error));

        uint64_t delay = state_backoff_delay(s->failures, rand_unit(s->ctx));
        /* Wake up at the stale deadline too, so the set is dropped on time. */
        if (within && s->n_backends > 0) {
                uint64_t left = (uint64_t) (s->last_good_usec + (int64_t) st->stale_ttl_usec - now);
                delay = MIN(delay, left + USEC_PER_MSEC);
        }
        service_schedule(s, delay);
        service_publish(s);
}

static bool backend_same_endpoint(const Backend *a, const Backend *b) {
        return a->family == b->family && a->port == b->port && memcmp(a->addr, b->addr, a->family == 6 ? 16 : 4) == 0;
}

static int endpoint_cmp(const void *a, const void *b) {
        const Backend *x = a, *y = b;
        if (x->family != y->family)
                return x->family < y->family ? -1 : 1;
        int c = memcmp(x->addr, y->addr, x->family == 6 ? 16 : 4);
        if (c != 0)
                return c;
        if (x->port != y->port)
                return x->port < y->port ? -1 : 1;
        if (x->priority != y->priority)
                return x->priority < y->priority ? -1 : 1;
        return strcmp(x->target, y->target);
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

static size_t round_capacity(const Service *s) {
        const Round *r = &s->round;
        size_t cap = 0;
        size_t n_entries = s->cfg.srv ? r->n_srv : MIN(r->n_targets, (size_t) 1);
        for (size_t i = 0; i < n_entries; i++) {
                const Target *t = &r->targets[s->cfg.srv ? r->srv_target[i] : 0];
                cap += t->n_addrs + (t->transient_error ? s->n_backends : 0);
        }
        return cap;
}

/* Every answer of the round is in: build the new set and publish it. */
static void round_complete(Service *s) {
        const ServiceSettings *st = &s->cfg.s;
        Round *r = &s->round;
        int64_t now = (int64_t) now_usec(CLOCK_REALTIME);
        uint64_t min_ttl = UINT64_MAX;
        size_t cap = round_capacity(s), n = 0;

        _cleanup_(backend_set_done) BackendSet bs = { .b = calloc(MAX(cap, 1u), sizeof *bs.b) };
        Backend *set = bs.b;
        if (!set) {
                log_error("Out of memory building the set of %s", s->cfg.name);
                round_end(s);
                service_schedule(s, state_backoff_delay(1, rand_unit(s->ctx)));
                return;
        }

        size_t n_entries = s->cfg.srv ? r->n_srv : MIN(r->n_targets, (size_t) 1);
        for (size_t i = 0; i < n_entries; i++) {
                const RecSrv *srv = s->cfg.srv ? &r->srv[i] : NULL;
                const Target *t = &r->targets[srv ? r->srv_target[i] : 0];

                if (t->transient_error && t->n_addrs == 0) {
                        /* Keep what we had for this target rather than lose it to a glitch. */
                        for (size_t k = 0; k < s->n_backends && n < cap; k++) {
                                const Backend *old = &s->backends[k];
                                if (!streq(old->target, t->name) || (srv && old->port != srv->port))
                                        continue;
                                set[n] = *old;
                                set[n].target = strdup(old->target);
                                if (!set[n].target)
                                        continue;
                                bs.n = ++n;
                                int64_t left = MAX(old->ttl_expiry_usec - now, (int64_t) st->min_ttl_usec);
                                min_ttl = MIN(min_ttl, (uint64_t) left);
                        }
                        continue;
                }

                for (size_t a = 0; a < t->n_addrs && n < cap; a++) {
                        Backend *b = &set[n];
                        uint32_t ttl = MIN(t->addrs[a].ttl, t->chain_ttl);
                        if (srv)
                                ttl = MIN(ttl, MIN(srv->ttl, r->chain_ttl));
                        uint64_t ttl_usec = state_clamp_ttl(ttl, st->min_ttl_usec, st->max_ttl_usec);

                        *b = (Backend) {
                                .family = t->addrs[a].family,
                                .port = srv ? srv->port : s->cfg.port,
                                .priority = srv ? srv->priority : 0,
                                .weight = srv ? srv->weight : 1,
                                .source = srv ? DD_SOURCE_SRV
                                              : t->addrs[a].family == 6 ? DD_SOURCE_AAAA : DD_SOURCE_A,
                                .ttl_expiry_usec = now + (int64_t) ttl_usec,
                        };
                        memcpy(b->addr, t->addrs[a].addr, 16);
                        b->target = strdup(t->name);
                        if (!b->target)
                                continue;

                        min_ttl = MIN(min_ttl, ttl_usec);
                        bs.n = ++n;
                }
        }

        /* One backend per endpoint (two SRV targets may share an address):
         * sorted by endpoint, the first of a run has the lowest priority. */
        sort(set, n, sizeof *set, endpoint_cmp);
        size_t kept = 0;
        for (size_t i = 0; i < n; i++) {
                if (kept == 0 || !backend_same_endpoint(&set[kept - 1], &set[i]))
                        set[kept++] = set[i];
                else
                        free(set[i].target);
        }
        bs.n = n = kept;
        /* Canonical order, whatever the order of the answer (a total order,
         * so whether the sort is stable does not matter). */
        sort(set, n, sizeof *set, backend_cmp);
        bool capped = n > st->max_backends;
        if (capped) {
                if (!s->capped_warned)
                        log_warning("service %s: %zu backends in DNS, keeping the %u of lowest priority (max-backends)",
                                    s->cfg.name, n, st->max_backends);
                for (size_t i = st->max_backends; i < n; i++)
                        free(set[i].target);
                bs.n = n = st->max_backends;
        }
        s->capped_warned = capped;

        round_end(s);

        if (n == 0) {
                /* Records but no usable address: as good as a negative answer. */
                round_negative(s, DD_ERR_NODATA, 0);
                return;
        }

        service_replace_set(s, TAKE_PTR(bs.b), n);
        bs.n = 0;
        count(s, DD_SCTR_RESOLUTIONS, DD_DCTR_RESOLUTIONS);
        s->last_good_usec = now;
        s->consecutive_negative = 0;
        s->failures = 0;
        s->last_error = DD_ERR_NONE;
        service_set_state(s, DD_STATE_OK, NULL);
        service_schedule(s, state_refresh_delay(min_ttl, rand_unit(s->ctx)));
        service_publish(s);
}

static void query_callback(int error, const uint8_t *pkt, size_t len, void *userdata);

static int round_query(Service *s, const char *name, uint16_t type, ssize_t target, unsigned depth, uint32_t chain_ttl) {
        QueryCtx *q = calloc(1, sizeof *q);
        int r;

        if (!q)
                return -ENOMEM;
        *q = (QueryCtx) {
                .service = service_ref(s),
                .round_id = s->round.id,
                .target = target,
                .type = type,
                .depth = depth,
                .chain_ttl = chain_ttl,
        };
        (void) strcpy_bounded(q->name, sizeof q->name, name);
        (void) name_set_add(&s->round_deps, q->name); /* out of memory: the query name is in deps already */
        r = resolver_query(s->ctx->resolver, name, type, query_callback, q);
        if (r < 0) {
                service_unref_query(s);
                free(q);
                return r;
        }
        s->round.pending++;
        if (target >= 0)
                s->round.targets[target].pending++;
        count(s, DD_SCTR_QUERIES, DD_DCTR_QUERIES);
        return 0;
}

/* Queue the address queries the service's family asks for. */
static int target_query_addresses(Service *s, size_t t, const char *name, unsigned depth, uint32_t chain_ttl) {
        int r = 0;
        if (s->cfg.s.family != FAMILY_IPV6)
                r = round_query(s, name, RECORDS_TYPE_A, (ssize_t) t, depth, chain_ttl);
        if (r >= 0 && s->cfg.s.family != FAMILY_IPV4)
                r = round_query(s, name, RECORDS_TYPE_AAAA, (ssize_t) t, depth, chain_ttl);
        return r;
}

/* Into r->targets, allocated for as many as will be added; name must outlive the round. */
static size_t round_add_target(Round *r, const char *name) {
        r->targets[r->n_targets] = (Target) { .name = name, .chain_ttl = UINT32_MAX };
        return r->n_targets++;
}

static int srv_target_cmp(const void *a, const void *b, void *userdata) {
        const RecSrv *srv = userdata;
        return strcmp(srv[*(const uint32_t *) a].target, srv[*(const uint32_t *) b].target);
}

static int glue_cmp(const void *a, const void *b) {
        return strcmp(((const RecGlue *) a)->name, ((const RecGlue *) b)->name);
}

static bool family_wanted(const Service *s, uint8_t family) {
        return s->cfg.s.family == FAMILY_ANY || (s->cfg.s.family == FAMILY_IPV4) == (family == 4);
}

static int target_add_addrs(Target *t, const RecAddr *addrs, size_t n) {
        if (n == 0)
                return 0;
        RecAddr *na = reallocarray(t->addrs, t->n_addrs + n, sizeof *na);
        if (!na)
                return -ENOMEM;
        memcpy(na + t->n_addrs, addrs, n * sizeof *na);
        t->addrs = na;
        t->n_addrs += n;
        return 0;
}

/* The SRV set is in: collect targets, take glue, ask for the rest. */
static int round_on_srv(Service *s, RecAnswer *a, uint32_t chain_ttl) {
        Round *r = &s->round;
        int k;

        r->srv = TAKE_PTR(a->srv);
        r->srv_names = TAKE_PTR(a->names);
        r->n_srv = a->n_srv;
        r->chain_ttl = chain_ttl;
        r->srv_done = true;
        a->n_srv = 0;

        /* Targets and glue matched by sorting, not pairwise: an answer may hold thousands. */
        _cleanup_free_ uint32_t *order = reallocarray(NULL, MAX(r->n_srv, 1u), sizeof *order);
        r->srv_target = reallocarray(NULL, MAX(r->n_srv, 1u), sizeof *r->srv_target);
        r->targets = reallocarray(NULL, MAX(r->n_srv, 1u), sizeof *r->targets);
        if (!order || !r->srv_target || !r->targets)
                return -ENOMEM;
        for (size_t i = 0; i < r->n_srv; i++)
                order[i] = (uint32_t) i;
        sort_r(order, r->n_srv, sizeof *order, srv_target_cmp, r->srv);
        for (size_t i = 0; i < r->n_srv; i++) {
                const char *name = r->srv[order[i]].target;
                if (r->n_targets == 0 || !streq(r->targets[r->n_targets - 1].name, name))
                        round_add_target(r, name);
                r->srv_target[order[i]] = (uint32_t) (r->n_targets - 1);
        }

        if (a->n_glue > 1) /* a->glue may be NULL: qsort_r() must not see it */
                sort(a->glue, a->n_glue, sizeof *a->glue, glue_cmp);
        for (size_t t = 0, g = 0; t < r->n_targets; t++) {
                while (g < a->n_glue && strcmp(a->glue[g].name, r->targets[t].name) < 0)
                        g++;
                for (; g < a->n_glue && streq(a->glue[g].name, r->targets[t].name); g++) {
                        if (!family_wanted(s, a->glue[g].addr.family))
                                continue;
                        k = target_add_addrs(&r->targets[t], &a->glue[g].addr, 1);
                        if (k < 0)
                                return k;
                }
                /* Glue is optional (servers drop it, e.g. over TCP): ask when absent. */
                if (r->targets[t].n_addrs == 0) {
                        k = target_query_addresses(s, t, r->targets[t].name, 0, UINT32_MAX);
                        if (k < 0)
                                return k;
                }
        }
        return 0;
}

/* Answer to the SRV query (or a CNAME hop of it). */
static void round_srv_answer(Service *s, const QueryCtx *q, RecAnswer *a) {
        uint32_t chain_ttl = MIN(q->chain_ttl, a->chain_ttl);
        int k;

        switch (a->kind) {
        case RECORDS_ANSWER:
                if (a->srv_unavailable) {
                        round_end(s);
                        round_negative(s, DD_ERR_UNAVAILABLE, a->negative_ttl);
                        return;
                }
                k = round_on_srv(s, a, chain_ttl);
                if (k < 0) {
                        round_end(s);
                        round_fail(s, k);
                }
                return;
        case RECORDS_CNAME_ONLY:
                if (q->depth + a->cname_depth >= RECORDS_CNAME_DEPTH_MAX) {
                        round_end(s);
                        round_fail(s, -ELOOP);
                        return;
                }
                k = round_query(s, a->cname_target, q->type, -1, q->depth + a->cname_depth, chain_ttl);
                if (k < 0) {
                        round_end(s);
                        round_fail(s, k);
                }
                return;
        case RECORDS_NXDOMAIN:
        case RECORDS_NODATA:
                round_end(s);
                round_negative(s, a->kind == RECORDS_NXDOMAIN ? DD_ERR_NXDOMAIN : DD_ERR_NODATA, a->negative_ttl);
                return;
        case RECORDS_SERVFAIL:
        case RECORDS_REFUSED:
        default:
                round_end(s);
                round_fail(s, -ECONNREFUSED);
                return;
        }
}

/* Answer to an address query of a target (or the host). */
static void round_addr_answer(Service *s, const QueryCtx *q, int error, RecAnswer *a) {
        Target *t = &s->round.targets[q->target];
        int k = 0;

        if (error < 0) {
                t->transient_error = true;
                s->round.last_error = error;
                return;
        }
        switch (a->kind) {
        case RECORDS_ANSWER:
                for (size_t i = 0; i < a->n_addrs; i++)
                        a->addrs[i].ttl = MIN(a->addrs[i].ttl, MIN(q->chain_ttl, a->chain_ttl));
                k = target_add_addrs(t, a->addrs, a->n_addrs);
                break;
        case RECORDS_CNAME_ONLY:
                if (q->depth + a->cname_depth >= RECORDS_CNAME_DEPTH_MAX)
                        k = -ELOOP;
                else
                        k = round_query(s, a->cname_target, q->type, q->target, q->depth + a->cname_depth,
                                        MIN(q->chain_ttl, a->chain_ttl));
                break;
        case RECORDS_NXDOMAIN:
        case RECORDS_NODATA:
                break; /* this family has nothing for the name */
        default:
                k = -ECONNREFUSED;
        }
        if (k < 0) {
                t->transient_error = true;
                s->round.last_error = k;
        }
}

static void query_callback(int error, const uint8_t *pkt, size_t len, void *userdata) {
        _cleanup_free_ QueryCtx *q = userdata;
        Service *s = q->service;
        RecAnswer *a = NULL;

        if (s->dead || !s->round_active || q->round_id != s->round.id) {
                service_unref_query(s);
                return;
        }
        s->round.pending--;
        if (q->target >= 0)
                s->round.targets[q->target].pending--;

        if (error == 0)
                error = records_parse(pkt, len, q->name, q->type, &a);
        if (error == 0)
                (void) name_set_add_list(&s->round_deps, a->chain_names, a->n_chain_names);
        if (error < 0)
                log_debug("service %s: query %s/%u failed: %s", s->cfg.name, q->name, q->type, strerror(-error));

        if (q->target < 0) {
                if (error < 0) {
                        round_end(s);
                        round_fail(s, error);
                } else
                        round_srv_answer(s, q, a);
        } else
                round_addr_answer(s, q, error, a);

        /* Address queries done: complete the round, unless every target failed
         * transiently and there was nothing to fall back on. */
        if (s->round_active && s->round.pending == 0 && (s->cfg.srv == NULL || s->round.srv_done)) {
                bool all_failed = s->round.n_targets > 0;
                for (size_t i = 0; i < s->round.n_targets; i++)
                        all_failed = all_failed && s->round.targets[i].transient_error && s->round.targets[i].n_addrs == 0;
                if (all_failed) {
                        int e = s->round.last_error;
                        round_end(s);
                        round_fail(s, e);
                } else
                        round_complete(s);
        }

        rec_answer_free(a);
        service_unref_query(s);
}

static int round_start(Service *s) {
        int r;

        round_clear(&s->round);
        s->round.id++;
        s->round_active = true;
        name_set_clear(&s->round_deps);
        if (s->notify_pending) {
                s->notify_pending = false;
                (void) sd_event_now(s->ctx->event, CLOCK_MONOTONIC, &s->notify_round_usec);
                s->counters[DD_SCTR_NOTIFY_LAST_USEC] = now_usec(CLOCK_REALTIME);
                count(s, DD_SCTR_NOTIFY_ROUNDS, DD_DCTR_NOTIFY_ROUNDS);
        }
        if (s->cfg.srv)
                r = round_query(s, s->cfg.srv, RECORDS_TYPE_SRV, -1, 0, UINT32_MAX);
        else {
                s->round.targets = calloc(1, sizeof *s->round.targets);
                r = s->round.targets ? 0 : -ENOMEM;
                if (r >= 0) {
                        round_add_target(&s->round, s->cfg.host);
                        r = target_query_addresses(s, 0, s->cfg.host, 0, UINT32_MAX);
                }
        }
        if (r < 0) {
                round_end(s);
                round_fail(s, r);
        }
        return r;
}

/* stale-ttl ends on time, not a query timeout later. */
static void service_check_stale_deadline(Service *s) {
        int64_t now = (int64_t) now_usec(CLOCK_REALTIME);
        if (s->state != DD_STATE_STALE || s->n_backends == 0 ||
            (uint64_t) (now - s->last_good_usec) < s->cfg.s.stale_ttl_usec)
                return;
        log_warning("service %s: DNS failing for longer than stale-ttl, dropping %zu backends", s->cfg.name,
                    s->n_backends);
        service_replace_set(s, NULL, 0);
        service_set_state(s, DD_STATE_ERROR, "(stale-ttl expired)");
        service_publish(s);
}

static void service_timer_fired(TimerEntry *e, void *userdata) {
        Service *s = container_of(e, Service, refresh);
        service_check_stale_deadline(s);
        if (!s->round_active)
                (void) round_start(s);
}

int state_context_start(StateContext *ctx) {
        /* Deadlines may fire up to 10 ms late, so refreshes due close together share a wake-up. */
        return timer_queue_new(ctx->event, USEC_PER_MSEC * 10, service_timer_fired, ctx, &ctx->timers);
}

int service_start(Service *s) {
        /* The first round starts now: the resolver's FIFO already bounds the
         * burst to max-inflight, and answers never call back from inside
         * resolver_query(). A timer per service cost one event loop
         * iteration each (~90 ms of a 10,000-service cold start). */
        (void) round_start(s);
        return 0;
}

bool service_depends_on_zone(const Service *s, const char *zone) {
        /* Every name queried is noted, the service's own name first: deps holds it after the first round. */
        return name_set_any_in_zone(&s->deps, zone) || name_set_any_in_zone(&s->round_deps, zone);
}

int service_notify(Service *s, uint64_t min_interval_usec) {
        uint64_t now;

        if (s->dead)
                return 0;
        if (s->notify_pending)
                return 0;
        (void) sd_event_now(s->ctx->event, CLOCK_MONOTONIC, &now);
        s->notify_pending = true;
        s->notify_due_usec = s->notify_round_usec ? MAX(now, s->notify_round_usec + min_interval_usec) : now;
        /* During a round, its end schedules the next (service_schedule() sees the pending NOTIFY);
         * otherwise the refresh moves earlier, never later. */
        if (!s->round_active && (!timer_entry_armed(&s->refresh) || s->refresh.when > s->notify_due_usec))
                service_schedule(s, s->notify_due_usec - now);
        return 1;
}

int service_refresh_now(Service *s) {
        if (s->round_active)
                return 0;
        service_schedule(s, 0);
        return 1;
}

int service_adopt(Service *s, const Backend *backends, size_t n, uint8_t state, int64_t last_good_usec) {
        _cleanup_(backend_set_done) BackendSet copy = {};
        if (n > 0) {
                copy.b = calloc(n, sizeof *copy.b);
                if (!copy.b)
                        return -ENOMEM;
                for (; copy.n < n; copy.n++) {
                        copy.b[copy.n] = backends[copy.n];
                        copy.b[copy.n].target = strdup(backends[copy.n].target ? backends[copy.n].target : "");
                        if (!copy.b[copy.n].target)
                                return -ENOMEM;
                }
        }
        service_replace_set(s, TAKE_PTR(copy.b), n);
        copy.n = 0;
        s->state = state < _DD_STATE_MAX ? state : DD_STATE_PENDING;
        s->last_good_usec = last_good_usec;
        return 0;
}
