/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* health.h: active health checks (TCP connect, HTTP status) of backends, with rise/fall and jitter. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "config.h"

typedef struct HealthChecker HealthChecker;   /* shared by all services: the probe slots */
typedef struct HealthMonitor HealthMonitor;   /* one backend's checks */

/* What to probe. Strings are copied. */
typedef struct HealthTarget {
        uint8_t family;              /* 4 or 6 */
        uint8_t addr[16];
        uint16_t port;               /* the backend's port; settings' check_port overrides */
        const char *host;            /* Host header: the SRV target or the configured host */
        const char *service;         /* for log lines */
} HealthTarget;

/* A backend's health as published. */
typedef struct HealthStatus {
        uint8_t health;              /* DD_HEALTH_* */
        uint32_t checks, failures;
        uint32_t last_latency_usec;
        uint16_t consecutive_ok, consecutive_fail;
        int64_t last_check_usec;     /* CLOCK_REALTIME */
        uint16_t last_error;         /* DD_ERR_* of the last failed probe */
} HealthStatus;

/* What a monitor's callback is told. */
typedef enum HealthEvent {
        HEALTH_PROBED,               /* a probe ran; the health stayed */
        HEALTH_TRANSITION,           /* a probe ran and the health changed */
        HEALTH_SKIPPED,              /* a probe could not start for a local reason: the status is unchanged */
} HealthEvent;

/* Called after every probe of the monitor, run or skipped (the caller republishes
 * either way, cheaply). */
typedef void (*health_changed_cb)(HealthMonitor *m, HealthEvent event, void *userdata);

/* max_inflight (0: 256) is cut to what RLIMIT_NOFILE leaves for probes, said once in the log. */
int health_checker_new(sd_event *e, unsigned max_inflight, HealthChecker **ret);
unsigned health_checker_max_inflight(const HealthChecker *h);
/* Frees monitors' probes still queued or running. Accepts NULL. */
HealthChecker *health_checker_free(HealthChecker *h);
/* Probes started; of those, probes skipped for a local reason (EMFILE, ENFILE, ENOMEM, ENOBUFS,
 * EADDRNOTAVAIL): they change no backend's health, and the log says so once per episode. */
uint64_t health_checker_probes(const HealthChecker *h);
uint64_t health_checker_skipped(const HealthChecker *h);

/*
 * Start checking a backend: the first probe starts at once (or waits for a
 * free slot under max-checks-inflight), later ones every check-interval with
 * jitter, never two at a time for one monitor. initial carries the status of
 * an adopted or carried-over backend (NULL: unknown until the first probe).
 */
int health_monitor_new(HealthChecker *h, const HealthTarget *t, const ServiceSettings *s, const HealthStatus *initial,
                       health_changed_cb cb, void *userdata, HealthMonitor **ret);
/* Stop: a running probe is abandoned (its socket closed, its result never
 * delivered). Accepts NULL, returns NULL. */
HealthMonitor *health_monitor_free(HealthMonitor *m);
const HealthStatus *health_monitor_status(const HealthMonitor *m);

/* Pure rules, exposed for unit tests: apply one probe result to a status. */
void health_apply_result(HealthStatus *st, bool ok, uint16_t error, unsigned rise, unsigned fall);
/* Parse an HTTP status line prefix: 1 (2xx), 0 (other status), -EAGAIN (need more bytes),
 * -EBADMSG (not an HTTP/1.0 or HTTP/1.1 status line: version, a space, three digits, then a
 * space or the line's end). On 1 and 0, *ret_status is the code and *ret_len (may be NULL) the
 * line's length with its '\n'. */
int health_parse_status_line(const char *buf, size_t len, unsigned *ret_status, size_t *ret_len);
