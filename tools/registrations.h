/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* registrations.h: dnsdiscctl registrations: the registration agent's state file (CACHE.registrations) as a table or JSON. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Read path (written by dnsdiscd, replaced by rename) and print it; now_usec is CLOCK_REALTIME.
 * -ENOENT when dnsdiscd writes none (no [register] section, or an older daemon), -EBADMSG when
 * it is not the expected JSON. */
int print_registrations(const char *path, bool json, int64_t now_usec, FILE *f);
