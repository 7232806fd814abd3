/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maglev.c: a service's Maglev table: weighted, deterministic across hosts and restarts (docs/cache-format.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL /* header-only: no run-time dependency on libxxhash */
#include <xxhash.h>

#include "cache-def.h"
#include "maglev.h"

/* The identity that a backend's permutation hashes: target, NUL, family, 16 address bytes, port big-endian. */
#define ID_MAX (DD_TARGET_MAX + 1 + 16 + 2)

typedef struct Member {
        const MaglevInput *in;
        uint64_t credit;        /* iterations times weight it has been paid for */
        uint32_t pos;           /* next candidate entry: offset + j * skip mod size */
        uint32_t skip;
} Member;

static size_t member_id(const MaglevInput *in, uint8_t id[static ID_MAX]) {
        const char *t = in->target ?: "";
        size_t l = strnlen(t, DD_TARGET_MAX - 1);

        memcpy(id, t, l);
        id[l++] = 0;
        id[l++] = in->family;
        memset(id + l, 0, 16);
        memcpy(id + l, in->addr, in->family == 6 ? 16 : 4);
        l += 16;
        id[l++] = (uint8_t) (in->port >> 8);
        id[l++] = (uint8_t) in->port;
        return l;
}

static int member_cmp(const void *a, const void *b) {
        uint8_t x[ID_MAX], y[ID_MAX];
        size_t lx = member_id(((const Member *) a)->in, x), ly = member_id(((const Member *) b)->in, y);
        int c = memcmp(x, y, lx < ly ? lx : ly);

        return c != 0 ? c : (lx > ly) - (lx < ly);
}

bool maglev_is_prime(uint32_t n) {
        if (n < 2)
                return false;
        for (uint32_t d = 2; d * d <= n; d++)
                if (n % d == 0)
                        return false;
        return true;
}

static int members_sort(const MaglevInput *in, size_t n, Member *m) {
        if (n == 0 || n > DD_BACKENDS_MAX || !in)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (in[i].weight == 0 || (in[i].family != 4 && in[i].family != 6))
                        return -EINVAL;
                m[i] = (Member) { .in = &in[i] };
        }
        /* Input order must not matter: another daemon may list the same backends differently. */
        qsort(m, n, sizeof(Member), member_cmp);
        return 0;
}

uint64_t maglev_digest(const MaglevInput *in, size_t n, uint32_t size) {
        Member m[DD_BACKENDS_MAX];
        XXH64_state_t st;
        uint8_t id[ID_MAX];

        if (members_sort(in, n, m) < 0)
                return 0;
        XXH64_reset(&st, 0);
        XXH64_update(&st, &size, sizeof size);
        for (size_t i = 0; i < n; i++) {
                size_t l = member_id(m[i].in, id);
                XXH64_update(&st, id, l);
                XXH64_update(&st, &m[i].in->weight, sizeof m[i].in->weight);
                XXH64_update(&st, &m[i].in->index, sizeof m[i].in->index);
        }
        return XXH64_digest(&st) | 1;
}

/*
 * The paper's population loop, weighted as Envoy weights it: members take
 * turns in identity order; in iteration t a member of weight w takes its
 * next free preferred entry when t * w has reached what it has been paid
 * (max weight per entry taken), so its share of entries is w / sum(w)
 * within a few entries. Integers only: every host computes the same table.
 */
int maglev_build(const MaglevInput *in, size_t n, uint32_t size, uint16_t *table) {
        Member m[DD_BACKENDS_MAX];
        uint32_t max_w = 0, filled = 0;
        uint8_t id[ID_MAX];
        int r;

        r = members_sort(in, n, m);
        if (r < 0)
                return r;
        if (!table || size < 2 || size > DD_HASH_TABLE_MAX || !maglev_is_prime(size))
                return -EINVAL;

        for (size_t i = 0; i < n; i++) {
                size_t l = member_id(m[i].in, id);
                m[i].pos = (uint32_t) (XXH64(id, l, 0) % size);
                m[i].skip = (uint32_t) (XXH64(id, l, 1) % (size - 1)) + 1;
                if (m[i].in->weight > max_w)
                        max_w = m[i].in->weight;
        }

        /* 0xffff marks a free entry: no backend index reaches it (DD_BACKENDS_MAX). */
        memset(table, 0xff, (size_t) size * sizeof(uint16_t));
        for (uint64_t t = 1; filled < size; t++)
                for (size_t i = 0; i < n && filled < size; i++) {
                        Member *x = &m[i];

                        if (t * x->in->weight < x->credit)
                                continue;
                        x->credit += max_w;
                        /* skip < size and size is prime: the walk visits every entry, so it ends. */
                        while (table[x->pos] != 0xffff)
                                x->pos = x->pos + x->skip >= size ? x->pos + x->skip - size : x->pos + x->skip;
                        table[x->pos] = x->in->index;
                        filled++;
                        x->pos = x->pos + x->skip >= size ? x->pos + x->skip - size : x->pos + x->skip;
                }
        return 0;
}
