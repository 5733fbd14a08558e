/* dns.h - a thin DNS client over libunbound: asynchronous, DNSSEC-validating
 * queries returning records with their TTL and the answer's security status.
 * It knows record types, never mail: discovery (probe/discover.c) decides
 * what the records mean.
 *
 * Everything in an answer is untrusted server data: names and TXT text are
 * kept as received (bounded), to be escaped by whoever prints them. */
#ifndef MP_DNS_H
#define MP_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/limits.h"
#include "core/status.h"

/* Record types (RFC 1035 3.2.2, RFC 3596, RFC 2782, RFC 6698). */
enum dns_type {
	DNS_T_A = 1,
	DNS_T_CNAME = 5,
	DNS_T_MX = 15,
	DNS_T_TXT = 16,
	DNS_T_AAAA = 28,
	DNS_T_SRV = 33,
	DNS_T_TLSA = 52,
};

/* The DNSSEC status of an answer (RFC 4035 4.3). */
enum dns_security {
	DNS_SEC_INSECURE, /* "insecure": not signed (or no chain of trust to it) */
	DNS_SEC_SECURE,   /* "secure": validated from the trust anchor */
	DNS_SEC_BOGUS,    /* "bogus": signed, but validation failed: never use the data */
};

/* One record, parsed by type. Names are in presentation form without the
 * trailing dot ("" for the root, i.e. a null MX or an SRV target "."). */
struct dns_rr {
	uint16_t type;
	uint32_t ttl;
	union {
		char addr[64];              /* A, AAAA: numeric text */
		char name[MP_DNS_MAX_NAME]; /* CNAME */
		struct {
			uint16_t preference;
			char host[MP_DNS_MAX_NAME];
		} mx;
		struct {
			uint16_t priority, weight, port;
			char target[MP_DNS_MAX_NAME];
		} srv;
		struct {
			char text[MP_DNS_MAX_TXT + 1]; /* character-strings joined (RFC 7208 3.3) */
			size_t len;
			bool truncated;
			bool has_nul;
		} txt;
		struct {
			uint8_t usage, selector, mtype;
			uint8_t data[MP_DNS_MAX_TLSA_DATA]; /* the first bytes (for printing) */
			size_t len;
			bool truncated;
			size_t full_len;         /* the data's real length */
			uint8_t full_sha512[64]; /* SHA-512 of all full_len bytes */
		} tlsa;
	} u;
};

/* One question and, once asked, its answer. */
struct dns_query {
	char name[MP_DNS_MAX_NAME];
	uint16_t type;
	/* answer */
	bool done;
	enum mp_status status;    /* MP_OK when the server answered (even NXDOMAIN) */
	char error[MP_MAX_ERROR]; /* why not, "" when answered */
	int rcode;                /* 0 NOERROR, 3 NXDOMAIN, 2 SERVFAIL... */
	bool nxdomain;
	enum dns_security security;
	char why_bogus[MP_MAX_ERROR];
	char canonname[MP_DNS_MAX_NAME]; /* after CNAMEs, "" if none */
	struct dns_rr *rr;               /* malloc'd, n of them */
	size_t n;
	size_t n_total; /* records in the answer (n <= MP_DNS_MAX_RRS) */
	size_t n_bad;   /* records that did not parse */
	int64_t time_ms;
};

struct dns_client;

/* A client: with resolver ("ADDR" or "ADDR@PORT") it forwards every query
 * there, else it uses the system's resolvers (/etc/resolv.conf); with
 * anchor_file (DS or DNSKEY records in zone-file form) it validates from that
 * trust anchor, else from the root's (when the system has it). With a
 * resolver, the special-use names test. and invalid. are asked there too
 * instead of being answered NXDOMAIN locally. Returns NULL with err. */
struct dns_client *dns_new(const char *resolver, const char *anchor_file, struct mp_error *err);
void dns_free(struct dns_client *c);

/* Asks every query of q[0..n) at once and waits for all answers, or the
 * deadline (unanswered queries then have MP_ERR_DNS, "timed out").
 * Thread-safe (one batch at a time per client). */
void dns_resolve(struct dns_client *c, struct dns_query *q, size_t n, int64_t deadline);

/* Sets up a query (answer fields cleared). */
void dns_query_init(struct dns_query *q, const char *name, uint16_t type);
/* Frees a query's records. */
void dns_query_free(struct dns_query *q);

/* "A", "MX"... ("TYPE52" style for others; static or in buf). */
const char *dns_type_name(uint16_t type);
/* "insecure", "secure", "bogus". */
const char *dns_security_name(enum dns_security s);
/* The record in presentation form ("10 mx.example.test", "\"v=STSv1; ...\""),
 * non-printable bytes as \DDD (RFC 1035 5.1); bounded by size. */
void dns_rr_text(const struct dns_rr *rr, char *out, size_t size);

/* Parses the RDATA of one record of type (wire form, names uncompressed as
 * libunbound gives them). Returns 0, or -1 when it is malformed. Pure, for
 * the fuzzer and the unit tests. */
int dns_parse_rdata(uint16_t type, const uint8_t *rdata, size_t len, struct dns_rr *rr);
/* Decodes a wire-form name at p[0..len) into presentation form (no trailing
 * dot, "" for the root). Returns the bytes it took, or -1. */
int dns_parse_name(const uint8_t *p, size_t len, char *out, size_t size);

#endif
