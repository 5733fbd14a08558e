/* sasl.c - SASL client mechanisms over wolfCrypt (see sasl.h). */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/sha.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/wolfcrypt/md5.h>
#include <wolfssl/wolfcrypt/pwdbased.h>
#include <wolfssl/wolfcrypt/random.h>

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base64.h"
#include "core/limits.h"
#include "probe/dialects/dialect.h"
#include "probe/dialects/sasl.h"

/* Largest digest we use (SHA-256). */
#define SASL_MAX_DIGEST WC_SHA256_DIGEST_SIZE
/* Longest SCRAM client nonce accepted from the test seam. */
#define SASL_MAX_NONCE 128
/* Room for sasl_server_error(): a few quoted fields and their labels. */
#define SASL_SERVER_ERROR_SIZE (3 * DIALECT_QUOTE_SIZE + 64)
/* Largest message we build (credentials and server text, with escaping). */
#define SASL_MAX_MESSAGE (8 * MP_MAX_SASL_CRED + 2 * MP_MAX_SASL_CHALLENGE)

enum sasl_state {
	ST_START,      /* nothing sent yet */
	ST_SENT_FIRST, /* LOGIN: user name sent; SCRAM: client-first sent */
	ST_SENT_FINAL, /* SCRAM: client-final sent, server-final awaited */
	ST_DONE,       /* everything sent (SCRAM: and the server verified) */
	ST_FAILED,     /* the server reported an error inside the exchange */
	ST_SPENT,      /* a protocol or internal error ended the exchange */
};

struct sasl_client {
	enum sasl_mech mech;
	enum sasl_state state;
	char *user;
	char *pass;
	char *token;
	char *authzid;
	char *host;
	uint16_t port;
	char nonce[SASL_MAX_NONCE + 1]; /* SCRAM client nonce, "" until made */
	char *gs2_header;               /* SCRAM: "n,," or "n,a=...," */
	char *client_first_bare;        /* SCRAM: kept for the AuthMessage */
	unsigned char server_sig[SASL_MAX_DIGEST];
	bool verified;
	bool has_server_error;
	char server_error[SASL_SERVER_ERROR_SIZE];
};

/* A growing byte buffer for messages that may hold secrets. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

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

static bool is_scram(enum sasl_mech mech)
{
	return mech == SASL_SCRAM_SHA_1 || mech == SASL_SCRAM_SHA_256;
}

static bool is_oauth(enum sasl_mech mech)
{
	return mech == SASL_XOAUTH2 || mech == SASL_OAUTHBEARER;
}

static bool present(const char *s)
{
	return s && s[0] != '\0';
}

/* Which mechanisms can carry an authorisation identity. */
static bool takes_authzid(enum sasl_mech mech)
{
	return mech == SASL_PLAIN || is_scram(mech) || mech == SASL_OAUTHBEARER;
}

bool sasl_mech_usable(enum sasl_mech mech, const struct sasl_creds *creds)
{
	if ((unsigned)mech >= SASL_MECH_COUNT || !creds)
		return false;
	if (present(creds->authzid) && !takes_authzid(mech))
		return false;
	if (is_oauth(mech))
		return present(creds->token) && (mech == SASL_OAUTHBEARER || present(creds->user));
	return present(creds->user) && present(creds->pass);
}

/* ---- small helpers ---- */

static void sbuf_add(struct sbuf *b, const void *data, size_t n)
{
	char *np = NULL;
	size_t ncap;

	if (b->failed)
		return;
	if (n > SASL_MAX_MESSAGE || b->len + n + 1 > SASL_MAX_MESSAGE) {
		b->failed = true;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap ? b->cap : 128;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		/* Not realloc: the old block may hold a secret and must be wiped. */
		np = malloc(ncap);
		if (!np) {
			b->failed = true;
			return;
		}
		if (b->p) {
			memcpy(np, b->p, b->len);
			explicit_bzero(b->p, b->cap);
			free(b->p);
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sbuf_str(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

/* Appends s as a SCRAM saslname / GS2 authzid: '=' as "=3D", ',' as "=2C"
 * (RFC 5802 section 5.1, RFC 5801 section 4). */
static void sbuf_saslname(struct sbuf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '=')
			sbuf_str(b, "=3D");
		else if (*s == ',')
			sbuf_str(b, "=2C");
		else
			sbuf_add(b, s, 1);
	}
}

static void sbuf_wipe(struct sbuf *b)
{
	if (b->p) {
		explicit_bzero(b->p, b->cap);
		free(b->p);
	}
	b->p = NULL;
	b->len = b->cap = 0;
}

/* Wipes and frees a NUL-terminated secret string. */
static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
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

/* Compares in time independent of where the bytes differ. */
static bool ct_equal(const unsigned char *a, const unsigned char *b, size_t n)
{
	volatile unsigned char d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
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

/* True when text[0..len) contains the password or the token. */
static bool contains_secret(const struct sasl_client *c, const char *text, size_t len)
{
	if (c->pass && memmem(text, len, c->pass, strlen(c->pass)))
		return true;
	if (c->token && memmem(text, len, c->token, strlen(c->token)))
		return true;
	return false;
}

/* Quotes untrusted server text for a message (dialect_quote), withholding it
 * when it contains one of our secrets: a server echoing a password must not
 * put it into a report. */
static void quote_server(const struct sasl_client *c, char *out, size_t outsz, const char *text,
                         size_t len)
{
	if (contains_secret(c, text, len)) {
		snprintf(out, outsz, "[withheld: it contains a credential]");
		return;
	}
	dialect_quote(out, outsz, text, len);
}

/* Ends the exchange with an error: sets err and spends the client. */
static enum mp_status spent(struct sasl_client *c, struct mp_error *err, enum mp_status code,
                            const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static enum mp_status spent(struct sasl_client *c, struct mp_error *err, enum mp_status code,
                            const char *fmt, ...)
{
	char msg[MP_MAX_ERROR];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->state = ST_SPENT;
	return mp_error_set(err, code, "%s", msg);
}

/* Encodes b into a new base64 response (or reports running out of memory). */
static enum mp_status encode_response(struct sasl_client *c, struct sbuf *b, char **resp,
                                      struct mp_error *err)
{
	if (b->failed)
		return spent(c, err, MP_ERR_INTERNAL, "%s: out of memory building a response",
		             sasl_mech_name(c->mech));
	*resp = b64_encode(b->p ? b->p : "", b->len);
	if (!*resp)
		return spent(c, err, MP_ERR_INTERNAL, "%s: out of memory encoding a response",
		             sasl_mech_name(c->mech));
	return MP_OK;
}

/* A new response that is a fixed, non-secret string. */
static enum mp_status fixed_response(struct sasl_client *c, const char *b64, char **resp,
                                     struct mp_error *err)
{
	*resp = strdup(b64);
	if (!*resp)
		return spent(c, err, MP_ERR_INTERNAL, "out of memory");
	return MP_OK;
}

/* Decodes a challenge (strict base64) into a NUL-terminated buffer;
 * what names it for the message. */
static enum mp_status decode_challenge(struct sasl_client *c, const char *text, size_t len,
                                       const char *what, unsigned char **out, size_t *outlen,
                                       struct mp_error *err)
{
	char q[DIALECT_QUOTE_SIZE];

	if (b64_decode(text, len, out, outlen) == 0)
		return MP_OK;
	quote_server(c, q, sizeof(q), text, len);
	return spent(c, err, MP_ERR_PROTOCOL, "%s %s is not valid base64: \"%s\"",
	             sasl_mech_name(c->mech), what, q);
}

/* Records an error the server reported inside the exchange. */
static void set_server_error(struct sasl_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_server_error(struct sasl_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->server_error, sizeof(c->server_error), fmt, ap);
	va_end(ap);
	c->has_server_error = true;
	c->state = ST_FAILED;
}

/* ---- wolfCrypt ---- */

/* The wolfCrypt hash type and digest size of a SCRAM mechanism. */
static void scram_hash(enum sasl_mech mech, int *type, size_t *len)
{
	if (mech == SASL_SCRAM_SHA_1) {
		*type = WC_SHA;
		*len = WC_SHA_DIGEST_SIZE;
	} else {
		*type = WC_SHA256;
		*len = WC_SHA256_DIGEST_SIZE;
	}
}

/* out = HMAC-<type>(key, data) (RFC 2104). Returns 0 or -1. */
static int hmac_calc(int type, const void *key, size_t keylen, const void *data, size_t len,
                     unsigned char *out)
{
	Hmac h;
	int rc = -1;

	if (keylen > UINT32_MAX || len > UINT32_MAX)
		return -1;
	if (wc_HmacInit(&h, NULL, INVALID_DEVID) != 0)
		return -1;
	if (wc_HmacSetKey(&h, type, key, (word32)keylen) != 0)
		goto out;
	if (wc_HmacUpdate(&h, data, (word32)len) != 0)
		goto out;
	if (wc_HmacFinal(&h, out) != 0)
		goto out;
	rc = 0;
out:
	wc_HmacFree(&h);
	explicit_bzero(&h, sizeof(h));
	return rc;
}

/* out = H(data) for a SCRAM hash type. Returns 0 or -1. */
static int hash_calc(int type, const unsigned char *data, size_t len, unsigned char *out)
{
	if (type == WC_SHA)
		return wc_ShaHash(data, (word32)len, out) == 0 ? 0 : -1;
	return wc_Sha256Hash(data, (word32)len, out) == 0 ? 0 : -1;
}

/* ---- life cycle ---- */

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
	if (is_oauth(mech)) {
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
	else if (present(creds->pass) && !is_oauth(mech) && (why = cred_problem(creds->pass)))
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
	if (!is_oauth(mech))
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
	free_secret(c->user);
	free_secret(c->pass);
	free_secret(c->token);
	free_secret(c->authzid);
	free_secret(c->host);
	free_secret(c->gs2_header);
	free_secret(c->client_first_bare);
	explicit_bzero(c, sizeof(*c));
	free(c);
}

void sasl_response_free(char *resp_b64)
{
	free_secret(resp_b64);
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

/* True for a SCRAM nonce character: printable ASCII except ','
 * (RFC 5802 section 7). */
static bool nonce_char(unsigned char ch)
{
	return ch >= 0x21 && ch <= 0x7e && ch != ',';
}

enum mp_status sasl_set_nonce_for_test(struct sasl_client *c, const char *nonce,
                                       struct mp_error *err)
{
	size_t i, len;

	if (!c || !is_scram(c->mech) || c->state != ST_START || !nonce)
		return mp_error_set(err, MP_ERR_INTERNAL, "a SCRAM nonce can only be set first");
	len = strlen(nonce);
	if (len == 0 || len > SASL_MAX_NONCE)
		return mp_error_set(err, MP_ERR_INTERNAL, "SCRAM nonce length out of range");
	for (i = 0; i < len; i++) {
		if (!nonce_char((unsigned char)nonce[i]))
			return mp_error_set(err, MP_ERR_INTERNAL, "bad character in SCRAM nonce");
	}
	memcpy(c->nonce, nonce, len + 1);
	return MP_OK;
}

/* ---- client-first messages ---- */

/* PLAIN (RFC 4616 section 2): [authzid] NUL authcid NUL passwd. */
static void plain_message(const struct sasl_client *c, struct sbuf *b)
{
	if (c->authzid)
		sbuf_str(b, c->authzid);
	sbuf_add(b, "", 1);
	sbuf_str(b, c->user);
	sbuf_add(b, "", 1);
	sbuf_str(b, c->pass);
}

/* XOAUTH2: "user=" user ^A "auth=Bearer " token ^A ^A. */
static void xoauth2_message(const struct sasl_client *c, struct sbuf *b)
{
	sbuf_str(b, "user=");
	sbuf_str(b, c->user);
	sbuf_str(b, "\001auth=Bearer ");
	sbuf_str(b, c->token);
	sbuf_str(b, "\001\001");
}

/* OAUTHBEARER (RFC 7628 section 3.1): gs2-header ^A [host=.. ^A] [port=.. ^A]
 * "auth=Bearer " token ^A ^A, with the user as the GS2 authzid. */
static void oauthbearer_message(const struct sasl_client *c, struct sbuf *b)
{
	char port[16];
	const char *a = c->authzid ? c->authzid : c->user;

	sbuf_str(b, "n,");
	if (a) {
		sbuf_str(b, "a=");
		sbuf_saslname(b, a);
	}
	sbuf_str(b, ",\001");
	if (c->host) {
		sbuf_str(b, "host=");
		sbuf_str(b, c->host);
		sbuf_str(b, "\001");
	}
	if (c->port) {
		snprintf(port, sizeof(port), "port=%u\001", (unsigned)c->port);
		sbuf_str(b, port);
	}
	sbuf_str(b, "auth=Bearer ");
	sbuf_str(b, c->token);
	sbuf_str(b, "\001\001");
}

/* Makes a random SCRAM client nonce: MP_SCRAM_NONCE_BYTES from WC_RNG, in
 * base64 (printable, no ','). Returns 0 or -1. */
static int make_nonce(struct sasl_client *c)
{
	unsigned char raw[MP_SCRAM_NONCE_BYTES];
	WC_RNG rng;
	char *b64 = NULL;
	int rc = -1;

	if (wc_InitRng(&rng) != 0)
		return -1;
	if (wc_RNG_GenerateBlock(&rng, raw, sizeof(raw)) != 0)
		goto out;
	b64 = b64_encode(raw, sizeof(raw));
	if (!b64 || strlen(b64) > SASL_MAX_NONCE)
		goto out;
	memcpy(c->nonce, b64, strlen(b64) + 1);
	rc = 0;
out:
	wc_FreeRng(&rng);
	explicit_bzero(raw, sizeof(raw));
	free_secret(b64);
	return rc;
}

/* SCRAM client-first-message (RFC 5802 section 7): gs2-header
 * client-first-message-bare, with gs2-header "n,," or "n,a=authzid,"
 * (no channel binding) and bare "n=" saslname ",r=" c-nonce. */
static enum mp_status scram_client_first(struct sasl_client *c, struct sbuf *b,
                                         struct mp_error *err)
{
	struct sbuf gs2 = {0};
	struct sbuf bare = {0};
	enum mp_status st = MP_OK;

	if (c->nonce[0] == '\0' && make_nonce(c) != 0) {
		st = spent(c, err, MP_ERR_INTERNAL, "%s: no random bytes for the client nonce",
		           sasl_mech_name(c->mech));
		goto out;
	}
	sbuf_str(&gs2, "n,");
	if (c->authzid) {
		sbuf_str(&gs2, "a=");
		sbuf_saslname(&gs2, c->authzid);
	}
	sbuf_str(&gs2, ",");
	sbuf_str(&bare, "n=");
	sbuf_saslname(&bare, c->user);
	sbuf_str(&bare, ",r=");
	sbuf_str(&bare, c->nonce);
	if (gs2.failed || bare.failed) {
		st = spent(c, err, MP_ERR_INTERNAL, "out of memory");
		goto out;
	}
	sbuf_add(b, gs2.p, gs2.len);
	sbuf_add(b, bare.p, bare.len);
	c->gs2_header = gs2.p;
	c->client_first_bare = bare.p;
	gs2.p = NULL;
	bare.p = NULL;
out:
	sbuf_wipe(&gs2);
	sbuf_wipe(&bare);
	return st;
}

/* The first message of a client-first mechanism, as a base64 response. */
static enum mp_status client_first(struct sasl_client *c, char **resp, struct mp_error *err)
{
	struct sbuf b = {0};
	enum mp_status st = MP_OK;

	switch (c->mech) {
	case SASL_PLAIN:
		plain_message(c, &b);
		break;
	case SASL_XOAUTH2:
		xoauth2_message(c, &b);
		break;
	case SASL_OAUTHBEARER:
		oauthbearer_message(c, &b);
		break;
	case SASL_SCRAM_SHA_1:
	case SASL_SCRAM_SHA_256:
		st = scram_client_first(c, &b, err);
		break;
	default:
		st = spent(c, err, MP_ERR_INTERNAL, "%s is not client-first",
		           sasl_mech_name(c->mech));
		break;
	}
	if (st == MP_OK)
		st = encode_response(c, &b, resp, err);
	if (st == MP_OK)
		c->state = is_scram(c->mech) ? ST_SENT_FIRST : ST_DONE;
	sbuf_wipe(&b);
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

/* ---- server challenges ---- */

/* LOGIN: the first challenge ("Username:") gets the user name, the second
 * ("Password:") the password; their text is not checked, since servers word
 * (and encode) it in many ways. */
static enum mp_status login_step(struct sasl_client *c, char **resp, struct mp_error *err)
{
	struct sbuf b = {0};
	enum mp_status st;

	sbuf_str(&b, c->state == ST_START ? c->user : c->pass);
	st = encode_response(c, &b, resp, err);
	if (st == MP_OK)
		c->state = c->state == ST_START ? ST_SENT_FIRST : ST_DONE;
	sbuf_wipe(&b);
	return st;
}

/* CRAM-MD5 (RFC 2195 section 2): user SP hex(HMAC-MD5(password, challenge)). */
static enum mp_status cram_step(struct sasl_client *c, const char *text, size_t len, char **resp,
                                struct mp_error *err)
{
	unsigned char *chal = NULL;
	size_t clen = 0;
	unsigned char mac[WC_MD5_DIGEST_SIZE];
	char hex[2 * WC_MD5_DIGEST_SIZE + 1];
	struct sbuf b = {0};
	enum mp_status st;

	st = decode_challenge(c, text, len, "challenge", &chal, &clen, err);
	if (st != MP_OK)
		goto out;
	if (clen == 0) {
		st = spent(c, err, MP_ERR_PROTOCOL, "CRAM-MD5 challenge is empty");
		goto out;
	}
	if (hmac_calc(WC_MD5, c->pass, strlen(c->pass), chal, clen, mac) != 0) {
		st = spent(c, err, MP_ERR_INTERNAL, "CRAM-MD5: HMAC-MD5 failed");
		goto out;
	}
	hex_encode(mac, sizeof(mac), hex);
	sbuf_str(&b, c->user);
	sbuf_str(&b, " ");
	sbuf_str(&b, hex);
	st = encode_response(c, &b, resp, err);
	if (st == MP_OK)
		c->state = ST_DONE;
out:
	free(chal);
	explicit_bzero(mac, sizeof(mac));
	explicit_bzero(hex, sizeof(hex));
	sbuf_wipe(&b);
	return st;
}

/* Takes attribute `name` ("x=value", RFC 5802 section 5.1) at *pos of
 * msg[..end): sets *val, *vlen and moves *pos past the value and its ','.
 * False when the next attribute is another one (or there is none). */
static bool scram_attr(const char **pos, const char *end, char name, const char **val, size_t *vlen)
{
	const char *p = *pos;
	const char *comma;

	if (end - p < 2 || p[0] != name || p[1] != '=')
		return false;
	p += 2;
	comma = memchr(p, ',', (size_t)(end - p));
	*val = p;
	*vlen = comma ? (size_t)(comma - p) : (size_t)(end - p);
	*pos = comma ? comma + 1 : end;
	return true;
}

/* A SCRAM e= server-error (RFC 5802 section 7): recorded, and answered with
 * an empty response so the server can fail the command. */
static enum mp_status scram_server_error(struct sasl_client *c, const char *val, size_t vlen,
                                         char **resp, struct mp_error *err)
{
	char q[DIALECT_QUOTE_SIZE];

	quote_server(c, q, sizeof(q), val, vlen);
	set_server_error(c, "%s", q);
	return fixed_response(c, "", resp, err);
}

/* Parses an i= value (untrusted) into *iter: digits only, at least 1, at
 * most MP_MAX_SCRAM_ITERATIONS (each one is a PBKDF2 round we pay for). */
static enum mp_status scram_iterations(struct sasl_client *c, const char *val, size_t vlen,
                                       long *iter, struct mp_error *err)
{
	const char *mech = sasl_mech_name(c->mech);
	char q[DIALECT_QUOTE_SIZE];
	char digits[16];
	char *end = NULL;
	size_t i;
	long n;

	quote_server(c, q, sizeof(q), val, vlen);
	if (vlen == 0)
		return spent(c, err, MP_ERR_PROTOCOL, "%s iteration count (i=) is empty", mech);
	for (i = 0; i < vlen; i++) {
		if (val[i] < '0' || val[i] > '9')
			return spent(c, err, MP_ERR_PROTOCOL,
			             "%s iteration count (i=) is not a number: \"%s\"", mech, q);
	}
	/* Leading zeros do not make a count large. */
	while (vlen > 1 && val[0] == '0') {
		val++;
		vlen--;
	}
	if (vlen >= sizeof(digits))
		return spent(c, err, MP_ERR_PROTOCOL,
		             "server asks for %s iterations, more than the limit (%d)", q,
		             MP_MAX_SCRAM_ITERATIONS);
	memcpy(digits, val, vlen);
	digits[vlen] = '\0';
	n = strtol(digits, &end, 10);
	if (*end != '\0' || n < 1)
		return spent(c, err, MP_ERR_PROTOCOL,
		             "%s iteration count (i=) must be at least 1: \"%s\"", mech, q);
	if (n > MP_MAX_SCRAM_ITERATIONS)
		return spent(c, err, MP_ERR_PROTOCOL,
		             "server asks for %s iterations, more than the limit (%d)", q,
		             MP_MAX_SCRAM_ITERATIONS);
	*iter = n;
	return MP_OK;
}

/* Computes the client proof and the expected server signature (RFC 5802
 * section 3) and builds the client-final-message into b:
 *   SaltedPassword  = Hi(password, salt, i)           (PBKDF2, RFC 2898)
 *   ClientKey       = HMAC(SaltedPassword, "Client Key")
 *   StoredKey       = H(ClientKey)
 *   AuthMessage     = client-first-bare "," server-first "," client-final-without-proof
 *   ClientProof     = ClientKey XOR HMAC(StoredKey, AuthMessage)
 *   ServerSignature = HMAC(HMAC(SaltedPassword, "Server Key"), AuthMessage) */
static enum mp_status scram_prove(struct sasl_client *c, const char *server_first, size_t sflen,
                                  const char *rnonce, size_t rlen, const unsigned char *salt,
                                  size_t saltlen, long iter, struct sbuf *b, struct mp_error *err)
{
	unsigned char salted[SASL_MAX_DIGEST];
	unsigned char client_key[SASL_MAX_DIGEST];
	unsigned char stored_key[SASL_MAX_DIGEST];
	unsigned char client_sig[SASL_MAX_DIGEST];
	unsigned char server_key[SASL_MAX_DIGEST];
	struct sbuf without_proof = {0};
	struct sbuf auth = {0};
	char *gs2_b64 = NULL;
	char *proof_b64 = NULL;
	enum mp_status st = MP_OK;
	size_t hlen, i;
	int type;

	scram_hash(c->mech, &type, &hlen);
	gs2_b64 = b64_encode(c->gs2_header, strlen(c->gs2_header));
	sbuf_str(&without_proof, "c=");
	sbuf_str(&without_proof, gs2_b64 ? gs2_b64 : "");
	sbuf_str(&without_proof, ",r=");
	sbuf_add(&without_proof, rnonce, rlen);
	sbuf_str(&auth, c->client_first_bare);
	sbuf_str(&auth, ",");
	sbuf_add(&auth, server_first, sflen);
	sbuf_str(&auth, ",");
	sbuf_add(&auth, without_proof.p, without_proof.len);
	if (!gs2_b64 || without_proof.failed || auth.failed) {
		st = spent(c, err, MP_ERR_INTERNAL, "out of memory");
		goto out;
	}
	if (saltlen > INT_MAX ||
	    wc_PBKDF2(salted, (const byte *)c->pass, (int)strlen(c->pass), salt, (int)saltlen,
	              (int)iter, (int)hlen, type) != 0 ||
	    hmac_calc(type, salted, hlen, "Client Key", 10, client_key) != 0 ||
	    hash_calc(type, client_key, hlen, stored_key) != 0 ||
	    hmac_calc(type, stored_key, hlen, auth.p, auth.len, client_sig) != 0 ||
	    hmac_calc(type, salted, hlen, "Server Key", 10, server_key) != 0 ||
	    hmac_calc(type, server_key, hlen, auth.p, auth.len, c->server_sig) != 0) {
		st = spent(c, err, MP_ERR_INTERNAL, "%s: key derivation failed",
		           sasl_mech_name(c->mech));
		goto out;
	}
	for (i = 0; i < hlen; i++)
		client_sig[i] ^= client_key[i];
	proof_b64 = b64_encode(client_sig, hlen);
	if (!proof_b64) {
		st = spent(c, err, MP_ERR_INTERNAL, "out of memory");
		goto out;
	}
	sbuf_add(b, without_proof.p, without_proof.len);
	sbuf_str(b, ",p=");
	sbuf_str(b, proof_b64);
out:
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(client_key, sizeof(client_key));
	explicit_bzero(stored_key, sizeof(stored_key));
	explicit_bzero(client_sig, sizeof(client_sig));
	explicit_bzero(server_key, sizeof(server_key));
	sbuf_wipe(&without_proof);
	sbuf_wipe(&auth);
	free(gs2_b64);
	free_secret(proof_b64);
	return st;
}

/* SCRAM server-first-message (RFC 5802 section 7), untrusted:
 *   [m=ext ","] r=c-nonce s-nonce "," s=salt "," i=count ["," extensions]
 * answered with the client-final-message. */
static enum mp_status scram_server_first(struct sasl_client *c, const char *text, size_t len,
                                         char **resp, struct mp_error *err)
{
	const char *mech = sasl_mech_name(c->mech);
	unsigned char *msg = NULL;
	unsigned char *salt = NULL;
	size_t mlen = 0, saltlen = 0;
	const char *pos, *end, *val = NULL;
	const char *rnonce = NULL;
	size_t vlen = 0, rlen = 0, nlen, i;
	char q[DIALECT_QUOTE_SIZE];
	struct sbuf b = {0};
	enum mp_status st;
	long iter = 0;

	st = decode_challenge(c, text, len, "server-first message", &msg, &mlen, err);
	if (st != MP_OK)
		goto out;
	pos = (const char *)msg;
	end = pos + mlen;
	quote_server(c, q, sizeof(q), pos, mlen);
	if (memchr(msg, '\0', mlen)) {
		st = spent(c, err, MP_ERR_PROTOCOL, "%s server-first message contains a NUL byte",
		           mech);
		goto out;
	}
	/* Not in the grammar here, but some servers fail this early. */
	if (scram_attr(&pos, end, 'e', &val, &vlen)) {
		st = scram_server_error(c, val, vlen, resp, err);
		goto out;
	}
	if (mlen >= 2 && msg[0] == 'm' && msg[1] == '=') {
		st = spent(c, err, MP_ERR_PROTOCOL,
		           "%s server requires an extension we do not know (m=): \"%s\"", mech, q);
		goto out;
	}
	if (!scram_attr(&pos, end, 'r', &rnonce, &rlen)) {
		st = spent(c, err, MP_ERR_PROTOCOL,
		           "%s server-first message lacks the nonce (r=): \"%s\"", mech, q);
		goto out;
	}
	nlen = strlen(c->nonce);
	if (rlen <= nlen || memcmp(rnonce, c->nonce, nlen) != 0) {
		st = spent(c, err, MP_ERR_PROTOCOL, "server nonce does not extend ours: \"%s\"", q);
		goto out;
	}
	for (i = 0; i < rlen; i++) {
		if (!nonce_char((unsigned char)rnonce[i])) {
			st = spent(c, err, MP_ERR_PROTOCOL,
			           "%s server nonce has a non-printable byte: \"%s\"", mech, q);
			goto out;
		}
	}
	if (!scram_attr(&pos, end, 's', &val, &vlen)) {
		st = spent(c, err, MP_ERR_PROTOCOL,
		           "%s server-first message lacks the salt (s=): \"%s\"", mech, q);
		goto out;
	}
	if (b64_decode(val, vlen, &salt, &saltlen) != 0 || saltlen == 0) {
		st = spent(c, err, MP_ERR_PROTOCOL,
		           "%s salt (s=) is empty or not valid base64: \"%s\"", mech, q);
		goto out;
	}
	if (!scram_attr(&pos, end, 'i', &val, &vlen)) {
		st = spent(c, err, MP_ERR_PROTOCOL,
		           "%s server-first message lacks the iteration count (i=): \"%s\"", mech,
		           q);
		goto out;
	}
	st = scram_iterations(c, val, vlen, &iter, err);
	if (st != MP_OK)
		goto out;
	st = scram_prove(c, (const char *)msg, mlen, rnonce, rlen, salt, saltlen, iter, &b, err);
	if (st == MP_OK)
		st = encode_response(c, &b, resp, err);
	if (st == MP_OK)
		c->state = ST_SENT_FINAL;
out:
	free(msg);
	free(salt);
	sbuf_wipe(&b);
	return st;
}

/* SCRAM server-final-message (RFC 5802 section 7), untrusted: e=error or
 * v=ServerSignature, checked in constant time. As a challenge it is answered
 * with an empty response (resp not NULL); as success data it only verifies. */
static enum mp_status scram_server_final(struct sasl_client *c, const char *text, size_t len,
                                         char **resp, struct mp_error *err)
{
	const char *mech = sasl_mech_name(c->mech);
	unsigned char *msg = NULL;
	unsigned char *sig = NULL;
	size_t mlen = 0, siglen = 0, vlen = 0, hlen;
	const char *pos, *end, *val = NULL;
	char q[DIALECT_QUOTE_SIZE];
	enum mp_status st;
	int type;

	scram_hash(c->mech, &type, &hlen);
	st = decode_challenge(c, text, len, "server-final message", &msg, &mlen, err);
	if (st != MP_OK)
		goto out;
	pos = (const char *)msg;
	end = pos + mlen;
	quote_server(c, q, sizeof(q), pos, mlen);
	if (scram_attr(&pos, end, 'e', &val, &vlen)) {
		if (resp) {
			st = scram_server_error(c, val, vlen, resp, err);
			goto out;
		}
		quote_server(c, q, sizeof(q), val, vlen);
		st = spent(c, err, MP_ERR_PROTOCOL,
		           "server reported success, but its %s final message is an error: \"%s\"",
		           mech, q);
		goto out;
	}
	if (!scram_attr(&pos, end, 'v', &val, &vlen)) {
		st = spent(c, err, MP_ERR_PROTOCOL,
		           "%s server-final message has neither v= nor e=: \"%s\"", mech, q);
		goto out;
	}
	if (b64_decode(val, vlen, &sig, &siglen) != 0 || siglen != hlen ||
	    !ct_equal(sig, c->server_sig, hlen)) {
		st = spent(c, err, MP_ERR_PROTOCOL,
		           "server signature does not verify: the server does not know the "
		           "password (or a man in the middle)");
		goto out;
	}
	c->verified = true;
	c->state = ST_DONE;
	if (resp)
		st = fixed_response(c, "", resp, err);
out:
	free(msg);
	free(sig);
	return st;
}

/* An OAuth error challenge (RFC 7628 section 3.2.2: a JSON object with
 * "status", "schemes", "scope"; XOAUTH2 the same): recorded, and answered so
 * the server can fail the command: OAUTHBEARER with %x01 (section 3.2.3),
 * XOAUTH2 with an empty response. */
static enum mp_status oauth_error(struct sasl_client *c, const char *text, size_t len, char **resp,
                                  struct mp_error *err)
{
	static const char *const keys[] = {"status", "schemes", "scope"};
	unsigned char *msg = NULL;
	size_t mlen = 0, i, o = 0;
	cJSON *json = NULL;
	char sum[SASL_SERVER_ERROR_SIZE];
	char q[DIALECT_QUOTE_SIZE];
	char num[32];
	enum mp_status st;

	st = decode_challenge(c, text, len, "error challenge", &msg, &mlen, err);
	if (st != MP_OK)
		goto out;
	sum[0] = '\0';
	json = cJSON_ParseWithLength((const char *)msg, mlen);
	for (i = 0; json && cJSON_IsObject(json) && i < sizeof(keys) / sizeof(keys[0]); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(json, keys[i]);
		const char *s = NULL;
		int n;

		if (cJSON_IsString(v) && v->valuestring) {
			s = v->valuestring;
		} else if (cJSON_IsNumber(v)) {
			snprintf(num, sizeof(num), "%.0f", v->valuedouble);
			s = num;
		}
		if (!s)
			continue;
		quote_server(c, q, sizeof(q), s, strlen(s));
		n = snprintf(sum + o, sizeof(sum) - o, "%s%s \"%s\"", o ? ", " : "", keys[i], q);
		if (n < 0 || (size_t)n >= sizeof(sum) - o)
			break;
		o += (size_t)n;
	}
	if (o == 0) {
		quote_server(c, q, sizeof(q), (const char *)msg, mlen);
		snprintf(sum, sizeof(sum), "\"%s\"", q);
	}
	set_server_error(c, "%s", sum);
	st = fixed_response(c, c->mech == SASL_OAUTHBEARER ? "AQ==" : "", resp, err);
out:
	cJSON_Delete(json);
	free(msg);
	return st;
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
		return spent(c, err, MP_ERR_PROTOCOL, "%s challenge is too large (limit %d bytes)",
		             sasl_mech_name(c->mech), MP_MAX_SASL_CHALLENGE);
	while (len > 0 && strchr(" \t\r\n", text[len - 1]))
		len--;

	switch (c->state) {
	case ST_START:
		if (c->mech == SASL_LOGIN)
			return login_step(c, resp_b64, err);
		if (c->mech == SASL_CRAM_MD5)
			return cram_step(c, text, len, resp_b64, err);
		/* RFC 4422 section 5: no initial response was sent; the
		 * (empty) challenge asks for it. */
		return client_first(c, resp_b64, err);
	case ST_SENT_FIRST:
		if (c->mech == SASL_LOGIN)
			return login_step(c, resp_b64, err);
		return scram_server_first(c, text, len, resp_b64, err);
	case ST_SENT_FINAL:
		return scram_server_final(c, text, len, resp_b64, err);
	case ST_DONE:
		if (is_oauth(c->mech))
			return oauth_error(c, text, len, resp_b64, err);
		break;
	default:
		break;
	}
	quote_server(c, q, sizeof(q), text, len);
	return spent(c, err, MP_ERR_PROTOCOL,
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
		return spent(c, err, MP_ERR_PROTOCOL,
		             "server reported %s success after it reported an error (%s)", mech,
		             c->server_error);
	if (c->state == ST_START)
		return spent(c, err, MP_ERR_PROTOCOL,
		             "server reported %s success before we sent any credentials", mech);
	if (c->mech == SASL_LOGIN && c->state == ST_SENT_FIRST)
		return spent(c, err, MP_ERR_PROTOCOL,
		             "server reported LOGIN success before we sent the password");
	if (is_scram(c->mech) && c->state == ST_SENT_FIRST)
		return spent(c, err, MP_ERR_PROTOCOL,
		             "server reported %s success before we sent our proof", mech);
	if (c->state == ST_SENT_FINAL) {
		len = final_b64 ? strnlen(final_b64, MP_MAX_SASL_CHALLENGE + 1) : 0;
		if (len > MP_MAX_SASL_CHALLENGE)
			return spent(c, err, MP_ERR_PROTOCOL,
			             "%s success data is too large (limit %d bytes)", mech,
			             MP_MAX_SASL_CHALLENGE);
		while (len > 0 && strchr(" \t\r\n", final_b64[len - 1]))
			len--;
		if (len == 0)
			return spent(c, err, MP_ERR_PROTOCOL,
			             "server reported %s success without its signature (v=): it "
			             "has not proved it knows the password",
			             mech);
		return scram_server_final(c, final_b64, len, NULL, err);
	}
	/* ST_DONE: complete. Success data where none is expected is ignored
	 * (SCRAM's was verified already). */
	return MP_OK;
}

/* ---- APOP and redaction ---- */

int apop_digest(const char *timestamp, const char *pass, char out[33])
{
	unsigned char digest[WC_MD5_DIGEST_SIZE];
	wc_Md5 md5;
	int rc = -1;

	if (!timestamp || !pass || strlen(timestamp) > MP_MAX_APOP_TIMESTAMP ||
	    strlen(pass) > MP_MAX_SASL_CRED)
		return -1;
	if (wc_InitMd5(&md5) != 0)
		return -1;
	if (wc_Md5Update(&md5, (const byte *)timestamp, (word32)strlen(timestamp)) != 0 ||
	    wc_Md5Update(&md5, (const byte *)pass, (word32)strlen(pass)) != 0 ||
	    wc_Md5Final(&md5, digest) != 0)
		goto out;
	hex_encode(digest, sizeof(digest), out);
	rc = 0;
out:
	wc_Md5Free(&md5);
	explicit_bzero(&md5, sizeof(md5));
	explicit_bzero(digest, sizeof(digest));
	return rc;
}

int apop_timestamp(const char *greeting, size_t len, char *out, size_t outsz)
{
	const char *p = greeting;
	const char *end = greeting + len;

	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		const char *gt, *q;
		bool at = false, ok = true;
		size_t n;

		if (!lt)
			break;
		gt = memchr(lt, '>', (size_t)(end - lt));
		if (!gt)
			break;
		for (q = lt + 1; q < gt; q++) {
			if (*q == '@' && q > lt + 1 && q < gt - 1)
				at = true;
			if ((unsigned char)*q < 0x21 || (unsigned char)*q > 0x7e || *q == '<')
				ok = false;
		}
		n = (size_t)(gt - lt) + 1;
		if (ok && at && n > 2 && n <= MP_MAX_APOP_TIMESTAMP && n < outsz) {
			memcpy(out, lt, n);
			out[n] = '\0';
			return 0;
		}
		p = gt + 1;
	}
	return -1;
}

void sasl_redact_line(const char *line, unsigned keep_words, char *out, size_t outsz)
{
	const char *p = line;
	size_t keep, rest;
	unsigned w;

	if (outsz == 0)
		return;
	for (w = 0; w < keep_words; w++) {
		const char *sp = strchr(p, ' ');

		if (!sp) {
			p += strlen(p);
			break;
		}
		p = sp + 1;
	}
	keep = (size_t)(p - line);
	rest = strlen(p);
	if (rest == 0 || strcmp(p, "=") == 0 || strcmp(p, "*") == 0 || keep > INT_MAX) {
		snprintf(out, outsz, "%s", keep > INT_MAX ? "[redacted]" : line);
		return;
	}
	snprintf(out, outsz, "%.*s[redacted %zu bytes]", (int)keep, line, rest);
}
