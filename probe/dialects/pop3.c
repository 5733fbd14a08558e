/* pop3.c - the POP3 dialect: greeting, CAPA, STLS, QUIT.
 *
 * RFC 1939 (status indicators 3, APOP 7), RFC 2449 (CAPA 5), RFC 2595 (STLS
 * 4), RFC 5034 (SASL capability). Server text is untrusted: status lines are
 * parsed strictly and multi-line replies are bounded.
 */
#include "probe/dialects/dialect.h"
#include "probe/dialects/auth.h"
#include "probe/dialects/sasl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum pop3_status { POP3_OK, POP3_ERR, POP3_GARBAGE };

/* RFC 1939 section 3: "+OK" or "-ERR", then a space or the end of line. */
static enum pop3_status pop3_status_of(const char *line, size_t len)
{
	if (len >= 3 && strncasecmp(line, "+OK", 3) == 0 && (len == 3 || line[3] == ' '))
		return POP3_OK;
	if (len >= 4 && strncasecmp(line, "-ERR", 4) == 0 && (len == 4 || line[4] == ' '))
		return POP3_ERR;
	return POP3_GARBAGE;
}

/* Sends cmd and reads its status line into line (MP_MAX_LINE + 1 bytes). */
static enum mp_status pop3_command(struct session *s, const char *cmd, struct reply_wait *w,
                                   char *line, size_t bufsz, size_t *len, enum pop3_status *status)
{
	char q[DIALECT_QUOTE_SIZE];
	enum mp_status st;

	st = dialect_check_unsolicited(s, cmd);
	if (st != MP_OK)
		return st;
	st = session_send(s, cmd);
	if (st != MP_OK)
		return st;
	dialect_wait_command(s, w, cmd);
	st = dialect_read_line(s, w, line, bufsz, len);
	if (st != MP_OK)
		return st;
	*status = pop3_status_of(line, *len);
	if (*status == POP3_GARBAGE) {
		dialect_quote(q, sizeof(q), line, *len);
		return mp_error_set(&s->err, MP_ERR_PROTOCOL,
		                    "server answered %s with neither +OK nor -ERR: \"%s\"", cmd, q);
	}
	return MP_OK;
}

/* RFC 1939 section 7: an APOP-capable server puts a msg-id style timestamp
 * "<...@...>" in its greeting. Records it and offers "APOP". */
static void pop3_apop_timestamp(struct session *s, const char *line, size_t len)
{
	const char *lt = memchr(line, '<', len);
	const char *gt = NULL;
	const char *at = NULL;
	size_t tlen;

	if (!lt)
		return;
	gt = memchr(lt, '>', len - (size_t)(lt - line));
	if (!gt)
		return;
	tlen = (size_t)(gt - lt) + 1;
	at = memchr(lt, '@', tlen);
	if (!at || tlen > MP_MAX_CAP_LEN)
		return;
	for (const char *p = lt + 1; p < gt; p++)
		if (*p <= ' ' || *p == '<' || *p == 0x7f)
			return;
	free(s->res->apop_timestamp);
	s->res->apop_timestamp = strndup(lt, tlen);
	if (s->res->apop_timestamp)
		dialect_add_auth(s, "APOP", 4);
}

/* "+OK" greets, "-ERR" refuses (RFC 1939 section 4). */
static enum mp_status pop3_greeting(struct session *s)
{
	char line[MP_MAX_LINE + 1];
	char q[DIALECT_QUOTE_SIZE];
	struct reply_wait w;
	size_t len = 0;
	enum mp_status st;

	dialect_wait_greeting(s, &w);
	st = dialect_read_line(s, &w, line, sizeof(line), &len);
	if (st != MP_OK)
		return st;
	dialect_greeting_append(s, line, len);
	dialect_quote(q, sizeof(q), line, len);
	switch (pop3_status_of(line, len)) {
	case POP3_OK:
		pop3_apop_timestamp(s, line, len);
		return MP_OK;
	case POP3_ERR:
		/* RFC 2449 8.1.2 [IN-USE], RFC 3206 4 [SYS/TEMP]: transient. */
		s->res->busy = memmem(line, len, "[IN-USE]", 8) != NULL ||
		               memmem(line, len, "[SYS/TEMP]", 10) != NULL;
		return mp_error_set(&s->err, MP_ERR_REJECTED, "server refused service: \"%s\"", q);
	default:
		return mp_error_set(&s->err, MP_ERR_PROTOCOL,
		                    "server sent a POP3 greeting without +OK or -ERR: \"%s\"", q);
	}
}

/* Records one CAPA line (RFC 2449 section 6; SASL: RFC 5034 section 3;
 * STLS: RFC 2595 section 4). */
static void pop3_capa_line(struct session *s, const char *text, size_t len)
{
	char cap[MP_MAX_CAP_LEN + 1];
	size_t kw = dialect_keyword_line(cap, sizeof(cap), text, len);
	const char *params = cap + kw;

	if (kw == 0)
		return;
	dialect_add_cap(s, cap);
	if (kw == 4 && strncmp(cap, "SASL", 4) == 0)
		dialect_add_auth_list(s, params, strlen(params));
	else if (kw == 4 && strncmp(cap, "USER", 4) == 0)
		dialect_add_auth(s, "USER", 4);
	else if (kw == 4 && strncmp(cap, "STLS", 4) == 0 && !s->tls_active)
		s->res->starttls_offered = true;
}

/* CAPA (RFC 2449 section 5): "+OK", capability lines, ".". A -ERR means an
 * old RFC 1939 server: capabilities unknown, not an error. */
static enum mp_status pop3_capabilities(struct session *s)
{
	char line[MP_MAX_LINE + 1];
	struct reply_wait w;
	enum pop3_status status;
	size_t len = 0;
	enum mp_status st;

	st = pop3_command(s, "CAPA", &w, line, sizeof(line), &len, &status);
	if (st != MP_OK)
		return st;
	if (status == POP3_ERR) {
		transcript_note(&s->res->transcript,
		                "server does not support CAPA (RFC 2449): capabilities unknown");
		return MP_OK;
	}
	for (;;) {
		const char *text = line;

		st = dialect_read_line(s, &w, line, sizeof(line), &len);
		if (st != MP_OK)
			return st;
		if (len == 1 && line[0] == '.')
			return MP_OK;
		/* RFC 1939 section 3: a leading termination octet is stuffed. */
		if (len > 0 && line[0] == '.') {
			text++;
			len--;
		}
		pop3_capa_line(s, text, len);
	}
}

/* RFC 2595 section 4: "+OK" to STLS is the go-ahead, "-ERR" a refusal. */
static enum mp_status pop3_starttls(struct session *s)
{
	char line[MP_MAX_LINE + 1];
	char q[DIALECT_QUOTE_SIZE];
	struct reply_wait w;
	enum pop3_status status;
	size_t len = 0;
	enum mp_status st;

	st = pop3_command(s, "STLS", &w, line, sizeof(line), &len, &status);
	if (st != MP_OK)
		return st;
	if (status == POP3_ERR) {
		dialect_quote(q, sizeof(q), line, len);
		return mp_error_set(&s->err, MP_ERR_STARTTLS_REFUSED, "server refused STLS: \"%s\"",
		                    q);
	}
	return MP_OK;
}

/* QUIT and a short wait for "+OK"; errors are ignored (s->err is kept). */
static void pop3_quit(struct session *s)
{
	char line[MP_MAX_LINE + 1];
	struct mp_error saved = s->err;
	struct reply_wait w;
	size_t len = 0;

	if (session_send(s, "QUIT") == MP_OK) {
		dialect_wait_quit(s, &w, "QUIT");
		dialect_read_line(s, &w, line, sizeof(line), &len);
	}
	s->err = saved;
}

/* ---- Logins: AUTH (RFC 5034), USER/PASS and APOP (RFC 1939 section 7) ---- */

/* Sends a command that may carry a credential (recorded as shown) and reads
 * its status line; a +OK / -ERR line becomes out->reply. what names the
 * command in messages (never the line itself). */
static enum mp_status pop3_auth_command(struct session *s, const struct auth_config *cfg,
                                        const char *line, const char *shown, const char *what,
                                        struct auth_outcome *out, enum pop3_status *status)
{
	char buf[MP_MAX_LINE + 1];
	char q[DIALECT_QUOTE_SIZE];
	struct reply_wait w;
	size_t len = 0;
	enum mp_status st;

	st = dialect_check_unsolicited(s, what);
	if (st == MP_OK)
		st = session_send_redacted(s, line, shown);
	if (st != MP_OK)
		return st;
	dialect_wait_command(s, &w, what);
	st = dialect_read_line(s, &w, buf, sizeof(buf), &len);
	if (st != MP_OK)
		return st;
	*status = pop3_status_of(buf, len);
	if (*status != POP3_GARBAGE) {
		auth_set_reply(cfg, out, buf, len);
		return MP_OK;
	}
	dialect_quote(q, sizeof(q), buf, len);
	return mp_error_set(&s->err, MP_ERR_PROTOCOL,
	                    "server answered %s with neither +OK nor -ERR: \"%s\"", what, q);
}

/* RFC 5034 section 4: "AUTH mechanism [initial-response]", "=" for an empty
 * one; a line longer than MP_POP3_MAX_COMMAND waits for the first "+". */
static enum mp_status pop3_auth_start(struct session *s, const char *mech, const char *ir,
                                      bool *ir_sent)
{
	return dialect_send_auth(s, mech, ir, MP_POP3_MAX_COMMAND, ir_sent);
}

/* RFC 5034 section 4: "+" SP challenge, then "+OK" (success) or "-ERR". */
static enum mp_status pop3_auth_next(struct session *s, const struct auth_config *cfg,
                                     enum sasl_answer *kind, char *text, size_t textsz,
                                     struct auth_outcome *out)
{
	char line[MP_MAX_LINE + 1];
	char q[DIALECT_QUOTE_SIZE];
	struct reply_wait w;
	size_t len = 0;
	enum mp_status st;

	dialect_wait_command(s, &w, "AUTH");
	st = dialect_read_line(s, &w, line, sizeof(line), &len);
	if (st != MP_OK)
		return st;
	switch (pop3_status_of(line, len)) {
	case POP3_OK:
		*kind = SASL_A_SUCCESS;
		auth_set_reply(cfg, out, line, len);
		return MP_OK;
	case POP3_ERR:
		*kind = SASL_A_FAILURE;
		auth_set_reply(cfg, out, line, len);
		return MP_OK;
	default:
		break;
	}
	if (len >= 1 && line[0] == '+' && (len == 1 || line[1] == ' ')) {
		*kind = SASL_A_CHALLENGE;
		return auth_challenge_text(s, text, textsz, line + (len > 1 ? 2 : 1),
		                           len > 1 ? len - 2 : 0);
	}
	dialect_quote(q, sizeof(q), line, len);
	return mp_error_set(&s->err, MP_ERR_PROTOCOL,
	                    "server answered AUTH with neither \"+ \", +OK nor -ERR: \"%s\"", q);
}

/* ---- Active checks (checks.h) ---- */

/* One status line answering a command a check sent (RFC 1939 section 3). */
static enum mp_status pop3_check_reply(struct session *s, const char *what, int timeout_ms,
                                       struct dialect_reply *out)
{
	char line[MP_MAX_LINE + 1];
	struct reply_wait w;
	size_t len = 0;
	enum mp_status st;

	memset(out, 0, sizeof(*out));
	dialect_wait_command(s, &w, what);
	if (timeout_ms > 0)
		w.deadline = session_step_deadline(s, timeout_ms);
	st = dialect_read_line(s, &w, line, sizeof(line), &len);
	if (st != MP_OK)
		return st;
	dialect_quote(out->text, sizeof(out->text), line, len);
	switch (pop3_status_of(line, len)) {
	case POP3_OK:
		out->kind = DR_OK;
		return MP_OK;
	case POP3_ERR:
		out->kind = DR_NO;
		return MP_OK;
	default:
		return mp_error_set(&s->err, MP_ERR_PROTOCOL,
		                    "server answered %s with neither +OK nor -ERR: \"%s\"", what,
		                    out->text);
	}
}

static const struct sasl_framing pop3_sasl = {
    .start = pop3_auth_start,
    .next = pop3_auth_next,
};

/* True when v fits a POP3 command argument: no control characters. */
static bool pop3_arg_ok(const char *v)
{
	if (!v || !*v || strlen(v) > MP_MAX_SASL_CRED)
		return false;
	for (; *v; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return false;
	return true;
}

/* USER name, then PASS secret (RFC 1939 section 7); PASS is recorded
 * redacted. */
static enum mp_status pop3_user_pass(struct session *s, const struct auth_request *req,
                                     struct auth_outcome *out)
{
	const struct auth_config *cfg = req->cfg;
	size_t len = 0;
	char shown[64];
	char *line = NULL;
	enum pop3_status status;
	enum mp_status st;

	if (!pop3_arg_ok(cfg->user) || !pop3_arg_ok(cfg->password))
		return mp_error_set(&s->err, MP_ERR_INTERNAL,
		                    "the user name or password cannot go "
		                    "into a POP3 command");
	len = 8 + strlen(cfg->user) + strlen(cfg->password);
	line = malloc(len);
	if (!line)
		return mp_error_set(&s->err, MP_ERR_INTERNAL, "out of memory");
	snprintf(line, len, "USER %s", cfg->user);
	st = pop3_auth_command(s, cfg, line, line, "USER", out, &status);
	if (st != MP_OK)
		goto out;
	if (status == POP3_ERR) {
		out->verdict = AUTH_V_REJECTED;
		goto out;
	}
	snprintf(line, len, "PASS %s", cfg->password);
	snprintf(shown, sizeof(shown), "PASS [redacted]");
	st = pop3_auth_command(s, cfg, line, shown, "PASS", out, &status);
	if (st == MP_OK)
		out->verdict = status == POP3_OK ? AUTH_V_OK : AUTH_V_REJECTED;
out:
	explicit_bzero(line, len);
	free(line);
	return st;
}

/* APOP name digest (RFC 1939 section 7): MD5 of this connection's greeting
 * timestamp and the password; the digest is recorded redacted (it allows an
 * offline guess of the password). */
static enum mp_status pop3_apop(struct session *s, const struct auth_request *req,
                                struct auth_outcome *out)
{
	const struct auth_config *cfg = req->cfg;
	char digest[33];
	char shown[MP_MAX_SASL_CRED + 64];
	char line[MP_MAX_SASL_CRED + 64];
	enum pop3_status status;
	enum mp_status st;

	if (!s->res->apop_timestamp)
		return mp_error_set(&s->err, MP_ERR_PROTOCOL,
		                    "this connection's greeting has no "
		                    "APOP timestamp");
	if (!pop3_arg_ok(cfg->user) || !cfg->password ||
	    apop_digest(s->res->apop_timestamp, cfg->password, digest) != 0)
		return mp_error_set(&s->err, MP_ERR_INTERNAL,
		                    "the user name or password cannot go "
		                    "into an APOP command");
	snprintf(line, sizeof(line), "APOP %s %s", cfg->user, digest);
	snprintf(shown, sizeof(shown), "APOP %s [redacted]", cfg->user);
	st = pop3_auth_command(s, cfg, line, shown, "APOP", out, &status);
	if (st == MP_OK)
		out->verdict = status == POP3_OK ? AUTH_V_OK : AUTH_V_REJECTED;
	explicit_bzero(digest, sizeof(digest));
	explicit_bzero(line, sizeof(line));
	return st;
}

static enum mp_status pop3_authenticate(struct session *s, const struct auth_request *req,
                                        struct auth_outcome *out)
{
	if (auth_method_is_sasl(req->method))
		return auth_sasl_exchange(s, req, &pop3_sasl, out);
	if (req->method == AUTH_POP3_USER)
		return pop3_user_pass(s, req, out);
	if (req->method == AUTH_POP3_APOP)
		return pop3_apop(s, req, out);
	return mp_error_set(&s->err, MP_ERR_INTERNAL, "POP3 has no %s login",
	                    auth_method_name(req->method));
}

/* RFC 1939 section 7: a timestamp in the greeting offers APOP. */
static void pop3_implied_methods(const struct probe_result *res, const struct strlist *caps,
                                 bool *offered)
{
	(void)caps;
	if (res->apop_timestamp)
		offered[AUTH_POP3_APOP] = true;
}

const struct dialect pop3_dialect = {
    .proto = PROTO_POP3,
    .name = "pop3",
    /* RFC 1939 (110), RFC 8314 (995). */
    .scheme_tls = "pop3s",
    .port_plain = 110,
    .port_tls = 995,
    .well_known_ports = {110, 995},
    .matrix = {{110, MODE_STARTTLS}, {995, MODE_TLS}},
    .auto_order = {{995, MODE_TLS}, {110, MODE_STARTTLS}, {110, MODE_PLAIN}},
    /* RFC 5034 SASL, RFC 1939 7 USER/PASS and APOP. */
    .auth_methods = DIALECT_SASL_METHODS | 1u << AUTH_POP3_USER | 1u << AUTH_POP3_APOP,
    .implied_methods = pop3_implied_methods,
    /* RFC 2595 4: STLS, go-ahead +OK; RFC 2449 6.8: USER in CAPA. */
    .starttls_command = "STLS",
    .noop_command = "NOOP",
    .quit_command = "QUIT",
    .login_probe = "USER",
    .login_probe_cap = "USER",
    .greeting = pop3_greeting,
    .capabilities = pop3_capabilities,
    .starttls = pop3_starttls,
    .quit = pop3_quit,
    .authenticate = pop3_authenticate,
    .read_reply = pop3_check_reply,
};
