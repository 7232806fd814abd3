/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maglev.h: builds a service's consistent-hash table (Maglev, Eisenbud et al., NSDI 2016), weighted and deterministic. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A backend that the table may hold: what identifies it on every host, its share, and its index in the extent. */
typedef struct MaglevInput {
        const char *target;     /* host name as published (no trailing dot); borrowed; NULL is "" */
        uint8_t family;         /* 4 or 6 */
        uint8_t addr[16];       /* network order; 4 bytes used for IPv4, the rest ignored */
        uint16_t port;
        uint32_t weight;        /* > 0: share of the entries, relative to the others */
        uint16_t index;         /* what the table's entries hold for it */
} MaglevInput;

/*
 * Fill table[size] from n members (1 <= n <= DD_BACKENDS_MAX, size a prime
 * up to DD_HASH_TABLE_MAX), as docs/cache-format.md specifies: the same
 * members, in any order, give the same table. Returns 0, or -EINVAL.
 */
int maglev_build(const MaglevInput *in, size_t n, uint32_t size, uint16_t *table);

/* A digest of everything maglev_build() reads (members in any order, size): equal digests, equal tables. */
uint64_t maglev_digest(const MaglevInput *in, size_t n, uint32_t size);

/* Whether n is prime (hash-table-size must be). */
bool maglev_is_prime(uint32_t n);
