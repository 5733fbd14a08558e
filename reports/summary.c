/* summary.c - run-level verdicts: the recommended endpoint per protocol and
 * the exit code. */
#include "reports/report.h"
#include "core/model/domain.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Rank of a security mode: implicit TLS first, then STARTTLS, then plain. */
static int mode_rank(enum sec_mode m)
{
	switch (m) {
	case MODE_TLS:
		return 0;
	case MODE_STARTTLS:
		return 1;
	default:
		return 2;
	}
}

/* Rank of a port within a mode. For SMTP the submission ports (587, RFC 6409;
 * 465, RFC 8314 section 3.3) come before relay port 25, then any other port;
 * other protocols do not rank ports. */
static int port_rank(enum protocol p, uint16_t port)
{
	if (p != PROTO_SMTP)
		return 0;
	if (port == 587 || port == 465)
		return 0;
	if (port == 25)
		return 1;
	return 2;
}

/* TLS class: 0 for TLS 1.2 or newer, 1 for a legacy version, 2 for no
 * TLS at all. */
static int tls_rank(const struct probe_result *res)
{
	if (!res->tls_used || !res->tls.done)
		return 2;
	return tlsprobe_version_parse(res->tls.version) >= MP_TLS_V1_2 ? 0 : 1;
}

static bool verified(const struct probe_result *res)
{
	return res->tls_used && res->tls.done && res->tls.verified && res->tls.hostname_matched;
}

/* Preference key of a working result, lower is better: verified
 * certificate with a matching name, then TLS 1.2+ before legacy, then mode
 * (implicit TLS, STARTTLS, plain; submission ports before 25), then direct
 * before proxied. Ties keep the user's order. */
static int pref_key(const struct probe_result *res)
{
	return (verified(res) ? 0 : 1) * 10000 + tls_rank(res) * 1000 +
	       mode_rank(res->ep.mode) * 100 + port_rank(res->ep.proto, res->ep.port) * 10 +
	       (res->ep.proxy ? 1 : 0);
}

/* Why the best was chosen: its qualities. */
static void describe_best(const struct probe_result *res, char *buf, size_t len)
{
	static const char *const mode_desc[MODE_COUNT] = {
	    [MODE_PLAIN] = "plaintext", [MODE_STARTTLS] = "STARTTLS", [MODE_TLS] = "implicit TLS"};
	bool tls = res->tls_used && res->tls.done;

	snprintf(buf, len, "%s, %s%s, %s, %s",
	         verified(res) ? "verified certificate"
	         : tls         ? "certificate not verified"
	                       : "no certificate",
	         tls ? res->tls.version : "no TLS", tls_rank(res) == 1 ? " (legacy)" : "",
	         (unsigned)res->ep.mode < MODE_COUNT ? mode_desc[res->ep.mode] : "?",
	         res->ep.proxy ? "through a proxy" : "direct");
}

/* ...and how many it was chosen from. */
static void describe_count(size_t working, char *buf, size_t len)
{
	size_t used = strlen(buf);

	if (working == 1)
		snprintf(buf + used, len - used, "; the only one that works");
	else
		snprintf(buf + used, len - used, "; best of %zu that work", working);
}

static void describe_choice(const struct probe_result *res, size_t working, char *buf, size_t len)
{
	size_t used;

	describe_best(res, buf, len);
	describe_count(working, buf, len);
	used = strlen(buf);
	/* never a plaintext recommendation that hides a slow TLS one */
	if (result_has_finding(res, FINDING_AUTO_TLS_TIMED_OUT))
		snprintf(buf + used, len - used, "; only because TLS timed out");
}

void report_tally_init(struct run_tally *t)
{
	memset(t, 0, sizeof(*t));
	for (int p = 0; p < PROTO_COUNT; p++)
		t->best[p] = -1;
}

void report_tally_add(struct run_tally *t, const struct probe_result *res)
{
	size_t i = t->total++;
	int p = (int)res->ep.proto, key;

	t->by_status[(unsigned)res->status < MP_STATUS_COUNT ? res->status : MP_ERR_INTERNAL]++;
	if (report_answered(res))
		t->answered++;
	if (res->status != MP_OK || p < 0 || p >= PROTO_COUNT)
		return;
	t->working[p]++;
	key = pref_key(res);
	/* Strictly better only, so ties keep the first. */
	if (t->best[p] < 0 || key < t->best_key[p]) {
		t->best[p] = (long)i;
		t->best_key[p] = key;
		t->best_ep[p] = res->ep;
		describe_best(res, t->best_desc[p], sizeof(t->best_desc[p]));
	}
}

void report_tally_finish(struct run_report *r)
{
	const struct run_tally *t = r->tally;

	r->state = t->answered > 0 ? PSTATE_OK : PSTATE_CRITICAL;
	r->recommended_inbound = -1;
	for (int p = 0; p < PROTO_COUNT; p++) {
		r->recommended[p] = -1;
		r->recommend_reason[p][0] = '\0';
		if (t->best[p] < 0)
			continue;
		snprintf(r->recommend_reason[p], sizeof(r->recommend_reason[p]), "%s",
		         t->best_desc[p]);
		describe_count(t->working[p], r->recommend_reason[p],
		               sizeof(r->recommend_reason[p]));
	}
}

/* An MX found by --discover is where other servers deliver (port 25),
 * not a client's submission setting; an MX whose TLSA answer is bogus must
 * not be used at all (RFC 7672 2.1.1). */
static bool inbound(const struct probe_result *res)
{
	return res->ep.discovered_by && strcmp(res->ep.discovered_by, "mx") == 0;
}

bool report_client_endpoint(const struct probe_result *res)
{
	return !inbound(res);
}

static bool client_setting(const struct probe_result *res)
{
	return !inbound(res) && !result_has_finding(res, FINDING_DANE_BOGUS);
}

/* The inbound recommendation: the first MX (by preference, the order
 * discovery gives) that works and that senders may use. */
static void recommend_inbound(struct run_report *r)
{
	r->recommended_inbound = -1;
	for (size_t i = 0; i < r->n && r->recommended_inbound < 0; i++) {
		const struct probe_result *res = &r->results[i];

		if (inbound(res) && res->status == MP_OK &&
		    !result_has_finding(res, FINDING_DANE_BOGUS))
			r->recommended_inbound = (int)i;
	}
}

void report_recommend(struct run_report *r)
{
	for (int p = 0; p < PROTO_COUNT; p++) {
		int best = -1, best_key = 0;
		size_t working = 0;

		r->recommend_reason[p][0] = '\0';
		for (size_t i = 0; i < r->n; i++) {
			const struct probe_result *res = &r->results[i];
			int key;

			if (res->ep.proto != (enum protocol)p || res->status != MP_OK ||
			    !client_setting(res))
				continue;
			working++;
			key = pref_key(res);
			/* Strictly better only, so ties keep input order. */
			if (best < 0 || key < best_key) {
				best = (int)i;
				best_key = key;
			}
		}
		r->recommended[p] = best;
		if (best >= 0)
			describe_choice(&r->results[best], working, r->recommend_reason[p],
			                sizeof(r->recommend_reason[p]));
	}
	recommend_inbound(r);
}

bool report_answered(const struct probe_result *res)
{
	/* A greeting that carried NUL bytes fails to parse (protocol_error),
	 * but the server did answer. */
	return res->greeting != NULL || res->status == MP_OK ||
	       result_has_finding(res, FINDING_NUL_IN_REPLY);
}

int report_exit_code(const struct run_report *r)
{
	if ((r->opt && r->opt->policy.active) || report_plugin_mode(r))
		return (int)r->state;
	if (r->tally)
		return r->tally->answered > 0 ? MP_EXIT_OK : MP_EXIT_NONE_ANSWERED;
	for (size_t i = 0; i < r->n; i++)
		if (report_answered(&r->results[i]))
			return MP_EXIT_OK;
	/* a null MX and nothing else to probe is a valid configuration (RFC 7505) */
	if (r->discovery && r->discovery->null_mx_valid && r->n == 0)
		return MP_EXIT_OK;
	return MP_EXIT_NONE_ANSWERED;
}

const char *pstate_name(enum pstate s)
{
	switch (s) {
	case PSTATE_OK:
		return "OK";
	case PSTATE_WARNING:
		return "WARNING";
	case PSTATE_CRITICAL:
		return "CRITICAL";
	default:
		return "UNKNOWN";
	}
}
