/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cache-def.h: on-disk layout of the dnsdisc shared-memory cache file (an ABI; see docs/cache-format.md). */
#pragma once

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One writer (dnsdiscd) maps the file read-write; any number of readers in
 * other processes map it PROT_READ. Layout, all integers little-endian (the
 * only byte order configure accepts) and naturally aligned:
 *
 *   dd_header                    at 0, header_size bytes
 *   dd_service[n_service_slots]  at services_offset, service_size bytes each
 *   heap                         at heap_offset, heap_size bytes: extents
 *
 * A service's extent (at dd_service.extent_offset, extent_size bytes):
 *   dd_backend backends[n_backends]
 *   uint16_t   schedule[sched_len]     indices into backends
 *   uint16_t   eligible[n_eligible]    indices into backends (pick_random)
 *   char       strings[]               NUL-terminated target names
 *   uint16_t   hash_table[hash_table_size]  (1.1, optional) at hash_table_off,
 *                                      8-aligned: indices into backends (Maglev)
 *
 * Every field of a dd_service and its extent is read under the slot's
 * seqlock: seq is odd while the writer changes the slot. Readers copy what
 * they need, re-read seq, and retry (a bounded number of times) if it moved.
 * Because a read may be torn, readers bounds-check every count and offset
 * they use, before they use it, against their own mapping size.
 *
 * Compatibility: readers refuse another version_major. Minor versions only
 * use reserved bytes or grow header_size/service_size (readers use the
 * sizes from the header, never sizeof, to step through the file).
 */

#define DD_MAGIC "DNSDISC\0"
#define DD_MAGIC_SIZE 8
#define DD_VERSION_MAJOR 1
#define DD_VERSION_MINOR 2

#define DD_NAME_MAX 128        /* service name, NUL included */
#define DD_QUERY_MAX 256       /* DNS query name, NUL included */
#define DD_TARGET_MAX 256      /* backend target host name, NUL included */
#define DD_BACKENDS_MAX 1024   /* per service; backend indices are uint16_t */
#define DD_SCHED_MAX 4096      /* pick schedule length bound */
#define DD_SLOTS_MAX 1000000
#define DD_EXTENT_MAX (16u * 1024u * 1024u)
#define DD_HASH_TABLE_MAX 65537u  /* entries of a Maglev table (a prime; indices are uint16_t) */
#define DD_HASH_TABLE_MIN 251u

/* dd_service.hash_kind (1.1) */
enum {
        DD_HASH_NONE = 0,   /* hash = off: no table, dnsdisc_pick_hash() is -EOPNOTSUPP */
        DD_HASH_MAGLEV = 1, /* hash_table_size entries (0: nothing to pick) at hash_table_off */
        _DD_HASH_MAX,
};

/* dd_header.flags */
enum {
        DD_FILE_REPLACED = 1u << 0, /* a newer file was renamed over this one: remap the path */
        DD_FILE_STOPPED = 1u << 1,  /* the writer exited cleanly: data is no longer refreshed */
};

/* dd_service.state */
enum {
        DD_STATE_PENDING = 0,  /* not resolved yet */
        DD_STATE_OK = 1,
        DD_STATE_STALE = 2,    /* DNS failing, last good set still served */
        DD_STATE_NEGATIVE = 3, /* NXDOMAIN/NODATA confirmed, or SRV target "." */
        DD_STATE_ERROR = 4,    /* DNS failing for longer than stale-ttl: emptied */
        _DD_STATE_MAX,
};

/* dd_service.flags */
enum {
        DD_SVC_PANIC = 1u << 0, /* no healthy backend: schedule holds all of them */
        DD_SVC_MOVED = 1u << 1, /* slot retired (file replaced or service removed): look up again */
        DD_SVC_SRV = 1u << 2,   /* resolved through SRV (else host A/AAAA) */
};

/* dd_service.last_error and dd_backend.check_error: short codes, see dd_error_name() users */
enum {
        DD_ERR_NONE = 0,
        DD_ERR_TIMEOUT,
        DD_ERR_SERVFAIL,
        DD_ERR_REFUSED,
        DD_ERR_NXDOMAIN,
        DD_ERR_NODATA,
        DD_ERR_NETWORK,
        DD_ERR_MALFORMED,
        DD_ERR_TRUNCATED,
        DD_ERR_UNAVAILABLE,    /* SRV target "." */
        DD_ERR_CONNREFUSED,    /* health check: connection refused */
        DD_ERR_CHECK_TIMEOUT,  /* health check: no answer in time */
        DD_ERR_HTTP_STATUS,    /* health check: non-2xx */
        DD_ERR_PROTOCOL,       /* health check: unparsable reply, closed early, too large */
        DD_ERR_OTHER,
        _DD_ERR_MAX,
};

/* dd_backend.health */
enum {
        DD_HEALTH_UNKNOWN = 0,
        DD_HEALTH_UP = 1,
        DD_HEALTH_DOWN = 2,
        _DD_HEALTH_MAX,
};

/* dd_backend.source */
enum {
        DD_SOURCE_SRV = 0, /* address of an SRV target */
        DD_SOURCE_A = 1,   /* host = name, A record */
        DD_SOURCE_AAAA = 2,
        _DD_SOURCE_MAX,
};

/* dd_backend.flags */
enum {
        DD_BACKEND_SCHEDULED = 1u << 0, /* appears in the pick schedule */
        DD_BACKEND_UNCHECKED = 1u << 1, /* not health-checked (check = none): health is up as DNS publishes it */
};

/* Per-service counters (dd_service.counters[]), monotonic. */
enum {
        DD_SCTR_RESOLUTIONS = 0,  /* answers that produced a usable set */
        DD_SCTR_QUERIES,          /* queries sent */
        DD_SCTR_ERR_TIMEOUT,
        DD_SCTR_ERR_SERVFAIL,
        DD_SCTR_ERR_REFUSED,
        DD_SCTR_ERR_NXDOMAIN,
        DD_SCTR_ERR_NODATA,
        DD_SCTR_ERR_OTHER,
        DD_SCTR_CHECKS,
        DD_SCTR_CHECK_FAILURES,
        DD_SCTR_NOTIFY_ROUNDS,    /* rounds a DNS NOTIFY triggered */
        DD_SCTR_NOTIFY_LAST_USEC, /* CLOCK_REALTIME start of the last of them, 0: none */
        DD_SCTR_CHECKS_SKIPPED,   /* (1.2) probes not run for a local reason (fds, memory, ports): health kept */
        _DD_SCTR_MAX,
        DD_SCTR_SLOTS = 32,
};

/* Daemon-wide counters (dd_header.counters[]), monotonic. */
enum {
        DD_DCTR_QUERIES = 0,
        DD_DCTR_RESOLUTIONS,
        DD_DCTR_RESOLUTION_ERRORS,
        DD_DCTR_CHECKS,
        DD_DCTR_CHECK_FAILURES,
        DD_DCTR_PUBLISHES,
        DD_DCTR_FILE_REPLACEMENTS,
        DD_DCTR_RELOADS,
        DD_DCTR_NOTIFY_RECEIVED,  /* messages on the NOTIFY listener */
        DD_DCTR_NOTIFY_REFUSED,   /* from a source outside notify-allow */
        DD_DCTR_NOTIFY_BAD_TSIG,  /* unsigned or badly signed with notify-key set */
        DD_DCTR_NOTIFY_MALFORMED, /* FORMERR, NOTIMP or unanswerable */
        DD_DCTR_NOTIFY_COALESCED, /* valid NOTIFYs that started no round of their own */
        DD_DCTR_NOTIFY_ROUNDS,    /* service rounds NOTIFYs triggered */
        DD_DCTR_UPDATES,          /* DNS UPDATEs of [register] answered or failed */
        DD_DCTR_UPDATE_FAILURES,  /* of those: timeouts, error RCODEs, rejected answers */
        DD_DCTR_REGISTRATIONS,    /* UPDATEs that added or re-asserted an instance */
        DD_DCTR_WITHDRAWALS,      /* UPDATEs that withdrew an instance */
        DD_DCTR_CHECKS_SKIPPED,   /* (1.2) services' probes not run for a local reason: health kept */
        _DD_DCTR_MAX,
        DD_DCTR_SLOTS = 48,
};

typedef struct dd_header {
        /* First cache line: immutable for the life of the file. */
        uint8_t magic[DD_MAGIC_SIZE];       /*   0 DD_MAGIC */
        uint16_t version_major;             /*   8 */
        uint16_t version_minor;             /*  10 */
        uint32_t header_size;               /*  12 */
        uint64_t file_size;                 /*  16 */
        uint64_t file_id;                   /*  24 random, distinct for every file */
        uint64_t services_offset;           /*  32 */
        uint32_t service_size;              /*  40 slot stride */
        uint32_t n_service_slots;           /*  44 */
        uint64_t heap_offset;               /*  48 */
        uint64_t heap_size;                 /*  56 */

        /* Second cache line: rarely written. */
        alignas(64) _Atomic uint32_t flags; /*  64 DD_FILE_* */
        _Atomic uint32_t change_counter;    /*  68 futex word: bumped after any service's generation */
        _Atomic uint32_t writer_pid;        /*  72 */
        uint32_t heartbeat_interval_ms;     /*  76 */
        _Atomic int64_t heartbeat_usec;     /*  80 CLOCK_REALTIME of the last heartbeat (for display) */
        int64_t started_usec;               /*  88 CLOCK_REALTIME when the writer started */
        uint64_t heap_used;                 /*  96 writer's bump pointer, relative to heap_offset */
        /* Version 1.2: liveness by a clock no one sets; zero in older files. */
        _Atomic int64_t heartbeat_boot_usec;/* 104 CLOCK_BOOTTIME of the last heartbeat */
        uint8_t reserved0[16];              /* 112 */

        /* Lines 3-8: daemon-wide counters. */
        _Atomic uint64_t counters[DD_DCTR_SLOTS]; /* 128 DD_DCTR_* */
} dd_header;                                /* 512 */

typedef struct dd_service {
        _Atomic uint32_t seq;               /*   0 seqlock: odd while being written */
        _Atomic uint32_t generation;        /*   4 futex word: bumped when set, state or health change */
        uint64_t incarnation;               /*   8 0: free slot; else unique per use of the slot */
        uint64_t extent_offset;             /*  16 absolute file offset of the extent */
        uint32_t extent_size;               /*  24 bytes of the extent in use */
        uint16_t n_backends;                /*  28 */
        uint16_t sched_len;                 /*  30 */
        uint16_t n_eligible;                /*  32 */
        uint8_t state;                      /*  34 DD_STATE_* */
        uint8_t flags;                      /*  35 DD_SVC_* */
        uint16_t last_error;                /*  36 DD_ERR_* of the last failed resolution */
        uint16_t n_healthy;                 /*  38 backends with DD_HEALTH_UP */
        int64_t last_good_usec;             /*  40 CLOCK_REALTIME of the last good answer, 0: never */
        int64_t next_refresh_usec;          /*  48 CLOCK_REALTIME of the next planned query */
        int64_t changed_usec;               /*  56 CLOCK_REALTIME of the last generation bump */
        char name[DD_NAME_MAX];             /*  64 NUL-terminated */
        char query[DD_QUERY_MAX];           /* 192 NUL-terminated DNS name queried */
        uint64_t counters[DD_SCTR_SLOTS];   /* 448 DD_SCTR_* */
        /* Version 1.1: the consistent-hash table; zero in 1.0 files (no table). */
        uint8_t hash_kind;                  /* 704 DD_HASH_* */
        uint8_t reserved1[3];               /* 705 */
        uint32_t hash_table_size;           /* 708 entries; 0: no table */
        uint32_t hash_table_off;            /* 712 offset of the table from the extent start, 8-aligned */
        uint32_t reserved2;                 /* 716 */
        uint64_t hash_digest;               /* 720 writer's digest of the table's input (readers ignore it) */
        uint8_t reserved[40];               /* 728 */
} dd_service;                               /* 768 */

typedef struct dd_backend {
        uint8_t sockaddr[28];               /*   0 struct sockaddr_in/_in6 as this host's ABI lays it out, port set */
        uint8_t addrlen;                    /*  28 sizeof the sockaddr in use */
        uint8_t family;                     /*  29 4 or 6 */
        uint8_t health;                     /*  30 DD_HEALTH_* */
        uint8_t source;                     /*  31 DD_SOURCE_* */
        uint16_t port;                      /*  32 host order */
        uint16_t priority;                  /*  34 SRV priority (0 for hosts) */
        uint16_t weight;                    /*  36 SRV weight */
        uint16_t target_len;                /*  38 strlen of the target name */
        uint32_t target_off;                /*  40 offset of the name from the extent start */
        uint32_t flags;                     /*  44 DD_BACKEND_* */
        int64_t ttl_expiry_usec;            /*  48 CLOCK_REALTIME when DNS data for it expires */
        uint64_t key;                       /*  56 hash of family, address, port: endpoint identity */
        uint32_t checks;                    /*  64 health probes run */
        uint32_t check_failures;            /*  68 */
        uint32_t last_latency_usec;         /*  72 of the last probe */
        uint16_t consecutive_ok;            /*  76 */
        uint16_t consecutive_fail;          /*  78 */
        int64_t last_check_usec;            /*  80 CLOCK_REALTIME */
        uint16_t check_error;               /*  88 DD_ERR_* of the last failed probe */
        uint8_t reserved[6];                /*  90 */
} dd_backend;                               /*  96 */

_Static_assert(sizeof(dd_header) == 512, "dd_header is 512 bytes");
_Static_assert(offsetof(dd_header, flags) == 64, "dd_header.flags at 64");
_Static_assert(offsetof(dd_header, heartbeat_usec) == 80, "dd_header.heartbeat_usec at 80");
_Static_assert(offsetof(dd_header, heartbeat_boot_usec) == 104, "dd_header.heartbeat_boot_usec at 104");
_Static_assert(offsetof(dd_header, reserved0) == 112, "dd_header.reserved0 at 112");
_Static_assert(offsetof(dd_header, counters) == 128, "dd_header.counters at 128");
_Static_assert(sizeof(dd_service) == 768, "dd_service is 768 bytes");
_Static_assert(offsetof(dd_service, name) == 64, "dd_service.name at 64");
_Static_assert(offsetof(dd_service, counters) == 448, "dd_service.counters at 448");
_Static_assert(offsetof(dd_service, hash_kind) == 704, "dd_service.hash_kind at 704");
_Static_assert(offsetof(dd_service, hash_table_size) == 708, "dd_service.hash_table_size at 708");
_Static_assert(offsetof(dd_service, hash_table_off) == 712, "dd_service.hash_table_off at 712");
_Static_assert(offsetof(dd_service, hash_digest) == 720, "dd_service.hash_digest at 720");
_Static_assert(offsetof(dd_service, reserved) == 728, "dd_service.reserved at 728");
_Static_assert(sizeof(dd_backend) == 96, "dd_backend is 96 bytes");
_Static_assert(offsetof(dd_backend, ttl_expiry_usec) == 48, "dd_backend.ttl_expiry_usec at 48");
_Static_assert(offsetof(dd_backend, check_error) == 88, "dd_backend.check_error at 88");
_Static_assert(sizeof(_Atomic uint32_t) == 4 && sizeof(_Atomic int64_t) == 8, "lock-free atomics have plain sizes");

/* Size of an extent for the given counts (strings_size includes NULs). */
static inline uint64_t dd_extent_size(uint64_t n_backends, uint64_t sched_len, uint64_t n_eligible, uint64_t strings_size) {
        return n_backends * sizeof(dd_backend) + (sched_len + n_eligible) * sizeof(uint16_t) + strings_size;
}

/* Endpoint identity shared by writer and readers (FNV-1a over family, address bytes, port). */
static inline uint64_t dd_endpoint_key(uint8_t family, const uint8_t addr[16], uint16_t port) {
        uint64_t h = 0xcbf29ce484222325ULL;
        unsigned n = family == 6 ? 16 : 4;
        h = (h ^ family) * 0x100000001b3ULL;
        for (unsigned i = 0; i < n; i++)
                h = (h ^ addr[i]) * 0x100000001b3ULL;
        h = (h ^ (port >> 8)) * 0x100000001b3ULL;
        h = (h ^ (port & 0xff)) * 0x100000001b3ULL;
        return h | 1; /* never 0: 0 marks an empty quarantine entry */
}

/*
 * The Maglev table entry of a 64-bit key (1.1): Fibonacci hashing, then
 * multiply-high reduction to [0, size): a bijective mix, so that small
 * integer keys spread too, and no division on the pick path.
 */
static inline uint32_t dd_hash_entry(uint64_t key, uint32_t size) {
        return (uint32_t) (((unsigned __int128) (key * UINT64_C(0x9e3779b97f4a7c15)) * size) >> 64);
}

/* Short code names, shared by writer logs and readers' text output. */
const char *dd_state_name(unsigned state);
const char *dd_health_name(unsigned health);
const char *dd_source_name(unsigned source);
const char *dd_error_name(unsigned err);
