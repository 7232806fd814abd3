/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-notify.c: libFuzzer target: arbitrary bytes as a message to the DNS NOTIFY listener, with and without a TSIG key. */
#include <string.h>

#include "fuzz-driver.h"
#include "notify-wire.h"

/* The key corpus-notify/notify-signed was signed with (by tests/notify-send), and the time it
 * says it was signed at: a fixed "now" inside its fudge, so the seed reaches the MAC check on
 * every run, and mutations of it explore the TSIG paths. */
#define KEY "fuzz-key:hmac-sha256:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg=="
#define NOW 1796621990

static void check(const uint8_t *data, size_t size, bool allowed, const NotifyKey *key) {
        NotifyRequest r;
        char again[RECORDS_NAME_MAX];

        FUZZ_ASSERT(notify_wire_handle(data, size, allowed, key, NOW, &r) == 0);
        FUZZ_ASSERT(r.verdict >= NOTIFY_ACCEPTED && r.verdict <= NOTIFY_BAD_TSIG);
        FUZZ_ASSERT((r.verdict == NOTIFY_DROPPED) == (r.answer == NULL));
        if (r.answer) {
                /* An answer: at least a header, the request's ID, QR set, never QR for a response. */
                FUZZ_ASSERT(r.answer_len >= 12);
                FUZZ_ASSERT(r.answer[0] == data[0] && r.answer[1] == data[1]);
                FUZZ_ASSERT(r.answer[2] & 0x80);
                FUZZ_ASSERT(!(data[2] & 0x80));
                FUZZ_ASSERT(((r.answer[3] & 0x0f) == 0) == (r.verdict == NOTIFY_ACCEPTED));
        }
        if (r.verdict == NOTIFY_ACCEPTED) {
                FUZZ_ASSERT(allowed);
                FUZZ_ASSERT(memchr(r.zone, 0, sizeof r.zone));
                if (r.zone[0]) {
                        FUZZ_ASSERT(records_normalize_name(r.zone, again, sizeof again) == 0);
                        FUZZ_ASSERT(strcmp(r.zone, again) == 0);
                }
        } else {
                FUZZ_ASSERT(r.zone[0] == '\0');
                FUZZ_ASSERT(r.why != NULL);
        }
        notify_request_done(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static NotifyKey key;
        static bool have_key;
        const char *what;

        if (!have_key) {
                FUZZ_ASSERT(notify_key_parse(KEY, &key, &what) == 0);
                have_key = true;
        }
        check(data, size, true, NULL);
        check(data, size, false, NULL);
        check(data, size, true, &key);
        /* The key-file parser takes text: the same bytes, as far as the first NUL. */
        char text[2048];
        size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
        memcpy(text, data, n);
        text[n] = 0;
        NotifyKey k;
        if (notify_key_parse_file(text, &k, &what) == 0)
                FUZZ_ASSERT(k.name[0] && k.algorithm[0] && k.secret[0]);
        else
                FUZZ_ASSERT(what != NULL);
        return 0;
}
