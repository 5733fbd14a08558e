/* x509_names.c - host names and name constraints (see x509_names.h). */
#include "core/x509_names.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the host a client asks for ---- */

/* True if s (len bytes) is plain ASCII with no control characters. */
static bool printable_ascii(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

enum host_kind host_canonical(const char *host, struct host_id *id)
{
	char buf[HOST_MAX];
	size_t len = host ? strlen(host) : 0;
	struct in_addr a4;

	memset(id, 0, sizeof(*id));
	if (len && host[0] == '[' && host[len - 1] == ']') {
		host++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(buf))
		return HOST_INVALID;
	memcpy(buf, host, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET6, buf, id->addr) == 1) {
		id->kind = HOST_IPV6;
		id->addr_len = 16;
		inet_ntop(AF_INET6, id->addr, id->text, sizeof(id->text));
		return id->kind;
	}
	/* inet_aton reads every spelling the resolver would: 127.1,
	 * 2130706433, 0x7f.0.0.1, 0177.0.0.1. */
	if (inet_aton(buf, &a4) == 1) {
		id->kind = HOST_IPV4;
		id->addr_len = 4;
		memcpy(id->addr, &a4, 4);
		inet_ntop(AF_INET, id->addr, id->text, sizeof(id->text));
		return id->kind;
	}
	if (buf[len - 1] == '.')
		buf[--len] = '\0';
	if (len == 0 || buf[0] == '.')
		return HOST_INVALID;
	if (printable_ascii(buf, len)) {
		for (size_t i = 0; i < len; i++)
			id->text[i] =
			    (char)((buf[i] >= 'A' && buf[i] <= 'Z') ? buf[i] + 32 : buf[i]);
		id->text[len] = '\0';
	} else {
		uint8_t *out = NULL;

		if (idn2_lookup_u8((const uint8_t *)buf, &out,
		                   IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) != IDN2_OK ||
		    !out)
			return HOST_INVALID;
		len = strlen((const char *)out);
		if (len == 0 || len >= sizeof(id->text)) {
			idn2_free(out);
			return HOST_INVALID;
		}
		memcpy(id->text, out, len + 1);
		idn2_free(out);
		if (id->text[len - 1] == '.')
			id->text[len - 1] = '\0';
	}
	id->kind = HOST_NAME;
	return id->kind;
}

/* ---- matching a leaf to the host ---- */

/* Case-insensitive compare ignoring one trailing dot on either side. */
static bool name_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen && a[alen - 1] == '.')
		alen--;
	if (blen && b[blen - 1] == '.')
		blen--;
	return alen == blen && alen > 0 && strncasecmp(a, b, alen) == 0;
}

/* Matches the canonical host name against a presented DNS name. A wildcard
 * is only allowed as the whole left-most label, matches exactly one label,
 * and needs at least two labels after it (RFC 6125 6.4.3). */
static bool dns_match(const char *host, const unsigned char *pat, size_t plen)
{
	const char *p = (const char *)pat;
	size_t hlen = strlen(host);
	const char *hdot = NULL, *rest = NULL;
	size_t rlen;

	if (plen == 0 || !printable_ascii(p, plen))
		return false;
	if (!(plen > 2 && p[0] == '*' && p[1] == '.'))
		return name_eq(host, hlen, p, plen);
	rest = p + 2;
	rlen = plen - 2;
	if (!memchr(rest, '.', rlen) || (rest[rlen - 1] == '.' && !memchr(rest, '.', rlen - 1)))
		return false;
	hdot = strchr(host, '.');
	if (!hdot || hdot == host)
		return false;
	return name_eq(hdot + 1, hlen - (size_t)(hdot + 1 - host), rest, rlen);
}

bool host_matches_cert(const struct der_cert *c, const struct der_exts *e, const char *host)
{
	struct host_id id;
	bool ok = false;
	const unsigned char *p = e->san, *end = e->san ? e->san + e->san_len : NULL;

	(void)c; /* RFC 9525: the subject is never a reference identifier */
	if (host_canonical(host, &id) == HOST_INVALID)
		return false;
	while (p && p < end && !ok) {
		const unsigned char *v = NULL;
		unsigned char tag;
		size_t vlen;

		if (der_general_name(&p, end, &tag, &v, &vlen) != 0)
			return false;
		if (tag == 0x82) {
			if (id.kind == HOST_NAME && dns_match(id.text, v, vlen))
				ok = true;
		} else if (tag == 0x87 && id.kind != HOST_NAME) {
			if (vlen == (size_t)id.addr_len && memcmp(v, id.addr, vlen) == 0)
				ok = true;
		}
	}
	return ok;
}

bool host_matches_der(const unsigned char *der, size_t len, const char *host)
{
	struct der_cert c;
	struct der_exts e;

	if (!host || der_cert_fields(der, len, &c) != 0 || der_cert_exts(&c, &e) != 0)
		return false;
	return host_matches_cert(&c, &e, host);
}

/* ---- name constraints (RFC 5280 4.2.1.10, as OpenSSL's nc_match) ---- */

/* GeneralName tags. */
#define GN_EMAIL 0x81
#define GN_DNS   0x82
#define GN_DIR   0xa4
#define GN_URI   0x86
#define GN_IP    0x87

static bool ieq(const unsigned char *a, const unsigned char *b, size_t n)
{
	return strncasecmp((const char *)a, (const char *)b, n) == 0;
}

/* True if a presented DNS name is well formed: no leading dot, no empty
 * label (a malformed name lies within no subtree). */
static bool dns_well_formed(const unsigned char *n, size_t nlen)
{
	if (nlen == 0 || n[0] == '.')
		return false;
	for (size_t i = 1; i < nlen; i++)
		if (n[i] == '.' && n[i - 1] == '.')
			return false;
	return true;
}

/* dNSName within base: equal, or a subdomain of it; a base with a leading
 * dot only matches subdomains; an empty base matches everything. */
static bool nc_dns(const unsigned char *n, size_t nlen, const unsigned char *b, size_t blen)
{
	if (!dns_well_formed(n, nlen))
		return false;
	if (blen == 0)
		return true;
	if (nlen && n[nlen - 1] == '.')
		nlen--;
	if (blen && b[blen - 1] == '.')
		blen--;
	if (nlen < blen)
		return false;
	if (b[0] == '.')
		return ieq(n + nlen - blen, b, blen);
	if (nlen == blen)
		return ieq(n, b, blen);
	return n[nlen - blen - 1] == '.' && ieq(n + nlen - blen, b, blen);
}

/* For an excluded subtree: whether a wildcard name "*.rest" could stand
 * for a name inside base, that is base is one label followed by rest
 * (RFC 9525 lets "*.example.com" match "bar.example.com"). */
static bool nc_dns_wildcard_hits(const unsigned char *n, size_t nlen, const unsigned char *b,
                                 size_t blen)
{
	const unsigned char *dot = NULL;

	if (nlen < 3 || n[0] != '*' || n[1] != '.' || blen == 0 || b[0] == '.')
		return false;
	dot = memchr(b, '.', blen);
	if (!dot || dot == b)
		return false;
	return nlen - 2 == blen - (size_t)(dot + 1 - b) && ieq(n + 2, dot + 1, nlen - 2);
}

/* rfc822Name within base: a whole mailbox, a domain, or ".domain" for any
 * subdomain. */
static enum nc_result nc_email(const unsigned char *n, size_t nlen, const unsigned char *b,
                               size_t blen, bool *match)
{
	const unsigned char *at = memchr(n, '@', nlen);
	const unsigned char *batt = memchr(b, '@', blen);
	const unsigned char *dom = NULL;
	size_t dlen;

	*match = false;
	if (!at)
		return NC_UNSUPPORTED;
	dom = at + 1;
	dlen = nlen - (size_t)(dom - n);
	if (batt) {
		size_t local = (size_t)(batt - b);

		*match = nlen == blen && (size_t)(at - n) == local && memcmp(n, b, local) == 0 &&
		         ieq(dom, batt + 1, dlen);
		return NC_OK;
	}
	if (blen && b[0] == '.') {
		*match = dlen > blen && ieq(dom + dlen - blen, b, blen);
		return NC_OK;
	}
	*match = dlen == blen && ieq(dom, b, blen);
	return NC_OK;
}

/* uniformResourceIdentifier within base: its host as a DNS name. */
static enum nc_result nc_uri(const unsigned char *n, size_t nlen, const unsigned char *b,
                             size_t blen, bool *match)
{
	const unsigned char *h = NULL, *end = n + nlen, *q = NULL;

	*match = false;
	for (q = n; q + 2 < end; q++)
		if (q[0] == ':' && q[1] == '/' && q[2] == '/')
			break;
	if (q + 2 >= end)
		return NC_UNSUPPORTED;
	h = q + 3;
	for (q = h; q < end && *q != ':' && *q != '/' && *q != '?' && *q != '#'; q++)
		if (*q == '@')
			h = q + 1;
	if (q == h || *h == '[')
		return NC_UNSUPPORTED;
	if (blen && b[0] == '.') {
		*match = (size_t)(q - h) > blen && ieq(q - blen, b, blen);
		return NC_OK;
	}
	*match = (size_t)(q - h) == blen && ieq(h, b, blen);
	return NC_OK;
}

/* iPAddress within base (address and mask, RFC 5280 4.2.1.10). */
static enum nc_result nc_ip(const unsigned char *n, size_t nlen, const unsigned char *b,
                            size_t blen, bool *match)
{
	*match = false;
	if (blen != 8 && blen != 32)
		return NC_UNSUPPORTED;
	if (nlen * 2 != blen)
		return NC_OK;
	for (size_t i = 0; i < nlen; i++)
		if ((n[i] & b[nlen + i]) != (b[i] & b[nlen + i]))
			return NC_OK;
	*match = true;
	return NC_OK;
}

/* directoryName within base: base's RDNs are the first RDNs of the name. */
static enum nc_result nc_dir(const unsigned char *n, size_t nlen, const unsigned char *b,
                             size_t blen, bool *match)
{
	const unsigned char *nb = NULL, *bb = NULL, *p = n, *q = b;
	unsigned char tag;
	size_t nbl, bbl;

	*match = false;
	if (der_next(&p, n + nlen, &tag, &nb, &nbl) != 0 || tag != 0x30 ||
	    der_next(&q, b + blen, &tag, &bb, &bbl) != 0 || tag != 0x30)
		return NC_UNSUPPORTED;
	*match = bbl <= nbl && memcmp(nb, bb, bbl) == 0;
	return NC_OK;
}

/* Whether one name (tag, contents) lies within one subtree base. */
static enum nc_result nc_single(unsigned char tag, const unsigned char *n, size_t nlen,
                                const unsigned char *b, size_t blen, bool *match)
{
	switch (tag) {
	case GN_DNS:
		*match = nc_dns(n, nlen, b, blen);
		return NC_OK;
	case GN_EMAIL:
		return nc_email(n, nlen, b, blen, match);
	case GN_URI:
		return nc_uri(n, nlen, b, blen, match);
	case GN_IP:
		return nc_ip(n, nlen, b, blen, match);
	case GN_DIR:
		return nc_dir(n, nlen, b, blen, match);
	default:
		*match = false;
		return NC_UNSUPPORTED;
	}
}

/* One GeneralSubtrees list: does any base of the name's type hold it?
 * *typed says whether the list has a base of that type at all. */
static enum nc_result nc_subtrees(const unsigned char *list, size_t len, unsigned char tag,
                                  const unsigned char *n, size_t nlen, bool excluded, bool *typed,
                                  bool *match)
{
	const unsigned char *p = list, *end = list + len;

	*typed = *match = false;
	while (p < end) {
		const unsigned char *st = NULL, *q = NULL, *b = NULL;
		unsigned char t, btag;
		size_t stlen, blen;
		bool m = false;
		enum nc_result r;

		if (der_next(&p, end, &t, &st, &stlen) != 0 || t != 0x30)
			return NC_UNSUPPORTED;
		q = st;
		if (der_general_name(&q, st + stlen, &btag, &b, &blen) != 0)
			return NC_UNSUPPORTED;
		if (q != st + stlen) /* minimum or maximum: not in RFC 5280 profiles */
			return NC_UNSUPPORTED;
		if (btag == GN_DIR) { /* explicit tag: the Name inside */
			const unsigned char *r0 = b;
			const unsigned char *inner = NULL;
			size_t ilen;

			if (der_next(&r0, b + blen, &t, &inner, &ilen) != 0 || t != 0x30)
				return NC_UNSUPPORTED;
			blen = (size_t)(r0 - b);
		}
		if (btag != tag)
			continue;
		*typed = true;
		if (*match)
			continue;
		r = nc_single(tag, n, nlen, b, blen, &m);
		if (r != NC_OK)
			return r;
		if (!m && excluded && tag == GN_DNS)
			m = nc_dns_wildcard_hits(n, nlen, b, blen);
		*match = m;
	}
	return NC_OK;
}

/* One name against both lists of the constraints. */
static enum nc_result nc_name(const unsigned char *permitted, size_t plen,
                              const unsigned char *excluded, size_t elen, unsigned char tag,
                              const unsigned char *n, size_t nlen)
{
	bool typed = false, match = false;
	enum nc_result r;

	if (permitted) {
		r = nc_subtrees(permitted, plen, tag, n, nlen, false, &typed, &match);
		if (r != NC_OK)
			return r;
		if (typed && !match)
			return NC_PERMITTED_VIOLATION;
	}
	if (excluded) {
		r = nc_subtrees(excluded, elen, tag, n, nlen, true, &typed, &match);
		if (r != NC_OK)
			return r;
		if (match)
			return NC_EXCLUDED_VIOLATION;
	}
	return NC_OK;
}

struct nc_walk {
	const unsigned char *permitted, *excluded;
	size_t plen, elen;
	unsigned char tag;
	enum nc_result r;
};

static int nc_attr_cb(void *arg, const unsigned char *v, size_t vlen)
{
	struct nc_walk *w = arg;

	w->r = nc_name(w->permitted, w->plen, w->excluded, w->elen, w->tag, v, vlen);
	return w->r != NC_OK;
}

/* True if a CN looks like a host name (letters, digits, '-', '.', at least
 * one dot, no empty label), as OpenSSL decides which CNs to check. */
static int cn_host_cb(void *arg, const unsigned char *v, size_t vlen)
{
	struct nc_walk *w = arg;
	bool dot = false;

	for (size_t i = 0; i < vlen; i++) {
		unsigned char ch = v[i];

		if (ch == '.') {
			if (i == 0 || i + 1 == vlen || v[i - 1] == '.')
				return 0;
			dot = true;
		} else if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		             (ch >= '0' && ch <= '9') || ch == '-' || ch == '_')) {
			return 0;
		}
	}
	if (!dot)
		return 0;
	w->r = nc_name(w->permitted, w->plen, w->excluded, w->elen, GN_DNS, v, vlen);
	return w->r != NC_OK;
}

enum nc_result nc_check(const unsigned char *nc, size_t nc_len, const struct der_cert *c,
                        const struct der_exts *e, bool check_cn)
{
	struct nc_walk w;
	const unsigned char *p = nc, *end = nc + nc_len, *body = NULL;
	unsigned char tag;
	size_t blen;
	bool any_dns = false;

	memset(&w, 0, sizeof(w));
	while (p < end) {
		if (der_next(&p, end, &tag, &body, &blen) != 0)
			return NC_UNSUPPORTED;
		if (tag == 0xa0 && !w.permitted) {
			w.permitted = body;
			w.plen = blen;
		} else if (tag == 0xa1 && !w.excluded) {
			w.excluded = body;
			w.elen = blen;
		} else {
			return NC_UNSUPPORTED;
		}
	}
	/* The subject as a directoryName, unless it is empty. */
	if (c->subject_len > 2) {
		enum nc_result r = nc_name(w.permitted, w.plen, w.excluded, w.elen, GN_DIR,
		                           c->subject, c->subject_len);

		if (r != NC_OK)
			return r;
	}
	w.tag = GN_EMAIL;
	if (der_name_each(c->subject, c->subject_len, der_oid_email, sizeof(der_oid_email),
	                  nc_attr_cb, &w) < 0)
		return NC_UNSUPPORTED;
	if (w.r != NC_OK)
		return w.r;
	p = e->san;
	end = e->san ? e->san + e->san_len : NULL;
	while (p && p < end) {
		const unsigned char *v = NULL;
		enum nc_result r;

		if (der_general_name(&p, end, &tag, &v, &blen) != 0)
			return NC_UNSUPPORTED;
		if (tag == GN_DNS)
			any_dns = true;
		r = nc_name(w.permitted, w.plen, w.excluded, w.elen, tag, v, blen);
		if (r != NC_OK)
			return r;
	}
	if (check_cn && !any_dns) {
		if (der_name_each(c->subject, c->subject_len, der_oid_cn, sizeof(der_oid_cn),
		                  cn_host_cb, &w) < 0)
			return NC_UNSUPPORTED;
		if (w.r != NC_OK)
			return w.r;
	}
	return NC_OK;
}
