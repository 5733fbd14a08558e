/* plan.h - from targets and matrix options to the list of endpoints. */
#ifndef MP_PLAN_H
#define MP_PLAN_H

#include <stddef.h>
#include "options.h"
#include "result.h"

/* Parses an endpoint URL such as "smtp+starttls://127.0.0.1:2525" or
 * "imaps://[::1]". Returns 1 when arg is a valid URL (ep filled, proxy NULL),
 * 0 when arg is not a URL at all (no "://"), -1 when it is a bad URL (err). */
int plan_parse_url(const char *arg, struct endpoint *ep, struct mp_error *err);

/* Checks a bare host argument (name, IPv4, IPv6 with or without brackets)
 * and copies it without brackets. Returns 0 or -1 with err. */
int plan_parse_host(const char *arg, char *host, size_t hostsz, struct mp_error *err);

/* Builds every endpoint of the run (targets x matrix x paths) into a new
 * array. Returns 0 or -1 with err (e.g. a port whose protocol is unknown). */
int plan_build(const struct run_options *opt, struct endpoint **eps, size_t *n,
	       struct mp_error *err);

#endif
