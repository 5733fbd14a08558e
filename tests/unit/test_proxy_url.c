/* test_proxy_url.c - proxy URL parsing (core/proxy_url.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/proxy.h"

#define SECRET "s3cr3tpw"

/* Parses url expecting success; prints the parser's message otherwise. */
static struct proxy_spec parse_ok(const char *url)
{
	struct proxy_spec p;
	struct mp_error err;

	mp_error_clear(&err);
	if (proxy_parse_url(url, &p, &err) != 0)
		fail_msg("%s: unexpected error: %s", url, err.msg);
	return p;
}

/* Parses url expecting failure with a message containing want; checks that
 * the secret never leaks into the message and that out is wiped. */
static void parse_bad(const char *url, const char *want)
{
	struct proxy_spec p;
	struct mp_error err;

	mp_error_clear(&err);
	memset(&p, 'x', sizeof(p));
	if (proxy_parse_url(url, &p, &err) == 0)
		fail_msg("%s: accepted, expected an error containing \"%s\"", url, want);
	if (!strstr(err.msg, want))
		fail_msg("%s: message \"%s\" lacks \"%s\"", url, err.msg, want);
	if (strstr(err.msg, SECRET))
		fail_msg("%s: message \"%s\" leaks the password", url, err.msg);
	assert_int_equal(p.pass[0], '\0');
	assert_false(p.has_pass);
}

static void test_schemes_and_default_ports(void **state)
{
	struct {
		const char *url;
		enum proxy_type type;
		uint16_t port;
	} cases[] = {
	    {"socks4://proxy.example", PROXY_SOCKS4, 1080},
	    {"socks4a://proxy.example", PROXY_SOCKS4A, 1080},
	    {"socks5://proxy.example", PROXY_SOCKS5, 1080},
	    {"socks5h://proxy.example", PROXY_SOCKS5H, 1080},
	    {"http://proxy.example", PROXY_HTTP, 3128},
	    {"HTTP://proxy.example/", PROXY_HTTP, 3128},
	    {"SOCKS5H://proxy.example:1", PROXY_SOCKS5H, 1},
	    {"socks5://proxy.example:65535", PROXY_SOCKS5, 65535},
	    {"http://proxy.example:0080/", PROXY_HTTP, 80},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct proxy_spec p = parse_ok(cases[i].url);

		assert_int_equal(p.type, cases[i].type);
		assert_int_equal(p.port, cases[i].port);
		assert_string_equal(p.host, "proxy.example");
		assert_false(p.has_user);
		assert_false(p.has_pass);
		assert_string_equal(p.user, "");
	}
}

static void test_addresses(void **state)
{
	struct proxy_spec p;

	(void)state;
	p = parse_ok("socks5://127.0.0.1:1081");
	assert_string_equal(p.host, "127.0.0.1");
	assert_int_equal(p.port, 1081);
	p = parse_ok("socks5h://[::1]:1082");
	assert_string_equal(p.host, "::1");
	assert_int_equal(p.port, 1082);
	p = parse_ok("http://[2001:db8::1]");
	assert_string_equal(p.host, "2001:db8::1");
	assert_int_equal(p.port, 3128);
	p = parse_ok("socks5://[fe80::1%25eth0]:1080/");
	assert_string_equal(p.host, "fe80::1%eth0");
}

static void test_userinfo(void **state)
{
	struct proxy_spec p;

	(void)state;
	p = parse_ok("socks5://alice:secret@proxy:1080");
	assert_true(p.has_user);
	assert_true(p.has_pass);
	assert_string_equal(p.user, "alice");
	assert_string_equal(p.pass, "secret");
	assert_string_equal(p.host, "proxy");

	/* user without password */
	p = parse_ok("http://bob@proxy");
	assert_true(p.has_user);
	assert_false(p.has_pass);
	assert_string_equal(p.user, "bob");
	assert_string_equal(p.pass, "");

	/* empty password is a password */
	p = parse_ok("http://bob:@proxy");
	assert_true(p.has_pass);
	assert_string_equal(p.pass, "");

	/* percent-decoding in both fields */
	p = parse_ok("socks5h://al%40ice%3a:p%3Ass%2F%25w%20@[::1]:9");
	assert_string_equal(p.user, "al@ice:");
	assert_string_equal(p.pass, "p:ss/%w ");
	assert_string_equal(p.host, "::1");
	assert_int_equal(p.port, 9);

	/* the last '@' ends the user info */
	p = parse_ok("socks5://u:p@ss@proxy");
	assert_string_equal(p.user, "u");
	assert_string_equal(p.pass, "p@ss");
	assert_string_equal(p.host, "proxy");

	/* SOCKS4 takes a user id */
	p = parse_ok("socks4://ident@proxy");
	assert_string_equal(p.user, "ident");
}

static void test_length_limits(void **state)
{
	char url[2048];
	char name[300];
	struct proxy_spec p;

	(void)state;
	memset(name, 'u', 255);
	name[255] = '\0';
	snprintf(url, sizeof(url), "socks5://%s:pw@proxy", name);
	p = parse_ok(url);
	assert_int_equal(strlen(p.user), 255);

	name[255] = 'u';
	name[256] = '\0';
	snprintf(url, sizeof(url), "socks5://%s:" SECRET "@proxy", name);
	parse_bad(url, "user name is longer than 255 bytes");
	snprintf(url, sizeof(url), "socks4a://%s@proxy", name);
	parse_bad(url, "longer than 255 bytes");

	/* the limit counts decoded bytes: 255 x "%41" is 255 bytes */
	url[0] = '\0';
	strncat(url, "socks5://u:", sizeof(url) - 1);
	for (int i = 0; i < 255; i++)
		strncat(url, "%41", sizeof(url) - strlen(url) - 1);
	strncat(url, "@proxy", sizeof(url) - strlen(url) - 1);
	p = parse_ok(url);
	assert_int_equal(strlen(p.pass), 255);
	assert_int_equal(p.pass[254], 'A');

	memset(name, 'p', 256);
	name[256] = '\0';
	snprintf(url, sizeof(url), "socks5://u:%s@proxy", name);
	parse_bad(url, "password is longer than 255 bytes");

	memset(name, 'h', 256);
	name[256] = '\0';
	snprintf(url, sizeof(url), "socks5://%s", name);
	parse_bad(url, "host name is longer than 255 bytes");
}

static void test_bad_urls(void **state)
{
	struct {
		const char *url;
		const char *want;
	} cases[] = {
	    {"", "empty proxy URL"},
	    {"proxy.example:1080", "no scheme"},
	    {"https://proxy.example", "unknown proxy scheme \"https\""},
	    {"ftp://proxy.example", "socks4://, socks4a://, socks5://, socks5h:// or http://"},
	    {"u:" SECRET "://proxy", "no valid scheme"},
	    {"socks5://", "no host"},
	    {"socks5:///", "no host"},
	    {"socks5://:1080", "no host"},
	    {"socks5://alice:" SECRET "@", "no host"},
	    {"socks5://alice:" SECRET "@:1080", "no host"},
	    {"socks5://@proxy", "empty proxy user name"},
	    {"socks5://:" SECRET "@proxy", "empty proxy user name"},
	    {"socks5://proxy:0", "from 1 to 65535"},
	    {"socks5://proxy:65536", "from 1 to 65535"},
	    {"socks5://proxy:99999999999999999999", "from 1 to 65535"},
	    {"socks5://proxy:abc", "number from 1 to 65535"},
	    {"socks5://proxy:-1", "number from 1 to 65535"},
	    {"socks5://proxy:+80", "number from 1 to 65535"},
	    {"socks5://proxy: 80", "number from 1 to 65535"},
	    {"socks5://proxy:", "empty proxy port"},
	    {"socks5://proxy:1080/path", "path, query or fragment"},
	    {"socks5://proxy/?", "path, query or fragment"},
	    {"socks5://proxy#frag", "path, query or fragment"},
	    {"socks5://alice:" SECRET "@proxy:1080/x", "path, query or fragment"},
	    {"socks5://alice:" SECRET "%4@proxy",
	     "malformed percent-encoding in the proxy password"},
	    {"socks5://alice:" SECRET "%zz@proxy", "malformed percent-encoding"},
	    {"socks5://al%g1ce:" SECRET "@proxy", "malformed percent-encoding in the proxy user"},
	    {"socks5://alice:" SECRET "%@proxy", "malformed percent-encoding"},
	    {"socks5://alice:" SECRET "%00@proxy", "NUL"},
	    {"socks5://al%00ice@proxy", "NUL"},
	    {"socks5://[::1", "'[' without ']'"},
	    {"socks5://[::1]x", "unexpected text after ']'"},
	    {"socks5://[proxy.example]:1080", "not an IPv6 address"},
	    {"socks5://[]:1080", "not an IPv6 address"},
	    {"socks5://[fe80::1%eth0]", "%25zone"},
	    {"socks5://::1:1080", "brackets"},
	    {"socks5://pro xy", "invalid byte 0x20"},
	    {"socks5://pro!xy", "invalid character '!'"},
	    {"socks5://pro\x01xy", "invalid byte 0x01"},
	    {"socks4://alice:" SECRET "@proxy", "no password"},
	    {"socks4a://alice:" SECRET "@proxy", "no password"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		parse_bad(cases[i].url, cases[i].want);
}

static void test_type_names(void **state)
{
	(void)state;
	assert_string_equal(proxy_type_name(PROXY_SOCKS4), "socks4");
	assert_string_equal(proxy_type_name(PROXY_SOCKS4A), "socks4a");
	assert_string_equal(proxy_type_name(PROXY_SOCKS5), "socks5");
	assert_string_equal(proxy_type_name(PROXY_SOCKS5H), "socks5h");
	assert_string_equal(proxy_type_name(PROXY_HTTP), "http");
	assert_string_equal(proxy_type_name(PROXY_TYPE_COUNT), "unknown");
	assert_false(proxy_resolves_remotely(PROXY_SOCKS4));
	assert_true(proxy_resolves_remotely(PROXY_SOCKS4A));
	assert_false(proxy_resolves_remotely(PROXY_SOCKS5));
	assert_true(proxy_resolves_remotely(PROXY_SOCKS5H));
	assert_true(proxy_resolves_remotely(PROXY_HTTP));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_schemes_and_default_ports),
	    cmocka_unit_test(test_addresses),
	    cmocka_unit_test(test_userinfo),
	    cmocka_unit_test(test_length_limits),
	    cmocka_unit_test(test_bad_urls),
	    cmocka_unit_test(test_type_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
