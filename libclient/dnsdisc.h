/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dnsdisc.h: libdnsdisc, picking service endpoints from the dnsdiscd shared-memory cache. */
#ifndef DNSDISC_H
#define DNSDISC_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * All functions return 0 (or a documented positive value) on success and a
 * negative errno on failure; dnsdisc_strerror() describes both ours and the
 * system's codes. Output parameters are last, named ret*, and left untouched
 * on failure. Functions never log, never exit and never raise signals.
 *
 * Ownership: dnsdisc_close() frees a dnsdisc and every handle taken from it;
 * nothing else the library returns is freed by the caller. Strings it returns
 * are static. Structures it fills (endpoints, info, backends, counters) are
 * the caller's memory and hold no pointer the caller must free.
 *
 * Errors specific to dnsdisc:
 *   -ENOENT           no cache file: dnsdiscd is not running or never ran
 *   -ESRCH            no service of that name in the cache
 *   -EHOSTUNREACH     the service has no backend to pick
 *   -EPROTONOSUPPORT  the cache file has an incompatible major version
 *   -EBADMSG          the cache file is corrupt
 *   -EAGAIN           the writer kept changing the service; try again
 *   -ENOBUFS          the caller's array is too small
 *   -ESTALE           the endpoint no longer belongs to the service's set
 *   -EOPNOTSUPP       the service has no consistent-hash table (hash = off)
 */

#define DNSDISC_DEFAULT_CACHE "/run/dnsdisc/cache"
#define DNSDISC_CACHE_ENV "DNSDISC_CACHE"
#define DNSDISC_TARGET_MAX 256   /* target host name buffer size, NUL included */
#define DNSDISC_NAME_MAX 128     /* service name buffer size, NUL included */
#define DNSDISC_QUERY_MAX 256    /* DNS name buffer size, NUL included */
#define DNSDISC_BACKENDS_MAX 1024

typedef struct dnsdisc dnsdisc;                 /* an open cache; owns its services */
typedef struct dnsdisc_service dnsdisc_service; /* a service handle; lives until dnsdisc_close() */

/* An endpoint: a value the caller owns; addr and addrlen go straight into connect(). */
typedef struct dnsdisc_endpoint {
        union {
                struct sockaddr sa;
                struct sockaddr_in sin;
                struct sockaddr_in6 sin6;
        } addr;
        socklen_t addrlen;
        uint16_t port;            /* host order */
        uint16_t _backend;        /* private */
        uint32_t _generation;     /* private */
        uint32_t _reserved0;      /* private */
        uint64_t _key;            /* private: endpoint identity */
        dnsdisc_service *_service;/* private */
        uint64_t _reserved[4];
} dnsdisc_endpoint;

enum {
        DNSDISC_STATE_PENDING = 0,
        DNSDISC_STATE_OK = 1,
        DNSDISC_STATE_STALE = 2,
        DNSDISC_STATE_NEGATIVE = 3,
        DNSDISC_STATE_ERROR = 4,
};

enum {
        DNSDISC_HEALTH_UNKNOWN = 0,
        DNSDISC_HEALTH_UP = 1,
        DNSDISC_HEALTH_DOWN = 2,
        DNSDISC_HEALTH_UNCHECKED = 3, /* checks are off (check = none): picked as DNS publishes it */
};

enum {
        DNSDISC_SOURCE_SRV = 0,
        DNSDISC_SOURCE_A = 1,
        DNSDISC_SOURCE_AAAA = 2,
};

enum {
        DNSDISC_SERVICE_PANIC = 1u << 0, /* no healthy backend: every backend is being picked */
        DNSDISC_SERVICE_SRV = 1u << 2,   /* resolved through SRV records */
};

/* A service's state, as copied by dnsdisc_service_info_get() or dnsdisc_snapshot(). */
typedef struct dnsdisc_service_info {
        char name[DNSDISC_NAME_MAX];
        char query[DNSDISC_QUERY_MAX];
        uint32_t generation;
        uint8_t state;            /* DNSDISC_STATE_* */
        uint8_t flags;            /* DNSDISC_SERVICE_* */
        uint16_t last_error;      /* dnsdisc_error_code_name() */
        uint32_t n_backends;
        uint32_t n_healthy;
        uint32_t n_scheduled;     /* distinct backends that picks return */
        uint32_t _reserved0;
        int64_t last_good_usec;   /* CLOCK_REALTIME µs of the last good answer, 0: never */
        int64_t next_refresh_usec;/* CLOCK_REALTIME µs of the next planned query, 0: none */
        int64_t changed_usec;     /* CLOCK_REALTIME µs of the last generation change */
        uint64_t _reserved[8];
} dnsdisc_service_info;

/* A backend, as copied by dnsdisc_snapshot(). */
typedef struct dnsdisc_backend {
        union {
                struct sockaddr sa;
                struct sockaddr_in sin;
                struct sockaddr_in6 sin6;
        } addr;
        socklen_t addrlen;
        uint16_t port;            /* host order */
        uint16_t priority;
        uint16_t weight;
        uint8_t health;           /* DNSDISC_HEALTH_* */
        uint8_t source;           /* DNSDISC_SOURCE_* */
        uint8_t scheduled;        /* 1: picks can return it */
        uint8_t _reserved0[3];
        int64_t ttl_expiry_usec;  /* CLOCK_REALTIME µs when its DNS data expires */
        uint32_t checks;          /* health probes run */
        uint32_t check_failures;
        uint32_t last_latency_usec;
        uint16_t consecutive_ok;
        uint16_t consecutive_fail;
        int64_t last_check_usec;  /* CLOCK_REALTIME µs, 0: never */
        uint16_t check_error;     /* dnsdisc_error_code_name() of the last failed probe */
        uint16_t _reserved1[3];
        char target[DNSDISC_TARGET_MAX];
        uint64_t _reserved[8];
} dnsdisc_backend;

/* The writer's liveness, from the cache header. */
typedef struct dnsdisc_daemon_info {
        uint32_t pid;             /* dnsdiscd's pid, 0: unknown */
        uint32_t heartbeat_interval_ms;
        int64_t heartbeat_usec;   /* CLOCK_REALTIME µs of the last heartbeat */
        int64_t started_usec;
        uint8_t stopped;          /* 1: dnsdiscd exited cleanly and no longer refreshes */
        uint8_t _reserved0[7];
        uint32_t n_services;
        uint32_t _reserved1;
        int64_t heartbeat_boot_usec; /* CLOCK_BOOTTIME µs of the last heartbeat, 0: the file does not say
                                      * (format before 1.2); what dnsdisc_is_stale() goes by when set */
        uint64_t _reserved[7];
} dnsdisc_daemon_info;

/* Open the cache at path (NULL: $DNSDISC_CACHE, else DNSDISC_DEFAULT_CACHE). */
int dnsdisc_open(const char *path, dnsdisc **ret);
/* Close d and every service handle taken from it. Accepts NULL; returns NULL. */
dnsdisc *dnsdisc_close(dnsdisc *d);

/* Look a service up by name. The handle belongs to d and lives until
 * dnsdisc_close(); looking the same name up again returns the same handle.
 * (The name dnsdisc_service is the handle's type: C gives typedefs and
 * functions one name space, hence the _get.) */
int dnsdisc_service_get(dnsdisc *d, const char *name, dnsdisc_service **ret);
/* Iterate over the services in the cache: *cursor starts at 0. Returns 1 with
 * a handle, 0 at the end, or a negative errno. */
int dnsdisc_service_next(dnsdisc *d, size_t *cursor, dnsdisc_service **ret);

/* The next endpoint by the service's round-robin schedule (SRV priority and
 * weight honoured). Thread-safe; no syscall, lock or allocation. */
int dnsdisc_pick(dnsdisc_service *s, dnsdisc_endpoint *ret);
/* A uniformly random endpoint among those picks can return. */
int dnsdisc_pick_random(dnsdisc_service *s, dnsdisc_endpoint *ret);

/*
 * Consistent hashing: the endpoint for key through the Maglev table dnsdiscd
 * publishes for the service (configured with hash = maglev), so every
 * process on the host, and on any host with the same backends, maps a key
 * to the same endpoint, and a change of the set moves few keys. Key any
 * 64-bit value; dnsdisc_hash() makes one from bytes. An endpoint this
 * process quarantined is replaced by the next table entry's, so only its
 * own keys move. -EOPNOTSUPP without a table. Thread-safe; no syscall,
 * lock or allocation.
 */
int dnsdisc_pick_hash(dnsdisc_service *s, uint64_t key, dnsdisc_endpoint *ret);
/* The documented key hash: XXH64 of len bytes at data, seed 0 (data may be NULL when len is 0). */
uint64_t dnsdisc_hash(const void *data, size_t len);
/* Entries of the service's hash table into *ret_size (0: a table, but no
 * backend to pick); -EOPNOTSUPP when it has none. */
int dnsdisc_hash_table_size(dnsdisc_service *s, uint32_t *ret_size);

/*
 * Least-request: two distinct endpoints drawn by weight among those picks
 * can return, and the one with fewer requests in flight from this process
 * (power of two choices). Call dnsdisc_release() with the endpoint when its
 * request ends. Counts follow the endpoint's address and port across
 * republishing, saturate, and restart at 0 when it leaves the service's
 * set (releases of older picks are then ignored). Thread-safe, lock-free.
 */
int dnsdisc_pick_least(dnsdisc_service *s, dnsdisc_endpoint *ret);
/* End a request picked by dnsdisc_pick_least(); -EINVAL for any other endpoint. */
int dnsdisc_release(const dnsdisc_endpoint *e);

/* Passive failover: an endpoint reported failed is skipped by this process's
 * picks for a quarantine of 1 s, doubling on each further failure up to 30 s,
 * ended by report_success or by expiry. When every endpoint is quarantined,
 * picks ignore the quarantine. */
int dnsdisc_report_failure(const dnsdisc_endpoint *e);
int dnsdisc_report_success(const dnsdisc_endpoint *e);

/* Copy the endpoint's target host name into buf (NUL-terminated). -ESTALE if
 * the service changed so that the endpoint is no longer in its set. */
int dnsdisc_endpoint_target(const dnsdisc_endpoint *e, char *buf, size_t size);
/* Format "ADDRESS:PORT" or "[ADDRESS]:PORT" into buf (at least 64 bytes). */
int dnsdisc_endpoint_format(const dnsdisc_endpoint *e, char *buf, size_t size);

/* Copy the service's state into the caller's *ret. */
int dnsdisc_service_info_get(dnsdisc_service *s, dnsdisc_service_info *ret);
/* Copy the service's state and backends, consistently, into the caller's
 * arrays. Returns the number of backends copied; -ENOBUFS (nothing copied) if
 * n_backends is too small: DNSDISC_BACKENDS_MAX always suffices. ret_info may
 * be NULL. With ret_backends NULL and n_backends 0, copies nothing but
 * ret_info and returns how many backends the service has now. */
int dnsdisc_snapshot(dnsdisc_service *s, dnsdisc_service_info *ret_info, dnsdisc_backend *ret_backends, size_t n_backends);

/* The service's current generation (changes with its set, state or health). */
uint32_t dnsdisc_generation(dnsdisc_service *s);
/* Block until the service's generation differs from generation, or
 * timeout_usec passes (UINT64_MAX: no timeout). Returns 1 on change, 0 on
 * timeout, -EINTR on a signal. */
int dnsdisc_wait(dnsdisc_service *s, uint32_t generation, uint64_t timeout_usec);
/* Likewise for any service of the cache: counter from dnsdisc_change_counter(). */
uint32_t dnsdisc_change_counter(dnsdisc *d);
int dnsdisc_wait_any(dnsdisc *d, uint32_t counter, uint64_t timeout_usec);

/* 1 if dnsdiscd stopped refreshing the cache (clean stop, or heartbeat older
 * than three intervals), 0 if it is fresh. Data stays readable either way. */
int dnsdisc_is_stale(dnsdisc *d);
/* Copy the writer's liveness into the caller's *ret. */
int dnsdisc_daemon_info_get(dnsdisc *d, dnsdisc_daemon_info *ret);

/* The library's version, such as "0.1.0": a static string, never NULL. */
const char *dnsdisc_version(void);

/* Text of a negative errno returned by this library (or any errno). Never NULL. */
const char *dnsdisc_strerror(int err);
/* Names: "pending", "ok", "stale", "negative", "error"; "unknown", "up", "down", "unchecked";
 * "srv", "a", "aaaa"; error codes such as "timeout" or "servfail". Never NULL. */
const char *dnsdisc_state_name(unsigned state);
const char *dnsdisc_health_name(unsigned health);
const char *dnsdisc_source_name(unsigned source);
const char *dnsdisc_error_code_name(unsigned code);

/*
 * Counters (libclient/stats.c), for monitoring: monotonic while dnsdiscd
 * runs and carried over when it replaces the cache file; a restart resets
 * them (the daemon-wide ones unless it adopts the old file). Indices into
 * the arrays the two functions below fill; new counters are only ever
 * appended, and a counter the running daemon does not keep reads 0.
 */
enum {
        DNSDISC_SERVICE_COUNTER_RESOLUTIONS = 0,    /* answers that produced a usable set */
        DNSDISC_SERVICE_COUNTER_QUERIES = 1,        /* DNS queries sent */
        DNSDISC_SERVICE_COUNTER_ERR_TIMEOUT = 2,    /* failed resolutions, by kind */
        DNSDISC_SERVICE_COUNTER_ERR_SERVFAIL = 3,
        DNSDISC_SERVICE_COUNTER_ERR_REFUSED = 4,
        DNSDISC_SERVICE_COUNTER_ERR_NXDOMAIN = 5,
        DNSDISC_SERVICE_COUNTER_ERR_NODATA = 6,
        DNSDISC_SERVICE_COUNTER_ERR_OTHER = 7,
        DNSDISC_SERVICE_COUNTER_CHECKS = 8,         /* health probes run */
        DNSDISC_SERVICE_COUNTER_CHECK_FAILURES = 9,
        DNSDISC_SERVICE_COUNTER_NOTIFY_ROUNDS = 10, /* resolution rounds a DNS NOTIFY triggered */
        DNSDISC_SERVICE_COUNTER_NOTIFY_LAST_USEC = 11, /* CLOCK_REALTIME µs the last of them started, 0: none */
        DNSDISC_SERVICE_COUNTER_CHECKS_SKIPPED = 12,/* health probes not run for a local reason (dnsdiscd out of
                                                     * file descriptors, memory or local ports): the backends
                                                     * kept their health; not in CHECKS */
};
#define DNSDISC_SERVICE_COUNTERS_MAX 32             /* an array this long always suffices */

enum {
        DNSDISC_DAEMON_COUNTER_QUERIES = 0,
        DNSDISC_DAEMON_COUNTER_RESOLUTIONS = 1,
        DNSDISC_DAEMON_COUNTER_RESOLUTION_ERRORS = 2,
        DNSDISC_DAEMON_COUNTER_CHECKS = 3,
        DNSDISC_DAEMON_COUNTER_CHECK_FAILURES = 4,
        DNSDISC_DAEMON_COUNTER_PUBLISHES = 5,       /* writes that changed a service */
        DNSDISC_DAEMON_COUNTER_FILE_REPLACEMENTS = 6,/* cache file grown through a new file */
        DNSDISC_DAEMON_COUNTER_RELOADS = 7,         /* configuration reloads (SIGHUP) */
        DNSDISC_DAEMON_COUNTER_NOTIFY_RECEIVED = 8, /* messages on the DNS NOTIFY listener */
        DNSDISC_DAEMON_COUNTER_NOTIFY_REFUSED = 9,  /* NOTIFYs from sources outside notify-allow */
        DNSDISC_DAEMON_COUNTER_NOTIFY_BAD_TSIG = 10,/* unsigned or badly signed, with notify-key set */
        DNSDISC_DAEMON_COUNTER_NOTIFY_MALFORMED = 11,/* answered FORMERR or NOTIMP, or not at all */
        DNSDISC_DAEMON_COUNTER_NOTIFY_COALESCED = 12,/* valid NOTIFYs that started no round of their own */
        DNSDISC_DAEMON_COUNTER_NOTIFY_ROUNDS = 13,  /* service resolution rounds NOTIFYs triggered */
        DNSDISC_DAEMON_COUNTER_UPDATES = 14,        /* DNS UPDATEs of registrations, answered or failed */
        DNSDISC_DAEMON_COUNTER_UPDATE_FAILURES = 15,/* of those: timeouts, error RCODEs, rejected answers */
        DNSDISC_DAEMON_COUNTER_REGISTRATIONS = 16,  /* UPDATEs that added or re-asserted an instance */
        DNSDISC_DAEMON_COUNTER_WITHDRAWALS = 17,    /* UPDATEs that withdrew an instance */
        DNSDISC_DAEMON_COUNTER_CHECKS_SKIPPED = 18, /* services' health probes not run for a local reason */
};
#define DNSDISC_DAEMON_COUNTERS_MAX 48

/* Copy the service's first n counters (at most DNSDISC_SERVICE_COUNTERS_MAX),
 * consistently with each other, into ret[]. Returns the number copied. */
int dnsdisc_service_counters(dnsdisc_service *s, uint64_t *ret, size_t n);
/* Copy the first n daemon-wide counters (at most DNSDISC_DAEMON_COUNTERS_MAX)
 * into ret[]; each is read atomically, not all at one instant. Returns the
 * number copied. */
int dnsdisc_daemon_counters(dnsdisc *d, uint64_t *ret, size_t n);

#ifdef __cplusplus
}
#endif

#endif
