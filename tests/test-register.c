/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-register.c: daemon/register.c's pure rules: retry backoff with jitter, refresh jitter, the default SRV target. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "register.h"
#include "util.h"

#define SEC USEC_PER_SEC

static void test_backoff_doubles_from_one_second_up_to_the_cap(void **state) {
        /* The top of the jitter range is the undithered delay. */
        assert_int_equal(register_backoff_usec(1, 300 * SEC, UINT32_MAX), 1 * SEC);
        assert_int_equal(register_backoff_usec(2, 300 * SEC, UINT32_MAX), 2 * SEC);
        assert_int_equal(register_backoff_usec(3, 300 * SEC, UINT32_MAX), 4 * SEC);
        assert_int_equal(register_backoff_usec(9, 300 * SEC, UINT32_MAX), 256 * SEC);
        assert_int_equal(register_backoff_usec(10, 300 * SEC, UINT32_MAX), 300 * SEC);
        assert_int_equal(register_backoff_usec(1000, 300 * SEC, UINT32_MAX), 300 * SEC);
        assert_int_equal(register_backoff_usec(5, 2 * SEC, UINT32_MAX), 2 * SEC);
}

/* Many hosts failing together (a server restart) must not retry in step. */
static void test_backoff_jitter_spreads_over_half_to_whole(void **state) {
        assert_int_equal(register_backoff_usec(3, 300 * SEC, 0), 2 * SEC);
        uint64_t lo = UINT64_MAX, hi = 0;
        for (uint32_t i = 0; i < 1000; i++) {
                uint64_t d = register_backoff_usec(4, 300 * SEC, i * 4294967u);
                assert_true(d >= 4 * SEC && d <= 8 * SEC);
                lo = MIN(lo, d);
                hi = MAX(hi, d);
        }
        assert_true(hi - lo > 3 * SEC);
}

static void test_refresh_is_within_ten_percent(void **state) {
        assert_int_equal(register_refresh_usec(120 * SEC, 0), 108 * SEC);
        assert_int_equal(register_refresh_usec(120 * SEC, UINT32_MAX), 132 * SEC);
        uint64_t mid = register_refresh_usec(120 * SEC, UINT32_MAX / 2);
        assert_true(mid > 119 * SEC && mid < 121 * SEC);
}

static void test_default_target_is_first_label_under_zone(void **state) {
        char t[RECORDS_NAME_MAX];
        assert_int_equal(register_default_target("host1.lan", "example.com", t), 0);
        assert_string_equal(t, "host1.example.com");
        assert_int_equal(register_default_target("Web-3", "Services.Example.com", t), 0);
        assert_string_equal(t, "web-3.services.example.com");
        assert_int_equal(register_default_target("", "example.com", t), -EINVAL);
        assert_int_equal(register_default_target(".lan", "example.com", t), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_backoff_doubles_from_one_second_up_to_the_cap),
                cmocka_unit_test(test_backoff_jitter_spreads_over_half_to_whole),
                cmocka_unit_test(test_refresh_is_within_ten_percent),
                cmocka_unit_test(test_default_target_is_first_label_under_zone),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
