/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* log.h: leveled logging of the daemon (stderr now; journal when run by systemd). */
#pragma once

#include <syslog.h>

#include "util.h"

/* Levels are syslog priorities: LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG. */
void log_set_max_level(int level);
int log_get_max_level(void);
/* "err", "warning", "notice", "info", "debug" (and "error", "warn") -> level, or -EINVAL. */
int log_level_from_string(const char *s);

/* Logs and returns -abs(err) (or 0 when err is 0), so callers can write
 * "return log_error_errno(r, ...)". %m is not special: use strerror(). */
int log_internal(int level, int err, const char *file, int line, const char *fmt, ...) _printf_(5, 6);

#define log_full_errno(level, err, ...) log_internal((level), (err), __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_warning_errno(err, ...) log_full_errno(LOG_WARNING, (err), __VA_ARGS__)
#define log_error_errno(err, ...) log_full_errno(LOG_ERR, (err), __VA_ARGS__)
#define log_debug_errno(err, ...) log_full_errno(LOG_DEBUG, (err), __VA_ARGS__)
