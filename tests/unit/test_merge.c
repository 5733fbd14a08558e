/* Unit tests: a result written as JSON (json.c) and read back (json_read.c)
 * keeps what every writer, the summary and the policy use; bad input is
 * refused; NDJSON lines and the streamed tally agree with the whole report. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "reports/json_read.h"
#include "reports/report.h"

static struct proxy_spec proxy = {.type = PROXY_SOCKS5, .host = "127.0.0.9", .port = 1080};

static void make(struct probe_result *r, enum protocol p, enum sec_mode m, uint16_t port,
                 enum mp_status st)
{
	struct endpoint ep;

	memset(&ep, 0, sizeof(ep));
	ep.proto = p;
	ep.mode = m;
	ep.port = port;
	snprintf(ep.host, sizeof(ep.host), "127.0.0.1");
	result_init(r, &ep);
	r->attempts = 1;
	if (st != MP_OK)
		result_fail(r, st, "it failed");
}

static void test_round_trip(void **state)
{
	struct run_options opt;
	struct probe_result a, b;
	struct json_read_proxies px = {0};
	struct mp_error err;
	cJSON *o = NULL;

	(void)state;
	memset(&opt, 0, sizeof(opt));
	make(&a, PROTO_SMTP, MODE_STARTTLS, 587, MP_OK);
	a.ep.proxy = &proxy;
	a.greeting = strdup("220 mx.test ESMTP");
	a.starttls_offered = true;
	strlist_add_str(&a.caps_before, "STARTTLS");
	strlist_add_str(&a.auth_after, "PLAIN");
	a.tls_used = a.tls.done = true;
	snprintf(a.tls.version, sizeof(a.tls.version), "TLSv1.3");
	a.tls.verified = a.tls.hostname_matched = true;
	a.tls.chain_len = 1;
	a.tls.chain[0].subject = strdup("CN=mx.test");
	a.tls.chain[0].not_after = strdup("2030-01-01T00:00:00Z");
	a.tls.chain[0].days_left = 1000;
	a.t.total = 42;
	a.attempts = 3;
	result_add_finding(&a, FINDING_CERT_EXPIRING, "soon");
	o = report_json_result(&a, &opt);
	assert_non_null(o);
	assert_int_equal(report_read_result(o, &b, &px, &err), 0);
	assert_int_equal(b.ep.proto, PROTO_SMTP);
	assert_int_equal(b.ep.mode, MODE_STARTTLS);
	assert_int_equal(b.ep.port, 587);
	assert_string_equal(b.ep.host, "127.0.0.1");
	assert_non_null(b.ep.proxy);
	assert_string_equal(b.ep.proxy->host, "127.0.0.9");
	assert_int_equal(b.status, MP_OK);
	assert_string_equal(b.greeting, "220 mx.test ESMTP");
	assert_true(strlist_has(&b.caps_before, "STARTTLS"));
	assert_true(strlist_has(&b.auth_after, "PLAIN"));
	assert_true(b.tls_used && b.tls.verified && b.tls.hostname_matched);
	assert_string_equal(b.tls.version, "TLSv1.3");
	assert_int_equal(b.tls.chain_len, 1);
	assert_int_equal(b.tls.chain[0].days_left, 1000);
	assert_int_equal(b.t.total, 42);
	assert_int_equal(b.attempts, 3);
	assert_true(result_has_finding(&b, FINDING_CERT_EXPIRING));
	cJSON_Delete(o);
	result_free(&a);
	result_free(&b);
	json_read_proxies_free(&px);
}

static void test_bad_results_refused(void **state)
{
	static const char *const bad[] = {
	    "{}",
	    "{\"protocol\":\"smtp\",\"host\":\"h\",\"port\":25,\"mode\":\"plain\"}",
	    "{\"protocol\":\"nntp\",\"host\":\"h\",\"port\":25,\"mode\":\"plain\",\"status\":"
	    "\"ok\"}",
	    "{\"protocol\":\"smtp\",\"host\":\"h\",\"port\":70000,\"mode\":\"plain\",\"status\":"
	    "\"ok\"}",
	    "{\"protocol\":\"smtp\",\"host\":7,\"port\":25,\"mode\":\"plain\",\"status\":\"ok\"}",
	    "{\"protocol\":\"smtp\",\"host\":\"h\",\"port\":25,\"mode\":\"plain\",\"status\":"
	    "\"nope\"}",
	    "[1,2]",
	};
	struct json_read_proxies px = {0};
	struct probe_result r;
	struct mp_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cJSON *o = cJSON_Parse(bad[i]);

		assert_int_equal(report_read_result(o, &r, &px, &err), -1);
		cJSON_Delete(o);
	}
	json_read_proxies_free(&px);
}

/* The streamed tally says what the whole report's summary says. */
static void test_tally_matches_summary(void **state)
{
	struct probe_result res[4];
	struct run_report whole, streamed;
	struct run_tally t;
	struct run_options opt;

	(void)state;
	memset(&opt, 0, sizeof(opt));
	make(&res[0], PROTO_SMTP, MODE_PLAIN, 25, MP_OK);
	make(&res[1], PROTO_SMTP, MODE_TLS, 465, MP_OK);
	make(&res[2], PROTO_IMAP, MODE_TLS, 993, MP_ERR_REFUSED);
	make(&res[3], PROTO_POP3, MODE_TLS, 995, MP_ERR_INVALID_TARGET);
	memset(&whole, 0, sizeof(whole));
	whole.opt = &opt;
	whole.results = res;
	whole.n = 4;
	report_recommend(&whole);
	report_tally_init(&t);
	for (int i = 0; i < 4; i++)
		report_tally_add(&t, &res[i]);
	memset(&streamed, 0, sizeof(streamed));
	streamed.opt = &opt;
	streamed.tally = &t;
	report_tally_finish(&streamed);
	assert_int_equal(t.total, 4);
	assert_int_equal(t.by_status[MP_OK], 2);
	assert_int_equal(t.by_status[MP_ERR_INVALID_TARGET], 1);
	assert_int_equal(t.best[PROTO_SMTP], whole.recommended[PROTO_SMTP]);
	assert_int_equal(t.best[PROTO_IMAP], -1);
	assert_string_equal(streamed.recommend_reason[PROTO_SMTP],
	                    whole.recommend_reason[PROTO_SMTP]);
	assert_int_equal(report_exit_code(&streamed), MP_EXIT_OK);
	for (int i = 0; i < 4; i++)
		result_free(&res[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_bad_results_refused),
	    cmocka_unit_test(test_tally_matches_summary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
