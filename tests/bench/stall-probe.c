/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stall-probe.c: LD_PRELOAD probe of an event loop: the longest stretch between two epoll waits (benchmarks only). */

/*
 * Built by tests/bench/bench-hostile.sh:  cc -shared -fPIC -O2 -o stall-probe.so stall-probe.c -ldl
 * Wraps epoll_wait() and epoll_pwait2() (what sd-event calls) and measures, per thread, the time
 * from the return of one wait to the start of the next: one loop iteration's work. Thread CPU
 * time says what the iteration cost; wall time adds what the machine's other jobs took from it.
 * STALL_PROBE_OUT=FILE: written at exit, one line
 *   "<iterations> <max CPU us> <max wall us> <iterations over 1 ms CPU> <over 5 ms CPU>"
 * STALL_PROBE_SKIP_MS: iterations in the first N ms after the first wait are not counted (start-up).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>

static __thread uint64_t cpu_ret, wall_ret;
static uint64_t first_wall, skip_us, iterations, max_cpu, max_wall, over_1ms, over_5ms;

static uint64_t now_us(clockid_t c) {
        struct timespec ts;

        clock_gettime(c, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static void before_wait(void) {
        uint64_t wall = now_us(CLOCK_MONOTONIC), cpu = now_us(CLOCK_THREAD_CPUTIME_ID);

        if (first_wall == 0) {
                const char *skip = getenv("STALL_PROBE_SKIP_MS");

                first_wall = wall;
                skip_us = skip ? strtoull(skip, NULL, 10) * 1000 : 0;
                return;
        }
        if (wall_ret == 0 || wall - first_wall < skip_us)
                return;
        uint64_t c = cpu - cpu_ret, w = wall - wall_ret;
        iterations++;
        max_cpu = c > max_cpu ? c : max_cpu;
        max_wall = w > max_wall ? w : max_wall;
        over_1ms += c > 1000;
        over_5ms += c > 5000;
}

static void after_wait(void) {
        cpu_ret = now_us(CLOCK_THREAD_CPUTIME_ID);
        wall_ret = now_us(CLOCK_MONOTONIC);
}

int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout) {
        static int (*real)(int, struct epoll_event *, int, int);
        int r;

        if (!real)
                real = (int (*)(int, struct epoll_event *, int, int)) dlsym(RTLD_NEXT, "epoll_wait");
        before_wait();
        r = real(epfd, events, maxevents, timeout);
        after_wait();
        return r;
}

int epoll_pwait2(int epfd, struct epoll_event *events, int maxevents, const struct timespec *timeout,
                 const sigset_t *sigmask) {
        static int (*real)(int, struct epoll_event *, int, const struct timespec *, const sigset_t *);
        int r;

        if (!real)
                real = (int (*)(int, struct epoll_event *, int, const struct timespec *, const sigset_t *))
                        dlsym(RTLD_NEXT, "epoll_pwait2");
        before_wait();
        r = real(epfd, events, maxevents, timeout, sigmask);
        after_wait();
        return r;
}

__attribute__((destructor)) static void report(void) {
        const char *path = getenv("STALL_PROBE_OUT");
        FILE *f;

        if (!path || !(f = fopen(path, "we")))
                return;
        fprintf(f, "%llu %llu %llu %llu %llu\n", (unsigned long long) iterations, (unsigned long long) max_cpu,
                (unsigned long long) max_wall, (unsigned long long) over_1ms, (unsigned long long) over_5ms);
        fclose(f);
}
