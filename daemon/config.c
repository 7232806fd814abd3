/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* config.c: the configuration model: its keys, defaults, what each key sets, inheritance and consistency. */
#include "config-internal.h"
#include "log.h"

const char *const key_names[_KEY_MAX] = {
        [KEY_MIN_TTL] = "min-ttl",
        [KEY_MAX_TTL] = "max-ttl",
        [KEY_STALE_TTL] = "stale-ttl",
        [KEY_NEGATIVE_CONFIRM] = "negative-confirm",
        [KEY_FAMILY] = "family",
        [KEY_MAX_BACKENDS] = "max-backends",
        [KEY_CHECK] = "check",
        [KEY_CHECK_PORT] = "check-port",
        [KEY_CHECK_INTERVAL] = "check-interval",
        [KEY_CHECK_TIMEOUT] = "check-timeout",
        [KEY_RISE] = "rise",
        [KEY_FALL] = "fall",
        [KEY_PANIC] = "panic",
        [KEY_HASH] = "hash",
        [KEY_HASH_TABLE_SIZE] = "hash-table-size",
        [KEY_SRV] = "srv",
        [KEY_HOST] = "host",
        [KEY_PORT] = "port",
        [KEY_CACHE] = "cache",
        [KEY_SERVERS] = "servers",
        [KEY_QUERY_TIMEOUT] = "query-timeout",
        [KEY_QUERY_TRIES] = "query-tries",
        [KEY_MAX_INFLIGHT] = "max-inflight",
        [KEY_MAX_CHECKS_INFLIGHT] = "max-checks-inflight",
        [KEY_LOG_LEVEL] = "log-level",
        [KEY_NOTIFY_LISTEN] = "notify-listen",
        [KEY_NOTIFY_ALLOW] = "notify-allow",
        [KEY_NOTIFY_KEY] = "notify-key",
        [KEY_NOTIFY_KEY_FILE] = "notify-key-file",
        [KEY_NOTIFY_MIN_INTERVAL] = "notify-min-interval",
        [KEY_TARGET] = "target",
        [KEY_ADDRESS] = "address",
        [KEY_PRIORITY] = "priority",
        [KEY_WEIGHT] = "weight",
        [KEY_TTL] = "ttl",
        [KEY_REFRESH] = "refresh",
        [KEY_SERVER] = "server",
        [KEY_ZONE] = "zone",
        [KEY_KEY] = "key",
        [KEY_KEY_FILE] = "key-file",
        [KEY_DEREGISTER_ON_STOP] = "deregister-on-stop",
};

#define SETTINGS_KEY_NAMES                                                                   \
        "min-ttl", "max-ttl", "stale-ttl", "negative-confirm", "family", "max-backends",    \
        "check", "check-port", "check-interval", "check-timeout", "rise", "fall", "panic", \
        "hash", "hash-table-size"

/* These lists, not key_names, decide what each section accepts, so what the
 * man page test checks is exactly what the parser takes. */
const char *const config_daemon_keys[] = {
        "cache", "servers", "query-timeout", "query-tries", "max-inflight",
        "max-checks-inflight", "log-level", "notify-listen", "notify-allow", "notify-key", "notify-key-file",
        "notify-min-interval", SETTINGS_KEY_NAMES, NULL,
};

const char *const config_service_keys[] = {
        "srv", "host", "port", SETTINGS_KEY_NAMES, NULL,
};

static const ServiceSettings settings_defaults = {
        .min_ttl_usec = 5 * USEC_PER_SEC,
        .max_ttl_usec = 3600 * USEC_PER_SEC,
        .stale_ttl_usec = 600 * USEC_PER_SEC,
        .negative_confirm = 2,
        .family = FAMILY_ANY,
        .max_backends = 64,
        .check = CHECK_NONE,
        .check_interval_usec = 5 * USEC_PER_SEC,
        .check_timeout_usec = 1 * USEC_PER_SEC,
        .rise = 2,
        .fall = 3,
        .panic = true,
        .hash = HASH_OFF,
        .hash_table_size = 65537,
};

static bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return streq(a, b);
}

bool service_config_equal(const ServiceConfig *a, const ServiceConfig *b) {
        const ServiceSettings *x, *y;

        if (!a || !b)
                return a == b;
        x = &a->s;
        y = &b->s;
        /* name, file and line say where, not how: a moved section is still equal. */
        return streq_ptr(a->srv, b->srv) && streq_ptr(a->host, b->host) && a->port == b->port &&
               x->min_ttl_usec == y->min_ttl_usec && x->max_ttl_usec == y->max_ttl_usec &&
               x->stale_ttl_usec == y->stale_ttl_usec && x->negative_confirm == y->negative_confirm &&
               x->family == y->family && x->max_backends == y->max_backends && x->check == y->check &&
               streq_ptr(x->check_path, y->check_path) && x->check_port == y->check_port &&
               x->check_interval_usec == y->check_interval_usec &&
               x->check_timeout_usec == y->check_timeout_usec && x->rise == y->rise && x->fall == y->fall &&
               x->panic == y->panic && x->hash == y->hash && x->hash_table_size == y->hash_table_size;
}

uint64_t config_hash_table_entries(const Config *c) {
        uint64_t n = 0;

        for (size_t i = 0; c && i < c->n_services; i++)
                if (c->services[i].s.hash == HASH_MAGLEV)
                        n += c->services[i].s.hash_table_size;
        return n;
}

void config_drop_services(Config *c) {
        if (!c)
                return;
        for (size_t i = 0; i < c->n_services; i++) {
                free(c->services[i].name);
                free(c->services[i].srv);
                free(c->services[i].host);
                free(c->services[i].s.check_path);
                free(c->services[i].file);
        }
        free(c->services);
        c->services = NULL;
        c->n_services = 0;
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;
        config_drop_services(c);
        free(c->defaults.check_path);
        free(c->servers);
        free(c->notify_listen);
        free(c->notify_allow);
        if (c->notify_key)
                notify_key_wipe(c->notify_key);
        free(c->notify_key);
        for (size_t i = 0; i < c->n_registers; i++)
                register_config_done(&c->registers[i]);
        free(c->registers);
        free(c->cache_path);
        free(c);
        return NULL;
}

int parser_assign(Parser *p, Key k, const char *v) {
        if (p->section == SECTION_REGISTER)
                return register_assign(p, k, v);
        Config *c = p->config;
        ServiceConfig *svc = p->section == SECTION_SERVICE ? &c->services[p->service] : NULL;
        ServiceSettings *s = svc ? &svc->s : &c->defaults;
        int r;

        switch (k) {
        case KEY_MIN_TTL:
                /* A zero floor would turn TTL 0 answers into a query loop. */
                return parse_duration_key(p, k, v, 1, UINT64_MAX, &s->min_ttl_usec);
        case KEY_MAX_TTL:
                return parse_duration_key(p, k, v, 1, UINT64_MAX, &s->max_ttl_usec);
        case KEY_STALE_TTL:
                return parse_duration_key(p, k, v, 0, UINT64_MAX, &s->stale_ttl_usec);
        case KEY_NEGATIVE_CONFIRM:
                return parse_unsigned(p, k, v, 1, 100, &s->negative_confirm);
        case KEY_FAMILY:
                return parse_family(p, v, &s->family);
        case KEY_MAX_BACKENDS:
                return parse_unsigned(p, k, v, 1, 1024, &s->max_backends);
        case KEY_CHECK: {
                char *path = NULL;

                r = parse_check(p, v, &s->check, &path);
                if (r < 0)
                        return r;
                free(s->check_path);
                s->check_path = path;
                return 0;
        }
        case KEY_CHECK_PORT:
                return parse_port(p, k, v, &s->check_port);
        case KEY_CHECK_INTERVAL:
                return parse_duration_key(p, k, v, 1, UINT64_MAX, &s->check_interval_usec);
        case KEY_CHECK_TIMEOUT:
                return parse_duration_key(p, k, v, 1, UINT64_MAX, &s->check_timeout_usec);
        case KEY_RISE:
                return parse_unsigned(p, k, v, 1, 100, &s->rise);
        case KEY_FALL:
                return parse_unsigned(p, k, v, 1, 100, &s->fall);
        case KEY_PANIC:
                return parse_bool(p, k, v, &s->panic);
        case KEY_HASH:
                return parse_hash(p, v, &s->hash);
        case KEY_HASH_TABLE_SIZE:
                return parse_hash_table_size(p, v, &s->hash_table_size);
        case KEY_SRV:
                return parse_dns_name(p, k, v, &svc->srv);
        case KEY_HOST:
                return parse_dns_name(p, k, v, &svc->host);
        case KEY_PORT:
                return parse_port(p, k, v, &svc->port);
        case KEY_CACHE: {
                char *dup;

                if (v[0] != '/')
                        return parser_error(p, -EINVAL, "'cache' must be an absolute path, not '%s'", v);
                dup = strdup(v);
                if (!dup)
                        return parser_oom(p);
                free(c->cache_path);
                c->cache_path = dup;
                return 0;
        }
        case KEY_SERVERS:
                return parse_servers(p, v, &c->servers, &c->n_servers);
        case KEY_QUERY_TIMEOUT:
                /* c-ares counts in milliseconds; beyond a minute the tries multiply into hours. */
                return parse_duration_key(p, k, v, USEC_PER_MSEC, 60 * USEC_PER_SEC, &c->query_timeout_usec);
        case KEY_QUERY_TRIES:
                return parse_unsigned(p, k, v, 1, 10, &c->query_tries);
        case KEY_MAX_INFLIGHT:
                return parse_unsigned(p, k, v, 1, 4096, &c->max_inflight);
        case KEY_MAX_CHECKS_INFLIGHT:
                return parse_unsigned(p, k, v, 1, 65536, &c->max_checks_inflight);
        case KEY_NOTIFY_LISTEN:
                return parse_servers(p, v, &c->notify_listen, &c->n_notify_listen);
        case KEY_NOTIFY_ALLOW:
                return parse_prefixes(p, v, &c->notify_allow, &c->n_notify_allow);
        case KEY_NOTIFY_KEY:
        case KEY_NOTIFY_KEY_FILE: {
                NotifyKey key;
                r = k == KEY_NOTIFY_KEY ? parse_notify_key(p, v, &key) : parse_notify_key_file(p, v, &key);
                if (r < 0)
                        return r;
                if (!c->notify_key && !(c->notify_key = malloc(sizeof *c->notify_key))) {
                        notify_key_wipe(&key);
                        return parser_oom(p);
                }
                *c->notify_key = key;
                notify_key_wipe(&key);
                return 0;
        }
        case KEY_NOTIFY_MIN_INTERVAL:
                return parse_duration_key(p, k, v, 0, 60 * USEC_PER_SEC, &c->notify_min_interval_usec);
        case KEY_LOG_LEVEL:
                r = log_level_from_string(v);
                if (r < 0)
                        return parser_error(p, r, "'log-level' must be err, warning, notice, info or debug, not '%s'",
                                            v);
                c->log_level = r;
                return 0;
        default:
                return parser_error(p, -EINVAL, "internal error: key %d has no parser", (int) k);
        }
}

static int settings_check(Parser *p, const ServiceSettings *s, const Origin *own, const Origin *inherited) {
        char a[64], b[64];

        if (s->min_ttl_usec > s->max_ttl_usec) {
                format_duration(a, sizeof a, s->min_ttl_usec);
                format_duration(b, sizeof b, s->max_ttl_usec);
                return parser_conflict(p, own, inherited, KEY_MIN_TTL, KEY_MAX_TTL,
                                       "min-ttl (%s) is greater than max-ttl (%s)", a, b);
        }
        if (s->check_timeout_usec >= s->check_interval_usec) {
                format_duration(a, sizeof a, s->check_timeout_usec);
                format_duration(b, sizeof b, s->check_interval_usec);
                return parser_conflict(p, own, inherited, KEY_CHECK_TIMEOUT, KEY_CHECK_INTERVAL,
                                       "check-timeout (%s) must be shorter than check-interval (%s)", a, b);
        }
        if (s->hash == HASH_MAGLEV && s->hash_table_size < CONFIG_HASH_ENTRIES_PER_BACKEND * s->max_backends)
                return parser_conflict(p, own, inherited, KEY_HASH_TABLE_SIZE, KEY_MAX_BACKENDS,
                                       "hash-table-size (%u) is too small for max-backends (%u): a Maglev table needs "
                                       "at least %u entries per backend (raise it, or lower max-backends to %u)",
                                       s->hash_table_size, s->max_backends, CONFIG_HASH_ENTRIES_PER_BACKEND,
                                       s->hash_table_size / CONFIG_HASH_ENTRIES_PER_BACKEND);
        return 0;
}

/* Applied once every file is read, so a [daemon] key in a later drop-in
 * reaches services defined before it. */
static int settings_inherit(ServiceSettings *s, const ServiceSettings *d, const Origin *own) {
        for (int k = 0; k < _KEY_SETTINGS_MAX; k++) {
                if (own[k].line > 0)
                        continue;
                switch ((Key) k) {
                case KEY_MIN_TTL:
                        s->min_ttl_usec = d->min_ttl_usec;
                        break;
                case KEY_MAX_TTL:
                        s->max_ttl_usec = d->max_ttl_usec;
                        break;
                case KEY_STALE_TTL:
                        s->stale_ttl_usec = d->stale_ttl_usec;
                        break;
                case KEY_NEGATIVE_CONFIRM:
                        s->negative_confirm = d->negative_confirm;
                        break;
                case KEY_FAMILY:
                        s->family = d->family;
                        break;
                case KEY_MAX_BACKENDS:
                        s->max_backends = d->max_backends;
                        break;
                case KEY_CHECK:
                        s->check = d->check;
                        free(s->check_path);
                        s->check_path = NULL;
                        if (d->check_path) {
                                s->check_path = strdup(d->check_path);
                                if (!s->check_path)
                                        return -ENOMEM;
                        }
                        break;
                case KEY_CHECK_PORT:
                        s->check_port = d->check_port;
                        break;
                case KEY_CHECK_INTERVAL:
                        s->check_interval_usec = d->check_interval_usec;
                        break;
                case KEY_CHECK_TIMEOUT:
                        s->check_timeout_usec = d->check_timeout_usec;
                        break;
                case KEY_RISE:
                        s->rise = d->rise;
                        break;
                case KEY_FALL:
                        s->fall = d->fall;
                        break;
                case KEY_PANIC:
                        s->panic = d->panic;
                        break;
                case KEY_HASH:
                        s->hash = d->hash;
                        break;
                case KEY_HASH_TABLE_SIZE:
                        s->hash_table_size = d->hash_table_size;
                        break;
                default:
                        break;
                }
        }
        return 0;
}

int parser_finish(Parser *p) {
        Config *c = p->config;
        int r;

        r = settings_check(p, &c->defaults, p->daemon_set, NULL);
        if (r < 0)
                return r;
        if (p->daemon_set[KEY_NOTIFY_KEY].line && p->daemon_set[KEY_NOTIFY_KEY_FILE].line) {
                const Origin *o = origin_after(&p->daemon_set[KEY_NOTIFY_KEY], &p->daemon_set[KEY_NOTIFY_KEY_FILE])
                                          ? &p->daemon_set[KEY_NOTIFY_KEY]
                                          : &p->daemon_set[KEY_NOTIFY_KEY_FILE];
                return parser_error_at(p, o->file, o->line, -EINVAL, "set notify-key or notify-key-file, not both");
        }

        for (size_t i = 0; i < c->n_services; i++) {
                ServiceConfig *svc = &c->services[i];
                const Origin *own = p->service_set[i], *o;

                if (svc->srv && svc->host) {
                        o = origin_after(&own[KEY_SRV], &own[KEY_HOST]) ? &own[KEY_SRV] : &own[KEY_HOST];
                        return parser_error_at(p, o->file, o->line, -EINVAL,
                                               "service '%s' sets both srv and host: use one", svc->name);
                }
                if (!svc->srv && !svc->host)
                        return parser_error_at(p, svc->file, svc->line, -EINVAL, "service '%s' needs srv or host",
                                               svc->name);
                if (svc->host && svc->port == 0)
                        return parser_error_at(p, own[KEY_HOST].file, own[KEY_HOST].line, -EINVAL,
                                               "service '%s': host needs a port", svc->name);
                if (svc->srv && svc->port != 0)
                        return parser_error_at(p, own[KEY_PORT].file, own[KEY_PORT].line, -EINVAL,
                                               "service '%s': port only goes with host (SRV records carry ports)",
                                               svc->name);

                r = settings_inherit(&svc->s, &c->defaults, own);
                if (r < 0)
                        return parser_error_at(p, svc->file, svc->line, r, "out of memory");
                r = settings_check(p, &svc->s, own, p->daemon_set);
                if (r < 0)
                        return r;
        }
        return register_finish(p);
}

int config_new(Config **ret) {
        Config *c = calloc(1, sizeof *c);

        if (!c)
                return -ENOMEM;
        c->cache_path = strdup("/run/dnsdisc/cache");
        if (!c->cache_path) {
                free(c);
                return -ENOMEM;
        }
        c->query_timeout_usec = USEC_PER_SEC;
        c->query_tries = 3;
        c->max_inflight = 128;
        c->max_checks_inflight = 256;
        c->log_level = LOG_INFO;
        c->notify_min_interval_usec = 100 * USEC_PER_MSEC;
        c->defaults = settings_defaults;
        *ret = c;
        return 0;
}
