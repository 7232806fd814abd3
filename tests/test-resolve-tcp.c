/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-resolve-tcp.c: daemon/resolve-tcp.c, DNS-over-TCP streams followed byte by byte, and question hashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "resolve-tcp.h"
#include "util.h"

/* A query or answer for name (wire labels given as "\3www\7example\3com") and type, with its
 * 2-byte length word, into buf; returns its total length. */
static size_t message(uint8_t *buf, const char *wire_name, uint16_t type, uint8_t rcode, bool answer) {
        size_t nl = strlen(wire_name) + 1, len = 12 + nl + 4 + (answer ? 16 : 0);
        uint8_t *m = buf + 2;

        buf[0] = (uint8_t) (len >> 8);
        buf[1] = (uint8_t) len;
        memset(m, 0, len);
        m[0] = 0x12;
        m[1] = 0x34;
        m[2] = answer ? 0x80 : 0x01;
        m[3] = rcode;
        m[5] = 1; /* QDCOUNT */
        memcpy(m + 12, wire_name, nl);
        m[12 + nl] = (uint8_t) (type >> 8);
        m[12 + nl + 1] = (uint8_t) type;
        m[12 + nl + 3] = 1; /* class IN */
        return 2 + len;
}

static void test_name_and_wire_hash_alike_whatever_the_case(void **state) {
        uint8_t buf[128];
        uint64_t h;
        size_t n = message(buf, "\3WwW\7example\3com", 33, 0, false);

        assert_true(dns_question_hash_wire(buf + 2, n - 2, &h));
        assert_true(h == dns_question_hash("www.example.com", 33));
        assert_true(h == dns_question_hash("www.EXAMPLE.com.", 33));
        assert_false(h == dns_question_hash("www.example.com", 1));
        assert_false(h == dns_question_hash("ww.wexample.com", 33));
        /* c-ares 1.18 reads '\' as quoting the next character. */
        n = message(buf, "\3a.b\1c", 1, 0, false);
        assert_true(dns_question_hash_wire(buf + 2, n - 2, &h));
        assert_true(h == dns_question_hash("a\\.b.c", 1));
}

static void test_cut_or_compressed_questions_have_no_hash(void **state) {
        uint8_t buf[128];
        uint64_t h;
        size_t n = message(buf, "\3www\7example\3com", 33, 0, false);

        assert_false(dns_question_hash_wire(buf + 2, n - 2 - 3, &h));
        buf[2 + 12] = 0xc0;
        assert_false(dns_question_hash_wire(buf + 2, n - 2, &h));
        assert_false(dns_question_hash_wire(buf + 2, 11, &h));
}

/* What was written and not answered is what a broken connection takes down, byte by byte. */
static void test_questions_written_stay_until_answered(void **state) {
        TcpStream t = { .fd = 3 };
        uint8_t out[256], in[256];
        size_t n1 = message(out, "\1a\4test", 33, 0, false);
        size_t n2 = message(out + n1, "\1b\4test", 1, 0, false);

        /* Written in odd pieces, as partial writes would. */
        for (size_t i = 0; i < n1 + n2; i += 3)
                assert_int_equal(tcp_stream_written(&t, out + i, MIN((size_t) 3, n1 + n2 - i)), 0);
        assert_int_equal(t.n_questions, 2);

        size_t m = message(in, "\1a\4test", 33, 2 /* SERVFAIL */, true);
        assert_int_equal(tcp_stream_read(&t, in, 1), -1);
        assert_int_equal(tcp_stream_read(&t, in + 1, 10), -1);
        assert_int_equal(tcp_stream_read(&t, in + 11, m - 11), 2);
        assert_int_equal(t.n_questions, 1);
        assert_true(t.questions[0] == dns_question_hash("b.test", 1));

        m = message(in, "\1b\4test", 1, 0, true);
        assert_int_equal(tcp_stream_read(&t, in, m), 0);
        assert_int_equal(t.n_questions, 0);
        tcp_stream_clear(&t);
        assert_null(t.questions);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_name_and_wire_hash_alike_whatever_the_case),
                cmocka_unit_test(test_cut_or_compressed_questions_have_no_hash),
                cmocka_unit_test(test_questions_written_stay_until_answered),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
