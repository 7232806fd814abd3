/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dnsdiscctl.c: inspect and steer dnsdiscd: list, show, pick, watch, stats, check-config, refresh, reload. */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>

#include <dnsdisc.h>

#include "config.h"
#include "metrics.h"
#include "output.h"
#include "registrations.h"
#include "services.h"
#include "util.h"
#include "watch.h"

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
        OPT_PROMETHEUS = 1u << 2,
        OPT_ITERATIONS = 1u << 3,
        OPT_CONFIG = 1u << 4,
        OPT_HASH = 1u << 5,
};

/* For "option does not apply" messages, in OPT_* bit order. */
static const char *const option_names[] = { "--json", "-n", "--prometheus", "--iterations", "--config", "--hash" };
_Static_assert(1u << ELEMENTSOF(option_names) == OPT_HASH << 1, "a name for every OPT_*");

static const char *arg_cache = NULL; /* NULL: the library's choice ($DNSDISC_CACHE, else the default) */
static const char *arg_config = NULL;
static const char *arg_hash = NULL;  /* pick --hash KEY */
static const char *arg_c = NULL;     /* the last -c FILE (not --cache) */
static bool arg_json = false;
static bool arg_prometheus = false;
static unsigned arg_count = 1;
static unsigned arg_iterations = 0;  /* 0: watch until quit */
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

/* "dnsdiscctl: TEXT" on stderr, for errors that strerror() does not say well; returns err. */
_printf_(2, 3) static int fail(int err, const char *fmt, ...) {
        va_list ap;

        fputs(PROGRAM ": ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
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
        r = dnsdisc_service_get(d, name, &s);
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
        if (dnsdisc_daemon_info_get(d, &di) < 0)
                fputs(PROGRAM ": warning: dnsdiscd stopped refreshing the cache, data may be out of date\n", stderr);
        else if (di.stopped)
                fputs(PROGRAM ": warning: dnsdiscd has stopped, data is no longer refreshed\n", stderr);
        else
                fprintf(stderr, PROGRAM ": warning: dnsdiscd stopped refreshing the cache, last heartbeat %s ago\n",
                        format_timespan(span, heartbeat_age_usec(&di, now)));
}

static int verb_list(int argc, char **argv) {
        _cleanup_(dnsdisc_closep) dnsdisc *d = NULL;
        _cleanup_free_ dnsdisc_service_info *infos = NULL;
        size_t n;
        int64_t now;
        int r;

        r = open_cache(&d);
        if (r < 0)
                return r;
        r = services_collect(d, &infos, NULL, &n);
        if (r < 0)
                return report(r, "cache %s", cache_path());

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
        int64_t now, hash_entries = -1;
        uint32_t entries;
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
        r = dnsdisc_hash_table_size(s, &entries);
        if (r >= 0)
                hash_entries = entries;
        else if (r != -EOPNOTSUPP)
                return report(r, "service %s", argv[1]);

        uint64_t c[DNSDISC_SERVICE_COUNTERS_MAX] = {};
        ServiceNotify nt = {};
        if (dnsdisc_service_counters(s, c, DNSDISC_SERVICE_COUNTERS_MAX) > DNSDISC_SERVICE_COUNTER_NOTIFY_LAST_USEC)
                nt = (ServiceNotify) { c[DNSDISC_SERVICE_COUNTER_NOTIFY_ROUNDS],
                                       (int64_t) c[DNSDISC_SERVICE_COUNTER_NOTIFY_LAST_USEC] };
        now = (int64_t) now_usec(CLOCK_REALTIME);
        warn_if_stale(d, now);
        r = print_service(&info, &nt, backends, (size_t) n, hash_entries, now, arg_json, stdout);
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

                if (arg_hash) {
                        /* KEY, then KEY-1, KEY-2, ...: one line per key, to show how keys spread. */
                        _cleanup_free_ char *key = NULL;

                        if (i == 0)
                                key = strdup(arg_hash);
                        else if (asprintf(&key, "%s-%u", arg_hash, i) < 0)
                                key = NULL;
                        if (!key)
                                return report(-ENOMEM, "pick %s", argv[1]);
                        r = dnsdisc_pick_hash(s, dnsdisc_hash(key, strlen(key)), &e);
                        if (r == -EOPNOTSUPP)
                                return report(r, "pick %s --hash", argv[1]);
                } else
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

static int verb_watch(int argc, char **argv) {
        _cleanup_(dnsdisc_closep) dnsdisc *d = NULL;
        WatchOptions o = {
                .service = argc > 1 ? argv[1] : NULL,
                .cache_path = cache_path(),
                .iterations = arg_iterations,
        };
        int r, sig = 0;

        r = open_cache(&d);
        if (r < 0)
                return r;
        r = watch_run(d, &o, &sig);
        if (r == -ESRCH)
                return report(r, "service %s", o.service);
        if (r < 0)
                return report(r, "watch");
        if (sig > 0) {
                /* The terminal is restored: die of the signal, so that a shell loop
                 * around us stops on Ctrl-C too. */
                fflush(stdout);
                d = dnsdisc_close(d);
                signal(sig, SIG_DFL);
                raise(sig);
        }
        return 0;
}

static int verb_stats(int argc, char **argv) {
        _cleanup_(dnsdisc_closep) dnsdisc *d = NULL;
        _cleanup_(stats_done) Stats st = {};
        int r;

        r = open_cache(&d);
        if (r < 0)
                return r;
        r = stats_collect(d, &st);
        if (r < 0)
                return report(r, "cache %s", cache_path());
        /* Metrics say it themselves (dnsdisc_daemon_up): no warning that a collector would log. */
        if (!arg_prometheus)
                warn_if_stale(d, st.now);
        r = arg_prometheus ? print_stats_prometheus(&st, stdout) : print_stats_text(&st, stdout);
        if (r < 0)
                return report(r, "writing output");
        return 0;
}

static int verb_check_config(int argc, char **argv) {
        _cleanup_free_ char *error = NULL;
        const char *path = arg_config ? arg_config : arg_c ? arg_c : CONFIG_DEFAULT_PATH;
        Config *c = NULL;
        int r;

        /* The daemon's own parser and checks (daemon/config.c), drop-ins included. */
        r = config_load(path, NULL, &c, &error);
        if (r < 0) {
                if (error)
                        return fail(r, "%s", error);
                return report(r, "%s", path);
        }
        printf("%s: configuration OK (%zu service%s)\n", path, c->n_services, c->n_services == 1 ? "" : "s");
        config_free(c);
        return 0;
}

/* Whether pid runs dnsdiscd, by its name in /proc: the cache may outlive the
 * daemon and its pid be reused. 1 yes, 0 no (*ret_comm says what), -ENOENT
 * gone, other errors: cannot tell. */
static int pid_is_dnsdiscd(uint32_t pid, char ret_comm[static 17]) {
        char path[32], comm[17] = "";
        _cleanup_fclose_ FILE *f = NULL;

        snprintf(path, sizeof path, "/proc/%" PRIu32 "/comm", pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        if (!fgets(comm, sizeof comm, f))
                return -EIO;
        comm[strcspn(comm, "\n")] = '\0';
        memcpy(ret_comm, comm, sizeof comm);
        /* lt-: libtool's name for an uninstalled binary. */
        return streq(comm, "dnsdiscd") || streq(comm, "lt-dnsdiscd");
}

/* Send sig to the dnsdiscd that writes the cache. */
static int signal_daemon(dnsdisc *d, int sig, const char *verb_name) {
        dnsdisc_daemon_info di;
        char comm[17] = "", span[TIMESPAN_MAX];
        int64_t now = (int64_t) now_usec(CLOCK_REALTIME);
        int r;

        r = dnsdisc_daemon_info_get(d, &di);
        if (r < 0)
                return report(r, "cache %s", cache_path());
        if (di.stopped)
                return fail(-ESRCH, "%s: dnsdiscd is not running: it exited cleanly and no longer refreshes cache %s",
                            verb_name, cache_path());
        if (di.pid == 0)
                return fail(-ESRCH, "%s: dnsdiscd is not running: cache %s names no process", verb_name, cache_path());

        r = pid_is_dnsdiscd(di.pid, comm);
        if (r == -ENOENT)
                return fail(-ESRCH, "%s: dnsdiscd (pid %" PRIu32 ") is not running: the process is gone", verb_name,
                            di.pid);
        if (r == 0)
                return fail(-ESRCH, "%s: dnsdiscd (pid %" PRIu32 ") is not running: pid %" PRIu32
                            " is now '%s', not signalling it", verb_name, di.pid, di.pid, comm);
        /* Other errors (/proc hidden from us): the heartbeat and kill() still tell. */
        if (dnsdisc_is_stale(d) > 0)
                return fail(-ESRCH, "%s: dnsdiscd (pid %" PRIu32 ") is not refreshing cache %s: last heartbeat %s ago",
                            verb_name, di.pid, cache_path(),
                            format_timespan(span, heartbeat_age_usec(&di, now)));

        if (kill((pid_t) di.pid, sig) < 0) {
                r = -errno;
                if (r == -EPERM)
                        return fail(r, "%s: not permitted to signal dnsdiscd (pid %" PRIu32
                                    "): run as root or as the user dnsdiscd runs as", verb_name, di.pid);
                if (r == -ESRCH)
                        return fail(r, "%s: dnsdiscd (pid %" PRIu32 ") is not running: the process is gone",
                                    verb_name, di.pid);
                return report(r, "%s: signalling dnsdiscd (pid %" PRIu32 ")", verb_name, di.pid);
        }
        return 0;
}

static int verb_registrations(int argc, char **argv) {
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s.registrations", cache_path()) < 0)
                return report(-ENOMEM, "registrations");
        int r = print_registrations(path, arg_json, (int64_t) now_usec(CLOCK_REALTIME), stdout);
        if (r == -ENOENT)
                return fail(r, "no registrations: %s does not exist (no [register] section, or dnsdiscd not running)",
                            path);
        if (r < 0)
                return report(r, "registrations %s", path);
        return 0;
}

static int verb_refresh(int argc, char **argv) {
        _cleanup_(dnsdisc_closep) dnsdisc *d = NULL;
        dnsdisc_service *s;
        int r;

        r = open_cache(&d);
        if (r < 0)
                return r;
        /* dnsdiscd refreshes every service on SIGUSR1; a name is checked, to catch typos. */
        if (argc > 1) {
                r = dnsdisc_service_get(d, argv[1], &s);
                if (r < 0)
                        return report(r, "service %s", argv[1]);
        }
        return signal_daemon(d, SIGUSR1, "refresh");
}

static int verb_reload(int argc, char **argv) {
        _cleanup_(dnsdisc_closep) dnsdisc *d = NULL;
        int r;

        r = open_cache(&d);
        if (r < 0)
                return r;
        return signal_daemon(d, SIGHUP, "reload");
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
                .name = "pick", .min_args = 1, .max_args = 1, .options = OPT_COUNT | OPT_HASH, .run = verb_pick,
                .synopsis = "pick SERVICE [--hash KEY] [-n N]",
                .summary = "Print endpoints picked as ADDRESS:PORT",
                .help =
                        "Pick endpoints of a service as applications do, and print each as\n"
                        "ADDRESS:PORT ([ADDRESS]:PORT for IPv6), one per line.\n"
                        "\n"
                        "  -n, --count=N       Pick N times (default 1)\n"
                        "      --hash=KEY      Pick by consistent hash: the endpoint for KEY (with -n,\n"
                        "                      for KEY, KEY-1, ... KEY-(N-1)), as dnsdisc_pick_hash()\n"
                        "                      with dnsdisc_hash() of the key's bytes\n",
        },
        {
                .name = "watch", .min_args = 0, .max_args = 1, .options = OPT_ITERATIONS, .run = verb_watch,
                .synopsis = "watch [SERVICE]",
                .summary = "Live view of the services, or of one service's backends",
                .help =
                        "Show the services (or one service and its backends) and redraw the view\n"
                        "whenever a generation changes, and every second on a terminal for the\n"
                        "TTL and age countdowns. q or Ctrl-C quits. Colours unless $NO_COLOR is\n"
                        "set. When standard output is not a terminal (or TERM=dumb), prints a\n"
                        "block of 'list' or 'show' text per change instead.\n"
                        "\n"
                        "      --iterations=N  Stop after N views (default: until quit)\n",
        },
        {
                .name = "stats", .min_args = 0, .max_args = 0, .options = OPT_PROMETHEUS, .run = verb_stats,
                .synopsis = "stats [--prometheus]",
                .summary = "Print per-service and daemon counters",
                .help =
                        "Print per-service counters (backends by health, DNS queries, resolutions,\n"
                        "resolution errors by kind, health probes and failures, time since the\n"
                        "last good resolution) and dnsdiscd's (heartbeat, publishes, reloads).\n"
                        "\n"
                        "      --prometheus    Prometheus text format, for node_exporter's\n"
                        "                      textfile collector\n",
        },
        {
                .name = "check-config", .min_args = 0, .max_args = 0, .options = OPT_CONFIG, .run = verb_check_config,
                .synopsis = "check-config [-c FILE]",
                .summary = "Validate dnsdiscd's configuration",
                .help =
                        "Load the configuration and its conf.d/ drop-ins with dnsdiscd's own parser\n"
                        "and checks, and print FILE:LINE: and the problem for the first error.\n"
                        "Exits 0 if dnsdiscd would accept it, 1 if not.\n"
                        "\n"
                        "  -c, --config=FILE   Configuration file (default " CONFIG_DEFAULT_PATH ")\n",
        },
        {
                .name = "registrations", .min_args = 0, .max_args = 0, .options = OPT_JSON, .run = verb_registrations,
                .synopsis = "registrations [--json]",
                .summary = "Show this host's registrations (DNS UPDATE)",
                .help =
                        "Show each [register] section of dnsdiscd: its SRV record, state (registered,\n"
                        "withdrawn, registering, withdrawing, failing, discovering), its check,\n"
                        "the last UPDATE result and when, and when the next refresh or retry is\n"
                        "due. Read from the file dnsdiscd keeps next to the cache\n"
                        "(CACHE.registrations); it never holds the TSIG secret.\n"
                        "\n"
                        "      --json          Print the JSON object\n",
        },
        {
                .name = "refresh", .min_args = 0, .max_args = 1, .options = 0, .run = verb_refresh,
                .synopsis = "refresh [SERVICE]",
                .summary = "Make dnsdiscd resolve every service now",
                .help =
                        "Send SIGUSR1 to the dnsdiscd writing the cache: it resolves every service\n"
                        "now instead of waiting for TTLs. A SERVICE must exist in the cache, but\n"
                        "every service is refreshed. dnsdiscd ignores a refresh within 5 s of the\n"
                        "last one.\n",
        },
        {
                .name = "reload", .min_args = 0, .max_args = 0, .options = 0, .run = verb_reload,
                .synopsis = "reload",
                .summary = "Make dnsdiscd reload its configuration",
                .help =
                        "Send SIGHUP to the dnsdiscd writing the cache: it reads its configuration\n"
                        "again and keeps the running one if the new one is invalid (see\n"
                        "check-config).\n",
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
                /* check-config reads no cache, and its -c is the configuration file. */
                printf("Usage: " PROGRAM " [OPTIONS] %s\n\n%s%s", v->synopsis, v->help,
                       v->options & OPT_CONFIG ? "  -h, --help          Show this help\n" : common_options);
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

static int parse_count(const char *s, unsigned *ret) {
        char *end;
        unsigned long v;

        /* strtoul() would accept "-1" and " 1". */
        if (s[0] < '0' || s[0] > '9')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || *end != '\0' || v == 0 || v > UINT_MAX)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

/* 1: run the verb at argv[optind]; 0: done (help, version); <0: usage error, reported. */
static int parse_argv(int argc, char **argv) {
        enum {
                ARG_JSON = 0x100,
                ARG_VERSION,
                ARG_PROMETHEUS,
                ARG_ITERATIONS,
                ARG_CONFIG,
                ARG_CACHE,
                ARG_HASH,
        };
        static const struct option options[] = {
                { "cache", required_argument, NULL, ARG_CACHE },
                { "json", no_argument, NULL, ARG_JSON },
                { "count", required_argument, NULL, 'n' },
                { "prometheus", no_argument, NULL, ARG_PROMETHEUS },
                { "iterations", required_argument, NULL, ARG_ITERATIONS },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "hash", required_argument, NULL, ARG_HASH },
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
                        /* Short -c is also check-config's configuration file, as with dnsdiscd -c. */
                        arg_c = optarg;
                        _fallthrough_;
                case ARG_CACHE:
                        arg_cache = optarg;
                        break;
                case ARG_JSON:
                        arg_json = true;
                        arg_given |= OPT_JSON;
                        break;
                case 'n':
                        if (parse_count(optarg, &arg_count) < 0)
                                return usage_error("invalid count '%s': expected a number from 1 to %u", optarg, UINT_MAX);
                        arg_given |= OPT_COUNT;
                        break;
                case ARG_PROMETHEUS:
                        arg_prometheus = true;
                        arg_given |= OPT_PROMETHEUS;
                        break;
                case ARG_ITERATIONS:
                        if (parse_count(optarg, &arg_iterations) < 0)
                                return usage_error("invalid iterations '%s': expected a number from 1 to %u", optarg,
                                                   UINT_MAX);
                        arg_given |= OPT_ITERATIONS;
                        break;
                case ARG_CONFIG:
                        arg_config = optarg;
                        arg_given |= OPT_CONFIG;
                        break;
                case ARG_HASH:
                        arg_hash = optarg;
                        arg_given |= OPT_HASH;
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
                                   option_names[__builtin_ctz(arg_given & ~v->options)], v->name);
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
