/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* handle.c: libdnsdisc's service handles: creation, their binding to a slot, rebinding when it moves, the live check. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "internal.h"

/* Process-wide, so that a binding's uid never repeats even across dnsdisc_close()/dnsdisc_open(). */
static _Atomic uint64_t dd_uid_next = 1;
void dd_binding_get(dnsdisc_service *s, dd_binding *ret) {
        /* The writer is our own rebind, a few stores under d->lock: no bound needed. */
        for (;;) {
                uint32_t seq = atomic_load_explicit(&s->bind_seq, memory_order_acquire);
                dd_binding b;

                if (!(seq & 1)) {
                        b.map = __atomic_load_n(&s->binding.map, __ATOMIC_RELAXED);
                        b.slot = __atomic_load_n(&s->binding.slot, __ATOMIC_RELAXED);
                        b.incarnation = __atomic_load_n(&s->binding.incarnation, __ATOMIC_RELAXED);
                        b.uid = __atomic_load_n(&s->binding.uid, __ATOMIC_RELAXED);
                        dd_fence(memory_order_acquire);
                        if (atomic_load_explicit(&s->bind_seq, memory_order_relaxed) == seq) {
                                *ret = b;
                                return;
                        }
                }
                dd_cpu_relax();
        }
}

/* Under d->lock: bind s to slot of m with a fresh uid, keeping its quarantine count. */
static void dd_binding_set(dnsdisc_service *s, const dd_map *m, const dd_service *slot, uint64_t incarnation) {
        uint32_t seq = atomic_load_explicit(&s->bind_seq, memory_order_relaxed);
        uint64_t uid = atomic_fetch_add_explicit(&dd_uid_next, 1, memory_order_relaxed);
        uint64_t key = atomic_load_explicit(&s->pick_key, memory_order_relaxed);

        atomic_store_explicit(&s->bind_seq, seq + 1, memory_order_relaxed);
        dd_fence(memory_order_release);
        __atomic_store_n(&s->binding.map, m, __ATOMIC_RELAXED);
        __atomic_store_n(&s->binding.slot, slot, __ATOMIC_RELAXED);
        __atomic_store_n(&s->binding.incarnation, incarnation, __ATOMIC_RELAXED);
        __atomic_store_n(&s->binding.uid, uid, __ATOMIC_RELAXED);
        atomic_store_explicit(&s->bind_seq, seq + 2, memory_order_release);

        /* Picks racing with quarantine updates change the low bits: keep them. */
        while (!atomic_compare_exchange_weak_explicit(&s->pick_key, &key, dd_pick_key(uid) | (key & DD_KEY_QMASK),
                                                      memory_order_acq_rel, memory_order_relaxed))
                ;
}

int dd_service_rebind(dnsdisc_service *s, uint64_t seen_uid) {
        dnsdisc *d = s->d;
        const dd_service *slot;
        const dd_map *m;
        uint64_t inc;
        int r;

        pthread_mutex_lock(&d->lock);
        if (__atomic_load_n(&s->binding.uid, __ATOMIC_RELAXED) != seen_uid) {
                r = 0; /* another thread got here first */
                goto done;
        }
        r = dd_find_locked(d, s->name, &m, &slot, &inc);
        if (r < 0)
                goto done;
        dd_binding_set(s, m, slot, inc);
done:
        pthread_mutex_unlock(&d->lock);
        return r;
}

/* Bind s to a live slot if it is not, and copy its binding. 0, -ESRCH (gone), -EAGAIN. */
int dd_service_live(dnsdisc_service *s, dd_binding *ret) {
        for (unsigned rebinds = 0;; rebinds++) {
                dd_binding b;
                uint64_t inc;
                int r;

                dd_binding_get(s, &b);
                r = dd_slot_identity(b.slot, NULL, &inc);
                if (r > 0 && inc == b.incarnation && dd_map_usable(b.map)) {
                        *ret = b;
                        return 0;
                }
                if (r < 0 && r != -EBADMSG)
                        return r;
                if (rebinds >= DD_REBIND_MAX)
                        return -EAGAIN;
                r = dd_service_rebind(s, b.uid);
                if (r < 0)
                        return r;
        }
}

/* Under d->lock: the handle for name, made if needed (the caller checks it is live). */
static int dd_service_get_locked(dnsdisc *d, const char *name, dnsdisc_service **ret) {
        const dd_service *slot;
        dnsdisc_service *s;
        const dd_map *m;
        uint64_t inc, uid;
        int r;

        for (s = d->services; s; s = s->next)
                if (strcmp(s->name, name) == 0) {
                        *ret = s;
                        return 1;
                }

        r = dd_find_locked(d, name, &m, &slot, &inc);
        if (r < 0)
                return r;
        /* Its own cache lines: pick_key is read by every pick of every thread. */
        s = aligned_alloc(64, (sizeof(*s) + 63) & ~(size_t) 63);
        if (!s)
                return -ENOMEM;
        memset(s, 0, sizeof(*s));
        uid = atomic_fetch_add_explicit(&dd_uid_next, 1, memory_order_relaxed);
        s->d = d;
        dd_cursor_assign(&s->cursor_index, &s->cursor_off);
        s->seed = dd_mix64(d->seed + uid);
        s->binding = (dd_binding) {
                .map = m, .slot = slot, .incarnation = inc, .uid = uid,
        };
        atomic_init(&s->pick_key, dd_pick_key(uid));
        memcpy(s->name, name, strlen(name) + 1);
        s->next = d->services;
        d->services = s;
        d->n_services++;
        *ret = s;
        return 0;
}

_public_ int dnsdisc_service_get(dnsdisc *d, const char *name, dnsdisc_service **ret) {
        dnsdisc_service *s = NULL;
        dd_binding b;
        int r;

        if (!d || !name || !ret)
                return -EINVAL;
        if (strnlen(name, DD_NAME_MAX) >= DD_NAME_MAX)
                return -ESRCH;

        pthread_mutex_lock(&d->lock);
        r = dd_service_get_locked(d, name, &s);
        pthread_mutex_unlock(&d->lock);
        if (r < 0)
                return r;
        if (r > 0) {
                /* An existing handle: the service may have gone, or moved, since. */
                r = dd_service_live(s, &b);
                if (r < 0)
                        return r;
        }
        *ret = s;
        return 0;
}

_public_ int dnsdisc_service_next(dnsdisc *d, size_t *cursor, dnsdisc_service **ret) {
        const dd_map *m;

        if (!d || !cursor || !ret)
                return -EINVAL;
        if (*cursor == 0)
                dd_refresh(d, false);
        m = dd_current(d);
        for (size_t i = *cursor; i < m->geo.n_service_slots; i++) {
                char name[DD_NAME_MAX];
                dnsdisc_service *s = NULL;
                int r;

                r = dd_slot_identity(dd_map_slot(m, (uint32_t) i), name, NULL);
                /* A slot that stays mid-write (its writer died there: the next
                 * writer repairs it on adoption) must not hide those after it. */
                if (r == 0 || r == -EBADMSG || r == -EAGAIN)
                        continue;
                if (r < 0)
                        return r;
                pthread_mutex_lock(&d->lock);
                r = dd_service_get_locked(d, name, &s);
                pthread_mutex_unlock(&d->lock);
                if (r == -ESRCH)
                        continue; /* removed meanwhile */
                if (r < 0)
                        return r;
                *cursor = i + 1;
                *ret = s;
                return 1;
        }
        *cursor = m->geo.n_service_slots;
        return 0;
}
