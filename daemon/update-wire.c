/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* update-wire.c: DNS UPDATE (RFC 2136) messages signed with TSIG (RFC 8945): build, verify the answer (ldns; no ldns type leaks out). */
#include <ldns/ldns.h>

#include "records-ldns.h"
#include "tsig.h"
#include "update-wire.h"
#include "util.h"

#define TSIG_FUDGE 300

DEFINE_TRIVIAL_CLEANUP_FUNC(ldns_pkt *, ldns_pkt_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(ldns_rr *, ldns_rr_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(ldns_rdf *, ldns_rdf_deep_free);

/* What this file converts comes from the messages it builds: a name ldns cannot
 * take is bad input (the configuration's), not a bad message. */
static int errno_from_ldns(ldns_status s) {
        switch (s) {
        case LDNS_STATUS_DOMAINNAME_OVERFLOW:
        case LDNS_STATUS_LABEL_OVERFLOW:
        case LDNS_STATUS_EMPTY_LABEL:
        case LDNS_STATUS_DDD_OVERFLOW:
        case LDNS_STATUS_INVALID_STR:
                return -EINVAL;
        default:
                return records_errno_from_ldns(s);
        }
}

const char *update_rcode_name(int rcode, char buf[static 16]) {
        static const char *const names[] = {
                [UPDATE_RCODE_NOERROR] = "NOERROR",   [UPDATE_RCODE_FORMERR] = "FORMERR",
                [UPDATE_RCODE_SERVFAIL] = "SERVFAIL", [UPDATE_RCODE_NXDOMAIN] = "NXDOMAIN",
                [UPDATE_RCODE_NOTIMP] = "NOTIMP",     [UPDATE_RCODE_REFUSED] = "REFUSED",
                [UPDATE_RCODE_YXDOMAIN] = "YXDOMAIN", [UPDATE_RCODE_YXRRSET] = "YXRRSET",
                [UPDATE_RCODE_NXRRSET] = "NXRRSET",   [UPDATE_RCODE_NOTAUTH] = "NOTAUTH",
                [UPDATE_RCODE_NOTZONE] = "NOTZONE",   [UPDATE_RCODE_BADSIG] = "BADSIG",
                [UPDATE_RCODE_BADKEY] = "BADKEY",     [UPDATE_RCODE_BADTIME] = "BADTIME",
        };
        if (rcode >= 0 && (size_t) rcode < ELEMENTSOF(names) && names[rcode])
                return names[rcode];
        snprintf(buf, 16, "RCODE%d", rcode);
        return buf;
}

/* "name" as an absolute ldns name; "" is the root. */
static int dname(const char *name, ldns_rdf **ret) {
        char buf[RECORDS_NAME_MAX + 1];
        if (snprintf(buf, sizeof buf, "%s.", name[0] ? name : "") >= (int) sizeof buf)
                return -EINVAL;
        ldns_rdf *d = NULL;
        ldns_status st = ldns_str2rdf_dname(&d, name[0] ? buf : ".");
        if (st != LDNS_STATUS_OK)
                return errno_from_ldns(st);
        *ret = d;
        return 0;
}

static int rr_push_rdf(ldns_rr *rr, ldns_rdf *d) {
        if (!d)
                return -ENOMEM;
        if (!ldns_rr_push_rdf(rr, d)) {
                ldns_rdf_deep_free(d);
                return -ENOMEM;
        }
        return 0;
}

/* An RR with owner, type, class and TTL, and rdata when with_data. */
static int rr_new(const char *owner, uint16_t type, ldns_rr_class class, uint32_t ttl, const UpdateRecord *data,
                  ldns_rr **ret) {
        _cleanup_(ldns_rr_freep) ldns_rr *rr = ldns_rr_new();
        ldns_rdf *o = NULL;
        int r;

        if (!rr)
                return -ENOMEM;
        r = dname(owner, &o);
        if (r < 0)
                return r;
        ldns_rr_set_owner(rr, o);
        ldns_rr_set_type(rr, (ldns_rr_type) type);
        ldns_rr_set_class(rr, class);
        ldns_rr_set_ttl(rr, ttl);
        if (data) {
                switch (type) {
                case RECORDS_TYPE_SRV: {
                        ldns_rdf *t = NULL;
                        if ((r = rr_push_rdf(rr, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, data->priority))) < 0 ||
                            (r = rr_push_rdf(rr, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, data->weight))) < 0 ||
                            (r = rr_push_rdf(rr, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, data->port))) < 0)
                                return r;
                        if (!data->target || (r = dname(data->target, &t)) < 0)
                                return r < 0 ? r : -EINVAL;
                        if ((r = rr_push_rdf(rr, t)) < 0)
                                return r;
                        break;
                }
                case RECORDS_TYPE_A:
                        if ((r = rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, 4, data->addr))) < 0)
                                return r;
                        break;
                case RECORDS_TYPE_AAAA:
                        if ((r = rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_AAAA, 16, data->addr))) < 0)
                                return r;
                        break;
                default:
                        return -EINVAL;
                }
        }
        *ret = TAKE_PTR(rr);
        return 0;
}

static int push(ldns_pkt *p, ldns_pkt_section s, ldns_rr *rr) {
        if (!ldns_pkt_push_rr(p, s, rr)) {
                ldns_rr_free(rr);
                return -ENOMEM;
        }
        return 0;
}

/* One prerequisite per (owner, address type) among add. */
static int push_prereqs(ldns_pkt *p, UpdatePrereq prereq, const UpdateRecord *add, size_t n_add) {
        int r;

        for (size_t i = 0; i < n_add; i++) {
                const UpdateRecord *a = &add[i];
                ldns_rr *rr = NULL;
                bool seen = false;

                if (a->type != RECORDS_TYPE_A && a->type != RECORDS_TYPE_AAAA)
                        continue;
                if (prereq == UPDATE_PREREQ_ADDRS_EXACT) {
                        /* §2.4.2: every RR of the set, class IN, TTL 0. */
                        r = rr_new(a->name, a->type, LDNS_RR_CLASS_IN, 0, a, &rr);
                        if (r < 0 || (r = push(p, LDNS_SECTION_ANSWER, rr)) < 0)
                                return r;
                        continue;
                }
                for (size_t k = 0; k < i && !seen; k++)
                        seen = add[k].type == a->type && strcasecmp(add[k].name, a->name) == 0;
                if (seen)
                        continue;
                /* §2.4.3: class NONE, TTL 0, no rdata. */
                r = rr_new(a->name, a->type, LDNS_RR_CLASS_NONE, 0, NULL, &rr);
                if (r < 0 || (r = push(p, LDNS_SECTION_ANSWER, rr)) < 0)
                        return r;
        }
        return 0;
}

int update_wire_build(uint16_t id, const char *zone, UpdatePrereq prereq, const UpdateRecord *del, size_t n_del,
                      const UpdateRecord *add, size_t n_add, const UpdateKey *key, uint8_t **ret, size_t *ret_len,
                      UpdateMac *ret_mac) {
        _cleanup_(ldns_pkt_freep) ldns_pkt *p = ldns_pkt_new();
        ldns_rr *rr = NULL;
        ldns_status st;
        int r;

        if (!p)
                return -ENOMEM;
        ldns_pkt_set_id(p, id);
        ldns_pkt_set_opcode(p, LDNS_PACKET_UPDATE);

        /* The zone section: one "question", the zone's SOA (§2.3). */
        r = rr_new(zone, LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN, 0, NULL, &rr);
        if (r < 0)
                return r;
        ldns_rr_set_question(rr, true);
        if ((r = push(p, LDNS_SECTION_QUESTION, rr)) < 0)
                return r;

        if ((r = push_prereqs(p, prereq, add, n_add)) < 0)
                return r;
        for (size_t i = 0; i < n_del; i++) {
                /* §2.5.4: class NONE, TTL 0, the RR's data: that RR only, never its set. */
                r = rr_new(del[i].name, del[i].type, LDNS_RR_CLASS_NONE, 0, &del[i], &rr);
                if (r < 0 || (r = push(p, LDNS_SECTION_AUTHORITY, rr)) < 0)
                        return r;
        }
        for (size_t i = 0; i < n_add; i++) {
                r = rr_new(add[i].name, add[i].type, LDNS_RR_CLASS_IN, add[i].ttl, &add[i], &rr);
                if (r < 0 || (r = push(p, LDNS_SECTION_AUTHORITY, rr)) < 0)
                        return r;
        }

        UpdateMac mac = {};
        if (key) {
                st = tsig_sign(p, key->name, key->algorithm, key->secret, TSIG_FUDGE, NULL);
                if (st != LDNS_STATUS_OK)
                        return errno_from_ldns(st);
                const ldns_rdf *m = ldns_pkt_tsig(p) ? ldns_rr_rdf(ldns_pkt_tsig(p), 3) : NULL;
                if (!m || ldns_rdf_size(m) > sizeof mac.data)
                        return -EBADMSG;
                memcpy(mac.data, ldns_rdf_data(m), ldns_rdf_size(m));
                mac.len = ldns_rdf_size(m);
        }
        uint8_t *wire = NULL;
        size_t len = 0;
        st = ldns_pkt2wire(&wire, p, &len);
        if (st != LDNS_STATUS_OK)
                return errno_from_ldns(st);
        *ret = wire;
        *ret_len = len;
        if (ret_mac)
                *ret_mac = mac;
        return 0;
}

static bool rcode_may_come_unsigned(int rcode) {
        /* A server that could not parse or does not do UPDATE, or that refuses before looking at
         * the key, may answer unsigned (RFC 8945 §5.2): such an answer only makes us retry later,
         * so trusting it gives an off-path forger nothing. Answers that change what we believe
         * (NOERROR, the prerequisite codes) must be signed. */
        return rcode == UPDATE_RCODE_FORMERR || rcode == UPDATE_RCODE_SERVFAIL || rcode == UPDATE_RCODE_NOTIMP ||
               rcode == UPDATE_RCODE_REFUSED || rcode == UPDATE_RCODE_NOTAUTH || rcode == UPDATE_RCODE_NOTZONE;
}

int update_wire_check(const uint8_t *pkt, size_t len, const char *zone, const UpdateKey *key, const UpdateMac *mac,
                      const char **ret_why) {
        _cleanup_(ldns_pkt_freep) ldns_pkt *p = NULL;
        _cleanup_(ldns_rdf_deep_freep) ldns_rdf *m = NULL;
        const char *why = NULL;
        int rcode;

        if (!pkt || ldns_wire2pkt(&p, pkt, len) != LDNS_STATUS_OK) {
                why = "malformed answer";
                goto reject;
        }
        if (!ldns_pkt_qr(p) || ldns_pkt_get_opcode(p) != LDNS_PACKET_UPDATE) {
                why = "not an answer to an UPDATE";
                goto reject;
        }
        if (ldns_pkt_tc(p)) {
                why = "truncated answer";
                goto reject;
        }
        rcode = ldns_pkt_get_rcode(p);

        ldns_rr_list *q = ldns_pkt_question(p);
        size_t nq = q ? ldns_rr_list_rr_count(q) : 0;
        if (nq > 1) {
                why = "more than one zone in the answer";
                goto reject;
        }
        if (nq == 1) {
                char z[RECORDS_NAME_MAX];
                ldns_rr *zr = ldns_rr_list_rr(q, 0);
                if (records_name_of_rdf(ldns_rr_owner(zr), z) < 0 || strcasecmp(z, zone) != 0 ||
                    ldns_rr_get_type(zr) != LDNS_RR_TYPE_SOA) {
                        why = "answer for another zone";
                        goto reject;
                }
        } else if (rcode == UPDATE_RCODE_NOERROR) {
                why = "NOERROR answer without the zone";
                goto reject;
        }

        if (!key)
                return rcode;

        ldns_rr *tsig = ldns_pkt_tsig(p);
        if (!tsig) {
                if (rcode_may_come_unsigned(rcode))
                        return rcode;
                why = "unsigned answer to a signed UPDATE";
                goto reject;
        }
        char owner[RECORDS_NAME_MAX];
        if (ldns_rr_rd_count(tsig) < 7 || records_name_of_rdf(ldns_rr_owner(tsig), owner) < 0 ||
            strcasecmp(owner, key->name) != 0) {
                why = "answer signed with another key";
                goto reject;
        }
        /* A TSIG error (RFC 8945 §5.3.2): the server could not verify us, so it could not sign. */
        uint16_t error = ldns_rdf2native_int16(ldns_rr_rdf(tsig, 5));
        if (error == UPDATE_RCODE_BADSIG || error == UPDATE_RCODE_BADKEY || error == UPDATE_RCODE_BADTIME)
                return error;
        if (error != 0) {
                why = "unknown TSIG error in the answer";
                goto reject;
        }

        /* ldns detaches the TSIG from the packet while it verifies and, for an algorithm it cannot
         * compute, returns without putting it back: it would leak. Only our key's algorithm goes in. */
        char alg[RECORDS_NAME_MAX];
        if (records_name_of_rdf(ldns_rr_rdf(tsig, 0), alg) < 0 || strcasecmp(alg, key->algorithm) != 0) {
                why = "answer signed with another algorithm";
                goto reject;
        }
        m = mac ? ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, mac->len, mac->data) : NULL;
        if (mac && !m)
                return -ENOMEM;
        bool verified = tsig_verify(p, pkt, len, key->name, key->secret, m);
        if (ldns_pkt_tsig(p) != tsig)
                ldns_pkt_set_tsig(p, tsig);
        if (!verified) {
                why = "answer's TSIG does not verify";
                goto reject;
        }
        return rcode;

reject:
        if (ret_why)
                *ret_why = why;
        return -EBADMSG;
}

static const ldns_rr *find_soa(const ldns_rr_list *l) {
        for (size_t i = 0; l && i < ldns_rr_list_rr_count(l); i++)
                if (ldns_rr_get_type(ldns_rr_list_rr(l, i)) == LDNS_RR_TYPE_SOA)
                        return ldns_rr_list_rr(l, i);
        return NULL;
}

int update_wire_soa(const uint8_t *pkt, size_t len, char ret_zone[static RECORDS_NAME_MAX],
                    char ret_mname[static RECORDS_NAME_MAX]) {
        _cleanup_(ldns_pkt_freep) ldns_pkt *p = NULL;
        char zone[RECORDS_NAME_MAX], mname[RECORDS_NAME_MAX];

        if (!pkt || ldns_wire2pkt(&p, pkt, len) != LDNS_STATUS_OK)
                return -EBADMSG;
        const ldns_rr *soa = find_soa(ldns_pkt_answer(p));
        if (!soa)
                soa = find_soa(ldns_pkt_authority(p));
        if (!soa)
                return -ENOENT;
        if (ldns_rr_rd_count(soa) < 1 || records_name_of_rdf(ldns_rr_owner(soa), zone) < 0 ||
            records_name_of_rdf(ldns_rr_rdf(soa, 0), mname) < 0)
                return -EBADMSG;
        memcpy(ret_zone, zone, RECORDS_NAME_MAX);
        memcpy(ret_mname, mname, RECORDS_NAME_MAX);
        return 0;
}
