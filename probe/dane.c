/* dane.c - DANE for SMTP (RFC 7672, RFC 6698): TLSA records matched against
 * the chain each MX presented. */
#include "discover.h"

#include <stdio.h>

void dane_findings(struct discovery *d, struct probe_result *res, size_t n)
{
	(void)res;
	(void)n;
	for (size_t i = 0; i < d->ndane; i++)
		if (!d->dane[i].detail[0])
			snprintf(d->dane[i].detail, sizeof(d->dane[i].detail), "TLSA matching against the chain is not implemented yet: not checked");
}
