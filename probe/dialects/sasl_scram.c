/* sasl_scram.c - SASL SCRAM-SHA-1 (RFC 5802) and SCRAM-SHA-256 (RFC 7677),
 * without channel binding, over wolfCrypt. */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/sha.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/wolfcrypt/pwdbased.h>
#include <wolfssl/wolfcrypt/random.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "probe/dialects/quote.h"
#include "probe/dialects/sasl.h"
#include "probe/dialects/sasl_int.h"

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

/* out = H(data) for a SCRAM hash type. Returns 0 or -1. */
static int hash_calc(int type, const unsigned char *data, size_t len, unsigned char *out)
{
	if (type == WC_SHA)
		return wc_ShaHash(data, (word32)len, out) == 0 ? 0 : -1;
	return wc_Sha256Hash(data, (word32)len, out) == 0 ? 0 : -1;
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
	sasl_free_secret(b64);
	return rc;
}

/* SCRAM client-first-message (RFC 5802 section 7): gs2-header
 * client-first-message-bare, with gs2-header "n,," or "n,a=authzid,"
 * (no channel binding) and bare "n=" saslname ",r=" c-nonce. */
enum mp_status sasl_scram_client_first(struct sasl_client *c, struct sasl_buf *b,
                                       struct mp_error *err)
{
	struct sasl_buf gs2 = {0};
	struct sasl_buf bare = {0};
	enum mp_status st = MP_OK;

	if (c->nonce[0] == '\0' && make_nonce(c) != 0) {
		st = sasl_spent(c, err, MP_ERR_INTERNAL, "%s: no random bytes for the client nonce",
		                sasl_mech_name(c->mech));
		goto out;
	}
	sasl_buf_str(&gs2, "n,");
	if (c->authzid) {
		sasl_buf_str(&gs2, "a=");
		sasl_buf_saslname(&gs2, c->authzid);
	}
	sasl_buf_str(&gs2, ",");
	sasl_buf_str(&bare, "n=");
	sasl_buf_saslname(&bare, c->user);
	sasl_buf_str(&bare, ",r=");
	sasl_buf_str(&bare, c->nonce);
	if (gs2.failed || bare.failed) {
		st = sasl_spent(c, err, MP_ERR_INTERNAL, "out of memory");
		goto out;
	}
	sasl_buf_add(b, gs2.p, gs2.len);
	sasl_buf_add(b, bare.p, bare.len);
	c->gs2_header = gs2.p;
	c->client_first_bare = bare.p;
	gs2.p = NULL;
	bare.p = NULL;
out:
	sasl_buf_wipe(&gs2);
	sasl_buf_wipe(&bare);
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

	sasl_quote_server(c, q, sizeof(q), val, vlen);
	sasl_set_server_error(c, "%s", q);
	return sasl_fixed_response(c, "", resp, err);
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

	sasl_quote_server(c, q, sizeof(q), val, vlen);
	if (vlen == 0)
		return sasl_spent(c, err, MP_ERR_PROTOCOL, "%s iteration count (i=) is empty",
		                  mech);
	for (i = 0; i < vlen; i++) {
		if (val[i] < '0' || val[i] > '9')
			return sasl_spent(c, err, MP_ERR_PROTOCOL,
			                  "%s iteration count (i=) is not a number: \"%s\"", mech,
			                  q);
	}
	/* Leading zeros do not make a count large. */
	while (vlen > 1 && val[0] == '0') {
		val++;
		vlen--;
	}
	if (vlen >= sizeof(digits))
		return sasl_spent(c, err, MP_ERR_PROTOCOL,
		                  "server asks for %s iterations, more than the limit (%d)", q,
		                  MP_MAX_SCRAM_ITERATIONS);
	memcpy(digits, val, vlen);
	digits[vlen] = '\0';
	n = strtol(digits, &end, 10);
	if (*end != '\0' || n < 1)
		return sasl_spent(c, err, MP_ERR_PROTOCOL,
		                  "%s iteration count (i=) must be at least 1: \"%s\"", mech, q);
	if (n > MP_MAX_SCRAM_ITERATIONS)
		return sasl_spent(c, err, MP_ERR_PROTOCOL,
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
                                  size_t saltlen, long iter, struct sasl_buf *b,
                                  struct mp_error *err)
{
	unsigned char salted[SASL_MAX_DIGEST];
	unsigned char client_key[SASL_MAX_DIGEST];
	unsigned char stored_key[SASL_MAX_DIGEST];
	unsigned char client_sig[SASL_MAX_DIGEST];
	unsigned char server_key[SASL_MAX_DIGEST];
	struct sasl_buf without_proof = {0};
	struct sasl_buf auth = {0};
	char *gs2_b64 = NULL;
	char *proof_b64 = NULL;
	enum mp_status st = MP_OK;
	size_t hlen, i;
	int type;

	scram_hash(c->mech, &type, &hlen);
	gs2_b64 = b64_encode(c->gs2_header, strlen(c->gs2_header));
	sasl_buf_str(&without_proof, "c=");
	sasl_buf_str(&without_proof, gs2_b64 ? gs2_b64 : "");
	sasl_buf_str(&without_proof, ",r=");
	sasl_buf_add(&without_proof, rnonce, rlen);
	sasl_buf_str(&auth, c->client_first_bare);
	sasl_buf_str(&auth, ",");
	sasl_buf_add(&auth, server_first, sflen);
	sasl_buf_str(&auth, ",");
	sasl_buf_add(&auth, without_proof.p, without_proof.len);
	if (!gs2_b64 || without_proof.failed || auth.failed) {
		st = sasl_spent(c, err, MP_ERR_INTERNAL, "out of memory");
		goto out;
	}
	if (saltlen > INT_MAX ||
	    wc_PBKDF2(salted, (const byte *)c->pass, (int)strlen(c->pass), salt, (int)saltlen,
	              (int)iter, (int)hlen, type) != 0 ||
	    sasl_hmac(type, salted, hlen, "Client Key", 10, client_key) != 0 ||
	    hash_calc(type, client_key, hlen, stored_key) != 0 ||
	    sasl_hmac(type, stored_key, hlen, auth.p, auth.len, client_sig) != 0 ||
	    sasl_hmac(type, salted, hlen, "Server Key", 10, server_key) != 0 ||
	    sasl_hmac(type, server_key, hlen, auth.p, auth.len, c->server_sig) != 0) {
		st = sasl_spent(c, err, MP_ERR_INTERNAL, "%s: key derivation failed",
		                sasl_mech_name(c->mech));
		goto out;
	}
	for (i = 0; i < hlen; i++)
		client_sig[i] ^= client_key[i];
	proof_b64 = b64_encode(client_sig, hlen);
	if (!proof_b64) {
		st = sasl_spent(c, err, MP_ERR_INTERNAL, "out of memory");
		goto out;
	}
	sasl_buf_add(b, without_proof.p, without_proof.len);
	sasl_buf_str(b, ",p=");
	sasl_buf_str(b, proof_b64);
out:
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(client_key, sizeof(client_key));
	explicit_bzero(stored_key, sizeof(stored_key));
	explicit_bzero(client_sig, sizeof(client_sig));
	explicit_bzero(server_key, sizeof(server_key));
	sasl_buf_wipe(&without_proof);
	sasl_buf_wipe(&auth);
	free(gs2_b64);
	sasl_free_secret(proof_b64);
	return st;
}

/* SCRAM server-first-message (RFC 5802 section 7), untrusted:
 *   [m=ext ","] r=c-nonce s-nonce "," s=salt "," i=count ["," extensions]
 * answered with the client-final-message. */
enum mp_status sasl_scram_server_first(struct sasl_client *c, const char *text, size_t len,
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
	struct sasl_buf b = {0};
	enum mp_status st;
	long iter = 0;

	st = sasl_decode_challenge(c, text, len, "server-first message", &msg, &mlen, err);
	if (st != MP_OK)
		goto out;
	pos = (const char *)msg;
	end = pos + mlen;
	sasl_quote_server(c, q, sizeof(q), pos, mlen);
	if (memchr(msg, '\0', mlen)) {
		st = sasl_spent(c, err, MP_ERR_PROTOCOL,
		                "%s server-first message contains a NUL byte", mech);
		goto out;
	}
	/* Not in the grammar here, but some servers fail this early. */
	if (scram_attr(&pos, end, 'e', &val, &vlen)) {
		st = scram_server_error(c, val, vlen, resp, err);
		goto out;
	}
	if (mlen >= 2 && msg[0] == 'm' && msg[1] == '=') {
		st = sasl_spent(c, err, MP_ERR_PROTOCOL,
		                "%s server requires an extension we do not know (m=): \"%s\"", mech,
		                q);
		goto out;
	}
	if (!scram_attr(&pos, end, 'r', &rnonce, &rlen)) {
		st = sasl_spent(c, err, MP_ERR_PROTOCOL,
		                "%s server-first message lacks the nonce (r=): \"%s\"", mech, q);
		goto out;
	}
	nlen = strlen(c->nonce);
	if (rlen <= nlen || memcmp(rnonce, c->nonce, nlen) != 0) {
		st = sasl_spent(c, err, MP_ERR_PROTOCOL,
		                "server nonce does not extend ours: \"%s\"", q);
		goto out;
	}
	for (i = 0; i < rlen; i++) {
		if (!sasl_nonce_char((unsigned char)rnonce[i])) {
			st =
			    sasl_spent(c, err, MP_ERR_PROTOCOL,
			               "%s server nonce has a non-printable byte: \"%s\"", mech, q);
			goto out;
		}
	}
	if (!scram_attr(&pos, end, 's', &val, &vlen)) {
		st = sasl_spent(c, err, MP_ERR_PROTOCOL,
		                "%s server-first message lacks the salt (s=): \"%s\"", mech, q);
		goto out;
	}
	if (b64_decode(val, vlen, &salt, &saltlen) != 0 || saltlen == 0) {
		st = sasl_spent(c, err, MP_ERR_PROTOCOL,
		                "%s salt (s=) is empty or not valid base64: \"%s\"", mech, q);
		goto out;
	}
	if (!scram_attr(&pos, end, 'i', &val, &vlen)) {
		st = sasl_spent(c, err, MP_ERR_PROTOCOL,
		                "%s server-first message lacks the iteration count (i=): \"%s\"",
		                mech, q);
		goto out;
	}
	st = scram_iterations(c, val, vlen, &iter, err);
	if (st != MP_OK)
		goto out;
	st = scram_prove(c, (const char *)msg, mlen, rnonce, rlen, salt, saltlen, iter, &b, err);
	if (st == MP_OK)
		st = sasl_encode_response(c, &b, resp, err);
	if (st == MP_OK)
		c->state = ST_SENT_FINAL;
out:
	free(msg);
	free(salt);
	sasl_buf_wipe(&b);
	return st;
}

/* SCRAM server-final-message (RFC 5802 section 7), untrusted: e=error or
 * v=ServerSignature, checked in constant time. As a challenge it is answered
 * with an empty response (resp not NULL); as success data it only verifies. */
enum mp_status sasl_scram_server_final(struct sasl_client *c, const char *text, size_t len,
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
	st = sasl_decode_challenge(c, text, len, "server-final message", &msg, &mlen, err);
	if (st != MP_OK)
		goto out;
	pos = (const char *)msg;
	end = pos + mlen;
	sasl_quote_server(c, q, sizeof(q), pos, mlen);
	if (scram_attr(&pos, end, 'e', &val, &vlen)) {
		if (resp) {
			st = scram_server_error(c, val, vlen, resp, err);
			goto out;
		}
		sasl_quote_server(c, q, sizeof(q), val, vlen);
		st = sasl_spent(
		    c, err, MP_ERR_PROTOCOL,
		    "server reported success, but its %s final message is an error: \"%s\"", mech,
		    q);
		goto out;
	}
	if (!scram_attr(&pos, end, 'v', &val, &vlen)) {
		st = sasl_spent(c, err, MP_ERR_PROTOCOL,
		                "%s server-final message has neither v= nor e=: \"%s\"", mech, q);
		goto out;
	}
	if (b64_decode(val, vlen, &sig, &siglen) != 0 || siglen != hlen ||
	    !sasl_ct_equal(sig, c->server_sig, hlen)) {
		st = sasl_spent(c, err, MP_ERR_PROTOCOL,
		                "server signature does not verify: the server does not know the "
		                "password (or a man in the middle)");
		goto out;
	}
	c->verified = true;
	c->state = ST_DONE;
	if (resp)
		st = sasl_fixed_response(c, "", resp, err);
out:
	free(msg);
	free(sig);
	return st;
}
