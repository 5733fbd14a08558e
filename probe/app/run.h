/* run.h - one run: options -> plan -> engine -> recommendation and policy
 * verdicts. The command line (main.c) and the exporter (serve.c) are two
 * front doors onto this one path. */
#ifndef MP_RUN_H
#define MP_RUN_H

#include <signal.h>
#include <stdint.h>
#include "core/model/options.h"
#include "reports/report.h"

/* What a run leaves: the endpoints, their results, and the report over them
 * (report.opt points at the options given to run_probe). */
struct run_outcome {
	struct endpoint *eps;
	struct probe_result *results;
	size_t n;
	struct run_report report;
	struct discovery *discovery; /* --discover: what was found (discover.h), else NULL */
};

/* Plans and probes opt's matrix until done, *stop, or max_ms (0: the
 * options' own --deadline; else the smaller of the two), then recommends and
 * evaluates the policy. started is called (may be NULL) once the plan is
 * valid, just before the probes start. Returns 0, or -1 with err (a bad plan,
 * an unreadable CA file, out of memory) and nothing probed. */
int run_probe(const struct run_options *opt, int64_t max_ms, volatile sig_atomic_t *stop,
              int wake_fd, void (*started)(void *arg), void *arg, struct run_outcome *out,
              struct mp_error *err);
/* A streamed run (the ndjson format, w->write_result): endpoints are pulled
 * from the plan as threads come free and each result is written to f and
 * flushed as it finishes, then freed, so memory does not grow with the
 * targets; then the summary line. report (summary only: results is NULL)
 * and tally tell the exit code. Auto mode and policies need the whole run
 * (cli.c refuses them with ndjson). Returns 0, or -1 with err (a bad plan,
 * a read error of -i FILE, a write error: what was written stays valid). */
int run_stream(const struct run_options *opt, volatile sig_atomic_t *stop, int wake_fd,
               const struct report_writer *w, FILE *f, struct run_report *report,
               struct run_tally *tally, struct mp_error *err);
/* Frees what run_probe allocated. */
void run_outcome_free(struct run_outcome *out);

#endif
