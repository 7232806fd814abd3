/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cache-writer-hash.c: a service's Maglev table in its extent, over the backends its schedule picks. */
#include "cache-writer-internal.h"
#include "maglev.h"

/*
 * The members are the schedule's backends and their weights are their slot
 * counts in it: the table follows every rule the schedule follows (priority
 * tier, health, weight 0, panic, how an SRV record's weight is split over
 * its addresses) without restating any of them.
 */
static size_t hash_members(const CacheWriter *w, const PubService *svc, MaglevInput *m) {
        uint32_t count[DD_BACKENDS_MAX] = {};
        size_t k = 0;

        for (size_t s = 0; s < w->sched.len; s++)
                count[w->sched.slots[s]]++;
        for (size_t e = 0; e < w->sched.n_eligible; e++) {
                uint16_t i = w->sched.eligible[e];
                const PubBackend *b = &svc->backends[i];

                m[k] = (MaglevInput) {
                        .target = b->target,
                        .family = b->family,
                        .port = b->port,
                        .weight = count[i],
                        .index = i,
                };
                memcpy(m[k].addr, b->addr, sizeof m[k].addr);
                k++;
        }
        return k;
}

int extent_add_hash_table(CacheWriter *w, const PubService *svc, size_t size) {
        MaglevInput m[DD_BACKENDS_MAX];
        uint32_t entries = svc->hash_table_size;
        uint16_t *table;
        uint64_t digest;
        size_t k, off;
        int idx, r;

        w->hash = (HashTable) {};
        if (entries == 0)
                return (int) size;
        w->hash.kind = DD_HASH_MAGLEV;
        k = hash_members(w, svc, m);
        if (k == 0)
                return (int) size; /* nothing to pick: a table of no entries */

        off = round_up8(size);
        memset(w->buf + size, 0, off - size);
        table = (uint16_t *) (w->buf + off);
        digest = maglev_digest(m, k, entries);

        /* Building costs milliseconds; most publishes (TTLs, check statistics) keep the input. */
        idx = slot_find(w, svc->name, name_hash(svc->name));
        if (idx >= 0) {
                const dd_service *s = slot_at(&w->f, (uint32_t) idx);

                if (s->hash_kind == DD_HASH_MAGLEV && s->hash_table_size == entries && s->hash_digest == digest &&
                    dd_hash_table_ok(s->extent_size, s->n_backends, s->sched_len, s->n_eligible, s->hash_table_off,
                                     entries)) {
                        memcpy(table, extent_at(&w->f, s) + s->hash_table_off, (size_t) entries * sizeof(uint16_t));
                        goto done;
                }
        }
        r = maglev_build(m, k, entries, table);
        if (r < 0)
                return r;
done:
        w->hash.size = entries;
        w->hash.off = (uint32_t) off;
        w->hash.digest = digest;
        return (int) (off + (size_t) entries * sizeof(uint16_t));
}
