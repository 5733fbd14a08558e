/* check.h - one active check as a descriptor, and the helpers its run()
 * uses (checks.h describes the checks themselves).
 *
 * A check is one file in this folder defining one const struct check_desc,
 * and one line in the table of probe/engine/checks.c, the only list of the
 * checks (--checks, the selection and the results read it). The runner in
 * checks.c plans the entries, skips those that do not apply, runs each run() on a
 * fresh connection of its own and adds the findings. What differs between
 * protocols comes from the dialect table (dialect.h: what a protocol offers
 * to the checks), never from a branch on the protocol here.
 */
#ifndef MP_CHECK_H
#define MP_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include "core/model/checks.h"
#include "core/model/result.h"
#include "probe/dialects/dialect.h"
#include "probe/dialects/session.h"

/* One check running on its connection. */
struct check_run {
	struct session *s;
	const struct dialect *d;
	const struct check_config *cc;
	struct check_result *c;
	size_t variant;
	size_t mark; /* first transcript entry of the evidence */
	bool decided;
	bool probe_tls_ok; /* the endpoint's own probe completed TLS */
};

struct check_desc {
	const char *name;      /* in --checks, check_config.selected, the results */
	const char *alias;     /* another name --checks knows it by, or NULL */
	const char *reference; /* RFCs and CVEs, for the results */
	/* NULL, or opt-in: runs only with its own option (sends mail, ...), and
	 * --checks refuses it with "--checks: <name> <opt_in>" ("is opt-in: use
	 * --relay-test ...") */
	const char *opt_in;
	const char *finding; /* FINDING_* added for a "fail"; NULL: none here */
	/* entries it adds: 0 or 1 for one named name; more: one
	 * per variant, named variant_name(v) */
	size_t nvariants;
	const char *(*variant_name)(size_t v);
	/* NULL when it applies to res (whose probe succeeded), else why not,
	 * in buf or a static string */
	const char *(*applies)(const struct probe_result *res, char *buf, size_t size);
	/* decided from the probe's own record, without a connection (or NULL) */
	void (*decide)(const struct probe_result *res, struct check_result *c);
	/* the check on a fresh connection (session ready, nothing sent) */
	void (*run)(struct check_run *r);
	/* adds the findings of its failed entries itself (NULL: one finding
	 * per failed entry, with its evidence) */
	void (*findings)(struct probe_result *res);
};

/* The descriptors are declared by the table of probe/engine/checks.c. */

/* ---- Helpers for run() (common.c) ---- */

/* Sets the state and the evidence: the summary (our text, with server text
 * already quoted), then the exchange since r->mark, each entry quoted, all
 * on one line and bounded. Only the first verdict counts. */
void check_verdict(struct check_run *r, enum check_state st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A step failed (st, with the session's message): inconclusive. */
void check_verdict_broke(struct check_run *r, const char *where, enum mp_status st);
/* Sends line and reads its reply. */
enum mp_status check_command(struct check_run *r, const char *line, const char *what,
                             struct dialect_reply *rep);
/* Greeting and capabilities, staying before TLS (implicit TLS first when
 * the mode says so). */
enum mp_status check_open_before_tls(struct check_run *r);
/* MAIL, RCPT and (with data) DATA (RFC 5321 4.1.1.2-4); false (decided)
 * unless the server is ready for the message, or without data unless RCPT
 * got a reply (left in rep_out). */
bool check_smtp_envelope(struct check_run *r, const char *from, const char *to, bool data,
                         struct dialect_reply *rep_out);
/* applies(): NULL on a STARTTLS endpoint (starttls_injection.c). */
const char *check_needs_starttls(const struct probe_result *res, char *buf, size_t size);
/* applies(): NULL when the endpoint's protocol speaks the SMTP envelope
 * (dialect.h mail_envelope: MAIL, RCPT, VRFY, EXPN, DATA), else why not. */
const char *check_needs_envelope(const struct probe_result *res, char *buf, size_t size);

#endif
