/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* records.c: DNS answers parsed into records with TTLs (ldns, as are notify-wire, update-wire and tsig). */

#include <errno.h>
#include <ldns/ldns.h>
#include <stdlib.h>
#include <string.h>

#include "records-ldns.h"
#include "records.h"
#include "util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(ldns_pkt *, ldns_pkt_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(ldns_rdf *, ldns_rdf_deep_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(RecAnswer *, rec_answer_free);

/* Presentation names longer than this do not fit a 255-octet wire name
 * (RFC 1035 §2.3.4) without escapes, and never fit RECORDS_NAME_MAX with them. */
#define NAME_TEXT_MAX 253

int records_errno_from_ldns(ldns_status s) {
        switch (s) {
        case LDNS_STATUS_OK:
                return 0;
        case LDNS_STATUS_MEM_ERR:
                return -ENOMEM;
        default:
                return -EBADMSG;
        }
}

/* RFC 2181 §8: a TTL with the top bit set is to be read as zero. */
static uint32_t ttl_sane(uint32_t ttl) {
        return ttl >= UINT32_C(0x80000000) ? 0 : ttl;
}

static bool ascii_upper(int c) {
        return c >= 'A' && c <= 'Z';
}

static int ascii_tolower(int c) {
        return ascii_upper(c) ? c - 'A' + 'a' : c;
}

/* Printable, but with a meaning in presentation format: escaped with a backslash. */
static bool presentation_special(int c) {
        switch (c) {
        case '.': case '\\': case '"': case '(': case ')': case ';': case '$': case '@':
                return true;
        default:
                return false;
        }
}

static bool ascii_digit(int c) {
        return c >= '0' && c <= '9';
}

/* Host-name characters: taken as they are in both directions, no escape, no case fold. */
static bool plain_char(int c) {
        return (c >= 'a' && c <= 'z') || ascii_digit(c) || c == '-' || c == '_';
}

int records_normalize_name(const char *in, char *out, size_t size) {
        char buf[NAME_TEXT_MAX + 1];
        size_t n, o = 0, label = 0;

        if (!in || !out)
                return -EINVAL;

        /* Bounded read: 253 characters plus a trailing dot is the longest valid input. */
        n = strnlen(in, NAME_TEXT_MAX + 2);
        if (n > NAME_TEXT_MAX + 1)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = in[i];
                size_t width = 1;

                if (plain_char(c)) { /* the fast path: a third of the cost per name */
                        if (++label > 63 || o + 1 > NAME_TEXT_MAX)
                                return -EINVAL;
                        buf[o++] = (char) c;
                        continue;
                }
                if (c == '.') {
                        if (label == 0)
                                return -EINVAL; /* ".", "a..b", ".a" */
                        if (i == n - 1)
                                break;          /* one trailing dot: stripped */
                        label = 0;
                } else if (c == '\\') {
                        /* An escape is one octet of the label: \DDD or \X (RFC 1035 §5.1). */
                        if (i + 1 >= n)
                                return -EINVAL;
                        if (ascii_digit(in[i + 1])) {
                                if (i + 3 >= n || !ascii_digit(in[i + 2]) || !ascii_digit(in[i + 3]))
                                        return -EINVAL;
                                if ((in[i + 1] - '0') * 100 + (in[i + 2] - '0') * 10 + (in[i + 3] - '0') > 255)
                                        return -EINVAL;
                                width = 4;
                        } else if ((unsigned char) in[i + 1] <= ' ' || in[i + 1] == 0x7f)
                                return -EINVAL;
                        else
                                width = 2;
                        label++;
                } else if (c <= ' ' || c == 0x7f)
                        return -EINVAL; /* controls and blanks only appear escaped */
                else
                        label++;

                if (label > 63)
                        return -EINVAL;
                if (o + width > NAME_TEXT_MAX)
                        return -EINVAL;
                for (size_t k = 0; k < width; k++)
                        buf[o + k] = (char) ascii_tolower(in[i + k]);
                o += width;
                i += width - 1;
        }
        if (o == 0 || label == 0)
                return -EINVAL;

        /* Every label octet takes at least one character and every separator one, so
         * o <= 253 keeps the wire form within 255 octets: no separate check. */
        if (o + 1 > size)
                return -ENAMETOOLONG;
        memcpy(out, buf, o);
        out[o] = '\0';
        return 0;
}

/*
 * A wire name (as ldns holds it: uncompressed labels) in normalised
 * presentation form. "" for the root. -ENAMETOOLONG when the escaped form is
 * longer than records_normalize_name() accepts.
 */
static int name_from_dname(const ldns_rdf *d, char out[static RECORDS_NAME_MAX]) {
        const uint8_t *w;
        size_t size, pos = 0, o = 0;

        if (!d || ldns_rdf_get_type(d) != LDNS_RDF_TYPE_DNAME)
                return -EBADMSG;
        w = ldns_rdf_data(d);
        size = ldns_rdf_size(d);

        while (pos < size && w[pos] != 0) {
                size_t len = w[pos++];

                if (len > 63 || pos + len > size)
                        return -EBADMSG;
                if (o > 0) {
                        if (o + 1 > NAME_TEXT_MAX)
                                return -ENAMETOOLONG;
                        out[o++] = '.';
                }
                /* A label of host-name characters only (nearly all of them) is copied whole. */
                size_t plain = 0;
                while (plain < len && plain_char(w[pos + plain]))
                        plain++;
                if (plain == len) {
                        if (o + len > NAME_TEXT_MAX)
                                return -ENAMETOOLONG;
                        memcpy(out + o, w + pos, len);
                        o += len;
                        pos += len;
                        continue;
                }
                for (size_t k = 0; k < len; k++) {
                        uint8_t c = w[pos + k];
                        char esc[5];
                        size_t width;

                        if (plain_char(c)) {
                                if (o + 1 > NAME_TEXT_MAX)
                                        return -ENAMETOOLONG;
                                out[o++] = (char) c;
                                continue;
                        }
                        if (c <= ' ' || c >= 0x7f)
                                width = (size_t) snprintf(esc, sizeof esc, "\\%03u", (unsigned) c);
                        else if (presentation_special(c)) {
                                esc[0] = '\\';
                                esc[1] = (char) c;
                                width = 2;
                        } else {
                                esc[0] = (char) ascii_tolower(c);
                                width = 1;
                        }
                        if (o + width > NAME_TEXT_MAX)
                                return -ENAMETOOLONG;
                        memcpy(out + o, esc, width);
                        o += width;
                }
                pos += len;
        }
        out[o] = '\0';
        return 0;
}

/* For the wire files (records-ldns.h): ldns's own presentation form, normalised. */
int records_name_of_rdf(const ldns_rdf *d, char out[static RECORDS_NAME_MAX]) {
        if (!d || ldns_rdf_get_type(d) != LDNS_RDF_TYPE_DNAME)
                return -EBADMSG;
        if (ldns_rdf_size(d) == 1) {
                out[0] = 0;
                return 0;
        }
        _cleanup_free_ char *s = ldns_rdf2str(d);
        if (!s)
                return -ENOMEM;
        return records_normalize_name(s, out, RECORDS_NAME_MAX) < 0 ? -EBADMSG : 0;
}

/*
 * Names in wire format without compression (as ldns holds them) are equal
 * when their bytes are, ASCII case folded. Folding the length bytes too is
 * harmless: a label is at most 63 octets, below 'A'. ldns_dname_compare()
 * orders labels and costs ten times as much; this runs for every record of
 * every answer.
 */
static bool dname_equal(const ldns_rdf *a, const ldns_rdf *b) {
        size_t n = ldns_rdf_size(a);
        const uint8_t *x = ldns_rdf_data(a), *y = ldns_rdf_data(b);

        if (n != ldns_rdf_size(b))
                return false;
        if (memcmp(x, y, n) == 0) /* the common case: the server echoes our spelling */
                return true;
        for (size_t i = 0; i < n; i++)
                if (x[i] != y[i] && ascii_tolower(x[i]) != ascii_tolower(y[i]))
                        return false;
        return true;
}

static bool rr_is(const ldns_rr *rr, const ldns_rdf *owner, ldns_rr_type type) {
        return ldns_rr_get_type(rr) == type &&
                ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN &&
                dname_equal(ldns_rr_owner(rr), owner);
}

static size_t count_rrs(const ldns_rr_list *l, const ldns_rdf *owner, ldns_rr_type type) {
        size_t n = 0;

        for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++)
                if (rr_is(ldns_rr_list_rr(l, i), owner, type))
                        n++;
        return n;
}

static const ldns_rr *find_rr(const ldns_rr_list *l, const ldns_rdf *owner, ldns_rr_type type) {
        for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++)
                if (rr_is(ldns_rr_list_rr(l, i), owner, type))
                        return ldns_rr_list_rr(l, i);
        return NULL;
}

static bool rdf_is(const ldns_rr *rr, size_t i, ldns_rdf_type type, size_t size) {
        const ldns_rdf *f = ldns_rr_rdf(rr, i);

        return f && ldns_rdf_get_type(f) == type && (size == 0 || ldns_rdf_size(f) == size);
}

static uint16_t rdf_u16(const ldns_rr *rr, size_t i) {
        const uint8_t *d = ldns_rdf_data(ldns_rr_rdf(rr, i));

        return (uint16_t) (d[0] << 8 | d[1]);
}

static uint32_t rdf_u32(const ldns_rr *rr, size_t i) {
        const uint8_t *d = ldns_rdf_data(ldns_rr_rdf(rr, i));

        return (uint32_t) d[0] << 24 | (uint32_t) d[1] << 16 | (uint32_t) d[2] << 8 | d[3];
}

/* RFC 2308 §5: the negative TTL is min(SOA TTL, SOA MINIMUM). The SOA owner is
 * not checked: a server able to lie about it can lie about any TTL. */
static uint32_t negative_ttl(const ldns_pkt *p) {
        const ldns_rr_list *ns = ldns_pkt_authority(p);

        for (size_t i = 0; i < ldns_rr_list_rr_count(ns); i++) {
                const ldns_rr *rr = ldns_rr_list_rr(ns, i);

                if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA || ldns_rr_rd_count(rr) != 7 ||
                    ldns_rdf_size(ldns_rr_rdf(rr, 6)) != 4)
                        continue;
                return MIN(ttl_sane(ldns_rr_ttl(rr)), ttl_sane(rdf_u32(rr, 6)));
        }
        return 0;
}

static int check_question(const ldns_pkt *p, const ldns_rdf *qname, uint16_t qtype) {
        const ldns_rr_list *qd = ldns_pkt_question(p);
        const ldns_rr *q;

        if (!ldns_pkt_qr(p) || ldns_pkt_get_opcode(p) != LDNS_PACKET_QUERY)
                return -EBADMSG;
        if (ldns_pkt_qdcount(p) != 1 || ldns_rr_list_rr_count(qd) != 1)
                return -EBADMSG;
        q = ldns_rr_list_rr(qd, 0);
        if (ldns_rr_get_type(q) != qtype || ldns_rr_get_class(q) != LDNS_RR_CLASS_IN ||
            !dname_equal(ldns_rr_owner(q), qname))
                return -EBADMSG;
        return 0;
}

/* The RECORDS_ENTRIES_MAX caps below are a backstop: ldns parses messages of
 * at most 64 KiB, about 5900 records, so no real answer reaches them. */
/* n_owned: the SRV records at owner, as count_rrs() found them. */
static int collect_srv(const ldns_rr_list *an, const ldns_rdf *owner, size_t n_owned, RecAnswer *a) {
        size_t n = MIN(n_owned, (size_t) RECORDS_ENTRIES_MAX);
        size_t n_dot = 0, room = 0, used = 0;
        uint32_t dot_ttl = UINT32_MAX;

        /* The targets' strings share one buffer, sized from their wire form
         * (an octet is at most 4 characters, "\DDD"). 256-byte names in the
         * array made it over 1 KiB for 4 targets, and glibc consolidates its
         * fast bins on every allocation that size: 5 % of a cold start. */
        for (size_t i = 0, seen = 0; i < ldns_rr_list_rr_count(an) && seen < n; i++) {
                const ldns_rr *rr = ldns_rr_list_rr(an, i);
                if (!rr_is(rr, owner, LDNS_RR_TYPE_SRV))
                        continue;
                seen++;
                if (ldns_rr_rd_count(rr) == 4)
                        room += MIN(4 * ldns_rdf_size(ldns_rr_rdf(rr, 3)), (size_t) NAME_TEXT_MAX + 1);
        }
        a->names = malloc(MAX(room, (size_t) 1));
        /* Not zeroed: each entry is written whole before n_srv counts it. */
        a->srv = reallocarray(NULL, MAX(n, (size_t) 1), sizeof *a->srv);
        if (!a->names || !a->srv)
                return -ENOMEM;

        for (size_t i = 0; i < ldns_rr_list_rr_count(an) && a->n_srv + n_dot + a->n_port0 < n; i++) {
                const ldns_rr *rr = ldns_rr_list_rr(an, i);
                RecSrv *s = &a->srv[a->n_srv];
                char target[RECORDS_NAME_MAX];
                size_t len;
                int r;

                if (!rr_is(rr, owner, LDNS_RR_TYPE_SRV))
                        continue;
                if (ldns_rr_rd_count(rr) != 4 ||
                    !rdf_is(rr, 0, LDNS_RDF_TYPE_INT16, 2) || !rdf_is(rr, 1, LDNS_RDF_TYPE_INT16, 2) ||
                    !rdf_is(rr, 2, LDNS_RDF_TYPE_INT16, 2) || !rdf_is(rr, 3, LDNS_RDF_TYPE_DNAME, 0))
                        return -EBADMSG;

                r = name_from_dname(ldns_rr_rdf(rr, 3), target);
                if (r == -ENAMETOOLONG)
                        continue;       /* a target nobody could query: skip it, keep the rest */
                if (r < 0)
                        return r;
                if (target[0] == '\0') {
                        n_dot++;
                        dot_ttl = MIN(dot_ttl, ttl_sane(ldns_rr_ttl(rr)));
                        continue;
                }
                if (rdf_u16(rr, 2) == 0) {
                        a->n_port0++;
                        continue;
                }
                len = strlen(target) + 1;
                if (used + len > room) /* cannot happen: the sizing above is an upper bound */
                        return -EBADMSG;
                memcpy(a->names + used, target, len);
                s->target = a->names + used;
                used += len;
                s->priority = rdf_u16(rr, 0);
                s->weight = rdf_u16(rr, 1);
                s->port = rdf_u16(rr, 2);
                s->ttl = ttl_sane(ldns_rr_ttl(rr));
                a->n_srv++;
        }

        /* RFC 2782: "." alone means "decidedly not available"; mixed in with real
         * targets it carries nothing and is dropped. */
        a->srv_unavailable = n_dot > 0 && a->n_srv == 0;
        if (a->srv_unavailable)
                a->negative_ttl = dot_ttl;
        return 0;
}

static int collect_addrs(const ldns_rr_list *an, const ldns_rdf *owner, uint16_t qtype, RecAnswer *a) {
        size_t n = MIN(count_rrs(an, owner, qtype), (size_t) RECORDS_ENTRIES_MAX);
        size_t alen = qtype == RECORDS_TYPE_A ? 4 : 16;
        ldns_rdf_type rtype = qtype == RECORDS_TYPE_A ? LDNS_RDF_TYPE_A : LDNS_RDF_TYPE_AAAA;

        a->addrs = calloc(n, sizeof *a->addrs);
        if (!a->addrs)
                return -ENOMEM;

        for (size_t i = 0; i < ldns_rr_list_rr_count(an) && a->n_addrs < n; i++) {
                const ldns_rr *rr = ldns_rr_list_rr(an, i);
                RecAddr *ad = &a->addrs[a->n_addrs];

                if (!rr_is(rr, owner, qtype))
                        continue;
                if (ldns_rr_rd_count(rr) != 1 || !rdf_is(rr, 0, rtype, alen))
                        return -EBADMSG;
                ad->family = alen == 4 ? 4 : 6;
                memcpy(ad->addr, ldns_rdf_data(ldns_rr_rdf(rr, 0)), alen);
                ad->ttl = ttl_sane(ldns_rr_ttl(rr));
                a->n_addrs++;
        }
        return 0;
}

static int strcmp_indirect(const void *x, const void *y) {
        return strcmp(*(const char *const *) x, *(const char *const *) y);
}

/* Additional-section addresses, kept only for names that are SRV targets:
 * anything else there is unsolicited and might poison other names. */
/* name is domain or below it: domain's wire form ends name's at a label boundary (case folded). */
static bool dname_at_or_below(const ldns_rdf *name, const ldns_rdf *domain) {
        const uint8_t *w = ldns_rdf_data(name), *d = ldns_rdf_data(domain);
        size_t n = ldns_rdf_size(name), m = ldns_rdf_size(domain);

        for (size_t o = 0; o < n && n - o >= m; o += (size_t) w[o] + 1) {
                if (n - o != m)
                        continue;
                for (size_t i = 0; i < m; i++)
                        if (w[o + i] != d[i] && ascii_tolower(w[o + i]) != ascii_tolower(d[i]))
                                return false;
                return true;
        }
        return false;
}

/* The domain an SRV set at owner is published in: owner without its leading "_" labels. */
static ldns_rdf *srv_domain(const ldns_rdf *owner) {
        ldns_rdf *d = ldns_rdf_clone(owner);

        while (d && ldns_rdf_size(d) > 1 && ldns_rdf_data(d)[1] == '_') {
                ldns_rdf *up = ldns_dname_left_chop(d);

                ldns_rdf_deep_free(d);
                d = up;
        }
        return d;
}

/* Glue is taken for targets at or below the domain of the name asked or of the SRV set's owner
 * (after CNAMEs: the server vouched for that name's records too). */
static int collect_glue(const ldns_rr_list *ar, const ldns_rdf *qname, const ldns_rdf *srv_owner, RecAnswer *a) {
        _cleanup_(ldns_rdf_deep_freep) ldns_rdf *domain = NULL, *qdomain = NULL;
        _cleanup_free_ const char **targets = NULL;
        size_t n_alloc = 0;

        if (a->n_srv == 0)
                return 0;
        domain = srv_domain(srv_owner);
        qdomain = srv_domain(qname);
        if (!domain || !qdomain)
                return -ENOMEM;

        /* Sorted once, so a large additional section costs n log n, not n * n_srv. */
        targets = calloc(a->n_srv, sizeof *targets);
        if (!targets)
                return -ENOMEM;
        for (size_t i = 0; i < a->n_srv; i++)
                targets[i] = a->srv[i].target;
        sort(targets, a->n_srv, sizeof *targets, strcmp_indirect);

        for (size_t i = 0; i < ldns_rr_list_rr_count(ar) && a->n_glue < RECORDS_ENTRIES_MAX; i++) {
                const ldns_rr *rr = ldns_rr_list_rr(ar, i);
                ldns_rr_type t = ldns_rr_get_type(rr);
                size_t alen = t == LDNS_RR_TYPE_A ? 4 : 16;
                char name[RECORDS_NAME_MAX];
                const char *key = name, **target;
                RecGlue *g;

                if ((t != LDNS_RR_TYPE_A && t != LDNS_RR_TYPE_AAAA) || ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN)
                        continue;
                if (ldns_rr_rd_count(rr) != 1 ||
                    !rdf_is(rr, 0, t == LDNS_RR_TYPE_A ? LDNS_RDF_TYPE_A : LDNS_RDF_TYPE_AAAA, alen))
                        continue;
                if (!dname_at_or_below(ldns_rr_owner(rr), domain) && !dname_at_or_below(ldns_rr_owner(rr), qdomain))
                        continue;
                if (name_from_dname(ldns_rr_owner(rr), name) < 0)
                        continue;
                target = bsearch(&key, targets, a->n_srv, sizeof *targets, strcmp_indirect);
                if (!target)
                        continue;

                if (a->n_glue == n_alloc) {
                        size_t m = MIN(MAX(n_alloc * 2, (size_t) 8), (size_t) RECORDS_ENTRIES_MAX);
                        RecGlue *ng = realloc(a->glue, m * sizeof *ng);

                        if (!ng)
                                return -ENOMEM;
                        a->glue = ng;
                        n_alloc = m;
                }
                g = &a->glue[a->n_glue++];
                memset(g, 0, sizeof *g);
                g->name = *target;
                g->addr.family = alen == 4 ? 4 : 6;
                memcpy(g->addr.addr, ldns_rdf_data(ldns_rr_rdf(rr, 0)), alen);
                g->addr.ttl = ttl_sane(ldns_rr_ttl(rr));
        }
        return 0;
}

/* The CNAME targets followed (chain[1..depth]), for NOTIFY to know which zones a service depends on. */
static int collect_chain(const ldns_rdf *const *chain, unsigned depth, RecAnswer *a) {
        char name[RECORDS_NAME_MAX];
        size_t used = 0;

        for (unsigned i = 1; i <= depth; i++) {
                int r = name_from_dname(chain[i], name);
                if (r == -ENAMETOOLONG)
                        continue; /* cannot be a zone's name either */
                if (r < 0)
                        return r;
                size_t len = strlen(name) + 1;
                char *n = realloc(a->chain_names, used + len);
                if (!n)
                        return -ENOMEM;
                a->chain_names = n;
                memcpy(a->chain_names + used, name, len);
                used += len;
                a->n_chain_names++;
        }
        return 0;
}

static int parse_noerror(const ldns_pkt *p, const ldns_rdf *qname, uint16_t qtype, RecAnswer *a) {
        const ldns_rr_list *an = ldns_pkt_answer(p);
        const ldns_rdf *chain[RECORDS_CNAME_DEPTH_MAX + 1] = { qname };
        const ldns_rdf *cur = qname;
        unsigned depth = 0;
        int r;

        /* Follow CNAMEs owned by the current name. Data at a name wins over a
         * CNAME there (which RFC 1034 forbids anyway). Each turn either stops or
         * adds one to depth, and depth is bounded: the loop is too. */
        size_t n;
        while ((n = count_rrs(an, cur, qtype)) == 0) {
                const ldns_rr *cname = find_rr(an, cur, LDNS_RR_TYPE_CNAME);
                const ldns_rdf *target;

                if (!cname)
                        break;
                if (ldns_rr_rd_count(cname) != 1 || !rdf_is(cname, 0, LDNS_RDF_TYPE_DNAME, 0))
                        return -EBADMSG;
                target = ldns_rr_rdf(cname, 0);
                for (unsigned i = 0; i <= depth; i++)
                        if (dname_equal(target, chain[i]))
                                return -ELOOP;
                if (depth >= RECORDS_CNAME_DEPTH_MAX)
                        return -ELOOP;
                chain[++depth] = target;
                a->chain_ttl = MIN(a->chain_ttl, ttl_sane(ldns_rr_ttl(cname)));
                cur = target;
        }
        a->cname_depth = depth;
        r = collect_chain(chain, depth, a);
        if (r < 0)
                return r;

        if (n == 0) {
                if (depth > 0) {
                        a->kind = RECORDS_CNAME_ONLY;
                        r = name_from_dname(cur, a->cname_target);
                        /* The root or an unrepresentable name cannot be queried next. */
                        if (r < 0 || a->cname_target[0] == '\0')
                                return -EBADMSG;
                } else {
                        a->kind = RECORDS_NODATA;
                        a->negative_ttl = negative_ttl(p);
                }
                return 0;
        }

        a->kind = RECORDS_ANSWER;
        if (qtype == RECORDS_TYPE_SRV) {
                r = collect_srv(an, cur, n, a);
                if (r < 0)
                        return r;
                return collect_glue(ldns_pkt_additional(p), qname, cur, a);
        }
        return collect_addrs(an, cur, qtype, a);
}

int records_parse(const uint8_t *pkt, size_t len, const char *qname, uint16_t qtype, RecAnswer **ret) {
        _cleanup_(ldns_pkt_freep) ldns_pkt *p = NULL;
        _cleanup_(ldns_rdf_deep_freep) ldns_rdf *want = NULL;
        _cleanup_(rec_answer_freep) RecAnswer *a = NULL;
        char name[RECORDS_NAME_MAX];
        int r;

        if (!qname || !ret || (!pkt && len > 0))
                return -EINVAL;
        if (qtype != RECORDS_TYPE_A && qtype != RECORDS_TYPE_AAAA && qtype != RECORDS_TYPE_SRV)
                return -EINVAL;
        r = records_normalize_name(qname, name, sizeof name);
        if (r < 0)
                return -EINVAL;
        want = ldns_dname_new_frm_str(name);
        if (!want)
                return -ENOMEM;

        if (len < LDNS_HEADER_SIZE)
                return -EBADMSG;
        r = records_errno_from_ldns(ldns_wire2pkt(&p, pkt, len));
        if (r < 0)
                return r;
        r = check_question(p, want, qtype);
        if (r < 0)
                return r;

        a = calloc(1, sizeof *a);
        if (!a)
                return -ENOMEM;
        a->truncated = ldns_pkt_tc(p);
        a->chain_ttl = UINT32_MAX;

        switch (ldns_pkt_get_rcode(p)) {
        case LDNS_RCODE_NOERROR:
                r = parse_noerror(p, want, qtype, a);
                if (r < 0)
                        return r;
                break;
        case LDNS_RCODE_NXDOMAIN:
                a->kind = RECORDS_NXDOMAIN;
                a->negative_ttl = negative_ttl(p);
                break;
        case LDNS_RCODE_SERVFAIL:
                a->kind = RECORDS_SERVFAIL;
                a->rcode_error = records_rcode_errno(LDNS_RCODE_SERVFAIL);
                break;
        default:
                a->kind = RECORDS_REFUSED;
                a->rcode_error = records_rcode_errno(ldns_pkt_get_rcode(p));
                break;
        }

        *ret = TAKE_PTR(a);
        return 0;
}

int records_rcode_errno(unsigned rcode) {
        switch (rcode) {
        case LDNS_RCODE_NOERROR:
        case LDNS_RCODE_NXDOMAIN:
                return 0;
        case LDNS_RCODE_SERVFAIL:
                return -EREMOTEIO;
        case LDNS_RCODE_REFUSED:
                return -EACCES;
        case LDNS_RCODE_NOTIMPL:
                return -EOPNOTSUPP;
        default:
                return -EPROTO;
        }
}

RecAnswer *rec_answer_free(RecAnswer *a) {
        if (!a)
                return NULL;
        free(a->srv);
        free(a->names);
        free(a->chain_names);
        free(a->addrs);
        free(a->glue);
        free(a);
        return NULL;
}

int records_build_query(const char *name, uint16_t type, uint16_t edns_size, uint8_t **ret, size_t *ret_len) {
        _cleanup_(ldns_pkt_freep) ldns_pkt *p = NULL;
        char norm[RECORDS_NAME_MAX];
        ldns_rdf *qname;
        uint8_t *w = NULL;
        size_t len = 0;
        int r;

        if (!name || !ret || !ret_len)
                return -EINVAL;
        r = records_normalize_name(name, norm, sizeof norm);
        if (r < 0)
                return -EINVAL;
        qname = ldns_dname_new_frm_str(norm);
        if (!qname)
                return -EINVAL;
        p = ldns_pkt_query_new(qname, (ldns_rr_type) type, LDNS_RR_CLASS_IN, LDNS_RD);
        if (!p)
                return -ENOMEM;
        ldns_pkt_set_id(p, 0);
        ldns_pkt_set_edns_udp_size(p, edns_size);
        r = records_errno_from_ldns(ldns_pkt2wire(&w, p, &len));
        if (r < 0)
                return r;
        *ret = w;
        *ret_len = len;
        return 0;
}
