/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* metrics.c: dnsdiscctl stats: the cache's counters as a table or in Prometheus text format. */
#include <inttypes.h>

#include "metrics.h"
#include "output.h"
#include "services.h"
#include "table.h"
#include "util.h"

int stats_collect(dnsdisc *d, Stats *ret) {
        _cleanup_free_ dnsdisc_service_info *infos = NULL;
        _cleanup_free_ dnsdisc_service **handles = NULL;
        _cleanup_free_ dnsdisc_backend *backends = NULL;
        _cleanup_free_ ServiceStats *services = NULL;
        Stats s = {};
        size_t n;
        int r;

        r = services_collect(d, &infos, &handles, &n);
        if (r < 0)
                return r;
        /* DNSDISC_BACKENDS_MAX always suffices, so a snapshot never needs a retry. */
        backends = calloc(DNSDISC_BACKENDS_MAX, sizeof *backends);
        services = calloc(n + 1, sizeof *services);
        if (!backends || !services)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                ServiceStats *ss = &services[s.n_services];
                int nb;

                /* The snapshot's info, not the listing's: health counts and info agree. */
                nb = dnsdisc_snapshot(handles[i], &ss->info, backends, DNSDISC_BACKENDS_MAX);
                if (nb == -ESRCH)
                        continue;
                if (nb < 0)
                        return nb;
                for (int b = 0; b < nb; b++)
                        if (backends[b].health < ELEMENTSOF(ss->by_health))
                                ss->by_health[backends[b].health]++;
                r = dnsdisc_service_counters(handles[i], ss->counters, ELEMENTSOF(ss->counters));
                if (r == -ESRCH)
                        continue;
                if (r < 0)
                        return r;
                s.n_services++;
        }

        r = dnsdisc_daemon_info_get(d, &s.daemon);
        if (r < 0)
                return r;
        r = dnsdisc_daemon_counters(d, s.counters, ELEMENTSOF(s.counters));
        if (r < 0)
                return r;
        r = dnsdisc_is_stale(d);
        if (r < 0)
                return r;
        s.stale = r > 0;
        s.now = (int64_t) now_usec(CLOCK_REALTIME);
        s.services = TAKE_PTR(services);
        *ret = s;
        return 0;
}

void stats_done(Stats *s) {
        free(s->services);
        *s = (Stats) {};
}

/* ---------------------------------------------------------------- Prometheus */

void prometheus_label_value(FILE *f, const char *s) {
        for (; *s; s++)
                switch (*s) {
                case '\\':
                        fputs("\\\\", f);
                        break;
                case '"':
                        fputs("\\\"", f);
                        break;
                case '\n':
                        fputs("\\n", f);
                        break;
                default:
                        fputc(*s, f);
                }
}

/* Seconds with up to six decimals, trailing zeros dropped: "3", "2.5", "1718000000.123456".
 * Callers clamp: ages and times before the epoch read 0. */
static const char *format_seconds(char buf[static 32], int64_t usec) {
        int64_t sec = usec / 1000000, frac = usec % 1000000;
        int n;

        if (frac == 0) {
                snprintf(buf, 32, "%" PRId64, sec);
                return buf;
        }
        n = snprintf(buf, 32, "%" PRId64 ".%06" PRId64, sec, frac);
        while (n > 0 && buf[n - 1] == '0')
                buf[--n] = '\0';
        return buf;
}

static void family(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{service="S"[,label="value"]} value */
static void sample(FILE *f, const char *name, const char *service, const char *label, const char *label_value,
                   const char *value) {
        fprintf(f, "%s{service=\"", name);
        prometheus_label_value(f, service);
        fputc('"', f);
        if (label) {
                fprintf(f, ",%s=\"", label);
                prometheus_label_value(f, label_value);
                fputc('"', f);
        }
        fprintf(f, "} %s\n", value);
}

static void sample_u64(FILE *f, const char *name, const char *service, const char *label, const char *label_value,
                       uint64_t value) {
        char buf[24];

        snprintf(buf, sizeof buf, "%" PRIu64, value);
        sample(f, name, service, label, label_value, buf);
}

enum {
        M_INFO,
        M_STATE,
        M_BACKENDS,
        M_PICKED,
        M_PANIC,
        M_GENERATION,
        M_LAST_GOOD_TIMESTAMP,
        M_LAST_GOOD_AGE,
        M_QUERIES,
        M_RESOLUTIONS,
        M_ERRORS,
        M_CHECKS,
        M_CHECK_FAILURES,
        M_CHECKS_SKIPPED,
        M_NOTIFY_ROUNDS,
        M_NOTIFY_LAST,
        _M_MAX,
};

static const struct {
        const char *name, *type, *help;
} service_families[_M_MAX] = {
        [M_INFO] = { "dnsdisc_service_info", "gauge",
                     "The DNS name a service resolves and how (type srv: SRV records, host: A/AAAA); always 1." },
        [M_STATE] = { "dnsdisc_service_state", "gauge",
                      "Resolution state: 1 for the current one of pending, ok, stale, negative, error; 0 for the others." },
        [M_BACKENDS] = { "dnsdisc_service_backends", "gauge", "Backends by health (up, down, unknown, unchecked)." },
        [M_PICKED] = { "dnsdisc_service_backends_picked", "gauge",
                       "Backends that picks return (SRV priority, health and panic decide)." },
        [M_PANIC] = { "dnsdisc_service_panic", "gauge",
                      "1 while no backend is healthy, so that picks return every backend." },
        [M_GENERATION] = { "dnsdisc_service_generation", "gauge",
                           "Generation of the published service; changes with its set, state or health." },
        [M_LAST_GOOD_TIMESTAMP] = { "dnsdisc_service_last_good_resolution_timestamp_seconds", "gauge",
                                    "Unix time of the last good resolution, 0 if never." },
        [M_LAST_GOOD_AGE] = { "dnsdisc_service_last_good_resolution_age_seconds", "gauge",
                              "Seconds since the last good resolution when this was written, +Inf if never." },
        [M_QUERIES] = { "dnsdisc_queries_total", "counter", "DNS queries sent." },
        [M_RESOLUTIONS] = { "dnsdisc_resolutions_total", "counter", "Resolutions that produced a usable backend set." },
        [M_ERRORS] = { "dnsdisc_resolution_errors_total", "counter",
                       "Failed resolutions by kind (timeout, servfail, refused, nxdomain, nodata, other)." },
        [M_CHECKS] = { "dnsdisc_health_checks_total", "counter", "Health probes run." },
        [M_CHECK_FAILURES] = { "dnsdisc_health_check_failures_total", "counter", "Health probes that failed." },
        [M_CHECKS_SKIPPED] = { "dnsdisc_health_checks_skipped_total", "counter",
                               "Health probes not run for want of local resources (fds, memory, ports); health kept." },
        [M_NOTIFY_ROUNDS] = { "dnsdisc_notify_rounds_total", "counter", "Resolution rounds a DNS NOTIFY triggered." },
        [M_NOTIFY_LAST] = { "dnsdisc_notify_last_round_timestamp_seconds", "gauge",
                            "Unix time the last NOTIFY-triggered round started, 0 if none." },
};

static const struct {
        const char *kind;
        unsigned counter;
} error_kinds[] = {
        { "timeout", DNSDISC_SERVICE_COUNTER_ERR_TIMEOUT },   { "servfail", DNSDISC_SERVICE_COUNTER_ERR_SERVFAIL },
        { "refused", DNSDISC_SERVICE_COUNTER_ERR_REFUSED },   { "nxdomain", DNSDISC_SERVICE_COUNTER_ERR_NXDOMAIN },
        { "nodata", DNSDISC_SERVICE_COUNTER_ERR_NODATA },     { "other", DNSDISC_SERVICE_COUNTER_ERR_OTHER },
};

static const unsigned health_values[] = { DNSDISC_HEALTH_UP, DNSDISC_HEALTH_DOWN, DNSDISC_HEALTH_UNKNOWN,
                                          DNSDISC_HEALTH_UNCHECKED };

static void service_samples(FILE *f, unsigned m, const ServiceStats *ss, int64_t now) {
        const dnsdisc_service_info *info = &ss->info;
        const char *name = service_families[m].name, *svc = info->name;
        char buf[32];

        switch (m) {
        case M_INFO:
                fprintf(f, "%s{service=\"", name);
                prometheus_label_value(f, svc);
                fputs("\",query=\"", f);
                prometheus_label_value(f, info->query);
                fprintf(f, "\",type=\"%s\"} 1\n", info->flags & DNSDISC_SERVICE_SRV ? "srv" : "host");
                break;
        case M_STATE:
                for (unsigned st = DNSDISC_STATE_PENDING; st <= DNSDISC_STATE_ERROR; st++)
                        sample_u64(f, name, svc, "state", dnsdisc_state_name(st), info->state == st);
                break;
        case M_BACKENDS:
                for (size_t i = 0; i < ELEMENTSOF(health_values); i++)
                        sample_u64(f, name, svc, "health", dnsdisc_health_name(health_values[i]),
                                   ss->by_health[health_values[i]]);
                break;
        case M_PICKED:
                sample_u64(f, name, svc, NULL, NULL, info->n_scheduled);
                break;
        case M_PANIC:
                sample_u64(f, name, svc, NULL, NULL, !!(info->flags & DNSDISC_SERVICE_PANIC));
                break;
        case M_GENERATION:
                sample_u64(f, name, svc, NULL, NULL, info->generation);
                break;
        case M_LAST_GOOD_TIMESTAMP:
                sample(f, name, svc, NULL, NULL, format_seconds(buf, MAX(info->last_good_usec, 0)));
                break;
        case M_LAST_GOOD_AGE:
                sample(f, name, svc, NULL, NULL,
                       info->last_good_usec == 0 ? "+Inf"
                                                   : format_seconds(buf, (int64_t) MIN(age_usec(now, info->last_good_usec), (uint64_t) INT64_MAX)));
                break;
        case M_QUERIES:
                sample_u64(f, name, svc, NULL, NULL, ss->counters[DNSDISC_SERVICE_COUNTER_QUERIES]);
                break;
        case M_RESOLUTIONS:
                sample_u64(f, name, svc, NULL, NULL, ss->counters[DNSDISC_SERVICE_COUNTER_RESOLUTIONS]);
                break;
        case M_ERRORS:
                for (size_t i = 0; i < ELEMENTSOF(error_kinds); i++)
                        sample_u64(f, name, svc, "kind", error_kinds[i].kind, ss->counters[error_kinds[i].counter]);
                break;
        case M_CHECKS:
                sample_u64(f, name, svc, NULL, NULL, ss->counters[DNSDISC_SERVICE_COUNTER_CHECKS]);
                break;
        case M_CHECK_FAILURES:
                sample_u64(f, name, svc, NULL, NULL, ss->counters[DNSDISC_SERVICE_COUNTER_CHECK_FAILURES]);
                break;
        case M_CHECKS_SKIPPED:
                sample_u64(f, name, svc, NULL, NULL, ss->counters[DNSDISC_SERVICE_COUNTER_CHECKS_SKIPPED]);
                break;
        case M_NOTIFY_ROUNDS:
                sample_u64(f, name, svc, NULL, NULL, ss->counters[DNSDISC_SERVICE_COUNTER_NOTIFY_ROUNDS]);
                break;
        case M_NOTIFY_LAST:
                sample(f, name, svc, NULL, NULL,
                       format_seconds(buf, (int64_t) ss->counters[DNSDISC_SERVICE_COUNTER_NOTIFY_LAST_USEC]));
                break;
        }
}

/* The daemon's counters, each a Prometheus counter, in the order they are exposed. */
static const struct {
        const char *name;
        unsigned counter;
        const char *help;
} daemon_counters[] = {
        { "dnsdisc_daemon_queries_total", DNSDISC_DAEMON_COUNTER_QUERIES, "DNS queries sent, all services." },
        { "dnsdisc_daemon_resolutions_total", DNSDISC_DAEMON_COUNTER_RESOLUTIONS,
          "Resolutions that produced a set, all services." },
        { "dnsdisc_daemon_resolution_errors_total", DNSDISC_DAEMON_COUNTER_RESOLUTION_ERRORS,
          "Failed or negative resolutions, all services." },
        { "dnsdisc_daemon_probes_total", DNSDISC_DAEMON_COUNTER_CHECKS, "Health probes run, all services." },
        { "dnsdisc_daemon_probe_failures_total", DNSDISC_DAEMON_COUNTER_CHECK_FAILURES,
          "Health probes failed, all services." },
        { "dnsdisc_daemon_probes_skipped_total", DNSDISC_DAEMON_COUNTER_CHECKS_SKIPPED,
          "Health probes not run for want of local resources, all services." },
        { "dnsdisc_daemon_publishes_total", DNSDISC_DAEMON_COUNTER_PUBLISHES,
          "Writes of a service that changed the cache." },
        { "dnsdisc_daemon_cache_file_replacements_total", DNSDISC_DAEMON_COUNTER_FILE_REPLACEMENTS,
          "Times the cache file was grown by writing a new file." },
        { "dnsdisc_daemon_reloads_total", DNSDISC_DAEMON_COUNTER_RELOADS, "Configuration reloads (SIGHUP)." },
        { "dnsdisc_daemon_notify_received_total", DNSDISC_DAEMON_COUNTER_NOTIFY_RECEIVED,
          "Messages on the DNS NOTIFY listener, whatever became of them." },
        { "dnsdisc_daemon_notify_refused_total", DNSDISC_DAEMON_COUNTER_NOTIFY_REFUSED,
          "NOTIFYs from sources outside notify-allow (answered REFUSED)." },
        { "dnsdisc_daemon_notify_bad_tsig_total", DNSDISC_DAEMON_COUNTER_NOTIFY_BAD_TSIG,
          "NOTIFYs unsigned or badly signed while notify-key is set (answered NOTAUTH)." },
        { "dnsdisc_daemon_notify_malformed_total", DNSDISC_DAEMON_COUNTER_NOTIFY_MALFORMED,
          "Messages answered FORMERR or NOTIMP, or not answerable." },
        { "dnsdisc_daemon_notify_coalesced_total", DNSDISC_DAEMON_COUNTER_NOTIFY_COALESCED,
          "Valid NOTIFYs that started no resolution round of their own." },
        { "dnsdisc_daemon_notify_rounds_total", DNSDISC_DAEMON_COUNTER_NOTIFY_ROUNDS,
          "Service resolution rounds that NOTIFYs triggered." },
        { "dnsdisc_daemon_updates_total", DNSDISC_DAEMON_COUNTER_UPDATES,
          "DNS UPDATEs sent for [register] sections, answered or failed." },
        { "dnsdisc_daemon_update_failures_total", DNSDISC_DAEMON_COUNTER_UPDATE_FAILURES,
          "DNS UPDATEs that failed: timeout, error RCODE or a rejected answer." },
        { "dnsdisc_daemon_registrations_total", DNSDISC_DAEMON_COUNTER_REGISTRATIONS,
          "DNS UPDATEs that added or re-asserted an instance of this host." },
        { "dnsdisc_daemon_withdrawals_total", DNSDISC_DAEMON_COUNTER_WITHDRAWALS,
          "DNS UPDATEs that withdrew an instance of this host." },
};

/* An unlabelled daemon-wide sample, with its HELP and TYPE. */
static void daemon_metric(FILE *f, const char *name, const char *type, const char *help, const char *value) {
        family(f, name, type, help);
        fprintf(f, "%s %s\n", name, value);
}

static void daemon_metric_u64(FILE *f, const char *name, const char *type, const char *help, uint64_t value) {
        char buf[24];

        snprintf(buf, sizeof buf, "%" PRIu64, value);
        daemon_metric(f, name, type, help, buf);
}

int print_stats_prometheus(const Stats *s, FILE *f) {
        const dnsdisc_daemon_info *di = &s->daemon;
        char buf[32];

        /* Every family is exposed even without a service, so that absent() alerts see the daemon. */
        for (unsigned m = 0; m < _M_MAX; m++) {
                family(f, service_families[m].name, service_families[m].type, service_families[m].help);
                for (size_t i = 0; i < s->n_services; i++)
                        service_samples(f, m, &s->services[i], s->now);
        }

        daemon_metric_u64(f, "dnsdisc_daemon_up", "gauge",
                          "1 while dnsdiscd refreshes the cache, 0 once it stopped or its heartbeat is late.", !s->stale);
        daemon_metric(f, "dnsdisc_daemon_heartbeat_age_seconds", "gauge",
                      "Seconds since dnsdiscd's last heartbeat when this was written.",
                      format_seconds(buf, (int64_t) MIN(heartbeat_age_usec(di, s->now), (uint64_t) INT64_MAX)));
        daemon_metric(f, "dnsdisc_daemon_heartbeat_timestamp_seconds", "gauge",
                      "Unix time of dnsdiscd's last heartbeat.", format_seconds(buf, MAX(di->heartbeat_usec, 0)));
        daemon_metric(f, "dnsdisc_daemon_start_time_seconds", "gauge", "Unix time dnsdiscd started writing the cache.",
                      format_seconds(buf, MAX(di->started_usec, 0)));
        daemon_metric_u64(f, "dnsdisc_daemon_services", "gauge", "Services in the cache.", s->n_services);
        for (size_t i = 0; i < ELEMENTSOF(daemon_counters); i++)
                daemon_metric_u64(f, daemon_counters[i].name, "counter", daemon_counters[i].help,
                                  s->counters[daemon_counters[i].counter]);
        return ferror(f) ? -EIO : 0;
}

/* ---------------------------------------------------------------- text */

int print_stats_text(const Stats *s, FILE *f) {
        static const char *const headers[] = {
                "SERVICE", "STATE", "UP", "DOWN", "UNKNOWN", "UNCHECKED", "PICKED", "QUERIES", "RESOLVED", "TIMEOUT", "SERVFAIL",
                "REFUSED", "NXDOMAIN", "NODATA", "OTHER", "CHECKS", "FAILED", "SKIPPED", "AGE",
        };
        _cleanup_(table_freep) table *t = table_new(ELEMENTSOF(headers), headers);
        const dnsdisc_daemon_info *di = &s->daemon;
        char span[TIMESPAN_MAX];
        int r;

        if (!t)
                return -ENOMEM;
        for (size_t c = 2; c < ELEMENTSOF(headers); c++)
                table_align_right(t, c);
        for (size_t i = 0; i < s->n_services; i++) {
                const ServiceStats *ss = &s->services[i];
                const uint64_t *c = ss->counters;

                if ((r = table_add(t, ss->info.name)) < 0 ||
                    (r = table_add(t, dnsdisc_state_name(ss->info.state))) < 0 ||
                    (r = table_addf(t, "%" PRIu32, ss->by_health[DNSDISC_HEALTH_UP])) < 0 ||
                    (r = table_addf(t, "%" PRIu32, ss->by_health[DNSDISC_HEALTH_DOWN])) < 0 ||
                    (r = table_addf(t, "%" PRIu32, ss->by_health[DNSDISC_HEALTH_UNKNOWN])) < 0 ||
                    (r = table_addf(t, "%" PRIu32, ss->by_health[DNSDISC_HEALTH_UNCHECKED])) < 0 ||
                    (r = table_addf(t, "%" PRIu32, ss->info.n_scheduled)) < 0 ||
                    (r = table_addf(t, "%" PRIu64, c[DNSDISC_SERVICE_COUNTER_QUERIES])) < 0 ||
                    (r = table_addf(t, "%" PRIu64, c[DNSDISC_SERVICE_COUNTER_RESOLUTIONS])) < 0)
                        return r;
                for (size_t k = 0; k < ELEMENTSOF(error_kinds); k++)
                        if ((r = table_addf(t, "%" PRIu64, c[error_kinds[k].counter])) < 0)
                                return r;
                if ((r = table_addf(t, "%" PRIu64, c[DNSDISC_SERVICE_COUNTER_CHECKS])) < 0 ||
                    (r = table_addf(t, "%" PRIu64, c[DNSDISC_SERVICE_COUNTER_CHECK_FAILURES])) < 0 ||
                    (r = table_addf(t, "%" PRIu64, c[DNSDISC_SERVICE_COUNTER_CHECKS_SKIPPED])) < 0 ||
                    (r = table_add(t, ss->info.last_good_usec == 0 ? "never" :
                                   format_timespan(span, age_sec(s->now, ss->info.last_good_usec) * USEC_PER_SEC))) < 0)
                        return r;
        }
        r = table_print(t, f);
        if (r < 0)
                return r;

        fputc('\n', f);
        if (di->stopped)
                fprintf(f, "           Daemon: stopped (pid %" PRIu32 " exited; the cache is no longer refreshed)\n", di->pid);
        else if (s->stale)
                fprintf(f, "           Daemon: not refreshing (pid %" PRIu32 ")\n", di->pid);
        else
                fprintf(f, "           Daemon: running (pid %" PRIu32 ")\n", di->pid);
        if (di->started_usec > 0)
                fprintf(f, "          Started: %s ago\n",
                        format_timespan(span, age_sec(s->now, di->started_usec) * USEC_PER_SEC));
        fprintf(f, "        Heartbeat: %s ago\n", format_timespan(span, heartbeat_age_usec(di, s->now) / USEC_PER_SEC * USEC_PER_SEC));
        fprintf(f, "         Services: %zu\n", s->n_services);
        fprintf(f, "          Queries: %" PRIu64 "\n", s->counters[DNSDISC_DAEMON_COUNTER_QUERIES]);
        fprintf(f, "      Resolutions: %" PRIu64 " (%" PRIu64 " failed or negative)\n",
                s->counters[DNSDISC_DAEMON_COUNTER_RESOLUTIONS], s->counters[DNSDISC_DAEMON_COUNTER_RESOLUTION_ERRORS]);
        fprintf(f, "           Probes: %" PRIu64 " (%" PRIu64 " failed, %" PRIu64 " skipped)\n",
                s->counters[DNSDISC_DAEMON_COUNTER_CHECKS], s->counters[DNSDISC_DAEMON_COUNTER_CHECK_FAILURES],
                s->counters[DNSDISC_DAEMON_COUNTER_CHECKS_SKIPPED]);
        fprintf(f, "        Publishes: %" PRIu64 "\n", s->counters[DNSDISC_DAEMON_COUNTER_PUBLISHES]);
        fprintf(f, "File replacements: %" PRIu64 "\n", s->counters[DNSDISC_DAEMON_COUNTER_FILE_REPLACEMENTS]);
        fprintf(f, "          Reloads: %" PRIu64 "\n", s->counters[DNSDISC_DAEMON_COUNTER_RELOADS]);
        fprintf(f, "  NOTIFY received: %" PRIu64 " (%" PRIu64 " refused, %" PRIu64 " bad TSIG, %" PRIu64
                   " malformed, %" PRIu64 " coalesced)\n",
                s->counters[DNSDISC_DAEMON_COUNTER_NOTIFY_RECEIVED], s->counters[DNSDISC_DAEMON_COUNTER_NOTIFY_REFUSED],
                s->counters[DNSDISC_DAEMON_COUNTER_NOTIFY_BAD_TSIG],
                s->counters[DNSDISC_DAEMON_COUNTER_NOTIFY_MALFORMED],
                s->counters[DNSDISC_DAEMON_COUNTER_NOTIFY_COALESCED]);
        fprintf(f, "    NOTIFY rounds: %" PRIu64 "\n", s->counters[DNSDISC_DAEMON_COUNTER_NOTIFY_ROUNDS]);
        fprintf(f, "      DNS UPDATEs: %" PRIu64 " (%" PRIu64 " failed, %" PRIu64 " registrations, %" PRIu64
                   " withdrawals)\n",
                s->counters[DNSDISC_DAEMON_COUNTER_UPDATES], s->counters[DNSDISC_DAEMON_COUNTER_UPDATE_FAILURES],
                s->counters[DNSDISC_DAEMON_COUNTER_REGISTRATIONS], s->counters[DNSDISC_DAEMON_COUNTER_WITHDRAWALS]);
        return ferror(f) ? -EIO : 0;
}
