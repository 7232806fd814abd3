/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* service-addrs.c: a service's memory of glued targets' own address answers, for their own TTL. */
#include "service-addrs.h"
#include "util.h"

typedef struct AddrEntry {
        char *name;
        uint8_t family;
        int64_t until;
        RecAddr *addrs;
        size_t n_addrs;
} AddrEntry;

static int entry_cmp(const void *a, const void *b) {
        const AddrEntry *x = a, *y = b;
        int c = strcmp(x->name, y->name);
        if (c != 0)
                return c;
        return x->family < y->family ? -1 : x->family > y->family;
}

int64_t addr_set_find(const AddrSet *s, const char *name, uint8_t family, const RecAddr **ret_addrs, size_t *ret_n) {
        AddrEntry key = { .name = (char *) name, .family = family };
        const AddrEntry *e;

        if (s->n == 0)
                return 0;
        e = bsearch(&key, s->e, s->n, sizeof *s->e, entry_cmp);
        if (!e)
                return 0;
        *ret_addrs = e->addrs;
        *ret_n = e->n_addrs;
        return e->until;
}

int addr_set_add(AddrSet *s, const char *name, uint8_t family, int64_t until, const RecAddr *addrs, size_t n) {
        _cleanup_free_ char *d = NULL;
        _cleanup_free_ RecAddr *copy = NULL;

        if (s->n == s->n_allocated) {
                size_t m = MAX(s->n_allocated * 2, (size_t) 8);
                AddrEntry *ne = reallocarray(s->e, m, sizeof *ne);
                if (!ne)
                        return -ENOMEM;
                s->e = ne;
                s->n_allocated = m;
        }
        d = strdup(name);
        if (!d)
                return -ENOMEM;
        if (n > 0) {
                copy = reallocarray(NULL, n, sizeof *copy);
                if (!copy)
                        return -ENOMEM;
                memcpy(copy, addrs, n * sizeof *copy);
        }
        s->e[s->n++] = (AddrEntry) { .name = TAKE_PTR(d), .family = family, .until = until,
                                     .addrs = TAKE_PTR(copy), .n_addrs = n };
        return 0;
}

void addr_set_seal(AddrSet *s) {
        sort(s->e, s->n, sizeof *s->e, entry_cmp);
}

void addr_set_clear(AddrSet *s) {
        for (size_t i = 0; i < s->n; i++) {
                free(s->e[i].name);
                free(s->e[i].addrs);
        }
        free(s->e);
        *s = (AddrSet) {};
}

void addr_set_move(AddrSet *dst, AddrSet *src) {
        addr_set_clear(dst);
        *dst = *src;
        *src = (AddrSet) {};
}
