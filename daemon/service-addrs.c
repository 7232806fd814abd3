/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* service-addrs.c: a service's memory of glued targets' own address answers, for their own TTL. */
#include <stdalign.h>

#include "service-addrs.h"
#include "util.h"

/* Names and addresses live in the set's pool: a sealed set is one allocation, since every
 * service keeps one or two of them and a round replaces them (docs/performance.md, memory). */
typedef struct AddrEntry {
        int64_t until;
        uint32_t name;     /* offset in pool */
        uint32_t addrs;    /* offset in pool, RecAddr-aligned */
        uint32_t n_addrs;
        uint8_t family;
} AddrEntry;

static int entry_cmp(const void *a, const void *b, void *userdata) {
        const AddrEntry *x = a, *y = b;
        const char *pool = userdata;
        int c = strcmp(pool + x->name, pool + y->name);
        if (c != 0)
                return c;
        return x->family < y->family ? -1 : x->family > y->family;
}

int64_t addr_set_find(const AddrSet *s, const char *name, uint8_t family, const RecAddr **ret_addrs, size_t *ret_n) {
        size_t lo = 0, hi = s->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                const AddrEntry *e = &s->e[mid];
                int c = strcmp(name, s->pool + e->name);
                if (c == 0)
                        c = family < e->family ? -1 : family > e->family;
                if (c == 0) {
                        *ret_addrs = e->n_addrs > 0 ? (const RecAddr *) (const void *) (s->pool + e->addrs) : NULL;
                        *ret_n = e->n_addrs;
                        return e->until;
                }
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return 0;
}

/* Room for len more bytes in the pool, after padding it to align; the offset, or -ENOMEM. */
static int64_t pool_take(AddrSet *s, size_t len, size_t align) {
        size_t off = (s->pool_used + align - 1) & ~(align - 1);
        if (off + len > UINT32_MAX)
                return -ENOMEM;
        if (off + len > s->pool_size) {
                size_t m = MIN(MAX(MAX((size_t) s->pool_size * 2, off + len), (size_t) 128), (size_t) UINT32_MAX);
                char *p = realloc(s->pool, m);
                if (!p)
                        return -ENOMEM;
                s->pool = p;
                s->pool_size = (uint32_t) m;
        }
        s->pool_used = (uint32_t) (off + len);
        return (int64_t) off;
}

int addr_set_add(AddrSet *s, const char *name, uint8_t family, int64_t until, const RecAddr *addrs, size_t n) {
        size_t len = strlen(name) + 1;
        int64_t name_off, addrs_off = 0;

        if (s->packed)
                return -EINVAL;
        if (n > UINT32_MAX)
                return -ENOMEM;
        if (s->n == s->n_allocated) {
                if (s->n_allocated > UINT32_MAX / 2)
                        return -ENOMEM;
                uint32_t m = MAX(s->n_allocated * 2, 8u);
                AddrEntry *ne = reallocarray(s->e, m, sizeof *ne);
                if (!ne)
                        return -ENOMEM;
                s->e = ne;
                s->n_allocated = m;
        }
        name_off = pool_take(s, len, 1);
        if (name_off < 0)
                return (int) name_off;
        memcpy(s->pool + name_off, name, len);
        if (n > 0) {
                addrs_off = pool_take(s, n * sizeof *addrs, alignof(RecAddr));
                if (addrs_off < 0)
                        return (int) addrs_off;
                memcpy(s->pool + addrs_off, addrs, n * sizeof *addrs);
        }
        s->e[s->n++] = (AddrEntry) { .until = until, .name = (uint32_t) name_off, .addrs = (uint32_t) addrs_off,
                                     .n_addrs = (uint32_t) n, .family = family };
        return 0;
}

void addr_set_seal(AddrSet *s) {
        if (s->packed)
                return;
        sort_r(s->e, s->n, sizeof *s->e, entry_cmp, s->pool);
        if (s->n == 0) {
                addr_set_clear(s);
                return;
        }
        /* Entries then pool, exactly as large as they are: one block for as long as the set
         * lives. Out of memory, the set stays in its two blocks, sorted all the same. */
        size_t entries = s->n * sizeof *s->e;
        AddrEntry *block = malloc(entries + s->pool_used);
        if (!block)
                return;
        memcpy(block, s->e, entries);
        memcpy((char *) block + entries, s->pool, s->pool_used);
        free(s->e);
        free(s->pool);
        s->e = block;
        s->pool = (char *) block + entries;
        s->n_allocated = s->n;
        s->pool_size = s->pool_used;
        s->packed = true;
}

void addr_set_clear(AddrSet *s) {
        if (!s->packed)
                free(s->pool);
        free(s->e);
        *s = (AddrSet) {};
}

void addr_set_move(AddrSet *dst, AddrSet *src) {
        addr_set_clear(dst);
        *dst = *src;
        *src = (AddrSet) {};
}
