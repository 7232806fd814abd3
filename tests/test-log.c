/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-log.c: unit tests of daemon/log.c: levels, journal priority prefixes, repeated-line suppression. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "log.h"

/* Runs fn with stderr captured into buf. */
static void capture(void (*fn)(void), char *buf, size_t size) {
        fflush(stderr);
        int saved = dup(STDERR_FILENO);
        FILE *tmp = tmpfile();
        assert_non_null(tmp);
        dup2(fileno(tmp), STDERR_FILENO);
        fn();
        fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);
        rewind(tmp);
        size_t n = fread(buf, 1, size - 1, tmp);
        buf[n] = 0;
        fclose(tmp);
}

static unsigned count_lines(const char *s) {
        unsigned n = 0;
        for (; *s; s++)
                n += *s == '\n';
        return n;
}

static void log_same_line_five_times(void) {
        for (int i = 0; i < 5; i++)
                log_warning("server %s failing: %s", "127.0.0.1", "timeout");
}

static void log_two_different_lines(void) {
        for (int i = 0; i < 2; i++)
                log_warning("service %s changed", i == 0 ? "a" : "b");
}

/* Two call sites 64 lines apart in one file: one slot of a 64-entry
 * direct-mapped table, so alternating lines used to evict each other. */
static void log_two_sites_interleaved(void) {
        static const char file[] = "interleaved.c";
        for (int i = 0; i < 5; i++) {
                log_internal(LOG_WARNING, 0, file, 100, "cannot grow %s", "/run/dnsdisc/cache");
                log_internal(LOG_WARNING, 0, file, 164, "failed to publish %s", "api");
        }
}

static void log_debug_line(void) {
        log_debug("a debug line");
}

static void test_identical_lines_from_one_site_are_printed_once(void **state) {
        char buf[4096];
        capture(log_same_line_five_times, buf, sizeof buf);
        assert_int_equal(count_lines(buf), 1);
        assert_non_null(strstr(buf, "server 127.0.0.1 failing: timeout"));
}

static void test_different_lines_from_one_site_are_all_printed(void **state) {
        char buf[4096];
        capture(log_two_different_lines, buf, sizeof buf);
        assert_int_equal(count_lines(buf), 2);
}

static void test_interleaved_repeats_from_two_sites_are_each_printed_once(void **state) {
        char buf[4096];
        capture(log_two_sites_interleaved, buf, sizeof buf);
        assert_int_equal(count_lines(buf), 2);
}

static void test_levels_above_the_maximum_are_dropped(void **state) {
        char buf[4096];
        log_set_max_level(LOG_INFO);
        capture(log_debug_line, buf, sizeof buf);
        assert_string_equal(buf, "");
        log_set_max_level(LOG_DEBUG);
        capture(log_debug_line, buf, sizeof buf);
        assert_non_null(strstr(buf, "a debug line"));
        log_set_max_level(LOG_INFO);
}

static void test_error_helpers_return_negative_errno(void **state) {
        char buf[4096];
        (void) buf;
        assert_int_equal(log_full_errno(LOG_DEBUG, ENOENT, "x"), -ENOENT);
        assert_int_equal(log_full_errno(LOG_DEBUG, -EIO, "x"), -EIO);
        assert_int_equal(log_full_errno(LOG_DEBUG, 0, "x"), 0);
}

static void test_level_names_parse(void **state) {
        assert_int_equal(log_level_from_string("debug"), LOG_DEBUG);
        assert_int_equal(log_level_from_string("warning"), LOG_WARNING);
        assert_int_equal(log_level_from_string("err"), LOG_ERR);
        assert_int_equal(log_level_from_string("loud"), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_identical_lines_from_one_site_are_printed_once),
                cmocka_unit_test(test_different_lines_from_one_site_are_all_printed),
                cmocka_unit_test(test_interleaved_repeats_from_two_sites_are_each_printed_once),
                cmocka_unit_test(test_levels_above_the_maximum_are_dropped),
                cmocka_unit_test(test_error_helpers_return_negative_errno),
                cmocka_unit_test(test_level_names_parse),
        };
        cmocka_set_message_output(CM_OUTPUT_TAP);
        unsetenv("JOURNAL_STREAM");
        return cmocka_run_group_tests(tests, NULL, NULL);
}
