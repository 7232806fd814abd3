/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tsig.c: a TSIG key (RFC 8945) as ldns signs and verifies with it: names made absolute, one place for the wire files. */
#include <stdio.h>

#include "records.h"
#include "tsig.h"

/* ldns takes the key's and the algorithm's names as absolute names. */
ldns_status tsig_sign(ldns_pkt *p, const char *key_name, const char *algorithm, const char *secret, uint16_t fudge,
                      const ldns_rdf *request_mac) {
        char name[RECORDS_NAME_MAX + 1], alg[40];

        snprintf(name, sizeof name, "%s.", key_name);
        snprintf(alg, sizeof alg, "%s.", algorithm);
        return ldns_pkt_tsig_sign(p, name, secret, fudge, alg, request_mac);
}

bool tsig_verify(ldns_pkt *p, const uint8_t *wire, size_t len, const char *key_name, const char *secret,
                 const ldns_rdf *request_mac) {
        char name[RECORDS_NAME_MAX + 1];

        snprintf(name, sizeof name, "%s.", key_name);
        return ldns_pkt_tsig_verify(p, wire, len, name, secret, request_mac);
}
