/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* log.c: leveled logging to stderr, with sd-daemon priority prefixes under systemd. */
#include <stdarg.h>
#include <stdlib.h>

#include "log.h"

#define REPEAT_WINDOW_USEC (30 * USEC_PER_SEC)
#define REPEAT_SLOTS 1024 /* more than the daemon has log call sites */

static int max_level = LOG_INFO;

/* Identical lines from one call site within REPEAT_WINDOW_USEC are counted,
 * not printed: a server failing every second must not flood the journal.
 * One entry per call site (open addressing, never evicted), so lines from
 * different sites interleaving cannot defeat it. */
static struct {
        const char *file;
        int line;
        uint64_t hash;
        uint64_t printed_usec;
        unsigned suppressed;
} repeats[REPEAT_SLOTS];

static uint64_t hash_text(const char *s) {
        uint64_t h = 0xcbf29ce484222325ULL;
        for (; *s; s++)
                h = (h ^ (unsigned char) *s) * 0x100000001b3ULL;
        return h;
}

/* Returns true if the line should be suppressed; *ret_repeats is the count
 * suppressed before a line that is printed. */
static bool log_repeated(const char *file, int line, const char *msg, unsigned *ret_repeats) {
        size_t i = ((uintptr_t) file / 8 + (size_t) line * 31) % REPEAT_SLOTS;
        uint64_t h = hash_text(msg), now = now_usec(CLOCK_MONOTONIC);

        *ret_repeats = 0;
        for (size_t probes = 0; repeats[i].file && (repeats[i].file != file || repeats[i].line != line);
             i = (i + 1) % REPEAT_SLOTS)
                if (++probes == REPEAT_SLOTS)
                        return false; /* table full: print */
        if (repeats[i].file && repeats[i].hash == h && now - repeats[i].printed_usec < REPEAT_WINDOW_USEC) {
                repeats[i].suppressed++;
                return true;
        }
        if (repeats[i].file && repeats[i].hash == h)
                *ret_repeats = repeats[i].suppressed;
        repeats[i].file = file;
        repeats[i].line = line;
        repeats[i].hash = h;
        repeats[i].printed_usec = now;
        repeats[i].suppressed = 0;
        return false;
}

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

int log_level_from_string(const char *s) {
        static const struct {
                const char *name;
                int level;
        } table[] = {
                { "err", LOG_ERR },       { "error", LOG_ERR },   { "warning", LOG_WARNING },
                { "warn", LOG_WARNING },  { "notice", LOG_NOTICE }, { "info", LOG_INFO },
                { "debug", LOG_DEBUG },
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (streq(s, table[i].name))
                        return table[i].level;
        return -EINVAL;
}

int log_internal(int level, int err, const char *file, int line, const char *fmt, ...) {
        if (err > 0)
                err = -err;
        if (level > max_level)
                return err;

        int saved = errno;
        /* Under systemd, stderr goes to the journal: "<N>" sets the priority.
         * On a terminal or in tests, plain text. */
        static int journal = -1;
        if (journal < 0)
                journal = getenv("JOURNAL_STREAM") != NULL;

        char msg[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);

        unsigned repeated;
        if (log_repeated(file, line, msg, &repeated)) {
                errno = saved;
                return err;
        }
        char tail[64] = "";
        if (repeated > 0)
                snprintf(tail, sizeof tail, " (and %u times more in the last %llus)", repeated,
                         (unsigned long long) (REPEAT_WINDOW_USEC / USEC_PER_SEC));
        if (journal)
                fprintf(stderr, "<%d>%s%s\n", level, msg, tail);
        else
                fprintf(stderr, "dnsdiscd: %s%s\n", msg, tail);
        errno = saved;
        return err;
}
