/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-stress.c: a writer process republishing continuously against reader processes: no torn read, ever. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "cache-def.h"
#include "cache-writer.h"
#include "dnsdisc.h"
#include "tempdir.h"
#include "util.h"

/*
 * The writer publishes, for each service, set k of a known family: backends
 * 10.k.0.1 .. 10.k.0.n(k), all with port 1000 + k, weight w(k, i), target
 * "b<i>.set<k>.example", query "set<k>.<service>", last_error k. Every field
 * a reader sees thus names the set it came from, and a read mixing two sets
 * (a torn read) is detectable. Sets differ in size, so the writer rewrites
 * extents both in place and elsewhere; it also removes and re-adds one
 * service and adds services until the file is replaced by a bigger one.
 */
#define N_SETS 12
#define N_SERVICES 4
#define N_EXTRA 150
#define READERS 2
#define TARGET_READS 10000000ULL  /* over all readers */
#define MIN_READS 1000000ULL      /* if the time bound hit first */
#define TIME_BOUND_USEC (25 * USEC_PER_SEC)

static const char *const services[N_SERVICES] = { "s0", "s1", "s2", "s3" };
#define FLAPPING "s3"           /* removed and re-added: -ESRCH allowed */

static unsigned set_size(unsigned k) {
        return 1 + (k * 7) % 6;
}

static uint16_t set_weight(unsigned k, unsigned i) {
        return (uint16_t) (1 + (i + k) % 3);
}

typedef struct ReaderResult {
        uint64_t reads, picks, snapshots, targets;
        uint64_t torn, eagain, esrch, other;
        uint64_t usec;
        bool time_bound_hit;
        char first_torn[160];
} ReaderResult;

typedef struct Shared {
        _Atomic int stop;
        _Atomic int writer_ready;
        uint64_t publishes, grows, removes;
        int writer_error;
        ReaderResult r[READERS];
} Shared;

typedef struct Fixture {
        char dir[64];
        char path[96];
        Shared *sh;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);

        if (!f)
                return -1;
        if (tempdir_make("test-stress", f->dir, f->path) < 0) {
                free(f);
                return -1;
        }
        f->sh = mmap(NULL, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (f->sh == MAP_FAILED) {
                rmdir(f->dir);
                free(f);
                return -1;
        }
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        tempdir_remove(f->dir);
        munmap(f->sh, sizeof(Shared));
        free(f);
        return 0;
}

static int publish_set(CacheWriter *w, const char *name, unsigned k) {
        char targets[8][32], query[64];
        PubBackend b[8] = {};
        PubService svc;
        unsigned n = set_size(k);

        for (unsigned i = 0; i < n; i++) {
                snprintf(targets[i], sizeof targets[i], "b%u.set%u.example", i + 1, k);
                b[i] = (PubBackend) { .family = 4, .addr = { 10, (uint8_t) k, 0, (uint8_t) (i + 1) },
                                      .port = (uint16_t) (1000 + k), .weight = set_weight(k, i),
                                      .source = DD_SOURCE_A, .health = DD_HEALTH_UP, .target = targets[i],
                                      .checks = k };
        }
        snprintf(query, sizeof query, "set%u.%s", k, name);
        svc = (PubService) { .name = name, .query = query, .state = DD_STATE_OK, .last_error = (uint16_t) k,
                             .backends = b, .n_backends = n };
        return cache_writer_publish(w, &svc);
}

static _Noreturn void writer_main(Fixture *f) {
        CacheWriter *w = NULL;
        uint64_t n = 0;
        unsigned extra = 0;
        int r;

        r = cache_writer_open(f->path, &w);
        for (unsigned i = 0; r >= 0 && i < N_SERVICES; i++)
                r = publish_set(w, services[i], 1);
        if (r < 0) {
                f->sh->writer_error = r;
                atomic_store(&f->sh->writer_ready, 1);
                _exit(1);
        }
        atomic_store(&f->sh->writer_ready, 1);

        while (!atomic_load_explicit(&f->sh->stop, memory_order_relaxed) && r >= 0) {
                const char *name = services[n % N_SERVICES];

                r = publish_set(w, name, 1 + (unsigned) (n / N_SERVICES * 5 + n) % N_SETS);
                n++;
                if (n % 4096 == 0 && r >= 0) {
                        r = cache_writer_remove(w, FLAPPING);
                        f->sh->removes++;
                }
                /* Now and then a new service, until the file must grow (twice). */
                if (n % 2048 == 0 && extra < N_EXTRA && r >= 0) {
                        char name_x[16];

                        for (unsigned j = 0; j < 25 && r >= 0; j++, extra++) {
                                snprintf(name_x, sizeof name_x, "x%u", extra);
                                r = publish_set(w, name_x, 1 + extra % N_SETS);
                        }
                }
        }
        f->sh->publishes = n;
        f->sh->writer_error = r < 0 ? r : 0;
        cache_writer_free(w);
        _exit(r < 0 ? 1 : 0);
}

static void note_torn(ReaderResult *res, const char *fmt, ...) _printf_(2, 3);
static void note_torn(ReaderResult *res, const char *fmt, ...) {
        va_list ap;

        if (res->torn++ == 0) {
                va_start(ap, fmt);
                vsnprintf(res->first_torn, sizeof res->first_torn, fmt, ap);
                va_end(ap);
        }
}

/* An endpoint must be one backend of one set, whole. */
static void check_endpoint(ReaderResult *res, const dnsdisc_endpoint *e) {
        uint32_t a = ntohl(e->addr.sin.sin_addr.s_addr);
        unsigned k = (a >> 16) & 0xff, h = a & 0xff;
        uint8_t raw[16] = { 10, (uint8_t) k, 0, (uint8_t) h };

        if (e->addr.sa.sa_family != AF_INET || e->addrlen != sizeof(struct sockaddr_in) || (a >> 24) != 10 ||
            ((a >> 8) & 0xff) != 0 || k < 1 || k > N_SETS || h < 1 || h > set_size(k) || e->port != 1000 + k ||
            ntohs(e->addr.sin.sin_port) != 1000 + k || e->_key != dd_endpoint_key(4, raw, e->port))
                note_torn(res, "endpoint %08x port %u/%u", a, e->port, ntohs(e->addr.sin.sin_port));
}

/* A snapshot must be one whole set, with the service fields of that same publish. */
static void check_snapshot(ReaderResult *res, const char *name, const dnsdisc_service_info *info,
                           const dnsdisc_backend *b, int n) {
        char want[64];
        unsigned k;

        if (n < 1) {
                note_torn(res, "%s: %d backends", name, n);
                return;
        }
        k = (ntohl(b[0].addr.sin.sin_addr.s_addr) >> 16) & 0xff;
        if (k < 1 || k > N_SETS || (unsigned) n != set_size(k) || info->n_backends != (unsigned) n ||
            info->n_scheduled != (unsigned) n || info->last_error != k) {
                note_torn(res, "%s: set %u with %d backends, info says %u/%u, error %u", name, k, n, info->n_backends,
                          info->n_scheduled, info->last_error);
                return;
        }
        snprintf(want, sizeof want, "set%u.%s", k, name);
        if (!streq(info->query, want))
                note_torn(res, "%s: set %u, query %s", name, k, info->query);
        for (int i = 0; i < n; i++) {
                uint32_t a = ntohl(b[i].addr.sin.sin_addr.s_addr);

                snprintf(want, sizeof want, "b%d.set%u.example", i + 1, k);
                if (b[i].addr.sa.sa_family != AF_INET || a != (10u << 24 | k << 16 | (unsigned) (i + 1)) ||
                    b[i].port != 1000 + k || ntohs(b[i].addr.sin.sin_port) != 1000 + k ||
                    b[i].weight != set_weight(k, (unsigned) i) || b[i].checks != k || !streq(b[i].target, want)) {
                        note_torn(res, "%s: set %u, backend %d is %08x:%u weight %u target %s", name, k, i, a,
                                  b[i].port, b[i].weight, b[i].target);
                        return;
                }
        }
}

static void count_error(ReaderResult *res, const char *name, int r) {
        if (r == -EAGAIN)
                res->eagain++;
        else if (r == -ESRCH && streq(name, FLAPPING))
                res->esrch++;
        else
                res->other++;
}

static _Noreturn void reader_main(Fixture *f, unsigned id) {
        static dnsdisc_backend backends[DNSDISC_BACKENDS_MAX];
        ReaderResult *res = &f->sh->r[id];
        dnsdisc_service *s[N_SERVICES];
        dnsdisc *d = NULL;
        uint64_t t0 = now_usec(CLOCK_MONOTONIC), quota = TARGET_READS / READERS;

        if (dnsdisc_open(f->path, &d) < 0)
                _exit(2);
        for (unsigned i = 0; i < N_SERVICES; i++) {
                int r = -ESRCH;

                /* The flapping one may be away for a moment. */
                for (unsigned tries = 0; tries < 1000 && r < 0; tries++)
                        if ((r = dnsdisc_service_get(d, services[i], &s[i])) < 0)
                                usleep(1000);
                if (r < 0)
                        _exit(3);
        }
        for (uint64_t it = 0; res->reads < quota; it++) {
                unsigned i = (unsigned) (it % N_SERVICES);
                dnsdisc_service_info info;
                dnsdisc_endpoint e;
                char target[DNSDISC_TARGET_MAX];
                int r;

                if ((it & 1023) == 0 && now_usec(CLOCK_MONOTONIC) - t0 > TIME_BOUND_USEC) {
                        res->time_bound_hit = true;
                        break;
                }
                res->reads++;
                if (it % 16 == 0) {
                        res->snapshots++;
                        r = dnsdisc_snapshot(s[i], &info, backends, DNSDISC_BACKENDS_MAX);
                        if (r < 0)
                                count_error(res, services[i], r);
                        else
                                check_snapshot(res, services[i], &info, backends, r);
                        continue;
                }
                res->picks++;
                r = (it & 3) == 1 ? dnsdisc_pick_random(s[i], &e) : dnsdisc_pick(s[i], &e);
                if (r < 0) {
                        count_error(res, services[i], r);
                        continue;
                }
                check_endpoint(res, &e);
                if (it % 64 == 3) {
                        res->targets++;
                        r = dnsdisc_endpoint_target(&e, target, sizeof target);
                        if (r == 0) {
                                uint32_t a = ntohl(e.addr.sin.sin_addr.s_addr);
                                char want[64];

                                snprintf(want, sizeof want, "b%u.set%u.example", a & 0xff, (a >> 16) & 0xff);
                                if (!streq(target, want))
                                        note_torn(res, "target %s for %08x", target, a);
                        } else if (r != -ESTALE)
                                count_error(res, services[i], r);
                }
        }
        res->usec = now_usec(CLOCK_MONOTONIC) - t0;
        dnsdisc_close(d);
        _exit(0);
}

static void test_no_torn_read_under_continuous_publishing(void **state) {
        Fixture *f = *state;
        pid_t writer, readers[READERS];
        ReaderResult total = {};
        bool time_bound_hit = false;
        int status;

        writer = fork();
        assert_true(writer >= 0);
        if (writer == 0)
                writer_main(f);
        for (unsigned i = 0; i < 10000 && !atomic_load(&f->sh->writer_ready); i++)
                usleep(1000);
        assert_true(atomic_load(&f->sh->writer_ready));
        assert_int_equal(f->sh->writer_error, 0);

        for (unsigned i = 0; i < READERS; i++) {
                readers[i] = fork();
                assert_true(readers[i] >= 0);
                if (readers[i] == 0)
                        reader_main(f, i);
        }
        for (unsigned i = 0; i < READERS; i++) {
                assert_int_equal(waitpid(readers[i], &status, 0), readers[i]);
                assert_true(WIFEXITED(status));
                assert_int_equal(WEXITSTATUS(status), 0);
        }
        atomic_store(&f->sh->stop, 1);
        assert_int_equal(waitpid(writer, &status, 0), writer);
        assert_true(WIFEXITED(status));
        assert_int_equal(f->sh->writer_error, 0);
        assert_int_equal(WEXITSTATUS(status), 0);

        for (unsigned i = 0; i < READERS; i++) {
                const ReaderResult *r = &f->sh->r[i];

                print_message("# reader %u: %" PRIu64 " reads (%" PRIu64 " picks, %" PRIu64 " snapshots, %" PRIu64
                              " targets) in %.1f s; torn %" PRIu64 ", eagain %" PRIu64 ", esrch %" PRIu64
                              ", other errors %" PRIu64 "%s\n",
                              i, r->reads, r->picks, r->snapshots, r->targets, r->usec / 1e6, r->torn, r->eagain,
                              r->esrch, r->other, r->time_bound_hit ? " (time bound hit)" : "");
                if (r->torn)
                        print_message("# reader %u, first torn read: %s\n", i, r->first_torn);
                total.reads += r->reads;
                total.torn += r->torn;
                total.other += r->other;
                time_bound_hit |= r->time_bound_hit;
        }
        print_message("# writer: %" PRIu64 " publishes, %" PRIu64 " removals; %" PRIu64 " reads in total\n",
                      f->sh->publishes, f->sh->removes, total.reads);

        assert_int_equal(total.torn, 0);
        assert_int_equal(total.other, 0);
        assert_true(f->sh->publishes > 1000);
        if (time_bound_hit)
                assert_true(total.reads >= MIN_READS);
        else
                assert_true(total.reads >= TARGET_READS);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_no_torn_read_under_continuous_publishing, setup, teardown),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
