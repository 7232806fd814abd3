/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-health.c: daemon/health.c's rise/fall rules, status line parser and live probes against loopback listeners. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "cache-def.h"
#include "health.h"
#include "util.h"

/* ------------------------------------------------------------ pure rules */

static HealthStatus apply_n(HealthStatus st, bool ok, unsigned n, unsigned rise, unsigned fall) {
        for (unsigned i = 0; i < n; i++)
                health_apply_result(&st, ok, ok ? DD_ERR_NONE : DD_ERR_CONNREFUSED, rise, fall);
        return st;
}

static void test_first_success_makes_unknown_backend_up(void **state) {
        HealthStatus st = {};

        /* Cold start waits one probe, not rise probes. */
        health_apply_result(&st, true, DD_ERR_NONE, 5, 3);
        assert_int_equal(st.health, DD_HEALTH_UP);
        assert_int_equal(st.consecutive_ok, 1);
        assert_int_equal(st.consecutive_fail, 0);
}

static void test_first_failure_makes_unknown_backend_down(void **state) {
        HealthStatus st = {};

        health_apply_result(&st, false, DD_ERR_CHECK_TIMEOUT, 2, 5);
        assert_int_equal(st.health, DD_HEALTH_DOWN);
        assert_int_equal(st.consecutive_fail, 1);
        assert_int_equal(st.last_error, DD_ERR_CHECK_TIMEOUT);
}

/* A backend up (ok false) or down (ok true) flips after n = fall or rise results of ok in a
 * row, not after n - 1; a result of the other kind in between starts the count again. */
static void assert_flips_after_n_in_a_row(bool ok, unsigned rise, unsigned fall) {
        const uint8_t from = ok ? DD_HEALTH_DOWN : DD_HEALTH_UP, to = ok ? DD_HEALTH_UP : DD_HEALTH_DOWN;
        const unsigned n = ok ? rise : fall;
        HealthStatus st = { .health = from };

        st = apply_n(st, ok, n - 1, rise, fall);
        assert_int_equal(st.health, from);
        st = apply_n(st, !ok, 1, rise, fall);
        st = apply_n(st, ok, n - 1, rise, fall);
        assert_int_equal(st.health, from);
        assert_int_equal(ok ? st.consecutive_ok : st.consecutive_fail, n - 1);
        st = apply_n(st, ok, 1, rise, fall);
        assert_int_equal(st.health, to);
        assert_int_equal(ok ? st.consecutive_ok : st.consecutive_fail, n);
        assert_int_equal(ok ? st.consecutive_fail : st.consecutive_ok, 0);
}

static void test_up_backend_goes_down_after_fall_consecutive_failures(void **state) {
        assert_flips_after_n_in_a_row(false, 2, 3);
}

static void test_down_backend_goes_up_after_rise_consecutive_successes(void **state) {
        assert_flips_after_n_in_a_row(true, 4, 2);
}

static void test_rise_and_fall_of_one_flip_on_every_change(void **state) {
        HealthStatus st = { .health = DD_HEALTH_UP };

        health_apply_result(&st, false, DD_ERR_PROTOCOL, 1, 1);
        assert_int_equal(st.health, DD_HEALTH_DOWN);
        health_apply_result(&st, true, DD_ERR_NONE, 1, 1);
        assert_int_equal(st.health, DD_HEALTH_UP);
}

static void test_counters_count_checks_failures_and_last_error(void **state) {
        HealthStatus st = {};

        health_apply_result(&st, true, DD_ERR_NONE, 2, 2);
        health_apply_result(&st, false, DD_ERR_HTTP_STATUS, 2, 2);
        health_apply_result(&st, false, DD_ERR_CHECK_TIMEOUT, 2, 2);
        health_apply_result(&st, true, DD_ERR_NONE, 2, 2);
        assert_int_equal(st.checks, 4);
        assert_int_equal(st.failures, 2);
        /* The last failure's reason survives a later success, for the tools. */
        assert_int_equal(st.last_error, DD_ERR_CHECK_TIMEOUT);
        assert_int_equal(st.consecutive_ok, 1);
        assert_int_equal(st.consecutive_fail, 0);
}

static void test_consecutive_counters_saturate(void **state) {
        HealthStatus st = { .health = DD_HEALTH_DOWN, .consecutive_fail = UINT16_MAX - 1 };

        st = apply_n(st, false, 3, 2, 2);
        assert_int_equal(st.consecutive_fail, UINT16_MAX);
        assert_int_equal(st.health, DD_HEALTH_DOWN);

        st = (HealthStatus) { .health = DD_HEALTH_UP, .consecutive_ok = UINT16_MAX };
        st = apply_n(st, true, 2, 2, 2);
        assert_int_equal(st.consecutive_ok, UINT16_MAX);
        assert_int_equal(st.health, DD_HEALTH_UP);
}

/* ------------------------------------------------------------ status line */

static int parse(const char *s, unsigned *ret_status) {
        return health_parse_status_line(s, strlen(s), ret_status, NULL);
}

static void test_status_2xx_is_success(void **state) {
        unsigned code = 7;

        assert_int_equal(parse("HTTP/1.1 200 OK\r\n", &code), 1);
        assert_int_equal(parse("HTTP/1.1 299 Whatever\r\nServer: x\r\n", &code), 1);
        assert_int_equal(parse("HTTP/1.1 200 OK\n", &code), 1);
}

static void test_status_500_is_failure_with_its_code(void **state) {
        unsigned code = 0;

        assert_int_equal(parse("HTTP/1.1 500 Internal Server Error\r\n", &code), 0);
        assert_int_equal(code, 500);
        assert_int_equal(parse("HTTP/1.1 302 Found\r\n", &code), 0);
        assert_int_equal(code, 302);
        assert_int_equal(parse("HTTP/1.1 199 Early\r\n", &code), 0);
        assert_int_equal(code, 199);
}

static void test_partial_status_line_needs_more_bytes(void **state) {
        const char *prefixes[] = { "", "H", "HTTP", "HTTP/1.1", "HTTP/1.1 2", "HTTP/1.1 200 O", "HTTP/1.1 200 OK\r" };
        unsigned code = 0;

        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
                assert_int_equal(parse(prefixes[i], &code), -EAGAIN);
}

static void test_garbage_is_not_http(void **state) {
        const char *bad[] = {
                "SSH-2.0-OpenSSH_9.2\r\n", "hello world", "HTTP/1.1 2x0 OK\r\n", "HTTP/1.1 2000 OK\r\n",
                "HTTP/1.1  200 OK\r\n",    "HTTP/1.1 20\r\n", "\r\n",          "http/1.1 200 OK\r\n",
        };
        unsigned code = 0;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(parse(bad[i], &code), -EBADMSG);
}

static int parse_n(const char *s, size_t len) {
        unsigned code = 0;
        return health_parse_status_line(s, len, &code, NULL);
}

/* Each of these counted as healthy: the version, the digits and what follows them are checked. */
static void test_malformed_status_lines_are_not_http(void **state) {
        static const char *const bad[] = {
                "HTTP/x.y 299 whatever\r\n", "HTTP/1.1 200\rjunk\r\n", "HTTP/2.0 200 OK\r\n",
                "HTTP/1.2 200 OK\r\n",       "HTTP/1.1 200junk\r\n",  "HTTP/1.1\t200 OK\r\n",
        };
        static const char nul[] = "HTTP/1\0001 200 OK\r\n";

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(parse_n(bad[i], strlen(bad[i])), -EBADMSG);
        assert_int_equal(parse_n(nul, sizeof nul - 1), -EBADMSG);
        /* Rejected as soon as the version cannot match, before the line ends. */
        assert_int_equal(parse_n("HTTP/2", 6), -EBADMSG);
        assert_int_equal(parse_n("HTTP/1.", 7), -EAGAIN);
}

static void test_status_line_length_is_reported(void **state) {
        unsigned code = 0;
        size_t len = 0;
        const char *s = "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n";

        assert_int_equal(health_parse_status_line(s, strlen(s), &code, &len), 0);
        assert_int_equal(code, 103);
        assert_int_equal(len, strlen("HTTP/1.1 103 Early Hints\r\n"));
}

static void test_http10_204_is_success(void **state) {
        unsigned code = 0;

        assert_int_equal(parse("HTTP/1.0 204 No Content\r\n", &code), 1);
}

static void test_status_line_without_reason_phrase(void **state) {
        unsigned code = 0;

        /* RFC 9112 §4: the reason phrase may be empty, and old servers drop its space. */
        assert_int_equal(parse("HTTP/1.1 204\r\n", &code), 1);
        assert_int_equal(parse("HTTP/1.1 204 \r\n", &code), 1);
        assert_int_equal(parse("HTTP/1.1 200\n", &code), 1);
        assert_int_equal(parse("HTTP/1.1 503\r\n", &code), 0);
        assert_int_equal(code, 503);
}

/* ------------------------------------------------------------ live probes */

/* A listener on 127.0.0.1 served from the test's own event loop. */
typedef enum Serve {
        SERVE_OK,
        SERVE_500,
        SERVE_HANG,
        SERVE_CLOSE,
        SERVE_HUGE,
        SERVE_GARBAGE,
        SERVE_NOACCEPT,
        SERVE_INTERIM,          /* 103 with a header longer than the probe's buffer, 100, then 200 */
        SERVE_INTERIM_FLOOD,    /* 100 Continue nine times, then 200 */
} Serve;

#define CONNS_MAX 16
#define PROBES_MAX 32

typedef struct TestServer TestServer;

typedef struct TestConn {
        TestServer *srv;
        int fd;
        sd_event_source *src;
        char buf[4096];
        size_t len;
        bool answered;
} TestConn;

struct TestServer {
        int fd;
        uint16_t port;
        Serve mode;
        sd_event_source *src;
        TestConn *conns[CONNS_MAX];
        unsigned accepted, requests, peer_closed;
        char request_line[128];
        char host[300];
};

/* What the monitor callback saw; start/end are the probes' CLOCK_MONOTONIC bounds. */
typedef struct Rec {
        sd_event *event;
        unsigned calls, transitions;
        unsigned skips;              /* HEALTH_SKIPPED calls, not in calls */
        HealthStatus last;
        uint64_t start[PROBES_MAX], end[PROBES_MAX];
} Rec;

typedef struct Fixture {
        sd_event *event;
        HealthChecker *checker;
        TestServer *servers[12];
        size_t n_servers;
} Fixture;

static uint64_t huge_sent;

static void conn_free(TestConn *c) {
        TestServer *srv = c->srv;

        for (size_t i = 0; i < CONNS_MAX; i++)
                if (srv->conns[i] == c)
                        srv->conns[i] = NULL;
        sd_event_source_disable_unref(c->src);
        close(c->fd);
        free(c);
}

static void conn_answer(TestConn *c) {
        static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        static const char error[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n";
        static const char garbage[] = "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n";
        static char huge[64 * 1024];
        TestServer *srv = c->srv;
        const char *eol, *p;

        c->answered = true;
        srv->requests++;
        eol = memchr(c->buf, '\r', c->len);
        snprintf(srv->request_line, sizeof srv->request_line, "%.*s", eol ? (int) (eol - c->buf) : 0, c->buf);
        for (p = c->buf; (p = memchr(p, '\n', (size_t) (c->buf + c->len - p)));) {
                p++;
                if (strncasecmp(p, "Host:", 5) == 0) {
                        p += 5 + strspn(p + 5, " ");
                        snprintf(srv->host, sizeof srv->host, "%.*s", (int) strcspn(p, "\r\n"), p);
                        break;
                }
        }

        switch (srv->mode) {
        case SERVE_OK:
                (void) send(c->fd, ok, sizeof ok - 1, MSG_NOSIGNAL);
                break;
        case SERVE_500:
                (void) send(c->fd, error, sizeof error - 1, MSG_NOSIGNAL);
                break;
        case SERVE_GARBAGE:
                (void) send(c->fd, garbage, sizeof garbage - 1, MSG_NOSIGNAL);
                break;
        case SERVE_INTERIM: {
                static char hints[4096];
                int n = snprintf(hints, sizeof hints, "HTTP/1.1 103 Early Hints\r\nLink: <");
                memset(hints + n, 'a', 2000);
                n += 2000;
                n += snprintf(hints + n, sizeof hints - (size_t) n, ">; rel=preload\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n%s", ok);
                (void) send(c->fd, hints, (size_t) n, MSG_NOSIGNAL);
                break;
        }
        case SERVE_INTERIM_FLOOD:
                for (int i = 0; i < 9; i++)
                        (void) send(c->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25, MSG_NOSIGNAL);
                (void) send(c->fd, ok, sizeof ok - 1, MSG_NOSIGNAL);
                break;
        case SERVE_HUGE: {
                /* A status line that never ends. */
                memset(huge, 'X', sizeof huge);
                memcpy(huge, "HTTP/1.1 200 ", 13);
                ssize_t n = send(c->fd, huge, sizeof huge, MSG_NOSIGNAL);
                huge_sent = n > 0 ? (uint64_t) n : 0;
                break;
        }
        default:
                break;
        }
}

static int conn_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        TestConn *c = userdata;
        char discard[4096];
        ssize_t n;

        if (c->answered)
                n = recv(fd, discard, sizeof discard, 0);
        else
                n = recv(fd, c->buf + c->len, sizeof c->buf - 1 - c->len, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n <= 0) {
                c->srv->peer_closed++;
                conn_free(c);
                return 0;
        }
        if (c->answered)
                return 0;
        c->len += (size_t) n;
        c->buf[c->len] = '\0';
        if (strstr(c->buf, "\r\n\r\n") || c->len == sizeof c->buf - 1)
                conn_answer(c);
        return 0;
}

static int server_on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        TestServer *srv = userdata;
        int cfd;

        while ((cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                srv->accepted++;
                if (srv->mode == SERVE_CLOSE) {
                        close(cfd);
                        continue;
                }
                TestConn *c = calloc(1, sizeof *c);
                assert_non_null(c);
                c->srv = srv;
                c->fd = cfd;
                assert_int_equal(sd_event_add_io(sd_event_source_get_event(s), &c->src, cfd, EPOLLIN, conn_on_io, c),
                                 0);
                size_t i;
                for (i = 0; i < CONNS_MAX && srv->conns[i]; i++)
                        ;
                assert_true(i < CONNS_MAX);
                srv->conns[i] = c;
        }
        return 0;
}

static int bind_loopback(uint16_t *ret_port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof sa;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof sa), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
        *ret_port = ntohs(sa.sin_port);
        return fd;
}

static TestServer *server_new(Fixture *f, Serve mode) {
        TestServer *srv = calloc(1, sizeof *srv);

        assert_non_null(srv);
        assert_true(f->n_servers < ELEMENTSOF(f->servers));
        srv->mode = mode;
        srv->fd = bind_loopback(&srv->port);
        assert_int_equal(listen(srv->fd, 64), 0);
        /* SERVE_NOACCEPT: the kernel completes handshakes in the backlog, which is all a tcp check sees. */
        if (mode != SERVE_NOACCEPT)
                assert_int_equal(sd_event_add_io(f->event, &srv->src, srv->fd, EPOLLIN, server_on_accept, srv), 0);
        f->servers[f->n_servers++] = srv;
        return srv;
}

static void server_free(TestServer *srv) {
        for (size_t i = 0; i < CONNS_MAX; i++)
                if (srv->conns[i])
                        conn_free(srv->conns[i]);
        sd_event_source_disable_unref(srv->src);
        close(srv->fd);
        free(srv);
}

/* A port on 127.0.0.1 with no listener: bound, never listened on, closed. */
static uint16_t refused_port(void) {
        uint16_t port;
        close(bind_loopback(&port));
        return port;
}

static int fixture_setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);

        assert_non_null(f);
        assert_int_equal(sd_event_new(&f->event), 0);
        assert_int_equal(health_checker_new(f->event, 16, &f->checker), 0);
        *state = f;
        return 0;
}

static int fixture_teardown(void **state) {
        Fixture *f = *state;

        health_checker_free(f->checker);
        for (size_t i = 0; i < f->n_servers; i++)
                server_free(f->servers[i]);
        sd_event_unref(f->event);
        free(f);
        return 0;
}

static void on_changed(HealthMonitor *m, HealthEvent event, void *userdata) {
        Rec *rec = userdata;
        const HealthStatus *st = health_monitor_status(m);
        uint64_t now;

        if (event == HEALTH_SKIPPED) {
                /* Nothing was probed: the status is the last one reported. */
                assert_int_equal(st->health, rec->last.health);
                assert_int_equal(st->checks, rec->last.checks);
                assert_int_equal(st->failures, rec->last.failures);
                rec->skips++;
                return;
        }
        assert_int_equal(sd_event_now(rec->event, CLOCK_MONOTONIC, &now), 0);
        if (rec->calls < PROBES_MAX) {
                /* The latency is measured to this iteration's time: start is exact. */
                rec->start[rec->calls] = now - st->last_latency_usec;
                rec->end[rec->calls] = now;
        }
        rec->calls++;
        rec->transitions += event == HEALTH_TRANSITION;
        rec->last = *st;
}

static ServiceSettings settings(CheckType type, uint64_t interval_ms, uint64_t timeout_ms) {
        return (ServiceSettings) {
                .check = type,
                .check_path = type == CHECK_HTTP ? (char *) "/healthz" : NULL,
                .check_interval_usec = interval_ms * USEC_PER_MSEC,
                .check_timeout_usec = timeout_ms * USEC_PER_MSEC,
                .rise = 2,
                .fall = 2,
                .panic = true,
        };
}

static HealthMonitor *monitor(Fixture *f, HealthChecker *h, uint16_t port, const ServiceSettings *s, Rec *rec) {
        HealthTarget t = { .family = 4, .port = port, .host = "backend.example", .service = "svc" };
        HealthMonitor *m = NULL;

        t.addr[0] = 127;
        t.addr[3] = 1;
        rec->event = f->event;
        assert_int_equal(health_monitor_new(h, &t, s, NULL, on_changed, rec, &m), 0);
        assert_non_null(m);
        return m;
}

/* Runs the loop until *counter reaches want or limit_ms passes; returns the count. */
static unsigned run_until(Fixture *f, const unsigned *counter, unsigned want, uint64_t limit_ms) {
        uint64_t end = now_usec(CLOCK_MONOTONIC) + limit_ms * USEC_PER_MSEC;

        while (*counter < want && now_usec(CLOCK_MONOTONIC) < end)
                assert_true(sd_event_run(f->event, 10 * USEC_PER_MSEC) >= 0);
        return *counter;
}

static void run_for(Fixture *f, uint64_t ms) {
        static const unsigned never = 0;
        run_until(f, &never, 1, ms);
}

/* One probe against a server in the given mode; the monitor is freed after. */
static Rec probe_once(Fixture *f, uint16_t port, CheckType type, uint64_t timeout_ms) {
        ServiceSettings s = settings(type, 10000, timeout_ms);
        Rec rec = {};
        HealthMonitor *m = monitor(f, f->checker, port, &s, &rec);

        assert_int_equal(run_until(f, &rec.calls, 1, 3000), 1);
        health_monitor_free(m);
        return rec;
}

/* probe_once() against a new server in mode, returned in *ret_srv. */
static Rec probe_server(Fixture *f, Serve mode, CheckType type, uint64_t timeout_ms, TestServer **ret_srv) {
        *ret_srv = server_new(f, mode);
        return probe_once(f, (*ret_srv)->port, type, timeout_ms);
}

/* The last probe left the backend's health, and error as its last failure's reason (DD_ERR_NONE: none yet). */
static void assert_probed(const Rec *rec, uint8_t health, uint16_t error) {
        assert_int_equal(rec->last.health, health);
        assert_int_equal(rec->last.last_error, error);
}

static void test_tcp_probe_of_listener_is_up(void **state) {
        Fixture *f = *state;
        TestServer *srv;
        Rec rec = probe_server(f, SERVE_NOACCEPT, CHECK_TCP, 500, &srv);

        assert_int_equal(rec.last.health, DD_HEALTH_UP);
        assert_int_equal(rec.transitions, 1);
        assert_int_equal(rec.last.checks, 1);
        assert_int_equal(rec.last.failures, 0);
        assert_int_equal(rec.last.last_error, DD_ERR_NONE);
        assert_true(rec.last.last_check_usec > 0);
        assert_int_equal(health_checker_probes(f->checker), 1);
}

static void test_tcp_probe_of_closed_port_is_connection_refused(void **state) {
        Fixture *f = *state;
        Rec rec = probe_once(f, refused_port(), CHECK_TCP, 500);

        assert_probed(&rec, DD_HEALTH_DOWN, DD_ERR_CONNREFUSED);
        assert_int_equal(rec.last.failures, 1);
        assert_int_equal(rec.transitions, 1);
}

static void test_http_probe_sends_get_with_host_and_accepts_200(void **state) {
        Fixture *f = *state;
        TestServer *srv;
        char want[64];
        Rec rec = probe_server(f, SERVE_OK, CHECK_HTTP, 1000, &srv);

        assert_probed(&rec, DD_HEALTH_UP, DD_ERR_NONE);
        assert_int_equal(srv->requests, 1);
        assert_string_equal(srv->request_line, "GET /healthz HTTP/1.1");
        /* RFC 9110 §7.2: the port is part of Host unless it is the default. */
        snprintf(want, sizeof want, "backend.example:%u", srv->port);
        assert_string_equal(srv->host, want);
}

/* A request cut at 511 bytes lost its final blank line: the server waited, every probe timed out. */
static void test_http_probe_sends_the_longest_path_whole(void **state) {
        Fixture *f = *state;
        TestServer *srv = server_new(f, SERVE_OK);
        ServiceSettings s = settings(CHECK_HTTP, 10000, 1000);
        char path[CONFIG_CHECK_PATH_MAX + 1];
        Rec rec = {};

        memset(path, 'p', sizeof path - 1);
        path[0] = '/';
        path[sizeof path - 1] = '\0';
        s.check_path = path;
        HealthMonitor *m = monitor(f, f->checker, srv->port, &s, &rec);
        assert_int_equal(run_until(f, &rec.calls, 1, 3000), 1);
        health_monitor_free(m);

        assert_int_equal(rec.last.health, DD_HEALTH_UP);
        assert_int_equal(srv->requests, 1);
        assert_int_equal(strncmp(srv->request_line, "GET /ppp", 8), 0);
}

/* A 103 Early Hints or 100 Continue before the final response made the backend down. */
static void test_http_probe_skips_interim_responses(void **state) {
        Fixture *f = *state;
        TestServer *srv;
        Rec rec = probe_server(f, SERVE_INTERIM, CHECK_HTTP, 1000, &srv);

        assert_probed(&rec, DD_HEALTH_UP, DD_ERR_NONE);
}

static void test_http_probe_of_endless_interim_responses_is_protocol_failure(void **state) {
        Fixture *f = *state;
        TestServer *srv;
        Rec rec = probe_server(f, SERVE_INTERIM_FLOOD, CHECK_HTTP, 1000, &srv);

        assert_probed(&rec, DD_HEALTH_DOWN, DD_ERR_PROTOCOL);
}

static void test_http_probe_of_500_is_http_status_failure(void **state) {
        Fixture *f = *state;
        TestServer *srv;
        Rec rec = probe_server(f, SERVE_500, CHECK_HTTP, 1000, &srv);

        assert_int_equal(srv->requests, 1);
        assert_probed(&rec, DD_HEALTH_DOWN, DD_ERR_HTTP_STATUS);
}

static void test_http_probe_of_silent_server_times_out(void **state) {
        Fixture *f = *state;
        TestServer *srv;
        Rec rec = probe_server(f, SERVE_HANG, CHECK_HTTP, 200, &srv);

        assert_int_equal(srv->requests, 1);
        assert_probed(&rec, DD_HEALTH_DOWN, DD_ERR_CHECK_TIMEOUT);
        /* Given up at the timeout, not before, and not much after. */
        assert_true(rec.last.last_latency_usec >= 200 * USEC_PER_MSEC);
        assert_true(rec.last.last_latency_usec < 700 * USEC_PER_MSEC);
}

static void test_http_probe_of_server_closing_at_once_is_protocol_failure(void **state) {
        Fixture *f = *state;
        TestServer *srv = server_new(f, SERVE_CLOSE);

        /* Whether the close races the request (a reset) or not (an end of
         * file), the backend broke the exchange: a protocol failure. */
        for (int i = 0; i < 5; i++) {
                Rec rec = probe_once(f, srv->port, CHECK_HTTP, 1000);

                assert_int_equal(srv->accepted, i + 1);
                assert_probed(&rec, DD_HEALTH_DOWN, DD_ERR_PROTOCOL);
        }
}

static void test_http_probe_of_huge_header_is_protocol_failure(void **state) {
        Fixture *f = *state;
        TestServer *srv;
        Rec rec = probe_server(f, SERVE_HUGE, CHECK_HTTP, 1000, &srv);

        assert_int_equal(srv->requests, 1);
        assert_true(huge_sent > 1024);
        assert_probed(&rec, DD_HEALTH_DOWN, DD_ERR_PROTOCOL);
        /* Bounded read: the probe ended well before the timeout. */
        assert_true(rec.last.last_latency_usec < 500 * USEC_PER_MSEC);
}

static void test_http_probe_of_non_http_reply_is_protocol_failure(void **state) {
        Fixture *f = *state;
        TestServer *srv;
        Rec rec = probe_server(f, SERVE_GARBAGE, CHECK_HTTP, 1000, &srv);

        assert_int_equal(srv->requests, 1);
        assert_int_equal(rec.last.last_error, DD_ERR_PROTOCOL);
}

static void test_monitor_freed_during_probe_gets_no_callback(void **state) {
        Fixture *f = *state;
        TestServer *srv = server_new(f, SERVE_HANG), *ok = server_new(f, SERVE_NOACCEPT);
        ServiceSettings s = settings(CHECK_HTTP, 10000, 300);
        HealthChecker *one = NULL;
        Rec rec = {}, rec2 = {};

        assert_int_equal(health_checker_new(f->event, 1, &one), 0);
        HealthMonitor *m = monitor(f, one, srv->port, &s, &rec);
        assert_int_equal(run_until(f, &srv->requests, 1, 2000), 1);
        health_monitor_free(m);

        /* Past the abandoned probe's deadline: nothing fires, and its socket is closed. */
        assert_int_equal(run_until(f, &srv->peer_closed, 1, 1000), 1);
        run_for(f, 400);
        assert_int_equal(rec.calls, 0);

        /* Its slot is free again: the only slot of this checker. */
        ServiceSettings t = settings(CHECK_TCP, 10000, 300);
        m = monitor(f, one, ok->port, &t, &rec2);
        assert_int_equal(run_until(f, &rec2.calls, 1, 1000), 1);
        assert_int_equal(rec2.last.health, DD_HEALTH_UP);
        health_monitor_free(m);
        health_checker_free(one);
}

static void test_queued_monitor_freed_never_probes(void **state) {
        Fixture *f = *state;
        TestServer *hang = server_new(f, SERVE_HANG), *ok = server_new(f, SERVE_OK);
        ServiceSettings s = settings(CHECK_HTTP, 10000, 200);
        HealthChecker *one = NULL;
        Rec ra = {}, rb = {};

        assert_int_equal(health_checker_new(f->event, 1, &one), 0);
        HealthMonitor *a = monitor(f, one, hang->port, &s, &ra);
        HealthMonitor *b = monitor(f, one, ok->port, &s, &rb);
        /* a holds the only slot; b waits for it and is freed while waiting. */
        assert_int_equal(run_until(f, &hang->requests, 1, 2000), 1);
        health_monitor_free(b);
        assert_int_equal(run_until(f, &ra.calls, 1, 2000), 1);
        run_for(f, 200);
        assert_int_equal(rb.calls, 0);
        assert_int_equal(ok->accepted, 0);
        assert_int_equal(health_checker_probes(one), 1);
        health_monitor_free(a);
        health_checker_free(one);
}

/* The daemon's own fd exhaustion marked every backend down: a probe that cannot get a socket
 * is skipped and counted, and the backend keeps its health. */
static void test_probe_without_a_free_fd_is_skipped_and_changes_no_health(void **state) {
        Fixture *f = *state;
        TestServer *srv = server_new(f, SERVE_NOACCEPT);
        ServiceSettings s = settings(CHECK_TCP, 50, 40);
        struct rlimit saved, low;
        Rec rec = {};
        HealthMonitor *m = monitor(f, f->checker, srv->port, &s, &rec);

        assert_int_equal(run_until(f, &rec.calls, 1, 3000), 1);
        assert_int_equal(rec.last.health, DD_HEALTH_UP);

        /* No fd above the lowest free one: the next socket() fails with EMFILE. */
        int lowest = dup(0);
        assert_true(lowest >= 0);
        close(lowest);
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
        low = (struct rlimit) { .rlim_cur = (rlim_t) lowest, .rlim_max = saved.rlim_max };
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
        for (uint64_t end = now_usec(CLOCK_MONOTONIC) + 5 * USEC_PER_SEC;
             health_checker_skipped(f->checker) < 4 && now_usec(CLOCK_MONOTONIC) < end;)
                assert_true(sd_event_run(f->event, 10 * USEC_PER_MSEC) >= 0);
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);

        assert_true(health_checker_skipped(f->checker) >= 4);
        /* Each skip is told to the monitor's owner, who publishes the count. */
        assert_int_equal(rec.skips, health_checker_skipped(f->checker));
        const HealthStatus *st = health_monitor_status(m);
        assert_int_equal(st->health, DD_HEALTH_UP);
        assert_int_equal(st->failures, 0);
        assert_int_equal(st->consecutive_fail, 0);
        assert_int_equal(rec.transitions, 1);

        /* With fds back, probes run and count again. */
        unsigned calls = rec.calls;
        assert_true(run_until(f, &rec.calls, calls + 1, 3000) > calls);
        uint64_t skipped = health_checker_skipped(f->checker);
        assert_int_equal(rec.last.health, DD_HEALTH_UP);
        assert_true(rec.last.checks >= 2);
        run_for(f, 200);
        assert_int_equal(health_checker_skipped(f->checker), skipped);
        health_monitor_free(m);
}

/* With max-checks-inflight above the open-file limit, socket() failed with EMFILE and healthy
 * backends went down: probes at once are kept within what the limit leaves. */
static void test_checks_in_flight_stay_within_the_open_file_limit(void **state) {
        Fixture *f = *state;
        struct rlimit saved, low;
        HealthChecker *h = NULL;

        assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
        low = (struct rlimit) { .rlim_cur = 200, .rlim_max = saved.rlim_max };
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
        assert_int_equal(health_checker_new(f->event, 65536, &h), 0);
        assert_int_equal(health_checker_max_inflight(h), 200 - 64);
        health_checker_free(h);
        assert_int_equal(health_checker_new(f->event, 100, &h), 0);
        assert_int_equal(health_checker_max_inflight(h), 100);
        health_checker_free(h);
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static void test_max_checks_inflight_bounds_concurrent_probes(void **state) {
        Fixture *f = *state;
        ServiceSettings s = settings(CHECK_HTTP, 400, 100);
        HealthChecker *one = NULL;
        HealthMonitor *m[3];
        Rec rec[3] = {};
        uint64_t starts[3 * PROBES_MAX], ends[3 * PROBES_MAX];
        size_t n = 0;
        unsigned total = 0;

        assert_int_equal(health_checker_new(f->event, 1, &one), 0);
        for (int i = 0; i < 3; i++)
                m[i] = monitor(f, one, server_new(f, SERVE_HANG)->port, &s, &rec[i]);
        for (uint64_t end = now_usec(CLOCK_MONOTONIC) + 3 * USEC_PER_SEC;
             total < 9 && now_usec(CLOCK_MONOTONIC) < end;) {
                assert_true(sd_event_run(f->event, 10 * USEC_PER_MSEC) >= 0);
                total = rec[0].calls + rec[1].calls + rec[2].calls;
        }
        assert_true(total >= 9);
        for (int i = 0; i < 3; i++) {
                assert_true(rec[i].calls >= 2);
                for (unsigned k = 0; k < rec[i].calls && k < PROBES_MAX; k++, n++) {
                        starts[n] = rec[i].start[k];
                        ends[n] = rec[i].end[k];
                }
        }
        /* Each probe holds its socket from start to end: with one slot the
         * intervals, sorted by start, must not overlap. */
        qsort(starts, n, sizeof *starts, cmp_u64);
        qsort(ends, n, sizeof *ends, cmp_u64);
        for (size_t k = 0; k + 1 < n; k++)
                assert_true(starts[k + 1] >= ends[k]);
        for (int i = 0; i < 3; i++)
                health_monitor_free(m[i]);
        health_checker_free(one);
}

static void test_probes_of_one_monitor_never_overlap(void **state) {
        Fixture *f = *state;
        TestServer *srv = server_new(f, SERVE_HANG);
        /* An interval shorter than the timeout, which the configuration
         * forbids, is the only way the next probe could be due early. */
        ServiceSettings s = settings(CHECK_HTTP, 50, 150);
        Rec rec = {};
        HealthMonitor *m = monitor(f, f->checker, srv->port, &s, &rec);

        assert_int_equal(run_until(f, &rec.calls, 4, 3000), 4);
        health_monitor_free(m);
        for (unsigned k = 0; k < 4; k++) {
                assert_true(rec.end[k] - rec.start[k] >= 150 * USEC_PER_MSEC);
                if (k > 0)
                        assert_true(rec.start[k] >= rec.end[k - 1]);
        }
        /* One connection per probe; a fifth may have begun before the free. */
        assert_true(srv->accepted >= 4 && srv->accepted <= 5);
}

static void test_probe_times_of_equal_interval_monitors_are_jittered(void **state) {
        Fixture *f = *state;
        TestServer *srv = server_new(f, SERVE_NOACCEPT);
        const uint64_t interval = 1000 * USEC_PER_MSEC;
        ServiceSettings s = settings(CHECK_TCP, 1000, 200);
        HealthMonitor *m[10];
        Rec rec[10] = {};
        uint64_t second[10];
        unsigned done = 0, distinct = 1;

        for (int i = 0; i < 10; i++)
                m[i] = monitor(f, f->checker, srv->port, &s, &rec[i]);
        for (uint64_t end = now_usec(CLOCK_MONOTONIC) + 4 * USEC_PER_SEC;
             done < 10 && now_usec(CLOCK_MONOTONIC) < end;) {
                assert_true(sd_event_run(f->event, 10 * USEC_PER_MSEC) >= 0);
                done = 0;
                for (int i = 0; i < 10; i++)
                        done += rec[i].calls >= 3;
        }
        assert_int_equal(done, 10);
        for (int i = 0; i < 10; i++) {
                /* Second probe at a random phase in [0.5, 1) x interval, later
                 * ones every [0.95, 1.05) x interval. Timers never fire early;
                 * they may fire late on a loaded machine (ASan, two tests at
                 * once: stalls of 200 ms were seen), hence the slack. */
                const uint64_t late = 250 * USEC_PER_MSEC;
                uint64_t d1 = rec[i].start[1] - rec[i].start[0], d2 = rec[i].start[2] - rec[i].start[1];
                assert_true(d1 >= interval / 2 && d1 <= interval + late);
                assert_true(d2 >= interval * 95 / 100 - late && d2 <= interval * 105 / 100 + late);
                second[i] = rec[i].start[1];
        }
        for (int i = 0; i < 10; i++)
                health_monitor_free(m[i]);

        /* Not in lockstep: the times spread, and few share a millisecond
         * (random draws may collide now and then, so not "all distinct"). */
        qsort(second, 10, sizeof *second, cmp_u64);
        for (int i = 1; i < 10; i++)
                distinct += second[i] - second[i - 1] >= USEC_PER_MSEC;
        assert_true(distinct >= 7);
        assert_true(second[9] - second[0] >= interval / 20);
}

int main(void) {
#define F(t) cmocka_unit_test_setup_teardown(t, fixture_setup, fixture_teardown)
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_first_success_makes_unknown_backend_up),
                cmocka_unit_test(test_first_failure_makes_unknown_backend_down),
                cmocka_unit_test(test_up_backend_goes_down_after_fall_consecutive_failures),
                cmocka_unit_test(test_down_backend_goes_up_after_rise_consecutive_successes),
                cmocka_unit_test(test_rise_and_fall_of_one_flip_on_every_change),
                cmocka_unit_test(test_counters_count_checks_failures_and_last_error),
                cmocka_unit_test(test_consecutive_counters_saturate),
                cmocka_unit_test(test_status_2xx_is_success),
                cmocka_unit_test(test_status_500_is_failure_with_its_code),
                cmocka_unit_test(test_partial_status_line_needs_more_bytes),
                cmocka_unit_test(test_garbage_is_not_http),
                cmocka_unit_test(test_malformed_status_lines_are_not_http),
                cmocka_unit_test(test_status_line_length_is_reported),
                cmocka_unit_test(test_http10_204_is_success),
                cmocka_unit_test(test_status_line_without_reason_phrase),
                F(test_tcp_probe_of_listener_is_up),
                F(test_tcp_probe_of_closed_port_is_connection_refused),
                F(test_http_probe_sends_get_with_host_and_accepts_200),
                F(test_http_probe_sends_the_longest_path_whole),
                F(test_http_probe_skips_interim_responses),
                F(test_http_probe_of_endless_interim_responses_is_protocol_failure),
                F(test_http_probe_of_500_is_http_status_failure),
                F(test_http_probe_of_silent_server_times_out),
                F(test_http_probe_of_server_closing_at_once_is_protocol_failure),
                F(test_http_probe_of_huge_header_is_protocol_failure),
                F(test_http_probe_of_non_http_reply_is_protocol_failure),
                F(test_monitor_freed_during_probe_gets_no_callback),
                F(test_queued_monitor_freed_never_probes),
                F(test_probe_without_a_free_fd_is_skipped_and_changes_no_health),
                F(test_checks_in_flight_stay_within_the_open_file_limit),
                F(test_max_checks_inflight_bounds_concurrent_probes),
                F(test_probes_of_one_monitor_never_overlap),
                F(test_probe_times_of_equal_interval_monitors_are_jittered),
        };
#undef F

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
