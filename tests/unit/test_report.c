/* test_report.c - reports/: JSON shape and schema, the table and its
 * terminal safety, transcripts, recommendation order and exit codes. */
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

#include <cjson/cJSON.h>

#include "reports/report.h"

/* A string literal and its length (embedded NULs included). */
#define LIT(s) s, sizeof(s) - 1
#define PYTHON "/usr/bin/python3"
#define SECRET "s3cr3t-Pa55"
/* A greeting that tries to retitle the terminal, clear it and inject bytes
 * that are not UTF-8. */
#define HOSTILE_GREETING                                                                           \
	"220 \x1b]0;pwned\x07\x1b[2J evil \xff\xfe\x9b"                                            \
	"31m \xc2\x9b end"

/* Results every test starts from. */
enum {
	R_SMTP_OK,      /* smtp 127.0.0.1:587 starttls, TLS, findings, transcript */
	R_SMTP_REFUSED, /* smtp 127.0.0.1:25 plain, refused */
	R_IMAPS_OK,     /* imap [::1]:993 tls */
	R_POP3_PROXY,   /* pop3 via socks5 with a password, greeting then timeout */
	R_HOSTILE,      /* smtp 127.0.0.1:2525 plain, hostile greeting */
	R_COUNT
};

struct fixture {
	struct run_options opt;
	struct proxy_spec proxy;
	struct probe_result res[R_COUNT];
	struct run_report rep;
};

/* ---- building results by hand ---- */

static void make_ep(struct endpoint *ep, enum protocol p, enum sec_mode m, const char *host,
                    uint16_t port, const struct proxy_spec *proxy)
{
	memset(ep, 0, sizeof(*ep));
	ep->proto = p;
	ep->mode = m;
	snprintf(ep->host, sizeof(ep->host), "%s", host);
	ep->port = port;
	ep->proxy = proxy;
}

/* A result for the given endpoint, already through result_init. */
static void init_result(struct probe_result *r, enum protocol p, enum sec_mode m, const char *host,
                        uint16_t port, const struct proxy_spec *proxy)
{
	struct endpoint ep;

	make_ep(&ep, p, m, host, port, proxy);
	result_init(r, &ep);
}

static void add_cert(struct tls_info *ti, const char *subject, const char *issuer, long days)
{
	struct cert_info *c = &ti->chain[ti->chain_len++];

	c->subject = strdup(subject);
	c->issuer = strdup(issuer);
	c->serial = strdup("0a1b2c");
	strlist_add_str(&c->san, "DNS:mail.example.test");
	strlist_add_str(&c->san, "IP:127.0.0.1");
	c->not_before = strdup("2024-01-01T00:00:00Z");
	c->not_after = strdup("2030-01-01T00:00:00Z");
	c->days_left = days;
	c->key_type = strdup("EC");
	c->key_bits = 256;
	c->sig_alg = strdup("ecdsa-with-SHA256");
}

/* A transcript entry with a fixed time, so output is predictable. */
static void add_line(struct probe_result *r, enum transcript_dir dir, const char *s, size_t len,
                     int64_t at_ms)
{
	transcript_add(&r->transcript, dir, s, len);
	r->transcript.e[r->transcript.n - 1].at_ms = at_ms;
}

static void fill_smtp_ok(struct probe_result *r)
{
	init_result(r, PROTO_SMTP, MODE_STARTTLS, "127.0.0.1", 587, NULL);
	snprintf(r->address, sizeof(r->address), "127.0.0.1");
	r->t = (struct timings){1, -1, -1, 2, 3, 4, 12};
	r->greeting = strdup("220 mail.example.test ESMTP");
	strlist_add_str(&r->caps_before, "PIPELINING");
	strlist_add_str(&r->caps_before, "STARTTLS");
	strlist_add_str(&r->caps_after, "PIPELINING");
	strlist_add_str(&r->caps_after, "AUTH PLAIN LOGIN");
	strlist_add_str(&r->auth_after, "PLAIN");
	strlist_add_str(&r->auth_after, "LOGIN");
	r->starttls_offered = true;
	r->tls_used = true;
	r->tls.done = true;
	snprintf(r->tls.version, sizeof(r->tls.version), "TLSv1.3");
	snprintf(r->tls.cipher, sizeof(r->tls.cipher), "TLS_AES_128_GCM_SHA256");
	snprintf(r->tls.group, sizeof(r->tls.group), "X25519");
	r->tls.sni_sent = false;
	r->tls.verified = false;
	snprintf(r->tls.verify_error, sizeof(r->tls.verify_error), "self-signed certificate");
	r->tls.hostname_matched = true;
	add_cert(&r->tls, "CN=mail.example.test", "CN=Test CA", 42);
	add_cert(&r->tls, "CN=Test CA", "CN=Test CA", 1000);
	result_add_finding(r, FINDING_CERT_UNVERIFIED, "certificate not verified: %s",
	                   "self-signed certificate");
	add_line(r, TR_SERVER, LIT("220 mail.example.test ESMTP"), 3);
	add_line(r, TR_CLIENT, LIT("EHLO probe"), 4);
	add_line(r, TR_SERVER, LIT("250-bad \xff byte and a NUL \0 here"), 5);
	add_line(r, TR_NOTE, LIT("TLS established"), 9);
}

static void fill_refused(struct probe_result *r)
{
	init_result(r, PROTO_SMTP, MODE_PLAIN, "127.0.0.1", 25, NULL);
	snprintf(r->address, sizeof(r->address), "127.0.0.1");
	r->t.resolve = 0;
	r->t.total = 1;
	result_fail(r, MP_ERR_REFUSED, "connection refused");
}

static void fill_imaps(struct probe_result *r)
{
	init_result(r, PROTO_IMAP, MODE_TLS, "::1", 993, NULL);
	snprintf(r->address, sizeof(r->address), "::1");
	r->t = (struct timings){0, -1, -1, 1, 5, 3, 9};
	r->greeting = strdup("* OK IMAP ready");
	strlist_add_str(&r->caps_after, "IMAP4rev1");
	strlist_add_str(&r->auth_after, "PLAIN");
	r->tls_used = true;
	r->tls.done = true;
	snprintf(r->tls.version, sizeof(r->tls.version), "TLSv1.2");
	snprintf(r->tls.cipher, sizeof(r->tls.cipher), "ECDHE-RSA-AES128-GCM-SHA256");
	r->tls.verified = true;
	r->tls.hostname_matched = true;
	r->tls.sni_sent = true;
	add_cert(&r->tls, "CN=localhost", "CN=Test CA", -3);
}

static void fill_pop3_proxy(struct probe_result *r, const struct proxy_spec *proxy)
{
	init_result(r, PROTO_POP3, MODE_PLAIN, "mail.example.test", 110, proxy);
	r->t = (struct timings){-1, 2, 3, -1, 4, -1, 5010};
	r->greeting = strdup("+OK POP3 ready");
	strlist_add_str(&r->auth_before, "USER");
	result_fail(r, MP_ERR_TIMEOUT, "no reply to CAPA");
	result_add_finding(r, FINDING_PLAINTEXT_ONLY, "only plaintext offered");
}

static void fill_hostile(struct probe_result *r)
{
	init_result(r, PROTO_SMTP, MODE_PLAIN, "127.0.0.1", 2525, NULL);
	snprintf(r->address, sizeof(r->address), "127.0.0.1");
	r->greeting = strdup(HOSTILE_GREETING);
	strlist_add_str(&r->caps_before, "X-\x1b[31mRED");
	strlist_add_str(&r->auth_before, "\x1b[5mBLINK");
	strlist_add_str(&r->auth_before, "PLAIN\xc0");
	result_fail(r, MP_ERR_PROTOCOL, "bad reply: \x1b[2J\xff");
	result_add_finding(r, FINDING_BARE_LF, "bare LF in \x1b]8;;http://x\x1b\\link\r\n");
	add_line(r, TR_SERVER, LIT(HOSTILE_GREETING), 1);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct mp_error err;

	assert_non_null(fx);
	memset(&err, 0, sizeof(err));
	assert_int_equal(
	    proxy_parse_url("socks5://alice:" SECRET "@127.0.0.1:1080", &fx->proxy, &err), 0);
	fx->opt.format = FORMAT_JSON;
	fx->opt.transcript = true;
	fx->opt.concurrency = 8;
	fx->opt.overall_timeout_ms = 30000;
	fx->opt.probe.connect_timeout_ms = 5000;
	fx->opt.probe.greeting_timeout_ms = 1500;
	fx->opt.probe.command_timeout_ms = 5000;
	fx->opt.probe.tls_timeout_ms = 5000;
	fx->opt.probe.ehlo_name = "probe.test";
	fx->opt.targets[fx->opt.ntargets++] = "127.0.0.1";
	fx->opt.targets[fx->opt.ntargets++] = "bad\xff-target";
	fx->opt.proxies[fx->opt.nproxies++] = fx->proxy;
	fx->opt.direct = true;
	fx->opt.tls.min_version = MP_TLS_V1_2;

	fill_smtp_ok(&fx->res[R_SMTP_OK]);
	fill_refused(&fx->res[R_SMTP_REFUSED]);
	fill_imaps(&fx->res[R_IMAPS_OK]);
	fill_pop3_proxy(&fx->res[R_POP3_PROXY], &fx->proxy);
	fill_hostile(&fx->res[R_HOSTILE]);

	fx->rep.opt = &fx->opt;
	fx->rep.results = fx->res;
	fx->rep.n = R_COUNT;
	snprintf(fx->rep.started_at, sizeof(fx->rep.started_at), "2025-01-02T03:04:05Z");
	fx->rep.duration_ms = 5123;
	report_recommend(&fx->rep);
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

static char *render_json(const struct run_report *r, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	assert_non_null(f);
	assert_int_equal(report_write_json(f, r), 0);
	assert_int_equal(fclose(f), 0);
	if (len)
		*len = n;
	return buf;
}

static char *render_table(const struct run_report *r, bool color, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	assert_non_null(f);
	assert_int_equal(report_write_table(f, r, color), 0);
	assert_int_equal(fclose(f), 0);
	*len = n;
	return buf;
}

static char *render_transcript(const struct probe_result *res, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	assert_non_null(f);
	report_write_transcript(f, res);
	assert_int_equal(fclose(f), 0);
	*len = n;
	return buf;
}

/* ---- JSON helpers ---- */

static cJSON *get(const cJSON *o, const char *key)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v)
		fail_msg("missing key \"%s\"", key);
	return v;
}

static const char *get_str(const cJSON *o, const char *key)
{
	cJSON *v = get(o, key);

	if (!cJSON_IsString(v))
		fail_msg("\"%s\" is not a string", key);
	return v->valuestring;
}

/* An integer value (checks that it is integral). */
static long long get_int(const cJSON *o, const char *key)
{
	cJSON *v = get(o, key);

	if (!cJSON_IsNumber(v) || v->valuedouble != (double)(long long)v->valuedouble)
		fail_msg("\"%s\" is not an integer", key);
	return (long long)v->valuedouble;
}

static void assert_null_key(const cJSON *o, const char *key)
{
	if (!cJSON_IsNull(get(o, key)))
		fail_msg("\"%s\" is not null", key);
}

static void assert_str_array(const cJSON *arr, const char *const *want, int n)
{
	assert_true(cJSON_IsArray(arr));
	assert_int_equal(cJSON_GetArraySize(arr), n);
	for (int i = 0; i < n; i++)
		assert_string_equal(cJSON_GetArrayItem(arr, i)->valuestring, want[i]);
}

/* ---- schema validation via tests/integration/validate_report.py ---- */

/* The source tree root, from this file's path; NULL when unknown. */
static char *source_root(void)
{
	static const char tail[] = "tests/unit/test_report.c";
	const char *file = __FILE__;
	size_t n = strlen(file);

	if (file[0] != '/' || n < sizeof(tail) - 1 || strcmp(file + n - (sizeof(tail) - 1), tail))
		return NULL;
	return strndup(file, n - (sizeof(tail) - 1));
}

/* Runs argv and returns its exit status (-1 when it did not exit); quiet
 * sends its stderr to /dev/null (for runs expected to fail). */
static int run(char *const argv[], bool quiet)
{
	int status = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = quiet ? open("/dev/null", O_WRONLY) : -1;

		if (fd >= 0)
			dup2(fd, STDERR_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Path of the validator, or NULL (and the test is skipped) when python3 or
 * jsonschema is missing. */
static char *validator_path(void)
{
	char *root = source_root();
	char *path = NULL;
	char *probe[] = {PYTHON, "-c", "import jsonschema", NULL};

	if (!root || access(PYTHON, X_OK) != 0 || run(probe, true) != 0) {
		free(root);
		return NULL;
	}
	if (asprintf(&path, "%stests/integration/validate_report.py", root) < 0)
		path = NULL;
	free(root);
	return path;
}

/* Writes text to a temporary file and validates it; returns the exit code. */
static int validate_text(const char *script, const char *text, size_t len, bool quiet)
{
	char tmpl[] = "/tmp/mp_report_XXXXXX";
	int fd = mkstemp(tmpl);
	int rc;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	{
		char *argv[] = {PYTHON, (char *)script, tmpl, NULL};

		rc = run(argv, quiet);
	}
	unlink(tmpl);
	return rc;
}

/* ---- JSON tests ---- */

static void test_json_result_ok_with_tls(void **state)
{
	struct fixture *fx = *state;
	char *text = render_json(&fx->rep, NULL);
	cJSON *root = cJSON_Parse(text);
	cJSON *res = NULL, *t = NULL, *tls = NULL, *cert = NULL, *tr = NULL;
	static const char *const caps_before[] = {"PIPELINING", "STARTTLS"};
	static const char *const caps_after[] = {"PIPELINING", "AUTH PLAIN LOGIN"};
	static const char *const auth_after[] = {"PLAIN", "LOGIN"};
	static const char *const san[] = {"DNS:mail.example.test", "IP:127.0.0.1"};

	assert_non_null(root);
	assert_string_equal(get_str(root, "schema_version"), MP_SCHEMA_VERSION);
	assert_string_equal(get_str(get(root, "tool"), "name"), "mailprobe");
	assert_string_equal(get_str(get(root, "tool"), "version"), MP_VERSION);
	assert_string_equal(get_str(root, "started_at"), "2025-01-02T03:04:05Z");
	assert_int_equal(get_int(root, "duration_ms"), 5123);
	assert_false(cJSON_IsTrue(get(root, "interrupted")));
	assert_int_equal(cJSON_GetArraySize(get(root, "results")), R_COUNT);

	res = cJSON_GetArrayItem(get(root, "results"), R_SMTP_OK);
	assert_string_equal(get_str(res, "protocol"), "smtp");
	assert_string_equal(get_str(res, "host"), "127.0.0.1");
	assert_string_equal(get_str(res, "address"), "127.0.0.1");
	assert_int_equal(get_int(res, "port"), 587);
	assert_string_equal(get_str(res, "mode"), "starttls");
	assert_null_key(res, "proxy");
	assert_string_equal(get_str(res, "status"), "ok");
	assert_null_key(res, "error");
	t = get(res, "timings_ms");
	assert_int_equal(get_int(t, "resolve"), 1);
	assert_null_key(t, "proxy_connect");
	assert_null_key(t, "proxy_handshake");
	assert_int_equal(get_int(t, "connect"), 2);
	assert_int_equal(get_int(t, "greeting"), 3);
	assert_int_equal(get_int(t, "tls"), 4);
	assert_int_equal(get_int(t, "total"), 12);
	assert_string_equal(get_str(res, "greeting"), "220 mail.example.test ESMTP");
	assert_true(cJSON_IsTrue(get(res, "starttls_offered")));
	assert_str_array(get(get(res, "capabilities"), "before_tls"), caps_before, 2);
	assert_str_array(get(get(res, "capabilities"), "after_tls"), caps_after, 2);
	assert_int_equal(cJSON_GetArraySize(get(get(res, "auth_mechanisms"), "before_tls")), 0);
	assert_str_array(get(get(res, "auth_mechanisms"), "after_tls"), auth_after, 2);

	tls = get(res, "tls");
	assert_string_equal(get_str(tls, "version"), "TLSv1.3");
	assert_string_equal(get_str(tls, "cipher"), "TLS_AES_128_GCM_SHA256");
	assert_string_equal(get_str(tls, "group"), "X25519");
	assert_null_key(tls, "sni");
	assert_false(cJSON_IsTrue(get(tls, "verified")));
	assert_string_equal(get_str(tls, "verify_error"), "self-signed certificate");
	assert_true(cJSON_IsTrue(get(tls, "hostname_matched")));
	cert = get(tls, "certificate");
	assert_string_equal(get_str(cert, "subject"), "CN=mail.example.test");
	assert_string_equal(get_str(cert, "issuer"), "CN=Test CA");
	assert_string_equal(get_str(cert, "serial"), "0a1b2c");
	assert_str_array(get(cert, "san"), san, 2);
	assert_string_equal(get_str(cert, "not_after"), "2030-01-01T00:00:00Z");
	assert_int_equal(get_int(cert, "days_left"), 42);
	assert_string_equal(get_str(cert, "key_type"), "EC");
	assert_int_equal(get_int(cert, "key_bits"), 256);
	assert_string_equal(get_str(cert, "signature_algorithm"), "ecdsa-with-SHA256");
	assert_int_equal(cJSON_GetArraySize(get(tls, "chain")), 2);
	assert_string_equal(get_str(cJSON_GetArrayItem(get(tls, "chain"), 1), "subject"),
	                    "CN=Test CA");
	assert_int_equal(get_int(cJSON_GetArrayItem(get(tls, "chain"), 1), "days_left"), 1000);

	assert_int_equal(cJSON_GetArraySize(get(res, "findings")), 1);
	assert_string_equal(get_str(cJSON_GetArrayItem(get(res, "findings"), 0), "code"),
	                    "certificate_not_verified");
	assert_string_equal(get_str(cJSON_GetArrayItem(get(res, "findings"), 0), "message"),
	                    "certificate not verified: self-signed certificate");

	/* transcript: directions, times, and raw bytes made visible */
	tr = get(res, "transcript");
	assert_int_equal(cJSON_GetArraySize(tr), 4);
	assert_string_equal(get_str(cJSON_GetArrayItem(tr, 0), "dir"), "S");
	assert_string_equal(get_str(cJSON_GetArrayItem(tr, 1), "dir"), "C");
	assert_string_equal(get_str(cJSON_GetArrayItem(tr, 3), "dir"), "*");
	assert_int_equal(get_int(cJSON_GetArrayItem(tr, 1), "at_ms"), 4);
	assert_string_equal(get_str(cJSON_GetArrayItem(tr, 1), "text"), "EHLO probe");
	assert_string_equal(get_str(cJSON_GetArrayItem(tr, 2), "text"),
	                    "250-bad \\xff byte and a NUL \\x00 here");
	assert_false(cJSON_IsTrue(get(res, "transcript_truncated")));

	cJSON_Delete(root);
	free(text);
}

static void test_json_failed_and_implicit_tls(void **state)
{
	struct fixture *fx = *state;
	char *text = render_json(&fx->rep, NULL);
	cJSON *root = cJSON_Parse(text);
	cJSON *res = NULL, *t = NULL;

	assert_non_null(root);
	/* refused: error message, untouched stages null, no TLS */
	res = cJSON_GetArrayItem(get(root, "results"), R_SMTP_REFUSED);
	assert_string_equal(get_str(res, "status"), "refused");
	assert_string_equal(get_str(res, "error"), "connection refused");
	t = get(res, "timings_ms");
	assert_int_equal(get_int(t, "resolve"), 0);
	assert_null_key(t, "connect");
	assert_null_key(t, "greeting");
	assert_int_equal(get_int(t, "total"), 1);
	assert_null_key(res, "greeting");
	assert_null_key(res, "tls");
	assert_false(cJSON_IsTrue(get(res, "starttls_offered")));
	assert_true(cJSON_IsArray(get(get(res, "capabilities"), "before_tls")));
	assert_null_key(get(res, "capabilities"), "after_tls");
	assert_null_key(get(res, "auth_mechanisms"), "after_tls");

	/* implicit TLS: nothing before TLS; IPv6 host as given; SNI sent */
	res = cJSON_GetArrayItem(get(root, "results"), R_IMAPS_OK);
	assert_string_equal(get_str(res, "host"), "::1");
	assert_string_equal(get_str(res, "mode"), "tls");
	assert_null_key(get(res, "capabilities"), "before_tls");
	assert_null_key(get(res, "auth_mechanisms"), "before_tls");
	assert_int_equal(cJSON_GetArraySize(get(get(res, "capabilities"), "after_tls")), 1);
	assert_null_key(get(res, "tls"), "group");
	assert_null_key(get(res, "tls"), "verify_error");
	assert_string_equal(get_str(get(res, "tls"), "sni"), "::1");
	assert_int_equal(get_int(get(get(res, "tls"), "certificate"), "days_left"), -3);

	/* a TLS layer that never completed is not reported */
	cJSON_Delete(root);
	free(text);
	fx->res[R_IMAPS_OK].tls.done = false;
	text = render_json(&fx->rep, NULL);
	root = cJSON_Parse(text);
	assert_non_null(root);
	res = cJSON_GetArrayItem(get(root, "results"), R_IMAPS_OK);
	assert_null_key(res, "tls");
	assert_null_key(get(res, "capabilities"), "after_tls");
	cJSON_Delete(root);
	free(text);
}

static void test_json_proxy_never_shows_password(void **state)
{
	struct fixture *fx = *state;
	size_t len = 0;
	char *text = render_json(&fx->rep, &len);
	cJSON *root = cJSON_Parse(text);
	cJSON *res = NULL, *p = NULL, *opts = NULL;

	assert_non_null(root);
	assert_null(memmem(text, len, SECRET, strlen(SECRET)));
	res = cJSON_GetArrayItem(get(root, "results"), R_POP3_PROXY);
	p = get(res, "proxy");
	assert_string_equal(get_str(p, "type"), "socks5");
	assert_string_equal(get_str(p, "host"), "127.0.0.1");
	assert_int_equal(get_int(p, "port"), 1080);
	assert_string_equal(get_str(p, "user"), "alice");
	assert_null(cJSON_GetObjectItemCaseSensitive(p, "pass"));
	assert_null(cJSON_GetObjectItemCaseSensitive(p, "password"));
	assert_null_key(res, "address");
	assert_string_equal(get_str(res, "status"), "timeout");
	assert_string_equal(get_str(res, "greeting"), "+OK POP3 ready");
	assert_int_equal(get_int(get(res, "timings_ms"), "proxy_handshake"), 3);

	opts = get(root, "options");
	p = cJSON_GetArrayItem(get(opts, "proxies"), 0);
	assert_string_equal(get_str(p, "user"), "alice");
	assert_int_equal(cJSON_GetArraySize(p), 4);
	assert_true(cJSON_IsTrue(get(opts, "direct")));
	cJSON_Delete(root);
	free(text);
}

static void test_json_hostile_text_is_valid_and_visible(void **state)
{
	struct fixture *fx = *state;
	size_t len = 0;
	char *text = render_json(&fx->rep, &len);
	cJSON *root = cJSON_Parse(text);
	cJSON *res = NULL;

	assert_non_null(root);
	/* no raw control bytes at all: cJSON writes \u001b etc. */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c < 0x20 && c != '\n' && c != '\t')
			fail_msg("raw control byte 0x%02x at offset %zu", c, i);
	}
	assert_non_null(strstr(text, "\\u001b]0;pwned\\u0007"));
	res = cJSON_GetArrayItem(get(root, "results"), R_HOSTILE);
	assert_string_equal(get_str(res, "greeting"),
	                    "220 \x1b]0;pwned\x07\x1b[2J evil \\xff\\xfe\\x9b31m \xc2\x9b end");
	assert_string_equal(get_str(res, "error"), "bad reply: \x1b[2J\\xff");
	assert_string_equal(
	    cJSON_GetArrayItem(get(get(res, "auth_mechanisms"), "before_tls"), 1)->valuestring,
	    "PLAIN\\xc0");
	assert_string_equal(
	    cJSON_GetArrayItem(get(get(res, "capabilities"), "before_tls"), 0)->valuestring,
	    "X-\x1b[31mRED");
	cJSON_Delete(root);
	free(text);
}

static void test_json_options_and_summary(void **state)
{
	struct fixture *fx = *state;
	char *text = render_json(&fx->rep, NULL);
	cJSON *root = cJSON_Parse(text);
	cJSON *o = NULL, *s = NULL, *by = NULL, *rec = NULL;
	static const char *const targets[] = {"127.0.0.1", "bad\\xff-target"};
	static const char *const protos[] = {"smtp", "imap", "pop3"};

	assert_non_null(root);
	o = get(root, "options");
	assert_int_equal(get_int(get(o, "timeouts_ms"), "connect"), 5000);
	assert_int_equal(get_int(get(o, "timeouts_ms"), "greeting"), 1500);
	assert_int_equal(get_int(get(o, "timeouts_ms"), "overall"), 30000);
	assert_int_equal(get_int(o, "concurrency"), 8);
	assert_str_array(get(o, "targets"), targets, 2);
	assert_str_array(get(o, "protocols"), protos, 3);
	assert_null_key(o, "modes");
	assert_null_key(o, "ports");
	assert_null_key(o, "auto");
	assert_string_equal(get_str(get(o, "tls"), "min_version"), "TLSv1.2");
	assert_null_key(get(o, "tls"), "max_version");
	assert_null_key(get(o, "tls"), "cafile");
	assert_string_equal(get_str(o, "ehlo"), "probe.test");

	s = get(root, "summary");
	assert_int_equal(get_int(s, "total"), R_COUNT);
	/* answered: greeted (ok x2, pop3 timeout after greeting, hostile) */
	assert_int_equal(get_int(s, "answered"), 4);
	by = get(s, "by_status");
	assert_int_equal(get_int(by, "ok"), 2);
	assert_int_equal(get_int(by, "refused"), 1);
	assert_int_equal(get_int(by, "timeout"), 1);
	assert_int_equal(get_int(by, "protocol_error"), 1);
	assert_null(cJSON_GetObjectItemCaseSensitive(by, "closed"));
	rec = get(s, "recommended");
	assert_string_equal(get_str(get(rec, "smtp"), "host"), "127.0.0.1");
	assert_int_equal(get_int(get(rec, "smtp"), "port"), 587);
	assert_string_equal(get_str(get(rec, "smtp"), "mode"), "starttls");
	assert_null_key(get(rec, "smtp"), "proxy");
	assert_int_equal(get_int(get(rec, "imap"), "port"), 993);
	assert_null_key(rec, "pop3");
	cJSON_Delete(root);
	free(text);

	/* a matrix given explicitly is reported as given */
	fx->opt.protocols = 1u << PROTO_IMAP;
	fx->opt.modes = (1u << MODE_TLS) | (1u << MODE_PLAIN);
	fx->opt.ports[fx->opt.nports++] = 993;
	fx->opt.auto_mode = true;
	fx->opt.auto_proto = PROTO_IMAP;
	text = render_json(&fx->rep, NULL);
	root = cJSON_Parse(text);
	assert_non_null(root);
	o = get(root, "options");
	assert_str_array(get(o, "protocols"), (const char *const[]){"imap"}, 1);
	assert_str_array(get(o, "modes"), (const char *const[]){"plain", "tls"}, 2);
	assert_int_equal(cJSON_GetArraySize(get(o, "ports")), 1);
	assert_int_equal(cJSON_GetArrayItem(get(o, "ports"), 0)->valueint, 993);
	assert_string_equal(get_str(o, "auto"), "imap");
	cJSON_Delete(root);
	free(text);
}

static void test_json_compact_without_transcript(void **state)
{
	struct fixture *fx = *state;
	size_t len = 0;
	char *text = NULL;
	cJSON *root = NULL, *res = NULL;

	fx->opt.compact = true;
	fx->opt.transcript = false;
	text = render_json(&fx->rep, &len);
	/* one line, newline-terminated */
	assert_true(len > 2);
	assert_int_equal(text[len - 1], '\n');
	assert_null(memchr(text, '\n', len - 1));
	root = cJSON_Parse(text);
	assert_non_null(root);
	for (int i = 0; i < R_COUNT; i++) {
		res = cJSON_GetArrayItem(get(root, "results"), i);
		assert_null(cJSON_GetObjectItemCaseSensitive(res, "transcript"));
		assert_null(cJSON_GetObjectItemCaseSensitive(res, "transcript_truncated"));
	}
	cJSON_Delete(root);
	free(text);
}

static void test_json_matches_schema(void **state)
{
	struct fixture *fx = *state;
	char *script = validator_path();
	char *text = NULL, *bad = NULL, *at = NULL;
	size_t len = 0;

	if (!script)
		skip();
	/* pretty with transcript, and compact without */
	text = render_json(&fx->rep, &len);
	assert_int_equal(validate_text(script, text, len, false), 0);
	free(text);
	fx->opt.compact = true;
	fx->opt.transcript = false;
	fx->rep.interrupted = true;
	text = render_json(&fx->rep, &len);
	assert_int_equal(validate_text(script, text, len, false), 0);

	/* the validator does reject: an unknown status, an extra key */
	bad = strdup(text);
	at = strstr(bad, "\"status\":\"refused\"");
	assert_non_null(at);
	memcpy(at, "\"status\":\"refuzed\"", strlen("\"status\":\"refuzed\""));
	assert_int_equal(validate_text(script, bad, len, true), 1);
	free(bad);
	bad = strdup(text);
	at = strstr(bad, "\"starttls_offered\"");
	assert_non_null(at);
	memcpy(at, "\"starttls_offeree\"", strlen("\"starttls_offeree\""));
	assert_int_equal(validate_text(script, bad, len, true), 1);
	free(bad);
	free(text);

	/* an empty run is valid too */
	fx->rep.n = 0;
	report_recommend(&fx->rep);
	text = render_json(&fx->rep, &len);
	assert_int_equal(validate_text(script, text, len, false), 0);
	fx->rep.n = R_COUNT;
	free(text);
	free(script);
}

/* ---- table tests ---- */

/* Fails when the output holds a byte a terminal would act on: C0 other than
 * \n, DEL, ESC, a raw C1 byte or an encoded C1 code point. */
static void assert_terminal_safe(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if ((c < 0x20 && c != '\n') || c == 0x7f)
			fail_msg("control byte 0x%02x at offset %zu", c, i);
		if (c == 0xc2 && i + 1 < len && (unsigned char)buf[i + 1] >= 0x80 &&
		    (unsigned char)buf[i + 1] <= 0x9f)
			fail_msg("C1 control at offset %zu", i);
		if ((c & 0xc0) == 0x80 && (i == 0 || (unsigned char)buf[i - 1] < 0x80))
			fail_msg("stray byte 0x%02x at offset %zu", c, i);
	}
}

/* The line of buf that contains needle, as a new string (NULL if none). */
static char *line_with(const char *buf, const char *needle)
{
	const char *hit = strstr(buf, needle);
	const char *start = NULL, *end = NULL;

	if (!hit)
		return NULL;
	for (start = hit; start > buf && start[-1] != '\n'; start--)
		;
	end = strchr(hit, '\n');
	return strndup(start, end ? (size_t)(end - start) : strlen(start));
}

static void test_table_rows_and_columns(void **state)
{
	struct fixture *fx = *state;
	size_t len = 0;
	char *out = render_table(&fx->rep, false, &len);
	char *head = line_with(out, "PROTO");
	char *row = NULL;
	const char *col = NULL;
	size_t status_at, auth_at;

	assert_non_null(head);
	assert_ptr_equal(strstr(out, "PROTO"), out);
	status_at = (size_t)(strstr(head, "STATUS") - head);
	auth_at = (size_t)(strstr(head, "AUTH") - head);

	row = line_with(out, "127.0.0.1:587");
	assert_non_null(row);
	assert_ptr_equal(strstr(row, "smtp"), row);
	assert_non_null(strstr(row, " starttls "));
	assert_non_null(strstr(row, " direct "));
	assert_non_null(strstr(row, " TLSv1.3 "));
	assert_non_null(strstr(row, " 12 ms"));
	/* columns line up with the header */
	assert_memory_equal(row + status_at, "ok ", 3);
	assert_memory_equal(row + auth_at, "PLAIN LOGIN ", 12);
	free(row);

	row = line_with(out, "[::1]:993");
	assert_non_null(row);
	assert_memory_equal(row + status_at, "ok ", 3);
	assert_non_null(strstr(row, " TLSv1.2 "));
	free(row);

	row = line_with(out, "mail.example.test:110");
	assert_non_null(row);
	assert_non_null(strstr(row, " socks5 "));
	assert_memory_equal(row + status_at, "timeout ", 8);
	/* only before-TLS mechanisms known: they are shown */
	assert_memory_equal(row + auth_at, "USER ", 5);
	free(row);

	row = line_with(out, "127.0.0.1:25 ");
	assert_non_null(row);
	assert_memory_equal(row + status_at, "refused ", 8);
	col = row + auth_at;
	assert_memory_equal(col, "- ", 2);
	free(row);

	/* below the table: errors and findings */
	row = line_with(out, "smtp 127.0.0.1:25 plain: ");
	assert_non_null(row);
	assert_string_equal(row, "smtp 127.0.0.1:25 plain: connection refused");
	free(row);
	assert_non_null(strstr(out, "\nsmtp 127.0.0.1:587 starttls\n  ! certificate not verified: "
	                            "self-signed certificate\n"));
	assert_non_null(strstr(out, "\npop3 mail.example.test:110 plain via socks5 127.0.0.1:1080: "
	                            "no reply to CAPA\n  ! only plaintext offered\n"));
	/* an endpoint without error or findings is not listed */
	assert_null(strstr(out, "imap [::1]:993 tls\n"));

	/* recommendations for every probed protocol */
	assert_non_null(strstr(out, "\nRecommended:\n  smtp: 127.0.0.1:587 starttls\n"
	                            "        (certificate not verified, TLSv1.3, STARTTLS, direct; "
	                            "the only one that works)\n"
	                            "  imap: [::1]:993 tls\n"));
	assert_non_null(strstr(out, "\n  pop3: none works\n"));
	assert_non_null(strstr(out, "5 endpoints probed, 4 answered, 5123 ms\n"));
	assert_null(memmem(out, len, SECRET, strlen(SECRET)));
	assert_terminal_safe(out, len);
	free(head);
	free(out);
}

static void test_table_hostile_input_is_escaped(void **state)
{
	struct fixture *fx = *state;
	size_t len = 0;
	char *out = render_table(&fx->rep, false, &len);
	char *row = NULL;

	assert_terminal_safe(out, len);
	assert_null(memchr(out, 0x1b, len));
	row = line_with(out, "127.0.0.1:2525");
	assert_non_null(row);
	assert_non_null(strstr(row, "\\x1b[5mBLINK PLAIN\\xc0"));
	free(row);
	assert_non_null(strstr(out, "smtp 127.0.0.1:2525 plain: bad reply: \\x1b[2J\\xff\n"));
	assert_non_null(strstr(out, "  ! bare LF in \\x1b]8;;http://x\\x1b\\link\\r\\n\n"));
	free(out);
}

static void test_table_auth_truncated(void **state)
{
	struct fixture *fx = *state;
	struct probe_result *r = &fx->res[R_SMTP_OK];
	size_t len = 0, auth_at;
	char *out = NULL, *head = NULL, *row = NULL, *end = NULL;
	char name[48], want[40];

	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "MECH-%02d", i);
		strlist_add_str(&r->auth_after, name);
	}
	/* one mechanism longer than the column on its own */
	strlist_clear(&fx->res[R_IMAPS_OK].auth_after);
	memset(name, 'X', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	strlist_add_str(&fx->res[R_IMAPS_OK].auth_after, name);

	out = render_table(&fx->rep, false, &len);
	head = line_with(out, "PROTO");
	auth_at = (size_t)(strstr(head, "AUTH") - head);
	row = line_with(out, "127.0.0.1:587");
	assert_non_null(row);
	assert_memory_equal(row + auth_at, "PLAIN LOGIN MECH-00 MECH-01 ", 28);
	end = strstr(row + auth_at, "... ");
	assert_non_null(end);
	/* the cell is at most 32 characters wide, "..." included */
	assert_int_equal((size_t)(end + 3 - (row + auth_at)), 32);
	free(row);
	row = line_with(out, "[::1]:993");
	assert_non_null(row);
	memset(want, 'X', 29);
	memcpy(want + 29, "... ", 5);
	assert_memory_equal(row + auth_at, want, 33);
	free(row);
	free(head);
	free(out);
}

static void test_table_color(void **state)
{
	struct fixture *fx = *state;
	size_t len = 0;
	char *out = render_table(&fx->rep, true, &len);
	size_t escs = 0;

	assert_non_null(strstr(out, "\033[32mok\033[0m"));
	assert_non_null(strstr(out, "\033[31mrefused\033[0m"));
	assert_non_null(strstr(out, "  \033[33m! only plaintext offered\033[0m\n"));
	/* every ESC is one of our SGR sequences; the server's stay escaped */
	for (const char *p = out; (p = memchr(p, 0x1b, len - (size_t)(p - out))) != NULL; p++) {
		escs++;
		if (strncmp(p, "\033[32m", 5) && strncmp(p, "\033[31m", 5) &&
		    strncmp(p, "\033[33m", 5) && strncmp(p, "\033[0m", 4))
			fail_msg("foreign escape at offset %zu", (size_t)(p - out));
	}
	assert_true(escs > 0);
	assert_non_null(strstr(out, "\\x1b[5mBLINK"));
	free(out);
}

static void test_table_empty_run(void **state)
{
	struct fixture *fx = *state;
	size_t len = 0;
	char *out = NULL;

	fx->rep.n = 0;
	report_recommend(&fx->rep);
	out = render_table(&fx->rep, false, &len);
	assert_ptr_equal(strstr(out, "PROTO"), out);
	assert_null(strstr(out, "Recommended:"));
	assert_non_null(strstr(out, "0 endpoints probed, 0 answered"));
	fx->rep.n = R_COUNT;
	free(out);
}

static void test_transcript_escaped_with_times(void **state)
{
	struct fixture *fx = *state;
	size_t len = 0;
	char *out = render_transcript(&fx->res[R_SMTP_OK], &len);

	assert_string_equal(out, "--- smtp 127.0.0.1:587 starttls ---\n"
	                         "[     3 ms] S: 220 mail.example.test ESMTP\n"
	                         "[     4 ms] C: EHLO probe\n"
	                         "[     5 ms] S: 250-bad \\xff byte and a NUL \\x00 here\n"
	                         "[     9 ms] *: TLS established\n");
	free(out);
	out = render_transcript(&fx->res[R_HOSTILE], &len);
	assert_terminal_safe(out, len);
	assert_non_null(strstr(out, "S: 220 \\x1b]0;pwned\\x07\\x1b[2J evil \\xff\\xfe\\x9b31m "
	                            "\\xc2\\x9b end\n"));
	free(out);
	fx->res[R_HOSTILE].transcript.truncated = true;
	out = render_transcript(&fx->res[R_HOSTILE], &len);
	assert_non_null(strstr(out, "truncated"));
	free(out);
}

/* ---- recommendation and exit code ---- */

/* A minimal result: status only (no greeting unless greeted). */
static void mini(struct probe_result *r, enum protocol p, enum sec_mode m, uint16_t port,
                 const struct proxy_spec *proxy, enum mp_status st)
{
	init_result(r, p, m, "127.0.0.1", port, proxy);
	if (st != MP_OK)
		result_fail(r, st, NULL);
}

static void free_all(struct probe_result *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		result_free(&r[i]);
}

static void test_recommend_order(void **state)
{
	struct fixture *fx = *state;
	struct probe_result r[9];
	struct run_report rep = {.results = r, .n = 9};

	mini(&r[0], PROTO_SMTP, MODE_PLAIN, 25, NULL, MP_OK);
	mini(&r[1], PROTO_SMTP, MODE_STARTTLS, 587, NULL, MP_OK);
	mini(&r[2], PROTO_SMTP, MODE_TLS, 465, &fx->proxy, MP_OK); /* proxied */
	mini(&r[3], PROTO_SMTP, MODE_TLS, 2525, NULL, MP_OK);      /* other port */
	mini(&r[4], PROTO_SMTP, MODE_TLS, 465, NULL, MP_OK);       /* the one */
	mini(&r[5], PROTO_SMTP, MODE_TLS, 465, NULL, MP_OK);       /* a later tie */
	mini(&r[6], PROTO_IMAP, MODE_TLS, 993, NULL, MP_ERR_TLS);
	mini(&r[7], PROTO_IMAP, MODE_STARTTLS, 143, NULL, MP_OK);
	mini(&r[8], PROTO_POP3, MODE_STARTTLS, 110, NULL, MP_ERR_STARTTLS_REFUSED);
	r[8].greeting = strdup("+OK");
	report_recommend(&rep);
	assert_int_equal(rep.recommended[PROTO_SMTP], 4);
	assert_int_equal(rep.recommended[PROTO_IMAP], 7);
	/* answered but not working: nothing to recommend */
	assert_int_equal(rep.recommended[PROTO_POP3], -1);

	/* without direct TLS: the mode counts before the path, so implicit TLS
	 * through the proxy beats direct STARTTLS */
	r[3].status = r[4].status = r[5].status = MP_ERR_TIMEOUT;
	report_recommend(&rep);
	assert_int_equal(rep.recommended[PROTO_SMTP], 2);
	assert_non_null(strstr(rep.recommend_reason[PROTO_SMTP], "implicit TLS, through a proxy"));
	/* STARTTLS on 587 before plain on 25 */
	r[2].status = MP_ERR_REFUSED;
	report_recommend(&rep);
	assert_int_equal(rep.recommended[PROTO_SMTP], 1);
	/* only the direct plain path works */
	r[1].status = MP_ERR_STARTTLS_NOT_OFFERED;
	report_recommend(&rep);
	assert_int_equal(rep.recommended[PROTO_SMTP], 0);
	assert_string_equal(rep.recommend_reason[PROTO_SMTP],
	                    "no certificate, no TLS, plaintext, direct; the only one that works");
	free_all(r, 9);
}

/* Sets a completed handshake on r: version, verified or not. */
static void set_tls(struct probe_result *r, const char *version, bool verified)
{
	r->tls_used = true;
	r->tls.done = true;
	snprintf(r->tls.version, sizeof(r->tls.version), "%s", version);
	r->tls.verified = verified;
	r->tls.hostname_matched = verified;
}

/* The best endpoint, not the first: a verified certificate first, then TLS
 * 1.2+ before legacy, then the mode, then the path, then the user's order. */
static void test_recommend_best(void **state)
{
	struct fixture *fx = *state;
	struct probe_result r[6];
	struct run_report rep = {.results = r, .n = 6};

	mini(&r[0], PROTO_IMAP, MODE_TLS, 2994, NULL, MP_OK); /* TLS 1.1 only */
	set_tls(&r[0], "TLSv1.1", true);
	mini(&r[1], PROTO_IMAP, MODE_TLS, 2993, NULL, MP_OK); /* TLS 1.3, verified */
	set_tls(&r[1], "TLSv1.3", true);
	mini(&r[2], PROTO_IMAP, MODE_TLS, 993, NULL, MP_OK); /* unverified */
	set_tls(&r[2], "TLSv1.3", false);
	mini(&r[3], PROTO_IMAP, MODE_STARTTLS, 143, NULL, MP_OK); /* verified STARTTLS */
	set_tls(&r[3], "TLSv1.3", true);
	mini(&r[4], PROTO_IMAP, MODE_TLS, 2993, &fx->proxy, MP_OK); /* proxied twin */
	set_tls(&r[4], "TLSv1.3", true);
	mini(&r[5], PROTO_IMAP, MODE_TLS, 2995, NULL, MP_OK); /* later tie */
	set_tls(&r[5], "TLSv1.3", true);
	report_recommend(&rep);
	assert_int_equal(rep.recommended[PROTO_IMAP], 1);
	assert_string_equal(
	    rep.recommend_reason[PROTO_IMAP],
	    "verified certificate, TLSv1.3, implicit TLS, direct; best of 6 that work");
	/* without it: of two equal ones the direct beats the proxied, though
	 * the proxied came first */
	r[1].status = MP_ERR_TIMEOUT;
	report_recommend(&rep);
	assert_int_equal(rep.recommended[PROTO_IMAP], 5);
	/* verified STARTTLS beats unverified implicit TLS */
	r[5].status = r[4].status = MP_ERR_TIMEOUT;
	report_recommend(&rep);
	assert_int_equal(rep.recommended[PROTO_IMAP], 3);
	/* a verified legacy TLS beats an unverified TLS 1.3 */
	r[3].status = MP_ERR_TIMEOUT;
	report_recommend(&rep);
	assert_int_equal(rep.recommended[PROTO_IMAP], 0);
	assert_non_null(strstr(rep.recommend_reason[PROTO_IMAP], "TLSv1.1 (legacy)"));
	free_all(r, 6);
}

static void test_recommend_ports(void **state)
{
	struct probe_result r[6];
	struct run_report rep = {.results = r, .n = 6};

	/* SMTP within one mode: 587 before 25 before others, whatever the
	 * input order */
	mini(&r[0], PROTO_SMTP, MODE_STARTTLS, 2525, NULL, MP_OK);
	mini(&r[1], PROTO_SMTP, MODE_STARTTLS, 25, NULL, MP_OK);
	mini(&r[2], PROTO_SMTP, MODE_STARTTLS, 587, NULL, MP_OK);
	/* IMAP does not rank ports: input order decides */
	mini(&r[3], PROTO_IMAP, MODE_TLS, 9993, NULL, MP_OK);
	mini(&r[4], PROTO_IMAP, MODE_TLS, 993, NULL, MP_OK);
	mini(&r[5], PROTO_POP3, MODE_PLAIN, 110, NULL, MP_OK);
	report_recommend(&rep);
	assert_int_equal(rep.recommended[PROTO_SMTP], 2);
	assert_int_equal(rep.recommended[PROTO_IMAP], 3);
	assert_int_equal(rep.recommended[PROTO_POP3], 5);
	r[2].status = MP_ERR_CLOSED;
	report_recommend(&rep);
	assert_int_equal(rep.recommended[PROTO_SMTP], 1);
	r[1].status = MP_ERR_CLOSED;
	report_recommend(&rep);
	assert_int_equal(rep.recommended[PROTO_SMTP], 0);
	free_all(r, 6);
}

static void test_exit_code(void **state)
{
	struct probe_result r[3];
	struct run_report rep = {.results = r, .n = 0};

	assert_int_equal(report_exit_code(&rep), MP_EXIT_NONE_ANSWERED);
	mini(&r[0], PROTO_SMTP, MODE_PLAIN, 25, NULL, MP_ERR_REFUSED);
	mini(&r[1], PROTO_IMAP, MODE_TLS, 993, NULL, MP_ERR_TLS);
	mini(&r[2], PROTO_POP3, MODE_PLAIN, 110, NULL, MP_ERR_GREETING_TIMEOUT);
	rep.n = 3;
	assert_int_equal(report_exit_code(&rep), MP_EXIT_NONE_ANSWERED);
	/* greeted, then failed: the server answered */
	r[2].greeting = strdup("+OK");
	r[2].status = MP_ERR_TIMEOUT;
	assert_int_equal(report_exit_code(&rep), MP_EXIT_OK);
	assert_true(report_answered(&r[2]));
	assert_false(report_answered(&r[1]));
	free(r[2].greeting);
	r[2].greeting = NULL;
	assert_int_equal(report_exit_code(&rep), MP_EXIT_NONE_ANSWERED);
	r[1].status = MP_OK;
	assert_int_equal(report_exit_code(&rep), MP_EXIT_OK);
	free_all(r, 3);
}

/* ---- the table fitted to a terminal's width ---- */

static char *render_table_width(const struct run_report *r, size_t width)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	assert_non_null(f);
	assert_int_equal(report_write_table_width(f, r, false, width), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

/* The widest line of out, in code points. */
static size_t widest_line(const char *out)
{
	size_t widest = 0, w = 0;

	for (const unsigned char *p = (const unsigned char *)out; *p; p++) {
		if (*p == '\n') {
			widest = w > widest ? w : widest;
			w = 0;
		} else if ((*p & 0xC0) != 0x80) {
			w++;
		}
	}
	return w > widest ? w : widest;
}

/* out with every run of spaces and newlines made one space. */
static char *squeeze(const char *out)
{
	char *s = strdup(out), *o = s;

	assert_non_null(s);
	for (const char *p = out; *p; p++) {
		if (*p == ' ' || *p == '\n') {
			if (o == s || o[-1] != ' ')
				*o++ = ' ';
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return s;
}

static void test_table_fits_width(void **state)
{
	struct fixture *fx = *state;
	size_t len = 0;
	char *full = render_table(&fx->rep, false, &len); /* a memstream: no limit */
	char *unlimited = render_table_width(&fx->rep, 0);
	char *full_words = squeeze(full);
	const size_t widths[] = {100, 80, 60, 40};

	assert_string_equal(unlimited, full);
	assert_true(widest_line(full) > 80);
	for (size_t k = 0; k < sizeof(widths) / sizeof(widths[0]); k++) {
		char *out = render_table_width(&fx->rep, widths[k]);
		char *head = line_with(out, "PROTO");
		char *row = line_with(out, "127.0.0.1:25 ");
		char *words = squeeze(out);

		if (widest_line(out) > widths[k]) /* shows what went wrong */
			fprintf(stderr, "at %zu columns:\n%s", widths[k], out);
		assert_true(widest_line(out) <= widths[k]);
		/* these columns always stay */
		assert_non_null(head);
		assert_non_null(strstr(head, "HOST:PORT"));
		assert_non_null(strstr(head, "STATUS"));
		assert_non_null(row);
		assert_non_null(strstr(row, " refused"));
		/* wrapped text keeps every word, in order */
		assert_non_null(
		    strstr(words, "! certificate not verified: self-signed certificate "));
		assert_non_null(strstr(words,
		                       "(certificate not verified, TLSv1.3, STARTTLS, direct; "
		                       "the only one that works)"));
		assert_non_null(strstr(words, "5 endpoints probed, 4 answered, 5123 ms"));
		/* the same endpoints in the same order */
		assert_true(strstr(out, "127.0.0.1:587") < strstr(out, "127.0.0.1:25 "));
		assert_terminal_safe(out, strlen(out));
		free(head);
		free(row);
		free(words);
		free(out);
	}
	free(full_words);
	free(unlimited);
	free(full);
}

/* At 60 columns the table keeps PROTO, HOST:PORT, MODE, STATUS at least, and
 * drops TIME before MODE. */
static void test_table_drop_order(void **state)
{
	struct fixture *fx = *state;
	char *out = render_table_width(&fx->rep, 60);
	char *head = line_with(out, "PROTO");

	assert_non_null(head);
	assert_null(strstr(head, "TIME"));
	assert_non_null(strstr(head, "MODE"));
	free(head);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_json_result_ok_with_tls, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_json_failed_and_implicit_tls, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_json_proxy_never_shows_password, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_json_hostile_text_is_valid_and_visible, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_json_options_and_summary, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_json_compact_without_transcript, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_json_matches_schema, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_table_rows_and_columns, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_table_hostile_input_is_escaped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_table_auth_truncated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_table_color, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_table_empty_run, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_table_fits_width, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_table_drop_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_transcript_escaped_with_times, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_recommend_best, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_recommend_order, setup, teardown),
	    cmocka_unit_test(test_recommend_ports),
	    cmocka_unit_test(test_exit_code),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
