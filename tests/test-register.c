/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-register.c: daemon/register.c's pure rules: retry backoff with jitter, refresh jitter, the default SRV target, the primary's address. */

#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/socket.h>

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

/* A response to a TYPE query for ns.example.com with n_rdata answers of that type. */
static size_t answer(uint8_t *p, uint16_t type, const uint8_t *rdata, uint16_t rdlen, unsigned n_rdata) {
        static const uint8_t head[] = { 0x12, 0x34, 0x85, 0x80, 0, 1, 0, 0, 0, 0, 0, 0,
                                        2, 'n', 's', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0 };
        size_t n = sizeof head;
        memcpy(p, head, n);
        p[7] = (uint8_t) n_rdata;
        p[n++] = 0, p[n++] = (uint8_t) type, p[n++] = 0, p[n++] = 1;
        for (unsigned i = 0; i < n_rdata; i++) {
                const uint8_t rr[] = { 0xc0, 12, 0, (uint8_t) type, 0, 1, 0, 0, 0, 30, 0, (uint8_t) rdlen };
                memcpy(p + n, rr, sizeof rr);
                n += sizeof rr;
                memcpy(p + n, rdata, rdlen);
                n += rdlen;
        }
        return n;
}

static void test_primary_address_takes_the_family_asked_for(void **state) {
        uint8_t pkt[512], v4[4] = { 192, 0, 2, 7 }, v6[16] = { [15] = 1 };
        ResolverServer s = { 0 };

        size_t len = answer(pkt, RECORDS_TYPE_A, v4, 4, 1);
        assert_int_equal(register_primary_address(4, 0, pkt, len, "ns.example.com", &s), 0);
        assert_int_equal(s.family, AF_INET);
        assert_int_equal(s.port, 53);
        assert_memory_equal(s.addr, v4, 4);

        /* A primary with only IPv6: its AAAA answer gives an IPv6 server. */
        len = answer(pkt, RECORDS_TYPE_AAAA, v6, 16, 1);
        assert_int_equal(register_primary_address(6, 0, pkt, len, "ns.example.com", &s), 0);
        assert_int_equal(s.family, AF_INET6);
        assert_int_equal(s.port, 53);
        assert_memory_equal(s.addr, v6, 16);
}

static void test_primary_address_fails_without_records_and_leaves_ret(void **state) {
        uint8_t pkt[512];
        ResolverServer s = { .family = 99 }, before = s;

        /* NODATA for A: the caller goes on to AAAA. */
        size_t len = answer(pkt, RECORDS_TYPE_A, NULL, 0, 0);
        assert_int_equal(register_primary_address(4, 0, pkt, len, "ns.example.com", &s), -ENODATA);
        assert_memory_equal(&s, &before, sizeof s);
        /* The lookup's own failure is passed on. */
        assert_int_equal(register_primary_address(4, -ETIMEDOUT, NULL, 0, "ns.example.com", &s), -ETIMEDOUT);
        assert_memory_equal(&s, &before, sizeof s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_backoff_doubles_from_one_second_up_to_the_cap),
                cmocka_unit_test(test_backoff_jitter_spreads_over_half_to_whole),
                cmocka_unit_test(test_refresh_is_within_ten_percent),
                cmocka_unit_test(test_default_target_is_first_label_under_zone),
                cmocka_unit_test(test_primary_address_takes_the_family_asked_for),
                cmocka_unit_test(test_primary_address_fails_without_records_and_leaves_ret),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
