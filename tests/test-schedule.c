/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-schedule.c: pick schedules (priority, weights, weight 0, scaling, panic) from daemon/schedule.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cache-def.h"
#include "schedule.h"
#include "util.h"

static Schedule sched; /* 10 KiB: off the stack */

static SchedInput up(uint16_t priority, uint16_t weight) {
        return (SchedInput) { .priority = priority, .weight = weight, .healthy = true };
}

static SchedInput down(uint16_t priority, uint16_t weight) {
        return (SchedInput) { .priority = priority, .weight = weight, .healthy = false };
}

static size_t slots_of(const Schedule *s, uint16_t backend) {
        size_t n = 0;
        for (size_t i = 0; i < s->len; i++)
                n += s->slots[i] == backend;
        return n;
}

/* eligible[] must be exactly the distinct backends of the schedule, ascending. */
static void assert_eligible_consistent(const Schedule *s, size_t n_backends) {
        bool present[DD_BACKENDS_MAX] = {};
        size_t distinct = 0;

        assert_true(s->len <= DD_SCHED_MAX);
        for (size_t i = 0; i < s->len; i++) {
                assert_true(s->slots[i] < n_backends);
                if (!present[s->slots[i]])
                        distinct++;
                present[s->slots[i]] = true;
        }
        assert_int_equal(s->n_eligible, distinct);
        for (size_t i = 0; i < s->n_eligible; i++) {
                assert_true(present[s->eligible[i]]);
                if (i > 0)
                        assert_true(s->eligible[i - 1] < s->eligible[i]);
        }
}

static void test_weights_1_3_exact_over_a_cycle(void **state) {
        SchedInput in[] = { up(0, 1), up(0, 3) };

        assert_int_equal(schedule_build(in, 2, true, &sched), 0);
        assert_int_equal(sched.len, 4);
        assert_int_equal(slots_of(&sched, 0), 1);
        assert_int_equal(slots_of(&sched, 1), 3);
        assert_false(sched.panic);
        assert_eligible_consistent(&sched, 2);
}

static void test_equal_weights_never_repeat_a_backend(void **state) {
        SchedInput in[] = { up(0, 7), up(0, 7) };

        assert_int_equal(schedule_build(in, 2, true, &sched), 0);
        assert_int_equal(sched.len, 2);
        /* Cyclically too: picks wrap around the schedule. */
        for (size_t i = 0; i < sched.len; i++)
                assert_int_not_equal(sched.slots[i], sched.slots[(i + 1) % sched.len]);
}

static void test_weights_1_3_single_slot_is_surrounded(void **state) {
        SchedInput in[] = { up(0, 3), up(0, 1) };
        size_t at = SIZE_MAX;

        assert_int_equal(schedule_build(in, 2, true, &sched), 0);
        assert_int_equal(sched.len, 4);
        for (size_t i = 0; i < sched.len; i++)
                if (sched.slots[i] == 1)
                        at = i;
        assert_true(at < sched.len);
        assert_int_equal(sched.slots[(at + 1) % sched.len], 0);
        assert_int_equal(sched.slots[(at + sched.len - 1) % sched.len], 0);
}

static void test_smooth_interleaving_spreads_heavy_backend(void **state) {
        /* 5:1:1 in runs would be aaaaabc; smooth WRR never puts the light ones together. */
        SchedInput in[] = { up(0, 5), up(0, 1), up(0, 1) };

        assert_int_equal(schedule_build(in, 3, true, &sched), 0);
        assert_int_equal(sched.len, 7);
        for (size_t i = 0; i < sched.len; i++)
                if (sched.slots[i] != 0)
                        assert_int_equal(sched.slots[(i + 1) % sched.len], 0);
}

static void test_gcd_reduces_the_cycle(void **state) {
        SchedInput three[] = { up(0, 10), up(0, 10), up(0, 10) };
        SchedInput scaled[] = { up(0, 20), up(0, 60) };
        SchedInput plain[] = { up(0, 1), up(0, 3) };
        Schedule *reduced = malloc(sizeof *reduced);

        assert_non_null(reduced);
        assert_int_equal(schedule_build(three, 3, true, &sched), 0);
        assert_int_equal(sched.len, 3);
        for (uint16_t b = 0; b < 3; b++)
                assert_int_equal(slots_of(&sched, b), 1);

        assert_int_equal(schedule_build(scaled, 2, true, reduced), 0);
        assert_int_equal(schedule_build(plain, 2, true, &sched), 0);
        assert_int_equal(reduced->len, 4);
        assert_memory_equal(reduced->slots, sched.slots, 4 * sizeof(uint16_t));
        free(reduced);
}

static void test_lowest_healthy_priority_wins(void **state) {
        SchedInput in[] = { up(20, 1), up(10, 1), up(10, 2), up(30, 5) };

        assert_int_equal(schedule_build(in, 4, true, &sched), 0);
        assert_int_equal(slots_of(&sched, 0), 0);
        assert_int_equal(slots_of(&sched, 1), 1);
        assert_int_equal(slots_of(&sched, 2), 2);
        assert_int_equal(slots_of(&sched, 3), 0);
        assert_int_equal(sched.n_eligible, 2);
        assert_eligible_consistent(&sched, 4);
}

static void test_unhealthy_priority_is_skipped(void **state) {
        SchedInput in[] = { down(0, 1), down(0, 1), up(1, 1), up(2, 1) };

        assert_int_equal(schedule_build(in, 4, true, &sched), 0);
        assert_int_equal(sched.len, 1);
        assert_int_equal(sched.slots[0], 2);
        assert_false(sched.panic);
}

static void test_priority_returns_when_healthy_again(void **state) {
        SchedInput in[] = { down(0, 1), up(1, 1) };

        assert_int_equal(schedule_build(in, 2, true, &sched), 0);
        assert_int_equal(sched.slots[0], 1);

        in[0].healthy = true;
        assert_int_equal(schedule_build(in, 2, true, &sched), 0);
        assert_int_equal(sched.len, 1);
        assert_int_equal(sched.slots[0], 0);
        assert_int_equal(sched.n_eligible, 1);
        assert_int_equal(sched.eligible[0], 0);
}

static void test_weight_zero_only_as_last_resort_of_its_priority(void **state) {
        SchedInput in[] = { up(0, 0), up(0, 5), up(0, 0), up(1, 9) };

        /* A positive weight at the priority shuts weight 0 out. */
        assert_int_equal(schedule_build(in, 4, true, &sched), 0);
        assert_int_equal(sched.len, 1);
        assert_int_equal(sched.slots[0], 1);

        /* Without it, the weight-0 ones share equally, before any other priority. */
        in[1].healthy = false;
        assert_int_equal(schedule_build(in, 4, true, &sched), 0);
        assert_int_equal(sched.len, 2);
        assert_int_equal(slots_of(&sched, 0), 1);
        assert_int_equal(slots_of(&sched, 2), 1);
        assert_int_equal(slots_of(&sched, 3), 0);
        assert_false(sched.panic);
        assert_eligible_consistent(&sched, 4);
}

static void test_full_range_distinguishes_256_and_257(void **state) {
        SchedInput in[] = { up(0, 256), up(0, 257) };

        /* HAProxy's (w + 255) / 256 would make these equal. */
        assert_int_equal(schedule_build(in, 2, true, &sched), 0);
        assert_int_equal(sched.len, 513);
        assert_int_equal(slots_of(&sched, 0), 256);
        assert_int_equal(slots_of(&sched, 1), 257);
}

static void test_full_range_keeps_1_beside_65535(void **state) {
        SchedInput in[] = { up(0, 1), up(0, 65535) };

        assert_int_equal(schedule_build(in, 2, true, &sched), 0);
        assert_true(sched.len <= DD_SCHED_MAX);
        assert_int_equal(slots_of(&sched, 0), 1);
        assert_int_equal(slots_of(&sched, 1), sched.len - 1);
        assert_int_equal(sched.n_eligible, 2);
}

/* Deterministic generator (xorshift64*): the same trials on every run. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void) {
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * 0x2545f4914f6cdd1dULL;
}

static void check_random_trial(size_t n) {
        SchedInput in[DD_BACKENDS_MAX];
        uint64_t total = 0;

        for (size_t i = 0; i < n; i++) {
                /* Mostly large weights so that the sum exceeds DD_SCHED_MAX, some small and some 0. */
                uint64_t r = rng();
                uint16_t w = r % 10 == 0 ? 0 : r % 10 == 1 ? (uint16_t) (1 + (r >> 8) % 16) : (uint16_t) (1 + (r >> 8) % 65535);
                in[i] = up(0, w);
                total += w;
        }
        if (total == 0) {
                in[0].weight = 1;
                total = 1;
        }

        assert_int_equal(schedule_build(in, n, true, &sched), 0);
        assert_true(sched.len > 0 && sched.len <= DD_SCHED_MAX);
        assert_eligible_consistent(&sched, n);
        for (size_t i = 0; i < n; i++) {
                size_t got = slots_of(&sched, (uint16_t) i);
                if (in[i].weight == 0) {
                        assert_int_equal(got, 0);
                        continue;
                }
                assert_true(got >= 1);
                double share = (double) got / (double) sched.len;
                double want = (double) in[i].weight / (double) total;
                if (share - want > 0.01 || want - share > 0.01)
                        fail_msg("backend %zu of %zu: weight share %.5f, schedule share %.5f", i, n, want, share);
        }
}

static void test_scaling_keeps_every_weight_and_shares_within_a_point(void **state) {
        for (unsigned trial = 0; trial < 400; trial++)
                check_random_trial(2 + rng() % 63);
        /* Large sets cost DD_SCHED_MAX * n steps each: a few suffice. */
        for (unsigned trial = 0; trial < 6; trial++)
                check_random_trial(512 + rng() % (DD_BACKENDS_MAX - 511));
}

static void test_scaling_fills_the_whole_schedule(void **state) {
        SchedInput in[] = { up(0, 65535), up(0, 65534), up(0, 3) };

        assert_int_equal(schedule_build(in, 3, true, &sched), 0);
        /* 131072 in total, no common factor: apportioned to exactly DD_SCHED_MAX slots. */
        assert_int_equal(sched.len, DD_SCHED_MAX);
        assert_int_equal(slots_of(&sched, 0) + slots_of(&sched, 1) + slots_of(&sched, 2), DD_SCHED_MAX);
        assert_int_equal(slots_of(&sched, 2), 1);
}

static void test_panic_merges_every_priority(void **state) {
        SchedInput in[] = { down(0, 1), down(1, 3), down(2, 0) };

        assert_int_equal(schedule_build(in, 3, true, &sched), 0);
        assert_true(sched.panic);
        assert_int_equal(sched.len, 5);
        assert_int_equal(slots_of(&sched, 0), 1);
        assert_int_equal(slots_of(&sched, 1), 3);
        assert_int_equal(slots_of(&sched, 2), 1); /* panic holds every backend; weight 0 counts as 1 */
        assert_eligible_consistent(&sched, 3);
}

static void test_panic_with_only_weight_zero_shares_equally(void **state) {
        SchedInput in[] = { down(0, 0), down(5, 0), down(9, 0) };

        assert_int_equal(schedule_build(in, 3, true, &sched), 0);
        assert_true(sched.panic);
        assert_int_equal(sched.len, 3);
        assert_int_equal(sched.n_eligible, 3);
}

static void test_panic_off_gives_empty_schedule(void **state) {
        SchedInput in[] = { down(0, 1), down(1, 3) };

        assert_int_equal(schedule_build(in, 2, false, &sched), 0);
        assert_false(sched.panic);
        assert_int_equal(sched.len, 0);
        assert_int_equal(sched.n_eligible, 0);
}

static void test_no_backends_gives_empty_schedule(void **state) {
        assert_int_equal(schedule_build(NULL, 0, true, &sched), 0);
        assert_int_equal(sched.len, 0);
        assert_int_equal(sched.n_eligible, 0);
        assert_false(sched.panic);
}

static void test_too_many_backends_is_einval(void **state) {
        static SchedInput in[DD_BACKENDS_MAX + 1];

        for (size_t i = 0; i < ELEMENTSOF(in); i++)
                in[i] = up(0, 1);
        sched.len = 12345;
        assert_int_equal(schedule_build(in, DD_BACKENDS_MAX + 1, true, &sched), -EINVAL);
        assert_int_equal(sched.len, 12345); /* untouched on failure */
        assert_int_equal(schedule_build(in, DD_BACKENDS_MAX, true, &sched), 0);
        assert_int_equal(sched.len, DD_BACKENDS_MAX);
}

static SchedInput rec(uint16_t weight, uint32_t record, bool healthy) {
        return (SchedInput) { .priority = 0, .weight = weight, .healthy = healthy, .record = record };
}

/* Slots of the backends of one record. */
static size_t slots_of_record(const Schedule *s, const SchedInput *in, uint32_t record) {
        size_t n = 0;
        for (size_t i = 0; i < s->len; i++)
                n += in[s->slots[i]].record == record;
        return n;
}

static void test_dual_stack_target_keeps_its_records_share_60_30_10(void **state) {
        /* The README's zone: the 60 target has an A and an AAAA record. */
        SchedInput in[] = { rec(60, 1, true), rec(60, 1, true), rec(30, 2, true), rec(10, 3, true) };

        assert_int_equal(schedule_build(in, 4, true, &sched), 0);
        assert_int_equal(sched.len, 10);
        assert_int_equal(slots_of_record(&sched, in, 1), 6);
        assert_int_equal(slots_of_record(&sched, in, 2), 3);
        assert_int_equal(slots_of_record(&sched, in, 3), 1);
        assert_int_equal(slots_of(&sched, 0), 3);
        assert_int_equal(slots_of(&sched, 1), 3);
        assert_eligible_consistent(&sched, 4);
}

static void test_records_share_exactly_for_any_mix_of_address_counts(void **state) {
        /* 1, 2, 3 and 5 addresses, weights 7/5/3/1: each record's slots are its exact weight share,
         * and its addresses share its slots equally. */
        SchedInput in[11];
        const size_t count[] = { 1, 2, 3, 5 };
        const uint16_t weight[] = { 7, 5, 3, 1 };
        size_t n = 0;
        for (uint32_t r = 0; r < 4; r++)
                for (size_t a = 0; a < count[r]; a++)
                        in[n++] = rec(weight[r], r + 1, true);

        assert_int_equal(schedule_build(in, n, true, &sched), 0);
        for (uint32_t r = 0; r < 4; r++)
                assert_int_equal(slots_of_record(&sched, in, r + 1) * 16, sched.len * weight[r]);
        for (size_t i = 1; i < n; i++)
                if (in[i].record == in[i - 1].record)
                        assert_int_equal(slots_of(&sched, (uint16_t) i), slots_of(&sched, (uint16_t) (i - 1)));
        assert_eligible_consistent(&sched, n);
}

static void test_a_records_weight_goes_to_its_healthy_addresses(void **state) {
        /* The AAAA of the 60 target is down: its A carries the whole record. */
        SchedInput in[] = { rec(60, 1, true), rec(60, 1, false), rec(30, 2, true), rec(10, 3, true) };

        assert_int_equal(schedule_build(in, 4, true, &sched), 0);
        assert_int_equal(sched.len, 10);
        assert_int_equal(slots_of(&sched, 0), 6);
        assert_int_equal(slots_of(&sched, 1), 0);
        assert_int_equal(slots_of(&sched, 2), 3);
}

static void test_weight_zero_records_share_equally_by_record(void **state) {
        SchedInput in[] = { rec(0, 1, true), rec(0, 1, true), rec(0, 2, true) };

        assert_int_equal(schedule_build(in, 3, true, &sched), 0);
        assert_int_equal(slots_of_record(&sched, in, 1), slots_of_record(&sched, in, 2));
        assert_int_equal(slots_of(&sched, 0), slots_of(&sched, 1));
}

static void test_record_zero_is_a_record_of_its_own(void **state) {
        SchedInput in[] = { rec(1, 0, true), rec(1, 0, true), rec(1, 0, true) };

        assert_int_equal(schedule_build(in, 3, true, &sched), 0);
        assert_int_equal(sched.len, 3);
        for (uint16_t i = 0; i < 3; i++)
                assert_int_equal(slots_of(&sched, i), 1);
}

static void test_panic_splits_a_records_weight_too(void **state) {
        SchedInput in[] = { rec(60, 1, false), rec(60, 1, false), rec(30, 2, false), rec(10, 3, false) };

        assert_int_equal(schedule_build(in, 4, true, &sched), 0);
        assert_true(sched.panic);
        assert_int_equal(slots_of_record(&sched, in, 1) * 10, sched.len * 6);
}

static void test_many_coprime_address_counts_stay_within_a_slot(void **state) {
        /* Address counts 1..44 (lcm far beyond the cap), equal weights: every record's share is
         * 1/44 of the schedule within a slot or two. */
        static SchedInput in[DD_BACKENDS_MAX];
        size_t n = 0;
        for (uint32_t r = 1; r <= 44 && n < DD_BACKENDS_MAX; r++)
                for (uint32_t a = 0; a < r && n < DD_BACKENDS_MAX; a++)
                        in[n++] = rec(100, r, true);
        assert_int_equal(n, 990);

        assert_int_equal(schedule_build(in, n, true, &sched), 0);
        assert_int_equal(sched.len, DD_SCHED_MAX);
        for (uint32_t r = 1; r <= 44; r++) {
                double share = (double) slots_of_record(&sched, in, r) / (double) sched.len;
                assert_true(share > 1.0 / 44 - 2.0 * r / DD_SCHED_MAX);
                assert_true(share < 1.0 / 44 + 2.0 * r / DD_SCHED_MAX);
        }
        assert_eligible_consistent(&sched, n);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_weights_1_3_exact_over_a_cycle),
                cmocka_unit_test(test_equal_weights_never_repeat_a_backend),
                cmocka_unit_test(test_weights_1_3_single_slot_is_surrounded),
                cmocka_unit_test(test_smooth_interleaving_spreads_heavy_backend),
                cmocka_unit_test(test_gcd_reduces_the_cycle),
                cmocka_unit_test(test_lowest_healthy_priority_wins),
                cmocka_unit_test(test_unhealthy_priority_is_skipped),
                cmocka_unit_test(test_priority_returns_when_healthy_again),
                cmocka_unit_test(test_weight_zero_only_as_last_resort_of_its_priority),
                cmocka_unit_test(test_full_range_distinguishes_256_and_257),
                cmocka_unit_test(test_full_range_keeps_1_beside_65535),
                cmocka_unit_test(test_scaling_keeps_every_weight_and_shares_within_a_point),
                cmocka_unit_test(test_scaling_fills_the_whole_schedule),
                cmocka_unit_test(test_panic_merges_every_priority),
                cmocka_unit_test(test_panic_with_only_weight_zero_shares_equally),
                cmocka_unit_test(test_panic_off_gives_empty_schedule),
                cmocka_unit_test(test_no_backends_gives_empty_schedule),
                cmocka_unit_test(test_too_many_backends_is_einval),
                cmocka_unit_test(test_dual_stack_target_keeps_its_records_share_60_30_10),
                cmocka_unit_test(test_records_share_exactly_for_any_mix_of_address_counts),
                cmocka_unit_test(test_a_records_weight_goes_to_its_healthy_addresses),
                cmocka_unit_test(test_weight_zero_records_share_equally_by_record),
                cmocka_unit_test(test_record_zero_is_a_record_of_its_own),
                cmocka_unit_test(test_panic_splits_a_records_weight_too),
                cmocka_unit_test(test_many_coprime_address_counts_stay_within_a_slot),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
