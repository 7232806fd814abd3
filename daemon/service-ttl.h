/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* service-ttl.h: the TTL policy of a service: clamping, refresh and retry delays (pure functions). */
#pragma once

#include <stdint.h>

/* A record's TTL (seconds) in µs, clamped to [min_usec, max_usec]; RFC 2181 §8: 2^31 and above read as 0. */
uint64_t ttl_clamp(uint32_t ttl_sec, uint64_t min_usec, uint64_t max_usec);
/* When to refresh a set of this TTL: 80-90% of it. rnd is uniform in [0, 1). */
uint64_t ttl_refresh_delay(uint64_t ttl_usec, double rnd);
/* Retry after the failures-th consecutive transient failure: 1 s doubling to 60 s, +-20%. */
uint64_t ttl_backoff_delay(unsigned failures, double rnd);
/* The TTL to ask again at, while a negative answer waits for confirmation: the negative TTL
 * clamped to [1 s, min_ttl_usec] (before ttl_refresh_delay()). */
uint64_t ttl_confirm_delay(uint32_t negative_ttl_sec, uint64_t min_ttl_usec);
