/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cursor.h: the per-thread pick cursors: a handle finds its thread's cursor from cursor_off, set when it is made. */
#pragma once

#include <stdint.h>

#include "internal.h"

/*
 * A thread's view of one service: where its schedule and backends are, as
 * checked at slot seq `seq` through binding `key`, and the thread's next
 * schedule position. While the slot's seq and the handle's pick_key are
 * unchanged, nothing here needs checking again, so a pick is two
 * comparisons, the copy, and the seqlock recheck. Nothing in it is shared:
 * threads never write to the same cache lines when picking.
 */
typedef struct dd_cursor {
        uint64_t key;                   /* pick_key it was filled for; 0: empty */
        const uint16_t *next;           /* next schedule entry to pick, in [schedule, end) */
        const uint16_t *end;            /* schedule + sched_len, also eligible[] */
        const dd_backend *backends;     /* the schedule follows them */
        const dd_service *slot;
        uint32_t seq;                   /* even */
        uint16_t n_backends;
        uint16_t n_eligible;            /* > 0, as is sched_len */
        uint32_t laps;                  /* fast picks left, counted at each end of the schedule */
        uint64_t rng;                   /* pick_random()'s xorshift state; 0: not seeded yet */
} dd_cursor;

/* Picks between two on the slow path (counted in whole schedules), which looks
 * at the cache's path when the writer is gone: no fast path lasts for ever. */
#define DD_LAP_PICKS 1024

/* Direct-mapped by the handle's cursor_off: a thread alternating between more
 * handles than this that share a slot restarts their cursors at random points
 * (still following the weights, on average). */
#define DD_CURSORS 8

/*
 * The cursors are ordinary TLS, which the library (built with TLS
 * descriptors, -mtls-dialect=gnu2 on x86-64) reaches through a descriptor:
 * dlopen() never fails for want of static TLS space. initial-exec TLS would
 * take its space from the static TLS surplus, which a process that already
 * dlopen()ed libraries with initial-exec TLS may have used up: dlopen() then
 * fails with "cannot allocate memory in static TLS block".
 */
extern __thread dd_cursor dd_cursors[DD_CURSORS];

/*
 * On x86-64, the fast path addresses a cursor %fs-relative through GCC's
 * __seg_fs address space: a handle's cursor_off is its cursor's offset from
 * the thread pointer, and finding the calling thread's cursor costs no
 * instruction at all. That offset is the same in every thread only when the
 * loader gave the library static TLS (always at start-up, and in dlopen()
 * while the surplus lasts); otherwise cursor_off is DD_CURSOR_OFF_NONE, whose
 * "cursor" is the thread control block: its first word is the thread
 * pointer, which no pick_key equals (DD_KEY_VALID), so every pick takes the
 * slow path, which finds the thread's real cursor. Elsewhere, and under
 * AddressSanitizer or ThreadSanitizer, cursor_off is an offset into
 * dd_cursors, found per pick: their instrumentation passes the address of a
 * __seg_fs access to its runtime as if it were a plain pointer, so the
 * runtime looks up the shadow of the %fs-relative offset (a small negative
 * number) and faults there (GCC 12's TSan does so wherever it instruments
 * one, e.g. in a dd_random_below() it left out of line).
 */
#define DD_CURSOR_OFF_NONE ((uintptr_t) 0)

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define DD_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define DD_SANITIZED 1
#endif
#endif

#if defined(__x86_64__) && defined(__SEG_FS) && !defined(DD_SANITIZED)
#define DD_CURSOR_SEG_FS 1
#define DD_TLS __seg_fs

/* This thread's cursor i, as the slow path finds it (static TLS or not). */
static inline DD_TLS dd_cursor *dd_cursor_real(uint32_t i) {
        return (DD_TLS dd_cursor *) ((uintptr_t) &dd_cursors[i] - (uintptr_t) __builtin_thread_pointer());
}

static inline DD_TLS dd_cursor *dd_cursor_of(const dnsdisc_service *s) {
        return (DD_TLS dd_cursor *) s->cursor_off;
}
#else
#define DD_TLS

static inline dd_cursor *dd_cursor_real(uint32_t i) {
        return &dd_cursors[i];
}

static inline dd_cursor *dd_cursor_of(const dnsdisc_service *s) {
        return (dd_cursor *) ((char *) dd_cursors + s->cursor_off);
}
#endif

/* A new handle's cursor: its index (for dd_cursor_real()) and the cursor_off of
 * its fast path (round-robin over the cursors). */
void dd_cursor_assign(uint32_t *ret_index, uintptr_t *ret_off);

/* Whether the loader gave the cursors static TLS: the same offset from the thread pointer in every thread. */
bool dd_cursors_static(void);
