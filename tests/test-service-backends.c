/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-service-backends.c: unit tests of daemon/service-backends.c: building a set from a round's answers. */
#include <errno.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cache-def.h"
#include "service-backends.h"
#include "util.h"

/* The daemon's clock and the wall clock disagree: expiries must follow each on its own. */
#define BOOT ((int64_t) 1000 * USEC_PER_SEC)
#define WALL ((int64_t) 1700000000 * USEC_PER_SEC)
static const Instant NOW = { .boot = BOOT, .wall = WALL };

static Instant later(int64_t sec) {
        return (Instant) { .boot = BOOT + sec * (int64_t) USEC_PER_SEC, .wall = WALL + sec * (int64_t) USEC_PER_SEC };
}

static const ServiceSettings settings = {
        .min_ttl_usec = 5 * USEC_PER_SEC,
        .max_ttl_usec = 3600 * USEC_PER_SEC,
        .max_backends = 64,
};

static RecAddr v4(uint8_t last, uint32_t ttl) {
        return (RecAddr) { .family = 4, .addr = { 10, 0, 0, last }, .ttl = ttl };
}

static SetEntry srv(const char *target, uint16_t priority, uint16_t weight, uint16_t port, const RecAddr *a, size_t n) {
        return (SetEntry) { .target = target, .srv = true, .port = port, .priority = priority, .weight = weight,
                            .ttl = UINT32_MAX, .addrs = a, .n_addrs = n };
}

static void build(const SetEntry *e, size_t n, const BackendSet *previous, const ServiceSettings *st,
                  BackendSet *ret, uint64_t *ret_min_ttl, bool *ret_capped) {
        static const BackendSet none = {};
        uint64_t min_ttl;
        bool capped;
        assert_int_equal(backend_set_build(e, n, previous ? previous : &none, st, NOW, ret, &min_ttl, &capped), 0);
        if (ret_min_ttl)
                *ret_min_ttl = min_ttl;
        if (ret_capped)
                *ret_capped = capped;
}

static void test_backends_of_an_srv_record_carry_its_port_priority_and_weight(void **state) {
        RecAddr a[] = { v4(1, 30), v4(2, 30) };
        SetEntry e[] = { srv("a.example", 1, 60, 8080, a, 2) };
        BackendSet set;
        build(e, 1, NULL, &settings, &set, NULL, NULL);
        assert_int_equal(set.n, 2);
        for (size_t i = 0; i < 2; i++) {
                assert_int_equal(set.b[i].port, 8080);
                assert_int_equal(set.b[i].priority, 1);
                assert_int_equal(set.b[i].weight, 60);
                assert_int_equal(set.b[i].source, DD_SOURCE_SRV);
                assert_string_equal(set.b[i].target, "a.example");
                assert_int_equal(set.b[i].expiry_usec, BOOT + 30 * (int64_t) USEC_PER_SEC);
                assert_int_equal(set.b[i].ttl_expiry_usec, WALL + 30 * (int64_t) USEC_PER_SEC);
        }
        assert_null(set.monitors);
        backend_set_clear(&set);
}

/* A set lives as long as its service: it holds its backends, not max-backends slots (10,000 services
 * of 4 backends kept 64 slots each, 110 MiB of dnsdiscd's RSS). */
static void test_a_published_set_holds_only_its_backends(void **state) {
        RecAddr a[] = { v4(1, 30), v4(2, 30), v4(3, 30), v4(4, 30) };
        SetEntry e[] = { srv("a.example", 1, 60, 8080, a, 4) };
        BackendSet set;
        build(e, 1, NULL, &settings, &set, NULL, NULL);
        assert_int_equal(set.n, 4);
        assert_true(malloc_usable_size(set.b) < 8 * sizeof(Backend));
        backend_set_clear(&set);
}

static void test_an_endpoint_shared_by_two_targets_is_kept_once_at_its_lowest_priority(void **state) {
        RecAddr a[] = { v4(1, 30) };
        SetEntry e[] = { srv("b.example", 5, 1, 80, a, 1), srv("a.example", 1, 1, 80, a, 1) };
        BackendSet set;
        bool capped;
        build(e, 2, NULL, &settings, &set, NULL, &capped);
        assert_int_equal(set.n, 1);
        assert_false(capped);
        assert_int_equal(set.b[0].priority, 1);
        assert_string_equal(set.b[0].target, "a.example");
        backend_set_clear(&set);
}

static void test_set_order_does_not_depend_on_the_answers_order(void **state) {
        RecAddr a[] = { v4(3, 30) }, b[] = { v4(2, 30), v4(1, 30) }, c[] = { v4(9, 30) };
        SetEntry e1[] = { srv("b.example", 0, 1, 80, b, 2), srv("a.example", 0, 1, 80, a, 1),
                          srv("c.example", 2, 1, 80, c, 1) };
        SetEntry e2[] = { srv("c.example", 2, 1, 80, c, 1), srv("a.example", 0, 1, 80, a, 1),
                          srv("b.example", 0, 1, 80, b, 2) };
        BackendSet s1, s2;
        build(e1, 3, NULL, &settings, &s1, NULL, NULL);
        build(e2, 3, NULL, &settings, &s2, NULL, NULL);
        assert_int_equal(s1.n, 4);
        assert_int_equal(s2.n, 4);
        for (size_t i = 0; i < 4; i++) {
                assert_string_equal(s1.b[i].target, s2.b[i].target);
                assert_memory_equal(s1.b[i].addr, s2.b[i].addr, 16);
        }
        /* Priority first, then target: c (priority 2) last. */
        assert_string_equal(s1.b[0].target, "a.example");
        assert_string_equal(s1.b[3].target, "c.example");
        backend_set_clear(&s1);
        backend_set_clear(&s2);
}

static void test_max_backends_keeps_the_lowest_priorities(void **state) {
        RecAddr a[] = { v4(1, 30), v4(2, 30) }, b[] = { v4(3, 30), v4(4, 30) };
        SetEntry e[] = { srv("backup.example", 10, 1, 80, b, 2), srv("main.example", 0, 1, 80, a, 2) };
        ServiceSettings st = settings;
        st.max_backends = 3;
        BackendSet set;
        bool capped;
        build(e, 2, NULL, &st, &set, NULL, &capped);
        assert_true(capped);
        assert_int_equal(set.n, 3);
        assert_int_equal(set.b[0].priority, 0);
        assert_int_equal(set.b[1].priority, 0);
        assert_int_equal(set.b[2].priority, 10);
        backend_set_clear(&set);
}

static void test_max_backends_keeps_the_highest_weights_within_a_priority(void **state) {
        RecAddr a[] = { v4(1, 30) }, b[] = { v4(2, 30) }, c[] = { v4(3, 30) };
        SetEntry e[] = { srv("a.example", 0, 10, 80, a, 1), srv("b.example", 0, 90, 80, b, 1),
                         srv("c.example", 1, 100, 80, c, 1) };
        ServiceSettings st = settings;
        st.max_backends = 1;
        BackendSet set;
        build(e, 3, NULL, &st, &set, NULL, NULL);
        assert_int_equal(set.n, 1);
        assert_string_equal(set.b[0].target, "b.example");
        backend_set_clear(&set);
}

/* 1,000 SRV records to one target of 1,000 addresses: a million candidates, built without
 * allocating for them (a cross product of 64-byte backends would be 64 MB: the test's
 * malloc would still succeed, so what is checked is the result and that it returns at all
 * under the sanitizers' time; the benchmark measures memory and CPU). */
static void test_a_cross_product_is_capped_while_building(void **state) {
        RecAddr *a = calloc(1000, sizeof *a);
        SetEntry *e = calloc(1000, sizeof *e);
        bool capped;
        BackendSet set;

        assert_non_null(a);
        assert_non_null(e);
        for (unsigned i = 0; i < 1000; i++)
                a[i] = (RecAddr) { .family = 4, .addr = { 10, 1, (uint8_t) (i >> 8), (uint8_t) i }, .ttl = 30 };
        for (unsigned i = 0; i < 1000; i++)
                e[i] = srv("t.example", (uint16_t) (i % 3), (uint16_t) (1 + i % 7), (uint16_t) (1000 + i), a, 1000);
        build(e, 1000, NULL, &settings, &set, NULL, &capped);
        assert_true(capped);
        assert_int_equal(set.n, settings.max_backends);
        /* Priority 0, weight 7: ports 1006, 1027, ...; the first of them (1006) fills the set. */
        for (size_t i = 0; i < set.n; i++) {
                assert_int_equal(set.b[i].priority, 0);
                assert_int_equal(set.b[i].weight, 7);
                assert_int_equal(set.b[i].port, 1006);
        }
        backend_set_clear(&set);
        free(a);
        free(e);
}

static void test_duplicate_endpoints_do_not_use_up_max_backends(void **state) {
        RecAddr a[] = { v4(1, 30), v4(2, 30) }, b[] = { v4(1, 30), v4(2, 30), v4(3, 30) };
        SetEntry e[] = { srv("a.example", 0, 1, 80, a, 2), srv("b.example", 0, 1, 80, b, 3) };
        ServiceSettings st = settings;
        st.max_backends = 3;
        BackendSet set;
        bool capped;
        build(e, 2, NULL, &st, &set, NULL, &capped);
        assert_int_equal(set.n, 3);
        assert_false(capped);
        assert_int_equal(set.b[2].addr[3], 3);
        assert_string_equal(set.b[2].target, "b.example");
        backend_set_clear(&set);
}

static void test_refresh_ttl_is_the_smallest_clamped_ttl(void **state) {
        RecAddr a[] = { v4(1, 300), v4(2, 2) }, b[] = { v4(3, 100) };
        SetEntry e[] = { srv("a.example", 0, 1, 80, a, 2), srv("b.example", 0, 1, 80, b, 1) };
        BackendSet set;
        uint64_t min_ttl;
        build(e, 2, NULL, &settings, &set, &min_ttl, NULL);
        assert_int_equal(min_ttl, settings.min_ttl_usec); /* 2 s clamped up to min-ttl */
        backend_set_clear(&set);

        /* The SRV record's (and CNAMEs') TTL bounds its addresses'. */
        e[0].ttl = 20;
        e[0].n_addrs = 1;
        build(e, 2, NULL, &settings, &set, &min_ttl, NULL);
        assert_int_equal(min_ttl, 20 * USEC_PER_SEC);
        assert_int_equal(set.b[0].expiry_usec, BOOT + 20 * (int64_t) USEC_PER_SEC);
        backend_set_clear(&set);
}

static void test_a_target_that_failed_transiently_keeps_its_previous_backends(void **state) {
        RecAddr a[] = { v4(1, 300) }, b[] = { v4(2, 300), v4(3, 300) };
        SetEntry e[] = { srv("a.example", 0, 1, 80, a, 1), srv("b.example", 0, 1, 80, b, 2) };
        BackendSet previous, set;
        build(e, 2, NULL, &settings, &previous, NULL, NULL);
        assert_int_equal(previous.n, 3);
        /* 100 s later b's address queries time out: its two backends stay, with their expiry. */
        SetEntry e2[] = { srv("a.example", 0, 1, 80, a, 1), srv("b.example", 0, 1, 80, NULL, 0) };
        e2[1].keep_previous = true;
        uint64_t min_ttl;
        assert_int_equal(backend_set_build(e2, 2, &previous, &settings, later(100), &set,
                                           &min_ttl, &(bool) { false }),
                         0);
        assert_int_equal(set.n, 3);
        assert_int_equal(min_ttl, 200 * USEC_PER_SEC); /* what is left of b's TTL */
        assert_string_equal(set.b[1].target, "b.example");
        assert_int_equal(set.b[1].expiry_usec, BOOT + 300 * (int64_t) USEC_PER_SEC);
        assert_int_equal(set.b[1].ttl_expiry_usec, WALL + 300 * (int64_t) USEC_PER_SEC);
        /* Matched by port too: another record's port for the same target keeps nothing. */
        e2[1].port = 81;
        BackendSet other;
        assert_int_equal(backend_set_build(e2, 2, &previous, &settings, NOW, &other, &min_ttl, &(bool) { false }), 0);
        assert_int_equal(other.n, 1);
        backend_set_clear(&other);
        backend_set_clear(&set);
        backend_set_clear(&previous);
}

static void test_unchecked_backends_are_up_when_installed(void **state) {
        RecAddr a[] = { v4(1, 30) };
        SetEntry e[] = { srv("a.example", 0, 1, 80, a, 1) };
        ServiceConfig cfg = { .name = (char *) "svc", .s = settings };
        cfg.s.check = CHECK_NONE;
        BackendSet cur = {}, next;
        build(e, 1, NULL, &settings, &next, NULL, NULL);
        assert_int_equal(next.b[0].health, DD_HEALTH_UNKNOWN);
        backend_set_replace(&cur, &next, NULL, &cfg, NULL, NULL);
        assert_int_equal(next.n, 0);
        assert_null(next.b);
        assert_int_equal(cur.n, 1);
        assert_int_equal(cur.b[0].health, DD_HEALTH_UP);
        assert_int_equal(backend_set_find_monitor(&cur, NULL), -1);
        backend_set_clear(&cur);
        assert_int_equal(cur.n, 0);
}

static void test_a_copy_owns_its_target_names(void **state) {
        Backend b[2] = { { .family = 4, .port = 1, .target = (char *) "x.example" }, { .family = 4, .port = 2 } };
        BackendSet copy;
        assert_int_equal(backend_set_copy(b, 2, &copy), 0);
        assert_int_equal(copy.n, 2);
        assert_ptr_not_equal(copy.b[0].target, b[0].target);
        assert_string_equal(copy.b[0].target, "x.example");
        assert_string_equal(copy.b[1].target, ""); /* a missing name reads as empty */
        backend_set_clear(&copy);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_backends_of_an_srv_record_carry_its_port_priority_and_weight),
                cmocka_unit_test(test_a_published_set_holds_only_its_backends),
                cmocka_unit_test(test_an_endpoint_shared_by_two_targets_is_kept_once_at_its_lowest_priority),
                cmocka_unit_test(test_set_order_does_not_depend_on_the_answers_order),
                cmocka_unit_test(test_max_backends_keeps_the_lowest_priorities),
                cmocka_unit_test(test_max_backends_keeps_the_highest_weights_within_a_priority),
                cmocka_unit_test(test_a_cross_product_is_capped_while_building),
                cmocka_unit_test(test_duplicate_endpoints_do_not_use_up_max_backends),
                cmocka_unit_test(test_refresh_ttl_is_the_smallest_clamped_ttl),
                cmocka_unit_test(test_a_target_that_failed_transiently_keeps_its_previous_backends),
                cmocka_unit_test(test_unchecked_backends_are_up_when_installed),
                cmocka_unit_test(test_a_copy_owns_its_target_names),
        };
        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
