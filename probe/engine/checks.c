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

/* Every check, in the order of the results and of --checks' list: one line
 * per check, naming the descriptor its file in checks/ defines. This table is
 * the only list of the checks. */
#define CHECK_TABLE(X)                                                                             \
	X(check_starttls_injection)                                                                \
	X(check_response_injection)                                                                \
	X(check_auth_before_tls)                                                                   \
	X(check_vrfy)                                                                              \
	X(check_smuggling)                                                                         \
	X(check_open_relay)

#define CHECK_DECLARE(desc) extern const struct check_desc desc;
#define CHECK_ENTRY(desc)   &desc,
CHECK_TABLE(CHECK_DECLARE)
static const struct check_desc *const check_table[] = {CHECK_TABLE(CHECK_ENTRY)};
#define NCHECKS (sizeof(check_table) / sizeof(check_table[0]))

/* ---- The selection ---- */

/* The descriptor named name (or aliased so), or NULL. */
static const struct check_desc *desc_named(const char *name)
{
	for (size_t k = 0; k < NCHECKS; k++)
		if (strcmp(name, check_table[k]->name) == 0 ||
		    (check_table[k]->alias && strcmp(name, check_table[k]->alias) == 0))
			return check_table[k];
	return NULL;
}

bool checks_selected(const struct check_config *cc, const char *name)
{
	for (size_t i = 0; cc && i < cc->nselected; i++)
		if (strcmp(cc->selected[i], name) == 0)
			return true;
	return false;
}

/* Adds desc to the selection, which stays in the order of the table. */
static void select_desc(struct check_config *cc, const struct check_desc *desc)
{
	const char *sel[MP_MAX_CHECKS];
	size_t n = 0;

	for (size_t k = 0; k < NCHECKS && n < MP_MAX_CHECKS; k++)
		if (check_table[k] == desc || checks_selected(cc, check_table[k]->name))
			sel[n++] = check_table[k]->name;
	memcpy(cc->selected, sel, n * sizeof(sel[0]));
	cc->nselected = n;
}

int checks_select(struct check_config *cc, const char *name)
{
	const struct check_desc *desc = desc_named(name);

	if (!desc)
		return -1;
	select_desc(cc, desc);
	return 0;
}

/* "--checks: unknown check 'x': use a, b, c or all" from the table. */
static void unknown_check(const char *item, struct mp_error *err)
{
	char names[256];
	size_t len = 0;

	names[0] = '\0';
	for (size_t k = 0; k < NCHECKS; k++) {
		if (check_table[k]->opt_in || len >= sizeof(names))
			continue;
		len += (size_t)snprintf(names + len, sizeof(names) - len, "%s, ",
		                        check_table[k]->name);
	}
	if (len > sizeof(names) - 1)
		len = sizeof(names) - 1;
	if (len >= 2 && names[len - 2] == ',')
		names[len - 2] = '\0';
	mp_error_set(err, MP_ERR_INTERNAL, "--checks: unknown check '%.40s': use %s or all", item,
	             names);
}

int checks_parse_list(const char *list, struct check_config *cc, struct mp_error *err)
{
	char buf[256];
	char *item = buf, *comma = NULL;
	size_t len = list ? strlen(list) : 0;

	if (len == 0 || len >= sizeof(buf)) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "--checks expects a comma-separated list of checks or all, e.g. "
		             "--checks starttls-injection,vrfy");
		return -1;
	}
	memcpy(buf, list, len + 1);
	for (;;) {
		const struct check_desc *desc = NULL;

		comma = strchr(item, ',');
		if (comma)
			*comma = '\0';
		desc = desc_named(item);
		if (strcmp(item, "all") == 0) {
			for (size_t k = 0; k < NCHECKS; k++)
				if (!check_table[k]->opt_in)
					select_desc(cc, check_table[k]);
		} else if (desc && desc->opt_in) {
			mp_error_set(err, MP_ERR_INTERNAL, "--checks: %s %s", desc->name,
			             desc->opt_in);
			return -1;
		} else if (desc) {
			select_desc(cc, desc);
		} else {
			unknown_check(item, err);
			return -1;
		}
		if (!comma)
			return 0;
		item = comma + 1;
	}
}

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
	c->name = desc->variant_name ? desc->variant_name(variant) : desc->name;
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

	if (!cc || cc->nselected == 0)
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

		if (!checks_selected(cc, desc->name))
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
			if (strcmp(name, desc->variant_name ? desc->variant_name(v) : desc->name) ==
			    0)
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
		if (check_table[k]->findings && checks_selected(cs->cc, check_table[k]->name))
			check_table[k]->findings(res);
	helper_run_free(cs->hr);
	free(cs);
}
