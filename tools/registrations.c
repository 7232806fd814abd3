/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* registrations.c: dnsdiscctl registrations: the registration agent's state file (CACHE.registrations) as a table or JSON. */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <string.h>

#include "registrations.h"
#include "util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

static const char *str(json_object *o, const char *key) {
        json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
                       ? json_object_get_string(v)
                       : "";
}

static int64_t num(json_object *o, const char *key) {
        json_object *v;
        return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

/* "12s ago", "in 3m", "-" */
static const char *rel(char *buf, size_t size, int64_t at, int64_t now) {
        if (at <= 0)
                return "-";
        int64_t d = (at > now ? at - now : now - at) / 1000000;
        const char *u = "s";
        if (d >= 7200) {
                d /= 3600;
                u = "h";
        } else if (d >= 120) {
                d /= 60;
                u = "m";
        }
        snprintf(buf, size, at > now ? "in %" PRId64 "%s" : "%" PRId64 "%s ago", d, u);
        return buf;
}

int print_registrations(const char *path, bool json, int64_t now, FILE *f) {
        _cleanup_(json_object_putp) json_object *root = json_object_from_file(path);
        json_object *list;

        if (!root)
                return access(path, F_OK) < 0 ? -errno : -EBADMSG;
        if (!json_object_object_get_ex(root, "registrations", &list) || !json_object_is_type(list, json_type_array))
                return -EBADMSG;
        if (json) {
                fprintf(f, "%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY));
                return ferror(f) ? -EIO : 0;
        }
        fprintf(f, "%-16s %-11s %-9s %-40s %-24s %-12s %s\n", "NAME", "STATE", "CHECK", "RECORD", "LAST RESULT",
                "WHEN", "NEXT");
        for (size_t i = 0; i < json_object_array_length(list); i++) {
                json_object *r = json_object_array_get_idx(list, i);
                char record[600], when[32], next[32];
                snprintf(record, sizeof record, "%s SRV %" PRId64 " %" PRId64 " %" PRId64 " %s", str(r, "srv"),
                         num(r, "priority"), num(r, "weight"), num(r, "port"), str(r, "target"));
                fprintf(f, "%-16s %-11s %-9s %-40s %-24s %-12s %s\n", str(r, "name"), str(r, "state"),
                        str(r, "health"), record, str(r, "last_result")[0] ? str(r, "last_result") : "-",
                        rel(when, sizeof when, num(r, "last_update_usec"), now),
                        rel(next, sizeof next, num(r, "next_usec"), now));
        }
        return ferror(f) ? -EIO : 0;
}
