/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-cache-writer-hash.c: daemon/cache-writer-hash.c: the Maglev table in a published extent, when it changes, and when it is reused. */
#include "client-fixture.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(dnsdisc *, dnsdisc_close);

/* The published table of the first slot, through a read-write mapping of the file. */
static uint16_t *table_of(const Fixture *f, dd_header **ret_h, size_t *ret_size, uint32_t *ret_entries) {
        dd_header *h = map_rw(f->path, ret_size);
        dd_service *slot = (dd_service *) dd_slot(h, 0);

        assert_int_equal(slot->hash_kind, DD_HASH_MAGLEV);
        assert_true(dd_hash_table_ok(slot->extent_size, slot->n_backends, slot->sched_len, slot->n_eligible,
                                     slot->hash_table_off, slot->hash_table_size));
        *ret_h = h;
        *ret_entries = slot->hash_table_size;
        return (uint16_t *) ((uint8_t *) h + slot->extent_offset + slot->hash_table_off);
}

static void test_entries_follow_the_schedules_weights(void **state) {
        Fixture *f = *state;
        unsigned n[2] = {};
        uint32_t entries;
        size_t size;
        dd_header *h;
        uint16_t *t;
        Set s;

        set_init(&s, "web", 1, 3);
        s.b[0].weight = 10;
        s.b[1].weight = 30;
        s.b[2].priority = 20; /* a backup tier: not in the schedule, not in the table */
        s.svc.hash_table_size = 65537;
        publish_to(f->w, &s);
        t = table_of(f, &h, &size, &entries);
        assert_int_equal(entries, 65537);
        for (uint32_t e = 0; e < entries; e++) {
                assert_true(t[e] < 2);
                n[t[e]]++;
        }
        assert_true(n[0] >= 0.24 * 65537 && n[0] <= 0.26 * 65537);
        munmap(h, size);
}

/* Issue 22 §2: a dual-stack target's record weight is split over its two addresses, in the table as in the schedule. */
static void test_a_records_weight_is_split_over_its_addresses(void **state) {
        static const uint16_t weights[4] = { 60, 60, 30, 10 };
        Fixture *f = *state;
        unsigned n[4] = {}, by_target[3];
        uint32_t entries;
        size_t size;
        dd_header *h;
        uint16_t *t;
        Set s;

        set_init(&s, "web", 1, 4);
        for (int i = 0; i < 4; i++) {
                s.b[i].source = DD_SOURCE_SRV;
                s.b[i].weight = weights[i];
        }
        s.b[1].target = s.b[0].target; /* one record: b1.set1.example, an A and an AAAA address */
        s.b[1].family = 6;
        memset(s.b[1].addr, 0, 16);
        s.b[1].addr[0] = 0xfd;
        s.svc.hash_table_size = 65537;
        publish_to(f->w, &s);
        t = table_of(f, &h, &size, &entries);
        for (uint32_t e = 0; e < entries; e++) {
                assert_true(t[e] < 4);
                n[t[e]]++;
        }
        munmap(h, size);
        by_target[0] = n[0] + n[1];
        by_target[1] = n[2];
        by_target[2] = n[3];
        print_message("# by target: %.3f %.3f %.3f\n", by_target[0] / 65537.0, by_target[1] / 65537.0,
                      by_target[2] / 65537.0);
        assert_true(by_target[0] >= 0.59 * 65537 && by_target[0] <= 0.61 * 65537);
        assert_true(by_target[1] >= 0.29 * 65537 && by_target[1] <= 0.31 * 65537);
        assert_true(by_target[2] >= 0.09 * 65537 && by_target[2] <= 0.11 * 65537);
}

static void test_ttl_only_publish_keeps_table_and_generation(void **state) {
        Fixture *f = *state;
        _cleanup_(dnsdisc_closep) dnsdisc *d = NULL;
        dnsdisc_endpoint a, b;
        dnsdisc_service *svc;
        uint32_t gen;
        Set s;

        set_init(&s, "web", 1, 4);
        s.svc.hash_table_size = 4093;
        svc = publish_and_open(f, &s, &d);
        gen = dnsdisc_generation(svc);
        assert_int_equal(dnsdisc_pick_hash(svc, 42, &a), 0);
        for (int i = 0; i < 4; i++)
                s.b[i].ttl_expiry_usec = 1000000 * (i + 1);
        assert_int_equal(cache_writer_publish(f->w, &s.svc), 0);
        assert_int_equal(dnsdisc_generation(svc), gen);
        assert_int_equal(dnsdisc_pick_hash(svc, 42, &b), 0);
        assert_int_equal(host_of(&a), host_of(&b));
}

static void test_unchanged_input_copies_the_published_table(void **state) {
        Fixture *f = *state;
        uint32_t entries;
        size_t size;
        dd_header *h;
        uint16_t *t, marked;
        Set s;

        set_init(&s, "web", 1, 4);
        s.svc.hash_table_size = 4093;
        publish_to(f->w, &s);
        t = table_of(f, &h, &size, &entries);
        /* A mark only a copy carries over: a rebuild would restore the computed entry. */
        marked = (uint16_t) ((t[0] + 1) % 4);
        t[0] = marked;
        munmap(h, size);
        s.b[0].ttl_expiry_usec = 123;
        publish_to(f->w, &s);
        t = table_of(f, &h, &size, &entries);
        assert_int_equal(t[0], marked);
        munmap(h, size);
        /* A change of the set rebuilds it. */
        s.b[3].health = DD_HEALTH_DOWN;
        publish_to(f->w, &s);
        s.b[3].health = DD_HEALTH_UP;
        publish_to(f->w, &s);
        t = table_of(f, &h, &size, &entries);
        assert_int_not_equal(t[0], marked);
        munmap(h, size);
}

static void test_new_table_size_bumps_the_generation(void **state) {
        Fixture *f = *state;
        _cleanup_(dnsdisc_closep) dnsdisc *d = NULL;
        dnsdisc_service *svc;
        dnsdisc_endpoint e;
        uint32_t gen, entries;
        Set s;

        set_init(&s, "web", 1, 4);
        s.svc.hash_table_size = 4093;
        svc = publish_and_open(f, &s, &d);
        gen = dnsdisc_generation(svc);
        s.svc.hash_table_size = 4099;
        assert_int_equal(cache_writer_publish(f->w, &s.svc), 1);
        assert_true(dnsdisc_generation(svc) != gen);
        assert_int_equal(dnsdisc_hash_table_size(svc, &entries), 0);
        assert_int_equal(entries, 4099);
        /* hash = off: the table goes, and picks by hash say so. */
        s.svc.hash_table_size = 0;
        assert_int_equal(cache_writer_publish(f->w, &s.svc), 1);
        assert_int_equal(dnsdisc_hash_table_size(svc, &entries), -EOPNOTSUPP);
        assert_int_equal(dnsdisc_pick_hash(svc, 1, &e), -EOPNOTSUPP);
}

static void test_invalid_table_size_is_refused(void **state) {
        Fixture *f = *state;
        Set s;

        set_init(&s, "web", 1, 2);
        s.svc.hash_table_size = 250;
        assert_int_equal(cache_writer_publish(f->w, &s.svc), -EINVAL);
        s.svc.hash_table_size = 65539;
        assert_int_equal(cache_writer_publish(f->w, &s.svc), -EINVAL);
}

int main(void) {
#define TEST(t) cmocka_unit_test_setup_teardown(t, fixture_setup, fixture_teardown)
        const struct CMUnitTest tests[] = {
                TEST(test_entries_follow_the_schedules_weights),
                TEST(test_a_records_weight_is_split_over_its_addresses),
                TEST(test_ttl_only_publish_keeps_table_and_generation),
                TEST(test_unchanged_input_copies_the_published_table),
                TEST(test_new_table_size_bumps_the_generation),
                TEST(test_invalid_table_size_is_refused),
        };
#undef TEST

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
