/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* service-nodata.c: a service's memory of targets' families DNS said have no address, for their negative TTL. */
#include "service-nodata.h"

int64_t nodata_set_until(const NodataSet *s, const char *name, uint8_t family) {
        const RecAddr *addrs;
        size_t n;
        return addr_set_find(&s->s, name, family, &addrs, &n);
}

int nodata_set_add(NodataSet *s, const char *name, uint8_t family, int64_t until) {
        return addr_set_add(&s->s, name, family, until, NULL, 0);
}

void nodata_set_seal(NodataSet *s) {
        addr_set_seal(&s->s);
}

void nodata_set_clear(NodataSet *s) {
        addr_set_clear(&s->s);
}

void nodata_set_move(NodataSet *dst, NodataSet *src) {
        addr_set_move(&dst->s, &src->s);
}
