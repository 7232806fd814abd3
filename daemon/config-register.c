/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* config-register.c: [register NAME] sections: what this host adds to DNS by UPDATE, checked at file:line. */
#include <arpa/inet.h>
#include <sys/socket.h>

#include "config-internal.h"

#define REGISTER_MAX_ADDRESSES 16
#define TTL_MAX_SEC (7 * 86400)

const char *const config_register_keys[] = {
        "srv", "target", "address", "port", "priority", "weight", "ttl", "refresh", "check", "check-port",
        "check-interval", "check-timeout", "rise", "fall", "server", "zone", "key", "key-file",
        "deregister-on-stop", NULL,
};

void register_config_done(RegisterConfig *r) {
        if (!r)
                return;
        free(r->name);
        free(r->srv);
        free(r->target);
        free(r->addresses);
        free(r->s.check_path);
        free(r->zone);
        if (r->key)
                notify_key_wipe(r->key);
        free(r->key);
        free(r->file);
}

static bool streq_ptr(const char *a, const char *b) {
        return a && b ? streq(a, b) : a == b;
}

bool register_config_same_records(const RegisterConfig *a, const RegisterConfig *b) {
        if (!a || !b)
                return a == b;
        bool keys = (!a->key && !b->key) ||
                    (a->key && b->key && streq(a->key->name, b->key->name) &&
                     streq(a->key->algorithm, b->key->algorithm) && streq(a->key->secret, b->key->secret));
        return keys && streq_ptr(a->srv, b->srv) && streq_ptr(a->target, b->target) &&
               a->n_addresses == b->n_addresses &&
               (a->n_addresses == 0 || memcmp(a->addresses, b->addresses, a->n_addresses * sizeof *a->addresses) == 0) &&
               a->port == b->port && a->priority == b->priority && a->weight == b->weight && a->ttl_sec == b->ttl_sec &&
               a->refresh_usec == b->refresh_usec && memcmp(&a->server, &b->server, sizeof a->server) == 0 &&
               streq_ptr(a->zone, b->zone) && a->deregister_on_stop == b->deregister_on_stop;
}

bool register_config_same_probe(const RegisterConfig *a, const RegisterConfig *b) {
        if (!a || !b)
                return a == b;
        return a->s.check == b->s.check && streq_ptr(a->s.check_path, b->s.check_path) &&
               a->s.check_port == b->s.check_port;
}

bool register_config_checks_equal(const RegisterConfig *a, const RegisterConfig *b) {
        if (!a || !b)
                return a == b;
        return register_config_same_probe(a, b) && a->s.check_interval_usec == b->s.check_interval_usec &&
               a->s.check_timeout_usec == b->s.check_timeout_usec && a->s.rise == b->s.rise && a->s.fall == b->s.fall;
}

bool register_config_equal(const RegisterConfig *a, const RegisterConfig *b) {
        return register_config_same_records(a, b) && register_config_checks_equal(a, b);
}

int parser_add_register(Parser *p, const char *name) {
        Config *c = p->config;

        for (size_t i = 0; i < c->n_registers; i++)
                if (streq(c->registers[i].name, name))
                        return parser_error(p, -EEXIST, "duplicate registration '%s' (first defined at %s:%u)", name,
                                            c->registers[i].file, c->registers[i].line);
        RegisterConfig *regs = reallocarray(c->registers, c->n_registers + 1, sizeof *regs);
        if (!regs)
                return parser_oom(p);
        c->registers = regs;
        Origin(*set)[_KEY_MAX] = reallocarray(p->register_set, c->n_registers + 1, sizeof *set);
        if (!set)
                return parser_oom(p);
        p->register_set = set;
        memset(set[c->n_registers], 0, sizeof set[c->n_registers]);

        RegisterConfig *r = &c->registers[c->n_registers];
        /* Checks of this host's own instance do not inherit the [daemon] defaults meant for backends. */
        *r = (RegisterConfig) {
                .name = strdup(name),
                .file = strdup(p->file),
                .line = p->line,
                .priority = 10,
                .weight = 100,
                .ttl_sec = 30,
                .deregister_on_stop = true,
                .s = {
                        .check = CHECK_NONE,
                        .check_interval_usec = 5 * USEC_PER_SEC,
                        .check_timeout_usec = USEC_PER_SEC,
                        .rise = 2,
                        .fall = 3,
                },
        };
        c->n_registers++;
        if (!r->name || !r->file)
                return parser_oom(p);
        p->section = SECTION_REGISTER;
        p->service = c->n_registers - 1;
        return 0;
}

static int parse_addresses(Parser *p, const char *v, RegisterConfig *r) {
        _cleanup_free_ char *copy = strdup(v);
        ConfigServer a[REGISTER_MAX_ADDRESSES] = {};
        size_t n = 0;
        char *save = NULL;

        if (!copy)
                return parser_oom(p);
        for (char *tok = strtok_r(copy, WHITESPACE ",", &save); tok; tok = strtok_r(NULL, WHITESPACE ",", &save)) {
                if (n == ELEMENTSOF(a))
                        return parser_error(p, -E2BIG, "more than %d addresses in 'address'", REGISTER_MAX_ADDRESSES);
                if (inet_pton(AF_INET, tok, a[n].addr) == 1)
                        a[n].family = AF_INET;
                else if (inet_pton(AF_INET6, tok, a[n].addr) == 1)
                        a[n].family = AF_INET6;
                else
                        return parser_error(p, -EINVAL, "invalid address '%s' in 'address' (IPv4 or IPv6, no port)",
                                            tok);
                for (size_t k = 0; k < n; k++)
                        if (a[k].family == a[n].family && memcmp(a[k].addr, a[n].addr, 16) == 0)
                                return parser_error(p, -EINVAL, "address '%s' listed twice", tok);
                n++;
        }
        ConfigServer *na = reallocarray(r->addresses, r->n_addresses + n, sizeof *na);
        if (!na && n > 0)
                return parser_oom(p);
        if (na)
                r->addresses = na;
        for (size_t i = 0; i < n; i++) {
                for (size_t k = 0; k < r->n_addresses; k++)
                        if (r->addresses[k].family == a[i].family && memcmp(r->addresses[k].addr, a[i].addr, 16) == 0)
                                return parser_error(p, -EINVAL, "an address listed twice in 'address'");
                if (r->n_addresses == REGISTER_MAX_ADDRESSES)
                        return parser_error(p, -E2BIG, "more than %d addresses in 'address'", REGISTER_MAX_ADDRESSES);
                r->addresses[r->n_addresses++] = a[i];
        }
        return 0;
}

static int parse_one_server(Parser *p, const char *v, ConfigServer *ret) {
        _cleanup_free_ ConfigServer *s = NULL;
        size_t n = 0;
        int r = parse_servers(p, v, &s, &n);
        if (r < 0)
                return r;
        if (n != 1)
                return parser_error(p, -EINVAL, "'server' takes one address (ADDRESS or ADDRESS:PORT, [IPV6]:PORT)");
        *ret = s[0];
        return 0;
}

static int set_key(Parser *p, RegisterConfig *r, const NotifyKey *k) {
        if (!r->key && !(r->key = malloc(sizeof *r->key)))
                return parser_oom(p);
        *r->key = *k;
        return 0;
}

int register_assign(Parser *p, Key k, const char *v) {
        RegisterConfig *r = &p->config->registers[p->service];
        unsigned u;
        uint64_t usec;
        int k2;

        switch (k) {
        case KEY_SRV:
                return parse_dns_name(p, k, v, &r->srv);
        case KEY_TARGET:
                return parse_dns_name(p, k, v, &r->target);
        case KEY_ZONE:
                return parse_dns_name(p, k, v, &r->zone);
        case KEY_ADDRESS:
                return parse_addresses(p, v, r);
        case KEY_PORT:
                return parse_port(p, k, v, &r->port);
        case KEY_PRIORITY:
        case KEY_WEIGHT:
                k2 = parse_unsigned(p, k, v, 0, 65535, &u);
                if (k2 < 0)
                        return k2;
                *(k == KEY_PRIORITY ? &r->priority : &r->weight) = (uint16_t) u;
                return 0;
        case KEY_TTL:
                k2 = parse_duration_key(p, k, v, USEC_PER_SEC, TTL_MAX_SEC * USEC_PER_SEC, &usec);
                if (k2 < 0)
                        return k2;
                r->ttl_sec = (uint32_t) (usec / USEC_PER_SEC);
                return 0;
        case KEY_REFRESH:
                return parse_duration_key(p, k, v, USEC_PER_SEC, 7 * 86400 * USEC_PER_SEC, &r->refresh_usec);
        case KEY_CHECK: {
                char *path = NULL;
                k2 = parse_check(p, v, &r->s.check, &path);
                if (k2 < 0)
                        return k2;
                free(r->s.check_path);
                r->s.check_path = path;
                return 0;
        }
        case KEY_CHECK_PORT:
                return parse_port(p, k, v, &r->s.check_port);
        case KEY_CHECK_INTERVAL:
                return parse_duration_key(p, k, v, 1, UINT64_MAX, &r->s.check_interval_usec);
        case KEY_CHECK_TIMEOUT:
                return parse_duration_key(p, k, v, 1, UINT64_MAX, &r->s.check_timeout_usec);
        case KEY_RISE:
                return parse_unsigned(p, k, v, 1, 100, &r->s.rise);
        case KEY_FALL:
                return parse_unsigned(p, k, v, 1, 100, &r->s.fall);
        case KEY_SERVER:
                return parse_one_server(p, v, &r->server);
        case KEY_KEY:
        case KEY_KEY_FILE: {
                NotifyKey key;
                const char *what = NULL;
                if (k == KEY_KEY) {
                        if (notify_key_parse(v, &key, &what) < 0)
                                return parser_error(p, -EINVAL, "invalid key (NAME:ALGORITHM:SECRET): %s", what);
                        k2 = 0;
                } else
                        k2 = parse_key_file(p, k, v, &key);
                if (k2 >= 0)
                        k2 = set_key(p, r, &key);
                notify_key_wipe(&key);
                return k2;
        }
        case KEY_DEREGISTER_ON_STOP:
                return parse_bool(p, k, v, &r->deregister_on_stop);
        default:
                return parser_error(p, -EINVAL, "internal error: key %d has no parser in [register]", (int) k);
        }
}

int register_finish(Parser *p) {
        Config *c = p->config;

        for (size_t i = 0; i < c->n_registers; i++) {
                RegisterConfig *r = &c->registers[i];
                const Origin *own = p->register_set[i];
                char a[64], b[64];

                if (!r->srv)
                        return parser_error_at(p, r->file, r->line, -EINVAL, "registration '%s' needs srv", r->name);
                if (r->port == 0)
                        return parser_error_at(p, r->file, r->line, -EINVAL, "registration '%s' needs port",
                                               r->name);
                if (own[KEY_KEY].line && own[KEY_KEY_FILE].line) {
                        const Origin *o = origin_after(&own[KEY_KEY], &own[KEY_KEY_FILE]) ? &own[KEY_KEY]
                                                                                          : &own[KEY_KEY_FILE];
                        return parser_error_at(p, o->file, o->line, -EINVAL,
                                               "registration '%s' sets key and key-file: use one", r->name);
                }
                if (r->s.check_timeout_usec >= r->s.check_interval_usec) {
                        const Origin *o = own[KEY_CHECK_TIMEOUT].line ? &own[KEY_CHECK_TIMEOUT]
                                                                      : &own[KEY_CHECK_INTERVAL];
                        format_duration(a, sizeof a, r->s.check_timeout_usec);
                        format_duration(b, sizeof b, r->s.check_interval_usec);
                        return parser_error_at(p, o->line ? o->file : r->file, o->line ? o->line : r->line, -EINVAL,
                                               "check-timeout (%s) must be shorter than check-interval (%s)", a, b);
                }
                if (r->refresh_usec == 0)
                        r->refresh_usec = (uint64_t) r->ttl_sec * 4 * USEC_PER_SEC;
                else if (r->refresh_usec < (uint64_t) r->ttl_sec * USEC_PER_SEC) {
                        /* Re-asserting more often than the records live only adds load. */
                        format_duration(a, sizeof a, r->refresh_usec);
                        return parser_error_at(p, own[KEY_REFRESH].file, own[KEY_REFRESH].line, -EINVAL,
                                               "refresh (%s) must be at least the ttl (%" PRIu32 "s)", a, r->ttl_sec);
                }
        }
        return 0;
}
