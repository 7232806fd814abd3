/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* timer-queue.h: many one-shot deadlines on one sd-event timer, for the services' refreshes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>
#include <time.h>

/*
 * An sd-event timer source costs about 280 bytes; 10,000 services each
 * with its own are 3 MB. The queue keeps the deadlines in a binary heap of
 * pointers (8 bytes each) and one timer source on the earliest.
 */
typedef struct TimerQueue TimerQueue;

/* Embedded in its owner, which must disarm it before freeing it. Zero-initialised: not armed. */
typedef struct TimerEntry {
        uint64_t when;  /* µs on the queue's clock */
        size_t pos;     /* heap position + 1; 0: not armed */
} TimerEntry;

/* Called for each entry whose time has come, after it was disarmed; it may arm, disarm and free
 * any entry, this one included. */
typedef void (*timer_queue_handler_t)(TimerEntry *e, void *userdata);

/* Deadlines on clock (CLOCK_MONOTONIC or CLOCK_BOOTTIME); accuracy_usec as for sd_event_add_time(): how late a
 * deadline may fire so wake-ups coalesce. */
int timer_queue_new(sd_event *event, clockid_t clock, uint64_t accuracy_usec, timer_queue_handler_t handler,
                    void *userdata, TimerQueue **ret);
/* Entries still armed are forgotten, never called. Accepts NULL, returns NULL. */
TimerQueue *timer_queue_free(TimerQueue *q);

/*
 * Arm e (again) for time when on the queue's clock. An entry armed while the
 * queue is calling handlers for a time already due is called on the next
 * event loop iteration, never within the same dispatch: a handler that
 * re-arms for "now" cannot keep the loop. 0, -EINVAL, or -ENOMEM (e is then unchanged).
 */
int timer_queue_arm(TimerQueue *q, TimerEntry *e, uint64_t when);
void timer_queue_disarm(TimerQueue *q, TimerEntry *e);
static inline bool timer_entry_armed(const TimerEntry *e) {
        return e->pos != 0;
}
size_t timer_queue_size(const TimerQueue *q);
