/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* services.c: a consistent-enough listing of every service in the cache, for list, watch and stats. */
#include "services.h"
#include "util.h"

typedef struct Entry {
        dnsdisc_service_info info;
        dnsdisc_service *handle;
} Entry;

static int compare_entry(const void *a, const void *b) {
        return strcmp(((const Entry *) a)->info.name, ((const Entry *) b)->info.name);
}

int services_collect(dnsdisc *d, dnsdisc_service_info **ret_infos, dnsdisc_service ***ret_handles, size_t *ret_n) {
        _cleanup_free_ Entry *entries = NULL;
        _cleanup_free_ dnsdisc_service_info *infos = NULL;
        _cleanup_free_ dnsdisc_service **handles = NULL;
        size_t n = 0, allocated = 0, cursor = 0;
        int r;

        for (;;) {
                dnsdisc_service *s;

                r = dnsdisc_service_next(d, &cursor, &s);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                if (n == allocated) {
                        size_t m = allocated ? allocated * 2 : 16;
                        Entry *p = reallocarray(entries, m, sizeof *p);
                        if (!p)
                                return -ENOMEM;
                        entries = p;
                        allocated = m;
                }
                r = dnsdisc_service_info_get(s, &entries[n].info);
                if (r == -ESRCH)
                        continue; /* removed since service_next() returned it */
                if (r < 0)
                        return r;
                entries[n++].handle = s;
        }
        if (n > 0)
                qsort(entries, n, sizeof *entries, compare_entry);

        /* One more than needed: malloc(0) may return NULL. */
        infos = calloc(n + 1, sizeof *infos);
        if (!infos)
                return -ENOMEM;
        if (ret_handles) {
                handles = calloc(n + 1, sizeof *handles);
                if (!handles)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                infos[i] = entries[i].info;
                if (handles)
                        handles[i] = entries[i].handle;
        }
        *ret_infos = TAKE_PTR(infos);
        if (ret_handles)
                *ret_handles = TAKE_PTR(handles);
        *ret_n = n;
        return 0;
}
