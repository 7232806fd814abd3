/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-cache.c: libFuzzer target: arbitrary bytes as the cache file that libdnsdisc maps, validates and reads. */

/*
 * The input is the file. Bytes past the header's file_size, which readers
 * map but never use, are read here as a hostile writer's changes: records
 * of (offset u32 LE, length u8, bytes), each applied to the mapping between
 * rounds of reads, without any regard for the seqlock (offsets skip the
 * header's immutable first 64 bytes). Rounds read through the handles and
 * endpoints of the rounds before, as a long-lived client would: cursors,
 * bindings and endpoints go stale under them.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dnsdisc.h"
#include "fuzz-driver.h"

/*
 * The client library's sources are built into this target with -Dmmap=fuzz_mmap
 * -Dmunmap=fuzz_munmap: the "mapping" is then a heap copy of exactly the
 * file's size. A real mapping would hide any over-read that stays within the
 * last page; ASan reports one byte past the copy.
 */
#if !defined(mmap) || !defined(munmap)
#error "build with -Dmmap=fuzz_mmap -Dmunmap=fuzz_munmap"
#endif

/* The newest mapping, which the writer's changes go to. */
static uint8_t *fuzz_map;
static size_t fuzz_map_size;

void *fuzz_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
        void *p = NULL;
        size_t got = 0;

        /* Only what dd_map_open() asks for: a whole file, read-only. */
        FUZZ_ASSERT(!addr && prot == PROT_READ && flags == MAP_SHARED && off == 0 && len > 0);
        if (posix_memalign(&p, 64, len) != 0) {
                errno = ENOMEM;
                return MAP_FAILED;
        }
        while (got < len) {
                ssize_t k = pread(fd, (uint8_t *) p + got, len - got, (off_t) got);

                FUZZ_ASSERT(k > 0);
                got += (size_t) k;
        }
        fuzz_map = p;
        fuzz_map_size = len;
        return p;
}

int fuzz_munmap(void *addr, size_t len) {
        if (addr == fuzz_map)
                fuzz_map = NULL;
        free(addr);
        return 0;
}

/* Bounds that keep one input fast: a file can hold up to a million slots. */
#define SERVICES_MAX 32
#define PICKS 8
#define ROUNDS_MAX 8

/* Apply the next change of the writer script at *script to the mapping. False when there is none. */
static bool writer_step(const uint8_t **script, size_t *left) {
        uint32_t off;
        size_t len;

        if (*left < 5 || !fuzz_map)
                return false;
        off = (uint32_t) (*script)[0] | (uint32_t) (*script)[1] << 8 | (uint32_t) (*script)[2] << 16 |
              (uint32_t) (*script)[3] << 24;
        len = (*script)[4];
        *script += 5;
        *left -= 5;
        if (len > *left)
                len = *left;
        /* Anywhere, the header's immutable first line included: a reader copies the
         * geometry once per mapping, so a writer that breaks the format gets errors, never a fault. */
        off %= fuzz_map_size;
        if (len > fuzz_map_size - off)
                len = fuzz_map_size - off;
        memcpy(fuzz_map + off, *script, len);
        *script += len;
        *left -= len;
        return true;
}

/*
 * strict: the file has not changed since the service's cursors were filled.
 * Picks check each backend's addrlen when they (re)fill a cursor, and then
 * trust the seqlock: after a change made behind its back, only memory safety
 * is left to check.
 */
static void check_endpoint(const dnsdisc_endpoint *e, bool strict) {
        char target[DNSDISC_TARGET_MAX], text[64];
        int r;

        if (strict)
                FUZZ_ASSERT(e->addrlen <= sizeof(e->addr));
        r = dnsdisc_endpoint_target(e, target, sizeof target);
        FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -ESTALE || r == -EAGAIN || r == -ENOBUFS);
        if (r == 0)
                FUZZ_ASSERT(strlen(target) < sizeof target);
        /* Too small a buffer must fail cleanly, never write past it. */
        r = dnsdisc_endpoint_target(e, target, 1);
        FUZZ_ASSERT(r < 0 || target[0] == '\0');
        r = dnsdisc_endpoint_format(e, text, sizeof text);
        if (r == 0)
                FUZZ_ASSERT(strlen(text) < sizeof text);
}

static void check_snapshot(dnsdisc_service *s) {
        static dnsdisc_backend backends[DNSDISC_BACKENDS_MAX];
        dnsdisc_service_info info;
        int n;

        n = dnsdisc_snapshot(s, &info, backends, DNSDISC_BACKENDS_MAX);
        FUZZ_ASSERT(n >= 0 || n == -EBADMSG || n == -EAGAIN || n == -ESRCH);
        if (n < 0)
                return;
        FUZZ_ASSERT(n <= DNSDISC_BACKENDS_MAX && (uint32_t) n == info.n_backends);
        FUZZ_ASSERT(info.n_scheduled <= info.n_backends);
        FUZZ_ASSERT(memchr(info.name, 0, sizeof info.name) && memchr(info.query, 0, sizeof info.query));
        for (int i = 0; i < n; i++) {
                const dnsdisc_backend *b = &backends[i];

                FUZZ_ASSERT((b->addr.sa.sa_family == AF_INET && b->addrlen == sizeof(struct sockaddr_in)) ||
                            (b->addr.sa.sa_family == AF_INET6 && b->addrlen == sizeof(struct sockaddr_in6)));
                FUZZ_ASSERT(memchr(b->target, 0, sizeof b->target));
        }

        /* Too small an array: -ENOBUFS, nothing copied; no array: the count only. */
        if (n > 1)
                FUZZ_ASSERT(dnsdisc_snapshot(s, NULL, backends, 1) == -ENOBUFS);
        n = dnsdisc_snapshot(s, &info, NULL, 0);
        FUZZ_ASSERT((n >= 0 && n <= DNSDISC_BACKENDS_MAX && (uint32_t) n == info.n_backends) || n == -EBADMSG ||
                    n == -EAGAIN || n == -ESRCH);
}

/* Reads, picks and reports on s. Returns whether *ret_kept holds one of the endpoints picked. */
static bool check_service(dnsdisc *d, dnsdisc_service *s, bool strict, dnsdisc_endpoint *ret_kept) {
        dnsdisc_service_info info;
        dnsdisc_service *again;
        dnsdisc_endpoint e, last = {};
        bool have_last = false;
        int r;

        r = dnsdisc_service_info_get(s, &info);
        FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -EAGAIN || r == -ESRCH);
        if (r == 0) {
                FUZZ_ASSERT(memchr(info.name, 0, sizeof info.name));
                FUZZ_ASSERT(info.n_backends <= DNSDISC_BACKENDS_MAX && info.n_scheduled <= info.n_backends);
                (void) dnsdisc_state_name(info.state);
                (void) dnsdisc_error_code_name(info.last_error);
                /* Looking the name up again gives the same handle (unless a writer
                 * renamed the slot in place, which only a broken one does). */
                r = dnsdisc_service_get(d, info.name, &again);
                if (r == 0 && strict)
                        FUZZ_ASSERT(again == s);
        }
        check_snapshot(s);

        for (unsigned i = 0; i < 2 * PICKS; i++) {
                bool random = i >= PICKS;

                r = random ? dnsdisc_pick_random(s, &e) : dnsdisc_pick(s, &e);
                FUZZ_ASSERT(r == 0 || r == -EHOSTUNREACH || r == -EBADMSG || r == -EAGAIN || r == -ESRCH);
                if (r < 0)
                        continue;
                check_endpoint(&e, strict);
                /* Quarantine one endpoint, so that later picks take the skipping path.
                 * -EINVAL: a key of 0, which no writer makes, cannot be quarantined. */
                if (i == 1 || i == PICKS + 1) {
                        r = dnsdisc_report_failure(&e);
                        FUZZ_ASSERT(r == 0 || r == -EINVAL);
                }
                last = e;
                have_last = true;
        }
        /* Consistent hashing and least-request read the same slot through their own cursors. */
        for (unsigned i = 0; i < PICKS; i++) {
                r = dnsdisc_pick_hash(s, dnsdisc_hash(&i, sizeof i), &e);
                FUZZ_ASSERT(r == 0 || r == -EOPNOTSUPP || r == -EHOSTUNREACH || r == -EBADMSG || r == -EAGAIN ||
                            r == -ESRCH);
                if (r == 0)
                        check_endpoint(&e, strict);
                r = dnsdisc_pick_least(s, &e);
                FUZZ_ASSERT(r == 0 || r == -EHOSTUNREACH || r == -EBADMSG || r == -EAGAIN || r == -ESRCH);
                if (r < 0)
                        continue;
                check_endpoint(&e, strict);
                if (i & 1) {
                        r = dnsdisc_release(&e);
                        FUZZ_ASSERT(r == 0 || r == -EINVAL);
                }
        }
        if (have_last) {
                r = dnsdisc_report_success(&last);
                FUZZ_ASSERT(r == 0 || r == -EINVAL);
        }
        /* -EINTR: libFuzzer's timeout alarm can land in the futex wait, even one of no time. */
        r = dnsdisc_wait(s, dnsdisc_generation(s), 0);
        FUZZ_ASSERT(r == 0 || r == 1 || r == -EINTR || r == -EBADMSG || r == -EAGAIN || r == -ESRCH);
        if (have_last)
                *ret_kept = last;
        return have_last;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static dnsdisc_endpoint kept[SERVICES_MAX];
        bool have_kept[SERVICES_MAX] = {};
        dnsdisc_daemon_info di;
        dnsdisc *d = NULL;
        const uint8_t *script;
        size_t script_left;
        uint64_t file_size;
        int r;

        r = dnsdisc_open(fuzz_input_file("fuzz-cache", data, size), &d);
        /* A regular file of any content opens or is refused as corrupt or foreign. */
        FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -EPROTONOSUPPORT);
        if (r < 0)
                return 0;

        /* dnsdisc_open() validated the header: file_size is at offset 16, and at most size. */
        memcpy(&file_size, data + 16, sizeof file_size);
        FUZZ_ASSERT(file_size <= size);
        script = data + file_size;
        script_left = size - (size_t) file_size;

        for (unsigned round = 0; round < ROUNDS_MAX; round++) {
                size_t cursor = 0;

                FUZZ_ASSERT(dnsdisc_daemon_info_get(d, &di) == 0);
                r = dnsdisc_is_stale(d);
                FUZZ_ASSERT(r == 0 || r == 1);
                r = dnsdisc_wait_any(d, dnsdisc_change_counter(d), 0);
                FUZZ_ASSERT(r == 0 || r == 1 || r == -EINTR);

                /* Endpoints of the rounds before: their service may have changed since. */
                for (unsigned i = 0; i < SERVICES_MAX; i++)
                        if (have_kept[i])
                                check_endpoint(&kept[i], false);

                for (unsigned n = 0; n < SERVICES_MAX; n++) {
                        dnsdisc_service *s;
                        dnsdisc_endpoint e;

                        r = dnsdisc_service_next(d, &cursor, &s);
                        FUZZ_ASSERT(r >= 0 || r == -EAGAIN || r == -EBADMSG);
                        if (r <= 0)
                                break;
                        if (check_service(d, s, round == 0, &e)) {
                                kept[n] = e;
                                have_kept[n] = true;
                        }
                }
                if (!writer_step(&script, &script_left))
                        break;
        }
        FUZZ_ASSERT(dnsdisc_close(d) == NULL);
        FUZZ_ASSERT(!fuzz_map);
        return 0;
}
