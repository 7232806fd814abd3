/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* util.h: systemd-style cleanup helpers and small macros shared by the daemon and tools. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _fallthrough_ __attribute__((fallthrough))
#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define CLAMP(x, lo, hi) ((x) < (lo) ? (lo) : (x) > (hi) ? (hi) : (x))
/* The struct of type holding member at ptr. */
#define container_of(ptr, type, member) ((type *) ((char *) (ptr) - offsetof(type, member)))

#define USEC_PER_SEC ((uint64_t) 1000000)
#define USEC_PER_MSEC ((uint64_t) 1000)
#define USEC_INFINITY UINT64_MAX

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Declares a void func##p(type **) that calls func on non-NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)           \
        static inline void func##p(type *p) {             \
                if (*p)                                   \
                        func(*p);                         \
        }

/* Hand ownership out of a _cleanup_ variable. */
#define TAKE_PTR(p) ({ __typeof__(p) _p = (p); (p) = NULL; _p; })
#define TAKE_FD(fd) ({ int _fd = (fd); (fd) = -1; _fd; })

static inline uint64_t now_usec(clockid_t clock) {
        struct timespec ts;
        clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

/*
 * Sort n elements of size bytes in place, as qsort_r() does. Below 16
 * elements of at most 128 bytes, an insertion sort: glibc's qsort() sets up
 * a merge sort each call, about 500 instructions for 4 elements, and the
 * daemon sorts several 4-element arrays per DNS answer. Equal elements keep
 * their order here (qsort() promises nothing): callers must not care.
 */
#define SORT_SMALL_MAX_N 16
#define SORT_SMALL_MAX_SIZE 128
static inline void sort_r(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *, void *),
                          void *userdata) {
        unsigned char tmp[SORT_SMALL_MAX_SIZE], *b = base;

        if (n > SORT_SMALL_MAX_N || size > sizeof tmp) {
                qsort_r(base, n, size, cmp, userdata);
                return;
        }
        for (size_t i = 1; i < n; i++) {
                size_t j = i;
                if (cmp(b + (i - 1) * size, b + i * size, userdata) <= 0)
                        continue;
                memcpy(tmp, b + i * size, size);
                while (j > 0 && cmp(b + (j - 1) * size, tmp, userdata) > 0) {
                        memcpy(b + j * size, b + (j - 1) * size, size);
                        j--;
                }
                memcpy(b + j * size, tmp, size);
        }
}

typedef struct SortCmp {
        int (*cmp)(const void *, const void *);
} SortCmp;

static inline int sort_cmp_call(const void *a, const void *b, void *userdata) {
        return ((const SortCmp *) userdata)->cmp(a, b);
}

/* sort_r() with a qsort() comparator. */
static inline void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
        SortCmp c = { cmp };
        sort_r(base, n, size, sort_cmp_call, &c);
}

/* Copy src into a fixed buffer; -ENAMETOOLONG if it does not fit (dst untouched). */
static inline int strcpy_bounded(char *dst, size_t size, const char *src) {
        size_t n = strlen(src);
        if (n >= size)
                return -ENAMETOOLONG;
        memcpy(dst, src, n + 1);
        return 0;
}
