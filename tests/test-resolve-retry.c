/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-resolve-retry.c: daemon/resolve-retry.c, which queries failed only by another query's broken connection are sent again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "resolve-internal.h"
#include "util.h"

typedef struct Fixture {
        Resolver r;
        Channel c;
        Query q;
} Fixture;

static char NAME[] = "_http._tcp.api.example", OTHER[] = "_http._tcp.other.example";

/* q asked NAME SRV on c, and c's last read or write failed with a socket error, as when a TCP
 * connection to the server was reset or an ICMP error came for its UDP socket. */
static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        assert_non_null(f);
        f->c.resolver = &f->r;
        f->c.last_io = -ECONNRESET;
        f->c.last_io_socket = true;
        f->q = (Query) { .resolver = &f->r, .channel = &f->c, .name = NAME, .type = 33 };
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        free(f->c.broken);
        free(f);
        return 0;
}

/* The connection c-ares is closing broke with these questions on it. */
static void broke_with(Channel *c, const uint64_t *questions, size_t n) {
        TcpStream t = { .fd = -1, .broken = true };
        t.questions = calloc(MAX(n, 1u), sizeof *t.questions);
        assert_non_null(t.questions);
        memcpy(t.questions, questions, n * sizeof *questions);
        t.n_questions = t.n_questions_allocated = n;
        retry_note_broken(c, &t);
        assert_null(t.questions); /* the channel owns them now */
        tcp_stream_clear(&t);
}

static void test_a_query_failed_by_a_socket_error_is_sent_again_and_counted(void **state) {
        Fixture *f = *state;

        assert_true(retry_collateral(&f->q, ARES_ECONNREFUSED));
        assert_int_equal(f->q.collateral_retries, 1);
        assert_int_equal(resolver_collateral_retries(&f->r), 1);
}

static void test_an_error_rcode_a_timeout_or_a_clean_channel_is_the_querys_own_failure(void **state) {
        Fixture *f = *state;

        /* SERVFAIL read last: c-ares 1.18 reports it as ARES_ECONNREFUSED too. */
        f->c.last_io = -EREMOTEIO;
        f->c.last_io_socket = false;
        assert_false(retry_collateral(&f->q, ARES_ECONNREFUSED));
        f->c.last_io = 0;
        assert_false(retry_collateral(&f->q, ARES_ECONNREFUSED));
        f->c.last_io = -ECONNRESET;
        f->c.last_io_socket = true;
        assert_false(retry_collateral(&f->q, ARES_ETIMEOUT));
        assert_int_equal(resolver_collateral_retries(&f->r), 0);
}

static void test_the_query_on_the_broken_connection_is_not_sent_again_for_10_s(void **state) {
        Fixture *f = *state;
        uint64_t mine = dns_question_hash(NAME, 33);
        Query other = f->q;
        other.name = OTHER;

        broke_with(&f->c, &mine, 1);
        assert_true(f->c.tcp_broke);
        assert_false(retry_collateral(&f->q, ARES_ECONNREFUSED));
        assert_true(retry_collateral(&other, ARES_ECONNREFUSED));
        /* The next entry into c-ares forgets the connection; the resolver remembers the question. */
        f->c.n_broken = 0;
        assert_false(retry_collateral(&f->q, ARES_ECONNREFUSED));
        for (size_t i = 0; i < BREAKERS_MAX; i++)
                if (f->r.breakers[i].at_usec > 0)
                        f->r.breakers[i].at_usec -= BREAKERS_USEC;
        assert_true(retry_collateral(&f->q, ARES_ECONNREFUSED));
}

static void test_a_message_is_matched_by_its_question(void **state) {
        Fixture *f = *state;
        /* An UPDATE's header and zone section: "example" SOA. */
        uint8_t msg[12 + 9 + 4] = { 0x12, 0x34, 0x28, 0, 0, 1 };
        memcpy(msg + 12, "\7example", 9);
        msg[12 + 9 + 1] = 6;
        msg[12 + 9 + 3] = 1;
        uint64_t h;
        assert_true(dns_question_hash_wire(msg, sizeof msg, &h));
        Query update = { .resolver = &f->r, .channel = &f->c, .msg = msg, .msg_len = sizeof msg };

        broke_with(&f->c, &h, 1);
        assert_false(retry_collateral(&update, ARES_ECONNREFUSED));
        assert_true(retry_collateral(&f->q, ARES_ECONNREFUSED));
        /* Cut inside its question: no way to tell, so not sent again. */
        update.msg_len = 14;
        f->c.n_broken = 0;
        assert_false(retry_collateral(&update, ARES_ECONNREFUSED));
}

static void test_resends_stop_after_4_following_a_udp_error_and_16_a_tcp_break(void **state) {
        Fixture *f = *state;
        unsigned n = 0;

        while (n < 100 && retry_collateral(&f->q, ARES_ECONNREFUSED))
                n++;
        assert_int_equal(n, 4);
        uint64_t someone_else = dns_question_hash(OTHER, 33);
        broke_with(&f->c, &someone_else, 1);
        while (n < 100 && retry_collateral(&f->q, ARES_ECONNREFUSED))
                n++;
        assert_int_equal(n, 16);
        assert_int_equal(resolver_collateral_retries(&f->r), 16);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_a_query_failed_by_a_socket_error_is_sent_again_and_counted, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_an_error_rcode_a_timeout_or_a_clean_channel_is_the_querys_own_failure,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_the_query_on_the_broken_connection_is_not_sent_again_for_10_s, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_a_message_is_matched_by_its_question, setup, teardown),
                cmocka_unit_test_setup_teardown(test_resends_stop_after_4_following_a_udp_error_and_16_a_tcp_break, setup,
                                                teardown),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
