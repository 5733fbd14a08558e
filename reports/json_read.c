/* json_read.c - a JSON result object back into a probe_result. */
#include "reports/json_read.h"
#include "reports/report.h"
#include "core/model/auth.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* The finding codes (static strings, as result.h defines them). */
static const char *const finding_codes[] = {
    FINDING_AUTH_BEFORE_TLS,  FINDING_STARTTLS_INJECTION,  FINDING_EXPECTS_IMPLICIT_TLS,
    FINDING_SPEAKS_PLAINTEXT, FINDING_EHLO_REFUSED,        FINDING_NO_STARTTLS,
    FINDING_PLAINTEXT_ONLY,   FINDING_CERT_UNVERIFIED,     FINDING_CERT_NAME_MISMATCH,
    FINDING_CERT_EXPIRED,     FINDING_CERT_EXPIRING,       FINDING_LOGINDISABLED,
    FINDING_LIMIT_HIT,        FINDING_NUL_IN_REPLY,        FINDING_BARE_LF,
    FINDING_LEGACY_TLS,       FINDING_GREETING_REJECTED,   FINDING_CERT_SELF_SIGNED,
    FINDING_WEAK_KEY,         FINDING_LEGACY_TLS_ACCEPTED, FINDING_STARTTLS_CERT_DIFFERS,
};

static const cJSON *get(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* A string field or NULL (absent, null or not a string). */
static const char *str(const cJSON *o, const char *key)
{
	const cJSON *v = get(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void copy_str(char *dst, size_t sz, const char *src)
{
	snprintf(dst, sz, "%s", src ? src : "");
}

static char *dup_str(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* A whole number field in [lo, hi], else def. */
static long num(const cJSON *o, const char *key, long lo, long hi, long def)
{
	const cJSON *v = get(o, key);

	if (!cJSON_IsNumber(v) || v->valuedouble < (double)lo || v->valuedouble > (double)hi)
		return def;
	return (long)v->valuedouble;
}

static bool flag(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(get(o, key));
}

static void read_list(const cJSON *o, const char *key, struct strlist *l)
{
	const cJSON *arr = get(o, key), *it = NULL;

	cJSON_ArrayForEach(it, arr) if (cJSON_IsString(it)) strlist_add_str(l, it->valuestring);
}

static int enum_of(const char *s, const char *(*name)(int), int count)
{
	for (int i = 0; s && i < count; i++)
		if (strcmp(s, name(i)) == 0)
			return i;
	return -1;
}

static const char *status_name_i(int i)
{
	return mp_status_name((enum mp_status)i);
}

static const char *protocol_name_i(int i)
{
	return protocol_name((enum protocol)i);
}

static const char *mode_name_i(int i)
{
	return mode_name((enum sec_mode)i);
}

static const char *proxy_name_i(int i)
{
	return proxy_type_name((enum proxy_type)i);
}

static const char *auth_status_i(int i)
{
	return auth_status_name((enum auth_status)i);
}

/* The one copy of proxy obj. */
static const struct proxy_spec *intern_proxy(const cJSON *o, struct json_read_proxies *px)
{
	struct proxy_spec p, **v;
	int type = enum_of(str(o, "type"), proxy_name_i, PROXY_HTTP + 1);

	if (type < 0 || !str(o, "host"))
		return NULL;
	memset(&p, 0, sizeof(p));
	p.type = (enum proxy_type)type;
	copy_str(p.host, sizeof(p.host), str(o, "host"));
	p.port = (uint16_t)num(o, "port", 0, 65535, 0);
	p.has_user = str(o, "user") != NULL;
	copy_str(p.user, sizeof(p.user), str(o, "user"));
	for (size_t i = 0; i < px->n; i++)
		if (px->v[i]->type == p.type && px->v[i]->port == p.port &&
		    strcmp(px->v[i]->host, p.host) == 0 && strcmp(px->v[i]->user, p.user) == 0)
			return px->v[i];
	v = realloc(px->v, (px->n + 1) * sizeof(*v));
	if (!v)
		return NULL;
	px->v = v;
	px->v[px->n] = malloc(sizeof(p));
	if (!px->v[px->n])
		return NULL;
	*px->v[px->n] = p;
	return px->v[px->n++];
}

void json_read_proxies_free(struct json_read_proxies *px)
{
	for (size_t i = 0; i < px->n; i++)
		free(px->v[i]);
	free(px->v);
	memset(px, 0, sizeof(*px));
}

static void read_cert(const cJSON *o, struct cert_info *c)
{
	c->subject = dup_str(str(o, "subject"));
	c->issuer = dup_str(str(o, "issuer"));
	c->serial = dup_str(str(o, "serial"));
	read_list(o, "san", &c->san);
	c->not_before = dup_str(str(o, "not_before"));
	c->not_after = dup_str(str(o, "not_after"));
	c->days_left = num(o, "days_left", -1000000, 1000000, 0);
	c->key_type = dup_str(str(o, "key_type"));
	c->key_bits = (int)num(o, "key_bits", 0, 1000000, 0);
	c->sig_alg = dup_str(str(o, "signature_algorithm"));
	copy_str(c->fingerprint_sha256, sizeof(c->fingerprint_sha256),
	         str(o, "fingerprint_sha256"));
	c->self_signed = flag(o, "self_signed");
}

static void read_tls(const cJSON *o, struct probe_result *res)
{
	struct tls_info *t = &res->tls;
	const cJSON *arr = get(o, "chain"), *it = NULL;

	res->tls_used = true;
	t->done = true;
	copy_str(t->version, sizeof(t->version), str(o, "version"));
	copy_str(t->cipher, sizeof(t->cipher), str(o, "cipher"));
	copy_str(t->group, sizeof(t->group), str(o, "group"));
	t->sni_sent = str(o, "sni") != NULL;
	t->verified = flag(o, "verified");
	copy_str(t->verify_error, sizeof(t->verify_error), str(o, "verify_error"));
	t->hostname_matched = flag(o, "hostname_matched");
	cJSON_ArrayForEach(it, get(o, "verify_reasons")) for (int i = 0; cJSON_IsString(it) &&
	                                                                 i < TLS_VR_COUNT;
	                                                      i++)
	{
		const char *name = tls_verify_reason_name(1u << i);

		if (name && strcmp(name, it->valuestring) == 0)
			t->verify_reasons |= 1u << i;
	}
	cJSON_ArrayForEach(it, arr) if (cJSON_IsObject(it) && t->chain_len < MP_MAX_CHAIN)
	    read_cert(it, &t->chain[t->chain_len++]);
}

static void read_tls_versions(const cJSON *arr, struct probe_result *res)
{
	const cJSON *it = NULL;
	int k = 0;

	if (!cJSON_IsArray(arr))
		return;
	res->tls_versions_done = true;
	cJSON_ArrayForEach(it, arr)
	{
		int v = tlsprobe_version_parse(str(it, "version") ? str(it, "version") : "");

		if (v < 0 || k >= TLSPROBE_NVERSIONS)
			continue;
		res->tls_versions[k].version = v;
		res->tls_versions[k].accepted = flag(it, "accepted");
		res->tls_versions[k].conclusive = true;
		copy_str(res->tls_versions[k].detail, sizeof(res->tls_versions[k].detail),
		         str(it, "detail"));
		k++;
	}
}

static int read_logins(const cJSON *o, struct probe_result *res)
{
	const cJSON *arr = get(o, "auth_results"), *it = NULL;
	size_t n = (size_t)cJSON_GetArraySize(arr), k = 0;

	if (!cJSON_IsArray(arr))
		return 0;
	res->auth_planned = true;
	read_list(o, "auth_unsupported", &res->auth_unsupported);
	if (n == 0)
		return 0;
	res->auth_results = calloc(n, sizeof(*res->auth_results));
	if (!res->auth_results)
		return -1;
	cJSON_ArrayForEach(it, arr)
	{
		struct auth_result *a = &res->auth_results[k];
		int m = auth_method_parse(str(it, "mechanism") ? str(it, "mechanism") : "");
		int st = enum_of(str(it, "status"), auth_status_i, AUTH_ST_COUNT);

		if (m < 0 || st < 0 || k >= n)
			continue;
		a->method = m;
		a->mechanism = auth_method_name((enum auth_method)m);
		a->status = (enum auth_status)st;
		a->attempt = a->status == AUTH_ST_OK || a->status == AUTH_ST_REJECTED ||
		             a->status == AUTH_ST_ERROR;
		copy_str(a->reply, sizeof(a->reply), str(it, "reply"));
		copy_str(a->detail, sizeof(a->detail), str(it, "detail"));
		a->time_ms = num(it, "time_ms", 0, INT32_MAX, -1);
		k++;
	}
	res->nauth = k;
	return 0;
}

int report_read_result(const cJSON *o, struct probe_result *res, struct json_read_proxies *px,
                       struct mp_error *err)
{
	struct endpoint ep;
	const cJSON *t = NULL, *it = NULL, *caps = NULL, *auth = NULL;
	int proto = enum_of(str(o, "protocol"), protocol_name_i, PROTO_COUNT);
	int mode = enum_of(str(o, "mode"), mode_name_i, MODE_COUNT);
	int status = enum_of(str(o, "status"), status_name_i, MP_STATUS_COUNT);
	long port = num(o, "port", 0, 65535, -1);

	if (!cJSON_IsObject(o) || proto < 0 || mode < 0 || status < 0 || port < 0 ||
	    !str(o, "host")) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "not a result: protocol, host, port, mode or "
		             "status missing or unknown");
		return -1;
	}
	memset(&ep, 0, sizeof(ep));
	ep.proto = (enum protocol)proto;
	ep.mode = (enum sec_mode)mode;
	ep.port = (uint16_t)port;
	ep.invalid = status == MP_ERR_INVALID_TARGET;
	copy_str(ep.host, sizeof(ep.host), str(o, "host"));
	if (cJSON_IsObject(get(o, "proxy"))) {
		ep.proxy = intern_proxy(get(o, "proxy"), px);
		if (!ep.proxy) {
			mp_error_set(err, MP_ERR_INTERNAL, "a result has a bad proxy");
			return -1;
		}
	}
	result_init(res, &ep);
	res->status = (enum mp_status)status;
	copy_str(res->error, sizeof(res->error), status == MP_OK ? NULL : str(o, "error"));
	copy_str(res->address, sizeof(res->address), str(o, "address"));
	t = get(o, "timings_ms");
	res->t.resolve = num(t, "resolve", 0, INT32_MAX, -1);
	res->t.proxy_connect = num(t, "proxy_connect", 0, INT32_MAX, -1);
	res->t.proxy_handshake = num(t, "proxy_handshake", 0, INT32_MAX, -1);
	res->t.connect = num(t, "connect", 0, INT32_MAX, -1);
	res->t.greeting = num(t, "greeting", 0, INT32_MAX, -1);
	res->t.tls = num(t, "tls", 0, INT32_MAX, -1);
	res->t.total = num(t, "total", 0, INT32_MAX, -1);
	res->greeting = dup_str(str(o, "greeting"));
	res->starttls_offered = flag(o, "starttls_offered");
	caps = get(o, "capabilities");
	auth = get(o, "auth_mechanisms");
	read_list(caps, "before_tls", &res->caps_before);
	read_list(caps, "after_tls", &res->caps_after);
	read_list(auth, "before_tls", &res->auth_before);
	read_list(auth, "after_tls", &res->auth_after);
	if (cJSON_IsObject(get(o, "tls")))
		read_tls(get(o, "tls"), res);
	read_tls_versions(get(o, "tls_versions"), res);
	cJSON_ArrayForEach(it, get(o, "findings"))
	{
		const char *code = str(it, "code");

		for (size_t i = 0; code && i < sizeof(finding_codes) / sizeof(finding_codes[0]);
		     i++)
			if (strcmp(code, finding_codes[i]) == 0)
				result_add_finding(res, finding_codes[i], "%s",
				                   str(it, "message") ? str(it, "message") : "");
	}
	res->attempts = (int)num(o, "attempts", 1, 1000, 1);
	if (read_logins(o, res) != 0) {
		result_free(res);
		mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
		return -1;
	}
	return 0;
}
