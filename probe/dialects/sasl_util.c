/* sasl_util.c - what the SASL mechanisms share (sasl_int.h): a buffer for
 * secrets that wipes itself, ending an exchange with an error, base64 in
 * and out, quoting server text without our secrets, HMAC; and redacting
 * client lines for transcripts (sasl.h). */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hmac.h>

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "probe/dialects/quote.h"
#include "probe/dialects/sasl.h"
#include "probe/dialects/sasl_int.h"

void sasl_buf_add(struct sasl_buf *b, const void *data, size_t n)
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

void sasl_buf_str(struct sasl_buf *b, const char *s)
{
	sasl_buf_add(b, s, strlen(s));
}

/* Appends s as a SCRAM saslname / GS2 authzid: '=' as "=3D", ',' as "=2C"
 * (RFC 5802 section 5.1, RFC 5801 section 4). */
void sasl_buf_saslname(struct sasl_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '=')
			sasl_buf_str(b, "=3D");
		else if (*s == ',')
			sasl_buf_str(b, "=2C");
		else
			sasl_buf_add(b, s, 1);
	}
}

void sasl_buf_wipe(struct sasl_buf *b)
{
	if (b->p) {
		explicit_bzero(b->p, b->cap);
		free(b->p);
	}
	b->p = NULL;
	b->len = b->cap = 0;
}

/* Wipes and frees a NUL-terminated secret string. */
void sasl_free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* Compares in time independent of where the bytes differ. */
bool sasl_ct_equal(const unsigned char *a, const unsigned char *b, size_t n)
{
	volatile unsigned char d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

void sasl_hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
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
void sasl_quote_server(const struct sasl_client *c, char *out, size_t outsz, const char *text,
                       size_t len)
{
	if (contains_secret(c, text, len)) {
		snprintf(out, outsz, "[withheld: it contains a credential]");
		return;
	}
	dialect_quote(out, outsz, text, len);
}

/* Ends the exchange with an error: sets err and spends the client. */
enum mp_status sasl_spent(struct sasl_client *c, struct mp_error *err, enum mp_status code,
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
enum mp_status sasl_encode_response(struct sasl_client *c, struct sasl_buf *b, char **resp,
                                    struct mp_error *err)
{
	if (b->failed)
		return sasl_spent(c, err, MP_ERR_INTERNAL, "%s: out of memory building a response",
		                  sasl_mech_name(c->mech));
	*resp = b64_encode(b->p ? b->p : "", b->len);
	if (!*resp)
		return sasl_spent(c, err, MP_ERR_INTERNAL, "%s: out of memory encoding a response",
		                  sasl_mech_name(c->mech));
	return MP_OK;
}

/* A new response that is a fixed, non-secret string. */
enum mp_status sasl_fixed_response(struct sasl_client *c, const char *b64, char **resp,
                                   struct mp_error *err)
{
	*resp = strdup(b64);
	if (!*resp)
		return sasl_spent(c, err, MP_ERR_INTERNAL, "out of memory");
	return MP_OK;
}

/* Decodes a challenge (strict base64) into a NUL-terminated buffer;
 * what names it for the message. */
enum mp_status sasl_decode_challenge(struct sasl_client *c, const char *text, size_t len,
                                     const char *what, unsigned char **out, size_t *outlen,
                                     struct mp_error *err)
{
	char q[DIALECT_QUOTE_SIZE];

	if (b64_decode(text, len, out, outlen) == 0)
		return MP_OK;
	sasl_quote_server(c, q, sizeof(q), text, len);
	return sasl_spent(c, err, MP_ERR_PROTOCOL, "%s %s is not valid base64: \"%s\"",
	                  sasl_mech_name(c->mech), what, q);
}

/* Records an error the server reported inside the exchange. */
void sasl_set_server_error(struct sasl_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->server_error, sizeof(c->server_error), fmt, ap);
	va_end(ap);
	c->has_server_error = true;
	c->state = ST_FAILED;
}

/* out = HMAC-<type>(key, data) (RFC 2104). Returns 0 or -1. */
int sasl_hmac(int type, const void *key, size_t keylen, const void *data, size_t len,
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

void sasl_redact_line(const char *line, unsigned keep_words, char *out, size_t outsz)
{
	const char *p = line;
	size_t keep;
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
	if (*p == '\0' || strcmp(p, "=") == 0 || strcmp(p, "*") == 0 || keep > INT_MAX) {
		snprintf(out, outsz, "%s", keep > INT_MAX ? "[redacted]" : line);
		return;
	}
	snprintf(out, outsz, "%.*s[redacted]", (int)keep, line);
}
