/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-service.c: unit tests of daemon/service.c: the error names a service reports. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "service.h"
#include "util.h"

static void test_transport_errors_map_to_short_codes(void **state) {
        assert_int_equal(service_error_from_errno(-ETIMEDOUT), DD_ERR_TIMEOUT);
        assert_int_equal(service_error_from_errno(-ECONNREFUSED), DD_ERR_SERVFAIL);
        assert_int_equal(service_error_from_errno(-EBADMSG), DD_ERR_MALFORMED);
        assert_int_equal(service_error_from_errno(-ELOOP), DD_ERR_MALFORMED);
        assert_int_equal(service_error_from_errno(-ENXIO), DD_ERR_NXDOMAIN);
        assert_int_equal(service_error_from_errno(-ENODATA), DD_ERR_NODATA);
        assert_int_equal(service_error_from_errno(-EIO), DD_ERR_NETWORK);
        assert_int_equal(service_error_from_errno(-ENOMEM), DD_ERR_OTHER);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_transport_errors_map_to_short_codes),
        };
        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
