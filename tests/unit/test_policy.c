/* test_policy.c - policy rules: options and --policy files (probe/
 * policy_opts.c, cli.c) and their evaluation into verdicts and exit codes
 * (reports/policy.c), each rule both ways. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe/app/cli.h"
#include "probe/app/policy_opts.h"
#include "reports/report.h"

#define MAXR 8

struct fx {
	struct run_options opt;
	struct probe_result res[MAXR];
	size_t n;
	struct run_report rep;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	policy_defaults(&f->opt.policy);
	f->opt.policy.active = true;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	for (size_t i = 0; i < f->n; i++)
		result_free(&f->res[i]);
	report_free(&f->rep);
	free(f);
	return 0;
}

/* Adds a result: ok ones greeted; failed ones did not. */
static struct probe_result *add(struct fx *f, enum protocol p, enum sec_mode m, uint16_t port,
                                enum mp_status st)
{
	struct probe_result *r = &f->res[f->n++];
	struct endpoint ep;

	memset(&ep, 0, sizeof(ep));
	ep.proto = p;
	ep.mode = m;
	ep.port = port;
	snprintf(ep.host, sizeof(ep.host), "127.0.0.1");
	result_init(r, &ep);
	if (st == MP_OK)
		r->greeting = strdup("220 mail.test ESMTP");
	else
		result_fail(r, st, NULL);
	r->t.total = 10;
	return r;
}

/* A completed handshake with a leaf that has days_left days. */
static void tls(struct probe_result *r, const char *version, bool verified, long days)
{
	r->tls_used = true;
	r->tls.done = true;
	snprintf(r->tls.version, sizeof(r->tls.version), "%s", version);
	r->tls.verified = verified;
	r->tls.hostname_matched = verified;
	if (!verified)
		snprintf(r->tls.verify_error, sizeof(r->tls.verify_error),
		         "certificate has expired");
	r->tls.chain_len = 1;
	r->tls.chain[0].not_after = strdup("2027-01-01T00:00:00Z");
	r->tls.chain[0].days_left = days;
}

static void eval(struct fx *f)
{
	report_free(&f->rep);
	memset(&f->rep, 0, sizeof(f->rep));
	f->rep.opt = &f->opt;
	f->rep.results = f->res;
	f->rep.n = f->n;
	report_recommend(&f->rep);
	assert_int_equal(report_evaluate(&f->rep), 0);
}

/* The verdict of rule on endpoint i, or NULL. */
static const struct verdict *find(const struct fx *f, const char *rule, int i)
{
	for (size_t k = 0; k < f->rep.nverdicts; k++)
		if (strcmp(f->rep.verdicts[k].rule, rule) == 0 && f->rep.verdicts[k].endpoint == i)
			return &f->rep.verdicts[k];
	return NULL;
}

/* Asserts rule's state on endpoint i (and that the message mentions what). */
static void expect_state(const struct fx *f, const char *rule, int i, enum pstate st,
                         const char *what)
{
	const struct verdict *v = find(f, rule, i);

	if (!v)
		fail_msg("no verdict of %s on endpoint %d", rule, i);
	if (v->state != st)
		fail_msg("%s on %d: %s (%s), expected %s", rule, i, pstate_name(v->state),
		         v->message, pstate_name(st));
	if (what && !strstr(v->message, what))
		fail_msg("%s on %d: message '%s' lacks '%s'", rule, i, v->message, what);
}

static void test_no_policy_keeps_old_codes(void **state)
{
	struct fx *f = *state;

	f->opt.policy.active = false;
	add(f, PROTO_SMTP, MODE_PLAIN, 25, MP_ERR_REFUSED);
	eval(f);
	assert_int_equal(f->rep.nverdicts, 0);
	assert_int_equal(f->rep.state, PSTATE_CRITICAL);
	assert_int_equal(report_exit_code(&f->rep), MP_EXIT_NONE_ANSWERED);
	add(f, PROTO_SMTP, MODE_STARTTLS, 587, MP_ERR_STARTTLS_REFUSED)->greeting = strdup("220 x");
	eval(f);
	assert_int_equal(f->rep.state, PSTATE_OK);
	assert_int_equal(report_exit_code(&f->rep), MP_EXIT_OK);
}

static void test_expect_and_optional(void **state)
{
	struct fx *f = *state;

	add(f, PROTO_SMTP, MODE_TLS, 465, MP_OK);
	add(f, PROTO_SMTP, MODE_STARTTLS, 587, MP_ERR_STARTTLS_REFUSED)->greeting = strdup("220");
	add(f, PROTO_POP3, MODE_PLAIN, 110, MP_ERR_REFUSED);
	eval(f);
	expect_state(f, RULE_EXPECT, 0, PSTATE_OK, "ok");
	expect_state(f, RULE_EXPECT, 1, PSTATE_CRITICAL, "starttls_refused");
	expect_state(f, RULE_EXPECT, 2, PSTATE_CRITICAL, "refused");
	assert_int_equal(report_exit_code(&f->rep), 2);

	/* answer: greeting is enough */
	f->opt.policy.expect = EXPECT_ANSWER;
	eval(f);
	expect_state(f, RULE_EXPECT, 1, PSTATE_OK, "answered");
	expect_state(f, RULE_EXPECT, 2, PSTATE_CRITICAL, "did not answer");

	/* an optional endpoint only warns */
	struct mp_error err;

	assert_int_equal(
	    policy_set(&f->opt.policy, "optional", "pop3://127.0.0.1:110", "test", &err), 0);
	eval(f);
	expect_state(f, RULE_EXPECT, 2, PSTATE_WARNING, "(optional endpoint)");
	assert_int_equal(f->rep.state, PSTATE_WARNING);
	assert_int_equal(report_exit_code(&f->rep), 1);
	/* another mode of the same port is not optional */
	f->opt.policy.noptional = 0;
	assert_int_equal(
	    policy_set(&f->opt.policy, "optional", "pop3s://127.0.0.1:110", "test", &err), 0);
	eval(f);
	expect_state(f, RULE_EXPECT, 2, PSTATE_CRITICAL, NULL);
}

static void test_auto_counts_recommended_only(void **state)
{
	struct fx *f = *state;

	f->opt.auto_mode = true;
	f->opt.auto_proto = PROTO_IMAP;
	add(f, PROTO_IMAP, MODE_TLS, 993, MP_ERR_GREETING_TIMEOUT);
	tls(add(f, PROTO_IMAP, MODE_STARTTLS, 143, MP_OK), "TLSv1.3", true, 300);
	add(f, PROTO_IMAP, MODE_PLAIN, 143, MP_ERR_SKIPPED);
	eval(f);
	assert_null(find(f, RULE_EXPECT, 0));
	assert_null(find(f, RULE_EXPECT, 2));
	expect_state(f, RULE_EXPECT, 1, PSTATE_OK, NULL);
	assert_int_equal(f->rep.state, PSTATE_OK);
	/* nothing worked: one run-level CRITICAL */
	f->res[1].status = MP_ERR_TIMEOUT;
	eval(f);
	expect_state(f, RULE_EXPECT, -1, PSTATE_CRITICAL, "--auto imap: no combination worked");
	assert_int_equal(report_exit_code(&f->rep), 2);
}

static void test_tls_rules(void **state)
{
	struct fx *f = *state;
	struct policy *p = &f->opt.policy;
	struct probe_result *legacy = NULL;

	p->require_tls = true;
	p->min_tls = MP_TLS_V1_2;
	p->require_verified = true;
	add(f, PROTO_SMTP, MODE_PLAIN, 25, MP_OK);                           /* 0 */
	tls(add(f, PROTO_SMTP, MODE_TLS, 465, MP_OK), "TLSv1.3", true, 200); /* 1 */
	legacy = add(f, PROTO_IMAP, MODE_TLS, 993, MP_OK);                   /* 2 */
	tls(legacy, "TLSv1.1", false, -5);
	tls(add(f, PROTO_POP3, MODE_TLS, 995, MP_OK), "TLSv1.3", true, 10);     /* 3 */
	tls(add(f, PROTO_POP3, MODE_STARTTLS, 110, MP_OK), "TLSv1.2", true, 2); /* 4 */
	add(f, PROTO_SMTP, MODE_STARTTLS, 587, MP_ERR_STARTTLS_NOT_OFFERED)->greeting =
	    strdup("220"); /* 5 */
	eval(f);
	expect_state(f, RULE_REQUIRE_TLS, 0, PSTATE_CRITICAL, "plaintext");
	expect_state(f, RULE_REQUIRE_TLS, 1, PSTATE_OK, "TLSv1.3");
	expect_state(f, RULE_REQUIRE_TLS, 5, PSTATE_CRITICAL, "never reached TLS");
	expect_state(f, RULE_MIN_TLS, 1, PSTATE_OK, NULL);
	expect_state(f, RULE_MIN_TLS, 2, PSTATE_CRITICAL, "TLSv1.1, below the minimum TLSv1.2");
	expect_state(f, RULE_MIN_TLS, 4, PSTATE_OK, NULL);
	assert_null(find(f, RULE_MIN_TLS, 0));
	expect_state(f, RULE_REQUIRE_VERIFIED, 1, PSTATE_OK, NULL);
	expect_state(f, RULE_REQUIRE_VERIFIED, 2, PSTATE_CRITICAL, "expired");
	/* a verified chain for another name */
	f->res[1].tls.hostname_matched = false;
	eval(f);
	expect_state(f, RULE_REQUIRE_VERIFIED, 1, PSTATE_CRITICAL, "does not match the name");
	/* expiry: 14 / 3 days by default */
	expect_state(f, RULE_CERT_EXPIRY, 1, PSTATE_OK, "200 more days");
	expect_state(f, RULE_CERT_EXPIRY, 2, PSTATE_CRITICAL, "expired 5 days ago");
	expect_state(f, RULE_CERT_EXPIRY, 3, PSTATE_WARNING, "within 14");
	expect_state(f, RULE_CERT_EXPIRY, 4, PSTATE_CRITICAL, "within 3");
	p->cert_warn_days = 5;
	p->cert_crit_days = 1;
	eval(f);
	expect_state(f, RULE_CERT_EXPIRY, 3, PSTATE_OK, NULL);
	expect_state(f, RULE_CERT_EXPIRY, 4, PSTATE_WARNING, NULL);

	/* --enumerate-tls: an accepted older version is a WARNING */
	f->res[1].tls_versions_done = true;
	for (int k = 0; k < TLSPROBE_NVERSIONS; k++) {
		f->res[1].tls_versions[k].version = tlsprobe_version_at(k);
		f->res[1].tls_versions[k].accepted = tlsprobe_version_at(k) >= MP_TLS_V1_1;
	}
	eval(f);
	expect_state(f, RULE_MIN_TLS, 1, PSTATE_WARNING, "accepts TLSv1.1, below the minimum");
	/* a negotiated legacy version stays CRITICAL */
	expect_state(f, RULE_MIN_TLS, 2, PSTATE_CRITICAL, NULL);
	assert_int_equal(f->rep.state, PSTATE_CRITICAL);
}

static void test_auth_rules(void **state)
{
	struct fx *f = *state;
	struct policy *p = &f->opt.policy;
	struct probe_result *r = NULL;

	p->forbid_auth_before_tls = true;
	snprintf(p->require_auth[0], sizeof(p->require_auth[0]), "SCRAM-SHA-256");
	p->nrequire_auth = 1;
	r = add(f, PROTO_SMTP, MODE_STARTTLS, 587, MP_OK); /* 0: PLAIN before TLS */
	tls(r, "TLSv1.3", true, 100);
	strlist_add_str(&r->auth_before, "PLAIN");
	strlist_add_str(&r->auth_before, "CRAM-MD5");
	strlist_add_str(&r->auth_after, "scram-sha-256");
	r = add(f, PROTO_SMTP, MODE_STARTTLS, 25, MP_OK); /* 1: challenge-response only */
	tls(r, "TLSv1.3", true, 100);
	strlist_add_str(&r->auth_before, "CRAM-MD5");
	strlist_add_str(&r->auth_after, "PLAIN");
	r = add(f, PROTO_IMAP, MODE_STARTTLS, 143, MP_OK); /* 2: LOGIN allowed */
	tls(r, "TLSv1.3", true, 100);
	strlist_add_str(&r->caps_before, "IMAP4rev1");
	strlist_add_str(&r->auth_after, "SCRAM-SHA-256");
	r = add(f, PROTO_IMAP, MODE_STARTTLS, 1143, MP_OK); /* 3: LOGINDISABLED */
	tls(r, "TLSv1.3", true, 100);
	strlist_add_str(&r->caps_before, "IMAP4rev1");
	strlist_add_str(&r->caps_before, "LOGINDISABLED");
	r = add(f, PROTO_IMAP, MODE_TLS, 993, MP_OK); /* 4: implicit TLS: no "before" */
	tls(r, "TLSv1.3", true, 100);
	strlist_add_str(&r->auth_after, "SCRAM-SHA-256");
	eval(f);
	expect_state(f, RULE_FORBID_AUTH_BEFORE_TLS, 0, PSTATE_CRITICAL, "PLAIN");
	expect_state(f, RULE_FORBID_AUTH_BEFORE_TLS, 1, PSTATE_WARNING, "CRAM-MD5");
	expect_state(f, RULE_FORBID_AUTH_BEFORE_TLS, 2, PSTATE_CRITICAL, "IMAP-LOGIN");
	expect_state(f, RULE_FORBID_AUTH_BEFORE_TLS, 3, PSTATE_OK, NULL);
	assert_null(find(f, RULE_FORBID_AUTH_BEFORE_TLS, 4));
	expect_state(f, RULE_REQUIRE_AUTH, 0, PSTATE_OK, NULL); /* case-insensitive */
	expect_state(f, RULE_REQUIRE_AUTH, 1, PSTATE_CRITICAL,
	             "not offered after TLS: SCRAM-SHA-256");
	expect_state(f, RULE_REQUIRE_AUTH, 3, PSTATE_CRITICAL, NULL);
	expect_state(f, RULE_REQUIRE_AUTH, 4, PSTATE_OK, NULL);
}

static void test_login_and_time(void **state)
{
	struct fx *f = *state;
	struct policy *p = &f->opt.policy;
	struct probe_result *r = NULL;
	static struct auth_result a[3];

	p->require_login = true;
	p->warn_ms = 100;
	p->crit_ms = 1000;
	r = add(f, PROTO_IMAP, MODE_TLS, 993, MP_OK);
	r->auth_planned = true;
	r->auth_results = a;
	r->nauth = 2;
	a[0].mechanism = "PLAIN";
	a[0].status = AUTH_ST_OK;
	a[1].mechanism = "CRAM-MD5";
	a[1].status = AUTH_ST_REJECTED;
	r->t.total = 50;
	eval(f);
	expect_state(f, RULE_REQUIRE_LOGIN, 0, PSTATE_WARNING, "rejected: CRAM-MD5");
	expect_state(f, RULE_TIME, 0, PSTATE_OK, "50 ms");
	a[0].status = AUTH_ST_REJECTED;
	r->t.total = 500;
	eval(f);
	expect_state(f, RULE_REQUIRE_LOGIN, 0, PSTATE_CRITICAL, "no mechanism logged in");
	expect_state(f, RULE_TIME, 0, PSTATE_WARNING, "above 100 ms");
	a[0].status = a[1].status = AUTH_ST_OK;
	r->t.total = 1001;
	eval(f);
	expect_state(f, RULE_REQUIRE_LOGIN, 0, PSTATE_OK, "PLAIN CRAM-MD5");
	expect_state(f, RULE_TIME, 0, PSTATE_CRITICAL, "above 1000 ms");
	r->auth_results = NULL; /* static: not freed by result_free */
	r->nauth = 0;
}

static void test_interrupted_is_unknown(void **state)
{
	struct fx *f = *state;

	tls(add(f, PROTO_SMTP, MODE_TLS, 465, MP_OK), "TLSv1.3", true, 300);
	eval(f);
	assert_int_equal(f->rep.state, PSTATE_OK);
	f->rep.interrupted = true;
	report_free(&f->rep);
	assert_int_equal(report_evaluate(&f->rep), 0);
	expect_state(f, RULE_EXPECT, -1, PSTATE_UNKNOWN, "interrupted");
	assert_int_equal(report_exit_code(&f->rep), 3);
}

/* ---- options and files ---- */

/* Runs cli_parse on a writable copy of a NULL-terminated argument list. */
static enum cli_result parse(struct run_options *opt, struct mp_error *err, ...)
{
	static char store[32][512];
	char *argv[33];
	int argc = 0;
	va_list ap;
	const char *a;

	va_start(ap, err);
	while ((a = va_arg(ap, const char *)) != NULL && argc < 32) {
		snprintf(store[argc], sizeof(store[argc]), "%s", a);
		argv[argc] = store[argc];
		argc++;
	}
	va_end(ap);
	argv[argc] = NULL;
	return cli_parse(argc, argv, opt, err);
}

/* Writes text to a new temporary file; its name goes to path. */
static void temp_file(char *path, size_t len, const char *text)
{
	FILE *fp = NULL;
	int fd;

	snprintf(path, len, "/tmp/mp-policy-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void test_options(void **state)
{
	struct run_options *opt = calloc(1, sizeof(*opt));
	struct mp_error err;

	(void)state;
	assert_int_equal(parse(opt, &err, "mp", "mx.test", NULL), CLI_RUN);
	assert_false(opt->policy.active);
	/* --cert-warn-days alone is the old finding threshold, not a policy */
	assert_int_equal(parse(opt, &err, "mp", "--cert-warn-days", "30", "mx.test", NULL),
	                 CLI_RUN);
	assert_false(opt->policy.active);
	assert_int_equal(opt->probe.cert_warn_days, 30);
	assert_int_equal(parse(opt, &err, "mp", "--require-tls", "--min-tls", "TLSv1.2", "--expect",
	                       "answer", "--optional", "pop3://mx.test", "--optional",
	                       "imap://mx.test", "--require-auth", "plain,scram-sha-256",
	                       "--warn-ms", "200", "--crit-ms", "900", "--cert-crit-days", "7",
	                       "mx.test", NULL),
	                 CLI_RUN);
	assert_true(opt->policy.active);
	assert_true(opt->policy.require_tls);
	assert_int_equal(opt->policy.min_tls, MP_TLS_V1_2);
	assert_int_equal(opt->policy.expect, EXPECT_ANSWER);
	assert_int_equal(opt->policy.noptional, 2);
	assert_int_equal(opt->policy.nrequire_auth, 2);
	assert_string_equal(opt->policy.require_auth[1], "SCRAM-SHA-256");
	assert_int_equal(opt->policy.warn_ms, 200);
	assert_int_equal(opt->policy.crit_ms, 900);
	assert_int_equal(opt->policy.cert_crit_days, 7);
	assert_int_equal(opt->policy.cert_warn_days, 14);

	/* bad values: one message that says what to give */
	assert_int_equal(parse(opt, &err, "mp", "--min-tls", "1.4", "mx.test", NULL),
	                 CLI_USAGE_ERROR);
	assert_non_null(strstr(err.msg, "--min-tls expects 1.0, 1.1, 1.2 or 1.3"));
	assert_int_equal(parse(opt, &err, "mp", "--expect", "maybe", "mx.test", NULL),
	                 CLI_USAGE_ERROR);
	assert_non_null(strstr(err.msg, "ok or answer"));
	assert_int_equal(parse(opt, &err, "mp", "--warn-ms", "0", "mx.test", NULL),
	                 CLI_USAGE_ERROR);
	assert_non_null(strstr(err.msg, "--warn-ms expects a whole number from 1"));
	assert_int_equal(
	    parse(opt, &err, "mp", "--warn-ms", "900", "--crit-ms", "200", "mx.test", NULL),
	    CLI_USAGE_ERROR);
	assert_non_null(strstr(err.msg, "must not exceed"));
	assert_int_equal(parse(opt, &err, "mp", "--cert-crit-days", "30", "mx.test", NULL),
	                 CLI_USAGE_ERROR);
	assert_non_null(strstr(err.msg, "cert-crit-days (30) must not exceed cert-warn-days (14)"));
	assert_int_equal(parse(opt, &err, "mp", "--optional", "mx.test", "mx.test", NULL),
	                 CLI_USAGE_ERROR);
	assert_non_null(strstr(err.msg, "endpoint URL"));
	assert_int_equal(parse(opt, &err, "mp", "--require-login", "mx.test", NULL),
	                 CLI_USAGE_ERROR);
	assert_non_null(strstr(err.msg, "needs --user"));
	assert_int_equal(parse(opt, &err, "mp", "--require-auth", "PL AIN", "mx.test", NULL),
	                 CLI_USAGE_ERROR);

	/* -o FORMAT:FILE only for a known format name */
	assert_int_equal(parse(opt, &err, "mp", "-o", "junit:j.xml", "-o", "prometheus:m.prom",
	                       "-o", "notaformat:x", "mx.test", NULL),
	                 CLI_RUN);
	assert_int_equal(opt->noutputs, 2);
	assert_int_equal(opt->outputs[0].format, FORMAT_JUNIT);
	assert_string_equal(opt->outputs[0].path, "j.xml");
	assert_int_equal(opt->outputs[1].format, FORMAT_PROMETHEUS);
	assert_string_equal(opt->output_file, "notaformat:x");
	assert_int_equal(parse(opt, &err, "mp", "-o", "json:", "mx.test", NULL), CLI_USAGE_ERROR);
	assert_int_equal(parse(opt, &err, "mp", "-o", "json:a", "-o", "junit:a", "mx.test", NULL),
	                 CLI_USAGE_ERROR);
	assert_non_null(strstr(err.msg, "twice"));
	assert_int_equal(parse(opt, &err, "mp", "-f", "nagios", "mx.test", NULL), CLI_RUN);
	assert_int_equal(opt->format, FORMAT_NAGIOS);
	assert_int_equal(parse(opt, &err, "mp", "-f", "xml", "mx.test", NULL), CLI_USAGE_ERROR);
	assert_non_null(strstr(err.msg, "junit"));
	free(opt);
}

static void test_policy_file(void **state)
{
	struct run_options *opt = calloc(1, sizeof(*opt));
	struct mp_error err;
	char path[64];

	(void)state;
	temp_file(path, sizeof(path),
	          "{\n  \"require-tls\": true,\n  \"min-tls\": 1.2,\n  \"optional\": "
	          "[\"pop3://mx.test\"],\n  \"require-auth\": [\"PLAIN\", \"LOGIN\"],\n"
	          "  \"cert-warn-days\": 20,\n  \"warn-ms\": 300\n}\n");
	/* the file, then options override it */
	assert_int_equal(
	    parse(opt, &err, "mp", "--policy", path, "--warn-ms", "50", "mx.test", NULL), CLI_RUN);
	assert_true(opt->policy.active);
	assert_true(opt->policy.require_tls);
	assert_int_equal(opt->policy.min_tls, MP_TLS_V1_2);
	assert_int_equal(opt->policy.noptional, 1);
	assert_int_equal(opt->policy.nrequire_auth, 2);
	assert_int_equal(opt->policy.cert_warn_days, 20);
	assert_int_equal(opt->probe.cert_warn_days, 20);
	assert_int_equal(opt->policy.warn_ms, 50);
	assert_string_equal(opt->policy.file, path);
	/* the first --optional replaces the file's list */
	assert_int_equal(parse(opt, &err, "mp", "--policy", path, "--optional", "imap://mx.test",
	                       "mx.test", NULL),
	                 CLI_RUN);
	assert_int_equal(opt->policy.noptional, 1);
	assert_string_equal(opt->policy.optional[0], "imap://mx.test");
	unlink(path);

	/* an unknown rule: file, line and key */
	temp_file(path, sizeof(path), "{\n  \"require-tls\": true,\n  \"require-tsl\": true\n}\n");
	assert_int_equal(parse(opt, &err, "mp", "--policy", path, "mx.test", NULL),
	                 CLI_USAGE_ERROR);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, "line 3: unknown rule 'require-tsl'"));
	unlink(path);
	/* a value of the wrong kind */
	temp_file(path, sizeof(path), "{\"require-tls\": true,\n\n \"warn-ms\": \"soon\"}");
	assert_int_equal(parse(opt, &err, "mp", "--policy", path, "mx.test", NULL),
	                 CLI_USAGE_ERROR);
	assert_non_null(strstr(err.msg, "line 3: 'warn-ms' expects a whole number"));
	unlink(path);
	temp_file(path, sizeof(path), "{\"require-tls\": \"yes\"}");
	assert_int_equal(parse(opt, &err, "mp", "--policy", path, "mx.test", NULL),
	                 CLI_USAGE_ERROR);
	assert_non_null(strstr(err.msg, "line 1: 'require-tls' is a flag"));
	unlink(path);
	/* broken JSON: the line of the error */
	temp_file(path, sizeof(path), "{\n \"require-tls\": true,\n \"min-tls\" \"1.2\"\n}");
	assert_int_equal(parse(opt, &err, "mp", "--policy", path, "mx.test", NULL),
	                 CLI_USAGE_ERROR);
	assert_non_null(strstr(err.msg, "line 3: not valid JSON"));
	unlink(path);
	temp_file(path, sizeof(path), "[\"require-tls\"]");
	assert_int_equal(parse(opt, &err, "mp", "--policy", path, "mx.test", NULL),
	                 CLI_USAGE_ERROR);
	assert_non_null(strstr(err.msg, "expected a JSON object"));
	unlink(path);
	/* missing file */
	assert_int_equal(parse(opt, &err, "mp", "--policy", "/nonexistent/p.json", "mx.test", NULL),
	                 CLI_USAGE_ERROR);
	assert_non_null(strstr(err.msg, "cannot read /nonexistent/p.json"));
	/* a directory */
	assert_int_equal(parse(opt, &err, "mp", "--policy", "/tmp", "mx.test", NULL),
	                 CLI_USAGE_ERROR);
	assert_non_null(strstr(err.msg, "/tmp"));
	free(opt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_no_policy_keeps_old_codes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_expect_and_optional, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auto_counts_recommended_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tls_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auth_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_login_and_time, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_interrupted_is_unknown, setup, teardown),
	    cmocka_unit_test(test_options),
	    cmocka_unit_test(test_policy_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
