/* nagios.c - the Monitoring Plugins output (Monitoring Plugins Development
 * Guidelines, "Plugin Output" and "Performance data"):
 *
 *   MAILPROBE STATE - summary | 'label_time'=12ms;500;1000;0; ...
 *   STATE: endpoint-url [rule] message          (one per non-OK verdict)
 *
 * The writer decides nothing: the state and verdicts come from
 * report_evaluate(). Every byte of text is made printable ASCII and no '|'
 * appears outside the perfdata separator, so a monitoring core splits the
 * output where we mean it to.
 */
#include "reports/report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Room for an endpoint URL and for a perfdata label (a host is at most 255
 * bytes, a proxy host too, plus scheme, ports and a uniqueness suffix). */
#define NAGIOS_URL_MAX   320
#define NAGIOS_LABEL_MAX 640

/* True for the bytes a perfdata label keeps; anything else (quote, '=',
 * '|', space, control, non-ASCII...) becomes '_'. */
static bool label_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_' || c == ':' || c == '+';
}

/* Appends s to buf (of size len, holding a string) with unsafe label
 * characters replaced by '_'. */
static void label_append(char *buf, size_t len, const char *s)
{
	size_t o = strlen(buf);

	for (; *s && o + 1 < len; s++)
		buf[o++] = label_char_ok((unsigned char)*s) ? *s : '_';
	buf[o] = '\0';
}

/* The base perfdata label of an endpoint, before uniqueness:
 * scheme_host_port[_via_type_proxyhost_proxyport]. */
static void endpoint_label(const struct endpoint *ep, char *buf, size_t len)
{
	char url[NAGIOS_URL_MAX], num[16];
	char *sep = NULL;

	report_endpoint_url(ep, url, sizeof(url));
	sep = strstr(url, "://");
	if (sep)
		*sep = '\0';
	buf[0] = '\0';
	label_append(buf, len, url);
	label_append(buf, len, "_");
	label_append(buf, len, ep->host);
	snprintf(num, sizeof(num), "_%u", (unsigned)ep->port);
	label_append(buf, len, num);
	if (ep->proxy) {
		label_append(buf, len, "_via_");
		label_append(buf, len, proxy_type_name(ep->proxy->type));
		label_append(buf, len, "_");
		label_append(buf, len, ep->proxy->host);
		snprintf(num, sizeof(num), "_%u", (unsigned)ep->proxy->port);
		label_append(buf, len, num);
	}
}

/* True when label equals one of the first n labels. */
static bool label_taken(char (*labels)[NAGIOS_LABEL_MAX], size_t n, const char *label)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(labels[i], label) == 0)
			return true;
	return false;
}

/* Fills labels[i] for every result: the base label, with _2, _3... appended
 * when an earlier endpoint already has it (counting from the number of
 * earlier equal bases, so identical endpoints do not retry every suffix). */
static void unique_labels(const struct run_report *r, char (*labels)[NAGIOS_LABEL_MAX],
                          char (*bases)[NAGIOS_LABEL_MAX])
{
	for (size_t i = 0; i < r->n; i++) {
		size_t k = 1;

		endpoint_label(&r->results[i].ep, bases[i], NAGIOS_LABEL_MAX - 24);
		for (size_t j = 0; j < i; j++)
			if (strcmp(bases[j], bases[i]) == 0)
				k++;
		if (k == 1)
			snprintf(labels[i], NAGIOS_LABEL_MAX, "%s", bases[i]);
		else
			snprintf(labels[i], NAGIOS_LABEL_MAX, "%s_%zu", bases[i], k);
		/* At most i labels are taken, so i + 1 more tries always suffice. */
		for (size_t tries = 0; tries <= i && label_taken(labels, i, labels[i]); tries++)
			snprintf(labels[i], NAGIOS_LABEL_MAX, "%s_%zu", bases[i], ++k);
	}
}

/* Writes s as one line of printable ASCII: '|' becomes '/', a control,
 * DEL or non-ASCII byte becomes \xHH. */
static void put_text(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '|')
			fputc('/', f);
		else if (*p < 0x20 || *p >= 0x7F)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
}

/* Writes the endpoint URL of result i, or "run" for a run-level verdict. */
static void put_endpoint(FILE *f, const struct run_report *r, int i)
{
	char url[NAGIOS_LABEL_MAX];

	if (i < 0 || (size_t)i >= r->n) {
		fputs("run", f);
		return;
	}
	report_endpoint_name(&r->results[i].ep, url, sizeof(url));
	put_text(f, url);
}

/* The verdict the status line names: the first one in the run's state,
 * else the first of the worst state; NULL when all are OK. */
static const struct verdict *worst_verdict(const struct run_report *r)
{
	const struct verdict *w = NULL;

	for (size_t i = 0; i < r->nverdicts; i++)
		if (r->verdicts[i].state != PSTATE_OK && r->verdicts[i].state == r->state)
			return &r->verdicts[i];
	for (size_t i = 0; i < r->nverdicts; i++)
		if (r->verdicts[i].state != PSTATE_OK && (!w || r->verdicts[i].state > w->state))
			w = &r->verdicts[i];
	return w;
}

/* "7 endpoints: 6 ok, 1 failed" (and skipped, interrupted), then the first
 * worst verdict's endpoint and message when the run is not OK. */
static void put_summary(FILE *f, const struct run_report *r)
{
	size_t ok = 0, skipped = 0;
	const struct verdict *w = worst_verdict(r);

	for (size_t i = 0; i < r->n; i++) {
		if (r->results[i].status == MP_OK)
			ok++;
		else if (r->results[i].status == MP_ERR_SKIPPED)
			skipped++;
	}
	fprintf(f, "%zu endpoint%s: %zu ok, %zu failed", r->n, r->n == 1 ? "" : "s", ok,
	        r->n - ok - skipped);
	if (skipped)
		fprintf(f, ", %zu skipped", skipped);
	if (r->interrupted)
		fputs(", interrupted", f);
	if (r->state != PSTATE_OK && w) {
		fputs(" - ", f); /* not ";": Nagios turns it into ":" */
		put_endpoint(f, r, w->endpoint);
		fputs(" [", f);
		put_text(f, w->rule);
		fputs("] ", f);
		put_text(f, w->message);
	}
}

/* A threshold in range syntax: "N" (alert above N), or "" when 0 (none). */
static void put_upper(FILE *f, int v)
{
	if (v > 0)
		fprintf(f, "%d", v);
}

/* A threshold "N:" (alert below N), or "" when there is none. */
static void put_lower(FILE *f, bool on, int v)
{
	if (on && v > 0)
		fprintf(f, "%d:", v);
}

/* The perfdata of every endpoint: total time in ms against warn_ms/crit_ms,
 * and the leaf certificate's days left against the certificate thresholds,
 * as ranges that alert below them ("14:"). */
static void put_perfdata(FILE *f, const struct run_report *r, char (*labels)[NAGIOS_LABEL_MAX])
{
	const struct policy *pol = r->opt ? &r->opt->policy : NULL;
	bool active = pol != NULL;
	const char *sep = " | ";

	for (size_t i = 0; i < r->n; i++) {
		const struct probe_result *res = &r->results[i];

		if (res->t.total >= 0) {
			fprintf(f, "%s'%s_time'=%" PRId64 "ms;", sep, labels[i], res->t.total);
			put_upper(f, pol ? pol->warn_ms : 0);
			fputc(';', f);
			put_upper(f, pol ? pol->crit_ms : 0);
			fputs(";0;", f);
			sep = " ";
		}
		if (res->tls.chain_len > 0) {
			fprintf(f, "%s'%s_cert_days'=%ld;", sep, labels[i],
			        res->tls.chain[0].days_left);
			put_lower(f, active, pol ? pol->cert_warn_days : 0);
			fputc(';', f);
			put_lower(f, active, pol ? pol->cert_crit_days : 0);
			fputs(";;", f);
			sep = " ";
		}
	}
}

/* Long output: one line per non-OK verdict; without a policy, also one
 * line per endpoint that did not answer. */
static void put_long_output(FILE *f, const struct run_report *r)
{
	for (size_t i = 0; i < r->nverdicts; i++) {
		const struct verdict *v = &r->verdicts[i];

		if (v->state == PSTATE_OK)
			continue;
		fprintf(f, "%s: ", pstate_name(v->state));
		put_endpoint(f, r, v->endpoint);
		fputs(" [", f);
		put_text(f, v->rule);
		fputs("] ", f);
		put_text(f, v->message);
		fputc('\n', f);
	}
	if (r->opt && r->opt->policy.active)
		return;
	for (size_t i = 0; i < r->n; i++) {
		const struct probe_result *res = &r->results[i];

		if (res->status == MP_ERR_SKIPPED || report_answered(res))
			continue;
		fputs("NO ANSWER: ", f);
		put_endpoint(f, r, (int)i);
		fputc(' ', f);
		put_text(f, mp_status_name(res->status));
		if (res->error[0]) {
			fputs(": ", f);
			put_text(f, res->error);
		}
		fputc('\n', f);
	}
}

int report_write_nagios(FILE *f, const struct run_report *r)
{
	char(*labels)[NAGIOS_LABEL_MAX] = NULL, (*bases)[NAGIOS_LABEL_MAX] = NULL;

	if (r->n) {
		labels = calloc(r->n, sizeof(*labels));
		bases = calloc(r->n, sizeof(*bases));
		if (!labels || !bases) {
			free(labels);
			free(bases);
			return -1;
		}
		unique_labels(r, labels, bases);
		free(bases);
	}
	fprintf(f, "MAILPROBE %s - ", pstate_name(r->state));
	put_summary(f, r);
	put_perfdata(f, r, labels);
	fputc('\n', f);
	put_long_output(f, r);
	free(labels);
	return ferror(f) ? -1 : 0;
}
