/* fuzz_endpoint_url.c - plan_parse_url() and plan_parse_host() (probe/plan.c),
 * which read the targets given on the command line.
 *
 * Input: d[0] picks the size of the host buffer given to plan_parse_host();
 * the rest is the argument. Checks plan.h's contract: 0 exactly when there is
 * no "://", a parsed endpoint has a known protocol and mode, a port, and a
 * host without brackets that plan_parse_host() accepts unchanged.
 */
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

#include "probe/engine/plan.h"

/* Host buffer sizes for plan_parse_host (256 is what struct endpoint has). */
static const size_t host_sizes[] = {1, 2, 8, 16, 64, 256};

/* A host that went through plan_parse_host: bounded, no brackets, and
 * accepted again as it is. */
static void check_host(const char *arg, const char *host, size_t hostsz)
{
	char again[256];
	struct mp_error err;

	FUZZ_CHECK(strnlen(host, hostsz) < hostsz, "host from \"%s\" not terminated", arg);
	FUZZ_CHECK(host[0], "empty host from \"%s\"", arg);
	FUZZ_CHECK(!strchr(host, '[') && !strchr(host, ']'), "host \"%s\" keeps brackets", host);
	mp_error_clear(&err);
	FUZZ_CHECK(plan_parse_host(host, again, sizeof(again), &err) == 0,
	           "host \"%s\" (from \"%s\") is refused when given again: %s", host, arg, err.msg);
	FUZZ_CHECK(strcmp(host, again) == 0, "host \"%s\" became \"%s\"", host, again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct endpoint ep;
	struct mp_error err;
	char *arg = NULL, *host = NULL;
	size_t hostsz;
	int rc;

	if (size < 1 || size > 4096)
		return 0;
	arg = fuzz_strndup(data + 1, size - 1);
	hostsz = host_sizes[data[0] % (sizeof(host_sizes) / sizeof(host_sizes[0]))];

	memset(&ep, 0xa5, sizeof(ep));
	mp_error_clear(&err);
	rc = plan_parse_url(arg, &ep, &err);
	FUZZ_CHECK(rc >= -1 && rc <= 1, "plan_parse_url returned %d", rc);
	FUZZ_CHECK((rc == 0) == (strstr(arg, "://") == NULL), "plan_parse_url(\"%s\") returned %d",
	           arg, rc);
	FUZZ_CHECK(rc != -1 || err.msg[0], "\"%s\" refused without a message", arg);
	if (rc == 1) {
		FUZZ_CHECK((unsigned)ep.proto < PROTO_COUNT && (unsigned)ep.mode < MODE_COUNT,
		           "protocol %d, mode %d", (int)ep.proto, (int)ep.mode);
		FUZZ_CHECK(ep.port != 0, "port 0 from \"%s\"", arg);
		FUZZ_CHECK(ep.proxy == NULL, "a proxy from \"%s\"", arg);
		check_host(arg, ep.host, sizeof(ep.host));
	}

	/* Exactly hostsz bytes, so that ASan sees a write past the buffer. */
	host = malloc(hostsz);
	FUZZ_CHECK(host, "out of memory");
	mp_error_clear(&err);
	rc = plan_parse_host(arg, host, hostsz, &err);
	FUZZ_CHECK(rc == 0 || rc == -1, "plan_parse_host returned %d", rc);
	if (rc == 0)
		check_host(arg, host, hostsz);
	else
		FUZZ_CHECK(err.msg[0], "host \"%s\" refused without a message", arg);
	free(host);
	free(arg);
	return 0;
}
