/* mailpolicy.h - parsers for what a domain publishes about its mail: the
 * MTA-STS TXT record and policy file (RFC 8461), the TLS-RPT record
 * (RFC 8460) and the autoconfig file mail clients fetch (Thunderbird's
 * config-v1.1.xml). Pure functions over untrusted bytes, bounded and
 * fuzzed (tests/fuzz/fuzz_domain.c); the record and policy parsers
 * (mailpolicy.c) allocate nothing, the autoconfig reader (autoconfig.c)
 * only libxml2's document, freed before it returns. */
#ifndef MP_MAILPOLICY_H
#define MP_MAILPOLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/limits.h"

#include "core/model/domain.h"

/* RFC 8461 3.1: "v=STSv1; id=...", strictly per the ABNF. Returns 0 when
 * valid (id set), -1 with txt_error. */
int mtasts_parse_txt(const char *txt, size_t len, struct mtasts_state *st);
/* RFC 8461 3.2: the policy file's "key: value" lines, per the ABNF (no
 * empty line, the key at the start of the line); of a repeated field
 * only the first counts (its name in st->repeated); mx patterns past
 * MP_MTASTS_MAX_MX are counted in nmx_total and set mx_truncated. Returns
 * 0 when valid. */
int mtasts_parse_policy(const char *body, size_t len, struct mtasts_state *st);
/* RFC 8461 4.1: mx matches pattern (a "*." wildcard covers one leftmost label). */
bool mtasts_mx_matches(const char *pattern, const char *mx);

/* RFC 8460 3: "v=TLSRPTv1; rua=mailto:...,https://...", strictly per the
 * ABNF (one rua field). Returns 0 when valid. */
int tlsrpt_parse(const char *txt, size_t len, struct tlsrpt_state *st);

/* Parses a config-v1.1.xml body (autoconfig.c, libxml2): the
 * incomingServer / outgoingServer elements of emailProvider with hostname,
 * port, socketType, authentication. XML that is not well-formed is refused
 * with the parser's message, and so is any DTD; no network access, no
 * entity expansion. %EMAILDOMAIN% in a hostname becomes domain. Returns 0
 * when at least one server was read, -1 with st->error. */
int autoconfig_parse(const char *xml, size_t len, const char *domain, struct autoconfig_state *st);

#endif
