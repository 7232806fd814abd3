/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-cache-writer-adopt.c: daemon/cache-writer-adopt.c, taking over, repairing or replacing a file a writer left. */
#include "cache-writer-lib.h"

static int collect_backend(const PubBackend *b, void *userdata) {
        PubBackend *out = userdata;
        unsigned i = out[0].port++; /* out[0] counts, the rest collects */
        out[1 + i] = *b;
        out[1 + i].target = NULL;
        return 0;
}

/* A sweep that keeps everything: the writer's own count of live names. */
static bool count_name(const char *name, void *userdata) {
        (*(unsigned *) userdata)++;
        return true;
}

/* The file a writer left at path after publishing the n services of svcs and stopping. */
static void leave_file(const char *path, PubService *const *svcs, size_t n) {
        CacheWriter *w = NULL;

        assert_int_equal(cache_writer_open(path, &w), 0);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(cache_writer_publish(w, svcs[i]), 1);
        cache_writer_free(w);
}

/* len bytes of data written over the file at path at offset off, as a broken writer would. */
static void poke(const char *path, uint64_t off, const void *data, size_t len) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, data, len, (off_t) off), (ssize_t) len);
        close(fd);
}

/* Where the field at field_off of slot lies in the mapped file. */
static uint64_t slot_field(const Map *m, int slot, size_t field_off) {
        return m->h->services_offset + (uint64_t) slot * m->h->service_size + field_off;
}

static void test_adoption_keeps_services_and_generations(void **state) {
        Fixture *f = *state;
        CacheWriter *w = NULL;
        PubBackend b[] = { backend("127.0.0.1", 80, 3, 7, DD_HEALTH_UP, "x"), backend("::1", 81, 4, 8, DD_HEALTH_DOWN, "y") };
        PubService svc = service("kept", b, 2);
        PubBackend got[3] = {};
        uint8_t st = 0;
        int64_t last_good = 0;
        unsigned names = 0;

        svc.last_good_usec = 123456;
        svc.state = DD_STATE_STALE;
        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_int_equal(cache_writer_publish(w, &svc), 1);
        b[1].health = DD_HEALTH_UP;
        assert_int_equal(cache_writer_publish(w, &svc), 1);
        Map m = map_open(f->path);
        uint64_t file_id = m.h->file_id, inc = map_service(&m, "kept")->incarnation;
        uint32_t gen = map_service(&m, "kept")->generation;
        map_close(&m);
        w = cache_writer_free(w);

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        m = map_open(f->path);
        assert_int_equal(m.h->file_id, file_id);
        assert_int_equal(m.h->flags & DD_FILE_STOPPED, 0);
        assert_int_equal(map_service(&m, "kept")->incarnation, inc);
        assert_int_equal(map_service(&m, "kept")->generation, gen);

        assert_int_equal(cache_writer_sweep(w, count_name, &names), 0);
        assert_int_equal(names, 1);
        assert_int_equal(cache_writer_read_service(w, "kept", collect_backend, got, &st, &last_good), 2);
        assert_int_equal(got[0].port, 2);
        assert_int_equal(st, DD_STATE_STALE);
        assert_int_equal(last_good, 123456);
        for (unsigned i = 0; i < 2; i++) {
                assert_int_equal(got[1 + i].family, b[i].family);
                assert_memory_equal(got[1 + i].addr, b[i].addr, b[i].family == 4 ? 4 : 16);
                assert_int_equal(got[1 + i].port, b[i].port);
                assert_int_equal(got[1 + i].priority, b[i].priority);
                assert_int_equal(got[1 + i].weight, b[i].weight);
                assert_int_equal(got[1 + i].health, b[i].health);
        }
        assert_int_equal(cache_writer_read_service(w, "absent", collect_backend, got, NULL, NULL), -ENOENT);

        /* The adopted copy is what the daemon would publish again: nothing to write. */
        assert_int_equal(cache_writer_publish(w, &svc), 0);
        assert_int_equal(map_service(&m, "kept")->generation, gen);
        map_close(&m);
        w = cache_writer_free(w);
}

static bool keep_even(const char *name, void *userdata) {
        return (name[strlen(name) - 1] - '0') % 2 == 0;
}

static void test_sweep_removes_rejected_services(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        PubBackend b[] = { backend("127.0.0.1", 80, 0, 1, DD_HEALTH_UP, "x") };
        char name[32];
        unsigned names = 0;

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        for (unsigned i = 0; i < 6; i++) {
                PubService svc = service(name_of(name, sizeof name, i), b, 1);
                assert_int_equal(cache_writer_publish(w, &svc), 1);
        }
        assert_int_equal(cache_writer_sweep(w, keep_even, NULL), 3);
        assert_int_equal(cache_writer_sweep(w, count_name, &names), 0);
        assert_int_equal(names, 3);
        Map m = map_open(f->path);
        assert_int_equal(map_live(&m), 3);
        assert_true(map_find(&m, "svc-0000") >= 0);
        assert_int_equal(map_find(&m, "svc-0001"), -1);
        map_close(&m);
}

static void test_corrupt_file_is_replaced(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        char junk[4096];

        memset(junk, 0xa5, sizeof junk);
        write_file(f->path, junk, sizeof junk);
        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_fresh_file(f->path);
}

static void test_other_major_version_is_replaced(void **state) {
        Fixture *f = *state;
        CacheWriter *w = NULL;
        PubBackend b[] = { backend("127.0.0.1", 80, 0, 1, DD_HEALTH_UP, "x") };
        PubService svc = service("old", b, 1);
        uint16_t major = DD_VERSION_MAJOR + 1;

        leave_file(f->path, (PubService *[]) { &svc }, 1);
        poke(f->path, offsetof(dd_header, version_major), &major, sizeof major);

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_fresh_file(f->path);
        w = cache_writer_free(w);
}

static void test_newer_minor_version_is_replaced_and_flagged(void **state) {
        Fixture *f = *state;
        CacheWriter *w = NULL;
        PubBackend b[] = { backend("127.0.0.1", 80, 0, 1, DD_HEALTH_UP, "x") };
        PubService svc = service("newer", b, 1);
        uint16_t minor = DD_VERSION_MINOR + 1;

        leave_file(f->path, (PubService *[]) { &svc }, 1);
        poke(f->path, offsetof(dd_header, version_minor), &minor, sizeof minor);
        Map old = map_open(f->path);
        uint32_t cc = old.h->change_counter;

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_fresh_file(f->path);
        /* Its readers are sent to the path again. */
        assert_int_equal(old.h->flags & DD_FILE_REPLACED, DD_FILE_REPLACED);
        assert_true(old.h->change_counter != cc);
        map_close(&old);
        w = cache_writer_free(w);
}

static void test_older_minor_version_is_upgraded_with_its_services(void **state) {
        Fixture *f = *state;
        CacheWriter *w = NULL;
        PubBackend b[] = { backend("127.0.0.1", 80, 0, 1, DD_HEALTH_UP, "x") };
        PubService svc = service("older", b, 1);
        /* What a 1.1 writer leaves: minor 1, the boot stamp's bytes reserved (zero). */
        uint16_t minor = 1;
        int64_t zero = 0;

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_int_equal(cache_writer_publish(w, &svc), 1);
        w = cache_writer_free(w);
        int fd = open(f->path, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, &minor, sizeof minor, offsetof(dd_header, version_minor)), sizeof minor);
        assert_int_equal(pwrite(fd, &zero, sizeof zero, offsetof(dd_header, heartbeat_boot_usec)), sizeof zero);
        close(fd);
        Map old = map_open(f->path);
        uint64_t inc = map_service(&old, "older")->incarnation;
        uint32_t gen = map_service(&old, "older")->generation;

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        Map m = map_open(f->path);
        /* A file of this version, in which readers find the service as it was. */
        assert_int_equal(m.h->version_minor, DD_VERSION_MINOR);
        assert_true(m.h->file_id != old.h->file_id);
        assert_true(m.h->heartbeat_boot_usec > 0);
        assert_int_equal(map_service(&m, "older")->incarnation, inc);
        assert_int_equal(map_service(&m, "older")->generation, gen);
        /* The old file's readers are sent to the path. */
        assert_int_equal(old.h->flags & DD_FILE_REPLACED, DD_FILE_REPLACED);
        assert_true(map_service(&old, "older")->flags & DD_SVC_MOVED);
        assert_int_equal(cache_writer_publish(w, &svc), 0);
        map_close(&m);
        map_close(&old);
        w = cache_writer_free(w);
}

static void test_adoption_drops_a_slot_left_mid_write(void **state) {
        Fixture *f = *state;
        CacheWriter *w = NULL;
        PubBackend b[] = { backend("127.0.0.1", 80, 0, 1, DD_HEALTH_UP, "x") };
        PubService torn = service("torn", b, 1), whole = service("whole", b, 1);

        leave_file(f->path, (PubService *[]) { &torn, &whole }, 2);

        /* As if the writer had died inside the seqlock. */
        Map m = map_open(f->path);
        int slot = map_find(&m, "torn");
        uint32_t seq = dd_slot(m.p, (uint32_t) slot)->seq + 1;
        poke(f->path, slot_field(&m, slot, offsetof(dd_service, seq)), &seq, sizeof seq);

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_int_equal(map_find(&m, "torn"), -1);
        assert_int_equal(dd_slot(m.p, (uint32_t) slot)->seq % 2, 0);
        assert_int_equal(dd_slot(m.p, (uint32_t) slot)->flags & DD_SVC_MOVED, DD_SVC_MOVED);
        assert_true(map_find(&m, "whole") >= 0);
        assert_int_equal(cache_writer_read_service(w, "torn", NULL, NULL, NULL, NULL), -ENOENT);
        assert_int_equal(cache_writer_read_service(w, "whole", NULL, NULL, NULL, NULL), 1);
        map_close(&m);
        w = cache_writer_free(w);
}

static void test_adoption_drops_overlapping_extents(void **state) {
        Fixture *f = *state;
        CacheWriter *w = NULL;
        PubBackend b[] = { backend("127.0.0.1", 80, 0, 1, DD_HEALTH_UP, "first") };
        PubBackend c[] = { backend("127.0.0.2", 90, 0, 1, DD_HEALTH_UP, "second") };
        PubService first = service("first", b, 1), second = service("second", c, 1);

        leave_file(f->path, (PubService *[]) { &first, &second }, 2);

        /* Point the second slot at the first one's extent. */
        Map m = map_open(f->path);
        int slot = map_find(&m, "second");
        uint64_t ext = map_service(&m, "first")->extent_offset;
        poke(f->path, slot_field(&m, slot, offsetof(dd_service, extent_offset)), &ext, sizeof ext);

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_true(map_find(&m, "first") >= 0);
        assert_int_equal(map_find(&m, "second"), -1);

        /* Republishing the dropped one must not write over the kept extent. */
        c[0].port = 91;
        assert_int_equal(cache_writer_publish(w, &second), 1);
        const dd_service *s = map_service(&m, "first");
        assert_int_equal(dd_extent_backends(m.p, s->extent_offset)[0].port, 80);
        assert_string_equal((const char *) m.p + s->extent_offset + dd_extent_backends(m.p, s->extent_offset)[0].target_off, "first");
        assert_int_equal(dd_extent_backends(m.p, map_service(&m, "second")->extent_offset)[0].port, 91);
        map_close(&m);
        w = cache_writer_free(w);
}

static void test_file_of_another_owner_is_replaced(void **state) {
        Fixture *f = *state;
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        struct stat st;

        if (geteuid() != 0)
                skip(); /* needs chown */
        assert_int_equal(cache_writer_open(f->path, &w), 0);
        w = cache_writer_free(w);
        assert_int_equal(chown(f->path, 65534, 65534), 0);

        assert_int_equal(cache_writer_open(f->path, &w), 0);
        assert_int_equal(stat(f->path, &st), 0);
        assert_int_equal(st.st_uid, geteuid());
        assert_fresh_file(f->path);
}

int main(void) {
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
        const struct CMUnitTest tests[] = {
                T(test_adoption_keeps_services_and_generations),
                T(test_sweep_removes_rejected_services),
                T(test_corrupt_file_is_replaced),
                T(test_other_major_version_is_replaced),
                T(test_newer_minor_version_is_replaced_and_flagged),
                T(test_older_minor_version_is_upgraded_with_its_services),
                T(test_adoption_drops_a_slot_left_mid_write),
                T(test_adoption_drops_overlapping_extents),
                T(test_file_of_another_owner_is_replaced),
        };
#undef T

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
