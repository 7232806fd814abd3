/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* config-parser.c: dnsdisc.conf and its conf.d drop-ins read through inih (its only user), errors at their origin. */
#include <dirent.h>
#include <ini.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "config-internal.h"

#define SYNTAX_ERROR "syntax error: expected 'key = value', [daemon] or [service NAME]"

void parser_done(Parser *p) {
        for (size_t i = 0; i < p->n_files; i++)
                free(p->files[i]);
        free(p->files);
        free(p->service_set);
        free(p->register_set);
        free(p->names);
        free(p->buf);
        free(p->long_value);
        free(p->error);
}

/* The message with every byte outside printable ASCII, and '\\', written as \xHH or \\: what it
 * quotes from a file cannot put control sequences or invalid UTF-8 on a terminal or in a log. */
static char *escape(const char *s) {
        size_t n = 0;
        char *e, *o;

        for (const unsigned char *c = (const unsigned char *) s; *c; c++)
                n += *c < ' ' || *c >= 0x7f ? 4 : *c == '\\' ? 2 : 1;
        e = o = malloc(n + 1);
        if (!e)
                return NULL;
        for (const unsigned char *c = (const unsigned char *) s; *c; c++) {
                if (*c < ' ' || *c >= 0x7f)
                        o += sprintf(o, "\\x%02x", *c);
                else if (*c == '\\') {
                        *o++ = '\\';
                        *o++ = '\\';
                } else
                        *o++ = (char) *c;
        }
        *o = '\0';
        return e;
}

int parser_error_at(Parser *p, const char *file, unsigned line, int r, const char *fmt, ...) {
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
        p->error = escape(e);
        free(e);
        if (!p->error)
                return p->error_r = -ENOMEM;
        return r;
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
        if (p->section == SECTION_REGISTER) {
                snprintf(buf, size, "[register %s]", p->config->registers[p->service].name);
                return buf;
        }
        snprintf(buf, size, "[service %s]", p->config->services[p->service].name);
        return buf;
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
        if (p->section == SECTION_REGISTER) {
                k = key_lookup(config_register_keys, name);
                if (k < 0)
                        return parser_error(p, -EINVAL, "unknown key '%s' in %s", name,
                                            section_label(p, label, sizeof label));
        } else
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

        o = daemon ? &p->daemon_set[k]
            : p->section == SECTION_REGISTER ? &p->register_set[p->service][k]
                                               : &p->service_set[p->service][k];
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
        if (word == 8 && strncmp(name, "register", 8) == 0) {
                const char *rname = name + word + strspn(name + word, WHITESPACE);

                if (!*rname)
                        return parser_error(p, -EINVAL, "[register] needs a name: [register NAME]");
                if (!service_name_is_valid(rname))
                        return parser_error(p, -EINVAL,
                                            "invalid registration name '%s' (1 to 127 characters of A-Z a-z 0-9 _ . -)",
                                            rname);
                return parser_add_register(p, rname);
        }
        return parser_error(p, -EINVAL, "unknown section [%s] (expected [daemon], [service NAME] or [register NAME])", name);
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

bool origin_after(const Origin *a, const Origin *b) {
        return a->file_no > b->file_no || (a->file_no == b->file_no && a->line > b->line);
}

/* A conflict between keys a and b is reported where the later of them is set
 * in this section; when both are inherited, where the later default is set. */
int parser_conflict(Parser *p, const Origin *own, const Origin *inherited, Key a, Key b, const char *fmt, ...) {
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

static char *dropin_dir_of(const char *path) {
        const char *slash = strrchr(path, '/');
        char *d;

        if (!slash)
                return strdup("conf.d");
        if (asprintf(&d, "%.*s/conf.d", (int) (slash - path), path) < 0)
                return NULL;
        return d;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(Config *, config_free);

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
