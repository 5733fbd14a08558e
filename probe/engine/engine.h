/* engine.h - probing endpoints: one endpoint's conversation, and a worker
 * pool that runs many of them concurrently under one deadline. */
#ifndef MP_ENGINE_H
#define MP_ENGINE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/model/result.h"
#include "probe/dialects/session.h"

/* How the pool runs: threads, deadline, interrupts and politeness. */
struct engine_params {
	int concurrency;  /* endpoints probed at once */
	int64_t deadline; /* the run's (DEADLINE_NONE: none) */
	/* auto mode (array runs only): endpoints of one target, protocol and
	 * path are in order of preference; once the first that works is known,
	 * the later ones are cut short and reported as skipped. */
	bool first_ok_wins;
	int per_host;                /* endpoints of one host probed at once, 0: any */
	int rate;                    /* new probe connections per second, 0: any */
	int retry;                   /* retries of a busy or reset endpoint */
	volatile sig_atomic_t *stop; /* set by a signal handler, which also */
	int wake_fd;                 /* writes a byte here (-1: none) */
};

/* Probes eps[0..n) into res[0..n) (result_init'd by the caller; an endpoint
 * marked invalid keeps its result untouched). Returns early, with unfinished
 * endpoints marked "interrupted", when *stop becomes non-zero. */
void engine_run(const struct endpoint *eps, struct probe_result *res, size_t n,
                const struct probe_config *cfg, const struct engine_params *ep);

/* Streams a plan: endpoints are pulled from `next` as threads come free,
 * and each result is handed to done() (one call at a time) as soon as its
 * endpoint finishes, then freed: memory does not grow with the plan. A
 * result of an invalid target has status invalid_target and `why` as its
 * error. On an interrupt, endpoints in flight end "interrupted" (and are
 * handed over), the rest of the plan is not pulled. Auto mode is not
 * supported. Returns 0, or -1 with err when next() failed (a read error):
 * what was pulled before was still probed and handed over. */
struct engine_source {
	/* As plan_next(): 1 with *ep (and why when ep->invalid), 0 at the end,
	 * -1 with err. Called with the engine's source lock held. */
	int (*next)(void *arg, struct endpoint *ep, char *why, size_t whysz, struct mp_error *err);
	void *arg;
};
int engine_stream(const struct engine_source *src, const struct probe_config *cfg,
                  const struct engine_params *ep, void (*done)(void *arg, struct probe_result *res),
                  void *done_arg, struct mp_error *err);

#endif
