/* fuzz_sasl.c - the client side of SASL (probe/dialects/sasl*.c): one mechanism with
 * fixed test credentials answering server challenges taken from the input.
 *
 * Input: d[0] flags, then server chunks separated by FUZZ_SEP.
 *   d[0] & 0x07  mechanism (modulo SASL_MECH_COUNT, enum sasl_mech)
 *   d[0] & 0x08  no sasl_initial(): the first challenge asks for the initial
 *                response (RFC 4422 section 5)
 *   d[0] & 0x10  the last chunk is the success data for sasl_finish(), else
 *                sasl_finish(NULL) after all challenges
 *   d[0] & 0x20  chunks are the server's raw messages, base64-encoded here
 *                (so SCRAM attributes mutate directly); else the base64 text
 *                as a server sends it after "334 " / "+ "
 *   d[0] & 0x40  an authorisation identity as well (PLAIN, SCRAM, OAUTHBEARER)
 *   d[0] & 0x80  the RFC 5802 / RFC 7677 client nonce (test seam), so the RFC
 *                exchanges verify; else a random one
 * sasl_step() runs once per challenge until the first error; one more step
 * after an error must fail with MP_ERR_INTERNAL (the client is spent).
 *
 * Invariants: sasl_new accepts the test credentials; every status is OK or
 * PROTOCOL (server bytes never cause an internal error) and an error has a
 * printable message; no message and no sasl_server_error() contains the
 * mechanism's password or token (sasl.h); every response is strict base64;
 * CRAM-MD5 and SCRAM never send the password, only the OAuth mechanisms send
 * the token; a successful sasl_finish() means sasl_done(), and for SCRAM a
 * verified server signature (RFC 5802 section 5); only SCRAM verifies; a
 * server-reported error never ends in success.
 */
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "probe/dialects/sasl.h"

#define XFLAG_MECH_MASK  0x07
#define XFLAG_NO_INITIAL 0x08
#define XFLAG_FINAL_DATA 0x10
#define XFLAG_RAW        0x20
#define XFLAG_AUTHZID    0x40
#define XFLAG_RFC_NONCE  0x80

/* RFC 5802 section 5 and RFC 7677 section 3 credentials and client nonces. */
#define TEST_USER         "user"
#define TEST_PASS         "pencil"
#define TEST_AUTHZID      "admin"
#define TEST_NONCE_SHA1   "fyko+d2lbbFgONRv9qkxdawL"
#define TEST_NONCE_SHA256 "rOprNGfwEbeRWgbNEkqO"
/* An RFC 6750 bearer token (the one of Google's XOAUTH2 example). */
#define TEST_TOKEN "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"

/* The string no message may contain (sasl.h): the secret the mechanism
 * holds, the token for XOAUTH2 / OAUTHBEARER, else the password (the other
 * is not copied, so the server cannot have it from this exchange). Base64
 * forms are not covered by sasl.h: auth_sasl_exchange() withholds those, and
 * fuzz_common.c checks them through the dialects. */
struct fsecrets {
	const char *secret;
};

static void secrets_make(struct fsecrets *ss, enum sasl_mech mech)
{
	ss->secret = mech == SASL_XOAUTH2 || mech == SASL_OAUTHBEARER ? TEST_TOKEN : TEST_PASS;
}

/* Fails when text (what = where it came from) holds the secret or raw bytes. */
static void check_text(const struct fsecrets *ss, const char *text, const char *what)
{
	FUZZ_CHECK(fuzz_printable_ascii(text), "%s carries raw bytes: \"%s\"", what, text);
	FUZZ_CHECK(!strstr(text, ss->secret), "%s \"%s\" contains the secret \"%s\"", what, text,
	           ss->secret);
}

/* Checks a status and the error that goes with it. */
static void check_status(const struct fsecrets *ss, enum mp_status st, const struct mp_error *err,
                         const char *what)
{
	FUZZ_CHECK(st == MP_OK || st == MP_ERR_PROTOCOL, "%s returned %s: %s", what,
	           mp_status_name(st), err->msg);
	FUZZ_CHECK(strnlen(err->msg, sizeof(err->msg)) < sizeof(err->msg),
	           "message not terminated");
	FUZZ_CHECK(st == MP_OK || (err->msg[0] && err->code == st), "%s: %s without its message",
	           what, mp_status_name(st));
	check_text(ss, err->msg, "error message");
}

/* What a challenge held: a secret in a SCRAM server nonce is echoed by our
 * client-final message (RFC 5802 section 7), not leaked by us. */
struct echo {
	bool pass, token;
};

/* Which secrets the base64 challenge text holds. */
static struct echo challenge_echo(const char *text)
{
	struct echo e = {false, false};
	unsigned char *dec = NULL;
	size_t dlen = 0, len = strlen(text);

	while (len > 0 && strchr(" \t\r\n", text[len - 1]))
		len--;
	if (b64_decode(text, len, &dec, &dlen) != 0)
		return e;
	e.pass = memmem(dec, dlen, TEST_PASS, strlen(TEST_PASS)) != NULL;
	e.token = memmem(dec, dlen, TEST_TOKEN, strlen(TEST_TOKEN)) != NULL;
	free(dec);
	return e;
}

/* A response must be strict base64, and carry only the secrets its
 * mechanism sends (RFC 2195 and RFC 5802 never send the password) or that
 * the server's challenge itself held (echo). */
static void check_response(enum sasl_mech mech, const char *resp, const char *what,
                           struct echo echo)
{
	unsigned char *dec = NULL;
	size_t dlen = 0;
	bool scram = mech == SASL_SCRAM_SHA_1 || mech == SASL_SCRAM_SHA_256;
	bool oauth = mech == SASL_XOAUTH2 || mech == SASL_OAUTHBEARER;

	FUZZ_CHECK(resp, "%s: MP_OK without a response", what);
	FUZZ_CHECK(b64_valid(resp, strlen(resp)), "%s \"%s\" is not strict base64", what, resp);
	FUZZ_CHECK(b64_decode(resp, strlen(resp), &dec, &dlen) == 0, "%s does not decode", what);
	if ((mech == SASL_CRAM_MD5 || scram || oauth) && !echo.pass)
		FUZZ_CHECK(!memmem(dec, dlen, TEST_PASS, strlen(TEST_PASS)),
		           "%s %s sends the password", sasl_mech_name(mech), what);
	if (!oauth && !echo.token)
		FUZZ_CHECK(!memmem(dec, dlen, TEST_TOKEN, strlen(TEST_TOKEN)),
		           "%s %s sends the token", sasl_mech_name(mech), what);
	free(dec);
}

/* The challenge text of a chunk: as given, or base64-encoded (XFLAG_RAW).
 * Embedded NULs end the C string the API takes. */
static char *challenge_of(const struct fuzz_chunk *ch, bool raw)
{
	char *s = NULL;

	if (!raw)
		return fuzz_strndup(ch->p, ch->len);
	s = b64_encode(ch->p, ch->len);
	FUZZ_CHECK(s, "out of memory");
	return s;
}

/* The exchange's state checks after each call. */
static void check_client(const struct fsecrets *ss, const struct sasl_client *c,
                         enum sasl_mech mech)
{
	const char *serr = sasl_server_error(c);

	if (serr)
		check_text(ss, serr, "sasl_server_error()");
	if (sasl_server_verified(c))
		FUZZ_CHECK(mech == SASL_SCRAM_SHA_1 || mech == SASL_SCRAM_SHA_256,
		           "%s claims a verified server", sasl_mech_name(mech));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_chunk chunks[FUZZ_MAX_CHUNKS];
	struct sasl_creds cr = {.user = TEST_USER,
	                        .pass = TEST_PASS,
	                        .token = TEST_TOKEN,
	                        .host = "mail.example.org",
	                        .port = 587};
	struct sasl_client *c = NULL;
	struct fsecrets ss;
	struct mp_error err;
	enum sasl_mech mech;
	enum mp_status st = MP_OK;
	size_t nchunks, nsteps;
	char *ir = NULL, *resp = NULL, *text = NULL;
	uint8_t flags;
	bool scram;

	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	flags = data[0];
	mech = (enum sasl_mech)((flags & XFLAG_MECH_MASK) % SASL_MECH_COUNT);
	scram = mech == SASL_SCRAM_SHA_1 || mech == SASL_SCRAM_SHA_256;
	/* Only PLAIN, SCRAM and OAUTHBEARER carry an authzid (sasl.h). */
	if ((flags & XFLAG_AUTHZID) && (mech == SASL_PLAIN || scram || mech == SASL_OAUTHBEARER))
		cr.authzid = TEST_AUTHZID;
	nchunks = fuzz_split(data + 1, size - 1, chunks, FUZZ_MAX_CHUNKS);
	nsteps = flags & XFLAG_FINAL_DATA ? nchunks - 1 : nchunks;
	secrets_make(&ss, mech);
	mp_error_clear(&err);

	c = sasl_new(mech, &cr, &err);
	FUZZ_CHECK(c, "sasl_new(%s) refused the test credentials: %s", sasl_mech_name(mech),
	           err.msg);
	if ((flags & XFLAG_RFC_NONCE) && scram) {
		st = sasl_set_nonce_for_test(
		    c, mech == SASL_SCRAM_SHA_1 ? TEST_NONCE_SHA1 : TEST_NONCE_SHA256, &err);
		FUZZ_CHECK(st == MP_OK, "the RFC nonce was refused: %s", err.msg);
	}
	if (!(flags & XFLAG_NO_INITIAL)) {
		st = sasl_initial(c, &ir, &err);
		FUZZ_CHECK(st == MP_OK, "sasl_initial(%s): %s", sasl_mech_name(mech), err.msg);
		FUZZ_CHECK(!ir == (mech == SASL_LOGIN || mech == SASL_CRAM_MD5),
		           "%s: initial response %s", sasl_mech_name(mech),
		           ir ? "given" : "missing");
		if (ir)
			check_response(mech, ir, "initial response", (struct echo){false, false});
	}
	for (size_t i = 0; i < nsteps; i++) {
		text = challenge_of(&chunks[i], flags & XFLAG_RAW);
		st = sasl_step(c, text, &resp, &err);
		check_status(&ss, st, &err, "sasl_step");
		check_client(&ss, c, mech);
		if (st == MP_OK)
			check_response(mech, resp, "response", challenge_echo(text));
		free(text);
		text = NULL;
		sasl_response_free(resp);
		resp = NULL;
		if (st != MP_OK)
			break;
	}
	if (st != MP_OK) {
		/* sasl.h: after an error the client is spent. */
		struct mp_error again;

		mp_error_clear(&again);
		st = sasl_step(c, "", &resp, &again);
		FUZZ_CHECK(st == MP_ERR_INTERNAL && !resp,
		           "a spent %s client answered again: %s, \"%s\"", sasl_mech_name(mech),
		           mp_status_name(st), again.msg);
		goto out;
	}
	if (flags & XFLAG_FINAL_DATA)
		text = challenge_of(&chunks[nchunks - 1], flags & XFLAG_RAW);
	st = sasl_finish(c, text, &err);
	check_status(&ss, st, &err, "sasl_finish");
	check_client(&ss, c, mech);
	if (st == MP_OK) {
		FUZZ_CHECK(sasl_done(c), "%s finished but not done", sasl_mech_name(mech));
		FUZZ_CHECK(!sasl_failed(c), "%s finished after the server reported an error",
		           sasl_mech_name(mech));
		FUZZ_CHECK(!scram || sasl_server_verified(c),
		           "%s finished without verifying the server", sasl_mech_name(mech));
	}
out:
	free(text);
	sasl_response_free(ir);
	sasl_free(c);
	return 0;
}
