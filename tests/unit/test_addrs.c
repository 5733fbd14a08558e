/* Unit tests: every address of a name (probe/addrs.c): expansion with a
 * scripted resolver, and the findings that compare addresses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "probe/engine/addrs.h"
#include "core/net.h"
#include "core/deadline.h"

static int resolve_calls;

/* dual.test: 127.0.0.1 and ::1 (twice: duplicates go); v4.test: 127.0.0.2;
 * anything else: no such name. */
static enum mp_status fake_resolve(void *arg, const char *host, int family, int64_t deadline,
                                   char (*out)[MP_ADDR_TEXT], size_t max, size_t *n,
                                   struct mp_error *err)
{
	(void)arg;
	(void)deadline;
	resolve_calls++;
	*n = 0;
	if (strcmp(host, "dual.test") == 0) {
		if (family != AF_INET6)
			snprintf(out[(*n)++], MP_ADDR_TEXT, "127.0.0.1");
		if (family != AF_INET && *n < max)
			snprintf(out[(*n)++], MP_ADDR_TEXT, "::1");
		if (family != AF_INET && *n < max)
			snprintf(out[(*n)++], MP_ADDR_TEXT, "::1");
		return MP_OK;
	}
	if (strcmp(host, "v4.test") == 0) {
		snprintf(out[(*n)++], MP_ADDR_TEXT, "127.0.0.2");
		return MP_OK;
	}
	return mp_error_set(err, MP_ERR_DNS, "cannot resolve %s: no such host", host);
}

static const struct addr_resolver resolver = {fake_resolve, NULL};

static struct endpoint *make_eps(const char *const *hosts, size_t n)
{
	struct endpoint *eps = calloc(n, sizeof(*eps));

	assert_non_null(eps);
	for (size_t i = 0; i < n; i++) {
		eps[i].proto = PROTO_SMTP;
		eps[i].mode = MODE_STARTTLS;
		eps[i].port = 25;
		snprintf(eps[i].host, sizeof(eps[i].host), "%s", hosts[i]);
	}
	return eps;
}

static void test_expand_every_address(void **state)
{
	static const char *const hosts[] = {"dual.test", "127.0.0.5", "v4.test", "nx.test",
	                                    "dual.test"};
	struct endpoint *eps = make_eps(hosts, 5);
	size_t n = 5;
	struct mp_error err;

	(void)state;
	resolve_calls = 0;
	assert_int_equal(addrs_expand(&eps, &n, &resolver, AF_UNSPEC, deadline_in(1000), &err), 0);
	/* dual.test twice (2 addresses each), the literal, v4.test, nx.test kept */
	assert_int_equal(n, 7);
	assert_int_equal(resolve_calls, 3); /* each name once */
	assert_string_equal(eps[0].address, "127.0.0.1");
	assert_string_equal(eps[1].address, "::1");
	assert_string_equal(eps[1].host, "dual.test");
	assert_string_equal(eps[2].address, "");
	assert_string_equal(eps[3].address, "127.0.0.2");
	assert_string_equal(eps[4].host, "nx.test");
	assert_string_equal(eps[4].address, "");
	assert_string_equal(eps[6].address, "::1");
	free(eps);
}

static void test_expand_family(void **state)
{
	static const char *const hosts[] = {"dual.test"};
	struct endpoint *eps = make_eps(hosts, 1);
	size_t n = 1;
	struct mp_error err;

	(void)state;
	assert_int_equal(addrs_expand(&eps, &n, &resolver, AF_INET6, deadline_in(1000), &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(eps[0].address, "::1");
	free(eps);
}

static void test_family_name(void **state)
{
	(void)state;
	assert_string_equal(net_family_name("127.0.0.1"), "ipv4");
	assert_string_equal(net_family_name("::1"), "ipv6");
	assert_null(net_family_name("mx.test"));
	assert_null(net_family_name(""));
	assert_null(net_family_name(NULL));
}

static void set_result(struct probe_result *r, const char *addr, enum mp_status st, const char *fp,
                       const char *version)
{
	struct endpoint ep;

	memset(&ep, 0, sizeof(ep));
	ep.proto = PROTO_SMTP;
	ep.mode = MODE_STARTTLS;
	ep.port = 25;
	snprintf(ep.host, sizeof(ep.host), "dual.test");
	snprintf(ep.address, sizeof(ep.address), "%s", addr);
	result_init(r, &ep);
	r->status = st;
	if (fp) {
		r->tls_used = r->tls.done = true;
		r->tls.chain_len = 1;
		snprintf(r->tls.chain[0].fingerprint_sha256,
		         sizeof(r->tls.chain[0].fingerprint_sha256), "%s", fp);
		snprintf(r->tls.version, sizeof(r->tls.version), "%s", version);
	}
}

static void test_unreachable_while_other_works(void **state)
{
	struct probe_result res[2];

	(void)state;
	set_result(&res[0], "127.0.0.1", MP_OK, "aa", "TLSv1.3");
	set_result(&res[1], "::1", MP_ERR_CONNECT_TIMEOUT, NULL, NULL);
	addrs_findings(res, 2);
	assert_false(result_has_finding(&res[0], FINDING_ADDRESS_UNREACHABLE));
	assert_true(result_has_finding(&res[1], FINDING_ADDRESS_UNREACHABLE));
	assert_non_null(strstr(res[1].findings[0].message, "IPv6 address ::1"));
	assert_non_null(strstr(res[1].findings[0].message, "IPv4 address 127.0.0.1 works"));
	result_free(&res[0]);
	result_free(&res[1]);
}

static void test_addresses_differ(void **state)
{
	struct probe_result res[3];

	(void)state;
	set_result(&res[0], "127.0.0.1", MP_OK, "aa", "TLSv1.3");
	set_result(&res[1], "127.0.0.2", MP_OK, "aa", "TLSv1.3");
	set_result(&res[2], "::1", MP_OK, "bb", "TLSv1.2");
	addrs_findings(res, 3);
	assert_false(result_has_finding(&res[0], FINDING_ADDRESSES_DIFFER));
	assert_false(result_has_finding(&res[1], FINDING_ADDRESSES_DIFFER));
	assert_true(result_has_finding(&res[2], FINDING_ADDRESSES_DIFFER));
	assert_non_null(strstr(res[2].findings[0].message, "certificate"));
	assert_non_null(strstr(res[2].findings[0].message, "TLS version (TLSv1.3 and TLSv1.2)"));
	for (int i = 0; i < 3; i++)
		result_free(&res[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_expand_every_address),
	    cmocka_unit_test(test_expand_family),
	    cmocka_unit_test(test_family_name),
	    cmocka_unit_test(test_unreachable_while_other_works),
	    cmocka_unit_test(test_addresses_differ),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
