/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cache-writer.h: the single writer of the shared-memory cache file (docs/cache-format.md). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct CacheWriter CacheWriter;

/* A backend as the daemon knows it; the writer copies everything it needs. */
typedef struct PubBackend {
        uint8_t family;            /* 4 or 6 */
        uint8_t addr[16];          /* network order; 4 bytes used for IPv4 */
        uint16_t port;
        uint16_t priority;
        uint16_t weight;
        uint8_t source;            /* DD_SOURCE_* */
        uint8_t health;            /* DD_HEALTH_*; only UP is eligible for the schedule */
        bool unchecked;            /* checks are off (check = none): health is UP without a probe */
        const char *target;        /* host name without trailing dot; borrowed */
        int64_t ttl_expiry_usec;   /* CLOCK_REALTIME */
        /* Health-check counters: published, but changes here alone do not bump the generation. */
        uint32_t checks;
        uint32_t check_failures;
        uint32_t last_latency_usec;
        uint16_t consecutive_ok;
        uint16_t consecutive_fail;
        int64_t last_check_usec;
        uint16_t check_error;      /* DD_ERR_* */
} PubBackend;

typedef struct PubService {
        const char *name;          /* < DD_NAME_MAX bytes; borrowed */
        const char *query;         /* < DD_QUERY_MAX bytes; borrowed */
        bool srv;                  /* resolved through SRV */
        bool panic;                /* panic mode allowed when nothing is healthy */
        uint32_t hash_table_size;  /* hash = maglev: entries of its table (a prime); 0: hash = off */
        uint8_t state;             /* DD_STATE_* */
        uint16_t last_error;       /* DD_ERR_* */
        int64_t last_good_usec;
        int64_t next_refresh_usec;
        const PubBackend *backends;
        size_t n_backends;         /* <= DD_BACKENDS_MAX */
        const uint64_t *counters;  /* _DD_SCTR_MAX values, or NULL to keep the published ones */
} PubService;

/*
 * Open the cache file at path for writing: adopt an existing file of a
 * compatible format (its services stay published until removed or
 * republished), or create one. Takes an exclusive flock: a second writer gets
 * -EBUSY. Never follows a symlink at path: a symlink or a foreign file there
 * is replaced by a fresh file.
 */
int cache_writer_open(const char *path, CacheWriter **ret);
/* Mark the file stopped (DD_FILE_STOPPED), unmap, close. Accepts NULL, returns NULL. */
CacheWriter *cache_writer_free(CacheWriter *w);

/*
 * Publish a service (create or update by name): builds the schedule, writes
 * under the slot's seqlock, and bumps the generation only when the set, the
 * state (with its last error and flags), a health or the schedule changed;
 * TTL expiries, refresh times and statistics alone do not bump it. Grows through a new file and
 * rename when the file is full. Returns 1 if the generation changed, 0 if
 * not (also when nothing at all changed: then nothing is written), negative
 * errno on failure (the published data is then unchanged). The writer itself
 * counts DD_DCTR_PUBLISHES and DD_DCTR_FILE_REPLACEMENTS.
 */
int cache_writer_publish(CacheWriter *w, const PubService *svc);
/*
 * Make room for n_services in all, each with a typical set (4 backends), before publishing them:
 * at start or after a reload, one file replacement instead of a series of doublings while the
 * first answers arrive. Never shrinks the file. 0 or negative errno (the file is then unchanged
 * and publish still grows it as needed).
 */
int cache_writer_reserve(CacheWriter *w, size_t n_services);
/* Likewise, with room for hash tables of table_entries entries in all (the sum of their hash-table-size). */
int cache_writer_reserve_tables(CacheWriter *w, size_t n_services, uint64_t table_entries);
/* Remove a service by name (its slot is marked moved, then freed). 0, or -ENOENT. */
int cache_writer_remove(CacheWriter *w, const char *name);
/* Remove every service whose name keep() rejects (after adoption). Returns the count removed.
 * keep() must not publish. */
int cache_writer_sweep(CacheWriter *w, bool (*keep)(const char *name, void *userdata), void *userdata);
/* Read back a published service's backends for adoption: cb per backend (cb may be NULL; b->target
 * is valid during the call only). Returns the number of backends, -ENOENT, or cb's negative value;
 * ret_state and ret_last_good_usec (both optional) are set on success only. */
int cache_writer_read_service(CacheWriter *w, const char *name, int (*cb)(const PubBackend *b, void *userdata),
                              void *userdata, uint8_t *ret_state, int64_t *ret_last_good_usec);

/*
 * Batching: a publish still bumps the file's change counter at once, but
 * wakes the readers blocked on it (dnsdiscctl watch) only at
 * cache_writer_flush(), once for all publishes since, instead of one futex
 * call each (10,000 at a cold start). With on_wake_pending set, the writer
 * calls it when the first publish after a flush leaves a wake due, so the
 * caller can schedule the flush (the daemon: a oneshot defer source); NULL
 * turns batching off and flushes. The heartbeat and cache_writer_free()
 * flush too. Waiters on one service's generation are woken at once either way.
 */
void cache_writer_set_batching(CacheWriter *w, void (*on_wake_pending)(void *userdata), void *userdata);
void cache_writer_flush(CacheWriter *w);

/*
 * Someone truncated the file under us (root or the daemon's user can): its readers die with
 * SIGBUS; the writer survives its own stores into the lost pages, writes a new file with the
 * services that are intact (at the next publish or heartbeat), and then calls on_lost, which
 * should publish every service again. NULL: none.
 */
void cache_writer_set_on_lost(CacheWriter *w, void (*on_lost)(void *userdata), void *userdata);

/* Write the heartbeat (pid, time), check the path and the file. Call at least once a second. */
int cache_writer_heartbeat(CacheWriter *w);
/* Add to a daemon-wide counter (DD_DCTR_*). */
void cache_writer_count(CacheWriter *w, unsigned counter, uint64_t n);
/* Path of the file currently written. */
const char *cache_writer_path(CacheWriter *w);
