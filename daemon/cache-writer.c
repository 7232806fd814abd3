/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cache-writer.c: the publish API and the seqlock's write side: every store readers can see while a slot changes. */
#include <stdatomic.h>
#include <linux/futex.h>
#include <limits.h>
#include <sys/syscall.h>

#include "cache-writer-internal.h"
#include "log.h"

static void futex_wake_all(_Atomic uint32_t *word) {
        /* Not FUTEX_PRIVATE_FLAG: the waiters are other processes mapping the same file. */
        (void) syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/*
 * The seqlock's write side. The release fence orders the odd seq before the
 * data stores that follow: a reader that sees any of them re-reads an odd or
 * newer seq after its acquire fence. The final release store publishes the
 * data with the even value.
 */
static void slot_write_begin(dd_service *s) {
        uint32_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
        /* seq | 1: a slot a dead writer left odd stays odd rather than turning even mid-write. */
        atomic_store_explicit(&s->seq, seq | 1, memory_order_relaxed);
        atomic_thread_fence(memory_order_release);
}

static void slot_write_end(dd_service *s) {
        uint32_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
        atomic_store_explicit(&s->seq, seq + 1, memory_order_release);
}

/*
 * After a slot's data became visible: bump its generation (unless the
 * writer did inside the write section, see cache_writer_publish()) and the
 * file's change counter, and wake who waits on them. wake_file is false
 * when batching: cache_writer_flush() wakes the file's waiters once.
 */
static void slot_notify(CacheFile *f, dd_service *s, bool slot_bumped, bool wake_file) {
        if (!slot_bumped) {
                atomic_fetch_add_explicit(&s->generation, 1, memory_order_release);
                futex_wake_all(&s->generation);
        }
        atomic_fetch_add_explicit(&f->h->change_counter, 1, memory_order_release);
        if (wake_file)
                futex_wake_all(&f->h->change_counter);
}

/* Move a live slot's readers on (after its file was replaced): they look the name up again. */
void slot_mark_moved(CacheFile *f, uint32_t i) {
        dd_service *s = slot_at(f, i);

        slot_write_begin(s);
        s->flags |= DD_SVC_MOVED;
        slot_write_end(s);
        atomic_fetch_add_explicit(&s->generation, 1, memory_order_release);
        futex_wake_all(&s->generation);
}

/* Set a file-wide flag (DD_FILE_REPLACED, DD_FILE_STOPPED) and wake who waits on the file. */
void file_mark(dd_header *h, uint32_t flag) {
        atomic_fetch_or_explicit(&h->flags, flag, memory_order_release);
        atomic_fetch_add_explicit(&h->change_counter, 1, memory_order_release);
        futex_wake_all(&h->change_counter);
}

/* The batched wake of the file's waiters (cache_writer_flush()). */
void file_wake(CacheFile *f) {
        futex_wake_all(&f->h->change_counter);
}

void file_heartbeat(CacheFile *f) {
        atomic_store_explicit(&f->h->writer_pid, (uint32_t) getpid(), memory_order_relaxed);
        /* Readers of 1.2 judge liveness by the boot clock, which no NTP or date -s steps and which
         * runs on through a suspend; the wall-clock stamp is for people (and 1.1 readers). */
        atomic_store_explicit(&f->h->heartbeat_boot_usec, (int64_t) now_usec(CLOCK_BOOTTIME), memory_order_relaxed);
        atomic_store_explicit(&f->h->heartbeat_usec, (int64_t) now_usec(CLOCK_REALTIME), memory_order_release);
}

/* Retire a live slot: readers holding it look the name up again and find nothing. */
void slot_retire(CacheFile *f, uint32_t i) {
        dd_service *s = slot_at(f, i);

        slot_write_begin(s);
        s->flags |= DD_SVC_MOVED;
        s->incarnation = 0;
        s->n_backends = s->sched_len = s->n_eligible = 0;
        s->extent_size = 0;
        s->hash_kind = 0;
        s->hash_table_size = s->hash_table_off = 0;
        s->changed_usec = (int64_t) now_usec(CLOCK_REALTIME);
        memset(s->name, 0, sizeof s->name);
        memset(s->query, 0, sizeof s->query);
        slot_write_end(s);
        slot_notify(f, s, false, true);
        slot_set_free(f, i);
}

static uint64_t new_incarnation(CacheWriter *w) {
        if (w->next_serial == UINT32_MAX) {
                w->session++;
                session_make_unique(w);
                w->next_serial = 0;
        }
        return (uint64_t) w->session << 32 | ++w->next_serial;
}

int cache_writer_publish(CacheWriter *w, const PubService *svc) {
        const char *query;
        uint16_t n_healthy;
        uint8_t flags;
        uint32_t size, cap;
        uint64_t hash, off = 0;
        bool significant = true, in_place, is_new;
        dd_service *s;
        int r, idx;

        if (!w)
                return -EINVAL;
        /* A store of an earlier publish hit a page someone truncated away: start afresh first. */
        if (file_truncated(&w->f, false))
                writer_recover_truncated(w);
        r = pub_validate(svc);
        if (r < 0)
                return r;
        query = svc->query ?: "";
        r = extent_build(w, svc, &n_healthy);
        if (r < 0)
                return r;
        size = (uint32_t) r;
        flags = (w->sched.panic ? DD_SVC_PANIC : 0) | (svc->srv ? DD_SVC_SRV : 0);
        hash = name_hash(svc->name);

        idx = slot_find(w, svc->name, hash);
        is_new = idx < 0;
        if (!is_new) {
                const uint8_t *old;
                size_t nb = svc->n_backends * sizeof(dd_backend);
                bool changed;

                s = slot_at(&w->f, (uint32_t) idx);
                old = extent_at(&w->f, s);
                significant = s->state != svc->state || s->flags != flags || s->last_error != svc->last_error ||
                              s->n_healthy != n_healthy || s->n_backends != svc->n_backends ||
                              s->sched_len != w->sched.len || s->n_eligible != w->sched.n_eligible ||
                              s->extent_size != size || !streq(s->query, query) || s->hash_kind != w->hash.kind ||
                              s->hash_table_size != w->hash.size || s->hash_table_off != w->hash.off;
                for (size_t i = 0; !significant && i < svc->n_backends; i++)
                        significant = !backend_same_significant((const dd_backend *) old + i,
                                                                (const dd_backend *) w->buf + i);
                if (!significant)
                        significant = memcmp(old + nb, w->buf + nb, size - nb) != 0;

                changed = significant || s->last_good_usec != svc->last_good_usec ||
                          s->next_refresh_usec != svc->next_refresh_usec || memcmp(old, w->buf, nb) != 0 ||
                          (svc->counters && memcmp(s->counters, svc->counters, _DD_SCTR_MAX * sizeof(uint64_t)) != 0);
                if (!changed)
                        return 0;
        } else {
                idx = slot_find_free(w, size);
                if (idx < 0) {
                        r = writer_grow(w, 1, size + size / 4);
                        if (r < 0)
                                return r;
                        idx = slot_find_free(w, size);
                        if (idx < 0)
                                return idx;
                }
        }

        in_place = size <= w->f.slots[idx].capacity;
        cap = w->f.slots[idx].capacity;
        if (!in_place) {
                r = heap_alloc(&w->f, size, &off, &cap);
                if (r == -ENOSPC) {
                        r = writer_grow(w, is_new, size + size / 4);
                        if (r < 0)
                                return r;
                        idx = is_new ? slot_find_free(w, size) : slot_find(w, svc->name, hash);
                        if (idx < 0)
                                return idx;
                        r = heap_alloc(&w->f, size, &off, &cap);
                }
                if (r < 0)
                        return r;
                /* Filled before the seqlock: readers of the old extent are not disturbed. */
                memcpy(w->f.map + off, w->buf, size);
        }

        s = slot_at(&w->f, (uint32_t) idx);
        slot_write_begin(s);
        if (is_new) {
                s->incarnation = new_incarnation(w);
                memset(s->name, 0, sizeof s->name);
                strcpy(s->name, svc->name);
                if (!svc->counters)
                        memset(s->counters, 0, sizeof s->counters);
        }
        if (in_place) {
                /* An empty extent in a slot that never had one still needs an offset readers accept. */
                if (cap == 0)
                        s->extent_offset = w->f.h->heap_offset;
                memcpy(extent_at(&w->f, s), w->buf, size);
        } else
                s->extent_offset = off;
        s->extent_size = size;
        s->n_backends = (uint16_t) svc->n_backends;
        s->sched_len = (uint16_t) w->sched.len;
        s->n_eligible = (uint16_t) w->sched.n_eligible;
        s->state = svc->state;
        s->flags = flags;
        s->hash_kind = w->hash.kind;
        s->hash_table_size = w->hash.size;
        s->hash_table_off = w->hash.off;
        s->hash_digest = w->hash.digest;
        s->last_error = svc->last_error;
        s->n_healthy = n_healthy;
        s->last_good_usec = svc->last_good_usec;
        s->next_refresh_usec = svc->next_refresh_usec;
        if (significant)
                s->changed_usec = (int64_t) now_usec(CLOCK_REALTIME);
        if (!streq(s->query, query)) {
                memset(s->query, 0, sizeof s->query);
                strcpy(s->query, query);
        }
        if (svc->counters)
                memcpy(s->counters, svc->counters, _DD_SCTR_MAX * sizeof(uint64_t));
        /*
         * A service new to the slot gets its generation bump before the data
         * is published, so a reader that sees the new incarnation also sees
         * the new generation and never waits on the one before. Nobody can
         * wait on it otherwise (a reader of the slot's previous service was
         * woken when it was retired), so no futex wake for a new service.
         */
        if (is_new)
                atomic_fetch_add_explicit(&s->generation, 1, memory_order_relaxed);
        slot_write_end(s);
        if (significant) {
                slot_notify(&w->f, s, is_new, !w->on_wake_pending);
                if (w->on_wake_pending && !w->file_wake_pending) {
                        w->file_wake_pending = true;
                        w->on_wake_pending(w->wake_userdata);
                }
        }

        if (is_new)
                slot_set_live(&w->f, (uint32_t) idx, hash, cap);
        else
                w->f.slots[idx].capacity = cap;
        atomic_fetch_add_explicit(&w->f.h->counters[DD_DCTR_PUBLISHES], 1, memory_order_relaxed);
        return significant;
}

int cache_writer_remove(CacheWriter *w, const char *name) {
        int idx;

        if (!w || !name)
                return -EINVAL;
        idx = slot_find(w, name, name_hash(name));
        if (idx < 0)
                return idx;
        slot_retire(&w->f, (uint32_t) idx);
        return 0;
}

int cache_writer_sweep(CacheWriter *w, bool (*keep)(const char *name, void *userdata), void *userdata) {
        int n = 0;

        if (!w || !keep)
                return -EINVAL;
        for (uint32_t i = 0; i < w->f.n_slots; i++) {
                char name[DD_NAME_MAX];
                if (w->f.slots[i].name_hash == 0)
                        continue;
                memcpy(name, slot_at(&w->f, i)->name, sizeof name);
                if (keep(name, userdata))
                        continue;
                slot_retire(&w->f, i);
                n++;
        }
        return n;
}
