/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-update-wire.c: daemon/update-wire.c: UPDATE messages as ldns reads them back, answers verified or rejected (answers built and signed with ldns). */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ldns/ldns.h>
#include <stdlib.h>
#include <string.h>

#include "update-wire.h"
#include "util.h"

#define ZONE "example.com"
#define SECRET "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ=="
#define OTHER_SECRET "b3RoZXItb3RoZXItb3RoZXItb3RoZXItb3RoZXI="

static const UpdateKey key = { "reg", "hmac-sha256", SECRET };
static const UpdateKey other_key = { "reg", "hmac-sha256", OTHER_SECRET };

static UpdateRecord srv_rec(void) {
        return (UpdateRecord) { .type = RECORDS_TYPE_SRV, .name = "_http._tcp.api." ZONE, .ttl = 30, .priority = 10,
                                .weight = 100, .port = 8080, .target = "host1." ZONE };
}

static UpdateRecord a_rec(const char *addr) {
        UpdateRecord r = { .type = RECORDS_TYPE_A, .name = "host1." ZONE, .ttl = 30 };
        assert_int_equal(inet_pton(AF_INET, addr, r.addr), 1);
        return r;
}

/* The message as ldns reads it. */
static ldns_pkt *parse(const uint8_t *w, size_t n) {
        ldns_pkt *p = NULL;
        assert_int_equal(ldns_wire2pkt(&p, w, n), LDNS_STATUS_OK);
        return p;
}

static char *rr_text(const ldns_rr_list *l, size_t i) {
        char *s = ldns_rr2str(ldns_rr_list_rr(l, i));
        assert_non_null(s);
        s[strcspn(s, "\n")] = 0;
        /* ldns separates fields by tabs. */
        for (char *c = s; *c; c++)
                if (*c == '\t')
                        *c = ' ';
        return s;
}

static void assert_rr(const ldns_rr_list *l, size_t i, const char *want) {
        _cleanup_free_ char *s = rr_text(l, i);
        assert_string_equal(s, want);
}

static void test_add_has_zone_prereq_absent_and_records(void **state) {
        UpdateRecord add[] = { srv_rec(), a_rec("192.0.2.10") };
        _cleanup_free_ uint8_t *w = NULL;
        size_t n;
        UpdateMac mac;

        assert_int_equal(update_wire_build(4242, ZONE, UPDATE_PREREQ_ADDRS_ABSENT, NULL, 0, add, 2, NULL, &w, &n, &mac), 0);
        ldns_pkt *p = parse(w, n);
        assert_int_equal(ldns_pkt_id(p), 4242);
        assert_int_equal(ldns_pkt_get_opcode(p), LDNS_PACKET_UPDATE);
        assert_false(ldns_pkt_qr(p));
        assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_question(p)), 1);
        assert_int_equal(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_question(p), 0)), LDNS_RR_TYPE_SOA);
        /* One prerequisite: the target's A RRset does not exist (class NONE, no rdata). */
        assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_answer(p)), 1);
        ldns_rr *pr = ldns_rr_list_rr(ldns_pkt_answer(p), 0);
        assert_int_equal(ldns_rr_get_class(pr), LDNS_RR_CLASS_NONE);
        assert_int_equal(ldns_rr_get_type(pr), LDNS_RR_TYPE_A);
        assert_int_equal(ldns_rr_rd_count(pr), 0);
        assert_int_equal(ldns_rr_ttl(pr), 0);
        assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_authority(p)), 2);
        assert_rr(ldns_pkt_authority(p), 0, "_http._tcp.api.example.com. 30 IN SRV 10 100 8080 host1.example.com.");
        assert_rr(ldns_pkt_authority(p), 1, "host1.example.com. 30 IN A 192.0.2.10");
        assert_null(ldns_pkt_tsig(p));
        assert_int_equal(mac.len, 0);
        ldns_pkt_free(p);
}

static void test_aaaa_records_and_their_prereq(void **state) {
        UpdateRecord add[] = { srv_rec(), { .type = RECORDS_TYPE_AAAA, .name = "host1." ZONE, .ttl = 30 } };
        assert_int_equal(inet_pton(AF_INET6, "2001:db8::10", add[1].addr), 1);
        _cleanup_free_ uint8_t *w = NULL;
        size_t n;

        assert_int_equal(update_wire_build(1, ZONE, UPDATE_PREREQ_ADDRS_ABSENT, NULL, 0, add, 2, NULL, &w, &n, NULL), 0);
        ldns_pkt *p = parse(w, n);
        assert_int_equal(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(p), 0)), LDNS_RR_TYPE_AAAA);
        assert_rr(ldns_pkt_authority(p), 1, "host1.example.com. 30 IN AAAA 2001:db8::10");
        ldns_pkt_free(p);
}

static void test_two_addresses_give_one_absent_prereq_exact_gives_each(void **state) {
        UpdateRecord add[] = { srv_rec(), a_rec("192.0.2.10"), a_rec("192.0.2.11") };
        _cleanup_free_ uint8_t *w = NULL, *w2 = NULL;
        size_t n, n2;

        assert_int_equal(update_wire_build(1, ZONE, UPDATE_PREREQ_ADDRS_ABSENT, NULL, 0, add, 3, NULL, &w, &n, NULL), 0);
        ldns_pkt *p = parse(w, n);
        assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_answer(p)), 1);
        ldns_pkt_free(p);

        /* RFC 2136 §2.4.2: the whole RRset, class IN, TTL 0. */
        assert_int_equal(update_wire_build(1, ZONE, UPDATE_PREREQ_ADDRS_EXACT, NULL, 0, add, 3, NULL, &w2, &n2, NULL), 0);
        p = parse(w2, n2);
        assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_answer(p)), 2);
        assert_rr(ldns_pkt_answer(p), 0, "host1.example.com. 0 IN A 192.0.2.10");
        assert_rr(ldns_pkt_answer(p), 1, "host1.example.com. 0 IN A 192.0.2.11");
        ldns_pkt_free(p);
}

/* Never the RRset: other hosts' instances share the SRV owner name. */
static void test_delete_removes_exactly_one_rr(void **state) {
        UpdateRecord del[] = { srv_rec() };
        _cleanup_free_ uint8_t *w = NULL;
        size_t n;

        assert_int_equal(update_wire_build(7, ZONE, UPDATE_PREREQ_NONE, del, 1, NULL, 0, NULL, &w, &n, NULL), 0);
        ldns_pkt *p = parse(w, n);
        assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_answer(p)), 0);
        assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_authority(p)), 1);
        ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_authority(p), 0);
        assert_int_equal(ldns_rr_get_class(rr), LDNS_RR_CLASS_NONE);
        assert_int_equal(ldns_rr_ttl(rr), 0);
        assert_int_equal(ldns_rr_rd_count(rr), 4);
        assert_int_equal(ldns_rdf2native_int16(ldns_rr_rdf(rr, 2)), 8080);
        ldns_pkt_free(p);
}

static void test_signed_update_carries_tsig_that_verifies(void **state) {
        UpdateRecord add[] = { srv_rec() };
        _cleanup_free_ uint8_t *w = NULL;
        size_t n;
        UpdateMac mac;

        assert_int_equal(update_wire_build(9, ZONE, UPDATE_PREREQ_NONE, NULL, 0, add, 1, &key, &w, &n, &mac), 0);
        assert_int_equal(mac.len, 2 + 32);
        ldns_pkt *p = parse(w, n);
        assert_non_null(ldns_pkt_tsig(p));
        assert_true(ldns_pkt_tsig_verify(p, w, n, "reg.", SECRET, NULL));
        ldns_pkt_free(p);
        p = parse(w, n);
        assert_false(ldns_pkt_tsig_verify(p, w, n, "reg.", OTHER_SECRET, NULL));
        ldns_pkt_free(p);
        /* The secret itself is never on the wire. */
        assert_null(memmem(w, n, SECRET, strlen(SECRET)));
}

static void test_invalid_names_are_einval(void **state) {
        UpdateRecord add[] = { srv_rec() };
        _cleanup_free_ uint8_t *w = NULL;
        size_t n;

        add[0].target = "a..b";
        assert_int_equal(update_wire_build(1, ZONE, UPDATE_PREREQ_NONE, NULL, 0, add, 1, NULL, &w, &n, NULL), -EINVAL);
        add[0] = srv_rec();
        add[0].type = 16; /* TXT: not a record the agent owns */
        assert_int_equal(update_wire_build(1, ZONE, UPDATE_PREREQ_NONE, NULL, 0, add, 1, NULL, &w, &n, NULL), -EINVAL);
}

/* ---- answers ---- */

typedef struct Answer {
        uint8_t rcode;
        const char *zone;      /* NULL: no zone section */
        bool no_qr, tc, query_opcode;
        const UpdateKey *sign; /* NULL: unsigned */
        uint16_t tsig_error;   /* a TSIG with this error and no MAC, instead of a signature */
} Answer;

/* The answer a server would send to the signed request w. */
static uint8_t *answer(const Answer *a, const uint8_t *req, size_t req_len, size_t *ret_len) {
        ldns_pkt *q = parse(req, req_len);
        ldns_pkt *p = ldns_pkt_new();
        assert_non_null(p);
        ldns_pkt_set_id(p, ldns_pkt_id(q));
        ldns_pkt_set_qr(p, !a->no_qr);
        ldns_pkt_set_tc(p, a->tc);
        ldns_pkt_set_opcode(p, a->query_opcode ? LDNS_PACKET_QUERY : LDNS_PACKET_UPDATE);
        ldns_pkt_set_rcode(p, a->rcode);
        if (a->zone) {
                ldns_rr *z = NULL;
                char text[300];
                snprintf(text, sizeof text, "%s. IN SOA", a->zone);
                assert_int_equal(ldns_rr_new_question_frm_str(&z, text, NULL, NULL), LDNS_STATUS_OK);
                assert_true(ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, z));
        }
        if (a->sign) {
                const ldns_rdf *qmac = ldns_pkt_tsig(q) ? ldns_rr_rdf(ldns_pkt_tsig(q), 3) : NULL;
                assert_int_equal(ldns_pkt_tsig_sign(p, "reg.", a->sign->secret, 300, "hmac-sha256.", qmac),
                                 LDNS_STATUS_OK);
                if (a->tsig_error) {
                        /* RFC 8945 §5.3.2: the error, an empty MAC. */
                        ldns_rr *t = ldns_pkt_tsig(p);
                        ldns_rdf_deep_free(ldns_rr_set_rdf(t, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, a->tsig_error), 5));
                        ldns_rdf_deep_free(ldns_rr_set_rdf(t, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, 2,
                                                                                      (uint8_t[]) { 0, 0 }), 3));
                }
        }
        uint8_t *w = NULL;
        assert_int_equal(ldns_pkt2wire(&w, p, ret_len), LDNS_STATUS_OK);
        ldns_pkt_free(p);
        ldns_pkt_free(q);
        return w;
}

typedef struct Req {
        uint8_t *w;
        size_t n;
        UpdateMac mac;
} Req;

static Req request(const UpdateKey *k) {
        UpdateRecord add[] = { srv_rec() };
        Req r;
        assert_int_equal(update_wire_build(77, ZONE, UPDATE_PREREQ_NONE, NULL, 0, add, 1, k, &r.w, &r.n, &r.mac), 0);
        return r;
}

static int check(const Answer *a, const UpdateKey *k, const char **why) {
        Req r = request(k);
        size_t n;
        _cleanup_free_ uint8_t *w = answer(a, r.w, r.n, &n);
        *why = NULL;
        int rc = update_wire_check(w, n, ZONE, k, &r.mac, why);
        free(r.w);
        return rc;
}

static void test_signed_noerror_answer_is_noerror(void **state) {
        const char *why;
        assert_int_equal(check(&(Answer) { .zone = ZONE, .sign = &key }, &key, &why), UPDATE_RCODE_NOERROR);
        assert_int_equal(check(&(Answer) { .rcode = UPDATE_RCODE_YXRRSET, .zone = ZONE, .sign = &key }, &key, &why),
                         UPDATE_RCODE_YXRRSET);
}

static void test_answer_signed_with_another_secret_is_rejected(void **state) {
        const char *why;
        assert_int_equal(check(&(Answer) { .zone = ZONE, .sign = &other_key }, &key, &why), -EBADMSG);
        assert_string_equal(why, "answer's TSIG does not verify");
}

static void test_unsigned_noerror_to_signed_update_is_rejected(void **state) {
        const char *why;
        assert_int_equal(check(&(Answer) { .zone = ZONE }, &key, &why), -EBADMSG);
        assert_string_equal(why, "unsigned answer to a signed UPDATE");
        assert_int_equal(check(&(Answer) { .rcode = UPDATE_RCODE_NXRRSET, .zone = ZONE }, &key, &why), -EBADMSG);
}

/* An unsigned error only makes the agent retry: a server that could not verify us says so unsigned. */
static void test_unsigned_refused_is_trusted_as_refused(void **state) {
        const char *why;
        assert_int_equal(check(&(Answer) { .rcode = UPDATE_RCODE_REFUSED, .zone = ZONE }, &key, &why),
                         UPDATE_RCODE_REFUSED);
        assert_int_equal(check(&(Answer) { .rcode = UPDATE_RCODE_REFUSED, .zone = ZONE }, NULL, &why),
                         UPDATE_RCODE_REFUSED);
}

static void test_tsig_errors_become_badsig_badkey_badtime(void **state) {
        const char *why;
        static const uint16_t errs[] = { UPDATE_RCODE_BADSIG, UPDATE_RCODE_BADKEY, UPDATE_RCODE_BADTIME };
        for (size_t i = 0; i < ELEMENTSOF(errs); i++)
                assert_int_equal(check(&(Answer) { .rcode = UPDATE_RCODE_NOTAUTH, .zone = ZONE, .sign = &key,
                                                   .tsig_error = errs[i] },
                                       &key, &why),
                                 errs[i]);
        assert_int_equal(check(&(Answer) { .rcode = UPDATE_RCODE_NOTAUTH, .zone = ZONE, .sign = &key, .tsig_error = 99 },
                               &key, &why),
                         -EBADMSG);
}

/* Regression (fuzz-records, regressions-records/update-tsig-unknown-algorithm-leak): ldns leaked the
 * TSIG of an answer signed with an algorithm it cannot compute. */
static void test_answer_signed_with_another_algorithm_is_rejected(void **state) {
        Req r = request(&key);
        size_t n;
        _cleanup_free_ uint8_t *w = answer(&(Answer) { .zone = ZONE, .sign = &key }, r.w, r.n, &n);
        /* hmac-sha256. -> hmac-sha128. in the TSIG's algorithm name */
        uint8_t *alg = memmem(w, n, "hmac-sha256", 11);
        assert_non_null(alg);
        memcpy(alg, "hmac-sha128", 11);
        const char *why = NULL;
        assert_int_equal(update_wire_check(w, n, ZONE, &key, &r.mac, &why), -EBADMSG);
        assert_string_equal(why, "answer signed with another algorithm");
        free(r.w);
}

static void test_answer_for_another_zone_is_rejected(void **state) {
        const char *why;
        assert_int_equal(check(&(Answer) { .zone = "example.net", .sign = &key }, &key, &why), -EBADMSG);
        assert_string_equal(why, "answer for another zone");
        assert_int_equal(check(&(Answer) { .sign = &key }, &key, &why), -EBADMSG);
}

static void test_truncated_query_or_non_answer_is_rejected(void **state) {
        const char *why;
        assert_int_equal(check(&(Answer) { .zone = ZONE, .sign = &key, .tc = true }, &key, &why), -EBADMSG);
        assert_string_equal(why, "truncated answer");
        assert_int_equal(check(&(Answer) { .zone = ZONE, .sign = &key, .no_qr = true }, &key, &why), -EBADMSG);
        assert_int_equal(check(&(Answer) { .zone = ZONE, .sign = &key, .query_opcode = true }, &key, &why), -EBADMSG);
}

static void test_every_prefix_of_an_answer_fails_cleanly(void **state) {
        Req r = request(&key);
        size_t n;
        _cleanup_free_ uint8_t *w = answer(&(Answer) { .zone = ZONE, .sign = &key }, r.w, r.n, &n);
        for (size_t len = 0; len < n; len++) {
                const char *why = NULL;
                _cleanup_free_ uint8_t *copy = malloc(MAX(len, 1u));
                memcpy(copy, w, len);
                /* A prefix either loses the TSIG (unsigned: rejected) or is malformed. */
                assert_int_equal(update_wire_check(copy, len, ZONE, &key, &r.mac, &why), -EBADMSG);
                assert_non_null(why);
        }
        const char *why;
        assert_int_equal(update_wire_check(w, n, ZONE, &key, &r.mac, &why), 0);
        assert_int_equal(update_wire_check(NULL, 0, ZONE, &key, &r.mac, &why), -EBADMSG);
        free(r.w);
}

/* ---- SOA ---- */

static uint8_t *soa_answer(const char *section_an, const char *section_ns, size_t *n) {
        ldns_pkt *p = ldns_pkt_new();
        ldns_rr *rr = NULL;
        ldns_pkt_set_qr(p, true);
        if (section_an) {
                assert_int_equal(ldns_rr_new_frm_str(&rr, section_an, 0, NULL, NULL), LDNS_STATUS_OK);
                ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
        }
        if (section_ns) {
                assert_int_equal(ldns_rr_new_frm_str(&rr, section_ns, 0, NULL, NULL), LDNS_STATUS_OK);
                ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, rr);
        }
        uint8_t *w = NULL;
        assert_int_equal(ldns_pkt2wire(&w, p, n), LDNS_STATUS_OK);
        ldns_pkt_free(p);
        return w;
}

static void test_soa_in_authority_or_answer_names_zone_and_primary(void **state) {
        char zone[RECORDS_NAME_MAX], mname[RECORDS_NAME_MAX];
        size_t n;
        _cleanup_free_ uint8_t *nodata = soa_answer(
                NULL, "Example.COM. 60 IN SOA ns1.example.com. hostmaster.example.com. 1 3600 600 86400 10", &n);
        assert_int_equal(update_wire_soa(nodata, n, zone, mname), 0);
        assert_string_equal(zone, "example.com");
        assert_string_equal(mname, "ns1.example.com");
        _cleanup_free_ uint8_t *apex = soa_answer(
                "sub.example.com. 60 IN SOA ns2.example.com. h.example.com. 1 3600 600 86400 10", NULL, &n);
        assert_int_equal(update_wire_soa(apex, n, zone, mname), 0);
        assert_string_equal(zone, "sub.example.com");
        assert_string_equal(mname, "ns2.example.com");
        _cleanup_free_ uint8_t *none = soa_answer("a.example.com. 60 IN A 192.0.2.1", NULL, &n);
        assert_int_equal(update_wire_soa(none, n, zone, mname), -ENOENT);
        assert_int_equal(update_wire_soa((const uint8_t *) "xx", 2, zone, mname), -EBADMSG);
}

static void test_rcode_names(void **state) {
        char buf[16];
        assert_string_equal(update_rcode_name(UPDATE_RCODE_REFUSED, buf), "REFUSED");
        assert_string_equal(update_rcode_name(UPDATE_RCODE_NOTAUTH, buf), "NOTAUTH");
        assert_string_equal(update_rcode_name(UPDATE_RCODE_BADTIME, buf), "BADTIME");
        assert_string_equal(update_rcode_name(12, buf), "RCODE12");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_add_has_zone_prereq_absent_and_records),
                cmocka_unit_test(test_aaaa_records_and_their_prereq),
                cmocka_unit_test(test_two_addresses_give_one_absent_prereq_exact_gives_each),
                cmocka_unit_test(test_delete_removes_exactly_one_rr),
                cmocka_unit_test(test_signed_update_carries_tsig_that_verifies),
                cmocka_unit_test(test_invalid_names_are_einval),
                cmocka_unit_test(test_signed_noerror_answer_is_noerror),
                cmocka_unit_test(test_answer_signed_with_another_secret_is_rejected),
                cmocka_unit_test(test_unsigned_noerror_to_signed_update_is_rejected),
                cmocka_unit_test(test_unsigned_refused_is_trusted_as_refused),
                cmocka_unit_test(test_tsig_errors_become_badsig_badkey_badtime),
                cmocka_unit_test(test_answer_signed_with_another_algorithm_is_rejected),
                cmocka_unit_test(test_answer_for_another_zone_is_rejected),
                cmocka_unit_test(test_truncated_query_or_non_answer_is_rejected),
                cmocka_unit_test(test_every_prefix_of_an_answer_fails_cleanly),
                cmocka_unit_test(test_soa_in_authority_or_answer_names_zone_and_primary),
                cmocka_unit_test(test_rcode_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
