/* auth_before_tls.c - AUTH, LOGIN or USER before TLS where the server does
 * not advertise it, with a made-up invalid credential: the server must
 * refuse the command, not check the credential. */
#include "probe/engine/checks/check.h"

#include <stdio.h>
#include <string.h>

/* A user nobody has (RFC 2606 ".invalid"). */
#define INVALID_USER "mailprobe-check.invalid"
/* AUTH PLAIN (RFC 4616) of "\0mailprobe-check.invalid\0invalid": a made-up
 * credential that cannot log anybody in. */
#define INVALID_PLAIN_IR "AG1haWxwcm9iZS1jaGVjay5pbnZhbGlkAGludmFsaWQ="

/* Why there is nothing hidden to test on a connection whose record is res
 * (the server offers the login before TLS anyway), in buf, or NULL; the
 * dialect says which capability governs the login (dialect.h). */
static const char *offered_anyway(const struct probe_result *res, const struct dialect *d,
                                  char *buf, size_t size)
{
	bool listed;

	if (!d->login_probe_cap)
		return res->auth_before.n > 0 ? "the server advertises AUTH before TLS (finding "
		                                "auth_before_tls): nothing hidden to test"
		                              : NULL;
	listed = strlist_has(&res->caps_before, d->login_probe_cap);
	if (d->login_probe_cap_forbids && !listed)
		snprintf(buf, size,
		         "%s is not advertised before TLS: %s is offered (the rule "
		         "forbid-auth-before-tls judges that)",
		         d->login_probe_cap, d->login_probe);
	else if (!d->login_probe_cap_forbids && listed)
		snprintf(
		    buf, size,
		    "%s is advertised before TLS (the rule forbid-auth-before-tls judges that)",
		    d->login_probe_cap);
	else
		return NULL;
	return buf;
}

/* Skipped (true) when the connection's own record shows the login offered. */
static bool skip_if_offered(struct check_run *r)
{
	char buf[160];
	const char *why = offered_anyway(r->s->res, r->d, buf, sizeof(buf));

	if (why)
		check_verdict(r, CHECK_SKIPPED, "%s", why);
	return why != NULL;
}

/* RFC 4954 4: AUTH PLAIN with an invalid credential; a server that does not
 * offer AUTH before TLS must refuse the command, not check the credential. */
static void auth_smtp(struct check_run *r)
{
	struct session *s = r->s;
	struct dialect_reply rep, cancel;
	enum mp_status st;

	if (skip_if_offered(r))
		return;
	r->mark = s->res->transcript.n;
	st = session_send_redacted(s, "AUTH PLAIN " INVALID_PLAIN_IR,
	                           "AUTH PLAIN <invalid credential for " INVALID_USER ">");
	if (st == MP_OK)
		st = r->d->read_reply(s, "AUTH", 0, &rep);
	if (st != MP_OK) {
		check_verdict_broke(r, "no reply to AUTH", st);
		return;
	}
	if (rep.code == 334) {
		/* RFC 4954 4: "*" cancels the exchange. */
		if (session_send(s, "*") == MP_OK)
			r->d->read_reply(s, "AUTH", 0, &cancel);
		check_verdict(r, CHECK_FAIL,
		              "AUTH is not advertised before TLS, yet the server "
		              "started the exchange (334)");
	} else if (rep.code == 235 || rep.code == 535) {
		check_verdict(r, CHECK_FAIL,
		              "AUTH is not advertised before TLS, yet the server checked "
		              "the credential (%d \"%s\")",
		              rep.code, rep.text);
	} else if (rep.kind == DR_BAD) {
		check_verdict(r, CHECK_PASS, "AUTH before TLS refused (%d)", rep.code);
	} else {
		check_verdict(r, CHECK_INCONCLUSIVE,
		              "AUTH before TLS answered %d: neither a refusal "
		              "nor a verdict on the credential",
		              rep.code);
	}
}

/* RFC 9051 6.2.3: with LOGINDISABLED the server must refuse LOGIN. A NO
 * with [AUTHENTICATIONFAILED] (RFC 5530) means it checked the credential;
 * [PRIVACYREQUIRED] or BAD is the refusal. */
static void auth_imap(struct check_run *r)
{
	struct session *s = r->s;
	struct dialect_reply rep;
	char line[96], shown[96];
	enum mp_status st;

	if (skip_if_offered(r))
		return;
	r->mark = s->res->transcript.n;
	snprintf(line, sizeof(line), "a%u LOGIN " INVALID_USER " invalid", ++s->imap_tag);
	snprintf(shown, sizeof(shown), "a%u LOGIN " INVALID_USER " <invalid password>",
	         s->imap_tag);
	st = session_send_redacted(s, line, shown);
	if (st == MP_OK)
		st = r->d->read_reply(s, "LOGIN", 0, &rep);
	if (st != MP_OK) {
		check_verdict_broke(r, "no reply to LOGIN", st);
		return;
	}
	if (rep.kind == DR_OK || strstr(rep.text, "[AUTHENTICATIONFAILED]") ||
	    strstr(rep.text, "[AUTHORIZATIONFAILED]"))
		check_verdict(r, CHECK_FAIL,
		              "LOGINDISABLED is advertised, yet the server checked the "
		              "LOGIN credential: \"%s\"",
		              rep.text);
	else if (rep.kind == DR_BAD || strstr(rep.text, "[PRIVACYREQUIRED]"))
		check_verdict(r, CHECK_PASS, "LOGIN before TLS refused as LOGINDISABLED says");
	else
		check_verdict(r, CHECK_INCONCLUSIVE,
		              "NO without a response code: a refusal or a "
		              "failed login");
}

/* RFC 2449 6.8 / RFC 2595 4: without USER in CAPA before STLS, USER must be
 * refused. */
static void auth_pop3(struct check_run *r)
{
	struct session *s = r->s;
	struct dialect_reply rep;
	enum mp_status st;

	if (skip_if_offered(r))
		return;
	r->mark = s->res->transcript.n;
	st = check_command(r, "USER " INVALID_USER, "USER", &rep);
	if (st != MP_OK) {
		check_verdict_broke(r, "no reply to USER", st);
		return;
	}
	if (rep.kind == DR_OK)
		check_verdict(r, CHECK_FAIL,
		              "USER is not advertised before TLS, yet the server "
		              "accepted it: \"%s\"",
		              rep.text);
	else
		check_verdict(r, CHECK_PASS, "USER before TLS refused");
}

/* The exchange for each login a dialect names as its login_probe. */
static const struct {
	const char *login_probe;
	void (*ask)(struct check_run *r);
} asks[] = {
    {"AUTH PLAIN", auth_smtp},
    {"LOGIN", auth_imap},
    {"USER", auth_pop3},
};

static void run(struct check_run *r)
{
	enum mp_status st = check_open_before_tls(r);

	if (st != MP_OK) {
		check_verdict_broke(r, "before the check", st);
		return;
	}
	for (size_t k = 0; k < sizeof(asks) / sizeof(asks[0]); k++) {
		if (r->d->login_probe && strcmp(r->d->login_probe, asks[k].login_probe) == 0) {
			asks[k].ask(r);
			break;
		}
	}
	if (!r->decided)
		check_verdict(r, CHECK_INCONCLUSIVE, "no login to try before TLS is known for %s",
		              r->d->name);
	r->d->quit(r->s);
}

/* Not on implicit TLS; and no connection when the probe's own record
 * shows the login offered before TLS anyway (the check's connection would
 * see the same and stop there). */
static const char *applies(const struct probe_result *res, char *buf, size_t size)
{
	const struct dialect *d = dialect_for(res->ep.proto);

	if (res->ep.mode == MODE_TLS)
		return "implicit TLS: nothing is sent before TLS";
	return d ? offered_anyway(res, d, buf, size) : NULL;
}

const struct check_desc check_auth_before_tls = {
    .name = "auth-before-tls",
    .reference = "RFC 4954 section 4 (AUTH), RFC 9051 section 6.2.3 (LOGINDISABLED), RFC 2595 "
                 "section 4",
    .finding = FINDING_AUTH_ACCEPTED_BEFORE_TLS,
    .applies = applies,
    .run = run,
};
