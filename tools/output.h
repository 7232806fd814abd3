/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* output.h: dnsdiscctl's text and JSON renderings of services and backends. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <dnsdisc.h>

#include "table.h"

#define TIMESPAN_MAX 48 /* two 20-digit numbers and their units */
#define ADDRESS_MAX 64 /* INET6_ADDRSTRLEN, '%', IF_NAMESIZE */
#define FLAGS_MAX 16   /* "srv,panic" */

/* "0s", "3s", "2min5s", "1h30min", "2d4h": the two largest units, truncated. */
const char *format_timespan(char buf[static TIMESPAN_MAX], uint64_t usec);

/* Address in its usual text form, IPv6 without brackets (link-local with
 * "%interface"). -EAFNOSUPPORT for a family other than IPv4/IPv6. */
int format_address(const struct sockaddr *sa, char buf[static ADDRESS_MAX]);

/* "850us", "2.5ms", "1.20s". */
const char *format_latency(char buf[static 16], uint32_t usec);

/* "srv", "panic", "srv,panic" or "-". */
const char *format_flags(char buf[static FLAGS_MAX], uint8_t flags);

/* All times below are CLOCK_REALTIME µs; now is the moment shown ages refer to. */

/* µs, and whole seconds, since then; 0 if then is in the future (clocks step). No overflow for any then. */
uint64_t age_usec(int64_t now, int64_t then);
uint64_t age_sec(int64_t now, int64_t then);
/* Whole seconds until expiry, rounded up so that 0 means expired. */
uint64_t remaining_sec(int64_t now, int64_t expiry);
/* µs since the daemon's last heartbeat: on CLOCK_BOOTTIME when the file has that stamp (1.2), so
 * that wall-clock steps do not show a live daemon as long silent; else since heartbeat_usec. */
uint64_t heartbeat_age_usec(const dnsdisc_daemon_info *di, int64_t now);

/* SGR sequences for the backend columns that carry a state; add_backend_row() with NULL: plain. */
typedef struct RowColors {
        const char *expired, *unpicked, *up, *down, *unknown, *reset;
} RowColors;

/* Over how many picked backends the SRV record of backends[i] splits its weight (the addresses of
 * one record are adjacent: same target, port, priority and weight); 0 if backends[i] is not picked. */
unsigned backend_weight_split(const dnsdisc_backend *backends, size_t n, size_t i);

/* b's row of the backend table: ADDRESS PORT TARGET PRIO WEIGHT [SOURCE] TTL PICK HEALTH STREAK
 * CHECKS FAILED LATENCY ERROR (`show`, and `watch` without SOURCE). WEIGHT is the record's, with
 * "/N" when split over N picked addresses (backend_weight_split()). */
int add_backend_row(table *t, const dnsdisc_backend *b, unsigned split, int64_t now, bool source,
                    const RowColors *colors);

/* `list`: one row (text) or object (JSON array) per service. */
int print_services(const dnsdisc_service_info *infos, size_t n, int64_t now, bool json, FILE *f);

/* What DNS NOTIFY did for a service (its counters); zero: nothing, or not known. */
typedef struct ServiceNotify {
        uint64_t rounds;                /* resolution rounds NOTIFYs triggered */
        int64_t last_usec;              /* CLOCK_REALTIME start of the last, 0: none */
} ServiceNotify;

/* `show`: the service and its n backends; nt may be NULL; hash_entries: its hash table's entries, -1 for none. */
int print_service(const dnsdisc_service_info *info, const ServiceNotify *nt, const dnsdisc_backend *backends, size_t n,
                  int64_t hash_entries,
                  int64_t now, bool json, FILE *f);
