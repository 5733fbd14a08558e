/* json.c - the JSON report (format documented by reports/schema.json).
 *
 * Every string that may have come from a server (or from the command line)
 * goes through esc_json_dup(), so the output is always valid UTF-8. Proxy
 * passwords are never read here.
 */
#include "reports/report.h"
#include "reports/escape.h"
#include "core/net.h"
#include "core/model/domain.h"

#include <cjson/cJSON.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

/* Building state: cJSON calls fail by returning NULL; the first failure is
 * remembered here and the report is then refused as a whole. */
struct jb {
	bool failed;
};

/* Records a failed cJSON call. */
static cJSON *jb_check(struct jb *b, cJSON *item)
{
	if (!item)
		b->failed = true;
	return item;
}

/* Attaches item to obj under key (frees item on failure). */
static cJSON *jb_put(struct jb *b, cJSON *obj, const char *key, cJSON *item)
{
	if (!item || !obj || !cJSON_AddItemToObject(obj, key, item)) {
		cJSON_Delete(item);
		b->failed = true;
		return NULL;
	}
	return item;
}

/* Appends item to arr (frees item on failure). */
static void jb_push(struct jb *b, cJSON *arr, cJSON *item)
{
	if (!item || !arr || !cJSON_AddItemToArray(arr, item)) {
		cJSON_Delete(item);
		b->failed = true;
	}
}

/* A JSON string of s[0..len) made valid UTF-8; null when s is NULL. */
static cJSON *text_item(const char *s, size_t len)
{
	char *esc = NULL;
	cJSON *item = NULL;

	if (!s)
		return cJSON_CreateNull();
	esc = esc_json_dup(s, len);
	if (!esc)
		return NULL;
	item = cJSON_CreateString(esc);
	free(esc);
	return item;
}

/* key: s as valid UTF-8, or null when s is NULL. */
static void add_str(struct jb *b, cJSON *obj, const char *key, const char *s)
{
	jb_put(b, obj, key, text_item(s, s ? strlen(s) : 0));
}

/* key: s, or null when s is NULL or empty. */
static void add_str_nonempty(struct jb *b, cJSON *obj, const char *key, const char *s)
{
	add_str(b, obj, key, s && *s ? s : NULL);
}

static void add_int(struct jb *b, cJSON *obj, const char *key, int64_t v)
{
	jb_put(b, obj, key, cJSON_CreateNumber((double)v));
}

/* A duration in ms, or null for -1 (stage not reached). */
static void add_ms(struct jb *b, cJSON *obj, const char *key, int64_t v)
{
	jb_put(b, obj, key, v < 0 ? cJSON_CreateNull() : cJSON_CreateNumber((double)v));
}

static void add_bool(struct jb *b, cJSON *obj, const char *key, bool v)
{
	jb_put(b, obj, key, cJSON_CreateBool(v));
}

static void add_null(struct jb *b, cJSON *obj, const char *key)
{
	jb_put(b, obj, key, cJSON_CreateNull());
}

static cJSON *add_obj(struct jb *b, cJSON *obj, const char *key)
{
	return jb_put(b, obj, key, cJSON_CreateObject());
}

static cJSON *add_arr(struct jb *b, cJSON *obj, const char *key)
{
	return jb_put(b, obj, key, cJSON_CreateArray());
}

/* key: the list as an array of strings, or null when !present. */
static void add_strlist(struct jb *b, cJSON *obj, const char *key, const struct strlist *l,
                        bool present)
{
	cJSON *arr = NULL;

	if (!present) {
		add_null(b, obj, key);
		return;
	}
	arr = add_arr(b, obj, key);
	for (size_t i = 0; arr && i < l->n; i++)
		jb_push(b, arr, text_item(l->v[i], strlen(l->v[i])));
}

/* A proxy as {"type","host","port","user"}; the password is left out. */
static cJSON *proxy_item(struct jb *b, const struct proxy_spec *p)
{
	cJSON *o = jb_check(b, cJSON_CreateObject());

	add_str(b, o, "type", proxy_type_name(p->type));
	add_str(b, o, "host", p->host);
	add_int(b, o, "port", p->port);
	add_str(b, o, "user", p->has_user ? p->user : NULL);
	return o;
}

/* "TLSv1.2" for a wire version, NULL for 0 ("any"); buf holds unknown ones. */
static const char *tls_version_label(int v, char *buf, size_t bufsz)
{
	const char *name = tlsprobe_version_name(v);

	if (v == 0)
		return NULL;
	if (name)
		return name;
	snprintf(buf, bufsz, "0x%04x", (unsigned)v);
	return buf;
}

/* "auth" of the options: null without --user; never a password or token,
 * only whether one was given. */
static void add_auth_options(struct jb *b, cJSON *o, const struct run_options *opt)
{
	const struct auth_config *a = &opt->auth;
	cJSON *t = NULL, *arr = NULL;

	if (!a->user) {
		add_null(b, o, "auth");
		return;
	}
	t = add_obj(b, o, "auth");
	add_str(b, t, "user", a->user);
	add_bool(b, t, "password_given", a->password != NULL);
	add_bool(b, t, "token_given", a->token != NULL);
	if (!a->allowed) {
		add_null(b, t, "allowed");
	} else {
		arr = add_arr(b, t, "allowed");
		for (int m = 0; arr && m < AUTH_METHOD_COUNT; m++)
			if (a->allowed & (1u << m))
				jb_push(b, arr, cJSON_CreateString(auth_method_name(m)));
	}
	add_bool(b, t, "allow_plaintext", a->allow_plaintext);
	add_bool(b, t, "insecure", a->insecure);
}

/* The settings of many-target runs, domains and active checks (options
 * "scheduling", "domain" and "checks"). */
static void add_run_options(struct jb *b, cJSON *o, const struct run_options *opt)
{
	cJSON *t = add_obj(b, o, "scheduling");
	cJSON *arr = NULL;
	char shard[32];

	add_int(b, t, "per_host", opt->per_host);
	add_int(b, t, "rate", opt->rate);
	add_int(b, t, "retry", opt->retry);
	if (opt->shard_count > 1) {
		snprintf(shard, sizeof(shard), "%u/%u", opt->shard_index, opt->shard_count);
		add_str(b, t, "shard", shard);
	} else {
		add_null(b, t, "shard");
	}
	add_str(b, t, "targets_file", opt->targets_file);
	add_str(b, t, "family",
	        opt->probe.family == AF_INET    ? "ipv4"
	        : opt->probe.family == AF_INET6 ? "ipv6"
	                                        : NULL);
	if (!opt->discover) {
		add_null(b, o, "domain");
	} else {
		t = add_obj(b, o, "domain");
		add_str(b, t, "discover", opt->discover);
		add_bool(b, t, "guess", opt->guess);
		add_str(b, t, "resolver", opt->resolver);
		add_str(b, t, "trust_anchor", opt->trust_anchor);
		add_int(b, t, "mx_port", opt->mx_port);
		add_int(b, t, "https_port", opt->https_port);
	}
	if (opt->checks.nselected == 0) {
		add_null(b, o, "checks");
		return;
	}
	arr = add_arr(b, o, "checks");
	for (size_t c = 0; arr && c < opt->checks.nselected && c < MP_MAX_CHECKS; c++)
		jb_push(b, arr, cJSON_CreateString(opt->checks.selected[c]));
}

/* The "options" object: the effective settings of the run. */
static void add_options(struct jb *b, cJSON *root, const struct run_options *opt)
{
	cJSON *o = add_obj(b, root, "options");
	cJSON *t = NULL, *arr = NULL;
	char vbuf[16];

	t = add_obj(b, o, "timeouts_ms");
	add_int(b, t, "connect", opt->probe.connect_timeout_ms);
	add_int(b, t, "greeting", opt->probe.greeting_timeout_ms);
	add_int(b, t, "command", opt->probe.command_timeout_ms);
	add_int(b, t, "tls", opt->probe.tls_timeout_ms);
	add_int(b, t, "overall", opt->overall_timeout_ms);
	add_int(b, o, "concurrency", opt->concurrency);

	arr = add_arr(b, o, "targets");
	for (size_t i = 0; arr && i < opt->ntargets && i < MP_MAX_TARGETS; i++)
		jb_push(b, arr, text_item(opt->targets[i], strlen(opt->targets[i])));

	/* protocols: 0 means all of them. */
	arr = add_arr(b, o, "protocols");
	for (int p = 0; arr && p < PROTO_COUNT; p++)
		if (!opt->protocols || (opt->protocols & (1u << p)))
			jb_push(b, arr, cJSON_CreateString(protocol_name((enum protocol)p)));

	/* modes and ports: null means the default matrix (each port with its
	 * usual modes). */
	if (!opt->modes) {
		add_null(b, o, "modes");
	} else {
		arr = add_arr(b, o, "modes");
		for (int m = 0; arr && m < MODE_COUNT; m++)
			if (opt->modes & (1u << m))
				jb_push(b, arr, cJSON_CreateString(mode_name((enum sec_mode)m)));
	}
	if (!opt->nports) {
		add_null(b, o, "ports");
	} else {
		arr = add_arr(b, o, "ports");
		for (size_t i = 0; arr && i < opt->nports && i < MP_MAX_PORTS; i++)
			jb_push(b, arr, cJSON_CreateNumber(opt->ports[i]));
	}
	add_str(b, o, "auto", opt->auto_mode ? protocol_name(opt->auto_proto) : NULL);

	arr = add_arr(b, o, "proxies");
	for (size_t i = 0; arr && i < opt->nproxies && i < MP_MAX_PROXIES; i++)
		jb_push(b, arr, proxy_item(b, &opt->proxies[i]));
	/* Without proxies every probe is direct. */
	add_bool(b, o, "direct", opt->direct || opt->nproxies == 0);

	t = add_obj(b, o, "tls");
	add_str(b, t, "min_version", tls_version_label(opt->tls.min_version, vbuf, sizeof(vbuf)));
	add_str(b, t, "max_version", tls_version_label(opt->tls.max_version, vbuf, sizeof(vbuf)));
	add_str(b, t, "cafile", opt->tls.cafile);
	add_str(b, t, "capath", opt->tls.capath);
	add_bool(b, t, "enumerate", opt->probe.enumerate_tls);

	add_str(b, o, "ehlo", opt->probe.ehlo_name);
	add_str(b, o, "sni", opt->probe.sni);
	add_str(b, o, "source", opt->probe.source_addr);
	add_bool(b, o, "transcript", opt->transcript);
	add_auth_options(b, o, opt);
	add_run_options(b, o, opt);
}

/* One certificate of the peer chain. */
static cJSON *cert_item(struct jb *b, const struct cert_info *c)
{
	cJSON *o = jb_check(b, cJSON_CreateObject());
	cJSON *san = NULL;

	add_str(b, o, "subject", c->subject);
	add_str(b, o, "issuer", c->issuer);
	add_str(b, o, "serial", c->serial);
	san = add_arr(b, o, "san");
	for (size_t i = 0; san && i < c->san.n; i++)
		jb_push(b, san, text_item(c->san.v[i], strlen(c->san.v[i])));
	add_str(b, o, "not_before", c->not_before);
	add_str(b, o, "not_after", c->not_after);
	if (c->not_after)
		add_int(b, o, "days_left", c->days_left);
	else
		add_null(b, o, "days_left");
	add_str(b, o, "key_type", c->key_type);
	if (c->key_bits > 0)
		add_int(b, o, "key_bits", c->key_bits);
	else
		add_null(b, o, "key_bits");
	add_str(b, o, "signature_algorithm", c->sig_alg);
	add_str_nonempty(b, o, "fingerprint_sha256", c->fingerprint_sha256);
	add_bool(b, o, "self_signed", c->self_signed);
	return o;
}

/* "verify_reasons": the names of the TLS_VR_* bits set (tls.h). */
static void add_verify_reasons(struct jb *b, cJSON *o, unsigned reasons)
{
	cJSON *arr = add_arr(b, o, "verify_reasons");

	for (int i = 0; arr && i < TLS_VR_COUNT; i++) {
		const char *name = tls_verify_reason_name(1u << i);

		if ((reasons & (1u << i)) && name)
			jb_push(b, arr, cJSON_CreateString(name));
	}
}

/* "tls_versions" (--enumerate-tls): one object per version tried, oldest
 * first; null when the endpoint was not enumerated. */
static void add_tls_versions(struct jb *b, cJSON *o, const struct probe_result *res)
{
	cJSON *arr = NULL, *item = NULL;

	if (!res->tls_versions_done) {
		add_null(b, o, "tls_versions");
		return;
	}
	arr = add_arr(b, o, "tls_versions");
	for (int i = 0; arr && i < TLSPROBE_NVERSIONS; i++) {
		const struct tls_version_check *c = &res->tls_versions[i];
		const char *name = tlsprobe_version_name(c->version);

		if (!name)
			continue;
		item = jb_check(b, cJSON_CreateObject());
		add_str(b, item, "version", name);
		add_bool(b, item, "accepted", c->accepted);
		add_str_nonempty(
		    b, item, "detail",
		    strnlen(c->detail, sizeof(c->detail)) < sizeof(c->detail) ? c->detail : NULL);
		jb_push(b, arr, item);
	}
}

/* The "tls" object of a result whose handshake completed. */
static cJSON *tls_item(struct jb *b, const struct probe_result *res, const struct run_options *opt)
{
	const struct tls_info *ti = &res->tls;
	cJSON *o = jb_check(b, cJSON_CreateObject());
	cJSON *chain = NULL;
	int len = ti->chain_len < 0              ? 0
	          : ti->chain_len > MP_MAX_CHAIN ? MP_MAX_CHAIN
	                                         : ti->chain_len;

	add_str_nonempty(b, o, "version", ti->version);
	add_str_nonempty(b, o, "cipher", ti->cipher);
	add_str_nonempty(b, o, "group", ti->group);
	/* The name session_start_tls() gives tls_start(): --sni, else the host. */
	add_str(b, o, "sni",
	        ti->sni_sent ? (opt->probe.sni ? opt->probe.sni : res->ep.host) : NULL);
	add_bool(b, o, "verified", ti->verified);
	add_str_nonempty(b, o, "verify_error", ti->verify_error);
	add_bool(b, o, "hostname_matched", ti->hostname_matched);
	add_verify_reasons(b, o, ti->verify_reasons);
	if (len > 0)
		jb_put(b, o, "certificate", cert_item(b, &ti->chain[0]));
	else
		add_null(b, o, "certificate");
	chain = add_arr(b, o, "chain");
	for (int i = 0; chain && i < len; i++)
		jb_push(b, chain, cert_item(b, &ti->chain[i]));
	return o;
}

/* "transcript" and "transcript_truncated" of obj. */
static void add_transcript(struct jb *b, cJSON *obj, const struct transcript *tr)
{
	cJSON *arr = add_arr(b, obj, "transcript");
	cJSON *item = NULL;

	for (size_t i = 0; arr && i < tr->n; i++) {
		const struct transcript_entry *e = &tr->e[i];
		char dir[2] = {e->dir, '\0'};

		item = jb_check(b, cJSON_CreateObject());
		add_str(b, item, "dir", dir);
		add_int(b, item, "at_ms", e->at_ms);
		jb_put(b, item, "text", text_item(e->text ? e->text : "", e->text ? e->len : 0));
		jb_push(b, arr, item);
	}
	add_bool(b, obj, "transcript_truncated", tr->truncated);
}

/* "auth_results" and "auth_unsupported" of a result (only when --user was
 * given): null when the probe did not get far enough to plan logins.
 * Replies and details were made credential-free where they were recorded. */
static void add_logins(struct jb *b, cJSON *o, const struct probe_result *res,
                       const struct run_options *opt)
{
	cJSON *arr = NULL, *item = NULL;

	if (!res->auth_planned) {
		add_null(b, o, "auth_results");
		add_null(b, o, "auth_unsupported");
		return;
	}
	arr = add_arr(b, o, "auth_results");
	for (size_t i = 0; arr && res->auth_results && i < res->nauth; i++) {
		const struct auth_result *a = &res->auth_results[i];

		item = jb_check(b, cJSON_CreateObject());
		add_str(b, item, "mechanism", a->mechanism);
		add_str(b, item, "status", auth_status_name(a->status));
		add_str_nonempty(b, item, "reply", a->reply);
		add_ms(b, item, "time_ms", a->time_ms);
		add_str_nonempty(b, item, "detail", a->detail);
		if (opt->transcript && a->attempt)
			add_transcript(b, item, &a->transcript);
		jb_push(b, arr, item);
	}
	add_strlist(b, o, "auth_unsupported", &res->auth_unsupported, true);
}

/* One element of "results". */
static cJSON *result_item(struct jb *b, const struct probe_result *res,
                          const struct run_options *opt)
{
	cJSON *o = jb_check(b, cJSON_CreateObject());
	cJSON *t = NULL, *arr = NULL, *item = NULL;
	bool tls_up = res->tls_used && res->tls.done;
	bool had_before = res->ep.mode != MODE_TLS;
	const char *error = res->error[0] ? res->error : NULL;

	add_str(b, o, "protocol", protocol_name(res->ep.proto));
	add_str(b, o, "host", res->ep.host);
	add_str_nonempty(b, o, "address", res->address);
	add_str(b, o, "family", net_family_name(res->address));
	if (res->ep.discovered_by) {
		cJSON *by = add_obj(b, o, "discovered_by");

		cJSON *srcs = NULL;

		add_str(b, by, "source", res->ep.discovered_by);
		add_str(b, by, "record", res->ep.discovered_record);
		srcs = add_arr(b, by, "sources");
		jb_push(b, srcs, text_item(res->ep.discovered_by, strlen(res->ep.discovered_by)));
		for (size_t k = 0; srcs && k < 4 && res->ep.discovered_also[k]; k++)
			jb_push(b, srcs,
			        text_item(res->ep.discovered_also[k],
			                  strlen(res->ep.discovered_also[k])));
	} else {
		add_null(b, o, "discovered_by");
	}
	add_int(b, o, "port", res->ep.port);
	add_str(b, o, "mode", mode_name(res->ep.mode));
	if (res->ep.proxy)
		jb_put(b, o, "proxy", proxy_item(b, res->ep.proxy));
	else
		add_null(b, o, "proxy");
	add_str(b, o, "status", mp_status_name(res->status));
	if (!error && res->status != MP_OK)
		error = mp_status_describe(res->status);
	add_str(b, o, "error", error);

	t = add_obj(b, o, "timings_ms");
	add_ms(b, t, "resolve", res->t.resolve);
	add_ms(b, t, "proxy_connect", res->t.proxy_connect);
	add_ms(b, t, "proxy_handshake", res->t.proxy_handshake);
	add_ms(b, t, "connect", res->t.connect);
	add_ms(b, t, "greeting", res->t.greeting);
	add_ms(b, t, "tls", res->t.tls);
	add_ms(b, t, "total", res->t.total);

	add_str(b, o, "greeting", res->greeting);
	add_bool(b, o, "starttls_offered", res->starttls_offered);
	/* Nothing is "before TLS" in implicit TLS mode; nothing is "after TLS"
	 * unless a handshake completed. */
	t = add_obj(b, o, "capabilities");
	add_strlist(b, t, "before_tls", &res->caps_before, had_before);
	add_strlist(b, t, "after_tls", &res->caps_after, tls_up);
	t = add_obj(b, o, "auth_mechanisms");
	add_strlist(b, t, "before_tls", &res->auth_before, had_before);
	add_strlist(b, t, "after_tls", &res->auth_after, tls_up);

	if (tls_up)
		jb_put(b, o, "tls", tls_item(b, res, opt));
	else
		add_null(b, o, "tls");
	add_tls_versions(b, o, res);

	arr = add_arr(b, o, "findings");
	for (size_t i = 0; arr && i < res->nfindings && i < MP_MAX_FINDINGS; i++) {
		item = jb_check(b, cJSON_CreateObject());
		add_str(b, item, "code", res->findings[i].code);
		add_str(b, item, "message", res->findings[i].message);
		jb_push(b, arr, item);
	}

	/* active checks: always present, empty when none ran; evidence was
	 * escaped to printable ASCII where it was recorded */
	arr = add_arr(b, o, "checks");
	for (size_t i = 0; arr && res->checks && i < res->nchecks && i < MP_MAX_CHECKS; i++) {
		const struct check_result *c = &res->checks[i];

		item = jb_check(b, cJSON_CreateObject());
		add_str(b, item, "name", c->name);
		add_str(b, item, "state", check_state_name(c->state));
		jb_put(b, item, "evidence",
		       text_item(c->evidence, strnlen(c->evidence, sizeof(c->evidence))));
		add_str(b, item, "reference", c->reference);
		jb_push(b, arr, item);
	}

	add_int(b, o, "attempts", res->attempts > 0 ? res->attempts : 1);
	if (opt->transcript)
		add_transcript(b, o, &res->transcript);
	if (opt->auth.user)
		add_logins(b, o, res, opt);
	return o;
}

cJSON *report_json_result(const struct probe_result *res, const struct run_options *opt)
{
	static const struct run_options no_options;
	struct jb b = {.failed = false};
	cJSON *o = result_item(&b, res, opt ? opt : &no_options);

	if (b.failed) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* "policy": the effective rules, or null when no policy was given. */
static void add_policy(struct jb *b, cJSON *root, const struct run_options *opt)
{
	const struct policy *p = &opt->policy;
	cJSON *o = NULL, *arr = NULL;

	if (!p->active) {
		add_null(b, root, "policy");
		return;
	}
	o = add_obj(b, root, "policy");
	add_str_nonempty(b, o, "file", p->file);
	add_str(b, o, "expect", p->expect == EXPECT_ANSWER ? "answer" : "ok");
	arr = add_arr(b, o, "optional");
	for (size_t i = 0; arr && i < p->noptional && i < MP_MAX_OPTIONAL; i++)
		jb_push(b, arr, text_item(p->optional[i], strlen(p->optional[i])));
	add_bool(b, o, "require_tls", p->require_tls);
	add_str(b, o, "min_tls", p->min_tls ? tlsprobe_version_name(p->min_tls) : NULL);
	add_bool(b, o, "require_verified", p->require_verified);
	add_bool(b, o, "require_dane", p->require_dane);
	add_bool(b, o, "require_mta_sts", p->require_mta_sts);
	add_bool(b, o, "require_dnssec", p->require_dnssec);
	add_int(b, o, "cert_warn_days", p->cert_warn_days);
	add_int(b, o, "cert_crit_days", p->cert_crit_days);
	add_bool(b, o, "forbid_auth_before_tls", p->forbid_auth_before_tls);
	add_bool(b, o, "forbid_check_failures", p->forbid_check_failures);
	arr = add_arr(b, o, "require_auth");
	for (size_t i = 0; arr && i < p->nrequire_auth && i < MP_MAX_REQUIRE_AUTH; i++)
		jb_push(b, arr, text_item(p->require_auth[i], strlen(p->require_auth[i])));
	add_bool(b, o, "require_login", p->require_login);
	if (p->warn_ms)
		add_int(b, o, "warn_ms", p->warn_ms);
	else
		add_null(b, o, "warn_ms");
	if (p->crit_ms)
		add_int(b, o, "crit_ms", p->crit_ms);
	else
		add_null(b, o, "crit_ms");
}

/* "verdicts": what each rule said of each endpoint (empty without policy). */
static void add_verdicts(struct jb *b, cJSON *root, const struct run_report *r)
{
	cJSON *arr = add_arr(b, root, "verdicts");
	cJSON *item = NULL;

	for (size_t i = 0; arr && r->verdicts && i < r->nverdicts; i++) {
		const struct verdict *v = &r->verdicts[i];

		item = jb_check(b, cJSON_CreateObject());
		add_str(b, item, "rule", v->rule);
		if (v->endpoint >= 0 && (size_t)v->endpoint < r->n)
			add_int(b, item, "endpoint", v->endpoint);
		else
			add_null(b, item, "endpoint");
		add_str(b, item, "state", pstate_name(v->state));
		add_str(b, item, "message", v->message);
		jb_push(b, arr, item);
	}
}

/* "recommended" of the summary: per protocol the endpoint, or null. */
static void add_recommended(struct jb *b, cJSON *s, const struct run_report *r)
{
	cJSON *rec = add_obj(b, s, "recommended");
	cJSON *e = NULL;

	for (int p = 0; p < PROTO_COUNT; p++) {
		const char *name = protocol_name((enum protocol)p);
		const struct endpoint *ep = NULL;
		int idx = r->recommended[p];

		if (r->tally && r->tally->best[p] >= 0) {
			ep = &r->tally->best_ep[p];
			idx = (int)r->tally->best[p];
		} else if (!r->tally && idx >= 0 && (size_t)idx < r->n) {
			ep = &r->results[idx].ep;
		}
		if (!ep) {
			add_null(b, rec, name);
			continue;
		}
		e = add_obj(b, rec, name);
		add_str(b, e, "host", ep->host);
		add_int(b, e, "port", ep->port);
		add_str(b, e, "mode", mode_name(ep->mode));
		if (ep->proxy)
			jb_put(b, e, "proxy", proxy_item(b, ep->proxy));
		else
			add_null(b, e, "proxy");
		add_int(b, e, "endpoint", idx);
		add_str(b, e, "reason", r->recommend_reason[p]);
	}
}

/* The "summary" object: counts and the recommended endpoint per protocol
 * (from r->tally in a streamed run). */
static void add_summary_to(struct jb *b, cJSON *s, const struct run_report *r)
{
	cJSON *by = NULL;
	size_t counts[MP_STATUS_COUNT] = {0}, answered = 0, total = r->n;

	if (r->tally) {
		memcpy(counts, r->tally->by_status, sizeof(counts));
		answered = r->tally->answered;
		total = r->tally->total;
	}
	for (size_t i = 0; !r->tally && i < r->n; i++) {
		if ((unsigned)r->results[i].status < MP_STATUS_COUNT)
			counts[r->results[i].status]++;
		else
			counts[MP_ERR_INTERNAL]++;
		if (report_answered(&r->results[i]))
			answered++;
	}
	add_int(b, s, "total", (int64_t)total);
	add_int(b, s, "answered", (int64_t)answered);
	add_str(b, s, "state", pstate_name(r->state));
	/* Only statuses that occurred. */
	by = add_obj(b, s, "by_status");
	for (int st = 0; st < MP_STATUS_COUNT; st++)
		if (counts[st])
			add_int(b, by, mp_status_name((enum mp_status)st), (int64_t)counts[st]);
	add_recommended(b, s, r);
}

static void add_summary(struct jb *b, cJSON *root, const struct run_report *r)
{
	add_summary_to(b, add_obj(b, root, "summary"), r);
}

cJSON *report_json_summary_line(const struct run_report *r)
{
	struct jb b = {.failed = false};
	cJSON *o = jb_check(&b, cJSON_CreateObject());
	cJSON *tool = NULL;

	add_str(&b, o, "type", "summary");
	add_str(&b, o, "schema_version", MP_SCHEMA_VERSION);
	tool = add_obj(&b, o, "tool");
	add_str(&b, tool, "name", "mailprobe");
	add_str(&b, tool, "version", MP_VERSION);
	add_str(&b, o, "started_at", r->started_at);
	add_int(&b, o, "duration_ms", r->duration_ms < 0 ? 0 : r->duration_ms);
	add_bool(&b, o, "interrupted", r->interrupted);
	add_summary_to(&b, o, r);
	if (b.failed) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* "mx_hosts": each MX with preference, addresses, and what senders may do. */
static void add_mx_hosts(struct jb *b, cJSON *o, const struct discovery *d)
{
	cJSON *arr = add_arr(b, o, "mx_hosts");

	for (size_t i = 0; arr && i < d->nmx; i++) {
		const struct disc_mx_info *mi = &d->mx_info[i];
		cJSON *item = jb_check(b, cJSON_CreateObject());
		bool addr_known = mi->n4 + mi->n6 > 0 || mi->bogus;

		add_str(b, item, "host", d->mx[i]);
		add_int(b, item, "preference", d->mx_pref[i]);
		add_int(b, item, "ipv4", mi->n4);
		add_int(b, item, "ipv6", mi->n6);
		add_str(b, item, "address_security",
		        addr_known ? dns_security_name(mi->security) : NULL);
		add_bool(b, item, "usable", !mi->unusable);
		add_str_nonempty(b, item, "why_unusable", mi->why_unusable);
		if (mi->sts_match < 0)
			add_null(b, item, "mta_sts_match");
		else
			add_bool(b, item, "mta_sts_match", mi->sts_match > 0);
		add_str(b, item, "dane", mi->dane ? mi->dane : DANE_STATE_NO_ANSWER);
		add_bool(b, item, "answered", mi->answered);
		jb_push(b, arr, item);
	}
}

/* "recommended_inbound": the MX other servers deliver to. */
static void add_inbound(struct jb *b, cJSON *o, const struct run_report *r)
{
	cJSON *e = NULL;
	int i = r->recommended_inbound;

	if (i < 0 || (size_t)i >= r->n) {
		add_null(b, o, "recommended_inbound");
		return;
	}
	e = add_obj(b, o, "recommended_inbound");
	add_str(b, e, "host", r->results[i].ep.host);
	add_int(b, e, "port", r->results[i].ep.port);
	add_int(b, e, "endpoint", i);
}

/* "discovery": every DNS question with its answers, what the domain
 * publishes (MX, MTA-STS, TLS-RPT, autoconfig, DANE) and its findings. */
static void add_discovery(struct jb *b, cJSON *root, const struct run_report *r)
{
	const struct discovery *d = r->discovery;
	cJSON *o = add_obj(b, root, "discovery"), *arr, *item, *sub, *list;
	const struct mtasts_state *m = &d->mtasts;
	const struct autoconfig_state *a = &d->autoconfig;
	char text[MP_DNS_MAX_TXT * 4 + 16];

	add_str(b, o, "domain", d->domain);
	add_str_nonempty(b, o, "email", d->email);
	add_int(b, o, "dns_ms", d->dns_ms);
	add_int(b, o, "http_ms", d->http_ms);
	add_bool(b, o, "exists", !d->nxdomain);
	arr = add_arr(b, o, "queries");
	for (size_t i = 0; arr && i < d->nqueries; i++) {
		const struct dns_query *q = &d->queries[i];

		item = jb_check(b, cJSON_CreateObject());
		add_str(b, item, "name", q->name);
		add_str(b, item, "type", dns_type_name(q->type));
		add_int(b, item, "rcode", q->rcode);
		add_bool(b, item, "validated", q->security == DNS_SEC_SECURE);
		add_str(b, item, "security", dns_security_name(q->security));
		add_str_nonempty(b, item, "why_bogus", q->why_bogus);
		add_str_nonempty(b, item, "canonical_name", q->canonname);
		add_str_nonempty(b, item, "error", q->error);
		add_int(b, item, "time_ms", q->time_ms < 0 ? 0 : q->time_ms);
		add_int(b, item, "answers_total", (int64_t)q->n_total);
		list = add_arr(b, item, "answers");
		for (size_t k = 0; list && k < q->n; k++) {
			cJSON *rr = jb_check(b, cJSON_CreateObject());

			dns_rr_text(&q->rr[k], text, sizeof(text));
			add_int(b, rr, "ttl", q->rr[k].ttl);
			add_str(b, rr, "data", text);
			jb_push(b, list, rr);
		}
		jb_push(b, arr, item);
	}
	arr = add_arr(b, o, "mx");
	for (size_t i = 0; arr && i < d->nmx; i++)
		jb_push(b, arr, text_item(d->mx[i], strlen(d->mx[i])));
	add_bool(b, o, "null_mx", d->null_mx);
	add_str(b, o, "mx_security", d->mx_answered ? dns_security_name(d->mx_security) : NULL);
	add_mx_hosts(b, o, d);
	add_inbound(b, o, r);

	sub = add_obj(b, o, "mta_sts");
	add_bool(b, sub, "record_present", m->txt_present);
	add_bool(b, sub, "record_valid", m->txt_valid);
	add_str(b, sub, "record_security", dns_security_name(m->txt_security));
	add_str_nonempty(b, sub, "id", m->txt_id);
	add_str_nonempty(b, sub, "record_error", m->txt_error);
	add_str_nonempty(b, sub, "url", m->url);
	add_int(b, sub, "http_status", m->http_status);
	add_bool(b, sub, "policy_valid", m->policy_valid);
	add_str_nonempty(b, sub, "policy_error", m->policy_error);
	add_str(b, sub, "mode", m->policy_valid ? mtasts_mode_name(m->mode) : NULL);
	add_str_nonempty(b, sub, "content_type", m->content_type);
	add_str_nonempty(b, sub, "repeated_field", m->repeated);
	add_int(b, sub, "mx_total", (int64_t)m->nmx_total);
	list = add_arr(b, sub, "mx");
	for (size_t i = 0; list && i < m->nmx; i++)
		jb_push(b, list, text_item(m->mx[i], strlen(m->mx[i])));
	if (m->policy_valid)
		add_int(b, sub, "max_age", m->max_age);
	else
		add_null(b, sub, "max_age");

	sub = add_obj(b, o, "tls_rpt");
	add_bool(b, sub, "present", d->tlsrpt.present);
	add_bool(b, sub, "valid", d->tlsrpt.valid);
	add_str(b, sub, "security", dns_security_name(d->tlsrpt.security));
	add_str_nonempty(b, sub, "error", d->tlsrpt.error);
	list = add_arr(b, sub, "rua");
	for (size_t i = 0; list && i < d->tlsrpt.nrua; i++)
		jb_push(b, list, text_item(d->tlsrpt.rua[i], strlen(d->tlsrpt.rua[i])));

	sub = add_obj(b, o, "autoconfig");
	add_bool(b, sub, "fetched", a->fetched);
	add_str_nonempty(b, sub, "url", a->url);
	add_bool(b, sub, "over_plain_http", a->over_plain_http);
	add_int(b, sub, "http_status", a->http_status);
	add_bool(b, sub, "valid", a->valid);
	add_str_nonempty(b, sub, "error", a->error);
	list = add_arr(b, sub, "servers");
	for (size_t i = 0; list && i < a->n; i++) {
		const struct autoconfig_server *sv = &a->servers[i];

		item = jb_check(b, cJSON_CreateObject());
		add_str(b, item, "direction", sv->incoming ? "incoming" : "outgoing");
		add_str(b, item, "type", sv->type);
		add_str(b, item, "hostname", sv->hostname);
		add_int(b, item, "port", sv->port);
		add_str(b, item, "socket_type", sv->socket_type);
		add_str(b, item, "authentication", sv->authentication);
		jb_push(b, list, item);
	}

	arr = add_arr(b, o, "dane");
	for (size_t i = 0; arr && i < d->ndane; i++) {
		const struct dane_state *ds = &d->dane[i];

		item = jb_check(b, cJSON_CreateObject());
		add_str(b, item, "mx", ds->mx);
		add_int(b, item, "port", ds->port);
		add_bool(b, item, "bogus", ds->bogus);
		add_str(b, item, "state", ds->state ? ds->state : DANE_STATE_NO_ANSWER);
		add_int(b, item, "records", (int64_t)ds->records);
		add_int(b, item, "unusable_records", (int64_t)ds->unusable);
		add_str(b, item, "security", dns_security_name(ds->security));
		add_bool(b, item, "validated", ds->validated);
		add_bool(b, item, "checked", ds->checked);
		add_bool(b, item, "matched", ds->matched);
		add_str(b, item, "detail", ds->detail);
		jb_push(b, arr, item);
	}
	arr = add_arr(b, o, "findings");
	for (size_t i = 0; arr && i < d->nfindings; i++) {
		item = jb_check(b, cJSON_CreateObject());
		add_str(b, item, "code", d->findings[i].code);
		add_str(b, item, "message", d->findings[i].message);
		jb_push(b, arr, item);
	}
}

int report_write_json(FILE *f, const struct run_report *r)
{
	static const struct run_options no_options;
	const struct run_options *opt = r->opt ? r->opt : &no_options;
	struct jb b = {.failed = false};
	cJSON *root = NULL, *tool = NULL, *arr = NULL;
	char *text = NULL;
	int rc = -1;

	root = jb_check(&b, cJSON_CreateObject());
	add_str(&b, root, "schema_version", MP_SCHEMA_VERSION);
	tool = add_obj(&b, root, "tool");
	add_str(&b, tool, "name", "mailprobe");
	add_str(&b, tool, "version", MP_VERSION);
	add_str(&b, root, "started_at", r->started_at);
	add_int(&b, root, "duration_ms", r->duration_ms < 0 ? 0 : r->duration_ms);
	add_bool(&b, root, "interrupted", r->interrupted);
	add_options(&b, root, opt);
	arr = add_arr(&b, root, "results");
	for (size_t i = 0; arr && i < r->n; i++)
		jb_push(&b, arr, result_item(&b, &r->results[i], opt));
	if (r->discovery)
		add_discovery(&b, root, r);
	add_policy(&b, root, opt);
	add_verdicts(&b, root, r);
	add_summary(&b, root, r);
	if (b.failed)
		goto out;

	text = opt->compact ? cJSON_PrintUnformatted(root) : cJSON_Print(root);
	if (!text)
		goto out;
	if (fputs(text, f) < 0 || fputc('\n', f) == EOF)
		goto out;
	rc = 0;
out:
	cJSON_free(text);
	cJSON_Delete(root);
	return rc;
}
