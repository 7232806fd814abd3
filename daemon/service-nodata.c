/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* service-nodata.c: a service's memory of targets' families DNS said have no address, for their negative TTL. */
#include "service-nodata.h"
#include "util.h"

typedef struct NodataEntry {
        char *name;
        uint8_t family;
        int64_t until;
} NodataEntry;

static int entry_cmp(const void *a, const void *b) {
        const NodataEntry *x = a, *y = b;
        int c = strcmp(x->name, y->name);
        if (c != 0)
                return c;
        return x->family < y->family ? -1 : x->family > y->family;
}

int64_t nodata_set_until(const NodataSet *s, const char *name, uint8_t family) {
        NodataEntry key = { .name = (char *) name, .family = family };
        const NodataEntry *e;

        if (s->n == 0)
                return 0;
        e = bsearch(&key, s->e, s->n, sizeof *s->e, entry_cmp);
        return e ? e->until : 0;
}

int nodata_set_add(NodataSet *s, const char *name, uint8_t family, int64_t until) {
        if (s->n == s->n_allocated) {
                size_t m = MAX(s->n_allocated * 2, (size_t) 8);
                NodataEntry *ne = reallocarray(s->e, m, sizeof *ne);
                if (!ne)
                        return -ENOMEM;
                s->e = ne;
                s->n_allocated = m;
        }
        char *d = strdup(name);
        if (!d)
                return -ENOMEM;
        s->e[s->n++] = (NodataEntry) { .name = d, .family = family, .until = until };
        return 0;
}

void nodata_set_seal(NodataSet *s) {
        sort(s->e, s->n, sizeof *s->e, entry_cmp);
}

void nodata_set_clear(NodataSet *s) {
        for (size_t i = 0; i < s->n; i++)
                free(s->e[i].name);
        free(s->e);
        *s = (NodataSet) {};
}

void nodata_set_move(NodataSet *dst, NodataSet *src) {
        nodata_set_clear(dst);
        *dst = *src;
        *src = (NodataSet) {};
}
