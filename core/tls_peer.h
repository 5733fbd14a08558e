/* tls_peer.h - what the report says about the chain a server sent: each
 * certificate described (struct cert_info), the chain verified against the
 * trust store and the leaf matched to the host name (docs/tls.md). */
#ifndef MP_TLS_PEER_H
#define MP_TLS_PEER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/limits.h"
#include "core/strlist.h"
#include "core/trust.h"

struct cert_info {
	char *subject; /* one-line RFC 4514-ish form */
	char *issuer;
	char *serial;       /* hex */
	struct strlist san; /* "DNS:name", "IP:addr" */
	char *not_before;   /* RFC 3339 UTC */
	char *not_after;    /* RFC 3339 UTC */
	long days_left;     /* whole days until not_after (negative once expired) */
	char *key_type;     /* "RSA", "EC", "Ed25519"... */
	int key_bits;
	char *sig_alg;
	char fingerprint_sha256[65]; /* hex SHA-256 of the DER certificate, "" if unknown */
	/* For DANE (RFC 6698 2.1.2-2.1.3): SHA-256 and SHA-512 of the whole DER
	 * certificate (selector 0) and of its SubjectPublicKeyInfo (selector
	 * 1); digests_ok / spki_ok say whether they were computed. */
	bool digests_ok, spki_ok;
	unsigned char der_sha256[32], der_sha512[64];
	unsigned char spki_sha256[32], spki_sha512[64];
	bool self_signed; /* issuer = subject, key identifiers agree, signature
	                     algorithm fits the key (OpenSSL's EXFLAG_SS) */
};

/* The verdict on a chain and its host name. */
struct tls_peer_verdict {
	bool verified;            /* a path to a trusted certificate, every check passed */
	bool hostname_matched;    /* the leaf is valid for the host (x509_names.h) */
	unsigned reasons;         /* TLS_VR_* bits, TLS_VR_NAME_MISMATCH included */
	char error[MP_MAX_ERROR]; /* the first problem of the chain, "" when verified */
};

/* Describes the n DER certificates peer[] the server sent (leaf first, as
 * sent) into chain[*chain_len...], at most MP_MAX_CHAIN in all, and verifies
 * them at the current time against trust for the host verify_host. */
void tls_peer_describe(const struct trust_store *trust, const unsigned char *const peer[],
                       const size_t peer_len[], int n, const char *verify_host,
                       struct cert_info chain[], int *chain_len, struct tls_peer_verdict *out);

#endif
