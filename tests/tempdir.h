/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tempdir.h: a unit test's private directory under /tmp with the cache path in it, and its removal. */
#pragma once

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "util.h"

/* Makes /tmp/NAME.XXXXXX into dir (64 bytes) and sets path (96 bytes) to its "cache"; 0, or -1 with nothing made. */
static inline int tempdir_make(const char *name, char dir[static 64], char path[static 96]) {
        snprintf(dir, 64, "/tmp/%s.XXXXXX", name);
        if (!mkdtemp(dir))
                return -1;
        snprintf(path, 96, "%s/cache", dir);
        return 0;
}

/* Removes dir and the files in it (the tests make no subdirectories); errors are ignored. */
static inline void tempdir_remove(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;

        while (d && (de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        if (d)
                closedir(d);
        (void) rmdir(dir);
}
