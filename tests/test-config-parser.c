/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-config-parser.c: daemon/config-parser.c, lines, sections, comments, drop-ins, and errors at their file:line. */
#include "config-lib.h"

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

static void test_daemon_conflict_across_files_is_reported_at_the_later_key(void **state) {
        static const char dropin[] = "[daemon]\n\nmin-ttl = 2h\n";
        T *t = *state;
        const char *path;

        write_main(t, "[daemon]\nmax-ttl = 1h\n");
        path = write_dropin(t, "x.conf", dropin);
        assert_error_at(t, load(t), path, line_of(dropin, "min-ttl"), "min-ttl (2h) is greater than max-ttl (1h)");
}

static bool printable_ascii(const char *s) {
        for (const unsigned char *c = (const unsigned char *) s; *c; c++)
                if (*c < ' ' || *c >= 0x7f)
                        return false;
        return true;
}

/* An error quoting a value with an escape sequence or C1 bytes put them raw on the terminal. */
static void test_error_messages_escape_what_they_quote(void **state) {
        T *t = *state;

        assert_main_error(t, "[service a\x1b[31mb\xc2\x9b]\n", "[service",
                          "invalid service name 'a\\x1b[31mb\\xc2\\x9b'");
        assert_true(printable_ascii(t->error));
        assert_main_error(t, "[daemon]\nlog-level = lou\xe2\x80\xae" "d\n", "log-level", "not 'lou\\xe2\\x80\\xaed'");
        assert_true(printable_ascii(t->error));
        assert_main_error(t, "[daemon]\nlog-level = a\\b\n", "log-level", "not 'a\\\\b'");
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

int main(void) {
#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        const struct CMUnitTest tests[] = {
                TEST(test_dropins_are_read_in_strcmp_order),
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
                TEST(test_daemon_conflict_across_files_is_reported_at_the_later_key),
                TEST(test_error_messages_escape_what_they_quote),
                TEST(test_invalid_service_names_are_rejected),
                TEST(test_long_service_name_is_kept_whole),
                TEST(test_repeated_key_in_section_is_rejected),
                TEST(test_empty_value_is_rejected),
                TEST(test_unparsable_line_is_rejected),
                TEST(test_bad_section_header_is_rejected),
                TEST(test_long_lines_are_read_whole),
                TEST(test_nul_byte_is_rejected),
                TEST(test_inline_comments_are_stripped),
        };
#undef TEST

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
