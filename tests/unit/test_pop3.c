/* Unit tests: the POP3 dialect against scripted servers (in-memory streams). */
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

#define FX_PROTO PROTO_POP3
#define FX_MODE  MODE_STARTTLS
#define FX_PORT  110
#include "dialect_fixture.h"

/* True if the transcript holds a note containing needle. */
static bool has_note(const struct fx *f, const char *needle)
{
	const struct transcript *t = &f->res.transcript;

	for (size_t i = 0; i < t->n; i++)
		if (t->e[i].dir == TR_NOTE && strstr(t->e[i].text, needle))
			return true;
	return false;
}

static const char DOVECOT_GREETING[] = "+OK Dovecot (Debian) ready.\r\n";
static const char DOVECOT_CAPA[] = "+OK\r\n"
                                   "CAPA\r\n"
                                   "TOP\r\n"
                                   "UIDL\r\n"
                                   "RESP-CODES\r\n"
                                   "PIPELINING\r\n"
                                   "AUTH-RESP-CODE\r\n"
                                   "STLS\r\n"
                                   "USER\r\n"
                                   "SASL PLAIN LOGIN\r\n"
                                   ".\r\n";
static const char *const DOVECOT_CAPS[] = {
    "CAPA",           "TOP",  "UIDL", "RESP-CODES",       "PIPELINING",
    "AUTH-RESP-CODE", "STLS", "USER", "SASL PLAIN LOGIN", NULL};
static const char *const USER_PLAIN_LOGIN[] = {"USER", "PLAIN", "LOGIN", NULL};

/* Greeting, CAPA, STLS, CAPA after TLS, QUIT, as Dovecot says them. */
static void run_dovecot(size_t max_read)
{
	struct fx *f = fx_new(max_read);
	static const char *const caps_after[] = {"CAPA", "TOP", "UIDL", "USER", "SASL PLAIN", NULL};
	static const char *const auth_after[] = {"USER", "PLAIN", NULL};

	stream_mem_add_str(f->m, 0, DOVECOT_GREETING);
	stream_mem_add_str(f->m, 1, DOVECOT_CAPA);
	stream_mem_add_str(f->m, 2, "+OK Begin TLS negotiation now.\r\n");
	stream_mem_add_str(f->m, 3, "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nUSER\r\nSASL PLAIN\r\n.\r\n");
	stream_mem_add_str(f->m, 4, "+OK Logging out.\r\n");

	check_status(f, pop3_dialect.greeting(&f->s), MP_OK);
	assert_string_equal(f->res.greeting, "+OK Dovecot (Debian) ready.");
	assert_null(f->res.apop_timestamp);
	check_status(f, pop3_dialect.capabilities(&f->s), MP_OK);
	check_list(&f->res.caps_before, DOVECOT_CAPS);
	check_list(&f->res.auth_before, USER_PLAIN_LOGIN);
	assert_true(f->res.starttls_offered);
	check_status(f, pop3_dialect.starttls(&f->s), MP_OK);

	f->s.tls_active = true; /* what session_start_tls would do */
	check_status(f, pop3_dialect.capabilities(&f->s), MP_OK);
	check_list(&f->res.caps_after, caps_after);
	check_list(&f->res.auth_after, auth_after);
	check_list(&f->res.caps_before, DOVECOT_CAPS);
	pop3_dialect.quit(&f->s);

	assert_string_equal(stream_mem_written(f->m, NULL), "CAPA\r\nSTLS\r\nCAPA\r\nQUIT\r\n");
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

/* RFC 1939 section 7, the example banner. */
static void test_apop_timestamp(void **state)
{
	struct fx *f = fx_new(0);
	static const char *const auth[] = {"APOP", "USER", NULL};

	(void)state;
	stream_mem_add_str(f->m, 0, "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n");
	stream_mem_add_str(f->m, 1, "+OK\r\nUSER\r\n.\r\n");
	check_status(f, pop3_dialect.greeting(&f->s), MP_OK);
	assert_string_equal(f->res.apop_timestamp, "<1896.697170952@dbc.mtview.ca.us>");
	check_status(f, pop3_dialect.capabilities(&f->s), MP_OK);
	check_list(&f->res.auth_before, auth);
	fx_free(f);
}

/* Angle brackets that are no msg-id give no timestamp. */
static void test_no_apop_timestamp(void **state)
{
	static const char *const banners[] = {
	    "+OK <no-at-sign>\r\n",
	    "+OK <unterminated@example\r\n",
	    "+OK <has space@example>\r\n",
	    "+OK ready >x@y<\r\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(banners) / sizeof(banners[0]); i++) {
		struct fx *f = fx_new(0);

		stream_mem_add_str(f->m, 0, banners[i]);
		check_status(f, pop3_dialect.greeting(&f->s), MP_OK);
		assert_null(f->res.apop_timestamp);
		assert_int_equal(f->res.auth_before.n, 0);
		fx_free(f);
	}
}

static void test_err_greeting(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	stream_mem_add_str(f->m, 0, "-ERR [SYS/TEMP] too many connections\r\n");
	check_status(f, pop3_dialect.greeting(&f->s), MP_ERR_REJECTED);
	check_msg(f, "-ERR [SYS/TEMP] too many connections");
	assert_string_equal(f->res.greeting, "-ERR [SYS/TEMP] too many connections");
	fx_free(f);
}

/* A greeting of the wrong shape is a protocol error naming the text. */
static void greeting_protocol_error(const char *script, const char *needle)
{
	struct fx *f = fx_new(0);

	stream_mem_add_str(f->m, 0, script);
	check_status(f, pop3_dialect.greeting(&f->s), MP_ERR_PROTOCOL);
	check_msg(f, needle);
	fx_free(f);
}

static void test_bad_greetings(void **state)
{
	(void)state;
	greeting_protocol_error("* OK IMAP4rev1 ready\r\n", "\"* OK IMAP4rev1 ready\"");
	greeting_protocol_error("+OKAY\r\n", "without +OK or -ERR");
	greeting_protocol_error("-ERROR\r\n", "without +OK or -ERR");
	greeting_protocol_error("\r\n", "without +OK or -ERR");
}

static void test_bare_ok_greeting(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	stream_mem_add_str(f->m, 0, "+OK\r\n");
	check_status(f, pop3_dialect.greeting(&f->s), MP_OK);
	assert_string_equal(f->res.greeting, "+OK");
	fx_free(f);
}

static void test_silent_server(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	check_status(f, pop3_dialect.greeting(&f->s), MP_ERR_GREETING_TIMEOUT);
	check_msg(f, "no greeting");
	fx_free(f);
}

/* RFC 2449 section 5: an old server answers CAPA with -ERR; not fatal. */
static void test_capa_err(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	stream_mem_add_str(f->m, 0, "+OK old server\r\n");
	stream_mem_add_str(f->m, 1, "-ERR unknown command\r\n");
	check_status(f, pop3_dialect.greeting(&f->s), MP_OK);
	check_status(f, pop3_dialect.capabilities(&f->s), MP_OK);
	assert_int_equal(f->res.caps_before.n, 0);
	assert_int_equal(f->res.auth_before.n, 0);
	assert_false(f->res.starttls_offered);
	assert_true(has_note(f, "CAPA"));
	fx_free(f);
}

static void test_capa_without_dot_then_eof(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	stream_mem_add_str(f->m, 0, DOVECOT_GREETING);
	stream_mem_add_str(f->m, 1, "+OK\r\nCAPA\r\nTOP\r\nSTLS\r\n");
	stream_mem_close_after(f->m, 1);
	check_status(f, pop3_dialect.greeting(&f->s), MP_OK);
	check_status(f, pop3_dialect.capabilities(&f->s), MP_ERR_CLOSED);
	check_msg(f, "middle of its reply to CAPA");
	fx_free(f);
}

/* The list stops coming (no dot) and the server stays open: timeout. */
static void test_capa_without_dot_then_silence(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	stream_mem_add_str(f->m, 0, DOVECOT_GREETING);
	stream_mem_add_str(f->m, 1, "+OK\r\nCAPA\r\n");
	check_status(f, pop3_dialect.greeting(&f->s), MP_OK);
	check_status(f, pop3_dialect.capabilities(&f->s), MP_ERR_TIMEOUT);
	check_msg(f, "middle of its reply to CAPA");
	fx_free(f);
}

/* RFC 1939 section 3: a leading dot is stuffed; case is normalised. */
static void test_capa_dot_unstuffing(void **state)
{
	struct fx *f = fx_new(0);
	static const char *const caps[] = {".X-DOT", "SASL SCRAM-SHA-1", "IMPLEMENTATION Foo 1.0",
	                                   NULL};
	static const char *const auth[] = {"SCRAM-SHA-1", NULL};

	(void)state;
	stream_mem_add_str(f->m, 0, "+OK\r\n");
	stream_mem_add_str(f->m, 1,
	                   "+OK Capability list follows\r\n..x-dot\r\nsasl SCRAM-SHA-1\r\n"
	                   "implementation   Foo 1.0\r\n\r\n.\r\n");
	check_status(f, pop3_dialect.greeting(&f->s), MP_OK);
	check_status(f, pop3_dialect.capabilities(&f->s), MP_OK);
	check_list(&f->res.caps_before, caps);
	check_list(&f->res.auth_before, auth);
	assert_false(f->res.starttls_offered);
	fx_free(f);
}

static void test_capa_garbage_status(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	stream_mem_add_str(f->m, 0, "+OK\r\n");
	stream_mem_add_str(f->m, 1, "250 what\r\n");
	check_status(f, pop3_dialect.greeting(&f->s), MP_OK);
	check_status(f, pop3_dialect.capabilities(&f->s), MP_ERR_PROTOCOL);
	check_msg(f, "\"250 what\"");
	fx_free(f);
}

static void test_capa_flood(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	stream_mem_add_str(f->m, 0, "+OK\r\n");
	stream_mem_add_str(f->m, 1, "+OK\r\n");
	for (int i = 0; i < MP_MAX_REPLY_LINES + 1; i++)
		stream_mem_add_str(f->m, 1, "X-SAME\r\n");
	stream_mem_add_str(f->m, 1, ".\r\n");
	check_status(f, pop3_dialect.greeting(&f->s), MP_OK);
	check_status(f, pop3_dialect.capabilities(&f->s), MP_ERR_REPLY_TOO_LARGE);
	assert_true(result_has_finding(&f->res, FINDING_LIMIT_HIT));
	fx_free(f);
}

static void test_capa_overlong_line(void **state)
{
	struct fx *f = fx_new(0);
	size_t big = MP_MAX_LINE + 1;
	char *data = malloc(big);

	(void)state;
	assert_non_null(data);
	memset(data, 'L', big);
	stream_mem_add_str(f->m, 0, "+OK\r\n");
	stream_mem_add_str(f->m, 1, "+OK\r\n");
	stream_mem_add(f->m, 1, data, big);
	check_status(f, pop3_dialect.greeting(&f->s), MP_OK);
	check_status(f, pop3_dialect.capabilities(&f->s), MP_ERR_LINE_TOO_LONG);
	free(data);
	fx_free(f);
}

static void test_nul_in_capa(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	stream_mem_add_str(f->m, 0, "+OK\r\n");
	stream_mem_add(f->m, 1, "+OK\r\nTO\0P\r\n.\r\n", 14);
	check_status(f, pop3_dialect.greeting(&f->s), MP_OK);
	check_status(f, pop3_dialect.capabilities(&f->s), MP_ERR_PROTOCOL);
	check_msg(f, "TO\\x00P");
	assert_true(result_has_finding(&f->res, FINDING_NUL_IN_REPLY));
	fx_free(f);
}

/* Runs STLS against `reply`. */
static void stls_case(const char *reply, enum mp_status want, const char *needle)
{
	struct fx *f = fx_new(0);

	stream_mem_add_str(f->m, 1, reply);
	check_status(f, pop3_dialect.starttls(&f->s), want);
	assert_string_equal(stream_mem_written(f->m, NULL), "STLS\r\n");
	if (needle)
		check_msg(f, needle);
	fx_free(f);
}

static void test_stls(void **state)
{
	(void)state;
	stls_case("+OK Begin TLS negotiation now.\r\n", MP_OK, NULL);
	stls_case("-ERR [IN-USE] TLS already active\r\n", MP_ERR_STARTTLS_REFUSED,
	          "-ERR [IN-USE] TLS already active");
	stls_case("-ERR\r\n", MP_ERR_STARTTLS_REFUSED, "\"-ERR\"");
	stls_case("220 go ahead\r\n", MP_ERR_PROTOCOL, "neither +OK nor -ERR");
}

static void test_quit(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	stream_mem_add_str(f->m, 1, "+OK Logging out.\r\n");
	mp_error_set(&f->s.err, MP_ERR_STARTTLS_REFUSED, "earlier");
	pop3_dialect.quit(&f->s);
	assert_string_equal(stream_mem_written(f->m, NULL), "QUIT\r\n");
	assert_int_equal(f->s.err.code, MP_ERR_STARTTLS_REFUSED);
	assert_string_equal(f->s.err.msg, "earlier");
	assert_int_equal(f->s.lr.end - f->s.lr.start, 0);
	fx_free(f);
}

/* What POP3 offers to logins (RFC 1939 7): USER/PASS and APOP besides
 * SASL; APOP only when the greeting carried a timestamp. */
static void test_pop3_offers_to_logins(void **state)
{
	struct fx *f = fx_new(0);
	struct strlist caps;
	bool offered[AUTH_METHOD_COUNT] = {false};

	(void)state;
	memset(&caps, 0, sizeof(caps));
	assert_true(pop3_dialect.auth_methods & (1u << AUTH_POP3_USER));
	assert_true(pop3_dialect.auth_methods & (1u << AUTH_POP3_APOP));
	assert_true(pop3_dialect.auth_methods & (1u << AUTH_PLAIN));
	assert_false(pop3_dialect.auth_methods & (1u << AUTH_IMAP_LOGIN));
	pop3_dialect.implied_methods(&f->res, &caps, offered);
	for (int m = 0; m < AUTH_METHOD_COUNT; m++)
		assert_false(offered[m]);
	f->res.apop_timestamp = strdup("<1896.697170952@dbc.mtview.ca.us>");
	assert_non_null(f->res.apop_timestamp);
	pop3_dialect.implied_methods(&f->res, &caps, offered);
	assert_true(offered[AUTH_POP3_APOP]);
	assert_null(pop3_dialect.preauth_greeting);
	assert_false(pop3_dialect.tagged);
	assert_string_equal(pop3_dialect.starttls_command, "STLS");
	assert_string_equal(pop3_dialect.login_probe_cap, "USER");
	assert_false(pop3_dialect.login_probe_cap_forbids);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dovecot_session),
	    cmocka_unit_test(test_pop3_offers_to_logins),
	    cmocka_unit_test(test_dovecot_trickled),
	    cmocka_unit_test(test_apop_timestamp),
	    cmocka_unit_test(test_no_apop_timestamp),
	    cmocka_unit_test(test_err_greeting),
	    cmocka_unit_test(test_bad_greetings),
	    cmocka_unit_test(test_bare_ok_greeting),
	    cmocka_unit_test(test_silent_server),
	    cmocka_unit_test(test_capa_err),
	    cmocka_unit_test(test_capa_without_dot_then_eof),
	    cmocka_unit_test(test_capa_without_dot_then_silence),
	    cmocka_unit_test(test_capa_dot_unstuffing),
	    cmocka_unit_test(test_capa_garbage_status),
	    cmocka_unit_test(test_capa_flood),
	    cmocka_unit_test(test_capa_overlong_line),
	    cmocka_unit_test(test_nul_in_capa),
	    cmocka_unit_test(test_stls),
	    cmocka_unit_test(test_quit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
