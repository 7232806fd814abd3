/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-map.c: libclient/map.c: a header changed under a live mapping (an error and a remap, never a fault), the writer's liveness. */
#include "client-fixture.h"
#include "cursor.h"

/* The ways a writer could break the first line after readers validated it. */
typedef enum Corruption {
        SLOTS_MILLION,          /* n_service_slots = 1e6: the slot loop would run off the mapping */
        STRIDE_HUGE,            /* service_size = 0x7ffffff8: slot 1 would be 2 GiB away */
        SERVICES_AT_END,        /* services_offset at the file's last bytes */
        HEAP_AWAY,              /* heap_offset far past the file: every extent would look valid there */
        _CORRUPTION_MAX,
} Corruption;

static void corrupt(dd_header *h, size_t size, Corruption c) {
        switch (c) {
        case SLOTS_MILLION:
                h->n_service_slots = 1000000;
                break;
        case STRIDE_HUGE:
                h->service_size = 0x7ffffff8;
                break;
        case SERVICES_AT_END:
                h->services_offset = size - 8;
                break;
        case HEAP_AWAY:
                h->heap_offset = UINT64_C(1) << 40;
                break;
        default:
                fail();
        }
}

/* Every call that steps through the file, after the change: errors allowed, faults not. */
static void read_everything(dnsdisc *d, dnsdisc_service *s) {
        static dnsdisc_backend backends[DNSDISC_BACKENDS_MAX];
        dnsdisc_service_info info;
        dnsdisc_daemon_info di;
        dnsdisc_service *t;
        dnsdisc_endpoint e;
        size_t cursor = 0;
        int r;

        r = dnsdisc_service_get(d, "web", &t);
        assert_int_equal(r, -EBADMSG);
        r = dnsdisc_service_get(d, "nope", &t);
        assert_true(r == -EBADMSG || r == -ESRCH);
        while ((r = dnsdisc_service_next(d, &cursor, &t)) > 0)
                ;
        assert_true(r == 0 || r == -EBADMSG);
        assert_int_equal(dnsdisc_daemon_info_get(d, &di), 0);
        assert_int_equal(dnsdisc_service_info_get(s, &info), -EBADMSG);
        assert_int_equal(dnsdisc_snapshot(s, &info, backends, DNSDISC_BACKENDS_MAX), -EBADMSG);
        /* Picks check on the slow path, which a cursor reaches within DD_LAP_PICKS picks. */
        for (unsigned i = 0; i < 2 * DD_LAP_PICKS && r != -EBADMSG; i++) {
                r = dnsdisc_pick(s, &e);
                assert_true(r == 0 || r == -EBADMSG);
        }
        assert_int_equal(r, -EBADMSG);
        assert_int_equal(dnsdisc_pick_random(s, &e), -EBADMSG);
}

static void test_header_changed_after_open_is_ebadmsg_not_a_fault(void **state) {
        Fixture *f = *state;
        Set set;

        set_init(&set, "web", 1, 3);
        publish_to(f->w, &set);
        dd_clock_hook = fixture_clock;
        for (Corruption c = 0; c < _CORRUPTION_MAX; c++) {
                dnsdisc_endpoint e;
                dd_header *h, saved;
                dnsdisc *d = open_reader(f);
                dnsdisc_service *s = lookup(d, "web");
                size_t size;

                assert_int_equal(dnsdisc_pick(s, &e), 0);
                h = map_rw(f->path, &size);
                saved = *h;
                corrupt(h, size, c);
                read_everything(d, s);

                /* Put back: the mapping stays condemned, but a remap of the file, a second
                 * later, reads it again. */
                memcpy(h, &saved, offsetof(dd_header, flags));
                fixture_now += 2 * DD_LOOK_INTERVAL_USEC;
                assert_int_equal(dnsdisc_service_get(d, "web", &s), 0);
                assert_int_equal(dnsdisc_pick(s, &e), 0);
                assert_int_equal(set_of(&e), 1);
                assert_int_equal(d->n_maps, 2);
                fixture_now += 2 * DD_LOOK_INTERVAL_USEC;
                munmap(h, size);
                dnsdisc_close(d);
        }
}

static void test_remaps_of_a_changing_header_are_bounded(void **state) {
        Fixture *f = *state;
        dnsdisc_service *s;
        dd_header *h;
        size_t size;
        Set set;
        dnsdisc *d;

        set_init(&set, "web", 1, 3);
        publish_to(f->w, &set);
        d = open_reader(f);
        h = map_rw(f->path, &size);
        dd_clock_hook = fixture_clock;
        /* A header that keeps changing, validly: each look maps the file again, up to a bound. */
        for (unsigned i = 0; i < 3 * DD_MAPS_MAX; i++) {
                int r;

                h->file_id++;
                fixture_now += DD_LOOK_INTERVAL_USEC;
                r = dnsdisc_service_get(d, "web", &s);
                assert_true(r == 0 || r == -EBADMSG);
        }
        assert_int_equal(d->n_maps, DD_MAPS_MAX);
        munmap(h, size);
        dnsdisc_close(d);
}

static void test_looks_at_the_path_at_most_once_a_second(void **state) {
        Fixture *f = *state;
        CacheWriter *w2;
        dnsdisc_service_info info;
        dnsdisc_service *s;
        dd_header *h;
        size_t size;
        dnsdisc *d;

        s = open_web(f, 1, 3, &d);
        fixture_clock_start(10 * DD_LOOK_INTERVAL_USEC);

        /* The writer died and nothing is at the path: one look, then none for a second. */
        h = map_rw(f->path, &size);
        heartbeat_age(h);
        assert_int_equal(unlink(f->path), 0);
        assert_int_equal(dnsdisc_is_stale(d), 1);
        assert_int_equal(d->next_look_usec, fixture_now + DD_LOOK_INTERVAL_USEC);

        w2 = new_file_over(f, 2);
        fixture_now += DD_LOOK_INTERVAL_USEC - 1;
        assert_int_equal(dnsdisc_is_stale(d), 1);
        assert_int_equal(dnsdisc_service_info_get(s, &info), 0);
        assert_int_equal(d->n_maps, 1);
        fixture_now += 1;
        assert_int_equal(dnsdisc_is_stale(d), 0);
        assert_int_equal(d->n_maps, 2);
        assert_int_equal(d->next_look_usec, 0);

        cache_writer_free(w2);
        munmap(h, size);
        dnsdisc_close(d);
}

#define HOURS(n) ((int64_t) (n) * 3600 * 1000000)

/* The stamps a writer would leave, each relative to its own clock now (µs; negative: in the past). */
static void heartbeat_set(dd_header *h, int64_t real_offset, int64_t boot_offset) {
        atomic_store(&h->heartbeat_boot_usec, (int64_t) now_usec(CLOCK_BOOTTIME) + boot_offset);
        atomic_store(&h->heartbeat_usec, (int64_t) now_usec(CLOCK_REALTIME) + real_offset);
}

/* A reader of the published service "web", and the file's header mapped writable to play the
 * writer's part: a file of format 1.minor (the first line is immutable once a reader mapped it). */
typedef struct Tampered {
        dnsdisc *d;
        dd_header *h;
        size_t size;
} Tampered;

static void tampered_open(Fixture *f, uint16_t minor, Tampered *ret) {
        Set set;

        set_init(&set, "web", 1, 3);
        publish_to(f->w, &set);
        ret->h = map_rw(f->path, &ret->size);
        ret->h->version_minor = minor;
        ret->d = open_reader(f);
}

static void tampered_close(Tampered *t) {
        munmap(t->h, t->size);
        dnsdisc_close(t->d);
}

static void test_writer_alive_when_only_the_wall_clock_moved(void **state) {
        Fixture *f = *state;
        dnsdisc_daemon_info di;
        Tampered t;

        tampered_open(f, DD_VERSION_MINOR, &t);

        /* The wall clock stepped forward by hours (NTP at boot) after the last heartbeat. */
        heartbeat_set(t.h, -HOURS(5), 0);
        assert_int_equal(dnsdisc_is_stale(t.d), 0);
        assert_false(dd_map_abandoned(dd_current(t.d)));
        assert_int_equal(dnsdisc_daemon_info_get(t.d, &di), 0);
        assert_int_equal(di.heartbeat_boot_usec, atomic_load(&t.h->heartbeat_boot_usec));
        assert_true(di.heartbeat_boot_usec > 0);
        /* ... or back by hours (date -s): a stamp in the future is no proof of life either way. */
        heartbeat_set(t.h, HOURS(5), 0);
        assert_int_equal(dnsdisc_is_stale(t.d), 0);
        assert_int_equal(t.d->n_maps, 1);

        tampered_close(&t);
}

static void test_writer_gone_by_the_boot_clock_though_the_wall_clock_is_fresh(void **state) {
        Fixture *f = *state;
        Tampered t;

        tampered_open(f, DD_VERSION_MINOR, &t);

        /* The writer hung 4 s ago, and the wall clock stepped back by as much since. */
        heartbeat_set(t.h, 0, -4000000);
        assert_int_equal(dnsdisc_is_stale(t.d), 1);
        assert_true(dd_map_abandoned(dd_current(t.d)));
        heartbeat_set(t.h, 0, -2000000);
        assert_int_equal(dnsdisc_is_stale(t.d), 0);

        tampered_close(&t);
}

static void test_file_before_1_2_is_judged_by_the_wall_clock(void **state) {
        Fixture *f = *state;
        dnsdisc_daemon_info di;
        Tampered t;

        tampered_open(f, 1, &t);

        /* A 1.1 file: its reserved bytes decide nothing, whatever they hold. */
        heartbeat_set(t.h, 0, -HOURS(5));
        assert_int_equal(dnsdisc_is_stale(t.d), 0);
        assert_int_equal(dnsdisc_daemon_info_get(t.d, &di), 0);
        assert_int_equal(di.heartbeat_boot_usec, 0);
        heartbeat_set(t.h, -4000000, 0);
        assert_int_equal(dnsdisc_is_stale(t.d), 1);
        heartbeat_set(t.h, -2000000, 0);
        assert_int_equal(dnsdisc_is_stale(t.d), 0);

        tampered_close(&t);
}

static void test_zero_boot_stamp_is_judged_by_the_wall_clock(void **state) {
        Fixture *f = *state;
        Tampered t;

        tampered_open(f, DD_VERSION_MINOR, &t);

        heartbeat_set(t.h, -4000000, 0);
        atomic_store(&t.h->heartbeat_boot_usec, 0);
        assert_int_equal(dnsdisc_is_stale(t.d), 1);
        heartbeat_set(t.h, 0, 0);
        atomic_store(&t.h->heartbeat_boot_usec, 0);
        assert_int_equal(dnsdisc_is_stale(t.d), 0);

        tampered_close(&t);
}

/* The rule over values a hostile or broken file may hold: exact answers, and nothing
 * overflows (the ASan+UBSan build traps on signed overflow). */
static void test_heartbeat_rule_holds_for_any_values(void **state) {
        static const struct {
                uint16_t minor;
                uint32_t interval_ms;
                int64_t real, boot, now_real, now_boot;
                bool late;
        } cases[] = {
                /* Boot clock, limit 3 s (intervals under 1 s count as 1 s): strictly older is late. */
                { 2, 1000, 0, 7000000, 1, 10000000, false },
                { 2, 1000, 0, 6999999, INT64_MAX, 10000000, true },
                { 2, 0, INT64_MIN, 7000000, 0, 10000000, false },
                { 2, 2000, 0, 4000000, 0, 10000000, false },
                { 2, 2000, 0, 3999999, 0, 10000000, true },
                /* Up to the limit ahead is a race with the writer; further, another boot's: wall clock. */
                { 2, 1000, INT64_MIN, 13000000, 0, 10000000, false },
                { 2, 1000, INT64_MIN, 13000001, 0, 10000000, true },
                { 2, 1000, INT64_MAX, INT64_MAX, 0, 10000000, false },
                { 2, 1000, INT64_MIN, INT64_MAX, INT64_MAX, 10000000, true },
                /* Shortly after boot, and at the ends of the range. */
                { 2, 1000, INT64_MIN, 1, 0, 2, false },
                { 2, 1000, 0, INT64_MIN, 0, 2, true },
                { 2, UINT32_MAX, 0, -1, 0, INT64_MAX, true },
                { 2, UINT32_MAX, 0, INT64_MIN + 1, 0, INT64_MAX, true },
                { 2, UINT32_MAX, INT64_MIN, INT64_MAX, INT64_MIN, INT64_MAX, false },
                { UINT16_MAX, UINT32_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN, INT64_MAX, false },
                /* No boot stamp, no boot clock, or a file before 1.2: the wall clock. */
                { 2, 1000, -5, 0, 0, 10000000, false },
                { 2, 1000, 5, 1, INT64_MIN, -1, false },
                { 2, 1000, INT64_MIN, 10000000, INT64_MIN, -1, false },
                { 2, 1000, INT64_MIN + 1, 10000000, 0, -1, true },
                { 1, 1000, 0, 10000000, 3000001, 10000000, true },
                { 1, 1000, 0, INT64_MIN, 3000000, 10000000, false },
                { 0, UINT32_MAX, INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX, false },
                { 1, UINT32_MAX, INT64_MIN, 0, INT64_MAX, 0, true },
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                bool late = dd_heartbeat_late(cases[i].minor, cases[i].interval_ms, cases[i].real, cases[i].boot,
                                              cases[i].now_real, cases[i].now_boot);
                if (late != cases[i].late)
                        fail_msg("case %zu: late %d, expected %d", i, late, cases[i].late);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)
                T(test_header_changed_after_open_is_ebadmsg_not_a_fault),
                T(test_remaps_of_a_changing_header_are_bounded),
                T(test_looks_at_the_path_at_most_once_a_second),
                T(test_writer_alive_when_only_the_wall_clock_moved),
                T(test_writer_gone_by_the_boot_clock_though_the_wall_clock_is_fresh),
                T(test_file_before_1_2_is_judged_by_the_wall_clock),
                T(test_zero_boot_stamp_is_judged_by_the_wall_clock),
                T(test_heartbeat_rule_holds_for_any_values),
#undef T
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
