/* open_relay.c - open relay (--relay-test, opt-in): MAIL FROM and RCPT TO
 * in foreign domains without authentication, never DATA. */
#include "probe/engine/checks/check.h"
#include "core/limits.h"
#include "probe/engine/probe.h"

#include <stdio.h>
#include <string.h>

#define RELAY_LOCAL_PART "mailprobe-relay-test"

static void run(struct check_run *r)
{
	struct dialect_reply rep;
	char from[MP_MAX_CHECK_ADDRESS + 32], to[MP_MAX_CHECK_ADDRESS + 32];
	enum mp_status st = probe_converse(r->s, r->d);

	if (st != MP_OK) {
		check_verdict_broke(r, "before MAIL FROM", st);
		return;
	}
	r->mark = r->s->res->transcript.n;
	snprintf(from, sizeof(from), RELAY_LOCAL_PART "@%s", r->cc->relay_from);
	snprintf(to, sizeof(to), RELAY_LOCAL_PART "@%s", r->cc->relay_to);
	if (!check_smtp_envelope(r, from, to, false, &rep))
		goto out;
	if (rep.code == 250 || rep.code == 251)
		check_verdict(r, CHECK_FAIL,
		              "without authentication the server accepted a recipient in "
		              "%s from a sender in %s (%d): an open relay",
		              r->cc->relay_to, r->cc->relay_from, rep.code);
	else if (rep.kind == DR_BAD)
		check_verdict(r, CHECK_PASS, "relaying to %s refused (%d)", r->cc->relay_to,
		              rep.code);
	else
		check_verdict(r, CHECK_INCONCLUSIVE,
		              "RCPT TO answered %d: neither accepted nor refused "
		              "for good",
		              rep.code);
	check_command(r, "RSET", "RSET", &rep);
out:
	r->d->quit(r->s);
}

static const char *applies(const struct probe_result *res, char *buf, size_t size)
{
	return check_needs_envelope(res, buf, size);
}

const struct check_desc check_open_relay = {
    .name = "open-relay",
    .alias = "relay",
    .reference = "RFC 5321 section 3.6 and 7.1 (relaying); RFC 2505",
    .opt_in = "is opt-in: use --relay-test [--relay-from DOMAIN --relay-to DOMAIN]",
    .finding = FINDING_OPEN_RELAY,
    .applies = applies,
    .run = run,
};
