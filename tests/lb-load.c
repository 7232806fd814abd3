/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lb-load.c: serves slow and fast TCP backends on loopback and sends them requests picked by a libdnsdisc policy, for test-lb.sh. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dnsdisc.h"

/*
 * Usage: lb-load CACHE SERVICE least|rr REQUESTS THREADS PORT:DELAY_MS...
 *
 * Listens on 127.0.0.1:PORT for each PORT:DELAY_MS: a request is one byte,
 * answered with one byte after DELAY_MS milliseconds, one thread per
 * connection. Then THREADS threads send REQUESTS requests in all, each to an
 * endpoint of SERVICE picked with dnsdisc_pick_least() (released when the
 * answer came) or dnsdisc_pick(), and it prints "PORT COUNT MEAN_USEC" per listener (the mean
 * time of its requests as the clients saw them: connect, request, answer).
 * Exits 1 on any error: a request that fails is not counted silently.
 */

#define LISTENERS_MAX 8

typedef struct Listener {
        int fd;
        uint16_t port;
        unsigned delay_ms;
        atomic_uint served;
        atomic_ullong usec;             /* request times as the clients saw them, summed */
} Listener;

static Listener listeners[LISTENERS_MAX];
static size_t n_listeners;
static dnsdisc_service *service;
static bool least;
static atomic_int left;

static void fail(const char *what, int err) {
        fprintf(stderr, "lb-load: %s: %s\n", what, strerror(err));
        exit(1);
}

typedef struct Conn {
        int fd;
        unsigned delay_ms;
} Conn;

static void *serve_conn(void *arg) {
        Conn c = *(Conn *) arg;
        struct timespec ts = { c.delay_ms / 1000, (long) (c.delay_ms % 1000) * 1000000 };
        char b;

        free(arg);
        if (read(c.fd, &b, 1) == 1) {
                nanosleep(&ts, NULL);
                (void) !write(c.fd, &b, 1);
        }
        close(c.fd);
        return NULL;
}

static void *serve(void *arg) {
        Listener *l = arg;

        for (;;) {
                int fd = accept(l->fd, NULL, NULL);
                pthread_t t;
                Conn *c;

                if (fd < 0)
                        continue;
                c = malloc(sizeof *c);
                if (!c)
                        fail("malloc", ENOMEM);
                *c = (Conn) { fd, l->delay_ms };
                if (pthread_create(&t, NULL, serve_conn, c) != 0)
                        fail("pthread_create", EAGAIN);
                pthread_detach(t);
        }
        return NULL;
}

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static void *client(void *arg) {
        (void) arg;
        while (atomic_fetch_sub(&left, 1) > 0) {
                dnsdisc_endpoint e;
                uint64_t t0;
                char b = 'x';
                int fd, r;

                r = least ? dnsdisc_pick_least(service, &e) : dnsdisc_pick(service, &e);
                if (r < 0)
                        fail("pick", -r);
                t0 = now_usec();
                fd = socket(e.addr.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        fail("socket", errno);
                if (connect(fd, &e.addr.sa, e.addrlen) < 0)
                        fail("connect", errno);
                if (write(fd, &b, 1) != 1 || read(fd, &b, 1) != 1)
                        fail("request", errno ? errno : EIO);
                close(fd);
                for (size_t i = 0; i < n_listeners; i++)
                        if (listeners[i].port == e.port) {
                                atomic_fetch_add(&listeners[i].served, 1);
                                atomic_fetch_add(&listeners[i].usec, now_usec() - t0);
                        }
                if (least && (r = dnsdisc_release(&e)) < 0)
                        fail("dnsdisc_release", -r);
        }
        return NULL;
}

int main(int argc, char **argv) {
        pthread_t threads[64], t;
        unsigned n_threads;
        dnsdisc *d;
        int r;

        if (argc < 7 || argc - 6 > LISTENERS_MAX) {
                fprintf(stderr, "usage: lb-load CACHE SERVICE least|rr REQUESTS THREADS PORT:DELAY_MS...\n");
                return 2;
        }
        least = strcmp(argv[3], "least") == 0;
        atomic_store(&left, atoi(argv[4]));
        n_threads = (unsigned) atoi(argv[5]);
        if (n_threads < 1 || n_threads > 64)
                fail("THREADS", EINVAL);
        for (int i = 6; i < argc; i++) {
                Listener *l = &listeners[n_listeners++];
                struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
                int one = 1;

                if (sscanf(argv[i], "%hu:%u", &l->port, &l->delay_ms) != 2)
                        fail(argv[i], EINVAL);
                sin.sin_port = htons(l->port);
                l->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (l->fd < 0 || setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
                    bind(l->fd, (struct sockaddr *) &sin, sizeof sin) < 0 || listen(l->fd, 256) < 0)
                        fail("listen", errno);
                if (pthread_create(&t, NULL, serve, l) != 0)
                        fail("pthread_create", EAGAIN);
        }
        r = dnsdisc_open(argv[1], &d);
        if (r < 0)
                fail("dnsdisc_open", -r);
        r = dnsdisc_service_get(d, argv[2], &service);
        if (r < 0)
                fail("dnsdisc_service_get", -r);
        for (unsigned i = 0; i < n_threads; i++)
                if (pthread_create(&threads[i], NULL, client, NULL) != 0)
                        fail("pthread_create", EAGAIN);
        for (unsigned i = 0; i < n_threads; i++)
                pthread_join(threads[i], NULL);
        for (size_t i = 0; i < n_listeners; i++) {
                unsigned n = atomic_load(&listeners[i].served);
                printf("%u %u %llu\n", listeners[i].port, n, n ? atomic_load(&listeners[i].usec) / n : 0);
        }
        dnsdisc_close(d);
        return 0;
}
