/* junit.c - JUnit XML as Jenkins and GitLab read it (schema kept in
 * tests/data/junit.xsd):
 *
 *   <testsuites name="mailprobe" tests failures errors skipped time>
 *     <testsuite name="HOST">          one per target host, first-seen order
 *       <testcase classname="mailprobe.HOST" name="URL" time>   the probe
 *         <error message type>        when the probe did not succeed
 *         <system-out>row</system-out>
 *       <testcase classname="mailprobe.HOST" name="URL RULE">    each verdict
 *         <failure message type="WARNING|CRITICAL">
 *       <testcase classname="mailprobe.HOST" name="URL check NAME">  each
 *         active check: <failure type="fail"> / <skipped> / evidence in
 *         <system-out> (inconclusive passes, its evidence says why)
 *     <testsuite name="run">           run-level verdicts
 *
 * The writer decides nothing. Every string is made valid UTF-8
 * (esc_json_dup), characters XML 1.0 does not allow become \xHH, and the
 * markup characters become entities.
 */
#include "reports/report.h"
#include "reports/escape.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Room for an endpoint URL and its proxy. */
#define JUNIT_URL_MAX 640
/* Name of the testsuite holding run-level verdicts. */
#define JUNIT_RUN_SUITE "run"

/* Writes untrusted text s (may be NULL) escaped for sink. Returns 0, or -1
 * when out of memory. */
static int put_xml(FILE *f, const char *s, enum esc_markup_sink sink)
{
	char *u = esc_json_dup(s ? s : "", s ? strlen(s) : 0);

	if (!u)
		return -1;
	esc_markup_write(f, u, sink);
	free(u);
	return 0;
}

/* Writes a duration in ms as seconds ("0.012"); negative counts as 0. */
static void put_seconds(FILE *f, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	fprintf(f, "%" PRId64 ".%03" PRId64, ms / 1000, ms % 1000);
}

/* True when verdict v belongs to the run, not to one endpoint. */
static bool run_level(const struct run_report *r, const struct verdict *v)
{
	return v->endpoint < 0 || (size_t)v->endpoint >= r->n;
}

/* Counts of one testsuite (or of all of them). */
struct junit_counts {
	size_t tests, failures, errors, skipped;
	int64_t ms;
};

/* Adds the testcase of result res to c. */
static void count_endpoint(struct junit_counts *c, const struct probe_result *res)
{
	c->tests++;
	if (res->status == MP_ERR_SKIPPED)
		c->skipped++;
	else if (res->status != MP_OK)
		c->errors++;
	if (res->t.total > 0)
		c->ms += res->t.total;
}

/* Adds the testcase of verdict v to c: WARNING and CRITICAL are failures,
 * UNKNOWN (the rule could not be evaluated) an error. */
static void count_verdict(struct junit_counts *c, const struct verdict *v)
{
	c->tests++;
	if (v->state == PSTATE_WARNING || v->state == PSTATE_CRITICAL)
		c->failures++;
	else if (v->state != PSTATE_OK)
		c->errors++;
}

/* Adds the testcases of res's active checks to c. */
static void count_checks(struct junit_counts *c, const struct probe_result *res)
{
	for (size_t k = 0; res->checks && k < res->nchecks; k++) {
		c->tests++;
		if (res->checks[k].state == CHECK_FAIL)
			c->failures++;
		else if (res->checks[k].state == CHECK_SKIPPED)
			c->skipped++;
	}
}

/* What the writer works from: the suite of each result (the index of the
 * first result with the same host) and the counts of each suite (index
 * n: the run-level suite). */
struct junit_plan {
	size_t *suite;
	struct junit_counts *counts;
	struct junit_counts all;
};

/* Fills p for r. Returns 0, or -1 when out of memory. */
static int plan_suites(const struct run_report *r, struct junit_plan *p)
{
	p->suite = calloc(r->n + 1, sizeof(*p->suite));
	p->counts = calloc(r->n + 1, sizeof(*p->counts));
	if (!p->suite || !p->counts)
		return -1;
	for (size_t i = 0; i < r->n; i++) {
		p->suite[i] = i;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(r->results[j].ep.host, r->results[i].ep.host) == 0) {
				p->suite[i] = p->suite[j];
				break;
			}
		}
		count_endpoint(&p->counts[p->suite[i]], &r->results[i]);
		count_endpoint(&p->all, &r->results[i]);
		count_checks(&p->counts[p->suite[i]], &r->results[i]);
		count_checks(&p->all, &r->results[i]);
	}
	for (size_t k = 0; k < r->nverdicts; k++) {
		const struct verdict *v = &r->verdicts[k];

		count_verdict(&p->counts[run_level(r, v) ? r->n : p->suite[v->endpoint]], v);
		count_verdict(&p->all, v);
	}
	return 0;
}

/* The attributes tests, failures, errors, skipped and time. */
static void put_counts(FILE *f, const struct junit_counts *c, int64_t ms)
{
	fprintf(f, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"",
	        c->tests, c->failures, c->errors, c->skipped);
	put_seconds(f, ms);
	fputc('"', f);
}

/* "host:port", "[v6]:port" for IPv6 literals (raw: escaped when written). */
static void host_port(const char *host, uint16_t port, char *buf, size_t len)
{
	bool v6 = strchr(host, ':') != NULL;

	snprintf(buf, len, "%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "", (unsigned)port);
}

/* The one-line table row of an endpoint, as the table's columns: protocol,
 * host:port, mode, via, status, TLS version, auth mechanisms, time. Raw
 * text (escaped when written); malloc'd, NULL when out of memory. */
static char *row_text(const struct probe_result *res)
{
	const struct strlist *auth = res->auth_after.n ? &res->auth_after : &res->auth_before;
	char hp[300], php[300] = "", tm[32] = "-";
	char *mechs = NULL, *out = NULL;
	size_t len = 0;
	bool tls_up = res->tls_used && res->tls.done && res->tls.version[0];

	for (size_t i = 0; i < auth->n; i++)
		len += strlen(auth->v[i]) + 1;
	mechs = calloc(1, len + 1);
	if (!mechs)
		return NULL;
	len = 0;
	for (size_t i = 0; i < auth->n; i++) {
		size_t l = strlen(auth->v[i]);

		if (i)
			mechs[len++] = ' ';
		memcpy(mechs + len, auth->v[i], l + 1);
		len += l;
	}
	host_port(res->ep.host, res->ep.port, hp, sizeof(hp));
	if (res->ep.proxy) {
		char pp[280];

		host_port(res->ep.proxy->host, res->ep.proxy->port, pp, sizeof(pp));
		snprintf(php, sizeof(php), " %s", pp);
	}
	if (res->t.total >= 0)
		snprintf(tm, sizeof(tm), "%" PRId64 " ms", res->t.total);
	if (asprintf(&out, "%s  %s  %s  %s%s  %s  %.*s  %s  %s", protocol_name(res->ep.proto), hp,
	             mode_name(res->ep.mode),
	             res->ep.proxy ? proxy_type_name(res->ep.proxy->type) : "direct", php,
	             mp_status_name(res->status), (int)sizeof(res->tls.version),
	             tls_up ? res->tls.version : "-", auth->n ? mechs : "-", tm) < 0)
		out = NULL;
	free(mechs);
	return out;
}

/* The testcase of result i. Returns 0 or -1. */
static int put_endpoint_case(FILE *f, const struct run_report *r, size_t i)
{
	const struct probe_result *res = &r->results[i];
	char url[JUNIT_URL_MAX];
	char *row = NULL;
	int rc = 0;

	report_endpoint_name(&res->ep, url, sizeof(url));
	fputs("    <testcase classname=\"mailprobe.", f);
	rc |= put_xml(f, res->ep.host, ESC_XML_ATTR);
	fputs("\" name=\"", f);
	rc |= put_xml(f, url, ESC_XML_ATTR);
	fputs("\" time=\"", f);
	put_seconds(f, res->t.total);
	fputs("\">\n", f);
	if (res->status == MP_ERR_SKIPPED) {
		fputs("      <skipped message=\"", f);
		rc |= put_xml(f, res->error[0] ? res->error : mp_status_describe(res->status),
		              ESC_XML_ATTR);
		fputs("\"/>\n", f);
	} else if (res->status != MP_OK) {
		const char *err = res->error[0] ? res->error : mp_status_describe(res->status);

		fprintf(f, "      <error message=\"%s: ", mp_status_name(res->status));
		rc |= put_xml(f, err, ESC_XML_ATTR);
		fprintf(f, "\" type=\"%s\">", mp_status_name(res->status));
		rc |= put_xml(f, err, ESC_XML_TEXT);
		fputs("</error>\n", f);
	}
	row = row_text(res);
	if (!row)
		return -1;
	fputs("      <system-out>", f);
	rc |= put_xml(f, row, ESC_XML_LINE);
	fputs("</system-out>\n    </testcase>\n", f);
	free(row);
	return rc ? -1 : 0;
}

/* The testcase of one verdict, in the suite of host (NULL: the run). */
static int put_verdict_case(FILE *f, const struct run_report *r, const struct verdict *v,
                            const char *host)
{
	char url[JUNIT_URL_MAX];
	int rc = 0;

	fputs("    <testcase classname=\"mailprobe.", f);
	rc |= put_xml(f, host ? host : JUNIT_RUN_SUITE, ESC_XML_ATTR);
	fputs("\" name=\"", f);
	if (host) {
		report_endpoint_name(&r->results[v->endpoint].ep, url, sizeof(url));
		rc |= put_xml(f, url, ESC_XML_ATTR);
		fputc(' ', f);
	}
	rc |= put_xml(f, v->rule, ESC_XML_ATTR);
	if (v->state == PSTATE_OK) {
		fputs("\"/>\n", f);
		return rc ? -1 : 0;
	}
	fputs("\">\n", f);
	fprintf(f, "      <%s message=\"", v->state == PSTATE_UNKNOWN ? "error" : "failure");
	rc |= put_xml(f, v->message, ESC_XML_ATTR);
	fprintf(f, "\" type=\"%s\">", pstate_name(v->state));
	rc |= put_xml(f, v->message, ESC_XML_TEXT);
	fprintf(f, "</%s>\n    </testcase>\n", v->state == PSTATE_UNKNOWN ? "error" : "failure");
	return rc ? -1 : 0;
}

/* The testcase of active check k of result i. */
static int put_check_case(FILE *f, const struct probe_result *res, size_t k)
{
	const struct check_result *c = &res->checks[k];
	char url[JUNIT_URL_MAX];
	int rc = 0;

	report_endpoint_name(&res->ep, url, sizeof(url));
	fputs("    <testcase classname=\"mailprobe.", f);
	rc |= put_xml(f, res->ep.host, ESC_XML_ATTR);
	fputs("\" name=\"", f);
	rc |= put_xml(f, url, ESC_XML_ATTR);
	fputs(" check ", f);
	rc |= put_xml(f, c->name, ESC_XML_ATTR);
	fputs("\">\n", f);
	if (c->state == CHECK_SKIPPED) {
		fputs("      <skipped message=\"", f);
		rc |= put_xml(f, c->evidence, ESC_XML_ATTR);
		fputs("\"/>\n", f);
	} else if (c->state == CHECK_FAIL) {
		fputs("      <failure message=\"", f);
		rc |= put_xml(f, c->evidence, ESC_XML_ATTR);
		fputs("\" type=\"fail\">", f);
		rc |= put_xml(f, c->reference, ESC_XML_TEXT);
		fputs("</failure>\n", f);
	}
	fprintf(f, "      <system-out>%s: ", check_state_name(c->state));
	rc |= put_xml(f, c->evidence, ESC_XML_LINE);
	fputs("</system-out>\n    </testcase>\n", f);
	return rc ? -1 : 0;
}

/* The testsuite of the host of result s (its first result). */
static int put_host_suite(FILE *f, const struct run_report *r, const struct junit_plan *p, size_t s)
{
	const struct junit_counts *c = &p->counts[s];
	const char *host = r->results[s].ep.host;
	int rc = 0;

	fputs("  <testsuite name=\"", f);
	rc |= put_xml(f, host, ESC_XML_ATTR);
	fputc('"', f);
	put_counts(f, c, c->ms);
	fputs(">\n", f);
	for (size_t i = s; i < r->n; i++) {
		if (p->suite[i] != s)
			continue;
		rc |= put_endpoint_case(f, r, i);
		for (size_t k = 0; r->results[i].checks && k < r->results[i].nchecks; k++)
			rc |= put_check_case(f, &r->results[i], k);
		for (size_t k = 0; k < r->nverdicts; k++)
			if (r->verdicts[k].endpoint == (int)i)
				rc |= put_verdict_case(f, r, &r->verdicts[k], host);
	}
	fputs("  </testsuite>\n", f);
	return rc ? -1 : 0;
}

/* The testsuite of run-level verdicts, when there are any. */
static int put_run_suite(FILE *f, const struct run_report *r, const struct junit_plan *p)
{
	const struct junit_counts *c = &p->counts[r->n];
	int rc = 0;

	if (c->tests == 0)
		return 0;
	fputs("  <testsuite name=\"" JUNIT_RUN_SUITE "\"", f);
	put_counts(f, c, 0);
	fputs(">\n", f);
	for (size_t k = 0; k < r->nverdicts; k++)
		if (run_level(r, &r->verdicts[k]))
			rc |= put_verdict_case(f, r, &r->verdicts[k], NULL);
	fputs("  </testsuite>\n", f);
	return rc;
}

int report_write_junit(FILE *f, const struct run_report *r)
{
	struct junit_plan p = {0};
	int rc = 0;

	if (plan_suites(r, &p) < 0) {
		rc = -1;
		goto out;
	}
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
	fputs("<testsuites name=\"mailprobe\"", f);
	put_counts(f, &p.all, r->duration_ms);
	if (r->started_at[0]) {
		fputs(" timestamp=\"", f);
		rc |= put_xml(f, r->started_at, ESC_XML_ATTR);
		fputc('"', f);
	}
	fputs(">\n", f);
	for (size_t s = 0; s < r->n; s++)
		if (p.suite[s] == s)
			rc |= put_host_suite(f, r, &p, s);
	rc |= put_run_suite(f, r, &p);
	fputs("</testsuites>\n", f);
	if (ferror(f))
		rc = -1;
out:
	free(p.suite);
	free(p.counts);
	return rc ? -1 : 0;
}
