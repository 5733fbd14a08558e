/* x509_names.h - the names in a certificate: the host name a client asks
 * for, whether a leaf is valid for it, and name constraints.
 *
 * One rule set for host names, used for SNI, for matching and (through
 * host_canonical) for every place that compares a host: RFC 6125 section 6
 * with the subject CN as a fallback when the certificate has no dNSName
 * (what OpenSSL's X509_check_host does by default):
 *  - a name is compared as IDNA2008 A-labels (libidn2), case-insensitive,
 *    one trailing dot ignored; a wildcard is only the whole left-most label
 *    of a presented name with at least two labels after it, and matches
 *    exactly one label;
 *  - an address, in any spelling inet_aton or inet_pton reads (127.1,
 *    2130706433, 0x7f.0.0.1, ::ffff:1.2.3.4), is compared in binary with
 *    the iPAddress SANs only, never with DNS names or the CN.
 */
#ifndef MP_X509_NAMES_H
#define MP_X509_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "core/der.h"

/* Longest host name we handle (RFC 1035: 253 octets, plus slack). */
#define HOST_MAX 256

enum host_kind {
	HOST_INVALID, /* empty, too long, or not a valid IDNA2008 name */
	HOST_NAME,    /* out: lower-case A-labels, no trailing dot */
	HOST_IPV4,    /* out: dotted quad; addr: 4 bytes */
	HOST_IPV6,    /* out: RFC 5952 text; addr: 16 bytes */
};

struct host_id {
	enum host_kind kind;
	char text[HOST_MAX]; /* canonical spelling */
	unsigned char addr[16];
	int addr_len;
};

/* Canonical form of a host as typed ("Bücher.Example.", "127.1", "[::1]").
 * Returns its kind; id->text is "" for HOST_INVALID. */
enum host_kind host_canonical(const char *host, struct host_id *id);

/* True if the leaf (its parsed fields and extensions) is valid for host. */
bool host_matches_cert(const struct der_cert *c, const struct der_exts *e, const char *host);

/* Same, from the DER certificate. */
bool host_matches_der(const unsigned char *der, size_t len, const char *host);

/* Results of a name-constraints check (RFC 5280 4.2.1.10). */
enum nc_result {
	NC_OK,
	NC_PERMITTED_VIOLATION, /* a name outside every permitted subtree of its type */
	NC_EXCLUDED_VIOLATION,  /* a name inside an excluded subtree */
	NC_UNSUPPORTED,         /* a constraint or name we cannot judge, or malformed */
};

/* Checks the names of certificate c (subject, its emailAddress attributes,
 * its SANs and, when check_cn, a subject CN that looks like a host name and
 * stands in for a missing dNSName) against the nameConstraints contents nc
 * of a CA above it. */
enum nc_result nc_check(const unsigned char *nc, size_t nc_len, const struct der_cert *c,
                        const struct der_exts *e, bool check_cn);

#endif
