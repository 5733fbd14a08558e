/* writer.c - the table of report writers (one file per format) and the
 * helpers the machine formats share. */
#include "reports/report.h"

#include <string.h>

static int write_table(FILE *f, const struct run_report *r, const struct writer_ctx *ctx)
{
	return report_write_table(f, r, ctx && ctx->color);
}

static int write_json(FILE *f, const struct run_report *r, const struct writer_ctx *ctx)
{
	(void)ctx;
	return report_write_json(f, r);
}

static int write_nagios(FILE *f, const struct run_report *r, const struct writer_ctx *ctx)
{
	(void)ctx;
	return report_write_nagios(f, r);
}

static int write_junit(FILE *f, const struct run_report *r, const struct writer_ctx *ctx)
{
	(void)ctx;
	return report_write_junit(f, r);
}

static int write_prometheus(FILE *f, const struct run_report *r, const struct writer_ctx *ctx)
{
	(void)ctx;
	return report_write_prometheus(f, r);
}

static int write_html(FILE *f, const struct run_report *r, const struct writer_ctx *ctx)
{
	(void)ctx;
	return report_write_html(f, r);
}

static int write_ndjson(FILE *f, const struct run_report *r, const struct writer_ctx *ctx)
{
	(void)ctx;
	return report_write_ndjson(f, r);
}

static const struct report_writer writers[FORMAT_COUNT] = {
    [FORMAT_TABLE] = {.format = FORMAT_TABLE,
                      .name = "table",
                      .content_type = "text/plain; charset=utf-8",
                      .write = write_table},
    [FORMAT_JSON] = {.format = FORMAT_JSON,
                     .name = "json",
                     .content_type = "application/json",
                     .write = write_json},
    [FORMAT_NAGIOS] = {.format = FORMAT_NAGIOS,
                       .name = "nagios",
                       .content_type = "text/plain; charset=utf-8",
                       .write = write_nagios},
    [FORMAT_JUNIT] = {.format = FORMAT_JUNIT,
                      .name = "junit",
                      .content_type = "application/xml",
                      .write = write_junit},
    [FORMAT_PROMETHEUS] = {.format = FORMAT_PROMETHEUS,
                           .name = "prometheus",
                           .content_type = "text/plain; version=0.0.4; charset=utf-8",
                           .write = write_prometheus},
    [FORMAT_HTML] = {.format = FORMAT_HTML,
                     .name = "html",
                     .content_type = "text/html; charset=utf-8",
                     .write = write_html},
    [FORMAT_NDJSON] = {.format = FORMAT_NDJSON,
                       .name = "ndjson",
                       .content_type = "application/x-ndjson",
                       .write = write_ndjson,
                       .write_result = report_write_ndjson_result,
                       .write_summary = report_write_ndjson_summary},
};

const struct report_writer *report_writer_for(enum output_format fmt)
{
	if ((unsigned)fmt >= FORMAT_COUNT)
		return NULL;
	return &writers[fmt];
}

int report_format_parse(const char *name)
{
	for (int i = 0; name && i < FORMAT_COUNT; i++)
		if (strcmp(name, writers[i].name) == 0)
			return i;
	return -1;
}

const char *report_format_list(void)
{
	return "table, json, ndjson, nagios, junit, prometheus or html";
}

void report_endpoint_url(const struct endpoint *ep, char *buf, size_t len)
{
	static const char *const suffix[MODE_COUNT] = {
	    [MODE_PLAIN] = "", [MODE_STARTTLS] = "+starttls", [MODE_TLS] = "s"};
	bool v6 = strchr(ep->host, ':') != NULL;

	snprintf(buf, len, "%s%s://%s%s%s:%u", protocol_name(ep->proto),
	         (unsigned)ep->mode < MODE_COUNT ? suffix[ep->mode] : "", v6 ? "[" : "", ep->host,
	         v6 ? "]" : "", (unsigned)ep->port);
}

void report_endpoint_name(const struct endpoint *ep, char *buf, size_t len)
{
	size_t used;

	report_endpoint_url(ep, buf, len);
	used = strlen(buf);
	if (ep->proxy && used < len) {
		bool v6 = strchr(ep->proxy->host, ':') != NULL;

		snprintf(buf + used, len - used, " via %s://%s%s%s:%u",
		         proxy_type_name(ep->proxy->type), v6 ? "[" : "", ep->proxy->host,
		         v6 ? "]" : "", (unsigned)ep->proxy->port);
	}
}
