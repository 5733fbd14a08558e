/* checks.c - the runner of the active checks (checks.h): the table of
 * check descriptors (one line per check, one file each under checks/), the
 * plan of one endpoint's entries, each check on a fresh connection, and the
 * findings of the failed ones. */
#include "probe/engine/checks.h"
#include "probe/dialects/dialect.h"
#include "probe/engine/checks/check.h"
#include "probe/engine/probe.h"
#include "core/deadline.h"
#include "core/helper_runner.h"
#include "core/threadmem.h"
#include "core/tls.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Every check, in the order of the results: one line per check. */
static const struct check_desc *const check_table[] = {
    &check_starttls_injection, &check_response_injection, &check_auth_before_tls, &check_vrfy,
    &check_smuggling,          &check_open_relay,
};
#define NCHECKS (sizeof(check_table) / sizeof(check_table[0]))

/* ---- The set of one endpoint's checks ---- */

struct check_job {
	const struct check_desc *desc;
	size_t variant; /* index among the descriptor's variants */
	size_t slot;    /* index into res->checks */
};

struct check_set {
	const struct endpoint *ep;
	const struct probe_config *cfg;
	const struct check_config *cc;
	int64_t deadline;
	struct probe_result *res;
	struct check_job jobs[MP_MAX_CHECKS];
	size_t njobs;
	const struct tls_resume *resume; /* the probe's TLS session, or NULL */
	struct helper_run *hr;           /* the jobs on the helper runner */
};

/* ---- Running ---- */

/* Runs job k on a fresh connection (helper_spec.run). */
static void run_job(void *arg, size_t k, volatile int *fd_slot)
{
	struct check_set *cs = arg;
	const struct check_job *j = &cs->jobs[k];
	struct check_result *c = &cs->res->checks[j->slot];
	struct probe_result *scratch = calloc(1, sizeof(*scratch));
	struct stream *stream = NULL;
	struct session s;
	struct mp_error err;
	struct check_run r;
	enum mp_status st;

	if (!scratch) {
		snprintf(c->evidence, sizeof(c->evidence), "not run: out of memory");
		return;
	}
	mp_error_clear(&err);
	result_init(scratch, cs->ep);
	st = probe_open_path(cs->ep, cs->cfg, cs->deadline, scratch, fd_slot, &stream, &err);
	if (st != MP_OK) {
		char q[DIALECT_QUOTE_SIZE];

		dialect_quote(q, sizeof(q), err.msg, strlen(err.msg));
		snprintf(c->evidence, sizeof(c->evidence), "could not connect: %s", q);
		goto out;
	}
	session_init(&s, &scratch->ep, cs->cfg, scratch, stream, cs->deadline);
	s.resume = cs->resume;
	memset(&r, 0, sizeof(r));
	r.s = &s;
	r.d = dialect_for(cs->ep->proto);
	r.cc = cs->cc;
	r.c = c;
	r.variant = j->variant;
	r.probe_tls_ok = cs->res->tls_used && cs->res->tls.done;
	j->desc->run(&r);
	if (!r.decided)
		check_verdict(&r, CHECK_INCONCLUSIVE, "the check ended without a verdict");
	*fd_slot = -1;
	session_close(&s);
out:
	*fd_slot = -1;
	result_free(scratch);
	free(scratch);
}

/* Why desc does not apply to res, or NULL when it does. */
static const char *skip_reason(const struct check_desc *desc, const struct probe_result *res,
                               char *buf, size_t size)
{
	if (res->status != MP_OK) {
		snprintf(buf, size, "the endpoint's probe did not succeed (%s)",
		         mp_status_name(res->status));
		return buf;
	}
	return desc->applies ? desc->applies(res, buf, size) : NULL;
}

/* Adds one entry (and a job unless skipped or decided at once). */
static void plan_one(struct check_set *cs, const struct check_desc *desc, size_t variant)
{
	struct probe_result *res = cs->res;
	struct check_result *c = &res->checks[res->nchecks];
	const char *why;
	char buf[160];

	if (res->nchecks >= MP_MAX_CHECKS)
		return;
	c->name = desc->variant_name ? desc->variant_name(variant) : check_name(desc->id);
	c->reference = desc->reference;
	why = skip_reason(desc, res, buf, sizeof(buf));
	if (why) {
		c->state = CHECK_SKIPPED;
		snprintf(c->evidence, sizeof(c->evidence), "%s", why);
	} else if (desc->decide) {
		desc->decide(res, c);
	} else {
		c->state = CHECK_INCONCLUSIVE;
		snprintf(c->evidence, sizeof(c->evidence),
		         "not run: the run's deadline passed or it was interrupted");
		cs->jobs[cs->njobs].desc = desc;
		cs->jobs[cs->njobs].variant = variant;
		cs->jobs[cs->njobs].slot = res->nchecks;
		cs->njobs++;
	}
	res->nchecks++;
}

struct check_set *checks_begin(const struct endpoint *ep, const struct probe_config *cfg,
                               int64_t deadline, struct probe_result *res)
{
	const struct check_config *cc = cfg->checks;
	struct check_set *cs = NULL;
	struct helper_spec spec;

	if (!cc || !cc->selected)
		return NULL;
	res->checks = calloc(MP_MAX_CHECKS, sizeof(*res->checks));
	cs = calloc(1, sizeof(*cs));
	if (!res->checks || !cs) {
		free(cs);
		free(res->checks);
		res->checks = NULL;
		res->nchecks = 0;
		result_add_finding(res, FINDING_LIMIT_HIT, "out of memory: active checks not run");
		return NULL;
	}
	cs->ep = ep;
	cs->cfg = cfg;
	cs->cc = cc;
	cs->deadline = deadline;
	cs->res = res;
	for (size_t k = 0; k < NCHECKS; k++) {
		const struct check_desc *desc = check_table[k];

		if (!(cc->selected & (1u << desc->id)))
			continue;
		for (size_t v = 0; v < (desc->nvariants > 1 ? desc->nvariants : 1); v++)
			plan_one(cs, desc, v);
	}
	memset(&spec, 0, sizeof(spec));
	spec.njobs = cs->njobs;
	spec.run = run_job;
	spec.arg = cs;
	spec.deadline = deadline;
	cs->hr = helper_run_new(&spec);
	if (!cs->hr)
		cs->njobs = 0; /* they stay "not run" */
	return cs;
}

void checks_resume_from(struct check_set *cs, const struct tls_resume *resume)
{
	if (cs)
		cs->resume = resume;
}

size_t checks_pending(const struct check_set *cs)
{
	return cs ? cs->njobs : 0;
}

void checks_run(struct check_set *cs, size_t extra_threads, volatile sig_atomic_t *stop)
{
	if (!cs)
		return;
	helper_run_stop_on(cs->hr, stop);
	helper_run_start(cs->hr, extra_threads);
	helper_run_finish(cs->hr);
}

void checks_interrupt(struct check_set *cs)
{
	if (cs)
		helper_run_interrupt(cs->hr);
}

/* The descriptor whose entry is named name, or NULL. */
static const struct check_desc *desc_of(const char *name)
{
	for (size_t k = 0; k < NCHECKS; k++) {
		const struct check_desc *desc = check_table[k];

		for (size_t v = 0; v < (desc->nvariants > 1 ? desc->nvariants : 1); v++)
			if (strcmp(name, desc->variant_name ? desc->variant_name(v)
			                                    : check_name(desc->id)) == 0)
				return desc;
	}
	return NULL;
}

void checks_end(struct check_set *cs)
{
	struct probe_result *res = cs ? cs->res : NULL;

	if (!cs)
		return;
	for (size_t i = 0; i < res->nchecks; i++) {
		const struct check_result *c = &res->checks[i];
		const struct check_desc *desc = desc_of(c->name);

		if (c->state != CHECK_FAIL || !desc || !desc->finding || desc->findings)
			continue;
		result_add_finding(res, desc->finding, "check %s failed: %.200s", c->name,
		                   c->evidence);
	}
	for (size_t k = 0; k < NCHECKS; k++)
		if (check_table[k]->findings && (cs->cc->selected & (1u << check_table[k]->id)))
			check_table[k]->findings(res);
	helper_run_free(cs->hr);
	free(cs);
}
