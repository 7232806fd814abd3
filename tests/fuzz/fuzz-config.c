/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-config.c: libFuzzer target: arbitrary bytes as dnsdisc.conf (no drop-ins), and its first line as a name and a duration. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "fuzz-driver.h"
#include "records.h"

#define USEC_PER_MSEC UINT64_C(1000)
#define USEC_PER_SEC UINT64_C(1000000)

static void check_dns_name(const char *s) {
        char again[RECORDS_NAME_MAX];

        FUZZ_ASSERT(s && strlen(s) < RECORDS_NAME_MAX);
        FUZZ_ASSERT(records_normalize_name(s, again, sizeof again) == 0 && strcmp(s, again) == 0);
}

/* What config.h and dnsdisc.conf(5) promise of every loaded configuration. */
static void check_settings(const ServiceSettings *s) {
        FUZZ_ASSERT(s->min_ttl_usec >= 1 && s->min_ttl_usec <= s->max_ttl_usec);
        FUZZ_ASSERT(s->check_interval_usec >= 1 && s->check_timeout_usec >= 1 &&
                    s->check_timeout_usec < s->check_interval_usec);
        FUZZ_ASSERT(s->negative_confirm >= 1 && s->negative_confirm <= 100);
        FUZZ_ASSERT(s->max_backends >= 1 && s->max_backends <= 1024);
        FUZZ_ASSERT(s->rise >= 1 && s->rise <= 100 && s->fall >= 1 && s->fall <= 100);
        FUZZ_ASSERT(s->family == FAMILY_ANY || s->family == FAMILY_IPV4 || s->family == FAMILY_IPV6);
        FUZZ_ASSERT(s->check == CHECK_NONE || s->check == CHECK_TCP || s->check == CHECK_HTTP);
        FUZZ_ASSERT((s->check == CHECK_HTTP) == (s->check_path != NULL));
        if (s->check_path)
                FUZZ_ASSERT(s->check_path[0] == '/' && !strpbrk(s->check_path, " \t\r\n"));
}

static void check_config(const Config *c, const char *path) {
        FUZZ_ASSERT(c->cache_path && c->cache_path[0] == '/');
        FUZZ_ASSERT(c->n_servers == 0 || c->servers);
        for (size_t i = 0; i < c->n_servers; i++)
                FUZZ_ASSERT((c->servers[i].family == AF_INET || c->servers[i].family == AF_INET6) &&
                            c->servers[i].port > 0);
        FUZZ_ASSERT(c->query_timeout_usec >= USEC_PER_MSEC && c->query_timeout_usec <= 60 * USEC_PER_SEC);
        FUZZ_ASSERT(c->query_tries >= 1 && c->query_tries <= 10);
        FUZZ_ASSERT(c->max_inflight >= 1 && c->max_inflight <= 4096);
        FUZZ_ASSERT(c->max_checks_inflight >= 1 && c->max_checks_inflight <= 65536);
        FUZZ_ASSERT(c->log_level >= LOG_ERR && c->log_level <= LOG_DEBUG);
        check_settings(&c->defaults);

        FUZZ_ASSERT(c->n_services == 0 || c->services);
        for (size_t i = 0; i < c->n_services; i++) {
                const ServiceConfig *svc = &c->services[i];

                FUZZ_ASSERT(svc->name && svc->name[0] != '\0' && strlen(svc->name) < 128);
                FUZZ_ASSERT(strspn(svc->name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") ==
                            strlen(svc->name));
                FUZZ_ASSERT(!svc->srv != !svc->host);
                if (svc->srv) {
                        check_dns_name(svc->srv);
                        FUZZ_ASSERT(svc->port == 0);
                } else {
                        check_dns_name(svc->host);
                        FUZZ_ASSERT(svc->port > 0);
                }
                FUZZ_ASSERT(svc->file && strcmp(svc->file, path) == 0 && svc->line >= 1);
                check_settings(&svc->s);
                FUZZ_ASSERT(service_config_equal(svc, svc));
                for (size_t j = 0; j < i; j++)
                        FUZZ_ASSERT(strcmp(c->services[j].name, svc->name) != 0);
        }
}

/* The first line, on its own: a DNS name and a duration, as the parser would get them. */
static void check_first_line(const uint8_t *data, size_t size) {
        char line[512], name[RECORDS_NAME_MAX], again[RECORDS_NAME_MAX];
        size_t n = 0;
        uint64_t usec;
        int r;

        while (n < size && n < sizeof line - 1 && data[n] != '\n' && data[n] != '\0')
                n++;
        memcpy(line, data, n);
        line[n] = '\0';

        r = records_normalize_name(line, name, sizeof name);
        FUZZ_ASSERT(r == 0 || r == -EINVAL);
        if (r == 0) {
                /* Normalising is idempotent, and never grows the name. */
                FUZZ_ASSERT(strlen(name) <= n && strlen(name) < RECORDS_NAME_MAX);
                FUZZ_ASSERT(records_normalize_name(name, again, sizeof again) == 0 && strcmp(name, again) == 0);
        }
        r = config_parse_duration(line, &usec);
        FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ERANGE);
}

/* The errors config.h documents for config_load(): the parser's own, and those of a file a line names
 * (tsig-secret-file = /nonexistent). Anything else means a code path returns what no caller expects. */
static bool documented_error(int r) {
        switch (-r) {
        case EINVAL: case ERANGE: case EEXIST: case E2BIG: case ENAMETOOLONG: case EPERM: case ENOMEM:
        case ENOENT: case EACCES: case ENOTDIR: case ELOOP: case EISDIR: case ENXIO: case EIO:
        case EMFILE: case ENFILE: case ENODEV: case EOVERFLOW: case ETXTBSY: case EWOULDBLOCK:
                return true;
        default:
                return false;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *path = fuzz_input_file("fuzz-config", data, size);
        Config *c = NULL;
        char *error = NULL;
        int r;

        r = config_load(path, "", &c, &error);
        if (r < 0) {
                /* Every failure says where: "FILE:LINE: message" or "FILE: message". */
                FUZZ_ASSERT(!c);
                FUZZ_ASSERT(error && strncmp(error, path, strlen(path)) == 0 && error[strlen(path)] == ':');
                FUZZ_ASSERT(documented_error(r));
                free(error);
        } else {
                FUZZ_ASSERT(r == 0 && c && !error);
                check_config(c, path);
                config_free(c);
        }

        check_first_line(data, size);
        return 0;
}
