/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-timer-queue.c: daemon/timer-queue.c driven by a real sd-event loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "timer-queue.h"
#include "util.h"

#define MSEC USEC_PER_MSEC

typedef struct Item Item;

typedef struct Test {
        sd_event *event;
        TimerQueue *q;
        Item *items;
        size_t n_items;
        Item **fired;          /* in firing order */
        size_t n_fired;
        uint64_t last_when;    /* deadline of the previous firing */
        bool out_of_order;
        bool early;            /* a handler ran before its deadline */
} Test;

struct Item {
        TimerEntry entry;
        Test *t;
        uint64_t deadline;     /* as armed */
        unsigned fired;
        uint64_t fired_iteration;
        unsigned rearm_now;    /* re-arm for "now" this many more times */
        Item *disarm;          /* disarm this one when fired */
};

static void handler(TimerEntry *e, void *userdata) {
        Item *it = container_of(e, Item, entry);
        Test *t = userdata;
        uint64_t now;

        assert_ptr_equal(it->t, t);
        assert_false(timer_entry_armed(e));
        assert_true(sd_event_now(t->event, CLOCK_MONOTONIC, &now) >= 0);
        t->early |= now < it->deadline;
        t->out_of_order |= it->deadline < t->last_when;
        t->last_when = it->deadline;
        it->fired++;
        assert_int_equal(sd_event_get_iteration(t->event, &it->fired_iteration), 0);
        t->fired[t->n_fired++] = it;
        if (it->disarm)
                timer_queue_disarm(t->q, &it->disarm->entry);
        if (it->rearm_now > 0) {
                it->rearm_now--;
                it->deadline = now;
                assert_int_equal(timer_queue_arm(t->q, e, now), 0);
        }
}

static Test *fixture_new(size_t n_items) {
        Test *t = calloc(1, sizeof *t);
        assert_non_null(t);
        assert_int_equal(sd_event_new(&t->event), 0);
        assert_int_equal(timer_queue_new(t->event, CLOCK_MONOTONIC, 1, handler, t, &t->q), 0);
        t->items = calloc(n_items, sizeof *t->items);
        t->fired = calloc(4 * n_items + 16, sizeof *t->fired);
        assert_non_null(t->items);
        assert_non_null(t->fired);
        t->n_items = n_items;
        for (size_t i = 0; i < n_items; i++)
                t->items[i].t = t;
        return t;
}

static void fixture_free(Test *t) {
        timer_queue_free(t->q);
        sd_event_unref(t->event);
        free(t->items);
        free(t->fired);
        free(t);
}

static uint64_t now_mono(Test *t) {
        uint64_t now;
        assert_true(sd_event_now(t->event, CLOCK_MONOTONIC, &now) >= 0);
        return now;
}

static void arm(Test *t, Item *it, uint64_t when) {
        it->deadline = when;
        assert_int_equal(timer_queue_arm(t->q, &it->entry, when), 0);
        assert_true(timer_entry_armed(&it->entry));
}

/* Run the loop until the queue is empty (and then for linger_usec more), bounded in time. */
static void run(Test *t, uint64_t linger_usec) {
        uint64_t end = now_usec(CLOCK_MONOTONIC) + 5 * USEC_PER_SEC;
        while (timer_queue_size(t->q) > 0 && now_usec(CLOCK_MONOTONIC) < end)
                assert_true(sd_event_run(t->event, 100 * MSEC) >= 0);
        assert_int_equal(timer_queue_size(t->q), 0);
        uint64_t stop = now_usec(CLOCK_MONOTONIC) + linger_usec;
        while (now_usec(CLOCK_MONOTONIC) < stop)
                assert_true(sd_event_run(t->event, stop - now_usec(CLOCK_MONOTONIC)) >= 0);
}

static void test_entries_fire_once_in_deadline_order_never_early(void **state) {
        enum { N = 5000 };
        Test *t = fixture_new(N);
        uint64_t now = now_mono(t), rng = 42;

        for (size_t i = 0; i < N; i++) {
                rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
                arm(t, &t->items[i], now + MSEC + (rng >> 33) % (40 * MSEC));
        }
        assert_int_equal(timer_queue_size(t->q), N);
        run(t, 0);
        assert_int_equal(t->n_fired, N);
        for (size_t i = 0; i < N; i++)
                assert_int_equal(t->items[i].fired, 1);
        assert_false(t->out_of_order);
        assert_false(t->early);
        fixture_free(t);
}

static void test_rearm_moves_a_deadline_both_ways(void **state) {
        Test *t = fixture_new(3);
        uint64_t now = now_mono(t);
        Item *a = &t->items[0], *b = &t->items[1], *c = &t->items[2];

        arm(t, a, now + 500 * MSEC);
        arm(t, b, now + 20 * MSEC);
        arm(t, c, now + 5 * MSEC);
        arm(t, a, now + 2 * MSEC);  /* earlier: now the first */
        arm(t, c, now + 40 * MSEC); /* later: now the last */
        assert_int_equal(timer_queue_size(t->q), 3);
        run(t, 0);
        assert_int_equal(t->n_fired, 3);
        assert_ptr_equal(t->fired[0], a);
        assert_ptr_equal(t->fired[1], b);
        assert_ptr_equal(t->fired[2], c);
        assert_false(t->early);
        fixture_free(t);
}

static void test_disarmed_entries_never_fire(void **state) {
        enum { N = 64 };
        Test *t = fixture_new(N);
        uint64_t now = now_mono(t);

        for (size_t i = 0; i < N; i++)
                arm(t, &t->items[i], now + (1 + i % 7) * MSEC);
        for (size_t i = 0; i < N; i += 2) {
                timer_queue_disarm(t->q, &t->items[i].entry);
                assert_false(timer_entry_armed(&t->items[i].entry));
        }
        timer_queue_disarm(t->q, &t->items[0].entry); /* twice: no effect */
        assert_int_equal(timer_queue_size(t->q), N / 2);
        run(t, 20 * MSEC);
        for (size_t i = 0; i < N; i++)
                assert_int_equal(t->items[i].fired, i % 2);
        assert_false(t->out_of_order);
        fixture_free(t);
}

static void test_handler_may_disarm_an_entry_due_at_the_same_time(void **state) {
        Test *t = fixture_new(3);
        uint64_t when = now_mono(t) + 2 * MSEC;

        arm(t, &t->items[0], when);
        arm(t, &t->items[1], when);
        arm(t, &t->items[2], when + 1);
        /* Whichever of the two fires first disarms the other. */
        t->items[0].disarm = &t->items[1];
        t->items[1].disarm = &t->items[0];
        run(t, 10 * MSEC);
        assert_int_equal(t->items[0].fired + t->items[1].fired, 1);
        assert_int_equal(t->items[2].fired, 1);
        fixture_free(t);
}

static void test_rearm_for_now_in_a_handler_fires_on_a_later_iteration(void **state) {
        Test *t = fixture_new(1);
        uint64_t iterations[4], now = now_mono(t);
        Item *it = &t->items[0];

        arm(t, it, now + MSEC);
        it->rearm_now = 3;
        for (unsigned k = 0; k < 4; k++) {
                uint64_t end = now_usec(CLOCK_MONOTONIC) + USEC_PER_SEC;
                unsigned before = it->fired;
                while (it->fired == before && now_usec(CLOCK_MONOTONIC) < end)
                        assert_true(sd_event_run(t->event, 100 * MSEC) >= 0);
                assert_int_equal(it->fired, before + 1);
                iterations[k] = it->fired_iteration;
                if (k > 0)
                        assert_true(iterations[k] > iterations[k - 1]);
        }
        assert_false(timer_entry_armed(&it->entry));
        fixture_free(t);
}

static void test_free_forgets_armed_entries(void **state) {
        Test *t = fixture_new(4);
        uint64_t now = now_mono(t);

        for (size_t i = 0; i < 4; i++)
                arm(t, &t->items[i], now + MSEC);
        t->q = timer_queue_free(t->q);
        for (size_t i = 0; i < 4; i++)
                assert_false(timer_entry_armed(&t->items[i].entry));
        /* The loop has nothing left of the queue to run. */
        assert_int_equal(sd_event_run(t->event, 10 * MSEC), 0);
        assert_int_equal(t->n_fired, 0);
        assert_null(timer_queue_free(NULL));
        fixture_free(t);
}

static void test_random_rearms_and_disarms_keep_the_heap_ordered(void **state) {
        enum { N = 3000 };
        Test *t = fixture_new(N);
        uint64_t now = now_mono(t), rng = 7;
        bool armed[N] = {};

        for (unsigned round = 0; round < 4 * N; round++) {
                rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
                size_t i = (rng >> 33) % N;
                if ((rng >> 20) % 4 == 0) {
                        timer_queue_disarm(t->q, &t->items[i].entry);
                        armed[i] = false;
                } else {
                        arm(t, &t->items[i], now + MSEC + (rng >> 40) % (30 * MSEC));
                        armed[i] = true;
                }
        }
        size_t n_armed = 0;
        for (size_t i = 0; i < N; i++)
                n_armed += armed[i];
        assert_int_equal(timer_queue_size(t->q), n_armed);
        run(t, 0);
        assert_int_equal(t->n_fired, n_armed);
        for (size_t i = 0; i < N; i++)
                assert_int_equal(t->items[i].fired, armed[i]);
        assert_false(t->out_of_order);
        assert_false(t->early);
        fixture_free(t);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_entries_fire_once_in_deadline_order_never_early),
                cmocka_unit_test(test_rearm_moves_a_deadline_both_ways),
                cmocka_unit_test(test_disarmed_entries_never_fire),
                cmocka_unit_test(test_handler_may_disarm_an_entry_due_at_the_same_time),
                cmocka_unit_test(test_rearm_for_now_in_a_handler_fires_on_a_later_iteration),
                cmocka_unit_test(test_free_forgets_armed_entries),
                cmocka_unit_test(test_random_rearms_and_disarms_keep_the_heap_ordered),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
