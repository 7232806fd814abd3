/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* service-ttl.c: the TTL policy of a service: clamping, refresh and retry delays (pure functions). */
#include "service-ttl.h"
#include "util.h"

#define BACKOFF_BASE_USEC USEC_PER_SEC
#define BACKOFF_CAP_USEC (60 * USEC_PER_SEC)
#define CONFIRM_MIN_USEC USEC_PER_SEC

uint64_t ttl_clamp(uint32_t ttl_sec, uint64_t min_usec, uint64_t max_usec) {
        uint64_t ttl = ttl_sec >= (1u << 31) ? 0 : (uint64_t) ttl_sec * USEC_PER_SEC;
        return CLAMP(ttl, min_usec, max_usec);
}

uint64_t ttl_refresh_delay(uint64_t ttl_usec, double rnd) {
        /* Refresh before expiry so a published set never expires, spread
         * over 80-90% so services sharing a TTL do not refresh in lockstep. */
        return (uint64_t) ((double) ttl_usec * (0.80 + 0.10 * rnd));
}

uint64_t ttl_backoff_delay(unsigned failures, double rnd) {
        uint64_t d = BACKOFF_BASE_USEC;
        for (unsigned i = 1; i < failures && d < BACKOFF_CAP_USEC; i++)
                d *= 2;
        d = MIN(d, BACKOFF_CAP_USEC);
        return (uint64_t) ((double) d * (0.8 + 0.4 * rnd));
}

uint64_t ttl_window_left(int64_t since, uint64_t length_usec, int64_t now) {
        if (now < since) {
                uint64_t ahead = (uint64_t) since - (uint64_t) now;
                return length_usec > UINT64_MAX - ahead ? UINT64_MAX : length_usec + ahead;
        }
        uint64_t elapsed = (uint64_t) now - (uint64_t) since;
        return elapsed >= length_usec ? 0 : length_usec - elapsed;
}

uint64_t ttl_confirm_delay(uint32_t negative_ttl_sec, uint64_t min_ttl_usec) {
        /* Confirming soon matters more than the negative TTL: the set is kept meanwhile. */
        return ttl_clamp(negative_ttl_sec, CONFIRM_MIN_USEC, min_ttl_usec);
}
