/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* service-addrs.h: a service's memory of glued targets' own address answers, for their own TTL. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "records.h"

/*
 * Glue is a hint: a target's own A/AAAA answer is what its zone says. So a
 * glued target's own answer is asked for and, once in, replaces the glue of
 * that family until its own TTL (clamped) runs out; rounds within it need not
 * ask again. Entries are (target, family, until, addresses) on CLOCK_BOOTTIME,
 * an answer without address being an entry with none; a set holds those of
 * one round's chosen targets.
 */
typedef struct AddrSet {
        struct AddrEntry *e;                  /* sorted by (name, family) once sealed */
        char *pool;                           /* the entries' names and addresses */
        uint32_t n, n_allocated;              /* 32 bits: every service holds two sets */
        uint32_t pool_used, pool_size;
        bool packed;                          /* sealed into one block: e, then pool */
} AddrSet;

/* The own answer for the family (4 or 6) of name: its until (µs, CLOCK_BOOTTIME) and its
 * addresses (*ret_addrs owned by s, valid until s changes; NULL when there are none), or 0
 * and nothing set if not known. */
int64_t addr_set_find(const AddrSet *s, const char *name, uint8_t family, const RecAddr **ret_addrs, size_t *ret_n);
/* Remember it until until; name and addrs are copied. Entries may be added in any order;
 * addr_set_find() sees them once addr_set_seal() sorted them. 0, -ENOMEM, or -EINVAL once
 * sealed. An entry with n = 0 is an answer without address. */
int addr_set_add(AddrSet *s, const char *name, uint8_t family, int64_t until, const RecAddr *addrs, size_t n);
/* Sort, and pack into one allocation of the size the entries need. */
void addr_set_seal(AddrSet *s);
/* Frees the entries; *s is then empty. */
void addr_set_clear(AddrSet *s);
/* *dst becomes *src (taken over: *src is left empty), what *dst held is freed. */
void addr_set_move(AddrSet *dst, AddrSet *src);
