/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-service-nodata.c: unit tests of daemon/service-nodata.c: targets' families known to have no address. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "service-nodata.h"

static void test_an_entry_is_found_by_name_and_family(void **state) {
        NodataSet s = {};
        assert_int_equal(nodata_set_add(&s, "b.example", 6, 200), 0);
        assert_int_equal(nodata_set_add(&s, "a.example", 6, 100), 0);
        assert_int_equal(nodata_set_add(&s, "a.example", 4, 300), 0);
        nodata_set_seal(&s);
        assert_int_equal(nodata_set_until(&s, "a.example", 6), 100);
        assert_int_equal(nodata_set_until(&s, "a.example", 4), 300);
        assert_int_equal(nodata_set_until(&s, "b.example", 6), 200);
        assert_int_equal(nodata_set_until(&s, "b.example", 4), 0);
        assert_int_equal(nodata_set_until(&s, "c.example", 6), 0);
        nodata_set_clear(&s);
        assert_int_equal(nodata_set_until(&s, "a.example", 6), 0);
}

static void test_move_replaces_and_empties_the_source(void **state) {
        NodataSet a = {}, b = {};
        assert_int_equal(nodata_set_add(&a, "old.example", 6, 100), 0);
        assert_int_equal(nodata_set_add(&b, "new.example", 6, 200), 0);
        nodata_set_seal(&b);
        nodata_set_move(&a, &b);
        assert_int_equal(nodata_set_until(&a, "old.example", 6), 0);
        assert_int_equal(nodata_set_until(&a, "new.example", 6), 200);
        assert_int_equal(b.s.n, 0);
        nodata_set_clear(&a);
        nodata_set_clear(&b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_an_entry_is_found_by_name_and_family),
                cmocka_unit_test(test_move_replaces_and_empties_the_source),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
