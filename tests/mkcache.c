/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mkcache.c: publishes a cache file described by a text spec, for the shell tests. */
#include <arpa/inet.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <stdarg.h>

#include "cache-def.h"
#include "cache-writer.h"
#include "util.h"

/*
 * Usage: mkcache [--hold] PATH < SPEC
 *
 *   service NAME [query=DNSNAME] [state=ok|pending|stale|negative|error] [srv] [panic=on|off]
 *                [hash-table-size=N]          (hash = maglev with a table of N entries, a prime)
 *                [error=CODE] [last-good-ago=SECONDS|never] [last-good-usec=INT64] [refresh-in=SECONDS]
 *                [counter-COUNTER=N...]
 *   backend ADDRESS PORT [priority=N] [weight=N] [health=up|down|unknown|unchecked] [target=HOST]
 *                [ttl=SECONDS] [source=srv|a|aaaa] [checks=N] [failures=N] [latency-us=N]
 *                [ok=N] [fail=N] [check-error=CODE] [last-check-ago=SECONDS]
 *   daemon [counter-DCOUNTER=N...]
 *
 * COUNTER (dd_service.counters): resolutions, queries, timeout, servfail,
 * refused, nxdomain, nodata, other, checks, check-failures, notify-rounds,
 * notify-last-usec, checks-skipped; a service with
 * none keeps the counters the file already has. DCOUNTER (dd_header.counters,
 * added to the file's): queries, resolutions, resolution-errors, checks,
 * check-failures, publishes, file-replacements, reloads, notify-received,
 * notify-refused, notify-bad-tsig, notify-malformed, notify-coalesced,
 * notify-rounds, updates, update-failures, registrations, withdrawals,
 * checks-skipped; the writer itself
 * also counts one publish per service that changed.
 * '#' starts a comment. Defaults: query = NAME, state ok, panic on, error
 * none, last good answer now (never for pending/negative/error), no planned
 * refresh; health up, priority 0, weight 1, target = the service's query,
 * ttl 60, source srv for an srv service else a/aaaa by family. Services are
 * published in spec order. With --hold, prints "ready" once everything is
 * published, then heartbeats every second until SIGTERM or SIGINT.
 */

typedef struct SpecService {
        PubService pub;
        char *name;
        char *query;
        PubBackend *backends; /* owns each backend's target */
        size_t n_backends;
        uint64_t counters[_DD_SCTR_MAX];
} SpecService;

typedef struct Spec {
        SpecService *services;
        size_t n_services;
        uint64_t daemon_counters[_DD_DCTR_MAX];
} Spec;

/* Spec names of the counters, indexed by DD_SCTR_* and DD_DCTR_*. */
static const char *const service_counter_names[_DD_SCTR_MAX] = {
        [DD_SCTR_RESOLUTIONS] = "resolutions",   [DD_SCTR_QUERIES] = "queries",
        [DD_SCTR_ERR_TIMEOUT] = "timeout",       [DD_SCTR_ERR_SERVFAIL] = "servfail",
        [DD_SCTR_ERR_REFUSED] = "refused",       [DD_SCTR_ERR_NXDOMAIN] = "nxdomain",
        [DD_SCTR_ERR_NODATA] = "nodata",         [DD_SCTR_ERR_OTHER] = "other",
        [DD_SCTR_CHECKS] = "checks",             [DD_SCTR_CHECK_FAILURES] = "check-failures",
        [DD_SCTR_NOTIFY_ROUNDS] = "notify-rounds", [DD_SCTR_NOTIFY_LAST_USEC] = "notify-last-usec",
        [DD_SCTR_CHECKS_SKIPPED] = "checks-skipped",
};
static const char *const daemon_counter_names[_DD_DCTR_MAX] = {
        [DD_DCTR_QUERIES] = "queries",                   [DD_DCTR_RESOLUTIONS] = "resolutions",
        [DD_DCTR_RESOLUTION_ERRORS] = "resolution-errors", [DD_DCTR_CHECKS] = "checks",
        [DD_DCTR_CHECK_FAILURES] = "check-failures",     [DD_DCTR_PUBLISHES] = "publishes",
        [DD_DCTR_FILE_REPLACEMENTS] = "file-replacements", [DD_DCTR_RELOADS] = "reloads",
        [DD_DCTR_NOTIFY_RECEIVED] = "notify-received", [DD_DCTR_NOTIFY_REFUSED] = "notify-refused",
        [DD_DCTR_NOTIFY_BAD_TSIG] = "notify-bad-tsig", [DD_DCTR_NOTIFY_MALFORMED] = "notify-malformed",
        [DD_DCTR_NOTIFY_COALESCED] = "notify-coalesced", [DD_DCTR_NOTIFY_ROUNDS] = "notify-rounds",
        [DD_DCTR_UPDATES] = "updates",                   [DD_DCTR_UPDATE_FAILURES] = "update-failures",
        [DD_DCTR_REGISTRATIONS] = "registrations",       [DD_DCTR_WITHDRAWALS] = "withdrawals",
        [DD_DCTR_CHECKS_SKIPPED] = "checks-skipped",
};

static void spec_done(Spec *spec) {
        for (size_t i = 0; i < spec->n_services; i++) {
                SpecService *s = &spec->services[i];
                for (size_t j = 0; j < s->n_backends; j++)
                        free((char *) s->backends[j].target);
                free(s->backends);
                free(s->name);
                free(s->query);
        }
        free(spec->services);
        *spec = (Spec) {};
}

DEFINE_TRIVIAL_CLEANUP_FUNC(CacheWriter *, cache_writer_free);

static void linep(char **p) {
        free(*p);
}

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig) {
        stop_requested = 1;
}

static int parse_uint(const char *s, uint64_t max, uint64_t *ret) {
        char *end;
        unsigned long long v;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || *end != '\0' || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

static int parse_name(const char *s, const char *(*name_of)(unsigned), unsigned n, unsigned *ret) {
        for (unsigned i = 0; i < n; i++)
                if (streq(s, name_of(i))) {
                        *ret = i;
                        return 0;
                }
        return -EINVAL;
}

static int64_t seconds_from_now(uint64_t now, int64_t seconds) {
        return (int64_t) now + seconds * (int64_t) USEC_PER_SEC;
}

_printf_(2, 3) static int fail(unsigned line, const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "mkcache: line %u: ", line);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return -EINVAL;
}

/* Split "key=value" in place; value is NULL for a bare word. */
static char *split_option(char *word, char **ret_value) {
        char *eq = strchr(word, '=');
        *ret_value = NULL;
        if (eq) {
                *eq = '\0';
                *ret_value = eq + 1;
        }
        return word;
}

/* "counter-NAME" = val into counters[] by names[]: 1 done, 0 not a counter key, <0 error (reported). */
static int parse_counter(const char *key, const char *val, const char *const *names, size_t n_names,
                         uint64_t *counters, unsigned line) {
        uint64_t v;

        if (strncmp(key, "counter-", 8) != 0)
                return 0;
        for (size_t i = 0; i < n_names; i++)
                if (names[i] && streq(key + 8, names[i])) {
                        if (parse_uint(val, UINT64_MAX, &v) < 0)
                                return fail(line, "bad %s '%s'", key, val);
                        counters[i] = v;
                        return 1;
                }
        return fail(line, "unknown counter '%s'", key + 8);
}

static int parse_daemon(Spec *spec, char **words, size_t n, unsigned line) {
        for (size_t i = 1; i < n; i++) {
                char *val, *key = split_option(words[i], &val);
                int r;

                if (!val)
                        return fail(line, "unknown daemon option '%s'", key);
                r = parse_counter(key, val, daemon_counter_names, _DD_DCTR_MAX, spec->daemon_counters, line);
                if (r < 0)
                        return r;
                if (r == 0)
                        return fail(line, "unknown daemon option '%s'", key);
        }
        return 0;
}

static int parse_service(Spec *spec, char **words, size_t n, unsigned line, uint64_t now) {
        SpecService *s, *grown;
        bool last_good_set = false;
        uint64_t v;
        unsigned u;

        if (n < 2)
                return fail(line, "service needs a NAME");
        if (strlen(words[1]) >= DD_NAME_MAX)
                return fail(line, "service name too long");
        for (size_t i = 0; i < spec->n_services; i++)
                if (streq(spec->services[i].name, words[1]))
                        return fail(line, "duplicate service '%s'", words[1]);

        grown = reallocarray(spec->services, spec->n_services + 1, sizeof(SpecService));
        if (!grown)
                return -ENOMEM;
        spec->services = grown;
        s = &spec->services[spec->n_services++];
        *s = (SpecService) {
                .pub = { .state = DD_STATE_OK, .panic = true },
                .name = strdup(words[1]),
        };
        if (!s->name)
                return -ENOMEM;

        for (size_t i = 2; i < n; i++) {
                char *val, *key = split_option(words[i], &val);
                int r;

                if (streq(key, "srv") && !val)
                        s->pub.srv = true;
                else if (!val)
                        return fail(line, "unknown service option '%s'", key);
                else if ((r = parse_counter(key, val, service_counter_names, _DD_SCTR_MAX, s->counters, line)) != 0) {
                        if (r < 0)
                                return r;
                        s->pub.counters = s->counters; /* points into spec->services: fixed up before publishing */
                } else if (streq(key, "query")) {
                        if (strlen(val) >= DD_QUERY_MAX)
                                return fail(line, "query name too long");
                        free(s->query);
                        s->query = strdup(val);
                        if (!s->query)
                                return -ENOMEM;
                } else if (streq(key, "state")) {
                        if (parse_name(val, dd_state_name, _DD_STATE_MAX, &u) < 0)
                                return fail(line, "bad state '%s'", val);
                        s->pub.state = (uint8_t) u;
                } else if (streq(key, "panic")) {
                        if (!streq(val, "on") && !streq(val, "off"))
                                return fail(line, "panic must be on or off");
                        s->pub.panic = streq(val, "on");
                } else if (streq(key, "hash-table-size")) {
                        char *end;
                        unsigned long size = strtoul(val, &end, 10);
                        if (*end || size < DD_HASH_TABLE_MIN || size > DD_HASH_TABLE_MAX)
                                return fail(line, "hash-table-size must be a prime from %u to %u", DD_HASH_TABLE_MIN,
                                            DD_HASH_TABLE_MAX);
                        s->pub.hash_table_size = (uint32_t) size;
                } else if (streq(key, "error")) {
                        if (parse_name(val, dd_error_name, _DD_ERR_MAX, &u) < 0)
                                return fail(line, "bad error code '%s'", val);
                        s->pub.last_error = (uint16_t) u;
                } else if (streq(key, "last-good-ago")) {
                        if (streq(val, "never"))
                                s->pub.last_good_usec = 0;
                        else if (parse_uint(val, INT32_MAX, &v) == 0)
                                s->pub.last_good_usec = seconds_from_now(now, -(int64_t) v);
                        else
                                return fail(line, "bad last-good-ago '%s'", val);
                        last_good_set = true;
                } else if (streq(key, "last-good-usec")) {
                        /* Raw, for hostile files: any int64, INT64_MIN included. */
                        char *end;
                        errno = 0;
                        long long raw = strtoll(val, &end, 10);
                        if (errno != 0 || end == val || *end)
                                return fail(line, "bad last-good-usec '%s'", val);
                        s->pub.last_good_usec = (int64_t) raw;
                        last_good_set = true;
                } else if (streq(key, "refresh-in")) {
                        if (parse_uint(val, INT32_MAX, &v) < 0)
                                return fail(line, "bad refresh-in '%s'", val);
                        s->pub.next_refresh_usec = seconds_from_now(now, (int64_t) v);
                } else
                        return fail(line, "unknown service option '%s'", key);
        }

        if (!s->query) {
                s->query = strdup(s->name);
                if (!s->query)
                        return -ENOMEM;
        }
        if (!last_good_set && (s->pub.state == DD_STATE_OK || s->pub.state == DD_STATE_STALE))
                s->pub.last_good_usec = (int64_t) now;
        return 0;
}

static int parse_backend(Spec *spec, char **words, size_t n, unsigned line, uint64_t now) {
        SpecService *s;
        PubBackend *b, *grown;
        uint64_t v;
        unsigned u;
        bool source_set = false;

        if (spec->n_services == 0)
                return fail(line, "backend before any service");
        s = &spec->services[spec->n_services - 1];
        if (n < 3)
                return fail(line, "backend needs ADDRESS PORT");
        if (s->n_backends >= DD_BACKENDS_MAX)
                return fail(line, "more than %d backends", DD_BACKENDS_MAX);

        grown = reallocarray(s->backends, s->n_backends + 1, sizeof(PubBackend));
        if (!grown)
                return -ENOMEM;
        s->backends = grown;
        b = &s->backends[s->n_backends++];
        *b = (PubBackend) {
                .health = DD_HEALTH_UP,
                .weight = 1,
                .ttl_expiry_usec = seconds_from_now(now, 60),
        };

        if (inet_pton(AF_INET, words[1], b->addr) == 1)
                b->family = 4;
        else if (inet_pton(AF_INET6, words[1], b->addr) == 1)
                b->family = 6;
        else
                return fail(line, "bad address '%s'", words[1]);
        if (parse_uint(words[2], UINT16_MAX, &v) < 0)
                return fail(line, "bad port '%s'", words[2]);
        b->port = (uint16_t) v;

        for (size_t i = 3; i < n; i++) {
                static const struct {
                        const char *key;
                        uint64_t max;
                } numeric[] = {
                        { "priority", UINT16_MAX }, { "weight", UINT16_MAX },   { "ttl", INT32_MAX },
                        { "checks", UINT32_MAX },   { "failures", UINT32_MAX }, { "latency-us", UINT32_MAX },
                        { "ok", UINT16_MAX },       { "fail", UINT16_MAX },     { "last-check-ago", INT32_MAX },
                };
                char *val, *key = split_option(words[i], &val);
                size_t k;

                if (!val)
                        return fail(line, "unknown backend option '%s'", key);
                if (streq(key, "health")) {
                        /* unchecked: up, flagged as the daemon does with check = none. */
                        b->unchecked = streq(val, "unchecked");
                        if (b->unchecked) {
                                b->health = DD_HEALTH_UP;
                                continue;
                        }
                        if (parse_name(val, dd_health_name, _DD_HEALTH_MAX, &u) < 0)
                                return fail(line, "bad health '%s'", val);
                        b->health = (uint8_t) u;
                        continue;
                }
                if (streq(key, "source")) {
                        if (parse_name(val, dd_source_name, _DD_SOURCE_MAX, &u) < 0)
                                return fail(line, "bad source '%s'", val);
                        b->source = (uint8_t) u;
                        source_set = true;
                        continue;
                }
                if (streq(key, "check-error")) {
                        if (parse_name(val, dd_error_name, _DD_ERR_MAX, &u) < 0)
                                return fail(line, "bad error code '%s'", val);
                        b->check_error = (uint16_t) u;
                        continue;
                }
                if (streq(key, "target")) {
                        if (strlen(val) >= DD_TARGET_MAX)
                                return fail(line, "target too long");
                        free((char *) b->target);
                        b->target = strdup(val);
                        if (!b->target)
                                return -ENOMEM;
                        continue;
                }

                for (k = 0; k < ELEMENTSOF(numeric); k++)
                        if (streq(key, numeric[k].key))
                                break;
                if (k == ELEMENTSOF(numeric))
                        return fail(line, "unknown backend option '%s'", key);
                if (parse_uint(val, numeric[k].max, &v) < 0)
                        return fail(line, "bad %s '%s'", key, val);
                switch (k) {
                case 0: b->priority = (uint16_t) v; break;
                case 1: b->weight = (uint16_t) v; break;
                case 2: b->ttl_expiry_usec = seconds_from_now(now, (int64_t) v); break;
                case 3: b->checks = (uint32_t) v; break;
                case 4: b->check_failures = (uint32_t) v; break;
                case 5: b->last_latency_usec = (uint32_t) v; break;
                case 6: b->consecutive_ok = (uint16_t) v; break;
                case 7: b->consecutive_fail = (uint16_t) v; break;
                case 8: b->last_check_usec = seconds_from_now(now, -(int64_t) v); break;
                }
        }

        if (!source_set)
                b->source = s->pub.srv ? DD_SOURCE_SRV : b->family == 4 ? DD_SOURCE_A : DD_SOURCE_AAAA;
        if (!b->target) {
                b->target = strdup(s->query ?: s->name);
                if (!b->target)
                        return -ENOMEM;
        }
        return 0;
}

static int spec_parse(FILE *in, Spec *spec) {
        _cleanup_(linep) char *buf = NULL;
        size_t bufsize = 0;
        uint64_t now = now_usec(CLOCK_REALTIME);
        unsigned line = 0;
        ssize_t l;

        while ((l = getline(&buf, &bufsize, in)) >= 0) {
                char *words[64], *save = NULL, *w;
                size_t n = 0;
                int r;

                line++;
                buf[strcspn(buf, "#")] = '\0';
                for (w = strtok_r(buf, " \t\r\n", &save); w; w = strtok_r(NULL, " \t\r\n", &save)) {
                        if (n == ELEMENTSOF(words))
                                return fail(line, "too many words");
                        words[n++] = w;
                }
                if (n == 0)
                        continue;

                if (streq(words[0], "service"))
                        r = parse_service(spec, words, n, line, now);
                else if (streq(words[0], "backend"))
                        r = parse_backend(spec, words, n, line, now);
                else if (streq(words[0], "daemon"))
                        r = parse_daemon(spec, words, n, line);
                else
                        r = fail(line, "unknown keyword '%s'", words[0]);
                if (r < 0)
                        return r;
        }
        if (ferror(in))
                return fail(line + 1, "read error: %s", strerror(errno));
        return 0;
}

static void usage(FILE *f) {
        fputs("Usage: mkcache [--hold] PATH < SPEC\n", f);
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "hold", no_argument, NULL, 'H' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(spec_done) Spec spec = {};
        _cleanup_(cache_writer_freep) CacheWriter *w = NULL;
        bool hold = false;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'H':
                        hold = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 1;
                }
        if (optind + 1 != argc) {
                usage(stderr);
                return 1;
        }

        if (spec_parse(stdin, &spec) < 0)
                return 1;

        r = cache_writer_open(argv[optind], &w);
        if (r < 0) {
                fprintf(stderr, "mkcache: %s: %s\n", argv[optind], strerror(-r));
                return 1;
        }
        for (unsigned k = 0; k < _DD_DCTR_MAX; k++)
                if (spec.daemon_counters[k] > 0)
                        cache_writer_count(w, k, spec.daemon_counters[k]);
        for (size_t i = 0; i < spec.n_services; i++) {
                SpecService *s = &spec.services[i];
                /* The array moved with every reallocarray() of spec.services. */
                if (s->pub.counters)
                        s->pub.counters = s->counters;
                s->pub.name = s->name;
                s->pub.query = s->query;
                s->pub.backends = s->backends;
                s->pub.n_backends = s->n_backends;
                r = cache_writer_publish(w, &s->pub);
                if (r < 0) {
                        fprintf(stderr, "mkcache: service %s: %s\n", s->name, strerror(-r));
                        return 1;
                }
        }
        if (!hold)
                return 0;

        struct sigaction sa = { .sa_handler = on_stop };
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0) {
                fprintf(stderr, "mkcache: sigaction: %s\n", strerror(errno));
                return 1;
        }
        printf("ready\n");
        fflush(stdout);
        while (!stop_requested) {
                struct timespec ts = { .tv_sec = 1 };
                /* A signal cuts the sleep short (no SA_RESTART needed for nanosleep). */
                (void) nanosleep(&ts, NULL);
                if (!stop_requested)
                        (void) cache_writer_heartbeat(w);
        }
        return 0;
}
