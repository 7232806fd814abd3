/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* resolve-retry.c: queries that failed only because another query broke the connection to their server, sent again. */
#include "log.h"
#include "resolve-internal.h"

/* A query that failed only because another query broke the connection to its server (see
 * query_failed_collaterally()) is sent again at once, at most this many times; after an error
 * on the UDP socket (ICMP: a closed port answers every datagram so) fewer. */
#define COLLATERAL_RETRIES_MAX 16
#define COLLATERAL_RETRIES_UDP_MAX 4

/*
 * Whether q failed only because another query's failure took its server down with it: c-ares
 * 1.18 fails every query pending to a server when one of its sockets fails (a TCP connection
 * reset or cut short, an ICMP error on the UDP socket, which anyone can forge). A query whose
 * question was on the TCP connection that broke failed on its own; so did one answered with an
 * error RCODE. The others are sent again at once, a bounded number of times.
 */
static bool query_failed_collaterally(const Query *q, int status) {
        const Channel *c = q->channel;

        if (status != ARES_ECONNREFUSED || c->last_io >= 0 || !c->last_io_socket)
                return false;
        uint64_t h, now = now_usec(CLOCK_MONOTONIC);
        /* resolver_send(): the message carries its question (an UPDATE's zone). */
        if (q->msg ? !dns_question_hash_wire(q->msg, q->msg_len, &h) : false)
                return false;
        if (!q->msg)
                h = dns_question_hash(q->name, q->type);
        for (size_t i = 0; i < c->n_broken; i++)
                if (c->broken[i] == h)
                        return false;
        for (size_t i = 0; i < BREAKERS_MAX; i++)
                if (q->resolver->breakers[i].question == h && q->resolver->breakers[i].at_usec > 0 &&
                    now - q->resolver->breakers[i].at_usec < BREAKERS_USEC)
                        return false;
        return true;
}

bool retry_collateral(Query *q, int status) {
        if (q->collateral_retries >= (q->channel->tcp_broke ? COLLATERAL_RETRIES_MAX : COLLATERAL_RETRIES_UDP_MAX) ||
            !query_failed_collaterally(q, status))
                return false;
        log_debug("Query %s type %u failed with another query's connection (%s): sending it again",
                  q->name ? q->name : "(message)", q->type, strerror(-q->channel->last_io));
        q->collateral_retries++;
        q->resolver->collateral++;
        return true;
}

/* c-ares closes a broken connection before it fails the queries: keep what was on it. */
void retry_note_broken(Channel *c, TcpStream *t) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        Resolver *r = c->resolver;

        for (size_t k = 0; k < t->n_questions; k++) {
                r->breakers[r->next_breaker].question = t->questions[k];
                r->breakers[r->next_breaker].at_usec = now;
                r->next_breaker = (r->next_breaker + 1) % BREAKERS_MAX;
        }
        c->tcp_broke = true;
        free(c->broken);
        c->broken = TAKE_PTR(t->questions);
        c->n_broken = t->n_questions;
}

uint64_t resolver_collateral_retries(Resolver *r) {
        return r->collateral;
}
