/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-maglev.c: daemon/maglev.c: balance, minimal disruption, weights, determinism, against an exact model of the paper. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "cache-def.h"
#include "maglev.h"

#define M 65537u

static uint16_t table[DD_HASH_TABLE_MAX], table2[DD_HASH_TABLE_MAX];

static void backends(MaglevInput *in, size_t n, uint32_t weight) {
        for (size_t i = 0; i < n; i++) {
                in[i] = (MaglevInput) { .target = "b.example.com", .family = 4, .port = 8080, .weight = weight,
                                        .index = (uint16_t) i };
                in[i].addr[0] = 10;
                in[i].addr[3] = (uint8_t) (i + 1);
        }
}

static void counts(const uint16_t *t, uint32_t size, uint32_t *c, size_t n) {
        memset(c, 0, n * sizeof(*c));
        for (uint32_t e = 0; e < size; e++) {
                assert_true(t[e] < n);
                c[t[e]]++;
        }
}

static void test_ten_equal_backends_share_entries_within_2_percent(void **state) {
        MaglevInput in[10];
        uint32_t c[10], max = 0;

        (void) state;
        backends(in, 10, 1);
        assert_int_equal(maglev_build(in, 10, M, table), 0);
        counts(table, M, c, 10);
        for (int i = 0; i < 10; i++)
                max = c[i] > max ? c[i] : max;
        print_message("# busiest backend: %.4f x the mean\n", max / (M / 10.0));
        assert_true(max <= 1.02 * M / 10.0);
}

static void test_removing_one_of_ten_moves_about_a_tenth_of_the_keys(void **state) {
        MaglevInput in[10];
        uint32_t moved = 0, others = 0;

        (void) state;
        backends(in, 10, 1);
        assert_int_equal(maglev_build(in, 10, M, table), 0);
        /* Backend 3 goes: the others keep their indices (the table stores them, not positions). */
        MaglevInput rest[9];
        memcpy(rest, in, 3 * sizeof(in[0]));
        memcpy(rest + 3, in + 4, 6 * sizeof(in[0]));
        assert_int_equal(maglev_build(rest, 9, M, table2), 0);
        for (uint32_t e = 0; e < M; e++) {
                assert_true(table2[e] != 3);
                moved += table[e] != table2[e];
                others += table[e] != 3 && table[e] != table2[e];
        }
        print_message("# moved %.4f of the keys (ideal 0.1), %.4f of the others'\n", moved / (double) M,
                      others / (double) M);
        assert_true(moved <= 1.1 * M / 10.0);
        assert_true(others <= M / 100);
}

static void test_weights_1_to_3_give_25_and_75_percent(void **state) {
        MaglevInput in[2];
        uint32_t c[2];

        (void) state;
        backends(in, 2, 1);
        in[1].weight = 3;
        assert_int_equal(maglev_build(in, 2, M, table), 0);
        counts(table, M, c, 2);
        print_message("# 1:3 -> %.3f / %.3f\n", c[0] / (double) M, c[1] / (double) M);
        assert_true(c[0] >= 0.24 * M && c[0] <= 0.26 * M);
        assert_true(c[1] >= 0.74 * M && c[1] <= 0.76 * M);
}

static void test_input_order_does_not_change_the_table(void **state) {
        MaglevInput in[7], rev[7];

        (void) state;
        backends(in, 7, 2);
        in[2].family = 6;
        in[2].addr[15] = 9;
        in[5].target = "other.example.com";
        for (int i = 0; i < 7; i++)
                rev[i] = in[6 - i];
        assert_int_equal(maglev_build(in, 7, 4093, table), 0);
        assert_int_equal(maglev_build(rev, 7, 4093, table2), 0);
        assert_memory_equal(table, table2, 4093 * sizeof(uint16_t));
        assert_int_equal(maglev_digest(in, 7, 4093), maglev_digest(rev, 7, 4093));
}

static void test_digest_follows_every_input(void **state) {
        MaglevInput in[3];
        uint64_t d;

        (void) state;
        backends(in, 3, 1);
        d = maglev_digest(in, 3, 4093);
        assert_int_not_equal(d, maglev_digest(in, 3, 4099));
        in[1].weight = 2;
        assert_int_not_equal(d, maglev_digest(in, 3, 4093));
        in[1].weight = 1;
        in[1].port++;
        assert_int_not_equal(d, maglev_digest(in, 3, 4093));
        in[1].port--;
        in[1].target = "c.example.com";
        assert_int_not_equal(d, maglev_digest(in, 3, 4093));
        in[1].target = "b.example.com";
        assert_int_equal(d, maglev_digest(in, 3, 4093));
}

/*
 * The paper's algorithm (Eisenbud et al., Pseudocode 1) for equal weights,
 * written from it independently: permutation[i][j] = (offset + j * skip) mod
 * M, members taking turns in a fixed order. With the same offsets, skips and
 * order it must give the very same table.
 */
static void test_equal_weights_match_the_papers_algorithm(void **state) {
        enum { N = 5, SIZE = 251 };
        MaglevInput in[N];
        uint32_t next[N] = {}, offset[N], skip[N];
        int32_t model[SIZE];
        uint32_t filled = 0;

        (void) state;
        backends(in, N, 1);
        assert_int_equal(maglev_build(in, N, SIZE, table), 0);
        /* Offsets and skips as docs/cache-format.md defines them; the members' order is their identity
         * order, and addresses 10.0.0.1..5 ascend as i does. */
        for (int i = 0; i < N; i++) {
                uint8_t id[64];
                size_t l = strlen(in[i].target);
                memcpy(id, in[i].target, l);
                id[l++] = 0;
                id[l++] = 4;
                memset(id + l, 0, 16);
                memcpy(id + l, in[i].addr, 4);
                l += 16;
                id[l++] = (uint8_t) (in[i].port >> 8);
                id[l++] = (uint8_t) in[i].port;
                offset[i] = (uint32_t) (XXH64(id, l, 0) % SIZE);
                skip[i] = (uint32_t) (XXH64(id, l, 1) % (SIZE - 1)) + 1;
        }
        for (int e = 0; e < SIZE; e++)
                model[e] = -1;
        while (filled < SIZE)
                for (int i = 0; i < N && filled < SIZE; i++) {
                        uint32_t c = (uint32_t) ((offset[i] + (uint64_t) next[i] * skip[i]) % SIZE);
                        while (model[c] >= 0) {
                                next[i]++;
                                c = (uint32_t) ((offset[i] + (uint64_t) next[i] * skip[i]) % SIZE);
                        }
                        model[c] = i;
                        next[i]++;
                        filled++;
                }
        for (int e = 0; e < SIZE; e++)
                assert_int_equal(table[e], model[e]);
}

static void test_bad_input_is_rejected(void **state) {
        MaglevInput in[2];

        (void) state;
        backends(in, 2, 1);
        assert_int_equal(maglev_build(in, 0, 251, table), -EINVAL);
        assert_int_equal(maglev_build(in, 2, 250, table), -EINVAL);
        assert_int_equal(maglev_build(in, 2, 65539, table), -EINVAL);
        in[0].weight = 0;
        assert_int_equal(maglev_build(in, 2, 251, table), -EINVAL);
        assert_false(maglev_is_prime(65535));
        assert_true(maglev_is_prime(65537));
        assert_true(maglev_is_prime(4093));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ten_equal_backends_share_entries_within_2_percent),
                cmocka_unit_test(test_removing_one_of_ten_moves_about_a_tenth_of_the_keys),
                cmocka_unit_test(test_weights_1_to_3_give_25_and_75_percent),
                cmocka_unit_test(test_input_order_does_not_change_the_table),
                cmocka_unit_test(test_digest_follows_every_input),
                cmocka_unit_test(test_equal_weights_match_the_papers_algorithm),
                cmocka_unit_test(test_bad_input_is_rejected),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
