/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-cache-file.c: libdnsdisc reading crafted cache files: validation, hostile counts and offsets, fuzzing. */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "cache-def.h"
#include "dnsdisc.h"
#include "tempdir.h"
#include "util.h"

/*
 * A small valid file built by hand from cache-def.h (independently of the
 * writer): slot 0 holds service "web" with three IPv4 backends 10.0.0.1-3
 * port 80, schedule {0, 1, 2, 1}, eligible {0, 1, 2}, targets a/b/c.example.
 * Sizes are parameters so that a newer minor version can be imitated.
 */
#define N_SLOTS 4
#define N_BACKENDS 3
#define SCHED_LEN 4

typedef struct Image {
        uint8_t *p;
        size_t size;
        uint32_t header_size;
        uint32_t service_size;
} Image;

typedef struct Fixture {
        char dir[64];
        char path[96];
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);

        if (!f)
                return -1;
        if (tempdir_make("test-cache-file", f->dir, f->path) < 0) {
                free(f);
                return -1;
        }
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        tempdir_remove(f->dir);
        free(f);
        return 0;
}

static dd_header *hdr(const Image *im) {
        return (dd_header *) im->p;
}

static dd_service *slot0(const Image *im) {
        return (dd_service *) (im->p + hdr(im)->services_offset);
}

static uint8_t *extent(const Image *im) {
        return im->p + slot0(im)->extent_offset;
}

static dd_backend *backend(const Image *im, unsigned i) {
        return (dd_backend *) extent(im) + i;
}

static uint16_t *schedule(const Image *im) {
        return (uint16_t *) (extent(im) + slot0(im)->n_backends * sizeof(dd_backend));
}

/* dd_header is aligned to a cache line, as a mapping is. */
static uint8_t *image_alloc(size_t size) {
        uint8_t *p = aligned_alloc(64, (size + 63) & ~(size_t) 63);

        assert_non_null(p);
        return p;
}

static Image image_build(uint32_t header_size, uint32_t service_size, uint16_t minor) {
        static const char *const targets[N_BACKENDS] = { "a.example", "b.example", "c.example" };
        static const uint16_t sched[SCHED_LEN] = { 0, 1, 2, 1 };
        uint64_t services_offset = header_size, heap_offset, heap_size = 4096, strings;
        Image im = { .header_size = header_size, .service_size = service_size };
        dd_header *h;
        dd_service *s;
        uint8_t *x;

        heap_offset = (services_offset + (uint64_t) N_SLOTS * service_size + 63) & ~(uint64_t) 63;
        im.size = heap_offset + heap_size;
        im.p = image_alloc(im.size);
        memset(im.p, 0, im.size);

        h = hdr(&im);
        memcpy(h->magic, DD_MAGIC, DD_MAGIC_SIZE);
        h->version_major = DD_VERSION_MAJOR;
        h->version_minor = minor;
        h->header_size = header_size;
        h->file_size = im.size;
        h->file_id = 12345;
        h->services_offset = services_offset;
        h->service_size = service_size;
        h->n_service_slots = N_SLOTS;
        h->heap_offset = heap_offset;
        h->heap_size = heap_size;
        h->heartbeat_interval_ms = 1000;
        h->writer_pid = 1;

        s = slot0(&im);
        s->incarnation = 1;
        s->generation = 1;
        s->extent_offset = heap_offset;
        s->n_backends = N_BACKENDS;
        s->sched_len = SCHED_LEN;
        s->n_eligible = N_BACKENDS;
        s->state = DD_STATE_OK;
        strcpy(s->name, "web");
        strcpy(s->query, "web.example");

        x = extent(&im);
        strings = dd_extent_size(N_BACKENDS, SCHED_LEN, N_BACKENDS, 0);
        for (unsigned i = 0; i < N_BACKENDS; i++) {
                dd_backend *b = backend(&im, i);
                struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(80) };
                uint8_t a[16] = { 10, 0, 0, (uint8_t) (i + 1) };

                memcpy(&sin.sin_addr, a, 4);
                memcpy(b->sockaddr, &sin, sizeof sin);
                b->addrlen = sizeof sin;
                b->family = 4;
                b->health = DD_HEALTH_UP;
                b->source = DD_SOURCE_A;
                b->port = 80;
                b->weight = 1;
                b->flags = DD_BACKEND_SCHEDULED;
                b->key = dd_endpoint_key(4, a, 80);
                b->target_len = (uint16_t) strlen(targets[i]);
                b->target_off = (uint32_t) strings;
                memcpy(x + strings, targets[i], b->target_len + 1);
                strings += b->target_len + 1;
        }
        memcpy(schedule(&im), sched, sizeof sched);
        for (unsigned i = 0; i < N_BACKENDS; i++)
                schedule(&im)[SCHED_LEN + i] = (uint16_t) i;
        s->extent_size = (uint32_t) strings;
        h->heap_used = (strings + 7) & ~(uint64_t) 7;
        return im;
}

static Image image_default(void) {
        return image_build(sizeof(dd_header), sizeof(dd_service), DD_VERSION_MINOR);
}

static void image_write(const Image *im, const char *path, size_t size) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, im->p, size), (ssize_t) size);
        close(fd);
}

/* Rewrite the file in place (no truncation: a reader has it mapped). */
static void image_update(const Image *im, const char *path) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, im->p, im->size, 0), (ssize_t) im->size);
        close(fd);
}

static int open_image(Fixture *f, const Image *im, dnsdisc **ret) {
        image_write(im, f->path, im->size);
        return dnsdisc_open(f->path, ret);
}

/* The image opened and its "web" looked up, both succeeding: the reader in *ret_d (the caller closes it). */
static dnsdisc_service *open_web(Fixture *f, const Image *im, dnsdisc **ret_d) {
        dnsdisc_service *s;

        assert_int_equal(open_image(f, im, ret_d), 0);
        assert_int_equal(dnsdisc_service_get(*ret_d, "web", &s), 0);
        return s;
}

/* Open, look up "web", and pick (snapshot false) or snapshot: the first error, else the pick's 0
 * or the snapshot's count. */
static int read_web(Fixture *f, const Image *im, bool snapshot) {
        static dnsdisc_backend out[DNSDISC_BACKENDS_MAX];
        dnsdisc_service *s;
        dnsdisc_endpoint e;
        dnsdisc *d = NULL;
        int r;

        r = open_image(f, im, &d);
        if (r == 0)
                r = dnsdisc_service_get(d, "web", &s);
        if (r == 0)
                r = snapshot ? dnsdisc_snapshot(s, NULL, out, DNSDISC_BACKENDS_MAX) : dnsdisc_pick(s, &e);
        dnsdisc_close(d);
        return r;
}

static int pick_web(Fixture *f, const Image *im) {
        return read_web(f, im, false);
}

static int snapshot_web(Fixture *f, const Image *im) {
        return read_web(f, im, true);
}

static void test_crafted_file_is_read(void **state) {
        Fixture *f = *state;
        Image im = image_default();
        dnsdisc_backend out[8];
        dnsdisc_service *s;
        dnsdisc_endpoint e;
        char buf[64];
        dnsdisc *d;
        unsigned seen[4] = { 0 };

        s = open_web(f, &im, &d);
        for (unsigned i = 0; i < 4 * SCHED_LEN; i++) {
                assert_int_equal(dnsdisc_pick(s, &e), 0);
                assert_int_equal(e.port, 80);
                seen[ntohl(e.addr.sin.sin_addr.s_addr) & 3]++;
        }
        assert_int_equal(seen[1], 4);
        assert_int_equal(seen[2], 8);
        assert_int_equal(seen[3], 4);
        assert_int_equal(dnsdisc_snapshot(s, NULL, out, 8), N_BACKENDS);
        assert_string_equal(out[2].target, "c.example");
        assert_int_equal(dnsdisc_endpoint_target(&e, buf, sizeof buf), 0);
        dnsdisc_close(d);
        free(im.p);
}

static void test_open_missing_file_returns_enoent(void **state) {
        Fixture *f = *state;
        dnsdisc *d = NULL;

        assert_int_equal(dnsdisc_open(f->path, &d), -ENOENT);
        assert_null(d);
}

static void test_open_directory_returns_ebadmsg(void **state) {
        Fixture *f = *state;
        dnsdisc *d = NULL;

        assert_int_equal(dnsdisc_open(f->dir, &d), -EBADMSG);
        assert_null(d);
}

static void test_open_truncated_file_returns_ebadmsg(void **state) {
        Fixture *f = *state;
        Image im = image_default();
        dnsdisc *d = NULL;
        unsigned n = 0;

        /* Every length up to the slots, then a stride through the rest. */
        for (size_t len = 0; len < im.size; len += len < 4096 ? 1 : 61, n++) {
                image_write(&im, f->path, len);
                assert_int_equal(dnsdisc_open(f->path, &d), -EBADMSG);
                assert_null(d);
        }
        assert_true(n > 4000);
        free(im.p);
}

static void test_open_wrong_magic_returns_ebadmsg(void **state) {
        Fixture *f = *state;
        Image im = image_default();
        dnsdisc *d = NULL;

        hdr(&im)->magic[7] = 'X';
        assert_int_equal(open_image(f, &im, &d), -EBADMSG);
        free(im.p);
}

static void test_open_other_major_returns_eprotonosupport(void **state) {
        Fixture *f = *state;
        Image im = image_default();
        dnsdisc *d = NULL;

        hdr(&im)->version_major = DD_VERSION_MAJOR + 1;
        assert_int_equal(open_image(f, &im, &d), -EPROTONOSUPPORT);
        hdr(&im)->version_major = 0;
        assert_int_equal(open_image(f, &im, &d), -EPROTONOSUPPORT);
        free(im.p);
}

static void test_minor_bump_with_larger_sizes_is_read(void **state) {
        Fixture *f = *state;
        Image im = image_build(sizeof(dd_header) + 256, sizeof(dd_service) + 128, DD_VERSION_MINOR + 3);
        dnsdisc_service_info info;
        dnsdisc_backend out[8];
        dnsdisc_service *s;
        dnsdisc_endpoint e;
        size_t cursor = 0;
        dnsdisc *d;

        /* Bytes a newer writer put in the grown areas must not matter. */
        memset(im.p + sizeof(dd_header), 0xee, 256);
        memset((uint8_t *) slot0(&im) + sizeof(dd_service), 0xee, 128);
        s = open_web(f, &im, &d);
        assert_int_equal(dnsdisc_pick(s, &e), 0);
        assert_int_equal(e.port, 80);
        assert_int_equal(dnsdisc_snapshot(s, &info, out, 8), N_BACKENDS);
        assert_string_equal(info.query, "web.example");
        assert_string_equal(out[0].target, "a.example");
        assert_int_equal(dnsdisc_service_next(d, &cursor, &s), 1);
        assert_int_equal(dnsdisc_service_next(d, &cursor, &s), 0);
        dnsdisc_close(d);
        free(im.p);
}

static void test_open_bad_header_fields_return_ebadmsg(void **state) {
        Fixture *f = *state;
        struct {
                const char *what;
                size_t offset, width;
                uint64_t value;
        } cases[] = {
                { "header_size small", offsetof(dd_header, header_size), 4, 64 },
                { "header_size huge", offsetof(dd_header, header_size), 4, UINT32_MAX - 7 },
                { "service_size small", offsetof(dd_header, service_size), 4, 8 },
                { "service_size huge", offsetof(dd_header, service_size), 4, 1u << 30 },
                { "n_service_slots huge", offsetof(dd_header, n_service_slots), 4, UINT32_MAX },
                { "n_service_slots past file", offsetof(dd_header, n_service_slots), 4, 1000 },
                { "services_offset past file", offsetof(dd_header, services_offset), 8, 1u << 20 },
                { "services_offset wraps", offsetof(dd_header, services_offset), 8, UINT64_MAX - 100 },
                { "services_offset inside header", offsetof(dd_header, services_offset), 8, 64 },
                { "heap_offset past file", offsetof(dd_header, heap_offset), 8, 1u << 20 },
                { "heap_offset over slots", offsetof(dd_header, heap_offset), 8, 600 },
                { "heap_size past file", offsetof(dd_header, heap_size), 8, 1u << 20 },
                { "heap_size wraps", offsetof(dd_header, heap_size), 8, UINT64_MAX - 7 },
                { "file_size past map", offsetof(dd_header, file_size), 8, 1u << 20 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Image im = image_default();
                dnsdisc *d = NULL;

                memcpy(im.p + cases[i].offset, &cases[i].value, cases[i].width);
                if (open_image(f, &im, &d) != -EBADMSG)
                        fail_msg("%s: not rejected", cases[i].what);
                free(im.p);
        }
}

typedef enum Field {
        EXTENT_OFFSET_PAST_MAP,
        EXTENT_OFFSET_BEFORE_HEAP,
        EXTENT_OFFSET_MISALIGNED,
        EXTENT_OFFSET_WRAPS,
        EXTENT_SIZE_PAST_HEAP,
        N_BACKENDS_PAST_EXTENT,
        N_BACKENDS_OVER_MAX,
        SCHED_LEN_PAST_EXTENT,
        N_ELIGIBLE_OVER_BACKENDS,
        _FIELD_MAX,
} Field;

static void corrupt(Image *im, Field field) {
        dd_service *s = slot0(im);
        dd_header *h = hdr(im);

        switch (field) {
        case EXTENT_OFFSET_PAST_MAP:
                s->extent_offset = im->size + 64;
                break;
        case EXTENT_OFFSET_BEFORE_HEAP:
                s->extent_offset = h->services_offset;
                break;
        case EXTENT_OFFSET_MISALIGNED:
                s->extent_offset += 4;
                break;
        case EXTENT_OFFSET_WRAPS:
                s->extent_offset = UINT64_MAX - 7;
                break;
        case EXTENT_SIZE_PAST_HEAP:
                s->extent_size = (uint32_t) h->heap_size + 8;
                break;
        case N_BACKENDS_PAST_EXTENT:
                s->n_backends = 100;
                break;
        case N_BACKENDS_OVER_MAX:
                s->n_backends = DD_BACKENDS_MAX + 1;
                s->extent_size = (uint32_t) h->heap_size;
                break;
        case SCHED_LEN_PAST_EXTENT:
                s->sched_len = 1000;
                break;
        case N_ELIGIBLE_OVER_BACKENDS:
                s->n_eligible = N_BACKENDS + 1;
                break;
        case _FIELD_MAX:
                break;
        }
}

static void test_bad_extent_fields_return_ebadmsg(void **state) {
        Fixture *f = *state;

        for (Field field = 0; field < _FIELD_MAX; field++) {
                Image im = image_default();
                int r;

                corrupt(&im, field);
                r = pick_web(f, &im);
                if (r != -EBADMSG)
                        fail_msg("field %d: pick returned %d", field, r);
                r = snapshot_web(f, &im);
                if (r != -EBADMSG)
                        fail_msg("field %d: snapshot returned %d", field, r);
                free(im.p);
        }
}

static void test_schedule_entry_out_of_range_returns_ebadmsg(void **state) {
        Fixture *f = *state;
        Image im = image_default();
        dnsdisc_service *s;
        dnsdisc_endpoint e;
        dnsdisc *d;
        int ok = 0, bad = 0;

        /* One entry of four points past the backends: that pick fails, the others do not. */
        schedule(&im)[2] = N_BACKENDS;
        s = open_web(f, &im, &d);
        for (unsigned i = 0; i < 4 * SCHED_LEN; i++) {
                int r = dnsdisc_pick(s, &e);

                if (r == 0)
                        ok++;
                else {
                        assert_int_equal(r, -EBADMSG);
                        bad++;
                }
        }
        assert_true(ok > 0 && bad > 0);
        /* pick_random draws from the schedule too (by weight): the same entry fails some draws. */
        dnsdisc_close(d);
        s = open_web(f, &im, &d);
        bad = 0;
        for (unsigned i = 0; i < 200; i++) {
                int r = dnsdisc_pick_random(s, &e);

                assert_true(r == 0 || r == -EBADMSG);
                bad += r < 0;
        }
        assert_true(bad > 0);
        dnsdisc_close(d);
        free(im.p);
}

static void test_bad_sockaddr_returns_ebadmsg(void **state) {
        Fixture *f = *state;
        Image im = image_default();

        backend(&im, 1)->addrlen = 200;
        assert_int_equal(pick_web(f, &im), -EBADMSG);
        assert_int_equal(snapshot_web(f, &im), -EBADMSG);
        free(im.p);
}

static void test_target_past_extent_returns_ebadmsg(void **state) {
        Fixture *f = *state;
        Image im = image_default();
        dnsdisc_service *s;
        dnsdisc_endpoint e;
        char buf[DNSDISC_TARGET_MAX];
        dnsdisc *d;

        /* The name would run past the extent's end. */
        backend(&im, 2)->target_len = 200;
        assert_int_equal(snapshot_web(f, &im), -EBADMSG);
        backend(&im, 2)->target_len = 9;
        backend(&im, 2)->target_off = UINT32_MAX - 2;
        assert_int_equal(snapshot_web(f, &im), -EBADMSG);
        backend(&im, 2)->target_off = 0; /* inside the backends, not the strings */
        assert_int_equal(snapshot_web(f, &im), -EBADMSG);

        /* Picks do not read names: only endpoint_target on that backend fails. */
        s = open_web(f, &im, &d);
        for (unsigned i = 0; i < SCHED_LEN; i++) {
                int r;

                assert_int_equal(dnsdisc_pick(s, &e), 0);
                r = dnsdisc_endpoint_target(&e, buf, sizeof buf);
                assert_int_equal(r, e._backend == 2 ? -EBADMSG : 0);
        }
        dnsdisc_close(d);
        free(im.p);
}

static void test_unterminated_name_is_not_found(void **state) {
        Fixture *f = *state;
        Image im = image_default();
        dnsdisc_service_info info;
        dnsdisc_service *s;
        dnsdisc *d;
        size_t cursor = 0;

        memset(slot0(&im)->name, 'w', DD_NAME_MAX);
        assert_int_equal(open_image(f, &im, &d), 0);
        assert_int_equal(dnsdisc_service_get(d, "web", &s), -ESRCH);
        assert_int_equal(dnsdisc_service_next(d, &cursor, &s), 0);
        dnsdisc_close(d);

        /* A query that runs over its field fails the copy, not the lookup. */
        free(im.p);
        im = image_default();
        memset(slot0(&im)->query, 'q', DD_QUERY_MAX);
        s = open_web(f, &im, &d);
        assert_int_equal(dnsdisc_service_info_get(s, &info), -EBADMSG);
        dnsdisc_close(d);
        free(im.p);
}

static void test_slot_stuck_odd_returns_eagain(void **state) {
        Fixture *f = *state;
        Image im = image_default();
        dnsdisc_service *s;
        dnsdisc_endpoint e;
        dnsdisc *d;

        s = open_web(f, &im, &d);

        /* A writer that died inside the seqlock: readers give up in bounded time. */
        slot0(&im)->seq = 1;
        image_update(&im, f->path);
        assert_int_equal(dnsdisc_pick(s, &e), -EAGAIN);
        assert_int_equal(dnsdisc_snapshot(s, NULL, (dnsdisc_backend[4]) {}, 4), -EAGAIN);
        assert_int_equal(dnsdisc_wait(s, 0, 1000), -EAGAIN);
        dnsdisc_close(d);

        assert_int_equal(open_image(f, &im, &d), 0);
        assert_int_equal(dnsdisc_service_get(d, "web", &s), -EAGAIN);
        dnsdisc_close(d);
        free(im.p);
}

static void test_listing_skips_a_slot_stuck_mid_write(void **state) {
        Fixture *f = *state;
        Image im = image_default();
        dnsdisc_service *s;
        dnsdisc_service_info info;
        size_t cursor = 0;
        dnsdisc *d;

        /* A second service after the first, sharing its extent. */
        dd_service *second = (dd_service *) ((uint8_t *) slot0(&im) + hdr(&im)->service_size);
        memcpy(second, slot0(&im), sizeof *second);
        second->incarnation = 2;
        strcpy(second->name, "api");
        /* The writer died inside the first slot's seqlock (kill -9): until a
         * new writer repairs it, listing must still reach the second. */
        slot0(&im)->seq = 1;
        assert_int_equal(open_image(f, &im, &d), 0);
        assert_int_equal(dnsdisc_service_next(d, &cursor, &s), 1);
        assert_int_equal(dnsdisc_service_info_get(s, &info), 0);
        assert_string_equal(info.name, "api");
        assert_int_equal(dnsdisc_service_next(d, &cursor, &s), 0);
        dnsdisc_close(d);
        free(im.p);
}

/* xorshift64: a fixed sequence, so a failure can be replayed. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return rng_state;
}

/* Everything a client may call; any result is fine as long as it is one of ours. */
static void exercise(Fixture *f, const Image *im, unsigned *ret_opened, unsigned *ret_picked) {
        static dnsdisc_backend out[DNSDISC_BACKENDS_MAX];
        dnsdisc_service_info info;
        dnsdisc_daemon_info di;
        dnsdisc_service *s;
        dnsdisc_endpoint e;
        char buf[DNSDISC_TARGET_MAX];
        size_t cursor = 0;
        dnsdisc *d;
        int r;

        r = open_image(f, im, &d);
        assert_true(r == 0 || r == -EBADMSG || r == -EPROTONOSUPPORT);
        if (r < 0)
                return;
        (*ret_opened)++;
        (void) dnsdisc_is_stale(d);
        assert_int_equal(dnsdisc_daemon_info_get(d, &di), 0);
        for (unsigned i = 0; i < 8; i++) {
                r = dnsdisc_service_next(d, &cursor, &s);
                assert_true(r >= 0 || r == -EAGAIN);
                if (r <= 0)
                        break;
                r = dnsdisc_snapshot(s, &info, out, DNSDISC_BACKENDS_MAX);
                assert_true(r >= 0 || r == -EBADMSG || r == -ESRCH || r == -EAGAIN);
        }
        r = dnsdisc_service_get(d, "web", &s);
        assert_true(r == 0 || r == -ESRCH || r == -EAGAIN);
        if (r == 0) {
                for (unsigned i = 0; i < 6; i++) {
                        r = (i & 1) ? dnsdisc_pick_random(s, &e) : dnsdisc_pick(s, &e);
                        assert_true(r == 0 || r == -EBADMSG || r == -EHOSTUNREACH || r == -ESRCH || r == -EAGAIN);
                        if (r == 0) {
                                (*ret_picked)++;
                                assert_true(e.addrlen <= sizeof(struct sockaddr_in6));
                                r = dnsdisc_endpoint_target(&e, buf, sizeof buf);
                                assert_true(r == 0 || r == -EBADMSG || r == -ESTALE);
                                (void) dnsdisc_endpoint_format(&e, buf, sizeof buf);
                                (void) dnsdisc_report_failure(&e);
                        }
                }
                r = dnsdisc_service_info_get(s, &info);
                assert_true(r == 0 || r == -EBADMSG || r == -ESRCH || r == -EAGAIN);
                (void) dnsdisc_wait(s, dnsdisc_generation(s), 0);
        }
        dnsdisc_close(d);
}

static void test_random_corruption_never_crashes(void **state) {
        Fixture *f = *state;
        Image base = image_default();
        unsigned opened = 0, picked = 0;
        enum { FILES = 3000 };

        for (unsigned n = 0; n < FILES; n++) {
                Image im = base;
                unsigned flips = 1 + rnd() % 8;

                im.p = image_alloc(base.size);
                memcpy(im.p, base.p, base.size);
                for (unsigned i = 0; i < flips; i++) {
                        /* Mostly where the meaning is: header, slot 0, and the extent. */
                        uint64_t where = rnd() % 4, off;

                        if (where == 0)
                                off = rnd() % 128;
                        else if (where == 1)
                                off = hdr(&base)->services_offset + rnd() % 64;
                        else if (where == 2)
                                off = hdr(&base)->heap_offset + rnd() % slot0(&base)->extent_size;
                        else
                                off = rnd() % base.size;
                        switch (rnd() % 3) {
                        case 0:
                                im.p[off] ^= (uint8_t) (1u << (rnd() % 8));
                                break;
                        case 1:
                                im.p[off] = (uint8_t) rnd();
                                break;
                        default:
                                /* A plausible-looking small or huge value over several bytes. */
                                for (unsigned k = 0; k < 4 && off + k < base.size; k++)
                                        im.p[off + k] = (rnd() & 1) ? 0xff : (uint8_t) (rnd() % 4);
                        }
                }
                /* Keep seq even where it lands: a stuck odd seq is tested on its own and is slow. */
                im.p[hdr(&base)->services_offset + offsetof(dd_service, seq)] &= 0xfe;
                exercise(f, &im, &opened, &picked);
                free(im.p);
        }
        print_message("# %u mutated files: %u opened, %u successful picks\n", FILES, opened, picked);
        /* The mutations must leave enough files readable to reach the deeper checks. */
        assert_true(opened > FILES / 2);
        assert_true(picked > FILES);
        free(base.p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
                T(test_crafted_file_is_read),
                T(test_open_missing_file_returns_enoent),
                T(test_open_directory_returns_ebadmsg),
                T(test_open_truncated_file_returns_ebadmsg),
                T(test_open_wrong_magic_returns_ebadmsg),
                T(test_open_other_major_returns_eprotonosupport),
                T(test_minor_bump_with_larger_sizes_is_read),
                T(test_open_bad_header_fields_return_ebadmsg),
                T(test_bad_extent_fields_return_ebadmsg),
                T(test_schedule_entry_out_of_range_returns_ebadmsg),
                T(test_bad_sockaddr_returns_ebadmsg),
                T(test_target_past_extent_returns_ebadmsg),
                T(test_unterminated_name_is_not_found),
                T(test_slot_stuck_odd_returns_eagain),
                T(test_listing_skips_a_slot_stuck_mid_write),
                T(test_random_corruption_never_crashes),
#undef T
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
