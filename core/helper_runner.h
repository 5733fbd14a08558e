/* helper_runner.h - one runner for every helper connection of an endpoint:
 * logins, active checks and --enumerate-tls version attempts.
 *
 * A run is a handful of jobs (at most HR_MAX_JOBS), each on a connection of
 * its own. They run on the calling thread and on up to as many extra threads
 * as the caller was granted; each job gets a socket slot, which the one
 * interrupt path (helper_run_interrupt) shuts down. A job may be held back
 * (run only once released, or when the run finishes) or settled without
 * running (its answer was learnt elsewhere). The runner knows sockets and
 * threads, nothing about mail.
 */
#ifndef MP_HELPER_RUNNER_H
#define MP_HELPER_RUNNER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HR_MAX_JOBS 16

struct helper_spec {
	size_t njobs; /* at most HR_MAX_JOBS */
	/* Runs job k; *fd_slot holds its socket while it is open (set it, and
	 * set it back to -1 before closing the socket). */
	void (*run)(void *arg, size_t k, volatile int *fd_slot);
	void *arg;
	/* Jobs not started yet are left alone once *stop is set (may be NULL),
	 * cancelled(arg) says true (may be NULL; called without the runner's
	 * lock), or the deadline passed (DEADLINE_NONE: never). */
	volatile sig_atomic_t *stop;
	bool (*cancelled)(void *arg);
	int64_t deadline;
	unsigned held; /* bit k: job k is held back until helper_run_more */
};

struct helper_run;

/* A run of spec's jobs, none started yet. spec is copied; spec->arg must
 * live until helper_run_finish returns. NULL when out of memory. */
struct helper_run *helper_run_new(const struct helper_spec *spec);
/* Sets spec.stop of r (before any job starts). */
void helper_run_stop_on(struct helper_run *r, volatile sig_atomic_t *stop);
/* Starts up to `threads` threads for the jobs waiting (in order; held
 * ones wait). Returns how many it started. */
size_t helper_run_start(struct helper_run *r, size_t threads);
/* Releases the held jobs, then as helper_run_start. */
size_t helper_run_more(struct helper_run *r, size_t threads);
/* Settles job k without running it; false when it started already. */
bool helper_run_settle(struct helper_run *r, size_t k);
/* Runs the jobs still waiting (held ones too) in this thread and waits for
 * the threads (NULL is fine). */
void helper_run_finish(struct helper_run *r);
/* Frees r after helper_run_finish (NULL is fine). */
void helper_run_free(struct helper_run *r);
/* Shuts down the sockets of the running jobs (an interrupt); safe from any
 * thread, takes no lock. */
void helper_run_interrupt(struct helper_run *r);

#endif
