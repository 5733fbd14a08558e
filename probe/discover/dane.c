/* dane.c - DANE for SMTP (RFC 7672, RFC 6698): the TLSA records of each
 * MX, used only when their answer was DNSSEC-validated, matched against the
 * chain each address of that MX presented on STARTTLS. */
#include "probe/discover/discover.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>

bool dane_add_record(struct dane_state *ds, uint8_t usage, uint8_t selector, uint8_t mtype,
                     const uint8_t *data, size_t len)
{
	struct dane_record *r = NULL;

	/* RFC 7672 3.1.3: only DANE-TA(2) and DANE-EE(3) for SMTP; RFC 6698
	 * 2.1.2-2.1.3: selectors 0 (certificate) and 1 (key), types 0-2 */
	if ((usage != 2 && usage != 3) || selector > 1 || mtype > 2)
		return false;
	if ((mtype == 1 && len != 32) || (mtype == 2 && len != 64) || (mtype == 0 && !len))
		return false;
	if (ds->nrec >= MP_DANE_MAX_RECORDS)
		return true; /* usable, though not kept: the ones kept decide */
	r = &ds->rec[ds->nrec];
	r->usage = usage;
	r->selector = selector;
	r->mtype = mtype;
	if (mtype == 0) {
		if (wc_Sha512Hash(data, (word32)len, r->digest) != 0)
			return false;
		r->len = 64;
	} else {
		memcpy(r->digest, data, len);
		r->len = len;
	}
	ds->nrec++;
	return true;
}

bool dane_cert_matches(const struct dane_record *rec, const struct cert_info *c)
{
	const unsigned char *want = NULL;

	if (rec->selector == 0 && c->digests_ok)
		want = rec->mtype == 1 ? c->der_sha256 : c->der_sha512;
	else if (rec->selector == 1 && c->spki_ok)
		want = rec->mtype == 1 ? c->spki_sha256 : c->spki_sha512;
	return want && memcmp(want, rec->digest, rec->len) == 0;
}

/* True when some record matches the chain res presented: DANE-EE (3) the
 * leaf, DANE-TA (2) a certificate above it (RFC 7672 3.1.1-3.1.2). */
static bool chain_matches(const struct dane_state *ds, const struct tls_info *t)
{
	for (size_t k = 0; k < ds->nrec; k++) {
		const struct dane_record *rec = &ds->rec[k];

		if (rec->usage == 3 && t->chain_len > 0 && dane_cert_matches(rec, &t->chain[0]))
			return true;
		for (int c = 1; rec->usage == 2 && c < t->chain_len && c < MP_MAX_CHAIN; c++)
			if (dane_cert_matches(rec, &t->chain[c]))
				return true;
	}
	return false;
}

void dane_findings(struct discovery *d, struct probe_result *res, size_t n)
{
	for (size_t i = 0; i < d->ndane; i++) {
		struct dane_state *ds = &d->dane[i];
		size_t presented = 0, matched = 0;

		if (!ds->validated) {
			snprintf(ds->detail, sizeof(ds->detail), "the TLSA answer is %s, not validated: "
			         "not used (RFC 7672 2.2)", dns_security_name(ds->security));
			continue;
		}
		if (!ds->records) {
			snprintf(ds->detail, sizeof(ds->detail), "no usable TLSA record (usage 2 or 3, "
			         "selector 0 or 1, matching type 0, 1 or 2)");
			continue;
		}
		for (size_t r = 0; r < n; r++) {
			struct probe_result *p = &res[r];
			bool ok;

			if (p->ep.proto != PROTO_SMTP || strcasecmp(p->ep.host, ds->mx) != 0 ||
			    !p->tls_used || !p->tls.done || p->tls.chain_len < 1)
				continue;
			presented++;
			ok = chain_matches(ds, &p->tls);
			matched += ok;
			if (!ok)
				result_add_finding(p, FINDING_DANE_MISMATCH,
				                   "the chain presented by %s matches none of the %zu "
				                   "validated TLSA records of _25._tcp.%.100s",
				                   p->address[0] ? p->address : p->ep.host, ds->records,
				                   ds->mx);
		}
		ds->checked = presented > 0;
		ds->matched = presented > 0 && matched == presented;
		if (!presented)
			snprintf(ds->detail, sizeof(ds->detail), "no address of the MX presented a "
			         "certificate chain to match");
		else
			snprintf(ds->detail, sizeof(ds->detail), "%zu of %zu addresses presented a "
			         "chain that matches a validated TLSA record", matched, presented);
	}
}
