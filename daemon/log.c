/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* log.c: leveled logging to stderr, with sd-daemon priority prefixes under systemd. */
#include <stdarg.h>
#include <stdlib.h>

#include "log.h"

static int max_level = LOG_INFO;

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

        if (journal)
                fprintf(stderr, "<%d>%s\n", level, msg);
        else
                fprintf(stderr, "dnsdiscd: %s\n", msg);
        (void) file;
        (void) line;
        errno = saved;
        return err;
}
