/* response_injection.c - starttls-response-injection: no connection of its
 * own; the probe's record of plaintext after the STARTTLS go-ahead
 * (FINDING_STARTTLS_INJECTION, which the probe added already). */
#include "probe/engine/checks/check.h"

#include <stdio.h>
#include <string.h>

static void decide(const struct probe_result *res, struct check_result *c)
{
	for (size_t i = 0; i < res->nfindings; i++) {
		if (strcmp(res->findings[i].code, FINDING_STARTTLS_INJECTION) != 0)
			continue;
		c->state = CHECK_FAIL;
		dialect_quote(c->evidence, sizeof(c->evidence), res->findings[i].message,
		              strlen(res->findings[i].message));
		return;
	}
	c->state = CHECK_PASS;
	snprintf(c->evidence, sizeof(c->evidence),
	         "no byte arrived between the STARTTLS go-ahead and the TLS handshake (mailprobe "
	         "discards any)");
}

const struct check_desc check_response_injection = {
    .name = "starttls-response-injection",
    .reference = "RFC 3207 section 4.2 (cf. CVE-2011-0411, the client side)",
    .finding = NULL, /* the probe's own finding is there already */
    .applies = check_needs_starttls,
    .decide = decide,
};
