/* Unit tests: the option-spec table and what it produces (getopt's tables
 * through the parser, --help, serve's module keys), re-entrant parsing,
 * --help/--version beside a usage error, the IPv6 bracket message and a
 * rule given twice in a policy file.
 *
 * Run as "test_cli --manpage FILE" it checks instead that the man page
 * names every option of the table (exit 77 while FILE does not exist). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/limits.h"
#include "probe/app/cli.h"
#include "probe/app/policy_opts.h"
#include "probe/engine/plan.h"

/* Runs cli_parse on a fresh, writable copy of a NULL-terminated list (the
 * copy is freed before returning: nothing may point into it afterwards but
 * opt's strings, which the tests do not read after). */
static enum cli_result parse(struct run_options *opt, struct mp_error *err, ...)
{
	char *argv[32];
	int argc = 0;
	const char *a;
	va_list ap;
	enum cli_result r;

	argv[argc++] = strdup("mailprobe");
	va_start(ap, err);
	while ((a = va_arg(ap, const char *)) != NULL && argc < 31)
		argv[argc++] = strdup(a);
	va_end(ap);
	argv[argc] = NULL;
	err->msg[0] = '\0';
	r = cli_parse(argc, argv, opt, err);
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	return r;
}

/* The text cli_usage (or another printer) writes, NUL-terminated, malloc'd. */
static char *capture(void (*print)(FILE *f))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	print(f);
	fclose(f);
	return buf;
}

static void print_merge_options(FILE *f)
{
	cli_usage_options(f, CLI_GROUP(CLI_G_OUTPUT) | CLI_GROUP(CLI_G_POLICY));
}

/* Whether a help text lists option o in its option column (a line that
 * starts with "  --name" or "  -x, --name", then a space or the line's end). */
static bool lists(const char *text, const struct cli_option *o)
{
	char left[80];
	size_t len;

	if (o->letter)
		snprintf(left, sizeof(left), "\n  -%c, --%s", o->letter, o->name);
	else
		snprintf(left, sizeof(left), "\n  --%s", o->name);
	len = strlen(left);
	for (const char *at = strstr(text, left); at; at = strstr(at + 1, left))
		if (at[len] == ' ' || at[len] == '\n')
			return true;
	return false;
}

static void test_table_is_consistent(void **state)
{
	(void)state;
	assert_true(cli_noptions > 60);
	assert_true(cli_noptions <= CLI_MAX_OPTIONS);
	for (size_t i = 0; i < cli_noptions; i++) {
		const struct cli_option *o = &cli_options[i];
		const char *line = o->help;

		assert_non_null(o->name);
		assert_non_null(o->set);
		assert_non_null(o->help);
		assert_true(o->group < CLI_G_COUNT);
		assert_true(strspn(o->name, "abcdefghijklmnopqrstuvwxyz0123456789-") ==
		            strlen(o->name));
		assert_true(!o->arg || o->arg[0]);
		assert_ptr_equal(cli_option_find(o->name), o);
		for (size_t k = i + 1; k < cli_noptions; k++) {
			assert_string_not_equal(o->name, cli_options[k].name);
			if (o->letter)
				assert_int_not_equal(o->letter, cli_options[k].letter);
		}
		/* each help line fits beside the option column */
		for (;;) {
			const char *nl = strchr(line, '\n');
			size_t len = nl ? (size_t)(nl - line) : strlen(line);

			if (len > CLI_HELP_WIDTH)
				fail_msg("--%s: help line of %zu columns: %.*s", o->name, len,
				         (int)len, line);
			if (!nl)
				break;
			line = nl + 1;
		}
		/* a rule option is a policy key, and the rules are policy options */
		assert_int_equal(!!(o->flags & CLI_RULE),
		                 policy_is_key(o->name) && strcmp(o->name, "cert-warn-days") != 0);
		if (o->flags & CLI_RULE)
			assert_int_equal(o->group, CLI_G_POLICY);
	}
	assert_null(cli_option_find("frobnicate"));
	assert_null(cli_option_find(NULL));
}

/* Every rule policy_opts.c knows (its message for an unknown one lists
 * them) is an option of the table: a rule added there needs its entry. */
static void test_every_rule_is_an_option(void **state)
{
	const char *name;
	int n = 0;

	(void)state;
	/* the rules as policy_opts.c lists them (its error message is cut at
	 * MP_MAX_ERROR once there are many) */
	for (size_t i = 0; (name = policy_key_name(i)) != NULL; i++) {
		const struct cli_option *o;

		o = cli_option_find(name);
		if (!o)
			fail_msg("policy rule '%s' has no option in the table", name);
		if (strcmp(name, "cert-warn-days") != 0 && !(o->flags & CLI_RULE))
			fail_msg("policy rule '%s' is not marked CLI_RULE", name);
		n++;
	}
	assert_true(n >= 16);
}

static void test_help_fits_and_names_every_option(void **state)
{
	char *text = capture(cli_usage);
	char *merge = capture(print_merge_options);
	int lines = 0;

	(void)state;
	for (const char *line = text; *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		if (len > 80)
			fail_msg("--help line of %zu columns: %.*s", len, (int)len, line);
		lines++;
		if (!nl)
			break;
		line = nl + 1;
	}
	assert_true(lines < 130);
	assert_non_null(strstr(text, "mailprobe(1)"));
	assert_non_null(strstr(text, "mailprobe help [serve|merge]"));
	assert_non_null(strstr(text, "smtp://[::1]:25"));
	for (size_t i = 0; i < cli_noptions; i++) {
		const struct cli_option *o = &cli_options[i];
		bool in_merge = o->group == CLI_G_OUTPUT || o->group == CLI_G_POLICY;

		if (!lists(text, o))
			fail_msg("--help does not list --%s", o->name);
		if (lists(merge, o) != in_merge)
			fail_msg("merge's options and --%s disagree", o->name);
	}
	free(text);
	free(merge);
}

/* serve's module keys are the table's: the same options refused as before
 * the table (they decide the exporter's output, or hold a secret). */
static void test_module_keys(void **state)
{
	static const char *const forbidden[] = {"format",   "output",  "help",
	                                        "version",  "verbose", "color",
	                                        "no-color", "compact", "password"};

	(void)state;
	for (size_t i = 0; i < cli_noptions; i++) {
		bool refused = false;

		for (size_t k = 0; k < sizeof(forbidden) / sizeof(forbidden[0]); k++)
			refused |= strcmp(cli_options[i].name, forbidden[k]) == 0;
		assert_int_equal(cli_module_key(cli_options[i].name),
		                 refused ? CLI_KEY_FORBIDDEN : CLI_KEY_OK);
	}
	assert_int_equal(cli_module_key("frobnicate"), CLI_KEY_UNKNOWN);
	/* getopt takes "--greeting" for --greeting-timeout; a module key may not */
	assert_int_equal(cli_module_key("greeting"), CLI_KEY_UNKNOWN);
	assert_int_equal(cli_module_key(""), CLI_KEY_UNKNOWN);
}

/* Every kind of setter through the table, and the values land where they belong. */
static void test_setters(void **state)
{
	struct run_options *opt = calloc(1, sizeof(*opt));
	struct mp_error err;

	(void)state;
	assert_int_equal(parse(opt, &err, "-vv", "--greeting-timeout", "250", "--mx-port", "2525",
	                       "--ipv6", "--guess", "--discover", "example.test", "--sni", "n.test",
	                       "--require-tls", "--min-tls", "1.2", "--deadline", "0", "-f",
	                       "ndjson", "--checks", "vrfy", "--enum-user", "alice", "h.test",
	                       NULL),
	                 CLI_USAGE_ERROR); /* ndjson with --discover and a policy */
	assert_int_equal(parse(opt, &err, "-vv", "--greeting-timeout", "250", "--mx-port", "2525",
	                       "--ipv6", "--guess", "--discover", "example.test", "--sni", "n.test",
	                       "--require-tls", "--min-tls", "1.2", "--checks", "vrfy",
	                       "--enum-user", "alice", "-o", "junit:x.xml", "--relay-test",
	                       "--cert-warn-days", "20", "h.test", NULL),
	                 CLI_RUN);
	assert_int_equal(opt->verbose, 2);
	assert_int_equal(opt->probe.greeting_timeout_ms, 250);
	assert_int_equal(opt->mx_port, 2525);
	assert_int_equal(opt->https_port, 443);
	assert_int_equal(opt->probe.family, AF_INET6);
	assert_true(opt->guess);
	assert_true(opt->policy.active);
	assert_true(opt->policy.require_tls);
	assert_int_equal(opt->policy.min_tls, 0x0303);
	assert_int_equal(opt->policy.cert_warn_days, 20);
	assert_int_equal(opt->noutputs, 1);
	assert_non_null(opt->probe.checks);
	assert_string_equal(opt->checks.relay_from, CHECK_RELAY_FROM_DEFAULT);
	assert_int_equal(opt->ntargets, 1);
	/* a second parse starts from the defaults */
	assert_int_equal(parse(opt, &err, "h.test", NULL), CLI_RUN);
	assert_int_equal(opt->verbose, 0);
	assert_int_equal(opt->probe.greeting_timeout_ms, MP_DEFAULT_GREETING_TIMEOUT_MS);
	assert_false(opt->policy.active);
	assert_null(opt->probe.checks);
	free(opt);
}

/* A parse that stops inside a cluster of short options ("-vZvvv") leaves
 * getopt pointing into that argv (at "vvv"); the next parse, of another
 * argv, must start afresh: with a partial reset (optind = 1) glibc would
 * go on reading the old cluster, here still alive, and count 3 more -v. */
static void test_reentrant_after_error_in_cluster(void **state)
{
	struct run_options *opt = calloc(1, sizeof(*opt));
	struct mp_error err;
	char prog[] = "mailprobe", cluster[] = "-vZvvv", host[] = "h.test";
	char *first[] = {prog, cluster, host, NULL};

	(void)state;
	for (int round = 0; round < 3; round++) {
		assert_int_equal(cli_parse(3, first, opt, &err), CLI_USAGE_ERROR);
		assert_string_equal(err.msg, "unknown option '-Z'");
		assert_int_equal(parse(opt, &err, "h.test", "--timeout", "700", NULL), CLI_RUN);
		assert_int_equal(opt->verbose, 0);
		assert_int_equal(opt->probe.command_timeout_ms, 700);
		assert_int_equal(opt->ntargets, 1);
		assert_int_equal(cli_parse(3, first, opt, &err), CLI_USAGE_ERROR);
		assert_int_equal(parse(opt, &err, "-v", "h.test", NULL), CLI_RUN);
		assert_int_equal(opt->verbose, 1);
		assert_int_equal(parse(opt, &err, "-f", NULL), CLI_USAGE_ERROR);
		assert_string_equal(err.msg, "option -f needs a value");
	}
	free(opt);
}

/* --help and --version answer only when every option is valid. */
static void test_help_and_version_with_errors(void **state)
{
	struct run_options *opt = calloc(1, sizeof(*opt));
	struct mp_error err;
	FILE *saved = stdout;

	(void)state;
	assert_int_equal(parse(opt, &err, "--version", "--bogus", NULL), CLI_USAGE_ERROR);
	assert_non_null(strstr(err.msg, "--bogus"));
	assert_int_equal(parse(opt, &err, "--bogus", "--version", NULL), CLI_USAGE_ERROR);
	assert_int_equal(parse(opt, &err, "-V", "--ports", "0", NULL), CLI_USAGE_ERROR);
	assert_int_equal(parse(opt, &err, "--help", "--format", "xml", NULL), CLI_USAGE_ERROR);
	assert_int_equal(parse(opt, &err, "-h", "-Z", NULL), CLI_USAGE_ERROR);
	/* alone, or with valid options and no target, they answer */
	stdout = fopen("/dev/null", "w");
	assert_non_null(stdout);
	assert_int_equal(parse(opt, &err, "--version", NULL), CLI_EXIT_OK);
	assert_int_equal(parse(opt, &err, "--timeout", "5", "-h", NULL), CLI_EXIT_OK);
	fclose(stdout);
	stdout = saved;
	free(opt);
}

static void test_ipv6_without_brackets(void **state)
{
	static const struct {
		const char *url, *want;
	} cases[] = {
	    {"smtp://::1:25", "write smtp://[::1]:25,"},
	    {"smtps://::1", "write smtps://[::1],"},
	    {"imap://fe80::1:143", "write imap://[fe80::1]:143,"},
	    {"pop3s://2001:db8::1", "write pop3s://[2001:db8::1],"},
	    {"smtp://a:b:c", "write smtp://[ADDRESS]:PORT,"},
	};
	struct endpoint ep;
	struct mp_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(plan_parse_url(cases[i].url, &ep, &err), -1);
		if (!strstr(err.msg, "brackets") || !strstr(err.msg, cases[i].want))
			fail_msg("%s: %s", cases[i].url, err.msg);
	}
	assert_int_equal(plan_parse_url("smtp://[::1]:25", &ep, &err), 1);
	assert_string_equal(ep.host, "::1");
	assert_int_equal(ep.port, 25);
	assert_int_equal(plan_parse_url("smtp://127.0.0.1:25", &ep, &err), 1);
}

/* Writes text to a new temporary file; returns its path (malloc'd). */
static char *temp_file(const char *text)
{
	char *path = strdup("/tmp/test_cli_XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_policy_rule_twice(void **state)
{
	struct policy p;
	struct mp_error err;
	char *twice = temp_file("{\n  \"require-tls\": true,\n  \"min-tls\": \"1.2\",\n"
	                        "  \"warn-ms\": 100,\n  \"min-tls\"  :\n \"1.3\"\n}\n");
	char *once = temp_file("{\"require-tls\": true, \"min-tls\": \"1.2\",\n"
	                       " \"optional\": [\"smtp://a.test\", \"smtp://b.test\"]}\n");

	(void)state;
	policy_defaults(&p);
	assert_int_equal(policy_load_file(twice, &p, &err), -1);
	if (!strstr(err.msg, "'min-tls' is given twice, on line 3 and line 5"))
		fail_msg("%s", err.msg);
	assert_non_null(strstr(err.msg, twice));
	policy_defaults(&p);
	assert_int_equal(policy_load_file(once, &p, &err), 0);
	assert_int_equal(p.noptional, 2);
	assert_int_equal(p.min_tls, 0x0303);
	unlink(twice);
	unlink(once);
	free(twice);
	free(once);
}

static void test_policy_rule_twice_lines(void **state)
{
	struct policy p;
	struct mp_error err;
	/* the value "optional" on line 2 is not the key's second place */
	char *path =
	    temp_file("{\"optional\": \"smtp://a.test\",\n\"require-auth\": \"optional\",\n"
	              "\"optional\": \"smtp://b.test\"}\n");

	(void)state;
	policy_defaults(&p);
	assert_int_equal(policy_load_file(path, &p, &err), -1);
	if (!strstr(err.msg, "'optional' is given twice, on line 1 and line 3"))
		fail_msg("%s", err.msg);
	unlink(path);
	free(path);
}

/* The man page in roff: "\-" is a dash, font changes (\fB ... \fR) go. */
static char *read_roff(const char *path)
{
	FILE *f = fopen(path, "re");
	char *raw = NULL, *text = NULL;
	size_t len = 0, n = 0;

	if (!f)
		return NULL;
	raw = malloc(1 << 20);
	text = malloc(1 << 20);
	if (raw && text) {
		len = fread(raw, 1, (1 << 20) - 1, f);
		raw[len] = '\0';
		for (size_t i = 0; i < len; i++) {
			if (raw[i] == '\\' && raw[i + 1] == '-') {
				text[n++] = '-';
				i++;
			} else if (raw[i] == '\\' && raw[i + 1] == 'f' && raw[i + 2]) {
				i += 2;
			} else if (raw[i] == '\\' && raw[i + 1] == '&') {
				i++;
			} else {
				text[n++] = raw[i];
			}
		}
		text[n] = '\0';
	}
	fclose(f);
	free(raw);
	return text;
}

/* Whether the normalised man page names --name (as .B --name, --name in
 * text, or mdoc's .Fl -name). */
static bool man_names(const char *text, const char *name)
{
	char want[80];
	size_t len;

	snprintf(want, sizeof(want), "-%s", name);
	len = strlen(want);
	for (const char *at = strstr(text, want); at; at = strstr(at + 1, want)) {
		char after = at[len];

		if (isalnum((unsigned char)after) || after == '-')
			continue;
		if (at > text && at[-1] == '-')
			return true;
		if (at - text >= 3 && strncmp(at - 3, "Fl ", 3) == 0)
			return true;
	}
	return false;
}

static int check_manpage(const char *path)
{
	char *text = read_roff(path);
	int missing = 0;

	if (!text) {
		printf("SKIP: %s does not exist (yet)\n", path);
		return 77;
	}
	for (size_t i = 0; i < cli_noptions; i++)
		if (!man_names(text, cli_options[i].name)) {
			printf("FAIL: %s does not describe --%s\n", path, cli_options[i].name);
			missing++;
		}
	free(text);
	if (missing) {
		printf("FAIL: %d of %zu options missing from the man page\n", missing,
		       cli_noptions);
		return 1;
	}
	printf("PASS: all %zu options of the table are in %s\n", cli_noptions, path);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_is_consistent),
	    cmocka_unit_test(test_every_rule_is_an_option),
	    cmocka_unit_test(test_help_fits_and_names_every_option),
	    cmocka_unit_test(test_module_keys),
	    cmocka_unit_test(test_setters),
	    cmocka_unit_test(test_reentrant_after_error_in_cluster),
	    cmocka_unit_test(test_help_and_version_with_errors),
	    cmocka_unit_test(test_ipv6_without_brackets),
	    cmocka_unit_test(test_policy_rule_twice),
	    cmocka_unit_test(test_policy_rule_twice_lines),
	};

	if (argc == 3 && strcmp(argv[1], "--manpage") == 0)
		return check_manpage(argv[2]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
