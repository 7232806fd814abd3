/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* metrics.h: dnsdiscctl stats: the cache's counters as a table or in Prometheus text format. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <dnsdisc.h>

typedef struct ServiceStats {
        dnsdisc_service_info info;
        uint64_t counters[DNSDISC_SERVICE_COUNTERS_MAX];  /* DNSDISC_SERVICE_COUNTER_* */
        uint32_t by_health[4];                            /* indexed by DNSDISC_HEALTH_* */
} ServiceStats;

typedef struct Stats {
        ServiceStats *services;                           /* owned, sorted by name */
        size_t n_services;
        dnsdisc_daemon_info daemon;
        bool stale;                                       /* dnsdisc_is_stale() */
        uint64_t counters[DNSDISC_DAEMON_COUNTERS_MAX];   /* DNSDISC_DAEMON_COUNTER_* */
        int64_t now;                                      /* CLOCK_REALTIME µs of the reading */
} Stats;

/* Read everything from d into *ret (which stats_done() releases). Services
 * removed meanwhile are left out. */
int stats_collect(dnsdisc *d, Stats *ret);
void stats_done(Stats *s);

/* Prometheus text exposition format 0.0.4, for node_exporter's textfile collector. */
int print_stats_prometheus(const Stats *s, FILE *f);
/* A table per service, then the daemon's figures. */
int print_stats_text(const Stats *s, FILE *f);

/* Append s to f as a Prometheus label value: backslash, double quote and
 * newline escaped. */
void prometheus_label_value(FILE *f, const char *s);
