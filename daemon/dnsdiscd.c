/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dnsdiscd.c: entry point of the dnsdisc daemon: options, configuration, then the manager's loop. */
#include <getopt.h>
#include <signal.h>
#include <sys/resource.h>

#include "config.h"
#include "log.h"
#include "manager.h"

/* Every health probe holds a socket: the soft open-file limit (1024 by default) would stop
 * max-checks-inflight long before the hard one. The daemon never uses select(), so fds above
 * 1023 are fine. What is still too little is cut and said once by health.c. */
static void raise_open_file_limit(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
                return;
        rlim_t soft = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                log_debug("Cannot raise the open-file limit from %llu: %s", (unsigned long long) soft, strerror(errno));
}

static void help(void) {
        printf("Usage: dnsdiscd [OPTIONS]\n"
               "Resolve configured services over DNS, health-check them and publish them\n"
               "into a shared-memory cache for libdnsdisc.\n\n"
               "  -c, --config=FILE     configuration file (default %s)\n"
               "      --log-level=LEVEL err, warning, notice, info or debug\n"
               "      --check-config    validate the configuration and exit\n"
               "  -h, --help            show this help\n"
               "      --version         show the version\n",
               CONFIG_DEFAULT_PATH);
}

int main(int argc, char **argv) {
        enum { ARG_LOG_LEVEL = 0x100, ARG_CHECK_CONFIG, ARG_VERSION };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "check-config", no_argument, NULL, ARG_CHECK_CONFIG },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {},
        };
        const char *config_path = CONFIG_DEFAULT_PATH;
        int log_level = -1;
        bool check_only = false;
        int c, r;

        while ((c = getopt_long(argc, argv, "c:h", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        config_path = optarg;
                        break;
                case ARG_LOG_LEVEL:
                        log_level = log_level_from_string(optarg);
                        if (log_level < 0) {
                                fprintf(stderr, "dnsdiscd: invalid log level '%s'\n", optarg);
                                return 2;
                        }
                        break;
                case ARG_CHECK_CONFIG:
                        check_only = true;
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("dnsdiscd %s\n", PACKAGE_VERSION);
                        return 0;
                default:
                        fprintf(stderr, "Try 'dnsdiscd --help'.\n");
                        return 2;
                }
        if (optind < argc) {
                fprintf(stderr, "dnsdiscd: unexpected argument '%s'\nTry 'dnsdiscd --help'.\n", argv[optind]);
                return 2;
        }

        _cleanup_free_ char *error = NULL;
        Config *config = NULL;
        r = config_load(config_path, NULL, &config, &error);
        if (r < 0) {
                fprintf(stderr, "dnsdiscd: %s\n", error ? error : strerror(-r));
                return 1;
        }
        if (check_only) {
                printf("%s: configuration OK (%zu services)\n", config_path, config->n_services);
                config_free(config);
                return 0;
        }
        log_set_max_level(log_level >= 0 ? log_level : config->log_level);
        /* A write to a peer that went away (a DNS server's TCP connection, stderr into a pipe whose
         * reader exited) must be an EPIPE error, not the end of the daemon: systemd ignores
         * SIGPIPE for us (IgnoreSIGPIPE=yes), a shell or a supervisor may not. */
        (void) signal(SIGPIPE, SIG_IGN);
        raise_open_file_limit();

        Manager *m = NULL;
        r = manager_new(config, config_path, &m);
        if (r < 0) {
                if (r == -ENOMEM)
                        log_error("Out of memory");
                return 1;
        }
        r = manager_run(m);
        manager_free(m);
        return r < 0 ? 1 : 0;
}
