/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cache-writer-file.c: the writer's files: creation, growth and replacement by rename, the heartbeat. */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "cache-writer-internal.h"
#include "log.h"

static int random_bytes(void *p, size_t n) {
        /* Small requests never return short once the pool is initialised. */
        ssize_t l = getrandom(p, n, 0);
        if (l < 0)
                return -errno;
        return (size_t) l == n ? 0 : -EIO;
}

/*
 * Who can write the file (root, or the daemon's user) can truncate it under us: every store to a
 * page past the new end raises SIGBUS, which would end the daemon. For the writer's own mappings
 * the handler puts an anonymous page in place (the store lands there, lost), and flags the file;
 * the writer then writes a new file and has everything published again. A SIGBUS anywhere else
 * gets the default action. The file's readers are not saved by this: docs/cache-format.md.
 */
#define GUARDS_MAX 8

static struct {
        uintptr_t base;
        size_t size;                 /* 0: a free entry */
        volatile sig_atomic_t truncated;
} guards[GUARDS_MAX];
static size_t page_size;

static void on_sigbus(int sig, siginfo_t *si, void *ctx) {
        uintptr_t a = (uintptr_t) si->si_addr;

        for (size_t i = 0; i < GUARDS_MAX; i++) {
                if (guards[i].size == 0 || a - guards[i].base >= guards[i].size)
                        continue;
                void *page = (void *) (a & ~(uintptr_t) (page_size - 1));
                if (mmap(page, page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
                    MAP_FAILED)
                        break;
                guards[i].truncated = 1;
                return;
        }
        /* Not a page of ours: the fault repeats with the default action. */
        signal(SIGBUS, SIG_DFL);
}

/* Catch SIGBUS for f's mapping from now on, until file_close(). The handler is set each time:
 * whoever set another one since (a test harness) is overruled for the writer's files. */
static void file_guard(CacheFile *f) {
        struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO };

        page_size = (size_t) sysconf(_SC_PAGESIZE);
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGBUS, &sa, NULL) < 0)
                return;
        for (size_t i = 0; i < GUARDS_MAX; i++)
                if (guards[i].size == 0) {
                        guards[i].base = (uintptr_t) f->map;
                        guards[i].truncated = 0;
                        guards[i].size = f->map_size;
                        f->guard = (unsigned) i + 1;
                        return;
                }
}

bool file_truncated(const CacheFile *f, bool check_size) {
        struct stat st;

        if (f->guard > 0 && guards[f->guard - 1].truncated)
                return true;
        return check_size && f->fd >= 0 && fstat(f->fd, &st) == 0 && (uint64_t) st.st_size < f->map_size;
}

void file_close(CacheFile *f) {
        if (f->guard > 0)
                guards[f->guard - 1].size = 0;
        if (f->map)
                munmap(f->map, f->map_size);
        closep(&f->fd);
        free(f->slots);
        free(f->index);
        *f = (CacheFile) { .fd = -1 };
}

/*
 * Create, size and map a new file under a temporary name next to path, and
 * lock it before anyone can see it. On success the caller owns *ret and the
 * temporary name (which it renames or unlinks); on failure nothing is left.
 */
int file_create_temp(const char *path, uint32_t n_slots, uint64_t heap_size, int64_t started_usec,
                            CacheFile *ret, char **ret_tmp) {
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -1;
        uint64_t services_offset = sizeof(dd_header), heap_offset, file_size;
        size_t len = strlen(path);
        uint8_t *map;
        int r;

        if (n_slots == 0 || n_slots > DD_SLOTS_MAX)
                return -EINVAL;
        /* Heap on its own cache line, after the slots; no overflow: n_slots <= DD_SLOTS_MAX. */
        heap_offset = (services_offset + (uint64_t) n_slots * sizeof(dd_service) + 63) & ~(uint64_t) 63;
        heap_size = round_up8(heap_size);
        if (__builtin_add_overflow(heap_offset, heap_size, &file_size) || file_size > (uint64_t) INT64_MAX)
                return -EFBIG;

        tmp = malloc(len + 8);
        if (!tmp)
                return -ENOMEM;
        for (unsigned attempt = 0;; attempt++) {
                uint8_t rnd[6];

                if (attempt >= 16)
                        return -EEXIST;
                r = random_bytes(rnd, sizeof rnd);
                if (r < 0)
                        return r;
                memcpy(tmp, path, len);
                tmp[len] = '.';
                for (size_t i = 0; i < sizeof rnd; i++)
                        tmp[len + 1 + i] = alphabet[rnd[i] % (sizeof alphabet - 1)];
                tmp[len + 7] = '\0';

                fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (fd >= 0)
                        break;
                if (errno != EEXIST)
                        return -errno;
        }

        /* From here on, failures must remove the temporary file. */
        r = 0;
        if (fchmod(fd, 0644) < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
                r = -errno;
        /* Allocates every block now: a full tmpfs fails here, not with SIGBUS on a later store. */
        if (r == 0)
                r = -posix_fallocate(fd, 0, (off_t) file_size);
        if (r == 0) {
                /* Populated: the writer touches nearly every page (slots, then extents), and one
                 * call maps them all instead of a fault per page (docs/performance.md). */
                map = mmap(NULL, file_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
                if (map == MAP_FAILED)
                        r = -errno;
        }
        SlotInfo *slots = r == 0 ? calloc(n_slots, sizeof(SlotInfo)) : NULL;
        if (r == 0 && !slots) {
                munmap(map, file_size);
                r = -ENOMEM;
        }
        uint64_t file_id = 0;
        if (r == 0) {
                r = random_bytes(&file_id, sizeof file_id);
                if (r < 0) {
                        free(slots);
                        munmap(map, file_size);
                }
        }
        if (r < 0) {
                (void) unlink(tmp);
                return r;
        }

        /* The file is zero-filled: every slot free, every seq even. */
        dd_header *h = (dd_header *) map;
        memcpy(h->magic, DD_MAGIC, DD_MAGIC_SIZE);
        h->version_major = DD_VERSION_MAJOR;
        h->version_minor = DD_VERSION_MINOR;
        h->header_size = sizeof(dd_header);
        h->file_size = file_size;
        h->file_id = file_id | 1;
        h->services_offset = services_offset;
        h->service_size = sizeof(dd_service);
        h->n_service_slots = n_slots;
        h->heap_offset = heap_offset;
        h->heap_size = heap_size;
        h->heartbeat_interval_ms = HEARTBEAT_INTERVAL_MS;
        h->started_usec = started_usec;

        CacheFile f = {
                .fd = TAKE_FD(fd),
                .map = map,
                .map_size = file_size,
                .services_offset = services_offset,
                .h = h,
                .slots = slots,
                .n_slots = n_slots,
        };
        r = index_alloc(&f);
        if (r < 0) {
                (void) unlink(tmp);
                file_close(&f);
                return r;
        }
        file_heartbeat(&f);
        *ret = f;
        *ret_tmp = TAKE_PTR(tmp);
        return 0;
}

static void file_discard_temp(CacheFile *f, char *tmp) {
        (void) unlink(tmp);
        free(tmp);
        file_close(f);
}

/* Incarnations: this writer's random session in the high half, a serial in the low half. */
void session_make_unique(CacheWriter *w) {
        for (uint32_t tries = 0; tries <= w->f.n_live + 1; tries++) {
                bool clash = w->session == 0;
                for (uint32_t i = 0; i < w->f.n_slots && !clash; i++)
                        clash = w->f.slots[i].name_hash != 0 && slot_at(&w->f, i)->incarnation >> 32 == w->session;
                if (!clash)
                        return;
                w->session++;
        }
}

CacheWriter *cache_writer_free(CacheWriter *w) {
        if (!w)
                return NULL;
        if (w->f.map) {
                dd_header *h = w->f.h;
                cache_writer_flush(w);
                /* Waiters on the file wake up and find it stale. */
                file_heartbeat(&w->f);
                file_mark(h, DD_FILE_STOPPED);
        }
        file_close(&w->f);
        free(w->buf);
        free(w->path);
        free(w);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(CacheWriter *, cache_writer_free);

static int writer_rewrite(CacheWriter *w, uint64_t n_slots, uint64_t heap_size, bool verify);

int cache_writer_open(const char *path, CacheWriter **ret) {
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        int r;

        if (!path || !*path || !ret)
                return -EINVAL;

        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->f.fd = -1;
        w->path = strdup(path);
        w->buf = malloc(EXTENT_BUF_SIZE);
        if (!w->path || !w->buf)
                return -ENOMEM;
        w->started_usec = (int64_t) now_usec(CLOCK_REALTIME);
        r = random_bytes(&w->session, sizeof w->session);
        if (r < 0)
                return r;

        for (unsigned attempt = 0;; attempt++) {
                _cleanup_free_ char *tmp = NULL;
                CacheFile nf;
                bool replace;

                if (attempt >= OPEN_ATTEMPTS)
                        return -EAGAIN;
                r = file_open_existing(path, &w->f);
                if (r == 0)
                        break;
                if (r == -EAGAIN)
                        continue;
                if (r != -ENOENT && r != -ENOTUNIQ)
                        return r;
                replace = r == -ENOTUNIQ;

                r = file_create_temp(path, INITIAL_SLOTS, INITIAL_HEAP_SIZE, w->started_usec, &nf, &tmp);
                if (r < 0)
                        return r;
                /* rename() replaces a symlink itself, never its target. Where nothing
                 * was, link() fails if another writer got there first: then its
                 * lock decides on the next attempt. */
                r = 0;
                if (replace) {
                        if (rename(tmp, path) < 0)
                                r = -errno;
                } else if (link(tmp, path) >= 0)
                        (void) unlink(tmp);
                else if (errno != EPERM && errno != EOPNOTSUPP)
                        r = -errno;
                else if (rename(tmp, path) < 0) /* no hard links on this file system */
                        r = -errno;
                if (r < 0) {
                        file_discard_temp(&nf, TAKE_PTR(tmp));
                        if (r == -EEXIST)
                                continue;
                        return r;
                }
                w->f = nf;
                break;
        }

        /* An adopted file now belongs to this writer. */
        w->f.h->started_usec = w->started_usec;
        w->f.h->heartbeat_interval_ms = HEARTBEAT_INTERVAL_MS;
        file_heartbeat(&w->f);
        session_make_unique(w);
        file_guard(&w->f);
        /* An adopted file of an older minor keeps its version (the first line is immutable), and
         * its readers its older rules (1.1: liveness by the wall clock): copy it into a file of
         * this version, services, incarnations and generations kept. If that fails, the old file
         * serves on (the warning is said) and the next growth upgrades it. */
        uint16_t minor = w->f.h->version_minor;
        if (minor < DD_VERSION_MINOR &&
            writer_rewrite(w, w->f.n_slots, w->f.h->heap_size, false) >= 0)
                log_info("Upgraded %s from format %u.%u to %u.%u.", w->path, DD_VERSION_MAJOR, minor,
                         DD_VERSION_MAJOR, DD_VERSION_MINOR);
        *ret = TAKE_PTR(w);
        return 0;
}

/* A growth that failed (a full or read-only directory) is retried by every publish that needs
 * room: log a cause once, not on each retry. */
static int writer_grow_failed(CacheWriter *w, const char *what, int r) {
        log_full_errno(r == w->grow_error ? LOG_DEBUG : LOG_WARNING, r, "Cannot %s %s: %s", what, w->path,
                       strerror(-r));
        w->grow_error = r;
        return r;
}

/*
 * Replace the file by a new one of the given size holding every live
 * service compactly (same incarnations and generations), then retire the old
 * file so that readers remap. The old file is never shrunk: readers may
 * still map it.
 */
static int writer_rewrite(CacheWriter *w, uint64_t n_slots, uint64_t heap_size, bool verify) {
        CacheFile *old = &w->f, nf;
        _cleanup_free_ char *tmp = NULL;
        int r;

        r = file_create_temp(w->path, (uint32_t) n_slots, heap_size, w->started_usec, &nf, &tmp);
        if (r < 0)
                return writer_grow_failed(w, "grow", r);

        for (unsigned c = 0; c < DD_DCTR_SLOTS; c++)
                nf.h->counters[c] = atomic_load_explicit(&old->h->counters[c], memory_order_relaxed);
        nf.h->counters[DD_DCTR_FILE_REPLACEMENTS]++;
        /* Keep the counter monotonic across files for readers that compare values. */
        nf.h->change_counter = atomic_load_explicit(&old->h->change_counter, memory_order_relaxed) + 1;

        for (uint32_t i = 0, j = 0; i < old->n_slots; i++) {
                if (old->slots[i].name_hash == 0)
                        continue;
                const dd_service *os = slot_at(old, i);
                /* After a truncation, what was lost reads as zeros: keep only what is whole. */
                if (verify && (!slot_consistent(old, os) || name_hash(os->name) != old->slots[i].name_hash))
                        continue;
                dd_service *ns = slot_at(&nf, j);
                uint64_t off = nf.h->heap_offset + nf.heap_used;

                memcpy(ns, os, sizeof(dd_service));
                ns->seq = 0;
                ns->extent_offset = off;
                memcpy(nf.map + off, extent_at(old, os), os->extent_size);
                slot_set_live(&nf, j, old->slots[i].name_hash, (uint32_t) round_up8(os->extent_size));
                nf.heap_used += round_up8(os->extent_size);
                j++;
        }
        nf.h->heap_used = nf.heap_used;

        if (rename(tmp, w->path) < 0) {
                r = -errno;
                file_discard_temp(&nf, TAKE_PTR(tmp));
                return writer_grow_failed(w, "replace", r);
        }

        /* A truncated file's header cannot be trusted to find its slots by, and what is left of
         * the file is its readers' only: then it is left as it is. */
        for (uint32_t i = 0; i < old->n_slots && !verify; i++) {
                if (old->slots[i].name_hash == 0)
                        continue;
                slot_mark_moved(old, i);
        }
        if (!verify)
                file_mark(old->h, DD_FILE_REPLACED);

        w->grow_error = 0;
        file_close(old);
        *old = nf;
        file_guard(old);
        return 0;
}

/* A bigger file: slots and heap at least doubled, room for what is asked. */
int writer_grow(CacheWriter *w, uint32_t extra_slots, uint64_t extra_bytes) {
        const CacheFile *old = &w->f;
        if ((uint64_t) old->n_live + extra_slots > DD_SLOTS_MAX)
                return -ENOSPC;
        /* Only what ran out doubles: services with hash tables fill the heap long before the slots, and
         * doubling slots with it would multiply the file by the table size. */
        uint64_t n_slots = (uint64_t) old->n_slots - old->n_live >= extra_slots
                                   ? old->n_slots
                                   : MIN(MAX(2 * (uint64_t) old->n_slots, (uint64_t) old->n_live + extra_slots),
                                         DD_SLOTS_MAX);
        uint64_t heap_size = MAX(2 * old->h->heap_size, 2 * (live_bytes(old) + round_up8(extra_bytes)));
        int r = writer_rewrite(w, n_slots, heap_size, false);
        if (r >= 0)
                log_info("Grew %s to %u service slots and %" PRIu64 " heap bytes.", w->path, w->f.n_slots,
                         w->f.h->heap_size);
        return r;
}

int cache_writer_reserve(CacheWriter *w, size_t n_services) {
        return cache_writer_reserve_tables(w, n_services, 0);
}

int cache_writer_reserve_tables(CacheWriter *w, size_t n_services, uint64_t table_entries) {
        if (!w)
                return -EINVAL;
        if (n_services > DD_SLOTS_MAX || table_entries > (uint64_t) DD_SLOTS_MAX * DD_HASH_TABLE_MAX)
                return -ENOSPC;
        uint32_t extra = n_services > w->f.n_live ? (uint32_t) (n_services - w->f.n_live) : 0;
        uint64_t heap_free = w->f.h->heap_size - w->f.heap_used;
        /* Tables of services already published are in live_bytes(): this may reserve them twice, once. */
        uint64_t want = (uint64_t) extra * RESERVE_EXTENT_SIZE + 5 * (table_entries * sizeof(uint16_t)) / 4;
        if (n_services <= w->f.n_slots && want <= heap_free)
                return 0;

        uint64_t live = live_bytes(&w->f);
        uint64_t heap_size = MAX((uint64_t) w->f.h->heap_size, live + want);
        int r = writer_rewrite(w, MAX((uint64_t) w->f.n_slots, n_services), heap_size, false);
        if (r >= 0)
                log_debug("Sized %s for %zu services: %u slots, %" PRIu64 " heap bytes.", w->path, n_services,
                          w->f.n_slots, w->f.h->heap_size);
        return r;
}

/*
 * The path must still name the file we write. Deleted, replaced by another
 * file or by a symlink, it is written anew (rename replaces a symlink, never
 * follows it), so new clients find current data; clients of our file see
 * its slots moved and follow. Another dnsdiscd's locked file is left alone.
 */
static void writer_check_path(CacheWriter *w) {
        struct stat ours, there;
        const char *what = "was deleted";

        if (fstat(w->f.fd, &ours) < 0)
                return;
        if (lstat(w->path, &there) == 0) {
                if (there.st_dev == ours.st_dev && there.st_ino == ours.st_ino)
                        return;
                what = S_ISLNK(there.st_mode) ? "was replaced by a symlink" : "was replaced by another file";
                if (S_ISREG(there.st_mode)) {
                        _cleanup_close_ int fd = open(w->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
                        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
                                (void) writer_grow_failed(w, "take back", -EBUSY);
                                return;
                        }
                }
        }
        if (w->grow_error == 0)
                log_warning("Cache file %s %s: writing it again.", w->path, what);
        if (writer_rewrite(w, w->f.n_slots, MAX(w->f.h->heap_size, 2 * live_bytes(&w->f)), false) >= 0)
                log_info("Wrote %s again; clients follow.", w->path);
}

void writer_recover_truncated(CacheWriter *w) {
        struct stat st;
        long long size = fstat(w->f.fd, &st) == 0 ? (long long) st.st_size : -1;

        if (w->grow_error == 0)
                log_warning("Cache file %s was truncated under us (%lld of %" PRIu64 " bytes left): writing it anew; "
                            "its readers may have died with SIGBUS",
                            w->path, size, w->f.map_size);
        /* The header may be gone too: sizes from what we mapped, not from the file. */
        uint64_t slots_end = w->f.services_offset + (uint64_t) w->f.n_slots * sizeof(dd_service);
        uint64_t heap = w->f.map_size > slots_end ? w->f.map_size - slots_end : INITIAL_HEAP_SIZE;
        if (writer_rewrite(w, w->f.n_slots, heap, true) < 0)
                return; /* said by writer_grow_failed(); tried again at the next heartbeat */
        log_info("Wrote %s anew after its truncation; publishing every service again.", w->path);
        if (w->on_lost)
                w->on_lost(w->lost_userdata);
}

void cache_writer_set_on_lost(CacheWriter *w, void (*on_lost)(void *userdata), void *userdata) {
        if (!w)
                return;
        w->on_lost = on_lost;
        w->lost_userdata = userdata;
}

int cache_writer_heartbeat(CacheWriter *w) {
        if (!w)
                return -EINVAL;
        cache_writer_flush(w);
        if (file_truncated(&w->f, true))
                writer_recover_truncated(w);
        writer_check_path(w);
        file_heartbeat(&w->f);
        return 0;
}

void cache_writer_set_batching(CacheWriter *w, void (*on_wake_pending)(void *userdata), void *userdata) {
        if (!w)
                return;
        if (!on_wake_pending)
                cache_writer_flush(w);
        w->on_wake_pending = on_wake_pending;
        w->wake_userdata = userdata;
}

void cache_writer_flush(CacheWriter *w) {
        if (!w || !w->file_wake_pending)
                return;
        w->file_wake_pending = false;
        file_wake(&w->f);
}

void cache_writer_count(CacheWriter *w, unsigned counter, uint64_t n) {
        if (!w || counter >= DD_DCTR_SLOTS)
                return;
        atomic_fetch_add_explicit(&w->f.h->counters[counter], n, memory_order_relaxed);
}

const char *cache_writer_path(CacheWriter *w) {
        return w ? w->path : NULL;
}
