/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dnsdiscctl.c: inspect dnsdiscd's service cache: list services, show one, pick endpoints. */
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>

#include <dnsdisc.h>

#include "output.h"
#include "util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(dnsdisc *, dnsdisc_close);

#define PROGRAM "dnsdiscctl"

/* Exit codes: scripts tell a bad invocation from a cache or service problem. */
enum {
        EXIT_RUNTIME = 1,
        EXIT_USAGE = 2,
};

/* Options that only some verbs take. */
enum {
        OPT_JSON = 1u << 0,
        OPT_COUNT = 1u << 1,
};

static const char *arg_cache = NULL; /* NULL: the library's choice ($DNSDISC_CACHE, else the default) */
static bool arg_json = false;
static unsigned arg_count = 1;
static unsigned arg_given = 0;       /* OPT_* present on the command line */
static bool arg_help = false;

typedef struct verb {
        const char *name;
        unsigned min_args, max_args; /* not counting the verb */
        unsigned options;            /* OPT_* accepted */
        int (*run)(int argc, char **argv); /* argv[0] is the verb; 0, or a reported negative errno */
        const char *synopsis;
        const char *summary;         /* one line for the program's help */
        const char *help;            /* details for VERB --help */
} verb;

/* "dnsdiscctl: WHAT: TEXT" on stderr; returns err. */
_printf_(2, 3) static int report(int err, const char *fmt, ...) {
        va_list ap;

        fputs(PROGRAM ": ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, ": %s\n", dnsdisc_strerror(err));
        return err;
}

_printf_(1, 2) static int usage_error(const char *fmt, ...) {
        va_list ap;

        fputs(PROGRAM ": ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs("\nTry '" PROGRAM " --help' for more information.\n", stderr);
        return -EINVAL;
}

/* The path dnsdisc_open(arg_cache) tries, for messages. */
static const char *cache_path(void) {
        const char *e;

        if (arg_cache)
                return arg_cache;
        e = secure_getenv(DNSDISC_CACHE_ENV);
        return e && *e ? e : DNSDISC_DEFAULT_CACHE;
}

static int open_cache(dnsdisc **ret) {
        int r = dnsdisc_open(arg_cache, ret);
        if (r < 0)
                return report(r, "cache %s", cache_path());
        return 0;
}

static int open_service(const char *name, dnsdisc **ret_cache, dnsdisc_service **ret) {
        _cleanup_(dnsdisc_closep) dnsdisc *d = NULL;
        dnsdisc_service *s;
        int r;

        r = open_cache(&d);
        if (r < 0)
                return r;
        r = dnsdisc_service(d, name, &s);
        if (r < 0)
                return report(r, "service %s", name);
        *ret_cache = TAKE_PTR(d);
        *ret = s;
        return 0;
}

/* Data shown while dnsdiscd is not refreshing it may be arbitrarily old: say so
 * on stderr, which keeps stdout parseable. */
static void warn_if_stale(dnsdisc *d, int64_t now) {
        dnsdisc_daemon_info di;
        char span[TIMESPAN_MAX];

        if (dnsdisc_is_stale(d) <= 0)
                return;
        if (dnsdisc_daemon_info(d, &di) < 0)
                fputs(PROGRAM ": warning: dnsdiscd stopped refreshing the cache, data may be out of date\n", stderr);
        else if (di.stopped)
                fputs(PROGRAM ": warning: dnsdiscd has stopped, data is no longer refreshed\n", stderr);
        else
                fprintf(stderr, PROGRAM ": warning: dnsdiscd stopped refreshing the cache, last heartbeat %s ago\n",
                        format_timespan(span, now > di.heartbeat_usec ? (uint64_t) (now - di.heartbeat_usec) : 0));
}

static int compare_info(const void *a, const void *b) {
        return strcmp(((const dnsdisc_service_info *) a)->name, ((const dnsdisc_service_info *) b)->name);
}

static int verb_list(int argc, char **argv) {
        _cleanup_(dnsdisc_closep) dnsdisc *d = NULL;
        _cleanup_free_ dnsdisc_service_info *infos = NULL;
        size_t n = 0, allocated = 0, cursor = 0;
        int64_t now;
        int r;

        r = open_cache(&d);
        if (r < 0)
                return r;
        for (;;) {
                dnsdisc_service *s;

                r = dnsdisc_service_next(d, &cursor, &s);
                if (r < 0)
                        return report(r, "cache %s", cache_path());
                if (r == 0)
                        break;
                if (n == allocated) {
                        size_t m = allocated ? allocated * 2 : 16;
                        dnsdisc_service_info *p = reallocarray(infos, m, sizeof *p);
                        if (!p)
                                return report(-ENOMEM, "listing services");
                        infos = p;
                        allocated = m;
                }
                r = dnsdisc_service_info(s, &infos[n]);
                if (r == -ESRCH)
                        continue; /* removed since service_next() returned it */
                if (r < 0)
                        return report(r, "cache %s", cache_path());
                n++;
        }
        qsort(infos, n, sizeof *infos, compare_info);

        now = (int64_t) now_usec(CLOCK_REALTIME);
        warn_if_stale(d, now);
        r = print_services(infos, n, now, arg_json, stdout);
        if (r < 0)
                return report(r, "writing output");
        return 0;
}

static int verb_show(int argc, char **argv) {
        _cleanup_(dnsdisc_closep) dnsdisc *d = NULL;
        _cleanup_free_ dnsdisc_backend *backends = NULL;
        dnsdisc_service_info info;
        dnsdisc_service *s;
        int64_t now;
        int r, n;

        r = open_service(argv[1], &d, &s);
        if (r < 0)
                return r;
        /* DNSDISC_BACKENDS_MAX always suffices, so the snapshot never needs a retry. */
        backends = calloc(DNSDISC_BACKENDS_MAX, sizeof *backends);
        if (!backends)
                return report(-ENOMEM, "service %s", argv[1]);
        n = dnsdisc_snapshot(s, &info, backends, DNSDISC_BACKENDS_MAX);
        if (n < 0)
                return report(n, "service %s", argv[1]);

        now = (int64_t) now_usec(CLOCK_REALTIME);
        warn_if_stale(d, now);
        r = print_service(&info, backends, (size_t) n, now, arg_json, stdout);
        if (r < 0)
                return report(r, "writing output");
        return 0;
}

static int verb_pick(int argc, char **argv) {
        _cleanup_(dnsdisc_closep) dnsdisc *d = NULL;
        dnsdisc_service *s;
        int r;

        r = open_service(argv[1], &d, &s);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < arg_count; i++) {
                dnsdisc_endpoint e;
                char buf[64];

                r = dnsdisc_pick(s, &e);
                if (r < 0)
                        return report(r, "pick %s", argv[1]);
                r = dnsdisc_endpoint_format(&e, buf, sizeof buf);
                if (r < 0)
                        return report(r, "pick %s", argv[1]);
                if (puts(buf) < 0)
                        return report(-EIO, "writing output");
        }
        return 0;
}

static const verb verbs[] = {
        {
                .name = "list", .min_args = 0, .max_args = 0, .options = OPT_JSON, .run = verb_list,
                .synopsis = "list [--json]",
                .summary = "List the services",
                .help =
                        "List the services in the cache, one per line: state, healthy/total\n"
                        "backends, generation, time since the last good resolution (AGE) and\n"
                        "flags (srv: resolved through SRV records; panic: no healthy backend,\n"
                        "so picks return every backend).\n"
                        "\n"
                        "      --json          Print a JSON array of objects\n",
        },
        {
                .name = "show", .min_args = 1, .max_args = 1, .options = OPT_JSON, .run = verb_show,
                .synopsis = "show SERVICE [--json]",
                .summary = "Show a service and its backends",
                .help =
                        "Show a service (query, state, generation, last error, flags, time\n"
                        "since the last good resolution) and the table of its backends: DNS\n"
                        "data, health, and health-check counters.\n"
                        "\n"
                        "      --json          Print a JSON object\n",
        },
        {
                .name = "pick", .min_args = 1, .max_args = 1, .options = OPT_COUNT, .run = verb_pick,
                .synopsis = "pick SERVICE [-n N]",
                .summary = "Print endpoints picked as ADDRESS:PORT",
                .help =
                        "Pick endpoints of a service as applications do, and print each as\n"
                        "ADDRESS:PORT ([ADDRESS]:PORT for IPv6), one per line.\n"
                        "\n"
                        "  -n, --count=N       Pick N times (default 1)\n",
        },
};

static const verb *find_verb(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, name))
                        return &verbs[i];
        return NULL;
}

static const char common_options[] =
        "  -c, --cache=PATH    Cache file (default: $" DNSDISC_CACHE_ENV ", else " DNSDISC_DEFAULT_CACHE ")\n"
        "  -h, --help          Show this help\n";

static void help(const verb *v) {
        if (v) {
                printf("Usage: " PROGRAM " [OPTIONS] %s\n\n%s%s", v->synopsis, v->help, common_options);
                return;
        }
        printf("Usage: " PROGRAM " [OPTIONS] COMMAND [ARGS]\n"
               "\n"
               "Inspect the service cache published by dnsdiscd.\n"
               "\n"
               "Commands:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                printf("  %-24s %s\n", verbs[i].synopsis, verbs[i].summary);
        printf("\n"
               "Options:\n"
               "%s"
               "      --version       Show the version\n"
               "\n"
               "'" PROGRAM " COMMAND --help' describes a command. Without a command: list.\n",
               common_options);
}

static int parse_count(const char *s) {
        char *end;
        unsigned long v;

        /* strtoul() would accept "-1" and " 1". */
        if (s[0] < '0' || s[0] > '9')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || *end != '\0' || v == 0 || v > UINT_MAX)
                return -EINVAL;
        arg_count = (unsigned) v;
        return 0;
}

/* 1: run the verb at argv[optind]; 0: done (help, version); <0: usage error, reported. */
static int parse_argv(int argc, char **argv) {
        enum {
                ARG_JSON = 0x100,
                ARG_VERSION,
        };
        static const struct option options[] = {
                { "cache", required_argument, NULL, 'c' },
                { "json", no_argument, NULL, ARG_JSON },
                { "count", required_argument, NULL, 'n' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {}
        };
        int c;

        /* getopt's messages name argv[0], which under libtool is the wrapped
         * binary's path. Options may come before or after the command (GNU
         * permutation). */
        argv[0] = (char *) PROGRAM;
        while ((c = getopt_long(argc, argv, "c:n:h", options, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        arg_cache = optarg;
                        break;
                case ARG_JSON:
                        arg_json = true;
                        arg_given |= OPT_JSON;
                        break;
                case 'n':
                        if (parse_count(optarg) < 0)
                                return usage_error("invalid count '%s': expected a number from 1 to %u", optarg, UINT_MAX);
                        arg_given |= OPT_COUNT;
                        break;
                case 'h':
                        arg_help = true;
                        break;
                case ARG_VERSION:
                        printf(PROGRAM " (" PACKAGE_NAME ") " PACKAGE_VERSION "\n");
                        return 0;
                case '?':
                        /* getopt described the problem. */
                        fputs("Try '" PROGRAM " --help' for more information.\n", stderr);
                        return -EINVAL;
                default:
                        return usage_error("unexpected option code %d", c);
                }
        }
        return 1;
}

static int dispatch(int argc, char **argv) {
        static char *default_argv[] = { (char *) "list", NULL };
        const verb *v;
        int n_args;

        if (argc <= 0) {
                argc = 1;
                argv = default_argv;
        }
        v = find_verb(argv[0]);
        if (!v)
                return usage_error("unknown command '%s'", argv[0]);
        if (arg_help) {
                help(v);
                return 0;
        }
        if (arg_given & ~v->options)
                return usage_error("option '%s' does not apply to '%s'",
                                   (arg_given & ~v->options) & OPT_JSON ? "--json" : "-n", v->name);
        n_args = argc - 1;
        if (n_args < (int) v->min_args)
                return usage_error("'%s' needs an argument: %s", v->name, v->synopsis);
        if (n_args > (int) v->max_args)
                return usage_error("too many arguments for '%s': %s", v->name, v->synopsis);

        return v->run(argc, argv) < 0 ? EXIT_RUNTIME : EXIT_SUCCESS;
}

int main(int argc, char **argv) {
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : EXIT_SUCCESS;
        if (arg_help && optind >= argc) {
                help(NULL);
                return EXIT_SUCCESS;
        }

        r = dispatch(argc - optind, argv + optind);
        if (r < 0)
                return EXIT_USAGE;
        /* Catch late write errors (full disk, closed pipe with SIGPIPE ignored). */
        if (fflush(stdout) != 0 || ferror(stdout)) {
                report(-EIO, "writing output");
                return EXIT_RUNTIME;
        }
        return r;
}
