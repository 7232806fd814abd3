/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* config-internal.h: what the configuration's files share (the parser state, keys, origins); only daemon/config*.c include it. */
#pragma once

#include <stdio.h>

#include "config.h"
#include "util.h"

#define WHITESPACE " \t\r\n\v\f"
#define SERVICE_NAME_MAX 127

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
        KEY_HASH,
        KEY_HASH_TABLE_SIZE,
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
        /* [register] only (with srv, port and the check keys above). */
        KEY_TARGET,
        KEY_ADDRESS,
        KEY_PRIORITY,
        KEY_WEIGHT,
        KEY_TTL,
        KEY_REFRESH,
        KEY_SERVER,
        KEY_ZONE,
        KEY_KEY,
        KEY_KEY_FILE,
        KEY_DEREGISTER_ON_STOP,
        _KEY_MAX,
        _KEY_INVALID = -EINVAL,
} Key;


/* Indexed by Key. */
extern const char *const key_names[_KEY_MAX];

/* Where a key was set. file_no orders files (1: the main file); line 0: not set. */
typedef struct Origin {
        const char *file;
        unsigned file_no;
        unsigned line;
} Origin;

typedef enum Section { SECTION_NONE, SECTION_DAEMON, SECTION_SERVICE, SECTION_REGISTER } Section;

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
        size_t service;                 /* with SECTION_SERVICE; with SECTION_REGISTER, into registers */
        Origin (*register_set)[_KEY_MAX]; /* per [register], parallel to config->registers */
        char *long_value;               /* the value of a line too long for inih */

        /* Service names, hashed: a linear duplicate check would make loading
         * many services quadratic. Open addressing, at most half
         * full; entries are index + 1 into config->services, 0 is empty. */
        size_t *names;
        size_t names_size;              /* 0 or a power of two */

        /* The first error stops parsing. */
        char *error;                    /* "FILE:LINE: message" */
        unsigned error_line;
        int error_r;
} Parser;


/* config-parser.c: errors and where they come from. The first error stops parsing; later calls only return r. */
int parser_error_at(Parser *p, const char *file, unsigned line, int r, const char *fmt, ...) _printf_(5, 6);
#define parser_error(p, r, ...) parser_error_at((p), (p)->file, (p)->line, (r), __VA_ARGS__)
#define parser_oom(p) parser_error((p), -ENOMEM, "out of memory")
bool origin_after(const Origin *a, const Origin *b);
int parser_conflict(Parser *p, const Origin *own, const Origin *inherited, Key a, Key b, const char *fmt, ...)
        _printf_(6, 7);
void parser_done(Parser *p);

/* config-values.c: each parses one value, or reports at the current line and returns a negative errno. */
static inline bool is_control(char c) {
        return (unsigned char) c < ' ' || c == 0x7f;
}
void format_duration(char *buf, size_t size, uint64_t usec);
int parse_unsigned(Parser *p, Key k, const char *v, unsigned min, unsigned max, unsigned *ret);
int parse_port(Parser *p, Key k, const char *v, uint16_t *ret);
int parse_duration_key(Parser *p, Key k, const char *v, uint64_t min, uint64_t max, uint64_t *ret);
int parse_bool(Parser *p, Key k, const char *v, bool *ret);
int parse_hash(Parser *p, const char *v, HashPolicy *ret);
int parse_hash_table_size(Parser *p, const char *v, unsigned *ret);
int parse_family(Parser *p, const char *v, Family *ret);
int parse_check(Parser *p, const char *v, CheckType *ret_type, char **ret_path);
int parse_dns_name(Parser *p, Key k, const char *v, char **ret);
int parse_servers(Parser *p, const char *v, ConfigServer **ret, size_t *ret_n);
/* notify-allow: ADDRESS or ADDRESS/LENGTH, separated by blanks. */
int parse_prefixes(Parser *p, const char *v, NotifyPrefix **ret, size_t *ret_n);
/* notify-key: NAME:ALGORITHM:SECRET; errors name what is wrong, never quote the value. */
int parse_notify_key(Parser *p, const char *v, NotifyKey *ret);
/* notify-key-file: an absolute path to a file other users cannot read or write. */
int parse_notify_key_file(Parser *p, const char *path, NotifyKey *ret);
/* k's value: an absolute path to a TSIG key file other users cannot read or write. */
int parse_key_file(Parser *p, Key k, const char *path, NotifyKey *ret);

/* config-register.c: [register NAME] sections. */
int parser_add_register(Parser *p, const char *name);
int register_assign(Parser *p, Key k, const char *v);
int register_finish(Parser *p);

/* config.c: the model. */
int config_new(Config **ret);
int parser_assign(Parser *p, Key k, const char *v);
int parser_finish(Parser *p);
