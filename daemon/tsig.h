/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tsig.h: a TSIG key (RFC 8945) as ldns signs and verifies with it, for the wire files (notify-wire.c, update-wire.c); names ldns types, so only they include it. */
#pragma once

#include <ldns/ldns.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Sign p with the key: key_name and algorithm as the daemon keeps them
 * (normalised, no trailing dot), secret in base64. request_mac: the MAC of
 * the request p answers (NULL for a request). ldns's status, for the
 * caller to convert: what a bad key name means depends on where it came from.
 */
ldns_status tsig_sign(ldns_pkt *p, const char *key_name, const char *algorithm, const char *secret, uint16_t fudge,
                      const ldns_rdf *request_mac);

/* Whether p, parsed from wire[len], carries a TSIG of the key that verifies (request_mac as for tsig_sign()). */
bool tsig_verify(ldns_pkt *p, const uint8_t *wire, size_t len, const char *key_name, const char *secret,
                 const ldns_rdf *request_mac);
