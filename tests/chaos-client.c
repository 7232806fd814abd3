/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* chaos-client.c: test client that picks and snapshots continuously and checks every answer against the published universe. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <dnsdisc.h>

/*
 * chaos-client CACHE SECONDS N_SERVICES PORT_BASE
 *
 * The universe (tests/test-chaos.sh writes its zones by the same rule):
 * service "s<I>" (I < N_SERVICES <= 256) at version V is the SRV set of
 * nb(I, V) = 1 + (I + V) % 4 backends, backend B (1..nb) being address
 * 127.1.I.B, port PORT_BASE + V, priority 1, weight B, target
 * "b<B>.s<I>.c.test". A pick is valid if it lies in the universe for some
 * version; a snapshot if it is exactly one version's set; and versions of a
 * service never go back in time (the zone only moves forward).
 *
 * chaos-client --dump CACHE N_SERVICES PORT_BASE
 *
 * Prints "writer_pid=PID" then "s<I> VERSION STATE NEXT_MS" per service
 * (NEXT_MS: when the daemon plans its next query, from now; "-" and the
 * error instead when it cannot be read), and exits 1 if any set is not
 * exactly one version's.
 *
 * chaos-client CACHE SECONDS N_SERVICES PORT_BASE [STOP_FILE]
 *
 * Picks and snapshots for SECONDS (or until STOP_FILE exists,
 * looked for every 20 ms, so a test can end it once its steps are done
 * however long a loaded machine made them), then prints one line of
 * counts and a line "last V0 V1 ..." of the newest version seen of each
 * service (-1: none). Exits 0; 1 if any answer was outside the universe,
 * torn, went back in time, or failed with an error other than -EAGAIN,
 * -ESRCH or -ESTALE (which a restarting writer may cause: those are
 * counted); 2 on usage errors; 3 if the cache or a service could not be
 * found within 5 s.
 */

#define PICKS_PER_ROUND 8
#define REPORT_MAX 5
#define NOT_ONE_VERSION INT_MIN /* check_snapshot(): a set no version has */

typedef struct Counts {
        uint64_t picks, snapshots, targets;
        uint64_t invalid, torn, backwards;
        uint64_t eagain, esrch, estale, other;
        uint64_t version_changes, writer_pids, rounds;
        uint64_t max_step_usec;
} Counts;

static unsigned port_base, n_services;
static unsigned reported;

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static unsigned set_size(unsigned service, unsigned version) {
        return 1 + (service + version) % 4;
}

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...) {
        va_list ap;

        if (reported++ >= REPORT_MAX)
                return;
        va_start(ap, fmt);
        fputs("chaos-client: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
}

/* The version and backend number an address names for service i, or false if in no version. */
static bool in_universe(unsigned i, const struct sockaddr *sa, socklen_t len, uint16_t port, unsigned *ret_version,
                        unsigned *ret_backend) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *) sa;
        uint32_t a;
        unsigned v, b;

        if (sa->sa_family != AF_INET || len != sizeof(*sin) || ntohs(sin->sin_port) != port || port < port_base)
                return false;
        a = ntohl(sin->sin_addr.s_addr);
        v = port - port_base;
        b = a & 0xff;
        if ((a >> 8) != (127u << 16 | 1u << 8 | i) || b < 1 || b > set_size(i, v))
                return false;
        *ret_version = v;
        *ret_backend = b;
        return true;
}

static void count_error(Counts *c, int r, const char *what, unsigned i) {
        switch (r) {
        case -EAGAIN:
                c->eagain++;
                break;
        case -ESRCH:
                c->esrch++;
                break;
        case -ESTALE:
                c->estale++;
                break;
        default:
                c->other++;
                report("%s s%u: %s", what, i, dnsdisc_strerror(r));
        }
}

/* A version seen for service i: count changes, flag a step back. */
static void saw_version(Counts *c, unsigned i, unsigned v, int *last) {
        if (last[i] >= 0 && (int) v < last[i]) {
                c->backwards++;
                report("s%u: version %u after version %d", i, v, last[i]);
        }
        if (last[i] >= 0 && (int) v > last[i])
                c->version_changes++;
        if ((int) v > last[i])
                last[i] = (int) v;
}

static void check_pick(Counts *c, dnsdisc_service *s, unsigned i, bool random, int *last) {
        dnsdisc_endpoint e;
        char target[DNSDISC_TARGET_MAX], want[64], text[80];
        unsigned v, b;
        int r;

        r = random ? dnsdisc_pick_random(s, &e) : dnsdisc_pick(s, &e);
        c->picks++;
        if (r < 0) {
                count_error(c, r, "pick", i);
                return;
        }
        if (!in_universe(i, &e.addr.sa, e.addrlen, e.port, &v, &b)) {
                c->invalid++;
                if (dnsdisc_endpoint_format(&e, text, sizeof(text)) < 0)
                        strcpy(text, "(unprintable)");
                report("pick s%u: %s is in no published set", i, text);
                return;
        }
        saw_version(c, i, v, last);

        /* Once in a while, the name behind the endpoint: it must be that address's. */
        if (c->picks % 16 != 0)
                return;
        r = dnsdisc_endpoint_target(&e, target, sizeof(target));
        c->targets++;
        if (r < 0) {
                count_error(c, r, "target", i);
                return;
        }
        snprintf(want, sizeof(want), "b%u.s%u.c.test", b, i);
        if (strcmp(target, want) != 0) {
                c->invalid++;
                report("target s%u: %s for backend %u", i, target, b);
        }
}

/* Returns the snapshot's version, the library's negative errno, or NOT_ONE_VERSION (counted as torn). */
static int check_snapshot(Counts *c, dnsdisc_service *s, unsigned i, dnsdisc_backend *bs, int *last,
                          dnsdisc_service_info *ret_info) {
        dnsdisc_service_info info;
        unsigned version = 0, seen = 0;
        char want[64];
        int n;

        n = dnsdisc_snapshot(s, &info, bs, DNSDISC_BACKENDS_MAX);
        c->snapshots++;
        if (n < 0) {
                count_error(c, n, "snapshot", i);
                return n;
        }
        for (int k = 0; k < n; k++) {
                unsigned v, b;

                if (!in_universe(i, &bs[k].addr.sa, bs[k].addrlen, bs[k].port, &v, &b) || (k > 0 && v != version) ||
                    (seen & 1u << b) || bs[k].weight != b || bs[k].priority != 1 ||
                    bs[k].source != DNSDISC_SOURCE_SRV) {
                        c->torn++;
                        report("snapshot s%u: backend %d (port %u, weight %u) is not of version %u's set", i, k,
                               bs[k].port, bs[k].weight, version);
                        return NOT_ONE_VERSION;
                }
                snprintf(want, sizeof(want), "b%u.s%u.c.test", b, i);
                if (strcmp(bs[k].target, want) != 0) {
                        c->torn++;
                        report("snapshot s%u: backend %d has target %s, not %s", i, k, bs[k].target, want);
                        return NOT_ONE_VERSION;
                }
                version = v;
                seen |= 1u << b;
        }
        if (n == 0 || (unsigned) n != set_size(i, version) || info.n_backends != (uint32_t) n) {
                c->torn++;
                report("snapshot s%u: %d backends (info says %u), version %u has %u", i, n, info.n_backends, version,
                       set_size(i, version));
                return NOT_ONE_VERSION;
        }
        saw_version(c, i, version, last);
        if (ret_info)
                *ret_info = info;
        return (int) version;
}

/* One line per service: its version and state, as a snapshot reads them. */
static int dump(dnsdisc *d, dnsdisc_backend *bs, int *last) {
        dnsdisc_daemon_info di;
        Counts c = {};
        int ret = 0;

        if (dnsdisc_daemon_info_get(d, &di) >= 0)
                printf("writer_pid=%" PRIu32 "\n", di.pid);
        for (unsigned i = 0; i < n_services; i++) {
                dnsdisc_service_info info;
                dnsdisc_service *s;
                char name[16];
                int r;

                snprintf(name, sizeof(name), "s%u", i);
                /* -EAGAIN means "try again" (libdnsdisc(3)): a writer descheduled in the middle of a
                 * change holds every reader's 1000 attempts, as the restarted daemon's first round can. */
                for (uint64_t give_up = now_usec() + 3000000;;) {
                        r = dnsdisc_service_get(d, name, &s);
                        if (r >= 0)
                                r = check_snapshot(&c, s, i, bs, last, &info);
                        if (r != -EAGAIN || now_usec() > give_up)
                                break;
                        usleep(1000);
                }
                if (r >= 0) {
                        struct timespec ts;
                        int64_t now;

                        clock_gettime(CLOCK_REALTIME, &ts);
                        now = (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
                        printf("%s %d %s %" PRId64 "\n", name, r, dnsdisc_state_name(info.state),
                               info.next_refresh_usec ? (info.next_refresh_usec - now) / 1000 : 0);
                } else
                        printf("%s - %s\n", name, r == NOT_ONE_VERSION ? "inconsistent" : dnsdisc_strerror(r));
                if (r == NOT_ONE_VERSION)
                        ret = 1;
        }
        return ret;
}

int main(int argc, char **argv) {
        static dnsdisc_backend backends[DNSDISC_BACKENDS_MAX];
        dnsdisc_service **services = NULL;
        dnsdisc *d = NULL;
        Counts c = {};
        uint64_t start, deadline, next_info = 0;
        uint32_t last_pid = 0;
        int *last = NULL, r, ret = 3;
        double seconds = 0;
        bool dump_only = argc == 5 && strcmp(argv[1], "--dump") == 0;
        const char *stop_file = argc == 6 ? argv[5] : NULL;

        if (argc != 5 && argc != 6) {
                fprintf(stderr, "usage: chaos-client CACHE SECONDS N_SERVICES PORT_BASE [STOP_FILE]\n"
                                "       chaos-client --dump CACHE N_SERVICES PORT_BASE\n");
                return 2;
        }
        if (dump_only)
                argv++;
        else
                seconds = atof(argv[2]);
        n_services = (unsigned) atoi(argv[3 - dump_only]);
        port_base = (unsigned) atoi(argv[4 - dump_only]);
        if ((!dump_only && seconds <= 0) || n_services == 0 || n_services > 256 || port_base == 0 ||
            port_base > 65535)
                return 2;
        services = calloc(n_services, sizeof(*services));
        last = malloc(n_services * sizeof(*last));
        if (!services || !last)
                goto done;
        for (unsigned i = 0; i < n_services; i++)
                last[i] = -1;

        start = now_usec();
        for (;;) {
                r = dnsdisc_open(argv[1], &d);
                if (r >= 0 || dump_only || now_usec() - start >= 5000000)
                        break;
                nanosleep(&(struct timespec) { .tv_nsec = 20000000 }, NULL);
        }
        if (r < 0) {
                fprintf(stderr, "chaos-client: %s: %s\n", argv[1], dnsdisc_strerror(r));
                goto done;
        }
        if (dump_only) {
                ret = dump(d, backends, last);
                goto done;
        }
        for (unsigned i = 0; i < n_services; i++) {
                char name[16];

                snprintf(name, sizeof(name), "s%u", i);
                for (r = -ESRCH; r < 0 && now_usec() - start < 5000000;) {
                        r = dnsdisc_service_get(d, name, &services[i]);
                        if (r < 0)
                                nanosleep(&(struct timespec) { .tv_nsec = 20000000 }, NULL);
                }
                if (r < 0) {
                        fprintf(stderr, "chaos-client: %s: %s\n", name, dnsdisc_strerror(r));
                        goto done;
                }
        }

        start = now_usec();
        deadline = start + (uint64_t) (seconds * 1e6);
        for (uint64_t t = start; t < deadline; c.rounds++) {
                for (unsigned i = 0; i < n_services; i++) {
                        uint64_t t0 = now_usec(), dt;

                        for (unsigned k = 0; k < PICKS_PER_ROUND; k++)
                                check_pick(&c, services[i], i, k & 1, last);
                        (void) check_snapshot(&c, services[i], i, backends, last, NULL);
                        t = now_usec();
                        dt = t - t0;
                        if (dt > c.max_step_usec)
                                c.max_step_usec = dt;
                }
                /* Leave the writer some CPU on small machines: a pause per round, not per call. */
                nanosleep(&(struct timespec) { .tv_nsec = 200000 }, NULL);
                /* Which writer the file says it has: restarts show up as new pids. */
                if (t >= next_info) {
                        dnsdisc_daemon_info info;

                        if (dnsdisc_daemon_info_get(d, &info) >= 0 && info.pid != last_pid) {
                                last_pid = info.pid;
                                c.writer_pids++;
                        }
                        next_info = t + 20000;
                        if (stop_file && access(stop_file, F_OK) == 0)
                                break;
                }
        }

        printf("picks=%" PRIu64 " snapshots=%" PRIu64 " targets=%" PRIu64 " invalid=%" PRIu64 " torn=%" PRIu64
               " backwards=%" PRIu64 " eagain=%" PRIu64 " esrch=%" PRIu64 " estale=%" PRIu64 " other=%" PRIu64
               " version_changes=%" PRIu64 " writer_pids=%" PRIu64 " rounds=%" PRIu64 " max_step_us=%" PRIu64 "\n",
               c.picks, c.snapshots, c.targets, c.invalid, c.torn, c.backwards, c.eagain, c.esrch, c.estale, c.other,
               c.version_changes, c.writer_pids, c.rounds, c.max_step_usec);
        /* The newest version seen of each service: a client left behind on a dead file shows here. */
        fputs("last", stdout);
        for (unsigned i = 0; i < n_services; i++)
                printf(" %d", last[i]);
        putchar('\n');
        ret = c.invalid || c.torn || c.backwards || c.other ? 1 : 0;
done:
        dnsdisc_close(d);
        free(services);
        free(last);
        return ret;
}
