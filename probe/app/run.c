/* run.c - one run, shared by the command line and the exporter. */
#include "probe/app/run.h"
#include "probe/engine/addrs.h"
#include "probe/discover/discover.h"
#include "core/dns.h"
#include "probe/engine/engine.h"
#include "probe/engine/plan.h"
#include "core/deadline.h"
#include "core/tls.h"

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

/* The engine's settings for opt's run within budget ms (DEADLINE_NONE: none). */
static void engine_params_of(const struct run_options *opt, int64_t budget,
                             volatile sig_atomic_t *stop, int wake_fd, struct engine_params *prm)
{
	memset(prm, 0, sizeof(*prm));
	prm->concurrency = opt->concurrency;
	prm->deadline = budget == DEADLINE_NONE ? DEADLINE_NONE : deadline_in(budget);
	prm->first_ok_wins = opt->auto_mode;
	prm->per_host = opt->per_host;
	prm->rate = opt->rate;
	prm->retry = opt->retry;
	prm->stop = stop;
	prm->wake_fd = wake_fd;
}

int run_probe(const struct run_options *opt, int64_t max_ms, volatile sig_atomic_t *stop,
              int wake_fd, void (*started)(void *arg), void *arg, struct run_outcome *out,
              struct mp_error *err)
{
	struct probe_config cfg = opt->probe;
	struct tls_ctx *tls = NULL;
	struct engine_params prm;
	char **whys = NULL;
	size_t nwhys = 0;
	int64_t budget = opt->overall_timeout_ms > 0 ? opt->overall_timeout_ms : DEADLINE_NONE, t0;
	struct dns_client *dns = NULL;
	struct disc_resolver dr;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (max_ms > 0 && (budget == DEADLINE_NONE || max_ms < budget))
		budget = max_ms;
	/* with --discover alone, the endpoints all come from discovery */
	if ((opt->ntargets > 0 || opt->targets_file) &&
	    plan_build_why(opt, &out->eps, &out->n, &whys, &nwhys, err) != 0)
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
		if (discover_run(opt, dns, tls,
		                 budget == DEADLINE_NONE ? DEADLINE_NONE : deadline_in(budget),
		                 out->discovery, &out->eps, &out->n, err) != 0)
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
	/* invalid targets are never expanded and keep their order: the k-th
	 * invalid endpoint has the k-th reason */
	for (size_t i = 0, k = 0; i < out->n && k < nwhys; i++)
		if (out->eps[i].invalid)
			result_fail(&out->results[i], MP_ERR_INVALID_TARGET, whys[k++]);
	if (started)
		started(arg);
	rfc3339_now(out->report.started_at, sizeof(out->report.started_at));
	t0 = mono_ms();
	engine_params_of(opt, budget, stop, wake_fd, &prm);
	engine_run(out->eps, out->results, out->n, &cfg, &prm);
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
	plan_whys_free(whys, nwhys);
	tls_ctx_free(tls);
	if (rc != 0)
		run_outcome_free(out);
	return rc;
}

/* What the engine's completion callback needs. */
struct stream_ctx {
	const struct run_options *opt;
	const struct report_writer *w;
	FILE *f;
	struct run_tally *tally;
	bool write_failed;
};

/* One finished endpoint: written (and flushed) at once, then counted. */
static void stream_done(void *arg, struct probe_result *res)
{
	struct stream_ctx *c = arg;
	struct run_report one;

	memset(&one, 0, sizeof(one));
	one.opt = c->opt;
	one.results = res;
	one.n = 1;
	if (!c->write_failed && c->w->write_result(c->f, &one, 0) != 0)
		c->write_failed = true;
	report_tally_add(c->tally, res);
}

/* engine_source.next over the plan. */
static int next_of_plan(void *arg, struct endpoint *ep, char *why, size_t whysz,
                        struct mp_error *err)
{
	return plan_next(arg, ep, why, whysz, err);
}

int run_stream(const struct run_options *opt, volatile sig_atomic_t *stop, int wake_fd,
               const struct report_writer *w, FILE *f, struct run_report *report,
               struct run_tally *tally, struct mp_error *err)
{
	struct probe_config cfg = opt->probe;
	struct engine_source src;
	struct engine_params prm;
	struct stream_ctx ctx;
	struct plan_iter *it = NULL;
	struct tls_ctx *tls = NULL;
	int64_t budget = opt->overall_timeout_ms > 0 ? opt->overall_timeout_ms : DEADLINE_NONE, t0;
	int rc = -1;

	memset(report, 0, sizeof(*report));
	report_tally_init(tally);
	report->opt = opt;
	report->tally = tally;
	if (!w->write_result || !w->write_summary) {
		mp_error_set(err, MP_ERR_INTERNAL, "the %s format cannot stream", w->name);
		return -1;
	}
	it = plan_iter_new(opt, err);
	if (!it)
		return -1;
	tls = tls_ctx_new(&opt->tls, err);
	if (!tls)
		goto out;
	cfg.tls = tls;
	src.next = next_of_plan;
	src.arg = it;
	memset(&ctx, 0, sizeof(ctx));
	ctx.opt = opt;
	ctx.w = w;
	ctx.f = f;
	ctx.tally = tally;
	rfc3339_now(report->started_at, sizeof(report->started_at));
	t0 = mono_ms();
	engine_params_of(opt, budget, stop, wake_fd, &prm);
	prm.first_ok_wins = false;
	rc = engine_stream(&src, &cfg, &prm, stream_done, &ctx, err);
	report->duration_ms = mono_ms() - t0;
	report->interrupted = stop && *stop != 0;
	report_tally_finish(report);
	if (w->write_summary(f, report) != 0 || ctx.write_failed) {
		if (rc == 0)
			mp_error_set(err, MP_ERR_INTERNAL, "could not write the %s report",
			             w->name);
		rc = -1;
	}
out:
	tls_ctx_free(tls);
	plan_iter_free(it);
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
