/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fixture.h: what the C benchmarks share: a writer and a reader over a cache in a private directory, timing, medians. */
#pragma once

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache-writer.h"
#include "dnsdisc.h"
#include "../tempdir.h"

/* The directory and its cache (dir removed by bench_teardown), the writer, and a reader of one service. */
typedef struct Bench {
        char dir[64];
        char path[96];
        CacheWriter *w;
        dnsdisc *d;
        dnsdisc_service *s;
} Bench;

/* Ends the benchmark: what failed, and the (negative) errno r. */
static inline _Noreturn void die(const char *what, int r) {
        fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what, strerror(r < 0 ? -r : r));
        exit(EXIT_FAILURE);
}

static inline void bench_teardown(Bench *b) {
        dnsdisc_close(b->d);
        cache_writer_free(b->w);
        tempdir_remove(b->dir);
}

static inline uint64_t now_nsec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000 + (uint64_t) ts.tv_nsec;
}

static inline int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

/* The median of the n values of v, which it sorts. */
static inline double median(double *v, size_t n) {
        qsort(v, n, sizeof *v, cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
