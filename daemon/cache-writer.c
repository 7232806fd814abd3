/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cache-writer.c: the single writer of the shared-memory cache file (layout in cache-def.h, docs/cache-format.md). */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "cache-file.h"
#include "cache-writer.h"
#include "log.h"
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
#define EXTENT_BUF_SIZE \
        (DD_BACKENDS_MAX * (sizeof(dd_backend) + DD_TARGET_MAX) + (DD_SCHED_MAX + DD_BACKENDS_MAX) * sizeof(uint16_t))

_Static_assert(EXTENT_BUF_SIZE <= DD_EXTENT_MAX, "the largest extent fits the format's bound");

/* What the writer knows about a slot beyond the file: private, so readers never depend on it. */
typedef struct SlotInfo {
        uint64_t name_hash; /* 0: free slot */
        uint32_t capacity;  /* bytes owned at the slot's extent_offset; a smaller extent is rewritten in place */
} SlotInfo;

/* One mapped cache file, locked by us. */
typedef struct CacheFile {
        int fd;
        uint8_t *map;
        uint64_t map_size;
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
} CacheFile;

struct CacheWriter {
        char *path;
        CacheFile f;
        int64_t started_usec;
        uint32_t session;     /* high half of incarnations handed out by this writer */
        uint32_t next_serial; /* low half */
        uint8_t *buf;         /* EXTENT_BUF_SIZE: the extent being built */
        Schedule sched;
        int grow_error;       /* of the last growth, 0 if it worked: said once, not on each retry */
        /* Batching: file-wide wakes wait for cache_writer_flush(); this is told when one is due. */
        void (*on_wake_pending)(void *userdata);
        void *wake_userdata;
        bool file_wake_pending;
};

static uint64_t round_up8(uint64_t n) {
        return (n + 7) & ~(uint64_t) 7;
}

static int random_bytes(void *p, size_t n) {
        /* Small requests never return short once the pool is initialised. */
        ssize_t l = getrandom(p, n, 0);
        if (l < 0)
                return -errno;
        return (size_t) l == n ? 0 : -EIO;
}

static void futex_wake_all(_Atomic uint32_t *word) {
        /* Not FUTEX_PRIVATE_FLAG: the waiters are other processes mapping the same file. */
        (void) syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static uint64_t name_hash(const char *name) {
        uint64_t h = 0xcbf29ce484222325ULL;
        for (const unsigned char *p = (const unsigned char *) name; *p; p++)
                h = (h ^ *p) * 0x100000001b3ULL;
        return h | 1; /* 0 marks a free slot */
}

static dd_service *slot_at(const CacheFile *f, uint32_t i) {
        return (dd_service *) dd_slot(f->map, i);
}

static int index_alloc(CacheFile *f) {
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

static void slot_set_live(CacheFile *f, uint32_t i, uint64_t hash, uint32_t capacity) {
        f->slots[i] = (SlotInfo) { .name_hash = hash, .capacity = capacity };
        f->n_live++;
        index_add(f, i);
}

static uint8_t *extent_at(const CacheFile *f, const dd_service *s) {
        return f->map + s->extent_offset;
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

static void file_heartbeat(CacheFile *f) {
        atomic_store_explicit(&f->h->writer_pid, (uint32_t) getpid(), memory_order_relaxed);
        atomic_store_explicit(&f->h->heartbeat_usec, (int64_t) now_usec(CLOCK_REALTIME), memory_order_release);
}

static void file_close(CacheFile *f) {
        if (f->map)
                munmap(f->map, f->map_size);
        closep(&f->fd);
        free(f->slots);
        free(f->index);
        *f = (CacheFile) { .fd = -1 };
}

/* Retire a live slot: readers holding it look the name up again and find nothing. */
static void slot_retire(CacheFile *f, uint32_t i) {
        dd_service *s = slot_at(f, i);

        slot_write_begin(s);
        s->flags |= DD_SVC_MOVED;
        s->incarnation = 0;
        s->n_backends = s->sched_len = s->n_eligible = 0;
        s->extent_size = 0;
        s->changed_usec = (int64_t) now_usec(CLOCK_REALTIME);
        memset(s->name, 0, sizeof s->name);
        memset(s->query, 0, sizeof s->query);
        slot_write_end(s);
        slot_notify(f, s, false, true);

        if (f->slots[i].name_hash != 0) {
                index_remove(f, i);
                f->n_live--;
        }
        f->slots[i].name_hash = 0;
        f->free_hint = MIN(f->free_hint, i);
        /* The extent stays allocated to the slot: a later service reuses it. */
}

/*
 * Create, size and map a new file under a temporary name next to path, and
 * lock it before anyone can see it. On success the caller owns *ret and the
 * temporary name (which it renames or unlinks); on failure nothing is left.
 */
static int file_create_temp(const char *path, uint32_t n_slots, uint64_t heap_size, int64_t started_usec,
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
                 * call maps them all instead of a fault per page (8 % of a cold start's CPU). */
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

/* A live slot of an adopted file, sorted by key: its extent's offset, or its name hash. */
typedef struct SlotRef {
        uint64_t key;
        uint64_t end;
        uint32_t slot;
} SlotRef;

static int slot_ref_cmp(const void *a, const void *b) {
        const SlotRef *x = a, *y = b;
        if (x->key != y->key)
                return x->key < y->key ? -1 : 1;
        return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/* Whether a live slot of an adopted file is internally consistent (the writer never left it torn). */
static bool slot_consistent(const CacheFile *f, const dd_service *s) {
        if (atomic_load_explicit(&s->seq, memory_order_relaxed) & 1)
                return false; /* the previous writer died inside the seqlock */
        if (s->flags & DD_SVC_MOVED || s->state >= _DD_STATE_MAX)
                return false;
        if (!memchr(s->name, 0, sizeof s->name) || s->name[0] == '\0' || !memchr(s->query, 0, sizeof s->query))
                return false;
        if (!dd_extent_ok(f->h, f->h->file_size, s->extent_offset, s->extent_size, s->n_backends, s->sched_len,
                          s->n_eligible))
                return false;

        const uint8_t *ext = extent_at(f, s);
        const dd_backend *b = (const dd_backend *) ext;
        const uint16_t *sched = dd_extent_schedule(f->map, s->extent_offset, s->n_backends);
        for (uint32_t i = 0; i < (uint32_t) s->sched_len + s->n_eligible; i++)
                if (sched[i] >= s->n_backends)
                        return false;
        for (uint32_t i = 0; i < s->n_backends; i++) {
                if ((b[i].family != 4 && b[i].family != 6) || b[i].target_len >= DD_TARGET_MAX ||
                    (uint64_t) b[i].target_off + b[i].target_len >= s->extent_size ||
                    ext[b[i].target_off + b[i].target_len] != '\0')
                        return false;
        }
        return true;
}

/*
 * Take over a file a previous writer left (mapped and locked by the caller):
 * keep its consistent services, retire the others, and find the heap's end.
 */
static int file_adopt(CacheFile *f) {
        dd_header *h = f->h;
        _cleanup_free_ SlotRef *refs = NULL;
        uint64_t heap_end = 0;
        size_t n = 0;

        f->n_slots = h->n_service_slots;
        f->slots = calloc(MAX(f->n_slots, 1u), sizeof(SlotInfo));
        refs = calloc(MAX(f->n_slots, 1u), sizeof(SlotRef));
        if (!f->slots || !refs || index_alloc(f) < 0)
                return -ENOMEM;

        for (uint32_t i = 0; i < f->n_slots; i++) {
                dd_service *s = slot_at(f, i);
                if (s->incarnation == 0)
                        continue;
                if (!slot_consistent(f, s)) {
                        log_notice("Cache slot %u is inconsistent, dropping it.", i);
                        slot_retire(f, i);
                        continue;
                }
                slot_set_live(f, i, name_hash(s->name), s->extent_size);
                refs[n++] = (SlotRef) { s->extent_offset, s->extent_offset + s->extent_size, i };
        }

        /* Two live slots must never share bytes: in-place rewrites would clobber the other. */
        qsort(refs, n, sizeof(SlotRef), slot_ref_cmp);
        for (size_t i = 0; i < n; i++) {
                /* Sorted by offset: an overlap with any earlier extent starts before the furthest end so far. */
                if (refs[i].end > refs[i].key && refs[i].key < heap_end) {
                        log_notice("Cache slot %u overlaps another, dropping it.", refs[i].slot);
                        slot_retire(f, refs[i].slot);
                        f->slots[refs[i].slot].capacity = 0; /* those bytes are not its own */
                        continue;
                }
                heap_end = MAX(heap_end, refs[i].end);
        }

        /* Names are the lookup key: keep the first of duplicates. */
        n = 0;
        for (uint32_t i = 0; i < f->n_slots; i++)
                if (f->slots[i].name_hash != 0)
                        refs[n++] = (SlotRef) { .key = f->slots[i].name_hash, .slot = i };
        qsort(refs, n, sizeof(SlotRef), slot_ref_cmp);
        for (size_t i = 0; i < n; i++)
                for (size_t j = i + 1; j < n && refs[j].key == refs[i].key; j++) {
                        if (f->slots[refs[j].slot].name_hash == 0 ||
                            !streq(slot_at(f, refs[i].slot)->name, slot_at(f, refs[j].slot)->name))
                                continue;
                        log_notice("Cache slot %u duplicates slot %u, dropping it.", refs[j].slot, refs[i].slot);
                        slot_retire(f, refs[j].slot);
                }

        /* Never hand out bytes a live extent uses, whatever heap_used says. */
        f->heap_used = MAX(MIN(h->heap_used, h->heap_size), heap_end > 0 ? heap_end - h->heap_offset : 0);
        f->heap_used = MIN(round_up8(f->heap_used), h->heap_size);
        h->heap_used = f->heap_used;
        return 0;
}

/*
 * Open the file at path if it is ours to adopt. Returns 0 (adopted, locked),
 * -ENOENT (nothing there), -EBUSY (a live writer holds it), -EAGAIN (path
 * changed under us), -ENOTUNIQ (something there we must replace), or another
 * negative errno.
 */
static int file_open_existing(const char *path, CacheFile *ret) {
        _cleanup_close_ int fd = -1;
        struct stat st, st_path;
        uint8_t *map;
        int r;

        fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                if (errno == ENOENT)
                        return -ENOENT;
                /* A symlink (ELOOP), another user's file, a socket: rename() replaces the entry itself. */
                if (errno == ELOOP || errno == EACCES || errno == EPERM || errno == ENXIO) {
                        log_notice("Replacing %s: %s.", path, strerror(errno));
                        return -ENOTUNIQ;
                }
                return -errno;
        }
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
                log_notice("Replacing %s: not a regular file of ours.", path);
                return -ENOTUNIQ;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) < 0)
                return errno == EWOULDBLOCK ? -EBUSY : -errno;
        /* Another writer may have renamed a new file over path between open and flock. */
        if (lstat(path, &st_path) < 0)
                return errno == ENOENT ? -EAGAIN : -errno;
        if (st_path.st_dev != st.st_dev || st_path.st_ino != st.st_ino)
                return -EAGAIN;

        if ((uint64_t) st.st_size < sizeof(dd_header)) {
                log_notice("Replacing %s: truncated.", path);
                return -ENOTUNIQ;
        }
        map = mmap(NULL, (size_t) st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (map == MAP_FAILED)
                return -errno;

        const dd_header *h = (const dd_header *) map;
        r = dd_validate_header(map, (uint64_t) st.st_size);
        if (r < 0)
                log_notice("Replacing %s: %s.", path,
                           r == -EPROTONOSUPPORT ? "incompatible format version" : "corrupt header");
        else if (h->version_minor > DD_VERSION_MINOR || h->header_size != sizeof(dd_header) ||
                 h->service_size != sizeof(dd_service)) {
                /* A newer minor's fields would go stale under us: start over instead.
                 * The file is ours and locked: tell its readers to look at the path again. */
                dd_header *wh = (dd_header *) map;
                log_notice("Replacing %s: written by a newer minor version.", path);
                atomic_fetch_or_explicit(&wh->flags, DD_FILE_REPLACED, memory_order_release);
                atomic_fetch_add_explicit(&wh->change_counter, 1, memory_order_release);
                futex_wake_all(&wh->change_counter);
                r = -ENOTUNIQ;
        } else if (atomic_load_explicit(&h->flags, memory_order_relaxed) & DD_FILE_REPLACED) {
                log_notice("Replacing %s: marked replaced.", path);
                r = -ENOTUNIQ;
        }
        if (r < 0) {
                munmap(map, (size_t) st.st_size);
                return -ENOTUNIQ;
        }

        *ret = (CacheFile) { .fd = -1, .map = map, .map_size = (uint64_t) st.st_size, .h = (dd_header *) map };
        r = file_adopt(ret);
        if (r < 0) {
                file_close(ret);
                return r;
        }
        ret->fd = TAKE_FD(fd);
        atomic_fetch_and_explicit(&ret->h->flags, ~(uint32_t) DD_FILE_STOPPED, memory_order_release);
        return 0;
}

/* Incarnations: this writer's random session in the high half, a serial in the low half. */
static void session_make_unique(CacheWriter *w) {
        for (uint32_t tries = 0; tries <= w->f.n_live + 1; tries++) {
                bool clash = w->session == 0;
                for (uint32_t i = 0; i < w->f.n_slots && !clash; i++)
                        clash = w->f.slots[i].name_hash != 0 && slot_at(&w->f, i)->incarnation >> 32 == w->session;
                if (!clash)
                        return;
                w->session++;
        }
}

static uint64_t new_incarnation(CacheWriter *w) {
        if (w->next_serial == UINT32_MAX) {
                w->session++;
                session_make_unique(w);
                w->next_serial = 0;
        }
        return (uint64_t) w->session << 32 | ++w->next_serial;
}

CacheWriter *cache_writer_free(CacheWriter *w) {
        if (!w)
                return NULL;
        if (w->f.map) {
                dd_header *h = w->f.h;
                cache_writer_flush(w);
                atomic_fetch_or_explicit(&h->flags, DD_FILE_STOPPED, memory_order_release);
                file_heartbeat(&w->f);
                /* Waiters on the file wake up and find it stale. */
                atomic_fetch_add_explicit(&h->change_counter, 1, memory_order_release);
                futex_wake_all(&h->change_counter);
        }
        file_close(&w->f);
        free(w->buf);
        free(w->path);
        free(w);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(CacheWriter *, cache_writer_free);

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
        *ret = TAKE_PTR(w);
        return 0;
}

static int slot_find(const CacheWriter *w, const char *name, uint64_t hash) {
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
static int slot_find_free(CacheWriter *w, uint32_t size) {
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

static int heap_alloc(CacheFile *f, uint32_t size, uint64_t *ret_off, uint32_t *ret_cap) {
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

/* A growth that failed (a full or read-only directory) is retried by every publish that needs
 * room: log a cause once, not on each retry. */
static int writer_grow_failed(CacheWriter *w, const char *what, int r) {
        log_full_errno(r == w->grow_error ? LOG_DEBUG : LOG_WARNING, r, "Cannot %s %s: %s", what, w->path,
                       strerror(-r));
        w->grow_error = r;
        return r;
}

static uint64_t live_bytes(const CacheFile *f) {
        uint64_t n = 0;
        for (uint32_t i = 0; i < f->n_slots; i++)
                if (f->slots[i].name_hash != 0)
                        n += round_up8(slot_at(f, i)->extent_size);
        return n;
}

/*
 * Replace the file by a new one of the given size holding every live
 * service compactly (same incarnations and generations), then retire the old
 * file so that readers remap. The old file is never shrunk: readers may
 * still map it.
 */
static int writer_rewrite(CacheWriter *w, uint64_t n_slots, uint64_t heap_size) {
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

        for (uint32_t i = 0; i < old->n_slots; i++) {
                if (old->slots[i].name_hash == 0)
                        continue;
                dd_service *s = slot_at(old, i);
                slot_write_begin(s);
                s->flags |= DD_SVC_MOVED;
                slot_write_end(s);
                atomic_fetch_add_explicit(&s->generation, 1, memory_order_release);
                futex_wake_all(&s->generation);
        }
        atomic_fetch_or_explicit(&old->h->flags, DD_FILE_REPLACED, memory_order_release);
        atomic_fetch_add_explicit(&old->h->change_counter, 1, memory_order_release);
        futex_wake_all(&old->h->change_counter);

        w->grow_error = 0;
        file_close(old);
        *old = nf;
        return 0;
}

/* A bigger file: slots and heap at least doubled, room for what is asked. */
static int writer_grow(CacheWriter *w, uint32_t extra_slots, uint64_t extra_bytes) {
        const CacheFile *old = &w->f;
        if ((uint64_t) old->n_live + extra_slots > DD_SLOTS_MAX)
                return -ENOSPC;
        uint64_t n_slots = MIN(MAX(2 * (uint64_t) old->n_slots, (uint64_t) old->n_live + extra_slots), DD_SLOTS_MAX);
        uint64_t heap_size = MAX(2 * old->h->heap_size, 2 * (live_bytes(old) + round_up8(extra_bytes)));
        int r = writer_rewrite(w, n_slots, heap_size);
        if (r >= 0)
                log_info("Grew %s to %u service slots and %" PRIu64 " heap bytes.", w->path, w->f.n_slots,
                         w->f.h->heap_size);
        return r;
}

int cache_writer_reserve(CacheWriter *w, size_t n_services) {
        if (!w)
                return -EINVAL;
        if (n_services > DD_SLOTS_MAX)
                return -ENOSPC;
        uint32_t extra = n_services > w->f.n_live ? (uint32_t) (n_services - w->f.n_live) : 0;
        uint64_t heap_free = w->f.h->heap_size - w->f.heap_used;
        if (n_services <= w->f.n_slots && (uint64_t) extra * RESERVE_EXTENT_SIZE <= heap_free)
                return 0;

        uint64_t live = live_bytes(&w->f);
        uint64_t heap_size = MAX((uint64_t) w->f.h->heap_size, live + (uint64_t) extra * RESERVE_EXTENT_SIZE);
        int r = writer_rewrite(w, MAX((uint64_t) w->f.n_slots, n_services), heap_size);
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
        if (writer_rewrite(w, w->f.n_slots, MAX(w->f.h->heap_size, 2 * live_bytes(&w->f))) >= 0)
                log_info("Wrote %s again; clients follow.", w->path);
}

static int pub_validate(const PubService *svc) {
        size_t l;

        if (!svc || !svc->name || svc->n_backends > DD_BACKENDS_MAX || (svc->n_backends > 0 && !svc->backends) ||
            svc->state >= _DD_STATE_MAX)
                return -EINVAL;
        l = strlen(svc->name);
        if (l == 0)
                return -EINVAL;
        if (l >= DD_NAME_MAX || (svc->query && strlen(svc->query) >= DD_QUERY_MAX))
                return -ENAMETOOLONG;
        for (size_t i = 0; i < svc->n_backends; i++) {
                const PubBackend *b = &svc->backends[i];
                if ((b->family != 4 && b->family != 6) || b->health >= _DD_HEALTH_MAX || b->source >= _DD_SOURCE_MAX)
                        return -EINVAL;
                if (b->target && strlen(b->target) >= DD_TARGET_MAX)
                        return -ENAMETOOLONG;
        }
        return 0;
}

/* Build svc's extent in w->buf and its schedule in w->sched. Returns the extent size. */
static int extent_build(CacheWriter *w, const PubService *svc, uint16_t *ret_n_healthy) {
        SchedInput in[DD_BACKENDS_MAX];
        bool scheduled[DD_BACKENDS_MAX] = {};
        size_t n = svc->n_backends, off_sched, off_elig, off_str, cur;
        uint16_t n_healthy = 0;
        int r;

        for (size_t i = 0; i < n; i++) {
                const PubBackend *b = &svc->backends[i];
                in[i] = (SchedInput) { .priority = b->priority, .weight = b->weight, .healthy = b->health == DD_HEALTH_UP };
                n_healthy += in[i].healthy;
        }
        r = schedule_build(in, n, svc->panic, &w->sched);
        if (r < 0)
                return r;
        for (size_t i = 0; i < w->sched.n_eligible; i++)
                scheduled[w->sched.eligible[i]] = true;

        off_sched = n * sizeof(dd_backend);
        off_elig = off_sched + w->sched.len * sizeof(uint16_t);
        off_str = off_elig + w->sched.n_eligible * sizeof(uint16_t);
        memset(w->buf, 0, off_str);
        memcpy(w->buf + off_sched, w->sched.slots, w->sched.len * sizeof(uint16_t));
        memcpy(w->buf + off_elig, w->sched.eligible, w->sched.n_eligible * sizeof(uint16_t));

        cur = off_str;
        for (size_t i = 0; i < n; i++) {
                const PubBackend *p = &svc->backends[i];
                dd_backend *b = (dd_backend *) (w->buf + i * sizeof(dd_backend));
                const char *target = p->target ?: "";
                size_t tl = strlen(target);

                if (p->family == 4) {
                        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(p->port) };
                        memcpy(&sin.sin_addr, p->addr, 4);
                        memcpy(b->sockaddr, &sin, sizeof sin);
                        b->addrlen = sizeof sin;
                } else {
                        struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(p->port) };
                        memcpy(&sin6.sin6_addr, p->addr, 16);
                        memcpy(b->sockaddr, &sin6, sizeof sin6);
                        b->addrlen = sizeof sin6;
                }
                b->family = p->family;
                b->health = p->health;
                b->source = p->source;
                b->port = p->port;
                b->priority = p->priority;
                b->weight = p->weight;
                b->flags = (scheduled[i] ? DD_BACKEND_SCHEDULED : 0) | (p->unchecked ? DD_BACKEND_UNCHECKED : 0);
                b->ttl_expiry_usec = p->ttl_expiry_usec;
                b->key = dd_endpoint_key(p->family, p->addr, p->port);
                b->checks = p->checks;
                b->check_failures = p->check_failures;
                b->last_latency_usec = p->last_latency_usec;
                b->consecutive_ok = p->consecutive_ok;
                b->consecutive_fail = p->consecutive_fail;
                b->last_check_usec = p->last_check_usec;
                b->check_error = p->check_error;

                /* Addresses of one SRV target are usually adjacent: share its name. */
                b->target_len = (uint16_t) tl;
                if (i > 0 && b[-1].target_len == tl && memcmp(w->buf + b[-1].target_off, target, tl) == 0) {
                        b->target_off = b[-1].target_off;
                        continue;
                }
                b->target_off = (uint32_t) cur;
                memcpy(w->buf + cur, target, tl + 1);
                cur += tl + 1;
        }

        *ret_n_healthy = n_healthy;
        return (int) cur;
}

/* Whether two backends differ in what readers act on, as opposed to TTLs and check statistics. */
static bool backend_same_significant(const dd_backend *a, const dd_backend *b) {
        return memcmp(a, b, offsetof(dd_backend, ttl_expiry_usec)) == 0 && a->key == b->key &&
               memcmp(a->reserved, b->reserved, sizeof a->reserved) == 0;
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
                              s->extent_size != size || !streq(s->query, query);
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
         * woken when it was retired), so no futex wake: 10,000 fewer calls at
         * a cold start of 10,000 services.
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

int cache_writer_read_service(CacheWriter *w, const char *name, int (*cb)(const PubBackend *b, void *userdata),
                              void *userdata, uint8_t *ret_state, int64_t *ret_last_good_usec) {
        const dd_service *s;
        const uint8_t *ext;
        int idx, r;

        if (!w || !name)
                return -EINVAL;
        idx = slot_find(w, name, name_hash(name));
        if (idx < 0)
                return idx;
        s = slot_at(&w->f, (uint32_t) idx);
        ext = extent_at(&w->f, s);

        for (uint32_t i = 0; cb && i < s->n_backends; i++) {
                const dd_backend *b = (const dd_backend *) ext + i;
                PubBackend p = {
                        .family = b->family,
                        .port = b->port,
                        .priority = b->priority,
                        .weight = b->weight,
                        .source = b->source,
                        .health = b->health,
                        .unchecked = !!(b->flags & DD_BACKEND_UNCHECKED),
                        /* Checked on adoption or written by us: inside the extent, NUL-terminated. */
                        .target = (const char *) ext + b->target_off,
                        .ttl_expiry_usec = b->ttl_expiry_usec,
                        .checks = b->checks,
                        .check_failures = b->check_failures,
                        .last_latency_usec = b->last_latency_usec,
                        .consecutive_ok = b->consecutive_ok,
                        .consecutive_fail = b->consecutive_fail,
                        .last_check_usec = b->last_check_usec,
                        .check_error = b->check_error,
                };
                if (b->family == 4) {
                        struct sockaddr_in sin;
                        memcpy(&sin, b->sockaddr, sizeof sin);
                        memcpy(p.addr, &sin.sin_addr, 4);
                } else {
                        struct sockaddr_in6 sin6;
                        memcpy(&sin6, b->sockaddr, sizeof sin6);
                        memcpy(p.addr, &sin6.sin6_addr, 16);
                }
                r = cb(&p, userdata);
                if (r < 0)
                        return r;
        }

        if (ret_state)
                *ret_state = s->state;
        if (ret_last_good_usec)
                *ret_last_good_usec = s->last_good_usec;
        return s->n_backends;
}

int cache_writer_heartbeat(CacheWriter *w) {
        if (!w)
                return -EINVAL;
        cache_writer_flush(w);
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
        futex_wake_all(&w->f.h->change_counter);
}

void cache_writer_count(CacheWriter *w, unsigned counter, uint64_t n) {
        if (!w || counter >= DD_DCTR_SLOTS)
                return;
        atomic_fetch_add_explicit(&w->f.h->counters[counter], n, memory_order_relaxed);
}

const char *cache_writer_path(CacheWriter *w) {
        return w ? w->path : NULL;
}
