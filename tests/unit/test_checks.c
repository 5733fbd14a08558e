/* Unit tests: the active checks (probe/engine/checks.c, checks/) against scripted servers
 * (in-memory streams): each check's verdict for pass, fail and inconclusive
 * scripts, what goes on the wire, evidence bounded and escaped, no secret.
 * The check steps are static: the file is included, as libssh's tests do. */
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
#include "probe/engine/checks.c"
/* its static steps are tested one by one; the other checks through their
 * descriptors */
#include "probe/engine/checks/starttls_injection.c"

/* The names and credentials the checks send (their files' own constants). */
#define VRFY_RANDOM_PREFIX "mailprobe-nobody-"
#define INVALID_USER       "mailprobe-check.invalid"
#define INVALID_PLAIN_IR   "AG1haWxwcm9iZS1jaGVjay5pbnZhbGlkAGludmFsaWQ="
#define RELAY_LOCAL_PART   "mailprobe-relay-test"

/* A check on a scripted server speaking proto in mode. */
struct cx {
	struct endpoint ep;
	struct probe_config cfg;
	struct check_config cc;
	struct probe_result res;
	struct check_result c;
	struct session s;
	struct check_run r;
	struct stream *m;
};

static struct cx *cx_new(enum protocol proto, enum sec_mode mode)
{
	struct cx *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	x->ep.proto = proto;
	x->ep.mode = mode;
	snprintf(x->ep.host, sizeof(x->ep.host), "127.0.0.1");
	x->ep.port = 2525;
	x->cfg.connect_timeout_ms = 1000;
	x->cfg.greeting_timeout_ms = 1000;
	x->cfg.command_timeout_ms = 1000;
	x->cfg.tls_timeout_ms = 1000;
	x->cfg.ehlo_name = "probe.invalid";
	x->cfg.checks = &x->cc;
	x->cc.mail_from = "a@localhost";
	x->cc.rcpt_to = "b@localhost";
	x->cc.relay_from = CHECK_RELAY_FROM_DEFAULT;
	x->cc.relay_to = CHECK_RELAY_TO_DEFAULT;
	result_init(&x->res, &x->ep);
	x->m = stream_mem_new(0);
	assert_non_null(x->m);
	session_init(&x->s, &x->ep, &x->cfg, &x->res, x->m, deadline_in(2000));
	x->r.s = &x->s;
	x->r.d = dialect_for(proto);
	x->r.cc = &x->cc;
	x->r.c = &x->c;
	x->c.name = "test";
	return x;
}

static void cx_free(struct cx *x)
{
	session_close(&x->s);
	result_free(&x->res);
	free(x);
}

static const char *written(struct cx *x)
{
	return stream_mem_written(x->m, NULL);
}

/* Asserts the state, printing the evidence when it differs; then that the
 * evidence is one bounded line of printable ASCII. */
static void check_state(struct cx *x, enum check_state want)
{
	size_t len = strnlen(x->c.evidence, sizeof(x->c.evidence));

	if (x->c.state != want) {
		print_error("state %s, expected %s; evidence: %s\n", check_state_name(x->c.state),
		            check_state_name(want), x->c.evidence);
		fail();
	}
	assert_true(len < sizeof(x->c.evidence));
	for (size_t i = 0; i < len; i++)
		assert_true(x->c.evidence[i] >= 0x20 && x->c.evidence[i] < 0x7f);
}

static void check_evidence(struct cx *x, const char *needle)
{
	if (!strstr(x->c.evidence, needle)) {
		print_error("evidence \"%s\" lacks \"%s\"\n", x->c.evidence, needle);
		fail();
	}
}

/* ---- selection ---- */

static void test_parse_list(void **state)
{
	struct check_config cc;
	struct mp_error err;

	(void)state;
	memset(&cc, 0, sizeof(cc));
	assert_int_equal(checks_parse_list("vrfy,starttls-injection", &cc, &err), 0);
	/* in the order of the table, whatever the order given */
	assert_int_equal(cc.nselected, 2);
	assert_string_equal(cc.selected[0], "starttls-injection");
	assert_string_equal(cc.selected[1], "vrfy");
	assert_true(checks_selected(&cc, "vrfy"));
	assert_false(checks_selected(&cc, "auth-before-tls"));
	assert_int_equal(checks_parse_list("vrfy,all,vrfy", &cc, &err), 0);
	assert_int_equal(cc.nselected, 4);
	assert_string_equal(cc.selected[0], "starttls-injection");
	assert_string_equal(cc.selected[1], "starttls-response-injection");
	assert_string_equal(cc.selected[2], "auth-before-tls");
	assert_string_equal(cc.selected[3], "vrfy");
	assert_false(checks_selected(&cc, "smtp-smuggling"));
	assert_false(checks_selected(&cc, "open-relay"));
	assert_int_equal(checks_parse_list("smtp-smuggling", &cc, &err), -1);
	assert_string_equal(err.msg, "--checks: smtp-smuggling sends messages, so it is opt-in: "
	                             "use --smuggling-test --mail-from ADDRESS --rcpt-to ADDRESS");
	assert_int_equal(checks_parse_list("smuggling", &cc, &err), -1);
	assert_non_null(strstr(err.msg, "--smuggling-test"));
	assert_int_equal(checks_parse_list("open-relay", &cc, &err), -1);
	assert_string_equal(err.msg, "--checks: open-relay is opt-in: use --relay-test "
	                             "[--relay-from DOMAIN --relay-to DOMAIN]");
	assert_int_equal(checks_parse_list("relay", &cc, &err), -1);
	assert_non_null(strstr(err.msg, "--relay-test"));
	assert_int_equal(checks_parse_list("vrfy,nosuch", &cc, &err), -1);
	assert_string_equal(err.msg, "--checks: unknown check 'nosuch': use starttls-injection, "
	                             "starttls-response-injection, auth-before-tls, vrfy or all");
	assert_int_equal(checks_parse_list("", &cc, &err), -1);
	assert_int_equal(cc.nselected, 4); /* the refused ones added nothing */
	/* the opt-in ones through their own option; unknown names refused */
	assert_int_equal(checks_select(&cc, "open-relay"), 0);
	assert_int_equal(checks_select(&cc, "smtp-smuggling"), 0);
	assert_int_equal(checks_select(&cc, "open-relay"), 0);
	assert_int_equal(cc.nselected, 6);
	assert_string_equal(cc.selected[4], "smtp-smuggling");
	assert_string_equal(cc.selected[5], "open-relay");
	assert_int_equal(checks_select(&cc, "nosuch"), -1);
	assert_int_equal(cc.nselected, 6);
}

/* Every check of the table has a name of its own, unlike any alias. */
static void test_table_names(void **state)
{
	(void)state;
	assert_true(NCHECKS <= MP_MAX_CHECKS);
	for (size_t k = 0; k < NCHECKS; k++) {
		assert_non_null(check_table[k]->name);
		for (size_t j = 0; j < NCHECKS; j++) {
			if (j != k)
				assert_string_not_equal(check_table[k]->name, check_table[j]->name);
			if (check_table[j]->alias)
				assert_string_not_equal(check_table[k]->name,
				                        check_table[j]->alias);
		}
	}
}

/* Without a selection nothing is planned; a failed probe skips every check;
 * the opt-in checks are planned only when selected (their flags). */
static void test_plan(void **state)
{
	struct cx *x = cx_new(PROTO_SMTP, MODE_STARTTLS);
	struct check_set *cs = NULL;
	struct mp_error err;

	(void)state;
	assert_null(checks_begin(&x->ep, &x->cfg, deadline_in(1000), &x->res));
	assert_null(x->res.checks);
	assert_int_equal(checks_parse_list("all", &x->cc, &err), 0);
	cs = checks_begin(&x->ep, &x->cfg, deadline_in(1000), &x->res);
	assert_non_null(cs);
	assert_int_equal(x->res.nchecks, 4);
	assert_int_equal(checks_pending(cs), 3); /* response injection is decided at once */
	for (size_t i = 0; i < x->res.nchecks; i++)
		assert_false(strncmp(x->res.checks[i].name, "smtp-smuggling", 14) == 0);
	assert_int_equal(x->res.checks[1].state, CHECK_PASS);
	checks_end(cs);
	free(x->res.checks);
	x->res.checks = NULL;
	x->res.nchecks = 0;

	assert_int_equal(checks_select(&x->cc, "smtp-smuggling"), 0);
	x->res.status = MP_ERR_TLS;
	cs = checks_begin(&x->ep, &x->cfg, deadline_in(1000), &x->res);
	assert_int_equal(x->res.nchecks, 4 + check_smuggling.nvariants);
	assert_int_equal(checks_pending(cs), 0);
	for (size_t i = 0; i < x->res.nchecks; i++)
		assert_int_equal(x->res.checks[i].state, CHECK_SKIPPED);
	checks_end(cs);
	cx_free(x);
}

/* Wrong protocol or mode: skipped with the reason. */
static void test_plan_skips(void **state)
{
	struct cx *x = cx_new(PROTO_IMAP, MODE_TLS);
	struct check_set *cs = NULL;
	struct mp_error err;

	(void)state;
	assert_int_equal(checks_parse_list("all", &x->cc, &err), 0);
	cs = checks_begin(&x->ep, &x->cfg, deadline_in(1000), &x->res);
	assert_int_equal(checks_pending(cs), 0);
	assert_non_null(strstr(x->res.checks[0].evidence, "STARTTLS endpoint"));
	assert_non_null(strstr(x->res.checks[2].evidence, "implicit TLS"));
	assert_non_null(strstr(x->res.checks[3].evidence, "SMTP only"));
	checks_end(cs);
	cx_free(x);
}

/* ---- starttls-injection: the verdict inside TLS ---- */

static void test_injection_smtp(void **state)
{
	struct cx *x = cx_new(PROTO_SMTP, MODE_STARTTLS);

	(void)state;
	stream_mem_add_str(x->m, 1, "221 2.0.0 Bye\r\n");
	injection_after_tls(&x->r, "");
	check_state(x, CHECK_PASS);
	assert_string_equal(written(x), "QUIT\r\n");
	cx_free(x);

	x = cx_new(PROTO_SMTP, MODE_STARTTLS);
	stream_mem_add_str(x->m, 1, "250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n");
	injection_after_tls(&x->r, "");
	check_state(x, CHECK_FAIL);
	check_evidence(x, "250");
	cx_free(x);

	x = cx_new(PROTO_SMTP, MODE_STARTTLS);
	stream_mem_close_after(x->m, 1);
	injection_after_tls(&x->r, "");
	check_state(x, CHECK_INCONCLUSIVE);
	cx_free(x);
}

static void test_injection_imap(void **state)
{
	struct cx *x = cx_new(PROTO_IMAP, MODE_STARTTLS);

	(void)state;
	x->s.imap_tag = 3;
	stream_mem_add_str(x->m, 1, "* BYE bye\r\na4 OK LOGOUT done\r\n");
	injection_after_tls(&x->r, "a3");
	check_state(x, CHECK_PASS);
	assert_string_equal(written(x), "a4 LOGOUT\r\n");
	cx_free(x);

	x = cx_new(PROTO_IMAP, MODE_STARTTLS);
	x->s.imap_tag = 3;
	stream_mem_add_str(x->m, 1, "a3 OK NOOP done\r\n* BYE\r\na4 OK\r\n");
	injection_after_tls(&x->r, "a3");
	check_state(x, CHECK_FAIL);
	check_evidence(x, "a3 OK NOOP done");
	cx_free(x);
}

static void test_injection_pop3(void **state)
{
	struct cx *x = cx_new(PROTO_POP3, MODE_STARTTLS);

	(void)state;
	stream_mem_add_str(x->m, 1, "+OK bye\r\n");
	stream_mem_close_after(x->m, 1);
	injection_after_tls(&x->r, "");
	check_state(x, CHECK_PASS);
	cx_free(x);

	x = cx_new(PROTO_POP3, MODE_STARTTLS);
	stream_mem_add_str(x->m, 1, "+OK\r\n+OK bye\r\n");
	injection_after_tls(&x->r, "");
	check_state(x, CHECK_FAIL);
	cx_free(x);
}

/* The pipelined line: both commands in one write. */
static void test_injection_line(void **state)
{
	struct cx *x = cx_new(PROTO_IMAP, MODE_STARTTLS);
	char line[64], a[16], b[16];

	(void)state;
	x->s.imap_tag = 1;
	injection_line(&x->r, line, sizeof(line), a, b, sizeof(a));
	assert_string_equal(line, "a2 STARTTLS\r\na3 NOOP");
	assert_string_equal(b, "a3");
	cx_free(x);
}

/* ---- auth-before-tls ---- */

static const char EHLO_NO_AUTH[] = "250-mail.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n";

static void run_auth_smtp(const char *reply, enum check_state want)
{
	struct cx *x = cx_new(PROTO_SMTP, MODE_STARTTLS);

	stream_mem_add_str(x->m, 0, "220 mail.test ESMTP\r\n");
	stream_mem_add_str(x->m, 1, EHLO_NO_AUTH);
	stream_mem_add_str(x->m, 2, reply);
	stream_mem_add_str(x->m, 3, "501 cancelled\r\n221 bye\r\n");
	check_auth_before_tls.run(&x->r);
	check_state(x, want);
	/* the made-up credential on the wire, redacted in the evidence */
	assert_non_null(strstr(written(x), "AUTH PLAIN " INVALID_PLAIN_IR "\r\n"));
	assert_null(strstr(x->c.evidence, INVALID_PLAIN_IR));
	check_evidence(x, "<invalid credential");
	cx_free(x);
}

static void test_auth_smtp(void **state)
{
	(void)state;
	run_auth_smtp("530 5.7.0 Must issue a STARTTLS command first\r\n", CHECK_PASS);
	run_auth_smtp("503 5.5.1 Error: authentication not enabled\r\n", CHECK_PASS);
	run_auth_smtp("535 5.7.8 Authentication credentials invalid\r\n", CHECK_FAIL);
	run_auth_smtp("334 \r\n", CHECK_FAIL);
	run_auth_smtp("454 4.7.0 Temporary authentication failure\r\n", CHECK_INCONCLUSIVE);
}

/* AUTH advertised before TLS: nothing hidden to test. */
static void test_auth_smtp_advertised(void **state)
{
	struct cx *x = cx_new(PROTO_SMTP, MODE_PLAIN);

	(void)state;
	stream_mem_add_str(x->m, 0, "220 mail.test ESMTP\r\n");
	stream_mem_add_str(x->m, 1, "250-mail.test\r\n250 AUTH PLAIN LOGIN\r\n");
	stream_mem_add_str(x->m, 2, "221 bye\r\n");
	check_auth_before_tls.run(&x->r);
	check_state(x, CHECK_SKIPPED);
	assert_null(strstr(written(x), "AUTH"));
	cx_free(x);
}

static void run_auth_imap(const char *reply, enum check_state want)
{
	struct cx *x = cx_new(PROTO_IMAP, MODE_STARTTLS);

	stream_mem_add_str(x->m, 0, "* OK ready\r\n");
	stream_mem_add_str(x->m, 1,
	                   "* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\na1 OK done\r\n");
	stream_mem_add_str(x->m, 2, reply);
	stream_mem_add_str(x->m, 3, "* BYE\r\na3 OK bye\r\n");
	check_auth_before_tls.run(&x->r);
	check_state(x, want);
	assert_non_null(strstr(written(x), "a2 LOGIN " INVALID_USER " invalid\r\n"));
	check_evidence(x, "<invalid password>");
	cx_free(x);
}

static void test_auth_imap(void **state)
{
	(void)state;
	run_auth_imap("a2 NO [PRIVACYREQUIRED] not without TLS\r\n", CHECK_PASS);
	run_auth_imap("a2 BAD not now\r\n", CHECK_PASS);
	run_auth_imap("a2 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n", CHECK_FAIL);
	run_auth_imap("a2 OK logged in\r\n", CHECK_FAIL);
	run_auth_imap("a2 NO no\r\n", CHECK_INCONCLUSIVE);
}

static void run_auth_pop3(const char *capa, const char *reply, enum check_state want)
{
	struct cx *x = cx_new(PROTO_POP3, MODE_STARTTLS);

	stream_mem_add_str(x->m, 0, "+OK ready\r\n");
	stream_mem_add_str(x->m, 1, capa);
	stream_mem_add_str(x->m, 2, reply);
	stream_mem_add_str(x->m, 3, "+OK bye\r\n");
	check_auth_before_tls.run(&x->r);
	check_state(x, want);
	cx_free(x);
}

static void test_auth_pop3(void **state)
{
	(void)state;
	run_auth_pop3("+OK\r\nTOP\r\nSTLS\r\n.\r\n", "-ERR [AUTH] not without TLS\r\n", CHECK_PASS);
	run_auth_pop3("+OK\r\nTOP\r\nSTLS\r\n.\r\n", "+OK send PASS\r\n", CHECK_FAIL);
	run_auth_pop3("+OK\r\nUSER\r\nSTLS\r\n.\r\n", "+OK\r\n", CHECK_SKIPPED);
}

/* ---- vrfy ---- */

/* A plain SMTP session answering VRFY and EXPN with the codes given (as
 * one scripted reply each). */
static struct cx *run_vrfy(const char *user, const char *const *replies, size_t n)
{
	struct cx *x = cx_new(PROTO_SMTP, MODE_PLAIN);

	x->cc.enum_user = user;
	stream_mem_add_str(x->m, 0, "220 mail.test ESMTP\r\n");
	stream_mem_add_str(x->m, 1, "250-mail.test\r\n250 PIPELINING\r\n");
	for (size_t i = 0; i < n; i++)
		stream_mem_add_str(x->m, (unsigned)(2 + i), replies[i]);
	stream_mem_add_str(x->m, (unsigned)(2 + n), "221 bye\r\n");
	check_vrfy.run(&x->r);
	return x;
}

/* Replies in the order asked: VRFY random, VRFY known, EXPN random, EXPN known. */
static void test_vrfy(void **state)
{
	static const char *const off[] = {"502 5.5.1 VRFY command is disabled\r\n",
	                                  "502 5.5.1 VRFY command is disabled\r\n",
	                                  "502 5.5.2 Error: command not recognized\r\n",
	                                  "502 5.5.2 Error: command not recognized\r\n"};
	/* Exim 4.96 as installed (no VRFY / EXPN ACL): 501 to a bare name but
	 * postmaster, asked again with the greeting's domain: 252
	 * Administrative prohibition; EXPN 550 Administrative prohibition: the
	 * same for everybody (issue 23's false alarm) */
	static const char *const exim[] = {"501 x: recipient address must contain a domain\r\n",
	                                   "252 Administrative prohibition\r\n",
	                                   "252 Administrative prohibition\r\n",
	                                   "252 Administrative prohibition\r\n",
	                                   "550 Administrative prohibition\r\n",
	                                   "550 Administrative prohibition\r\n"};
	/* Exim with acl_smtp_vrfy = accept: with the domain VRFY tells apart */
	static const char *const exim_on[] = {"501 x: recipient address must contain a domain\r\n",
	                                      "250 <postmaster@mail.test> is deliverable\r\n",
	                                      "550 <x@mail.test> Unrouteable address\r\n",
	                                      "250 <postmaster@mail.test> is deliverable\r\n",
	                                      "502 no\r\n",
	                                      "502 no\r\n"};
	/* Postfix with VRFY on: 252 for postmaster, 550 for the random name */
	static const char *const apart[] = {
	    "550 5.1.1 <x>: Recipient address rejected: User unknown\r\n",
	    "252 2.0.0 postmaster\r\n", "502 no\r\n", "502 no\r\n"};
	/* the same denial for everybody: nothing to tell apart */
	static const char *const uniform[] = {
	    "550 5.1.1 User unknown\r\n", "550 5.1.1 User unknown\r\n", "502 no\r\n", "502 no\r\n"};
	static const char *const same[] = {"252 2.0.0 x\r\n", "252 2.0.0 root\r\n", "502 no\r\n",
	                                   "502 no\r\n"};
	static const char *const expn_apart[] = {"252 x\r\n", "252 root\r\n",
	                                         "550 5.1.1 no such user\r\n", "250 root@x\r\n"};
	static const char *const odd[] = {"451 try later\r\n", "252 root\r\n", "502 no\r\n",
	                                  "502 no\r\n"};
	/* Postfix's submission port: postmaster 252, a bare random name
	 * qualified into a remote domain 554 Relay access denied */
	static const char *const policy[] = {"554 5.7.1 <x>: Relay access denied\r\n",
	                                     "252 2.0.0 postmaster\r\n", "500 no\r\n",
	                                     "500 no\r\n"};
	struct cx *x = NULL;
	const char *w = NULL;

	(void)state;
	x = run_vrfy(NULL, off, 4);
	check_state(x, CHECK_PASS);
	check_evidence(x, "refused for both (502 / 502)");
	w = written(x);
	assert_non_null(strstr(w, "VRFY " VRFY_RANDOM_PREFIX));
	assert_non_null(strstr(w, "\r\nVRFY postmaster\r\nEXPN " VRFY_RANDOM_PREFIX));
	assert_non_null(strstr(w, "\r\nEXPN postmaster\r\n"));
	cx_free(x);
	x = run_vrfy(NULL, exim, 6);
	check_state(x, CHECK_PASS);
	check_evidence(x, "VRFY refused for both (252 / 252)");
	check_evidence(x, "Administrative prohibition");
	assert_non_null(strstr(written(x), "\r\nVRFY postmaster@mail.test\r\n"));
	cx_free(x);
	x = run_vrfy(NULL, exim_on, 6);
	check_state(x, CHECK_FAIL);
	check_evidence(x, "VRFY 250 / 550");
	cx_free(x);
	x = run_vrfy(NULL, apart, 4);
	check_state(x, CHECK_FAIL);
	check_evidence(x, "VRFY 252 / 550");
	cx_free(x);
	x = run_vrfy(NULL, uniform, 4);
	check_state(x, CHECK_PASS);
	check_evidence(x, "the same answer for both");
	cx_free(x);
	x = run_vrfy("root", same, 4);
	check_state(x, CHECK_PASS);
	assert_non_null(strstr(written(x), "VRFY root\r\n"));
	assert_null(strstr(written(x), "postmaster"));
	cx_free(x);
	x = run_vrfy("root", expn_apart, 4);
	check_state(x, CHECK_FAIL);
	check_evidence(x, "EXPN answers root");
	cx_free(x);
	x = run_vrfy(NULL, policy, 4);
	check_state(x, CHECK_PASS);
	check_evidence(x, "says nothing about the user");
	cx_free(x);
	x = run_vrfy("root", odd, 4);
	check_state(x, CHECK_INCONCLUSIVE);
	cx_free(x);
}

/* ---- smtp-smuggling and open-relay ---- */

static struct cx *run_smuggling(size_t variant, const char *after_data, const char *after_quit)
{
	struct cx *x = cx_new(PROTO_SMTP, MODE_PLAIN);

	x->r.variant = variant;
	stream_mem_add_str(x->m, 0, "220 mail.test ESMTP\r\n");
	stream_mem_add_str(x->m, 1, "250 mail.test\r\n");
	stream_mem_add_str(x->m, 2, "250 2.1.0 Ok\r\n");
	stream_mem_add_str(x->m, 3, "250 2.1.5 Ok\r\n");
	stream_mem_add_str(x->m, 4, "354 End data with <CR><LF>.<CR><LF>\r\n");
	stream_mem_add_str(x->m, 5, after_data);
	stream_mem_add_str(x->m, 6, after_quit);
	check_smuggling.run(&x->r);
	return x;
}

static void test_smuggling(void **state)
{
	struct cx *x = NULL;

	(void)state;
	x = run_smuggling(0, "250 2.0.0 Ok: queued\r\n", "221 2.0.0 Bye\r\n");
	check_state(x, CHECK_PASS);
	/* the variant, then MAIL FROM, then the real end of data, in one write */
	assert_non_null(
	    strstr(written(x), "message.\n.\nMAIL FROM:<a@localhost>\r\n.\r\nQUIT\r\n"));
	assert_non_null(strstr(written(x), "MAIL FROM:<a@localhost>\r\nRCPT TO:<b@localhost>\r\n"
	                                   "DATA\r\n"));
	check_evidence(x, "\\x0a.\\x0aMAIL FROM");
	cx_free(x);

	x = run_smuggling(3, "250 2.0.0 Ok: queued\r\n250 2.1.0 Ok\r\n502 5.5.2 Error\r\n",
	                  "221 2.0.0 Bye\r\n");
	check_state(x, CHECK_FAIL);
	check_evidence(x, "<CR><LF>.<LF>");
	check_evidence(x, "250 502");
	cx_free(x);

	x = run_smuggling(1, "550 5.5.2 bare <LF> received\r\n", "221 Bye\r\n");
	check_state(x, CHECK_PASS);
	check_evidence(x, "refused the message");
	cx_free(x);
}

/* RCPT refused: no DATA is sent, the verdict says what to give. */
static void test_smuggling_rcpt_refused(void **state)
{
	struct cx *x = cx_new(PROTO_SMTP, MODE_PLAIN);

	(void)state;
	stream_mem_add_str(x->m, 0, "220 mail.test ESMTP\r\n");
	stream_mem_add_str(x->m, 1, "250 mail.test\r\n");
	stream_mem_add_str(x->m, 2, "250 2.1.0 Ok\r\n");
	stream_mem_add_str(x->m, 3, "554 5.7.1 Relay access denied\r\n");
	stream_mem_add_str(x->m, 4, "221 Bye\r\n");
	check_smuggling.run(&x->r);
	check_state(x, CHECK_INCONCLUSIVE);
	check_evidence(x, "--rcpt-to");
	assert_null(strstr(written(x), "DATA"));
	cx_free(x);
}

static void run_relay(const char *rcpt_reply, enum check_state want)
{
	struct cx *x = cx_new(PROTO_SMTP, MODE_PLAIN);

	stream_mem_add_str(x->m, 0, "220 mail.test ESMTP\r\n");
	stream_mem_add_str(x->m, 1, "250 mail.test\r\n");
	stream_mem_add_str(x->m, 2, "250 2.1.0 Ok\r\n");
	stream_mem_add_str(x->m, 3, rcpt_reply);
	stream_mem_add_str(x->m, 4, "250 reset\r\n");
	stream_mem_add_str(x->m, 5, "221 Bye\r\n");
	check_open_relay.run(&x->r);
	check_state(x, want);
	assert_non_null(strstr(
	    written(x), "MAIL FROM:<" RELAY_LOCAL_PART "@" CHECK_RELAY_FROM_DEFAULT
	                ">\r\nRCPT TO:<" RELAY_LOCAL_PART "@" CHECK_RELAY_TO_DEFAULT ">\r\n"));
	assert_null(strstr(written(x), "DATA"));
	cx_free(x);
}

static void test_relay(void **state)
{
	(void)state;
	run_relay("250 2.1.5 Ok\r\n", CHECK_FAIL);
	run_relay("554 5.7.1 Relay access denied\r\n", CHECK_PASS);
	run_relay("450 4.7.1 try later\r\n", CHECK_INCONCLUSIVE);
}

/* ---- evidence ---- */

/* Control bytes and a flood of long lines: escaped, cut, one line. */
static void test_evidence_bounded_escaped(void **state)
{
	struct cx *x = cx_new(PROTO_SMTP, MODE_STARTTLS);
	char line[300];

	(void)state;
	memset(line, 'x', sizeof(line));
	memcpy(line, "250-\x1b[2J\x9b", 9);
	memcpy(line + sizeof(line) - 2, "\r\n", 2);
	for (int i = 0; i < 20; i++)
		stream_mem_add(x->m, 1, line, sizeof(line));
	stream_mem_add_str(x->m, 1, "250 done\r\n");
	injection_after_tls(&x->r, "");
	check_state(x, CHECK_FAIL);
	check_evidence(x, "\\x1b[2J\\x9b");
	assert_true(strlen(x->c.evidence) == sizeof(x->c.evidence) - 1);
	assert_string_equal(x->c.evidence + sizeof(x->c.evidence) - 4, "...");
	cx_free(x);
}

/* The probe's own finding makes the response-injection check fail. */
static void test_response_injection(void **state)
{
	struct probe_result res;
	struct check_result c;
	struct endpoint ep = {.proto = PROTO_SMTP, .mode = MODE_STARTTLS, .port = 25};

	(void)state;
	result_init(&res, &ep);
	memset(&c, 0, sizeof(c));
	check_response_injection.decide(&res, &c);
	assert_int_equal(c.state, CHECK_PASS);
	result_add_finding(&res, FINDING_STARTTLS_INJECTION, "server sent 12 bytes\x1b");
	check_response_injection.decide(&res, &c);
	assert_int_equal(c.state, CHECK_FAIL);
	assert_non_null(strstr(c.evidence, "12 bytes\\x1b"));
	result_free(&res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_list),
	    cmocka_unit_test(test_table_names),
	    cmocka_unit_test(test_plan),
	    cmocka_unit_test(test_plan_skips),
	    cmocka_unit_test(test_injection_smtp),
	    cmocka_unit_test(test_injection_imap),
	    cmocka_unit_test(test_injection_pop3),
	    cmocka_unit_test(test_injection_line),
	    cmocka_unit_test(test_auth_smtp),
	    cmocka_unit_test(test_auth_smtp_advertised),
	    cmocka_unit_test(test_auth_imap),
	    cmocka_unit_test(test_auth_pop3),
	    cmocka_unit_test(test_vrfy),
	    cmocka_unit_test(test_smuggling),
	    cmocka_unit_test(test_smuggling_rcpt_refused),
	    cmocka_unit_test(test_relay),
	    cmocka_unit_test(test_evidence_bounded_escaped),
	    cmocka_unit_test(test_response_injection),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
