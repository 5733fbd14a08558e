/* tls_version.h - SSL/TLS protocol versions by name and wire value. */
#ifndef MP_TLS_VERSION_H
#define MP_TLS_VERSION_H

/* Versions on the wire (RFC 6101, RFC 2246, 4346, 5246, 8446). */
#define MP_SSL_V3   0x0300
#define MP_TLS_V1_0 0x0301
#define MP_TLS_V1_1 0x0302
#define MP_TLS_V1_2 0x0303
#define MP_TLS_V1_3 0x0304

/* "SSLv3", "TLSv1.0" ... "TLSv1.3" for a wire version, NULL when unknown. */
const char *tlsprobe_version_name(int version);
/* The wire version a user or a report names: "1.2", "tls1.2", "TLSv1.2",
 * "3.0", "SSLv3" (case-insensitive); -1 when unknown. */
int tlsprobe_version_parse(const char *s);

#endif
