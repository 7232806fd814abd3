/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pick-hash.c: consistent hashing: the key hash, and picks through the Maglev table dnsdiscd publishes per service. */
#include <errno.h>
#include <string.h>

#define XXH_INLINE_ALL /* header-only: libdnsdisc gains no run-time dependency */
#include <xxhash.h>

#include "cursor.h"
#include "internal.h"
#include "pick-out.h"

__thread dd_policy_cursor dd_hash_cursors[DD_POLICY_CURSORS];

/* A slot's hash-table fields, read with its view inside the seqlock section. */
typedef struct dd_hash_view {
        uint32_t size, off;
        uint8_t kind;
} dd_hash_view;

static inline void dd_hash_view_read(const dd_service *slot, dd_hash_view *v) {
        v->kind = DD_READ(slot->hash_kind);
        v->size = DD_READ(slot->hash_table_size);
        v->off = DD_READ(slot->hash_table_off);
}

_public_ uint64_t dnsdisc_hash(const void *data, size_t len) {
        return XXH64(len > 0 ? data : "", len, 0);
}

/*
 * The table entry's backend, or, when this process quarantined it, the
 * backend of the next entry (wrapping) that is not quarantined: only the
 * quarantined backend's keys move. When every scheduled backend is
 * quarantined, the entry's own backend (a quarantine never leaves nothing).
 * -EBADMSG for an index out of range (the caller rechecks the seqlock).
 */
_seqlock_reader_ static int dd_hash_skip_quarantined(dnsdisc_service *s, const dd_backend *backends, uint32_t nb,
                                                     const uint16_t *eligible, uint32_t ne, const uint16_t *table,
                                                     uint32_t size, uint32_t entry, uint32_t *ret_backend) {
        uint64_t now = dd_monotonic_usec();
        uint32_t i = DD_READ(table[entry]);
        bool any = false;

        dd_quarantine_expire(s, now);
        if (i >= nb)
                return -EBADMSG;
        if (!dd_quarantined(s, DD_READ(backends[i].key), now))
                goto done;
        for (uint32_t e = 0; e < ne && !any; e++) {
                uint32_t j = DD_READ(eligible[e]);
                if (j >= nb)
                        return -EBADMSG;
                any = !dd_quarantined(s, DD_READ(backends[j].key), now);
        }
        /* With a backend left, the walk ends within one pass over the table. */
        for (uint32_t step = 1; any && step < size; step++) {
                uint32_t e = entry + step < size ? entry + step : entry + step - size;
                uint32_t j = DD_READ(table[e]);
                if (j >= nb)
                        return -EBADMSG;
                if (!dd_quarantined(s, DD_READ(backends[j].key), now)) {
                        i = j;
                        break;
                }
        }
done:
        *ret_backend = i;
        return 0;
}

_seqlock_reader_ static __attribute__((noinline, cold))
int dd_pick_hash_slow(dnsdisc_service *s, uint64_t key, dnsdisc_endpoint *ret) {
        dd_policy_cursor *c = dd_hash_cursor_of(s);
        unsigned rebinds = 0;
        int r;

        /* A writer that died publishes nothing that would send picks here: look for its successor. */
        dd_look_if_due(s->d);
        for (unsigned attempt = 0; attempt < DD_READ_RETRIES; attempt++) {
                const dd_backend *backends;
                const uint16_t *table;
                const dd_service *slot;
                uint32_t seq, nb, entry, i;
                uint64_t pick_key;
                dd_hash_view h;
                dd_slot_view v;
                dd_pickout o;
                dd_binding b;
                bool bad;

                pick_key = atomic_load_explicit(&s->pick_key, memory_order_acquire);
                dd_binding_get(s, &b);
                slot = b.slot;
                if (!dd_slot_read_begin(&b, &v, &seq))
                        continue;
                dd_hash_view_read(slot, &h);
                r = dd_slot_read_end(s, &b, &v, seq, &rebinds);
                if (r > 0)
                        continue;
                if (r < 0)
                        return r;
                if (!dd_slot_view_ok(&b, &v))
                        return -EBADMSG;
                /* Unknown kinds (a newer writer's) are not guessed at either. */
                if (h.kind != DD_HASH_MAGLEV)
                        return -EOPNOTSUPP;
                nb = v.n_backends;
                if (h.size == 0 || v.sched_len == 0)
                        return -EHOSTUNREACH;
                if (!dd_hash_table_ok(v.extent_size, nb, v.sched_len, v.n_eligible, h.off, h.size))
                        return -EBADMSG;

                backends = dd_extent_backends(b.map->header, v.extent_offset);
                table = dd_extent_hash_table(b.map->header, v.extent_offset, h.off);
                /* The fast path copies addrlen unchecked: check them all once per fill. */
                if (c->key != pick_key || c->seq != seq || c->slot != slot) {
                        bad = dd_addrlen_bad(backends, nb);
                        if (dd_seq_retry(slot, seq))
                                continue;
                        if (bad)
                                return -EBADMSG;
                }
                if (pick_key != dd_pick_key(b.uid))
                        c->key = 0; /* a quarantine to skip, or a retired mapping: no fast path */
                else
                        *c = (dd_policy_cursor) { .key = pick_key, .slot = slot, .backends = backends, .list = table,
                                                  .seq = seq, .len = h.size, .n_backends = nb };

                entry = dd_hash_entry(key, h.size);
                if (pick_key & DD_KEY_QMASK)
                        r = dd_hash_skip_quarantined(s, backends, nb,
                                                     dd_extent_eligible(b.map->header, v.extent_offset, nb, v.sched_len),
                                                     v.n_eligible, table, h.size, entry, &i);
                else {
                        i = DD_READ(table[entry]);
                        r = i < nb ? 0 : -EBADMSG;
                }
                if (r < 0) {
                        if (dd_seq_retry(slot, seq))
                                continue;
                        return r;
                }
                dd_pickout_read(&o, backends + i);
                if (dd_seq_retry(slot, seq))
                        continue;
                dd_pickout_write(ret, &o, s, slot, i);
                return 0;
        }
        return -EAGAIN;
}

/* One hash-to-entry step, one table load, the copy and the seqlock recheck (see dnsdisc_pick()). */
_seqlock_reader_ _public_ int dnsdisc_pick_hash(dnsdisc_service *s, uint64_t key, dnsdisc_endpoint *ret) {
        const dd_policy_cursor *c = dd_hash_cursor_of(s);
        const dd_service *slot = c->slot;
        unsigned i;
        dd_pickout o;

        if (dd_unlikely(atomic_load_explicit(&s->pick_key, memory_order_relaxed) != c->key))
                return dd_pick_hash_slow(s, key, ret);
        i = DD_READ(c->list[dd_hash_entry(key, c->len)]);
        if (dd_unlikely(i >= c->n_backends))
                return dd_pick_hash_slow(s, key, ret);
        dd_pickout_read(&o, c->backends + i);
        dd_fence(memory_order_acquire);
        if (dd_unlikely(atomic_load_explicit(&slot->seq, memory_order_relaxed) != c->seq))
                return dd_pick_hash_slow(s, key, ret);
        dd_pickout_write(ret, &o, s, slot, i);
        return 0;
}

_seqlock_reader_ _public_ int dnsdisc_hash_table_size(dnsdisc_service *s, uint32_t *ret_size) {
        unsigned rebinds = 0;
        int r;

        if (!s || !ret_size)
                return -EINVAL;
        for (unsigned attempt = 0; attempt < DD_READ_RETRIES; attempt++) {
                uint32_t seq;
                dd_hash_view h;
                dd_slot_view v;
                dd_binding b;

                dd_binding_get(s, &b);
                if (!dd_slot_read_begin(&b, &v, &seq))
                        continue;
                dd_hash_view_read(b.slot, &h);
                r = dd_slot_read_end(s, &b, &v, seq, &rebinds);
                if (r > 0)
                        continue;
                if (r < 0)
                        return r;
                if (h.kind != DD_HASH_MAGLEV)
                        return -EOPNOTSUPP;
                /* An empty table (nothing to pick) has no offset either: the writer leaves it 0. */
                if (!dd_slot_view_ok(&b, &v) ||
                    (h.size != 0 &&
                     !dd_hash_table_ok(v.extent_size, v.n_backends, v.sched_len, v.n_eligible, h.off, h.size)))
                        return -EBADMSG;
                *ret_size = h.size;
                return 0;
        }
        return -EAGAIN;
}
