/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-notify.c: daemon/notify-wire.c's verdicts and answers, and daemon/notify.c's listener over real loopback sockets. */
#include <arpa/inet.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "name-set.h"
#include "notify.h"
#include "util.h"

/* 32 random bytes, base64: as tsig-keygen makes them. */
#define SECRET "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg=="
/* 150 bytes: longer than any hash block, so HMAC hashes it first (RFC 2104). */
#define LONG_SECRET "ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2"
#define OTHER_SECRET "b3RoZXItb3RoZXItb3RoZXItb3RoZXItb3RoZXItMzI="

static const uint8_t LOOP4[16] = { 127, 0, 0, 1 };

static NotifyKey key_of(const char *text) {
        NotifyKey k;
        const char *what = NULL;
        assert_int_equal(notify_key_parse(text, &k, &what), 0);
        return k;
}

static void build(const char *zone, bool with_serial, uint32_t serial, const NotifyKey *key, uint8_t **pkt,
                  size_t *len) {
        assert_int_equal(notify_wire_build(0x1234, zone, with_serial, serial, key, pkt, len), 0);
}

static uint64_t now_sec(void) {
        return now_usec(CLOCK_REALTIME) / USEC_PER_SEC;
}

/* notify_wire_handle() of len bytes of pkt from an allowed source, with key (or none), now: ret filled. */
static void handle(const uint8_t *pkt, size_t len, const NotifyKey *key, NotifyRequest *ret) {
        assert_int_equal(notify_wire_handle(pkt, len, true, key, now_sec(), ret), 0);
}

/* Header fields of an answer. */
static unsigned hdr_rcode(const NotifyRequest *r) {
        return r->answer[3] & 0x0f;
}
static unsigned hdr_opcode(const NotifyRequest *r) {
        return (r->answer[2] >> 3) & 0x0f;
}
static unsigned hdr_count(const NotifyRequest *r, unsigned section) {
        return (unsigned) r->answer[4 + 2 * section] << 8 | r->answer[5 + 2 * section];
}

/* handle() gives verdict and an answer with rcode. */
static void expect_answer(const uint8_t *pkt, size_t len, const NotifyKey *key, NotifyVerdict verdict, unsigned rcode) {
        NotifyRequest r;

        handle(pkt, len, key, &r);
        assert_int_equal(r.verdict, verdict);
        assert_non_null(r.answer);
        assert_int_equal(hdr_rcode(&r), rcode);
        notify_request_done(&r);
}

static void test_notify_is_accepted_and_answered_with_id_qr_aa_and_question(void **state) {
        _cleanup_free_ uint8_t *pkt = NULL;
        size_t len;
        NotifyRequest r;

        build("Example.COM", true, 2024010101, NULL, &pkt, &len);
        handle(pkt, len, NULL, &r);
        assert_int_equal(r.verdict, NOTIFY_ACCEPTED);
        assert_string_equal(r.zone, "example.com");
        assert_true(r.has_serial);
        assert_int_equal(r.serial, 2024010101);
        assert_non_null(r.answer);
        assert_int_equal(r.answer[0], 0x12);
        assert_int_equal(r.answer[1], 0x34);
        assert_true(r.answer[2] & 0x80); /* QR */
        assert_true(r.answer[2] & 0x04); /* AA */
        assert_int_equal(hdr_opcode(&r), 4);
        assert_int_equal(hdr_rcode(&r), 0);
        assert_int_equal(hdr_count(&r, 0), 1);
        assert_int_equal(hdr_count(&r, 1), 0);
        assert_int_equal(hdr_count(&r, 3), 0);
        notify_request_done(&r);
}

static void test_notify_without_soa_is_accepted_without_serial(void **state) {
        _cleanup_free_ uint8_t *pkt = NULL;
        size_t len;
        NotifyRequest r;

        build("svc.example.org", false, 0, NULL, &pkt, &len);
        handle(pkt, len, NULL, &r);
        assert_int_equal(r.verdict, NOTIFY_ACCEPTED);
        assert_string_equal(r.zone, "svc.example.org");
        assert_false(r.has_serial);
        notify_request_done(&r);
}

static void test_other_opcodes_get_notimp(void **state) {
        _cleanup_free_ uint8_t *pkt = NULL;
        size_t len;
        NotifyRequest r;

        build("example.com", false, 0, NULL, &pkt, &len);
        for (unsigned op = 0; op < 16; op++) {
                if (op == 4)
                        continue;
                pkt[2] = (uint8_t) ((pkt[2] & 0x87) | op << 3);
                handle(pkt, len, NULL, &r);
                assert_int_equal(r.verdict, NOTIFY_NOT_NOTIFY);
                assert_int_equal(hdr_rcode(&r), 4);
                assert_int_equal(hdr_opcode(&r), op);
                assert_string_equal(r.zone, "");
                notify_request_done(&r);
        }
}

static void test_responses_and_short_messages_get_no_answer(void **state) {
        _cleanup_free_ uint8_t *pkt = NULL;
        size_t len;
        NotifyRequest r;

        build("example.com", false, 0, NULL, &pkt, &len);
        handle(pkt, 11, NULL, &r);
        assert_int_equal(r.verdict, NOTIFY_DROPPED);
        assert_null(r.answer);
        pkt[2] |= 0x80;
        handle(pkt, len, NULL, &r);
        assert_int_equal(r.verdict, NOTIFY_DROPPED);
        assert_null(r.answer);
}

static void test_truncated_message_gets_formerr_with_its_id(void **state) {
        _cleanup_free_ uint8_t *pkt = NULL;
        size_t len;
        NotifyRequest r;

        build("example.com", true, 7, NULL, &pkt, &len);
        for (size_t cut = 12; cut < len; cut += 3) {
                handle(pkt, cut, NULL, &r);
                assert_int_not_equal(r.verdict, NOTIFY_ACCEPTED);
                assert_non_null(r.answer);
                assert_int_equal(r.answer[0], 0x12);
                assert_int_equal(hdr_rcode(&r), 1);
                notify_request_done(&r);
        }
}

static void test_bytes_after_the_last_record_get_formerr(void **state) {
        NotifyKey key = key_of("k:hmac-sha256:" SECRET);
        _cleanup_free_ uint8_t *pkt = NULL;
        size_t len;

        build("example.com", true, 3, &key, &pkt, &len);
        uint8_t *padded = calloc(1, len + 100);
        assert_non_null(padded);
        memcpy(padded, pkt, len);
        expect_answer(padded, len, &key, NOTIFY_ACCEPTED, 0);
        expect_answer(padded, len + 100, &key, NOTIFY_MALFORMED, 1);
        free(padded);
}

static void test_question_other_than_soa_in_gets_formerr(void **state) {
        _cleanup_free_ uint8_t *pkt = NULL;
        size_t len;

        /* Without a serial, the question is the message's last 4 bytes: type, class. */
        build("example.com", false, 0, NULL, &pkt, &len);
        pkt[len - 3] = 1; /* type A */
        expect_answer(pkt, len, NULL, NOTIFY_MALFORMED, 1);
        pkt[len - 3] = 6;
        pkt[len - 1] = 3; /* class CH */
        expect_answer(pkt, len, NULL, NOTIFY_MALFORMED, 1);
        pkt[len - 1] = 1;
        pkt[5] = 0; /* no question */
        expect_answer(pkt, 12, NULL, NOTIFY_MALFORMED, 1);
}

static void test_source_not_allowed_gets_refused(void **state) {
        _cleanup_free_ uint8_t *pkt = NULL;
        size_t len;
        NotifyRequest r;

        build("example.com", true, 1, NULL, &pkt, &len);
        assert_int_equal(notify_wire_handle(pkt, len, false, NULL, now_sec(), &r), 0);
        assert_int_equal(r.verdict, NOTIFY_REFUSED);
        assert_int_equal(hdr_rcode(&r), 5);
        assert_string_equal(r.zone, "");
        notify_request_done(&r);
}

static void test_key_set_unsigned_or_badly_signed_gets_notauth(void **state) {
        NotifyKey key = key_of("notify-key:hmac-sha256:" SECRET);
        NotifyKey wrong = key_of("notify-key:hmac-sha256:" OTHER_SECRET);
        NotifyKey other_name = key_of("other:hmac-sha256:" SECRET);
        NotifyKey other_alg = key_of("notify-key:hmac-sha512:" SECRET);
        const NotifyKey *signers[] = { NULL, &wrong, &other_name, &other_alg };
        /* RFC 8945 §5.3.2: no TSIG for an unsigned request, else the error, unsigned. */
        const uint16_t errors[] = { 0, NOTIFY_TSIG_BADSIG, NOTIFY_TSIG_BADKEY, NOTIFY_TSIG_BADKEY };
        NotifyRequest r;

        for (size_t i = 0; i < ELEMENTSOF(signers); i++) {
                _cleanup_free_ uint8_t *pkt = NULL;
                NotifyAnswerTsig t;
                size_t len;
                uint64_t now = now_sec();
                build("example.com", true, 1, signers[i], &pkt, &len);
                assert_int_equal(notify_wire_handle(pkt, len, true, &key, now, &r), 0);
                assert_int_equal(r.verdict, NOTIFY_BAD_TSIG);
                assert_int_equal(hdr_rcode(&r), 9);
                assert_string_equal(r.zone, "");
                assert_int_equal(r.tsig_error, errors[i]);
                assert_int_equal(hdr_count(&r, 3), errors[i] ? 1 : 0);
                assert_int_equal(notify_wire_answer_tsig(pkt, len, r.answer, r.answer_len, signers[i], &t), 0);
                assert_int_equal(t.present, errors[i] != 0);
                assert_int_equal(t.error, errors[i]);
                assert_false(t.verifies);
                assert_false(t.has_server_time);
                if (t.present)
                        assert_int_equal(t.time_signed, now);
                notify_request_done(&r);
        }
}

static void test_badtime_answer_is_signed_with_the_server_time(void **state) {
        /* Each algorithm ldns 1.8's TSIG signs with, and a secret longer than a block. */
        static const char *const keys[] = {
                "k:hmac-sha256:" SECRET, "k:hmac-sha512:" SECRET,
                "k:hmac-sha256:" LONG_SECRET, "k:hmac-sha512:" LONG_SECRET,
        };
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                NotifyKey key = key_of(keys[i]), wrong = key_of("k:hmac-sha256:" OTHER_SECRET);
                _cleanup_free_ uint8_t *pkt = NULL;
                NotifyAnswerTsig t;
                NotifyRequest r;
                size_t len;
                uint64_t signed_at = now_sec(), server = signed_at + 3600;

                build("example.com", true, 1, &key, &pkt, &len);
                assert_int_equal(notify_wire_handle(pkt, len, true, &key, server, &r), 0);
                assert_int_equal(r.verdict, NOTIFY_BAD_TSIG);
                assert_int_equal(r.tsig_error, NOTIFY_TSIG_BADTIME);
                assert_int_equal(hdr_rcode(&r), 9);
                assert_int_equal(hdr_count(&r, 3), 1);
                assert_int_equal(notify_wire_answer_tsig(pkt, len, r.answer, r.answer_len, &key, &t), 0);
                assert_true(t.present);
                assert_true(t.verifies);
                assert_int_equal(t.error, NOTIFY_TSIG_BADTIME);
                assert_true(t.has_server_time);
                assert_int_equal(t.server_time, server);
                assert_true(t.time_signed >= signed_at && t.time_signed <= signed_at + 1); /* the request's */

                /* The MAC binds the answer and the key: another key or an altered answer fails. */
                assert_int_equal(notify_wire_answer_tsig(pkt, len, r.answer, r.answer_len, &wrong, &t), 0);
                assert_false(t.verifies);
                r.answer[3] ^= 0x80; /* the RA bit */
                assert_int_equal(notify_wire_answer_tsig(pkt, len, r.answer, r.answer_len, &key, &t), 0);
                assert_false(t.verifies);
                notify_request_done(&r);
        }
}

static void test_signed_notify_is_accepted_and_its_answer_signed(void **state) {
        NotifyKey key = key_of("Notify-Key.:HMAC-SHA256:" SECRET);
        _cleanup_free_ uint8_t *pkt = NULL;
        size_t len;
        NotifyRequest r;

        build("example.com", true, 42, &key, &pkt, &len);
        handle(pkt, len, &key, &r);
        assert_int_equal(r.verdict, NOTIFY_ACCEPTED);
        assert_int_equal(r.serial, 42);
        assert_int_equal(hdr_rcode(&r), 0);
        assert_int_equal(hdr_count(&r, 3), 1); /* the TSIG */
        NotifyAnswerTsig t;
        assert_int_equal(notify_wire_answer_tsig(pkt, len, r.answer, r.answer_len, &key, &t), 0);
        assert_true(t.present);
        assert_true(t.verifies);
        assert_int_equal(t.error, 0);
        notify_request_done(&r);

        /* A message altered after signing, and one replayed long after. */
        pkt[len / 2] ^= 1;
        handle(pkt, len, &key, &r);
        assert_int_not_equal(r.verdict, NOTIFY_ACCEPTED);
        notify_request_done(&r);
        pkt[len / 2] ^= 1;
        assert_int_equal(notify_wire_handle(pkt, len, true, &key, now_sec() + 3600, &r), 0);
        assert_int_equal(r.verdict, NOTIFY_BAD_TSIG);
        notify_request_done(&r);
}

static void test_key_parse_rejects_weak_or_malformed_keys_without_quoting_the_secret(void **state) {
        static const char *const bad[] = {
                "name:hmac-md5:" SECRET, "name:hmac-sha1:" SECRET, "name:hmac-sha256:c2hvcnQ=",
                "name:hmac-sha256:not*base64*at*all*not*base64", "name:hmac-sha256", ":hmac-sha256:" SECRET,
                "name:hmac-sha256:",
        };
        NotifyKey k;
        const char *what;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                what = NULL;
                assert_int_equal(notify_key_parse(bad[i], &k, &what), -EINVAL);
                assert_non_null(what);
                assert_null(strstr(what, "c2Vj"));
        }
        /* Algorithms ldns cannot use for TSIG are refused, not accepted to fail every message. */
        assert_int_equal(notify_key_parse("name.example:hmac-sha384:" SECRET, &k, &what), -EINVAL);
        assert_non_null(strstr(what, "hmac-sha384"));
        assert_int_equal(notify_key_parse("name.example:hmac-sha224:" SECRET, &k, &what), -EINVAL);
        assert_int_equal(notify_key_parse("Name.Example.:HMAC-SHA512:" SECRET, &k, &what), 0);
        assert_string_equal(k.name, "name.example");
        assert_string_equal(k.algorithm, "hmac-sha512");
        assert_string_equal(k.secret, SECRET);
}

static void test_key_file_in_bind_syntax_or_one_line(void **state) {
        NotifyKey k;
        const char *what;

        assert_int_equal(notify_key_parse_file("key \"dnsdisc-notify\" {\n\talgorithm hmac-sha256;\n\tsecret \"" SECRET
                                               "\";\n};\n",
                                               &k, &what),
                         0);
        assert_string_equal(k.name, "dnsdisc-notify");
        assert_string_equal(k.algorithm, "hmac-sha256");
        assert_string_equal(k.secret, SECRET);
        assert_int_equal(notify_key_parse_file("  k:hmac-sha512:" SECRET "\n", &k, &what), 0);
        assert_string_equal(k.name, "k");
        assert_int_equal(notify_key_parse_file("key \"x\" { algorithm hmac-sha256; };", &k, &what), -EINVAL);
        assert_int_equal(notify_key_parse_file("a:hmac-sha256:" SECRET "\nb:hmac-sha256:" SECRET, &k, &what), -EINVAL);
}

static void test_names_in_zones_and_serial_arithmetic(void **state) {
        assert_true(name_in_zone("a.example.com", "example.com"));
        assert_true(name_in_zone("example.com", "example.com"));
        assert_true(name_in_zone("example.com", ""));
        assert_false(name_in_zone("badexample.com", "example.com"));
        assert_false(name_in_zone("com", "example.com"));
        assert_true(notify_serial_after(2, 1));
        assert_false(notify_serial_after(1, 1));
        assert_false(notify_serial_after(1, 2));
        assert_true(notify_serial_after(1, UINT32_MAX)); /* wrapped */
}

static void test_prefixes_parse_and_match(void **state) {
        NotifyPrefix p[2];
        uint8_t a[16] = { 192, 0, 2, 77 };
        uint8_t b[16] = { 192, 0, 3, 1 };
        uint8_t v6[16] = { [15] = 1 };

        assert_int_equal(notify_prefix_parse("192.0.2.0/24", &p[0]), 0);
        assert_int_equal(notify_prefix_parse("2001:db8::/32", &p[1]), 0);
        assert_true(notify_prefix_match(p, 2, AF_INET, a));
        assert_false(notify_prefix_match(p, 2, AF_INET, b));
        assert_false(notify_prefix_match(p, 2, AF_INET6, v6));
        assert_true(notify_prefix_match(NULL, 0, AF_INET6, v6));
        assert_true(notify_prefix_match(NULL, 0, AF_INET, LOOP4));
        assert_false(notify_prefix_match(NULL, 0, AF_INET, a));
        assert_int_equal(notify_prefix_parse("192.0.2.1/24", &p[0]), -EINVAL);
        assert_int_equal(notify_prefix_parse("192.0.2.0/33", &p[0]), -EINVAL);
        assert_int_equal(notify_prefix_parse("example.com", &p[0]), -EINVAL);
        assert_int_equal(notify_prefix_parse("0.0.0.0/0", &p[0]), 0);
        assert_true(notify_prefix_match(p, 1, AF_INET, b));
}

/* ---------------------------------------------------------------- the listener on loopback */

typedef struct Seen {
        size_t n, accepted, coalesced, zone_calls;
        char zone[RECORDS_NAME_MAX];
        uint64_t call_usec[8];
} Seen;

static void on_message(const NotifyRequest *r, bool coalesced, void *userdata) {
        Seen *s = userdata;
        s->n++;
        if (r->verdict == NOTIFY_ACCEPTED) {
                s->accepted++;
                s->coalesced += coalesced;
        }
}

static void on_zone(const char *zone, void *userdata) {
        Seen *s = userdata;
        if (s->zone_calls < ELEMENTSOF(s->call_usec))
                s->call_usec[s->zone_calls] = now_usec(CLOCK_MONOTONIC);
        s->zone_calls++;
        snprintf(s->zone, sizeof s->zone, "%s", zone);
}

/* A port free for both UDP and TCP on 127.0.0.1 right now. */
static uint16_t free_port(void) {
        for (unsigned attempt = 0; attempt < 50; attempt++) {
                struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
                socklen_t sl = sizeof sa;
                _cleanup_close_ int u = socket(AF_INET, SOCK_DGRAM, 0);
                assert_true(u >= 0);
                assert_int_equal(bind(u, (struct sockaddr *) &sa, sizeof sa), 0);
                assert_int_equal(getsockname(u, (struct sockaddr *) &sa, &sl), 0);
                _cleanup_close_ int t = socket(AF_INET, SOCK_STREAM, 0);
                if (bind(t, (struct sockaddr *) &sa, sizeof sa) == 0)
                        return ntohs(sa.sin_port);
        }
        fail_msg("no free port");
        return 0;
}

/* Run the loop until the handler saw want messages (bounded: 2000 iterations of at most 10 ms). */
static void run_until(sd_event *e, const Seen *s, size_t want) {
        for (unsigned i = 0; i < 2000 && s->n < want; i++)
                assert_true(sd_event_run(e, 10 * USEC_PER_MSEC) >= 0);
        assert_int_equal(s->n, want);
}

static size_t recv_answer(int fd, uint8_t *buf, size_t size) {
        struct pollfd p = { fd, POLLIN, 0 };
        assert_int_equal(poll(&p, 1, 5000), 1);
        ssize_t n = recv(fd, buf, size, 0);
        assert_true(n > 0);
        return (size_t) n;
}

/* A listener on ep (with the rest of c), reporting to seen; to and to_len are the address to send to. */
typedef struct Listening {
        sd_event *e;
        NotifyListener *l;
        Seen seen;
        NotifyEndpoint ep;
        struct sockaddr_storage to;
        socklen_t to_len;
} Listening;

static void listening_start(Listening *t, NotifyEndpoint ep, NotifyListenerConfig c) {
        NotifyHandlers h = { on_message, on_zone, &t->seen };

        *t = (Listening) { .ep = ep };
        if (ep.family == AF_INET) {
                struct sockaddr_in *sin = (struct sockaddr_in *) &t->to;

                *sin = (struct sockaddr_in) { .sin_family = AF_INET, .sin_port = htons(ep.port) };
                memcpy(&sin->sin_addr, ep.addr, 4);
                t->to_len = sizeof *sin;
        } else {
                struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &t->to;

                *sin6 = (struct sockaddr_in6) { .sin6_family = AF_INET6, .sin6_port = htons(ep.port) };
                memcpy(&sin6->sin6_addr, ep.addr, 16);
                t->to_len = sizeof *sin6;
        }
        c.listen = &t->ep;
        c.n_listen = 1;
        assert_int_equal(sd_event_new(&t->e), 0);
        assert_int_equal(notify_listener_new(t->e, &c, &h, &t->l), 0);
}

/* The same on 127.0.0.1 at a port free for UDP and TCP. */
static void listening_start4(Listening *t, NotifyListenerConfig c) {
        listening_start(t, (NotifyEndpoint) { AF_INET, { 127, 0, 0, 1 }, free_port() }, c);
}

static void listening_stop(Listening *t) {
        notify_listener_free(t->l);
        sd_event_unref(t->e);
}

/* A socket of the listener's family and type, connected to it. */
static int connect_to(const Listening *t, int type) {
        int fd = socket(t->to.ss_family, type, 0);

        assert_true(fd >= 0);
        assert_int_equal(connect(fd, (const struct sockaddr *) &t->to, t->to_len), 0);
        return fd;
}

/* A NOTIFY for zone (unsigned, id 0x1234) as one datagram on fd. */
static void send_notify(int fd, const char *zone, bool with_serial, uint32_t serial) {
        _cleanup_free_ uint8_t *pkt = NULL;
        size_t len;

        build(zone, with_serial, serial, NULL, &pkt, &len);
        assert_int_equal(send(fd, pkt, len, 0), (ssize_t) len);
}

/* copies NOTIFYs for zone (unsigned, id 0x1234), each framed with its TCP length, in one send on fd. */
static void send_notify_tcp(int fd, const char *zone, bool with_serial, uint32_t serial, unsigned copies) {
        _cleanup_free_ uint8_t *pkt = NULL;
        uint8_t framed[2 * (2 + 512)];
        size_t len;

        build(zone, with_serial, serial, NULL, &pkt, &len);
        assert_true(len <= 512 && copies <= 2);
        for (unsigned i = 0; i < copies; i++) {
                framed[i * (2 + len)] = (uint8_t) (len >> 8);
                framed[i * (2 + len) + 1] = (uint8_t) len;
                memcpy(framed + i * (2 + len) + 2, pkt, len);
        }
        assert_int_equal(send(fd, framed, copies * (2 + len), 0), (ssize_t) (copies * (2 + len)));
}

static void test_listener_answers_udp_and_tcp_and_remembers_serials(void **state) {
        Listening t;
        uint8_t buf[1024];

        listening_start4(&t, (NotifyListenerConfig) {});
        _cleanup_close_ int u = connect_to(&t, SOCK_DGRAM);
        send_notify(u, "example.com", true, 5);
        run_until(t.e, &t.seen, 1);
        size_t n = recv_answer(u, buf, sizeof buf);
        assert_true(n >= 12);
        assert_int_equal(buf[0], 0x12);
        assert_true(buf[2] & 0x80);
        assert_int_equal(t.seen.accepted, 1);
        assert_int_equal(t.seen.coalesced, 0);
        assert_int_equal(t.seen.zone_calls, 1);
        assert_string_equal(t.seen.zone, "example.com");

        /* TCP, two messages on one connection: the same serial again is old news. */
        _cleanup_close_ int tcp = connect_to(&t, SOCK_STREAM);
        send_notify_tcp(tcp, "example.com", true, 5, 2);
        run_until(t.e, &t.seen, 3);
        assert_int_equal(t.seen.accepted, 3);
        assert_int_equal(t.seen.coalesced, 2);
        assert_int_equal(t.seen.zone_calls, 1);
        size_t got = 0;
        while (got < 4)
                got += recv_answer(tcp, buf + got, sizeof buf - got);
        size_t alen = (size_t) buf[0] << 8 | buf[1];
        assert_true(alen >= 12);
        assert_int_equal(buf[2], 0x12);
        assert_true(buf[4] & 0x80);
        listening_stop(&t);
}

static void test_listener_burst_is_one_call_now_and_one_at_the_interval_end(void **state) {
        Listening t;
        enum { BURST = 50 };

        listening_start4(&t, (NotifyListenerConfig) { .min_interval_usec = 200 * USEC_PER_MSEC });
        _cleanup_close_ int u = connect_to(&t, SOCK_DGRAM);
        /* New serials each time: only the pacing may fold them. */
        for (uint32_t i = 0; i < BURST; i++)
                send_notify(u, "burst.example", true, 100 + i);
        run_until(t.e, &t.seen, BURST);
        assert_int_equal(t.seen.accepted, BURST);
        /* All arrive well within 200 ms on loopback, or the first call may come again at the end. */
        assert_true(t.seen.zone_calls >= 1 && t.seen.zone_calls <= 2);
        for (unsigned i = 0; i < 100 && t.seen.zone_calls < 2; i++)
                assert_true(sd_event_run(t.e, 10 * USEC_PER_MSEC) >= 0);
        assert_int_equal(t.seen.zone_calls, 2);
        assert_true(t.seen.call_usec[1] - t.seen.call_usec[0] >= 200 * USEC_PER_MSEC);
        assert_int_equal(t.seen.coalesced, BURST - 2);
        /* Nothing more is due: the loop stays quiet. */
        for (unsigned i = 0; i < 30; i++)
                assert_true(sd_event_run(t.e, 10 * USEC_PER_MSEC) >= 0);
        assert_int_equal(t.seen.zone_calls, 2);
        assert_string_equal(t.seen.zone, "burst.example");
        listening_stop(&t);
}

static void test_listener_answers_on_ipv6_loopback(void **state) {
        Listening t;
        struct sockaddr_in6 probe = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
        socklen_t sl = sizeof probe;
        _cleanup_close_ int u = socket(AF_INET6, SOCK_DGRAM, 0);
        if (u < 0 || bind(u, (struct sockaddr *) &probe, sizeof probe) < 0) {
                skip(); /* no IPv6 on this machine (a container without ::1) */
                return;
        }
        assert_int_equal(getsockname(u, (struct sockaddr *) &probe, &sl), 0);
        uint16_t port = ntohs(probe.sin6_port); /* free for UDP; TCP is tried by the listener itself */
        close(TAKE_FD(u));
        uint8_t buf[512];

        listening_start(&t, (NotifyEndpoint) { AF_INET6, { [15] = 1 }, port }, (NotifyListenerConfig) {});
        _cleanup_close_ int s = connect_to(&t, SOCK_DGRAM);
        send_notify(s, "v6.example", false, 0);
        run_until(t.e, &t.seen, 1);
        assert_int_equal(t.seen.accepted, 1); /* ::1 is loopback: allowed by default */
        assert_string_equal(t.seen.zone, "v6.example");
        recv_answer(s, buf, sizeof buf);
        assert_int_equal(buf[3] & 0x0f, 0);
        listening_stop(&t);
}

static void test_listener_beyond_64_tcp_connections_drops_the_oldest_and_still_answers(void **state) {
        Listening t;
        enum { N = 80 };
        int fds[N];
        uint8_t buf[512];

        listening_start4(&t, (NotifyListenerConfig) {});
        /* Idle peers holding connections open: each accepted in turn. */
        for (int i = 0; i < N; i++) {
                fds[i] = connect_to(&t, SOCK_STREAM);
                for (int k = 0; k < 5; k++)
                        assert_true(sd_event_run(t.e, 0) >= 0);
        }
        /* The first ones were closed to make room: they read end-of-file. */
        struct pollfd p = { fds[0], POLLIN, 0 };
        assert_int_equal(poll(&p, 1, 2000), 1);
        assert_int_equal(recv(fds[0], buf, sizeof buf, 0), 0);
        /* The newest still gets its answer. */
        send_notify_tcp(fds[N - 1], "tcp.example", false, 0, 1);
        run_until(t.e, &t.seen, 1);
        assert_true(recv_answer(fds[N - 1], buf, sizeof buf) >= 4);
        assert_int_equal(buf[2] << 8 | buf[3], 0x1234); /* after the length: the ID */
        for (int i = 0; i < N; i++)
                close(fds[i]);
        listening_stop(&t);
}

static void test_listener_refuses_sources_outside_notify_allow(void **state) {
        Listening t;
        NotifyPrefix allow;
        uint8_t buf[1024];

        assert_int_equal(notify_prefix_parse("192.0.2.0/24", &allow), 0);
        listening_start4(&t, (NotifyListenerConfig) { .allow = &allow, .n_allow = 1 });
        _cleanup_close_ int u = connect_to(&t, SOCK_DGRAM);
        for (int i = 0; i < 3; i++)
                send_notify(u, "example.com", false, 0);
        run_until(t.e, &t.seen, 3);
        assert_int_equal(t.seen.accepted, 0);
        recv_answer(u, buf, sizeof buf);
        assert_int_equal(buf[3] & 0x0f, 5);
        listening_stop(&t);
}

static void test_listener_fails_on_a_port_in_use(void **state) {
        sd_event *e = NULL;
        NotifyListener *l = NULL;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t sl = sizeof sa;
        _cleanup_close_ int u = socket(AF_INET, SOCK_DGRAM, 0);
        assert_int_equal(bind(u, (struct sockaddr *) &sa, sizeof sa), 0);
        assert_int_equal(getsockname(u, (struct sockaddr *) &sa, &sl), 0);
        NotifyEndpoint ep = { AF_INET, { 127, 0, 0, 1 }, ntohs(sa.sin_port) };
        NotifyListenerConfig c = { .listen = &ep, .n_listen = 1 };

        assert_int_equal(sd_event_new(&e), 0);
        NotifyHandlers h = { on_message, on_zone, NULL };
        assert_int_equal(notify_listener_new(e, &c, &h, &l), -EADDRINUSE);
        assert_null(l);
        sd_event_unref(e);
}

/* ---------------------------------------------------------------- reload */

/* A NOTIFY for zone over UDP to port of t's listener, signed with key if not NULL: the answer's RCODE. */
static unsigned notify_udp(Listening *t, uint16_t port, const char *zone, const NotifyKey *key) {
        struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        _cleanup_free_ uint8_t *pkt = NULL;
        size_t len;
        uint8_t buf[1024];

        assert_int_equal(notify_wire_build(0x1234, zone, false, 0, key, &pkt, &len), 0);
        _cleanup_close_ int u = socket(AF_INET, SOCK_DGRAM, 0);
        assert_int_equal(sendto(u, pkt, len, 0, (struct sockaddr *) &to, sizeof to), (ssize_t) len);
        run_until(t->e, &t->seen, t->seen.n + 1);
        assert_true(recv_answer(u, buf, sizeof buf) >= 12);
        return buf[3] & 0x0f;
}

static bool tcp_port_open(uint16_t port) {
        struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        _cleanup_close_ int t = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(t >= 0);
        return connect(t, (struct sockaddr *) &to, sizeof to) == 0;
}

static void test_reload_to_a_new_port_listens_there_and_closes_the_old(void **state) {
        Listening t;

        listening_start4(&t, (NotifyListenerConfig) {});
        uint16_t old_port = t.ep.port, new_port = free_port();
        NotifyEndpoint ep = { AF_INET, { 127, 0, 0, 1 }, new_port };
        NotifyListenerConfig c = { .listen = &ep, .n_listen = 1 };

        assert_int_equal(notify_udp(&t, old_port, "example.com", NULL), 0);
        assert_int_equal(notify_listener_reload(t.l, &c), 1);
        assert_int_equal(notify_udp(&t, new_port, "example.net", NULL), 0);
        assert_int_equal(t.seen.accepted, 2);
        assert_string_equal(t.seen.zone, "example.net");
        assert_true(tcp_port_open(new_port));
        assert_false(tcp_port_open(old_port));
        /* The same addresses again: nothing to do. */
        assert_int_equal(notify_listener_reload(t.l, &c), 0);
        listening_stop(&t);
}

static void test_reload_keeps_the_sockets_of_unchanged_addresses_with_their_queued_notifies(void **state) {
        Listening t;
        uint8_t buf[512];

        listening_start4(&t, (NotifyListenerConfig) {});
        uint16_t added = free_port(); /* after the listener took its port: never the same */
        NotifyEndpoint ep[2] = { t.ep, { AF_INET, { 127, 0, 0, 1 }, added } };
        NotifyListenerConfig c = { .listen = ep, .n_listen = 2 };
        /* Sent before the reload, read after it: the socket it waits in must survive. */
        _cleanup_close_ int u = connect_to(&t, SOCK_DGRAM);
        send_notify(u, "queued.example", false, 0);
        assert_int_equal(notify_listener_reload(t.l, &c), 1);
        run_until(t.e, &t.seen, 1);
        assert_int_equal(t.seen.accepted, 1);
        assert_string_equal(t.seen.zone, "queued.example");
        assert_true(recv_answer(u, buf, sizeof buf) >= 12);
        assert_int_equal(notify_udp(&t, added, "added.example", NULL), 0);
        listening_stop(&t);
}

static void test_reload_to_a_port_in_use_fails_and_keeps_the_old_listener(void **state) {
        Listening t;

        listening_start4(&t, (NotifyListenerConfig) {});
        uint16_t port = t.ep.port;
        /* Free for TCP too (free_port()), so that only our UDP socket is in the way. */
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(free_port()),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        _cleanup_close_ int busy = socket(AF_INET, SOCK_DGRAM, 0);
        assert_int_equal(bind(busy, (struct sockaddr *) &sa, sizeof sa), 0);
        NotifyEndpoint moved = { AF_INET, { 127, 0, 0, 1 }, ntohs(sa.sin_port) };
        NotifyListenerConfig nc = { .listen = &moved, .n_listen = 1 };
        assert_int_equal(notify_listener_reload(t.l, &nc), -EADDRINUSE);
        assert_int_equal(notify_udp(&t, port, "example.com", NULL), 0);
        assert_int_equal(t.seen.accepted, 1);
        assert_true(tcp_port_open(port));
        /* Once the port is free, the same reload moves the listener. */
        close(TAKE_FD(busy));
        assert_int_equal(notify_listener_reload(t.l, &nc), 1);
        assert_int_equal(notify_udp(&t, moved.port, "example.com", NULL), 0);
        assert_false(tcp_port_open(port));
        listening_stop(&t);
}

static void test_reload_to_an_overlapping_wildcard_address_moves_the_listener_and_back(void **state) {
        Listening t;

        /* 127.0.0.1:P -> 0.0.0.0:P: the wildcard cannot bind while the old socket holds P. The
         * listener accepts loopback sources only (notify-allow's default) while it is exposed. */
        listening_start4(&t, (NotifyListenerConfig) {});
        uint16_t port = t.ep.port;
        NotifyEndpoint any = { AF_INET, { 0 }, port };
        NotifyListenerConfig c = { .listen = &any, .n_listen = 1 };
        assert_int_equal(notify_listener_reload(t.l, &c), 1);
        assert_int_equal(notify_udp(&t, port, "example.com", NULL), 0);
        assert_true(tcp_port_open(port));
        /* And back: the loopback address cannot bind while the wildcard holds P. */
        c.listen = &t.ep;
        assert_int_equal(notify_listener_reload(t.l, &c), 1);
        assert_int_equal(notify_udp(&t, port, "example.net", NULL), 0);
        assert_true(tcp_port_open(port));
        assert_int_equal(t.seen.accepted, 2);
        listening_stop(&t);
}

static void test_reload_to_an_overlapping_address_in_use_reopens_the_old_one(void **state) {
        Listening t;

        listening_start4(&t, (NotifyListenerConfig) {});
        uint16_t port = t.ep.port;
        /* The wildcard of P is taken from under us by another socket on 127.0.0.2:P (UDP): the
         * reload fails, and the listener listens on 127.0.0.1:P again. */
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1) };
        _cleanup_close_ int busy = socket(AF_INET, SOCK_DGRAM, 0);
        assert_int_equal(bind(busy, (struct sockaddr *) &sa, sizeof sa), 0);
        NotifyEndpoint any = { AF_INET, { 0 }, port };
        NotifyListenerConfig c = { .listen = &any, .n_listen = 1 };
        assert_int_equal(notify_listener_reload(t.l, &c), -EADDRINUSE);
        assert_int_equal(notify_udp(&t, port, "example.com", NULL), 0);
        assert_true(tcp_port_open(port));
        listening_stop(&t);
}

static void test_reload_with_another_key_rejects_the_old_key_at_the_next_notify(void **state) {
        Listening t;
        NotifyKey old_key = key_of("old:hmac-sha256:" SECRET), new_key = key_of("new:hmac-sha256:" OTHER_SECRET);

        listening_start4(&t, (NotifyListenerConfig) { .key = &old_key });
        uint16_t port = t.ep.port;
        NotifyListenerConfig c = { .listen = &t.ep, .n_listen = 1, .key = &new_key };

        assert_int_equal(notify_udp(&t, port, "example.com", &old_key), 0);
        assert_int_equal(notify_listener_reload(t.l, &c), 0);
        assert_int_equal(notify_udp(&t, port, "example.com", &old_key), 9); /* NOTAUTH */
        assert_int_equal(notify_udp(&t, port, "example.com", NULL), 9);
        assert_int_equal(notify_udp(&t, port, "example.net", &new_key), 0);
        assert_int_equal(t.seen.accepted, 2);
        /* No key at all after the next reload: unsigned NOTIFYs are accepted. */
        c.key = NULL;
        assert_int_equal(notify_listener_reload(t.l, &c), 0);
        assert_int_equal(notify_udp(&t, port, "example.org", NULL), 0);
        assert_int_equal(t.seen.accepted, 3);
        listening_stop(&t);
}

static void test_reload_with_other_sources_refuses_the_next_notify_from_the_old_ones(void **state) {
        Listening t;
        NotifyPrefix allow;

        listening_start4(&t, (NotifyListenerConfig) {});
        uint16_t port = t.ep.port;
        NotifyListenerConfig c = { .listen = &t.ep, .n_listen = 1, .allow = &allow, .n_allow = 1 };

        assert_int_equal(notify_udp(&t, port, "example.com", NULL), 0);
        assert_int_equal(notify_prefix_parse("192.0.2.0/24", &allow), 0);
        assert_int_equal(notify_listener_reload(t.l, &c), 0);
        assert_int_equal(notify_udp(&t, port, "example.com", NULL), 5); /* REFUSED */
        assert_int_equal(t.seen.accepted, 1);
        listening_stop(&t);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_notify_is_accepted_and_answered_with_id_qr_aa_and_question),
                cmocka_unit_test(test_notify_without_soa_is_accepted_without_serial),
                cmocka_unit_test(test_other_opcodes_get_notimp),
                cmocka_unit_test(test_responses_and_short_messages_get_no_answer),
                cmocka_unit_test(test_truncated_message_gets_formerr_with_its_id),
                cmocka_unit_test(test_bytes_after_the_last_record_get_formerr),
                cmocka_unit_test(test_question_other_than_soa_in_gets_formerr),
                cmocka_unit_test(test_source_not_allowed_gets_refused),
                cmocka_unit_test(test_key_set_unsigned_or_badly_signed_gets_notauth),
                cmocka_unit_test(test_badtime_answer_is_signed_with_the_server_time),
                cmocka_unit_test(test_signed_notify_is_accepted_and_its_answer_signed),
                cmocka_unit_test(test_key_parse_rejects_weak_or_malformed_keys_without_quoting_the_secret),
                cmocka_unit_test(test_key_file_in_bind_syntax_or_one_line),
                cmocka_unit_test(test_names_in_zones_and_serial_arithmetic),
                cmocka_unit_test(test_prefixes_parse_and_match),
                cmocka_unit_test(test_listener_answers_udp_and_tcp_and_remembers_serials),
                cmocka_unit_test(test_listener_burst_is_one_call_now_and_one_at_the_interval_end),
                cmocka_unit_test(test_listener_answers_on_ipv6_loopback),
                cmocka_unit_test(test_listener_beyond_64_tcp_connections_drops_the_oldest_and_still_answers),
                cmocka_unit_test(test_listener_refuses_sources_outside_notify_allow),
                cmocka_unit_test(test_listener_fails_on_a_port_in_use),
                cmocka_unit_test(test_reload_to_a_new_port_listens_there_and_closes_the_old),
                cmocka_unit_test(test_reload_keeps_the_sockets_of_unchanged_addresses_with_their_queued_notifies),
                cmocka_unit_test(test_reload_to_a_port_in_use_fails_and_keeps_the_old_listener),
                cmocka_unit_test(test_reload_to_an_overlapping_wildcard_address_moves_the_listener_and_back),
                cmocka_unit_test(test_reload_to_an_overlapping_address_in_use_reopens_the_old_one),
                cmocka_unit_test(test_reload_with_another_key_rejects_the_old_key_at_the_next_notify),
                cmocka_unit_test(test_reload_with_other_sources_refuses_the_next_notify_from_the_old_ones),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
