/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-service-addrs.c: unit tests of daemon/service-addrs.c: glued targets' own address answers. */
#include <errno.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "service-addrs.h"

static RecAddr v4(uint8_t last, uint32_t ttl) {
        return (RecAddr) { .family = 4, .addr = { 127, 0, 0, last }, .ttl = ttl };
}

static void test_an_entry_is_found_by_name_and_family_with_its_addresses(void **state) {
        AddrSet s = {};
        RecAddr a[2] = { v4(1, 5), v4(2, 7) };
        const RecAddr *got = NULL;
        size_t n = 99;

        assert_int_equal(addr_set_add(&s, "b.example", 4, 200, a, 1), 0);
        assert_int_equal(addr_set_add(&s, "a.example", 4, 100, a, 2), 0);
        assert_int_equal(addr_set_add(&s, "a.example", 6, 300, NULL, 0), 0);
        a[0] = v4(9, 9); /* copied: the caller's array may change */
        addr_set_seal(&s);
        assert_int_equal(addr_set_find(&s, "a.example", 4, &got, &n), 100);
        assert_int_equal(n, 2);
        assert_int_equal(got[0].addr[3], 1);
        assert_int_equal(got[1].addr[3], 2);
        assert_int_equal(got[1].ttl, 7);
        assert_int_equal(addr_set_find(&s, "a.example", 6, &got, &n), 300);
        assert_int_equal(n, 0);
        assert_int_equal(addr_set_find(&s, "b.example", 4, &got, &n), 200);
        assert_int_equal(n, 1);
        assert_int_equal(got[0].addr[3], 1);
        addr_set_clear(&s);
        assert_int_equal(addr_set_find(&s, "a.example", 4, &got, &n), 0);
}

static void test_an_unknown_target_or_family_is_not_found_and_outputs_are_untouched(void **state) {
        AddrSet s = {};
        RecAddr a = v4(1, 5);
        const RecAddr *got = &a;
        size_t n = 42;

        assert_int_equal(addr_set_find(&s, "a.example", 4, &got, &n), 0);
        assert_int_equal(addr_set_add(&s, "a.example", 4, 100, &a, 1), 0);
        addr_set_seal(&s);
        assert_int_equal(addr_set_find(&s, "a.example", 6, &got, &n), 0);
        assert_int_equal(addr_set_find(&s, "c.example", 4, &got, &n), 0);
        assert_ptr_equal(got, &a);
        assert_int_equal(n, 42);
        addr_set_clear(&s);
}

static void test_many_entries_grow_the_set(void **state) {
        AddrSet s = {};
        char name[32];
        RecAddr a = v4(1, 5);
        const RecAddr *got;
        size_t n;

        for (int i = 0; i < 100; i++) {
                snprintf(name, sizeof name, "t%d.example", 99 - i);
                assert_int_equal(addr_set_add(&s, name, 4, 1000 + (99 - i), &a, 1), 0);
        }
        addr_set_seal(&s);
        for (int i = 0; i < 100; i++) {
                snprintf(name, sizeof name, "t%d.example", i);
                assert_int_equal(addr_set_find(&s, name, 4, &got, &n), 1000 + i);
        }
        addr_set_clear(&s);
}

static void test_move_replaces_and_empties_the_source(void **state) {
        AddrSet a = {}, b = {};
        RecAddr x = v4(1, 5);
        const RecAddr *got;
        size_t n;

        assert_int_equal(addr_set_add(&a, "old.example", 4, 100, &x, 1), 0);
        assert_int_equal(addr_set_add(&b, "new.example", 4, 200, &x, 1), 0);
        addr_set_seal(&b);
        addr_set_move(&a, &b);
        assert_int_equal(addr_set_find(&a, "old.example", 4, &got, &n), 0);
        assert_int_equal(addr_set_find(&a, "new.example", 4, &got, &n), 200);
        assert_int_equal(b.n, 0);
        addr_set_clear(&a);
        addr_set_clear(&b);
        addr_set_clear(&b); /* clearing twice is harmless */
}

static void test_a_sealed_set_is_one_block_of_what_it_holds(void **state) {
        AddrSet s = {};
        RecAddr a[2] = { v4(1, 5), v4(2, 7) };
        char name[32];
        const RecAddr *got;
        size_t n, names = 0;

        /* A service's usual set: 4 targets, one address each. */
        for (int i = 0; i < 4; i++) {
                snprintf(name, sizeof name, "t%d.svc%d.example", i, 1234);
                names += strlen(name) + 1;
                assert_int_equal(addr_set_add(&s, name, 4, 100 + i, &a[i % 2], 1), 0);
        }
        addr_set_seal(&s);
        assert_true(s.packed);
        /* Names, addresses and 24-byte entries, a little alignment: nothing of the growth left. */
        size_t held = names + 4 * sizeof(RecAddr) + 4 * 24;
        assert_true(s.pool > (char *) s.e && s.pool + s.pool_used <= (char *) s.e + malloc_usable_size(s.e));
        assert_in_range(malloc_usable_size(s.e), held, held + 32);
        assert_int_equal(addr_set_find(&s, "t3.svc1234.example", 4, &got, &n), 103);
        assert_int_equal(n, 1);
        assert_int_equal(got[0].addr[3], 2);
        /* Sealed means final: an entry added now would not be found. */
        assert_int_equal(addr_set_add(&s, "late.example", 4, 1, a, 1), -EINVAL);
        assert_int_equal(s.n, 4);
        addr_set_clear(&s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_a_sealed_set_is_one_block_of_what_it_holds),
                cmocka_unit_test(test_an_entry_is_found_by_name_and_family_with_its_addresses),
                cmocka_unit_test(test_an_unknown_target_or_family_is_not_found_and_outputs_are_untouched),
                cmocka_unit_test(test_many_entries_grow_the_set),
                cmocka_unit_test(test_move_replaces_and_empties_the_source),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
