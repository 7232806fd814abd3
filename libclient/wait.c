/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* wait.c: libdnsdisc's waits for changes (futexes on the shared file), generations, and the writer's liveness. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

_public_ uint32_t dnsdisc_generation(dnsdisc_service *s) {
        dd_binding b;

        if (!s)
                return 0;
        /* A service that is gone keeps the last generation its slot had. */
        if (dd_service_live(s, &b) < 0)
                dd_binding_get(s, &b);
        return atomic_load_explicit(&b.slot->generation, memory_order_acquire);
}

/* CLOCK_MONOTONIC deadline timeout_usec from now; false for none (UINT64_MAX or too far to represent). */
static bool dd_deadline(uint64_t timeout_usec, struct timespec *ret) {
        struct timespec now;
        uint64_t sec, nsec;

        if (timeout_usec == UINT64_MAX)
                return false;
        clock_gettime(CLOCK_MONOTONIC, &now);
        sec = timeout_usec / 1000000;
        nsec = (uint64_t) now.tv_nsec + timeout_usec % 1000000 * 1000;
        sec += nsec / 1000000000;
        if (sec > (uint64_t) INT32_MAX * 4 || (uint64_t) now.tv_sec > (uint64_t) INT64_MAX - sec)
                return false;
        ret->tv_sec = now.tv_sec + (time_t) sec;
        ret->tv_nsec = (long) (nsec % 1000000000);
        return true;
}

/*
 * Sleep while *word == val, until the absolute CLOCK_MONOTONIC deadline (NULL:
 * none). Not FUTEX_PRIVATE: the word is in a file shared with the writer's
 * process, which wakes us with FUTEX_WAKE on its own mapping.
 */
static int dd_futex_wait(const _Atomic uint32_t *word, uint32_t val, const struct timespec *deadline) {
        if (syscall(SYS_futex, word, FUTEX_WAIT_BITSET, val, deadline, NULL, FUTEX_BITSET_MATCH_ANY) < 0)
                return -errno;
        return 0;
}

/*
 * The deadline of the next sleep: the caller's (NULL: none), or at most a
 * second away while the mapping is abandoned: a writer that is gone wakes
 * nobody, and the path is looked at again between the sleeps.
 */
static const struct timespec *dd_slice(const dd_map *m, const struct timespec *deadline, struct timespec *slice) {
        struct timespec now;

        if (!dd_map_abandoned(m))
                return deadline;
        clock_gettime(CLOCK_MONOTONIC, &now);
        *slice = (struct timespec) { .tv_sec = now.tv_sec + DD_LOOK_INTERVAL_USEC / 1000000, .tv_nsec = now.tv_nsec };
        if (deadline && (deadline->tv_sec < slice->tv_sec ||
                         (deadline->tv_sec == slice->tv_sec && deadline->tv_nsec < slice->tv_nsec)))
                return deadline;
        return slice;
}

/* Whether the absolute CLOCK_MONOTONIC deadline (NULL: none) has passed. */
static bool dd_passed(const struct timespec *deadline) {
        struct timespec now;

        if (!deadline)
                return false;
        clock_gettime(CLOCK_MONOTONIC, &now);
        return now.tv_sec > deadline->tv_sec || (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

_public_ int dnsdisc_wait(dnsdisc_service *s, uint32_t generation, uint64_t timeout_usec) {
        struct timespec deadline, slice;
        const struct timespec *until;
        uint64_t uid = 0;

        if (!s)
                return -EINVAL;
        until = dd_deadline(timeout_usec, &deadline) ? &deadline : NULL;
        for (;;) {
                uint32_t now_gen;
                dd_binding b;
                int r;

                /* A new file at the path retires the handle's mapping: the live check rebinds it. */
                dd_refresh(s->d, false);
                r = dd_service_live(s, &b);
                if (r < 0)
                        return r;
                /* Moved to another slot or file: its generation counts from elsewhere. */
                if (uid != 0 && b.uid != uid)
                        return 1;
                uid = b.uid;
                now_gen = atomic_load_explicit(&b.slot->generation, memory_order_acquire);
                if (now_gen != generation)
                        return 1;
                r = dd_futex_wait(&b.slot->generation, generation, dd_slice(b.map, until, &slice));
                if (r == -ETIMEDOUT && dd_passed(until))
                        return atomic_load_explicit(&b.slot->generation, memory_order_acquire) != generation;
                if (r == -EINTR)
                        return -EINTR;
                if (r < 0 && r != -EAGAIN && r != -ETIMEDOUT)
                        return r;
                /* Woken, changed, a slice over, or spurious: look again. */
        }
}

_public_ uint32_t dnsdisc_change_counter(dnsdisc *d) {
        if (!d)
                return 0;
        dd_refresh(d, false);
        return atomic_load_explicit(&dd_current(d)->header->change_counter, memory_order_acquire);
}

_public_ int dnsdisc_wait_any(dnsdisc *d, uint32_t counter, uint64_t timeout_usec) {
        struct timespec deadline, slice;
        const struct timespec *until;
        const dd_map *start;

        if (!d)
                return -EINVAL;
        until = dd_deadline(timeout_usec, &deadline) ? &deadline : NULL;
        start = dd_current(d);
        for (;;) {
                const dd_map *m;
                const dd_header *h;
                int r;

                /* A replaced or abandoned file: follow a new one, looking at most once a
                 * second; until one is there, keep sleeping (never return at once). */
                dd_refresh(d, false);
                m = dd_current(d);
                if (m != start)
                        return 1;
                h = m->header;
                if (atomic_load_explicit(&h->change_counter, memory_order_acquire) != counter)
                        return 1;
                r = dd_futex_wait(&h->change_counter, counter, dd_slice(m, until, &slice));
                if (r == -ETIMEDOUT && dd_passed(until))
                        return atomic_load_explicit(&h->change_counter, memory_order_acquire) != counter;
                if (r == -EINTR)
                        return -EINTR;
                if (r < 0 && r != -EAGAIN && r != -ETIMEDOUT)
                        return r;
        }
}

_public_ int dnsdisc_is_stale(dnsdisc *d) {
        if (!d)
                return -EINVAL;
        dd_refresh(d, false);
        return dd_writer_gone(dd_current(d));
}

_seqlock_reader_ _public_ int dnsdisc_daemon_info_get(dnsdisc *d, dnsdisc_daemon_info *ret) {
        dnsdisc_daemon_info info = {};
        const dd_header *h;
        const dd_map *m;

        if (!d || !ret)
                return -EINVAL;
        dd_refresh(d, false);
        m = dd_current(d);
        h = m->header;
        info.pid = atomic_load_explicit(&h->writer_pid, memory_order_relaxed);
        info.heartbeat_interval_ms = DD_READ(h->heartbeat_interval_ms);
        info.heartbeat_usec = atomic_load_explicit(&h->heartbeat_usec, memory_order_relaxed);
        /* Older minors' reserved bytes say nothing, whatever they hold. */
        if (m->geo.version_minor >= 2)
                info.heartbeat_boot_usec = atomic_load_explicit(&h->heartbeat_boot_usec, memory_order_relaxed);
        info.started_usec = DD_READ(h->started_usec);
        info.stopped = !!(atomic_load_explicit(&h->flags, memory_order_relaxed) & DD_FILE_STOPPED);
        for (uint32_t i = 0; i < m->geo.n_service_slots; i++)
                if (dd_slot_identity(dd_map_slot(m, i), NULL, NULL) > 0)
                        info.n_services++;
        *ret = info;
        return 0;
}
