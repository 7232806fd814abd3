/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cursor.c: the per-thread pick cursors' storage, and which one a new handle uses. */
#include "cursor.h"

__thread dd_cursor dd_cursors[DD_CURSORS];

static _Atomic uint32_t dd_cursor_next;

bool dd_cursors_static(void) {
#if defined(DD_SHARED_LIBRARY) && defined(__x86_64__)
        /* The access resolves our descriptor of dd_cursors (the library links with -z now
         * anyway). A static one holds the block's offset from the thread pointer, negative
         * below it (TLS variant II); a dynamic one a pointer to the loader's bookkeeping. */
        intptr_t off = (intptr_t) ((uintptr_t) &dd_cursors[0] - (uintptr_t) __builtin_thread_pointer());
        const intptr_t *desc;

        __asm__("leaq dd_cursors@TLSDESC(%%rip), %0" : "=r"(desc));
        return off < 0 && __atomic_load_n(&desc[1], __ATOMIC_RELAXED) == off;
#else
        /* A program's own TLS, and anything linked into it, is always static. */
        return true;
#endif
}

void dd_cursor_assign(uint32_t *ret_index, uintptr_t *ret_off) {
        uint32_t i = atomic_fetch_add_explicit(&dd_cursor_next, 1, memory_order_relaxed) % DD_CURSORS;

        *ret_index = i;
#ifdef DD_CURSOR_SEG_FS
        *ret_off = dd_cursors_static() ? (uintptr_t) dd_cursor_real(i) : DD_CURSOR_OFF_NONE;
#else
        *ret_off = i * sizeof(dd_cursor);
#endif
}
