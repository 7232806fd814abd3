/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* notify-send.c: send DNS NOTIFYs, good and faulty, to a listener on loopback and report the rcodes (tests). */
#include <arpa/inet.h>
#include <getopt.h>
#include <poll.h>
#include <sys/socket.h>

#include "notify-wire.h"
#include "util.h"

/* What has come back so far. */
typedef struct Answers {
        uint8_t in[65536 + 2];
        size_t have;                    /* TCP: bytes of in not yet taken as whole answers */
        long n, rcodes[16];
} Answers;

/* Takes r bytes just received into a->in + a->have: one answer (UDP), or each whole framed one (TCP). */
static void answers_take(Answers *a, size_t r, bool tcp) {
        if (!tcp) {
                if (r >= 4)
                        a->rcodes[a->in[3] & 0x0f]++, a->n++;
                return;
        }
        a->have += r;
        while (a->have >= 2 && a->have >= 2 + ((size_t) a->in[0] << 8 | a->in[1])) {
                size_t l = (size_t) a->in[0] << 8 | a->in[1];
                if (l >= 4)
                        a->rcodes[a->in[2 + 3] & 0x0f]++, a->n++;
                memmove(a->in, a->in + 2 + l, a->have - 2 - l);
                a->have -= 2 + l;
        }
}

/*
 * Usage: notify-send [OPTIONS] ADDRESS PORT ZONE
 *   --tcp             over TCP (one connection, messages one after another)
 *   --key=NAME:ALG:SECRET   sign with this TSIG key
 *   --serial=N        carry the SOA serial N in the answer section
 *   --count=N         send N messages (default 1); with UDP, all first, then collect answers
 *   --opcode=N        replace the opcode (0 QUERY, 5 UPDATE, ...)
 *   --truncate=N      send only the first N bytes
 *   --oversize=N      pad the message with N bytes after its end
 *   --corrupt         flip a bit in the signed part (after signing)
 *   --wait-ms=N       how long to wait for answers (default 2000)
 *   --source=ADDRESS  send from this IPv4 address (e.g. 127.0.0.2, for notify-allow)
 *   --rate=N          at most N messages per second (default: as fast as it can)
 * Prints "sent N answers M" and then "rcode R: K" for each rcode seen.
 * Exit 0 when it could send; answers are the caller's to judge.
 */
int main(int argc, char **argv) {
        enum { ARG_TCP = 0x100, ARG_KEY, ARG_SERIAL, ARG_COUNT, ARG_OPCODE, ARG_TRUNCATE, ARG_OVERSIZE, ARG_CORRUPT, ARG_WAIT, ARG_SOURCE, ARG_RATE };
        static const struct option options[] = {
                { "tcp", no_argument, NULL, ARG_TCP },           { "key", required_argument, NULL, ARG_KEY },
                { "serial", required_argument, NULL, ARG_SERIAL }, { "count", required_argument, NULL, ARG_COUNT },
                { "opcode", required_argument, NULL, ARG_OPCODE }, { "truncate", required_argument, NULL, ARG_TRUNCATE },
                { "oversize", required_argument, NULL, ARG_OVERSIZE }, { "corrupt", no_argument, NULL, ARG_CORRUPT },
                { "wait-ms", required_argument, NULL, ARG_WAIT }, { "source", required_argument, NULL, ARG_SOURCE },
                { "rate", required_argument, NULL, ARG_RATE },
                {},
        };
        bool tcp = false, with_serial = false, corrupt = false;
        NotifyKey key;
        bool with_key = false;
        uint32_t serial = 0;
        long rate = 0, count = 1, opcode = -1, truncate_to = -1, oversize = 0, wait_ms = 2000;
        const char *what, *source = NULL;
        int c;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case ARG_TCP: tcp = true; break;
                case ARG_KEY:
                        if (notify_key_parse(optarg, &key, &what) < 0) {
                                fprintf(stderr, "notify-send: bad key: %s\n", what);
                                return 2;
                        }
                        with_key = true;
                        break;
                case ARG_SERIAL: with_serial = true; serial = (uint32_t) strtoul(optarg, NULL, 10); break;
                case ARG_COUNT: count = strtol(optarg, NULL, 10); break;
                case ARG_OPCODE: opcode = strtol(optarg, NULL, 10); break;
                case ARG_TRUNCATE: truncate_to = strtol(optarg, NULL, 10); break;
                case ARG_OVERSIZE: oversize = strtol(optarg, NULL, 10); break;
                case ARG_CORRUPT: corrupt = true; break;
                case ARG_WAIT: wait_ms = strtol(optarg, NULL, 10); break;
                case ARG_SOURCE: source = optarg; break;
                case ARG_RATE: rate = strtol(optarg, NULL, 10); break;
                default: return 2;
                }
        if (argc - optind != 3 || count < 1 || oversize < 0 || oversize > 65000) {
                fprintf(stderr, "usage: notify-send [OPTIONS] ADDRESS PORT ZONE\n");
                return 2;
        }
        struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t) atoi(argv[optind + 1])) };
        if (inet_pton(AF_INET, argv[optind], &to.sin_addr) != 1) {
                fprintf(stderr, "notify-send: IPv4 address expected\n");
                return 2;
        }
        _cleanup_close_ int fd = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
        struct sockaddr_in from = { .sin_family = AF_INET };
        if (source && (inet_pton(AF_INET, source, &from.sin_addr) != 1 ||
                       bind(fd, (struct sockaddr *) &from, sizeof from) < 0)) {
                fprintf(stderr, "notify-send: cannot send from %s: %s\n", source, strerror(errno));
                return 2;
        }
        if (fd < 0 || connect(fd, (struct sockaddr *) &to, sizeof to) < 0) {
                fprintf(stderr, "notify-send: connect: %s\n", strerror(errno));
                return 2;
        }
        if (!tcp) {
                int sz = 4 << 20;
                (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
        }

        static Answers a;
        long sent = 0;
        uint64_t end = 0, start = now_usec(CLOCK_MONOTONIC);
        for (long i = 0; i < count; i++) {
                if (rate > 0) {
                        uint64_t due = start + (uint64_t) i * USEC_PER_SEC / (uint64_t) rate, now = now_usec(CLOCK_MONOTONIC);
                        if (due > now)
                                (void) nanosleep(&(struct timespec) { 0, (long) ((due - now) * 1000) }, NULL);
                }
                _cleanup_free_ uint8_t *pkt = NULL;
                size_t len;
                if (notify_wire_build((uint16_t) i, argv[optind + 2], with_serial, serial, with_key ? &key : NULL, &pkt,
                                      &len) < 0) {
                        fprintf(stderr, "notify-send: cannot build the NOTIFY\n");
                        return 2;
                }
                uint8_t *m = realloc(pkt, len + (size_t) oversize + 2);
                if (!m)
                        return 2;
                pkt = m;
                memset(pkt + len, 0xab, (size_t) oversize);
                len += (size_t) oversize;
                if (opcode >= 0)
                        pkt[2] = (uint8_t) ((pkt[2] & 0x87) | (opcode & 0x0f) << 3);
                if (corrupt)
                        pkt[len / 2] ^= 0x01;
                if (truncate_to >= 0 && (size_t) truncate_to < len)
                        len = (size_t) truncate_to;
                ssize_t n;
                if (tcp) {
                        uint8_t hdr[2] = { (uint8_t) (len >> 8), (uint8_t) len };
                        n = send(fd, hdr, 2, MSG_NOSIGNAL) == 2 ? send(fd, pkt, len, MSG_NOSIGNAL) : -1;
                } else
                        n = send(fd, pkt, len, 0);
                if (n == (ssize_t) len)
                        sent++;
                /* With UDP, read what came back meanwhile so the socket buffer never overflows. */
                for (;;) {
                        ssize_t r = recv(fd, a.in + a.have, sizeof a.in - a.have, MSG_DONTWAIT);
                        if (r <= 0)
                                break;
                        answers_take(&a, (size_t) r, tcp);
                }
        }
        end = now_usec(CLOCK_MONOTONIC) + (uint64_t) wait_ms * USEC_PER_MSEC;
        while (a.n < sent) {
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                if (now >= end)
                        break;
                struct pollfd p = { fd, POLLIN, 0 };
                if (poll(&p, 1, (int) ((end - now) / USEC_PER_MSEC) + 1) <= 0)
                        break;
                ssize_t r = recv(fd, a.in + a.have, sizeof a.in - a.have, 0);
                if (r <= 0)
                        break;
                answers_take(&a, (size_t) r, tcp);
        }
        printf("sent %ld answers %ld\n", sent, a.n);
        for (int i = 0; i < 16; i++)
                if (a.rcodes[i])
                        printf("rcode %d: %ld\n", i, a.rcodes[i]);
        notify_key_wipe(&key);
        return 0;
}
