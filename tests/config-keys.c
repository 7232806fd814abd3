/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* config-keys.c: prints the keys dnsdisc.conf accepts, one "daemon KEY", "service KEY" or "register KEY" a line, for test-man-keys.sh. */
#include <stdio.h>

/* Not "config.h": the build directory's autoconf header would shadow it. */
#include "config.h"

int main(void) {
        for (const char *const *k = config_daemon_keys; *k; k++)
                printf("daemon %s\n", *k);
        for (const char *const *k = config_service_keys; *k; k++)
                printf("service %s\n", *k);
        for (const char *const *k = config_register_keys; *k; k++)
                printf("register %s\n", *k);
        return fflush(stdout) == 0 ? 0 : 1;
}
