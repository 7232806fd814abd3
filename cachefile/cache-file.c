/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cache-file.c: header validation and code names of the cache file, shared by the writer and libdnsdisc. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "cache-file.h"

int dd_validate_header(const void *map, uint64_t map_size) {
        const dd_header *h = map;
        uint64_t services_size, services_end, heap_end;

        if (!map || map_size < sizeof(dd_header))
                return -EBADMSG;
        if (memcmp(h->magic, DD_MAGIC, DD_MAGIC_SIZE) != 0)
                return -EBADMSG;
        /* Checked before the sizes: a future major may lay out everything else differently. */
        if (h->version_major != DD_VERSION_MAJOR)
                return -EPROTONOSUPPORT;

        if (h->header_size < sizeof(dd_header) || (h->header_size & 7) != 0)
                return -EBADMSG;
        if (h->service_size < sizeof(dd_service) || (h->service_size & 7) != 0)
                return -EBADMSG;
        if (h->n_service_slots > DD_SLOTS_MAX)
                return -EBADMSG;
        if (h->file_size > map_size || h->file_size < h->header_size)
                return -EBADMSG;

        /* Services: after the header, inside the file, slot-aligned. */
        if (h->services_offset < h->header_size || (h->services_offset & 7) != 0)
                return -EBADMSG;
        if (__builtin_mul_overflow((uint64_t) h->n_service_slots, (uint64_t) h->service_size, &services_size) ||
            __builtin_add_overflow(h->services_offset, services_size, &services_end) ||
            services_end > h->file_size)
                return -EBADMSG;

        /* Heap: after the services (extents must never alias a slot), inside the file. */
        if (h->heap_offset < services_end || (h->heap_offset & 7) != 0)
                return -EBADMSG;
        if (__builtin_add_overflow(h->heap_offset, h->heap_size, &heap_end) || heap_end > h->file_size)
                return -EBADMSG;

        return 0;
}

int dd_geometry_load(const void *map, uint64_t map_size, dd_geometry *ret) {
        dd_header h;
        int r;

        _Static_assert(sizeof(((dd_geometry *) 0)->first_line) == offsetof(dd_header, flags),
                       "the immutable first line is the header up to flags");
        if (!map || map_size < sizeof(dd_header))
                return -EBADMSG;
        /* One copy, then only the copy: the checks and the values kept must be the same reading. */
        memcpy(&h, map, sizeof(h));
        __asm__ __volatile__("" ::: "memory");
        r = dd_validate_header(&h, map_size);
        if (r < 0)
                return r;
        *ret = (dd_geometry) {
                .map_size = map_size,
                .services_offset = h.services_offset,
                .heap_offset = h.heap_offset,
                .heap_end = h.heap_offset + h.heap_size, /* no overflow: validated */
                .service_size = h.service_size,
                .n_service_slots = h.n_service_slots,
                .version_minor = h.version_minor,
        };
        memcpy(ret->first_line, &h, sizeof(ret->first_line));
        return 0;
}

bool dd_geometry_intact(const void *map, const dd_geometry *g) {
        uint8_t now[sizeof(g->first_line)];

        memcpy(now, map, sizeof(now));
        __asm__ __volatile__("" ::: "memory");
        return memcmp(now, g->first_line, sizeof(now)) == 0;
}

static const char *name_of(const char *const *table, unsigned n, unsigned i) {
        return i < n && table[i] ? table[i] : "invalid";
}

const char *dd_state_name(unsigned state) {
        static const char *const table[_DD_STATE_MAX] = {
                [DD_STATE_PENDING] = "pending", [DD_STATE_OK] = "ok",       [DD_STATE_STALE] = "stale",
                [DD_STATE_NEGATIVE] = "negative", [DD_STATE_ERROR] = "error",
        };
        return name_of(table, _DD_STATE_MAX, state);
}

const char *dd_health_name(unsigned health) {
        static const char *const table[_DD_HEALTH_MAX] = {
                [DD_HEALTH_UNKNOWN] = "unknown", [DD_HEALTH_UP] = "up", [DD_HEALTH_DOWN] = "down",
        };
        return name_of(table, _DD_HEALTH_MAX, health);
}

const char *dd_source_name(unsigned source) {
        static const char *const table[_DD_SOURCE_MAX] = {
                [DD_SOURCE_SRV] = "srv", [DD_SOURCE_A] = "a", [DD_SOURCE_AAAA] = "aaaa",
        };
        return name_of(table, _DD_SOURCE_MAX, source);
}

const char *dd_error_name(unsigned err) {
        static const char *const table[_DD_ERR_MAX] = {
                [DD_ERR_NONE] = "none",
                [DD_ERR_TIMEOUT] = "timeout",
                [DD_ERR_SERVFAIL] = "servfail",
                [DD_ERR_REFUSED] = "refused",
                [DD_ERR_NXDOMAIN] = "nxdomain",
                [DD_ERR_NODATA] = "nodata",
                [DD_ERR_NETWORK] = "network",
                [DD_ERR_MALFORMED] = "malformed",
                [DD_ERR_TRUNCATED] = "truncated",
                [DD_ERR_UNAVAILABLE] = "unavailable",
                [DD_ERR_CONNREFUSED] = "connrefused",
                [DD_ERR_CHECK_TIMEOUT] = "check-timeout",
                [DD_ERR_HTTP_STATUS] = "http-status",
                [DD_ERR_PROTOCOL] = "protocol",
                [DD_ERR_OTHER] = "other",
        };
        return name_of(table, _DD_ERR_MAX, err);
}
