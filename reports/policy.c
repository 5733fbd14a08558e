/* policy.c - the policy rules turned into verdicts: a pure function of the
 * results and the options. Never probes, never prints. */
#include "reports/report.h"
#include "core/model/domain.h"

#include <stdio.h>

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Most verdicts one endpoint can get (one per rule). */
#define RULES_PER_ENDPOINT 10

struct eval {
	struct run_report *r;
	const struct policy *p;
	size_t cap;
};

/* Adds a verdict; optional endpoints never go past WARNING. */
static void verdict(struct eval *e, const char *rule, int endpoint, bool optional, enum pstate st,
                    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void verdict(struct eval *e, const char *rule, int endpoint, bool optional, enum pstate st,
                    const char *fmt, ...)
{
	struct verdict *v = NULL;
	size_t used;
	va_list ap;

	if (e->r->nverdicts >= e->cap)
		return;
	v = &e->r->verdicts[e->r->nverdicts++];
	v->rule = rule;
	v->endpoint = endpoint;
	v->state = st;
	va_start(ap, fmt);
	vsnprintf(v->message, sizeof(v->message), fmt, ap);
	va_end(ap);
	if (optional && st == PSTATE_CRITICAL) {
		v->state = PSTATE_WARNING;
		used = strlen(v->message);
		snprintf(v->message + used, sizeof(v->message) - used, " (optional endpoint)");
	}
	if (v->state > e->r->state)
		e->r->state = v->state;
}

/* True when res is one of the --optional endpoint URLs (any path). */
static bool is_optional(const struct policy *p, const struct probe_result *res)
{
	for (size_t i = 0; i < p->noptional; i++) {
		const struct policy_endpoint *ep = &p->optional_ep[i];

		if (ep->proto == res->ep.proto && ep->mode == res->ep.mode &&
		    ep->port == res->ep.port && strcasecmp(ep->host, res->ep.host) == 0)
			return true;
	}
	return false;
}

/* The result's error, or its status's description. */
static const char *error_of(const struct probe_result *res)
{
	return res->error[0] ? res->error : mp_status_describe(res->status);
}

static bool tls_up(const struct probe_result *res)
{
	return res->tls_used && res->tls.done;
}

static void rule_expect(struct eval *e, int i, bool opt)
{
	const struct probe_result *res = &e->r->results[i];

	/* a plaintext recommendation made because TLS was slow */
	if (res->status == MP_OK && result_has_finding(res, FINDING_AUTO_TLS_TIMED_OUT)) {
		verdict(e, RULE_EXPECT, i, opt, PSTATE_WARNING,
		        "ended ok in plaintext, but auto mode chose it only because a TLS "
		        "candidate before it timed out twice");
		return;
	}
	if (e->p->expect == EXPECT_ANSWER) {
		if (report_answered(res))
			verdict(e, RULE_EXPECT, i, opt, PSTATE_OK, "answered (status %s)",
			        mp_status_name(res->status));
		else
			verdict(e, RULE_EXPECT, i, opt, PSTATE_CRITICAL, "did not answer: %s: %s",
			        mp_status_name(res->status), error_of(res));
		return;
	}
	if (res->status == MP_OK)
		verdict(e, RULE_EXPECT, i, opt, PSTATE_OK, "ended ok");
	else
		verdict(e, RULE_EXPECT, i, opt, PSTATE_CRITICAL, "did not end ok: %s: %s",
		        mp_status_name(res->status), error_of(res));
}

static void rule_require_tls(struct eval *e, int i, bool opt)
{
	const struct probe_result *res = &e->r->results[i];

	if (!e->p->require_tls || !report_answered(res))
		return;
	if (tls_up(res))
		verdict(e, RULE_REQUIRE_TLS, i, opt, PSTATE_OK, "reached %s", res->tls.version);
	else if (res->ep.mode == MODE_PLAIN)
		verdict(e, RULE_REQUIRE_TLS, i, opt, PSTATE_CRITICAL,
		        "answered in plaintext and never reached TLS");
	else
		verdict(e, RULE_REQUIRE_TLS, i, opt, PSTATE_CRITICAL,
		        "answered but never reached TLS: %s", error_of(res));
}

static void rule_min_tls(struct eval *e, int i, bool opt)
{
	const struct probe_result *res = &e->r->results[i];
	const char *min = tlsprobe_version_name(e->p->min_tls);
	char older[64] = "";
	int v;

	if (!e->p->min_tls || (!tls_up(res) && !res->tls_versions_done))
		return;
	for (int k = 0; res->tls_versions_done && k < TLSPROBE_NVERSIONS; k++) {
		const struct tls_version_check *c = &res->tls_versions[k];
		size_t used = strlen(older);

		if (c->accepted && c->version < e->p->min_tls && tlsprobe_version_name(c->version))
			snprintf(older + used, sizeof(older) - used, "%s%s", used ? ", " : "",
			         tlsprobe_version_name(c->version));
	}
	v = tls_up(res) ? tlsprobe_version_parse(res->tls.version) : -1;
	if (v > 0 && v < e->p->min_tls)
		verdict(e, RULE_MIN_TLS, i, opt, PSTATE_CRITICAL,
		        "negotiated %s, below the "
		        "minimum %s",
		        res->tls.version, min);
	else if (older[0])
		verdict(e, RULE_MIN_TLS, i, opt, PSTATE_WARNING,
		        "accepts %s, below the minimum %s "
		        "(--enumerate-tls)",
		        older, min);
	else if (v > 0)
		verdict(e, RULE_MIN_TLS, i, opt, PSTATE_OK, "negotiated %s (minimum %s)",
		        res->tls.version, min);
}

static void rule_require_verified(struct eval *e, int i, bool opt)
{
	const struct probe_result *res = &e->r->results[i];

	if (!e->p->require_verified || !tls_up(res))
		return;
	if (!res->tls.verified)
		verdict(e, RULE_REQUIRE_VERIFIED, i, opt, PSTATE_CRITICAL,
		        "certificate chain not verified: %s",
		        res->tls.verify_error[0] ? res->tls.verify_error : "no reason given");
	else if (!res->tls.hostname_matched)
		verdict(e, RULE_REQUIRE_VERIFIED, i, opt, PSTATE_CRITICAL,
		        "certificate does not match the name %s",
		        e->r->opt && e->r->opt->probe.sni ? e->r->opt->probe.sni : res->ep.host);
	else
		verdict(e, RULE_REQUIRE_VERIFIED, i, opt, PSTATE_OK,
		        "certificate verified and matches the name");
}

static void rule_cert_expiry(struct eval *e, int i, bool opt)
{
	const struct probe_result *res = &e->r->results[i];
	const struct cert_info *c = &res->tls.chain[0];

	if (!tls_up(res) || res->tls.chain_len < 1 || !c->not_after)
		return;
	if (c->days_left < 0)
		verdict(e, RULE_CERT_EXPIRY, i, opt, PSTATE_CRITICAL,
		        "certificate expired %ld days ago (%s)", -c->days_left, c->not_after);
	else if (c->days_left < e->p->cert_crit_days)
		verdict(e, RULE_CERT_EXPIRY, i, opt, PSTATE_CRITICAL,
		        "certificate expires in %ld days (%s), within %d", c->days_left,
		        c->not_after, e->p->cert_crit_days);
	else if (c->days_left < e->p->cert_warn_days)
		verdict(e, RULE_CERT_EXPIRY, i, opt, PSTATE_WARNING,
		        "certificate expires in %ld days (%s), within %d", c->days_left,
		        c->not_after, e->p->cert_warn_days);
	else
		verdict(e, RULE_CERT_EXPIRY, i, opt, PSTATE_OK,
		        "certificate valid for %ld more "
		        "days (%s)",
		        c->days_left, c->not_after);
}

/* Appends word to a space-separated list in buf. */
static void add_word(char *buf, size_t size, const char *word)
{
	size_t used = strlen(buf);

	if (used < size)
		snprintf(buf + used, size - used, "%s%s", used ? " " : "", word);
}

static void rule_auth_before_tls(struct eval *e, int i, bool opt)
{
	const struct probe_result *res = &e->r->results[i];
	char secret[160] = "", other[160] = "";

	if (!e->p->forbid_auth_before_tls || res->ep.mode == MODE_TLS || !report_answered(res))
		return;
	for (size_t k = 0; k < res->auth_before.n; k++)
		add_word(auth_name_sends_secret(res->auth_before.v[k]) ? secret : other,
		         sizeof(secret), res->auth_before.v[k]);
	/* RFC 9051 6.2.3: IMAP LOGIN works unless LOGINDISABLED is advertised */
	if (res->ep.proto == PROTO_IMAP && res->caps_before.n > 0 &&
	    !strlist_has(&res->caps_before, "LOGINDISABLED"))
		add_word(secret, sizeof(secret), "IMAP-LOGIN");
	if (secret[0])
		verdict(e, RULE_FORBID_AUTH_BEFORE_TLS, i, opt, PSTATE_CRITICAL,
		        "password-sending authentication offered before TLS: %s", secret);
	else if (other[0])
		verdict(e, RULE_FORBID_AUTH_BEFORE_TLS, i, opt, PSTATE_WARNING,
		        "challenge-response authentication offered before TLS: %s", other);
	else
		verdict(e, RULE_FORBID_AUTH_BEFORE_TLS, i, opt, PSTATE_OK,
		        "no authentication offered before TLS");
}

/* An active check (checks.h) that failed is CRITICAL; endpoints without
 * checks get no verdict. */
static void rule_check_failures(struct eval *e, int i, bool opt)
{
	const struct probe_result *res = &e->r->results[i];
	char failed[200] = "";
	size_t ran = 0;

	if (!e->p->forbid_check_failures || !res->checks)
		return;
	for (size_t k = 0; k < res->nchecks; k++) {
		if (res->checks[k].state == CHECK_FAIL)
			add_word(failed, sizeof(failed), res->checks[k].name);
		if (res->checks[k].state != CHECK_SKIPPED)
			ran++;
	}
	if (failed[0])
		verdict(e, RULE_FORBID_CHECK_FAILURES, i, opt, PSTATE_CRITICAL, "checks failed: %s",
		        failed);
	else
		verdict(e, RULE_FORBID_CHECK_FAILURES, i, opt, PSTATE_OK,
		        "no check failed (%zu ran)", ran);
}

static void rule_require_auth(struct eval *e, int i, bool opt)
{
	const struct probe_result *res = &e->r->results[i];
	char missing[200] = "";

	if (!e->p->nrequire_auth || !report_answered(res))
		return;
	for (size_t k = 0; k < e->p->nrequire_auth; k++)
		if (!tls_up(res) || !strlist_has(&res->auth_after, e->p->require_auth[k]))
			add_word(missing, sizeof(missing), e->p->require_auth[k]);
	if (!tls_up(res))
		verdict(e, RULE_REQUIRE_AUTH, i, opt, PSTATE_CRITICAL,
		        "never reached TLS, so %s is not offered after TLS", missing);
	else if (missing[0])
		verdict(e, RULE_REQUIRE_AUTH, i, opt, PSTATE_CRITICAL, "not offered after TLS: %s",
		        missing);
	else
		verdict(e, RULE_REQUIRE_AUTH, i, opt, PSTATE_OK,
		        "every required mechanism is offered after TLS");
}

static void rule_require_login(struct eval *e, int i, bool opt)
{
	const struct probe_result *res = &e->r->results[i];
	char ok[120] = "", rejected[120] = "";

	if (!e->p->require_login || !res->auth_planned)
		return;
	for (size_t k = 0; res->auth_results && k < res->nauth; k++) {
		const struct auth_result *a = &res->auth_results[k];

		if (a->status == AUTH_ST_OK)
			add_word(ok, sizeof(ok), a->mechanism);
		else if (a->status == AUTH_ST_REJECTED)
			add_word(rejected, sizeof(rejected), a->mechanism);
	}
	if (!ok[0])
		verdict(e, RULE_REQUIRE_LOGIN, i, opt, PSTATE_CRITICAL,
		        "no mechanism logged in%s%s", rejected[0] ? "; rejected: " : "", rejected);
	else if (rejected[0])
		verdict(e, RULE_REQUIRE_LOGIN, i, opt, PSTATE_WARNING,
		        "logged in with %s, but rejected: %s", ok, rejected);
	else
		verdict(e, RULE_REQUIRE_LOGIN, i, opt, PSTATE_OK, "logged in with %s", ok);
}

static void rule_time(struct eval *e, int i, bool opt)
{
	const struct probe_result *res = &e->r->results[i];
	int64_t t = res->t.total;

	if ((!e->p->warn_ms && !e->p->crit_ms) || t < 0)
		return;
	if (e->p->crit_ms && t > e->p->crit_ms)
		verdict(e, RULE_TIME, i, opt, PSTATE_CRITICAL, "took %lld ms, above %d ms",
		        (long long)t, e->p->crit_ms);
	else if (e->p->warn_ms && t > e->p->warn_ms)
		verdict(e, RULE_TIME, i, opt, PSTATE_WARNING, "took %lld ms, above %d ms",
		        (long long)t, e->p->warn_ms);
	else
		verdict(e, RULE_TIME, i, opt, PSTATE_OK, "took %lld ms", (long long)t);
}

/* ---- the domain (--discover): RFC 7672, RFC 8461, DNSSEC ---- */

/* The first answer that matters and failed DNSSEC validation, described
 * in buf; false when none did. */
static bool domain_bogus(const struct discovery *d, char *buf, size_t size)
{
	if (d->mx_answered && d->mx_security == DNS_SEC_BOGUS)
		return snprintf(buf, size, "the MX answer of %.120s", d->domain), true;
	for (size_t i = 0; i < d->nmx; i++)
		if (d->mx_info[i].bogus)
			return snprintf(buf, size, "the addresses of the MX %.120s", d->mx[i]),
			       true;
	for (size_t i = 0; i < d->ndane; i++)
		if (d->dane[i].bogus)
			return snprintf(buf, size, "the TLSA answer of _%u._tcp.%.120s",
			                (unsigned)d->dane[i].port, d->dane[i].mx),
			       true;
	if (d->mtasts.txt_security == DNS_SEC_BOGUS)
		return snprintf(buf, size, "the MTA-STS record of %.120s", d->domain), true;
	if (d->tlsrpt.security == DNS_SEC_BOGUS)
		return snprintf(buf, size, "the TLS-RPT record of %.120s", d->domain), true;
	return false;
}

/* The first answer that matters (MX, MX addresses, TLSA) not validated. */
static bool domain_unsigned(const struct discovery *d, char *buf, size_t size)
{
	if (d->mx_security != DNS_SEC_SECURE)
		return snprintf(buf, size, "the MX answer of %.120s is %s", d->domain,
		                dns_security_name(d->mx_security)),
		       true;
	for (size_t i = 0; i < d->nmx; i++)
		if (d->mx_info[i].security != DNS_SEC_SECURE)
			return snprintf(buf, size, "the addresses of the MX %.120s are %s",
			                d->mx[i], dns_security_name(d->mx_info[i].security)),
			       true;
	for (size_t i = 0; i < d->ndane; i++)
		if (d->dane[i].security != DNS_SEC_SECURE)
			return snprintf(buf, size, "the TLSA answer of _%u._tcp.%.120s is %s",
			                (unsigned)d->dane[i].port, d->dane[i].mx,
			                dns_security_name(d->dane[i].security)),
			       true;
	return false;
}

/* The domain's verdicts (endpoint -1): a bogus answer that matters is
 * CRITICAL under any policy; the domain must exist; then --require-dnssec,
 * --require-dane, --require-mta-sts. */
static void rule_domain(struct eval *e)
{
	const struct discovery *d = e->r->discovery;
	const struct mtasts_state *m = NULL;
	char what[MP_MAX_ERROR];
	size_t bad = 0;

	if (!d) {
		if (e->p->require_dane || e->p->require_mta_sts || e->p->require_dnssec)
			verdict(e, RULE_DOMAIN, -1, false, PSTATE_UNKNOWN,
			        "--require-dane, --require-mta-sts and --require-dnssec judge a "
			        "domain: they need --discover");
		return;
	}
	m = &d->mtasts;
	if (domain_bogus(d, what, sizeof(what)))
		verdict(e, RULE_DNSSEC_BOGUS, -1, false, PSTATE_CRITICAL,
		        "%s failed DNSSEC validation: senders must not use it", what);
	if (d->nxdomain)
		verdict(e, RULE_DOMAIN, -1, false, PSTATE_CRITICAL, "%s does not exist (NXDOMAIN)",
		        d->domain);
	else if (d->null_mx_valid && d->nmx == 0)
		verdict(e, RULE_DOMAIN, -1, false, PSTATE_OK,
		        "%s publishes a null MX: it accepts no mail (RFC 7505)", d->domain);
	if (e->p->require_dnssec) {
		if (domain_unsigned(d, what, sizeof(what)))
			verdict(e, RULE_REQUIRE_DNSSEC, -1, false, PSTATE_CRITICAL, "%s", what);
		else
			verdict(e, RULE_REQUIRE_DNSSEC, -1, false, PSTATE_OK,
			        "the MX, address and TLSA answers are DNSSEC-validated");
	}
	if (e->p->require_dane) {
		for (size_t i = 0; i < d->nmx; i++) {
			const char *st = d->mx_info[i].dane;

			if (st && strcmp(st, DANE_STATE_MATCH) == 0)
				continue;
			if (bad++ == 0)
				verdict(
				    e, RULE_REQUIRE_DANE, -1, false, PSTATE_CRITICAL,
				    "the MX %s has no usable TLSA set its chain matches (DANE: %s)",
				    d->mx[i], st ? st : DANE_STATE_NO_ANSWER);
		}
		if (d->nmx == 0)
			verdict(e, RULE_REQUIRE_DANE, -1, false, PSTATE_CRITICAL,
			        "%s has no MX host to check", d->domain);
		else if (!bad)
			verdict(e, RULE_REQUIRE_DANE, -1, false, PSTATE_OK,
			        "every MX matches its DNSSEC-validated TLSA records");
	}
	if (e->p->require_mta_sts) {
		bad = 0;
		for (size_t i = 0; m->policy_valid && i < d->nmx; i++)
			if (d->mx_info[i].sts_match != 1 && bad++ == 0)
				verdict(e, RULE_REQUIRE_MTA_STS, -1, false, PSTATE_CRITICAL,
				        "the MX %s matches no mx pattern of the MTA-STS policy",
				        d->mx[i]);
		if (!m->policy_valid)
			verdict(e, RULE_REQUIRE_MTA_STS, -1, false, PSTATE_CRITICAL,
			        "no valid MTA-STS policy%s%s",
			        m->policy_error[0] ? ": "
			        : m->txt_error[0]  ? ": "
			                           : "",
			        m->policy_error[0] ? m->policy_error : m->txt_error);
		else if (m->mode != MTASTS_ENFORCE)
			verdict(e, RULE_REQUIRE_MTA_STS, -1, false, PSTATE_CRITICAL,
			        "the MTA-STS policy is in mode %s, not enforce",
			        mtasts_mode_name(m->mode));
		else if (!bad)
			verdict(e, RULE_REQUIRE_MTA_STS, -1, false, PSTATE_OK,
			        "MTA-STS enforce, every MX matches the policy");
	}
}

/* True when result i is judged: every probed endpoint, or in --auto mode
 * only the recommended one. */
static bool judged(const struct run_report *r, size_t i)
{
	const struct run_options *opt = r->opt;

	if (r->results[i].status == MP_ERR_SKIPPED)
		return false;
	if (opt && opt->auto_mode)
		return r->recommended[opt->auto_proto] == (int)i;
	return true;
}

/* True when some endpoint answered (the verdict without a policy). */
static bool any_answered(const struct run_report *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (report_answered(&r->results[i]))
			return true;
	return false;
}

/* True when --discover found a null MX and nothing to probe: a valid
 * configuration (RFC 7505), not a failure. */
static bool null_mx_only(const struct run_report *r)
{
	return r->discovery && r->discovery->null_mx_valid && r->n == 0;
}

/* --format nagios without a policy: a monitoring plugin's thresholds still
 * apply (Monitoring Plugins Development Guidelines), so the state is the
 * worst of "something answered" and each certificate's expiry against
 * --cert-warn-days and the default critical threshold. */
static int evaluate_plugin(struct run_report *r, struct eval *e)
{
	r->state = any_answered(r) || null_mx_only(r) ? PSTATE_OK : PSTATE_CRITICAL;
	e->cap = r->n + 1;
	r->verdicts = calloc(e->cap, sizeof(*r->verdicts));
	if (!r->verdicts) {
		r->state = PSTATE_UNKNOWN;
		return -1;
	}
	for (size_t i = 0; i < r->n; i++)
		if (judged(r, i))
			rule_cert_expiry(e, (int)i, false);
	return 0;
}

bool report_plugin_mode(const struct run_report *r)
{
	return r->opt && !r->opt->policy.active && r->opt->format == FORMAT_NAGIOS;
}

int report_evaluate(struct run_report *r)
{
	const struct policy *p = r->opt ? &r->opt->policy : NULL;
	struct eval e = {.r = r, .p = p};

	r->verdicts = NULL;
	r->nverdicts = 0;
	if (report_plugin_mode(r))
		return evaluate_plugin(r, &e);
	if (!p || !p->active) {
		r->state = any_answered(r) || null_mx_only(r) ? PSTATE_OK : PSTATE_CRITICAL;
		return 0;
	}
	r->state = PSTATE_OK;
	e.cap = r->n * RULES_PER_ENDPOINT + 8;
	r->verdicts = calloc(e.cap, sizeof(*r->verdicts));
	if (!r->verdicts) {
		r->state = PSTATE_UNKNOWN;
		return -1;
	}
	if (r->opt->auto_mode && r->recommended[r->opt->auto_proto] < 0)
		verdict(&e, RULE_EXPECT, -1, false, PSTATE_CRITICAL,
		        "--auto %s: no combination worked", protocol_name(r->opt->auto_proto));
	for (size_t i = 0; i < r->n; i++) {
		bool opt = false;

		if (!judged(r, i))
			continue;
		opt = is_optional(p, &r->results[i]);
		rule_expect(&e, (int)i, opt);
		rule_require_tls(&e, (int)i, opt);
		rule_min_tls(&e, (int)i, opt);
		rule_require_verified(&e, (int)i, opt);
		rule_cert_expiry(&e, (int)i, opt);
		rule_auth_before_tls(&e, (int)i, opt);
		rule_check_failures(&e, (int)i, opt);
		rule_require_auth(&e, (int)i, opt);
		rule_require_login(&e, (int)i, opt);
		rule_time(&e, (int)i, opt);
	}
	rule_domain(&e);
	if (r->interrupted)
		verdict(&e, RULE_EXPECT, -1, false, PSTATE_UNKNOWN,
		        "the run was interrupted before every endpoint was probed");
	return 0;
}

void report_free(struct run_report *r)
{
	free(r->verdicts);
	r->verdicts = NULL;
	r->nverdicts = 0;
}
