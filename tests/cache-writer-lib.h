/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cache-writer-lib.h: the fixture and readers the cache writer's tests share (a private directory, a read-only mapping). */
#pragma once

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <cmocka.h>

#include "cache-file.h"
#include "cache-writer.h"
#include "schedule.h"
#include "tempdir.h"
#include "util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(CacheWriter *, cache_writer_free);

/* Per test: a private directory and the cache path in it. */
typedef struct Fixture {
        char dir[64];
        char path[96];
} Fixture;

static inline int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        if (!f)
                return -1;
        if (tempdir_make("test-cache-writer", f->dir, f->path) < 0) {
                free(f);
                return -1;
        }
        *state = f;
        return 0;
}

static inline int teardown(void **state) {
        Fixture *f = *state;

        tempdir_remove(f->dir);
        free(f);
        return 0;
}

/* A read-only mapping of the file at path, as a reader in another process would have it. */
typedef struct Map {
        const uint8_t *p;
        uint64_t size;
        const dd_header *h;
} Map;

static inline Map map_open(const char *path) {
        struct stat st;
        Map m = {};
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &st), 0);
        m.size = (uint64_t) st.st_size;
        m.p = mmap(NULL, m.size, PROT_READ, MAP_SHARED, fd, 0);
        assert_true(m.p != MAP_FAILED);
        close(fd);
        m.h = (const dd_header *) m.p;
        assert_int_equal(dd_validate_header(m.p, m.size), 0);
        return m;
}

/* A writer opened on path (in *ret_w, for the caller to free) that published svc as new: the file mapped. */
static inline Map publish_new(const char *path, const PubService *svc, CacheWriter **ret_w) {
        assert_int_equal(cache_writer_open(path, ret_w), 0);
        assert_int_equal(cache_writer_publish(*ret_w, svc), 1);
        return map_open(path);
}

static inline void map_close(Map *m) {
        if (m->p)
                munmap((void *) m->p, m->size);
        *m = (Map) {};
}

static inline int map_find(const Map *m, const char *name) {
        for (uint32_t i = 0; i < m->h->n_service_slots; i++) {
                const dd_service *s = dd_slot(m->p, i);
                if (s->incarnation != 0 && strncmp(s->name, name, DD_NAME_MAX) == 0)
                        return (int) i;
        }
        return -1;
}

/* The live service name, with its extent checked as a reader would. */
static inline const dd_service *map_service(const Map *m, const char *name) {
        int i = map_find(m, name);
        assert_true(i >= 0);
        const dd_service *s = dd_slot(m->p, (uint32_t) i);
        assert_int_equal(s->seq % 2, 0);
        assert_true(dd_extent_ok(m->h, m->size, s->extent_offset, s->extent_size, s->n_backends, s->sched_len,
                                 s->n_eligible));
        return s;
}

static inline uint32_t map_live(const Map *m) {
        uint32_t n = 0;
        for (uint32_t i = 0; i < m->h->n_service_slots; i++)
                n += dd_slot(m->p, i)->incarnation != 0;
        return n;
}

static inline PubBackend backend(const char *addr, uint16_t port, uint16_t priority, uint16_t weight, uint8_t health,
                          const char *target) {
        PubBackend b = { .port = port, .priority = priority, .weight = weight, .health = health, .target = target };
        if (inet_pton(AF_INET, addr, b.addr) == 1) {
                b.family = 4;
                b.source = DD_SOURCE_A;
        } else {
                assert_int_equal(inet_pton(AF_INET6, addr, b.addr), 1);
                b.family = 6;
                b.source = DD_SOURCE_AAAA;
        }
        return b;
}

static inline PubService service(const char *name, const PubBackend *b, size_t n) {
        return (PubService) {
                .name = name,
                .query = name,
                .panic = true,
                .state = DD_STATE_OK,
                .backends = b,
                .n_backends = n,
        };
}

static inline char *name_of(char *buf, size_t size, unsigned i) {
        snprintf(buf, size, "svc-%04u", i);
        return buf;
}

static inline void write_file(const char *path, const void *data, size_t size) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, size), (ssize_t) size);
        close(fd);
}

/* After cache_writer_open() replaced whatever was at path: a fresh, empty, valid file. */
static inline void assert_fresh_file(const char *path) {
        struct stat st;
        assert_int_equal(lstat(path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        Map m = map_open(path);
        assert_int_equal(m.h->version_major, DD_VERSION_MAJOR);
        assert_int_equal(map_live(&m), 0);
        map_close(&m);
}
