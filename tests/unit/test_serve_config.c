/* test_serve_config.c - the exporter's configuration file (probe/
 * serve_config.c): modules turned into command-line arguments, what a module
 * may not say, wrong types and broken JSON, and the allow list
 * (serve_config_allows) for names, patterns, IPv4 and IPv6 CIDRs and URL
 * targets. Every name and address here is loopback, .test or .invalid. */
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
#include <sys/socket.h>

#include "probe/app/serve_config.h"

#define PASSWORD "unit-s3cret-Pw"

/* A temporary directory holding the files of one test. */
struct fx {
	char dir[64];
	char cfg[128];
	char pass[128];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	FILE *fp = NULL;

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/mp-serve-cfg-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->cfg, sizeof(f->cfg), "%s/serve.json", f->dir);
	snprintf(f->pass, sizeof(f->pass), "%s/alice.pass", f->dir);
	fp = fopen(f->pass, "w");
	if (!fp)
		return -1;
	fputs(PASSWORD "\n", fp);
	fclose(fp);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	unlink(f->cfg);
	unlink(f->pass);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Writes the configuration file from a printf format. */
static void write_cfg(const struct fx *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void write_cfg(const struct fx *f, const char *fmt, ...)
{
	FILE *fp = fopen(f->cfg, "w");
	va_list ap;

	assert_non_null(fp);
	va_start(ap, fmt);
	vfprintf(fp, fmt, ap);
	va_end(ap);
	assert_int_equal(fclose(fp), 0);
}

/* Loads the file, which must be accepted. */
static struct serve_config *load_ok(const struct fx *f)
{
	struct mp_error err;
	struct serve_config *c = NULL;

	memset(&err, 0, sizeof(err));
	c = serve_config_load(f->cfg, &err);
	if (!c)
		fail_msg("config refused: %s", err.msg);
	return c;
}

/* Loads the file, which must be refused with a message holding each of the
 * NULL-terminated strings (and naming the file). */
static void load_refused(const struct fx *f, ...)
{
	struct mp_error err;
	struct serve_config *c = NULL;
	const char *want = NULL;
	va_list ap;

	memset(&err, 0, sizeof(err));
	c = serve_config_load(f->cfg, &err);
	if (c) {
		char text[512] = "";
		FILE *fp = fopen(f->cfg, "r");

		if (fp) {
			text[fread(text, 1, sizeof(text) - 1, fp)] = '\0';
			fclose(fp);
		}
		serve_config_free(c);
		fail_msg("config accepted, expected a refusal: %s", text);
	}
	if (!strstr(err.msg, f->cfg))
		fail_msg("message does not name the file %s: '%s'", f->cfg, err.msg);
	va_start(ap, f);
	while ((want = va_arg(ap, const char *)) != NULL)
		if (!strstr(err.msg, want)) {
			va_end(ap);
			fail_msg("message '%s' lacks '%s'", err.msg, want);
		}
	va_end(ap);
}

/* The module's arguments as one space-separated string. */
static void args_of(const struct serve_module *m, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < m->nargs && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? " " : "", m->args[i]);
}

static void expect_args(const struct serve_config *c, const char *module, const char *want)
{
	const struct serve_module *m = serve_config_module(c, module);
	char got[1024];

	if (!m)
		fail_msg("no module '%s'", module);
	args_of(m, got, sizeof(got));
	if (strcmp(got, want) != 0)
		fail_msg("module '%s': arguments '%s', expected '%s'", module, got, want);
}

static void test_modules_become_arguments(void **state)
{
	struct fx *f = *state;
	struct serve_config *c = NULL;

	write_cfg(
	    f,
	    "{\"allow\": [\"127.0.0.1\"],\n"
	    " \"modules\": {\n"
	    "  \"flags\": {\"require-tls\": true, \"insecure\": false, \"transcript\": true},\n"
	    "  \"nums\": {\"greeting-timeout\": 1500, \"deadline\": 8000, \"concurrency\": 3},\n"
	    "  \"strs\": {\"cafile\": \"%s/ca.pem\", \"ehlo\": \"probe.test\"},\n"
	    "  \"lists\": {\"protocols\": [\"smtp\", \"imap\"], \"ports\": [\"465\"]},\n"
	    "  \"empty\": {}\n"
	    " },\n"
	    " \"targets\": [{\"target\": \"smtps://127.0.0.1:465\", \"module\": \"flags\"},\n"
	    "             {\"target\": \"127.0.0.1\"}],\n"
	    " \"interval\": 30}\n",
	    f->dir);
	c = load_ok(f);
	expect_args(c, "flags", "mailprobe --require-tls --transcript");
	expect_args(c, "nums", "mailprobe --greeting-timeout 1500 --deadline 8000 --concurrency 3");
	{
		char want[256];

		snprintf(want, sizeof(want), "mailprobe --cafile %s/ca.pem --ehlo probe.test",
		         f->dir);
		expect_args(c, "strs", want);
	}
	expect_args(c, "lists", "mailprobe --protocols smtp --protocols imap --ports 465");
	expect_args(c, "empty", "mailprobe");
	/* "default" exists although not written: the command line's defaults */
	expect_args(c, "default", "mailprobe");
	assert_null(serve_config_module(c, "nope"));
	assert_null(serve_config_module(c, NULL));
	assert_int_equal(c->ntargets, 2);
	assert_string_equal(c->targets[0].module, "flags");
	assert_string_equal(c->targets[1].module, "default");
	assert_int_equal(c->interval_s, 30);
	assert_true(c->allow_given);
	assert_int_equal(c->nallow, 1);
	serve_config_free(c);

	/* an empty object is a valid configuration */
	write_cfg(f, "{}");
	c = load_ok(f);
	assert_false(c->allow_given);
	assert_int_equal(c->ntargets, 0);
	expect_args(c, "default", "mailprobe");
	serve_config_free(c);
}

/* serve_config_options parses a module with the request's targets as the
 * command line would; the password comes from its file, never from the
 * module's arguments. */
static void test_options_and_secret(void **state)
{
	struct fx *f = *state;
	struct serve_config *c = NULL;
	struct run_options *opt = calloc(1, sizeof(*opt));
	const char *targets[2] = {"smtps://127.0.0.1:465", "imaps://[::1]:993"};
	struct mp_error err;

	assert_non_null(opt);
	write_cfg(f,
	          "{\"modules\": {\"login\": {\"user\": \"alice\", \"password-file\": \"%s\",\n"
	          "  \"greeting-timeout\": 700, \"deadline\": 4000, \"require-tls\": true}}}\n",
	          f->pass);
	c = load_ok(f);
	for (size_t i = 0; i < serve_config_module(c, "login")->nargs; i++)
		assert_null(strstr(serve_config_module(c, "login")->args[i], PASSWORD));
	memset(&err, 0, sizeof(err));
	assert_int_equal(
	    serve_config_options(serve_config_module(c, "login"), targets, 2, opt, &err), 0);
	assert_int_equal(opt->ntargets, 2);
	assert_string_equal(opt->targets[0], targets[0]);
	assert_string_equal(opt->targets[1], targets[1]);
	assert_string_equal(opt->auth.user, "alice");
	assert_string_equal(opt->password, PASSWORD);
	assert_int_equal(opt->probe.greeting_timeout_ms, 700);
	assert_int_equal(opt->overall_timeout_ms, 4000);
	assert_true(opt->policy.require_tls);
	/* a module parsed again starts from the defaults */
	assert_int_equal(
	    serve_config_options(serve_config_module(c, "default"), targets, 1, opt, &err), 0);
	assert_int_equal(opt->ntargets, 1);
	assert_null(opt->auth.user);
	assert_int_not_equal(opt->probe.greeting_timeout_ms, 700);
	/* no target: the parser's own message */
	assert_int_equal(
	    serve_config_options(serve_config_module(c, "default"), targets, 0, opt, &err), -1);
	assert_non_null(strstr(err.msg, "no target"));
	serve_config_free(c);
	free(opt);

	/* a password file that does not exist is refused when loading */
	write_cfg(f,
	          "{\"modules\": {\"login\": {\"user\": \"alice\", \"password-file\": "
	          "\"%s/missing.pass\"}}}\n",
	          f->dir);
	load_refused(f, "module 'login'", "missing.pass", NULL);
}

static void test_forbidden_keys(void **state)
{
	struct fx *f = *state;
	static const char *const keys[] = {"format",  "output", "help",     "version",
	                                   "verbose", "color",  "no-color", "compact"};
	char want[64];

	write_cfg(f, "{\"modules\": {\"m\": {\"user\": \"alice\", \"password\": \"%s\"}}}",
	          PASSWORD);
	load_refused(f, "module 'm'", "\"password\" is not allowed", "password-file", NULL);
	{
		/* the secret itself is not repeated in the message */
		struct mp_error err;

		assert_null(serve_config_load(f->cfg, &err));
		assert_null(strstr(err.msg, PASSWORD));
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		write_cfg(f, "{\"modules\": {\"mod%zu\": {\"%s\": \"json\"}}}", i, keys[i]);
		snprintf(want, sizeof(want), "\"%s\" is not allowed in a module", keys[i]);
		load_refused(f, want, NULL);
		/* forbidden whatever the value, even false */
		write_cfg(f, "{\"modules\": {\"mod%zu\": {\"%s\": false}}}", i, keys[i]);
		load_refused(f, want, NULL);
	}
}

static void test_unknown_option_and_module(void **state)
{
	struct fx *f = *state;

	/* an option the command line does not know, named with its module */
	write_cfg(f, "{\"modules\": {\"smtp_tls\": {\"greeting-timeout\": 100, \"frobnicate\": "
	             "true}}}");
	load_refused(f, "module 'smtp_tls'", "frobnicate", NULL);
	/* an option with a bad value, named by the command line's parser */
	write_cfg(f, "{\"modules\": {\"slow\": {\"greeting-timeout\": \"soon\"}}}");
	load_refused(f, "module 'slow'", "greeting-timeout", NULL);
	write_cfg(f, "{\"modules\": {\"neg\": {\"concurrency\": -4}}}");
	load_refused(f, "module 'neg'", "concurrency", NULL);
	/* keys written as options or empty */
	write_cfg(f, "{\"modules\": {\"dash\": {\"--require-tls\": true}}}");
	load_refused(f, "module 'dash'", "not an option name", NULL);
	write_cfg(f, "{\"modules\": {\"blank\": {\"\": true}}}");
	load_refused(f, "module 'blank'", "not an option name", NULL);
	/* a target naming a module that does not exist */
	write_cfg(f, "{\"modules\": {\"a\": {}},\n"
	             " \"targets\": [{\"target\": \"smtps://127.0.0.1:465\", \"module\": \"b\"}]}");
	load_refused(f, "target 'smtps://127.0.0.1:465'", "module 'b'", "not in \"modules\"", NULL);
	/* a target the module's plan refuses, named */
	write_cfg(f, "{\"targets\": [{\"target\": \"gopher://127.0.0.1\"}]}");
	load_refused(f, "gopher://127.0.0.1", NULL);
	write_cfg(f, "{\"modules\": {\"p\": {}}, \"targets\": [{\"target\": \"mail test\", "
	             "\"module\": \"p\"}]}");
	load_refused(f, "module 'p' with target mail test", NULL);
	/* a module whose plan is empty or undecidable fails when loaded, not per request */
	write_cfg(f, "{\"modules\": {\"ports\": {\"ports\": \"2526\"}}}");
	load_refused(f, "module 'ports'", "cannot tell which protocol port 2526 speaks", NULL);
	/* a target without "target" */
	write_cfg(f, "{\"targets\": [{\"module\": \"default\"}]}");
	load_refused(f, "each of \"targets\"", NULL);
	write_cfg(f, "{\"targets\": [\"127.0.0.1\"]}");
	load_refused(f, "each of \"targets\"", NULL);
}

static void test_wrong_types(void **state)
{
	struct fx *f = *state;

	write_cfg(f, "{\"allow\": \"127.0.0.1\"}");
	load_refused(f, "\"allow\" has a value of the wrong type", NULL);
	write_cfg(f, "{\"allow\": [\"127.0.0.1\", 127]}");
	load_refused(f, "\"allow\"", "wrong type", NULL);
	write_cfg(f, "{\"modules\": [\"a\"]}");
	load_refused(f, "\"modules\"", "wrong type", NULL);
	write_cfg(f, "{\"modules\": {\"a\": \"--require-tls\"}}");
	load_refused(f, "\"modules\"", "wrong type", NULL);
	write_cfg(f, "{\"modules\": {\"a\": {\"greeting-timeout\": {\"ms\": 5}}}}");
	load_refused(f, "module 'a'", "\"greeting-timeout\" has a value of the wrong type", NULL);
	write_cfg(f, "{\"modules\": {\"a\": {\"cafile\": null}}}");
	load_refused(f, "module 'a'", "wrong type", NULL);
	write_cfg(f, "{\"modules\": {\"a\": {\"protocols\": [\"smtp\", 2]}}}");
	load_refused(f, "module 'a'", "\"protocols\" expects strings", NULL);
	write_cfg(f, "{\"targets\": {\"target\": \"127.0.0.1\"}}");
	load_refused(f, "\"targets\"", "wrong type", NULL);
	write_cfg(f, "{\"interval\": \"60\"}");
	load_refused(f, "\"interval\"", "wrong type", NULL);
	write_cfg(f, "{\"interval\": -1}");
	load_refused(f, "\"interval\"", NULL);
	write_cfg(f, "{\"interval\": 86401}");
	load_refused(f, "\"interval\"", NULL);
	/* unknown top-level keys are refused with the known ones listed */
	write_cfg(f, "{\"allow\": [], \"module\": {}}");
	load_refused(f, "unknown key \"module\"", "allow, modules, targets, interval", NULL);
	write_cfg(f, "{\"Allow\": [\"127.0.0.1\"]}");
	load_refused(f, "unknown key \"Allow\"", NULL);
}

static void test_broken_json(void **state)
{
	struct fx *f = *state;
	struct mp_error err;

	write_cfg(f, "{\"allow\": [\"127.0.0.1\",\n \"::1\"\n \"mail.test\"]}\n");
	load_refused(f, "line 3", "expected a JSON object", NULL);
	write_cfg(f, "[\"127.0.0.1\"]");
	load_refused(f, "expected a JSON object", NULL);
	write_cfg(f, "{} trailing");
	load_refused(f, "expected a JSON object", NULL);
	write_cfg(f, "%s", "");
	load_refused(f, "expected a JSON object", NULL);
	/* "allow" entries that are not valid CIDRs */
	write_cfg(f, "{\"allow\": [\"127.0.0.1/33\"]}");
	load_refused(f, "'127.0.0.1/33' is not a valid CIDR", NULL);
	write_cfg(f, "{\"allow\": [\"::1/129\"]}");
	load_refused(f, "'::1/129'", "CIDR", NULL);
	write_cfg(f, "{\"allow\": [\"127.0.0.0/\"]}");
	load_refused(f, "CIDR", NULL);
	write_cfg(f, "{\"allow\": [\"127.0.0.0/8x\"]}");
	load_refused(f, "CIDR", NULL);
	write_cfg(f, "{\"allow\": [\"127.0.0.0/-1\"]}");
	load_refused(f, "CIDR", NULL);
	write_cfg(f, "{\"allow\": [\"mail.test/24\"]}");
	load_refused(f, "CIDR", NULL);
	write_cfg(f, "{\"allow\": [\"\"]}");
	load_refused(f, "empty \"allow\" entry", NULL);
	/* a file that is not there */
	memset(&err, 0, sizeof(err));
	assert_null(serve_config_load("/nonexistent.invalid/serve.json", &err));
	assert_non_null(strstr(err.msg, "cannot read /nonexistent.invalid/serve.json"));
	/* a directory */
	assert_null(serve_config_load(f->dir, &err));
	assert_non_null(strstr(err.msg, f->dir));
}

/* Loads an allow list (JSON array text) and checks targets against it. */
static struct serve_config *with_allow(const struct fx *f, const char *list)
{
	write_cfg(f, "{\"allow\": %s}", list);
	return load_ok(f);
}

#define ALLOWED(c, t)     assert_true(serve_config_allows((c), (t)))
#define NOT_ALLOWED(c, t) assert_false(serve_config_allows((c), (t)))

static void test_allow_names_and_patterns(void **state)
{
	struct fx *f = *state;
	struct serve_config *c =
	    with_allow(f, "[\"mail.test\", \"*.example.test\", \"localhost\"]");

	ALLOWED(c, "mail.test");
	ALLOWED(c, "MAIL.Test");
	ALLOWED(c, "smtps://Mail.TEST:465");
	ALLOWED(c, "imap+starttls://mail.test");
	ALLOWED(c, "localhost");
	NOT_ALLOWED(c, "mail.test.invalid");
	NOT_ALLOWED(c, "mx.mail.test");
	NOT_ALLOWED(c, "other.test");
	/* *.pattern: subdomains, any case, not the bare domain */
	ALLOWED(c, "mx.example.test");
	ALLOWED(c, "MX1.Example.Test");
	ALLOWED(c, "pop3s://a.b.example.test:995");
	NOT_ALLOWED(c, "example.test");
	NOT_ALLOWED(c, "mx.example.test.invalid");
	NOT_ALLOWED(c, "badexample.test");
	/* addresses are not names: no CIDR here, so none is allowed */
	NOT_ALLOWED(c, "127.0.0.1");
	NOT_ALLOWED(c, "::1");
	/* what is not a target at all */
	NOT_ALLOWED(c, "");
	NOT_ALLOWED(c, "smtps://");
	NOT_ALLOWED(c, "gopher://mail.test");
	NOT_ALLOWED(c, "mail.test/x");
	NOT_ALLOWED(c, "mail test");
	serve_config_free(c);

	/* a pattern never matches an address, even "*" */
	c = with_allow(f, "[\"*\"]");
	ALLOWED(c, "anything.invalid");
	NOT_ALLOWED(c, "127.0.0.1");
	NOT_ALLOWED(c, "smtps://[::1]:465");
	serve_config_free(c);

	/* an empty list allows nothing */
	write_cfg(f, "{\"allow\": [], \"targets\": [{\"target\": \"127.0.0.1\"}]}");
	c = load_ok(f);
	NOT_ALLOWED(c, "127.0.0.1");
	serve_config_free(c);
}

/* A pattern is for names: an address in any spelling never matches one. */
static void test_pattern_not_for_addresses(void **state)
{
	struct fx *f = *state;
	struct serve_config *c = with_allow(f, "[\"*\", \"*.test\"]");

	ALLOWED(c, "mail.test");
	NOT_ALLOWED(c, "127.1");
	NOT_ALLOWED(c, "0x7f.1");
	NOT_ALLOWED(c, "2130706433");
	NOT_ALLOWED(c, "127.0.0.1");
	serve_config_free(c);
}

static void test_allow_ipv4(void **state)
{
	struct fx *f = *state;
	struct serve_config *c = with_allow(f, "[\"127.0.0.1/32\", \"127.0.2.0/24\"]");

	ALLOWED(c, "127.0.0.1");
	ALLOWED(c, "smtps://127.0.0.1:465");
	NOT_ALLOWED(c, "127.0.0.2");
	NOT_ALLOWED(c, "127.0.1.1");
	ALLOWED(c, "127.0.2.0");
	ALLOWED(c, "127.0.2.255");
	NOT_ALLOWED(c, "127.0.3.0");
	/* the resolver's other spellings of an address are that address */
	ALLOWED(c, "127.1");
	ALLOWED(c, "2130706433");
	NOT_ALLOWED(c, "127.3");
	NOT_ALLOWED(c, "127.0.0.1.invalid");
	NOT_ALLOWED(c, "::ffff:127.0.0.1");
	NOT_ALLOWED(c, "::1");
	serve_config_free(c);

	/* /8 and the bare address as a name */
	c = with_allow(f, "[\"127.0.0.0/8\"]");
	ALLOWED(c, "127.0.0.1");
	ALLOWED(c, "127.255.255.254");
	ALLOWED(c, "pop3://127.9.9.9:110");
	NOT_ALLOWED(c, "::1");
	NOT_ALLOWED(c, "localhost");
	serve_config_free(c);
	c = with_allow(f, "[\"127.0.0.1\"]");
	ALLOWED(c, "127.0.0.1");
	ALLOWED(c, "imaps://127.0.0.1:993");
	NOT_ALLOWED(c, "127.0.0.9");
	serve_config_free(c);

	/* /0: every IPv4 address, no IPv6 one (the address bits do not matter) */
	c = with_allow(f, "[\"127.0.0.1/0\"]");
	ALLOWED(c, "127.0.0.1");
	ALLOWED(c, "127.200.0.1");
	NOT_ALLOWED(c, "::1");
	NOT_ALLOWED(c, "mail.test");
	serve_config_free(c);
	/* odd prefixes: /31 holds .0 and .1 only */
	c = with_allow(f, "[\"127.0.0.0/31\"]");
	ALLOWED(c, "127.0.0.0");
	ALLOWED(c, "127.0.0.1");
	NOT_ALLOWED(c, "127.0.0.2");
	serve_config_free(c);
}

static void test_allow_ipv6(void **state)
{
	struct fx *f = *state;
	struct serve_config *c = with_allow(f, "[\"::1/128\"]");

	ALLOWED(c, "::1");
	ALLOWED(c, "[::1]");
	ALLOWED(c, "0:0:0:0:0:0:0:1");
	ALLOWED(c, "smtps://[::1]:465");
	ALLOWED(c, "imap+starttls://[::1]");
	NOT_ALLOWED(c, "127.0.0.1");
	NOT_ALLOWED(c, "::ffff:127.0.0.1");
	NOT_ALLOWED(c, "smtps://127.0.0.1:465");
	serve_config_free(c);

	/* the bare address as a name; URL and bracket forms match it */
	c = with_allow(f, "[\"::1\"]");
	ALLOWED(c, "::1");
	ALLOWED(c, "smtps://[::1]:465");
	NOT_ALLOWED(c, "127.0.0.1");
	serve_config_free(c);

	/* /0: every IPv6 address, no IPv4 one */
	c = with_allow(f, "[\"::1/0\"]");
	ALLOWED(c, "::1");
	ALLOWED(c, "::ffff:127.0.0.1");
	NOT_ALLOWED(c, "127.0.0.1");
	serve_config_free(c);
	/* a /96 holds the IPv4-mapped loopback block */
	c = with_allow(f, "[\"::ffff:127.0.0.0/104\"]");
	ALLOWED(c, "::ffff:127.0.0.1");
	ALLOWED(c, "::ffff:127.1.2.3");
	NOT_ALLOWED(c, "::1");
	NOT_ALLOWED(c, "127.0.0.1");
	serve_config_free(c);
}

/* Without "allow", only the hosts of the configured targets. */
static void test_allow_from_targets(void **state)
{
	struct fx *f = *state;
	struct serve_config *c = NULL;

	write_cfg(f, "{\"targets\": [{\"target\": \"smtps://127.0.0.1:465\"},\n"
	             "             {\"target\": \"Mail.Test\"},\n"
	             "             {\"target\": \"imaps://[::1]:993\"}]}");
	c = load_ok(f);
	assert_false(c->allow_given);
	ALLOWED(c, "127.0.0.1");
	ALLOWED(c, "pop3s://127.0.0.1:995");
	ALLOWED(c, "mail.test");
	ALLOWED(c, "smtp+starttls://MAIL.test:587");
	ALLOWED(c, "::1");
	ALLOWED(c, "smtps://[::1]:465");
	NOT_ALLOWED(c, "127.0.0.2");
	NOT_ALLOWED(c, "mx.mail.test");
	NOT_ALLOWED(c, "other.invalid");
	serve_config_free(c);

	/* no allow and no targets: nothing */
	write_cfg(f, "{\"modules\": {}}");
	c = load_ok(f);
	NOT_ALLOWED(c, "127.0.0.1");
	NOT_ALLOWED(c, "localhost");
	serve_config_free(c);
}

/* Issue 19: a target is only ever a target. Targets starting with '-'
 * are refused by the check, and even unchecked ones come after "--": the
 * options hold them as they are, parse after parse (a full getopt reset). */
static void test_target_never_an_option(void **state)
{
	const struct fx *f = *state;
	const char *bad[] = {
	    "-vQx.example.test", "-Q.example.test",     "-ilist.example.test", "--help", "-",
	    "a b.example.test",  "x\tmail.example.test"};
	const char *t[2] = {"-ilist.example.test", "-vQx.example.test"};
	struct serve_config *c = NULL;
	struct mp_error err;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(serve_target_check(bad[i], &err), -1);
	assert_int_equal(serve_target_check("mail.example.test", &err), 0);
	assert_int_equal(serve_target_check("smtps://[::1]:465", &err), 0);
	write_cfg(f, "{\"allow\": [\"*.example.test\"], \"modules\": {\"m\": "
	             "{\"greeting-timeout\": 1000}}}");
	c = load_ok(f);
	for (int round = 0; round < 3; round++) {
		struct run_options *opt = calloc(1, sizeof(*opt));

		assert_non_null(opt);
		assert_int_equal(serve_config_options(serve_config_module(c, "m"), t, 2, opt, &err),
		                 0);
		assert_int_equal(opt->ntargets, 2);
		assert_string_equal(opt->targets[0], t[0]);
		assert_string_equal(opt->targets[1], t[1]);
		assert_null(opt->targets_file);
		assert_int_equal(opt->probe.greeting_timeout_ms, 1000);
		free(opt);
	}
	serve_config_free(c);
}

/* A resolver for the pinning test: one.example.test has 127.0.0.1,
 * two.example.test 127.0.0.1 and ::1; it counts its lookups. */
static enum mp_status stub_resolve(void *arg, const char *host, int family, int64_t deadline,
                                   char (*out)[MP_ADDR_TEXT], size_t max, size_t *n,
                                   struct mp_error *err)
{
	int *lookups = arg;

	(void)family;
	(void)deadline;
	(*lookups)++;
	*n = 0;
	if (max >= 2 && strcmp(host, "one.example.test") == 0) {
		snprintf(out[(*n)++], MP_ADDR_TEXT, "127.0.0.1");
		return MP_OK;
	}
	if (max >= 2 && strcmp(host, "two.example.test") == 0) {
		snprintf(out[(*n)++], MP_ADDR_TEXT, "127.0.0.1");
		snprintf(out[(*n)++], MP_ADDR_TEXT, "::1");
		return MP_OK;
	}
	mp_error_set(err, MP_ERR_DNS, "no such name");
	return MP_ERR_DNS;
}

/* Issue 19: the allow list pinned. A name allowed only by a CIDR is allowed
 * when every address it resolves to is inside; it is resolved once; the
 * probe's resolver then answers exactly those addresses, nothing for other
 * names. */
static void test_pin_addresses(void **state)
{
	const struct fx *f = *state;
	struct serve_config *c = NULL;
	struct serve_pins *pins = calloc(1, sizeof(*pins));
	const char *t1[2] = {"smtp://one.example.test:25", "one.example.test"};
	const char *t2[1] = {"two.example.test"}, *t3[1] = {"127.0.0.9"};
	int lookups = 0;
	struct addr_resolver r = {.resolve = stub_resolve, .arg = &lookups};
	char out[4][MP_ADDR_TEXT];
	struct mp_error err;
	size_t which = 9, n = 0;

	assert_non_null(pins);
	write_cfg(f, "{\"allow\": [\"127.0.0.1/32\"], \"modules\": {}}");
	c = load_ok(f);
	assert_int_equal(serve_config_pin(c, t1, 2, &r, AF_UNSPEC, INT64_MAX, pins, &which, &err),
	                 0);
	assert_int_equal(lookups, 1);
	assert_int_equal(pins->n, 1);
	assert_int_equal(pins->r.resolve(pins->r.arg, "one.example.test", AF_UNSPEC, INT64_MAX, out,
	                                 4, &n, &err),
	                 MP_OK);
	assert_int_equal(n, 1);
	assert_string_equal(out[0], "127.0.0.1");
	assert_int_equal(lookups, 1);
	assert_int_not_equal(
	    pins->r.resolve(pins->r.arg, "other.invalid", AF_UNSPEC, INT64_MAX, out, 4, &n, &err),
	    MP_OK);
	/* ::1 is outside: the name is refused, and says which address */
	assert_int_equal(serve_config_pin(c, t2, 1, &r, AF_UNSPEC, INT64_MAX, pins, &which, &err),
	                 1);
	assert_non_null(strstr(err.msg, "::1"));
	assert_int_equal(serve_config_pin(c, t3, 1, &r, AF_UNSPEC, INT64_MAX, pins, &which, &err),
	                 1);
	assert_int_equal(which, 0);
	assert_non_null(strstr(err.msg, "target 1 is not allowed"));
	serve_config_free(c);

	/* a name allowed as a name: pinned all the same */
	write_cfg(f, "{\"allow\": [\"*.example.test\"], \"modules\": {}}");
	c = load_ok(f);
	assert_int_equal(serve_config_pin(c, t2, 1, &r, AF_INET6, INT64_MAX, pins, &which, &err),
	                 0);
	assert_int_equal(
	    pins->r.resolve(pins->r.arg, "two.example.test", AF_INET6, INT64_MAX, out, 4, &n, &err),
	    MP_OK);
	assert_int_equal(n, 1);
	assert_string_equal(out[0], "::1");
	serve_config_free(c);
	free(pins);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_modules_become_arguments, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_options_and_secret, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_forbidden_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_option_and_module, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_types, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_broken_json, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_allow_names_and_patterns, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pattern_not_for_addresses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_allow_ipv4, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_allow_ipv6, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_allow_from_targets, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_target_never_an_option, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pin_addresses, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
