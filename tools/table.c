/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* table.c: column-aligned text tables for dnsdiscctl's human-readable output. */
#include <stdarg.h>

#include "table.h"

struct table {
        size_t n_columns;
        char **cells;           /* headers first, then rows, row-major */
        size_t n_cells;
        size_t n_allocated;
        bool *right;            /* per column */
};

table *table_free(table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t->right);
        free(t);
        return NULL;
}

/* Takes ownership of text, also on failure. */
static int table_push(table *t, char *text) {
        if (!text)
                return -ENOMEM;
        if (t->n_cells == t->n_allocated) {
                size_t n = t->n_allocated ? t->n_allocated * 2 : t->n_columns * 8;
                char **c = reallocarray(t->cells, n, sizeof *c);
                if (!c) {
                        free(text);
                        return -ENOMEM;
                }
                t->cells = c;
                t->n_allocated = n;
        }
        t->cells[t->n_cells++] = text;
        return 0;
}

table *table_new(size_t n_columns, const char *const *headers) {
        _cleanup_(table_freep) table *t = calloc(1, sizeof *t);
        if (!t)
                return NULL;
        t->n_columns = n_columns;
        t->right = calloc(n_columns, sizeof *t->right);
        if (!t->right)
                return NULL;
        for (size_t i = 0; i < n_columns; i++)
                if (table_push(t, strdup(headers[i])) < 0)
                        return NULL;
        return TAKE_PTR(t);
}

void table_align_right(table *t, size_t column) {
        if (column < t->n_columns)
                t->right[column] = true;
}

int table_add(table *t, const char *text) {
        return table_push(t, strdup(text));
}

int table_addf(table *t, const char *fmt, ...) {
        char *s;
        va_list ap;

        va_start(ap, fmt);
        int r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        return table_push(t, s);
}

size_t display_width(const char *s) {
        size_t n = 0;

        while (*s) {
                if (s[0] == '\033' && s[1] == '[') {
                        /* CSI: parameters, then one final byte in 0x40-0x7e. */
                        s += 2;
                        while (*s && !(*s >= 0x40 && *s <= 0x7e))
                                s++;
                        if (*s)
                                s++;
                        continue;
                }
                /* UTF-8 continuation bytes add no column. */
                if (((unsigned char) *s & 0xc0) != 0x80)
                        n++;
                s++;
        }
        return n;
}

static void pad(FILE *f, size_t n) {
        while (n-- > 0)
                fputc(' ', f);
}

int table_print(const table *t, FILE *f) {
        _cleanup_free_ size_t *width = calloc(t->n_columns, sizeof *width);
        if (!width)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_cells; i++)
                width[i % t->n_columns] = MAX(width[i % t->n_columns], display_width(t->cells[i]));

        for (size_t i = 0; i < t->n_cells; i++) {
                size_t col = i % t->n_columns;
                bool last = col == t->n_columns - 1 || i == t->n_cells - 1;
                size_t w = display_width(t->cells[i]);

                if (col > 0)
                        fputs("  ", f);
                if (t->right[col])
                        pad(f, width[col] - w);
                fputs(t->cells[i], f);
                if (!t->right[col] && !last) /* no trailing blanks */
                        pad(f, width[col] - w);
                if (last)
                        fputc('\n', f);
        }
        return ferror(f) ? -EIO : 0;
}
