/* run.c - one run, shared by the command line and the exporter. */
#include "run.h"
#include "addrs.h"
#include "discover.h"
#include "../core/dns.h"
#include "engine.h"
#include "plan.h"
#include "../core/deadline.h"
#include "../core/tls.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static void rfc3339_now(char *buf, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int run_probe(const struct run_options *opt, int64_t max_ms, volatile sig_atomic_t *stop,
              int wake_fd, void (*started)(void *arg), void *arg, struct run_outcome *out,
              struct mp_error *err)
{
	struct probe_config cfg = opt->probe;
	struct tls_ctx *tls = NULL;
	int64_t budget = opt->overall_timeout_ms, t0;
	struct dns_client *dns = NULL;
	struct disc_resolver dr;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (max_ms > 0 && max_ms < budget)
		budget = max_ms;
	if (opt->ntargets > 0 && plan_build(opt, &out->eps, &out->n, err) != 0)
		goto out;
	tls = tls_ctx_new(&opt->tls, err);
	if (!tls)
		goto out;
	cfg.tls = tls;
	/* Names go through the DNS client when asked for a resolver or a
	 * domain; otherwise through the system's (getaddrinfo, /etc/hosts). */
	if (opt->discover || opt->resolver) {
		dns = dns_new(opt->resolver, opt->trust_anchor, err);
		if (!dns)
			goto out;
	}
	if (opt->discover) {
		out->discovery = calloc(1, sizeof(*out->discovery));
		if (!out->discovery) {
			mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
			goto out;
		}
		if (discover_run(opt, dns, tls, deadline_in(budget), out->discovery, &out->eps,
		                 &out->n, err) != 0)
			goto out;
	}
	if (dns) {
		discover_resolver_init(&dr, dns, out->discovery);
		cfg.resolver = &dr.r;
	}
	if (out->n == 0 && !opt->discover) {
		mp_error_set(err, MP_ERR_INTERNAL, "no endpoint to probe");
		goto out;
	}
	/* Every address of every name is its own endpoint (addrs.h). */
	if (addrs_expand(&out->eps, &out->n, cfg.resolver, cfg.family,
	                 deadline_in(cfg.connect_timeout_ms), err) != 0)
		goto out;
	out->results = calloc(out->n ? out->n : 1, sizeof(*out->results));
	if (!out->results) {
		mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < out->n; i++)
		result_init(&out->results[i], &out->eps[i]);
	if (started)
		started(arg);
	rfc3339_now(out->report.started_at, sizeof(out->report.started_at));
	t0 = mono_ms();
	engine_run(out->eps, out->results, out->n, &cfg, opt->concurrency, deadline_in(budget),
	           opt->auto_mode, stop, wake_fd);
	addrs_findings(out->results, out->n);
	if (out->discovery)
		discover_findings(out->discovery, out->results, out->n);
	out->report.discovery = out->discovery;
	out->report.duration_ms = mono_ms() - t0;
	out->report.opt = opt;
	out->report.results = out->results;
	out->report.n = out->n;
	out->report.interrupted = stop && *stop != 0;
	report_recommend(&out->report);
	if (report_evaluate(&out->report) != 0) {
		mp_error_set(err, MP_ERR_INTERNAL, "out of memory evaluating the policy");
		goto out;
	}
	rc = 0;
out:
	dns_free(dns);
	tls_ctx_free(tls);
	if (rc != 0)
		run_outcome_free(out);
	return rc;
}

void run_outcome_free(struct run_outcome *out)
{
	for (size_t i = 0; out->results && i < out->n; i++)
		result_free(&out->results[i]);
	free(out->results);
	free(out->eps);
	report_free(&out->report);
	if (out->discovery)
		discovery_free(out->discovery);
	free(out->discovery);
	memset(out, 0, sizeof(*out));
}
