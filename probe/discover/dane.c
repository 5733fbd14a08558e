/* dane.c - DANE for SMTP (RFC 7672, RFC 6698): the TLSA records of each
 * MX at the port it is probed on, used only when their answer was
 * DNSSEC-validated, matched against the chain each address of that MX
 * presented on STARTTLS. A bogus TLSA answer makes the MX unusable. */
#include "probe/discover/disc_int.h"
#include "probe/discover/discover.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>

/* RFC 7672 3.1.3: only DANE-TA(2) and DANE-EE(3) for SMTP; RFC 6698
 * 2.1.2-2.1.3: selectors 0 (certificate) and 1 (key), types 0-2. */
static bool record_usable(uint8_t usage, uint8_t selector, uint8_t mtype, size_t len)
{
	if ((usage != 2 && usage != 3) || selector > 1 || mtype > 2)
		return false;
	return !((mtype == 1 && len != 32) || (mtype == 2 && len != 64) || (mtype == 0 && !len));
}

/* Keeps a usable record whose comparison value is digest (len bytes). */
static void keep(struct dane_state *ds, uint8_t usage, uint8_t selector, uint8_t mtype,
                 const uint8_t *digest, size_t len)
{
	struct dane_record *r;

	if (ds->nrec >= MP_DANE_MAX_RECORDS)
		return; /* usable, though not kept: the ones kept decide */
	r = &ds->rec[ds->nrec++];
	r->usage = usage;
	r->selector = selector;
	r->mtype = mtype;
	memcpy(r->digest, digest, len);
	r->len = len;
}

bool dane_add_record(struct dane_state *ds, uint8_t usage, uint8_t selector, uint8_t mtype,
                     const uint8_t *data, size_t len)
{
	uint8_t h[64];

	if (!record_usable(usage, selector, mtype, len))
		return false;
	if (mtype == 0) {
		/* an exact match compares the SHA-512 of both sides */
		if (wc_Sha512Hash(data, (word32)len, h) != 0)
			return false;
		keep(ds, usage, selector, mtype, h, sizeof(h));
	} else {
		keep(ds, usage, selector, mtype, data, len);
	}
	return true;
}

void dane_take(struct discovery *d, uint16_t port, const struct dns_query *q)
{
	struct dane_state *ds;
	const char *mx = q->name;

	if (d->ndane >= MP_DISC_MAX_MX)
		return;
	ds = &d->dane[d->ndane++];
	/* the name is _<port>._tcp.<mx> */
	for (int dots = 0; *mx && dots < 2; mx++)
		dots += *mx == '.';
	snprintf(ds->mx, sizeof(ds->mx), "%s", mx);
	ds->port = port;
	ds->security = q->security;
	ds->answered = q->status == MP_OK;
	ds->nxdomain = ds->answered && q->nxdomain;
	ds->bogus = q->security == DNS_SEC_BOGUS;
	ds->validated = q->security == DNS_SEC_SECURE && q->status == MP_OK;
	for (size_t k = 0; disc_usable(q) && k < q->n; k++) {
		const struct dns_rr *rr = &q->rr[k];
		const struct {
			uint8_t usage, selector, mtype;
		} t = {rr->u.tlsa.usage, rr->u.tlsa.selector, rr->u.tlsa.mtype};

		if (rr->type != DNS_T_TLSA)
			continue;
		if (!record_usable(t.usage, t.selector, t.mtype, rr->u.tlsa.full_len)) {
			ds->unusable++;
			continue;
		}
		/* full-certificate data (type 0) of any length: its SHA-512 */
		if (t.mtype == 0)
			keep(ds, t.usage, t.selector, t.mtype, rr->u.tlsa.full_sha512, 64);
		else
			keep(ds, t.usage, t.selector, t.mtype, rr->u.tlsa.data, rr->u.tlsa.len);
		ds->records++;
	}
}

bool dane_cert_matches(const struct dane_record *rec, const struct cert_info *c)
{
	const unsigned char *want = NULL;

	if (rec->mtype == 0)
		want = rec->selector == 0 ? (c->digests_ok ? c->der_sha512 : NULL)
		                          : (c->spki_ok ? c->spki_sha512 : NULL);
	else if (rec->selector == 0 && c->digests_ok)
		want = rec->mtype == 1 ? c->der_sha256 : c->der_sha512;
	else if (rec->selector == 1 && c->spki_ok)
		want = rec->mtype == 1 ? c->spki_sha256 : c->spki_sha512;
	return want && memcmp(want, rec->digest, rec->len) == 0;
}

/* True when chain[0..to] is linked: each certificate's issuer is the
 * subject of the next one up (the chain leads to the matched anchor). */
static bool linked(const struct tls_info *t, int to)
{
	for (int j = 0; j < to; j++) {
		const struct cert_info *a = &t->chain[j], *b = &t->chain[j + 1];

		if (!a->issuer || !b->subject || strcmp(a->issuer, b->subject) != 0)
			return false;
	}
	return true;
}

/* How a chain fared against the records. */
enum dane_match { DM_NONE, DM_EE, DM_TA, DM_TA_UNLINKED, DM_TA_NAME };

/* DANE-EE (3) matches the leaf, whatever its names and dates (RFC 7672
 * 3.1.1); DANE-TA (2) matches a certificate above it, and then the chain
 * must lead from the leaf to that anchor and the leaf must carry the MX
 * name (3.1.2, 3.2.2; RFC 6698 2.1.1). */
static enum dane_match chain_matches(const struct dane_state *ds, const struct tls_info *t)
{
	enum dane_match best = DM_NONE;

	for (size_t k = 0; k < ds->nrec; k++) {
		const struct dane_record *rec = &ds->rec[k];

		if (rec->usage == 3 && t->chain_len > 0 && dane_cert_matches(rec, &t->chain[0]))
			return DM_EE;
		for (int c = 1; rec->usage == 2 && c < t->chain_len && c < MP_MAX_CHAIN; c++) {
			if (!dane_cert_matches(rec, &t->chain[c]))
				continue;
			if (!linked(t, c)) {
				if (best == DM_NONE)
					best = DM_TA_UNLINKED;
			} else if (!t->hostname_matched) {
				if (best == DM_NONE || best == DM_TA_UNLINKED)
					best = DM_TA_NAME;
			} else {
				best = DM_TA;
			}
		}
	}
	return best;
}

/* Per result of one MX: the match, its finding, and the name mismatch a
 * DANE-EE match explains. Returns the match. */
static enum dane_match judge(const struct dane_state *ds, struct probe_result *p)
{
	enum dane_match m = chain_matches(ds, &p->tls);
	const char *who = p->address[0] ? p->address : p->ep.host;

	switch (m) {
	case DM_NONE:
		result_add_finding(p, FINDING_DANE_MISMATCH,
		                   "the chain presented by %s matches none of the %zu validated "
		                   "TLSA records of _%u._tcp.%.100s",
		                   who, ds->records, (unsigned)ds->port, ds->mx);
		break;
	case DM_TA_UNLINKED:
		result_add_finding(p, FINDING_DANE_MISMATCH,
		                   "a DANE-TA record of _%u._tcp.%.100s matches a certificate %s "
		                   "sent, but the chain does not lead from the leaf to it "
		                   "(RFC 7672 3.1.2)",
		                   (unsigned)ds->port, ds->mx, who);
		break;
	case DM_TA_NAME:
		result_add_finding(
		    p, FINDING_DANE_MISMATCH,
		    "the chain of %s leads to a DANE-TA anchor of _%u._tcp.%.100s, "
		    "but the certificate does not carry the MX name (RFC 7672 3.2.2)",
		    who, (unsigned)ds->port, ds->mx);
		break;
	case DM_EE:
		if (!p->tls.hostname_matched || result_has_finding(p, FINDING_CERT_NAME_MISMATCH))
			result_add_finding(p, FINDING_DANE_EE_NAME,
			                   "a DANE-EE record of _%u._tcp.%.100s matches this "
			                   "certificate: DANE senders check neither its names nor "
			                   "its dates (RFC 7672 3.1.1), so the name mismatch does "
			                   "not stop them",
			                   (unsigned)ds->port, ds->mx);
		break;
	case DM_TA:
		break;
	}
	return m;
}

/* The results of MX host mx (SMTP, on the port of its TLSA name). */
static bool of_mx(const struct dane_state *ds, const struct probe_result *p)
{
	return p->ep.proto == PROTO_SMTP && p->ep.port == ds->port && p->ep.discovered_by &&
	       strcmp(p->ep.discovered_by, "mx") == 0 && strcasecmp(p->ep.host, ds->mx) == 0;
}

void dane_findings(struct discovery *d, struct probe_result *res, size_t n)
{
	for (size_t i = 0; i < d->ndane; i++) {
		struct dane_state *ds = &d->dane[i];
		size_t presented = 0, matched = 0;

		ds->ee_matched = 0;
		ds->state = DANE_STATE_NO_ANSWER;
		if (ds->bogus) {
			ds->state = DANE_STATE_BOGUS;
			snprintf(
			    ds->detail, sizeof(ds->detail),
			    "the TLSA answer failed DNSSEC validation: this MX must not be used "
			    "(RFC 7672 2.1.1)");
			for (size_t r = 0; r < n; r++)
				if (of_mx(ds, &res[r]))
					result_add_finding(
					    &res[r], FINDING_DANE_BOGUS,
					    "the TLSA answer for _%u._tcp.%.100s failed "
					    "DNSSEC validation: senders must not deliver "
					    "to this MX (RFC 7672 2.1.1)",
					    (unsigned)ds->port, ds->mx);
			continue;
		}
		if (!ds->answered) {
			snprintf(ds->detail, sizeof(ds->detail), "the TLSA question got no answer");
			continue;
		}
		if (!ds->validated) {
			ds->state = DANE_STATE_INSECURE;
			snprintf(ds->detail, sizeof(ds->detail),
			         "the TLSA answer is not DNSSEC-signed (insecure): DANE does not "
			         "apply (RFC 7672 2.2)");
			continue;
		}
		if (ds->nxdomain || (!ds->records && !ds->unusable)) {
			ds->state = DANE_STATE_NONE;
			snprintf(ds->detail, sizeof(ds->detail),
			         "no TLSA record, and DNSSEC proves it (secure denial of "
			         "existence): DANE does not apply to this MX (RFC 7672 2.2)");
			continue;
		}
		if (!ds->records) {
			ds->state = DANE_STATE_UNUSABLE;
			snprintf(ds->detail, sizeof(ds->detail),
			         "%zu TLSA records, none usable for SMTP (usage 2 or 3, selector 0 "
			         "or 1, matching type 0, 1 or 2): senders fall back to "
			         "unauthenticated TLS (RFC 7672 2.2)",
			         ds->unusable);
			continue;
		}
		for (size_t r = 0; r < n; r++) {
			struct probe_result *p = &res[r];
			enum dane_match m;

			if (!of_mx(ds, p) || !p->tls_used || !p->tls.done || p->tls.chain_len < 1)
				continue;
			presented++;
			m = judge(ds, p);
			matched += m == DM_EE || m == DM_TA;
			ds->ee_matched += m == DM_EE;
		}
		ds->checked = presented > 0;
		ds->matched = presented > 0 && matched == presented;
		ds->state = !presented    ? DANE_STATE_NOT_CHECKED
		            : ds->matched ? DANE_STATE_MATCH
		                          : DANE_STATE_MISMATCH;
		if (!presented)
			snprintf(ds->detail, sizeof(ds->detail),
			         "no address of the MX presented a "
			         "certificate chain to match");
		else
			snprintf(ds->detail, sizeof(ds->detail),
			         "%zu of %zu addresses presented a "
			         "chain that matches a validated TLSA record",
			         matched, presented);
	}
}
