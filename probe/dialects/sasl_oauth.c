/* sasl_oauth.c - the SASL bearer-token mechanisms: XOAUTH2 (Google,
 * Microsoft) and OAUTHBEARER (RFC 7628), and their JSON error challenges. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/dialects/quote.h"
#include "probe/dialects/sasl.h"
#include "probe/dialects/sasl_int.h"

/* XOAUTH2: "user=" user ^A "auth=Bearer " token ^A ^A. */
void sasl_xoauth2_message(const struct sasl_client *c, struct sasl_buf *b)
{
	sasl_buf_str(b, "user=");
	sasl_buf_str(b, c->user);
	sasl_buf_str(b, "\001auth=Bearer ");
	sasl_buf_str(b, c->token);
	sasl_buf_str(b, "\001\001");
}

/* OAUTHBEARER (RFC 7628 section 3.1): gs2-header ^A [host=.. ^A] [port=.. ^A]
 * "auth=Bearer " token ^A ^A, with the user as the GS2 authzid. */
void sasl_oauthbearer_message(const struct sasl_client *c, struct sasl_buf *b)
{
	char port[16];
	const char *a = c->authzid ? c->authzid : c->user;

	sasl_buf_str(b, "n,");
	if (a) {
		sasl_buf_str(b, "a=");
		sasl_buf_saslname(b, a);
	}
	sasl_buf_str(b, ",\001");
	if (c->host) {
		sasl_buf_str(b, "host=");
		sasl_buf_str(b, c->host);
		sasl_buf_str(b, "\001");
	}
	if (c->port) {
		snprintf(port, sizeof(port), "port=%u\001", (unsigned)c->port);
		sasl_buf_str(b, port);
	}
	sasl_buf_str(b, "auth=Bearer ");
	sasl_buf_str(b, c->token);
	sasl_buf_str(b, "\001\001");
}

/* An OAuth error challenge (RFC 7628 section 3.2.2: a JSON object with
 * "status", "schemes", "scope"; XOAUTH2 the same): recorded, and answered so
 * the server can fail the command: OAUTHBEARER with %x01 (section 3.2.3),
 * XOAUTH2 with an empty response. */
enum mp_status sasl_oauth_error(struct sasl_client *c, const char *text, size_t len, char **resp,
                                struct mp_error *err)
{
	static const char *const keys[] = {"status", "schemes", "scope"};
	unsigned char *msg = NULL;
	size_t mlen = 0, i, o = 0;
	cJSON *json = NULL;
	char sum[SASL_SERVER_ERROR_SIZE];
	char q[DIALECT_QUOTE_SIZE];
	char num[32];
	enum mp_status st;

	st = sasl_decode_challenge(c, text, len, "error challenge", &msg, &mlen, err);
	if (st != MP_OK)
		goto out;
	sum[0] = '\0';
	json = cJSON_ParseWithLength((const char *)msg, mlen);
	for (i = 0; json && cJSON_IsObject(json) && i < sizeof(keys) / sizeof(keys[0]); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(json, keys[i]);
		const char *s = NULL;
		int n;

		if (cJSON_IsString(v) && v->valuestring) {
			s = v->valuestring;
		} else if (cJSON_IsNumber(v)) {
			snprintf(num, sizeof(num), "%.0f", v->valuedouble);
			s = num;
		}
		if (!s)
			continue;
		sasl_quote_server(c, q, sizeof(q), s, strlen(s));
		n = snprintf(sum + o, sizeof(sum) - o, "%s%s \"%s\"", o ? ", " : "", keys[i], q);
		if (n < 0 || (size_t)n >= sizeof(sum) - o)
			break;
		o += (size_t)n;
	}
	if (o == 0) {
		sasl_quote_server(c, q, sizeof(q), (const char *)msg, mlen);
		snprintf(sum, sizeof(sum), "\"%s\"", q);
	}
	sasl_set_server_error(c, "%s", sum);
	st = sasl_fixed_response(c, c->mech == SASL_OAUTHBEARER ? "AQ==" : "", resp, err);
out:
	cJSON_Delete(json);
	free(msg);
	return st;
}
