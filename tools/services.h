/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* services.h: a consistent-enough listing of every service in the cache, for list, watch and stats. */
#pragma once

#include <stddef.h>

#include <dnsdisc.h>

/*
 * Every service now in the cache, sorted by name: infos[i] describes
 * handles[i]. Services removed while listing are left out. The caller frees
 * both arrays (free()); the handles belong to d. ret_handles may be NULL.
 * On failure nothing is returned and the error is a negative errno.
 */
int services_collect(dnsdisc *d, dnsdisc_service_info **ret_infos, dnsdisc_service ***ret_handles, size_t *ret_n);
