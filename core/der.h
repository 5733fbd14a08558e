/* der.h - just enough DER (X.690) to read the parts of a certificate that
 * path validation needs (RFC 5280 4.1 and 4.2): names, validity, key, and
 * the extensions that constrain a path.
 *
 * Input is untrusted peer data: every read is bounded by the buffer's end,
 * and only definite lengths of up to three octets are accepted. Every
 * pointer handed out points into the certificate's own bytes.
 */
#ifndef MP_DER_H
#define MP_DER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Reads one tag and length at *p (before end): *body and *body_len are the
 * contents, *p moves past them. Returns 0, or -1 when malformed. */
int der_next(const unsigned char **p, const unsigned char *end, unsigned char *tag,
             const unsigned char **body, size_t *body_len);

/* Raw encodings (tag, length and contents) of the fields of a certificate
 * (RFC 5280 4.1: Certificate -> tbsCertificate -> [0] version,
 * serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo,
 * [3] extensions). */
struct der_cert {
	const unsigned char *issuer, *subject, *spki;
	size_t issuer_len, subject_len, spki_len;
	int version;                  /* 0 = v1, 2 = v3 */
	time_t not_before, not_after; /* UTC */
	const unsigned char *exts;    /* contents of the SEQUENCE OF Extension, or NULL */
	size_t exts_len;
	const unsigned char *key;     /* contents of the subjectPublicKey BIT STRING (after */
	size_t key_len;               /* the unused-bits octet) */
	const unsigned char *key_alg; /* contents of the key's algorithm OID */
	size_t key_alg_len;
	bool sig_alg_mismatch; /* tbsCertificate.signature != signatureAlgorithm */
	bool weak_sig;         /* signed with MD2, MD5 or SHA-1 */
	bool bad_serial;       /* zero, negative or over 20 octets (RFC 5280 4.1.2.2) */
};

/* Finds those fields in a DER certificate; 0, or -1 when malformed. */
int der_cert_fields(const unsigned char *der, size_t len, struct der_cert *out);

/* Key usage bits (RFC 5280 4.2.1.3), as bit numbers in the BIT STRING. */
enum {
	DER_KU_DIGITAL_SIGNATURE = 1u << 0,
	DER_KU_KEY_ENCIPHERMENT = 1u << 2,
	DER_KU_KEY_AGREEMENT = 1u << 4,
	DER_KU_KEY_CERT_SIGN = 1u << 5,
};

/* The extensions path validation reads (RFC 5280 4.2.1). */
struct der_exts {
	bool bc, ca;              /* basicConstraints present, cA */
	long pathlen;             /* pathLenConstraint, -1 when absent */
	bool ku;                  /* keyUsage present */
	unsigned ku_bits;         /* DER_KU_* */
	bool eku;                 /* extKeyUsage present */
	bool eku_server, eku_any; /* it lists serverAuth (or SGC), anyExtendedKeyUsage */
	const unsigned char *san; /* contents of subjectAltName's GeneralNames, or NULL */
	size_t san_len;
	const unsigned char *nc; /* contents of nameConstraints' SEQUENCE, or NULL */
	size_t nc_len;
	const unsigned char *aki; /* authorityKeyIdentifier keyIdentifier, or NULL */
	size_t aki_len;
	const unsigned char *ski; /* subjectKeyIdentifier, or NULL */
	size_t ski_len;
	bool must_staple; /* TLS feature status_request (RFC 7633) */
	bool nc_critical, san_critical;
	bool pc_noncritical;   /* policyConstraints not critical (RFC 5280 4.2.1.11) */
	bool unknown_critical; /* a critical extension we do not process */
};

/* Reads the extensions of c; 0, or -1 when one is malformed or appears
 * twice (RFC 5280 4.2). */
int der_cert_exts(const struct der_cert *c, struct der_exts *e);

/* Walks a GeneralNames body (or a single GeneralName at *p): the name's
 * tag (context class, e.g. 0x82 dNSName, 0xa4 directoryName) and its
 * contents (for directoryName: the Name SEQUENCE, tag and all). */
int der_general_name(const unsigned char **p, const unsigned char *end, unsigned char *tag,
                     const unsigned char **val, size_t *val_len);

/* Calls fn for each attribute of a Name (SEQUENCE OF RDN, tag included)
 * whose type is the OID oid (contents, e.g. 55 04 03 for commonName) with
 * the attribute value's contents; stops when fn returns non-zero and
 * returns that, or -1 when the name is malformed. */
int der_name_each(const unsigned char *name, size_t len, const unsigned char *oid, size_t oid_len,
                  int (*fn)(void *arg, const unsigned char *v, size_t vlen), void *arg);

/* OIDs (contents) of commonName and emailAddress. */
extern const unsigned char der_oid_cn[3];
extern const unsigned char der_oid_email[9];

#endif
