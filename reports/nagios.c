/* nagios.c - placeholder until the nagios writer lands. */
#include "report.h"

int report_write_nagios(FILE *f, const struct run_report *r)
{
	(void)f;
	(void)r;
	return -1;
}
