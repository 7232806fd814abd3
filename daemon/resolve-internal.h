/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* resolve-internal.h: the resolver's types and functions shared by resolve.c, resolve-retry.c and resolve-edns.c; c-ares types stay in resolve*. */
#pragma once

#include <ares.h>
#include <sys/stat.h>
#include <systemd/sd-event.h>

#include "resolve-tcp.h"
#include "resolve.h"
#include "udp-batch.h"
#include "util.h"

/* Questions whose TCP answers broke a connection are remembered this long (and at most this
 * many): such a query failing is its own failure, and sent again it would break one again. */
#define BREAKERS_USEC (10 * USEC_PER_SEC)
#define BREAKERS_MAX 64

typedef struct Channel Channel;
typedef struct Query Query;

/* One fd c-ares asked us to watch. */
typedef struct SockWatch {
        int fd;
        sd_event_source *source;
} SockWatch;

/* A c-ares channel. A new one replaces the current one when resolv.conf
 * changes; the old one is retired and destroyed once idle, from a defer
 * source, never from inside a c-ares callback. */
struct Channel {
        Resolver *resolver;
        ares_channel ares;
        bool ares_ok;
        unsigned pending;             /* queries handed to this channel, not yet answered */
        SockWatch *watches;
        size_t n_watches, n_watches_allocated;
        UdpBatch **udp;               /* c-ares' UDP sockets, opened through our socket functions */
        size_t n_udp, n_udp_allocated;
        TcpStream *tcp;               /* c-ares' TCP sockets */
        size_t n_tcp, n_tcp_allocated;
        uint64_t *broken;             /* questions on the TCP connection that broke in this entry into c-ares */
        size_t n_broken;
        bool tcp_broke;               /* a TCP connection broke in this entry into c-ares */
        /* What the last read or write of c-ares on this channel said, as a negative errno: the
         * socket's error, or an answer's error RCODE (records_rcode_errno()); 0: a good answer, or
         * nothing yet since the current entry into c-ares. c-ares 1.18 reports all of these as
         * ARES_ECONNREFUSED and processes each answer right after reading it, so this is why the
         * query it ends with that status failed. */
        int last_io;
        bool last_io_socket;          /* last_io is a socket's error, not an RCODE */
        bool processing;              /* inside channel_process(): its callbacks still need last_io and broken */
        bool formerr_seen;            /* a FORMERR without OPT was read: c-ares may have turned EDNS off */
        sd_event_source *timer;       /* follows ares_timeout(), re-armed in its prepare callback */
        uint64_t timer_at;            /* what timer is set to; USEC_INFINITY: parked */
        Channel *retired_next;
};

typedef enum QueryClass {
        QUERY_NEW,      /* begins work: a round's first query, an UPDATE */
        QUERY_FOLLOWUP, /* finishes work already begun: sent first */
        _QUERY_CLASS_MAX,
} QueryClass;

struct Query {
        Resolver *resolver;
        Channel *channel;
        char *name;
        uint16_t type;
        uint8_t *msg;                 /* resolver_send(): the message, sent as is; or the query built by
                                       * records.c for a name ares_query() would mangle */
        size_t msg_len;
        resolver_cb cb;
        void *userdata;
        int error;                    /* result, filled by the c-ares callback */
        uint8_t *pkt;
        size_t len;
        unsigned collateral_retries;
        Query *next;                  /* waiting FIFO or completion list */
};

struct Resolver {
        sd_event *event;
        ResolverServer *servers;
        size_t n_servers;
        char *resolv_conf;
        uint64_t timeout_usec;
        unsigned tries;
        unsigned max_inflight;
        bool raw_answers;

        Channel *current;
        Channel *retired;

        /* Over max_inflight, not yet sent: follow-ups (queries that finish work already begun, such
         * as a round's target addresses) before new work, so that the rounds in progress, and
         * what they hold, stay about max_inflight however many start at once. */
        Query *wait_head[_QUERY_CLASS_MAX], *wait_tail[_QUERY_CLASS_MAX];
        Query *done_head, *done_tail; /* answered, callbacks not yet run */
        sd_event_source *dispatch;    /* defer: runs callbacks, sends waiting queries, destroys retired channels */
        sd_event_source *resolv_poll; /* follows resolv.conf when no servers are configured */
        sd_event_source *edns_restore; /* replaces a channel that lost EDNS */
        uint64_t edns_restored_usec;  /* CLOCK_MONOTONIC of the last replacement */
        uint64_t edns_restores;
        struct stat resolv_st;
        bool resolv_seen;

        unsigned inflight;
        uint64_t sent;
        uint64_t collateral;          /* queries sent again after another query's failure took them down */
        struct {
                uint64_t question, at_usec;
        } breakers[BREAKERS_MAX];     /* a ring: questions on TCP connections that broke */
        unsigned next_breaker;
        bool pumping;                 /* inside resolver_pump(): a query failing at once must not recurse */
};

/* resolve.c */
/* Hands q to the current channel (again, for a query sent once already). */
void query_send(Resolver *r, Query *q);
/* A new channel takes the new queries; the old one finishes what it has and is destroyed when
 * idle. 0 or a negative errno (the current channel stays then). */
int resolver_replace_channel(Resolver *r);

/* resolve-retry.c: queries failed only by another query's broken connection, sent again. */
/* c-ares is closing t, a TCP connection that broke: remember the questions that were on it. */
void retry_note_broken(Channel *c, TcpStream *t);
/* Whether q, which c-ares ended with status, is to be sent again at once (then counted). */
bool retry_collateral(Query *q, int status);

/* resolve-edns.c: a channel that lost EDNS replaced by one with it. */
/* The edns_restore timer of a new resolver (disabled); freed by resolver_free(). */
int edns_restore_add(Resolver *r);
/* An answer c-ares read, header first: notes a FORMERR without OPT. */
void edns_answer_read(Channel *c, const uint8_t *h, size_t len);
/* After an entry into c-ares: if it read a FORMERR without OPT, checks whether c lost EDNS. */
void edns_check(Channel *c);
