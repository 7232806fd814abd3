/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-records.c: libFuzzer target: arbitrary bytes as the DNS answer to a fixed SRV, A and AAAA question, and as the answer to a DNS UPDATE (update-wire.c). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz-driver.h"
#include "records.h"
#include "update-wire.h"

/* The seeds in corpus-records/ answer this name (tests/fuzz/mkseeds.py). */
#define QNAME "_http._tcp.svc.example.com"

#define TTL_SANE(t) ((t) < UINT32_C(0x80000000))

/* A name the parser hands out is queried or compared next: it must be normalised already. */
static void check_name(const char *s) {
        char again[RECORDS_NAME_MAX];

        FUZZ_ASSERT(memchr(s, 0, RECORDS_NAME_MAX));
        FUZZ_ASSERT(s[0] != '\0');
        FUZZ_ASSERT(records_normalize_name(s, again, sizeof again) == 0);
        FUZZ_ASSERT(strcmp(s, again) == 0);
}

static void check_addr(const RecAddr *a, uint8_t family) {
        FUZZ_ASSERT(a->family == family);
        FUZZ_ASSERT(TTL_SANE(a->ttl));
}

static void check_answer(const uint8_t *pkt, const RecAnswer *a, uint16_t qtype) {
        unsigned rcode = pkt[3] & 0x0f;

        FUZZ_ASSERT(a->truncated == !!(pkt[2] & 0x02));
        FUZZ_ASSERT(a->cname_depth <= RECORDS_CNAME_DEPTH_MAX);
        FUZZ_ASSERT((a->cname_depth == 0) == (a->chain_ttl == UINT32_MAX));
        FUZZ_ASSERT(a->cname_depth == 0 || TTL_SANE(a->chain_ttl));
        FUZZ_ASSERT(TTL_SANE(a->negative_ttl));
        FUZZ_ASSERT(a->n_srv <= RECORDS_ENTRIES_MAX && a->n_addrs <= RECORDS_ENTRIES_MAX &&
                    a->n_glue <= RECORDS_ENTRIES_MAX);

        switch (a->kind) {
        case RECORDS_ANSWER:
                FUZZ_ASSERT(rcode == 0);
                if (qtype == RECORDS_TYPE_SRV) {
                        FUZZ_ASSERT(a->n_addrs == 0);
                        FUZZ_ASSERT(!a->srv_unavailable || a->n_srv == 0);
                        for (size_t i = 0; i < a->n_srv; i++) {
                                check_name(a->srv[i].target);
                                FUZZ_ASSERT(TTL_SANE(a->srv[i].ttl));
                        }
                        /* Glue is only ever kept for a target we were given. */
                        for (size_t i = 0; i < a->n_glue; i++) {
                                bool found = false;

                                check_name(a->glue[i].name);
                                FUZZ_ASSERT(a->glue[i].addr.family == 4 || a->glue[i].addr.family == 6);
                                FUZZ_ASSERT(TTL_SANE(a->glue[i].addr.ttl));
                                for (size_t j = 0; j < a->n_srv && !found; j++)
                                        found = strcmp(a->glue[i].name, a->srv[j].target) == 0;
                                FUZZ_ASSERT(found);
                        }
                } else {
                        /* Records of the asked type were there, and each one parsed. */
                        FUZZ_ASSERT(a->n_addrs > 0);
                        FUZZ_ASSERT(a->n_srv == 0 && a->n_glue == 0 && !a->srv_unavailable);
                        for (size_t i = 0; i < a->n_addrs; i++)
                                check_addr(&a->addrs[i], qtype == RECORDS_TYPE_A ? 4 : 6);
                }
                break;
        case RECORDS_CNAME_ONLY:
                FUZZ_ASSERT(rcode == 0);
                FUZZ_ASSERT(a->cname_depth > 0);
                check_name(a->cname_target);
                break;
        case RECORDS_NODATA:
                FUZZ_ASSERT(rcode == 0 && a->cname_depth == 0);
                break;
        case RECORDS_NXDOMAIN:
                FUZZ_ASSERT(rcode == 3);
                break;
        case RECORDS_SERVFAIL:
                FUZZ_ASSERT(rcode == 2);
                break;
        case RECORDS_REFUSED:
                FUZZ_ASSERT(rcode != 0 && rcode != 2 && rcode != 3);
                break;
        default:
                FUZZ_ASSERT(!"unknown RecordsKind");
        }
        if (a->kind != RECORDS_ANSWER)
                FUZZ_ASSERT(a->n_srv == 0 && a->n_addrs == 0 && a->n_glue == 0);
}

/* The registration agent's view of the same bytes as an answer to its UPDATE of example.com. */
static void check_update_answer(const uint8_t *data, size_t size) {
        static const UpdateKey key = { "reg", "hmac-sha256", "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==" };
        static const UpdateMac mac = { .data = { 0, 32 }, .len = 34 };
        const char *why = NULL;
        int r = update_wire_check(data, size, "example.com", NULL, NULL, &why);

        FUZZ_ASSERT(r == -EBADMSG || r == -ENOMEM || (r >= 0 && r <= 15));
        FUZZ_ASSERT(r != -EBADMSG || why != NULL);
        why = NULL;
        r = update_wire_check(data, size, "example.com", &key, &mac, &why);
        FUZZ_ASSERT(r == -EBADMSG || r == -ENOMEM || (r > 0 && r <= 18));
        /* No input passes for a signed success, or for the prerequisite answers that steer the agent,
         * without the key's MAC: the fuzzer does not know the secret. */
        FUZZ_ASSERT(r != UPDATE_RCODE_NOERROR && r != UPDATE_RCODE_YXRRSET && r != UPDATE_RCODE_NXRRSET);
        FUZZ_ASSERT(r != -EBADMSG || why != NULL);

        char zone[RECORDS_NAME_MAX], mname[RECORDS_NAME_MAX];
        r = update_wire_soa(data, size, zone, mname);
        FUZZ_ASSERT(r == 0 || r == -ENOENT || r == -EBADMSG || r == -ENOMEM);
        if (r == 0) {
                FUZZ_ASSERT(memchr(zone, 0, RECORDS_NAME_MAX) && memchr(mname, 0, RECORDS_NAME_MAX));
                if (zone[0])
                        check_name(zone);
                if (mname[0])
                        check_name(mname);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        check_update_answer(data, size);

        static const uint16_t qtypes[] = { RECORDS_TYPE_SRV, RECORDS_TYPE_A, RECORDS_TYPE_AAAA };
        unsigned parsed = 0;

        for (size_t i = 0; i < sizeof qtypes / sizeof qtypes[0]; i++) {
                RecAnswer *a = NULL;
                int r = records_parse(data, size, QNAME, qtypes[i], &a);

                FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -ELOOP || r == -ENOMEM);
                FUZZ_ASSERT((r == 0) == (a != NULL));
                if (r < 0)
                        continue;
                FUZZ_ASSERT(size >= 12);
                check_answer(data, a, qtypes[i]);
                rec_answer_free(a);
                parsed++;
        }
        /* The question section holds one type: at most one question matches it. */
        FUZZ_ASSERT(parsed <= 1);
        return 0;
}
