/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pick-connect.c: example libdnsdisc client: pick an endpoint, connect, fail over on refusal. */

/*
 * Build against an installed libdnsdisc:
 *
 *     cc -o pick-connect pick-connect.c $(pkg-config --cflags --libs dnsdisc)
 *
 * Usage: pick-connect [-c CACHE] [-n CONNECTIONS] SERVICE
 *
 * Makes CONNECTIONS connections (default 1) to SERVICE. Each one takes up to
 * MAX_ATTEMPTS picks: an endpoint that refuses the connection is reported
 * failed, which keeps this process's next picks away from it for a while,
 * and the next pick is tried. One line per attempt on stdout:
 *
 *     connected 127.0.0.1:8080
 *     failed [::1]:8081: Connection refused
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <dnsdisc.h>

#define MAX_ATTEMPTS 3

/* Connect to e; returns a socket, or -errno. */
static int connect_endpoint(const dnsdisc_endpoint *e) {
        /* connect() gives up after this long instead of the kernel's two
         * minutes: on Linux SO_SNDTIMEO bounds a blocking connect(). */
        const struct timeval timeout = { .tv_sec = 2 };
        int fd, r;

        fd = socket(e->addr.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout) < 0 ||
            connect(fd, &e->addr.sa, e->addrlen) < 0) {
                r = errno == EINPROGRESS ? -ETIMEDOUT : -errno;
                close(fd);
                return r;
        }
        return fd;
}

/* One connection to s, trying up to MAX_ATTEMPTS endpoints. Returns a socket or -errno. */
static int connect_service(dnsdisc_service *s) {
        int r = -EHOSTUNREACH;

        for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
                dnsdisc_endpoint e;
                char name[64];
                int fd;

                r = dnsdisc_pick(s, &e);
                if (r < 0)
                        return r;
                r = dnsdisc_endpoint_format(&e, name, sizeof name);
                if (r < 0)
                        return r;

                fd = connect_endpoint(&e);
                if (fd >= 0) {
                        /* Ends an earlier quarantine of this endpoint at once. */
                        dnsdisc_report_success(&e);
                        printf("connected %s\n", name);
                        return fd;
                }
                printf("failed %s: %s\n", name, strerror(-fd));
                r = fd;
                /* Refused or unreachable: the endpoint is down, not the
                 * network in general, so steer the next picks away from it. */
                if (fd == -ECONNREFUSED || fd == -ETIMEDOUT || fd == -EHOSTUNREACH)
                        dnsdisc_report_failure(&e);
        }
        return r;
}

int main(int argc, char **argv) {
        const char *cache = NULL; /* NULL: $DNSDISC_CACHE, else the default path */
        long connections = 1;
        dnsdisc *d = NULL;
        dnsdisc_service *s;
        int opt, r, status = EXIT_FAILURE;

        while ((opt = getopt(argc, argv, "c:n:")) >= 0) {
                switch (opt) {
                case 'c':
                        cache = optarg;
                        break;
                case 'n':
                        connections = strtol(optarg, NULL, 10);
                        break;
                default:
                        goto usage;
                }
        }
        if (optind != argc - 1 || connections < 1 || connections > 1000)
                goto usage;

        r = dnsdisc_open(cache, &d);
        if (r < 0) {
                fprintf(stderr, "pick-connect: cache: %s\n", dnsdisc_strerror(r));
                return EXIT_FAILURE;
        }
        /* The handle stays valid as the daemon updates the service: look it up once. */
        r = dnsdisc_service_get(d, argv[optind], &s);
        if (r < 0) {
                fprintf(stderr, "pick-connect: %s: %s\n", argv[optind], dnsdisc_strerror(r));
                goto done;
        }

        for (long i = 0; i < connections; i++) {
                int fd = connect_service(s);
                if (fd < 0) {
                        fprintf(stderr, "pick-connect: %s: %s\n", argv[optind], dnsdisc_strerror(fd));
                        goto done;
                }
                /* A real client would talk to the server here. */
                close(fd);
        }
        status = EXIT_SUCCESS;
done:
        dnsdisc_close(d);
        return status;

usage:
        fprintf(stderr, "Usage: pick-connect [-c CACHE] [-n CONNECTIONS] SERVICE\n");
        return 2;
}
