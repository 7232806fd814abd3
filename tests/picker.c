/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* picker.c: test client that picks continuously and checks every endpoint against an allowed list. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dnsdisc.h>

/* picker CACHE SERVICE SECONDS ENDPOINT...: picks for SECONDS; prints the
 * counts; exits 1 if any pick failed or returned an endpoint not listed. */
int main(int argc, char **argv) {
        dnsdisc *d = NULL;
        dnsdisc_service *s = NULL;
        unsigned long picks = 0, errors = 0, invalid = 0;
        int r;

        if (argc < 5) {
                fprintf(stderr, "usage: picker CACHE SERVICE SECONDS ENDPOINT...\n");
                return 2;
        }
        r = dnsdisc_open(argv[1], &d);
        if (r >= 0)
                r = dnsdisc_service_get(d, argv[2], &s);
        if (r < 0) {
                fprintf(stderr, "picker: %s: %s\n", argv[2], dnsdisc_strerror(r));
                dnsdisc_close(d);
                return 1;
        }

        struct timespec start, now;
        clock_gettime(CLOCK_MONOTONIC, &start);
        double limit = atof(argv[3]);
        for (;;) {
                clock_gettime(CLOCK_MONOTONIC, &now);
                if ((double) (now.tv_sec - start.tv_sec) + (double) (now.tv_nsec - start.tv_nsec) / 1e9 >= limit)
                        break;
                for (int batch = 0; batch < 1000; batch++) {
                        dnsdisc_endpoint ep;
                        char text[80];
                        picks++;
                        r = dnsdisc_pick(s, &ep);
                        if (r < 0) {
                                if (errors++ < 5)
                                        fprintf(stderr, "picker: pick failed: %s\n", dnsdisc_strerror(r));
                                continue;
                        }
                        bool ok = false;
                        if (dnsdisc_endpoint_format(&ep, text, sizeof text) >= 0)
                                for (int i = 4; i < argc && !ok; i++)
                                        ok = strcmp(text, argv[i]) == 0;
                        if (!ok && invalid++ < 5)
                                fprintf(stderr, "picker: unexpected endpoint %s\n", text);
                }
        }
        printf("picks=%lu errors=%lu invalid=%lu\n", picks, errors, invalid);
        dnsdisc_close(d);
        return errors || invalid ? 1 : 0;
}
