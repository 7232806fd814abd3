/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-name-set.c: daemon/name-set.c, the names a service depends on, matched against NOTIFY zones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "name-set.h"
#include "util.h"

static void test_names_are_kept_once_and_found(void **state) {
        NameSet s = {};
        assert_int_equal(name_set_add(&s, "a.example.com"), 0);
        assert_int_equal(name_set_add(&s, "b.example.org"), 0);
        assert_int_equal(name_set_add(&s, "a.example.com"), 0);
        assert_int_equal(s.n, 2);
        assert_true(name_set_contains(&s, "b.example.org"));
        assert_false(name_set_contains(&s, "example.org"));
        name_set_done(&s);
}

static void test_zone_matches_names_at_or_below_it_only(void **state) {
        NameSet s = {};
        assert_int_equal(name_set_add_list(&s, "_http._tcp.api.example.com\0b1.example.net", 2), 0);
        assert_true(name_set_any_in_zone(&s, "example.com"));
        assert_true(name_set_any_in_zone(&s, "api.example.com"));
        assert_true(name_set_any_in_zone(&s, "b1.example.net"));
        assert_true(name_set_any_in_zone(&s, ""));
        assert_false(name_set_any_in_zone(&s, "le.com"));
        assert_false(name_set_any_in_zone(&s, "other.example.com"));
        assert_false(name_set_any_in_zone(&s, "example.org"));
        name_set_clear(&s);
        assert_false(name_set_any_in_zone(&s, ""));
        name_set_done(&s);
}

static void test_many_names_grow_the_buffer(void **state) {
        NameSet s = {}, t = {};
        char name[64];
        for (unsigned i = 0; i < 500; i++) {
                snprintf(name, sizeof name, "target-%u.example.com", i);
                assert_int_equal(name_set_add(&s, name), 0);
        }
        assert_int_equal(s.n, 500);
        assert_true(name_set_contains(&s, "target-499.example.com"));
        name_set_swap(&s, &t);
        assert_int_equal(s.n, 0);
        assert_true(name_set_contains(&t, "target-0.example.com"));
        name_set_done(&s);
        name_set_done(&t);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names_are_kept_once_and_found),
                cmocka_unit_test(test_zone_matches_names_at_or_below_it_only),
                cmocka_unit_test(test_many_names_grow_the_buffer),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
