/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* resolve-edns.c: a DNS channel that lost EDNS after a FORMERR without OPT, replaced by a new one with EDNS. */
#include <inttypes.h>

#include "log.h"
#include "resolve-internal.h"

/* c-ares 1.18 turns EDNS off for the whole channel after one FORMERR without an OPT record; a
 * new channel with EDNS takes over this long after, at the most once per this interval. */
#define EDNS_RESTORE_USEC USEC_PER_SEC

void edns_answer_read(Channel *c, const uint8_t *h, size_t len) {
        unsigned rcode = h[3] & 0x0f;

        /* FORMERR with ARCOUNT 0 carries no OPT: what makes c-ares drop EDNS. */
        if (rcode == 1 && len >= 12 && h[10] == 0 && h[11] == 0)
                c->formerr_seen = true;
}

static int edns_restore(sd_event_source *s, uint64_t usec, void *userdata) {
        Resolver *r = userdata;
        int k;

        r->edns_restored_usec = usec;
        r->edns_restores++;
        k = resolver_replace_channel(r);
        if (k < 0)
                log_warning_errno(k, "Cannot restore EDNS with a new DNS channel: %s", strerror(-k));
        else
                log_info("EDNS restored on a new DNS channel (%" PRIu64 " time%s)", r->edns_restores,
                         r->edns_restores == 1 ? "" : "s");
        return 0;
}

/*
 * c-ares 1.18 retries a query without EDNS when an answer is FORMERR without OPT, and turns EDNS
 * off for the whole channel while at it: one name served by a broken server, or one forged
 * answer, and every later query of every service goes without EDNS, large sets by UDP, TC and
 * TCP. When the channel has lost EDNS, a new one takes over within EDNS_RESTORE_USEC.
 */
void edns_check(Channel *c) {
        Resolver *r = c->resolver;
        struct ares_options o;
        int mask = 0;
        uint64_t now, at;

        if (!c->formerr_seen)
                return;
        c->formerr_seen = false;
        if (c != r->current || sd_event_source_get_enabled(r->edns_restore, NULL) > 0)
                return;
        if (ares_save_options(c->ares, &o, &mask) != ARES_SUCCESS)
                return;
        bool edns = o.flags & ARES_FLAG_EDNS;
        ares_destroy_options(&o);
        if (edns)
                return;
        (void) sd_event_now(r->event, CLOCK_MONOTONIC, &now);
        at = MAX(now, r->edns_restored_usec + EDNS_RESTORE_USEC);
        log_debug("A FORMERR answer without OPT turned EDNS off: a new DNS channel takes over in %" PRIu64 " ms",
                  (at - now) / USEC_PER_MSEC);
        (void) sd_event_source_set_time(r->edns_restore, at);
        (void) sd_event_source_set_enabled(r->edns_restore, SD_EVENT_ONESHOT);
}

int edns_restore_add(Resolver *r) {
        int k = sd_event_add_time(r->event, &r->edns_restore, CLOCK_MONOTONIC, USEC_INFINITY, USEC_PER_MSEC,
                                  edns_restore, r);
        if (k < 0)
                return k;
        (void) sd_event_source_set_enabled(r->edns_restore, SD_EVENT_OFF);
        (void) sd_event_source_set_description(r->edns_restore, "dns-edns-restore");
        return 0;
}
