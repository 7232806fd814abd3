/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-resolve-edns.c: daemon/resolve-edns.c, a FORMERR without OPT noticed and a channel that lost EDNS scheduled for replacement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "resolve-internal.h"
#include "util.h"

typedef struct Fixture {
        sd_event *e;
        Resolver r;
        Channel c;
} Fixture;

/* A resolver whose current channel is a real c-ares channel with the given flags; nothing is
 * ever sent on it. */
static Fixture *fixture_new(int flags) {
        Fixture *f = calloc(1, sizeof *f);
        struct ares_options o = { .flags = flags };

        assert_non_null(f);
        assert_int_equal(sd_event_new(&f->e), 0);
        f->r.event = f->e;
        assert_int_equal(edns_restore_add(&f->r), 0);
        assert_int_equal(ares_init_options(&f->c.ares, &o, ARES_OPT_FLAGS), ARES_SUCCESS);
        f->c.ares_ok = true;
        f->c.resolver = &f->r;
        f->r.current = &f->c;
        return f;
}

static void fixture_free(Fixture *f) {
        ares_destroy(f->c.ares);
        sd_event_source_disable_unref(f->r.edns_restore);
        sd_event_unref(f->e);
        free(f);
}

static bool restore_due(const Fixture *f, uint64_t *ret_at) {
        if (sd_event_source_get_enabled(f->r.edns_restore, NULL) <= 0)
                return false;
        assert_int_equal(sd_event_source_get_time(f->r.edns_restore, ret_at), 0);
        return true;
}

static int setup(void **state) {
        assert_int_equal(ares_library_init(ARES_LIB_INIT_ALL), ARES_SUCCESS);
        return 0;
}

static int teardown(void **state) {
        ares_library_cleanup();
        return 0;
}

static void test_only_a_formerr_without_opt_is_noted(void **state) {
        Channel c = {};
        uint8_t h[12] = { 0x12, 0x34, 0x81, 0x01 }; /* FORMERR, ARCOUNT 0 */

        edns_answer_read(&c, h, sizeof h - 1); /* cut before ARCOUNT */
        assert_false(c.formerr_seen);
        h[11] = 1; /* an OPT record: the server knows EDNS */
        edns_answer_read(&c, h, sizeof h);
        assert_false(c.formerr_seen);
        h[11] = 0;
        h[3] = 0x02; /* SERVFAIL */
        edns_answer_read(&c, h, sizeof h);
        assert_false(c.formerr_seen);
        h[3] = 0x01;
        edns_answer_read(&c, h, sizeof h);
        assert_true(c.formerr_seen);
}

static void test_a_channel_that_lost_edns_is_replaced_at_once_then_at_most_once_a_second(void **state) {
        Fixture *f = fixture_new(0);
        uint64_t now, at;

        f->c.formerr_seen = true;
        edns_check(&f->c);
        assert_false(f->c.formerr_seen);
        assert_true(sd_event_now(f->e, CLOCK_MONOTONIC, &now) >= 0); /* 1: the loop never ran, the time is fresh */
        assert_true(restore_due(f, &at));
        assert_true(at <= now);
        /* Replaced just now: the next one waits out the second. */
        assert_int_equal(sd_event_source_set_enabled(f->r.edns_restore, SD_EVENT_OFF), 0);
        f->r.edns_restored_usec = now;
        f->c.formerr_seen = true;
        edns_check(&f->c);
        assert_true(restore_due(f, &at));
        assert_int_equal(at, now + USEC_PER_SEC);
        fixture_free(f);
}

static void test_a_channel_with_edns_a_retired_one_or_no_formerr_is_left_alone(void **state) {
        Fixture *f = fixture_new(ARES_FLAG_EDNS);
        uint64_t at;

        f->c.formerr_seen = true;
        edns_check(&f->c);
        assert_false(restore_due(f, &at));
        fixture_free(f);

        f = fixture_new(0);
        edns_check(&f->c); /* nothing read since the last check */
        assert_false(restore_due(f, &at));
        Channel current = { .resolver = &f->r };
        f->r.current = &current; /* c retired: a new channel has taken over already */
        f->c.formerr_seen = true;
        edns_check(&f->c);
        assert_false(restore_due(f, &at));
        assert_false(f->c.formerr_seen);
        fixture_free(f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_only_a_formerr_without_opt_is_noted),
                cmocka_unit_test(test_a_channel_that_lost_edns_is_replaced_at_once_then_at_most_once_a_second),
                cmocka_unit_test(test_a_channel_with_edns_a_retired_one_or_no_formerr_is_left_alone),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, setup, teardown);
}
