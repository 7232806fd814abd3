/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* internal.h: libdnsdisc's private structures and the calls between its files (map, handle, pick, read, wait). */
#pragma once

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cache-def.h"
#include "cache-file.h"
#include "dnsdisc.h"

/* Exported (the library builds with -fvisibility=hidden; libdnsdisc.sym names them too). */
#define _public_ __attribute__((visibility("default")))

#define dd_likely(x) __builtin_expect(!!(x), 1)
#define dd_unlikely(x) __builtin_expect(!!(x), 0)

/* Seqlock reads give up after this many attempts (a writer that died mid-write, or a hostile file). */
#define DD_READ_RETRIES 1000
/* Re-lookups of a moved service within one call: a slot that keeps moving is not followed forever. */
#define DD_REBIND_MAX 4

#define DD_QUARANTINE_SLOTS 16
#define DD_QUARANTINE_MIN_USEC ((uint64_t) 1000000)
#define DD_QUARANTINE_MAX_USEC ((uint64_t) 30000000)

/* dnsdisc_service.pick_key: DD_KEY_VALID | (binding uid << DD_KEY_SHIFT) | active quarantines (<= DD_QUARANTINE_SLOTS). */
#define DD_KEY_SHIFT 5
#define DD_KEY_QMASK ((UINT64_C(1) << DD_KEY_SHIFT) - 1)
/* Set in every pick_key and cursor key: no user-space pointer has it, so the
 * thread pointer a handle without a fast path reads as its key never matches. */
#define DD_KEY_VALID (UINT64_C(1) << 62)
/* Set in pick_key when a newer mapping is installed: no cursor matches it, so the
 * next pick takes the slow path, which rebinds (uids never reach bit 63). */
#define DD_KEY_RETIRED (UINT64_C(1) << 63)

/* The pick_key of a binding uid with no quarantine in force. */
static inline uint64_t dd_pick_key(uint64_t uid) {
        return DD_KEY_VALID | uid << DD_KEY_SHIFT;
}

/* A process looks for a new file at the path at most this often while the one it
 * maps is abandoned (writer gone, or path missing after a replacement). */
#define DD_LOOK_INTERVAL_USEC ((uint64_t) 1000000)
/* Mappings of one reader: remaps of the same file (after its header changed) stop here. */
#define DD_MAPS_MAX 64

static inline void dd_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ __volatile__("yield" ::: "memory");
#else
        __asm__ __volatile__("" ::: "memory");
#endif
}

/* One read-only mapping of a cache file. Never unmapped before dnsdisc_close():
 * other threads may still be reading a replaced file through a stale binding. */
typedef struct dd_map {
        const dd_header *header;        /* the mapping; only its fixed-offset fields are read live */
        dd_geometry geo;                /* taken once when validated: all stepping and bounds use it */
        dev_t dev;
        ino_t ino;
        _Atomic bool retired;           /* a newer mapping was installed: handles bound here look again */
        _Atomic bool corrupt;           /* its immutable first line changed after validation */
        struct dd_map *older;
} dd_map;

/* Where a handle's service lives. Copied out of the handle under bind_seq. */
typedef struct dd_binding {
        const dd_map *map;
        const dd_service *slot;
        uint64_t incarnation;
        uint64_t uid;                   /* process-wide unique, never 0: keys the per-thread cursors */
} dd_binding;

/* A quarantined endpoint. key and backoff_usec change only under dnsdisc.lock;
 * until_usec goes nonzero only under the lock, and back to 0 by whoever wins
 * the compare-and-swap (a pick that sees it expired, or report_success), who
 * then takes one off pick_key's count. */
typedef struct dd_quarantine {
        _Atomic uint64_t key;           /* dd_endpoint_key(); 0: free entry */
        _Atomic uint64_t until_usec;    /* CLOCK_MONOTONIC; 0: not in force (backoff remembered) */
        uint64_t backoff_usec;          /* length of the last quarantine */
} dd_quarantine;

struct dnsdisc_service {
        /* Hot: read by every pick. A pick takes the fast path only when
         * pick_key equals the key its cursor was filled for, which fails
         * both after a rebinding and while any quarantine is in force. */
        _Atomic uint64_t pick_key;
        uintptr_t cursor_off;           /* where the fast path finds this handle's per-thread cursor (cursor.h) */
        _Atomic uint32_t bind_seq;      /* seqlock over binding: odd while it is rewritten */
        dd_binding binding;             /* written under dnsdisc.lock, read under bind_seq */
        uint64_t seed;                  /* per-process random start of this service's cursors */
        uint32_t cursor_index;          /* which of the thread's cursors is this handle's */
        dnsdisc *d;
        struct dnsdisc_service *next;
        char name[DD_NAME_MAX];
        dd_quarantine quarantine[DD_QUARANTINE_SLOTS];
        _Atomic uint64_t least_swept;   /* pick-least.c: (binding uid << 32 | generation) of the set last swept */
        _Atomic uint64_t least_owner;   /* pick-least.c: process-unique id of the handle's counts; 0: none yet */
};

struct dnsdisc {
        pthread_mutex_t lock;           /* serialises rebinding, remapping, handle creation, quarantine updates */
        _Atomic(dd_map *) map;          /* newest mapping; older ones chained behind it */
        dnsdisc_service *services;      /* owned */
        unsigned n_services;
        uint64_t seed;                  /* from getrandom(): distinct per process */
        char *path;
        unsigned n_maps;                /* mappings in the chain behind map */
        _Atomic uint64_t next_look_usec;/* CLOCK_MONOTONIC: no look at the path before (0: any time) */
        _Atomic uint64_t next_check_usec;/* CLOCK_MONOTONIC: dd_look_if_due() does nothing before */
};

/* clock.c. CLOCK_MONOTONIC µs, of the quarantine and the looks at the path; tests replace it to drive time. */
extern uint64_t (*dd_clock_hook)(void);
uint64_t dd_monotonic_usec(void);

/* map.c. The newest mapping of d (never NULL while d is open). */
static inline dd_map *dd_current(dnsdisc *d) {
        return atomic_load_explicit(&d->map, memory_order_acquire);
}

/*
 * Under d->lock: map the file now at d->path if it is not the newest mapping
 * any more. Unless force, only looks when the newest mapping says it was
 * replaced or its writer stopped (a restarted writer may have made a new
 * file). Returns 1 if a newer mapping was installed, 0 if not, or an error.
 */
int dd_refresh_locked(dnsdisc *d, bool force);
/* dd_refresh_locked() under the lock, its error dropped (the current mapping stays usable). */
void dd_refresh(dnsdisc *d, bool force);

/* Whether bindings to m may stay: not replaced by a newer mapping, header as validated
 * (a change marks it corrupt for good). */
static inline bool dd_map_usable(const dd_map *m) {
        if (dd_unlikely(atomic_load_explicit(&m->retired, memory_order_acquire) ||
                        atomic_load_explicit(&m->corrupt, memory_order_relaxed)))
                return false;
        if (dd_likely(dd_geometry_intact(m->header, &m->geo)))
                return true;
        atomic_store_explicit(&((dd_map *) m)->corrupt, true, memory_order_relaxed);
        return false;
}

/* Slot i (< n_service_slots of its geometry) of m. */
static inline const dd_service *dd_map_slot(const dd_map *m, uint32_t i) {
        return dd_geometry_slot(m->header, &m->geo, i);
}

/* Whether the file at the path may hold a newer file than m: m was replaced,
 * its writer is gone (a new one may have made a new file), or its header changed. */
bool dd_map_abandoned(const dd_map *m);

/* Whether the writer of h stopped, or its heartbeat is older than three intervals (at least 3 s). */
bool dd_writer_gone(const dd_header *h);

/* Outside the lock, cheap when not due: dd_refresh() if the newest mapping is
 * abandoned and the last look at the path is a second old. For callers that
 * otherwise never look (picks). */
void dd_look_if_due(dnsdisc *d);

/* Is the slot in use (and not retired)? If so, its name and incarnation. 1, 0, -EAGAIN or -EBADMSG. */
int dd_slot_identity(const dd_service *slot, char name[DD_NAME_MAX], uint64_t *ret_incarnation);

/* Under d->lock: find name in the newest mapping, looking for a newer file once
 * if it is not there. 0, -ESRCH, -EAGAIN, or the remap's error. */
int dd_find_locked(dnsdisc *d, const char *name, const dd_map **ret_map, const dd_service **ret_slot,
                   uint64_t *ret_incarnation);

/* handle.c. Copy s's binding consistently (lock-free). */
void dd_binding_get(dnsdisc_service *s, dd_binding *ret);

/* Bind s to a live slot if it is not, and copy its binding. 0, -ESRCH (gone), -EAGAIN. */
int dd_service_live(dnsdisc_service *s, dd_binding *ret);

/*
 * s's slot was retired (moved, freed, reused) while bound as seen_uid: find
 * the service again by name, in a newer file if the cache was replaced.
 * Returns 0 when s is bound to a live slot (possibly by another thread
 * already), -ESRCH if the service is gone, -ENOMEM, or another error.
 */
int dd_service_rebind(dnsdisc_service *s, uint64_t seen_uid);

/* After a consistent read of the slot bound as b: 0 if it still holds the
 * service; 1 if the service moved (slot reused, or file replaced) and the
 * handle was rebound, so read again; -EAGAIN after DD_REBIND_MAX moves in one
 * call, or dd_service_rebind()'s error. A slot of a mapping that a newer one
 * replaced, or whose header changed, counts as moved. */
static inline int dd_follow(dnsdisc_service *s, const dd_binding *b, uint64_t incarnation, uint8_t flags,
                            unsigned *rebinds) {
        if (incarnation == b->incarnation && !(flags & DD_SVC_MOVED) && dd_map_usable(b->map))
                return 0;
        if (++*rebinds > DD_REBIND_MAX)
                return -EAGAIN;
        int r = dd_service_rebind(s, b->uid);
        return r < 0 ? r : 1;
}

/* Whether key is quarantined at now for s. */
bool dd_quarantined(dnsdisc_service *s, uint64_t key, uint64_t now);
/* Retire s's quarantines that ran out by now, so that picks return to their fast paths. */
void dd_quarantine_expire(dnsdisc_service *s, uint64_t now);

/* Seed the calling thread's pick_random() generator (tests: reproducible draws). */
void dd_random_seed(uint64_t seed);

/* End q's quarantine if in force (the caller holds dnsdisc.lock, or races a pick for it fairly). */
void dd_quarantine_end(dnsdisc_service *s, dd_quarantine *q);

/* splitmix64's finaliser: spreads seeds so that close inputs start far apart. */
static inline uint64_t dd_mix64(uint64_t x) {
        x += UINT64_C(0x9e3779b97f4a7c15);
        x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
        return x ^ (x >> 31);
}

/*
 * Seqlock reads race with the writer by design: the sequence check, not
 * ordering, makes them safe. ThreadSanitizer is told to ignore the functions
 * that make them (_seqlock_reader_). It does not model fences either, and GCC
 * rejects atomic_thread_fence() under it (-Wtsan): there, on x86, whose loads
 * and stores are each kept in order, a compiler barrier is the whole fence.
 */
#ifdef __SANITIZE_THREAD__
#define _seqlock_reader_ __attribute__((no_sanitize("thread")))
#else
#define _seqlock_reader_
#endif
#if defined(__SANITIZE_THREAD__) && (defined(__x86_64__) || defined(__i386__))
#define dd_fence(order) __asm__ __volatile__("" ::: "memory")
#else
#define dd_fence(order) atomic_thread_fence(order)
#endif

/* Seqlock read helpers over a slot. */
static inline uint32_t dd_seq_begin(const dd_service *slot) {
        return atomic_load_explicit(&slot->seq, memory_order_acquire);
}
static inline bool dd_seq_retry(const dd_service *slot, uint32_t seq) {
        dd_fence(memory_order_acquire);
        return atomic_load_explicit(&slot->seq, memory_order_relaxed) != seq;
}

/* The slot fields that locate and size its extent, as every reader of a set needs them. */
typedef struct dd_slot_view {
        uint64_t incarnation, extent_offset;
        uint32_t extent_size, n_backends, sched_len, n_eligible;
        uint8_t flags;
} dd_slot_view;

/* Inside a seqlock section (dd_slot_read_begin() reads it): the caller checks
 * dd_slot_read_end(), then dd_slot_view_ok(), before it trusts any of it. */
static inline void dd_slot_view_read(const dd_service *slot, dd_slot_view *v) {
        v->incarnation = DD_READ(slot->incarnation);
        v->flags = DD_READ(slot->flags);
        v->extent_offset = DD_READ(slot->extent_offset);
        v->extent_size = DD_READ(slot->extent_size);
        v->n_backends = DD_READ(slot->n_backends);
        v->sched_len = DD_READ(slot->sched_len);
        v->n_eligible = DD_READ(slot->n_eligible);
}

static inline bool dd_slot_view_ok(const dd_binding *b, const dd_slot_view *v) {
        return dd_geometry_extent_ok(&b->map->geo, v->extent_offset, v->extent_size, v->n_backends, v->sched_len,
                                     v->n_eligible);
}

/*
 * One attempt at a consistent read of the slot a handle is bound to, the
 * rule every reader of a slot follows: dd_binding_get(), then
 * dd_slot_read_begin(), which starts the seqlock section and reads the
 * view (false while a writer is mid-write, after a pause: try again); the
 * caller reads whatever else it needs of the slot; then dd_slot_read_end()
 * closes the section: 1 to try again (a torn read, or the service moved
 * and the handle was rebound), 0 when the view is one consistent state of
 * the slot that still holds the service, or dd_follow()'s error. The view's
 * extent is trusted only after dd_slot_view_ok().
 */
static inline __attribute__((always_inline))
bool dd_slot_read_begin(const dd_binding *b, dd_slot_view *ret_view, uint32_t *ret_seq) {
        uint32_t seq = dd_seq_begin(b->slot);

        if (seq & 1) {
                dd_cpu_relax();
                return false;
        }
        dd_slot_view_read(b->slot, ret_view);
        *ret_seq = seq;
        return true;
}

static inline __attribute__((always_inline))
int dd_slot_read_end(dnsdisc_service *s, const dd_binding *b, const dd_slot_view *v, uint32_t seq,
                     unsigned *rebinds) {
        if (dd_seq_retry(b->slot, seq))
                return 1;
        /* Another slot, or a newer file, may hold the service now. */
        return dd_follow(s, b, v->incarnation, v->flags, rebinds);
}
