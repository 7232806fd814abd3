/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pick.c: libdnsdisc's hot path: picks from per-thread cursors over seqlocked slots, and the quarantine. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "cursor.h"
#include "internal.h"
#include "pick-out.h"

static inline const uint16_t *dd_cursor_schedule(const DD_TLS dd_cursor *c) {
        return (const uint16_t *) (c->backends + c->n_backends);
}

void dd_random_seed(uint64_t seed) {
        for (uint32_t i = 0; i < DD_CURSORS; i++)
                dd_cursor_real(i)->rng = dd_mix64(seed + i) | 1;
}

/* xorshift64*, the cursor's own: a uniform draw in [0, n), n > 0, by multiply-shift (no division). */
static inline uint32_t dd_random_below(DD_TLS dd_cursor *c, const dnsdisc_service *s, uint32_t n) {
        uint64_t x = c->rng;

        if (dd_unlikely(x == 0))
                x = dd_mix64(s->seed ^ (uintptr_t) &dd_cursors[s->cursor_index]) | 1;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        c->rng = x;
        return (uint32_t) (((x * UINT64_C(0x2545f4914f6cdd1d)) >> 32) * (uint64_t) n >> 32);
}

/*
 * Retire the quarantines that have run out, so that picks return to the fast
 * path once none is left in force.
 */
void dd_quarantine_expire(dnsdisc_service *s, uint64_t now) {
        for (unsigned i = 0; i < DD_QUARANTINE_SLOTS; i++) {
                dd_quarantine *q = &s->quarantine[i];
                uint64_t until = atomic_load_explicit(&q->until_usec, memory_order_acquire);

                if (until != 0 && until <= now &&
                    atomic_compare_exchange_strong_explicit(&q->until_usec, &until, 0, memory_order_acq_rel,
                                                            memory_order_relaxed))
                        atomic_fetch_sub_explicit(&s->pick_key, 1, memory_order_release);
        }
}

void dd_quarantine_end(dnsdisc_service *s, dd_quarantine *q) {
        uint64_t until = atomic_load_explicit(&q->until_usec, memory_order_acquire);

        while (until != 0)
                if (atomic_compare_exchange_weak_explicit(&q->until_usec, &until, 0, memory_order_acq_rel,
                                                          memory_order_acquire)) {
                        atomic_fetch_sub_explicit(&s->pick_key, 1, memory_order_release);
                        break;
                }
}

bool dd_quarantined(dnsdisc_service *s, uint64_t key, uint64_t now) {
        for (unsigned i = 0; i < DD_QUARANTINE_SLOTS; i++) {
                const dd_quarantine *q = &s->quarantine[i];

                if (atomic_load_explicit(&q->key, memory_order_relaxed) == key)
                        return atomic_load_explicit(&q->until_usec, memory_order_acquire) > now;
        }
        return false;
}

/*
 * From position pos of list[n], the first position whose backend is not
 * quarantined; pos itself when all are (a quarantine never leaves a service
 * with nothing to pick). -EBADMSG for an index out of range (the caller
 * rechecks the seqlock before believing it).
 */
_seqlock_reader_ static int dd_skip_quarantined(dnsdisc_service *s, const dd_backend *backends, uint32_t n_backends,
                                                const uint16_t *list, uint32_t n, uint32_t pos, uint32_t *ret_pos) {
        uint64_t now = dd_monotonic_usec();
        uint32_t p = pos;

        dd_quarantine_expire(s, now);
        for (uint32_t tries = 0; tries < n; tries++) {
                unsigned i = DD_READ(list[p]);

                if (i >= n_backends)
                        return -EBADMSG;
                if (!dd_quarantined(s, DD_READ(backends[i].key), now)) {
                        *ret_pos = p;
                        return 0;
                }
                if (++p >= n)
                        p = 0;
        }
        *ret_pos = pos;
        return 0;
}

/*
 * Everything the fast path skips: (re)filling the cursor with a full check of
 * the slot, following a moved service, the quarantine, and the errors.
 */
_seqlock_reader_ static __attribute__((noinline, cold))
int dd_pick_slow(dnsdisc_service *s, dnsdisc_endpoint *ret, bool random) {
        /* The thread's real cursor: the fast path's may be none (cursor.h). */
        DD_TLS dd_cursor *c = dd_cursor_real(s->cursor_index);
        unsigned rebinds = 0;
        int r;

        /* A writer that died publishes nothing that would send picks here: look for its successor. */
        dd_look_if_due(s->d);
        for (unsigned attempt = 0; attempt < DD_READ_RETRIES; attempt++) {
                const dd_backend *backends;
                const uint16_t *schedule, *list;
                const dd_service *slot;
                uint32_t seq, nb, sl, ne, n, pos, i;
                uint64_t pick_key, off, key;
                dd_slot_view v;
                dd_pickout o;
                dd_binding b;
                bool bad;

                pick_key = atomic_load_explicit(&s->pick_key, memory_order_acquire);
                dd_binding_get(s, &b);
                slot = b.slot;
                if (!dd_slot_read_begin(&b, &v, &seq))
                        continue;
                r = dd_slot_read_end(s, &b, &v, seq, &rebinds);
                if (r > 0)
                        continue;
                if (r < 0) {
                        c->key = 0; /* no fast pick from a mapping that failed */
                        return r;
                }
                if (!dd_slot_view_ok(&b, &v)) {
                        c->key = 0;
                        return -EBADMSG;
                }
                off = v.extent_offset;
                nb = v.n_backends;
                sl = v.sched_len;
                ne = v.n_eligible;
                n = sl; /* random picks draw from the schedule too: its weights, split by record */
                if (n == 0)
                        return -EHOSTUNREACH;

                /* The fast path copies addrlen unchecked: check them all once per
                 * change (not again while a quarantine keeps picks here). */
                backends = dd_extent_backends(b.map->header, off);
                key = dd_pick_key(b.uid);
                if (c->key != key || c->seq != seq) {
                        bad = dd_addrlen_bad(backends, nb);
                        if (dd_seq_retry(slot, seq))
                                continue;
                        if (bad)
                                return -EBADMSG;
                }

                schedule = dd_extent_schedule(b.map->header, off, nb);
                list = schedule;
                /* The thread's position survives refills for the same binding; a
                 * new one starts at a random point: threads and processes
                 * started together must not all begin with the same backend. */
                if (c->key == key)
                        pos = (uint32_t) (c->next - dd_cursor_schedule(c));
                else
                        pos = (uint32_t) dd_mix64(s->seed ^ (uintptr_t) dd_cursors);
                if (pos >= sl)
                        pos = sl > 0 ? pos % sl : 0;
                if (sl > 0 && ne > 0) {
                        c->key = key;
                        c->next = schedule + pos;
                        c->end = schedule + sl;
                        c->backends = backends;
                        c->slot = slot;
                        c->seq = seq;
                        c->n_backends = (uint16_t) nb;
                        c->n_eligible = (uint16_t) ne;
                        c->laps = random ? DD_LAP_PICKS : (sl < DD_LAP_PICKS ? DD_LAP_PICKS / sl : 1);
                } else
                        c->key = 0;

                if (random)
                        pos = dd_random_below(c, s, n);
                if (pick_key & DD_KEY_QMASK) {
                        r = dd_skip_quarantined(s, backends, nb, list, n, pos, &pos);
                        if (r < 0) {
                                if (dd_seq_retry(slot, seq))
                                        continue;
                                return r;
                        }
                }

                i = DD_READ(list[pos]);
                if (i >= nb) {
                        if (dd_seq_retry(slot, seq))
                                continue;
                        /* Past it, so that one bad entry fails one pick per cycle, not all. */
                        if (!random && c->key == key)
                                c->next = schedule + (pos + 1 >= n ? 0 : pos + 1);
                        return -EBADMSG;
                }
                dd_pickout_read(&o, backends + i);
                if (dd_seq_retry(slot, seq))
                        continue;

                if (!random && c->key == key)
                        c->next = schedule + (pos + 1 >= n ? 0 : pos + 1);
                dd_pickout_write(ret, &o, s, slot, i);
                return 0;
        }
        return -EAGAIN;
}

/*
 * The fast path. The cursor was filled after an acquire load of the slot's
 * seq returned c->seq (even), so everything written before that is visible
 * here. A writer makes seq odd and fences before it writes anything, so if
 * any of the loads below saw its writes, the seq load after the acquire fence
 * sees seq moved: the one closing check is enough. The schedule index is
 * still range-checked each time: the cursor's pointers must stay inside the
 * mapping even if a buggy writer changed the schedule without the seqlock.
 */
_seqlock_reader_ _public_ int dnsdisc_pick(dnsdisc_service *s, dnsdisc_endpoint *ret) {
        DD_TLS dd_cursor *c = dd_cursor_of(s);
        const uint16_t *next = c->next;
        const dd_service *slot = c->slot;
        unsigned i;
        dd_pickout o;

        if (dd_unlikely(atomic_load_explicit(&s->pick_key, memory_order_relaxed) != c->key))
                return dd_pick_slow(s, ret, false);
        i = DD_READ(*next);
        if (dd_unlikely(i >= c->n_backends))
                return dd_pick_slow(s, ret, false);
        dd_pickout_read(&o, c->backends + i);
        dd_fence(memory_order_acquire);
        if (dd_unlikely(atomic_load_explicit(&slot->seq, memory_order_relaxed) != c->seq))
                return dd_pick_slow(s, ret, false);
        if (dd_unlikely(++next == c->end)) {
                if (dd_unlikely(--c->laps == 0))
                        return dd_pick_slow(s, ret, false);
                next = dd_cursor_schedule(c);
        }
        c->next = next;
        dd_pickout_write(ret, &o, s, slot, i);
        return 0;
}

_seqlock_reader_ _public_ int dnsdisc_pick_random(dnsdisc_service *s, dnsdisc_endpoint *ret) {
        DD_TLS dd_cursor *c = dd_cursor_of(s);
        const dd_service *slot = c->slot;
        unsigned i;
        dd_pickout o;

        if (dd_unlikely(atomic_load_explicit(&s->pick_key, memory_order_relaxed) != c->key || --c->laps == 0))
                return dd_pick_slow(s, ret, true);
        const uint16_t *schedule = dd_cursor_schedule(c);
        i = DD_READ(schedule[dd_random_below(c, s, (uint32_t) (c->end - schedule))]);
        if (dd_unlikely(i >= c->n_backends))
                return dd_pick_slow(s, ret, true);
        dd_pickout_read(&o, c->backends + i);
        dd_fence(memory_order_acquire);
        if (dd_unlikely(atomic_load_explicit(&slot->seq, memory_order_relaxed) != c->seq))
                return dd_pick_slow(s, ret, true);
        dd_pickout_write(ret, &o, s, slot, i);
        return 0;
}

_public_ int dnsdisc_report_failure(const dnsdisc_endpoint *e) {
        dnsdisc_service *s;
        dd_quarantine *q = NULL, *victim = NULL;
        uint64_t now, until, victim_until = UINT64_MAX;

        if (!e || !e->_service || e->_key == 0)
                return -EINVAL;
        s = e->_service;
        now = dd_monotonic_usec();

        pthread_mutex_lock(&s->d->lock);
        for (unsigned i = 0; i < DD_QUARANTINE_SLOTS && !q; i++)
                if (atomic_load_explicit(&s->quarantine[i].key, memory_order_relaxed) == e->_key)
                        q = &s->quarantine[i];
        if (!q) {
                /* A free entry, else the one whose quarantine ends first. */
                for (unsigned i = 0; i < DD_QUARANTINE_SLOTS; i++) {
                        dd_quarantine *t = &s->quarantine[i];

                        if (atomic_load_explicit(&t->key, memory_order_relaxed) == 0) {
                                victim = t;
                                break;
                        }
                        until = atomic_load_explicit(&t->until_usec, memory_order_relaxed);
                        if (!victim || until < victim_until) {
                                victim = t;
                                victim_until = until;
                        }
                }
                q = victim;
                dd_quarantine_end(s, q);
                q->backoff_usec = 0;
                atomic_store_explicit(&q->key, e->_key, memory_order_relaxed);
        }

        /* Failures of connections made before the quarantine began are the same
         * incident: only a failure after it ran out doubles the next one. */
        until = atomic_load_explicit(&q->until_usec, memory_order_acquire);
        if (until == 0 || until <= now) {
                uint64_t backoff = q->backoff_usec == 0 ? DD_QUARANTINE_MIN_USEC : q->backoff_usec * 2;

                if (backoff > DD_QUARANTINE_MAX_USEC)
                        backoff = DD_QUARANTINE_MAX_USEC;
                q->backoff_usec = backoff;
                /* Still counted if a pick has not retired it yet; else count it
                 * before it is visible, so that the count never underflows. */
                if (until == 0 ||
                    !atomic_compare_exchange_strong_explicit(&q->until_usec, &until, now + backoff,
                                                             memory_order_acq_rel, memory_order_relaxed)) {
                        atomic_fetch_add_explicit(&s->pick_key, 1, memory_order_acq_rel);
                        atomic_store_explicit(&q->until_usec, now + backoff, memory_order_release);
                }
        }
        pthread_mutex_unlock(&s->d->lock);
        return 0;
}

_public_ int dnsdisc_report_success(const dnsdisc_endpoint *e) {
        dnsdisc_service *s;

        if (!e || !e->_service || e->_key == 0)
                return -EINVAL;
        s = e->_service;

        pthread_mutex_lock(&s->d->lock);
        for (unsigned i = 0; i < DD_QUARANTINE_SLOTS; i++) {
                dd_quarantine *q = &s->quarantine[i];

                if (atomic_load_explicit(&q->key, memory_order_relaxed) != e->_key)
                        continue;
                dd_quarantine_end(s, q);
                q->backoff_usec = 0;
                atomic_store_explicit(&q->key, 0, memory_order_relaxed);
                break;
        }
        pthread_mutex_unlock(&s->d->lock);
        return 0;
}
