/* mailpolicy.h - parsers for what a domain publishes about its mail: the
 * MTA-STS TXT record and policy file (RFC 8461), the TLS-RPT record
 * (RFC 8460) and the autoconfig file mail clients fetch (Thunderbird's
 * config-v1.1.xml). Pure functions over untrusted bytes: bounded, no
 * allocation, fuzzed (tests/fuzz/fuzz_mailpolicy.c). */
#ifndef MP_MAILPOLICY_H
#define MP_MAILPOLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../core/limits.h"

#define MP_MTASTS_MAX_MX          16
#define MP_TLSRPT_MAX_RUA         8
#define MP_AUTOCONFIG_MAX_SERVERS 16
/* RFC 8461 3.2: max_age at most 31557600 seconds (about a year). */
#define MP_MTASTS_MAX_AGE 31557600L

enum mtasts_mode { MTASTS_NONE, MTASTS_TESTING, MTASTS_ENFORCE, MTASTS_UNKNOWN };

struct mtasts_state {
	/* the _mta-sts TXT record (RFC 8461 3.1) */
	bool txt_present;
	bool txt_valid;
	char txt_id[33];
	char txt_error[MP_MAX_ERROR];
	/* the policy file (RFC 8461 3.2, 3.3) */
	bool fetched; /* a 200 answer with a body was read */
	char url[300];
	int http_status; /* 0 when no HTTP answer */
	bool policy_valid;
	char policy_error[MP_MAX_ERROR];
	enum mtasts_mode mode;
	char mx[MP_MTASTS_MAX_MX][256]; /* patterns, as published */
	size_t nmx;
	bool mx_truncated;
	long max_age; /* -1 when missing */
};

struct tlsrpt_state {
	bool present;
	bool valid;
	char error[MP_MAX_ERROR];
	char rua[MP_TLSRPT_MAX_RUA][256];
	size_t nrua;
};

struct autoconfig_server {
	bool incoming; /* incomingServer, else outgoingServer */
	char type[16]; /* "imap", "pop3", "smtp" */
	char hostname[256];
	uint16_t port;
	char socket_type[16];    /* "SSL", "STARTTLS", "plain" */
	char authentication[32]; /* the first one given */
};

struct autoconfig_state {
	bool fetched;
	char url[300];
	bool over_plain_http; /* only the plain-HTTP fallback answered */
	int http_status;
	bool valid;
	char error[MP_MAX_ERROR];
	struct autoconfig_server servers[MP_AUTOCONFIG_MAX_SERVERS];
	size_t n;
	bool truncated;
};

/* RFC 8461 3.1: "v=STSv1; id=...". Returns 0 when valid (id set), -1 with txt_error. */
int mtasts_parse_txt(const char *txt, size_t len, struct mtasts_state *st);
/* RFC 8461 3.2: the policy file's "key: value" lines. Returns 0 when valid. */
int mtasts_parse_policy(const char *body, size_t len, struct mtasts_state *st);
/* RFC 8461 4.1: mx matches pattern (a "*." wildcard covers one leftmost label). */
bool mtasts_mx_matches(const char *pattern, const char *mx);
const char *mtasts_mode_name(enum mtasts_mode m);

/* RFC 8460 3: "v=TLSRPTv1; rua=mailto:...,https://...". Returns 0 when valid. */
int tlsrpt_parse(const char *txt, size_t len, struct tlsrpt_state *st);

/* Parses a config-v1.1.xml body: incomingServer / outgoingServer with
 * hostname, port, socketType, authentication. A small reader for that one
 * format: no DTD, no entity definitions (a body with "<!DOCTYPE" or
 * "<!ENTITY" is refused), only the five predefined entities decoded.
 * %EMAILDOMAIN% in a hostname becomes domain. Returns 0 when at least one
 * server was read, -1 with st->error. */
int autoconfig_parse(const char *xml, size_t len, const char *domain, struct autoconfig_state *st);

#endif
