/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-state.c: unit tests of daemon/state.c's TTL, refresh, back-off and error rules. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "state.h"
#include "util.h"

static void test_ttl_is_clamped_to_min_and_max(void **state) {
        uint64_t min = 5 * USEC_PER_SEC, max = 3600 * USEC_PER_SEC;
        assert_int_equal(state_clamp_ttl(0, min, max), min);
        assert_int_equal(state_clamp_ttl(4, min, max), min);
        assert_int_equal(state_clamp_ttl(30, min, max), 30 * USEC_PER_SEC);
        assert_int_equal(state_clamp_ttl(86400, min, max), max);
}

static void test_ttl_with_top_bit_set_reads_as_zero(void **state) {
        uint64_t min = 5 * USEC_PER_SEC, max = 3600 * USEC_PER_SEC;
        /* RFC 2181 §8: 2^31 and above are treated as 0, so clamped to min, not max. */
        assert_int_equal(state_clamp_ttl(UINT32_C(1) << 31, min, max), min);
        assert_int_equal(state_clamp_ttl(UINT32_MAX, min, max), min);
        assert_int_equal(state_clamp_ttl((UINT32_C(1) << 31) - 1, min, max), max);
}

static void test_refresh_happens_between_80_and_90_percent_of_ttl(void **state) {
        uint64_t ttl = 100 * USEC_PER_SEC;
        assert_int_equal(state_refresh_delay(ttl, 0.0), 80 * USEC_PER_SEC);
        assert_true(state_refresh_delay(ttl, 0.999999) <= 90 * USEC_PER_SEC);
        assert_true(state_refresh_delay(ttl, 0.999999) > 89 * USEC_PER_SEC);
        /* Always before expiry, also for the smallest TTLs. */
        for (double r = 0; r < 1; r += 0.01)
                assert_true(state_refresh_delay(USEC_PER_SEC, r) < USEC_PER_SEC);
}

static void test_refresh_delays_spread_for_equal_ttls(void **state) {
        /* Distinct jitter values must give distinct times: no lockstep. */
        uint64_t ttl = 30 * USEC_PER_SEC, prev = 0;
        unsigned distinct = 0;
        for (int i = 0; i < 100; i++) {
                uint64_t d = state_refresh_delay(ttl, i / 100.0);
                distinct += d != prev;
                prev = d;
        }
        assert_int_equal(distinct, 100);
}

static void test_backoff_doubles_up_to_a_cap(void **state) {
        /* With jitter at its midpoint (rnd 0.5 -> factor 1.0) the base sequence shows. */
        assert_int_equal(state_backoff_delay(1, 0.5), 1 * USEC_PER_SEC);
        assert_int_equal(state_backoff_delay(2, 0.5), 2 * USEC_PER_SEC);
        assert_int_equal(state_backoff_delay(3, 0.5), 4 * USEC_PER_SEC);
        assert_int_equal(state_backoff_delay(6, 0.5), 32 * USEC_PER_SEC);
        assert_int_equal(state_backoff_delay(7, 0.5), 60 * USEC_PER_SEC);
        assert_int_equal(state_backoff_delay(1000, 0.5), 60 * USEC_PER_SEC);
}

static void test_backoff_jitter_stays_within_20_percent(void **state) {
        for (unsigned f = 1; f < 12; f++) {
                uint64_t mid = state_backoff_delay(f, 0.5);
                uint64_t lo = state_backoff_delay(f, 0.0), hi = state_backoff_delay(f, 0.999999);
                assert_true(lo >= mid * 8 / 10 - 1);
                assert_true(hi <= mid * 12 / 10 + 1);
                assert_true(lo < hi);
        }
}

static void test_transport_errors_map_to_short_codes(void **state) {
        assert_int_equal(state_error_from_errno(-ETIMEDOUT), DD_ERR_TIMEOUT);
        assert_int_equal(state_error_from_errno(-ECONNREFUSED), DD_ERR_SERVFAIL);
        assert_int_equal(state_error_from_errno(-EBADMSG), DD_ERR_MALFORMED);
        assert_int_equal(state_error_from_errno(-ELOOP), DD_ERR_MALFORMED);
        assert_int_equal(state_error_from_errno(-ENXIO), DD_ERR_NXDOMAIN);
        assert_int_equal(state_error_from_errno(-ENODATA), DD_ERR_NODATA);
        assert_int_equal(state_error_from_errno(-EIO), DD_ERR_NETWORK);
        assert_int_equal(state_error_from_errno(-ENOMEM), DD_ERR_OTHER);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ttl_is_clamped_to_min_and_max),
                cmocka_unit_test(test_ttl_with_top_bit_set_reads_as_zero),
                cmocka_unit_test(test_refresh_happens_between_80_and_90_percent_of_ttl),
                cmocka_unit_test(test_refresh_delays_spread_for_equal_ttls),
                cmocka_unit_test(test_backoff_doubles_up_to_a_cap),
                cmocka_unit_test(test_backoff_jitter_stays_within_20_percent),
                cmocka_unit_test(test_transport_errors_map_to_short_codes),
        };
        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
