/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-cache-writer-extent.c: daemon/cache-writer-extent.c, a published extent: backends, schedule, eligible list. */
#include "cache-writer-lib.h"

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

        Map m = publish_new(f->path, &svc, &w);
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

int main(void) {
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
        const struct CMUnitTest tests[] = {
                T(test_schedule_and_eligible_match_the_backends),
                T(test_panic_flag_and_schedule_follow_the_option),
        };
#undef T

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
