/* fuzz_domain.c - the parsers of DNS and HTTP text from servers (issue 13):
 * RDATA of MX, SRV, TXT, TLSA, A, AAAA, CNAME (core/dns.c), the MTA-STS
 * record and policy and the TLS-RPT record (probe/mailpolicy.c), the
 * autoconfig XML reader, and an HTTP response (core/http.c).
 *
 * The first byte picks the parser, the rest is its input. Every result must
 * keep what the headers promise: terminated, bounded strings and counts.
 */
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

#include "core/dns.h"
#include "core/http.h"
#include "probe/discover/mailpolicy.h"

static const uint16_t types[] = {DNS_T_A,   DNS_T_AAAA, DNS_T_CNAME, DNS_T_MX,
                                 DNS_T_TXT, DNS_T_SRV,  DNS_T_TLSA};

static void fuzz_rdata(const uint8_t *d, size_t n)
{
	struct dns_rr *rr = calloc(1, sizeof(*rr));
	char text[MP_DNS_MAX_TXT * 4 + 16];

	if (!rr || n < 1)
		goto out;
	if (dns_parse_rdata(types[d[0] % 7], d + 1, n - 1, rr) == 0) {
		dns_rr_text(rr, text, sizeof(text));
		FUZZ_CHECK(strnlen(text, sizeof(text)) < sizeof(text), "text unterminated");
		if (rr->type == DNS_T_TXT)
			FUZZ_CHECK(rr->u.txt.len <= MP_DNS_MAX_TXT, "TXT over its bound");
		if (rr->type == DNS_T_TLSA)
			FUZZ_CHECK(rr->u.tlsa.len <= MP_DNS_MAX_TLSA_DATA, "TLSA over its bound");
		if (rr->type == DNS_T_MX)
			FUZZ_CHECK(strnlen(rr->u.mx.host, MP_DNS_MAX_NAME) < MP_DNS_MAX_NAME,
			           "MX host unterminated");
	}
out:
	free(rr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mtasts_state *m = NULL;
	struct tlsrpt_state t;
	struct autoconfig_state *a = NULL;
	struct http_response resp;
	struct mp_error err;
	const char *body = (const char *)data + 1;
	size_t len = size ? size - 1 : 0;

	if (size < 1 || size > 256 * 1024)
		return 0;
	switch (data[0] % 6) {
	case 0:
		fuzz_rdata(data + 1, len);
		break;
	case 1:
	case 2:
		m = calloc(1, sizeof(*m));
		if (!m)
			break;
		if (data[0] % 6 == 1 && mtasts_parse_txt(body, len, m) == 0) {
			FUZZ_CHECK(m->txt_id[0] && strlen(m->txt_id) <= 32, "bad id");
			/* RFC 8461 3.1: sts-version, then ";" or white space */
			FUZZ_CHECK(len >= 8 && memcmp(body, "v=STSv1", 7) == 0 &&
			               (body[7] == ';' || body[7] == ' ' || body[7] == '\t'),
			           "a valid record that does not begin with v=STSv1");
		}
		if (data[0] % 6 == 2 && mtasts_parse_policy(body, len, m) == 0) {
			FUZZ_CHECK(m->nmx <= MP_MTASTS_MAX_MX, "too many mx");
			FUZZ_CHECK(m->nmx_total >= m->nmx, "mx lines dropped uncounted");
			FUZZ_CHECK(m->mx_truncated == (m->nmx_total > m->nmx), "mx_truncated");
			FUZZ_CHECK(m->max_age >= 0 && m->max_age <= MP_MTASTS_MAX_AGE, "max_age");
			for (size_t i = 0; i < m->nmx; i++)
				mtasts_mx_matches(m->mx[i], "mx.example.test");
		}
		free(m);
		break;
	case 3:
		memset(&t, 0, sizeof(t));
		if (tlsrpt_parse(body, len, &t) == 0)
			FUZZ_CHECK(t.nrua > 0 && t.nrua <= MP_TLSRPT_MAX_RUA, "rua count");
		break;
	case 4:
		a = calloc(1, sizeof(*a));
		if (!a)
			break;
		if (autoconfig_parse(body, len, "example.test", a) == 0)
			for (size_t i = 0; i < a->n; i++)
				FUZZ_CHECK(a->servers[i].port && a->servers[i].hostname[0],
				           "server without port or host");
		FUZZ_CHECK(a->n <= MP_AUTOCONFIG_MAX_SERVERS, "too many servers");
		free(a);
		break;
	default:
		mp_error_clear(&err);
		if (http_parse_response(body, len, 1024, (data[0] & 0x80) != 0, &resp, &err) ==
		    MP_OK) {
			FUZZ_CHECK(resp.body_len <= 1024, "body over its bound");
			FUZZ_CHECK(resp.body && resp.body[resp.body_len] == '\0',
			           "body unterminated");
			http_response_free(&resp);
		}
		break;
	}
	return 0;
}
