/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* checkserver.c: a TCP/HTTP server on loopback with faults switchable at run time, for the health-check tests. */

/*
 * checkserver [-v] [-c CONTROLFILE] LISTEN...
 *
 * LISTEN is ADDR:PORT with ADDR in 127.0.0.0/8, or [::1]:PORT. Each listener
 * has a mode, "ok" unless CONTROLFILE says otherwise:
 *   ok          HTTP/1.1 200 to a request with a Host header (400 without);
 *               a TCP check just connects and closes, which is served too
 *   500         HTTP/1.1 500 to any request
 *   hang        accept, read, never answer
 *   close       accept and close at once
 *   hugeheader  after the request, a status line start and 64 KiB with no CRLF
 *   down        no listening socket: connections are refused
 * CONTROLFILE holds lines "ADDR:PORT MODE" or "* MODE", applied in file order
 * over "* ok" ('#' starts a comment). It is re-read when its mtime, size or
 * inode changes (write a new file and rename(2) it into place); each load
 * prints "reloaded N" on stdout, N counting loads, so a test knows when its
 * change is in force. A mode applies to connections accepted after the load.
 * Prints "ready" on stdout once every listener is up; -v logs one line per
 * connection on stderr. Exits on SIGTERM or SIGINT.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define LISTENERS_MAX 8192
#define CONNS_MAX 16384
#define REQUEST_MAX 4096
#define HUGE_HEADER_SIZE (64 * 1024)
#define CONTROL_POLL_MSEC 20    /* how often the control file is looked at */
#define CONN_IDLE_MSEC 120000   /* a peer gone silent loses its connection */

typedef enum Mode { MODE_OK, MODE_500, MODE_HANG, MODE_CLOSE, MODE_HUGEHEADER, MODE_DOWN, _MODE_MAX } Mode;

static const char *const mode_names[_MODE_MAX] = {
        [MODE_OK] = "ok",       [MODE_500] = "500",  [MODE_HANG] = "hang",
        [MODE_CLOSE] = "close", [MODE_HUGEHEADER] = "hugeheader", [MODE_DOWN] = "down",
};

typedef struct Listener {
        union {
                struct sockaddr sa;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        } addr;
        socklen_t addr_len;
        char name[64];          /* "127.0.0.1:8080", "[::1]:8080": the control file's spelling */
        Mode mode;
        int fd;                 /* -1 while down */
} Listener;

typedef struct Conn {
        int fd;
        Listener *listener;
        Mode mode;              /* as when accepted */
        char in[REQUEST_MAX + 1]; /* NUL-terminated */
        size_t in_len;
        const char *out;        /* static reply; never freed */
        size_t out_len, out_off;
        bool complete;          /* the request is in: later input is discarded */
        const char *answer;     /* for the log: what the request got */
        uint64_t last_ms;
} Conn;

typedef struct Server {
        Listener *listeners;
        size_t n_listeners;
        Conn *conns;
        size_t n_conns;
        const char *control_path;
        struct timespec control_mtime;
        ino_t control_ino;
        off_t control_size;
        bool control_seen;
        unsigned loads;
        bool verbose;
} Server;

static volatile sig_atomic_t quit;
static char huge_header[HUGE_HEADER_SIZE];

static void on_signal(int sig) {
        quit = 1;
}

static uint64_t now_ms(void) {
        return now_usec(CLOCK_MONOTONIC) / USEC_PER_MSEC;
}

static int mode_from_string(const char *s) {
        for (int m = 0; m < _MODE_MAX; m++)
                if (streq(s, mode_names[m]))
                        return m;
        return -EINVAL;
}

/* "127.0.0.2:8080" or "[::1]:8080"; the canonical spelling goes to l->name. */
static int listener_parse(const char *s, Listener *l) {
        char host[INET6_ADDRSTRLEN + 2], *end;
        const char *colon = strrchr(s, ':');
        unsigned long port;
        size_t n;

        if (!colon || colon == s)
                return -EINVAL;
        n = (size_t) (colon - s);
        if (n >= sizeof host)
                return -EINVAL;
        memcpy(host, s, n);
        host[n] = '\0';
        errno = 0;
        port = strtoul(colon + 1, &end, 10);
        if (errno || *end || colon[1] < '0' || colon[1] > '9' || port == 0 || port > 65535)
                return -EINVAL;

        *l = (Listener) { .fd = -1 };
        if (host[0] == '[' && host[n - 1] == ']') {
                host[n - 1] = '\0';
                l->addr.in6.sin6_family = AF_INET6;
                l->addr.in6.sin6_port = htons((uint16_t) port);
                /* The network rule: loopback only. */
                if (inet_pton(AF_INET6, host + 1, &l->addr.in6.sin6_addr) != 1 ||
                    !IN6_IS_ADDR_LOOPBACK(&l->addr.in6.sin6_addr))
                        return -EINVAL;
                l->addr_len = sizeof l->addr.in6;
                snprintf(l->name, sizeof l->name, "[::1]:%lu", port);
        } else {
                l->addr.in.sin_family = AF_INET;
                l->addr.in.sin_port = htons((uint16_t) port);
                if (inet_pton(AF_INET, host, &l->addr.in.sin_addr) != 1 ||
                    (ntohl(l->addr.in.sin_addr.s_addr) >> 24) != 127)
                        return -EINVAL;
                l->addr_len = sizeof l->addr.in;
                snprintf(l->name, sizeof l->name, "%s:%lu", host, port);
        }
        return 0;
}

static int listener_open(Listener *l) {
        _cleanup_close_ int fd = -1;
        int one = 1;

        fd = socket(l->addr.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        /* A listener switched down and up again must rebind past TIME_WAIT. */
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
                return -errno;
        if (l->addr.sa.sa_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)
                return -errno;
        if (bind(fd, &l->addr.sa, l->addr_len) < 0)
                return -errno;
        if (listen(fd, 128) < 0)
                return -errno;
        l->fd = TAKE_FD(fd);
        return 0;
}

static void listener_close(Listener *l) {
        if (l->fd >= 0) {
                close(l->fd);
                l->fd = -1;
        }
}

/* Bring the listening socket in line with the mode: closed when down, open otherwise. */
static void listener_sync(Listener *l) {
        int r;

        if (l->mode == MODE_DOWN) {
                listener_close(l);
                return;
        }
        if (l->fd >= 0)
                return;
        r = listener_open(l);
        if (r < 0)
                fprintf(stderr, "checkserver: cannot listen on %s: %s\n", l->name, strerror(-r));
}

static Listener *listener_find(Server *s, const char *name) {
        Listener key;

        if (listener_parse(name, &key) < 0)
                return NULL;
        for (size_t i = 0; i < s->n_listeners; i++)
                if (streq(s->listeners[i].name, key.name))
                        return &s->listeners[i];
        return NULL;
}

/* Modes are declared, not patched: the file as a whole says what every listener does. */
static void control_load(Server *s) {
        _cleanup_fclose_ FILE *f = NULL;
        char line[256];
        unsigned lineno = 0;

        for (size_t i = 0; i < s->n_listeners; i++)
                s->listeners[i].mode = MODE_OK;
        f = fopen(s->control_path, "re");
        while (f && fgets(line, sizeof line, f)) {
                char who[128], what[32], extra[2];
                int n, mode;

                lineno++;
                line[strcspn(line, "#")] = '\0';
                n = sscanf(line, "%127s %31s %1s", who, what, extra);
                if (n <= 0)
                        continue;
                if (n != 2 || (mode = mode_from_string(what)) < 0) {
                        fprintf(stderr, "checkserver: %s:%u: expected 'ADDR:PORT MODE' or '* MODE'\n",
                                s->control_path, lineno);
                        continue;
                }
                if (streq(who, "*")) {
                        for (size_t i = 0; i < s->n_listeners; i++)
                                s->listeners[i].mode = (Mode) mode;
                        continue;
                }
                Listener *l = listener_find(s, who);
                if (!l) {
                        fprintf(stderr, "checkserver: %s:%u: no listener %s\n", s->control_path, lineno, who);
                        continue;
                }
                l->mode = (Mode) mode;
        }
        for (size_t i = 0; i < s->n_listeners; i++)
                listener_sync(&s->listeners[i]);
        s->loads++;
        printf("reloaded %u\n", s->loads);
        fflush(stdout);
}

static void control_check(Server *s) {
        struct stat st;
        bool exists;

        if (!s->control_path)
                return;
        exists = stat(s->control_path, &st) >= 0;
        if (!exists) {
                if (!s->control_seen)
                        return;
                s->control_seen = false; /* a removed file means every listener ok */
                control_load(s);
                return;
        }
        if (s->control_seen && st.st_mtim.tv_sec == s->control_mtime.tv_sec &&
            st.st_mtim.tv_nsec == s->control_mtime.tv_nsec && st.st_ino == s->control_ino &&
            st.st_size == s->control_size)
                return;
        s->control_seen = true;
        s->control_mtime = st.st_mtim;
        s->control_ino = st.st_ino;
        s->control_size = st.st_size;
        control_load(s);
}

static void conn_reply(Conn *c, const char *out, size_t len) {
        c->out = out;
        c->out_len = len;
        c->out_off = 0;
}

/* The Host header's value (*ret_len bytes), or NULL. */
static const char *request_host(const Conn *c, int *ret_len) {
        const char *end = c->in + c->in_len;

        for (const char *p = c->in; (p = memchr(p, '\n', (size_t) (end - p)));) {
                p++;
                if ((size_t) (end - p) >= 5 && strncasecmp(p, "host:", 5) == 0) {
                        const char *v = p + 5 + strspn(p + 5, " \t");
                        *ret_len = (int) strcspn(v, "\r\n");
                        return v;
                }
        }
        return NULL;
}

/* The one -v line of a connection, when it ends. */
static void conn_log(const Server *s, const Conn *c) {
        const char *host, *eol;
        int host_len = 0;

        if (!s->verbose)
                return;
        host = request_host(c, &host_len);
        eol = memchr(c->in, '\r', c->in_len);
        fprintf(stderr, "checkserver: %s: mode %s, request \"%.*s\", host %.*s, answer %s\n", c->listener->name,
                mode_names[c->mode], eol ? (int) (eol - c->in) : 0, c->in, host ? host_len : 1, host ? host : "-",
                c->answer ? c->answer : "none");
}

static void conn_close(Server *s, size_t i) {
        conn_log(s, &s->conns[i]);
        close(s->conns[i].fd);
        s->conns[i] = s->conns[--s->n_conns];
}

/* A complete request is in: answer as the connection's mode says. */
static void conn_on_request(Conn *c) {
        static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
                                 "Connection: close\r\n\r\nok\n";
        static const char no_host[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        static const char error[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
                                    "Connection: close\r\n\r\n";

        c->complete = true;
        switch (c->mode) {
        case MODE_OK:
                /* HTTP/1.1 requires Host (RFC 9112 §3.2): a probe without one is a bug. */
                if (request_host(c, &(int) { 0 })) {
                        c->answer = "200";
                        conn_reply(c, ok, sizeof ok - 1);
                } else {
                        c->answer = "400";
                        conn_reply(c, no_host, sizeof no_host - 1);
                }
                break;
        case MODE_500:
                c->answer = "500";
                conn_reply(c, error, sizeof error - 1);
                break;
        case MODE_HUGEHEADER:
                c->answer = "64 KiB with no CRLF";
                conn_reply(c, huge_header, sizeof huge_header);
                break;
        default:
                break;
        }
}

/* Returns false when the connection is to be closed. */
static bool conn_on_input(Conn *c) {
        char discard[REQUEST_MAX];
        char *buf = c->in + c->in_len;
        size_t room = REQUEST_MAX - c->in_len;
        ssize_t n;

        if (c->complete) {
                buf = discard;
                room = sizeof discard;
        }
        n = recv(c->fd, buf, room, 0);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR;
        if (n == 0)
                return false; /* the peer is done (a TCP check closes right after connecting) */
        if (buf == discard)
                return true;
        c->in_len += (size_t) n;
        c->in[c->in_len] = '\0';
        if (memmem(c->in, c->in_len, "\r\n\r\n", 4) || c->in_len == REQUEST_MAX)
                conn_on_request(c);
        return true;
}

/* Returns false when the connection is to be closed. */
static bool conn_on_output(Conn *c) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

        if (n < 0)
                return errno == EAGAIN || errno == EINTR;
        c->out_off += (size_t) n;
        /* A well-formed reply is complete with "Connection: close"; the huge
         * header is not, so its connection stays open until the peer gives up. */
        return c->out_off < c->out_len || c->mode == MODE_HUGEHEADER;
}

static void listener_accept(Server *s, Listener *l) {
        /* Bounded, so one busy listener cannot starve the rest. */
        for (int k = 0; k < 64; k++) {
                int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

                if (fd < 0) {
                        static bool fd_warned;
                        int err = errno;

                        if (err == EAGAIN || err == EINTR || err == ECONNABORTED)
                                return;
                        /* Out of descriptors, the backlog keeps the listener readable: say so once. */
                        if ((err != EMFILE && err != ENFILE) || !fd_warned)
                                fprintf(stderr, "checkserver: accept on %s: %s\n", l->name, strerror(err));
                        fd_warned = fd_warned || err == EMFILE || err == ENFILE;
                        return;
                }
                if (l->mode == MODE_CLOSE || s->n_conns == CONNS_MAX) {
                        if (s->verbose)
                                fprintf(stderr, "checkserver: %s: mode %s, %s\n", l->name, mode_names[l->mode],
                                        l->mode == MODE_CLOSE ? "closed at once" : "closed: too many connections");
                        close(fd);
                        continue;
                }
                s->conns[s->n_conns++] = (Conn) { .fd = fd, .listener = l, .mode = l->mode, .last_ms = now_ms() };
        }
}

static int run(Server *s, const sigset_t *orig) {
        size_t max_fds = s->n_listeners + CONNS_MAX;
        _cleanup_free_ struct pollfd *pfd = calloc(max_fds, sizeof *pfd);
        _cleanup_free_ Listener **lmap = calloc(s->n_listeners, sizeof *lmap);
        uint64_t next_control = 0;

        if (!pfd || !lmap)
                return -ENOMEM;

        while (!quit) {
                uint64_t now = now_ms();
                struct timespec ts = { .tv_nsec = CONTROL_POLL_MSEC * 1000000L };
                size_t n = 0, n_l = 0;

                if (now >= next_control) {
                        control_check(s);
                        next_control = now + CONTROL_POLL_MSEC;
                }
                for (size_t i = 0; i < s->n_listeners; i++)
                        if (s->listeners[i].fd >= 0) {
                                lmap[n_l++] = &s->listeners[i];
                                pfd[n++] = (struct pollfd) { .fd = s->listeners[i].fd, .events = POLLIN };
                        }
                for (size_t i = 0; i < s->n_conns; i++) {
                        const Conn *c = &s->conns[i];
                        pfd[n++] = (struct pollfd) {
                                .fd = c->fd,
                                .events = (short) (POLLIN | (c->out_off < c->out_len ? POLLOUT : 0)),
                        };
                }

                int k = ppoll(pfd, n, &ts, orig);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                now = now_ms();

                /* Connections first, walking down: closing swaps the last one
                 * into the hole, which has been visited already. */
                size_t n_c = s->n_conns;
                for (size_t i = n_c; i-- > 0;) {
                        Conn *c = &s->conns[i];
                        short re = pfd[n_l + i].revents;
                        bool keep = true;

                        if (re & (POLLIN | POLLERR | POLLHUP)) {
                                keep = conn_on_input(c);
                                c->last_ms = now;
                        }
                        if (keep && (re & POLLOUT) && c->out_off < c->out_len) {
                                keep = conn_on_output(c);
                                c->last_ms = now;
                        }
                        if (keep && now - c->last_ms > CONN_IDLE_MSEC)
                                keep = false;
                        if (!keep)
                                conn_close(s, i);
                }
                for (size_t i = 0; i < n_l; i++)
                        if (pfd[i].revents & POLLIN)
                                listener_accept(s, lmap[i]);
        }
        return 0;
}

static void raise_fd_limit(size_t want) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
                return;
        rl.rlim_cur = MIN((rlim_t) want, rl.rlim_max);
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < want)
                fprintf(stderr, "checkserver: warning: open files limited to %llu\n",
                        (unsigned long long) rl.rlim_cur);
}

static void usage(FILE *f) {
        fprintf(f, "usage: checkserver [-v] [-c CONTROLFILE] ADDR:PORT...\n"
                   "  ADDR in 127.0.0.0/8, or [::1]; modes in CONTROLFILE: ok 500 hang close hugeheader down\n");
}

int main(int argc, char **argv) {
        Server s = {};
        sigset_t block, orig;
        struct sigaction sa = { .sa_handler = on_signal };
        int c, r;

        while ((c = getopt(argc, argv, "c:vh")) >= 0)
                switch (c) {
                case 'c':
                        s.control_path = optarg;
                        break;
                case 'v':
                        s.verbose = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        if (optind == argc || (size_t) (argc - optind) > LISTENERS_MAX) {
                usage(stderr);
                return 2;
        }

        /* A status line that never ends: "HTTP/1.1 200 " then filler, no CRLF anywhere. */
        memset(huge_header, 'X', sizeof huge_header);
        memcpy(huge_header, "HTTP/1.1 200 ", 13);

        s.n_listeners = (size_t) (argc - optind);
        s.listeners = calloc(s.n_listeners, sizeof *s.listeners);
        s.conns = calloc(CONNS_MAX, sizeof *s.conns);
        if (!s.listeners || !s.conns) {
                fprintf(stderr, "checkserver: out of memory\n");
                return 1;
        }
        raise_fd_limit(s.n_listeners + CONNS_MAX + 16);
        for (size_t i = 0; i < s.n_listeners; i++) {
                r = listener_parse(argv[optind + (int) i], &s.listeners[i]);
                if (r < 0) {
                        fprintf(stderr, "checkserver: '%s' is not 127.x.y.z:PORT or [::1]:PORT\n",
                                argv[optind + (int) i]);
                        return 2;
                }
                r = listener_open(&s.listeners[i]);
                if (r < 0) {
                        fprintf(stderr, "checkserver: cannot listen on %s: %s\n", s.listeners[i].name, strerror(-r));
                        return 1;
                }
        }

        sigemptyset(&block);
        sigaddset(&block, SIGTERM);
        sigaddset(&block, SIGINT);
        /* Blocked except inside ppoll(): a signal cannot slip in between the check and the wait. */
        if (sigprocmask(SIG_BLOCK, &block, &orig) < 0 || sigaction(SIGTERM, &sa, NULL) < 0 ||
            sigaction(SIGINT, &sa, NULL) < 0) {
                fprintf(stderr, "checkserver: signals: %s\n", strerror(errno));
                return 1;
        }
        sigdelset(&orig, SIGTERM);
        sigdelset(&orig, SIGINT);

        /* The control file's modes are in force before "ready". */
        control_check(&s);
        printf("ready\n");
        fflush(stdout);

        r = run(&s, &orig);
        if (r < 0)
                fprintf(stderr, "checkserver: %s\n", strerror(-r));
        for (size_t i = 0; i < s.n_conns; i++)
                close(s.conns[i].fd);
        for (size_t i = 0; i < s.n_listeners; i++)
                listener_close(&s.listeners[i]);
        free(s.conns);
        free(s.listeners);
        return r < 0 ? 1 : 0;
}
