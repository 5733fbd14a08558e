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

/* The table fits 80 columns: a label column, then the text wrapped at
 * spaces into TEXT_WIDTH columns, continuation lines indented. */
#define LABEL_WIDTH 16
#define TEXT_WIDTH  (80 - LABEL_WIDTH)

/* Writes s wrapped (escaped for a terminal). */
static void write_wrapped(FILE *f, const char *s)
{
	size_t len = strlen(s);

	while (len > 0) {
		size_t take = len;

		if (len > TEXT_WIDTH) {
			take = TEXT_WIDTH;
			while (take > TEXT_WIDTH / 2 && s[take] != ' ')
				take--;
			if (s[take] != ' ')
				take = TEXT_WIDTH; /* one long word: cut it */
		}
		esc_term_write(f, s, take);
		s += take;
		len -= take;
		while (len > 0 && *s == ' ') {
			s++;
			len--;
		}
		if (len > 0)
			fprintf(f, "\n%*s", LABEL_WIDTH, "");
	}
}

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
		write_wrapped(f, l[i].text);
		if (c)
			fputs(ANSI_RESET, f);
		fputc('\n', f);
	}
	fputc('\n', f);
	free(l);
	return ferror(f) ? -1 : 0;
}
