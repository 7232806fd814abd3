/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-pick-hash.c: libclient/pick-hash.c: dnsdisc_hash() and dnsdisc_pick_hash() over tables a real writer publishes. */
#include "client-fixture.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#define KEYS 10000

DEFINE_TRIVIAL_CLEANUP_FUNC(dnsdisc *, dnsdisc_close);

/* The hash of key number k: dnsdisc_hash("key-K"). */
static uint64_t key_hash(unsigned k) {
        char buf[32];
        int l = snprintf(buf, sizeof buf, "key-%u", k);

        return dnsdisc_hash(buf, (size_t) l);
}

/* Host byte per key, for KEYS keys. */
static void map_keys(dnsdisc_service *s, uint8_t *ret) {
        for (unsigned k = 0; k < KEYS; k++) {
                dnsdisc_endpoint e;

                assert_int_equal(dnsdisc_pick_hash(s, key_hash(k), &e), 0);
                ret[k] = (uint8_t) host_of(&e);
        }
}

static void test_hash_is_xxh64_with_seed_0(void **state) {
        (void) state;
        assert_true(dnsdisc_hash(NULL, 0) == UINT64_C(0xef46db3751d8e999));
        assert_true(dnsdisc_hash("user42", 6) == XXH64("user42", 6, 0));
}

static void test_service_without_table_is_eopnotsupp(void **state) {
        Fixture *f = *state;
        _cleanup_(dnsdisc_closep) dnsdisc *d = NULL;
        dnsdisc_endpoint e;

        assert_int_equal(dnsdisc_pick_hash(open_web(f, 1, 3, &d), 1, &e), -EOPNOTSUPP);
}

static void test_table_without_backends_is_ehostunreach(void **state) {
        Fixture *f = *state;
        _cleanup_(dnsdisc_closep) dnsdisc *d = NULL;
        dnsdisc_endpoint e;
        Set s;

        set_init(&s, "web", 1, 0);
        s.svc.hash_table_size = 4093;
        assert_int_equal(dnsdisc_pick_hash(publish_and_open(f, &s, &d), 1, &e), -EHOSTUNREACH);
}

/* The writer publishes an empty table at offset 0, even with backends (all down, panic off): a table of
 * 0 entries, not corruption (dnsdiscctl show said "corrupt cache file"). */
static void test_table_without_backends_has_size_0(void **state) {
        Fixture *f = *state;
        _cleanup_(dnsdisc_closep) dnsdisc *d = NULL;
        dnsdisc_service *svc;
        dnsdisc_endpoint e;
        uint32_t size = 1;
        Set s;

        set_init(&s, "web", 1, 2);
        s.b[0].health = s.b[1].health = DD_HEALTH_DOWN;
        s.svc.panic = false;
        s.svc.hash_table_size = 4093;
        svc = publish_and_open(f, &s, &d);
        assert_int_equal(dnsdisc_hash_table_size(svc, &size), 0);
        assert_int_equal(size, 0);
        assert_int_equal(dnsdisc_pick_hash(svc, 1, &e), -EHOSTUNREACH);
}

static void test_two_readers_map_every_key_alike(void **state) {
        Fixture *f = *state;
        _cleanup_(dnsdisc_closep) dnsdisc *d1 = NULL, *d2 = NULL;
        static uint8_t a[KEYS], b[KEYS];
        unsigned seen[11] = {};
        Set s;

        set_init(&s, "web", 1, 10);
        s.svc.hash_table_size = 65537;
        publish_to(f->w, &s);
        d1 = open_reader(f);
        d2 = open_reader(f);
        map_keys(lookup(d1, "web"), a);
        map_keys(lookup(d2, "web"), b);
        assert_memory_equal(a, b, KEYS);
        for (unsigned k = 0; k < KEYS; k++) {
                assert_true(a[k] >= 1 && a[k] <= 10);
                seen[a[k]]++;
        }
        /* 1,000 keys each on average: every backend gets a fair part. */
        for (unsigned h = 1; h <= 10; h++)
                assert_true(seen[h] > 800 && seen[h] < 1200);
}

/* Each policy keeps its own per-thread cursors: a least-request pick between two hash picks of the
 * same handle neither changes a key's backend nor sends the hash pick through the schedule. */
static void test_least_picks_between_hash_picks_change_no_key(void **state) {
        Fixture *f = *state;
        _cleanup_(dnsdisc_closep) dnsdisc *d1 = NULL, *d2 = NULL;
        static uint8_t alone[KEYS], mixed[KEYS];
        dnsdisc_service *svc;
        Set s;

        set_init(&s, "web", 1, 10);
        s.svc.hash_table_size = 65537;
        map_keys(publish_and_open(f, &s, &d1), alone);
        /* Another handle, whose first pick is a least-request one. */
        d2 = open_reader(f);
        svc = lookup(d2, "web");
        for (unsigned k = 0; k < KEYS; k++) {
                dnsdisc_endpoint least, hashed;

                assert_int_equal(dnsdisc_pick_least(svc, &least), 0);
                assert_true(host_of(&least) >= 1 && host_of(&least) <= 10);
                assert_int_equal(dnsdisc_pick_hash(svc, key_hash(k), &hashed), 0);
                assert_int_equal(dnsdisc_release(&least), 0);
                mixed[k] = (uint8_t) host_of(&hashed);
        }
        assert_memory_equal(alone, mixed, KEYS);
}

static void test_a_failed_backend_moves_its_keys_and_few_others(void **state) {
        Fixture *f = *state;
        _cleanup_(dnsdisc_closep) dnsdisc *d = NULL;
        static uint8_t before[KEYS], after[KEYS];
        unsigned others = 0;
        dnsdisc_service *svc;
        Set s;

        set_init(&s, "web", 1, 10);
        s.svc.hash_table_size = 65537;
        svc = publish_and_open(f, &s, &d);
        map_keys(svc, before);
        s.b[3].health = DD_HEALTH_DOWN; /* host 4 */
        publish_to(f->w, &s);
        map_keys(svc, after);
        for (unsigned k = 0; k < KEYS; k++) {
                assert_int_not_equal(after[k], 4);
                others += before[k] != 4 && before[k] != after[k];
        }
        print_message("# keys of healthy backends moved: %u of %u\n", others, KEYS);
        assert_true(others <= KEYS / 100);
        /* Back up: the same table as before, so every key comes back. */
        s.b[3].health = DD_HEALTH_UP;
        publish_to(f->w, &s);
        map_keys(svc, after);
        assert_memory_equal(before, after, KEYS);
}

static void test_quarantine_moves_only_its_keys(void **state) {
        Fixture *f = *state;
        _cleanup_(dnsdisc_closep) dnsdisc *d = NULL;
        static uint8_t before[KEYS], after[KEYS];
        dnsdisc_service *svc;
        dnsdisc_endpoint e;
        unsigned k;
        Set s;

        fixture_clock_start(1000000);
        set_init(&s, "web", 1, 5);
        s.svc.hash_table_size = 4093;
        svc = publish_and_open(f, &s, &d);
        map_keys(svc, before);
        for (k = 0; before[k] != 2; k++)
                ;
        assert_int_equal(dnsdisc_pick_hash(svc, key_hash(k), &e), 0);
        assert_int_equal(host_of(&e), 2);
        assert_int_equal(dnsdisc_report_failure(&e), 0);
        map_keys(svc, after);
        for (k = 0; k < KEYS; k++)
                if (before[k] == 2)
                        assert_int_not_equal(after[k], 2);
                else
                        assert_int_equal(after[k], before[k]);
        /* The quarantine runs out: the keys come back. */
        fixture_now += 2000000;
        map_keys(svc, after);
        assert_memory_equal(before, after, KEYS);
}

static void test_every_backend_quarantined_keeps_the_tables_choice(void **state) {
        Fixture *f = *state;
        _cleanup_(dnsdisc_closep) dnsdisc *d = NULL;
        dnsdisc_service *svc;
        dnsdisc_endpoint e, e2;
        Set s;

        fixture_clock_start(1000000);
        set_init(&s, "web", 1, 2);
        s.svc.hash_table_size = 251;
        svc = publish_and_open(f, &s, &d);
        for (uint64_t key = 0; key < 2; key++) {
                assert_int_equal(dnsdisc_pick_hash(svc, key, &e), 0);
                assert_int_equal(dnsdisc_report_failure(&e), 0);
        }
        assert_int_equal(dnsdisc_pick_hash(svc, 7, &e), 0);
        assert_int_equal(dnsdisc_report_failure(&e), 0);
        assert_int_equal(dnsdisc_pick_hash(svc, 7, &e2), 0);
        assert_int_equal(host_of(&e), host_of(&e2));
}

static void test_panic_mode_hashes_over_every_backend(void **state) {
        Fixture *f = *state;
        _cleanup_(dnsdisc_closep) dnsdisc *d = NULL;
        static uint8_t a[KEYS];
        unsigned seen[4] = {};
        Set s;

        set_init(&s, "web", 1, 3);
        s.svc.hash_table_size = 4093;
        s.svc.panic = true;
        for (int i = 0; i < 3; i++)
                s.b[i].health = DD_HEALTH_DOWN;
        map_keys(publish_and_open(f, &s, &d), a);
        for (unsigned k = 0; k < KEYS; k++)
                seen[a[k]]++;
        assert_true(seen[1] > 0 && seen[2] > 0 && seen[3] > 0);
}

static void test_ipv6_backends_are_hashed(void **state) {
        Fixture *f = *state;
        _cleanup_(dnsdisc_closep) dnsdisc *d = NULL;
        dnsdisc_endpoint e;
        Set s;

        set_init(&s, "web", 1, 2);
        for (int i = 0; i < 2; i++) {
                s.b[i].family = 6;
                memset(s.b[i].addr, 0, 16);
                s.b[i].addr[0] = 0xfd;
                s.b[i].addr[15] = (uint8_t) (i + 1);
                s.b[i].source = DD_SOURCE_AAAA;
        }
        s.svc.hash_table_size = 251;
        assert_int_equal(dnsdisc_pick_hash(publish_and_open(f, &s, &d), 99, &e), 0);
        assert_int_equal(e.addr.sa.sa_family, AF_INET6);
        assert_true(e.addr.sin6.sin6_addr.s6_addr[15] == 1 || e.addr.sin6.sin6_addr.s6_addr[15] == 2);
}

static void test_corrupt_table_entry_is_ebadmsg(void **state) {
        Fixture *f = *state;
        _cleanup_(dnsdisc_closep) dnsdisc *d = NULL;
        dnsdisc_service *svc;
        dnsdisc_endpoint e;
        dd_service *slot;
        dd_header *h;
        size_t size;
        uint16_t *table;
        Set s;

        set_init(&s, "web", 1, 2);
        s.svc.hash_table_size = 251;
        svc = publish_and_open(f, &s, &d);
        h = map_rw(f->path, &size);
        slot = (dd_service *) dd_slot(h, 0);
        assert_string_equal(slot->name, "web");
        table = (uint16_t *) ((uint8_t *) h + slot->extent_offset + slot->hash_table_off);
        for (unsigned i = 0; i < 251; i++)
                table[i] = 2; /* == n_backends: one past the end */
        assert_int_equal(dnsdisc_pick_hash(svc, 5, &e), -EBADMSG);
        /* A table reaching past its extent is refused before any entry is read. */
        slot->hash_table_off = slot->extent_size - 2;
        assert_int_equal(dnsdisc_pick_hash(svc, 5, &e), -EBADMSG);
        slot->hash_table_off = 0; /* over the backends */
        assert_int_equal(dnsdisc_pick_hash(svc, 5, &e), -EBADMSG);
        munmap(h, size);
}

int main(void) {
#define TEST(t) cmocka_unit_test_setup_teardown(t, fixture_setup, fixture_teardown)
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_hash_is_xxh64_with_seed_0),
                TEST(test_service_without_table_is_eopnotsupp),
                TEST(test_table_without_backends_is_ehostunreach),
                TEST(test_table_without_backends_has_size_0),
                TEST(test_two_readers_map_every_key_alike),
                TEST(test_least_picks_between_hash_picks_change_no_key),
                TEST(test_a_failed_backend_moves_its_keys_and_few_others),
                TEST(test_quarantine_moves_only_its_keys),
                TEST(test_every_backend_quarantined_keeps_the_tables_choice),
                TEST(test_panic_mode_hashes_over_every_backend),
                TEST(test_ipv6_backends_are_hashed),
                TEST(test_corrupt_table_entry_is_ebadmsg),
        };
#undef TEST

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
