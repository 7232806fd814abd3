/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* name-set.h: the DNS names a service's answers depend on, to match a NOTIFY's zone against them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Normalised names (lower-case, no trailing dot), NUL-separated, each once. Zero-initialised: empty.
 * A service holds a few (its query name, CNAME targets, SRV targets): lookups are linear. */
typedef struct NameSet {
        char *buf;
        size_t used, size;
        size_t n;
} NameSet;

/* True if name (normalised) is zone or lies below it ("" is the root, above every name). */
bool name_in_zone(const char *name, const char *zone);
/* Add name unless present. 0 or -ENOMEM (the set is unchanged then). */
int name_set_add(NameSet *s, const char *name);
/* Add each of n NUL-separated names. */
int name_set_add_list(NameSet *s, const char *names, size_t n);
bool name_set_contains(const NameSet *s, const char *name);
/* A name of the set is zone or lies below it. */
bool name_set_any_in_zone(const NameSet *s, const char *zone);
/* Empty the set, keeping its memory. */
void name_set_clear(NameSet *s);
/* Give up the memory. */
void name_set_done(NameSet *s);
/* Exchange the contents of two sets. */
void name_set_swap(NameSet *a, NameSet *b);
