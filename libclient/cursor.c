/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cursor.c: the per-thread pick cursors' storage, and which one a new handle uses. */
#include "cursor.h"

__thread dd_cursor dd_cursors[DD_CURSORS] __attribute__((tls_model("initial-exec")));

static _Atomic uint32_t dd_cursor_next;

uintptr_t dd_cursor_assign(void) {
        uint32_t i = atomic_fetch_add_explicit(&dd_cursor_next, 1, memory_order_relaxed) % DD_CURSORS;

        return dd_cursors_base() + i * sizeof(dd_cursor);
}
