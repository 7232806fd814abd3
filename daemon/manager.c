/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* manager.c: the daemon's top level: event loop, signals, services, cache writer, heartbeat, readiness. */
#include <arpa/inet.h>
#include <signal.h>
#include <sys/random.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "cache-writer.h"
#include "health.h"
#include "log.h"
#include "manager.h"
#include "register.h"
#include "notify.h"
#include "resolve.h"
#include "service.h"

#define HEARTBEAT_USEC USEC_PER_SEC
#define REFRESH_RATE_LIMIT_USEC (5 * USEC_PER_SEC)

struct Manager {
        sd_event *event;
        Config *config;
        char *config_path;
        ServiceContext ctx;
        Resolver *resolver;
        HealthChecker *health;
        Registrar *registrar;
        sd_event_source *stop_timeout;  /* SIGTERM: the bound on withdrawing registrations */
        CacheWriter *writer;
        NotifyListener *notify;        /* NULL without notify-listen */
        Service **services;
        size_t n_services;
        size_t n_first_rounds;
        bool ready;
        uint64_t last_refresh_usec;
        sd_event_source *heartbeat;
        sd_event_source *ready_timeout;
        sd_event_source *ready_defer;   /* READY=1 once the last first round has published */
        sd_event_source *status_dirty; /* STATUS= to send when the loop is idle */
        sd_event_source *flush;        /* oneshot defer: wakes the cache's readers once per burst */
        sd_event_source *republish;    /* oneshot defer: the cache file lost services (truncated) */
        char status_error[256];
};

DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* "12 services, 40/42 backends healthy, 1 stale": STATUS= and the Ready line. */
static void status_format(const Manager *m, char *buf, size_t size) {
        size_t total = 0, healthy = 0, stale = 0, failing = 0;
        for (size_t i = 0; i < m->n_services; i++) {
                const Backend *b;
                size_t n = service_backends(m->services[i], &b);
                total += n;
                for (size_t k = 0; k < n; k++)
                        healthy += b[k].health == DD_HEALTH_UP;
                stale += service_state(m->services[i]) == DD_STATE_STALE;
                failing += service_state(m->services[i]) == DD_STATE_NEGATIVE ||
                           service_state(m->services[i]) == DD_STATE_ERROR;
        }
        snprintf(buf, size, "%zu services, %zu/%zu backends healthy, %zu stale, %zu negative or failing%s%s",
                 m->n_services, healthy, total, stale, failing, m->status_error[0] ? "; " : "", m->status_error);
}

static void manager_notify_status(Manager *m) {
        char status[512];
        m->status_dirty = sd_event_source_disable_unref(m->status_dirty);
        status_format(m, status, sizeof status);
        (void) sd_notifyf(false, "STATUS=%s", status);
}

static int on_status_dirty(sd_event_source *s, void *userdata) {
        manager_notify_status(userdata);
        return 0;
}

static void manager_ready(Manager *m, const char *why) {
        if (m->ready)
                return;
        m->ready = true;
        m->ready_timeout = sd_event_source_disable_unref(m->ready_timeout);
        m->ready_defer = sd_event_source_disable_unref(m->ready_defer);
        char status[512];
        status_format(m, status, sizeof status);
        log_info("Ready: %s: %s", why, status);
        (void) sd_notify(false, "READY=1");
        manager_notify_status(m);
}

static int on_all_first_rounds(sd_event_source *s, void *userdata) {
        manager_ready(userdata, "first resolution of every service done");
        return 0;
}

static void on_first_round(Service *s, void *userdata) {
        Manager *m = userdata;
        if (++m->n_first_rounds < m->n_services || m->ready)
                return;
        /* From a defer source: the last service publishes after its round ends, and READY=1
         * must not come before that. */
        if (sd_event_add_defer(m->event, &m->ready_defer, on_all_first_rounds, m) < 0)
                manager_ready(m, "first resolution of every service done");
}

static int on_flush(sd_event_source *s, void *userdata) {
        Manager *m = userdata;
        cache_writer_flush(m->writer);
        return 0;
}

static void on_wake_pending(void *userdata) {
        Manager *m = userdata;
        /* Cannot fail for a valid source; the heartbeat flushes within a second anyway. */
        (void) sd_event_source_set_enabled(m->flush, SD_EVENT_ONESHOT);
}

/* The cache file was truncated under the writer, which wrote it anew with what was intact:
 * every service resolves now and publishes its set again (as dnsdiscctl refresh does). */
static int on_republish(sd_event_source *s, void *userdata) {
        Manager *m = userdata;
        for (size_t i = 0; i < m->n_services; i++)
                (void) service_refresh_now(m->services[i]);
        return 0;
}

static void on_lost(void *userdata) {
        Manager *m = userdata;
        (void) sd_event_source_set_enabled(m->republish, SD_EVENT_ONESHOT);
}

/* STATUS= counts every service: once per burst of changes (a refresh of many), not once each. */
static void on_change(Service *s, void *userdata) {
        Manager *m = userdata;
        if (!m->ready || m->status_dirty)
                return;
        if (sd_event_add_defer(m->event, &m->status_dirty, on_status_dirty, m) < 0 ||
            sd_event_source_set_priority(m->status_dirty, SD_EVENT_PRIORITY_IDLE) < 0) {
                m->status_dirty = sd_event_source_disable_unref(m->status_dirty);
                manager_notify_status(m);
        }
}

static int on_ready_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        manager_ready(userdata, "first resolution timed out for some services");
        return 0;
}

static int on_heartbeat(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        int r = cache_writer_heartbeat(m->writer);
        if (r < 0)
                log_warning_errno(r, "Failed to write the cache heartbeat: %s", strerror(-r));
        (void) sd_event_source_set_time(s, usec + HEARTBEAT_USEC);
        return sd_event_source_set_enabled(s, SD_EVENT_ON);
}

/* Backends read back from the cache, each owning its target name. */
typedef struct AdoptSet {
        Backend *b;
        size_t n;
} AdoptSet;

static int adopt_backend(const PubBackend *pb, void *userdata) {
        AdoptSet *set = userdata;
        Backend *nb = reallocarray(set->b, set->n + 1, sizeof *nb);
        if (!nb)
                return -ENOMEM;
        set->b = nb;
        nb[set->n] = (Backend) {
                .family = pb->family,
                .port = pb->port,
                .priority = pb->priority,
                .weight = pb->weight,
                .source = pb->source,
                .ttl_expiry_usec = pb->ttl_expiry_usec,
                .health = pb->health,
                .checks = pb->checks,
                .check_failures = pb->check_failures,
                .last_latency_usec = pb->last_latency_usec,
                .consecutive_ok = pb->consecutive_ok,
                .consecutive_fail = pb->consecutive_fail,
                .last_check_usec = pb->last_check_usec,
                .check_error = pb->check_error,
                .target = strdup(pb->target ? pb->target : ""),
        };
        memcpy(nb[set->n].addr, pb->addr, 16);
        if (!nb[set->n].target)
                return -ENOMEM;
        set->n++;
        return 0;
}

/* A previous run published this service: start from its set, so apps keep
 * their backends while we refresh. */
static void manager_adopt(Manager *m, Service *s) {
        AdoptSet set = {};
        uint8_t state;
        int64_t last_good;

        int r = cache_writer_read_service(m->writer, service_name(s), adopt_backend, &set, &state, &last_good);
        if (r >= 0)
                r = service_adopt(s, set.b, set.n, state, last_good);
        else
                r = 0; /* not published before */
        for (size_t i = 0; i < set.n; i++)
                free(set.b[i].target);
        free(set.b);
        if (r < 0)
                log_warning_errno(r, "service %s: could not adopt its cached set: %s", service_name(s), strerror(-r));
        else if (set.n > 0)
                log_debug("service %s: adopted %zu cached backends", service_name(s), set.n);
}

/* Names sorted for lookup: matching n services against n others costs n log n, not n² (10,000
 * services are 10^8 comparisons otherwise). */
typedef struct NameRef {
        const char *name; /* borrowed */
        size_t index;
} NameRef;

static int name_ref_cmp(const void *a, const void *b) {
        return strcmp(((const NameRef *) a)->name, ((const NameRef *) b)->name);
}

static NameRef *names_of_config(const Config *c) {
        NameRef *v = calloc(MAX(c->n_services, 1u), sizeof *v);
        if (!v)
                return NULL;
        for (size_t i = 0; i < c->n_services; i++)
                v[i] = (NameRef) { c->services[i].name, i };
        qsort(v, c->n_services, sizeof *v, name_ref_cmp);
        return v;
}

static NameRef *names_of_services(Service *const *services, size_t n) {
        NameRef *v = calloc(MAX(n, 1u), sizeof *v);
        if (!v)
                return NULL;
        for (size_t i = 0; i < n; i++)
                v[i] = (NameRef) { service_name(services[i]), i };
        qsort(v, n, sizeof *v, name_ref_cmp);
        return v;
}

static const NameRef *names_find(const NameRef *v, size_t n, const char *name) {
        NameRef key = { name, 0 };
        return bsearch(&key, v, n, sizeof *v, name_ref_cmp);
}

typedef struct Configured {
        const NameRef *names;
        size_t n;
} Configured;

static bool keep_configured(const char *name, void *userdata) {
        const Configured *c = userdata;
        return names_find(c->names, c->n, name) != NULL;
}

static int manager_add_service(Manager *m, const ServiceConfig *sc, Service **ret) {
        Service *s;
        int r = service_new(&m->ctx, sc, &s);
        if (r < 0)
                return log_error_errno(r, "Failed to create service %s: %s", sc->name, strerror(-r));
        manager_adopt(m, s);
        *ret = s;
        return 0;
}

static int manager_notify_reload(Manager *m, const Config *nc);

/* SIGHUP: the new configuration replaces the old one only if it is valid;
 * services whose configuration is unchanged keep their state and timers. */
static int manager_reload(Manager *m) {
        _cleanup_free_ char *error = NULL;
        Config *nc = NULL;
        int r;

        (void) sd_notifyf(false, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, now_usec(CLOCK_MONOTONIC));
        r = config_load(m->config_path, NULL, &nc, &error);
        if (r < 0) {
                log_error("Reload failed, keeping the running configuration: %s", error ? error : strerror(-r));
                snprintf(m->status_error, sizeof m->status_error, "reload failed: %s", error ? error : strerror(-r));
                (void) sd_notify(false, "READY=1");
                manager_notify_status(m);
                return 0;
        }
        m->status_error[0] = 0;
        if (!streq(nc->cache_path, m->config->cache_path) || nc->n_servers != m->config->n_servers ||
            (nc->n_servers && memcmp(nc->servers, m->config->servers, nc->n_servers * sizeof *nc->servers)) ||
            nc->query_timeout_usec != m->config->query_timeout_usec || nc->max_inflight != m->config->max_inflight)
                log_warning("Reload: changes to cache, servers, query-timeout or max-inflight take effect on restart");
        (void) manager_notify_reload(m, nc);
        log_set_max_level(nc->log_level);

        Service **ns = calloc(MAX(nc->n_services, 1u), sizeof *ns);
        if (!ns) {
                config_free(nc);
                (void) sd_notify(false, "READY=1");
                return log_error_errno(-ENOMEM, "Reload failed: out of memory");
        }
        _cleanup_free_ NameRef *old_names = names_of_services(m->services, m->n_services);
        _cleanup_free_ NameRef *new_names = names_of_config(nc);
        if (!old_names || !new_names) {
                free(ns);
                config_free(nc);
                (void) sd_notify(false, "READY=1");
                return log_error_errno(-ENOMEM, "Reload failed: out of memory");
        }
        size_t created = 0, changed = 0, kept = 0, removed = 0;
        for (size_t i = 0; i < nc->n_services; i++) {
                const ServiceConfig *sc = &nc->services[i];
                const NameRef *old = names_find(old_names, m->n_services, sc->name);
                if (!old)
                        continue;
                if (service_config_equal(service_config(m->services[old->index]), sc)) {
                        ns[i] = TAKE_PTR(m->services[old->index]);
                        kept++;
                } else
                        changed++;
        }
        /* Removed services free their slots before new ones take slots. */
        for (size_t k = 0; k < m->n_services; k++) {
                if (!m->services[k])
                        continue;
                if (!names_find(new_names, nc->n_services, service_name(m->services[k]))) {
                        (void) cache_writer_remove(m->writer, service_name(m->services[k]));
                        removed++;
                }
                m->services[k] = service_unref(m->services[k]);
        }
        (void) cache_writer_reserve_tables(m->writer, nc->n_services, config_hash_table_entries(nc));
        size_t n = 0;
        for (size_t i = 0; i < nc->n_services; i++) {
                if (!ns[i]) {
                        /* Logged; the service is left out until the next reload. */
                        if (manager_add_service(m, &nc->services[i], &ns[i]) < 0)
                                continue;
                        created++;
                        (void) service_start(ns[i]);
                }
                ns[n++] = ns[i];
        }
        free(m->services);
        m->services = ns;
        m->n_services = n;
        size_t nc_services = nc->n_services;
        if (m->registrar)
                registrar_reload(m->registrar, &nc->registers, &nc->n_registers);
        config_drop_services(nc);
        config_free(m->config);
        m->config = nc;
        cache_writer_count(m->writer, DD_DCTR_RELOADS, 1);
        size_t fresh = nc_services - kept - changed;
        log_info("Reloaded: %zu services (%zu unchanged, %zu changed, %zu new, %zu removed)", m->n_services, kept,
                 changed, fresh, removed);
        if (created < changed + fresh)
                log_warning("Reload: %zu changed or new services could not be set up and are left out",
                            changed + fresh - created);
        (void) sd_notify(false, "READY=1");
        manager_notify_status(m);
        return 0;
}

/* Every message on the NOTIFY listener, for dnsdiscctl stats. */
static void on_notify_message(const NotifyRequest *r, bool coalesced, void *userdata) {
        Manager *m = userdata;
        cache_writer_count(m->writer, DD_DCTR_NOTIFY_RECEIVED, 1);
        switch (r->verdict) {
        case NOTIFY_ACCEPTED:
                if (coalesced)
                        cache_writer_count(m->writer, DD_DCTR_NOTIFY_COALESCED, 1);
                break;
        case NOTIFY_REFUSED:
                cache_writer_count(m->writer, DD_DCTR_NOTIFY_REFUSED, 1);
                break;
        case NOTIFY_BAD_TSIG:
                cache_writer_count(m->writer, DD_DCTR_NOTIFY_BAD_TSIG, 1);
                break;
        default:
                cache_writer_count(m->writer, DD_DCTR_NOTIFY_MALFORMED, 1);
        }
}

/* A zone changed: resolve again every service that depends on a name in it. The listener calls
 * this at most once per zone per notify-min-interval, and each service paces itself too. */
static void on_notify_zone(const char *zone, void *userdata) {
        Manager *m = userdata;
        size_t matched = 0, started = 0;
        for (size_t i = 0; i < m->n_services; i++) {
                if (!service_depends_on_zone(m->services[i], zone))
                        continue;
                matched++;
                started += service_notify(m->services[i], m->config->notify_min_interval_usec) > 0;
        }
        log_debug("NOTIFY for zone %s: %zu services depend on it, %zu rounds asked for", zone[0] ? zone : ".", matched,
                  started);
}

/* The listener's settings from c; ret_listen (the endpoints) is the caller's to free. */
static int notify_config_of(const Config *c, NotifyListenerConfig *ret, NotifyEndpoint **ret_listen) {
        NotifyEndpoint *ep = calloc(MAX(c->n_notify_listen, 1u), sizeof *ep);
        if (!ep)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_notify_listen; i++) {
                ep[i].family = c->notify_listen[i].family;
                memcpy(ep[i].addr, c->notify_listen[i].addr, 16);
                ep[i].port = c->notify_listen[i].port;
        }
        *ret = (NotifyListenerConfig) {
                .listen = ep,
                .n_listen = c->n_notify_listen,
                .allow = c->notify_allow,
                .n_allow = c->n_notify_allow,
                .key = c->notify_key,
                .min_interval_usec = c->notify_min_interval_usec,
        };
        *ret_listen = ep;
        return 0;
}

static void log_notify_listening(const Config *c, const char *prefix) {
        log_info("%sListening for DNS NOTIFY on %zu address%s (UDP and TCP), %s%s%s", prefix, c->n_notify_listen,
                 c->n_notify_listen == 1 ? "" : "es", c->notify_key ? "TSIG key " : "no TSIG key",
                 c->notify_key ? c->notify_key->name : "", c->n_notify_allow ? "" : ", loopback sources only");
}

static int manager_notify_start(Manager *m) {
        const Config *c = m->config;
        if (c->n_notify_listen == 0)
                return 0;
        _cleanup_free_ NotifyEndpoint *ep = NULL;
        NotifyListenerConfig nc;
        if (notify_config_of(c, &nc, &ep) < 0)
                return log_error_errno(-ENOMEM, "Out of memory");
        NotifyHandlers h = { on_notify_message, on_notify_zone, m };
        int r = notify_listener_new(m->event, &nc, &h, &m->notify);
        if (r < 0)
                return r; /* logged with the address */
        log_notify_listening(c, "");
        return 0;
}

/*
 * A reload applies every NOTIFY setting, as unbound and nsd do: sources and key to the next
 * message; new addresses are bound before the old ones close. A failure to bind keeps the
 * listener where it was (logged with the address and why) and never fails the reload: the
 * daemon's other work goes on, and the next reload tries again.
 */
static int manager_notify_reload(Manager *m, const Config *nc) {
        if (!m->notify && nc->n_notify_listen == 0)
                return 0;
        if (nc->n_notify_listen == 0) {
                m->notify = notify_listener_free(m->notify);
                log_info("Reload: no notify-listen any more, the NOTIFY listener is closed");
                return 0;
        }
        _cleanup_free_ NotifyEndpoint *ep = NULL;
        NotifyListenerConfig lc;
        int r = notify_config_of(nc, &lc, &ep);
        if (r < 0)
                r = log_error_errno(r, "Reload: out of memory, the NOTIFY listener is left as it was");
        else if (!m->notify) {
                NotifyHandlers h = { on_notify_message, on_notify_zone, m };
                r = notify_listener_new(m->event, &lc, &h, &m->notify);
                if (r >= 0)
                        log_notify_listening(nc, "Reload: ");
        } else {
                r = notify_listener_reload(m->notify, &lc);
                if (r > 0)
                        log_notify_listening(nc, "Reload: ");
        }
        if (r < 0) {
                log_warning("Reload: the NOTIFY listener %s (see the error above); the rest of the configuration "
                            "is applied, and the next reload tries again",
                            m->notify ? "keeps its previous addresses" : "is not started");
                snprintf(m->status_error, sizeof m->status_error, "NOTIFY listener %s: %s",
                         m->notify ? "kept its previous addresses" : "not started", strerror(-r));
        }
        return r;
}

static void on_registrations_withdrawn(void *userdata) {
        Manager *m = userdata;
        (void) sd_event_exit(m->event, 0);
}

static int on_stop_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        log_warning("Stopping without every registration withdrawn: no answer in time");
        return sd_event_exit(m->event, 0);
}

/* Registrations withdraw first (deregister-on-stop), bounded by the UPDATE timeout × tries. */
static int manager_stop(Manager *m) {
        uint64_t now;
        if (!m->registrar)
                return sd_event_exit(m->event, 0);
        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        uint64_t limit = m->config->query_timeout_usec * ((1ULL << MIN(m->config->query_tries, 6u)) - 1) + USEC_PER_SEC;
        if (sd_event_add_time(m->event, &m->stop_timeout, CLOCK_MONOTONIC, now + limit, USEC_PER_MSEC * 10,
                              on_stop_timeout, m) < 0)
                return sd_event_exit(m->event, 0);
        registrar_stop(m->registrar, on_registrations_withdrawn, m);
        return 0;
}

static void on_count(unsigned counter, void *userdata) {
        Manager *m = userdata;
        cache_writer_count(m->writer, counter, 1);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        switch (si->ssi_signo) {
        case SIGHUP:
                return manager_reload(m);
        case SIGUSR1: {
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                if (m->last_refresh_usec && now - m->last_refresh_usec < REFRESH_RATE_LIMIT_USEC) {
                        log_notice("Refresh requested again within %" PRIu64 "s, ignored",
                                   REFRESH_RATE_LIMIT_USEC / USEC_PER_SEC);
                        return 0;
                }
                m->last_refresh_usec = now;
                log_info("Refreshing every service now");
                for (size_t i = 0; i < m->n_services; i++)
                        (void) service_refresh_now(m->services[i]);
                return 0;
        }
        default:
                if (m->stop_timeout)
                        return 0; /* already withdrawing */
                log_info("Received %s, stopping", strsignal((int) si->ssi_signo));
                (void) sd_notify(false, "STOPPING=1");
                return manager_stop(m);
        }
}

int manager_new(Config *config, const char *config_path, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = calloc(1, sizeof *m);
        int r;

        if (!m) {
                config_free(config);
                return -ENOMEM;
        }
        m->config = config;
        m->config_path = strdup(config_path);
        if (!m->config_path)
                return -ENOMEM;

        r = sd_event_default(&m->event);
        if (r < 0)
                return log_error_errno(r, "Failed to create the event loop: %s", strerror(-r));

        static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
        sigset_t mask;
        sigemptyset(&mask);
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
                sigaddset(&mask, sigs[i]);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(-errno, "Failed to block signals: %s", strerror(errno));
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++) {
                r = sd_event_add_signal(m->event, NULL, sigs[i], on_signal, m);
                if (r < 0)
                        return log_error_errno(r, "Failed to watch signal %d: %s", sigs[i], strerror(-r));
        }
        (void) sd_event_set_watchdog(m->event, true);

        ResolverServer servers[64];
        size_t n_servers = MIN(config->n_servers, ELEMENTSOF(servers));
        for (size_t i = 0; i < n_servers; i++) {
                servers[i].family = config->servers[i].family;
                memcpy(servers[i].addr, config->servers[i].addr, 16);
                servers[i].port = config->servers[i].port;
        }
        ResolverConfig rc = {
                .servers = servers,
                .n_servers = n_servers,
                .timeout_usec = config->query_timeout_usec,
                .tries = config->query_tries,
                .max_inflight = config->max_inflight,
        };
        r = resolver_new(m->event, &rc, &m->resolver);
        if (r < 0)
                return log_error_errno(r, "Failed to set up DNS resolution: %s", strerror(-r));

        r = health_checker_new(m->event, config->max_checks_inflight, &m->health);
        if (r < 0)
                return log_error_errno(r, "Failed to set up health checks: %s", strerror(-r));

        r = cache_writer_open(config->cache_path, &m->writer);
        if (r < 0)
                return log_error_errno(r, "Failed to open the cache file %s: %s", config->cache_path,
                                       r == -EBUSY ? "another dnsdiscd is writing it" : strerror(-r));
        r = sd_event_add_defer(m->event, &m->flush, on_flush, m);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->flush, SD_EVENT_OFF);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the event loop: %s", strerror(-r));
        cache_writer_set_batching(m->writer, on_wake_pending, m);
        r = sd_event_add_defer(m->event, &m->republish, on_republish, m);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->republish, SD_EVENT_OFF);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the event loop: %s", strerror(-r));
        cache_writer_set_on_lost(m->writer, on_lost, m);

        _cleanup_free_ NameRef *names = names_of_config(config);
        if (!names)
                return log_error_errno(-ENOMEM, "Out of memory");
        r = cache_writer_sweep(m->writer, keep_configured, &(Configured) { names, config->n_services });
        if (r > 0)
                log_info("Removed %d services no longer configured from the cache", r);
        /* A failure is logged by the writer; publishing grows the file as needed then. */
        (void) cache_writer_reserve_tables(m->writer, config->n_services, config_hash_table_entries(config));

        uint64_t seed;
        if (getrandom(&seed, sizeof seed, 0) != sizeof seed)
                seed = now_usec(CLOCK_MONOTONIC) ^ (uint64_t) getpid();
        m->ctx = (ServiceContext) {
                .event = m->event,
                .resolver = m->resolver,
                .writer = m->writer,
                .health = m->health,
                .rng = seed | 1,
                .on_first_round = on_first_round,
                .on_change = on_change,
                .userdata = m,
        };
        r = service_context_start(&m->ctx);
        if (r < 0)
                return log_error_errno(r, "Failed to set up refresh timers: %s", strerror(-r));
        r = manager_notify_start(m);
        if (r < 0)
                return r;

        _cleanup_free_ char *state_path = NULL;
        if (asprintf(&state_path, "%s.registrations", config->cache_path) < 0)
                return log_error_errno(-ENOMEM, "Out of memory");
        RegistrarContext rctx = {
                .event = m->event,
                .health = m->health,
                .lookup = m->resolver,
                .timeout_usec = config->query_timeout_usec,
                .tries = config->query_tries,
                .state_path = state_path,
                .count = on_count,
                .userdata = m,
        };
        r = registrar_new(&rctx, &config->registers, &config->n_registers, &m->registrar);
        if (r < 0)
                return log_error_errno(r, "Failed to set up registrations: %s", strerror(-r));

        m->services = calloc(MAX(config->n_services, 1u), sizeof *m->services);
        if (!m->services)
                return -ENOMEM;
        for (size_t i = 0; i < config->n_services; i++) {
                r = manager_add_service(m, &config->services[i], &m->services[i]);
                if (r < 0)
                        return r;
                m->n_services++;
        }
        config_drop_services(config);
        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        notify_listener_free(m->notify);
        for (size_t i = 0; i < m->n_services; i++)
                service_unref(m->services[i]);
        free(m->services);
        /* Pending queries hold service references: drop the resolver first. */
        resolver_free(m->resolver);
        registrar_free(m->registrar);
        sd_event_source_disable_unref(m->stop_timeout);
        timer_queue_free(m->ctx.timers);
        health_checker_free(m->health);
        cache_writer_free(m->writer);
        sd_event_source_disable_unref(m->heartbeat);
        sd_event_source_disable_unref(m->ready_timeout);
        sd_event_source_disable_unref(m->ready_defer);
        sd_event_source_disable_unref(m->status_dirty);
        sd_event_source_disable_unref(m->flush);
        sd_event_source_disable_unref(m->republish);
        sd_event_unref(m->event);
        config_free(m->config);
        free(m->config_path);
        free(m);
        return NULL;
}

int manager_run(Manager *m) {
        uint64_t now;
        int r;

        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        r = sd_event_add_time(m->event, &m->heartbeat, CLOCK_MONOTONIC, now, USEC_PER_MSEC * 50, on_heartbeat, m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the heartbeat: %s", strerror(-r));
        (void) sd_event_source_set_enabled(m->heartbeat, SD_EVENT_ON);

        /* READY=1 after the first round, but never an indefinite wait: a
         * query gives up after timeout × (2^tries - 1) (c-ares doubles). */
        uint64_t limit = m->config->query_timeout_usec * ((1ULL << MIN(m->config->query_tries, 6u)) - 1) * 2 + USEC_PER_SEC;
        r = sd_event_add_time(m->event, &m->ready_timeout, CLOCK_MONOTONIC, now + limit, USEC_PER_MSEC * 10,
                              on_ready_timeout, m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the readiness timeout: %s", strerror(-r));

        for (size_t i = 0; i < m->n_services; i++)
                (void) service_start(m->services[i]);
        registrar_start(m->registrar);
        if (m->n_services == 0)
                manager_ready(m, "no services configured");

        log_info("Started: %zu services, cache %s", m->n_services, cache_writer_path(m->writer));
        r = sd_event_loop(m->event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %s", strerror(-r));
        return 0;
}
