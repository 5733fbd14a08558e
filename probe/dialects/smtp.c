/* smtp.c - the SMTP dialect: greeting, EHLO (HELO fallback), STARTTLS, QUIT.
 *
 * RFC 5321 (replies 4.2, greeting 3.1, EHLO 4.1.1.1), RFC 3207 (STARTTLS),
 * RFC 4954 (AUTH). Everything the server sends is untrusted: replies are
 * parsed strictly and bounded (core/limits.h).
 */
#include "probe/dialects/dialect.h"
#include "probe/dialects/auth.h"
#include "probe/dialects/sasl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One reply: its code and its lines exactly as received, joined with '\n'. */
struct smtp_reply {
	int code;
	char *text;
	size_t len;
	size_t first_len; /* length of the first line, for messages */
};

static void smtp_reply_free(struct smtp_reply *r)
{
	free(r->text);
	r->text = NULL;
	r->len = r->first_len = 0;
	r->code = 0;
}

/* Appends one line to r->text (its size is bounded by the reader's limits). */
static enum mp_status smtp_reply_append(struct session *s, struct smtp_reply *r, const char *line,
                                        size_t len)
{
	size_t sep = r->text ? 1 : 0;
	char *nt = realloc(r->text, r->len + sep + len + 1);

	if (!nt)
		return mp_error_set(&s->err, MP_ERR_INTERNAL, "out of memory");
	if (sep)
		nt[r->len] = '\n';
	memcpy(nt + r->len + sep, line, len);
	r->len += sep + len;
	nt[r->len] = '\0';
	if (!sep)
		r->first_len = len;
	r->text = nt;
	return MP_OK;
}

/* Reads one reply (RFC 5321 4.2): lines "ddd-text" then a last "ddd text" or
 * "ddd", the same code on every line, 200 <= code <= 599. Anything else is
 * MP_ERR_PROTOCOL; size limits give MP_ERR_REPLY_TOO_LARGE. */
static enum mp_status smtp_read_reply(struct session *s, struct reply_wait *w, struct smtp_reply *r)
{
	char line[MP_MAX_LINE + 1];
	char q[DIALECT_QUOTE_SIZE];
	size_t len = 0;
	enum mp_status st;

	for (;;) {
		int code;
		bool last;

		st = dialect_read_line(s, w, line, sizeof(line), &len);
		if (st != MP_OK)
			return st;
		dialect_quote(q, sizeof(q), line, len);
		if (len < 3 || !isdigit((unsigned char)line[0]) ||
		    !isdigit((unsigned char)line[1]) || !isdigit((unsigned char)line[2]))
			return mp_error_set(&s->err, MP_ERR_PROTOCOL,
			                    "server sent an SMTP reply with an invalid code "
			                    "(to %s): \"%s\"",
			                    w->what, q);
		code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
		if (code < 200 || code > 599)
			return mp_error_set(&s->err, MP_ERR_PROTOCOL,
			                    "server sent an SMTP reply with code %d, outside "
			                    "200-599 (to %s): \"%s\"",
			                    code, w->what, q);
		if (len > 3 && line[3] != ' ' && line[3] != '-')
			return mp_error_set(&s->err, MP_ERR_PROTOCOL,
			                    "server sent an SMTP reply line without ' ' or '-' "
			                    "after the code (to %s): \"%s\"",
			                    w->what, q);
		if (r->code != 0 && code != r->code)
			return mp_error_set(&s->err, MP_ERR_PROTOCOL,
			                    "server mixed reply codes %d and %d in one reply "
			                    "(to %s): \"%s\"",
			                    r->code, code, w->what, q);
		r->code = code;
		last = len == 3 || line[3] == ' ';
		st = smtp_reply_append(s, r, line, len);
		if (st != MP_OK)
			return st;
		if (last)
			return MP_OK;
	}
}

/* The first line of r, quoted for a message. */
static void smtp_quote_first(char *q, size_t qsz, const struct smtp_reply *r)
{
	dialect_quote(q, qsz, r->text ? r->text : "", r->first_len);
}

/* Sends cmd and reads its reply (one deadline for the whole reply). */
static enum mp_status smtp_command(struct session *s, const char *cmd, const char *what,
                                   struct smtp_reply *r)
{
	struct reply_wait w;
	enum mp_status st;

	st = dialect_check_unsolicited(s, what);
	if (st != MP_OK)
		return st;
	st = session_send(s, cmd);
	if (st != MP_OK)
		return st;
	dialect_wait_command(s, &w, what);
	return smtp_read_reply(s, &w, r);
}

/* Records one EHLO keyword line (RFC 5321 4.1.1.1: ehlo-keyword params). */
static void smtp_ehlo_line(struct session *s, const char *text, size_t len)
{
	char cap[MP_MAX_CAP_LEN + 1];
	size_t kw = dialect_keyword_line(cap, sizeof(cap), text, len);
	const char *params = cap + kw;

	if (kw == 0)
		return;
	dialect_add_cap(s, cap);
	if (kw == 4 && strncmp(cap, "AUTH", 4) == 0) {
		/* RFC 4954 section 3: AUTH mech ... */
		dialect_add_auth_list(s, params, strlen(params));
	} else if (kw > 5 && strncmp(cap, "AUTH=", 5) == 0) {
		/* The pre-RFC 2554 "AUTH=PLAIN LOGIN" form some servers still add. */
		dialect_add_auth_list(s, cap + 5, strlen(cap + 5));
	} else if (kw == 8 && strncmp(cap, "STARTTLS", 8) == 0 && !s->tls_active) {
		s->res->starttls_offered = true; /* RFC 3207 section 4 */
	}
}

/* Records the capabilities of a 250 EHLO reply: every line but the first. */
static void smtp_ehlo_caps(struct session *s, const struct smtp_reply *r)
{
	const char *p = r->text;
	const char *end = r->text + r->len;
	const char *nl = memchr(p, '\n', r->len);

	while (nl) {
		size_t len;

		p = nl + 1;
		nl = memchr(p, '\n', (size_t)(end - p));
		len = (size_t)((nl ? nl : end) - p);
		if (len > 4)
			smtp_ehlo_line(s, p + 4, len - 4);
	}
}

/* RFC 5321 3.1 / 4.2: 220 is service ready; 554 (and 421, or any other
 * failure code) is a refusal; a positive code other than 220 is no greeting. */
static enum mp_status smtp_greeting(struct session *s)
{
	struct smtp_reply r = {0};
	struct reply_wait w;
	char q[DIALECT_QUOTE_SIZE];
	enum mp_status st;

	dialect_wait_greeting(s, &w);
	st = smtp_read_reply(s, &w, &r);
	if (st != MP_OK)
		goto out;
	dialect_greeting_append(s, r.text, r.len);
	smtp_quote_first(q, sizeof(q), &r);
	/* RFC 5321 3.8, 4.2.2: 421 (any 4yz) is transient, "try again later". */
	s->res->busy = r.code >= 400 && r.code < 500;
	if (r.code >= 400)
		st = mp_error_set(&s->err, MP_ERR_REJECTED,
		                  "server refused service with %d%s: \"%s\"", r.code,
		                  s->res->busy ? " (busy, try again later)" : "", q);
	else if (r.code != 220)
		st = mp_error_set(&s->err, MP_ERR_PROTOCOL,
		                  "server greeted with %d instead of 220: \"%s\"", r.code, q);
out:
	smtp_reply_free(&r);
	return st;
}

/* EHLO, or HELO when EHLO is refused with 5xx (RFC 5321 4.1.1.1, 3.2). */
static enum mp_status smtp_capabilities(struct session *s)
{
	struct smtp_reply r = {0};
	char cmd[300];
	char q[DIALECT_QUOTE_SIZE];
	enum mp_status st;

	snprintf(cmd, sizeof(cmd), "EHLO %s", s->cfg->ehlo_name);
	st = smtp_command(s, cmd, "EHLO", &r);
	if (st != MP_OK)
		goto out;
	smtp_quote_first(q, sizeof(q), &r);
	if (r.code == 250) {
		smtp_ehlo_caps(s, &r);
		goto out;
	}
	if (r.code < 500) {
		st = mp_error_set(&s->err, r.code >= 400 ? MP_ERR_REJECTED : MP_ERR_PROTOCOL,
		                  "server answered EHLO with %d: \"%s\"", r.code, q);
		goto out;
	}
	s->res->ehlo_refused = true;
	result_add_finding(s->res, FINDING_EHLO_REFUSED,
	                   "server refused EHLO (\"%s\"); HELO used, no extensions known", q);
	smtp_reply_free(&r);
	snprintf(cmd, sizeof(cmd), "HELO %s", s->cfg->ehlo_name);
	st = smtp_command(s, cmd, "HELO", &r);
	if (st != MP_OK)
		goto out;
	smtp_quote_first(q, sizeof(q), &r);
	if (r.code != 250)
		st = mp_error_set(&s->err, r.code >= 400 ? MP_ERR_REJECTED : MP_ERR_PROTOCOL,
		                  "server refused both EHLO and HELO: \"%s\"", q);
out:
	smtp_reply_free(&r);
	return st;
}

/* RFC 3207 section 4: 220 is the go-ahead; 454 (TLS not available), 501 and
 * other failures are a refusal. */
static enum mp_status smtp_starttls(struct session *s)
{
	struct smtp_reply r = {0};
	char q[DIALECT_QUOTE_SIZE];
	enum mp_status st;

	st = smtp_command(s, "STARTTLS", "STARTTLS", &r);
	if (st != MP_OK)
		goto out;
	smtp_quote_first(q, sizeof(q), &r);
	if (r.code >= 400)
		st = mp_error_set(&s->err, MP_ERR_STARTTLS_REFUSED,
		                  "server refused STARTTLS: \"%s\"", q);
	else if (r.code != 220)
		st = mp_error_set(&s->err, MP_ERR_PROTOCOL,
		                  "server answered STARTTLS with %d instead of 220: \"%s\"", r.code,
		                  q);
out:
	smtp_reply_free(&r);
	return st;
}

/* QUIT and a short wait for the 221; errors are ignored (s->err is kept). */
static void smtp_quit(struct session *s)
{
	struct mp_error saved = s->err;
	struct smtp_reply r = {0};
	struct reply_wait w;

	if (session_send(s, "QUIT") == MP_OK) {
		dialect_wait_quit(s, &w, "QUIT");
		smtp_read_reply(s, &w, &r);
	}
	smtp_reply_free(&r);
	s->err = saved;
}

/* ---- AUTH (RFC 4954) ---- */

/* RFC 4954 section 4: "AUTH mechanism [initial-response]", "=" for an empty
 * one; the initial response waits for a 334 when the line would pass
 * MP_SMTP_MAX_AUTH_LINE. Recorded with the response redacted. */
static enum mp_status smtp_auth_start(struct session *s, const char *mech, const char *ir,
                                      bool *ir_sent)
{
	return dialect_send_auth(s, mech, ir, MP_SMTP_MAX_AUTH_LINE, ir_sent);
}

/* RFC 4954 section 4: 334 carries a challenge, 235 is success, 4xx a
 * temporary failure (454), 5xx a refusal (535, 534, 504...). */
static enum mp_status smtp_auth_next(struct session *s, const struct auth_config *cfg,
                                     enum sasl_answer *kind, char *text, size_t textsz,
                                     struct auth_outcome *out)
{
	struct smtp_reply r = {0};
	struct reply_wait w;
	char q[DIALECT_QUOTE_SIZE];
	enum mp_status st;

	dialect_wait_command(s, &w, "AUTH");
	st = smtp_read_reply(s, &w, &r);
	if (st != MP_OK)
		goto out;
	if (r.code == 334) {
		const char *p = r.text + 3;
		size_t len = r.first_len - 3;

		if (len > 0 && *p == ' ') {
			p++;
			len--;
		}
		*kind = SASL_A_CHALLENGE;
		st = auth_challenge_text(s, text, textsz, p, len);
		goto out;
	}
	auth_set_reply(cfg, out, r.text, r.first_len);
	if (r.code == 235) {
		*kind = SASL_A_SUCCESS;
	} else if (r.code >= 500) {
		*kind = SASL_A_FAILURE;
	} else if (r.code >= 400) {
		*kind = SASL_A_TEMPFAIL;
	} else {
		smtp_quote_first(q, sizeof(q), &r);
		st = mp_error_set(&s->err, MP_ERR_PROTOCOL,
		                  "server answered AUTH with %d, neither 235, 334 nor a failure",
		                  r.code);
	}
out:
	smtp_reply_free(&r);
	return st;
}

/* ---- Active checks (checks.h) ---- */

/* One reply to a command a check sent (RFC 5321 4.2). */
static enum mp_status smtp_check_reply(struct session *s, const char *what, int timeout_ms,
                                       struct dialect_reply *out)
{
	struct smtp_reply r = {0};
	struct reply_wait w;
	enum mp_status st;

	memset(out, 0, sizeof(*out));
	dialect_wait_command(s, &w, what);
	if (timeout_ms > 0)
		w.deadline = session_step_deadline(s, timeout_ms);
	st = smtp_read_reply(s, &w, &r);
	if (st == MP_OK) {
		out->code = r.code;
		out->kind = r.code >= 500 ? DR_BAD : r.code >= 400 ? DR_NO : DR_OK;
		smtp_quote_first(out->text, sizeof(out->text), &r);
	}
	smtp_reply_free(&r);
	return st;
}

static const struct sasl_framing smtp_sasl = {
    .start = smtp_auth_start,
    .next = smtp_auth_next,
};

/* SMTP logs in with SASL only (RFC 4954). */
static enum mp_status smtp_authenticate(struct session *s, const struct auth_request *req,
                                        struct auth_outcome *out)
{
	if (!auth_method_is_sasl(req->method))
		return mp_error_set(&s->err, MP_ERR_INTERNAL, "SMTP has no %s login",
		                    auth_method_name(req->method));
	return auth_sasl_exchange(s, req, &smtp_sasl, out);
}

const struct dialect smtp_dialect = {
    .proto = PROTO_SMTP,
    .name = "smtp",
    /* RFC 5321 (25), RFC 6409 (587 submission), RFC 8314 (465 submissions);
     * 2525 is a common alternative port. */
    .scheme_tls = "smtps",
    .port_plain = 25,
    .port_tls = 465,
    .well_known_ports = {25, 465, 587, 2525},
    .matrix = {{25, MODE_STARTTLS}, {587, MODE_STARTTLS}, {465, MODE_TLS}},
    .auto_order = {{465, MODE_TLS},
                   {587, MODE_STARTTLS},
                   {25, MODE_STARTTLS},
                   {587, MODE_PLAIN},
                   {25, MODE_PLAIN}},
    /* RFC 4954: SASL only. */
    .auth_methods = DIALECT_SASL_METHODS,
    /* RFC 3207 4: 220 is the go-ahead; RFC 5321 4.1.1.10: QUIT gets 221. */
    .starttls_command = "STARTTLS",
    .starttls_go_ahead_code = 220,
    .noop_command = "NOOP",
    .quit_command = "QUIT",
    .quit_code = 221,
    .login_probe = "AUTH PLAIN",
    .mail_envelope = true,
    .greeting = smtp_greeting,
    .capabilities = smtp_capabilities,
    .starttls = smtp_starttls,
    .quit = smtp_quit,
    .authenticate = smtp_authenticate,
    .read_reply = smtp_check_reply,
};
