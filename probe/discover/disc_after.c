/* disc_after.c - the findings of a domain that need the probes' results
 * (discover_findings, discover.h). */
#include "probe/discover/disc_int.h"
#include "probe/discover/discover.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- after the run ---- */

static bool answered(const struct probe_result *r)
{
	return r->status == MP_OK || r->greeting != NULL;
}

/* True when the MX host is covered by some pattern of the policy. */
static bool mx_listed(const struct mtasts_state *m, const char *mx)
{
	for (size_t i = 0; i < m->nmx; i++)
		if (mtasts_mx_matches(m->mx[i], mx))
			return true;
	return false;
}

/* Per MX, what the report shows: MTA-STS match, DANE, usable or not
 * (RFC 7672 2.1.1: a bogus TLSA or address answer), answered. */
static void mx_states(struct discovery *d, const struct probe_result *res, size_t n)
{
	for (size_t i = 0; i < d->nmx; i++) {
		struct disc_mx_info *mi = &d->mx_info[i];
		const struct dane_state *ds = NULL;

		for (size_t k = 0; k < d->ndane && !ds; k++)
			if (strcasecmp(d->dane[k].mx, d->mx[i]) == 0)
				ds = &d->dane[k];
		mi->dane = ds && ds->state ? ds->state : DANE_STATE_NO_ANSWER;
		mi->sts_match = !d->mtasts.policy_valid ? -1 : mx_listed(&d->mtasts, d->mx[i]);
		mi->answered = false;
		for (size_t r = 0; r < n; r++)
			if (res[r].ep.discovered_by && strcmp(res[r].ep.discovered_by, "mx") == 0 &&
			    strcasecmp(res[r].ep.host, d->mx[i]) == 0 && answered(&res[r]))
				mi->answered = true;
		mi->unusable = true;
		if (ds && ds->bogus)
			snprintf(mi->why_unusable, sizeof(mi->why_unusable),
			         "its TLSA answer failed DNSSEC validation (RFC 7672 2.1.1)");
		else if (mi->bogus)
			snprintf(mi->why_unusable, sizeof(mi->why_unusable),
			         "its address answer failed DNSSEC validation");
		else if (mi->n4 + mi->n6 == 0)
			snprintf(mi->why_unusable, sizeof(mi->why_unusable), "it has no address");
		else
			mi->unusable = false;
	}
}

void discover_findings(struct discovery *d, struct probe_result *res, size_t n)
{
	const struct mtasts_state *m = &d->mtasts;

	/* A published host none of whose endpoints answered. */
	for (size_t i = 0; i < n; i++) {
		const char *by = res[i].ep.discovered_by;
		bool any = false, first = true;

		if (!by)
			continue;
		for (size_t j = 0; j < n && !any; j++) {
			if (res[j].ep.discovered_by &&
			    strcasecmp(res[j].ep.host, res[i].ep.host) == 0) {
				any = answered(&res[j]);
				if (j < i)
					first = false;
			}
		}
		if (!any && first) {
			char h[128];

			safe_name(res[i].ep.host, h, sizeof(h));
			dfind(d, DFIND_PUBLISHED_DEAD,
			      "%s (published by %s) does not answer on any "
			      "address or port probed",
			      h, by);
		}
	}
	/* An SRV or autoconfig endpoint that fails while another of the same
	 * protocol works. */
	for (size_t i = 0; i < n; i++) {
		const struct probe_result *ok = NULL;
		const char *by = res[i].ep.discovered_by;

		if (!by || res[i].status == MP_OK ||
		    (strcmp(by, "srv") != 0 && strcmp(by, "autoconfig") != 0))
			continue;
		for (size_t j = 0; j < n && !ok; j++)
			if (res[j].ep.discovered_by && res[j].ep.proto == res[i].ep.proto &&
			    res[j].status == MP_OK)
				ok = &res[j];
		if (!ok)
			continue;
		result_add_finding(&res[i], DFIND_PUBLISHED_FAILS,
		                   "%s publishes %s port %u %s, which fails (%s), while %s port %u "
		                   "%s works",
		                   by, protocol_name(res[i].ep.proto), (unsigned)res[i].ep.port,
		                   mode_name(res[i].ep.mode), mp_status_name(res[i].status),
		                   protocol_name(ok->ep.proto), (unsigned)ok->ep.port,
		                   mode_name(ok->ep.mode));
		dfind(d, DFIND_PUBLISHED_FAILS,
		      "%s names %s port %u %s, which fails (%s), while "
		      "port %u %s works",
		      by, protocol_name(res[i].ep.proto), (unsigned)res[i].ep.port,
		      mode_name(res[i].ep.mode), mp_status_name(res[i].status),
		      (unsigned)ok->ep.port, mode_name(ok->ep.mode));
	}
	/* SRV and autoconfig disagree: per protocol, each endpoint one names
	 * must be named by the other. */
	for (size_t i = 0; i < n; i++) {
		const struct endpoint *a = &res[i].ep;
		bool other_has_proto = false, same = false;
		const char *other;

		if (!a->discovered_by || (strcmp(a->discovered_by, "srv") != 0 &&
		                          strcmp(a->discovered_by, "autoconfig") != 0))
			continue;
		other = strcmp(a->discovered_by, "srv") == 0 ? "autoconfig" : "srv";
		for (size_t j = 0; j < n; j++) {
			const struct endpoint *b = &res[j].ep;

			if (!b->discovered_by || strcmp(b->discovered_by, other) != 0 ||
			    b->proto != a->proto)
				continue;
			other_has_proto = true;
			same |= b->port == a->port && b->mode == a->mode &&
			        strcasecmp(b->host, a->host) == 0;
		}
		if (other_has_proto && !same) {
			char h[128];

			safe_name(a->host, h, sizeof(h));
			dfind(d, DFIND_SRV_AUTOCONFIG, "%s names %s %s:%u %s, which %s does not",
			      a->discovered_by, protocol_name(a->proto), h, (unsigned)a->port,
			      mode_name(a->mode), other);
		}
	}
	/* MTA-STS (RFC 8461 4.1, 4.2): every MX matches a pattern, and in
	 * enforce or testing mode presents a certificate valid for its name. */
	if (m->policy_valid) {
		for (size_t i = 0; i < d->nmx; i++)
			if (!mx_listed(m, d->mx[i])) {
				char h[128];

				safe_name(d->mx[i], h, sizeof(h));
				if (m->mx_truncated)
					dfind(
					    d, DFIND_MTASTS,
					    "the MX %s matches none of the first %d mx patterns "
					    "of the MTA-STS policy (it has %zu; the rest were not "
					    "read)",
					    h, MP_MTASTS_MAX_MX, m->nmx_total);
				else
					dfind(d, DFIND_MTASTS,
					      "the MX %s matches no mx pattern of the MTA-STS "
					      "policy: senders that enforce it will not deliver "
					      "there",
					      h);
			}
		for (size_t i = 0; i < n; i++) {
			struct probe_result *r = &res[i];

			if (!r->ep.discovered_by || strcmp(r->ep.discovered_by, "mx") != 0)
				continue;
			if (!mx_listed(m, r->ep.host))
				result_add_finding(r, FINDING_MTASTS_MX_NOT_LISTED,
				                   "this MX matches no mx pattern of the MTA-STS "
				                   "policy (mode %s)",
				                   mtasts_mode_name(m->mode));
			if (m->mode == MTASTS_NONE || r->status != MP_OK)
				continue;
			if (!r->tls.done || !r->tls.verified || !r->tls.hostname_matched)
				result_add_finding(
				    r, FINDING_MTASTS_CERT,
				    "MTA-STS mode %s needs STARTTLS with a certificate "
				    "valid for the MX name (RFC 8461 4.2): %s",
				    mtasts_mode_name(m->mode),
				    !r->tls.done       ? "no TLS"
				    : !r->tls.verified ? "the chain does not verify"
				                       : "the name does not match");
		}
	}
	dane_findings(d, res, n);
	mx_states(d, res, n);
}
