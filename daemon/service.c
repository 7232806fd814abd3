/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* service.c: one service's discovery state machine: rounds, stale and negative answers, refresh timing, publishing. */
#include "cache-writer.h"
#include "health.h"
#include "log.h"
#include "name-set.h"
#include "service-round.h"
#include "service-ttl.h"
#include "service.h"

struct Service {
        ServiceContext *ctx;
        ServiceConfig cfg;               /* deep copy */

        uint8_t state;                   /* DD_STATE_* */
        uint16_t last_error;             /* DD_ERR_* */
        int64_t expiry_usec;             /* CLOCK_BOOTTIME: when the last positive or negative answer
                                          * expires (its shortest TTL, clamped); stale-ttl counts from it */
        int64_t last_good_usec;          /* CLOCK_REALTIME of that answer, published; 0: never */
        int64_t next_refresh_usec;       /* CLOCK_REALTIME, published */
        unsigned consecutive_negative;
        unsigned failures;               /* consecutive transient failures */
        bool first_round_done;
        bool capped_warned;
        /* What rounds left out, said once when it starts (and when it ends). */
        bool said_port0, said_targets_skipped;
        bool publish_failed;             /* the last publish failed: said once, retried with each refresh */

        BackendSet set;                  /* published */
        sd_event_source *stats_flush;    /* coalesces publishing of probe statistics */

        Round *round;                    /* in progress, or NULL */
        NodataSet nodata;                /* targets' families without address, for the rounds */
        AddrSet own;                     /* glued targets' own address answers, for the rounds */
        TimerEntry refresh;              /* in ctx->timers */

        /* DNS NOTIFY: which names the answers depend on, and the pacing of the rounds it triggers. */
        NameSet deps;                    /* of the last round that got an answer (positive or negative) */
        bool notify_pending;             /* a NOTIFY asked for a round not started yet */
        uint64_t notify_due_usec;        /* CLOCK_BOOTTIME: that round's earliest start */
        uint64_t notify_round_usec;      /* CLOCK_BOOTTIME start of the last round a NOTIFY triggered */
        uint64_t counters[_DD_SCTR_MAX];
};

static double rand_unit(ServiceContext *ctx) {
        /* xorshift64*: jitter only, no security role. */
        uint64_t x = ctx->rng ? ctx->rng : 0x9e3779b97f4a7c15ULL;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        ctx->rng = x;
        return (double) ((x * 0x2545f4914f6cdd1dULL) >> 11) / (double) (1ULL << 53);
}

static int64_t clock_now(const ServiceContext *ctx, clockid_t clock) {
        return (int64_t) (ctx->clock ? ctx->clock(clock) : now_usec(clock));
}

static Instant service_now(const Service *s) {
        return (Instant) { .boot = clock_now(s->ctx, CLOCK_BOOTTIME), .wall = clock_now(s->ctx, CLOCK_REALTIME) };
}

unsigned service_error_from_errno(int error) {
        switch (error) {
        case -ETIMEDOUT:
                return DD_ERR_TIMEOUT;
        case -EREMOTEIO:
                return DD_ERR_SERVFAIL;
        case -EACCES:
                return DD_ERR_REFUSED;
        case -ECONNREFUSED:
                return DD_ERR_CONNREFUSED; /* the server's port is closed (ICMP port unreachable, TCP RST) */
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

Service *service_unref(Service *s) {
        if (!s)
                return NULL;
        s->round = round_cancel(s->round);
        timer_queue_disarm(s->ctx->timers, &s->refresh);
        sd_event_source_disable_unref(s->stats_flush);
        backend_set_clear(&s->set);
        nodata_set_clear(&s->nodata);
        addr_set_clear(&s->own);
        name_set_done(&s->deps);
        free(s->cfg.name);
        free(s->cfg.srv);
        free(s->cfg.host);
        free(s->cfg.file);
        free(s->cfg.s.check_path);
        free(s);
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

int service_new(ServiceContext *ctx, const ServiceConfig *cfg, Service **ret) {
        Service *s = calloc(1, sizeof *s);
        bool oom = false;

        if (!s)
                return -ENOMEM;
        s->ctx = ctx;
        s->cfg = *cfg;
        s->cfg.name = strdup_or_null(cfg->name, &oom);
        s->cfg.srv = strdup_or_null(cfg->srv, &oom);
        s->cfg.host = strdup_or_null(cfg->host, &oom);
        s->cfg.file = NULL; /* where the section was is the parser's business */
        s->cfg.s.check_path = strdup_or_null(cfg->s.check_path, &oom);
        if (oom) {
                service_unref(s);
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
        *ret = s->set.b;
        return s->set.n;
}

bool service_first_round_done(const Service *s) {
        return s->first_round_done;
}

uint64_t service_counter(const Service *s, unsigned counter) {
        return counter < _DD_SCTR_MAX ? s->counters[counter] : 0;
}

static int service_publish(Service *s) {
        _cleanup_free_ PubBackend *pb = calloc(MAX(s->set.n, 1u), sizeof *pb);
        if (!pb)
                return log_error_errno(-ENOMEM, "Out of memory publishing %s", s->cfg.name);

        for (size_t i = 0; i < s->set.n; i++) {
                const Backend *b = &s->set.b[i];
                pb[i] = (PubBackend) {
                        .family = b->family,
                        .port = b->port,
                        .priority = b->priority,
                        .weight = b->weight,
                        .source = b->source,
                        .health = b->health,
                        .unchecked = s->cfg.s.check == CHECK_NONE,
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
                .hash_table_size = s->cfg.s.hash == HASH_MAGLEV ? s->cfg.s.hash_table_size : 0,
                .state = s->state,
                .last_error = s->last_error,
                .last_good_usec = s->last_good_usec,
                .next_refresh_usec = s->next_refresh_usec,
                .backends = pb,
                .n_backends = s->set.n,
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

static void service_schedule(Service *s, uint64_t delay_usec) {
        uint64_t now;
        int r;

        (void) sd_event_now(s->ctx->event, CLOCK_BOOTTIME, &now);
        /* A NOTIFY that came during the round gets its own round: the change may postdate our queries. */
        if (s->notify_pending)
                delay_usec = MIN(delay_usec, s->notify_due_usec > now ? s->notify_due_usec - now : 0);
        s->next_refresh_usec = service_now(s).wall + (int64_t) delay_usec;
        r = timer_queue_arm(s->ctx->timers, &s->refresh, now + delay_usec);
        if (r < 0)
                log_error_errno(r, "Failed to schedule refresh of %s: %s", s->cfg.name, strerror(-r));
}

static void service_set_state(Service *s, uint8_t state, const char *why) {
        if (s->state == state)
                return;
        /* One line per state change, never one per query. A first answer is the expected course: at
         * debug, or a start with 10,000 services writes 10,000 lines (the "Ready" line sums them up). */
        int level = state != DD_STATE_OK ? LOG_WARNING : s->state == DD_STATE_PENDING ? LOG_DEBUG : LOG_INFO;
        log_full_errno(level, 0, "service %s: %s -> %s%s%s", s->cfg.name, dd_state_name(s->state),
                       dd_state_name(state), why ? " " : "", why ? why : "");
        s->state = state;
}

/* The round is over, whatever its outcome. */
static void service_round_ended(Service *s) {
        s->round = NULL;
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

/* After every probe: a transition is published at once (isolate fast);
 * statistics alone at most once a second, since each publish rebuilds the
 * service's extent. */
static void on_health(HealthMonitor *m, HealthEvent event, void *userdata) {
        Service *s = userdata;
        ssize_t i = backend_set_find_monitor(&s->set, m);

        if (i < 0)
                return;
        if (event == HEALTH_SKIPPED)
                /* Published, not only logged once per episode: probes that could not run leave the
                 * health they would have checked as it was, which an operator needs to see. */
                count(s, DD_SCTR_CHECKS_SKIPPED, DD_DCTR_CHECKS_SKIPPED);
        else {
                const HealthStatus *st = health_monitor_status(m);
                backend_take_status(&s->set.b[i], st);
                count(s, DD_SCTR_CHECKS, DD_DCTR_CHECKS);
                if (st->consecutive_fail > 0)
                        count(s, DD_SCTR_CHECK_FAILURES, DD_DCTR_CHECK_FAILURES);
        }

        if (event == HEALTH_TRANSITION) {
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

/* Install a new set (taken over), carrying each surviving backend's health
 * monitor over; monitors of backends DNS removed are stopped. */
static void service_replace_set(Service *s, BackendSet *next) {
        backend_set_replace(&s->set, next, s->ctx->health, &s->cfg, on_health, s);
}

static void service_drop_set(Service *s) {
        service_replace_set(s, &(BackendSet) {});
}

/* DNS says the name has nothing (NXDOMAIN, NODATA, SRV ".", or no usable
 * address). A set that had backends is emptied only when confirmed. */
static void service_negative(Service *s, unsigned err, uint32_t negative_ttl) {
        const ServiceSettings *st = &s->cfg.s;
        uint64_t ttl = ttl_clamp(negative_ttl, st->min_ttl_usec, st->max_ttl_usec);
        char why[96];

        error_count(s, err);
        s->consecutive_negative++;
        s->failures = 0;
        s->last_error = (uint16_t) err;

        if (s->set.n > 0 && s->consecutive_negative < st->negative_confirm) {
                log_notice("service %s: %s answer %u of %u, keeping %zu backends until confirmed", s->cfg.name,
                           dd_error_name(err), s->consecutive_negative, st->negative_confirm, s->set.n);
                service_publish(s);
                service_schedule(s, ttl_refresh_delay(ttl_confirm_delay(negative_ttl, st->min_ttl_usec),
                                                      rand_unit(s->ctx)));
                return;
        }

        service_drop_set(s);
        Instant now = service_now(s);
        s->expiry_usec = now.boot + (int64_t) ttl;
        s->last_good_usec = now.wall;
        snprintf(why, sizeof why, "(%s, negative TTL %us)", dd_error_name(err), (unsigned) (ttl / USEC_PER_SEC));
        service_set_state(s, DD_STATE_NEGATIVE, why);
        service_schedule(s, ttl_refresh_delay(ttl, rand_unit(s->ctx)));
        service_publish(s);
}

/* How much longer the last answer may be served while DNS fails: until stale-ttl after it
 * expired (RFC 8767), the whole set at once. 0 when over, or when there never was one. */
static uint64_t service_stale_left(const Service *s, int64_t now_boot) {
        if (s->last_good_usec == 0)
                return 0;
        return ttl_window_left(s->expiry_usec, s->cfg.s.stale_ttl_usec, now_boot);
}

/* A transient failure (timeout, SERVFAIL, network, garbage): never empties a
 * set before stale-ttl after it expired; retries back off exponentially with jitter. */
static void service_fail(Service *s, int error) {
        unsigned err = service_error_from_errno(error);
        Instant now = service_now(s);
        char why[96];

        error_count(s, err);
        s->failures++;
        bool repeated = s->last_error == err;
        s->last_error = (uint16_t) err;
        snprintf(why, sizeof why, "(%s)", dd_error_name(err));

        bool had_answer = s->state == DD_STATE_OK || s->state == DD_STATE_STALE || s->state == DD_STATE_NEGATIVE;
        uint64_t left = service_stale_left(s, now.boot);
        bool within = left > 0;
        if (had_answer && within) {
                if (s->state == DD_STATE_OK)
                        service_set_state(s, DD_STATE_STALE, why);
        } else {
                if (s->set.n > 0)
                        log_warning("service %s: DNS failing past stale-ttl after the set expired, "
                                    "dropping %zu backends", s->cfg.name, s->set.n);
                service_drop_set(s);
                service_set_state(s, DD_STATE_ERROR, why);
        }
        if (!repeated)
                log_info("service %s: resolution failed: %s, retrying with back-off", s->cfg.name, strerror(-error));

        uint64_t delay = ttl_backoff_delay(s->failures, rand_unit(s->ctx));
        /* Wake up at the stale deadline too, so the set is dropped on time. */
        if (within && s->set.n > 0 && left < delay)
                delay = left + USEC_PER_MSEC;
        service_schedule(s, delay);
        service_publish(s);
}

/* Say what the round left out once per transition, not once per round. */
static void service_say_left_out(Service *s, const RoundResult *res) {
        if ((res->n_port0 > 0) != s->said_port0) {
                if (res->n_port0 > 0)
                        log_warning("service %s: %zu SRV records with port 0 left out (nothing can connect to it)",
                                    s->cfg.name, res->n_port0);
                else
                        log_info("service %s: no SRV record with port 0 any more", s->cfg.name);
                s->said_port0 = res->n_port0 > 0;
        }
        if ((res->n_targets_skipped > 0) != s->said_targets_skipped) {
                if (res->n_targets_skipped > 0)
                        log_warning("service %s: %zu targets in DNS, looking up the %zu of lowest priority, then "
                                    "highest weight (max-backends = %u); %zu left out", s->cfg.name, res->n_targets,
                                    res->n_targets - res->n_targets_skipped, s->cfg.s.max_backends,
                                    res->n_targets_skipped);
                else
                        log_info("service %s: every target looked up again (%zu)", s->cfg.name, res->n_targets);
                s->said_targets_skipped = res->n_targets_skipped > 0;
        }
}

/* Records came back: build the new set from them and publish it. */
static void service_answer(Service *s, const RoundResult *res) {
        const SetEntry *entries = res->entries;
        size_t n_entries = res->n_entries;
        const ServiceSettings *st = &s->cfg.s;
        Instant now = service_now(s);
        uint64_t min_ttl;
        bool capped;

        _cleanup_(backend_set_clear) BackendSet next = {};
        int r = backend_set_build(entries, n_entries, &s->set, st, now, &next, &min_ttl, &capped);
        if (r < 0) {
                log_error("Out of memory building the set of %s", s->cfg.name);
                service_round_ended(s);
                service_schedule(s, ttl_backoff_delay(1, rand_unit(s->ctx)));
                return;
        }
        if (capped && !s->capped_warned)
                log_warning("service %s: %zu %s in DNS give more backends than max-backends, keeping the %u of "
                            "lowest priority, then highest weight", s->cfg.name,
                            s->cfg.srv ? res->n_records : n_entries > 0 ? entries[0].n_addrs : 0,
                            s->cfg.srv ? "SRV records" : "addresses", st->max_backends);
        s->capped_warned = capped;

        service_round_ended(s);
        service_say_left_out(s, res);

        if (next.n == 0) {
                /* Records but no usable address: as good as a negative answer, until the first of
                 * the records' TTLs and the targets' negative TTLs runs out. */
                service_negative(s, DD_ERR_NODATA, res->empty_ttl);
                return;
        }

        service_replace_set(s, &next);
        count(s, DD_SCTR_RESOLUTIONS, DD_DCTR_RESOLUTIONS);
        s->expiry_usec = now.boot + (int64_t) min_ttl;
        s->last_good_usec = now.wall;
        s->consecutive_negative = 0;
        s->failures = 0;
        s->last_error = DD_ERR_NONE;
        service_set_state(s, DD_STATE_OK, NULL);
        service_schedule(s, ttl_refresh_delay(min_ttl, rand_unit(s->ctx)));
        service_publish(s);
}

static void on_round_query(void *userdata) {
        Service *s = userdata;
        count(s, DD_SCTR_QUERIES, DD_DCTR_QUERIES);
}

/* The names of a round that got an answer replace the old ones; a failed round adds what it saw,
 * so a glitch forgets no zone. */
static void service_take_names(Service *s, const RoundResult *res) {
        if (!res->names)
                return;
        if (res->outcome != ROUND_FAILED)
                name_set_clear(&s->deps);
        if (name_set_add_list(&s->deps, res->names->buf, res->names->n) < 0)
                log_debug("service %s: out of memory noting the names it depends on", s->cfg.name);
}

static void on_round_done(const RoundResult *res, void *userdata) {
        Service *s = userdata;

        service_take_names(s, res);

        switch (res->outcome) {
        case ROUND_ANSWER:
                service_answer(s, res);
                return;
        case ROUND_NEGATIVE:
                service_round_ended(s);
                service_negative(s, res->negative_error, res->negative_ttl);
                return;
        case ROUND_FAILED:
        default:
                service_round_ended(s);
                service_fail(s, res->error);
                return;
        }
}

static const RoundHandler round_handler = {
        .queried = on_round_query,
        .done = on_round_done,
};

static void service_round_start(Service *s) {
        if (s->notify_pending) {
                s->notify_pending = false;
                (void) sd_event_now(s->ctx->event, CLOCK_BOOTTIME, &s->notify_round_usec);
                s->counters[DD_SCTR_NOTIFY_LAST_USEC] = (uint64_t) service_now(s).wall;
                count(s, DD_SCTR_NOTIFY_ROUNDS, DD_DCTR_NOTIFY_ROUNDS);
                /* A zone changed: glued targets' own answers may be what it no longer says. */
                addr_set_clear(&s->own);
        }
        int r = round_start(s->ctx->resolver, &s->cfg, &s->nodata, &s->own, &round_handler, s, &s->round);
        if (r < 0) {
                service_round_ended(s);
                service_fail(s, r);
        }
}

/* stale-ttl ends on time, not a query timeout later. */
static void service_check_stale_deadline(Service *s) {
        if (s->state != DD_STATE_STALE || s->set.n == 0 ||
            service_stale_left(s, service_now(s).boot) > 0)
                return;
        log_warning("service %s: DNS failing past stale-ttl after the set expired, dropping %zu backends",
                    s->cfg.name, s->set.n);
        service_drop_set(s);
        service_set_state(s, DD_STATE_ERROR, "(stale-ttl expired)");
        service_publish(s);
}

static void service_timer_fired(TimerEntry *e, void *userdata) {
        Service *s = container_of(e, Service, refresh);
        service_check_stale_deadline(s);
        if (!s->round)
                service_round_start(s);
}

int service_context_start(ServiceContext *ctx) {
        /* Deadlines may fire up to 10 ms late, so refreshes due close together share a wake-up. */
        return timer_queue_new(ctx->event, CLOCK_BOOTTIME, USEC_PER_MSEC * 10, service_timer_fired, ctx, &ctx->timers);
}

int service_start(Service *s) {
        /* The first round starts now: the resolver's FIFO already bounds the
         * burst to max-inflight, and answers never call back from inside
         * resolver_query(). A timer per service would cost an event loop
         * iteration each (docs/performance.md, cold start). */
        service_round_start(s);
        return 0;
}

bool service_depends_on_zone(const Service *s, const char *zone) {
        const char *q = s->cfg.srv ? s->cfg.srv : s->cfg.host;
        return (q && name_in_zone(q, zone)) || name_set_any_in_zone(&s->deps, zone);
}

int service_notify(Service *s, uint64_t min_interval_usec) {
        uint64_t now;

        if (s->notify_pending)
                return 0;
        (void) sd_event_now(s->ctx->event, CLOCK_BOOTTIME, &now);
        s->notify_pending = true;
        s->notify_due_usec = s->notify_round_usec ? MAX(now, s->notify_round_usec + min_interval_usec) : now;
        /* During a round, its end schedules the next (service_schedule() sees the pending NOTIFY);
         * otherwise the refresh moves earlier, never later. */
        if (!s->round && (!timer_entry_armed(&s->refresh) || s->refresh.when > s->notify_due_usec))
                service_schedule(s, s->notify_due_usec - now);
        return 1;
}

int service_refresh_now(Service *s) {
        if (s->round)
                return 0;
        service_schedule(s, 0);
        return 1;
}

/* The cache holds wall-clock times only: the distance from now it shows is the best there is.
 * Bounded, since the file is not trusted. */
static int64_t boot_from_wall(Instant now, int64_t wall) {
        const int64_t bound = (int64_t) 100 * 366 * 86400 * (int64_t) USEC_PER_SEC; /* a century */
        int64_t d;
        if (__builtin_sub_overflow(wall, now.wall, &d))
                d = wall < now.wall ? -bound : bound;
        return now.boot + CLAMP(d, -bound, bound);
}

int service_adopt(Service *s, const Backend *backends, size_t n, uint8_t state, int64_t last_good_usec) {
        _cleanup_(backend_set_clear) BackendSet copy = {};
        int r = backend_set_copy(backends, n, &copy);
        if (r < 0)
                return r;
        Instant now = service_now(s);
        for (size_t i = 0; i < copy.n; i++)
                copy.b[i].expiry_usec = boot_from_wall(now, copy.b[i].ttl_expiry_usec);
        service_replace_set(s, &copy);
        s->state = state < _DD_STATE_MAX ? state : DD_STATE_PENDING;
        s->last_good_usec = last_good_usec;
        /* The set expires with its first backend; without backends, the answer counts as expired
         * when it came. */
        s->expiry_usec = boot_from_wall(now, MIN(last_good_usec, now.wall));
        for (size_t i = 0; i < s->set.n; i++)
                s->expiry_usec = i == 0 ? s->set.b[0].expiry_usec : MIN(s->expiry_usec, s->set.b[i].expiry_usec);
        return 0;
}
