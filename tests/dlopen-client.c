/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dlopen-client.c: loads libdnsdisc with dlopen() after other libraries, then picks from two threads and counts. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dnsdisc.h>

/*
 * dlopen-client LIBDNSDISC CACHE SERVICE PICKS [LIBRARY...]
 *
 * dlopen()s each LIBRARY (RTLD_NOW), then LIBDNSDISC, and takes every call
 * through dlsym(). Two threads each pick PICKS times with dnsdisc_pick() and
 * PICKS times with dnsdisc_pick_random(); prints "PORT COUNT" per port seen,
 * sorted by port. Exits 0, 1 on a failed call (with the reason on stderr),
 * 2 on usage errors. With CACHE "-", only loads the libraries.
 */

typedef struct Api {
        int (*open)(const char *, dnsdisc **);
        dnsdisc *(*close)(dnsdisc *);
        int (*service_get)(dnsdisc *, const char *, dnsdisc_service **);
        int (*pick)(dnsdisc_service *, dnsdisc_endpoint *);
        int (*pick_random)(dnsdisc_service *, dnsdisc_endpoint *);
        const char *(*strerror)(int);
} Api;

static Api api;
static dnsdisc_service *service;
static unsigned picks;

typedef struct Counts {
        unsigned port[65536];
        int err;
} Counts;

static void *picker(void *p) {
        Counts *c = p;
        dnsdisc_endpoint e;

        for (unsigned i = 0; i < 2 * picks && !c->err; i++) {
                c->err = (i < picks ? api.pick : api.pick_random)(service, &e);
                if (!c->err)
                        c->port[e.port]++;
        }
        return NULL;
}

static void *sym(void *lib, const char *name) {
        void *p = dlsym(lib, name);

        if (!p) {
                fprintf(stderr, "dlopen-client: %s: %s\n", name, dlerror());
                exit(1);
        }
        return p;
}

int main(int argc, char **argv) {
        static Counts counts[2];
        pthread_t threads[2];
        dnsdisc *d;
        void *lib;
        int r;

        if (argc < 5) {
                fprintf(stderr, "usage: dlopen-client LIBDNSDISC CACHE SERVICE PICKS [LIBRARY...]\n");
                return 2;
        }
        picks = (unsigned) strtoul(argv[4], NULL, 10);
        for (int i = 5; i < argc; i++)
                if (!dlopen(argv[i], RTLD_NOW | RTLD_LOCAL)) {
                        fprintf(stderr, "dlopen-client: %s\n", dlerror());
                        return 1;
                }
        lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
                fprintf(stderr, "dlopen-client: %s\n", dlerror());
                return 1;
        }
        if (strcmp(argv[2], "-") == 0)
                return 0; /* loading was all */
        api = (Api) {
                .open = sym(lib, "dnsdisc_open"),
                .close = sym(lib, "dnsdisc_close"),
                .service_get = sym(lib, "dnsdisc_service_get"),
                .pick = sym(lib, "dnsdisc_pick"),
                .pick_random = sym(lib, "dnsdisc_pick_random"),
                .strerror = sym(lib, "dnsdisc_strerror"),
        };
        r = api.open(argv[2], &d);
        if (r >= 0)
                r = api.service_get(d, argv[3], &service);
        if (r < 0) {
                fprintf(stderr, "dlopen-client: %s: %s\n", argv[3], api.strerror(r));
                return 1;
        }
        for (int t = 0; t < 2; t++)
                if (pthread_create(&threads[t], NULL, picker, &counts[t]) != 0)
                        return 1;
        for (int t = 0; t < 2; t++)
                pthread_join(threads[t], NULL);
        for (int t = 0; t < 2; t++)
                if (counts[t].err) {
                        fprintf(stderr, "dlopen-client: pick: %s\n", api.strerror(counts[t].err));
                        return 1;
                }
        for (unsigned p = 0; p < 65536; p++)
                if (counts[0].port[p] + counts[1].port[p])
                        printf("%u %u\n", p, counts[0].port[p] + counts[1].port[p]);
        api.close(d);
        return 0;
}
