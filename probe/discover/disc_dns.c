/* disc_dns.c - the discovery sources that are DNS records: MX (RFC 5321
 * 5.1, RFC 7505), the MTA-STS record (RFC 8461 3.1), TLS-RPT (RFC 8460 3),
 * the SRV services (RFC 6186, RFC 8314) and, when nothing is published,
 * the guessed names (--guess). */
#include "probe/discover/disc_int.h"
#include "probe/discover/discover.h"
#include "core/net.h"
#include "core/model/options.h"
#include "probe/engine/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The SRV services of RFC 6186 section 3 and RFC 8314 section 5.1, in the
 * order a client prefers them (implicit TLS first). */
static const struct {
	const char *prefix;
	enum protocol proto;
	enum sec_mode mode;
} srv_services[] = {
    {"_submissions._tcp", PROTO_SMTP, MODE_TLS}, {"_submission._tcp", PROTO_SMTP, MODE_STARTTLS},
    {"_imaps._tcp", PROTO_IMAP, MODE_TLS},       {"_imap._tcp", PROTO_IMAP, MODE_STARTTLS},
    {"_pop3s._tcp", PROTO_POP3, MODE_TLS},       {"_pop3._tcp", PROTO_POP3, MODE_STARTTLS},
};
#define NSRV (sizeof(srv_services) / sizeof(srv_services[0]))

/* --guess: the names mail clients try when nothing is published. */
static const char *const guess_prefixes[] = {"mail", "imap", "smtp", "pop", "pop3"};
#define NGUESS (sizeof(guess_prefixes) / sizeof(guess_prefixes[0]))

/* One question at prefix.domain (prefix "" for the domain itself). */
static size_t ask_one(struct disc_ctx *c, struct dns_query *q, size_t room, const char *prefix,
                      uint16_t type)
{
	char name[MP_DNS_MAX_NAME + 32];

	if (room < 1)
		return 0;
	snprintf(name, sizeof(name), "%s%s%s", prefix, prefix[0] ? "." : "", c->d->domain);
	dns_query_init(q, name, type);
	return 1;
}

/* ---- MX ---- */

static size_t mx_ask(struct disc_ctx *c, struct dns_query *q, size_t room)
{
	return ask_one(c, q, room, "", DNS_T_MX);
}

/* MX (RFC 5321 5.1): hosts by preference; null MX (RFC 7505); an MX that
 * is an address. */
static void take_mx(struct discovery *d, const struct dns_query *q)
{
	struct dns_rr *sorted[MP_DNS_MAX_RRS];
	size_t n = 0;

	answer_findings(d, q);
	d->mx_answered = q->status == MP_OK;
	d->mx_security = q->security;
	if (!disc_usable(q)) {
		if (q->status == MP_OK && q->nxdomain && q->security != DNS_SEC_BOGUS) {
			d->nxdomain = true;
			dfind(d, DFIND_NXDOMAIN, "%s does not exist (NXDOMAIN%s)", d->domain,
			      q->security == DNS_SEC_SECURE ? ", DNSSEC-validated" : "");
		}
		return;
	}
	if (q->n == 0) {
		dfind(d, DFIND_NO_MX,
		      "%s publishes no MX record: mail goes to its address "
		      "records, if any (RFC 5321 5.1)",
		      d->domain);
		return;
	}
	for (size_t i = 0; i < q->n && n < MP_DNS_MAX_RRS; i++)
		if (q->rr[i].type == DNS_T_MX)
			sorted[n++] = &q->rr[i];
	/* insertion sort by preference: n is small */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i;
		     j > 0 && sorted[j]->u.mx.preference < sorted[j - 1]->u.mx.preference; j--) {
			struct dns_rr *t = sorted[j];

			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++) {
		const char *host = sorted[i]->u.mx.host;
		char name[128];

		safe_name(host, name, sizeof(name));
		if (!host[0]) {
			/* RFC 7505 3: a single MX with preference 0 and target "." */
			d->null_mx = true;
			d->null_mx_valid = n == 1 && sorted[i]->u.mx.preference == 0;
			if (d->null_mx_valid)
				dfind(d, DFIND_NULL_MX,
				      "%s publishes a null MX (RFC 7505): it "
				      "accepts no mail",
				      d->domain);
			else
				dfind(d, DFIND_NULL_MX,
				      "%s mixes a null MX with other MX records, "
				      "which RFC 7505 3 forbids",
				      d->domain);
			continue;
		}
		if (net_family_name(host) || strspn(host, "0123456789.") == strlen(host)) {
			dfind(d, DFIND_MX_IS_ADDRESS,
			      "the MX %s is an address, not a host name "
			      "(RFC 5321 5.1 expects a name)",
			      name);
			continue;
		}
		if (!probeable_name(host)) {
			dfind(d, DFIND_DNS_FAILED, "the MX %s is not a usable host name", name);
			continue;
		}
		if (d->nmx < MP_DISC_MAX_MX) {
			bool dup = false;

			for (size_t k = 0; k < d->nmx && !dup; k++)
				dup = strcasecmp(d->mx[k], host) == 0;
			if (!dup) {
				d->mx_pref[d->nmx] = sorted[i]->u.mx.preference;
				snprintf(d->mx[d->nmx++], sizeof(d->mx[0]), "%s", host);
			}
		}
	}
	if (n > MP_DISC_MAX_MX)
		dfind(d, DFIND_DNS_LIMIT,
		      "%s has %zu MX records: the first %d by preference are "
		      "probed",
		      d->domain, q->n_total, MP_DISC_MAX_MX);
}
/* The MX hosts, then one SMTP endpoint each on --mx-port. */
static int mx_take(struct disc_ctx *c, const struct dns_query *q, size_t n)
{
	struct discovery *d = c->d;

	if (n < 1)
		return 0;
	take_mx(d, q);
	for (size_t i = 0; i < d->nmx; i++) {
		char rec[160];

		snprintf(rec, sizeof(rec), "MX %.120s", d->mx[i]);
		for (size_t k = 0; k < q->n; k++)
			if (strcasecmp(q->rr[k].u.mx.host, d->mx[i]) == 0) {
				snprintf(rec, sizeof(rec), "%.60s MX ", d->domain);
				dns_rr_text(&q->rr[k], rec + strlen(rec),
				            sizeof(rec) - strlen(rec));
				break;
			}
		if (add_endpoint(&c->l, PROTO_SMTP, MODE_STARTTLS, d->mx[i], c->opt->mx_port, "mx",
		                 rec) != 0)
			return -1;
	}
	return 0;
}

const struct disc_source disc_src_mx = {.name = "mx", .ask = mx_ask, .take = mx_take};

/* ---- MTA-STS record, TLS-RPT ---- */

/* The TXT record of q that begins with version (e.g. "v=STSv1"), else one
 * that begins like it, else NULL; *count of those that begin with it. */
static const struct dns_rr *txt_with(const struct dns_query *q, const char *version, size_t *count)
{
	const struct dns_rr *found = NULL, *near = NULL;
	size_t vl = strlen(version);

	/* RFC 8461 3.1, RFC 8460 3: records that do not begin with the version
	 * (then ";", or white space before it) are discarded; one that begins
	 * like it ("v=STSv10") is kept aside to say why it was not used */
	*count = 0;
	for (size_t i = 0; disc_usable(q) && i < q->n; i++) {
		const struct dns_rr *rr = &q->rr[i];
		const char *t = rr->u.txt.text;

		if (rr->type != DNS_T_TXT || rr->u.txt.len < vl - 2 ||
		    strncmp(t, version, vl - 2) != 0)
			continue;
		if (rr->u.txt.len > vl && strncmp(t, version, vl) == 0 &&
		    (t[vl] == ';' || t[vl] == ' ' || t[vl] == '\t')) {
			(*count)++;
			if (!found)
				found = rr;
		} else if (!near) {
			near = rr;
		}
	}
	return found ? found : near;
}

/* TLS-RPT (RFC 8460 3): the _smtp._tls TXT record. */
static void take_tlsrpt(struct discovery *d, const struct dns_query *q)
{
	size_t count;
	const struct dns_rr *rr = txt_with(q, "v=TLSRPTv1", &count);

	answer_findings(d, q);
	d->tlsrpt.security = q->security;
	if (!rr && d->null_mx_valid)
		return; /* a domain that accepts no mail needs no reports */
	if (!rr) {
		dfind(d, DFIND_TLSRPT,
		      "no TLS-RPT record at _smtp._tls.%s: failures of TLS to "
		      "the MX hosts are not reported to the domain",
		      d->domain);
		return;
	}
	d->tlsrpt.present = true;
	if (count > 1) {
		snprintf(d->tlsrpt.error, sizeof(d->tlsrpt.error),
		         "%zu TLS-RPT records: RFC 8460 3 asks for exactly one", count);
		dfind(d, DFIND_TLSRPT, "%s", d->tlsrpt.error);
		return;
	}
	if (tlsrpt_parse(rr->u.txt.text, rr->u.txt.len, &d->tlsrpt) != 0)
		dfind(d, DFIND_TLSRPT, "the TLS-RPT record is invalid: %s", d->tlsrpt.error);
}

/* MTA-STS TXT (RFC 8461 3.1). */
static void take_mtasts_txt(struct discovery *d, const struct dns_query *q)
{
	size_t count;
	const struct dns_rr *rr = txt_with(q, "v=STSv1", &count);

	answer_findings(d, q);
	d->mtasts.txt_security = q->security;
	if (!rr)
		return;
	d->mtasts.txt_present = true;
	if (count > 1) {
		snprintf(d->mtasts.txt_error, sizeof(d->mtasts.txt_error),
		         "%zu records begin with v=STSv1;: RFC 8461 3.1 treats that as no policy",
		         count);
		return;
	}
	mtasts_parse_txt(rr->u.txt.text, rr->u.txt.len, &d->mtasts);
}

static size_t mtasts_ask(struct disc_ctx *c, struct dns_query *q, size_t room)
{
	return ask_one(c, q, room, "_mta-sts", DNS_T_TXT);
}

static int mtasts_take(struct disc_ctx *c, const struct dns_query *q, size_t n)
{
	if (n > 0)
		take_mtasts_txt(c->d, q);
	return 0;
}

static size_t tlsrpt_ask(struct disc_ctx *c, struct dns_query *q, size_t room)
{
	return ask_one(c, q, room, "_smtp._tls", DNS_T_TXT);
}

static int tlsrpt_take(struct disc_ctx *c, const struct dns_query *q, size_t n)
{
	if (n > 0)
		take_tlsrpt(c->d, q);
	return 0;
}

const struct disc_source disc_src_tlsrpt = {
    .name = "tls-rpt", .ask = tlsrpt_ask, .take = tlsrpt_take};

/* MTA-STS: the record here, the policy fetched in disc_fetch.c. */
const struct disc_source disc_src_mtasts = {
    .name = "mta-sts", .ask = mtasts_ask, .take = mtasts_take, .fetch = disc_fetch_mtasts};

/* ---- SRV ---- */

static size_t srv_ask(struct disc_ctx *c, struct dns_query *q, size_t room)
{
	size_t n = 0;

	for (size_t i = 0; i < NSRV && n < room; i++)
		n += ask_one(c, q + n, room - n, srv_services[i].prefix, DNS_T_SRV);
	return n;
}

static int srv_take(struct disc_ctx *c, const struct dns_query *q, size_t nq)
{
	struct discovery *d = c->d;

	for (size_t s = 0; s < NSRV && s < nq; s++) {
		const struct dns_query *sq = &q[s];

		answer_findings(d, sq);
		if (!disc_usable(sq))
			continue;
		for (size_t i = 0; i < sq->n; i++) {
			const struct dns_rr *rr = &sq->rr[i];
			char rec[160], tname[128];

			snprintf(rec, sizeof(rec), "%.60s SRV ", sq->name);
			dns_rr_text(rr, rec + strlen(rec), sizeof(rec) - strlen(rec));
			safe_name(rr->u.srv.target, tname, sizeof(tname));
			if (!rr->u.srv.target[0]) {
				/* RFC 2782, RFC 6186 3.4: "." means "not offered" */
				dfind(d, DFIND_SRV_NOT_OFFERED,
				      "%s: the target \".\" says the service is not offered",
				      sq->name);
				continue;
			}
			if (!probeable_name(rr->u.srv.target) || rr->u.srv.port == 0) {
				dfind(d, DFIND_DNS_FAILED, "%s names %s port %u: not usable",
				      sq->name, tname, (unsigned)rr->u.srv.port);
				continue;
			}
			if (add_endpoint(&c->l, srv_services[s].proto, srv_services[s].mode,
			                 rr->u.srv.target, rr->u.srv.port, "srv", rec) != 0)
				return -1;
		}
	}
	return 0;
}

const struct disc_source disc_src_srv = {.name = "srv", .ask = srv_ask, .take = srv_take};

/* ---- --guess ---- */

/* --guess: the usual names that resolve, each with the default matrix. */
static int guess(struct disc_ctx *c, struct mp_error *err)
{
	struct discovery *d = c->d;
	const struct run_options *opt = c->opt;
	struct run_options *g = calloc(1, sizeof(*g));
	char names[NGUESS][MP_DNS_MAX_NAME + 8];
	struct endpoint *eps = NULL;
	size_t n = 0;
	int rc = -1;

	if (!g)
		return mp_error_set(err, MP_ERR_INTERNAL, "out of memory"), -1;
	*g = *opt;
	g->ntargets = 0;
	g->auto_mode = false;
	for (size_t i = 0; i < NGUESS; i++) {
		char addr[1][MP_ADDR_TEXT];
		size_t got = 0;
		struct mp_error rerr;

		snprintf(names[i], sizeof(names[i]), "%s.%s", guess_prefixes[i], d->domain);
		if (disc_resolve(c->dr, names[i], opt->probe.family, c->deadline, addr, 1, &got,
		                 &rerr) == MP_OK &&
		    got > 0)
			g->targets[g->ntargets++] = names[i];
	}
	if (g->ntargets == 0) {
		dfind(d, DFIND_GUESSED,
		      "--guess: none of mail., imap., smtp., pop., pop3.%s "
		      "resolves",
		      d->domain);
		rc = 0;
		goto out;
	}
	if (plan_build(g, &eps, &n, err) != 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (add_endpoint(&c->l, eps[i].proto, eps[i].mode, eps[i].host, eps[i].port,
		                 "guess", eps[i].host) != 0) {
			mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
			goto out;
		}
	dfind(d, DFIND_GUESSED,
	      "the domain publishes no mail hosts: %zu guessed names "
	      "resolve and are probed",
	      g->ntargets);
	rc = 0;
out:
	free(eps);
	free(g);
	return rc;
}
static int guess_endpoints(struct disc_ctx *c, struct mp_error *err)
{
	return c->opt->guess ? guess(c, err) : 0;
}

const struct disc_source disc_src_guess = {
    .name = "guess", .endpoints = guess_endpoints, .last_resort = true};
