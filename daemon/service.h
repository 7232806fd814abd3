/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* service.h: one service's discovery state machine: rounds, stale and negative answers, refresh timing, publishing. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "cache-def.h"
#include "config.h"
#include "service-backends.h"
#include "timer-queue.h"

typedef struct Resolver Resolver;
typedef struct CacheWriter CacheWriter;
typedef struct HealthChecker HealthChecker;
typedef struct Service Service;

/* What every service shares; owned by the manager, outlives its services. */
typedef struct ServiceContext {
        sd_event *event;
        Resolver *resolver;
        CacheWriter *writer;
        HealthChecker *health;                /* NULL: no health checks */
        TimerQueue *timers;                   /* every service's next refresh: service_context_start() */
        uint64_t rng;                         /* xorshift state for jitter */
        uint64_t (*clock)(clockid_t clock);   /* NULL: clock_gettime(); tests inject steps */
        void (*on_first_round)(Service *s, void *userdata); /* a service's first round ended */
        void (*on_change)(Service *s, void *userdata);      /* state or set changed */
        void *userdata;
} ServiceContext;

/* Create ctx->timers once ctx->event is set; the owner frees it with timer_queue_free() after the
 * last service is gone. */
int service_context_start(ServiceContext *ctx);

/* Create a service from its configuration (copied). Not started. */
int service_new(ServiceContext *ctx, const ServiceConfig *cfg, Service **ret);
/* Free the service: its round's answers still in flight are dropped, it neither publishes nor
 * queries again. Accepts NULL, returns NULL. */
Service *service_unref(Service *s);
/* Adopt a set published by a previous daemon run (state and last good time
 * from the cache) before the first round. Takes a deep copy. */
int service_adopt(Service *s, const Backend *backends, size_t n, uint8_t state, int64_t last_good_usec);
/* Start resolving now (first round), and keep refreshing by TTL. */
int service_start(Service *s);
/* DNS NOTIFY: the service's query name, a CNAME it followed or an SRV target of its last answers
 * lies at or below zone (normalised; "" is the root). */
bool service_depends_on_zone(const Service *s, const char *zone);
/* DNS NOTIFY for a zone it depends on: a round now, but not sooner than min_interval_usec after the
 * last round a NOTIFY started, and after the running round ends, so the last change is never missed.
 * 1 if this asked for a round, 0 if one was already pending (coalesced). */
int service_notify(Service *s, uint64_t min_interval_usec);
/* Re-resolve now, ignoring remaining TTLs (SIGUSR1). */
int service_refresh_now(Service *s);

const char *service_name(const Service *s);
const ServiceConfig *service_config(const Service *s);
uint8_t service_state(const Service *s);
size_t service_backends(const Service *s, const Backend **ret);
bool service_first_round_done(const Service *s);
/* A DD_SCTR_* counter, as published. */
uint64_t service_counter(const Service *s, unsigned counter);

/* Pure, exposed for unit tests: a resolver errno -> DD_ERR_*. */
unsigned service_error_from_errno(int error);
