/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dnsdisc.c: libdnsdisc's cold paths: mapping the cache, finding services, consistent copies, waiting. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* Process-wide, so that a binding's uid never repeats even across dnsdisc_close()/dnsdisc_open(). */
static _Atomic uint64_t dd_uid_next = 1;

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

static inline dd_map *dd_current(dnsdisc *d) {
        return atomic_load_explicit(&d->map, memory_order_acquire);
}

/*
 * Under d->lock: map the file now at d->path if it is not the newest mapping
 * any more. Unless force, only looks when the newest mapping says it was
 * replaced or its writer stopped (a restarted writer may have made a new
 * file). Returns 1 if a newer mapping was installed, 0 if not, or an error.
 */
static int dd_refresh_locked(dnsdisc *d, bool force) {
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

static void dd_refresh(dnsdisc *d, bool force) {
        pthread_mutex_lock(&d->lock);
        (void) dd_refresh_locked(d, force);
        pthread_mutex_unlock(&d->lock);
}

/* Is the slot in use (and not retired)? If so, its name and incarnation. 1, 0, -EAGAIN or -EBADMSG. */
_seqlock_reader_
static int dd_slot_identity(const dd_service *slot, char name[DD_NAME_MAX], uint64_t *ret_incarnation) {
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
static int dd_find_locked(dnsdisc *d, const char *name, const dd_map **ret_map, const dd_service **ret_slot,
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

void dd_binding_get(dnsdisc_service *s, dd_binding *ret) {
        /* The writer is our own rebind, a few stores under d->lock: no bound needed. */
        for (;;) {
                uint32_t seq = atomic_load_explicit(&s->bind_seq, memory_order_acquire);
                dd_binding b;

                if (!(seq & 1)) {
                        b.header = __atomic_load_n(&s->binding.header, __ATOMIC_RELAXED);
                        b.map_size = __atomic_load_n(&s->binding.map_size, __ATOMIC_RELAXED);
                        b.slot = __atomic_load_n(&s->binding.slot, __ATOMIC_RELAXED);
                        b.incarnation = __atomic_load_n(&s->binding.incarnation, __ATOMIC_RELAXED);
                        b.uid = __atomic_load_n(&s->binding.uid, __ATOMIC_RELAXED);
                        dd_fence(memory_order_acquire);
                        if (atomic_load_explicit(&s->bind_seq, memory_order_relaxed) == seq) {
                                *ret = b;
                                return;
                        }
                }
                dd_cpu_relax();
        }
}

/* Under d->lock: bind s to slot of m with a fresh uid, keeping its quarantine count. */
static void dd_binding_set(dnsdisc_service *s, const dd_map *m, const dd_service *slot, uint64_t incarnation) {
        uint32_t seq = atomic_load_explicit(&s->bind_seq, memory_order_relaxed);
        uint64_t uid = atomic_fetch_add_explicit(&dd_uid_next, 1, memory_order_relaxed);
        uint64_t key = atomic_load_explicit(&s->pick_key, memory_order_relaxed);

        atomic_store_explicit(&s->bind_seq, seq + 1, memory_order_relaxed);
        dd_fence(memory_order_release);
        __atomic_store_n(&s->binding.header, m->header, __ATOMIC_RELAXED);
        __atomic_store_n(&s->binding.map_size, m->size, __ATOMIC_RELAXED);
        __atomic_store_n(&s->binding.slot, slot, __ATOMIC_RELAXED);
        __atomic_store_n(&s->binding.incarnation, incarnation, __ATOMIC_RELAXED);
        __atomic_store_n(&s->binding.uid, uid, __ATOMIC_RELAXED);
        atomic_store_explicit(&s->bind_seq, seq + 2, memory_order_release);

        /* Picks racing with quarantine updates change the low bits: keep them. */
        while (!atomic_compare_exchange_weak_explicit(&s->pick_key, &key, (uid << DD_KEY_SHIFT) | (key & DD_KEY_QMASK),
                                                      memory_order_acq_rel, memory_order_relaxed))
                ;
}

int dd_service_rebind(dnsdisc_service *s, uint64_t seen_uid) {
        dnsdisc *d = s->d;
        const dd_service *slot;
        const dd_map *m;
        uint64_t inc;
        int r;

        pthread_mutex_lock(&d->lock);
        if (__atomic_load_n(&s->binding.uid, __ATOMIC_RELAXED) != seen_uid) {
                r = 0; /* another thread got here first */
                goto done;
        }
        r = dd_find_locked(d, s->name, &m, &slot, &inc);
        if (r < 0)
                goto done;
        dd_binding_set(s, m, slot, inc);
done:
        pthread_mutex_unlock(&d->lock);
        return r;
}

/* Bind s to a live slot if it is not, and copy its binding. 0, -ESRCH (gone), -EAGAIN. */
static int dd_service_live(dnsdisc_service *s, dd_binding *ret) {
        for (unsigned rebinds = 0;; rebinds++) {
                dd_binding b;
                uint64_t inc;
                int r;

                dd_binding_get(s, &b);
                r = dd_slot_identity(b.slot, NULL, &inc);
                if (r > 0 && inc == b.incarnation) {
                        *ret = b;
                        return 0;
                }
                if (r < 0 && r != -EBADMSG)
                        return r;
                if (rebinds >= DD_REBIND_MAX)
                        return -EAGAIN;
                r = dd_service_rebind(s, b.uid);
                if (r < 0)
                        return r;
        }
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

/* Under d->lock: the handle for name, made if needed (the caller checks it is live). */
static int dd_service_get_locked(dnsdisc *d, const char *name, dnsdisc_service **ret) {
        const dd_service *slot;
        dnsdisc_service *s;
        const dd_map *m;
        uint64_t inc, uid;
        int r;

        for (s = d->services; s; s = s->next)
                if (strcmp(s->name, name) == 0) {
                        *ret = s;
                        return 1;
                }

        r = dd_find_locked(d, name, &m, &slot, &inc);
        if (r < 0)
                return r;
        /* Its own cache lines: pick_key is read by every pick of every thread. */
        s = aligned_alloc(64, (sizeof(*s) + 63) & ~(size_t) 63);
        if (!s)
                return -ENOMEM;
        memset(s, 0, sizeof(*s));
        uid = atomic_fetch_add_explicit(&dd_uid_next, 1, memory_order_relaxed);
        s->d = d;
        s->cursor_off = dd_cursor_assign();
        s->seed = dd_mix64(d->seed + uid);
        s->binding = (dd_binding) {
                .header = m->header, .map_size = m->size, .slot = slot, .incarnation = inc, .uid = uid,
        };
        atomic_init(&s->pick_key, uid << DD_KEY_SHIFT);
        memcpy(s->name, name, strlen(name) + 1);
        s->next = d->services;
        d->services = s;
        d->n_services++;
        *ret = s;
        return 0;
}

_public_ int dnsdisc_service_get(dnsdisc *d, const char *name, dnsdisc_service **ret) {
        dnsdisc_service *s = NULL;
        dd_binding b;
        int r;

        if (!d || !name || !ret)
                return -EINVAL;
        if (strnlen(name, DD_NAME_MAX) >= DD_NAME_MAX)
                return -ESRCH;

        pthread_mutex_lock(&d->lock);
        r = dd_service_get_locked(d, name, &s);
        pthread_mutex_unlock(&d->lock);
        if (r < 0)
                return r;
        if (r > 0) {
                /* An existing handle: the service may have gone, or moved, since. */
                r = dd_service_live(s, &b);
                if (r < 0)
                        return r;
        }
        *ret = s;
        return 0;
}

_public_ int dnsdisc_service_next(dnsdisc *d, size_t *cursor, dnsdisc_service **ret) {
        const dd_map *m;

        if (!d || !cursor || !ret)
                return -EINVAL;
        if (*cursor == 0)
                dd_refresh(d, false);
        m = dd_current(d);
        for (size_t i = *cursor; i < m->header->n_service_slots; i++) {
                char name[DD_NAME_MAX];
                dnsdisc_service *s = NULL;
                int r;

                r = dd_slot_identity(dd_slot(m->header, (uint32_t) i), name, NULL);
                /* A slot that stays mid-write (its writer died there: the next
                 * writer repairs it on adoption) must not hide those after it. */
                if (r == 0 || r == -EBADMSG || r == -EAGAIN)
                        continue;
                if (r < 0)
                        return r;
                pthread_mutex_lock(&d->lock);
                r = dd_service_get_locked(d, name, &s);
                pthread_mutex_unlock(&d->lock);
                if (r == -ESRCH)
                        continue; /* removed meanwhile */
                if (r < 0)
                        return r;
                *cursor = i + 1;
                *ret = s;
                return 1;
        }
        *cursor = m->header->n_service_slots;
        return 0;
}

/* Copy a backend's target name out of its extent, bounds-checked. -EBADMSG, -ENOBUFS. */
_seqlock_reader_ static int dd_target_copy(const void *map, uint64_t off, uint32_t size, uint32_t strings_start,
                                           const dd_backend *be, char *buf, size_t buf_size) {
        uint32_t toff = DD_READ(be->target_off), tlen = DD_READ(be->target_len);

        if (tlen >= DD_TARGET_MAX || toff < strings_start || toff > size || tlen >= size - toff)
                return -EBADMSG;
        if (tlen >= buf_size)
                return -ENOBUFS;
        memcpy(buf, (const uint8_t *) map + off + toff, tlen);
        buf[tlen] = 0;
        return 0;
}

_seqlock_reader_ static bool dd_sockaddr_ok(const dd_backend *be, uint8_t addrlen) {
        sa_family_t family;

        memcpy(&family, be->sockaddr, sizeof(family));
        return (family == AF_INET && addrlen == sizeof(struct sockaddr_in)) ||
               (family == AF_INET6 && addrlen == sizeof(struct sockaddr_in6));
}

/*
 * The common consistent read of dnsdisc_service_info() and
 * dnsdisc_snapshot(): info always, backends when ret_backends is given.
 * Returns the number of backends, or an error.
 */
_seqlock_reader_ static int dd_read_service(dnsdisc_service *s, dnsdisc_service_info *ret_info,
                                            dnsdisc_backend *ret_backends, size_t n_backends) {
        unsigned rebinds = 0;
        int r;

        for (unsigned attempt = 0; attempt < DD_READ_RETRIES; attempt++) {
                dnsdisc_service_info info = {};
                const dd_service *slot;
                uint32_t seq, nb, strings_start;
                dd_slot_view v;
                dd_binding b;

                dd_binding_get(s, &b);
                slot = b.slot;
                seq = dd_seq_begin(slot);
                if (seq & 1) {
                        dd_cpu_relax();
                        continue;
                }
                dd_slot_view_read(slot, &v);
                info.generation = atomic_load_explicit(&slot->generation, memory_order_relaxed);
                info.state = DD_READ(slot->state);
                info.flags = v.flags & (DNSDISC_SERVICE_PANIC | DNSDISC_SERVICE_SRV);
                info.last_error = DD_READ(slot->last_error);
                info.n_healthy = DD_READ(slot->n_healthy);
                info.last_good_usec = DD_READ(slot->last_good_usec);
                info.next_refresh_usec = DD_READ(slot->next_refresh_usec);
                info.changed_usec = DD_READ(slot->changed_usec);
                memcpy(info.name, slot->name, sizeof(info.name));
                memcpy(info.query, slot->query, sizeof(info.query));
                if (dd_seq_retry(slot, seq))
                        continue;

                /* Another slot, or a newer file, may hold the service now. */
                r = dd_follow(s, &b, v.incarnation, v.flags, &rebinds);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;
                if (!dd_slot_view_ok(&b, &v) || !memchr(info.name, 0, sizeof(info.name)) ||
                    !memchr(info.query, 0, sizeof(info.query)))
                        return -EBADMSG;
                nb = v.n_backends;
                info.n_backends = nb;
                info.n_scheduled = v.n_eligible;
                if (ret_backends && nb > n_backends)
                        return -ENOBUFS;

                strings_start = (uint32_t) dd_extent_size(nb, v.sched_len, v.n_eligible, 0);
                r = 0;
                for (uint32_t i = 0; ret_backends && i < nb && r == 0; i++) {
                        const dd_backend *be = dd_extent_backends(b.header, v.extent_offset) + i;
                        dnsdisc_backend *o = &ret_backends[i];

                        memset(o, 0, sizeof(*o));
                        memcpy(&o->addr, be->sockaddr, sizeof(be->sockaddr));
                        o->addrlen = DD_READ(be->addrlen);
                        o->port = DD_READ(be->port);
                        o->priority = DD_READ(be->priority);
                        o->weight = DD_READ(be->weight);
                        uint32_t bflags = DD_READ(be->flags);
                        o->health = DD_READ(be->health);
                        if (o->health == DD_HEALTH_UP && (bflags & DD_BACKEND_UNCHECKED))
                                o->health = DNSDISC_HEALTH_UNCHECKED;
                        o->source = DD_READ(be->source);
                        o->scheduled = !!(bflags & DD_BACKEND_SCHEDULED);
                        o->ttl_expiry_usec = DD_READ(be->ttl_expiry_usec);
                        o->checks = DD_READ(be->checks);
                        o->check_failures = DD_READ(be->check_failures);
                        o->last_latency_usec = DD_READ(be->last_latency_usec);
                        o->consecutive_ok = DD_READ(be->consecutive_ok);
                        o->consecutive_fail = DD_READ(be->consecutive_fail);
                        o->last_check_usec = DD_READ(be->last_check_usec);
                        o->check_error = DD_READ(be->check_error);
                        if (!dd_sockaddr_ok(be, (uint8_t) o->addrlen))
                                r = -EBADMSG;
                        else
                                r = dd_target_copy(b.header, v.extent_offset, v.extent_size, strings_start, be,
                                                   o->target, sizeof(o->target));
                }
                if (dd_seq_retry(slot, seq))
                        continue;
                if (r < 0)
                        return r == -ENOBUFS ? -EBADMSG : r; /* target buffers hold any valid name */
                if (ret_info)
                        *ret_info = info;
                return (int) nb;
        }
        return -EAGAIN;
}

_public_ int dnsdisc_service_info_get(dnsdisc_service *s, dnsdisc_service_info *ret) {
        int r;

        if (!s || !ret)
                return -EINVAL;
        r = dd_read_service(s, ret, NULL, 0);
        return r < 0 ? r : 0;
}

_public_ int dnsdisc_snapshot(dnsdisc_service *s, dnsdisc_service_info *ret_info, dnsdisc_backend *ret_backends,
                     size_t n_backends) {
        if (!s || (!ret_backends && n_backends > 0))
                return -EINVAL;
        if (!ret_backends) {
                /* Count only: -ENOBUFS unless the service has no backend. */
                dnsdisc_service_info info;
                int r = dd_read_service(s, &info, NULL, 0);

                if (r < 0)
                        return r;
                if (info.n_backends > 0)
                        return -ENOBUFS;
                if (ret_info)
                        *ret_info = info;
                return 0;
        }
        return dd_read_service(s, ret_info, ret_backends, n_backends);
}

_seqlock_reader_ _public_ int dnsdisc_endpoint_target(const dnsdisc_endpoint *e, char *buf, size_t size) {
        dnsdisc_service *s;
        unsigned rebinds = 0;
        int r;

        if (!e || !e->_service || !buf)
                return -EINVAL;
        s = e->_service;

        for (unsigned attempt = 0; attempt < DD_READ_RETRIES; attempt++) {
                const dd_backend *backends, *be = NULL;
                char target[DD_TARGET_MAX];
                const dd_service *slot;
                uint32_t seq, gen, nb;
                dd_slot_view v;
                dd_binding b;

                dd_binding_get(s, &b);
                slot = b.slot;
                seq = dd_seq_begin(slot);
                if (seq & 1) {
                        dd_cpu_relax();
                        continue;
                }
                dd_slot_view_read(slot, &v);
                gen = atomic_load_explicit(&slot->generation, memory_order_relaxed);
                if (dd_seq_retry(slot, seq))
                        continue;
                /* Another slot, or a newer file, may hold the service now. */
                r = dd_follow(s, &b, v.incarnation, v.flags, &rebinds);
                if (r < 0)
                        return r == -ESRCH ? -ESTALE : r;
                if (r > 0)
                        continue;
                if (!dd_slot_view_ok(&b, &v))
                        return -EBADMSG;

                /* Same generation: the endpoint's index still holds it. Else look its identity up. */
                nb = v.n_backends;
                backends = dd_extent_backends(b.header, v.extent_offset);
                if (gen == e->_generation && e->_backend < nb && DD_READ(backends[e->_backend].key) == e->_key)
                        be = &backends[e->_backend];
                for (uint32_t i = 0; !be && i < nb; i++)
                        if (DD_READ(backends[i].key) == e->_key)
                                be = &backends[i];
                r = be ? dd_target_copy(b.header, v.extent_offset, v.extent_size,
                                        (uint32_t) dd_extent_size(nb, v.sched_len, v.n_eligible, 0), be, target,
                                        sizeof(target))
                       : -ESTALE;
                if (dd_seq_retry(slot, seq))
                        continue;
                if (r < 0)
                        return r;
                if (strlen(target) >= size)
                        return -ENOBUFS;
                strcpy(buf, target);
                return 0;
        }
        return -EAGAIN;
}

_public_ int dnsdisc_endpoint_format(const dnsdisc_endpoint *e, char *buf, size_t size) {
        char addr[INET6_ADDRSTRLEN];
        int n;

        if (!e || !buf)
                return -EINVAL;
        if (e->addr.sa.sa_family == AF_INET && e->addrlen >= sizeof(struct sockaddr_in)) {
                if (!inet_ntop(AF_INET, &e->addr.sin.sin_addr, addr, sizeof(addr)))
                        return -errno;
                n = snprintf(buf, size, "%s:%u", addr, (unsigned) ntohs(e->addr.sin.sin_port));
        } else if (e->addr.sa.sa_family == AF_INET6 && e->addrlen >= sizeof(struct sockaddr_in6)) {
                if (!inet_ntop(AF_INET6, &e->addr.sin6.sin6_addr, addr, sizeof(addr)))
                        return -errno;
                n = snprintf(buf, size, "[%s]:%u", addr, (unsigned) ntohs(e->addr.sin6.sin6_port));
        } else
                return -EAFNOSUPPORT;
        if (n < 0 || (size_t) n >= size)
                return -ENOBUFS;
        return 0;
}

_public_ uint32_t dnsdisc_generation(dnsdisc_service *s) {
        dd_binding b;

        if (!s)
                return 0;
        /* A service that is gone keeps the last generation its slot had. */
        if (dd_service_live(s, &b) < 0)
                dd_binding_get(s, &b);
        return atomic_load_explicit(&b.slot->generation, memory_order_acquire);
}

/* CLOCK_MONOTONIC deadline timeout_usec from now; false for none (UINT64_MAX or too far to represent). */
static bool dd_deadline(uint64_t timeout_usec, struct timespec *ret) {
        struct timespec now;
        uint64_t sec, nsec;

        if (timeout_usec == UINT64_MAX)
                return false;
        clock_gettime(CLOCK_MONOTONIC, &now);
        sec = timeout_usec / 1000000;
        nsec = (uint64_t) now.tv_nsec + timeout_usec % 1000000 * 1000;
        sec += nsec / 1000000000;
        if (sec > (uint64_t) INT32_MAX * 4 || (uint64_t) now.tv_sec > (uint64_t) INT64_MAX - sec)
                return false;
        ret->tv_sec = now.tv_sec + (time_t) sec;
        ret->tv_nsec = (long) (nsec % 1000000000);
        return true;
}

/*
 * Sleep while *word == val, until the absolute CLOCK_MONOTONIC deadline (NULL:
 * none). Not FUTEX_PRIVATE: the word is in a file shared with the writer's
 * process, which wakes us with FUTEX_WAKE on its own mapping.
 */
static int dd_futex_wait(const _Atomic uint32_t *word, uint32_t val, const struct timespec *deadline) {
        if (syscall(SYS_futex, word, FUTEX_WAIT_BITSET, val, deadline, NULL, FUTEX_BITSET_MATCH_ANY) < 0)
                return -errno;
        return 0;
}

_public_ int dnsdisc_wait(dnsdisc_service *s, uint32_t generation, uint64_t timeout_usec) {
        struct timespec deadline;
        bool has_deadline;
        uint64_t uid = 0;

        if (!s)
                return -EINVAL;
        has_deadline = dd_deadline(timeout_usec, &deadline);
        for (;;) {
                dd_binding b;
                int r;

                r = dd_service_live(s, &b);
                if (r < 0)
                        return r;
                /* Moved to another slot or file: its generation counts from elsewhere. */
                if (uid != 0 && b.uid != uid)
                        return 1;
                uid = b.uid;
                if (atomic_load_explicit(&b.slot->generation, memory_order_acquire) != generation)
                        return 1;
                r = dd_futex_wait(&b.slot->generation, generation, has_deadline ? &deadline : NULL);
                if (r == -ETIMEDOUT)
                        return atomic_load_explicit(&b.slot->generation, memory_order_acquire) != generation;
                if (r == -EINTR)
                        return -EINTR;
                if (r < 0 && r != -EAGAIN)
                        return r;
                /* Woken, changed, or spurious: look again. */
        }
}

_public_ uint32_t dnsdisc_change_counter(dnsdisc *d) {
        if (!d)
                return 0;
        dd_refresh(d, false);
        return atomic_load_explicit(&dd_current(d)->header->change_counter, memory_order_acquire);
}

_public_ int dnsdisc_wait_any(dnsdisc *d, uint32_t counter, uint64_t timeout_usec) {
        struct timespec deadline;
        bool has_deadline;

        if (!d)
                return -EINVAL;
        has_deadline = dd_deadline(timeout_usec, &deadline);
        for (;;) {
                const dd_header *h = dd_current(d)->header;
                int r;

                if ((atomic_load_explicit(&h->flags, memory_order_acquire) & DD_FILE_REPLACED) ||
                    atomic_load_explicit(&h->change_counter, memory_order_acquire) != counter)
                        return 1;
                r = dd_futex_wait(&h->change_counter, counter, has_deadline ? &deadline : NULL);
                if (r == -ETIMEDOUT)
                        return atomic_load_explicit(&h->change_counter, memory_order_acquire) != counter;
                if (r == -EINTR)
                        return -EINTR;
                if (r < 0 && r != -EAGAIN)
                        return r;
        }
}

_seqlock_reader_ _public_ int dnsdisc_is_stale(dnsdisc *d) {
        const dd_header *h;
        struct timespec ts;
        int64_t now, heartbeat, limit;

        if (!d)
                return -EINVAL;
        dd_refresh(d, false);
        h = dd_current(d)->header;
        if (atomic_load_explicit(&h->flags, memory_order_acquire) & DD_FILE_STOPPED)
                return 1;
        clock_gettime(CLOCK_REALTIME, &ts);
        now = (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
        heartbeat = atomic_load_explicit(&h->heartbeat_usec, memory_order_acquire);
        limit = (int64_t) DD_READ(h->heartbeat_interval_ms) * 3000;
        if (limit < 3000000)
                limit = 3000000;
        /* Not now - heartbeat: the file's value may be anything, and must not overflow. */
        return heartbeat < now - limit;
}

_seqlock_reader_ _public_ int dnsdisc_daemon_info_get(dnsdisc *d, dnsdisc_daemon_info *ret) {
        dnsdisc_daemon_info info = {};
        const dd_header *h;

        if (!d || !ret)
                return -EINVAL;
        dd_refresh(d, false);
        h = dd_current(d)->header;
        info.pid = atomic_load_explicit(&h->writer_pid, memory_order_relaxed);
        info.heartbeat_interval_ms = DD_READ(h->heartbeat_interval_ms);
        info.heartbeat_usec = atomic_load_explicit(&h->heartbeat_usec, memory_order_relaxed);
        info.started_usec = DD_READ(h->started_usec);
        info.stopped = !!(atomic_load_explicit(&h->flags, memory_order_relaxed) & DD_FILE_STOPPED);
        for (uint32_t i = 0; i < h->n_service_slots; i++)
                if (dd_slot_identity(dd_slot(h, i), NULL, NULL) > 0)
                        info.n_services++;
        *ret = info;
        return 0;
}

_public_ const char *dnsdisc_strerror(int err) {
        const char *t;

        if (err < 0)
                err = err == INT_MIN ? INT_MAX : -err;
        switch (err) {
        case 0:
                return "success";
        case ENOENT:
                return "no cache file: dnsdiscd is not running";
        case ESRCH:
                return "unknown service";
        case EHOSTUNREACH:
                return "no backend available";
        case EPROTONOSUPPORT:
                return "incompatible cache file version";
        case EBADMSG:
                return "corrupt cache file";
        case EAGAIN:
                return "cache kept changing: try again";
        case ENOBUFS:
                return "buffer too small";
        case ESTALE:
                return "endpoint no longer in the service's set";
        }
        /* strerrordesc_np: constant strings, unlike strerror()'s buffer for unknown codes. */
        t = strerrordesc_np(err);
        return t ? t : "unknown error";
}

_public_ const char *dnsdisc_state_name(unsigned state) {
        return dd_state_name(state);
}

_public_ const char *dnsdisc_health_name(unsigned health) {
        /* A value of the API, not of the file: an up backend flagged DD_BACKEND_UNCHECKED. */
        if (health == DNSDISC_HEALTH_UNCHECKED)
                return "unchecked";
        return dd_health_name(health);
}

_public_ const char *dnsdisc_source_name(unsigned source) {
        return dd_source_name(source);
}

_public_ const char *dnsdisc_error_code_name(unsigned code) {
        return dd_error_name(code);
}
