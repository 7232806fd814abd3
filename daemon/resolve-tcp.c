/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* resolve-tcp.c: following c-ares' DNS-over-TCP connections byte by byte: where each message ends, its RCODE, and which questions are on the connection. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "resolve-tcp.h"
#include "util.h"

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv(uint64_t h, uint8_t b) {
        return (h ^ b) * FNV_PRIME;
}

static uint8_t lower(uint8_t c) {
        return c >= 'A' && c <= 'Z' ? (uint8_t) (c - 'A' + 'a') : c;
}

static uint64_t hash_label(uint64_t h, const uint8_t *label, size_t len) {
        h = fnv(h, (uint8_t) len);
        for (size_t i = 0; i < len; i++)
                h = fnv(h, lower(label[i]));
        return h;
}

static uint64_t hash_type(uint64_t h, uint16_t type) {
        h = fnv(h, 0); /* the root label */
        h = fnv(h, (uint8_t) (type >> 8));
        return fnv(h, (uint8_t) type);
}

uint64_t dns_question_hash(const char *name, uint16_t type) {
        uint8_t label[256];
        size_t len = 0;
        uint64_t h = FNV_OFFSET;

        for (const char *c = name; *c; c++) {
                if (*c == '.') {
                        if (len > 0)
                                h = hash_label(h, label, len);
                        len = 0;
                        continue;
                }
                if (*c == '\\' && c[1])
                        c++;
                if (len < sizeof label)
                        label[len++] = (uint8_t) *c;
        }
        if (len > 0)
                h = hash_label(h, label, len);
        return hash_type(h, type);
}

bool dns_question_hash_wire(const uint8_t *msg, size_t len, uint64_t *ret) {
        uint64_t h = FNV_OFFSET;
        size_t o = 12;

        if (len < 12 || (msg[4] << 8 | msg[5]) != 1)
                return false;
        while (o < len && msg[o] != 0) {
                size_t l = msg[o];
                if (l > 63 || o + 1 + l >= len)
                        return false; /* a compression pointer, or cut */
                h = hash_label(h, msg + o + 1, l);
                o += 1 + l;
        }
        if (o + 3 > len)
                return false;
        *ret = hash_type(h, (uint16_t) (msg[o + 1] << 8 | msg[o + 2]));
        return true;
}

/* Feed n bytes to one direction; calls done(t, parser) at the end of each message. */
static int stream_feed(TcpStream *t, StreamParser *s, const uint8_t *p, size_t n,
                       int (*done)(TcpStream *t, const StreamParser *s)) {
        int r = 0;

        while (n > 0) {
                if (s->len_pos < 2) {
                        s->len[s->len_pos++] = *p++;
                        n--;
                        if (s->len_pos == 2) {
                                s->msg_len = (uint16_t) (s->len[0] << 8 | s->len[1]);
                                s->msg_pos = 0;
                                if (s->msg_len == 0)
                                        s->len_pos = 0;
                        }
                        continue;
                }
                size_t k = MIN(n, (size_t) (s->msg_len - s->msg_pos));
                if (s->msg_pos < sizeof s->head) {
                        size_t keep = MIN(k, sizeof s->head - s->msg_pos);
                        memcpy(s->head + s->msg_pos, p, keep);
                }
                s->msg_pos = (uint16_t) (s->msg_pos + k);
                p += k;
                n -= k;
                if (s->msg_pos == s->msg_len) {
                        s->len_pos = 0;
                        int k2 = done(t, s);
                        if (k2 != 0)
                                r = k2;
                }
        }
        return r;
}

static int on_written(TcpStream *t, const StreamParser *s) {
        uint64_t q;

        if (!dns_question_hash_wire(s->head, MIN((size_t) s->msg_len, sizeof s->head), &q))
                return 0;
        if (t->n_questions == t->n_questions_allocated) {
                size_t n = MAX(t->n_questions_allocated * 2, (size_t) 8);
                uint64_t *nq = reallocarray(t->questions, n, sizeof *nq);
                if (!nq)
                        return -ENOMEM;
                t->questions = nq;
                t->n_questions_allocated = n;
        }
        t->questions[t->n_questions++] = q;
        return 0;
}

/* Returns 1 + RCODE, so that 0 means "no answer completed". */
static int on_read(TcpStream *t, const StreamParser *s) {
        uint64_t q;

        if (s->msg_len < 4)
                return 0;
        if (dns_question_hash_wire(s->head, MIN((size_t) s->msg_len, sizeof s->head), &q))
                for (size_t i = 0; i < t->n_questions; i++)
                        if (t->questions[i] == q) {
                                t->questions[i] = t->questions[--t->n_questions];
                                break;
                        }
        return 1 + (s->head[3] & 0x0f);
}

int tcp_stream_written(TcpStream *t, const uint8_t *p, size_t n) {
        return stream_feed(t, &t->out, p, n, on_written);
}

int tcp_stream_read(TcpStream *t, const uint8_t *p, size_t n) {
        /* stream_feed keeps the last non-zero value: the last answer completed. */
        return stream_feed(t, &t->in, p, n, on_read) - 1;
}

void tcp_stream_clear(TcpStream *t) {
        free(t->questions);
        *t = (TcpStream) { .fd = -1 };
}
