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
} dd_cursor;

/* Direct-mapped by the handle's cursor_off: a thread alternating between more
 * handles than this that share a slot restarts their cursors at random points
 * (still following the weights, on average). */
#define DD_CURSORS 8

/* initial-exec: a TLS access is one %fs-relative load, with no __tls_get_addr call. */
extern __thread dd_cursor dd_cursors[DD_CURSORS] __attribute__((tls_model("initial-exec")));

/*
 * On x86-64, cursors are addressed %fs-relative through GCC's __seg_fs
 * address space: a handle's cursor_off is then its cursor's offset from the
 * thread pointer, which initial-exec TLS makes the same in every thread, and
 * finding the calling thread's cursor costs no instruction at all. Elsewhere,
 * and under AddressSanitizer (which would check those accesses as if they
 * were plain pointers), it is an offset into dd_cursors.
 */
#if defined(__x86_64__) && defined(__SEG_FS) && !defined(__SANITIZE_ADDRESS__)
#define DD_TLS __seg_fs

static inline uintptr_t dd_cursors_base(void) {
        return (uintptr_t) dd_cursors - (uintptr_t) __builtin_thread_pointer();
}

static inline DD_TLS dd_cursor *dd_cursor_of(const dnsdisc_service *s) {
        return (DD_TLS dd_cursor *) s->cursor_off;
}
#else
#define DD_TLS

static inline uintptr_t dd_cursors_base(void) {
        return 0;
}

static inline dd_cursor *dd_cursor_of(const dnsdisc_service *s) {
        return (dd_cursor *) ((char *) dd_cursors + s->cursor_off);
}
#endif

/* The per-thread cursor of a new handle, as a cursor_off (round-robin over the cursors). */
uintptr_t dd_cursor_assign(void);
