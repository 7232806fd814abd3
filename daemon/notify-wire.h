/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* notify-wire.h: DNS NOTIFY (RFC 1996) messages and their TSIG (RFC 8945): parse, verify, answer (ldns; no ldns type leaks out). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "records.h"

#define NOTIFY_KEY_SECRET_MAX 256 /* base64 characters */

/* A TSIG key. The secret is never logged or printed: only the name and algorithm are. */
typedef struct NotifyKey {
        char name[RECORDS_NAME_MAX];    /* normalised: lower-case, no trailing dot */
        char algorithm[32];             /* "hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224" */
        char secret[NOTIFY_KEY_SECRET_MAX + 1]; /* base64, as tsig-keygen prints it */
} NotifyKey;

/* Overwrite the key's secret (before freeing the memory that held it). */
void notify_key_wipe(NotifyKey *k);

/*
 * Parse "NAME:ALGORITHM:SECRET" (notify-key) into *ret. -EINVAL with a
 * static message in *ret_what (never quoting the secret) on a bad name, an
 * algorithm weaker than hmac-sha224 or unknown, or a secret that is not
 * base64 of at least 16 bytes.
 */
int notify_key_parse(const char *s, NotifyKey *ret, const char **ret_what);
/*
 * Parse a key file's text: the same one line as notify-key, or BIND's
 * key "NAME" { algorithm ALG; secret "SECRET"; }; (tsig-keygen's output).
 */
int notify_key_parse_file(const char *text, NotifyKey *ret, const char **ret_what);

/* What became of a message; the caller counts and logs these. */
typedef enum NotifyVerdict {
        NOTIFY_ACCEPTED,      /* a valid NOTIFY: act on it (answered NOERROR) */
        NOTIFY_DROPPED,       /* not answerable (shorter than a header, or a response): no answer */
        NOTIFY_MALFORMED,     /* answered FORMERR */
        NOTIFY_NOT_NOTIFY,    /* another opcode: answered NOTIMP */
        NOTIFY_REFUSED,       /* source not allowed: answered REFUSED */
        NOTIFY_BAD_TSIG,      /* key configured, signature missing, unknown, wrong or out of time: NOTAUTH */
} NotifyVerdict;

/* RFC 8945 §5.3.2 TSIG errors an answer carries. */
#define NOTIFY_TSIG_BADSIG 16
#define NOTIFY_TSIG_BADKEY 17
#define NOTIFY_TSIG_BADTIME 18

typedef struct NotifyRequest {
        NotifyVerdict verdict;
        uint16_t id;
        char zone[RECORDS_NAME_MAX];    /* NOTIFY_ACCEPTED: the zone, normalised ("" for the root) */
        bool has_serial;                /* the answer section carried the zone's SOA */
        uint32_t serial;
        const char *why;                /* static text for logs, for verdicts other than accepted */
        uint16_t tsig_error;            /* NOTIFY_BAD_TSIG: the error in the answer's TSIG, 0 if it has none */
        uint8_t *answer;                /* the reply to send (caller frees), NULL for none */
        size_t answer_len;
} NotifyRequest;

/*
 * Handle one message: decide the verdict and build the answer (RFC 1996
 * §3.7: same ID, QR and AA set, the question echoed; signed with key if the
 * request was). A bad TSIG's NOTAUTH carries the RFC 8945 §5.3.2 TSIG: BADKEY
 * or BADSIG unsigned, BADTIME signed with the server's time. allowed: the source passed notify-allow. key: NULL when no
 * TSIG is required. now_sec: the Unix time, for TSIG's time check (fudge as
 * the signer gave it, at most 300 s). Returns 0 and fills *ret, or -ENOMEM.
 */
int notify_wire_handle(const uint8_t *pkt, size_t len, bool allowed, const NotifyKey *key, uint64_t now_sec,
                       NotifyRequest *ret);
void notify_request_done(NotifyRequest *r);

/* What an answer's TSIG says (tests and tools, to check the listener's answers). */
typedef struct NotifyAnswerTsig {
        bool present;                   /* the answer carries a TSIG */
        bool verifies;                  /* its MAC verifies with key after the request's MAC */
        uint16_t error;                 /* 0, or NOTIFY_TSIG_BADSIG, _BADKEY, _BADTIME */
        uint64_t time_signed;
        bool has_server_time;           /* Other Data holds a 48-bit time (BADTIME) */
        uint64_t server_time;
} NotifyAnswerTsig;

/*
 * Read the TSIG of answer, sent for request; key may be NULL (then verifies
 * is false). Returns 0 and fills *ret, or -EBADMSG if either does not parse.
 */
int notify_wire_answer_tsig(const uint8_t *request, size_t request_len, const uint8_t *answer, size_t answer_len,
                            const NotifyKey *key, NotifyAnswerTsig *ret);

/* RFC 1982 serial arithmetic: a is after b. */
bool notify_serial_after(uint32_t a, uint32_t b);

/*
 * Build a NOTIFY for zone (tests and tools): id, optionally the SOA serial in
 * the answer section, signed with key (at the current time) when not NULL.
 * Returns 0 and a malloc'd packet.
 */
int notify_wire_build(uint16_t id, const char *zone, bool with_serial, uint32_t serial, const NotifyKey *key,
                      uint8_t **ret, size_t *ret_len);
