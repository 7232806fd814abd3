/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* notify.h: the DNS NOTIFY listener: UDP and TCP sockets on the daemon's event loop, source ACL, serial memory. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "notify-wire.h"

typedef struct NotifyListener NotifyListener;

typedef struct NotifyEndpoint {
        int family;                     /* AF_INET or AF_INET6 */
        uint8_t addr[16];
        uint16_t port;
} NotifyEndpoint;

typedef struct NotifyPrefix {
        int family;                     /* AF_INET or AF_INET6 */
        uint8_t addr[16];
        unsigned len;                   /* prefix length in bits */
} NotifyPrefix;

/* Borrowed by notify_listener_new() only for its duration: everything is copied. */
typedef struct NotifyListenerConfig {
        const NotifyEndpoint *listen;   /* each gets a UDP and a TCP socket */
        size_t n_listen;
        const NotifyPrefix *allow;      /* n_allow 0: loopback only (127.0.0.0/8, ::1) */
        size_t n_allow;
        const NotifyKey *key;           /* NULL: no TSIG required */
        uint64_t min_interval_usec;     /* per zone, between two zone handler calls */
} NotifyListenerConfig;

typedef struct NotifyHandlers {
        /* Every message received (answered or not), after its answer was sent. coalesced: an
         * accepted NOTIFY that causes no zone call of its own (a serial not after one already
         * acted on, or folded into the zone call due at the end of the interval). */
        void (*message)(const NotifyRequest *r, bool coalesced, void *userdata);
        /* A zone changed: at once for the first NOTIFY, then at most once per min_interval_usec,
         * at the interval's end for NOTIFYs inside it, so the last one is never lost. */
        void (*zone)(const char *zone, void *userdata);
        void *userdata;
} NotifyHandlers;

/* Binds every address (UDP and TCP); -errno, logged with the address, if one fails. */
int notify_listener_new(sd_event *event, const NotifyListenerConfig *c, const NotifyHandlers *h,
                        NotifyListener **ret);
/* notify-min-interval changed (reload); NULL is ignored. */
void notify_listener_set_min_interval(NotifyListener *l, uint64_t usec);
/*
 * A reload: c's sources, key and minimum interval apply to the next message at once. Addresses
 * listened on already keep their sockets; new ones are bound before the ones no longer in c are
 * closed, and if one cannot be bound (in use, a port below 1024 without CAP_NET_BIND_SERVICE),
 * the listener keeps every address it had: -errno, logged with the address. 1 if the addresses
 * changed, 0 if not. A TCP connection
 * open on a closed address stays until its peer or the idle timeout ends it.
 */
int notify_listener_reload(NotifyListener *l, const NotifyListenerConfig *c);
/* Closes the sockets and open connections. Accepts NULL, returns NULL. */
NotifyListener *notify_listener_free(NotifyListener *l);

/* True if the address (AF_INET: 4 bytes, AF_INET6: 16) lies in one of the prefixes (loopback if n is 0). */
bool notify_prefix_match(const NotifyPrefix *allow, size_t n, int family, const uint8_t *addr);
/* "192.0.2.0/24", "::1", "127.0.0.1" (a whole address without /LEN). -EINVAL. */
int notify_prefix_parse(const char *s, NotifyPrefix *ret);
