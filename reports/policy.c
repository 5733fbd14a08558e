/* policy.c - rules to verdicts (placeholder: the run's state only). */
#include "report.h"

#include <stdlib.h>

int report_evaluate(struct run_report *r)
{
	r->verdicts = NULL;
	r->nverdicts = 0;
	r->state = report_exit_code(r) == MP_EXIT_OK ? PSTATE_OK : PSTATE_CRITICAL;
	return 0;
}

void report_free(struct run_report *r)
{
	free(r->verdicts);
	r->verdicts = NULL;
	r->nverdicts = 0;
}
