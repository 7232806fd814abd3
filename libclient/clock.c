/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clock.c: libdnsdisc's monotonic clock (quarantines, looks at the path), replaceable by tests. */
#include <time.h>

#include "internal.h"

uint64_t (*dd_clock_hook)(void);

uint64_t dd_monotonic_usec(void) {
        struct timespec ts;

        if (dd_clock_hook)
                return dd_clock_hook();
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}
