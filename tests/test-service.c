/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-service.c: unit tests of daemon/service.c: the state machine against a DNS responder in the
 * test's own event loop, on an injected clock. */
#include <arpa/inet.h>
#include <errno.h>
#include <ldns/ldns.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "cache-writer.h"
#include "resolve.h"
#include "service.h"
#include "tempdir.h"
#include "util.h"

/* ---- the injected clock: the real one plus a step per clock */

static int64_t step_realtime, step_boottime, step_monotonic;

static uint64_t fake_clock(clockid_t clock) {
        int64_t step = clock == CLOCK_REALTIME ? step_realtime : clock == CLOCK_BOOTTIME ? step_boottime
                                                                                          : step_monotonic;
        return (uint64_t) ((int64_t) now_usec(clock) + step);
}

/* ---- a DNS responder on 127.0.0.1, served from the test's own event loop */

#define ZONE_MAX 16

typedef struct Responder {
        int fd;
        uint16_t port;
        sd_event_source *io;
        const char *zone[ZONE_MAX];   /* records in presentation form; NULL-terminated */
        ldns_pkt_rcode rcode;          /* LDNS_RCODE_NOERROR: answer from zone */
        unsigned queries;
        char asked[ZONE_MAX][80];      /* the first ZONE_MAX questions, "name/type" */
} Responder;

static ldns_rr_list *zone_rrs(const Responder *d) {
        ldns_rr_list *l = ldns_rr_list_new();
        for (size_t i = 0; i < ZONE_MAX && d->zone[i]; i++) {
                ldns_rr *rr = NULL;
                assert_int_equal(ldns_rr_new_frm_str(&rr, d->zone[i], 0, NULL, NULL), LDNS_STATUS_OK);
                ldns_rr_list_push_rr(l, rr);
        }
        return l;
}

/* NOERROR with the records of the name and type (or its CNAME), glue for SRV targets; NXDOMAIN
 * for a name the zone does not hold. */
static ldns_pkt *respond(const Responder *d, const ldns_pkt *q) {
        const ldns_rr *question = ldns_rr_list_rr(ldns_pkt_question(q), 0);
        const ldns_rdf *qname = ldns_rr_owner(question);
        ldns_rr_type qtype = ldns_rr_get_type(question);
        ldns_pkt *a = ldns_pkt_new();
        ldns_rr_list *zone = zone_rrs(d);
        bool name_exists = false;

        ldns_pkt_set_id(a, ldns_pkt_id(q));
        ldns_pkt_set_qr(a, true);
        ldns_pkt_set_aa(a, true);
        ldns_pkt_set_rd(a, ldns_pkt_rd(q));
        ldns_pkt_push_rr(a, LDNS_SECTION_QUESTION, ldns_rr_clone(question));
        if (d->rcode != LDNS_RCODE_NOERROR) {
                ldns_pkt_set_rcode(a, (uint8_t) d->rcode);
                ldns_rr_list_deep_free(zone);
                return a;
        }
        for (size_t i = 0; i < ldns_rr_list_rr_count(zone); i++) {
                const ldns_rr *rr = ldns_rr_list_rr(zone, i);
                if (ldns_dname_compare(ldns_rr_owner(rr), qname) != 0)
                        continue;
                name_exists = true;
                if (ldns_rr_get_type(rr) == qtype || ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME)
                        ldns_pkt_push_rr(a, LDNS_SECTION_ANSWER, ldns_rr_clone(rr));
                if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SRV || qtype != LDNS_RR_TYPE_SRV)
                        continue;
                for (size_t k = 0; k < ldns_rr_list_rr_count(zone); k++) {
                        const ldns_rr *g = ldns_rr_list_rr(zone, k);
                        if ((ldns_rr_get_type(g) == LDNS_RR_TYPE_A || ldns_rr_get_type(g) == LDNS_RR_TYPE_AAAA) &&
                            ldns_dname_compare(ldns_rr_owner(g), ldns_rr_rdf(rr, 3)) == 0)
                                ldns_pkt_push_rr(a, LDNS_SECTION_ADDITIONAL, ldns_rr_clone(g));
                }
        }
        ldns_pkt_set_rcode(a, name_exists ? LDNS_RCODE_NOERROR : LDNS_RCODE_NXDOMAIN);
        ldns_rr_list_deep_free(zone);
        return a;
}

static int on_query(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        Responder *d = userdata;
        uint8_t buf[4096];
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *) &from, &fromlen);
        ldns_pkt *q = NULL;

        if (n <= 0 || ldns_wire2pkt(&q, buf, (size_t) n) != LDNS_STATUS_OK)
                return 0;
        if (d->queries < ZONE_MAX) {
                const ldns_rr *question = ldns_rr_list_rr(ldns_pkt_question(q), 0);
                char *name = question ? ldns_rdf2str(ldns_rr_owner(question)) : NULL;
                snprintf(d->asked[d->queries], sizeof d->asked[0], "%s/%u", name ? name : "?",
                         question ? (unsigned) ldns_rr_get_type(question) : 0u);
                free(name);
        }
        d->queries++;
        ldns_pkt *a = respond(d, q);
        uint8_t *wire = NULL;
        size_t len = 0;
        assert_int_equal(ldns_pkt2wire(&wire, a, &len), LDNS_STATUS_OK);
        (void) sendto(fd, wire, len, 0, (struct sockaddr *) &from, fromlen);
        free(wire);
        ldns_pkt_free(a);
        ldns_pkt_free(q);
        return 0;
}

static void responder_start(Responder *d, sd_event *e) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof sa;
        d->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        assert_true(d->fd >= 0);
        assert_int_equal(bind(d->fd, (struct sockaddr *) &sa, sizeof sa), 0);
        assert_int_equal(getsockname(d->fd, (struct sockaddr *) &sa, &len), 0);
        d->port = ntohs(sa.sin_port);
        assert_true(sd_event_add_io(e, &d->io, d->fd, EPOLLIN, on_query, d) >= 0);
}

/* ---- the fixture: one SRV service resolved through the responder, published to a cache in a temporary directory */

typedef struct Fixture {
        char dir[64], path[96];
        sd_event *event;
        Responder dns;
        Resolver *resolver;
        CacheWriter *writer;
        ServiceContext ctx;
        ServiceConfig cfg;
        Service *service;
} Fixture;

#define SRV_NAME "_http._tcp.svc.test"

static ServiceSettings settings(void) {
        return (ServiceSettings) {
                .min_ttl_usec = USEC_PER_SEC,
                .max_ttl_usec = 3600 * USEC_PER_SEC,
                .stale_ttl_usec = 600 * USEC_PER_SEC,
                .negative_confirm = 2,
                .family = FAMILY_IPV4,
                .max_backends = 64,
                .check = CHECK_NONE,
                .panic = true,
        };
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        assert_non_null(f);
        step_realtime = step_boottime = step_monotonic = 0;
        assert_int_equal(tempdir_make("test-service", f->dir, f->path), 0);
        assert_int_equal(sd_event_new(&f->event), 0);
        responder_start(&f->dns, f->event);

        ResolverServer server = { .family = AF_INET, .addr = { 127, 0, 0, 1 }, .port = f->dns.port };
        ResolverConfig rc = { .servers = &server, .n_servers = 1, .timeout_usec = USEC_PER_SEC, .tries = 1,
                              .max_inflight = 16 };
        assert_int_equal(resolver_new(f->event, &rc, &f->resolver), 0);
        assert_int_equal(cache_writer_open(f->path, &f->writer), 0);
        f->ctx = (ServiceContext) {
                .event = f->event,
                .resolver = f->resolver,
                .writer = f->writer,
                .rng = 1,
                .clock = fake_clock,
        };
        assert_int_equal(service_context_start(&f->ctx), 0);
        f->cfg = (ServiceConfig) { .name = (char *) "svc", .srv = (char *) SRV_NAME, .s = settings() };
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        service_unref(f->service);
        f->ctx.timers = timer_queue_free(f->ctx.timers);
        resolver_free(f->resolver);
        cache_writer_free(f->writer);
        sd_event_source_disable_unref(f->dns.io);
        close(f->dns.fd);
        sd_event_unref(f->event);
        tempdir_remove(f->dir);
        free(f);
        return 0;
}

/* Run the loop until cond holds; 10 s of real time is a failure, not a wait to tune. */
#define RUN_UNTIL(f, cond)                                                                         \
        do {                                                                                       \
                uint64_t _end = now_usec(CLOCK_MONOTONIC) + 10 * USEC_PER_SEC;                     \
                while (!(cond) && now_usec(CLOCK_MONOTONIC) < _end)                                \
                        assert_true(sd_event_run((f)->event, 10 * USEC_PER_MSEC) >= 0);            \
                assert_true(cond);                                                                 \
        } while (0)

static uint64_t errors(const Service *s) {
        uint64_t n = 0;
        for (unsigned c = DD_SCTR_ERR_TIMEOUT; c <= DD_SCTR_ERR_OTHER; c++)
                n += service_counter(s, c);
        return n;
}

static size_t n_backends(const Service *s) {
        const Backend *b;
        return service_backends(s, &b);
}

/* Start the service with the zone's SRV set and wait for it to be ok. */
static void start_ok(Fixture *f) {
        assert_int_equal(service_new(&f->ctx, &f->cfg, &f->service), 0);
        assert_int_equal(service_start(f->service), 0);
        RUN_UNTIL(f, service_state(f->service) == DD_STATE_OK);
}

/* Refresh now and wait for the round to end in an error. */
static void refresh_failing(Fixture *f) {
        uint64_t before = errors(f->service);
        RUN_UNTIL(f, service_refresh_now(f->service) == 1);
        RUN_UNTIL(f, errors(f->service) > before);
}

static void serve_one_backend(Fixture *f, const char *ttl) {
        static char srv[128], a[128];
        snprintf(srv, sizeof srv, SRV_NAME ". %s IN SRV 0 1 80 b1.svc.test.", ttl);
        snprintf(a, sizeof a, "b1.svc.test. %s IN A 127.0.0.2", ttl);
        f->dns.zone[0] = srv;
        f->dns.zone[1] = a;
        f->dns.zone[2] = NULL;
        f->dns.rcode = LDNS_RCODE_NOERROR;
}

/* One backend with ttl served and the service started with it, ok; then the server fails (SERVFAIL). */
static void start_then_servfail(Fixture *f, const char *ttl) {
        serve_one_backend(f, ttl);
        start_ok(f);
        f->dns.rcode = LDNS_RCODE_SERVFAIL;
}

/* The service is in state with n backends. */
static void assert_service(const Fixture *f, uint8_t state, size_t n) {
        assert_int_equal(service_state(f->service), state);
        assert_int_equal(n_backends(f->service), n);
}

static void test_transport_errors_map_to_short_codes(void **state) {
        assert_int_equal(service_error_from_errno(-ETIMEDOUT), DD_ERR_TIMEOUT);
        assert_int_equal(service_error_from_errno(-EREMOTEIO), DD_ERR_SERVFAIL);
        assert_int_equal(service_error_from_errno(-EACCES), DD_ERR_REFUSED);
        assert_int_equal(service_error_from_errno(-ECONNREFUSED), DD_ERR_CONNREFUSED);
        assert_int_equal(service_error_from_errno(-EHOSTUNREACH), DD_ERR_NETWORK);
        assert_int_equal(service_error_from_errno(-EBADMSG), DD_ERR_MALFORMED);
        assert_int_equal(service_error_from_errno(-ELOOP), DD_ERR_MALFORMED);
        assert_int_equal(service_error_from_errno(-ENXIO), DD_ERR_NXDOMAIN);
        assert_int_equal(service_error_from_errno(-ENODATA), DD_ERR_NODATA);
        assert_int_equal(service_error_from_errno(-EIO), DD_ERR_NETWORK);
        assert_int_equal(service_error_from_errno(-ENOMEM), DD_ERR_OTHER);
}

static void test_wall_clock_steps_during_an_outage_keep_the_stale_set(void **state) {
        Fixture *f = *state;
        start_then_servfail(f, "30");

        /* Stepped back an hour: the age on the wall clock is negative. */
        step_realtime = -3600 * (int64_t) USEC_PER_SEC;
        refresh_failing(f);
        assert_service(f, DD_STATE_STALE, 1);

        /* Then a day ahead: far over stale-ttl on the wall clock, seconds on the daemon's. */
        step_realtime = 86400 * (int64_t) USEC_PER_SEC;
        refresh_failing(f);
        assert_service(f, DD_STATE_STALE, 1);
}

static void test_stale_set_is_dropped_when_the_daemons_clock_passes_stale_ttl(void **state) {
        Fixture *f = *state;
        start_then_servfail(f, "30");
        refresh_failing(f);
        assert_int_equal(service_state(f->service), DD_STATE_STALE);

        /* The wall clock stands still (stepped back as much as time passes); the daemon's moves on. */
        step_boottime = step_monotonic = (int64_t) (f->cfg.s.stale_ttl_usec + 3600 * USEC_PER_SEC);
        step_realtime = 0;
        refresh_failing(f);
        assert_service(f, DD_STATE_ERROR, 0);
}

/* Fail a refresh with the daemon's clock at sec seconds after the good answer. */
static void fail_at(Fixture *f, int64_t sec) {
        step_boottime = step_monotonic = step_realtime = sec * (int64_t) USEC_PER_SEC;
        refresh_failing(f);
}

static void test_stale_ttl_counts_from_expiry_for_a_ttl_longer_than_stale_ttl(void **state) {
        Fixture *f = *state;
        /* TTL 30 min, stale-ttl 10 min: served stale until 40 min after the answer. */
        start_then_servfail(f, "1800");
        fail_at(f, 25 * 60); /* before expiry, past stale-ttl since the answer */
        assert_service(f, DD_STATE_STALE, 1);
        fail_at(f, 39 * 60);
        assert_service(f, DD_STATE_STALE, 1);
        fail_at(f, 41 * 60);
        assert_service(f, DD_STATE_ERROR, 0);
}

static void test_stale_ttl_counts_from_expiry_for_a_ttl_shorter_than_stale_ttl(void **state) {
        Fixture *f = *state;
        /* TTL 1 min, stale-ttl 10 min: served stale until 11 min after the answer. */
        start_then_servfail(f, "60");
        fail_at(f, 50);
        assert_int_equal(service_state(f->service), DD_STATE_STALE);
        fail_at(f, 10 * 60 + 30); /* past stale-ttl since the answer, not since expiry */
        assert_service(f, DD_STATE_STALE, 1);
        fail_at(f, 11 * 60 + 30);
        assert_service(f, DD_STATE_ERROR, 0);
}

static void test_stale_set_is_dropped_on_time_between_rounds(void **state) {
        Fixture *f = *state;
        start_then_servfail(f, "60");
        fail_at(f, 50);
        assert_int_equal(service_state(f->service), DD_STATE_STALE);
        /* The refresh timer fires with the window over: the set goes then, not when the round it
         * starts has failed (the responder sees the query before the daemon can see its answer). */
        step_boottime = step_monotonic = step_realtime = (11 * 60 + 1) * (int64_t) USEC_PER_SEC;
        unsigned queries = f->dns.queries;
        assert_int_equal(service_refresh_now(f->service), 1);
        RUN_UNTIL(f, f->dns.queries > queries);
        assert_service(f, DD_STATE_ERROR, 0);
}

/* Refresh now and wait for the round to end with one more of counter. */
static void refresh_counting(Fixture *f, unsigned counter) {
        uint64_t before = service_counter(f->service, counter);
        RUN_UNTIL(f, service_refresh_now(f->service) == 1);
        RUN_UNTIL(f, service_counter(f->service, counter) > before);
}

static void test_negative_confirm_counts_again_after_a_positive_answer(void **state) {
        Fixture *f = *state;
        assert_int_equal(f->cfg.s.negative_confirm, 2);
        serve_one_backend(f, "30");
        start_ok(f);

        /* NXDOMAIN once: one of two, the set is kept. */
        f->dns.zone[0] = NULL;
        refresh_counting(f, DD_SCTR_ERR_NXDOMAIN);
        assert_service(f, DD_STATE_OK, 1);

        /* The records are back: ok. */
        serve_one_backend(f, "30");
        refresh_counting(f, DD_SCTR_RESOLUTIONS);
        assert_int_equal(service_state(f->service), DD_STATE_OK);

        /* NXDOMAIN once again: the count restarted, so this is one of two again. */
        f->dns.zone[0] = NULL;
        refresh_counting(f, DD_SCTR_ERR_NXDOMAIN);
        assert_service(f, DD_STATE_OK, 1);

        /* And the second in a row confirms it. */
        refresh_counting(f, DD_SCTR_ERR_NXDOMAIN);
        assert_service(f, DD_STATE_NEGATIVE, 0);
}

static void test_a_cname_shorter_than_the_srv_set_bounds_its_ttl(void **state) {
        Fixture *f = *state;
        /* The responder answers the CNAME alone: the service follows it with a query of its own. */
        f->dns.zone[0] = SRV_NAME ". 2 IN CNAME _http._tcp.one.test.";
        f->dns.zone[1] = "_http._tcp.one.test. 300 IN SRV 0 1 80 b1.one.test.";
        f->dns.zone[2] = "b1.one.test. 300 IN A 127.0.0.2";
        f->dns.zone[3] = "_http._tcp.two.test. 300 IN SRV 0 1 80 b2.two.test.";
        f->dns.zone[4] = "b2.two.test. 300 IN A 127.0.0.3";
        f->dns.zone[5] = NULL;
        start_ok(f);
        const Backend *b;
        assert_int_equal(service_backends(f->service, &b), 1);
        assert_int_equal(b[0].addr[3], 2);
        /* Expires with the CNAME (2 s), not the SRV record (300 s). */
        int64_t left = b[0].expiry_usec - (int64_t) now_usec(CLOCK_BOOTTIME);
        assert_true(left > 0 && left <= 2 * (int64_t) USEC_PER_SEC);

        /* Repointed: followed by the very next round (the CNAME and the SRV query), which the
         * refresh timer starts within the CNAME's TTL; real time here, 1 s of it for a slow machine. */
        f->dns.zone[0] = SRV_NAME ". 2 IN CNAME _http._tcp.two.test.";
        unsigned q0 = f->dns.queries;
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        RUN_UNTIL(f, service_backends(f->service, &b) == 1 && b[0].addr[3] == 3);
        /* The CNAME, the SRV set, and the new target's own A: its glue stands in only until then. */
        assert_int_equal(f->dns.queries - q0, 3);
        assert_true(now_usec(CLOCK_MONOTONIC) - t0 <= 3 * USEC_PER_SEC);
}

static void test_notify_zones_cover_the_query_name_cname_targets_and_srv_targets(void **state) {
        Fixture *f = *state;
        /* The SRV name is a CNAME into other.test; the SRV target lives in far.test. */
        f->dns.zone[0] = SRV_NAME ". 30 IN CNAME _http._tcp.real.other.test.";
        f->dns.zone[1] = "_http._tcp.real.other.test. 30 IN SRV 0 1 80 b1.far.test.";
        f->dns.zone[2] = "b1.far.test. 30 IN A 127.0.0.2";
        f->dns.zone[3] = NULL;
        start_ok(f);
        assert_true(service_depends_on_zone(f->service, "svc.test"));
        assert_true(service_depends_on_zone(f->service, "test"));
        assert_true(service_depends_on_zone(f->service, "other.test"));
        assert_true(service_depends_on_zone(f->service, "far.test"));
        assert_true(service_depends_on_zone(f->service, ""));
        assert_false(service_depends_on_zone(f->service, "unrelated.test"));
        assert_false(service_depends_on_zone(f->service, "example.com"));

        /* The target moves out of far.test: the next answer replaces what the service depends on. */
        f->dns.zone[1] = "_http._tcp.real.other.test. 30 IN SRV 0 1 80 b1.near.test.";
        f->dns.zone[2] = "b1.near.test. 30 IN A 127.0.0.3";
        uint64_t resolved = service_counter(f->service, DD_SCTR_RESOLUTIONS);
        RUN_UNTIL(f, service_refresh_now(f->service) == 1);
        RUN_UNTIL(f, service_counter(f->service, DD_SCTR_RESOLUTIONS) > resolved);
        assert_true(service_depends_on_zone(f->service, "near.test"));
        assert_false(service_depends_on_zone(f->service, "far.test"));
}

static void test_notify_burst_is_one_round_now_and_one_after_the_interval(void **state) {
        Fixture *f = *state;
        const uint64_t interval = 200 * USEC_PER_MSEC;
        serve_one_backend(f, "3600");
        start_ok(f);
        unsigned queries = f->dns.queries;

        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        assert_int_equal(service_notify(f->service, interval), 1);
        for (int i = 0; i < 20; i++)
                assert_int_equal(service_notify(f->service, interval), 0); /* coalesced */
        RUN_UNTIL(f, service_counter(f->service, DD_SCTR_NOTIFY_ROUNDS) == 1);
        /* The SRV set and, its zone having changed, the glued target's own A. */
        RUN_UNTIL(f, f->dns.queries == queries + 2);
        assert_true(service_counter(f->service, DD_SCTR_NOTIFY_LAST_USEC) > 0);

        /* Inside the interval: one more round, at its end, however many NOTIFYs come. */
        assert_int_equal(service_notify(f->service, interval), 1);
        assert_int_equal(service_notify(f->service, interval), 0);
        RUN_UNTIL(f, service_counter(f->service, DD_SCTR_NOTIFY_ROUNDS) == 2);
        assert_true(now_usec(CLOCK_MONOTONIC) - t0 >= interval);
        RUN_UNTIL(f, f->dns.queries == queries + 4);

        /* And nothing after it: the TTL is an hour. */
        uint64_t end = now_usec(CLOCK_MONOTONIC) + 2 * interval;
        while (now_usec(CLOCK_MONOTONIC) < end)
                assert_true(sd_event_run(f->event, 10 * USEC_PER_MSEC) >= 0);
        assert_int_equal(f->dns.queries, queries + 4);
        assert_int_equal(service_counter(f->service, DD_SCTR_NOTIFY_ROUNDS), 2);
}

static void test_a_notify_round_asks_glued_targets_own_answers_again(void **state) {
        Fixture *f = *state;
        const Backend *b;
        serve_one_backend(f, "3600");
        start_ok(f);
        assert_int_equal(service_backends(f->service, &b), 1);
        assert_int_equal(b[0].addr[3], 2);

        /* The target's A changes (its glue too): the own answer kept for an hour must not hide it. */
        static const char a[] = "b1.svc.test. 3600 IN A 127.0.0.3";
        f->dns.zone[1] = a;
        unsigned queries = f->dns.queries;
        assert_int_equal(service_notify(f->service, 200 * USEC_PER_MSEC), 1);
        RUN_UNTIL(f, service_backends(f->service, &b) == 1 && b[0].addr[3] == 3);
        /* The SRV set, and the target's own A asked again although its TTL has not run out. */
        assert_int_equal(f->dns.queries - queries, 2);
}

static void test_an_adopted_set_keeps_its_expiry_on_the_daemons_clock(void **state) {
        Fixture *f = *state;
        /* A previous run published one backend 60 s ago with TTL 120 s: it expires in 60 s, so with
         * stale-ttl 10 min it may be served until 11 min from now, and no longer. */
        int64_t wall = (int64_t) now_usec(CLOCK_REALTIME);
        Backend b = { .family = 4, .addr = { 127, 0, 0, 9 }, .port = 80, .weight = 1, .source = DD_SOURCE_SRV,
                      .target = (char *) "old.svc.test", .health = DD_HEALTH_UP,
                      .ttl_expiry_usec = wall + 60 * (int64_t) USEC_PER_SEC };
        f->dns.rcode = LDNS_RCODE_SERVFAIL;
        assert_int_equal(service_new(&f->ctx, &f->cfg, &f->service), 0);
        assert_int_equal(service_adopt(f->service, &b, 1, DD_STATE_OK, wall - 60 * (int64_t) USEC_PER_SEC), 0);
        uint64_t before = errors(f->service);
        assert_int_equal(service_start(f->service), 0);
        RUN_UNTIL(f, errors(f->service) > before);
        assert_service(f, DD_STATE_STALE, 1);

        fail_at(f, 10 * 60 + 50);
        assert_service(f, DD_STATE_STALE, 1);
        fail_at(f, 11 * 60 + 10);
        assert_service(f, DD_STATE_ERROR, 0);
}

static void test_a_round_begun_is_finished_before_rounds_not_begun(void **state) {
        Fixture *f = *state;
        static const char *names[] = { "a", "b", "c", "d", "e", "f" }; /* f: the last */
        static char zone[2 * ELEMENTSOF(names)][96], srv[ELEMENTSOF(names)][64];
        ServiceConfig cfg[ELEMENTSOF(names)];
        Service *s[ELEMENTSOF(names)] = {};

        /* One query in flight at a time: the order the server sees is the order of the queue. */
        ResolverServer server = { .family = AF_INET, .addr = { 127, 0, 0, 1 }, .port = f->dns.port };
        ResolverConfig rc = { .servers = &server, .n_servers = 1, .timeout_usec = USEC_PER_SEC, .tries = 1,
                              .max_inflight = 1 };
        resolver_free(f->resolver);
        assert_int_equal(resolver_new(f->event, &rc, &f->resolver), 0);
        f->ctx.resolver = f->resolver;
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                snprintf(srv[i], sizeof srv[i], "_http._tcp.%s.test", names[i]);
                snprintf(zone[2 * i], sizeof zone[0], "%s. 60 IN SRV 0 1 80 t.%s.test.", srv[i], names[i]);
                snprintf(zone[2 * i + 1], sizeof zone[0], "t.%s.test. 60 IN A 127.0.0.%zu", names[i], i + 2);
                f->dns.zone[2 * i] = zone[2 * i];
                f->dns.zone[2 * i + 1] = zone[2 * i + 1];
                cfg[i] = (ServiceConfig) { .name = (char *) names[i], .srv = srv[i], .s = settings() };
                assert_int_equal(service_new(&f->ctx, &cfg[i], &s[i]), 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                assert_int_equal(service_start(s[i]), 0);
        RUN_UNTIL(f, service_state(s[0]) == DD_STATE_OK && service_state(s[1]) == DD_STATE_OK &&
                             service_state(s[2]) == DD_STATE_OK);

        /* A glued target is asked for its own A before rounds not yet begun send their SRV query:
         * the rounds in progress, and the memory they hold, stay about as many as the queries in
         * flight however many services start at once. An answer frees its slot for the next
         * waiting query before its callback queues the follow-up, so an SRV query or two may go
         * out ahead (a, b, then their targets, ...); first in first out asked all six SRV sets
         * before any target. */
        RUN_UNTIL(f, service_state(s[3]) == DD_STATE_OK && service_state(s[4]) == DD_STATE_OK &&
                             service_state(s[5]) == DD_STATE_OK);
        assert_int_equal(f->dns.queries, 2 * ELEMENTSOF(names));
        size_t first_target = SIZE_MAX, last_srv = SIZE_MAX;
        for (size_t i = 0; i < f->dns.queries; i++) {
                if (first_target == SIZE_MAX && streq(f->dns.asked[i], "t.a.test./1"))
                        first_target = i;
                if (streq(f->dns.asked[i], "_http._tcp.f.test./33"))
                        last_srv = i;
        }
        assert_true(last_srv < SIZE_MAX);
        assert_true(first_target < last_srv);
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                service_unref(s[i]);
}

int main(void) {
#define F(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_transport_errors_map_to_short_codes),
                F(test_wall_clock_steps_during_an_outage_keep_the_stale_set),
                F(test_stale_set_is_dropped_when_the_daemons_clock_passes_stale_ttl),
                F(test_stale_ttl_counts_from_expiry_for_a_ttl_longer_than_stale_ttl),
                F(test_stale_ttl_counts_from_expiry_for_a_ttl_shorter_than_stale_ttl),
                F(test_stale_set_is_dropped_on_time_between_rounds),
                F(test_negative_confirm_counts_again_after_a_positive_answer),
                F(test_a_cname_shorter_than_the_srv_set_bounds_its_ttl),
                F(test_an_adopted_set_keeps_its_expiry_on_the_daemons_clock),
                F(test_notify_zones_cover_the_query_name_cname_targets_and_srv_targets),
                F(test_notify_burst_is_one_round_now_and_one_after_the_interval),
                F(test_a_notify_round_asks_glued_targets_own_answers_again),
                F(test_a_round_begun_is_finished_before_rounds_not_begun),
        };
#undef F
        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
