/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cache-file.h: validation and access helpers for a mapped cache file, shared by writer and readers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache-def.h"

/* Relaxed loads of fields the writer may be changing (read under a seqlock). */
#define DD_READ(x) (*(const volatile __typeof__(x) *) &(x))

/*
 * Check the immutable header of a mapping of map_size bytes: magic, major
 * version, header/slot sizes, and that services and heap lie inside both
 * file_size and map_size. Returns 0, -EBADMSG (corrupt, truncated) or
 * -EPROTONOSUPPORT (another major version).
 */
int dd_validate_header(const void *map, uint64_t map_size);

/*
 * A reader's copy of a mapping's geometry, taken once from a copy of the
 * header when it is validated. Readers step through the file with this copy,
 * never with the live header's fields: the first cache line is immutable for
 * the life of a file, but a buggy or hostile writer could still change it
 * under a live mapping, and every bound must hold against the mapping's own
 * size whatever the file says later.
 */
typedef struct dd_geometry {
        uint64_t map_size;              /* bytes mapped (the file's size at open) */
        uint64_t services_offset;
        uint64_t heap_offset;
        uint64_t heap_end;              /* heap_offset + heap_size, <= map_size */
        uint32_t service_size;
        uint32_t n_service_slots;
        uint16_t version_minor;         /* which of the header's later fields the writer keeps (1.2: heartbeat_boot_usec) */
        uint8_t first_line[64];         /* the header's immutable first cache line, as validated */
} dd_geometry;

/* Copy the header of a mapping of map_size bytes once, validate the copy as
 * dd_validate_header() does and fill *ret from it. 0, -EBADMSG, -EPROTONOSUPPORT. */
int dd_geometry_load(const void *map, uint64_t map_size, dd_geometry *ret);

/* Whether the mapping's immutable first cache line still reads as when g was loaded. */
bool dd_geometry_intact(const void *map, const dd_geometry *g);

/* Slot i (< g->n_service_slots) of a mapping, by the reader's geometry. */
static inline const dd_service *dd_geometry_slot(const void *map, const dd_geometry *g, uint32_t i) {
        return (const dd_service *) ((const uint8_t *) map + g->services_offset + (uint64_t) i * g->service_size);
}

/* dd_extent_ok() by the reader's geometry: the extent lies in the heap as
 * validated, inside the mapping, and its counts fit its size. */
static inline bool dd_geometry_extent_ok(const dd_geometry *g, uint64_t off, uint32_t size, uint32_t n_backends,
                                         uint32_t sched_len, uint32_t n_eligible) {
        /* Written as differences: a garbage off near UINT64_MAX must not wrap off + size. */
        return off >= g->heap_offset && size <= DD_EXTENT_MAX && off <= g->heap_end && size <= g->heap_end - off &&
               (off & 7) == 0 && n_backends <= DD_BACKENDS_MAX && sched_len <= DD_SCHED_MAX &&
               n_eligible <= n_backends && dd_extent_size(n_backends, sched_len, n_eligible, 0) <= size;
}

/* Slot i of a validated mapping (i < n_service_slots), by its live header: for the writer. */
static inline const dd_service *dd_slot(const void *map, uint32_t i) {
        const dd_header *h = (const dd_header *) map;
        return (const dd_service *) ((const uint8_t *) map + h->services_offset + (uint64_t) i * h->service_size);
}

/*
 * For the writer, which owns the header: check an extent described by values
 * read from a slot (possibly torn) against a validated mapping: it lies in the heap and inside map_size, and
 * its counts fit in its size and the format's bounds. Cheap enough for the
 * pick path.
 */
static inline bool dd_extent_ok(const dd_header *h, uint64_t map_size, uint64_t off, uint32_t size,
                                uint32_t n_backends, uint32_t sched_len, uint32_t n_eligible) {
        /* Written as differences: a garbage off near UINT64_MAX must not wrap off + size. */
        uint64_t heap_end = h->heap_offset + h->heap_size; /* no overflow: dd_validate_header() */
        return off >= h->heap_offset && size <= DD_EXTENT_MAX && off <= heap_end && size <= heap_end - off &&
               off <= map_size && size <= map_size - off && (off & 7) == 0 && n_backends <= DD_BACKENDS_MAX &&
               sched_len <= DD_SCHED_MAX && n_eligible <= n_backends &&
               dd_extent_size(n_backends, sched_len, n_eligible, 0) <= size;
}

/* Pointers into a checked extent. */
static inline const dd_backend *dd_extent_backends(const void *map, uint64_t off) {
        return (const dd_backend *) ((const uint8_t *) map + off);
}
static inline const uint16_t *dd_extent_schedule(const void *map, uint64_t off, uint32_t n_backends) {
        return (const uint16_t *) ((const uint8_t *) map + off + (uint64_t) n_backends * sizeof(dd_backend));
}
static inline const uint16_t *dd_extent_eligible(const void *map, uint64_t off, uint32_t n_backends, uint32_t sched_len) {
        return dd_extent_schedule(map, off, n_backends) + sched_len;
}

/*
 * Check a Maglev table described by values read from a slot (possibly torn)
 * against its extent, already accepted by dd_extent_ok(): it lies after the
 * fixed parts, inside extent_size, 8-aligned, and has at most
 * DD_HASH_TABLE_MAX entries. Entries are checked against n_backends by
 * whoever loads them.
 */
static inline bool dd_hash_table_ok(uint32_t extent_size, uint32_t n_backends, uint32_t sched_len, uint32_t n_eligible,
                                    uint32_t table_off, uint32_t table_size) {
        return table_size <= DD_HASH_TABLE_MAX && (table_off & 7) == 0 &&
               table_off >= dd_extent_size(n_backends, sched_len, n_eligible, 0) && table_off <= extent_size &&
               (uint64_t) table_size * sizeof(uint16_t) <= extent_size - table_off;
}
static inline const uint16_t *dd_extent_hash_table(const void *map, uint64_t off, uint32_t table_off) {
        return (const uint16_t *) ((const uint8_t *) map + off + table_off);
}
