/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-map.c: libclient/map.c: a header changed under a live mapping is an error and a remap, never a fault. */
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

int main(void) {
        const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)
                T(test_header_changed_after_open_is_ebadmsg_not_a_fault),
                T(test_remaps_of_a_changing_header_are_bounded),
                T(test_looks_at_the_path_at_most_once_a_second),
#undef T
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
