/* domain_view.h - what the human reports (table, HTML) say about a domain
 * found by --discover, as a list of labelled lines: the domain, its MX
 * hosts (preference, address families, DNSSEC, MTA-STS match, DANE), a
 * null MX, MTA-STS, TLS-RPT, autoconfig, the inbound recommendation and the
 * domain's findings. One source for both writers; the JSON says the same
 * in its own structure. Texts hold server data: escape when printing. */
#ifndef MP_DOMAIN_VIEW_H
#define MP_DOMAIN_VIEW_H

#include <stddef.h>
#include "reports/report.h"
#include "core/model/domain.h"

enum dline_sev { DL_INFO, DL_OK, DL_WARN, DL_BAD };

struct dline {
	const char *label; /* "domain", "MX", "MTA-STS"...; static */
	char text[400];
	enum dline_sev sev;
};

/* Most lines: the fixed ones, one per MX, one per finding. */
#define MP_DLINES_MAX (12 + MP_DISC_MAX_MX + MP_DISC_MAX_FINDINGS)

/* Fills out[0..MP_DLINES_MAX) for r->discovery (none without one);
 * returns how many. */
size_t domain_lines(const struct run_report *r, struct dline *out);

#endif
