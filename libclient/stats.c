/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stats.c: libdnsdisc's counter readers, for monitoring (dnsdiscctl stats). */
#include <errno.h>
#include <string.h>

#include "internal.h"

/* The public indices are the file's: both are ABI, so they may never drift apart. */
_Static_assert((int) DNSDISC_SERVICE_COUNTER_RESOLUTIONS == (int) DD_SCTR_RESOLUTIONS &&
               (int) DNSDISC_SERVICE_COUNTER_QUERIES == (int) DD_SCTR_QUERIES &&
               (int) DNSDISC_SERVICE_COUNTER_ERR_TIMEOUT == (int) DD_SCTR_ERR_TIMEOUT &&
               (int) DNSDISC_SERVICE_COUNTER_ERR_SERVFAIL == (int) DD_SCTR_ERR_SERVFAIL &&
               (int) DNSDISC_SERVICE_COUNTER_ERR_REFUSED == (int) DD_SCTR_ERR_REFUSED &&
               (int) DNSDISC_SERVICE_COUNTER_ERR_NXDOMAIN == (int) DD_SCTR_ERR_NXDOMAIN &&
               (int) DNSDISC_SERVICE_COUNTER_ERR_NODATA == (int) DD_SCTR_ERR_NODATA &&
               (int) DNSDISC_SERVICE_COUNTER_ERR_OTHER == (int) DD_SCTR_ERR_OTHER &&
               (int) DNSDISC_SERVICE_COUNTER_CHECKS == (int) DD_SCTR_CHECKS &&
               (int) DNSDISC_SERVICE_COUNTER_CHECK_FAILURES == (int) DD_SCTR_CHECK_FAILURES &&
               (int) DNSDISC_SERVICE_COUNTER_NOTIFY_ROUNDS == (int) DD_SCTR_NOTIFY_ROUNDS &&
               (int) DNSDISC_SERVICE_COUNTER_NOTIFY_LAST_USEC == (int) DD_SCTR_NOTIFY_LAST_USEC &&
               _DD_SCTR_MAX == 12 && (int) DNSDISC_SERVICE_COUNTERS_MAX == (int) DD_SCTR_SLOTS,
               "public service counter indices match DD_SCTR_*");
_Static_assert((int) DNSDISC_DAEMON_COUNTER_QUERIES == (int) DD_DCTR_QUERIES &&
               (int) DNSDISC_DAEMON_COUNTER_RESOLUTIONS == (int) DD_DCTR_RESOLUTIONS &&
               (int) DNSDISC_DAEMON_COUNTER_RESOLUTION_ERRORS == (int) DD_DCTR_RESOLUTION_ERRORS &&
               (int) DNSDISC_DAEMON_COUNTER_CHECKS == (int) DD_DCTR_CHECKS &&
               (int) DNSDISC_DAEMON_COUNTER_CHECK_FAILURES == (int) DD_DCTR_CHECK_FAILURES &&
               (int) DNSDISC_DAEMON_COUNTER_PUBLISHES == (int) DD_DCTR_PUBLISHES &&
               (int) DNSDISC_DAEMON_COUNTER_FILE_REPLACEMENTS == (int) DD_DCTR_FILE_REPLACEMENTS &&
               (int) DNSDISC_DAEMON_COUNTER_RELOADS == (int) DD_DCTR_RELOADS &&
               (int) DNSDISC_DAEMON_COUNTER_NOTIFY_RECEIVED == (int) DD_DCTR_NOTIFY_RECEIVED &&
               (int) DNSDISC_DAEMON_COUNTER_NOTIFY_REFUSED == (int) DD_DCTR_NOTIFY_REFUSED &&
               (int) DNSDISC_DAEMON_COUNTER_NOTIFY_BAD_TSIG == (int) DD_DCTR_NOTIFY_BAD_TSIG &&
               (int) DNSDISC_DAEMON_COUNTER_NOTIFY_MALFORMED == (int) DD_DCTR_NOTIFY_MALFORMED &&
               (int) DNSDISC_DAEMON_COUNTER_NOTIFY_COALESCED == (int) DD_DCTR_NOTIFY_COALESCED &&
               (int) DNSDISC_DAEMON_COUNTER_NOTIFY_ROUNDS == (int) DD_DCTR_NOTIFY_ROUNDS &&
               (int) DNSDISC_DAEMON_COUNTER_UPDATES == (int) DD_DCTR_UPDATES &&
               (int) DNSDISC_DAEMON_COUNTER_UPDATE_FAILURES == (int) DD_DCTR_UPDATE_FAILURES &&
               (int) DNSDISC_DAEMON_COUNTER_REGISTRATIONS == (int) DD_DCTR_REGISTRATIONS &&
               (int) DNSDISC_DAEMON_COUNTER_WITHDRAWALS == (int) DD_DCTR_WITHDRAWALS &&
               _DD_DCTR_MAX == 18 && (int) DNSDISC_DAEMON_COUNTERS_MAX == (int) DD_DCTR_SLOTS,
               "public daemon counter indices match DD_DCTR_*");

_public_ int dnsdisc_service_counters(dnsdisc_service *s, uint64_t *ret, size_t n) {
        unsigned rebinds = 0;
        int r;

        if (!s || (!ret && n > 0))
                return -EINVAL;
        if (n > DD_SCTR_SLOTS)
                n = DD_SCTR_SLOTS;

        dd_look_if_due(s->d);
        for (unsigned attempt = 0; attempt < DD_READ_RETRIES; attempt++) {
                uint64_t c[DD_SCTR_SLOTS];
                dd_slot_view v;
                uint32_t seq;
                dd_binding b;

                dd_binding_get(s, &b);
                if (!dd_slot_read_begin(&b, &v, &seq))
                        continue;
                for (size_t i = 0; i < n; i++)
                        c[i] = DD_READ(b.slot->counters[i]);
                r = dd_slot_read_end(s, &b, &v, seq, &rebinds);
                if (r > 0)
                        continue;
                if (r < 0)
                        return r;
                if (n > 0)
                        memcpy(ret, c, n * sizeof(c[0]));
                return (int) n;
        }
        return -EAGAIN;
}

_public_ int dnsdisc_daemon_counters(dnsdisc *d, uint64_t *ret, size_t n) {
        const dd_header *h;

        if (!d || (!ret && n > 0))
                return -EINVAL;
        if (n > DD_DCTR_SLOTS)
                n = DD_DCTR_SLOTS;
        /* For its side effect: move on to the newer file if this one was
         * replaced, whose counters carry on where these stopped. */
        (void) dnsdisc_change_counter(d);
        h = atomic_load_explicit(&d->map, memory_order_acquire)->header;
        for (size_t i = 0; i < n; i++)
                ret[i] = atomic_load_explicit(&h->counters[i], memory_order_relaxed);
        return (int) n;
}
