/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cache-writer-index.c: the writer's slot index (name to slot) and the heap the extents come from. */
#include "cache-writer-internal.h"

uint64_t name_hash(const char *name) {
        uint64_t h = 0xcbf29ce484222325ULL;
        for (const unsigned char *p = (const unsigned char *) name; *p; p++)
                h = (h ^ *p) * 0x100000001b3ULL;
        return h | 1; /* 0 marks a free slot */
}

int index_alloc(CacheFile *f) {
        uint32_t size = 64;

        while (size < 2 * f->n_slots)
                size *= 2;
        f->index = calloc(size, sizeof *f->index);
        if (!f->index)
                return -ENOMEM;
        f->index_mask = size - 1;
        return 0;
}

/* Where a hash starts probing. name_hash() sets the low bit: take the high half, spread by a
 * Fibonacci multiplier. */
static uint32_t index_home(const CacheFile *f, uint64_t hash) {
        return (uint32_t) ((hash * 0x9e3779b97f4a7c15ULL) >> 32) & f->index_mask;
}

static void index_add(CacheFile *f, uint32_t slot) {
        uint32_t k = index_home(f, f->slots[slot].name_hash);

        while (f->index[k] != 0)
                k = (k + 1) & f->index_mask;
        f->index[k] = slot + 1;
}

/* Deletion by backward shift keeps every probe sequence unbroken without tombstones. */
static void index_remove(CacheFile *f, uint32_t slot) {
        uint32_t m = f->index_mask, i = index_home(f, f->slots[slot].name_hash);

        while (f->index[i] != slot + 1) {
                if (f->index[i] == 0)
                        return;
                i = (i + 1) & m;
        }
        for (uint32_t j = (i + 1) & m; f->index[j] != 0; j = (j + 1) & m) {
                uint32_t home = index_home(f, f->slots[f->index[j] - 1].name_hash);
                /* The entry at j may fill the hole at i unless its home lies cyclically in (i, j]. */
                if (((j - home) & m) >= ((j - i) & m)) {
                        f->index[i] = f->index[j];
                        i = j;
                }
        }
        f->index[i] = 0;
}

/* The extent stays allocated to the slot: a later service reuses it. */
void slot_set_free(CacheFile *f, uint32_t i) {
        if (f->slots[i].name_hash != 0) {
                index_remove(f, i);
                f->n_live--;
        }
        f->slots[i].name_hash = 0;
        f->free_hint = MIN(f->free_hint, i);
}

void slot_set_live(CacheFile *f, uint32_t i, uint64_t hash, uint32_t capacity) {
        f->slots[i] = (SlotInfo) { .name_hash = hash, .capacity = capacity };
        f->n_live++;
        index_add(f, i);
}

int slot_find(const CacheWriter *w, const char *name, uint64_t hash) {
        const CacheFile *f = &w->f;

        for (uint32_t k = index_home(f, hash); f->index[k] != 0; k = (k + 1) & f->index_mask) {
                uint32_t i = f->index[k] - 1;
                if (f->slots[i].name_hash == hash && streq(slot_at(f, i)->name, name))
                        return (int) i;
        }
        return -ENOENT;
}

/*
 * A free slot, preferably one whose old extent can take size bytes. Slots
 * fill from the front, so the search starts at the first that may be free
 * and ends at a free one that owns no extent: the slots after it rarely own
 * one (after removing a service with an empty set, or in an adopted file),
 * and missing it costs heap bytes, never correctness.
 */
int slot_find_free(CacheWriter *w, uint32_t size) {
        CacheFile *f = &w->f;
        int any = -ENOSPC;

        while (f->free_hint < f->n_slots && f->slots[f->free_hint].name_hash != 0)
                f->free_hint++;
        for (uint32_t i = f->free_hint; i < f->n_slots; i++) {
                if (f->slots[i].name_hash != 0)
                        continue;
                if (f->slots[i].capacity >= size)
                        return (int) i;
                if (any < 0)
                        any = (int) i;
                if (f->slots[i].capacity == 0)
                        break;
        }
        return any;
}

int heap_alloc(CacheFile *f, uint32_t size, uint64_t *ret_off, uint32_t *ret_cap) {
        uint64_t avail = f->h->heap_size - f->heap_used;
        /* Headroom lets a set grow a little without leaving its old extent behind. */
        uint64_t cap = round_up8((uint64_t) size + size / 4);

        if (cap > avail)
                cap = round_up8(size);
        if (cap > avail)
                return -ENOSPC;
        *ret_off = f->h->heap_offset + f->heap_used;
        *ret_cap = (uint32_t) cap;
        f->heap_used += cap;
        f->h->heap_used = f->heap_used;
        return 0;
}

uint64_t live_bytes(const CacheFile *f) {
        uint64_t n = 0;
        for (uint32_t i = 0; i < f->n_slots; i++)
                if (f->slots[i].name_hash != 0)
                        n += round_up8(slot_at(f, i)->extent_size);
        return n;
}
