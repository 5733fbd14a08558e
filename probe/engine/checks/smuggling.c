/* smuggling.c - SMTP smuggling (--smuggling-test, opt-in: it sends mail):
 * one message per end-of-data look-alike, from --mail-from to --rcpt-to. */
#include "probe/engine/checks/check.h"
#include "core/limits.h"
#include "probe/engine/probe.h"

#include <stdio.h>
#include <string.h>

/* SMTP smuggling: the end-of-data look-alikes of 2023. RFC 5321 4.1.1.4
 * ends DATA only at <CRLF>.<CRLF>; a server that also ends it at one of
 * these takes what follows as commands. */
static const struct smuggling_variant {
	const char *name;  /* the check's name in the results */
	const char *seq;   /* the bytes sent */
	const char *shown; /* in messages */
} variants[] = {
    {"smtp-smuggling-lf-dot-lf", "\n.\n", "<LF>.<LF>"},
    {"smtp-smuggling-lf-dot-crlf", "\n.\r\n", "<LF>.<CR><LF>"},
    {"smtp-smuggling-cr-dot-lf", "\r.\n", "<CR>.<LF>"},
    {"smtp-smuggling-crlf-dot-lf", "\r\n.\n", "<CR><LF>.<LF>"},
    {"smtp-smuggling-cr-dot-crlf", "\r.\r\n", "<CR>.<CR><LF>"},
};
#define NVARIANTS (sizeof(variants) / sizeof(variants[0]))

static void run(struct check_run *r)
{
	const struct smuggling_variant *v = &variants[r->variant];
	struct session *s = r->s;
	struct dialect_reply end, rep;
	char body[1024], shown[MP_MAX_CHECK_ADDRESS + 64];
	int extra = 0, codes[3] = {0, 0, 0};
	enum mp_status st = probe_converse(s, r->d);

	if (st != MP_OK) {
		check_verdict_broke(r, "before MAIL FROM", st);
		return;
	}
	r->mark = s->res->transcript.n;
	if (!check_smtp_envelope(r, r->cc->mail_from, r->cc->rcpt_to, true, &rep))
		goto out;
	/* The text before the variant ends without a line end; after the
	 * variant, a second MAIL FROM, then the real end of data. */
	snprintf(body, sizeof(body),
	         "From: <%s>\r\nTo: <%s>\r\nSubject: mailprobe SMTP smuggling test %s\r\n\r\n"
	         "mailprobe checks whether this server ends DATA at %s (SMTP smuggling).\r\n"
	         "The MAIL FROM line below must stay part of this message.%sMAIL FROM:<%s>\r\n.",
	         r->cc->mail_from, r->cc->rcpt_to, v->shown, v->shown, v->seq, r->cc->mail_from);
	snprintf(shown, sizeof(shown), "(message) ...this message.%sMAIL FROM:<%s>\r\n.", v->seq,
	         r->cc->mail_from);
	st = session_send_redacted(s, body, shown);
	if (st == MP_OK)
		st = r->d->read_reply(s, "the end of DATA", 0, &end);
	if (st != MP_OK) {
		check_verdict_broke(r, "no reply to the message", st);
		goto out;
	}
	/* QUIT, and count the replies before its 221: each answers a line of
	 * the message that the server took as a command. */
	if (session_send(s, "QUIT") == MP_OK) {
		for (int k = 0; k < 6; k++) {
			if (r->d->read_reply(s, "QUIT", 0, &rep) != MP_OK || rep.code == 221)
				break;
			if (extra < 3)
				codes[extra] = rep.code;
			extra++;
		}
	}
	if (extra > 0) {
		char list[40] = "";

		for (int k = 0; k < extra && k < 3; k++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%d",
			         k ? " " : "", codes[k]);
		check_verdict(
		    r, CHECK_FAIL,
		    "the server ended DATA at %s: after its %d it answered %s to lines of "
		    "the message it took as commands",
		    v->shown, end.code, list);
	} else if (end.kind == DR_OK) {
		check_verdict(r, CHECK_PASS, "%s stayed data: one reply (%d) for the whole message",
		              v->shown, end.code);
	} else {
		check_verdict(r, CHECK_PASS,
		              "the server refused the message (%d \"%s\") and did not "
		              "take %s as end of data",
		              end.code, end.text, v->shown);
	}
	return;
out:
	r->d->quit(s);
}

static const char *variant_name(size_t v)
{
	return v < NVARIANTS ? variants[v].name : "smtp-smuggling";
}

static const char *applies(const struct probe_result *res, char *buf, size_t size)
{
	return check_needs_envelope(res, buf, size);
}

/* One finding for all failed variants, naming them. */
static void findings(struct probe_result *res)
{
	char smuggled[160] = "";

	for (size_t i = 0; i < res->nchecks; i++) {
		const struct check_result *c = &res->checks[i];

		if (c->state != CHECK_FAIL)
			continue;
		for (size_t v = 0; v < NVARIANTS; v++)
			if (strcmp(c->name, variants[v].name) == 0)
				snprintf(smuggled + strlen(smuggled),
				         sizeof(smuggled) - strlen(smuggled), "%s%s",
				         smuggled[0] ? ", " : "", variants[v].shown);
	}
	if (smuggled[0])
		result_add_finding(res, FINDING_SMTP_SMUGGLING,
		                   "check smtp-smuggling failed: the server ends DATA at %s, not "
		                   "only at <CR><LF>.<CR><LF> (RFC 5321 4.1.1.4)",
		                   smuggled);
}

const struct check_desc check_smuggling = {
    .name = "smtp-smuggling",
    .alias = "smuggling",
    .reference = "CVE-2023-51764, CVE-2023-51765, CVE-2023-51766; RFC 5321 section 4.1.1.4",
    .opt_in = "sends messages, so it is opt-in: use --smuggling-test --mail-from ADDRESS "
              "--rcpt-to ADDRESS",
    .finding = FINDING_SMTP_SMUGGLING,
    .nvariants = NVARIANTS,
    .variant_name = variant_name,
    .applies = applies,
    .run = run,
    .findings = findings,
};
