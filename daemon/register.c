/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* register.c: the registration agent: this host's instances added to DNS by signed UPDATE while healthy, withdrawn when not. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "cache-def.h"
#include "log.h"
#include "register.h"
#include "update-wire.h"

#define BACKOFF_MIN_USEC USEC_PER_SEC
#define BACKOFF_MAX_USEC (300 * USEC_PER_SEC)
#define DNS_TYPE_SOA 6

/* HELD_UNKNOWN: since start nothing was sent; a record a crashed run left may be in the zone. */
typedef enum RegHeld { HELD_UNKNOWN, HELD_NOTHING, HELD_REGISTERED } RegHeld;
/* BUSY_MNAME looks up the primary's A records, then BUSY_MNAME6 its AAAA if it has none. */
typedef enum RegBusy { BUSY_NO, BUSY_SOA, BUSY_MNAME, BUSY_MNAME6, BUSY_ADD, BUSY_DELETE } RegBusy;

typedef struct Reg Reg;
struct Reg {
        Registrar *registrar;
        RegisterConfig c;
        char zone[RECORDS_NAME_MAX];    /* "" until known */
        char mname[RECORDS_NAME_MAX];
        char target[RECORDS_NAME_MAX];
        ResolverServer server;          /* family 0 until known */
        Resolver *transport;            /* UPDATEs to server */
        HealthMonitor *monitor;         /* NULL: check none, or stopped */
        bool healthy;
        bool checked;                   /* check is not none */
        bool down;                      /* the checks judged the instance down (fall failures) */
        RegHeld held;
        RegBusy busy;
        int mname_error;                /* of the primary's A lookup, while its AAAA is looked up */
        UpdatePrereq step;              /* of the ADD in flight */
        UpdateMac mac;
        bool refresh_due;
        bool retiring;                  /* removed or changed by a reload: withdraw, then go */
        bool stop_done;                 /* stopping: its last UPDATE answered or failed */
        unsigned failures;              /* consecutive */
        sd_event_source *timer;         /* the next refresh or retry */
        uint64_t next_usec;             /* CLOCK_REALTIME of timer, 0: none */
        char result[96];                /* the last result, as logged */
        int64_t result_usec;            /* CLOCK_REALTIME */
        uint64_t updates, failed;
        Reg *next;
};

struct Registrar {
        RegistrarContext ctx;
        char *state_path;
        Reg *regs;
        sd_event_source *write_state;   /* defer: one state file write per burst */
        sd_event_source *reap;          /* defer: frees retired registrations outside callbacks */
        bool started, stopping;
        void (*stop_done)(void *userdata);
        void *stop_userdata;
        sd_event_source *stop_defer;
};

static void reg_kick(Reg *g);

uint64_t register_backoff_usec(unsigned failures, uint64_t max_usec, uint32_t rnd) {
        uint64_t d = BACKOFF_MIN_USEC;
        for (unsigned i = 1; i < failures && d < max_usec; i++)
                d *= 2;
        d = MIN(d, max_usec);
        return d / 2 + (d / 2) * (uint64_t) rnd / UINT32_MAX;
}

uint64_t register_refresh_usec(uint64_t refresh_usec, uint32_t rnd) {
        uint64_t span = refresh_usec / 5; /* ±10 % */
        return refresh_usec - span / 2 + span * (uint64_t) rnd / UINT32_MAX;
}

int register_default_target(const char *hostname, const char *zone, char ret[static RECORDS_NAME_MAX]) {
        char buf[RECORDS_NAME_MAX + 64];
        size_t label = strcspn(hostname, ".");
        if (label == 0 || label > 63)
                return -EINVAL;
        if (snprintf(buf, sizeof buf, "%.*s%s%s", (int) label, hostname, zone[0] ? "." : "", zone) >= (int) sizeof buf)
                return -ENAMETOOLONG;
        return records_normalize_name(buf, ret, RECORDS_NAME_MAX);
}

static uint32_t rnd32(void) {
        uint32_t v;
        if (getrandom(&v, sizeof v, GRND_NONBLOCK) != sizeof v)
                v = (uint32_t) now_usec(CLOCK_MONOTONIC);
        return v;
}

/* ---- state for dnsdiscctl registrations: a JSON file replaced by rename, never the secret ---- */

static void json_str(FILE *f, const char *s) {
        fputc('"', f);
        for (; s && *s; s++) {
                unsigned char ch = (unsigned char) *s;
                if (ch == '"' || ch == '\\')
                        fprintf(f, "\\%c", ch);
                else if (ch < 0x20)
                        fprintf(f, "\\u%04x", ch);
                else
                        fputc(ch, f);
        }
        fputc('"', f);
}

static const char *reg_state(const Reg *g) {
        if (g->busy == BUSY_SOA || g->busy == BUSY_MNAME || g->busy == BUSY_MNAME6)
                return "discovering";
        if (g->busy == BUSY_ADD)
                return "registering";
        if (g->busy == BUSY_DELETE)
                return "withdrawing";
        if (g->failures > 0)
                return "failing";
        return g->held == HELD_REGISTERED ? "registered" : g->held == HELD_NOTHING ? "withdrawn" : "pending";
}

static void registrar_write_state_now(Registrar *r) {
        if (!r->state_path)
                return;
        if (!r->regs) {
                /* No [register] section: no file, so dnsdiscctl says there is nothing to show. */
                if (unlink(r->state_path) < 0 && errno != ENOENT)
                        log_debug_errno(-errno, "Cannot remove %s: %s", r->state_path, strerror(errno));
                return;
        }
        _cleanup_free_ char *tmp = NULL;
        if (asprintf(&tmp, "%s.tmp", r->state_path) < 0)
                return;
        /* As the cache writer makes its files: a fresh name (a symlink or a file planted there is
         * never written through), mode 0644 whatever the umask, so dnsdiscctl can read it. */
        (void) unlink(tmp);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0) {
                log_debug_errno(-errno, "Cannot write %s: %s", tmp, strerror(errno));
                return;
        }
        _cleanup_fclose_ FILE *f = NULL;
        if (fchmod(fd, 0644) < 0 || !(f = fdopen(fd, "w"))) {
                log_debug_errno(-errno, "Cannot write %s: %s", tmp, strerror(errno));
                (void) close(fd);
                (void) unlink(tmp);
                return;
        }
        fprintf(f, "{\"registrations\":[");
        bool first = true;
        for (Reg *g = r->regs; g; g = g->next) {
                if (g->retiring)
                        continue;
                char server[INET6_ADDRSTRLEN] = "";
                if (g->server.family)
                        inet_ntop(g->server.family, g->server.addr, server, sizeof server);
                fprintf(f, "%s\n{\"name\":", first ? "" : ",");
                first = false;
                json_str(f, g->c.name);
                fprintf(f, ",\"srv\":");
                json_str(f, g->c.srv);
                fprintf(f, ",\"target\":");
                json_str(f, g->target[0] ? g->target : g->c.target);
                fprintf(f, ",\"port\":%u,\"priority\":%u,\"weight\":%u,\"ttl\":%" PRIu32 ",\"zone\":", g->c.port,
                        g->c.priority, g->c.weight, g->c.ttl_sec);
                json_str(f, g->zone);
                fprintf(f, ",\"server\":");
                json_str(f, server);
                fprintf(f, ",\"server_port\":%u,\"key\":", g->server.port);
                json_str(f, g->c.key ? g->c.key->name : "");
                fprintf(f, ",\"check\":\"%s\",\"health\":\"%s\",\"state\":\"%s\",\"last_result\":",
                        g->c.s.check == CHECK_HTTP ? "http"
                        : g->c.s.check == CHECK_TCP ? "tcp"
                                                    : "none",
                        !g->checked ? "unchecked" : g->healthy ? "up" : "down", reg_state(g));
                json_str(f, g->result);
                fprintf(f,
                        ",\"last_update_usec\":%" PRId64 ",\"next_usec\":%" PRIu64 ",\"updates\":%" PRIu64
                        ",\"failures\":%" PRIu64 ",\"consecutive_failures\":%u}",
                        g->result_usec, g->next_usec, g->updates, g->failed, g->failures);
        }
        fprintf(f, "\n]}\n");
        if (fflush(f) != 0 || ferror(f) || rename(tmp, r->state_path) < 0) {
                log_debug_errno(-errno, "Cannot write %s: %s", r->state_path, strerror(errno));
                (void) unlink(tmp);
        }
}

static int on_write_state(sd_event_source *s, void *userdata) {
        registrar_write_state_now(userdata);
        return 0;
}

static void state_changed(Registrar *r) {
        (void) sd_event_source_set_enabled(r->write_state, SD_EVENT_ONESHOT);
}

static void count(Registrar *r, unsigned counter) {
        if (r->ctx.count)
                r->ctx.count(counter, r->ctx.userdata);
}

/* ---- one registration ---- */

static Reg *reg_free(Reg *g) {
        if (!g)
                return NULL;
        health_monitor_free(g->monitor);
        sd_event_source_disable_unref(g->timer);
        /* Answers still pending come back -ECANCELED: busy tells the callback to let go. */
        g->busy = BUSY_NO;
        resolver_free(g->transport);
        register_config_done(&g->c);
        free(g);
        return NULL;
}

static void registrar_check_stop(Registrar *r) {
        if (!r->stopping || !r->stop_done)
                return;
        for (Reg *g = r->regs; g; g = g->next)
                if (!g->stop_done)
                        return;
        void (*done)(void *) = TAKE_PTR(r->stop_done);
        done(r->stop_userdata);
}

/* What this instance owns: its SRV record and the target's addresses. */
static size_t reg_records(const Reg *g, UpdateRecord *out, size_t max) {
        size_t n = 0;
        out[n++] = (UpdateRecord) {
                .type = RECORDS_TYPE_SRV,
                .name = g->c.srv,
                .ttl = g->c.ttl_sec,
                .priority = g->c.priority,
                .weight = g->c.weight,
                .port = g->c.port,
                .target = g->target,
        };
        for (size_t i = 0; i < g->c.n_addresses && n < max; i++) {
                out[n] = (UpdateRecord) {
                        .type = g->c.addresses[i].family == AF_INET ? RECORDS_TYPE_A : RECORDS_TYPE_AAAA,
                        .name = g->target,
                        .ttl = g->c.ttl_sec,
                };
                memcpy(out[n].addr, g->c.addresses[i].addr, 16);
                n++;
        }
        return n;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Reg *g = userdata;
        g->next_usec = 0;
        g->refresh_due = true;
        reg_kick(g);
        return 0;
}

static void reg_schedule(Reg *g, uint64_t delay_usec) {
        uint64_t now;
        (void) sd_event_now(g->registrar->ctx.event, CLOCK_BOOTTIME, &now);
        if (!g->timer) {
                if (sd_event_add_time(g->registrar->ctx.event, &g->timer, CLOCK_BOOTTIME, now + delay_usec,
                                      USEC_PER_MSEC * 100, on_timer, g) < 0) {
                        log_error("registration %s: cannot set a timer: its records are not refreshed", g->c.name);
                        return;
                }
        } else {
                (void) sd_event_source_set_time(g->timer, now + delay_usec);
                (void) sd_event_source_set_enabled(g->timer, SD_EVENT_ONESHOT);
        }
        g->next_usec = now_usec(CLOCK_REALTIME) + delay_usec;
}

static void reg_unschedule(Reg *g) {
        if (g->timer)
                (void) sd_event_source_set_enabled(g->timer, SD_EVENT_OFF);
        g->next_usec = 0;
}

/* A result worth a log line only when it differs from the last one. */
static void reg_result(Reg *g, bool ok, const char *fmt, ...) _printf_(3, 4);
static void reg_result(Reg *g, bool ok, const char *fmt, ...) {
        char buf[sizeof g->result];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        g->result_usec = (int64_t) now_usec(CLOCK_REALTIME);
        if (streq(buf, g->result))
                return;
        memcpy(g->result, buf, sizeof buf);
        if (ok)
                log_info("registration %s: %s", g->c.name, buf);
        else
                log_warning("registration %s: %s", g->c.name, buf);
}

static void reg_failed(Reg *g) {
        Registrar *r = g->registrar;
        g->failures++;
        g->failed++;
        count(r, DD_DCTR_UPDATE_FAILURES);
        if (r->stopping || g->retiring) {
                g->stop_done = true;
                if (g->retiring)
                        g->held = HELD_NOTHING; /* given up: it goes */
                return;
        }
        uint64_t max = MIN(BACKOFF_MAX_USEC, MAX(g->c.refresh_usec, BACKOFF_MIN_USEC));
        reg_schedule(g, register_backoff_usec(g->failures, max, rnd32()));
}

static void on_update_answer(int error, const uint8_t *pkt, size_t len, void *userdata) {
        Reg *g = userdata;
        Registrar *r = g->registrar;
        RegBusy was = g->busy;
        char rc[16];

        if (was == BUSY_NO || error == -ECANCELED)
                return;
        g->busy = BUSY_NO;
        g->updates++;
        count(r, DD_DCTR_UPDATES);
        const char *what = was == BUSY_ADD ? "add" : "withdraw";
        if (error < 0) {
                reg_result(g, false, "%s failed: %s", what,
                           error == -ETIMEDOUT ? "no answer (timeout)" : strerror(-error));
                reg_failed(g);
                goto done;
        }
        const char *why = NULL;
        UpdateKey key = {};
        if (g->c.key)
                key = (UpdateKey) { g->c.key->name, g->c.key->algorithm, g->c.key->secret };
        int rcode = update_wire_check(pkt, len, g->zone, g->c.key ? &key : NULL, &g->mac, &why);
        if (rcode < 0) {
                reg_result(g, false, "%s: answer rejected: %s", what, why ? why : strerror(-rcode));
                reg_failed(g);
                goto done;
        }
        if (was == BUSY_ADD && g->step == UPDATE_PREREQ_ADDRS_ABSENT && rcode == UPDATE_RCODE_YXRRSET) {
                /* The target has addresses: go on only if they are exactly ours. */
                g->step = UPDATE_PREREQ_ADDRS_EXACT;
                g->refresh_due = true;
                reg_kick(g);
                return;
        }
        if (was == BUSY_ADD && g->step == UPDATE_PREREQ_ADDRS_EXACT && rcode == UPDATE_RCODE_NXRRSET) {
                g->step = UPDATE_PREREQ_ADDRS_ABSENT;
                reg_result(g, false, "add refused by prerequisite: %s holds other addresses (NXRRSET)", g->target);
                reg_failed(g);
                goto done;
        }
        if (rcode != UPDATE_RCODE_NOERROR) {
                reg_result(g, false, "%s failed: %s (zone %s)", what, update_rcode_name(rcode, rc), g->zone);
                reg_failed(g);
                goto done;
        }
        g->failures = 0;
        if (was == BUSY_ADD) {
                g->held = HELD_REGISTERED;
                g->step = UPDATE_PREREQ_ADDRS_EXACT;
                reg_result(g, true, "registered %s SRV %u %u %u %s", g->c.srv, g->c.priority, g->c.weight, g->c.port,
                           g->target);
                count(r, DD_DCTR_REGISTRATIONS);
                if (!r->stopping && !g->retiring)
                        reg_schedule(g, register_refresh_usec(g->c.refresh_usec, rnd32()));
        } else {
                g->held = HELD_NOTHING;
                g->step = UPDATE_PREREQ_ADDRS_ABSENT;
                reg_result(g, true, "withdrawn from %s", g->c.srv);
                count(r, DD_DCTR_WITHDRAWALS);
                reg_unschedule(g);
        }
        /* Stopping or retiring: done once withdrawn; an add that landed meanwhile is withdrawn next. */
        if ((r->stopping || g->retiring) && (was == BUSY_DELETE || (r->stopping && !g->c.deregister_on_stop)))
                g->stop_done = true;
done:
        state_changed(r);
        if (g->retiring && g->stop_done)
                (void) sd_event_source_set_enabled(r->reap, SD_EVENT_ONESHOT);
        registrar_check_stop(r);
        reg_kick(g);
}

static int reg_transport(Reg *g) {
        Registrar *r = g->registrar;
        if (g->transport)
                return 0;
        ResolverConfig rc = {
                .servers = &g->server,
                .n_servers = 1,
                .timeout_usec = r->ctx.timeout_usec,
                .tries = r->ctx.tries,
                .max_inflight = 1,
                .raw_answers = true,
        };
        return resolver_new(r->ctx.event, &rc, &g->transport);
}

static void reg_send(Reg *g, bool add) {
        UpdateRecord recs[1 + 16];
        size_t n = reg_records(g, recs, ELEMENTSOF(recs));
        UpdateKey key = {};
        _cleanup_free_ uint8_t *msg = NULL;
        size_t len = 0;
        int k;

        if (g->c.key)
                key = (UpdateKey) { g->c.key->name, g->c.key->algorithm, g->c.key->secret };
        k = reg_transport(g);
        if (k >= 0) {
                if (add)
                        k = update_wire_build((uint16_t) rnd32(), g->zone, g->c.n_addresses ? g->step : UPDATE_PREREQ_NONE,
                                              NULL, 0, recs, n, g->c.key ? &key : NULL, &msg, &len, &g->mac);
                else
                        /* The SRV record only: the target's addresses may serve other registrations. */
                        k = update_wire_build((uint16_t) rnd32(), g->zone, UPDATE_PREREQ_NONE, recs, 1, NULL, 0,
                                              g->c.key ? &key : NULL, &msg, &len, &g->mac);
        }
        if (k >= 0)
                k = resolver_send(g->transport, msg, len, on_update_answer, g);
        if (k < 0) {
                reg_result(g, false, "cannot send the UPDATE: %s", strerror(-k));
                reg_failed(g);
                return;
        }
        g->busy = add ? BUSY_ADD : BUSY_DELETE;
        g->refresh_due = false;
        state_changed(g->registrar);
}

/* resolve.h's errors as the DNS says them. */
static const char *lookup_error(int error) {
        switch (error) {
        case -ETIMEDOUT:
                return "no answer (timeout)";
        case -EACCES:
                return "REFUSED";
        case -EREMOTEIO:
                return "SERVFAIL";
        case -ENXIO:
                return "NXDOMAIN";
        case -ENODATA:
                return "no such record";
        case -ENOENT:
                return "no SOA record in the answer";
        default:
                return strerror(-error);
        }
}

int register_primary_address(int family, int error, const uint8_t *pkt, size_t len, const char *mname,
                             ResolverServer *ret) {
        RecAnswer *a = NULL;
        if (error < 0)
                return error;
        error = records_parse(pkt, len, mname, family == 6 ? RECORDS_TYPE_AAAA : RECORDS_TYPE_A, &a);
        if (error >= 0) {
                error = -ENODATA;
                for (size_t i = 0; i < a->n_addrs; i++)
                        if (a->addrs[i].family == family) {
                                *ret = (ResolverServer) { .family = family == 6 ? AF_INET6 : AF_INET, .port = 53 };
                                memcpy(ret->addr, a->addrs[i].addr, family == 6 ? 16 : 4);
                                error = 0;
                                break;
                        }
        }
        rec_answer_free(a);
        return error;
}

static void on_lookup(int error, const uint8_t *pkt, size_t len, void *userdata) {
        Reg *g = userdata;
        RegBusy was = g->busy;

        if (was != BUSY_SOA && was != BUSY_MNAME && was != BUSY_MNAME6)
                return;
        g->busy = BUSY_NO;
        if (error == -ECANCELED)
                return;
        if (error >= 0 && was == BUSY_SOA) {
                error = update_wire_soa(pkt, len, g->zone, g->mname);
                if (error >= 0 && !g->c.target) {
                        char host[256] = "";
                        (void) gethostname(host, sizeof host - 1);
                        error = register_default_target(host, g->zone, g->target);
                }
                if (error >= 0)
                        log_info("registration %s: zone %s, primary %s", g->c.name, g->zone, g->mname);
        } else if (was != BUSY_SOA) {
                error = register_primary_address(was == BUSY_MNAME ? 4 : 6, error, pkt, len, g->mname, &g->server);
                /* No IPv4 address (none, or no answer): the primary may have only IPv6. */
                if (error < 0 && was == BUSY_MNAME && !g->registrar->stopping) {
                        int k = resolver_query(g->registrar->ctx.lookup, g->mname, RECORDS_TYPE_AAAA, on_lookup, g);
                        if (k >= 0) {
                                g->mname_error = error;
                                g->busy = BUSY_MNAME6;
                                return;
                        }
                }
                /* Neither family: say why the IPv4 lookup failed unless it merely found nothing. */
                if (error < 0 && was == BUSY_MNAME6 && g->mname_error != -ENODATA)
                        error = g->mname_error;
        }
        if (error < 0) {
                if (was == BUSY_SOA)
                        g->zone[0] = 0;
                reg_result(g, false, "cannot find the %s: %s", was == BUSY_SOA ? "zone (SOA lookup)" : "primary's address",
                           lookup_error(error));
                reg_failed(g);
        }
        state_changed(g->registrar);
        registrar_check_stop(g->registrar);
        reg_kick(g);
}

static void reg_kick(Reg *g) {
        Registrar *r = g->registrar;
        if (!r->started || g->busy != BUSY_NO)
                return;
        bool want = g->healthy && !r->stopping && !g->retiring;
        if (g->stop_done)
                return;
        /* Down from the start: delete what a crashed run may have left (a no-op if nothing). */
        bool cleanup = !want && g->held == HELD_UNKNOWN && g->down && !r->stopping && !g->retiring;
        if (!want && g->held != HELD_REGISTERED && !cleanup) {
                if (r->stopping || g->retiring) {
                        g->stop_done = true;
                        if (g->retiring)
                                (void) sd_event_source_set_enabled(r->reap, SD_EVENT_ONESHOT);
                        registrar_check_stop(r);
                }
                return;
        }
        if (!want && r->stopping && !g->c.deregister_on_stop) {
                g->stop_done = true;
                registrar_check_stop(r);
                return;
        }
        /* A changed registration of the same name withdraws first: its DELETE and our ADD go
         * over different sockets, and the ADD must not land first. on_reap() kicks us. */
        if (want)
                for (Reg *o = r->regs; o; o = o->next)
                        if (o != g && o->retiring && !o->stop_done && streq(o->c.name, g->c.name))
                                return;
        /* Waiting out a backoff: the timer comes back here. */
        if (g->failures > 0 && !g->refresh_due && !r->stopping && !g->retiring)
                return;
        if (!g->zone[0] || !g->server.family) {
                bool soa = !g->zone[0];
                int k = resolver_query(r->ctx.lookup, soa ? g->c.srv : g->mname, soa ? DNS_TYPE_SOA : RECORDS_TYPE_A,
                                       on_lookup, g);
                if (k < 0) {
                        reg_result(g, false, "cannot look up the %s: %s", soa ? "zone" : "primary", strerror(-k));
                        reg_failed(g);
                        return;
                }
                g->busy = soa ? BUSY_SOA : BUSY_MNAME;
                return;
        }
        if (want && (g->held != HELD_REGISTERED || g->refresh_due))
                reg_send(g, true);
        else if (!want && (g->held == HELD_REGISTERED || cleanup))
                reg_send(g, false);
}

static void on_health(HealthMonitor *m, HealthEvent event, void *userdata) {
        Reg *g = userdata;
        const HealthStatus *st = health_monitor_status(m);

        if (event == HEALTH_SKIPPED)
                return; /* the status is as it was: nothing to decide */
        bool healthy = g->healthy ? st->health != DD_HEALTH_DOWN
                                  : st->health == DD_HEALTH_UP && st->consecutive_ok >= g->c.s.rise;
        bool down = st->health == DD_HEALTH_DOWN && st->consecutive_fail >= g->c.s.fall;
        if (down && !g->down && !healthy && g->held == HELD_UNKNOWN) {
                g->down = true;
                log_info("registration %s: instance down since start (%s check): withdrawing what an earlier run left",
                         g->c.name, g->c.s.check == CHECK_HTTP ? "http" : "tcp");
                reg_kick(g);
        }
        g->down = down;
        if (healthy == g->healthy)
                return;
        g->healthy = healthy;
        log_info("registration %s: instance %s (%s check)", g->c.name, healthy ? "healthy" : "failing",
                 g->c.s.check == CHECK_HTTP ? "http" : "tcp");
        /* A health change acts now, not after a pending backoff. */
        g->failures = 0;
        g->refresh_due = true;
        state_changed(g->registrar);
        reg_kick(g);
}

static int reg_new(Registrar *r, RegisterConfig *c, Reg **ret) {
        Reg *g = calloc(1, sizeof *g);
        if (!g)
                return -ENOMEM;
        g->registrar = r;
        g->c = *c;
        memset(c, 0, sizeof *c);
        g->step = UPDATE_PREREQ_ADDRS_ABSENT;
        if (g->c.zone)
                strcpy_bounded(g->zone, sizeof g->zone, g->c.zone);
        if (g->c.target)
                strcpy_bounded(g->target, sizeof g->target, g->c.target);
        else if (g->zone[0]) {
                char host[256] = "";
                (void) gethostname(host, sizeof host - 1);
                if (register_default_target(host, g->zone, g->target) < 0) {
                        log_error("registration %s: the host name '%s' makes no target: set target", g->c.name, host);
                        reg_free(g);
                        return -EINVAL;
                }
        }
        if (g->c.server.family) {
                g->server = (ResolverServer) { .family = g->c.server.family, .port = g->c.server.port };
                memcpy(g->server.addr, g->c.server.addr, 16);
        }
        *ret = g;
        return 0;
}

static int reg_start_monitor(Reg *g, const HealthStatus *initial) {
        Registrar *r = g->registrar;
        g->checked = true;
        /* The instance is checked where it listens: its first address, or this host's loopback. */
        HealthTarget t = { .family = 4, .port = g->c.port, .host = g->target[0] ? g->target : g->c.srv,
                           .service = g->c.name };
        if (g->c.n_addresses > 0) {
                t.family = g->c.addresses[0].family == AF_INET6 ? 6 : 4;
                memcpy(t.addr, g->c.addresses[0].addr, 16);
        } else
                memcpy(t.addr, (const uint8_t[]) { 127, 0, 0, 1 }, 4);
        return health_monitor_new(r->ctx.health, &t, &g->c.s, initial, on_health, g, &g->monitor);
}

static int reg_start(Reg *g) {
        if (g->c.s.check == CHECK_NONE) {
                g->healthy = true;
                reg_kick(g);
                return 0;
        }
        return reg_start_monitor(g, NULL);
}

static int on_reap(sd_event_source *s, void *userdata) {
        Registrar *r = userdata;
        bool reaped = false;
        for (Reg **p = &r->regs; *p;) {
                Reg *g = *p;
                if (g->retiring && g->stop_done && g->busy == BUSY_NO) {
                        *p = g->next;
                        reg_free(g);
                        reaped = true;
                } else
                        p = &g->next;
        }
        /* Successors waiting for a withdrawal go on. */
        if (reaped)
                for (Reg *g = r->regs; g; g = g->next)
                        if (!g->retiring)
                                reg_kick(g);
        state_changed(r);
        return 0;
}

/* ---- the set ---- */

static int registrar_add(Registrar *r, RegisterConfig *c, Reg ***tail) {
        Reg *g;
        int k = reg_new(r, c, &g);
        if (k < 0)
                return k;
        **tail = g;
        *tail = &g->next;
        if (r->started) {
                k = reg_start(g);
                if (k < 0)
                        log_error_errno(k, "registration %s: cannot start its checks: %s", g->c.name, strerror(-k));
        }
        return 0;
}

int registrar_new(const RegistrarContext *ctx, RegisterConfig **regs, size_t *n, Registrar **ret) {
        Registrar *r = calloc(1, sizeof *r);
        int k;
        if (!r)
                return -ENOMEM;
        r->ctx = *ctx;
        if (ctx->state_path && !(r->state_path = strdup(ctx->state_path))) {
                free(r);
                return -ENOMEM;
        }
        r->ctx.state_path = r->state_path;
        k = sd_event_add_defer(ctx->event, &r->write_state, on_write_state, r);
        if (k >= 0)
                k = sd_event_source_set_enabled(r->write_state, SD_EVENT_OFF);
        if (k >= 0)
                k = sd_event_add_defer(ctx->event, &r->reap, on_reap, r);
        if (k >= 0)
                k = sd_event_source_set_enabled(r->reap, SD_EVENT_OFF);
        if (k < 0) {
                registrar_free(r);
                return k;
        }
        Reg **tail = &r->regs;
        for (size_t i = 0; i < *n; i++)
                (void) registrar_add(r, &(*regs)[i], &tail);
        for (size_t i = 0; i < *n; i++)
                register_config_done(&(*regs)[i]);
        free(*regs);
        *regs = NULL;
        *n = 0;
        *ret = r;
        return 0;
}

void registrar_start(Registrar *r) {
        r->started = true;
        for (Reg *g = r->regs; g; g = g->next) {
                int k = reg_start(g);
                if (k < 0)
                        log_error_errno(k, "registration %s: cannot start its checks: %s", g->c.name, strerror(-k));
        }
        state_changed(r);
}

static void reg_retire(Reg *g) {
        g->retiring = true;
        g->monitor = health_monitor_free(g->monitor);
        reg_unschedule(g);
        g->failures = 0;
        reg_kick(g);
}

/* Only the checks changed: the registration stays (no UPDATE) and a new monitor takes over with
 * the old one's judgement, so a healthy instance stays registered and a failing one stays out
 * until the new checks say otherwise. Probing something else (check, path, port) starts its
 * consecutive counts afresh; the new rise and fall apply from the next probe. */
static void reg_recheck(Reg *g, RegisterConfig *c) {
        Registrar *r = g->registrar;
        HealthStatus st = { 0 };
        bool carry = g->monitor != NULL;
        bool same_probe = register_config_same_probe(&g->c, c);
        if (carry)
                st = *health_monitor_status(g->monitor);
        g->monitor = health_monitor_free(g->monitor);
        ServiceSettings old = g->c.s;
        g->c.s = c->s;
        c->s = old;             /* the caller frees the old check path with c */
        log_info("registration %s: checks changed, registration kept", g->c.name);
        if (!same_probe) {
                st.consecutive_ok = st.consecutive_fail = 0;
                g->down = false;
        }
        g->checked = false;
        if (!r->started)
                return;
        if (g->c.s.check == CHECK_NONE) {
                if (!g->healthy) {
                        g->healthy = true;
                        g->failures = 0;
                        g->refresh_due = true;
                }
                reg_kick(g);
                return;
        }
        /* From check none: the instance counts as healthy (it was registered) until the checks fail. */
        if (!carry)
                st = (HealthStatus) { .health = g->healthy ? DD_HEALTH_UP : DD_HEALTH_UNKNOWN };
        int k = reg_start_monitor(g, &st);
        if (k < 0)
                log_error_errno(k, "registration %s: cannot start its checks: %s", g->c.name, strerror(-k));
}

void registrar_reload(Registrar *r, RegisterConfig **regs, size_t *n) {
        size_t kept = 0, rechecked = 0, added = 0, retired = 0;
        Reg **tail = &r->regs;
        while (*tail)
                tail = &(*tail)->next;
        /* Retire what is gone or changed; keep what is equal. */
        for (Reg *g = r->regs; g; g = g->next) {
                if (g->retiring)
                        continue;
                bool keep = false;
                for (size_t i = 0; i < *n && !keep; i++)
                        if ((*regs)[i].name && streq((*regs)[i].name, g->c.name) &&
                            register_config_same_records(&(*regs)[i], &g->c)) {
                                if (!register_config_checks_equal(&(*regs)[i], &g->c)) {
                                        reg_recheck(g, &(*regs)[i]);
                                        rechecked++;
                                }
                                register_config_done(&(*regs)[i]);
                                memset(&(*regs)[i], 0, sizeof (*regs)[i]);
                                keep = true;
                        }
                if (keep)
                        kept++;
                else {
                        retired++;
                        reg_retire(g);
                }
        }
        for (size_t i = 0; i < *n; i++) {
                if (!(*regs)[i].name)
                        continue;
                if (registrar_add(r, &(*regs)[i], &tail) >= 0)
                        added++;
                register_config_done(&(*regs)[i]);
        }
        free(*regs);
        *regs = NULL;
        *n = 0;
        if (kept + added + retired > 0)
                log_info("Registrations reloaded: %zu kept (%zu with new checks), %zu new or changed, "
                         "%zu withdrawn or changed", kept, rechecked, added, retired);
        state_changed(r);
}

static int on_stop_defer(sd_event_source *s, void *userdata) {
        registrar_check_stop(userdata);
        return 0;
}

void registrar_stop(Registrar *r, void (*done)(void *userdata), void *userdata) {
        r->stopping = true;
        r->stop_done = done;
        r->stop_userdata = userdata;
        for (Reg *g = r->regs; g; g = g->next) {
                g->monitor = health_monitor_free(g->monitor);
                reg_unschedule(g);
                g->failures = 0;
                /* Nothing to withdraw: a lookup in flight is not waited for; an add is, as it
                 * may have landed and then needs withdrawing. */
                if ((g->held != HELD_REGISTERED && g->busy != BUSY_ADD) || !g->c.deregister_on_stop)
                        g->stop_done = true;
                reg_kick(g);
        }
        /* done runs from the loop even when nothing was to withdraw. */
        if (sd_event_add_defer(r->ctx.event, &r->stop_defer, on_stop_defer, r) < 0)
                registrar_check_stop(r);
}

Registrar *registrar_free(Registrar *r) {
        if (!r)
                return NULL;
        registrar_write_state_now(r);
        while (r->regs) {
                Reg *g = r->regs;
                r->regs = g->next;
                reg_free(g);
        }
        sd_event_source_disable_unref(r->write_state);
        sd_event_source_disable_unref(r->reap);
        sd_event_source_disable_unref(r->stop_defer);
        free(r->state_path);
        free(r);
        return NULL;
}
