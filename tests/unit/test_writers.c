/* test_writers.c - the CI-gate writers (reports/nagios.c, junit.c,
 * prometheus.c): their key lines, hostile server text escaped for each sink,
 * unique perfdata labels, and the real consumers where installed (promtool,
 * xmllint with tests/data/junit.xsd, Python's xml.etree). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reports/report.h"

#define PYTHON   "/usr/bin/python3"
#define PROMTOOL "/usr/bin/promtool"
#define XMLLINT  "/usr/bin/xmllint"

/* A host name as a user (or a hostile URL) may give it: every character
 * that matters to one of the three sinks. */
#define HOSTILE_HOST "evil'\"\\|= <&\x1b\xff\n.test"
/* Server text: the same, plus a terminal escape and bytes that are not
 * UTF-8 (\xc0 alone, a NUL-free C1 control). */
#define HOSTILE_TEXT "bad | reply \x1b[2J \xff 'x' \"y\" <z> & w=1 \\ \xc0\nline2"

enum {
	R_SMTP_OK,      /* smtp 127.0.0.1:587 starttls, TLS 1.3, cert 42 days */
	R_SMTP_REFUSED, /* smtp 127.0.0.1:25 plain, refused */
	R_IMAPS_OK,     /* imap [::1]:993 tls, cert expired 3 days ago */
	R_POP3_PROXY,   /* pop3 via socks5, greeting then timeout */
	R_HOSTILE,      /* smtp HOSTILE_HOST:2525 plain, hostile text everywhere */
	R_COUNT
};

enum { V_COUNT = 7 };

struct fixture {
	struct run_options opt;
	struct proxy_spec proxy;
	struct probe_result res[R_COUNT];
	struct verdict verdicts[V_COUNT];
	struct run_report rep;
};

/* ---- building results by hand ---- */

/* A result for the given endpoint, already through result_init. */
static void init_result(struct probe_result *r, enum protocol p, enum sec_mode m, const char *host,
                        uint16_t port, const struct proxy_spec *proxy)
{
	struct endpoint ep;

	memset(&ep, 0, sizeof(ep));
	ep.proto = p;
	ep.mode = m;
	snprintf(ep.host, sizeof(ep.host), "%s", host);
	ep.port = port;
	ep.proxy = proxy;
	result_init(r, &ep);
}

static void add_cert(struct tls_info *ti, const char *subject, const char *not_after, long days)
{
	struct cert_info *c = &ti->chain[ti->chain_len++];

	c->subject = strdup(subject);
	c->issuer = strdup("CN=Test CA");
	c->serial = strdup("0a1b2c");
	c->not_before = strdup("2024-01-01T00:00:00Z");
	c->not_after = strdup(not_after);
	c->days_left = days;
	c->key_type = strdup("EC");
	c->key_bits = 256;
	c->sig_alg = strdup("ecdsa-with-SHA256");
}

static void fill_smtp_ok(struct probe_result *r)
{
	init_result(r, PROTO_SMTP, MODE_STARTTLS, "127.0.0.1", 587, NULL);
	snprintf(r->address, sizeof(r->address), "127.0.0.1");
	r->t = (struct timings){1, -1, -1, 2, 3, 4, 12};
	r->greeting = strdup("220 mail.example.test ESMTP");
	strlist_add_str(&r->auth_after, "PLAIN");
	strlist_add_str(&r->auth_after, "LOGIN");
	strlist_add_str(&r->auth_after, "PLAIN"); /* listed twice by the server */
	r->starttls_offered = true;
	r->tls_used = true;
	r->tls.done = true;
	snprintf(r->tls.version, sizeof(r->tls.version), "TLSv1.3");
	snprintf(r->tls.cipher, sizeof(r->tls.cipher), "TLS_AES_128_GCM_SHA256");
	r->tls.verified = true;
	r->tls.hostname_matched = true;
	add_cert(&r->tls, "CN=mail.example.test", "2030-01-01T00:00:00Z", 42);
	result_add_finding(r, FINDING_EHLO_REFUSED, "EHLO refused");
}

static void fill_refused(struct probe_result *r)
{
	init_result(r, PROTO_SMTP, MODE_PLAIN, "127.0.0.1", 25, NULL);
	snprintf(r->address, sizeof(r->address), "127.0.0.1");
	r->t.total = 1;
	result_fail(r, MP_ERR_REFUSED, "connection refused");
}

static void fill_imaps(struct probe_result *r)
{
	init_result(r, PROTO_IMAP, MODE_TLS, "::1", 993, NULL);
	snprintf(r->address, sizeof(r->address), "::1");
	r->t = (struct timings){0, -1, -1, 1, 5, 3, 9};
	r->greeting = strdup("* OK IMAP ready");
	strlist_add_str(&r->auth_after, "PLAIN");
	r->tls_used = true;
	r->tls.done = true;
	snprintf(r->tls.version, sizeof(r->tls.version), "TLSv1.2");
	snprintf(r->tls.cipher, sizeof(r->tls.cipher), "ECDHE-RSA-AES128-GCM-SHA256");
	r->tls.verified = false;
	r->tls.hostname_matched = true;
	add_cert(&r->tls, "CN=localhost", "2024-12-30T00:00:00Z", -3);
}

static void fill_pop3_proxy(struct probe_result *r, const struct proxy_spec *proxy)
{
	init_result(r, PROTO_POP3, MODE_PLAIN, "mail.example.test", 110, proxy);
	r->t = (struct timings){-1, 2, 3, -1, 4, -1, 5010};
	r->greeting = strdup("+OK POP3 ready");
	strlist_add_str(&r->auth_before, "USER");
	result_fail(r, MP_ERR_TIMEOUT, "no reply to CAPA");
}

static void fill_hostile(struct probe_result *r)
{
	init_result(r, PROTO_SMTP, MODE_PLAIN, HOSTILE_HOST, 2525, NULL);
	snprintf(r->address, sizeof(r->address), "127.0.0.1");
	r->t = (struct timings){0, -1, -1, 1, 2, -1, 7};
	r->greeting = strdup("220 " HOSTILE_TEXT);
	strlist_add_str(&r->auth_before, "\x1b[5mBLINK");
	strlist_add_str(&r->auth_before, "PLAIN\xc0");
	strlist_add_str(&r->auth_before, "X\"\\\n|=");
	result_fail(r, MP_ERR_PROTOCOL, HOSTILE_TEXT);
}

static void set_verdict(struct verdict *v, const char *rule, int endpoint, enum pstate st,
                        const char *msg)
{
	v->rule = rule;
	v->endpoint = endpoint;
	v->state = st;
	snprintf(v->message, sizeof(v->message), "%s", msg);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct mp_error err;
	struct verdict *v = NULL;

	assert_non_null(fx);
	memset(&err, 0, sizeof(err));
	assert_int_equal(proxy_parse_url("socks5://alice:pw@127.0.0.1:1080", &fx->proxy, &err), 0);
	fx->opt.policy.active = true;
	fx->opt.policy.warn_ms = 500;
	fx->opt.policy.crit_ms = 1000;
	fx->opt.policy.cert_warn_days = 14;
	fx->opt.policy.cert_crit_days = 3;

	fill_smtp_ok(&fx->res[R_SMTP_OK]);
	fill_refused(&fx->res[R_SMTP_REFUSED]);
	fill_imaps(&fx->res[R_IMAPS_OK]);
	fill_pop3_proxy(&fx->res[R_POP3_PROXY], &fx->proxy);
	fill_hostile(&fx->res[R_HOSTILE]);

	v = fx->verdicts;
	set_verdict(&v[0], RULE_EXPECT, R_SMTP_OK, PSTATE_OK, "ok");
	set_verdict(&v[1], RULE_EXPECT, R_SMTP_REFUSED, PSTATE_CRITICAL,
	            "refused: connection refused");
	set_verdict(&v[2], RULE_CERT_EXPIRY, R_IMAPS_OK, PSTATE_CRITICAL,
	            "certificate expired 3 days ago");
	set_verdict(&v[3], RULE_TIME, R_POP3_PROXY, PSTATE_WARNING, "5010 ms > 500 ms");
	set_verdict(&v[4], RULE_EXPECT, R_HOSTILE, PSTATE_CRITICAL, HOSTILE_TEXT);
	set_verdict(&v[5], RULE_REQUIRE_AUTH, -1, PSTATE_WARNING, "no endpoint offers CRAM-MD5");
	set_verdict(&v[6], RULE_MIN_TLS, R_IMAPS_OK, PSTATE_UNKNOWN, "TLS version unknown");

	fx->rep.opt = &fx->opt;
	fx->rep.results = fx->res;
	fx->rep.n = R_COUNT;
	fx->rep.verdicts = fx->verdicts;
	fx->rep.nverdicts = V_COUNT;
	fx->rep.state = PSTATE_CRITICAL;
	snprintf(fx->rep.started_at, sizeof(fx->rep.started_at), "2025-01-02T03:04:05Z");
	fx->rep.duration_ms = 5123;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	for (int i = 0; i < R_COUNT; i++)
		result_free(&fx->res[i]);
	free(fx);
	return 0;
}

/* ---- capturing output ---- */

enum wfmt { W_NAGIOS, W_JUNIT, W_PROM };

/* The writer's whole output, NUL-terminated (the writer must succeed). */
static char *render(enum wfmt w, const struct run_report *r)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	int rc = -1;

	assert_non_null(f);
	if (w == W_NAGIOS)
		rc = report_write_nagios(f, r);
	else if (w == W_JUNIT)
		rc = report_write_junit(f, r);
	else
		rc = report_write_prometheus(f, r);
	assert_int_equal(rc, 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(strlen(buf), n); /* no NUL inside */
	return buf;
}

/* Line number k (0-based) of text, malloc'd; NULL when there is none. */
static char *line_of(const char *text, int k)
{
	const char *p = text, *nl = NULL;

	for (int i = 0; i < k; i++) {
		nl = strchr(p, '\n');
		if (!nl)
			return NULL;
		p = nl + 1;
	}
	if (!*p)
		return NULL;
	nl = strchr(p, '\n');
	return strndup(p, nl ? (size_t)(nl - p) : strlen(p));
}

/* Number of lines (each ends in a newline). */
static int count_lines(const char *text)
{
	int n = 0;

	for (const char *p = text; *p; p++)
		n += *p == '\n';
	return n;
}

static int count_str(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* Fails unless text contains the line `line` exactly. */
static void assert_has_line(const char *text, const char *line)
{
	size_t len = strlen(line);

	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);

		if (l == len && memcmp(p, line, len) == 0)
			return;
		p = nl ? nl + 1 : NULL;
	}
	fail_msg("missing line: %s\n--- in:\n%s", line, text);
}

/* ---- running the real consumers ---- */

/* The source tree root, from this file's path (or MP_SRC); NULL when
 * unknown. */
static char *source_root(void)
{
	static const char tail[] = "tests/unit/test_writers.c";
	const char *file = __FILE__, *env = getenv("MP_SRC");
	size_t n = strlen(file);

	if (env && *env) {
		char *root = NULL;

		if (asprintf(&root, "%s/", env) < 0)
			return NULL;
		return root;
	}
	if (file[0] != '/' || n < sizeof(tail) - 1 || strcmp(file + n - (sizeof(tail) - 1), tail))
		return NULL;
	return strndup(file, n - (sizeof(tail) - 1));
}

/* Runs argv with stdin from in_path (NULL: /dev/null) and returns its exit
 * status (-1 when it did not exit); stdout and stderr together go to *out
 * (malloc'd, NUL-terminated). */
static int run_capture(char *const argv[], const char *in_path, char **out)
{
	int pipefd[2], status = 0;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	pid_t pid;

	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int in = open(in_path ? in_path : "/dev/null", O_RDONLY);

		if (in < 0)
			_exit(126);
		dup2(in, STDIN_FILENO);
		dup2(pipefd[1], STDOUT_FILENO);
		dup2(pipefd[1], STDERR_FILENO);
		close(pipefd[0]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	for (;;) {
		ssize_t got;

		if (len + 4096 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		got = read(pipefd[0], buf + len, cap - len - 1);
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	close(pipefd[0]);
	if (!buf)
		buf = malloc(1);
	assert_non_null(buf);
	buf[len] = '\0';
	*out = buf;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Writes text to a new temporary file; tmpl gets its name. */
static void write_temp(char *tmpl, const char *text)
{
	int fd = mkstemp(tmpl);
	size_t len = strlen(text);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* ---- nagios ---- */

static void test_nagios_status_line_and_perfdata(void **state)
{
	struct fixture *fx = *state;
	char *out = NULL, *first = NULL;

	fx->rep.n = R_HOSTILE; /* without the hostile endpoint and its verdict */
	fx->rep.nverdicts = 4;
	out = render(W_NAGIOS, &fx->rep);
	first = line_of(out, 0);
	assert_string_equal(
	    first,
	    "MAILPROBE CRITICAL - 4 endpoints: 2 ok, 2 failed - smtp://127.0.0.1:25 [expect] "
	    "refused: connection refused"
	    " | 'smtp+starttls_127.0.0.1_587_time'=12ms;500;1000;0;"
	    " 'smtp+starttls_127.0.0.1_587_cert_days'=42;14:;3:;;"
	    " 'smtp_127.0.0.1_25_time'=1ms;500;1000;0;"
	    " 'imaps_::1_993_time'=9ms;500;1000;0;"
	    " 'imaps_::1_993_cert_days'=-3;14:;3:;;"
	    " 'pop3_mail.example.test_110_via_socks5_127.0.0.1_1080_time'=5010ms;500;1000;0;");
	/* Long output: the non-OK verdicts, in order. */
	assert_int_equal(count_lines(out), 4);
	assert_has_line(out, "CRITICAL: smtp://127.0.0.1:25 [expect] refused: connection refused");
	assert_has_line(out,
	                "CRITICAL: imaps://[::1]:993 [cert-expiry] certificate expired 3 days ago");
	assert_has_line(out, "WARNING: pop3://mail.example.test:110 via socks5://127.0.0.1:1080 "
	                     "[time] 5010 ms > 500 ms");
	free(first);
	free(out);
}

static void test_nagios_run_verdicts_and_unknown(void **state)
{
	struct fixture *fx = *state;
	char *out = render(W_NAGIOS, &fx->rep);

	assert_has_line(out, "WARNING: run [require-auth] no endpoint offers CRAM-MD5");
	assert_has_line(out, "UNKNOWN: imaps://[::1]:993 [min-tls] TLS version unknown");
	assert_int_equal(count_lines(out), 1 + 6);
	free(out);
}

static void test_nagios_hostile_text_single_lines(void **state)
{
	struct fixture *fx = *state;
	char *out = NULL, *first = NULL, *line = NULL;
	int nlines;

	/* Make the hostile verdict the first worst one: it goes in the
	 * status line. */
	fx->verdicts[1].state = PSTATE_WARNING;
	fx->verdicts[2].state = PSTATE_WARNING;
	out = render(W_NAGIOS, &fx->rep);
	nlines = count_lines(out);
	assert_int_equal(nlines, 1 + 6);
	/* Every byte printable ASCII, apart from the line ends. */
	for (const unsigned char *p = (const unsigned char *)out; *p; p++)
		if (*p != '\n' && (*p < 0x20 || *p >= 0x7F))
			fail_msg("byte 0x%02x in nagios output", *p);
	/* One '|' in the status line (the perfdata separator), none after. */
	first = line_of(out, 0);
	assert_int_equal(count_str(first, "|"), 1);
	assert_int_equal(count_str(out, "|"), 1);
	assert_non_null(strstr(first, "[expect] bad / reply \\x1b[2J \\xff 'x' \"y\" <z> & w=1 "
	                              "\\ \\xc0\\x0aline2 | "));
	/* The hostile host's label: unsafe characters are '_'. */
	assert_non_null(strstr(first, " 'smtp_evil___________.test_2525_time'=7ms;500;1000;0;"));
	/* Its long-output line. */
	line = line_of(out, 4);
	assert_string_equal(line,
	                    "CRITICAL: smtp://evil'\"\\/= <&\\x1b\\xff\\x0a.test:2525 [expect] "
	                    "bad / reply \\x1b[2J \\xff 'x' \"y\" <z> & w=1 \\ \\xc0\\x0aline2");
	free(line);
	free(first);
	free(out);
}

static void test_nagios_labels_unique(void **state)
{
	struct fixture *fx = *state;
	char *out = NULL;

	/* Same endpoint twice, and a host whose label collides once sanitised:
	 * "127.0.0.1 " and "127.0.0.1=" both become "127.0.0.1_". */
	result_free(&fx->res[R_SMTP_REFUSED]);
	result_free(&fx->res[R_IMAPS_OK]);
	result_free(&fx->res[R_HOSTILE]);
	init_result(&fx->res[R_SMTP_REFUSED], PROTO_SMTP, MODE_STARTTLS, "127.0.0.1", 587, NULL);
	fx->res[R_SMTP_REFUSED].t.total = 20;
	init_result(&fx->res[R_IMAPS_OK], PROTO_SMTP, MODE_PLAIN, "127.0.0.1 ", 25, NULL);
	fx->res[R_IMAPS_OK].t.total = 30;
	init_result(&fx->res[R_HOSTILE], PROTO_SMTP, MODE_PLAIN, "127.0.0.1=", 25, NULL);
	fx->res[R_HOSTILE].t.total = 40;
	fx->rep.nverdicts = 0;
	fx->rep.state = PSTATE_OK;
	out = render(W_NAGIOS, &fx->rep);
	assert_non_null(strstr(out, " 'smtp+starttls_127.0.0.1_587_time'=12ms;"));
	assert_non_null(strstr(out, " 'smtp+starttls_127.0.0.1_587_2_time'=20ms;"));
	assert_non_null(strstr(out, " 'smtp_127.0.0.1__25_time'=30ms;"));
	assert_non_null(strstr(out, " 'smtp_127.0.0.1__25_2_time'=40ms;"));
	assert_int_equal(count_str(out, "'smtp+starttls_127.0.0.1_587_time'"), 1);
	assert_int_equal(count_str(out, "'smtp_127.0.0.1__25_time'"), 1);
	free(out);
}

static void test_nagios_without_policy(void **state)
{
	struct fixture *fx = *state;
	char *out = NULL, *first = NULL;

	fx->rep.opt = NULL;
	fx->rep.verdicts = NULL;
	fx->rep.nverdicts = 0;
	fx->rep.state = PSTATE_OK;
	out = render(W_NAGIOS, &fx->rep);
	first = line_of(out, 0);
	assert_true(strncmp(first, "MAILPROBE OK - 5 endpoints: 2 ok, 3 failed | ", 45) == 0);
	/* No thresholds without a policy. */
	assert_non_null(strstr(first, " 'smtp_127.0.0.1_25_time'=1ms;;;0;"));
	assert_non_null(strstr(first, " 'imaps_::1_993_cert_days'=-3;;;;"));
	/* One line per endpoint that did not answer (the others greeted). */
	assert_int_equal(count_lines(out), 2);
	assert_has_line(out, "NO ANSWER: smtp://127.0.0.1:25 refused: connection refused");
	free(first);
	free(out);

	/* Nothing at all: no perfdata separator. */
	fx->rep.n = 0;
	fx->rep.state = PSTATE_CRITICAL;
	out = render(W_NAGIOS, &fx->rep);
	assert_string_equal(out, "MAILPROBE CRITICAL - 0 endpoints: 0 ok, 0 failed\n");
	free(out);
}

/* ---- junit ---- */

static void test_junit_structure(void **state)
{
	struct fixture *fx = *state;
	char *out = render(W_JUNIT, &fx->rep);

	/* 5 endpoint testcases + 7 verdict testcases; failures: the 4 WARNING or
	 * CRITICAL verdicts; errors: 3 endpoints + 1 UNKNOWN verdict. */
	assert_has_line(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
	assert_has_line(out,
	                "<testsuites name=\"mailprobe\" tests=\"12\" failures=\"5\" errors=\"4\" "
	                "skipped=\"0\" time=\"5.123\" timestamp=\"2025-01-02T03:04:05Z\">");
	assert_has_line(out, "  <testsuite name=\"127.0.0.1\" tests=\"4\" failures=\"1\" "
	                     "errors=\"1\" skipped=\"0\" time=\"0.013\">");
	assert_has_line(out, "    <testcase classname=\"mailprobe.127.0.0.1\" "
	                     "name=\"smtp+starttls://127.0.0.1:587\" time=\"0.012\">");
	assert_has_line(out,
	                "      <system-out>smtp  127.0.0.1:587  starttls  direct  ok  TLSv1.3  "
	                "PLAIN LOGIN PLAIN  12 ms</system-out>");
	assert_has_line(out, "    <testcase classname=\"mailprobe.127.0.0.1\" "
	                     "name=\"smtp+starttls://127.0.0.1:587 expect\"/>");
	assert_has_line(out, "      <error message=\"refused: connection refused\" "
	                     "type=\"refused\">connection refused</error>");
	assert_has_line(out, "  <testsuite name=\"::1\" tests=\"3\" failures=\"1\" errors=\"1\" "
	                     "skipped=\"0\" time=\"0.009\">");
	assert_has_line(out, "      <failure message=\"certificate expired 3 days ago\" "
	                     "type=\"CRITICAL\">certificate expired 3 days ago</failure>");
	assert_has_line(out, "      <error message=\"TLS version unknown\" "
	                     "type=\"UNKNOWN\">TLS version unknown</error>");
	assert_has_line(out, "      <failure message=\"5010 ms &gt; 500 ms\" "
	                     "type=\"WARNING\">5010 ms &gt; 500 ms</failure>");
	assert_has_line(out,
	                "    <testcase classname=\"mailprobe.mail.example.test\" "
	                "name=\"pop3://mail.example.test:110 via socks5://127.0.0.1:1080 time\">");
	assert_has_line(out, "      <system-out>pop3  mail.example.test:110  plain  socks5 "
	                     "127.0.0.1:1080  timeout  -  USER  5010 ms</system-out>");
	assert_has_line(out, "  <testsuite name=\"run\" tests=\"1\" failures=\"1\" errors=\"0\" "
	                     "skipped=\"0\" time=\"0.000\">");
	assert_has_line(out, "    <testcase classname=\"mailprobe.run\" name=\"require-auth\">");
	assert_has_line(out, "</testsuites>");
	free(out);
}

static void test_junit_hostile_text_escaped(void **state)
{
	struct fixture *fx = *state;
	char *out = render(W_JUNIT, &fx->rep);
	const char *esc_text = "bad | reply \\x1b[2J \\xff &apos;x&apos; &quot;y&quot; &lt;z&gt; "
	                       "&amp; w=1 \\ \\xc0";

	/* No byte XML 1.0 refuses, and only our own markup. */
	for (const unsigned char *p = (const unsigned char *)out; *p; p++)
		if (*p < 0x20 && *p != '\n')
			fail_msg("byte 0x%02x in junit output", *p);
	assert_null(strstr(out, "<z>"));
	assert_null(strstr(out, "& w"));
	assert_non_null(strstr(out,
	                       "<testsuite name=\"evil&apos;&quot;\\|= &lt;&amp;\\x1b\\xff&#10;"
	                       ".test\" tests=\"2\""));
	/* In attributes the newline is a character reference; in text a
	 * newline. */
	{
		char *want = NULL;

		assert_true(asprintf(&want,
		                     "<error message=\"protocol_error: %s&#10;line2\" "
		                     "type=\"protocol_error\">%s\nline2</error>",
		                     esc_text, esc_text) > 0);
		assert_non_null(strstr(out, want));
		free(want);
		assert_true(asprintf(&want,
		                     "<failure message=\"%s&#10;line2\" type=\"CRITICAL\">%s\n"
		                     "line2</failure>",
		                     esc_text, esc_text) > 0);
		assert_non_null(strstr(out, want));
		free(want);
	}
	assert_non_null(strstr(out, "  \\x1b[5mBLINK PLAIN\\xc0 X&quot;\\\\x0a|=  "));
	free(out);
}

/* Python: reads the JUnit file back with xml.etree and prints the root's
 * counts, the sums over suites, and what the testcases hold. */
static const char junit_reader[] =
    "import sys, xml.etree.ElementTree as ET\n"
    "root = ET.parse(sys.argv[1]).getroot()\n"
    "assert root.tag == 'testsuites'\n"
    "cases = root.findall('testsuite/testcase')\n"
    "f = sum(len(c.findall('failure')) for c in cases)\n"
    "e = sum(len(c.findall('error')) for c in cases)\n"
    "s = sum(int(x.get('tests')) for x in root.findall('testsuite'))\n"
    "print(root.get('tests'), root.get('failures'), root.get('errors'), len(cases), f, e, s)\n"
    "host = [x for x in root.findall('testsuite') if x.get('name').startswith('evil')][0]\n"
    "print(repr(host.get('name')))\n";

static void test_junit_consumers(void **state)
{
	struct fixture *fx = *state;
	char *out = render(W_JUNIT, &fx->rep);
	char *root = source_root(), *xsd = NULL, *got = NULL;
	char tmpl[] = "/tmp/mp_junit_XXXXXX";

	if (!root || access(XMLLINT, X_OK) != 0 || access(PYTHON, X_OK) != 0) {
		free(root);
		free(out);
		skip();
	}
	write_temp(tmpl, out);
	assert_true(asprintf(&xsd, "%stests/data/junit.xsd", root) > 0);
	{
		char *argv[] = {XMLLINT, "--noout", "--schema", xsd, tmpl, NULL};
		int rc = run_capture(argv, NULL, &got);

		if (rc != 0)
			fail_msg("xmllint: %s", got);
		assert_non_null(strstr(got, "validates"));
		free(got);
	}
	{
		char *argv[] = {PYTHON, "-c", (char *)junit_reader, tmpl, NULL};
		int rc = run_capture(argv, NULL, &got);

		if (rc != 0)
			fail_msg("xml.etree: %s", got);
		assert_string_equal(got, "12 5 4 12 5 4 12\n"
		                         "'evil\\'\"\\\\|= <&\\\\x1b\\\\xff\\n.test'\n");
		free(got);
	}
	unlink(tmpl);
	free(xsd);
	free(root);
	free(out);
}

static void test_junit_empty_and_skipped(void **state)
{
	struct fixture *fx = *state;
	char *out = NULL;

	fx->rep.n = 0;
	fx->rep.nverdicts = 0;
	fx->rep.opt = NULL;
	fx->rep.started_at[0] = '\0';
	out = render(W_JUNIT, &fx->rep);
	assert_string_equal(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	                         "<testsuites name=\"mailprobe\" tests=\"0\" failures=\"0\" "
	                         "errors=\"0\" skipped=\"0\" time=\"5.123\">\n"
	                         "</testsuites>\n");
	free(out);

	/* A skipped endpoint (auto mode) is skipped, not an error. */
	fx->rep.n = 2;
	result_free(&fx->res[R_SMTP_REFUSED]);
	init_result(&fx->res[R_SMTP_REFUSED], PROTO_SMTP, MODE_PLAIN, "127.0.0.1", 25, NULL);
	result_fail(&fx->res[R_SMTP_REFUSED], MP_ERR_SKIPPED, "");
	out = render(W_JUNIT, &fx->rep);
	assert_non_null(strstr(out, "tests=\"2\" failures=\"0\" errors=\"0\" skipped=\"1\""));
	assert_non_null(strstr(out, "      <skipped message=\""));
	assert_non_null(strstr(out, "name=\"smtp://127.0.0.1:25\" time=\"0.000\">"));
	free(out);
}

/* ---- prometheus ---- */

#define EP_SMTP                                                                                    \
	"protocol=\"smtp\",host=\"127.0.0.1\",address=\"127.0.0.1\",port=\"587\",mode="            \
	"\"starttls\","                                                                            \
	"proxy=\"\""
#define EP_IMAPS                                                                                   \
	"protocol=\"imap\",host=\"::1\",address=\"::1\",port=\"993\",mode=\"tls\",proxy=\"\""
#define EP_POP3                                                                                    \
	"protocol=\"pop3\",host=\"mail.example.test\",address=\"\",port=\"110\",mode=\"plain\","   \
	"proxy=\"socks5://127.0.0.1:1080\""
#define EP_HOSTILE                                                                                 \
	"protocol=\"smtp\",host=\"evil'\\\"\\\\|= "                                                \
	"<&\\\\x1b\\\\xff\\n.test\",address=\"127.0.0.1\","                                        \
	"port=\"2525\",mode=\"plain\",proxy=\"\""

static void test_prometheus_samples(void **state)
{
	struct fixture *fx = *state;
	char *out = render(W_PROM, &fx->rep);

	assert_has_line(out, "# HELP mailprobe_probe_success Whether the probe of the endpoint "
	                     "succeeded (1) or not (0).");
	assert_has_line(out, "# TYPE mailprobe_probe_success gauge");
	assert_has_line(out, "mailprobe_probe_success{" EP_SMTP "} 1");
	assert_has_line(out, "mailprobe_probe_success{" EP_POP3 "} 0");
	assert_has_line(out, "mailprobe_probe_status_info{" EP_POP3 ",status=\"timeout\"} 1");
	assert_has_line(out,
	                "mailprobe_probe_duration_seconds{" EP_SMTP ",phase=\"connect\"} 0.002");
	assert_has_line(out,
	                "mailprobe_probe_duration_seconds{" EP_SMTP ",phase=\"greeting\"} 0.003");
	assert_has_line(out, "mailprobe_probe_duration_seconds{" EP_SMTP ",phase=\"tls\"} 0.004");
	assert_has_line(out, "mailprobe_probe_duration_seconds{" EP_SMTP ",phase=\"total\"} 0.012");
	assert_has_line(out, "mailprobe_probe_duration_seconds{" EP_POP3 ",phase=\"total\"} 5.010");
	/* Phases not reached have no sample. */
	assert_null(strstr(out, "mailprobe_probe_duration_seconds{" EP_POP3 ",phase=\"tls\"}"));
	assert_has_line(out, "mailprobe_tls_version_info{" EP_SMTP ",version=\"TLSv1.3\"} 1");
	assert_has_line(out, "mailprobe_tls_cipher_info{" EP_SMTP
	                     ",cipher=\"TLS_AES_128_GCM_SHA256\"} 1");
	assert_has_line(out, "mailprobe_cert_not_after_timestamp_seconds{" EP_SMTP "} 1893456000");
	assert_has_line(out, "mailprobe_cert_not_after_timestamp_seconds{" EP_IMAPS "} 1735516800");
	assert_has_line(out, "mailprobe_cert_verified{" EP_SMTP "} 1");
	assert_has_line(out, "mailprobe_cert_verified{" EP_IMAPS "} 0");
	assert_has_line(out, "mailprobe_starttls_offered{" EP_SMTP "} 1");
	assert_has_line(out, "mailprobe_starttls_offered{" EP_POP3 "} 0");
	assert_null(strstr(out, "mailprobe_starttls_offered{" EP_IMAPS "}"));
	assert_has_line(out, "mailprobe_auth_mechanism_offered{" EP_SMTP
	                     ",stage=\"after_tls\",mechanism=\"PLAIN\"} 1");
	assert_int_equal(count_str(out, "mailprobe_auth_mechanism_offered{" EP_SMTP
	                                ",stage=\"after_tls\",mechanism=\"PLAIN\"}"),
	                 1);
	assert_has_line(out, "mailprobe_auth_mechanism_offered{" EP_POP3
	                     ",stage=\"before_tls\",mechanism=\"USER\"} 1");
	assert_has_line(out, "mailprobe_finding{" EP_SMTP ",code=\"ehlo_refused_helo_used\"} 1");
	assert_has_line(out, "mailprobe_policy_verdict_state{" EP_SMTP ",rule=\"expect\"} 0");
	assert_has_line(out, "mailprobe_policy_verdict_state{" EP_IMAPS ",rule=\"cert-expiry\"} 2");
	assert_has_line(out, "mailprobe_policy_verdict_state{" EP_IMAPS ",rule=\"min-tls\"} 3");
	assert_has_line(out, "mailprobe_policy_verdict_state{protocol=\"\",host=\"\",address=\"\","
	                     "port=\"\",mode=\"\",proxy=\"\",rule=\"require-auth\"} 1");
	assert_has_line(out, "mailprobe_policy_state 2");
	assert_has_line(out, "mailprobe_run_duration_seconds 5.123");
	assert_has_line(out, "mailprobe_endpoints 5");
	free(out);
}

static void test_prometheus_hostile_labels(void **state)
{
	struct fixture *fx = *state;
	char *out = render(W_PROM, &fx->rep);

	assert_has_line(out, "mailprobe_probe_success{" EP_HOSTILE "} 0");
	assert_has_line(out, "mailprobe_auth_mechanism_offered{" EP_HOSTILE
	                     ",stage=\"before_tls\",mechanism=\"\\\\x1b[5mBLINK\"} 1");
	assert_has_line(out, "mailprobe_auth_mechanism_offered{" EP_HOSTILE
	                     ",stage=\"before_tls\",mechanism=\"PLAIN\\\\xc0\"} 1");
	assert_has_line(out, "mailprobe_auth_mechanism_offered{" EP_HOSTILE
	                     ",stage=\"before_tls\",mechanism=\"X\\\"\\\\\\n|=\"} 1");
	for (const unsigned char *p = (const unsigned char *)out; *p; p++)
		if (*p < 0x20 && *p != '\n')
			fail_msg("byte 0x%02x in prometheus output", *p);
	free(out);
}

/* Each family's HELP and TYPE once, and its samples right after them. */
static void test_prometheus_families_contiguous(void **state)
{
	struct fixture *fx = *state;
	char *out = NULL, *line = NULL;
	char seen[64][80];
	size_t nseen = 0;
	char current[80] = "";

	/* A duplicate endpoint: left out, its verdict folded into the first. */
	fx->res[R_SMTP_REFUSED].ep.mode = MODE_STARTTLS;
	fx->res[R_SMTP_REFUSED].ep.port = 587;
	out = render(W_PROM, &fx->rep);
	assert_has_line(out, "mailprobe_policy_verdict_state{" EP_SMTP ",rule=\"expect\"} 2");
	assert_int_equal(count_str(out, "mailprobe_probe_success{" EP_SMTP "}"), 1);
	for (int k = 0; (line = line_of(out, k)) != NULL; k++) {
		char name[80];
		size_t n = 0;

		if (strncmp(line, "# HELP ", 7) == 0) {
			snprintf(current, sizeof(current), "%.*s", (int)strcspn(line + 7, " "),
			         line + 7);
			for (size_t i = 0; i < nseen; i++)
				if (strcmp(seen[i], current) == 0)
					fail_msg("family %s twice", current);
			assert_true(nseen < 64);
			snprintf(seen[nseen++], sizeof(seen[0]), "%s", current);
		} else if (strncmp(line, "# TYPE ", 7) == 0) {
			assert_true(strncmp(line + 7, current, strlen(current)) == 0);
			assert_string_equal(line + 7 + strlen(current), " gauge");
		} else {
			n = strcspn(line, "{ ");
			snprintf(name, sizeof(name), "%.*s", (int)n, line);
			assert_string_equal(name, current);
			assert_true(strncmp(name, "mailprobe_", 10) == 0);
		}
		free(line);
	}
	free(out);
}

static void test_prometheus_promtool(void **state)
{
	struct fixture *fx = *state;
	char *out = NULL, *got = NULL;
	char tmpl[] = "/tmp/mp_prom_XXXXXX";
	char *argv[] = {PROMTOOL, "check", "metrics", NULL};
	int rc;

	if (access(PROMTOOL, X_OK) != 0)
		skip();
	out = render(W_PROM, &fx->rep);
	write_temp(tmpl, out);
	rc = run_capture(argv, tmpl, &got);
	if (rc != 0 || got[0])
		fail_msg("promtool check metrics (exit %d): %s\n--- on:\n%s", rc, got, out);
	free(got);
	unlink(tmpl);
	free(out);

	/* Without policy or options, and with nothing probed. */
	fx->rep.opt = NULL;
	fx->rep.nverdicts = 0;
	fx->rep.n = 0;
	out = render(W_PROM, &fx->rep);
	assert_has_line(out, "mailprobe_endpoints 0");
	snprintf(tmpl, sizeof(tmpl), "/tmp/mp_prom_XXXXXX");
	write_temp(tmpl, out);
	rc = run_capture(argv, tmpl, &got);
	if (rc != 0 || got[0])
		fail_msg("promtool check metrics (exit %d): %s\n--- on:\n%s", rc, got, out);
	free(got);
	unlink(tmpl);
	free(out);
}

/* Every format has a writer entry: its name parses back to it, and it says
 * what it writes (the exporter answers with that content type). */
static void test_writer_table_complete(void **state)
{
	(void)state;
	for (int fmt = 0; fmt < FORMAT_COUNT; fmt++) {
		const struct report_writer *w = report_writer_for((enum output_format)fmt);

		assert_non_null(w);
		assert_int_equal(w->format, fmt);
		assert_non_null(w->name);
		assert_int_equal(report_format_parse(w->name), fmt);
		assert_non_null(w->content_type);
		assert_non_null(w->write);
		assert_true((w->write_result == NULL) == (w->write_summary == NULL));
	}
	assert_string_equal(report_writer_for(FORMAT_JSON)->content_type, "application/json");
	assert_null(report_writer_for(FORMAT_COUNT));
	assert_int_equal(report_format_parse("xml"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_nagios_status_line_and_perfdata, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nagios_run_verdicts_and_unknown, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nagios_hostile_text_single_lines, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nagios_labels_unique, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nagios_without_policy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_junit_structure, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_junit_hostile_text_escaped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_junit_consumers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_junit_empty_and_skipped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prometheus_samples, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prometheus_hostile_labels, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prometheus_families_contiguous, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prometheus_promtool, setup, teardown),
	    cmocka_unit_test(test_writer_table_complete),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
