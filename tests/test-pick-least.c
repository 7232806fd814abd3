/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-pick-least.c: libclient/pick-least.c: least-request picks, releases, and the counts' life across republishing. */
#include <pthread.h>

#include "client-fixture.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(dnsdisc *, dnsdisc_close);

static void test_unreleased_picks_spread_evenly(void **state) {
        Fixture *f = *state;
        _cleanup_(dnsdisc_closep) dnsdisc *d = NULL;
        unsigned n[3] = {};
        dnsdisc_service *svc;
        dnsdisc_endpoint e;

        svc = open_web(f, 1, 2, &d);
        /* Never released: the one with fewer in flight keeps winning, so they stay level. */
        for (int i = 0; i < 100; i++) {
                assert_int_equal(dnsdisc_pick_least(svc, &e), 0);
                n[host_of(&e)]++;
                assert_true(n[1] - n[2] + 1 <= 2);
        }
        assert_int_equal(n[1], 50);
        assert_int_equal(n[2], 50);
}

static void test_a_backend_that_releases_wins(void **state) {
        Fixture *f = *state;
        _cleanup_(dnsdisc_closep) dnsdisc *d = NULL;
        dnsdisc_service *svc;
        dnsdisc_endpoint e, slow;
        unsigned fast = 0;

        svc = open_web(f, 1, 2, &d);
        assert_int_equal(dnsdisc_pick_least(svc, &slow), 0); /* held: one in flight */
        for (int i = 0; i < 100; i++) {
                assert_int_equal(dnsdisc_pick_least(svc, &e), 0);
                fast += host_of(&e) != host_of(&slow);
                assert_int_equal(dnsdisc_release(&e), 0);
        }
        assert_int_equal(fast, 100);
        assert_int_equal(dnsdisc_release(&slow), 0);
}

static void test_release_of_another_pick_is_einval(void **state) {
        Fixture *f = *state;
        _cleanup_(dnsdisc_closep) dnsdisc *d = NULL;
        dnsdisc_endpoint e;

        assert_int_equal(dnsdisc_pick(open_web(f, 1, 2, &d), &e), 0);
        assert_int_equal(dnsdisc_release(&e), -EINVAL);
        assert_int_equal(dnsdisc_release(NULL), -EINVAL);
}

static void test_counts_survive_a_republish_that_keeps_the_backend(void **state) {
        Fixture *f = *state;
        _cleanup_(dnsdisc_closep) dnsdisc *d = NULL;
        dnsdisc_service *svc;
        dnsdisc_endpoint held[3], e;
        unsigned host;
        Set s;

        set_init(&s, "web", 1, 2);
        svc = publish_and_open(f, &s, &d);
        /* Six unreleased picks level out at three each; the other host's three end. */
        dnsdisc_endpoint all[6];
        unsigned k = 0;
        for (int i = 0; i < 6; i++)
                assert_int_equal(dnsdisc_pick_least(svc, &all[i]), 0);
        host = host_of(&all[0]);
        for (int i = 0; i < 6; i++)
                if (host_of(&all[i]) == host)
                        held[k++] = all[i];
                else
                        assert_int_equal(dnsdisc_release(&all[i]), 0);
        assert_int_equal(k, 3);
        /* Reversed order: indices change, addresses do not; the held host keeps its three. */
        PubBackend t = s.b[0];
        s.b[0] = s.b[1];
        s.b[1] = t;
        publish_to(f->w, &s);
        for (int i = 0; i < 3; i++) {
                assert_int_equal(dnsdisc_pick_least(svc, &e), 0);
                assert_int_not_equal(host_of(&e), host);
        }
        for (int i = 0; i < 3; i++)
                assert_int_equal(dnsdisc_release(&held[i]), 0);
}

static void test_counts_restart_when_the_backend_leaves(void **state) {
        Fixture *f = *state;
        _cleanup_(dnsdisc_closep) dnsdisc *d = NULL;
        dnsdisc_service *svc;
        dnsdisc_endpoint e, leaked[20];
        unsigned n[3] = {};
        Set s;

        set_init(&s, "web", 1, 2);
        svc = publish_and_open(f, &s, &d);
        for (int i = 0; i < 20; i++)
                assert_int_equal(dnsdisc_pick_least(svc, &leaked[i]), 0); /* never released: 10 each */
        /* Host 1 leaves, then comes back: its ten leaked picks are forgotten. */
        s.b[0] = s.b[1];
        s.svc.n_backends = 1;
        publish_to(f->w, &s);
        assert_int_equal(dnsdisc_pick_least(svc, &e), 0);
        assert_int_equal(host_of(&e), 2);
        assert_int_equal(dnsdisc_release(&e), 0);
        set_init(&s, "web", 1, 2);
        publish_to(f->w, &s);
        for (int i = 0; i < 10; i++) {
                assert_int_equal(dnsdisc_pick_least(svc, &e), 0);
                n[host_of(&e)]++;
        }
        assert_int_equal(n[1], 10);
        /* Releases of picks from before the reset take nothing off the new count. */
        for (int i = 0; i < 20; i++)
                assert_int_equal(dnsdisc_release(&leaked[i]), 0);
        assert_int_equal(dnsdisc_pick_least(svc, &e), 0);
        assert_int_equal(host_of(&e), 2);
}

static void test_quarantined_backend_is_not_picked(void **state) {
        Fixture *f = *state;
        _cleanup_(dnsdisc_closep) dnsdisc *d = NULL;
        dnsdisc_service *svc;
        dnsdisc_endpoint e, bad;

        fixture_clock_start(1000000);
        svc = open_web(f, 1, 3, &d);
        assert_int_equal(dnsdisc_pick_least(svc, &bad), 0);
        assert_int_equal(dnsdisc_release(&bad), 0);
        assert_int_equal(dnsdisc_report_failure(&bad), 0);
        for (int i = 0; i < 200; i++) {
                assert_int_equal(dnsdisc_pick_least(svc, &e), 0);
                assert_int_not_equal(host_of(&e), host_of(&bad));
                assert_int_equal(dnsdisc_release(&e), 0);
        }
}

/* A backend holding 99 % of the schedule wins nearly every draw: quarantined, it must still get
 * no pick while the other can take it (redraws alone let it through a few times in a hundred). */
static void test_quarantined_heavy_backend_is_not_picked(void **state) {
        Fixture *f = *state;
        _cleanup_(dnsdisc_closep) dnsdisc *d = NULL;
        dnsdisc_service *svc;
        dnsdisc_endpoint e, heavy;
        unsigned got = 0;
        Set s;

        fixture_clock_start(1000000);
        set_init(&s, "web", 1, 2);
        s.b[0].weight = 99;
        svc = publish_and_open(f, &s, &d);
        do {
                assert_int_equal(dnsdisc_pick_least(svc, &heavy), 0);
                assert_int_equal(dnsdisc_release(&heavy), 0);
        } while (host_of(&heavy) != 1);
        assert_int_equal(dnsdisc_report_failure(&heavy), 0);
        for (int i = 0; i < 1000; i++) {
                assert_int_equal(dnsdisc_pick_least(svc, &e), 0);
                got += host_of(&e) == 1;
                assert_int_equal(dnsdisc_release(&e), 0);
        }
        assert_int_equal(got, 0);
}

static void test_panic_picks_from_every_backend(void **state) {
        Fixture *f = *state;
        _cleanup_(dnsdisc_closep) dnsdisc *d = NULL;
        unsigned n[4] = {};
        dnsdisc_endpoint e;
        dnsdisc_service *svc;
        Set s;

        set_init(&s, "web", 1, 3);
        s.svc.panic = true;
        for (int i = 0; i < 3; i++)
                s.b[i].health = DD_HEALTH_DOWN;
        svc = publish_and_open(f, &s, &d);
        for (int i = 0; i < 30; i++) {
                assert_int_equal(dnsdisc_pick_least(svc, &e), 0);
                n[host_of(&e)]++;
        }
        /* Two of three compared each time: in flight counts stay within two of each other. */
        for (int h = 1; h <= 3; h++)
                assert_true(n[h] >= 8 && n[h] <= 12);
        s.svc.panic = false;
        publish_to(f->w, &s);
        assert_int_equal(dnsdisc_pick_least(svc, &e), -EHOSTUNREACH);
}

static void test_a_new_handle_inherits_no_counts(void **state) {
        Fixture *f = *state;
        dnsdisc_service *svc;
        dnsdisc_endpoint e;
        unsigned n[3] = {};
        uintptr_t first;
        dnsdisc *d;

        svc = open_web(f, 1, 2, &d);
        first = (uintptr_t) svc;
        for (int i = 0; i < 7; i++)
                assert_int_equal(dnsdisc_pick_least(svc, &e), 0); /* never released: 4 and 3 */
        dnsdisc_close(d);
        /* malloc hands the same addresses out again, most of the time: counts must not follow them. */
        d = open_reader(f);
        svc = lookup(d, "web");
        print_message("# same handle address: %s\n", (uintptr_t) svc == first ? "yes" : "no");
        for (int i = 0; i < 10; i++) {
                assert_int_equal(dnsdisc_pick_least(svc, &e), 0);
                n[host_of(&e)]++;
        }
        assert_int_equal(n[1], 5);
        assert_int_equal(n[2], 5);
        dnsdisc_close(d);
}

typedef struct Worker {
        dnsdisc_service *svc;
        int failures;
} Worker;

static void *pick_release_loop(void *arg) {
        Worker *w = arg;

        for (int i = 0; i < 20000; i++) {
                dnsdisc_endpoint e;
                if (dnsdisc_pick_least(w->svc, &e) < 0 || dnsdisc_release(&e) < 0)
                        w->failures++;
        }
        return NULL;
}

static void test_concurrent_picks_and_releases_leave_no_count_behind(void **state) {
        Fixture *f = *state;
        _cleanup_(dnsdisc_closep) dnsdisc *d = NULL;
        Worker w[4];
        pthread_t t[4];
        dnsdisc_endpoint e[50];
        dnsdisc_service *svc;
        unsigned n[3] = {};

        svc = open_web(f, 1, 2, &d);
        for (int i = 0; i < 4; i++) {
                w[i] = (Worker) { .svc = svc };
                assert_int_equal(pthread_create(&t[i], NULL, pick_release_loop, &w[i]), 0);
        }
        for (int i = 0; i < 4; i++) {
                assert_int_equal(pthread_join(t[i], NULL), 0);
                assert_int_equal(w[i].failures, 0);
        }
        /* Both counts back at 0: unreleased picks now alternate exactly. */
        for (int i = 0; i < 50; i++) {
                assert_int_equal(dnsdisc_pick_least(svc, &e[i]), 0);
                n[host_of(&e[i])]++;
        }
        assert_int_equal(n[1], 25);
        assert_int_equal(n[2], 25);
}

int main(void) {
#define TEST(t) cmocka_unit_test_setup_teardown(t, fixture_setup, fixture_teardown)
        const struct CMUnitTest tests[] = {
                TEST(test_unreleased_picks_spread_evenly),
                TEST(test_a_backend_that_releases_wins),
                TEST(test_release_of_another_pick_is_einval),
                TEST(test_counts_survive_a_republish_that_keeps_the_backend),
                TEST(test_counts_restart_when_the_backend_leaves),
                TEST(test_quarantined_backend_is_not_picked),
                TEST(test_quarantined_heavy_backend_is_not_picked),
                TEST(test_panic_picks_from_every_backend),
                TEST(test_concurrent_picks_and_releases_leave_no_count_behind),
                TEST(test_a_new_handle_inherits_no_counts),
        };
#undef TEST

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
