/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-cache-writer-file.c: daemon/cache-writer-file.c, creation, growth and replacement of the file. */
#include "cache-writer-lib.h"

static void test_growth_past_slots_replaces_the_file(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        PubBackend b[] = { backend("127.0.0.1", 80, 0, 1, DD_HEALTH_UP, "x"), backend("::1", 80, 0, 1, DD_HEALTH_DOWN, "y") };
        uint64_t incarnations[1024];
        uint32_t generations[1024];
        char name[32];
        unsigned n = 0;

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        Map old = map_open(f->path);
        uint32_t slots = old.h->n_service_slots;
        assert_true(slots < ELEMENTSOF(incarnations));

        /* Fill every slot, then one more. */
        for (; n <= slots; n++) {
                PubService svc = service(name_of(name, sizeof name, n), b, 2);
                assert_int_equal(cache_writer_publish(w, &svc), 1);
                if (n < slots) {
                        const dd_service *s = map_service(&old, name);
                        incarnations[n] = s->incarnation;
                        generations[n] = s->generation;
                }
        }

        assert_int_equal(old.h->flags & DD_FILE_REPLACED, DD_FILE_REPLACED);
        for (uint32_t i = 0; i < slots; i++) {
                const dd_service *s = dd_slot(old.p, i);
                assert_int_equal(s->flags & DD_SVC_MOVED, DD_SVC_MOVED);
                assert_int_equal(s->seq % 2, 0);
        }

        Map m = map_open(f->path);
        assert_int_not_equal(m.h->file_id, old.h->file_id);
        assert_true(m.h->n_service_slots >= 2 * slots);
        assert_true(m.h->heap_size >= 2 * old.h->heap_size);
        assert_int_equal(m.h->counters[DD_DCTR_FILE_REPLACEMENTS], 1);
        assert_int_equal(map_live(&m), n);
        for (unsigned i = 0; i < n; i++) {
                const dd_service *s = map_service(&m, name_of(name, sizeof name, i));
                assert_int_equal(s->flags & DD_SVC_MOVED, 0);
                assert_int_equal(s->n_backends, 2);
                assert_int_equal(s->sched_len, 1);
                if (i < slots) {
                        assert_int_equal(s->incarnation, incarnations[i]);
                        assert_int_equal(s->generation, generations[i]);
                        /* Readers of the old file were woken by a generation bump. */
                        assert_true(dd_slot(old.p, (uint32_t) map_find(&old, name))->generation > generations[i]);
                }
        }
        /* Still the file the writer locks: a second writer is refused. */
        CacheWriter *w2 = NULL;
        assert_int_equal(cache_writer_open(f->path, &w2), -EBUSY);
        map_close(&m);
        map_close(&old);
}

static void test_reserve_sizes_the_file_once_for_the_services_to_come(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        enum { N = 2000 };
        PubBackend b[4];
        char name[32], target[4][32];
        struct stat st0, st1;

        for (unsigned k = 0; k < 4; k++) {
                snprintf(target[k], sizeof target[k], "backend-%u.service.example.com", k);
                b[k] = backend("127.0.0.1", (uint16_t) (8000 + k), 10, 10, DD_HEALTH_UP, target[k]);
        }
        assert_int_equal(cache_writer_open(f->path, &w), 0);
        Map first = map_open(f->path);
        assert_true(first.h->n_service_slots < N);

        assert_int_equal(cache_writer_reserve(w, N), 0);
        assert_int_equal(stat(f->path, &st0), 0);
        Map m = map_open(f->path);
        assert_int_equal(first.h->flags & DD_FILE_REPLACED, DD_FILE_REPLACED);
        assert_int_equal(m.h->n_service_slots, N);
        /* Asking for no more than there is room for changes nothing. */
        assert_int_equal(cache_writer_reserve(w, N / 2), 0);
        assert_int_equal(cache_writer_reserve(w, N), 0);

        for (unsigned i = 0; i < N; i++) {
                PubService svc = service(name_of(name, sizeof name, i), b, 4);
                assert_int_equal(cache_writer_publish(w, &svc), 1);
        }
        assert_int_equal(stat(f->path, &st1), 0);
        assert_int_equal(st1.st_ino, st0.st_ino);
        assert_int_equal(m.h->flags & DD_FILE_REPLACED, 0);
        assert_int_equal(map_live(&m), N);
        assert_int_equal(m.h->counters[DD_DCTR_FILE_REPLACEMENTS], 1);
        /* Sized for what was asked, not a doubling series: the heap holds the N sets with at most
         * the reserve's estimate to spare. */
        assert_true(m.h->heap_used <= m.h->heap_size);
        assert_true(m.h->heap_size <= (uint64_t) N * 700 + first.h->heap_size);
        map_close(&m);
        map_close(&first);
}

static void test_growth_past_heap_replaces_the_file(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        static PubBackend b[DD_BACKENDS_MAX];
        static char targets[DD_BACKENDS_MAX][DD_TARGET_MAX];
        PubService small = service("small", b, 1), big = service("big", b, DD_BACKENDS_MAX);

        for (unsigned i = 0; i < DD_BACKENDS_MAX; i++) {
                uint8_t a[4] = { 127, 0, (uint8_t) (i >> 8), (uint8_t) i };
                memset(targets[i], 'a' + i % 26, DD_TARGET_MAX - 1);
                snprintf(targets[i], 8, "%05u", i);
                targets[i][5] = '-';
                b[i] = backend("127.0.0.1", (uint16_t) (1000 + i), 0, (uint16_t) (1 + i), DD_HEALTH_UP, targets[i]);
                memcpy(b[i].addr, a, 4);
        }

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_int_equal(cache_writer_publish(w, &small), 1);
        Map old = map_open(f->path);
        uint64_t small_inc = map_service(&old, "small")->incarnation;
        /* 1024 backends with 255-byte names do not fit the initial heap. */
        assert_true(dd_extent_size(DD_BACKENDS_MAX, 0, 0, DD_BACKENDS_MAX * DD_TARGET_MAX) > old.h->heap_size);

        assert_int_equal(cache_writer_publish(w, &big), 1);
        assert_int_equal(old.h->flags & DD_FILE_REPLACED, DD_FILE_REPLACED);
        assert_int_equal(dd_slot(old.p, (uint32_t) map_find(&old, "small"))->flags & DD_SVC_MOVED, DD_SVC_MOVED);

        Map m = map_open(f->path);
        assert_true(m.h->heap_size >= 2 * old.h->heap_size);
        assert_int_equal(map_service(&m, "small")->incarnation, small_inc);
        const dd_service *s = map_service(&m, "big");
        const dd_backend *eb = dd_extent_backends(m.p, s->extent_offset);
        assert_int_equal(s->n_backends, DD_BACKENDS_MAX);
        assert_int_equal(s->n_eligible, DD_BACKENDS_MAX);
        assert_int_equal(s->sched_len, DD_SCHED_MAX);
        for (unsigned i = 0; i < DD_BACKENDS_MAX; i++) {
                assert_int_equal(eb[i].port, 1000 + i);
                assert_string_equal((const char *) m.p + s->extent_offset + eb[i].target_off, targets[i]);
        }
        map_close(&m);
        map_close(&old);
}

static void test_symlink_at_path_is_replaced_and_target_untouched(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        char victim[128], buf[64] = {};
        static const char precious[] = "precious data";

        snprintf(victim, sizeof victim, "%s/victim", f->dir);
        write_file(victim, precious, sizeof precious);
        assert_int_equal(symlink(victim, f->path), 0);

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_fresh_file(f->path);

        int fd = open(victim, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(read(fd, buf, sizeof buf), sizeof precious);
        close(fd);
        assert_memory_equal(buf, precious, sizeof precious);
}

static void test_second_writer_is_ebusy(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        CacheWriter *w2 = (CacheWriter *) 0x1;

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_int_equal(cache_writer_open(f->path, &w2), -EBUSY);
        assert_ptr_equal(w2, (CacheWriter *) 0x1); /* untouched on failure */
}

static void test_file_mode_is_0644(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        struct stat st;
        mode_t old = umask(077);

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        umask(old);
        assert_int_equal(stat(f->path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
        assert_int_equal(st.st_uid, geteuid());
}

/* Every page of a mapping readable: a file shrunk under it would raise SIGBUS here. */
static uint64_t touch_every_page(const Map *m) {
        uint64_t sum = 0;
        for (uint64_t off = 0; off < m->size; off += 4096)
                sum += m->p[off];
        return sum + m->p[m->size - 1];
}

/* Readers keep mapping a file after the writer left it (growth, a rewrite, exit): a file shrunk
 * under a mapping raises SIGBUS in every reader, which no library can catch. The writer replaces
 * files by rename and never truncates one it has published. */
static void test_no_published_file_ever_shrinks(void **state) {
        Fixture *f = *state;
        CacheWriter *w = NULL;
        PubBackend b[] = { backend("127.0.0.1", 80, 0, 1, DD_HEALTH_UP, "x") };
        char name[32], moved[128];
        struct stat st;

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        Map first = map_open(f->path);
        int first_fd = open(f->path, O_RDONLY | O_CLOEXEC);
        assert_true(first_fd >= 0);

        /* Growth replaces the file. */
        for (unsigned n = 0; n <= first.h->n_service_slots; n++) {
                PubService svc = service(name_of(name, sizeof name, n), b, 1);
                assert_true(cache_writer_publish(w, &svc) >= 0);
        }
        assert_int_equal(fstat(first_fd, &st), 0);
        assert_int_equal((uint64_t) st.st_size, first.size);
        (void) touch_every_page(&first);

        /* The path replaced by someone else: the writer writes its file anew beside it. */
        Map second = map_open(f->path);
        int second_fd = open(f->path, O_RDONLY | O_CLOEXEC);
        assert_true(second_fd >= 0);
        snprintf(moved, sizeof moved, "%s.moved", f->path);
        assert_int_equal(rename(f->path, moved), 0);
        assert_int_equal(cache_writer_heartbeat(w), 0);
        assert_int_equal(fstat(second_fd, &st), 0);
        assert_int_equal((uint64_t) st.st_size, second.size);
        (void) touch_every_page(&second);

        /* Exit: the last file stays whole too. */
        Map third = map_open(f->path);
        w = cache_writer_free(w);
        assert_int_equal(stat(f->path, &st), 0);
        assert_int_equal((uint64_t) st.st_size, third.size);
        (void) touch_every_page(&third);
        (void) touch_every_page(&first);

        close(first_fd);
        close(second_fd);
        (void) unlink(moved);
        map_close(&first);
        map_close(&second);
        map_close(&third);
}

typedef struct Lost {
        CacheWriter *w;
        const PubService *svcs;
        size_t n;
        unsigned calls;
} Lost;

/* What the daemon does when told: publish every service again. */
static void republish(void *userdata) {
        Lost *l = userdata;
        l->calls++;
        for (size_t i = 0; i < l->n; i++)
                assert_true(cache_writer_publish(l->w, &l->svcs[i]) >= 0);
}

/* Truncating the file (root or the daemon's user can) killed the daemon with SIGBUS at its next
 * store: the writer survives, writes the file anew and has the services published again. */
static void test_truncated_file_is_survived_and_written_anew(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        PubBackend b[] = { backend("127.0.0.1", 80, 0, 1, DD_HEALTH_UP, "x") };
        PubService svcs[] = { service("one", b, 1), service("two", b, 1), service("three", b, 1) };
        Lost lost = { .svcs = svcs, .n = ELEMENTSOF(svcs) };

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        lost.w = w;
        cache_writer_set_on_lost(w, republish, &lost);
        for (size_t i = 0; i < ELEMENTSOF(svcs); i++)
                assert_int_equal(cache_writer_publish(w, &svcs[i]), 1);

        /* Noticed by the heartbeat before any store. */
        assert_int_equal(truncate(f->path, 0), 0);
        assert_int_equal(cache_writer_heartbeat(w), 0);
        assert_int_equal(lost.calls, 1);
        Map m = map_open(f->path);
        assert_int_equal(map_live(&m), 3);
        map_close(&m);

        /* Stores into the lost pages first: they land nowhere, the next publish starts afresh. */
        assert_int_equal(truncate(f->path, 4096), 0);
        svcs[1].state = DD_STATE_STALE;
        assert_true(cache_writer_publish(w, &svcs[1]) >= 0);
        PubService four = service("four", b, 1);
        assert_true(cache_writer_publish(w, &four) >= 0);
        assert_int_equal(lost.calls, 2);
        assert_int_equal(cache_writer_heartbeat(w), 0);
        m = map_open(f->path);
        assert_true(map_live(&m) >= 3);
        assert_int_equal(map_service(&m, "two")->state, DD_STATE_STALE);
        map_close(&m);

        /* Everything gone, header included, and stores before anything notices. */
        assert_int_equal(truncate(f->path, 0), 0);
        for (size_t i = 0; i < ELEMENTSOF(svcs); i++) {
                svcs[i].state = DD_STATE_OK;
                assert_true(cache_writer_publish(w, &svcs[i]) >= 0);
        }
        assert_int_equal(cache_writer_heartbeat(w), 0);
        assert_int_equal(lost.calls, 3);
        m = map_open(f->path);
        for (size_t i = 0; i < ELEMENTSOF(svcs); i++)
                assert_int_equal(map_service(&m, svcs[i].name)->state, DD_STATE_OK);
        map_close(&m);
}

int main(void) {
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
        const struct CMUnitTest tests[] = {
                T(test_no_published_file_ever_shrinks),
                T(test_truncated_file_is_survived_and_written_anew),
                T(test_growth_past_slots_replaces_the_file),
                T(test_reserve_sizes_the_file_once_for_the_services_to_come),
                T(test_growth_past_heap_replaces_the_file),
                T(test_symlink_at_path_is_replaced_and_target_untouched),
                T(test_second_writer_is_ebusy),
                T(test_file_mode_is_0644),
        };
#undef T

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
