/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* records-ldns.h: records.c's ldns helpers for the daemon's other ldns users (notify-wire.c, update-wire.c); names ldns types, so only they include it. */
#pragma once

#include <ldns/ldns.h>

#include "records.h"

/* The one place where ldns status codes become errnos: OK 0, MEM_ERR -ENOMEM, any other -EBADMSG. */
int records_errno_from_ldns(ldns_status s);

/* An rdf holding a DNS name, as the normalised text the rest of the daemon uses ("" for the root).
 * -EBADMSG if it is not a name or does not normalise, -ENOMEM. */
int records_name_of_rdf(const ldns_rdf *d, char out[static RECORDS_NAME_MAX]);
