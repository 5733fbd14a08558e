/* starttls_injection.c - CVE-2011-0411: STARTTLS and NOOP in one write; a
 * server that answers the NOOP inside TLS ran a command injected in
 * plaintext. What differs between protocols (the verbs, tags, QUIT's code)
 * comes from the dialect table. */
#include "probe/engine/checks/check.h"
#include "core/limits.h"
#include "core/tls.h"

#include <stdio.h>
#include <string.h>

/* The pipelined "STARTTLS + NOOP" into line; tags (when the protocol has
 * them) go to stls_tag and noop_tag. */
static void injection_line(struct check_run *r, char *line, size_t size, char *stls_tag,
                           char *noop_tag, size_t tagsz)
{
	struct session *s = r->s;

	if (!r->d->tagged) {
		snprintf(line, size, "%s\r\n%s", r->d->starttls_command, r->d->noop_command);
		return;
	}
	snprintf(stls_tag, tagsz, "a%u", ++s->imap_tag);
	snprintf(noop_tag, tagsz, "a%u", ++s->imap_tag);
	snprintf(line, size, "%s %s\r\n%s %s", stls_tag, r->d->starttls_command, noop_tag,
	         r->d->noop_command);
}

/* True when rep is the go-ahead to STARTTLS (RFC 3207 4: 220; RFC 9051
 * 6.2.1: tagged OK; RFC 2595 4: +OK). */
static bool is_go_ahead(const struct check_run *r, const struct dialect_reply *rep,
                        const char *stls_tag)
{
	if (rep->kind != DR_OK)
		return false;
	if (r->d->tagged)
		return strcmp(rep->tag, stls_tag) == 0;
	return !r->d->starttls_go_ahead_code || rep->code == r->d->starttls_go_ahead_code;
}

/* Inside TLS, QUIT / LOGOUT: the first reply must be its own. A reply that
 * comes first answers the NOOP sent in plaintext. */
static void injection_after_tls(struct check_run *r, const char *noop_tag)
{
	struct session *s = r->s;
	const struct dialect *d = r->d;
	struct dialect_reply rep, more;
	char quit_tag[16] = "";
	char line[64];
	enum mp_status st;
	int settle = s->cfg->command_timeout_ms < MP_CHECK_SETTLE_MS ? s->cfg->command_timeout_ms
	                                                             : MP_CHECK_SETTLE_MS;

	if (d->tagged) {
		snprintf(quit_tag, sizeof(quit_tag), "a%u", ++s->imap_tag);
		snprintf(line, sizeof(line), "%s %s", quit_tag, d->quit_command);
	} else {
		snprintf(line, sizeof(line), "%s", d->quit_command);
	}
	st = check_command(r, line, d->quit_command, &rep);
	if (st != MP_OK) {
		check_verdict_broke(r, "inside TLS, no reply to our own command", st);
		return;
	}
	if (d->quit_code) {
		/* the reply's code says whose it is (SMTP: QUIT's 221) */
		if (rep.code == d->quit_code)
			check_verdict(r, CHECK_PASS,
			              "inside TLS the first reply was %s's %d: the NOOP sent in "
			              "plaintext with %s was not carried over",
			              d->quit_command, d->quit_code, d->starttls_command);
		else
			check_verdict(
			    r, CHECK_FAIL,
			    "inside TLS the server answered %d \"%s\" before %s's %d: it "
			    "ran the NOOP it got in plaintext with %s inside the TLS session",
			    rep.code, rep.text, d->quit_command, d->quit_code, d->starttls_command);
	} else if (d->tagged) {
		/* the reply's tag says whose it is */
		if (strcmp(rep.tag, noop_tag) == 0)
			check_verdict(r, CHECK_FAIL,
			              "inside TLS the server answered the %s NOOP sent in "
			              "plaintext with %s: \"%s\"",
			              noop_tag, d->starttls_command, rep.text);
		else if (strcmp(rep.tag, quit_tag) == 0)
			check_verdict(
			    r, CHECK_PASS,
			    "inside TLS the only tagged reply was %s's: the %s NOOP sent in "
			    "plaintext with %s was not carried over",
			    d->quit_command, noop_tag, d->starttls_command);
		else
			check_verdict(r, CHECK_INCONCLUSIVE,
			              "inside TLS a reply with an unknown tag: \"%s\"", rep.text);
	} else if (d->read_reply(s, d->quit_command, settle, &more) == MP_OK) {
		/* replies that carry neither (POP3): a second status line to
		 * one QUIT answers the NOOP */
		check_verdict(r, CHECK_FAIL,
		              "inside TLS two replies to one %s (\"%s\", then \"%s\"): the first "
		              "answers the NOOP sent in plaintext with %s",
		              d->quit_command, rep.text, more.text, d->starttls_command);
	} else {
		check_verdict(r, CHECK_PASS,
		              "inside TLS one reply to %s (\"%s\"): the NOOP sent in plaintext "
		              "with %s was not carried over",
		              d->quit_command, rep.text, d->starttls_command);
	}
}

static void run(struct check_run *r)
{
	struct session *s = r->s;
	struct dialect_reply rep;
	char stls_tag[16] = "", noop_tag[16] = "";
	char line[64];
	enum mp_status st;

	st = check_open_before_tls(r);
	if (st != MP_OK) {
		check_verdict_broke(r, "before STARTTLS", st);
		return;
	}
	if (!s->res->starttls_offered) {
		check_verdict(r, CHECK_INCONCLUSIVE, "STARTTLS not advertised on this connection");
		return;
	}
	r->mark = s->res->transcript.n;
	injection_line(r, line, sizeof(line), stls_tag, noop_tag, sizeof(stls_tag));
	/* One line with an embedded CRLF: both commands in one write. */
	st = session_send(s, line);
	if (st == MP_OK)
		st = r->d->read_reply(s, r->d->starttls_command, 0, &rep);
	if (st != MP_OK) {
		check_verdict_broke(r, "no go-ahead to STARTTLS sent with NOOP", st);
		return;
	}
	if (!is_go_ahead(r, &rep, stls_tag)) {
		check_verdict(r, CHECK_INCONCLUSIVE,
		              "server refused STARTTLS sent with NOOP: \"%s\"", rep.text);
		return;
	}
	st = session_start_tls(s, s->cfg->tls_timeout_ms, true);
	if (st != MP_OK && r->probe_tls_ok) {
		/* The probe's own handshake worked: this one failed on the NOOP
		 * bytes, taken for TLS data or refused (Dovecot does that). */
		char q[DIALECT_QUOTE_SIZE];

		dialect_quote(q, sizeof(q), s->err.msg, strlen(s->err.msg));
		check_verdict(r, CHECK_PASS,
		              "the TLS handshake after the pipelined NOOP failed (%s), "
		              "where the probe's own succeeded: the server took the plaintext for "
		              "TLS bytes or refused it, so no command ran inside TLS",
		              q);
		return;
	}
	if (st != MP_OK) {
		check_verdict_broke(r, "TLS handshake after the go-ahead failed", st);
		return;
	}
	injection_after_tls(r, noop_tag);
}

/* Shared with starttls-response-injection: both need a STARTTLS endpoint. */
const char *check_needs_starttls(const struct probe_result *res, char *buf, size_t size)
{
	const struct dialect *d = dialect_for(res->ep.proto);

	if (res->ep.mode == MODE_STARTTLS && d && d->starttls_command)
		return NULL;
	snprintf(buf, size, "needs a STARTTLS endpoint; this one is %s", mode_name(res->ep.mode));
	return buf;
}

const struct check_desc check_starttls_injection = {
    .name = "starttls-injection",
    .reference = "CVE-2011-0411; RFC 3207 section 4.2, RFC 2595 section 3.1",
    .finding = FINDING_STARTTLS_CMD_INJECTION,
    .applies = check_needs_starttls,
    .run = run,
};
