/* imap.c - the IMAP dialect: greeting, CAPABILITY, STARTTLS, LOGOUT.
 *
 * RFC 9051 / RFC 3501: greeting (7.1), CAPABILITY (6.1.1, 7.2.2), STARTTLS
 * (6.2.1), LOGOUT (6.1.3), literals (4.3). Server text is untrusted:
 * responses are bounded and literals are skipped, never allocated.
 */
#include "probe/dialects/dialect.h"
#include "probe/dialects/auth.h"
#include "probe/dialects/sasl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum imap_cond { IMAP_OK, IMAP_NO, IMAP_BAD };

/* What a command's response came to. */
struct imap_reply {
	enum imap_cond cond;             /* of the tagged line */
	char tagged[DIALECT_QUOTE_SIZE]; /* the tagged line, quoted for messages */
	char tag[16];                    /* the tag of the tagged line (any-tag reads) */
	bool caps_seen;                  /* an untagged CAPABILITY was read */
	/* Logins (auth.h): with cont set, a continuation request ends the
	 * read (continued) and its text goes to cont (contsz bytes); with
	 * auth_out set, the tagged line becomes auth_out->reply. */
	char *cont;
	size_t contsz;
	bool continued;
	const struct auth_config *auth_cfg;
	struct auth_outcome *auth_out;
};

/* True when line (len bytes) starts with word (case-insensitively) followed
 * by a space or the end of the line; *rest then points after the space. */
static bool imap_word(const char *line, size_t len, const char *word, const char **rest)
{
	size_t wl = strlen(word);

	if (len < wl || strncasecmp(line, word, wl) != 0)
		return false;
	if (len > wl && line[wl] != ' ')
		return false;
	*rest = line + (len > wl ? wl + 1 : wl);
	return true;
}

/* Records one CAPABILITY word, upper-cased (RFC 9051 7.2.2). */
static void imap_cap_word(struct session *s, const char *word, size_t len)
{
	char cap[MP_MAX_CAP_LEN + 1];

	if (len == 0)
		return;
	if (len > MP_MAX_CAP_LEN)
		len = MP_MAX_CAP_LEN;
	for (size_t i = 0; i < len; i++)
		cap[i] = (char)toupper((unsigned char)word[i]);
	cap[len] = '\0';
	dialect_add_cap(s, cap);
	if (len > 5 && strncmp(cap, "AUTH=", 5) == 0) {
		dialect_add_auth(s, cap + 5, len - 5);
	} else if (strcmp(cap, "STARTTLS") == 0 && !s->tls_active) {
		s->res->starttls_offered = true;
	} else if (strcmp(cap, "LOGINDISABLED") == 0 && !s->tls_active) {
		/* RFC 3501 6.2.3 / RFC 9051 6.2.3: LOGIN refused until TLS. */
		result_add_finding(s->res, FINDING_LOGINDISABLED,
		                   "server refuses LOGIN before TLS (LOGINDISABLED): good, "
		                   "passwords cannot be sent in cleartext");
	}
}

/* Records the space-separated capability words of list (len bytes). */
static void imap_cap_words(struct session *s, const char *list, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t start;

		while (i < len && list[i] == ' ')
			i++;
		start = i;
		while (i < len && list[i] != ' ')
			i++;
		imap_cap_word(s, list + start, i - start);
	}
}

/* Records a "[CAPABILITY ...]" response code at p, if there is one
 * (RFC 9051 7.1: greetings and tagged OK may carry it). */
static void imap_resp_code_caps(struct session *s, const char *p, size_t len)
{
	const char *rest = NULL;
	const char *end = NULL;

	if (len < 1 || p[0] != '[' || !imap_word(p + 1, len - 1, "CAPABILITY", &rest))
		return;
	end = memchr(rest, ']', len - (size_t)(rest - p));
	imap_cap_words(s, rest, (size_t)((end ? end : p + len) - rest));
}

/* Does the line end in a literal "{n}" or "{n+}" (RFC 9051 4.3, RFC 7888)?
 * Returns 0 if not, 1 with *n and *start (where "{" is), or -1 when n
 * exceeds MP_MAX_IMAP_LITERAL. */
static int imap_literal(const char *line, size_t len, size_t *n, size_t *start)
{
	size_t i, digits = 0;
	size_t v = 0;
	bool over = false;

	if (len < 3 || line[len - 1] != '}')
		return 0;
	i = len - 1;
	if (line[i - 1] == '+')
		i--;
	while (i > 0 && isdigit((unsigned char)line[i - 1])) {
		i--;
		digits++;
	}
	if (digits == 0 || i == 0 || line[i - 1] != '{')
		return 0;
	*start = i - 1;
	for (size_t k = i; k < i + digits; k++) {
		v = v * 10 + (size_t)(line[k] - '0');
		if (v > MP_MAX_IMAP_LITERAL) {
			over = true;
			break;
		}
	}
	*n = v;
	return over ? -1 : 1;
}

/* Reads the rest of an untagged response whose line ends in a literal: skips
 * the literal bytes and reads the line that continues after them, as often
 * as needed. Capability words in the continuation are recorded if caps. */
static enum mp_status imap_literals(struct session *s, struct reply_wait *w, char *line,
                                    size_t bufsz, size_t len, bool caps)
{
	char q[DIALECT_QUOTE_SIZE];
	size_t n = 0, start = 0;
	enum mp_status st;
	int lit;

	while ((lit = imap_literal(line, len, &n, &start)) != 0) {
		if (lit < 0) {
			dialect_quote(q, sizeof(q), line + start, len - start);
			result_add_finding(s->res, FINDING_LIMIT_HIT,
			                   "IMAP literal larger than %d bytes in the reply to %s",
			                   MP_MAX_IMAP_LITERAL, w->what);
			return mp_error_set(&s->err, MP_ERR_PROTOCOL,
			                    "server announced an IMAP literal over the %d-byte "
			                    "limit (in the reply to %s): \"%s\"",
			                    MP_MAX_IMAP_LITERAL, w->what, q);
		}
		st = dialect_skip_bytes(s, w, n);
		if (st != MP_OK)
			return st;
		st = dialect_read_line(s, w, line, bufsz, &len);
		if (st != MP_OK)
			return st;
		if (caps) {
			size_t upto = len;

			if (imap_literal(line, len, &n, &start) != 0)
				upto = start;
			imap_cap_words(s, line, upto);
		}
	}
	return MP_OK;
}

/* Handles one untagged line ("* ..."): CAPABILITY is recorded (the first
 * one of a response replaces the current lists), the rest is ignored. */
static enum mp_status imap_untagged(struct session *s, struct reply_wait *w, struct imap_reply *r,
                                    char *line, size_t bufsz, size_t len)
{
	const char *rest = NULL;
	bool caps = imap_word(line + 2, len - 2, "CAPABILITY", &rest);

	if (caps) {
		size_t n = 0, start = len;

		if (!r->caps_seen) {
			strlist_clear(dialect_caps(s));
			strlist_clear(dialect_auth(s));
			r->caps_seen = true;
		}
		imap_literal(line, len, &n, &start);
		if (start < (size_t)(rest - line))
			start = (size_t)(rest - line);
		imap_cap_words(s, rest, start - (size_t)(rest - line));
	}
	return imap_literals(s, w, line, bufsz, len, caps);
}

/* Reads a command's response up to the line tagged `tag` (RFC 9051 2.2.2,
 * 7.1), or with tag NULL up to a tagged line of any tag (its tag goes to
 * r->tag). A continuation request is a protocol error here: no command we
 * send asks for one. */
static enum mp_status imap_read_response(struct session *s, struct reply_wait *w, const char *tag,
                                         struct imap_reply *r)
{
	char line[MP_MAX_LINE + 1];
	char q[DIALECT_QUOTE_SIZE];
	size_t taglen = tag ? strlen(tag) : 0;
	size_t len = 0;
	enum mp_status st;

	for (;;) {
		const char *rest = NULL;
		const char *sp = NULL;

		st = dialect_read_line(s, w, line, sizeof(line), &len);
		if (st != MP_OK)
			return st;
		dialect_quote(q, sizeof(q), line, len);
		if (len >= 2 && line[0] == '*' && line[1] == ' ') {
			st = imap_untagged(s, w, r, line, sizeof(line), len);
			if (st != MP_OK)
				return st;
			continue;
		}
		if (len >= 1 && line[0] == '+' && r->cont) {
			/* RFC 9051 7.5: "+" SP (resp-text / base64) */
			size_t skip = len > 1 && line[1] == ' ' ? 2 : 1;

			r->continued = true;
			return auth_challenge_text(s, r->cont, r->contsz, line + skip, len - skip);
		}
		if (len >= 1 && line[0] == '+')
			return mp_error_set(&s->err, MP_ERR_PROTOCOL,
			                    "server sent an unexpected continuation request in its "
			                    "reply to %s: \"%s\"",
			                    w->what, q);
		if (!tag) {
			/* RFC 9051 9: tag = 1*<any ASTRING-CHAR except "+"> */
			sp = memchr(line, ' ', len);
			taglen = sp ? (size_t)(sp - line) : 0;
			if (taglen == 0 || taglen >= sizeof(r->tag))
				return mp_error_set(&s->err, MP_ERR_PROTOCOL,
				                    "server sent a line that is neither untagged "
				                    "nor tagged in its reply to %s: \"%s\"",
				                    w->what, q);
			memcpy(r->tag, line, taglen);
			r->tag[taglen] = '\0';
		} else if (len <= taglen || strncmp(line, tag, taglen) != 0 ||
		           line[taglen] != ' ') {
			return mp_error_set(&s->err, MP_ERR_PROTOCOL,
			                    "server sent a line that is neither untagged nor "
			                    "tagged %s in its reply to %s: \"%s\"",
			                    tag, w->what, q);
		}
		memcpy(r->tagged, q, sizeof(r->tagged));
		if (r->auth_out)
			auth_set_reply(r->auth_cfg, r->auth_out, line + taglen + 1,
			               len - taglen - 1);
		if (imap_word(line + taglen + 1, len - taglen - 1, "OK", &rest)) {
			r->cond = IMAP_OK;
			imap_resp_code_caps(s, rest, len - (size_t)(rest - line));
		} else if (imap_word(line + taglen + 1, len - taglen - 1, "NO", &rest)) {
			r->cond = IMAP_NO;
		} else if (imap_word(line + taglen + 1, len - taglen - 1, "BAD", &rest)) {
			r->cond = IMAP_BAD;
		} else {
			return mp_error_set(&s->err, MP_ERR_PROTOCOL,
			                    "server sent a tagged reply that is not OK, NO or BAD "
			                    "(to %s): \"%s\"",
			                    w->what, q);
		}
		return MP_OK;
	}
}

/* Sends "<tag> <command>" with the next tag and reads the response. */
static enum mp_status imap_command(struct session *s, const char *command, struct reply_wait *w,
                                   bool quit, struct imap_reply *r)
{
	char tag[16];
	char line[64];
	enum mp_status st;

	snprintf(tag, sizeof(tag), "a%u", ++s->imap_tag);
	snprintf(line, sizeof(line), "%s %s", tag, command);
	st = session_send(s, line);
	if (st != MP_OK)
		return st;
	if (quit)
		dialect_wait_quit(s, w, command);
	else
		dialect_wait_command(s, w, command);
	return imap_read_response(s, w, tag, r);
}

/* RFC 9051 7.1: "* OK" (or "* PREAUTH") greets, "* BYE" refuses. */
static enum mp_status imap_greeting(struct session *s)
{
	char line[MP_MAX_LINE + 1];
	char q[DIALECT_QUOTE_SIZE];
	struct reply_wait w;
	const char *rest = NULL;
	size_t len = 0;
	enum mp_status st;

	dialect_wait_greeting(s, &w);
	st = dialect_read_line(s, &w, line, sizeof(line), &len);
	if (st != MP_OK)
		return st;
	dialect_greeting_append(s, line, len);
	dialect_quote(q, sizeof(q), line, len);
	if (len < 2 || line[0] != '*' || line[1] != ' ')
		return mp_error_set(&s->err, MP_ERR_PROTOCOL,
		                    "server sent an IMAP greeting that is not untagged: \"%s\"", q);
	/* RFC 3501 7.1.5: a BYE greeting means the server is not willing to
	 * accept a connection now (busy or shutting down). */
	if (imap_word(line + 2, len - 2, "BYE", &rest)) {
		s->res->busy = true;
		return mp_error_set(&s->err, MP_ERR_REJECTED, "server refused service: \"%s\"", q);
	}
	if (imap_word(line + 2, len - 2, "PREAUTH", &rest)) {
		transcript_note(&s->res->transcript,
		                "server pre-authenticated the connection (PREAUTH)");
	} else if (!imap_word(line + 2, len - 2, "OK", &rest)) {
		return mp_error_set(&s->err, MP_ERR_PROTOCOL,
		                    "server sent an IMAP greeting that is not OK, PREAUTH or BYE: "
		                    "\"%s\"",
		                    q);
	}
	imap_resp_code_caps(s, rest, len - (size_t)(rest - line));
	return MP_OK;
}

/* CAPABILITY, even when the greeting listed them: the list can differ. */
static enum mp_status imap_capabilities(struct session *s)
{
	struct imap_reply r = {0};
	struct reply_wait w;
	enum mp_status st;

	st = imap_command(s, "CAPABILITY", &w, false, &r);
	if (st != MP_OK)
		return st;
	if (r.cond != IMAP_OK)
		return mp_error_set(&s->err, MP_ERR_PROTOCOL, "server refused CAPABILITY: \"%s\"",
		                    r.tagged);
	if (!r.caps_seen)
		transcript_note(&s->res->transcript,
		                "server answered CAPABILITY without a CAPABILITY response");
	return MP_OK;
}

/* RFC 9051 6.2.1: tagged OK is the go-ahead; NO or BAD a refusal. */
static enum mp_status imap_starttls(struct session *s)
{
	struct imap_reply r = {0};
	struct reply_wait w;
	enum mp_status st;

	st = imap_command(s, "STARTTLS", &w, false, &r);
	if (st != MP_OK)
		return st;
	if (r.cond != IMAP_OK)
		return mp_error_set(&s->err, MP_ERR_STARTTLS_REFUSED,
		                    "server refused STARTTLS: \"%s\"", r.tagged);
	return MP_OK;
}

/* LOGOUT and a short wait for the tagged reply; errors are ignored. */
static void imap_quit(struct session *s)
{
	struct mp_error saved = s->err;
	struct imap_reply r = {0};
	struct reply_wait w;

	imap_command(s, "LOGOUT", &w, true, &r);
	s->err = saved;
}

/* ---- Logins: AUTHENTICATE (RFC 9051 6.2.2, SASL-IR RFC 4959) and LOGIN
 * (RFC 9051 6.2.3) ---- */

/* Sends line (recorded as shown) as the next tagged command's first line. */
static enum mp_status imap_send_tagged(struct session *s, const char *rest, unsigned keep_words)
{
	size_t len = 16 + strlen(rest);
	char shown[128];
	char *line = malloc(len);
	enum mp_status st;

	if (!line)
		return mp_error_set(&s->err, MP_ERR_INTERNAL, "out of memory");
	snprintf(line, len, "a%u %s", ++s->imap_tag, rest);
	sasl_redact_line(line, keep_words, shown, sizeof(shown));
	st = session_send_redacted(s, line, shown);
	explicit_bzero(line, len);
	free(line);
	return st;
}

/* "AUTHENTICATE mech [ir]": the initial response goes with the command only
 * when SASL-IR is advertised (RFC 4959 section 3), "=" when empty. */
static enum mp_status imap_auth_start(struct session *s, const char *mech, const char *ir,
                                      bool *ir_sent)
{
	size_t len = 16 + strlen(mech) + (ir ? strlen(ir) + 2 : 0);
	char *rest = malloc(len);
	enum mp_status st;

	if (!rest)
		return mp_error_set(&s->err, MP_ERR_INTERNAL, "out of memory");
	*ir_sent = ir && strlist_has(dialect_caps(s), "SASL-IR");
	snprintf(rest, len, "AUTHENTICATE %s%s%s", mech, *ir_sent ? " " : "",
	         *ir_sent ? (ir[0] ? ir : "=") : "");
	st = imap_send_tagged(s, rest, 3);
	explicit_bzero(rest, len);
	free(rest);
	return st;
}

/* Reads up to the next continuation request or the tagged answer of the
 * command in flight; the tagged line becomes out->reply. */
static enum mp_status imap_auth_read(struct session *s, const struct auth_config *cfg,
                                     const char *what, char *cont, size_t contsz,
                                     struct auth_outcome *out, struct imap_reply *r)
{
	struct reply_wait w;
	char tag[16];

	memset(r, 0, sizeof(*r));
	r->cont = cont;
	r->contsz = contsz;
	r->auth_cfg = cfg;
	r->auth_out = out;
	snprintf(tag, sizeof(tag), "a%u", s->imap_tag);
	dialect_wait_command(s, &w, what);
	return imap_read_response(s, &w, tag, r);
}

/* Tagged OK is success, NO a refusal, BAD a command the server did not take. */
static enum sasl_answer imap_answer(const struct imap_reply *r)
{
	if (r->continued)
		return SASL_A_CHALLENGE;
	return r->cond == IMAP_OK   ? SASL_A_SUCCESS
	       : r->cond == IMAP_NO ? SASL_A_FAILURE
	                            : SASL_A_TEMPFAIL;
}

static enum mp_status imap_auth_next(struct session *s, const struct auth_config *cfg,
                                     enum sasl_answer *kind, char *text, size_t textsz,
                                     struct auth_outcome *out)
{
	struct imap_reply r;
	enum mp_status st = imap_auth_read(s, cfg, "AUTHENTICATE", text, textsz, out, &r);

	if (st == MP_OK)
		*kind = imap_answer(&r);
	return st;
}

static const struct sasl_framing imap_sasl = {
    .start = imap_auth_start,
    .next = imap_auth_next,
};

/* True when v can be an IMAP quoted string: printable ASCII only (RFC 9051
 * 4.3; other bytes need a literal). */
static bool imap_quotable(const char *v)
{
	for (; *v; v++)
		if ((unsigned char)*v < 0x20 || (unsigned char)*v > 0x7e)
			return false;
	return true;
}

/* Appends v to buf (at o) as a quoted string: '"' and '\' escaped. */
static size_t imap_put_quoted(char *buf, size_t o, const char *v)
{
	buf[o++] = '"';
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			buf[o++] = '\\';
		buf[o++] = *v;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return o;
}

/* LOGIN user password (RFC 9051 6.2.3): each argument a quoted string, or a
 * synchronizing literal "{n}" (4.3) for other bytes, sent after the
 * server's "+". Every line that carries an argument is recorded redacted. */
static enum mp_status imap_login(struct session *s, const struct auth_request *req,
                                 struct auth_outcome *out)
{
	const char *args[2] = {req->cfg->user, req->cfg->password};
	size_t bufsz = 2 * (2 * MP_MAX_SASL_CRED + 16) + 32;
	char *buf = NULL;
	char shown[64];
	char cont[MP_MAX_LINE + 1];
	struct imap_reply r;
	size_t o;
	bool first = true;
	enum mp_status st = MP_OK;

	for (int i = 0; i < 2; i++)
		if (!args[i] || strlen(args[i]) > MP_MAX_SASL_CRED || strpbrk(args[i], "\r\n"))
			return mp_error_set(&s->err, MP_ERR_INTERNAL,
			                    "the %s cannot go into an "
			                    "IMAP LOGIN command",
			                    i ? "password" : "user name");
	buf = malloc(bufsz);
	if (!buf)
		return mp_error_set(&s->err, MP_ERR_INTERNAL, "out of memory");
	o = (size_t)snprintf(buf, bufsz, "a%u LOGIN ", ++s->imap_tag);
	for (int i = 0; i < 2; i++) {
		if (i)
			buf[o++] = ' ';
		if (imap_quotable(args[i])) {
			o = imap_put_quoted(buf, o, args[i]);
			continue;
		}
		o += (size_t)snprintf(buf + o, bufsz - o, "{%zu}", strlen(args[i]));
		if (first)
			sasl_redact_line(buf, 2, shown, sizeof(shown));
		else
			snprintf(shown, sizeof(shown), "[redacted]");
		st = session_send_redacted(s, buf, shown);
		if (st != MP_OK)
			goto out;
		first = false;
		st = imap_auth_read(s, req->cfg, "LOGIN", cont, sizeof(cont), out, &r);
		if (st != MP_OK)
			goto out;
		if (!r.continued) {
			out->verdict =
			    imap_answer(&r) == SASL_A_FAILURE ? AUTH_V_REJECTED : AUTH_V_TEMPFAIL;
			goto out;
		}
		o = strlen(args[i]);
		memcpy(buf, args[i], o + 1);
	}
	if (first)
		sasl_redact_line(buf, 2, shown, sizeof(shown));
	else
		snprintf(shown, sizeof(shown), "[redacted]");
	st = session_send_redacted(s, buf, shown);
	if (st != MP_OK)
		goto out;
	st = imap_auth_read(s, req->cfg, "LOGIN", NULL, 0, out, &r);
	if (st != MP_OK)
		goto out;
	switch (imap_answer(&r)) {
	case SASL_A_SUCCESS:
		out->verdict = AUTH_V_OK;
		break;
	case SASL_A_FAILURE:
		out->verdict = AUTH_V_REJECTED;
		break;
	default:
		out->verdict = AUTH_V_TEMPFAIL;
		break;
	}
out:
	explicit_bzero(buf, bufsz);
	free(buf);
	return st;
}

/* ---- Active checks (checks.h) ---- */

/* Untagged lines, then the first tagged line of any tag: the reply to one
 * of the commands a check sent (RFC 9051 7.1). */
static enum mp_status imap_check_reply(struct session *s, const char *what, int timeout_ms,
                                       struct dialect_reply *out)
{
	struct imap_reply r = {0};
	struct reply_wait w;
	enum mp_status st;

	memset(out, 0, sizeof(*out));
	dialect_wait_command(s, &w, what);
	if (timeout_ms > 0)
		w.deadline = session_step_deadline(s, timeout_ms);
	st = imap_read_response(s, &w, NULL, &r);
	if (st != MP_OK)
		return st;
	out->kind = r.cond == IMAP_OK ? DR_OK : r.cond == IMAP_NO ? DR_NO : DR_BAD;
	memcpy(out->tag, r.tag, sizeof(out->tag));
	memcpy(out->text, r.tagged, sizeof(out->text));
	return MP_OK;
}

static enum mp_status imap_authenticate(struct session *s, const struct auth_request *req,
                                        struct auth_outcome *out)
{
	if (auth_method_is_sasl(req->method))
		return auth_sasl_exchange(s, req, &imap_sasl, out);
	if (req->method == AUTH_IMAP_LOGIN)
		return imap_login(s, req, out);
	return mp_error_set(&s->err, MP_ERR_INTERNAL, "IMAP has no %s login",
	                    auth_method_name(req->method));
}

/* RFC 9051 6.2.3: LOGIN works unless LOGINDISABLED is advertised. */
static void imap_implied_methods(const struct probe_result *res, const struct strlist *caps,
                                 bool *offered)
{
	(void)res;
	if (!strlist_has(caps, "LOGINDISABLED"))
		offered[AUTH_IMAP_LOGIN] = true;
}

const struct dialect imap_dialect = {
    .proto = PROTO_IMAP,
    .name = "imap",
    /* RFC 9051 (143), RFC 8314 (993). */
    .scheme_tls = "imaps",
    .port_plain = 143,
    .port_tls = 993,
    .well_known_ports = {143, 993},
    .matrix = {{143, MODE_STARTTLS}, {993, MODE_TLS}},
    .auto_order = {{993, MODE_TLS}, {143, MODE_STARTTLS}, {143, MODE_PLAIN}},
    .auth_methods = DIALECT_SASL_METHODS | 1u << AUTH_IMAP_LOGIN,
    .implied_methods = imap_implied_methods,
    .preauth_greeting = "* PREAUTH",
    /* RFC 9051 6.2.1: the go-ahead is the tagged OK. */
    .tagged = true,
    .starttls_command = "STARTTLS",
    .noop_command = "NOOP",
    .quit_command = "LOGOUT",
    .login_probe = "LOGIN",
    .login_probe_cap = "LOGINDISABLED",
    .login_probe_cap_forbids = true,
    .greeting = imap_greeting,
    .capabilities = imap_capabilities,
    .starttls = imap_starttls,
    .quit = imap_quit,
    .authenticate = imap_authenticate,
    .read_reply = imap_check_reply,
};
