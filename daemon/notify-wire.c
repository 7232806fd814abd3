/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* notify-wire.c: DNS NOTIFY (RFC 1996) messages and their TSIG (RFC 8945): parse, verify, answer (ldns; no ldns type leaks out). */
#include <ldns/ldns.h>
#include <ldns/sha2.h>
#include <inttypes.h>

#include "notify-wire.h"
#include "records-ldns.h"
#include "tsig.h"
#include "util.h"

#define HEADER_SIZE 12
#define TSIG_FUDGE_MAX 300
#define SECRET_BYTES_MIN 16
#define CLASS_ANY 255

DEFINE_TRIVIAL_CLEANUP_FUNC(ldns_pkt *, ldns_pkt_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(ldns_rdf *, ldns_rdf_deep_free);

void notify_key_wipe(NotifyKey *k) {
        if (k)
                explicit_bzero(k->secret, sizeof k->secret);
}

/* Debian's ldns 1.8.3 cannot sign or verify hmac-sha224 for TSIG and misnames hmac-sha384: a key of
 * either would fail every message, so configuration refuses them. */
static const char *const algorithms[] = { "hmac-sha256", "hmac-sha512" };

static int key_fill(const char *name, size_t name_len, const char *alg, size_t alg_len, const char *secret,
                    size_t secret_len, NotifyKey *ret, const char **ret_what) {
        char buf[RECORDS_NAME_MAX];
        NotifyKey k = {};

        if (name_len == 0 || name_len >= sizeof buf) {
                *ret_what = "the key name is empty or too long";
                return -EINVAL;
        }
        memcpy(buf, name, name_len);
        buf[name_len] = 0;
        if (records_normalize_name(buf, k.name, sizeof k.name) < 0) {
                *ret_what = "the key name is not a valid DNS name";
                return -EINVAL;
        }
        for (size_t i = 0; i < ELEMENTSOF(algorithms); i++)
                if (alg_len == strlen(algorithms[i]) && strncasecmp(alg, algorithms[i], alg_len) == 0)
                        strcpy(k.algorithm, algorithms[i]);
        if (!k.algorithm[0]) {
                *ret_what = "the algorithm must be hmac-sha256 or hmac-sha512 (ldns here cannot use hmac-sha224 or hmac-sha384 for TSIG)";
                return -EINVAL;
        }
        if (secret_len == 0 || secret_len > NOTIFY_KEY_SECRET_MAX) {
                *ret_what = "the secret is empty or longer than 256 base64 characters";
                return -EINVAL;
        }
        memcpy(k.secret, secret, secret_len);
        k.secret[secret_len] = 0;
        ldns_rdf *raw = NULL;
        ldns_status st = ldns_str2rdf_b64(&raw, k.secret);
        size_t n = st == LDNS_STATUS_OK && raw ? ldns_rdf_size(raw) : 0;
        if (raw) {
                explicit_bzero(ldns_rdf_data(raw), ldns_rdf_size(raw));
                ldns_rdf_deep_free(raw);
        }
        if (n < SECRET_BYTES_MIN) {
                notify_key_wipe(&k);
                *ret_what = st != LDNS_STATUS_OK ? "the secret is not base64" : "the secret is shorter than 16 bytes";
                return -EINVAL;
        }
        *ret = k;
        notify_key_wipe(&k);
        return 0;
}

int notify_key_parse(const char *s, NotifyKey *ret, const char **ret_what) {
        const char *c1 = strchr(s, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2) {
                *ret_what = "expected NAME:ALGORITHM:SECRET";
                return -EINVAL;
        }
        return key_fill(s, (size_t) (c1 - s), c1 + 1, (size_t) (c2 - c1 - 1), c2 + 1, strlen(c2 + 1), ret, ret_what);
}

/* Next token of BIND's key syntax: a quoted string, a word, or one of {};. */
static const char *bind_token(const char **p, size_t *ret_len) {
        const char *s = *p;
        for (;;) {
                while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
                        s++;
                if (*s == '#' || (s[0] == '/' && s[1] == '/')) {
                        while (*s && *s != '\n')
                                s++;
                        continue;
                }
                break;
        }
        if (!*s)
                return NULL;
        const char *start = s;
        if (*s == '"') {
                start = ++s;
                while (*s && *s != '"')
                        s++;
                if (!*s)
                        return NULL;
                *ret_len = (size_t) (s - start);
                *p = s + 1;
                return start;
        }
        if (strchr("{};", *s)) {
                *ret_len = 1;
                *p = s + 1;
                return start;
        }
        while (*s && !strchr(" \t\r\n{};\"", *s))
                s++;
        *ret_len = (size_t) (s - start);
        *p = s;
        return start;
}

static bool token_is(const char *t, size_t n, const char *word) {
        return t && n == strlen(word) && strncasecmp(t, word, n) == 0;
}

int notify_key_parse_file(const char *text, NotifyKey *ret, const char **ret_what) {
        const char *p = text, *t, *name = NULL, *alg = NULL, *secret = NULL;
        size_t n, name_len = 0, alg_len = 0, secret_len = 0;

        t = bind_token(&p, &n);
        if (!token_is(t, n, "key")) {
                /* One line NAME:ALGORITHM:SECRET, surrounding blanks ignored. */
                size_t len = strlen(text);
                while (len > 0 && strchr(" \t\r\n", text[len - 1]))
                        len--;
                while (len > 0 && strchr(" \t\r\n", *text))
                        text++, len--;
                char line[RECORDS_NAME_MAX + 32 + NOTIFY_KEY_SECRET_MAX + 3];
                if (len >= sizeof line || memchr(text, '\n', len)) {
                        *ret_what = "expected one line NAME:ALGORITHM:SECRET or a BIND key statement";
                        return -EINVAL;
                }
                memcpy(line, text, len);
                line[len] = 0;
                int r = notify_key_parse(line, ret, ret_what);
                explicit_bzero(line, sizeof line);
                return r;
        }
        name = bind_token(&p, &name_len);
        t = bind_token(&p, &n);
        if (!name || !token_is(t, n, "{")) {
                *ret_what = "expected key \"NAME\" { algorithm ALG; secret \"SECRET\"; };";
                return -EINVAL;
        }
        for (;;) {
                t = bind_token(&p, &n);
                if (token_is(t, n, "}"))
                        break;
                const char **dst = token_is(t, n, "algorithm") ? &alg : token_is(t, n, "secret") ? &secret : NULL;
                size_t *dst_len = dst == &alg ? &alg_len : &secret_len;
                const char *v = bind_token(&p, dst_len);
                const char *semi = bind_token(&p, &n);
                if (!dst || !v || !token_is(semi, n, ";")) {
                        *ret_what = "expected algorithm ALG; and secret \"SECRET\"; inside the key statement";
                        return -EINVAL;
                }
                *dst = v;
        }
        if (!alg || !secret) {
                *ret_what = "the key statement lacks its algorithm or secret";
                return -EINVAL;
        }
        return key_fill(name, name_len, alg, alg_len, secret, secret_len, ret, ret_what);
}

bool notify_serial_after(uint32_t a, uint32_t b) {
        return a != b && (uint32_t) (a - b) < UINT32_C(0x80000000);
}

static bool rdf_is_name(const ldns_rdf *d, const char *want) {
        char got[RECORDS_NAME_MAX];
        return records_name_of_rdf(d, got) >= 0 && streq(got, want);
}

/* A header-only answer for a message ldns cannot parse: ID and opcode kept, no question. */
static int answer_header_only(const uint8_t *pkt, uint8_t rcode, NotifyRequest *r) {
        r->answer = calloc(1, HEADER_SIZE);
        if (!r->answer)
                return -ENOMEM;
        r->answer[0] = pkt[0];
        r->answer[1] = pkt[1];
        r->answer[2] = (uint8_t) (0x80 | (pkt[2] & 0x78)); /* QR, the request's opcode */
        r->answer[3] = rcode;
        r->answer_len = HEADER_SIZE;
        return 0;
}

static uint64_t tsig_time(const ldns_rdf *d) {
        if (!d || ldns_rdf_size(d) != 6)
                return 0;
        const uint8_t *w = ldns_rdf_data(d);
        uint64_t t = 0;
        for (size_t i = 0; i < 6; i++)
                t = t << 8 | w[i];
        return t;
}

/* A hash of the TSIG algorithms (ldns's SHA-2): index 0 of algorithms[] is SHA-256, 1 is SHA-512. */
typedef struct Hash {
        size_t alg; /* index in algorithms[] */
        ldns_sha256_CTX s256;
        ldns_sha512_CTX s512;
} Hash;

static const size_t hash_block[] = { 64, 128 };
static const size_t hash_len[] = { 32, 64 };

static void hash_init(Hash *h, size_t alg) {
        h->alg = alg;
        if (alg == 0)
                ldns_sha256_init(&h->s256);
        else
                ldns_sha512_init(&h->s512);
}

static void hash_update(Hash *h, const uint8_t *d, size_t n) {
        if (h->alg == 0)
                ldns_sha256_update(&h->s256, d, n);
        else
                ldns_sha512_update(&h->s512, d, n);
}

static void hash_final(Hash *h, uint8_t out[static LDNS_SHA512_DIGEST_LENGTH]) {
        if (h->alg == 0)
                ldns_sha256_final(out, &h->s256);
        else
                ldns_sha512_final(out, &h->s512);
}

/* RFC 2104 HMAC of msg with key's secret; returns the MAC's length, or a negative errno. */
static int hmac(const NotifyKey *key, const uint8_t *msg, size_t n, uint8_t out[static LDNS_SHA512_DIGEST_LENGTH]) {
        uint8_t pad[128] = {}, inner[LDNS_SHA512_DIGEST_LENGTH];
        size_t alg = ELEMENTSOF(algorithms);
        ldns_rdf *raw = NULL;
        Hash h;

        for (size_t i = 0; i < ELEMENTSOF(algorithms); i++)
                if (streq(key->algorithm, algorithms[i]))
                        alg = i;
        ldns_status st = ldns_str2rdf_b64(&raw, key->secret);
        if (alg == ELEMENTSOF(algorithms) || st != LDNS_STATUS_OK || !raw) {
                ldns_rdf_deep_free(raw);
                return st == LDNS_STATUS_MEM_ERR ? -ENOMEM : -EINVAL;
        }
        size_t k = ldns_rdf_size(raw);
        if (k > hash_block[alg]) {
                hash_init(&h, alg);
                hash_update(&h, ldns_rdf_data(raw), k);
                hash_final(&h, pad);
                memset(pad + hash_len[alg], 0, sizeof pad - hash_len[alg]);
        } else
                memcpy(pad, ldns_rdf_data(raw), k);
        explicit_bzero(ldns_rdf_data(raw), k);
        ldns_rdf_deep_free(raw);
        for (size_t i = 0; i < hash_block[alg]; i++)
                pad[i] ^= 0x36;
        hash_init(&h, alg);
        hash_update(&h, pad, hash_block[alg]);
        hash_update(&h, msg, n);
        hash_final(&h, inner);
        for (size_t i = 0; i < hash_block[alg]; i++)
                pad[i] ^= 0x36 ^ 0x5c;
        hash_init(&h, alg);
        hash_update(&h, pad, hash_block[alg]);
        hash_update(&h, inner, hash_len[alg]);
        hash_final(&h, out);
        explicit_bzero(pad, sizeof pad);
        explicit_bzero(inner, sizeof inner);
        return (int) hash_len[alg];
}

static void put16(uint8_t *w, uint64_t v) {
        w[0] = (uint8_t) (v >> 8);
        w[1] = (uint8_t) v;
}

static void put48(uint8_t *w, uint64_t v) {
        for (int i = 0; i < 6; i++)
                w[i] = (uint8_t) (v >> (8 * (5 - i)));
}

/*
 * Append to the answer the TSIG of an error (RFC 8945 §5.3.2): the request's
 * key and algorithm names, the error, and for BADTIME a MAC with key (after
 * the request's MAC, over the answer and the TSIG variables, Time Signed the
 * request's) and the server's time in Other Data; BADKEY and BADSIG go
 * unsigned (MAC size 0).
 */
static int answer_add_error_tsig(const ldns_pkt *req, uint16_t error, const NotifyKey *key, uint64_t now_sec,
                                 NotifyRequest *r) {
        const ldns_rr *t = ldns_pkt_tsig(req);
        _cleanup_(ldns_rdf_deep_freep) ldns_rdf *owner = ldns_rdf_clone(ldns_rr_owner(t));
        _cleanup_(ldns_rdf_deep_freep) ldns_rdf *alg = ldns_rdf_clone(ldns_rr_rdf(t, 0));
        const ldns_rdf *req_mac = ldns_rr_rdf(t, 3);
        bool badtime = error == NOTIFY_TSIG_BADTIME;
        uint8_t mac[LDNS_SHA512_DIGEST_LENGTH];
        int mac_len = 0;

        if (!owner || !alg)
                return -ENOMEM;
        ldns_dname2canonical(owner);
        ldns_dname2canonical(alg);
        size_t on = ldns_rdf_size(owner), an = ldns_rdf_size(alg);
        /* Timers: time signed, fudge, then (variables) error, other len, other data. */
        uint8_t timers[8], tail[10];
        put48(timers, badtime ? tsig_time(ldns_rr_rdf(t, 1)) : now_sec);
        put16(timers + 6, TSIG_FUDGE_MAX);
        put16(tail, error);
        put16(tail + 2, badtime ? 6 : 0);
        put48(tail + 4, now_sec);
        size_t tail_len = badtime ? 10 : 4;

        if (badtime) {
                size_t rm = req_mac ? ldns_rdf_size(req_mac) : 0; /* INT16_DATA: its length, then the MAC */
                size_t n = rm + r->answer_len + on + 6 + an + sizeof timers + tail_len;
                _cleanup_free_ uint8_t *in = malloc(n);
                uint8_t *p = in;
                if (!in)
                        return -ENOMEM;
                memcpy(p, ldns_rdf_data(req_mac), rm), p += rm;
                memcpy(p, r->answer, r->answer_len), p += r->answer_len;
                memcpy(p, ldns_rdf_data(owner), on), p += on;
                put16(p, CLASS_ANY), put16(p + 2, 0), put16(p + 4, 0), p += 6; /* class, TTL 0 */
                memcpy(p, ldns_rdf_data(alg), an), p += an;
                memcpy(p, timers, sizeof timers), p += sizeof timers;
                memcpy(p, tail, tail_len);
                mac_len = hmac(key, in, n, mac);
                if (mac_len < 0)
                        return mac_len;
        }

        size_t rdlen = an + sizeof timers + 2 + (size_t) mac_len + 2 + tail_len;
        size_t total = r->answer_len + on + 10 + rdlen;
        uint8_t *a = realloc(r->answer, total), *p;
        if (!a)
                return -ENOMEM;
        r->answer = a;
        p = a + r->answer_len;
        memcpy(p, ldns_rdf_data(owner), on), p += on;
        put16(p, LDNS_RR_TYPE_TSIG), put16(p + 2, CLASS_ANY), put16(p + 4, 0), put16(p + 6, 0), p += 8;
        put16(p, rdlen), p += 2;
        memcpy(p, ldns_rdf_data(alg), an), p += an;
        memcpy(p, timers, sizeof timers), p += sizeof timers;
        put16(p, (uint64_t) mac_len), p += 2;
        memcpy(p, mac, (size_t) mac_len), p += mac_len;
        put16(p, ldns_pkt_id(req)), p += 2; /* original ID */
        memcpy(p, tail, tail_len);
        put16(a + 10, ((unsigned) a[10] << 8 | a[11]) + 1u); /* ARCOUNT */
        r->answer_len = total;
        explicit_bzero(mac, sizeof mac);
        return 0;
}

/* RFC 1996 §3.7: same ID and opcode, QR and AA, the question echoed, nothing else (but a TSIG). */
static int answer_build(const ldns_pkt *req, ldns_pkt_rcode rcode, const NotifyKey *sign_key, uint16_t tsig_error,
                        uint64_t now_sec, NotifyRequest *r) {
        _cleanup_(ldns_pkt_freep) ldns_pkt *a = ldns_pkt_new();
        ldns_status st;

        if (!a)
                return -ENOMEM;
        ldns_pkt_set_id(a, ldns_pkt_id(req));
        ldns_pkt_set_qr(a, true);
        ldns_pkt_set_aa(a, ldns_pkt_get_opcode(req) == LDNS_PACKET_NOTIFY);
        ldns_pkt_set_opcode(a, ldns_pkt_get_opcode(req));
        ldns_pkt_set_rcode(a, (uint8_t) rcode);
        ldns_rr_list *q = ldns_pkt_question(req);
        if (q && ldns_rr_list_rr_count(q) == 1) {
                ldns_rr *c = ldns_rr_clone(ldns_rr_list_rr(q, 0));
                if (!c || !ldns_pkt_push_rr(a, LDNS_SECTION_QUESTION, c)) {
                        ldns_rr_free(c);
                        return -ENOMEM;
                }
        }
        if (sign_key && !tsig_error) {
                st = tsig_sign(a, sign_key->name, sign_key->algorithm, sign_key->secret, TSIG_FUDGE_MAX,
                               ldns_rr_rdf(ldns_pkt_tsig(req), 3));
                if (st != LDNS_STATUS_OK)
                        return records_errno_from_ldns(st);
        }
        st = ldns_pkt2wire(&r->answer, a, &r->answer_len);
        if (st != LDNS_STATUS_OK)
                return records_errno_from_ldns(st);
        return tsig_error ? answer_add_error_tsig(req, tsig_error, sign_key, now_sec, r) : 0;
}

/* Skip a wire name at *pos (labels, or a compression pointer ending it). */
static bool skip_name(const uint8_t *pkt, size_t len, size_t *pos) {
        for (unsigned labels = 0; labels < 128; labels++) {
                if (*pos >= len)
                        return false;
                uint8_t l = pkt[*pos];
                if ((l & 0xc0) == 0xc0) {
                        *pos += 2;
                        return *pos <= len;
                }
                if (l & 0xc0)
                        return false;
                *pos += 1u + l;
                if (l == 0)
                        return *pos <= len;
        }
        return false;
}

/* ldns ignores bytes after the last record; a message padded past its end is not well-formed. */
static bool wire_ends_at_len(const uint8_t *pkt, size_t len) {
        size_t pos = HEADER_SIZE;
        unsigned qd = (unsigned) pkt[4] << 8 | pkt[5];
        unsigned rr = ((unsigned) pkt[6] << 8 | pkt[7]) + ((unsigned) pkt[8] << 8 | pkt[9]) +
                      ((unsigned) pkt[10] << 8 | pkt[11]);
        for (unsigned i = 0; i < qd; i++) {
                if (!skip_name(pkt, len, &pos) || (pos += 4) > len)
                        return false;
        }
        for (unsigned i = 0; i < rr; i++) {
                if (!skip_name(pkt, len, &pos) || pos + 10 > len)
                        return false;
                pos += 10u + ((size_t) pkt[pos + 8] << 8 | pkt[pos + 9]);
                if (pos > len)
                        return false;
        }
        return pos == len;
}

/*
 * NULL if the request's TSIG verifies with key, else why not, with the
 * RFC 8945 §5.2 error for the answer's TSIG in *ret_error (0 when the answer
 * can carry none: the request is unsigned or its TSIG malformed). The order
 * is the RFC's: key, then MAC, then time, so only a genuine signature earns a
 * signed BADTIME.
 */
static const char *tsig_check(ldns_pkt *p, const uint8_t *pkt, size_t len, const NotifyKey *key, uint64_t now_sec,
                              uint16_t *ret_error) {
        ldns_rr *t = ldns_pkt_tsig(p);
        char alg[RECORDS_NAME_MAX];

        *ret_error = 0;
        if (!t)
                return "unsigned, but notify-key is set";
        if (ldns_rr_rd_count(t) < 7 || ldns_rdf_size(ldns_rr_rdf(t, 1)) != 6 ||
            ldns_rdf_get_type(ldns_rr_rdf(t, 0)) != LDNS_RDF_TYPE_DNAME)
                return "malformed TSIG";
        *ret_error = NOTIFY_TSIG_BADKEY;
        if (!rdf_is_name(ldns_rr_owner(t), key->name))
                return "signed with an unknown key";
        if (records_name_of_rdf(ldns_rr_rdf(t, 0), alg) < 0 || !streq(alg, key->algorithm))
                return "signed with another algorithm than the key's";
        *ret_error = NOTIFY_TSIG_BADSIG;
        if (!tsig_verify(p, pkt, len, key->name, key->secret, NULL))
                return "wrong TSIG signature";
        uint64_t signed_at = tsig_time(ldns_rr_rdf(t, 1));
        uint64_t fudge = MIN(ldns_rdf2native_int16(ldns_rr_rdf(t, 2)), (uint16_t) TSIG_FUDGE_MAX);
        *ret_error = NOTIFY_TSIG_BADTIME;
        if (signed_at + fudge < now_sec || signed_at > now_sec + fudge)
                return "TSIG time outside its fudge (clocks apart, or a replay)";
        *ret_error = 0;
        return NULL;
}

/* The SOA serial in the answer section, if it is the zone's. */
static bool soa_serial(const ldns_pkt *p, const char *zone, uint32_t *ret) {
        ldns_rr_list *an = ldns_pkt_answer(p);
        for (size_t i = 0; an && i < ldns_rr_list_rr_count(an); i++) {
                ldns_rr *rr = ldns_rr_list_rr(an, i);
                if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA || ldns_rr_rd_count(rr) < 3 ||
                    !rdf_is_name(ldns_rr_owner(rr), zone))
                        continue;
                const ldns_rdf *s = ldns_rr_rdf(rr, 2);
                if (ldns_rdf_size(s) != 4)
                        continue;
                *ret = ldns_rdf2native_int32(s);
                return true;
        }
        return false;
}

int notify_wire_handle(const uint8_t *pkt, size_t len, bool allowed, const NotifyKey *key, uint64_t now_sec,
                       NotifyRequest *ret) {
        _cleanup_(ldns_pkt_freep) ldns_pkt *p = NULL;
        NotifyRequest r = { .verdict = NOTIFY_DROPPED, .why = "shorter than a DNS header" };
        int k;

        if (len < HEADER_SIZE)
                goto done;
        r.id = (uint16_t) (pkt[0] << 8 | pkt[1]);
        if (pkt[2] & 0x80) {
                r.why = "a response, not a request";
                goto done;
        }
        if (ldns_wire2pkt(&p, pkt, len) != LDNS_STATUS_OK || !wire_ends_at_len(pkt, len)) {
                r.verdict = NOTIFY_MALFORMED;
                r.why = "malformed message";
                k = answer_header_only(pkt, LDNS_RCODE_FORMERR, &r);
                if (k < 0)
                        return k;
                goto done;
        }

        ldns_pkt_rcode rcode = LDNS_RCODE_NOERROR;
        const NotifyKey *sign = NULL;
        uint16_t tsig_error = 0;
        ldns_rr_list *q = ldns_pkt_question(p);
        ldns_rr *qrr = q && ldns_rr_list_rr_count(q) == 1 ? ldns_rr_list_rr(q, 0) : NULL;
        if (ldns_pkt_get_opcode(p) != LDNS_PACKET_NOTIFY) {
                r.verdict = NOTIFY_NOT_NOTIFY;
                r.why = "not a NOTIFY (another opcode)";
                rcode = LDNS_RCODE_NOTIMPL;
        } else if (!allowed) {
                r.verdict = NOTIFY_REFUSED;
                r.why = "source not in notify-allow";
                rcode = LDNS_RCODE_REFUSED;
        } else if (!qrr || ldns_rr_get_type(qrr) != LDNS_RR_TYPE_SOA || ldns_rr_get_class(qrr) != LDNS_RR_CLASS_IN ||
                   records_name_of_rdf(ldns_rr_owner(qrr), r.zone) < 0) {
                r.verdict = NOTIFY_MALFORMED;
                r.why = "not one question of class IN and type SOA";
                rcode = LDNS_RCODE_FORMERR;
        } else if (key && (r.why = tsig_check(p, pkt, len, key, now_sec, &tsig_error))) {
                r.verdict = NOTIFY_BAD_TSIG;
                rcode = LDNS_RCODE_NOTAUTH;
                r.tsig_error = tsig_error;
                /* BADTIME is signed (the MAC verified); BADKEY and BADSIG cannot be. */
                if (tsig_error == NOTIFY_TSIG_BADTIME)
                        sign = key;
        } else {
                r.verdict = NOTIFY_ACCEPTED;
                r.why = NULL;
                r.has_serial = soa_serial(p, r.zone, &r.serial);
                sign = key;
        }
        if (r.verdict != NOTIFY_ACCEPTED)
                r.zone[0] = 0;
        k = answer_build(p, rcode, sign, tsig_error, now_sec, &r);
        if (k < 0) {
                free(r.answer);
                return k;
        }
done:
        *ret = r;
        return 0;
}

void notify_request_done(NotifyRequest *r) {
        if (!r)
                return;
        free(r->answer);
        r->answer = NULL;
        r->answer_len = 0;
}

int notify_wire_answer_tsig(const uint8_t *request, size_t request_len, const uint8_t *answer, size_t answer_len,
                            const NotifyKey *key, NotifyAnswerTsig *ret) {
        _cleanup_(ldns_pkt_freep) ldns_pkt *q = NULL, *a = NULL;
        NotifyAnswerTsig r = {};
        ldns_status st;

        st = ldns_wire2pkt(&q, request, request_len);
        if (st == LDNS_STATUS_OK)
                st = ldns_wire2pkt(&a, answer, answer_len);
        if (st != LDNS_STATUS_OK)
                return records_errno_from_ldns(st) ?: -EBADMSG;
        ldns_rr *t = ldns_pkt_tsig(a), *qt = ldns_pkt_tsig(q);
        if (t && ldns_rr_rd_count(t) >= 7) {
                r.present = true;
                r.time_signed = tsig_time(ldns_rr_rdf(t, 1));
                r.error = ldns_rdf2native_int16(ldns_rr_rdf(t, 5));
                const ldns_rdf *other = ldns_rr_rdf(t, 6);
                if (ldns_rdf_size(other) == 8) { /* its length, then 6 bytes */
                        const uint8_t *w = ldns_rdf_data(other) + 2;
                        r.has_server_time = true;
                        for (size_t i = 0; i < 6; i++)
                                r.server_time = r.server_time << 8 | w[i];
                }
                if (key && qt && ldns_rr_rd_count(qt) >= 7)
                        r.verifies = tsig_verify(a, answer, answer_len, key->name, key->secret, ldns_rr_rdf(qt, 3));
        }
        *ret = r;
        return 0;
}

int notify_wire_build(uint16_t id, const char *zone, bool with_serial, uint32_t serial, const NotifyKey *key,
                      uint8_t **ret, size_t *ret_len) {
        _cleanup_(ldns_pkt_freep) ldns_pkt *p = ldns_pkt_new();
        _cleanup_(ldns_rdf_deep_freep) ldns_rdf *owner = NULL;
        char text[RECORDS_NAME_MAX + 1];
        ldns_status st;

        if (!p)
                return -ENOMEM;
        snprintf(text, sizeof text, "%s.", zone);
        owner = ldns_dname_new_frm_str(zone[0] ? text : ".");
        if (!owner)
                return -EINVAL;
        ldns_pkt_set_id(p, id);
        ldns_pkt_set_opcode(p, LDNS_PACKET_NOTIFY);
        ldns_pkt_set_aa(p, true);
        ldns_rr *qr = ldns_rr_new_frm_type(LDNS_RR_TYPE_SOA);
        if (!qr)
                return -ENOMEM;
        ldns_rr_set_question(qr, true);
        ldns_rr_set_owner(qr, ldns_rdf_clone(owner));
        ldns_rr_set_class(qr, LDNS_RR_CLASS_IN);
        if (!ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, qr)) {
                ldns_rr_free(qr);
                return -ENOMEM;
        }
        if (with_serial) {
                char soa[RECORDS_NAME_MAX * 3 + 64];
                ldns_rr *rr = NULL;
                snprintf(soa, sizeof soa, "%s 60 IN SOA ns.%s hostmaster.%s %" PRIu32 " 60 60 60 60", zone[0] ? text : ".",
                         zone[0] ? text : ".", zone[0] ? text : ".", serial);
                st = ldns_rr_new_frm_str(&rr, soa, 0, NULL, NULL);
                if (st != LDNS_STATUS_OK)
                        return records_errno_from_ldns(st);
                if (!ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr)) {
                        ldns_rr_free(rr);
                        return -ENOMEM;
                }
        }
        if (key) {
                st = tsig_sign(p, key->name, key->algorithm, key->secret, TSIG_FUDGE_MAX, NULL);
                if (st != LDNS_STATUS_OK)
                        return records_errno_from_ldns(st);
        }
        st = ldns_pkt2wire(ret, p, ret_len);
        return records_errno_from_ldns(st);
}
