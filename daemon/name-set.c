/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* name-set.c: the DNS names a service's answers depend on, to match a NOTIFY's zone against them. */
#include "name-set.h"
#include "util.h"

bool name_in_zone(const char *name, const char *zone) {
        size_t n = strlen(name), z = strlen(zone);
        if (z == 0)
                return true;
        if (n < z || strcasecmp(name + n - z, zone) != 0)
                return false;
        return n == z || name[n - z - 1] == '.';
}

bool name_set_contains(const NameSet *s, const char *name) {
        for (size_t off = 0; off < s->used; off += strlen(s->buf + off) + 1)
                if (streq(s->buf + off, name))
                        return true;
        return false;
}

int name_set_add(NameSet *s, const char *name) {
        if (name_set_contains(s, name))
                return 0;
        size_t len = strlen(name) + 1;
        if (s->used + len > s->size) {
                size_t size = MAX(s->size * 2, s->used + len);
                size = MAX(size, (size_t) 64);
                char *b = realloc(s->buf, size);
                if (!b)
                        return -ENOMEM;
                s->buf = b;
                s->size = size;
        }
        memcpy(s->buf + s->used, name, len);
        s->used += len;
        s->n++;
        return 0;
}

int name_set_add_list(NameSet *s, const char *names, size_t n) {
        for (size_t i = 0; i < n; i++) {
                int r = name_set_add(s, names);
                if (r < 0)
                        return r;
                names += strlen(names) + 1;
        }
        return 0;
}

bool name_set_any_in_zone(const NameSet *s, const char *zone) {
        for (size_t off = 0; off < s->used; off += strlen(s->buf + off) + 1)
                if (name_in_zone(s->buf + off, zone))
                        return true;
        return false;
}

void name_set_clear(NameSet *s) {
        s->used = 0;
        s->n = 0;
}

void name_set_done(NameSet *s) {
        free(s->buf);
        *s = (NameSet) {};
}

void name_set_swap(NameSet *a, NameSet *b) {
        NameSet t = *a;
        *a = *b;
        *b = t;
}
