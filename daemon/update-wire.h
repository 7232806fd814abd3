/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* update-wire.h: DNS UPDATE (RFC 2136) messages signed with TSIG (RFC 8945): build, verify the answer (ldns; no ldns type leaks out). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "records.h"

/* RCODEs an UPDATE answer carries (RFC 2136 §2.2), and TSIG's errors (RFC 8945 §5.3), which
 * arrive as NOTAUTH with the TSIG error field set: update_wire_check() folds them into one code. */
enum {
        UPDATE_RCODE_NOERROR = 0,
        UPDATE_RCODE_FORMERR = 1,
        UPDATE_RCODE_SERVFAIL = 2,
        UPDATE_RCODE_NXDOMAIN = 3,
        UPDATE_RCODE_NOTIMP = 4,
        UPDATE_RCODE_REFUSED = 5,
        UPDATE_RCODE_YXDOMAIN = 6,
        UPDATE_RCODE_YXRRSET = 7,
        UPDATE_RCODE_NXRRSET = 8,
        UPDATE_RCODE_NOTAUTH = 9,
        UPDATE_RCODE_NOTZONE = 10,
        UPDATE_RCODE_BADSIG = 16,
        UPDATE_RCODE_BADKEY = 17,
        UPDATE_RCODE_BADTIME = 18,
};

/* "NOERROR", "REFUSED", "BADSIG", ...; "RCODE<n>" (in buf) for others. */
const char *update_rcode_name(int rcode, char buf[static 16]);

/* The TSIG key an UPDATE is signed with. Borrowed; the secret is never copied into messages
 * other than as its MAC. */
typedef struct UpdateKey {
        const char *name;        /* normalised, no trailing dot */
        const char *algorithm;   /* "hmac-sha256", ... */
        const char *secret;      /* base64 */
} UpdateKey;

/* One record this host owns: an SRV, or an A/AAAA of the SRV target. */
typedef struct UpdateRecord {
        uint16_t type;           /* RECORDS_TYPE_SRV, RECORDS_TYPE_A or RECORDS_TYPE_AAAA */
        const char *name;        /* owner, normalised */
        uint32_t ttl;
        uint16_t priority, weight, port; /* SRV */
        const char *target;      /* SRV */
        uint8_t addr[16];        /* A: 4 bytes, AAAA: 16 */
} UpdateRecord;

typedef enum UpdatePrereq {
        UPDATE_PREREQ_NONE,
        /* The address RRsets of the records' owners (of the types among add) do not exist
         * (RFC 2136 §2.4.3): the first registration of a target nobody holds. */
        UPDATE_PREREQ_ADDRS_ABSENT,
        /* Those RRsets exist and hold exactly the addresses in add (§2.4.2): they are ours. */
        UPDATE_PREREQ_ADDRS_EXACT,
} UpdatePrereq;

/* What the request's signature was, to verify the answer's (RFC 8945 §5.3). */
typedef struct UpdateMac {
        uint8_t data[2 + 64];    /* the MAC field as on the wire: length, then the bytes */
        size_t len;
} UpdateMac;

/*
 * Build an UPDATE of zone: the prerequisite, then for each of del a delete
 * of exactly that RR (class NONE, §2.5.4: never the RRset), then each of add
 * (§2.5.1). Signed with key at the current time (key NULL: unsigned). Returns 0, a
 * malloc'd message and the request's MAC (for update_wire_check()); -EINVAL
 * for an invalid name or record, -ENOMEM, -EBADMSG if ldns cannot sign.
 */
int update_wire_build(uint16_t id, const char *zone, UpdatePrereq prereq, const UpdateRecord *del, size_t n_del,
                      const UpdateRecord *add, size_t n_add, const UpdateKey *key, uint8_t **ret,
                      size_t *ret_len, UpdateMac *ret_mac);

/*
 * Check an answer to an UPDATE of zone signed with key (NULL: unsigned) and
 * MAC mac. Returns the RCODE (with TSIG's errors as UPDATE_RCODE_BAD*), or
 * -EBADMSG with a static reason in *ret_why when the answer cannot be trusted:
 * malformed, not an UPDATE answer, for another zone, or (with a key) without
 * a valid signature by that key. An unsigned NOTAUTH carrying a TSIG error is
 * trusted as that error: servers cannot sign with a key they do not know.
 */
int update_wire_check(const uint8_t *pkt, size_t len, const char *zone, const UpdateKey *key, const UpdateMac *mac,
                      const char **ret_why);

/*
 * From an answer to an SOA query for name: the zone that holds it (the SOA's
 * owner, in the answer or the authority section) and its primary (MNAME).
 * -ENOENT without an SOA, -EBADMSG when malformed.
 */
int update_wire_soa(const uint8_t *pkt, size_t len, char ret_zone[static RECORDS_NAME_MAX],
                    char ret_mname[static RECORDS_NAME_MAX]);
