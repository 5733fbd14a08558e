/* test_html.c - the HTML report (reports/html.c): the page's structure (one
 * grid cell per endpoint with its status word, one details section each,
 * the verdicts, recommendations and findings), hostile server text shown
 * escaped and never as markup, valid UTF-8 without raw controls, the parts
 * (head, body, tail) that make the page, and xmllint's HTML parser where
 * installed. The browser test is tests/integration/test_html.sh. */
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

#define XMLLINT "/usr/bin/xmllint"

#define LIT(s) (s), (sizeof(s) - 1)

/* A greeting with markup, quotes, an ampersand, ESC, a bidi override and
 * bytes that are not UTF-8. */
#define HOSTILE_GREETING                                                                           \
	"220 <script>alert(1)</script> \"'& \x1b[2J \xe2\x80\xae"                                  \
	"evil \xff\xc0 end\n"                                                                      \
	"220 second <b>line</b>"
/* A certificate subject with an element and an event handler. */
#define HOSTILE_SUBJECT "CN=<img src=x onerror=alert(1)>"
/* A host name given on the command line. */
#define HOSTILE_HOST "evil<i>host</i>\"'.test"

enum {
	R_SMTP_OK,      /* smtp 127.0.0.1:587 starttls, TLS 1.3, cert 42 days */
	R_SMTP_REFUSED, /* smtp 127.0.0.1:25 plain, refused */
	R_IMAPS_OK,     /* imap [::1]:993 tls, cert expired 3 days ago */
	R_POP3_PROXY,   /* pop3 via socks5, greeting then timeout */
	R_HOSTILE,      /* smtps HOSTILE_HOST:465, hostile text everywhere */
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

/* ---- building results by hand (as test_writers.c) ---- */

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

/* A transcript entry with a fixed time. */
static void add_line(struct transcript *t, enum transcript_dir dir, const char *s, size_t len,
                     int64_t at_ms)
{
	transcript_add(t, dir, s, len);
	t->e[t->n - 1].at_ms = at_ms;
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
	r->tls.verified = true;
	r->tls.hostname_matched = true;
	add_cert(&r->tls, "CN=mail.example.test", "2030-01-01T00:00:00Z", 42);
	add_line(&r->transcript, TR_SERVER, LIT("220 mail.example.test ESMTP"), 3);
	add_line(&r->transcript, TR_CLIENT, LIT("EHLO probe"), 4);
	add_line(&r->transcript, TR_SERVER, LIT("250-bad \xff byte and a NUL \0 <here>"), 5);
	/* A login: the reply is shown, no password exists to show. */
	r->auth_planned = true;
	r->auth_results = calloc(1, sizeof(*r->auth_results));
	r->nauth = 1;
	r->auth_results[0].mechanism = "PLAIN";
	r->auth_results[0].status = AUTH_ST_REJECTED;
	r->auth_results[0].attempt = true;
	r->auth_results[0].time_ms = 7;
	snprintf(r->auth_results[0].reply, sizeof(r->auth_results[0].reply),
	         "535 5.7.8 <bad> credentials");
	transcript_init(&r->auth_results[0].transcript, 0);
	add_line(&r->auth_results[0].transcript, TR_CLIENT, LIT("AUTH PLAIN [redacted]"), 1);
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
	snprintf(r->tls.verify_error, sizeof(r->tls.verify_error), "certificate expired");
	r->tls.verify_reasons = TLS_VR_EXPIRED;
	r->tls.hostname_matched = true;
	add_cert(&r->tls, "CN=localhost", "2024-12-30T00:00:00Z", -3);
	result_add_finding(r, FINDING_CERT_EXPIRED, "certificate expired 3 days ago");
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
	init_result(r, PROTO_SMTP, MODE_TLS, HOSTILE_HOST, 465, NULL);
	snprintf(r->address, sizeof(r->address), "127.0.0.1");
	r->t = (struct timings){0, -1, -1, 1, 2, 3, 7};
	r->greeting = strdup(HOSTILE_GREETING);
	strlist_add_str(&r->caps_after, "X-<svg onload=alert(3)>");
	strlist_add_str(&r->auth_after, "\x1b[5mBLINK");
	strlist_add_str(&r->auth_after, "PLAIN\xc0<u>");
	r->tls_used = true;
	r->tls.done = true;
	snprintf(r->tls.version, sizeof(r->tls.version), "TLSv1.3");
	snprintf(r->tls.cipher, sizeof(r->tls.cipher), "TLS_AES_256_GCM_SHA384");
	snprintf(r->tls.verify_error, sizeof(r->tls.verify_error), "self-signed <em>cert</em>");
	add_cert(&r->tls, HOSTILE_SUBJECT, "2030-01-01T00:00:00Z\x1b[2J", 100);
	strlist_add_str(&r->tls.chain[0].san, "DNS:<a href=//x>x</a>");
	result_add_finding(r, FINDING_CERT_SELF_SIGNED, "self-signed: %s", HOSTILE_SUBJECT);
	/* A noncharacter (U+FFFE) and a C1 control written as UTF-8 (U+009B). */
	add_line(&r->transcript, TR_SERVER, LIT("250 <script>x</script> \xef\xbf\xbe \xc2\x9b"), 2);
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
	assert_int_equal(proxy_parse_url("socks5://alice:s3cret@127.0.0.1:1080", &fx->proxy, &err),
	                 0);
	fx->opt.transcript = true;
	fx->opt.policy.active = true;
	fx->opt.policy.warn_ms = 500;
	fx->opt.policy.crit_ms = 1000;

	fill_smtp_ok(&fx->res[R_SMTP_OK]);
	fill_refused(&fx->res[R_SMTP_REFUSED]);
	fill_imaps(&fx->res[R_IMAPS_OK]);
	fill_pop3_proxy(&fx->res[R_POP3_PROXY], &fx->proxy);
	fill_hostile(&fx->res[R_HOSTILE]);

	v = fx->verdicts;
	set_verdict(&v[0], RULE_EXPECT, R_SMTP_OK, PSTATE_OK, "ok-verdict-not-shown");
	set_verdict(&v[1], RULE_EXPECT, R_SMTP_REFUSED, PSTATE_CRITICAL,
	            "refused: connection refused");
	set_verdict(&v[2], RULE_CERT_EXPIRY, R_IMAPS_OK, PSTATE_CRITICAL,
	            "certificate expired 3 days ago");
	set_verdict(&v[3], RULE_TIME, R_POP3_PROXY, PSTATE_WARNING, "5010 ms > 500 ms");
	set_verdict(&v[4], RULE_REQUIRE_VERIFIED, R_HOSTILE, PSTATE_CRITICAL,
	            "not verified: <script>alert(4)</script>");
	set_verdict(&v[5], RULE_REQUIRE_AUTH, -1, PSTATE_WARNING, "no endpoint offers CRAM-MD5");
	set_verdict(&v[6], RULE_MIN_TLS, R_IMAPS_OK, PSTATE_UNKNOWN, "TLS version unknown");

	fx->rep.opt = &fx->opt;
	fx->rep.results = fx->res;
	fx->rep.n = R_COUNT;
	fx->rep.verdicts = fx->verdicts;
	fx->rep.nverdicts = V_COUNT;
	fx->rep.state = PSTATE_CRITICAL;
	for (int p = 0; p < PROTO_COUNT; p++)
		fx->rep.recommended[p] = -1;
	fx->rep.recommended[PROTO_SMTP] = R_SMTP_OK;
	snprintf(fx->rep.recommend_reason[PROTO_SMTP], MP_MAX_REASON, "verified <certificate>");
	fx->rep.recommended[PROTO_IMAP] = R_IMAPS_OK;
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

/* ---- capturing and checking output ---- */

/* The page (the writer must succeed), NUL-terminated. */
static char *render(const struct run_report *r)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	assert_non_null(f);
	assert_int_equal(report_write_html(f, r), 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(strlen(buf), n); /* no NUL inside */
	return buf;
}

static int count_str(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void assert_contains(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		fail_msg("missing: %s", needle);
}

static void assert_lacks(const char *text, const char *needle)
{
	if (strstr(text, needle))
		fail_msg("must not appear: %s", needle);
}

/* True when s is valid UTF-8 (RFC 3629: no overlong forms, surrogates or
 * code points above U+10FFFF). */
static bool valid_utf8(const unsigned char *s)
{
	while (*s) {
		unsigned char b = *s;
		size_t need;
		uint32_t cp;

		if (b < 0x80) {
			s++;
			continue;
		}
		if (b >= 0xC2 && b <= 0xDF) {
			need = 1;
			cp = b & 0x1F;
		} else if (b >= 0xE0 && b <= 0xEF) {
			need = 2;
			cp = b & 0x0F;
		} else if (b >= 0xF0 && b <= 0xF4) {
			need = 3;
			cp = b & 0x07;
		} else {
			return false;
		}
		for (size_t i = 1; i <= need; i++) {
			if ((s[i] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i] & 0x3F);
		}
		if ((need == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
		    (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
			return false;
		s += need + 1;
	}
	return true;
}

/* The elements the writer itself uses; anything else would be injected. */
static bool allowed_tag(const char *name, size_t len)
{
	static const char *const tags[] = {
	    "!DOCTYPE", "html",    "head", "meta", "title",  "style", "body",  "div",
	    "h1",       "h2",      "h4",   "p",    "strong", "table", "thead", "tbody",
	    "tr",       "th",      "td",   "a",    "span",   "br",    "ul",    "li",
	    "details",  "summary", "dl",   "dt",   "dd",     "pre",   "code"};

	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		if (strlen(tags[i]) == len && strncmp(tags[i], name, len) == 0)
			return true;
	return false;
}

/* Walks every tag of page: each is one the writer uses, with no event
 * handler and no link but to #ep-N. Text never holds a raw '<' (it is
 * escaped), so a '<' always starts a tag. */
static void assert_only_own_markup(const char *page)
{
	for (const char *p = strchr(page, '<'); p; p = strchr(p + 1, '<')) {
		const char *end = strchr(p, '>');
		const char *name = p + 1 + (p[1] == '/');
		size_t len = strcspn(name, " >\n");
		char *tag = NULL;

		assert_non_null(end);
		tag = strndup(p, (size_t)(end - p + 1));
		if (!allowed_tag(name, len))
			fail_msg("unexpected tag %s", tag);
		if (strstr(tag, " on") || strstr(tag, "javascript:") || strstr(tag, "src="))
			fail_msg("handler or source in tag %s", tag);
		if (strstr(tag, "href=") && !strstr(tag, "href=\"#ep-"))
			fail_msg("foreign link in tag %s", tag);
		free(tag);
	}
}

/* ---- tests ---- */

static void test_page_head_and_policy_state(void **state)
{
	struct fixture *fx = *state;
	char *out = render(&fx->rep);

	assert_true(strncmp(out, "<!DOCTYPE html>\n", 16) == 0);
	assert_contains(out, "<meta charset=\"utf-8\">");
	assert_contains(out, "<meta name=\"viewport\" content=\"width=device-width\">");
	assert_contains(out, "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
	                     "'none'; style-src 'unsafe-inline'\">");
	assert_contains(out, "<title>mailprobe: CRITICAL</title>");
	assert_contains(
	    out,
	    "started 2025-01-02T03:04:05Z, took 5123 ms; 5 endpoints: 3 ok, 4 answered, 2 failed");
	/* Self-contained: nothing loaded from anywhere. */
	assert_lacks(out, "<script");
	assert_lacks(out, "<link");
	assert_lacks(out, "url(");
	assert_lacks(out, "@import");
	assert_true(strcmp(out + strlen(out) - 16, "</body>\n</html>\n") == 0);
	free(out);
}

static void test_grid_cell_per_endpoint(void **state)
{
	struct fixture *fx = *state;
	char *out = render(&fx->rep);
	static const char *const want[R_COUNT] = {
	    "<a href=\"#ep-0\"><span class=\"st\">ok</span><span>TLSv1.3</span>"
	    "<span>auth: PLAIN LOGIN</span><span>cert 42 days left</span><span>12 ms</span></a>",
	    "<a href=\"#ep-1\"><span class=\"st\">refused</span><span>no TLS</span>"
	    "<span>auth: none</span><span>1 ms</span><span>policy: CRITICAL</span></a>",
	    "<a href=\"#ep-2\"><span class=\"st\">ok</span><span>TLSv1.2</span>"
	    "<span>auth: PLAIN</span><span>cert expired 3 days ago</span><span>9 ms</span>"
	    "<span>policy: UNKNOWN</span></a>", /* as the run state: the highest */
	    "<a href=\"#ep-3\"><span class=\"st\">timeout</span>",
	    "<a href=\"#ep-4\"><span class=\"st\">ok</span>",
	};

	for (int i = 0; i < R_COUNT; i++) {
		char id[32];

		assert_contains(out, want[i]);
		snprintf(id, sizeof(id), "<details id=\"ep-%d\">", i);
		assert_int_equal(count_str(out, id), 1);
		snprintf(id, sizeof(id), "href=\"#ep-%d\"><span class=\"st\">", i);
		assert_int_equal(count_str(out, id), 1); /* one grid cell each */
	}
	assert_int_equal(count_str(out, "<details id="), R_COUNT);
	assert_int_equal(count_str(out, "<table class=\"grid\">"), 4); /* one per host */
	/* Colour classes repeat the status words. */
	assert_contains(out, "<td class=\"cell ok\"><span class=\"col\">starttls 587</span>");
	assert_contains(out, "<td class=\"cell fail\"><span class=\"col\">plain 25</span>");
	assert_contains(out, "<td class=\"cell warn\"><span class=\"col\">plain 110</span>");
	/* 127.0.0.1: columns plain 25 then starttls 587, one smtp row. */
	assert_contains(out, "<th>protocol</th><th>plain 25</th><th>starttls 587</th></tr>");
	/* The proxied row names its path, never the proxy's password. */
	assert_contains(out, "<tr><th>pop3<br>via socks5://127.0.0.1:1080</th>");
	assert_lacks(out, "s3cret");
	assert_lacks(out, "alice");
	free(out);
}

static void test_recommended_verdicts_findings(void **state)
{
	struct fixture *fx = *state;
	char *out = render(&fx->rep);

	assert_contains(out, "<li>smtp: <a href=\"#ep-0\">smtp+starttls://127.0.0.1:587</a> "
	                     "(verified &lt;certificate&gt;)</li>");
	assert_contains(out, "<li>imap: <a href=\"#ep-2\">imaps://[::1]:993</a></li>");
	assert_contains(out, "<li>pop3: none works</li>");
	assert_contains(out, "<h2>Policy: CRITICAL</h2>");
	/* Non-OK verdicts only: 6 rows. */
	assert_int_equal(count_str(out, "<tr class=\"fail\"><td>CRITICAL</td>"), 3);
	assert_int_equal(count_str(out, "<tr class=\"warn\"><td>WARNING</td>"), 2);
	assert_int_equal(count_str(out, "<tr class=\"fail\"><td>UNKNOWN</td>"), 1);
	assert_lacks(out, "ok-verdict-not-shown");
	assert_contains(out, "<td>WARNING</td><td>run</td><td>require-auth</td>"
	                     "<td>no endpoint offers CRAM-MD5</td>");
	assert_contains(out, "<td><a href=\"#ep-3\">pop3://mail.example.test:110 via "
	                     "socks5://127.0.0.1:1080</a></td><td>time</td>");
	assert_contains(out, "<td>not verified: &lt;script&gt;alert(4)&lt;/script&gt;</td>");
	assert_contains(out, "<td>certificate_expired</td><td>certificate expired 3 days ago</td>");
	free(out);
}

static void test_details_of_an_endpoint(void **state)
{
	struct fixture *fx = *state;
	char *out = render(&fx->rep);
	const char *d = strstr(out, "<details id=\"ep-0\">");
	char *sect = NULL;

	assert_non_null(d);
	sect = strndup(d, (size_t)(strstr(d, "</details>") - d));
	assert_contains(sect, "<summary><span class=\"st ok\">ok</span> "
	                      "smtp+starttls://127.0.0.1:587</summary>");
	assert_contains(sect, "<pre>220 mail.example.test ESMTP\n</pre>");
	/* Before and after TLS side by side. */
	assert_contains(sect, "<div class=\"cols\"><div><h4>Before TLS</h4>\n<ul><li>PIPELINING"
	                      "</li><li>STARTTLS</li></ul>");
	assert_contains(sect, "</div><div><h4>After TLS</h4>\n<ul><li>PIPELINING</li><li>AUTH "
	                      "PLAIN LOGIN</li></ul>\n<p>auth: PLAIN LOGIN</p>");
	assert_contains(sect, "<dt>version</dt><dd>TLSv1.3</dd><dt>cipher</dt>"
	                      "<dd>TLS_AES_128_GCM_SHA256</dd><dt>group</dt><dd>X25519</dd>");
	assert_contains(sect, "<dt>verified</dt><dd>yes</dd><dt>name matches</dt><dd>yes</dd>");
	assert_contains(sect, "<tr><td>0</td><td>CN=mail.example.test</td><td>CN=Test CA</td>"
	                      "<td>-</td><td>2030-01-01T00:00:00Z</td><td>42 days left</td>"
	                      "<td>EC 256</td></tr>");
	assert_contains(sect, "<dt>total</dt><dd>12 ms</dd>");
	assert_contains(sect, "<dt>proxy connect</dt><dd>-</dd>");
	/* Logins: mechanism, status, the server's reply (escaped). */
	assert_contains(sect, "<td>PLAIN</td><td>rejected</td><td>535 5.7.8 &lt;bad&gt; "
	                      "credentials</td><td></td><td>7 ms</td>");
	/* Transcripts: the probe's (a NUL and a bad byte shown), the login's. */
	assert_contains(sect, "[     4 ms] C: EHLO probe\n");
	assert_contains(sect, "[     5 ms] S: 250-bad \\xff byte and a NUL \\x00 &lt;here&gt;\n");
	assert_contains(sect, "<h4>Transcript of the login with PLAIN</h4>\n<pre>[     1 ms] C: "
	                      "AUTH PLAIN [redacted]\n</pre>");
	free(sect);

	/* An expired, unverified chain says why; implicit TLS has no "before". */
	d = strstr(out, "<details id=\"ep-2\">");
	assert_non_null(d);
	sect = strndup(d, (size_t)(strstr(d, "</details>") - d));
	assert_contains(sect, "<dt>verified</dt><dd>no: certificate expired [expired]</dd>");
	assert_contains(sect, "<p>nothing (implicit TLS)</p>");
	assert_contains(sect, "<td>expired 3 days ago</td>");
	free(sect);
	free(out);
}

static void test_no_transcript_unless_asked(void **state)
{
	struct fixture *fx = *state;
	char *out = NULL;

	fx->opt.transcript = false;
	out = render(&fx->rep);
	assert_lacks(out, "Transcript");
	assert_lacks(out, "EHLO probe");
	free(out);
}

static void test_hostile_text_escaped(void **state)
{
	struct fixture *fx = *state;
	char *out = render(&fx->rep);

	/* Only the writer's own markup, whatever the servers sent. */
	assert_only_own_markup(out);
	assert_lacks(out, "<script");
	assert_lacks(out, "<img");
	assert_lacks(out, "<svg");
	assert_lacks(out, "<b>");
	assert_lacks(out, "<i>");
	assert_lacks(out, "<em>");
	assert_lacks(out, "<a href=//");
	/* ... and every piece of it shown as text. */
	assert_contains(out, "<pre>220 &lt;script&gt;alert(1)&lt;/script&gt; &quot;&#39;&amp; "
	                     "\\x1b[2J \\xe2\\x80\\xaeevil \\xff\\xc0 end\n"
	                     "220 second &lt;b&gt;line&lt;/b&gt;\n</pre>");
	assert_contains(out, "<td>CN=&lt;img src=x onerror=alert(1)&gt;</td>");
	assert_contains(out, "self-signed: CN=&lt;img src=x onerror=alert(1)&gt;");
	assert_contains(out, "<td>2030-01-01T00:00:00Z\\x1b[2J</td>");
	assert_contains(out, "<td>DNS:&lt;a href=//x&gt;x&lt;/a&gt;</td>");
	assert_contains(out, "<li>X-&lt;svg onload=alert(3)&gt;</li>");
	assert_contains(out, "<span>auth: \\x1b[5mBLINK PLAIN\\xc0&lt;u&gt;</span>");
	assert_contains(out, "no: self-signed &lt;em&gt;cert&lt;/em&gt;");
	/* The host from the command line, in the grid heading and the URL. */
	assert_contains(out, "<h2>evil&lt;i&gt;host&lt;/i&gt;&quot;&#39;.test</h2>");
	assert_contains(out, "smtps://evil&lt;i&gt;host&lt;/i&gt;&quot;&#39;.test:465</summary>");
	/* A noncharacter and a C1 control as text. */
	assert_contains(out, "S: 250 &lt;script&gt;x&lt;/script&gt; \\xef\\xbf\\xbe \\xc2\\x9b\n");
	free(out);
}

static void test_valid_utf8_without_controls(void **state)
{
	struct fixture *fx = *state;
	char *out = render(&fx->rep);

	assert_true(valid_utf8((const unsigned char *)out));
	for (const unsigned char *p = (const unsigned char *)out; *p; p++) {
		if (*p < 0x20 && *p != '\n')
			fail_msg("control byte 0x%02x at offset %zu", *p,
			         (size_t)(p - (unsigned char *)out));
		if (*p == 0x7F)
			fail_msg("DEL at offset %zu", (size_t)(p - (unsigned char *)out));
	}
	assert_lacks(out, "\xe2\x80\xae"); /* U+202E */
	assert_lacks(out, "\xc2\x9b");     /* U+009B */
	assert_lacks(out, "\xef\xbf\xbe"); /* U+FFFE */
	free(out);
}

static void test_parts_make_the_page(void **state)
{
	struct fixture *fx = *state;
	char *page = render(&fx->rep), *parts = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&parts, &n);

	assert_non_null(f);
	assert_int_equal(report_write_html_head(f, "mailprobe: CRITICAL"), 0);
	assert_int_equal(report_write_html_body(f, &fx->rep, "mailprobe"), 0);
	assert_int_equal(report_write_html_tail(f), 0);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(parts, page);
	free(parts);

	/* A body with an untrusted heading (a status page names its runs). */
	f = open_memstream(&parts, &n);
	assert_non_null(f);
	assert_int_equal(report_write_html_body(f, &fx->rep, "run <b>\"x\"</b>"), 0);
	assert_int_equal(fclose(f), 0);
	assert_true(strncmp(parts,
	                    "<div class=\"run\">\n<h1>run &lt;b&gt;&quot;x&quot;&lt;/b&gt;: "
	                    "<span class=\"state fail\">CRITICAL</span></h1>",
	                    90) == 0);
	assert_lacks(parts, "<body");
	assert_lacks(parts, "<html");
	free(parts);
	free(page);
}

static void test_writer_table_and_empty_run(void **state)
{
	struct fixture *fx = *state;
	const struct report_writer *w = report_writer_for(FORMAT_HTML);
	char *out = NULL;

	assert_non_null(w);
	assert_string_equal(w->name, "html");
	assert_int_equal(report_format_parse("html"), FORMAT_HTML);
	assert_non_null(strstr(report_format_list(), "html"));

	/* No endpoints, no policy: a page all the same. */
	fx->rep.n = 0;
	fx->rep.nverdicts = 0;
	fx->opt.policy.active = false;
	fx->rep.state = PSTATE_CRITICAL;
	out = render(&fx->rep);
	assert_contains(out, "0 endpoints: 0 ok");
	assert_lacks(out, "<details");
	assert_lacks(out, "Policy:");
	assert_true(strcmp(out + strlen(out) - 16, "</body>\n</html>\n") == 0);
	free(out);
}

/* Runs xmllint --html --noout on path; its messages go to *msgs. Returns
 * its exit status. */
static int run_xmllint(const char *path, char **msgs)
{
	int pipefd[2], status = 0;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	pid_t pid;

	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		dup2(pipefd[1], STDERR_FILENO);
		close(pipefd[0]);
		execl(XMLLINT, XMLLINT, "--html", "--noout", path, (char *)NULL);
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
	*msgs = buf;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* xmllint's HTML parser (HTML 4) finds no error but the HTML5 elements it
 * does not know (details, summary). */
static void test_xmllint_html(void **state)
{
	struct fixture *fx = *state;
	char path[] = "/tmp/mailprobe-html-XXXXXX";
	char *out = NULL, *msgs = NULL;
	int fd, rc;

	if (access(XMLLINT, X_OK) != 0) {
		print_message("xmllint not installed: skipped\n");
		skip();
	}
	out = render(&fx->rep);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, out, strlen(out)), (ssize_t)strlen(out));
	assert_int_equal(close(fd), 0);
	rc = run_xmllint(path, &msgs);
	unlink(path);
	assert_int_equal(rc, 0);
	/* Each message is "FILE:LINE: HTML parser error : TEXT" plus two
	 * lines of context; only the message lines count. */
	for (const char *p = msgs; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		char *line = strndup(p, l);

		if (strstr(line, ": HTML parser ") && !strstr(line, "Tag details invalid") &&
		    !strstr(line, "Tag summary invalid"))
			fail_msg("xmllint: %s\n%s", line, msgs);
		free(line);
		p = nl ? nl + 1 : NULL;
	}
	free(msgs);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_page_head_and_policy_state, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_grid_cell_per_endpoint, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_recommended_verdicts_findings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_details_of_an_endpoint, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_transcript_unless_asked, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_text_escaped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_valid_utf8_without_controls, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_parts_make_the_page, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_writer_table_and_empty_run, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_xmllint_html, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
