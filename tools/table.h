/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* table.h: column-aligned text tables for dnsdiscctl's human-readable output. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "util.h"

typedef struct table table;

/* A table with n_columns columns titled by headers (copied). NULL on ENOMEM. */
table *table_new(size_t n_columns, const char *const *headers);
/* Frees t and every cell. Accepts NULL; returns NULL. */
table *table_free(table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(table *, table_free);

/* Right-align a column (numbers); columns are left-aligned by default. */
void table_align_right(table *t, size_t column);

/* Append a cell (copied) to the current row, starting a new row after the
 * last column. -ENOMEM on allocation failure. */
int table_add(table *t, const char *text);
int table_addf(table *t, const char *fmt, ...) _printf_(2, 3);

/* Print the header and the rows, columns separated by two spaces, without
 * trailing blanks. Cells may hold SGR escape sequences (colours): widths are
 * measured in columns, by display_width(). -EIO if the stream has an error. */
int table_print(const table *t, FILE *f);

/* Terminal columns text takes: CSI escape sequences take none, a UTF-8
 * character takes one. */
size_t display_width(const char *s);
