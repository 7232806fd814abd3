/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* map.c: libdnsdisc's mappings of the cache file: open, close, finding a service, following a new file. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static dd_map *dd_map_free(dd_map *m) {
        if (m) {
                munmap((void *) m->header, m->size);
                free(m);
        }
        return NULL;
}

/* Map the cache file at path read-only and check its header. */
static int dd_map_open(const char *path, dd_map **ret) {
        struct stat st;
        void *p = MAP_FAILED;
        dd_map *m = NULL;
        int fd, r;

        /* O_NONBLOCK: a FIFO planted at the path must not block the caller. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                r = -errno;
                goto done;
        }
        if (fstat(fd, &st) < 0) {
                r = -errno;
                goto done;
        }
        if (!S_ISREG(st.st_mode) || st.st_size < (off_t) sizeof(dd_header) || (uint64_t) st.st_size > SIZE_MAX) {
                r = -EBADMSG;
                goto done;
        }
        p = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
                r = -errno;
                goto done;
        }
        r = dd_validate_header(p, (uint64_t) st.st_size);
        if (r < 0)
                goto done;
        m = calloc(1, sizeof(*m));
        if (!m) {
                r = -ENOMEM;
                goto done;
        }
        *m = (dd_map) { .header = p, .size = (uint64_t) st.st_size, .dev = st.st_dev, .ino = st.st_ino };
        p = MAP_FAILED;
        *ret = m;
        r = 0;
done:
        if (p != MAP_FAILED)
                munmap(p, (size_t) st.st_size);
        if (fd >= 0)
                close(fd);
        return r;
}

/*
 * Under d->lock: map the file now at d->path if it is not the newest mapping
 * any more. Unless force, only looks when the newest mapping says it was
 * replaced or its writer stopped (a restarted writer may have made a new
 * file). Returns 1 if a newer mapping was installed, 0 if not, or an error.
 */
int dd_refresh_locked(dnsdisc *d, bool force) {
        dd_map *cur = dd_current(d), *m;
        struct stat st;
        int r;

        if (!force && !(atomic_load_explicit(&cur->header->flags, memory_order_acquire) &
                        (DD_FILE_REPLACED | DD_FILE_STOPPED)))
                return 0;
        if (stat(d->path, &st) < 0)
                return -errno;
        if (st.st_dev == cur->dev && st.st_ino == cur->ino)
                return 0;
        r = dd_map_open(d->path, &m);
        if (r < 0)
                return r;
        m->older = cur;
        atomic_store_explicit(&d->map, m, memory_order_release);
        return 1;
}

void dd_refresh(dnsdisc *d, bool force) {
        pthread_mutex_lock(&d->lock);
        (void) dd_refresh_locked(d, force);
        pthread_mutex_unlock(&d->lock);
}

/* Is the slot in use (and not retired)? If so, its name and incarnation. 1, 0, -EAGAIN or -EBADMSG. */
_seqlock_reader_ int dd_slot_identity(const dd_service *slot, char name[DD_NAME_MAX], uint64_t *ret_incarnation) {
        for (unsigned attempt = 0; attempt < DD_READ_RETRIES; attempt++) {
                uint32_t seq = dd_seq_begin(slot);
                uint64_t inc;
                bool live;

                if (seq & 1) {
                        dd_cpu_relax();
                        continue;
                }
                inc = DD_READ(slot->incarnation);
                live = inc != 0 && !(DD_READ(slot->flags) & DD_SVC_MOVED);
                if (live && name)
                        memcpy(name, slot->name, DD_NAME_MAX);
                if (dd_seq_retry(slot, seq))
                        continue;
                if (!live)
                        return 0;
                if (name && !memchr(name, 0, DD_NAME_MAX))
                        return -EBADMSG;
                if (ret_incarnation)
                        *ret_incarnation = inc;
                return 1;
        }
        return -EAGAIN;
}

/* The live slot named name in m: 0, -ESRCH, or -EAGAIN if some slot could not be read. */
_seqlock_reader_ static int dd_map_find(const dd_map *m, const char *name, const dd_service **ret_slot,
                                        uint64_t *ret_incarnation) {
        bool busy = false;

        for (uint32_t i = 0; i < m->header->n_service_slots; i++) {
                const dd_service *slot = dd_slot(m->header, i);
                char buf[DD_NAME_MAX];
                uint64_t inc;
                int r;

                /* Cheap reject before the consistent read. */
                if (DD_READ(slot->incarnation) == 0 && !(atomic_load_explicit(&slot->seq, memory_order_relaxed) & 1))
                        continue;
                r = dd_slot_identity(slot, buf, &inc);
                if (r == -EAGAIN)
                        busy = true;
                if (r <= 0 || strcmp(buf, name) != 0)
                        continue;
                *ret_slot = slot;
                *ret_incarnation = inc;
                return 0;
        }
        return busy ? -EAGAIN : -ESRCH;
}

/* Find name in the newest mapping, looking for a newer file once if it is not there. Under d->lock. */
int dd_find_locked(dnsdisc *d, const char *name, const dd_map **ret_map, const dd_service **ret_slot,
                          uint64_t *ret_incarnation) {
        int r;

        (void) dd_refresh_locked(d, false);
        r = dd_map_find(dd_current(d), name, ret_slot, ret_incarnation);
        if (r == -ESRCH && dd_refresh_locked(d, true) > 0)
                r = dd_map_find(dd_current(d), name, ret_slot, ret_incarnation);
        if (r == 0)
                *ret_map = dd_current(d);
        return r;
}
_public_ int dnsdisc_open(const char *path, dnsdisc **ret) {
        dnsdisc *d = NULL;
        dd_map *m = NULL;
        int r;

        if (!ret)
                return -EINVAL;
        if (!path) {
                /* secure_getenv: a set-uid program must not be pointed at another file. */
                path = secure_getenv(DNSDISC_CACHE_ENV);
                if (!path || !*path)
                        path = DNSDISC_DEFAULT_CACHE;
        }

        r = dd_map_open(path, &m);
        if (r < 0)
                goto done;
        d = calloc(1, sizeof(*d));
        if (!d) {
                r = -ENOMEM;
                goto done;
        }
        d->path = strdup(path);
        if (!d->path) {
                r = -ENOMEM;
                goto done;
        }
        r = pthread_mutex_init(&d->lock, NULL);
        if (r != 0) {
                r = -r;
                goto done;
        }
        /* Processes started together must not all begin their schedules at the same backend. */
        if (getrandom(&d->seed, sizeof(d->seed), GRND_NONBLOCK) != (ssize_t) sizeof(d->seed)) {
                struct timespec ts;

                clock_gettime(CLOCK_MONOTONIC, &ts);
                d->seed = dd_mix64(((uint64_t) getpid() << 32) ^ (uint64_t) ts.tv_nsec ^ (uintptr_t) d);
        }
        atomic_store_explicit(&d->map, m, memory_order_release);
        m = NULL;
        *ret = d;
        d = NULL;
        r = 0;
done:
        if (d) {
                free(d->path);
                free(d);
        }
        dd_map_free(m);
        return r;
}

_public_ dnsdisc *dnsdisc_close(dnsdisc *d) {
        dd_map *m;

        if (!d)
                return NULL;
        while (d->services) {
                dnsdisc_service *s = d->services;

                d->services = s->next;
                free(s);
        }
        m = dd_current(d);
        while (m) {
                dd_map *older = m->older;

                dd_map_free(m);
                m = older;
        }
        pthread_mutex_destroy(&d->lock);
        free(d->path);
        free(d);
        return NULL;
}
