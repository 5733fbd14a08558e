/* prometheus.c - the Prometheus text exposition format (version 0.0.4), for
 * node_exporter's textfile collector or a Pushgateway.
 *
 * Every family is a gauge named mailprobe_*, in base units (seconds, Unix
 * time), with HELP and TYPE once and all its samples together. An endpoint
 * is the label set {protocol, host, address, port, mode, proxy}; a result
 * whose label set repeats an earlier one is left out, so no series appears
 * twice. Label values are made valid UTF-8 (esc_json_dup), then escaped as
 * the format requires (\\, \", \n); other control characters become the
 * text \xHH. The writer decides nothing: states come from report_evaluate().
 *
 * There is no "days left" family: promtool's lint wants base units, and
 * mailprobe_cert_not_after_timestamp_seconds - time() says the same in
 * PromQL (as with blackbox_exporter's probe_ssl_earliest_cert_expiry).
 */
#include "reports/report.h"
#include "reports/escape.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The labels of one endpoint, escaped and joined
 * ("protocol=\"smtp\",host=...,proxy=\"\""); NULL for a duplicate. */
struct prom_ep {
	char *labels;
};

/* Writes the valid UTF-8 string s as a label value (without quotes). */
static void put_label_utf8(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\\')
			fputs("\\\\", f);
		else if (*p == '"')
			fputs("\\\"", f);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p < 0x20 || *p == 0x7F)
			fprintf(f, "\\\\x%02x", *p);
		else
			fputc(*p, f);
	}
}

/* Writes name="value" for untrusted text (NULL = ""). Returns 0, or -1 when
 * out of memory. */
static int put_label(FILE *f, const char *name, const char *value)
{
	char *u = esc_json_dup(value ? value : "", value ? strlen(value) : 0);

	if (!u)
		return -1;
	fprintf(f, "%s=\"", name);
	put_label_utf8(f, u);
	fputc('"', f);
	free(u);
	return 0;
}

/* The escaped label set of an endpoint; malloc'd, NULL when out of
 * memory. */
static char *endpoint_labels(const struct probe_result *res)
{
	char *buf = NULL, *proxy = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc = 0;
	char port[8];

	if (!f)
		return NULL;
	if (res->ep.proxy) {
		const struct proxy_spec *p = res->ep.proxy;
		bool v6 = strchr(p->host, ':') != NULL;

		if (asprintf(&proxy, "%s://%s%s%s:%u", proxy_type_name(p->type), v6 ? "[" : "",
		             p->host, v6 ? "]" : "", (unsigned)p->port) < 0)
			proxy = NULL;
		if (!proxy)
			rc = -1;
	}
	snprintf(port, sizeof(port), "%u", (unsigned)res->ep.port);
	rc |= put_label(f, "protocol", protocol_name(res->ep.proto));
	fputc(',', f);
	rc |= put_label(f, "host", res->ep.host);
	fputc(',', f);
	rc |= put_label(f, "address", res->address);
	fputc(',', f);
	rc |= put_label(f, "port", port);
	fputc(',', f);
	rc |= put_label(f, "mode", mode_name(res->ep.mode));
	fputc(',', f);
	rc |= put_label(f, "proxy", proxy);
	free(proxy);
	if (fclose(f) != 0 || rc) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The label set of every endpoint: eps[i].labels is NULL when result i
 * repeats the label set of an earlier one (canon[i] then names that one;
 * otherwise canon[i] == i). Returns 0 or -1. */
static int plan_endpoints(const struct run_report *r, struct prom_ep *eps, size_t *canon)
{
	for (size_t i = 0; i < r->n; i++) {
		eps[i].labels = endpoint_labels(&r->results[i]);
		if (!eps[i].labels)
			return -1;
		canon[i] = i;
		for (size_t j = 0; j < i; j++) {
			if (eps[j].labels && strcmp(eps[j].labels, eps[i].labels) == 0) {
				canon[i] = j;
				break;
			}
		}
		if (canon[i] != i) {
			free(eps[i].labels);
			eps[i].labels = NULL;
		}
	}
	return 0;
}

/* HELP and TYPE of one gauge family. */
static void put_family(FILE *f, const char *name, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

/* Starts a sample: "name{" and the endpoint labels; the caller adds any
 * further labels, then "} value". */
static void put_start(FILE *f, const char *name, const char *labels)
{
	fprintf(f, "%s{%s", name, labels ? labels : "");
}

/* A duration in ms as seconds. */
static void put_seconds_value(FILE *f, int64_t ms)
{
	fprintf(f, "%" PRId64 ".%03" PRId64, ms / 1000, ms % 1000);
}

/* Unix time of an RFC 3339 UTC time "YYYY-MM-DDTHH:MM:SSZ" (fractions
 * ignored); false when s is not one. */
static bool rfc3339_to_unix(const char *s, int64_t *out)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, n = 0;
	size_t len = s ? strlen(s) : 0;

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
	    n != 19 || s[len - 1] != 'Z')
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return false;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = (int64_t)timegm(&tm);
	return true;
}

/* True when l[i] appeared earlier in l (a server may list a name twice). */
static bool seen_before(const struct strlist *l, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strcmp(l->v[j], l->v[i]) == 0)
			return true;
	return false;
}

/* One endpoint's probe families. */
enum ep_family {
	F_SUCCESS,
	F_STATUS,
	F_DURATION,
	F_TLS_VERSION,
	F_TLS_CIPHER,
	F_CERT_NOT_AFTER,
	F_CERT_VERIFIED,
	F_STARTTLS,
	F_AUTH,
	F_FINDING,
	F_CHECK,
	F_COUNT
};

static const struct {
	const char *name, *help;
} ep_families[F_COUNT] = {
    [F_SUCCESS] = {"mailprobe_probe_success",
                   "Whether the probe of the endpoint succeeded (1) or not (0)."},
    [F_STATUS] = {"mailprobe_probe_status_info", "The probe's result code, as in the JSON report."},
    [F_DURATION] = {"mailprobe_probe_duration_seconds",
                    "Time to reach each phase of the probe, in seconds."},
    [F_TLS_VERSION] = {"mailprobe_tls_version_info", "The negotiated TLS version."},
    [F_TLS_CIPHER] = {"mailprobe_tls_cipher_info", "The negotiated TLS cipher suite."},
    [F_CERT_NOT_AFTER] = {"mailprobe_cert_not_after_timestamp_seconds",
                          "When the leaf certificate expires, as Unix time."},
    [F_CERT_VERIFIED] = {"mailprobe_cert_verified",
                         "Whether the certificate chain and name verified (1) or not (0)."},
    [F_STARTTLS] = {"mailprobe_starttls_offered",
                    "Whether STARTTLS (STLS) was offered before TLS (1) or not (0)."},
    [F_AUTH] = {"mailprobe_auth_mechanism_offered",
                "An authentication mechanism the server offered, before or after TLS."},
    [F_FINDING] = {"mailprobe_finding",
                   "A finding about the endpoint (code as in the JSON report)."},
    [F_CHECK] = {"mailprobe_check_state",
                 "State of an active check on the endpoint: 0 pass, 1 fail, 2 inconclusive, "
                 "3 skipped."},
};

/* Writes the samples of family fam for one endpoint (labels escaped).
 * Returns 0 or -1. */
static int put_ep_samples(FILE *f, enum ep_family fam, const struct probe_result *res,
                          const char *labels)
{
	const char *name = ep_families[fam].name;
	bool tls_up = res->tls_used && res->tls.done;
	int rc = 0;

	switch (fam) {
	case F_SUCCESS:
		put_start(f, name, labels);
		fprintf(f, "} %d\n", res->status == MP_OK);
		break;
	case F_STATUS:
		put_start(f, name, labels);
		fprintf(f, ",status=\"%s\"} 1\n", mp_status_name(res->status));
		break;
	case F_DURATION: {
		static const char *const phase[] = {"connect", "greeting", "tls", "total"};
		const int64_t ms[] = {res->t.connect, res->t.greeting, res->t.tls, res->t.total};

		for (size_t k = 0; k < sizeof(ms) / sizeof(ms[0]); k++) {
			if (ms[k] < 0)
				continue;
			put_start(f, name, labels);
			fprintf(f, ",phase=\"%s\"} ", phase[k]);
			put_seconds_value(f, ms[k]);
			fputc('\n', f);
		}
		break;
	}
	case F_TLS_VERSION:
	case F_TLS_CIPHER: {
		const char *v = fam == F_TLS_VERSION ? res->tls.version : res->tls.cipher;
		size_t vmax =
		    fam == F_TLS_VERSION ? sizeof(res->tls.version) : sizeof(res->tls.cipher);
		char *copy = NULL;

		if (!tls_up || !v[0])
			break;
		copy = strndup(v, vmax);
		if (!copy)
			return -1;
		put_start(f, name, labels);
		fputc(',', f);
		rc = put_label(f, fam == F_TLS_VERSION ? "version" : "cipher", copy);
		fputs("} 1\n", f);
		free(copy);
		break;
	}
	case F_CERT_NOT_AFTER: {
		int64_t t = 0;

		if (res->tls.chain_len > 0 && rfc3339_to_unix(res->tls.chain[0].not_after, &t)) {
			put_start(f, name, labels);
			fprintf(f, "} %" PRId64 "\n", t);
		}
		break;
	}
	case F_CERT_VERIFIED:
		if (tls_up) {
			put_start(f, name, labels);
			fprintf(f, "} %d\n", res->tls.verified && res->tls.hostname_matched);
		}
		break;
	case F_STARTTLS:
		/* Only meaningful where capabilities were read before TLS. */
		if (res->ep.mode != MODE_TLS && report_answered(res)) {
			put_start(f, name, labels);
			fprintf(f, "} %d\n", res->starttls_offered);
		}
		break;
	case F_AUTH: {
		const struct strlist *lists[] = {&res->auth_before, &res->auth_after};
		static const char *const stage[] = {"before_tls", "after_tls"};

		for (size_t s = 0; s < 2; s++) {
			for (size_t k = 0; k < lists[s]->n; k++) {
				if (seen_before(lists[s], k))
					continue;
				put_start(f, name, labels);
				fprintf(f, ",stage=\"%s\",", stage[s]);
				rc |= put_label(f, "mechanism", lists[s]->v[k]);
				fputs("} 1\n", f);
			}
		}
		break;
	}
	case F_FINDING:
		for (size_t k = 0; k < res->nfindings; k++) {
			bool dup = false;

			for (size_t j = 0; j < k; j++)
				dup = dup ||
				      strcmp(res->findings[j].code, res->findings[k].code) == 0;
			if (dup)
				continue;
			put_start(f, name, labels);
			fputc(',', f);
			rc |= put_label(f, "code", res->findings[k].code);
			fputs("} 1\n", f);
		}
		break;
	case F_CHECK:
		for (size_t k = 0; res->checks && k < res->nchecks; k++) {
			put_start(f, name, labels);
			fputc(',', f);
			rc |= put_label(f, "check", res->checks[k].name);
			fprintf(f, "} %d\n", (int)res->checks[k].state);
		}
		break;
	case F_COUNT:
		break;
	}
	return rc ? -1 : 0;
}

/* The empty endpoint label set of run-level verdicts. */
#define RUN_LABELS "protocol=\"\",host=\"\",address=\"\",port=\"\",mode=\"\",proxy=\"\""

/* One verdict, by the endpoint it is about after duplicates are folded
 * (r->n: the run). */
struct prom_verdict {
	size_t target;
	const char *rule;
	enum pstate state;
};

/* Orders verdicts by endpoint, then rule. */
static int cmp_verdict(const void *a, const void *b)
{
	const struct prom_verdict *x = a, *y = b;

	if (x->target != y->target)
		return x->target < y->target ? -1 : 1;
	return strcmp(x->rule, y->rule);
}

/* mailprobe_policy_verdict_state: one sample per endpoint and rule (the
 * worst, when duplicate endpoints gave one endpoint and rule several
 * verdicts). Returns 0 or -1. */
static int put_verdicts(FILE *f, const struct run_report *r, const struct prom_ep *eps,
                        const size_t *canon)
{
	static const char name[] = "mailprobe_policy_verdict_state";
	struct prom_verdict *vs = NULL;
	int rc = 0;

	if (r->nverdicts == 0)
		return 0;
	vs = calloc(r->nverdicts, sizeof(*vs));
	if (!vs)
		return -1;
	for (size_t k = 0; k < r->nverdicts; k++) {
		const struct verdict *v = &r->verdicts[k];
		bool run = v->endpoint < 0 || (size_t)v->endpoint >= r->n;

		vs[k].target = run ? r->n : canon[v->endpoint];
		vs[k].rule = v->rule ? v->rule : "";
		vs[k].state = v->state;
	}
	qsort(vs, r->nverdicts, sizeof(*vs), cmp_verdict);
	put_family(f, name,
	           "State of a policy rule for an endpoint (empty labels: the run): "
	           "0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.");
	for (size_t k = 0; k < r->nverdicts;) {
		enum pstate worst = vs[k].state;
		size_t j = k + 1;

		for (; j < r->nverdicts && cmp_verdict(&vs[k], &vs[j]) == 0; j++)
			if (vs[j].state > worst)
				worst = vs[j].state;
		put_start(f, name, vs[k].target < r->n ? eps[vs[k].target].labels : RUN_LABELS);
		fputc(',', f);
		rc |= put_label(f, "rule", vs[k].rule);
		fprintf(f, "} %d\n", (int)worst);
		k = j;
	}
	free(vs);
	return rc ? -1 : 0;
}

/* The run-level families. */
static void put_run(FILE *f, const struct run_report *r)
{
	put_family(f, "mailprobe_policy_state",
	           "State of the run: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.");
	fprintf(f, "mailprobe_policy_state %d\n", (int)r->state);
	put_family(f, "mailprobe_run_duration_seconds", "Duration of the whole run, in seconds.");
	fputs("mailprobe_run_duration_seconds ", f);
	put_seconds_value(f, r->duration_ms > 0 ? r->duration_ms : 0);
	fputc('\n', f);
	put_family(f, "mailprobe_endpoints", "Number of endpoints probed in the run.");
	fprintf(f, "mailprobe_endpoints %zu\n", r->n);
}

int report_write_prometheus(FILE *f, const struct run_report *r)
{
	struct prom_ep *eps = NULL;
	size_t *canon = NULL;
	int rc = 0;

	eps = calloc(r->n + 1, sizeof(*eps));
	canon = calloc(r->n + 1, sizeof(*canon));
	if (!eps || !canon || plan_endpoints(r, eps, canon) < 0) {
		rc = -1;
		goto out;
	}
	for (int fam = 0; fam < F_COUNT; fam++) {
		put_family(f, ep_families[fam].name, ep_families[fam].help);
		for (size_t i = 0; i < r->n; i++)
			if (eps[i].labels)
				rc |= put_ep_samples(f, (enum ep_family)fam, &r->results[i],
				                     eps[i].labels);
	}
	rc |= put_verdicts(f, r, eps, canon);
	put_run(f, r);
	if (ferror(f))
		rc = -1;
out:
	for (size_t i = 0; eps && i < r->n; i++)
		free(eps[i].labels);
	free(eps);
	free(canon);
	return rc ? -1 : 0;
}
