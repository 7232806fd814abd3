/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-config-values.c: daemon/config-values.c, durations, integers, names, servers and checks, each value alone. */
#include "config-lib.h"

static void test_bad_durations_are_rejected(void **state) {
        T *t = *state;

        assert_main_error(t, "[daemon]\nmin-ttl = 5 parsecs\n", "min-ttl", "invalid duration '5 parsecs' for 'min-ttl'");
        assert_main_error(t, "[daemon]\nmin-ttl = 0\n", "min-ttl", "'min-ttl' must be at least");
        assert_main_error(t, "[daemon]\nquery-timeout = 2min\n", "query-timeout", "'query-timeout' must be from");
        assert_main_error(t, "[daemon]\nquery-timeout = 500us\n", "query-timeout", "'query-timeout' must be from");
        assert_main_error(t, "[daemon]\ncheck-interval = 0s\n", "check-interval", "'check-interval' must be at least");
        assert_main_error(t, "[daemon]\nstale-ttl = 99999999999999999999d\n", "stale-ttl",
                          "'stale-ttl' must be at most 3650d (10 years), not '99999999999999999999d'");
        assert_main_error(t, "[service a]\nsrv = _a._tcp.example.com\ncheck-timeout = soon\n", "check-timeout",
                          "invalid duration 'soon' for 'check-timeout'");
}

/* Durations are added to int64 µs timestamps: 200000000d passed and overflowed them. */
static void test_durations_are_capped_at_ten_years(void **state) {
        T *t = *state;
        static const char *const keys[] = { "min-ttl", "max-ttl", "stale-ttl", "check-interval" };

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                char text[128], want[128];

                snprintf(text, sizeof text, "[daemon]\n%s = 200000000d\n", keys[i]);
                snprintf(want, sizeof want, "'%s' must be at most 3650d (10 years), not '200000000d'", keys[i]);
                assert_main_error(t, text, keys[i], want);
                snprintf(text, sizeof text, "[daemon]\n%s = 3651d\n", keys[i]);
                assert_main_error(t, text, keys[i], "must be at most 3650d (10 years)");
        }
        write_main(t, "[daemon]\nstale-ttl = 3650d\nmax-ttl = 3650d\n");
        load_ok(t);
        assert_int_equal(t->config->defaults.stale_ttl_usec, CONFIG_DURATION_MAX_USEC);
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

/* health.c cut longer requests at 511 bytes, losing the blank line that ends them. */
static void test_http_check_path_longer_than_a_request_takes_is_rejected(void **state) {
        T *t = *state;
        char text[CONFIG_CHECK_PATH_MAX + 64], path[CONFIG_CHECK_PATH_MAX + 2];

        memset(path, 'p', sizeof path - 1);
        path[0] = '/';
        path[sizeof path - 1] = '\0';
        snprintf(text, sizeof text, "[daemon]\ncheck = http %s\n", path);
        assert_main_error(t, text, "check", "check path is 1025 bytes long, at most 1024 fit a request");

        path[CONFIG_CHECK_PATH_MAX] = '\0';
        snprintf(text, sizeof text, "[daemon]\ncheck = http %s\n", path);
        write_main(t, text);
        load_ok(t);
        assert_int_equal(strlen(t->config->defaults.check_path), CONFIG_CHECK_PATH_MAX);
}

static void test_unknown_check_type_is_rejected(void **state) {
        T *t = *state;

        assert_main_error(t, "[daemon]\ncheck = icmp\n", "check", "'check' must be none, tcp or http PATH");
        assert_main_error(t, "[daemon]\ncheck = tcp 80\n", "check", "'check' must be none, tcp or http PATH");
        assert_main_error(t, "[daemon]\ncheck = https /x\n", "check", "'check' must be none, tcp or http PATH");
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

/* Such names passed and then made invalid UTF-8 in --json and Prometheus output. */
static void test_dns_names_outside_printable_ascii_are_rejected(void **state) {
        T *t = *state;

        assert_main_error(t, "[service a]\nsrv = _a._tcp.ex\xc2\x9b" "ample.com\n", "srv =",
                          "'_a._tcp.ex\\xc2\\x9bample.com' for 'srv' has a byte outside printable ASCII (0xc2)");
        assert_main_error(t, "[service a]\nhost = caf\xc3\xa9.example.com\nport = 80\n", "host =",
                          "for 'host' has a byte outside printable ASCII (0xc3)");
        assert_main_error(t, "[service a]\nhost = a\x7f.example.com\nport = 80\n", "host =", "control character");
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
        assert_int_equal(config_parse_duration("3651d", &v), -ERANGE);
        assert_int_equal(v, 42);
        assert_int_equal(config_parse_duration("3650d", &v), 0);
        assert_int_equal(v, CONFIG_DURATION_MAX_USEC);
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

int main(void) {
#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        const struct CMUnitTest tests[] = {
                TEST(test_bad_durations_are_rejected),
                TEST(test_durations_are_capped_at_ten_years),
                TEST(test_integers_out_of_range_are_rejected),
                TEST(test_http_check_needs_absolute_path),
                TEST(test_http_check_path_rejects_spaces_and_controls),
                TEST(test_http_check_path_longer_than_a_request_takes_is_rejected),
                TEST(test_unknown_check_type_is_rejected),
                TEST(test_long_dns_names_are_rejected),
                TEST(test_dns_names_outside_printable_ascii_are_rejected),
                TEST(test_dns_names_are_normalised),
                TEST(test_servers_are_parsed),
                TEST(test_bad_servers_are_rejected),
                TEST(test_value_words_are_checked),
                TEST(test_duration_units),
                TEST(test_duration_bare_number_is_seconds),
                TEST(test_duration_combinations_add_up),
                TEST(test_duration_overflow_is_erange),
                TEST(test_duration_garbage_is_einval),
        };
#undef TEST

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
