/* test_sasl.c - SASL client mechanisms (probe/dialects/sasl*.c) and base64 (core/base64.c).
 *
 * Vectors come from the RFCs (2195, 5802, 7677, 1939, 4954, 4648, 7628) and
 * Google's XOAUTH2 documentation; hostile cases play a lying server.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/limits.h"
#include "probe/dialects/sasl.h"

#define SECRET_PASS  "s3cr3t-Pw!"
#define SECRET_TOKEN "tOkEn.Secret-42"

/* Fails when msg contains a password or token used in these tests. */
static void assert_no_secret(const char *msg)
{
	static const char *const secrets[] = {SECRET_PASS, SECRET_TOKEN, "pencil",
	                                      "tanstaaftanstaaf"};
	size_t i;

	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		if (strstr(msg, secrets[i]))
			fail_msg("message \"%s\" leaks the secret \"%s\"", msg, secrets[i]);
	}
}

/* Base64 of a text (test-side encoding of what a server sends). */
static char *enc(const char *text)
{
	char *s = b64_encode(text, strlen(text));

	assert_non_null(s);
	return s;
}

/* Decodes a response (it must be strict base64) into a new buffer. */
static unsigned char *dec(const char *b64, size_t *len)
{
	unsigned char *out = NULL;

	if (b64_decode(b64, strlen(b64), &out, len) != 0)
		fail_msg("response \"%s\" is not strict base64", b64);
	return out;
}

/* Asserts that the response b64 decodes to exactly want[0..wlen). */
static void assert_resp_bytes(const char *b64, const char *want, size_t wlen)
{
	size_t len = 0;
	unsigned char *got = dec(b64, &len);

	if (len != wlen || memcmp(got, want, wlen) != 0)
		fail_msg("response decodes to %zu bytes \"%.*s\", want %zu bytes \"%.*s\"", len,
		         (int)len, got, wlen, (int)wlen, want);
	free(got);
}

static struct sasl_client *new_ok(enum sasl_mech mech, const struct sasl_creds *cr)
{
	struct mp_error err;
	struct sasl_client *c;

	mp_error_clear(&err);
	c = sasl_new(mech, cr, &err);
	if (!c)
		fail_msg("sasl_new(%s): %s", sasl_mech_name(mech), err.msg);
	return c;
}

/* Answers the server text (plain, encoded here) expecting success. */
static char *step_ok(struct sasl_client *c, const char *server_text)
{
	struct mp_error err;
	char *b64 = server_text ? enc(server_text) : NULL;
	char *resp = NULL;
	enum mp_status st;

	mp_error_clear(&err);
	st = sasl_step(c, b64, &resp, &err);
	free(b64);
	if (st != MP_OK)
		fail_msg("sasl_step(\"%s\"): %s: %s", server_text ? server_text : "(null)",
		         mp_status_name(st), err.msg);
	assert_non_null(resp);
	return resp;
}

/* Sends raw challenge text (not encoded here) expecting a protocol error
 * whose message contains want and no secret. */
static void step_raw_bad(struct sasl_client *c, const char *raw, const char *want)
{
	struct mp_error err;
	char *resp = (char *)"sentinel";
	enum mp_status st;

	mp_error_clear(&err);
	st = sasl_step(c, raw, &resp, &err);
	if (st != MP_ERR_PROTOCOL)
		fail_msg("challenge \"%.60s\": got %s (%s), want protocol_error with \"%s\"", raw,
		         mp_status_name(st), err.msg, want);
	assert_null(resp);
	if (!strstr(err.msg, want))
		fail_msg("challenge \"%.60s\": message \"%s\" lacks \"%s\"", raw, err.msg, want);
	assert_no_secret(err.msg);
	/* The client is spent: nothing more is answered. */
	mp_error_clear(&err);
	assert_int_not_equal(sasl_step(c, "", &resp, &err), MP_OK);
	assert_null(resp);
}

/* Like step_raw_bad, for server text that is base64-encoded here. */
static void step_bad(struct sasl_client *c, const char *server_text, const char *want)
{
	char *b64 = enc(server_text);

	step_raw_bad(c, b64, want);
	free(b64);
}

/* ---- base64 ---- */

static void test_base64_rfc4648_vectors(void **state)
{
	static const char *const v[][2] = {
	    {"", ""},
	    {"f", "Zg=="},
	    {"fo", "Zm8="},
	    {"foo", "Zm9v"},
	    {"foob", "Zm9vYg=="},
	    {"fooba", "Zm9vYmE="},
	    {"foobar", "Zm9vYmFy"},
	};
	size_t i, len;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char *e = b64_encode(v[i][0], strlen(v[i][0]));
		unsigned char *d = NULL;

		assert_non_null(e);
		assert_string_equal(e, v[i][1]);
		assert_int_equal(b64_decode(v[i][1], strlen(v[i][1]), &d, &len), 0);
		assert_int_equal(len, strlen(v[i][0]));
		assert_memory_equal(d, v[i][0], len);
		assert_int_equal(d[len], '\0');
		free(e);
		free(d);
	}
}

static void test_base64_strict(void **state)
{
	static const char *const bad[] = {
	    "Zg=",
	    "Zg",
	    "Z===",
	    "====",
	    "Zm9v\n",
	    "Zm 9v",
	    "Zm9v====",
	    "Zg==Zg==",
	    "Zm9-",
	    "=Zg=",
	    "Zm9v\r\n",
	    "Zm=v",
	    "\xc3\xa4"
	    "AAA",
	};
	unsigned char *d = (unsigned char *)"x";
	size_t i, len = 7;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (b64_decode(bad[i], strlen(bad[i]), &d, &len) == 0)
			fail_msg("accepted invalid base64 \"%s\"", bad[i]);
		assert_null(d);
		assert_int_equal(len, 0);
		assert_false(b64_valid(bad[i], strlen(bad[i])));
	}
}

/* ---- names ---- */

static void test_mech_names(void **state)
{
	int m;

	for (m = 0; m < SASL_MECH_COUNT; m++)
		assert_int_equal(sasl_mech_parse(sasl_mech_name((enum sasl_mech)m)), m);
	assert_int_equal(sasl_mech_parse("scram-sha-256"), SASL_SCRAM_SHA_256);
	assert_int_equal(sasl_mech_parse("Cram-MD5"), SASL_CRAM_MD5);
	assert_string_equal(sasl_mech_name(SASL_SCRAM_SHA_1), "SCRAM-SHA-1");
	assert_int_equal(sasl_mech_parse("SCRAM-SHA-1-PLUS"), -1);
	assert_int_equal(sasl_mech_parse("GSSAPI"), -1);
	assert_int_equal(sasl_mech_parse("PLAINX"), -1);
	assert_int_equal(sasl_mech_parse(""), -1);
	assert_int_equal(sasl_mech_parse(NULL), -1);
}

static void test_mech_usable(void **state)
{
	struct sasl_creds pw = {.user = "u", .pass = "p"};
	struct sasl_creds tok = {.user = "u", .token = "t"};
	struct sasl_creds tok_nouser = {.token = "t"};
	struct sasl_creds az = {.user = "u", .pass = "p", .authzid = "admin"};

	assert_true(sasl_mech_usable(SASL_PLAIN, &pw));
	assert_true(sasl_mech_usable(SASL_SCRAM_SHA_256, &pw));
	assert_false(sasl_mech_usable(SASL_XOAUTH2, &pw));
	assert_true(sasl_mech_usable(SASL_XOAUTH2, &tok));
	assert_false(sasl_mech_usable(SASL_LOGIN, &tok));
	assert_true(sasl_mech_usable(SASL_OAUTHBEARER, &tok_nouser));
	assert_false(sasl_mech_usable(SASL_XOAUTH2, &tok_nouser));
	assert_true(sasl_mech_usable(SASL_PLAIN, &az));
	assert_false(sasl_mech_usable(SASL_LOGIN, &az));
	assert_false(sasl_mech_usable(SASL_CRAM_MD5, &az));
}

/* ---- credentials ---- */

static void test_creds_rejected(void **state)
{
	static const struct {
		enum sasl_mech mech;
		struct sasl_creds cr;
		const char *want;
	} cases[] = {
	    {SASL_PLAIN, {.user = "u"}, "needs a user name and a password"},
	    {SASL_SCRAM_SHA_1, {.pass = SECRET_PASS}, "needs a user name and a password"},
	    {SASL_PLAIN, {.user = "u", .pass = "s3cr3t\tPw"}, "password contains a control"},
	    {SASL_LOGIN, {.user = "u", .pass = "s3cr3t\x7fPw"}, "password contains a control"},
	    {SASL_PLAIN,
	     {.user = "u",
	      .pass = "s3cr\xc3"
	              "3t"},
	     "password is not valid UTF-8"},
	    {SASL_PLAIN, {.user = "u", .pass = "\xc0\xafsecret"}, "password is not valid UTF-8"},
	    {SASL_PLAIN, {.user = "u", .pass = "\xed\xa0\x80sec"}, "password is not valid UTF-8"},
	    {SASL_PLAIN, {.user = "u", .pass = "sec\xc2\x85ret"}, "password contains a control"},
	    {SASL_PLAIN, {.user = "u\x01x", .pass = SECRET_PASS}, "user name contains a control"},
	    {SASL_CRAM_MD5,
	     {.user = "u", .pass = SECRET_PASS, .authzid = "a"},
	     "cannot carry an authorisation identity"},
	    {SASL_XOAUTH2, {.user = "u"}, "needs an OAuth token"},
	    {SASL_XOAUTH2, {.token = SECRET_TOKEN}, "needs a user name"},
	    {SASL_XOAUTH2, {.user = "u", .token = "tOkEn Secret"}, "not an OAuth bearer token"},
	    {SASL_OAUTHBEARER, {.token = "tOkEn\x01Secret"}, "not an OAuth bearer token"},
	    {SASL_OAUTHBEARER, {.token = "==="}, "not an OAuth bearer token"},
	    {SASL_OAUTHBEARER, {.token = "tok=en"}, "not an OAuth bearer token"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mp_error err;
		struct sasl_client *c;

		mp_error_clear(&err);
		c = sasl_new(cases[i].mech, &cases[i].cr, &err);
		if (c)
			fail_msg("case %zu: accepted, want \"%s\"", i, cases[i].want);
		assert_int_equal(err.code, MP_ERR_INTERNAL);
		if (!strstr(err.msg, cases[i].want))
			fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err.msg,
			         cases[i].want);
		assert_no_secret(err.msg);
		assert_null(strstr(err.msg, "s3cr"));
		assert_null(strstr(err.msg, "tOkEn"));
	}
}

static void test_creds_length_limit(void **state)
{
	struct mp_error err;
	struct sasl_client *c = NULL;
	char *big = malloc(MP_MAX_SASL_CRED + 2);
	struct sasl_creds cr = {.user = "u"};

	assert_non_null(big);
	memset(big, 'p', MP_MAX_SASL_CRED + 1);
	big[MP_MAX_SASL_CRED + 1] = '\0';
	cr.pass = big;
	c = sasl_new(SASL_PLAIN, &cr, &err);
	assert_null(c);
	assert_non_null(strstr(err.msg, "password is too long"));
	big[MP_MAX_SASL_CRED] = '\0';
	c = new_ok(SASL_PLAIN, &cr);
	sasl_free(c);
	free(big);
}

/* ---- PLAIN ---- */

static void test_plain_rfc4954_example(void **state)
{
	/* RFC 4954 section 4: "AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=" for
	 * authzid "test", authcid "test", password "1234". */
	struct sasl_creds cr = {.user = "test", .pass = "1234", .authzid = "test"};
	struct sasl_client *c = new_ok(SASL_PLAIN, &cr);
	struct mp_error err;
	char *ir = NULL;

	assert_false(sasl_done(c));
	assert_int_equal(sasl_initial(c, &ir, &err), MP_OK);
	assert_string_equal(ir, "dGVzdAB0ZXN0ADEyMzQ=");
	assert_true(sasl_done(c));
	assert_int_equal(sasl_finish(c, NULL, &err), MP_OK);
	assert_false(sasl_server_verified(c));
	assert_false(sasl_failed(c));
	assert_null(sasl_server_error(c));
	sasl_response_free(ir);
	sasl_free(c);
}

static void test_plain_without_initial_response(void **state)
{
	/* IMAP without SASL-IR: "+ " empty challenge asks for the response. */
	struct sasl_creds cr = {.user = "tim", .pass = "tanstaaftanstaaf"};
	struct sasl_client *c = new_ok(SASL_PLAIN, &cr);
	static const char want[] = "\0tim\0tanstaaftanstaaf";
	char *resp = step_ok(c, NULL);

	assert_resp_bytes(resp, want, sizeof(want) - 1);
	sasl_response_free(resp);
	/* A second challenge is a protocol error, quoting it. */
	step_raw_bad(c, "Zm9v", "after the PLAIN exchange was complete: \"Zm9v\"");
	sasl_free(c);
}

static void test_plain_utf8_passes_through(void **state)
{
	/* Non-ASCII is sent as UTF-8, unchanged (no SASLprep mapping). */
	struct sasl_creds cr = {.user = "j\xc3\xbcrgen", .pass = "p\xc3\xa4ss\xe2\x82\xac"};
	struct sasl_client *c = new_ok(SASL_PLAIN, &cr);
	static const char want[] = "\0j\xc3\xbcrgen\0p\xc3\xa4ss\xe2\x82\xac";
	struct mp_error err;
	char *ir = NULL;

	assert_int_equal(sasl_initial(c, &ir, &err), MP_OK);
	assert_resp_bytes(ir, want, sizeof(want) - 1);
	sasl_response_free(ir);
	sasl_free(c);
}

static void test_initial_twice(void **state)
{
	struct sasl_creds cr = {.user = "u", .pass = SECRET_PASS};
	struct sasl_client *c = new_ok(SASL_PLAIN, &cr);
	struct mp_error err;
	char *ir = NULL;

	assert_int_equal(sasl_initial(c, &ir, &err), MP_OK);
	sasl_response_free(ir);
	assert_int_equal(sasl_initial(c, &ir, &err), MP_ERR_INTERNAL);
	assert_null(ir);
	sasl_free(c);
}

/* ---- LOGIN ---- */

static void test_login(void **state)
{
	struct sasl_creds cr = {.user = "alice", .pass = SECRET_PASS};
	struct sasl_client *c = new_ok(SASL_LOGIN, &cr);
	struct mp_error err;
	char *ir = (char *)"x";
	char *r1, *r2;

	assert_int_equal(sasl_initial(c, &ir, &err), MP_OK);
	assert_null(ir);
	r1 = step_ok(c, "Username:");
	assert_resp_bytes(r1, "alice", 5);
	assert_false(sasl_done(c));
	r2 = step_ok(c, "Password:");
	assert_resp_bytes(r2, SECRET_PASS, strlen(SECRET_PASS));
	assert_true(sasl_done(c));
	assert_int_equal(sasl_finish(c, NULL, &err), MP_OK);
	sasl_response_free(r1);
	sasl_response_free(r2);
	sasl_free(c);
}

static void test_login_tolerates_any_challenge_text(void **state)
{
	struct sasl_creds cr = {.user = "alice", .pass = SECRET_PASS};
	struct sasl_client *c = new_ok(SASL_LOGIN, &cr);
	struct mp_error err;
	char *r1 = NULL, *r2 = NULL;

	/* Not base64, and plain text: answered by order. */
	assert_int_equal(sasl_step(c, "Username:", &r1, &err), MP_OK);
	assert_resp_bytes(r1, "alice", 5);
	assert_int_equal(sasl_step(c, "", &r2, &err), MP_OK);
	assert_resp_bytes(r2, SECRET_PASS, strlen(SECRET_PASS));
	step_raw_bad(c, "UGFzc3dvcmQ6", "after the LOGIN exchange was complete");
	sasl_response_free(r1);
	sasl_response_free(r2);
	sasl_free(c);
}

static void test_login_success_without_password(void **state)
{
	struct sasl_creds cr = {.user = "alice", .pass = SECRET_PASS};
	struct sasl_client *c = new_ok(SASL_LOGIN, &cr);
	struct mp_error err;
	char *r1 = step_ok(c, "Username:");

	assert_int_equal(sasl_finish(c, NULL, &err), MP_ERR_PROTOCOL);
	assert_non_null(strstr(err.msg, "before we sent the password"));
	sasl_response_free(r1);
	sasl_free(c);

	c = new_ok(SASL_LOGIN, &cr);
	assert_int_equal(sasl_finish(c, NULL, &err), MP_ERR_PROTOCOL);
	assert_non_null(strstr(err.msg, "before we sent any credentials"));
	sasl_free(c);
}

/* ---- CRAM-MD5 ---- */

static void test_cram_md5_rfc2195(void **state)
{
	/* RFC 2195 section 2. */
	struct sasl_creds cr = {.user = "tim", .pass = "tanstaaftanstaaf"};
	struct sasl_client *c = new_ok(SASL_CRAM_MD5, &cr);
	struct mp_error err;
	char *ir = (char *)"x";
	char *resp = NULL;

	assert_int_equal(sasl_initial(c, &ir, &err), MP_OK);
	assert_null(ir);
	assert_int_equal(
	    sasl_step(c, "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+", &resp, &err),
	    MP_OK);
	assert_string_equal(resp, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw");
	assert_resp_bytes(resp, "tim b913a602c7eda7a495b4e6e7334d3890", 36);
	assert_true(sasl_done(c));
	assert_int_equal(sasl_finish(c, NULL, &err), MP_OK);
	sasl_response_free(resp);
	sasl_free(c);
}

static void test_cram_md5_hostile(void **state)
{
	struct sasl_creds cr = {.user = "tim", .pass = "tanstaaftanstaaf"};
	struct sasl_client *c = new_ok(SASL_CRAM_MD5, &cr);

	step_raw_bad(c, "", "CRAM-MD5 challenge is empty");
	sasl_free(c);
	c = new_ok(SASL_CRAM_MD5, &cr);
	step_raw_bad(c, "PDE4OTY*Ljk3MTcw", "CRAM-MD5 challenge is not valid base64");
	sasl_free(c);
	c = new_ok(SASL_CRAM_MD5, &cr);
	step_raw_bad(c, "PDE4OTYuNjk3MTcw OTUy", "not valid base64");
	sasl_free(c);
}

/* ---- SCRAM ---- */

/* Runs a full SCRAM exchange from an RFC example. */
static void scram_vector(enum sasl_mech mech, const char *nonce, const char *client_first,
                         const char *server_first, const char *client_final,
                         const char *server_final, bool final_as_challenge)
{
	struct sasl_creds cr = {.user = "user", .pass = "pencil"};
	struct sasl_client *c = new_ok(mech, &cr);
	struct mp_error err;
	char *ir = NULL, *resp = NULL, *last = NULL;

	mp_error_clear(&err);
	assert_int_equal(sasl_set_nonce_for_test(c, nonce, &err), MP_OK);
	assert_int_equal(sasl_initial(c, &ir, &err), MP_OK);
	assert_resp_bytes(ir, client_first, strlen(client_first));
	resp = step_ok(c, server_first);
	assert_resp_bytes(resp, client_final, strlen(client_final));
	assert_false(sasl_server_verified(c));
	if (final_as_challenge) {
		/* SMTP / IMAP: v= arrives as a last challenge, answered empty. */
		last = step_ok(c, server_final);
		assert_string_equal(last, "");
		assert_true(sasl_server_verified(c));
		assert_int_equal(sasl_finish(c, NULL, &err), MP_OK);
	} else {
		/* v= arrives as additional data with success. */
		char *b64 = enc(server_final);

		assert_true(sasl_done(c) == false);
		if (sasl_finish(c, b64, &err) != MP_OK)
			fail_msg("sasl_finish: %s", err.msg);
		free(b64);
	}
	assert_true(sasl_server_verified(c));
	assert_true(sasl_done(c));
	assert_false(sasl_failed(c));
	sasl_response_free(ir);
	sasl_response_free(resp);
	sasl_response_free(last);
	sasl_free(c);
}

static void test_scram_sha1_rfc5802(void **state)
{
	static const char *sf = "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,"
	                        "i=4096";
	static const char *cf = "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
	                        "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=";

	scram_vector(SASL_SCRAM_SHA_1, "fyko+d2lbbFgONRv9qkxdawL",
	             "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL", sf, cf,
	             "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=", true);
	scram_vector(SASL_SCRAM_SHA_1, "fyko+d2lbbFgONRv9qkxdawL",
	             "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL", sf, cf,
	             "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=", false);
}

static void test_scram_sha256_rfc7677(void **state)
{
	static const char *sf = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	                        "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
	static const char *cf = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	                        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";

	scram_vector(SASL_SCRAM_SHA_256, "rOprNGfwEbeRWgbNEkqO", "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
	             sf, cf, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", true);
	scram_vector(SASL_SCRAM_SHA_256, "rOprNGfwEbeRWgbNEkqO", "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
	             sf, cf, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", false);
}

/* A SCRAM-SHA-1 client past client-first with the RFC 5802 nonce. */
static struct sasl_client *scram1_started(const char *pass)
{
	struct sasl_creds cr = {.user = "user", .pass = pass};
	struct sasl_client *c = new_ok(SASL_SCRAM_SHA_1, &cr);
	struct mp_error err;
	char *ir = NULL;

	assert_int_equal(sasl_set_nonce_for_test(c, "fyko+d2lbbFgONRv9qkxdawL", &err), MP_OK);
	assert_int_equal(sasl_initial(c, &ir, &err), MP_OK);
	sasl_response_free(ir);
	return c;
}

/* The RFC 5802 client past client-final, server-final awaited. */
static struct sasl_client *scram1_proved(void)
{
	struct sasl_client *c = scram1_started("pencil");
	char *resp = step_ok(c, "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
	                        "s=QSXCR+Q6sek8bf92,i=4096");

	sasl_response_free(resp);
	return c;
}

static void test_scram_hostile_server_first(void **state)
{
	static const struct {
		const char *server_first;
		const char *want;
	} cases[] = {
	    {"r=XXXX+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=4096",
	     "server nonce does not extend ours"},
	    {"r=fyko+d2lbbFgONRv9qkxdawL,s=QSXCR+Q6sek8bf92,i=4096",
	     "server nonce does not extend ours"},
	    {"r=fyko+d2lbb,s=QSXCR+Q6sek8bf92,i=4096", "server nonce does not extend ours"},
	    {"r=fyko+d2lbbFgONRv9qkxdawL3r\x7f,s=QSXCR+Q6sek8bf92,i=4096", "non-printable"},
	    {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=0", "must be at least 1"},
	    {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=0000", "must be at least 1"},
	    {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=abc", "is not a number: \"abc\""},
	    {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=-1", "is not a number"},
	    {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=+4096", "is not a number"},
	    {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=4096x", "is not a number"},
	    {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=", "is empty"},
	    {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=1000000000",
	     "server asks for 1000000000 iterations, more than the limit (100000)"},
	    {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=100001",
	     "server asks for 100001 iterations, more than the limit"},
	    {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,"
	     "i=99999999999999999999999999999999",
	     "iterations, more than the limit"},
	    {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,i=4096", "lacks the salt (s=)"},
	    {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=,i=4096", "salt (s=) is empty or not valid"},
	    {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR*Q6sek8bf92,i=4096",
	     "salt (s=) is empty or not valid"},
	    {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92", "lacks the iteration count"},
	    {"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,", "lacks the iteration count"},
	    {"s=QSXCR+Q6sek8bf92,r=fyko+d2lbbFgONRv9qkxdawL3rfc,i=4096", "lacks the nonce (r=)"},
	    {"", "lacks the nonce (r=)"},
	    {",,,,", "lacks the nonce (r=)"},
	    {"r", "lacks the nonce (r=)"},
	    {"m=ext,r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=4096",
	     "extension we do not know (m=)"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sasl_client *c = scram1_started("pencil");

		step_bad(c, cases[i].server_first, cases[i].want);
		sasl_free(c);
	}
}

static void test_scram_iteration_limit_is_inclusive(void **state)
{
	struct sasl_client *c = scram1_started("pencil");
	char *resp = step_ok(c, "r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=100000");

	assert_int_equal(MP_MAX_SCRAM_ITERATIONS, 100000);
	sasl_response_free(resp);
	sasl_free(c);
}

static void test_scram_hostile_encoding(void **state)
{
	struct sasl_client *c = scram1_started("pencil");
	char *big = NULL;

	step_raw_bad(c, "cj1meWtvK2QybGJi!!!", "server-first message is not valid base64");
	sasl_free(c);

	c = scram1_started("pencil");
	step_raw_bad(c, "cj1m eWtv", "not valid base64");
	sasl_free(c);

	/* "r=\0..." : a NUL byte inside the decoded message. */
	c = scram1_started("pencil");
	step_raw_bad(c, "cj0AeA==", "contains a NUL byte");
	sasl_free(c);

	/* A challenge longer than the limit is refused before decoding. */
	big = malloc(MP_MAX_SASL_CHALLENGE + 5);
	assert_non_null(big);
	memset(big, 'A', MP_MAX_SASL_CHALLENGE + 4);
	big[MP_MAX_SASL_CHALLENGE + 4] = '\0';
	c = scram1_started("pencil");
	step_raw_bad(c, big, "challenge is too large");
	sasl_free(c);
	free(big);
}

static void test_scram_echoed_password_is_withheld(void **state)
{
	/* A server echoing our password must not get it into a message. */
	struct sasl_client *c = scram1_started(SECRET_PASS);

	step_bad(c, "r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=" SECRET_PASS,
	         "withheld: it contains a credential");
	sasl_free(c);

	c = scram1_started(SECRET_PASS);
	step_bad(c, "r=nope" SECRET_PASS, "withheld");
	sasl_free(c);
}

static void test_scram_wrong_server_signature(void **state)
{
	static const char *const finals[] = {
	    "v=AmF9pqV8S7suAoZWja4dJRkFsKQ=",           /* one bit off */
	    "v=rmF9pqV8S7suAoZWja4dJRkFsKQA",           /* 21 bytes */
	    "v=rmF9pq*8S7suAoZWja4dJRkFsKQ=",           /* not base64 */
	    "v=rmF9pqV8S7suAoZWja4dJRkF",               /* too short */
	    "v=rmF9pqV8S7suAoZWja4dJRkFsKQrmF9pqV8S7s", /* too long */
	    "v=",
	};
	struct mp_error err;
	size_t i;

	for (i = 0; i < sizeof(finals) / sizeof(finals[0]); i++) {
		struct sasl_client *c = scram1_proved();
		char *b64 = enc(finals[i]);

		step_bad(c, finals[i],
		         "server signature does not verify: the server does not "
		         "know the password (or a man in the middle)");
		assert_false(sasl_server_verified(c));
		assert_false(sasl_done(c));
		sasl_free(c);

		/* The same as success data. */
		c = scram1_proved();
		mp_error_clear(&err);
		assert_int_equal(sasl_finish(c, b64, &err), MP_ERR_PROTOCOL);
		assert_non_null(strstr(err.msg, "server signature does not verify"));
		assert_false(sasl_server_verified(c));
		free(b64);
		sasl_free(c);
	}
}

static void test_scram_final_malformed(void **state)
{
	struct sasl_client *c = scram1_proved();

	step_bad(c, "x=rmF9pqV8S7suAoZWja4dJRkFsKQ=", "has neither v= nor e=");
	sasl_free(c);
	c = scram1_proved();
	step_raw_bad(c, "dj1ybUY5cHFWOFM3c3VBb1pXamE0ZEpSa0ZzS1E9=", "not valid base64");
	sasl_free(c);
}

static void test_scram_server_error(void **state)
{
	struct sasl_client *c = scram1_proved();
	struct mp_error err;
	char *resp = step_ok(c, "e=invalid-proof");
	char *b64 = NULL;

	/* Answered empty so the server can fail the command; recorded. */
	assert_string_equal(resp, "");
	assert_true(sasl_failed(c));
	assert_true(sasl_done(c));
	assert_false(sasl_server_verified(c));
	assert_string_equal(sasl_server_error(c), "invalid-proof");
	/* A server claiming success after that is lying. */
	assert_int_equal(sasl_finish(c, NULL, &err), MP_ERR_PROTOCOL);
	assert_non_null(strstr(err.msg, "after it reported an error (invalid-proof)"));
	sasl_response_free(resp);
	sasl_free(c);

	/* e= as success data. */
	c = scram1_proved();
	b64 = enc("e=other-error");
	assert_int_equal(sasl_finish(c, b64, &err), MP_ERR_PROTOCOL);
	assert_non_null(strstr(err.msg, "final message is an error: \"other-error\""));
	free(b64);
	sasl_free(c);

	/* e= instead of a server-first message. */
	c = scram1_started("pencil");
	resp = step_ok(c, "e=unknown-user");
	assert_string_equal(resp, "");
	assert_string_equal(sasl_server_error(c), "unknown-user");
	sasl_response_free(resp);
	sasl_free(c);
}

static void test_scram_success_without_proof(void **state)
{
	struct mp_error err;
	struct sasl_client *c = scram1_proved();

	/* Success with no v= at all: the server proved nothing. */
	assert_int_equal(sasl_finish(c, NULL, &err), MP_ERR_PROTOCOL);
	assert_non_null(strstr(err.msg, "without its signature (v=)"));
	assert_false(sasl_server_verified(c));
	sasl_free(c);

	c = scram1_proved();
	assert_int_equal(sasl_finish(c, "  \r\n", &err), MP_ERR_PROTOCOL);
	assert_non_null(strstr(err.msg, "without its signature"));
	sasl_free(c);

	/* Success right after our client-first. */
	c = scram1_started("pencil");
	assert_int_equal(sasl_finish(c, NULL, &err), MP_ERR_PROTOCOL);
	assert_non_null(strstr(err.msg, "before we sent our proof"));
	sasl_free(c);
}

static void test_scram_after_complete(void **state)
{
	struct sasl_client *c = scram1_proved();
	char *last = step_ok(c, "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");

	assert_true(sasl_server_verified(c));
	step_raw_bad(c, "", "after the SCRAM-SHA-1 exchange was complete");
	sasl_response_free(last);
	sasl_free(c);
}

static void test_scram_random_nonce_and_escaping(void **state)
{
	struct sasl_creds cr = {.user = "a=b,c", .pass = "pencil", .authzid = "ad,min"};
	struct sasl_client *c1 = new_ok(SASL_SCRAM_SHA_256, &cr);
	struct sasl_client *c2 = new_ok(SASL_SCRAM_SHA_256, &cr);
	struct mp_error err;
	char *ir1 = NULL, *ir2 = NULL, *resp = NULL;
	unsigned char *m1 = NULL, *m2 = NULL, *fin = NULL, *gs2 = NULL;
	size_t l1, l2, lf, lg;
	const char *prefix = "n,a=ad=2Cmin,n=a=3Db=2Cc,r=";
	char sf[256];
	char *cb = NULL;
	size_t p = strlen(prefix);

	assert_int_equal(sasl_initial(c1, &ir1, &err), MP_OK);
	assert_int_equal(sasl_initial(c2, &ir2, &err), MP_OK);
	m1 = dec(ir1, &l1);
	m2 = dec(ir2, &l2);
	assert_int_equal(l1, p + 32);
	assert_memory_equal(m1, prefix, p);
	assert_true(b64_valid((char *)m1 + p, 32));
	assert_int_equal(l2, l1);
	assert_memory_not_equal(m1 + p, m2 + p, 32);

	/* The client-final's c= carries the GS2 header with the authzid. */
	snprintf(sf, sizeof(sf), "r=%sSRV,s=QSXCR+Q6sek8bf92,i=1", (char *)m1 + p);
	resp = step_ok(c1, sf);
	fin = dec(resp, &lf);
	assert_true(lf > 2 && memcmp(fin, "c=", 2) == 0);
	cb = strndup((char *)fin + 2, strcspn((char *)fin + 2, ","));
	gs2 = dec(cb, &lg);
	assert_int_equal(lg, strlen("n,a=ad=2Cmin,"));
	assert_memory_equal(gs2, "n,a=ad=2Cmin,", lg);

	free(cb);
	free(gs2);
	free(fin);
	free(m1);
	free(m2);
	sasl_response_free(ir1);
	sasl_response_free(ir2);
	sasl_response_free(resp);
	sasl_free(c1);
	sasl_free(c2);
}

static void test_scram_nonce_seam_checks(void **state)
{
	struct sasl_creds cr = {.user = "user", .pass = "pencil"};
	struct sasl_client *c = new_ok(SASL_SCRAM_SHA_1, &cr);
	struct sasl_client *p = new_ok(SASL_PLAIN, &cr);
	struct mp_error err;
	char *ir = NULL;

	assert_int_equal(sasl_set_nonce_for_test(c, "a,b", &err), MP_ERR_INTERNAL);
	assert_int_equal(sasl_set_nonce_for_test(c, "", &err), MP_ERR_INTERNAL);
	assert_int_equal(sasl_set_nonce_for_test(c, "a b", &err), MP_ERR_INTERNAL);
	assert_int_equal(sasl_set_nonce_for_test(p, "abc", &err), MP_ERR_INTERNAL);
	assert_int_equal(sasl_initial(c, &ir, &err), MP_OK);
	assert_int_equal(sasl_set_nonce_for_test(c, "abc", &err), MP_ERR_INTERNAL);
	sasl_response_free(ir);
	sasl_free(c);
	sasl_free(p);
}

/* ---- OAuth ---- */

static void test_xoauth2(void **state)
{
	/* Google's XOAUTH2 documentation example. */
	struct sasl_creds cr = {.user = "someuser@example.com",
	                        .token = "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"};
	struct sasl_client *c = new_ok(SASL_XOAUTH2, &cr);
	struct mp_error err;
	char *ir = NULL;

	assert_int_equal(sasl_initial(c, &ir, &err), MP_OK);
	assert_string_equal(ir, "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRm"
	                        "dDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==");
	assert_true(sasl_done(c));
	assert_int_equal(sasl_finish(c, NULL, &err), MP_OK);
	sasl_response_free(ir);
	sasl_free(c);
}

static void test_xoauth2_error_challenge(void **state)
{
	struct sasl_creds cr = {.user = "u@example.com", .token = SECRET_TOKEN};
	struct sasl_client *c = new_ok(SASL_XOAUTH2, &cr);
	struct mp_error err;
	char *ir = step_ok(c, ""); /* no SASL-IR: initial response on "334 " */
	static const char want[] = "user=u@example.com\001auth=Bearer " SECRET_TOKEN "\001\001";
	char *resp = NULL;

	assert_resp_bytes(ir, want, sizeof(want) - 1);
	resp = step_ok(c, "{\"status\":\"400\",\"schemes\":\"Bearer\","
	                  "\"scope\":\"https://mail.google.com/\"}");
	assert_string_equal(resp, "");
	assert_true(sasl_failed(c));
	assert_string_equal(
	    sasl_server_error(c),
	    "status \"400\", schemes \"Bearer\", scope \"https://mail.google.com/\"");
	assert_int_equal(sasl_finish(c, NULL, &err), MP_ERR_PROTOCOL);
	assert_no_secret(err.msg);
	sasl_response_free(ir);
	sasl_response_free(resp);
	sasl_free(c);
}

static void test_oauth_error_not_json(void **state)
{
	struct sasl_creds cr = {.user = "u", .token = SECRET_TOKEN};
	struct sasl_client *c = new_ok(SASL_XOAUTH2, &cr);
	struct mp_error err;
	char *ir = NULL, *resp = NULL;

	assert_int_equal(sasl_initial(c, &ir, &err), MP_OK);
	resp = step_ok(c, "bad token \"" SECRET_TOKEN "\"\x01");
	assert_string_equal(resp, "");
	/* The server echoed the token: withheld. */
	assert_no_secret(sasl_server_error(c));
	assert_non_null(strstr(sasl_server_error(c), "withheld"));
	sasl_response_free(resp);
	sasl_response_free(ir);
	sasl_free(c);

	c = new_ok(SASL_XOAUTH2, &cr);
	assert_int_equal(sasl_initial(c, &ir, &err), MP_OK);
	resp = step_ok(c, "{\"status\":401,\"x\":[1,2]}");
	assert_string_equal(sasl_server_error(c), "status \"401\"");
	sasl_response_free(resp);
	sasl_response_free(ir);
	sasl_free(c);

	c = new_ok(SASL_XOAUTH2, &cr);
	assert_int_equal(sasl_initial(c, &ir, &err), MP_OK);
	resp = step_ok(c, "nope\n");
	assert_string_equal(sasl_server_error(c), "\"nope\\x0a\"");
	sasl_response_free(resp);
	sasl_response_free(ir);
	sasl_free(c);

	c = new_ok(SASL_XOAUTH2, &cr);
	assert_int_equal(sasl_initial(c, &ir, &err), MP_OK);
	step_raw_bad(c, "{\"status\":\"400\"}", "error challenge is not valid base64");
	sasl_response_free(ir);
	sasl_free(c);
}

static void test_oauthbearer_rfc7628(void **state)
{
	/* RFC 7628 section 4.1 (message) and 4.3 (failure). */
	struct sasl_creds cr = {.user = "user@example.com",
	                        .token = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
	                        .host = "server.example.com",
	                        .port = 143};
	struct sasl_client *c = new_ok(SASL_OAUTHBEARER, &cr);
	struct mp_error err;
	char *ir = NULL, *resp = NULL;

	assert_int_equal(sasl_initial(c, &ir, &err), MP_OK);
	assert_string_equal(ir, "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBv"
	                        "cnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1s"
	                        "emRHRXVZMjl0Q2c9PQEB");
	assert_int_equal(
	    sasl_step(c,
	              "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwi"
	              "b3BlbmlkLWNvbmZpZ3VyYXRpb24iOiJodHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtu"
	              "b3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0=",
	              &resp, &err),
	    MP_OK);
	/* RFC 7628 section 3.2.3: the client answers with a single %x01. */
	assert_string_equal(resp, "AQ==");
	assert_string_equal(sasl_server_error(c),
	                    "status \"invalid_token\", scope \"example_scope\"");
	sasl_response_free(ir);
	sasl_response_free(resp);
	sasl_free(c);
}

static void test_oauthbearer_minimal(void **state)
{
	/* No user, host or port: "n,," and only auth=. */
	struct sasl_creds cr = {.token = SECRET_TOKEN};
	struct sasl_client *c = new_ok(SASL_OAUTHBEARER, &cr);
	struct mp_error err;
	static const char want[] = "n,,\001auth=Bearer " SECRET_TOKEN "\001\001";
	char *ir = NULL;

	assert_int_equal(sasl_initial(c, &ir, &err), MP_OK);
	assert_resp_bytes(ir, want, sizeof(want) - 1);
	sasl_response_free(ir);
	sasl_free(c);
}

/* ---- APOP ---- */

static void test_apop_rfc1939(void **state)
{
	char out[33];
	char ts[MP_MAX_APOP_TIMESTAMP + 1];
	static const char greet[] = "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>";

	assert_int_equal(apop_timestamp(greet, strlen(greet), ts, sizeof(ts)), 0);
	assert_string_equal(ts, "<1896.697170952@dbc.mtview.ca.us>");
	assert_int_equal(apop_digest(ts, "tanstaaf", out), 0);
	assert_string_equal(out, "c4c9334bac560ecc979e58001b3e22fb");
	/* A different password gives a different digest. */
	assert_int_equal(apop_digest(ts, "tanstaag", out), 0);
	assert_string_not_equal(out, "c4c9334bac560ecc979e58001b3e22fb");
}

static void test_apop_timestamp_hostile(void **state)
{
	char ts[64];
	static const char *const none[] = {
	    "+OK POP3 ready",
	    "+OK <no-at-sign> ready",
	    "+OK <1896.697@dbc unterminated",
	    "+OK <a b@c>",
	    "+OK <@>x",
	    "+OK <a@\x01x>",
	};
	static const char two[] = "+OK <server> ready <1.2@host>";
	size_t i;
	char *big = NULL;

	for (i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		if (apop_timestamp(none[i], strlen(none[i]), ts, sizeof(ts)) == 0)
			fail_msg("found a timestamp \"%s\" in \"%s\"", ts, none[i]);
	}
	assert_int_equal(apop_timestamp(two, strlen(two), ts, sizeof(ts)), 0);
	assert_string_equal(ts, "<1.2@host>");
	/* Length is bounded by len, not by a NUL. */
	assert_int_equal(apop_timestamp(two, 12, ts, sizeof(ts)), -1);
	/* Too long for out, or over the limit. */
	assert_int_equal(apop_timestamp(two, strlen(two), ts, 10), -1);
	big = malloc(MP_MAX_APOP_TIMESTAMP + 16);
	assert_non_null(big);
	memset(big, 'a', MP_MAX_APOP_TIMESTAMP + 15);
	big[0] = '<';
	big[5] = '@';
	big[MP_MAX_APOP_TIMESTAMP + 14] = '>';
	big[MP_MAX_APOP_TIMESTAMP + 15] = '\0';
	{
		char *out = malloc(2 * MP_MAX_APOP_TIMESTAMP);

		assert_non_null(out);
		assert_int_equal(apop_timestamp(big, strlen(big), out, 2 * MP_MAX_APOP_TIMESTAMP),
		                 -1);
		free(out);
	}
	free(big);
}

/* ---- redaction ---- */

static void test_redact_line(void **state)
{
	char out[64];

	sasl_redact_line("AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=", 2, out, sizeof(out));
	assert_string_equal(out, "AUTH PLAIN [redacted]");
	sasl_redact_line("A3 AUTHENTICATE PLAIN dGVzdAB0ZXN0ADEyMzQ=", 3, out, sizeof(out));
	assert_string_equal(out, "A3 AUTHENTICATE PLAIN [redacted]");
	sasl_redact_line("dGVzdAB0ZXN0ADEyMzQ=", 0, out, sizeof(out));
	assert_string_equal(out, "[redacted]");
	sasl_redact_line("PASS " SECRET_PASS, 1, out, sizeof(out));
	assert_string_equal(out, "PASS [redacted]");
	sasl_redact_line("AUTH LOGIN", 2, out, sizeof(out));
	assert_string_equal(out, "AUTH LOGIN");
	sasl_redact_line("A1 AUTHENTICATE PLAIN =", 3, out, sizeof(out));
	assert_string_equal(out, "A1 AUTHENTICATE PLAIN =");
	sasl_redact_line("*", 0, out, sizeof(out));
	assert_string_equal(out, "*");
	sasl_redact_line("", 0, out, sizeof(out));
	assert_string_equal(out, "");
	sasl_redact_line("A1 LOGIN alice " SECRET_PASS, 2, out, sizeof(out));
	assert_string_equal(out, "A1 LOGIN [redacted]");
	/* Cut, never overflowing, still without the secret. */
	sasl_redact_line("PASS " SECRET_PASS, 1, out, 8);
	assert_string_equal(out, "PASS [r");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base64_rfc4648_vectors),
	    cmocka_unit_test(test_base64_strict),
	    cmocka_unit_test(test_mech_names),
	    cmocka_unit_test(test_mech_usable),
	    cmocka_unit_test(test_creds_rejected),
	    cmocka_unit_test(test_creds_length_limit),
	    cmocka_unit_test(test_plain_rfc4954_example),
	    cmocka_unit_test(test_plain_without_initial_response),
	    cmocka_unit_test(test_plain_utf8_passes_through),
	    cmocka_unit_test(test_initial_twice),
	    cmocka_unit_test(test_login),
	    cmocka_unit_test(test_login_tolerates_any_challenge_text),
	    cmocka_unit_test(test_login_success_without_password),
	    cmocka_unit_test(test_cram_md5_rfc2195),
	    cmocka_unit_test(test_cram_md5_hostile),
	    cmocka_unit_test(test_scram_sha1_rfc5802),
	    cmocka_unit_test(test_scram_sha256_rfc7677),
	    cmocka_unit_test(test_scram_hostile_server_first),
	    cmocka_unit_test(test_scram_iteration_limit_is_inclusive),
	    cmocka_unit_test(test_scram_hostile_encoding),
	    cmocka_unit_test(test_scram_echoed_password_is_withheld),
	    cmocka_unit_test(test_scram_wrong_server_signature),
	    cmocka_unit_test(test_scram_final_malformed),
	    cmocka_unit_test(test_scram_server_error),
	    cmocka_unit_test(test_scram_success_without_proof),
	    cmocka_unit_test(test_scram_after_complete),
	    cmocka_unit_test(test_scram_random_nonce_and_escaping),
	    cmocka_unit_test(test_scram_nonce_seam_checks),
	    cmocka_unit_test(test_xoauth2),
	    cmocka_unit_test(test_xoauth2_error_challenge),
	    cmocka_unit_test(test_oauth_error_not_json),
	    cmocka_unit_test(test_oauthbearer_rfc7628),
	    cmocka_unit_test(test_oauthbearer_minimal),
	    cmocka_unit_test(test_apop_rfc1939),
	    cmocka_unit_test(test_apop_timestamp_hostile),
	    cmocka_unit_test(test_redact_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
