/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* config.h: dnsdisc.conf and its conf.d drop-ins, parsed with libinih (the only inih user). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "notify.h"

/* The longest duration any key takes: 10 years (of 365 days), so that every deadline the daemon adds
 * a duration to stays far inside int64 microseconds. */
#define CONFIG_DURATION_MAX_USEC (3650ULL * 86400 * 1000000)
/* The longest check = http PATH, in bytes: a request line that servers accept everywhere. */
#define CONFIG_CHECK_PATH_MAX 1024
/* From configure's sysconfdir (Makefile.am), as the unit, tmpfiles and man pages. */
#ifndef DNSDISC_SYSCONFDIR
#define DNSDISC_SYSCONFDIR "/etc"
#endif
#define CONFIG_DEFAULT_PATH DNSDISC_SYSCONFDIR "/dnsdisc/dnsdisc.conf"

typedef enum Family { FAMILY_ANY, FAMILY_IPV4, FAMILY_IPV6 } Family;
typedef enum CheckType { CHECK_NONE, CHECK_TCP, CHECK_HTTP } CheckType;
typedef enum HashPolicy { HASH_OFF, HASH_MAGLEV } HashPolicy;
/* hash-table-size: a table smaller than this many entries per backend skews the shares by over 10 %. */
#define CONFIG_HASH_ENTRIES_PER_BACKEND 10

typedef struct ConfigServer {
        int family;             /* AF_INET or AF_INET6 */
        uint8_t addr[16];
        uint16_t port;          /* 53 unless given */
} ConfigServer;

/* Settings that [daemon] gives defaults for and a [service] may override. */
typedef struct ServiceSettings {
        uint64_t min_ttl_usec;          /* min-ttl, default 5s */
        uint64_t max_ttl_usec;          /* max-ttl, default 1h */
        uint64_t stale_ttl_usec;        /* stale-ttl, default 10min */
        unsigned negative_confirm;      /* negative-confirm, default 2 */
        Family family;                  /* family, default any */
        unsigned max_backends;          /* max-backends, default 64, 1..1024 */
        CheckType check;                /* check, default none */
        char *check_path;               /* check = http PATH */
        uint16_t check_port;            /* check-port, 0: the backend's port */
        uint64_t check_interval_usec;   /* check-interval, default 5s */
        uint64_t check_timeout_usec;    /* check-timeout, default 1s */
        unsigned rise;                  /* default 2 */
        unsigned fall;                  /* default 3 */
        bool panic;                     /* default on */
        HashPolicy hash;                /* hash, default off */
        unsigned hash_table_size;       /* hash-table-size, default 65537, a prime in 251..65537 */
} ServiceSettings;

typedef struct ServiceConfig {
        char *name;                     /* [service NAME] */
        char *srv;                      /* srv = NAME (normalised), or NULL */
        char *host;                     /* host = NAME (normalised), or NULL */
        uint16_t port;                  /* with host */
        ServiceSettings s;
        char *file;                     /* where the section starts */
        unsigned line;
} ServiceConfig;

/* [register NAME]: an instance of this host that dnsdiscd adds to DNS by UPDATE while it is healthy. */
typedef struct RegisterConfig {
        char *name;                     /* [register NAME] */
        char *srv;                      /* srv: the SRV owner name (normalised) */
        char *target;                   /* target; NULL: this host's name under the zone */
        ConfigServer *addresses;        /* address: A/AAAA of the target (port unused) */
        size_t n_addresses;
        uint16_t port, priority, weight; /* priority default 10, weight 100 */
        uint32_t ttl_sec;               /* ttl, default 30s */
        uint64_t refresh_usec;          /* refresh; default ttl × 4 */
        ServiceSettings s;              /* check, check-port, check-interval, check-timeout, rise, fall */
        ConfigServer server;            /* server; family 0: the zone's SOA MNAME */
        char *zone;                     /* zone; NULL: the zone the SOA query for srv finds */
        NotifyKey *key;                 /* key or key-file; NULL: unsigned. Secret wiped on free */
        bool deregister_on_stop;        /* deregister-on-stop, default yes */
        char *file;                     /* where the section starts */
        unsigned line;
} RegisterConfig;

typedef struct Config {
        char *cache_path;               /* cache, default /run/dnsdisc/cache */
        ConfigServer *servers;          /* servers; n_servers 0: follow /etc/resolv.conf */
        size_t n_servers;
        uint64_t query_timeout_usec;    /* query-timeout, default 1s */
        unsigned query_tries;           /* query-tries, default 3 */
        unsigned max_inflight;          /* max-inflight, default 128 */
        unsigned max_checks_inflight;   /* max-checks-inflight, default 256 */
        int log_level;                  /* log-level (syslog priority), default LOG_INFO */
        ConfigServer *notify_listen;    /* notify-listen: UDP and TCP; n_notify_listen 0: no listener */
        size_t n_notify_listen;
        NotifyPrefix *notify_allow;     /* notify-allow; n_notify_allow 0: loopback only */
        size_t n_notify_allow;
        NotifyKey *notify_key;          /* notify-key or notify-key-file; NULL: none. Secret wiped on free */
        uint64_t notify_min_interval_usec; /* notify-min-interval, default 100ms */
        ServiceSettings defaults;       /* [daemon] values of the per-service keys */
        ServiceConfig *services;        /* in file order */
        size_t n_services;
        RegisterConfig *registers;      /* in file order */
        size_t n_registers;
} Config;

/*
 * Load path, then path's directory's conf.d/ *.conf in sorted order (or
 * dropin_dir when not NULL; "" for none). On error returns a negative errno
 * and sets *ret_error to a malloc'd "FILE:LINE: message" (caller frees):
 * -EINVAL a malformed line or value, -ERANGE a number out of range, -EEXIST a
 * key or section given twice, -E2BIG more items than a list holds,
 * -ENAMETOOLONG a check path too long for a request line, -EPERM a TSIG secret
 * file others can read, -ENOMEM; or the errno of opening, stating or reading
 * the file, a drop-in or a secret file it names (-ENOENT, -EACCES, ...).
 */
int config_load(const char *path, const char *dropin_dir, Config **ret, char **ret_error);
Config *config_free(Config *c);
/* Free the services part (they are most of a large configuration) once the services hold their
 * own copies; the [daemon] settings stay. */
void config_drop_services(Config *c);

/* Every key the parser accepts, NULL-terminated: [daemon] keys, then [service] keys. */
extern const char *const config_daemon_keys[];
extern const char *const config_service_keys[];
extern const char *const config_register_keys[];
void register_config_done(RegisterConfig *r);
/* True if two registrations add the same records the same way (name, file and line aside). */
bool register_config_equal(const RegisterConfig *a, const RegisterConfig *b);
/* True if two registrations add the same records the same way, whatever their checks. */
bool register_config_same_records(const RegisterConfig *a, const RegisterConfig *b);
/* True if two registrations check their instance the same way (check, check-port, check-interval,
 * check-timeout, rise, fall). */
bool register_config_checks_equal(const RegisterConfig *a, const RegisterConfig *b);
/* True if two registrations probe the same thing (check, its path, check-port). */
bool register_config_same_probe(const RegisterConfig *a, const RegisterConfig *b);

/* "250ms", "5s", "10min", "1h", "1h 30min", "2" (seconds) -> µs. -EINVAL, or -ERANGE above
 * CONFIG_DURATION_MAX_USEC. */
int config_parse_duration(const char *s, uint64_t *ret_usec);
/* Entries of all the hash tables the services ask for (hash = maglev): what their tables cost the cache. */
uint64_t config_hash_table_entries(const Config *c);
/* True if two service configurations resolve and check the same way. */
bool service_config_equal(const ServiceConfig *a, const ServiceConfig *b);
