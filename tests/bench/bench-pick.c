/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-pick.c: time and instructions per dnsdisc_pick(), and, for comparison, per getaddrinfo()/res_query(). */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <dirent.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache-def.h"
#include "cache-writer.h"
#include "dnsdisc.h"
/* <resolv.h> brings <sys/param.h>'s MIN and MAX; util.h defines its own. */
#undef MIN
#undef MAX
#include "fixture.h"
#include "util.h"

/*
 * Usage (bench-pick.sh runs all of these):
 *   bench-pick                           median ns per pick: 1 thread, 2 threads, pick_random
 *   bench-pick --callgrind N             set up, then exactly N picks (run under callgrind with N and 0)
 *   bench-pick --getaddrinfo NAME N      median µs per getaddrinfo(NAME) over N calls
 *   bench-pick --res-query NAME N [PORT] median µs per res_query(NAME, SRV), nameserver 127.0.0.1:PORT if given
 * Results are "key value" lines on stdout.
 */

#define BATCH 100000
#define BATCHES 101
#define THREADS 2

/* A service of 8 backends, IPv4 and IPv6, weights 5:3:2:1:1:2:3:5 (a 22-slot schedule). */
static void bench_setup(Bench *b) {
        static const uint16_t weights[8] = { 5, 3, 2, 1, 1, 2, 3, 5 };
        char targets[8][32];
        PubBackend be[8] = {};
        PubService svc;
        int r;

        strcpy(b->dir, "/tmp/bench-pick.XXXXXX");
        if (!mkdtemp(b->dir))
                die("mkdtemp", -errno);
        snprintf(b->path, sizeof b->path, "%s/cache", b->dir);
        r = cache_writer_open(b->path, &b->w);
        if (r < 0)
                die("cache_writer_open", r);
        for (unsigned i = 0; i < 8; i++) {
                snprintf(targets[i], sizeof targets[i], "node%u.bench.example", i);
                be[i] = (PubBackend) { .family = i % 2 ? 6 : 4, .port = (uint16_t) (8000 + i), .weight = weights[i],
                                       .source = DD_SOURCE_SRV, .health = DD_HEALTH_UP, .target = targets[i] };
                if (be[i].family == 4)
                        memcpy(be[i].addr, (uint8_t[4]) { 127, 0, 0, (uint8_t) (10 + i) }, 4);
                else
                        memcpy(be[i].addr, (uint8_t[16]) { 0xfd, 0, [15] = (uint8_t) (10 + i) }, 16);
        }
        svc = (PubService) { .name = "bench", .query = "_http._tcp.bench.example", .srv = true, .state = DD_STATE_OK,
                             .backends = be, .n_backends = 8 };
        r = cache_writer_publish(b->w, &svc);
        if (r < 0)
                die("cache_writer_publish", r);
        r = dnsdisc_open(b->path, &b->d);
        if (r < 0)
                die("dnsdisc_open", r);
        r = dnsdisc_service_get(b->d, "bench", &b->s);
        if (r < 0)
                die("dnsdisc_service", r);
}


typedef struct Runner {
        dnsdisc_service *s;
        bool random;
        pthread_barrier_t *barrier;
        double ns[BATCHES];             /* per batch: ns per pick */
        uint64_t sink;
} Runner;

/* BATCHES batches of BATCH picks; a failed pick ends the program (it would fake a fast result). */
static void *run_batches(void *arg) {
        Runner *run = arg;
        dnsdisc_endpoint e;

        if (run->barrier)
                pthread_barrier_wait(run->barrier);
        for (unsigned warm = 0; warm < BATCH; warm++)
                if (dnsdisc_pick(run->s, &e) < 0)
                        die("dnsdisc_pick", -EIO);
        for (unsigned b = 0; b < BATCHES; b++) {
                uint64_t t0 = now_nsec();
                int r = 0;

                if (run->random)
                        for (unsigned i = 0; i < BATCH; i++)
                                r |= dnsdisc_pick_random(run->s, &e);
                else
                        for (unsigned i = 0; i < BATCH; i++)
                                r |= dnsdisc_pick(run->s, &e);
                run->ns[b] = (double) (now_nsec() - t0) / BATCH;
                if (r < 0)
                        die("dnsdisc_pick", r);
                run->sink += e.port;
        }
        return NULL;
}

/* The slow path a quarantine puts picks on (a clock read, the table): short, well within the 1 s quarantine. */
static void quarantined(Bench *b) {
        enum { Q_BATCH = 10000, Q_BATCHES = 21 };
        double ns[Q_BATCHES];
        dnsdisc_endpoint e;
        int r = 0;

        if (dnsdisc_pick(b->s, &e) < 0 || dnsdisc_report_failure(&e) < 0)
                die("dnsdisc_report_failure", -EIO);
        for (unsigned k = 0; k < Q_BATCHES; k++) {
                uint64_t t0 = now_nsec();

                for (unsigned i = 0; i < Q_BATCH; i++)
                        r |= dnsdisc_pick(b->s, &e);
                ns[k] = (double) (now_nsec() - t0) / Q_BATCH;
        }
        if (r < 0)
                die("dnsdisc_pick", r);
        printf("pick_quarantine_1thread_median_ns %.2f\n", median(ns, Q_BATCHES));
        dnsdisc_report_success(&e);
}

static void timing(void) {
        Runner one = {}, rnd = {}, two[THREADS] = {};
        double all[THREADS * BATCHES];
        pthread_barrier_t barrier;
        pthread_t t[THREADS];
        Bench b;

        bench_setup(&b);

        one.s = b.s;
        run_batches(&one);
        printf("pick_1thread_median_ns %.2f\n", median(one.ns, BATCHES));
        printf("pick_1thread_min_ns %.2f\n", one.ns[0]); /* median() sorted them */

        rnd.s = b.s;
        rnd.random = true;
        run_batches(&rnd);
        printf("pick_random_1thread_median_ns %.2f\n", median(rnd.ns, BATCHES));

        /* Both threads pick from the same handle at once: per thread, no shared writes. */
        pthread_barrier_init(&barrier, NULL, THREADS);
        for (unsigned i = 0; i < THREADS; i++) {
                two[i] = (Runner) { .s = b.s, .barrier = &barrier };
                if (pthread_create(&t[i], NULL, run_batches, &two[i]) != 0)
                        die("pthread_create", -EAGAIN);
        }
        for (unsigned i = 0; i < THREADS; i++) {
                pthread_join(t[i], NULL);
                memcpy(all + i * BATCHES, two[i].ns, sizeof two[i].ns);
        }
        pthread_barrier_destroy(&barrier);
        printf("pick_2threads_median_ns_per_thread %.2f\n", median(all, THREADS * BATCHES));
        quarantined(&b);
        printf("sink %" PRIu64 "\n", (one.sink + rnd.sink + two[0].sink + two[1].sink) & 1);
        bench_teardown(&b);
}

/* Exactly n picks after the same setup as n = 0: the difference of the two runs is n picks. */
static void callgrind(unsigned long n) {
        dnsdisc_endpoint e;
        Bench b;
        int r = 0;

        bench_setup(&b);
        r |= dnsdisc_pick(b.s, &e); /* fills this thread's cursor: the rest take the fast path */
        for (unsigned long i = 0; i < n; i++)
                r |= dnsdisc_pick(b.s, &e);
        if (r < 0)
                die("dnsdisc_pick", r);
        printf("picks %lu\n", n);
        bench_teardown(&b);
}

static void time_getaddrinfo(const char *name, unsigned n) {
        struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
        double *us = calloc(n, sizeof(double));

        if (!us)
                die("calloc", -ENOMEM);
        for (unsigned i = 0; i < n; i++) {
                struct addrinfo *ai = NULL;
                uint64_t t0 = now_nsec();
                int r = getaddrinfo(name, "80", &hints, &ai);

                us[i] = (double) (now_nsec() - t0) / 1000;
                if (r != 0) {
                        fprintf(stderr, "bench-pick: getaddrinfo(%s): %s\n", name, gai_strerror(r));
                        exit(EXIT_FAILURE);
                }
                freeaddrinfo(ai);
        }
        printf("getaddrinfo_median_us %.2f\n", median(us, n));
        free(us);
}

static void time_res_query(const char *name, unsigned n, unsigned port) {
        unsigned char answer[4096];
        double *us = calloc(n, sizeof(double));

        if (!us)
                die("calloc", -ENOMEM);
        if (res_init() < 0)
                die("res_init", -EIO);
        if (port) {
                /* resolv.conf has no port option: point the resolver state at the test server directly. */
                _res.nscount = 1;
                _res.nsaddr_list[0].sin_family = AF_INET;
                _res.nsaddr_list[0].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                _res.nsaddr_list[0].sin_port = htons((uint16_t) port);
        }
        for (unsigned i = 0; i < n; i++) {
                uint64_t t0 = now_nsec();
                int len = res_query(name, ns_c_in, ns_t_srv, answer, sizeof answer);

                us[i] = (double) (now_nsec() - t0) / 1000;
                if (len < 0) {
                        fprintf(stderr, "bench-pick: res_query(%s): %s\n", name, hstrerror(h_errno));
                        exit(EXIT_FAILURE);
                }
        }
        printf("res_query_srv_median_us %.2f\n", median(us, n));
        free(us);
}

int main(int argc, char **argv) {
        if (argc == 1)
                timing();
        else if (argc == 3 && streq(argv[1], "--callgrind"))
                callgrind(strtoul(argv[2], NULL, 10));
        else if (argc == 4 && streq(argv[1], "--getaddrinfo"))
                time_getaddrinfo(argv[2], (unsigned) strtoul(argv[3], NULL, 10));
        else if ((argc == 4 || argc == 5) && streq(argv[1], "--res-query"))
                time_res_query(argv[2], (unsigned) strtoul(argv[3], NULL, 10),
                               argc == 5 ? (unsigned) strtoul(argv[4], NULL, 10) : 0);
        else {
                fprintf(stderr, "usage: %s [--callgrind N | --getaddrinfo NAME N | --res-query NAME N [PORT]]\n",
                        argv[0]);
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}
