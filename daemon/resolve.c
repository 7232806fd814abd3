/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* resolve.c: DNS queries over c-ares driven by sd-event (the only c-ares user). */
#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "log.h"
#include "records.h"
#include "resolve-internal.h"

#define RESOLV_CONF_DEFAULT "/etc/resolv.conf"
#define RESOLV_CONF_POLL_USEC (2 * USEC_PER_SEC)
#define EDNS_PAYLOAD 1232 /* DNS flag day 2020: avoids IP fragmentation */
#define SOCKET_RCVBUF (4 * 1024 * 1024)
#define DNS_CLASS_IN 1

/* The one place c-ares status codes become errnos. */
static int errno_from_ares(int status) {
        switch (status) {
        case ARES_SUCCESS:
                return 0;
        case ARES_ETIMEOUT:
                return -ETIMEDOUT;
        case ARES_ECONNREFUSED:
                return -ECONNREFUSED; /* query_error() tells what it stands for */
        case ARES_ESERVFAIL:
                return records_rcode_errno(RECORDS_RCODE_SERVFAIL);
        case ARES_EREFUSED:
                return records_rcode_errno(RECORDS_RCODE_REFUSED);
        case ARES_EFORMERR:
        case ARES_EBADRESP:
        case ARES_EBADQUERY:
                return -EBADMSG;
        case ARES_ENODATA:
                return -ENODATA;
        case ARES_ENOTFOUND:
                return -ENXIO;
        case ARES_ENOMEM:
                return -ENOMEM;
        case ARES_ECANCELLED:
        case ARES_EDESTRUCTION:
                return -ECANCELED;
        case ARES_EBADNAME:
                return -EINVAL;
        case ARES_ENOTIMP:
                return records_rcode_errno(RECORDS_RCODE_NOTIMP);
        default:
                return -EIO;
        }
}

/* Why a query that c-ares ended with status failed. c-ares 1.18 ends a query with
 * ARES_ECONNREFUSED whether its server refused the connection, was unreachable, reset it,
 * or answered SERVFAIL or REFUSED; the channel's last read or write says which. */
static int query_error(const Channel *c, int status) {
        if (status == ARES_ECONNREFUSED && c->last_io < 0)
                return c->last_io;
        return errno_from_ares(status);
}

static void query_free(Query *q) {
        if (!q)
                return;
        free(q->name);
        free(q->msg);
        free(q->pkt);
        free(q);
}

static void dispatch_schedule(Resolver *r) {
        (void) sd_event_source_set_enabled(r->dispatch, SD_EVENT_ONESHOT);
}

static SockWatch *channel_find_watch(Channel *c, int fd) {
        for (size_t i = 0; i < c->n_watches; i++)
                if (c->watches[i].fd == fd)
                        return &c->watches[i];
        return NULL;
}

/*
 * c-ares' sockets, opened through these functions (ares_set_socket_functions())
 * so that UDP datagrams go out with one sendmmsg() per loop iteration and come
 * in with one recvmmsg() per burst (udp-batch.c). c-ares then leaves socket
 * options to us: non-blocking, close-on-exec, the receive buffer, TCP_NODELAY.
 */
/* The index of fd's batch in c->udp, or c->n_udp if fd is not a UDP socket of ours. */
static size_t channel_udp_index(const Channel *c, int fd) {
        size_t i = 0;
        while (i < c->n_udp && udp_batch_fd(c->udp[i]) != fd)
                i++;
        return i;
}

static UdpBatch *channel_find_udp(Channel *c, int fd) {
        size_t i = channel_udp_index(c, fd);
        return i < c->n_udp ? c->udp[i] : NULL;
}

static TcpStream *channel_find_tcp(Channel *c, int fd) {
        for (size_t i = 0; i < c->n_tcp; i++)
                if (c->tcp[i].fd == fd)
                        return &c->tcp[i];
        return NULL;
}

static void channel_socket_error(Channel *c, int error) {
        c->last_io = error;
        c->last_io_socket = true;
}

/* An answer c-ares read, header first. */
static void channel_answer_read(Channel *c, const uint8_t *h, size_t len) {
        unsigned rcode = h[3] & 0x0f;

        c->last_io = records_rcode_errno(rcode);
        c->last_io_socket = false;
        edns_answer_read(c, h, len);
}

/* The bytes of iov[0..n) up to a total of len, fed to the stream as written. */
static void tcp_written(Channel *c, TcpStream *t, const struct iovec *iov, int n, size_t len) {
        for (int i = 0; i < n && len > 0; i++) {
                size_t k = MIN(len, iov[i].iov_len);
                if (tcp_stream_written(t, iov[i].iov_base, k) < 0)
                        log_debug("Out of memory following a DNS TCP connection");
                len -= k;
        }
}

static ares_socket_t sock_open(int family, int type, int protocol, void *userdata) {
        Channel *c = userdata;
        _cleanup_close_ int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
        int k;

        if (fd < 0) {
                channel_socket_error(c, -errno);
                return ARES_SOCKET_BAD;
        }
        if (type != SOCK_DGRAM) {
                int one = 1;
                (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                if (c->n_tcp == c->n_tcp_allocated) {
                        size_t n = MAX(c->n_tcp_allocated * 2, 2u);
                        TcpStream *nt = reallocarray(c->tcp, n, sizeof *nt);
                        if (!nt) {
                                errno = ENOMEM;
                                return ARES_SOCKET_BAD;
                        }
                        c->tcp = nt;
                        c->n_tcp_allocated = n;
                }
                c->tcp[c->n_tcp++] = (TcpStream) { .fd = fd };
                return TAKE_FD(fd);
        }

        /* Answers to max-inflight queries wait here while the loop works: the default buffer
         * (rmem_default, about 200 KiB) drops some past ~150. The kernel caps the request at
         * net.core.rmem_max. */
        int size = SOCKET_RCVBUF;
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);

        if (c->n_udp == c->n_udp_allocated) {
                size_t n = MAX(c->n_udp_allocated * 2, 4u);
                UdpBatch **nu = reallocarray(c->udp, n, sizeof *nu);
                if (!nu) {
                        errno = ENOMEM;
                        return ARES_SOCKET_BAD;
                }
                c->udp = nu;
                c->n_udp_allocated = n;
        }
        k = udp_batch_new(fd, &c->udp[c->n_udp]);
        if (k < 0) {
                errno = -k;
                return ARES_SOCKET_BAD;
        }
        c->n_udp++;
        return TAKE_FD(fd);
}

static int sock_close(ares_socket_t fd, void *userdata) {
        Channel *c = userdata;
        size_t i = channel_udp_index(c, fd);

        if (i < c->n_udp) {
                udp_batch_free(c->udp[i]);
                c->udp[i] = c->udp[--c->n_udp];
        }
        TcpStream *t = channel_find_tcp(c, fd);
        if (t) {
                if (t->broken)
                        retry_note_broken(c, t);
                tcp_stream_clear(t);
                *t = c->tcp[--c->n_tcp];
        }
        return close(fd);
}

static int sock_connect(ares_socket_t fd, const struct sockaddr *sa, ares_socklen_t len, void *userdata) {
        return connect(fd, sa, len);
}

static ares_ssize_t sock_recvfrom(ares_socket_t fd, void *buf, size_t size, int flags, struct sockaddr *from,
                                  ares_socklen_t *fromlen, void *userdata) {
        Channel *c = userdata;
        UdpBatch *b = channel_find_udp(c, fd);
        const uint8_t *p = buf;
        ssize_t n;

        if (b) {
                n = udp_batch_recv(b, buf, size, from, fromlen);
                if (n < 0)
                        errno = (int) -n;
        } else
                n = recvfrom(fd, buf, size, flags, from, fromlen);

        TcpStream *t = b ? NULL : channel_find_tcp(c, fd);
        if (n < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                        channel_socket_error(c, -errno);
                        if (t)
                                t->broken = true;
                }
                return -1;
        }
        if (t) {
                if (n == 0) {
                        /* Closed by the server with queries on it: as good as a reset. */
                        channel_socket_error(c, -ECONNRESET);
                        t->broken = true;
                } else {
                        if (tcp_stream_read(t, p, (size_t) n) >= 0)
                                channel_answer_read(c, t->in.head, MIN((size_t) t->in.msg_len, sizeof t->in.head));
                }
        } else if (b && n >= 4 && (p[2] & 0x80))
                channel_answer_read(c, p, (size_t) n);
        return n;
}

static ares_ssize_t sock_sendv(ares_socket_t fd, const struct iovec *iov, int n, void *userdata) {
        UdpBatch *b = channel_find_udp(userdata, fd);
        ssize_t k;

        if (!b) {
                /* TCP: MSG_NOSIGNAL, so that a connection the server reset is an error, never SIGPIPE. */
                Channel *c = userdata;
                TcpStream *t = channel_find_tcp(c, fd);
                struct msghdr m = { .msg_iov = (struct iovec *) iov, .msg_iovlen = (size_t) n };
                k = sendmsg(fd, &m, MSG_NOSIGNAL);
                if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                        int e = errno;
                        channel_socket_error(c, -e);
                        if (t) {
                                /* What was to go out was on this connection as much as what went. */
                                size_t all = 0;
                                for (int i = 0; i < n; i++)
                                        all += iov[i].iov_len;
                                tcp_written(c, t, iov, n, all);
                                t->broken = true;
                        }
                        errno = e;
                } else if (k > 0 && t)
                        tcp_written(c, t, iov, n, (size_t) k);
                return k;
        }
        k = udp_batch_send(b, iov, n);
        if (k < 0) {
                if (k != -EAGAIN && k != -ENOBUFS && k != -ENOMEM)
                        channel_socket_error(userdata, (int) k);
                errno = (int) -k;
                return -1;
        }
        return k;
}

static const struct ares_socket_functions sock_functions = {
        .asocket = sock_open,
        .aclose = sock_close,
        .aconnect = sock_connect,
        .arecvfrom = sock_recvfrom,
        .asendv = sock_sendv,
};

/* Every entry into c-ares that may read or write: last_io starts afresh. */
static void channel_process(Channel *c, ares_socket_t rfd, ares_socket_t wfd) {
        c->last_io = 0;
        c->n_broken = 0;
        c->tcp_broke = false;
        c->processing = true;
        ares_process_fd(c->ares, rfd, wfd);
        c->processing = false;
        edns_check(c);
}

/*
 * Send what c-ares queued during this loop iteration: called at the end of
 * every entry into c-ares. A refused datagram is logged; when the refusal is
 * not transient (an ICMP error reported on send, say), c-ares is made to read
 * that socket so that it sees the error and moves the queries on, as it does
 * when a plain send fails. That may queue more datagrams for the next server:
 * a few rounds, then what is left goes with the next entry into c-ares (an
 * answer, a retransmission timer, a new query).
 */
static void channel_flush(Channel *c) {
        for (unsigned round = 0; round < 4; round++) {
                int failed = -1;
                for (size_t i = 0; i < c->n_udp && failed < 0; i++) {
                        size_t n = udp_batch_queued(c->udp[i]);
                        int k = udp_batch_flush(c->udp[i]);
                        if (k == -EAGAIN || k == -ENOBUFS || k == -ENOMEM)
                                log_debug("DNS socket full, %zu queries dropped (c-ares retries them): %s", n,
                                          strerror(-k));
                        /* Kept by this flush or by one udp_batch_send() made on a full queue. */
                        k = udp_batch_error(c->udp[i]);
                        if (k < 0) {
                                log_debug("Sending DNS queries failed: %s", strerror(-k));
                                failed = udp_batch_fd(c->udp[i]);
                        }
                }
                if (failed < 0)
                        return;
                channel_process(c, failed, ARES_SOCKET_BAD);
        }
        /* Still failing after that: send what the last round queued anyway; errors
         * stay kept for the next read of their socket. */
        for (size_t i = 0; i < c->n_udp; i++)
                (void) udp_batch_flush(c->udp[i]);
}

/* After c-ares ran on c: flush c, and the current channel if c is a retired
 * one, since answers on a retired channel refill the current one's window. */
static void channels_flush(Channel *c) {
        channel_flush(c);
        if (c != c->resolver->current)
                channel_flush(c->resolver->current);
}

static int channel_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Channel *c = userdata;
        ares_socket_t rfd = (revents & (EPOLLIN | EPOLLERR | EPOLLHUP)) ? fd : ARES_SOCKET_BAD;
        ares_socket_t wfd = (revents & EPOLLOUT) ? fd : ARES_SOCKET_BAD;
        UdpBatch *b;

        /* May close fd and open another with the same number: sock_state_cb
         * keeps our watches in step, so nothing here touches fd afterwards. */
        channel_process(c, rfd, wfd);
        /* c-ares 1.18 reads until EAGAIN, which empties the batch; if it stopped
         * early, what is left would wait for the next datagram to wake us. */
        for (unsigned round = 0; rfd != ARES_SOCKET_BAD && round < 32; round++) {
                b = channel_find_udp(c, rfd);
                if (!b || udp_batch_buffered(b) == 0)
                        break;
                channel_process(c, rfd, ARES_SOCKET_BAD);
        }
        channels_flush(c);
        return 0;
}

static void channel_sock_state(void *data, ares_socket_t fd, int readable, int writable) {
        Channel *c = data;
        SockWatch *w = channel_find_watch(c, fd);
        uint32_t events = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0);
        int r;

        if (events == 0) {
                if (w) {
                        sd_event_source_disable_unref(w->source);
                        *w = c->watches[--c->n_watches];
                }
                return;
        }
        if (w) {
                r = sd_event_source_set_io_events(w->source, events);
                if (r < 0)
                        log_error_errno(r, "Failed to update DNS socket watch: %s", strerror(-r));
                return;
        }
        if (c->n_watches == c->n_watches_allocated) {
                size_t n = MAX(c->n_watches_allocated * 2, 8u);
                SockWatch *nw = reallocarray(c->watches, n, sizeof *nw);
                if (!nw) {
                        log_error("Out of memory watching a DNS socket");
                        return;
                }
                c->watches = nw;
                c->n_watches_allocated = n;
        }
        w = &c->watches[c->n_watches];
        r = sd_event_add_io(c->resolver->event, &w->source, fd, events, channel_io, c);
        if (r < 0) {
                /* The query on this socket will time out through the timer. */
                log_error_errno(r, "Failed to watch DNS socket %d: %s", fd, strerror(-r));
                return;
        }
        w->fd = fd;
        c->n_watches++;
}

static int channel_timer_set(Channel *c, uint64_t at) {
        int r = sd_event_source_set_time(c->timer, at);
        if (r >= 0)
                c->timer_at = at;
        return r;
}

static int channel_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Channel *c = userdata;
        /* Parked: the source stays enabled with its time in the past otherwise, and fires on
         * every iteration when the prepare callback finds nothing pending to arm it for. */
        (void) channel_timer_set(c, USEC_INFINITY);
        channel_process(c, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
        channels_flush(c);
        return 0;
}

/*
 * Before the loop sleeps: arm the timer for c-ares' next retransmission.
 * The source stays enabled, parked at infinity when idle: sd-event skips the
 * prepare callback of a disabled source, and nothing else would re-arm it.
 * The timer only ever moves earlier while queries are pending: the earliest
 * deadline moves later with nearly every answer, and following it cost a
 * timerfd_settime() per loop iteration. Firing before c-ares' deadline is
 * harmless: ares_process_fd() finds nothing due, and the timer is set anew.
 */
static int channel_timer_prepare(sd_event_source *s, void *userdata) {
        Channel *c = userdata;
        struct timeval tv;
        uint64_t now, at;

        if (c->pending == 0 || !ares_timeout(c->ares, NULL, &tv))
                return c->timer_at == USEC_INFINITY ? 0 : channel_timer_set(c, USEC_INFINITY);
        (void) sd_event_now(c->resolver->event, CLOCK_MONOTONIC, &now);
        at = now + (uint64_t) tv.tv_sec * USEC_PER_SEC + (uint64_t) tv.tv_usec;
        return at < c->timer_at ? channel_timer_set(c, at) : 0;
}

static Channel *channel_free(Channel *c) {
        if (!c)
                return NULL;
        /* Only called when idle or at resolver_free(); c-ares calls back
         * pending queries with ARES_EDESTRUCTION, which query_done() drops. */
        if (c->ares_ok)
                ares_destroy(c->ares);
        for (size_t i = 0; i < c->n_watches; i++)
                sd_event_source_disable_unref(c->watches[i].source);
        free(c->watches);
        /* ares_destroy() closed every socket through sock_close(). */
        for (size_t i = 0; i < c->n_udp; i++)
                udp_batch_free(c->udp[i]);
        free(c->udp);
        for (size_t i = 0; i < c->n_tcp; i++)
                tcp_stream_clear(&c->tcp[i]);
        free(c->tcp);
        free(c->broken);
        sd_event_source_disable_unref(c->timer);
        free(c);
        return NULL;
}

static int channel_set_servers(Channel *c) {
        Resolver *r = c->resolver;
        _cleanup_free_ struct ares_addr_port_node *nodes = calloc(r->n_servers, sizeof *nodes);
        if (!nodes)
                return -ENOMEM;
        for (size_t i = 0; i < r->n_servers; i++) {
                nodes[i].next = i + 1 < r->n_servers ? &nodes[i + 1] : NULL;
                nodes[i].family = r->servers[i].family;
                if (r->servers[i].family == AF_INET)
                        memcpy(&nodes[i].addr.addr4, r->servers[i].addr, 4);
                else
                        memcpy(&nodes[i].addr.addr6, r->servers[i].addr, 16);
                nodes[i].udp_port = nodes[i].tcp_port = r->servers[i].port ? r->servers[i].port : 53;
        }
        return errno_from_ares(ares_set_servers_ports(c->ares, nodes));
}

static int channel_new(Resolver *r, Channel **ret) {
        Channel *c = calloc(1, sizeof *c);
        struct ares_options o = {};
        int mask, k;

        if (!c)
                return -ENOMEM;
        c->resolver = r;

        /* resolv.conf timeout:/attempts: are ignored by c-ares 1.18: set them. */
        o.flags = ARES_FLAG_EDNS | ARES_FLAG_NOSEARCH;
        if (r->raw_answers)
                o.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_NOSEARCH;
        o.timeout = (int) MAX(r->timeout_usec / USEC_PER_MSEC, (uint64_t) 1);
        o.tries = (int) r->tries;
        o.ednspsz = EDNS_PAYLOAD;
        o.sock_state_cb = channel_sock_state;
        o.sock_state_cb_data = c;
        o.resolvconf_path = r->resolv_conf;
        mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_EDNSPSZ | ARES_OPT_SOCK_STATE_CB |
               ARES_OPT_NOROTATE;
        if (r->n_servers == 0)
                mask |= ARES_OPT_RESOLVCONF;

        k = ares_init_options(&c->ares, &o, mask);
        if (k != ARES_SUCCESS) {
                free(c);
                return errno_from_ares(k);
        }
        c->ares_ok = true;
        ares_set_socket_functions(c->ares, &sock_functions, c);

        if (r->n_servers > 0) {
                k = channel_set_servers(c);
                if (k < 0)
                        goto fail;
        }

        c->timer_at = USEC_INFINITY;
        k = sd_event_add_time(r->event, &c->timer, CLOCK_MONOTONIC, USEC_INFINITY, USEC_PER_MSEC, channel_timer, c);
        if (k < 0)
                goto fail;
        k = sd_event_source_set_prepare(c->timer, channel_timer_prepare);
        if (k < 0)
                goto fail;
        k = sd_event_source_set_enabled(c->timer, SD_EVENT_ON);
        if (k < 0)
                goto fail;
        (void) sd_event_source_set_description(c->timer, "dns-timer");
        *ret = c;
        return 0;
fail:
        channel_free(c);
        return k;
}

static void resolver_pump(Resolver *r);

/* c-ares callback: may run inside ares_query(), ares_process_fd() or
 * ares_destroy(). Records the result for dispatch to call back, and refills
 * the window at once. */
static void query_done(void *arg, int status, int timeouts, unsigned char *abuf, int alen) {
        Query *q = arg;
        Resolver *r = q->resolver;

        q->channel->pending--;
        r->inflight--;
        if (retry_collateral(q, status)) {
                query_send(r, q);
                return;
        }
        if (status == ARES_EDESTRUCTION) {
                /* Only resolver_free() destroys a busy channel: tell the owner now. */
                q->cb(-ECANCELED, NULL, 0, q->userdata);
                query_free(q);
                return;
        }

        /* NXDOMAIN and NODATA come with their packet: the caller needs its SOA. */
        if (abuf && alen > 0 && (status == ARES_SUCCESS || status == ARES_ENODATA || status == ARES_ENOTFOUND)) {
                q->pkt = malloc((size_t) alen);
                if (q->pkt) {
                        memcpy(q->pkt, abuf, (size_t) alen);
                        q->len = (size_t) alen;
                        q->error = 0;
                } else
                        q->error = -ENOMEM;
        } else
                q->error = status == ARES_SUCCESS ? -EBADMSG : query_error(q->channel, status);

        q->next = NULL;
        if (r->done_tail)
                r->done_tail->next = q;
        else
                r->done_head = q;
        r->done_tail = q;
        dispatch_schedule(r);
        /* Waiting queries go out now rather than after the callbacks: the server
         * works while we parse, and the window never drains to zero mid-burst,
         * which made c-ares close its socket and open another (one per drain). */
        resolver_pump(r);
}

void query_send(Resolver *r, Query *q) {
        q->channel = r->current;
        q->channel->pending++;
        r->inflight++;
        r->sent++;
        if (!q->channel->processing)
                q->channel->last_io = 0;
        if (q->msg)
                ares_send(q->channel->ares, q->msg, (int) q->msg_len, query_done, q);
        else
                ares_query(q->channel->ares, q->name, DNS_CLASS_IN, q->type, query_done, q);
}

/* c-ares 1.18 encodes "\X" as X but knows no "\DDD": "a\000b" would be asked as "a000b". */
static bool name_has_decimal_escape(const char *name) {
        for (const char *p = strchr(name, '\\'); p && p[1]; p = strchr(p + 2, '\\'))
                if (p[1] >= '0' && p[1] <= '9')
                        return true;
        return false;
}

/* Move waiting queries into flight, up to max_inflight. */
static void resolver_pump(Resolver *r) {
        if (r->pumping)
                return;
        r->pumping = true;
        while (r->inflight < r->max_inflight) {
                unsigned i = r->wait_head[QUERY_FOLLOWUP] ? QUERY_FOLLOWUP : QUERY_NEW;
                Query *q = r->wait_head[i];
                if (!q)
                        break;
                r->wait_head[i] = q->next;
                if (!r->wait_head[i])
                        r->wait_tail[i] = NULL;
                query_send(r, q);
        }
        r->pumping = false;
}

static void channels_reap(Resolver *r) {
        for (Channel **p = &r->retired; *p;) {
                Channel *c = *p;
                if (c->pending == 0) {
                        *p = c->retired_next;
                        log_debug("Destroyed idle retired DNS channel");
                        channel_free(c);
                } else
                        p = &c->retired_next;
        }
}

static int resolver_dispatch(sd_event_source *s, void *userdata) {
        Resolver *r = userdata;

        /* Send waiting queries first: their callbacks are deferred anyway. */
        resolver_pump(r);
        channel_flush(r->current);

        /* Detach the list: callbacks may queue new queries (and complete
         * synchronously into a fresh list, handled by the next dispatch). */
        Query *q = r->done_head;
        r->done_head = r->done_tail = NULL;
        while (q) {
                Query *next = q->next;
                q->cb(q->error, q->pkt, q->len, q->userdata);
                query_free(q);
                q = next;
        }

        /* No reschedule needed: whatever completes or is queued from here on,
         * query_done() and resolver_query() schedule the next dispatch, and a
         * one-shot source re-enabled inside its own callback stays enabled. */
        channels_reap(r);
        return 0;
}

static bool resolv_conf_changed(Resolver *r) {
        struct stat st;
        if (stat(r->resolv_conf, &st) < 0)
                memset(&st, 0, sizeof st);
        bool changed = r->resolv_seen &&
                       (st.st_dev != r->resolv_st.st_dev || st.st_ino != r->resolv_st.st_ino ||
                        st.st_size != r->resolv_st.st_size || st.st_mtim.tv_sec != r->resolv_st.st_mtim.tv_sec ||
                        st.st_mtim.tv_nsec != r->resolv_st.st_mtim.tv_nsec);
        r->resolv_st = st;
        r->resolv_seen = true;
        return changed;
}

/* For a changed resolv.conf and a lost EDNS: c-ares 1.18 can change neither servers nor flags
 * while queries are pending. */
int resolver_replace_channel(Resolver *r) {
        Channel *c;
        int k = channel_new(r, &c);

        if (k < 0)
                return k;
        r->current->retired_next = r->retired;
        r->retired = r->current;
        r->current = c;
        dispatch_schedule(r);
        return 0;
}

static int resolv_conf_poll(sd_event_source *s, uint64_t usec, void *userdata) {
        Resolver *r = userdata;
        int k;

        if (resolv_conf_changed(r)) {
                k = resolver_replace_channel(r);
                if (k < 0)
                        log_error_errno(k, "%s changed but a new DNS channel failed, keeping the old servers: %s",
                                        r->resolv_conf, strerror(-k));
                else
                        log_info("%s changed: new DNS servers take over", r->resolv_conf);
        }
        (void) sd_event_source_set_time(s, usec + RESOLV_CONF_POLL_USEC);
        return sd_event_source_set_enabled(s, SD_EVENT_ON);
}

int resolver_new(sd_event *e, const ResolverConfig *cfg, Resolver **ret) {
        static bool library_ready;
        Resolver *r;
        int k;

        if (!library_ready) {
                k = errno_from_ares(ares_library_init(ARES_LIB_INIT_ALL));
                if (k < 0)
                        return k;
                library_ready = true;
        }

        r = calloc(1, sizeof *r);
        if (!r)
                return -ENOMEM;
        r->event = sd_event_ref(e);
        r->timeout_usec = cfg->timeout_usec ? cfg->timeout_usec : USEC_PER_SEC;
        r->tries = cfg->tries ? cfg->tries : 3;
        r->max_inflight = cfg->max_inflight ? cfg->max_inflight : 128;
        r->raw_answers = cfg->raw_answers;
        if (cfg->n_servers > 0) {
                r->servers = calloc(cfg->n_servers, sizeof *r->servers);
                if (!r->servers) {
                        k = -ENOMEM;
                        goto fail;
                }
                memcpy(r->servers, cfg->servers, cfg->n_servers * sizeof *r->servers);
                r->n_servers = cfg->n_servers;
        }
        r->resolv_conf = strdup(cfg->resolv_conf ? cfg->resolv_conf : RESOLV_CONF_DEFAULT);
        if (!r->resolv_conf) {
                k = -ENOMEM;
                goto fail;
        }

        k = edns_restore_add(r);
        if (k < 0)
                goto fail;

        k = sd_event_add_defer(e, &r->dispatch, resolver_dispatch, r);
        if (k < 0)
                goto fail;
        (void) sd_event_source_set_enabled(r->dispatch, SD_EVENT_OFF);
        (void) sd_event_source_set_description(r->dispatch, "dns-dispatch");

        if (r->n_servers == 0) {
                uint64_t now;
                (void) resolv_conf_changed(r);
                (void) sd_event_now(e, CLOCK_MONOTONIC, &now);
                k = sd_event_add_time(e, &r->resolv_poll, CLOCK_MONOTONIC, now + RESOLV_CONF_POLL_USEC,
                                      USEC_PER_SEC / 10, resolv_conf_poll, r);
                if (k < 0)
                        goto fail;
                (void) sd_event_source_set_enabled(r->resolv_poll, SD_EVENT_ON);
        }

        k = channel_new(r, &r->current);
        if (k < 0)
                goto fail;
        *ret = r;
        return 0;
fail:
        resolver_free(r);
        return k;
}

Resolver *resolver_free(Resolver *r) {
        if (!r)
                return NULL;
        channel_free(r->current);
        while (r->retired) {
                Channel *c = r->retired;
                r->retired = c->retired_next;
                channel_free(c);
        }
        for (unsigned i = 0; i < ELEMENTSOF(r->wait_head); i++)
                for (Query *q = r->wait_head[i], *n; q; q = n) {
                        n = q->next;
                        q->cb(-ECANCELED, NULL, 0, q->userdata);
                        query_free(q);
                }
        for (Query *q = r->done_head, *n; q; q = n) {
                n = q->next;
                q->cb(-ECANCELED, NULL, 0, q->userdata);
                query_free(q);
        }
        sd_event_source_disable_unref(r->dispatch);
        sd_event_source_disable_unref(r->resolv_poll);
        sd_event_source_disable_unref(r->edns_restore);
        sd_event_unref(r->event);
        free(r->servers);
        free(r->resolv_conf);
        free(r);
        return NULL;
}

static void query_enqueue(Resolver *r, Query *q, QueryClass class) {
        /* Always through the FIFOs: over max_inflight the server's socket
         * buffer overflows and c-ares waits out whole retry timeouts. */
        if (r->wait_tail[class])
                r->wait_tail[class]->next = q;
        else
                r->wait_head[class] = q;
        r->wait_tail[class] = q;
        dispatch_schedule(r);
}

int resolver_send(Resolver *r, const uint8_t *msg, size_t len, resolver_cb cb, void *userdata) {
        if (len < 12 || len > UINT16_MAX)
                return -EINVAL;
        Query *q = calloc(1, sizeof *q);
        if (!q)
                return -ENOMEM;
        q->msg = malloc(len);
        if (!q->msg) {
                free(q);
                return -ENOMEM;
        }
        memcpy(q->msg, msg, len);
        q->msg_len = len;
        q->resolver = r;
        q->cb = cb;
        q->userdata = userdata;
        query_enqueue(r, q, QUERY_NEW);
        return 0;
}

static int resolver_query_class(Resolver *r, const char *name, uint16_t type, QueryClass class, resolver_cb cb,
                                void *userdata) {
        Query *q = calloc(1, sizeof *q);
        if (!q)
                return -ENOMEM;
        q->name = strdup(name);
        if (!q->name) {
                free(q);
                return -ENOMEM;
        }
        q->resolver = r;
        q->type = type;
        q->cb = cb;
        q->userdata = userdata;
        if (name_has_decimal_escape(name)) {
                /* Built by ldns, sent by c-ares (which sets the ID): the name's octets as they are. */
                int k = records_build_query(name, type, EDNS_PAYLOAD, &q->msg, &q->msg_len);
                if (k < 0) {
                        query_free(q);
                        return k;
                }
        }
        query_enqueue(r, q, class);
        return 0;
}

int resolver_query(Resolver *r, const char *name, uint16_t type, resolver_cb cb, void *userdata) {
        return resolver_query_class(r, name, type, QUERY_NEW, cb, userdata);
}

int resolver_query_followup(Resolver *r, const char *name, uint16_t type, resolver_cb cb, void *userdata) {
        return resolver_query_class(r, name, type, QUERY_FOLLOWUP, cb, userdata);
}

uint64_t resolver_queries_sent(Resolver *r) {
        return r->sent;
}

unsigned resolver_inflight(Resolver *r) {
        return r->inflight;
}
