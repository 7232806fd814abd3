/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* service-nodata.h: a service's memory of targets' families DNS said have no address, for their negative TTL. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "service-addrs.h"

/*
 * With family = any, glue of one family does not stand for the other, which
 * is asked for: for the usual A-only glue that is one AAAA query per target
 * and round, NODATA nearly always. The answer's negative TTL says how long
 * that holds, so rounds within it need not ask again. Entries are (target,
 * family, until) on CLOCK_BOOTTIME; a set holds those of one round's targets.
 */
typedef struct NodataSet {
        AddrSet s;                            /* entries without addresses: one block once sealed */
} NodataSet;

/* Until when the family (4 or 6) of name is known to have no address: 0 if not known. */
int64_t nodata_set_until(const NodataSet *s, const char *name, uint8_t family);
/* Remember it until until (µs, CLOCK_BOOTTIME); name is copied. Entries may be added in any
 * order; nodata_set_until() sees them once nodata_set_seal() sorted them. 0 or -ENOMEM. */
int nodata_set_add(NodataSet *s, const char *name, uint8_t family, int64_t until);
void nodata_set_seal(NodataSet *s);
/* Frees the entries; *s is then empty. */
void nodata_set_clear(NodataSet *s);
/* *dst becomes *src (taken over: *src is left empty), what *dst held is freed. */
void nodata_set_move(NodataSet *dst, NodataSet *src);
