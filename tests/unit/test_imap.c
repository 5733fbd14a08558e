/* Unit tests: the IMAP dialect against scripted servers (in-memory streams). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/deadline.h"
#include "core/stream.h"
#include "probe/dialects/dialect.h"

#define FX_PROTO PROTO_IMAP
#define FX_MODE  MODE_STARTTLS
#define FX_PORT  143
#include "dialect_fixture.h"

static const char DOVECOT_GREETING[] =
    "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
    "AUTH=PLAIN] Dovecot (Debian) ready.\r\n";
static const char *const DOVECOT_CAPS[] = {"IMAP4REV1",  "SASL-IR", "LOGIN-REFERRALS", "ID",
                                           "ENABLE",     "IDLE",    "LITERAL+",        "STARTTLS",
                                           "AUTH=PLAIN", NULL};
static const char *const PLAIN[] = {"PLAIN", NULL};

/* Greeting, CAPABILITY, STARTTLS, CAPABILITY after TLS, LOGOUT (Dovecot). */
static void run_dovecot(size_t max_read)
{
	struct fx *f = fx_new(max_read);
	static const char *const caps_after[] = {"IMAP4REV1",  "SASL-IR",    "ID",
	                                         "AUTH=PLAIN", "AUTH=LOGIN", NULL};
	static const char *const auth_after[] = {"PLAIN", "LOGIN", NULL};

	stream_mem_add_str(f->m, 0, DOVECOT_GREETING);
	stream_mem_add_str(f->m, 1,
	                   "* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE "
	                   "IDLE LITERAL+ STARTTLS AUTH=PLAIN\r\n"
	                   "a1 OK Pre-login capabilities listed, post-login capabilities "
	                   "have more.\r\n");
	stream_mem_add_str(f->m, 2, "a2 OK Begin TLS negotiation now.\r\n");
	stream_mem_add_str(f->m, 3,
	                   "* CAPABILITY IMAP4rev1 SASL-IR ID AUTH=PLAIN AUTH=LOGIN\r\n"
	                   "a3 OK Pre-login capabilities listed.\r\n");
	stream_mem_add_str(f->m, 4,
	                   "* BYE Logging out\r\na4 OK Logout completed (0.001 + 0.000 "
	                   "secs).\r\n");

	check_status(f, imap_dialect.greeting(&f->s), MP_OK);
	assert_string_equal(f->res.greeting,
	                    "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
	                    "LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.");
	/* The greeting's [CAPABILITY] already fills the lists. */
	check_list(&f->res.caps_before, DOVECOT_CAPS);
	check_list(&f->res.auth_before, PLAIN);
	assert_true(f->res.starttls_offered);

	check_status(f, imap_dialect.capabilities(&f->s), MP_OK);
	check_list(&f->res.caps_before, DOVECOT_CAPS);
	check_list(&f->res.auth_before, PLAIN);
	check_status(f, imap_dialect.starttls(&f->s), MP_OK);

	f->s.tls_active = true; /* what session_start_tls would do */
	check_status(f, imap_dialect.capabilities(&f->s), MP_OK);
	check_list(&f->res.caps_after, caps_after);
	check_list(&f->res.auth_after, auth_after);
	check_list(&f->res.caps_before, DOVECOT_CAPS);
	imap_dialect.quit(&f->s);

	assert_string_equal(stream_mem_written(f->m, NULL),
	                    "a1 CAPABILITY\r\na2 STARTTLS\r\na3 CAPABILITY\r\na4 LOGOUT\r\n");
	assert_int_equal(f->s.err.code, MP_OK);
	assert_int_equal(f->res.nfindings, 0);
	fx_free(f);
}

static void test_dovecot_session(void **state)
{
	(void)state;
	run_dovecot(0);
}

static void test_dovecot_trickled(void **state)
{
	(void)state;
	run_dovecot(1);
}

/* The CAPABILITY response replaces what the greeting said. */
static void test_capability_replaces_greeting(void **state)
{
	struct fx *f = fx_new(0);
	static const char *const caps[] = {"IMAP4REV2", "AUTH=SCRAM-SHA-256", "STARTTLS", NULL};
	static const char *const auth[] = {"SCRAM-SHA-256", NULL};

	(void)state;
	stream_mem_add_str(f->m, 0, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n");
	stream_mem_add_str(f->m, 1,
	                   "* capability imap4rev2 auth=scram-sha-256 starttls\r\n"
	                   "a1 ok done\r\n");
	check_status(f, imap_dialect.greeting(&f->s), MP_OK);
	check_status(f, imap_dialect.capabilities(&f->s), MP_OK);
	check_list(&f->res.caps_before, caps);
	check_list(&f->res.auth_before, auth);
	assert_true(f->res.starttls_offered);
	fx_free(f);
}

/* Dovecot with disable_plaintext_auth: LOGINDISABLED, no AUTH= before TLS. */
static void test_logindisabled(void **state)
{
	struct fx *f = fx_new(0);
	static const char *const caps[] = {
	    "IMAP4REV1", "SASL-IR",  "LOGIN-REFERRALS", "ID", "ENABLE", "IDLE",
	    "LITERAL+",  "STARTTLS", "LOGINDISABLED",   NULL};

	(void)state;
	stream_mem_add_str(f->m, 0,
	                   "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE "
	                   "IDLE LITERAL+ STARTTLS LOGINDISABLED] Dovecot (Debian) "
	                   "ready.\r\n");
	stream_mem_add_str(f->m, 1,
	                   "* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
	                   "LITERAL+ STARTTLS LOGINDISABLED\r\na1 OK Pre-login "
	                   "capabilities listed, post-login capabilities have more.\r\n");
	check_status(f, imap_dialect.greeting(&f->s), MP_OK);
	check_status(f, imap_dialect.capabilities(&f->s), MP_OK);
	check_list(&f->res.caps_before, caps);
	assert_int_equal(f->res.auth_before.n, 0);
	assert_true(result_has_finding(&f->res, FINDING_LOGINDISABLED));
	assert_non_null(strstr(f->res.findings[0].message, "good"));
	fx_free(f);
}

/* After TLS, LOGINDISABLED is no finding and STARTTLS no offer. */
static void test_caps_after_tls(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	stream_mem_add_str(f->m, 0, "* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\na1 OK x\r\n");
	f->s.tls_active = true;
	check_status(f, imap_dialect.capabilities(&f->s), MP_OK);
	assert_int_equal(f->res.caps_after.n, 3);
	assert_int_equal(f->res.caps_before.n, 0);
	assert_false(f->res.starttls_offered);
	assert_false(result_has_finding(&f->res, FINDING_LOGINDISABLED));
	fx_free(f);
}

static void test_preauth_greeting(void **state)
{
	struct fx *f = fx_new(0);
	static const char *const caps[] = {"IMAP4REV1", NULL};

	(void)state;
	stream_mem_add_str(f->m, 0, "* PREAUTH [CAPABILITY IMAP4rev1] logged in as joe\r\n");
	check_status(f, imap_dialect.greeting(&f->s), MP_OK);
	check_list(&f->res.caps_before, caps);
	fx_free(f);
}

static void test_bye_greeting(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	stream_mem_add_str(f->m, 0, "* BYE Too many connections from your IP\r\n");
	check_status(f, imap_dialect.greeting(&f->s), MP_ERR_REJECTED);
	check_msg(f, "* BYE Too many connections from your IP");
	assert_string_equal(f->res.greeting, "* BYE Too many connections from your IP");
	fx_free(f);
}

/* A greeting of the wrong shape is a protocol error naming the text. */
static void greeting_protocol_error(const char *script, const char *needle)
{
	struct fx *f = fx_new(0);

	stream_mem_add_str(f->m, 0, script);
	check_status(f, imap_dialect.greeting(&f->s), MP_ERR_PROTOCOL);
	check_msg(f, needle);
	fx_free(f);
}

static void test_bad_greetings(void **state)
{
	(void)state;
	greeting_protocol_error("220 mail.example ESMTP\r\n", "\"220 mail.example ESMTP\"");
	greeting_protocol_error("a1 OK tagged\r\n", "not untagged");
	greeting_protocol_error("* OKAY\r\n", "not OK, PREAUTH or BYE");
	greeting_protocol_error("* NO\r\n", "not OK, PREAUTH or BYE");
	greeting_protocol_error("*\r\n", "not untagged");
}

static void test_nul_in_greeting(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	stream_mem_add(f->m, 0, "* OK he\0llo\r\n", 13);
	check_status(f, imap_dialect.greeting(&f->s), MP_ERR_PROTOCOL);
	check_msg(f, "he\\x00llo");
	assert_true(result_has_finding(&f->res, FINDING_NUL_IN_REPLY));
	fx_free(f);
}

static void test_silent_server(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	check_status(f, imap_dialect.greeting(&f->s), MP_ERR_GREETING_TIMEOUT);
	check_msg(f, "no greeting");
	fx_free(f);
}

/* Runs CAPABILITY against a scripted response (after a plain greeting). */
static struct fx *capability_case(const char *response, enum mp_status want)
{
	struct fx *f = fx_new(0);

	stream_mem_add_str(f->m, 0, "* OK ready\r\n");
	stream_mem_add_str(f->m, 1, response);
	check_status(f, imap_dialect.greeting(&f->s), MP_OK);
	check_status(f, imap_dialect.capabilities(&f->s), want);
	return f;
}

/* RFC 9051 4.3: literal bytes are skipped, even when they look like a
 * tagged reply, and the line continues after them. */
static void test_literal_in_response(void **state)
{
	static const char *const caps[] = {"IMAP4REV1", "IDLE", NULL};
	struct fx *f = capability_case("* ID (\"name\" {10}\r\na1 BAD x\r\n"
	                               " \"os\" {7+}\r\nLinux\r\n)\r\n"
	                               "* CAPABILITY IMAP4rev1 IDLE\r\n"
	                               "a1 OK done\r\n",
	                               MP_OK);

	(void)state;
	check_list(&f->res.caps_before, caps);
	fx_free(f);
}

/* A literal inside a CAPABILITY response: the words after it still count. */
static void test_literal_in_capability(void **state)
{
	static const char *const caps[] = {"IMAP4REV1", "IDLE", "AUTH=PLAIN", NULL};
	struct fx *f = capability_case("* CAPABILITY IMAP4rev1 {4}\r\nJUNK IDLE AUTH=PLAIN\r\n"
	                               "a1 OK done\r\n",
	                               MP_OK);

	(void)state;
	check_list(&f->res.caps_before, caps);
	check_list(&f->res.auth_before, PLAIN);
	fx_free(f);
}

static void test_literal_over_limit(void **state)
{
	char script[64];
	struct fx *f = NULL;

	(void)state;
	snprintf(script, sizeof(script), "* ID {%d}\r\n", MP_MAX_IMAP_LITERAL + 1);
	f = capability_case(script, MP_ERR_PROTOCOL);
	check_msg(f, "literal");
	assert_true(result_has_finding(&f->res, FINDING_LIMIT_HIT));
	fx_free(f);
	/* Far over, and more digits than any integer holds. */
	f = capability_case("* ID {99999999999999999999999999}\r\n", MP_ERR_PROTOCOL);
	assert_true(result_has_finding(&f->res, FINDING_LIMIT_HIT));
	fx_free(f);
}

/* A literal the server never finishes. */
static void test_literal_then_eof(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	stream_mem_add_str(f->m, 0, "* OK ready\r\n");
	stream_mem_add_str(f->m, 1, "* ID {100}\r\nonly a few bytes");
	stream_mem_close_after(f->m, 1);
	check_status(f, imap_dialect.greeting(&f->s), MP_OK);
	check_status(f, imap_dialect.capabilities(&f->s), MP_ERR_CLOSED);
	check_msg(f, "middle of its reply to CAPABILITY");
	fx_free(f);
}

/* Not a literal: braces not at the end, or without digits. */
static void test_braces_not_literal(void **state)
{
	struct fx *f = capability_case("* OK {5} not at the end\r\n* OK {}\r\n* OK {x}\r\n"
	                               "a1 OK done\r\n",
	                               MP_OK);

	(void)state;
	fx_free(f);
}

static void test_unexpected_continuation(void **state)
{
	struct fx *f = capability_case("+ go ahead\r\n", MP_ERR_PROTOCOL);

	(void)state;
	check_msg(f, "continuation");
	check_msg(f, "\"+ go ahead\"");
	fx_free(f);
}

static void test_wrong_tag(void **state)
{
	struct fx *f = capability_case("a9 OK done\r\n", MP_ERR_PROTOCOL);

	(void)state;
	check_msg(f, "tagged a1");
	fx_free(f);
	f = capability_case("a11 OK done\r\n", MP_ERR_PROTOCOL);
	fx_free(f);
}

static void test_tagged_not_ok_no_bad(void **state)
{
	struct fx *f = capability_case("a1 MAYBE later\r\n", MP_ERR_PROTOCOL);

	(void)state;
	check_msg(f, "not OK, NO or BAD");
	fx_free(f);
}

static void test_capability_refused(void **state)
{
	struct fx *f = capability_case("a1 BAD unknown command\r\n", MP_ERR_PROTOCOL);

	(void)state;
	check_msg(f, "a1 BAD unknown command");
	fx_free(f);
}

static void test_response_flood(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	stream_mem_add_str(f->m, 0, "* OK ready\r\n");
	for (int i = 0; i < MP_MAX_REPLY_LINES + 1; i++)
		stream_mem_add_str(f->m, 1, "* OK noise\r\n");
	stream_mem_add_str(f->m, 1, "a1 OK done\r\n");
	check_status(f, imap_dialect.greeting(&f->s), MP_OK);
	check_status(f, imap_dialect.capabilities(&f->s), MP_ERR_REPLY_TOO_LARGE);
	assert_true(result_has_finding(&f->res, FINDING_LIMIT_HIT));
	fx_free(f);
}

static void test_closed_mid_response(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	stream_mem_add_str(f->m, 0, "* OK ready\r\n");
	stream_mem_add_str(f->m, 1, "* CAPABILITY IMAP4rev1\r\n");
	stream_mem_close_after(f->m, 1);
	check_status(f, imap_dialect.greeting(&f->s), MP_OK);
	check_status(f, imap_dialect.capabilities(&f->s), MP_ERR_CLOSED);
	fx_free(f);
}

static void test_overlong_line(void **state)
{
	struct fx *f = fx_new(0);
	size_t big = MP_MAX_LINE + 10;
	char *data = malloc(big);

	(void)state;
	assert_non_null(data);
	memset(data, 'x', big);
	memcpy(data, "* OK ", 5);
	stream_mem_add(f->m, 0, data, big);
	check_status(f, imap_dialect.greeting(&f->s), MP_ERR_LINE_TOO_LONG);
	free(data);
	fx_free(f);
}

/* Runs STARTTLS (tag a2 after CAPABILITY) against `reply`. */
static void starttls_case(const char *reply, enum mp_status want)
{
	struct fx *f = capability_case("* CAPABILITY IMAP4rev1 STARTTLS\r\na1 OK done\r\n", MP_OK);

	stream_mem_add_str(f->m, 2, reply);
	check_status(f, imap_dialect.starttls(&f->s), want);
	assert_string_equal(stream_mem_written(f->m, NULL), "a1 CAPABILITY\r\na2 STARTTLS\r\n");
	if (want != MP_OK)
		check_msg(f, reply[3] == 'N' ? "a2 NO" : "a2 BAD");
	fx_free(f);
}

static void test_starttls(void **state)
{
	(void)state;
	starttls_case("a2 OK Begin TLS negotiation now.\r\n", MP_OK);
	starttls_case("a2 NO [UNAVAILABLE] TLS support isn't enabled.\r\n",
	              MP_ERR_STARTTLS_REFUSED);
	starttls_case("a2 BAD Unknown command.\r\n", MP_ERR_STARTTLS_REFUSED);
}

/* The greeting's caps are kept when many words overflow the list. */
static void test_caps_limit(void **state)
{
	struct fx *f = fx_new(0);
	char line[MP_MAX_CAPS * 12 + 64];
	size_t o = 0;

	(void)state;
	o += (size_t)snprintf(line + o, sizeof(line) - o, "* OK [CAPABILITY");
	for (int i = 0; i < MP_MAX_CAPS + 3; i++)
		o += (size_t)snprintf(line + o, sizeof(line) - o, " X-%d", i);
	snprintf(line + o, sizeof(line) - o, "] hi\r\n");
	stream_mem_add_str(f->m, 0, line);
	check_status(f, imap_dialect.greeting(&f->s), MP_OK);
	assert_int_equal(f->res.caps_before.n, MP_MAX_CAPS);
	assert_true(result_has_finding(&f->res, FINDING_LIMIT_HIT));
	fx_free(f);
}

/* LOGOUT keeps an earlier error and reads the tagged reply after BYE. */
static void test_quit(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	f->s.imap_tag = 6;
	stream_mem_add_str(f->m, 1, "* BYE bye\r\na7 OK Logout completed.\r\n");
	mp_error_set(&f->s.err, MP_ERR_TIMEOUT, "earlier");
	imap_dialect.quit(&f->s);
	assert_string_equal(stream_mem_written(f->m, NULL), "a7 LOGOUT\r\n");
	assert_int_equal(f->s.err.code, MP_ERR_TIMEOUT);
	assert_string_equal(f->s.err.msg, "earlier");
	assert_int_equal(f->s.lr.end - f->s.lr.start, 0);
	fx_free(f);
}

/* What IMAP offers to logins (RFC 9051 6.2.3, 7.1.4): LOGIN unless
 * LOGINDISABLED is advertised, and a PREAUTH greeting logs in already. */
static void test_imap_offers_to_logins(void **state)
{
	struct fx *f = fx_new(0);
	struct strlist caps;
	bool offered[AUTH_METHOD_COUNT] = {false};

	(void)state;
	memset(&caps, 0, sizeof(caps));
	assert_true(imap_dialect.auth_methods & (1u << AUTH_IMAP_LOGIN));
	assert_true(imap_dialect.auth_methods & (1u << AUTH_SCRAM_SHA_256));
	assert_false(imap_dialect.auth_methods & (1u << AUTH_POP3_USER));
	assert_int_equal(strlist_add_str(&caps, "IMAP4REV1"), 0);
	imap_dialect.implied_methods(&f->res, &caps, offered);
	assert_true(offered[AUTH_IMAP_LOGIN]);
	for (int m = 0; m < AUTH_METHOD_COUNT; m++)
		assert_true(m == AUTH_IMAP_LOGIN || !offered[m]);
	offered[AUTH_IMAP_LOGIN] = false;
	assert_int_equal(strlist_add_str(&caps, "LOGINDISABLED"), 0);
	imap_dialect.implied_methods(&f->res, &caps, offered);
	assert_false(offered[AUTH_IMAP_LOGIN]);
	assert_string_equal(imap_dialect.preauth_greeting, "* PREAUTH");
	assert_true(imap_dialect.tagged);
	assert_string_equal(imap_dialect.quit_command, "LOGOUT");
	assert_string_equal(imap_dialect.login_probe_cap, "LOGINDISABLED");
	assert_true(imap_dialect.login_probe_cap_forbids);
	strlist_clear(&caps);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dovecot_session),
	    cmocka_unit_test(test_imap_offers_to_logins),
	    cmocka_unit_test(test_dovecot_trickled),
	    cmocka_unit_test(test_capability_replaces_greeting),
	    cmocka_unit_test(test_logindisabled),
	    cmocka_unit_test(test_caps_after_tls),
	    cmocka_unit_test(test_preauth_greeting),
	    cmocka_unit_test(test_bye_greeting),
	    cmocka_unit_test(test_bad_greetings),
	    cmocka_unit_test(test_nul_in_greeting),
	    cmocka_unit_test(test_silent_server),
	    cmocka_unit_test(test_literal_in_response),
	    cmocka_unit_test(test_literal_in_capability),
	    cmocka_unit_test(test_literal_over_limit),
	    cmocka_unit_test(test_literal_then_eof),
	    cmocka_unit_test(test_braces_not_literal),
	    cmocka_unit_test(test_unexpected_continuation),
	    cmocka_unit_test(test_wrong_tag),
	    cmocka_unit_test(test_tagged_not_ok_no_bad),
	    cmocka_unit_test(test_capability_refused),
	    cmocka_unit_test(test_response_flood),
	    cmocka_unit_test(test_closed_mid_response),
	    cmocka_unit_test(test_overlong_line),
	    cmocka_unit_test(test_starttls),
	    cmocka_unit_test(test_caps_limit),
	    cmocka_unit_test(test_quit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
