/* fuzz_proxy_url.c - proxy_parse_url() (core/proxy_url.c).
 *
 * Each input is parsed twice: as it is, and as the authority after
 * "socks5://alice:<password>@" where the password holds a marker, to check
 * that no error message ever shows the password. A parsed URL must hold what
 * proxy.h promises: a known type, a non-empty host without brackets, a port,
 * and user and password bounded as RFC 1929 requires.
 */
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

#include "core/proxy.h"

#define PW_MARK "Zq8S3CR3Tpw"

/* Checks the outcome of one parse. */
static void check_parse(const char *url, int rc, const struct proxy_spec *p,
                        const struct mp_error *err)
{
	FUZZ_CHECK(rc == 0 || rc == -1, "proxy_parse_url returned %d", rc);
	if (rc != 0) {
		FUZZ_CHECK(err->msg[0], "\"%s\" refused without a message", url);
		FUZZ_CHECK(strnlen(err->msg, sizeof(err->msg)) < sizeof(err->msg),
		           "message not terminated");
		return;
	}
	FUZZ_CHECK((unsigned)p->type < PROXY_TYPE_COUNT, "type %d", (int)p->type);
	FUZZ_CHECK(p->host[0] && strnlen(p->host, sizeof(p->host)) < sizeof(p->host),
	           "empty or unterminated host from \"%s\"", url);
	FUZZ_CHECK(!strchr(p->host, '[') && !strchr(p->host, ']'), "host \"%s\" keeps its brackets",
	           p->host);
	FUZZ_CHECK(p->port != 0, "port 0 from \"%s\"", url);
	FUZZ_CHECK(strnlen(p->user, sizeof(p->user)) <= MP_MAX_PROXY_USER, "user too long");
	FUZZ_CHECK(strnlen(p->pass, sizeof(p->pass)) <= MP_MAX_PROXY_PASS, "password too long");
	FUZZ_CHECK(p->has_user || !p->has_pass, "a password without a user");
	FUZZ_CHECK(p->has_user || !p->user[0], "user \"%s\" without has_user", p->user);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char prefix[] = "socks5://alice:" PW_MARK "@";
	struct proxy_spec p;
	struct mp_error err;
	char *url = NULL, *wrapped = NULL;
	int rc;

	if (size > 4096)
		return 0;
	url = fuzz_strndup(data, size);
	memset(&p, 0, sizeof(p));
	mp_error_clear(&err);
	rc = proxy_parse_url(url, &p, &err);
	check_parse(url, rc, &p, &err);

	wrapped = malloc(sizeof(prefix) + size);
	FUZZ_CHECK(wrapped, "out of memory");
	memcpy(wrapped, prefix, sizeof(prefix) - 1);
	memcpy(wrapped + sizeof(prefix) - 1, url, size + 1);
	memset(&p, 0, sizeof(p));
	mp_error_clear(&err);
	rc = proxy_parse_url(wrapped, &p, &err);
	check_parse(wrapped, rc, &p, &err);
	FUZZ_CHECK(!strstr(err.msg, PW_MARK) || memmem(data, size, "S3CR3T", 6),
	           "message shows the password: \"%s\"", err.msg);
	free(wrapped);
	free(url);
	return 0;
}
