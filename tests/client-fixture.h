/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* client-fixture.h: the fixture of libdnsdisc's unit tests: a real cache writer in a private directory, sets, readers. */
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cache-writer.h"
#include "dnsdisc.h"
#include "internal.h"
#include "tempdir.h"
#include "util.h"

#define FIXTURE_MAXB 20

/* Per test: a private directory, the cache path in it, and the writer. */
typedef struct Fixture {
        char dir[64];
        char path[96];
        CacheWriter *w;
} Fixture;

static uint64_t fixture_now;

/* For dd_clock_hook: time moves only when a test says so. */
static inline uint64_t fixture_clock(void) {
        return fixture_now;
}

/* The library's clock stopped at usec, from now on moved by the test through fixture_now. */
static inline void fixture_clock_start(uint64_t usec) {
        fixture_now = usec;
        dd_clock_hook = fixture_clock;
}

static inline int fixture_setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);

        if (!f)
                return -1;
        if (tempdir_make("test-client", f->dir, f->path) < 0) {
                free(f);
                return -1;
        }
        if (cache_writer_open(f->path, &f->w) < 0) {
                rmdir(f->dir);
                free(f);
                return -1;
        }
        dd_clock_hook = NULL;
        *state = f;
        return 0;
}

static inline int fixture_teardown(void **state) {
        Fixture *f = *state;

        cache_writer_free(f->w);
        tempdir_remove(f->dir);
        free(f);
        dd_clock_hook = NULL;
        return 0;
}

/* A set of n IPv4 backends 10.k.0.1.. with port 1000 + k: any endpoint tells which set it came from. */
typedef struct Set {
        PubBackend b[FIXTURE_MAXB];
        char targets[FIXTURE_MAXB][32];
        PubService svc;
} Set;

/* set_init with backend i of weight weights[i] (NULL: all 1). */
static inline void set_init_weighted(Set *s, const char *name, unsigned k, size_t n, const uint16_t *weights) {
        memset(s, 0, sizeof *s);
        for (size_t i = 0; i < n; i++) {
                PubBackend *b = &s->b[i];

                snprintf(s->targets[i], sizeof s->targets[i], "b%zu.set%u.example", i + 1, k);
                b->family = 4;
                b->addr[0] = 10;
                b->addr[1] = (uint8_t) k;
                b->addr[3] = (uint8_t) (i + 1);
                b->port = (uint16_t) (1000 + k);
                b->weight = weights ? weights[i] : 1;
                b->source = DD_SOURCE_A;
                b->health = DD_HEALTH_UP;
                b->target = s->targets[i];
        }
        s->svc = (PubService) { .name = name, .query = name, .state = DD_STATE_OK, .backends = s->b, .n_backends = n };
}

static inline void set_init(Set *s, const char *name, unsigned k, size_t n) {
        set_init_weighted(s, name, k, n, NULL);
}

static inline void publish_to(CacheWriter *w, const Set *s) {
        assert_true(cache_writer_publish(w, &s->svc) >= 0);
}

static inline dnsdisc *open_reader(const Fixture *f) {
        dnsdisc *d = NULL;

        assert_int_equal(dnsdisc_open(f->path, &d), 0);
        assert_non_null(d);
        return d;
}

static inline dnsdisc_service *lookup(dnsdisc *d, const char *name) {
        dnsdisc_service *s = NULL;

        assert_int_equal(dnsdisc_service_get(d, name, &s), 0);
        assert_non_null(s);
        return s;
}

/* Publishes set and opens a reader on the file: the reader in *ret_d (the caller closes it), the set's service returned. */
static inline dnsdisc_service *publish_and_open(const Fixture *f, const Set *set, dnsdisc **ret_d) {
        publish_to(f->w, set);
        *ret_d = open_reader(f);
        return lookup(*ret_d, set->svc.name);
}

/* Set k of n backends, as set_init makes it, published as "web" and opened as publish_and_open does. */
static inline dnsdisc_service *open_web(const Fixture *f, unsigned k, size_t n, dnsdisc **ret_d) {
        Set set;

        set_init(&set, "web", k, n);
        return publish_and_open(f, &set, ret_d);
}

/* Which set (the k of 10.k.0.x) an endpoint came from. */
static inline unsigned set_of(const dnsdisc_endpoint *e) {
        uint32_t a = ntohl(e->addr.sin.sin_addr.s_addr);

        assert_int_equal(e->addr.sa.sa_family, AF_INET);
        assert_int_equal(a >> 24, 10);
        return (a >> 16) & 0xff;
}

/* The host byte of an endpoint (10.k.0.host). */
static inline unsigned host_of(const dnsdisc_endpoint *e) {
        return ntohl(e->addr.sin.sin_addr.s_addr) & 0xff;
}

/* The file at path mapped read-write, as a second writer (or a corrupting one) sees it. */
static inline dd_header *map_rw(const char *path, size_t *ret_size) {
        struct stat st;
        void *p;
        int fd;

        fd = open(path, O_RDWR | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &st), 0);
        p = mmap(NULL, (size_t) st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        assert_true(p != MAP_FAILED);
        close(fd);
        *ret_size = (size_t) st.st_size;
        return p;
}

/* A writer that died: its heartbeats (both clocks) older than three intervals, no flag set (SIGKILL, OOM). */
static inline void heartbeat_age(dd_header *h) {
        int64_t age = (int64_t) (3 * MAX(h->heartbeat_interval_ms, 1000u) + 1000) * 1000;

        atomic_store(&h->heartbeat_boot_usec, (int64_t) now_usec(CLOCK_BOOTTIME) - age);
        atomic_store(&h->heartbeat_usec, (int64_t) now_usec(CLOCK_REALTIME) - age);
}

/*
 * A new writer's file renamed over f->path, holding set k for "web", as a new
 * daemon makes when it cannot adopt the old file: the old one is not marked.
 * The new writer is returned, for the caller to free.
 */
static inline CacheWriter *new_file_over(const Fixture *f, unsigned k) {
        char other[128];
        CacheWriter *w = NULL;
        Set set;

        snprintf(other, sizeof other, "%s/next", f->dir);
        assert_int_equal(cache_writer_open(other, &w), 0);
        set_init(&set, "web", k, 3);
        publish_to(w, &set);
        assert_int_equal(cache_writer_heartbeat(w), 0);
        assert_int_equal(rename(other, f->path), 0);
        return w;
}
