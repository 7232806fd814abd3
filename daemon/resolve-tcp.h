/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* resolve-tcp.h: following c-ares' DNS-over-TCP connections byte by byte: where each message ends, its RCODE, and which questions are on the connection. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Header and question of a message, the most of it that is kept: 12 + 255 + 4 bytes. */
#define TCP_STREAM_HEAD_MAX 272

/* One direction of a connection: 2-byte length words, each followed by a message. */
typedef struct StreamParser {
        uint8_t len_pos;                 /* bytes of the length word seen; 2: inside the message */
        uint8_t len[2];
        uint16_t msg_len, msg_pos;
        uint8_t head[TCP_STREAM_HEAD_MAX];
} StreamParser;

/*
 * One of c-ares' TCP connections, as resolve.c sees it through its socket functions. Owns
 * questions; tcp_stream_clear() frees it.
 *
 * Why: c-ares 1.18 fails every query pending to a server when one TCP connection to it breaks.
 * The questions written on the connection and not yet answered are the queries that were on
 * it; the others failed only because they shared the server.
 */
typedef struct TcpStream {
        int fd;
        bool broken;                     /* a read or write failed, or the server closed it */
        StreamParser in, out;
        uint64_t *questions;             /* dns_question_hash() of each unanswered query written */
        size_t n_questions, n_questions_allocated;
} TcpStream;

/* Bytes c-ares wrote: each message completed adds its question. 0 or -ENOMEM. */
int tcp_stream_written(TcpStream *t, const uint8_t *p, size_t n);
/* Bytes c-ares read: each answer completed takes its question off. Returns the RCODE of the
 * last answer these bytes completed, or -1 if they completed none. */
int tcp_stream_read(TcpStream *t, const uint8_t *p, size_t n);
void tcp_stream_clear(TcpStream *t);

/* A question (name, type), hashed so that the name as given to ares_query() and the name
 * c-ares 1.18 writes on the wire hash alike: labels compared case-insensitively, '\' quoting
 * the next character as c-ares reads it. */
uint64_t dns_question_hash(const char *name, uint16_t type);
/* The question of a DNS message (header first); false when there is none or it is cut. */
bool dns_question_hash_wire(const uint8_t *msg, size_t len, uint64_t *ret);
