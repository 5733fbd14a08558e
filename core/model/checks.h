/* checks.h - which active checks a run selects, and their settings (data
 * only; the checks, their names and the parsing of --checks are the table of
 * probe/engine/checks.c). */
#ifndef MP_MODEL_CHECKS_H
#define MP_MODEL_CHECKS_H

#include <stddef.h>
#include "core/limits.h"

/* The checks of a run (run_options.checks; probe_config.checks points at it
 * when any is selected). Strings point into argv. */
struct check_config {
	/* the names of the selected checks, in the order of the engine's table
	 * (the descriptors' static names; probe/engine/checks.h selects) */
	const char *selected[MP_MAX_CHECKS];
	size_t nselected;
	const char *mail_from; /* smuggling: envelope sender and recipient */
	const char *rcpt_to;
	const char *relay_from; /* relay: the domains of sender and recipient */
	const char *relay_to;
	const char *enum_user; /* vrfy: an existing user, NULL if none given */
};

/* Default --relay-from / --relay-to: RFC 2606 ".invalid" names nobody owns. */
#define CHECK_RELAY_FROM_DEFAULT "mailprobe-relay-from.invalid"
#define CHECK_RELAY_TO_DEFAULT   "mailprobe-relay-test.invalid"

#endif
