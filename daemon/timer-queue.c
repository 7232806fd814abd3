/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* timer-queue.c: many one-shot deadlines on one sd-event timer (a binary min-heap). */
#include "timer-queue.h"
#include "util.h"

struct TimerQueue {
        sd_event *event;
        clockid_t clock;
        sd_event_source *timer;
        timer_queue_handler_t handler;
        void *userdata;
        TimerEntry **heap;
        size_t n, allocated;
        uint64_t timer_at;     /* what the source is set to; USEC_INFINITY: off */
        bool dispatching;
        uint64_t dispatch_now; /* the time being dispatched */
};

static void heap_put(TimerQueue *q, size_t i, TimerEntry *e) {
        q->heap[i] = e;
        e->pos = i + 1;
}

static void sift_up(TimerQueue *q, size_t i) {
        TimerEntry *e = q->heap[i];
        while (i > 0) {
                size_t parent = (i - 1) / 2;
                if (q->heap[parent]->when <= e->when)
                        break;
                heap_put(q, i, q->heap[parent]);
                i = parent;
        }
        heap_put(q, i, e);
}

static void sift_down(TimerQueue *q, size_t i) {
        TimerEntry *e = q->heap[i];
        for (;;) {
                size_t c = 2 * i + 1;
                if (c >= q->n)
                        break;
                if (c + 1 < q->n && q->heap[c + 1]->when < q->heap[c]->when)
                        c++;
                if (e->when <= q->heap[c]->when)
                        break;
                heap_put(q, i, q->heap[c]);
                i = c;
        }
        heap_put(q, i, e);
}

static void heap_remove(TimerQueue *q, TimerEntry *e) {
        size_t i = e->pos - 1;
        TimerEntry *last = q->heap[--q->n];

        e->pos = 0;
        if (last == e)
                return;
        heap_put(q, i, last);
        if (i > 0 && q->heap[(i - 1) / 2]->when > last->when)
                sift_up(q, i);
        else
                sift_down(q, i);
}

/* Point the sd-event timer at the earliest deadline, touching it only when that changed. */
static void queue_update(TimerQueue *q) {
        uint64_t at = q->n > 0 ? q->heap[0]->when : USEC_INFINITY;

        if (q->dispatching || at == q->timer_at)
                return;
        if (at == USEC_INFINITY)
                (void) sd_event_source_set_enabled(q->timer, SD_EVENT_OFF);
        else if (sd_event_source_set_time(q->timer, at) < 0 ||
                 sd_event_source_set_enabled(q->timer, SD_EVENT_ONESHOT) < 0)
                return; /* never fails for a valid timer source; timer_at stays, so the next change retries */
        q->timer_at = at;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        TimerQueue *q = userdata;
        uint64_t now;

        q->timer_at = USEC_INFINITY; /* a oneshot source is off once it fired */
        if (sd_event_now(q->event, q->clock, &now) < 0)
                now = usec;
        q->dispatching = true;
        q->dispatch_now = now;
        while (q->n > 0 && q->heap[0]->when <= now) {
                TimerEntry *e = q->heap[0];
                heap_remove(q, e);
                q->handler(e, q->userdata);
        }
        q->dispatching = false;
        queue_update(q);
        return 0;
}

int timer_queue_new(sd_event *event, clockid_t clock, uint64_t accuracy_usec, timer_queue_handler_t handler,
                    void *userdata, TimerQueue **ret) {
        TimerQueue *q;
        int r;

        if (!event || !handler || !ret)
                return -EINVAL;
        q = calloc(1, sizeof *q);
        if (!q)
                return -ENOMEM;
        *q = (TimerQueue) {
                .event = sd_event_ref(event),
                .clock = clock,
                .handler = handler,
                .userdata = userdata,
                .timer_at = USEC_INFINITY,
        };
        r = sd_event_add_time(event, &q->timer, clock, USEC_INFINITY, accuracy_usec, on_timer, q);
        if (r >= 0)
                r = sd_event_source_set_enabled(q->timer, SD_EVENT_OFF);
        if (r < 0) {
                timer_queue_free(q);
                return r;
        }
        *ret = q;
        return 0;
}

TimerQueue *timer_queue_free(TimerQueue *q) {
        if (!q)
                return NULL;
        for (size_t i = 0; i < q->n; i++)
                q->heap[i]->pos = 0;
        sd_event_source_disable_unref(q->timer);
        sd_event_unref(q->event);
        free(q->heap);
        free(q);
        return NULL;
}

int timer_queue_arm(TimerQueue *q, TimerEntry *e, uint64_t when) {
        if (!q || !e)
                return -EINVAL;
        if (q->dispatching && when <= q->dispatch_now)
                when = q->dispatch_now + 1;
        if (e->pos != 0) {
                uint64_t old = e->when;
                e->when = when;
                if (when < old)
                        sift_up(q, e->pos - 1);
                else
                        sift_down(q, e->pos - 1);
        } else {
                if (q->n == q->allocated) {
                        size_t a = MAX(q->allocated * 2, (size_t) 64);
                        TimerEntry **h = reallocarray(q->heap, a, sizeof *h);
                        if (!h)
                                return -ENOMEM;
                        q->heap = h;
                        q->allocated = a;
                }
                e->when = when;
                q->heap[q->n++] = e;
                sift_up(q, q->n - 1);
        }
        queue_update(q);
        return 0;
}

void timer_queue_disarm(TimerQueue *q, TimerEntry *e) {
        if (!q || e->pos == 0)
                return;
        heap_remove(q, e);
        queue_update(q);
}

size_t timer_queue_size(const TimerQueue *q) {
        return q ? q->n : 0;
}
