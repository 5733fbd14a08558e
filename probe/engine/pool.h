/* pool.h - the worker pool's state, shared by the scheduler (engine.c) and
 * the helper connections of an endpoint (helpers.c). Private to
 * probe/engine. */
#ifndef MP_POOL_H
#define MP_POOL_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/model/result.h"
#include "probe/dialects/session.h"

struct engine_params;
struct tls_resume;
struct engine_source;

enum job_state { JOB_PENDING, JOB_RUNNING, JOB_DONE };

struct pool {
	const struct endpoint *eps;
	struct probe_result *res;
	/* array runs: n endpoints, next the first not taken; streamed runs: n
	 * slots, one per worker thread, each holding its endpoint in flight */
	size_t n, next;
	bool streamed;
	const struct probe_config *cfg; /* the caller's, or paced below */
	struct probe_config paced;      /* the caller's with --rate's hook */
	const struct engine_params *prm;
	int64_t deadline;
	volatile sig_atomic_t *stop;
	enum job_state *state;
	volatile int *fds;
	bool *skip;                  /* auto mode: not needed any more */
	size_t *group;               /* auto mode: first index of the endpoint's group */
	struct login_set **logins;   /* logins running per endpoint (NULL: none) */
	struct tls_enum **tls_enums; /* --enumerate-tls attempts running per endpoint */
	struct check_set **checks;   /* active checks running per endpoint (checks.h) */
	size_t spare;                /* threads that may still start: concurrency - workers */
	pthread_mutex_t lock;
	pthread_cond_t host_free; /* a per-host slot came free */
	int done_pipe[2];
	/* --per-host: the hosts with endpoints in flight (at most one entry per
	 * worker), guarded by lock */
	struct host_use *hosts;
	size_t nhosts;
	/* --rate: when the next connection may start (microseconds, monotonic) */
	int64_t next_conn_us;
	uint64_t jitter; /* xorshift state for the back-off's jitter */
	/* streamed runs */
	struct endpoint *slot_eps;
	const struct engine_source *src;
	pthread_mutex_t src_lock;
	bool src_done;
	int src_rc;
	struct mp_error src_err;
	void (*done)(void *arg, struct probe_result *res);
	void *done_arg;
	pthread_mutex_t done_lock;
};

/* A host with endpoints in flight, and how many. */
struct host_use {
	uint64_t key;
	int count;
};

struct tls_enum;

/* engine.c: the in-flight entry of ep's host, or NULL. Call with the lock held. */
struct host_use *host_find(struct pool *p, const struct endpoint *ep);

/* ---- helpers.c ---- */

/* Threads (and so connections) for endpoint i's helpers: up to want of the
 * pool's spare threads, and with --per-host no more than the free slots of
 * its host; never waits. give_helpers() gives n of them back. */
size_t take_helpers(struct pool *p, size_t i, size_t want);
void give_helpers(struct pool *p, size_t i, size_t n);
/* After endpoint i's probe: its logins, then its active checks, each
 * concurrently on extra threads taken from the pool. */
void run_logins(struct pool *p, size_t i, const struct tls_resume *resume);
void run_checks(struct pool *p, size_t i, const struct tls_resume *resume);
/* --enumerate-tls: starts endpoint i's version attempts beside its probe
 * (NULL when not enumerating); tls_enum_end() waits for them after the
 * probe and records them in its result. */
struct tls_enum *tls_enum_begin(struct pool *p, size_t i);
void tls_enum_end(struct pool *p, size_t i, struct tls_enum *te);
/* probe_hooks.tls_done (arg: the struct tls_enum): as soon as the probe's
 * own handshake ended, its version is known and the attempts for the
 * others start. */
void tls_enum_handshake_done(void *arg, const struct tls_info *info);
/* The one interrupt path of endpoint i's helper connections (logins,
 * version attempts, checks): shuts their sockets down. Call with the lock held. */
void helpers_interrupt(struct pool *p, size_t i);

#endif
