/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-config.c: daemon/config.c, the model: every key sets its field, defaults, inheritance, consistency. */
#include "config-lib.h"

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

/* What every service inherits when no key says otherwise (dnsdisc.conf(5)). */
static const ServiceSettings builtin = {
        .min_ttl_usec = 5 * SEC,
        .max_ttl_usec = HOUR,
        .stale_ttl_usec = 10 * MINUTE,
        .negative_confirm = 2,
        .family = FAMILY_ANY,
        .max_backends = 64,
        .check = CHECK_NONE,
        .check_interval_usec = 5 * SEC,
        .check_timeout_usec = 1 * SEC,
        .rise = 2,
        .fall = 3,
        .panic = true,
};

/* The daemon's own keys, servers aside, at their built-in values. */
static void assert_builtin_daemon_keys(const Config *c) {
        assert_string_equal(c->cache_path, "/run/dnsdisc/cache");
        assert_int_equal(c->query_timeout_usec, 1 * SEC);
        assert_int_equal(c->query_tries, 3);
        assert_int_equal(c->max_inflight, 128);
        assert_int_equal(c->max_checks_inflight, 256);
        assert_int_equal(c->log_level, LOG_INFO);
}

static void test_example_parses_every_field(void **state) {
        T *t = *state;
        const ServiceConfig *api, *legacy;
        ServiceSettings want;
        const Config *c;

        write_main(t, example);
        load_ok(t);
        c = t->config;

        /* The example spells out the built-in values, its servers and services aside. */
        assert_builtin_daemon_keys(c);
        assert_int_equal(c->n_servers, 2);
        assert_server(&c->servers[0], AF_INET, "127.0.0.1", 5353);
        assert_server(&c->servers[1], AF_INET6, "::1", 53);
        assert_settings_equal(&c->defaults, &builtin);

        assert_int_equal(c->n_services, 2);
        api = &c->services[0];
        assert_string_equal(api->name, "api");
        assert_string_equal(api->srv, "_http._tcp.api.example.com");
        assert_null(api->host);
        assert_int_equal(api->port, 0);
        assert_string_equal(api->file, t->main);
        assert_int_equal(api->line, line_of(example, "[service api]"));
        want = builtin;
        want.check = CHECK_HTTP;
        want.check_path = (char *) "/healthz";
        want.check_port = 9000;
        assert_settings_equal(&api->s, &want);

        legacy = &c->services[1];
        assert_string_equal(legacy->name, "legacy");
        assert_null(legacy->srv);
        assert_string_equal(legacy->host, "legacy.example.com");
        assert_int_equal(legacy->port, 8080);
        assert_string_equal(legacy->file, t->main);
        assert_int_equal(legacy->line, line_of(example, "[service legacy]"));
        want = builtin;
        want.min_ttl_usec = 30 * SEC;
        assert_settings_equal(&legacy->s, &want);
}

static void test_defaults_without_keys(void **state) {
        T *t = *state;
        const Config *c;

        write_main(t, "[service a]\nsrv = _a._tcp.example.com\n");
        load_ok(t);
        c = t->config;

        assert_builtin_daemon_keys(c);
        assert_int_equal(c->n_servers, 0);
        assert_null(c->servers);
        assert_settings_equal(&c->defaults, &builtin);

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
        assert_settings_equal(&c->defaults, &(ServiceSettings) {
                                                    .min_ttl_usec = 2 * SEC,
                                                    .max_ttl_usec = 30 * MINUTE,
                                                    .stale_ttl_usec = 0,
                                                    .negative_confirm = 100,
                                                    .family = FAMILY_IPV6,
                                                    .max_backends = 1024,
                                                    .check = CHECK_HTTP,
                                                    .check_path = (char *) "/ping",
                                                    .check_port = 65535,
                                                    .check_interval_usec = 3 * SEC,
                                                    .check_timeout_usec = 2500 * MSEC,
                                                    .rise = 100,
                                                    .fall = 1,
                                                    .panic = false,
                                            });

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
        assert_settings_equal(&s->s, &(ServiceSettings) {
                                             .min_ttl_usec = MINUTE,
                                             .max_ttl_usec = 2 * HOUR,
                                             .stale_ttl_usec = 24 * HOUR,
                                             .negative_confirm = 7,
                                             .family = FAMILY_IPV4,
                                             .max_backends = 1,
                                             .check = CHECK_TCP,
                                             .check_path = NULL,
                                             .check_port = 1,
                                             .check_interval_usec = HOUR,
                                             .check_timeout_usec = 59 * MINUTE,
                                             .rise = 1,
                                             .fall = 100,
                                             .panic = false,
                                     });
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
                { "hash", "maglev" },
                { "hash-table-size", "65521" },
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
        /* 12 daemon-only, 3 service-only, 15 shared keys. */
        assert_int_equal(n_daemon, 27);
        assert_int_equal(n_service, 18);
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

static void test_check_timeout_not_below_interval_is_rejected(void **state) {
        T *t = *state;

        assert_main_error(t, "[service a]\nsrv = _a._tcp.example.com\ncheck-interval = 1s\ncheck-timeout = 1s\n",
                          "check-timeout", "check-timeout (1s) must be shorter than check-interval (1s)");
        assert_main_error(t, "[daemon]\ncheck-interval = 500ms\n", "check-interval",
                          "check-timeout (1s) must be shorter than check-interval (500ms)");
}

static void test_hash_defaults_to_off_with_65537_entries(void **state) {
        T *t = *state;

        write_main(t, "[service a]\nsrv = _a._tcp.example.com\n[service b]\nsrv = _b._tcp.example.com\nhash = maglev\n");
        load_ok(t);
        assert_int_equal(t->config->services[0].s.hash, HASH_OFF);
        assert_int_equal(t->config->services[1].s.hash, HASH_MAGLEV);
        assert_int_equal(t->config->services[1].s.hash_table_size, 65537);
}

static void test_hash_table_size_not_prime_is_rejected(void **state) {
        T *t = *state;

        assert_main_error(t, "[service a]\nsrv = _a._tcp.example.com\nhash = maglev\nhash-table-size = 4096\n",
                          "hash-table-size", "'hash-table-size' must be a prime, not 4096 (try 4093 or 4099)");
        assert_main_error(t, "[service a]\nsrv = _a._tcp.example.com\nhash-table-size = 250\n", "hash-table-size",
                          "'hash-table-size' must be an integer from 251 to 65537, not '250'");
        assert_main_error(t, "[service a]\nsrv = _a._tcp.example.com\nhash = ring\n", "hash",
                          "'hash' must be off or maglev, not 'ring'");
}

static void test_hash_table_too_small_for_max_backends_is_rejected(void **state) {
        T *t = *state;

        assert_main_error(t, "[service a]\nsrv = _a._tcp.example.com\nhash = maglev\nhash-table-size = 251\n",
                          "hash-table-size",
                          "hash-table-size (251) is too small for max-backends (64): a Maglev table needs at least 10 "
                          "entries per backend (raise it, or lower max-backends to 25)");
        /* Without hash = maglev the size is not used, so not judged. */
        write_main(t, "[service a]\nsrv = _a._tcp.example.com\nhash-table-size = 251\n");
        load_ok(t);
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

        for (int field = 0; field < 20; field++) {
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
                case 18: c.s.hash = HASH_MAGLEV; break;
                case 19: c.s.hash_table_size = 4093; break;
                }
                if (service_config_equal(base, &c) || service_config_equal(&c, base))
                        fail_msg("change of field %d not seen", field);
        }
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
                TEST(test_later_daemon_key_reaches_earlier_service),
                TEST(test_service_key_beats_later_daemon_default),
                TEST(test_min_ttl_above_max_ttl_is_rejected),
                TEST(test_ttl_conflict_is_reported_at_the_service_key),
                TEST(test_check_timeout_not_below_interval_is_rejected),
                TEST(test_hash_defaults_to_off_with_65537_entries),
                TEST(test_hash_table_size_not_prime_is_rejected),
                TEST(test_hash_table_too_small_for_max_backends_is_rejected),
                TEST(test_service_with_srv_and_host_is_rejected),
                TEST(test_service_without_srv_or_host_is_rejected),
                TEST(test_host_without_port_is_rejected),
                TEST(test_port_with_srv_is_rejected),
                TEST(test_service_config_equal_ignores_name_and_location),
                TEST(test_service_config_equal_sees_every_setting),
        };
#undef TEST

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
