/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-cache-writer.c: daemon/cache-writer.c, the publish API and its write protocol, read back as readers see it. */
#include "cache-writer-lib.h"

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

static void test_unchanged_republish_writes_nothing(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        PubBackend b[] = { backend("127.0.0.1", 80, 0, 1, DD_HEALTH_UP, "x") };
        PubService svc = service("same", b, 1);

        Map m = publish_new(f->path, &svc, &w);
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
        Map m = publish_new(f->path, &svc, &w);
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

        Map m = publish_new(f->path, &svc, &w);
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

static void test_remove_marks_slot_moved_and_slot_is_reused(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        PubBackend b[] = { backend("127.0.0.1", 80, 0, 1, DD_HEALTH_UP, "x") };
        PubService one = service("one", b, 1), two = service("two", b, 1);

        Map m = publish_new(f->path, &one, &w);
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

static void test_free_sets_stopped_and_heartbeat(void **state) {
        Fixture *f = *state;
        CacheWriter *w = NULL;

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        Map m = map_open(f->path);
        uint32_t cc = m.h->change_counter;
        assert_int_equal(m.h->flags & DD_FILE_STOPPED, 0);

        int64_t before = (int64_t) now_usec(CLOCK_REALTIME), boot_before = (int64_t) now_usec(CLOCK_BOOTTIME);
        assert_int_equal(cache_writer_heartbeat(w), 0);
        assert_true(m.h->heartbeat_usec >= before);
        /* Both clocks at each heartbeat: the boot clock is what 1.2 readers judge by. */
        assert_true(m.h->heartbeat_boot_usec >= boot_before);
        assert_true(m.h->heartbeat_boot_usec <= (int64_t) now_usec(CLOCK_BOOTTIME));
        assert_int_equal(m.h->writer_pid, (uint32_t) getpid());

        cache_writer_count(w, DD_DCTR_RELOADS, 3);
        cache_writer_count(w, DD_DCTR_SLOTS, 1); /* out of range: ignored */
        assert_int_equal(m.h->counters[DD_DCTR_RELOADS], 3);

        before = (int64_t) now_usec(CLOCK_REALTIME);
        boot_before = (int64_t) now_usec(CLOCK_BOOTTIME);
        assert_null(cache_writer_free(w));
        assert_int_equal(m.h->flags & DD_FILE_STOPPED, DD_FILE_STOPPED);
        assert_true(m.h->heartbeat_usec >= before);
        assert_true(m.h->heartbeat_boot_usec >= boot_before);
        assert_true(m.h->change_counter != cc);
        assert_null(cache_writer_free(NULL));
        map_close(&m);
}

static void test_invalid_publish_is_rejected_and_changes_nothing(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        PubBackend b[] = { backend("127.0.0.1", 80, 0, 1, DD_HEALTH_UP, "x") };
        PubService svc = service("fine", b, 1);
        char long_name[DD_NAME_MAX + 1];

        Map m = publish_new(f->path, &svc, &w);
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
                T(test_unchanged_republish_writes_nothing),
                T(test_ttl_and_counter_change_updates_without_generation_bump),
                T(test_batching_wakes_file_waiters_at_flush_not_at_publish),
                T(test_health_change_bumps_generation),
                T(test_remove_marks_slot_moved_and_slot_is_reused),
                T(test_free_sets_stopped_and_heartbeat),
                T(test_invalid_publish_is_rejected_and_changes_nothing),
        };
#undef T

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
