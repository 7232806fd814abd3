/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* config-values.c: the value parsers of dnsdisc.conf (durations, integers, names, servers, checks). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "config-internal.h"
#include "cache-def.h"
#include "maglev.h"
#include "records.h"

void format_duration(char *buf, size_t size, uint64_t usec) {
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
        if (range || total > CONFIG_DURATION_MAX_USEC)
                return -ERANGE;
        *ret_usec = total;
        return 0;
}

int parse_unsigned(Parser *p, Key k, const char *v, unsigned min, unsigned max, unsigned *ret) {
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

int parse_port(Parser *p, Key k, const char *v, uint16_t *ret) {
        unsigned n;
        int r;

        r = parse_unsigned(p, k, v, 1, UINT16_MAX, &n);
        if (r < 0)
                return r;
        *ret = (uint16_t) n;
        return 0;
}

int parse_duration_key(Parser *p, Key k, const char *v, uint64_t min, uint64_t max, uint64_t *ret) {
        char lo[64], hi[64];
        uint64_t usec;
        int r;

        r = config_parse_duration(v, &usec);
        if (r == -EINVAL)
                return parser_error(p, r, "invalid duration '%s' for '%s' (e.g. 500ms, 5s, 10min, 1h 30min)", v,
                                    key_names[k]);
        max = MIN(max, CONFIG_DURATION_MAX_USEC);
        if (r == -ERANGE) {
                format_duration(hi, sizeof hi, max);
                return parser_error(p, r, "'%s' must be at most %s%s, not '%s'", key_names[k], hi,
                                    max == CONFIG_DURATION_MAX_USEC ? " (10 years)" : "", v);
        }
        if (r < 0)
                return parser_error(p, r, "invalid duration '%s' for '%s'", v, key_names[k]);
        if (usec < min || usec > max) {
                format_duration(lo, sizeof lo, min);
                if (max == CONFIG_DURATION_MAX_USEC && usec < min)
                        return parser_error(p, -ERANGE, "'%s' must be at least %s, not '%s'", key_names[k], lo, v);
                format_duration(hi, sizeof hi, max);
                return parser_error(p, -ERANGE, "'%s' must be from %s to %s, not '%s'", key_names[k], lo, hi, v);
        }
        *ret = usec;
        return 0;
}

int parse_bool(Parser *p, Key k, const char *v, bool *ret) {
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

int parse_hash(Parser *p, const char *v, HashPolicy *ret) {
        if (streq(v, "off"))
                *ret = HASH_OFF;
        else if (streq(v, "maglev"))
                *ret = HASH_MAGLEV;
        else
                return parser_error(p, -EINVAL, "'hash' must be off or maglev, not '%s'", v);
        return 0;
}

/* A prime (Maglev's permutations need it) that 16-bit backend indices can fill. */
int parse_hash_table_size(Parser *p, const char *v, unsigned *ret) {
        unsigned n, below, above;
        int r;

        r = parse_unsigned(p, KEY_HASH_TABLE_SIZE, v, DD_HASH_TABLE_MIN, DD_HASH_TABLE_MAX, &n);
        if (r < 0)
                return r;
        if (!maglev_is_prime(n)) {
                for (below = n - 1; !maglev_is_prime(below); below--)
                        ;
                for (above = n + 1; above <= DD_HASH_TABLE_MAX && !maglev_is_prime(above); above++)
                        ;
                if (above > DD_HASH_TABLE_MAX)
                        return parser_error(p, -EINVAL, "'hash-table-size' must be a prime, not %u (try %u)", n,
                                            below);
                return parser_error(p, -EINVAL, "'hash-table-size' must be a prime, not %u (try %u or %u)", n, below,
                                    above);
        }
        *ret = n;
        return 0;
}

int parse_family(Parser *p, const char *v, Family *ret) {
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

int parse_check(Parser *p, const char *v, CheckType *ret_type, char **ret_path) {
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
        if (strlen(path) > CONFIG_CHECK_PATH_MAX)
                return parser_error(p, -ENAMETOOLONG, "check path is %zu bytes long, at most %u fit a request",
                                    strlen(path), (unsigned) CONFIG_CHECK_PATH_MAX);
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

int parse_dns_name(Parser *p, Key k, const char *v, char **ret) {
        char name[RECORDS_NAME_MAX];
        char *dup;

        /* Names go into JSON, Prometheus labels and terminals as they are: printable ASCII only. */
        for (const unsigned char *c = (const unsigned char *) v; *c; c++)
                if (*c < ' ' || *c >= 0x7f)
                        return parser_error(p, -EINVAL,
                                            "'%s' for '%s' has a byte outside printable ASCII (0x%02x): DNS "
                                            "names here are written in ASCII",
                                            v, key_names[k], *c);
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

int parse_servers(Parser *p, const char *v, ConfigServer **ret, size_t *ret_n) {
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

int parse_prefixes(Parser *p, const char *v, NotifyPrefix **ret, size_t *ret_n) {
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

int parse_notify_key(Parser *p, const char *v, NotifyKey *ret) {
        const char *what = NULL;
        if (notify_key_parse(v, ret, &what) < 0)
                return parser_error(p, -EINVAL, "invalid notify-key (NAME:ALGORITHM:SECRET): %s", what);
        return 0;
}

int parse_notify_key_file(Parser *p, const char *path, NotifyKey *ret) {
        return parse_key_file(p, KEY_NOTIFY_KEY_FILE, path, ret);
}

/* The key file holds a secret: refuse one other users can read or change, as ssh does with its keys. */
int parse_key_file(Parser *p, Key k, const char *path, NotifyKey *ret) {
        const char *key = key_names[k];
        _cleanup_close_ int fd = -1;
        struct stat st;
        char text[2048];
        const char *what = NULL;

        if (path[0] != '/')
                return parser_error(p, -EINVAL, "'%s' must be an absolute path, not '%s'", key, path);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return parser_error(p, -errno, "cannot open %s %s: %s", key, path, strerror(errno));
        if (fstat(fd, &st) < 0)
                return parser_error(p, -errno, "cannot stat %s %s: %s", key, path, strerror(errno));
        if (!S_ISREG(st.st_mode))
                return parser_error(p, -EINVAL, "%s %s is not a regular file", key, path);
        if (st.st_mode & (S_IROTH | S_IWOTH))
                return parser_error(p, -EPERM,
                                    "%s %s is readable or writable by other users (mode %04o): "
                                    "chmod o-rw it, the TSIG secret must stay private",
                                    key, path, (unsigned) (st.st_mode & 07777));
        ssize_t n = read(fd, text, sizeof text - 1);
        if (n < 0)
                return parser_error(p, -errno, "cannot read %s %s: %s", key, path, strerror(errno));
        if ((size_t) n == sizeof text - 1) {
                explicit_bzero(text, sizeof text);
                return parser_error(p, -EINVAL, "%s %s is too long for one TSIG key", key, path);
        }
        text[n] = 0;
        int r = notify_key_parse_file(text, ret, &what);
        explicit_bzero(text, sizeof text);
        if (r < 0)
                return parser_error(p, r, "%s %s: %s", key, path, what);
        return 0;
}
