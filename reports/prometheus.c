/* prometheus.c - placeholder until the prometheus writer lands. */
#include "report.h"

int report_write_prometheus(FILE *f, const struct run_report *r)
{
	(void)f;
	(void)r;
	return -1;
}
