/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* names.c: libdnsdisc's texts: error messages, code names, the version. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "internal.h"

_public_ const char *dnsdisc_version(void) {
        return PACKAGE_VERSION;
}

_public_ const char *dnsdisc_strerror(int err) {
        const char *t;

        if (err < 0)
                err = err == INT_MIN ? INT_MAX : -err;
        switch (err) {
        case 0:
                return "success";
        case ENOENT:
                return "no cache file: dnsdiscd is not running";
        case ESRCH:
                return "unknown service";
        case EHOSTUNREACH:
                return "no backend available";
        case EPROTONOSUPPORT:
                return "incompatible cache file version";
        case EBADMSG:
                return "corrupt cache file";
        case EAGAIN:
                return "cache kept changing: try again";
        case ENOBUFS:
                return "buffer too small";
        case ESTALE:
                return "endpoint no longer in the service's set";
        case EOPNOTSUPP:
                return "service has no hash table (hash = off)";
        }
        /* strerrordesc_np: constant strings, unlike strerror()'s buffer for unknown codes. */
        t = strerrordesc_np(err);
        return t ? t : "unknown error";
}

_public_ const char *dnsdisc_state_name(unsigned state) {
        return dd_state_name(state);
}

_public_ const char *dnsdisc_health_name(unsigned health) {
        /* A value of the API, not of the file: an up backend flagged DD_BACKEND_UNCHECKED. */
        if (health == DNSDISC_HEALTH_UNCHECKED)
                return "unchecked";
        return dd_health_name(health);
}

_public_ const char *dnsdisc_source_name(unsigned source) {
        return dd_source_name(source);
}

_public_ const char *dnsdisc_error_code_name(unsigned code) {
        return dd_error_name(code);
}
