/* ndjson.c - NDJSON: one JSON result per line, written and flushed as each
 * endpoint finishes, then one summary line ({"type": "summary", ...}). The
 * objects are json.c's (reports/schema.json, $defs/ndjson_line). */
#include "reports/report.h"

#include <cjson/cJSON.h>

/* Writes obj on one line and flushes; frees obj. */
static int put_line(FILE *f, cJSON *obj)
{
	char *text = NULL;
	int rc = -1;

	if (!obj)
		return -1;
	text = cJSON_PrintUnformatted(obj);
	if (text && fputs(text, f) >= 0 && fputc('\n', f) != EOF && fflush(f) == 0)
		rc = 0;
	cJSON_free(text);
	cJSON_Delete(obj);
	return rc;
}

int report_write_ndjson_result(FILE *f, const struct run_report *r, size_t i)
{
	if (i >= r->n)
		return -1;
	return put_line(f, report_json_result(&r->results[i], r->opt));
}

int report_write_ndjson_summary(FILE *f, const struct run_report *r)
{
	return put_line(f, report_json_summary_line(r));
}

int report_write_ndjson(FILE *f, const struct run_report *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (report_write_ndjson_result(f, r, i) != 0)
			return -1;
	return report_write_ndjson_summary(f, r);
}
