/* discover.h - from a domain to its mail endpoints (MX, SRV, autoconfig,
 * guesses), each with discovered_by, and the domain's policies (MTA-STS,
 * TLS-RPT, DANE). Discovery only produces endpoints and records what DNS
 * and HTTP said; the engine probes the endpoints like any other. */
#ifndef MP_DISCOVER_H
#define MP_DISCOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "probe/engine/addrs.h"
#include "probe/discover/mailpolicy.h"
#include "core/model/domain.h"
#include "core/model/result.h"
#include "core/dns.h"

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
/* Reads the answer q to the TLSA question of an MX probed on port into a
 * new d->dane[] entry (RFC 7672 2.2: used only when DNSSEC-secure). */
void dane_take(struct discovery *d, uint16_t port, const struct dns_query *q);
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
