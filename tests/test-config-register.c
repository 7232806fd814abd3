/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-config-register.c: daemon/config-register.c, [register NAME] sections: values, defaults, errors at file:line, the key file's mode, no secret in errors. */
#include "config-lib.h"

#define SECRET "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ=="

static const RegisterConfig *reg(const Config *c, const char *name) {
        for (size_t i = 0; i < c->n_registers; i++)
                if (streq(c->registers[i].name, name))
                        return &c->registers[i];
        fail_msg("no registration '%s'", name);
        return NULL;
}

static void test_full_section_is_read(void **state) {
        T *t = *state;
        write_main(t, "[register api]\n"
                      "srv = _http._tcp.API.example.com.\n"
                      "target = host1.example.com\n"
                      "address = 192.0.2.10, 2001:db8::10\n"
                      "port = 8080\n"
                      "priority = 5\n"
                      "weight = 0\n"
                      "ttl = 1min\n"
                      "refresh = 10min\n"
                      "check = http /healthz\n"
                      "check-interval = 2s\n"
                      "rise = 3\n"
                      "fall = 4\n"
                      "server = 127.0.0.1:5353\n"
                      "zone = example.com\n"
                      "key = reg:hmac-sha256:" SECRET "\n"
                      "deregister-on-stop = no\n");
        load_ok(t);
        assert_int_equal(t->config->n_registers, 1);
        const RegisterConfig *r = reg(t->config, "api");
        assert_string_equal(r->srv, "_http._tcp.api.example.com");
        assert_string_equal(r->target, "host1.example.com");
        assert_int_equal(r->n_addresses, 2);
        assert_int_equal(r->addresses[0].family, AF_INET);
        assert_int_equal(r->addresses[1].family, AF_INET6);
        assert_int_equal(r->port, 8080);
        assert_int_equal(r->priority, 5);
        assert_int_equal(r->weight, 0);
        assert_int_equal(r->ttl_sec, 60);
        assert_int_equal(r->refresh_usec, 10 * MINUTE);
        assert_int_equal(r->s.check, CHECK_HTTP);
        assert_string_equal(r->s.check_path, "/healthz");
        assert_int_equal(r->s.check_interval_usec, 2 * SEC);
        assert_int_equal(r->s.rise, 3);
        assert_int_equal(r->s.fall, 4);
        assert_int_equal(r->server.port, 5353);
        assert_string_equal(r->zone, "example.com");
        assert_non_null(r->key);
        assert_string_equal(r->key->name, "reg");
        assert_string_equal(r->key->algorithm, "hmac-sha256");
        assert_false(r->deregister_on_stop);
}

static void test_defaults_do_not_inherit_daemon_check_settings(void **state) {
        T *t = *state;
        write_main(t, "[daemon]\ncheck = tcp\nrise = 7\n\n[register api]\nsrv = _a._tcp.example.com\nport = 80\n");
        load_ok(t);
        const RegisterConfig *r = reg(t->config, "api");
        assert_int_equal(r->priority, 10);
        assert_int_equal(r->weight, 100);
        assert_int_equal(r->ttl_sec, 30);
        assert_int_equal(r->refresh_usec, 120 * SEC); /* ttl x 4 */
        assert_int_equal(r->s.check, CHECK_NONE);
        assert_int_equal(r->s.rise, 2);
        assert_int_equal(r->s.fall, 3);
        assert_int_equal(r->server.family, 0);
        assert_null(r->zone);
        assert_null(r->target);
        assert_null(r->key);
        assert_true(r->deregister_on_stop);
        /* A [register] does not count as a service. */
        assert_int_equal(t->config->n_services, 0);
}

static void test_missing_srv_or_port_is_an_error_at_the_section(void **state) {
        T *t = *state;
        assert_main_error(t, "[daemon]\n\n[register api]\nport = 80\n", "[register api]", "registration 'api' needs srv");
        assert_main_error(t, "[register api]\nsrv = _a._tcp.example.com\n", "[register api]",
                          "registration 'api' needs port");
}

static void test_bad_values_are_errors_at_their_line(void **state) {
        T *t = *state;
        assert_main_error(t, "[register a]\nsrv = _a._tcp.example.com\nport = 80\naddress = 192.0.2.300\n", "address",
                          "invalid address '192.0.2.300' in 'address'");
        assert_main_error(t, "[register a]\nsrv = _a._tcp.example.com\nport = 80\naddress = 192.0.2.1 192.0.2.1\n",
                          "address", "address '192.0.2.1' listed twice");
        assert_main_error(t, "[register a]\nsrv = _a._tcp.example.com\nport = 80\nweight = 70000\n", "weight",
                          "'weight' must be an integer from 0 to 65535");
        assert_main_error(t, "[register a]\nsrv = _a._tcp.example.com\nport = 80\nttl = 0\n", "ttl", "'ttl' must be");
        assert_main_error(t, "[register a]\nsrv = _a._tcp.example.com\nport = 80\nserver = 1.2.3.4 5.6.7.8\n", "server",
                          "'server' takes one address");
        assert_main_error(t, "[register a]\nsrv = _a._tcp.example.com\nport = 80\nmin-ttl = 5s\n", "min-ttl",
                          "unknown key 'min-ttl' in [register a]");
        assert_main_error(t, "[register a]\nsrv = _a._tcp.example.com\nport = 80\nttl = 1min\nrefresh = 30s\n", "refresh",
                          "refresh (30s) must be at least the ttl (60s)");
        assert_main_error(t, "[register a]\nsrv = _a._tcp.example.com\nport = 80\ncheck-timeout = 9s\n", "check-timeout",
                          "check-timeout (9s) must be shorter than check-interval (5s)");
        assert_main_error(t, "[register]\n", "[register]", "[register] needs a name");
        write_main(t, "[register a]\nsrv = _a._tcp.example.com\nport = 80\n[register a]\n");
        assert_error_at(t, load(t), t->main, 4, "duplicate registration 'a' (first defined at");
        assert_main_error(t, "[register a]\nsrv = _a._tcp.example.com\nsrv = _b._tcp.example.com\n", "srv = _b",
                          "'srv' repeated in [register a]");
}

/* The secret is never quoted back, whatever is wrong with the key. */
static void test_bad_key_errors_never_quote_the_secret(void **state) {
        T *t = *state;
        assert_main_error(t, "[register a]\nsrv = _a._tcp.example.com\nport = 80\nkey = reg:hmac-md5:" SECRET "\n", "key =",
                          "invalid key (NAME:ALGORITHM:SECRET)");
        assert_null(strstr(t->error, SECRET));
        assert_main_error(t, "[register a]\nsrv = _a._tcp.example.com\nport = 80\nkey = reg:hmac-sha256:c2hvcnQ=\n",
                          "key =", "shorter than 16 bytes");
        assert_null(strstr(t->error, "c2hvcnQ="));
}

static void test_key_file_readable_by_others_is_refused(void **state) {
        T *t = *state;
        char path[1200], text[1400];
        snprintf(path, sizeof path, "%s/api.key", t->dir);
        write_file(path, "key \"reg\" {\n\talgorithm hmac-sha256;\n\tsecret \"" SECRET "\";\n};\n");
        assert_int_equal(chmod(path, 0644), 0);
        snprintf(text, sizeof text, "[register a]\nsrv = _a._tcp.example.com\nport = 80\nkey-file = %s\n", path);
        assert_main_error(t, text, "key-file", "is readable or writable by other users (mode 0644)");
        assert_non_null(strstr(t->error, "key-file"));
        assert_null(strstr(t->error, SECRET));

        assert_int_equal(chmod(path, 0640), 0);
        write_main(t, text);
        load_ok(t);
        const RegisterConfig *r = reg(t->config, "a");
        assert_non_null(r->key);
        assert_string_equal(r->key->name, "reg");
        assert_string_equal(r->key->secret, SECRET);

        snprintf(text, sizeof text, "[register a]\nsrv = _a._tcp.example.com\nport = 80\nkey-file = %s\nkey = x:hmac-sha256:%s\n",
                 path, SECRET);
        assert_main_error(t, text, "key = x", "registration 'a' sets key and key-file: use one");
        assert_main_error(t, "[register a]\nsrv = _a._tcp.example.com\nport = 80\nkey-file = relative.key\n", "key-file",
                          "'key-file' must be an absolute path");
}

static void test_equal_sections_compare_equal_and_changes_do_not(void **state) {
        T *t = *state;
        const char *text = "[register a]\nsrv = _a._tcp.example.com\nport = 80\nkey = reg:hmac-sha256:" SECRET "\n"
                           "[register b]\n\nsrv = _a._tcp.example.com\nport = 80\nkey = reg:hmac-sha256:" SECRET "\n"
                           "[register c]\nsrv = _a._tcp.example.com\nport = 81\n";
        write_main(t, text);
        load_ok(t);
        assert_true(register_config_equal(reg(t->config, "a"), reg(t->config, "b")));
        assert_false(register_config_equal(reg(t->config, "a"), reg(t->config, "c")));
        assert_true(register_config_equal(NULL, NULL));
        assert_false(register_config_equal(reg(t->config, "a"), NULL));
}

static void test_check_settings_change_only_the_checks_not_the_records(void **state) {
        T *t = *state;
        const char *text = "[register a]\nsrv = _a._tcp.example.com\nport = 80\ncheck = tcp\ncheck-interval = 3s\n"
                           "[register b]\nsrv = _a._tcp.example.com\nport = 80\ncheck = http /h\ncheck-interval = 2s\n"
                           "check-timeout = 500ms\nrise = 4\nfall = 5\n"
                           "[register c]\nsrv = _a._tcp.example.com\nport = 81\ncheck = tcp\ncheck-interval = 3s\n";
        write_main(t, text);
        load_ok(t);
        const RegisterConfig *a = reg(t->config, "a"), *b = reg(t->config, "b"), *c = reg(t->config, "c");
        assert_true(register_config_same_records(a, b));
        assert_false(register_config_checks_equal(a, b));
        assert_false(register_config_equal(a, b));
        assert_false(register_config_same_records(a, c));
        assert_true(register_config_checks_equal(a, c));
        assert_true(register_config_same_records(NULL, NULL));
        assert_false(register_config_checks_equal(a, NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_full_section_is_read, setup, teardown),
                cmocka_unit_test_setup_teardown(test_defaults_do_not_inherit_daemon_check_settings, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_srv_or_port_is_an_error_at_the_section, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_values_are_errors_at_their_line, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_key_errors_never_quote_the_secret, setup, teardown),
                cmocka_unit_test_setup_teardown(test_key_file_readable_by_others_is_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_equal_sections_compare_equal_and_changes_do_not, setup, teardown),
                cmocka_unit_test_setup_teardown(test_check_settings_change_only_the_checks_not_the_records, setup,
                                                teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
