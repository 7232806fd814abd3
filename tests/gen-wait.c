/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gen-wait.c: block in dnsdisc_wait() until a service's generation changes, and print when it did (tests, benchmarks). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dnsdisc.h"

/*
 * Usage: gen-wait CACHE SERVICE TIMEOUT_MS READY_FILE
 * Writes the current generation to READY_FILE once it waits (so a script
 * knows when to make its change), then prints "NS GEN": CLOCK_REALTIME ns
 * at the moment the generation changed, and the new generation. Exit 0 on a
 * change, 1 on timeout, 2 on an error.
 */
int main(int argc, char **argv) {
        dnsdisc *d = NULL;
        dnsdisc_service *s = NULL;
        struct timespec ts;
        int r;

        if (argc != 5) {
                fprintf(stderr, "usage: gen-wait CACHE SERVICE TIMEOUT_MS READY_FILE\n");
                return 2;
        }
        r = dnsdisc_open(argv[1], &d);
        if (r >= 0)
                r = dnsdisc_service_get(d, argv[2], &s);
        if (r < 0) {
                fprintf(stderr, "gen-wait: %s %s: %s\n", argv[1], argv[2], dnsdisc_strerror(r));
                dnsdisc_close(d);
                return 2;
        }
        uint64_t timeout_usec = strtoull(argv[3], NULL, 10) * 1000;
        uint32_t gen = dnsdisc_generation(s);
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", argv[4]);
        FILE *f = fopen(tmp, "we");
        if (!f || fprintf(f, "%u\n", gen) < 0 || fclose(f) != 0 || rename(tmp, argv[4]) < 0) {
                fprintf(stderr, "gen-wait: cannot write %s: %s\n", argv[4], strerror(errno));
                dnsdisc_close(d);
                return 2;
        }
        r = dnsdisc_wait(s, gen, timeout_usec);
        clock_gettime(CLOCK_REALTIME, &ts);
        if (r == 1)
                printf("%lld%09ld %u\n", (long long) ts.tv_sec, ts.tv_nsec, dnsdisc_generation(s));
        else if (r < 0)
                fprintf(stderr, "gen-wait: %s\n", dnsdisc_strerror(r));
        dnsdisc_close(d);
        return r == 1 ? 0 : r == 0 ? 1 : 2;
}
