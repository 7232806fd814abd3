/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* schedule.h: builds a service's pick schedule (SRV priority, weights, weight 0, panic). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct SchedInput {
        uint16_t priority;
        uint16_t weight;        /* the SRV record's */
        bool healthy;           /* eligible for picks */
        uint32_t record;        /* backends with the same nonzero value are the addresses of one SRV
                                 * record and share its weight; 0: a record of its own */
} SchedInput;

typedef struct Schedule {
        uint16_t slots[4096];   /* DD_SCHED_MAX: backend indices in pick order */
        size_t len;
        uint16_t eligible[1024];/* DD_BACKENDS_MAX: distinct backends in the schedule */
        size_t n_eligible;
        bool panic;             /* nothing healthy: all backends, flagged */
} Schedule;

/*
 * Fill *ret from n backends (n <= DD_BACKENDS_MAX):
 *  - the healthy backends of the lowest priority that has any;
 *  - among them the positive-weight ones, or, when none is healthy, the
 *    weight-0 ones with equal shares (RFC 2782);
 *  - a record's weight (RFC 2782 gives it to the record: a target and port)
 *    split evenly over its addresses among those, so that a dual-stack
 *    target weighs as much as a single-stack one;
 *  - weights (full 0..65535 range) reduced by their gcd; when they sum to
 *    more than DD_SCHED_MAX, apportioned to DD_SCHED_MAX slots by largest
 *    remainder, every positive weight keeping at least one slot;
 *  - interleaved by smooth weighted round-robin (nginx's algorithm);
 *  - no healthy backend: with panic, every backend of every priority, by
 *    weight with weight 0 counted as 1, and ret->panic set; without, an
 *    empty schedule.
 * Returns 0, or -EINVAL if n is out of range.
 */
int schedule_build(const SchedInput *in, size_t n, bool panic, Schedule *ret);
