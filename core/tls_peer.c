/* tls_peer.c - the chain a server sent, described for the report (subject,
 * issuer, serial, SANs, key, fingerprints...) and verified (trust.h) with its
 * host name (x509_names.h). Split from tls.c, which keeps the handshake. */
#include "core/tls_peer.h"
#include "core/trust.h"
#include "core/x509_names.h"
#include "core/der.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/openssl/x509v3.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/hash.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Serial numbers are at most 20 octets (RFC 5280 4.1.2.2); allow some slack. */
#define TLS_MAX_SERIAL 32

/* ---- certificate details ---- */

/* A bounded string being built. */
struct sbuf {
	char s[MP_MAX_CERT_FIELD];
	size_t len;
	bool full;
};

static void sb_putc(struct sbuf *b, char c)
{
	if (b->len + 1 >= sizeof(b->s)) {
		b->full = true;
		return;
	}
	b->s[b->len++] = c;
	b->s[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
	while (*s)
		sb_putc(b, *s++);
}

/* Appends an attribute value escaped as in RFC 4514 section 2.4, with bytes
 * outside printable ASCII (other than UTF-8) as \XX. */
static void sb_put_dn_value(struct sbuf *b, const unsigned char *v, int len)
{
	static const char hex[] = "0123456789ABCDEF";

	for (int i = 0; i < len; i++) {
		unsigned char c = v[i];
		bool edge = (i == 0 && (c == ' ' || c == '#')) || (i == len - 1 && c == ' ');

		if (c < 0x20 || c == 0x7f) {
			sb_putc(b, '\\');
			sb_putc(b, hex[c >> 4]);
			sb_putc(b, hex[c & 15]);
			continue;
		}
		if (edge || strchr(",+\"\\<>;=", c))
			sb_putc(b, '\\');
		sb_putc(b, (char)c);
	}
}

/* One-line distinguished name, most specific first (RFC 4514 section 2.1),
 * e.g. "CN=mail.test, O=Example". */
static char *name_text(WOLFSSL_X509_NAME *name)
{
	struct sbuf b = {.len = 0};
	int n = name ? wolfSSL_X509_NAME_entry_count(name) : 0;

	b.s[0] = '\0';
	for (int i = n - 1; i >= 0; i--) {
		WOLFSSL_X509_NAME_ENTRY *e = wolfSSL_X509_NAME_get_entry(name, i);
		WOLFSSL_ASN1_OBJECT *o = e ? wolfSSL_X509_NAME_ENTRY_get_object(e) : NULL;
		WOLFSSL_ASN1_STRING *d = e ? wolfSSL_X509_NAME_ENTRY_get_data(e) : NULL;
		const char *sn = o ? wolfSSL_OBJ_nid2sn(wolfSSL_OBJ_obj2nid(o)) : NULL;
		char oid[64];

		if (!d)
			continue;
		if (!sn || !*sn) {
			if (!o || wolfSSL_OBJ_obj2txt(oid, sizeof(oid), o, 1) <= 0)
				snprintf(oid, sizeof(oid), "?");
			sn = oid;
		}
		if (b.len)
			sb_puts(&b, ", ");
		sb_puts(&b, sn);
		sb_putc(&b, '=');
		sb_put_dn_value(&b, wolfSSL_ASN1_STRING_get0_data(d),
		                wolfSSL_ASN1_STRING_length(d));
	}
	return strdup(b.s);
}

/* Serial number in upper-case hex without leading zero octets. */
static char *serial_text(WOLFSSL_X509 *x)
{
	unsigned char raw[TLS_MAX_SERIAL];
	char out[2 * TLS_MAX_SERIAL + 1];
	int sz = (int)sizeof(raw);
	int i = 0;
	size_t o = 0;

	if (wolfSSL_X509_get_serial_number(x, raw, &sz) != WOLFSSL_SUCCESS || sz <= 0)
		return strdup("");
	while (i < sz - 1 && raw[i] == 0)
		i++;
	for (; i < sz; i++) {
		snprintf(out + o, sizeof(out) - o, "%02X", raw[i]);
		o += 2;
	}
	out[o] = '\0';
	return strdup(out);
}

/* RFC 3339 UTC form of an epoch time, e.g. "2027-01-01T00:00:00Z". */
static char *rfc3339(time_t t)
{
	struct tm tm;
	char buf[32];

	if (!gmtime_r(&t, &tm) || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return strdup("");
	return strdup(buf);
}

/* Whole days from now until t, rounded down (negative once t has passed). */
static long days_until(time_t t, time_t now)
{
	long long diff = (long long)t - (long long)now;
	long long d = diff / 86400;

	if (diff % 86400 < 0)
		d--;
	return (long)d;
}

/* Printable form of a SAN entry ("DNS:x", "IP:y", "email:z", "URI:u"), or
 * -1 for kinds we do not record. */
static int san_text(WOLFSSL_GENERAL_NAME *gn, char *out, size_t size)
{
	WOLFSSL_ASN1_STRING *s = NULL;
	const char *prefix = NULL;
	const unsigned char *p = NULL;
	int len;

	switch (gn->type) {
	case GEN_DNS:
		prefix = "DNS";
		s = gn->d.dNSName;
		break;
	case GEN_EMAIL:
		prefix = "email";
		s = gn->d.rfc822Name;
		break;
	case GEN_URI:
		prefix = "URI";
		s = gn->d.uniformResourceIdentifier;
		break;
	case GEN_IPADD: {
		char ip[INET6_ADDRSTRLEN];

		s = gn->d.iPAddress;
		p = s ? wolfSSL_ASN1_STRING_get0_data(s) : NULL;
		len = s ? wolfSSL_ASN1_STRING_length(s) : 0;
		if (!p || (len != 4 && len != 16) ||
		    !inet_ntop(len == 4 ? AF_INET : AF_INET6, p, ip, sizeof(ip)))
			return -1;
		snprintf(out, size, "IP:%s", ip);
		return 0;
	}
	default:
		return -1;
	}
	p = s ? wolfSSL_ASN1_STRING_get0_data(s) : NULL;
	len = s ? wolfSSL_ASN1_STRING_length(s) : 0;
	if (!p || len < 0)
		return -1;
	snprintf(out, size, "%s:%.*s", prefix, len, (const char *)p);
	return 0;
}

/* Fills ci->san from the subjectAltName extension (RFC 5280 4.2.1.6). */
static void fill_sans(WOLFSSL_X509 *x, struct cert_info *ci)
{
	WOLFSSL_STACK *names = wolfSSL_X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int n = names ? wolfSSL_sk_GENERAL_NAME_num(names) : 0;
	char text[MP_MAX_CAP_LEN];

	for (int i = 0; i < n; i++) {
		WOLFSSL_GENERAL_NAME *gn = wolfSSL_sk_GENERAL_NAME_value(names, i);

		if (gn && san_text(gn, text, sizeof(text)) == 0 &&
		    strlist_add_str(&ci->san, text) < 0 && ci->san.truncated)
			break;
	}
	if (names)
		wolfSSL_GENERAL_NAMES_free(names);
}

/* Public key algorithm and size. */
static void fill_key(WOLFSSL_X509 *x, struct cert_info *ci)
{
	WOLFSSL_EVP_PKEY *pk = NULL;
	const char *type = "unknown";

	switch (wolfSSL_X509_get_pubkey_type(x)) {
	case RSAk:
		type = "RSA";
		break;
	case ECDSAk:
		type = "EC";
		break;
	case DSAk:
		type = "DSA";
		break;
	case ED25519k:
		type = "Ed25519";
		ci->key_bits = 256;
		break;
	case ED448k:
		type = "Ed448";
		ci->key_bits = 456;
		break;
	default:
		break;
	}
	ci->key_type = strdup(type);
	if (ci->key_bits)
		return;
	pk = wolfSSL_X509_get_pubkey(x);
	if (pk) {
		ci->key_bits = wolfSSL_EVP_PKEY_bits(pk);
		wolfSSL_EVP_PKEY_free(pk);
	}
}

/* Hex SHA-256 of the certificate's DER encoding, as `openssl x509
 * -fingerprint -sha256` shows it (without the colons, lower case), and the
 * digests DANE matches against. */
static void fill_fingerprint(WOLFSSL_X509 *x, struct cert_info *ci)
{
	const unsigned char *der = NULL;
	struct der_cert f;
	int len = 0;

	ci->fingerprint_sha256[0] = '\0';
	der = wolfSSL_X509_get_der(x, &len);
	if (!der || len <= 0 || wc_Sha256Hash(der, (word32)len, ci->der_sha256) != 0 ||
	    wc_Sha512Hash(der, (word32)len, ci->der_sha512) != 0)
		return;
	ci->digests_ok = true;
	for (size_t i = 0; i < sizeof(ci->der_sha256); i++)
		snprintf(ci->fingerprint_sha256 + 2 * i, 3, "%02x", ci->der_sha256[i]);
	if (der_cert_fields(der, (size_t)len, &f) == 0 &&
	    wc_Sha256Hash(f.spki, (word32)f.spki_len, ci->spki_sha256) == 0 &&
	    wc_Sha512Hash(f.spki, (word32)f.spki_len, ci->spki_sha512) == 0)
		ci->spki_ok = true;
}

/* The key type (RSAk, ECDSAk...) a signature algorithm (CTC_*) needs, 0 if
 * unknown. */
static int sig_key_type(int sig)
{
	switch (sig) {
	case CTC_MD2wRSA:
	case CTC_MD5wRSA:
	case CTC_SHAwRSA:
	case CTC_SHA224wRSA:
	case CTC_SHA256wRSA:
	case CTC_SHA384wRSA:
	case CTC_SHA512wRSA:
	case CTC_SHA3_224wRSA:
	case CTC_SHA3_256wRSA:
	case CTC_SHA3_384wRSA:
	case CTC_SHA3_512wRSA:
	case CTC_RSASSAPSS:
		return RSAk;
	case CTC_SHAwECDSA:
	case CTC_SHA224wECDSA:
	case CTC_SHA256wECDSA:
	case CTC_SHA384wECDSA:
	case CTC_SHA512wECDSA:
	case CTC_SHA3_224wECDSA:
	case CTC_SHA3_256wECDSA:
	case CTC_SHA3_384wECDSA:
	case CTC_SHA3_512wECDSA:
		return ECDSAk;
	case CTC_SHAwDSA:
		return DSAk;
	case CTC_ED25519:
		return ED25519k;
	case CTC_ED448:
		return ED448k;
	default:
		return 0;
	}
}

/* True if x is self-signed as OpenSSL classifies it (EXFLAG_SS in
 * ossl_x509v3_cache_extensions): it names itself as its issuer, its
 * authority key identifier (if any) is its own subject key identifier, and
 * its signature algorithm fits its own key. The signature is not checked
 * here: that is one more ECDSA or RSA operation per self-issued
 * certificate, and whether it verifies is the chain verification's call. */
static bool is_self_signed(WOLFSSL_X509 *x)
{
	int need = sig_key_type(wolfSSL_X509_get_signature_type(x));

	if (wolfSSL_X509_check_issued(x, x) != X509_V_OK)
		return false;
	return need == 0 || need == wolfSSL_X509_get_pubkey_type(x);
}

/* Fills one cert_info from a certificate. */
static void fill_cert(WOLFSSL_X509 *x, struct cert_info *ci, time_t now)
{
	const char *sig = NULL;
	time_t t;

	ci->subject = name_text(wolfSSL_X509_get_subject_name(x));
	ci->issuer = name_text(wolfSSL_X509_get_issuer_name(x));
	ci->serial = serial_text(x);
	fill_sans(x, ci);
	if (trust_asn1_time(wolfSSL_X509_get_notBefore(x), &t) == 0)
		ci->not_before = rfc3339(t);
	else
		ci->not_before = strdup("");
	if (trust_asn1_time(wolfSSL_X509_get_notAfter(x), &t) == 0) {
		ci->not_after = rfc3339(t);
		ci->days_left = days_until(t, now);
	} else {
		ci->not_after = strdup("");
	}
	fill_key(x, ci);
	sig = wolfSSL_OBJ_nid2ln(wolfSSL_X509_get_signature_nid(x));
	ci->sig_alg = strdup(sig ? sig : "unknown");
	fill_fingerprint(x, ci);
	ci->self_signed = is_self_signed(x);
}

void tls_peer_describe(const struct trust_store *trust, const unsigned char *const peer[],
                       const size_t peer_len[], int n, const char *verify_host,
                       struct cert_info chain[], int *chain_len, struct tls_peer_verdict *out)
{
	time_t now = time(NULL);
	struct trust_verdict v;

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < n && *chain_len < MP_MAX_CHAIN; i++) {
		WOLFSSL_X509 *x = wolfSSL_X509_d2i(NULL, peer[i], (int)peer_len[i]);

		if (!x)
			continue;
		fill_cert(x, &chain[(*chain_len)++], now);
		if (i == 0)
			out->hostname_matched = host_matches_der(peer[i], peer_len[i], verify_host);
		wolfSSL_X509_free(x);
	}
	trust_verify(trust, peer, peer_len, n, now, &v);
	out->verified = v.verified;
	out->reasons = v.reasons;
	if (!out->hostname_matched)
		out->reasons |= TLS_VR_NAME_MISMATCH;
	snprintf(out->error, sizeof(out->error), "%s", v.error);
}
