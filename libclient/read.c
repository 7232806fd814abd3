/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* read.c: libdnsdisc's consistent copies out of a slot: service info, snapshot, an endpoint's target and text. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

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
 * The common consistent read of dnsdisc_service_info_get() and
 * dnsdisc_snapshot(): info always, backends when ret_backends is given.
 * Returns the number of backends, or an error.
 */
_seqlock_reader_ static int dd_read_service(dnsdisc_service *s, dnsdisc_service_info *ret_info,
                                            dnsdisc_backend *ret_backends, size_t n_backends) {
        unsigned rebinds = 0;
        int r;

        dd_look_if_due(s->d);
        for (unsigned attempt = 0; attempt < DD_READ_RETRIES; attempt++) {
                dnsdisc_service_info info = {};
                const dd_service *slot;
                uint32_t seq, nb, strings_start;
                dd_slot_view v;
                dd_binding b;

                dd_binding_get(s, &b);
                slot = b.slot;
                if (!dd_slot_read_begin(&b, &v, &seq))
                        continue;
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
                r = dd_slot_read_end(s, &b, &v, seq, &rebinds);
                if (r > 0)
                        continue;
                if (r < 0)
                        return r;
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
                        const dd_backend *be = dd_extent_backends(b.map->header, v.extent_offset) + i;
                        dnsdisc_backend *o = &ret_backends[i];

                        memset(o, 0, sizeof(*o));
                        memcpy(&o->addr, be->sockaddr, sizeof(be->sockaddr));
                        o->addrlen = DD_READ(be->addrlen);
                        o->port = DD_READ(be->port);
                        o->priority = DD_READ(be->priority);
                        o->weight = DD_READ(be->weight);
                        o->health = DD_READ(be->health);
                        /* An API value, not a file one: up because DNS publishes it, not a probe. */
                        if (o->health == DD_HEALTH_UP && (DD_READ(be->flags) & DD_BACKEND_UNCHECKED))
                                o->health = DNSDISC_HEALTH_UNCHECKED;
                        o->source = DD_READ(be->source);
                        o->scheduled = !!(DD_READ(be->flags) & DD_BACKEND_SCHEDULED);
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
                                r = dd_target_copy(b.map->header, v.extent_offset, v.extent_size, strings_start, be,
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
                /* Count only, the usual way to size the array: the number of backends now. */
                dnsdisc_service_info info;
                int r = dd_read_service(s, &info, NULL, 0);

                if (r < 0)
                        return r;
                if (ret_info)
                        *ret_info = info;
                return (int) info.n_backends;
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

        dd_look_if_due(s->d);
        for (unsigned attempt = 0; attempt < DD_READ_RETRIES; attempt++) {
                const dd_backend *backends, *be = NULL;
                char target[DD_TARGET_MAX];
                const dd_service *slot;
                uint32_t seq, gen, nb;
                dd_slot_view v;
                dd_binding b;

                dd_binding_get(s, &b);
                slot = b.slot;
                if (!dd_slot_read_begin(&b, &v, &seq))
                        continue;
                gen = atomic_load_explicit(&slot->generation, memory_order_relaxed);
                r = dd_slot_read_end(s, &b, &v, seq, &rebinds);
                if (r > 0)
                        continue;
                if (r < 0)
                        return r == -ESRCH ? -ESTALE : r;
                if (!dd_slot_view_ok(&b, &v))
                        return -EBADMSG;

                /* Same generation: the endpoint's index still holds it. Else look its identity up. */
                nb = v.n_backends;
                backends = dd_extent_backends(b.map->header, v.extent_offset);
                if (gen == e->_generation && e->_backend < nb && DD_READ(backends[e->_backend].key) == e->_key)
                        be = &backends[e->_backend];
                for (uint32_t i = 0; !be && i < nb; i++)
                        if (DD_READ(backends[i].key) == e->_key)
                                be = &backends[i];
                r = be ? dd_target_copy(b.map->header, v.extent_offset, v.extent_size,
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
