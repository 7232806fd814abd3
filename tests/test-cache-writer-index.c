/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-cache-writer-index.c: daemon/cache-writer-index.c, slots found by name and reused, seen through the file. */
#include "cache-writer-lib.h"

/* Every live name once in the file, the removed ones nowhere. */
static void assert_names(const Map *m, const bool *live, unsigned n) {
        char name[32];
        unsigned n_live = 0;

        for (unsigned i = 0; i < n; i++) {
                assert_int_equal(map_find(m, name_of(name, sizeof name, i)) >= 0, live[i]);
                n_live += live[i];
        }
        assert_int_equal(map_live(m), n_live);
}

static void test_lookup_by_name_survives_removals_among_many_services(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        enum { N = 3000 };
        static bool live[N];
        PubBackend b[] = { backend("127.0.0.1", 80, 0, 1, DD_HEALTH_UP, "x") };
        char name[32];

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        for (unsigned i = 0; i < N; i++) {
                PubService svc = service(name_of(name, sizeof name, i), b, 1);
                assert_int_equal(cache_writer_publish(w, &svc), 1);
                live[i] = true;
        }
        /* Removals leave holes in the name index's probe sequences ... */
        for (unsigned i = 0; i < N; i += 3) {
                assert_int_equal(cache_writer_remove(w, name_of(name, sizeof name, i)), 0);
                live[i] = false;
        }
        assert_int_equal(cache_writer_remove(w, name_of(name, sizeof name, 0)), -ENOENT);

        /* ... through which every remaining name is still found: a republish updates its slot
         * (a lost name would come back as a second slot of the same name). */
        b[0].port = 81;
        for (unsigned i = 0; i < N; i++) {
                if (!live[i])
                        continue;
                PubService svc = service(name_of(name, sizeof name, i), b, 1);
                assert_int_equal(cache_writer_publish(w, &svc), 1);
        }
        Map m = map_open(f->path);
        assert_names(&m, live, N);
        for (unsigned i = 1; i < N; i += 97) {
                if (!live[i])
                        continue;
                const dd_service *s = map_service(&m, name_of(name, sizeof name, i));
                assert_int_equal(((const dd_backend *) (m.p + s->extent_offset))->port, 81);
        }
        uint64_t size = m.size;
        map_close(&m);

        /* Removed names come back in the freed slots: the file keeps its size. */
        for (unsigned i = 0; i < N; i += 3) {
                PubService svc = service(name_of(name, sizeof name, i), b, 1);
                assert_int_equal(cache_writer_publish(w, &svc), 1);
                live[i] = true;
        }
        m = map_open(f->path);
        assert_names(&m, live, N);
        assert_int_equal(m.size, size);
        map_close(&m);
}

int main(void) {
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
        const struct CMUnitTest tests[] = {
                T(test_lookup_by_name_survives_removals_among_many_services),
        };
#undef T

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
