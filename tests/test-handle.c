/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-handle.c: libclient/handle.c: handles rebind to a new file when the writer of theirs died, or report the service gone. */
#include "client-fixture.h"

#include "cursor.h"

/* The old file's writer "killed": heartbeat stale, no flag, and a new file at the path; then
 * the time for readers to look at the path again. */
static CacheWriter *writer_killed_and_replaced(Fixture *f, unsigned k) {
        CacheWriter *w;
        dd_header *h;
        size_t size;

        h = map_rw(f->path, &size);
        heartbeat_age(h);
        munmap(h, size);
        w = new_file_over(f, k);
        fixture_now += DD_LOOK_INTERVAL_USEC;
        return w;
}

/* Picks with pick until one comes from set k (two laps at most): the picks it took, the last in *ret. */
static unsigned picks_until_set(dnsdisc_service *s, int (*pick)(dnsdisc_service *, dnsdisc_endpoint *), unsigned k,
                                dnsdisc_endpoint *ret) {
        unsigned n = 0;

        do {
                assert_int_equal(pick(s, ret), 0);
                n++;
        } while (set_of(ret) != k && n <= 2 * DD_LAP_PICKS);
        assert_int_equal(set_of(ret), k);
        return n;
}

static void test_picks_leave_a_dead_writers_file(void **state) {
        Fixture *f = *state;
        CacheWriter *w2;
        dnsdisc_service *s;
        dnsdisc_endpoint e;
        dnsdisc *d;

        fixture_clock_start(100 * DD_LOOK_INTERVAL_USEC);
        s = open_web(f, 1, 3, &d);
        assert_int_equal(dnsdisc_pick(s, &e), 0);
        assert_int_equal(set_of(&e), 1);

        w2 = writer_killed_and_replaced(f, 2);
        /* Only picks: the fast path never looks, but it ends every DD_LAP_PICKS picks. */
        assert_true(picks_until_set(s, dnsdisc_pick, 2, &e) <= DD_LAP_PICKS + 3);
        for (unsigned i = 0; i < 10; i++) {
                assert_int_equal(dnsdisc_pick_random(s, &e), 0);
                assert_int_equal(set_of(&e), 2);
        }
        cache_writer_free(w2);
        dnsdisc_close(d);
}

static void test_pick_random_leaves_a_dead_writers_file(void **state) {
        Fixture *f = *state;
        CacheWriter *w2;
        dnsdisc_service *s;
        dnsdisc_endpoint e;
        dnsdisc *d;

        fixture_clock_start(100 * DD_LOOK_INTERVAL_USEC);
        s = open_web(f, 1, 3, &d);
        assert_int_equal(dnsdisc_pick_random(s, &e), 0);

        w2 = writer_killed_and_replaced(f, 2);
        assert_true(picks_until_set(s, dnsdisc_pick_random, 2, &e) <= DD_LAP_PICKS);
        cache_writer_free(w2);
        dnsdisc_close(d);
}

static void test_snapshots_leave_a_dead_writers_file(void **state) {
        Fixture *f = *state;
        dnsdisc_backend b[4];
        CacheWriter *w2;
        dnsdisc_service *s;
        dnsdisc *d;

        fixture_clock_start(100 * DD_LOOK_INTERVAL_USEC);
        s = open_web(f, 1, 3, &d);
        assert_int_equal(dnsdisc_snapshot(s, NULL, b, 4), 3);
        assert_int_equal(ntohl(b[0].addr.sin.sin_addr.s_addr) >> 16 & 0xff, 1);

        w2 = writer_killed_and_replaced(f, 2);
        assert_int_equal(dnsdisc_snapshot(s, NULL, b, 4), 3);
        assert_int_equal(ntohl(b[0].addr.sin.sin_addr.s_addr) >> 16 & 0xff, 2);
        assert_int_equal(dnsdisc_is_stale(d), 0);
        cache_writer_free(w2);
        dnsdisc_close(d);
}

static void test_handle_of_a_service_missing_from_the_new_file_says_esrch(void **state) {
        Fixture *f = *state;
        CacheWriter *w2 = NULL;
        dnsdisc_service *s, *web;
        dnsdisc_service_info info;
        dnsdisc_endpoint e;
        Set set;
        dnsdisc *d;
        int r = 0;

        set_init(&set, "api", 1, 3);
        fixture_clock_start(100 * DD_LOOK_INTERVAL_USEC);
        s = publish_and_open(f, &set, &d);
        assert_int_equal(dnsdisc_pick(s, &e), 0);

        w2 = writer_killed_and_replaced(f, 2); /* holds "web" only */
        for (unsigned i = 0; i <= DD_LAP_PICKS + 3 && r == 0; i++)
                r = dnsdisc_pick(s, &e);
        assert_int_equal(r, -ESRCH);
        assert_int_equal(dnsdisc_service_info_get(s, &info), -ESRCH);
        web = lookup(d, "web");
        assert_int_equal(dnsdisc_pick(web, &e), 0);
        assert_int_equal(set_of(&e), 2);
        cache_writer_free(w2);
        dnsdisc_close(d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)
                T(test_picks_leave_a_dead_writers_file),
                T(test_pick_random_leaves_a_dead_writers_file),
                T(test_snapshots_leave_a_dead_writers_file),
                T(test_handle_of_a_service_missing_from_the_new_file_says_esrch),
#undef T
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
