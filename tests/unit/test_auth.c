/* Unit tests: logins (probe/auth.c) through each dialect's authenticate step
 * against scripted servers (in-memory streams): the exact bytes sent, the
 * verdicts, the RFC test vectors (RFC 4616 PLAIN, RFC 2195 CRAM-MD5, RFC 5802
 * SCRAM-SHA-1, RFC 7677 SCRAM-SHA-256, RFC 1939 APOP), the rules for sending
 * credentials, the plan per endpoint, redaction, the command line and the
 * JSON report. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/deadline.h"
#include "core/stream.h"
#include "probe/dialects/auth.h"
#include "probe/app/cli.h"
#include "probe/dialects/dialect.h"
#include "reports/report.h"

/* RFC 4616 section 4 / RFC 2195 section 2 credentials. */
#define TIM_USER "tim"
#define TIM_PASS "tanstaaftanstaaf"
/* base64("\0tim\0tanstaaftanstaaf") */
#define TIM_PLAIN_B64 "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"
/* An RFC 6750 bearer token. */
#define TOKEN "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"

/* One scripted login: endpoint, config, result, session and its outcome. */
struct fx {
	struct endpoint ep;
	struct probe_config cfg;
	struct auth_config ac;
	struct probe_result res;
	struct session s;
	struct stream *m; /* the scripted server (owned by the session) */
	struct auth_result ar;
};

/* A ready session for protocol p; tls says whether it runs over a verified
 * TLS connection (the scripted stream stands in for it). */
static struct fx *fx_new(enum protocol p, bool tls)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->ep.proto = p;
	f->ep.mode = tls ? MODE_TLS : MODE_PLAIN;
	snprintf(f->ep.host, sizeof(f->ep.host), "mail.example.org");
	f->ep.port = p == PROTO_SMTP ? 465 : p == PROTO_IMAP ? 993 : 995;
	f->cfg.connect_timeout_ms = 2000;
	f->cfg.greeting_timeout_ms = 2000;
	f->cfg.command_timeout_ms = 2000;
	f->cfg.tls_timeout_ms = 2000;
	f->cfg.ehlo_name = "probe.example";
	f->cfg.transcript = true;
	f->cfg.auth = &f->ac;
	f->ac.user = TIM_USER;
	f->ac.password = TIM_PASS;
	result_init(&f->res, &f->ep);
	f->res.tls_used = tls;
	f->res.tls.done = tls;
	f->res.tls.verified = tls;
	f->res.tls.hostname_matched = tls;
	f->m = stream_mem_new(4096);
	assert_non_null(f->m);
	session_init(&f->s, &f->ep, &f->cfg, &f->res, f->m, deadline_in(2000));
	f->s.tls_active = tls;
	f->ar.time_ms = -1;
	return f;
}

static void fx_free(struct fx *f)
{
	session_close(&f->s);
	result_free(&f->res);
	free(f);
}

/* Runs auth_attempt() with method m. */
static void attempt(struct fx *f, enum auth_method m)
{
	f->ar.method = m;
	f->ar.mechanism = auth_method_name(m);
	auth_attempt(&f->s, &f->ac, &f->ar);
}

/* Asserts the login's status, showing detail and reply when it differs. */
static void check_auth(struct fx *f, enum auth_status want)
{
	if (f->ar.status != want) {
		print_error("status %s (detail \"%s\", reply \"%s\"), expected %s\n",
		            auth_status_name(f->ar.status), f->ar.detail, f->ar.reply,
		            auth_status_name(want));
		fail();
	}
}

/* Asserts that the client wrote exactly want. */
static void check_written(struct fx *f, const char *want)
{
	const char *got = stream_mem_written(f->m, NULL);

	if (strcmp(got, want) != 0) {
		print_error("client wrote:\n%s\nexpected:\n%s\n", got, want);
		fail();
	}
}

/* True when some transcript entry contains needle. */
static bool transcript_has(const struct transcript *t, const char *needle)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->e[i].text && strstr(t->e[i].text, needle))
			return true;
	return false;
}

static void check_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle)) {
		print_error("\"%s\" lacks \"%s\"\n", hay, needle);
		fail();
	}
}

/* ---- SMTP AUTH (RFC 4954) ---- */

static void test_smtp_plain_initial_response(void **state)
{
	struct fx *f = fx_new(PROTO_SMTP, true);

	(void)state;
	stream_mem_add_str(f->m, 1, "235 2.7.0 Authentication successful\r\n");
	attempt(f, AUTH_PLAIN);
	check_auth(f, AUTH_ST_OK);
	check_written(f, "AUTH PLAIN " TIM_PLAIN_B64 "\r\n");
	assert_string_equal(f->ar.reply, "235 2.7.0 Authentication successful");
	assert_true(f->ar.time_ms >= 0);
	/* recorded redacted at the point it was sent */
	assert_true(transcript_has(&f->res.transcript, "AUTH PLAIN [redacted]"));
	assert_false(transcript_has(&f->res.transcript, TIM_PLAIN_B64));
	fx_free(f);
}

static void test_smtp_login_challenges(void **state)
{
	struct fx *f = fx_new(PROTO_SMTP, true);

	(void)state;
	stream_mem_add_str(f->m, 1, "334 VXNlcm5hbWU6\r\n");
	stream_mem_add_str(f->m, 2, "334 UGFzc3dvcmQ6\r\n");
	stream_mem_add_str(f->m, 3, "235 2.7.0 Authentication successful\r\n");
	attempt(f, AUTH_LOGIN);
	check_auth(f, AUTH_ST_OK);
	/* "tim", "tanstaaftanstaaf" */
	check_written(f, "AUTH LOGIN\r\ndGlt\r\ndGFuc3RhYWZ0YW5zdGFhZg==\r\n");
	assert_false(transcript_has(&f->res.transcript, "dGFuc3RhYWZ0YW5zdGFhZg=="));
	assert_true(transcript_has(&f->res.transcript, "[redacted]"));
	fx_free(f);
}

/* RFC 2195 section 2: the published challenge and response. */
static void test_smtp_cram_md5_rfc2195(void **state)
{
	struct fx *f = fx_new(PROTO_SMTP, true);

	(void)state;
	stream_mem_add_str(f->m, 1,
	                   "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n");
	stream_mem_add_str(f->m, 2, "235 2.7.0 Authentication successful\r\n");
	attempt(f, AUTH_CRAM_MD5);
	check_auth(f, AUTH_ST_OK);
	check_written(f, "AUTH CRAM-MD5\r\ndGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n");
	fx_free(f);
}

static void test_smtp_rejected(void **state)
{
	struct fx *f = fx_new(PROTO_SMTP, true);

	(void)state;
	stream_mem_add_str(f->m, 1, "535 5.7.8 Error: authentication failed\r\n");
	attempt(f, AUTH_PLAIN);
	check_auth(f, AUTH_ST_REJECTED);
	assert_string_equal(f->ar.reply, "535 5.7.8 Error: authentication failed");
	fx_free(f);
}

static void test_smtp_temporary_failure(void **state)
{
	struct fx *f = fx_new(PROTO_SMTP, true);

	(void)state;
	stream_mem_add_str(f->m, 1, "454 4.7.0 Temporary authentication failure\r\n");
	attempt(f, AUTH_PLAIN);
	check_auth(f, AUTH_ST_ERROR);
	assert_string_equal(f->ar.reply, "454 4.7.0 Temporary authentication failure");
	check_contains(f->ar.detail, "temporarily");
	fx_free(f);
}

static void test_smtp_silent_server(void **state)
{
	struct fx *f = fx_new(PROTO_SMTP, true);

	(void)state;
	attempt(f, AUTH_PLAIN);
	check_auth(f, AUTH_ST_ERROR);
	check_contains(f->ar.detail, "timeout");
	assert_string_equal(f->ar.reply, "");
	fx_free(f);
}

/* The SCRAM vectors need a fixed client nonce: authenticate is called
 * directly with the test seam. */
static enum mp_status scram_run(struct fx *f, enum auth_method m, const char *nonce,
                                struct auth_outcome *out)
{
	struct auth_request req = {.method = m, .cfg = &f->ac, .scram_nonce = nonce};

	return dialect_for(f->ep.proto)->authenticate(&f->s, &req, out);
}

/* RFC 5802 section 5: user "user", password "pencil". */
static void test_smtp_scram_sha1_rfc5802(void **state)
{
	struct fx *f = fx_new(PROTO_SMTP, true);
	struct auth_outcome out;

	(void)state;
	f->ac.user = "user";
	f->ac.password = "pencil";
	stream_mem_add_str(f->m, 1,
	                   "334 cj1meWtvK2QybGJiRmdPTlJ2OXFreGRhd0wzcmZjTkhZSlkxWlZ2V1ZzN2os"
	                   "cz1RU1hDUitRNnNlazhiZjkyLGk9NDA5Ng==\r\n");
	stream_mem_add_str(f->m, 2, "334 dj1ybUY5cHFWOFM3c3VBb1pXamE0ZEpSa0ZzS1E9\r\n");
	stream_mem_add_str(f->m, 3, "235 2.7.0 Authentication successful\r\n");
	assert_int_equal(scram_run(f, AUTH_SCRAM_SHA_1, "fyko+d2lbbFgONRv9qkxdawL", &out), MP_OK);
	assert_int_equal(out.verdict, AUTH_V_OK);
	check_contains(out.detail, "server signature verified");
	check_written(f, "AUTH SCRAM-SHA-1 biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdM\r\n"
	                 "Yz1iaXdzLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdMM3JmY05IWUpZMVpWdldWczdqLHA9"
	                 "djBYOHYzQnoyVDBDSkdiSlF5RjBYK0hJNFRzPQ==\r\n"
	                 "\r\n");
	assert_false(transcript_has(&f->res.transcript, "djBYOHYzQnoyVDBD"));
	fx_free(f);
}

/* A server whose signature is wrong does not know the password (or is in
 * the middle): the exchange is cancelled with "*" and reported. */
static void test_smtp_scram_wrong_signature(void **state)
{
	struct fx *f = fx_new(PROTO_SMTP, true);
	struct auth_outcome out;

	(void)state;
	f->ac.user = "user";
	f->ac.password = "pencil";
	stream_mem_add_str(f->m, 1,
	                   "334 cj1meWtvK2QybGJiRmdPTlJ2OXFreGRhd0wzcmZjTkhZSlkxWlZ2V1ZzN2os"
	                   "cz1RU1hDUitRNnNlazhiZjkyLGk9NDA5Ng==\r\n");
	stream_mem_add_str(f->m, 2, "334 dj1BQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE9\r\n");
	stream_mem_add_str(f->m, 3, "501 5.7.0 Authentication aborted\r\n");
	assert_int_equal(scram_run(f, AUTH_SCRAM_SHA_1, "fyko+d2lbbFgONRv9qkxdawL", &out),
	                 MP_ERR_PROTOCOL);
	check_contains(f->s.err.msg, "server signature does not verify");
	assert_string_equal(out.reply, "501 5.7.0 Authentication aborted");
	check_contains(stream_mem_written(f->m, NULL), "\r\n*\r\n");
	fx_free(f);
}

/* Success without the server's proof (no v=) is not a verified login. */
static void test_smtp_scram_missing_signature(void **state)
{
	struct fx *f = fx_new(PROTO_SMTP, true);
	struct auth_outcome out;

	(void)state;
	f->ac.user = "user";
	f->ac.password = "pencil";
	stream_mem_add_str(f->m, 1,
	                   "334 cj1meWtvK2QybGJiRmdPTlJ2OXFreGRhd0wzcmZjTkhZSlkxWlZ2V1ZzN2os"
	                   "cz1RU1hDUitRNnNlazhiZjkyLGk9NDA5Ng==\r\n");
	stream_mem_add_str(f->m, 2, "235 2.7.0 Authentication successful\r\n");
	assert_int_equal(scram_run(f, AUTH_SCRAM_SHA_1, "fyko+d2lbbFgONRv9qkxdawL", &out),
	                 MP_ERR_PROTOCOL);
	check_contains(f->s.err.msg, "without its signature");
	fx_free(f);
}

/* A hostile iteration count (i=100000000) is refused before any work, the
 * exchange cancelled with "*" (RFC 5034 section 4), over POP3. */
static void test_pop3_scram_huge_iterations(void **state)
{
	struct fx *f = fx_new(PROTO_POP3, true);
	struct auth_outcome out;
	int64_t t0 = mono_ms();

	(void)state;
	f->ac.user = "user";
	f->ac.password = "pencil";
	stream_mem_add_str(f->m, 1,
	                   "+ cj1meWtvK2QybGJiRmdPTlJ2OXFreGRhd0wzcmZjTkhZSlkxWlZ2V1ZzN2oscz1RU1hD"
	                   "UitRNnNlazhiZjkyLGk9MTAwMDAwMDAw\r\n");
	stream_mem_add_str(f->m, 2, "-ERR [AUTH] Authentication cancelled\r\n");
	assert_int_equal(scram_run(f, AUTH_SCRAM_SHA_1, "fyko+d2lbbFgONRv9qkxdawL", &out),
	                 MP_ERR_PROTOCOL);
	check_contains(f->s.err.msg, "more than the limit");
	check_written(f, "AUTH SCRAM-SHA-1 biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdM\r\n"
	                 "*\r\n");
	assert_string_equal(out.reply, "-ERR [AUTH] Authentication cancelled");
	assert_true(mono_ms() - t0 < 1000);
	fx_free(f);
}

/* The same through auth_attempt: status error, the reason in detail. */
static void test_scram_bad_nonce_is_error(void **state)
{
	struct fx *f = fx_new(PROTO_SMTP, true);

	(void)state;
	/* r= does not extend our (random) nonce */
	stream_mem_add_str(f->m, 1,
	                   "334 cj1meWtvK2QybGJiRmdPTlJ2OXFreGRhd0wzcmZjTkhZSlkxWlZ2V1ZzN2os"
	                   "cz1RU1hDUitRNnNlazhiZjkyLGk9NDA5Ng==\r\n");
	stream_mem_add_str(f->m, 2, "501 5.7.0 Authentication aborted\r\n");
	attempt(f, AUTH_SCRAM_SHA_256);
	check_auth(f, AUTH_ST_ERROR);
	check_contains(f->ar.detail, "nonce");
	assert_string_equal(f->ar.reply, "501 5.7.0 Authentication aborted");
	fx_free(f);
}

/* ---- IMAP AUTHENTICATE (RFC 9051 6.2.2, SASL-IR RFC 4959) and LOGIN ---- */

/* RFC 7677 section 3: user "user", password "pencil", with SASL-IR. */
static void test_imap_scram_sha256_rfc7677(void **state)
{
	struct fx *f = fx_new(PROTO_IMAP, true);
	struct auth_outcome out;

	(void)state;
	f->ac.user = "user";
	f->ac.password = "pencil";
	strlist_add_str(&f->res.caps_after, "SASL-IR");
	stream_mem_add_str(f->m, 1,
	                   "+ cj1yT3ByTkdmd0ViZVJXZ2JORWtxTyVodllEcFdVYTJSYVRDQWZ1eEZJbGopaE5s"
	                   "RiRrMCxzPVcyMlphSjBTTlk3c29Fc1VFamI2Z1E9PSxpPTQwOTY=\r\n");
	stream_mem_add_str(
	    f->m, 2, "+ dj02cnJpVFJCaTIzV3BSUi93dHVwK21NaFVaVW4vZEI1bkxUSlJzamw5NUc0PQ==\r\n");
	stream_mem_add_str(f->m, 3, "* CAPABILITY IMAP4rev1 IDLE\r\na1 OK Logged in\r\n");
	assert_int_equal(scram_run(f, AUTH_SCRAM_SHA_256, "rOprNGfwEbeRWgbNEkqO", &out), MP_OK);
	assert_int_equal(out.verdict, AUTH_V_OK);
	assert_string_equal(out.reply, "OK Logged in");
	check_written(
	    f, "a1 AUTHENTICATE SCRAM-SHA-256 biwsbj11c2VyLHI9ck9wck5HZndFYmVSV2diTkVrcU8=\r\n"
	       "Yz1iaXdzLHI9ck9wck5HZndFYmVSV2diTkVrcU8laHZZRHBXVWEyUmFUQ0FmdXhGSWxqKWhO"
	       "bEYkazAscD1kSHpiWmFwV0lrNGpVaE4rVXRlOXl0YWc5empmTUhnc3FtbWl6N0FuZFZRPQ==\r\n"
	       "\r\n");
	assert_true(transcript_has(&f->res.transcript, "a1 AUTHENTICATE SCRAM-SHA-256 [redacted"));
	fx_free(f);
}

/* Without SASL-IR the initial response waits for the empty "+". */
static void test_imap_plain_without_sasl_ir(void **state)
{
	struct fx *f = fx_new(PROTO_IMAP, true);

	(void)state;
	stream_mem_add_str(f->m, 1, "+ \r\n");
	stream_mem_add_str(f->m, 2, "a1 OK Logged in\r\n");
	attempt(f, AUTH_PLAIN);
	check_auth(f, AUTH_ST_OK);
	check_written(f, "a1 AUTHENTICATE PLAIN\r\n" TIM_PLAIN_B64 "\r\n");
	fx_free(f);
}

static void test_imap_rejected_and_bad(void **state)
{
	struct fx *f = fx_new(PROTO_IMAP, true);

	(void)state;
	strlist_add_str(&f->res.caps_after, "SASL-IR");
	stream_mem_add_str(f->m, 1, "a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
	attempt(f, AUTH_PLAIN);
	check_auth(f, AUTH_ST_REJECTED);
	assert_string_equal(f->ar.reply, "NO [AUTHENTICATIONFAILED] Authentication failed.");
	fx_free(f);

	f = fx_new(PROTO_IMAP, true);
	stream_mem_add_str(f->m, 1, "a1 BAD Unsupported authentication mechanism.\r\n");
	attempt(f, AUTH_CRAM_MD5);
	check_auth(f, AUTH_ST_ERROR);
	assert_string_equal(f->ar.reply, "BAD Unsupported authentication mechanism.");
	fx_free(f);
}

/* XOAUTH2: the exact bytes; an error challenge (JSON) is answered with an
 * empty response, and what the server said is reported. */
static void test_imap_xoauth2_error(void **state)
{
	struct fx *f = fx_new(PROTO_IMAP, true);

	(void)state;
	f->ac.user = "alice";
	f->ac.password = NULL;
	f->ac.token = TOKEN;
	strlist_add_str(&f->res.caps_after, "SASL-IR");
	stream_mem_add_str(f->m, 1,
	                   "+ eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJodHRw"
	                   "czovL21haWwuZ29vZ2xlLmNvbS8ifQ==\r\n");
	stream_mem_add_str(f->m, 2, "a1 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n");
	attempt(f, AUTH_XOAUTH2);
	check_auth(f, AUTH_ST_REJECTED);
	check_written(f,
	              "a1 AUTHENTICATE XOAUTH2 dXNlcj1hbGljZQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRj"
	              "Mk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==\r\n\r\n");
	check_contains(f->ar.detail, "status \"401\"");
	assert_false(transcript_has(&f->res.transcript, TOKEN));
	assert_false(transcript_has(&f->res.transcript, "dXNlcj1hbGljZQFhdXRo"));
	fx_free(f);
}

/* OAUTHBEARER (RFC 7628 section 3.1): gs2 header with the user, host and
 * port of the endpoint, the token. */
static void test_imap_oauthbearer_bytes(void **state)
{
	struct fx *f = fx_new(PROTO_IMAP, true);

	(void)state;
	f->ac.user = "alice";
	f->ac.token = TOKEN;
	strlist_add_str(&f->res.caps_after, "SASL-IR");
	stream_mem_add_str(f->m, 1, "a1 OK Logged in\r\n");
	attempt(f, AUTH_OAUTHBEARER);
	check_auth(f, AUTH_ST_OK);
	check_written(f,
	              "a1 AUTHENTICATE OAUTHBEARER bixhPWFsaWNlLAFob3N0PW1haWwuZXhhbXBsZS5vcmcBcG9y"
	              "dD05OTMBYXV0aD1CZWFyZXIgeWEyOS52RjlkZnQ0cW1UYzJOdmIzUmxja0JoZEhSaGRtbHpk"
	              "R0V1WTI5dENnAQE=\r\n");
	fx_free(f);
}

/* RFC 9051 4.3: printable ASCII goes as a quoted string, '"' and '\' escaped. */
static void test_imap_login_quoted(void **state)
{
	struct fx *f = fx_new(PROTO_IMAP, true);

	(void)state;
	f->ac.password = "pa\"ss\\word";
	stream_mem_add_str(f->m, 1, "a1 OK [CAPABILITY IMAP4rev1] Logged in\r\n");
	attempt(f, AUTH_IMAP_LOGIN);
	check_auth(f, AUTH_ST_OK);
	check_written(f, "a1 LOGIN \"tim\" \"pa\\\"ss\\\\word\"\r\n");
	assert_true(transcript_has(&f->res.transcript, "a1 LOGIN [redacted"));
	assert_false(transcript_has(&f->res.transcript, "word"));
	fx_free(f);
}

/* Other bytes go as a synchronizing literal, sent after the server's "+". */
static void test_imap_login_literal(void **state)
{
	struct fx *f = fx_new(PROTO_IMAP, true);

	(void)state;
	f->ac.password = "p\xc3\xa4sswort"; /* "pässwort" */
	stream_mem_add_str(f->m, 1, "+ Ready for literal data\r\n");
	stream_mem_add_str(f->m, 2, "a1 OK Logged in\r\n");
	attempt(f, AUTH_IMAP_LOGIN);
	check_auth(f, AUTH_ST_OK);
	check_written(f, "a1 LOGIN \"tim\" {9}\r\np\xc3\xa4sswort\r\n");
	assert_true(transcript_has(&f->res.transcript, "[redacted]"));
	assert_false(transcript_has(&f->res.transcript, "sswort"));
	fx_free(f);

	/* A refused literal: the password is never sent. */
	f = fx_new(PROTO_IMAP, true);
	f->ac.password = "p\xc3\xa4sswort";
	stream_mem_add_str(f->m, 1, "a1 NO Literal refused\r\n");
	attempt(f, AUTH_IMAP_LOGIN);
	check_auth(f, AUTH_ST_REJECTED);
	check_written(f, "a1 LOGIN \"tim\" {9}\r\n");
	fx_free(f);
}

/* ---- POP3: AUTH (RFC 5034), USER/PASS, APOP (RFC 1939) ---- */

static void test_pop3_user_pass(void **state)
{
	struct fx *f = fx_new(PROTO_POP3, true);

	(void)state;
	stream_mem_add_str(f->m, 1, "+OK\r\n");
	stream_mem_add_str(f->m, 2, "+OK Logged in.\r\n");
	attempt(f, AUTH_POP3_USER);
	check_auth(f, AUTH_ST_OK);
	check_written(f, "USER tim\r\nPASS " TIM_PASS "\r\n");
	assert_string_equal(f->ar.reply, "+OK Logged in.");
	assert_true(transcript_has(&f->res.transcript, "PASS [redacted]"));
	/* redacted without its length: the length is a secret too */
	assert_false(transcript_has(&f->res.transcript, " bytes]"));
	assert_false(transcript_has(&f->res.transcript, TIM_PASS));
	fx_free(f);

	f = fx_new(PROTO_POP3, true);
	stream_mem_add_str(f->m, 1, "+OK\r\n");
	stream_mem_add_str(f->m, 2, "-ERR [AUTH] Authentication failed.\r\n");
	attempt(f, AUTH_POP3_USER);
	check_auth(f, AUTH_ST_REJECTED);
	assert_string_equal(f->ar.reply, "-ERR [AUTH] Authentication failed.");
	fx_free(f);
}

/* RFC 1939 section 7: the published example digest. */
static void test_pop3_apop_rfc1939(void **state)
{
	struct fx *f = fx_new(PROTO_POP3, true);

	(void)state;
	f->ac.user = "mrose";
	f->ac.password = "tanstaaf";
	f->res.apop_timestamp = strdup("<1896.697170952@dbc.mtview.ca.us>");
	stream_mem_add_str(f->m, 1, "+OK maildrop has 1 message (369 octets)\r\n");
	attempt(f, AUTH_POP3_APOP);
	check_auth(f, AUTH_ST_OK);
	check_written(f, "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n");
	assert_true(transcript_has(&f->res.transcript, "APOP mrose [redacted]"));
	assert_false(transcript_has(&f->res.transcript, "c4c9334b"));
	fx_free(f);
}

static void test_pop3_auth_plain(void **state)
{
	struct fx *f = fx_new(PROTO_POP3, true);

	(void)state;
	stream_mem_add_str(f->m, 1, "+OK Logged in.\r\n");
	attempt(f, AUTH_PLAIN);
	check_auth(f, AUTH_ST_OK);
	check_written(f, "AUTH PLAIN " TIM_PLAIN_B64 "\r\n");
	fx_free(f);
}

/* RFC 5034 section 4: a command past 255 octets sends AUTH alone and the
 * initial response after the empty "+ ". */
static void test_pop3_long_initial_response(void **state)
{
	struct fx *f = fx_new(PROTO_POP3, true);
	char token[301];
	const char *w = NULL;

	(void)state;
	memset(token, 'a', sizeof(token) - 1);
	token[sizeof(token) - 1] = '\0';
	f->ac.token = token;
	stream_mem_add_str(f->m, 1, "+ \r\n");
	stream_mem_add_str(f->m, 2, "+OK Logged in.\r\n");
	attempt(f, AUTH_XOAUTH2);
	check_auth(f, AUTH_ST_OK);
	w = stream_mem_written(f->m, NULL);
	assert_memory_equal(w, "AUTH XOAUTH2\r\ndXNlcj10aW0BYXV0aD1CZWFyZXIg", 42);
	assert_int_equal(stream_mem_writes(f->m), 2);
	fx_free(f);
}

static void test_pop3_garbage_answer(void **state)
{
	struct fx *f = fx_new(PROTO_POP3, true);

	(void)state;
	stream_mem_add_str(f->m, 1, "HELLO?\r\n");
	attempt(f, AUTH_PLAIN);
	check_auth(f, AUTH_ST_ERROR);
	check_contains(f->ar.detail, "protocol_error");
	fx_free(f);
}

/* ---- The rules for sending credentials ---- */

static void test_rules_plaintext(void **state)
{
	struct fx *f = fx_new(PROTO_SMTP, false);

	(void)state;
	stream_mem_add_str(f->m, 1,
	                   "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n");
	stream_mem_add_str(f->m, 2, "235 2.7.0 Authentication successful\r\n");
	/* challenge-response too: the same rule */
	attempt(f, AUTH_CRAM_MD5);
	check_auth(f, AUTH_ST_SKIPPED);
	check_contains(f->ar.detail, "would send credentials in plaintext");
	assert_int_equal(stream_mem_writes(f->m), 0);
	assert_int_equal(f->ar.time_ms, -1);

	f->ac.allow_plaintext = true;
	attempt(f, AUTH_CRAM_MD5);
	check_auth(f, AUTH_ST_OK);
	fx_free(f);
}

static void test_rules_unverified_certificate(void **state)
{
	struct fx *f = fx_new(PROTO_IMAP, true);

	(void)state;
	f->res.tls.verified = false;
	snprintf(f->res.tls.verify_error, sizeof(f->res.tls.verify_error), "self-signed");
	stream_mem_add_str(f->m, 1, "+ \r\n");
	stream_mem_add_str(f->m, 2, "a1 OK Logged in\r\n");
	attempt(f, AUTH_PLAIN);
	check_auth(f, AUTH_ST_SKIPPED);
	check_contains(f->ar.detail, "certificate not verified (self-signed)");
	assert_int_equal(stream_mem_writes(f->m), 0);

	/* verified chain, wrong name: still not */
	f->res.tls.verified = true;
	f->res.tls.hostname_matched = false;
	attempt(f, AUTH_PLAIN);
	check_auth(f, AUTH_ST_SKIPPED);
	check_contains(f->ar.detail, "does not match");

	f->ac.insecure = true;
	attempt(f, AUTH_PLAIN);
	check_auth(f, AUTH_ST_OK);
	fx_free(f);
}

/* A server that echoes the password in its answer to QUIT, after the login:
 * auth_scrub() (which the engine calls after quit) removes it. */
static void test_quit_echo_scrubbed(void **state)
{
	struct fx *f = fx_new(PROTO_SMTP, true);

	(void)state;
	stream_mem_add_str(f->m, 1, "235 2.7.0 Authentication successful\r\n");
	stream_mem_add_str(f->m, 2, "221 bye " TIM_PASS "\r\n");
	attempt(f, AUTH_PLAIN);
	check_auth(f, AUTH_ST_OK);
	smtp_dialect.quit(&f->s);
	assert_true(transcript_has(&f->res.transcript, TIM_PASS));
	auth_scrub(&f->res.transcript, &f->ac);
	assert_false(transcript_has(&f->res.transcript, TIM_PASS));
	assert_true(transcript_has(&f->res.transcript, "[withheld: it contained a credential]"));
	fx_free(f);
}

/* A server that echoes a credential: the reply and the transcript line are
 * withheld. */
static void test_secret_echo_withheld(void **state)
{
	struct fx *f = fx_new(PROTO_SMTP, true);

	(void)state;
	stream_mem_add_str(f->m, 1, "535 5.7.8 wrong password " TIM_PASS "\r\n");
	attempt(f, AUTH_PLAIN);
	check_auth(f, AUTH_ST_REJECTED);
	assert_null(strstr(f->ar.reply, TIM_PASS));
	check_contains(f->ar.reply, "withheld");
	assert_false(transcript_has(&f->res.transcript, TIM_PASS));
	fx_free(f);

	/* echoing the initial response (base64 of the password) */
	f = fx_new(PROTO_SMTP, true);
	stream_mem_add_str(f->m, 1, "501 5.5.2 cannot decode " TIM_PLAIN_B64 "\r\n");
	attempt(f, AUTH_PLAIN);
	check_auth(f, AUTH_ST_REJECTED);
	assert_null(strstr(f->ar.reply, TIM_PLAIN_B64));
	assert_false(transcript_has(&f->res.transcript, TIM_PLAIN_B64));
	fx_free(f);
}

/* ---- The plan ---- */

/* A result as a successful probe of an IMAP server over verified TLS leaves it. */
static void plan_result(struct probe_result *r, enum protocol p, enum sec_mode mode,
                        const char *const *mechs)
{
	struct endpoint ep = {.proto = p, .mode = mode, .port = 993};

	snprintf(ep.host, sizeof(ep.host), "mail.example.org");
	result_init(r, &ep);
	r->tls_used = r->tls.done = mode != MODE_PLAIN;
	r->tls.verified = r->tls.hostname_matched = true;
	for (size_t i = 0; mechs[i]; i++)
		strlist_add_str(mode == MODE_PLAIN ? &r->auth_before : &r->auth_after, mechs[i]);
}

/* The entry for mechanism name, or fails. */
static const struct auth_result *entry(const struct probe_result *r, const char *name)
{
	for (size_t i = 0; i < r->nauth; i++)
		if (strcmp(r->auth_results[i].mechanism, name) == 0)
			return &r->auth_results[i];
	print_error("no auth result for %s\n", name);
	fail();
	return NULL;
}

static void test_plan_allowed_offered(void **state)
{
	static const char *const mechs[] = {
	    "PLAIN", "LOGIN", "GSSAPI", "XOAUTH2", "SCRAM-SHA-1-PLUS", NULL};
	struct auth_config ac = {.user = "alice", .password = "pw"};
	struct probe_result r;

	(void)state;
	ac.allowed = (1u << AUTH_PLAIN) | (1u << AUTH_CRAM_MD5);
	plan_result(&r, PROTO_IMAP, MODE_TLS, mechs);
	assert_int_equal(auth_plan(&ac, &r), 1);
	assert_true(r.auth_planned);
	assert_int_equal(r.nauth, 5); /* PLAIN LOGIN CRAM-MD5 XOAUTH2 IMAP-LOGIN */
	assert_true(entry(&r, "PLAIN")->attempt);
	assert_int_equal(entry(&r, "PLAIN")->status, AUTH_ST_ERROR); /* until attempted */
	assert_int_equal(entry(&r, "LOGIN")->status, AUTH_ST_SKIPPED);
	assert_string_equal(entry(&r, "LOGIN")->detail, "not in --allowed-auth");
	assert_int_equal(entry(&r, "CRAM-MD5")->status, AUTH_ST_NOT_OFFERED);
	assert_int_equal(entry(&r, "XOAUTH2")->status, AUTH_ST_SKIPPED);
	assert_int_equal(entry(&r, "IMAP-LOGIN")->status, AUTH_ST_SKIPPED);
	assert_int_equal(r.auth_unsupported.n, 2);
	assert_string_equal(r.auth_unsupported.v[0], "GSSAPI");
	assert_string_equal(r.auth_unsupported.v[1], "SCRAM-SHA-1-PLUS");
	result_free(&r);

	/* all allowed: the token is missing for XOAUTH2 */
	ac.allowed = 0;
	plan_result(&r, PROTO_IMAP, MODE_TLS, mechs);
	assert_int_equal(auth_plan(&ac, &r), 3); /* PLAIN LOGIN IMAP-LOGIN */
	assert_int_equal(entry(&r, "XOAUTH2")->status, AUTH_ST_SKIPPED);
	check_contains(entry(&r, "XOAUTH2")->detail, "no OAuth token");
	result_free(&r);

	/* a token only: the password methods are skipped */
	ac.password = NULL;
	ac.token = TOKEN;
	plan_result(&r, PROTO_IMAP, MODE_TLS, mechs);
	assert_int_equal(auth_plan(&ac, &r), 1);
	assert_true(entry(&r, "XOAUTH2")->attempt);
	assert_string_equal(entry(&r, "PLAIN")->detail, "no password given");
	result_free(&r);
}

static void test_plan_protocol_specifics(void **state)
{
	static const char *const none[] = {NULL};
	static const char *const pop[] = {"USER", "PLAIN", NULL};
	struct auth_config ac = {.user = "alice", .password = "pw"};
	struct probe_result r;

	(void)state;
	/* IMAP LOGINDISABLED: no IMAP-LOGIN */
	plan_result(&r, PROTO_IMAP, MODE_TLS, none);
	strlist_add_str(&r.caps_after, "LOGINDISABLED");
	assert_int_equal(auth_plan(&ac, &r), 0);
	assert_int_equal(r.nauth, 0);
	result_free(&r);

	/* PREAUTH: nothing to log in to */
	plan_result(&r, PROTO_IMAP, MODE_TLS, none);
	r.greeting = strdup("* PREAUTH [CAPABILITY IMAP4rev1] welcome");
	assert_int_equal(auth_plan(&ac, &r), 0);
	check_contains(entry(&r, "IMAP-LOGIN")->detail, "PREAUTH");
	result_free(&r);

	/* POP3: USER from CAPA, APOP from the greeting's timestamp; no IMAP-LOGIN */
	plan_result(&r, PROTO_POP3, MODE_TLS, pop);
	r.apop_timestamp = strdup("<1.2@host>");
	ac.allowed = 1u << AUTH_IMAP_LOGIN | 1u << AUTH_POP3_APOP | 1u << AUTH_POP3_USER;
	assert_int_equal(auth_plan(&ac, &r), 2);
	assert_int_equal(r.nauth, 3); /* PLAIN (skipped) USER APOP */
	assert_true(entry(&r, "USER")->attempt);
	assert_true(entry(&r, "APOP")->attempt);
	result_free(&r);

	/* SMTP: an advertised "USER" is no mechanism of SMTP */
	ac.allowed = 0;
	plan_result(&r, PROTO_SMTP, MODE_TLS, pop);
	assert_int_equal(auth_plan(&ac, &r), 1);
	assert_int_equal(r.auth_unsupported.n, 1);
	assert_string_equal(r.auth_unsupported.v[0], "USER");
	result_free(&r);

	/* plain mode: nothing is sent without the opt-in */
	plan_result(&r, PROTO_SMTP, MODE_PLAIN, pop);
	assert_int_equal(auth_plan(&ac, &r), 0);
	check_contains(entry(&r, "PLAIN")->detail, "would send credentials in plaintext");
	result_free(&r);
	ac.allow_plaintext = true;
	plan_result(&r, PROTO_SMTP, MODE_PLAIN, pop);
	assert_int_equal(auth_plan(&ac, &r), 1);
	result_free(&r);
}

/* ---- The command line ---- */

/* Runs cli_parse on a copy of args (writable, as argv is). */
static enum cli_result parse(struct run_options *opt, struct mp_error *err, char **copy, int argc,
                             const char *const *args)
{
	for (int i = 0; i < argc; i++) {
		copy[i] = strdup(args[i]);
		assert_non_null(copy[i]);
	}
	copy[argc] = NULL;
	return cli_parse(argc, copy, opt, err);
}

static void free_args(char **copy, int argc)
{
	for (int i = 0; i < argc; i++)
		free(copy[i]);
}

/* A temporary file holding text. */
static void temp_file(char *path, size_t pathsz, const char *text)
{
	int fd;

	snprintf(path, pathsz, "/tmp/mp-test-auth-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void test_cli_password_sources(void **state)
{
	struct run_options *opt = calloc(1, sizeof(*opt));
	struct mp_error err;
	char *argv[16];
	char path[64];
	enum cli_result rc;
	int devnull = open("/dev/null", O_RDONLY);

	(void)state;
	assert_non_null(opt);
	/* never prompt from a test */
	assert_true(devnull >= 0);
	assert_int_equal(dup2(devnull, STDIN_FILENO), STDIN_FILENO);
	close(devnull);
	unsetenv("MAILPROBE_PASSWORD");

	temp_file(path, sizeof(path), "s3cret word\r\nsecond line\n");
	rc = parse(
	    opt, &err, argv, 6,
	    (const char *const[]){"mailprobe", "--user", "alice", "--password-file", path, "h"});
	assert_int_equal(rc, CLI_RUN);
	assert_ptr_equal(opt->probe.auth, &opt->auth);
	assert_string_equal(opt->auth.user, "alice");
	assert_string_equal(opt->auth.password, "s3cret word");
	assert_null(opt->auth.token);
	assert_int_equal(opt->auth.allowed, 0);
	free_args(argv, 6);

	/* the environment */
	setenv("MAILPROBE_PASSWORD", "from-env", 1);
	rc = parse(opt, &err, argv, 4, (const char *const[]){"mailprobe", "--user", "bob", "h"});
	assert_int_equal(rc, CLI_RUN);
	assert_string_equal(opt->auth.password, "from-env");
	free_args(argv, 4);
	unsetenv("MAILPROBE_PASSWORD");

	/* --password: taken, and wiped from argv */
	rc = parse(
	    opt, &err, argv, 6,
	    (const char *const[]){"mailprobe", "--user", "bob", "--password", "visible", "h"});
	assert_int_equal(rc, CLI_RUN);
	assert_string_equal(opt->auth.password, "visible");
	assert_int_equal(argv[4][0], '\0');
	free_args(argv, 6);

	/* nothing given and no terminal */
	rc = parse(opt, &err, argv, 4, (const char *const[]){"mailprobe", "--user", "bob", "h"});
	assert_int_equal(rc, CLI_USAGE_ERROR);
	check_contains(err.msg, "--password-file");
	free_args(argv, 4);

	/* a token file is enough */
	rc = parse(
	    opt, &err, argv, 6,
	    (const char *const[]){"mailprobe", "--user", "bob", "--oauth-token-file", path, "h"});
	assert_int_equal(rc, CLI_RUN);
	assert_string_equal(opt->auth.token, "s3cret word");
	assert_null(opt->auth.password);
	free_args(argv, 6);
	unlink(path);

	/* an empty file */
	temp_file(path, sizeof(path), "\n");
	rc = parse(
	    opt, &err, argv, 6,
	    (const char *const[]){"mailprobe", "--user", "alice", "--password-file", path, "h"});
	assert_int_equal(rc, CLI_USAGE_ERROR);
	check_contains(err.msg, "empty");
	free_args(argv, 6);
	unlink(path);
	explicit_bzero(opt, sizeof(*opt));
	free(opt);
}

static void test_cli_auth_options(void **state)
{
	struct run_options *opt = calloc(1, sizeof(*opt));
	struct mp_error err;
	char *argv[16];
	enum cli_result rc;

	(void)state;
	assert_non_null(opt);
	setenv("MAILPROBE_PASSWORD", "pw", 1);
	rc = parse(opt, &err, argv, 8,
	           (const char *const[]){"mailprobe", "--user", "a", "--allowed-auth",
	                                 "plain,SCRAM-SHA-256,imap-login,APOP",
	                                 "--allow-plaintext-auth", "--insecure", "h"});
	assert_int_equal(rc, CLI_RUN);
	assert_int_equal(opt->auth.allowed, (1u << AUTH_PLAIN) | (1u << AUTH_SCRAM_SHA_256) |
	                                        (1u << AUTH_IMAP_LOGIN) | (1u << AUTH_POP3_APOP));
	assert_true(opt->auth.allow_plaintext);
	assert_true(opt->auth.insecure);
	free_args(argv, 8);

	rc = parse(
	    opt, &err, argv, 6,
	    (const char *const[]){"mailprobe", "--user", "a", "--allowed-auth", "GSSAPI", "h"});
	assert_int_equal(rc, CLI_USAGE_ERROR);
	check_contains(err.msg, "unknown mechanism 'GSSAPI'");
	free_args(argv, 6);

	/* login options without --user */
	rc = parse(opt, &err, argv, 4,
	           (const char *const[]){"mailprobe", "--allowed-auth", "PLAIN", "h"});
	assert_int_equal(rc, CLI_USAGE_ERROR);
	check_contains(err.msg, "--user");
	free_args(argv, 4);

	/* without --user there is no login at all */
	rc = parse(opt, &err, argv, 2, (const char *const[]){"mailprobe", "h"});
	assert_int_equal(rc, CLI_RUN);
	assert_null(opt->probe.auth);
	assert_null(opt->auth.user);
	free_args(argv, 2);

	/* the password twice */
	rc = parse(opt, &err, argv, 8,
	           (const char *const[]){"mailprobe", "--user", "a", "--password", "x",
	                                 "--password-file", "/nonexistent", "h"});
	assert_int_equal(rc, CLI_USAGE_ERROR);
	check_contains(err.msg, "once");
	free_args(argv, 8);
	unsetenv("MAILPROBE_PASSWORD");
	free(opt);
}

/* ---- The JSON report ---- */

static void test_json_auth_results(void **state)
{
	static const char *const mechs[] = {"PLAIN", "GSSAPI", NULL};
	struct run_options *opt = calloc(1, sizeof(*opt));
	struct run_report rep;
	struct probe_result r;
	char *text = NULL;
	size_t len = 0;
	FILE *f = NULL;

	(void)state;
	assert_non_null(opt);
	opt->auth.user = "alice";
	opt->auth.password = "hunter2-secret";
	opt->probe.auth = &opt->auth;
	opt->transcript = true;
	opt->compact = true;
	plan_result(&r, PROTO_IMAP, MODE_TLS, mechs);
	assert_int_equal(auth_plan(&opt->auth, &r), 2);
	r.auth_results[0].status = AUTH_ST_REJECTED;
	snprintf(r.auth_results[0].reply, sizeof(r.auth_results[0].reply), "NO nope");
	r.auth_results[0].detail[0] = '\0';
	r.auth_results[0].time_ms = 12;
	transcript_add(&r.auth_results[0].transcript, TR_CLIENT, "a1 AUTHENTICATE PLAIN [x]", 25);
	memset(&rep, 0, sizeof(rep));
	rep.opt = opt;
	rep.results = &r;
	rep.n = 1;
	rep.recommended[0] = rep.recommended[1] = rep.recommended[2] = -1;
	f = open_memstream(&text, &len);
	assert_non_null(f);
	assert_int_equal(report_write_json(f, &rep), 0);
	fclose(f);
	check_contains(text, "\"auth_results\":[{\"mechanism\":\"PLAIN\",\"status\":\"rejected\","
	                     "\"reply\":\"NO nope\",\"time_ms\":12,\"detail\":null,"
	                     "\"transcript\":[{\"dir\":\"C\",");
	check_contains(text,
	               "\"text\":\"a1 AUTHENTICATE PLAIN [x]\"}],\"transcript_truncated\":false}");
	check_contains(text, "{\"mechanism\":\"IMAP-LOGIN\",\"status\":\"error\",\"reply\":null,"
	                     "\"time_ms\":null,\"detail\":\"not attempted");
	check_contains(text, "\"auth_unsupported\":[\"GSSAPI\"]");
	check_contains(text, "\"auth\":{\"user\":\"alice\",\"password_given\":true,"
	                     "\"token_given\":false,\"allowed\":null,\"allow_plaintext\":false,"
	                     "\"insecure\":false}");
	assert_null(strstr(text, "hunter2"));
	free(text);
	text = NULL;

	/* the table: one line for the endpoint */
	f = open_memstream(&text, &len);
	assert_non_null(f);
	assert_int_equal(report_write_table(f, &rep, false), 0);
	fclose(f);
	check_contains(text, "Logins as alice:\n  imap mail.example.org:993 tls: PLAIN rejected "
	                     "(NO nope); IMAP-LOGIN error (not attempted");
	check_contains(text, "not implemented here: GSSAPI\n");
	free(text);
	result_free(&r);
	free(opt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_smtp_plain_initial_response),
	    cmocka_unit_test(test_smtp_login_challenges),
	    cmocka_unit_test(test_smtp_cram_md5_rfc2195),
	    cmocka_unit_test(test_smtp_rejected),
	    cmocka_unit_test(test_smtp_temporary_failure),
	    cmocka_unit_test(test_smtp_silent_server),
	    cmocka_unit_test(test_smtp_scram_sha1_rfc5802),
	    cmocka_unit_test(test_smtp_scram_wrong_signature),
	    cmocka_unit_test(test_smtp_scram_missing_signature),
	    cmocka_unit_test(test_pop3_scram_huge_iterations),
	    cmocka_unit_test(test_scram_bad_nonce_is_error),
	    cmocka_unit_test(test_imap_scram_sha256_rfc7677),
	    cmocka_unit_test(test_imap_plain_without_sasl_ir),
	    cmocka_unit_test(test_imap_rejected_and_bad),
	    cmocka_unit_test(test_imap_xoauth2_error),
	    cmocka_unit_test(test_imap_oauthbearer_bytes),
	    cmocka_unit_test(test_imap_login_quoted),
	    cmocka_unit_test(test_imap_login_literal),
	    cmocka_unit_test(test_pop3_user_pass),
	    cmocka_unit_test(test_pop3_apop_rfc1939),
	    cmocka_unit_test(test_pop3_auth_plain),
	    cmocka_unit_test(test_pop3_long_initial_response),
	    cmocka_unit_test(test_pop3_garbage_answer),
	    cmocka_unit_test(test_rules_plaintext),
	    cmocka_unit_test(test_rules_unverified_certificate),
	    cmocka_unit_test(test_secret_echo_withheld),
	    cmocka_unit_test(test_quit_echo_scrubbed),
	    cmocka_unit_test(test_plan_allowed_offered),
	    cmocka_unit_test(test_plan_protocol_specifics),
	    cmocka_unit_test(test_cli_password_sources),
	    cmocka_unit_test(test_cli_auth_options),
	    cmocka_unit_test(test_json_auth_results),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
