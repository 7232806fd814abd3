/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pick-least.c: least-request: two weighted random candidates, the one with fewer requests in flight from this process. */
#include <errno.h>
#include <string.h>

#include "cursor.h"
#include "internal.h"
#include "pick-out.h"

__thread dd_policy_cursor dd_least_cursors[DD_POLICY_CURSORS];

/*
 * In-flight counts, one per (handle, endpoint key) the process has picked,
 * in one process-wide open-addressing table: lock-free to find, claim and
 * count, never freed. A count belongs to the endpoint's address and port,
 * not to its index, so it survives republishing. When the endpoint leaves
 * its service's set, the first pick to see the new set resets the count
 * and moves its epoch on: releases of picks made before are then ignored,
 * so a pick never released weighs on its endpoint only while it stays in
 * the set. Counts saturate at DD_INFLIGHT_MAX. Entries are never freed, not
 * even those of a closed cache's handles (a lookup walks on past claimed
 * entries only: freeing one mid-chain would hide the entries behind it); a
 * process that picks from more (handle, endpoint) pairs than the table holds
 * counts the rest as 0 in flight.
 */
#define DD_INFLIGHT_SLOTS 4096 /* 2^12: see dd_inflight_get() */
#define DD_INFLIGHT_PROBES 16
#define DD_INFLIGHT_MAX (UINT32_C(1) << 30)
/* dnsdisc_endpoint._reserved0 of a least-request pick: this bit, and the entry's index + 1 (0: not counted). */
#define DD_LEAST_MARK (UINT32_C(1) << 31)

typedef struct dd_inflight {
        _Atomic uint64_t id;            /* dd_inflight_id(); 0: free */
        _Atomic uint64_t owner;         /* the handle's least_owner, set once after id is claimed */
        _Atomic uint64_t endpoint;      /* dd_endpoint_key() */
        _Atomic uint32_t count;
        _Atomic uint32_t epoch;         /* moved on at each reset */
} dd_inflight;

static dd_inflight dd_inflights[DD_INFLIGHT_SLOTS];

/* xorshift64*: 64 random bits per call, from the cursor's own state. */
static inline uint64_t dd_least_random64(dd_policy_cursor *c, const dnsdisc_service *s) {
        uint64_t x = c->rng;

        if (dd_unlikely(x == 0))
                x = dd_mix64(s->seed ^ (uintptr_t) c) | 1;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        c->rng = x;
        return x * UINT64_C(0x2545f4914f6cdd1d);
}

/* 32 random bits to [0, n) by multiply-shift (no division). */
static inline uint32_t dd_below(uint32_t bits, uint32_t n) {
        return (uint32_t) (((uint64_t) bits * n) >> 32);
}

static inline uint32_t dd_least_random(dd_policy_cursor *c, const dnsdisc_service *s, uint32_t n) {
        return dd_below((uint32_t) (dd_least_random64(c, s) >> 32), n);
}

/* Endpoint keys are already hashes (dd_endpoint_key()): mixing in the handle's is enough. */
static inline uint64_t dd_inflight_id(uint64_t owner, uint64_t endpoint) {
        return (endpoint ^ owner) | 1;
}

/*
 * The handle's counts are keyed by an id no other handle of the process ever
 * has, not by its address: a handle of a closed cache may leave counts
 * behind, and a new handle at the same address must not inherit them.
 */
static uint64_t dd_owner_of(dnsdisc_service *s) {
        static _Atomic uint64_t next;
        uint64_t o = atomic_load_explicit(&s->least_owner, memory_order_acquire), mine;

        if (dd_likely(o != 0))
                return o;
        mine = dd_mix64(atomic_fetch_add_explicit(&next, 1, memory_order_relaxed) + 1) | 1;
        if (atomic_compare_exchange_strong_explicit(&s->least_owner, &o, mine, memory_order_acq_rel,
                                                    memory_order_acquire))
                return mine;
        return o;
}

/* The entry of (s, endpoint), claimed if new; NULL when its probe sequence is full. */
static inline dd_inflight *dd_inflight_get(uint64_t owner, uint64_t endpoint) {
        uint64_t id = dd_inflight_id(owner, endpoint);
        /* Fibonacci hashing: FNV-1a leaves the high bits of close endpoints alike. */
        uint32_t h = (uint32_t) ((id * UINT64_C(0x9e3779b97f4a7c15)) >> 52);

        for (uint32_t p = 0; p < DD_INFLIGHT_PROBES; p++) {
                dd_inflight *f = &dd_inflights[(h + p) % DD_INFLIGHT_SLOTS];
                uint64_t cur = atomic_load_explicit(&f->id, memory_order_acquire);

                if (cur == id)
                        return f;
                if (cur == 0) {
                        if (atomic_compare_exchange_strong_explicit(&f->id, &cur, id, memory_order_acq_rel,
                                                                    memory_order_acquire)) {
                                atomic_store_explicit(&f->endpoint, endpoint, memory_order_relaxed);
                                atomic_store_explicit(&f->owner, owner, memory_order_release);
                                return f;
                        }
                        if (cur == id)
                                return f;
                }
        }
        return NULL;
}

/* The entry of (owner, endpoint) if it is the first of its probe sequence, else NULL (dd_inflight_get() then). */
static inline dd_inflight *dd_inflight_find(uint64_t owner, uint64_t endpoint) {
        uint64_t id = dd_inflight_id(owner, endpoint);
        dd_inflight *f = &dd_inflights[(uint32_t) ((id * UINT64_C(0x9e3779b97f4a7c15)) >> 52)];

        return atomic_load_explicit(&f->id, memory_order_relaxed) == id ? f : NULL;
}

static inline uint32_t dd_inflight_count(const dd_inflight *f) {
        return f ? atomic_load_explicit(&f->count, memory_order_relaxed) : 0;
}

/* Reset the counts of owner's endpoints that are not among backends[nb] any more (read under the seqlock:
 * a torn read resets too much, which costs only balance, and the caller retries). */
_seqlock_reader_ static void dd_inflight_sweep(uint64_t owner, const dd_backend *backends, uint32_t nb) {
        for (uint32_t k = 0; k < DD_INFLIGHT_SLOTS; k++) {
                dd_inflight *f = &dd_inflights[k];
                uint64_t ep;
                bool found = false;

                if (atomic_load_explicit(&f->owner, memory_order_acquire) != owner)
                        continue;
                ep = atomic_load_explicit(&f->endpoint, memory_order_relaxed);
                for (uint32_t i = 0; i < nb && !found; i++)
                        found = DD_READ(backends[i].key) == ep;
                if (found || atomic_load_explicit(&f->count, memory_order_relaxed) == 0)
                        continue;
                atomic_fetch_add_explicit(&f->epoch, 1, memory_order_acq_rel);
                atomic_store_explicit(&f->count, 0, memory_order_release);
        }
}

/*
 * Two candidates drawn from the schedule (so by weight), redrawn a few
 * times while they are the same backend or (with now != 0) quarantined;
 * the one with fewer requests in flight wins, the first on a tie.
 * -EBADMSG for an index out of range.
 */
_seqlock_reader_ static inline int dd_least_choose(dd_policy_cursor *c, dnsdisc_service *s,
                                                   const dd_backend *backends, uint32_t nb, const uint16_t *schedule,
                                                   uint32_t sl, uint64_t now, uint32_t *ret_backend,
                                                   dd_inflight **ret_f) {
        uint32_t i1, i2, p1;
        dd_inflight *f1, *f2;
        uint64_t x = dd_least_random64(c, s);

        /* One draw gives both: the second from the other sl - 1 positions, distinct whenever each
         * backend holds one position (equal weights after the schedule's gcd). */
        p1 = dd_below((uint32_t) (x >> 32), sl);
        i1 = DD_READ(schedule[p1]);
        if (dd_unlikely(i1 >= nb))
                return -EBADMSG;
        for (unsigned t = 0; now && t < 8 && dd_quarantined(s, DD_READ(backends[i1].key), now); t++) {
                i1 = DD_READ(schedule[dd_least_random(c, s, sl)]);
                if (i1 >= nb)
                        return -EBADMSG;
        }
        /* A heavy quarantined backend can keep winning the draw: walk on from a random point to
         * one that is not, so that it gets no pick while any other backend can take it; when
         * every one is quarantined the quarantine is ignored, as for the other picks. */
        if (dd_unlikely(now && dd_quarantined(s, DD_READ(backends[i1].key), now)))
                for (uint32_t p = dd_least_random(c, s, sl), t = 0; t < sl; t++, p = p + 1 < sl ? p + 1 : 0) {
                        uint32_t i = DD_READ(schedule[p]);

                        if (i >= nb)
                                return -EBADMSG;
                        if (!dd_quarantined(s, DD_READ(backends[i].key), now)) {
                                i1 = i;
                                break;
                        }
                }
        i2 = i1;
        if (sl > 1) {
                uint32_t p2 = p1 + 1 + dd_below((uint32_t) x, sl - 1);
                i2 = DD_READ(schedule[p2 >= sl ? p2 - sl : p2]);
                if (dd_unlikely(i2 >= nb))
                        return -EBADMSG;
        }
        for (unsigned t = 0; t < 4 && (i2 == i1 || (now && dd_quarantined(s, DD_READ(backends[i2].key), now))); t++) {
                i2 = DD_READ(schedule[dd_least_random(c, s, sl)]);
                if (dd_unlikely(i2 >= nb))
                        return -EBADMSG;
        }
        /* A heavy backend can keep winning the draw: walk on from a random point to another one. */
        if (dd_unlikely(i2 == i1))
                for (uint32_t p = dd_least_random(c, s, sl), t = 0; t < sl && i2 == i1; t++, p = p + 1 < sl ? p + 1 : 0) {
                        i2 = DD_READ(schedule[p]);
                        if (i2 >= nb)
                                return -EBADMSG;
                        if (now && dd_quarantined(s, DD_READ(backends[i2].key), now))
                                i2 = i1;
                }
        if (now && i2 != i1 && dd_quarantined(s, DD_READ(backends[i2].key), now))
                i2 = i1;
        f1 = dd_inflight_get(c->owner, DD_READ(backends[i1].key));
        f2 = i2 != i1 ? dd_inflight_get(c->owner, DD_READ(backends[i2].key)) : f1;
        /* Which wins is a coin toss to the branch predictor: select without a branch. */
        bool second = dd_inflight_count(f2) < dd_inflight_count(f1);
        *ret_backend = second ? i2 : i1;
        *ret_f = second ? f2 : f1;
        return 0;
}

/* Count the pick in. Returns the endpoint's mark for dnsdisc_release() (_reserved0), the epoch in *ret_epoch. */
static inline uint32_t dd_least_count(dd_inflight *f, uint64_t *ret_epoch) {
        *ret_epoch = 0;
        if (!f)
                return DD_LEAST_MARK;
        *ret_epoch = atomic_load_explicit(&f->epoch, memory_order_acquire);
        if (atomic_load_explicit(&f->count, memory_order_relaxed) < DD_INFLIGHT_MAX)
                atomic_fetch_add_explicit(&f->count, 1, memory_order_relaxed);
        return DD_LEAST_MARK | ((uint32_t) (f - dd_inflights) + 1);
}

_seqlock_reader_ static __attribute__((noinline, cold))
int dd_pick_least_slow(dnsdisc_service *s, dnsdisc_endpoint *ret) {
        dd_policy_cursor *c = dd_least_cursor_of(s);
        unsigned rebinds = 0;
        int r;

        /* A writer that died publishes nothing that would send picks here: look for its successor. */
        dd_look_if_due(s->d);
        for (unsigned attempt = 0; attempt < DD_READ_RETRIES; attempt++) {
                const dd_backend *backends;
                const uint16_t *schedule;
                const dd_service *slot;
                uint32_t seq, nb, sl, gen, i;
                uint64_t pick_key, now = 0, epoch;
                uint32_t mark;
                dd_inflight *f;
                dd_slot_view v;
                dd_pickout o;
                dd_binding b;
                bool bad;

                pick_key = atomic_load_explicit(&s->pick_key, memory_order_acquire);
                dd_binding_get(s, &b);
                slot = b.slot;
                gen = atomic_load_explicit(&slot->generation, memory_order_acquire);
                if (!dd_slot_read_begin(&b, &v, &seq))
                        continue;
                r = dd_slot_read_end(s, &b, &v, seq, &rebinds);
                if (r > 0)
                        continue;
                if (r < 0)
                        return r;
                if (!dd_slot_view_ok(&b, &v))
                        return -EBADMSG;
                nb = v.n_backends;
                sl = v.sched_len;
                if (sl == 0 || v.n_eligible == 0)
                        return -EHOSTUNREACH;
                backends = dd_extent_backends(b.map->header, v.extent_offset);
                schedule = dd_extent_schedule(b.map->header, v.extent_offset, nb);

                if (c->key != pick_key || c->seq != seq || c->slot != slot) {
                        bad = dd_addrlen_bad(backends, nb);
                        if (dd_seq_retry(slot, seq))
                                continue;
                        if (bad)
                                return -EBADMSG;
                        /* A new set: counts of endpoints that left it start over (once per set and handle). */
                        uint64_t swept = b.uid << 32 | gen;
                        if (atomic_exchange_explicit(&s->least_swept, swept, memory_order_acq_rel) != swept) {
                                dd_inflight_sweep(dd_owner_of(s), backends, nb);
                                if (dd_seq_retry(slot, seq)) {
                                        atomic_store_explicit(&s->least_swept, 0, memory_order_relaxed);
                                        continue;
                                }
                        }
                }
                if (pick_key & DD_KEY_QMASK) {
                        now = dd_monotonic_usec();
                        dd_quarantine_expire(s, now);
                }
                /* The owner mix doubles as the cursor's: a quarantine's slow picks need it too. */
                *c = (dd_policy_cursor) { .key = pick_key != dd_pick_key(b.uid) ? 0 : pick_key, .slot = slot,
                                          .backends = backends, .list = schedule, .seq = seq, .len = sl,
                                          .n_backends = nb, .rng = c->rng,
                                          .owner = dd_owner_of(s) };

                r = dd_least_choose(c, s, backends, nb, schedule, sl, now, &i, &f);
                if (r < 0) {
                        if (dd_seq_retry(slot, seq))
                                continue;
                        return r;
                }
                dd_pickout_read(&o, backends + i);
                if (dd_seq_retry(slot, seq))
                        continue;
                mark = dd_least_count(f, &epoch);
                dd_pickout_write(ret, &o, s, slot, i);
                ret->_reserved0 = mark;
                ret->_reserved[0] = epoch;
                return 0;
        }
        return -EAGAIN;
}

_seqlock_reader_ _public_ int dnsdisc_pick_least(dnsdisc_service *s, dnsdisc_endpoint *ret) {
        dd_policy_cursor *c = dd_least_cursor_of(s);
        const dd_service *slot = c->slot;
        dd_inflight *f, *f2;
        uint32_t i, i2, p1, p2, mark;
        dd_pickout o;
        uint64_t x, epoch;

        if (dd_unlikely(atomic_load_explicit(&s->pick_key, memory_order_relaxed) != c->key))
                return dd_pick_least_slow(s, ret);
        /* The common case inline: one draw, two distinct backends found, both counters found. Anything
         * else (a heavy backend drawn twice, a counter to claim) takes the general path. */
        x = dd_least_random64(c, s);
        p1 = dd_below((uint32_t) (x >> 32), c->len);
        p2 = p1 + 1 + dd_below((uint32_t) x, c->len - 1);
        i = DD_READ(c->list[p1]);
        i2 = DD_READ(c->list[p2 >= c->len ? p2 - c->len : p2]);
        f = i < c->n_backends ? dd_inflight_find(c->owner, DD_READ(c->backends[i].key)) : NULL;
        f2 = i2 < c->n_backends && i2 != i ? dd_inflight_find(c->owner, DD_READ(c->backends[i2].key)) : NULL;
        if (dd_likely(f && f2)) {
                bool second = atomic_load_explicit(&f2->count, memory_order_relaxed) <
                              atomic_load_explicit(&f->count, memory_order_relaxed);
                i = second ? i2 : i;
                f = second ? f2 : f;
        } else if (dd_unlikely(dd_least_choose(c, s, c->backends, c->n_backends, c->list, c->len, 0, &i, &f) < 0))
                return dd_pick_least_slow(s, ret);
        dd_pickout_read(&o, c->backends + i);
        dd_fence(memory_order_acquire);
        if (dd_unlikely(atomic_load_explicit(&slot->seq, memory_order_relaxed) != c->seq))
                return dd_pick_least_slow(s, ret);
        /* Count before writing the endpoint: a locked add waits for the stores before it to drain. */
        mark = dd_least_count(f, &epoch);
        dd_pickout_write(ret, &o, s, slot, i);
        ret->_reserved0 = mark;
        ret->_reserved[0] = epoch;
        return 0;
}

_public_ int dnsdisc_release(const dnsdisc_endpoint *e) {
        dd_inflight *f;
        uint32_t idx, n;

        if (!e || !e->_service || !(e->_reserved0 & DD_LEAST_MARK))
                return -EINVAL;
        idx = e->_reserved0 & ~DD_LEAST_MARK;
        if (idx == 0)
                return 0;
        if (idx > DD_INFLIGHT_SLOTS)
                return -EINVAL;
        f = &dd_inflights[idx - 1];
        if (atomic_load_explicit(&f->owner, memory_order_acquire) != atomic_load_explicit(
                                                                             &e->_service->least_owner,
                                                                             memory_order_acquire) ||
            atomic_load_explicit(&f->endpoint, memory_order_relaxed) != e->_key)
                return -EINVAL;
        /* A count reset since the pick (its endpoint left the set) has nothing of it left to take. */
        n = atomic_load_explicit(&f->count, memory_order_relaxed);
        while (n > 0 && atomic_load_explicit(&f->epoch, memory_order_acquire) == (uint32_t) e->_reserved[0])
                if (atomic_compare_exchange_weak_explicit(&f->count, &n, n - 1, memory_order_acq_rel,
                                                          memory_order_relaxed))
                        break;
        return 0;
}
