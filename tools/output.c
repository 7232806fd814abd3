/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* output.c: dnsdiscctl's text and JSON renderings of services and backends. */
#include <arpa/inet.h>
#include <json-c/json.h>
#include <net/if.h>
#include <time.h>
#include <unistd.h>

#include "output.h"
#include "table.h"
#include "util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

const char *format_timespan(char buf[static TIMESPAN_MAX], uint64_t usec) {
        static const struct {
                const char *suffix;
                uint64_t usec;
        } units[] = {
                { "d", 86400 * USEC_PER_SEC },
                { "h", 3600 * USEC_PER_SEC },
                { "min", 60 * USEC_PER_SEC },
                { "s", USEC_PER_SEC },
        };
        uint64_t s = usec / USEC_PER_SEC * USEC_PER_SEC;
        size_t i = 0;

        while (i < ELEMENTSOF(units) - 1 && s < units[i].usec)
                i++;
        uint64_t major = s / units[i].usec, rest = s % units[i].usec;
        if (i + 1 < ELEMENTSOF(units) && rest >= units[i + 1].usec)
                snprintf(buf, TIMESPAN_MAX, "%" PRIu64 "%s%" PRIu64 "%s", major, units[i].suffix,
                         rest / units[i + 1].usec, units[i + 1].suffix);
        else
                snprintf(buf, TIMESPAN_MAX, "%" PRIu64 "%s", major, units[i].suffix);
        return buf;
}

int format_address(const struct sockaddr *sa, char buf[static ADDRESS_MAX]) {
        if (sa->sa_family == AF_INET) {
                const struct sockaddr_in *sin = (const struct sockaddr_in *) sa;
                inet_ntop(AF_INET, &sin->sin_addr, buf, ADDRESS_MAX);
                return 0;
        }
        if (sa->sa_family == AF_INET6) {
                const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) sa;
                char ifname[IF_NAMESIZE];

                inet_ntop(AF_INET6, &sin6->sin6_addr, buf, ADDRESS_MAX);
                if (sin6->sin6_scope_id == 0)
                        return 0;
                /* The scope is part of the address of a link-local backend. */
                size_t len = strlen(buf);
                if (if_indextoname(sin6->sin6_scope_id, ifname))
                        snprintf(buf + len, ADDRESS_MAX - len, "%%%s", ifname);
                else
                        snprintf(buf + len, ADDRESS_MAX - len, "%%%" PRIu32, sin6->sin6_scope_id);
                return 0;
        }
        return -EAFNOSUPPORT;
}

uint64_t age_usec(int64_t now, int64_t then) {
        /* Unsigned: the file's then may be anything, and now - then must not overflow. */
        return now > then ? (uint64_t) now - (uint64_t) then : 0;
}

uint64_t age_sec(int64_t now, int64_t then) {
        return age_usec(now, then) / USEC_PER_SEC;
}

uint64_t heartbeat_age_usec(const dnsdisc_daemon_info *di, int64_t now) {
        int64_t limit = MAX((int64_t) di->heartbeat_interval_ms * 3000, (int64_t) 3000000), boot = di->heartbeat_boot_usec;
        struct timespec ts;

        /* The boot stamp as dnsdisc_is_stale() takes it (docs/cache-format.md): unless it is further
         * ahead than three intervals, it is this boot's, and no wall-clock step moves it. */
        if (boot != 0 && clock_gettime(CLOCK_BOOTTIME, &ts) == 0) {
                int64_t boot_now = (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
                if (boot <= boot_now || boot - boot_now <= limit)
                        return age_usec(boot_now, boot);
        }
        return age_usec(now, di->heartbeat_usec);
}

uint64_t remaining_sec(int64_t now, int64_t expiry) {
        return expiry > now ? ((uint64_t) (expiry - now) + USEC_PER_SEC - 1) / USEC_PER_SEC : 0;
}

const char *format_flags(char buf[static FLAGS_MAX], uint8_t flags) {
        snprintf(buf, FLAGS_MAX, "%s%s%s", flags & DNSDISC_SERVICE_SRV ? "srv" : "",
                 (flags & DNSDISC_SERVICE_SRV) && (flags & DNSDISC_SERVICE_PANIC) ? "," : "",
                 flags & DNSDISC_SERVICE_PANIC ? "panic" : "");
        return buf[0] ? buf : "-";
}

const char *format_latency(char buf[static 16], uint32_t usec) {
        if (usec < 1000)
                snprintf(buf, 16, "%" PRIu32 "us", usec);
        else if (usec < 1000000)
                snprintf(buf, 16, "%.1fms", usec / 1e3);
        else
                snprintf(buf, 16, "%.2fs", usec / 1e6);
        return buf;
}

static int print_json(json_object *o, FILE *f) {
        int flags = JSON_C_TO_STRING_NOSLASHESCAPE;

        /* Pretty for people, one line for pipes. */
        flags |= isatty(fileno(f)) ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN;
        const char *s = json_object_to_json_string_ext(o, flags);
        if (!s)
                return -ENOMEM;
        fputs(s, f);
        fputc('\n', f);
        return ferror(f) ? -EIO : 0;
}

/* Adds val under key, taking it over; a NULL val is a failed allocation. */
static int json_add(json_object *o, const char *key, json_object *val) {
        if (!val)
                return -ENOMEM;
        if (json_object_object_add(o, key, val) < 0) {
                json_object_put(val);
                return -ENOMEM;
        }
        return 0;
}

static int json_add_null(json_object *o, const char *key) {
        return json_object_object_add(o, key, NULL) < 0 ? -ENOMEM : 0;
}

static int json_add_error(json_object *o, const char *key, uint16_t code) {
        if (code == 0)
                return json_add_null(o, key);
        return json_add(o, key, json_object_new_string(dnsdisc_error_code_name(code)));
}

/* The keys list and show have in common. */
static int json_service_fields(json_object *o, const dnsdisc_service_info *info, int64_t now) {
        int r;

        if ((r = json_add(o, "name", json_object_new_string(info->name))) < 0 ||
            (r = json_add(o, "query", json_object_new_string(info->query))) < 0 ||
            (r = json_add(o, "state", json_object_new_string(dnsdisc_state_name(info->state)))) < 0 ||
            (r = json_add(o, "healthy", json_object_new_int64(info->n_healthy))) < 0 ||
            (r = json_add(o, "total", json_object_new_int64(info->n_backends))) < 0 ||
            (r = json_add(o, "scheduled", json_object_new_int64(info->n_scheduled))) < 0 ||
            (r = json_add(o, "generation", json_object_new_int64(info->generation))) < 0 ||
            (r = json_add(o, "srv", json_object_new_boolean(!!(info->flags & DNSDISC_SERVICE_SRV)))) < 0 ||
            (r = json_add(o, "panic", json_object_new_boolean(!!(info->flags & DNSDISC_SERVICE_PANIC)))) < 0 ||
            (r = json_add_error(o, "last_error", info->last_error)) < 0)
                return r;
        if (info->last_good_usec == 0)
                return json_add_null(o, "age");
        return json_add(o, "age", json_object_new_uint64(age_sec(now, info->last_good_usec)));
}

static int print_services_json(const dnsdisc_service_info *infos, size_t n, int64_t now, FILE *f) {
        _cleanup_(json_object_putp) json_object *array = json_object_new_array();
        int r;

        if (!array)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                _cleanup_(json_object_putp) json_object *o = json_object_new_object();
                if (!o)
                        return -ENOMEM;
                r = json_service_fields(o, &infos[i], now);
                if (r < 0)
                        return r;
                if (json_object_array_add(array, o) < 0)
                        return -ENOMEM;
                o = NULL; /* the array owns it now */
        }
        return print_json(array, f);
}

static int print_services_text(const dnsdisc_service_info *infos, size_t n, int64_t now, FILE *f) {
        static const char *const headers[] = { "SERVICE", "STATE", "BACKENDS", "GEN", "AGE", "FLAGS" };
        _cleanup_(table_freep) table *t = table_new(ELEMENTSOF(headers), headers);
        char span[TIMESPAN_MAX], flags[FLAGS_MAX];
        int r;

        if (!t)
                return -ENOMEM;
        table_align_right(t, 2);
        table_align_right(t, 3);
        table_align_right(t, 4);
        for (size_t i = 0; i < n; i++) {
                const dnsdisc_service_info *s = &infos[i];
                const char *age = s->last_good_usec == 0 ? "never" :
                        format_timespan(span, age_sec(now, s->last_good_usec) * USEC_PER_SEC);

                if ((r = table_add(t, s->name)) < 0 ||
                    (r = table_add(t, dnsdisc_state_name(s->state))) < 0 ||
                    (r = table_addf(t, "%" PRIu32 "/%" PRIu32, s->n_healthy, s->n_backends)) < 0 ||
                    (r = table_addf(t, "%" PRIu32, s->generation)) < 0 ||
                    (r = table_add(t, age)) < 0 ||
                    (r = table_add(t, format_flags(flags, s->flags))) < 0)
                        return r;
        }
        return table_print(t, f);
}

int print_services(const dnsdisc_service_info *infos, size_t n, int64_t now, bool json, FILE *f) {
        return json ? print_services_json(infos, n, now, f) : print_services_text(infos, n, now, f);
}

static int json_backend(const dnsdisc_backend *b, unsigned split, int64_t now, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        char address[ADDRESS_MAX];
        int r;

        if (!o)
                return -ENOMEM;
        r = format_address(&b->addr.sa, address);
        if (r < 0)
                return r;
        if ((r = json_add(o, "address", json_object_new_string(address))) < 0 ||
            (r = json_add(o, "port", json_object_new_int64(b->port))) < 0 ||
            (r = json_add(o, "target", json_object_new_string(b->target))) < 0 ||
            (r = json_add(o, "priority", json_object_new_int64(b->priority))) < 0 ||
            (r = json_add(o, "weight", json_object_new_int64(b->weight))) < 0 ||
            (r = json_add(o, "weight_split", json_object_new_int64(split))) < 0 ||
            (r = json_add(o, "scheduled", json_object_new_boolean(b->scheduled))) < 0 ||
            (r = json_add(o, "health", json_object_new_string(dnsdisc_health_name(b->health)))) < 0 ||
            (r = json_add(o, "ttl", json_object_new_uint64(remaining_sec(now, b->ttl_expiry_usec)))) < 0 ||
            (r = json_add(o, "source", json_object_new_string(dnsdisc_source_name(b->source)))) < 0 ||
            (r = json_add(o, "checks", json_object_new_int64(b->checks))) < 0 ||
            (r = json_add(o, "failures", json_object_new_int64(b->check_failures))) < 0 ||
            (r = json_add(o, "consecutive_ok", json_object_new_int64(b->consecutive_ok))) < 0 ||
            (r = json_add(o, "consecutive_fail", json_object_new_int64(b->consecutive_fail))) < 0 ||
            (r = json_add(o, "latency_us", json_object_new_int64(b->last_latency_usec))) < 0 ||
            (r = json_add_error(o, "check_error", b->check_error)) < 0)
                return r;
        if (b->last_check_usec == 0)
                r = json_add_null(o, "last_check_age");
        else
                r = json_add(o, "last_check_age", json_object_new_uint64(age_sec(now, b->last_check_usec)));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

static int print_service_json(const dnsdisc_service_info *info, const ServiceNotify *nt,
                              const dnsdisc_backend *backends, size_t n, int64_t hash_entries, int64_t now,
                              FILE *f) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object *array;
        int r;

        if (!o)
                return -ENOMEM;
        r = json_service_fields(o, info, now);
        if (r < 0)
                return r;
        r = hash_entries < 0 ? json_add_null(o, "hash_table_size")
                             : json_add(o, "hash_table_size", json_object_new_int64(hash_entries));
        if (r < 0)
                return r;
        if ((r = json_add(o, "notify_rounds", json_object_new_int64((int64_t) (nt ? nt->rounds : 0)))) < 0 ||
            (r = json_add(o, "last_notify_usec", json_object_new_int64(nt ? nt->last_usec : 0))) < 0)
                return r;
        r = json_add(o, "backends", array = json_object_new_array());
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                json_object *b;

                r = json_backend(&backends[i], backend_weight_split(backends, n, i), now, &b);
                if (r < 0)
                        return r;
                if (json_object_array_add(array, b) < 0) {
                        json_object_put(b);
                        return -ENOMEM;
                }
        }
        return print_json(o, f);
}

static bool same_srv_record(const dnsdisc_backend *a, const dnsdisc_backend *b) {
        return a->source == DNSDISC_SOURCE_SRV && b->source == DNSDISC_SOURCE_SRV && a->port == b->port &&
               a->priority == b->priority && a->weight == b->weight && streq(a->target, b->target);
}

unsigned backend_weight_split(const dnsdisc_backend *backends, size_t n, size_t i) {
        size_t first = i, end = i + 1;
        unsigned picked = 0;

        if (!backends[i].scheduled)
                return 0;
        while (first > 0 && same_srv_record(&backends[first - 1], &backends[i]))
                first--;
        while (end < n && same_srv_record(&backends[end], &backends[i]))
                end++;
        for (size_t k = first; k < end; k++)
                picked += backends[k].scheduled;
        return picked;
}

int add_backend_row(table *t, const dnsdisc_backend *b, unsigned split, int64_t now, bool source,
                    const RowColors *colors) {
        static const RowColors plain = { "", "", "", "", "", "" };
        const RowColors *c = colors ? colors : &plain;
        const char *health = b->health == DNSDISC_HEALTH_UP     ? c->up
                             : b->health == DNSDISC_HEALTH_DOWN ? c->down
                                                                : c->unknown;
        char address[ADDRESS_MAX], span[TIMESPAN_MAX], latency[16];
        uint64_t ttl = remaining_sec(now, b->ttl_expiry_usec);
        int r;

        r = format_address(&b->addr.sa, address);
        if (r < 0)
                return r;
        if ((r = table_add(t, address)) < 0 ||
            (r = table_addf(t, "%" PRIu16, b->port)) < 0 ||
            (r = table_add(t, b->target[0] ? b->target : "-")) < 0 ||
            (r = table_addf(t, "%" PRIu16, b->priority)) < 0 ||
            (r = split > 1 ? table_addf(t, "%" PRIu16 "/%u", b->weight, split)
                           : table_addf(t, "%" PRIu16, b->weight)) < 0 ||
            (source && (r = table_add(t, dnsdisc_source_name(b->source))) < 0) ||
            (r = ttl > 0 ? table_add(t, format_timespan(span, ttl * USEC_PER_SEC))
                         : table_addf(t, "%sexpired%s", c->expired, c->reset)) < 0 ||
            (r = table_addf(t, "%s%s%s", b->scheduled ? "" : c->unpicked, b->scheduled ? "yes" : "no",
                            c->reset)) < 0 ||
            (r = table_addf(t, "%s%s%s", health, dnsdisc_health_name(b->health), c->reset)) < 0)
                return r;

        /* Health-check columns mean nothing before the first probe. */
        if (b->checks == 0) {
                for (int i = 0; i < 5; i++)
                        if ((r = table_add(t, "-")) < 0)
                                return r;
                return 0;
        }
        if ((r = b->consecutive_fail > 0 ? table_addf(t, "fail:%" PRIu16, b->consecutive_fail)
                                         : table_addf(t, "ok:%" PRIu16, b->consecutive_ok)) < 0 ||
            (r = table_addf(t, "%" PRIu32, b->checks)) < 0 ||
            (r = table_addf(t, "%" PRIu32, b->check_failures)) < 0 ||
            (r = table_add(t, format_latency(latency, b->last_latency_usec))) < 0 ||
            (r = table_add(t, b->check_error ? dnsdisc_error_code_name(b->check_error) : "-")) < 0)
                return r;
        return 0;
}

static int print_service_text(const dnsdisc_service_info *info, const ServiceNotify *nt,
                              const dnsdisc_backend *backends, size_t n, int64_t hash_entries, int64_t now,
                              FILE *f) {
        static const char *const headers[] = {
                "ADDRESS", "PORT", "TARGET", "PRIO", "WEIGHT", "SOURCE", "TTL", "PICK",
                "HEALTH", "STREAK", "CHECKS", "FAILED", "LATENCY", "ERROR",
        };
        static const size_t right[] = { 1, 3, 4, 6, 10, 11, 12 };
        _cleanup_(table_freep) table *t = NULL;
        char span[TIMESPAN_MAX], flags[FLAGS_MAX];
        int r;

        fprintf(f, "    Service: %s\n", info->name);
        fprintf(f, "      Query: %s\n", info->query[0] ? info->query : "-");
        fprintf(f, "      State: %s\n", dnsdisc_state_name(info->state));
        fprintf(f, "      Flags: %s%s\n", format_flags(flags, info->flags),
                info->flags & DNSDISC_SERVICE_PANIC ? " (no healthy backend: picks use every backend)" : "");
        fprintf(f, " Generation: %" PRIu32 "\n", info->generation);
        if (info->last_good_usec == 0)
                fprintf(f, "  Last good: never\n");
        else
                fprintf(f, "  Last good: %s ago\n", format_timespan(span, age_sec(now, info->last_good_usec) * USEC_PER_SEC));
        fprintf(f, " Last error: %s\n", info->last_error ? dnsdisc_error_code_name(info->last_error) : "-");
        if (info->next_refresh_usec != 0)
                fprintf(f, "    Refresh: in %s\n",
                        format_timespan(span, remaining_sec(now, info->next_refresh_usec) * USEC_PER_SEC));
        if (nt && nt->rounds > 0 && nt->last_usec > 0)
                fprintf(f, "     NOTIFY: last refresh %s ago, %" PRIu64 " in all\n",
                        format_timespan(span, age_sec(now, nt->last_usec) * USEC_PER_SEC), nt->rounds);
        fprintf(f, "   Backends: %" PRIu32 " healthy, %" PRIu32 " total, %" PRIu32 " picked\n",
                info->n_healthy, info->n_backends, info->n_scheduled);
        if (hash_entries < 0)
                fprintf(f, "       Hash: off\n");
        else
                fprintf(f, "       Hash: maglev, %" PRId64 " entries\n", hash_entries);

        if (n == 0)
                return ferror(f) ? -EIO : 0;

        t = table_new(ELEMENTSOF(headers), headers);
        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(right); i++)
                table_align_right(t, right[i]);
        bool split = false;
        for (size_t i = 0; i < n; i++) {
                unsigned k = backend_weight_split(backends, n, i);
                split |= k > 1;
                r = add_backend_row(t, &backends[i], k, now, true, NULL);
                if (r < 0)
                        return r;
        }
        fputc('\n', f);
        r = table_print(t, f);
        if (r >= 0 && split)
                fprintf(f, "\nWEIGHT W/N: the SRV record's weight W, split evenly over its N picked addresses.\n");
        return r;
}

int print_service(const dnsdisc_service_info *info, const ServiceNotify *nt, const dnsdisc_backend *backends, size_t n,
                  int64_t hash_entries, int64_t now, bool json, FILE *f) {
        return json ? print_service_json(info, nt, backends, n, hash_entries, now, f)
                    : print_service_text(info, nt, backends, n, hash_entries, now, f);
}
