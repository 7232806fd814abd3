/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* config.c: dnsdisc.conf and its conf.d drop-ins: inih splits "key = value" lines, the rest is checked here. */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <ini.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "config.h"
#include "log.h"
#include "notify.h"
#include "records.h"
#include "util.h"

#define WHITESPACE " \t\r\n\v\f"
#define SERVICE_NAME_MAX 127
#define SYNTAX_ERROR "syntax error: expected 'key = value', [daemon] or [service NAME]"

typedef enum Key {
        /* Per-service keys that [daemon] gives defaults for. */
        KEY_MIN_TTL,
        KEY_MAX_TTL,
        KEY_STALE_TTL,
        KEY_NEGATIVE_CONFIRM,
        KEY_FAMILY,
        KEY_MAX_BACKENDS,
        KEY_CHECK,
        KEY_CHECK_PORT,
        KEY_CHECK_INTERVAL,
        KEY_CHECK_TIMEOUT,
        KEY_RISE,
        KEY_FALL,
        KEY_PANIC,
        _KEY_SETTINGS_MAX,
        /* [service] only. */
        KEY_SRV = _KEY_SETTINGS_MAX,
        KEY_HOST,
        KEY_PORT,
        /* [daemon] only. */
        KEY_CACHE,
        KEY_SERVERS,
        KEY_QUERY_TIMEOUT,
        KEY_QUERY_TRIES,
        KEY_MAX_INFLIGHT,
        KEY_MAX_CHECKS_INFLIGHT,
        KEY_LOG_LEVEL,
        KEY_NOTIFY_LISTEN,
        KEY_NOTIFY_ALLOW,
        KEY_NOTIFY_KEY,
        KEY_NOTIFY_KEY_FILE,
        KEY_NOTIFY_MIN_INTERVAL,
        _KEY_MAX,
        _KEY_INVALID = -EINVAL,
} Key;

static const char *const key_names[_KEY_MAX] = {
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
};

#define SETTINGS_KEY_NAMES                                                                   \
        "min-ttl", "max-ttl", "stale-ttl", "negative-confirm", "family", "max-backends",    \
        "check", "check-port", "check-interval", "check-timeout", "rise", "fall", "panic"

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
};

/* Where a key was set. file_no orders files (1: the main file); line 0: not set. */
typedef struct Origin {
        const char *file;
        unsigned file_no;
        unsigned line;
} Origin;

typedef enum Section { SECTION_NONE, SECTION_DAEMON, SECTION_SERVICE } Section;

typedef struct Parser {
        Config *config;                 /* borrowed */
        Origin daemon_set[_KEY_MAX];    /* the latest file's setting of each [daemon] key */
        Origin (*service_set)[_KEY_MAX]; /* per service, parallel to config->services */
        size_t services_allocated;      /* of config->services and service_set: grown by doubling */
        char **files;                   /* every file read, for Origin.file */
        size_t n_files;

        /* The file being read. */
        const char *file;
        FILE *f;
        char *buf;
        size_t buf_size;
        unsigned line;
        Section section;
        size_t service;                 /* with SECTION_SERVICE */
        char *long_value;               /* the value of a line too long for inih */

        /* Service names, hashed: a linear duplicate check made loading
         * 10,000 services quadratic (~150 ms). Open addressing, at most half
         * full; entries are index + 1 into config->services, 0 is empty. */
        size_t *names;
        size_t names_size;              /* 0 or a power of two */

        /* The first error stops parsing. */
        char *error;                    /* "FILE:LINE: message" */
        unsigned error_line;
        int error_r;
} Parser;

static void parser_done(Parser *p) {
        for (size_t i = 0; i < p->n_files; i++)
                free(p->files[i]);
        free(p->files);
        free(p->service_set);
        free(p->names);
        free(p->buf);
        free(p->long_value);
        free(p->error);
}

static int parser_error_at(Parser *p, const char *file, unsigned line, int r, const char *fmt, ...) _printf_(5, 6);
static int parser_error_at(Parser *p, const char *file, unsigned line, int r, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        char *e = NULL;
        va_list ap;
        int k;

        if (p->error_r < 0)
                return r;
        p->error_r = r;
        p->error_line = line;

        va_start(ap, fmt);
        k = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (k < 0) {
                msg = NULL;
                return p->error_r = -ENOMEM;
        }
        if (line > 0)
                k = asprintf(&e, "%s:%u: %s", file, line, msg);
        else
                k = asprintf(&e, "%s: %s", file, msg);
        if (k < 0)
                return p->error_r = -ENOMEM;
        p->error = e;
        return r;
}

#define parser_error(p, r, ...) parser_error_at((p), (p)->file, (p)->line, (r), __VA_ARGS__)
#define parser_oom(p) parser_error((p), -ENOMEM, "out of memory")

static bool is_control(char c) {
        return (unsigned char) c < ' ' || c == 0x7f;
}

static char *rstrip(char *s) {
        size_t n = strlen(s);

        while (n > 0 && strchr(WHITESPACE, s[n - 1]))
                s[--n] = '\0';
        return s;
}

/* Comments are cut here, not by inih: Debian's build knows only ';' after
 * whitespace as an inline comment, and another build may know none. */
static void strip_comment(char *s) {
        for (char *c = s; *c; c++)
                if ((*c == '#' || *c == ';') && (c == s || c[-1] == ' ' || c[-1] == '\t')) {
                        *c = '\0';
                        return;
                }
}

static void format_duration(char *buf, size_t size, uint64_t usec) {
        static const struct {
                const char *unit;
                uint64_t usec;
        } units[] = {
                { "d", 86400 * USEC_PER_SEC }, { "h", 3600 * USEC_PER_SEC }, { "min", 60 * USEC_PER_SEC },
                { "s", USEC_PER_SEC },         { "ms", USEC_PER_MSEC },      { "us", 1 },
        };
        size_t o = 0;

        if (usec == 0) {
                snprintf(buf, size, "0");
                return;
        }
        buf[0] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(units) && o < size; i++) {
                if (usec < units[i].usec)
                        continue;
                o += snprintf(buf + o, size - o, "%s%" PRIu64 "%s", o > 0 ? " " : "", usec / units[i].usec,
                              units[i].unit);
                usec %= units[i].usec;
        }
}

int config_parse_duration(const char *s, uint64_t *ret_usec) {
        static const struct {
                const char *unit;
                uint64_t usec;
        } units[] = {
                { "us", 1 },
                { "usec", 1 },
                { "ms", USEC_PER_MSEC },
                { "msec", USEC_PER_MSEC },
                { "s", USEC_PER_SEC },
                { "sec", USEC_PER_SEC },
                { "m", 60 * USEC_PER_SEC },
                { "min", 60 * USEC_PER_SEC },
                { "h", 3600 * USEC_PER_SEC },
                { "hr", 3600 * USEC_PER_SEC },
                { "d", 86400 * USEC_PER_SEC },
        };
        uint64_t total = 0;
        bool range = false;

        if (!s)
                return -EINVAL;
        s += strspn(s, " \t");
        if (!*s)
                return -EINVAL;

        /* Syntax errors win over range errors: the whole string is read first. */
        while (*s) {
                uint64_t n = 0, frac = 0, scale = 1, unit = USEC_PER_SEC, v;
                size_t len;

                if (*s < '0' || *s > '9')
                        return -EINVAL;
                for (; *s >= '0' && *s <= '9'; s++)
                        if (__builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, (uint64_t) (*s - '0'), &n))
                                range = true;
                if (*s == '.') {
                        s++;
                        if (*s < '0' || *s > '9')
                                return -EINVAL;
                        /* Digits past the sixth are dropped: a millionth of the unit is fine enough. */
                        for (; *s >= '0' && *s <= '9'; s++)
                                if (scale < 1000000) {
                                        frac = frac * 10 + (uint64_t) (*s - '0');
                                        scale *= 10;
                                }
                }
                s += strspn(s, " \t");

                for (len = 0; (s[len] >= 'a' && s[len] <= 'z') || (s[len] >= 'A' && s[len] <= 'Z'); len++)
                        ;
                if (len > 0) {
                        size_t i;

                        for (i = 0; i < ELEMENTSOF(units); i++)
                                if (strlen(units[i].unit) == len && strncmp(s, units[i].unit, len) == 0)
                                        break;
                        if (i >= ELEMENTSOF(units))
                                return -EINVAL;
                        unit = units[i].usec;
                        s += len;
                }
                s += strspn(s, " \t");

                /* frac < 10^6 and unit <= 8.64 * 10^10: the product fits. */
                if (range || __builtin_mul_overflow(n, unit, &v) || __builtin_add_overflow(v, frac * unit / scale, &v) ||
                    __builtin_add_overflow(total, v, &total))
                        range = true;
        }
        if (range)
                return -ERANGE;
        *ret_usec = total;
        return 0;
}

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
               x->panic == y->panic;
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
        free(c->cache_path);
        free(c);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(Config *, config_free);

static Key key_lookup(const char *const *allowed, const char *name) {
        for (const char *const *k = allowed; *k; k++)
                if (streq(*k, name))
                        for (size_t i = 0; i < _KEY_MAX; i++)
                                if (key_names[i] && streq(key_names[i], name))
                                        return (Key) i;
        return _KEY_INVALID;
}

static const char *section_label(Parser *p, char *buf, size_t size) {
        if (p->section == SECTION_DAEMON)
                return "[daemon]";
        snprintf(buf, size, "[service %s]", p->config->services[p->service].name);
        return buf;
}

static int parse_unsigned(Parser *p, Key k, const char *v, unsigned min, unsigned max, unsigned *ret) {
        uint64_t n = 0;
        const char *c = v;

        for (; *c >= '0' && *c <= '9'; c++) {
                n = n * 10 + (uint64_t) (*c - '0');
                if (n > max)
                        break;
        }
        if (c == v || *c || n < min || n > max)
                return parser_error(p, -EINVAL, "'%s' must be an integer from %u to %u, not '%s'", key_names[k], min,
                                    max, v);
        *ret = (unsigned) n;
        return 0;
}

static int parse_port(Parser *p, Key k, const char *v, uint16_t *ret) {
        unsigned n;
        int r;

        r = parse_unsigned(p, k, v, 1, UINT16_MAX, &n);
        if (r < 0)
                return r;
        *ret = (uint16_t) n;
        return 0;
}

static int parse_duration_key(Parser *p, Key k, const char *v, uint64_t min, uint64_t max, uint64_t *ret) {
        char lo[64], hi[64];
        uint64_t usec;
        int r;

        r = config_parse_duration(v, &usec);
        if (r == -EINVAL)
                return parser_error(p, r, "invalid duration '%s' for '%s' (e.g. 500ms, 5s, 10min, 1h 30min)", v,
                                    key_names[k]);
        if (r < 0)
                return parser_error(p, r, "duration '%s' for '%s' is out of range", v, key_names[k]);
        if (usec < min || usec > max) {
                format_duration(lo, sizeof lo, min);
                if (max == UINT64_MAX)
                        return parser_error(p, -ERANGE, "'%s' must be at least %s, not '%s'", key_names[k], lo, v);
                format_duration(hi, sizeof hi, max);
                return parser_error(p, -ERANGE, "'%s' must be from %s to %s, not '%s'", key_names[k], lo, hi, v);
        }
        *ret = usec;
        return 0;
}

static int parse_bool(Parser *p, Key k, const char *v, bool *ret) {
        static const char *const yes[] = { "on", "yes", "true", "1" };
        static const char *const no[] = { "off", "no", "false", "0" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (streq(v, yes[i])) {
                        *ret = true;
                        return 0;
                }
                if (streq(v, no[i])) {
                        *ret = false;
                        return 0;
                }
        }
        return parser_error(p, -EINVAL, "'%s' must be on or off, not '%s'", key_names[k], v);
}

static int parse_family(Parser *p, const char *v, Family *ret) {
        if (streq(v, "any"))
                *ret = FAMILY_ANY;
        else if (streq(v, "ipv4"))
                *ret = FAMILY_IPV4;
        else if (streq(v, "ipv6"))
                *ret = FAMILY_IPV6;
        else
                return parser_error(p, -EINVAL, "'family' must be any, ipv4 or ipv6, not '%s'", v);
        return 0;
}

static int parse_check(Parser *p, const char *v, CheckType *ret_type, char **ret_path) {
        size_t word = strcspn(v, WHITESPACE);
        const char *path;
        char *dup;

        if (streq(v, "none") || streq(v, "tcp")) {
                *ret_type = v[0] == 'n' ? CHECK_NONE : CHECK_TCP;
                *ret_path = NULL;
                return 0;
        }
        if (word != 4 || strncmp(v, "http", 4) != 0)
                return parser_error(p, -EINVAL, "'check' must be none, tcp or http PATH, not '%s'", v);

        path = v + word + strspn(v + word, WHITESPACE);
        if (*path != '/')
                return parser_error(p, -EINVAL, "'check = http' needs a path starting with '/'");
        /* The path goes into a request line verbatim. */
        for (const char *c = path; *c; c++)
                if (*c == ' ' || is_control(*c))
                        return parser_error(p, -EINVAL, "check path '%s' contains a space or control character",
                                            path);
        dup = strdup(path);
        if (!dup)
                return parser_oom(p);
        *ret_type = CHECK_HTTP;
        *ret_path = dup;
        return 0;
}

static int parse_dns_name(Parser *p, Key k, const char *v, char **ret) {
        char name[RECORDS_NAME_MAX];
        char *dup;

        if (records_normalize_name(v, name, sizeof name) < 0)
                return parser_error(p, -EINVAL,
                                    "'%s' is not a valid DNS name for '%s' (labels of 1 to 63 octets, "
                                    "255 octets in all)",
                                    v, key_names[k]);
        dup = strdup(name);
        if (!dup)
                return parser_oom(p);
        free(*ret);
        *ret = dup;
        return 0;
}

static int parse_server(Parser *p, const char *tok, ConfigServer *ret) {
        ConfigServer s = { .port = 53 };
        const char *orig = tok;
        char addr[INET6_ADDRSTRLEN];
        const char *end, *port = NULL;
        size_t len;

        if (tok[0] == '[') {
                end = strchr(tok, ']');
                if (!end || (end[1] && end[1] != ':'))
                        goto invalid;
                tok++;
                len = (size_t) (end - tok);
                s.family = AF_INET6;
                if (end[1] == ':')
                        port = end + 2;
        } else {
                end = strchr(tok, ':');
                if (end && strchr(end + 1, ':'))
                        return parser_error(p, -EINVAL, "IPv6 server '%s' needs brackets: [ADDRESS] or [ADDRESS]:PORT",
                                            tok);
                len = end ? (size_t) (end - tok) : strlen(tok);
                s.family = AF_INET;
                if (end)
                        port = end + 1;
        }
        if (len >= sizeof addr)
                goto invalid;
        memcpy(addr, tok, len);
        addr[len] = '\0';
        if (inet_pton(s.family, addr, s.addr) != 1)
                goto invalid;
        if (port) {
                unsigned n = 0;
                const char *c = port;

                for (; *c >= '0' && *c <= '9' && n <= UINT16_MAX; c++)
                        n = n * 10 + (unsigned) (*c - '0');
                if (c == port || *c || n < 1 || n > UINT16_MAX)
                        return parser_error(p, -EINVAL, "invalid port in server '%s' (1 to 65535)", orig);
                s.port = (uint16_t) n;
        }
        *ret = s;
        return 0;

invalid:
        return parser_error(p, -EINVAL, "invalid server '%s' (IPv4[:PORT] or [IPv6][:PORT])", orig);
}

static int parse_servers(Parser *p, const char *v, ConfigServer **ret, size_t *ret_n) {
        _cleanup_free_ ConfigServer *servers = NULL;
        _cleanup_free_ char *copy = strdup(v);
        size_t n = 0;
        char *save = NULL;
        int r;

        if (!copy)
                return parser_oom(p);
        for (char *tok = strtok_r(copy, WHITESPACE, &save); tok; tok = strtok_r(NULL, WHITESPACE, &save)) {
                ConfigServer *a = reallocarray(servers, n + 1, sizeof *servers);

                if (!a)
                        return parser_oom(p);
                servers = a;
                r = parse_server(p, tok, &servers[n]);
                if (r < 0)
                        return r;
                n++;
        }
        free(*ret);
        *ret = TAKE_PTR(servers);
        *ret_n = n;
        return 0;
}

static int parse_prefixes(Parser *p, const char *v, NotifyPrefix **ret, size_t *ret_n) {
        _cleanup_free_ NotifyPrefix *prefixes = NULL;
        _cleanup_free_ char *copy = strdup(v);
        size_t n = 0;
        char *save = NULL;

        if (!copy)
                return parser_oom(p);
        for (char *tok = strtok_r(copy, WHITESPACE, &save); tok; tok = strtok_r(NULL, WHITESPACE, &save)) {
                NotifyPrefix *a = reallocarray(prefixes, n + 1, sizeof *prefixes);
                if (!a)
                        return parser_oom(p);
                prefixes = a;
                if (notify_prefix_parse(tok, &prefixes[n]) < 0)
                        return parser_error(p, -EINVAL,
                                            "invalid prefix '%s' in notify-allow (ADDRESS or ADDRESS/LENGTH, no host bits "
                                            "past LENGTH)", tok);
                n++;
        }
        free(*ret);
        *ret = TAKE_PTR(prefixes);
        *ret_n = n;
        return 0;
}

static int set_notify_key(Parser *p, NotifyKey *k) {
        Config *c = p->config;
        if (!c->notify_key) {
                c->notify_key = calloc(1, sizeof *c->notify_key);
                if (!c->notify_key) {
                        notify_key_wipe(k);
                        return parser_oom(p);
                }
        }
        *c->notify_key = *k;
        notify_key_wipe(k);
        return 0;
}

/* The key file holds a secret: refuse one other users can read or change, as ssh does. */
static int parse_key_file(Parser *p, const char *path) {
        _cleanup_close_ int fd = -1;
        struct stat st;
        char text[2048];
        const char *what = NULL;
        NotifyKey k;

        if (path[0] != '/')
                return parser_error(p, -EINVAL, "'notify-key-file' must be an absolute path, not '%s'", path);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return parser_error(p, -errno, "cannot open notify-key-file %s: %s", path, strerror(errno));
        if (fstat(fd, &st) < 0)
                return parser_error(p, -errno, "cannot stat notify-key-file %s: %s", path, strerror(errno));
        if (!S_ISREG(st.st_mode))
                return parser_error(p, -EINVAL, "notify-key-file %s is not a regular file", path);
        if (st.st_mode & (S_IROTH | S_IWOTH))
                return parser_error(p, -EPERM,
                                    "notify-key-file %s is readable or writable by other users (mode %04o): "
                                    "chmod o-rw it, the TSIG secret must stay private",
                                    path, (unsigned) (st.st_mode & 07777));
        ssize_t n = read(fd, text, sizeof text - 1);
        if (n < 0)
                return parser_error(p, -errno, "cannot read notify-key-file %s: %s", path, strerror(errno));
        if ((size_t) n == sizeof text - 1) {
                explicit_bzero(text, sizeof text);
                return parser_error(p, -EINVAL, "notify-key-file %s is too long for one TSIG key", path);
        }
        text[n] = 0;
        int r = notify_key_parse_file(text, &k, &what);
        explicit_bzero(text, sizeof text);
        if (r < 0)
                return parser_error(p, r, "notify-key-file %s: %s", path, what);
        return set_notify_key(p, &k);
}

static int parser_assign(Parser *p, Key k, const char *v) {
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
        case KEY_NOTIFY_KEY: {
                NotifyKey key;
                const char *what = NULL;
                /* The message names what is wrong, never the value: it holds the secret. */
                if (notify_key_parse(v, &key, &what) < 0)
                        return parser_error(p, -EINVAL, "invalid notify-key (NAME:ALGORITHM:SECRET): %s", what);
                return set_notify_key(p, &key);
        }
        case KEY_NOTIFY_KEY_FILE:
                return parse_key_file(p, v);
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

static int parser_key(Parser *p, const char *name, const char *value) {
        bool daemon = p->section == SECTION_DAEMON;
        char label[SERVICE_NAME_MAX + 16];
        Origin *o;
        Key k;
        int r;

        if (p->section == SECTION_NONE)
                return parser_error(p, -EINVAL, "'%s' is outside of any section: add [daemon] or [service NAME] above",
                                    name);
        if (!*name)
                return parser_error(p, -EINVAL, "missing key before '='");
        k = key_lookup(daemon ? config_daemon_keys : config_service_keys, name);
        if (k < 0) {
                if (key_lookup(daemon ? config_service_keys : config_daemon_keys, name) >= 0)
                        return parser_error(p, -EINVAL, "'%s' is not valid in %s, only in %s", name,
                                            section_label(p, label, sizeof label),
                                            daemon ? "[service NAME]" : "[daemon]");
                return parser_error(p, -EINVAL, "unknown key '%s' in %s", name, section_label(p, label, sizeof label));
        }
        if (!*value)
                return parser_error(p, -EINVAL, "empty value for '%s'", name);
        for (const char *c = value; *c; c++)
                if (is_control(*c) && *c != '\t')
                        return parser_error(p, -EINVAL, "control character in the value of '%s'", name);

        o = daemon ? &p->daemon_set[k] : &p->service_set[p->service][k];
        if (o->line > 0 && o->file == p->file)
                return parser_error(p, -EINVAL, "'%s' repeated in %s (first set on line %u)", name,
                                    section_label(p, label, sizeof label), o->line);

        r = parser_assign(p, k, value);
        if (r < 0)
                return r;
        *o = (Origin) { .file = p->file, .file_no = (unsigned) p->n_files, .line = p->line };
        return 0;
}

static int config_handler(void *userdata, const char *section, const char *name, const char *value) {
        Parser *p = userdata;
        _cleanup_free_ char *long_value = TAKE_PTR(p->long_value);

        return parser_key(p, name, long_value ?: value) >= 0;
}

static bool service_name_is_valid(const char *s) {
        size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-");

        return n > 0 && n <= SERVICE_NAME_MAX && s[n] == '\0';
}

static size_t name_hash(const char *s) {
        uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
        for (; *s; s++)
                h = (h ^ (unsigned char) *s) * 0x100000001b3ULL;
        return (size_t) h;
}

/* The service called name, or NULL. */
static const ServiceConfig *parser_find_service(const Parser *p, const char *name) {
        size_t mask = p->names_size - 1;

        if (p->names_size == 0)
                return NULL;
        for (size_t i = name_hash(name) & mask; p->names[i] != 0; i = (i + 1) & mask)
                if (streq(p->config->services[p->names[i] - 1].name, name))
                        return &p->config->services[p->names[i] - 1];
        return NULL;
}

static void names_insert(size_t *names, size_t size, const char *name, size_t idx) {
        size_t i = name_hash(name) & (size - 1);
        while (names[i] != 0)
                i = (i + 1) & (size - 1);
        names[i] = idx + 1;
}

/* Index services[idx], whose name is set. */
static int parser_index_service(Parser *p, size_t idx) {
        if (2 * (idx + 1) > p->names_size) {
                size_t size = MAX(2 * p->names_size, (size_t) 64);
                size_t *names = calloc(size, sizeof *names);
                if (!names)
                        return -ENOMEM;
                for (size_t k = 0; k < idx; k++)
                        names_insert(names, size, p->config->services[k].name, k);
                free(p->names);
                p->names = names;
                p->names_size = size;
        }
        names_insert(p->names, p->names_size, p->config->services[idx].name, idx);
        return 0;
}

static int parser_add_service(Parser *p, const char *name) {
        Config *c = p->config;
        ServiceConfig *services;
        Origin (*set)[_KEY_MAX];
        ServiceConfig *svc;
        const ServiceConfig *dup = parser_find_service(p, name);

        if (dup)
                return parser_error(p, -EEXIST, "duplicate service '%s' (first defined at %s:%u)", name, dup->file,
                                    dup->line);

        if (c->n_services == p->services_allocated) {
                size_t n = MAX(2 * p->services_allocated, (size_t) 16);
                services = reallocarray(c->services, n, sizeof *services);
                if (!services)
                        return parser_oom(p);
                c->services = services;
                set = reallocarray(p->service_set, n, sizeof *set);
                if (!set)
                        return parser_oom(p);
                p->service_set = set;
                p->services_allocated = n;
        }
        set = p->service_set;

        svc = &c->services[c->n_services];
        *svc = (ServiceConfig) { .name = strdup(name), .file = strdup(p->file), .line = p->line };
        memset(set[c->n_services], 0, sizeof set[c->n_services]);
        /* Counted before the check, so config_free() releases a half-made entry. */
        c->n_services++;
        if (!svc->name || !svc->file || parser_index_service(p, c->n_services - 1) < 0)
                return parser_oom(p);

        p->section = SECTION_SERVICE;
        p->service = c->n_services - 1;
        return 0;
}

/* Section headers are handled here rather than by inih: it truncates section
 * names to 49 characters, is silent about sections without keys (Debian's
 * build does not call the handler for them) and ignores text after ']'. */
static int parser_section(Parser *p, char *s) {
        char *end = strchr(s, ']'), *name;
        size_t word;

        if (!end)
                return parser_error(p, -EINVAL, "section header without ']'");
        if (end[1])
                return parser_error(p, -EINVAL, "unexpected text after section header: '%s'", end + 1);
        *end = '\0';
        name = rstrip(s + 1 + strspn(s + 1, WHITESPACE));

        if (streq(name, "daemon")) {
                p->section = SECTION_DAEMON;
                return 0;
        }
        word = strcspn(name, WHITESPACE);
        if (word == 7 && strncmp(name, "service", 7) == 0) {
                const char *sname = name + word + strspn(name + word, WHITESPACE);

                if (!*sname)
                        return parser_error(p, -EINVAL, "[service] needs a name: [service NAME]");
                if (!service_name_is_valid(sname))
                        return parser_error(p, -EINVAL,
                                            "invalid service name '%s' (1 to 127 characters of A-Z a-z 0-9 _ . -)",
                                            sname);
                return parser_add_service(p, sname);
        }
        return parser_error(p, -EINVAL, "unknown section [%s] (expected [daemon] or [service NAME])", name);
}

/* Hands inih one line at a time, so its line numbers are ours, with comments
 * and leading blanks gone: inih would read an indented line as the
 * continuation of the previous value. Stops inih after the first error. */
static char *config_reader(char *str, int num, void *userdata) {
        Parser *p = userdata;
        ssize_t n;
        char *s;
        size_t len;

        if (p->error_r < 0)
                return NULL;
        errno = 0;
        n = getline(&p->buf, &p->buf_size, p->f);
        if (n < 0) {
                if (ferror(p->f))
                        parser_error(p, errno > 0 ? -errno : -EIO, "read error after line %u", p->line);
                return NULL;
        }
        p->line++;
        s = p->buf;
        if (strlen(s) != (size_t) n) {
                parser_error(p, -EINVAL, "NUL byte in line");
                return NULL;
        }
        if (p->line == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
                s += 3;
        s += strspn(s, WHITESPACE);
        strip_comment(s);
        rstrip(s);

        if (*s == '[') {
                if (parser_section(p, s) < 0)
                        return NULL;
                s[0] = '\0';
        }
        len = strlen(s);
        /* inih's line buffer is fixed when it is built (200 bytes on Debian,
         * room for "\r\n" and the NUL included): less than a DNS name may
         * take. A longer line goes to inih as "key =", its value waits here. */
        if (num < 8 || len > (size_t) num - 3) {
                size_t sep = strcspn(s, "=:");

                if (!s[sep]) {
                        parser_error(p, -EINVAL, SYNTAX_ERROR);
                        return NULL;
                }
                if (num < 8 || sep > (size_t) num - 5) {
                        parser_error(p, -EINVAL, "unknown key '%.32s...'", s);
                        return NULL;
                }
                free(p->long_value);
                p->long_value = strdup(rstrip(s + sep + 1 + strspn(s + sep + 1, WHITESPACE)));
                if (!p->long_value) {
                        parser_oom(p);
                        return NULL;
                }
                s[sep + 1] = '\0';
                len = sep + 1;
        }
        memcpy(str, s, len + 1);
        return str;
}

static int parser_read_file(Parser *p, const char *path, FILE *f) {
        char **files;
        int r;

        files = reallocarray(p->files, p->n_files + 1, sizeof *files);
        if (!files)
                return parser_oom(p);
        p->files = files;
        p->files[p->n_files] = strdup(path);
        if (!p->files[p->n_files])
                return parser_oom(p);
        p->file = p->files[p->n_files++];
        p->f = f;
        p->line = 0;
        p->section = SECTION_NONE;

        r = ini_parse_stream(config_reader, p, config_handler, p);
        p->f = NULL;
        if (r == -2)
                return parser_oom(p);
        /* A line inih rejects before the line of our first error is the first error. */
        if (r > 0 && (p->error_r == 0 || (p->error && (unsigned) r < p->error_line))) {
                free(p->error);
                p->error = NULL;
                p->error_r = 0;
                return parser_error_at(p, p->file, (unsigned) r, -EINVAL, SYNTAX_ERROR);
        }
        return p->error_r;
}

static int parser_load_file(Parser *p, const char *path, bool dropin) {
        _cleanup_fclose_ FILE *f = NULL;
        struct stat st;
        int e;

        /* Drop-ins are checked before opening: a FIFO would block, and a
         * symlink to /dev/null masks a drop-in as in systemd. */
        if (dropin && (stat(path, &st) < 0 || !S_ISREG(st.st_mode)))
                return 0;
        f = fopen(path, "re");
        if (!f) {
                e = errno;
                return parser_error_at(p, path, 0, -e, "%s", strerror(e));
        }
        if (fstat(fileno(f), &st) < 0) {
                e = errno;
                return parser_error_at(p, path, 0, -e, "%s", strerror(e));
        }
        if (S_ISDIR(st.st_mode))
                return parser_error_at(p, path, 0, -EISDIR, "%s", strerror(EISDIR));
        return parser_read_file(p, path, f);
}

static int dropin_filter(const struct dirent *de) {
        size_t n = strlen(de->d_name);

        return de->d_name[0] != '.' && n > 5 && streq(de->d_name + n - 5, ".conf");
}

/* Byte order, not the locale's: the order of drop-ins must not depend on LANG. */
static int dropin_compare(const struct dirent **a, const struct dirent **b) {
        return strcmp((*a)->d_name, (*b)->d_name);
}

static int parser_read_dropins(Parser *p, const char *dir) {
        struct dirent **list = NULL;
        int n, e, r = 0;

        n = scandir(dir, &list, dropin_filter, dropin_compare);
        if (n < 0) {
                e = errno;
                if (e == ENOENT)
                        return 0;
                return parser_error_at(p, dir, 0, -e, "%s", strerror(e));
        }
        for (int i = 0; i < n; i++) {
                if (r >= 0) {
                        _cleanup_free_ char *path = NULL;

                        if (asprintf(&path, "%s/%s", dir, list[i]->d_name) < 0) {
                                path = NULL;
                                r = parser_error_at(p, dir, 0, -ENOMEM, "out of memory");
                        } else
                                r = parser_load_file(p, path, true);
                }
                free(list[i]);
        }
        free(list);
        return r;
}

static bool origin_after(const Origin *a, const Origin *b) {
        return a->file_no > b->file_no || (a->file_no == b->file_no && a->line > b->line);
}

/* A conflict between keys a and b is reported where the later of them is set
 * in this section; when both are inherited, where the later default is set. */
static int parser_conflict(Parser *p, const Origin *own, const Origin *inherited, Key a, Key b, const char *fmt, ...)
        _printf_(6, 7);
static int parser_conflict(Parser *p, const Origin *own, const Origin *inherited, Key a, Key b, const char *fmt, ...) {
        const Origin *oa = &own[a], *ob = &own[b], *o;
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int k;

        if (oa->line == 0 && ob->line == 0 && inherited) {
                oa = &inherited[a];
                ob = &inherited[b];
        }
        o = origin_after(oa, ob) ? oa : ob;

        va_start(ap, fmt);
        k = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (k < 0) {
                msg = NULL;
                return parser_error_at(p, p->files[0], 0, -ENOMEM, "out of memory");
        }
        return parser_error_at(p, o->line > 0 ? o->file : p->files[0], o->line, -EINVAL, "%s", msg);
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
                default:
                        break;
                }
        }
        return 0;
}

static int parser_finish(Parser *p) {
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
        return 0;
}

static int config_new(Config **ret) {
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

static char *dropin_dir_of(const char *path) {
        const char *slash = strrchr(path, '/');
        char *d;

        if (!slash)
                return strdup("conf.d");
        if (asprintf(&d, "%.*s/conf.d", (int) (slash - path), path) < 0)
                return NULL;
        return d;
}

int config_load(const char *path, const char *dropin_dir, Config **ret, char **ret_error) {
        _cleanup_(parser_done) Parser p = {};
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *dir = NULL;
        int r;

        if (!path || !ret)
                return -EINVAL;

        r = config_new(&c);
        if (r < 0)
                parser_error_at(&p, path, 0, r, "out of memory");
        p.config = c;
        if (r >= 0)
                r = parser_load_file(&p, path, false);
        if (r >= 0 && !dropin_dir) {
                dropin_dir = dir = dropin_dir_of(path);
                if (!dir)
                        r = parser_error_at(&p, path, 0, -ENOMEM, "out of memory");
        }
        if (r >= 0 && *dropin_dir)
                r = parser_read_dropins(&p, dropin_dir);
        if (r >= 0)
                r = parser_finish(&p);
        if (r < 0) {
                if (ret_error)
                        *ret_error = p.error ? TAKE_PTR(p.error) : strdup("out of memory");
                return r;
        }
        *ret = TAKE_PTR(c);
        return 0;
}
