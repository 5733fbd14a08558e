/* table_domain.c - the domain section at the top of the table
 * (--discover): domain_view.h's lines, labelled, escaped for a terminal. */
#include "reports/domain_view.h"
#include "reports/escape.h"

#include <stdlib.h>
#include <string.h>

#define ANSI_RED    "\033[31m"
#define ANSI_GREEN  "\033[32m"
#define ANSI_YELLOW "\033[33m"
#define ANSI_RESET  "\033[0m"

int table_write_domain(FILE *f, const struct run_report *r, bool color)
{
	struct dline *l = NULL;
	size_t n;

	if (!r->discovery)
		return 0;
	l = calloc(MP_DLINES_MAX, sizeof(*l));
	if (!l)
		return -1;
	n = domain_lines(r, l);
	fputs("Domain:\n", f);
	for (size_t i = 0; i < n; i++) {
		const char *c = !color                ? NULL
		                : l[i].sev == DL_BAD  ? ANSI_RED
		                : l[i].sev == DL_WARN ? ANSI_YELLOW
		                : l[i].sev == DL_OK   ? ANSI_GREEN
		                                      : NULL;

		fprintf(f, "  %-11s%s", l[i].label,
		        l[i].sev == DL_BAD    ? "!! "
		        : l[i].sev == DL_WARN ? "!  "
		                              : "   ");
		if (c)
			fputs(c, f);
		esc_term_write(f, l[i].text, strlen(l[i].text));
		if (c)
			fputs(ANSI_RESET, f);
		fputc('\n', f);
	}
	fputc('\n', f);
	free(l);
	return ferror(f) ? -1 : 0;
}
