/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udp-batch.c: a connected UDP socket's datagrams sent with one sendmmsg() and received with one recvmmsg() per burst. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "udp-batch.h"
#include "util.h"

/* Received datagrams are held this many at a time: 32 × 4 KiB of buffer,
 * while an answer burst on loopback seldom exceeds that between two reads. */
#define RECV_MAX 32

typedef struct RecvSlot {
        uint8_t data[UDP_BATCH_RECV_SIZE];
} RecvSlot;

struct UdpBatch {
        int fd;
        int error;                       /* hard flush error not yet reported by recv: negative errno */

        size_t n_queued;
        size_t queued_len[UDP_BATCH_MAX];
        uint8_t (*queue)[UDP_BATCH_SEND_SIZE]; /* allocated at the first send */

        RecvSlot *slots;                 /* allocated at the first receive */
        struct mmsghdr msgs[RECV_MAX];
        struct iovec iovs[RECV_MAX];
        struct sockaddr_storage addrs[RECV_MAX];
        size_t recv_next, recv_n;        /* slots [recv_next, recv_n) not yet returned */
};

int udp_batch_new(int fd, UdpBatch **ret) {
        UdpBatch *b;

        if (fd < 0 || !ret)
                return -EINVAL;
        b = calloc(1, sizeof *b);
        if (!b)
                return -ENOMEM;
        b->fd = fd;
        *ret = b;
        return 0;
}

UdpBatch *udp_batch_free(UdpBatch *b) {
        if (!b)
                return NULL;
        free(b->queue);
        free(b->slots);
        free(b);
        return NULL;
}

int udp_batch_fd(const UdpBatch *b) {
        return b->fd;
}

static bool transient(int e) {
        return e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS || e == ENOMEM;
}

int udp_batch_flush(UdpBatch *b) {
        struct mmsghdr msgs[UDP_BATCH_MAX];
        struct iovec iovs[UDP_BATCH_MAX];
        size_t n = b->n_queued, done = 0;

        if (n == 0)
                return 0;
        for (size_t i = 0; i < n; i++) {
                iovs[i] = (struct iovec) { .iov_base = b->queue[i], .iov_len = b->queued_len[i] };
                msgs[i] = (struct mmsghdr) { .msg_hdr = { .msg_iov = &iovs[i], .msg_iovlen = 1 } };
        }
        b->n_queued = 0;

        /* sendmmsg() stops at the first datagram the kernel refuses and returns
         * what went before, dropping the error. A transient refusal (ENOBUFS,
         * EAGAIN) comes back on the next call, or has passed and the rest goes
         * out. An error an ICMP message left on the socket (port or host
         * unreachable) was consumed by the refused send; but the datagrams sent
         * after it to the same place leave the same error again, at once on
         * loopback and later elsewhere. So after a short count the socket's
         * pending error, if any, is kept as what it is, and otherwise nothing:
         * a transient refusal must not make c-ares give up on its server. */
        bool short_count = false;
        while (done < n) {
                int k = sendmmsg(b->fd, msgs + done, (unsigned) (n - done), MSG_DONTWAIT);
                if (k < 0) {
                        int e = errno;
                        if (e == EINTR)
                                continue;
                        if (!transient(e))
                                b->error = -e;
                        return -e;
                }
                done += (size_t) k;
                if (done < n)
                        short_count = true;
        }
        if (short_count && b->error == 0) {
                int e = 0;
                socklen_t len = sizeof e;
                if (getsockopt(b->fd, SOL_SOCKET, SO_ERROR, &e, &len) == 0 && e > 0)
                        b->error = -e;
        }
        return (int) done;
}

size_t udp_batch_queued(const UdpBatch *b) {
        return b->n_queued;
}

int udp_batch_error(const UdpBatch *b) {
        return b->error;
}

ssize_t udp_batch_send(UdpBatch *b, const struct iovec *iov, int n) {
        size_t len = 0;
        uint8_t *p;

        if (n < 0)
                return -EINVAL;
        for (int i = 0; i < n; i++)
                len += iov[i].iov_len;

        if (len > UDP_BATCH_SEND_SIZE) {
                /* Order matters to nobody (UDP), but flush first anyway so that
                 * datagrams leave in the order they were given; the flush's errors
                 * are kept, as for a full queue below, not put on this datagram. */
                (void) udp_batch_flush(b);
                struct msghdr m = { .msg_iov = (struct iovec *) iov, .msg_iovlen = (size_t) n };
                ssize_t s = sendmsg(b->fd, &m, MSG_DONTWAIT);
                return s < 0 ? -errno : s;
        }

        if (!b->queue) {
                b->queue = malloc(sizeof *b->queue * UDP_BATCH_MAX);
                if (!b->queue)
                        return -ENOMEM;
        }
        /* A full queue goes first; its errors wait in b->error for the caller's
         * flush to see: this datagram is queued either way. */
        if (b->n_queued == UDP_BATCH_MAX)
                (void) udp_batch_flush(b);

        p = b->queue[b->n_queued];
        for (int i = 0; i < n; i++) {
                memcpy(p, iov[i].iov_base, iov[i].iov_len);
                p += iov[i].iov_len;
        }
        b->queued_len[b->n_queued++] = len;
        return (ssize_t) len;
}

static int fill(UdpBatch *b) {
        int k;

        if (!b->slots) {
                b->slots = malloc(sizeof *b->slots * RECV_MAX);
                if (!b->slots)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < RECV_MAX; i++) {
                b->iovs[i] = (struct iovec) { .iov_base = b->slots[i].data, .iov_len = sizeof b->slots[i].data };
                b->msgs[i] = (struct mmsghdr) { .msg_hdr = {
                        .msg_name = &b->addrs[i], .msg_namelen = sizeof b->addrs[i],
                        .msg_iov = &b->iovs[i], .msg_iovlen = 1,
                } };
        }
        do
                k = recvmmsg(b->fd, b->msgs, RECV_MAX, MSG_DONTWAIT, NULL);
        while (k < 0 && errno == EINTR);
        if (k < 0)
                return -errno;
        b->recv_next = 0;
        b->recv_n = (size_t) k;
        return k;
}

ssize_t udp_batch_recv(UdpBatch *b, void *buf, size_t size, struct sockaddr *from, socklen_t *fromlen) {
        struct mmsghdr *m;
        size_t len;

        if (b->error < 0) {
                int e = b->error;
                b->error = 0;
                return e;
        }
        if (b->recv_next == b->recv_n) {
                int k = fill(b);
                if (k < 0)
                        return k;
                if (k == 0)
                        return -EAGAIN;
        }

        m = &b->msgs[b->recv_next];
        len = MIN((size_t) m->msg_len, size);
        memcpy(buf, b->slots[b->recv_next].data, len);
        if (from && fromlen) {
                socklen_t n = MIN(*fromlen, m->msg_hdr.msg_namelen);
                memcpy(from, &b->addrs[b->recv_next], n);
                *fromlen = m->msg_hdr.msg_namelen;
        }
        b->recv_next++;
        return (ssize_t) len;
}

size_t udp_batch_buffered(const UdpBatch *b) {
        return b->recv_n - b->recv_next;
}
