/* der.c - the few DER walks a certificate needs (see der.h). */
#include "core/der.h"

#include <string.h>

const unsigned char der_oid_cn[3] = {0x55, 0x04, 0x03};
const unsigned char der_oid_email[9] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01};

int der_next(const unsigned char **p, const unsigned char *end, unsigned char *tag,
             const unsigned char **body, size_t *body_len)
{
	const unsigned char *q = *p;
	size_t len = 0;

	if (end - q < 2)
		return -1;
	*tag = *q++;
	if ((*tag & 0x1f) == 0x1f) /* high tag numbers: none in a certificate */
		return -1;
	if (*q < 0x80) {
		len = *q++;
	} else {
		int n = *q++ & 0x7f;

		if (n < 1 || n > 3 || end - q < n || *q == 0)
			return -1;
		while (n--)
			len = len << 8 | *q++;
		if (len < 0x80) /* DER: the shortest form */
			return -1;
	}
	if ((size_t)(end - q) < len)
		return -1;
	*body = q;
	*body_len = len;
	*p = q + len;
	return 0;
}

/* Reads one element that must have tag want; *start is where it began and
 * *len its whole encoded length. */
static int der_element(const unsigned char **p, const unsigned char *end, unsigned char want,
                       const unsigned char **start, size_t *len)
{
	const unsigned char *body = NULL;
	unsigned char tag = 0;
	size_t blen = 0;

	*start = *p;
	if (der_next(p, end, &tag, &body, &blen) != 0 || tag != want)
		return -1;
	*len = (size_t)(*p - *start);
	return 0;
}

/* Two decimal digits at s. */
static int two(const unsigned char *s)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	return (s[0] - '0') * 10 + (s[1] - '0');
}

/* UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ), RFC 5280
 * 4.1.2.5, to seconds since the epoch. */
static int der_time(const unsigned char **p, const unsigned char *end, time_t *out)
{
	const unsigned char *b = NULL;
	unsigned char tag = 0;
	size_t len = 0;
	int year, f[5];
	struct tm tm;

	if (der_next(p, end, &tag, &b, &len) != 0)
		return -1;
	if (tag == 0x17 && len == 13) {
		if ((year = two(b)) < 0)
			return -1;
		year += year < 50 ? 2000 : 1900;
		b += 2;
	} else if (tag == 0x18 && len == 15) {
		if (two(b) < 0 || two(b + 2) < 0)
			return -1;
		year = two(b) * 100 + two(b + 2);
		b += 4;
	} else {
		return -1;
	}
	for (int i = 0; i < 5; i++)
		if ((f[i] = two(b + 2 * i)) < 0)
			return -1;
	if (b[10] != 'Z' || f[0] < 1 || f[0] > 12 || f[1] < 1 || f[1] > 31 || f[2] > 23 ||
	    f[3] > 59 || f[4] > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = f[0] - 1;
	tm.tm_mday = f[1];
	tm.tm_hour = f[2];
	tm.tm_min = f[3];
	tm.tm_sec = f[4];
	*out = timegm(&tm);
	return 0;
}

/* True if an AlgorithmIdentifier (tag included) names a signature with
 * MD2, MD5 or SHA-1, which OpenSSL 3.0's default security level refuses. */
static bool weak_sig_alg(const unsigned char *alg, size_t len)
{
	static const unsigned char weak[][9] = {
	    {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x02}, /* md2WithRSAEncryption */
	    {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x04}, /* md5WithRSAEncryption */
	    {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05}, /* sha1WithRSAEncryption */
	};
	static const unsigned char ecdsa_sha1[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01};
	static const unsigned char dsa_sha1[] = {0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x03};
	const unsigned char *p = alg, *b = NULL, *oid = NULL;
	unsigned char tag;
	size_t blen, olen;

	if (der_next(&p, alg + len, &tag, &b, &blen) != 0)
		return false;
	p = b;
	if (der_next(&p, b + blen, &tag, &oid, &olen) != 0 || tag != 0x06)
		return false;
	for (size_t i = 0; i < sizeof(weak) / sizeof(weak[0]); i++)
		if (olen == sizeof(weak[i]) && memcmp(oid, weak[i], olen) == 0)
			return true;
	return (olen == sizeof(ecdsa_sha1) && memcmp(oid, ecdsa_sha1, olen) == 0) ||
	       (olen == sizeof(dsa_sha1) && memcmp(oid, dsa_sha1, olen) == 0);
}

int der_cert_fields(const unsigned char *der, size_t len, struct der_cert *out)
{
	const unsigned char *p = der, *end = der + len, *body = NULL;
	const unsigned char *sig1 = NULL, *sig2 = NULL, *cert_end = NULL;
	unsigned char tag;
	size_t blen, sig1_len = 0, sig2_len = 0;

	memset(out, 0, sizeof(*out));
	if (der_next(&p, end, &tag, &body, &blen) != 0 || tag != 0x30)
		return -1;
	p = body;
	cert_end = body + blen;
	if (der_next(&p, cert_end, &tag, &body, &blen) != 0 || tag != 0x30)
		return -1;
	if (der_element(&p, cert_end, 0x30, &sig2, &sig2_len) != 0)
		return -1;
	p = body;
	end = body + blen;
	if (p < end && *p == 0xa0) {
		const unsigned char *v = NULL;
		size_t vlen = 0;

		if (der_next(&p, end, &tag, &body, &blen) != 0)
			return -1;
		v = body;
		if (der_next(&v, body + blen, &tag, &body, &vlen) != 0 || tag != 0x02 || vlen != 1)
			return -1;
		out->version = body[0];
	}
	/* serialNumber, signature */
	if (der_next(&p, end, &tag, &body, &blen) != 0 || tag != 0x02 || blen == 0 ||
	    der_element(&p, end, 0x30, &sig1, &sig1_len) != 0)
		return -1;
	out->bad_serial = (body[0] & 0x80) || blen > 21 || (blen == 21 && body[0] != 0);
	{
		bool zero = true;

		for (size_t i = 0; i < blen; i++)
			zero = zero && body[i] == 0;
		out->bad_serial = out->bad_serial || zero;
	}
	out->sig_alg_mismatch = sig1_len != sig2_len || memcmp(sig1, sig2, sig1_len) != 0;
	out->weak_sig = weak_sig_alg(sig1, sig1_len);
	if (der_element(&p, end, 0x30, &out->issuer, &out->issuer_len) != 0 ||
	    der_next(&p, end, &tag, &body, &blen) != 0 || tag != 0x30)
		return -1;
	{
		const unsigned char *v = body;

		if (der_time(&v, body + blen, &out->not_before) != 0 ||
		    der_time(&v, body + blen, &out->not_after) != 0)
			return -1;
	}
	if (der_element(&p, end, 0x30, &out->subject, &out->subject_len) != 0 ||
	    der_element(&p, end, 0x30, &out->spki, &out->spki_len) != 0)
		return -1;
	{
		const unsigned char *s = NULL, *alg = NULL, *a = NULL;
		size_t slen = 0, alen = 0;

		s = out->spki;
		if (der_next(&s, out->spki + out->spki_len, &tag, &body, &blen) != 0)
			return -1;
		s = body;
		if (der_next(&s, body + blen, &tag, &alg, &alen) != 0 || tag != 0x30)
			return -1;
		a = alg;
		if (der_next(&a, alg + alen, &tag, &out->key_alg, &out->key_alg_len) != 0 ||
		    tag != 0x06)
			return -1;
		if (der_next(&s, body + blen, &tag, &out->key, &slen) != 0 || tag != 0x03 ||
		    slen < 1)
			return -1;
		out->key++;
		out->key_len = slen - 1;
	}
	while (p < end) {
		if (der_next(&p, end, &tag, &body, &blen) != 0)
			return -1;
		if (tag == 0xa3) {
			const unsigned char *e = body;

			if (out->exts ||
			    der_next(&e, body + blen, &tag, &out->exts, &out->exts_len) != 0 ||
			    tag != 0x30)
				return -1;
		}
	}
	return 0;
}

/* OID contents equal to o. */
#define OID_IS(v, vlen, o) ((vlen) == sizeof(o) && memcmp((v), (o), sizeof(o)) == 0)

static const unsigned char oid_server_auth[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01};
static const unsigned char oid_any_eku[] = {0x55, 0x1d, 0x25, 0x00};
static const unsigned char oid_ms_sgc[] = {0x2b, 0x06, 0x01, 0x04, 0x01,
                                           0x82, 0x37, 0x0a, 0x03, 0x03};
static const unsigned char oid_ns_sgc[] = {0x60, 0x86, 0x48, 0x01, 0x86, 0xf8, 0x42, 0x04, 0x01};
static const unsigned char oid_tls_feature[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x18};
/* Critical extensions outside 2.5.29 that OpenSSL processes, so that a
 * critical one is no reason here either: Netscape cert type, RFC 3779 IP
 * and AS resources, OCSP no-check, proxy certificate info. */
static const unsigned char oid_ns_cert_type[] = {0x60, 0x86, 0x48, 0x01, 0x86,
                                                 0xf8, 0x42, 0x01, 0x01};
static const unsigned char oid_ip_blocks[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x07};
static const unsigned char oid_as_ids[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x08};
static const unsigned char oid_proxy[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x0e};
static const unsigned char oid_ocsp_nocheck[] = {0x2b, 0x06, 0x01, 0x05, 0x05,
                                                 0x07, 0x30, 0x01, 0x05};

/* basicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE,
 * pathLenConstraint INTEGER (0..MAX) OPTIONAL } */
static int parse_bc(const unsigned char *v, size_t len, struct der_exts *e)
{
	const unsigned char *p = v, *end = v + len, *b = NULL;
	unsigned char tag;
	size_t blen;

	if (der_next(&p, end, &tag, &b, &blen) != 0 || tag != 0x30 || p != end)
		return -1;
	p = b;
	end = b + blen;
	e->bc = true;
	if (p < end && *p == 0x01) {
		if (der_next(&p, end, &tag, &b, &blen) != 0 || blen != 1)
			return -1;
		e->ca = b[0] != 0;
	}
	if (p < end) {
		if (der_next(&p, end, &tag, &b, &blen) != 0 || tag != 0x02 || blen < 1 ||
		    blen > 4 || (b[0] & 0x80))
			return -1;
		e->pathlen = 0;
		for (size_t i = 0; i < blen; i++)
			e->pathlen = e->pathlen << 8 | b[i];
	}
	return p == end ? 0 : -1;
}

static int parse_ku(const unsigned char *v, size_t len, struct der_exts *e)
{
	const unsigned char *p = v, *b = NULL;
	unsigned char tag;
	size_t blen;

	if (der_next(&p, v + len, &tag, &b, &blen) != 0 || tag != 0x03 || blen < 1 || blen > 3 ||
	    b[0] > 7)
		return -1;
	e->ku = true;
	for (size_t i = 1; i < blen; i++)
		for (int bit = 0; bit < 8; bit++)
			if (b[i] & (0x80 >> bit))
				e->ku_bits |= 1u << ((i - 1) * 8 + (size_t)bit);
	return 0;
}

static int parse_eku(const unsigned char *v, size_t len, struct der_exts *e)
{
	const unsigned char *p = v, *b = NULL, *o = NULL;
	unsigned char tag;
	size_t blen, olen;

	if (der_next(&p, v + len, &tag, &b, &blen) != 0 || tag != 0x30 || blen == 0)
		return -1;
	e->eku = true;
	p = b;
	while (p < b + blen) {
		if (der_next(&p, b + blen, &tag, &o, &olen) != 0 || tag != 0x06)
			return -1;
		if (OID_IS(o, olen, oid_server_auth) || OID_IS(o, olen, oid_ms_sgc) ||
		    OID_IS(o, olen, oid_ns_sgc))
			e->eku_server = true;
		if (OID_IS(o, olen, oid_any_eku))
			e->eku_any = true;
	}
	return 0;
}

/* Contents of a SEQUENCE that is the whole of v. */
static int sequence_body(const unsigned char *v, size_t len, const unsigned char **body,
                         size_t *blen)
{
	const unsigned char *p = v;
	unsigned char tag;

	if (der_next(&p, v + len, &tag, body, blen) != 0 || tag != 0x30 || p != v + len)
		return -1;
	return 0;
}

/* authorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] OPTIONAL, ... } */
static int parse_aki(const unsigned char *v, size_t len, struct der_exts *e)
{
	const unsigned char *b = NULL, *p = NULL, *f = NULL;
	unsigned char tag;
	size_t blen, flen;

	if (sequence_body(v, len, &b, &blen) != 0)
		return -1;
	p = b;
	while (p < b + blen) {
		if (der_next(&p, b + blen, &tag, &f, &flen) != 0)
			return -1;
		if (tag == 0x80) {
			e->aki = f;
			e->aki_len = flen;
		}
	}
	return 0;
}

/* TLSFeature ::= SEQUENCE OF INTEGER; 5 is status_request. */
static int parse_tls_feature(const unsigned char *v, size_t len, struct der_exts *e)
{
	const unsigned char *b = NULL, *p = NULL, *f = NULL;
	unsigned char tag;
	size_t blen, flen;

	if (sequence_body(v, len, &b, &blen) != 0)
		return -1;
	p = b;
	while (p < b + blen) {
		if (der_next(&p, b + blen, &tag, &f, &flen) != 0 || tag != 0x02)
			return -1;
		if (flen == 1 && f[0] == 5)
			e->must_staple = true;
	}
	return 0;
}

/* One extension; -1 when malformed. *seen collects 2.5.29.N for N < 64. */
static int parse_ext(const unsigned char *oid, size_t oid_len, bool critical,
                     const unsigned char *v, size_t vlen, unsigned long long *seen,
                     struct der_exts *e)
{
	const unsigned char *b = NULL, *p = NULL;
	unsigned char tag;
	size_t blen;

	if (oid_len == 3 && oid[0] == 0x55 && oid[1] == 0x1d && oid[2] < 64) {
		unsigned long long bit = 1ull << oid[2];

		if (*seen & bit)
			return -1;
		*seen |= bit;
		switch (oid[2]) {
		case 14: /* subjectKeyIdentifier */
			p = v;
			if (der_next(&p, v + vlen, &tag, &b, &blen) != 0 || tag != 0x04)
				return -1;
			e->ski = b;
			e->ski_len = blen;
			/* OpenSSL does not process it: critical is unknown */
			e->unknown_critical |= critical;
			return 0;
		case 15:
			return parse_ku(v, vlen, e);
		case 17:
			e->san_critical = critical;
			return sequence_body(v, vlen, &e->san, &e->san_len);
		case 19:
			return parse_bc(v, vlen, e);
		case 30:
			e->nc_critical = critical;
			/* RFC 5280 4.2.1.10: at least one of the two lists, and
			 * neither empty */
			if (sequence_body(v, vlen, &e->nc, &e->nc_len) != 0 || e->nc_len == 0)
				return -1;
			for (p = e->nc; p < e->nc + e->nc_len;)
				if (der_next(&p, e->nc + e->nc_len, &tag, &b, &blen) != 0 ||
				    (tag != 0xa0 && tag != 0xa1) || blen == 0)
					return -1;
			return 0;
		case 36: /* policyConstraints */
			e->pc_noncritical = !critical;
			return 0;
		case 35:
			e->unknown_critical |= critical;
			return parse_aki(v, vlen, e);
		case 37:
			return parse_eku(v, vlen, e);
		case 31: /* cRLDistributionPoints */
		case 32: /* certificatePolicies */
		case 33: /* policyMappings */
		case 54: /* inhibitAnyPolicy */
			return 0;
		default:
			e->unknown_critical |= critical;
			return 0;
		}
	}
	if (OID_IS(oid, oid_len, oid_tls_feature)) {
		e->unknown_critical |= critical;
		return parse_tls_feature(v, vlen, e);
	}
	if (!(OID_IS(oid, oid_len, oid_ns_cert_type) || OID_IS(oid, oid_len, oid_ip_blocks) ||
	      OID_IS(oid, oid_len, oid_as_ids) || OID_IS(oid, oid_len, oid_proxy) ||
	      OID_IS(oid, oid_len, oid_ocsp_nocheck)))
		e->unknown_critical |= critical;
	return 0;
}

int der_cert_exts(const struct der_cert *c, struct der_exts *e)
{
	const unsigned char *p = c->exts, *end = c->exts + c->exts_len;
	unsigned long long seen = 0;

	memset(e, 0, sizeof(*e));
	e->pathlen = -1;
	if (!c->exts)
		return 0;
	while (p < end) {
		const unsigned char *b = NULL, *q = NULL, *oid = NULL, *v = NULL, *f = NULL;
		unsigned char tag;
		size_t blen, oid_len, vlen, flen;
		bool critical = false;

		if (der_next(&p, end, &tag, &b, &blen) != 0 || tag != 0x30)
			return -1;
		q = b;
		if (der_next(&q, b + blen, &tag, &oid, &oid_len) != 0 || tag != 0x06)
			return -1;
		if (der_next(&q, b + blen, &tag, &f, &flen) != 0)
			return -1;
		if (tag == 0x01) {
			if (flen != 1)
				return -1;
			critical = f[0] != 0;
			if (der_next(&q, b + blen, &tag, &f, &flen) != 0)
				return -1;
		}
		if (tag != 0x04 || q != b + blen)
			return -1;
		v = f;
		vlen = flen;
		if (parse_ext(oid, oid_len, critical, v, vlen, &seen, e) != 0)
			return -1;
	}
	return 0;
}

int der_general_name(const unsigned char **p, const unsigned char *end, unsigned char *tag,
                     const unsigned char **val, size_t *val_len)
{
	if (der_next(p, end, tag, val, val_len) != 0 || (*tag & 0xc0) != 0x80)
		return -1;
	return 0;
}

int der_name_each(const unsigned char *name, size_t len, const unsigned char *oid, size_t oid_len,
                  int (*fn)(void *arg, const unsigned char *v, size_t vlen), void *arg)
{
	const unsigned char *p = name, *b = NULL;
	unsigned char tag;
	size_t blen;

	if (der_next(&p, name + len, &tag, &b, &blen) != 0 || tag != 0x30)
		return -1;
	p = b;
	while (p < b + blen) {
		const unsigned char *set = NULL, *q = NULL;
		size_t set_len;

		if (der_next(&p, b + blen, &tag, &set, &set_len) != 0 || tag != 0x31)
			return -1;
		q = set;
		while (q < set + set_len) {
			const unsigned char *atv = NULL, *r = NULL, *o = NULL, *v = NULL;
			size_t atv_len, olen, vlen;
			int rc;

			if (der_next(&q, set + set_len, &tag, &atv, &atv_len) != 0 || tag != 0x30)
				return -1;
			r = atv;
			if (der_next(&r, atv + atv_len, &tag, &o, &olen) != 0 || tag != 0x06 ||
			    der_next(&r, atv + atv_len, &tag, &v, &vlen) != 0)
				return -1;
			if (olen == oid_len && memcmp(o, oid, olen) == 0 && (rc = fn(arg, v, vlen)))
				return rc;
		}
	}
	return 0;
}
