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

/* dnsdisc_service.pick_key: (binding uid << DD_KEY_SHIFT) | active quarantines (<= DD_QUARANTINE_SLOTS). */
#define DD_KEY_SHIFT 5
#define DD_KEY_QMASK ((UINT64_C(1) << DD_KEY_SHIFT) - 1)

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
        const dd_header *header;        /* validated with dd_validate_header() */
        uint64_t size;
        dev_t dev;
        ino_t ino;
        struct dd_map *older;
} dd_map;

/* Where a handle's service lives. Copied out of the handle under bind_seq. */
typedef struct dd_binding {
        const dd_header *header;
        uint64_t map_size;
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
        uintptr_t cursor_off;           /* where this handle's per-thread cursor is (cursor.h) */
        _Atomic uint32_t bind_seq;      /* seqlock over binding: odd while it is rewritten */
        dd_binding binding;             /* written under dnsdisc.lock, read under bind_seq */
        uint64_t seed;                  /* per-process random start of this service's cursors */
        dnsdisc *d;
        struct dnsdisc_service *next;
        char name[DD_NAME_MAX];
        dd_quarantine quarantine[DD_QUARANTINE_SLOTS];
};

struct dnsdisc {
        pthread_mutex_t lock;           /* serialises rebinding, remapping, handle creation, quarantine updates */
        _Atomic(dd_map *) map;          /* newest mapping; older ones chained behind it */
        dnsdisc_service *services;      /* owned */
        unsigned n_services;
        uint64_t seed;                  /* from getrandom(): distinct per process */
        char *path;
};

/* pick.c. Clock of the quarantine (CLOCK_MONOTONIC µs); tests replace it to drive time. */
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
 * call, or dd_service_rebind()'s error. */
static inline int dd_follow(dnsdisc_service *s, const dd_binding *b, uint64_t incarnation, uint8_t flags,
                            unsigned *rebinds) {
        if (incarnation == b->incarnation && !(flags & DD_SVC_MOVED))
                return 0;
        if (++*rebinds > DD_REBIND_MAX)
                return -EAGAIN;
        int r = dd_service_rebind(s, b->uid);
        return r < 0 ? r : 1;
}

/* Whether key is quarantined at now for s (retires expired entries). */
bool dd_quarantined(dnsdisc_service *s, uint64_t key, uint64_t now);

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

/* Inside a seqlock section: the caller checks dd_seq_retry(), then dd_follow(), then
 * dd_slot_view_ok() before it trusts any of it. */
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
        return dd_extent_ok(b->header, b->map_size, v->extent_offset, v->extent_size, v->n_backends, v->sched_len,
                            v->n_eligible);
}
