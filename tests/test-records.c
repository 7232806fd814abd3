/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-records.c: unit tests of the DNS answer parser (packets built with ldns). */

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

#include "records.h"
#include "util.h"

#define SECTION_MAX 16

/* A test packet in presentation form; zero fields mean the usual answer. */
typedef struct PktSpec {
        const char *qname;      /* NULL: no question at all */
        uint16_t qtype;
        uint16_t qclass;        /* 0: IN */
        uint8_t rcode;
        bool no_qr;
        bool tc;
        const char *an[SECTION_MAX];
        const char *ns[SECTION_MAX];
        const char *ar[SECTION_MAX];
} PktSpec;

static void push_rrs(ldns_pkt *p, ldns_pkt_section section, const char *const *rrs) {
        for (size_t i = 0; i < SECTION_MAX && rrs[i]; i++) {
                ldns_rr *rr = NULL;

                assert_int_equal(ldns_rr_new_frm_str(&rr, rrs[i], 3600, NULL, NULL), LDNS_STATUS_OK);
                assert_true(ldns_pkt_push_rr(p, section, rr));
        }
}

/* Wire form of an ldns packet, in a buffer of exactly its size (so ASan sees over-reads). */
static uint8_t *wire_of(const ldns_pkt *p, size_t *ret_len) {
        uint8_t *w = NULL, *exact;
        size_t len = 0;

        assert_int_equal(ldns_pkt2wire(&w, p, &len), LDNS_STATUS_OK);
        exact = malloc(len);
        assert_non_null(exact);
        memcpy(exact, w, len);
        free(w);
        *ret_len = len;
        return exact;
}

static uint8_t *build(const PktSpec *s, size_t *ret_len) {
        ldns_pkt *p;
        uint8_t *w;

        if (s->qname) {
                ldns_rdf *qn = ldns_dname_new_frm_str(s->qname);

                assert_non_null(qn);
                p = ldns_pkt_query_new(qn, s->qtype, s->qclass ? s->qclass : LDNS_RR_CLASS_IN, LDNS_RD);
        } else
                p = ldns_pkt_new();
        assert_non_null(p);
        ldns_pkt_set_id(p, 4242);
        ldns_pkt_set_qr(p, !s->no_qr);
        ldns_pkt_set_aa(p, true);
        ldns_pkt_set_tc(p, s->tc);
        ldns_pkt_set_rcode(p, s->rcode);
        push_rrs(p, LDNS_SECTION_ANSWER, s->an);
        push_rrs(p, LDNS_SECTION_AUTHORITY, s->ns);
        push_rrs(p, LDNS_SECTION_ADDITIONAL, s->ar);
        w = wire_of(p, ret_len);
        ldns_pkt_free(p);
        return w;
}

static int parse_spec(const PktSpec *s, const char *qname, uint16_t qtype, RecAnswer **ret) {
        size_t len;
        uint8_t *w = build(s, &len);
        int r = records_parse(w, len, qname, qtype, ret);

        free(w);
        return r;
}

static RecAnswer *parse_ok(const PktSpec *s, const char *qname, uint16_t qtype) {
        RecAnswer *a = NULL;

        assert_int_equal(parse_spec(s, qname, qtype, &a), 0);
        assert_non_null(a);
        return a;
}

static const RecSrv *find_srv(const RecAnswer *a, const char *target) {
        for (size_t i = 0; i < a->n_srv; i++)
                if (streq(a->srv[i].target, target))
                        return &a->srv[i];
        return NULL;
}

static const RecGlue *find_glue(const RecAnswer *a, const char *name, const char *addr) {
        uint8_t bin[16];
        int family = strchr(addr, ':') ? AF_INET6 : AF_INET;

        assert_int_equal(inet_pton(family, addr, bin), 1);
        for (size_t i = 0; i < a->n_glue; i++)
                if (streq(a->glue[i].name, name) && a->glue[i].addr.family == (family == AF_INET ? 4 : 6) &&
                    memcmp(a->glue[i].addr.addr, bin, family == AF_INET ? 4 : 16) == 0)
                        return &a->glue[i];
        return NULL;
}

#define SRV_NAME "_http._tcp.svc.example"

static void test_srv_with_glue_returns_targets_and_glue(void **state) {
        PktSpec s = {
                .qname = SRV_NAME ".", .qtype = LDNS_RR_TYPE_SRV,
                .an = { SRV_NAME ". 30 IN SRV 10 60 8080 a.svc.example.",
                        SRV_NAME ". 40 IN SRV 20 0 8081 b.svc.example." },
                .ar = { "a.svc.example. 50 IN A 192.0.2.1",
                        "a.svc.example. 55 IN AAAA 2001:db8::1",
                        "b.svc.example. 60 IN A 192.0.2.2" },
        };
        RecAnswer *a = parse_ok(&s, SRV_NAME, RECORDS_TYPE_SRV);
        const RecSrv *sa, *sb;
        const RecGlue *g;

        assert_int_equal(a->kind, RECORDS_ANSWER);
        assert_int_equal(a->n_srv, 2);
        sa = find_srv(a, "a.svc.example");
        sb = find_srv(a, "b.svc.example");
        assert_non_null(sa);
        assert_non_null(sb);
        assert_int_equal(sa->priority, 10);
        assert_int_equal(sa->weight, 60);
        assert_int_equal(sa->port, 8080);
        assert_int_equal(sa->ttl, 30);
        assert_int_equal(sb->priority, 20);
        assert_int_equal(sb->weight, 0);
        assert_int_equal(sb->port, 8081);
        assert_int_equal(sb->ttl, 40);
        assert_int_equal(a->n_glue, 3);
        g = find_glue(a, "a.svc.example", "192.0.2.1");
        assert_non_null(g);
        assert_int_equal(g->addr.ttl, 50);
        g = find_glue(a, "a.svc.example", "2001:db8::1");
        assert_non_null(g);
        assert_int_equal(g->addr.ttl, 55);
        assert_non_null(find_glue(a, "b.svc.example", "192.0.2.2"));
        assert_int_equal(a->chain_ttl, UINT32_MAX);
        assert_int_equal(a->cname_depth, 0);
        assert_false(a->srv_unavailable);
        assert_false(a->truncated);
        rec_answer_free(a);
}

static void test_srv_without_glue_has_no_glue(void **state) {
        PktSpec s = {
                .qname = SRV_NAME ".", .qtype = LDNS_RR_TYPE_SRV,
                .an = { SRV_NAME ". 30 IN SRV 1 1 80 a.svc.example." },
        };
        RecAnswer *a = parse_ok(&s, SRV_NAME, RECORDS_TYPE_SRV);

        assert_int_equal(a->kind, RECORDS_ANSWER);
        assert_int_equal(a->n_srv, 1);
        assert_string_equal(a->srv[0].target, "a.svc.example");
        assert_int_equal(a->n_glue, 0);
        assert_null(a->glue);
        rec_answer_free(a);
}

static void test_srv_dot_target_is_unavailable(void **state) {
        PktSpec s = {
                .qname = SRV_NAME ".", .qtype = LDNS_RR_TYPE_SRV,
                .an = { SRV_NAME ". 30 IN SRV 0 0 0 ." },
        };
        RecAnswer *a = parse_ok(&s, SRV_NAME, RECORDS_TYPE_SRV);

        assert_int_equal(a->kind, RECORDS_ANSWER);
        assert_true(a->srv_unavailable);
        assert_int_equal(a->n_srv, 0);
        rec_answer_free(a);
}

static void test_srv_dot_target_among_others_is_dropped(void **state) {
        PktSpec s = {
                .qname = SRV_NAME ".", .qtype = LDNS_RR_TYPE_SRV,
                .an = { SRV_NAME ". 30 IN SRV 0 0 0 .",
                        SRV_NAME ". 30 IN SRV 1 1 80 a.svc.example." },
        };
        RecAnswer *a = parse_ok(&s, SRV_NAME, RECORDS_TYPE_SRV);

        assert_false(a->srv_unavailable);
        assert_int_equal(a->n_srv, 1);
        assert_string_equal(a->srv[0].target, "a.svc.example");
        rec_answer_free(a);
}

static void test_srv_dot_answer_carries_its_ttl(void **state) {
        PktSpec s = {
                .qname = SRV_NAME ".", .qtype = LDNS_RR_TYPE_SRV,
                .an = { SRV_NAME ". 120 IN SRV 0 0 0 .", SRV_NAME ". 90 IN SRV 0 0 0 ." },
        };
        RecAnswer *a = parse_ok(&s, SRV_NAME, RECORDS_TYPE_SRV);

        assert_true(a->srv_unavailable);
        assert_int_equal(a->negative_ttl, 90);
        rec_answer_free(a);
}

static void test_srv_port_0_is_left_out_and_counted(void **state) {
        PktSpec s = {
                .qname = SRV_NAME ".", .qtype = LDNS_RR_TYPE_SRV,
                .an = { SRV_NAME ". 30 IN SRV 0 0 0 a.svc.example.", SRV_NAME ". 30 IN SRV 1 1 81 b.svc.example." },
        };
        RecAnswer *a = parse_ok(&s, SRV_NAME, RECORDS_TYPE_SRV);

        assert_int_equal(a->n_srv, 1);
        assert_int_equal(a->srv[0].port, 81);
        assert_int_equal(a->n_port0, 1);
        assert_false(a->srv_unavailable);
        rec_answer_free(a);
}

static void test_glue_outside_the_services_domain_is_dropped(void **state) {
        PktSpec s = {
                .qname = SRV_NAME ".", .qtype = LDNS_RR_TYPE_SRV,
                .an = { SRV_NAME ". 30 IN SRV 1 1 80 www.victim.example.", SRV_NAME ". 30 IN SRV 1 1 80 a.svc.example.",
                        SRV_NAME ". 30 IN SRV 1 1 80 svc.example." },
                .ar = { "www.victim.example. 30 IN A 192.0.2.66", "a.svc.example. 30 IN A 192.0.2.1",
                        "svc.example. 30 IN A 192.0.2.2" },
        };
        RecAnswer *a = parse_ok(&s, SRV_NAME, RECORDS_TYPE_SRV);

        assert_int_equal(a->n_srv, 3);
        assert_int_equal(a->n_glue, 2);
        assert_non_null(find_glue(a, "a.svc.example", "192.0.2.1"));
        assert_non_null(find_glue(a, "svc.example", "192.0.2.2"));
        assert_null(find_glue(a, "www.victim.example", "192.0.2.66"));
        rec_answer_free(a);
}

static void test_build_query_sends_escaped_octets_as_they_are(void **state) {
        static const uint8_t qname[] = { 7, 'a', 0, 'b', '.', 'e', 's', 'c', 0 }; /* one label: the dot is escaped */
        uint8_t *w = NULL;
        size_t len = 0;

        assert_int_equal(records_build_query("A\\000b\\.\\101sc.", RECORDS_TYPE_A, 1232, &w, &len), 0);
        /* header, the name's octets, type A, class IN, then an 11-octet OPT of size 1232 */
        assert_int_equal(len, 12 + sizeof qname + 4 + 11);
        assert_int_equal(w[2] & 0x01, 0x01);                /* RD */
        assert_int_equal(w[11], 1);                         /* ARCOUNT: the OPT */
        assert_memory_equal(w + 12, qname, sizeof qname);
        assert_int_equal(w[12 + sizeof qname + 1], 1);      /* type A */
        assert_int_equal(w[len - 11 + 2], 41);              /* OPT, last */
        assert_int_equal(w[len - 11 + 3] << 8 | w[len - 11 + 4], 1232);
        free(w);
        assert_int_equal(records_build_query("a..b", RECORDS_TYPE_A, 1232, &w, &len), -EINVAL);
}

static void test_cname_then_srv_in_one_answer_gives_min_chain_ttl(void **state) {
        PktSpec s = {
                .qname = "alias.example.", .qtype = LDNS_RR_TYPE_SRV,
                .an = { "alias.example. 300 IN CNAME mid.example.",
                        "mid.example. 45 IN CNAME " SRV_NAME ".",
                        SRV_NAME ". 30 IN SRV 1 1 80 a.svc.example." },
                .ar = { "a.svc.example. 50 IN A 192.0.2.1" },
        };
        RecAnswer *a = parse_ok(&s, "alias.example", RECORDS_TYPE_SRV);

        assert_int_equal(a->kind, RECORDS_ANSWER);
        assert_int_equal(a->cname_depth, 2);
        assert_int_equal(a->chain_ttl, 45);
        assert_int_equal(a->n_srv, 1);
        assert_int_equal(a->srv[0].ttl, 30);
        assert_int_equal(a->n_glue, 1);
        rec_answer_free(a);
}

static void test_cname_chain_names_are_listed_in_order(void **state) {
        PktSpec s = {
                .qname = "alias.example.", .qtype = LDNS_RR_TYPE_SRV,
                .an = { "alias.example. 300 IN CNAME Mid.Example.",
                        "mid.example. 120 IN CNAME end.other.example." },
        };
        RecAnswer *a = parse_ok(&s, "alias.example", RECORDS_TYPE_SRV);

        assert_int_equal(a->n_chain_names, 2);
        assert_string_equal(a->chain_names, "mid.example");
        assert_string_equal(a->chain_names + strlen("mid.example") + 1, "end.other.example");
        rec_answer_free(a);

        PktSpec plain = {
                .qname = SRV_NAME ".", .qtype = LDNS_RR_TYPE_SRV,
                .an = { SRV_NAME ". 30 IN SRV 1 1 80 a.svc.example." },
        };
        a = parse_ok(&plain, SRV_NAME, RECORDS_TYPE_SRV);
        assert_int_equal(a->n_chain_names, 0);
        assert_null(a->chain_names);
        rec_answer_free(a);
}

static void test_cname_chain_stopping_short_is_cname_only(void **state) {
        PktSpec s = {
                .qname = "alias.example.", .qtype = LDNS_RR_TYPE_SRV,
                .an = { "alias.example. 300 IN CNAME mid.example.",
                        "mid.example. 120 IN CNAME End.Other.example." },
        };
        RecAnswer *a = parse_ok(&s, "alias.example", RECORDS_TYPE_SRV);

        assert_int_equal(a->kind, RECORDS_CNAME_ONLY);
        assert_string_equal(a->cname_target, "end.other.example");
        assert_int_equal(a->cname_depth, 2);
        assert_int_equal(a->chain_ttl, 120);
        assert_int_equal(a->n_srv, 0);
        rec_answer_free(a);
}

static void test_cname_loop_is_eloop(void **state) {
        PktSpec s = {
                .qname = "a.example.", .qtype = LDNS_RR_TYPE_A,
                .an = { "a.example. 60 IN CNAME b.example.",
                        "b.example. 60 IN CNAME c.example.",
                        "c.example. 60 IN CNAME A.example." },
        };
        RecAnswer *a = NULL;

        assert_int_equal(parse_spec(&s, "a.example", RECORDS_TYPE_A, &a), -ELOOP);
        assert_null(a);
}

/* A straight chain c0 -> c1 -> ... -> c<n> with an A record at the end. */
static int parse_chain(unsigned n, RecAnswer **ret) {
        char rrs[RECORDS_CNAME_DEPTH_MAX + 2][64];
        PktSpec s = { .qname = "c0.example.", .qtype = LDNS_RR_TYPE_A };

        assert_true(n + 1 <= SECTION_MAX);
        for (unsigned i = 0; i < n; i++) {
                snprintf(rrs[i], sizeof rrs[i], "c%u.example. %u IN CNAME c%u.example.", i, 100 + i, i + 1);
                s.an[i] = rrs[i];
        }
        snprintf(rrs[n], sizeof rrs[n], "c%u.example. 60 IN A 192.0.2.9", n);
        s.an[n] = rrs[n];
        return parse_spec(&s, "c0.example", RECORDS_TYPE_A, ret);
}

static void test_cname_chain_at_max_depth_is_followed(void **state) {
        RecAnswer *a = NULL;

        assert_int_equal(parse_chain(RECORDS_CNAME_DEPTH_MAX, &a), 0);
        assert_int_equal(a->kind, RECORDS_ANSWER);
        assert_int_equal(a->cname_depth, RECORDS_CNAME_DEPTH_MAX);
        assert_int_equal(a->chain_ttl, 100);
        assert_int_equal(a->n_addrs, 1);
        rec_answer_free(a);
}

static void test_cname_chain_over_max_depth_is_eloop(void **state) {
        RecAnswer *a = NULL;

        assert_int_equal(parse_chain(RECORDS_CNAME_DEPTH_MAX + 1, &a), -ELOOP);
        assert_null(a);
}

static void test_nxdomain_with_soa_uses_min_of_ttl_and_minimum(void **state) {
        PktSpec low_ttl = {
                .qname = SRV_NAME ".", .qtype = LDNS_RR_TYPE_SRV, .rcode = LDNS_RCODE_NXDOMAIN,
                .ns = { "example. 20 IN SOA ns.example. host.example. 1 3600 600 86400 300" },
        };
        PktSpec low_min = {
                .qname = SRV_NAME ".", .qtype = LDNS_RR_TYPE_SRV, .rcode = LDNS_RCODE_NXDOMAIN,
                .ns = { "example. 900 IN SOA ns.example. host.example. 1 3600 600 86400 75" },
        };
        RecAnswer *a = parse_ok(&low_ttl, SRV_NAME, RECORDS_TYPE_SRV);

        assert_int_equal(a->kind, RECORDS_NXDOMAIN);
        assert_int_equal(a->negative_ttl, 20);
        rec_answer_free(a);

        a = parse_ok(&low_min, SRV_NAME, RECORDS_TYPE_SRV);
        assert_int_equal(a->kind, RECORDS_NXDOMAIN);
        assert_int_equal(a->negative_ttl, 75);
        rec_answer_free(a);
}

static void test_nodata_with_soa_gives_negative_ttl(void **state) {
        PktSpec s = {
                .qname = SRV_NAME ".", .qtype = LDNS_RR_TYPE_SRV,
                .an = { "other.example. 30 IN SRV 1 1 80 a.svc.example." },
                .ns = { "example. 120 IN SOA ns.example. host.example. 1 3600 600 86400 90" },
        };
        RecAnswer *a = parse_ok(&s, SRV_NAME, RECORDS_TYPE_SRV);

        assert_int_equal(a->kind, RECORDS_NODATA);
        assert_int_equal(a->negative_ttl, 90);
        assert_int_equal(a->n_srv, 0);
        rec_answer_free(a);
}

static void test_nxdomain_without_soa_has_zero_negative_ttl(void **state) {
        PktSpec s = { .qname = SRV_NAME ".", .qtype = LDNS_RR_TYPE_SRV, .rcode = LDNS_RCODE_NXDOMAIN };
        RecAnswer *a = parse_ok(&s, SRV_NAME, RECORDS_TYPE_SRV);

        assert_int_equal(a->kind, RECORDS_NXDOMAIN);
        assert_int_equal(a->negative_ttl, 0);
        rec_answer_free(a);
}

static void test_servfail_is_servfail(void **state) {
        PktSpec s = { .qname = SRV_NAME ".", .qtype = LDNS_RR_TYPE_SRV, .rcode = LDNS_RCODE_SERVFAIL };
        RecAnswer *a = parse_ok(&s, SRV_NAME, RECORDS_TYPE_SRV);

        assert_int_equal(a->kind, RECORDS_SERVFAIL);
        assert_int_equal(a->rcode_error, -EREMOTEIO);
        rec_answer_free(a);
}

static void test_refused_and_other_error_rcodes_are_refused(void **state) {
        static const uint8_t rcodes[] = { LDNS_RCODE_REFUSED, LDNS_RCODE_FORMERR, LDNS_RCODE_NOTIMPL, LDNS_RCODE_NOTAUTH };
        static const int errors[] = { -EACCES, -EPROTO, -EOPNOTSUPP, -EPROTO };

        for (size_t i = 0; i < ELEMENTSOF(rcodes); i++) {
                PktSpec s = { .qname = SRV_NAME ".", .qtype = LDNS_RR_TYPE_SRV, .rcode = rcodes[i] };
                RecAnswer *a = parse_ok(&s, SRV_NAME, RECORDS_TYPE_SRV);

                assert_int_equal(a->kind, RECORDS_REFUSED);
                assert_int_equal(a->rcode_error, errors[i]);
                rec_answer_free(a);
        }
}

static void test_question_mismatch_is_ebadmsg(void **state) {
        static const PktSpec bad[] = {
                { .qname = "_other._tcp.svc.example.", .qtype = LDNS_RR_TYPE_SRV },
                { .qname = SRV_NAME ".", .qtype = LDNS_RR_TYPE_A },
                { .qname = SRV_NAME ".", .qtype = LDNS_RR_TYPE_SRV, .qclass = LDNS_RR_CLASS_CH },
                { .qname = NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                RecAnswer *a = NULL;

                assert_int_equal(parse_spec(&bad[i], SRV_NAME, RECORDS_TYPE_SRV, &a), -EBADMSG);
                assert_null(a);
        }
}

static void test_qr_not_set_is_ebadmsg(void **state) {
        PktSpec s = {
                .qname = SRV_NAME ".", .qtype = LDNS_RR_TYPE_SRV, .no_qr = true,
                .an = { SRV_NAME ". 30 IN SRV 1 1 80 a.svc.example." },
        };
        RecAnswer *a = NULL;

        assert_int_equal(parse_spec(&s, SRV_NAME, RECORDS_TYPE_SRV, &a), -EBADMSG);
        assert_null(a);
}

static const PktSpec rich = {
        .qname = "alias.example.", .qtype = LDNS_RR_TYPE_SRV,
        .an = { "alias.example. 300 IN CNAME " SRV_NAME ".",
                SRV_NAME ". 30 IN SRV 10 60 8080 a.svc.example.",
                SRV_NAME ". 30 IN SRV 10 60 8080 b.svc.example." },
        .ns = { "example. 20 IN SOA ns.example. host.example. 1 3600 600 86400 300" },
        .ar = { "a.svc.example. 50 IN A 192.0.2.1",
                "b.svc.example. 50 IN AAAA 2001:db8::2" },
};

static void test_every_prefix_of_a_packet_parses_or_fails_cleanly(void **state) {
        size_t len;
        uint8_t *w = build(&rich, &len);
        unsigned n_ok = 0;

        for (size_t cut = 0; cut <= len; cut++) {
                uint8_t *prefix = malloc(cut ? cut : 1);
                RecAnswer *a = NULL;
                int r;

                assert_non_null(prefix);
                memcpy(prefix, w, cut);
                r = records_parse(cut ? prefix : NULL, cut, "alias.example", RECORDS_TYPE_SRV, &a);
                if (r == 0) {
                        assert_non_null(a);
                        n_ok++;
                } else {
                        assert_int_equal(r, -EBADMSG);
                        assert_null(a);
                }
                rec_answer_free(a);
                free(prefix);
        }
        /* The whole packet, at least, parses. */
        assert_true(n_ok >= 1);
        free(w);
}

static void test_corrupted_bytes_parse_or_fail_cleanly(void **state) {
        static const uint8_t values[] = { 0x00, 0x01, 0x3f, 0x40, 0xc0, 0xff };
        size_t len;
        uint8_t *w = build(&rich, &len);

        for (size_t pos = 0; pos < len; pos++)
                for (size_t v = 0; v < ELEMENTSOF(values); v++) {
                        uint8_t *m = malloc(len);
                        RecAnswer *a = NULL;
                        int r;

                        assert_non_null(m);
                        memcpy(m, w, len);
                        m[pos] = values[v];
                        r = records_parse(m, len, "alias.example", RECORDS_TYPE_SRV, &a);
                        assert_true(r == 0 || r == -EBADMSG || r == -ELOOP);
                        assert_true((r == 0) == (a != NULL));
                        if (a)
                                assert_true(a->n_srv <= 2 && a->n_glue <= 2);
                        rec_answer_free(a);
                        free(m);
                }
        free(w);
}

static void test_records_for_other_names_in_answer_are_ignored(void **state) {
        PktSpec s = {
                .qname = SRV_NAME ".", .qtype = LDNS_RR_TYPE_SRV,
                .an = { "_evil._tcp.svc.example. 30 IN SRV 1 1 80 evil.example.",
                        SRV_NAME ". 30 IN SRV 1 1 80 a.svc.example.",
                        "unrelated.example. 30 IN CNAME evil.example.",
                        "a.svc.example. 30 IN A 198.51.100.66" },
        };
        RecAnswer *a = parse_ok(&s, SRV_NAME, RECORDS_TYPE_SRV);

        assert_int_equal(a->kind, RECORDS_ANSWER);
        assert_int_equal(a->n_srv, 1);
        assert_string_equal(a->srv[0].target, "a.svc.example");
        assert_int_equal(a->n_glue, 0);
        assert_int_equal(a->cname_depth, 0);
        rec_answer_free(a);
}

static void test_glue_for_names_other_than_targets_is_ignored(void **state) {
        PktSpec s = {
                .qname = SRV_NAME ".", .qtype = LDNS_RR_TYPE_SRV,
                .an = { SRV_NAME ". 30 IN SRV 1 1 80 a.svc.example." },
                .ns = { "b.svc.example. 30 IN A 198.51.100.2" },
                .ar = { "www.bank.example. 30 IN A 198.51.100.66",
                        "svc.example. 30 IN A 198.51.100.67",
                        "a.svc.example. 30 IN TXT \"not an address\"",
                        "a.svc.example. 30 IN A 192.0.2.1" },
        };
        RecAnswer *a = parse_ok(&s, SRV_NAME, RECORDS_TYPE_SRV);

        assert_int_equal(a->n_glue, 1);
        assert_non_null(find_glue(a, "a.svc.example", "192.0.2.1"));
        rec_answer_free(a);
}

static void test_ttl_zero_stays_zero_and_top_bit_ttl_reads_zero(void **state) {
        PktSpec s = {
                .qname = "h.example.", .qtype = LDNS_RR_TYPE_A,
                .an = { "h.example. 0 IN A 192.0.2.1",
                        "h.example. 2147483648 IN A 192.0.2.2",
                        "h.example. 4294967295 IN A 192.0.2.3",
                        "h.example. 2147483647 IN A 192.0.2.4" },
        };
        RecAnswer *a = parse_ok(&s, "h.example", RECORDS_TYPE_A);
        uint32_t want[] = { 0, 0, 0, 2147483647 };

        assert_int_equal(a->n_addrs, 4);
        for (size_t i = 0; i < 4; i++) {
                assert_int_equal(a->addrs[i].addr[3], i + 1);
                assert_int_equal(a->addrs[i].ttl, want[i]);
        }
        rec_answer_free(a);
}

static void test_huge_ttls_on_cname_and_soa_read_zero(void **state) {
        PktSpec chain = {
                .qname = "alias.example.", .qtype = LDNS_RR_TYPE_A,
                .an = { "alias.example. 2147483653 IN CNAME h.example.",
                        "h.example. 60 IN A 192.0.2.1" },
        };
        PktSpec nx = {
                .qname = "h.example.", .qtype = LDNS_RR_TYPE_A, .rcode = LDNS_RCODE_NXDOMAIN,
                .ns = { "example. 2147483653 IN SOA ns.example. host.example. 1 3600 600 86400 2147483653" },
        };
        RecAnswer *a = parse_ok(&chain, "alias.example", RECORDS_TYPE_A);

        assert_int_equal(a->chain_ttl, 0);
        rec_answer_free(a);
        a = parse_ok(&nx, "h.example", RECORDS_TYPE_A);
        assert_int_equal(a->negative_ttl, 0);
        rec_answer_free(a);
}

static void test_names_compare_case_insensitively(void **state) {
        PktSpec s = {
                .qname = "_HTTP._Tcp.SVC.example.", .qtype = LDNS_RR_TYPE_SRV,
                .an = { "_http._tcp.svc.EXAMPLE. 30 IN CNAME Real.SVC.example.",
                        "REAL.svc.example. 30 IN SRV 1 1 80 A.Svc.Example." },
                .ar = { "a.SVC.example. 30 IN A 192.0.2.1" },
        };
        RecAnswer *a = parse_ok(&s, "_http._tcp.svc.Example.", RECORDS_TYPE_SRV);

        assert_int_equal(a->kind, RECORDS_ANSWER);
        assert_int_equal(a->cname_depth, 1);
        assert_int_equal(a->n_srv, 1);
        assert_string_equal(a->srv[0].target, "a.svc.example");
        assert_int_equal(a->n_glue, 1);
        assert_string_equal(a->glue[0].name, "a.svc.example");
        rec_answer_free(a);
}

static void test_a_answer_gives_ipv4_addresses(void **state) {
        PktSpec s = {
                .qname = "h.example.", .qtype = LDNS_RR_TYPE_A,
                .an = { "h.example. 60 IN A 192.0.2.1", "h.example. 70 IN A 192.0.2.200",
                        "h.example. 60 IN AAAA 2001:db8::1" },
        };
        RecAnswer *a = parse_ok(&s, "h.example", RECORDS_TYPE_A);
        uint8_t want[4];

        assert_int_equal(a->kind, RECORDS_ANSWER);
        assert_int_equal(a->n_addrs, 2);
        assert_int_equal(inet_pton(AF_INET, "192.0.2.200", want), 1);
        assert_int_equal(a->addrs[1].family, 4);
        assert_memory_equal(a->addrs[1].addr, want, 4);
        assert_int_equal(a->addrs[1].ttl, 70);
        rec_answer_free(a);
}

static void test_aaaa_answer_gives_ipv6_addresses(void **state) {
        PktSpec s = {
                .qname = "h.example.", .qtype = LDNS_RR_TYPE_AAAA,
                .an = { "h.example. 60 IN AAAA 2001:db8::1", "h.example. 60 IN A 192.0.2.1" },
        };
        RecAnswer *a = parse_ok(&s, "h.example", RECORDS_TYPE_AAAA);
        uint8_t want[16];

        assert_int_equal(a->n_addrs, 1);
        assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", want), 1);
        assert_int_equal(a->addrs[0].family, 6);
        assert_memory_equal(a->addrs[0].addr, want, 16);
        rec_answer_free(a);
}

static void test_tc_bit_is_reported(void **state) {
        PktSpec tc = {
                .qname = SRV_NAME ".", .qtype = LDNS_RR_TYPE_SRV, .tc = true,
                .an = { SRV_NAME ". 30 IN SRV 1 1 80 a.svc.example." },
        };
        PktSpec no_tc = tc;
        RecAnswer *a = parse_ok(&tc, SRV_NAME, RECORDS_TYPE_SRV);

        assert_true(a->truncated);
        assert_int_equal(a->n_srv, 1);
        rec_answer_free(a);
        no_tc.tc = false;
        a = parse_ok(&no_tc, SRV_NAME, RECORDS_TYPE_SRV);
        assert_false(a->truncated);
        rec_answer_free(a);
}

/* A 64 KiB message holds at most about 5900 records, and ldns refuses longer
 * ones: RECORDS_ENTRIES_MAX is a backstop that a real answer cannot reach.
 * What can be checked is that the largest answers come through whole. */
static void test_answer_filling_a_64k_message_is_kept_whole(void **state) {
        ldns_rdf *qn = ldns_dname_new_frm_str("m.");
        ldns_pkt *p = ldns_pkt_query_new(qn, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 0);
        size_t n = 4000, len;
        RecAnswer *a = NULL;
        uint8_t *w;

        assert_non_null(p);
        assert_true(n < RECORDS_ENTRIES_MAX);
        ldns_pkt_set_qr(p, true);
        for (size_t i = 0; i < n; i++) {
                char line[80];
                ldns_rr *rr = NULL;

                snprintf(line, sizeof line, "m. 60 IN A 10.0.%zu.%zu", i >> 8, i & 0xff);
                assert_int_equal(ldns_rr_new_frm_str(&rr, line, 0, NULL, NULL), LDNS_STATUS_OK);
                assert_true(ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr));
        }
        w = wire_of(p, &len);
        ldns_pkt_free(p);
        assert_true(len > 60000 && len <= 65535);

        assert_int_equal(records_parse(w, len, "m", RECORDS_TYPE_A, &a), 0);
        assert_int_equal(a->n_addrs, n);
        assert_int_equal(a->addrs[n - 1].addr[2], (n - 1) >> 8);
        assert_int_equal(a->addrs[n - 1].addr[3], (n - 1) & 0xff);
        rec_answer_free(a);
        free(w);
}

static void test_parse_rejects_bad_arguments(void **state) {
        PktSpec s = { .qname = "h.example.", .qtype = LDNS_RR_TYPE_TXT };
        RecAnswer *a = NULL;
        size_t len;
        uint8_t *w = build(&s, &len);

        assert_int_equal(records_parse(w, len, "h.example", LDNS_RR_TYPE_TXT, &a), -EINVAL);
        assert_int_equal(records_parse(w, len, "h..example", RECORDS_TYPE_A, &a), -EINVAL);
        assert_int_equal(records_parse(w, len, NULL, RECORDS_TYPE_A, &a), -EINVAL);
        assert_null(a);
        free(w);
}

static void test_rec_answer_free_accepts_null(void **state) {
        assert_null(rec_answer_free(NULL));
}

static void test_normalize_lowers_case_and_strips_trailing_dot(void **state) {
        char out[RECORDS_NAME_MAX];

        assert_int_equal(records_normalize_name("WWW.Example.COM.", out, sizeof out), 0);
        assert_string_equal(out, "www.example.com");
        assert_int_equal(records_normalize_name("a", out, sizeof out), 0);
        assert_string_equal(out, "a");
        /* In place works too. */
        strcpy(out, "Host.Example.");
        assert_int_equal(records_normalize_name(out, out, sizeof out), 0);
        assert_string_equal(out, "host.example");
}

static void test_normalize_rejects_empty_names_and_labels(void **state) {
        static const char *const bad[] = { "", ".", "..", "a..b", ".a", "a..", "a b", "a\\", "a\\25", "a\\256" };
        char out[RECORDS_NAME_MAX];

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                strcpy(out, "untouched");
                assert_int_equal(records_normalize_name(bad[i], out, sizeof out), -EINVAL);
                assert_string_equal(out, "untouched");
        }
}

static void test_normalize_label_of_63_octets_ok_64_rejected(void **state) {
        char name[80], out[RECORDS_NAME_MAX];

        memset(name, 'x', 63);
        strcpy(name + 63, ".example");
        assert_int_equal(records_normalize_name(name, out, sizeof out), 0);
        assert_string_equal(out, name);

        memset(name, 'x', 64);
        strcpy(name + 64, ".example");
        assert_int_equal(records_normalize_name(name, out, sizeof out), -EINVAL);

        /* An escape is one octet: 62 letters and "\." make 63. */
        memset(name, 'x', 62);
        strcpy(name + 62, "\\..example");
        assert_int_equal(records_normalize_name(name, out, sizeof out), 0);
        memset(name, 'x', 63);
        strcpy(name + 63, "\\046.example");
        assert_int_equal(records_normalize_name(name, out, sizeof out), -EINVAL);
}

/* A name of exactly len characters made of 50-octet labels. */
static void make_long_name(char *buf, size_t len) {
        for (size_t i = 0; i < len; i++)
                buf[i] = (i % 51 == 50) ? '.' : 'a' + i % 26;
        buf[len] = '\0';
        assert_true(buf[len - 1] != '.');
}

static void test_normalize_name_of_253_chars_ok_254_rejected(void **state) {
        char name[300], out[RECORDS_NAME_MAX];

        make_long_name(name, 253);
        assert_int_equal(records_normalize_name(name, out, sizeof out), 0);
        assert_int_equal(strlen(out), 253);

        strcat(name, ".");
        assert_int_equal(records_normalize_name(name, out, sizeof out), 0);
        assert_int_equal(strlen(out), 253);

        make_long_name(name, 254);
        assert_int_equal(records_normalize_name(name, out, sizeof out), -EINVAL);
        make_long_name(name, 299);
        assert_int_equal(records_normalize_name(name, out, sizeof out), -EINVAL);
}

static void test_normalize_small_buffer_is_enametoolong(void **state) {
        char out[8] = "keep";

        assert_int_equal(records_normalize_name("abcdefgh", out, sizeof out), -ENAMETOOLONG);
        assert_string_equal(out, "keep");
        assert_int_equal(records_normalize_name("abcdefg", out, sizeof out), 0);
        assert_string_equal(out, "abcdefg");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_srv_with_glue_returns_targets_and_glue),
                cmocka_unit_test(test_srv_without_glue_has_no_glue),
                cmocka_unit_test(test_srv_dot_target_is_unavailable),
                cmocka_unit_test(test_srv_dot_target_among_others_is_dropped),
                cmocka_unit_test(test_cname_then_srv_in_one_answer_gives_min_chain_ttl),
                cmocka_unit_test(test_cname_chain_names_are_listed_in_order),
                cmocka_unit_test(test_cname_chain_stopping_short_is_cname_only),
                cmocka_unit_test(test_cname_loop_is_eloop),
                cmocka_unit_test(test_cname_chain_at_max_depth_is_followed),
                cmocka_unit_test(test_cname_chain_over_max_depth_is_eloop),
                cmocka_unit_test(test_nxdomain_with_soa_uses_min_of_ttl_and_minimum),
                cmocka_unit_test(test_nodata_with_soa_gives_negative_ttl),
                cmocka_unit_test(test_nxdomain_without_soa_has_zero_negative_ttl),
                cmocka_unit_test(test_servfail_is_servfail),
                cmocka_unit_test(test_refused_and_other_error_rcodes_are_refused),
                cmocka_unit_test(test_question_mismatch_is_ebadmsg),
                cmocka_unit_test(test_qr_not_set_is_ebadmsg),
                cmocka_unit_test(test_every_prefix_of_a_packet_parses_or_fails_cleanly),
                cmocka_unit_test(test_corrupted_bytes_parse_or_fail_cleanly),
                cmocka_unit_test(test_records_for_other_names_in_answer_are_ignored),
                cmocka_unit_test(test_glue_for_names_other_than_targets_is_ignored),
                cmocka_unit_test(test_ttl_zero_stays_zero_and_top_bit_ttl_reads_zero),
                cmocka_unit_test(test_huge_ttls_on_cname_and_soa_read_zero),
                cmocka_unit_test(test_names_compare_case_insensitively),
                cmocka_unit_test(test_srv_dot_answer_carries_its_ttl),
                cmocka_unit_test(test_srv_port_0_is_left_out_and_counted),
                cmocka_unit_test(test_glue_outside_the_services_domain_is_dropped),
                cmocka_unit_test(test_build_query_sends_escaped_octets_as_they_are),
                cmocka_unit_test(test_a_answer_gives_ipv4_addresses),
                cmocka_unit_test(test_aaaa_answer_gives_ipv6_addresses),
                cmocka_unit_test(test_tc_bit_is_reported),
                cmocka_unit_test(test_answer_filling_a_64k_message_is_kept_whole),
                cmocka_unit_test(test_parse_rejects_bad_arguments),
                cmocka_unit_test(test_rec_answer_free_accepts_null),
                cmocka_unit_test(test_normalize_lowers_case_and_strips_trailing_dot),
                cmocka_unit_test(test_normalize_rejects_empty_names_and_labels),
                cmocka_unit_test(test_normalize_label_of_63_octets_ok_64_rejected),
                cmocka_unit_test(test_normalize_name_of_253_chars_ok_254_rejected),
                cmocka_unit_test(test_normalize_small_buffer_is_enametoolong),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
