/* sasl_client.c - the SASL client framework (see sasl.h): mechanism names, the
 * credential rules, the life cycle of an exchange and its state machine.
 * The mechanisms live beside it: sasl_plain.c (PLAIN, LOGIN), sasl_cram.c
 * (CRAM-MD5), sasl_scram.c (SCRAM-SHA-*), sasl_oauth.c (XOAUTH2,
 * OAUTHBEARER); shared helpers in sasl_util.c; APOP in apop.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "probe/dialects/sasl.h"
#include "probe/dialects/sasl_int.h"

static const char *const mech_names[SASL_MECH_COUNT] = {
    [SASL_PLAIN] = "PLAIN",
    [SASL_LOGIN] = "LOGIN",
    [SASL_CRAM_MD5] = "CRAM-MD5",
    [SASL_SCRAM_SHA_1] = "SCRAM-SHA-1",
    [SASL_SCRAM_SHA_256] = "SCRAM-SHA-256",
    [SASL_XOAUTH2] = "XOAUTH2",
    [SASL_OAUTHBEARER] = "OAUTHBEARER",
};

const char *sasl_mech_name(enum sasl_mech mech)
{
	if ((unsigned)mech >= SASL_MECH_COUNT)
		return "?";
	return mech_names[mech];
}

int sasl_mech_parse(const char *name)
{
	int i;

	if (!name)
		return -1;
	for (i = 0; i < SASL_MECH_COUNT; i++) {
		if (strcasecmp(name, mech_names[i]) == 0)
			return i;
	}
	return -1;
}

static bool present(const char *s)
{
	return s && s[0] != '\0';
}

/* Which mechanisms can carry an authorisation identity. */
static bool takes_authzid(enum sasl_mech mech)
{
	return mech == SASL_PLAIN || sasl_is_scram(mech) || mech == SASL_OAUTHBEARER;
}

bool sasl_mech_usable(enum sasl_mech mech, const struct sasl_creds *creds)
{
	if ((unsigned)mech >= SASL_MECH_COUNT || !creds)
		return false;
	if (present(creds->authzid) && !takes_authzid(mech))
		return false;
	if (sasl_is_oauth(mech))
		return present(creds->token) && (mech == SASL_OAUTHBEARER || present(creds->user));
	return present(creds->user) && present(creds->pass);
}

/* Copies s, or NULL for an absent (NULL or empty) field; *oom on failure. */
static char *dup_field(const char *s, bool *oom)
{
	char *d = NULL;

	if (!present(s))
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

/* Why s cannot be a credential (NULL when it can): at most MP_MAX_SASL_CRED
 * bytes of valid UTF-8 (RFC 3629) with no control characters, which SASLprep
 * prohibits (RFC 4013 section 2.3, RFC 3454 tables C.2.1 and C.2.2). */
static const char *cred_problem(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s);
	size_t i = 0;

	if (len > MP_MAX_SASL_CRED)
		return "is too long";
	while (i < len) {
		unsigned cp;
		size_t need, k;

		if (p[i] < 0x80) {
			if (p[i] < 0x20 || p[i] == 0x7f)
				return "contains a control character";
			i++;
			continue;
		}
		if (p[i] >= 0xc2 && p[i] <= 0xdf) {
			need = 1;
			cp = p[i] & 0x1f;
		} else if (p[i] >= 0xe0 && p[i] <= 0xef) {
			need = 2;
			cp = p[i] & 0x0f;
		} else if (p[i] >= 0xf0 && p[i] <= 0xf4) {
			need = 3;
			cp = p[i] & 0x07;
		} else {
			return "is not valid UTF-8";
		}
		if (i + need >= len)
			return "is not valid UTF-8";
		for (k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return "is not valid UTF-8";
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return "is not valid UTF-8";
		if (cp >= 0x80 && cp <= 0x9f)
			return "contains a control character";
		i += need + 1;
	}
	return NULL;
}

/* True for an RFC 6750 section 2.1 b64token: 1*( ALPHA / DIGIT / "-" / "." /
 * "_" / "~" / "+" / "/" ) *"=". */
static bool is_b64token(const char *s)
{
	size_t i = 0;

	while (s[i] != '\0' && ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
	                        (s[i] >= '0' && s[i] <= '9') || strchr("-._~+/", s[i]) != NULL))
		i++;
	if (i == 0)
		return false;
	while (s[i] == '=')
		i++;
	return s[i] == '\0' && i <= MP_MAX_SASL_CRED;
}

struct sasl_client *sasl_new(enum sasl_mech mech, const struct sasl_creds *creds,
                             struct mp_error *err)
{
	struct sasl_client *c = NULL;
	const char *name = sasl_mech_name(mech);
	const char *why = NULL;
	const char *field = NULL;
	bool oom = false;

	if ((unsigned)mech >= SASL_MECH_COUNT || !creds) {
		mp_error_set(err, MP_ERR_INTERNAL, "unknown SASL mechanism");
		return NULL;
	}
	if (present(creds->authzid) && !takes_authzid(mech)) {
		mp_error_set(err, MP_ERR_INTERNAL, "%s cannot carry an authorisation identity",
		             name);
		return NULL;
	}
	if (sasl_is_oauth(mech)) {
		if (!present(creds->token)) {
			mp_error_set(err, MP_ERR_INTERNAL, "%s needs an OAuth token", name);
			return NULL;
		}
		if (mech == SASL_XOAUTH2 && !present(creds->user)) {
			mp_error_set(err, MP_ERR_INTERNAL, "%s needs a user name", name);
			return NULL;
		}
		if (!is_b64token(creds->token)) {
			mp_error_set(err, MP_ERR_INTERNAL,
			             "the token is not an OAuth bearer token (RFC 6750 b64token)");
			return NULL;
		}
	} else if (!present(creds->user) || !present(creds->pass)) {
		mp_error_set(err, MP_ERR_INTERNAL, "%s needs a user name and a password", name);
		return NULL;
	}
	if (present(creds->user) && (why = cred_problem(creds->user)) != NULL)
		field = "user name";
	else if (present(creds->pass) && !sasl_is_oauth(mech) && (why = cred_problem(creds->pass)))
		field = "password";
	else if (present(creds->authzid) && (why = cred_problem(creds->authzid)) != NULL)
		field = "authorisation identity";
	else if (present(creds->host) && (why = cred_problem(creds->host)) != NULL)
		field = "host name";
	if (field) {
		mp_error_set(err, MP_ERR_INTERNAL, "the %s %s", field, why);
		return NULL;
	}

	c = calloc(1, sizeof(*c));
	if (!c)
		goto oom;
	c->mech = mech;
	c->state = ST_START;
	c->port = creds->port;
	c->user = dup_field(creds->user, &oom);
	if (!sasl_is_oauth(mech))
		c->pass = dup_field(creds->pass, &oom);
	else
		c->token = dup_field(creds->token, &oom);
	c->authzid = dup_field(creds->authzid, &oom);
	c->host = dup_field(creds->host, &oom);
	if (oom)
		goto oom;
	return c;
oom:
	sasl_free(c);
	mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
	return NULL;
}

void sasl_free(struct sasl_client *c)
{
	if (!c)
		return;
	sasl_free_secret(c->user);
	sasl_free_secret(c->pass);
	sasl_free_secret(c->token);
	sasl_free_secret(c->authzid);
	sasl_free_secret(c->host);
	sasl_free_secret(c->gs2_header);
	sasl_free_secret(c->client_first_bare);
	explicit_bzero(c, sizeof(*c));
	free(c);
}

void sasl_response_free(char *resp_b64)
{
	sasl_free_secret(resp_b64);
}

bool sasl_done(const struct sasl_client *c)
{
	return c && (c->state == ST_DONE || c->state == ST_FAILED);
}

bool sasl_server_verified(const struct sasl_client *c)
{
	return c && c->verified;
}

bool sasl_failed(const struct sasl_client *c)
{
	return c && c->state == ST_FAILED;
}

const char *sasl_server_error(const struct sasl_client *c)
{
	return c && c->has_server_error ? c->server_error : NULL;
}

enum mp_status sasl_set_nonce_for_test(struct sasl_client *c, const char *nonce,
                                       struct mp_error *err)
{
	size_t i, len;

	if (!c || !sasl_is_scram(c->mech) || c->state != ST_START || !nonce)
		return mp_error_set(err, MP_ERR_INTERNAL, "a SCRAM nonce can only be set first");
	len = strlen(nonce);
	if (len == 0 || len > SASL_MAX_NONCE)
		return mp_error_set(err, MP_ERR_INTERNAL, "SCRAM nonce length out of range");
	for (i = 0; i < len; i++) {
		if (!sasl_nonce_char((unsigned char)nonce[i]))
			return mp_error_set(err, MP_ERR_INTERNAL, "bad character in SCRAM nonce");
	}
	memcpy(c->nonce, nonce, len + 1);
	return MP_OK;
}

/* The first message of a client-first mechanism, as a base64 response. */
static enum mp_status client_first(struct sasl_client *c, char **resp, struct mp_error *err)
{
	struct sasl_buf b = {0};
	enum mp_status st = MP_OK;

	switch (c->mech) {
	case SASL_PLAIN:
		sasl_plain_message(c, &b);
		break;
	case SASL_XOAUTH2:
		sasl_xoauth2_message(c, &b);
		break;
	case SASL_OAUTHBEARER:
		sasl_oauthbearer_message(c, &b);
		break;
	case SASL_SCRAM_SHA_1:
	case SASL_SCRAM_SHA_256:
		st = sasl_scram_client_first(c, &b, err);
		break;
	default:
		st = sasl_spent(c, err, MP_ERR_INTERNAL, "%s is not client-first",
		                sasl_mech_name(c->mech));
		break;
	}
	if (st == MP_OK)
		st = sasl_encode_response(c, &b, resp, err);
	if (st == MP_OK)
		c->state = sasl_is_scram(c->mech) ? ST_SENT_FIRST : ST_DONE;
	sasl_buf_wipe(&b);
	return st;
}

enum mp_status sasl_initial(struct sasl_client *c, char **ir_b64, struct mp_error *err)
{
	*ir_b64 = NULL;
	if (!c || c->state != ST_START)
		return mp_error_set(err, MP_ERR_INTERNAL, "SASL initial response already sent");
	if (c->mech == SASL_LOGIN || c->mech == SASL_CRAM_MD5)
		return MP_OK;
	return client_first(c, ir_b64, err);
}

enum mp_status sasl_step(struct sasl_client *c, const char *challenge_b64, char **resp_b64,
                         struct mp_error *err)
{
	const char *text = challenge_b64 ? challenge_b64 : "";
	char q[DIALECT_QUOTE_SIZE];
	size_t len;

	*resp_b64 = NULL;
	if (!c || c->state == ST_SPENT)
		return mp_error_set(err, MP_ERR_INTERNAL, "SASL exchange already ended");
	len = strnlen(text, MP_MAX_SASL_CHALLENGE + 1);
	if (len > MP_MAX_SASL_CHALLENGE)
		return sasl_spent(c, err, MP_ERR_PROTOCOL,
		                  "%s challenge is too large (limit %d bytes)",
		                  sasl_mech_name(c->mech), MP_MAX_SASL_CHALLENGE);
	while (len > 0 && strchr(" \t\r\n", text[len - 1]))
		len--;

	switch (c->state) {
	case ST_START:
		if (c->mech == SASL_LOGIN)
			return sasl_login_step(c, resp_b64, err);
		if (c->mech == SASL_CRAM_MD5)
			return sasl_cram_step(c, text, len, resp_b64, err);
		/* RFC 4422 section 5: no initial response was sent; the
		 * (empty) challenge asks for it. */
		return client_first(c, resp_b64, err);
	case ST_SENT_FIRST:
		if (c->mech == SASL_LOGIN)
			return sasl_login_step(c, resp_b64, err);
		return sasl_scram_server_first(c, text, len, resp_b64, err);
	case ST_SENT_FINAL:
		return sasl_scram_server_final(c, text, len, resp_b64, err);
	case ST_DONE:
		if (sasl_is_oauth(c->mech))
			return sasl_oauth_error(c, text, len, resp_b64, err);
		break;
	default:
		break;
	}
	sasl_quote_server(c, q, sizeof(q), text, len);
	return sasl_spent(
	    c, err, MP_ERR_PROTOCOL,
	    "server sent another challenge after the %s exchange was complete: \"%s\"",
	    sasl_mech_name(c->mech), q);
}

enum mp_status sasl_finish(struct sasl_client *c, const char *final_b64, struct mp_error *err)
{
	const char *mech;
	size_t len;

	if (!c || c->state == ST_SPENT)
		return mp_error_set(err, MP_ERR_INTERNAL, "SASL exchange already ended");
	mech = sasl_mech_name(c->mech);
	if (c->state == ST_FAILED)
		return sasl_spent(c, err, MP_ERR_PROTOCOL,
		                  "server reported %s success after it reported an error (%s)",
		                  mech, c->server_error);
	if (c->state == ST_START)
		return sasl_spent(c, err, MP_ERR_PROTOCOL,
		                  "server reported %s success before we sent any credentials",
		                  mech);
	if (c->mech == SASL_LOGIN && c->state == ST_SENT_FIRST)
		return sasl_spent(c, err, MP_ERR_PROTOCOL,
		                  "server reported LOGIN success before we sent the password");
	if (sasl_is_scram(c->mech) && c->state == ST_SENT_FIRST)
		return sasl_spent(c, err, MP_ERR_PROTOCOL,
		                  "server reported %s success before we sent our proof", mech);
	if (c->state == ST_SENT_FINAL) {
		len = final_b64 ? strnlen(final_b64, MP_MAX_SASL_CHALLENGE + 1) : 0;
		if (len > MP_MAX_SASL_CHALLENGE)
			return sasl_spent(c, err, MP_ERR_PROTOCOL,
			                  "%s success data is too large (limit %d bytes)", mech,
			                  MP_MAX_SASL_CHALLENGE);
		while (len > 0 && strchr(" \t\r\n", final_b64[len - 1]))
			len--;
		if (len == 0)
			return sasl_spent(
			    c, err, MP_ERR_PROTOCOL,
			    "server reported %s success without its signature (v=): it "
			    "has not proved it knows the password",
			    mech);
		return sasl_scram_server_final(c, final_b64, len, NULL, err);
	}
	/* ST_DONE: complete. Success data where none is expected is ignored
	 * (SCRAM's was verified already). */
	return MP_OK;
}
