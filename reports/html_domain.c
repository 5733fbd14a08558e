/* html_domain.c - the domain section at the top of the HTML report
 * (--discover): domain_view.h's lines as a table, text escaped. */
#include "reports/domain_view.h"

#include <stdlib.h>

int html_write_domain(FILE *f, const struct run_report *r)
{
	static const char *const cls[] = {[DL_INFO] = "",
	                                  [DL_OK] = " class=\"ok\"",
	                                  [DL_WARN] = " class=\"warn\"",
	                                  [DL_BAD] = " class=\"fail\""};
	struct dline *l = NULL;
	size_t n;
	int rc = 0;

	if (!r->discovery)
		return 0;
	l = calloc(MP_DLINES_MAX, sizeof(*l));
	if (!l)
		return -1;
	n = domain_lines(r, l);
	fputs("<h2>Domain</h2>\n<div class=\"scroll\"><table class=\"rows domain\">\n"
	      "<thead><tr><th>what</th><th>seen</th></tr></thead><tbody>\n",
	      f);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "<tr%s><td>", cls[l[i].sev]);
		rc |= report_html_text(f, l[i].label);
		fputs("</td><td>", f);
		rc |= report_html_text(f, l[i].text);
		fputs("</td></tr>\n", f);
	}
	fputs("</tbody></table></div>\n", f);
	free(l);
	return rc || ferror(f) ? -1 : 0;
}
