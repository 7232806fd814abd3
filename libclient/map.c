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
                munmap((void *) m->header, m->geo.map_size);
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
        m = calloc(1, sizeof(*m));
        if (!m) {
                r = -ENOMEM;
                goto done;
        }
        /* The geometry is read once, here, and checked against this mapping's size: the
         * file's size may change later, the mapping's never does. */
        r = dd_geometry_load(p, (uint64_t) st.st_size, &m->geo);
        if (r < 0)
                goto done;
        m->header = p;
        m->dev = st.st_dev;
        m->ino = st.st_ino;
        p = MAP_FAILED;
        *ret = m;
        m = NULL;
        r = 0;
done:
        free(m);
        if (p != MAP_FAILED)
                munmap(p, (size_t) st.st_size);
        if (fd >= 0)
                close(fd);
        return r;
}

/* now - limit, or INT64_MIN when that is below the range: nothing is older than that. */
static int64_t dd_edge_before(int64_t now, int64_t limit) {
        int64_t edge;

        return __builtin_sub_overflow(now, limit, &edge) ? INT64_MIN : edge;
}

bool dd_heartbeat_late(uint16_t minor, uint32_t interval_ms, int64_t real, int64_t boot, int64_t now_real,
                       int64_t now_boot) {
        int64_t limit = (int64_t) interval_ms * 3000, ahead;

        if (limit < 3000000)
                limit = 3000000;
        /* A boot stamp further ahead than the limit is not this boot's (a file kept across a
         * reboot on a disk, a reader in another time namespace): the wall clock decides then. */
        if (minor >= 2 && boot != 0 && now_boot >= 0 &&
            (__builtin_add_overflow(now_boot, limit, &ahead) || boot <= ahead))
                return boot < dd_edge_before(now_boot, limit);
        /* Compared with now - limit, never now - real: the file's values may be anything. */
        return real < dd_edge_before(now_real, limit);
}

static int64_t dd_clock_usec(clockid_t id) {
        struct timespec ts;

        if (clock_gettime(id, &ts) < 0)
                return -1;
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

bool dd_writer_gone(const dd_map *m) {
        const dd_header *h = m->header;
        int64_t real, boot;

        if (atomic_load_explicit(&h->flags, memory_order_acquire) & DD_FILE_STOPPED)
                return true;
        /* The writer stores the boot stamp first and releases with the wall-clock one. */
        real = atomic_load_explicit(&h->heartbeat_usec, memory_order_acquire);
        boot = atomic_load_explicit(&h->heartbeat_boot_usec, memory_order_relaxed);
        return dd_heartbeat_late(m->geo.version_minor, DD_READ(h->heartbeat_interval_ms), real, boot,
                                 dd_clock_usec(CLOCK_REALTIME),
                                 m->geo.version_minor >= 2 ? dd_clock_usec(CLOCK_BOOTTIME) : -1);
}

bool dd_map_abandoned(const dd_map *m) {
        return (atomic_load_explicit(&m->header->flags, memory_order_acquire) & DD_FILE_REPLACED) ||
               !dd_map_usable(m) || dd_writer_gone(m);
}

/* Under d->lock: make m the newest mapping. Handles bound to older ones take
 * their next pick on the slow path, where dd_follow() finds them retired. */
static void dd_map_install(dnsdisc *d, dd_map *m) {
        dd_map *cur = dd_current(d);

        m->older = cur;
        atomic_store_explicit(&d->map, m, memory_order_release);
        d->n_maps++;
        for (dd_map *o = cur; o; o = o->older)
                atomic_store_explicit(&o->retired, true, memory_order_release);
        for (dnsdisc_service *s = d->services; s; s = s->next)
                atomic_fetch_or_explicit(&s->pick_key, DD_KEY_RETIRED, memory_order_acq_rel);
}

int dd_refresh_locked(dnsdisc *d, bool force) {
        dd_map *cur = dd_current(d), *m;
        bool corrupt;
        struct stat st;
        int r;

        if (!force) {
                uint64_t now;

                if (!dd_map_abandoned(cur))
                        return 0;
                /* At most once a second: a dead writer's path may stay missing for long. */
                now = dd_monotonic_usec();
                if (now < atomic_load_explicit(&d->next_look_usec, memory_order_relaxed))
                        return 0;
                atomic_store_explicit(&d->next_look_usec, now + DD_LOOK_INTERVAL_USEC, memory_order_relaxed);
        }
        corrupt = !dd_map_usable(cur);
        if (stat(d->path, &st) < 0)
                return -errno;
        /* The same file again: only to re-read a header that changed, a bounded number of times. */
        if (st.st_dev == cur->dev && st.st_ino == cur->ino && (!corrupt || d->n_maps >= DD_MAPS_MAX))
                return 0;
        r = dd_map_open(d->path, &m);
        if (r < 0)
                return r;
        dd_map_install(d, m);
        atomic_store_explicit(&d->next_look_usec, 0, memory_order_relaxed);
        return 1;
}

void dd_look_if_due(dnsdisc *d) {
        uint64_t now = dd_monotonic_usec();

        if (now < atomic_load_explicit(&d->next_check_usec, memory_order_relaxed))
                return;
        atomic_store_explicit(&d->next_check_usec, now + DD_LOOK_INTERVAL_USEC, memory_order_relaxed);
        if (dd_map_abandoned(dd_current(d)))
                dd_refresh(d, false);
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

        for (uint32_t i = 0; i < m->geo.n_service_slots; i++) {
                const dd_service *slot = dd_map_slot(m, i);
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

int dd_find_locked(dnsdisc *d, const char *name, const dd_map **ret_map, const dd_service **ret_slot,
                   uint64_t *ret_incarnation) {
        int r;

        (void) dd_refresh_locked(d, false);
        r = dd_map_find(dd_current(d), name, ret_slot, ret_incarnation);
        if (r == -ESRCH && dd_refresh_locked(d, true) > 0)
                r = dd_map_find(dd_current(d), name, ret_slot, ret_incarnation);
        /* A mapping whose header changed is not to be trusted for a new binding. */
        if (r == 0 && !dd_map_usable(dd_current(d)))
                r = -EBADMSG;
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
        d->n_maps = 1;
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
