/* discover.h - from a domain to its mail endpoints (MX, SRV, autoconfig,
 * guesses), each with discovered_by, and the domain's policies (MTA-STS,
 * TLS-RPT, DANE). Discovery only produces endpoints and records what DNS
 * and HTTP said; the engine probes the endpoints like any other. */
#ifndef MP_DISCOVER_H
#define MP_DISCOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "addrs.h"
#include "mailpolicy.h"
#include "result.h"
#include "../core/dns.h"

/* Finding codes of a domain (JSON "discovery.findings[].code"). */
#define DFIND_NULL_MX          "null_mx"
#define DFIND_NO_MX            "no_mx"
#define DFIND_MX_IS_CNAME      "mx_is_cname"
#define DFIND_MX_IS_ADDRESS    "mx_is_address"
#define DFIND_MX_NO_ADDRESS    "mx_has_no_address"
#define DFIND_SRV_NOT_OFFERED  "srv_not_offered"
#define DFIND_DNS_BOGUS        "dns_bogus"
#define DFIND_DNS_LIMIT        "dns_answer_cut"
#define DFIND_DNS_FAILED       "dns_failed"
#define DFIND_AUTOCONFIG_PLAIN "autoconfig_over_plain_http"
#define DFIND_AUTOCONFIG_BAD   "autoconfig_invalid"
#define DFIND_SRV_AUTOCONFIG   "srv_autoconfig_disagree"
#define DFIND_PUBLISHED_DEAD   "published_host_not_answering"
#define DFIND_PUBLISHED_FAILS  "published_endpoint_fails"
#define DFIND_MTASTS           "mta_sts"
#define DFIND_TLSRPT           "tls_rpt"
#define DFIND_DANE             "dane"
#define DFIND_GUESSED          "guessed"

/* Result finding codes added after the run. */
#define FINDING_MTASTS_MX_NOT_LISTED "mta_sts_mx_not_listed"
#define FINDING_MTASTS_CERT          "mta_sts_certificate_invalid"
#define FINDING_DANE_MISMATCH        "dane_mismatch"

/* Most findings of a domain, autoconfig servers kept, MX hosts handled. */
#define MP_DISC_MAX_FINDINGS 64
#define MP_DISC_MAX_MX       32

struct disc_finding {
	const char *code;
	char message[MP_MAX_ERROR];
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

/* DANE per MX host (RFC 7672): TLSA at _25._tcp.<mx>. */
struct dane_state {
	struct dane_record rec[MP_DANE_MAX_RECORDS];
	size_t nrec;
	char mx[MP_DNS_MAX_NAME];
	size_t records; /* usable TLSA records (usage 2/3, selector 0/1, type 0/1/2) */
	size_t unusable;
	enum dns_security security; /* of the TLSA answer */
	bool validated;             /* the answer was DNSSEC-secure: only then is it used */
	bool checked;               /* some address of this MX presented a chain */
	bool matched;               /* every address that presented a chain matched */
	char detail[MP_MAX_ERROR];
};

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
	bool null_mx;
	struct mtasts_state mtasts;
	struct tlsrpt_state tlsrpt;
	struct autoconfig_state autoconfig;
	struct dane_state dane[MP_DISC_MAX_MX];
	size_t ndane;
	int64_t dns_ms;  /* wall time of the DNS round trips */
	int64_t http_ms; /* wall time of the HTTPS fetches */
};

struct run_options;
struct tls_ctx;

/* Discovers opt->discover's domain through dns (and HTTPS for autoconfig and
 * MTA-STS, with tls), filling d and appending endpoints (host names, with
 * discovered_by) to *eps / *n (realloc'd). Returns 0, or -1 with err (out
 * of memory, a bad domain). DNS failures are findings, not errors. */
int discover_run(const struct run_options *opt, struct dns_client *dns, struct tls_ctx *tls,
                 int64_t deadline, struct discovery *d, struct endpoint **eps, size_t *n,
                 struct mp_error *err);

/* After the run: the findings that need the probes' results (a published
 * host that does not answer, an autoconfig/SRV endpoint that fails while
 * another works, MTA-STS certificate checks per MX, DANE matching). */
void discover_findings(struct discovery *d, struct probe_result *res, size_t n);

/* An address resolver (addrs.h) over dns: A and AAAA asked at once, bogus
 * answers refused; answers are remembered, and recorded in d when d is
 * not NULL. */
struct disc_resolver {
	struct addr_resolver r;
	struct dns_client *dns;
	struct discovery *d;
};
void discover_resolver_init(struct disc_resolver *dr, struct dns_client *dns, struct discovery *d);

void discovery_free(struct discovery *d);

/* DANE (dane.c, RFC 7672): matches each MX result's chain against the
 * validated TLSA records of its MX, fills d->dane[] and adds findings. */
void dane_findings(struct discovery *d, struct probe_result *res, size_t n);
/* Keeps a usable TLSA record (usage 2/3, selector 0/1, type 0/1/2) in ds
 * for matching; false when it is not usable. */
bool dane_add_record(struct dane_state *ds, uint8_t usage, uint8_t selector, uint8_t mtype,
                     const uint8_t *data, size_t len);
/* True when the certificate matches the record (selector and matching type;
 * the usage decides which certificates are tried). */
bool dane_cert_matches(const struct dane_record *rec, const struct cert_info *c);

/* Splits "user@domain" or "domain" into d->domain / d->email; checks the
 * domain is a host name. Returns 0 or -1 with err. */
int discover_parse_target(const char *arg, struct discovery *d, struct mp_error *err);

#endif
