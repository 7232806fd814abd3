/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-service-ttl.c: unit tests of daemon/service-ttl.c: TTL clamping, refresh, back-off and confirmation delays. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "service-ttl.h"
#include "util.h"

static void test_ttl_is_clamped_to_min_and_max(void **state) {
        uint64_t min = 5 * USEC_PER_SEC, max = 3600 * USEC_PER_SEC;
        assert_int_equal(ttl_clamp(0, min, max), min);
        assert_int_equal(ttl_clamp(4, min, max), min);
        assert_int_equal(ttl_clamp(30, min, max), 30 * USEC_PER_SEC);
        assert_int_equal(ttl_clamp(86400, min, max), max);
}

static void test_ttl_with_top_bit_set_reads_as_zero(void **state) {
        uint64_t min = 5 * USEC_PER_SEC, max = 3600 * USEC_PER_SEC;
        /* RFC 2181 §8: 2^31 and above are treated as 0, so clamped to min, not max. */
        assert_int_equal(ttl_clamp(UINT32_C(1) << 31, min, max), min);
        assert_int_equal(ttl_clamp(UINT32_MAX, min, max), min);
        assert_int_equal(ttl_clamp((UINT32_C(1) << 31) - 1, min, max), max);
}

static void test_refresh_happens_between_80_and_90_percent_of_ttl(void **state) {
        uint64_t ttl = 100 * USEC_PER_SEC;
        assert_int_equal(ttl_refresh_delay(ttl, 0.0), 80 * USEC_PER_SEC);
        assert_true(ttl_refresh_delay(ttl, 0.999999) <= 90 * USEC_PER_SEC);
        assert_true(ttl_refresh_delay(ttl, 0.999999) > 89 * USEC_PER_SEC);
        /* Always before expiry, also for the smallest TTLs. */
        for (double r = 0; r < 1; r += 0.01)
                assert_true(ttl_refresh_delay(USEC_PER_SEC, r) < USEC_PER_SEC);
}

static void test_refresh_delays_spread_for_equal_ttls(void **state) {
        /* Distinct jitter values must give distinct times: no lockstep. */
        uint64_t ttl = 30 * USEC_PER_SEC, prev = 0;
        unsigned distinct = 0;
        for (int i = 0; i < 100; i++) {
                uint64_t d = ttl_refresh_delay(ttl, i / 100.0);
                distinct += d != prev;
                prev = d;
        }
        assert_int_equal(distinct, 100);
}

static void test_backoff_doubles_up_to_a_cap(void **state) {
        /* With jitter at its midpoint (rnd 0.5 -> factor 1.0) the base sequence shows. */
        assert_int_equal(ttl_backoff_delay(1, 0.5), 1 * USEC_PER_SEC);
        assert_int_equal(ttl_backoff_delay(2, 0.5), 2 * USEC_PER_SEC);
        assert_int_equal(ttl_backoff_delay(3, 0.5), 4 * USEC_PER_SEC);
        assert_int_equal(ttl_backoff_delay(6, 0.5), 32 * USEC_PER_SEC);
        assert_int_equal(ttl_backoff_delay(7, 0.5), 60 * USEC_PER_SEC);
        assert_int_equal(ttl_backoff_delay(1000, 0.5), 60 * USEC_PER_SEC);
}

static void test_backoff_jitter_stays_within_20_percent(void **state) {
        for (unsigned f = 1; f < 12; f++) {
                uint64_t mid = ttl_backoff_delay(f, 0.5);
                uint64_t lo = ttl_backoff_delay(f, 0.0), hi = ttl_backoff_delay(f, 0.999999);
                assert_true(lo >= mid * 8 / 10 - 1);
                assert_true(hi <= mid * 12 / 10 + 1);
                assert_true(lo < hi);
        }
}

static void test_negative_answer_is_confirmed_between_1_s_and_min_ttl(void **state) {
        uint64_t min_ttl = 5 * USEC_PER_SEC;
        assert_int_equal(ttl_confirm_delay(0, min_ttl), USEC_PER_SEC);
        assert_int_equal(ttl_confirm_delay(3, min_ttl), 3 * USEC_PER_SEC);
        assert_int_equal(ttl_confirm_delay(3600, min_ttl), min_ttl);
}

static void test_a_window_counts_down_from_its_start_and_saturates(void **state) {
        int64_t t0 = 1000 * (int64_t) USEC_PER_SEC;
        uint64_t len = 600 * USEC_PER_SEC;
        assert_int_equal(ttl_window_left(t0, len, t0), len);
        assert_int_equal(ttl_window_left(t0, len, t0 + 100 * (int64_t) USEC_PER_SEC), 500 * USEC_PER_SEC);
        assert_int_equal(ttl_window_left(t0, len, t0 + (int64_t) len), 0);
        assert_int_equal(ttl_window_left(t0, len, INT64_MAX), 0);
        /* Before it opens: its length and the time until then. */
        assert_int_equal(ttl_window_left(t0, len, t0 - 30 * (int64_t) USEC_PER_SEC), 630 * USEC_PER_SEC);
        assert_int_equal(ttl_window_left(t0, 0, t0 - 30 * (int64_t) USEC_PER_SEC), 30 * USEC_PER_SEC);
        assert_int_equal(ttl_window_left(INT64_MAX, UINT64_MAX, INT64_MIN), UINT64_MAX);
        assert_int_equal(ttl_window_left(INT64_MIN, UINT64_MAX - 1, INT64_MAX), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ttl_is_clamped_to_min_and_max),
                cmocka_unit_test(test_ttl_with_top_bit_set_reads_as_zero),
                cmocka_unit_test(test_refresh_happens_between_80_and_90_percent_of_ttl),
                cmocka_unit_test(test_refresh_delays_spread_for_equal_ttls),
                cmocka_unit_test(test_backoff_doubles_up_to_a_cap),
                cmocka_unit_test(test_backoff_jitter_stays_within_20_percent),
                cmocka_unit_test(test_negative_answer_is_confirmed_between_1_s_and_min_ttl),
                cmocka_unit_test(test_a_window_counts_down_from_its_start_and_saturates),
        };
        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
