/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* register.h: the registration agent: this host's instances added to DNS by signed UPDATE while healthy, withdrawn when not. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "health.h"
#include "resolve.h"

typedef struct Registrar Registrar;

typedef struct RegistrarContext {
        sd_event *event;
        HealthChecker *health;          /* the daemon's checker: its slots and jitter */
        Resolver *lookup;               /* the daemon's resolver: SOA and MNAME lookups */
        uint64_t timeout_usec;          /* per UPDATE try */
        unsigned tries;
        const char *state_path;         /* the state dnsdiscctl registrations reads; NULL: none */
        /* Counted into the cache's daemon counters (DD_DCTR_UPDATE*), may be NULL. */
        void (*count)(unsigned counter, void *userdata);
        void *userdata;
} RegistrarContext;

/* Takes the registrations (their strings and keys): *regs and *n are zeroed. Nothing is sent
 * before registrar_start(). */
int registrar_new(const RegistrarContext *ctx, RegisterConfig **regs, size_t *n, Registrar **ret);
void registrar_start(Registrar *r);
/* A new configuration's registrations, taken as by registrar_new(): unchanged ones keep their
 * state; removed or changed ones withdraw their records first (a changed one re-registers). */
void registrar_reload(Registrar *r, RegisterConfig **regs, size_t *n);
/* SIGTERM: withdraw what deregister-on-stop asks for; done runs (from the event loop) once
 * every answer is in or failed; no retries then. */
void registrar_stop(Registrar *r, void (*done)(void *userdata), void *userdata);
/* Abandons what is in flight. Accepts NULL, returns NULL. */
Registrar *registrar_free(Registrar *r);

/* Pure rules, exposed for unit tests. */
/* Delay before retry number failures (1, 2, ...): 1 s doubling, at most max_usec, then a
 * random 50-100 % of it (rnd: any 32 random bits) so agents never retry in step. */
uint64_t register_backoff_usec(unsigned failures, uint64_t max_usec, uint32_t rnd);
/* The delay to the next re-assertion: refresh ± 10 % (rnd: 32 random bits). */
uint64_t register_refresh_usec(uint64_t refresh_usec, uint32_t rnd);
/* "host1.example.com" from the host name "host1.lan" (its first label) and the zone. */
int register_default_target(const char *hostname, const char *zone, char ret[static RECORDS_NAME_MAX]);
/* The primary's address from the answer (pkt, len; error: the lookup's) to its A (family 4) or
 * AAAA (family 6) query for mname: the first of that family, port 53. -ENODATA if it has none,
 * the lookup's or the parser's error otherwise; ret untouched on failure. */
int register_primary_address(int family, int error, const uint8_t *pkt, size_t len, const char *mname,
                             ResolverServer *ret);
