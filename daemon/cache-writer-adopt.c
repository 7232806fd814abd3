/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cache-writer-adopt.c: taking over a file a previous writer left, repairing what it left torn. */
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "cache-writer-internal.h"
#include "log.h"

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
bool slot_consistent(const CacheFile *f, const dd_service *s) {
        if (atomic_load_explicit(&s->seq, memory_order_relaxed) & 1)
                return false; /* the previous writer died inside the seqlock */
        if (s->flags & DD_SVC_MOVED || s->state >= _DD_STATE_MAX)
                return false;
        if (!memchr(s->name, 0, sizeof s->name) || s->name[0] == '\0' || !memchr(s->query, 0, sizeof s->query))
                return false;
        if (!dd_extent_ok(f->h, MIN(f->h->file_size, f->map_size), s->extent_offset, s->extent_size, s->n_backends, s->sched_len,
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
int file_open_existing(const char *path, CacheFile *ret) {
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
                log_notice("Replacing %s: written by a newer minor version.", path);
                file_mark((dd_header *) map, DD_FILE_REPLACED);
                r = -ENOTUNIQ;
        } else if (atomic_load_explicit(&h->flags, memory_order_relaxed) & DD_FILE_REPLACED) {
                log_notice("Replacing %s: marked replaced.", path);
                r = -ENOTUNIQ;
        }
        if (r < 0) {
                munmap(map, (size_t) st.st_size);
                return -ENOTUNIQ;
        }

        *ret = (CacheFile) { .fd = -1, .map = map, .map_size = (uint64_t) st.st_size,
                             .services_offset = h->services_offset, .h = (dd_header *) map };
        r = file_adopt(ret);
        if (r < 0) {
                file_close(ret);
                return r;
        }
        ret->fd = TAKE_FD(fd);
        atomic_fetch_and_explicit(&ret->h->flags, ~(uint32_t) DD_FILE_STOPPED, memory_order_release);
        return 0;
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
