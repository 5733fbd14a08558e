/* Unit tests: the SMTP dialect against scripted servers (in-memory streams,
 * and a socketpair for the one test that needs real time). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/base64.h"
#include "core/deadline.h"
#include "core/stream.h"
#include "probe/dialects/auth.h"
#include "probe/dialects/dialect.h"

#define FX_PROTO PROTO_SMTP
#define FX_MODE  MODE_PLAIN
#define FX_PORT  25
#include "dialect_fixture.h"

static const char POSTFIX_GREETING[] = "220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n";
static const char POSTFIX_EHLO[] = "250-mail.example.org\r\n"
                                   "250-PIPELINING\r\n"
                                   "250-SIZE 10240000\r\n"
                                   "250-VRFY\r\n"
                                   "250-ETRN\r\n"
                                   "250-STARTTLS\r\n"
                                   "250-AUTH PLAIN LOGIN\r\n"
                                   "250-AUTH=PLAIN LOGIN\r\n"
                                   "250-ENHANCEDSTATUSCODES\r\n"
                                   "250-8BITMIME\r\n"
                                   "250-DSN\r\n"
                                   "250-SMTPUTF8\r\n"
                                   "250 CHUNKING\r\n";
static const char *const POSTFIX_CAPS[] = {"PIPELINING",
                                           "SIZE 10240000",
                                           "VRFY",
                                           "ETRN",
                                           "STARTTLS",
                                           "AUTH PLAIN LOGIN",
                                           "AUTH=PLAIN LOGIN",
                                           "ENHANCEDSTATUSCODES",
                                           "8BITMIME",
                                           "DSN",
                                           "SMTPUTF8",
                                           "CHUNKING",
                                           NULL};
static const char *const PLAIN_LOGIN[] = {"PLAIN", "LOGIN", NULL};

/* Greeting, EHLO, STARTTLS go-ahead and EHLO again, as Postfix says them. */
static void run_postfix(size_t max_read)
{
	struct fx *f = fx_new(max_read);
	static const char *const caps_after[] = {"PIPELINING", "SIZE 10240000", "AUTH PLAIN", NULL};

	stream_mem_add_str(f->m, 0, POSTFIX_GREETING);
	stream_mem_add_str(f->m, 1, POSTFIX_EHLO);
	stream_mem_add_str(f->m, 2, "220 2.0.0 Ready to start TLS\r\n");
	stream_mem_add_str(f->m, 3,
	                   "250-mail.example.org\r\n250-PIPELINING\r\n"
	                   "250-SIZE 10240000\r\n250 AUTH PLAIN\r\n");
	stream_mem_add_str(f->m, 4, "221 2.0.0 Bye\r\n");

	check_status(f, smtp_dialect.greeting(&f->s), MP_OK);
	assert_string_equal(f->res.greeting, "220 mail.example.org ESMTP Postfix (Debian/GNU)");
	check_status(f, smtp_dialect.capabilities(&f->s), MP_OK);
	check_list(&f->res.caps_before, POSTFIX_CAPS);
	check_list(&f->res.auth_before, PLAIN_LOGIN);
	assert_true(f->res.starttls_offered);
	assert_false(f->res.ehlo_refused);
	check_status(f, smtp_dialect.starttls(&f->s), MP_OK);

	/* What session_start_tls would do; then the second EHLO goes to _after. */
	f->s.tls_active = true;
	check_status(f, smtp_dialect.capabilities(&f->s), MP_OK);
	check_list(&f->res.caps_after, caps_after);
	static const char *const plain[] = {"PLAIN", NULL};
	check_list(&f->res.auth_after, plain);
	check_list(&f->res.caps_before, POSTFIX_CAPS);
	smtp_dialect.quit(&f->s);

	assert_string_equal(stream_mem_written(f->m, NULL),
	                    "EHLO probe.example\r\nSTARTTLS\r\nEHLO probe.example\r\nQUIT\r\n");
	assert_int_equal(f->res.nfindings, 0);
	fx_free(f);
}

static void test_postfix_session(void **state)
{
	(void)state;
	run_postfix(0);
}

/* The same conversation delivered one byte per read. */
static void test_postfix_trickled(void **state)
{
	(void)state;
	run_postfix(1);
}

static void test_multiline_greeting(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	stream_mem_add_str(f->m, 0, "220-mx.example.net ESMTP\r\n220-No UCE\r\n220 ready\r\n");
	check_status(f, smtp_dialect.greeting(&f->s), MP_OK);
	assert_string_equal(f->res.greeting, "220-mx.example.net ESMTP\n220-No UCE\n220 ready");
	fx_free(f);
}

/* RFC 5321 4.2: a last line may be the bare code. */
static void test_code_only_lines(void **state)
{
	struct fx *f = fx_new(0);
	static const char *const caps[] = {"8BITMIME", NULL};

	(void)state;
	stream_mem_add_str(f->m, 0, "220\r\n");
	stream_mem_add_str(f->m, 1, "250-mx\r\n250-8bitmime\r\n250\r\n");
	check_status(f, smtp_dialect.greeting(&f->s), MP_OK);
	assert_string_equal(f->res.greeting, "220");
	check_status(f, smtp_dialect.capabilities(&f->s), MP_OK);
	check_list(&f->res.caps_before, caps);
	assert_false(f->res.starttls_offered);
	fx_free(f);
}

/* Keywords are upper-cased, blanks collapsed, duplicates and empty lines dropped. */
static void test_ehlo_normalised(void **state)
{
	struct fx *f = fx_new(0);
	static const char *const caps[] = {"STARTTLS", "AUTH cram-md5 plain", "SIZE", NULL};
	static const char *const auth[] = {"CRAM-MD5", "PLAIN", NULL};

	(void)state;
	stream_mem_add_str(f->m, 0, "220 x\r\n");
	stream_mem_add_str(f->m, 1,
	                   "250-x\r\n250-starttls\r\n250-auth  cram-md5\t  plain \r\n"
	                   "250-StartTLS\r\n250-\r\n250 size\r\n");
	check_status(f, smtp_dialect.greeting(&f->s), MP_OK);
	check_status(f, smtp_dialect.capabilities(&f->s), MP_OK);
	check_list(&f->res.caps_before, caps);
	check_list(&f->res.auth_before, auth);
	assert_true(f->res.starttls_offered);
	fx_free(f);
}

static void test_greeting_554_rejected(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	stream_mem_add_str(f->m, 0, "554 5.7.1 mx.example.net: no service for you\r\n");
	check_status(f, smtp_dialect.greeting(&f->s), MP_ERR_REJECTED);
	check_msg(f, "554 5.7.1 mx.example.net: no service for you");
	assert_string_equal(f->res.greeting, "554 5.7.1 mx.example.net: no service for you");
	fx_free(f);
}

static void test_greeting_421_rejected(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	stream_mem_add_str(f->m, 0, "421-busy\r\n421 try later\r\n");
	check_status(f, smtp_dialect.greeting(&f->s), MP_ERR_REJECTED);
	check_msg(f, "421");
	fx_free(f);
}

static void test_greeting_not_220(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	stream_mem_add_str(f->m, 0, "250 hello\r\n");
	check_status(f, smtp_dialect.greeting(&f->s), MP_ERR_PROTOCOL);
	check_msg(f, "250 hello");
	fx_free(f);
}

/* RFC 5321 4.1.4: EHLO refused with 5xx, HELO works. */
static void test_ehlo_refused_helo(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	stream_mem_add_str(f->m, 0, "220 old.example ESMTP\r\n");
	stream_mem_add_str(f->m, 1, "502 5.5.2 Error: command not recognized\r\n");
	stream_mem_add_str(f->m, 2, "250 old.example\r\n");
	check_status(f, smtp_dialect.greeting(&f->s), MP_OK);
	check_status(f, smtp_dialect.capabilities(&f->s), MP_OK);
	assert_string_equal(stream_mem_written(f->m, NULL),
	                    "EHLO probe.example\r\nHELO probe.example\r\n");
	assert_true(f->res.ehlo_refused);
	assert_true(result_has_finding(&f->res, FINDING_EHLO_REFUSED));
	assert_int_equal(f->res.caps_before.n, 0);
	assert_int_equal(f->res.auth_before.n, 0);
	assert_false(f->res.starttls_offered);
	fx_free(f);
}

static void test_ehlo_and_helo_refused(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	stream_mem_add_str(f->m, 0, "220 x\r\n");
	stream_mem_add_str(f->m, 1, "500 no\r\n");
	stream_mem_add_str(f->m, 2, "550 go away\r\n");
	check_status(f, smtp_dialect.greeting(&f->s), MP_OK);
	check_status(f, smtp_dialect.capabilities(&f->s), MP_ERR_REJECTED);
	check_msg(f, "550 go away");
	fx_free(f);
}

/* A 4xx to EHLO is no reason to try HELO. */
static void test_ehlo_421(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	stream_mem_add_str(f->m, 0, "220 x\r\n");
	stream_mem_add_str(f->m, 1, "421 4.3.2 shutting down\r\n");
	check_status(f, smtp_dialect.greeting(&f->s), MP_OK);
	check_status(f, smtp_dialect.capabilities(&f->s), MP_ERR_REJECTED);
	assert_string_equal(stream_mem_written(f->m, NULL), "EHLO probe.example\r\n");
	assert_false(f->res.ehlo_refused);
	fx_free(f);
}

/* Runs a greeting made of `script` and expects a protocol error whose
 * message contains needle. */
static void greeting_protocol_error(const char *script, const char *needle)
{
	struct fx *f = fx_new(0);

	stream_mem_add_str(f->m, 0, script);
	check_status(f, smtp_dialect.greeting(&f->s), MP_ERR_PROTOCOL);
	check_msg(f, needle);
	assert_null(f->res.greeting);
	fx_free(f);
}

static void test_invalid_code(void **state)
{
	(void)state;
	greeting_protocol_error("2x0 hello\r\n", "invalid code");
	greeting_protocol_error("2x0 hello\r\n", "\"2x0 hello\"");
	greeting_protocol_error("22\r\n", "invalid code");
	greeting_protocol_error("\r\n", "invalid code");
	greeting_protocol_error("SSH-2.0-OpenSSH_9.2\r\n", "SSH-2.0-OpenSSH_9.2");
}

static void test_code_out_of_range(void **state)
{
	(void)state;
	greeting_protocol_error("600 too big\r\n", "code 600");
	greeting_protocol_error("199 too small\r\n", "code 199");
	greeting_protocol_error("099 x\r\n", "code 99");
}

static void test_bad_separator(void **state)
{
	(void)state;
	greeting_protocol_error("220_hello\r\n", "after the code");
}

static void test_mixed_codes(void **state)
{
	(void)state;
	greeting_protocol_error("220-first\r\n250 second\r\n", "mixed reply codes 220 and 250");
}

/* Server text in messages is escaped and cut. */
static void test_message_quoting(void **state)
{
	struct fx *f = fx_new(0);
	char line[300];

	(void)state;
	memset(line, 'A', sizeof(line));
	memcpy(line, "9\x1b[31m", 6);
	memcpy(line + sizeof(line) - 2, "\r\n", 2);
	stream_mem_add(f->m, 0, line, sizeof(line));
	check_status(f, smtp_dialect.greeting(&f->s), MP_ERR_PROTOCOL);
	check_msg(f, "\"9\\x1b[31mAAA");
	check_msg(f, "AAA...\"");
	assert_null(strchr(f->s.err.msg, '\x1b'));
	fx_free(f);
}

static void test_continuation_flood(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	stream_mem_add_str(f->m, 0, "220 x\r\n");
	for (int i = 0; i < MP_MAX_REPLY_LINES + 10; i++)
		stream_mem_add_str(f->m, 1, "250-FLOOD\r\n");
	stream_mem_add_str(f->m, 1, "250 END\r\n");
	check_status(f, smtp_dialect.greeting(&f->s), MP_OK);
	check_status(f, smtp_dialect.capabilities(&f->s), MP_ERR_REPLY_TOO_LARGE);
	check_msg(f, "lines");
	assert_true(result_has_finding(&f->res, FINDING_LIMIT_HIT));
	fx_free(f);
}

/* Few lines, each long, together over MP_MAX_REPLY_BYTES. */
static void test_reply_bytes_limit(void **state)
{
	struct fx *f = fx_new(0);
	char line[4000];
	int nlines = MP_MAX_REPLY_BYTES / (int)sizeof(line) + 2;

	(void)state;
	memset(line, 'B', sizeof(line));
	memcpy(line, "250-", 4);
	memcpy(line + sizeof(line) - 2, "\r\n", 2);
	stream_mem_add_str(f->m, 0, "220 x\r\n");
	for (int i = 0; i < nlines; i++)
		stream_mem_add(f->m, 1, line, sizeof(line));
	stream_mem_add_str(f->m, 1, "250 END\r\n");
	check_status(f, smtp_dialect.greeting(&f->s), MP_OK);
	check_status(f, smtp_dialect.capabilities(&f->s), MP_ERR_REPLY_TOO_LARGE);
	check_msg(f, "bytes");
	assert_true(result_has_finding(&f->res, FINDING_LIMIT_HIT));
	fx_free(f);
}

static void test_overlong_line(void **state)
{
	struct fx *f = fx_new(0);
	size_t big = MP_MAX_LINE + 100;
	char *data = malloc(big);

	(void)state;
	assert_non_null(data);
	memset(data, 'C', big);
	memcpy(data, "220 ", 4);
	memcpy(data + big - 2, "\r\n", 2);
	stream_mem_add(f->m, 0, data, big);
	check_status(f, smtp_dialect.greeting(&f->s), MP_ERR_LINE_TOO_LONG);
	free(data);
	fx_free(f);
}

static void test_silent_server(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	check_status(f, smtp_dialect.greeting(&f->s), MP_ERR_GREETING_TIMEOUT);
	check_msg(f, "no greeting");
	assert_null(f->res.greeting);
	fx_free(f);
}

/* Half a multi-line greeting, then silence: still a greeting timeout. */
static void test_greeting_stalls(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	stream_mem_add_str(f->m, 0, "220-first line\r\n");
	check_status(f, smtp_dialect.greeting(&f->s), MP_ERR_GREETING_TIMEOUT);
	check_msg(f, "middle of its greeting");
	fx_free(f);
}

static void test_closed_before_greeting(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	stream_mem_close_after(f->m, 0);
	check_status(f, smtp_dialect.greeting(&f->s), MP_ERR_CLOSED);
	check_msg(f, "without a greeting");
	fx_free(f);
}

static void test_closed_mid_reply(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	stream_mem_add_str(f->m, 0, "220 x\r\n");
	stream_mem_add_str(f->m, 1, "250-x\r\n250-PIPELINING\r\n250-SIZE 1");
	stream_mem_close_after(f->m, 1);
	check_status(f, smtp_dialect.greeting(&f->s), MP_OK);
	check_status(f, smtp_dialect.capabilities(&f->s), MP_ERR_CLOSED);
	check_msg(f, "middle of its reply to EHLO");
	fx_free(f);
}

static void test_ehlo_no_answer(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	stream_mem_add_str(f->m, 0, "220 x\r\n");
	check_status(f, smtp_dialect.greeting(&f->s), MP_OK);
	check_status(f, smtp_dialect.capabilities(&f->s), MP_ERR_TIMEOUT);
	check_msg(f, "did not answer EHLO");
	fx_free(f);
}

static void test_nul_in_reply(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	stream_mem_add(f->m, 0, "220 a\0b\r\n", 9);
	check_status(f, smtp_dialect.greeting(&f->s), MP_ERR_PROTOCOL);
	check_msg(f, "NUL");
	check_msg(f, "220 a\\x00b");
	assert_true(result_has_finding(&f->res, FINDING_NUL_IN_REPLY));
	fx_free(f);
}

/* A reply that arrived before EHLO was sent answers no command: taking it
 * for the EHLO reply would shift every later reply (pipelining confusion). */
static void test_unsolicited_before_ehlo(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	stream_mem_add_str(f->m, 0, "220 x\r\n250 stray\r\n");
	stream_mem_add_str(f->m, 1, "250-x\r\n250 STARTTLS\r\n");
	check_status(f, smtp_dialect.greeting(&f->s), MP_OK);
	check_status(f, smtp_dialect.capabilities(&f->s), MP_ERR_PROTOCOL);
	check_msg(f, "\"250 stray\" before EHLO was sent");
	assert_int_equal(stream_mem_writes(f->m), 0);
	assert_int_equal(f->res.caps_before.n, 0);
	fx_free(f);
}

/* Runs STARTTLS against `reply` and expects `want`, message holding needle. */
static void starttls_case(const char *reply, enum mp_status want, const char *needle)
{
	struct fx *f = fx_new(0);

	stream_mem_add_str(f->m, 0, POSTFIX_GREETING);
	stream_mem_add_str(f->m, 1, POSTFIX_EHLO);
	stream_mem_add_str(f->m, 2, reply);
	check_status(f, smtp_dialect.greeting(&f->s), MP_OK);
	check_status(f, smtp_dialect.capabilities(&f->s), MP_OK);
	check_status(f, smtp_dialect.starttls(&f->s), want);
	check_msg(f, needle);
	assert_string_equal(stream_mem_written(f->m, NULL), "EHLO probe.example\r\nSTARTTLS\r\n");
	fx_free(f);
}

static void test_starttls_refused(void **state)
{
	(void)state;
	starttls_case("454 4.7.0 TLS not available due to local problem\r\n",
	              MP_ERR_STARTTLS_REFUSED, "454 4.7.0 TLS not available due to local problem");
	starttls_case("501 5.5.4 Syntax error\r\n", MP_ERR_STARTTLS_REFUSED, "501 5.5.4");
	starttls_case("502 5.5.1 not implemented\r\n", MP_ERR_STARTTLS_REFUSED, "502");
	starttls_case("250 ok?\r\n", MP_ERR_PROTOCOL, "250 ok?");
}

/* QUIT keeps an earlier error and does not wait past a silent server. */
static void test_quit_keeps_error(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	mp_error_set(&f->s.err, MP_ERR_STARTTLS_REFUSED, "earlier");
	smtp_dialect.quit(&f->s);
	assert_string_equal(stream_mem_written(f->m, NULL), "QUIT\r\n");
	assert_int_equal(f->s.err.code, MP_ERR_STARTTLS_REFUSED);
	assert_string_equal(f->s.err.msg, "earlier");
	fx_free(f);
}

/* More extensions than MP_MAX_CAPS: the list stops, a finding says so. */
static void test_caps_limit(void **state)
{
	struct fx *f = fx_new(0);
	char line[64];

	(void)state;
	stream_mem_add_str(f->m, 0, "220 x\r\n");
	stream_mem_add_str(f->m, 1, "250-x\r\n");
	for (int i = 0; i < MP_MAX_CAPS + 5; i++) {
		snprintf(line, sizeof(line), "250-X-EXT%d\r\n", i);
		stream_mem_add_str(f->m, 1, line);
	}
	stream_mem_add_str(f->m, 1, "250 LAST\r\n");
	check_status(f, smtp_dialect.greeting(&f->s), MP_OK);
	check_status(f, smtp_dialect.capabilities(&f->s), MP_OK);
	assert_int_equal(f->res.caps_before.n, MP_MAX_CAPS);
	assert_string_equal(f->res.caps_before.v[0], "X-EXT0");
	assert_true(f->res.caps_before.truncated);
	assert_true(result_has_finding(&f->res, FINDING_LIMIT_HIT));
	fx_free(f);
}

static void test_dialect_for(void **state)
{
	(void)state;
	assert_ptr_equal(dialect_for(PROTO_SMTP), &smtp_dialect);
	assert_ptr_equal(dialect_for(PROTO_IMAP), &imap_dialect);
	assert_ptr_equal(dialect_for(PROTO_POP3), &pop3_dialect);
	assert_null(dialect_for(PROTO_COUNT));
	assert_null(dialect_for((enum protocol) - 1));
	for (int p = 0; p < PROTO_COUNT; p++) {
		const struct dialect *d = dialect_for((enum protocol)p);

		assert_non_null(d); /* a protocol without its line in dialect_table */
		assert_int_equal(d->proto, p);
		assert_string_equal(d->name, protocol_name((enum protocol)p));
	}
	assert_int_equal(smtp_dialect.port_plain, 25);
	assert_int_equal(smtp_dialect.port_tls, 465);
}

/* Each line of the dialect table is complete and consistent: every step,
 * ports that lead back to it, the methods authenticate must take, and the
 * facts the checks read. */
static void test_dialect_table_complete(void **state)
{
	(void)state;
	for (int p = 0; p < PROTO_COUNT; p++) {
		const struct dialect *d = dialect_table[p];

		assert_non_null(d);
		assert_non_null(d->greeting);
		assert_non_null(d->capabilities);
		assert_non_null(d->quit);
		assert_non_null(d->authenticate);
		assert_non_null(d->read_reply);
		assert_true((d->starttls != NULL) == (d->starttls_command != NULL));
		assert_non_null(d->quit_command);
		assert_non_null(d->noop_command);
		assert_true(d->port_plain != 0);
		assert_true((d->scheme_tls != NULL) == (d->port_tls != 0));
		if (d->port_tls)
			assert_ptr_equal(dialect_of_tls_port(d->port_tls), d);
		for (size_t i = 0; i < DIALECT_MAX_PORTS && d->well_known_ports[i]; i++)
			assert_ptr_equal(dialect_of_port(d->well_known_ports[i]), d);
		/* A matrix cell speaks TLS exactly on the implicit-TLS port. */
		for (size_t i = 0; i < DIALECT_MAX_PORTS && d->matrix[i].port; i++)
			assert_true((d->matrix[i].mode == MODE_TLS) ==
			            (dialect_of_tls_port(d->matrix[i].port) != NULL));
		/* Only methods that exist. */
		assert_int_equal(d->auth_methods & ~((1u << AUTH_METHOD_COUNT) - 1u), 0);
	}
	assert_null(dialect_of_port(4444));
	assert_null(dialect_of_port(0));
	assert_null(dialect_of_tls_port(0));
	assert_null(dialect_of_tls_port(25));
	assert_ptr_equal(dialect_of_port(2525), &smtp_dialect);
	assert_ptr_equal(dialect_of_tls_port(993), &imap_dialect);
	/* SMTP: SASL only, the SMTP envelope, numbered replies. */
	assert_int_equal(smtp_dialect.auth_methods, DIALECT_SASL_METHODS);
	assert_null(smtp_dialect.implied_methods);
	assert_null(smtp_dialect.preauth_greeting);
	assert_true(smtp_dialect.mail_envelope);
	assert_false(imap_dialect.mail_envelope);
	assert_false(pop3_dialect.mail_envelope);
	assert_int_equal(smtp_dialect.starttls_go_ahead_code, 220);
	assert_int_equal(smtp_dialect.quit_code, 221);
	assert_string_equal(smtp_dialect.login_probe, "AUTH PLAIN");
	assert_null(smtp_dialect.login_probe_cap);
}

/* authenticate takes what auth_methods lists: a method outside it is
 * MP_ERR_INTERNAL before anything is sent. */
static void test_smtp_authenticate_refuses_unlisted_methods(void **state)
{
	struct fx *f = fx_new(0);
	struct auth_config cfg = {.user = "u", .password = "p"};
	struct auth_request req = {.cfg = &cfg};
	struct auth_outcome out;

	(void)state;
	for (int m = 0; m < AUTH_METHOD_COUNT; m++) {
		if (smtp_dialect.auth_methods & (1u << m))
			continue;
		req.method = (enum auth_method)m;
		memset(&out, 0, sizeof(out));
		assert_int_equal(smtp_dialect.authenticate(&f->s, &req, &out), MP_ERR_INTERNAL);
	}
	assert_int_equal(f->s.res->transcript.n, 0);
	fx_free(f);
}

/* ---- Real time: a trickling server must not stretch the reply deadline ---- */

struct trickler {
	int fd;
	int lines;
};

/* Sends the greeting, then after the EHLO one continuation line every 50 ms,
 * up to `lines`; stops when the client hangs up. */
static void *trickle_server(void *arg)
{
	struct trickler *t = arg;
	static const char greet[] = "220 slow.example ESMTP\r\n";
	static const char cont[] = "250-SLOW\r\n";
	char buf[256];

	if (send(t->fd, greet, sizeof(greet) - 1, MSG_NOSIGNAL) < 0)
		return NULL;
	if (recv(t->fd, buf, sizeof(buf), 0) <= 0)
		return NULL;
	for (int i = 0; i < t->lines; i++) {
		struct timespec ts = {0, 50 * 1000 * 1000};

		if (send(t->fd, cont, sizeof(cont) - 1, MSG_NOSIGNAL) < 0)
			break;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void test_trickle_cannot_extend_deadline(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct trickler t = {-1, 60};
	pthread_t th;
	int sv[2];
	int64_t t0;

	(void)state;
	assert_non_null(f);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	t.fd = sv[1];
	f->ep.proto = PROTO_SMTP;
	f->cfg.greeting_timeout_ms = 1000;
	f->cfg.command_timeout_ms = 300;
	f->cfg.ehlo_name = "probe.example";
	result_init(&f->res, &f->ep);
	session_init(&f->s, &f->ep, &f->cfg, &f->res, stream_fd_new(sv[0]), deadline_in(10000));
	assert_int_equal(pthread_create(&th, NULL, trickle_server, &t), 0);

	check_status(f, smtp_dialect.greeting(&f->s), MP_OK);
	t0 = mono_ms();
	check_status(f, smtp_dialect.capabilities(&f->s), MP_ERR_TIMEOUT);
	/* 60 lines at 50 ms would take 3 s; the reply deadline is 300 ms. */
	assert_in_range(mono_ms() - t0, 250, 1500);
	check_msg(f, "middle of its reply to EHLO");

	session_close(&f->s);
	pthread_join(th, NULL);
	close(sv[1]);
	result_free(&f->res);
	free(f);
}

/* ---- SASL success data (RFC 4422 section 5) through a framing ---- */

/* A framing that answers like a protocol carrying the server's last SCRAM
 * message in its success reply and framing client responses itself
 * (ManageSieve's OK (SASL "...") and quoted strings, RFC 5804 2.1): the
 * RFC 5802 section 5 exchange for user "user", password "pencil". */
static const char *fake_success_data;
static unsigned fake_round;

static enum mp_status fake_start(struct session *s, const char *mech, const char *ir, bool *ir_sent)
{
	(void)s;
	assert_string_equal(mech, "SCRAM-SHA-1");
	assert_non_null(ir);
	*ir_sent = true;
	return MP_OK;
}

static enum mp_status fake_next(struct session *s, const struct auth_config *cfg,
                                enum sasl_answer *kind, char *text, size_t textsz,
                                struct auth_outcome *out)
{
	const char *msg = fake_round++ == 0
	                      ? "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,"
	                        "i=4096"
	                      : fake_success_data;
	char *b64 = b64_encode(msg, strlen(msg));

	(void)s;
	(void)cfg;
	(void)out;
	assert_non_null(b64);
	assert_true(strlen(b64) < textsz);
	snprintf(text, textsz, "%s", b64);
	free(b64);
	*kind = fake_round == 1 ? SASL_A_CHALLENGE : SASL_A_SUCCESS;
	return MP_OK;
}

static unsigned fake_responses;

/* Counts the responses the exchange hands over instead of sending them. */
static enum mp_status fake_respond(struct session *s, const char *resp)
{
	(void)s;
	assert_true(strlen(resp) > 0);
	fake_responses++;
	return MP_OK;
}

static const struct sasl_framing fake_framing = {
    .start = fake_start, .next = fake_next, .respond = fake_respond};

/* Runs the exchange with fake_success_data as the data of the success. */
static enum mp_status fake_exchange(const char *success_data, struct auth_outcome *out,
                                    struct mp_error *err)
{
	struct fx *f = fx_new(0);
	struct auth_config cfg = {.user = "user", .password = "pencil"};
	struct auth_request req = {
	    .method = AUTH_SCRAM_SHA_1, .cfg = &cfg, .scram_nonce = "fyko+d2lbbFgONRv9qkxdawL"};
	enum mp_status st;

	fake_success_data = success_data;
	fake_round = 0;
	fake_responses = 0;
	st = auth_sasl_exchange(&f->s, &req, &fake_framing, out);
	*err = f->s.err;
	/* The client-final message went through the framing, nothing else
	 * reached the wire. */
	assert_int_equal(fake_responses, 1);
	assert_int_equal(f->s.res->transcript.n, 0);
	fx_free(f);
	return st;
}

static void test_sasl_framing_success_data_and_responses(void **state)
{
	struct auth_outcome out;
	struct mp_error err;

	(void)state;
	assert_int_equal(fake_exchange("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=", &out, &err), MP_OK);
	assert_int_equal(out.verdict, AUTH_V_OK);
	assert_non_null(strstr(out.detail, "server signature verified"));
	/* A wrong signature in the success data: the server is not trusted. */
	assert_int_equal(fake_exchange("v=AAAAAAAAAAAAAAAAAAAAAAAAAAA=", &out, &err),
	                 MP_ERR_PROTOCOL);
	assert_non_null(strstr(err.msg, "does not verify"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_postfix_session),
	    cmocka_unit_test(test_postfix_trickled),
	    cmocka_unit_test(test_multiline_greeting),
	    cmocka_unit_test(test_code_only_lines),
	    cmocka_unit_test(test_ehlo_normalised),
	    cmocka_unit_test(test_greeting_554_rejected),
	    cmocka_unit_test(test_greeting_421_rejected),
	    cmocka_unit_test(test_greeting_not_220),
	    cmocka_unit_test(test_ehlo_refused_helo),
	    cmocka_unit_test(test_ehlo_and_helo_refused),
	    cmocka_unit_test(test_ehlo_421),
	    cmocka_unit_test(test_invalid_code),
	    cmocka_unit_test(test_code_out_of_range),
	    cmocka_unit_test(test_bad_separator),
	    cmocka_unit_test(test_mixed_codes),
	    cmocka_unit_test(test_message_quoting),
	    cmocka_unit_test(test_continuation_flood),
	    cmocka_unit_test(test_reply_bytes_limit),
	    cmocka_unit_test(test_overlong_line),
	    cmocka_unit_test(test_silent_server),
	    cmocka_unit_test(test_greeting_stalls),
	    cmocka_unit_test(test_closed_before_greeting),
	    cmocka_unit_test(test_closed_mid_reply),
	    cmocka_unit_test(test_ehlo_no_answer),
	    cmocka_unit_test(test_nul_in_reply),
	    cmocka_unit_test(test_unsolicited_before_ehlo),
	    cmocka_unit_test(test_starttls_refused),
	    cmocka_unit_test(test_quit_keeps_error),
	    cmocka_unit_test(test_caps_limit),
	    cmocka_unit_test(test_dialect_for),
	    cmocka_unit_test(test_dialect_table_complete),
	    cmocka_unit_test(test_smtp_authenticate_refuses_unlisted_methods),
	    cmocka_unit_test(test_sasl_framing_success_data_and_responses),
	    cmocka_unit_test(test_trickle_cannot_extend_deadline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
