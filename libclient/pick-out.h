/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pick-out.h: what every pick policy shares: the copy of a backend out of the mapping into an endpoint. */
#pragma once

#include <string.h>

#include "internal.h"

/* The endpoint's fields as read from the mapping, copied out once the read is known consistent. */
typedef struct dd_pickout {
        uint8_t lo[16];                 /* sockaddr bytes 0..15 */
        uint8_t hi[16];                 /* sockaddr bytes 12..27 */
        uint32_t addrlen;
        uint16_t port;
        uint64_t key;
} dd_pickout;

_seqlock_reader_ static inline __attribute__((always_inline))
void dd_pickout_read(dd_pickout *o, const dd_backend *be) {
        /* Two overlapping 16-byte moves cover the 28 sockaddr bytes. */
        memcpy(o->lo, be->sockaddr, 16);
        memcpy(o->hi, be->sockaddr + 12, 16);
        o->addrlen = DD_READ(be->addrlen);
        o->port = DD_READ(be->port);
        o->key = DD_READ(be->key);
}

/*
 * Whether any of backends[nb] has an addrlen the fast path's unchecked copy
 * must not pass on. Read under the seqlock: the caller rechecks the section
 * before it believes a yes. A slow path checks them once per cursor fill.
 */
_seqlock_reader_ static inline __attribute__((always_inline))
bool dd_addrlen_bad(const dd_backend *backends, uint32_t nb) {
        bool bad = false;

        for (uint32_t i = 0; i < nb; i++)
                bad |= DD_READ(backends[i].addrlen) > sizeof(struct sockaddr_in6);
        return bad;
}

/*
 * The generation is read after the seqlock check: it only tells
 * dnsdisc_endpoint_target() whether _backend may still index the endpoint,
 * which it confirms by _key, so a newer value is harmless, and reading it
 * late keeps a register free on the fast path.
 */
_seqlock_reader_ static inline __attribute__((always_inline))
void dd_pickout_write(dnsdisc_endpoint *ret, const dd_pickout *o, dnsdisc_service *s, const dd_service *slot,
                      unsigned backend) {
        memcpy((uint8_t *) &ret->addr, o->lo, 16);
        memcpy((uint8_t *) &ret->addr + 12, o->hi, 16);
        ret->addrlen = o->addrlen;
        ret->port = o->port;
        ret->_backend = (uint16_t) backend;
        ret->_generation = atomic_load_explicit(&slot->generation, memory_order_relaxed);
        ret->_key = o->key;
        ret->_service = s;
        ret->_reserved0 = 0; /* not counted by dnsdisc_pick_least(): dnsdisc_release() refuses it */
}

/*
 * A thread's view of one service for dnsdisc_pick_hash() or
 * dnsdisc_pick_least(), as checked at slot seq `seq` through pick_key `key`
 * (never 0, and filled only while no quarantine is in force and the mapping
 * is current, so a pick that matches it has nothing to skip). Direct-mapped
 * by handle address into eight entries per thread and policy
 * (dd_hash_cursor_of(), dd_least_cursor_of()), apart from dnsdisc_pick()'s
 * cursors: an array per policy, so that a fast path need not check which
 * policy filled its entry, and a service picked both ways keeps both.
 */
typedef struct dd_policy_cursor {
        uint64_t key;
        const dd_service *slot;
        const dd_backend *backends;
        const uint16_t *list;           /* the hash table, or the schedule */
        uint32_t seq;                   /* even */
        uint32_t len;                   /* entries of list, > 0 */
        uint32_t n_backends;
        uint64_t rng;                   /* least-request's xorshift64* state; 0: not seeded yet */
        uint64_t owner;                 /* least-request: the handle's least_owner */
} dd_policy_cursor;

#define DD_POLICY_CURSORS 8

/* Ordinary TLS, reached through a TLS descriptor, so dlopen() never fails for it (see cursor.h).
 * In pick-hash.c and pick-least.c. */
extern __thread dd_policy_cursor dd_hash_cursors[DD_POLICY_CURSORS];
extern __thread dd_policy_cursor dd_least_cursors[DD_POLICY_CURSORS];

/* Handles are separate allocations larger than 64 bytes. */
static inline dd_policy_cursor *dd_hash_cursor_of(const dnsdisc_service *s) {
        return &dd_hash_cursors[((uintptr_t) s >> 6) % DD_POLICY_CURSORS];
}

static inline dd_policy_cursor *dd_least_cursor_of(const dnsdisc_service *s) {
        return &dd_least_cursors[((uintptr_t) s >> 6) % DD_POLICY_CURSORS];
}

