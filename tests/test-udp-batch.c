/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-udp-batch.c: daemon/udp-batch.c over real connected UDP sockets on 127.0.0.1. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <cmocka.h>

#include "udp-batch.h"
#include "util.h"

/*
 * A transient refusal mid-batch (ENOBUFS, EAGAIN) cannot be produced on loopback on demand, so
 * this program's sendmmsg() stands in for libc's (daemon/udp-batch.c is linked in statically and
 * calls it): with short_sends set, a call sends its first datagram only and returns 1, as the
 * kernel does when it refuses the second for a moment. Otherwise it is the real system call.
 */
static unsigned short_sends;

int sendmmsg(int fd, struct mmsghdr *msgs, unsigned vlen, int flags) {
        if (short_sends > 0 && vlen > 1) {
                short_sends--;
                vlen = 1;
        }
        return (int) syscall(SYS_sendmmsg, fd, msgs, vlen, flags);
}

typedef struct Pair {
        int peer;                   /* bound on 127.0.0.1, stands in for the DNS server */
        int fd;                     /* connected to peer, non-blocking: the batch's socket */
        struct sockaddr_in peer_addr;
        UdpBatch *b;
} Pair;

static int udp_socket(void) {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        return fd;
}

static struct sockaddr_in loopback(uint16_t port) {
        return (struct sockaddr_in) { .sin_family = AF_INET, .sin_port = htons(port),
                                      .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
}

static int setup(void **state) {
        Pair *p = calloc(1, sizeof *p);
        socklen_t len = sizeof p->peer_addr;

        assert_non_null(p);
        p->peer = udp_socket();
        p->peer_addr = loopback(0);
        assert_int_equal(bind(p->peer, (struct sockaddr *) &p->peer_addr, sizeof p->peer_addr), 0);
        assert_int_equal(getsockname(p->peer, (struct sockaddr *) &p->peer_addr, &len), 0);
        p->fd = udp_socket();
        assert_int_equal(connect(p->fd, (struct sockaddr *) &p->peer_addr, sizeof p->peer_addr), 0);
        assert_int_equal(udp_batch_new(p->fd, &p->b), 0);
        *state = p;
        return 0;
}

static int teardown(void **state) {
        Pair *p = *state;
        udp_batch_free(p->b);
        close(p->fd);
        close(p->peer);
        free(p);
        return 0;
}

/* Waits up to ms for fd to become readable. */
static bool readable_within(int fd, int ms) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        return poll(&pfd, 1, ms) == 1;
}

static bool readable(int fd) {
        return readable_within(fd, 1000);
}

/* The peer's next datagram into buf, or -1 when none came within 1 s. */
static ssize_t peer_recv(Pair *p, void *buf, size_t size) {
        if (!readable(p->peer))
                return -1;
        return recv(p->peer, buf, size, MSG_DONTWAIT);
}

static bool peer_has_nothing(Pair *p) {
        char c;
        return recv(p->peer, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

/* The peer answers to the batch's socket, whose address it learns from getsockname(). */
static void peer_send(Pair *p, const void *data, size_t len) {
        struct sockaddr_in a;
        socklen_t alen = sizeof a;
        assert_int_equal(getsockname(p->fd, (struct sockaddr *) &a, &alen), 0);
        assert_int_equal(sendto(p->peer, data, len, 0, (struct sockaddr *) &a, alen), (ssize_t) len);
}

static ssize_t send_str(UdpBatch *b, const char *s) {
        struct iovec iov = { .iov_base = (void *) s, .iov_len = strlen(s) };
        return udp_batch_send(b, &iov, 1);
}

static void test_send_waits_for_flush(void **state) {
        Pair *p = *state;
        char buf[64];

        assert_int_equal(send_str(p->b, "one"), 3);
        assert_int_equal(send_str(p->b, "two"), 3);
        assert_int_equal(udp_batch_queued(p->b), 2);
        assert_false(readable_within(p->peer, 50));
        assert_int_equal(udp_batch_flush(p->b), 2);
        assert_int_equal(udp_batch_queued(p->b), 0);
        assert_int_equal(peer_recv(p, buf, sizeof buf), 3);
        assert_memory_equal(buf, "one", 3);
        assert_int_equal(peer_recv(p, buf, sizeof buf), 3);
        assert_memory_equal(buf, "two", 3);
        assert_true(peer_has_nothing(p));
        assert_int_equal(udp_batch_flush(p->b), 0);
}

static void test_send_joins_iovecs(void **state) {
        Pair *p = *state;
        struct iovec iov[3] = { { "ab", 2 }, { "", 0 }, { "cde", 3 } };
        char buf[16];

        assert_int_equal(udp_batch_send(p->b, iov, 3), 5);
        assert_int_equal(udp_batch_flush(p->b), 1);
        assert_int_equal(peer_recv(p, buf, sizeof buf), 5);
        assert_memory_equal(buf, "abcde", 5);
}

static void test_full_queue_is_flushed_by_next_send(void **state) {
        Pair *p = *state;
        char buf[16], want[16];

        for (unsigned i = 0; i < UDP_BATCH_MAX; i++) {
                snprintf(want, sizeof want, "q%u", i);
                assert_int_equal(send_str(p->b, want), (ssize_t) strlen(want));
        }
        assert_int_equal(udp_batch_queued(p->b), UDP_BATCH_MAX);
        assert_int_equal(send_str(p->b, "last"), 4);
        assert_int_equal(udp_batch_queued(p->b), 1);
        for (unsigned i = 0; i < UDP_BATCH_MAX; i++) {
                ssize_t n = peer_recv(p, buf, sizeof buf - 1);
                assert_true(n > 0);
                buf[n] = '\0';
                snprintf(want, sizeof want, "q%u", i);
                assert_string_equal(buf, want);
        }
        assert_true(peer_has_nothing(p));
        assert_int_equal(udp_batch_flush(p->b), 1);
        assert_int_equal(peer_recv(p, buf, sizeof buf), 4);
}

static void test_large_datagram_goes_at_once_after_the_queue(void **state) {
        Pair *p = *state;
        static char big[UDP_BATCH_SEND_SIZE + 100];
        static char buf[sizeof big];
        struct iovec iov = { big, sizeof big };

        memset(big, 'x', sizeof big);
        assert_int_equal(send_str(p->b, "small"), 5);
        assert_int_equal(udp_batch_send(p->b, &iov, 1), (ssize_t) sizeof big);
        assert_int_equal(udp_batch_queued(p->b), 0);
        assert_int_equal(peer_recv(p, buf, sizeof buf), 5);
        assert_int_equal(peer_recv(p, buf, sizeof buf), (ssize_t) sizeof big);
        assert_memory_equal(buf, big, sizeof big);
}

static void test_free_drops_the_queue(void **state) {
        Pair *p = *state;

        assert_int_equal(send_str(p->b, "never"), 5);
        p->b = udp_batch_free(p->b);
        assert_null(p->b);
        assert_false(readable_within(p->peer, 50));
        assert_null(udp_batch_free(NULL));
}

static void test_recv_returns_each_datagram_then_eagain(void **state) {
        Pair *p = *state;
        struct sockaddr_in from;
        socklen_t fromlen;
        char buf[64];
        const unsigned n = 50; /* over one recvmmsg() batch */

        assert_int_equal(udp_batch_recv(p->b, buf, sizeof buf, NULL, NULL), -EAGAIN);
        for (unsigned i = 0; i < n; i++) {
                snprintf(buf, sizeof buf, "answer %u", i);
                peer_send(p, buf, strlen(buf));
        }
        assert_true(readable(p->fd));
        for (unsigned i = 0; i < n; i++) {
                char want[64];
                ssize_t k;

                fromlen = sizeof from;
                memset(&from, 0, sizeof from);
                k = udp_batch_recv(p->b, buf, sizeof buf - 1, (struct sockaddr *) &from, &fromlen);
                assert_true(k > 0);
                buf[k] = '\0';
                snprintf(want, sizeof want, "answer %u", i);
                assert_string_equal(buf, want);
                assert_int_equal(fromlen, sizeof from);
                assert_int_equal(from.sin_port, p->peer_addr.sin_port);
                assert_int_equal(from.sin_addr.s_addr, p->peer_addr.sin_addr.s_addr);
        }
        assert_int_equal(udp_batch_buffered(p->b), 0);
        assert_int_equal(udp_batch_recv(p->b, buf, sizeof buf, NULL, NULL), -EAGAIN);
}

static void test_recv_holds_a_burst_after_one_read(void **state) {
        Pair *p = *state;
        char buf[16];

        for (unsigned i = 0; i < 5; i++)
                peer_send(p, "r", 1);
        assert_true(readable(p->fd));
        /* Let all 5 arrive: loopback delivers synchronously, but be sure. */
        usleep(10 * 1000);
        assert_int_equal(udp_batch_recv(p->b, buf, sizeof buf, NULL, NULL), 1);
        assert_int_equal(udp_batch_buffered(p->b), 4);
        /* The socket is empty now: the other four came with the first read. */
        assert_true(recv(p->fd, buf, sizeof buf, MSG_DONTWAIT) < 0 && errno == EAGAIN);
        for (unsigned i = 0; i < 4; i++)
                assert_int_equal(udp_batch_recv(p->b, buf, sizeof buf, NULL, NULL), 1);
}

static void test_recv_truncates_like_recvfrom(void **state) {
        Pair *p = *state;
        char buf[8];

        peer_send(p, "0123456789", 10);
        peer_send(p, "", 0);
        assert_true(readable(p->fd));
        usleep(10 * 1000);
        memset(buf, 0, sizeof buf);
        assert_int_equal(udp_batch_recv(p->b, buf, 4, NULL, NULL), 4);
        assert_memory_equal(buf, "0123\0", 5);
        /* A zero-length datagram reads as 0, as from recvfrom(). */
        assert_int_equal(udp_batch_recv(p->b, buf, sizeof buf, NULL, NULL), 0);
}

/* A datagram to a closed port comes back as ICMP port unreachable: the socket
 * holds ECONNREFUSED, which the next send or receive reports. */
static void test_refused_is_reported_by_recv(void **state) {
        Pair *p = *state;
        char buf[16];
        ssize_t k;

        close(p->peer); /* nobody listens on the peer's port any more */
        p->peer = udp_socket();

        assert_int_equal(send_str(p->b, "q1"), 2);
        assert_int_equal(udp_batch_flush(p->b), 1);
        assert_true(readable(p->fd)); /* the ICMP error wakes readers */
        assert_int_equal(send_str(p->b, "q2"), 2);
        /* Either the flush reports the error (and keeps it for recv), or the
         * kernel already gave it up and recv reports it: both end in recv. */
        k = udp_batch_flush(p->b);
        assert_true(k == 1 || k == -ECONNREFUSED);
        if (k == 1)
                assert_true(readable(p->fd));
        assert_int_equal(udp_batch_recv(p->b, buf, sizeof buf, NULL, NULL), -ECONNREFUSED);
        /* Reported once. */
        assert_int_equal(udp_batch_recv(p->b, buf, sizeof buf, NULL, NULL), -EAGAIN);
}

/* Several datagrams to a closed port in one flush: the refusal the kernel
 * reports mid-batch must not be lost with sendmmsg()'s short count. */
static void test_refused_within_a_batch_is_kept(void **state) {
        Pair *p = *state;
        char buf[16];
        int k;

        close(p->peer);
        p->peer = udp_socket();

        for (unsigned i = 0; i < 3; i++)
                assert_int_equal(send_str(p->b, "qq"), 2);
        k = udp_batch_flush(p->b);
        assert_true(k == 3 || k == -ECONNREFUSED);
        assert_int_equal(udp_batch_error(p->b), -ECONNREFUSED);
        assert_int_equal(udp_batch_recv(p->b, buf, sizeof buf, NULL, NULL), -ECONNREFUSED);
        assert_int_equal(udp_batch_error(p->b), 0);
}

/* A send that finds the queue full flushes it; a refusal there is kept for the
 * caller's flush and recv, and the datagram is queued all the same. */
static void test_refusal_in_a_full_queue_flush_is_kept(void **state) {
        Pair *p = *state;
        char buf[16];

        close(p->peer);
        p->peer = udp_socket();
        assert_int_equal(send_str(p->b, "x"), 1);
        assert_int_equal(udp_batch_flush(p->b), 1);
        assert_true(readable(p->fd)); /* the ICMP error is on the socket */

        for (unsigned i = 0; i <= UDP_BATCH_MAX; i++)
                assert_int_equal(send_str(p->b, "qq"), 2);
        assert_int_equal(udp_batch_queued(p->b), 1);
        assert_int_equal(udp_batch_error(p->b), -ECONNREFUSED);
        assert_int_equal(udp_batch_recv(p->b, buf, sizeof buf, NULL, NULL), -ECONNREFUSED);
}

/* A short count from a transient refusal was kept as ECONNREFUSED, and c-ares gave up on a
 * server that was there: the rest goes out, nothing is kept, the answers are read. */
static void test_short_count_of_a_transient_refusal_keeps_no_error(void **state) {
        Pair *p = *state;
        char buf[16];

        for (unsigned i = 0; i < 3; i++)
                assert_int_equal(send_str(p->b, "qq"), 2);
        short_sends = 1;
        assert_int_equal(udp_batch_flush(p->b), 3);
        short_sends = 0;
        assert_int_equal(udp_batch_error(p->b), 0);
        for (unsigned i = 0; i < 3; i++)
                assert_int_equal(peer_recv(p, buf, sizeof buf), 2);
        peer_send(p, "answer", 6);
        assert_true(readable(p->fd));
        assert_int_equal(udp_batch_recv(p->b, buf, sizeof buf, NULL, NULL), 6);
}

static void test_new_rejects_bad_arguments(void **state) {
        UdpBatch *b = (UdpBatch *) 0x1;
        assert_int_equal(udp_batch_new(-1, &b), -EINVAL);
        assert_ptr_equal(b, (UdpBatch *) 0x1);
        assert_int_equal(udp_batch_new(3, NULL), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_send_waits_for_flush, setup, teardown),
                cmocka_unit_test_setup_teardown(test_send_joins_iovecs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_full_queue_is_flushed_by_next_send, setup, teardown),
                cmocka_unit_test_setup_teardown(test_large_datagram_goes_at_once_after_the_queue, setup, teardown),
                cmocka_unit_test_setup_teardown(test_free_drops_the_queue, setup, teardown),
                cmocka_unit_test_setup_teardown(test_recv_returns_each_datagram_then_eagain, setup, teardown),
                cmocka_unit_test_setup_teardown(test_recv_holds_a_burst_after_one_read, setup, teardown),
                cmocka_unit_test_setup_teardown(test_recv_truncates_like_recvfrom, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refused_is_reported_by_recv, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refused_within_a_batch_is_kept, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refusal_in_a_full_queue_flush_is_kept, setup, teardown),
                cmocka_unit_test_setup_teardown(test_short_count_of_a_transient_refusal_keeps_no_error, setup,
                                                teardown),
                cmocka_unit_test(test_new_rejects_bad_arguments),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
