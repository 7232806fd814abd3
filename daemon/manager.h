/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* manager.h: the daemon's top level: event loop, signals, services, cache writer, heartbeat, readiness. */
#pragma once

#include "config.h"

typedef struct Manager Manager;

/* Takes ownership of config. config_path is re-read on SIGHUP. */
int manager_new(Config *config, const char *config_path, Manager **ret);
Manager *manager_free(Manager *m);
/* Run until SIGTERM/SIGINT. Returns 0 on a clean stop. */
int manager_run(Manager *m);
