/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-cache-writer.c: the cache file as daemon/cache-writer.c writes it, read back through cache-file.h. */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <cmocka.h>

#include "cache-file.h"
#include "cache-writer.h"
#include "schedule.h"
#include "util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(CacheWriter *, cache_writer_free);

/* Per test: a private directory and the cache path in it. */
typedef struct Fixture {
        char dir[64];
        char path[96];
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        if (!f)
                return -1;
        strcpy(f->dir, "/tmp/test-cache-writer.XXXXXX");
        if (!mkdtemp(f->dir)) {
                free(f);
                return -1;
        }
        snprintf(f->path, sizeof f->path, "%s/cache", f->dir);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        DIR *d = opendir(f->dir);
        struct dirent *de;

        while (d && (de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        if (d)
                closedir(d);
        (void) rmdir(f->dir);
        free(f);
        return 0;
}

/* A read-only mapping of the file at path, as a reader in another process would have it. */
typedef struct Map {
        const uint8_t *p;
        uint64_t size;
        const dd_header *h;
} Map;

static Map map_open(const char *path) {
        struct stat st;
        Map m = {};
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &st), 0);
        m.size = (uint64_t) st.st_size;
        m.p = mmap(NULL, m.size, PROT_READ, MAP_SHARED, fd, 0);
        assert_true(m.p != MAP_FAILED);
        close(fd);
        m.h = (const dd_header *) m.p;
        assert_int_equal(dd_validate_header(m.p, m.size), 0);
        return m;
}

static void map_close(Map *m) {
        if (m->p)
                munmap((void *) m->p, m->size);
        *m = (Map) {};
}

static int map_find(const Map *m, const char *name) {
        for (uint32_t i = 0; i < m->h->n_service_slots; i++) {
                const dd_service *s = dd_slot(m->p, i);
                if (s->incarnation != 0 && strncmp(s->name, name, DD_NAME_MAX) == 0)
                        return (int) i;
        }
        return -1;
}

/* The live service name, with its extent checked as a reader would. */
static const dd_service *map_service(const Map *m, const char *name) {
        int i = map_find(m, name);
        assert_true(i >= 0);
        const dd_service *s = dd_slot(m->p, (uint32_t) i);
        assert_int_equal(s->seq % 2, 0);
        assert_true(dd_extent_ok(m->h, m->size, s->extent_offset, s->extent_size, s->n_backends, s->sched_len,
                                 s->n_eligible));
        return s;
}

static uint32_t map_live(const Map *m) {
        uint32_t n = 0;
        for (uint32_t i = 0; i < m->h->n_service_slots; i++)
                n += dd_slot(m->p, i)->incarnation != 0;
        return n;
}

static PubBackend backend(const char *addr, uint16_t port, uint16_t priority, uint16_t weight, uint8_t health,
                          const char *target) {
        PubBackend b = { .port = port, .priority = priority, .weight = weight, .health = health, .target = target };
        if (inet_pton(AF_INET, addr, b.addr) == 1) {
                b.family = 4;
                b.source = DD_SOURCE_A;
        } else {
                assert_int_equal(inet_pton(AF_INET6, addr, b.addr), 1);
                b.family = 6;
                b.source = DD_SOURCE_AAAA;
        }
        return b;
}

static PubService service(const char *name, const PubBackend *b, size_t n) {
        return (PubService) {
                .name = name,
                .query = name,
                .panic = true,
                .state = DD_STATE_OK,
                .backends = b,
                .n_backends = n,
        };
}

static void test_publish_round_trips_every_field(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        PubBackend b[3] = {
                backend("192.0.2.10", 8080, 10, 60, DD_HEALTH_UP, "alpha.example.com"),
                backend("2001:db8::5", 443, 10, 40, DD_HEALTH_DOWN, "beta.example.com"),
                backend("192.0.2.11", 9090, 20, 0, DD_HEALTH_UNKNOWN, ""),
        };
        uint64_t counters[_DD_SCTR_MAX];
        PubService svc = service("web", b, 3);

        for (unsigned i = 0; i < _DD_SCTR_MAX; i++)
                counters[i] = 1000 + i;
        b[0].source = b[1].source = DD_SOURCE_SRV;
        b[0].ttl_expiry_usec = 1700000000000000;
        b[1].ttl_expiry_usec = 1700000000000001;
        b[1].checks = 12;
        b[1].check_failures = 5;
        b[1].last_latency_usec = 777;
        b[1].consecutive_ok = 2;
        b[1].consecutive_fail = 3;
        b[1].last_check_usec = 1700000000000002;
        b[1].check_error = DD_ERR_CONNREFUSED;
        svc.query = "_http._tcp.example.com";
        svc.srv = true;
        svc.state = DD_STATE_STALE;
        svc.last_error = DD_ERR_SERVFAIL;
        svc.last_good_usec = 1600000000000000;
        svc.next_refresh_usec = 1800000000000000;
        svc.counters = counters;

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_string_equal(cache_writer_path(w), f->path);
        assert_int_equal(cache_writer_publish(w, &svc), 1);

        Map m = map_open(f->path);
        assert_memory_equal(m.h->magic, DD_MAGIC, DD_MAGIC_SIZE);
        assert_int_equal(m.h->version_major, DD_VERSION_MAJOR);
        assert_int_equal(m.h->version_minor, DD_VERSION_MINOR);
        assert_int_equal(m.h->header_size, sizeof(dd_header));
        assert_int_equal(m.h->service_size, sizeof(dd_service));
        assert_int_equal(m.h->file_size, m.size);
        assert_int_not_equal(m.h->file_id, 0);
        assert_int_equal(m.h->writer_pid, (uint32_t) getpid());
        assert_int_equal(m.h->heartbeat_interval_ms, 1000);
        assert_true(m.h->heartbeat_usec > 0 && m.h->started_usec > 0);
        assert_int_equal(m.h->flags, 0);
        assert_int_equal(m.h->change_counter, 1);

        const dd_service *s = map_service(&m, "web");
        assert_int_not_equal(s->incarnation, 0);
        assert_int_equal(s->generation, 1);
        assert_string_equal(s->query, "_http._tcp.example.com");
        assert_int_equal(s->state, DD_STATE_STALE);
        assert_int_equal(s->flags, DD_SVC_SRV);
        assert_int_equal(s->last_error, DD_ERR_SERVFAIL);
        assert_int_equal(s->n_healthy, 1);
        assert_int_equal(s->last_good_usec, svc.last_good_usec);
        assert_int_equal(s->next_refresh_usec, svc.next_refresh_usec);
        assert_true(s->changed_usec > 0);
        assert_memory_equal(s->counters, counters, sizeof counters);
        assert_int_equal(s->n_backends, 3);

        const dd_backend *eb = dd_extent_backends(m.p, s->extent_offset);
        const char *strings = (const char *) m.p + s->extent_offset;
        for (unsigned i = 0; i < 3; i++) {
                assert_int_equal(eb[i].family, b[i].family);
                assert_int_equal(eb[i].port, b[i].port);
                assert_int_equal(eb[i].priority, b[i].priority);
                assert_int_equal(eb[i].weight, b[i].weight);
                assert_int_equal(eb[i].health, b[i].health);
                assert_int_equal(eb[i].source, b[i].source);
                assert_int_equal(eb[i].ttl_expiry_usec, b[i].ttl_expiry_usec);
                assert_int_equal(eb[i].key, dd_endpoint_key(b[i].family, b[i].addr, b[i].port));
                assert_int_equal(eb[i].checks, b[i].checks);
                assert_int_equal(eb[i].check_failures, b[i].check_failures);
                assert_int_equal(eb[i].last_latency_usec, b[i].last_latency_usec);
                assert_int_equal(eb[i].consecutive_ok, b[i].consecutive_ok);
                assert_int_equal(eb[i].consecutive_fail, b[i].consecutive_fail);
                assert_int_equal(eb[i].last_check_usec, b[i].last_check_usec);
                assert_int_equal(eb[i].check_error, b[i].check_error);
                assert_int_equal(eb[i].target_len, strlen(b[i].target));
                assert_true(eb[i].target_off + eb[i].target_len < s->extent_size);
                assert_string_equal(strings + eb[i].target_off, b[i].target);

                if (b[i].family == 4) {
                        struct sockaddr_in sin;
                        assert_int_equal(eb[i].addrlen, sizeof sin);
                        memcpy(&sin, eb[i].sockaddr, sizeof sin);
                        assert_int_equal(sin.sin_family, AF_INET);
                        assert_int_equal(sin.sin_port, htons(b[i].port));
                        assert_memory_equal(&sin.sin_addr, b[i].addr, 4);
                } else {
                        struct sockaddr_in6 sin6;
                        assert_int_equal(eb[i].addrlen, sizeof sin6);
                        memcpy(&sin6, eb[i].sockaddr, sizeof sin6);
                        assert_int_equal(sin6.sin6_family, AF_INET6);
                        assert_int_equal(sin6.sin6_port, htons(b[i].port));
                        assert_memory_equal(&sin6.sin6_addr, b[i].addr, 16);
                }
        }
        /* Only the healthy one of the best priority is picked. */
        assert_int_equal(eb[0].flags, DD_BACKEND_SCHEDULED);
        assert_int_equal(eb[1].flags, 0);
        assert_int_equal(eb[2].flags, 0);
        map_close(&m);
}

static void test_schedule_and_eligible_match_the_backends(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        PubBackend b[] = {
                backend("127.0.0.1", 1, 0, 1, DD_HEALTH_UP, "a"),   backend("127.0.0.2", 2, 0, 3, DD_HEALTH_UP, "b"),
                backend("127.0.0.3", 3, 0, 5, DD_HEALTH_DOWN, "c"), backend("::1", 4, 1, 9, DD_HEALTH_UP, "d"),
                backend("127.0.0.5", 5, 0, 2, DD_HEALTH_UP, "b"),
        };
        PubService svc = service("sched", b, ELEMENTSOF(b));
        SchedInput in[ELEMENTSOF(b)];
        static Schedule expect;

        for (size_t i = 0; i < ELEMENTSOF(b); i++)
                in[i] = (SchedInput) { b[i].priority, b[i].weight, b[i].health == DD_HEALTH_UP };
        assert_int_equal(schedule_build(in, ELEMENTSOF(b), true, &expect), 0);

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_int_equal(cache_writer_publish(w, &svc), 1);

        Map m = map_open(f->path);
        const dd_service *s = map_service(&m, "sched");
        const dd_backend *eb = dd_extent_backends(m.p, s->extent_offset);
        const uint16_t *sched = dd_extent_schedule(m.p, s->extent_offset, s->n_backends);
        const uint16_t *elig = dd_extent_eligible(m.p, s->extent_offset, s->n_backends, s->sched_len);

        assert_int_equal(s->sched_len, expect.len);
        assert_int_equal(s->n_eligible, expect.n_eligible);
        assert_memory_equal(sched, expect.slots, expect.len * sizeof(uint16_t));
        assert_memory_equal(elig, expect.eligible, expect.n_eligible * sizeof(uint16_t));
        assert_int_equal(s->extent_size, dd_extent_size(s->n_backends, s->sched_len, s->n_eligible,
                                                         s->extent_size - dd_extent_size(s->n_backends, s->sched_len,
                                                                                         s->n_eligible, 0)));
        /* SCHEDULED marks exactly the eligible backends. */
        for (uint16_t i = 0; i < s->n_backends; i++) {
                bool listed = false;
                for (uint16_t j = 0; j < s->n_eligible; j++)
                        listed |= elig[j] == i;
                assert_int_equal(!!(eb[i].flags & DD_BACKEND_SCHEDULED), listed);
        }
        assert_int_equal(s->n_eligible, 3); /* a, b and the second b: priority 0, healthy */
        map_close(&m);
}

static void test_unchanged_republish_writes_nothing(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        PubBackend b[] = { backend("127.0.0.1", 80, 0, 1, DD_HEALTH_UP, "x") };
        PubService svc = service("same", b, 1);

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_int_equal(cache_writer_publish(w, &svc), 1);
        Map m = map_open(f->path);
        const dd_service *s = map_service(&m, "same");
        uint32_t seq = s->seq, gen = s->generation, cc = m.h->change_counter;
        int64_t changed = s->changed_usec;

        assert_int_equal(cache_writer_publish(w, &svc), 0);
        assert_int_equal(s->seq, seq); /* not even entered the seqlock */
        assert_int_equal(s->generation, gen);
        assert_int_equal(m.h->change_counter, cc);
        assert_int_equal(s->changed_usec, changed);
        map_close(&m);
}

static void test_ttl_and_counter_change_updates_without_generation_bump(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        PubBackend b[] = { backend("127.0.0.1", 80, 0, 1, DD_HEALTH_UP, "x"), backend("::1", 81, 0, 1, DD_HEALTH_UP, "y") };
        uint64_t counters[_DD_SCTR_MAX] = { 1 };
        PubService svc = service("quiet", b, 2);

        svc.counters = counters;
        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_int_equal(cache_writer_publish(w, &svc), 1);
        Map m = map_open(f->path);
        const dd_service *s = map_service(&m, "quiet");
        uint32_t seq = s->seq, gen = s->generation, cc = m.h->change_counter;

        b[0].ttl_expiry_usec = 42;
        b[1].checks = 9;
        b[1].last_latency_usec = 1234;
        b[1].last_check_usec = 99;
        counters[DD_SCTR_QUERIES] = 17;
        svc.last_good_usec = 5;
        svc.next_refresh_usec = 6;
        assert_int_equal(cache_writer_publish(w, &svc), 0);

        s = map_service(&m, "quiet");
        const dd_backend *eb = dd_extent_backends(m.p, s->extent_offset);
        assert_int_equal(s->generation, gen);
        assert_int_equal(m.h->change_counter, cc);
        assert_int_equal(s->seq, seq + 2);
        assert_int_equal(eb[0].ttl_expiry_usec, 42);
        assert_int_equal(eb[1].checks, 9);
        assert_int_equal(eb[1].last_latency_usec, 1234);
        assert_int_equal(eb[1].last_check_usec, 99);
        assert_int_equal(s->counters[DD_SCTR_QUERIES], 17);
        assert_int_equal(s->last_good_usec, 5);
        assert_int_equal(s->next_refresh_usec, 6);

        /* NULL counters keep the published ones. */
        svc.counters = NULL;
        assert_int_equal(cache_writer_publish(w, &svc), 0);
        assert_int_equal(s->counters[DD_SCTR_QUERIES], 17);
        map_close(&m);
}

/* A reader blocked on the file's change counter, as dnsdisc_wait() blocks, in another thread. */
typedef struct Waiter {
        const _Atomic uint32_t *word;
        uint32_t expected;
        _Atomic bool started, woken;
        _Atomic pid_t tid;
        uint64_t woken_usec;
} Waiter;

/* Is the thread asleep (state S), as it is in its futex wait? Polled instead of a fixed sleep:
 * on a loaded machine the thread may reach its wait only after the writer has published. */
static bool thread_sleeping(pid_t tid) {
        char path[64], buf[512], *p;
        ssize_t n;
        int fd;

        snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int) tid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return false;
        buf[n] = 0;
        p = strrchr(buf, ')'); /* after the command name, which may hold anything */
        return p && p[1] == ' ' && p[2] == 'S';
}

static void *waiter_run(void *arg) {
        Waiter *wt = arg;
        struct timespec limit = { .tv_sec = 5 };

        atomic_store(&wt->tid, (pid_t) syscall(SYS_gettid));
        atomic_store(&wt->started, true);
        /* Returns on a wake, at the limit, or at once if the value already differs. */
        (void) syscall(SYS_futex, wt->word, FUTEX_WAIT, wt->expected, &limit, NULL, 0);
        wt->woken_usec = now_usec(CLOCK_MONOTONIC);
        atomic_store(&wt->woken, true);
        return NULL;
}

static void count_call(void *userdata) {
        (*(unsigned *) userdata)++;
}

static void test_batching_wakes_file_waiters_at_flush_not_at_publish(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        PubBackend b[] = { backend("127.0.0.1", 80, 0, 1, DD_HEALTH_UP, "x") };
        PubService svc = service("batched", b, 1), svc2 = service("batched-too", b, 1);
        unsigned pending_calls = 0;
        pthread_t t;

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        cache_writer_set_batching(w, count_call, &pending_calls);
        Map m = map_open(f->path);
        Waiter wt = { .word = &m.h->change_counter, .expected = m.h->change_counter };
        assert_int_equal(pthread_create(&t, NULL, waiter_run, &wt), 0);
        while (!atomic_load(&wt.started))
                usleep(1000);
        for (int i = 0; i < 5000 && !thread_sleeping(atomic_load(&wt.tid)); i++)
                usleep(1000);
        assert_true(thread_sleeping(atomic_load(&wt.tid))); /* in the futex wait */

        assert_int_equal(cache_writer_publish(w, &svc), 1);
        assert_int_equal(cache_writer_publish(w, &svc2), 1);
        assert_int_equal(pending_calls, 1);                     /* told once per flush due */
        assert_int_not_equal(m.h->change_counter, wt.expected); /* visible at once */
        usleep(200 * 1000);
        assert_false(atomic_load(&wt.woken));                   /* but nobody woken yet */

        uint64_t flushed = now_usec(CLOCK_MONOTONIC);
        cache_writer_flush(w);
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_true(atomic_load(&wt.woken));
        assert_true(wt.woken_usec - flushed < 2 * USEC_PER_SEC); /* the flush woke it, not the limit */
        cache_writer_flush(w); /* nothing pending: no effect */
        svc.state = DD_STATE_STALE;
        assert_int_equal(cache_writer_publish(w, &svc), 1);
        assert_int_equal(pending_calls, 2);                     /* due again after the flush */
        map_close(&m);
}

static void test_health_change_bumps_generation(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        PubBackend b[] = { backend("127.0.0.1", 80, 0, 1, DD_HEALTH_UP, "x"), backend("127.0.0.2", 80, 0, 1, DD_HEALTH_UP, "x") };
        PubService svc = service("flappy", b, 2);

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_int_equal(cache_writer_publish(w, &svc), 1);
        Map m = map_open(f->path);
        const dd_service *s = map_service(&m, "flappy");
        uint32_t gen = s->generation, cc = m.h->change_counter;
        int64_t changed = s->changed_usec;

        b[1].health = DD_HEALTH_DOWN;
        assert_int_equal(cache_writer_publish(w, &svc), 1);
        s = map_service(&m, "flappy");
        const dd_backend *eb = dd_extent_backends(m.p, s->extent_offset);
        assert_int_equal(s->generation, gen + 1);
        assert_int_equal(m.h->change_counter, cc + 1);
        assert_true(s->changed_usec >= changed);
        assert_int_equal(s->n_healthy, 1);
        assert_int_equal(s->sched_len, 1);
        assert_int_equal(eb[1].health, DD_HEALTH_DOWN);
        assert_int_equal(eb[1].flags & DD_BACKEND_SCHEDULED, 0);

        /* A state change alone is significant too. */
        svc.state = DD_STATE_STALE;
        assert_int_equal(cache_writer_publish(w, &svc), 1);
        assert_int_equal(s->generation, gen + 2);
        map_close(&m);
}

static void test_panic_flag_and_schedule_follow_the_option(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        PubBackend b[] = { backend("127.0.0.1", 80, 0, 1, DD_HEALTH_DOWN, "x"), backend("127.0.0.2", 80, 1, 1, DD_HEALTH_DOWN, "x") };
        PubService on = service("panicky", b, 2), off = service("calm", b, 2);

        off.panic = false;
        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_int_equal(cache_writer_publish(w, &on), 1);
        assert_int_equal(cache_writer_publish(w, &off), 1);
        Map m = map_open(f->path);
        const dd_service *s = map_service(&m, "panicky");
        assert_int_equal(s->flags & DD_SVC_PANIC, DD_SVC_PANIC);
        assert_int_equal(s->sched_len, 2);
        assert_int_equal(s->n_eligible, 2);
        s = map_service(&m, "calm");
        assert_int_equal(s->flags & DD_SVC_PANIC, 0);
        assert_int_equal(s->sched_len, 0);
        assert_int_equal(s->n_eligible, 0);
        map_close(&m);
}

static void test_remove_marks_slot_moved_and_slot_is_reused(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        PubBackend b[] = { backend("127.0.0.1", 80, 0, 1, DD_HEALTH_UP, "x") };
        PubService one = service("one", b, 1), two = service("two", b, 1);

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_int_equal(cache_writer_publish(w, &one), 1);
        Map m = map_open(f->path);
        int slot = map_find(&m, "one");
        const dd_service *s = dd_slot(m.p, (uint32_t) slot);
        uint64_t inc = s->incarnation;
        uint32_t gen = s->generation, cc = m.h->change_counter;

        assert_int_equal(cache_writer_remove(w, "one"), 0);
        assert_int_equal(s->incarnation, 0);
        assert_int_equal(s->flags & DD_SVC_MOVED, DD_SVC_MOVED);
        assert_int_equal(s->n_backends, 0);
        assert_int_equal(s->sched_len, 0);
        assert_int_equal(s->n_eligible, 0);
        assert_int_equal(s->generation, gen + 1);
        assert_int_equal(m.h->change_counter, cc + 1);
        assert_int_equal(s->seq % 2, 0);
        assert_int_equal(map_find(&m, "one"), -1);
        assert_int_equal(cache_writer_remove(w, "one"), -ENOENT);

        /* The freed slot takes the next service, under a new incarnation. */
        assert_int_equal(cache_writer_publish(w, &two), 1);
        assert_int_equal(map_find(&m, "two"), slot);
        assert_int_not_equal(s->incarnation, 0);
        assert_int_not_equal(s->incarnation, inc);
        assert_int_equal(s->flags & DD_SVC_MOVED, 0);
        assert_true(s->generation > gen + 1);
        s = map_service(&m, "two");
        assert_int_equal(s->n_backends, 1);
        map_close(&m);
}

static char *name_of(char *buf, size_t size, unsigned i) {
        snprintf(buf, size, "svc-%04u", i);
        return buf;
}

static void test_growth_past_slots_replaces_the_file(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        PubBackend b[] = { backend("127.0.0.1", 80, 0, 1, DD_HEALTH_UP, "x"), backend("::1", 80, 0, 1, DD_HEALTH_DOWN, "y") };
        uint64_t incarnations[1024];
        uint32_t generations[1024];
        char name[32];
        unsigned n = 0;

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        Map old = map_open(f->path);
        uint32_t slots = old.h->n_service_slots;
        assert_true(slots < ELEMENTSOF(incarnations));

        /* Fill every slot, then one more. */
        for (; n <= slots; n++) {
                PubService svc = service(name_of(name, sizeof name, n), b, 2);
                assert_int_equal(cache_writer_publish(w, &svc), 1);
                if (n < slots) {
                        const dd_service *s = map_service(&old, name);
                        incarnations[n] = s->incarnation;
                        generations[n] = s->generation;
                }
        }

        assert_int_equal(old.h->flags & DD_FILE_REPLACED, DD_FILE_REPLACED);
        for (uint32_t i = 0; i < slots; i++) {
                const dd_service *s = dd_slot(old.p, i);
                assert_int_equal(s->flags & DD_SVC_MOVED, DD_SVC_MOVED);
                assert_int_equal(s->seq % 2, 0);
        }

        Map m = map_open(f->path);
        assert_int_not_equal(m.h->file_id, old.h->file_id);
        assert_true(m.h->n_service_slots >= 2 * slots);
        assert_true(m.h->heap_size >= 2 * old.h->heap_size);
        assert_int_equal(m.h->counters[DD_DCTR_FILE_REPLACEMENTS], 1);
        assert_int_equal(map_live(&m), n);
        for (unsigned i = 0; i < n; i++) {
                const dd_service *s = map_service(&m, name_of(name, sizeof name, i));
                assert_int_equal(s->flags & DD_SVC_MOVED, 0);
                assert_int_equal(s->n_backends, 2);
                assert_int_equal(s->sched_len, 1);
                if (i < slots) {
                        assert_int_equal(s->incarnation, incarnations[i]);
                        assert_int_equal(s->generation, generations[i]);
                        /* Readers of the old file were woken by a generation bump. */
                        assert_true(dd_slot(old.p, (uint32_t) map_find(&old, name))->generation > generations[i]);
                }
        }
        /* Still the file the writer locks: a second writer is refused. */
        CacheWriter *w2 = NULL;
        assert_int_equal(cache_writer_open(f->path, &w2), -EBUSY);
        map_close(&m);
        map_close(&old);
}

/* Every live name once in the file, the removed ones nowhere. */
static void assert_names(const Map *m, const bool *live, unsigned n) {
        char name[32];
        unsigned n_live = 0;

        for (unsigned i = 0; i < n; i++) {
                assert_int_equal(map_find(m, name_of(name, sizeof name, i)) >= 0, live[i]);
                n_live += live[i];
        }
        assert_int_equal(map_live(m), n_live);
}

static void test_lookup_by_name_survives_removals_among_many_services(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        enum { N = 3000 };
        static bool live[N];
        PubBackend b[] = { backend("127.0.0.1", 80, 0, 1, DD_HEALTH_UP, "x") };
        char name[32];

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        for (unsigned i = 0; i < N; i++) {
                PubService svc = service(name_of(name, sizeof name, i), b, 1);
                assert_int_equal(cache_writer_publish(w, &svc), 1);
                live[i] = true;
        }
        /* Removals leave holes in the name index's probe sequences ... */
        for (unsigned i = 0; i < N; i += 3) {
                assert_int_equal(cache_writer_remove(w, name_of(name, sizeof name, i)), 0);
                live[i] = false;
        }
        assert_int_equal(cache_writer_remove(w, name_of(name, sizeof name, 0)), -ENOENT);

        /* ... through which every remaining name is still found: a republish updates its slot
         * (a lost name would come back as a second slot of the same name). */
        b[0].port = 81;
        for (unsigned i = 0; i < N; i++) {
                if (!live[i])
                        continue;
                PubService svc = service(name_of(name, sizeof name, i), b, 1);
                assert_int_equal(cache_writer_publish(w, &svc), 1);
        }
        Map m = map_open(f->path);
        assert_names(&m, live, N);
        for (unsigned i = 1; i < N; i += 97) {
                if (!live[i])
                        continue;
                const dd_service *s = map_service(&m, name_of(name, sizeof name, i));
                assert_int_equal(((const dd_backend *) (m.p + s->extent_offset))->port, 81);
        }
        uint64_t size = m.size;
        map_close(&m);

        /* Removed names come back in the freed slots: the file keeps its size. */
        for (unsigned i = 0; i < N; i += 3) {
                PubService svc = service(name_of(name, sizeof name, i), b, 1);
                assert_int_equal(cache_writer_publish(w, &svc), 1);
                live[i] = true;
        }
        m = map_open(f->path);
        assert_names(&m, live, N);
        assert_int_equal(m.size, size);
        map_close(&m);
}

static void test_reserve_sizes_the_file_once_for_the_services_to_come(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        enum { N = 2000 };
        PubBackend b[4];
        char name[32], target[4][32];
        struct stat st0, st1;

        for (unsigned k = 0; k < 4; k++) {
                snprintf(target[k], sizeof target[k], "backend-%u.service.example.com", k);
                b[k] = backend("127.0.0.1", (uint16_t) (8000 + k), 10, 10, DD_HEALTH_UP, target[k]);
        }
        assert_int_equal(cache_writer_open(f->path, &w), 0);
        Map first = map_open(f->path);
        assert_true(first.h->n_service_slots < N);

        assert_int_equal(cache_writer_reserve(w, N), 0);
        assert_int_equal(stat(f->path, &st0), 0);
        Map m = map_open(f->path);
        assert_int_equal(first.h->flags & DD_FILE_REPLACED, DD_FILE_REPLACED);
        assert_int_equal(m.h->n_service_slots, N);
        /* Asking for no more than there is room for changes nothing. */
        assert_int_equal(cache_writer_reserve(w, N / 2), 0);
        assert_int_equal(cache_writer_reserve(w, N), 0);

        for (unsigned i = 0; i < N; i++) {
                PubService svc = service(name_of(name, sizeof name, i), b, 4);
                assert_int_equal(cache_writer_publish(w, &svc), 1);
        }
        assert_int_equal(stat(f->path, &st1), 0);
        assert_int_equal(st1.st_ino, st0.st_ino);
        assert_int_equal(m.h->flags & DD_FILE_REPLACED, 0);
        assert_int_equal(map_live(&m), N);
        assert_int_equal(m.h->counters[DD_DCTR_FILE_REPLACEMENTS], 1);
        /* Sized for what was asked, not a doubling series: the heap holds the N sets with at most
         * the reserve's estimate to spare. */
        assert_true(m.h->heap_used <= m.h->heap_size);
        assert_true(m.h->heap_size <= (uint64_t) N * 700 + first.h->heap_size);
        map_close(&m);
        map_close(&first);
}

static void test_growth_past_heap_replaces_the_file(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        static PubBackend b[DD_BACKENDS_MAX];
        static char targets[DD_BACKENDS_MAX][DD_TARGET_MAX];
        PubService small = service("small", b, 1), big = service("big", b, DD_BACKENDS_MAX);

        for (unsigned i = 0; i < DD_BACKENDS_MAX; i++) {
                uint8_t a[4] = { 127, 0, (uint8_t) (i >> 8), (uint8_t) i };
                memset(targets[i], 'a' + i % 26, DD_TARGET_MAX - 1);
                snprintf(targets[i], 8, "%05u", i);
                targets[i][5] = '-';
                b[i] = backend("127.0.0.1", (uint16_t) (1000 + i), 0, (uint16_t) (1 + i), DD_HEALTH_UP, targets[i]);
                memcpy(b[i].addr, a, 4);
        }

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_int_equal(cache_writer_publish(w, &small), 1);
        Map old = map_open(f->path);
        uint64_t small_inc = map_service(&old, "small")->incarnation;
        /* 1024 backends with 255-byte names do not fit the initial heap. */
        assert_true(dd_extent_size(DD_BACKENDS_MAX, 0, 0, DD_BACKENDS_MAX * DD_TARGET_MAX) > old.h->heap_size);

        assert_int_equal(cache_writer_publish(w, &big), 1);
        assert_int_equal(old.h->flags & DD_FILE_REPLACED, DD_FILE_REPLACED);
        assert_int_equal(dd_slot(old.p, (uint32_t) map_find(&old, "small"))->flags & DD_SVC_MOVED, DD_SVC_MOVED);

        Map m = map_open(f->path);
        assert_true(m.h->heap_size >= 2 * old.h->heap_size);
        assert_int_equal(map_service(&m, "small")->incarnation, small_inc);
        const dd_service *s = map_service(&m, "big");
        const dd_backend *eb = dd_extent_backends(m.p, s->extent_offset);
        assert_int_equal(s->n_backends, DD_BACKENDS_MAX);
        assert_int_equal(s->n_eligible, DD_BACKENDS_MAX);
        assert_int_equal(s->sched_len, DD_SCHED_MAX);
        for (unsigned i = 0; i < DD_BACKENDS_MAX; i++) {
                assert_int_equal(eb[i].port, 1000 + i);
                assert_string_equal((const char *) m.p + s->extent_offset + eb[i].target_off, targets[i]);
        }
        map_close(&m);
        map_close(&old);
}

static int collect_backend(const PubBackend *b, void *userdata) {
        PubBackend *out = userdata;
        unsigned i = out[0].port++; /* out[0] counts, the rest collects */
        out[1 + i] = *b;
        out[1 + i].target = NULL;
        return 0;
}

/* A sweep that keeps everything: the writer's own count of live names. */
static bool count_name(const char *name, void *userdata) {
        (*(unsigned *) userdata)++;
        return true;
}

static void test_adoption_keeps_services_and_generations(void **state) {
        Fixture *f = *state;
        CacheWriter *w = NULL;
        PubBackend b[] = { backend("127.0.0.1", 80, 3, 7, DD_HEALTH_UP, "x"), backend("::1", 81, 4, 8, DD_HEALTH_DOWN, "y") };
        PubService svc = service("kept", b, 2);
        PubBackend got[3] = {};
        uint8_t st = 0;
        int64_t last_good = 0;
        unsigned names = 0;

        svc.last_good_usec = 123456;
        svc.state = DD_STATE_STALE;
        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_int_equal(cache_writer_publish(w, &svc), 1);
        b[1].health = DD_HEALTH_UP;
        assert_int_equal(cache_writer_publish(w, &svc), 1);
        Map m = map_open(f->path);
        uint64_t file_id = m.h->file_id, inc = map_service(&m, "kept")->incarnation;
        uint32_t gen = map_service(&m, "kept")->generation;
        map_close(&m);
        w = cache_writer_free(w);

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        m = map_open(f->path);
        assert_int_equal(m.h->file_id, file_id);
        assert_int_equal(m.h->flags & DD_FILE_STOPPED, 0);
        assert_int_equal(map_service(&m, "kept")->incarnation, inc);
        assert_int_equal(map_service(&m, "kept")->generation, gen);

        assert_int_equal(cache_writer_sweep(w, count_name, &names), 0);
        assert_int_equal(names, 1);
        assert_int_equal(cache_writer_read_service(w, "kept", collect_backend, got, &st, &last_good), 2);
        assert_int_equal(got[0].port, 2);
        assert_int_equal(st, DD_STATE_STALE);
        assert_int_equal(last_good, 123456);
        for (unsigned i = 0; i < 2; i++) {
                assert_int_equal(got[1 + i].family, b[i].family);
                assert_memory_equal(got[1 + i].addr, b[i].addr, b[i].family == 4 ? 4 : 16);
                assert_int_equal(got[1 + i].port, b[i].port);
                assert_int_equal(got[1 + i].priority, b[i].priority);
                assert_int_equal(got[1 + i].weight, b[i].weight);
                assert_int_equal(got[1 + i].health, b[i].health);
        }
        assert_int_equal(cache_writer_read_service(w, "absent", collect_backend, got, NULL, NULL), -ENOENT);

        /* The adopted copy is what the daemon would publish again: nothing to write. */
        assert_int_equal(cache_writer_publish(w, &svc), 0);
        assert_int_equal(map_service(&m, "kept")->generation, gen);
        map_close(&m);
        w = cache_writer_free(w);
}

static bool keep_even(const char *name, void *userdata) {
        return (name[strlen(name) - 1] - '0') % 2 == 0;
}

static void test_sweep_removes_rejected_services(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        PubBackend b[] = { backend("127.0.0.1", 80, 0, 1, DD_HEALTH_UP, "x") };
        char name[32];
        unsigned names = 0;

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        for (unsigned i = 0; i < 6; i++) {
                PubService svc = service(name_of(name, sizeof name, i), b, 1);
                assert_int_equal(cache_writer_publish(w, &svc), 1);
        }
        assert_int_equal(cache_writer_sweep(w, keep_even, NULL), 3);
        assert_int_equal(cache_writer_sweep(w, count_name, &names), 0);
        assert_int_equal(names, 3);
        Map m = map_open(f->path);
        assert_int_equal(map_live(&m), 3);
        assert_true(map_find(&m, "svc-0000") >= 0);
        assert_int_equal(map_find(&m, "svc-0001"), -1);
        map_close(&m);
}

static void write_file(const char *path, const void *data, size_t size) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, size), (ssize_t) size);
        close(fd);
}

/* After cache_writer_open() replaced whatever was at path: a fresh, empty, valid file. */
static void assert_fresh_file(const char *path) {
        struct stat st;
        assert_int_equal(lstat(path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        Map m = map_open(path);
        assert_int_equal(m.h->version_major, DD_VERSION_MAJOR);
        assert_int_equal(map_live(&m), 0);
        map_close(&m);
}

static void test_corrupt_file_is_replaced(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        char junk[4096];

        memset(junk, 0xa5, sizeof junk);
        write_file(f->path, junk, sizeof junk);
        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_fresh_file(f->path);
}

static void test_other_major_version_is_replaced(void **state) {
        Fixture *f = *state;
        CacheWriter *w = NULL;
        PubBackend b[] = { backend("127.0.0.1", 80, 0, 1, DD_HEALTH_UP, "x") };
        PubService svc = service("old", b, 1);
        uint16_t major = DD_VERSION_MAJOR + 1;

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_int_equal(cache_writer_publish(w, &svc), 1);
        w = cache_writer_free(w);
        int fd = open(f->path, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, &major, sizeof major, offsetof(dd_header, version_major)), sizeof major);
        close(fd);

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_fresh_file(f->path);
        w = cache_writer_free(w);
}

static void test_newer_minor_version_is_replaced_and_flagged(void **state) {
        Fixture *f = *state;
        CacheWriter *w = NULL;
        PubBackend b[] = { backend("127.0.0.1", 80, 0, 1, DD_HEALTH_UP, "x") };
        PubService svc = service("newer", b, 1);
        uint16_t minor = DD_VERSION_MINOR + 1;

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_int_equal(cache_writer_publish(w, &svc), 1);
        w = cache_writer_free(w);
        int fd = open(f->path, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, &minor, sizeof minor, offsetof(dd_header, version_minor)), sizeof minor);
        close(fd);
        Map old = map_open(f->path);
        uint32_t cc = old.h->change_counter;

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_fresh_file(f->path);
        /* Its readers are sent to the path again. */
        assert_int_equal(old.h->flags & DD_FILE_REPLACED, DD_FILE_REPLACED);
        assert_true(old.h->change_counter != cc);
        map_close(&old);
        w = cache_writer_free(w);
}

static void test_adoption_drops_a_slot_left_mid_write(void **state) {
        Fixture *f = *state;
        CacheWriter *w = NULL;
        PubBackend b[] = { backend("127.0.0.1", 80, 0, 1, DD_HEALTH_UP, "x") };
        PubService torn = service("torn", b, 1), whole = service("whole", b, 1);

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_int_equal(cache_writer_publish(w, &torn), 1);
        assert_int_equal(cache_writer_publish(w, &whole), 1);
        w = cache_writer_free(w);

        /* As if the writer had died inside the seqlock. */
        Map m = map_open(f->path);
        int slot = map_find(&m, "torn");
        uint32_t seq = dd_slot(m.p, (uint32_t) slot)->seq + 1;
        uint64_t off = m.h->services_offset + (uint64_t) slot * m.h->service_size + offsetof(dd_service, seq);
        int fd = open(f->path, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, &seq, sizeof seq, (off_t) off), sizeof seq);
        close(fd);

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_int_equal(map_find(&m, "torn"), -1);
        assert_int_equal(dd_slot(m.p, (uint32_t) slot)->seq % 2, 0);
        assert_int_equal(dd_slot(m.p, (uint32_t) slot)->flags & DD_SVC_MOVED, DD_SVC_MOVED);
        assert_true(map_find(&m, "whole") >= 0);
        assert_int_equal(cache_writer_read_service(w, "torn", NULL, NULL, NULL, NULL), -ENOENT);
        assert_int_equal(cache_writer_read_service(w, "whole", NULL, NULL, NULL, NULL), 1);
        map_close(&m);
        w = cache_writer_free(w);
}

static void test_adoption_drops_overlapping_extents(void **state) {
        Fixture *f = *state;
        CacheWriter *w = NULL;
        PubBackend b[] = { backend("127.0.0.1", 80, 0, 1, DD_HEALTH_UP, "first") };
        PubBackend c[] = { backend("127.0.0.2", 90, 0, 1, DD_HEALTH_UP, "second") };
        PubService first = service("first", b, 1), second = service("second", c, 1);

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_int_equal(cache_writer_publish(w, &first), 1);
        assert_int_equal(cache_writer_publish(w, &second), 1);
        w = cache_writer_free(w);

        /* Point the second slot at the first one's extent. */
        Map m = map_open(f->path);
        int slot = map_find(&m, "second");
        uint64_t ext = map_service(&m, "first")->extent_offset;
        uint64_t off = m.h->services_offset + (uint64_t) slot * m.h->service_size + offsetof(dd_service, extent_offset);
        int fd = open(f->path, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, &ext, sizeof ext, (off_t) off), sizeof ext);
        close(fd);

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_true(map_find(&m, "first") >= 0);
        assert_int_equal(map_find(&m, "second"), -1);

        /* Republishing the dropped one must not write over the kept extent. */
        c[0].port = 91;
        assert_int_equal(cache_writer_publish(w, &second), 1);
        const dd_service *s = map_service(&m, "first");
        assert_int_equal(dd_extent_backends(m.p, s->extent_offset)[0].port, 80);
        assert_string_equal((const char *) m.p + s->extent_offset + dd_extent_backends(m.p, s->extent_offset)[0].target_off, "first");
        assert_int_equal(dd_extent_backends(m.p, map_service(&m, "second")->extent_offset)[0].port, 91);
        map_close(&m);
        w = cache_writer_free(w);
}

static void test_symlink_at_path_is_replaced_and_target_untouched(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        char victim[128], buf[64] = {};
        static const char precious[] = "precious data";

        snprintf(victim, sizeof victim, "%s/victim", f->dir);
        write_file(victim, precious, sizeof precious);
        assert_int_equal(symlink(victim, f->path), 0);

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_fresh_file(f->path);

        int fd = open(victim, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(read(fd, buf, sizeof buf), sizeof precious);
        close(fd);
        assert_memory_equal(buf, precious, sizeof precious);
}

static void test_file_of_another_owner_is_replaced(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        struct stat st;

        if (geteuid() != 0)
                skip(); /* needs chown */
        assert_int_equal(cache_writer_open(f->path, &w), 0);
        w = cache_writer_free(w);
        assert_int_equal(chown(f->path, 65534, 65534), 0);

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_int_equal(stat(f->path, &st), 0);
        assert_int_equal(st.st_uid, geteuid());
        assert_fresh_file(f->path);
}

static void test_second_writer_is_ebusy(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        CacheWriter *w2 = (CacheWriter *) 0x1;

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_int_equal(cache_writer_open(f->path, &w2), -EBUSY);
        assert_ptr_equal(w2, (CacheWriter *) 0x1); /* untouched on failure */
}

static void test_free_sets_stopped_and_heartbeat(void **state) {
        Fixture *f = *state;
        CacheWriter *w = NULL;

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        Map m = map_open(f->path);
        uint32_t cc = m.h->change_counter;
        assert_int_equal(m.h->flags & DD_FILE_STOPPED, 0);

        int64_t before = (int64_t) now_usec(CLOCK_REALTIME);
        assert_int_equal(cache_writer_heartbeat(w), 0);
        assert_true(m.h->heartbeat_usec >= before);
        assert_int_equal(m.h->writer_pid, (uint32_t) getpid());

        cache_writer_count(w, DD_DCTR_RELOADS, 3);
        cache_writer_count(w, DD_DCTR_SLOTS, 1); /* out of range: ignored */
        assert_int_equal(m.h->counters[DD_DCTR_RELOADS], 3);

        before = (int64_t) now_usec(CLOCK_REALTIME);
        assert_null(cache_writer_free(w));
        assert_int_equal(m.h->flags & DD_FILE_STOPPED, DD_FILE_STOPPED);
        assert_true(m.h->heartbeat_usec >= before);
        assert_true(m.h->change_counter != cc);
        assert_null(cache_writer_free(NULL));
        map_close(&m);
}

static void test_file_mode_is_0644(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        struct stat st;
        mode_t old = umask(077);

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        umask(old);
        assert_int_equal(stat(f->path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
        assert_int_equal(st.st_uid, geteuid());
}

static void test_invalid_publish_is_rejected_and_changes_nothing(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        PubBackend b[] = { backend("127.0.0.1", 80, 0, 1, DD_HEALTH_UP, "x") };
        PubService svc = service("fine", b, 1);
        char long_name[DD_NAME_MAX + 1];

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_int_equal(cache_writer_publish(w, &svc), 1);
        Map m = map_open(f->path);
        uint32_t seq = map_service(&m, "fine")->seq;

        b[0].family = 5;
        assert_int_equal(cache_writer_publish(w, &svc), -EINVAL);
        b[0].family = 4;
        svc.n_backends = DD_BACKENDS_MAX + 1;
        assert_int_equal(cache_writer_publish(w, &svc), -EINVAL);
        svc.n_backends = 1;
        svc.state = _DD_STATE_MAX;
        assert_int_equal(cache_writer_publish(w, &svc), -EINVAL);
        svc.state = DD_STATE_OK;
        memset(long_name, 'n', sizeof long_name - 1);
        long_name[sizeof long_name - 1] = '\0';
        svc.name = long_name;
        assert_int_equal(cache_writer_publish(w, &svc), -ENAMETOOLONG);

        assert_int_equal(map_service(&m, "fine")->seq, seq);
        assert_int_equal(map_live(&m), 1);
        map_close(&m);
}

int main(void) {
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
        const struct CMUnitTest tests[] = {
                T(test_publish_round_trips_every_field),
                T(test_schedule_and_eligible_match_the_backends),
                T(test_unchanged_republish_writes_nothing),
                T(test_ttl_and_counter_change_updates_without_generation_bump),
                T(test_health_change_bumps_generation),
                T(test_batching_wakes_file_waiters_at_flush_not_at_publish),
                T(test_panic_flag_and_schedule_follow_the_option),
                T(test_remove_marks_slot_moved_and_slot_is_reused),
                T(test_growth_past_slots_replaces_the_file),
                T(test_growth_past_heap_replaces_the_file),
                T(test_lookup_by_name_survives_removals_among_many_services),
                T(test_reserve_sizes_the_file_once_for_the_services_to_come),
                T(test_adoption_keeps_services_and_generations),
                T(test_sweep_removes_rejected_services),
                T(test_corrupt_file_is_replaced),
                T(test_other_major_version_is_replaced),
                T(test_newer_minor_version_is_replaced_and_flagged),
                T(test_adoption_drops_a_slot_left_mid_write),
                T(test_adoption_drops_overlapping_extents),
                T(test_symlink_at_path_is_replaced_and_target_untouched),
                T(test_file_of_another_owner_is_replaced),
                T(test_second_writer_is_ebusy),
                T(test_free_sets_stopped_and_heartbeat),
                T(test_file_mode_is_0644),
                T(test_invalid_publish_is_rejected_and_changes_nothing),
        };
#undef T

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
