/* auth.c - logging in: the plan per endpoint, the rules for sending
 * credentials, the SASL exchange shared by the dialects, and keeping
 * secrets out of results (see auth.h). */
#include "probe/dialects/auth.h"
#include "probe/dialects/dialect.h"
#include "probe/dialects/sasl.h"
#include "core/base64.h"
#include "core/deadline.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Most secret strings one exchange watches for in server text: password,
 * token, their base64 forms, and every response sent. */
#define AUTH_MAX_SECRETS (4 + 2 * MP_MAX_SASL_ROUNDS + 2)
/* Shortest secret looked for in server text (shorter ones match by chance). */
#define AUTH_MIN_SECRET 3
/* What a withheld line or message says instead. */
#define AUTH_WITHHELD "[withheld: it contained a credential]"

static bool is_oauth(enum auth_method m)
{
	return m == AUTH_XOAUTH2 || m == AUTH_OAUTHBEARER;
}

/* True when protocol p has method m at all (its dialect says). */
static bool method_of_protocol(enum auth_method m, enum protocol p)
{
	const struct dialect *d = dialect_for(p);

	return d && (d->auth_methods & (1u << m));
}

/* ---- Secrets kept out of results ---- */

/* Strings that must not appear in anything recorded. Copies, wiped at the end. */
struct secrets {
	char *v[AUTH_MAX_SECRETS];
	size_t n;
};

/* Adds a copy of s (when long enough to be recognised). */
static void secrets_add(struct secrets *ss, const char *s)
{
	if (!s || strlen(s) < AUTH_MIN_SECRET || ss->n >= AUTH_MAX_SECRETS)
		return;
	ss->v[ss->n] = strdup(s);
	if (ss->v[ss->n])
		ss->n++;
}

/* Adds s and its base64 form. */
static void secrets_add_b64(struct secrets *ss, const char *s)
{
	char *b = NULL;

	if (!s || !*s)
		return;
	secrets_add(ss, s);
	b = b64_encode(s, strlen(s));
	secrets_add(ss, b);
	if (b) {
		explicit_bzero(b, strlen(b));
		free(b);
	}
}

/* The secrets of cfg: password, token, and their base64 forms. */
static void secrets_init(struct secrets *ss, const struct auth_config *cfg)
{
	memset(ss, 0, sizeof(*ss));
	if (!cfg)
		return;
	secrets_add_b64(ss, cfg->password);
	secrets_add_b64(ss, cfg->token);
}

static void secrets_free(struct secrets *ss)
{
	for (size_t i = 0; i < ss->n; i++) {
		explicit_bzero(ss->v[i], strlen(ss->v[i]));
		free(ss->v[i]);
	}
	ss->n = 0;
}

/* True when text[0..len) contains one of the secrets, as is or as
 * dialect_quote() would show it. */
static bool secrets_in(const struct secrets *ss, const char *text, size_t len)
{
	char q[DIALECT_QUOTE_SIZE];

	for (size_t i = 0; i < ss->n; i++) {
		size_t sl = strlen(ss->v[i]);

		if (memmem(text, len, ss->v[i], sl))
			return true;
		dialect_quote(q, sizeof(q), ss->v[i], sl);
		if (strcmp(q, ss->v[i]) != 0 && memmem(text, len, q, strlen(q)))
			return true;
	}
	return false;
}

/* Replaces every transcript entry from index `from` on that contains a
 * secret (a server echoing a password, say). */
static void scrub_transcript(struct transcript *t, size_t from, const struct secrets *ss)
{
	for (size_t i = from; i < t->n; i++) {
		struct transcript_entry *e = &t->e[i];
		char *repl = NULL;

		if (!e->text || !secrets_in(ss, e->text, e->len))
			continue;
		repl = strdup(AUTH_WITHHELD);
		if (!repl)
			continue;
		explicit_bzero(e->text, e->len);
		free(e->text);
		e->text = repl;
		e->len = strlen(repl);
	}
}

/* Copies msg into a result field, withholding it when it holds a secret. */
static void set_field(char *dst, size_t dstsz, const char *msg, const struct secrets *ss)
{
	if (ss && secrets_in(ss, msg, strlen(msg)))
		msg = AUTH_WITHHELD;
	snprintf(dst, dstsz, "%s", msg);
}

void auth_set_reply(const struct auth_config *cfg, struct auth_outcome *out, const char *line,
                    size_t len)
{
	struct secrets ss;

	secrets_init(&ss, cfg);
	if (secrets_in(&ss, line, len))
		snprintf(out->reply, sizeof(out->reply), "%s", AUTH_WITHHELD);
	else
		dialect_quote(out->reply, sizeof(out->reply), line, len);
	secrets_free(&ss);
}

enum mp_status auth_challenge_text(struct session *s, char *text, size_t textsz, const char *p,
                                   size_t len)
{
	if (len >= textsz)
		return mp_error_set(&s->err, MP_ERR_PROTOCOL,
		                    "server sent a SASL challenge of %zu bytes (limit %zu)", len,
		                    textsz - 1);
	memcpy(text, p, len);
	text[len] = '\0';
	return MP_OK;
}

/* ---- The plan ---- */

/* Why credentials cannot go over a connection with tls_up and tls (NULL when
 * they can): the rules of auth.h. */
static const char *refusal(const struct auth_config *cfg, bool tls_up, const struct tls_info *tls,
                           char *buf, size_t bufsz)
{
	if (!tls_up) {
		if (cfg->allow_plaintext)
			return NULL;
		return "would send credentials in plaintext: the connection is not encrypted "
		       "(--allow-plaintext-auth allows it)";
	}
	if (cfg->insecure || (tls->verified && tls->hostname_matched))
		return NULL;
	if (!tls->verified)
		snprintf(buf, bufsz,
		         "certificate not verified (%.120s): credentials go only to a "
		         "verified server (use --cafile, or --insecure)",
		         tls->verify_error[0] ? tls->verify_error : "unknown reason");
	else
		snprintf(buf, bufsz,
		         "certificate does not match the host name: credentials go "
		         "only to a verified server (use --sni, or --insecure)");
	return buf;
}

/* The mechanisms the last phase of the probe advertised (after TLS when TLS
 * is up, else before). */
static const struct strlist *final_auth(const struct probe_result *res)
{
	return res->ep.mode == MODE_PLAIN ? &res->auth_before : &res->auth_after;
}

static const struct strlist *final_caps(const struct probe_result *res)
{
	return res->ep.mode == MODE_PLAIN ? &res->caps_before : &res->caps_after;
}

/* Marks which methods res's server offers; the rest of its mechanisms go to
 * res->auth_unsupported. */
static void offered_methods(struct probe_result *res, bool *offered)
{
	const struct strlist *l = final_auth(res);
	enum protocol p = res->ep.proto;
	const struct dialect *d = dialect_for(p);

	for (size_t i = 0; i < l->n; i++) {
		int m = auth_method_parse(l->v[i]);

		/* "USER" and "APOP" are what pop3.c lists for those commands;
		 * "IMAP-LOGIN" is our name, never a server's. */
		if (m >= 0 && m != AUTH_IMAP_LOGIN && method_of_protocol(m, p))
			offered[m] = true;
		else if (!strlist_has(&res->auth_unsupported, l->v[i]))
			strlist_add_str(&res->auth_unsupported, l->v[i]);
	}
	/* What the protocol offers without listing it (IMAP LOGIN, APOP). */
	if (d && d->implied_methods)
		d->implied_methods(res, final_caps(res), offered);
}

/* True when the greeting says the session is logged in already (IMAP
 * PREAUTH, RFC 9051 7.1.4). */
static bool preauthenticated(const struct probe_result *res)
{
	const struct dialect *d = dialect_for(res->ep.proto);
	const char *g = d ? d->preauth_greeting : NULL;

	return g && res->greeting && strncasecmp(res->greeting, g, strlen(g)) == 0;
}

size_t auth_plan(const struct auth_config *cfg, struct probe_result *res)
{
	bool offered[AUTH_METHOD_COUNT] = {false};
	bool tls_up = res->ep.mode != MODE_PLAIN && res->tls_used && res->tls.done;
	char buf[MP_MAX_ERROR];
	const char *why = refusal(cfg, tls_up, &res->tls, buf, sizeof(buf));
	size_t attempts = 0;

	res->auth_results = calloc(AUTH_METHOD_COUNT, sizeof(*res->auth_results));
	if (!res->auth_results)
		return 0;
	res->nauth = 0;
	res->auth_planned = true;
	offered_methods(res, offered);
	for (int m = 0; m < AUTH_METHOD_COUNT; m++) {
		struct auth_result *a = &res->auth_results[res->nauth];
		bool named = cfg->allowed & (1u << m);

		if (!method_of_protocol(m, res->ep.proto) || (!offered[m] && !named))
			continue;
		res->nauth++;
		a->mechanism = auth_method_name(m);
		a->method = m;
		a->time_ms = -1;
		a->status = AUTH_ST_SKIPPED;
		if (!offered[m]) {
			a->status = AUTH_ST_NOT_OFFERED;
			snprintf(a->detail, sizeof(a->detail),
			         "allowed, but the server does not "
			         "advertise it here");
		} else if (cfg->allowed && !named) {
			snprintf(a->detail, sizeof(a->detail), "not in --allowed-auth");
		} else if (preauthenticated(res)) {
			snprintf(a->detail, sizeof(a->detail),
			         "the server pre-authenticated the "
			         "connection (PREAUTH): there is no login");
		} else if (is_oauth(m) && !cfg->token) {
			snprintf(a->detail, sizeof(a->detail),
			         "no OAuth token given "
			         "(--oauth-token-file)");
		} else if (!is_oauth(m) && !cfg->password) {
			snprintf(a->detail, sizeof(a->detail), "no password given");
		} else if (why) {
			snprintf(a->detail, sizeof(a->detail), "%s", why);
		} else {
			a->attempt = true;
			a->status = AUTH_ST_ERROR;
			snprintf(a->detail, sizeof(a->detail),
			         "not attempted: the run was "
			         "interrupted or its deadline passed first");
			attempts++;
		}
	}
	return attempts;
}

/* ---- One attempt ---- */

void auth_attempt_failed(struct auth_result *out, enum mp_status st, const char *msg)
{
	out->status = AUTH_ST_ERROR;
	snprintf(out->detail, sizeof(out->detail), "%s before the login: %s", mp_status_name(st),
	         msg && *msg ? msg : mp_status_describe(st));
}

void auth_attempt(struct session *s, const struct auth_config *cfg, struct auth_result *out)
{
	const struct dialect *d = dialect_for(s->ep->proto);
	struct auth_request req = {.method = (enum auth_method)out->method, .cfg = cfg};
	struct auth_outcome o;
	struct secrets ss;
	char buf[MP_MAX_ERROR];
	const char *why = refusal(cfg, s->tls_active, &s->res->tls, buf, sizeof(buf));
	int64_t t0;
	enum mp_status st;

	memset(&o, 0, sizeof(o));
	secrets_init(&ss, cfg);
	out->reply[0] = out->detail[0] = '\0';
	if (why) {
		/* The fresh connection differs from the probe's (another
		 * certificate, say): the rules hold for each connection. */
		out->status = AUTH_ST_SKIPPED;
		set_field(out->detail, sizeof(out->detail), why, NULL);
		goto out;
	}
	t0 = mono_ms();
	mp_error_clear(&s->err);
	st = d->authenticate(s, &req, &o);
	out->time_ms = mono_ms() - t0;
	set_field(out->reply, sizeof(out->reply), o.reply, &ss);
	if (st != MP_OK) {
		out->status = AUTH_ST_ERROR;
		char msg[MP_MAX_ERROR + 64];

		snprintf(msg, sizeof(msg), "%s: %s", mp_status_name(st),
		         s->err.msg[0] ? s->err.msg : mp_status_describe(st));
		set_field(out->detail, sizeof(out->detail), msg, &ss);
		goto out;
	}
	out->status = o.verdict == AUTH_V_OK         ? AUTH_ST_OK
	              : o.verdict == AUTH_V_REJECTED ? AUTH_ST_REJECTED
	                                             : AUTH_ST_ERROR;
	if (o.verdict == AUTH_V_TEMPFAIL && !o.detail[0])
		snprintf(o.detail, sizeof(o.detail),
		         "the server failed the login temporarily or "
		         "did not accept the command");
	set_field(out->detail, sizeof(out->detail), o.detail, &ss);
out:
	scrub_transcript(&s->res->transcript, 0, &ss);
	secrets_free(&ss);
}

void auth_scrub(struct transcript *t, const struct auth_config *cfg)
{
	struct secrets ss;

	secrets_init(&ss, cfg);
	scrub_transcript(t, 0, &ss);
	secrets_free(&ss);
}

/* ---- The SASL exchange ---- */

/* Sends one response (base64, or "*"), as the framing f frames it (by
 * default a line of its own), recorded redacted. */
static enum mp_status send_response(struct session *s, const struct sasl_framing *f,
                                    const char *resp, struct secrets *ss)
{
	char shown[64];

	if (strcmp(resp, "*") != 0)
		secrets_add(ss, resp);
	if (f->respond)
		return f->respond(s, resp);
	sasl_redact_line(resp, 0, shown, sizeof(shown));
	return session_send_redacted(s, resp, shown);
}

/* After our side gave up: cancels with "*" (RFC 4954 4, RFC 9051 6.2.2,
 * RFC 5034 4) and reads the server's answer, which should be a failure.
 * Keeps s->err (our reason). */
static void cancel(struct session *s, const struct auth_config *cfg, const struct sasl_framing *f,
                   struct secrets *ss, struct auth_outcome *out, char *text, size_t textsz)
{
	struct mp_error saved = s->err;
	enum sasl_answer kind;

	if (send_response(s, f, "*", ss) == MP_OK)
		f->next(s, cfg, &kind, text, textsz, out);
	s->err = saved;
}

/* Note for a verified SCRAM login, or the server's own error. */
static void exchange_detail(const struct sasl_client *c, enum auth_method m,
                            struct auth_outcome *out)
{
	const char *serr = sasl_server_error(c);

	if (serr)
		snprintf(out->detail, sizeof(out->detail), "server said: %s", serr);
	else if ((m == AUTH_SCRAM_SHA_1 || m == AUTH_SCRAM_SHA_256) && sasl_server_verified(c))
		snprintf(out->detail, sizeof(out->detail),
		         "server signature verified: the server "
		         "knows the password");
}

enum mp_status auth_sasl_exchange(struct session *s, const struct auth_request *req,
                                  const struct sasl_framing *f, struct auth_outcome *out)
{
	const struct auth_config *cfg = req->cfg;
	struct sasl_creds creds = {
	    .user = cfg->user,
	    .pass = cfg->password,
	    .token = cfg->token,
	    .host = s->ep->host,
	    .port = s->ep->port,
	};
	struct sasl_client *c = NULL;
	struct secrets ss;
	char *ir = NULL, *resp = NULL;
	char *text = NULL;
	size_t textsz = MP_MAX_SASL_CHALLENGE + 1;
	size_t from = s->res->transcript.n;
	bool ir_sent = false;
	enum sasl_answer kind;
	enum mp_status st;

	memset(out, 0, sizeof(*out));
	secrets_init(&ss, cfg);
	text = malloc(textsz);
	if (!text || !auth_method_is_sasl(req->method)) {
		st = mp_error_set(&s->err, MP_ERR_INTERNAL,
		                  text ? "not a SASL mechanism" : "out of memory");
		goto out;
	}
	c = sasl_new((enum sasl_mech)req->method, &creds, &s->err);
	if (!c) {
		st = s->err.code;
		goto out;
	}
	if (req->scram_nonce) {
		st = sasl_set_nonce_for_test(c, req->scram_nonce, &s->err);
		if (st != MP_OK)
			goto out;
	}
	st = sasl_initial(c, &ir, &s->err);
	if (st != MP_OK)
		goto out;
	secrets_add(&ss, ir);
	st = f->start(s, auth_method_name(req->method), ir, &ir_sent);
	if (st != MP_OK)
		goto out;
	for (unsigned round = 0;; round++) {
		text[0] = '\0'; /* a success without data leaves it empty */
		st = f->next(s, cfg, &kind, text, textsz, out);
		if (st != MP_OK)
			goto out;
		if (kind != SASL_A_CHALLENGE)
			break;
		if (round >= MP_MAX_SASL_ROUNDS) {
			st = mp_error_set(&s->err, MP_ERR_PROTOCOL,
			                  "server sent more than %d %s challenges",
			                  MP_MAX_SASL_ROUNDS, auth_method_name(req->method));
			cancel(s, cfg, f, &ss, out, text, textsz);
			goto out;
		}
		if (ir && !ir_sent) {
			/* RFC 4422 section 5: the (empty) first challenge asks
			 * for the initial response we could not send at once. */
			ir_sent = true;
			st = send_response(s, f, ir, &ss);
			if (st != MP_OK)
				goto out;
			continue;
		}
		st = sasl_step(c, text, &resp, &s->err);
		if (st != MP_OK) {
			cancel(s, cfg, f, &ss, out, text, textsz);
			goto out;
		}
		st = send_response(s, f, resp, &ss);
		sasl_response_free(resp);
		resp = NULL;
		if (st != MP_OK)
			goto out;
	}
	switch (kind) {
	case SASL_A_SUCCESS:
		out->verdict = AUTH_V_OK;
		/* RFC 5802 section 5: the client must verify the server;
		 * RFC 4422 section 5: its proof may come with the success. */
		st = sasl_finish(c, text[0] ? text : NULL, &s->err);
		break;
	case SASL_A_FAILURE:
		out->verdict = AUTH_V_REJECTED;
		break;
	default:
		out->verdict = AUTH_V_TEMPFAIL;
		break;
	}
	if (st == MP_OK)
		exchange_detail(c, req->method, out);
out:
	if (secrets_in(&ss, out->reply, strlen(out->reply)))
		snprintf(out->reply, sizeof(out->reply), "%s", AUTH_WITHHELD);
	if (secrets_in(&ss, s->err.msg, strlen(s->err.msg)))
		snprintf(s->err.msg, sizeof(s->err.msg), "%s", AUTH_WITHHELD);
	scrub_transcript(&s->res->transcript, from, &ss);
	sasl_response_free(ir);
	sasl_free(c);
	secrets_free(&ss);
	free(text);
	return st;
}
