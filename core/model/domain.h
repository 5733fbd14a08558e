/* domain.h - what discovery saw of a domain (data only): its MX hosts, the
 * DNS questions asked, MTA-STS, TLS-RPT, autoconfig and DANE states, and the
 * domain's findings. Filled by probe/discover/, read by reports/. */
#ifndef MP_MODEL_DOMAIN_H
#define MP_MODEL_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/limits.h"
#include "core/dns.h"

#define MP_MTASTS_MAX_MX          32
#define MP_TLSRPT_MAX_RUA         8
#define MP_AUTOCONFIG_MAX_SERVERS 16
/* RFC 8461 3.2: max_age at most 31557600 seconds (about a year). */
#define MP_MTASTS_MAX_AGE 31557600L

enum mtasts_mode { MTASTS_NONE, MTASTS_TESTING, MTASTS_ENFORCE, MTASTS_UNKNOWN };

struct mtasts_state {
	/* the _mta-sts TXT record (RFC 8461 3.1) */
	enum dns_security txt_security;
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
	size_t nmx_total;  /* mx lines in the policy (nmx of them kept) */
	bool mx_truncated; /* more than MP_MTASTS_MAX_MX: a finding */
	char repeated[40]; /* the first field given twice ("" if none): all but the first ignored */
	char content_type[64]; /* of the policy's answer (RFC 8461 3.2 wants text/plain) */
	long max_age;          /* -1 when missing */
};

struct tlsrpt_state {
	enum dns_security security; /* of the TXT answer */
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

const char *mtasts_mode_name(enum mtasts_mode m);

/* Finding codes of a domain (JSON "discovery.findings[].code"). */
#define DFIND_NULL_MX           "null_mx"
#define DFIND_NO_MX             "no_mx"
#define DFIND_NXDOMAIN          "domain_does_not_exist"
#define DFIND_MX_IS_CNAME       "mx_is_cname"
#define DFIND_MX_IS_ADDRESS     "mx_is_address"
#define DFIND_MX_NO_ADDRESS     "mx_has_no_address"
#define DFIND_SRV_NOT_OFFERED   "srv_not_offered"
#define DFIND_DNS_BOGUS         "dns_bogus"
#define DFIND_DNS_LIMIT         "dns_answer_cut"
#define DFIND_DNS_FAILED        "dns_failed"
#define DFIND_AUTOCONFIG_PLAIN  "autoconfig_over_plain_http"
#define DFIND_AUTOCONFIG_BAD    "autoconfig_invalid"
#define DFIND_AUTOCONFIG_SOCKET "autoconfig_unknown_socket_type"
#define DFIND_SRV_AUTOCONFIG    "srv_autoconfig_disagree"
#define DFIND_PUBLISHED_DEAD    "published_host_not_answering"
#define DFIND_PUBLISHED_FAILS   "published_endpoint_fails"
#define DFIND_MTASTS            "mta_sts"
#define DFIND_TLSRPT            "tls_rpt"
#define DFIND_DANE              "dane"
#define DFIND_GUESSED           "guessed"

/* Result finding codes added after the run. */
#define FINDING_MTASTS_MX_NOT_LISTED "mta_sts_mx_not_listed"
#define FINDING_MTASTS_CERT          "mta_sts_certificate_invalid"
#define FINDING_DANE_MISMATCH        "dane_mismatch"
#define FINDING_DANE_BOGUS           "dane_tlsa_bogus"
#define FINDING_DANE_EE_NAME         "dane_ee_name_not_checked"

/* Most findings of a domain, autoconfig servers kept, MX hosts handled. */
#define MP_DISC_MAX_FINDINGS 64
#define MP_DISC_MAX_MX       32

struct disc_finding {
	const char *code;
	char message[MP_MAX_ERROR];
	unsigned char origin; /* the source that added it (discovery's own order) */
};

/* Most TLSA records of one MX kept for matching. */
#define MP_DANE_MAX_RECORDS 8

/* One usable TLSA record (RFC 6698 2.1): digest is the record's data for
 * matching types 1 (SHA-256, 32 bytes) and 2 (SHA-512, 64 bytes), and the
 * SHA-512 of the data for type 0 (exact match), compared with the SHA-512
 * of the certificate or key. */
struct dane_record {
	uint8_t usage, selector, mtype;
	uint8_t digest[64];
	size_t len;
};

/* DANE per MX host (RFC 7672): TLSA at _<port>._tcp.<mx>, the port the
 * MX is probed on (2.2.3). */
struct dane_state {
	struct dane_record rec[MP_DANE_MAX_RECORDS];
	size_t nrec;
	char mx[MP_DNS_MAX_NAME];
	uint16_t port;
	bool answered;     /* the TLSA question got an answer (NOERROR or NXDOMAIN) */
	bool nxdomain;     /* the TLSA name does not exist */
	bool bogus;        /* the TLSA answer failed validation: the MX must not be used (2.1.1) */
	size_t ee_matched; /* addresses whose leaf a DANE-EE record matched */
	size_t records;    /* usable TLSA records (usage 2/3, selector 0/1, type 0/1/2) */
	size_t unusable;
	enum dns_security security; /* of the TLSA answer */
	bool validated;             /* the answer was DNSSEC-secure: only then is it used */
	bool checked;               /* some address of this MX presented a chain */
	bool matched;               /* every address that presented a chain matched */
	const char *state;          /* DANE_STATE_* */
	char detail[MP_MAX_ERROR];
};

/* What the report says of one MX host: its addresses (A and AAAA
 * answers), whether senders may use it, MTA-STS and DANE. */
struct disc_mx_info {
	unsigned n4, n6;
	bool bogus;                 /* an address answer failed validation: the MX is unusable */
	enum dns_security security; /* the weaker of the two answers */
	/* after the run (discover_findings) */
	signed char
	    sts_match; /* -1: no valid MTA-STS policy; 0: no mx pattern matches; 1: one does */
	bool unusable; /* senders must not (or cannot) deliver there */
	char why_unusable[MP_MAX_ERROR];
	const char *dane; /* DANE_STATE_* of its TLSA set */
	bool answered;    /* some address answered as an SMTP server */
};

/* The DANE state of an MX (dane_state.state, JSON "dane"). */
#define DANE_STATE_MATCH       "match"            /* every address matched a usable TLSA record */
#define DANE_STATE_MISMATCH    "mismatch"         /* some address did not */
#define DANE_STATE_NOT_CHECKED "not_checked"      /* usable records, no chain seen */
#define DANE_STATE_UNUSABLE    "unusable_records" /* records, none usable for SMTP */
#define DANE_STATE_NONE        "none"             /* no TLSA records, proven by DNSSEC */
#define DANE_STATE_INSECURE    "not_signed"       /* the answer is not DNSSEC-signed: no DANE */
#define DANE_STATE_BOGUS       "bogus"            /* the answer failed validation: MX unusable */
#define DANE_STATE_NO_ANSWER   "no_answer"

struct discovery {
	char domain[MP_DNS_MAX_NAME];
	char email[MP_DNS_MAX_NAME + 64]; /* --discover user@domain, "" if none */
	/* every DNS question asked, in order (JSON "discovery.queries") */
	struct dns_query *queries;
	size_t nqueries, capqueries;
	struct disc_finding findings[MP_DISC_MAX_FINDINGS];
	size_t nfindings;
	char mx[MP_DISC_MAX_MX][MP_DNS_MAX_NAME]; /* MX hosts by preference */
	size_t nmx;
	uint16_t mx_pref[MP_DISC_MAX_MX];
	struct disc_mx_info mx_info[MP_DISC_MAX_MX];
	bool null_mx;
	bool null_mx_valid;            /* the only MX, preference 0, target "." (RFC 7505 3) */
	bool nxdomain;                 /* the domain does not exist (its MX answer was NXDOMAIN) */
	bool mx_answered;              /* the MX question got an answer */
	enum dns_security mx_security; /* of the MX answer */
	struct mtasts_state mtasts;
	struct tlsrpt_state tlsrpt;
	struct autoconfig_state autoconfig;
	struct dane_state dane[MP_DISC_MAX_MX];
	size_t ndane;
	int64_t dns_ms;  /* wall time of the DNS round trips */
	int64_t http_ms; /* wall time of the HTTPS fetches */
};

#endif
