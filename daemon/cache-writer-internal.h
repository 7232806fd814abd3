/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cache-writer-internal.h: what the cache writer's files share; nothing outside daemon/cache-writer*.c includes it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "cache-file.h"
#include "cache-writer.h"
#include "schedule.h"
#include "util.h"

#define INITIAL_SLOTS 64u
#define INITIAL_HEAP_SIZE (256u * 1024u)
/* Heap bytes cache_writer_reserve() sets aside per service: 4 backends with 31-character targets,
 * a schedule of 4, and heap_alloc()'s quarter of headroom. Services that need more make the file grow. */
#define RESERVE_EXTENT_SIZE (5 * (4 * (sizeof(dd_backend) + 32) + 8 * sizeof(uint16_t)) / 4)
#define HEARTBEAT_INTERVAL_MS 1000u
#define OPEN_ATTEMPTS 8
/* The largest extent publish can build: every backend with a distinct longest target. */
#define EXTENT_BUF_SIZE                                                                                             \
        (DD_BACKENDS_MAX * (sizeof(dd_backend) + DD_TARGET_MAX) + (DD_SCHED_MAX + DD_BACKENDS_MAX) * sizeof(uint16_t) + \
         8 + DD_HASH_TABLE_MAX * sizeof(uint16_t))

_Static_assert(EXTENT_BUF_SIZE <= DD_EXTENT_MAX, "the largest extent fits the format's bound");

/* The dd_service fields of a Maglev table (docs/cache-format.md). */
typedef struct HashTable {
        uint8_t kind;         /* DD_HASH_* */
        uint32_t size;        /* entries; 0: none */
        uint32_t off;         /* from the extent start */
        uint64_t digest;      /* maglev_digest() of its input */
} HashTable;

/* What the writer knows about a slot beyond the file: private, so readers never depend on it. */
typedef struct SlotInfo {
        uint64_t name_hash; /* 0: free slot */
        uint32_t capacity;  /* bytes owned at the slot's extent_offset; a smaller extent is rewritten in place */
} SlotInfo;

/* One mapped cache file, locked by us. Owns fd, map, slots and index (file_close() frees them). */
typedef struct CacheFile {
        int fd;
        uint8_t *map;
        uint64_t map_size;
        uint64_t services_offset; /* the slots' place, fixed when the file was made or adopted */
        dd_header *h;
        SlotInfo *slots; /* n_slots entries */
        uint32_t n_slots;
        uint32_t n_live;
        uint64_t heap_used; /* relative to heap_offset; mirrored to h->heap_used */
        /* Name lookup without scanning every slot: linear probing on the name hash, slot + 1 per
         * entry (0: empty), at most half full as it has at least twice as many entries as slots. */
        uint32_t *index;
        uint32_t index_mask;
        uint32_t free_hint; /* every slot below it is live */
        unsigned guard;     /* 1 + its entry among the mappings SIGBUS is caught for; 0: none */
} CacheFile;

struct CacheWriter {
        char *path;
        CacheFile f;
        int64_t started_usec;
        uint32_t session;     /* high half of incarnations handed out by this writer */
        uint32_t next_serial; /* low half */
        uint8_t *buf;         /* EXTENT_BUF_SIZE: the extent being built */
        Schedule sched;
        HashTable hash;       /* the extent's Maglev table, as extent_build() left it */
        int grow_error;       /* of the last growth, 0 if it worked: said once, not on each retry */
        /* Batching: file-wide wakes wait for cache_writer_flush(); this is told when one is due. */
        void (*on_wake_pending)(void *userdata);
        void *wake_userdata;
        bool file_wake_pending;
        /* Told when services were lost with a file truncated under us, to publish them again. */
        void (*on_lost)(void *userdata);
        void *lost_userdata;
};

static inline uint64_t round_up8(uint64_t n) {
        return (n + 7) & ~(uint64_t) 7;
}

/* By the geometry the writer keeps, never by the live header, which someone may have truncated
 * or overwritten. */
static inline dd_service *slot_at(const CacheFile *f, uint32_t i) {
        return (dd_service *) (f->map + f->services_offset + (uint64_t) i * sizeof(dd_service));
}

static inline uint8_t *extent_at(const CacheFile *f, const dd_service *s) {
        return f->map + s->extent_offset;
}

/* cache-writer.c: the write protocol. Every store to a slot readers may be reading goes through these. */
void slot_retire(CacheFile *f, uint32_t i);
void slot_mark_moved(CacheFile *f, uint32_t i);
void file_mark(dd_header *h, uint32_t flag);
void file_wake(CacheFile *f);
void file_heartbeat(CacheFile *f);

/* cache-writer-index.c */
uint64_t name_hash(const char *name);
int index_alloc(CacheFile *f);
void slot_set_free(CacheFile *f, uint32_t i);
void slot_set_live(CacheFile *f, uint32_t i, uint64_t hash, uint32_t capacity);
int slot_find(const CacheWriter *w, const char *name, uint64_t hash);
int slot_find_free(CacheWriter *w, uint32_t size);
int heap_alloc(CacheFile *f, uint32_t size, uint64_t *ret_off, uint32_t *ret_cap);
uint64_t live_bytes(const CacheFile *f);

/* cache-writer-adopt.c: 0 (adopted, locked), -ENOENT, -EBUSY, -EAGAIN, -ENOTUNIQ (replace it), or -errno. */
int file_open_existing(const char *path, CacheFile *ret);
/* Whether a live slot is internally consistent (the writer never left it torn). */
bool slot_consistent(const CacheFile *f, const dd_service *s);

/* cache-writer-extent.c */
int pub_validate(const PubService *svc);
int extent_build(CacheWriter *w, const PubService *svc, uint16_t *ret_n_healthy);
bool backend_same_significant(const dd_backend *a, const dd_backend *b);

/* cache-writer-hash.c: append svc's Maglev table (if it asks for one) to the extent in w->buf at
 * size bytes, filling w->hash; reuses the published table when its input is unchanged. Returns
 * the new extent size. */
int extent_add_hash_table(CacheWriter *w, const PubService *svc, size_t size);

/* cache-writer-file.c */
int file_create_temp(const char *path, uint32_t n_slots, uint64_t heap_size, int64_t started_usec, CacheFile *ret,
                     char **ret_tmp);
void file_close(CacheFile *f);
void session_make_unique(CacheWriter *w);
int writer_grow(CacheWriter *w, uint32_t extra_slots, uint64_t extra_bytes);
/* Whether the file was truncated under us (a store into it raised SIGBUS, or fstat() says so),
 * and the recovery: a new file with what is intact, then on_lost. */
bool file_truncated(const CacheFile *f, bool check_size);
void writer_recover_truncated(CacheWriter *w);
