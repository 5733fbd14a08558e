/* der.h - just enough DER (X.690) to find the parts of a certificate that
 * wolfSSL does not hand out raw: its issuer, subject and public key.
 *
 * Input is untrusted peer data: every read is bounded by the buffer's end,
 * and only definite lengths of up to three octets are accepted.
 */
#ifndef MP_DER_H
#define MP_DER_H

#include <stddef.h>

/* Reads one tag and length at *p (before end): *body and *body_len are the
 * contents, *p moves past them. Returns 0, or -1 when malformed. */
int der_next(const unsigned char **p, const unsigned char *end, unsigned char *tag,
             const unsigned char **body, size_t *body_len);

/* Raw encodings (tag, length and contents) of the fields of a certificate
 * (RFC 5280 4.1: Certificate -> tbsCertificate -> [0] version,
 * serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo). */
struct der_cert {
	const unsigned char *issuer, *subject, *spki;
	size_t issuer_len, subject_len, spki_len;
};

/* Finds those fields in a DER certificate; 0, or -1 when malformed. The
 * pointers point into der. */
int der_cert_fields(const unsigned char *der, size_t len, struct der_cert *out);

#endif
