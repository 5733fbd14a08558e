/* Unit tests: MTA-STS, TLS-RPT and autoconfig parsers (probe/mailpolicy.c),
 * DNS RDATA (core/dns.c) and HTTP responses (core/http.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dns.h"
#include "core/http.h"
#include "probe/discover/mailpolicy.h"

static void test_mtasts_txt(void **state)
{
	struct mtasts_state m;
	static const char ok[] = "v=STSv1; id=20240101T000000;";
	static const char noid[] = "v=STSv1;";
	static const char wrongv[] = "id=1; v=STSv1";

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_int_equal(mtasts_parse_txt(ok, strlen(ok), &m), 0);
	assert_string_equal(m.txt_id, "20240101T000000");
	assert_int_equal(mtasts_parse_txt(noid, strlen(noid), &m), -1);
	assert_int_equal(mtasts_parse_txt(wrongv, strlen(wrongv), &m), -1);
	/* RFC 8461 3.1 ABNF, strictly */
	static const char *const bad[] = {
	    "v=STSv10; id=1",   "v=STSv1; id=a;;",        "v=STSv1; id=abc; more=",
	    "v=STSv1 id=abc",   " v=STSv1; id=abc",       "v=STSv1; id=abc; x y=1",
	    "v=STSv1; id=ab-c", "v=STSv1; id=abc; e=a b",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&m, 0, sizeof(m));
		assert_int_equal(mtasts_parse_txt(bad[i], strlen(bad[i]), &m), -1);
		assert_false(m.txt_valid);
		assert_true(m.txt_error[0] != '\0');
	}
	static const char *const good[] = {
	    "v=STSv1;id=abc",
	    "v=STSv1; id=abc;",
	    "v=STSv1 ;\tid=abc ; ext.1=x!y ;",
	    "v=STSv1; id=abc; id=def",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(&m, 0, sizeof(m));
		assert_int_equal(mtasts_parse_txt(good[i], strlen(good[i]), &m), 0);
		assert_string_equal(m.txt_id, "abc");
	}
}

/* RFC 8461 3.2: the first of a repeated field counts; the ABNF strictly;
 * more mx lines than kept are counted, not dropped silently. */
static void test_mtasts_policy_strict(void **state)
{
	struct mtasts_state m;
	static const char twice[] = "version: STSv1\nmode: enforce\nmode: none\n"
	                            "mx: a.test\nmax_age: 600\nmax_age: 1\n";
	static const char *const bad[] = {
	    "version: STSv1\nmode: enforce\nmx: **.example\nmax_age: 1\n",
	    "version: STSv1\nmode: enforce\nmx: a..test\nmax_age: 1\n",
	    "version: STSv1\n\nmode: enforce\nmx: a.test\nmax_age: 1\n",
	    " version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 1\n",
	    "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 12345678901\n",
	    "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 1\nmore:\n",
	    "version: STSv10\nmode: enforce\nmx: a.test\nmax_age: 1\n",
	    "version : STSv1\nmode: enforce\nmx: a.test\nmax_age: 1\n",
	};
	char many[4096];
	size_t o = 0;

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_int_equal(mtasts_parse_policy(twice, strlen(twice), &m), 0);
	assert_int_equal(m.mode, MTASTS_ENFORCE);
	assert_int_equal(m.max_age, 600);
	assert_string_equal(m.repeated, "mode");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&m, 0, sizeof(m));
		assert_int_equal(mtasts_parse_policy(bad[i], strlen(bad[i]), &m), -1);
		assert_false(m.policy_valid);
	}
	o += (size_t)snprintf(many + o, sizeof(many) - o, "version: STSv1\r\nmode: testing\r\n");
	for (int i = 0; i < 40; i++)
		o += (size_t)snprintf(many + o, sizeof(many) - o, "mx: mx%d.example.test\r\n", i);
	o += (size_t)snprintf(many + o, sizeof(many) - o, "max_age: 86400");
	memset(&m, 0, sizeof(m));
	assert_int_equal(mtasts_parse_policy(many, o, &m), 0);
	assert_int_equal(m.nmx, MP_MTASTS_MAX_MX);
	assert_int_equal(m.nmx_total, 40);
	assert_true(m.mx_truncated);
}

static void test_mtasts_policy(void **state)
{
	struct mtasts_state m;
	static const char ok[] = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.test\r\n"
	                         "mx: *.example.test\r\nmax_age: 86400\r\n";
	static const char big_age[] =
	    "version: STSv1\nmode: testing\nmx: a.test\nmax_age: 99999999\n";

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_int_equal(mtasts_parse_policy(ok, strlen(ok), &m), 0);
	assert_int_equal(m.mode, MTASTS_ENFORCE);
	assert_int_equal(m.nmx, 2);
	assert_int_equal(m.max_age, 86400);
	assert_int_equal(mtasts_parse_policy(big_age, strlen(big_age), &m), -1);
	/* RFC 8461 4.1: the wildcard is one leftmost label */
	assert_true(mtasts_mx_matches("*.example.test", "mx1.example.test"));
	assert_false(mtasts_mx_matches("*.example.test", "a.b.example.test"));
	assert_false(mtasts_mx_matches("*.example.test", "example.test"));
	assert_true(mtasts_mx_matches("Mail.Example.test", "mail.example.test."));
}

static void test_tlsrpt(void **state)
{
	struct tlsrpt_state t;
	static const char ok[] =
	    "v=TLSRPTv1; rua=mailto:r@example.test?x=y,https://r.example.test/";
	static const char bad[] = "v=TLSRPTv1; rua=ftp://r.example.test";

	(void)state;
	memset(&t, 0, sizeof(t));
	assert_int_equal(tlsrpt_parse(ok, strlen(ok), &t), 0);
	assert_int_equal(t.nrua, 2);
	assert_string_equal(t.rua[0], "mailto:r@example.test?x=y");
	assert_int_equal(tlsrpt_parse(bad, strlen(bad), &t), -1);
	/* RFC 8460 3 ABNF */
	static const char *const worse[] = {
	    "v=TLSRPTv10; rua=mailto:a@b.test",
	    "v=TLSRPTv1;; rua=mailto:a@b.test",
	    "v=TLSRPTv1; rua=mailto:a@b.test; x=",
	    "v=TLSRPTv1; rua=mailto:a@b.test,",
	    "v=TLSRPTv1; rua=mailto:a@b.test; rua=mailto:c@b.test",
	    "v=TLSRPTv1; rua=mailto:a b@b.test",
	    "v=TLSRPTv1",
	};
	for (size_t i = 0; i < sizeof(worse) / sizeof(worse[0]); i++) {
		memset(&t, 0, sizeof(t));
		assert_int_equal(tlsrpt_parse(worse[i], strlen(worse[i]), &t), -1);
		assert_false(t.valid);
	}
	static const char spaced[] = "v=TLSRPTv1 ; rua=mailto:a@b.test , https://r.test/x ;";
	memset(&t, 0, sizeof(t));
	assert_int_equal(tlsrpt_parse(spaced, strlen(spaced), &t), 0);
	assert_int_equal(t.nrua, 2);
	assert_string_equal(t.rua[1], "https://r.test/x");
}

static void test_autoconfig(void **state)
{
	struct autoconfig_state *a = calloc(1, sizeof(*a));
	static const char ok[] =
	    "<clientConfig version=\"1.1\"><emailProvider id=\"x\">"
	    "<incomingServer type=\"imap\"><hostname>imap.%EMAILDOMAIN%</hostname>"
	    "<port>993</port><socketType>SSL</socketType>"
	    "<authentication>password-cleartext</authentication></incomingServer>"
	    "<outgoingServer type=\"smtp\"><hostname>smtp.example.test</hostname>"
	    "<port>587</port><socketType>STARTTLS</socketType></outgoingServer>"
	    "</emailProvider></clientConfig>";
	static const char xxe[] = "<!DOCTYPE c [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
	                          "<clientConfig><incomingServer type=\"imap\"><hostname>&x;"
	                          "</hostname><port>1</port></incomingServer></clientConfig>";

	(void)state;
	assert_non_null(a);
	assert_int_equal(autoconfig_parse(ok, strlen(ok), "example.test", a), 0);
	assert_int_equal(a->n, 2);
	assert_string_equal(a->servers[0].hostname, "imap.example.test");
	assert_int_equal(a->servers[0].port, 993);
	assert_string_equal(a->servers[0].socket_type, "SSL");
	assert_false(a->servers[1].incoming);
	assert_int_equal(autoconfig_parse(xxe, strlen(xxe), "example.test", a), -1);
	assert_non_null(strstr(a->error, "DTD"));
	/* a real parser: comments are not servers, broken XML is refused */
	static const char commented[] =
	    "<?xml version=\"1.0\"?><clientConfig><emailProvider id=\"x\">"
	    "<!-- <incomingServer type=\"imap\"><hostname>old.test</hostname><port>143</port>"
	    "<socketType>plain</socketType></incomingServer> -->"
	    "<incomingServer type=\"imap\"><hostname>new<!-- x -->.test</hostname>"
	    "<port>993</port><socketType>SSL</socketType></incomingServer>"
	    "</emailProvider></clientConfig>";
	assert_int_equal(autoconfig_parse(commented, strlen(commented), "example.test", a), 0);
	assert_int_equal(a->n, 1);
	assert_string_equal(a->servers[0].hostname, "new.test");
	static const char *const broken[] = {
	    "<clientConfig><emailProvider><incomingServer type=\"imap\"><hostname>a&nbsp;.test"
	    "</hostname><port>1</port></incomingServer></emailProvider></clientConfig>",
	    "<clientConfig><emailProvider><incomingServer type=\"imap\"><hostname>a.test"
	    "</host><port>1</port></incomingServer></emailProvider></clientConfig>",
	    "<clientConfig><emailProvider><incomingServer type=\"imap\"><hostname>a.test"
	    "</hostname><port>1</port></incomingServer></emailProvider>",
	};
	for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
		assert_int_equal(autoconfig_parse(broken[i], strlen(broken[i]), "x.test", a), -1);
		assert_false(a->valid);
		assert_non_null(strstr(a->error, "not well-formed"));
	}
	free(a);
}

static void test_rdata(void **state)
{
	struct dns_rr *rr = calloc(1, sizeof(*rr));
	static const uint8_t mx[] = {0, 10, 4, 'm', 'a', 'i', 'l', 4, 't', 'e', 's', 't', 0};
	static const uint8_t srv_dot[] = {0, 0, 0, 0, 0, 0, 0};
	static const uint8_t ptr[] = {0, 10, 0xc0, 0x00};
	char text[128];

	(void)state;
	assert_non_null(rr);
	assert_int_equal(dns_parse_rdata(DNS_T_MX, mx, sizeof(mx), rr), 0);
	assert_int_equal(rr->u.mx.preference, 10);
	assert_string_equal(rr->u.mx.host, "mail.test");
	dns_rr_text(rr, text, sizeof(text));
	assert_string_equal(text, "10 mail.test.");
	assert_int_equal(dns_parse_rdata(DNS_T_SRV, srv_dot, sizeof(srv_dot), rr), 0);
	assert_string_equal(rr->u.srv.target, "");
	assert_int_equal(dns_parse_rdata(DNS_T_MX, ptr, sizeof(ptr), rr), -1);
	free(rr);
}

static void test_http(void **state)
{
	struct http_response r;
	struct mp_error err;
	static const char chunked[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	                              "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
	static const char big[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789";

	(void)state;
	assert_int_equal(http_parse_response(chunked, strlen(chunked), 100, true, &r, &err), MP_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "hello world");
	http_response_free(&r);
	assert_int_equal(http_parse_response(big, strlen(big), 4, false, &r, &err), MP_OK);
	assert_true(r.truncated);
	assert_int_equal(r.body_len, 4);
	assert_false(r.complete);
	http_response_free(&r);
	/* a server that stalls before Content-Length is reached */
	static const char cut[] = "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n0123456789";
	assert_int_equal(http_parse_response(cut, strlen(cut), 100, false, &r, &err), MP_OK);
	assert_false(r.complete);
	http_response_free(&r);
	static const char whole[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n"
	                            "Content-Type: text/plain; charset=utf-8\r\n\r\n0123456789";
	assert_int_equal(http_parse_response(whole, strlen(whole), 100, false, &r, &err), MP_OK);
	assert_true(r.complete);
	assert_string_equal(r.content_type, "text/plain; charset=utf-8");
	http_response_free(&r);
	assert_int_equal(http_parse_response(chunked, strlen(chunked), 100, true, &r, &err), MP_OK);
	assert_true(r.complete);
	http_response_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mtasts_txt),
	    cmocka_unit_test(test_mtasts_policy),
	    cmocka_unit_test(test_mtasts_policy_strict),
	    cmocka_unit_test(test_tlsrpt),
	    cmocka_unit_test(test_autoconfig),
	    cmocka_unit_test(test_rdata),
	    cmocka_unit_test(test_http),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
