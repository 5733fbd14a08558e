/* trust.h - the CA store, read once, and certificate chain verification
 * outside the TLS handshake.
 *
 * Why not let wolfSSL verify during the handshake: wolfSSL (5.5.4) adds the
 * CA certificates a peer sends to the trust store of the context that
 * verified them, so one context shared by many probes would let one
 * server's intermediate vouch for another server's chain, and a context of
 * one's own per handshake means parsing the whole CA store every time
 * (~4 ms and ~400 KiB held per probe with Debian's bundle). So the store is
 * parsed once into a read-only index by subject name, and each chain is
 * checked against a small throw-away set: the anchors its issuer names and
 * the intermediates it came with.
 *
 * The path is built as OpenSSL builds it (trusted certificates first, then
 * the peer's certificates by subject name, any order); signatures are
 * checked by wolfSSL, validity dates here. Every problem found adds its
 * TLS_VR_* reason (tls.h); the first is described in the error text, in
 * OpenSSL's words with its depth ("certificate has expired (depth 0)").
 */
#ifndef MP_TRUST_H
#define MP_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include "core/limits.h"
#include "core/status.h"

struct trust_store;

/* Why a chain or name did not verify: bits of tls_info.verify_reasons. */
enum tls_verify_reason {
	TLS_VR_EXPIRED = 1u << 0,        /* "expired" */
	TLS_VR_NOT_YET_VALID = 1u << 1,  /* "not_yet_valid" */
	TLS_VR_UNKNOWN_ISSUER = 1u << 2, /* "unknown_issuer": no trusted issuer found
	                                    (a private CA, or an incomplete chain) */
	TLS_VR_SELF_SIGNED = 1u << 3,    /* "self_signed" */
	TLS_VR_BAD_SIGNATURE = 1u << 4,  /* "bad_signature" */
	TLS_VR_NO_CERTIFICATE = 1u << 5, /* "no_certificate" */
	TLS_VR_OTHER = 1u << 6,          /* "other": see verify_error */
	TLS_VR_NAME_MISMATCH = 1u << 7,  /* "name_mismatch": the leaf is not for the host */
};
#define TLS_VR_COUNT 8

/* Stable name of one TLS_VR_* bit (as listed above), NULL for others. */
const char *tls_verify_reason_name(unsigned bit);

/* Reads the CA store: cafile (PEM, any number of certificates) and/or capath
 * (every regular file in the directory), or with both NULL the system store
 * (its absence is not an error: every chain is then unverified). Errors name
 * the file or directory that is unreadable or holds no certificate. */
enum mp_status trust_load(const char *cafile, const char *capath, struct trust_store **out,
                          struct mp_error *err);
/* A store of the PEM certificates in a buffer (none is no error). */
enum mp_status trust_load_pem(const char *pem, size_t len, struct trust_store **out,
                              struct mp_error *err);
void trust_free(struct trust_store *ts);

/* How many distinct certificates the store holds. */
size_t trust_count(const struct trust_store *ts);

struct trust_verdict {
	bool verified;            /* a path to a trusted certificate, every check passed */
	unsigned reasons;         /* TLS_VR_* bits of every problem found */
	char error[MP_MAX_ERROR]; /* the first problem, "" when verified */
};

/* Verifies the chain a peer sent (DER, leaf first, as sent; n may be 0) at
 * time now. Thread-safe: ts is only read. */
void trust_verify(const struct trust_store *ts, const unsigned char *const der[],
                  const size_t len[], int n, time_t now, struct trust_verdict *v);

/* Seconds since the epoch (UTC) of an ASN.1 time; 0, or -1 if it cannot be
 * read. */
struct WOLFSSL_ASN1_TIME;
int trust_asn1_time(const struct WOLFSSL_ASN1_TIME *t, time_t *out);

#endif
