/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-wait.c: libclient/wait.c: waits block until a real change or the timeout, and follow a file that appears. */
#include <pthread.h>

#include "client-fixture.h"

static uint64_t mono_usec(void) {
        return now_usec(CLOCK_MONOTONIC);
}

/* More services than the file has slots: the writer grows it through a new file and marks the old one replaced. */
static void grow(Fixture *f) {
        char names[200][16];
        Set set;

        for (unsigned i = 0; i < ELEMENTSOF(names); i++) {
                snprintf(names[i], sizeof names[i], "svc%u", i);
                set_init(&set, names[i], 2, 2);
                publish_to(f->w, &set);
        }
}

/* A reader of "web" whose file the writer then replaced by growing it, and nothing at the path
 * since: the reader returned, the old file's change counter in *ret_counter. */
static dnsdisc *reader_of_a_replaced_file(Fixture *f, uint32_t *ret_counter) {
        Set set;
        dnsdisc *d;

        set_init(&set, "web", 1, 3);
        publish_to(f->w, &set);
        d = open_reader(f);
        grow(f);
        assert_true(atomic_load(&dd_current(d)->header->flags) & DD_FILE_REPLACED);
        *ret_counter = atomic_load(&dd_current(d)->header->change_counter);
        assert_int_equal(unlink(f->path), 0);
        return d;
}

static void test_wait_any_blocks_while_the_replacement_is_missing(void **state) {
        Fixture *f = *state;
        uint64_t t0, elapsed;
        unsigned returns = 0;
        uint32_t counter;
        dnsdisc *d = reader_of_a_replaced_file(f, &counter);

        /* Nothing changes and nothing is at the path: every call sleeps its whole timeout. */
        t0 = mono_usec();
        while (mono_usec() - t0 < 600000) {
                assert_int_equal(dnsdisc_wait_any(d, counter, 200000), 0);
                returns++;
        }
        elapsed = mono_usec() - t0;
        assert_true(returns <= 4);
        assert_true(elapsed >= (uint64_t) returns * 200000);
        dnsdisc_close(d);
}

typedef struct Later {
        Fixture *f;
        unsigned k;
        CacheWriter *w;
} Later;

static void *new_file_later(void *p) {
        Later *l = p;

        usleep(100000);
        l->w = new_file_over(l->f, l->k);
        return NULL;
}

static void test_wait_any_follows_a_file_that_appears(void **state) {
        Fixture *f = *state;
        Later later = { .f = f, .k = 3 };
        uint64_t t0, elapsed;
        dnsdisc_endpoint e;
        uint32_t counter;
        pthread_t t;
        dnsdisc *d = reader_of_a_replaced_file(f, &counter);

        t0 = mono_usec();
        assert_int_equal(pthread_create(&t, NULL, new_file_later, &later), 0);
        /* Looked for again at least once a second: well before the timeout. */
        assert_int_equal(dnsdisc_wait_any(d, counter, 30 * DD_LOOK_INTERVAL_USEC), 1);
        elapsed = mono_usec() - t0;
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_true(elapsed >= 100000);
        assert_true(elapsed < 100000 + 3 * DD_LOOK_INTERVAL_USEC);
        assert_int_equal(dnsdisc_pick(lookup(d, "web"), &e), 0);
        assert_int_equal(set_of(&e), 3);
        cache_writer_free(later.w);
        dnsdisc_close(d);
}

static void test_wait_follows_a_dead_writers_successor(void **state) {
        Fixture *f = *state;
        Later later = { .f = f, .k = 4 };
        dnsdisc_service *s;
        dnsdisc_endpoint e;
        uint64_t t0, elapsed;
        dd_header *h;
        pthread_t t;
        size_t size;
        dnsdisc *d;

        s = open_web(f, 1, 3, &d);
        h = map_rw(f->path, &size);
        heartbeat_age(h);

        t0 = mono_usec();
        assert_int_equal(pthread_create(&t, NULL, new_file_later, &later), 0);
        /* The dead writer wakes nobody: the wait looks at the path between sleeps of a second. */
        assert_int_equal(dnsdisc_wait(s, dnsdisc_generation(s), 30 * DD_LOOK_INTERVAL_USEC), 1);
        elapsed = mono_usec() - t0;
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_true(elapsed < 100000 + 3 * DD_LOOK_INTERVAL_USEC);
        assert_int_equal(dnsdisc_pick(s, &e), 0);
        assert_int_equal(set_of(&e), 4);
        cache_writer_free(later.w);
        munmap(h, size);
        dnsdisc_close(d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)
                T(test_wait_any_blocks_while_the_replacement_is_missing),
                T(test_wait_any_follows_a_file_that_appears),
                T(test_wait_follows_a_dead_writers_successor),
#undef T
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
