/* common.c - what the active checks share (check.h): the verdict and its
 * evidence, one command and its reply, the way to the point before TLS,
 * and the SMTP envelope. */
#include "probe/engine/checks/check.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void check_verdict(struct check_run *r, enum check_state st, const char *fmt, ...)
{
	const struct transcript *t = &r->s->res->transcript;
	char *ev = r->c->evidence;
	size_t size = sizeof(r->c->evidence);
	size_t used;
	va_list ap;

	if (r->decided)
		return;
	r->decided = true;
	r->c->state = st;
	va_start(ap, fmt);
	vsnprintf(ev, size, fmt, ap);
	va_end(ap);
	used = strlen(ev);
	/* a skipped check's evidence is the reason alone */
	for (size_t i = r->mark; st != CHECK_SKIPPED && i < t->n && used + 8 < size; i++) {
		char q[DIALECT_QUOTE_SIZE];

		dialect_quote(q, sizeof(q), t->e[i].text, t->e[i].len);
		snprintf(ev + used, size - used, " | %c: %s", t->e[i].dir, q);
		used += strlen(ev + used);
	}
	if (used + 1 >= size && size > 4)
		memcpy(ev + size - 4, "...", 4);
}

/* A step failed (st, with the session's message): inconclusive. */
void check_verdict_broke(struct check_run *r, const char *where, enum mp_status st)
{
	char msg[MP_MAX_ERROR];

	dialect_quote(msg, sizeof(msg), r->s->err.msg[0] ? r->s->err.msg : mp_status_describe(st),
	              strlen(r->s->err.msg[0] ? r->s->err.msg : mp_status_describe(st)));
	check_verdict(r, CHECK_INCONCLUSIVE, "%s: %s", where, msg);
}

/* Sends line and reads its reply. */
enum mp_status check_command(struct check_run *r, const char *line, const char *what,
                             struct dialect_reply *rep)
{
	enum mp_status st = session_send(r->s, line);

	if (st != MP_OK)
		return st;
	return r->d->read_reply(r->s, what, 0, rep);
}

/* Greeting and capabilities, staying before TLS (implicit TLS first when
 * the mode says so). */
enum mp_status check_open_before_tls(struct check_run *r)
{
	enum mp_status st;

	if (r->s->ep->mode == MODE_TLS) {
		st = session_start_tls(r->s, r->s->cfg->tls_timeout_ms, false);
		if (st != MP_OK)
			return st;
	}
	st = r->d->greeting(r->s);
	if (st == MP_OK)
		st = r->d->capabilities(r->s);
	return st;
}

/* MAIL, RCPT and (with data) DATA (RFC 5321 4.1.1.2-4); false (decided)
 * unless the server is ready for the message, or without data unless RCPT
 * got a reply (left in rep). */
bool check_smtp_envelope(struct check_run *r, const char *from, const char *to, bool data,
                         struct dialect_reply *rep_out)
{
	struct dialect_reply rep;
	char line[MP_MAX_CHECK_ADDRESS + 16];
	enum mp_status st;

	snprintf(line, sizeof(line), "MAIL FROM:<%s>", from);
	st = check_command(r, line, "MAIL FROM", &rep);
	if (st == MP_OK && rep.code != 250) {
		check_verdict(r, CHECK_INCONCLUSIVE, "MAIL FROM refused: %d \"%s\"", rep.code,
		              rep.text);
		return false;
	}
	if (st == MP_OK) {
		snprintf(line, sizeof(line), "RCPT TO:<%s>", to);
		st = check_command(r, line, "RCPT TO", &rep);
	}
	if (st != MP_OK) {
		check_verdict_broke(r, "envelope", st);
		return false;
	}
	if (!data) {
		*rep_out = rep;
		return true;
	}
	if (rep.code != 250 && rep.code != 251) {
		check_verdict(r, CHECK_INCONCLUSIVE,
		              "RCPT TO refused (%d \"%s\"): give --rcpt-to an "
		              "address this server accepts",
		              rep.code, rep.text);
		return false;
	}
	st = check_command(r, "DATA", "DATA", &rep);
	if (st != MP_OK) {
		check_verdict_broke(r, "DATA", st);
		return false;
	}
	if (rep.code != 354) {
		check_verdict(r, CHECK_INCONCLUSIVE, "DATA refused: %d \"%s\"", rep.code, rep.text);
		return false;
	}
	return true;
}

const char *check_needs_envelope(const struct probe_result *res, char *buf, size_t size)
{
	const struct dialect *d = dialect_for(res->ep.proto);

	if (d && d->mail_envelope)
		return NULL;
	snprintf(buf, size, "SMTP only; this endpoint is %s", protocol_name(res->ep.proto));
	return buf;
}
