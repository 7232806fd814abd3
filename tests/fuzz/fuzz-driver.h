/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-driver.h: the fuzz targets' assertion macro, and a main() replaying files through a target (non-libFuzzer builds). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* A broken invariant is a crash like any other: libFuzzer saves the input. */
#define FUZZ_ASSERT(x)                                                                                 \
        do {                                                                                           \
                if (!(x)) {                                                                            \
                        fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #x);      \
                        abort();                                                                       \
                }                                                                                      \
        } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include <sys/mman.h>
#include <unistd.h>

/* The input as the whole content of a memory file (made on the first call, name shown in
 * /proc/self/fd): its path, the same for the whole process. */
static inline const char *fuzz_input_file(const char *name, const uint8_t *data, size_t size) {
        static int fd = -1;
        static char path[64];
        size_t done = 0;

        if (fd < 0) {
                fd = memfd_create(name, MFD_CLOEXEC);
                FUZZ_ASSERT(fd >= 0);
                snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        }
        FUZZ_ASSERT(ftruncate(fd, 0) == 0);
        while (done < size) {
                ssize_t k = pwrite(fd, data + done, size - done, (off_t) done);

                FUZZ_ASSERT(k > 0);
                done += (size_t) k;
        }
        return path;
}

#ifndef FUZZING
/*
 * Built without -DFUZZING (make check), a target is a program replaying
 * inputs: fuzz-X PATH... runs the target once per file, and per regular file
 * of each directory in name order (dot files skipped), then prints
 * "replayed N inputs". Any crash or failed FUZZ_ASSERT ends it abnormally.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fuzz_replay_file(const char *path, size_t *n_inputs) {
        struct stat st;
        uint8_t *buf = NULL;
        size_t got = 0;
        int fd, r;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                r = -errno;
                goto done;
        }
        /* Exactly the input's size, so ASan sees a one-byte over-read as libFuzzer would. */
        buf = malloc(st.st_size > 0 ? (size_t) st.st_size : 1);
        if (!buf) {
                r = -ENOMEM;
                goto done;
        }
        while (got < (size_t) st.st_size) {
                ssize_t k = read(fd, buf + got, (size_t) st.st_size - got);

                if (k <= 0) {
                        r = k < 0 ? -errno : -EIO;
                        goto done;
                }
                got += (size_t) k;
        }
        LLVMFuzzerTestOneInput(buf, got);
        (*n_inputs)++;
        r = 0;
done:
        free(buf);
        close(fd);
        return r;
}

static int fuzz_skip_dot(const struct dirent *de) {
        return de->d_name[0] != '.';
}

static int fuzz_replay_path(const char *path, size_t *n_inputs) {
        struct dirent **list = NULL;
        struct stat st;
        int n, r = 0;

        if (stat(path, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return fuzz_replay_file(path, n_inputs);

        n = scandir(path, &list, fuzz_skip_dot, alphasort);
        if (n < 0)
                return -errno;
        for (int i = 0; i < n; i++) {
                char *file = NULL;

                if (r == 0) {
                        if (asprintf(&file, "%s/%s", path, list[i]->d_name) < 0)
                                r = -ENOMEM;
                        else if (stat(file, &st) == 0 && S_ISREG(st.st_mode))
                                r = fuzz_replay_file(file, n_inputs);
                        if (r < 0)
                                fprintf(stderr, "%s: %s\n", file ? file : path, strerror(-r));
                }
                free(file);
                free(list[i]);
        }
        free(list);
        return r;
}

int main(int argc, char **argv) {
        size_t n_inputs = 0;

        if (argc < 2) {
                fprintf(stderr, "Usage: %s FILE|DIRECTORY...\n", argv[0]);
                return 2;
        }
        for (int i = 1; i < argc; i++) {
                int r = fuzz_replay_path(argv[i], &n_inputs);

                if (r < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(-r));
                        return 1;
                }
        }
        printf("replayed %zu inputs\n", n_inputs);
        return 0;
}
#endif
