/* engine.h - probing endpoints: one endpoint's conversation, and a worker
 * pool that runs many of them concurrently under one deadline. */
#ifndef MP_ENGINE_H
#define MP_ENGINE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "result.h"
#include "session.h"

/* Probes one endpoint until done or deadline; res must be result_init'd.
 * fd_slot (may be NULL) receives the socket while the probe holds it, so
 * that an interrupt can shut it down. */
void probe_endpoint(const struct endpoint *ep, const struct probe_config *cfg, int64_t deadline,
		    struct probe_result *res, volatile int *fd_slot);

/* Probes eps[0..n) into res[0..n) (result_init'd by the caller) with up to
 * `concurrency` threads. Returns early, with unfinished endpoints marked
 * "interrupted", when *stop becomes non-zero (a signal handler sets it and
 * writes a byte to wake_fd, which may be -1).
 * first_ok_wins (auto mode): endpoints of one target, protocol and path are in
 * order of preference; once the first that works is known, the later ones are
 * cut short and reported as skipped. */
void engine_run(const struct endpoint *eps, struct probe_result *res, size_t n,
		const struct probe_config *cfg, int concurrency, int64_t deadline,
		bool first_ok_wins, volatile sig_atomic_t *stop, int wake_fd);

#endif
