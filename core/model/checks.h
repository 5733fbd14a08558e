/* checks.h - which active checks a run selects, and their names (data only;
 * the checks themselves are probe/engine/checks.c). */
#ifndef MP_MODEL_CHECKS_H
#define MP_MODEL_CHECKS_H

#include "core/status.h"

enum check_id {
	CHECK_STARTTLS_INJECTION,
	CHECK_RESPONSE_INJECTION,
	CHECK_AUTH_BEFORE_TLS,
	CHECK_VRFY,
	CHECK_SMUGGLING, /* opt-in: --smuggling-test */
	CHECK_RELAY,     /* opt-in: --relay-test */
	CHECK_ID_COUNT
};

/* What "--checks all" selects: every check that sends no mail and changes
 * nothing on the server. */
#define CHECKS_ALL_SAFE                                                                            \
	((1u << CHECK_STARTTLS_INJECTION) | (1u << CHECK_RESPONSE_INJECTION) |                     \
	 (1u << CHECK_AUTH_BEFORE_TLS) | (1u << CHECK_VRFY))

/* The checks of a run (run_options.checks; probe_config.checks points at it
 * when any is selected). Strings point into argv. */
struct check_config {
	unsigned selected;     /* bit (1 << enum check_id) */
	const char *mail_from; /* smuggling: envelope sender and recipient */
	const char *rcpt_to;
	const char *relay_from; /* relay: the domains of sender and recipient */
	const char *relay_to;
	const char *enum_user; /* vrfy: an existing user, NULL if none given */
};

/* Default --relay-from / --relay-to: RFC 2606 ".invalid" names nobody owns. */
#define CHECK_RELAY_FROM_DEFAULT "mailprobe-relay-from.invalid"
#define CHECK_RELAY_TO_DEFAULT   "mailprobe-relay-test.invalid"

/* The name of a check ("starttls-injection"; the smuggling variants have
 * their own names in the results). */
const char *check_name(enum check_id id);
/* Adds the checks named in list ("starttls-injection,vrfy", or "all") to
 * *selected. The opt-in checks are refused with the option that runs them.
 * Returns 0, or -1 with err saying what to give. */
int checks_parse_list(const char *list, unsigned *selected, struct mp_error *err);

#endif
