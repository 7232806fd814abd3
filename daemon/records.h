/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* records.h: DNS answers parsed into records with TTLs (ldns, like the wire files notify-wire, update-wire and tsig; no ldns type leaks out). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RECORDS_NAME_MAX 256   /* presentation form, no trailing dot, NUL included */
#define RECORDS_CNAME_DEPTH_MAX 8
#define RECORDS_ENTRIES_MAX 10000 /* per array of a RecAnswer; records beyond are dropped */

/* RCODEs (RFC 1035 §4.1.1) that resolve.c names without ldns. */
enum {
        RECORDS_RCODE_SERVFAIL = 2,
        RECORDS_RCODE_NOTIMP = 4,
        RECORDS_RCODE_REFUSED = 5,
};

enum {
        RECORDS_TYPE_A = 1,
        RECORDS_TYPE_SRV = 33,
        RECORDS_TYPE_AAAA = 28,
};

typedef enum RecordsKind {
        RECORDS_ANSWER,       /* records of the asked type for the asked name (after CNAMEs) */
        RECORDS_CNAME_ONLY,   /* the chain stops short: query cname_target next */
        RECORDS_NXDOMAIN,
        RECORDS_NODATA,
        RECORDS_SERVFAIL,     /* rcode SERVFAIL */
        RECORDS_REFUSED,      /* rcode REFUSED or another error rcode: rcode_error says which */
} RecordsKind;

typedef struct RecAddr {
        uint8_t family;       /* 4 or 6 */
        uint8_t addr[16];     /* network order */
        uint32_t ttl;         /* seconds, already capped: >= 2^31 read as 0 (RFC 2181) */
} RecAddr;

typedef struct RecSrv {
        uint16_t priority, weight, port;
        uint32_t ttl;
        const char *target;             /* in the answer's names; lower-case, no trailing dot;
                                         * "." targets are not listed */
} RecSrv;

typedef struct RecGlue {
        const char *name;               /* owner: the same string as the SRV target it belongs to */
        RecAddr addr;
} RecGlue;

/* A parsed answer; owns its arrays and names. Free with rec_answer_free().
 * Whoever takes srv keeps names too: the targets point into it. */
typedef struct RecAnswer {
        RecordsKind kind;
        int rcode_error;                 /* RECORDS_SERVFAIL, RECORDS_REFUSED: records_rcode_errno() of the rcode */
        bool truncated;                  /* TC bit was set */
        uint32_t chain_ttl;              /* min TTL over the CNAME chain followed; UINT32_MAX if none */
        char cname_target[RECORDS_NAME_MAX]; /* RECORDS_CNAME_ONLY: end of the chain */
        unsigned cname_depth;            /* CNAMEs followed */
        char *chain_names;               /* the CNAME targets followed, NUL-separated, in chain order */
        size_t n_chain_names;
        uint32_t negative_ttl;           /* NXDOMAIN/NODATA: min(SOA TTL, SOA MINIMUM); 0 without SOA;
                                          * srv_unavailable: the "." records' TTL */
        bool srv_unavailable;            /* SRV: only "." targets (RFC 2782); n_srv is 0 */
        size_t n_port0;                  /* SRV records with port 0, left out: nothing listens there */
        RecSrv *srv;                     /* SRV answers */
        size_t n_srv;
        char *names;                     /* the SRV targets' strings, NUL-separated */
        RecAddr *addrs;                  /* A/AAAA answers */
        size_t n_addrs;
        RecGlue *glue;                   /* additional-section A/AAAA for SRV targets in the answer's
                                          * zone only (records_parse()) */
        size_t n_glue;
} RecAnswer;

/*
 * Parse the wire answer pkt to the question (qname, qtype, class IN).
 * The question section must match (name case-insensitively, type, class), or
 * -EBADMSG. Records for names other than qname or its CNAME chain are
 * ignored; additional records are kept only as glue for SRV targets at or
 * below the domain the SRV set is published in (its owner without the
 * leading "_service._proto" labels, RFC 2782), as unbound's scrubber keeps
 * only additional records in the bailiwick of the zone it asked: a server
 * answering for _s._tcp.example.com cannot say where www.other.org is.
 * Returns 0 and *ret (caller frees), -EBADMSG for malformed packets or
 * mismatched questions, -ELOOP for a chain over RECORDS_CNAME_DEPTH_MAX,
 * -ENOMEM, -EINVAL for an invalid qname or a qtype other than A/AAAA/SRV.
 */
int records_parse(const uint8_t *pkt, size_t len, const char *qname, uint16_t qtype, RecAnswer **ret);
RecAnswer *rec_answer_free(RecAnswer *a);

/*
 * A query for name (presentation form: "\DDD" and "\X" escapes stand for
 * the octets they name), type, class IN, RD set, ID 0, ending with an EDNS
 * OPT record of 11 octets advertising edns_size (c-ares drops those 11
 * octets if a server answers FORMERR without OPT). For names c-ares cannot
 * encode. 0 and *ret (malloc'd: the caller frees) and *ret_len; -EINVAL
 * for an invalid name, -ENOMEM.
 */
int records_build_query(const char *name, uint16_t type, uint16_t edns_size, uint8_t **ret, size_t *ret_len);

/*
 * The one place a DNS RCODE becomes an errno, for records_parse() and for resolve.c, which reads
 * the RCODE of answers c-ares does not hand over. 0 for NOERROR and NXDOMAIN (answers, not
 * errors); SERVFAIL -EREMOTEIO, REFUSED -EACCES, NOTIMP -EOPNOTSUPP, FORMERR and any other
 * -EPROTO.
 */
int records_rcode_errno(unsigned rcode);

/* Normalise a DNS name: lower-case, no trailing dot. -EINVAL if a label is
 * over 63 octets, the name over 255 octets, or empty labels appear ("" and "."
 * included); -ENAMETOOLONG if out is too small. in and out may be the same. */
int records_normalize_name(const char *in, char *out, size_t size);
