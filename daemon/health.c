/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* health.c: active health checks (TCP connect, HTTP status) of backends, with rise/fall and jitter. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "cache-def.h"
#include "health.h"
#include "log.h"

#define STATUS_LINE_MAX 1024        /* we read the reply only this far */
/* File descriptors left to everything but probes: the cache file, the event loop with its timers
 * and signals, c-ares' sockets (one UDP and one TCP socket per server, twice while a changed
 * resolv.conf retires a channel; queries share them) and the log. */
#define FDS_RESERVED 64
#define INTERIM_MAX 8               /* 1xx responses (100 Continue, 103 Early Hints) skipped per probe */
#define JITTER_LO 0.95              /* later probes every interval x [0.95, 1.05) */
#define JITTER_SPAN 0.10

typedef enum ProbeState {
        PROBE_IDLE,
        PROBE_QUEUED,                /* waiting for a slot under max-checks-inflight */
        PROBE_CONNECTING,
        PROBE_SENDING,
        PROBE_READING,
} ProbeState;

struct HealthChecker {
        sd_event *event;
        unsigned max_inflight;
        unsigned inflight;
        HealthMonitor *queue_head, *queue_tail;
        sd_event_source *drain;      /* defer: starts queued probes outside callers' stacks */
        uint64_t probes;
        uint64_t skipped;            /* probes not run for a local reason (no fd, no memory) */
        bool local_failure;          /* the last probe started was skipped: said once, not per probe */
        uint64_t rng;
};

struct HealthMonitor {
        HealthChecker *checker;
        uint8_t family;
        uint8_t addr[16];
        uint16_t port;               /* probed port */
        char host[256];
        char service[DD_NAME_MAX];
        char endpoint[64];           /* "1.2.3.4:80" / "[::1]:80" for log lines */
        CheckType type;
        uint64_t interval_usec, timeout_usec;
        unsigned rise, fall;
        HealthStatus st;
        health_changed_cb cb;
        void *userdata;

        ProbeState state;
        bool first;                  /* next probe is the first: follow it with a random phase */
        int fd;
        sd_event_source *io;
        sd_event_source *deadline;
        sd_event_source *timer;      /* next probe */
        uint64_t started_usec;       /* CLOCK_MONOTONIC */
        char *request;               /* the whole HTTP request, built once: never cut */
        size_t request_len, request_sent;
        char reply[STATUS_LINE_MAX];
        size_t reply_len;
        unsigned interim;            /* 1xx responses skipped in this probe */
        bool in_interim;             /* reading an interim response's header lines */
        bool interim_mid_line;       /* a header line longer than the buffer is being dropped */
        HealthMonitor *queue_next;
};

static double rand_unit(HealthChecker *h) {
        uint64_t x = h->rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        h->rng = x;
        return (double) ((x * 0x2545f4914f6cdd1dULL) >> 11) / (double) (1ULL << 53);
}

void health_apply_result(HealthStatus *st, bool ok, uint16_t error, unsigned rise, unsigned fall) {
        st->checks++;
        if (ok) {
                st->consecutive_ok = (uint16_t) MIN(st->consecutive_ok + 1u, (unsigned) UINT16_MAX);
                st->consecutive_fail = 0;
                /* A new backend is up after its first good probe: cold start
                 * waits one round trip, not rise x interval. */
                if (st->health == DD_HEALTH_UNKNOWN || (st->health == DD_HEALTH_DOWN && st->consecutive_ok >= rise))
                        st->health = DD_HEALTH_UP;
        } else {
                st->failures++;
                st->consecutive_fail = (uint16_t) MIN(st->consecutive_fail + 1u, (unsigned) UINT16_MAX);
                st->consecutive_ok = 0;
                st->last_error = error;
                if (st->health == DD_HEALTH_UNKNOWN || (st->health == DD_HEALTH_UP && st->consecutive_fail >= fall))
                        st->health = DD_HEALTH_DOWN;
        }
}

/* Whether buf[0..len) can begin "HTTP/1.0" or "HTTP/1.1", the versions we speak. */
static bool version_prefix_ok(const char *buf, size_t len) {
        static const char v[] = "HTTP/1.";
        size_t k = MIN(len, sizeof v - 1);

        if (memcmp(buf, v, k) != 0)
                return false;
        return len < 8 || buf[7] == '0' || buf[7] == '1';
}

int health_parse_status_line(const char *buf, size_t len, unsigned *ret_status, size_t *ret_len) {
        const char *eol = memchr(buf, '\n', len);
        if (!eol)
                /* Reject early what cannot become a status line. */
                return version_prefix_ok(buf, len) ? -EAGAIN : -EBADMSG;
        size_t n = (size_t) (eol - buf);
        /* RFC 9112 §4: "HTTP/1.1 200 OK": HTTP/1.0 or HTTP/1.1, one space, exactly three
         * digits, then a space (and a reason phrase) or the line's end (CRLF or a bare LF). */
        if (n < 12 || !version_prefix_ok(buf, 8) || buf[8] != ' ')
                return -EBADMSG;
        unsigned code = 0;
        for (int i = 9; i < 12; i++) {
                if (buf[i] < '0' || buf[i] > '9')
                        return -EBADMSG;
                code = code * 10 + (unsigned) (buf[i] - '0');
        }
        if (n > 12 && buf[12] != ' ' && !(n == 13 && buf[12] == '\r'))
                return -EBADMSG;
        if (ret_len)
                *ret_len = n + 1;
        if (code >= 200 && code < 300) {
                if (ret_status)
                        *ret_status = code;
                return 1;
        }
        *ret_status = code;
        return 0;
}

/* Drop the first n bytes of the reply buffer. */
static void reply_consume(HealthMonitor *m, size_t n) {
        memmove(m->reply, m->reply + n, m->reply_len - n);
        m->reply_len -= n;
}

/* Skip the header lines of an interim (1xx) response: 1 at the blank line that ends them,
 * 0 when more bytes are needed (what cannot be a line's end is dropped to make room). */
static int reply_skip_headers(HealthMonitor *m) {
        for (;;) {
                const char *eol = memchr(m->reply, '\n', m->reply_len);
                if (!eol) {
                        if (m->reply_len > 0) {
                                /* A partial line: all but a possible lone '\r' can go. */
                                bool cr = m->reply[m->reply_len - 1] == '\r';
                                m->interim_mid_line = m->interim_mid_line || m->reply_len > (size_t) cr;
                                reply_consume(m, m->reply_len - cr);
                        }
                        return 0;
                }
                size_t n = (size_t) (eol - m->reply);
                bool blank = !m->interim_mid_line && (n == 0 || (n == 1 && m->reply[0] == '\r'));
                reply_consume(m, n + 1);
                m->interim_mid_line = false;
                if (blank)
                        return 1;
        }
}

static void probe_release(HealthMonitor *m) {
        m->io = sd_event_source_disable_unref(m->io);
        m->deadline = sd_event_source_disable_unref(m->deadline);
        if (m->fd >= 0) {
                close(m->fd);
                m->fd = -1;
        }
}

static void queue_remove(HealthChecker *h, HealthMonitor *m) {
        for (HealthMonitor **p = &h->queue_head, *prev = NULL; *p; prev = *p, p = &(*p)->queue_next)
                if (*p == m) {
                        *p = m->queue_next;
                        if (h->queue_tail == m)
                                h->queue_tail = prev;
                        m->queue_next = NULL;
                        return;
                }
}

static void probe_start(HealthMonitor *m);

static int checker_drain(sd_event_source *s, void *userdata) {
        HealthChecker *h = userdata;
        while (h->queue_head && h->inflight < h->max_inflight) {
                HealthMonitor *m = h->queue_head;
                h->queue_head = m->queue_next;
                if (!h->queue_head)
                        h->queue_tail = NULL;
                m->queue_next = NULL;
                probe_start(m);
        }
        return 0;
}

/* A slot freed up: start queued probes from the loop, not from here, so a
 * probe failing at once cannot recurse through the queue, and freeing a
 * monitor never runs another monitor's callback. */
static void checker_schedule_drain(HealthChecker *h) {
        if (h->queue_head && h->inflight < h->max_inflight)
                (void) sd_event_source_set_enabled(h->drain, SD_EVENT_ONESHOT);
}

static void monitor_schedule(HealthMonitor *m, uint64_t at_usec) {
        (void) sd_event_source_set_time(m->timer, at_usec);
        (void) sd_event_source_set_enabled(m->timer, SD_EVENT_ONESHOT);
}

/* A probe ended: apply it, log a transition once, plan the next one. */
static void probe_finish(HealthMonitor *m, bool ok, uint16_t error, const char *reason) {
        HealthChecker *h = m->checker;
        uint64_t now;
        uint8_t before = m->st.health;

        probe_release(m);
        m->state = PROBE_IDLE;
        h->inflight--;
        (void) sd_event_now(h->event, CLOCK_MONOTONIC, &now);

        m->st.last_latency_usec = (uint32_t) MIN(now - m->started_usec, (uint64_t) UINT32_MAX);
        m->st.last_check_usec = (int64_t) now_usec(CLOCK_REALTIME);
        health_apply_result(&m->st, ok, error, m->rise, m->fall);

        bool transition = m->st.health != before;
        if (transition) {
                if (m->st.health == DD_HEALTH_DOWN)
                        log_warning("backend %s of %s: %s -> down (%u failure%s: %s)", m->endpoint, m->service,
                                    dd_health_name(before), m->st.consecutive_fail,
                                    m->st.consecutive_fail == 1 ? "" : "s", reason);
                else
                        log_info("backend %s of %s: %s -> up (%u success%s)", m->endpoint, m->service,
                                 dd_health_name(before), m->st.consecutive_ok, m->st.consecutive_ok == 1 ? "" : "es");
        }

        /* Next probe: a random phase after the first one, so backends found
         * together do not stay in lockstep; then interval with jitter, counted
         * from this probe's start (never overlapping: we are idle now). */
        double factor = m->first ? 0.5 + 0.5 * rand_unit(h) : JITTER_LO + JITTER_SPAN * rand_unit(h);
        m->first = false;
        uint64_t next = m->started_usec + (uint64_t) ((double) m->interval_usec * factor);
        monitor_schedule(m, MAX(next, now));

        checker_schedule_drain(h);
        /* Last: the callback republishes and must not find us half-updated. */
        m->cb(m, transition ? HEALTH_TRANSITION : HEALTH_PROBED, m->userdata);
}

/* Whether a failure to start a probe is ours (out of file descriptors, memory or local ports)
 * rather than the backend's: such a probe says nothing about the backend. */
static bool error_is_local(int error) {
        return error == EMFILE || error == ENFILE || error == ENOMEM || error == ENOBUFS || error == EADDRNOTAVAIL;
}

/* The probe could not start for a local reason: it is skipped, the backend keeps its health,
 * and the next probe comes at the usual interval. */
static void probe_skip(HealthMonitor *m, int error) {
        HealthChecker *h = m->checker;
        uint64_t now;

        probe_release(m);
        m->state = PROBE_IDLE;
        h->inflight--;
        h->skipped++;
        if (!h->local_failure)
                log_warning("Health checks skipped, backends keep their health: cannot start a probe of %s (%s): %s",
                            m->endpoint, m->service, strerror(error));
        h->local_failure = true;

        (void) sd_event_now(h->event, CLOCK_MONOTONIC, &now);
        monitor_schedule(m, now + (uint64_t) ((double) m->interval_usec * (JITTER_LO + JITTER_SPAN * rand_unit(h))));
        checker_schedule_drain(h);
        /* Last, as after a probe: the owner counts it where readers see it. */
        m->cb(m, HEALTH_SKIPPED, m->userdata);
}

/* A probe started: local trouble, if any, is over. */
static void probe_started(HealthChecker *h) {
        if (!h->local_failure)
                return;
        h->local_failure = false;
        log_info("Health checks run again (%" PRIu64 " probes skipped so far).", h->skipped);
}

static void probe_fail_errno(HealthMonitor *m, int error) {
        char reason[96];
        snprintf(reason, sizeof reason, "%s", strerror(error));
        if (error == ECONNREFUSED)
                probe_finish(m, false, DD_ERR_CONNREFUSED, "connection refused");
        else if ((error == ECONNRESET || error == EPIPE) && (m->state == PROBE_SENDING || m->state == PROBE_READING))
                /* A server closing with our request unread sends a reset, not
                 * an end of file: which one we see is a race, the fault the same. */
                probe_finish(m, false, DD_ERR_PROTOCOL, "connection reset before the status line");
        else
                probe_finish(m, false, DD_ERR_OTHER, reason);
}

static int probe_on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        HealthMonitor *m = userdata;
        char reason[64];
        snprintf(reason, sizeof reason, "timeout after %" PRIu64 "ms%s", m->timeout_usec / USEC_PER_MSEC,
                 m->state == PROBE_CONNECTING ? " connecting" : m->state == PROBE_READING ? " waiting for status" : "");
        probe_finish(m, false, DD_ERR_CHECK_TIMEOUT, reason);
        return 0;
}

static int monitor_build_request(HealthMonitor *m, const char *path) {
        char port[8] = "";
        int n;

        /* RFC 9110 §7.2: the port is part of Host unless it is the default. */
        if (m->port != 80)
                snprintf(port, sizeof port, ":%u", m->port);
        n = asprintf(&m->request,
                     "GET %s HTTP/1.1\r\nHost: %s%s\r\nUser-Agent: dnsdiscd/" PACKAGE_VERSION
                     "\r\nAccept: */*\r\nConnection: close\r\n\r\n",
                     path, m->host, port);
        if (n < 0) {
                m->request = NULL;
                return -ENOMEM;
        }
        m->request_len = (size_t) n;
        return 0;
}

static int probe_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        HealthMonitor *m = userdata;
        int err = 0;
        socklen_t len = sizeof err;
        ssize_t n;

        switch (m->state) {
        case PROBE_CONNECTING:
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                        err = errno;
                if (err) {
                        probe_fail_errno(m, err);
                        return 0;
                }
                if (m->type == CHECK_TCP) {
                        probe_finish(m, true, DD_ERR_NONE, "connected");
                        return 0;
                }
                m->request_sent = 0;
                m->state = PROBE_SENDING;
                _fallthrough_;
        case PROBE_SENDING:
                n = send(fd, m->request + m->request_sent, m->request_len - m->request_sent, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno != EAGAIN && errno != EINTR)
                                probe_fail_errno(m, errno);
                        return 0;
                }
                m->request_sent += (size_t) n;
                if (m->request_sent < m->request_len)
                        return 0;
                m->state = PROBE_READING;
                (void) sd_event_source_set_io_events(m->io, EPOLLIN);
                return 0;
        case PROBE_READING: {
                n = recv(fd, m->reply + m->reply_len, sizeof m->reply - m->reply_len, 0);
                if (n < 0) {
                        if (errno != EAGAIN && errno != EINTR)
                                probe_fail_errno(m, errno);
                        return 0;
                }
                if (n == 0) {
                        probe_finish(m, false, DD_ERR_PROTOCOL, "connection closed before the status line");
                        return 0;
                }
                m->reply_len += (size_t) n;
                for (;;) {
                        unsigned code = 0;
                        size_t line_len = 0;
                        int r;

                        if (m->in_interim) {
                                if (reply_skip_headers(m) == 0)
                                        return 0;
                                m->in_interim = false;
                        }
                        r = health_parse_status_line(m->reply, m->reply_len, &code, &line_len);
                        if (r == -EAGAIN) {
                                if (m->reply_len >= sizeof m->reply)
                                        probe_finish(m, false, DD_ERR_PROTOCOL, "status line longer than 1024 bytes");
                                return 0;
                        }
                        if (r == -EBADMSG) {
                                probe_finish(m, false, DD_ERR_PROTOCOL, "reply is not HTTP/1.0 or HTTP/1.1");
                                return 0;
                        }
                        /* RFC 9110 §15.2: interim responses precede the final one. 101 only
                         * answers an Upgrade, which we never ask for. */
                        if (r == 0 && code >= 100 && code < 200 && code != 101) {
                                if (++m->interim > INTERIM_MAX) {
                                        probe_finish(m, false, DD_ERR_PROTOCOL, "more than 8 interim responses");
                                        return 0;
                                }
                                reply_consume(m, line_len);
                                m->in_interim = true;
                                continue;
                        }
                        if (r == 1)
                                probe_finish(m, true, DD_ERR_NONE, "2xx");
                        else {
                                char reason[32];
                                snprintf(reason, sizeof reason, "HTTP %u", code);
                                probe_finish(m, false, DD_ERR_HTTP_STATUS, reason);
                        }
                        return 0;
                }
        }
        default:
                return 0;
        }
}

static void probe_start(HealthMonitor *m) {
        HealthChecker *h = m->checker;
        union {
                struct sockaddr sa;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        } sa = {};
        socklen_t salen;
        int r;

        h->inflight++;
        h->probes++;
        m->state = PROBE_CONNECTING;
        m->reply_len = 0;
        m->interim = 0;
        m->in_interim = m->interim_mid_line = false;
        (void) sd_event_now(h->event, CLOCK_MONOTONIC, &m->started_usec);

        if (m->family == 6) {
                sa.in6.sin6_family = AF_INET6;
                sa.in6.sin6_port = htons(m->port);
                memcpy(&sa.in6.sin6_addr, m->addr, 16);
                salen = sizeof sa.in6;
        } else {
                sa.in.sin_family = AF_INET;
                sa.in.sin_port = htons(m->port);
                memcpy(&sa.in.sin_addr, m->addr, 4);
                salen = sizeof sa.in;
        }
        /* Everything that can fail for want of local resources comes before connect(), whose
         * errors (but EADDRNOTAVAIL: no local port left) are the backend's. */
        m->fd = socket(sa.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (m->fd < 0) {
                r = -errno;
                goto fail;
        }
        r = sd_event_add_time_relative(h->event, &m->deadline, CLOCK_MONOTONIC, m->timeout_usec, USEC_PER_MSEC,
                                       probe_on_deadline, m);
        if (r < 0)
                goto fail;
        r = sd_event_add_io(h->event, &m->io, m->fd, EPOLLOUT, probe_on_io, m);
        if (r < 0)
                goto fail;
        /* Even on loopback, where connect() may succeed at once, the result
         * is read from the io callback: one code path. */
        if (connect(m->fd, &sa.sa, salen) < 0 && errno != EINPROGRESS) {
                r = -errno;
                goto fail;
        }
        probe_started(h);
        return;
fail:
        if (error_is_local(-r))
                probe_skip(m, -r);
        else
                probe_fail_errno(m, -r);
}

static int monitor_on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        HealthMonitor *m = userdata;
        HealthChecker *h = m->checker;

        if (m->state != PROBE_IDLE)
                return 0; /* never two probes at once for one backend */
        if (h->inflight < h->max_inflight) {
                probe_start(m);
                return 0;
        }
        m->state = PROBE_QUEUED;
        if (h->queue_tail)
                h->queue_tail->queue_next = m;
        else
                h->queue_head = m;
        h->queue_tail = m;
        return 0;
}

int health_monitor_new(HealthChecker *h, const HealthTarget *t, const ServiceSettings *s, const HealthStatus *initial,
                       health_changed_cb cb, void *userdata, HealthMonitor **ret) {
        HealthMonitor *m = calloc(1, sizeof *m);
        char addr[INET6_ADDRSTRLEN];
        int r;

        if (!m)
                return -ENOMEM;
        m->checker = h;
        m->fd = -1;
        m->family = t->family;
        memcpy(m->addr, t->addr, 16);
        m->port = s->check_port ? s->check_port : t->port;
        (void) strcpy_bounded(m->host, sizeof m->host, t->host && t->host[0] ? t->host : "localhost");
        (void) strcpy_bounded(m->service, sizeof m->service, t->service ? t->service : "");
        inet_ntop(t->family == 6 ? AF_INET6 : AF_INET, t->addr, addr, sizeof addr);
        snprintf(m->endpoint, sizeof m->endpoint, t->family == 6 ? "[%s]:%u" : "%s:%u", addr, t->port);
        m->type = s->check;
        m->interval_usec = s->check_interval_usec;
        m->timeout_usec = s->check_timeout_usec;
        m->rise = s->rise;
        m->fall = s->fall;
        m->cb = cb;
        m->userdata = userdata;
        m->first = true;
        if (initial)
                m->st = *initial;
        if (m->type == CHECK_HTTP && monitor_build_request(m, s->check_path ?: "/") < 0) {
                free(m);
                return -ENOMEM;
        }

        /* A backend new to us is probed at once; one we carry over keeps its
         * rhythm at a random phase, so a restart does not probe in a burst. */
        uint64_t delay = initial ? (uint64_t) ((double) m->interval_usec * rand_unit(h)) : 0;
        r = sd_event_add_time_relative(h->event, &m->timer, CLOCK_MONOTONIC, delay, USEC_PER_MSEC, monitor_on_timer,
                                       m);
        if (r < 0) {
                health_monitor_free(m);
                return r;
        }
        (void) sd_event_source_set_enabled(m->timer, SD_EVENT_ONESHOT);
        *ret = m;
        return 0;
}

HealthMonitor *health_monitor_free(HealthMonitor *m) {
        if (!m)
                return NULL;
        if (m->state == PROBE_QUEUED)
                queue_remove(m->checker, m);
        else if (m->state != PROBE_IDLE) {
                /* Abandon the running probe: its result is never delivered. */
                probe_release(m);
                m->checker->inflight--;
                checker_schedule_drain(m->checker);
        }
        sd_event_source_disable_unref(m->timer);
        free(m->request);
        free(m);
        return NULL;
}

const HealthStatus *health_monitor_status(const HealthMonitor *m) {
        return &m->st;
}

/* Each probe holds a socket: no more probes at once than the open-file limit leaves room for. */
static unsigned fd_budget(unsigned wanted) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
            rl.rlim_cur >= (rlim_t) wanted + FDS_RESERVED)
                return wanted;
        unsigned budget = rl.rlim_cur > FDS_RESERVED + 1 ? (unsigned) (rl.rlim_cur - FDS_RESERVED) : 1;
        log_warning("max-checks-inflight = %u is more than the open-file limit (%llu, %u kept for the rest) "
                    "allows: at most %u probes run at once",
                    wanted, (unsigned long long) rl.rlim_cur, FDS_RESERVED, budget);
        return budget;
}

int health_checker_new(sd_event *e, unsigned max_inflight, HealthChecker **ret) {
        HealthChecker *h = calloc(1, sizeof *h);
        if (!h)
                return -ENOMEM;
        h->event = sd_event_ref(e);
        h->max_inflight = fd_budget(max_inflight ? max_inflight : 256);
        int r = sd_event_add_defer(e, &h->drain, checker_drain, h);
        if (r < 0) {
                sd_event_unref(h->event);
                free(h);
                return r;
        }
        (void) sd_event_source_set_enabled(h->drain, SD_EVENT_OFF);
        (void) sd_event_source_set_description(h->drain, "health-drain");
        if (getrandom(&h->rng, sizeof h->rng, 0) != sizeof h->rng)
                h->rng = now_usec(CLOCK_MONOTONIC);
        h->rng |= 1;
        *ret = h;
        return 0;
}

HealthChecker *health_checker_free(HealthChecker *h) {
        if (!h)
                return NULL;
        /* Monitors belong to services, which are freed first. */
        sd_event_source_disable_unref(h->drain);
        sd_event_unref(h->event);
        free(h);
        return NULL;
}

uint64_t health_checker_probes(const HealthChecker *h) {
        return h->probes;
}

unsigned health_checker_max_inflight(const HealthChecker *h) {
        return h->max_inflight;
}

uint64_t health_checker_skipped(const HealthChecker *h) {
        return h->skipped;
}
