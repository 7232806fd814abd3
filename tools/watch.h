/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* watch.h: dnsdiscctl watch: a live view of the cache, redrawn when a generation changes. */
#pragma once

#include <dnsdisc.h>

typedef struct WatchOptions {
        const char *service;    /* NULL: every service; else one service's backends */
        const char *cache_path; /* shown in the title */
        unsigned iterations;    /* views drawn before returning; 0: until q or a signal */
} WatchOptions;

/*
 * Show the cache until q, SIGINT, SIGTERM or SIGHUP, or until o->iterations
 * views were drawn. On a terminal (stdout a tty, $TERM not "dumb"): a screen
 * redrawn on every change and every second (TTL countdowns), in colour unless
 * $NO_COLOR is set. Otherwise: a block of `list`/`show` text per change.
 * Keys (q, Ctrl-L) are read when stdin is the controlling terminal and we are
 * in its foreground. The terminal is restored before returning, on every
 * path. Returns 0, or the signal that ended it in *ret_signal (the caller
 * re-raises it once its own cleanup is done), or a negative errno.
 */
int watch_run(dnsdisc *d, const WatchOptions *o, int *ret_signal);
