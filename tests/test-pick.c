/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-pick.c: libdnsdisc read back against daemon/cache-writer.c: picks, quarantine, snapshots, waiting. */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sys/wait.h>

#include "client-fixture.h"

/* The host byte of an endpoint of set k (10.k.0.host), checking it is one. */
static unsigned host_in(const dnsdisc_endpoint *e, unsigned k) {
        assert_int_equal(e->addrlen, sizeof(struct sockaddr_in));
        assert_int_equal(set_of(e), k);
        assert_int_equal(e->port, 1000 + k);
        assert_int_equal(ntohs(e->addr.sin.sin_port), 1000 + k);
        return host_of(e);
}

static void test_snapshot_round_trips_every_field(void **state) {
        Fixture *f = *state;
        uint64_t counters[_DD_SCTR_MAX] = { 0 };
        PubBackend b[3] = {
                { .family = 4, .addr = { 192, 0, 2, 7 }, .port = 8080, .priority = 10, .weight = 5,
                  .source = DD_SOURCE_SRV, .health = DD_HEALTH_UP, .target = "web1.example.org",
                  .ttl_expiry_usec = 1700000000123456, .checks = 42, .check_failures = 3, .last_latency_usec = 1234,
                  .consecutive_ok = 7, .consecutive_fail = 0, .last_check_usec = 1700000000000001,
                  .check_error = DD_ERR_NONE },
                { .family = 6, .addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 9 }, .port = 443, .priority = 10, .weight = 0,
                  .source = DD_SOURCE_SRV, .health = DD_HEALTH_DOWN, .target = "web2.example.org",
                  .ttl_expiry_usec = 1700000000999999, .checks = 9, .check_failures = 9, .last_latency_usec = 0,
                  .consecutive_ok = 0, .consecutive_fail = 9, .last_check_usec = 1700000000000002,
                  .check_error = DD_ERR_CONNREFUSED },
                { .family = 4, .addr = { 198, 51, 100, 1 }, .port = 1, .priority = 20, .weight = 65535,
                  .source = DD_SOURCE_SRV, .health = DD_HEALTH_UNKNOWN, .target = "" },
        };
        PubService svc = { .name = "api", .query = "_http._tcp.api.example.org", .srv = true, .state = DD_STATE_STALE,
                           .last_error = DD_ERR_SERVFAIL, .last_good_usec = 1700000000000100,
                           .next_refresh_usec = 1700000000000200, .backends = b, .n_backends = 3,
                           .counters = counters };
        dnsdisc_backend out[DNSDISC_BACKENDS_MAX];
        dnsdisc_service_info info;
        dnsdisc *d;
        dnsdisc_service *s;
        int n;

        assert_int_equal(cache_writer_publish(f->w, &svc), 1);
        d = open_reader(f);
        s = lookup(d, "api");
        n = dnsdisc_snapshot(s, &info, out, ELEMENTSOF(out));
        assert_int_equal(n, 3);

        assert_string_equal(info.name, "api");
        assert_string_equal(info.query, "_http._tcp.api.example.org");
        assert_int_equal(info.state, DNSDISC_STATE_STALE);
        assert_int_equal(info.flags & DNSDISC_SERVICE_SRV, DNSDISC_SERVICE_SRV);
        assert_int_equal(info.flags & DNSDISC_SERVICE_PANIC, 0);
        assert_int_equal(info.last_error, DD_ERR_SERVFAIL);
        assert_int_equal(info.n_backends, 3);
        assert_int_equal(info.n_healthy, 1);
        assert_int_equal(info.n_scheduled, 1); /* only the healthy one of the lowest priority */
        assert_int_equal(info.last_good_usec, 1700000000000100);
        assert_int_equal(info.next_refresh_usec, 1700000000000200);
        assert_true(info.changed_usec > 0);
        assert_int_equal(info.generation, dnsdisc_generation(s));

        for (int i = 0; i < n; i++) {
                const PubBackend *p = &b[i];
                const dnsdisc_backend *o = &out[i];

                if (p->family == 4) {
                        assert_int_equal(o->addr.sa.sa_family, AF_INET);
                        assert_int_equal(o->addrlen, sizeof(struct sockaddr_in));
                        assert_memory_equal(&o->addr.sin.sin_addr, p->addr, 4);
                        assert_int_equal(ntohs(o->addr.sin.sin_port), p->port);
                } else {
                        assert_int_equal(o->addr.sa.sa_family, AF_INET6);
                        assert_int_equal(o->addrlen, sizeof(struct sockaddr_in6));
                        assert_memory_equal(&o->addr.sin6.sin6_addr, p->addr, 16);
                        assert_int_equal(ntohs(o->addr.sin6.sin6_port), p->port);
                }
                assert_int_equal(o->port, p->port);
                assert_int_equal(o->priority, p->priority);
                assert_int_equal(o->weight, p->weight);
                assert_int_equal(o->health, p->health);
                assert_int_equal(o->source, p->source);
                assert_int_equal(o->scheduled, i == 0);
                assert_int_equal(o->ttl_expiry_usec, p->ttl_expiry_usec);
                assert_int_equal(o->checks, p->checks);
                assert_int_equal(o->check_failures, p->check_failures);
                assert_int_equal(o->last_latency_usec, p->last_latency_usec);
                assert_int_equal(o->consecutive_ok, p->consecutive_ok);
                assert_int_equal(o->consecutive_fail, p->consecutive_fail);
                assert_int_equal(o->last_check_usec, p->last_check_usec);
                assert_int_equal(o->check_error, p->check_error);
                assert_string_equal(o->target, p->target);
        }
        dnsdisc_close(d);
}

static void test_service_info_matches_snapshot(void **state) {
        Fixture *f = *state;
        dnsdisc_service_info a, b;
        dnsdisc_backend out[4];
        dnsdisc *d;
        dnsdisc_service *s;

        s = open_web(f, 1, 3, &d);
        assert_int_equal(dnsdisc_service_info_get(s, &a), 0);
        assert_int_equal(dnsdisc_snapshot(s, &b, out, 4), 3);
        assert_memory_equal(&a, &b, sizeof a);
        assert_int_equal(a.n_backends, 3);
        dnsdisc_close(d);
}

static void test_snapshot_too_small_returns_enobufs(void **state) {
        Fixture *f = *state;
        dnsdisc_backend out[2];
        dnsdisc_service_info info;
        Set set;
        dnsdisc *d;

        set_init(&set, "web", 1, 3);
        publish_to(f->w, &set);
        d = open_reader(f);
        memset(&info, 0x5a, sizeof info);
        assert_int_equal(dnsdisc_snapshot(lookup(d, "web"), &info, out, 2), -ENOBUFS);
        assert_int_equal(((uint8_t *) &info)[0], 0x5a); /* untouched */
        dnsdisc_close(d);
}

static void test_pick_follows_weights_1_3_exactly_per_cycle(void **state) {
        Fixture *f = *state;
        const uint16_t w[2] = { 1, 3 };
        unsigned count[3] = { 0 };
        dnsdisc_endpoint e;
        Set set;
        dnsdisc *d;
        dnsdisc_service *s;

        set_init_weighted(&set, "web", 2, 2, w);
        s = publish_and_open(f, &set, &d);
        /* Every window of one cycle (4 picks), wherever this thread started, holds 1 of A and 3 of B. */
        for (unsigned cycle = 0; cycle < 50; cycle++) {
                unsigned c[3] = { 0 };

                for (unsigned i = 0; i < 4; i++) {
                        assert_int_equal(dnsdisc_pick(s, &e), 0);
                        c[host_in(&e, 2)]++;
                        count[host_in(&e, 2)]++;
                }
                assert_int_equal(c[1], 1);
                assert_int_equal(c[2], 3);
        }
        assert_int_equal(count[1], 50);
        assert_int_equal(count[2], 150);
        dnsdisc_close(d);
}

static void test_pick_fills_private_fields(void **state) {
        Fixture *f = *state;
        dnsdisc_backend out[4];
        dnsdisc_endpoint e;
        Set set;
        dnsdisc *d;
        dnsdisc_service *s;

        set_init(&set, "web", 3, 3);
        s = publish_and_open(f, &set, &d);
        assert_int_equal(dnsdisc_snapshot(s, NULL, out, 4), 3);
        assert_int_equal(dnsdisc_pick(s, &e), 0);
        assert_ptr_equal(e._service, s);
        assert_true(e._backend < 3);
        assert_int_equal(e._generation, dnsdisc_generation(s));
        assert_memory_equal(&e.addr, &out[e._backend].addr, sizeof(struct sockaddr_in));
        assert_int_equal(e._key, dd_endpoint_key(4, set.b[e._backend].addr, set.b[e._backend].port));
        dnsdisc_close(d);
}

/* Children started together open the cache and report their first pick: not all the same. */
static void test_pick_start_differs_between_processes(void **state) {
        Fixture *f = *state;
        enum { CHILDREN = 8 };
        unsigned first[CHILDREN];
        bool all_same = true;
        int fds[2];
        Set set;

        set_init(&set, "web", 4, 8);
        publish_to(f->w, &set);
        assert_int_equal(pipe(fds), 0);
        for (unsigned i = 0; i < CHILDREN; i++) {
                pid_t pid = fork();

                assert_true(pid >= 0);
                if (pid == 0) {
                        dnsdisc_service *s;
                        dnsdisc_endpoint e;
                        dnsdisc *d;
                        uint8_t host = 0;

                        if (dnsdisc_open(f->path, &d) == 0 && dnsdisc_service_get(d, "web", &s) == 0 &&
                            dnsdisc_pick(s, &e) == 0)
                                host = (uint8_t) (ntohl(e.addr.sin.sin_addr.s_addr) & 0xff);
                        _exit(write(fds[1], &host, 1) == 1 ? 0 : 1);
                }
        }
        close(fds[1]);
        for (unsigned i = 0; i < CHILDREN; i++) {
                uint8_t host;
                int status;

                assert_int_equal(read(fds[0], &host, 1), 1);
                assert_true(host >= 1 && host <= 8);
                first[i] = host;
                assert_true(wait(&status) > 0);
                assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        close(fds[0]);
        for (unsigned i = 1; i < CHILDREN; i++)
                all_same = all_same && first[i] == first[0];
        assert_false(all_same);
}

typedef struct Starter {
        dnsdisc_service *s;
        pthread_barrier_t *barrier;
        unsigned host;
} Starter;

static void *first_pick_thread(void *arg) {
        Starter *st = arg;
        dnsdisc_endpoint e;

        /* All alive at once: each has its own thread-local cursors. */
        pthread_barrier_wait(st->barrier);
        if (dnsdisc_pick(st->s, &e) == 0)
                st->host = ntohl(e.addr.sin.sin_addr.s_addr) & 0xff;
        pthread_barrier_wait(st->barrier);
        return NULL;
}

static void test_pick_start_differs_between_threads(void **state) {
        Fixture *f = *state;
        enum { THREADS = 8 };
        Starter st[THREADS];
        pthread_t t[THREADS];
        pthread_barrier_t barrier;
        bool all_same = true;
        dnsdisc *d;
        dnsdisc_service *s;

        s = open_web(f, 4, 8, &d);
        assert_int_equal(pthread_barrier_init(&barrier, NULL, THREADS), 0);
        for (unsigned i = 0; i < THREADS; i++) {
                st[i] = (Starter) { .s = s, .barrier = &barrier };
                assert_int_equal(pthread_create(&t[i], NULL, first_pick_thread, &st[i]), 0);
        }
        for (unsigned i = 0; i < THREADS; i++)
                assert_int_equal(pthread_join(t[i], NULL), 0);
        pthread_barrier_destroy(&barrier);
        for (unsigned i = 0; i < THREADS; i++)
                assert_true(st[i].host >= 1 && st[i].host <= 8);
        for (unsigned i = 1; i < THREADS; i++)
                all_same = all_same && st[i].host == st[0].host;
        assert_false(all_same);
        dnsdisc_close(d);
}

static void test_pick_without_backend_returns_ehostunreach(void **state) {
        Fixture *f = *state;
        dnsdisc_endpoint e;
        Set empty, down;
        dnsdisc *d;

        set_init(&empty, "empty", 5, 0);
        publish_to(f->w, &empty);
        set_init(&down, "down", 6, 2);
        down.b[0].health = down.b[1].health = DD_HEALTH_DOWN;
        down.svc.panic = false;
        publish_to(f->w, &down);
        d = open_reader(f);
        memset(&e, 0x5a, sizeof e);
        assert_int_equal(dnsdisc_pick(lookup(d, "empty"), &e), -EHOSTUNREACH);
        assert_int_equal(dnsdisc_pick_random(lookup(d, "empty"), &e), -EHOSTUNREACH);
        assert_int_equal(dnsdisc_pick(lookup(d, "down"), &e), -EHOSTUNREACH);
        assert_int_equal(dnsdisc_pick_random(lookup(d, "down"), &e), -EHOSTUNREACH);
        assert_int_equal(((uint8_t *) &e)[0], 0x5a);
        dnsdisc_close(d);
}

static void test_pick_in_panic_returns_down_backends(void **state) {
        Fixture *f = *state;
        dnsdisc_service_info info;
        dnsdisc_endpoint e;
        Set down;
        dnsdisc *d;
        dnsdisc_service *s;

        set_init(&down, "down", 6, 2);
        down.b[0].health = down.b[1].health = DD_HEALTH_DOWN;
        down.svc.panic = true;
        s = publish_and_open(f, &down, &d);
        assert_int_equal(dnsdisc_service_info_get(s, &info), 0);
        assert_true(info.flags & DNSDISC_SERVICE_PANIC);
        assert_int_equal(dnsdisc_pick(s, &e), 0);
        host_in(&e, 6);
        dnsdisc_close(d);
}

static void test_service_unknown_returns_esrch(void **state) {
        Fixture *f = *state;
        char longname[300];
        dnsdisc_service *s = NULL;
        Set set;
        dnsdisc *d;

        set_init(&set, "web", 1, 1);
        publish_to(f->w, &set);
        d = open_reader(f);
        assert_int_equal(dnsdisc_service_get(d, "nope", &s), -ESRCH);
        memset(longname, 'a', sizeof longname - 1);
        longname[sizeof longname - 1] = 0;
        assert_int_equal(dnsdisc_service_get(d, longname, &s), -ESRCH);
        assert_null(s);
        dnsdisc_close(d);
}

static void test_service_same_name_returns_same_handle(void **state) {
        Fixture *f = *state;
        Set set;
        dnsdisc *d;

        set_init(&set, "web", 1, 1);
        publish_to(f->w, &set);
        d = open_reader(f);
        assert_ptr_equal(lookup(d, "web"), lookup(d, "web"));
        dnsdisc_close(d);
}

static void test_pick_after_service_removed_returns_esrch(void **state) {
        Fixture *f = *state;
        dnsdisc_service_info info;
        dnsdisc_endpoint e;
        Set set;
        dnsdisc *d;
        dnsdisc_service *s, *again;

        set_init(&set, "web", 1, 2);
        s = publish_and_open(f, &set, &d);
        assert_int_equal(dnsdisc_pick(s, &e), 0);
        assert_int_equal(cache_writer_remove(f->w, "web"), 0);
        assert_int_equal(dnsdisc_pick(s, &e), -ESRCH);
        assert_int_equal(dnsdisc_pick_random(s, &e), -ESRCH);
        assert_int_equal(dnsdisc_service_info_get(s, &info), -ESRCH);
        assert_int_equal(dnsdisc_service_get(d, "web", &again), -ESRCH);

        /* Published again: the same handle finds it. */
        set_init(&set, "web", 7, 2);
        publish_to(f->w, &set);
        assert_int_equal(dnsdisc_pick(s, &e), 0);
        host_in(&e, 7);
        dnsdisc_close(d);
}

static void test_pick_follows_set_changes(void **state) {
        Fixture *f = *state;
        dnsdisc_endpoint e;
        Set set;
        dnsdisc *d;
        dnsdisc_service *s;

        set_init(&set, "web", 1, 3);
        s = publish_and_open(f, &set, &d);
        for (unsigned k = 1; k < 20; k++) {
                set_init(&set, "web", k, 1 + k % 5);
                publish_to(f->w, &set);
                for (unsigned i = 0; i < 12; i++) {
                        assert_int_equal(dnsdisc_pick(s, &e), 0);
                        assert_true(host_in(&e, k) <= 1 + k % 5);
                        assert_int_equal(dnsdisc_pick_random(s, &e), 0);
                        assert_true(host_in(&e, k) <= 1 + k % 5);
                }
        }
        dnsdisc_close(d);
}

static void test_pick_follows_file_replaced_by_growth(void **state) {
        Fixture *f = *state;
        dnsdisc_daemon_info before, after;
        char names[200][16];
        dnsdisc_endpoint e;
        Set set, other;
        dnsdisc *d;
        dnsdisc_service *s;
        struct stat st0, st1;

        set_init(&set, "web", 1, 3);
        publish_to(f->w, &set);
        assert_int_equal(stat(f->path, &st0), 0);
        d = open_reader(f);
        s = lookup(d, "web");
        assert_int_equal(dnsdisc_pick(s, &e), 0);
        host_in(&e, 1);
        assert_int_equal(dnsdisc_daemon_info_get(d, &before), 0);

        /* More services than the file has slots: the writer grows it through a new file. */
        for (unsigned i = 0; i < ELEMENTSOF(names); i++) {
                snprintf(names[i], sizeof names[i], "svc%u", i);
                set_init(&other, names[i], 2, 4);
                publish_to(f->w, &other);
        }
        assert_int_equal(stat(f->path, &st1), 0);
        assert_true(st1.st_ino != st0.st_ino);

        set_init(&set, "web", 9, 2);
        publish_to(f->w, &set);
        for (unsigned i = 0; i < 10; i++) {
                assert_int_equal(dnsdisc_pick(s, &e), 0);
                host_in(&e, 9);
        }
        assert_int_equal(dnsdisc_daemon_info_get(d, &after), 0);
        assert_int_equal(before.n_services, 1);
        assert_int_equal(after.n_services, 1 + ELEMENTSOF(names));
        assert_int_equal(dnsdisc_pick(lookup(d, "svc150"), &e), 0);
        host_in(&e, 2);
        dnsdisc_close(d);
}

static void test_service_next_iterates_live_services(void **state) {
        Fixture *f = *state;
        const char *names[] = { "alpha", "beta", "gamma" };
        bool seen[3] = { false };
        dnsdisc_service_info info;
        dnsdisc_service *s;
        size_t cursor = 0;
        unsigned n = 0;
        Set set;
        dnsdisc *d;
        int r;

        for (unsigned i = 0; i < 3; i++) {
                set_init(&set, names[i], i, 1);
                publish_to(f->w, &set);
        }
        assert_int_equal(cache_writer_remove(f->w, "beta"), 0);
        d = open_reader(f);
        while ((r = dnsdisc_service_next(d, &cursor, &s)) > 0) {
                assert_int_equal(dnsdisc_service_info_get(s, &info), 0);
                for (unsigned i = 0; i < 3; i++)
                        if (streq(info.name, names[i])) {
                                assert_false(seen[i]);
                                seen[i] = true;
                        }
                assert_ptr_equal(s, lookup(d, info.name));
                assert_true(++n <= 3);
        }
        assert_int_equal(r, 0);
        assert_int_equal(n, 2);
        assert_true(seen[0] && !seen[1] && seen[2]);
        assert_int_equal(dnsdisc_service_next(d, &cursor, &s), 0);
        dnsdisc_close(d);
}

/* Distinct hosts returned by n picks. */
static unsigned pick_hosts(dnsdisc_service *s, unsigned k, unsigned n, bool random, bool seen[FIXTURE_MAXB + 1]) {
        dnsdisc_endpoint e;
        unsigned distinct = 0;

        memset(seen, 0, (FIXTURE_MAXB + 1) * sizeof(bool));
        for (unsigned i = 0; i < n; i++) {
                unsigned h;

                assert_int_equal(random ? dnsdisc_pick_random(s, &e) : dnsdisc_pick(s, &e), 0);
                h = host_in(&e, k);
                if (!seen[h])
                        distinct++;
                seen[h] = true;
        }
        return distinct;
}

static dnsdisc_endpoint pick_host(dnsdisc_service *s, unsigned k, unsigned host) {
        dnsdisc_endpoint e;

        for (unsigned i = 0; i < 64; i++) {
                assert_int_equal(dnsdisc_pick(s, &e), 0);
                if (host_in(&e, k) == host)
                        return e;
        }
        fail_msg("host %u never picked", host);
        return e;
}

static void test_pick_skips_quarantined_endpoint(void **state) {
        Fixture *f = *state;
        bool seen[FIXTURE_MAXB + 1];
        dnsdisc_endpoint e;
        dnsdisc *d;
        dnsdisc_service *s;

        fixture_clock_start(1000000000);
        s = open_web(f, 1, 3, &d);
        e = pick_host(s, 1, 2);
        assert_int_equal(dnsdisc_report_failure(&e), 0);
        assert_int_equal(pick_hosts(s, 1, 30, false, seen), 2);
        assert_false(seen[2]);
        assert_int_equal(pick_hosts(s, 1, 30, true, seen), 2);
        assert_false(seen[2]);

        /* A second failure during the quarantine is the same incident: still 1 s. */
        assert_int_equal(dnsdisc_report_failure(&e), 0);
        fixture_now += 999999;
        pick_hosts(s, 1, 30, false, seen);
        assert_false(seen[2]);
        fixture_now += 2;
        assert_int_equal(pick_hosts(s, 1, 30, false, seen), 3);
        dnsdisc_close(d);
}

static void test_quarantine_doubles_up_to_30_s(void **state) {
        Fixture *f = *state;
        const uint64_t expect[] = { 1, 2, 4, 8, 16, 30, 30 };
        bool seen[FIXTURE_MAXB + 1];
        dnsdisc_endpoint e;
        dnsdisc *d;
        dnsdisc_service *s;

        fixture_clock_start(5000000000);
        s = open_web(f, 1, 3, &d);
        e = pick_host(s, 1, 3);
        for (unsigned i = 0; i < ELEMENTSOF(expect); i++) {
                assert_int_equal(dnsdisc_report_failure(&e), 0);
                fixture_now += expect[i] * USEC_PER_SEC - 1;
                pick_hosts(s, 1, 20, false, seen);
                assert_false(seen[3]);
                fixture_now += 1;
                assert_int_equal(pick_hosts(s, 1, 20, false, seen), 3);
        }
        dnsdisc_close(d);
}

static void test_report_success_clears_quarantine(void **state) {
        Fixture *f = *state;
        bool seen[FIXTURE_MAXB + 1];
        dnsdisc_endpoint e;
        dnsdisc *d;
        dnsdisc_service *s;

        fixture_clock_start(7000000000);
        s = open_web(f, 1, 3, &d);
        e = pick_host(s, 1, 1);
        assert_int_equal(dnsdisc_report_failure(&e), 0);
        fixture_now += 1000000; /* expired: the next failure would double */
        assert_int_equal(dnsdisc_report_failure(&e), 0);
        pick_hosts(s, 1, 20, false, seen);
        assert_false(seen[1]);
        assert_int_equal(dnsdisc_report_success(&e), 0);
        assert_int_equal(pick_hosts(s, 1, 20, false, seen), 3);
        /* Cleared, not merely lifted: the next failure starts over at 1 s. */
        assert_int_equal(dnsdisc_report_failure(&e), 0);
        fixture_now += 1000000;
        assert_int_equal(pick_hosts(s, 1, 20, false, seen), 3);
        dnsdisc_close(d);
}

static void test_pick_when_all_quarantined_ignores_quarantine(void **state) {
        Fixture *f = *state;
        bool seen[FIXTURE_MAXB + 1];
        dnsdisc_endpoint e;
        dnsdisc *d;
        dnsdisc_service *s;

        fixture_clock_start(9000000000);
        s = open_web(f, 1, 3, &d);
        for (unsigned h = 1; h <= 3; h++) {
                e = pick_host(s, 1, h);
                assert_int_equal(dnsdisc_report_failure(&e), 0);
        }
        assert_int_equal(pick_hosts(s, 1, 30, false, seen), 3);
        assert_int_equal(pick_hosts(s, 1, 60, true, seen), 3);
        dnsdisc_close(d);
}

static void test_quarantine_full_evicts_soonest_ending(void **state) {
        Fixture *f = *state;
        bool seen[FIXTURE_MAXB + 1];
        dnsdisc_endpoint e;
        dnsdisc *d;
        dnsdisc_service *s;

        fixture_clock_start(11000000000);
        s = open_web(f, 1, FIXTURE_MAXB, &d);
        /* More failed endpoints than quarantine entries: the earliest to end make room. */
        for (unsigned h = 1; h <= FIXTURE_MAXB; h++) {
                e = pick_host(s, 1, h);
                assert_int_equal(dnsdisc_report_failure(&e), 0);
                fixture_now += 1000;
        }
        assert_int_equal(pick_hosts(s, 1, 200, false, seen), FIXTURE_MAXB - DD_QUARANTINE_SLOTS);
        for (unsigned h = 1; h <= FIXTURE_MAXB - DD_QUARANTINE_SLOTS; h++)
                assert_true(seen[h]);
        dnsdisc_close(d);
}

static void test_pick_random_follows_weights(void **state) {
        Fixture *f = *state;
        enum { N = 40000, UP = 4 };
        unsigned count[FIXTURE_MAXB + 1] = { 0 };
        const uint16_t w[6] = { 1, 9, 1, 1, 5, 5 };
        dnsdisc_endpoint e;
        double chi2 = 0;
        Set set;
        dnsdisc *d;
        dnsdisc_service *s;

        set_init_weighted(&set, "web", 1, 6, w);
        set.b[4].health = set.b[5].health = DD_HEALTH_DOWN;
        s = publish_and_open(f, &set, &d);
        dd_random_seed(42);
        for (unsigned i = 0; i < N; i++) {
                assert_int_equal(dnsdisc_pick_random(s, &e), 0);
                count[host_in(&e, 1)]++;
        }
        assert_int_equal(count[5] + count[6], 0);
        for (unsigned h = 1; h <= UP; h++) {
                double expect = (double) N * w[h - 1] / 12;
                chi2 += pow((double) count[h] - expect, 2) / expect;
        }
        /* 3 degrees of freedom: P(chi2 > 16.27) = 0.001. */
        assert_true(chi2 < 16.27);
        dnsdisc_close(d);
}

/* SRV weights 60/30/10 where the first target has an A and an AAAA record: which target an
 * endpoint of dual_stack_set() belongs to (0, 1, 2), and for target 0 which address (via *ret_v6). */
static unsigned dual_stack_target(const dnsdisc_endpoint *e, bool *ret_v6) {
        *ret_v6 = e->addr.sa.sa_family == AF_INET6;
        if (*ret_v6)
                return 0;
        assert_int_equal(e->addr.sa.sa_family, AF_INET);
        unsigned host = ntohl(e->addr.sin.sin_addr.s_addr) & 0xff;
        assert_true(host >= 1 && host <= 3);
        return host - 1;
}

static void dual_stack_set(Set *set) {
        const uint16_t w[4] = { 60, 60, 30, 10 };
        set_init_weighted(set, "web", 1, 4, w);
        for (size_t i = 0; i < 4; i++)
                set->b[i].source = DD_SOURCE_SRV;
        /* b[0] and b[1]: the two addresses of one record (target, port, priority, weight). */
        set->b[1].family = 6;
        memset(set->b[1].addr, 0, 16);
        set->b[1].addr[0] = 0xfd;
        set->b[1].addr[15] = 1;
        strcpy(set->targets[1], set->targets[0]);
        set->b[2].addr[3] = 2;
        set->b[3].addr[3] = 3;
}

static void test_pick_gives_srv_records_their_weight_with_a_dual_stack_target(void **state) {
        Fixture *f = *state;
        unsigned by_target[3] = { 0 }, v6 = 0;
        dnsdisc_endpoint e;
        Set set;
        bool is_v6;

        dual_stack_set(&set);
        dnsdisc *d;
        dnsdisc_service *s = publish_and_open(f, &set, &d);
        /* 100 cycles of the 10-slot schedule: exact. */
        for (unsigned i = 0; i < 1000; i++) {
                assert_int_equal(dnsdisc_pick(s, &e), 0);
                by_target[dual_stack_target(&e, &is_v6)]++;
                v6 += is_v6;
        }
        assert_int_equal(by_target[0], 600);
        assert_int_equal(by_target[1], 300);
        assert_int_equal(by_target[2], 100);
        assert_int_equal(v6, 300);
        dnsdisc_close(d);
}

static void test_pick_random_gives_srv_records_their_weight_with_a_dual_stack_target(void **state) {
        Fixture *f = *state;
        enum { N = 100000 };
        const double share[3] = { 0.6, 0.3, 0.1 };
        unsigned by_target[3] = { 0 }, v6 = 0;
        dnsdisc_endpoint e;
        double chi2 = 0;
        Set set;
        bool is_v6;

        dual_stack_set(&set);
        dnsdisc *d;
        dnsdisc_service *s = publish_and_open(f, &set, &d);
        dd_random_seed(42);
        for (unsigned i = 0; i < N; i++) {
                assert_int_equal(dnsdisc_pick_random(s, &e), 0);
                by_target[dual_stack_target(&e, &is_v6)]++;
                v6 += is_v6;
        }
        for (unsigned t = 0; t < 3; t++)
                chi2 += pow(by_target[t] - N * share[t], 2) / (N * share[t]);
        /* 2 degrees of freedom: P(chi2 > 13.82) = 0.001. Before the split: 75/19/6, chi2 in the thousands. */
        assert_true(chi2 < 13.82);
        /* The record's share, halved between its addresses. */
        assert_true(fabs((double) v6 - N * 0.3) < 5 * sqrt(N * 0.3 * 0.7));
        dnsdisc_close(d);
}

static void test_endpoint_target_valid_then_estale(void **state) {
        Fixture *f = *state;
        char buf[DNSDISC_TARGET_MAX], small[4];
        dnsdisc_endpoint e;
        Set set, next;
        dnsdisc *d;
        dnsdisc_service *s;
        unsigned h;

        set_init(&set, "web", 1, 3);
        s = publish_and_open(f, &set, &d);
        assert_int_equal(dnsdisc_pick(s, &e), 0);
        h = host_in(&e, 1);
        assert_int_equal(dnsdisc_endpoint_target(&e, buf, sizeof buf), 0);
        assert_string_equal(buf, set.targets[h - 1]);
        assert_int_equal(dnsdisc_endpoint_target(&e, small, sizeof small), -ENOBUFS);

        /* Another generation that still holds the endpoint, at another index: found by identity. */
        next = set;
        next.b[3] = set.b[h - 1];
        next.b[3].target = "kept.example";
        next.b[h - 1].addr[3] = 200;
        next.b[h - 1].target = "moved.example";
        next.svc.backends = next.b;
        next.svc.n_backends = 4;
        publish_to(f->w, &next);
        assert_true(dnsdisc_generation(s) != e._generation);
        assert_int_equal(dnsdisc_endpoint_target(&e, buf, sizeof buf), 0);
        assert_string_equal(buf, "kept.example");

        /* Gone from the set. */
        next.svc.n_backends = 3;
        publish_to(f->w, &next);
        assert_int_equal(dnsdisc_endpoint_target(&e, buf, sizeof buf), -ESTALE);
        dnsdisc_close(d);
}

static void test_endpoint_format_ipv4_and_ipv6(void **state) {
        dnsdisc_endpoint e = { 0 };
        char buf[64], small[8];

        e.addr.sin.sin_family = AF_INET;
        e.addr.sin.sin_port = htons(80);
        inet_pton(AF_INET, "1.2.3.4", &e.addr.sin.sin_addr);
        e.addrlen = sizeof(struct sockaddr_in);
        assert_int_equal(dnsdisc_endpoint_format(&e, buf, sizeof buf), 0);
        assert_string_equal(buf, "1.2.3.4:80");
        assert_int_equal(dnsdisc_endpoint_format(&e, small, sizeof small), -ENOBUFS);

        memset(&e, 0, sizeof e);
        e.addr.sin6.sin6_family = AF_INET6;
        e.addr.sin6.sin6_port = htons(8443);
        inet_pton(AF_INET6, "::1", &e.addr.sin6.sin6_addr);
        e.addrlen = sizeof(struct sockaddr_in6);
        assert_int_equal(dnsdisc_endpoint_format(&e, buf, sizeof buf), 0);
        assert_string_equal(buf, "[::1]:8443");
}

typedef struct Publisher {
        Fixture *f;
        Set *set;
        unsigned delay_ms;
} Publisher;

static void *publish_later(void *arg) {
        Publisher *p = arg;

        usleep(p->delay_ms * 1000);
        publish_to(p->f->w, p->set);
        return NULL;
}

static void test_wait_returns_1_on_publish_from_thread(void **state) {
        Fixture *f = *state;
        Set set, next;
        Publisher p = { .f = f, .set = &next, .delay_ms = 50 };
        dnsdisc *d;
        dnsdisc_service *s;
        pthread_t t;
        uint32_t gen, counter;
        uint64_t t0;

        set_init(&set, "web", 1, 2);
        set_init(&next, "web", 2, 2);
        s = publish_and_open(f, &set, &d);
        gen = dnsdisc_generation(s);
        counter = dnsdisc_change_counter(d);
        t0 = now_usec(CLOCK_MONOTONIC);
        assert_int_equal(pthread_create(&t, NULL, publish_later, &p), 0);
        assert_int_equal(dnsdisc_wait(s, gen, 5 * USEC_PER_SEC), 1);
        assert_true(now_usec(CLOCK_MONOTONIC) - t0 < 4 * USEC_PER_SEC);
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_true(dnsdisc_generation(s) != gen);
        assert_int_equal(dnsdisc_wait_any(d, counter, 0), 1);
        dnsdisc_close(d);
}

static void test_wait_returns_1_on_publish_from_process(void **state) {
        Fixture *f = *state;
        Set set, next;
        dnsdisc *d;
        dnsdisc_service *s;
        uint32_t gen;
        int status, go[2];
        pid_t pid;
        char c = 0;

        set_init(&set, "web", 1, 2);
        set_init(&next, "web", 2, 2);
        s = publish_and_open(f, &set, &d);
        gen = dnsdisc_generation(s);
        assert_int_equal(pipe(go), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                /* The waiter, in its own process and mapping: futex wakes cross processes. */
                dnsdisc *cd;
                dnsdisc_service *cs;
                int r;

                close(go[0]);
                if (dnsdisc_open(f->path, &cd) < 0 || dnsdisc_service_get(cd, "web", &cs) < 0)
                        _exit(2);
                if (write(go[1], &c, 1) != 1)
                        _exit(3);
                r = dnsdisc_wait(cs, gen, 5 * USEC_PER_SEC);
                _exit(r == 1 && dnsdisc_generation(cs) != gen ? 0 : 1);
        }
        close(go[1]);
        assert_int_equal(read(go[0], &c, 1), 1);
        close(go[0]);
        usleep(50000);
        publish_to(f->w, &next);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        dnsdisc_close(d);
}

static void test_wait_times_out_returns_0(void **state) {
        Fixture *f = *state;
        dnsdisc *d;
        dnsdisc_service *s;
        uint64_t t0, dt;

        s = open_web(f, 1, 2, &d);
        t0 = now_usec(CLOCK_MONOTONIC);
        assert_int_equal(dnsdisc_wait(s, dnsdisc_generation(s), 50000), 0);
        dt = now_usec(CLOCK_MONOTONIC) - t0;
        assert_true(dt >= 50000 && dt < 2 * USEC_PER_SEC);
        assert_int_equal(dnsdisc_wait(s, dnsdisc_generation(s) + 1, 50000), 1);
        assert_int_equal(dnsdisc_wait_any(d, dnsdisc_change_counter(d), 20000), 0);
        dnsdisc_close(d);
}

static void test_wait_follows_removal_with_esrch(void **state) {
        Fixture *f = *state;
        dnsdisc *d;
        dnsdisc_service *s;
        uint32_t gen;

        s = open_web(f, 1, 2, &d);
        gen = dnsdisc_generation(s);
        assert_int_equal(cache_writer_remove(f->w, "web"), 0);
        assert_int_equal(dnsdisc_wait(s, gen, 50000), -ESRCH);
        dnsdisc_close(d);
}

static void test_is_stale_false_while_writer_runs(void **state) {
        Fixture *f = *state;
        dnsdisc_daemon_info info;
        Set set;
        dnsdisc *d;

        set_init(&set, "web", 1, 2);
        publish_to(f->w, &set);
        assert_int_equal(cache_writer_heartbeat(f->w), 0);
        d = open_reader(f);
        assert_int_equal(dnsdisc_is_stale(d), 0);
        assert_int_equal(dnsdisc_daemon_info_get(d, &info), 0);
        assert_int_equal(info.pid, getpid());
        assert_int_equal(info.stopped, 0);
        assert_int_equal(info.n_services, 1);
        assert_true(info.heartbeat_interval_ms > 0);
        assert_true(llabs((long long) info.heartbeat_usec - (long long) now_usec(CLOCK_REALTIME)) < 60 * 1000000LL);
        dnsdisc_close(d);
}

static void test_is_stale_after_writer_free(void **state) {
        Fixture *f = *state;
        dnsdisc_daemon_info info;
        dnsdisc_endpoint e;
        Set set;
        dnsdisc *d;

        set_init(&set, "web", 1, 2);
        publish_to(f->w, &set);
        d = open_reader(f);
        f->w = cache_writer_free(f->w);
        assert_int_equal(dnsdisc_is_stale(d), 1);
        assert_int_equal(dnsdisc_daemon_info_get(d, &info), 0);
        assert_int_equal(info.stopped, 1);
        /* Data stays readable. */
        assert_int_equal(dnsdisc_pick(lookup(d, "web"), &e), 0);
        dnsdisc_close(d);
}

static void test_is_stale_after_old_heartbeat(void **state) {
        Fixture *f = *state;
        dd_header *h;
        size_t size;
        Set set;
        dnsdisc *d;

        set_init(&set, "web", 1, 2);
        publish_to(f->w, &set);
        assert_int_equal(cache_writer_heartbeat(f->w), 0);
        d = open_reader(f);
        assert_int_equal(dnsdisc_is_stale(d), 0);

        /* A writer that hung: its last heartbeat is older than three intervals. */
        h = map_rw(f->path, &size);
        heartbeat_age(h);
        assert_int_equal(dnsdisc_is_stale(d), 1);
        assert_int_equal(cache_writer_heartbeat(f->w), 0);
        assert_int_equal(dnsdisc_is_stale(d), 0);
        munmap(h, size);
        dnsdisc_close(d);
}

static void test_open_uses_environment_then_default(void **state) {
        Fixture *f = *state;
        dnsdisc *d = NULL;

        assert_int_equal(setenv(DNSDISC_CACHE_ENV, f->path, 1), 0);
        assert_int_equal(dnsdisc_open(NULL, &d), 0);
        d = dnsdisc_close(d);
        assert_null(d);
        assert_int_equal(setenv(DNSDISC_CACHE_ENV, "/nonexistent/dnsdisc-test/cache", 1), 0);
        assert_int_equal(dnsdisc_open(NULL, &d), -ENOENT);
        assert_null(d);
        unsetenv(DNSDISC_CACHE_ENV);
        assert_null(dnsdisc_close(NULL));
}

static void test_strerror_texts(void **state) {
        assert_string_equal(dnsdisc_strerror(-ENOENT), "no cache file: dnsdiscd is not running");
        assert_string_equal(dnsdisc_strerror(-ESRCH), "unknown service");
        assert_string_equal(dnsdisc_strerror(-EHOSTUNREACH), "no backend available");
        assert_string_equal(dnsdisc_strerror(-EPROTONOSUPPORT), "incompatible cache file version");
        assert_string_equal(dnsdisc_strerror(-EBADMSG), "corrupt cache file");
        assert_string_equal(dnsdisc_strerror(ESRCH), "unknown service");
        assert_string_equal(dnsdisc_strerror(-ENOMEM), "Cannot allocate memory");
        assert_non_null(dnsdisc_strerror(-123456));
        assert_non_null(dnsdisc_strerror(INT_MIN));
}

static void test_names(void **state) {
        assert_string_equal(dnsdisc_state_name(DNSDISC_STATE_OK), "ok");
        assert_string_equal(dnsdisc_state_name(DNSDISC_STATE_NEGATIVE), "negative");
        assert_string_equal(dnsdisc_health_name(DNSDISC_HEALTH_DOWN), "down");
        assert_string_equal(dnsdisc_source_name(DNSDISC_SOURCE_AAAA), "aaaa");
        assert_string_equal(dnsdisc_error_code_name(DD_ERR_SERVFAIL), "servfail");
        assert_non_null(dnsdisc_state_name(999));
        assert_non_null(dnsdisc_error_code_name(UINT32_MAX));
}

int main(void) {
        const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)
                T(test_snapshot_round_trips_every_field),
                T(test_service_info_matches_snapshot),
                T(test_snapshot_too_small_returns_enobufs),
                T(test_pick_follows_weights_1_3_exactly_per_cycle),
                T(test_pick_fills_private_fields),
                T(test_pick_start_differs_between_processes),
                T(test_pick_start_differs_between_threads),
                T(test_pick_without_backend_returns_ehostunreach),
                T(test_pick_in_panic_returns_down_backends),
                T(test_service_unknown_returns_esrch),
                T(test_service_same_name_returns_same_handle),
                T(test_pick_after_service_removed_returns_esrch),
                T(test_pick_follows_set_changes),
                T(test_pick_follows_file_replaced_by_growth),
                T(test_service_next_iterates_live_services),
                T(test_pick_skips_quarantined_endpoint),
                T(test_quarantine_doubles_up_to_30_s),
                T(test_report_success_clears_quarantine),
                T(test_pick_when_all_quarantined_ignores_quarantine),
                T(test_quarantine_full_evicts_soonest_ending),
                T(test_pick_random_follows_weights),
                T(test_pick_gives_srv_records_their_weight_with_a_dual_stack_target),
                T(test_pick_random_gives_srv_records_their_weight_with_a_dual_stack_target),
                T(test_endpoint_target_valid_then_estale),
                T(test_endpoint_format_ipv4_and_ipv6),
                T(test_wait_returns_1_on_publish_from_thread),
                T(test_wait_returns_1_on_publish_from_process),
                T(test_wait_times_out_returns_0),
                T(test_wait_follows_removal_with_esrch),
                T(test_is_stale_false_while_writer_runs),
                T(test_is_stale_after_writer_free),
                T(test_is_stale_after_old_heartbeat),
                T(test_open_uses_environment_then_default),
                T(test_strerror_texts),
                T(test_names),
#undef T
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
