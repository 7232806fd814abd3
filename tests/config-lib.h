/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* config-lib.h: the fixture the configuration tests share: a private directory with a main file and conf.d. */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>

/* Not "config.h": the build directory's autoconf header would shadow it. */
#include "config.h"
#include "util.h"

#define SEC USEC_PER_SEC
#define MSEC USEC_PER_MSEC
#define MINUTE (60 * SEC)
#define HOUR (3600 * SEC)

typedef struct T {
        char dir[1024];
        char main[1100];        /* dir/dnsdisc.conf */
        char dropins[1100];     /* dir/conf.d */
        Config *config;
        char *error;
} T;

static inline int setup(void **state) {
        const char *tmp = getenv("TMPDIR");
        T *t = calloc(1, sizeof *t);

        if (!t)
                return -1;
        snprintf(t->dir, sizeof t->dir, "%s/test-config.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(t->dir)) {
                free(t);
                return -1;
        }
        snprintf(t->main, sizeof t->main, "%s/dnsdisc.conf", t->dir);
        snprintf(t->dropins, sizeof t->dropins, "%s/conf.d", t->dir);
        *state = t;
        return 0;
}

static inline int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

static inline int teardown(void **state) {
        T *t = *state;

        config_free(t->config);
        free(t->error);
        nftw(t->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
        free(t);
        return 0;
}

static inline void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        assert_true(fputs(text, f) >= 0);
        assert_int_equal(fclose(f), 0);
}

static inline void write_main(T *t, const char *text) {
        write_file(t->main, text);
}

/* Writes conf.d/name; returns its path in a static buffer. */
static inline const char *write_dropin(T *t, const char *name, const char *text) {
        static char path[PATH_MAX];

        assert_true(mkdir(t->dropins, 0755) == 0 || errno == EEXIST);
        snprintf(path, sizeof path, "%s/%s", t->dropins, name);
        write_file(path, text);
        return path;
}

static inline int load_from(T *t, const char *dropin_dir) {
        t->config = config_free(t->config);
        free(t->error);
        t->error = NULL;
        return config_load(t->main, dropin_dir, &t->config, &t->error);
}

static inline int load(T *t) {
        return load_from(t, NULL);
}

static inline void load_ok(T *t) {
        int r = load(t);

        if (r < 0)
                fail_msg("config_load: %d: %s", r, t->error ? t->error : "(no message)");
        assert_non_null(t->config);
        assert_null(t->error);
}

/* 1-based number of the first line of text containing needle. */
static inline unsigned line_of(const char *text, const char *needle) {
        const char *hit = strstr(text, needle);
        unsigned line = 1;

        if (!hit)
                fail_msg("'%s' is not in the test input", needle);
        for (const char *c = text; c < hit; c++)
                line += *c == '\n';
        return line;
}

static inline void assert_error_at(T *t, int r, const char *file, unsigned line, const char *what) {
        char prefix[PATH_MAX + 32];

        if (r >= 0)
                fail_msg("config_load succeeded; expected %s:%u: ...%s...", file, line, what);
        assert_null(t->config);
        assert_non_null(t->error);
        snprintf(prefix, sizeof prefix, "%s:%u: ", file, line);
        if (strncmp(t->error, prefix, strlen(prefix)) != 0 || !strstr(t->error, what))
                fail_msg("error '%s', expected '%s...%s...'", t->error, prefix, what);
}

/* Writes text as the main file and expects an error on the line holding marker. */
static inline void assert_main_error(T *t, const char *text, const char *marker, const char *what) {
        write_main(t, text);
        assert_error_at(t, load(t), t->main, line_of(text, marker), what);
}

static inline const ServiceConfig *service(const Config *c, const char *name) {
        for (size_t i = 0; i < c->n_services; i++)
                if (streq(c->services[i].name, name))
                        return &c->services[i];
        fail_msg("no service '%s'", name);
        return NULL;
}

static inline void assert_settings_equal(const ServiceSettings *a, const ServiceSettings *b) {
        assert_int_equal(a->min_ttl_usec, b->min_ttl_usec);
        assert_int_equal(a->max_ttl_usec, b->max_ttl_usec);
        assert_int_equal(a->stale_ttl_usec, b->stale_ttl_usec);
        assert_int_equal(a->negative_confirm, b->negative_confirm);
        assert_int_equal(a->family, b->family);
        assert_int_equal(a->max_backends, b->max_backends);
        assert_int_equal(a->check, b->check);
        if (a->check_path || b->check_path) {
                assert_non_null(a->check_path);
                assert_non_null(b->check_path);
                assert_string_equal(a->check_path, b->check_path);
        }
        assert_int_equal(a->check_port, b->check_port);
        assert_int_equal(a->check_interval_usec, b->check_interval_usec);
        assert_int_equal(a->check_timeout_usec, b->check_timeout_usec);
        assert_int_equal(a->rise, b->rise);
        assert_int_equal(a->fall, b->fall);
        assert_int_equal(a->panic, b->panic);
}

static inline void assert_server(const ConfigServer *s, int family, const char *addr, uint16_t port) {
        uint8_t want[16] = {};

        assert_int_equal(inet_pton(family, addr, want), 1);
        assert_int_equal(s->family, family);
        assert_memory_equal(s->addr, want, family == AF_INET ? 4 : 16);
        assert_int_equal(s->port, port);
}
