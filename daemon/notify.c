/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* notify.c: the DNS NOTIFY listener: UDP and TCP sockets on the daemon's event loop, source ACL, serial memory. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "log.h"
#include "notify.h"

#define UDP_BURST 64                    /* datagrams read per wake-up: other sources get their turn */
#define TCP_CONNECTIONS_MAX 64
#define TCP_IDLE_USEC (10 * USEC_PER_SEC)
#define LOG_SOURCES 64                  /* sources remembered for "once per minute" logging */
#define LOG_INTERVAL_USEC (60 * USEC_PER_SEC)
#define ZONES_MAX 256                   /* zones whose serial and pacing are remembered */
/* How long a zone's serial makes NOTIFYs with it (or an older one) redundant: long enough for
 * retransmissions and the same change notified by several servers, short enough that a zone
 * reloaded with a lower serial is followed again soon. */
#define SERIAL_MEMORY_USEC (60 * USEC_PER_SEC)
#define MESSAGE_MAX 65535

typedef struct Listener Listener;
typedef struct Connection Connection;

typedef struct Socket {
        NotifyListener *owner;
        int fd;
        bool tcp;
        sd_event_source *source;
        char text[INET6_ADDRSTRLEN + 16];  /* "[::1]:5300", for logs */
} Socket;

struct Connection {
        NotifyListener *owner;
        int fd;
        sd_event_source *io, *idle;
        uint8_t *buf;                   /* 2-byte length, then the message */
        size_t have;
        Connection *prev, *next;
        uint8_t family;
        uint8_t addr[16];
        char via[INET6_ADDRSTRLEN + 16]; /* the listening socket's text: a reload may close that socket first */
};

typedef struct SourceLog {
        int family;
        uint8_t addr[16];
        uint64_t last_usec;
} SourceLog;

typedef struct Zone {
        char zone[RECORDS_NAME_MAX];
        bool has_serial;
        uint32_t serial;                /* the newest serial a NOTIFY carried */
        uint64_t serial_usec;           /* CLOCK_MONOTONIC when it came */
        uint64_t last_call_usec;        /* CLOCK_MONOTONIC of the last zone handler call, 0: none */
        bool pending;                   /* a call is due at last_call_usec + min_interval */
        uint64_t seen;                  /* order of last use, for replacement */
} Zone;

struct NotifyListener {
        sd_event *event;
        NotifyHandlers h;
        uint64_t min_interval_usec;
        sd_event_source *pace;          /* fires when the earliest pending zone call is due */
        NotifyPrefix *allow;
        size_t n_allow;
        NotifyKey key;
        bool has_key;
        NotifyEndpoint *listen;         /* what sockets listen on: UDP at 2 i, TCP at 2 i + 1 */
        size_t n_listen;
        Socket **sockets;               /* each its own allocation: its event source points to it */
        size_t n_sockets;
        Connection *connections;
        size_t n_connections;
        SourceLog logged[LOG_SOURCES];
        Zone *zones;
        size_t n_zones;
        uint64_t zone_clock;
        uint8_t *udp_buf;
};

int notify_prefix_parse(const char *s, NotifyPrefix *ret) {
        char buf[INET6_ADDRSTRLEN + 8];
        NotifyPrefix p = {};
        const char *slash = strchr(s, '/');
        size_t n = slash ? (size_t) (slash - s) : strlen(s);

        if (n == 0 || n >= sizeof buf)
                return -EINVAL;
        memcpy(buf, s, n);
        buf[n] = 0;
        if (inet_pton(AF_INET, buf, p.addr) == 1)
                p.family = AF_INET, p.len = 32;
        else if (inet_pton(AF_INET6, buf, p.addr) == 1)
                p.family = AF_INET6, p.len = 128;
        else
                return -EINVAL;
        if (slash) {
                char *end;
                errno = 0;
                unsigned long l = strtoul(slash + 1, &end, 10);
                if (errno || end == slash + 1 || *end || l > p.len)
                        return -EINVAL;
                p.len = (unsigned) l;
        }
        /* Host bits set would never match as written: a typo, not a wish. */
        for (unsigned bit = p.len; bit < (p.family == AF_INET ? 32u : 128u); bit++)
                if (p.addr[bit / 8] & (0x80 >> (bit % 8)))
                        return -EINVAL;
        *ret = p;
        return 0;
}

static bool prefix_has(const NotifyPrefix *p, int family, const uint8_t *addr) {
        if (p->family != family)
                return false;
        unsigned full = p->len / 8, rest = p->len % 8;
        if (memcmp(p->addr, addr, full) != 0)
                return false;
        return rest == 0 || ((p->addr[full] ^ addr[full]) & (uint8_t) (0xff << (8 - rest))) == 0;
}

bool notify_prefix_match(const NotifyPrefix *allow, size_t n, int family, const uint8_t *addr) {
        static const NotifyPrefix loopback[] = {
                { AF_INET, { 127 }, 8 },
                { AF_INET6, { [15] = 1 }, 128 },
        };
        if (n == 0) {
                allow = loopback;
                n = ELEMENTSOF(loopback);
        }
        for (size_t i = 0; i < n; i++)
                if (prefix_has(&allow[i], family, addr))
                        return true;
        return false;
}

/* An IPv4-mapped IPv6 source (a dual-stack socket) is matched as the IPv4 address it is. */
static void source_of(const struct sockaddr_storage *sa, int *ret_family, uint8_t ret_addr[static 16]) {
        memset(ret_addr, 0, 16);
        if (sa->ss_family == AF_INET) {
                memcpy(ret_addr, &((const struct sockaddr_in *) sa)->sin_addr, 4);
                *ret_family = AF_INET;
                return;
        }
        const struct in6_addr *a = &((const struct sockaddr_in6 *) sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
                memcpy(ret_addr, a->s6_addr + 12, 4);
                *ret_family = AF_INET;
                return;
        }
        memcpy(ret_addr, a, 16);
        *ret_family = AF_INET6;
}

/* At most one line per source per minute for refused and badly signed NOTIFYs: a flood cannot fill the journal. */
static bool source_log_due(NotifyListener *l, int family, const uint8_t *addr) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        SourceLog *oldest = &l->logged[0];
        for (size_t i = 0; i < LOG_SOURCES; i++) {
                SourceLog *e = &l->logged[i];
                if (e->family == family && memcmp(e->addr, addr, 16) == 0) {
                        if (now - e->last_usec < LOG_INTERVAL_USEC)
                                return false;
                        e->last_usec = now;
                        return true;
                }
                if (e->last_usec < oldest->last_usec)
                        oldest = e;
        }
        *oldest = (SourceLog) { .family = family, .last_usec = now };
        memcpy(oldest->addr, addr, 16);
        return true;
}

static void zone_call(NotifyListener *l, Zone *z, uint64_t now) {
        z->pending = false;
        z->last_call_usec = now;
        if (l->h.zone)
                l->h.zone(z->zone, l->h.userdata);
}

static void pace_rearm(NotifyListener *l) {
        uint64_t next = UINT64_MAX;
        for (size_t i = 0; i < l->n_zones; i++)
                if (l->zones[i].pending)
                        next = MIN(next, l->zones[i].last_call_usec + l->min_interval_usec);
        if (next == UINT64_MAX) {
                (void) sd_event_source_set_enabled(l->pace, SD_EVENT_OFF);
                return;
        }
        if (sd_event_source_set_time(l->pace, next) < 0 || sd_event_source_set_enabled(l->pace, SD_EVENT_ONESHOT) < 0)
                log_warning("NOTIFY listener: cannot schedule a deferred zone refresh; the TTL refresh remains");
}

static int on_pace(sd_event_source *src, uint64_t usec, void *userdata) {
        NotifyListener *l = userdata;
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        for (size_t i = 0; i < l->n_zones; i++) {
                Zone *z = &l->zones[i];
                if (z->pending && z->last_call_usec + l->min_interval_usec <= now)
                        zone_call(l, z, now);
        }
        pace_rearm(l);
        return 0;
}

static Zone *zone_get(NotifyListener *l, const char *zone) {
        Zone *slot = NULL;
        for (size_t i = 0; i < l->n_zones; i++)
                if (streq(l->zones[i].zone, zone))
                        return &l->zones[i];
        if (l->n_zones < ZONES_MAX)
                slot = &l->zones[l->n_zones++];
        else {
                /* Replace the least recently used zone, after its due call: no change is dropped. */
                slot = &l->zones[0];
                for (size_t i = 1; i < l->n_zones; i++)
                        if (l->zones[i].seen < slot->seen)
                                slot = &l->zones[i];
                if (slot->pending)
                        zone_call(l, slot, now_usec(CLOCK_MONOTONIC));
        }
        *slot = (Zone) {};
        snprintf(slot->zone, sizeof slot->zone, "%s", zone);
        return slot;
}

/* An accepted NOTIFY: call the zone handler now, or once at the end of the interval. Returns
 * true if this NOTIFY was coalesced (no call of its own). */
static bool zone_notified(NotifyListener *l, const NotifyRequest *r) {
        Zone *z = zone_get(l, r->zone);
        z->seen = ++l->zone_clock;
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        if (r->has_serial) {
                if (z->has_serial && !notify_serial_after(r->serial, z->serial) &&
                    now - z->serial_usec < SERIAL_MEMORY_USEC)
                        return true; /* already acted on, or due to be */
                z->has_serial = true;
                z->serial = r->serial;
                z->serial_usec = now;
        }
        if (z->pending)
                return true;
        if (z->last_call_usec == 0 || now >= z->last_call_usec + l->min_interval_usec) {
                zone_call(l, z, now);
                return false;
        }
        z->pending = true;
        pace_rearm(l);
        return false;
}

static void format_addr(int family, const uint8_t *addr, char *buf, size_t size) {
        if (!inet_ntop(family, addr, buf, (socklen_t) size))
                snprintf(buf, size, "?");
}

/* Decide, answer through send_answer, then tell the handler. */
static void handle_message(NotifyListener *l, const uint8_t *pkt, size_t len, int family, const uint8_t *addr,
                           const char *via, int (*send_answer)(const uint8_t *, size_t, void *), void *send_ctx) {
        bool allowed = notify_prefix_match(l->allow, l->n_allow, family, addr);
        NotifyRequest r;
        char who[INET6_ADDRSTRLEN];

        int k = notify_wire_handle(pkt, len, allowed, l->has_key ? &l->key : NULL, now_usec(CLOCK_REALTIME) / USEC_PER_SEC,
                                   &r);
        if (k < 0) {
                log_warning_errno(k, "NOTIFY listener: could not handle a message: %s", strerror(-k));
                return;
        }
        if (r.answer) {
                k = send_answer(r.answer, r.answer_len, send_ctx);
                if (k < 0)
                        log_debug_errno(k, "NOTIFY listener: could not answer on %s: %s", via, strerror(-k));
        }
        format_addr(family, addr, who, sizeof who);
        bool coalesced = false;
        switch (r.verdict) {
        case NOTIFY_ACCEPTED:
                if (r.has_serial)
                        log_debug("NOTIFY for zone %s serial %" PRIu32 " from %s on %s", r.zone[0] ? r.zone : ".",
                                  r.serial, who, via);
                else
                        log_debug("NOTIFY for zone %s from %s on %s", r.zone[0] ? r.zone : ".", who, via);
                break;
        case NOTIFY_REFUSED:
        case NOTIFY_BAD_TSIG:
                if (source_log_due(l, family, addr))
                        log_notice("NOTIFY from %s on %s %s: %s (said once a minute per source)", who, via,
                                   r.verdict == NOTIFY_REFUSED ? "refused" : "rejected (NOTAUTH)", r.why);
                break;
        default:
                log_debug("NOTIFY listener: message from %s on %s: %s", who, via, r.why);
        }
        if (r.verdict == NOTIFY_ACCEPTED)
                coalesced = zone_notified(l, &r);
        if (l->h.message)
                l->h.message(&r, coalesced, l->h.userdata);
        notify_request_done(&r);
}

/* ---------------------------------------------------------------- UDP */

typedef struct UdpPeer {
        int fd;
        const struct sockaddr_storage *sa;
        socklen_t salen;
} UdpPeer;

static int udp_send(const uint8_t *buf, size_t len, void *userdata) {
        const UdpPeer *p = userdata;
        if (sendto(p->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *) p->sa, p->salen) < 0)
                return -errno;
        return 0;
}

static int on_udp(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        Socket *s = userdata;
        NotifyListener *l = s->owner;

        for (unsigned i = 0; i < UDP_BURST; i++) {
                struct sockaddr_storage sa;
                socklen_t salen = sizeof sa;
                ssize_t n = recvfrom(fd, l->udp_buf, MESSAGE_MAX, MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *) &sa, &salen);
                if (n < 0) {
                        if (errno != EAGAIN && errno != EINTR)
                                log_debug_errno(-errno, "NOTIFY listener: receiving on %s: %s", s->text, strerror(errno));
                        return 0;
                }
                int family;
                uint8_t addr[16];
                source_of(&sa, &family, addr);
                UdpPeer peer = { fd, &sa, salen };
                /* A datagram over 64 KiB cannot be: what was read is handled, as a truncated message. */
                handle_message(l, l->udp_buf, MIN((size_t) n, (size_t) MESSAGE_MAX), family, addr, s->text, udp_send,
                               &peer);
        }
        return 0;
}

/* ---------------------------------------------------------------- TCP */

static void connection_free(Connection *c) {
        if (!c)
                return;
        NotifyListener *l = c->owner;
        if (c->prev)
                c->prev->next = c->next;
        else
                l->connections = c->next;
        if (c->next)
                c->next->prev = c->prev;
        l->n_connections--;
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->idle);
        if (c->fd >= 0)
                close(c->fd);
        free(c->buf);
        free(c);
}

static int tcp_send(const uint8_t *buf, size_t len, void *userdata) {
        Connection *c = userdata;
        uint8_t hdr[2] = { (uint8_t) (len >> 8), (uint8_t) len };
        struct iovec iov[2] = { { hdr, 2 }, { (void *) buf, len } };
        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
        /* Answers are a few hundred bytes: a socket buffer that cannot take one is a peer not reading. */
        ssize_t n = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0)
                return -errno;
        return (size_t) n == len + 2 ? 0 : -EAGAIN;
}

static int on_tcp_idle(sd_event_source *src, uint64_t usec, void *userdata) {
        connection_free(userdata);
        return 0;
}

static int on_tcp_data(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        Connection *c = userdata;
        NotifyListener *l = c->owner;

        ssize_t n = recv(fd, c->buf + c->have, 2 + MESSAGE_MAX - c->have, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n <= 0) {
                connection_free(c);
                return 0;
        }
        c->have += (size_t) n;
        (void) sd_event_source_set_time_relative(c->idle, TCP_IDLE_USEC);
        while (c->have >= 2) {
                size_t len = (size_t) c->buf[0] << 8 | c->buf[1];
                if (c->have < 2 + len)
                        break;
                handle_message(l, c->buf + 2, len, c->family, c->addr, c->via, tcp_send, c);
                memmove(c->buf, c->buf + 2 + len, c->have - 2 - len);
                c->have -= 2 + len;
        }
        return 0;
}

static int on_tcp_accept(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        Socket *s = userdata;
        NotifyListener *l = s->owner;
        struct sockaddr_storage sa;
        socklen_t salen = sizeof sa;

        _cleanup_close_ int cfd = accept4(fd, (struct sockaddr *) &sa, &salen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
                return 0;
        if (l->n_connections >= TCP_CONNECTIONS_MAX) {
                /* The oldest idle peer makes room: a client holding connections open cannot lock others out. */
                Connection *last = l->connections;
                while (last && last->next)
                        last = last->next;
                connection_free(last);
        }
        Connection *c = calloc(1, sizeof *c);
        if (!c)
                return 0;
        c->owner = l;
        c->fd = -1;
        snprintf(c->via, sizeof c->via, "%s", s->text);
        c->buf = malloc(2 + MESSAGE_MAX);
        int family;
        source_of(&sa, &family, c->addr);
        c->family = (uint8_t) family;
        c->next = l->connections;
        if (c->next)
                c->next->prev = c;
        l->connections = c;
        l->n_connections++;
        if (!c->buf || sd_event_add_io(l->event, &c->io, cfd, EPOLLIN, on_tcp_data, c) < 0 ||
            sd_event_add_time_relative(l->event, &c->idle, CLOCK_MONOTONIC, TCP_IDLE_USEC, USEC_PER_SEC, on_tcp_idle,
                                       c) < 0) {
                connection_free(c);
                return 0;
        }
        c->fd = TAKE_FD(cfd);
        return 0;
}

/* ---------------------------------------------------------------- setup */

static int socket_bind(NotifyListener *l, const NotifyEndpoint *e, bool tcp, Socket *s) {
        union {
                struct sockaddr sa;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        } u = {};
        socklen_t len;
        char a[INET6_ADDRSTRLEN];
        static const int one = 1;

        format_addr(e->family, e->addr, a, sizeof a);
        snprintf(s->text, sizeof s->text, e->family == AF_INET6 ? "[%s]:%u/%s" : "%s:%u/%s", a, e->port, tcp ? "tcp" : "udp");
        s->owner = l;
        s->tcp = tcp;
        if (e->family == AF_INET) {
                u.in.sin_family = AF_INET;
                u.in.sin_port = htons(e->port);
                memcpy(&u.in.sin_addr, e->addr, 4);
                len = sizeof u.in;
        } else {
                u.in6.sin6_family = AF_INET6;
                u.in6.sin6_port = htons(e->port);
                memcpy(&u.in6.sin6_addr, e->addr, 16);
                len = sizeof u.in6;
        }
        _cleanup_close_ int fd = socket(e->family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (e->family == AF_INET6)
                (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        if (tcp)
                (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        else {
                /* A burst from many servers (or a flood) waits here rather than being dropped; the kernel
                 * caps it at net.core.rmem_max. */
                static const int size = 1 << 20;
                (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
        }
        if (bind(fd, &u.sa, len) < 0)
                return -errno;
        if (tcp && listen(fd, 64) < 0)
                return -errno;
        int r = sd_event_add_io(l->event, &s->source, fd, EPOLLIN, tcp ? on_tcp_accept : on_udp, s);
        if (r < 0)
                return r;
        s->fd = TAKE_FD(fd);
        return 0;
}

static Socket *socket_free(Socket *s) {
        if (!s)
                return NULL;
        sd_event_source_disable_unref(s->source);
        if (s->fd >= 0)
                close(s->fd);
        free(s);
        return NULL;
}

static bool endpoint_equal(const NotifyEndpoint *a, const NotifyEndpoint *b) {
        return a->family == b->family && a->port == b->port && memcmp(a->addr, b->addr, 16) == 0;
}

/* Why EACCES: a port below net.ipv4.ip_unprivileged_port_start needs a capability the unit never has. */
static const char *bind_hint(int r, const NotifyEndpoint *e) {
        if (r != -EACCES || e->port >= 1024)
                return "";
        return " (a port below 1024 needs CAP_NET_BIND_SERVICE; dnsdiscd.service grants none)";
}

/* The UDP or TCP socket for e, bound and watched; -errno, logged with the address, if it fails. */
static int socket_open(NotifyListener *l, const NotifyEndpoint *e, bool tcp, Socket **ret) {
        Socket *s = calloc(1, sizeof *s);
        if (!s)
                return log_error_errno(-ENOMEM, "NOTIFY listener: out of memory");
        s->fd = -1;
        int r = socket_bind(l, e, tcp, s);
        if (r < 0) {
                log_error_errno(r, "NOTIFY listener: cannot listen on %s: %s%s", s->text, strerror(-r),
                                bind_hint(r, e));
                socket_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

/*
 * The sockets for listen[0..n): those on an address listened on already are kept (a NOTIFY in
 * their queues is not lost), the others opened, all before any old one is closed, so that a
 * failure leaves the listener as it was. 1 if the sockets changed, 0 if not, or -errno.
 */
static int listener_try_listen(NotifyListener *l, const NotifyEndpoint *listen, size_t n) {
        size_t same = 0;
        while (same < n && n == l->n_listen && endpoint_equal(&listen[same], &l->listen[same]))
                same++;
        if (n == l->n_listen && same == n)
                return 0;
        _cleanup_free_ NotifyEndpoint *ne = calloc(MAX(n, 1u), sizeof *ne);
        _cleanup_free_ Socket **ns = calloc(MAX(n * 2, 1u), sizeof *ns);
        _cleanup_free_ bool *kept = calloc(MAX(l->n_listen, 1u), sizeof *kept);
        _cleanup_free_ bool *opened = calloc(MAX(n, 1u), sizeof *opened);
        int r = 0;

        if (!ne || !ns || !kept || !opened)
                return log_error_errno(-ENOMEM, "NOTIFY listener: out of memory");
        for (size_t i = 0; i < n && r >= 0; i++) {
                ne[i] = listen[i];
                size_t j = 0;
                while (j < l->n_listen && (kept[j] || !endpoint_equal(&l->listen[j], &listen[i])))
                        j++;
                if (j < l->n_listen) {
                        kept[j] = true;
                        ns[2 * i] = l->sockets[2 * j];
                        ns[2 * i + 1] = l->sockets[2 * j + 1];
                        continue;
                }
                opened[i] = true;
                r = socket_open(l, &listen[i], false, &ns[2 * i]);
                if (r >= 0)
                        r = socket_open(l, &listen[i], true, &ns[2 * i + 1]);
        }
        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        if (opened[i]) {
                                socket_free(ns[2 * i]);
                                socket_free(ns[2 * i + 1]);
                        }
                return r;
        }
        for (size_t j = 0; j < l->n_listen; j++)
                if (!kept[j]) {
                        socket_free(l->sockets[2 * j]);
                        socket_free(l->sockets[2 * j + 1]);
                }
        free(l->sockets);
        free(l->listen);
        l->sockets = TAKE_PTR(ns);
        l->listen = TAKE_PTR(ne);
        l->n_listen = n;
        l->n_sockets = 2 * n;
        return 1;
}

static bool endpoint_is_wildcard(const NotifyEndpoint *e) {
        static const uint8_t zero[16] = {};
        return memcmp(e->addr, zero, e->family == AF_INET ? 4 : 16) == 0;
}

/* Whether binding a would fail while b is bound (same family and port, one of them the wildcard). */
static bool endpoint_overlaps(const NotifyEndpoint *a, const NotifyEndpoint *b) {
        return a->family == b->family && a->port == b->port && (endpoint_is_wildcard(a) || endpoint_is_wildcard(b));
}

static bool endpoint_listed(const NotifyEndpoint *e, const NotifyEndpoint *listen, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (endpoint_equal(e, &listen[i]))
                        return true;
        return false;
}

/*
 * New sockets open before old ones close, so that a failed reload changes nothing. But a new
 * address that overlaps one given up (127.0.0.1:5300 -> 0.0.0.0:5300) cannot bind while the old
 * socket holds the port: then the sockets given up close first, and if the new ones still
 * cannot open, the old addresses are opened again (their queued NOTIFYs are lost, nothing else).
 */
static int listener_set_listen(NotifyListener *l, const NotifyEndpoint *listen, size_t n) {
        bool overlap = false;

        for (size_t j = 0; j < l->n_listen; j++)
                for (size_t i = 0; i < n && !overlap; i++)
                        overlap = !endpoint_listed(&l->listen[j], listen, n) &&
                                  endpoint_overlaps(&l->listen[j], &listen[i]);
        if (!overlap)
                return listener_try_listen(l, listen, n);

        for (size_t j = 0; j < l->n_listen; j++)
                if (!endpoint_listed(&l->listen[j], listen, n)) {
                        l->sockets[2 * j] = socket_free(l->sockets[2 * j]);
                        l->sockets[2 * j + 1] = socket_free(l->sockets[2 * j + 1]);
                }
        int r = listener_try_listen(l, listen, n);
        if (r >= 0)
                return r;
        for (size_t j = 0; j < l->n_listen; j++) {
                Socket *udp = NULL, *tcp = NULL;
                if (l->sockets[2 * j])
                        continue;
                if (socket_open(l, &l->listen[j], false, &udp) < 0 || socket_open(l, &l->listen[j], true, &tcp) < 0) {
                        socket_free(udp);
                        log_error("NOTIFY listener: not listening on the address given up either, until the "
                                  "next reload or a restart");
                        continue;
                }
                l->sockets[2 * j] = udp;
                l->sockets[2 * j + 1] = tcp;
        }
        return r;
}

static int listener_set_access(NotifyListener *l, const NotifyPrefix *allow, size_t n, const NotifyKey *key) {
        NotifyPrefix *na = calloc(MAX(n, 1u), sizeof *na);
        if (!na)
                return -ENOMEM;
        if (n)
                memcpy(na, allow, n * sizeof *allow);
        free(l->allow);
        l->allow = na;
        l->n_allow = n;
        notify_key_wipe(&l->key);
        l->has_key = key != NULL;
        if (key)
                l->key = *key;
        return 0;
}

int notify_listener_new(sd_event *event, const NotifyListenerConfig *c, const NotifyHandlers *h,
                        NotifyListener **ret) {
        NotifyListener *l = calloc(1, sizeof *l);
        int r;

        if (!l)
                return -ENOMEM;
        l->event = sd_event_ref(event);
        l->h = *h;
        l->min_interval_usec = c->min_interval_usec;
        l->udp_buf = malloc(MESSAGE_MAX);
        l->zones = calloc(ZONES_MAX, sizeof *l->zones);
        if (!l->udp_buf || !l->zones || listener_set_access(l, c->allow, c->n_allow, c->key) < 0 ||
            sd_event_add_time(event, &l->pace, CLOCK_MONOTONIC, 0, USEC_PER_MSEC, on_pace, l) < 0 ||
            sd_event_source_set_enabled(l->pace, SD_EVENT_OFF) < 0) {
                notify_listener_free(l);
                return -ENOMEM;
        }
        r = listener_set_listen(l, c->listen, c->n_listen);
        if (r < 0) {
                notify_listener_free(l);
                return r; /* logged with the address */
        }
        *ret = l;
        return 0;
}

int notify_listener_reload(NotifyListener *l, const NotifyListenerConfig *c) {
        int r = listener_set_access(l, c->allow, c->n_allow, c->key);
        if (r < 0)
                log_error_errno(r, "NOTIFY listener: out of memory, keeping notify-allow and the key as they were");
        notify_listener_set_min_interval(l, c->min_interval_usec);
        int k = listener_set_listen(l, c->listen, c->n_listen);
        return r < 0 ? r : k;
}

void notify_listener_set_min_interval(NotifyListener *l, uint64_t usec) {
        if (!l)
                return;
        l->min_interval_usec = usec;
        pace_rearm(l); /* a pending zone call is due earlier or later now */
}

NotifyListener *notify_listener_free(NotifyListener *l) {
        if (!l)
                return NULL;
        while (l->connections)
                connection_free(l->connections);
        for (size_t i = 0; i < l->n_sockets; i++)
                socket_free(l->sockets[i]);
        sd_event_source_disable_unref(l->pace);
        notify_key_wipe(&l->key);
        free(l->sockets);
        free(l->listen);
        free(l->allow);
        free(l->zones);
        free(l->udp_buf);
        sd_event_unref(l->event);
        free(l);
        return NULL;
}
