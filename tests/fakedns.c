/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fakedns.c: a fault-injecting authoritative DNS server on loopback, for the integration tests. */

/*
 * fakedns -a 127.0.0.1 -p PORT -z ZONEFILE [-c CONTROLFILE] [-l QUERYLOG]
 *
 * ZONEFILE: one RR per line in presentation format with absolute names
 * ("name TTL IN TYPE RDATA"); SOA records give the negative answers.
 * CONTROLFILE: lines "mode MODE [NAME]" or "mode slow MS [NAME]"; global lines
 * apply first, then those for the queried name, each in file order; "normal"
 * clears what came before it. "extra" adds what a poisoner would: a record
 * of the queried type for another name to the answer, and an A record for a
 * name that is no SRV target to the additional section (both poison.invalid,
 * 127.66.6.6, port 6666). Both files are re-read when their mtime, size
 * or inode changes, checked on each query: replace them with rename(2) so
 * that two quick rewrites cannot share one timestamp.
 * Hostile answers (issue 21), each "mode MODE ARGS NAME":
 *   srv-gen NSRV NTARGETS NADDR NGLUE: answers too big for a zone file, made
 *     up per query. NAME SRV: NSRV records, record i (from 0) "prio i*7%16,
 *     weight 1+i*31%1000, port 1+i%65535, target t<i%NTARGETS>.NAME", TTL 30,
 *     names compressed (2,500 targets fit one message); up to NGLUE A records
 *     per target in the additional section (as many as fit 60,000 octets). t<K>.NAME A: NADDR records, address j (from 0)
 *     127.<K>>4>.<(K&15)<<4|j>>8>.<j&255>, TTL 30 (K, j < 4096); AAAA: NODATA;
 *     other names under NAME: NXDOMAIN; both with NAME's SOA, minimum 30.
 *   glue-addr IP: NAME's SRV answers carry, in place of the zone's glue, one
 *     A (or AAAA) record IP, TTL 300, for each target.
 *   tc-tcp: NAME's UDP answers are empty with TC set, its TCP answers lose
 *     the second half of their records and have TC set too.
 * "tcp-reset" answers over TCP with the length prefix and half the message, then resets
 * the connection (RST); over UDP it changes nothing (add tc-always to move queries to TCP).
 * "formerr-noopt" answers a query with EDNS as a server that knows none: FORMERR without an
 * OPT record; a query without EDNS gets its normal answer.
 * QUERYLOG: "<monotonic-ms> <udp|tcp> <qname> <qtype>" per query received.
 * DNS UPDATE (RFC 2136) is answered, never applied: NOERROR with the zone echoed
 * (or the servfail/refused/silent/malformed/truncated-garbage/wrongid modes, and
 * tc-always sets TC over UDP), signed with -k NAME:ALGORITHM:SECRET when the
 * update was signed. For the registration agent's hostile-answer tests:
 * "unsigned" leaves the answer unsigned, "badsig" signs it with another secret,
 * "otheraddr" sends the UDP answer from 127.0.0.2.
 * Prints "ready" on stdout once listening; exits on SIGTERM or SIGINT.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <ldns/ldns.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define MSG_MAX 65535
#define UDP_PLAIN_MAX 512               /* RFC 1035 limit without EDNS */
#define EDNS_OUR_SIZE 4096              /* what we advertise back */
#define LINE_MAX_LEN 2048
#define ZONE_RRS_MAX 100000
#define RULES_MAX 64
#define CNAME_HOPS_MAX 16
#define TCP_CONNS_MAX 16
#define TCP_WBUF_MAX (1024 * 1024)      /* a client that stops reading loses its connection */
#define TCP_IDLE_MSEC 30000
#define PENDING_MAX 1024
#define UDP_BURST_MAX 64                /* datagrams per wakeup, so TCP is not starved */
#define SLOW_MSEC_MAX 600000
#define HUGE_TTL (UINT32_C(0x80000000) + 5)
#define GEN_MAX 4096                    /* srv-gen: records, targets, addresses per target */
#define GEN_TTL 30
#define GEN_MSG_BUDGET 60000            /* srv-gen: glue stops where a TCP message would be full */

DEFINE_TRIVIAL_CLEANUP_FUNC(ldns_pkt *, ldns_pkt_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(ldns_rdf *, ldns_rdf_deep_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(ldns_rr_list *, ldns_rr_list_deep_free);

typedef enum Mode {
        MODE_NORMAL,
        MODE_SERVFAIL,
        MODE_REFUSED,
        MODE_NXDOMAIN,
        MODE_SILENT,
        MODE_MALFORMED,
        MODE_TRUNCATED_GARBAGE,
        MODE_WRONGID,
        MODE_WRONGNAME,
        MODE_TC_ALWAYS,
        MODE_TRUNCATE_NOTC,
        MODE_TTL0,
        MODE_TTLHUGE,
        MODE_NOGLUE,
        MODE_SLOW,
        MODE_EXTRA,
        MODE_TCP_RESET,
        MODE_UNSIGNED,
        MODE_BADSIG,
        MODE_OTHERADDR,
        MODE_FORMERR_NOOPT,
        /* hostile answers (issue 21) */
        MODE_SRV_GEN,
        MODE_GLUE_ADDR,
        MODE_TC_TCP,
        _MODE_MAX,
} Mode;

static const char *const mode_names[_MODE_MAX] = {
        [MODE_NORMAL] = "normal",
        [MODE_SERVFAIL] = "servfail",
        [MODE_REFUSED] = "refused",
        [MODE_NXDOMAIN] = "nxdomain",
        [MODE_SILENT] = "silent",
        [MODE_MALFORMED] = "malformed",
        [MODE_TRUNCATED_GARBAGE] = "truncated-garbage",
        [MODE_WRONGID] = "wrongid",
        [MODE_WRONGNAME] = "wrongname",
        [MODE_TC_ALWAYS] = "tc-always",
        [MODE_TRUNCATE_NOTC] = "truncate-notc",
        [MODE_TTL0] = "ttl0",
        [MODE_TTLHUGE] = "ttlhuge",
        [MODE_NOGLUE] = "noglue",
        [MODE_SLOW] = "slow",
        [MODE_EXTRA] = "extra",
        [MODE_TCP_RESET] = "tcp-reset",
        [MODE_UNSIGNED] = "unsigned",
        [MODE_BADSIG] = "badsig",
        [MODE_OTHERADDR] = "otheraddr",
        [MODE_FORMERR_NOOPT] = "formerr-noopt",
        [MODE_SRV_GEN] = "srv-gen",
        [MODE_GLUE_ADDR] = "glue-addr",
        [MODE_TC_TCP] = "tc-tcp",
};

typedef struct Rule {
        Mode mode;
        unsigned slow_ms;
        unsigned gen[4];        /* srv-gen: NSRV NTARGETS NADDR NGLUE */
        ldns_rdf *glue;         /* glue-addr: the address (an A or AAAA rdf) */
        ldns_rdf *name;         /* NULL: every name */
} Rule;

/* What the rules make of one query. The reply modes (servfail .. wrongname)
 * exclude each other, the last one wins; the others add up. */
typedef struct Behaviour {
        Mode reply;
        bool tc_always, truncate_notc, noglue, extra;
        bool tcp_reset;
        bool unsigned_answer, badsig, otheraddr; /* UPDATE answers only */
        bool formerr_noopt;
        bool ttl_override;
        uint32_t ttl;
        unsigned slow_ms;
        const Rule *glue_addr;  /* hostile answers (issue 21) */
        bool tc_tcp;
} Behaviour;

typedef struct FileWatch {
        const char *path;
        bool seen;
        struct timespec mtime;
        off_t size;
        ino_t ino;
} FileWatch;

typedef struct Conn {
        int fd;                 /* -1: free slot */
        uint32_t gen;           /* tells delayed replies whether the slot was reused */
        uint64_t last_ms;
        size_t rlen;
        uint8_t rbuf[2 + MSG_MAX];
        uint8_t *wbuf;
        size_t wlen, woff;
} Conn;

typedef struct Pending {
        uint64_t due_ms;
        bool tcp;
        struct sockaddr_in peer;
        unsigned conn;
        uint32_t gen;
        uint8_t *msg;
        size_t len;
        bool reset;             /* tcp-reset: half the message, then RST */
        bool other;             /* otheraddr: from 127.0.0.2 */
} Pending;

typedef struct Server {
        int udp_fd, tcp_fd;
        Conn conns[TCP_CONNS_MAX];
        uint32_t next_gen;
        Pending pending[PENDING_MAX];
        size_t n_pending;
        ldns_rr_list *zone;
        FileWatch zone_watch, control_watch;
        Rule rules[RULES_MAX];
        size_t n_rules;
        FILE *querylog;
        uint32_t garbage_seed;
        bool reset_reply;       /* tcp-reset applies to the reply handle_query() just made */
        bool other_reply;       /* otheraddr applies to it */
        int other_fd;           /* UDP on 127.0.0.2, for otheraddr */
        char *key_name, *key_alg, *key_secret; /* -k: signs UPDATE answers */
} Server;

static volatile sig_atomic_t quit;

static void on_signal(int sig) {
        quit = 1;
}

static uint64_t now_ms(void) {
        return now_usec(CLOCK_MONOTONIC) / USEC_PER_MSEC;
}

/* True when the file differs from what was last loaded; a missing file counts
 * as changed once (then as absent until it reappears). */
static bool file_changed(FileWatch *w, bool *ret_exists) {
        struct stat st;

        if (stat(w->path, &st) < 0) {
                bool was = w->seen;

                w->seen = false;
                *ret_exists = false;
                return was;
        }
        *ret_exists = true;
        if (w->seen && st.st_mtim.tv_sec == w->mtime.tv_sec && st.st_mtim.tv_nsec == w->mtime.tv_nsec &&
            st.st_size == w->size && st.st_ino == w->ino)
                return false;
        w->seen = true;
        w->mtime = st.st_mtim;
        w->size = st.st_size;
        w->ino = st.st_ino;
        return true;
}

/* Reads one line into buf without its newline. 0 at EOF, -E2BIG for an
 * overlong line (skipped to its end), 1 otherwise. */
static int read_line(FILE *f, char *buf, size_t size) {
        size_t n;

        if (!fgets(buf, (int) size, f))
                return 0;
        n = strlen(buf);
        if (n > 0 && buf[n - 1] == '\n') {
                buf[n - 1] = '\0';
                return 1;
        }
        if (feof(f))
                return 1;
        for (int c = fgetc(f); c != EOF && c != '\n'; c = fgetc(f))
                ;
        return -E2BIG;
}

static bool line_is_blank(const char *s) {
        s += strspn(s, " \t\r");
        return *s == '\0' || *s == '#' || *s == ';';
}

static int load_zone(const char *path, ldns_rr_list **ret) {
        _cleanup_(ldns_rr_list_deep_freep) ldns_rr_list *l = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        char line[LINE_MAX_LEN];
        unsigned lineno = 0;
        int r;

        f = fopen(path, "re");
        if (!f)
                return -errno;
        l = ldns_rr_list_new();
        if (!l)
                return -ENOMEM;

        while ((r = read_line(f, line, sizeof line)) != 0) {
                ldns_rr *rr = NULL;
                ldns_status st;

                lineno++;
                if (r < 0) {
                        fprintf(stderr, "fakedns: %s:%u: line too long, ignored\n", path, lineno);
                        continue;
                }
                if (line_is_blank(line))
                        continue;
                if (ldns_rr_list_rr_count(l) >= ZONE_RRS_MAX) {
                        fprintf(stderr, "fakedns: %s: over %d records, rest ignored\n", path, ZONE_RRS_MAX);
                        break;
                }
                st = ldns_rr_new_frm_str(&rr, line, 3600, NULL, NULL);
                if (st != LDNS_STATUS_OK) {
                        fprintf(stderr, "fakedns: %s:%u: %s, ignored\n", path, lineno, ldns_get_errorstr_by_id(st));
                        continue;
                }
                if (!ldns_rr_list_push_rr(l, rr)) {
                        ldns_rr_free(rr);
                        return -ENOMEM;
                }
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static void rules_clear(Server *s) {
        for (size_t i = 0; i < s->n_rules; i++) {
                ldns_rdf_deep_free(s->rules[i].name);
                ldns_rdf_deep_free(s->rules[i].glue);
        }
        s->n_rules = 0;
}

/* A dname from a name with or without its trailing dot. */
static ldns_rdf *dname_from_text(const char *name) {
        char buf[LINE_MAX_LEN + 2];
        size_t n = strlen(name);

        if (n == 0 || n >= LINE_MAX_LEN)
                return NULL;
        memcpy(buf, name, n + 1);
        if (buf[n - 1] != '.')
                strcpy(buf + n, ".");
        return ldns_dname_new_frm_str(buf);
}

static int parse_rule(char *line, Rule *ret) {
        char *save = NULL, *word, *arg;
        Rule rule = {};

        word = strtok_r(line, " \t\r", &save);
        if (!word || !streq(word, "mode"))
                return -EINVAL;
        word = strtok_r(NULL, " \t\r", &save);
        if (!word)
                return -EINVAL;
        for (rule.mode = 0; rule.mode < _MODE_MAX; rule.mode++)
                if (streq(word, mode_names[rule.mode]))
                        break;
        if (rule.mode == _MODE_MAX)
                return -EINVAL;
        if (rule.mode == MODE_SLOW) {
                char *end;
                unsigned long ms;

                word = strtok_r(NULL, " \t\r", &save);
                if (!word)
                        return -EINVAL;
                errno = 0;
                ms = strtoul(word, &end, 10);
                if (errno || *end || ms > SLOW_MSEC_MAX)
                        return -EINVAL;
                rule.slow_ms = (unsigned) ms;
        }
        if (rule.mode == MODE_SRV_GEN) {
                for (size_t k = 0; k < ELEMENTSOF(rule.gen); k++) {
                        char *end;
                        unsigned long v;

                        word = strtok_r(NULL, " \t\r", &save);
                        if (!word)
                                return -EINVAL;
                        errno = 0;
                        v = strtoul(word, &end, 10);
                        if (errno || *end || v > GEN_MAX || (k < 2 && v == 0))
                                return -EINVAL;
                        rule.gen[k] = (unsigned) v;
                }
        }
        if (rule.mode == MODE_GLUE_ADDR) {
                word = strtok_r(NULL, " \t\r", &save);
                if (!word ||
                    (ldns_str2rdf_a(&rule.glue, word) != LDNS_STATUS_OK &&
                     ldns_str2rdf_aaaa(&rule.glue, word) != LDNS_STATUS_OK))
                        return -EINVAL;
        }
        arg = strtok_r(NULL, " \t\r", &save);
        if (strtok_r(NULL, " \t\r", &save) || (!arg && (rule.mode == MODE_SRV_GEN || rule.mode == MODE_GLUE_ADDR || rule.mode == MODE_TC_TCP))) {
                ldns_rdf_deep_free(rule.glue);
                return -EINVAL;
        }
        if (arg) {
                rule.name = dname_from_text(arg);
                if (!rule.name) {
                        ldns_rdf_deep_free(rule.glue);
                        return -EINVAL;
                }
        }
        *ret = rule;
        return 0;
}

/* A missing control file means no rules. Bad lines are reported and skipped. */
static void load_control(Server *s) {
        _cleanup_fclose_ FILE *f = NULL;
        char line[LINE_MAX_LEN];
        unsigned lineno = 0;
        int r;

        rules_clear(s);
        f = fopen(s->control_watch.path, "re");
        if (!f)
                return;
        while ((r = read_line(f, line, sizeof line)) != 0) {
                lineno++;
                if (r > 0 && line_is_blank(line))
                        continue;
                if (s->n_rules >= RULES_MAX) {
                        fprintf(stderr, "fakedns: %s: over %d rules, rest ignored\n", s->control_watch.path, RULES_MAX);
                        break;
                }
                if (r < 0 || parse_rule(line, &s->rules[s->n_rules]) < 0) {
                        fprintf(stderr, "fakedns: %s:%u: bad line, ignored\n", s->control_watch.path, lineno);
                        continue;
                }
                s->n_rules++;
        }
}

static void reload_if_changed(Server *s) {
        bool exists;

        if (file_changed(&s->zone_watch, &exists) && exists) {
                ldns_rr_list *z = NULL;
                int r = load_zone(s->zone_watch.path, &z);

                /* On failure the old zone stays: better than answering from nothing. */
                if (r < 0)
                        fprintf(stderr, "fakedns: cannot load %s: %s\n", s->zone_watch.path, strerror(-r));
                else {
                        ldns_rr_list_deep_free(s->zone);
                        s->zone = z;
                }
        }
        if (s->control_watch.path && file_changed(&s->control_watch, &exists))
                load_control(s);
}

static bool dname_equal(const ldns_rdf *a, const ldns_rdf *b) {
        return ldns_dname_compare(a, b) == 0;
}

static void behaviour_apply(Behaviour *b, const Rule *rule) {
        switch (rule->mode) {
        case MODE_NORMAL:
                *b = (Behaviour) {};
                break;
        case MODE_TC_ALWAYS:
                b->tc_always = true;
                break;
        case MODE_TRUNCATE_NOTC:
                b->truncate_notc = true;
                break;
        case MODE_NOGLUE:
                b->noglue = true;
                break;
        case MODE_EXTRA:
                b->extra = true;
                break;
        case MODE_TCP_RESET:
                b->tcp_reset = true;
                break;
        case MODE_UNSIGNED:
                b->unsigned_answer = true;
                break;
        case MODE_BADSIG:
                b->badsig = true;
                break;
        case MODE_OTHERADDR:
                b->otheraddr = true;
                break;
        case MODE_FORMERR_NOOPT:
                b->formerr_noopt = true;
                break;
        case MODE_TTL0:
                b->ttl_override = true;
                b->ttl = 0;
                break;
        case MODE_TTLHUGE:
                b->ttl_override = true;
                b->ttl = HUGE_TTL;
                break;
        case MODE_SLOW:
                b->slow_ms = rule->slow_ms;
                break;
        case MODE_SRV_GEN:
                break;          /* matched by name and by the names below it: gen_rule_for() */
        case MODE_GLUE_ADDR:
                b->glue_addr = rule;
                break;
        case MODE_TC_TCP:
                b->tc_tcp = true;
                break;
        default:
                b->reply = rule->mode;
                break;
        }
}

static Behaviour behaviour_for(const Server *s, const ldns_rdf *qname) {
        Behaviour b = {};

        for (size_t i = 0; i < s->n_rules; i++)
                if (!s->rules[i].name)
                        behaviour_apply(&b, &s->rules[i]);
        for (size_t i = 0; i < s->n_rules; i++)
                if (s->rules[i].name && dname_equal(s->rules[i].name, qname))
                        behaviour_apply(&b, &s->rules[i]);
        return b;
}

static void log_query(Server *s, bool tcp, const ldns_rr *q) {
        _cleanup_free_ char *name = NULL, *type = NULL;
        size_t n;

        if (!s->querylog)
                return;
        name = ldns_rdf2str(ldns_rr_owner(q));
        type = ldns_rr_type2str(ldns_rr_get_type(q));
        if (!name || !type)
                return;
        n = strlen(name);
        if (n > 1 && name[n - 1] == '.')
                name[n - 1] = '\0';
        for (char *c = name; *c; c++)
                if (*c >= 'A' && *c <= 'Z')
                        *c += 'a' - 'A';
        fprintf(s->querylog, "%" PRIu64 " %s %s %s\n", now_ms(), tcp ? "tcp" : "udp", name, type);
        fflush(s->querylog);
}

static bool rr_matches(const ldns_rr *rr, const ldns_rdf *owner, ldns_rr_type type) {
        return ldns_rr_get_type(rr) == type && dname_equal(ldns_rr_owner(rr), owner);
}

/* Copies the zone's records of (owner, type) into a section; returns how many. Only glue can
 * repeat (SRV records sharing a target): the answer is filled once per name of the CNAME chain,
 * and checking each of its records against the others is quadratic (5 s for 3,000 SRV records). */
static int push_matching(ldns_pkt *p, ldns_pkt_section sec, const ldns_rr_list *zone,
                         const ldns_rdf *owner, ldns_rr_type type, size_t *ret_n) {
        size_t n = 0;

        for (size_t i = 0; i < ldns_rr_list_rr_count(zone); i++) {
                const ldns_rr *rr = ldns_rr_list_rr(zone, i);
                ldns_rr *c;

                if (!rr_matches(rr, owner, type) || (sec != LDNS_SECTION_ANSWER && ldns_pkt_rr(p, sec, rr)))
                        continue;
                c = ldns_rr_clone(rr);
                if (!c)
                        return -ENOMEM;
                if (!ldns_pkt_push_rr(p, sec, c)) {
                        ldns_rr_free(c);
                        return -ENOMEM;
                }
                n++;
        }
        if (ret_n)
                *ret_n = n;
        return 0;
}

/* A name exists when it owns records or has names below it (RFC 8020). */
static bool name_exists(const ldns_rr_list *zone, const ldns_rdf *name) {
        for (size_t i = 0; i < ldns_rr_list_rr_count(zone); i++) {
                const ldns_rdf *o = ldns_rr_owner(ldns_rr_list_rr(zone, i));

                if (dname_equal(o, name) || ldns_dname_is_subdomain(o, name))
                        return true;
        }
        return false;
}

static const ldns_rr *closest_soa(const ldns_rr_list *zone, const ldns_rdf *name) {
        const ldns_rr *best = NULL;

        for (size_t i = 0; i < ldns_rr_list_rr_count(zone); i++) {
                const ldns_rr *rr = ldns_rr_list_rr(zone, i);
                const ldns_rdf *o = ldns_rr_owner(rr);

                if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA)
                        continue;
                if (!dname_equal(name, o) && !ldns_dname_is_subdomain(name, o))
                        continue;
                if (!best || ldns_dname_label_count(o) > ldns_dname_label_count(ldns_rr_owner(best)))
                        best = rr;
        }
        return best;
}

static int push_soa(ldns_pkt *p, const ldns_rr_list *zone, const ldns_rdf *name) {
        const ldns_rr *soa = closest_soa(zone, name);
        ldns_rr *c;

        if (!soa)
                return 0;
        c = ldns_rr_clone(soa);
        if (!c || !ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, c)) {
                ldns_rr_free(c);
                return -ENOMEM;
        }
        return 0;
}

/* What an authoritative server holding the whole zone file would say. */
static int answer_from_zone(ldns_pkt *p, const ldns_rr_list *zone, const ldns_rdf *qname,
                            ldns_rr_type qtype, bool noglue) {
        const ldns_rdf *name = qname;
        size_t n = 0;
        int r;

        for (unsigned hop = 0; hop <= CNAME_HOPS_MAX; hop++) {
                const ldns_rr *cname = NULL;

                r = push_matching(p, LDNS_SECTION_ANSWER, zone, name, qtype, &n);
                if (r < 0)
                        return r;
                if (n > 0 || qtype == LDNS_RR_TYPE_CNAME)
                        break;
                for (size_t i = 0; i < ldns_rr_list_rr_count(zone) && !cname; i++)
                        if (rr_matches(ldns_rr_list_rr(zone, i), name, LDNS_RR_TYPE_CNAME))
                                cname = ldns_rr_list_rr(zone, i);
                /* Stop at the end of the chain, or where it loops back into the answer. */
                if (!cname || ldns_rr_rd_count(cname) != 1 || ldns_pkt_rr(p, LDNS_SECTION_ANSWER, cname))
                        break;
                r = push_matching(p, LDNS_SECTION_ANSWER, zone, name, LDNS_RR_TYPE_CNAME, NULL);
                if (r < 0)
                        return r;
                name = ldns_rr_rdf(cname, 0);
        }

        if (n == 0) {
                if (!name_exists(zone, name))
                        ldns_pkt_set_rcode(p, LDNS_RCODE_NXDOMAIN);
                return push_soa(p, zone, name);
        }

        if (qtype == LDNS_RR_TYPE_SRV && !noglue) {
                const ldns_rr_list *an = ldns_pkt_answer(p);

                for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
                        const ldns_rr *srv = ldns_rr_list_rr(an, i);

                        if (ldns_rr_get_type(srv) != LDNS_RR_TYPE_SRV || ldns_rr_rd_count(srv) != 4)
                                continue;
                        r = push_matching(p, LDNS_SECTION_ADDITIONAL, zone, ldns_rr_rdf(srv, 3), LDNS_RR_TYPE_A, NULL);
                        if (r < 0)
                                return r;
                        r = push_matching(p, LDNS_SECTION_ADDITIONAL, zone, ldns_rr_rdf(srv, 3), LDNS_RR_TYPE_AAAA, NULL);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* What "extra" adds: records no resolver may take for the question asked. */
static int push_extra(ldns_pkt *p, ldns_rr_type qtype) {
        static const struct {
                ldns_pkt_section sec;
                ldns_rr_type qtype;     /* 0: whatever the question */
                const char *rr;
        } extra[] = {
                { LDNS_SECTION_ANSWER, LDNS_RR_TYPE_SRV, "_poison._tcp.poison.invalid. 300 IN SRV 0 100 6666 poison.invalid." },
                { LDNS_SECTION_ANSWER, LDNS_RR_TYPE_A, "poison.invalid. 300 IN A 127.66.6.6" },
                { LDNS_SECTION_ANSWER, LDNS_RR_TYPE_AAAA, "poison.invalid. 300 IN AAAA ::ffff:127.66.6.6" },
                { LDNS_SECTION_ADDITIONAL, 0, "poison.invalid. 300 IN A 127.66.6.6" },
        };

        for (size_t i = 0; i < ELEMENTSOF(extra); i++) {
                ldns_rr *rr = NULL;

                if (extra[i].qtype != 0 && extra[i].qtype != qtype)
                        continue;
                if (ldns_rr_new_frm_str(&rr, extra[i].rr, 300, NULL, NULL) != LDNS_STATUS_OK)
                        return -EINVAL;
                if (!ldns_pkt_push_rr(p, extra[i].sec, rr)) {
                        ldns_rr_free(rr);
                        return -ENOMEM;
                }
        }
        return 0;
}

static void set_ttls(ldns_pkt *p, uint32_t ttl) {
        const ldns_rr_list *secs[] = { ldns_pkt_answer(p), ldns_pkt_authority(p), ldns_pkt_additional(p) };

        for (size_t k = 0; k < ELEMENTSOF(secs); k++)
                for (size_t i = 0; i < ldns_rr_list_rr_count(secs[k]); i++)
                        ldns_rr_set_ttl(ldns_rr_list_rr(secs[k], i), ttl);
}

/* Drops the last record of the last non-empty section; false when none is left. */
static bool pop_last_record(ldns_pkt *p) {
        if (ldns_rr_list_rr_count(ldns_pkt_additional(p)) > 0) {
                ldns_rr_free(ldns_rr_list_pop_rr(ldns_pkt_additional(p)));
                ldns_pkt_set_arcount(p, ldns_pkt_arcount(p) - 1);
        } else if (ldns_rr_list_rr_count(ldns_pkt_authority(p)) > 0) {
                ldns_rr_free(ldns_rr_list_pop_rr(ldns_pkt_authority(p)));
                ldns_pkt_set_nscount(p, ldns_pkt_nscount(p) - 1);
        } else if (ldns_rr_list_rr_count(ldns_pkt_answer(p)) > 0) {
                ldns_rr_free(ldns_rr_list_pop_rr(ldns_pkt_answer(p)));
                ldns_pkt_set_ancount(p, ldns_pkt_ancount(p) - 1);
        } else
                return false;
        return true;
}

static int to_wire(const ldns_pkt *p, uint8_t **ret, size_t *ret_len) {
        uint8_t *w = NULL;
        size_t len = 0;

        if (ldns_pkt2wire(&w, p, &len) != LDNS_STATUS_OK)
                return -ENOMEM;
        *ret = w;
        *ret_len = len;
        return 0;
}

/* Encodes p to fit limit: either by dropping records silently (Consul does
 * this), or the standard way: header and question only, with TC set. */
static int encode_within(ldns_pkt *p, size_t limit, bool silently, uint8_t **ret, size_t *ret_len) {
        /* Each turn drops at least one record or ends. */
        for (;;) {
                uint8_t *w;
                size_t len;
                int r = to_wire(p, &w, &len);

                if (r < 0)
                        return r;
                if (len <= limit || (silently && !pop_last_record(p))) {
                        *ret = w;
                        *ret_len = len;
                        return 0;
                }
                free(w);
                if (!silently) {
                        while (pop_last_record(p))
                                ;
                        ldns_pkt_set_tc(p, true);
                        limit = SIZE_MAX;
                }
        }
}

/* Header with the right ID and QR, claiming more records than follow:
 * whatever the random bytes are, no parser can accept it. */
static int make_garbage(Server *s, uint16_t id, uint8_t **ret, size_t *ret_len) {
        size_t len = LDNS_HEADER_SIZE + 48;
        uint8_t *m = malloc(len);

        if (!m)
                return -ENOMEM;
        m[0] = id >> 8;
        m[1] = id & 0xff;
        m[2] = 0x84;                    /* QR AA */
        m[3] = 0x00;
        m[4] = 0x00, m[5] = 0x01;       /* one question */
        m[6] = 0xff, m[7] = 0xff;       /* 65535 answers */
        memset(m + 8, 0, 4);
        for (size_t i = LDNS_HEADER_SIZE; i < len; i++) {
                /* xorshift32: reproducible from the seed, good enough for junk. */
                s->garbage_seed ^= s->garbage_seed << 13;
                s->garbage_seed ^= s->garbage_seed >> 17;
                s->garbage_seed ^= s->garbage_seed << 5;
                m[i] = (uint8_t) s->garbage_seed;
        }
        *ret = m;
        *ret_len = len;
        return 0;
}

static int make_error_reply(const uint8_t *q, uint8_t rcode, uint8_t **ret, size_t *ret_len) {
        uint8_t *m = calloc(1, LDNS_HEADER_SIZE);

        if (!m)
                return -ENOMEM;
        m[0] = q[0];
        m[1] = q[1];
        m[2] = 0x80 | (q[2] & 0x79);    /* QR, the query's opcode and RD */
        m[3] = rcode;
        *ret = m;
        *ret_len = LDNS_HEADER_SIZE;
        return 0;
}

/* Replaces the question's owner; the packet keeps its other contents. */
static int set_question_name(ldns_pkt *p, const char *name) {
        ldns_rr *q = ldns_rr_list_rr(ldns_pkt_question(p), 0);
        ldns_rdf *d = ldns_dname_new_frm_str(name);

        if (!d)
                return -ENOMEM;
        ldns_rdf_deep_free(ldns_rr_owner(q));
        ldns_rr_set_owner(q, d);
        return 0;
}

/* ---------------------------------------------------------------- hostile answers (issue 21) */

/* The srv-gen rule for qname: its NAME, or a name below it (the last such rule wins). */
static const Rule *gen_rule_for(const Server *s, const ldns_rdf *qname) {
        for (size_t i = s->n_rules; i-- > 0;) {
                const Rule *r = &s->rules[i];

                if (r->mode == MODE_SRV_GEN && r->name &&
                    (dname_equal(r->name, qname) || ldns_dname_is_subdomain(qname, r->name)))
                        return r;
        }
        return NULL;
}

/* Pushes a record made of (owner, type, TTL, rdfs); takes the rdfs, copies owner. */
static int gen_push(ldns_pkt *p, ldns_pkt_section sec, const ldns_rdf *owner, ldns_rr_type type,
                    uint32_t ttl, ldns_rdf **rdfs, size_t n) {
        ldns_rr *rr = ldns_rr_new();
        ldns_rdf *o = ldns_rdf_clone(owner);
        bool ok = rr && o;

        if (rr) {
                ldns_rr_set_owner(rr, o);
                o = NULL;
                ldns_rr_set_type(rr, type);
                ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
                ldns_rr_set_ttl(rr, ttl);
        }
        for (size_t i = 0; i < n; i++) {
                if (ok && rdfs[i] && ldns_rr_push_rdf(rr, rdfs[i]))
                        continue;
                ok = false;
                ldns_rdf_deep_free(rdfs[i]);
        }
        ldns_rdf_deep_free(o);
        if (!ok || !ldns_pkt_push_rr(p, sec, rr)) {
                ldns_rr_free(rr);
                return -ENOMEM;
        }
        return 0;
}

static int gen_push_a(ldns_pkt *p, ldns_pkt_section sec, const ldns_rdf *owner, unsigned k, unsigned j) {
        uint8_t a[4] = { 127, (uint8_t) (k >> 4), (uint8_t) ((k & 15) << 4 | j >> 8), (uint8_t) j };
        ldns_rdf *rdf = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, sizeof a, a);

        return gen_push(p, sec, owner, LDNS_RR_TYPE_A, GEN_TTL, &rdf, 1);
}

static int gen_push_soa(ldns_pkt *p, const ldns_rdf *name) {
        _cleanup_free_ char *text = ldns_rdf2str(name);
        char line[LINE_MAX_LEN];
        ldns_rr *rr = NULL;

        if (!text)
                return -ENOMEM;
        snprintf(line, sizeof line, "%s %u IN SOA ns.%s h.%s 1 3600 600 86400 %u", text, GEN_TTL, text, text, GEN_TTL);
        if (ldns_rr_new_frm_str(&rr, line, GEN_TTL, NULL, NULL) != LDNS_STATUS_OK)
                return -EINVAL;
        if (!ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, rr)) {
                ldns_rr_free(rr);
                return -ENOMEM;
        }
        return 0;
}

/* K of t<K>.NAME, or -1 for any other name under NAME. */
static int gen_target_index(const Rule *g, const ldns_rdf *qname) {
        ldns_rdf *label;
        const uint8_t *d;
        unsigned k = 0;
        int r = -1;

        if (ldns_dname_label_count(qname) != ldns_dname_label_count(g->name) + 1)
                return -1;
        label = ldns_dname_label(qname, 0);
        if (!label)
                return -1;
        d = ldns_rdf_data(label);
        if (d[0] >= 2 && d[0] <= 5 && (d[1] == 't' || d[1] == 'T')) {
                size_t i;

                for (i = 2; i <= d[0] && d[i] >= '0' && d[i] <= '9'; i++)
                        k = k * 10 + (unsigned) (d[i] - '0');
                if (i > d[0] && k < g->gen[1])
                        r = (int) k;
        }
        ldns_rdf_deep_free(label);
        return r;
}

/*
 * srv-gen's SRV answer, written by hand: ldns never compresses the target of
 * an SRV record (RFC 2782 asks not to), and without compression 2,500
 * distinct targets do not fit a DNS message. Here each owner points at the
 * question, each target is "t<k>" and a pointer to it, each glue owner a
 * pointer to its target: 26 octets per SRV record, 16 per glue record.
 */
static int gen_srv_wire(const Rule *g, const ldns_pkt *query, const ldns_rdf *qname, bool tcp,
                        uint8_t **ret, size_t *ret_len) {
        unsigned nsrv = g->gen[0], ntargets = g->gen[1], nglue = MIN(g->gen[3], g->gen[2]);
        size_t qlen = ldns_rdf_size(qname), limit, n = 0;
        _cleanup_free_ uint8_t *w = malloc(MSG_MAX);
        _cleanup_free_ uint16_t *target_at = calloc(MAX(ntargets, 1u), sizeof *target_at);
        unsigned ancount = 0, arcount = 0;
        bool edns = ldns_pkt_edns(query);

        if (!w || !target_at)
                return -ENOMEM;
        if (LDNS_HEADER_SIZE + qlen + 4 + 11 > MSG_MAX)
                return -EINVAL;
#define PUT16(v) do { w[n++] = (uint8_t) ((v) >> 8); w[n++] = (uint8_t) (v); } while (0)
#define PUT32(v) do { PUT16((uint32_t) (v) >> 16); PUT16((v) & 0xffff); } while (0)
        PUT16(ldns_pkt_id(query));
        w[n++] = 0x84 | (ldns_pkt_rd(query) ? 1 : 0); /* QR AA, RD copied */
        w[n++] = 0;
        PUT16(1);
        n += 6;                                       /* counts: written at the end */
        memcpy(w + n, ldns_rdf_data(qname), qlen);
        n += qlen;
        PUT16(LDNS_RR_TYPE_SRV);
        PUT16(LDNS_RR_CLASS_IN);
        limit = tcp ? MSG_MAX : edns ? CLAMP((size_t) ldns_pkt_edns_udp_size(query), (size_t) UDP_PLAIN_MAX, (size_t) MSG_MAX)
                                     : UDP_PLAIN_MAX;
        limit -= edns ? 11 : 0;

        for (unsigned i = 0; i < nsrv; i++) {
                char label[8];
                int l = snprintf(label, sizeof label, "t%u", i % ntargets);

                if (n + 12 + 6 + 1 + (size_t) l + 2 > limit)
                        goto truncated;
                PUT16(0xc000 | LDNS_HEADER_SIZE);
                PUT16(LDNS_RR_TYPE_SRV);
                PUT16(LDNS_RR_CLASS_IN);
                PUT32(GEN_TTL);
                PUT16(6 + 1 + l + 2);
                PUT16(i * 7 % 16);
                PUT16(1 + i * 31 % 1000);
                PUT16(1 + i % 65535);
                if (!target_at[i % ntargets] && n < 0x4000)
                        target_at[i % ntargets] = (uint16_t) n;
                w[n++] = (uint8_t) l;
                memcpy(w + n, label, (size_t) l);
                n += (size_t) l;
                PUT16(0xc000 | LDNS_HEADER_SIZE);
                ancount++;
        }
        /* Glue as far as it fits: servers leave out what does not (RFC 2181 §9). */
        for (unsigned k = 0; k < MIN(ntargets, nsrv); k++)
                for (unsigned j = 0; j < nglue && target_at[k] && n + 16 <= MIN(limit, (size_t) GEN_MSG_BUDGET); j++) {
                        PUT16(0xc000 | target_at[k]);
                        PUT16(LDNS_RR_TYPE_A);
                        PUT16(LDNS_RR_CLASS_IN);
                        PUT32(GEN_TTL);
                        PUT16(4);
                        w[n++] = 127;
                        w[n++] = (uint8_t) (k >> 4);
                        w[n++] = (uint8_t) ((k & 15) << 4 | j >> 8);
                        w[n++] = (uint8_t) j;
                        arcount++;
                }
        if (0) {
truncated:
                n = LDNS_HEADER_SIZE + qlen + 4;
                w[2] |= 0x02;                         /* TC */
                ancount = arcount = 0;
        }
        if (edns) {
                w[n++] = 0;
                PUT16(LDNS_RR_TYPE_OPT);
                PUT16(EDNS_OUR_SIZE);
                PUT32(0);
                PUT16(0);
                arcount++;
        }
        w[6] = (uint8_t) (ancount >> 8), w[7] = (uint8_t) ancount;
        w[8] = w[9] = 0;
        w[10] = (uint8_t) (arcount >> 8), w[11] = (uint8_t) arcount;
#undef PUT16
#undef PUT32
        *ret_len = n;
        *ret = TAKE_PTR(w);
        return 0;
}

/* srv-gen's other answers: t<k>.NAME's addresses, NODATA or NXDOMAIN. */
static int gen_answer(ldns_pkt *p, const Rule *g, const ldns_rdf *qname, ldns_rr_type qtype) {
        int k, r;

        if (dname_equal(qname, g->name))
                return gen_push_soa(p, g->name); /* not SRV (gen_srv_wire() answers that) */
        k = gen_target_index(g, qname);
        if (k < 0) {
                ldns_pkt_set_rcode(p, LDNS_RCODE_NXDOMAIN);
                return gen_push_soa(p, g->name);
        }
        if (qtype != LDNS_RR_TYPE_A)
                return gen_push_soa(p, g->name);
        for (unsigned j = 0; j < g->gen[2]; j++) {
                r = gen_push_a(p, LDNS_SECTION_ANSWER, qname, (unsigned) k, j);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* glue-addr: the additional section becomes one record of the rule's address per SRV target. */
static int glue_replace(ldns_pkt *p, const Rule *g) {
        const ldns_rr_list *an = ldns_pkt_answer(p);
        ldns_rr_type type = ldns_rdf_get_type(g->glue) == LDNS_RDF_TYPE_A ? LDNS_RR_TYPE_A : LDNS_RR_TYPE_AAAA;

        while (ldns_rr_list_rr_count(ldns_pkt_additional(p)) > 0) {
                ldns_rr_free(ldns_rr_list_pop_rr(ldns_pkt_additional(p)));
                ldns_pkt_set_arcount(p, ldns_pkt_arcount(p) - 1);
        }
        for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
                const ldns_rr *srv = ldns_rr_list_rr(an, i);
                const ldns_rr_list *ar = ldns_pkt_additional(p);
                bool seen = false;
                ldns_rdf *rdf;
                int r;

                if (ldns_rr_get_type(srv) != LDNS_RR_TYPE_SRV || ldns_rr_rd_count(srv) != 4)
                        continue;
                for (size_t k = 0; k < ldns_rr_list_rr_count(ar) && !seen; k++)
                        seen = dname_equal(ldns_rr_owner(ldns_rr_list_rr(ar, k)), ldns_rr_rdf(srv, 3));
                if (seen)
                        continue;
                rdf = ldns_rdf_clone(g->glue);
                r = gen_push(p, LDNS_SECTION_ADDITIONAL, ldns_rr_rdf(srv, 3), type, 300, &rdf, 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* tc-tcp over TCP: the first half of the answer, nothing else, TC set. */
static void tc_tcp_cut(ldns_pkt *p) {
        size_t n = ldns_rr_list_rr_count(ldns_pkt_answer(p));

        while (ldns_rr_list_rr_count(ldns_pkt_additional(p)) > 0) {
                ldns_rr_free(ldns_rr_list_pop_rr(ldns_pkt_additional(p)));
                ldns_pkt_set_arcount(p, ldns_pkt_arcount(p) - 1);
        }
        for (size_t i = 0; i < n - n / 2 && n > 1; i++) {
                ldns_rr_free(ldns_rr_list_pop_rr(ldns_pkt_answer(p)));
                ldns_pkt_set_ancount(p, ldns_pkt_ancount(p) - 1);
        }
        ldns_pkt_set_tc(p, true);
}

/* The answer to a DNS UPDATE: nothing is applied; the modes decide what comes back. */
static int handle_update(Server *s, const ldns_pkt *query, bool tcp, uint8_t **ret, size_t *ret_len,
                         unsigned *ret_delay_ms) {
        _cleanup_(ldns_pkt_freep) ldns_pkt *resp = ldns_pkt_new();
        const ldns_rr *z;
        ldns_rr *zc;
        uint8_t *w;
        size_t len;

        if (!resp)
                return -ENOMEM;
        if (ldns_rr_list_rr_count(ldns_pkt_question(query)) != 1)
                return -EINVAL;
        z = ldns_rr_list_rr(ldns_pkt_question(query), 0);
        log_query(s, tcp, z);
        Behaviour b = behaviour_for(s, ldns_rr_owner(z));
        if (b.reply == MODE_SILENT)
                return 0;
        if (b.reply == MODE_MALFORMED)
                return make_garbage(s, ldns_pkt_id(query), ret, ret_len);
        zc = ldns_rr_clone(z);
        if (!zc || !ldns_pkt_push_rr(resp, LDNS_SECTION_QUESTION, zc)) {
                ldns_rr_free(zc);
                return -ENOMEM;
        }
        ldns_pkt_set_id(resp, ldns_pkt_id(query));
        ldns_pkt_set_qr(resp, true);
        ldns_pkt_set_opcode(resp, LDNS_PACKET_UPDATE);
        ldns_pkt_set_rcode(resp, b.reply == MODE_SERVFAIL  ? LDNS_RCODE_SERVFAIL
                                 : b.reply == MODE_REFUSED ? LDNS_RCODE_REFUSED
                                                           : LDNS_RCODE_NOERROR);
        const ldns_rr *tsig = ldns_pkt_tsig(query);
        if (s->key_name && tsig && !b.unsigned_answer) {
                char name[300], alg[64];
                snprintf(name, sizeof name, "%s.", s->key_name);
                snprintf(alg, sizeof alg, "%s.", s->key_alg);
                if (ldns_pkt_tsig_sign(resp, name, b.badsig ? "b3RoZXItb3RoZXItb3RoZXItb3RoZXItb3RoZXI=" : s->key_secret,
                                       300, alg, ldns_rr_rdf(tsig, 3)) != LDNS_STATUS_OK)
                        return -EINVAL;
        }
        if (to_wire(resp, &w, &len) < 0)
                return -ENOMEM;
        if (b.reply == MODE_WRONGID) {
                uint16_t id = (uint16_t) (ldns_pkt_id(query) + 1);
                w[0] = id >> 8;
                w[1] = id & 0xff;
        } else if (b.reply == MODE_TRUNCATED_GARBAGE)
                len /= 2;
        if (b.tc_always && !tcp)
                w[2] |= 0x02;
        *ret = w;
        *ret_len = len;
        *ret_delay_ms = b.slow_ms;
        s->other_reply = b.otheraddr && !tcp;
        return 0;
}

/*
 * The reply to one query: *ret is NULL when none is to be sent, else a
 * malloc'd message to send after *ret_delay_ms.
 */
static int handle_query(Server *s, const uint8_t *qbuf, size_t qlen, bool tcp,
                        uint8_t **ret, size_t *ret_len, unsigned *ret_delay_ms) {
        _cleanup_(ldns_pkt_freep) ldns_pkt *query = NULL, *resp = NULL;
        const ldns_rr *q;
        ldns_rr *qc;
        Behaviour b;
        size_t limit, len;
        uint8_t *w;
        int r;

        *ret = NULL;
        *ret_len = 0;
        *ret_delay_ms = 0;
        s->reset_reply = false;
        s->other_reply = false;
        if (qlen < LDNS_HEADER_SIZE || (qbuf[2] & 0x80))
                return 0;       /* not a query: never answer answers */

        reload_if_changed(s);

        if (ldns_wire2pkt(&query, qbuf, qlen) != LDNS_STATUS_OK)
                return make_error_reply(qbuf, LDNS_RCODE_FORMERR, ret, ret_len);
        if (ldns_pkt_get_opcode(query) == LDNS_PACKET_UPDATE) {
                r = handle_update(s, query, tcp, ret, ret_len, ret_delay_ms);
                return r == -EINVAL ? make_error_reply(qbuf, LDNS_RCODE_FORMERR, ret, ret_len) : r;
        }
        if (ldns_pkt_get_opcode(query) != LDNS_PACKET_QUERY)
                return make_error_reply(qbuf, LDNS_RCODE_NOTIMPL, ret, ret_len);
        if (ldns_rr_list_rr_count(ldns_pkt_question(query)) != 1)
                return make_error_reply(qbuf, LDNS_RCODE_FORMERR, ret, ret_len);
        q = ldns_rr_list_rr(ldns_pkt_question(query), 0);

        log_query(s, tcp, q);
        b = behaviour_for(s, ldns_rr_owner(q));
        if (b.reply == MODE_SILENT)
                return 0;

        const Rule *gen = gen_rule_for(s, ldns_rr_owner(q));
        if (gen && ldns_rr_get_type(q) == LDNS_RR_TYPE_SRV && dname_equal(ldns_rr_owner(q), gen->name) &&
            ldns_rr_get_class(q) == LDNS_RR_CLASS_IN) {
                *ret_delay_ms = b.slow_ms;
                return gen_srv_wire(gen, query, ldns_rr_owner(q), tcp, ret, ret_len);
        }

        resp = ldns_pkt_new();
        qc = ldns_rr_clone(q);
        if (!resp || !qc || !ldns_pkt_push_rr(resp, LDNS_SECTION_QUESTION, qc)) {
                ldns_rr_free(qc);
                return -ENOMEM;
        }
        ldns_pkt_set_id(resp, ldns_pkt_id(query));
        ldns_pkt_set_qr(resp, true);
        ldns_pkt_set_aa(resp, true);
        ldns_pkt_set_rd(resp, ldns_pkt_rd(query));
        ldns_pkt_set_opcode(resp, LDNS_PACKET_QUERY);
        if (b.formerr_noopt && ldns_pkt_edns(query)) {
                /* A server that knows no EDNS: FORMERR and no OPT record (RFC 6891 §7). */
                ldns_pkt_set_rcode(resp, LDNS_RCODE_FORMERR);
                r = encode_within(resp, MSG_MAX, false, &w, &len);
                if (r < 0)
                        return r;
                *ret = w;
                *ret_len = len;
                return 0;
        }
        if (ldns_pkt_edns(query))
                ldns_pkt_set_edns_udp_size(resp, EDNS_OUR_SIZE);

        if (ldns_rr_get_class(q) != LDNS_RR_CLASS_IN)
                ldns_pkt_set_rcode(resp, LDNS_RCODE_REFUSED);
        else if (b.reply == MODE_SERVFAIL)
                ldns_pkt_set_rcode(resp, LDNS_RCODE_SERVFAIL);
        else if (b.reply == MODE_REFUSED)
                ldns_pkt_set_rcode(resp, LDNS_RCODE_REFUSED);
        else if (b.reply == MODE_NXDOMAIN) {
                ldns_pkt_set_rcode(resp, LDNS_RCODE_NXDOMAIN);
                r = push_soa(resp, s->zone, ldns_rr_owner(q));
                if (r < 0)
                        return r;
        } else if (gen) {
                r = gen_answer(resp, gen, ldns_rr_owner(q), ldns_rr_get_type(q));
                if (r < 0)
                        return r;
        } else {
                r = answer_from_zone(resp, s->zone, ldns_rr_owner(q), ldns_rr_get_type(q), b.noglue);
                if (r >= 0 && b.extra)
                        r = push_extra(resp, ldns_rr_get_type(q));
                if (r >= 0 && b.glue_addr && ldns_rr_get_type(q) == LDNS_RR_TYPE_SRV)
                        r = glue_replace(resp, b.glue_addr);
                if (r < 0)
                        return r;
        }

        if (b.ttl_override)
                set_ttls(resp, b.ttl);
        if (b.reply == MODE_WRONGNAME) {
                r = set_question_name(resp, "wrongname.invalid.");
                if (r < 0)
                        return r;
        }

        if (b.reply == MODE_MALFORMED)
                return make_garbage(s, ldns_pkt_id(query), ret, ret_len);

        if (tcp && b.tc_tcp)
                tc_tcp_cut(resp);
        if (tcp)
                limit = MSG_MAX;
        else if (b.truncate_notc)
                limit = UDP_PLAIN_MAX;
        else if (b.tc_always || b.tc_tcp)
                limit = LDNS_HEADER_SIZE;       /* nothing but the header and question fits */
        else if (ldns_pkt_edns(query))
                limit = CLAMP((size_t) ldns_pkt_edns_udp_size(query), (size_t) UDP_PLAIN_MAX, (size_t) MSG_MAX);
        else
                limit = UDP_PLAIN_MAX;
        r = encode_within(resp, limit, !tcp && b.truncate_notc, &w, &len);
        if (r < 0)
                return r;

        if (b.reply == MODE_WRONGID) {
                uint16_t id = (uint16_t) (ldns_pkt_id(query) + 1);

                w[0] = id >> 8;
                w[1] = id & 0xff;
        } else if (b.reply == MODE_TRUNCATED_GARBAGE)
                len /= 2;       /* the counts promise what the cut took away; TC stays clear */

        *ret = w;
        *ret_len = len;
        *ret_delay_ms = b.slow_ms;
        s->reset_reply = tcp && b.tcp_reset;
        return 0;
}

static void conn_close(Conn *c) {
        if (c->fd < 0)
                return;
        close(c->fd);
        free(c->wbuf);
        c->fd = -1;
        c->wbuf = NULL;
        c->wlen = c->woff = c->rlen = 0;
}

static void conn_queue(Conn *c, const uint8_t *msg, size_t len) {
        uint8_t *nb;

        if (len > MSG_MAX || c->wlen - c->woff + 2 + len > TCP_WBUF_MAX) {
                conn_close(c);
                return;
        }
        if (c->woff > 0) {
                memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
                c->wlen -= c->woff;
                c->woff = 0;
        }
        nb = realloc(c->wbuf, c->wlen + 2 + len);
        if (!nb) {
                conn_close(c);
                return;
        }
        c->wbuf = nb;
        c->wbuf[c->wlen] = (uint8_t) (len >> 8);
        c->wbuf[c->wlen + 1] = (uint8_t) len;
        memcpy(c->wbuf + c->wlen + 2, msg, len);
        c->wlen += 2 + len;
}

static void conn_flush(Conn *c) {
        while (c->fd >= 0 && c->woff < c->wlen) {
                ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL | MSG_DONTWAIT);

                if (n < 0) {
                        if (errno != EAGAIN && errno != EINTR)
                                conn_close(c);
                        return;
                }
                c->woff += (size_t) n;
        }
}

/* tcp-reset: what the client gets is a length prefix promising more than follows, then RST. */
static void conn_reset_midway(Conn *c, const uint8_t *msg, size_t len) {
        struct linger lg = { .l_onoff = 1, .l_linger = 0 };

        conn_queue(c, msg, len);
        if (c->fd < 0)
                return;
        c->wlen -= len - len / 2;
        conn_flush(c);
        if (c->fd >= 0)
                (void) setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        conn_close(c);
}

static void deliver(Server *s, Pending *p) {
        if (!p->tcp) {
                /* UDP may drop: a full socket buffer loses the reply, as on a real network. */
                (void) sendto(p->other && s->other_fd >= 0 ? s->other_fd : s->udp_fd, p->msg, p->len, MSG_DONTWAIT,
                              (const struct sockaddr *) &p->peer, sizeof p->peer);
                return;
        }
        if (s->conns[p->conn].fd >= 0 && s->conns[p->conn].gen == p->gen && p->reset) {
                conn_reset_midway(&s->conns[p->conn], p->msg, p->len);
                return;
        }
        if (s->conns[p->conn].fd >= 0 && s->conns[p->conn].gen == p->gen) {
                conn_queue(&s->conns[p->conn], p->msg, p->len);
                conn_flush(&s->conns[p->conn]);
        }
}

/* Takes msg. Replies without delay go out at once; others wait in order of arrival. */
static void reply(Server *s, Pending p) {
        if (!p.msg)
                return;
        if (p.due_ms <= now_ms()) {
                deliver(s, &p);
                free(p.msg);
                return;
        }
        if (s->n_pending >= PENDING_MAX) {
                fprintf(stderr, "fakedns: over %d delayed replies, one dropped\n", PENDING_MAX);
                free(p.msg);
                return;
        }
        s->pending[s->n_pending++] = p;
}

static void deliver_due(Server *s) {
        uint64_t now = now_ms();
        size_t kept = 0;

        for (size_t i = 0; i < s->n_pending; i++) {
                Pending *p = &s->pending[i];

                if (p->due_ms <= now) {
                        deliver(s, p);
                        free(p->msg);
                } else
                        s->pending[kept++] = *p;
        }
        s->n_pending = kept;
}

static bool peer_is_loopback(const struct sockaddr_in *sa) {
        return sa->sin_family == AF_INET && (ntohl(sa->sin_addr.s_addr) >> 24) == 127;
}

static void on_udp(Server *s) {
        static uint8_t buf[MSG_MAX];

        for (unsigned k = 0; k < UDP_BURST_MAX; k++) {
                struct sockaddr_in peer;
                socklen_t plen = sizeof peer;
                Pending p = { .tcp = false };
                unsigned delay;
                ssize_t n;

                n = recvfrom(s->udp_fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *) &peer, &plen);
                if (n < 0)
                        return;
                if (!peer_is_loopback(&peer))
                        continue;
                if (handle_query(s, buf, (size_t) n, false, &p.msg, &p.len, &delay) < 0)
                        continue;
                p.other = s->other_reply;
                p.peer = peer;
                p.due_ms = now_ms() + delay;
                reply(s, p);
        }
}

static void on_accept(Server *s) {
        for (unsigned k = 0; k < TCP_CONNS_MAX; k++) {
                Conn *c = NULL;
                int fd;

                for (unsigned i = 0; i < TCP_CONNS_MAX && !c; i++)
                        if (s->conns[i].fd < 0)
                                c = &s->conns[i];
                if (!c)
                        return;
                fd = accept4(s->tcp_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0)
                        return;
                c->fd = fd;
                c->gen = ++s->next_gen;
                c->last_ms = now_ms();
                c->rlen = 0;
        }
}

static void on_conn(Server *s, unsigned idx, short revents) {
        Conn *c = &s->conns[idx];

        if (revents & POLLOUT)
                conn_flush(c);
        if (c->fd < 0 || !(revents & (POLLIN | POLLHUP | POLLERR)))
                return;

        ssize_t n = recv(c->fd, c->rbuf + c->rlen, sizeof c->rbuf - c->rlen, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                conn_close(c);
                return;
        }
        if (n < 0)
                return;
        c->rlen += (size_t) n;
        c->last_ms = now_ms();

        /* rbuf holds one whole message at most, so this loop is bounded by what was read. */
        while (c->fd >= 0 && c->rlen >= 2) {
                size_t mlen = (size_t) c->rbuf[0] << 8 | c->rbuf[1];
                Pending p = { .tcp = true, .conn = idx, .gen = c->gen };
                unsigned delay;

                if (c->rlen < 2 + mlen)
                        break;
                int r = handle_query(s, c->rbuf + 2, mlen, true, &p.msg, &p.len, &delay);
                /* Consumed before replying: a reply may close the connection (tcp-reset, a full
                 * write buffer), which empties rbuf. */
                memmove(c->rbuf, c->rbuf + 2 + mlen, c->rlen - 2 - mlen);
                c->rlen -= 2 + mlen;
                if (r >= 0) {
                        p.reset = s->reset_reply;
                        p.due_ms = now_ms() + delay;
                        reply(s, p);
                }
        }
}

static int listen_on(const struct sockaddr_in *sa, int type, int *ret_fd) {
        _cleanup_close_ int fd = -1;
        int one = 1;

        fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (type == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
                return -errno;
        if (bind(fd, (const struct sockaddr *) sa, sizeof *sa) < 0)
                return -errno;
        if (type == SOCK_STREAM && listen(fd, TCP_CONNS_MAX) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static void usage(FILE *f) {
        fprintf(f, "usage: fakedns -a 127.x.y.z -p PORT -z ZONEFILE [-c CONTROLFILE] [-l QUERYLOG] [-k NAME:ALG:SECRET]\n");
}

static int run(Server *s) {
        sigset_t block, orig;
        struct sigaction sa = { .sa_handler = on_signal };

        sigemptyset(&block);
        sigaddset(&block, SIGTERM);
        sigaddset(&block, SIGINT);
        /* Blocked except inside ppoll(): a signal cannot slip in between the check and the wait. */
        if (sigprocmask(SIG_BLOCK, &block, &orig) < 0)
                return -errno;
        if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
                return -errno;
        sigdelset(&orig, SIGTERM);
        sigdelset(&orig, SIGINT);

        printf("ready\n");
        fflush(stdout);

        while (!quit) {
                struct pollfd pfd[2 + TCP_CONNS_MAX];
                unsigned map[2 + TCP_CONNS_MAX];
                struct timespec ts;
                uint64_t now = now_ms(), wait_ms = 1000;
                nfds_t n = 0;

                deliver_due(s);
                for (size_t i = 0; i < s->n_pending; i++)
                        wait_ms = MIN(wait_ms, s->pending[i].due_ms > now ? s->pending[i].due_ms - now : 0);

                pfd[n++] = (struct pollfd) { .fd = s->udp_fd, .events = POLLIN };
                pfd[n++] = (struct pollfd) { .fd = s->tcp_fd, .events = POLLIN };
                for (unsigned i = 0; i < TCP_CONNS_MAX; i++) {
                        Conn *c = &s->conns[i];

                        if (c->fd >= 0 && now - c->last_ms > TCP_IDLE_MSEC && c->woff == c->wlen)
                                conn_close(c);
                        if (c->fd < 0)
                                continue;
                        map[n] = i;
                        pfd[n++] = (struct pollfd) {
                                .fd = c->fd,
                                .events = (short) (POLLIN | (c->woff < c->wlen ? POLLOUT : 0)),
                        };
                }

                ts = (struct timespec) { .tv_sec = (time_t) (wait_ms / 1000), .tv_nsec = (long) (wait_ms % 1000) * 1000000 };
                if (ppoll(pfd, n, &ts, &orig) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (pfd[0].revents)
                        on_udp(s);
                if (pfd[1].revents)
                        on_accept(s);
                for (nfds_t i = 2; i < n; i++)
                        if (pfd[i].revents)
                                on_conn(s, map[i], pfd[i].revents);
        }
        return 0;
}

int main(int argc, char **argv) {
        static Server server;   /* static: the TCP buffers make it large */
        Server *s = &server;
        struct sockaddr_in sa = { .sin_family = AF_INET };
        const char *addr = NULL, *querylog = NULL;
        unsigned long port = 0;
        int opt, r;

        while ((opt = getopt(argc, argv, "a:p:z:c:l:k:h")) != -1) {
                char *end;

                switch (opt) {
                case 'a':
                        addr = optarg;
                        break;
                case 'p':
                        errno = 0;
                        port = strtoul(optarg, &end, 10);
                        if (errno || *end || port == 0 || port > 65535) {
                                fprintf(stderr, "fakedns: bad port '%s'\n", optarg);
                                return 2;
                        }
                        break;
                case 'z':
                        s->zone_watch.path = optarg;
                        break;
                case 'c':
                        s->control_watch.path = optarg;
                        break;
                case 'l':
                        querylog = optarg;
                        break;
                case 'k': {
                        char *c1 = strchr(optarg, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                        if (!c2) {
                                fprintf(stderr, "fakedns: -k takes NAME:ALGORITHM:SECRET\n");
                                return 2;
                        }
                        *c1 = *c2 = 0;
                        s->key_name = optarg;
                        s->key_alg = c1 + 1;
                        s->key_secret = c2 + 1;
                        break;
                }
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (!addr || port == 0 || !s->zone_watch.path || optind != argc) {
                usage(stderr);
                return 2;
        }
        /* Test traffic stays on loopback. */
        if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1 || !peer_is_loopback(&sa)) {
                fprintf(stderr, "fakedns: -a must be an IPv4 loopback address, not '%s'\n", addr);
                return 2;
        }
        sa.sin_port = htons((uint16_t) port);

        s->udp_fd = s->tcp_fd = s->other_fd = -1;
        for (unsigned i = 0; i < TCP_CONNS_MAX; i++)
                s->conns[i].fd = -1;
        s->garbage_seed = (uint32_t) getpid() | 1;

        {
                bool exists;

                (void) file_changed(&s->zone_watch, &exists);
                r = load_zone(s->zone_watch.path, &s->zone);
                if (r < 0) {
                        fprintf(stderr, "fakedns: cannot load %s: %s\n", s->zone_watch.path, strerror(-r));
                        return 1;
                }
                if (s->control_watch.path) {
                        (void) file_changed(&s->control_watch, &exists);
                        load_control(s);
                }
        }
        if (querylog) {
                s->querylog = fopen(querylog, "ae");
                if (!s->querylog) {
                        fprintf(stderr, "fakedns: cannot open %s: %s\n", querylog, strerror(errno));
                        return 1;
                }
        }

        r = listen_on(&sa, SOCK_DGRAM, &s->udp_fd);
        if (r >= 0)
                r = listen_on(&sa, SOCK_STREAM, &s->tcp_fd);
        if (r < 0) {
                fprintf(stderr, "fakedns: cannot listen on %s:%lu: %s\n", addr, port, strerror(-r));
                return 1;
        }

        {
                /* otheraddr: 127.0.0.2, any port; without it the mode sends from the usual socket. */
                struct sockaddr_in other = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000002) };
                s->other_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                if (s->other_fd >= 0 && bind(s->other_fd, (struct sockaddr *) &other, sizeof other) < 0) {
                        close(s->other_fd);
                        s->other_fd = -1;
                }
        }

        r = run(s);
        if (r < 0)
                fprintf(stderr, "fakedns: %s\n", strerror(-r));

        for (unsigned i = 0; i < TCP_CONNS_MAX; i++)
                conn_close(&s->conns[i]);
        for (size_t i = 0; i < s->n_pending; i++)
                free(s->pending[i].msg);
        rules_clear(s);
        ldns_rr_list_deep_free(s->zone);
        if (s->querylog)
                fclose(s->querylog);
        close(s->udp_fd);
        close(s->tcp_fd);
        if (s->other_fd >= 0)
                close(s->other_fd);
        return r < 0 ? 1 : 0;
}
