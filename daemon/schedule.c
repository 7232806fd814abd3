/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* schedule.c: a service's pick schedule, smooth weighted round-robin over the backends that may be picked. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache-def.h"
#include "schedule.h"
#include "util.h"

_Static_assert(ELEMENTSOF(((Schedule *) 0)->slots) == DD_SCHED_MAX, "Schedule.slots holds DD_SCHED_MAX");
_Static_assert(ELEMENTSOF(((Schedule *) 0)->eligible) == DD_BACKENDS_MAX, "Schedule.eligible holds DD_BACKENDS_MAX");

/* The common multiple that splits every record's weight over its members exactly is capped
 * so that weights summed over DD_BACKENDS_MAX members, times DD_SCHED_MAX, fit in 63 bits;
 * past it (several records with large coprime address counts) splits are rounded. */
#define SPLIT_LCM_MAX (UINT64_C(1) << 24)

typedef struct Member {
        uint16_t index;  /* into the caller's input */
        uint32_t record; /* the caller's, 0: its own */
        uint64_t weight; /* the record's share of it, then reduced by the gcd; 1 for weight-0 members */
        uint32_t count;  /* slots in the schedule */
        int64_t rem;     /* weight * DD_SCHED_MAX mod total weight, while apportioning */
} Member;

static uint64_t gcd(uint64_t a, uint64_t b) {
        while (b) {
                uint64_t t = a % b;
                a = b;
                b = t;
        }
        return a;
}

/* Which backends the schedule draws from: see schedule.h. Returns the member count. */
static size_t select_members(const SchedInput *in, size_t n, bool panic, Member *m, bool *ret_panic) {
        bool any_healthy = false;
        uint16_t prio = 0;
        size_t k = 0;

        for (size_t i = 0; i < n; i++)
                if (in[i].healthy && (!any_healthy || in[i].priority < prio)) {
                        prio = in[i].priority;
                        any_healthy = true;
                }

        *ret_panic = false;
        if (!any_healthy) {
                /* Nothing at all is not a panic: there is nothing to fall back on. */
                if (!panic || n == 0)
                        return 0;
                *ret_panic = true;
        }

        /* Panic holds every backend: an outage of our own checks must not
         * hide one. Weight 0 gets the smallest share there. */
        if (!any_healthy) {
                for (size_t i = 0; i < n; i++)
                        m[k++] = (Member) { .index = (uint16_t) i, .record = in[i].record,
                                            .weight = in[i].weight > 0 ? in[i].weight : 1 };
                return k;
        }

        /* Positive weights first; weight 0 (RFC 2782: "no server selection")
         * only when nothing else is left, then with equal shares. */
        for (size_t i = 0; i < n; i++)
                if ((!any_healthy || (in[i].healthy && in[i].priority == prio)) && in[i].weight > 0)
                        m[k++] = (Member) { .index = (uint16_t) i, .record = in[i].record, .weight = in[i].weight };
        if (k > 0)
                return k;
        for (size_t i = 0; i < n; i++)
                if (!any_healthy || (in[i].healthy && in[i].priority == prio))
                        m[k++] = (Member) { .index = (uint16_t) i, .record = in[i].record, .weight = 1 };
        return k;
}

static int member_by_record(const void *a, const void *b) {
        const Member *x = a, *y = b;
        if (x->record != y->record)
                return x->record < y->record ? -1 : 1;
        return x->index < y->index ? -1 : x->index > y->index;
}

static int member_by_index(const void *a, const void *b);

/*
 * Split each record's weight evenly over its members: every weight is
 * multiplied by the least common multiple L of the records' member counts
 * and divided by its record's count, which keeps the shares by record
 * exact (before apportioning) whatever the mix of counts. Members stay in
 * input order.
 */
static void split_records(Member *m, size_t k) {
        uint32_t size[DD_BACKENDS_MAX];
        uint64_t L = 1;

        sort(m, k, sizeof *m, member_by_record);
        for (size_t i = 0, run; i < k; i += run) {
                for (run = 1; m[i].record != 0 && i + run < k && m[i + run].record == m[i].record; run++)
                        ;
                for (size_t j = i; j < i + run; j++)
                        size[j] = (uint32_t) run;
                if (L <= SPLIT_LCM_MAX)
                        L = L / gcd(L, run) * run;
        }
        L = MIN(L, SPLIT_LCM_MAX);
        for (size_t i = 0; i < k; i++)
                m[i].weight = MAX((m[i].weight * L + size[i] / 2) / size[i], (uint64_t) 1);
        sort(m, k, sizeof *m, member_by_index);
}

static int member_by_remainder(const void *a, const void *b) {
        const Member *x = a, *y = b;
        if (x->rem != y->rem)
                return x->rem > y->rem ? -1 : 1;
        return x->index < y->index ? -1 : x->index > y->index;
}

static int member_by_index(const void *a, const void *b) {
        const Member *x = a, *y = b;
        return x->index < y->index ? -1 : x->index > y->index;
}

/*
 * Weights summing to more than DD_SCHED_MAX: Hamilton's method (largest
 * remainder) over DD_SCHED_MAX slots, with a floor of one slot so that no
 * positive weight silently disappears. The floor can overshoot; the excess
 * comes off whichever member is most over its exact quota, one slot at a
 * time, which keeps every share within a slot or two of exact whenever the
 * floors are few (always, unless most of 1024 backends carry a tiny
 * fraction of the total weight).
 */
static void apportion(Member *m, size_t k, uint64_t total) {
        const int64_t L = DD_SCHED_MAX, S = (int64_t) total;
        int64_t used = 0;

        for (size_t i = 0; i < k; i++) {
                int64_t num = (int64_t) m[i].weight * L;
                m[i].count = (uint32_t) MAX(num / S, 1);
                /* Members lifted to the floor already hold more than their quota. */
                m[i].rem = num / S > 0 ? num % S : -1;
                used += m[i].count;
        }

        if (used < L) {
                /* At most one extra slot each: the shortfall is below the number of members with a remainder. */
                qsort(m, k, sizeof(Member), member_by_remainder);
                for (size_t i = 0; i < k && used < L; i++)
                        if (m[i].rem > 0) {
                                m[i].count++;
                                used++;
                        }
                qsort(m, k, sizeof(Member), member_by_index);
        }

        /* Bounded by the number of floored members (<= DD_BACKENDS_MAX); some
         * member always has two slots here since k <= DD_BACKENDS_MAX < L. */
        while (used > L) {
                size_t best = k;
                int64_t best_over = 0;
                for (size_t i = 0; i < k; i++) {
                        if (m[i].count < 2)
                                continue;
                        int64_t over = (int64_t) m[i].count * S - (int64_t) m[i].weight * L;
                        if (best == k || over > best_over) {
                                best = i;
                                best_over = over;
                        }
                }
                m[best].count--;
                used--;
        }
}

int schedule_build(const SchedInput *in, size_t n, bool panic, Schedule *ret) {
        Member m[DD_BACKENDS_MAX];
        int64_t current[DD_BACKENDS_MAX];
        uint64_t g = 0, total = 0;
        bool in_panic;
        size_t k;

        if (!ret || n > DD_BACKENDS_MAX || (n > 0 && !in))
                return -EINVAL;

        k = select_members(in, n, panic, m, &in_panic);
        split_records(m, k);

        for (size_t i = 0; i < k; i++)
                g = gcd(g, m[i].weight);
        for (size_t i = 0; i < k; i++) {
                m[i].weight /= g;
                total += m[i].weight;
                m[i].count = total <= DD_SCHED_MAX ? (uint32_t) m[i].weight : 0; /* else apportioned */
        }
        if (total > DD_SCHED_MAX) {
                apportion(m, k, total);
                /* The apportioned counts may share a factor again: keep the cycle short. */
                g = 0;
                for (size_t i = 0; i < k; i++)
                        g = gcd(g, m[i].count);
                total = 0;
                for (size_t i = 0; i < k; i++) {
                        m[i].count /= (uint32_t) g;
                        total += m[i].count;
                }
        }

        /* nginx's smooth weighted round-robin: spreads each member's slots
         * evenly over the cycle instead of in runs. O(total * k), at most
         * DD_SCHED_MAX * DD_BACKENDS_MAX steps, run only when a set changes. */
        memset(current, 0, k * sizeof(current[0]));
        for (size_t s = 0; s < total; s++) {
                size_t best = 0;
                for (size_t i = 0; i < k; i++) {
                        current[i] += m[i].count;
                        if (current[i] > current[best])
                                best = i;
                }
                current[best] -= (int64_t) total;
                ret->slots[s] = m[best].index;
        }
        ret->len = total;

        /* Members are in input order and each holds at least one slot. */
        for (size_t i = 0; i < k; i++)
                ret->eligible[i] = m[i].index;
        ret->n_eligible = k;
        ret->panic = in_panic;
        return 0;
}
