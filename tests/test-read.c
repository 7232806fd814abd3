/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-read.c: libclient/read.c: consistent copies (the rest is in test-pick.c): sizing a snapshot's array. */
#include "client-fixture.h"

static void test_snapshot_without_array_returns_the_count(void **state) {
        Fixture *f = *state;
        dnsdisc_backend b[5];
        dnsdisc_service_info info;
        dnsdisc_service *s;
        dnsdisc *d;

        s = open_web(f, 1, 5, &d);
        memset(&info, 0, sizeof info);
        assert_int_equal(dnsdisc_snapshot(s, &info, NULL, 0), 5);
        assert_int_equal(info.n_backends, 5);
        assert_string_equal(info.name, "web");
        assert_int_equal(dnsdisc_snapshot(s, NULL, NULL, 0), 5);
        /* The count sizes the array that the next call fills. */
        assert_int_equal(dnsdisc_snapshot(s, NULL, b, 5), 5);
        assert_int_equal(dnsdisc_snapshot(s, NULL, NULL, 1), -EINVAL);
        dnsdisc_close(d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)
                T(test_snapshot_without_array_returns_the_count),
#undef T
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
