/* fuzz_serve_query.c - the exporter's query string -> options path
 * (probe/serve_config.c): the /probe parameters as libmicrohttpd hands them
 * over (split at '&', percent- and '+'-decoded), each target checked by
 * serve_target_check(), judged by serve_config_allows(), then parsed with
 * the module's options by serve_config_options().
 *
 * Input: a query string such as "target=-vQx.example.test&module=m".
 * Checks issue 19's contract: a target that passes the check never starts
 * with '-'; the parsed options hold exactly the targets given, in order
 * (none became an option, no targets file was read); no error message
 * repeats the module's proxy password; parsing stays re-entrant (every
 * input is parsed twice with a fresh argv).
 */
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe/app/serve_config.h"

#define SECRET "fuzz-Pw-s3cret"

static struct serve_config *cfg;

/* The configuration every input runs against: a pattern in "allow" (the
 * README's), a module whose proxy URL holds a password. */
static void load_config(void)
{
	char dir[] = "/tmp/mp-fuzz-serve-XXXXXX", path[128];
	struct mp_error err;
	FILE *f = NULL;

	FUZZ_CHECK(mkdtemp(dir), "mkdtemp");
	snprintf(path, sizeof(path), "%s/serve.json", dir);
	f = fopen(path, "w");
	FUZZ_CHECK(f, "cannot write %s", path);
	fputs("{\"allow\": [\"*.example.test\", \"127.0.0.0/8\", \"::1/128\"],"
	      " \"modules\": {\"m\": {\"proxy\": \"socks5://u:" SECRET "@127.0.0.1:9\","
	      " \"greeting-timeout\": 1000}}}",
	      f);
	fclose(f);
	cfg = serve_config_load(path, &err);
	FUZZ_CHECK(cfg, "config: %s", err.msg);
	unlink(path);
	rmdir(dir);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes one query component in place, as libmicrohttpd does. */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '+') {
			*o++ = ' ';
		} else if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
			*o++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

static void check_options(const struct serve_module *m, const char *const *t, size_t n)
{
	struct run_options *opt = calloc(1, sizeof(*opt));
	struct mp_error err;
	int rc;

	FUZZ_CHECK(opt, "out of memory");
	mp_error_clear(&err);
	rc = serve_config_options(m, t, n, opt, &err);
	if (rc == 0) {
		FUZZ_CHECK(opt->ntargets == n, "%zu targets became %zu", n, opt->ntargets);
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK(strcmp(opt->targets[i], t[i]) == 0,
			           "target \"%s\" became \"%s\"", t[i], opt->targets[i]);
		FUZZ_CHECK(!opt->targets_file, "a target became a targets file");
	}
	FUZZ_CHECK(!strstr(err.msg, SECRET), "an error repeats the module's password: %s", err.msg);
	free(opt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *targets[MP_SERVE_MAX_TARGETS];
	const struct serve_module *m = NULL;
	size_t n = 0;
	char *q = NULL, *p = NULL, *next = NULL;
	bool ok = true;

	if (size > 8192)
		return 0;
	if (!cfg)
		load_config();
	m = serve_config_module(cfg, "m");
	FUZZ_CHECK(m, "module m");
	q = fuzz_strndup(data, size);
	for (p = q; p && *p; p = next) {
		char *eq = NULL;

		next = strchr(p, '&');
		if (next)
			*next++ = '\0';
		eq = strchr(p, '=');
		if (!eq)
			continue;
		*eq = '\0';
		unescape(p);
		unescape(eq + 1);
		if (strcmp(p, "target") == 0 && eq[1] && n < MP_SERVE_MAX_TARGETS)
			targets[n++] = eq + 1;
	}
	for (size_t i = 0; i < n; i++) {
		struct mp_error err;

		mp_error_clear(&err);
		if (serve_target_check(targets[i], &err) != 0) {
			FUZZ_CHECK(err.msg[0], "target \"%s\" refused without a message",
			           targets[i]);
			ok = false;
			continue;
		}
		FUZZ_CHECK(targets[i][0] != '-', "target \"%s\" passed the check", targets[i]);
		(void)serve_config_allows(cfg, targets[i]);
	}
	if (ok && n) {
		check_options(m, targets, n);
		check_options(m, targets, n);
	}
	free(q);
	return 0;
}
