/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-lb.c: cost of dnsdisc_pick_hash() and dnsdisc_pick_least(), of building Maglev tables, and of tables in the cache file. */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache-def.h"
#include "cache-writer.h"
#include "dnsdisc.h"
#include "maglev.h"
#include "fixture.h"
#include "util.h"

/*
 * Usage (bench-lb.sh runs all of these):
 *   bench-lb                         medians: pick_hash, hash, pick_least, table builds, cache files
 *   bench-lb --callgrind hash|least N   set up, then exactly N picks (run under callgrind with N and 0)
 * Results are "key value" lines on stdout.
 */

#define BATCH 100000
#define BATCHES 101
#define KEYS 4096


/* n backends 127.0.x.y:8000+i, equal weights, as "name" (with a table of table_size entries, or none);
 * down: a backend index marked down, or -1; ttl: their TTL expiry. */
static int publish_set(CacheWriter *w, const char *name, unsigned n, uint32_t table_size, int down, int64_t ttl) {
        static char targets[128][32];
        PubBackend be[128] = {};

        for (unsigned i = 0; i < n && i < 128; i++) {
                snprintf(targets[i], sizeof targets[i], "node%u.bench.example", i);
                be[i] = (PubBackend) { .family = 4, .port = (uint16_t) (8000 + i), .weight = 10,
                                       .source = DD_SOURCE_SRV, .health = DD_HEALTH_UP, .target = targets[i] };
                memcpy(be[i].addr, (uint8_t[4]) { 127, 0, (uint8_t) (i >> 8), (uint8_t) i }, 4);
                be[i].ttl_expiry_usec = ttl;
                if ((int) i == down)
                        be[i].health = DD_HEALTH_DOWN;
        }
        return cache_writer_publish(w, &(PubService) { .name = name, .query = name, .srv = true,
                                                       .state = DD_STATE_OK, .backends = be, .n_backends = n,
                                                       .hash_table_size = table_size });
}

static int publish(CacheWriter *w, const char *name, unsigned n, uint32_t table_size) {
        return publish_set(w, name, n, table_size, -1, 0);
}

static void bench_setup(Bench *b) {
        int r;

        /* tmpfs, as /run/dnsdisc is: a disk's posix_fallocate() would dominate the cold starts. */
        strcpy(b->dir, access("/dev/shm", W_OK) == 0 ? "/dev/shm/bench-lb.XXXXXX" : "/tmp/bench-lb.XXXXXX");
        if (!mkdtemp(b->dir))
                die("mkdtemp", -errno);
        snprintf(b->path, sizeof b->path, "%s/cache", b->dir);
        r = cache_writer_open(b->path, &b->w);
        if (r < 0)
                die("cache_writer_open", r);
}

static void bench_open(Bench *b, const char *name) {
        int r = dnsdisc_open(b->path, &b->d);
        if (r < 0)
                die("dnsdisc_open", r);
        r = dnsdisc_service_get(b->d, name, &b->s);
        if (r < 0)
                die("dnsdisc_service_get", r);
}

static uint64_t keys[KEYS];

static void picks(void) {
        double hash[BATCHES], pick[BATCHES], least[BATCHES], pair[BATCHES];
        dnsdisc_endpoint e;
        uint64_t sink = 0;
        Bench b;
        int r = 0;

        bench_setup(&b);
        if (publish(b.w, "web", 10, 65537) < 0)
                die("publish", -EIO);
        bench_open(&b, "web");
        for (unsigned i = 0; i < KEYS; i++) {
                char k[32];
                keys[i] = dnsdisc_hash(k, (size_t) snprintf(k, sizeof k, "user-%u", i));
        }

        for (unsigned warm = 0; warm < BATCH; warm++)
                r |= dnsdisc_pick_hash(b.s, keys[warm % KEYS], &e);
        for (unsigned k = 0; k < BATCHES; k++) {
                uint64_t t0 = now_nsec();
                for (unsigned i = 0; i < BATCH; i++)
                        r |= dnsdisc_pick_hash(b.s, keys[i % KEYS], &e);
                pick[k] = (double) (now_nsec() - t0) / BATCH;
                sink += e.port;
        }
        for (unsigned k = 0; k < BATCHES; k++) {
                uint64_t t0 = now_nsec();
                for (unsigned i = 0; i < BATCH; i++) {
                        uint64_t x = i;
                        sink += dnsdisc_hash(&x, sizeof x);
                }
                hash[k] = (double) (now_nsec() - t0) / BATCH;
        }
        /* Picks without releases: counts grow (to 10^7, far below saturation), the cost does not. */
        for (unsigned k = 0; k < BATCHES; k++) {
                uint64_t t0 = now_nsec();
                for (unsigned i = 0; i < BATCH; i++)
                        r |= dnsdisc_pick_least(b.s, &e);
                least[k] = (double) (now_nsec() - t0) / BATCH;
                sink += e.port;
        }
        for (unsigned k = 0; k < BATCHES; k++) {
                uint64_t t0 = now_nsec();
                for (unsigned i = 0; i < BATCH; i++) {
                        r |= dnsdisc_pick_least(b.s, &e);
                        r |= dnsdisc_release(&e);
                }
                pair[k] = (double) (now_nsec() - t0) / BATCH;
        }
        if (r < 0)
                die("pick", r);
        printf("pick_hash_1thread_median_ns %.2f\n", median(pick, BATCHES));
        printf("hash_8bytes_median_ns %.2f\n", median(hash, BATCHES));
        printf("pick_least_1thread_median_ns %.2f\n", median(least, BATCHES));
        printf("pick_least_release_1thread_median_ns %.2f\n", median(pair, BATCHES));
        printf("sink %" PRIu64 "\n", sink & 1);
        bench_teardown(&b);
}

static void builds(void) {
        static uint16_t table[DD_HASH_TABLE_MAX];
        static const struct { unsigned n; uint32_t m; } cases[] = { { 4, 65537 }, { 100, 65537 }, { 1000, 65537 }, { 4, 4093 } };
        static MaglevInput in[1000];
        static char targets[1000][32];

        for (unsigned i = 0; i < 1000; i++) {
                snprintf(targets[i], sizeof targets[i], "node%u.bench.example", i);
                in[i] = (MaglevInput) { .target = targets[i], .family = 4, .port = 8080, .weight = 1,
                                        .index = (uint16_t) i };
                memcpy(in[i].addr, (uint8_t[4]) { 10, 0, (uint8_t) (i >> 8), (uint8_t) i }, 4);
        }
        for (size_t c = 0; c < ELEMENTSOF(cases); c++) {
                double ms[21];
                for (unsigned k = 0; k < 21; k++) {
                        uint64_t t0 = now_nsec();
                        if (maglev_build(in, cases[c].n, cases[c].m, table) < 0)
                                die("maglev_build", -EINVAL);
                        ms[k] = (double) (now_nsec() - t0) / 1e6;
                }
                printf("maglev_build_%u_backends_%u_median_ms %.3f\n", cases[c].n, cases[c].m, median(ms, 21));
        }
}

/* The publish path of one service of 100 backends with a 65537-entry table: a change of its set (a
 * backend goes down or comes back: the table is rebuilt), and a TTL refresh (the table is copied). */
static void publishes(void) {
        double change[21], refresh[21];
        Bench b = {};

        bench_setup(&b);
        if (publish(b.w, "big", 100, 65537) < 0)
                die("publish", -EIO);
        for (unsigned k = 0; k < 21; k++) {
                uint64_t t0 = now_nsec();
                if (publish_set(b.w, "big", 100, 65537, k % 2 ? -1 : (int) k, 0) < 0)
                        die("publish", -EIO);
                change[k] = (double) (now_nsec() - t0) / 1e6;
                t0 = now_nsec();
                if (publish_set(b.w, "big", 100, 65537, k % 2 ? -1 : (int) k, (int64_t) k + 1) < 0)
                        die("publish", -EIO);
                refresh[k] = (double) (now_nsec() - t0) / 1e6;
        }
        printf("publish_100_backends_65537_set_change_median_ms %.3f\n", median(change, 21));
        printf("publish_100_backends_65537_ttl_only_median_ms %.3f\n", median(refresh, 21));
        bench_teardown(&b);
}

static long rss_kib(void) {
        char line[256];
        long kib = -1;
        FILE *f = fopen("/proc/self/status", "re");

        while (f && fgets(line, sizeof line, f))
                if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
                        break;
        if (f)
                fclose(f);
        return kib;
}

/* A daemon's cold start as far as the cache goes: n services of 4 backends published, in a child. */
static void cold(const char *label, unsigned n, uint32_t table_size) {
        pid_t pid;
        int status;

        fflush(stdout);
        pid = fork();
        if (pid < 0)
                die("fork", -errno);
        if (pid == 0) {
                struct stat st;
                uint64_t t0;
                Bench b = {};
                int r;

                bench_setup(&b);
                t0 = now_nsec();
                r = cache_writer_reserve_tables(b.w, n, (uint64_t) n * table_size);
                for (unsigned i = 0; r >= 0 && i < n; i++) {
                        char name[32];
                        snprintf(name, sizeof name, "svc%u", i);
                        r = publish(b.w, name, 4, table_size);
                }
                if (r < 0)
                        die("publish", r);
                printf("cold_%s_ms %.1f\n", label, (double) (now_nsec() - t0) / 1e6);
                if (stat(cache_writer_path(b.w), &st) < 0)
                        die("stat", -errno);
                printf("cold_%s_file_mib %.1f\n", label, (double) st.st_size / (1 << 20));
                printf("cold_%s_rss_mib %.1f\n", label, rss_kib() / 1024.0);
                fflush(stdout);
                bench_teardown(&b);
                _exit(0);
        }
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "bench-lb: cold start of %s: %s %d\n", label,
                        WIFSIGNALED(status) ? "killed by signal" : "exit status",
                        WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
                exit(EXIT_FAILURE);
        }
}

/* Exactly n picks after the same setup as n = 0: the difference of the two runs is n picks. */
static void callgrind(const char *what, unsigned long n) {
        bool least = streq(what, "least");
        dnsdisc_endpoint e;
        Bench b;
        int r = 0;

        bench_setup(&b);
        if (publish(b.w, "web", 10, 65537) < 0)
                die("publish", -EIO);
        bench_open(&b, "web");
        /* Fill this thread's cursor: the rest take the fast path. */
        r |= least ? dnsdisc_pick_least(b.s, &e) : dnsdisc_pick_hash(b.s, 0, &e);
        for (unsigned long i = 0; i < n; i++)
                r |= least ? dnsdisc_pick_least(b.s, &e) : dnsdisc_pick_hash(b.s, i * UINT64_C(0x9e3779b97f4a7c15), &e);
        if (r < 0)
                die("pick", r);
        printf("picks %lu\n", n);
        bench_teardown(&b);
}

int main(int argc, char **argv) {
        if (argc == 4 && streq(argv[1], "--callgrind")) {
                callgrind(argv[2], strtoul(argv[3], NULL, 10));
                return 0;
        }
        if (argc != 1) {
                fprintf(stderr, "usage: bench-lb [--callgrind hash|least N]\n");
                return 2;
        }
        picks();
        builds();
        publishes();
        cold("10000_services_no_table", 10000, 0);
        cold("1000_services_maglev_65537", 1000, 65537);
        cold("1000_services_maglev_4093", 1000, 4093);
        cold("1000_services_no_table", 1000, 0);
        return 0;
}
