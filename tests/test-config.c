/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-config.c: dnsdisc.conf parsing, drop-ins, validation errors with their locations, durations. */
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

static int setup(void **state) {
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

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

static int teardown(void **state) {
        T *t = *state;

        config_free(t->config);
        free(t->error);
        nftw(t->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
        free(t);
        return 0;
}

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        assert_true(fputs(text, f) >= 0);
        assert_int_equal(fclose(f), 0);
}

static void write_main(T *t, const char *text) {
        write_file(t->main, text);
}

/* Writes conf.d/name; returns its path in a static buffer. */
static const char *write_dropin(T *t, const char *name, const char *text) {
        static char path[PATH_MAX];

        assert_true(mkdir(t->dropins, 0755) == 0 || errno == EEXIST);
        snprintf(path, sizeof path, "%s/%s", t->dropins, name);
        write_file(path, text);
        return path;
}

static int load_from(T *t, const char *dropin_dir) {
        t->config = config_free(t->config);
        free(t->error);
        t->error = NULL;
        return config_load(t->main, dropin_dir, &t->config, &t->error);
}

static int load(T *t) {
        return load_from(t, NULL);
}

static void load_ok(T *t) {
        int r = load(t);

        if (r < 0)
                fail_msg("config_load: %d: %s", r, t->error ? t->error : "(no message)");
        assert_non_null(t->config);
        assert_null(t->error);
}

/* 1-based number of the first line of text containing needle. */
static unsigned line_of(const char *text, const char *needle) {
        const char *hit = strstr(text, needle);
        unsigned line = 1;

        if (!hit)
                fail_msg("'%s' is not in the test input", needle);
        for (const char *c = text; c < hit; c++)
                line += *c == '\n';
        return line;
}

static void assert_error_at(T *t, int r, const char *file, unsigned line, const char *what) {
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
static void assert_main_error(T *t, const char *text, const char *marker, const char *what) {
        write_main(t, text);
        assert_error_at(t, load(t), t->main, line_of(text, marker), what);
}

static const ServiceConfig *service(const Config *c, const char *name) {
        for (size_t i = 0; i < c->n_services; i++)
                if (streq(c->services[i].name, name))
                        return &c->services[i];
        fail_msg("no service '%s'", name);
        return NULL;
}

static void assert_settings_equal(const ServiceSettings *a, const ServiceSettings *b) {
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

static void assert_server(const ConfigServer *s, int family, const char *addr, uint16_t port) {
        uint8_t want[16] = {};

        assert_int_equal(inet_pton(family, addr, want), 1);
        assert_int_equal(s->family, family);
        assert_memory_equal(s->addr, want, family == AF_INET ? 4 : 16);
        assert_int_equal(s->port, port);
}

static const char example[] =
        "[daemon]\n"
        "cache = /run/dnsdisc/cache\n"
        "servers = 127.0.0.1:5353 [::1]:53   # optional; default: nameservers of /etc/resolv.conf\n"
        "query-timeout = 1s\n"
        "query-tries = 3\n"
        "max-inflight = 128\n"
        "max-checks-inflight = 256\n"
        "min-ttl = 5s\n"
        "max-ttl = 1h\n"
        "stale-ttl = 10min          # how long the last good set is served while DNS fails\n"
        "negative-confirm = 2       # NXDOMAIN/NODATA answers in a row before a service that had backends is "
        "emptied\n"
        "log-level = info\n"
        "family = any\n"
        "max-backends = 64\n"
        "check = none\n"
        "check-interval = 5s\n"
        "check-timeout = 1s\n"
        "rise = 2\n"
        "fall = 3\n"
        "panic = on\n"
        "\n"
        "[service api]\n"
        "srv = _http._tcp.api.example.com\n"
        "family = any               # any, ipv4, ipv6\n"
        "max-backends = 64\n"
        "check = http /healthz      # none | tcp | http PATH\n"
        "check-port = 9000\n"
        "check-interval = 5s\n"
        "check-timeout = 1s\n"
        "rise = 2\n"
        "fall = 3\n"
        "panic = on\n"
        "\n"
        "[service legacy]\n"
        "host = legacy.example.com  # A/AAAA records ...\n"
        "port = 8080                # ... with this port\n"
        "min-ttl = 30s              # any [daemon] TTL/stale/check key can be overridden per service\n";

static void test_example_parses_every_field(void **state) {
        T *t = *state;
        const ServiceConfig *api, *legacy;
        const Config *c;

        write_main(t, example);
        load_ok(t);
        c = t->config;

        assert_string_equal(c->cache_path, "/run/dnsdisc/cache");
        assert_int_equal(c->n_servers, 2);
        assert_server(&c->servers[0], AF_INET, "127.0.0.1", 5353);
        assert_server(&c->servers[1], AF_INET6, "::1", 53);
        assert_int_equal(c->query_timeout_usec, 1 * SEC);
        assert_int_equal(c->query_tries, 3);
        assert_int_equal(c->max_inflight, 128);
        assert_int_equal(c->max_checks_inflight, 256);
        assert_int_equal(c->log_level, LOG_INFO);
        assert_int_equal(c->defaults.min_ttl_usec, 5 * SEC);
        assert_int_equal(c->defaults.max_ttl_usec, HOUR);
        assert_int_equal(c->defaults.stale_ttl_usec, 10 * MINUTE);
        assert_int_equal(c->defaults.negative_confirm, 2);
        assert_int_equal(c->defaults.family, FAMILY_ANY);
        assert_int_equal(c->defaults.max_backends, 64);
        assert_int_equal(c->defaults.check, CHECK_NONE);
        assert_null(c->defaults.check_path);
        assert_int_equal(c->defaults.check_port, 0);
        assert_int_equal(c->defaults.check_interval_usec, 5 * SEC);
        assert_int_equal(c->defaults.check_timeout_usec, 1 * SEC);
        assert_int_equal(c->defaults.rise, 2);
        assert_int_equal(c->defaults.fall, 3);
        assert_true(c->defaults.panic);

        assert_int_equal(c->n_services, 2);
        api = &c->services[0];
        assert_string_equal(api->name, "api");
        assert_string_equal(api->srv, "_http._tcp.api.example.com");
        assert_null(api->host);
        assert_int_equal(api->port, 0);
        assert_string_equal(api->file, t->main);
        assert_int_equal(api->line, line_of(example, "[service api]"));
        assert_int_equal(api->s.check, CHECK_HTTP);
        assert_string_equal(api->s.check_path, "/healthz");
        assert_int_equal(api->s.check_port, 9000);
        assert_int_equal(api->s.min_ttl_usec, 5 * SEC);
        assert_int_equal(api->s.max_ttl_usec, HOUR);
        assert_int_equal(api->s.stale_ttl_usec, 10 * MINUTE);
        assert_int_equal(api->s.negative_confirm, 2);
        assert_int_equal(api->s.family, FAMILY_ANY);
        assert_int_equal(api->s.max_backends, 64);
        assert_int_equal(api->s.check_interval_usec, 5 * SEC);
        assert_int_equal(api->s.check_timeout_usec, 1 * SEC);
        assert_int_equal(api->s.rise, 2);
        assert_int_equal(api->s.fall, 3);
        assert_true(api->s.panic);

        legacy = &c->services[1];
        assert_string_equal(legacy->name, "legacy");
        assert_null(legacy->srv);
        assert_string_equal(legacy->host, "legacy.example.com");
        assert_int_equal(legacy->port, 8080);
        assert_string_equal(legacy->file, t->main);
        assert_int_equal(legacy->line, line_of(example, "[service legacy]"));
        assert_int_equal(legacy->s.min_ttl_usec, 30 * SEC);
        assert_int_equal(legacy->s.max_ttl_usec, HOUR);
        assert_int_equal(legacy->s.check, CHECK_NONE);
        assert_null(legacy->s.check_path);
}

static void test_defaults_without_keys(void **state) {
        T *t = *state;
        const Config *c;

        write_main(t, "[service a]\nsrv = _a._tcp.example.com\n");
        load_ok(t);
        c = t->config;

        assert_string_equal(c->cache_path, "/run/dnsdisc/cache");
        assert_int_equal(c->n_servers, 0);
        assert_null(c->servers);
        assert_int_equal(c->query_timeout_usec, 1 * SEC);
        assert_int_equal(c->query_tries, 3);
        assert_int_equal(c->max_inflight, 128);
        assert_int_equal(c->max_checks_inflight, 256);
        assert_int_equal(c->log_level, LOG_INFO);
        assert_int_equal(c->defaults.min_ttl_usec, 5 * SEC);
        assert_int_equal(c->defaults.max_ttl_usec, HOUR);
        assert_int_equal(c->defaults.stale_ttl_usec, 10 * MINUTE);
        assert_int_equal(c->defaults.negative_confirm, 2);
        assert_int_equal(c->defaults.family, FAMILY_ANY);
        assert_int_equal(c->defaults.max_backends, 64);
        assert_int_equal(c->defaults.check, CHECK_NONE);
        assert_null(c->defaults.check_path);
        assert_int_equal(c->defaults.check_port, 0);
        assert_int_equal(c->defaults.check_interval_usec, 5 * SEC);
        assert_int_equal(c->defaults.check_timeout_usec, 1 * SEC);
        assert_int_equal(c->defaults.rise, 2);
        assert_int_equal(c->defaults.fall, 3);
        assert_true(c->defaults.panic);

        assert_int_equal(c->n_services, 1);
        assert_settings_equal(&c->services[0].s, &c->defaults);
}

static void test_empty_file_has_no_services(void **state) {
        T *t = *state;

        write_main(t, "# nothing configured yet\n\n");
        load_ok(t);
        assert_int_equal(t->config->n_services, 0);
        assert_null(t->config->services);
}

static void test_drop_services_keeps_the_daemon_settings(void **state) {
        T *t = *state;

        write_main(t, "[daemon]\ncache = /run/x/cache\nmax-inflight = 7\n"
                      "[service a]\nsrv = _a._tcp.example.com\ncheck = http /up\n"
                      "[service b]\nhost = b.example.com\nport = 80\n");
        load_ok(t);
        assert_int_equal(t->config->n_services, 2);
        config_drop_services(t->config);
        assert_int_equal(t->config->n_services, 0);
        assert_null(t->config->services);
        assert_string_equal(t->config->cache_path, "/run/x/cache");
        assert_int_equal(t->config->max_inflight, 7);
        config_drop_services(t->config); /* again: nothing left to free */
        config_drop_services(NULL);
        assert_int_equal(t->config->n_services, 0);
}

static void test_daemon_keys_set_their_fields(void **state) {
        static const char text[] =
                "[daemon]\n"
                "cache = /var/cache/dd\n"
                "servers = 10.0.0.1\n"
                "query-timeout = 250ms\n"
                "query-tries = 10\n"
                "max-inflight = 4096\n"
                "max-checks-inflight = 65536\n"
                "log-level = debug\n"
                "min-ttl = 2s\n"
                "max-ttl = 30min\n"
                "stale-ttl = 0\n"
                "negative-confirm = 100\n"
                "family = ipv6\n"
                "max-backends = 1024\n"
                "check = http /ping\n"
                "check-port = 65535\n"
                "check-interval = 3s\n"
                "check-timeout = 2500ms\n"
                "rise = 100\n"
                "fall = 1\n"
                "panic = off\n"
                "[service s]\n"
                "srv = _s._tcp.example.com\n";
        T *t = *state;
        const Config *c;

        write_main(t, text);
        load_ok(t);
        c = t->config;
        assert_string_equal(c->cache_path, "/var/cache/dd");
        assert_int_equal(c->n_servers, 1);
        assert_server(&c->servers[0], AF_INET, "10.0.0.1", 53);
        assert_int_equal(c->query_timeout_usec, 250 * MSEC);
        assert_int_equal(c->query_tries, 10);
        assert_int_equal(c->max_inflight, 4096);
        assert_int_equal(c->max_checks_inflight, 65536);
        assert_int_equal(c->log_level, LOG_DEBUG);
        assert_int_equal(c->defaults.min_ttl_usec, 2 * SEC);
        assert_int_equal(c->defaults.max_ttl_usec, 30 * MINUTE);
        assert_int_equal(c->defaults.stale_ttl_usec, 0);
        assert_int_equal(c->defaults.negative_confirm, 100);
        assert_int_equal(c->defaults.family, FAMILY_IPV6);
        assert_int_equal(c->defaults.max_backends, 1024);
        assert_int_equal(c->defaults.check, CHECK_HTTP);
        assert_string_equal(c->defaults.check_path, "/ping");
        assert_int_equal(c->defaults.check_port, 65535);
        assert_int_equal(c->defaults.check_interval_usec, 3 * SEC);
        assert_int_equal(c->defaults.check_timeout_usec, 2500 * MSEC);
        assert_int_equal(c->defaults.rise, 100);
        assert_int_equal(c->defaults.fall, 1);
        assert_false(c->defaults.panic);

        /* A service with no keys of its own takes all of them, the path included. */
        assert_settings_equal(&service(c, "s")->s, &c->defaults);
        assert_ptr_not_equal(service(c, "s")->s.check_path, c->defaults.check_path);
}

static void test_service_keys_override_daemon_defaults(void **state) {
        static const char text[] =
                "[service s]\n"
                "host = s.example.com\n"
                "port = 1\n"
                "min-ttl = 1min\n"
                "max-ttl = 2h\n"
                "stale-ttl = 1d\n"
                "negative-confirm = 7\n"
                "family = ipv4\n"
                "max-backends = 1\n"
                "check = tcp\n"
                "check-port = 1\n"
                "check-interval = 1h\n"
                "check-timeout = 59min\n"
                "rise = 1\n"
                "fall = 100\n"
                "panic = no\n"
                "[daemon]\n"
                "check = http /daemon\n";
        T *t = *state;
        const ServiceConfig *s;

        write_main(t, text);
        load_ok(t);
        s = service(t->config, "s");
        assert_null(s->srv);
        assert_string_equal(s->host, "s.example.com");
        assert_int_equal(s->port, 1);
        assert_int_equal(s->s.min_ttl_usec, MINUTE);
        assert_int_equal(s->s.max_ttl_usec, 2 * HOUR);
        assert_int_equal(s->s.stale_ttl_usec, 24 * HOUR);
        assert_int_equal(s->s.negative_confirm, 7);
        assert_int_equal(s->s.family, FAMILY_IPV4);
        assert_int_equal(s->s.max_backends, 1);
        assert_int_equal(s->s.check, CHECK_TCP);
        assert_null(s->s.check_path);
        assert_int_equal(s->s.check_port, 1);
        assert_int_equal(s->s.check_interval_usec, HOUR);
        assert_int_equal(s->s.check_timeout_usec, 59 * MINUTE);
        assert_int_equal(s->s.rise, 1);
        assert_int_equal(s->s.fall, 100);
        assert_false(s->s.panic);
        assert_int_equal(t->config->defaults.check, CHECK_HTTP);
}

static void test_every_listed_key_is_accepted(void **state) {
        static const struct {
                const char *key, *value;
        } values[] = {
                { "cache", "/tmp/x" },
                { "servers", "127.0.0.1" },
                { "query-timeout", "2s" },
                { "query-tries", "4" },
                { "max-inflight", "10" },
                { "max-checks-inflight", "10" },
                { "log-level", "debug" },
                { "notify-listen", "127.0.0.1:5300" },
                { "notify-allow", "127.0.0.0/8" },
                { "notify-key", "k:hmac-sha256:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg==" },
                { "notify-key-file", "(written by the test)" },
                { "notify-min-interval", "50ms" },
                { "min-ttl", "1s" },
                { "max-ttl", "2h" },
                { "stale-ttl", "0" },
                { "negative-confirm", "3" },
                { "family", "ipv6" },
                { "max-backends", "8" },
                { "check", "tcp" },
                { "check-port", "81" },
                { "check-interval", "10s" },
                { "check-timeout", "2s" },
                { "rise", "4" },
                { "fall", "5" },
                { "panic", "off" },
                { "srv", "_a._tcp.example.com" },
                { "host", "a.example.com" },
                { "port", "80" },
        };
        T *t = *state;
        char text[512];
        size_t n_daemon = 0, n_service = 0;

        for (int section = 0; section < 2; section++) {
                const char *const *keys = section == 0 ? config_daemon_keys : config_service_keys;

                for (const char *const *k = keys; *k; k++) {
                        const char *value = NULL;

                        for (size_t i = 0; i < ELEMENTSOF(values); i++)
                                if (streq(values[i].key, *k))
                                        value = values[i].value;
                        if (!value)
                                fail_msg("listed key '%s' has no test value", *k);

                        char key_file[256];
                        if (streq(*k, "notify-key-file")) {
                                snprintf(key_file, sizeof key_file, "%.200s/notify.key", t->dir);
                                write_file(key_file, "k:hmac-sha256:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg==\n");
                                assert_int_equal(chmod(key_file, 0600), 0);
                                value = key_file;
                        }
                        if (section == 0)
                                snprintf(text, sizeof text, "[daemon]\n%s = %s\n", *k, value);
                        else if (streq(*k, "srv"))
                                snprintf(text, sizeof text, "[service x]\nsrv = %s\n", value);
                        else if (streq(*k, "host"))
                                snprintf(text, sizeof text, "[service x]\nhost = %s\nport = 80\n", value);
                        else if (streq(*k, "port"))
                                snprintf(text, sizeof text, "[service x]\nhost = h.example.com\nport = %s\n", value);
                        else
                                snprintf(text, sizeof text, "[service x]\nsrv = _a._tcp.example.com\n%s = %s\n", *k,
                                         value);
                        write_main(t, text);
                        load_ok(t);
                        if (section == 0)
                                n_daemon++;
                        else
                                n_service++;
                }
        }
        /* 12 daemon-only, 3 service-only, 13 shared keys. */
        assert_int_equal(n_daemon, 25);
        assert_int_equal(n_service, 16);
}

static void test_notify_keys_set_their_fields(void **state) {
        T *t = *state;
        const Config *c;

        write_main(t, "[daemon]\nnotify-listen = 127.0.0.1:5300 [::1]:5301\nnotify-allow = 192.0.2.0/24 ::1\n"
                      "notify-key = Knot-Key.:HMAC-SHA512:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg==\nnotify-min-interval = 0\n");
        load_ok(t);
        c = t->config;
        assert_int_equal(c->n_notify_listen, 2);
        assert_server(&c->notify_listen[0], AF_INET, "127.0.0.1", 5300);
        assert_server(&c->notify_listen[1], AF_INET6, "::1", 5301);
        assert_int_equal(c->n_notify_allow, 2);
        assert_int_equal(c->notify_allow[0].len, 24);
        assert_int_equal(c->notify_allow[1].family, AF_INET6);
        assert_non_null(c->notify_key);
        assert_string_equal(c->notify_key->name, "knot-key");
        assert_string_equal(c->notify_key->algorithm, "hmac-sha512");
        assert_int_equal(c->notify_min_interval_usec, 0);

        write_main(t, "[daemon]\n");
        load_ok(t);
        assert_int_equal(t->config->n_notify_listen, 0);
        assert_null(t->config->notify_key);
        assert_int_equal(t->config->notify_min_interval_usec, 100 * MSEC);
}

static void test_notify_key_errors_never_quote_the_secret(void **state) {
        T *t = *state;

        write_main(t, "[daemon]\nnotify-key = k:hmac-md5:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg==\n");
        assert_int_equal(load(t), -EINVAL);
        assert_non_null(strstr(t->error, "hmac-sha256"));
        assert_null(strstr(t->error, "c2Vj"));
        write_main(t, "[daemon]\nnotify-key = k:hmac-sha256:c2VjcmV0\n");
        assert_int_equal(load(t), -EINVAL);
        assert_null(strstr(t->error, "c2Vj"));
}

static void test_notify_key_file_readable_by_others_is_refused(void **state) {
        T *t = *state;
        char path[256], text[512];

        snprintf(path, sizeof path, "%.200s/tsig.key", t->dir);
        write_file(path, "key \"dnsdisc\" {\n\talgorithm hmac-sha256;\n\tsecret \"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg==\";\n};\n");
        snprintf(text, sizeof text, "[daemon]\nnotify-key-file = %s\n", path);
        write_main(t, text);
        assert_int_equal(chmod(path, 0644), 0);
        assert_int_equal(load(t), -EPERM);
        assert_non_null(strstr(t->error, "other users"));
        assert_null(strstr(t->error, "c2Vj"));
        assert_int_equal(chmod(path, 0640), 0);
        load_ok(t);
        assert_string_equal(t->config->notify_key->name, "dnsdisc");
        assert_string_equal(t->config->notify_key->secret, "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg==");

        snprintf(text, sizeof text, "[daemon]\nnotify-key-file = %s\nnotify-key = k:hmac-sha256:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg==\n", path);
        write_main(t, text);
        assert_int_equal(load(t), -EINVAL);
        assert_non_null(strstr(t->error, "not both"));
}

static void test_dropins_are_read_in_strcmp_order(void **state) {
        T *t = *state;
        const Config *c;

        write_main(t, "[daemon]\nlog-level = info\n[service main]\nsrv = _m._tcp.example.com\n");
        /* strcmp order: "B.conf" < "a.conf" < "b.conf" (a locale collation would differ). */
        write_dropin(t, "b.conf", "[daemon]\nlog-level = debug\n[service from-b]\nsrv = _b._tcp.example.com\n");
        write_dropin(t, "a.conf", "[daemon]\nlog-level = warning\n[service from-a]\nsrv = _a._tcp.example.com\n");
        write_dropin(t, "B.conf", "[daemon]\nlog-level = err\nquery-tries = 7\n[service from-B]\nsrv = _c._tcp.example.com\n");
        /* Not drop-ins: wrong suffix, hidden. */
        write_dropin(t, "c.conf.bak", "[daemon]\nlog-level = notice\n");
        write_dropin(t, ".d.conf", "[daemon]\nlog-level = notice\n");
        load_ok(t);
        c = t->config;

        assert_int_equal(c->log_level, LOG_DEBUG);
        assert_int_equal(c->query_tries, 7);
        assert_int_equal(c->n_services, 4);
        assert_string_equal(c->services[0].name, "main");
        assert_string_equal(c->services[1].name, "from-B");
        assert_string_equal(c->services[2].name, "from-a");
        assert_string_equal(c->services[3].name, "from-b");
        assert_string_equal(c->services[0].file, t->main);
        assert_non_null(strstr(c->services[2].file, "/conf.d/a.conf"));
        assert_int_equal(c->services[2].line, 3);
}

static void test_later_daemon_key_reaches_earlier_service(void **state) {
        T *t = *state;

        write_main(t, "[daemon]\nmin-ttl = 5s\n[service a]\nsrv = _a._tcp.example.com\n");
        write_dropin(t, "10-ttl.conf", "[daemon]\nmin-ttl = 20s\ncheck = http /late\n");
        load_ok(t);
        assert_int_equal(t->config->defaults.min_ttl_usec, 20 * SEC);
        assert_int_equal(service(t->config, "a")->s.min_ttl_usec, 20 * SEC);
        assert_int_equal(service(t->config, "a")->s.check, CHECK_HTTP);
        assert_string_equal(service(t->config, "a")->s.check_path, "/late");
}

static void test_service_key_beats_later_daemon_default(void **state) {
        T *t = *state;

        write_main(t, "[service a]\nsrv = _a._tcp.example.com\nmin-ttl = 30s\ncheck = tcp\n");
        write_dropin(t, "10-ttl.conf", "[daemon]\nmin-ttl = 20s\ncheck = http /x\n");
        load_ok(t);
        assert_int_equal(service(t->config, "a")->s.min_ttl_usec, 30 * SEC);
        assert_int_equal(service(t->config, "a")->s.check, CHECK_TCP);
        assert_null(service(t->config, "a")->s.check_path);
}

static void test_dropin_overrides_daemon_key_of_main_file(void **state) {
        T *t = *state;

        write_main(t, "[daemon]\nquery-tries = 2\nservers = 127.0.0.1 127.0.0.2\n");
        write_dropin(t, "50-dns.conf", "[daemon]\nquery-tries = 5\nservers = [::1]:5353\n");
        load_ok(t);
        assert_int_equal(t->config->query_tries, 5);
        assert_int_equal(t->config->n_servers, 1);
        assert_server(&t->config->servers[0], AF_INET6, "::1", 5353);
}

static void test_duplicate_service_across_files(void **state) {
        static const char dropin[] = "# second definition\n\n[service api]\nsrv = _y._tcp.example.com\n";
        T *t = *state;
        const char *path;
        char first[PATH_MAX + 16];

        write_main(t, "[daemon]\n[service api]\nsrv = _x._tcp.example.com\n");
        path = write_dropin(t, "20-api.conf", dropin);
        assert_error_at(t, load(t), path, line_of(dropin, "[service api]"), "duplicate service 'api'");
        snprintf(first, sizeof first, "%s:2", t->main);
        assert_non_null(strstr(t->error, first));
        assert_int_equal(load(t), -EEXIST);
}

static void test_duplicate_service_in_one_file(void **state) {
        static const char text[] = "[service a]\nsrv = _a._tcp.example.com\n\n[service a]\nsrv = _b._tcp.example.com\n";
        T *t = *state;

        write_main(t, text);
        assert_error_at(t, load(t), t->main, 4, "duplicate service 'a'");
}

static void test_missing_main_file_is_enoent(void **state) {
        T *t = *state;
        char want[PATH_MAX + 64];

        assert_int_equal(load(t), -ENOENT);
        assert_null(t->config);
        snprintf(want, sizeof want, "%s: %s", t->main, strerror(ENOENT));
        assert_string_equal(t->error, want);
}

static void test_main_file_that_is_a_directory_is_rejected(void **state) {
        T *t = *state;

        assert_int_equal(mkdir(t->main, 0755), 0);
        assert_int_equal(load(t), -EISDIR);
        assert_non_null(t->error);
        assert_int_equal(strncmp(t->error, t->main, strlen(t->main)), 0);
}

static void test_missing_dropin_dir_is_fine(void **state) {
        T *t = *state;
        struct stat st;

        write_main(t, "[daemon]\nquery-tries = 4\n");
        assert_int_equal(stat(t->dropins, &st), -1);
        load_ok(t);
        assert_int_equal(t->config->query_tries, 4);
}

static void test_dropin_dir_argument_replaces_default(void **state) {
        T *t = *state;
        char other[PATH_MAX + 8];

        write_main(t, "[daemon]\nquery-tries = 4\n");
        write_dropin(t, "a.conf", "[daemon]\nquery-tries = 5\n");
        snprintf(other, sizeof other, "%s/other", t->dir);
        assert_int_equal(mkdir(other, 0755), 0);
        snprintf(other, sizeof other, "%s/other/x.conf", t->dir);
        write_file(other, "[daemon]\nquery-tries = 6\n");
        snprintf(other, sizeof other, "%s/other", t->dir);

        assert_int_equal(load_from(t, other), 0);
        assert_int_equal(t->config->query_tries, 6);
        assert_int_equal(load_from(t, ""), 0);
        assert_int_equal(t->config->query_tries, 4);
        assert_int_equal(load_from(t, NULL), 0);
        assert_int_equal(t->config->query_tries, 5);
}

static void test_dropin_masked_by_dev_null_is_skipped(void **state) {
        T *t = *state;
        char path[PATH_MAX + 16];

        write_main(t, "[daemon]\nquery-tries = 4\n");
        write_dropin(t, "a.conf", "[daemon]\nquery-tries = 5\n");
        snprintf(path, sizeof path, "%s/b.conf", t->dropins);
        assert_int_equal(symlink("/dev/null", path), 0);
        snprintf(path, sizeof path, "%s/c.conf", t->dropins);
        assert_int_equal(mkdir(path, 0755), 0);
        load_ok(t);
        assert_int_equal(t->config->query_tries, 5);
}

static void test_unknown_section_is_rejected(void **state) {
        T *t = *state;

        assert_main_error(t, "[daemon]\nquery-tries = 3\n\n[daemons]\n", "[daemons]", "unknown section [daemons]");
        assert_main_error(t, "[Daemon]\n", "[Daemon]", "unknown section [Daemon]");
}

static void test_unknown_key_names_key_and_section(void **state) {
        T *t = *state;

        assert_main_error(t, "[daemon]\n; comment\nquery-tries = 3\nfoo = 1\n", "foo", "unknown key 'foo' in [daemon]");
        assert_main_error(t, "[service api]\nsrv = _a._tcp.example.com\nbar = 2\n", "bar",
                          "unknown key 'bar' in [service api]");
}

static void test_key_of_the_other_section_is_rejected(void **state) {
        T *t = *state;

        assert_main_error(t, "[daemon]\nsrv = _a._tcp.example.com\n", "srv", "'srv' is not valid in [daemon]");
        assert_main_error(t, "[service a]\nsrv = _a._tcp.example.com\ncache = /x\n", "cache",
                          "'cache' is not valid in [service a]");
}

static void test_key_outside_section_is_rejected(void **state) {
        T *t = *state;

        assert_main_error(t, "# top\nquery-tries = 3\n[daemon]\n", "query-tries", "outside of any section");
}

static void test_bad_durations_are_rejected(void **state) {
        T *t = *state;

        assert_main_error(t, "[daemon]\nmin-ttl = 5 parsecs\n", "min-ttl", "invalid duration '5 parsecs' for 'min-ttl'");
        assert_main_error(t, "[daemon]\nmin-ttl = 0\n", "min-ttl", "'min-ttl' must be at least");
        assert_main_error(t, "[daemon]\nquery-timeout = 2min\n", "query-timeout", "'query-timeout' must be from");
        assert_main_error(t, "[daemon]\nquery-timeout = 500us\n", "query-timeout", "'query-timeout' must be from");
        assert_main_error(t, "[daemon]\ncheck-interval = 0s\n", "check-interval", "'check-interval' must be at least");
        assert_main_error(t, "[daemon]\nstale-ttl = 99999999999999999999d\n", "stale-ttl",
                          "duration '99999999999999999999d' for 'stale-ttl' is out of range");
        assert_main_error(t, "[service a]\nsrv = _a._tcp.example.com\ncheck-timeout = soon\n", "check-timeout",
                          "invalid duration 'soon' for 'check-timeout'");
}

static void test_integers_out_of_range_are_rejected(void **state) {
        static const struct {
                const char *key;
                bool daemon;
                const char *min, *max, *below, *above;
        } cases[] = {
                { "max-inflight", true, "1", "4096", "0", "4097" },
                { "max-checks-inflight", true, "1", "65536", "0", "65537" },
                { "query-tries", true, "1", "10", "0", "11" },
                { "negative-confirm", false, "1", "100", "0", "101" },
                { "rise", false, "1", "100", "0", "101" },
                { "fall", true, "1", "100", "0", "101" },
                { "max-backends", false, "1", "1024", "0", "1025" },
                { "check-port", false, "1", "65535", "0", "65536" },
                { "port", false, "1", "65535", "0", "99999999999999999999" },
        };
        T *t = *state;
        char text[256], what[128];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const char *head = cases[i].daemon ? "[daemon]\n" : "[service s]\nhost = s.example.com\n";
                const char *tail = cases[i].daemon || streq(cases[i].key, "port") ? "" : "port = 80\n";
                const char *values[] = { cases[i].min, cases[i].max, cases[i].below, cases[i].above, "-1", "+5", "7x", "0x10" };

                for (size_t v = 0; v < ELEMENTSOF(values); v++) {
                        int r;

                        snprintf(text, sizeof text, "%s%s = %s\n%s", head, cases[i].key, values[v], tail);
                        write_main(t, text);
                        r = load(t);
                        if (v < 2) {
                                if (r < 0)
                                        fail_msg("%s = %s rejected: %s", cases[i].key, values[v], t->error);
                                continue;
                        }
                        snprintf(what, sizeof what, "'%s' must be an integer from %s to %s", cases[i].key, cases[i].min,
                                 cases[i].max);
                        assert_error_at(t, r, t->main, line_of(text, cases[i].key), what);
                        assert_int_equal(r, -EINVAL);
                }
        }
}

static void test_min_ttl_above_max_ttl_is_rejected(void **state) {
        T *t = *state;

        assert_main_error(t, "[daemon]\nmin-ttl = 2h\n# the default max-ttl is 1h\n", "min-ttl",
                          "min-ttl (2h) is greater than max-ttl (1h)");
        assert_main_error(t, "[daemon]\nmin-ttl = 1min\nmax-ttl = 59s\n", "max-ttl", "is greater than max-ttl");
}

static void test_ttl_conflict_is_reported_at_the_service_key(void **state) {
        static const char text[] =
                "[daemon]\n"
                "max-ttl = 1min\n"
                "[service a]\n"
                "srv = _a._tcp.example.com\n"
                "min-ttl = 2min\n";
        T *t = *state;

        assert_main_error(t, text, "min-ttl", "min-ttl (2min) is greater than max-ttl (1min)");
}

static void test_daemon_conflict_across_files_is_reported_at_the_later_key(void **state) {
        static const char dropin[] = "[daemon]\n\nmin-ttl = 2h\n";
        T *t = *state;
        const char *path;

        write_main(t, "[daemon]\nmax-ttl = 1h\n");
        path = write_dropin(t, "x.conf", dropin);
        assert_error_at(t, load(t), path, line_of(dropin, "min-ttl"), "min-ttl (2h) is greater than max-ttl (1h)");
}

static void test_check_timeout_not_below_interval_is_rejected(void **state) {
        T *t = *state;

        assert_main_error(t, "[service a]\nsrv = _a._tcp.example.com\ncheck-interval = 1s\ncheck-timeout = 1s\n",
                          "check-timeout", "check-timeout (1s) must be shorter than check-interval (1s)");
        assert_main_error(t, "[daemon]\ncheck-interval = 500ms\n", "check-interval",
                          "check-timeout (1s) must be shorter than check-interval (500ms)");
}

static void test_service_with_srv_and_host_is_rejected(void **state) {
        T *t = *state;

        assert_main_error(t, "[service a]\nhost = a.example.com\nport = 80\nsrv = _a._tcp.example.com\n", "srv =",
                          "service 'a' sets both srv and host");
}

static void test_service_without_srv_or_host_is_rejected(void **state) {
        T *t = *state;

        assert_main_error(t, "[service a]\nmin-ttl = 1min\n[daemon]\n", "[service a]", "service 'a' needs srv or host");
        /* A section without any key, which inih alone would never report. */
        assert_main_error(t, "[daemon]\n[service empty]\n", "[service empty]", "service 'empty' needs srv or host");
}

static void test_host_without_port_is_rejected(void **state) {
        T *t = *state;

        assert_main_error(t, "[service a]\n\nhost = a.example.com\n", "host", "host needs a port");
}

static void test_port_with_srv_is_rejected(void **state) {
        T *t = *state;

        assert_main_error(t, "[service a]\nport = 80\nsrv = _a._tcp.example.com\n", "port",
                          "port only goes with host");
}

static void test_http_check_needs_absolute_path(void **state) {
        T *t = *state;

        assert_main_error(t, "[daemon]\ncheck = http\n", "check", "needs a path starting with '/'");
        assert_main_error(t, "[daemon]\ncheck = http healthz\n", "check", "needs a path starting with '/'");
}

static void test_http_check_path_rejects_spaces_and_controls(void **state) {
        T *t = *state;

        assert_main_error(t, "[daemon]\ncheck = http /a b\n", "check", "check path '/a b' contains a space");
        assert_main_error(t, "[daemon]\ncheck = http /a\tb\n", "check", "contains a space or control character");
        assert_main_error(t, "[daemon]\ncheck = http /a\001b\n", "check", "control character");
}

static void test_unknown_check_type_is_rejected(void **state) {
        T *t = *state;

        assert_main_error(t, "[daemon]\ncheck = icmp\n", "check", "'check' must be none, tcp or http PATH");
        assert_main_error(t, "[daemon]\ncheck = tcp 80\n", "check", "'check' must be none, tcp or http PATH");
        assert_main_error(t, "[daemon]\ncheck = https /x\n", "check", "'check' must be none, tcp or http PATH");
}

static void test_invalid_service_names_are_rejected(void **state) {
        T *t = *state;
        char text[256], name[129];

        assert_main_error(t, "[service a b]\n", "[service", "invalid service name 'a b'");
        assert_main_error(t, "[service a/b]\n", "[service", "invalid service name 'a/b'");
        assert_main_error(t, "[service]\n", "[service", "[service] needs a name");
        assert_main_error(t, "[service   ]\n", "[service", "[service] needs a name");

        memset(name, 'n', 128);
        name[128] = '\0';
        snprintf(text, sizeof text, "[daemon]\n[service %s]\nsrv = _a._tcp.example.com\n", name);
        assert_main_error(t, text, "[service", "invalid service name");
}

static void test_long_service_name_is_kept_whole(void **state) {
        T *t = *state;
        char text[256], name[128];

        /* inih would cut section names at 49 characters. */
        memset(name, 'n', 127);
        name[126] = 'z';
        name[127] = '\0';
        snprintf(text, sizeof text, "[service %s]\nsrv = _a._tcp.example.com\n[service Aa_0.-]\nsrv = b.example\n", name);
        write_main(t, text);
        load_ok(t);
        assert_int_equal(t->config->n_services, 2);
        assert_string_equal(t->config->services[0].name, name);
        assert_string_equal(t->config->services[1].name, "Aa_0.-");
}

static void test_long_dns_names_are_rejected(void **state) {
        T *t = *state;
        char label[65], text[512], name[5 * 65];

        memset(label, 'a', 64);
        label[64] = '\0';
        snprintf(text, sizeof text, "[service a]\nsrv = %s.example.com\n", label);
        assert_main_error(t, text, "srv", "is not a valid DNS name for 'srv'");

        label[63] = '\0';
        snprintf(text, sizeof text, "[service a]\nhost = %s.example.com\nport = 1\n", label);
        write_main(t, text);
        load_ok(t);

        /* Five 63-octet labels: 320 octets on the wire. */
        snprintf(name, sizeof name, "%s.%s.%s.%s.%s", label, label, label, label, label);
        snprintf(text, sizeof text, "[service a]\nport = 1\nhost = %s\n", name);
        assert_main_error(t, text, "host", "is not a valid DNS name for 'host'");
        assert_main_error(t, "[service a]\nsrv = a..example.com\n", "srv", "not a valid DNS name");
        assert_main_error(t, "[service a]\nsrv = _a._tcp example.com\n", "srv", "not a valid DNS name");
}

static void test_dns_names_are_normalised(void **state) {
        T *t = *state;

        write_main(t, "[service a]\nsrv = _HTTP._tcp.API.Example.COM.\n");
        load_ok(t);
        assert_string_equal(t->config->services[0].srv, "_http._tcp.api.example.com");
}

static void test_servers_are_parsed(void **state) {
        T *t = *state;
        const Config *c;

        write_main(t, "[daemon]\nservers = 127.0.0.1  127.0.0.2:5353\t[::1] [2001:db8::1]:5300\n");
        load_ok(t);
        c = t->config;
        assert_int_equal(c->n_servers, 4);
        assert_server(&c->servers[0], AF_INET, "127.0.0.1", 53);
        assert_server(&c->servers[1], AF_INET, "127.0.0.2", 5353);
        assert_server(&c->servers[2], AF_INET6, "::1", 53);
        assert_server(&c->servers[3], AF_INET6, "2001:db8::1", 5300);
}

static void test_bad_servers_are_rejected(void **state) {
        static const char *const bad[] = {
                "1.2.3",      "::1",          "[::1",          "[::1]x",  "[::1]:",       "1.2.3.4:0",
                "1.2.3.4:65536", "1.2.3.4:53x", "example.com", "[1.2.3.4]", "fe80::1%eth0", "1.2.3.4:",
        };
        T *t = *state;
        char text[128];

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                snprintf(text, sizeof text, "[daemon]\n# servers\nservers = 127.0.0.1 %s\n", bad[i]);
                write_main(t, text);
                assert_error_at(t, load(t), t->main, 3, bad[i]);
        }
}

static void test_repeated_key_in_section_is_rejected(void **state) {
        T *t = *state;

        assert_main_error(t, "[daemon]\nrise = 2\nfall = 3\nrise = 4\n", "rise = 4",
                          "'rise' repeated in [daemon] (first set on line 2)");
        assert_main_error(t, "[daemon]\nrise = 2\n[service s]\nsrv = _a._tcp.example.com\nrise = 3\nrise = 4\n",
                          "rise = 4", "'rise' repeated in [service s] (first set on line 5)");
        /* Two [daemon] blocks of one file are one section. */
        assert_main_error(t, "[daemon]\nrise = 2\n[service s]\nsrv = _a._tcp.example.com\n[daemon]\nrise = 3\n",
                          "rise = 3", "'rise' repeated in [daemon]");
}

static void test_empty_value_is_rejected(void **state) {
        T *t = *state;

        assert_main_error(t, "[daemon]\ncache =\n", "cache", "empty value for 'cache'");
        assert_main_error(t, "[daemon]\ncache =   # nothing\n", "cache", "empty value for 'cache'");
        assert_main_error(t, "[daemon]\n= 3\n", "= 3", "missing key");
}

static void test_unparsable_line_is_rejected(void **state) {
        T *t = *state;

        assert_main_error(t, "[daemon]\nquery-tries 3\n", "query-tries", "syntax error");
        /* An indented line is not a continuation of the value before it. */
        assert_main_error(t, "[daemon]\nservers = 127.0.0.1\n  127.0.0.2\n", "  127", "syntax error");
        /* The syntax error comes first even though a later line is also wrong. */
        assert_main_error(t, "[daemon]\nwhat\nfoo = 1\n", "what", "syntax error");
}

static void test_bad_section_header_is_rejected(void **state) {
        T *t = *state;

        assert_main_error(t, "[daemon\n", "[daemon", "section header without ']'");
        assert_main_error(t, "[daemon] x\n", "[daemon", "unexpected text after section header");
}

static void test_long_lines_are_read_whole(void **state) {
        T *t = *state;
        char text[2048], servers[1024] = "", label[64], name[4 * 64];

        /* inih alone stops at 197 characters: less than a 253-character DNS name. */
        for (int i = 0; i < 60; i++)
                snprintf(servers + strlen(servers), sizeof servers - strlen(servers), "127.0.0.%d:%d ", i, 1000 + i);
        snprintf(text, sizeof text, "[daemon]\nservers = %s  # %s\n", servers, servers);
        write_main(t, text);
        load_ok(t);
        assert_int_equal(t->config->n_servers, 60);
        assert_server(&t->config->servers[59], AF_INET, "127.0.0.59", 1059);

        memset(label, 'a', 63);
        label[62] = 'z';
        label[63] = '\0';
        snprintf(name, sizeof name, "%s.%s.%s.%.61s", label, label, label, label);
        assert_int_equal(strlen(name), 253);
        snprintf(text, sizeof text, "[service a]\nsrv = %s.\n", name);
        write_main(t, text);
        load_ok(t);
        assert_string_equal(t->config->services[0].srv, name);

        /* Long lines keep their line numbers and their errors. */
        snprintf(text, sizeof text, "[daemon]\n\nservers = %s bad\nfoo = 1\n", servers);
        assert_main_error(t, text, "servers", "invalid server 'bad'");
        snprintf(text, sizeof text, "[daemon]\nservers");
        for (int i = 0; i < 30; i++)
                strcat(text, " 127.0.0.1");
        strcat(text, "\n");
        assert_main_error(t, text, "servers", "syntax error");
}

static void test_nul_byte_is_rejected(void **state) {
        T *t = *state;
        FILE *f = fopen(t->main, "we");

        assert_non_null(f);
        assert_int_equal(fwrite("[daemon]\nrise = 2\0\n", 1, 19, f), 19);
        assert_int_equal(fclose(f), 0);
        assert_error_at(t, load(t), t->main, 2, "NUL byte");
}

static void test_inline_comments_are_stripped(void **state) {
        static const char text[] =
                "\xef\xbb\xbf# leading comment after a byte order mark\n"
                "; another\n"
                "   # indented\n"
                "[daemon] # the daemon\n"
                "rise = 0 # counted, and the comment is not part of the value\n";
        T *t = *state;

        assert_main_error(t, text, "rise", "'rise' must be an integer from 1 to 100, not '0'");

        write_main(t, "[daemon]\nlog-level = debug # hash\nquery-tries = 4 ; semi\nmax-inflight = 9\t#\ttab\n"
                      "[service a] ; a\nsrv = _a._tcp.example.com\ncheck = http /a#b;c  # comment\r\n");
        load_ok(t);
        assert_int_equal(t->config->log_level, LOG_DEBUG);
        assert_int_equal(t->config->query_tries, 4);
        assert_int_equal(t->config->max_inflight, 9);
        assert_string_equal(t->config->services[0].s.check_path, "/a#b;c");
}

static void test_value_words_are_checked(void **state) {
        T *t = *state;

        assert_main_error(t, "[daemon]\nlog-level = verbose\n", "log-level", "'log-level' must be err, warning");
        assert_main_error(t, "[daemon]\nfamily = inet\n", "family", "'family' must be any, ipv4 or ipv6");
        assert_main_error(t, "[daemon]\npanic = maybe\n", "panic", "'panic' must be on or off");
        assert_main_error(t, "[daemon]\ncache = run/cache\n", "cache", "'cache' must be an absolute path");
}

static void test_duration_units(void **state) {
        static const struct {
                const char *s;
                uint64_t usec;
        } cases[] = {
                { "7us", 7 },           { "7usec", 7 },         { "250ms", 250 * MSEC }, { "250msec", 250 * MSEC },
                { "5s", 5 * SEC },      { "5sec", 5 * SEC },    { "2m", 2 * MINUTE },    { "2min", 2 * MINUTE },
                { "3h", 3 * HOUR },     { "3hr", 3 * HOUR },    { "2d", 48 * HOUR },     { "0", 0 },
                { "1.5s", 1500 * MSEC }, { "0.25h", 15 * MINUTE }, { "5 s", 5 * SEC },  { "  10min  ", 10 * MINUTE },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t v = 12345;

                if (config_parse_duration(cases[i].s, &v) != 0)
                        fail_msg("'%s' rejected", cases[i].s);
                if (v != cases[i].usec)
                        fail_msg("'%s' = %" PRIu64 ", expected %" PRIu64, cases[i].s, v, cases[i].usec);
        }
}

static void test_duration_bare_number_is_seconds(void **state) {
        uint64_t v = 0;

        assert_int_equal(config_parse_duration("2", &v), 0);
        assert_int_equal(v, 2 * SEC);
        assert_int_equal(config_parse_duration("1min 5", &v), 0);
        assert_int_equal(v, MINUTE + 5 * SEC);
}

static void test_duration_combinations_add_up(void **state) {
        uint64_t v = 0;

        assert_int_equal(config_parse_duration("1h 30min", &v), 0);
        assert_int_equal(v, HOUR + 30 * MINUTE);
        assert_int_equal(config_parse_duration("1h30min", &v), 0);
        assert_int_equal(v, HOUR + 30 * MINUTE);
        assert_int_equal(config_parse_duration("1d 2h 3min 4s 5ms 6us", &v), 0);
        assert_int_equal(v, 24 * HOUR + 2 * HOUR + 3 * MINUTE + 4 * SEC + 5 * MSEC + 6);
}

static void test_duration_overflow_is_erange(void **state) {
        uint64_t v = 42;

        assert_int_equal(config_parse_duration("18446744073709551616us", &v), -ERANGE);
        assert_int_equal(config_parse_duration("213503983d", &v), -ERANGE);
        assert_int_equal(config_parse_duration("18446744073709551615us 1us", &v), -ERANGE);
        assert_int_equal(config_parse_duration("99999999999999999999999999999h", &v), -ERANGE);
        assert_int_equal(v, 42);
        assert_int_equal(config_parse_duration("18446744073709551615us", &v), 0);
        assert_int_equal(v, UINT64_MAX);
}

static void test_duration_garbage_is_einval(void **state) {
        static const char *const bad[] = { "",   " ",     "s",   "5x",  "-5s", "+5s", "5s,", "1.s",
                                           ".5s", "5 sec x", "1h-30min", "5 5 5 y", "1e3", "0x10" };
        uint64_t v = 42;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (config_parse_duration(bad[i], &v) != -EINVAL)
                        fail_msg("'%s' not rejected with -EINVAL", bad[i]);
        /* Syntax wins over range. */
        assert_int_equal(config_parse_duration("99999999999999999999999999999h garbage", &v), -EINVAL);
        assert_int_equal(config_parse_duration(NULL, &v), -EINVAL);
        assert_int_equal(v, 42);
}

static void test_service_config_equal_ignores_name_and_location(void **state) {
        static const char text[] =
                "[service a]\nsrv = _a._tcp.example.com\ncheck = http /x\nrise = 5\n"
                "[service b]\nsrv = _A._TCP.example.com.\nrise = 5\ncheck = http /x\n";
        T *t = *state;

        write_main(t, text);
        load_ok(t);
        assert_true(service_config_equal(&t->config->services[0], &t->config->services[1]));
        assert_true(service_config_equal(&t->config->services[0], &t->config->services[0]));
        assert_false(service_config_equal(&t->config->services[0], NULL));
}

static void test_service_config_equal_sees_every_setting(void **state) {
        T *t = *state;
        char other_name[] = "other.example.com", other_path[] = "/y";
        const ServiceConfig *base;

        write_main(t, "[service a]\nhost = a.example.com\nport = 80\ncheck = http /x\n");
        load_ok(t);
        base = &t->config->services[0];

        for (int field = 0; field < 18; field++) {
                ServiceConfig c = *base;

                switch (field) {
                case 0: c.srv = other_name; break;
                case 1: c.host = other_name; break;
                case 2: c.host = NULL; break;
                case 3: c.port++; break;
                case 4: c.s.min_ttl_usec++; break;
                case 5: c.s.max_ttl_usec++; break;
                case 6: c.s.stale_ttl_usec++; break;
                case 7: c.s.negative_confirm++; break;
                case 8: c.s.family = FAMILY_IPV6; break;
                case 9: c.s.max_backends++; break;
                case 10: c.s.check = CHECK_TCP; break;
                case 11: c.s.check_path = other_path; break;
                case 12: c.s.check_port++; break;
                case 13: c.s.check_interval_usec++; break;
                case 14: c.s.check_timeout_usec++; break;
                case 15: c.s.rise++; break;
                case 16: c.s.fall++; break;
                case 17: c.s.panic = !c.s.panic; break;
                }
                if (service_config_equal(base, &c) || service_config_equal(&c, base))
                        fail_msg("change of field %d not seen", field);
        }
}

int main(void) {
#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        const struct CMUnitTest tests[] = {
                TEST(test_example_parses_every_field),
                TEST(test_defaults_without_keys),
                TEST(test_empty_file_has_no_services),
                TEST(test_drop_services_keeps_the_daemon_settings),
                TEST(test_daemon_keys_set_their_fields),
                TEST(test_service_keys_override_daemon_defaults),
                TEST(test_every_listed_key_is_accepted),
                TEST(test_notify_keys_set_their_fields),
                TEST(test_notify_key_errors_never_quote_the_secret),
                TEST(test_notify_key_file_readable_by_others_is_refused),
                TEST(test_dropins_are_read_in_strcmp_order),
                TEST(test_later_daemon_key_reaches_earlier_service),
                TEST(test_service_key_beats_later_daemon_default),
                TEST(test_dropin_overrides_daemon_key_of_main_file),
                TEST(test_duplicate_service_across_files),
                TEST(test_duplicate_service_in_one_file),
                TEST(test_missing_main_file_is_enoent),
                TEST(test_main_file_that_is_a_directory_is_rejected),
                TEST(test_missing_dropin_dir_is_fine),
                TEST(test_dropin_dir_argument_replaces_default),
                TEST(test_dropin_masked_by_dev_null_is_skipped),
                TEST(test_unknown_section_is_rejected),
                TEST(test_unknown_key_names_key_and_section),
                TEST(test_key_of_the_other_section_is_rejected),
                TEST(test_key_outside_section_is_rejected),
                TEST(test_bad_durations_are_rejected),
                TEST(test_integers_out_of_range_are_rejected),
                TEST(test_min_ttl_above_max_ttl_is_rejected),
                TEST(test_ttl_conflict_is_reported_at_the_service_key),
                TEST(test_daemon_conflict_across_files_is_reported_at_the_later_key),
                TEST(test_check_timeout_not_below_interval_is_rejected),
                TEST(test_service_with_srv_and_host_is_rejected),
                TEST(test_service_without_srv_or_host_is_rejected),
                TEST(test_host_without_port_is_rejected),
                TEST(test_port_with_srv_is_rejected),
                TEST(test_http_check_needs_absolute_path),
                TEST(test_http_check_path_rejects_spaces_and_controls),
                TEST(test_unknown_check_type_is_rejected),
                TEST(test_invalid_service_names_are_rejected),
                TEST(test_long_service_name_is_kept_whole),
                TEST(test_long_dns_names_are_rejected),
                TEST(test_dns_names_are_normalised),
                TEST(test_servers_are_parsed),
                TEST(test_bad_servers_are_rejected),
                TEST(test_repeated_key_in_section_is_rejected),
                TEST(test_empty_value_is_rejected),
                TEST(test_unparsable_line_is_rejected),
                TEST(test_bad_section_header_is_rejected),
                TEST(test_long_lines_are_read_whole),
                TEST(test_nul_byte_is_rejected),
                TEST(test_inline_comments_are_stripped),
                TEST(test_value_words_are_checked),
                TEST(test_duration_units),
                TEST(test_duration_bare_number_is_seconds),
                TEST(test_duration_combinations_add_up),
                TEST(test_duration_overflow_is_erange),
                TEST(test_duration_garbage_is_einval),
                TEST(test_service_config_equal_ignores_name_and_location),
                TEST(test_service_config_equal_sees_every_setting),
        };
#undef TEST

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
