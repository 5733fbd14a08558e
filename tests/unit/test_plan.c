/* Unit tests: endpoint URLs, host arguments, the matrix and the command line. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/app/cli.h"
#include "probe/dialects/dialect.h"
#include "probe/engine/plan.h"

static void test_url_schemes_and_default_ports(void **state)
{
	static const struct {
		const char *url;
		enum protocol proto;
		enum sec_mode mode;
		uint16_t port;
	} cases[] = {
	    {"smtp://mx.test", PROTO_SMTP, MODE_PLAIN, 25},
	    {"smtp+starttls://mx.test:2525", PROTO_SMTP, MODE_STARTTLS, 2525},
	    {"smtps://mx.test", PROTO_SMTP, MODE_TLS, 465},
	    {"IMAP://mx.test/", PROTO_IMAP, MODE_PLAIN, 143},
	    {"imap+starttls://mx.test", PROTO_IMAP, MODE_STARTTLS, 143},
	    {"imaps://mx.test:10993", PROTO_IMAP, MODE_TLS, 10993},
	    {"pop3://mx.test", PROTO_POP3, MODE_PLAIN, 110},
	    {"pop3+starttls://mx.test", PROTO_POP3, MODE_STARTTLS, 110},
	    {"pop3s://mx.test", PROTO_POP3, MODE_TLS, 995},
	};
	struct endpoint ep;
	struct mp_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(plan_parse_url(cases[i].url, &ep, &err), 1);
		assert_int_equal(ep.proto, cases[i].proto);
		assert_int_equal(ep.mode, cases[i].mode);
		assert_int_equal(ep.port, cases[i].port);
		assert_string_equal(ep.host, "mx.test");
		assert_null(ep.proxy);
	}
}

static void test_url_ipv6_and_errors(void **state)
{
	struct endpoint ep;
	struct mp_error err;

	(void)state;
	assert_int_equal(plan_parse_url("imaps://[::1]:2993", &ep, &err), 1);
	assert_string_equal(ep.host, "::1");
	assert_int_equal(ep.port, 2993);
	assert_int_equal(plan_parse_url("mx.test", &ep, &err), 0);
	assert_int_equal(plan_parse_url("ftp://mx.test", &ep, &err), -1);
	assert_non_null(strstr(err.msg, "unknown scheme"));
	assert_int_equal(plan_parse_url("smtp://mx.test:0", &ep, &err), -1);
	assert_int_equal(plan_parse_url("smtp://mx.test:65536", &ep, &err), -1);
	assert_int_equal(plan_parse_url("smtp://mx.test:25x", &ep, &err), -1);
	assert_int_equal(plan_parse_url("smtp://mx.test:", &ep, &err), -1);
	assert_int_equal(plan_parse_url("smtp://", &ep, &err), -1);
	assert_int_equal(plan_parse_url("smtp://[::1", &ep, &err), -1);
	assert_int_equal(plan_parse_url("smtp://u:p@mx.test", &ep, &err), -1);
	assert_non_null(strstr(err.msg, "credentials"));
	assert_int_equal(plan_parse_url("smtp://mx.test/path", &ep, &err), -1);
	assert_int_equal(plan_parse_url("smtp://bad host", &ep, &err), -1);
}

static void test_bare_hosts(void **state)
{
	char host[256];
	struct mp_error err;

	(void)state;
	assert_int_equal(plan_parse_host("mail.example.com", host, sizeof(host), &err), 0);
	assert_int_equal(plan_parse_host("[::1]", host, sizeof(host), &err), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(plan_parse_host("::1", host, sizeof(host), &err), 0);
	assert_int_equal(plan_parse_host("127.0.0.1:25", host, sizeof(host), &err), -1);
	assert_non_null(strstr(err.msg, "smtp://host:port"));
	assert_int_equal(plan_parse_host("", host, sizeof(host), &err), -1);
	assert_int_equal(plan_parse_host("a;b", host, sizeof(host), &err), -1);
}

/* Parses argv (NULL-terminated list) and builds the plan. */
static size_t build(struct run_options *opt, struct endpoint **eps, const char **args)
{
	char *argv[32];
	int argc = 0;
	struct mp_error err;
	size_t n = 0;

	argv[argc++] = (char *)"mailprobe";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	assert_int_equal(cli_parse(argc, argv, opt, &err), CLI_RUN);
	assert_int_equal(plan_build(opt, eps, &n, &err), 0);
	return n;
}

static void test_default_matrix(void **state)
{
	struct run_options opt;
	struct endpoint *eps = NULL;
	const char *args[] = {"mx.test", NULL};
	size_t n = build(&opt, &eps, args);

	(void)state;
	assert_int_equal(n, 7);
	assert_int_equal(eps[0].proto, PROTO_SMTP);
	assert_int_equal(eps[0].port, 25);
	assert_int_equal(eps[0].mode, MODE_STARTTLS);
	assert_int_equal(eps[2].port, 465);
	assert_int_equal(eps[2].mode, MODE_TLS);
	assert_int_equal(eps[4].proto, PROTO_IMAP);
	assert_int_equal(eps[4].port, 993);
	assert_int_equal(eps[6].proto, PROTO_POP3);
	assert_int_equal(eps[6].port, 995);
	free(eps);
}

static void test_narrowed_matrix(void **state)
{
	struct run_options opt;
	struct endpoint *eps = NULL;
	const char *args[] = {"--protocols", "smtp",           "--ports",   "25,587",
	                      "--modes",     "starttls,plain", "127.0.0.1", NULL};
	size_t n = build(&opt, &eps, args);

	(void)state;
	assert_int_equal(n, 4);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(eps[i].proto, PROTO_SMTP);
		assert_string_equal(eps[i].host, "127.0.0.1");
	}
	assert_int_equal(eps[0].port, 25);
	assert_int_equal(eps[0].mode, MODE_PLAIN);
	assert_int_equal(eps[1].mode, MODE_STARTTLS);
	assert_int_equal(eps[3].port, 587);
	free(eps);
}

static void test_modes_only_keep_compatible_ports(void **state)
{
	struct run_options opt;
	struct endpoint *eps = NULL;
	const char *args[] = {"--modes", "tls", "mx.test", NULL};
	size_t n = build(&opt, &eps, args);

	(void)state;
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(eps[i].mode, MODE_TLS);
	free(eps);
}

static void test_auto_order(void **state)
{
	struct run_options opt;
	struct endpoint *eps = NULL;
	const char *args[] = {"--auto", "smtp", "mx.test", NULL};
	size_t n = build(&opt, &eps, args);

	(void)state;
	assert_int_equal(n, 5);
	assert_int_equal(eps[0].port, 465);
	assert_int_equal(eps[0].mode, MODE_TLS);
	assert_int_equal(eps[1].port, 587);
	assert_int_equal(eps[1].mode, MODE_STARTTLS);
	assert_int_equal(eps[2].port, 25);
	assert_int_equal(eps[4].mode, MODE_PLAIN);
	free(eps);
}

static void test_urls_and_hosts_mix(void **state)
{
	struct run_options opt;
	struct endpoint *eps = NULL;
	const char *args[] = {"smtps://127.0.0.1:2465", "--protocols", "imap", "mx.test", NULL};
	size_t n = build(&opt, &eps, args);

	(void)state;
	assert_int_equal(n, 3);
	assert_int_equal(eps[0].port, 2465);
	assert_int_equal(eps[1].proto, PROTO_IMAP);
	free(eps);
}

static void test_cli_errors(void **state)
{
	static const char *const bad[][4] = {
	    {"--ports", "0", "h", NULL},
	    {"--ports", "70000", "h", NULL},
	    {"--ports", "abc", "h", NULL},
	    {"--format", "xml", "h", NULL},
	    {"--modes", "ssl3", "h", NULL},
	    {"--protocols", "ftp", "h", NULL},
	    {"--timeout", "-5", "h", NULL},
	    {"--concurrency", "0", "h", NULL},
	    {"--bogus", "h", NULL, NULL},
	    {"--auto", "nntp", "h", NULL},
	    {"--greeting-timeout", NULL, NULL, NULL},
	};
	struct run_options opt;
	struct mp_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[6] = {(char *)"mailprobe"};
		int argc = 1;

		for (int j = 0; j < 4 && bad[i][j]; j++)
			argv[argc++] = (char *)bad[i][j];
		err.msg[0] = '\0';
		assert_int_equal(cli_parse(argc, argv, &opt, &err), CLI_USAGE_ERROR);
		assert_true(strlen(err.msg) > 10);
	}
	{
		char *argv[2] = {(char *)"mailprobe", NULL};

		assert_int_equal(cli_parse(1, argv, &opt, &err), CLI_USAGE_ERROR);
		assert_non_null(strstr(err.msg, "no target"));
	}
}

static void test_port_without_known_protocol(void **state)
{
	struct run_options opt;
	struct endpoint *eps = NULL;
	struct mp_error err;
	size_t n = 0;
	char *argv[] = {(char *)"mailprobe", (char *)"--ports", (char *)"2525,4444", (char *)"h",
	                NULL};

	(void)state;
	assert_int_equal(cli_parse(4, argv, &opt, &err), CLI_RUN);
	assert_int_equal(plan_build(&opt, &eps, &n, &err), -1);
	assert_non_null(strstr(err.msg, "4444"));
	assert_null(eps);
}

/* The default matrix, pinned cell by cell: the planner reads it from the
 * dialect table, and it must stay what it was (7 endpoints per host). */
static void test_default_matrix_pinned(void **state)
{
	static const struct {
		enum protocol proto;
		uint16_t port;
		enum sec_mode mode;
	} want[] = {
	    {PROTO_SMTP, 25, MODE_STARTTLS}, {PROTO_SMTP, 587, MODE_STARTTLS},
	    {PROTO_SMTP, 465, MODE_TLS},     {PROTO_IMAP, 143, MODE_STARTTLS},
	    {PROTO_IMAP, 993, MODE_TLS},     {PROTO_POP3, 110, MODE_STARTTLS},
	    {PROTO_POP3, 995, MODE_TLS},
	};
	struct run_options opt;
	struct endpoint *eps = NULL;
	const char *args[] = {"mx.test", NULL};
	size_t n = build(&opt, &eps, args);

	(void)state;
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(eps[i].proto, want[i].proto);
		assert_int_equal(eps[i].port, want[i].port);
		assert_int_equal(eps[i].mode, want[i].mode);
	}
	free(eps);
}

/* Every protocol of the table: its default matrix alone with --protocols,
 * its --auto order, its URL schemes and default ports, its well-known
 * ports told apart without --protocols, its implicit-TLS port. */
static void test_plan_follows_dialect_table(void **state)
{
	(void)state;
	for (int p = 0; p < PROTO_COUNT; p++) {
		const struct dialect *d = dialect_for((enum protocol)p);
		struct run_options opt;
		struct endpoint *eps = NULL;
		struct endpoint ep;
		struct mp_error err;
		char url[64], portarg[8];
		size_t n, k;

		assert_non_null(d);
		{
			const char *args[] = {"--protocols", d->name, "mx.test", NULL};

			n = build(&opt, &eps, args);
			for (k = 0; k < DIALECT_MAX_PORTS && d->matrix[k].port; k++) {
				assert_true(k < n);
				assert_int_equal(eps[k].proto, p);
				assert_int_equal(eps[k].port, d->matrix[k].port);
				assert_int_equal(eps[k].mode, d->matrix[k].mode);
			}
			assert_int_equal(n, k);
			free(eps);
		}
		{
			const char *args[] = {"--auto", d->name, "mx.test", NULL};

			n = build(&opt, &eps, args);
			for (k = 0; k < DIALECT_MAX_PORTS && d->auto_order[k].port; k++) {
				assert_true(k < n);
				assert_int_equal(eps[k].proto, p);
				assert_int_equal(eps[k].port, d->auto_order[k].port);
				assert_int_equal(eps[k].mode, d->auto_order[k].mode);
			}
			assert_int_equal(n, k);
			free(eps);
		}
		snprintf(url, sizeof(url), "%s://mx.test", d->name);
		assert_int_equal(plan_parse_url(url, &ep, &err), 1);
		assert_int_equal(ep.proto, p);
		assert_int_equal(ep.mode, MODE_PLAIN);
		assert_int_equal(ep.port, d->port_plain);
		snprintf(url, sizeof(url), "%s+STARTTLS://mx.test", d->name);
		assert_int_equal(plan_parse_url(url, &ep, &err), d->starttls_command ? 1 : -1);
		if (d->starttls_command) {
			assert_int_equal(ep.mode, MODE_STARTTLS);
			assert_int_equal(ep.port, d->port_plain);
		}
		if (d->scheme_tls) {
			snprintf(url, sizeof(url), "%s://mx.test", d->scheme_tls);
			assert_int_equal(plan_parse_url(url, &ep, &err), 1);
			assert_int_equal(ep.proto, p);
			assert_int_equal(ep.mode, MODE_TLS);
			assert_int_equal(ep.port, d->port_tls);
		}
		for (k = 0; k < DIALECT_MAX_PORTS && d->well_known_ports[k]; k++) {
			const char *args[] = {"--ports", portarg, "mx.test", NULL};
			uint16_t port = d->well_known_ports[k];

			snprintf(portarg, sizeof(portarg), "%u", (unsigned)port);
			n = build(&opt, &eps, args);
			assert_int_equal(n, 1);
			assert_int_equal(eps[0].proto, p);
			assert_int_equal(eps[0].mode,
			                 port == d->port_tls ? MODE_TLS : MODE_STARTTLS);
			free(eps);
		}
	}
}

/* The messages that list protocols and schemes come from the table and
 * read as before. */
static void test_messages_list_the_table(void **state)
{
	struct endpoint ep;
	struct mp_error err;
	struct run_options opt;
	struct endpoint *eps = NULL;
	size_t n = 0;
	char *argv[] = {(char *)"mailprobe", (char *)"--ports", (char *)"4444", (char *)"h", NULL};

	(void)state;
	assert_int_equal(plan_parse_url("ftp://mx.test", &ep, &err), -1);
	assert_string_equal(err.msg, "unknown scheme in 'ftp://mx.test': use smtp, smtp+starttls, "
	                             "smtps, imap, imap+starttls, imaps, pop3, pop3+starttls or "
	                             "pop3s");
	assert_int_equal(plan_parse_url("smtps+starttls://mx.test", &ep, &err), -1);
	assert_int_equal(cli_parse(4, argv, &opt, &err), CLI_RUN);
	assert_int_equal(plan_build(&opt, &eps, &n, &err), -1);
	assert_string_equal(err.msg, "cannot tell which protocol port 4444 speaks; add "
	                             "--protocols smtp|imap|pop3");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_url_schemes_and_default_ports),
	    cmocka_unit_test(test_url_ipv6_and_errors),
	    cmocka_unit_test(test_bare_hosts),
	    cmocka_unit_test(test_default_matrix),
	    cmocka_unit_test(test_narrowed_matrix),
	    cmocka_unit_test(test_modes_only_keep_compatible_ports),
	    cmocka_unit_test(test_auto_order),
	    cmocka_unit_test(test_urls_and_hosts_mix),
	    cmocka_unit_test(test_cli_errors),
	    cmocka_unit_test(test_port_without_known_protocol),
	    cmocka_unit_test(test_default_matrix_pinned),
	    cmocka_unit_test(test_plan_follows_dialect_table),
	    cmocka_unit_test(test_messages_list_the_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
