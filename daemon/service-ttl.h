/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* service-ttl.h: the TTL policy of a service: clamping, refresh and retry delays (pure functions). */
#pragma once

#include <stdint.h>

/*
 * One instant on two clocks. Every decision (TTLs, stale-ttl, back-off) runs
 * on CLOCK_BOOTTIME, which never steps and counts a suspend as time passed;
 * CLOCK_REALTIME is only published, for people to read.
 */
typedef struct Instant {
        int64_t boot;                         /* CLOCK_BOOTTIME µs */
        int64_t wall;                         /* CLOCK_REALTIME µs */
} Instant;

/* A record's TTL (seconds) in µs, clamped to [min_usec, max_usec]; RFC 2181 §8: 2^31 and above read as 0. */
uint64_t ttl_clamp(uint32_t ttl_sec, uint64_t min_usec, uint64_t max_usec);
/* When to refresh a set of this TTL: 80-90% of it. rnd is uniform in [0, 1). */
uint64_t ttl_refresh_delay(uint64_t ttl_usec, double rnd);
/* Retry after the failures-th consecutive transient failure: 1 s doubling to 60 s, +-20%. */
uint64_t ttl_backoff_delay(unsigned failures, double rnd);
/* The TTL to ask again at, while a negative answer waits for confirmation: the negative TTL
 * clamped to [1 s, min_ttl_usec] (before ttl_refresh_delay()). */
uint64_t ttl_confirm_delay(uint32_t negative_ttl_sec, uint64_t min_ttl_usec);
/* What is left at now of a window of length_usec opening at since (both on one clock that never
 * steps): length_usec and more before since, 0 once over. Saturates instead of overflowing. */
uint64_t ttl_window_left(int64_t since, uint64_t length_usec, int64_t now);
