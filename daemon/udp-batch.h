/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udp-batch.h: a connected UDP socket's datagrams sent with one sendmmsg() and received with one recvmmsg() per burst. */
#pragma once

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

/*
 * One per non-blocking, connected UDP socket. The batch does not own the fd:
 * the caller closes it after udp_batch_free(). Queued datagrams are copies.
 *
 * Why: a cold start sends and receives one datagram per service, and one
 * syscall per datagram was a fifth of the daemon's CPU time.
 */
typedef struct UdpBatch UdpBatch;

/* Maximum datagrams per sendmmsg()/recvmmsg(); a full send queue is flushed. */
#define UDP_BATCH_MAX 64
/* Datagrams up to this size are queued; larger ones are sent at once. */
#define UDP_BATCH_SEND_SIZE 512
/* Each received datagram gets this much room; longer ones are truncated, as
 * recvfrom() into a buffer of that size would. */
#define UDP_BATCH_RECV_SIZE 4097

int udp_batch_new(int fd, UdpBatch **ret);
/* Drops what is queued or buffered. Accepts NULL. */
UdpBatch *udp_batch_free(UdpBatch *b);
int udp_batch_fd(const UdpBatch *b);

/*
 * Queue one datagram made of iov[0..n). Returns its length, or a negative
 * errno: a datagram over UDP_BATCH_SEND_SIZE is sent at once with sendmsg(),
 * after the queue, and its own error returned as is. A full queue is flushed
 * first. Errors of those flushes are kept as udp_batch_flush() keeps them.
 */
ssize_t udp_batch_send(UdpBatch *b, const struct iovec *iov, int n);

/*
 * Send the queue. Returns the number of datagrams sent (0 when empty), or a
 * negative errno. The queue is empty afterwards either way. When the kernel
 * refuses a datagram for a transient reason (-EAGAIN, -ENOBUFS, -ENOMEM)
 * the rest is dropped, as the network could have dropped it, and that errno
 * is returned; any other error (-ECONNREFUSED from an ICMP error, say) is
 * also kept for udp_batch_recv() to report, since the sender of those
 * datagrams learns of failures by reading, as with a plain socket.
 */
int udp_batch_flush(UdpBatch *b);
/* The kept error (negative errno) that udp_batch_recv() will report next, or 0. */
int udp_batch_error(const UdpBatch *b);
/* Datagrams queued and not yet sent. */
size_t udp_batch_queued(const UdpBatch *b);

/*
 * The next datagram, as recvfrom(fd, buf, size, MSG_DONTWAIT, from,
 * fromlen) would return it: its length (truncated to size), or a negative
 * errno (-EAGAIN when nothing is waiting). A kept flush error is returned
 * first, once. from and fromlen may be NULL.
 */
ssize_t udp_batch_recv(UdpBatch *b, void *buf, size_t size, struct sockaddr *from, socklen_t *fromlen);
/* Datagrams read from the socket and not yet returned by udp_batch_recv(). */
size_t udp_batch_buffered(const UdpBatch *b);
