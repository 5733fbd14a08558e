/* domain_view.c - the domain section of the human reports (domain_view.h). */
#include "reports/domain_view.h"
#include "core/model/domain.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static struct dline *add(struct dline *out, size_t *n, const char *label, enum dline_sev sev,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Appends one line (bounded by MP_DLINES_MAX). */
static struct dline *add(struct dline *out, size_t *n, const char *label, enum dline_sev sev,
                         const char *fmt, ...)
{
	struct dline *l;
	va_list ap;

	if (*n >= MP_DLINES_MAX)
		return NULL;
	l = &out[(*n)++];
	l->label = label;
	l->sev = sev;
	va_start(ap, fmt);
	vsnprintf(l->text, sizeof(l->text), fmt, ap);
	va_end(ap);
	return l;
}

/* "IPv4 1, IPv6 2" (or "no address"). */
static void families(const struct disc_mx_info *mi, char *buf, size_t size)
{
	if (mi->n4 && mi->n6)
		snprintf(buf, size, "IPv4 %u, IPv6 %u", mi->n4, mi->n6);
	else if (mi->n4)
		snprintf(buf, size, "IPv4 %u", mi->n4);
	else if (mi->n6)
		snprintf(buf, size, "IPv6 %u", mi->n6);
	else
		snprintf(buf, size, "no address");
}

/* What DANE says of an MX, in words. */
static const char *dane_words(const char *st)
{
	if (!st)
		return "no answer";
	if (strcmp(st, DANE_STATE_MATCH) == 0)
		return "TLSA matches";
	if (strcmp(st, DANE_STATE_MISMATCH) == 0)
		return "TLSA does NOT match";
	if (strcmp(st, DANE_STATE_NOT_CHECKED) == 0)
		return "TLSA published, no chain seen";
	if (strcmp(st, DANE_STATE_UNUSABLE) == 0)
		return "TLSA unusable for SMTP";
	if (strcmp(st, DANE_STATE_NONE) == 0)
		return "no TLSA (proven)";
	if (strcmp(st, DANE_STATE_INSECURE) == 0)
		return "no DANE (not signed)";
	if (strcmp(st, DANE_STATE_BOGUS) == 0)
		return "TLSA answer BOGUS";
	return "no answer";
}

static void mx_lines(const struct discovery *d, struct dline *out, size_t *n)
{
	for (size_t i = 0; i < d->nmx; i++) {
		const struct disc_mx_info *mi = &d->mx_info[i];
		char fam[64];
		const char *sts = mi->sts_match < 0 ? ""
		                  : mi->sts_match   ? ", MTA-STS: listed"
		                                    : ", MTA-STS: NOT listed";
		enum dline_sev sev = DL_OK;

		families(mi, fam, sizeof(fam));
		if (mi->unusable)
			sev = DL_BAD;
		else if (mi->sts_match == 0 ||
		         (mi->dane && strcmp(mi->dane, DANE_STATE_MISMATCH) == 0) || !mi->answered)
			sev = DL_WARN;
		if (mi->unusable)
			add(out, n, "MX", sev, "%u %s  %s%s%s  UNUSABLE: %s",
			    (unsigned)d->mx_pref[i], d->mx[i], fam,
			    mi->n4 + mi->n6 || mi->bogus ? ", DNSSEC " : "",
			    mi->n4 + mi->n6 || mi->bogus ? dns_security_name(mi->security) : "",
			    mi->why_unusable);
		else
			add(out, n, "MX", sev, "%u %s  %s, DNSSEC %s%s, DANE: %s%s",
			    (unsigned)d->mx_pref[i], d->mx[i], fam, dns_security_name(mi->security),
			    sts, dane_words(mi->dane), mi->answered ? "" : ", does not answer");
	}
}

static void mtasts_line(const struct discovery *d, struct dline *out, size_t *n)
{
	const struct mtasts_state *m = &d->mtasts;

	if (!m->txt_present)
		add(out, n, "MTA-STS", DL_INFO, "not published");
	else if (!m->txt_valid)
		add(out, n, "MTA-STS", DL_WARN, "record invalid: %s", m->txt_error);
	else if (!m->policy_valid)
		add(out, n, "MTA-STS", DL_WARN, "record id %s, policy not usable: %s", m->txt_id,
		    m->policy_error[0] ? m->policy_error : "not fetched");
	else
		add(out, n, "MTA-STS", m->mode == MTASTS_ENFORCE ? DL_OK : DL_INFO,
		    "mode %s, max_age %ld, %zu mx pattern%s%s (id %s)", mtasts_mode_name(m->mode),
		    m->max_age, m->nmx_total, m->nmx_total == 1 ? "" : "s",
		    m->mx_truncated ? ", not all read" : "", m->txt_id);
}

static void tlsrpt_line(const struct discovery *d, struct dline *out, size_t *n)
{
	const struct tlsrpt_state *t = &d->tlsrpt;
	char rua[300] = "";
	size_t o = 0;

	for (size_t i = 0; i < t->nrua && o + 2 < sizeof(rua); i++)
		o += (size_t)snprintf(rua + o, sizeof(rua) - o, "%s%s", i ? ", " : "", t->rua[i]);
	if (!t->present)
		add(out, n, "TLS-RPT", DL_INFO, "not published");
	else if (!t->valid)
		add(out, n, "TLS-RPT", DL_WARN, "invalid: %s", t->error);
	else
		add(out, n, "TLS-RPT", DL_OK, "reports to %s", rua);
}

static void autoconfig_line(const struct discovery *d, struct dline *out, size_t *n)
{
	const struct autoconfig_state *a = &d->autoconfig;

	if (!a->fetched)
		add(out, n, "autoconfig", DL_INFO, "none found%s%s", a->error[0] ? ": " : "",
		    a->error);
	else if (!a->valid)
		add(out, n, "autoconfig", DL_WARN, "%s: %s", a->url, a->error);
	else
		add(out, n, "autoconfig", a->over_plain_http ? DL_WARN : DL_OK,
		    "%s: %zu server%s%s", a->url, a->n, a->n == 1 ? "" : "s",
		    a->over_plain_http ? " (plain HTTP)" : "");
}

size_t domain_lines(const struct run_report *r, struct dline *out)
{
	const struct discovery *d = r->discovery;
	size_t n = 0;
	int in = r->recommended_inbound;

	if (!d)
		return 0;
	if (d->nxdomain) {
		add(out, &n, "domain", DL_BAD, "%s does not exist (NXDOMAIN%s)", d->domain,
		    d->mx_security == DNS_SEC_SECURE ? ", proven by DNSSEC" : "");
		return n;
	}
	add(out, &n, "domain", d->mx_security == DNS_SEC_BOGUS ? DL_BAD : DL_INFO,
	    "%s  (MX answer %s)", d->domain,
	    d->mx_answered ? dns_security_name(d->mx_security) : "missing");
	if (d->null_mx)
		add(out, &n, "MX", d->null_mx_valid ? DL_OK : DL_WARN, "%s",
		    d->null_mx_valid
		        ? "null MX: the domain accepts no mail (RFC 7505)"
		        : "a null MX mixed with other MX records (RFC 7505 3 forbids)");
	else if (d->nmx == 0)
		add(out, &n, "MX", d->mx_security == DNS_SEC_BOGUS ? DL_BAD : DL_WARN, "%s",
		    d->mx_security == DNS_SEC_BOGUS
		        ? "the MX answer failed DNSSEC validation: not used"
		        : "none usable");
	mx_lines(d, out, &n);
	mtasts_line(d, out, &n);
	tlsrpt_line(d, out, &n);
	autoconfig_line(d, out, &n);
	if (in >= 0 && (size_t)in < r->n)
		add(out, &n, "inbound", DL_OK, "deliver to %s port %u (the first MX that works)",
		    r->results[in].ep.host, (unsigned)r->results[in].ep.port);
	else if (d->nmx > 0)
		add(out, &n, "inbound", DL_BAD, "no MX works or may be used");
	for (size_t i = 0; i < d->nfindings; i++) {
		if (strcmp(d->findings[i].code, DFIND_NULL_MX) == 0 && d->null_mx_valid)
			continue;
		add(out, &n, "finding", DL_WARN, "%s", d->findings[i].message);
	}
	return n;
}
